//! `stack export`, `stack import`, `stack ls` and `stack rm`.

use crate::args::RunArgs;
use crate::backend::{with_writer, Backend, Writer};
use crate::engine::{load, open_writer};
use crate::error::CliError;
use cairn_core::diag::{Problem, Problems};
use cairn_state::{SecretKeys, StateStore};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The version of the `stack export` document this build writes and reads.
pub const EXPORT_FORMAT: u64 = 1;
pub const EXPORT_FORMAT_CODE: &str = "cairn::stack::export_format";
pub const NOT_EMPTY_CODE: &str = "cairn::stack::not_empty";

fn invalid(problem: Problem) -> CliError {
    CliError::Invalid(Problems {
        file: None,
        problems: vec![problem],
    })
}

/// `stack export`: the whole state as one versioned JSON document on
/// stdout. Secrets stay encrypted with the stack's key.
pub async fn export(run: RunArgs) -> Result<ExitCode, CliError> {
    let loaded = load(&run.select).await?;
    let writer = open_writer(&loaded, &run).await?;
    let snapshot = with_writer(writer, async |writer: &Writer| {
        Ok(writer.store().export_snapshot()?)
    })
    .await?;
    let state: serde_json::Value = serde_json::from_slice(&snapshot)
        .map_err(|e| CliError::Failed(format!("the state snapshot is not JSON: {e}")))?;
    let doc = serde_json::json!({
        "cairn_stack_export": EXPORT_FORMAT,
        "cairn_version": env!("CARGO_PKG_VERSION"),
        "stack": loaded.spec.name,
        "state": state,
    });
    println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    Ok(ExitCode::SUCCESS)
}

