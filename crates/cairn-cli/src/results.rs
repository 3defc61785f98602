//! Results of a run: the stack's outputs (`up`'s ending, `stack output`),
//! a missing state, and `--expect-no-changes`.

use crate::args::RunArgs;
use crate::error::CliError;
use cairn_core::plan::Plan;
use cairn_core::{Map, Value};
use std::process::ExitCode;

/// One value as a script wants it: strings raw, the rest as JSON.
fn raw(v: &Value, show_secrets: bool) -> String {
    let json = if show_secrets {
        v.to_plain_json()
    } else {
        v.to_masked_json()
    };
    match json {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
}

/// The `Outputs:` block `up` ends with (secrets masked); nothing when there are none.
pub fn outputs_block(outputs: &Map) -> String {
    if outputs.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nOutputs:\n");
    for (k, v) in outputs {
        out.push_str(&format!("  {k}: {}\n", raw(v, false)));
    }
    out
}

/// `--expect-no-changes`: an error naming the summary when the plan changes anything.
pub fn expect_no_changes(expect: bool, plan: &Plan) -> Result<(), CliError> {
    if expect && plan.has_changes() {
        return Err(CliError::ChangesExpectedNone(format!(
            "stack `{}` has changes ({}) but --expect-no-changes was given",
            plan.stack,
            plan.summary().line()
        )));
    }
    Ok(())
}

/// `stack output [NAME]`.
pub async fn stack_output(
    args: RunArgs,
    name: Option<String>,
    show_secrets: bool,
    json: bool,
) -> Result<ExitCode, CliError> {
    let loaded = crate::engine::load(&args.select).await?;
    let Some(state) = crate::engine::read_state_opt(&loaded).await? else {
        return Err(no_state(&loaded));
    };
    if let Some(name) = name {
        let Some(v) = state.outputs.get(&name) else {
            let known: Vec<&str> = state.outputs.keys().map(String::as_str).collect();
            let help = if known.is_empty() {
                "the stack has no outputs now (none declared, or destroyed)".to_string()
            } else {
                format!("its outputs: {}", known.join(", "))
            };
            return Err(CliError::UnknownOutput {
                stack: loaded.spec.name.clone(),
                name,
                help,
            });
        };
        println!("{}", raw(v, show_secrets));
        return Ok(ExitCode::SUCCESS);
    }
    if json {
        let doc: serde_json::Map<String, serde_json::Value> = state
            .outputs
            .iter()
            .map(|(k, v)| {
                let shown = if show_secrets {
                    v.to_plain_json()
                } else {
                    v.to_masked_json()
                };
                (k.clone(), shown)
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        for (k, v) in &state.outputs {
            println!("{k}\t{}", raw(v, show_secrets));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The error for a read of a stack that has no state.
pub fn no_state(loaded: &crate::engine::Loaded) -> CliError {
    CliError::NoState {
        stack: loaded.spec.name.clone(),
        location: loaded.backend.describe(),
    }
}

/// `refresh --preview-only`: reads the cloud and shows the drift; takes no
/// lock and writes nothing.
pub async fn refresh_preview(
    loaded: &crate::engine::Loaded,
    parallel: usize,
) -> Result<ExitCode, CliError> {
    let state = crate::engine::read_state(loaded).await?;
    let (_, drift) =
        cairn_core::drift::refresh_with(&state, &loaded.registry, &loaded.spec.name, parallel)
            .await?;
    print!("{}", crate::render::text::drift(&drift));
    if drift.is_empty() {
        println!("refresh: no drift; --preview-only: nothing was written");
    } else {
        println!(
            "refresh: {} resource(s) drifted; --preview-only: nothing was written",
            drift.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Says (on stderr) when an interrupted run left operations for recovery.
pub async fn note_pending(loaded: &crate::engine::Loaded) -> Result<(), CliError> {
    let n = loaded.backend.pending(&loaded.spec.name).await?;
    if n > 0 {
        eprintln!(
            "note: {n} operation(s) interrupted by an earlier run are pending recovery; the next `cairn up`, `destroy` or `refresh` settles them first"
        );
    }
    Ok(())
}
