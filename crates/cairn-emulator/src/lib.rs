//! Local AWS emulator for tests and `cairn up --local`.
//!
//! * A pinned **moto 5.2.5** server (`moto[server]`) in a cached virtualenv that this
//!   crate creates itself ([`ensure_venv`]) under the emulator home: `$CAIRN_EMULATOR_HOME`,
//!   default `$XDG_CACHE_HOME/cairn/emulator` or `~/.cache/cairn/emulator`, created
//!   mode 0700; a home another user owns or may write is refused ([`emulator_home`]).
//! * The embedded Python package `cairn_moto` (see `python/cairn_moto/`) which extends
//!   moto's ElastiCache with cache parameter groups, realistic replication-group
//!   lifecycle (`creating`/`modifying`/`deleting` with a configurable delay), shard and
//!   replica operations, and counts API calls per `service:Action`.
//! * A **local twin**: with twin mode on, every replication group that becomes
//!   `available` is backed by real `redis-server` processes (cluster mode, TLS, AUTH,
//!   parameter-group settings) under `<state-dir>/twins/<id>/`.
//!
//! Everything binds 127.0.0.1 only. The emulator runs in its own process group; stopping
//! it (explicitly, on [`Drop`], or with [`daemon_stop`]) kills the whole group, twins
//! included.
//!
//! # Endpoint ports with twin mode
//! The replication group's `ConfigurationEndpoint` (cluster mode) and
//! `NodeGroups[].PrimaryEndpoint`/`ReaderEndpoint`/`ReadEndpoint` report the twin's real
//! address (`127.0.0.1`) and port, so clients can connect. The requested `Port`
//! property (e.g. 6379) is still reported by `DescribeCacheClusters`
//! (`ShowCacheNodeInfo=true`) as `CacheNodes[].Endpoint.Port`, and by
//! [`TwinInfo::requested_port`]. Without a twin, all endpoints carry fake AWS-style DNS
//! names and the requested port.

#![warn(missing_docs)]

mod daemon;
mod error;
pub mod http;
mod process;
mod seed;
mod venv;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use daemon::{daemon_start, daemon_status, daemon_stop, DaemonStatus};
pub use error::EmulatorError;
pub use seed::{seed_network_fixture, NetworkFixture};
pub use venv::{
    emulator_home, ensure_python_package, find_redis_server, venv_dir, workspace_root, MOTO_VERSION,
};

/// Default emulator port (LocalStack's conventional edge port).
pub const DEFAULT_PORT: u16 = 4566;
/// Default status-transition delay in milliseconds.
pub const DEFAULT_DELAY_MS: u64 = 2000;
/// Region the emulator's helpers use.
pub const REGION: &str = "us-east-1";
/// How long to wait for a starting emulator to answer its health endpoint.
const START_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a stopping emulator gets to stop its twins before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// How to run the emulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatorConfig {
    /// Loopback port (default `$LOCAL_AWS_PORT` or 4566).
    pub port: u16,
    /// Where logs, pid/port files, TLS material and twin data live.
    pub state_dir: PathBuf,
    /// Delay of `creating`/`modifying`/`deleting` transitions (default
    /// `$CAIRN_EMULATOR_DELAY_MS` or 2000).
    pub delay_ms: u64,
    /// Back replication groups with real redis-server processes (default `$CAIRN_TWIN=1`).
    pub twin: bool,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        let port = std::env::var("LOCAL_AWS_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(DEFAULT_PORT);
        let delay_ms = std::env::var("CAIRN_EMULATOR_DELAY_MS")
            .ok()
            .and_then(|d| d.parse().ok())
            .unwrap_or(DEFAULT_DELAY_MS);
        let twin = matches!(
            std::env::var("CAIRN_TWIN").as_deref(),
            Ok("1") | Ok("true") | Ok("yes")
        );
        EmulatorConfig {
            port,
            // Checked when the emulator starts (ensure_venv).
            state_dir: venv::home_path().unwrap_or_default().join("state"),
            delay_ms,
            twin,
        }
    }
}

/// One redis-server process of a twin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwinNode {
    /// Member cache cluster id, e.g. `my-rg-0001-001`.
    pub cache_cluster_id: String,
    /// Shard id, e.g. `0001`.
    pub node_group_id: String,
    /// `primary` or `replica`.
    pub role: String,
    /// Loopback port (TLS port when transit encryption is on).
    pub port: u16,
    /// OS process id.
    pub pid: Option<u32>,
    /// Whether the process is running.
    pub alive: bool,
}

