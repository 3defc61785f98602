//! `--aws-scale`: generated stacks of batchable AWS types (VPCs, subnets,
//! security groups and their rules, IAM policies) against the emulator with
//! 100 ms added to every API call; `up`, a no-op `preview`, `preview
//! --refresh` and `refresh`, unthrottled and at a throttle rate; wall time,
//! API calls (from the emulator's counters) and the cairn process's peak
//! RSS; beside them the Terraform model (one read per resource at
//! parallelism 10, from the measured per-call latency).

use crate::{tempdir, Section, Target};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// What the bench runs: stack sizes and the throttled rate.
pub struct Options {
    pub sizes: Vec<usize>,
    pub throttle: f64,
}

/// Milliseconds the emulator adds to every API call.
const LATENCY_MS: u64 = 100;
/// Terraform's default parallelism.
const TF_PARALLELISM: f64 = 10.0;

struct Row {
    size: usize,
    throttle: f64,
    verb: &'static str,
    wall_s: f64,
    rss_mb: f64,
    calls: u64,
    reads: u64,
    /// Reads by service: EC2 (VPCs, subnets, groups, rules) and IAM (policies).
    ec2_reads: u64,
    iam_reads: u64,
    throttled: u64,
    /// The cairn process's waiters: Describe calls and summed waited time.
    waiters: Option<(u64, f64)>,
    ok: bool,
}

/// How many IAM policies [`stack`] generates for `n` resources.
fn policies(n: usize) -> usize {
    n.saturating_sub(4) / 10
}

/// The generated program: `n` resources in all, 4 VPCs, 10% subnets,
/// 10% IAM policies, the rest security groups and one rule each.
pub fn stack(n: usize, prefix: &str) -> String {
    let vpcs = 4usize;
    let rest = n.saturating_sub(vpcs);
    let subnets = rest / 10;
    let policies = rest / 10;
    let groups = (rest - subnets - policies).div_ceil(2);
    let rules = rest - subnets - policies - groups;
    let mut y = format!("name: {prefix}\nresources:\n");
    for v in 0..vpcs {
        let _ = write!(
            y,
            "  vpc{v}:\n    type: aws:ec2:Vpc\n    properties:\n      cidrBlock: 10.{v}.0.0/16\n"
        );
    }
    for s in 0..subnets {
        let (v, k) = (s % vpcs, s / vpcs);
        let _ = write!(
            y,
            "  subnet{s}:\n    type: aws:ec2:Subnet\n    properties:\n      vpcId: ${{vpc{v}.id}}\n      cidrBlock: 10.{v}.{}.{}/28\n",
            k / 16,
            (k % 16) * 16
        );
    }
    for p in 0..policies {
        let _ = write!(
            y,
            "  policy{p}:\n    type: aws:iam:Policy\n    properties:\n      name: {prefix}-policy-{p}\n      policy: '{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::{prefix}-{p}/data.json\"}}]}}'\n"
        );
    }
    for g in 0..groups {
        let _ = write!(
            y,
            "  sg{g}:\n    type: aws:ec2:SecurityGroup\n    properties:\n      name: {prefix}-sg-{g}\n      description: generated\n      vpcId: ${{vpc{}.id}}\n",
            g % vpcs
        );
    }
    for r in 0..rules {
        let _ = write!(
            y,
            "  rule{r}:\n    type: aws:ec2:SecurityGroupRule\n    properties:\n      type: ingress\n      securityGroupId: ${{sg{}.id}}\n      protocol: tcp\n      fromPort: 443\n      toPort: 443\n      cidrBlocks: [10.{}.0.0/16]\n",
            r % groups.max(1),
            r % vpcs
        );
    }
    y
}

