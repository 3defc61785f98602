//! `state rm` / `state mv` (state surgery) and `cairn version`.

use super::common::Sandbox;

const STACK: &str = "tests/stacks/data-chain.yaml";

fn names(sb: &Sandbox) -> Vec<String> {
    let list = sb.run(&["state", "list", "--stack-file", STACK]).ok();
    list.stdout
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default().to_string())
        .collect()
}

fn dependencies(sb: &Sandbox, name: &str) -> Vec<String> {
    let show = sb.run(&["state", "show", name, "--stack-file", STACK]).ok();
    let doc: serde_json::Value = serde_json::from_str(&show.stdout).expect("state show JSON");
    doc["dependencies"]
        .as_array()
        .expect("dependencies")
        .iter()
        .map(|d| d.as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn state_rm_refuses_while_others_depend_unless_forced() {
    let sb = Sandbox::new();
    sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    let refused = sb.run(&["state", "rm", "first", "--stack-file", STACK]);
    assert_eq!(refused.code, Some(2), "{}", refused.all());
    assert!(
        refused.stderr.contains("cairn::state::has_dependents")
            && refused.stderr.contains("`second`"),
        "{}",
        refused.stderr
    );
    assert!(
        names(&sb).contains(&"first".to_string()),
        "nothing forgotten"
    );

    // A leaf goes without --force.
    sb.run(&["state", "rm", "third", "--stack-file", STACK])
        .ok();
    assert!(!names(&sb).contains(&"third".to_string()));

    let forced = sb
        .run(&["state", "rm", "first", "--force", "--stack-file", STACK])
        .ok();
    assert!(forced.stdout.contains("forgot"), "{}", forced.stdout);
    assert_eq!(names(&sb), ["sealed", "second", "token"]);
    assert!(dependencies(&sb, "second").is_empty(), "dangling edge kept");

    let unknown = sb.run(&["state", "rm", "frist", "--stack-file", STACK]);
    assert_eq!(unknown.code, Some(2), "{}", unknown.all());
}

#[test]
fn state_mv_renames_and_dependents_follow() {
    let sb = Sandbox::new();
    sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    assert_eq!(dependencies(&sb, "sealed"), ["token"]);
    let before = sb
        .run(&[
            "stack",
            "output",
            "--show-secrets",
            "--json",
            "--stack-file",
            STACK,
        ])
        .ok();
    sb.run(&[
        "state",
        "mv",
        "token",
        "secret-token",
        "--stack-file",
        STACK,
    ])
    .ok();
    assert_eq!(
        names(&sb),
        ["first", "sealed", "second", "secret-token", "third"]
    );
    assert_eq!(dependencies(&sb, "sealed"), ["secret-token"]);
    // The renamed resource's secret still decrypts under its new name.
    let show = sb
        .run(&["state", "show", "secret-token", "--stack-file", STACK])
        .ok();
    assert!(show.stdout.contains("random:Password"), "{}", show.stdout);
    let after = sb
        .run(&[
            "stack",
            "output",
            "--show-secrets",
            "--json",
            "--stack-file",
            STACK,
        ])
        .ok();
    assert_eq!(before.stdout, after.stdout);

    let taken = sb.run(&["state", "mv", "first", "second", "--stack-file", STACK]);
    assert_eq!(taken.code, Some(2), "{}", taken.all());
    assert!(
        taken.stderr.contains("cairn::state::name_taken"),
        "{}",
        taken.stderr
    );
    let unknown = sb.run(&["state", "mv", "frist", "x", "--stack-file", STACK]);
    assert_eq!(unknown.code, Some(2), "{}", unknown.all());
}

#[test]
fn version_verb_and_flag() {
    let sb = Sandbox::new();
    let flag = sb.run(&["--version"]).ok();
    let verb = sb.run(&["version"]).ok();
    let expected = format!("cairn {}", env!("CARGO_PKG_VERSION"));
    assert_eq!(flag.stdout.trim(), expected);
    assert_eq!(verb.stdout.lines().next(), Some(expected.as_str()));
    assert!(verb.stdout.contains("state format 1"), "{}", verb.stdout);
}
