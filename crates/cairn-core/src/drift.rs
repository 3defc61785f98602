//! Drift: what changed in the cloud outside the engine.
//!
//! [`refresh`] reads every recorded resource through its provider and
//! returns the state as the cloud has it, plus the differences. A plan made
//! against the refreshed state then proposes to undo the drift.

use crate::plan::{diff_inputs, PropertyChange};
use crate::provider::{CallContext, ProviderError, Registry};
use crate::state::StackState;
use crate::value::{Map, Value};

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

/// Reads every resource; returns the refreshed state and its drift.
pub async fn refresh(
    state: &StackState,
    registry: &Registry,
    stack: &str,
) -> Result<(StackState, Vec<Drift>), ProviderError> {
    let mut refreshed = state.clone();
    let mut drift = Vec::new();
    for (name, rs) in &state.resources {
        let Some(provider) = registry.get(&rs.type_token) else {
            continue;
        };
        let ctx = CallContext::new(stack, name);
        let revealed: Map = rs
            .inputs
            .iter()
            .map(|(k, v)| (k.clone(), v.reveal()))
            .collect();
        match provider.read(&ctx, &rs.id, &revealed).await? {
            None => {
                refreshed.resources.remove(name);
                drift.push(Drift {
                    resource: name.clone(),
                    type_token: rs.type_token.clone(),
                    gone: true,
                    changes: Vec::new(),
                });
            }
            Some(observed) => {
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
