//! Versioned on-disk format: future versions are refused, damage is reported.

use crate::common::*;
use cairn_state::{StateError, StateStore};

fn with_db(root: &std::path::Path, f: impl FnOnce(&sled::Db)) {
    let db = sled::open(root.join("prod/db")).unwrap();
    f(&db);
    db.flush().unwrap();
}

#[test]
fn future_resource_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    open(root).replace_all(&stack_state(SECRET)).unwrap();
    with_db(root, |db| {
        let t = db.open_tree("resources").unwrap();
        t.insert(
            "cache",
            &br#"{"format":2,"name":"cache","shape":"something new"}"#[..],
        )
        .unwrap();
    });
    let err = open(root).load().unwrap_err();
    match &err {
        StateError::UnsupportedFormat { what, found, supported } => {
            assert_eq!((*found, *supported), (2, 1));
            assert!(what.contains("cache"), "{what}");
        }
        other => panic!("expected UnsupportedFormat, got {other:?}"),
    }
    assert_eq!(code(&err), "cairn::state::format");
    assert!(miette::Diagnostic::help(&err).unwrap().to_string().contains("upgrade"));
}

#[test]
fn future_database_format_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    drop(open(root));
    with_db(root, |db| {
        db.open_tree("meta")
            .unwrap()
            .insert("format", &br#"{"format":3}"#[..])
            .unwrap();
    });
    let err = StateStore::open(root, STACK, key_file(root)).unwrap_err();
    assert!(matches!(err, StateError::UnsupportedFormat { found: 3, .. }), "{err:?}");
    let err = StateStore::open_read_only(root, STACK, key_file(root)).unwrap_err();
    assert!(matches!(err, StateError::UnsupportedFormat { found: 3, .. }), "{err:?}");
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
    assert!(matches!(err, StateError::UnsupportedFormat { found: 9, .. }), "{err:?}");
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
        rt().block_on(cairn_core::state::StateSink::begin(&s, &intent(5, "x", false)))
            .unwrap();
    }
    let cases: Vec<(&str, &[u8], &[u8])> = vec![
        ("resources", b"cache", b"\xff\x00 not json"),
        ("resources", b"cache", br#"{"format":1,"name":"cache"}"#),
        ("resources", b"\xff\xfe", br#"{"format":1}"#),
        ("journal", &5u64.to_be_bytes(), b"[1,2"),
        ("journal", &6u64.to_be_bytes(), &[]),
        (
            "resources",
            b"cache",
            br#"{"format":1,"name":"c","type":"t","id":"i","inputs":{"k":{"$secret":{"alg":"rot13","nonce":"","ct":""}}},"outputs":{}}"#,
        ),
        (
            "resources",
            b"cache",
            br#"{"format":1,"name":"c","type":"t","id":"i","inputs":{"k":{"$secret":{"alg":"chacha20poly1305","nonce":"!!","ct":"AA=="}}},"outputs":{}}"#,
        ),
        ("meta", b"outputs", br#"{"format":1,"outputs":{"a":{"nope":1}}}"#),
    ];
    for (tree, key, value) in cases {
        let backup = {
            let db = sled::open(root.join("prod/db")).unwrap();
            let t = db.open_tree(tree).unwrap();
            let old = t.get(key).unwrap();
            t.insert(key, value).unwrap();
            db.flush().unwrap();
            old
        };
        let store = open(root);
        let err = match tree {
            "journal" => store.pending_intents().unwrap_err(),
            _ => store.load().unwrap_err(),
        };
        assert_eq!(code(&err), "cairn::state::corrupt", "{tree} {value:?}: {err:?}");
        drop(store);
        let db = sled::open(root.join("prod/db")).unwrap();
        let t = db.open_tree(tree).unwrap();
        match backup {
            Some(old) => t.insert(key, old).unwrap(),
            None => t.remove(key).unwrap(),
        };
        db.flush().unwrap();
    }
    // Damaged key record: refused at open.
    with_db(root, |db| {
        db.open_tree("meta").unwrap().insert("keys", &b"{}"[..]).unwrap();
    });
    let err = StateStore::open(root, STACK, key_file(root)).unwrap_err();
    assert_eq!(code(&err), "cairn::state::corrupt", "{err:?}");
}
