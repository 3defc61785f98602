//! Ctrl-C at the confirmation prompt (typed on a pseudo-terminal): exit 130
//! with a short message, nothing applied, and the lock released, so the
//! next command takes it at once (no stale-lock takeover).

use super::common::Sandbox;
use super::pty::{spawn, Wiring};
use std::time::Duration;

const STACK: &str = "tests/stacks/data-chain.yaml";

#[test]
fn ctrl_c_at_the_prompt_releases_the_lock_and_exits_130() {
    let sb = Sandbox::new();
    let mut child = spawn(sb.command(&["up", "--stack-file", STACK]), Wiring::ALL);
    child.expect("Apply these changes", Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(200));
    child.send("\x03");
    let run = child.finish(Duration::from_secs(20));
    assert_eq!(run.code, Some(130), "{}", run.screen);
    assert!(
        run.screen
            .contains("interrupted at the confirmation prompt: nothing was changed"),
        "{}",
        run.screen
    );
    assert!(
        !run.screen.contains("cairn::"),
        "a report box, not a short message:\n{}",
        run.screen
    );
    let next = sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    assert!(!next.stderr.contains("stale lock"), "{}", next.stderr);
    assert!(next.stderr.contains("5 succeeded"), "{}", next.stderr);
}

#[test]
fn sigterm_at_the_prompt_releases_the_lock_and_exits_143() {
    let sb = Sandbox::new();
    sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    let child = spawn(sb.command(&["destroy", "--stack-file", STACK]), Wiring::ALL);
    child.expect("Destroy these resources", Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: signalling our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let run = child.finish(Duration::from_secs(20));
    assert_eq!(run.code, Some(143), "{}", run.screen);
    let list = sb.run(&["state", "list", "--stack-file", STACK]).ok();
    assert_eq!(
        list.stdout.lines().count(),
        5,
        "nothing was destroyed: {}",
        list.stdout
    );
    let next = sb.run(&["destroy", "--yes", "--stack-file", STACK]).ok();
    assert!(!next.stderr.contains("stale lock"), "{}", next.stderr);
}
