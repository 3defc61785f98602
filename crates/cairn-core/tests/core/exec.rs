use crate::common::*;
use cairn_core::exec::{apply, ExecEvent, ExecOptions};
use cairn_core::mem::DATA_TOKEN;
use cairn_core::plan::{plan_destroy, Action, PlanOptions};
use cairn_core::provider::Operation;
use cairn_core::state::{Intent, MemorySink, Outcome, StackState, StateSink, StateSinkError};
use cairn_core::value::Value;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn creates_records_and_sets_outputs() {
    let w = World::new();
    let mut spec = stack(vec![
        res("a", DATA_TOKEN, json!({"input": 6379})),
        res(
            "b",
            THING,
            json!({"name": "b", "input": "${a.output}", "refs": ["h:${a.id}"], "password": "pw"}),
        ),
    ]);
    spec.output("port", "${a.output}");
    spec.output("url", "redis://${b.id}");
    let (p, report, events) = w.up(&spec, &StackState::default(), 10).await;
    assert!(report.ok(), "{report:?}");
    assert_eq!(p.summary().create, 2);
    assert_eq!(report.succeeded, vec!["a", "b"]);
    let b = &report.state.resources["b"];
    assert_eq!(b.inputs["input"], Value::Int(6379));
    assert_eq!(
        b.inputs["refs"],
        Value::List(vec![Value::String("h:a-1".into())])
    );
    assert_eq!(b.inputs["size"], Value::Int(1));
    assert_eq!(b.dependencies, vec!["a"]);
    // The secret input is recorded wrapped, and so is its echo in the outputs.
    assert_eq!(b.inputs["password"], Value::secret("pw"));
    assert_eq!(b.outputs["password"], Value::secret("pw"));
    // The provider got it revealed.
    let cloud = w.cloud.get("b-1").unwrap();
    assert_eq!(cloud.inputs["password"], Value::String("pw".into()));
    assert_eq!(report.state.outputs["port"], Value::Int(6379));
    assert_eq!(
        report.state.outputs["url"],
        Value::String("redis://b-1".into())
    );
    assert!(!format!("{report:?}").contains("\"pw\""));
    // Started/Finished per resource, b after a.
    assert!(finished(&events, "a").unwrap() < started(&events, "b").unwrap());
    assert!(events.iter().any(
        |e| matches!(e, ExecEvent::Progress { name, status } if name == "a" && status == "creating")
    ));
    // Re-planning the applied stack finds nothing to do.
    let again = w.plan(&spec, &report.state);
    assert!(!again.has_changes(), "{again:?}");
}

#[tokio::test]
async fn intents_are_recorded_before_calls() {
    let w = World::new();
    let spec = stack(vec![res("a", DATA_TOKEN, json!({"input": 1}))]);
    let p = w.plan(&spec, &StackState::default());
    let sink = MemorySink::new(StackState::default());
    w.data.fail_create("a");
    let report = apply(
        &p,
        Some(&spec),
        &StackState::default(),
        &w.registry,
        &sink,
        &ExecOptions::new("s"),
    )
    .await;
    assert!(!report.ok());
    assert_eq!(report.failed[0].0, "a");
    assert!(report.failed[0].1.contains("InjectedFailure"));
    assert!(
        sink.pending().await.is_empty(),
        "a failed intent is finished"
    );
    assert!(report.state.resources.is_empty());
}

#[tokio::test]
async fn failure_skips_dependents_while_independent_work_finishes() {
    let w = World::new();
    let spec = stack(vec![
        res("a", DATA_TOKEN, json!({"input": 1})),
        res("b", DATA_TOKEN, json!({"input": "${a.output}"})),
        res("c", DATA_TOKEN, json!({"input": "${b.output}"})),
        res("x", DATA_TOKEN, json!({"input": 2})),
        res("y", DATA_TOKEN, json!({"input": "${x.output}"})),
    ]);
    w.data.fail_create("a");
    let (_, report, events) = w.up(&spec, &StackState::default(), 4).await;
    assert!(!report.ok());
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0, "a");
    let mut skipped = report.skipped.clone();
    skipped.sort();
    assert_eq!(skipped, vec!["b", "c"]);
    assert_eq!(report.succeeded, vec!["x", "y"]);
    let names: Vec<&String> = report.state.resources.keys().collect();
    assert_eq!(names, vec!["x", "y"]);
    assert!(events
        .iter()
        .any(|e| matches!(e, ExecEvent::Skipped { name, reason } if name == "c" && reason.contains("`a`"))));
    assert!(events.iter().any(
        |e| matches!(e, ExecEvent::Failed { name, action: Action::Create, .. } if name == "a")
    ));
    assert_eq!(w.data.calls(Operation::Create), 3);
    // The next run picks up where this one stopped.
    w.data.clear_failures();
    let (p2, report2, _) = w.up(&spec, &report.state, 4).await;
    assert_eq!(p2.summary().create, 3);
    assert!(report2.ok());
    assert_eq!(w.cloud.len(), 5);
}

