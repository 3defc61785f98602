//! `cargo xtask bench`: runs the release `cairn` binary on generated stacks of
//! `core:Data` resources (10% of them in dependency chains) and reports the
//! wall time and peak RSS of `up`, a no-op `preview`, and `destroy`.
//! Writes the table to stdout; `--write` also updates docs/benchmarks.md.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// A stack of `n` resources; every tenth resource starts or continues a chain.
fn generate(n: usize) -> String {
    let mut y = String::with_capacity(n * 80);
    let _ = writeln!(y, "name: bench-{n}\nresources:");
    for i in 0..n {
        if i % 10 == 0 && i >= 10 {
            let _ = writeln!(y, "  r{i}:\n    type: core:Data\n    properties:\n      input: \"${{r{}.output}}-{i}\"", i - 10);
        } else {
            let _ = writeln!(
                y,
                "  r{i}:\n    type: core:Data\n    properties:\n      input: value-{i}"
            );
        }
    }
    y
}

struct Measured {
    wall_s: f64,
    max_rss_mb: f64,
    ok: bool,
}

fn run(cairn: &Path, args: &[&str], env: &[(&str, &str)]) -> Measured {
    let start = Instant::now();
    let mut cmd = Command::new(cairn);
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let Ok(child) = cmd.spawn() else {
        return Measured {
            wall_s: 0.0,
            max_rss_mb: 0.0,
            ok: false,
        };
    };
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    // SAFETY: pid is our child; status and usage are valid pointers.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall_s = start.elapsed().as_secs_f64();
    Measured {
        wall_s,
        max_rss_mb: usage.ru_maxrss as f64 / 1024.0,
        ok: rc == pid && status == 0,
    }
}

fn main() {
    let write = std::env::args().any(|a| a == "--write");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cairn = root.join("target/release/cairn");
    let built = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "cairn-cli",
            "--bin",
            "cairn",
        ])
        .current_dir(&root)
        .status();
    if !built.is_ok_and(|s| s.success()) {
        eprintln!("bench: could not build the release cairn binary");
        std::process::exit(1);
    }
    let mut table = String::from(
        "| resources | command | wall time (s) | peak RSS (MB) |\n|---:|---|---:|---:|\n",
    );
    let mut failed = false;
    for n in [1_000usize, 10_000] {
        let Ok(dir) = tempfile::tempdir() else {
            std::process::exit(1)
        };
        let file = dir.path().join("stack.yaml");
        if std::fs::write(&file, generate(n)).is_err() {
            std::process::exit(1);
        }
        let file = file.display().to_string();
        let state = dir.path().join("state").display().to_string();
        let env = [("STACK_PASSPHRASE", "bench-passphrase"), ("NO_COLOR", "1")];
        for (label, args) in [
            (
                "up",
                vec!["up", "--yes", "--stack-file", &file, "--state-dir", &state],
            ),
            (
                "preview (no-op)",
                vec!["preview", "--stack-file", &file, "--state-dir", &state],
            ),
            (
                "destroy",
                vec![
                    "destroy",
                    "--yes",
                    "--stack-file",
                    &file,
                    "--state-dir",
                    &state,
                ],
            ),
        ] {
            let m = run(&cairn, &args, &env);
            failed |= !m.ok;
            let note = if m.ok { "" } else { " (FAILED)" };
            let _ = writeln!(
                table,
                "| {n} | `{label}`{note} | {:.2} | {:.0} |",
                m.wall_s, m.max_rss_mb
            );
        }
    }
    print!("{table}");
    if write {
        let doc = root.join("docs/benchmarks.md");
        let old = std::fs::read_to_string(&doc).unwrap_or_default();
        let (begin, end) = ("<!-- engine-bench:begin -->", "<!-- engine-bench:end -->");
        let fresh = match (old.find(begin), old.find(end)) {
            (Some(b), Some(e)) if b < e => format!("{}{begin}\n{table}{}", &old[..b], &old[e..]),
            _ => format!("{old}\n{begin}\n{table}{end}\n"),
        };
        let _ = std::fs::write(&doc, fresh);
    }
    if failed {
        std::process::exit(1);
    }
}
