//! The emulator's home: under the user's cache directory, private, and
//! refused when another user could have put code in it. These tests change
//! the process environment, so they run one at a time.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use cairn_emulator::{emulator_home, ensure_python_package, ensure_venv, EmulatorError};
use miette::Diagnostic;

static ENV: Mutex<()> = Mutex::new(());

/// Runs `f` with exactly these of the home-related variables set.
fn with_env<T>(vars: &[(&str, Option<&Path>)], f: impl FnOnce() -> T) -> T {
    let _g = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let names = ["CAIRN_EMULATOR_HOME", "XDG_CACHE_HOME", "HOME"];
    let saved: Vec<_> = names.iter().map(|n| (*n, std::env::var_os(n))).collect();
    for n in names {
        std::env::remove_var(n);
    }
    for (n, v) in vars {
        if let Some(v) = v {
            std::env::set_var(n, v);
        }
    }
    let out = f();
    for (n, v) in saved {
        match v {
            Some(v) => std::env::set_var(n, v),
            None => std::env::remove_var(n),
        }
    }
    out
}

fn code(e: &EmulatorError) -> String {
    e.code().map(|c| c.to_string()).unwrap_or_default()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_default_home_is_under_the_users_cache_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let home = with_env(&[("HOME", Some(tmp.path()))], emulator_home).expect("home");
    assert_eq!(home, tmp.path().join(".cache/cairn/emulator"));
    assert_eq!(mode(&home), 0o700);
}

#[test]
fn no_home_at_all_is_an_error_not_a_shared_folder() {
    let err = with_env(&[], emulator_home).expect_err("no /tmp fallback");
    assert_eq!(code(&err), "cairn::emulator::home_unset");
}

#[test]
fn xdg_cache_home_wins_over_home() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    let home = with_env(
        &[("HOME", Some(tmp.path())), ("XDG_CACHE_HOME", Some(&xdg))],
        emulator_home,
    )
    .expect("home");
    assert_eq!(home, xdg.join("cairn/emulator"));
}

#[test]
fn the_python_package_is_not_written_into_a_home_others_can_write() {
    let tmp = tempfile::tempdir().unwrap();
    let shared = tmp.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let r = with_env(
        &[("CAIRN_EMULATOR_HOME", Some(&shared))],
        ensure_python_package,
    );
    let err = r.expect_err("a world-writable home was used");
    assert_eq!(code(&err), "cairn::emulator::home_unsafe");
    assert!(err.to_string().contains("mode 777"), "{err}");
    assert!(!shared.join("python").exists());
    let venv = with_env(&[("CAIRN_EMULATOR_HOME", Some(&shared))], ensure_venv);
    assert_eq!(
        code(&venv.expect_err("venv")),
        "cairn::emulator::home_unsafe"
    );
}

/// A directory owned by someone else: as root, a fresh one handed to
/// `nobody`; otherwise `/`, which belongs to root.
fn foreign_dir(tmp: &Path) -> PathBuf {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let d = tmp.join("foreign");
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::chown(&d, Some(65534), Some(65534)).unwrap();
        d
    } else {
        PathBuf::from("/")
    }
}

#[test]
fn the_python_package_is_not_written_into_a_home_owned_by_another_user() {
    let tmp = tempfile::tempdir().unwrap();
    let foreign = foreign_dir(tmp.path());
    assert_ne!(std::fs::metadata(&foreign).unwrap().uid(), unsafe {
        libc::geteuid()
    });
    let r = with_env(
        &[("CAIRN_EMULATOR_HOME", Some(&foreign))],
        ensure_python_package,
    );
    let err = r.expect_err("a home owned by another user was used");
    assert_eq!(code(&err), "cairn::emulator::home_unsafe");
    assert!(err.to_string().contains("owned by uid"), "{err}");
}

#[test]
fn a_new_home_is_private() {
    let tmp = tempfile::tempdir().unwrap();
    let root = with_env(&[("HOME", Some(tmp.path()))], ensure_python_package)
        .expect("a fresh home under the cache directory");
    let home = tmp.path().join(".cache/cairn/emulator");
    assert_eq!(root, home.join("python"));
    assert_eq!(mode(&home), 0o700);
}