/// a ← b: replacing a (name is replace-on-change) and updating b.
fn replace_stacks(dbr: bool) -> (cairn_core::StackSpec, cairn_core::StackSpec) {
    let mk = |name: &str| {
        let mut a = res("a", THING, json!({ "name": name }));
        a.options.delete_before_replace = dbr;
        stack(vec![
            a,
            res("b", THING, json!({"name": "b", "input": "${a.id}"})),
        ])
    };
    (mk("one"), mk("two"))
}

#[tokio::test]
async fn replace_creates_before_destroying_and_updates_dependents_in_between() {
    let w = World::new();
    let (v1, v2) = replace_stacks(false);
    let (_, r1, _) = w.up(&v1, &StackState::default(), 10).await;
    assert!(r1.ok());
    let (p, r2, _) = w.up(&v2, &r1.state, 10).await;
    assert!(r2.ok(), "{r2:?}");
    assert_eq!(p.step("a").unwrap().action, Action::Replace);
    assert_eq!(p.step("b").unwrap().action, Action::Update);
    let log = w.cloud.log();
    let at = |entry: &str| {
        log.iter()
            .position(|l| l == entry)
            .unwrap_or_else(|| panic!("{entry} not in {log:?}"))
    };
    assert!(at("create a a-2") < at("update b b-1"));
    assert!(at("update b b-1") < at("delete a a-1"));
    assert_eq!(r2.state.resources["a"].id, "a-2");
    assert_eq!(
        r2.state.resources["b"].inputs["input"],
        Value::String("a-2".into())
    );
    assert_eq!(w.cloud.len(), 2);
    assert!(!w.plan(&v2, &r2.state).has_changes());
}

#[tokio::test]
async fn delete_before_replace_deletes_first() {
    let w = World::new();
    let (v1, v2) = replace_stacks(true);
    let (_, r1, _) = w.up(&v1, &StackState::default(), 10).await;
    let (p, r2, _) = w.up(&v2, &r1.state, 10).await;
    assert!(r2.ok(), "{r2:?}");
    assert!(p.step("a").unwrap().delete_before_replace);
    let log = w.cloud.log();
    let at = |entry: &str| log.iter().position(|l| l == entry).unwrap();
    assert!(at("delete a a-1") < at("create a a-2"));
    assert!(at("create a a-2") < at("update b b-1"));
    assert_eq!(w.cloud.len(), 2);
}

#[tokio::test]
async fn fixed_name_types_replace_delete_first() {
    let w = World::new();
    let v1 = stack(vec![res("f", FIXED, json!({"name": "one"}))]);
    let v2 = stack(vec![res("f", FIXED, json!({"name": "two"}))]);
    let (_, r1, _) = w.up(&v1, &StackState::default(), 10).await;
    let (_, r2, _) = w.up(&v2, &r1.state, 10).await;
    assert!(r2.ok());
    assert_eq!(
        w.cloud.log(),
        vec!["create f f-1", "delete f f-1", "create f f-2"]
    );
    assert_eq!(w.fixed.calls(Operation::Delete), 1);
}

#[tokio::test]
async fn failed_replacement_keeps_the_old_copy() {
    let w = World::new();
    let (v1, v2) = replace_stacks(false);
    let (_, r1, _) = w.up(&v1, &StackState::default(), 10).await;
    w.thing.fail_create("a");
    let (_, r2, _) = w.up(&v2, &r1.state, 10).await;
    assert!(!r2.ok());
    assert_eq!(r2.skipped, vec!["b"]);
    assert_eq!(r2.state.resources["a"].id, "a-1");
    assert!(w.cloud.get("a-1").is_some());
    assert_eq!(w.thing.calls(Operation::Delete), 0);
}

