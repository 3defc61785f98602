//! AC1–AC9 from live control-plane answers (never from recorded state).
//! Every check is a pure function of what `cairn_aws::inspect` returned.

use crate::expect::{kms_key_id_of, story_sizing, Expectations};
use crate::report::{Row, Status};
use cairn_aws::inspect::{
    CacheClusterInfo, CacheParameterInfo, InspectError, Inspector, ReplicationGroupInfo,
    SecretValue, SecurityGroupInfo,
};
use std::collections::BTreeSet;
use std::fmt;

/// What the control plane said, fetched once.
pub(crate) struct ControlFacts {
    pub rg: Result<ReplicationGroupInfo, InspectError>,
    pub clusters: Result<Vec<CacheClusterInfo>, InspectError>,
    /// Every security group the stack names or the member clusters use.
    pub security_groups: Vec<(String, Result<SecurityGroupInfo, InspectError>)>,
    pub params: Result<Vec<CacheParameterInfo>, InspectError>,
    pub secret: Result<SecretValue, InspectError>,
    /// Rotation of the key the group uses (`None`: no customer key to ask about).
    pub key_rotation: Option<Result<bool, InspectError>>,
}

impl ControlFacts {
    pub(crate) async fn fetch(ins: &Inspector, exp: &Expectations) -> ControlFacts {
        let rg = ins.replication_group(&exp.replication_group_id).await;
        let clusters = match &rg {
            Ok(g) => ins.cache_clusters(&g.member_clusters).await,
            Err(e) => Err(e.clone()),
        };
        let mut sg_ids = vec![exp.security_group_id.clone()];
        if let Ok(cs) = &clusters {
            for id in cs.iter().flat_map(|c| c.security_group_ids.iter()) {
                if !sg_ids.contains(id) {
                    sg_ids.push(id.clone());
                }
            }
        }
        let mut security_groups = Vec::new();
        for id in sg_ids {
            let sg = ins.security_group(&id).await;
            security_groups.push((id, sg));
        }
        let params = ins.cache_parameters(&exp.parameter_group_name).await;
        let secret = ins.secret_value(&exp.secret_id).await;
        let key = rg
            .as_ref()
            .ok()
            .and_then(|g| g.kms_key_id.clone())
            .or_else(|| exp.kms_key_arn.clone());
        let key_rotation = match key {
            Some(k) => Some(ins.key_rotation_enabled(&k).await),
            None => None,
        };
        ControlFacts {
            rg,
            clusters,
            security_groups,
            params,
            secret,
            key_rotation,
        }
    }

    /// The endpoint clients connect to, as the live group reports it.
    pub(crate) fn live_endpoint(&self) -> Option<(String, i32)> {
        let rg = self.rg.as_ref().ok()?;
        let e = rg.configuration_endpoint.as_ref().or_else(|| {
            rg.node_groups
                .first()
                .and_then(|n| n.primary_endpoint.as_ref())
        })?;
        Some((e.address.clone(), e.port?))
    }

    /// The parameter group's maxmemory-policy, if it was read.
    pub(crate) fn param(&self, name: &str) -> Option<String> {
        self.params
            .as_ref()
            .ok()?
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.value.clone())
    }
}

pub(crate) const CRIT: [(&str, &str); 9] = [
    ("AC1", "Redis 7+ on ElastiCache"),
    ("AC2", "node type per environment"),
    ("AC3", "cluster mode with the stack's shards and replicas"),
    ("AC4", "automatic failover, Multi-AZ replica"),
    ("AC5", "encryption in transit (TLS)"),
    ("AC6", "encryption at rest with the stack's KMS key"),
    ("AC7", "connection info in Secrets Manager"),
    (
        "AC8",
        "security group admits only the allowed sources on the Redis port",
    ),
    ("AC9", "eviction policy allkeys-lru"),
];

fn row(id: &str, ok: bool, evidence: impl Into<String>) -> Row {
    let crit = CRIT
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, c)| *c)
        .unwrap_or(id);
    Row::new(
        id,
        crit,
        if ok { Status::Pass } else { Status::Fail },
        evidence,
    )
}

fn cannot(id: &str, e: &InspectError) -> Row {
    row(id, false, format!("could not check: {e}"))
}