/// The local twin of a replication group (`GET /_cairn/twin/<id>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwinInfo {
    /// Replication group id.
    pub replication_group_id: String,
    /// Replication group status as the emulator reports it.
    #[serde(default)]
    pub status: Option<String>,
    /// Redis cluster mode.
    pub cluster_mode: bool,
    /// Whether the nodes speak TLS only.
    pub tls: bool,
    /// CA certificate to verify the nodes' TLS certificates (for 127.0.0.1/localhost).
    pub ca_path: Option<PathBuf>,
    /// Whether AUTH is required.
    pub auth_enabled: bool,
    /// The `Port` requested for the replication group (not the twin's real port).
    pub requested_port: Option<u16>,
    /// Twin data directory.
    pub dir: PathBuf,
    /// The processes.
    pub nodes: Vec<TwinNode>,
}

/// Whether a `service:Action` call-counter key denotes a mutating API call
/// (anything but `Describe*`, `List*`, `Get*`, `Head*`).
pub fn is_mutating(key: &str) -> bool {
    // `throttled:…` entries repeat a call already counted under its own key.
    if key.starts_with("throttled:") {
        return false;
    }
    let action = key.split_once(':').map(|(_, a)| a).unwrap_or(key);
    !["Describe", "List", "Get", "Head"]
        .iter()
        .any(|p| action.starts_with(p))
}

/// A running emulator. Dropping a handle that started the process stops it (and its
/// twins); handles from [`Emulator::attach`] never stop anything.
pub struct Emulator {
    port: u16,
    state_dir: PathBuf,
    child: Option<Child>,
    _temp: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("port", &self.port)
            .field("state_dir", &self.state_dir)
            .field("owned", &self.child.is_some())
            .finish()
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, EmulatorError> + Send + 'static,
) -> Result<T, EmulatorError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| EmulatorError::Protocol {
            what: "background task".into(),
            message: e.to_string(),
        })?
}

pub(crate) fn http_call(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Result<http::HttpResponse, EmulatorError> {
    http::request(port, method, path, headers, body, timeout).map_err(|e| EmulatorError::Http {
        what: format!("{method} {path}"),
        message: e.to_string(),
    })
}

/// Health probe: `Some(pid)` of the emulator answering on `port`.
pub(crate) fn health(port: u16) -> Option<u32> {
    let r = http::request(
        port,
        "GET",
        "/_cairn/health",
        &[],
        b"",
        Duration::from_secs(2),
    )
    .ok()?;
    if r.status != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&r.body).ok()?;
    v.get("ok")?.as_bool().filter(|ok| *ok)?;
    v.get("pid").and_then(|p| p.as_u64()).map(|p| p as u32)
}

impl Emulator {
    /// See [`ensure_venv`](crate::ensure_venv).
    pub fn ensure_venv() -> Result<PathBuf, EmulatorError> {
        venv::ensure_venv()
    }

    /// Start an emulator with `cfg` and wait until it answers. Binds 127.0.0.1 only.
    pub async fn start(cfg: EmulatorConfig) -> Result<Emulator, EmulatorError> {
        blocking(move || Self::start_blocking(cfg, None)).await
    }

