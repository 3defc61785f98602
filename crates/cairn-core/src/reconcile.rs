//! Recovery after a crash: settle the intents a previous run began but
//! never finished, by asking the cloud what actually happened.
//!
//! * Pending create: `provider.recover` (by name or `urn` tag, with the
//!   intent's create token). A resource
//!   found is recorded (`Outcome::Written`) so the next plan sees it and
//!   does not create a duplicate; otherwise the intent is closed as
//!   `Failed("not started")`. A recovered id equal to the one already
//!   recorded for the name (the old copy of an interrupted
//!   create-before-destroy replace) does not count as found. A same-named
//!   object that is not ours (`ProviderError::NotOwned`) closes the intent
//!   as failed and stops reconciliation with that error.
//! * Pending update: `provider.read`. When the cloud's inputs match the
//!   intent's (every intended input equals the observed one) the intended
//!   inputs are recorded with the observed outputs; otherwise the observed
//!   outputs are recorded with the *old* inputs, so the next plan re-applies
//!   the update. A resource that is gone is removed from state.
//! * Pending delete of the recorded resource: `provider.read`; gone ⇒
//!   `Outcome::Removed`, still there ⇒ kept (the intent is closed as failed
//!   and the next plan deletes it again).
//! * Pending delete whose id differs from the recorded one: the old copy of
//!   a create-before-destroy replace whose new copy is recorded. The old
//!   copy is deleted (if it still exists) and the intent finished with the
//!   recorded new copy, so it is never orphaned. If that delete fails the
//!   intent stays pending (listed in `left`) and the rest goes on.
//! * Pending read (import): closed as failed; the next plan imports again.
//!
//! Creates and updates are settled before deletes. A provider error stops
//! reconciliation and leaves the remaining intents pending.

use crate::plan::reveal_map;
use crate::provider::{CallContext, Operation, ProviderError, Registry};
use crate::state::{Intent, Outcome, ResourceState, StackState, StateSink};
use crate::value::Map;
use std::fmt;

/// What reconciliation found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Interrupted creates found in the cloud and now recorded.
    pub adopted: Vec<String>,
    /// Interrupted updates whose observed state is now recorded.
    pub refreshed: Vec<String>,
    /// Resources (or old copies of replaced ones) confirmed gone or deleted.
    pub removed: Vec<String>,
    /// Intents that left nothing to record (not started, or still there).
    pub left: Vec<String>,
}

impl ReconcileReport {
    pub fn is_empty(&self) -> bool {
        self.adopted.is_empty()
            && self.refreshed.is_empty()
            && self.removed.is_empty()
            && self.left.is_empty()
    }
}

impl fmt::Display for ReconcileReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} adopted, {} refreshed, {} removed, {} left",
            self.adopted.len(),
            self.refreshed.len(),
            self.removed.len(),
            self.left.len()
        )
    }
}

fn sink_error(resource: &str, e: impl fmt::Display) -> ProviderError {
    ProviderError::Invalid {
        resource: resource.to_string(),
        message: e.to_string(),
    }
}

