//! Spawning the emulator process and tearing down its whole process group.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::venv::{ensure_python_package, venv_python};
use crate::{EmulatorConfig, EmulatorError};

/// Log file of an emulator running with `state_dir`.
pub(crate) fn log_path(state_dir: &Path) -> PathBuf {
    state_dir.join("emulator.log")
}

/// The only variables the emulator inherits from the caller (plus the ones
/// `spawn_server` sets). `CAIRN_REDIS_SERVER` locates the twins' binary.
const INHERITED: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "CAIRN_REDIS_SERVER",
    "CAIRN_EMULATOR_LATENCY_MS",
    "CAIRN_EMULATOR_HIDE_NEW_MS",
    "CAIRN_EMULATOR_SUBNET_GROUP_IN_USE_MS",
    "CAIRN_EMULATOR_MEMBER_LAG_MS",
    "CAIRN_EMULATOR_THROTTLE_RATE",
    "CAIRN_EMULATOR_THROTTLE_SEED",
];

/// Start `python -m cairn_moto` in its own process group (pgid == pid), output appended
/// to `<state_dir>/emulator.log`. `detached` (daemon mode) puts it in a new session;
/// otherwise it exits by itself when this process dies.
pub(crate) fn spawn_server(
    venv: &Path,
    cfg: &EmulatorConfig,
    detached: bool,
) -> Result<Child, EmulatorError> {
    fs::create_dir_all(&cfg.state_dir).map_err(EmulatorError::io(format!(
        "creating state dir {}",
        cfg.state_dir.display()
    )))?;
    let pythonpath = ensure_python_package()?;
    let log = log_path(&cfg.state_dir);
    let out = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(EmulatorError::io(format!("opening {}", log.display())))?;
    let err = out
        .try_clone()
        .map_err(EmulatorError::io("duplicating log handle"))?;
    let mut cmd = Command::new(venv_python(venv));
    cmd.arg("-m")
        .arg("cairn_moto")
        .arg("--host")
        .arg("127.0.0.1")
        .arg("--port")
        .arg(cfg.port.to_string())
        .arg("--state-dir")
        .arg(&cfg.state_dir)
        .arg("--delay-ms")
        .arg(cfg.delay_ms.to_string());
    if cfg.twin {
        cmd.arg("--twin");
    }
    // A clean environment: no stack passphrase, no real AWS credentials,
    // nothing else from the caller's shell beyond the allow-list.
    cmd.env_clear();
    for (k, v) in std::env::vars_os() {
        if k.to_str().is_some_and(|k| INHERITED.contains(&k)) {
            cmd.env(k, v);
        }
    }
    cmd.env("PYTHONPATH", pythonpath)
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("CAIRN_EMULATOR_DELAY_MS", cfg.delay_ms.to_string())
        .env("CAIRN_TWIN", if cfg.twin { "1" } else { "0" })
        // moto must never reach real AWS or pick up real credentials.
        .env("AWS_ACCESS_KEY_ID", "cairnlocal")
        .env("AWS_SECRET_ACCESS_KEY", "cairnlocal")
        .env("AWS_DEFAULT_REGION", crate::REGION)
        .current_dir(&cfg.state_dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    if detached {
        // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    } else {
        cmd.arg("--exit-with-parent").process_group(0);
    }
    cmd.spawn().map_err(EmulatorError::io(
        "spawning the emulator (python -m cairn_moto)",
    ))
}

/// Last `max` bytes of the log, for error messages.
pub(crate) fn log_tail(state_dir: &Path, max: usize) -> String {
    let text = fs::read_to_string(log_path(state_dir)).unwrap_or_default();
    let start = text.len().saturating_sub(max);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    text[start..].to_string()
}

fn killpg(pgid: i32, sig: i32) {
    if pgid > 1 {
        // SAFETY: plain signal delivery to a process group we created.
        unsafe {
            libc::killpg(pgid, sig);
        }
    }
}

/// SIGTERM the child's process group (the emulator stops its redis twins and exits),
/// escalate to SIGKILL after `grace`, reap the child, then SIGKILL whatever is left
/// of the group.
pub(crate) fn terminate_child(child: &mut Child, grace: Duration) {
    let pgid = child.id() as i32;
    if let Ok(Some(_)) = child.try_wait() {
        killpg(pgid, libc::SIGKILL);
        return;
    }
    killpg(pgid, libc::SIGTERM);
    let deadline = Instant::now() + grace;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                killpg(pgid, libc::SIGKILL);
                let _ = child.wait();
                break;
            }
        }
    }
    killpg(pgid, libc::SIGKILL);
}

