use crate::common::*;
use cairn_core::exec::{apply, ExecOptions};
use cairn_core::mem::DATA_TOKEN;
use cairn_core::plan::Action;
use cairn_core::provider::{CallContext, Operation, ProviderError, ResourceProvider};
use cairn_core::reconcile::reconcile;
use cairn_core::state::{Intent, MemorySink, StackState, StateSink};
use cairn_core::value::Map;
use serde_json::json;
use std::sync::Arc;

fn intent(
    op_id: u64,
    name: &str,
    token: &str,
    operation: Operation,
    id: Option<&str>,
    inputs: Map,
) -> Intent {
    Intent {
        op_id,
        resource: name.into(),
        type_token: token.into(),
        operation,
        id: id.map(str::to_string),
        inputs,
        dependencies: vec![],
        external: true,
        create_token: None,
    }
}

/// A crash after the provider's create returned but before the outcome was
/// recorded: the intent is pending and the resource exists in the cloud.
#[tokio::test]
async fn interrupted_create_is_adopted_exactly_once() {
    let w = World::new();
    let spec = stack(vec![res("a", DATA_TOKEN, json!({"input": 1}))]);
    let inputs = map(json!({"input": 1}));
    let sink = MemorySink::new(StackState::default());
    sink.begin(&intent(
        1,
        "a",
        DATA_TOKEN,
        Operation::Create,
        None,
        inputs.clone(),
    ))
    .await
    .unwrap();
    w.data
        .create(&CallContext::new("test", "a"), &inputs)
        .await
        .unwrap();
    // ... crash. Next run:
    let pending = sink.pending().await;
    assert_eq!(pending.len(), 1);
    let report = reconcile(&pending, &StackState::default(), &w.registry, &sink, "test")
        .await
        .unwrap();
    assert_eq!(report.adopted, vec!["a"]);
    assert!(sink.pending().await.is_empty());
    let state = sink.snapshot().await;
    assert_eq!(state.resources["a"].id, "a-1");
    assert_eq!(
        state.resources["a"].outputs["output"],
        cairn_core::Value::Int(1)
    );
    // The plan sees it as existing: no duplicate create.
    let (p, r, _) = w.up(&spec, &state, 10).await;
    assert_eq!(p.step("a").unwrap().action, Action::Same);
    assert!(r.ok());
    assert_eq!(w.data.calls(Operation::Create), 1);
    assert_eq!(w.cloud.len(), 1);
    // Reconciling again finds nothing pending.
    let again = reconcile(&sink.pending().await, &state, &w.registry, &sink, "test")
        .await
        .unwrap();
    assert!(again.is_empty());
}

#[tokio::test]
async fn create_that_never_started_is_closed_and_redone() {
    let w = World::new();
    let spec = stack(vec![res("a", DATA_TOKEN, json!({"input": 1}))]);
    let sink = MemorySink::new(StackState::default());
    sink.begin(&intent(
        1,
        "a",
        DATA_TOKEN,
        Operation::Create,
        None,
        map(json!({"input": 1})),
    ))
    .await
    .unwrap();
    let report = reconcile(
        &sink.pending().await,
        &StackState::default(),
        &w.registry,
        &sink,
        "test",
    )
    .await
    .unwrap();
    assert_eq!(report.left, vec!["a"]);
    assert!(sink.pending().await.is_empty());
    let state = sink.snapshot().await;
    assert!(state.resources.is_empty());
    let (p, r, _) = w.up(&spec, &state, 10).await;
    assert_eq!(p.step("a").unwrap().action, Action::Create);
    assert!(r.ok());
    assert_eq!(w.cloud.len(), 1);
}

