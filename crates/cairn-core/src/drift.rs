//! Drift: what changed in the cloud outside the engine.
//!
//! [`refresh`] reads every recorded resource through its provider and
//! returns the state as the cloud has it, plus the differences. A plan made
//! against the refreshed state then proposes to undo the drift.

use crate::plan::{diff_inputs, PropertyChange};
use crate::provider::{CallContext, ProviderError, ReadRequest, Registry, ResourceProvider};
use crate::state::{ResourceState, StackState};
use crate::value::{Map, Value};
use futures::stream::{self, StreamExt, TryStreamExt};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One resource that drifted.
#[derive(Clone, Debug, PartialEq)]
pub struct Drift {
    pub resource: String,
    pub type_token: String,
    /// The resource no longer exists.
    pub gone: bool,
    /// Recorded (`old`) against observed (`new`) inputs.
    pub changes: Vec<PropertyChange>,
}

/// Observed inputs merged over recorded ones: what the cloud cannot report
/// (write-only values such as an auth token) keeps its recorded value.
fn merge(recorded: &Map, observed: &Map) -> Map {
    recorded
        .iter()
        .map(|(k, old)| match observed.get(k) {
            // A secret the cloud does not echo back keeps its recorded value.
            Some(new) if new.is_secret() || !old.is_secret() => (k.clone(), new.clone()),
            _ => (k.clone(), old.clone()),
        })
        .collect()
}

/// How many reads [`refresh`] keeps in flight: Terraform's default parallelism.
pub const DEFAULT_READ_PARALLELISM: usize = 10;

/// [`refresh_with`] at [`DEFAULT_READ_PARALLELISM`].
pub async fn refresh(
    state: &StackState,
    registry: &Registry,
    stack: &str,
) -> Result<(StackState, Vec<Drift>), ProviderError> {
    refresh_with(state, registry, stack, DEFAULT_READ_PARALLELISM).await
}

/// Reads every resource, at most `parallel` calls at once; returns the
/// refreshed state and its drift (in resource-name order, whatever order
/// reads finish). Types with a batch read API
/// ([`ResourceProvider::read_batch_limit`]) are read in chunks through
/// `read_many`, the others one at a time.
pub async fn refresh_with(
    state: &StackState,
    registry: &Registry,
    stack: &str,
    parallel: usize,
) -> Result<(StackState, Vec<Drift>), ProviderError> {
    type Job<'a> = Vec<(&'a String, &'a ResourceState)>;
    // One job per call: a chunk of a batchable type, or a single resource.
    let mut batched: BTreeMap<&str, Job> = BTreeMap::new();
    let mut singles: Vec<(Arc<dyn ResourceProvider>, bool, Job)> = Vec::new();
    for (name, rs) in &state.resources {
        let Some(provider) = registry.get(&rs.type_token) else {
            continue;
        };
        // A batch answers by id: a second resource recorded with the same id
        // (whose inputs may shape what a read reports) is read on its own.
        let batch = batched.entry(&rs.type_token).or_default();
        if provider.read_batch_limit().is_some() && !batch.iter().any(|(_, b)| b.id == rs.id) {
            batch.push((name, rs));
        } else {
            singles.push((provider.clone(), false, vec![(name, rs)]));
        }
    }
    let mut jobs: Vec<(Arc<dyn ResourceProvider>, bool, Job)> = Vec::new();
    for (token, members) in batched {
        let Some(provider) = registry.get(token) else {
            continue;
        };
        let limit = provider.read_batch_limit().unwrap_or(1).max(1);
        for chunk in members.chunks(limit) {
            jobs.push((provider.clone(), true, chunk.to_vec()));
        }
    }
    // Largest batches first: a batch may still make calls per resource (IAM
    // policy tags), so it should not wait behind dozens of short calls for a
    // slot. Then the single reads.
    jobs.sort_by_key(|(_, _, members)| std::cmp::Reverse(members.len()));
    jobs.extend(singles);
    let reads = jobs
        .into_iter()
        .map(|(provider, batch, members)| async move {
            let reqs: Vec<ReadRequest> = members
                .iter()
                .map(|(name, rs)| ReadRequest {
                    ctx: CallContext::new(stack, name),
                    id: rs.id.clone(),
                    inputs: rs
                        .inputs
                        .iter()
                        .map(|(k, v)| (k.clone(), v.reveal()))
                        .collect(),
                })
                .collect();
            let found = if batch {
                provider.read_many(&reqs).await?
            } else {
                let r = &reqs[0];
                let mut one = BTreeMap::new();
                if let Some(o) = provider.read(&r.ctx, &r.id, &r.inputs).await? {
                    one.insert(r.id.clone(), o);
                }
                one
            };
            Ok::<_, ProviderError>(
                members
                    .into_iter()
                    .map(|(name, rs)| {
                        let observed = found.get(&rs.id).cloned();
                        (name, (rs, provider.clone(), observed))
                    })
                    .collect::<Vec<_>>(),
            )
        });
    let observations: BTreeMap<_, _> = stream::iter(reads)
        .buffer_unordered(parallel.max(1))
        .try_collect::<Vec<_>>()
        .await?
        .into_iter()
        .flatten()
        .collect();

    let mut refreshed = state.clone();
    let mut drift = Vec::new();
    for (name, (rs, provider, observed)) in observations {
        let Some(observed) = observed else {
            refreshed.resources.remove(name);
            drift.push(Drift {
                resource: name.clone(),
                type_token: rs.type_token.clone(),
                gone: true,
                changes: Vec::new(),
            });
            continue;
        };
        let schema = provider.schema();
        let inputs = merge(&rs.inputs, &schema.normalize_inputs(&observed.inputs));
        let changes = diff_inputs(&rs.inputs, &inputs);
        if let Some(entry) = refreshed.resources.get_mut(name) {
            let mut outputs = schema.normalize_outputs(&observed.outputs);
            crate::value::wrap_outputs_echoing_secrets(&mut outputs, &inputs);
            if !outputs.is_empty() {
                entry.outputs = outputs;
            }
            entry.inputs = inputs;
        }
        if !changes.is_empty() {
            drift.push(Drift {
                resource: name.clone(),
                type_token: rs.type_token.clone(),
                gone: false,
                changes,
            });
        }
    }
    Ok((refreshed, drift))
}

/// Drift as plan JSON (secrets masked).
pub fn to_json(drift: &[Drift]) -> serde_json::Value {
    let masked = |v: &Option<Value>| {
        v.as_ref()
            .map_or(serde_json::Value::Null, Value::to_masked_json)
    };
    serde_json::Value::Array(
        drift
            .iter()
            .map(|d| {
                serde_json::json!({
                    "name": d.resource,
                    "type": d.type_token,
                    "gone": d.gone,
                    "changes": d.changes.iter().map(|c| serde_json::json!({
                        "path": c.path.to_string(),
                        "kind": c.kind.as_str(),
                        "recorded": masked(&c.old),
                        "observed": masked(&c.new),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}
