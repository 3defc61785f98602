//! Versioned on-disk format: future versions are refused, damage is reported.

use crate::common::*;
use cairn_state::{StateError, StateStore};

fn with_db(root: &std::path::Path, f: impl FnOnce(&sled::Db)) {
    let db = raw_db(root);
    f(&db);
    db.flush().unwrap();
}

#[test]
fn future_resource_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    open(root).replace_all(&stack_state(SECRET)).unwrap();
    with_db(root, |db| {
        let t = db.open_tree("stack").unwrap();
        t.insert(
            "r/cache",
            &br#"{"format":2,"name":"cache","shape":"something new"}"#[..],
        )
        .unwrap();
    });
    let err = open(root).load().unwrap_err();
    match &err {
        StateError::UnsupportedFormat {
            what,
            found,
            supported,
        } => {
            assert_eq!((*found, *supported), (2, 1));
            assert!(what.contains("cache"), "{what}");
        }
        other => panic!("expected UnsupportedFormat, got {other:?}"),
    }
    assert_eq!(code(&err), "cairn::state::format");
    assert!(miette::Diagnostic::help(&err)
        .unwrap()
        .to_string()
        .contains("upgrade"));
}

#[test]
fn future_database_format_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    drop(open(root));
    with_db(root, |db| {
        db.open_tree("stack")
            .unwrap()
            .insert("m/format", &br#"{"format":3}"#[..])
            .unwrap();
    });
    let err = StateStore::open(root, STACK, key_file(root)).unwrap_err();
    assert!(
        matches!(err, StateError::UnsupportedFormat { found: 3, .. }),
        "{err:?}"
    );
    let err = StateStore::open_read_only(root, STACK, key_file(root)).unwrap_err();
    assert!(
        matches!(err, StateError::UnsupportedFormat { found: 3, .. }),
        "{err:?}"
    );
    // The refused writer open did not leave a lock behind.
    assert!(StateStore::lock_info(root, STACK).unwrap().is_none());
}

#[test]
fn future_snapshot_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let _writer = open(root);
    let snap = root.join("prod/snapshot.json");
    std::fs::write(&snap, br#"{"format":9,"whatever":[]}"#).unwrap();
    let err = StateStore::open_read_only(root, STACK, key_file(root)).unwrap_err();
    assert!(
        matches!(err, StateError::UnsupportedFormat { found: 9, .. }),
        "{err:?}"
    );
    std::fs::write(&snap, b"{\"format\":1,\"stack\":").unwrap();
    let err = StateStore::open_read_only(root, STACK, key_file(root)).unwrap_err();
    assert_eq!(code(&err), "cairn::state::corrupt", "{err:?}");
}

#[test]
fn damaged_records_give_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    {
        let s = open(root);
        s.replace_all(&stack_state(SECRET)).unwrap();
        rt().block_on(cairn_core::state::StateSink::begin(
            &s,
            &intent(5, "x", false),
        ))
        .unwrap();
    }
    let journal_key = |op: u64| [&b"j/"[..], &op.to_be_bytes()].concat();
    let (op5, op6) = (journal_key(5), journal_key(6));
    let cases: Vec<(&str, &[u8], &[u8])> = vec![
        ("resources", b"r/cache", b"\xff\x00 not json"),
        ("resources", b"r/cache", br#"{"format":1,"name":"cache"}"#),
        ("resources", b"r/\xff\xfe", br#"{"format":1}"#),
        ("journal", &op5, b"[1,2"),
        ("journal", &op6, &[]),
        (
            "resources",
            b"r/cache",
            br#"{"format":1,"name":"c","type":"t","id":"i","inputs":{"k":{"$secret":{"alg":"rot13","nonce":"","ct":""}}},"outputs":{}}"#,
        ),
        (
            "resources",
            b"r/cache",
            br#"{"format":1,"name":"c","type":"t","id":"i","inputs":{"k":{"$secret":{"alg":"chacha20poly1305","nonce":"!!","ct":"AA=="}}},"outputs":{}}"#,
        ),
        ("meta", b"m/outputs", br#"{"format":1,"outputs":{"a":{"nope":1}}}"#),
    ];
    for (tree, key, value) in cases {
        let backup = {
            let db = raw_db(root);
            let t = db.open_tree("stack").unwrap();
            let old = t.get(key).unwrap();
            t.insert(key, value).unwrap();
            db.flush().unwrap();
            old
        };
        let err = match (tree, StateStore::open(root, STACK, key_file(root))) {
            // A name that is not UTF-8 is caught at open (writing the snapshot).
            (_, Err(e)) => {
                assert_eq!(key, b"r/\xff\xfe", "open failed: {e:?}");
                e
            }
            (tree, Ok(store)) => match tree {
                "journal" => store.pending_intents().unwrap_err(),
                _ => store.load().unwrap_err(),
            },
        };
        assert_eq!(
            code(&err),
            "cairn::state::corrupt",
            "{tree} {value:?}: {err:?}"
        );
        let db = raw_db(root);
        let t = db.open_tree("stack").unwrap();
        match backup {
            Some(old) => t.insert(key, old).unwrap(),
            None => t.remove(key).unwrap(),
        };
        db.flush().unwrap();
    }
    // Damaged key record: refused at open.
    with_db(root, |db| {
        db.open_tree("stack")
            .unwrap()
            .insert("m/keys", &b"{}"[..])
            .unwrap();
    });
    let err = StateStore::open(root, STACK, key_file(root)).unwrap_err();
    assert_eq!(code(&err), "cairn::state::corrupt", "{err:?}");
}

#[test]
fn pre_release_layout_is_refused_not_read_as_empty() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    open(root).replace_all(&stack_state(SECRET)).unwrap();
    with_db(root, |db| {
        db.open_tree("resources")
            .unwrap()
            .insert("cache", &b"{}"[..])
            .unwrap();
    });
    for ro in [false, true] {
        let err = if ro {
            StateStore::open_read_only(root, STACK, key_file(root)).unwrap_err()
        } else {
            StateStore::open(root, STACK, key_file(root)).unwrap_err()
        };
        assert_eq!(code(&err), "cairn::state::corrupt", "{err:?}");
        assert!(err.to_string().contains("pre-release"), "{err}");
    }
}
