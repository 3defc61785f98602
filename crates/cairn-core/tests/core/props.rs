//! Property tests over generated acyclic stacks.

use crate::common::*;
use cairn_core::exec::ExecEvent;
use cairn_core::graph::DependencyGraph;
use cairn_core::mem::{CloudResource, DATA_TOKEN};
use cairn_core::plan::Action;
use cairn_core::provider::Operation;
use cairn_core::spec::{ResourceSpec, StackSpec};
use cairn_core::state::StackState;
use cairn_core::value::{Map, Value};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// One generated resource; `deps` index earlier resources (mod position).
#[derive(Clone, Debug)]
struct Gen {
    present: bool,
    data: bool,
    name: u8,
    size: u8,
    secret: Option<u8>,
    tags: Vec<(u8, u8)>,
    deps: Vec<(u8, u8)>,
}

fn gen_res() -> impl Strategy<Value = Gen> {
    (
        prop::bool::weighted(0.8),
        any::<bool>(),
        0u8..3,
        0u8..3,
        prop::option::of(0u8..3),
        prop::collection::vec((0u8..3, 0u8..3), 0..3),
        prop::collection::vec((any::<u8>(), 0u8..4), 0..4),
    )
        .prop_map(|(present, data, name, size, secret, tags, deps)| Gen {
            present,
            data,
            name,
            size,
            secret,
            tags,
            deps,
        })
}

/// Builds a stack from generated resources: `r<i>` may depend on `r<j>`,
/// j < i, through a whole-string reference, an interpolation, a nested
/// reference or dependsOn. `order` permutes the source order.
fn build(gens: &[Gen], order: &[usize]) -> StackSpec {
    let present: Vec<bool> = gens.iter().map(|g| g.present).collect();
    let mut resources: Vec<ResourceSpec> = Vec::new();
    for (i, g) in gens.iter().enumerate() {
        if !g.present {
            continue;
        }
        let name = format!("r{i}");
        let mut refs: Vec<Value> = Vec::new();
        let mut depends_on = Vec::new();
        if i > 0 {
            for (d, how) in &g.deps {
                let j = *d as usize % i;
                if !present[j] {
                    continue;
                }
                match how {
                    0 => refs.push(Value::String(format!("${{r{j}.id}}"))),
                    1 => refs.push(Value::String(format!("pre-${{r{j}.output}}-post"))),
                    2 => {
                        let mut m = Map::new();
                        m.insert("k".into(), Value::String(format!("${{r{j}.id}}")));
                        refs.push(Value::Map(m));
                    }
                    _ => depends_on.push(format!("r{j}")),
                }
            }
        }
        let mut props = Map::new();
        let value = Value::Int(g.size as i64);
        let (token, props) = if g.data {
            let mut input = Map::new();
            input.insert("v".into(), value);
            input.insert("refs".into(), Value::List(refs));
            props.insert("input".into(), Value::Map(input));
            (DATA_TOKEN, props)
        } else {
            props.insert("name".into(), Value::String(format!("n{}", g.name)));
            props.insert("size".into(), value);
            props.insert("input".into(), Value::Int(g.size as i64 * 10));
            props.insert("refs".into(), Value::List(refs));
            if !g.tags.is_empty() {
                let tags: Map = g
                    .tags
                    .iter()
                    .map(|(k, v)| (format!("t{k}"), Value::String(format!("v{v}"))))
                    .collect();
                props.insert("tags".into(), Value::Map(tags));
            }
            if let Some(s) = g.secret {
                props.insert("password".into(), Value::String(format!("hunter{s}")));
            }
            (THING, props)
        };
        let mut r = ResourceSpec::new(&name, token, props);
        r.options.depends_on = depends_on;
        resources.push(r);
    }
    let mut ordered: Vec<ResourceSpec> = Vec::new();
    for k in order {
        if resources.is_empty() {
            break;
        }
        let idx = k % resources.len();
        ordered.push(resources.remove(idx));
    }
    ordered.extend(resources);
    stack(ordered)
}

