//! Saved plans: `preview --out FILE` writes what was shown, with digests of
//! the state, the stack source and the config it was planned from; `up
//! --plan FILE` re-plans and applies only if all of them, and the plan
//! itself, are unchanged. The file holds no secrets (the plan is masked;
//! secrets enter the digests only).

use crate::engine::Loaded;
use crate::error::CliError;
use cairn_core::plan::Plan;
use cairn_core::state::StackState;
use sha2::{Digest, Sha256};
use std::path::Path;

const FORMAT: u64 = 1;
const KIND: &str = "cairn.saved-plan";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Digest of the recorded state (resources and outputs, secrets included).
pub fn state_digest(state: &StackState) -> String {
    let mut h = Sha256::new();
    for (name, rs) in &state.resources {
        let doc = serde_json::json!({
            "name": name, "type": rs.type_token, "id": rs.id,
            "inputs": cairn_core::Value::Map(rs.inputs.clone()).to_plain_json(),
            "outputs": cairn_core::Value::Map(rs.outputs.clone()).to_plain_json(),
            "dependencies": rs.dependencies, "protect": rs.protect,
            "retain": rs.retain_on_delete, "imported": rs.imported,
        });
        h.update(doc.to_string().as_bytes());
        h.update([0]);
    }
    h.update(
        cairn_core::Value::Map(state.outputs.clone())
            .to_plain_json()
            .to_string()
            .as_bytes(),
    );
    hex(&h.finalize())
}

/// Digest of the stack file (and the files next to it: templates, environments).
fn source_digest(path: &Path) -> String {
    let mut h = Sha256::new();
    h.update(std::fs::read(path).unwrap_or_default());
    if let Some(dir) = path.parent() {
        let mut names: Vec<_> = std::fs::read_dir(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        })
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
        names.sort();
        for p in names {
            h.update(p.display().to_string().as_bytes());
            h.update(std::fs::read(&p).unwrap_or_default());
        }
    }
    hex(&h.finalize())
}

fn config_digest(overrides: &[String]) -> String {
    let mut sorted = overrides.to_vec();
    sorted.sort();
    let mut h = Sha256::new();
    for o in sorted {
        h.update(o.as_bytes());
        h.update([0]);
    }
    hex(&h.finalize())
}

/// The saved-plan document.
pub fn document(
    loaded: &Loaded,
    stack_file: &Path,
    overrides: &[String],
    state: &StackState,
    plan: &Plan,
) -> serde_json::Value {
    serde_json::json!({
        "format": FORMAT,
        "kind": KIND,
        "stack": loaded.spec.name,
        "state": { "digest": state_digest(state), "resources": state.resources.len() },
        "source": { "file": stack_file.display().to_string(), "digest": source_digest(stack_file) },
        "config": { "digest": config_digest(overrides) },
        "plan": plan.to_json(),
    })
}

pub fn write(path: &Path, doc: &serde_json::Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(doc).unwrap_or_default();
    std::fs::write(path, text + "\n")
        .map_err(|e| CliError::Failed(format!("cannot write the plan to {}: {e}", path.display())))
}

pub fn read(path: &Path) -> Result<serde_json::Value, CliError> {
    let bytes = std::fs::read(path).map_err(|source| CliError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let doc: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| CliError::Usage(format!("{} is not a saved plan: {e}", path.display())))?;
    if doc["kind"] != KIND || doc["format"] != FORMAT {
        return Err(CliError::Usage(format!(
            "{} is not a saved plan of format {FORMAT} (written by `cairn preview --out`)",
            path.display()
        )));
    }
    Ok(doc)
}

/// Refuses, naming what moved, unless `now` (this run's document) matches `saved`.
pub fn check(
    path: &Path,
    saved: &serde_json::Value,
    now: &serde_json::Value,
) -> Result<(), CliError> {
    let mut moved = Vec::new();
    if saved["stack"] != now["stack"] {
        moved.push(format!(
            "it is for stack {}, this run is {}",
            saved["stack"], now["stack"]
        ));
    }
    if saved["state"]["digest"] != now["state"]["digest"] {
        moved.push(format!(
            "the state changed ({} resource(s) then, {} now)",
            saved["state"]["resources"], now["state"]["resources"]
        ));
    }
    if saved["source"]["digest"] != now["source"]["digest"] {
        moved.push(format!(
            "the stack source changed ({})",
            now["source"]["file"].as_str().unwrap_or("?")
        ));
    }
    if saved["config"]["digest"] != now["config"]["digest"] {
        moved.push("the --config values differ".to_string());
    }
    if moved.is_empty() && saved["plan"] != now["plan"] {
        moved.push("planning again gives a different plan".to_string());
    }
    if moved.is_empty() {
        return Ok(());
    }
    Err(CliError::StalePlan {
        path: path.display().to_string(),
        what: moved.join("; "),
    })
}
