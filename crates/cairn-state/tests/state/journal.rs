//! The write-ahead journal through the `StateSink` interface.

use crate::common::*;
use cairn_core::provider::Operation;
use cairn_core::state::{Intent, Outcome, StateSink};
use cairn_core::value::{Map, Value};
use cairn_state::StateStore;
use std::sync::Arc;
use std::time::Duration;

#[test]
fn pending_intents_survive_a_close_without_finish() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let rt = rt();
    {
        let store = open(root);
        rt.block_on(async {
            store.begin(&intent(1, "done", false)).await.unwrap();
            store
                .begin(&intent(2, "left-internal", false))
                .await
                .unwrap();
            store
                .begin(&intent(3, "left-external", true))
                .await
                .unwrap();
            store
                .finish(1, "done", &Outcome::Written(resource("done", SECRET)))
                .await
                .unwrap();
        });
    } // dropped without finishing 2 and 3
    let store = open(root);
    let pending = store.pending_intents().unwrap();
    assert_eq!(
        pending,
        vec![
            intent(2, "left-internal", false),
            intent(3, "left-external", true)
        ]
    );
    assert_eq!(
        store.load().unwrap().resources.keys().collect::<Vec<_>>(),
        vec!["done"]
    );
    assert_eq!(store.next_op_id(), 4);
}

#[test]
fn finish_applies_outcomes_and_clears_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let rt = rt();
    rt.block_on(async {
        store.begin(&intent(1, "a", true)).await.unwrap();
        store
            .finish(1, "a", &Outcome::Written(resource("a", SECRET)))
            .await
            .unwrap();
        store.begin(&intent(2, "b", false)).await.unwrap();
        store
            .finish(2, "b", &Outcome::Written(resource("b", SECRET)))
            .await
            .unwrap();
        // A failed update leaves the recorded state alone.
        let mut upd = intent(3, "a", true);
        upd.operation = Operation::Update;
        upd.id = Some("a-id".into());
        store.begin(&upd).await.unwrap();
        store
            .finish(3, "a", &Outcome::Failed("throttled".into()))
            .await
            .unwrap();
        // A delete removes it.
        let mut del = intent(4, "b", true);
        del.operation = Operation::Delete;
        store.begin(&del).await.unwrap();
        store.finish(4, "b", &Outcome::Removed).await.unwrap();
        store
            .set_outputs(&map(&[("endpoint", Value::secret("e"))]))
            .await
            .unwrap();
    });
    assert!(store.pending_intents().unwrap().is_empty());
    let state = store.load().unwrap();
    assert_eq!(state.resources.len(), 1);
    assert_eq!(state.resources["a"], resource("a", SECRET));
    assert_eq!(state.outputs, map(&[("endpoint", Value::secret("e"))]));
}

#[test]
fn journal_misuse_gives_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let rt = rt();
    rt.block_on(async {
        store.begin(&intent(7, "a", false)).await.unwrap();
        let dup = store.begin(&intent(7, "b", false)).await.unwrap_err();
        assert!(dup.0.contains("cairn::state::duplicate_op"), "{}", dup.0);
        assert!(dup.0.contains("next_op_id"), "help is carried: {}", dup.0);
        let unknown = store.finish(8, "a", &Outcome::Removed).await.unwrap_err();
        assert!(
            unknown.0.contains("cairn::state::unknown_op"),
            "{}",
            unknown.0
        );
        // The failed finish changed nothing; the real one still works once.
        store.finish(7, "a", &Outcome::Removed).await.unwrap();
        assert!(store.finish(7, "a", &Outcome::Removed).await.is_err());
        // An op id can be reused once finished (reconcile settles an old
        // run's op 7, then the new run numbers from 1 again).
        store.begin(&intent(7, "c", false)).await.unwrap();
        assert_eq!(
            store.pending_intents().unwrap(),
            vec![intent(7, "c", false)]
        );
        store
            .finish(7, "c", &Outcome::Failed("x".into()))
            .await
            .unwrap();
    });
    // The first intent was not overwritten by the duplicate.
    assert!(store.pending_intents().unwrap().is_empty());
}

