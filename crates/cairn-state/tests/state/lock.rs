//! The writer lock, read-only opens beside a writer, and file modes.

use crate::child;
use crate::common::*;
use cairn_core::state::StateSink;
use cairn_core::value::Value;
use cairn_state::{ReadSource, StateError, StateStore};
use std::os::unix::fs::PermissionsExt;

#[test]
fn second_writer_in_process_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let first = open(root);
    let started = std::time::Instant::now();
    let err = StateStore::open(root, STACK, key_file(root)).unwrap_err();
    // Refused at once, not after waiting for the holder (the speed target is
    // in `cargo xtask bench`).
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let StateError::Locked(info) = &err else {
        panic!("expected Locked, got {err:?}")
    };
    assert_eq!(info.pid, std::process::id());
    assert!(!info.stale);
    assert!(
        info.started_at.ends_with('Z') && info.started_at.len() == 20,
        "{}",
        info.started_at
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("pid {}", std::process::id())),
        "{msg}"
    );
    assert!(
        msg.contains(&info.host) && msg.contains(&info.started_at),
        "{msg}"
    );
    assert_eq!(code(&err), "cairn::state::locked");
    let help = miette::Diagnostic::help(&err).unwrap().to_string();
    assert!(help.contains("--force-unlock"), "{help}");

    // Other stacks are independent.
    StateStore::open(root, "staging", key_file(root)).unwrap();

    // Dropping the writer releases the lock.
    drop(first);
    assert!(StateStore::lock_info(root, STACK).unwrap().is_none());
    open(root);
}

#[test]
fn lock_held_by_another_process_and_stale_after_it_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (mut holder, _) = child::spawn("hold_lock", root);
    let pid = holder.id();

    let err = StateStore::open(root, STACK, key_file(root)).unwrap_err();
    match &err {
        StateError::Locked(info) => {
            assert_eq!(info.pid, pid);
            assert!(!info.stale, "live holder reported stale");
            assert!(
                info.command.contains("child_process_entry"),
                "{}",
                info.command
            );
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    assert!(err.to_string().contains(&format!("pid {pid}")));

    // A reader is served from the writer's snapshot meanwhile.
    let ro = StateStore::open_read_only(root, STACK, key_file(root)).unwrap();
    assert!(matches!(ro.read_source(), ReadSource::Snapshot { .. }));
    assert_eq!(
        ro.load().unwrap().outputs,
        map(&[("held", Value::Bool(true))])
    );
    drop(ro);

    holder.kill().unwrap(); // SIGKILL
    holder.wait().unwrap();
    let info = StateStore::lock_info(root, STACK).unwrap().unwrap();
    assert_eq!(info.pid, pid);
    assert!(info.stale);
    assert!(StateStore::force_unlock(root, STACK).unwrap().is_some());
    let store = open(root);
    assert_eq!(
        store.load().unwrap().outputs,
        map(&[("held", Value::Bool(true))])
    );
}

#[test]
fn read_only_open_beside_a_writer_sees_its_last_flush() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let w = open(root);
    w.replace_all(&stack_state(SECRET)).unwrap();
    common_rt_set_outputs(&w);

    let ro = StateStore::open_read_only(root, STACK, key_file(root)).unwrap();
    assert!(ro.is_read_only());
    assert!(matches!(ro.read_source(), ReadSource::Snapshot { .. }));
    // Outputs were set after the last flush: not in the snapshot yet.
    assert_eq!(ro.load().unwrap(), stack_state(SECRET));
    w.flush().unwrap();
    let ro2 = StateStore::open_read_only(root, STACK, key_file(root)).unwrap();
    assert_eq!(ro2.load().unwrap().outputs, map(&[("x", Value::from(1))]));

    // Read-only stores refuse writes.
    let err = ro.replace_all(&Default::default()).unwrap_err();
    assert_eq!(code(&err), "cairn::state::read_only");
    let sink_err = rt().block_on(ro.begin(&intent(1, "a", false))).unwrap_err();
    assert!(sink_err.to_string().contains("read-only"), "{sink_err}");

    // After the writer closes, readers read the database itself.
    drop(w);
    let ro3 = StateStore::open_read_only(root, STACK, key_file(root)).unwrap();
    assert_eq!(ro3.read_source(), ReadSource::Database);
    assert_eq!(ro3.load().unwrap().outputs, map(&[("x", Value::from(1))]));
    // ...and do not keep it open: a writer can open right away.
    open(root);
}

fn common_rt_set_outputs(w: &StateStore) {
    rt().block_on(w.set_outputs(&map(&[("x", Value::from(1))])))
        .unwrap();
}

#[test]
fn read_only_open_of_missing_stack_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = StateStore::open_read_only(dir.path(), "nope", key_file(dir.path())).unwrap_err();
    assert_eq!(code(&err), "cairn::state::no_such_stack");
    assert!(!StateStore::exists(dir.path(), "nope"));
    assert!(
        !dir.path().join("nope").exists(),
        "read-only open created files"
    );
}

#[test]
fn bad_stack_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["", "../etc", "a/b", ".hidden", "sp ace"] {
        let err = StateStore::open(dir.path(), bad, key_file(dir.path())).unwrap_err();
        assert_eq!(code(&err), "cairn::state::stack_name", "{bad:?}");
    }
}

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn dirs_are_0700_and_files_0600_even_with_umask_zero() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("state");
    let (status, lines) = child::run("umask_zero", &root);
    assert!(status.success(), "{status} {lines:?}");
    // The child checked its write; now every file and directory it made.
    assert_eq!(mode(&root), 0o700);
    let mut seen = 0;
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        assert_eq!(mode(&d), 0o700, "{}", d.display());
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                assert_eq!(mode(&p), 0o600, "{}", p.display());
                seen += 1;
            }
        }
    }
    assert!(root.join(".keys/prod.key").exists());
    assert!(root.join("prod/snapshot.json").exists());
    assert!(root.join("prod/db/db").exists() || root.join("prod/db/conf").exists());
    assert!(seen >= 4, "only {seen} files checked");
}

#[test]
fn force_unlocking_a_live_writer_cannot_make_a_second_writer() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let first = open(root);
    let removed = StateStore::force_unlock(root, STACK).unwrap().unwrap();
    assert_eq!(removed.pid, std::process::id());
    // Our lock is gone, but sled's own file lock still guards the database.
    let err = StateStore::open(root, STACK, key_file(root)).unwrap_err();
    assert_eq!(code(&err), "cairn::state::busy", "{err:?}");
    // The refused open removed only its own lock file; the first writer
    // keeps working and closes cleanly.
    assert!(StateStore::lock_info(root, STACK).unwrap().is_none());
    first.replace_all(&stack_state(SECRET)).unwrap();
    drop(first);
    assert_eq!(open(root).load().unwrap(), stack_state(SECRET));
}
