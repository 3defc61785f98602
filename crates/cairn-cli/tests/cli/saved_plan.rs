//! Saved plans: `preview --out FILE` and `up --plan FILE`.

use super::common::Sandbox;

const STACK: &str = "tests/stacks/data-chain.yaml";

/// A report's words on one line (miette wraps long messages).
fn flat(report: &str) -> String {
    report
        .split_whitespace()
        .filter(|w| *w != "|")
        .collect::<Vec<_>>()
        .join(" ")
}

fn save(sb: &Sandbox, greeting: &str) -> String {
    let file = sb.dir.path().join("plan.json").display().to_string();
    let cfg = format!("greeting={greeting}");
    sb.run(&[
        "preview",
        "--stack-file",
        STACK,
        "--config",
        &cfg,
        "--out",
        &file,
    ])
    .ok();
    file
}

#[test]
fn up_plan_applies_exactly_the_saved_plan() {
    let sb = Sandbox::new();
    sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    let file = save(&sb, "hi");
    let text = std::fs::read_to_string(&file).expect("plan file");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(doc["stack"], "data-chain");
    assert!(doc["state"]["digest"].is_string(), "{text}");
    assert!(doc["source"]["digest"].is_string(), "{text}");
    assert!(doc["plan"]["resource_changes"].is_array(), "{text}");
    assert!(
        !text.contains("token="),
        "a secret in the plan file: {text}"
    );
    let sealed = sb
        .run(&[
            "stack",
            "output",
            "sealed",
            "--show-secrets",
            "--stack-file",
            STACK,
        ])
        .ok();
    let password = sealed.stdout.trim().trim_start_matches("token=");
    assert!(password.len() >= 32, "{}", sealed.stdout);
    assert!(!text.contains(password), "the password is in the plan file");
    let up = sb
        .run(&[
            "up",
            "--yes",
            "--stack-file",
            STACK,
            "--config",
            "greeting=hi",
            "--plan",
            &file,
        ])
        .ok();
    assert!(up.stdout.contains("± first"), "{}", up.stdout);
    let msg = sb
        .run(&["stack", "output", "message", "--stack-file", STACK])
        .ok();
    assert_eq!(msg.stdout, "hi, world\n");
}

#[test]
fn up_plan_refuses_when_state_or_program_moved() {
    let sb = Sandbox::new();
    sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    let file = save(&sb, "hi");
    // The state moves: another run applies something else.
    sb.run(&[
        "up",
        "--yes",
        "--stack-file",
        STACK,
        "--config",
        "greeting=hey",
    ])
    .ok();
    let stale = sb.run(&[
        "up",
        "--yes",
        "--stack-file",
        STACK,
        "--config",
        "greeting=hi",
        "--plan",
        &file,
    ]);
    assert_eq!(stale.code, Some(1), "{}", stale.all());
    assert!(
        stale.stderr.contains("cairn::plan::stale"),
        "{}",
        stale.stderr
    );
    assert!(
        flat(&stale.stderr).contains("the state changed"),
        "{}",
        stale.stderr
    );
    let msg = sb
        .run(&["stack", "output", "message", "--stack-file", STACK])
        .ok();
    assert_eq!(msg.stdout, "hey, world\n", "the refused plan was applied");

    // The config moves.
    let file = save(&sb, "hi");
    let moved = sb.run(&[
        "up",
        "--yes",
        "--stack-file",
        STACK,
        "--config",
        "greeting=yo",
        "--plan",
        &file,
    ]);
    assert_eq!(moved.code, Some(1), "{}", moved.all());
    assert!(
        flat(&moved.stderr).contains("the --config values differ"),
        "{}",
        moved.stderr
    );
}
