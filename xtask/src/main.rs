//! `cargo xtask`: project tasks, and everything else handed to the cairn CLI.
//!
//! - `cargo xtask test [--slow]`: install what the tests need (redis-server
//!   from Debian's packages when missing; the pinned emulator's virtualenv),
//!   then run every test.
//! - `cargo xtask bench`: the engine benchmarks (release build).
//! - anything else: `cairn <args>` (e.g. `cargo xtask up --stack prod`).
//!
//! This crate has no dependencies so that it compiles in a second.

use std::env;
use std::process::{Command, ExitCode};

fn cargo() -> Command {
    Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn status(cmd: &mut Command) -> ExitCode {
    match cmd.status() {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => ExitCode::from(s.code().unwrap_or(1).clamp(1, 255) as u8),
        Err(e) => {
            eprintln!("xtask: cannot run {cmd:?}: {e}");
            ExitCode::from(1)
        }
    }
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null 2>&1")])
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs redis-server (Debian) when it is missing.
fn ensure_redis() -> Result<(), String> {
    if have("redis-server") && have("redis-cli") {
        return Ok(());
    }
    eprintln!("xtask: installing redis-server and redis-tools from Debian's packages");
    let sudo = if have("sudo") && !is_root() {
        "sudo "
    } else {
        ""
    };
    let script = format!(
        "{sudo}apt-get update -qq && DEBIAN_FRONTEND=noninteractive {sudo}apt-get install -y -qq redis-server redis-tools"
    );
    match Command::new("sh").args(["-c", &script]).status() {
        Ok(s) if s.success() => Ok(()),
        _ => Err(
            "could not install redis-server; install Debian's redis-server and redis-tools".into(),
        ),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn test(args: &[String]) -> ExitCode {
    if let Err(e) = ensure_redis() {
        eprintln!("xtask: {e}");
        return ExitCode::from(1);
    }
    // Build every test once, with the workspace's unified features, so the
    // `cairn` binary used below is the one the tests use (no second build).
    let nextest = have("cargo-nextest");
    let build = if nextest {
        status(cargo().args(["nextest", "run", "--workspace", "--no-run"]))
    } else {
        status(cargo().args(["test", "--workspace", "--no-run"]))
    };
    if build != ExitCode::SUCCESS {
        return build;
    }
    // Creates the pinned moto virtualenv once (cached under the target dir).
    let target = env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| format!("{}/../target", env!("CARGO_MANIFEST_DIR")));
    let code = status(Command::new(format!("{target}/debug/cairn")).args(["emulator", "install"]));
    if code != ExitCode::SUCCESS {
        return code;
    }
    let slow = args.iter().any(|a| a == "--slow");
    let mut cmd = cargo();
    if nextest {
        cmd.args(["nextest", "run", "--workspace", "--no-fail-fast"]);
    } else {
        cmd.args(["test", "--workspace", "--no-fail-fast"]);
    }
    if slow {
        cmd.env("CAIRN_SLOW_TESTS", "1");
    }
    status(&mut cmd)
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("bench") => status(
            cargo()
                .args(["run", "--quiet", "--release", "-p", "cairn-bench", "--"])
                .args(&args[1..]),
        ),
        _ => {
            // `--local` backs replication groups with real redis-server processes.
            if args.iter().any(|a| a == "--local") {
                if let Err(e) = ensure_redis() {
                    eprintln!("xtask: {e}");
                    return ExitCode::from(1);
                }
            }
            status(
                cargo()
                    .args(["run", "--quiet", "-p", "cairn-cli", "--bin", "cairn", "--"])
                    .args(&args),
            )
        }
    }
}
