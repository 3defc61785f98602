//! `up --json --plan FILE` applies exactly the saved plan, and refuses one
//! that went stale, as `up --plan` does.

use super::common::Sandbox;

const STACK: &str = "tests/stacks/data-chain.yaml";

fn events(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn message(sb: &Sandbox) -> String {
    sb.run(&["stack", "output", "message", "--stack-file", STACK])
        .ok()
        .stdout
}

#[test]
fn up_json_applies_the_saved_plan_and_refuses_a_stale_one() {
    let sb = Sandbox::new();
    sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    let file = sb.dir.path().join("plan.json").display().to_string();
    sb.run(&[
        "preview",
        "--stack-file",
        STACK,
        "--config",
        "greeting=hi",
        "--out",
        &file,
    ])
    .ok();
    let up = |greeting: &str| {
        let cfg = format!("greeting={greeting}");
        sb.run(&[
            "up",
            "--json",
            "--yes",
            "--stack-file",
            STACK,
            "--config",
            &cfg,
            "--plan",
            &file,
        ])
    };
    let stale = up("yo");
    assert_eq!(stale.code, Some(1), "{}", stale.all());
    assert!(
        stale.stderr.contains("cairn::plan::stale"),
        "{}",
        stale.stderr
    );
    assert!(!stale.stdout.contains("\"started\""), "{}", stale.stdout);
    assert_eq!(
        message(&sb),
        "hello, world\n",
        "the refused plan was applied"
    );

    let applied = up("hi");
    assert_eq!(applied.code, Some(0), "{}", applied.all());
    let all = events(&applied.stdout);
    assert_eq!(all[0]["type"], "run_started", "{}", applied.stdout);
    assert_eq!(all[0]["summary"]["replace"], 3, "{}", applied.stdout);
    let last = all.last().expect("events");
    assert_eq!(last["type"], "summary");
    assert_eq!(last["ok"], true, "{}", applied.stdout);
    assert_eq!(message(&sb), "hi, world\n");

    let destroy = sb.run(&[
        "destroy",
        "--json",
        "--yes",
        "--stack-file",
        STACK,
        "--plan",
        &file,
    ]);
    assert_eq!(destroy.code, Some(2), "{}", destroy.all());
}
