//! SIGINT/SIGTERM during `up`: the first lets the operations in flight
//! finish, saves state, releases the lock and exits 130 (143); a second
//! SIGINT exits at once and the next run recovers. Operations are made slow
//! with the test build's `CAIRN_TEST_SLOW_MS` (see `killswitch.rs`).

use super::common::{Run, Sandbox};
use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::time::{Duration, Instant};

const STACK: &str = "tests/stacks/data-chain.yaml";
const SLOW_MS: u64 = 1500;

/// Starts `up`, waits until an operation is in flight, sends `signals`
/// (with a short gap) and returns the run and how long it took to exit
/// after the first signal.
fn interrupt_up(sb: &Sandbox, signals: &[i32]) -> (Run, Duration) {
    let mut child = sb
        .command(&["up", "--yes", "--parallel", "1", "--stack-file", STACK])
        .env("CAIRN_TEST_SLOW_MS", SLOW_MS.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cairn");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = stderr.read_line(&mut line).expect("read stderr");
        assert!(n > 0, "up ended before any operation started:\n{seen}");
        seen.push_str(&line);
        if line.contains("creating") || line.contains("create...") {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    let pid = child.id() as i32;
    let sent = Instant::now();
    for (i, sig) in signals.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
        // SAFETY: signalling our own child process.
        unsafe {
            libc::kill(pid, *sig);
        }
    }
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).expect("read stderr");
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut stdout)
        .expect("read stdout");
    let status = child.wait().expect("wait");
    let took = sent.elapsed();
    (
        Run {
            code: status.code(),
            stdout,
            stderr: seen + &rest,
        },
        took,
    )
}

fn state_names(sb: &Sandbox) -> Vec<String> {
    let list = sb.run(&["state", "list", "--stack-file", STACK]).ok();
    list.stdout
        .lines()
        .filter_map(|l| l.split('\t').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn a_first_sigint_finishes_in_flight_work_saves_and_exits_130() {
    let sb = Sandbox::new();
    let (run, took) = interrupt_up(&sb, &[libc::SIGINT]);
    assert_eq!(run.code, Some(130), "{}", run.all());
    assert!(
        took < Duration::from_millis(SLOW_MS + 1000),
        "took {took:?} after the signal:\n{}",
        run.all()
    );
    let summary = run
        .stderr
        .lines()
        .find(|l| l.starts_with("interrupted: finished:"))
        .unwrap_or_else(|| panic!("no summary:\n{}", run.stderr));
    let finished: Vec<String> = summary
        .trim_start_matches("interrupted: finished: ")
        .split(';')
        .next()
        .unwrap_or_default()
        .split(", ")
        .filter(|n| *n != "none")
        .map(str::to_string)
        .collect();
    assert_eq!(finished.len(), 1, "one operation was in flight: {summary}");
    assert!(summary.contains("not started: "), "{summary}");
    // State records exactly what finished; the lock is free; a plain re-run converges.
    assert_eq!(state_names(&sb), finished, "{}", run.stderr);
    let again = sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    assert!(!again.stderr.contains("recovering"), "{}", again.stderr);
    assert!(!again.stderr.contains("lock"), "{}", again.stderr);
    assert_eq!(state_names(&sb).len(), 5);
    let noop = sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    assert!(noop.stdout.contains("No changes."), "{}", noop.stdout);
}

#[test]
fn sigterm_exits_143() {
    let sb = Sandbox::new();
    let (run, _) = interrupt_up(&sb, &[libc::SIGTERM]);
    assert_eq!(run.code, Some(143), "{}", run.all());
    assert!(run.stderr.contains("not started"), "{}", run.stderr);
}

#[test]
fn a_second_sigint_exits_at_once_and_the_next_run_takes_over() {
    let sb = Sandbox::new();
    let (run, took) = interrupt_up(&sb, &[libc::SIGINT, libc::SIGINT]);
    assert_eq!(run.code, Some(130), "{}", run.all());
    assert!(
        took < Duration::from_millis(SLOW_MS / 2),
        "the second interrupt did not exit at once: {took:?}\n{}",
        run.all()
    );
    assert!(run.stderr.contains("interrupted again"), "{}", run.stderr);
    // Left as a kill leaves it: the lock of a process that is gone (taken
    // over) and the journal (these offline types' intents are not durable,
    // so there is nothing to settle); the next run converges.
    let next = sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    assert!(
        next.stderr.contains("taking over a stale lock"),
        "{}",
        next.stderr
    );
    assert_eq!(state_names(&sb).len(), 5);
}

/// An operation left in the journal (as a kill mid-call leaves it): `preview`
/// and `state list` say it is pending recovery; the next `up` settles it.
#[test]
fn preview_and_state_list_say_when_operations_are_pending_recovery() {
    use cairn_core::state::{Intent, StateSink};
    let sb = Sandbox::new();
    sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    let keys = cairn_state::SecretKeys::Passphrase("test-passphrase-not-secret".into());
    let store =
        cairn_state::StateStore::open(&sb.state_dir(), "data-chain", keys).expect("open the state");
    let intent = Intent {
        op_id: store.next_op_id(),
        resource: "extra".into(),
        type_token: "core:Data".into(),
        operation: cairn_core::provider::Operation::Create,
        id: None,
        inputs: Default::default(),
        dependencies: Vec::new(),
        external: true,
        create_token: None,
    };
    super::common::runtime()
        .block_on(store.begin(&intent))
        .expect("record the intent");
    store.flush().expect("flush");
    drop(store);
    for args in [
        vec!["preview", "--stack-file", STACK],
        vec!["state", "list", "--stack-file", STACK],
    ] {
        let run = sb.run(&args).ok();
        assert!(
            run.stderr
                .contains("1 operation(s) interrupted by an earlier run"),
            "{args:?}: {}",
            run.stderr
        );
    }
    let up = sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    assert!(
        up.stderr.contains("recovering 1 operation(s)"),
        "{}",
        up.stderr
    );
    let clean = sb.run(&["preview", "--stack-file", STACK]).ok();
    assert!(!clean.stderr.contains("interrupted by"), "{}", clean.stderr);
}