/// `stack import FILE`: replaces the stack's (empty, or with `--force`
/// any) local state with an export. The export must decrypt with this
/// stack's key, which is checked before anything is replaced.
#[allow(irrefutable_let_patterns)] // without `aws`, local is the only backend
pub async fn import(run: RunArgs, file: &Path) -> Result<ExitCode, CliError> {
    let loaded = load(&run.select).await?;
    let stack = loaded.spec.name.clone();
    let Backend::Local { root } = &loaded.backend else {
        return Err(CliError::Usage(
            "`stack import` writes the local backend: import locally, then `cairn state migrate --to URL`".into(),
        ));
    };
    let bytes = std::fs::read(file).map_err(|source| CliError::Read {
        path: file.to_path_buf(),
        source,
    })?;
    let bad = |msg: String| {
        invalid(
            Problem::error(EXPORT_FORMAT_CODE, msg)
                .help("pass a file written by `cairn stack export` for this stack"),
        )
    };
    let doc: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| bad(format!("{} is not JSON: {e}", file.display())))?;
    match doc.get("cairn_stack_export").and_then(|v| v.as_u64()) {
        Some(EXPORT_FORMAT) => {}
        Some(other) => {
            return Err(bad(format!(
                "{} is export format {other}; this cairn reads format {EXPORT_FORMAT}",
                file.display()
            )))
        }
        None => {
            return Err(bad(format!(
                "{} is not a stack export (no `cairn_stack_export`)",
                file.display()
            )))
        }
    }
    let from = doc
        .get("stack")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    if from != stack {
        return Err(bad(format!(
            "{} is an export of stack `{from}`, not `{stack}` (secrets are bound to their stack)",
            file.display()
        )));
    }
    let snapshot = serde_json::to_vec(&doc["state"]).unwrap_or_default();
    let keys = SecretKeys::from_env_or_default(root, &stack)?;
    // Decrypt everything first: a wrong key or damaged file replaces nothing.
    let incoming = StateStore::from_snapshot(
        root,
        &stack,
        keys.clone(),
        &snapshot,
        &file.display().to_string(),
    )?
    .load()?;
    let writer = open_writer(&loaded, &run).await?;
    with_writer(writer, async |writer: &Writer| {
        let existing = writer.store().load()?;
        let pending = writer.store().pending_intents()?.len();
        if pending > 0 || (!existing.resources.is_empty() && !run.select.force) {
            return Err(invalid(
                Problem::error(
                    NOT_EMPTY_CODE,
                    format!(
                        "stack `{stack}` already records {} resource(s) ({pending} operation(s) in flight)",
                        existing.resources.len()
                    ),
                )
                .help("pass --force to replace its state with the export (operations in flight must be settled first by `cairn up` or `cairn refresh`)"),
            ));
        }
        Ok(())
    })
    .await?;
    let store = StateStore::open_working_copy(root, &stack, keys, Some(&snapshot))?;
    store.flush()?;
    drop(store);
    println!(
        "imported stack `{stack}`: {} resource(s) and {} output(s) from {}",
        incoming.resources.len(),
        incoming.outputs.len(),
        file.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `stack rm`: deletes a stack's (local) state; refused while it records
/// resources. The stack file is left alone.
pub async fn rm(run: RunArgs) -> Result<ExitCode, CliError> {
    let loaded = load(&run.select).await?;
    let stack = loaded.spec.name.clone();
    if !matches!(loaded.backend, Backend::Local { .. }) {
        return Err(CliError::Usage(
            "`stack rm` removes local state only; delete the remote objects yourself".into(),
        ));
    }
    let writer = open_writer(&loaded, &run).await?;
    let state = writer.store().load()?;
    let pending = writer.store().pending_intents()?.len();
    if !state.resources.is_empty() || pending > 0 {
        let names: Vec<&str> = state.resources.keys().map(String::as_str).collect();
        writer.close().await?;
        return Err(invalid(
            Problem::error(
                NOT_EMPTY_CODE,
                format!(
                    "stack `{stack}` still records {} resource(s){}{}",
                    names.len(),
                    if names.is_empty() { String::new() } else { format!(": {}", names.join(", ")) },
                    if pending > 0 { format!(" and {pending} operation(s) in flight") } else { String::new() }
                ),
            )
            .help("`cairn destroy` them first, or `cairn state rm` those that should outlive the stack"),
        ));
    }
    match writer {
        Writer::Local(store) => store.remove()?,
        #[cfg(feature = "aws")]
        Writer::Remote(r) => (*r).close().await?,
    }
    println!("removed the state of stack `{stack}`");
    Ok(ExitCode::SUCCESS)
}

/// `stack ls`: the stacks in `stacks/` and those with state under the
/// state root, with how many resources each records.
pub fn ls(state_dir: Option<PathBuf>, local: bool) -> Result<ExitCode, CliError> {
    let root = state_dir.unwrap_or_else(|| {
        if local {
            PathBuf::from("state").join("local")
        } else {
            PathBuf::from("state")
        }
    });
    let mut stacks: std::collections::BTreeMap<String, String> = Default::default();
    for file in crate::names::stacks_in(Path::new("stacks")) {
        let path = Path::new("stacks").join(format!("{file}.yaml"));
        let name = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| {
                text.lines().find_map(|l| {
                    l.strip_prefix("name:")
                        .map(|n| n.trim().trim_matches(['"', '\'']).to_string())
                })
            })
            .unwrap_or(file);
        stacks.insert(name, path.display().to_string());
    }
    for entry in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if !name.starts_with('.') && StateStore::exists(&root, &name) {
            stacks.entry(name).or_insert_with(|| "-".into());
        }
    }
    println!("NAME\tRESOURCES\tFILE");
    for (name, file) in &stacks {
        let count = if StateStore::exists(&root, name) {
            SecretKeys::from_env_or_default(&root, name)
                .and_then(|k| StateStore::open_read_only(&root, name, k))
                .and_then(|s| s.load())
                .map(|s| s.resources.len().to_string())
                .unwrap_or_else(|_| "?".into())
        } else {
            "no state".into()
        };
        println!("{name}\t{count}\t{file}");
    }
    Ok(ExitCode::SUCCESS)
}
