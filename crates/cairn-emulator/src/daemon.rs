//! Detached emulator for `cairn emulator start|stop|status`.
//!
//! Files under the state dir: `emulator.pid` (pid == process-group id),
//! `emulator.port`, `emulator.boot` (an id new at each start: the emulator
//! keeps its objects in memory, so a new id means they are gone),
//! `emulator.log`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::{health, process, venv, EmulatorConfig, EmulatorError};

/// State of a (possibly) running daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonStatus {
    /// Whether a healthy emulator is running for this state dir.
    pub running: bool,
    /// Its pid (for [`daemon_stop`]: the pid that was stopped, if any).
    pub pid: Option<u32>,
    /// Its port.
    pub port: Option<u16>,
    /// `http://127.0.0.1:PORT` when running.
    pub endpoint: Option<String>,
    /// The state dir.
    pub state_dir: PathBuf,
    /// The log file.
    pub log_path: PathBuf,
    /// A pid file named this live process, which is not the emulator: the
    /// file was removed and the process left alone.
    #[serde(default)]
    pub stale_pid: Option<u32>,
    /// The id of this start of the emulator (new at every start).
    #[serde(default)]
    pub boot_id: Option<String>,
}

fn pid_file(state_dir: &Path) -> PathBuf {
    state_dir.join("emulator.pid")
}

fn port_file(state_dir: &Path) -> PathBuf {
    state_dir.join("emulator.port")
}

fn boot_file(state_dir: &Path) -> PathBuf {
    state_dir.join("emulator.boot")
}

fn read_num<T: std::str::FromStr>(path: &Path) -> Option<T> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn remove_files(state_dir: &Path) {
    let _ = fs::remove_file(pid_file(state_dir));
    let _ = fs::remove_file(port_file(state_dir));
    let _ = fs::remove_file(boot_file(state_dir));
}

fn status(state_dir: &Path, running: bool, pid: Option<u32>, port: Option<u16>) -> DaemonStatus {
    DaemonStatus {
        running,
        pid,
        port,
        endpoint: if running {
            port.map(|p| format!("http://127.0.0.1:{p}"))
        } else {
            None
        },
        state_dir: state_dir.to_path_buf(),
        log_path: process::log_path(state_dir),
        stale_pid: None,
        boot_id: if running {
            fs::read_to_string(boot_file(state_dir))
                .ok()
                .map(|b| b.trim().to_string())
                .filter(|b| !b.is_empty())
        } else {
            None
        },
    }
}

/// The pid in the pid file when it is a live emulator for this state dir
/// (`Ok`); a live process that is not the emulator (`Err(pid)`); or `Ok(None)`.
fn our_pid(state_dir: &Path, port: Option<u16>) -> Result<Option<u32>, u32> {
    match read_num::<u32>(&pid_file(state_dir)) {
        Some(pid) if process::pid_alive(pid) => match port {
            Some(port) if process::is_emulator(pid, port, state_dir) => Ok(Some(pid)),
            _ => Err(pid),
        },
        _ => Ok(None),
    }
}

/// Report whether the daemon for `state_dir` runs; stale pid/port files are removed.
/// A pid file naming a live process that is not the emulator is stale too.
pub fn daemon_status(state_dir: &Path) -> Result<DaemonStatus, EmulatorError> {
    let port: Option<u16> = read_num(&port_file(state_dir));
    match our_pid(state_dir, port) {
        Ok(Some(pid)) if port.is_some_and(|p| health(p) == Some(pid)) => {
            Ok(status(state_dir, true, Some(pid), port))
        }
        // alive but not (yet) healthy: report it as not running but keep the files
        Ok(Some(pid)) => Ok(status(state_dir, false, Some(pid), port)),
        Ok(None) => {
            remove_files(state_dir);
            Ok(status(state_dir, false, None, None))
        }
        Err(stale) => {
            remove_files(state_dir);
            Ok(DaemonStatus {
                stale_pid: Some(stale),
                ..status(state_dir, false, None, None)
            })
        }
    }
}

