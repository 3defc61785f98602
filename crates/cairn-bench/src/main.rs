//! `cargo xtask bench`: the project's speed and memory targets, measured on
//! release builds and checked. Prints every figure `docs/benchmarks.md`
//! quotes and exits 1 when a target is missed or a run fails.
//!
//! - default: generated `core:Data` stacks through the release `cairn`
//!   binary (built without the AWS provider), the state store's journal and
//!   lock in process, and `preview` on every hostile corpus file.
//! - `--aws`: `up --stack prod --local` against the emulator with 100 ms
//!   added to every API call (needs the emulator's virtualenv).
//! - `--aws-scale [--sizes 1000,5000] [--throttle 0.3]`: generated stacks
//!   of batchable AWS types against the emulator (`aws_scale.rs`).
//! - `--write`: also replace the figures in `docs/benchmarks.md`.

mod aws;
mod aws_scale;
mod corpus;
mod engine;
mod state;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// A documented target and what this run measured.
pub struct Target {
    pub what: String,
    pub limit: f64,
    pub unit: &'static str,
    pub measured: f64,
}

impl Target {
    pub fn new(what: &str, limit: f64, unit: &'static str, measured: f64) -> Target {
        Target {
            what: what.to_string(),
            limit,
            unit,
            measured,
        }
    }

    pub fn met(&self) -> bool {
        self.measured < self.limit
    }
}

/// A section of the report: a markdown table, its name in the doc, and the
/// targets it checks.
pub struct Section {
    pub name: &'static str,
    pub table: String,
    pub targets: Vec<Target>,
    /// A run inside the section failed (a command exited wrongly).
    pub failed: bool,
}

pub struct Measured {
    pub wall_s: f64,
    pub max_rss_mb: f64,
    pub code: Option<i32>,
}