#[tokio::test]
async fn interrupted_update_and_delete() {
    let w = World::new();
    let v1 = stack(vec![
        res("u", DATA_TOKEN, json!({"input": 1})),
        res("v", DATA_TOKEN, json!({"input": 1})),
        res("d", DATA_TOKEN, json!({"input": 1})),
        res("k", DATA_TOKEN, json!({"input": 1})),
    ]);
    let (_, r1, _) = w.up(&v1, &StackState::default(), 10).await;
    let sink = MemorySink::new(r1.state.clone());
    let ctx = |n: &str| CallContext::new("test", n);
    // u: the update went through. v: it did not.
    sink.begin(&intent(
        1,
        "u",
        DATA_TOKEN,
        Operation::Update,
        Some("u-1"),
        map(json!({"input": 2})),
    ))
    .await
    .unwrap();
    w.data
        .update(
            &ctx("u"),
            "u-1",
            &Map::new(),
            &map(json!({"input": 2})),
            &Map::new(),
        )
        .await
        .unwrap();
    sink.begin(&intent(
        2,
        "v",
        DATA_TOKEN,
        Operation::Update,
        Some("v-1"),
        map(json!({"input": 2})),
    ))
    .await
    .unwrap();
    // d: the delete went through. k: it did not.
    sink.begin(&intent(
        3,
        "d",
        DATA_TOKEN,
        Operation::Delete,
        Some("d-1"),
        Map::new(),
    ))
    .await
    .unwrap();
    w.data
        .delete(&ctx("d"), "d-1", &Map::new(), &Map::new())
        .await
        .unwrap();
    sink.begin(&intent(
        4,
        "k",
        DATA_TOKEN,
        Operation::Delete,
        Some("k-1"),
        Map::new(),
    ))
    .await
    .unwrap();
    let report = reconcile(&sink.pending().await, &r1.state, &w.registry, &sink, "test")
        .await
        .unwrap();
    assert_eq!(report.refreshed, vec!["u", "v"]);
    assert_eq!(report.removed, vec!["d"]);
    assert_eq!(report.left, vec!["k"]);
    let state = sink.snapshot().await;
    assert_eq!(state.resources["u"].inputs, map(json!({"input": 2})));
    assert_eq!(state.resources["v"].inputs, map(json!({"input": 1})));
    assert!(!state.resources.contains_key("d"));
    assert!(state.resources.contains_key("k"));
    assert!(sink.pending().await.is_empty());
}

/// A crash in the middle of a create-before-destroy replace: the old copy's
/// delete intent and the new copy's create intent are both pending.
#[tokio::test]
async fn interrupted_replace_neither_duplicates_nor_orphans() {
    for created in [true, false] {
        let w = World::new();
        let v1 = stack(vec![res("a", THING, json!({"name": "one"}))]);
        let (_, r1, _) = w.up(&v1, &StackState::default(), 10).await;
        let old = r1.state.resources["a"].clone();
        let new_inputs = map(json!({"name": "two", "size": 1}));
        let sink = MemorySink::new(r1.state.clone());
        sink.begin(&intent(
            1,
            "a",
            THING,
            Operation::Delete,
            Some(&old.id),
            old.inputs.clone(),
        ))
        .await
        .unwrap();
        sink.begin(&intent(
            2,
            "a",
            THING,
            Operation::Create,
            None,
            new_inputs.clone(),
        ))
        .await
        .unwrap();
        if created {
            w.thing
                .create(&CallContext::new("test", "a"), &new_inputs)
                .await
                .unwrap();
        }
        let report = reconcile(&sink.pending().await, &r1.state, &w.registry, &sink, "test")
            .await
            .unwrap();
        let state = sink.snapshot().await;
        assert!(sink.pending().await.is_empty());
        if created {
            assert_eq!(report.adopted, vec!["a"]);
            assert_eq!(report.removed.len(), 1, "{report:?}");
            assert_eq!(state.resources["a"].id, "a-2");
            assert_eq!(w.cloud.resources().keys().collect::<Vec<_>>(), vec!["a-2"]);
        } else {
            assert_eq!(report.left, vec!["a", "a"]);
            assert_eq!(state.resources["a"].id, "a-1");
            assert_eq!(w.cloud.resources().keys().collect::<Vec<_>>(), vec!["a-1"]);
        }
        // Either way the next plan converges without leftovers.
        let v2 = stack(vec![res("a", THING, json!({"name": "two"}))]);
        let (_, r2, _) = w.up(&v2, &state, 10).await;
        assert!(r2.ok());
        assert_eq!(w.cloud.len(), 1);
        assert!(!w.plan(&v2, &r2.state).has_changes());
    }
}

#[tokio::test]
async fn executor_journal_shape_for_create_before_destroy() {
    // The executor begins the old copy's delete before the new copy's create.
    let w = World::new();
    let v1 = stack(vec![res("a", THING, json!({"name": "one"}))]);
    let (_, r1, _) = w.up(&v1, &StackState::default(), 10).await;
    let v2 = stack(vec![res("a", THING, json!({"name": "two"}))]);
    let p = w.plan(&v2, &r1.state);
    let sink = MemorySink::new(r1.state.clone());
    let report = apply(
        &p,
        Some(&v2),
        &r1.state,
        &w.registry,
        &sink,
        &ExecOptions::new("test"),
    )
    .await;
    assert!(report.ok());
    assert!(sink.pending().await.is_empty());
    assert_eq!(sink.snapshot().await.resources["a"].id, "a-2");
}