/// Settles `pending` intents (from the journal) against the cloud.
pub async fn reconcile(
    pending: &[Intent],
    state: &StackState,
    registry: &Registry,
    sink: &dyn StateSink,
    stack: &str,
) -> Result<ReconcileReport, ProviderError> {
    let mut report = ReconcileReport::default();
    let mut current = state.clone();
    let mut ordered: Vec<&Intent> = pending.iter().collect();
    ordered.sort_by_key(|i| (i.operation == Operation::Delete, i.op_id));
    for intent in ordered {
        let name = intent.resource.as_str();
        let provider = registry
            .get(&intent.type_token)
            .ok_or_else(|| ProviderError::UnknownType(intent.type_token.clone()))?;
        let mut ctx = CallContext::new(stack, name);
        ctx.create_token = intent.create_token.clone();
        let recorded = current.resources.get(name).cloned();
        let finish = |outcome: Outcome| async move {
            sink.finish(intent.op_id, name, &outcome)
                .await
                .map_err(|e| sink_error(name, e))
        };
        match intent.operation {
            Operation::Create => {
                let found = match provider.recover(&ctx, &reveal_map(&intent.inputs)).await {
                    // Not ours, so our create did not make it: the intent is
                    // closed and the run stops with the refusal.
                    Err(e @ ProviderError::NotOwned { .. }) => {
                        finish(Outcome::Failed(e.to_string())).await?;
                        return Err(e);
                    }
                    r => r?,
                }
                .filter(|c| recorded.as_ref().is_none_or(|r| r.id != c.id));
                match found {
                    Some(created) => {
                        let schema = provider.schema();
                        let mut outputs = schema.normalize_outputs(&created.outputs);
                        wrap_echoed_secrets(&mut outputs, &intent.inputs);
                        let rs = ResourceState {
                            name: name.to_string(),
                            type_token: intent.type_token.clone(),
                            id: created.id,
                            inputs: intent.inputs.clone(),
                            outputs,
                            dependencies: intent.dependencies.clone(),
                            protect: recorded.as_ref().is_some_and(|r| r.protect),
                            retain_on_delete: recorded.as_ref().is_some_and(|r| r.retain_on_delete),
                            imported: false,
                            ..Default::default()
                        };
                        finish(Outcome::Written(rs.clone())).await?;
                        current.resources.insert(name.to_string(), rs);
                        report.adopted.push(name.to_string());
                    }
                    None => {
                        finish(Outcome::Failed("not started".into())).await?;
                        report.left.push(name.to_string());
                    }
                }
            }
            Operation::Update => {
                let id = intent
                    .id
                    .clone()
                    .or_else(|| recorded.as_ref().map(|r| r.id.clone()))
                    .unwrap_or_default();
                let observed = provider
                    .read(&ctx, &id, &reveal_map(&intent.inputs))
                    .await?;
                match (observed, recorded) {
                    (None, _) => {
                        finish(Outcome::Removed).await?;
                        current.resources.remove(name);
                        report.removed.push(name.to_string());
                    }
                    (Some(_), None) => {
                        finish(Outcome::Failed("not recorded".into())).await?;
                        report.left.push(name.to_string());
                    }
                    (Some(obs), Some(old)) => {
                        let applied = intent
                            .inputs
                            .iter()
                            .all(|(k, v)| obs.inputs.get(k) == Some(&v.reveal()));
                        let inputs = if applied {
                            intent.inputs.clone()
                        } else {
                            old.inputs.clone()
                        };
                        let mut outputs = provider.schema().normalize_outputs(&obs.outputs);
                        wrap_echoed_secrets(&mut outputs, &inputs);
                        let rs = ResourceState {
                            id: obs.id,
                            inputs,
                            outputs,
                            dependencies: if applied {
                                intent.dependencies.clone()
                            } else {
                                old.dependencies.clone()
                            },
                            ..old
                        };
                        finish(Outcome::Written(rs.clone())).await?;
                        current.resources.insert(name.to_string(), rs);
                        report.refreshed.push(name.to_string());
                    }
                }
            }
            Operation::Delete => {
                let id = intent
                    .id
                    .clone()
                    .or_else(|| recorded.as_ref().map(|r| r.id.clone()))
                    .unwrap_or_default();
                match recorded {
                    Some(rec) if rec.id != id => {
                        // The old copy of a create-before-destroy replace.
                        let inputs = reveal_map(&intent.inputs);
                        let deleted = match provider.read(&ctx, &id, &inputs).await {
                            Ok(Some(obs)) => {
                                provider.delete(&ctx, &id, &inputs, &obs.outputs).await
                            }
                            Ok(None) => Ok(()),
                            Err(e) => Err(e),
                        };
                        match deleted {
                            Ok(()) => {
                                finish(Outcome::Written(rec)).await?;
                                report.removed.push(format!("{name} (replaced copy {id})"));
                            }
                            // Still pending: retried by the next reconcile.
                            Err(e) => report
                                .left
                                .push(format!("{name} (replaced copy {id} not deleted: {e})")),
                        }
                    }
                    _ => {
                        let observed = provider
                            .read(&ctx, &id, &reveal_map(&intent.inputs))
                            .await?;
                        if observed.is_none() {
                            finish(Outcome::Removed).await?;
                            current.resources.remove(name);
                            report.removed.push(name.to_string());
                        } else {
                            finish(Outcome::Failed(
                                "interrupted; the resource still exists".into(),
                            ))
                            .await?;
                            report.left.push(name.to_string());
                        }
                    }
                }
            }
            Operation::Read => {
                finish(Outcome::Failed("interrupted".into())).await?;
                report.left.push(name.to_string());
            }
        }
    }
    Ok(report)
}

fn wrap_echoed_secrets(outputs: &mut Map, inputs: &Map) {
    crate::value::wrap_outputs_echoing_secrets(outputs, inputs);
}
