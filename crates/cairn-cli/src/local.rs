//! `--local`: run against the emulator, seeded with Story 0.2's network.

use crate::error::CliError;
use cairn_core::{Map, Value};
use cairn_emulator::{DaemonStatus, EmulatorConfig, NetworkFixture};
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
    pub fixture: NetworkFixture,
}

impl Local {
    /// Starts the emulator if it is not running and seeds the network fixture
    /// for the stack's environment. The endpoint is handed to the AWS provider
    /// explicitly (with test credentials), never through the environment.
    pub async fn prepare(stack_path: &Path) -> Result<Local, CliError> {
        let cfg = emulator_config();
        let status = cairn_emulator::daemon_start(&cfg)?;
        let endpoint = status.endpoint.clone().ok_or_else(|| {
            CliError::Failed(format!(
                "the emulator did not report its endpoint; see {}",
                status.log_path.display()
            ))
        })?;
        let environment = stack_path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("dev")
            .to_string();
        let fixture = cairn_emulator::seed_network_fixture(&endpoint, &environment).await?;
        Ok(Local { endpoint, fixture })
    }

    /// The stack config that the fixture replaces: the `network` map.
    pub fn config_overrides(&self) -> Vec<(String, Value)> {
        let f = &self.fixture;
        let mut network = Map::new();
        network.insert("vpcId".into(), Value::from(f.vpc_id.as_str()));
        network.insert(
            "subnetIds".into(),
            Value::List(
                f.subnet_ids
                    .iter()
                    .map(|s| Value::from(s.as_str()))
                    .collect(),
            ),
        );
        network.insert(
            "subnetGroupName".into(),
            Value::from(f.subnet_group_name.as_str()),
        );
        network.insert(
            "securityGroupName".into(),
            Value::from(f.security_group_name.as_str()),
        );
        network.insert(
            "securityGroupId".into(),
            Value::from(f.security_group_id.as_str()),
        );
        vec![("network".into(), Value::Map(network))]
    }
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

/// The code of a `--local` state written against an emulator that has
/// since restarted (moto keeps everything in memory).
pub const EMULATOR_RESET_CODE: &str = "cairn::local::emulator_reset";

/// A `--local` state records the fixture's security group by id; a
/// restarted emulator seeds a new one. Then every resource in the state is
/// gone from the emulator: say so and offer the clean path, instead of a
/// plan that would replace the protected, imported group.
pub fn check_not_reset(
    state: &cairn_core::state::StackState,
    fixture: &NetworkFixture,
    stack: &str,
    state_root: &Path,
) -> Result<(), CliError> {
    let stale = state.resources.values().find(|r| {
        r.imported && r.type_token == "aws:ec2:SecurityGroup" && r.id != fixture.security_group_id
    });
    let Some(old) = stale else { return Ok(()) };
    let problem = cairn_core::diag::Problem::error(
        EMULATOR_RESET_CODE,
        format!(
            "the emulator was reset since `{stack}`'s local state was written: it records security group {} (`{}`), the emulator now has {}; the {} resource(s) in this state no longer exist there",
            old.id,
            old.name,
            fixture.security_group_id,
            state.resources.len()
        ),
    )
    .help(format!(
        "start clean: delete {} and run again (local state only describes the emulator)",
        state_root.join(stack).display()
    ));
    Err(CliError::Invalid(cairn_core::diag::Problems {
        file: None,
        problems: vec![problem],
    }))
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
