//! Cached Python virtualenv with the pinned moto, and the embedded `cairn_moto` package.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use crate::EmulatorError;

/// The pinned moto version.
pub const MOTO_VERSION: &str = "5.2.5";
/// Everything pip installs into the venv (one requirement per element).
/// cfn-lint ships AWS's CloudFormation resource schemas, which a cairn-aws
/// test reads (`createOnlyProperties`) to check the replace-on-change flags.
pub const REQUIREMENTS: &[&str] = &["moto[server]==5.2.5", "cfn-lint==1.58.0"];
const MARKER: &str = ".cairn-emulator-requirements";

/// The `cairn_moto` Python package, embedded so the crate works from any install location.
const PY_FILES: &[(&str, &str)] = &[
    (
        "__init__.py",
        include_str!("../python/cairn_moto/__init__.py"),
    ),
    (
        "__main__.py",
        include_str!("../python/cairn_moto/__main__.py"),
    ),
    (
        "consistency.py",
        include_str!("../python/cairn_moto/consistency.py"),
    ),
    (
        "ec2_ext.py",
        include_str!("../python/cairn_moto/ec2_ext.py"),
    ),
    (
        "ec2_routes_ext.py",
        include_str!("../python/cairn_moto/ec2_routes_ext.py"),
    ),
    (
        "eks_ext.py",
        include_str!("../python/cairn_moto/eks_ext.py"),
    ),
    (
        "elasticache_ext.py",
        include_str!("../python/cairn_moto/elasticache_ext.py"),
    ),
    (
        "middleware.py",
        include_str!("../python/cairn_moto/middleware.py"),
    ),
    (
        "scale_ext.py",
        include_str!("../python/cairn_moto/scale_ext.py"),
    ),
    (
        "iam_ext.py",
        include_str!("../python/cairn_moto/iam_ext.py"),
    ),
    ("params.py", include_str!("../python/cairn_moto/params.py")),
    (
        "rds_ext.py",
        include_str!("../python/cairn_moto/rds_ext.py"),
    ),
    (
        "rds_instance_ext.py",
        include_str!("../python/cairn_moto/rds_instance_ext.py"),
    ),
    ("resp.py", include_str!("../python/cairn_moto/resp.py")),
    (
        "runtime.py",
        include_str!("../python/cairn_moto/runtime.py"),
    ),
    ("s3_ext.py", include_str!("../python/cairn_moto/s3_ext.py")),
    ("seed.py", include_str!("../python/cairn_moto/seed.py")),
    ("server.py", include_str!("../python/cairn_moto/server.py")),
    (
        "throttle.py",
        include_str!("../python/cairn_moto/throttle.py"),
    ),
    ("twin.py", include_str!("../python/cairn_moto/twin.py")),
];

static IN_PROCESS: Mutex<()> = Mutex::new(());

/// The workspace root: `CARGO_MANIFEST_DIR/../..` when it still exists (compile-time
/// location), else the nearest ancestor of the current directory whose `Cargo.toml`
/// declares `[workspace]`.
pub fn workspace_root() -> Option<PathBuf> {
    fn is_ws(dir: &Path) -> bool {
        fs::read_to_string(dir.join("Cargo.toml"))
            .map(|s| s.contains("[workspace]"))
            .unwrap_or(false)
    }
    let compiled = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    if is_ws(&compiled) {
        return compiled.canonicalize().ok();
    }
    let mut dir = std::env::current_dir().ok()?;
    loop {
        if is_ws(&dir) {
            return Some(dir);
        }
        if !dir.pop() {
            return None;
        }
    }
}

/// Where the emulator's home is, without touching it: `$CAIRN_EMULATOR_HOME`,
/// else `$XDG_CACHE_HOME/cairn/emulator`, else `$HOME/.cache/cairn/emulator`.
/// Never a shared folder such as `/tmp`.
pub(crate) fn home_path() -> Result<PathBuf, EmulatorError> {
    let var = |n: &str| std::env::var_os(n).filter(|v| !v.is_empty());
    if let Some(h) = var("CAIRN_EMULATOR_HOME") {
        return Ok(PathBuf::from(h));
    }
    let cache = var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .ok_or(EmulatorError::HomeUnset)?;
    Ok(cache.join("cairn").join("emulator"))
}

