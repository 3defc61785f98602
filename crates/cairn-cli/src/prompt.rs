//! The confirmation prompt: asked on the terminal even when stdout (or
//! stderr) is piped, refused clearly when there is no terminal to ask on;
//! a production stack's destructive runs ask for the stack's name.

use crate::error::CliError;
use cairn_core::plan::{Action, Plan};
use std::io::{IsTerminal, Write};

/// Types whose replacement loses data (a cache's contents, a database, a
/// key that encrypted them): replacing one in a production stack asks for
/// the stack's name.
const STATEFUL: &[&str] = &[
    "aws:elasticache:ReplicationGroup",
    "aws:elasticache:CacheCluster",
    "aws:elasticache:ServerlessCache",
    "aws:memorydb:Cluster",
    "aws:rds:Instance",
    "aws:rds:Cluster",
    "aws:dynamodb:Table",
    "aws:s3:Bucket",
    "aws:kms:Key",
];

/// A production stack: its name contains `prod`.
pub fn is_production(stack: &str) -> bool {
    stack.to_ascii_lowercase().contains("prod")
}

/// Why this run must be confirmed by typing the stack's name, if it must:
/// a destroy of a production stack, or a replacement of a stateful resource in one.
pub fn typed_name_reason(plan: &Plan, destroy: bool) -> Option<String> {
    if !is_production(&plan.stack) || !plan.has_changes() {
        return None;
    }
    if destroy {
        return Some(format!("this destroys resources of `{}`", plan.stack));
    }
    let replaced: Vec<&str> = plan
        .steps
        .iter()
        .filter(|s| s.action == Action::Replace && STATEFUL.contains(&s.type_token.as_str()))
        .map(|s| s.name.as_str())
        .collect();
    (!replaced.is_empty()).then(|| {
        format!(
            "this replaces {} in `{}`: the data in the old one is lost",
            replaced.join(", "),
            plan.stack
        )
    })
}

/// Asks `question` (y/N). `--yes` answers yes; with no terminal to ask on it
/// is a usage error naming `--yes`.
pub fn confirm(yes: bool, question: &str) -> Result<bool, CliError> {
    if yes {
        return Ok(true);
    }
    let answer = ask(&format!("{question} [y/N] "))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// Asks for the stack's name to be typed (for [`typed_name_reason`]).
pub fn confirm_name(yes: bool, reason: &str, stack: &str) -> Result<bool, CliError> {
    if yes {
        return Ok(true);
    }
    let answer = ask(&format!(
        "{reason}.\nType the stack name (`{stack}`) to confirm: "
    ))?;
    Ok(answer.trim() == stack)
}

/// Writes the question where a person sees it and reads one line from stdin.
/// stdin must be a terminal; the question goes to stderr when that is a
/// terminal, else to the controlling terminal (`| tee`, `2>&1 | less`).
fn ask(question: &str) -> Result<String, CliError> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(
            "not on a terminal: pass --yes to proceed without confirmation".into(),
        ));
    }
    let shown = if std::io::stderr().is_terminal() {
        let mut err = std::io::stderr();
        err.write_all(question.as_bytes())
            .and_then(|_| err.flush())
            .is_ok()
    } else {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/tty")
            .and_then(|mut tty| {
                tty.write_all(question.as_bytes())?;
                tty.flush()
            })
            .is_ok()
    };
    if !shown {
        return Err(CliError::Usage(
            "stdin is a terminal but the question cannot be shown (stderr is not a terminal and there is no controlling terminal): pass --yes to proceed without confirmation".into(),
        ));
    }
    read_answer()
}

/// Reads one line from stdin; Ctrl-C (SIGINT) or SIGTERM meanwhile is
/// `CliError::Interrupted` (exit 130/143), so the caller's lock is released
/// on the way out instead of the process dying with it held.
fn read_answer() -> Result<String, CliError> {
    let read = || {
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .map(|_| answer)
            .map_err(|e| CliError::Failed(format!("reading the answer: {e}")))
    };
    let handle = match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => h,
        _ => return read(),
    };
    use tokio::signal::unix::{signal, SignalKind};
    let _guard = handle.enter();
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return read();
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    // A plain thread: a read blocked on the terminal must not keep the
    // runtime from shutting down.
    std::thread::spawn(move || {
        let _ = tx.send(read());
    });
    tokio::task::block_in_place(|| {
        handle.block_on(async {
            tokio::select! {
                answer = rx => answer.unwrap_or_else(|_| Err(CliError::Failed("reading the answer: the reader stopped".into()))),
                _ = int.recv() => Err(CliError::Interrupted { code: 130 }),
                _ = term.recv() => Err(CliError::Interrupted { code: 143 }),
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_core::plan::Step;

    fn plan(stack: &str, steps: &[(&str, &str, Action)]) -> Plan {
        Plan {
            stack: stack.into(),
            steps: steps
                .iter()
                .map(|(name, ty, action)| Step {
                    name: name.to_string(),
                    type_token: ty.to_string(),
                    action: *action,
                    changes: Vec::new(),
                    replace_paths: Vec::new(),
                    delete_before_replace: false,
                    old: None,
                    new_inputs: None,
                    dependencies: Vec::new(),
                    protect: false,
                    retain_on_delete: false,
                    import_id: None,
                    pending_update: None,
                    renamed_from: None,
                    deleted_with: None,
                    parent: None,
                })
                .collect(),
            outputs: Default::default(),
            warnings: Vec::new(),
            partial: false,
            drift: Vec::new(),
        }
    }

    #[test]
    fn production_destroys_and_stateful_replacements_need_the_name() {
        let rg = "aws:elasticache:ReplicationGroup";
        let del = plan("redis-prod", &[("cache", rg, Action::Delete)]);
        assert!(typed_name_reason(&del, true).is_some());
        let rep = plan("redis-prod", &[("cache", rg, Action::Replace)]);
        let why = typed_name_reason(&rep, false).expect("stateful replace");
        assert!(why.contains("cache"), "{why}");
        // Not production, not stateful, or no replacement: a plain y/N.
        let dev = plan("redis-dev", &[("cache", rg, Action::Replace)]);
        assert!(typed_name_reason(&dev, true).is_none());
        assert!(typed_name_reason(&dev, false).is_none());
        let alias = plan("redis-prod", &[("a", "aws:kms:Alias", Action::Replace)]);
        assert!(typed_name_reason(&alias, false).is_none());
        let update = plan("redis-prod", &[("cache", rg, Action::Update)]);
        assert!(typed_name_reason(&update, false).is_none());
    }
}
