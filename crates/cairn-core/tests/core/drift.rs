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

mod batched {
    use crate::common::*;
    use cairn_core::drift::refresh_with;
    use cairn_core::mem::{data_schema, MemoryCloud, MemoryProvider, DATA_TOKEN};
    use cairn_core::provider::{Operation, ResourceProvider};
    use cairn_core::state::{ResourceState, StackState};
    use cairn_core::value::{Map, Value};
    use cairn_core::Registry;
    use proptest::prelude::*;
    use std::sync::Arc;

    /// Providers of `mem:Data` and `test:Thing` over `cloud`, batched or not.
    fn registry(cloud: &MemoryCloud, batch: Option<usize>) -> (Registry, Vec<Arc<MemoryProvider>>) {
        let mut reg = Registry::new();
        let mut ps = Vec::new();
        for schema in [data_schema(), thing_schema()] {
            let mut p = MemoryProvider::new(schema).with_cloud(cloud.clone());
            if let Some(limit) = batch {
                p = p.with_batch_reads(limit);
            }
            let p = Arc::new(p);
            reg.register(p.clone());
            ps.push(p);
        }
        (reg, ps)
    }

    /// What happens to one recorded resource before the refresh.
    #[derive(Clone, Debug)]
    enum Fate {
        Same,
        Gone,
        Drifted(u8),
        /// Recorded with the id of the resource before it (an import made twice).
        SharesId,
        /// Its type has no provider in the run.
        Unknown,
    }

    fn fate() -> impl Strategy<Value = Fate> {
        prop_oneof![
            4 => Just(Fate::Same),
            2 => Just(Fate::Gone),
            2 => any::<u8>().prop_map(Fate::Drifted),
            1 => Just(Fate::SharesId),
            1 => Just(Fate::Unknown),
        ]
    }

    /// Records `fates.len()` resources in `cloud`, applies their fates.
    fn recorded(cloud: &MemoryCloud, fates: &[(bool, Fate)]) -> StackState {
        let mut state = StackState::default();
        let mut last_id: Option<String> = None;
        for (i, (thing, fate)) in fates.iter().enumerate() {
            let name = format!("r{i:03}");
            let token = match fate {
                Fate::Unknown => "test:Unregistered",
                _ if *thing => THING,
                _ => DATA_TOKEN,
            };
            let mut inputs = Map::new();
            inputs.insert("input".into(), Value::Int(i as i64));
            if *thing {
                inputs.insert(
                    "password".into(),
                    Value::Secret(Box::new(Value::String("pw".into()))),
                );
            }
            let id = match (fate, &last_id) {
                (Fate::SharesId, Some(prev)) => prev.clone(),
                _ => cloud.insert(token, &name, &format!("test/{name}"), inputs.clone()),
            };
            let outputs = cloud.get(&id).map(|r| r.outputs).unwrap_or_default();
            match fate {
                Fate::Gone => {
                    cloud.remove(&id);
                }
                Fate::Drifted(v) => {
                    let mut changed = inputs.clone();
                    changed.insert("input".into(), Value::Int(1000 + i64::from(*v)));
                    cloud.set_inputs(&id, changed);
                }
                _ => {}
            }
            last_id = Some(id.clone());
            state.resources.insert(
                name.clone(),
                ResourceState {
                    name,
                    type_token: token.into(),
                    id,
                    inputs,
                    outputs,
                    dependencies: Vec::new(),
                    protect: false,
                    retain_on_delete: false,
                    imported: false,
                    ..Default::default()
                },
            );
        }
        state
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

        /// Batched and one-at-a-time reads refresh to the same state and drift.
        #[test]
        fn batched_and_single_reads_refresh_the_same(
            fates in prop::collection::vec((any::<bool>(), fate()), 0..60),
            limit in 1usize..25,
            parallel in 1usize..6,
        ) {
            let cloud = MemoryCloud::new();
            let state = recorded(&cloud, &fates);
            let (single, single_ps) = registry(&cloud, None);
            let (batch, batch_ps) = registry(&cloud, Some(limit));
            let rt = rt();
            let a = rt.block_on(refresh_with(&state, &single, "test", parallel)).unwrap();
            let b = rt.block_on(refresh_with(&state, &batch, "test", parallel)).unwrap();
            prop_assert_eq!(&a, &b);
            // Every batchable resource was read in batches of at most `limit`,
            // but for a second one recorded with the same id, read on its own.
            for p in &batch_ps {
                let of_type: Vec<&str> = state
                    .resources
                    .values()
                    .filter(|r| r.type_token == p.schema().token)
                    .map(|r| r.id.as_str())
                    .collect();
                let distinct = of_type.iter().collect::<std::collections::BTreeSet<_>>().len();
                prop_assert_eq!(p.calls(Operation::Read), of_type.len() - distinct);
                prop_assert_eq!(p.read_many_calls(), distinct.div_ceil(limit));
            }
            let single_reads: usize = single_ps.iter().map(|p| p.calls(Operation::Read)).sum();
            let known = state.resources.values().filter(|r| r.type_token != "test:Unregistered").count();
            prop_assert_eq!(single_reads, known);
        }
    }

    #[tokio::test]
    async fn a_thousand_resources_refresh_in_a_few_batched_calls_and_gone_ones_drop_out() {
        let cloud = MemoryCloud::new();
        let fates: Vec<(bool, Fate)> = (0..1000)
            .map(|i| (false, if i % 100 == 7 { Fate::Gone } else { Fate::Same }))
            .collect();
        let state = recorded(&cloud, &fates);
        let (reg, ps) = registry(&cloud, Some(200));
        let (refreshed, drift) = refresh_with(&state, &reg, "test", 10).await.unwrap();
        assert_eq!(ps[0].read_many_calls(), 5, "1,000 ids at 200 per call");
        assert_eq!(ps[0].calls(Operation::Read), 0);
        assert_eq!(drift.len(), 10, "{drift:?}");
        assert!(drift.iter().all(|d| d.gone && d.resource.ends_with('7')));
        assert_eq!(refreshed.resources.len(), 990);
    }
}