/// All of AC1–AC9, in order.
pub(crate) fn control_rows(exp: &Expectations, f: &ControlFacts, local: bool) -> Vec<Row> {
    vec![
        ac1_engine(&f.rg, &f.clusters),
        ac2_node_type(exp, &f.rg, &f.clusters),
        ac3_cluster_mode(exp, &f.rg),
        ac4_failover(exp, &f.rg),
        ac5_transit(&f.rg, &f.clusters),
        ac6_at_rest(exp, &f.rg, f.key_rotation.as_ref()),
        ac7_secret(exp, &f.secret, f.live_endpoint(), local),
        ac8_security_groups(exp, &f.security_groups, &f.clusters),
        ac9_params(exp, &f.params, &f.clusters),
    ]
}

fn major(version: &str) -> Option<u32> {
    version.trim().split('.').next()?.parse().ok()
}

pub(crate) fn ac1_engine(
    rg: &Result<ReplicationGroupInfo, InspectError>,
    clusters: &Result<Vec<CacheClusterInfo>, InspectError>,
) -> Row {
    const ID: &str = "AC1";
    let rg = match rg {
        Ok(r) => r,
        Err(e) => return cannot(ID, e),
    };
    let cs = match clusters {
        Ok(c) => c,
        Err(e) => return cannot(ID, e),
    };
    if cs.is_empty() {
        return row(
            ID,
            false,
            "DescribeCacheClusters lists no member cluster of the group",
        );
    }
    let mut bad = Vec::new();
    let mut versions = BTreeSet::new();
    for c in cs {
        let engine = c.engine.as_deref().unwrap_or("?");
        let version = c.engine_version.as_deref().unwrap_or("?");
        versions.insert(format!("{engine} {version}"));
        if !engine.eq_ignore_ascii_case("redis") || major(version).is_none_or(|m| m < 7) {
            bad.push(format!("{} runs {engine} {version}", c.cache_cluster_id));
        }
    }
    let listed = rg.member_clusters.len();
    if listed != cs.len() {
        bad.push(format!(
            "the group lists {listed} member clusters, DescribeCacheClusters found {}",
            cs.len()
        ));
    }
    let seen = versions.into_iter().collect::<Vec<_>>().join(", ");
    if bad.is_empty() {
        row(
            ID,
            true,
            format!("{seen} on {}/{} member clusters", cs.len(), listed),
        )
    } else {
        row(
            ID,
            false,
            format!("{}; engine must be redis 7 or newer", bad.join("; ")),
        )
    }
}

pub(crate) fn ac2_node_type(
    exp: &Expectations,
    rg: &Result<ReplicationGroupInfo, InspectError>,
    clusters: &Result<Vec<CacheClusterInfo>, InspectError>,
) -> Row {
    const ID: &str = "AC2";
    let rg = match rg {
        Ok(r) => r,
        Err(e) => return cannot(ID, e),
    };
    let mut bad = Vec::new();
    let live = rg.cache_node_type.as_deref().unwrap_or("(none reported)");
    if live != exp.node_type {
        bad.push(format!(
            "the group runs {live}, the stack asks {}",
            exp.node_type
        ));
    }
    if let Ok(cs) = clusters {
        for c in cs {
            let t = c.cache_node_type.as_deref().unwrap_or("(none)");
            if t != exp.node_type {
                bad.push(format!("{} runs {t}", c.cache_cluster_id));
            }
        }
    }
    let story = story_sizing(&exp.environment);
    if let Some((want, ..)) = story {
        if want != exp.node_type {
            bad.push(format!(
                "the stack asks {} but the story sizes {} at {want}",
                exp.node_type, exp.environment
            ));
        }
    }
    if bad.is_empty() {
        let note = if story.is_some() {
            format!(" (the story's {} size)", exp.environment)
        } else {
            String::new()
        };
        row(
            ID,
            true,
            format!("{live} on the group and every member cluster{note}"),
        )
    } else {
        row(ID, false, bad.join("; "))
    }
}

