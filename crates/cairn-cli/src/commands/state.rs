//! `state rm` and `state mv`: surgery on recorded state. Neither touches
//! the cloud; both take the writer lock and settle interrupted operations
//! first.

use crate::args::RunArgs;
use crate::backend::{with_writer, Writer};
use crate::engine::{load, open_writer, recover};
use crate::error::CliError;
use cairn_core::diag::{Problem, Problems};
use cairn_core::state::StackState;
use std::process::ExitCode;

pub const HAS_DEPENDENTS_CODE: &str = "cairn::state::has_dependents";
pub const NAME_TAKEN_CODE: &str = "cairn::state::name_taken";

fn invalid(problem: Problem) -> CliError {
    CliError::Invalid(Problems {
        file: None,
        problems: vec![problem],
    })
}

fn unknown(state: &StackState, name: &str, stack: &str) -> CliError {
    crate::names::unknown_resource(name, stack, state.resources.keys().map(String::as_str))
}

/// The resources that record a dependency on `name`, sorted.
fn dependents(state: &StackState, name: &str) -> Vec<String> {
    state
        .resources
        .values()
        .filter(|r| r.dependencies.iter().any(|d| d == name))
        .map(|r| r.name.clone())
        .collect()
}

/// `state rm NAME`: forgets a resource, leaving the cloud object as it is.
/// Refused while others depend on it, unless `--force` (their recorded
/// dependency on it is then dropped).
pub async fn rm(run: RunArgs, name: &str) -> Result<ExitCode, CliError> {
    let loaded = load(&run.select).await?;
    let force = run.select.force;
    let writer = open_writer(&loaded, &run).await?;
    let removed = with_writer(writer, async |writer: &Writer| {
        let mut state = recover(writer, &loaded.registry, &loaded.spec.name).await?;
        let Some(rs) = state.resources.remove(name) else {
            return Err(unknown(&state, name, &loaded.spec.name));
        };
        let deps = dependents(&state, name);
        if !deps.is_empty() && !force {
            return Err(invalid(
                Problem::error(
                    HAS_DEPENDENTS_CODE,
                    format!(
                        "`{name}` cannot be forgotten: {} depend(s) on it",
                        deps.iter().map(|d| format!("`{d}`")).collect::<Vec<_>>().join(", ")
                    ),
                )
                .help("forget the dependents first, or pass --force to forget it anyway (their recorded dependency on it is dropped)"),
            ));
        }
        for r in state.resources.values_mut() {
            r.dependencies.retain(|d| d != name);
        }
        writer.replace_all(&state)?;
        writer.sync().await?;
        Ok(rs)
    })
    .await?;
    println!(
        "forgot {} `{name}` ({}); the cloud object is left as it is",
        removed.type_token, removed.id
    );
    println!(
        "if the stack file still declares `{name}`, the next `up` creates a new one: remove it from the file, or `cairn import` it back"
    );
    Ok(ExitCode::SUCCESS)
}

/// `state mv OLD NEW`: renames a resource in state; the resources that
/// depend on it follow.
pub async fn mv(run: RunArgs, old: &str, new: &str) -> Result<ExitCode, CliError> {
    let loaded = load(&run.select).await?;
    let writer = open_writer(&loaded, &run).await?;
    let followed = with_writer(writer, async |writer: &Writer| {
        let mut state = recover(writer, &loaded.registry, &loaded.spec.name).await?;
        if state.resources.contains_key(new) {
            return Err(invalid(
                Problem::error(
                    NAME_TAKEN_CODE,
                    format!("state already records a resource named `{new}`"),
                )
                .help(format!(
                    "pick another name, or `cairn state rm {new}` first"
                )),
            ));
        }
        let Some(mut rs) = state.resources.remove(old) else {
            return Err(unknown(&state, old, &loaded.spec.name));
        };
        rs.name = new.to_string();
        state.resources.insert(new.to_string(), rs);
        let deps = dependents(&state, old);
        for r in state.resources.values_mut() {
            for d in r.dependencies.iter_mut().filter(|d| *d == old) {
                *d = new.to_string();
            }
        }
        writer.replace_all(&state)?;
        writer.sync().await?;
        Ok(deps)
    })
    .await?;
    println!("renamed `{old}` to `{new}` in state");
    if !followed.is_empty() {
        println!("dependencies updated in: {}", followed.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
