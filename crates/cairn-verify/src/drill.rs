//! The failover drill: fail one shard's primary, keep writing acknowledged
//! keys, and measure how long writes to that slot range stop and how many
//! acknowledged writes the failover lost.
//!
//! * On AWS: `TestFailover` for the shard's node group.
//! * On a local twin (endpoint on loopback): SIGSTOP the primary's
//!   redis-server (it keeps its slots but stops answering, as a hung node
//!   does), wait until its replica flags it as failing (PFAIL, after
//!   `cluster-node-timeout`), then promote the replica with
//!   `CLUSTER FAILOVER TAKEOVER`. Redis Cluster alone cannot fail over a
//!   2-shard cluster (a failover needs votes from a majority of primaries,
//!   2 of 2, and one is the failed node); on ElastiCache the managed control
//!   plane does the promotion, and TAKEOVER stands in for it. The stopped
//!   process is always resumed (SIGCONT) and rejoins as a replica.

use crate::data::{random_hex, text, Addr, Plane, TopoShard, Topology, TEST_TENANT};
use crate::expect::Expectations;
use crate::report::{DrillResult, Row, Status};
use cairn_aws::inspect::{Inspector, ReplicationGroupInfo};
use redis::aio::MultiplexedConnection;
use redis::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long the resumed old primary has to rejoin as an in-sync replica.
const REJOIN_SECS: u64 = 60;

pub(crate) const ID: &str = "DR1";
pub(crate) const CRIT: &str = "failover drill: writes recover, acknowledged writes kept";

/// Acknowledged writes before the failure is injected.
const PRE_WRITES: usize = 50;
/// Acknowledged writes on the new primary before the drill ends.
const POST_WRITES: usize = 20;
/// Upper bound on write attempts in one drill.
const MAX_ATTEMPTS: usize = 20_000;
/// Pause between writes.
const PACE: Duration = Duration::from_millis(10);

fn row(status: Status, evidence: impl Into<String>) -> Row {
    Row::new(ID, CRIT, status, evidence)
}

/// CRC16/XMODEM, Redis Cluster's key hash.
pub(crate) fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The cluster slot of a key (honouring a `{hash tag}`).
pub(crate) fn key_slot(key: &[u8]) -> u16 {
    let tagged = key.iter().position(|&b| b == b'{').and_then(|open| {
        let close = key[open + 1..].iter().position(|&b| b == b'}')?;
        (close > 0).then(|| &key[open + 1..open + 1 + close])
    });
    crc16(tagged.unwrap_or(key)) % 16_384
}

/// A hash tag whose slot the shard owns.
fn tag_for(shard: &TopoShard, run: &str) -> Option<String> {
    (0..200_000u32)
        .map(|n| format!("drill.{run}.{n}"))
        .find(|t| shard.owns(key_slot(format!("{{{t}}}").as_bytes())))
}

fn drill_key(tag: &str, i: usize) -> String {
    format!("{TEST_TENANT}:temp:{{{tag}}}:{i}")
}

/// Writes to another shard while one is drilled.
#[derive(Default)]
struct Bystander {
    slots: String,
    writes: u64,
    failed: u64,
    /// Seconds after the injection of the first and last failed write.
    window: Option<(f64, f64)>,
    first_error: String,
}

impl Bystander {
    fn describe(&self) -> String {
        match self.window {
            None => format!(
                "meanwhile shard [{}] took all {} writes",
                self.slots, self.writes
            ),
            Some((a, b)) => format!(
                "meanwhile shard [{}] also refused {} of {} writes between +{a:.1} s and +{b:.1} s ({}): with two primaries, one failed primary leaves the other without a majority",
                self.slots, self.failed, self.writes, self.first_error
            ),
        }
    }
}

/// A stopped local process, resumed on drop whatever happens.
struct Stopped(i32);