pub(crate) fn ac3_cluster_mode(
    exp: &Expectations,
    rg: &Result<ReplicationGroupInfo, InspectError>,
) -> Row {
    const ID: &str = "AC3";
    let rg = match rg {
        Ok(r) => r,
        Err(e) => return cannot(ID, e),
    };
    let mut bad = Vec::new();
    let cluster_on =
        rg.cluster_enabled == Some(true) || rg.cluster_mode.as_deref() == Some("enabled");
    if !cluster_on {
        bad.push(format!(
            "cluster mode is off (ClusterEnabled={:?}, ClusterMode={:?})",
            rg.cluster_enabled, rg.cluster_mode
        ));
    }
    let shards = rg.node_groups.len() as i64;
    if shards != exp.num_node_groups {
        bad.push(format!(
            "{shards} node groups, the stack asks {}",
            exp.num_node_groups
        ));
    }
    let mut shapes = Vec::new();
    for ng in &rg.node_groups {
        let replicas = ng.members.len() as i64 - 1;
        shapes.push(format!(
            "{}{}: 1 primary + {replicas} replica{}",
            ng.node_group_id,
            ng.slots
                .as_deref()
                .map(|s| format!(" [{s}]"))
                .unwrap_or_default(),
            if replicas == 1 { "" } else { "s" }
        ));
        if replicas != exp.replicas_per_node_group {
            bad.push(format!(
                "node group {} has {replicas} replicas, the stack asks {}",
                ng.node_group_id, exp.replicas_per_node_group
            ));
        }
    }
    if let Some((_, want_shards, want_replicas, _)) = story_sizing(&exp.environment) {
        if (want_shards, want_replicas) != (exp.num_node_groups, exp.replicas_per_node_group) {
            bad.push(format!(
                "the stack asks {} shards x {} replicas but the story sizes {} at {want_shards} x {want_replicas}",
                exp.num_node_groups, exp.replicas_per_node_group, exp.environment
            ));
        }
    }
    if bad.is_empty() {
        row(
            ID,
            true,
            format!(
                "cluster mode enabled; NumNodeGroups={shards}: {}",
                shapes.join("; ")
            ),
        )
    } else {
        row(ID, false, bad.join("; "))
    }
}

pub(crate) fn ac4_failover(
    exp: &Expectations,
    rg: &Result<ReplicationGroupInfo, InspectError>,
) -> Row {
    const ID: &str = "AC4";
    let rg = match rg {
        Ok(r) => r,
        Err(e) => return cannot(ID, e),
    };
    let af = rg.automatic_failover.as_deref().unwrap_or("(not reported)");
    let maz = rg.multi_az.as_deref().unwrap_or("(not reported)");
    let mut bad = Vec::new();
    if af != "enabled" {
        bad.push(format!("AutomaticFailover={af}"));
    }
    let mut az_notes = Vec::new();
    if exp.require_failover_multi_az {
        if maz != "enabled" {
            bad.push(format!("MultiAZ={maz}, required for {}", exp.environment));
        }
        for ng in &rg.node_groups {
            let azs: BTreeSet<&str> = ng
                .members
                .iter()
                .filter_map(|m| m.availability_zone.as_deref())
                .collect();
            if azs.len() == ng.members.len() && ng.members.len() > 1 || azs.len() > 1 {
                az_notes.push(format!(
                    "{}: {}",
                    ng.node_group_id,
                    azs.into_iter().collect::<Vec<_>>().join("+")
                ));
            } else if !azs.is_empty() {
                bad.push(format!(
                    "node group {} has every member in {}: no replica in another AZ",
                    ng.node_group_id,
                    azs.into_iter().collect::<Vec<_>>().join(",")
                ));
            }
        }
    }
    let need = if exp.require_failover_multi_az {
        "required"
    } else {
        "not required"
    };
    if bad.is_empty() {
        let azs = if az_notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", az_notes.join("; "))
        };
        row(
            ID,
            true,
            format!(
                "AutomaticFailover=enabled; MultiAZ={maz} ({need} for {}){azs}",
                exp.environment
            ),
        )
    } else {
        row(ID, false, bad.join("; "))
    }
}