fn stacks() -> impl Strategy<Value = (StackSpec, StackSpec)> {
    prop::collection::vec((gen_res(), gen_res()), 1..=30).prop_flat_map(|pairs| {
        let n = pairs.len();
        (
            Just(pairs),
            prop::collection::vec(0usize..n, n),
            prop::collection::vec(0usize..n, n),
        )
            .prop_map(|(pairs, o1, o2)| {
                let old: Vec<Gen> = pairs.iter().map(|p| p.0.clone()).collect();
                let new: Vec<Gen> = pairs.iter().map(|p| p.1.clone()).collect();
                (build(&old, &o1), build(&new, &o2))
            })
    })
}

fn names(spec: &StackSpec) -> BTreeSet<String> {
    spec.resources.iter().map(|r| r.name.clone()).collect()
}

/// The cloud by logical name (urn `test/<name>`), without creation order.
fn cloud_by_name(w: &World) -> BTreeMap<String, (String, Map)> {
    w.cloud
        .resources()
        .into_values()
        .map(|r: CloudResource| {
            let name = r.urn.trim_start_matches("test/").to_string();
            (name, (r.id, r.inputs))
        })
        .collect()
}

fn index(events: &[ExecEvent], want_started: bool, name: &str) -> Option<usize> {
    events.iter().position(|e| match e {
        ExecEvent::Started { name: n, .. } if want_started => n == name,
        ExecEvent::Finished { name: n, .. } if !want_started => n == name,
        _ => false,
    })
}

async fn check(
    old: &StackSpec,
    new: &StackSpec,
    parallel: usize,
    delay: bool,
) -> Result<StackState, TestCaseError> {
    let w = if delay {
        World::with_delay(Duration::from_millis(1))
    } else {
        World::new()
    };
    // Up from nothing.
    let (_, r1, _) = w.up(old, &StackState::default(), parallel).await;
    prop_assert!(r1.ok(), "first apply failed: {:?}", r1);
    prop_assert_eq!(
        r1.state.resources.keys().cloned().collect::<BTreeSet<_>>(),
        names(old)
    );
    let p_same = w.plan(old, &r1.state);
    prop_assert!(
        !p_same.has_changes(),
        "diff(old, old) not empty: {:?}",
        p_same
    );

    // old -> new.
    let (p, r2, events) = w.up(new, &r1.state, parallel).await;
    prop_assert!(r2.ok(), "second apply failed: {:?}", r2);
    prop_assert_eq!(
        r2.state.resources.keys().cloned().collect::<BTreeSet<_>>(),
        names(new)
    );
    let p_after = w.plan(new, &r2.state);
    prop_assert!(
        !p_after.has_changes(),
        "diff(new, applied) not empty: {:?}",
        p_after
    );

    // The cloud holds exactly the resources of `new`, as recorded.
    let cloud = cloud_by_name(&w);
    prop_assert_eq!(cloud.keys().cloned().collect::<BTreeSet<_>>(), names(new));
    for (name, rs) in &r2.state.resources {
        let (id, inputs) = &cloud[name];
        prop_assert_eq!(id, &rs.id);
        let revealed: Map = rs
            .inputs
            .iter()
            .map(|(k, v)| (k.clone(), v.reveal()))
            .collect();
        prop_assert_eq!(inputs, &revealed);
        // Secret inputs are recorded wrapped.
        if let Some(pw) = rs.inputs.get("password") {
            prop_assert!(pw.is_secret());
            prop_assert!(rs.outputs["password"].is_secret());
        }
    }
    let debug = format!("{:?}", r2);
    prop_assert!(!debug.contains("hunter"));

    // Every apply-phase step starts after its dependencies' steps finished.
    let graph = DependencyGraph::build(new).unwrap();
    for r in &new.resources {
        let Some(s) = index(&events, true, &r.name) else {
            continue;
        };
        for d in graph.dependencies(&r.name) {
            if let Some(f) = index(&events, false, d) {
                prop_assert!(
                    f < s,
                    "{} started before its dependency {} finished",
                    r.name,
                    d
                );
            }
        }
    }
    // Deletes run after the deletes of everything that depended on them.
    for step in p.steps.iter().filter(|s| s.action == Action::Delete) {
        let s = index(&events, true, &step.name).unwrap();
        for other in p.steps.iter().filter(|o| o.action == Action::Delete) {
            if other.dependencies.contains(&step.name) {
                let f = index(&events, false, &other.name).unwrap();
                prop_assert!(
                    f < s,
                    "{} deleted before its dependent {}",
                    step.name,
                    other.name
                );
            }
        }
    }
    Ok(r2.state)
}

