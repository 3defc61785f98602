//! An in-memory provider for engine-logic tests.
//!
//! [`MemoryProvider`] implements [`ResourceProvider`] for any schema over a
//! shared [`MemoryCloud`], so tests can inspect exactly what exists "in the
//! cloud", count calls, inject failures and delays, and simulate crashes.
//! Physical ids are `<name>-<n>` with `n` counting creates of that logical
//! name, so parallel and serial runs produce the same ids.
//! Outputs mirror the inputs, plus `id` and `output` (= the `input` input).

use crate::provider::{
    CallContext, Created, Observed, Operation, ProviderError, ReadRequest, ResourceProvider,
};
use crate::schema::{OutputSchema, PropType, PropertySchema, ResourceSchema};
use crate::spec::Timeouts;
use crate::value::{Map, PropertyPath, Value};
use async_trait::async_trait;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Type token of [`data_schema`].
pub const DATA_TOKEN: &str = "mem:Data";

/// A `core:Data`-like test type: `input` (any value) comes back as `output`.
pub fn data_schema() -> ResourceSchema {
    ResourceSchema::new(DATA_TOKEN, "In-memory data for engine tests.")
        .property(PropertySchema::new("input", PropType::Any).doc("Any value."))
        .output(OutputSchema::new("output", "The input."))
        .output(OutputSchema::new("id", "The physical id."))
}

/// One resource in the in-memory cloud.
#[derive(Clone, Debug, PartialEq)]
pub struct CloudResource {
    pub id: String,
    pub type_token: String,
    /// `stack/name` of the call that created it.
    pub urn: String,
    pub inputs: Map,
    pub outputs: Map,
    /// Creation order across the whole cloud.
    pub seq: u64,
}

#[derive(Default)]
struct CloudInner {
    resources: BTreeMap<String, CloudResource>,
    log: Vec<String>,
    seq: u64,
    creates_per_name: BTreeMap<String, u64>,
}

/// The shared "cloud" of one or more [`MemoryProvider`]s.
#[derive(Clone, Default)]
pub struct MemoryCloud {
    inner: Arc<Mutex<CloudInner>>,
}

impl MemoryCloud {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, CloudInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Everything in the cloud, by physical id.
    pub fn resources(&self) -> BTreeMap<String, CloudResource> {
        self.lock().resources.clone()
    }

    pub fn get(&self, id: &str) -> Option<CloudResource> {
        self.lock().resources.get(id).cloned()
    }

    pub fn len(&self) -> usize {
        self.lock().resources.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Resources created for a `urn`, oldest first.
    pub fn find_by_urn(&self, urn: &str) -> Vec<CloudResource> {
        let mut v: Vec<CloudResource> = self
            .lock()
            .resources
            .values()
            .filter(|r| r.urn == urn)
            .cloned()
            .collect();
        v.sort_by_key(|r| r.seq);
        v
    }

    /// Every call that changed the cloud, in order: `create <name> <id>`,
    /// `update <name> <id>`, `delete <name> <id>`.
    pub fn log(&self) -> Vec<String> {
        self.lock().log.clone()
    }

    /// Adds a resource out of band (e.g. something to import); returns its id.
    pub fn insert(&self, type_token: &str, name: &str, urn: &str, inputs: Map) -> String {
        let mut g = self.lock();
        Self::insert_locked(&mut g, type_token, name, urn, inputs)
    }

    /// Changes a resource's inputs (and so its outputs) out of band (drift).
    pub fn set_inputs(&self, id: &str, inputs: Map) -> bool {
        let mut g = self.lock();
        let Some(r) = g.resources.get_mut(id) else {
            return false;
        };
        r.outputs = outputs_for(id, &inputs);
        r.inputs = inputs;
        true
    }

    /// Removes a resource out of band (drift).
    pub fn remove(&self, id: &str) -> Option<CloudResource> {
        self.lock().resources.remove(id)
    }

    fn insert_locked(
        g: &mut CloudInner,
        type_token: &str,
        name: &str,
        urn: &str,
        inputs: Map,
    ) -> String {
        let n = g.creates_per_name.entry(name.to_string()).or_insert(0);
        *n += 1;
        let id = format!("{name}-{n}");
        g.seq += 1;
        let outputs = outputs_for(&id, &inputs);
        g.resources.insert(
            id.clone(),
            CloudResource {
                id: id.clone(),
                type_token: type_token.to_string(),
                urn: urn.to_string(),
                inputs,
                outputs,
                seq: g.seq,
            },
        );
        g.log.push(format!("create {name} {id}"));
        id
    }
}

fn outputs_for(id: &str, inputs: &Map) -> Map {
    let mut out = inputs.clone();
    out.insert("id".into(), Value::String(id.to_string()));
    out.insert(
        "output".into(),
        inputs.get("input").cloned().unwrap_or(Value::Null),
    );
    out
}

#[derive(Default)]
struct Faults {
    create: BTreeSet<String>,
    /// Creates that take effect but whose answer is lost.
    create_answer_lost: BTreeSet<String>,
    update: BTreeSet<String>,
    delete: BTreeSet<String>,
}

/// Calls per operation (`Operation::Read` counts reads; recover is separate).
#[derive(Default)]
struct Calls {
    create: AtomicUsize,
    read: AtomicUsize,
    update: AtomicUsize,
    delete: AtomicUsize,
    recover: AtomicUsize,
    read_many: AtomicUsize,
    reads_in_flight: AtomicUsize,
    max_reads_in_flight: AtomicUsize,
}

type ReplaceRule = Box<dyn Fn(&Map, &Map) -> Vec<PropertyPath> + Send + Sync>;

/// An in-memory [`ResourceProvider`] for any schema.
pub struct MemoryProvider {
    schema: ResourceSchema,
    cloud: MemoryCloud,
    calls: Calls,
    faults: Mutex<Faults>,
    delay: Option<Duration>,
    external: bool,
    replace_rule: Option<ReplaceRule>,
    /// `Some(limit)`: answers `read_many` itself, `limit` ids per call.
    batch_limit: Option<usize>,
    /// The `ctx.timeouts` of the last call per logical name.
    timeouts: Mutex<BTreeMap<String, Timeouts>>,
}

impl MemoryProvider {
    /// A provider of `schema` with its own empty cloud.
    pub fn new(schema: ResourceSchema) -> Self {
        MemoryProvider {
            schema,
            cloud: MemoryCloud::new(),
            calls: Calls::default(),
            faults: Mutex::new(Faults::default()),
            delay: None,
            external: true,
            replace_rule: None,
            batch_limit: None,
            timeouts: Mutex::default(),
        }
    }

