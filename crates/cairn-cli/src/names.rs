//! Names the user got wrong: a stack, a resource in state, a target. Each
//! is an input error (exit 2) that lists or suggests what exists.

use crate::error::CliError;
use cairn_core::diag::{Problem, Problems};
use cairn_core::plan::{Plan, UNKNOWN_TARGET_CODE};
use cairn_core::validate::did_you_mean;
use std::path::Path;

pub const UNKNOWN_STACK_CODE: &str = "cairn::cli::unknown_stack";
pub const UNKNOWN_RESOURCE_CODE: &str = "cairn::cli::unknown_resource";

fn invalid(problem: Problem) -> CliError {
    CliError::Invalid(Problems {
        file: None,
        problems: vec![problem],
    })
}

/// The stacks under `dir`: `NAME.yaml` files that are not templates.
pub fn stacks_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let stem = name
                .strip_suffix(".yaml")
                .or_else(|| name.strip_suffix(".yml"))?;
            (!stem.ends_with(".template")).then(|| stem.to_string())
        })
        .collect();
    names.sort();
    names
}

/// `--stack NAME` where `stacks/NAME.yaml` does not exist: the error lists
/// the stacks that do and suggests the nearest.
pub fn unknown_stack(name: &str, dir: &Path) -> CliError {
    let known = stacks_in(dir);
    let mut help = if known.is_empty() {
        format!(
            "there are no stacks in {}/; pass --stack-file PATH",
            dir.display()
        )
    } else {
        format!("the stacks are: {}", known.join(", "))
    };
    if let Some(near) = did_you_mean(name, known.iter().map(String::as_str)) {
        help = format!("did you mean `{near}`? {help}");
    }
    invalid(
        Problem::error(
            UNKNOWN_STACK_CODE,
            format!(
                "there is no stack `{name}` ({} does not exist)",
                dir.join(format!("{name}.yaml")).display()
            ),
        )
        .help(help),
    )
}

/// `state show NAME` of a name the state does not hold.
pub fn unknown_resource<'a>(
    name: &str,
    stack: &str,
    known: impl IntoIterator<Item = &'a str>,
) -> CliError {
    let help = match did_you_mean(name, known) {
        Some(near) => format!("did you mean `{near}`? `cairn state list` lists them all"),
        None => "`cairn state list` lists the resources in state".to_string(),
    };
    invalid(
        Problem::error(
            UNKNOWN_RESOURCE_CODE,
            format!("`{name}` is not in the state of {stack}"),
        )
        .help(help),
    )
}

/// `destroy --target/--exclude` naming nothing in state: the core plans it
/// as a warning; the CLI refuses it like `up` does.
pub fn refuse_unknown_targets(plan: &Plan) -> Result<(), CliError> {
    let unknown: Vec<Problem> = plan
        .warnings
        .iter()
        .filter(|w| w.code == UNKNOWN_TARGET_CODE)
        .map(|w| {
            let mut p = w.clone();
            p.warning = false;
            p.help = Some(
                "--target and --exclude take logical resource names; `cairn state list` lists them"
                    .into(),
            );
            p
        })
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(CliError::Invalid(Problems {
        file: None,
        problems: unknown,
    }))
}

#[cfg(test)]
mod tests {
    use super::stacks_in;

    #[test]
    fn templates_and_other_files_are_not_stacks() {
        let dir = tempfile::tempdir().expect("tempdir");
        for f in ["b.yaml", "a.yml", "x.template.yaml", "notes.md"] {
            std::fs::write(dir.path().join(f), "").expect("write");
        }
        assert_eq!(stacks_in(dir.path()), ["a", "b"]);
    }
}
