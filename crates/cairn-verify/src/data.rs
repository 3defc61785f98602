//! DP1–DP5: the data plane, through the live endpoint with the secret's token.

use crate::doc::{scope_ttl, SCOPES};
use crate::expect::Expectations;
use crate::probe::{self, Reply, Tls};
use crate::report::{Row, Status};
use redis::aio::MultiplexedConnection;
use redis::cluster_async::ClusterConnection;
use redis::{
    AsyncConnectionConfig, Client, ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo,
    RedisResult, TlsCertificates, Value,
};
use std::collections::BTreeSet;
use std::time::Duration;

pub(crate) const CRIT: [(&str, &str); 5] = [
    ("DP1", "TLS required: handshake verifies, plaintext refused"),
    (
        "DP2",
        "AUTH required: no token and a wrong token are refused",
    ),
    (
        "DP3",
        "PING, SET/GET/EXPIRE/DEL in every tenant scope, cleaned up",
    ),
    (
        "DP4",
        "cluster topology has the stack's shards and replicas",
    ),
    ("DP5", "effective maxmemory-policy is allkeys-lru"),
];

pub(crate) fn row(id: &str, status: Status, evidence: impl Into<String>) -> Row {
    let crit = CRIT
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, c)| *c)
        .unwrap_or(id);
    Row::new(id, crit, status, evidence)
}

fn pass_fail(id: &str, ok: bool, evidence: impl Into<String>) -> Row {
    row(id, if ok { Status::Pass } else { Status::Fail }, evidence)
}

/// The test tenant every data-plane key lives under.
pub const TEST_TENANT: &str = "tenant_cairn_verify";

/// Connections to the data plane: TLS trust, token, per-operation timeout.
#[derive(Clone)]
pub(crate) struct Plane {
    pub tls: Tls,
    pub token: Option<String>,
    pub timeout: Duration,
}

/// A `host:port` node address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Addr {
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl Plane {
    fn info(&self, a: &Addr, auth: bool) -> RedisResult<redis::ConnectionInfo> {
        let info = ConnectionAddr::TcpTls {
            host: a.host.clone(),
            port: a.port,
            insecure: false,
            tls_params: None,
        }
        .into_connection_info()?;
        let mut settings = RedisConnectionInfo::default();
        if auth {
            if let Some(t) = &self.token {
                settings = settings.set_password(t);
            }
        }
        Ok(info.set_redis_settings(settings))
    }

    fn certs(&self) -> TlsCertificates {
        TlsCertificates {
            client_tls: None,
            root_cert: self.tls.pem.clone(),
        }
    }

    /// An authenticated TLS connection to one node.
    pub(crate) async fn conn(&self, a: &Addr) -> RedisResult<MultiplexedConnection> {
        self.conn_with_timeout(a, self.timeout).await
    }

    pub(crate) async fn conn_with_timeout(
        &self,
        a: &Addr,
        t: Duration,
    ) -> RedisResult<MultiplexedConnection> {
        let client = Client::build_with_tls(self.info(a, true)?, self.certs())?;
        let cfg = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(t))
            .set_response_timeout(Some(t));
        client
            .get_multiplexed_async_connection_with_config(&cfg)
            .await
    }

    /// A connection for read-only inspection: authenticated, or, where the
    /// node rejects the token (a node with AUTH turned off rejects AUTH
    /// itself), without it; commands then fail with NOAUTH if AUTH is on.
    /// DP2 reports such a node; other checks still read it.
    pub(crate) async fn conn_inspect(&self, a: &Addr) -> RedisResult<MultiplexedConnection> {
        match self.conn(a).await {
            Err(e) if e.kind() == redis::ErrorKind::AuthenticationFailed => {
                let client = Client::build_with_tls(self.info(a, false)?, self.certs())?;
                let cfg = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(self.timeout))
                    .set_response_timeout(Some(self.timeout));
                client
                    .get_multiplexed_async_connection_with_config(&cfg)
                    .await
            }
            other => other,
        }
    }

    /// A cluster-aware connection seeded with the configuration endpoint.
    pub(crate) async fn cluster(&self, a: &Addr) -> RedisResult<ClusterConnection> {
        let mut b = redis::cluster::ClusterClientBuilder::new(vec![self.info(a, false)?])
            .certs(self.certs())
            .connection_timeout(self.timeout)
            .response_timeout(self.timeout)
            .retries(3);
        if let Some(t) = &self.token {
            b = b.password(t);
        }
        b.build()?.get_async_connection().await
    }
}