    /// A provider of [`data_schema`].
    pub fn data() -> Self {
        Self::new(data_schema())
    }

    /// Shares `cloud` (several types in one cloud).
    pub fn with_cloud(mut self, cloud: MemoryCloud) -> Self {
        self.cloud = cloud;
        self
    }

    /// Sleeps this long in every operation.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// What `has_external_effects` answers (default true).
    pub fn with_external_effects(mut self, external: bool) -> Self {
        self.external = external;
        self
    }

    /// `extra_replace_paths` answers with this rule (old, new inputs).
    pub fn with_replace_rule(
        mut self,
        rule: impl Fn(&Map, &Map) -> Vec<PropertyPath> + Send + Sync + 'static,
    ) -> Self {
        self.replace_rule = Some(Box::new(rule));
        self
    }

    /// Reads in batches of up to `limit` ids (`read_many`), like an API
    /// that describes many objects per call.
    pub fn with_batch_reads(mut self, limit: usize) -> Self {
        self.batch_limit = Some(limit);
        self
    }

    /// How many `read_many` calls were made (each counts once, whatever its size).
    pub fn read_many_calls(&self) -> usize {
        self.calls.read_many.load(Ordering::SeqCst)
    }

    pub fn cloud(&self) -> &MemoryCloud {
        &self.cloud
    }

    fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes every create of the logical resource `name` fail.
    pub fn fail_create(&self, name: &str) {
        self.faults().create.insert(name.to_string());
    }

    /// Makes every create of `name` take effect in the cloud and then fail
    /// as if its answer were lost (a retryable error).
    pub fn lose_create_answer(&self, name: &str) {
        self.faults().create_answer_lost.insert(name.to_string());
    }

    pub fn fail_update(&self, name: &str) {
        self.faults().update.insert(name.to_string());
    }

    pub fn fail_delete(&self, name: &str) {
        self.faults().delete.insert(name.to_string());
    }

    pub fn clear_failures(&self) {
        *self.faults() = Faults::default();
    }

    /// How many times an operation was called.
    pub fn calls(&self, op: Operation) -> usize {
        let c = match op {
            Operation::Create => &self.calls.create,
            Operation::Read => &self.calls.read,
            Operation::Update => &self.calls.update,
            Operation::Delete => &self.calls.delete,
        };
        c.load(Ordering::SeqCst)
    }

    pub fn recover_calls(&self) -> usize {
        self.calls.recover.load(Ordering::SeqCst)
    }

    /// The most reads that were in flight at once.
    pub fn max_reads_in_flight(&self) -> usize {
        self.calls.max_reads_in_flight.load(Ordering::SeqCst)
    }

    /// The `ctx.timeouts` the last create/update/delete of `name` got.
    pub fn timeouts_seen(&self, name: &str) -> Option<Timeouts> {
        self.timeouts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    fn saw(&self, ctx: &CallContext) {
        self.timeouts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(ctx.name.clone(), ctx.timeouts.clone());
    }

    async fn pause(&self) {
        if let Some(d) = self.delay {
            tokio::time::sleep(d).await;
        }
    }

    fn injected(
        &self,
        ctx: &CallContext,
        api: &str,
        set: fn(&Faults) -> &BTreeSet<String>,
    ) -> Result<(), ProviderError> {
        if set(&self.faults()).contains(&ctx.name) {
            return Err(ProviderError::Api {
                resource: ctx.name.clone(),
                api: api.to_string(),
                code: "InjectedFailure".into(),
                message: "failure injected by the test".into(),
                retryable: false,
            });
        }
        Ok(())
    }
}

#[async_trait]
impl ResourceProvider for MemoryProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn extra_replace_paths(&self, old: &Map, new: &Map) -> Vec<PropertyPath> {
        self.replace_rule
            .as_ref()
            .map(|rule| rule(old, new))
            .unwrap_or_default()
    }