impl Stopped {
    fn stop(pid: i32) -> Result<Stopped, String> {
        // SAFETY: kill(2) with a checked, positive pid of a redis-server we
        // verified by name; no memory is shared with the callee.
        let rc = unsafe { libc::kill(pid, libc::SIGSTOP) };
        if rc == 0 {
            Ok(Stopped(pid))
        } else {
            Err(format!(
                "SIGSTOP {pid}: {}",
                std::io::Error::last_os_error()
            ))
        }
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        // SAFETY: as above; resuming a process we stopped.
        unsafe {
            libc::kill(self.0, libc::SIGCONT);
        }
    }
}

/// The local pid of a node's redis-server, checked by name.
async fn local_pid(conn: &mut MultiplexedConnection) -> Result<i32, String> {
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(conn)
        .await
        .map_err(|e| format!("INFO server: {e}"))?;
    let pid: i32 = info
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|p| p.trim().parse().ok())
        .ok_or("INFO server has no process_id")?;
    if pid <= 1 || pid == std::process::id() as i32 {
        return Err(format!("refusing to signal pid {pid}"));
    }
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map_err(|e| format!("cannot confirm pid {pid} is redis-server: {e}"))?;
    if !comm.trim().starts_with("redis-server") {
        return Err(format!(
            "pid {pid} is `{}`, not redis-server: refusing to signal it",
            comm.trim()
        ));
    }
    Ok(pid)
}

struct Writer<'a> {
    plane: &'a Plane,
    op_timeout: Duration,
    conns: HashMap<Addr, MultiplexedConnection>,
}

impl Writer<'_> {
    async fn conn(&mut self, a: &Addr) -> Result<MultiplexedConnection, String> {
        if let Some(c) = self.conns.get(a) {
            return Ok(c.clone());
        }
        let c = tokio::time::timeout(
            self.op_timeout * 2,
            self.plane.conn_with_timeout(a, self.op_timeout),
        )
        .await
        .map_err(|_| format!("{a}: connect timed out"))?
        .map_err(|e| format!("{a}: {e}"))?;
        self.conns.insert(a.clone(), c.clone());
        Ok(c)
    }

    async fn set(&mut self, a: &Addr, key: &str) -> Result<(), String> {
        let mut c = self.conn(a).await?;
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg("1").arg("EX").arg(3600);
        match tokio::time::timeout(self.op_timeout, cmd.query_async::<Value>(&mut c)).await {
            Ok(Ok(Value::Okay)) => Ok(()),
            Ok(Ok(v)) if text(&v).as_deref() == Some("OK") => Ok(()),
            Ok(Ok(v)) => Err(format!("SET -> {v:?}")),
            Ok(Err(e)) => {
                if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() {
                    self.conns.remove(a);
                }
                Err(e.to_string())
            }
            Err(_) => Err("timed out".into()),
        }
    }

    /// The primary of `slot` other than `avoid`, as the first node (other
    /// than `avoid`) that knows one reports it. Nodes learn of a promotion
    /// by gossip, the promoted replica first, so every node is asked.
    async fn resolve(&mut self, nodes: &[Addr], avoid: &Addr, slot: u16) -> Option<Addr> {
        for n in nodes.iter().filter(|n| *n != avoid) {
            let Ok(mut c) = self.conn(n).await else {
                continue;
            };
            let mut cmd = redis::cmd("CLUSTER");
            cmd.arg("SHARDS");
            let Ok(Ok(v)) =
                tokio::time::timeout(self.op_timeout, cmd.query_async::<Value>(&mut c)).await
            else {
                continue;
            };
            let Ok(t) = crate::data::parse_cluster_shards(&v, true) else {
                continue;
            };
            let t = t.fill_unknown_hosts(n);
            if let Some(p) = t
                .shards
                .iter()
                .find(|s| s.owns(slot))
                .and_then(|s| s.primary())
            {
                if &p.addr != avoid {
                    return Some(p.addr.clone());
                }
            }
        }
        None
    }
}

