//! The one-writer-per-stack lock: `<root>/<stack>.lock`.
//!
//! The file holds [`LockInfo`] as JSON and its holder keeps an exclusive
//! `flock` on it for as long as the store is open. The kernel drops a flock
//! when its process dies, however it dies, so a lock file whose flock can be
//! taken belongs to nobody: it is *stale*.
//!
//! Creation is atomic and the flock is held before the file becomes visible:
//! the info is written to a private temp file (`O_EXCL`), flocked, then
//! hard-linked to the lock path (`link(2)` fails if the path exists, like
//! `O_EXCL`), and the temp name is removed. No other process can observe a
//! half-written or not-yet-flocked lock file.

use crate::error::StateError;
use crate::fsutil;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// Who holds (or held) a stack's writer lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub host: String,
    pub pid: u32,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub command: String,
    /// The holder is gone: its flock is free, or it ran on this host and its
    /// pid is no longer alive. Computed when the lock is inspected, not stored.
    #[serde(skip)]
    pub stale: bool,
}

impl LockInfo {
    /// This process.
    pub fn current() -> LockInfo {
        let mut command = redact_config_values(std::env::args()).join(" ");
        if command.len() > 300 {
            let mut cut = 300;
            while !command.is_char_boundary(cut) {
                cut -= 1;
            }
            command.truncate(cut);
            command.push('…');
        }
        LockInfo {
            host: current_host(),
            pid: std::process::id(),
            started_at: rfc3339_now(),
            command,
            stale: false,
        }
    }
}

impl LockInfo {
    /// The holder ran on this host and its process is gone. (A lock held
    /// elsewhere, e.g. in a remote backend, can only be judged this way.)
    pub fn holder_gone_from_this_host(&self) -> bool {
        self.host == current_host() && !pid_alive(self.pid)
    }
}

/// The command line with every `--config KEY=VALUE` value starred out: a
/// value given there may be a secret, and the lock record is stored.
fn redact_config_values(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let star = |kv: &str| match kv.split_once('=') {
        Some((k, _)) => format!("{k}=***"),
        None => kv.to_string(),
    };
    let mut after_flag = false;
    args.into_iter()
        .map(|a| {
            let shown = if after_flag {
                star(&a)
            } else if let Some(kv) = a.strip_prefix("--config=") {
                format!("--config={}", star(kv))
            } else {
                a.clone()
            };
            after_flag = a == "--config";
            shown
        })
        .collect()
}

pub(crate) fn current_host() -> String {
    hostname::get()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".into())
}

/// A held writer lock; dropping it removes the lock file (if it is still ours).
#[derive(Debug)]
pub(crate) struct WriterLock {
    path: PathBuf,
    file: File,
}

impl WriterLock {
    /// Takes the lock or fails at once with `Locked`.
    pub(crate) fn acquire(path: &Path) -> Result<WriterLock, StateError> {
        let info = LockInfo::current();
        let json = serde_json::to_vec_pretty(&info).map_err(|e| StateError::Encrypt {
            detail: format!("serializing lock info: {e}"),
        })?;
        // Two attempts: a lock file can vanish between our failed link and
        // our look at it (its holder just exited).
        for _ in 0..2 {
            let tmp = fsutil::tmp_path(path);
            let mut file = fsutil::create_private(&tmp)?;
            let prepared = file
                .write_all(&json)
                .and_then(|()| file.sync_all())
                .map_err(|e| StateError::io("writing", &tmp, e))
                .and_then(|()| {
                    if try_flock(&file)? {
                        Ok(())
                    } else {
                        Err(StateError::io(
                            "locking",
                            &tmp,
                            std::io::Error::other("fresh file already flocked"),
                        ))
                    }
                });
            if let Err(e) = prepared {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
            let linked = std::fs::hard_link(&tmp, path);
            let _ = std::fs::remove_file(&tmp);
            match linked {
                Ok(()) => {
                    fsutil::sync_parent(path);
                    return Ok(WriterLock {
                        path: path.to_path_buf(),
                        file,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if let Some(holder) = inspect(path)? {
                        return Err(StateError::Locked(holder));
                    }
                }
                Err(e) => return Err(StateError::io("creating lock file", path, e)),
            }
        }
        match inspect(path)? {
            Some(holder) => Err(StateError::Locked(holder)),
            None => Err(StateError::io(
                "creating lock file",
                path,
                std::io::Error::other("lock file keeps changing; another process is racing for it"),
            )),
        }
    }

    fn still_ours(&self) -> bool {
        match (self.file.metadata(), std::fs::metadata(&self.path)) {
            (Ok(mine), Ok(there)) => mine.dev() == there.dev() && mine.ino() == there.ino(),
            _ => false,
        }
    }
}

impl Drop for WriterLock {
    fn drop(&mut self) {
        // After a force-unlock another writer may own the path now: leave it be.
        if self.still_ours() {
            let _ = std::fs::remove_file(&self.path);
            fsutil::sync_parent(&self.path);
        }
        // Closing `file` releases the flock.
    }
}

/// `Ok(true)` when we got the flock, `Ok(false)` when someone else holds it.
fn try_flock(file: &File) -> Result<bool, StateError> {
    // SAFETY: flock on a valid open fd has no memory-safety preconditions.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(StateError::io("locking", PathBuf::new(), err))
    }
}

fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Reads the lock file, if any, and decides whether its holder is gone.
pub(crate) fn inspect(path: &Path) -> Result<Option<LockInfo>, StateError> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StateError::io("opening lock file", path, e)),
    };
    let mut text = String::new();
    let read = file.read_to_string(&mut text);
    let flock_free = try_flock(&file).unwrap_or(false);
    drop(file); // releases the probe flock at once
    let parsed = read
        .map_err(|e| e.to_string())
        .and_then(|_| serde_json::from_str::<LockInfo>(&text).map_err(|e| e.to_string()));
    let mut info = match parsed {
        Ok(info) => info,
        Err(problem) => LockInfo {
            host: "unknown".into(),
            pid: 0,
            started_at: "unknown".into(),
            command: format!("(unreadable lock file {}: {problem})", path.display()),
            stale: false,
        },
    };
    info.stale = flock_free || (info.host == current_host() && !pid_alive(info.pid));
    Ok(Some(info))
}

/// Removes the lock file whoever holds it; returns what it said.
pub(crate) fn force_remove(path: &Path) -> Result<Option<LockInfo>, StateError> {
    let info = inspect(path)?;
    match std::fs::remove_file(path) {
        Ok(()) => fsutil::sync_parent(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(StateError::io("removing lock file", path, e)),
    }
    Ok(info)
}

/// Now as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

pub(crate) fn rfc3339(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let rem = unix_secs % 86_400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_values_never_reach_the_lock_record() {
        let args = [
            "cairn",
            "up",
            "--config",
            "token=hunter2",
            "--config=pw=s3cr3t",
            "--yes",
        ]
        .map(String::from);
        assert_eq!(
            redact_config_values(args).join(" "),
            "cairn up --config token=*** --config=pw=*** --yes"
        );
    }

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }
}