pub fn bench(cairn: &Path, opts: &Options) -> Section {
    let dir = tempdir();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(4598);
    let port_text = port.to_string();
    let state = dir.path().join("state").display().to_string();
    let emulator = dir.path().join("emulator").display().to_string();
    let latency = LATENCY_MS.to_string();
    let env: Vec<(&str, &str)> = vec![
        ("STACK_PASSPHRASE", "bench-passphrase"),
        ("NO_COLOR", "1"),
        ("LOCAL_AWS_PORT", port_text.as_str()),
        ("CAIRN_EMULATOR_STATE", emulator.as_str()),
        ("CAIRN_EMULATOR_LATENCY_MS", latency.as_str()),
        ("CAIRN_AWS_POLL_MS", "1000"),
        ("CAIRN_STATE_DIR", state.as_str()),
        // The waiters' running totals (wait.rs) into the log.
        ("CAIRN_LOG", WAITER_LOG),
    ];
    let log = dir.path().join("cairn.log");
    let mut rows = vec![];
    let mut per_call_s = LATENCY_MS as f64 / 1000.0;
    let mut started = false;
    for &size in &opts.sizes {
        for throttle in [0.0, opts.throttle] {
            let prefix = format!("scale{size}t{}", (throttle * 100.0).round() as u32);
            let file = dir.path().join(format!("{prefix}.yaml"));
            if let Err(e) = std::fs::write(&file, stack(size, &prefix)) {
                eprintln!("bench: cannot write {}: {e}", file.display());
                std::process::exit(1);
            }
            let file = file.display().to_string();
            if !started {
                // Start the emulator outside the timed runs.
                let _ = run_logged(
                    cairn,
                    &["preview", "--stack-file", &file, "--local"],
                    &env,
                    &log,
                );
                started = true;
                per_call_s = measure_latency(port);
            }
            set_throttle(port, 0.0);
            let verbs: [(&'static str, Vec<&str>); 4] = [
                ("up", vec!["up", "--yes", "--stack-file", &file, "--local"]),
                (
                    "preview (no-op)",
                    vec!["preview", "--stack-file", &file, "--local"],
                ),
                (
                    "preview --refresh",
                    vec!["preview", "--refresh", "--stack-file", &file, "--local"],
                ),
                (
                    "refresh",
                    vec!["refresh", "--yes", "--stack-file", &file, "--local"],
                ),
            ];
            for (verb, args) in verbs {
                set_throttle(port, throttle);
                post(port, "/_cairn/calls/reset", "");
                eprintln!("bench: {size} resources, throttle {throttle}: {verb}…");
                let m = run_logged(cairn, &args, &env, &log);
                let counts = calls(port);
                set_throttle(port, 0.0);
                let calls: u64 = counts
                    .iter()
                    .filter(|(k, _)| !k.starts_with("throttled:"))
                    .map(|(_, v)| v)
                    .sum();
                let reads: u64 = counts
                    .iter()
                    .filter(|(k, _)| !k.starts_with("throttled:"))
                    .filter(|(k, _)| {
                        let action = k.split_once(':').map(|(_, a)| a).unwrap_or(k);
                        ["Describe", "List", "Get"]
                            .iter()
                            .any(|p| action.starts_with(p))
                    })
                    .map(|(_, v)| v)
                    .sum();
                let reads_of = |service: &str| -> u64 {
                    counts
                        .iter()
                        .filter(|(k, _)| {
                            k.split_once(':').is_some_and(|(s, a)| {
                                s == service
                                    && ["Describe", "List", "Get"].iter().any(|p| a.starts_with(p))
                            })
                        })
                        .map(|(_, v)| v)
                        .sum()
                };
                let (ec2_reads, iam_reads) = (reads_of("ec2"), reads_of("iam"));
                let throttled: u64 = counts
                    .iter()
                    .filter(|(k, _)| k.starts_with("throttled:"))
                    .map(|(_, v)| v)
                    .sum();
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let waiters = waiter_totals(&text);
                if !m.ok {
                    let tail: Vec<&str> = text.lines().rev().take(15).collect();
                    eprintln!(
                        "bench: `{}` failed:\n{}",
                        args.join(" "),
                        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                    );
                }
                rows.push(Row {
                    size,
                    throttle,
                    verb,
                    wall_s: m.wall_s,
                    rss_mb: m.rss_mb,
                    calls,
                    reads,
                    ec2_reads,
                    iam_reads,
                    throttled,
                    waiters,
                    ok: m.ok,
                });
            }
        }
    }
    let _ = run_logged(cairn, &["emulator", "stop"], &env, &log);
    render(rows, opts, per_call_s)
}

fn render(rows: Vec<Row>, opts: &Options, per_call_s: f64) -> Section {
    let mut table = format!(
        "Emulator latency {LATENCY_MS} ms per call (measured per call: {:.0} ms); throttled rows: {:.0}% of calls answer the service's throttling error.\n\n\
         | resources | throttle | run | wall (s) | API calls | calls / resource | reads / resource | EC2 reads / EC2 resource | IAM reads / policy | throttled answers | waiter Describes / waited min | peak RSS (MB) | Terraform model (s) |\n\
         |---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        per_call_s * 1000.0,
        opts.throttle * 100.0
    );
    let mut targets = vec![];
    let mut failed = false;
    for r in &rows {
        let n = r.size as f64;
        // One read per resource at parallelism 10; `up` also creates each.
        let tf = match r.verb {
            "up" => 2.0 * n / TF_PARALLELISM * per_call_s,
            "preview (no-op)" => 0.0,
            _ => n / TF_PARALLELISM * per_call_s,
        };
        let _ = writeln!(
            table,
            "| {} | {:.0}% | `{}`{} | {:.2} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {} | {} | {:.0} | {:.1} |",
            r.size,
            r.throttle * 100.0,
            r.verb,
            if r.ok { "" } else { " (FAILED)" },
            r.wall_s,
            r.calls,
            r.calls as f64 / n,
            r.reads as f64 / n,
            r.ec2_reads as f64 / (r.size - policies(r.size)).max(1) as f64,
            r.iam_reads as f64 / policies(r.size).max(1) as f64,
            r.throttled,
            per_waited_minute(r.waiters),
            r.rss_mb,
            tf
        );
        failed |= !r.ok;
    }
    let find = |size: usize, throttled: bool, verb: &str| {
        rows.iter()
            .find(|r| r.size == size && (r.throttle > 0.0) == throttled && r.verb == verb)
    };
    // A failed run misses every target it feeds.
    let wall = |r: &Row| if r.ok { r.wall_s } else { f64::INFINITY };
    for &size in &opts.sizes {
        let Some(refresh) = find(size, false, "refresh") else {
            continue;
        };
        let limit = match size {
            1000 => Some(3.0),
            5000 => Some(10.0),
            _ => None,
        };
        if let Some(limit) = limit {
            targets.push(Target::new(
                &format!("{size}-resource `refresh` at {LATENCY_MS} ms per call"),
                limit,
                "s",
                wall(refresh),
            ));
        }
        if size == 1000 {
            targets.push(Target::new(
                "read calls per resource, 1,000-resource `refresh` (at most 0.05)",
                0.0501,
                "calls",
                if refresh.ok {
                    refresh.reads as f64 / size as f64
                } else {
                    f64::INFINITY
                },
            ));
        }
        if size == 1000 {
            targets.push(Target::new(
                "EC2 read calls per EC2 resource (VPCs, subnets, groups, rules), 1,000-resource `refresh` (at most 0.05)",
                0.0501,
                "calls",
                if refresh.ok {
                    refresh.ec2_reads as f64 / (size - policies(size)) as f64
                } else {
                    f64::INFINITY
                },
            ));
        }
        if size == 5000 {
            let rss = rows
                .iter()
                .filter(|r| r.size == size)
                .fold(0.0f64, |a, r| a.max(r.rss_mb));
            targets.push(Target::new("5,000 resources: peak RSS", 300.0, "MB", rss));
        }
        if let Some(slow) = find(size, true, "refresh") {
            targets.push(Target::new(
                &format!(
                    "{size}-resource `refresh` at {:.0}% throttle / unthrottled",
                    opts.throttle * 100.0
                ),
                2.0,
                "×",
                wall(slow) / refresh.wall_s.max(1e-9),
            ));
        }
    }
    Section {
        name: "aws-scale",
        table,
        targets,
        failed,
    }
}

/// The log filter that keeps warnings and the waiters' running totals.
pub const WAITER_LOG: &str = "warn,cairn_aws::waiters=info";

/// The last "waiter totals" line of a cairn log: (Describe calls, waited
/// seconds summed over waiters); `None` if no waiter ran.
pub fn waiter_totals(log: &str) -> Option<(u64, f64)> {
    let line = log.lines().rev().find(|l| l.contains("waiter totals"))?;
    let field = |name: &str| -> Option<u64> {
        let rest = line.split(&format!("{name}=")).nth(1)?;
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    Some((
        field("describe_calls")?,
        field("waited_ms")? as f64 / 1000.0,
    ))
}

/// "calls / waited minutes (calls in s)", or "–" when no waiter ran.
pub fn per_waited_minute(waiters: Option<(u64, f64)>) -> String {
    match waiters {
        Some((calls, secs)) if secs > 0.0 => {
            format!(
                "{:.1} ({calls} in {secs:.1} s)",
                calls as f64 / (secs / 60.0)
            )
        }
        _ => "–".to_string(),
    }
}

struct Measured {
    wall_s: f64,
    rss_mb: f64,
    ok: bool,
}

/// Runs `cairn`, output to `log`; wall time and peak RSS from `wait4`.
// The child is reaped by `wait4` (which also reports its peak RSS).
#[allow(clippy::zombie_processes)]
fn run_logged(cairn: &Path, args: &[&str], env: &[(&str, &str)], log: &Path) -> Measured {
    let failed = Measured {
        wall_s: 0.0,
        rss_mb: 0.0,
        ok: false,
    };
    let Ok(out) = std::fs::File::create(log) else {
        return failed;
    };
    let Ok(err) = out.try_clone() else {
        return failed;
    };
    let start = Instant::now();
    let mut cmd = Command::new(cairn);
    cmd.args(args)
        .current_dir(crate::root())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let Ok(child) = cmd.spawn() else {
        return failed;
    };
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    // SAFETY: pid is our child; status and usage are valid pointers.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    Measured {
        wall_s: start.elapsed().as_secs_f64(),
        rss_mb: usage.ru_maxrss as f64 / 1024.0,
        ok: rc == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
    }
}

/// Mean wall time of one API call (EC2 DescribeVpcs) through the emulator.
fn measure_latency(port: u16) -> f64 {
    let body = "Action=DescribeVpcs&Version=2016-11-15";
    let mut total = 0.0;
    let tries = 5;
    // The first call also loads moto's EC2 backend.
    for i in 0..=tries {
        let start = Instant::now();
        let _ = request(
            port,
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                (
                    "Authorization",
                    "AWS4-HMAC-SHA256 Credential=cairnlocal/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0",
                ),
            ],
            body,
        );
        if i > 0 {
            total += start.elapsed().as_secs_f64();
        }
    }
    total / tries as f64
}