pub(crate) fn ac5_transit(
    rg: &Result<ReplicationGroupInfo, InspectError>,
    clusters: &Result<Vec<CacheClusterInfo>, InspectError>,
) -> Row {
    const ID: &str = "AC5";
    let rg = match rg {
        Ok(r) => r,
        Err(e) => return cannot(ID, e),
    };
    let mut bad = Vec::new();
    if rg.transit_encryption_enabled != Some(true) {
        bad.push(format!(
            "TransitEncryptionEnabled={:?}",
            rg.transit_encryption_enabled
        ));
    }
    if let Some(mode) = rg.transit_encryption_mode.as_deref() {
        if mode != "required" {
            bad.push(format!(
                "TransitEncryptionMode={mode}: plaintext clients are still accepted"
            ));
        }
    }
    if let Ok(cs) = clusters {
        for c in cs {
            if c.transit_encryption_enabled == Some(false) {
                bad.push(format!(
                    "{} has TransitEncryptionEnabled=false",
                    c.cache_cluster_id
                ));
            }
        }
    }
    if bad.is_empty() {
        let mode = rg
            .transit_encryption_mode
            .as_deref()
            .map(|m| format!(", mode {m}"))
            .unwrap_or_default();
        row(
            ID,
            true,
            format!(
                "TransitEncryptionEnabled=true{mode}; AuthTokenEnabled={:?}",
                rg.auth_token_enabled.unwrap_or(false)
            ),
        )
    } else {
        row(ID, false, bad.join("; "))
    }
}

pub(crate) fn ac6_at_rest(
    exp: &Expectations,
    rg: &Result<ReplicationGroupInfo, InspectError>,
    rotation: Option<&Result<bool, InspectError>>,
) -> Row {
    const ID: &str = "AC6";
    let rg = match rg {
        Ok(r) => r,
        Err(e) => return cannot(ID, e),
    };
    if rg.at_rest_encryption_enabled != Some(true) {
        return row(
            ID,
            false,
            format!(
                "AtRestEncryptionEnabled={:?}",
                rg.at_rest_encryption_enabled
            ),
        );
    }
    // The story asks a customer key with rotation on.
    let rotation_note = match rotation {
        Some(Ok(true)) => Ok("automatic rotation on".to_string()),
        Some(Ok(false)) => Err("automatic key rotation is off (the story asks it on)".to_string()),
        Some(Err(e)) => Ok(format!("rotation not checked: {e}")),
        None => Ok(String::new()),
    };
    let key = match (exp.kms_key_arn.as_deref(), rg.kms_key_id.as_deref()) {
        (Some(want), Some(live)) if kms_key_id_of(want) == kms_key_id_of(live) => {
            Ok(format!("KmsKeyId={live} is the stack's key"))
        }
        (Some(want), Some(live)) => Err(format!("KmsKeyId={live}, not the stack's key {want}")),
        (Some(want), None) => Err(format!(
            "the AWS-managed key is used, not the stack's customer key {want}"
        )),
        (None, Some(live)) => Ok(format!("KmsKeyId={live} (the stack records no key)")),
        (None, None) => Err("no customer KMS key (the story asks for one)".to_string()),
    };
    match (key, rotation_note) {
        (Ok(k), Ok(r)) if r.is_empty() => {
            row(ID, true, format!("AtRestEncryptionEnabled=true; {k}"))
        }
        (Ok(k), Ok(r)) => row(ID, true, format!("AtRestEncryptionEnabled=true; {k}; {r}")),
        (k, r) => {
            let bad: Vec<String> = [k.err(), r.err()].into_iter().flatten().collect();
            row(
                ID,
                false,
                format!("AtRestEncryptionEnabled=true but {}", bad.join("; ")),
            )
        }
    }
}

// ---------------------------------------------------------------- AC7

/// The connection secret's JSON. `Debug` masks the token and the URI.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ConnSecret {
    pub primary_endpoint: String,
    pub reader_endpoint: String,
    pub port: i64,
    pub auth_token: String,
    pub ssl_enabled: bool,
    pub connection_uri: String,
}

impl fmt::Debug for ConnSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnSecret")
            .field("primary_endpoint", &self.primary_endpoint)
            .field("reader_endpoint", &self.reader_endpoint)
            .field("port", &self.port)
            .field("auth_token", &cairn_core::value::SECRET_MASK)
            .field("ssl_enabled", &self.ssl_enabled)
            .field("connection_uri", &cairn_core::value::SECRET_MASK)
            .finish()
    }
}

