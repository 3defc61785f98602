//! The Story 0.2 network fixture, seeded with boto3 inside the emulator venv.

use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::{venv, EmulatorError};

/// Ids of the seeded network fixture. Names (`ENV` = the `env_name` argument):
///
/// * VPC `10.0.0.0/16`, tags `Name=qualisys-ENV-vpc`, `cairn:fixture=network-ENV`
/// * application subnets `10.0.10.0/24` (us-east-1a) and `10.0.11.0/24` (us-east-1b)
/// * database subnets `10.0.20.0/24` (us-east-1a) and `10.0.21.0/24` (us-east-1b)
/// * ElastiCache subnet group `qualisys-redis-subnets-ENV` over the database subnets
/// * security group `qualisys-redis-ENV` whose only inbound rule admits tcp 6379 from
///   `10.0.10.0/24` and `10.0.11.0/24` (AWS's default allow-all egress rule is kept, as
///   AWS always creates it)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkFixture {
    /// VPC id.
    pub vpc_id: String,
    /// The two database subnets (in the subnet group).
    pub subnet_ids: Vec<String>,
    /// The two application subnets (the CIDRs the security group admits).
    pub app_subnet_ids: Vec<String>,
    /// Availability zones of the subnet pairs.
    pub availability_zones: Vec<String>,
    /// ElastiCache subnet group name.
    pub subnet_group_name: String,
    /// Security group id.
    pub security_group_id: String,
    /// Security group name.
    pub security_group_name: String,
}

/// Seed (idempotently: the same ids come back on every call) the network fixture into
/// the emulator at `endpoint` (e.g. `http://127.0.0.1:4566`), region us-east-1.
pub async fn seed_network_fixture(
    endpoint: &str,
    env_name: &str,
) -> Result<NetworkFixture, EmulatorError> {
    if env_name.is_empty()
        || env_name.len() > 32
        || !env_name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(EmulatorError::Seed {
            message: format!(
                "invalid env name {env_name:?}: use 1-32 lowercase letters, digits or hyphens"
            ),
        });
    }
    let endpoint = endpoint.to_string();
    let env_name = env_name.to_string();
    tokio::task::spawn_blocking(move || {
        let venv = venv::ensure_venv()?;
        let pythonpath = venv::ensure_python_package()?;
        // One seeder per emulator at a time: two `--local` runs starting
        // together would otherwise both create the fixture's subnets.
        let _seeding = SeedLock::acquire(&endpoint)?;
        let out = Command::new(venv::venv_python(&venv))
            .args([
                "-m",
                "cairn_moto.seed",
                "--endpoint",
                &endpoint,
                "--env",
                &env_name,
            ])
            .env("PYTHONPATH", pythonpath)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env_remove("AWS_PROFILE")
            .stdin(Stdio::null())
            .output()
            .map_err(EmulatorError::io("running the seed script"))?;
        if !out.status.success() {
            return Err(EmulatorError::Seed {
                message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        serde_json::from_slice(&out.stdout).map_err(|e| EmulatorError::Seed {
            message: format!(
                "bad seed output ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            ),
        })
    })
    .await
    .map_err(|e| EmulatorError::Seed {
        message: e.to_string(),
    })?
}

/// Lock files are shared by endpoints in [`LOCK_SLOTS`] slots (FNV-1a of
/// the endpoint): one file per port ever used filled the emulator home with
/// thousands. Two endpoints in one slot only wait for each other.
const LOCK_SLOTS: u32 = 32;

fn lock_slot(endpoint: &str) -> u32 {
    let hash = endpoint.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    hash % LOCK_SLOTS
}

/// An exclusive `flock` on a per-endpoint file under the emulator home,
/// released when dropped (or when the process dies).
struct SeedLock {
    _held: std::fs::File,
}

impl SeedLock {
    fn acquire(endpoint: &str) -> Result<SeedLock, EmulatorError> {
        use std::os::unix::io::AsRawFd;
        let dir = venv::emulator_home()?;
        let path = dir.join(format!("seed-{}.lock", lock_slot(endpoint)));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(EmulatorError::io(format!("opening {}", path.display())))?;
        // SAFETY: flock on a descriptor we own; blocks until the other seeder is done.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc != 0 {
            return Err(EmulatorError::io(format!("locking {}", path.display()))(
                std::io::Error::last_os_error(),
            ));
        }
        Ok(SeedLock { _held: file })
    }
}
