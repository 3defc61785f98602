//! Cancellation: once the flag is set, no new operation starts; those in
//! flight finish and are recorded; the rest are reported as not started.

use crate::common::*;
use cairn_core::exec::{apply, ExecOptions};
use cairn_core::mem::DATA_TOKEN;
use cairn_core::state::{MemorySink, StackState};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn a_cancel_stops_new_operations_and_lets_in_flight_ones_finish() {
    let w = World::with_delay(Duration::from_millis(200));
    // A chain: a, then b and c; b and c only start after a finishes.
    let spec = stack(vec![
        res("a", DATA_TOKEN, json!({"input": 1})),
        res("b", DATA_TOKEN, json!({"input": "${a.output}"})),
        res("c", DATA_TOKEN, json!({"input": "${a.output}"})),
    ]);
    let plan = w.plan(&spec, &StackState::default());
    let sink = MemorySink::new(StackState::default());
    let cancel = Arc::new(AtomicBool::new(false));
    let opts = ExecOptions::new("test")
        .with_parallel(10)
        .with_cancel(cancel.clone());
    let flag = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        flag.store(true, Ordering::SeqCst);
    });
    let started = std::time::Instant::now();
    let report = apply(
        &plan,
        Some(&spec),
        &StackState::default(),
        &w.registry,
        &sink,
        &opts,
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_millis(390),
        "waited for operations that should not start: {:?}",
        started.elapsed()
    );
    assert!(report.interrupted, "{report:?}");
    assert_eq!(report.succeeded, vec!["a"], "{report:?}");
    assert_eq!(report.not_started, vec!["b", "c"], "{report:?}");
    assert!(report.failed.is_empty(), "{report:?}");
    assert!(!report.ok());
    // The finished one is recorded, nothing else, and no intent is left open.
    let state = sink.snapshot().await;
    assert_eq!(state.resources.keys().collect::<Vec<_>>(), vec!["a"]);
    assert_eq!(w.cloud.len(), 1);
    let pending = sink.pending().await;
    assert!(pending.is_empty(), "intents left: {pending:?}");
}