/// `ROLE`: the role, and for a replica its link state (`connected` once in sync).
async fn role(plane: &Plane, a: &Addr) -> Option<(String, String)> {
    let mut c = plane
        .conn_with_timeout(a, Duration::from_secs(1))
        .await
        .ok()?;
    let v: Value = redis::cmd("ROLE").query_async(&mut c).await.ok()?;
    match v {
        Value::Array(a) => Some((
            a.first().and_then(text)?,
            a.get(3).and_then(text).unwrap_or_default(),
        )),
        _ => None,
    }
}

/// Waits until `observer` flags `victim_id` as failing (PFAIL/FAIL), up to `limit`.
async fn wait_flagged(
    plane: &Plane,
    observer: &Addr,
    victim_id: &str,
    limit: Duration,
) -> Option<Duration> {
    let start = Instant::now();
    let mut conn = plane.conn(observer).await.ok()?;
    while start.elapsed() < limit {
        if let Ok(v) = redis::cmd("CLUSTER")
            .arg("NODES")
            .query_async::<Value>(&mut conn)
            .await
        {
            let t = text(&v).unwrap_or_default();
            let flagged = t.lines().any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() > 2
                    && f[0] == victim_id
                    && f[2].split(',').any(|x| x == "fail?" || x == "fail")
            });
            if flagged {
                return Some(start.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

pub(crate) struct DrillInput<'a> {
    pub plane: &'a Plane,
    pub exp: &'a Expectations,
    pub topo: &'a Topology,
    pub local: bool,
    pub inspector: &'a Inspector,
    pub rg: Option<&'a ReplicationGroupInfo>,
}

pub(crate) async fn run(input: DrillInput<'_>) -> (Row, Option<DrillResult>) {
    let DrillInput {
        plane,
        exp,
        topo,
        local,
        inspector,
        rg,
    } = input;
    let shard = topo
        .with_slots()
        .into_iter()
        .find(|s| s.primary().is_some() && s.replicas().any(|r| r.healthy()));
    let Some(shard) = shard else {
        return if exp.replicas_per_node_group == 0 {
            (
                row(
                    Status::Skip,
                    "the stack has no replicas: there is nothing to fail over to",
                )
                .not_required(),
                None,
            )
        } else {
            (
                row(
                    Status::Fail,
                    "no shard has a primary and an online replica to fail over to",
                ),
                None,
            )
        };
    };
    let Some(primary) = shard.primary().cloned() else {
        return (row(Status::Fail, "the drilled shard has no primary"), None);
    };
    let Some(replica) = shard.replicas().find(|r| r.healthy()).cloned() else {
        return (
            row(Status::Fail, "the drilled shard has no online replica"),
            None,
        );
    };
    let all_nodes: Vec<Addr> = topo.nodes().into_iter().map(|n| n.addr.clone()).collect();
    let run = random_hex(4);
    let Some(tag) = tag_for(shard, &run) else {
        return (
            row(
                Status::Fail,
                "no hash tag maps into the drilled shard's slots",
            ),
            None,
        );
    };
    let slot = key_slot(format!("{{{tag}}}").as_bytes());
    let op_timeout = if local {
        Duration::from_millis(300)
    } else {
        plane.timeout.min(Duration::from_secs(2))
    };
    let budget = if local {
        Duration::from_secs(60)
    } else {
        Duration::from_secs(15 * 60)
    };
    let mut w = Writer {
        plane,
        op_timeout,
        conns: HashMap::new(),
    };
    let mut attempted: Vec<String> = Vec::new();
    let mut acked: Vec<String> = Vec::new();

    // 1. Acknowledged writes on the healthy primary.
    for _ in 0..PRE_WRITES {
        let key = drill_key(&tag, attempted.len());
        attempted.push(key.clone());
        match w.set(&primary.addr, &key).await {
            Ok(()) => acked.push(key),
            Err(e) => {
                cleanup(&mut w, &all_nodes, &primary.addr, slot, &attempted).await;
                return (
                    row(
                        Status::Fail,
                        format!("writes to {} failed before the drill: {e}", primary.addr),
                    ),
                    None,
                );
            }
        }
    }
    let node_group = rg
        .and_then(|g| {
            g.node_groups
                .iter()
                .find(|n| n.slots.as_deref() == Some(shard.slot_text().as_str()))
        })
        .map(|n| n.node_group_id.clone())
        .or_else(|| {
            rg.and_then(|g| g.node_groups.first())
                .map(|n| n.node_group_id.clone())
        })
        .unwrap_or_else(|| format!("slots {}", shard.slot_text()));

    // 2. Inject the failure.
    let mut stopped = None;
    let method;
    if local {
        let mut c = match w.conn(&primary.addr).await {
            Ok(c) => c,
            Err(e) => return (row(Status::Fail, e), None),
        };
        let pid = match local_pid(&mut c).await {
            Ok(p) => p,
            Err(e) => {
                cleanup(&mut w, &all_nodes, &primary.addr, slot, &attempted).await;
                return (row(Status::Fail, e), None);
            }
        };
        match Stopped::stop(pid) {
            Ok(s) => stopped = Some(s),
            Err(e) => {
                cleanup(&mut w, &all_nodes, &primary.addr, slot, &attempted).await;
                return (row(Status::Fail, e), None);
            }
        }
        method = format!("SIGSTOP of the local twin's primary (pid {pid}), then CLUSTER FAILOVER TAKEOVER on its replica");
    } else {
        let Some(g) = rg else {
            return (
                row(Status::Fail, "the replication group could not be described"),
                None,
            );
        };
        if let Err(e) = inspector
            .test_failover(&g.replication_group_id, &node_group)
            .await
        {
            cleanup(&mut w, &all_nodes, &primary.addr, slot, &attempted).await;
            return (row(Status::Fail, format!("TestFailover: {e}")), None);
        }
        method = format!("elasticache:TestFailover of node group {node_group}");
    }
    let t0 = Instant::now();

    // 3. The local control plane: promote the replica once it sees the primary failing.
    let controller = async {
        if !local {
            return String::new();
        }
        let seen = wait_flagged(plane, &replica.addr, &primary.id, Duration::from_secs(20)).await;
        let takeover = match plane.conn(&replica.addr).await {
            Ok(mut c) => redis::cmd("CLUSTER")
                .arg("FAILOVER")
                .arg("TAKEOVER")
                .query_async::<Value>(&mut c)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match (seen, takeover) {
            (Some(d), Ok(())) => format!(
                "replica {} flagged the primary failing after {:.1} s and took over",
                replica.addr,
                d.as_secs_f64()
            ),
            (None, Ok(())) => format!(
                "replica {} did not flag the primary within 20 s; took over anyway",
                replica.addr
            ),
            (_, Err(e)) => format!("CLUSTER FAILOVER TAKEOVER on {} failed: {e}", replica.addr),
        }
    };

    // 4. Keep writing until the slot range is served by a new primary.
    let writer = async {
        let mut target = primary.addr.clone();
        let mut outage_start: Option<Instant> = None;
        let mut recovered: Option<(f64, Addr)> = None;
        let mut post = 0;
        let mut last_err = String::new();
        while t0.elapsed() < budget && attempted.len() < MAX_ATTEMPTS {
            let key = drill_key(&tag, attempted.len());
            attempted.push(key.clone());
            let started = Instant::now();
            match w.set(&target, &key).await {
                Ok(()) => {
                    acked.push(key);
                    if target != primary.addr {
                        if recovered.is_none() {
                            let from = outage_start.unwrap_or(t0);
                            recovered = Some((from.elapsed().as_secs_f64(), target.clone()));
                        }
                        post += 1;
                        if post >= POST_WRITES {
                            break;
                        }
                    }
                }
                Err(e) => {
                    last_err = e;
                    outage_start.get_or_insert(started);
                    if let Some(p) = w.resolve(&all_nodes, &primary.addr, slot).await {
                        target = p;
                    }
                }
            }
            tokio::time::sleep(PACE).await;
        }
        (recovered, last_err)
    };
    // 4b. Meanwhile, does another shard keep taking writes? (With two
    // primaries, one hung primary leaves the other without a majority of
    // reachable primaries, and it answers CLUSTERDOWN too.)
    let done = AtomicBool::new(false);
    let writer = async {
        let r = writer.await;
        done.store(true, Ordering::Relaxed);
        r
    };
    let other = topo
        .with_slots()
        .into_iter()
        .find(|s| s.slots != shard.slots && s.primary().is_some());
    let bystander = async {
        let other = other?;
        let at = other.primary()?.addr.clone();
        let key = format!("{TEST_TENANT}:temp:{{{}}}:bystander", tag_for(other, &run)?);
        let mut bw = Writer {
            plane,
            op_timeout,
            conns: HashMap::new(),
        };
        let mut b = Bystander {
            slots: other.slot_text(),
            ..Bystander::default()
        };
        while !done.load(Ordering::Relaxed) && t0.elapsed() < budget {
            let started = t0.elapsed().as_secs_f64();
            b.writes += 1;
            if let Err(e) = bw.set(&at, &key).await {
                b.failed += 1;
                let ended = t0.elapsed().as_secs_f64();
                b.window = Some(b.window.map_or((started, ended), |(a, _)| (a, ended)));
                if b.first_error.is_empty() {
                    b.first_error = e.chars().take(60).collect();
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if let Ok(mut c) = bw.conn(&at).await {
            let _ = redis::cmd("DEL").arg(&key).query_async::<i64>(&mut c).await;
        }
        Some(b)
    };
    let (note, (recovered, last_err), bystander) = tokio::join!(controller, writer, bystander);

    // 5. Resume the old primary, and count acknowledged writes that are gone.
    drop(stopped);
    let Some((recovery_secs, new_primary)) = recovered else {
        let left = cleanup(&mut w, &all_nodes, &primary.addr, slot, &attempted).await;
        return (
            row(
                Status::Fail,
                format!(
                    "{method}: writes to slots {} did not recover within {:?} (last error: {last_err}){}{}",
                    shard.slot_text(),
                    budget,
                    if note.is_empty() { String::new() } else { format!("; {note}") },
                    left
                ),
            ),
            None,
        );
    };
    let lost = count_lost(&mut w, &new_primary, &acked).await;
    let mut notes = vec![note];
    if let Some(b) = &bystander {
        notes.push(b.describe());
    }
    if local {
        let start = Instant::now();
        let mut rejoined = None;
        // A loaded machine can take longer than the cluster node timeout to
        // notice the failover and resync: up to a minute.
        while start.elapsed() < Duration::from_secs(REJOIN_SECS) {
            let r = role(plane, &primary.addr).await;
            if r.is_some_and(|(role, link)| role == "slave" && link == "connected") {
                rejoined = Some(start.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        notes.push(match rejoined {
            Some(d) => format!(
                "the old primary was resumed (SIGCONT) and rejoined as an in-sync replica after {:.1} s",
                d.as_secs_f64()
            ),
            None => format!(
                "the old primary was resumed (SIGCONT) but was not an in-sync replica after {REJOIN_SECS} s"
            ),
        });
    }
    let left = cleanup(&mut w, &all_nodes, &primary.addr, slot, &attempted).await;
    let (lost_writes, lost_note) = match lost {
        Ok(n) => (n, String::new()),
        Err(e) => (0, format!("; could not count lost writes: {e}")),
    };
    let result = DrillResult {
        recovery_secs,
        acknowledged_writes: acked.len() as u64,
        lost_writes,
        method: method.clone(),
        node_group: node_group.clone(),
        old_primary: primary.addr.to_string(),
        new_primary: new_primary.to_string(),
        other_shard_outage_secs: bystander
            .as_ref()
            .map(|b| b.window.map_or(0.0, |(a, z)| z - a)),
    };
    notes.retain(|n| !n.is_empty());
    let status = if lost_note.is_empty() {
        Status::Pass
    } else {
        Status::Fail
    };
    let evidence = format!(
        "{method} on {node_group} (slots {}): writes recovered on {new_primary} after {recovery_secs:.2} s; {} acknowledged writes, {lost_writes} lost{}; {}{lost_note}{left}",
        shard.slot_text(),
        acked.len(),
        if lost_writes > 0 { " (asynchronous replication)" } else { "" },
        notes.join("; "),
    );
    (row(status, evidence), Some(result))
}

/// Acknowledged keys missing on `at`.
async fn count_lost(w: &mut Writer<'_>, at: &Addr, acked: &[String]) -> Result<u64, String> {
    let mut c = w.conn(at).await?;
    let mut lost = 0u64;
    for chunk in acked.chunks(100) {
        let vals: Vec<Option<String>> = redis::cmd("MGET")
            .arg(chunk)
            .query_async(&mut c)
            .await
            .map_err(|e| e.to_string())?;
        lost += vals.iter().filter(|v| v.is_none()).count() as u64;
    }
    Ok(lost)
}

/// Deletes every drill key on the slot's current primary; "" when all are gone.
async fn cleanup(
    w: &mut Writer<'_>,
    nodes: &[Addr],
    fallback: &Addr,
    slot: u16,
    keys: &[String],
) -> String {
    if keys.is_empty() {
        return String::new();
    }
    let none = Addr {
        host: String::new(),
        port: 0,
    };
    let mut at = w
        .resolve(nodes, &none, slot)
        .await
        .unwrap_or_else(|| fallback.clone());
    // Right after a failover a node can still answer MOVED for the slot:
    // follow the redirect (a few times) instead of giving up.
    let mut last = String::new();
    for _ in 0..4 {
        let mut c = match w.conn(&at).await {
            Ok(c) => c,
            Err(e) => return format!("; drill keys NOT removed: {e}"),
        };
        match delete_keys(&mut c, keys).await {
            Ok(0) => return format!("; all {} drill keys removed", keys.len()),
            Ok(remaining) => return format!("; {remaining} drill keys still exist"),
            Err(e) => {
                last = e.to_string();
                match e.redirect_node().and_then(|(node, _)| parse_addr(node)) {
                    Some(next) => at = next,
                    None => tokio::time::sleep(Duration::from_millis(300)).await,
                }
            }
        }
    }
    format!("; drill key cleanup unverified: {last}")
}

/// DEL then EXISTS over `keys`: how many are left.
async fn delete_keys(
    c: &mut redis::aio::MultiplexedConnection,
    keys: &[String],
) -> redis::RedisResult<i64> {
    let mut remaining = 0i64;
    for chunk in keys.chunks(200) {
        let _ = redis::cmd("DEL").arg(chunk).query_async::<i64>(c).await;
        remaining += redis::cmd("EXISTS")
            .arg(chunk)
            .query_async::<i64>(c)
            .await?;
    }
    Ok(remaining)
}

/// `host:port` from a MOVED redirect.
fn parse_addr(node: &str) -> Option<Addr> {
    let (host, port) = node.rsplit_once(':')?;
    Some(Addr {
        host: host.to_string(),
        port: port.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_and_slots_match_redis() {
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(
            key_slot(b"{user1000}.following"),
            key_slot(b"{user1000}.followers")
        );
        assert_eq!(key_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") % 16384);
        assert_eq!(key_slot(b"foo{{bar}}zap"), crc16(b"{bar") % 16384);
        assert_eq!(key_slot(b""), 0);
    }

    #[test]
    fn tags_land_in_the_shard() {
        let shard = TopoShard {
            slots: vec![(8192, 16383)],
            nodes: vec![],
        };
        let t = tag_for(&shard, "ab12").unwrap();
        let k = drill_key(&t, 7);
        assert!(shard.owns(key_slot(k.as_bytes())), "{k}");
        assert!(k.starts_with("tenant_cairn_verify:temp:{drill.ab12."));
        let empty = TopoShard {
            slots: vec![],
            nodes: vec![],
        };
        assert!(tag_for(&empty, "x").is_none());
    }
}
