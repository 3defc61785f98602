//! `stack export` / `stack import` (round trip, secrets still encrypted),
//! `stack ls` and `stack rm`.

use super::common::Sandbox;

const STACK: &str = "tests/stacks/data-chain.yaml";

fn outputs(sb: &Sandbox) -> String {
    sb.run(&[
        "stack",
        "output",
        "--show-secrets",
        "--json",
        "--stack-file",
        STACK,
    ])
    .ok()
    .stdout
}

#[test]
fn export_import_round_trip_keeps_secrets_encrypted() {
    let sb = Sandbox::new();
    sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    let before_outputs = outputs(&sb);
    let before_list = sb
        .run(&["state", "list", "--stack-file", STACK])
        .ok()
        .stdout;
    let export = sb.run(&["stack", "export", "--stack-file", STACK]).ok();
    let doc: serde_json::Value = serde_json::from_str(&export.stdout).expect("export JSON");
    assert_eq!(doc["cairn_stack_export"], 1, "{}", export.stdout);
    assert_eq!(doc["stack"], "data-chain");
    // The password's plaintext is nowhere in the export.
    let plain: serde_json::Value = serde_json::from_str(&before_outputs).expect("outputs");
    let sealed = plain["sealed"].as_str().expect("sealed output");
    let password = sealed.strip_prefix("token=").expect("token=…");
    assert!(password.len() >= 32, "{sealed}");
    assert!(
        !export.stdout.contains(password),
        "plaintext secret in the export"
    );
    assert!(
        export.stdout.contains("$secret"),
        "no encrypted secret in the export"
    );

    // Import into a fresh state directory with the same passphrase.
    let file = sb.dir.path().join("export.json");
    std::fs::write(&file, &export.stdout).expect("write export");
    let other = Sandbox::new();
    let file_arg = file.display().to_string();
    other
        .run(&["stack", "import", &file_arg, "--stack-file", STACK])
        .ok();
    assert_eq!(
        other
            .run(&["state", "list", "--stack-file", STACK])
            .ok()
            .stdout,
        before_list
    );
    assert_eq!(outputs(&other), before_outputs);
    let preview = other.run(&["preview", "--stack-file", STACK]).ok();
    assert!(
        !preview.stdout.contains("create"),
        "the imported state should match the stack:\n{}",
        preview.stdout
    );

    // It now records resources: a second import is refused without --force.
    let again = other.run(&["stack", "import", &file_arg, "--stack-file", STACK]);
    assert_eq!(again.code, Some(2), "{}", again.all());
    assert!(
        again.stderr.contains("cairn::stack::not_empty"),
        "{}",
        again.stderr
    );

    // A different key cannot read it, and nothing is replaced.
    let wrong = Sandbox::new().with_env("STACK_PASSPHRASE", "another-passphrase");
    let refused = wrong.run(&["stack", "import", &file_arg, "--stack-file", STACK]);
    assert_ne!(refused.code, Some(0), "{}", refused.all());

    // An unknown export version is refused with its code.
    let mut future = doc.clone();
    future["cairn_stack_export"] = 99.into();
    let future_file = sb.dir.path().join("future.json");
    std::fs::write(&future_file, future.to_string()).expect("write");
    let run = Sandbox::new().run(&[
        "stack",
        "import",
        &future_file.display().to_string(),
        "--stack-file",
        STACK,
    ]);
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stderr.contains("cairn::stack::export_format"),
        "{}",
        run.stderr
    );
}

#[test]
fn stack_rm_refuses_while_resources_remain_and_ls_lists() {
    let sb = Sandbox::new();
    sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    let ls = sb.run(&["stack", "ls"]).ok();
    assert!(
        ls.stdout.lines().any(|l| l.starts_with("data-chain\t5\t")),
        "{}",
        ls.stdout
    );
    assert!(
        ls.stdout
            .lines()
            .any(|l| l == "redis-dev\tno state\tstacks/dev.yaml"),
        "{}",
        ls.stdout
    );
    let refused = sb.run(&["stack", "rm", "--stack-file", STACK]);
    assert_eq!(refused.code, Some(2), "{}", refused.all());
    assert!(
        refused.stderr.contains("cairn::stack::not_empty") && refused.stderr.contains("first"),
        "{}",
        refused.stderr
    );
    sb.run(&["destroy", "--yes", "--stack-file", STACK]).ok();
    sb.run(&["stack", "rm", "--stack-file", STACK]).ok();
    assert!(
        !sb.state_dir().join("data-chain").exists(),
        "state dir left"
    );
    assert!(
        !sb.state_dir().join("data-chain.lock").exists(),
        "lock left"
    );
    let ls = sb.run(&["stack", "ls"]).ok();
    assert!(
        !ls.stdout.contains("data-chain"),
        "a removed stack is not listed:\n{}",
        ls.stdout
    );
}

#[test]
fn stack_history_records_each_changing_run() {
    let sb = Sandbox::new().with_env("USER", "history-tester");
    let empty = sb.run(&["stack", "history", "--stack-file", STACK]).ok();
    assert!(empty.stdout.is_empty(), "{}", empty.stdout);
    sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    sb.run(&[
        "up",
        "--yes",
        "--stack-file",
        STACK,
        "--config",
        "greeting=hi",
    ])
    .ok();
    sb.run(&["refresh", "--yes", "--stack-file", STACK]).ok();
    sb.run(&["destroy", "--yes", "--stack-file", STACK]).ok();
    let run = sb
        .run(&["stack", "history", "--json", "--stack-file", STACK])
        .ok();
    let records: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("history line"))
        .collect();
    let commands: Vec<&str> = records
        .iter()
        .map(|r| r["command"].as_str().unwrap_or_default())
        .collect();
    // The no-change refresh writes nothing, so it is not recorded.
    assert_eq!(records.len(), 3, "{}", run.stdout);
    assert!(commands[0].contains(" up --yes"), "{commands:?}");
    assert!(commands[2].contains(" destroy --yes"), "{commands:?}");
    for r in &records {
        assert_eq!(r["user"], "history-tester", "{r}");
        assert_eq!(r["result"], "succeeded", "{r}");
        assert!(
            r["started_at"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{r}"
        );
    }
    assert!(
        records[0]["summary"]
            .as_str()
            .unwrap_or_default()
            .starts_with("+5 "),
        "{}",
        records[0]
    );
    assert!(
        !commands[1].contains("greeting=hi"),
        "--config values are redacted: {}",
        commands[1]
    );
    let text = sb.run(&["stack", "history", "--stack-file", STACK]).ok();
    assert_eq!(text.stdout.lines().count(), 3, "{}", text.stdout);
}