#[test]
fn concurrent_external_begins_share_fsyncs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path()));
    let before = store.fsync_count();
    let rt = rt();
    rt.block_on(async {
        let tasks: Vec<_> = (1..=1000u64)
            .map(|op| {
                let s = store.clone();
                tokio::spawn(async move { s.begin(&intent(op, &format!("r{op}"), true)).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
    });
    let fsyncs = store.fsync_count() - before;
    eprintln!("1000 concurrent external begins: {fsyncs} fsyncs");
    assert!(fsyncs >= 1, "external begins were never flushed");
    assert!(
        fsyncs < 1000,
        "no batching: {fsyncs} fsyncs for 1000 begins"
    );
    assert_eq!(store.pending_intents().unwrap().len(), 1000);

    // Sequential external begins each need their own fsync.
    let before = store.fsync_count();
    rt.block_on(async {
        for op in 2000..2005 {
            store.begin(&intent(op, "seq", true)).await.unwrap();
        }
    });
    assert_eq!(store.fsync_count() - before, 5);
}

#[test]
fn cancelled_external_begin_does_not_wedge_group_commit() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path()));
    let rt = rt();
    rt.block_on(async {
        // Drop begin futures at arbitrary points, including mid-flush.
        for op in 1..=20u64 {
            let s = store.clone();
            let _ = tokio::time::timeout(Duration::from_micros(op * 50), async move {
                s.begin(&intent(op, "x", true)).await
            })
            .await;
        }
        // Later begins still complete.
        tokio::time::timeout(
            Duration::from_secs(10),
            store.begin(&intent(100, "y", true)),
        )
        .await
        .expect("group commit wedged")
        .unwrap();
    });
}

fn data_intent(op_id: u64, name: &str) -> Intent {
    let mut inputs = Map::new();
    inputs.insert("value".into(), Value::from(format!("value-{op_id}")));
    inputs.insert("index".into(), Value::from(op_id as i64));
    Intent {
        op_id,
        resource: name.to_string(),
        type_token: "core:Data".into(),
        operation: Operation::Create,
        id: None,
        inputs,
        dependencies: vec![],
        external: false,
        create_token: None,
    }
}

#[test]
fn ten_thousand_data_resources_without_per_op_fsync() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let rt = rt();
    let intents: Vec<Intent> = (1..=10_000u64)
        .map(|op| data_intent(op, &format!("data-{op}")))
        .collect();
    let before = store.fsync_count();
    rt.block_on(async {
        for i in &intents {
            store.begin(i).await.unwrap();
            let rs = cairn_core::state::ResourceState {
                name: i.resource.clone(),
                type_token: i.type_token.clone(),
                id: format!("data-{}", i.op_id),
                inputs: i.inputs.clone(),
                outputs: i.inputs.clone(),
                dependencies: vec![],
                protect: false,
                retain_on_delete: false,
                imported: false,
                ..Default::default()
            };
            store
                .finish(i.op_id, &i.resource, &Outcome::Written(rs))
                .await
                .unwrap();
        }
        store.set_outputs(&Map::new()).await.unwrap();
    });
    let in_run = store.fsync_count() - before;
    store.flush().unwrap();
    // Speed is a benchmark target (`cargo xtask bench`); this checks the fsyncs.
    assert_eq!(in_run, 0, "non-external operations must not fsync");
    assert_eq!(store.fsync_count() - before, 1);
    drop(store);
    let store = StateStore::open_read_only(dir.path(), STACK, key_file(dir.path())).unwrap();
    let state = store.load().unwrap();
    assert_eq!(state.resources.len(), 10_000);
    assert_eq!(
        state.resources["data-77"].inputs["value"],
        Value::from("value-77")
    );
    assert!(store.pending_intents().unwrap().is_empty());
}
