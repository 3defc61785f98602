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

// The child is reaped by `wait4` (which also reports its peak RSS).
#[allow(clippy::zombie_processes)]
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

/// `--aws`: `up --stack prod --local` with 100 ms added to every API call.
/// Compares the wall time with the critical path (the longest dependency
/// chain, weighted by each resource's own measured duration) and counts the
/// waiters' Describe calls.
fn aws_bench(root: &Path, write: bool) {
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
        .current_dir(root)
        .status();
    if !built.is_ok_and(|s| s.success()) {
        eprintln!("bench: could not build the release cairn binary");
        std::process::exit(1);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let cairn = target.join("release/cairn");
    let Ok(dir) = tempfile::tempdir() else {
        std::process::exit(1)
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(4599);
    let port_text = port.to_string();
    let state = dir.path().join("state").display().to_string();
    let emulator = dir.path().join("emulator").display().to_string();
    let env = [
        ("STACK_PASSPHRASE", "bench-passphrase"),
        ("NO_COLOR", "1"),
        ("LOCAL_AWS_PORT", port_text.as_str()),
        ("CAIRN_EMULATOR_STATE", emulator.as_str()),
        ("CAIRN_EMULATOR_DELAY_MS", "2000"),
        ("CAIRN_EMULATOR_LATENCY_MS", "100"),
        ("CAIRN_AWS_POLL_MS", "1000"),
        ("CAIRN_STATE_DIR", state.as_str()),
    ];
    let cmd = |args: &[&str]| {
        let mut c = Command::new(&cairn);
        c.args(args).current_dir(root);
        for (k, v) in env {
            c.env(k, v);
        }
        c
    };
    // Start and seed the emulator first, so the timed run is the engine's.
    let plan = cmd(&["preview", "--json", "--stack", "prod", "--local"]).output();
    let Ok(plan) = plan else {
        std::process::exit(1)
    };
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap_or_default();
    let _ = reqwest_less_post(port, "/_cairn/calls/reset");
    let start = Instant::now();
    let up = cmd(&["up", "--yes", "--stack", "prod", "--local"]).output();
    let wall = start.elapsed().as_secs_f64();
    let calls = calls_json(port);
    let _ = cmd(&["emulator", "stop"]).output();
    let Ok(up) = up else { std::process::exit(1) };
    let log = String::from_utf8_lossy(&up.stderr).into_owned();
    // "name: created (2.3s)" lines give each resource's own duration.
    let mut took = std::collections::HashMap::new();
    for line in log.lines() {
        if let Some((name, rest)) = line.split_once(": ") {
            if let Some(secs) = rest
                .rsplit_once('(')
                .and_then(|(_, t)| t.strip_suffix("s)"))
                .and_then(|t| t.parse::<f64>().ok())
            {
                took.insert(name.to_string(), secs);
            }
        }
    }
    let mut finish: std::collections::HashMap<String, f64> = std::collections::HashMap::new();
    for change in plan["resource_changes"].as_array().into_iter().flatten() {
        let name = change["name"].as_str().unwrap_or_default().to_string();
        let deps = change["dependencies"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let ready = deps
            .iter()
            .filter_map(|d| d.as_str())
            .filter_map(|d| finish.get(d))
            .fold(0.0f64, |a, b| a.max(*b));
        finish.insert(
            name.clone(),
            ready + took.get(&name).copied().unwrap_or(0.0),
        );
    }
    let critical = finish.values().fold(0.0f64, |a, b| a.max(*b));
    let describes: u64 = calls
        .iter()
        .filter(|(k, _)| k.contains(":Describe"))
        .map(|(_, v)| *v)
        .sum();
    let waiter_describes = calls
        .get("elasticache:DescribeReplicationGroups")
        .copied()
        .unwrap_or(0);
    let table = format!(
        "| run | wall time (s) | critical path (s) | overhead (s) | Describe calls (waiter: DescribeReplicationGroups) |\n|---|---:|---:|---:|---:|\n| `up --stack prod --local`, 100 ms per API call{} | {wall:.2} | {critical:.2} | {:.2} | {describes} ({waiter_describes}) |\n",
        if up.status.success() { "" } else { " (FAILED)" },
        wall - critical
    );
    print!("{table}");
    if write {
        replace_section(&root.join("docs/benchmarks.md"), "aws-bench", &table);
    }
}

/// POST with no body to the emulator's control API (loopback only).
fn reqwest_less_post(port: u16, path: &str) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut sink = Vec::new();
    s.read_to_end(&mut sink)?;
    Ok(())
}

fn calls_json(port: u16) -> std::collections::BTreeMap<String, u64> {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return Default::default();
    };
    let _ = write!(
        s,
        "GET /_cairn/calls HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    );
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str(body).unwrap_or_default()
}

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
    let _ = std::fs::write(doc, fresh);
}

fn main() {
    let write = std::env::args().any(|a| a == "--write");
    if std::env::args().any(|a| a == "--aws") {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        aws_bench(&root, write);
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let cairn = target.join("release/cairn");
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
        replace_section(&root.join("docs/benchmarks.md"), "engine-bench", &table);
    }
    if failed {
        std::process::exit(1);
    }
}