#[tokio::test]
async fn deletes_run_after_their_dependents() {
    let w = World::new();
    let v1 = stack(vec![
        res("a", DATA_TOKEN, json!({"input": 1})),
        res("b", DATA_TOKEN, json!({"input": "${a.output}"})),
        res("c", DATA_TOKEN, json!({"input": "${b.output}"})),
    ]);
    let (_, r1, _) = w.up(&v1, &StackState::default(), 10).await;
    let p = plan_destroy(&r1.state, &PlanOptions::default());
    let (r2, events) = w.apply(&p, None, &r1.state, 10).await;
    assert!(r2.ok());
    assert!(r2.state.resources.is_empty());
    assert!(w.cloud.is_empty());
    assert!(finished(&events, "c").unwrap() < started(&events, "b").unwrap());
    assert!(finished(&events, "b").unwrap() < started(&events, "a").unwrap());
}

#[tokio::test]
async fn retain_on_delete_forgets_without_deleting() {
    let w = World::new();
    let mut a = res("a", DATA_TOKEN, json!({"input": 1}));
    a.options.retain_on_delete = true;
    let (_, r1, _) = w.up(&stack(vec![a]), &StackState::default(), 10).await;
    assert!(r1.state.resources["a"].retain_on_delete);
    let (p, r2, _) = w.up(&stack(vec![]), &r1.state, 10).await;
    assert_eq!(p.step("a").unwrap().action, Action::Delete);
    assert!(r2.ok());
    assert!(r2.state.resources.is_empty());
    assert_eq!(w.data.calls(Operation::Delete), 0);
    assert_eq!(w.cloud.len(), 1);
}

#[tokio::test]
async fn retain_on_delete_keeps_the_old_copy_when_replacing_as_pulumi_does() {
    for token in [THING, FIXED] {
        let w = World::new();
        let mut a = res("a", token, json!({"name": "one"}));
        a.options.retain_on_delete = true;
        let (_, r1, _) = w
            .up(&stack(vec![a.clone()]), &StackState::default(), 10)
            .await;
        let old_id = r1.state.resources["a"].id.clone();
        a.properties = map(json!({"name": "two"}));
        let (p, r2, _) = w.up(&stack(vec![a]), &r1.state, 10).await;
        assert_eq!(p.step("a").unwrap().action, Action::Replace, "{token}");
        assert!(r2.ok(), "{token}");
        let provider = if token == THING { &w.thing } else { &w.fixed };
        assert_eq!(
            provider.calls(Operation::Delete),
            0,
            "{token}: the old copy was deleted"
        );
        assert!(
            w.cloud.get(&old_id).is_some(),
            "{token}: the old copy is gone"
        );
        assert_ne!(r2.state.resources["a"].id, old_id, "{token}");
        assert_eq!(w.cloud.len(), 2, "{token}");
    }
}

#[tokio::test]
async fn import_reads_and_protects() {
    let w = World::new();
    let id = w.cloud.insert(
        DATA_TOKEN,
        "legacy",
        "elsewhere/legacy",
        map(json!({"input": 7})),
    );
    let mut r = res("legacy", DATA_TOKEN, json!({"input": 7}));
    r.options.import = Some(id.clone());
    let spec = stack(vec![r]);
    let (p, report, _) = w.up(&spec, &StackState::default(), 10).await;
    assert_eq!(p.step("legacy").unwrap().action, Action::Import);
    assert!(report.ok(), "{report:?}");
    let s = &report.state.resources["legacy"];
    assert!(s.imported && s.protect);
    assert_eq!(s.id, id);
    assert_eq!(w.data.calls(Operation::Create), 0);
    // Nothing to do afterwards, and it stays protected.
    let again = w.plan(&spec, &report.state);
    assert!(!again.has_changes(), "{again:?}");
    // Importing something that does not exist fails.
    let mut r = res("ghost", DATA_TOKEN, json!({"input": 1}));
    r.options.import = Some("ghost-9".into());
    let (_, report, _) = w.up(&stack(vec![r]), &StackState::default(), 10).await;
    assert!(report.failed[0].1.contains("does not exist"));
}

#[tokio::test]
async fn protect_toggle_updates_state_without_provider_calls() {
    let w = World::new();
    let spec = stack(vec![res("a", DATA_TOKEN, json!({"input": 1}))]);
    let (_, r1, _) = w.up(&spec, &StackState::default(), 10).await;
    let mut protected = spec.clone();
    protected.resources[0].options.protect = true;
    let (p, r2, _) = w.up(&protected, &r1.state, 10).await;
    assert_eq!(p.summary().update, 1);
    assert!(r2.state.resources["a"].protect);
    assert_eq!(w.data.calls(Operation::Update), 0);
    // Removing a protected resource is refused at plan time.
    let plan = cairn_core::plan::plan(
        &stack(vec![]),
        &r2.state,
        &w.registry,
        &PlanOptions::default(),
    );
    assert!(plan.is_err());
}