impl Measured {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

/// Runs `cairn` with output discarded; wall time and peak RSS from `wait4`.
// The child is reaped by `wait4` (which also reports its peak RSS).
#[allow(clippy::zombie_processes)]
pub fn run(cairn: &Path, cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Measured {
    let start = Instant::now();
    let mut cmd = Command::new(cairn);
    cmd.args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let Ok(child) = cmd.spawn() else {
        return Measured {
            wall_s: 0.0,
            max_rss_mb: 0.0,
            code: None,
        };
    };
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    // SAFETY: pid is our child; status and usage are valid pointers.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall_s = start.elapsed().as_secs_f64();
    let code = (rc == pid && libc::WIFEXITED(status)).then(|| libc::WEXITSTATUS(status));
    Measured {
        wall_s,
        max_rss_mb: usage.ru_maxrss as f64 / 1024.0,
        code,
    }
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds the release `cairn` binary (cargo's progress shows) and returns it.
pub fn build_cairn(with_aws: bool) -> PathBuf {
    eprintln!(
        "bench: building the release cairn binary ({}; the first build takes several minutes)…",
        if with_aws {
            "with the AWS provider"
        } else {
            "without the AWS provider"
        }
    );
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(["build", "--release", "-p", "cairn-cli", "--bin", "cairn"]);
    if !with_aws {
        cmd.arg("--no-default-features");
    }
    if !cmd.current_dir(root()).status().is_ok_and(|s| s.success()) {
        eprintln!("bench: could not build the release cairn binary");
        std::process::exit(1);
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join("release/cairn")
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| {
        eprintln!("bench: no temporary directory: {e}");
        std::process::exit(1)
    })
}

/// Replaces the text between `<!-- name:begin -->` and `<!-- name:end -->`.
fn replace_section(doc: &Path, name: &str, table: &str) {
    let old = std::fs::read_to_string(doc).unwrap_or_default();
    let (begin, end) = (
        format!("<!-- {name}:begin -->"),
        format!("<!-- {name}:end -->"),
    );
    let fresh = match (old.find(&begin), old.find(&end)) {
        (Some(b), Some(e)) if b < e => format!("{}{begin}\n{table}{}", &old[..b], &old[e..]),
        _ => format!("{old}\n{begin}\n{table}{end}\n"),
    };
    if let Err(e) = std::fs::write(doc, fresh) {
        eprintln!("bench: cannot write {}: {e}", doc.display());
    }
}

fn targets_table(sections: &[Section]) -> String {
    let mut t = String::from("| target | limit | measured | |\n|---|---:|---:|---|\n");
    for target in sections.iter().flat_map(|s| &s.targets) {
        let _ = writeln!(
            t,
            "| {} | {} {unit} | {:.2} {unit} | {} |",
            target.what,
            target.limit,
            target.measured,
            if target.met() { "met" } else { "**MISSED**" },
            unit = target.unit
        );
    }
    t
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut scale = aws_scale::Options {
        sizes: vec![1000, 5000],
        throttle: 0.3,
    };
    let mut rest = args.iter();
    while let Some(a) = rest.next() {
        match a.as_str() {
            "--write" | "--aws" | "--aws-scale" => {}
            "--sizes" => {
                let sizes: Option<Vec<usize>> = rest
                    .next()
                    .map(|v| v.split(',').map(|n| n.trim().parse().ok()).collect())
                    .unwrap_or(None);
                match sizes {
                    Some(s) if !s.is_empty() && s.iter().all(|n| *n >= 10) => scale.sizes = s,
                    _ => {
                        eprintln!(
                            "bench: --sizes takes a list of sizes of at least 10, e.g. 1000,5000"
                        );
                        std::process::exit(2);
                    }
                }
            }
            "--throttle" => match rest.next().and_then(|v| v.parse::<f64>().ok()) {
                Some(r) if (0.0..=1.0).contains(&r) => scale.throttle = r,
                _ => {
                    eprintln!("bench: --throttle takes a rate from 0 to 1, e.g. 0.3");
                    std::process::exit(2);
                }
            },
            unknown => {
                eprintln!(
                    "bench: unknown argument {unknown}; use --aws, --aws-scale [--sizes N,M] [--throttle R] and/or --write"
                );
                std::process::exit(2);
            }
        }
    }
    let write = args.iter().any(|a| a == "--write");
    let sections = if args.iter().any(|a| a == "--aws-scale") {
        vec![aws_scale::bench(&build_cairn(true), &scale)]
    } else if args.iter().any(|a| a == "--aws") {
        vec![aws::bench(&build_cairn(true))]
    } else {
        let cairn = build_cairn(false);
        // The in-process state bench last: a child's peak RSS counts this
        // process's size when it spawns.
        vec![engine::bench(&cairn), corpus::bench(&cairn), state::bench()]
    };
    for s in &sections {
        println!("{}:\n\n{}", s.name, s.table);
    }
    let all: Vec<&Target> = sections.iter().flat_map(|s| &s.targets).collect();
    if !all.is_empty() {
        println!("targets:\n\n{}", targets_table(&sections));
    }
    if write {
        let doc = root().join("docs/benchmarks.md");
        for s in &sections {
            replace_section(&doc, s.name, &s.table);
        }
        if !all.is_empty() {
            replace_section(&doc, "bench-targets", &targets_table(&sections));
        }
    }
    let missed: Vec<&&Target> = all.iter().filter(|t| !t.met()).collect();
    let failed: Vec<&str> = sections
        .iter()
        .filter(|s| s.failed)
        .map(|s| s.name)
        .collect();
    for t in &missed {
        eprintln!(
            "bench: target missed: {}: {:.2} {unit}, limit {} {unit}",
            t.what,
            t.measured,
            t.limit,
            unit = t.unit
        );
    }
    for name in &failed {
        eprintln!("bench: a run failed in {name} (marked FAILED above)");
    }
    if !missed.is_empty() || !failed.is_empty() {
        std::process::exit(1);
    }
}