/// 48 cases by default; `PROPTEST_CASES` runs more.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48)
}

/// Cloud ids minus recorded ids must be exactly the old copies that
/// pending delete intents still cover (nothing orphaned, nothing dangling).
fn check_cloud_matches(w: &World, state: &StackState) -> Result<(), TestCaseError> {
    let cloud: BTreeSet<String> = w.cloud.resources().into_keys().collect();
    let recorded: BTreeSet<String> = state.resources.values().map(|r| r.id.clone()).collect();
    prop_assert!(
        recorded.is_subset(&cloud),
        "state records resources the cloud lacks: {:?} vs {:?}",
        recorded,
        cloud
    );
    let pending: BTreeSet<String> = w
        .pending
        .lock()
        .unwrap()
        .iter()
        .filter(|i| i.operation == Operation::Delete)
        .filter_map(|i| i.id.clone())
        .collect();
    let extra: BTreeSet<String> = cloud.difference(&recorded).cloned().collect();
    prop_assert_eq!(extra, pending);
    Ok(())
}

async fn check_with_failure(
    old: &StackSpec,
    new: &StackSpec,
    victim: &str,
    op: Operation,
) -> Result<(), TestCaseError> {
    let w = World::with_delay(Duration::from_millis(1));
    let (_, r1, _) = w.up(old, &StackState::default(), 8).await;
    prop_assert!(r1.ok());
    w.fail(victim, op);
    let (_, r2, _) = w.up(new, &r1.state, 8).await;
    // Whatever failed, the recorded state matches the cloud.
    check_cloud_matches(&w, &r2.state)?;
    for (name, _) in &r2.failed {
        prop_assert_eq!(name.as_str(), victim);
    }
    w.clear_failures();
    let (_, state) = w.recover(&r2.state).await;
    prop_assert!(w.pending.lock().unwrap().is_empty());
    check_cloud_matches(&w, &state)?;
    // The next run converges.
    let (_, r3, _) = w.up(new, &state, 8).await;
    prop_assert!(r3.ok(), "retry failed: {:?}", r3);
    prop_assert_eq!(
        r3.state.resources.keys().cloned().collect::<BTreeSet<_>>(),
        names(new)
    );
    prop_assert_eq!(
        cloud_by_name(&w).keys().cloned().collect::<BTreeSet<_>>(),
        names(new)
    );
    prop_assert_eq!(w.cloud.len(), new.resources.len());
    let after = w.plan(new, &r3.state);
    prop_assert!(!after.has_changes(), "not converged: {:?}", after);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), .. ProptestConfig::default() })]

    #[test]
    fn failures_leave_consistent_state_and_retries_converge(
        (old, new) in stacks(),
        victim in 0usize..30,
        op in prop_oneof![Just(Operation::Create), Just(Operation::Update), Just(Operation::Delete)],
    ) {
        let rt = rt();
        rt.block_on(check_with_failure(&old, &new, &format!("r{victim}"), op))?;
    }

    #[test]
    fn apply_converges_and_respects_edges((old, new) in stacks()) {
        let rt = rt();
        let parallel = rt.block_on(check(&old, &new, 8, true))?;
        let serial = rt.block_on(check(&old, &new, 1, false))?;
        prop_assert_eq!(parallel, serial);
    }
}
