//! Child-process scenarios: the parent re-runs this test binary with
//! `CAIRN_STATE_CHILD=<scenario>` and `CAIRN_STATE_ROOT=<dir>`, filtered to
//! the single test `child::child_process_entry`, which runs the scenario.
//! Scenarios that simulate a crash end with SIGKILL, so no destructor,
//! flush or lock release runs.

use crate::common::*;
use cairn_core::state::{Outcome, StateSink};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

const ENV_SCENARIO: &str = "CAIRN_STATE_CHILD";
const ENV_ROOT: &str = "CAIRN_STATE_ROOT";

/// Starts a scenario in a child process; returns once it printed `READY`.
pub fn spawn(scenario: &str, root: &Path) -> (Child, Vec<String>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child::child_process_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ENV_SCENARIO, scenario)
        .env(ENV_ROOT, root)
        .env_remove("STACK_PASSPHRASE")
        .stdout(Stdio::piped())
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    let mut reader = BufReader::new(stdout).lines();
    for line in reader.by_ref() {
        let line = line.unwrap();
        // libtest may print "test ... " on the same line first.
        let ready = line.find("READY").map(|at| line[at..].to_string());
        lines.push(ready.clone().unwrap_or(line));
        if ready.is_some() {
            // Keep draining so the child never dies of a broken pipe.
            std::thread::spawn(move || reader.for_each(drop));
            return (child, lines);
        }
    }
    let status = child.wait().unwrap();
    panic!("child `{scenario}` ended ({status}) without READY: {lines:?}");
}

/// Runs a scenario to completion (it must kill itself or exit).
pub fn run(scenario: &str, root: &Path) -> (std::process::ExitStatus, Vec<String>) {
    let (mut child, lines) = spawn(scenario, root);
    let status = child.wait().unwrap();
    (status, lines)
}

pub fn killed_by_sigkill(status: &std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(libc::SIGKILL)
}

fn die() -> ! {
    // SAFETY: sending a signal to ourselves.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    unreachable!("SIGKILL returned")
}

fn ready(extra: &str) {
    use std::io::Write;
    println!("READY {extra}");
    std::io::stdout().flush().unwrap();
}

/// Not a test on its own: the entry point of child-process scenarios, a
/// no-op unless `CAIRN_STATE_CHILD` is set.
#[test]
fn child_process_entry() {
    let Ok(scenario) = std::env::var(ENV_SCENARIO) else {
        return;
    };
    let root = PathBuf::from(std::env::var(ENV_ROOT).unwrap());
    let rt = rt();
    match scenario.as_str() {
        // Non-external work, then one external begin; die right after it returns.
        "external_begin_then_kill" => {
            let store = open(&root);
            rt.block_on(async {
                store.begin(&intent(1, "data", false)).await.unwrap();
                store
                    .finish(1, "data", &Outcome::Written(resource("data", SECRET)))
                    .await
                    .unwrap();
                store.begin(&intent(2, "cache", true)).await.unwrap();
            });
            ready(&format!("fsyncs={}", store.fsync_count()));
            die();
        }
        // Control: non-external begins are not flushed, so they die with us.
        "internal_begins_then_kill" => {
            let store = open(&root);
            let before = store.fsync_count();
            rt.block_on(async {
                for op in 100..150 {
                    store
                        .begin(&intent(op, &format!("d{op}"), false))
                        .await
                        .unwrap();
                }
            });
            assert_eq!(
                store.fsync_count(),
                before,
                "non-external begins must not fsync"
            );
            ready("");
            die();
        }
        // 1,000 concurrent external begins, then die.
        "group_commit_then_kill" => {
            let store = Arc::new(open(&root));
            let before = store.fsync_count();
            rt.block_on(async {
                let tasks: Vec<_> = (1..=1000u64)
                    .map(|op| {
                        let store = store.clone();
                        tokio::spawn(async move {
                            store
                                .begin(&intent(op, &format!("r{op}"), true))
                                .await
                                .unwrap()
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            });
            ready(&format!("fsyncs={}", store.fsync_count() - before));
            die();
        }
        // Hold the writer lock until killed by the parent.
        "hold_lock" => {
            let store = open(&root);
            rt.block_on(store.set_outputs(&map(&[("held", true.into())])))
                .unwrap();
            store.flush().unwrap();
            ready("");
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line); // parent closes or kills
            drop(store);
        }
        // Open and write under a permissive umask, then close normally.
        "umask_zero" => {
            // SAFETY: umask only changes this (child) process's file mode mask.
            unsafe {
                libc::umask(0);
            }
            let store = open(&root);
            store.replace_all(&stack_state(SECRET)).unwrap();
            drop(store);
            let ro =
                cairn_state::StateStore::open_read_only(&root, STACK, key_file(&root)).unwrap();
            assert_eq!(ro.load().unwrap(), stack_state(SECRET));
            drop(ro);
            ready("");
        }
        other => panic!("unknown child scenario {other}"),
    }
}
