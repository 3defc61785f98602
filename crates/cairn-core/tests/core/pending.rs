//! The provider hooks `pending_update` (a step owed with no input changed)
//! and `check_change` (rules on a change), through the planner and executor.

use crate::common::*;
use async_trait::async_trait;
use cairn_core::exec::{apply, ExecOptions};
use cairn_core::plan::{plan_with, Action, PlanOptions, PENDING_UPDATE_CODE};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, PendingOptions, PendingUpdate, ProviderError,
    ResourceProvider,
};
use cairn_core::schema::ResourceSchema;
use cairn_core::state::{MemorySink, ResourceState, StackState};
use cairn_core::value::{Map, PropertyPath};
use cairn_core::Registry;
use serde_json::json;
use std::sync::{Arc, Mutex};

/// A `test:Thing` whose output `startedAt` starts a 100 s overlap, and
/// whose `input` may not be removed.
struct Rotating {
    schema: ResourceSchema,
    updates: Mutex<Vec<Option<String>>>,
}

#[async_trait]
impl ResourceProvider for Rotating {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }
    fn check_change(&self, old: &Map, new: &Map) -> Vec<CheckFailure> {
        if old.contains_key("input") && !new.contains_key("input") {
            vec![CheckFailure::error(
                "test::no-removal",
                PropertyPath::key("input"),
                "input cannot be removed",
            )
            .with_help("keep it")]
        } else {
            Vec::new()
        }
    }
    fn pending_update(
        &self,
        _old: &Map,
        _new: &Map,
        outputs: &Map,
        opts: &PendingOptions,
    ) -> Option<PendingUpdate> {
        let started = outputs.get("startedAt")?.as_i64()? as u64;
        let due = opts.finish_now || opts.now_unix >= started + 100;
        Some(PendingUpdate {
            due,
            reason: format!("finish what started at {started}"),
        })
    }
    async fn create(&self, _: &CallContext, _: &Map) -> Result<Created, ProviderError> {
        Err(ProviderError::invalid("a", "not in this test"))
    }
    async fn read(
        &self,
        _: &CallContext,
        _: &str,
        _: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        Ok(None)
    }
    async fn update(
        &self,
        ctx: &CallContext,
        _id: &str,
        _old: &Map,
        _new: &Map,
        old_outputs: &Map,
    ) -> Result<Map, ProviderError> {
        self.updates
            .lock()
            .unwrap()
            .push(ctx.pending_update.clone());
        let mut out = old_outputs.clone();
        out.remove("startedAt");
        Ok(out)
    }
    async fn delete(
        &self,
        _: &CallContext,
        _: &str,
        _: &Map,
        _: &Map,
    ) -> Result<(), ProviderError> {
        Ok(())
    }
}

fn world() -> (Registry, Arc<Rotating>, StackState) {
    let p = Arc::new(Rotating {
        schema: thing_schema(),
        updates: Mutex::default(),
    });
    let mut reg = Registry::new();
    reg.register(p.clone());
    let a = ResourceState {
        name: "a".into(),
        type_token: THING.into(),
        id: "a-1".into(),
        inputs: map(json!({"name": "a", "size": 1, "input": "x"})),
        outputs: map(json!({"id": "a-1", "startedAt": 1000})),
        dependencies: vec![],
        protect: false,
        retain_on_delete: false,
        imported: false,
        ..Default::default()
    };
    let state = StackState {
        resources: [("a".to_string(), a)].into(),
        outputs: Default::default(),
    };
    (reg, p, state)
}

fn at(now_unix: u64, finish_now: bool) -> PendingOptions {
    PendingOptions {
        now_unix,
        finish_now,
    }
}

#[test]
fn a_pending_step_is_a_note_until_due_then_an_in_place_update() {
    let (reg, p, state) = world();
    let spec = stack(vec![res("a", THING, json!({"name": "a", "input": "x"}))]);
    let opts = PlanOptions::default();
    let early = plan_with(&spec, &state, &reg, &opts, &at(1050, false)).expect("plan");
    assert_eq!(early.steps[0].action, Action::Same);
    assert_eq!(early.steps[0].pending_update, None);
    assert!(
        early
            .warnings
            .iter()
            .any(|w| w.code == PENDING_UPDATE_CODE && w.message.contains("started at 1000")),
        "{:?}",
        early.warnings
    );
    assert!(!early.has_changes());

    for (now, finish) in [(1100, false), (1050, true)] {
        let due = plan_with(&spec, &state, &reg, &opts, &at(now, finish)).expect("plan");
        let step = &due.steps[0];
        assert_eq!(step.action, Action::Update, "now {now}, finish {finish}");
        assert!(step.changes.is_empty());
        assert_eq!(
            step.pending_update.as_deref(),
            Some("finish what started at 1000")
        );
        assert_eq!(
            due.to_json()["resource_changes"][0]["pending_update"],
            "finish what started at 1000"
        );
    }

    // The executor calls the provider (no input changed) and tells it why.
    let due = plan_with(&spec, &state, &reg, &opts, &at(1100, false)).unwrap();
    let sink = MemorySink::new(state.clone());
    let report = rt().block_on(apply(
        &due,
        Some(&spec),
        &state,
        &reg,
        &sink,
        &ExecOptions::new("test"),
    ));
    assert!(report.ok(), "{:?}", report.failed);
    assert_eq!(
        *p.updates.lock().unwrap(),
        vec![Some("finish what started at 1000".to_string())]
    );
    assert!(!report.state.resources["a"]
        .outputs
        .contains_key("startedAt"));
}

#[test]
fn a_change_the_provider_refuses_fails_the_plan() {
    let (reg, _, state) = world();
    let spec = stack(vec![res("a", THING, json!({"name": "a"}))]);
    let err = plan_with(&spec, &state, &reg, &PlanOptions::default(), &at(0, false)).unwrap_err();
    let p = err.errors().next().expect("an error");
    assert_eq!(p.code, "test::no-removal");
    assert!(
        p.message.contains("input cannot be removed"),
        "{}",
        p.message
    );
    assert_eq!(p.help.as_deref(), Some("keep it"));
}