// ---------------------------------------------------------------- RESP values

pub(crate) fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        Value::Okay => Some("OK".into()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

pub(crate) fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        other => text(other)?.trim().parse().ok(),
    }
}

/// A RESP2 flat key/value array or a RESP3 map, as pairs.
pub(crate) fn pairs(v: &Value) -> Vec<(String, &Value)> {
    match v {
        Value::Map(m) => m.iter().filter_map(|(k, v)| Some((text(k)?, v))).collect(),
        Value::Array(a) => a
            .chunks(2)
            .filter_map(|c| match c {
                [k, v] => Some((text(k)?, v)),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn list(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) | Value::Set(a) => a,
        _ => &[],
    }
}

// ---------------------------------------------------------------- topology

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TopoNode {
    pub id: String,
    pub addr: Addr,
    pub primary: bool,
    /// `online`, `loading`, `fail`, `pfail`, `disconnected`.
    pub health: String,
}

impl TopoNode {
    /// Up and serving. Redis 7.0 reports a replica whose replication offset
    /// is still 0 (an idle, fresh cluster) as `loading`: that is up.
    pub fn healthy(&self) -> bool {
        matches!(self.health.as_str(), "online" | "loading")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TopoShard {
    pub slots: Vec<(u16, u16)>,
    pub nodes: Vec<TopoNode>,
}

impl TopoShard {
    pub fn primary(&self) -> Option<&TopoNode> {
        self.nodes.iter().find(|n| n.primary)
    }
    pub fn replicas(&self) -> impl Iterator<Item = &TopoNode> {
        self.nodes.iter().filter(|n| !n.primary)
    }
    pub fn owns(&self, slot: u16) -> bool {
        self.slots.iter().any(|(a, b)| (*a..=*b).contains(&slot))
    }
    pub fn slot_text(&self) -> String {
        self.slots
            .iter()
            .map(|(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Topology {
    pub shards: Vec<TopoShard>,
    /// `CLUSTER SHARDS` or `CLUSTER NODES`.
    pub source: &'static str,
}

impl Topology {
    /// Every node, primaries first, without duplicates.
    pub fn nodes(&self) -> Vec<&TopoNode> {
        let mut v: Vec<&TopoNode> = self.shards.iter().flat_map(|s| s.nodes.iter()).collect();
        v.sort_by_key(|n| (!n.primary, n.addr.clone()));
        v.dedup_by(|a, b| a.addr == b.addr);
        v
    }
    /// A node that has never met another one (a 1-node cluster) reports an
    /// empty address for itself: it is the node that was asked.
    pub fn fill_unknown_hosts(mut self, asked: &Addr) -> Topology {
        for n in self.shards.iter_mut().flat_map(|s| s.nodes.iter_mut()) {
            if n.addr.host.is_empty() {
                n.addr.host = asked.host.clone();
            }
        }
        self
    }

    pub fn with_slots(&self) -> Vec<&TopoShard> {
        let mut v: Vec<&TopoShard> = self.shards.iter().filter(|s| !s.slots.is_empty()).collect();
        v.sort_by_key(|s| s.slots.first().copied());
        v
    }
}

/// Parses `CLUSTER SHARDS`. `tls` picks `tls-port` over `port`.
pub(crate) fn parse_cluster_shards(v: &Value, tls: bool) -> Result<Topology, String> {
    let mut shards = Vec::new();
    for shard in list(v) {
        let kv = pairs(shard);
        let get = |k: &str| kv.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
        let slot_vals: Vec<i64> = get("slots")
            .map(list)
            .unwrap_or_default()
            .iter()
            .filter_map(int)
            .collect();
        let slots = slot_vals
            .chunks(2)
            .filter_map(|c| match c {
                [a, b] => Some((u16::try_from(*a).ok()?, u16::try_from(*b).ok()?)),
                _ => None,
            })
            .collect();
        let mut nodes = Vec::new();
        for n in get("nodes").map(list).unwrap_or_default() {
            let nkv = pairs(n);
            let f = |k: &str| nkv.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
            let port = if tls {
                f("tls-port").or(f("port"))
            } else {
                f("port").or(f("tls-port"))
            }
            .and_then(int)
            .and_then(|p| u16::try_from(p).ok())
            .ok_or("CLUSTER SHARDS: a node has no port")?;
            let host = f("endpoint")
                .and_then(text)
                .filter(|e| !e.is_empty() && e != "?")
                .or_else(|| f("ip").and_then(text))
                .ok_or("CLUSTER SHARDS: a node has no address")?;
            nodes.push(TopoNode {
                id: f("id").and_then(text).unwrap_or_default(),
                addr: Addr { host, port },
                primary: f("role")
                    .and_then(text)
                    .is_some_and(|r| r == "master" || r == "primary"),
                health: f("health")
                    .and_then(text)
                    .unwrap_or_else(|| "unknown".into()),
            });
        }
        shards.push(TopoShard { slots, nodes });
    }
    if shards.is_empty() {
        return Err("CLUSTER SHARDS returned no shard".into());
    }
    Ok(Topology {
        shards,
        source: "CLUSTER SHARDS",
    })
}

/// Parses `CLUSTER NODES` text.
pub(crate) fn parse_cluster_nodes(text: &str) -> Result<Topology, String> {
    struct Line {
        node: TopoNode,
        master: Option<String>,
        slots: Vec<(u16, u16)>,
    }
    let mut lines = Vec::new();
    for l in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 8 {
            return Err(format!("CLUSTER NODES: short line ({} fields)", f.len()));
        }
        let addr = f[1].split(['@', ',']).next().unwrap_or("");
        let (host, port) = addr.rsplit_once(':').ok_or("CLUSTER NODES: bad address")?;
        let port: u16 = port
            .parse()
            .map_err(|_| "CLUSTER NODES: bad port".to_string())?;
        let flags: Vec<&str> = f[2].split(',').collect();
        let health = if flags.contains(&"fail") {
            "fail"
        } else if flags.contains(&"fail?") {
            "pfail"
        } else if f[7] == "connected" || flags.contains(&"myself") {
            "online"
        } else {
            "disconnected"
        };
        let slots = f[8..]
            .iter()
            .filter(|s| !s.starts_with('['))
            .filter_map(|s| {
                let (a, b) = s.split_once('-').unwrap_or((s, s));
                Some((a.parse().ok()?, b.parse().ok()?))
            })
            .collect();
        lines.push(Line {
            node: TopoNode {
                id: f[0].to_string(),
                addr: Addr {
                    host: host.trim_matches(['[', ']']).to_string(),
                    port,
                },
                primary: flags.contains(&"master"),
                health: health.into(),
            },
            master: Some(f[3].to_string()).filter(|m| m != "-"),
            slots,
        });
    }
    let mut shards: Vec<TopoShard> = Vec::new();
    for l in lines.iter().filter(|l| l.node.primary) {
        let mut nodes = vec![l.node.clone()];
        nodes.extend(
            lines
                .iter()
                .filter(|r| !r.node.primary && r.master.as_deref() == Some(l.node.id.as_str()))
                .map(|r| r.node.clone()),
        );
        shards.push(TopoShard {
            slots: l.slots.clone(),
            nodes,
        });
    }
    if shards.is_empty() {
        return Err("CLUSTER NODES lists no primary".into());
    }
    Ok(Topology {
        shards,
        source: "CLUSTER NODES",
    })
}

/// CLUSTER SHARDS, or CLUSTER NODES where SHARDS is unknown (Redis < 7).
pub(crate) async fn topology(
    conn: &mut MultiplexedConnection,
    asked: &Addr,
) -> Result<Topology, String> {
    match redis::cmd("CLUSTER")
        .arg("SHARDS")
        .query_async::<Value>(conn)
        .await
    {
        Ok(v) => parse_cluster_shards(&v, true).map(|t| t.fill_unknown_hosts(asked)),
        Err(e) => {
            let shards_err = e.to_string();
            match redis::cmd("CLUSTER")
                .arg("NODES")
                .query_async::<Value>(conn)
                .await
            {
                Ok(v) => parse_cluster_nodes(&text(&v).unwrap_or_default())
                    .map(|t| t.fill_unknown_hosts(asked)),
                Err(e2) => Err(format!("CLUSTER SHARDS: {shards_err}; CLUSTER NODES: {e2}")),
            }
        }
    }
}

// ---------------------------------------------------------------- DP1

pub(crate) async fn dp1_tls(plane: &Plane, endpoint: &Addr, nodes: &[Addr]) -> Row {
    const ID: &str = "DP1";
    let mut targets = vec![endpoint.clone()];
    targets.extend(nodes.iter().filter(|n| *n != endpoint).cloned());
    let mut bad = Vec::new();
    let mut sessions = BTreeSet::new();
    let mut plain = BTreeSet::new();
    for a in &targets {
        match probe::tls_connect(&plane.tls, &a.host, a.port, plane.timeout).await {
            Ok((_, session)) => {
                sessions.insert(session);
            }
            Err(e) => bad.push(e),
        }
        match probe::plaintext_ping(&a.host, a.port, plane.timeout).await {
            Reply::NoReply(why) => {
                plain.insert(why);
            }
            r @ Reply::Line(_) => bad.push(format!("{a} answers plaintext: PING -> {}", r.show())),
        }
    }
    let what = format!(
        "{} address(es) ({})",
        targets.len(),
        if nodes.contains(endpoint) {
            "every node; the configuration endpoint is one of them"
        } else if nodes.is_empty() {
            "the configuration endpoint"
        } else {
            "the configuration endpoint and every node"
        }
    );
    if bad.is_empty() {
        pass_fail(
            ID,
            true,
            format!(
                "{what}: {} with the certificate verified against {}; plaintext PING: {}",
                sessions.into_iter().collect::<Vec<_>>().join(", "),
                plane.tls.trust,
                plain.into_iter().collect::<Vec<_>>().join(", ")
            ),
        )
    } else {
        pass_fail(ID, false, bad.join("; "))
    }
}

// ---------------------------------------------------------------- DP2

fn random_token() -> String {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 64];
    if getrandom::getrandom(&mut bytes).is_err() {
        // Fall back to a fixed token; it only has to differ from the real one.
        return "cairnVerifyWrongToken0000000000000000000000000000000000000000000".into();
    }
    bytes
        .iter()
        .map(|b| ALNUM[usize::from(*b) % ALNUM.len()] as char)
        .collect()
}

pub(crate) async fn dp2_auth(plane: &Plane, endpoint: &Addr, nodes: &[Addr]) -> Row {
    const ID: &str = "DP2";
    let mut targets = vec![endpoint.clone()];
    targets.extend(nodes.iter().filter(|n| *n != endpoint).cloned());
    let mut wrong = random_token();
    if plane.token.as_deref() == Some(wrong.as_str()) {
        wrong.replace_range(0..1, if wrong.starts_with('x') { "y" } else { "x" });
    }
    let mut bad = Vec::new();
    let mut noauth = BTreeSet::new();
    let mut wrongpass = BTreeSet::new();
    for a in &targets {
        // 1. No AUTH at all.
        match probe::tls_connect(&plane.tls, &a.host, a.port, plane.timeout).await {
            Ok((mut s, _)) => {
                let r = probe::command(&mut s, &[b"PING"], plane.timeout).await;
                if r.is_error_with(&["NOAUTH", "NOPERM"]) {
                    noauth.insert(r.show());
                } else if r.is_pong() {
                    bad.push(format!("{a} answered PING without AUTH: {}", r.show()));
                } else {
                    bad.push(format!(
                        "{a}: PING without AUTH -> {} (want NOAUTH)",
                        r.show()
                    ));
                }
            }
            Err(e) => bad.push(e),
        }
        // 2. A wrong token.
        match probe::tls_connect(&plane.tls, &a.host, a.port, plane.timeout).await {
            Ok((mut s, _)) => {
                let r = probe::command(&mut s, &[b"AUTH", wrong.as_bytes()], plane.timeout).await;
                if r.is_error_with(&[
                    "WRONGPASS",
                    "ERR invalid password",
                    "ERR invalid username-password",
                ]) {
                    wrongpass.insert(r.show());
                    let after = probe::command(&mut s, &[b"PING"], plane.timeout).await;
                    if after.is_pong() {
                        bad.push(format!("{a} answered PING after a refused AUTH"));
                    }
                } else {
                    bad.push(format!(
                        "{a} accepted or mishandled a wrong token: AUTH -> {}",
                        r.show()
                    ));
                }
            }
            Err(e) => bad.push(e),
        }
    }
    if bad.is_empty() {
        pass_fail(
            ID,
            true,
            format!(
                "{} address(es): no AUTH -> {}; wrong token -> {}",
                targets.len(),
                noauth.into_iter().collect::<Vec<_>>().join(", "),
                wrongpass.into_iter().collect::<Vec<_>>().join(", ")
            ),
        )
    } else {
        pass_fail(ID, false, bad.join("; "))
    }
}

// ---------------------------------------------------------------- DP3

pub(crate) fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    if getrandom::getrandom(&mut b).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        return format!("{t:x}");
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub(crate) async fn dp3_ops(cluster: &mut ClusterConnection, run: &str) -> Row {
    const ID: &str = "DP3";
    let mut bad = Vec::new();
    let mut done = Vec::new();
    match redis::cmd("PING").query_async::<String>(cluster).await {
        Ok(p) if p == "PONG" => done.push("PING -> PONG".to_string()),
        Ok(p) => bad.push(format!("PING -> {p}")),
        Err(e) => bad.push(format!("PING failed: {e}")),
    }
    let keys: Vec<(String, &str, u64)> = SCOPES
        .iter()
        .map(|(scope, _, _)| {
            (
                format!("{TEST_TENANT}:{scope}:{run}"),
                *scope,
                scope_ttl(scope).unwrap_or(3600),
            )
        })
        .collect();
    for (key, scope, ttl) in &keys {
        let value = format!("cairn verify {run} {scope}");
        let step = async {
            let set: Value = redis::cmd("SET")
                .arg(key)
                .arg(&value)
                .arg("EX")
                .arg(*ttl)
                .query_async(cluster)
                .await?;
            if !matches!(set, Value::Okay) && text(&set).as_deref() != Some("OK") {
                return Ok::<_, redis::RedisError>(Err(format!("SET EX {ttl} -> {set:?}")));
            }
            let got: Option<String> = redis::cmd("GET").arg(key).query_async(cluster).await?;
            if got.as_deref() != Some(value.as_str()) {
                return Ok(Err(format!("GET returned {got:?}, not what was SET")));
            }
            let t: i64 = redis::cmd("TTL").arg(key).query_async(cluster).await?;
            if t <= 0 || t > *ttl as i64 {
                return Ok(Err(format!("TTL after SET EX {ttl} is {t}")));
            }
            let e: i64 = redis::cmd("EXPIRE")
                .arg(key)
                .arg(*ttl)
                .query_async(cluster)
                .await?;
            if e != 1 {
                return Ok(Err(format!("EXPIRE -> {e}")));
            }
            let d: i64 = redis::cmd("DEL").arg(key).query_async(cluster).await?;
            if d != 1 {
                return Ok(Err(format!("DEL -> {d}")));
            }
            Ok(Ok(format!("{scope} (EX {ttl})")))
        };
        match step.await {
            Ok(Ok(s)) => done.push(s),
            Ok(Err(p)) => bad.push(format!("{scope}: {p}")),
            Err(e) => bad.push(format!("{scope}: {e}")),
        }
    }
    // Clean up whatever a failed step left, then prove every key is gone.
    let mut left = Vec::new();
    for (key, scope, _) in &keys {
        let _ = redis::cmd("DEL").arg(key).query_async::<i64>(cluster).await;
        match redis::cmd("EXISTS")
            .arg(key)
            .query_async::<i64>(cluster)
            .await
        {
            Ok(0) => {}
            Ok(_) => left.push(format!("{scope} key still exists")),
            Err(e) => left.push(format!("{scope}: EXISTS failed: {e}")),
        }
    }
    bad.extend(left);
    if bad.is_empty() {
        pass_fail(
            ID,
            true,
            format!(
                "{}; SET EX/GET/TTL/EXPIRE/DEL under {TEST_TENANT}:<scope>:{run} in {}; all {} keys gone (EXISTS 0)",
                done[0],
                done[1..].join(", "),
                keys.len()
            ),
        )
    } else {
        pass_fail(ID, false, bad.join("; "))
    }
}

// ---------------------------------------------------------------- DP4

pub(crate) fn dp4_topology(exp: &Expectations, topo: &Result<Topology, String>) -> Row {
    const ID: &str = "DP4";
    let topo = match topo {
        Ok(t) => t,
        Err(e) => {
            return pass_fail(
                ID,
                false,
                format!("could not read the cluster topology: {e}"),
            )
        }
    };
    let shards = topo.with_slots();
    let mut bad = Vec::new();
    if shards.len() as i64 != exp.num_node_groups {
        bad.push(format!(
            "{} shards serve slots, the stack asks {}",
            shards.len(),
            exp.num_node_groups
        ));
    }
    let mut covered: u32 = 0;
    let mut shapes = Vec::new();
    for s in &shards {
        covered += s
            .slots
            .iter()
            .map(|(a, b)| u32::from(b.saturating_sub(*a)) + 1)
            .sum::<u32>();
        let primaries: Vec<&TopoNode> = s.nodes.iter().filter(|n| n.primary).collect();
        let online_replicas = s.replicas().filter(|n| n.healthy()).count() as i64;
        for r in s.replicas().filter(|n| !n.healthy()) {
            bad.push(format!(
                "[{}] replica {} is {}",
                s.slot_text(),
                r.addr,
                r.health
            ));
        }
        match primaries.as_slice() {
            [p] if p.healthy() => {}
            [p] => bad.push(format!(
                "[{}] primary {} is {}",
                s.slot_text(),
                p.addr,
                p.health
            )),
            ps => bad.push(format!("[{}] has {} primaries", s.slot_text(), ps.len())),
        }
        if online_replicas != exp.replicas_per_node_group {
            bad.push(format!(
                "[{}] has {online_replicas} healthy replica(s), the stack asks {}",
                s.slot_text(),
                exp.replicas_per_node_group
            ));
        }
        shapes.push(format!(
            "[{}] {} + {online_replicas} replica(s)",
            s.slot_text(),
            primaries
                .first()
                .map(|p| p.addr.to_string())
                .unwrap_or_default()
        ));
    }
    if covered != 16_384 {
        bad.push(format!("{covered} of 16384 slots are served"));
    }
    if bad.is_empty() {
        pass_fail(
            ID,
            true,
            format!(
                "{}: {} shards, all 16384 slots: {}",
                topo.source,
                shards.len(),
                shapes.join("; ")
            ),
        )
    } else {
        pass_fail(ID, false, format!("{}: {}", topo.source, bad.join("; ")))
    }
}

// ---------------------------------------------------------------- DP5

/// True for the errors servers give when CONFIG is not allowed (ElastiCache
/// renames it; ACLs may deny it).
fn config_forbidden(e: &redis::RedisError) -> bool {
    let s = e.to_string().to_ascii_lowercase();
    e.code() == Some("NOPERM")
        || s.contains("unknown command")
        || s.contains("noperm")
        || s.contains("not allowed")
}

pub(crate) async fn dp5_policy(
    plane: &Plane,
    nodes: &[Addr],
    param_group: Option<(&str, Option<String>)>,
) -> Row {
    const ID: &str = "DP5";
    const WANT: &str = "allkeys-lru";
    let mut bad = Vec::new();
    let mut ok = Vec::new();
    let mut forbidden = Vec::new();
    for a in nodes {
        let mut conn = match plane.conn_inspect(a).await {
            Ok(c) => c,
            Err(e) => {
                bad.push(format!("{a}: cannot connect: {e}"));
                continue;
            }
        };
        match redis::cmd("CONFIG")
            .arg("GET")
            .arg("maxmemory-policy")
            .query_async::<Value>(&mut conn)
            .await
        {
            Ok(v) => {
                let got = pairs(&v)
                    .into_iter()
                    .find(|(k, _)| k == "maxmemory-policy")
                    .and_then(|(_, v)| text(v));
                match got.as_deref() {
                    Some(WANT) => ok.push(a.to_string()),
                    Some(other) => {
                        bad.push(format!("{a} runs maxmemory-policy={other} (CONFIG GET)"))
                    }
                    None => bad.push(format!("{a}: CONFIG GET returned no maxmemory-policy")),
                }
            }
            Err(e) if config_forbidden(&e) => forbidden.push((a.to_string(), e.to_string())),
            Err(e) => bad.push(format!("{a}: CONFIG GET failed: {e}")),
        }
    }
    if !bad.is_empty() {
        return pass_fail(ID, false, bad.join("; "));
    }
    if !ok.is_empty() && forbidden.is_empty() {
        return pass_fail(
            ID,
            true,
            format!(
                "maxmemory-policy={WANT} on {} node(s), from CONFIG GET",
                ok.len()
            ),
        );
    }
    if ok.is_empty() && forbidden.is_empty() {
        return pass_fail(ID, false, "no node to ask");
    }
    // CONFIG is not allowed (ElastiCache): the parameter group is the source.
    let why = forbidden
        .first()
        .map(|(a, e)| format!("{a}: {e}"))
        .unwrap_or_default();
    match param_group {
        Some((name, Some(v))) if v == WANT => pass_fail(
            ID,
            true,
            format!(
                "CONFIG GET is not allowed here ({why}); from parameter group {name} (DescribeCacheParameters): maxmemory-policy={v}{}",
                if ok.is_empty() { String::new() } else { format!("; CONFIG GET on {} node(s): {WANT}", ok.len()) }
            ),
        ),
        Some((name, v)) => pass_fail(
            ID,
            false,
            format!(
                "CONFIG GET is not allowed here ({why}); parameter group {name} has maxmemory-policy={}",
                v.as_deref().unwrap_or("(not set)")
            ),
        ),
        None => pass_fail(ID, false, format!("CONFIG GET is not allowed here ({why}) and the parameter group could not be read")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::exp;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    fn node(id: &str, port: i64, role: &str, health: &str) -> Value {
        Value::Array(vec![
            bulk("id"),
            bulk(id),
            bulk("tls-port"),
            Value::Int(port),
            bulk("ip"),
            bulk("127.0.0.1"),
            bulk("endpoint"),
            bulk("127.0.0.1"),
            bulk("role"),
            bulk(role),
            bulk("replication-offset"),
            Value::Int(10),
            bulk("health"),
            bulk(health),
        ])
    }

    fn shards(replica_health: &str) -> Value {
        Value::Array(vec![
            Value::Array(vec![
                bulk("slots"),
                Value::Array(vec![Value::Int(0), Value::Int(8191)]),
                bulk("nodes"),
                Value::Array(vec![
                    node("a", 7001, "master", "online"),
                    node("b", 7002, "replica", replica_health),
                ]),
            ]),
            Value::Array(vec![
                bulk("slots"),
                Value::Array(vec![Value::Int(8192), Value::Int(16383)]),
                bulk("nodes"),
                Value::Array(vec![
                    node("c", 7003, "master", "online"),
                    node("d", 7004, "replica", "online"),
                ]),
            ]),
        ])
    }

    #[test]
    fn cluster_shards_parse_and_dp4() {
        let t = parse_cluster_shards(&shards("online"), true).unwrap();
        assert_eq!(t.with_slots().len(), 2);
        assert_eq!(t.nodes().len(), 4);
        assert!(t.nodes()[0].primary && t.nodes()[1].primary);
        assert_eq!(
            t.shards[0].primary().unwrap().addr,
            Addr {
                host: "127.0.0.1".into(),
                port: 7001
            }
        );
        assert!(t.shards[1].owns(9000) && !t.shards[0].owns(9000));
        let r = dp4_topology(&exp(), &Ok(t));
        assert_eq!(r.status, Status::Pass, "{}", r.evidence);
        assert!(
            r.evidence
                .contains("[0-8191] 127.0.0.1:7001 + 1 replica(s)"),
            "{}",
            r.evidence
        );

        let t = parse_cluster_shards(&shards("failed"), true).unwrap();
        let r = dp4_topology(&exp(), &Ok(t));
        assert_eq!(r.status, Status::Fail);
        assert!(
            r.evidence
                .contains("[0-8191] has 0 healthy replica(s), the stack asks 1"),
            "{}",
            r.evidence
        );
        assert!(
            r.evidence
                .contains("[0-8191] replica 127.0.0.1:7002 is fail"),
            "{}",
            r.evidence
        );
        let t = parse_cluster_shards(&shards("loading"), true).unwrap();
        assert_eq!(dp4_topology(&exp(), &Ok(t)).status, Status::Pass);

        let mut e = exp();
        e.num_node_groups = 3;
        let r = dp4_topology(
            &e,
            &Ok(parse_cluster_shards(&shards("online"), true).unwrap()),
        );
        assert!(r
            .evidence
            .contains("2 shards serve slots, the stack asks 3"));
        assert_eq!(dp4_topology(&e, &Err("x".into())).status, Status::Fail);
    }

    #[test]
    fn cluster_shards_resp3_map_form() {
        let n = Value::Map(vec![
            (bulk("id"), bulk("a")),
            (bulk("port"), Value::Int(6379)),
            (bulk("ip"), bulk("10.0.20.5")),
            (bulk("endpoint"), bulk("?")),
            (bulk("role"), bulk("master")),
            (bulk("health"), bulk("online")),
        ]);
        let v = Value::Array(vec![Value::Map(vec![
            (
                bulk("slots"),
                Value::Array(vec![Value::Int(0), Value::Int(16383)]),
            ),
            (bulk("nodes"), Value::Array(vec![n])),
        ])]);
        let t = parse_cluster_shards(&v, true).unwrap();
        assert_eq!(t.shards[0].nodes[0].addr.to_string(), "10.0.20.5:6379");
        assert!(parse_cluster_shards(&Value::Array(vec![]), true).is_err());
        assert!(parse_cluster_shards(&Value::Nil, true).is_err());
    }

    #[test]
    fn cluster_nodes_parse() {
        let text = "\
a1 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-8191
b2 127.0.0.1:7002@17002 slave a1 0 1 1 connected
c3 127.0.0.1:7003@17003,host master - 0 1 2 connected 8192-16383 [93-<-x]
d4 127.0.0.1:7004@17004 slave,fail c3 0 1 2 disconnected
";
        let t = parse_cluster_nodes(text).unwrap();
        assert_eq!(t.shards.len(), 2);
        assert_eq!(t.shards[1].slots, vec![(8192, 16383)]);
        assert_eq!(t.shards[1].nodes[1].health, "fail");
        let r = dp4_topology(&exp(), &Ok(t));
        assert_eq!(r.status, Status::Fail);
        assert!(r.evidence.starts_with("CLUSTER NODES:"));
        assert!(parse_cluster_nodes("garbage").is_err());
        let lone = parse_cluster_nodes("a1 :7001@17001 myself,master - 0 0 1 connected 0-16383\n")
            .unwrap();
        let asked = Addr {
            host: "10.1.2.3".into(),
            port: 7001,
        };
        assert_eq!(lone.fill_unknown_hosts(&asked).nodes()[0].addr, asked);
        assert!(parse_cluster_nodes("").is_err());
    }

    #[test]
    fn wrong_tokens_are_alphanumeric_and_random() {
        let a = random_token();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(a, random_token());
        assert_eq!(random_hex(8).len(), 16);
    }
}