#[tokio::test]
async fn a_depends_on_change_alone_is_recorded_and_orders_the_destroy() {
    // v1: `a` and `b` are independent. v2 adds `b.dependsOn: [a]` and
    // nothing else: the plan must say so, state must record it without a
    // provider call, and destroy must then delete `b` before `a`.
    let w = World::new();
    let v1 = stack(vec![
        res("a", DATA_TOKEN, json!({"input": 1})),
        res("b", DATA_TOKEN, json!({"input": 2})),
    ]);
    let (_, r1, _) = w.up(&v1, &StackState::default(), 10).await;
    let mut v2 = v1.clone();
    v2.resources[1].options.depends_on = vec!["a".into()];
    let (p, r2, _) = w.up(&v2, &r1.state, 10).await;
    let step = p.step("b").unwrap();
    assert_eq!(step.action, Action::Update, "{p:?}");
    assert!(step.changes.is_empty(), "no property changed: {p:?}");
    assert_eq!(p.step("a").unwrap().action, Action::Same);
    assert!(r2.ok(), "{r2:?}");
    assert_eq!(r2.state.resources["b"].dependencies, vec!["a".to_string()]);
    assert_eq!(w.data.calls(Operation::Update), 0, "the engine's own write");
    assert!(!w.plan(&v2, &r2.state).has_changes(), "converged");

    let d = plan_destroy(&r2.state, &PlanOptions::default());
    let (r3, events) = w.apply(&d, None, &r2.state, 10).await;
    assert!(r3.ok(), "{r3:?}");
    assert!(
        finished(&events, "b").unwrap() < started(&events, "a").unwrap(),
        "b depends on a, so b is deleted first: {events:?}"
    );
}

#[tokio::test]
async fn update_that_resolves_to_no_change_is_skipped() {
    // b references a's `output`; a's in-place update keeps outputs not named
    // like a changed input, so b is planned unchanged and never called.
    let w = World::new();
    let v1 = stack(vec![
        res("a", THING, json!({"name": "a", "input": 1, "size": 1})),
        res("b", THING, json!({"name": "b", "input": "${a.output}"})),
    ]);
    let (_, r1, _) = w.up(&v1, &StackState::default(), 10).await;
    let v2 = stack(vec![
        res("a", THING, json!({"name": "a", "input": 1, "size": 2})),
        res("b", THING, json!({"name": "b", "input": "${a.output}"})),
    ]);
    let (p, r2, _) = w.up(&v2, &r1.state, 10).await;
    assert_eq!(p.step("b").unwrap().action, Action::Same);
    assert!(r2.ok());
    assert_eq!(w.thing.calls(Operation::Update), 1, "only a is updated");
}

#[tokio::test]
async fn parallelism_is_bounded() {
    let w = World::with_delay(Duration::from_millis(5));
    let resources = (0..12)
        .map(|i| res(&format!("r{i}"), DATA_TOKEN, json!({"input": i})))
        .collect();
    let spec = stack(resources);
    for parallel in [1usize, 3] {
        let (_, report, events) = w.up(&spec, &StackState::default(), parallel).await;
        assert!(report.ok());
        let mut inflight = 0i32;
        let mut max = 0;
        for e in &events {
            match e {
                ExecEvent::Started { .. } => inflight += 1,
                ExecEvent::Finished { .. } | ExecEvent::Failed { .. } => inflight -= 1,
                _ => {}
            }
            max = max.max(inflight);
        }
        assert_eq!(max, parallel as i32, "parallel {parallel}");
    }
}

#[test]
fn apply_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let w = World::new();
    let spec = stack(vec![]);
    let p = w.plan(&spec, &StackState::default());
    let sink = MemorySink::new(StackState::default());
    let opts = ExecOptions::default();
    let state = StackState::default();
    let fut = apply(&p, Some(&spec), &state, &w.registry, &sink, &opts);
    assert_send(&fut);
}