/// Parses the secret; the error names missing or mistyped fields, never values.
pub(crate) fn parse_secret(text: &str) -> Result<ConnSecret, String> {
    let j: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        format!(
            "the secret is not JSON (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    let obj = j
        .as_object()
        .ok_or("the secret is JSON but not an object")?;
    let mut problems = Vec::new();
    let mut string = |k: &str| match obj.get(k) {
        Some(serde_json::Value::String(s)) if !s.is_empty() => s.clone(),
        Some(serde_json::Value::String(_)) => {
            problems.push(format!("`{k}` is empty"));
            String::new()
        }
        Some(other) => {
            problems.push(format!("`{k}` is {} (want a string)", json_kind(other)));
            String::new()
        }
        None => {
            problems.push(format!("`{k}` is missing"));
            String::new()
        }
    };
    let primary_endpoint = string("primary_endpoint");
    let reader_endpoint = string("reader_endpoint");
    let auth_token = string("auth_token");
    let connection_uri = string("connection_uri");
    let port = match obj.get("port") {
        Some(serde_json::Value::Number(n))
            if n.as_i64().is_some_and(|p| (1..=65535).contains(&p)) =>
        {
            n.as_i64().unwrap_or(0)
        }
        // A numeric string is tolerated by most clients; the story asks a number.
        Some(other @ serde_json::Value::String(_)) => {
            problems.push(format!("`port` is {} (want a number)", json_kind(other)));
            0
        }
        Some(other) => {
            problems.push(format!(
                "`port` is {} (want a port number)",
                json_kind(other)
            ));
            0
        }
        None => {
            problems.push("`port` is missing".into());
            0
        }
    };
    let ssl_enabled = match obj.get("ssl_enabled") {
        Some(serde_json::Value::Bool(b)) => *b,
        Some(other) => {
            problems.push(format!("`ssl_enabled` is {} (want true)", json_kind(other)));
            false
        }
        None => {
            problems.push("`ssl_enabled` is missing".into());
            false
        }
    };
    if problems.is_empty() {
        Ok(ConnSecret {
            primary_endpoint,
            reader_endpoint,
            port,
            auth_token,
            ssl_enabled,
            connection_uri,
        })
    } else {
        Err(problems.join("; "))
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(v) = hex {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Problems with `connection_uri` against the other fields (never echoing the token).
pub(crate) fn uri_problems(s: &ConnSecret) -> Vec<String> {
    let mut bad = Vec::new();
    let Some(rest) = s.connection_uri.strip_prefix("rediss://") else {
        let scheme = s
            .connection_uri
            .split("://")
            .next()
            .filter(|x| x.len() < 16)
            .unwrap_or("?");
        bad.push(format!(
            "connection_uri scheme is `{scheme}://`, want `rediss://` (TLS)"
        ));
        return bad;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let Some((userinfo, hostport)) = authority.rsplit_once('@') else {
        bad.push("connection_uri has no `:TOKEN@` credentials".into());
        return bad;
    };
    match userinfo.split_once(':') {
        Some((user, pass)) => {
            if !user.is_empty() && user != "default" {
                bad.push(format!(
                    "connection_uri names user `{user}`; the auth token is for the default user"
                ));
            }
            if percent_decode(pass) != s.auth_token {
                bad.push("the password in connection_uri is not auth_token".into());
            }
        }
        None => bad.push("connection_uri credentials are not `:TOKEN`".into()),
    }
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<i64>().ok()),
        None => (hostport, None),
    };
    if host != s.primary_endpoint {
        bad.push(format!(
            "connection_uri host `{host}` is not primary_endpoint `{}`",
            s.primary_endpoint
        ));
    }
    match port {
        Some(p) if p == s.port => {}
        Some(p) => bad.push(format!("connection_uri port {p} is not port {}", s.port)),
        None => bad.push("connection_uri has no port".into()),
    }
    bad
}

pub(crate) fn ac7_secret(
    exp: &Expectations,
    secret: &Result<SecretValue, InspectError>,
    live: Option<(String, i32)>,
    local: bool,
) -> Row {
    const ID: &str = "AC7";
    let sv = match secret {
        Ok(s) => s,
        Err(e) => return cannot(ID, e),
    };
    let name = sv.name.as_deref().unwrap_or(&exp.secret_id);
    let Some(text) = sv.secret_string.as_deref() else {
        return row(
            ID,
            false,
            format!("GetSecretValue({name}) returned no SecretString"),
        );
    };
    let s = match parse_secret(text) {
        Ok(s) => s,
        Err(p) => return row(ID, false, format!("{name}: {p}")),
    };
    let mut bad = uri_problems(&s);
    let mut notes = Vec::new();
    if !s.ssl_enabled {
        bad.push("ssl_enabled is false".into());
    }
    // The secret holds the port clients must dial: the stack's port on AWS,
    // the twin's real port behind the local emulator.
    let live_port = live.as_ref().map(|(_, p)| i64::from(*p));
    if s.port != exp.port && !(local && live_port == Some(s.port)) {
        bad.push(format!(
            "port {} is not the stack's port {}",
            s.port, exp.port
        ));
    }
    if let Some((addr, port)) = &live {
        if &s.primary_endpoint != addr {
            bad.push(format!(
                "primary_endpoint `{}` is not the live endpoint `{addr}`",
                s.primary_endpoint
            ));
        }
        if &s.reader_endpoint != addr {
            bad.push(format!(
                "reader_endpoint `{}` is not the live configuration endpoint `{addr}`",
                s.reader_endpoint
            ));
        }
        if i64::from(*port) != s.port {
            if local {
                notes.push(format!(
                    "the local twin serves on port {port}, the secret says {}",
                    s.port
                ));
            } else {
                bad.push(format!(
                    "port {} is not the live endpoint's port {port}",
                    s.port
                ));
            }
        }
    } else {
        notes.push("the live endpoint is unknown, so the endpoints were not compared".into());
    }
    let token_shape =
        if s.auth_token.len() == 64 && s.auth_token.bytes().all(|b| b.is_ascii_alphanumeric()) {
            "64 alphanumeric characters".to_string()
        } else {
            format!(
                "{} characters, not the story's 64 alphanumeric",
                s.auth_token.chars().count()
            )
        };
    if bad.is_empty() {
        let mut ev = format!(
            "{name}: all 6 fields; connection_uri = rediss://:[secret]@{}:{} matches primary_endpoint, port and auth_token ({token_shape}); ssl_enabled=true",
            s.primary_endpoint, s.port
        );
        for n in notes {
            ev.push_str("; ");
            ev.push_str(&n);
        }
        row(ID, true, ev)
    } else {
        row(ID, false, format!("{name}: {}", bad.join("; ")))
    }
}

// ---------------------------------------------------------------- AC8

fn is_open_world(cidr: &str) -> bool {
    let c = cidr.trim();
    c == "0.0.0.0/0" || c == "::/0" || c.ends_with("/0")
}

fn describe_rule(r: &cairn_aws::inspect::IngressRule) -> String {
    let proto = match r.protocol.as_str() {
        "-1" => "all traffic".to_string(),
        p => p.to_string(),
    };
    let ports = match (r.from_port, r.to_port) {
        _ if r.protocol == "-1" => String::new(),
        (Some(a), Some(b)) if a == b => format!(" {a}"),
        (Some(a), Some(b)) => format!(" {a}-{b}"),
        _ => " (all ports)".to_string(),
    };
    format!("{proto}{ports}")
}

pub(crate) fn ac8_security_groups(
    exp: &Expectations,
    groups: &[(String, Result<SecurityGroupInfo, InspectError>)],
    clusters: &Result<Vec<CacheClusterInfo>, InspectError>,
) -> Row {
    const ID: &str = "AC8";
    let mut bad = Vec::new();
    let mut seen_cidrs = BTreeSet::new();
    let mut rules = 0;
    if let Ok(cs) = clusters {
        for c in cs {
            if !c.security_group_ids.contains(&exp.security_group_id) {
                bad.push(format!(
                    "{} uses {} rather than the stack's {}",
                    c.cache_cluster_id,
                    if c.security_group_ids.is_empty() {
                        "no security group".to_string()
                    } else {
                        c.security_group_ids.join(",")
                    },
                    exp.security_group_id
                ));
            }
        }
    }
    for (id, sg) in groups {
        let sg = match sg {
            Ok(s) => s,
            Err(e) => {
                bad.push(format!("could not read {id}: {e}"));
                continue;
            }
        };
        for r in &sg.ingress {
            rules += 1;
            let what = describe_rule(r);
            let port_ok = matches!(r.protocol.as_str(), "tcp" | "6")
                && r.from_port == Some(exp.port as i32)
                && r.to_port == Some(exp.port as i32);
            for c in r.ipv4_cidrs.iter().chain(&r.ipv6_cidrs) {
                if is_open_world(c) {
                    bad.push(format!("{id} admits {what} from {c} (the whole internet)"));
                } else if !exp.allowed_cidrs.contains(c) {
                    bad.push(format!("{id} admits {what} from {c}, not an allowed CIDR"));
                } else if !port_ok {
                    bad.push(format!(
                        "{id} admits {what} from {c}: only tcp {} is allowed",
                        exp.port
                    ));
                } else {
                    seen_cidrs.insert(c.clone());
                }
            }
            for g in &r.source_security_groups {
                if !exp.allowed_source_security_groups.contains(g) {
                    bad.push(format!(
                        "{id} admits {what} from security group {g}, not an allowed source"
                    ));
                } else if !port_ok {
                    bad.push(format!(
                        "{id} admits {what} from {g}: only tcp {} is allowed",
                        exp.port
                    ));
                }
            }
            for p in &r.prefix_lists {
                bad.push(format!(
                    "{id} admits {what} from prefix list {p}, not an allowed source"
                ));
            }
        }
    }
    for want in &exp.allowed_cidrs {
        if !seen_cidrs.contains(want) {
            bad.push(format!(
                "no rule admits {want} on tcp {} (an allowed source is missing)",
                exp.port
            ));
        }
    }
    if bad.is_empty() {
        let ids: Vec<&str> = groups.iter().map(|(i, _)| i.as_str()).collect();
        row(
            ID,
            true,
            format!(
                "{}: {rules} inbound rule(s), only tcp {} from {}",
                ids.join(", "),
                exp.port,
                seen_cidrs.into_iter().collect::<Vec<_>>().join(", ")
            ),
        )
    } else {
        row(ID, false, bad.join("; "))
    }
}

// ---------------------------------------------------------------- AC9

/// The story's parameter table, for evidence (only maxmemory-policy decides AC9).
const STORY_PARAMS: [(&str, &str); 5] = [
    ("tcp-keepalive", "300"),
    ("timeout", "0"),
    ("notify-keyspace-events", "Exe"),
    ("cluster-enabled", "yes"),
    ("reserved-memory-percent", "25"),
];

pub(crate) fn ac9_params(
    exp: &Expectations,
    params: &Result<Vec<CacheParameterInfo>, InspectError>,
    clusters: &Result<Vec<CacheClusterInfo>, InspectError>,
) -> Row {
    const ID: &str = "AC9";
    let ps = match params {
        Ok(p) => p,
        Err(e) => return cannot(ID, e),
    };
    let get = |n: &str| {
        ps.iter()
            .find(|p| p.name == n)
            .and_then(|p| p.value.as_deref())
    };
    let mut bad = Vec::new();
    let policy = get("maxmemory-policy");
    if policy != Some("allkeys-lru") {
        bad.push(format!(
            "{} has maxmemory-policy={}",
            exp.parameter_group_name,
            policy.unwrap_or("(not set)")
        ));
    }
    if let Ok(cs) = clusters {
        for c in cs {
            let pg = c.parameter_group.as_deref().unwrap_or("(none)");
            if pg != exp.parameter_group_name {
                bad.push(format!(
                    "{} uses parameter group {pg}, not {}",
                    c.cache_cluster_id, exp.parameter_group_name
                ));
            }
        }
    }
    let others: Vec<String> = STORY_PARAMS
        .iter()
        .map(|(n, want)| match get(n) {
            Some(v) if v == *want => format!("{n}={v}"),
            Some(v) => format!("{n}={v} (story: {want})"),
            None => format!("{n} unset (story: {want})"),
        })
        .collect();
    if bad.is_empty() {
        row(
            ID,
            true,
            format!(
                "{} (used by every member cluster): maxmemory-policy=allkeys-lru; also {}",
                exp.parameter_group_name,
                others.join(", ")
            ),
        )
    } else {
        row(ID, false, bad.join("; "))
    }
}

#[cfg(test)]
mod tests;
