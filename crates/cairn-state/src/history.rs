//! `<root>/<stack>/history.jsonl` (0600): one line per run that changed
//! the stack (`up`, `destroy`, `refresh`, `import`), for `cairn stack
//! history`. Local only: a remote backend's working copy does not keep it.
//!
//! ```json
//! {"format":1,"started_at":"…","finished_at":"…","user":"ana","host":"box",
//!  "command":"cairn up --stack dev","result":"succeeded","summary":"2 to create"}
//! ```
//!
//! The command is the one the writer lock records, with `--config` values
//! redacted.

use crate::error::StateError;
use crate::lock::{rfc3339_now, LockInfo};
use crate::store::StackPaths;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The history line format this build writes and reads.
pub const HISTORY_FORMAT: u32 = 1;

/// One run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRecordV1 {
    pub format: u32,
    pub started_at: String,
    pub finished_at: String,
    pub user: String,
    pub host: String,
    pub command: String,
    /// `succeeded` or `failed`.
    pub result: String,
    pub summary: String,
}

impl HistoryRecordV1 {
    /// A record of this process's run, finishing now.
    pub fn finished(started_at: String, ok: bool, summary: impl Into<String>) -> HistoryRecordV1 {
        let info = LockInfo::current();
        let user = ["USER", "LOGNAME"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| "unknown".into());
        HistoryRecordV1 {
            format: HISTORY_FORMAT,
            started_at,
            finished_at: rfc3339_now(),
            user,
            host: info.host,
            command: info.command,
            result: if ok { "succeeded" } else { "failed" }.into(),
            summary: summary.into(),
        }
    }
}

/// Now, RFC 3339 UTC (a run's `started_at`).
pub fn now() -> String {
    rfc3339_now()
}

fn file(paths: &StackPaths) -> PathBuf {
    paths.dir.join("history.jsonl")
}

/// Appends one line (fsynced).
pub(crate) fn append(paths: &StackPaths, record: &HistoryRecordV1) -> Result<(), StateError> {
    let path = file(paths);
    let mut line = serde_json::to_vec(record).map_err(|e| StateError::corrupt("history", e))?;
    line.push(b'\n');
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| StateError::io("opening", &path, e))?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .and_then(|()| f.write_all(&line))
        .and_then(|()| f.sync_all())
        .map_err(|e| StateError::io("writing", &path, e))
}

/// Every recorded run, oldest first; none for a stack without history.
pub fn read(root: &Path, stack: &str) -> Result<Vec<HistoryRecordV1>, StateError> {
    let path = file(&StackPaths::new(root, stack)?);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StateError::io("reading", &path, e)),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            let what = || format!("history {} line {}", path.display(), i + 1);
            let header: crate::dto::Header =
                serde_json::from_str(l).map_err(|e| StateError::corrupt(what(), e))?;
            if header.format != u64::from(HISTORY_FORMAT) {
                return Err(StateError::UnsupportedFormat {
                    what: what(),
                    found: header.format,
                    supported: HISTORY_FORMAT,
                });
            }
            serde_json::from_str(l).map_err(|e| StateError::corrupt(what(), e))
        })
        .collect()
}