#[tokio::test]
async fn five_thousand_creates_apply_without_quadratic_blowup() {
    let w = World::new();
    let resources = (0..5_000)
        .map(|i| {
            let input = if i % 10 == 0 {
                json!(i)
            } else {
                json!(format!("${{r{}.output}}", i - 1))
            };
            res(&format!("r{i}"), DATA_TOKEN, json!({ "input": input }))
        })
        .collect();
    let spec = stack(resources);
    // Speed is a benchmark target (`cargo xtask bench`), not asserted here.
    let (p, report, _) = w.up(&spec, &StackState::default(), 10).await;
    assert!(report.ok());
    assert_eq!(p.summary().create, 5_000);
    assert_eq!(report.state.resources.len(), 5_000);
    assert_eq!(report.state.resources["r9"].inputs["input"], Value::Int(0));
}

#[tokio::test]
async fn undeletable_replaced_copy_stays_pending_until_the_next_run() {
    let w = World::new();
    let (v1, v2) = replace_stacks(false);
    let (_, r1, _) = w.up(&v1, &StackState::default(), 10).await;
    w.thing.fail_delete("a");
    let (_, r2, _) = w.up(&v2, &r1.state, 10).await;
    assert!(!r2.ok());
    assert_eq!(r2.failed.len(), 1);
    assert!(r2.failed[0].1.contains("`a-1`"), "{:?}", r2.failed);
    // The new copy is recorded and b moved to it; the old one still exists.
    assert_eq!(r2.state.resources["a"].id, "a-2");
    assert_eq!(
        r2.state.resources["b"].inputs["input"],
        Value::String("a-2".into())
    );
    assert!(w.cloud.get("a-1").is_some());
    let pending = w.pending.lock().unwrap().clone();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].operation, Operation::Delete);
    assert_eq!(pending[0].id.as_deref(), Some("a-1"));
    // Still failing: reconcile leaves it pending and does not error.
    let (report, state) = w.recover(&r2.state).await;
    assert_eq!(report.left.len(), 1);
    assert_eq!(w.pending.lock().unwrap().len(), 1);
    // Fixed: the next reconcile deletes it and keeps the new copy.
    w.clear_failures();
    let (report, state) = w.recover(&state).await;
    assert_eq!(report.removed.len(), 1, "{report:?}");
    assert_eq!(state.resources["a"].id, "a-2");
    assert_eq!(
        w.cloud.resources().keys().collect::<Vec<_>>(),
        vec!["a-2", "b-1"]
    );
    assert!(!w.plan(&v2, &state).has_changes());
}

#[tokio::test]
async fn skipped_replaced_copy_is_deleted_by_the_next_run() {
    let w = World::new();
    let (v1, v2) = replace_stacks(false);
    let (_, r1, _) = w.up(&v1, &StackState::default(), 10).await;
    w.thing.fail_update("b");
    let (_, r2, events) = w.up(&v2, &r1.state, 10).await;
    assert_eq!(r2.failed[0].0, "b");
    assert!(events.iter().any(
        |e| matches!(e, ExecEvent::Skipped { name, reason } if name == "a" && reason.contains("`a-1`"))
    ));
    assert!(w.cloud.get("a-1").is_some(), "b still uses the old copy");
    w.clear_failures();
    let (_, state) = w.recover(&r2.state).await;
    let (_, r3, _) = w.up(&v2, &state, 10).await;
    assert!(r3.ok());
    assert_eq!(
        w.cloud.resources().keys().collect::<Vec<_>>(),
        vec!["a-2", "b-1"]
    );
}

/// Records every intent; otherwise a `MemorySink`.
struct RecordingSink {
    inner: MemorySink,
    intents: std::sync::Mutex<Vec<Intent>>,
}

#[async_trait::async_trait]
impl StateSink for RecordingSink {
    async fn begin(&self, intent: &Intent) -> Result<(), StateSinkError> {
        self.intents.lock().unwrap().push(intent.clone());
        self.inner.begin(intent).await
    }
    async fn finish(
        &self,
        op_id: u64,
        resource: &str,
        outcome: &Outcome,
    ) -> Result<(), StateSinkError> {
        self.inner.finish(op_id, resource, outcome).await
    }
    async fn set_outputs(&self, outputs: &cairn_core::Map) -> Result<(), StateSinkError> {
        self.inner.set_outputs(outputs).await
    }
}

