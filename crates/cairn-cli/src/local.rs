//! `--local`: run against the emulator. A stack that reads another with a
//! `pulumi:pulumi:StackReference` (the Redis stacks read `network-<env>`)
//! gets that stack brought up first ([`bring_up_references`]), or reused.

use crate::error::CliError;
use cairn_core::Value;
use cairn_emulator::{DaemonStatus, EmulatorConfig};
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub fn emulator_config() -> EmulatorConfig {
    let port = std::env::var("LOCAL_AWS_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(4566);
    let state_dir = std::env::var_os("CAIRN_EMULATOR_STATE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("state").join("local").join(".emulator"));
    // Absolute: the emulator runs inside this directory, so a relative path
    // would put its files at `state/local/.emulator/state/local/.emulator`.
    let state_dir = std::path::absolute(&state_dir).unwrap_or(state_dir);
    let delay_ms = std::env::var("CAIRN_EMULATOR_DELAY_MS")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(2000);
    EmulatorConfig {
        port,
        state_dir,
        delay_ms,
        twin: twin_enabled(std::env::var("CAIRN_EMULATOR_TWIN").ok().as_deref()),
    }
}

/// Twin mode for `--local`: on unless `CAIRN_EMULATOR_TWIN=0`.
fn twin_enabled(var: Option<&str>) -> bool {
    var.map(str::trim) != Some("0")
}

pub struct Local {
    pub endpoint: String,
    /// This start of the emulator (see [`forget_previous_emulator`]).
    pub boot_id: Option<String>,
}

impl Local {
    /// Starts the emulator if it is not running. The endpoint is handed to
    /// the AWS provider explicitly (with test credentials), never through
    /// the environment.
    pub async fn prepare() -> Result<Local, CliError> {
        let cfg = emulator_config();
        let status = cairn_emulator::daemon_start(&cfg)?;
        let endpoint = status.endpoint.clone().ok_or_else(|| {
            CliError::Failed(format!(
                "the emulator did not report its endpoint; see {}",
                status.log_path.display()
            ))
        })?;
        Ok(Local {
            endpoint,
            boot_id: status.boot_id,
        })
    }
}

/// The file under the local state root naming the emulator start its
/// states belong to.
const BOOT_FILE: &str = ".emulator-boot";
/// Where the states of an emulator that has since restarted are kept.
pub const PREVIOUS_DIR: &str = ".before-emulator-restart";

/// The emulator keeps its objects in memory: after it restarts, states
/// written against the previous start name objects that no longer exist,
/// and a plan against them would say "no changes". When `boot_id` differs
/// from the one recorded under `state_root`, those states are moved to
/// `<state_root>/.before-emulator-restart/<old id>/` (nothing is deleted)
/// and a note says so; the runs that follow start from empty state.
/// Returns the stacks moved.
pub fn forget_previous_emulator(state_root: &Path, boot_id: &str) -> Result<Vec<String>, CliError> {
    let io = |what: String| move |e: std::io::Error| CliError::Failed(format!("{what}: {e}"));
    // Private, as the state store makes it (secrets are sealed inside).
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(state_root)
        .map_err(io(format!("creating {}", state_root.display())))?;
    let file = state_root.join(BOOT_FILE);
    let recorded = std::fs::read_to_string(&file)
        .ok()
        .map(|b| b.trim().to_string());
    let mut moved = Vec::new();
    if let Some(old) = recorded.filter(|old| !old.is_empty() && old != boot_id) {
        let keep = state_root.join(PREVIOUS_DIR).join(&old);
        let entries = std::fs::read_dir(state_root)
            .map_err(io(format!("reading {}", state_root.display())))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !entry.path().is_dir() {
                continue;
            }
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&keep)
                .map_err(io(format!("creating {}", keep.display())))?;
            std::fs::rename(entry.path(), keep.join(&name))
                .map_err(io(format!("moving the state of `{name}`")))?;
            moved.push(name);
        }
        moved.sort();
        if !moved.is_empty() {
            eprintln!(
                "note: the emulator restarted since the last --local run, and its objects went with it; \
                 the local states of {} were moved to {} and these runs start from empty state",
                moved
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                keep.display()
            );
        }
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&file)
        .and_then(|mut f| f.write_all(format!("{boot_id}\n").as_bytes()))
        .map_err(io(format!("writing {}", file.display())))?;
    Ok(moved)
}

/// The code of a cycle of stack references met while bringing stacks up.
pub const REFERENCE_CYCLE_CODE: &str = "cairn::local::reference_cycle";

/// The stack file whose `name:` is `stack`: `<dir>/<stack>.yaml` when it
/// is that stack, else the first file that names it, looking in `dirs` in
/// order (the referencing stack's directory, then `stacks/`).
pub fn stack_file(stack: &str, dirs: &[&Path]) -> Option<PathBuf> {
    dirs.iter().find_map(|dir| stack_file_in(stack, dir))
}

