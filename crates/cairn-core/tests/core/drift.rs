//! Refresh: reads run concurrently, bounded, and report drift in a stable order.

use crate::common::*;
use cairn_core::drift::refresh_with;
use cairn_core::mem::DATA_TOKEN;
use cairn_core::provider::Operation;
use cairn_core::state::StackState;
use std::time::Duration;

async fn deployed(world: &World, n: usize) -> StackState {
    let spec = stack(
        (0..n)
            .map(|i| {
                res(
                    &format!("r{i:03}"),
                    DATA_TOKEN,
                    serde_json::json!({"input": i}),
                )
            })
            .collect(),
    );
    let (_, report, _) = world.up(&spec, &StackState::default(), 16).await;
    assert!(report.ok(), "up failed");
    report.state
}

#[tokio::test]
async fn refresh_reads_resources_concurrently_up_to_the_limit() {
    let world = World::with_delay(Duration::from_millis(20));
    let state = deployed(&world, 40).await;
    let (_, drift) = refresh_with(&state, &world.registry, "test", 8)
        .await
        .unwrap();
    assert!(drift.is_empty(), "{drift:?}");
    assert_eq!(world.data.calls(Operation::Read), 40);
    let peak = world.data.max_reads_in_flight();
    assert_eq!(
        peak, 8,
        "reads in flight at once: {peak}, expected the limit 8"
    );
}

#[tokio::test]
async fn refresh_with_a_limit_of_one_reads_serially_and_reports_drift_in_name_order() {
    let world = World::new();
    let state = deployed(&world, 5).await;
    for id in ["r003-1", "r001-1"] {
        world.cloud.remove(id);
    }
    let (refreshed, drift) = refresh_with(&state, &world.registry, "test", 1)
        .await
        .unwrap();
    assert_eq!(world.data.max_reads_in_flight(), 1);
    let gone: Vec<_> = drift
        .iter()
        .filter(|d| d.gone)
        .map(|d| d.resource.as_str())
        .collect();
    assert_eq!(gone, ["r001", "r003"]);
    assert_eq!(refreshed.resources.len(), 3);
}
