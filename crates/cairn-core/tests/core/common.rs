//! Shared helpers: test schemas, an in-memory world, event recording.

use cairn_core::exec::{apply, ApplyReport, EventSink, ExecEvent, ExecOptions};
use cairn_core::mem::{data_schema, MemoryCloud, MemoryProvider};
use cairn_core::plan::{plan, Plan, PlanOptions};
use cairn_core::provider::Operation;
use cairn_core::reconcile::{reconcile, ReconcileReport};
use cairn_core::schema::{OutputSchema, PropType, PropertySchema, ResourceSchema};
use cairn_core::spec::{ResourceSpec, StackSpec};
use cairn_core::state::{Intent, MemorySink, StackState, StateSink};
use cairn_core::value::{Map, Value};
use cairn_core::Registry;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const THING: &str = "test:Thing";
pub const FIXED: &str = "test:Fixed";

/// A richer test type: `name` replaces, `password` is secret, `size` has a default.
pub fn thing_schema() -> ResourceSchema {
    ResourceSchema::new(THING, "A test thing.")
        .property(PropertySchema::new("name", PropType::string()).replaces())
        .property(PropertySchema::new("size", PropType::int()).default_value(serde_json::json!(1)))
        .property(PropertySchema::new(
            "tags",
            PropType::map(PropType::string()),
        ))
        .property(PropertySchema::new("password", PropType::string()).secret())
        .property(PropertySchema::new("refs", PropType::list(PropType::Any)))
        .property(PropertySchema::new("input", PropType::Any))
        .property(PropertySchema::new(
            "config",
            PropType::object(vec![
                PropertySchema::new("engine", PropType::string()).replaces(),
                PropertySchema::new("level", PropType::int()),
            ]),
        ))
        .output(OutputSchema::new("id", "Physical id."))
        .output(OutputSchema::new("output", "The input."))
        .output(OutputSchema::new("token", "A secret.").secret())
}

/// A type with a fixed physical name: replaces delete first.
pub fn fixed_schema() -> ResourceSchema {
    ResourceSchema::new(FIXED, "A fixed-name thing.")
        .property(PropertySchema::new("name", PropType::string()).replaces())
        .property(PropertySchema::new("input", PropType::Any))
        .output(OutputSchema::new("id", "Physical id."))
        .fixed_name()
}

/// Providers for `mem:Data`, `test:Thing` and `test:Fixed` over one cloud.
pub struct World {
    pub cloud: MemoryCloud,
    pub data: Arc<MemoryProvider>,
    pub thing: Arc<MemoryProvider>,
    pub fixed: Arc<MemoryProvider>,
    pub registry: Registry,
    /// Intents the last `apply` left pending (only after a failure).
    pub pending: Mutex<Vec<Intent>>,
}

impl World {
    pub fn new() -> World {
        Self::with(|p| p)
    }

    pub fn with_delay(delay: Duration) -> World {
        Self::with(move |p| p.with_delay(delay))
    }

    pub fn with(f: impl Fn(MemoryProvider) -> MemoryProvider) -> World {
        let cloud = MemoryCloud::new();
        let data = Arc::new(f(
            MemoryProvider::new(data_schema()).with_cloud(cloud.clone())
        ));
        let thing = Arc::new(f(
            MemoryProvider::new(thing_schema()).with_cloud(cloud.clone())
        ));
        let fixed = Arc::new(f(
            MemoryProvider::new(fixed_schema()).with_cloud(cloud.clone())
        ));
        let mut registry = Registry::new();
        registry.register(data.clone());
        registry.register(thing.clone());
        registry.register(fixed.clone());
        World {
            cloud,
            data,
            thing,
            fixed,
            registry,
            pending: Mutex::default(),
        }
    }

    pub fn plan(&self, spec: &StackSpec, state: &StackState) -> Plan {
        match plan(spec, state, &self.registry, &PlanOptions::default()) {
            Ok(p) => p,
            Err(e) => panic!("plan failed: {:?}", e.problems),
        }
    }

    /// Plans and applies `spec` against `state`; returns the plan, the
    /// report and the events in order.
    pub async fn up(
        &self,
        spec: &StackSpec,
        state: &StackState,
        parallel: usize,
    ) -> (Plan, ApplyReport, Vec<ExecEvent>) {
        let p = self.plan(spec, state);
        let (report, events) = self.apply(&p, Some(spec), state, parallel).await;
        (p, report, events)
    }

    pub async fn apply(
        &self,
        p: &Plan,
        spec: Option<&StackSpec>,
        state: &StackState,
        parallel: usize,
    ) -> (ApplyReport, Vec<ExecEvent>) {
        let sink = MemorySink::new(state.clone());
        let (events, log) = recorder();
        let opts = ExecOptions::new("test")
            .with_parallel(parallel)
            .with_events(events);
        let report = apply(p, spec, state, &self.registry, &sink, &opts).await;
        assert_eq!(
            sink.snapshot().await,
            report.state,
            "the sink and the report disagree"
        );
        let pending = sink.pending().await;
        if report.ok() {
            assert!(pending.is_empty(), "intents left pending: {pending:?}");
        }
        *self.pending.lock().unwrap() = pending;
        let events = log.lock().unwrap().clone();
        (report, events)
    }

    /// Reconciles what the last apply left pending; returns the new state.
    pub async fn recover(&self, state: &StackState) -> (ReconcileReport, StackState) {
        let pending = std::mem::take(&mut *self.pending.lock().unwrap());
        let sink = MemorySink::new(state.clone());
        for i in &pending {
            sink.begin(i).await.unwrap();
        }
        let report = reconcile(&pending, state, &self.registry, &sink, "test")
            .await
            .unwrap();
        *self.pending.lock().unwrap() = sink.pending().await;
        (report, sink.snapshot().await)
    }

    pub fn fail(&self, name: &str, op: Operation) {
        for p in [&self.data, &self.thing, &self.fixed] {
            match op {
                Operation::Create => p.fail_create(name),
                Operation::Update => p.fail_update(name),
                _ => p.fail_delete(name),
            }
        }
    }

    pub fn clear_failures(&self) {
        for p in [&self.data, &self.thing, &self.fixed] {
            p.clear_failures();
        }
    }
}

pub fn recorder() -> (EventSink, Arc<Mutex<Vec<ExecEvent>>>) {
    let log: Arc<Mutex<Vec<ExecEvent>>> = Arc::default();
    let l = log.clone();
    (Arc::new(move |e| l.lock().unwrap().push(e)), log)
}

pub fn map(json: serde_json::Value) -> Map {
    match Value::from_json(&json) {
        Value::Map(m) => m,
        other => panic!("not a map: {other}"),
    }
}

pub fn res(name: &str, token: &str, props: serde_json::Value) -> ResourceSpec {
    ResourceSpec::new(name, token, map(props))
}

pub fn stack(resources: Vec<ResourceSpec>) -> StackSpec {
    let mut s = StackSpec::new("test");
    for r in resources {
        s.add(r);
    }
    s
}

/// Position of the first event matching `f`.
pub fn pos(events: &[ExecEvent], f: impl Fn(&ExecEvent) -> bool) -> Option<usize> {
    events.iter().position(f)
}

pub fn started(events: &[ExecEvent], name: &str) -> Option<usize> {
    pos(
        events,
        |e| matches!(e, ExecEvent::Started { name: n, .. } if n == name),
    )
}

pub fn finished(events: &[ExecEvent], name: &str) -> Option<usize> {
    pos(
        events,
        |e| matches!(e, ExecEvent::Finished { name: n, .. } if n == name),
    )
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}
