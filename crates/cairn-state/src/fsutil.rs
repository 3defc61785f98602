//! File-system helpers: private directories and files with explicit modes
//! (independent of the process umask), atomic writes.

use crate::error::StateError;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub(crate) const DIR_MODE: u32 = 0o700;
pub(crate) const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents, each 0700) if absent, and sets it to 0700.
pub(crate) fn ensure_private_dir(dir: &Path) -> Result<(), StateError> {
    if !dir.is_dir() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir)
            .map_err(|e| StateError::io("creating directory", dir, e))?;
    }
    set_mode(dir, DIR_MODE)
}

/// Creates `dir` with 0700 only if absent; an existing directory is left as is
/// (the state root may be shared with other files the user keeps there).
pub(crate) fn ensure_dir_exists(dir: &Path) -> Result<(), StateError> {
    if dir.is_dir() {
        return Ok(());
    }
    ensure_private_dir(dir)
}

pub(crate) fn set_mode(path: &Path, mode: u32) -> Result<(), StateError> {
    fs::set_permissions(path, Permissions::from_mode(mode))
        .map_err(|e| StateError::io("setting permissions of", path, e))
}

/// Every directory under `dir` (inclusive) 0700, every regular file 0600.
/// Used on sled's directory, whose files sled creates with default modes.
pub(crate) fn secure_tree(dir: &Path) -> Result<(), StateError> {
    let meta = match fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StateError::io("reading", dir, e)),
    };
    if meta.is_dir() {
        if meta.permissions().mode() & 0o777 != DIR_MODE {
            set_mode(dir, DIR_MODE)?;
        }
        let entries = fs::read_dir(dir).map_err(|e| StateError::io("listing", dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| StateError::io("listing", dir, e))?;
            secure_tree(&entry.path())?;
        }
    } else if meta.is_file() && meta.permissions().mode() & 0o777 != FILE_MODE {
        match set_mode(dir, FILE_MODE) {
            // sled may remove a file (an old snapshot) while we walk.
            Err(StateError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            }
            other => other?,
        }
    }
    Ok(())
}

pub(crate) fn tmp_path(path: &Path) -> PathBuf {
    let mut nonce = [0u8; 6];
    let _ = getrandom::getrandom(&mut nonce);
    let suffix: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.{suffix}.tmp", std::process::id()))
}

/// A new 0600 file that does not exist yet, for writing.
pub(crate) fn create_private(path: &Path) -> Result<File, StateError> {
    let f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
        .map_err(|e| StateError::io("creating", path, e))?;
    // umask-independent: the mode above is masked by the umask.
    f.set_permissions(Permissions::from_mode(FILE_MODE))
        .map_err(|e| StateError::io("setting permissions of", path, e))?;
    Ok(f)
}

fn write_tmp(path: &Path, bytes: &[u8]) -> Result<PathBuf, StateError> {
    let tmp = tmp_path(path);
    let mut f = create_private(&tmp)?;
    let res = f
        .write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| StateError::io("writing", &tmp, e));
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res.map(|()| tmp)
}

/// Replaces `path` atomically with `bytes` (0600): tmp file, fsync, rename, fsync dir.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let tmp = write_tmp(path, bytes)?;
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(StateError::io("renaming into place", path, e));
    }
    sync_parent(path);
    Ok(())
}

/// Creates `path` (0600) with `bytes` only if it does not exist, atomically:
/// readers never see a partly written file. Fails with `AlreadyExists` inside
/// `StateError::Io` when it does.
pub(crate) fn write_new_file(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let tmp = write_tmp(path, bytes)?;
    let res = fs::hard_link(&tmp, path).map_err(|e| StateError::io("creating", path, e));
    let _ = fs::remove_file(&tmp);
    res?;
    sync_parent(path);
    Ok(())
}

/// Best effort: makes a rename or link in `path`'s directory durable.
pub(crate) fn sync_parent(path: &Path) {
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
}
