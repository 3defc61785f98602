//! `up --json` / `destroy --json`: one JSON event per line (docs/events-json.md).

use super::common::Sandbox;

const STACK: &str = "tests/stacks/data-chain.yaml";

fn events(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn snapshot(name: &str, stdout: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots/events");
    settings.add_filter(r#""elapsed_ms":\d+"#, r#""elapsed_ms":"[ms]""#);
    settings.bind(|| insta::assert_snapshot!(name, stdout));
}

#[test]
fn up_and_destroy_stream_json_events() {
    let sb = Sandbox::new();
    let up = sb
        .run(&[
            "up",
            "--json",
            "--yes",
            "--parallel",
            "1",
            "--stack-file",
            STACK,
        ])
        .ok();
    let all = events(&up.stdout);
    assert_eq!(all[0]["type"], "run_started", "{}", up.stdout);
    assert_eq!(all[0]["format_version"], "1");
    let last = all.last().expect("events");
    assert_eq!(last["type"], "summary");
    assert_eq!(last["ok"], true);
    assert_eq!(
        all.iter().filter(|e| e["type"] == "finished").count(),
        5,
        "{}",
        up.stdout
    );
    assert!(!up.stdout.contains("known after apply"), "{}", up.stdout);
    snapshot("up", &up.stdout);

    let destroy = sb
        .run(&[
            "destroy",
            "--json",
            "--yes",
            "--parallel",
            "1",
            "--stack-file",
            STACK,
        ])
        .ok();
    snapshot("destroy", &destroy.stdout);

    let unasked = sb.run(&["up", "--json", "--stack-file", STACK]);
    assert_eq!(unasked.code, Some(2), "{}", unasked.all());
    assert!(unasked.stderr.contains("--yes"), "{}", unasked.stderr);
}