    fn has_external_effects(&self) -> bool {
        self.external
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        self.calls.create.fetch_add(1, Ordering::SeqCst);
        self.saw(ctx);
        self.pause().await;
        self.injected(ctx, "Create", |f| &f.create)?;
        ctx.report("creating");
        if inputs
            .values()
            .any(|v| v.contains_unknown() || v.is_secret())
        {
            return Err(ProviderError::invalid(
                &ctx.name,
                "inputs must be resolved and revealed",
            ));
        }
        let mut g = self.cloud.lock();
        let id = MemoryCloud::insert_locked(
            &mut g,
            &self.schema.token,
            &ctx.name,
            &ctx.urn,
            inputs.clone(),
        );
        let outputs = g.resources[&id].outputs.clone();
        drop(g);
        if self.faults().create_answer_lost.contains(&ctx.name) {
            return Err(ProviderError::Api {
                resource: ctx.name.clone(),
                api: "Create".into(),
                code: "RequestTimeout".into(),
                message: "the answer was lost (injected by the test)".into(),
                retryable: true,
            });
        }
        Ok(Created { id, outputs })
    }

    async fn read(
        &self,
        _ctx: &CallContext,
        id: &str,
        _inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        self.calls.read.fetch_add(1, Ordering::SeqCst);
        let now = self.calls.reads_in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.calls
            .max_reads_in_flight
            .fetch_max(now, Ordering::SeqCst);
        self.pause().await;
        self.calls.reads_in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(self.cloud.get(id).map(|r| Observed {
            id: r.id,
            inputs: r.inputs,
            outputs: r.outputs,
        }))
    }

    fn read_batch_limit(&self) -> Option<usize> {
        self.batch_limit
    }

    async fn read_many(
        &self,
        reqs: &[ReadRequest],
    ) -> Result<BTreeMap<String, Observed>, ProviderError> {
        self.calls.read_many.fetch_add(1, Ordering::SeqCst);
        if self.batch_limit.is_some_and(|l| reqs.len() > l) {
            return Err(ProviderError::invalid(
                "read_many",
                format!("{} ids in one batch, more than the limit", reqs.len()),
            ));
        }
        self.pause().await;
        Ok(reqs
            .iter()
            .filter_map(|r| {
                let c = self.cloud.get(&r.id)?;
                Some((
                    r.id.clone(),
                    Observed {
                        id: c.id,
                        inputs: c.inputs,
                        outputs: c.outputs,
                    },
                ))
            })
            .collect())
    }

    async fn update(
        &self,
        ctx: &CallContext,
        id: &str,
        _old_inputs: &Map,
        new_inputs: &Map,
        _old_outputs: &Map,
    ) -> Result<Map, ProviderError> {
        self.calls.update.fetch_add(1, Ordering::SeqCst);
        self.saw(ctx);
        self.pause().await;
        self.injected(ctx, "Update", |f| &f.update)?;
        ctx.report("updating");
        let mut g = self.cloud.lock();
        let Some(r) = g.resources.get_mut(id) else {
            return Err(ProviderError::Api {
                resource: ctx.name.clone(),
                api: "Update".into(),
                code: "NotFound".into(),
                message: format!("{id} does not exist"),
                retryable: false,
            });
        };
        r.inputs = new_inputs.clone();
        r.outputs = outputs_for(id, new_inputs);
        let outputs = r.outputs.clone();
        g.log.push(format!("update {} {id}", ctx.name));
        Ok(outputs)
    }

    async fn delete(
        &self,
        ctx: &CallContext,
        id: &str,
        _inputs: &Map,
        _outputs: &Map,
    ) -> Result<(), ProviderError> {
        self.calls.delete.fetch_add(1, Ordering::SeqCst);
        self.saw(ctx);
        self.pause().await;
        self.injected(ctx, "Delete", |f| &f.delete)?;
        ctx.report("deleting");
        let mut g = self.cloud.lock();
        if g.resources.remove(id).is_some() {
            g.log.push(format!("delete {} {id}", ctx.name));
        }
        Ok(())
    }

    async fn recover(
        &self,
        ctx: &CallContext,
        _inputs: &Map,
    ) -> Result<Option<Created>, ProviderError> {
        self.calls.recover.fetch_add(1, Ordering::SeqCst);
        Ok(self
            .cloud
            .find_by_urn(&ctx.urn)
            .into_iter()
            .rfind(|r| r.type_token == self.schema.token)
            .map(|r| Created {
                id: r.id,
                outputs: r.outputs,
            }))
    }
}
