//! What remote backends build on: a store exported as one snapshot document
//! and rebuilt elsewhere (a working copy, or a read-only view) keeps every
//! resource, output, pending intent and the op-id high-water mark, with
//! secrets still sealed in the document.

use crate::common::*;
use cairn_core::state::{Outcome, StateSink};
use cairn_state::{ReadSource, StateStore};

#[test]
fn an_exported_snapshot_rebuilds_the_same_store_elsewhere() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let keys = key_file(a.path());
    let rt = rt();
    let doc = {
        let store = StateStore::open(a.path(), STACK, keys.clone()).unwrap();
        store.replace_all(&stack_state(SECRET)).unwrap();
        rt.block_on(async {
            store.begin(&intent(7, "cache", true)).await.unwrap();
            store.begin(&intent(8, "extra", true)).await.unwrap();
            store
                .finish(8, "extra", &Outcome::Written(resource("extra", SECRET)))
                .await
                .unwrap();
        });
        store.export_snapshot().unwrap()
    };
    assert_eq!(
        count_occurrences(&doc, SECRET.as_bytes()),
        0,
        "secrets sealed"
    );

    // A working copy in another directory, from the document alone.
    let copy = StateStore::open_working_copy(b.path(), STACK, keys.clone(), Some(&doc)).unwrap();
    let original = StateStore::open_read_only(a.path(), STACK, keys.clone()).unwrap();
    assert_eq!(copy.load().unwrap(), original.load().unwrap());
    assert_eq!(
        copy.pending_intents().unwrap(),
        vec![intent(7, "cache", true)],
        "the interrupted operation comes along"
    );
    assert_eq!(copy.next_op_id(), 9);
    assert_eq!(copy.export_snapshot().unwrap().len(), doc.len());
    drop(copy);

    // Reopening a working copy discards what the directory held.
    let empty = StateStore::open_working_copy(b.path(), STACK, keys.clone(), None).unwrap();
    assert!(empty.load().unwrap().resources.is_empty());
    assert!(empty.pending_intents().unwrap().is_empty());
    drop(empty);

    // A read-only view straight from the document.
    let view = StateStore::from_snapshot(b.path(), STACK, keys, &doc, "s3://bucket/prod").unwrap();
    assert!(
        matches!(view.read_source(), ReadSource::Remote { location, .. } if location == "s3://bucket/prod")
    );
    assert_eq!(view.load().unwrap(), original.load().unwrap());
    let meta = StateStore::snapshot_keys(&doc, STACK)
        .unwrap()
        .expect("key record");
    assert_eq!(meta.scheme, "keyfile");
}

#[test]
fn a_snapshot_of_another_stack_or_a_damaged_one_is_refused() {
    let a = tempfile::tempdir().unwrap();
    let keys = key_file(a.path());
    let doc = {
        let store = StateStore::open(a.path(), STACK, keys.clone()).unwrap();
        store.replace_all(&stack_state(SECRET)).unwrap();
        store.export_snapshot().unwrap()
    };
    let b = tempfile::tempdir().unwrap();
    let other = StateStore::open_working_copy(b.path(), "staging", keys.clone(), Some(&doc));
    assert_eq!(code(&other.unwrap_err()), "cairn::state::corrupt");
    let cut = &doc[..doc.len() / 2];
    let damaged = StateStore::from_snapshot(b.path(), STACK, keys, cut, "s3://bucket/prod");
    assert_eq!(code(&damaged.unwrap_err()), "cairn::state::corrupt");
}