fn set_throttle(port: u16, rate: f64) {
    post(
        port,
        "/_cairn/config",
        &format!("{{\"throttle_rate\": {rate}, \"throttle_seed\": 15}}"),
    );
}

fn post(port: u16, path: &str, body: &str) {
    let _ = request(
        port,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        body,
    );
}

fn calls(port: u16) -> std::collections::BTreeMap<String, u64> {
    let text = request(port, "GET", "/_cairn/calls", &[], "").unwrap_or_default();
    serde_json::from_str(&text).unwrap_or_default()
}

/// One HTTP/1.1 request to the emulator on loopback; the response body.
fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        let _ = write!(head, "{k}: {v}\r\n");
    }
    write!(s, "{head}\r\n{body}")?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    Ok(text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiter_totals_are_read_from_the_last_log_line() {
        let log = "x\n INFO cairn_aws::waiters: waiter totals describe_calls=3 waited_ms=1500\n\
                   INFO cairn_aws::waiters: waiter totals describe_calls=5 waited_ms=30000\nend";
        assert_eq!(waiter_totals(log), Some((5, 30.0)));
        assert_eq!(per_waited_minute(waiter_totals(log)), "10.0 (5 in 30.0 s)");
        assert_eq!(waiter_totals("nothing"), None);
        assert_eq!(per_waited_minute(None), "–");
    }

    #[test]
    fn generated_stack_has_the_asked_size() {
        for n in [40, 1000] {
            let y = stack(n, "t");
            assert_eq!(y.matches("\n    type: ").count(), n, "{n}");
        }
    }
}