fn stack_file_in(stack: &str, dir: &Path) -> Option<PathBuf> {
    let name_of = |path: &Path| {
        std::fs::read_to_string(path).ok().and_then(|text| {
            text.lines().find_map(|l| {
                l.strip_prefix("name:")
                    .map(|n| n.trim().trim_matches(['"', '\'']).to_string())
            })
        })
    };
    let direct = dir.join(format!("{stack}.yaml"));
    if name_of(&direct).as_deref() == Some(stack) {
        return Some(direct);
    }
    crate::names::stacks_in(dir)
        .into_iter()
        .map(|f| dir.join(format!("{f}.yaml")))
        .find(|p| name_of(p).as_deref() == Some(stack))
}

/// `up --local`: before this stack, bring up each stack it references that
/// has no outputs in the local state yet (found under `stacks/` by its
/// `name:`), each with its own references first, by running `cairn up
/// --local --yes` on it; a referenced stack with outputs is reused.
pub async fn bring_up_references(
    loaded: &crate::engine::Loaded,
    stack_path: &Path,
) -> Result<(), CliError> {
    let own_dir = stack_path.parent().unwrap_or(Path::new("."));
    let source = loaded.reference_source();
    let chain = std::env::var("CAIRN_LOCAL_CHAIN").unwrap_or_default();
    let mut seen: Vec<&str> = chain.split(',').filter(|s| !s.is_empty()).collect();
    seen.push(&loaded.spec.name);
    for r in loaded
        .spec
        .resources
        .iter()
        .filter(|r| r.type_token == crate::stack_reference::TOKEN)
    {
        let Some(stack) = r.properties.get("name").and_then(Value::as_str) else {
            continue;
        };
        if seen.contains(&stack) {
            return Err(cycle(&seen, stack));
        }
        let has_outputs = source
            .read(stack)
            .await?
            .is_some_and(|s| !s.outputs.is_empty());
        if has_outputs {
            eprintln!(
                "local: reusing stack `{stack}` (referenced by `{}`)",
                r.name
            );
            continue;
        }
        let Some(file) = stack_file(stack, &[own_dir, Path::new("stacks")]) else {
            // The preview-time diagnostic names what exists.
            continue;
        };
        eprintln!(
            "local: bringing up stack `{stack}` ({}) first: `{}` references it",
            file.display(),
            loaded.spec.name
        );
        let exe = std::env::current_exe().map_err(|e| CliError::Failed(e.to_string()))?;
        let mut cmd = std::process::Command::new(exe);
        cmd.args(["up", "--local", "--yes", "--stack-file"])
            .arg(&file)
            .arg("--state-dir")
            .arg(&loaded.state_root)
            .env("CAIRN_LOCAL_CHAIN", seen.join(","))
            .stdin(std::process::Stdio::null());
        if let Some(url) = &loaded.backend_url {
            cmd.arg("--backend").arg(url);
        }
        // Its progress goes to stderr, so this stack's stdout stays its own.
        let stdout = std::io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| CliError::Failed(e.to_string()))?;
        cmd.stdout(stdout);
        let status = cmd
            .status()
            .map_err(|e| CliError::Failed(format!("running `cairn up` for `{stack}`: {e}")))?;
        if !status.success() {
            return Err(CliError::Failed(format!(
                "bringing up stack `{stack}` (which `{}` references) failed; see above",
                loaded.spec.name
            )));
        }
    }
    Ok(())
}

fn cycle(seen: &[&str], stack: &str) -> CliError {
    let problem = cairn_core::diag::Problem::error(
        REFERENCE_CYCLE_CODE,
        format!(
            "stack references form a cycle: {} -> {stack}",
            seen.join(" -> ")
        ),
    )
    .help("a stack cannot depend on itself through references; remove one of them");
    CliError::Invalid(cairn_core::diag::Problems {
        file: None,
        problems: vec![problem],
    })
}

/// One line for `emulator start|status`.
pub fn describe(status: &DaemonStatus) -> String {
    match (status.running, &status.endpoint, status.pid) {
        (true, Some(endpoint), Some(pid)) => format!(
            "emulator running at {endpoint} (pid {pid}, log {})",
            status.log_path.display()
        ),
        (true, _, _) => format!("emulator running (log {})", status.log_path.display()),
        (false, _, _) => "emulator not running".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::twin_enabled;

    #[test]
    fn twin_is_on_unless_switched_off_with_zero() {
        assert!(twin_enabled(None));
        assert!(twin_enabled(Some("1")));
        assert!(twin_enabled(Some("")));
        assert!(twin_enabled(Some("false")));
        assert!(!twin_enabled(Some("0")));
        assert!(!twin_enabled(Some(" 0 ")));
    }
}