#[tokio::test]
async fn intents_carry_wrapped_secrets_and_calls_get_timeouts() {
    let w = World::new();
    let mut t = res("t", THING, json!({"name": "t", "password": "hunter2"}));
    t.options.custom_timeouts.create = Some(1800);
    let mut spec = stack(vec![
        t,
        res("u", DATA_TOKEN, json!({"input": "${t.password}"})),
    ]);
    spec.output("pw", "${t.password}");
    let p = w.plan(&spec, &StackState::default());
    let sink = RecordingSink {
        inner: MemorySink::new(StackState::default()),
        intents: Default::default(),
    };
    let report = apply(
        &p,
        Some(&spec),
        &StackState::default(),
        &w.registry,
        &sink,
        &ExecOptions::new("test"),
    )
    .await;
    assert!(report.ok(), "{report:?}");
    let intents = sink.intents.lock().unwrap().clone();
    assert_eq!(intents.len(), 2);
    assert_eq!(intents[0].inputs["password"], Value::secret("hunter2"));
    assert!(intents[0].external);
    // A reference to a secret output stays secret in the dependent's inputs.
    assert_eq!(intents[1].inputs["input"], Value::secret("hunter2"));
    assert_eq!(
        report.state.resources["u"].inputs["input"],
        Value::secret("hunter2")
    );
    assert_eq!(report.state.outputs["pw"], Value::secret("hunter2"));
    // The provider saw plaintext, with the resource's custom timeouts.
    assert_eq!(w.data.timeouts_seen("u").unwrap().create, None);
    assert_eq!(w.thing.timeouts_seen("t").unwrap().create, Some(1800));
    assert_eq!(
        w.cloud.get("u-1").unwrap().inputs["input"],
        Value::String("hunter2".into())
    );
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_stays_pending_and_the_next_run_adopts_it() {
    let w = World::new();
    let spec = stack(vec![res("a", DATA_TOKEN, json!({"input": 1}))]);
    let p = w.plan(&spec, &StackState::default());
    let sink = MemorySink::new(StackState::default());
    w.data.lose_create_answer("a");
    let report = apply(
        &p,
        Some(&spec),
        &StackState::default(),
        &w.registry,
        &sink,
        &ExecOptions::new("s"),
    )
    .await;
    assert!(!report.ok());
    assert!(report.failed[0].1.contains("may have taken effect"));
    let pending = sink.pending().await;
    assert_eq!(pending.len(), 1, "the create's intent is kept");
    assert_eq!(w.data.cloud().resources().len(), 1, "it did take effect");

    w.data.clear_failures();
    let adopted =
        cairn_core::reconcile::reconcile(&pending, &report.state, &w.registry, &sink, "s")
            .await
            .unwrap();
    assert_eq!(adopted.adopted, vec!["a".to_string()]);
    let state = sink.snapshot().await;
    let again = w.plan(&spec, &state);
    assert!(!again.has_changes(), "adopted, so nothing to create");
    assert_eq!(w.data.cloud().resources().len(), 1, "no duplicate");
    assert_eq!(w.data.calls(Operation::Create), 1);
}

/// The planner assumes an in-place update keeps outputs not named like a
/// changed input; when that guess is wrong, a dependent planned `Same` is
/// updated in the same run, so the run converges (not the next one).
#[tokio::test]
async fn a_dependent_planned_same_is_updated_when_its_reference_changed_at_apply() {
    let w = World::new();
    let v1 = stack(vec![
        res("a", DATA_TOKEN, json!({"input": 1})),
        res("b", DATA_TOKEN, json!({"input": "${a.output}"})),
    ]);
    let (_, r1, _) = w.up(&v1, &StackState::default(), 4).await;
    assert!(r1.ok());
    let v2 = stack(vec![
        res("a", DATA_TOKEN, json!({"input": 2})),
        res("b", DATA_TOKEN, json!({"input": "${a.output}"})),
    ]);
    let p = w.plan(&v2, &r1.state);
    let b = p.steps.iter().find(|s| s.name == "b").unwrap();
    assert_eq!(
        b.action,
        Action::Same,
        "the planner's guess: a's output stays"
    );
    let (_, r2, events) = w.up(&v2, &r1.state, 4).await;
    assert!(r2.ok(), "{r2:?}");
    assert!(events
        .iter()
        .any(|e| matches!(e, ExecEvent::Started { name, action: Action::Update } if name == "b")));
    assert!(r2.succeeded.contains(&"b".to_string()));
    assert!(
        !w.plan(&v2, &r2.state).has_changes(),
        "converged in one run"
    );
}
