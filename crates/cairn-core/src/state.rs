//! The engine's view of recorded state, and the journal interface that a
//! durable store (`cairn-state`) implements.

use crate::provider::Operation;
use crate::value::Map;
use async_trait::async_trait;
use std::collections::BTreeMap;

/// One resource as recorded after a successful provider call.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceState {
    pub name: String,
    pub type_token: String,
    /// The cloud's physical id.
    pub id: String,
    /// The resolved inputs last applied (secrets wrapped).
    pub inputs: Map,
    pub outputs: Map,
    /// Logical names this resource depended on when applied.
    pub dependencies: Vec<String>,
    pub protect: bool,
    pub retain_on_delete: bool,
    /// Adopted through import rather than created by the engine.
    pub imported: bool,
    /// The resource it is grouped under (`options.parent`), when any.
    pub parent: Option<String>,
    /// Read with `get:` (Pulumi's external resource): recorded, never
    /// managed; dropping it from state never deletes the cloud object.
    pub external: bool,
    /// `deletedWith`: the resource whose delete removes this one, kept so
    /// the planner knows it once the program no longer says so.
    pub deleted_with: Option<String>,
}

/// Everything recorded for a stack.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StackState {
    pub resources: BTreeMap<String, ResourceState>,
    pub outputs: Map,
}

impl StackState {
    /// This state with `externals` (the program's `get:` resources, as just
    /// read) recorded as external entries.
    pub fn with_externals(mut self, externals: &[crate::spec::ExternalResource]) -> StackState {
        for e in externals {
            let old = self.resources.get(&e.name);
            let rs = ResourceState {
                name: e.name.clone(),
                type_token: e.type_token.clone(),
                id: e.id.clone(),
                inputs: e.inputs.clone(),
                outputs: e.outputs.clone(),
                dependencies: Vec::new(),
                protect: false,
                retain_on_delete: false,
                external: true,
                deleted_with: old.and_then(|o| o.deleted_with.clone()),
                ..Default::default()
            };
            self.resources.insert(e.name.clone(), rs);
        }
        self
    }
}

/// An operation about to be attempted, recorded before the provider call.
#[derive(Clone, Debug, PartialEq)]
pub struct Intent {
    /// Unique within the run's journal.
    pub op_id: u64,
    pub resource: String,
    pub type_token: String,
    pub operation: Operation,
    /// Physical id for update/delete.
    pub id: Option<String>,
    /// Resolved inputs the call is made with (secrets wrapped).
    pub inputs: Map,
    pub dependencies: Vec<String>,
    /// Whether the call touches anything outside the engine; if so the
    /// intent must be durable before the call proceeds.
    pub external: bool,
    /// A create's (or update's) unique token, passed to the provider for the
    /// call and for recovery, so recovery adopts what this intent made and
    /// nothing older, and a retried put reuses its request token.
    pub create_token: Option<String>,
}

/// A fresh token for a create intent (128 bits, hex): unique per call, from
/// std's randomly seeded hasher, the time and a counter. Not a secret.
pub fn new_create_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let half = || {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(nanos);
        h.write_u64(seq);
        h.write_u32(std::process::id());
        h.finish()
    };
    format!("{:016x}{:016x}", half(), half())
}

/// What an operation ended with.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The resource now exists with this state.
    Written(ResourceState),
    /// The resource no longer exists.
    Removed,
    /// The call failed; the resource's recorded state is unchanged.
    Failed(String),
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("state store: {0}")]
#[diagnostic(code(cairn::state::io))]
pub struct StateSinkError(pub String);

/// Where the executor records intents and outcomes, write-ahead.
#[async_trait]
pub trait StateSink: Send + Sync {
    /// Records an intent. When `intent.external`, returns only once it is durable.
    async fn begin(&self, intent: &Intent) -> Result<(), StateSinkError>;
    /// Records the outcome of an intent and updates the resource's state.
    async fn finish(
        &self,
        op_id: u64,
        resource: &str,
        outcome: &Outcome,
    ) -> Result<(), StateSinkError>;
    /// Records the stack's outputs after a run.
    async fn set_outputs(&self, outputs: &Map) -> Result<(), StateSinkError>;
}

/// A `StateSink` kept in memory, for tests and benchmarks of engine logic.
#[derive(Default)]
pub struct MemorySink {
    inner: tokio::sync::Mutex<MemorySinkInner>,
}

#[derive(Default, Debug)]
pub struct MemorySinkInner {
    pub state: StackState,
    pub pending: BTreeMap<u64, Intent>,
    pub log: Vec<String>,
}

impl MemorySink {
    pub fn new(state: StackState) -> Self {
        MemorySink {
            inner: tokio::sync::Mutex::new(MemorySinkInner {
                state,
                ..Default::default()
            }),
        }
    }
    pub async fn snapshot(&self) -> StackState {
        self.inner.lock().await.state.clone()
    }
    pub async fn pending(&self) -> Vec<Intent> {
        self.inner.lock().await.pending.values().cloned().collect()
    }
}

#[async_trait]
impl StateSink for MemorySink {
    async fn begin(&self, intent: &Intent) -> Result<(), StateSinkError> {
        let mut g = self.inner.lock().await;
        g.log
            .push(format!("begin {:?} {}", intent.operation, intent.resource));
        g.pending.insert(intent.op_id, intent.clone());
        Ok(())
    }
    async fn finish(
        &self,
        op_id: u64,
        resource: &str,
        outcome: &Outcome,
    ) -> Result<(), StateSinkError> {
        let mut g = self.inner.lock().await;
        g.pending.remove(&op_id);
        match outcome {
            Outcome::Written(rs) => {
                g.state.resources.insert(resource.to_string(), rs.clone());
            }
            Outcome::Removed => {
                g.state.resources.remove(resource);
            }
            Outcome::Failed(_) => {}
        }
        Ok(())
    }
    async fn set_outputs(&self, outputs: &Map) -> Result<(), StateSinkError> {
        self.inner.lock().await.state.outputs = outputs.clone();
        Ok(())
    }
}