/// Emulator home (see [`home_path`]), created mode 0700 when missing. Holds
/// `venv/`, `python/` (both run as code) and the default `state/`, so a home
/// that another user owns or may write is refused.
pub fn emulator_home() -> Result<PathBuf, EmulatorError> {
    let home = home_path()?;
    if !home.exists() {
        if let Some(parent) = home.parent() {
            fs::create_dir_all(parent)
                .map_err(EmulatorError::io(format!("creating {}", parent.display())))?;
        }
        let made = fs::DirBuilder::new().mode(0o700).create(&home);
        if let Err(e) = made {
            if e.kind() != std::io::ErrorKind::AlreadyExists {
                return Err(EmulatorError::io(format!("creating {}", home.display()))(e));
            }
        }
    }
    check_private(&home)?;
    Ok(home)
}

/// Refuses a directory that is not ours or that others may write.
fn check_private(dir: &Path) -> Result<(), EmulatorError> {
    let meta =
        fs::metadata(dir).map_err(EmulatorError::io(format!("reading {}", dir.display())))?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let problem = unsafe_dir_problem(meta.is_dir(), meta.uid(), meta.mode(), me);
    match problem {
        None => Ok(()),
        Some(problem) => Err(EmulatorError::HomeUnsafe {
            home: dir.to_path_buf(),
            problem,
        }),
    }
}

/// Why a directory with this owner and mode is not private to `me`.
fn unsafe_dir_problem(is_dir: bool, uid: u32, mode: u32, me: u32) -> Option<String> {
    if !is_dir {
        Some("it is not a directory".into())
    } else if uid != me {
        Some(format!("it is owned by uid {uid}, not by you (uid {me})"))
    } else if mode & 0o022 != 0 {
        Some(format!("others may write it (mode {:o})", mode & 0o777))
    } else {
        None
    }
}

/// Path of the cached virtualenv (it may not exist yet).
pub fn venv_dir() -> Result<PathBuf, EmulatorError> {
    Ok(emulator_home()?.join("venv"))
}

/// Interpreter inside a venv.
pub fn venv_python(venv: &Path) -> PathBuf {
    venv.join("bin").join("python")
}

fn marker_contents() -> String {
    format!("{}\n", REQUIREMENTS.join("\n"))
}

fn venv_is_ready(venv: &Path) -> bool {
    venv_python(venv).exists()
        && fs::read_to_string(venv.join(MARKER))
            .map(|m| m == marker_contents())
            .unwrap_or(false)
}

/// Exclusive advisory lock on a file (released when the returned handle is dropped).
struct FileLock(fs::File);

