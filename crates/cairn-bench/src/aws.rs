//! `--aws`: the prod stack against the emulator, 100 ms per API call.

use crate::{root, tempdir, Section};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// `--aws`: `up --stack prod --local` with 100 ms added to every API call.
/// Compares the wall time with the critical path (the longest dependency
/// chain, weighted by each resource's own measured duration) and counts the
/// waiters' Describe calls.
pub fn bench(cairn: &Path) -> Section {
    let root = root();
    let root = root.as_path();
    let dir = tempdir();
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
        ("CAIRN_LOG", crate::aws_scale::WAITER_LOG),
    ];
    let cmd = |args: &[&str]| {
        let mut c = Command::new(cairn);
        c.args(args).current_dir(root);
        for (k, v) in env {
            c.env(k, v);
        }
        c
    };
    // Start the emulator and bring up the network stack the Redis stack
    // references first, so the timed run is the Redis stack's alone.
    let _ = cmd(&["up", "--yes", "--stack", "network-prod", "--local"]).output();
    let plan = cmd(&["preview", "--json", "--stack", "prod", "--local"]).output();
    let Ok(plan) = plan else {
        eprintln!("bench: cannot run {}", cairn.display());
        std::process::exit(1)
    };
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap_or_default();
    let _ = reqwest_less_post(port, "/_cairn/calls/reset");
    let start = Instant::now();
    let up = cmd(&["up", "--yes", "--stack", "prod", "--local"]).output();
    let wall = start.elapsed().as_secs_f64();
    let calls = calls_json(port);
    let _ = cmd(&["emulator", "stop"]).output();
    let Ok(up) = up else {
        eprintln!("bench: cannot run {}", cairn.display());
        std::process::exit(1)
    };
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
    let per_minute = crate::aws_scale::per_waited_minute(crate::aws_scale::waiter_totals(&log));
    let table = format!(
        "| run | wall time (s) | critical path (s) | overhead (s) | Describe calls (waiter: DescribeReplicationGroups) | waiter Describes / waited min |\n|---|---:|---:|---:|---:|---:|\n| `up --stack prod --local`, 100 ms per API call{} | {wall:.2} | {critical:.2} | {:.2} | {describes} ({waiter_describes}) | {per_minute} |\n",
        if up.status.success() { "" } else { " (FAILED)" },
        wall - critical
    );
    if !up.status.success() {
        eprintln!("bench: `up --stack prod --local` failed:\n{log}");
    }
    Section {
        name: "aws-bench",
        table,
        targets: vec![],
        failed: !up.status.success(),
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