/// Start a detached emulator (idempotent: returns the running one's status if there is one).
pub fn daemon_start(cfg: &EmulatorConfig) -> Result<DaemonStatus, EmulatorError> {
    fs::create_dir_all(&cfg.state_dir).map_err(EmulatorError::io(format!(
        "creating state dir {}",
        cfg.state_dir.display()
    )))?;
    let current = daemon_status(&cfg.state_dir)?;
    if current.running {
        return Ok(current);
    }
    if let Some(pid) = current.pid {
        // alive but unhealthy leftover: replace it
        process::terminate_pid_group(pid, Duration::from_secs(5));
        remove_files(&cfg.state_dir);
    }
    let venv = venv::ensure_venv()?;
    if cfg.twin {
        venv::find_redis_server()?;
    }
    if !process::port_free(cfg.port) {
        return Err(EmulatorError::PortInUse { port: cfg.port });
    }
    let log_start = fs::metadata(process::log_path(&cfg.state_dir)).map_or(0, |m| m.len());
    let child = process::spawn_server(&venv, cfg, true)?;
    let pid = child.id();
    // The child is deliberately not waited on: it outlives this process.
    drop(child);
    let write = |path: PathBuf, v: String| {
        fs::write(&path, v).map_err(EmulatorError::io(format!("writing {}", path.display())))
    };
    write(pid_file(&cfg.state_dir), format!("{pid}\n"))?;
    write(port_file(&cfg.state_dir), format!("{}\n", cfg.port))?;
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    write(
        boot_file(&cfg.state_dir),
        format!("{pid}-{}\n", started.as_nanos()),
    )?;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if !process::pid_alive(pid) {
            remove_files(&cfg.state_dir);
            let this_run = fs::read(process::log_path(&cfg.state_dir))
                .ok()
                .and_then(|log| log.get(log_start as usize..).map(<[u8]>::to_vec))
                .unwrap_or_default();
            return Err(startup_exit_error(cfg, &String::from_utf8_lossy(&this_run)));
        }
        if health(cfg.port) == Some(pid) {
            return Ok(status(&cfg.state_dir, true, Some(pid), Some(cfg.port)));
        }
        if Instant::now() > deadline {
            process::terminate_pid_group(pid, Duration::from_secs(2));
            remove_files(&cfg.state_dir);
            return Err(EmulatorError::Start {
                message: "emulator daemon did not become healthy".into(),
                log: process::log_path(&cfg.state_dir),
                log_tail: process::log_tail(&cfg.state_dir, 4000),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Stop the daemon for `state_dir` (and its twins) and remove its pid/port files.
/// Returns `running: false` with the pid/port that were stopped (`None` if nothing ran).
/// Only a process identified as this state dir's emulator is signalled; a pid
/// file naming any other live process is removed and reported as `stale_pid`.
pub fn daemon_stop(state_dir: &Path) -> Result<DaemonStatus, EmulatorError> {
    let port: Option<u16> = read_num(&port_file(state_dir));
    let (stopped, stale) = match our_pid(state_dir, port) {
        Ok(Some(pid)) => {
            process::terminate_pid_group(pid, Duration::from_secs(10));
            if process::pid_alive(pid) {
                return Err(EmulatorError::Daemon {
                    message: format!("process {pid} did not exit"),
                });
            }
            (Some(pid), None)
        }
        Ok(None) => (None, None),
        Err(stale) => (None, Some(stale)),
    };
    remove_files(state_dir);
    Ok(DaemonStatus {
        stale_pid: stale,
        ..status(state_dir, false, stopped, stopped.and(port))
    })
}

/// Why a daemon that exited during startup failed. Another process taking the
/// port between the free-port check and the server's bind is `PortInUse`, so
/// callers that picked the port can pick another.
fn startup_exit_error(cfg: &EmulatorConfig, log_of_this_run: &str) -> EmulatorError {
    if log_of_this_run.contains("Address already in use") {
        return EmulatorError::PortInUse { port: cfg.port };
    }
    EmulatorError::Start {
        message: "emulator daemon exited during startup".into(),
        log: process::log_path(&cfg.state_dir),
        log_tail: process::log_tail(&cfg.state_dir, 4000),
    }
}

#[cfg(test)]
mod startup_tests {
    use super::*;

    #[test]
    fn a_port_lost_to_another_process_is_port_in_use_and_other_exits_are_start_errors() {
        let cfg = EmulatorConfig {
            port: 40065,
            state_dir: PathBuf::from("/nonexistent"),
            delay_ms: 0,
            twin: false,
        };
        let lost =
            "OSError: [Errno 98] Address already in use\nPort 40065 is in use by another program.";
        assert!(matches!(
            startup_exit_error(&cfg, lost),
            EmulatorError::PortInUse { port: 40065 }
        ));
        assert!(matches!(
            startup_exit_error(&cfg, "ModuleNotFoundError: moto"),
            EmulatorError::Start { .. }
        ));
    }
}