impl FileLock {
    fn acquire(path: &Path) -> Result<Self, EmulatorError> {
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(EmulatorError::io(format!(
                "opening lock file {}",
                path.display()
            )))?;
        use std::os::unix::io::AsRawFd;
        // SAFETY: flock on a valid, owned file descriptor.
        let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
        if rc != 0 {
            return Err(EmulatorError::Io {
                context: format!("locking {}", path.display()),
                source: std::io::Error::last_os_error(),
            });
        }
        Ok(FileLock(f))
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        use std::os::unix::io::AsRawFd;
        // SAFETY: unlocking the descriptor we locked.
        unsafe {
            libc::flock(self.0.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

fn run(cmd: &mut Command, venv: &Path, what: &str) -> Result<(), EmulatorError> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| EmulatorError::Venv {
            venv: venv.to_path_buf(),
            message: format!("{what}: {e}"),
        })?;
    if !out.status.success() {
        let mut msg = String::from_utf8_lossy(&out.stderr).into_owned();
        msg.push_str(&String::from_utf8_lossy(&out.stdout));
        let tail: String = msg
            .chars()
            .rev()
            .take(4000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return Err(EmulatorError::Venv {
            venv: venv.to_path_buf(),
            message: format!("{what} failed ({}):\n{tail}", out.status),
        });
    }
    Ok(())
}

fn host_python() -> Result<String, EmulatorError> {
    let python = std::env::var("CAIRN_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let out = Command::new(&python)
        .args([
            "-c",
            "import sys, venv; assert sys.version_info >= (3, 9), sys.version",
        ])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| EmulatorError::PythonMissing {
            detail: format!("running `{python}`: {e}"),
        })?;
    if !out.status.success() {
        return Err(EmulatorError::PythonMissing {
            detail: format!(
                "`{python}`: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(python)
}

/// Create (once) the cached virtualenv with the pinned `moto[server]`; returns its path.
///
/// Idempotent and safe to call concurrently from several threads/processes
/// (in-process mutex + `flock` on `<home>/venv.lock`). A venv is reused only if
/// its marker file lists exactly [`REQUIREMENTS`].
pub fn ensure_venv() -> Result<PathBuf, EmulatorError> {
    let home = emulator_home()?;
    let venv = home.join("venv");
    let _guard = IN_PROCESS.lock().unwrap_or_else(|e| e.into_inner());
    if venv_is_ready(&venv) {
        check_private(&venv)?;
        return Ok(venv);
    }
    let _lock = FileLock::acquire(&home.join("venv.lock"))?;
    if venv_is_ready(&venv) {
        return Ok(venv);
    }
    let python = host_python()?;
    if venv.exists() {
        fs::remove_dir_all(&venv).map_err(EmulatorError::io(format!(
            "removing stale {}",
            venv.display()
        )))?;
    }
    run(
        Command::new(&python).arg("-m").arg("venv").arg(&venv),
        &venv,
        "python3 -m venv",
    )?;
    let vpy = venv_python(&venv);
    let mut pip = Command::new(&vpy);
    pip.args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "-q",
    ]);
    pip.args(REQUIREMENTS);
    run(&mut pip, &venv, "pip install moto")?;
    let check = format!(
        "import moto, werkzeug, cryptography, boto3; assert moto.__version__ == '{MOTO_VERSION}', moto.__version__"
    );
    run(
        Command::new(&vpy).args(["-c", &check]),
        &venv,
        "verifying moto",
    )?;
    fs::write(venv.join(MARKER), marker_contents()).map_err(EmulatorError::io(format!(
        "writing {}",
        venv.join(MARKER).display()
    )))?;
    Ok(venv)
}

/// Write the embedded `cairn_moto` package under `<home>/python` (only files whose
/// contents changed, atomically) and return the directory to put on `PYTHONPATH`.
pub fn ensure_python_package() -> Result<PathBuf, EmulatorError> {
    let root = emulator_home()?.join("python");
    let pkg = root.join("cairn_moto");
    fs::create_dir_all(&pkg).map_err(EmulatorError::io(format!("creating {}", pkg.display())))?;
    for (name, contents) in PY_FILES {
        let path = pkg.join(name);
        if fs::read_to_string(&path)
            .map(|c| c == *contents)
            .unwrap_or(false)
        {
            continue;
        }
        let mut tmp = tempfile::NamedTempFile::new_in(&pkg)
            .map_err(EmulatorError::io(format!("writing {}", path.display())))?;
        tmp.write_all(contents.as_bytes())
            .map_err(EmulatorError::io(format!("writing {}", path.display())))?;
        tmp.persist(&path).map_err(|e| EmulatorError::Io {
            context: format!("writing {}", path.display()),
            source: e.error,
        })?;
    }
    Ok(root)
}

/// Locate `redis-server` (`$CAIRN_REDIS_SERVER` or `PATH`).
pub fn find_redis_server() -> Result<PathBuf, EmulatorError> {
    if let Some(p) = std::env::var_os("CAIRN_REDIS_SERVER").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        return Err(EmulatorError::RedisMissing {
            detail: format!("$CAIRN_REDIS_SERVER={}", p.display()),
        });
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let cand = dir.join("redis-server");
        if cand.is_file() {
            return Ok(cand);
        }
    }
    Err(EmulatorError::RedisMissing {
        detail: "redis-server is not on PATH".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_directory_is_ours_and_not_writable_by_others() {
        assert_eq!(unsafe_dir_problem(true, 1000, 0o40700, 1000), None);
        assert_eq!(unsafe_dir_problem(true, 1000, 0o40755, 1000), None);
        let foreign = unsafe_dir_problem(true, 0, 0o40700, 1000).unwrap();
        assert!(foreign.contains("owned by uid 0"), "{foreign}");
        let shared = unsafe_dir_problem(true, 1000, 0o41777, 1000).unwrap();
        assert!(shared.contains("mode 777"), "{shared}");
        assert!(unsafe_dir_problem(true, 1000, 0o40770, 1000).is_some());
        assert!(unsafe_dir_problem(false, 1000, 0o100600, 1000).is_some());
    }
}
