//! Outputs and results: `up` ends with the outputs, `destroy` clears them,
//! `stack output NAME`, no-state errors, `--expect-no-changes`, `refresh`.

use super::common::Sandbox;

const STACK: &str = "tests/stacks/data-chain.yaml";

#[test]
fn up_ends_with_the_outputs_secrets_masked() {
    let sb = Sandbox::new();
    let up = sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    let tail = up
        .stdout
        .split("Outputs:")
        .nth(1)
        .unwrap_or_else(|| panic!("no Outputs: section\n{}", up.stdout));
    assert!(tail.contains("message: hello, world"), "{}", up.stdout);
    assert!(tail.contains("sealed: [secret]"), "{}", up.stdout);
    assert!(!up.all().contains("token="), "{}", up.all());
    // A run with no changes shows them too.
    let again = sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    assert!(
        again.stdout.contains("message: hello, world"),
        "{}",
        again.stdout
    );
}

#[test]
fn destroy_clears_the_outputs() {
    let sb = Sandbox::new();
    sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    sb.run(&["destroy", "--yes", "--stack-file", STACK]).ok();
    let out = sb
        .run(&["stack", "output", "--json", "--stack-file", STACK])
        .ok();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(json, serde_json::json!({}), "{}", out.stdout);
    let one = sb.run(&["stack", "output", "message", "--stack-file", STACK]);
    assert_ne!(one.code, Some(0), "{}", one.all());
}

#[test]
fn stack_output_name_prints_one_raw_value() {
    let sb = Sandbox::new();
    sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    let one = sb
        .run(&["stack", "output", "message", "--stack-file", STACK])
        .ok();
    assert_eq!(one.stdout, "hello, world\n");
    let nested = sb
        .run(&["stack", "output", "nested", "--stack-file", STACK])
        .ok();
    let json: serde_json::Value = serde_json::from_str(&nested.stdout).expect("json value");
    assert_eq!(json["count"], 3);
    let masked = sb
        .run(&["stack", "output", "sealed", "--stack-file", STACK])
        .ok();
    assert_eq!(masked.stdout, "[secret]\n");
    let plain = sb
        .run(&[
            "stack",
            "output",
            "sealed",
            "--show-secrets",
            "--stack-file",
            STACK,
        ])
        .ok();
    assert!(plain.stdout.starts_with("token="), "{}", plain.stdout);
    let unknown = sb.run(&["stack", "output", "mesage", "--stack-file", STACK]);
    assert_eq!(unknown.code, Some(1), "{}", unknown.all());
    assert!(unknown.stderr.contains("message"), "{}", unknown.stderr);
}

#[test]
fn a_stack_without_state_says_so_and_fails() {
    let sb = Sandbox::new();
    for args in [
        vec!["state", "list", "--stack-file", STACK],
        vec!["stack", "output", "--stack-file", STACK],
        vec!["stack", "output", "message", "--stack-file", STACK],
    ] {
        let run = sb.run(&args);
        assert_eq!(run.code, Some(1), "{args:?}: {}", run.all());
        assert!(run.stderr.contains("no state"), "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("cairn::cli::no_state"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn expect_no_changes_fails_when_there_are_changes() {
    let sb = Sandbox::new();
    let fresh = sb.run(&["preview", "--expect-no-changes", "--stack-file", STACK]);
    assert_eq!(fresh.code, Some(1), "{}", fresh.all());
    assert!(
        fresh.stderr.contains("cairn::cli::changes"),
        "{}",
        fresh.stderr
    );
    let up = sb.run(&["up", "--yes", "--expect-no-changes", "--stack-file", STACK]);
    assert_eq!(up.code, Some(1), "{}", up.all());
    let list = sb.run(&["state", "list", "--stack-file", STACK]);
    assert_eq!(
        list.stdout,
        "",
        "up --expect-no-changes applied: {}",
        list.all()
    );

    sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    sb.run(&["preview", "--expect-no-changes", "--stack-file", STACK])
        .ok();
    sb.run(&["up", "--expect-no-changes", "--stack-file", STACK])
        .ok();
    let changed = sb.run(&[
        "preview",
        "--json",
        "--expect-no-changes",
        "--stack-file",
        STACK,
        "--config",
        "greeting=hi",
    ]);
    assert_eq!(changed.code, Some(1), "{}", changed.all());
}

#[test]
fn refresh_preview_only_writes_nothing() {
    let sb = Sandbox::new();
    sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    // The state's portable record (sled's own files do housekeeping on any open).
    let snapshot = sb.state_dir().join("data-chain").join("snapshot.json");
    let before = std::fs::read(&snapshot).expect("snapshot");
    let preview = sb
        .run(&["refresh", "--preview-only", "--stack-file", STACK])
        .ok();
    assert!(preview.stdout.contains("no drift"), "{}", preview.stdout);
    assert!(
        preview.stdout.contains("nothing was written"),
        "{}",
        preview.stdout
    );
    assert_eq!(
        before,
        std::fs::read(&snapshot).expect("snapshot"),
        "refresh --preview-only changed the state files"
    );
    let clean = sb.run(&["refresh", "--stack-file", STACK]).ok();
    assert!(clean.stdout.contains("no drift"), "{}", clean.stdout);
}
