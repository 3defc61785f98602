//! Crash safety: a process killed with SIGKILL leaves a durable journal and
//! a detectably stale lock.

use crate::child;
use crate::common::*;
use cairn_state::{StateError, StateStore};

#[test]
fn external_begin_is_durable_across_sigkill_and_lock_goes_stale() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (mut proc_, lines) = child::spawn("external_begin_then_kill", root);
    let pid = proc_.id();
    let status = proc_.wait().unwrap();
    assert!(
        child::killed_by_sigkill(&status),
        "child ended with {status}: {lines:?}"
    );

    // The dead writer's lock is left behind and reported stale.
    let info = StateStore::lock_info(root, STACK)
        .unwrap()
        .expect("lock file left");
    assert_eq!(info.pid, pid);
    assert!(info.stale, "{info:?}");

    // Opening names the dead holder instead of taking over silently.
    match StateStore::open(root, STACK, key_file(root)) {
        Err(StateError::Locked(held)) => {
            assert_eq!(held.pid, pid);
            assert!(held.stale);
        }
        other => panic!("expected Locked, got {other:?}"),
    }

    // Readers need no lock: a stale lock means nobody has the database open.
    let ro = StateStore::open_read_only(root, STACK, key_file(root)).unwrap();
    assert_eq!(ro.read_source(), cairn_state::ReadSource::Database);
    assert_eq!(
        ro.pending_intents().unwrap(),
        vec![intent(2, "cache", true)]
    );
    drop(ro);

    let removed = StateStore::force_unlock(root, STACK)
        .unwrap()
        .expect("was locked");
    assert_eq!(removed.pid, pid);
    assert!(StateStore::lock_info(root, STACK).unwrap().is_none());

    let store = open(root);
    // The external intent survived, secrets and all, and nothing else is pending.
    assert_eq!(
        store.pending_intents().unwrap(),
        vec![intent(2, "cache", true)]
    );
    // Its flush also made the earlier (unflushed) finish durable.
    let state = store.load().unwrap();
    assert_eq!(state.resources.get("data"), Some(&resource("data", SECRET)));
    // Numbering resumes past the interrupted run.
    assert_eq!(store.next_op_id(), 3);
}

#[test]
fn unflushed_internal_begins_are_lost_on_sigkill() {
    // Control for the test above: it shows that SIGKILL really does discard
    // writes that were not flushed, so surviving writes prove the flush.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (status, _) = child::run("internal_begins_then_kill", root);
    assert!(child::killed_by_sigkill(&status));
    StateStore::force_unlock(root, STACK).unwrap();
    let store = open(root);
    let pending = store.pending_intents().unwrap().len();
    assert!(
        pending < 50,
        "all {pending} unflushed begins survived SIGKILL"
    );
}

#[test]
fn group_commit_makes_all_concurrent_external_begins_durable() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (status, lines) = child::run("group_commit_then_kill", root);
    assert!(child::killed_by_sigkill(&status));
    let fsyncs: u64 = lines
        .last()
        .and_then(|l| l.strip_prefix("READY fsyncs="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no fsync count in {lines:?}"));
    assert!(
        (1..1000).contains(&fsyncs),
        "fsyncs for 1000 begins: {fsyncs}"
    );

    StateStore::force_unlock(root, STACK).unwrap();
    let store = open(root);
    let pending = store.pending_intents().unwrap();
    assert_eq!(pending.len(), 1000);
    assert!(pending
        .iter()
        .zip(1..=1000u64)
        .all(|(i, op)| i.op_id == op && i.resource == format!("r{op}") && i.external));
    assert_eq!(pending[499], intent(500, "r500", true));
}