/// A type whose create loses its answer and whose recover finds a same-named
/// object tagged for another stack; it records the create token of each call.
struct Foreign {
    schema: cairn_core::schema::ResourceSchema,
    seen: std::sync::Mutex<Vec<(&'static str, Option<String>)>>,
}

#[async_trait::async_trait]
impl ResourceProvider for Foreign {
    fn schema(&self) -> &cairn_core::schema::ResourceSchema {
        &self.schema
    }
    async fn create(
        &self,
        ctx: &CallContext,
        _inputs: &Map,
    ) -> Result<cairn_core::provider::Created, ProviderError> {
        self.seen
            .lock()
            .unwrap()
            .push(("create", ctx.create_token.clone()));
        Err(ProviderError::Api {
            resource: ctx.name.clone(),
            api: "test:Create".into(),
            code: "HTTP503".into(),
            message: "the answer was lost".into(),
            retryable: true,
        })
    }
    async fn read(
        &self,
        _ctx: &CallContext,
        _id: &str,
        _inputs: &Map,
    ) -> Result<Option<cairn_core::provider::Observed>, ProviderError> {
        Ok(None)
    }
    async fn update(
        &self,
        ctx: &CallContext,
        _id: &str,
        _old: &Map,
        _new: &Map,
        _outputs: &Map,
    ) -> Result<Map, ProviderError> {
        Err(ProviderError::invalid(&ctx.name, "not expected"))
    }
    async fn delete(
        &self,
        ctx: &CallContext,
        _id: &str,
        _inputs: &Map,
        _outputs: &Map,
    ) -> Result<(), ProviderError> {
        Err(ProviderError::invalid(&ctx.name, "not expected"))
    }
    async fn recover(
        &self,
        ctx: &CallContext,
        _inputs: &Map,
    ) -> Result<Option<cairn_core::provider::Created>, ProviderError> {
        self.seen
            .lock()
            .unwrap()
            .push(("recover", ctx.create_token.clone()));
        Err(ProviderError::NotOwned {
            resource: ctx.name.clone(),
            id: "a-physical".into(),
            urn: ctx.urn.clone(),
            found: "the tag cairn:urn=other/a".into(),
        })
    }
}

#[tokio::test]
async fn create_token_reaches_create_and_recover_and_a_foreign_object_is_refused() {
    let provider = Arc::new(Foreign {
        schema: cairn_core::schema::ResourceSchema::new("test:Foreign", "a test type")
            .output(cairn_core::schema::OutputSchema::new("id", "id")),
        seen: Default::default(),
    });
    let mut registry = cairn_core::Registry::new();
    registry.register(provider.clone());
    let spec = stack(vec![res("a", "test:Foreign", json!({}))]);
    let state = StackState::default();
    let p = cairn_core::plan::plan(
        &spec,
        &state,
        &registry,
        &cairn_core::plan::PlanOptions::default(),
    )
    .unwrap();
    let sink = MemorySink::new(state.clone());
    let report = apply(
        &p,
        Some(&spec),
        &state,
        &registry,
        &sink,
        &ExecOptions::new("test"),
    )
    .await;
    assert!(!report.ok());
    // The lost create's intent stays pending, with the token create was given.
    let pending = sink.pending().await;
    assert_eq!(pending.len(), 1);
    let token = pending[0].create_token.clone().expect("a create token");
    assert_eq!(token.len(), 32);
    assert_eq!(
        provider.seen.lock().unwrap().clone(),
        vec![("create", Some(token.clone()))]
    );
    // Another intent gets another token.
    assert_ne!(
        Some(token.clone()),
        Some(cairn_core::state::new_create_token())
    );

    // Recovery passes the intent's token and refuses what is not ours: the
    // intent is closed (our create did not make it) and the run stops.
    let err = reconcile(&pending, &state, &registry, &sink, "test")
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::NotOwned { .. }), "{err:?}");
    assert_eq!(
        miette::Diagnostic::code(&err).map(|c| c.to_string()),
        Some("cairn::provider::not_owned".to_string())
    );
    assert!(err.to_string().contains("cairn:urn=other/a"), "{err}");
    assert_eq!(
        provider.seen.lock().unwrap().last().cloned(),
        Some(("recover", Some(token)))
    );
    assert!(sink.pending().await.is_empty());
    assert!(sink.snapshot().await.resources.is_empty());
}