/// Whether `pid` is a live (non-zombie) process. Reaps it first if it is our child.
pub(crate) fn pid_alive(pid: u32) -> bool {
    let pid = pid as i32;
    if pid <= 1 {
        return false;
    }
    // SAFETY: WNOHANG waitpid / kill(0) have no side effects beyond reaping our own zombie.
    unsafe {
        let mut status = 0;
        libc::waitpid(pid, &mut status, libc::WNOHANG);
        if libc::kill(pid, 0) != 0 {
            return false;
        }
    }
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // state is the field right after the parenthesised command name
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next());
            !matches!(state, Some("Z") | Some("X"))
        }
        Err(_) => true,
    }
}

/// Whether `pid` is the emulator serving `state_dir` on `port`: its command
/// line runs `-m cairn_moto --port <port>`, its working directory is
/// `state_dir` (set at spawn), and it leads its own process group. A pid
/// file can outlive its process and the pid be reused; only a process that
/// passes this check may be signalled.
pub(crate) fn is_emulator(pid: u32, port: u16, state_dir: &Path) -> bool {
    let Ok(raw) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = raw.split(|b| *b == 0).collect();
    let has_pair =
        |flag: &[u8], value: &[u8]| args.windows(2).any(|w| w[0] == flag && w[1] == value);
    if !has_pair(b"-m", b"cairn_moto") || !has_pair(b"--port", port.to_string().as_bytes()) {
        return false;
    }
    let same_dir = match (
        fs::read_link(format!("/proc/{pid}/cwd")),
        state_dir.canonicalize(),
    ) {
        (Ok(cwd), Ok(dir)) => cwd == dir,
        _ => false,
    };
    // SAFETY: getpgid only reads the process table.
    same_dir && unsafe { libc::getpgid(pid as i32) } == pid as i32
}

/// SIGTERM a detached emulator's process group, wait up to `grace`, then SIGKILL it.
pub(crate) fn terminate_pid_group(pid: u32, grace: Duration) {
    let pgid = pid as i32;
    killpg(pgid, libc::SIGTERM);
    let deadline = Instant::now() + grace;
    while pid_alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(25));
    }
    killpg(pgid, libc::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(2);
    while pid_alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A free loopback port (bound then released).
pub(crate) fn free_port() -> Result<u16, EmulatorError> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))
        .map_err(EmulatorError::io("finding a free port"))?;
    Ok(l.local_addr()
        .map_err(EmulatorError::io("finding a free port"))?
        .port())
}

/// Whether 127.0.0.1:port can be bound right now.
pub(crate) fn port_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::INHERITED;

    /// A knob the Python side reads from its environment must reach it:
    /// either inherited from ours or set by `spawn_server` itself.
    #[test]
    fn every_knob_the_python_side_reads_is_passed_to_it() {
        const SET_BY_SPAWN: [&str; 2] = ["CAIRN_EMULATOR_DELAY_MS", "CAIRN_TWIN"];
        let sources = [
            include_str!("../python/cairn_moto/runtime.py"),
            include_str!("../python/cairn_moto/consistency.py"),
            include_str!("../python/cairn_moto/middleware.py"),
            include_str!("../python/cairn_moto/twin.py"),
            include_str!("../python/cairn_moto/server.py"),
            include_str!("../python/cairn_moto/throttle.py"),
        ];
        let mut missing = vec![];
        for text in sources {
            for name in text.split('"').filter(|s| s.starts_with("CAIRN_")) {
                if !INHERITED.contains(&name) && !SET_BY_SPAWN.contains(&name) {
                    missing.push(name);
                }
            }
        }
        assert!(
            missing.is_empty(),
            "not passed to the emulator: {missing:?}"
        );
    }
}
