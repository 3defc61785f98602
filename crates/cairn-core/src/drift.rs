//! Drift: what changed in the cloud outside the engine.
//!
//! [`refresh`] reads every recorded resource through its provider and
//! returns the state as the cloud has it, plus the differences. A plan made
//! against the refreshed state then proposes to undo the drift.

use crate::plan::{diff_inputs, PropertyChange};
use crate::provider::{CallContext, ProviderError, Registry};
use crate::state::StackState;
use crate::value::{Map, Value};
use futures::stream::{self, StreamExt, TryStreamExt};

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

/// Reads every resource, at most `parallel` at once; returns the refreshed
/// state and its drift (in resource-name order, whatever order reads finish).
pub async fn refresh_with(
    state: &StackState,
    registry: &Registry,
    stack: &str,
    parallel: usize,
) -> Result<(StackState, Vec<Drift>), ProviderError> {
    let reads = state.resources.iter().filter_map(|(name, rs)| {
        let provider = registry.get(&rs.type_token)?;
        Some(async move {
            let ctx = CallContext::new(stack, name);
            let revealed: Map = rs
                .inputs
                .iter()
                .map(|(k, v)| (k.clone(), v.reveal()))
                .collect();
            let observed = provider.read(&ctx, &rs.id, &revealed).await?;
            Ok::<_, ProviderError>((name, rs, provider, observed))
        })
    });
    let observations: Vec<_> = stream::iter(reads)
        .buffered(parallel.max(1))
        .try_collect()
        .await?;

    let mut refreshed = state.clone();
    let mut drift = Vec::new();
    for (name, rs, provider, observed) in observations {
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
