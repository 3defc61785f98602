//! Running the real binary with an isolated state directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// A sandbox: its own state dir, passphrase and emulator settings.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
}

/// A private emulator daemon started under a sandbox ([`start_private_emulator`])
/// is stopped with it: it is detached, so it would outlive the test run.
impl Drop for Sandbox {
    fn drop(&mut self) {
        let emulator = self.dir.path().join("emulator");
        if emulator.exists() {
            let _ = cairn_emulator::daemon_stop(&emulator);
        }
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("tempdir");
        let env = vec![
            (
                "CAIRN_STATE_DIR".to_string(),
                dir.path().join("state").display().to_string(),
            ),
            (
                "STACK_PASSPHRASE".to_string(),
                "test-passphrase-not-secret".to_string(),
            ),
            ("NO_COLOR".to_string(), "1".to_string()),
        ];
        Sandbox { dir, env }
    }

    pub fn with_env(mut self, k: &str, v: &str) -> Sandbox {
        self.env.push((k.to_string(), v.to_string()));
        self
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn"));
        cmd.args(args)
            .current_dir(workspace())
            .stdin(std::process::Stdio::null());
        for var in [
            "AWS_PROFILE",
            "AWS_ENDPOINT_URL",
            "CAIRN_BACKEND",
            "CAIRN_TEST_KILL_AT",
            "CAIRN_LOG",
        ] {
            cmd.env_remove(var);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().expect("run cairn");
        Run::from(out)
    }
}

pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code,
            Some(0),
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A single-threaded runtime for the SDK calls tests make to check the cloud.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// SDK settings for the emulator at `endpoint` (test credentials).
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_kms::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await
}

/// A private emulator daemon (no redis twins) on a free loopback port, and
/// the sandbox pointed at it: the CLI's `--local` finds the daemon by its
/// state dir and reuses it (`daemon_start` is idempotent), so twins stay off.
/// Returns the sandbox, the port and the emulator's state dir.
pub fn start_private_emulator(sb: Sandbox, delay_ms: u64) -> (Sandbox, u16, PathBuf) {
    start_emulator(sb, delay_ms, false)
}

/// [`start_private_emulator`] with redis-server twins behind each
/// replication group, so `verify` can check the data plane too.
pub fn start_private_emulator_with_twins(sb: Sandbox, delay_ms: u64) -> (Sandbox, u16, PathBuf) {
    start_emulator(sb, delay_ms, true)
}

fn start_emulator(sb: Sandbox, delay_ms: u64, twin: bool) -> (Sandbox, u16, PathBuf) {
    let emulator_state = sb.dir.path().join("emulator");
    let mut last = None;
    for _ in 0..5 {
        let port = free_port();
        let cfg = cairn_emulator::EmulatorConfig {
            port,
            state_dir: emulator_state.clone(),
            delay_ms,
            twin,
        };
        match cairn_emulator::daemon_start(&cfg) {
            Ok(status) => {
                assert!(status.running, "emulator daemon running");
                let sb = sb
                    .with_env("LOCAL_AWS_PORT", &port.to_string())
                    .with_env(
                        "CAIRN_EMULATOR_STATE",
                        &emulator_state.display().to_string(),
                    )
                    .with_env("CAIRN_EMULATOR_DELAY_MS", &delay_ms.to_string())
                    .with_env("CAIRN_AWS_POLL_MS", "100");
                return (sb, port, emulator_state);
            }
            Err(e @ cairn_emulator::EmulatorError::PortInUse { .. }) => last = Some(e),
            Err(e) => panic!("starting the emulator: {e:?}"),
        }
    }
    panic!("no free port for the emulator: {last:?}");
}

/// An S3 client for the emulator (path-style: no per-bucket host names).
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    )
}

/// What a platform team sets up once for the S3 state backend: the bucket,
/// and a customer KMS key behind `alias`. Returns the key's ARN.
pub async fn make_state_bucket_and_key(
    sdk: &aws_config::SdkConfig,
    bucket: &str,
    alias: &str,
) -> String {
    s3_client(sdk)
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .expect("create state bucket");
    let kms = aws_sdk_kms::Client::new(sdk);
    let key = kms
        .create_key()
        .description("cairn state")
        .send()
        .await
        .expect("create state key");
    let meta = key.key_metadata().expect("key metadata");
    kms.create_alias()
        .alias_name(alias)
        .target_key_id(meta.key_id())
        .send()
        .await
        .expect("create state key alias");
    meta.arn().expect("key arn").to_string()
}

/// A stand-in `network-ENV` stack in the sandbox's state (outputs only, no
/// cloud), so an offline preview of the Redis stack `ENV` can read its
/// network by reference.
pub fn network_stand_in(sb: &Sandbox, env: &str) {
    let file = sb.dir.path().join(format!("network-{env}.yaml"));
    let text = format!(
        "name: network-{env}\nresources:\n  marker:\n    type: core:Data\n    properties:\n      input: stand-in\noutputs:\n  vpcId: vpc-0a1b2c3d4e5f60001\n  elasticacheSubnetGroupName: qualisys-redis-{env}\n  elasticacheSecurityGroupId: sg-0a1b2c3d4e5f6a710\n  nodeSecurityGroupId: sg-0a1b2c3d4e5f6a711\n  privateSubnetCidrs: [10.0.10.0/24, 10.0.11.0/24]\n"
    );
    std::fs::write(&file, text).expect("write the network stand-in");
    sb.run(&["up", "--yes", "--stack-file", &file.display().to_string()])
        .ok();
}
