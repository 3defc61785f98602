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

/// SIGINT during `up --json`: the operation in flight finishes, the summary
/// says interrupted and lists what was not started, exit 130.
#[test]
fn up_json_is_interrupted_like_up() {
    use std::io::{BufRead, BufReader, Read};
    let sb = Sandbox::new();
    let mut child = sb
        .command(&[
            "up",
            "--json",
            "--yes",
            "--parallel",
            "1",
            "--stack-file",
            STACK,
        ])
        .env("CAIRN_TEST_SLOW_MS", "1500")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn cairn");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut seen = String::new();
    while !seen.contains("\"type\":\"started\"") {
        let mut line = String::new();
        let n = stdout.read_line(&mut line).expect("read stdout");
        assert!(n > 0, "up ended before any operation started:\n{seen}");
        seen.push_str(&line);
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    // SAFETY: signalling our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    stdout.read_to_string(&mut seen).expect("read stdout");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130), "{seen}");
    let all = events(&seen);
    let last = all.last().expect("events");
    assert_eq!(last["type"], "summary", "{seen}");
    assert_eq!(last["interrupted"], true, "{seen}");
    assert_eq!(last["ok"], false, "{seen}");
    assert_eq!(
        last["succeeded"].as_array().map(Vec::len),
        Some(1),
        "{seen}"
    );
    assert!(
        last["not_started"]
            .as_array()
            .is_some_and(|n| !n.is_empty()),
        "{seen}"
    );
}