    /// Start an emulator on a free port with a fresh temporary state dir (removed on
    /// stop/drop) — for tests.
    pub async fn start_ephemeral(delay_ms: u64, twin: bool) -> Result<Emulator, EmulatorError> {
        blocking(move || {
            let mut last = None;
            for _ in 0..3 {
                let temp = tempfile::Builder::new()
                    .prefix("cairn-emulator-")
                    .tempdir()
                    .map_err(EmulatorError::io("creating a temporary state dir"))?;
                let cfg = EmulatorConfig {
                    port: process::free_port()?,
                    state_dir: temp.path().to_path_buf(),
                    delay_ms,
                    twin,
                };
                match Self::start_blocking(cfg, Some(temp)) {
                    Ok(e) => return Ok(e),
                    // lost a race for the port: retry with another one
                    Err(e @ (EmulatorError::PortInUse { .. } | EmulatorError::Start { .. }))
                        if e.to_string().contains("in use") =>
                    {
                        last = Some(e)
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(last.unwrap_or(EmulatorError::PortInUse { port: 0 }))
        })
        .await
    }

    fn start_blocking(
        cfg: EmulatorConfig,
        temp: Option<tempfile::TempDir>,
    ) -> Result<Emulator, EmulatorError> {
        let venv = venv::ensure_venv()?;
        if cfg.twin {
            find_redis_server()?;
        }
        if !process::port_free(cfg.port) {
            return Err(EmulatorError::PortInUse { port: cfg.port });
        }
        let mut child = process::spawn_server(&venv, &cfg, false)?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let log_tail = process::log_tail(&cfg.state_dir, 4000);
                process::terminate_child(&mut child, Duration::from_millis(100));
                let message = if log_tail.contains("Address already in use") {
                    format!("port {} is in use ({status})", cfg.port)
                } else {
                    format!("emulator process exited during startup ({status})")
                };
                return Err(EmulatorError::Start {
                    message,
                    log: process::log_path(&cfg.state_dir),
                    log_tail,
                });
            }
            if health(cfg.port) == Some(child.id()) {
                break;
            }
            if Instant::now() > deadline {
                process::terminate_child(&mut child, Duration::from_secs(1));
                return Err(EmulatorError::Start {
                    message: format!(
                        "no answer on 127.0.0.1:{} after {:?}",
                        cfg.port, START_TIMEOUT
                    ),
                    log: process::log_path(&cfg.state_dir),
                    log_tail: process::log_tail(&cfg.state_dir, 4000),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(Emulator {
            port: cfg.port,
            state_dir: cfg.state_dir,
            child: Some(child),
            _temp: temp,
        })
    }

    /// A non-owning handle to an emulator already running on `127.0.0.1:port` (e.g. a
    /// daemon) with the given state dir. Fails if nothing healthy answers there.
    pub async fn attach(port: u16, state_dir: PathBuf) -> Result<Emulator, EmulatorError> {
        blocking(move || match health(port) {
            Some(_) => Ok(Emulator {
                port,
                state_dir,
                child: None,
                _temp: None,
            }),
            None => Err(EmulatorError::Http {
                what: "GET /_cairn/health".into(),
                message: format!("no emulator answering on 127.0.0.1:{port}"),
            }),
        })
        .await
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The loopback port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The state directory (log: `emulator.log`, TLS: `tls/`, twins: `twins/`).
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// OS pid of the emulator process if this handle owns it.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Stop the emulator (and all twins) if this handle started it.
    pub async fn stop(mut self) -> Result<(), EmulatorError> {
        if let Some(mut child) = self.child.take() {
            blocking(move || {
                process::terminate_child(&mut child, STOP_GRACE);
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    async fn get_json<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        method: &'static str,
        path: String,
        body: Vec<u8>,
    ) -> Result<(u16, Option<T>), EmulatorError> {
        let port = self.port;
        blocking(move || {
            let headers: &[(&str, &str)] = &[("Content-Type", "application/json")];
            let r = http_call(port, method, &path, headers, &body, HTTP_TIMEOUT)?;
            if r.status == 404 {
                return Ok((404, None));
            }
            if r.status != 200 {
                return Err(EmulatorError::Protocol {
                    what: format!("{method} {path}"),
                    message: format!("HTTP {}: {}", r.status, r.text()),
                });
            }
            let v = serde_json::from_slice(&r.body).map_err(|e| EmulatorError::Protocol {
                what: format!("{method} {path}"),
                message: e.to_string(),
            })?;
            Ok((200, Some(v)))
        })
        .await
    }

    /// API call counts since start/reset, keyed `service:Action`
    /// (e.g. `elasticache:ModifyReplicationGroup`, `kms:CreateKey`, `s3:PutObject`).
    pub async fn call_counts(&self) -> Result<BTreeMap<String, u64>, EmulatorError> {
        let (_, v) = self
            .get_json("GET", "/_cairn/calls".into(), Vec::new())
            .await?;
        Ok(v.unwrap_or_default())
    }

    /// Only the mutating entries of [`call_counts`](Self::call_counts) (see [`is_mutating`]).
    pub async fn mutating_call_counts(&self) -> Result<BTreeMap<String, u64>, EmulatorError> {
        Ok(self
            .call_counts()
            .await?
            .into_iter()
            .filter(|(k, _)| is_mutating(k))
            .collect())
    }

    /// Zero all call counters.
    pub async fn reset_call_counts(&self) -> Result<(), EmulatorError> {
        let _: (u16, Option<serde_json::Value>) = self
            .get_json("POST", "/_cairn/calls/reset".into(), Vec::new())
            .await?;
        Ok(())
    }

    /// Change the status-transition delay at runtime (applies to transitions started later).
    pub async fn set_delay_ms(&self, ms: u64) -> Result<(), EmulatorError> {
        let body = serde_json::json!({ "delay_ms": ms })
            .to_string()
            .into_bytes();
        let _: (u16, Option<serde_json::Value>) =
            self.get_json("POST", "/_cairn/config".into(), body).await?;
        Ok(())
    }

    /// Eventual consistency: a KMS key or alias, IAM policy or security group
    /// created from now on answers not-found for `ms` after its create
    /// (0 turns it off). Also `CAIRN_EMULATOR_HIDE_NEW_MS` at start.
    pub async fn set_hide_new_ms(&self, ms: u64) -> Result<(), EmulatorError> {
        let body = serde_json::json!({ "hide_new_ms": ms })
            .to_string()
            .into_bytes();
        let _: (u16, Option<serde_json::Value>) =
            self.get_json("POST", "/_cairn/config".into(), body).await?;
        Ok(())
    }

    /// Throttling: from now on a `rate` fraction (0.0-1.0) of API calls
    /// answers the service's throttling error, drawn from `seed` (repeatable).
    /// Also `CAIRN_EMULATOR_THROTTLE_RATE` / `_SEED` at start. Throttled calls
    /// are also counted under `throttled:<service>:<Action>`.
    pub async fn set_throttle(&self, rate: f64, seed: u64) -> Result<(), EmulatorError> {
        let body = serde_json::json!({ "throttle_rate": rate, "throttle_seed": seed })
            .to_string()
            .into_bytes();
        let _: (u16, Option<serde_json::Value>) =
            self.get_json("POST", "/_cairn/config".into(), body).await?;
        Ok(())
    }

    /// Turn twin mode on/off at runtime (applies to groups that become available later).
    pub async fn set_twin(&self, on: bool) -> Result<(), EmulatorError> {
        if on {
            find_redis_server()?;
        }
        let body = serde_json::json!({ "twin": on }).to_string().into_bytes();
        let _: (u16, Option<serde_json::Value>) =
            self.get_json("POST", "/_cairn/config".into(), body).await?;
        Ok(())
    }

    /// The local twin of a replication group, `None` if it has none (twin mode off, not
    /// yet available, or deleted). Errors if the twin failed to start.
    pub async fn twin(
        &self,
        replication_group_id: &str,
    ) -> Result<Option<TwinInfo>, EmulatorError> {
        let path = format!(
            "/_cairn/twin/{}",
            http::form_encode(&[("", replication_group_id)]).trim_start_matches('=')
        );
        let (_, v): (u16, Option<serde_json::Value>) =
            self.get_json("GET", path.clone(), Vec::new()).await?;
        let Some(v) = v else { return Ok(None) };
        if let Some(err) = v.get("error").and_then(|e| e.as_str()) {
            return Err(EmulatorError::Twin {
                replication_group_id: replication_group_id.to_string(),
                message: err.to_string(),
            });
        }
        serde_json::from_value(v)
            .map(Some)
            .map_err(|e| EmulatorError::Protocol {
                what: format!("GET {path}"),
                message: e.to_string(),
            })
    }

    /// Send an unsigned AWS Query-protocol request (form body with `Action`, `Version`,
    /// ...) for `service` (the SigV4 signing name, e.g. `elasticache`, `ec2`, `iam`).
    /// Returns the HTTP status and the XML body. moto does not check signatures; the
    /// `Authorization` header only carries the credential scope used for routing.
    pub async fn aws_query(
        &self,
        service: &str,
        params: &[(&str, &str)],
    ) -> Result<(u16, String), EmulatorError> {
        let port = self.port;
        let body = http::form_encode(params).into_bytes();
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=cairnlocal/20260101/{REGION}/{service}/aws4_request, SignedHeaders=host, Signature=0"
        );
        blocking(move || {
            let r = http_call(
                port,
                "POST",
                "/",
                &[
                    (
                        "Content-Type",
                        "application/x-www-form-urlencoded; charset=utf-8",
                    ),
                    ("Authorization", &auth),
                ],
                &body,
                HTTP_TIMEOUT,
            )?;
            Ok((r.status, r.text()))
        })
        .await
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            process::terminate_child(&mut child, STOP_GRACE);
        }
    }
}

/// Create (once) the cached virtualenv with the pinned moto; see [`Emulator::ensure_venv`].
pub fn ensure_venv() -> Result<PathBuf, EmulatorError> {
    venv::ensure_venv()
}
