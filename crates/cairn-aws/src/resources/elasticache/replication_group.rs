//! `aws:elasticache:ReplicationGroup`: a Redis (or Valkey) replication
//! group, cluster mode on or off, with in-place scaling and auth-token
//! rotation. Every mutating call is followed by a waiter.

use crate::clients::Shared;
use crate::util::{
    api_error, batch_label, ensure_ours, error_code, get_bool, get_i32, get_i64, get_str,
    get_str_list, get_string, get_tags, is_not_found, is_unresolved, order_like, resource_label,
    str_list_value, tag_diff, tags_value, URN_TAG,
};
use crate::wait::{wait_until, Probe, WaitSpec};
use async_trait::async_trait;
use aws_sdk_elasticache::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_elasticache::types::{
    AuthTokenUpdateStrategyType, ClusterMode, ReplicationGroup as RgModel, Tag,
    TransitEncryptionMode,
};
use cairn_core::dsl::{Input, Output, ResourceType};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, Operation, PendingOptions, PendingUpdate,
    ProviderError, ReadRequest, ResourceProvider,
};
use cairn_core::schema::{OutputSchema, PropType, PropertySchema, ResourceSchema};
use cairn_core::value::{Map, PropertyPath, Value};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

pub const TOKEN: &str = "aws:elasticache:ReplicationGroup";
const CREATE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
const UPDATE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
const DELETE_TIMEOUT: Duration = Duration::from_secs(40 * 60);

/// Stable rule ids of this type's preview checks.
pub mod rules {
    pub const ID: &str = "aws::elasticache::replication-group-id";
    pub const ENGINE_VERSION: &str = "aws::elasticache::engine-version";
    pub const AUTH_TOKEN_FORMAT: &str = "aws::elasticache::auth-token-format";
    pub const AUTH_TOKEN_TLS: &str = "aws::elasticache::auth-token-requires-tls";
    pub const CLUSTER_FAILOVER: &str = "aws::elasticache::cluster-failover";
    pub const MULTI_AZ_FAILOVER: &str = "aws::elasticache::multi-az-failover";
    pub const MULTI_AZ_REPLICA: &str = "aws::elasticache::multi-az-needs-replica";
    pub const FAILOVER_REPLICA: &str = "aws::elasticache::failover-needs-replica";
    pub const KMS_AT_REST: &str = "aws::elasticache::kms-requires-at-rest";
    pub const ENGINE_VERSION_FORMAT: &str = "aws::elasticache::engine-version-format";
    pub const LOWER_CASE_NAME: &str = "aws::elasticache::name-stored-lower-case";
    pub const MAINTENANCE_WINDOW: &str = "aws::elasticache::maintenance-window";
    pub const SNAPSHOT_WINDOW: &str = "aws::elasticache::snapshot-window";
    pub const NODE_COUNT_INPUTS: &str = "aws::elasticache::node-count-inputs";
    pub const NODE_LIMIT: &str = "aws::elasticache::node-limit";
    pub const TLS_MODE: &str = "aws::elasticache::transit-encryption-mode";
    pub const AUTH_TOKEN_REMOVAL: &str = "aws::elasticache::auth-token-removal";
    pub const ROTATION_OVERLAP: &str = "aws::elasticache::auth-token-rotation-overlap";
}

/// How long both tokens stay accepted after a rotation, unless the stack
/// says otherwise (`authTokenRotationOverlap`).
pub const DEFAULT_ROTATION_OVERLAP: &str = "1d";
/// The tag that records, on the group itself, when a rotation started (Unix
/// seconds), so a refresh or another machine still knows the old token is
/// to be dropped.
const ROTATION_TAG: &str = "cairn:auth-token-rotation-started";
/// The output carrying the same (non-secret) time; absent when no rotation is pending.
pub const ROTATION_OUTPUT: &str = "authTokenRotationStartedAt";

/// `30s`, `15m`, `24h`, `1d` → seconds.
fn parse_overlap(s: &str) -> Option<u64> {
    let (num, unit) = s.split_at(s.len().checked_sub(1)?);
    let n: u64 = num.parse().ok()?;
    let per = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(per)
}

fn rotation_overlap(inputs: &Map) -> (u64, String) {
    let text = get_str(inputs, "authTokenRotationOverlap").unwrap_or(DEFAULT_ROTATION_OVERLAP);
    match parse_overlap(text) {
        Some(secs) => (secs, text.to_string()),
        None => (86_400, DEFAULT_ROTATION_OVERLAP.to_string()),
    }
}

/// Unix seconds as `2026-12-05T18:41:20Z`.
fn utc(secs: i64) -> String {
    aws_sdk_elasticache::primitives::DateTime::from_secs(secs)
        .fmt(aws_sdk_elasticache::primitives::DateTimeFormat::DateTime)
        .unwrap_or_else(|_| format!("{secs} (Unix time)"))
}

fn now_unix() -> i64 {
    PendingOptions::now().now_unix as i64
}

/// Nodes per cluster-mode-enabled group: AWS's default quota, and the most
/// a quota increase allows.
pub const DEFAULT_NODE_QUOTA: i64 = 90;
pub const MAX_NODES: i64 = 500;

const MINUTES_PER_DAY: u32 = 24 * 60;
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// `hh24:mi` → minutes after midnight.
fn parse_hhmm(t: &str) -> Option<u32> {
    let (h, m) = t.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// `ddd:hh24:mi-ddd:hh24:mi` → (start, end) in minutes of the week, end
/// after start (wrapping past Saturday).
fn parse_maintenance_window(w: &str) -> Option<(u32, u32)> {
    let point = |p: &str| -> Option<u32> {
        let (d, t) = p.split_once(':')?;
        let day = DAYS.iter().position(|x| x.eq_ignore_ascii_case(d))? as u32;
        Some(day * MINUTES_PER_DAY + parse_hhmm(t)?)
    };
    let (a, b) = w.split_once('-')?;
    let (a, mut b) = (point(a)?, point(b)?);
    if b <= a {
        b += 7 * MINUTES_PER_DAY;
    }
    Some((a, b))
}

/// `hh24:mi-hh24:mi` → (start, end) in minutes of the day, end after start.
fn parse_snapshot_window(w: &str) -> Option<(u32, u32)> {
    let (a, b) = w.split_once('-')?;
    let (a, mut b) = (parse_hhmm(a)?, parse_hhmm(b)?);
    if b <= a {
        b += MINUTES_PER_DAY;
    }
    Some((a, b))
}

/// Whether the daily snapshot window meets the weekly maintenance window.
fn windows_overlap(snapshot: (u32, u32), maintenance: (u32, u32)) -> bool {
    let week = 7 * MINUTES_PER_DAY;
    // Every daily occurrence, including one shifted past the week's end.
    (0..8).any(|day| {
        let (s, e) = (
            snapshot.0 + day * MINUTES_PER_DAY,
            snapshot.1 + day * MINUTES_PER_DAY,
        );
        [0, week]
            .iter()
            .any(|shift| s < maintenance.1 + shift && maintenance.0 + shift < e)
    })
}

pub fn schema() -> ResourceSchema {
    let s = PropType::string;
    ResourceSchema::new(
        TOKEN,
        "An ElastiCache replication group (Redis OSS / Valkey), cluster mode enabled or disabled.",
    )
    .fixed_name()
    .property(
        PropertySchema::new(
            "replicationGroupId",
            PropType::String {
                min_len: Some(1),
                max_len: Some(40),
            },
        )
        .required()
        .replaces()
        .doc("Replication group identifier: lowercase letters, digits and hyphens; starts with a letter."),
    )
    .property(PropertySchema::new("description", s()).required().doc("User description."))
    .property(
        PropertySchema::new("engine", PropType::one_of(&["redis", "valkey"]))
            .default_value(serde_json::json!("redis"))
            .doc("Cache engine; redis → valkey is changed in place, valkey → redis replaces the group."),
    )
    .property(PropertySchema::new("engineVersion", s()).doc("Engine version, e.g. `7.1`; a downgrade replaces the group."))
    .property(PropertySchema::new("nodeType", s()).required().doc("Node type, e.g. `cache.r5.large`; changed in place."))
    .property(
        PropertySchema::new("clusterMode", PropType::one_of(&["enabled", "disabled", "compatible"]))
            .doc("Cluster mode; when unset, setting `numNodeGroups` means cluster mode enabled."),
    )
    .property(PropertySchema::new("numNodeGroups", PropType::int_range(1, 500)).doc("Number of shards (cluster mode); changed in place."))
    .property(PropertySchema::new("replicasPerNodeGroup", PropType::int_range(0, 5)).doc("Replicas per shard; changed in place."))
    .property(PropertySchema::new("numCacheClusters", PropType::int_range(1, 6)).doc("Cluster mode disabled: primary plus replicas."))
    .property(PropertySchema::new("automaticFailoverEnabled", PropType::Bool).default_value(serde_json::json!(false)).doc("Automatic failover; required with cluster mode."))
    .property(PropertySchema::new("multiAzEnabled", PropType::Bool).default_value(serde_json::json!(false)).doc("Multi-AZ; requires automatic failover."))
    .property(PropertySchema::new("transitEncryptionEnabled", PropType::Bool).doc("TLS in transit; turned on in place (mode `preferred`, then `required`), turning it off replaces the group."))
    .property(
        PropertySchema::new("transitEncryptionMode", PropType::one_of(&["preferred", "required"]))
            .doc("With TLS on: `required` (the default: TLS only) or `preferred` (plaintext still accepted, while clients migrate)."),
    )
    .property(PropertySchema::new("atRestEncryptionEnabled", PropType::Bool).replaces().doc("Encryption at rest."))
    .property(PropertySchema::new("kmsKeyId", s()).replaces().doc("KMS key (id or ARN) for encryption at rest."))
    .property(
        PropertySchema::new(
            "authToken",
            PropType::String {
                min_len: Some(16),
                max_len: Some(128),
            },
        )
        .secret()
        .doc("AUTH token (16-128 printable characters, requires transit encryption); changed by rotation."),
    )
    .property(
        PropertySchema::new("authTokenUpdateStrategy", PropType::one_of(&["SET", "ROTATE", "DELETE"]))
            .doc("How a changed token is applied: ROTATE (the default) keeps the old and the new token accepted for `authTokenRotationOverlap`, and a later `cairn up` drops the old one (SET); SET drops the old one in the same run (ROTATE, then SET, as AWS takes SET only after ROTATE; clients holding the old token are refused)."),
    )
    .property(
        PropertySchema::new("authTokenRotationOverlap", s())
            .doc("After a ROTATE, how long the old token stays accepted before a `cairn up` drops it: `30s`, `15m`, `24h`, `1d` (the default). `cairn up --finish-rotation` drops it at once."),
    )
    .property(PropertySchema::new("parameterGroupName", s()).doc("Cache parameter group."))
    .property(PropertySchema::new("subnetGroupName", s()).replaces().doc("Cache subnet group."))
    .property(PropertySchema::new("securityGroupIds", PropType::list(s())).doc("VPC security group ids."))
    .property(
        PropertySchema::new("port", PropType::int_range(1, 65535))
            .replaces()
            .default_value(serde_json::json!(6379))
            .doc("Port."),
    )
    .property(PropertySchema::new("maintenanceWindow", s()).doc("Weekly maintenance window, e.g. `sun:05:00-sun:06:00`."))
    .property(PropertySchema::new("snapshotWindow", s()).doc("Daily snapshot window, e.g. `03:00-04:00`."))
    .property(PropertySchema::new("snapshotRetentionLimit", PropType::int_range(0, 35)).doc("Days to keep automatic snapshots."))
    .property(
        PropertySchema::new("applyImmediately", PropType::Bool)
            .default_value(serde_json::json!(true))
            .doc("Apply modifications now rather than in the maintenance window (default true here, so apply results match the stack)."),
    )
    .property(PropertySchema::new("autoMinorVersionUpgrade", PropType::Bool).doc("Automatic minor version upgrades."))
    .property(PropertySchema::new("finalSnapshotIdentifier", s()).doc("Snapshot to take when the group is deleted."))
    .property(PropertySchema::new("tags", PropType::map(s())).doc("Tags."))
    .output(OutputSchema::new("id", "Replication group id."))
    .output(OutputSchema::new("arn", "ARN."))
    .output(OutputSchema::new("configurationEndpointAddress", "Configuration endpoint (cluster mode enabled; empty otherwise)."))
    .output(OutputSchema::new("primaryEndpointAddress", "Primary endpoint (cluster mode disabled; empty otherwise)."))
    .output(OutputSchema::new("readerEndpointAddress", "Reader endpoint (cluster mode disabled; empty otherwise)."))
    .output(OutputSchema::new("connectionEndpointAddress", "Where clients connect: the configuration endpoint in cluster mode, else the primary endpoint."))
    .output(OutputSchema::new("connectionReaderEndpointAddress", "Where read-only clients connect: the configuration endpoint in cluster mode, else the reader endpoint."))
    .output(OutputSchema::new("port", "The endpoint's port as reported by ElastiCache."))
    .output(OutputSchema::new("memberClusters", "Member cache cluster ids."))
    .output(OutputSchema::new(ROTATION_OUTPUT, "While an auth token rotation keeps the old token accepted: when it started (Unix seconds)."))
}

// ---------------------------------------------------------------- DSL

/// `aws:elasticache:ReplicationGroup` in the Rust DSL.
pub struct ReplicationGroup;

/// Inputs; start from [`ReplicationGroupArgs::new`] and override fields.
#[derive(Clone, Debug, Serialize, cairn_core::dsl::Builder)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationGroupArgs {
    pub replication_group_id: Input<String>,
    pub description: Input<String>,
    pub node_type: Input<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine: Option<Input<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine_version: Option<Input<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_mode: Option<Input<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_node_groups: Option<Input<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas_per_node_group: Option<Input<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_cache_clusters: Option<Input<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automatic_failover_enabled: Option<Input<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_az_enabled: Option<Input<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transit_encryption_enabled: Option<Input<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_rest_encryption_enabled: Option<Input<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<Input<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_token: Option<Input<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_token_update_strategy: Option<Input<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_token_rotation_overlap: Option<Input<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter_group_name: Option<Input<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet_group_name: Option<Input<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_group_ids: Option<Vec<Input<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<Input<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintenance_window: Option<Input<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_window: Option<Input<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_retention_limit: Option<Input<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apply_immediately: Option<Input<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_minor_version_upgrade: Option<Input<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_snapshot_identifier: Option<Input<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Input<String>>>,
}

/// Typed outputs.
pub struct ReplicationGroupOutputs {
    pub id: Output<String>,
    pub arn: Output<String>,
    pub configuration_endpoint_address: Output<String>,
    pub primary_endpoint_address: Output<String>,
    pub reader_endpoint_address: Output<String>,
    pub connection_endpoint_address: Output<String>,
    pub connection_reader_endpoint_address: Output<String>,
    pub port: Output<i64>,
    pub member_clusters: Output<Vec<String>>,
}

impl ResourceType for ReplicationGroup {
    const TOKEN: &'static str = TOKEN;
    type Args = ReplicationGroupArgs;
    type Outputs = ReplicationGroupOutputs;
    fn outputs(name: &str) -> ReplicationGroupOutputs {
        ReplicationGroupOutputs {
            id: Output::of(name, "id"),
            arn: Output::of(name, "arn"),
            configuration_endpoint_address: Output::of(name, "configurationEndpointAddress"),
            primary_endpoint_address: Output::of(name, "primaryEndpointAddress"),
            reader_endpoint_address: Output::of(name, "readerEndpointAddress"),
            connection_endpoint_address: Output::of(name, "connectionEndpointAddress"),
            connection_reader_endpoint_address: Output::of(name, "connectionReaderEndpointAddress"),
            port: Output::of(name, "port"),
            member_clusters: Output::of(name, "memberClusters"),
        }
    }
}

// ---------------------------------------------------------------- helpers

/// True when a parameter group's inputs (its whole input map, or just its
/// `parameters` list) set `cluster-enabled` to `yes`.
pub fn parameter_group_enables_cluster(params: &Value) -> bool {
    let list = match params {
        Value::Map(m) => m.get("parameters").and_then(Value::as_list),
        other => other.as_list(),
    };
    list.unwrap_or_default().iter().any(|p| {
        let Some(m) = p.as_map() else { return false };
        m.get("name").and_then(Value::as_str) == Some("cluster-enabled")
            && m.get("value")
                .and_then(Value::as_str)
                .is_some_and(|v| v.eq_ignore_ascii_case("yes"))
    })
}

/// The JSON stored in the connection secret. `ssl_enabled` is always true;
/// the token is percent-encoded inside `connection_uri`, as the `default`
/// user's password (redis-cli 7.0 sends `AUTH "" token` for `:token@`).
pub fn connection_secret_json(primary: &str, reader: &str, port: i64, auth_token: &str) -> String {
    let uri = format!(
        "rediss://default:{}@{primary}:{port}",
        uri_encode(auth_token)
    );
    let q = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    format!(
        "{{\"primary_endpoint\":{},\"reader_endpoint\":{},\"port\":{port},\"auth_token\":{},\"ssl_enabled\":true,\"connection_uri\":{}}}",
        q(primary),
        q(reader),
        q(auth_token),
        q(&uri)
    )
}

fn uri_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The cluster mode setting the inputs ask for, in AWS's migration order:
/// 0 disabled, 1 compatible, 2 enabled; `None` when unresolved.
fn cluster_mode_rank(inputs: &Map) -> Option<u8> {
    match get_str(inputs, "clusterMode") {
        Some(m) if is_unresolved(m) => None,
        Some("compatible") => Some(1),
        Some("enabled") => Some(2),
        Some(_) => Some(0),
        None => Some(if inputs.contains_key("numNodeGroups") {
            2
        } else {
            0
        }),
    }
}

/// Cluster mode as the inputs ask for it: `clusterMode: enabled`, or
/// `numNodeGroups` set while `clusterMode` is unset.
fn cluster_mode_on(inputs: &Map) -> bool {
    match get_str(inputs, "clusterMode") {
        Some(m) if !is_unresolved(m) => m == "enabled",
        _ => inputs.contains_key("numNodeGroups"),
    }
}

fn valid_auth_token(t: &str) -> bool {
    (16..=128).contains(&t.chars().count())
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "!&#$^<>-".contains(c))
}

/// `7.1` → (7, 1); `7.1.0` → (7, 1); `7` → (7, 0); `6.x` → (6, 0).
fn parse_version(v: &str) -> Option<(u32, u32)> {
    let mut it = v.trim().split('.');
    let major = it.next()?.parse().ok()?;
    let minor = it.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

/// A version in the form ElastiCache takes for Redis/Valkey 7+: `major.minor`.
fn is_major_minor(v: &str) -> bool {
    let mut it = v.split('.');
    let num =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    num(it.next()) && num(it.next()) && it.next().is_none()
}

/// `old` is the full `x.y.z` version ElastiCache reported (recorded by a
/// refresh), and `new` asks for an earlier minor of the same major: AWS
/// upgraded the group by itself. That is drift to accept, not a downgrade.
fn aws_minor_upgrade(old: &str, new: &str) -> bool {
    let (Some(o), Some(n)) = (parse_version(old), parse_version(new)) else {
        return false;
    };
    old.split('.').count() == 3 && o.0 == n.0 && n <= o
}

/// The cloud's spelling of a name ElastiCache stores lower case, given back in
/// the stack's spelling when they are the same name.
pub(crate) fn stack_spelling(cloud: &str, stack: Option<&str>) -> String {
    match stack {
        Some(s) if s.eq_ignore_ascii_case(cloud) => s.to_string(),
        _ => cloud.to_string(),
    }
}

/// A warning for a literal name with upper-case letters: ElastiCache stores it lower case.
pub(crate) fn lower_case_name_warning(inputs: &Map, key: &str) -> Option<CheckFailure> {
    let name = crate::util::concrete_str(inputs, key)?;
    (name != name.to_lowercase()).then(|| {
        CheckFailure::warning(
            rules::LOWER_CASE_NAME,
            PropertyPath::key(key),
            format!(
                "ElastiCache stores {key} `{name}` as `{}`; cairn sends and compares it in lower case",
                name.to_lowercase()
            ),
        )
        .with_help(format!("write it as `{}` to match what AWS reports", name.to_lowercase()))
    })
}

fn valid_group_id(id: &str) -> Result<(), &'static str> {
    if id.is_empty() || id.len() > 40 {
        return Err("must be 1 to 40 characters");
    }
    if !id.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("must start with a lowercase letter");
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err("may contain only lowercase letters, digits and hyphens");
    }
    if id.contains("--") {
        return Err("must not contain two consecutive hyphens");
    }
    if id.ends_with('-') {
        return Err("must not end with a hyphen");
    }
    Ok(())
}

/// Replicas in the inputs: `replicasPerNodeGroup`, else `numCacheClusters - 1`.
fn replicas_of(inputs: &Map) -> Option<i64> {
    get_i64(inputs, "replicasPerNodeGroup")
        .or_else(|| get_i64(inputs, "numCacheClusters").map(|n| n - 1))
}

/// A boolean input that is absent (default false) or literally false; a
/// `${ref}` or unknown value is neither.
fn false_or_missing(inputs: &Map, k: &str) -> bool {
    match inputs.get(k) {
        None | Some(Value::Null) => true,
        Some(v) => v.as_bool() == Some(false),
    }
}

fn check_inputs(inputs: &Map) -> Vec<CheckFailure> {
    let mut out = Vec::new();
    let key = PropertyPath::key;
    if let Some(id) = crate::util::concrete_str(inputs, "replicationGroupId") {
        if let Err(why) = valid_group_id(id) {
            out.push(
                CheckFailure::error(rules::ID, key("replicationGroupId"), format!("replicationGroupId `{id}` {why}"))
                    .with_help("use 1-40 lowercase letters, digits and single hyphens, starting with a letter, e.g. `qualisys-redis`"),
            );
        }
    }
    if let Some(v) = crate::util::concrete_str(inputs, "engineVersion") {
        match parse_version(v) {
            Some((major, _)) if major >= 7 && !is_major_minor(v) => out.push(
                CheckFailure::error(
                    rules::ENGINE_VERSION_FORMAT,
                    key("engineVersion"),
                    format!("engineVersion `{v}` is not a version ElastiCache takes: for Redis/Valkey 7 and newer give major.minor"),
                )
                .with_help(format!("write e.g. engineVersion: \"{major}.{}\"; AWS applies patch versions itself", if major == 7 { 1 } else { 0 })),
            ),
            Some((major, _)) if major >= 7 => {}
            _ => out.push(
                CheckFailure::error(
                    rules::ENGINE_VERSION,
                    key("engineVersion"),
                    format!("engineVersion `{v}` is not Redis 7 or newer"),
                )
                .with_help("use engineVersion: \"7.1\" (the story requires Redis 7+)"),
            ),
        }
    }
    if let Some(token) = crate::util::concrete_str(inputs, "authToken") {
        if !valid_auth_token(token) {
            // Never echo the token itself.
            out.push(
                CheckFailure::error(
                    rules::AUTH_TOKEN_FORMAT,
                    key("authToken"),
                    format!(
                        "authToken must be 16-128 characters of letters, digits and !&#$^<>- (this one has {} characters)",
                        token.chars().count()
                    ),
                )
                .with_help("generate 64 random alphanumeric characters; they need no escaping in a URI"),
            );
        }
    }
    if let Some(o) = crate::util::concrete_str(inputs, "authTokenRotationOverlap") {
        if parse_overlap(o).is_none() {
            out.push(
                CheckFailure::error(
                    rules::ROTATION_OVERLAP,
                    key("authTokenRotationOverlap"),
                    format!("authTokenRotationOverlap `{o}` is not a duration"),
                )
                .with_help("write a number and a unit: `30s`, `15m`, `24h` or `1d`"),
            );
        }
    }
    if inputs.contains_key("authToken") && false_or_missing(inputs, "transitEncryptionEnabled") {
        out.push(
            CheckFailure::error(
                rules::AUTH_TOKEN_TLS,
                key("authToken"),
                "authToken requires transitEncryptionEnabled: true",
            )
            .with_help("set transitEncryptionEnabled: true (ElastiCache accepts an AUTH token only over TLS)"),
        );
    }
    let failover = get_bool(inputs, "automaticFailoverEnabled");
    let failover_off = false_or_missing(inputs, "automaticFailoverEnabled");
    if cluster_mode_on(inputs) && failover_off {
        out.push(
            CheckFailure::error(
                rules::CLUSTER_FAILOVER,
                key("automaticFailoverEnabled"),
                "cluster mode requires automatic failover; AWS refuses automaticFailoverEnabled: false with cluster mode enabled",
            )
            .with_help("set automaticFailoverEnabled: true (this holds even with 0 replicas; multiAzEnabled may stay false)"),
        );
    }
    if get_bool(inputs, "multiAzEnabled") == Some(true) {
        if failover_off {
            out.push(
                CheckFailure::error(
                    rules::MULTI_AZ_FAILOVER,
                    key("multiAzEnabled"),
                    "multiAzEnabled requires automaticFailoverEnabled: true",
                )
                .with_help("set automaticFailoverEnabled: true, or multiAzEnabled: false"),
            );
        }
        if replicas_of(inputs) == Some(0) {
            out.push(
                CheckFailure::error(
                    rules::MULTI_AZ_REPLICA,
                    key("multiAzEnabled"),
                    "multiAzEnabled needs at least one replica to place in another zone",
                )
                .with_help("set replicasPerNodeGroup: 1, or multiAzEnabled: false"),
            );
        }
    }
    if failover == Some(true)
        && !cluster_mode_on(inputs)
        && replicas_of(inputs).is_some_and(|r| r < 1)
    {
        let path = if inputs.contains_key("numCacheClusters") {
            "numCacheClusters"
        } else {
            "replicasPerNodeGroup"
        };
        out.push(
            CheckFailure::error(
                rules::FAILOVER_REPLICA,
                key(path),
                "automatic failover with cluster mode disabled needs at least one replica",
            )
            .with_help("add a replica, or enable cluster mode"),
        );
    }
    for k in ["parameterGroupName", "subnetGroupName"] {
        out.extend(lower_case_name_warning(inputs, k));
    }
    if inputs.contains_key("transitEncryptionMode")
        && false_or_missing(inputs, "transitEncryptionEnabled")
    {
        out.push(
            CheckFailure::error(
                rules::TLS_MODE,
                key("transitEncryptionMode"),
                "transitEncryptionMode applies only with transitEncryptionEnabled: true",
            )
            .with_help("set transitEncryptionEnabled: true, or remove transitEncryptionMode"),
        );
    }
    check_windows(inputs, &mut out);
    check_node_counts(inputs, &mut out);
    if inputs.contains_key("kmsKeyId") && false_or_missing(inputs, "atRestEncryptionEnabled") {
        out.push(
            CheckFailure::error(
                rules::KMS_AT_REST,
                key("kmsKeyId"),
                "kmsKeyId is used only with atRestEncryptionEnabled: true",
            )
            .with_help("set atRestEncryptionEnabled: true"),
        );
    }
    out
}

fn check_windows(inputs: &Map, out: &mut Vec<CheckFailure>) {
    let key = PropertyPath::key;
    let maint = crate::util::concrete_str(inputs, "maintenanceWindow");
    let maint_range = maint.and_then(parse_maintenance_window);
    if let Some(w) = maint {
        match maint_range {
            None => out.push(
                CheckFailure::error(
                    rules::MAINTENANCE_WINDOW,
                    key("maintenanceWindow"),
                    format!("maintenanceWindow `{w}` is not ddd:hh24:mi-ddd:hh24:mi"),
                )
                .with_help("write e.g. sun:05:00-sun:06:00 (UTC; days sun..sat)"),
            ),
            Some((a, b)) if b - a < 60 => out.push(
                CheckFailure::error(
                    rules::MAINTENANCE_WINDOW,
                    key("maintenanceWindow"),
                    format!(
                        "maintenanceWindow `{w}` is {} minutes; ElastiCache needs at least 60",
                        b - a
                    ),
                )
                .with_help("widen the window to an hour or more, e.g. sun:05:00-sun:06:00"),
            ),
            _ => {}
        }
    }
    if let Some(w) = crate::util::concrete_str(inputs, "snapshotWindow") {
        match parse_snapshot_window(w) {
            None => out.push(
                CheckFailure::error(
                    rules::SNAPSHOT_WINDOW,
                    key("snapshotWindow"),
                    format!("snapshotWindow `{w}` is not hh24:mi-hh24:mi"),
                )
                .with_help("write e.g. 03:00-04:00 (UTC)"),
            ),
            Some((a, b)) if b - a < 60 => out.push(
                CheckFailure::error(
                    rules::SNAPSHOT_WINDOW,
                    key("snapshotWindow"),
                    format!(
                        "snapshotWindow `{w}` is {} minutes; ElastiCache needs at least 60",
                        b - a
                    ),
                )
                .with_help("widen the window to an hour or more"),
            ),
            Some(snap) => {
                if let (Some(m), Some(mw)) = (maint_range, maint) {
                    if windows_overlap(snap, m) {
                        out.push(
                            CheckFailure::error(
                                rules::SNAPSHOT_WINDOW,
                                key("snapshotWindow"),
                                format!("snapshotWindow `{w}` overlaps maintenanceWindow `{mw}`"),
                            )
                            .with_help("move one of them; ElastiCache refuses overlapping windows"),
                        );
                    }
                }
            }
        }
    }
}

fn check_node_counts(inputs: &Map, out: &mut Vec<CheckFailure>) {
    let key = PropertyPath::key;
    if inputs.contains_key("numCacheClusters") {
        for other in ["numNodeGroups", "replicasPerNodeGroup"] {
            if inputs.contains_key(other) {
                out.push(
                    CheckFailure::error(rules::NODE_COUNT_INPUTS, key("numCacheClusters"), format!("numCacheClusters and {other} both size the group"))
                        .with_help("use numCacheClusters (cluster mode disabled) or numNodeGroups with replicasPerNodeGroup, not both"),
                );
            }
        }
    }
    let shards = get_i64(inputs, "numNodeGroups");
    let replicas = get_i64(inputs, "replicasPerNodeGroup");
    if let (Some(g), Some(r)) = (shards, replicas) {
        let nodes = g * (r + 1);
        if nodes > MAX_NODES {
            out.push(
                CheckFailure::error(rules::NODE_LIMIT, key("numNodeGroups"), format!("{g} shards of {} nodes are {nodes} nodes; a replication group holds at most {MAX_NODES}", r + 1))
                    .with_help("use fewer shards or replicas"),
            );
        } else if nodes > DEFAULT_NODE_QUOTA {
            out.push(
                CheckFailure::warning(rules::NODE_LIMIT, key("numNodeGroups"), format!("{nodes} nodes exceed the default quota of {DEFAULT_NODE_QUOTA} nodes per replication group"))
                    .with_help("request a quota increase (Service Quotas, ElastiCache) before applying, or use fewer nodes"),
            );
        }
    }
}

fn ec_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn failover_on(rg: &RgModel) -> bool {
    matches!(
        rg.automatic_failover().map(|s| s.as_str()),
        Some("enabled" | "enabling")
    )
}

fn rg_cluster_mode_on(rg: &RgModel) -> bool {
    rg.cluster_enabled().unwrap_or(false)
        || rg.cluster_mode().map(|m| m.as_str()) == Some("enabled")
}

/// The outputs of a replication group as described.
fn outputs_of(rg: &RgModel, fallback_port: i64) -> Map {
    let mut out = Map::new();
    let id = rg.replication_group_id().unwrap_or_default();
    out.insert("id".into(), id.into());
    out.insert("arn".into(), rg.arn().unwrap_or_default().into());
    let cfg = rg.configuration_endpoint();
    let ng = rg.node_groups().first();
    let primary = ng.and_then(|n| n.primary_endpoint());
    let reader = ng.and_then(|n| n.reader_endpoint());
    let addr = |e: Option<&aws_sdk_elasticache::types::Endpoint>| {
        e.and_then(|e| e.address()).unwrap_or_default().to_string()
    };
    let cfg_addr = addr(cfg);
    let primary_addr = if cfg.is_some() {
        String::new()
    } else {
        addr(primary)
    };
    let reader_addr = if cfg.is_some() {
        String::new()
    } else {
        addr(reader)
    };
    let (conn, conn_reader) = if cfg.is_some() {
        (cfg_addr.clone(), cfg_addr.clone())
    } else {
        (primary_addr.clone(), reader_addr.clone())
    };
    let port = cfg
        .and_then(|e| e.port())
        .or_else(|| primary.and_then(|e| e.port()))
        .map(i64::from)
        .unwrap_or(fallback_port);
    out.insert("configurationEndpointAddress".into(), cfg_addr.into());
    out.insert("primaryEndpointAddress".into(), primary_addr.into());
    out.insert("readerEndpointAddress".into(), reader_addr.into());
    out.insert("connectionEndpointAddress".into(), conn.into());
    out.insert("connectionReaderEndpointAddress".into(), conn_reader.into());
    out.insert("port".into(), Value::Int(port));
    out.insert(
        "memberClusters".into(),
        str_list_value(rg.member_clusters()),
    );
    out
}

/// Secrets that must never appear in an error: the auth tokens in play.
fn secrets_of<'a>(maps: &[&'a Map]) -> Vec<&'a str> {
    maps.iter()
        .filter_map(|m| get_str(m, "authToken"))
        .collect()
}

/// Removing `authToken` turns AUTH off, which ElastiCache allows only as a
/// move to RBAC user groups (`AuthTokenUpdateStrategy=DELETE` with
/// `UserGroupIdsToAdd`); cairn does not model user groups yet.
fn check_token_change(old: &Map, new: &Map) -> Vec<CheckFailure> {
    let had = !matches!(old.get("authToken"), None | Some(Value::Null));
    let has = !matches!(new.get("authToken"), None | Some(Value::Null));
    if had && !has {
        vec![CheckFailure::error(
            rules::AUTH_TOKEN_REMOVAL,
            PropertyPath::key("authToken"),
            "authToken cannot be removed: ElastiCache turns AUTH off only when the group moves to RBAC user groups (AuthTokenUpdateStrategy=DELETE with UserGroupIdsToAdd), which cairn does not model yet",
        )
        .with_help("keep authToken in the stack (a new value rotates it); to move to user groups, do it outside cairn and then `cairn state rm` / re-import the group")]
    } else {
        Vec::new()
    }
}

/// A rotation still keeping the old token accepted: due (drop it with SET)
/// once the overlap has passed or the operator asks (`--finish-rotation`).
/// A new token in this plan starts a new rotation instead.
fn rotation_pending(
    old: &Map,
    new: &Map,
    outputs: &Map,
    opts: &PendingOptions,
) -> Option<PendingUpdate> {
    let started = get_i64(outputs, ROTATION_OUTPUT).filter(|t| *t > 0)?;
    let token = new.get("authToken")?;
    if token.contains_unknown() || old.get("authToken") != Some(token) {
        return None;
    }
    let (overlap, text) = rotation_overlap(new);
    let until = started.saturating_add(overlap as i64);
    let due = opts.finish_now || opts.now_unix as i64 >= until;
    let reason = if due {
        format!(
            "finish the auth token rotation started {}: drop the old token (AuthTokenUpdateStrategy=SET){}",
            utc(started),
            if opts.finish_now { " (--finish-rotation)" } else { "; its overlap has passed" }
        )
    } else {
        format!(
            "auth token rotation in progress: the old token is still accepted until {} (authTokenRotationOverlap {text}); the first `cairn up` after that drops it, `cairn up --finish-rotation` drops it now",
            utc(until)
        )
    };
    Some(PendingUpdate { due, reason })
}

// ---------------------------------------------------------------- provider

pub struct ReplicationGroupProvider {
    schema: ResourceSchema,
    clients: Shared,
}

impl ReplicationGroupProvider {
    /// What a read reports for `rg` (single and batched reads alike).
    async fn observe(
        &self,
        resource: &str,
        id: &str,
        rg: &RgModel,
        inputs: &Map,
    ) -> Result<Observed, ProviderError> {
        let sdk = self.clients.get().await?;
        let fallback_port = get_i64(inputs, "port").unwrap_or(6379);
        let outputs = outputs_of(rg, fallback_port);
        let mut obs = Map::new();
        let wanted = |k: &str| inputs.contains_key(k);
        obs.insert("replicationGroupId".into(), id.into());
        obs.insert(
            "description".into(),
            rg.description().unwrap_or_default().into(),
        );
        if let Some(e) = rg.engine() {
            obs.insert("engine".into(), e.into());
        } else if let Some(e) = inputs.get("engine") {
            obs.insert("engine".into(), e.clone());
        }
        if let Some(nt) = rg.cache_node_type() {
            obs.insert("nodeType".into(), nt.into());
        }
        let cluster = rg_cluster_mode_on(rg);
        if wanted("clusterMode") {
            let mode = rg
                .cluster_mode()
                .map(|m| m.as_str().to_string())
                .unwrap_or_else(|| if cluster { "enabled" } else { "disabled" }.to_string());
            obs.insert("clusterMode".into(), mode.into());
        }
        let groups = rg.node_groups();
        if wanted("numNodeGroups") || cluster {
            obs.insert("numNodeGroups".into(), Value::Int(groups.len() as i64));
        }
        let members_per_group = groups
            .first()
            .map(|g| g.node_group_members().len() as i64)
            .filter(|n| *n > 0);
        if wanted("replicasPerNodeGroup") {
            let replicas = members_per_group
                .map(|n| n - 1)
                .or_else(|| {
                    // Cluster mode: members are listed per cluster only.
                    let n = rg.member_clusters().len() as i64;
                    let g = groups.len().max(1) as i64;
                    (n > 0).then(|| n / g - 1)
                })
                .unwrap_or(0);
            obs.insert("replicasPerNodeGroup".into(), Value::Int(replicas.max(0)));
        }
        if wanted("numCacheClusters") {
            obs.insert(
                "numCacheClusters".into(),
                Value::Int(rg.member_clusters().len() as i64),
            );
        }
        obs.insert("automaticFailoverEnabled".into(), failover_on(rg).into());
        obs.insert(
            "multiAzEnabled".into(),
            (rg.multi_az().map(|m| m.as_str()) == Some("enabled")).into(),
        );
        if let Some(t) = rg.transit_encryption_enabled() {
            if t || wanted("transitEncryptionEnabled") {
                obs.insert("transitEncryptionEnabled".into(), t.into());
            }
        }
        if let Some(m) = rg.transit_encryption_mode() {
            if wanted("transitEncryptionMode") || m.as_str() != "required" {
                obs.insert("transitEncryptionMode".into(), m.as_str().into());
            }
        }
        if let Some(t) = rg.at_rest_encryption_enabled() {
            if t || wanted("atRestEncryptionEnabled") {
                obs.insert("atRestEncryptionEnabled".into(), t.into());
            }
        }
        if let Some(k) = rg.kms_key_id() {
            // Keep the stack's spelling (id vs ARN) when it names the same key.
            let v = match get_str(inputs, "kmsKeyId") {
                Some(i) if k == i || k.ends_with(&format!("/{i}")) => i.to_string(),
                _ => k.to_string(),
            };
            obs.insert("kmsKeyId".into(), v.into());
        }
        // The token cannot be read back: carry what we applied, unless AWS
        // says AUTH is off (drift that opens the cache; shown masked).
        if rg.auth_token_enabled() == Some(false) && inputs.contains_key("authToken") {
            obs.insert("authToken".into(), Value::secret(Value::from("")));
        } else if let Some(v) = inputs.get("authToken") {
            obs.insert("authToken".into(), v.clone());
        }
        for k in [
            "authTokenUpdateStrategy",
            "authTokenRotationOverlap",
            "applyImmediately",
            "finalSnapshotIdentifier",
        ] {
            if let Some(v) = inputs.get(k) {
                obs.insert(k.into(), v.clone());
            }
        }
        if let Some(v) = rg.snapshot_retention_limit() {
            if wanted("snapshotRetentionLimit") || v > 0 {
                obs.insert("snapshotRetentionLimit".into(), Value::Int(v.into()));
            }
        }
        if let (Some(v), true) = (rg.snapshot_window(), wanted("snapshotWindow")) {
            obs.insert("snapshotWindow".into(), v.into());
        }
        if let Some(Value::Int(p)) = outputs.get("port") {
            obs.insert("port".into(), Value::Int(*p));
        }
        if wanted("autoMinorVersionUpgrade") {
            if let Some(v) = rg.auto_minor_version_upgrade() {
                obs.insert("autoMinorVersionUpgrade".into(), v.into());
            }
        }
        // Per-cluster settings come from a member cluster.
        if let Some(member) = rg.member_clusters().first() {
            let cc = sdk
                .ec
                .describe_cache_clusters()
                .cache_cluster_id(member)
                .show_cache_node_info(true)
                .send()
                .await;
            match cc {
                Ok(out) => {
                    if let Some(c) = out.cache_clusters().first() {
                        // The port the group was created with. (A local twin
                        // may serve the endpoint elsewhere; the outputs say where.)
                        if let Some(p) = c
                            .cache_nodes()
                            .first()
                            .and_then(|n| n.endpoint())
                            .and_then(|e| e.port())
                        {
                            obs.insert("port".into(), Value::Int(p.into()));
                        }
                        if let Some(v) = c.engine_version() {
                            let v = match get_str(inputs, "engineVersion") {
                                Some(i) if v == i || v.starts_with(&format!("{i}.")) => {
                                    i.to_string()
                                }
                                _ => v.to_string(),
                            };
                            obs.insert("engineVersion".into(), v.into());
                        }
                        if let Some(pg) = c
                            .cache_parameter_group()
                            .and_then(|p| p.cache_parameter_group_name())
                        {
                            if wanted("parameterGroupName") || !pg.starts_with("default.") {
                                let pg = stack_spelling(pg, get_str(inputs, "parameterGroupName"));
                                obs.insert("parameterGroupName".into(), pg.into());
                            }
                        }
                        if let Some(sn) = c.cache_subnet_group_name() {
                            if wanted("subnetGroupName") || sn != "default" {
                                let sn = stack_spelling(sn, get_str(inputs, "subnetGroupName"));
                                obs.insert("subnetGroupName".into(), sn.into());
                            }
                        }
                        let sgs: Vec<String> = c
                            .security_groups()
                            .iter()
                            .filter_map(|s| s.security_group_id().map(str::to_string))
                            .collect();
                        if wanted("securityGroupIds") || !sgs.is_empty() {
                            let sgs = order_like(&sgs, &get_str_list(inputs, "securityGroupIds"));
                            obs.insert("securityGroupIds".into(), str_list_value(&sgs));
                        }
                        if let (Some(w), true) = (
                            c.preferred_maintenance_window(),
                            wanted("maintenanceWindow"),
                        ) {
                            obs.insert("maintenanceWindow".into(), w.into());
                        }
                    }
                }
                Err(e) if is_not_found(&e) => {}
                Err(e) => {
                    return Err(api_error(
                        resource,
                        "elasticache:DescribeCacheClusters",
                        e,
                        &[],
                    ))
                }
            }
        }
        let mut outputs = outputs;
        if let Some(arn) = rg.arn() {
            let mut tags = self.tags_of(resource, arn).await?;
            tags.remove(URN_TAG);
            if let Some(t) = tags
                .remove(ROTATION_TAG)
                .and_then(|v| v.parse::<i64>().ok())
            {
                outputs.insert(ROTATION_OUTPUT.into(), Value::Int(t));
            }
            if wanted("tags") || !tags.is_empty() {
                obs.insert("tags".into(), tags_value(&tags));
            }
        }
        Ok(Observed {
            id: id.to_string(),
            inputs: obs,
            outputs,
        })
    }

    pub fn new(clients: Shared) -> Self {
        ReplicationGroupProvider {
            schema: schema(),
            clients,
        }
    }

    async fn describe(&self, resource: &str, id: &str) -> Result<Option<RgModel>, ProviderError> {
        let sdk = self.clients.get().await?;
        match sdk
            .ec
            .describe_replication_groups()
            .replication_group_id(id)
            .send()
            .await
        {
            Ok(out) => Ok(out.replication_groups().first().cloned()),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(api_error(
                resource,
                "elasticache:DescribeReplicationGroups",
                e,
                &[],
            )),
        }
    }

    /// Waits until the group is `available`; returns it.
    async fn wait_available(
        &self,
        ctx: &CallContext,
        resource: &str,
        id: &str,
        deadline: Duration,
    ) -> Result<RgModel, ProviderError> {
        wait_until(
            ctx,
            &self.clients,
            WaitSpec {
                resource,
                api: "elasticache:DescribeReplicationGroups",
                wanted: "available",
                deadline,
            },
            || async {
                Ok(match self.describe(resource, id).await? {
                    None => Probe::Failed("deleted".into()),
                    Some(rg) => match rg.status().unwrap_or("unknown") {
                        "available" => Probe::Done(rg),
                        s @ ("create-failed" | "deleting" | "deleted") => {
                            Probe::Failed(s.to_string())
                        }
                        s => Probe::Pending(s.to_string()),
                    },
                })
            },
        )
        .await
    }

    /// Waits until every cache cluster of the group (current members and
    /// ones being removed) is `available` or gone. After a replica change AWS
    /// reports the group `available` while a member is still `creating` or
    /// `deleting`, and refuses the next modify (`InvalidCacheClusterState`).
    async fn wait_members_available(
        &self,
        ctx: &CallContext,
        resource: &str,
        id: &str,
        deadline: Duration,
    ) -> Result<(), ProviderError> {
        let sdk = self.clients.get().await?;
        wait_until(
            ctx,
            &self.clients,
            WaitSpec {
                resource,
                api: "elasticache:DescribeCacheClusters",
                wanted: "members available",
                deadline,
            },
            || async {
                let mut marker: Option<String> = None;
                let mut unsettled: Vec<String> = Vec::new();
                loop {
                    let out = sdk
                        .ec
                        .describe_cache_clusters()
                        .set_marker(marker.clone())
                        .send()
                        .await
                        .map_err(|e| {
                            api_error(resource, "elasticache:DescribeCacheClusters", e, &[])
                        })?;
                    for c in out.cache_clusters() {
                        let ours = c
                            .replication_group_id()
                            .is_some_and(|g| g.eq_ignore_ascii_case(id));
                        match c.cache_cluster_status() {
                            Some("available") | None => {}
                            Some(status) if ours => unsettled
                                .push(format!("{} {status}", c.cache_cluster_id().unwrap_or("?"))),
                            Some(_) => {}
                        }
                    }
                    marker = out.marker().map(str::to_string);
                    if marker.is_none() {
                        break;
                    }
                }
                Ok(if unsettled.is_empty() {
                    Probe::Done(())
                } else {
                    unsettled.sort();
                    Probe::Pending(format!("member {}", unsettled.join(", ")))
                })
            },
        )
        .await
    }

    /// Waits until the group no longer exists.
    async fn wait_gone(
        &self,
        ctx: &CallContext,
        resource: &str,
        id: &str,
        deadline: Duration,
    ) -> Result<(), ProviderError> {
        wait_until(
            ctx,
            &self.clients,
            WaitSpec {
                resource,
                api: "elasticache:DescribeReplicationGroups",
                wanted: "deleted",
                deadline,
            },
            || async {
                Ok(match self.describe(resource, id).await? {
                    None => Probe::Done(()),
                    Some(rg) => Probe::Pending(rg.status().unwrap_or("unknown").to_string()),
                })
            },
        )
        .await
    }

    /// Records (`Some`) or clears (`None`) the rotation start on the group.
    async fn set_rotation_tag(
        &self,
        resource: &str,
        arn: &str,
        started: Option<i64>,
    ) -> Result<(), ProviderError> {
        let sdk = self.clients.get().await?;
        match started {
            Some(t) => sdk
                .ec
                .add_tags_to_resource()
                .resource_name(arn)
                .tags(
                    Tag::builder()
                        .key(ROTATION_TAG)
                        .value(t.to_string())
                        .build(),
                )
                .send()
                .await
                .map(|_| ())
                .map_err(|e| api_error(resource, "elasticache:AddTagsToResource", e, &[])),
            None => sdk
                .ec
                .remove_tags_from_resource()
                .resource_name(arn)
                .tag_keys(ROTATION_TAG)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| api_error(resource, "elasticache:RemoveTagsFromResource", e, &[])),
        }
    }

    async fn tags_of(
        &self,
        resource: &str,
        arn: &str,
    ) -> Result<BTreeMap<String, String>, ProviderError> {
        let sdk = self.clients.get().await?;
        crate::util::elasticache_tags(&sdk.ec, resource, arn).await
    }

    async fn adopt_existing(
        &self,
        ctx: &CallContext,
        resource: &str,
        id: &str,
        port: i64,
        deadline: Duration,
    ) -> Result<Option<Created>, ProviderError> {
        match self.describe(resource, id).await? {
            Some(rg) => {
                self.adopt_described(ctx, resource, &rg, id, port, deadline)
                    .await
            }
            None => Ok(None),
        }
    }

    /// [`Self::adopt_existing`] for a group already described as `rg`.
    async fn adopt_described(
        &self,
        ctx: &CallContext,
        resource: &str,
        rg: &RgModel,
        id: &str,
        port: i64,
        deadline: Duration,
    ) -> Result<Option<Created>, ProviderError> {
        if rg.status() == Some("deleting") {
            self.wait_gone(ctx, resource, id, deadline).await?;
            return Ok(None);
        }
        let rg = self.wait_available(ctx, resource, id, deadline).await?;
        Ok(Some(Created {
            id: id.to_string(),
            outputs: outputs_of(&rg, port),
        }))
    }
}

/// ElastiCache's answer to a modify that changes nothing: the group is
/// already as asked, which is success.
fn no_modifications<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.code() == Some("InvalidParameterCombination")
        && e.message()
            .is_some_and(|m| m.contains("No modifications were requested"))
}

/// The TLS mode the inputs ask for: none when TLS is off, else the declared
/// mode, `required` by default.
fn tls_mode(inputs: &Map) -> Option<&str> {
    (get_bool(inputs, "transitEncryptionEnabled") == Some(true))
        .then(|| get_str(inputs, "transitEncryptionMode").unwrap_or("required"))
}

/// What remains of `deadline` since `start`.
fn remaining(start: Instant, deadline: Duration) -> Duration {
    deadline.saturating_sub(start.elapsed())
}

#[async_trait]
impl ResourceProvider for ReplicationGroupProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        check_inputs(inputs)
    }

    fn check_change(&self, old: &Map, new: &Map) -> Vec<CheckFailure> {
        check_token_change(old, new)
    }

    fn pending_update(
        &self,
        old: &Map,
        new: &Map,
        outputs: &Map,
        opts: &PendingOptions,
    ) -> Option<PendingUpdate> {
        rotation_pending(old, new, outputs, opts)
    }

    fn extra_replace_paths(&self, old: &Map, new: &Map) -> Vec<PropertyPath> {
        let mut out = Vec::new();
        if let (Some(o), Some(n)) = (
            get_str(old, "engineVersion").and_then(parse_version),
            get_str(new, "engineVersion").and_then(parse_version),
        ) {
            let (ov, nv) = (
                get_str(old, "engineVersion").unwrap_or_default(),
                get_str(new, "engineVersion").unwrap_or_default(),
            );
            if n < o && !aws_minor_upgrade(ov, nv) {
                out.push(PropertyPath::key("engineVersion"));
            }
        }
        // TLS goes on in place (preferred, then required); off replaces.
        if get_bool(old, "transitEncryptionEnabled") == Some(true)
            && get_bool(new, "transitEncryptionEnabled") != Some(true)
        {
            out.push(PropertyPath::key("transitEncryptionEnabled"));
        }
        // redis → valkey is in place; any other engine change replaces.
        let engine = |m: &Map| get_str(m, "engine").unwrap_or("redis").to_string();
        if engine(old) != engine(new)
            && (engine(old), engine(new)) != ("redis".into(), "valkey".into())
        {
            out.push(PropertyPath::key("engine"));
        }
        // Cluster mode moves forward in place (disabled → compatible →
        // enabled); back from enabled replaces.
        let forward = matches!(
            (cluster_mode_rank(old), cluster_mode_rank(new)),
            (Some(o), Some(n)) if n >= o || (o, n) == (1, 0)
        );
        if cluster_mode_on(old) != cluster_mode_on(new) && !forward {
            let path = if old.contains_key("clusterMode") || new.contains_key("clusterMode") {
                "clusterMode"
            } else {
                "numNodeGroups"
            };
            out.push(PropertyPath::key(path));
        }
        out
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let start = Instant::now();
        let deadline = ctx.deadline(Operation::Create, CREATE_TIMEOUT);
        let id = get_str(inputs, "replicationGroupId")
            .ok_or_else(|| ProviderError::invalid(&resource, "replicationGroupId is required"))?;
        let port = get_i64(inputs, "port").unwrap_or(6379);
        let sdk = self.clients.get().await?;
        let mut tags = get_tags(inputs, "tags");
        tags.insert(URN_TAG.to_string(), ctx.urn.clone());
        let sgs = get_str_list(inputs, "securityGroupIds");
        let req = sdk
            .ec
            .create_replication_group()
            .replication_group_id(id)
            .replication_group_description(get_str(inputs, "description").unwrap_or_default())
            .engine(get_str(inputs, "engine").unwrap_or("redis"))
            .set_engine_version(get_string(inputs, "engineVersion"))
            .set_cache_node_type(get_string(inputs, "nodeType"))
            .set_cluster_mode(get_str(inputs, "clusterMode").map(ClusterMode::from))
            .set_num_node_groups(get_i32(inputs, "numNodeGroups"))
            .set_replicas_per_node_group(get_i32(inputs, "replicasPerNodeGroup"))
            .set_num_cache_clusters(get_i32(inputs, "numCacheClusters"))
            .set_automatic_failover_enabled(get_bool(inputs, "automaticFailoverEnabled"))
            .set_multi_az_enabled(get_bool(inputs, "multiAzEnabled"))
            .set_transit_encryption_enabled(get_bool(inputs, "transitEncryptionEnabled"))
            .set_transit_encryption_mode(
                get_str(inputs, "transitEncryptionMode").map(TransitEncryptionMode::from),
            )
            .set_at_rest_encryption_enabled(get_bool(inputs, "atRestEncryptionEnabled"))
            .set_kms_key_id(get_string(inputs, "kmsKeyId"))
            .set_auth_token(get_string(inputs, "authToken"))
            .set_cache_parameter_group_name(get_string(inputs, "parameterGroupName"))
            .set_cache_subnet_group_name(get_string(inputs, "subnetGroupName"))
            .set_security_group_ids((!sgs.is_empty()).then_some(sgs))
            .port(port as i32)
            .set_preferred_maintenance_window(get_string(inputs, "maintenanceWindow"))
            .set_snapshot_window(get_string(inputs, "snapshotWindow"))
            .set_snapshot_retention_limit(get_i32(inputs, "snapshotRetentionLimit"))
            .set_auto_minor_version_upgrade(get_bool(inputs, "autoMinorVersionUpgrade"))
            .set_tags(Some(ec_tags(&tags)));
        ctx.report("creating");
        match req.send().await {
            Ok(_) => {}
            Err(e) if error_code(&e) == Some("ReplicationGroupAlreadyExists") => {
                // A create whose response was lost and then retried: adopt it
                // only if it carries our URN tag.
                if let Some(rg) = self.describe(&resource, id).await? {
                    let ours = match rg.arn() {
                        Some(arn) => {
                            self.tags_of(&resource, arn).await?.get(URN_TAG) == Some(&ctx.urn)
                        }
                        None => false,
                    };
                    if ours {
                        if let Some(c) = self
                            .adopt_existing(ctx, &resource, id, port, remaining(start, deadline))
                            .await?
                        {
                            return Ok(c);
                        }
                    }
                }
                return Err(api_error(
                    &resource,
                    "elasticache:CreateReplicationGroup",
                    e,
                    &secrets_of(&[inputs]),
                ));
            }
            Err(e) => {
                return Err(api_error(
                    &resource,
                    "elasticache:CreateReplicationGroup",
                    e,
                    &secrets_of(&[inputs]),
                ))
            }
        }
        let rg = self
            .wait_available(ctx, &resource, id, remaining(start, deadline))
            .await?;
        Ok(Created {
            id: id.to_string(),
            outputs: outputs_of(&rg, port),
        })
    }

    async fn read(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let Some(rg) = self.describe(&resource, id).await? else {
            return Ok(None);
        };
        self.observe(&resource, id, &rg, inputs).await.map(Some)
    }

    fn read_batch_limit(&self) -> Option<usize> {
        Some(usize::MAX)
    }

    /// From two resources on, one `DescribeReplicationGroups` with no name lists the
    /// region's groups (100 a page) instead of one call each (`resources/listed.rs`).
    async fn read_many(
        &self,
        reqs: &[ReadRequest],
    ) -> Result<BTreeMap<String, Observed>, ProviderError> {
        let resource = batch_label(reqs, TOKEN);
        let sdk = self.clients.get().await?;
        let (ec, resource) = (&sdk.ec, resource.as_str());
        let page = |marker: Option<String>| async move {
            let out = ec
                .describe_replication_groups()
                .max_records(100)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| {
                    api_error(resource, "elasticache:DescribeReplicationGroups", e, &[])
                })?;
            Ok::<_, ProviderError>((
                out.replication_groups().to_vec(),
                out.marker().map(str::to_string),
            ))
        };
        let observe =
            |r: ReadRequest, rg| async move { self.observe(resource, &r.id, &rg, &r.inputs).await };
        crate::resources::listed::read_listed(
            self,
            reqs,
            RgModel::replication_group_id,
            str::to_ascii_lowercase,
            page,
            observe,
        )
        .await
    }

    async fn update(
        &self,
        ctx: &CallContext,
        id: &str,
        old: &Map,
        new: &Map,
        old_outputs: &Map,
    ) -> Result<Map, ProviderError> {
        let resource = resource_label(ctx, TOKEN);

        let deadline = ctx.deadline(Operation::Update, UPDATE_TIMEOUT);
        let sdk = self.clients.get().await?;
        let secrets = secrets_of(&[old, new]);
        let apply_now = get_bool(new, "applyImmediately").unwrap_or(true);
        let changed = |k: &str| old.get(k) != new.get(k);
        let port = get_i64(new, "port").unwrap_or(6379);

        // Start from a settled group so the first modify is not refused.
        let mut rg = self.wait_available(ctx, &resource, id, deadline).await?;

        // Each step gets the whole update deadline for its own wait.
        macro_rules! send_and_wait {
            ($api:literal, $req:expr) => {{
                ctx.report(concat!("modifying: ", $api));
                match $req.send().await {
                    Ok(_) => {}
                    Err(e) if no_modifications(&e) => {
                        ctx.report("already as asked (no modifications were requested)");
                    }
                    Err(e) => {
                        return Err(api_error(
                            &resource,
                            concat!("elasticache:", $api),
                            e,
                            &secrets,
                        ))
                    }
                }
                rg = self.wait_available(ctx, &resource, id, deadline).await?;
            }};
        }
        // A replica change also waits for the member clusters (same deadline).
        macro_rules! send_and_wait_members {
            ($api:literal, $req:expr) => {{
                send_and_wait!($api, $req);
                self.wait_members_available(ctx, &resource, id, deadline)
                    .await?;
            }};
        }

        let failover_new = get_bool(new, "automaticFailoverEnabled").unwrap_or(false);
        let maz_new = get_bool(new, "multiAzEnabled").unwrap_or(false);
        let maz_old = rg.multi_az().map(|m| m.as_str()) == Some("enabled");

        // 1. Turning Multi-AZ / failover off goes first (replicas may then shrink).
        if (maz_old && !maz_new) || (failover_on(&rg) && !failover_new) {
            send_and_wait!(
                "ModifyReplicationGroup",
                sdk.ec
                    .modify_replication_group()
                    .replication_group_id(id)
                    .multi_az_enabled(maz_new)
                    .automatic_failover_enabled(failover_new)
                    .apply_immediately(true)
            );
        }

        // 2. Node type.
        if changed("nodeType") {
            if let Some(nt) = get_str(new, "nodeType") {
                send_and_wait!(
                    "ModifyReplicationGroup",
                    sdk.ec
                        .modify_replication_group()
                        .replication_group_id(id)
                        .cache_node_type(nt)
                        .apply_immediately(apply_now)
                );
            }
        }

        // 3. Shards.
        if let Some(want) = get_i32(new, "numNodeGroups") {
            let have = rg.node_groups().len() as i32;
            if want != have && cluster_mode_on(new) {
                let mut req = sdk
                    .ec
                    .modify_replication_group_shard_configuration()
                    .replication_group_id(id)
                    .node_group_count(want)
                    .apply_immediately(true);
                if want < have {
                    let mut ids: Vec<String> = rg
                        .node_groups()
                        .iter()
                        .filter_map(|g| g.node_group_id().map(str::to_string))
                        .collect();
                    ids.sort();
                    ids.truncate(want as usize);
                    req = req.set_node_groups_to_retain(Some(ids));
                }
                send_and_wait!("ModifyReplicationGroupShardConfiguration", req);
            }
        }

        // 4. Replicas.
        let replicas_changed = changed("replicasPerNodeGroup") || changed("numCacheClusters");
        if let (true, Some(want)) = (replicas_changed, replicas_of(new)) {
            let have = replicas_of(old);
            let want = want as i32;
            if have.is_none_or(|h| (want as i64) > h) {
                send_and_wait_members!(
                    "IncreaseReplicaCount",
                    sdk.ec
                        .increase_replica_count()
                        .replication_group_id(id)
                        .new_replica_count(want)
                        .apply_immediately(true)
                );
            } else if have.is_some_and(|h| (want as i64) < h) {
                send_and_wait_members!(
                    "DecreaseReplicaCount",
                    sdk.ec
                        .decrease_replica_count()
                        .replication_group_id(id)
                        .new_replica_count(want)
                        .apply_immediately(true)
                );
            }
        }

        // 5. TLS in place: on with mode preferred, then required (two calls,
        // as AWS requires); a mode change alone is one call.
        let (mode_old, mode_new) = (tls_mode(old), tls_mode(new));
        if mode_new.is_some() && mode_old != mode_new {
            if mode_old.is_none() {
                send_and_wait!(
                    "ModifyReplicationGroup",
                    sdk.ec
                        .modify_replication_group()
                        .replication_group_id(id)
                        .transit_encryption_enabled(true)
                        .transit_encryption_mode(TransitEncryptionMode::Preferred)
                        .apply_immediately(true)
                );
            }
            if mode_new == Some("required") || mode_old.is_some() {
                send_and_wait!(
                    "ModifyReplicationGroup",
                    sdk.ec
                        .modify_replication_group()
                        .replication_group_id(id)
                        .transit_encryption_mode(TransitEncryptionMode::from(
                            mode_new.unwrap_or("required")
                        ))
                        .apply_immediately(true)
                );
            }
        }

        // 6. Cluster mode, one step at a time as AWS requires.
        let (cm_old, cm_new) = (cluster_mode_rank(old), cluster_mode_rank(new));
        if let (Some(o), Some(n)) = (cm_old, cm_new) {
            let steps: &[&str] = match (o, n) {
                (0, 1) => &["compatible"],
                (0, 2) => &["compatible", "enabled"],
                (1, 2) => &["enabled"],
                (1, 0) => &["disabled"],
                _ => &[],
            };
            for mode in steps {
                send_and_wait!(
                    "ModifyReplicationGroup",
                    sdk.ec
                        .modify_replication_group()
                        .replication_group_id(id)
                        .cluster_mode(ClusterMode::from(*mode))
                        .apply_immediately(true)
                );
            }
        }

        // 7. Auth token. ROTATE keeps the old token accepted beside the new
        // one (the connection secret gets the new one later in this run); the
        // old one is dropped (SET) by a later run, once the overlap has passed
        // or with --finish-rotation (`ctx.pending_update`).
        let mut rotation_started = get_i64(old_outputs, ROTATION_OUTPUT).filter(|t| *t > 0);
        let arn = rg.arn().map(str::to_string);
        let token_new = get_str(new, "authToken");
        if changed("authToken") {
            match (get_str(old, "authToken"), token_new) {
                (had, Some(token)) => {
                    // AWS takes SET only after a ROTATE; `authTokenUpdateStrategy:
                    // SET` (no overlap wanted) sends both in this run.
                    let set = get_str(new, "authTokenUpdateStrategy") == Some("SET");
                    if !set && had.is_some() {
                        // Recorded before the call: an old token is never forgotten.
                        let now = now_unix();
                        if let Some(arn) = &arn {
                            self.set_rotation_tag(&resource, arn, Some(now)).await?;
                        }
                        rotation_started = Some(now);
                    }
                    send_and_wait!(
                        "ModifyReplicationGroup",
                        sdk.ec
                            .modify_replication_group()
                            .replication_group_id(id)
                            .auth_token(token)
                            .auth_token_update_strategy(AuthTokenUpdateStrategyType::Rotate)
                            .apply_immediately(true)
                    );
                    if set && had.is_some() {
                        send_and_wait!(
                            "ModifyReplicationGroup",
                            sdk.ec
                                .modify_replication_group()
                                .replication_group_id(id)
                                .auth_token(token)
                                .auth_token_update_strategy(AuthTokenUpdateStrategyType::Set)
                                .apply_immediately(true)
                        );
                        if rotation_started.is_some() {
                            if let Some(arn) = &arn {
                                self.set_rotation_tag(&resource, arn, None).await?;
                            }
                            rotation_started = None;
                        }
                    }
                }
                (Some(_), None) => {
                    send_and_wait!(
                        "ModifyReplicationGroup",
                        sdk.ec
                            .modify_replication_group()
                            .replication_group_id(id)
                            .auth_token_update_strategy(AuthTokenUpdateStrategyType::Delete)
                            .apply_immediately(true)
                    );
                }
                (None, None) => {}
            }
        } else if let (Some(_), Some(_), Some(token)) =
            (&ctx.pending_update, rotation_started, token_new)
        {
            ctx.report("finishing the auth token rotation: dropping the old token");
            send_and_wait!(
                "ModifyReplicationGroup",
                sdk.ec
                    .modify_replication_group()
                    .replication_group_id(id)
                    .auth_token(token)
                    .auth_token_update_strategy(AuthTokenUpdateStrategyType::Set)
                    .apply_immediately(true)
            );
            if let Some(arn) = &arn {
                self.set_rotation_tag(&resource, arn, None).await?;
            }
            rotation_started = None;
        }

        // 8. Everything else ModifyReplicationGroup takes, in one call.
        let engine_new = get_str(new, "engine").unwrap_or("redis");
        let engine_changed = get_str(old, "engine").unwrap_or("redis") != engine_new;
        let mut req = sdk
            .ec
            .modify_replication_group()
            .replication_group_id(id)
            .apply_immediately(apply_now);
        let mut any = false;
        if changed("description") {
            req =
                req.replication_group_description(get_str(new, "description").unwrap_or_default());
            any = true;
        }
        if failover_new != failover_on(&rg) {
            req = req.automatic_failover_enabled(failover_new);
            any = true;
        }
        if maz_new != (rg.multi_az().map(|m| m.as_str()) == Some("enabled")) {
            req = req.multi_az_enabled(maz_new);
            any = true;
        }
        if changed("engineVersion") && !engine_changed {
            if let Some(v) = get_str(new, "engineVersion") {
                // Not when AWS already runs this or a later minor (drift accepted).
                let behind = match (
                    get_str(old, "engineVersion").and_then(parse_version),
                    parse_version(v),
                ) {
                    (Some(o), Some(n)) => n <= o,
                    _ => false,
                };
                if !behind {
                    req = req.engine_version(v);
                    any = true;
                }
            }
        }
        if engine_changed {
            // redis → valkey: the engine, a Valkey version and a parameter group of its family.
            req = req.engine(engine_new);
            let version = get_str(new, "engineVersion").unwrap_or("7.2");
            req = req.engine_version(version);
            let family_default = format!(
                "default.{engine_new}{}",
                parse_version(version).map(|v| v.0).unwrap_or(7)
            );
            req = req.cache_parameter_group_name(
                get_str(new, "parameterGroupName").unwrap_or(&family_default),
            );
            any = true;
        } else if changed("parameterGroupName") {
            if let Some(v) = get_str(new, "parameterGroupName") {
                req = req.cache_parameter_group_name(v);
                any = true;
            }
        }
        if changed("securityGroupIds") {
            req = req.set_security_group_ids(Some(get_str_list(new, "securityGroupIds")));
            any = true;
        }
        if changed("maintenanceWindow") {
            if let Some(v) = get_str(new, "maintenanceWindow") {
                req = req.preferred_maintenance_window(v);
                any = true;
            }
        }
        if changed("snapshotWindow") {
            if let Some(v) = get_str(new, "snapshotWindow") {
                req = req.snapshot_window(v);
                any = true;
            }
        }
        if changed("snapshotRetentionLimit") {
            req = req.snapshot_retention_limit(get_i32(new, "snapshotRetentionLimit").unwrap_or(0));
            any = true;
        }
        if changed("autoMinorVersionUpgrade") {
            if let Some(v) = get_bool(new, "autoMinorVersionUpgrade") {
                req = req.auto_minor_version_upgrade(v);
                any = true;
            }
        }
        if any {
            send_and_wait!("ModifyReplicationGroup", req);
        }

        // 9. Tags.
        if changed("tags") {
            if let Some(arn) = rg.arn() {
                let (set, removed) = tag_diff(&get_tags(old, "tags"), &get_tags(new, "tags"));
                if !set.is_empty() {
                    sdk.ec
                        .add_tags_to_resource()
                        .resource_name(arn)
                        .set_tags(Some(ec_tags(&set)))
                        .send()
                        .await
                        .map_err(|e| {
                            api_error(&resource, "elasticache:AddTagsToResource", e, &[])
                        })?;
                }
                if !removed.is_empty() {
                    sdk.ec
                        .remove_tags_from_resource()
                        .resource_name(arn)
                        .set_tag_keys(Some(removed))
                        .send()
                        .await
                        .map_err(|e| {
                            api_error(&resource, "elasticache:RemoveTagsFromResource", e, &[])
                        })?;
                }
            }
        }
        let mut outputs = outputs_of(&rg, port);
        if let Some(t) = rotation_started {
            outputs.insert(ROTATION_OUTPUT.into(), Value::Int(t));
        }
        Ok(outputs)
    }

    async fn delete(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
        _outputs: &Map,
    ) -> Result<(), ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let start = Instant::now();
        let deadline = ctx.deadline(Operation::Delete, DELETE_TIMEOUT);
        let sdk = self.clients.get().await?;
        let send = || {
            sdk.ec
                .delete_replication_group()
                .replication_group_id(id)
                .set_final_snapshot_identifier(get_string(inputs, "finalSnapshotIdentifier"))
                .send()
        };
        ctx.report("deleting");
        match send().await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => return Ok(()),
            Err(e) if error_code(&e) == Some("InvalidReplicationGroupState") => {
                // Busy (e.g. still modifying) or already deleting.
                match self.describe(&resource, id).await? {
                    None => return Ok(()),
                    Some(rg) if rg.status() == Some("deleting") => {}
                    Some(_) => {
                        self.wait_available(ctx, &resource, id, remaining(start, deadline))
                            .await?;
                        match send().await {
                            Ok(_) => {}
                            Err(e) if is_not_found(&e) => return Ok(()),
                            Err(e) => {
                                return Err(api_error(
                                    &resource,
                                    "elasticache:DeleteReplicationGroup",
                                    e,
                                    &[],
                                ))
                            }
                        }
                    }
                }
            }
            Err(e) => {
                return Err(api_error(
                    &resource,
                    "elasticache:DeleteReplicationGroup",
                    e,
                    &[],
                ))
            }
        }
        self.wait_gone(ctx, &resource, id, remaining(start, deadline))
            .await
    }

    async fn recover(
        &self,
        ctx: &CallContext,
        inputs: &Map,
    ) -> Result<Option<Created>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let Some(id) = get_str(inputs, "replicationGroupId") else {
            return Ok(None);
        };
        let Some(rg) = self.describe(&resource, id).await? else {
            return Ok(None);
        };
        let tags = match rg.arn() {
            Some(arn) => Some(self.tags_of(&resource, arn).await?),
            None => None,
        };
        ensure_ours(ctx, &resource, id, tags.as_ref())?;
        let port = get_i64(inputs, "port").unwrap_or(6379);
        let deadline = ctx.deadline(Operation::Create, CREATE_TIMEOUT);
        self.adopt_described(ctx, &resource, &rg, id, port, deadline)
            .await
    }
}

impl std::fmt::Debug for ReplicationGroupProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReplicationGroupProvider")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(j: serde_json::Value) -> Map {
        match Value::from_json(&j) {
            Value::Map(m) => m,
            _ => panic!("not an object"),
        }
    }

    /// (rule, path) pairs of the failures, sorted.
    fn fails(j: serde_json::Value) -> Vec<(String, String)> {
        let mut v: Vec<_> = check_inputs(&map(j))
            .into_iter()
            .map(|f| {
                assert!(f.help.is_some(), "rule {} has no help", f.rule);
                assert!(!f.warning);
                (f.rule, f.path.to_string())
            })
            .collect();
        v.sort();
        v
    }

    fn ok_base() -> serde_json::Value {
        serde_json::json!({
            "replicationGroupId": "qualisys-redis",
            "description": "cache",
            "nodeType": "cache.r5.large",
            "engineVersion": "7.1",
            "numNodeGroups": 2,
            "replicasPerNodeGroup": 1,
            "automaticFailoverEnabled": true,
            "multiAzEnabled": true,
            "transitEncryptionEnabled": true,
            "atRestEncryptionEnabled": true,
            "kmsKeyId": "${key.arn}",
            "authToken": "${token.result}",
        })
    }

    fn with(patch: serde_json::Value) -> serde_json::Value {
        let mut base = ok_base();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                base.as_object_mut().unwrap().remove(k);
            } else {
                base[k] = v.clone();
            }
        }
        base
    }

    fn one(rule: &str, path: &str) -> Vec<(String, String)> {
        vec![(rule.to_string(), path.to_string())]
    }

    #[test]
    fn the_prod_sizing_passes() {
        assert_eq!(fails(ok_base()), vec![]);
    }

    #[test]
    fn dev_sizing_with_failover_on_passes() {
        let dev = with(serde_json::json!({
            "nodeType": "cache.t3.micro", "numNodeGroups": 1, "replicasPerNodeGroup": 0,
            "automaticFailoverEnabled": true, "multiAzEnabled": false
        }));
        assert_eq!(fails(dev), vec![]);
    }

    #[test]
    fn naive_dev_sizing_needs_failover() {
        let naive = with(serde_json::json!({
            "numNodeGroups": 1, "replicasPerNodeGroup": 0,
            "automaticFailoverEnabled": false, "multiAzEnabled": false
        }));
        assert_eq!(
            fails(naive),
            one(rules::CLUSTER_FAILOVER, "automaticFailoverEnabled")
        );
        // Omitted failover means false: same rule.
        let omitted =
            with(serde_json::json!({"automaticFailoverEnabled": null, "multiAzEnabled": null}));
        assert_eq!(
            fails(omitted),
            one(rules::CLUSTER_FAILOVER, "automaticFailoverEnabled")
        );
        // clusterMode: enabled without numNodeGroups is cluster mode too.
        let explicit = with(
            serde_json::json!({"numNodeGroups": null, "clusterMode": "enabled", "automaticFailoverEnabled": false, "multiAzEnabled": false}),
        );
        assert_eq!(
            fails(explicit),
            one(rules::CLUSTER_FAILOVER, "automaticFailoverEnabled")
        );
    }

    #[test]
    fn multi_az_needs_failover_and_a_replica() {
        let v = with(
            serde_json::json!({"numNodeGroups": null, "replicasPerNodeGroup": null, "numCacheClusters": 2, "automaticFailoverEnabled": false}),
        );
        assert_eq!(fails(v), one(rules::MULTI_AZ_FAILOVER, "multiAzEnabled"));
        let v = with(serde_json::json!({"replicasPerNodeGroup": 0}));
        assert_eq!(fails(v), one(rules::MULTI_AZ_REPLICA, "multiAzEnabled"));
    }

    #[test]
    fn failover_without_cluster_mode_needs_a_replica() {
        let v = with(
            serde_json::json!({"numNodeGroups": null, "replicasPerNodeGroup": null, "numCacheClusters": 1, "multiAzEnabled": false}),
        );
        assert_eq!(fails(v), one(rules::FAILOVER_REPLICA, "numCacheClusters"));
    }

    #[test]
    fn auth_token_format_is_checked_without_echoing_it() {
        for bad in [
            "short",
            "has space in it 1234567",
            "quote\"0123456789abcdef",
            &"x".repeat(129),
        ] {
            let f = check_inputs(&map(with(serde_json::json!({"authToken": bad}))));
            assert_eq!(f.len(), 1, "{bad}");
            assert_eq!(
                (f[0].rule.as_str(), f[0].path.to_string()),
                (rules::AUTH_TOKEN_FORMAT, "authToken".to_string())
            );
            assert!(!f[0].message.contains(bad) && !f[0].help.as_deref().unwrap().contains(bad));
        }
        let good = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v2W3x4Y5z6A7b8C9d0E1f2";
        assert_eq!(good.len(), 64);
        assert_eq!(fails(with(serde_json::json!({"authToken": good}))), vec![]);
        assert_eq!(
            fails(with(serde_json::json!({"authToken": "with!&#$^<>-ok1234"}))),
            vec![]
        );
        // An unresolved reference is not checked.
        assert_eq!(
            fails(with(serde_json::json!({"authToken": "${gen.result}"}))),
            vec![]
        );
    }

    #[test]
    fn auth_token_requires_tls() {
        let v = with(serde_json::json!({"transitEncryptionEnabled": false}));
        assert_eq!(fails(v), one(rules::AUTH_TOKEN_TLS, "authToken"));
        let v = with(serde_json::json!({"transitEncryptionEnabled": null}));
        assert_eq!(fails(v), one(rules::AUTH_TOKEN_TLS, "authToken"));
        // A reference for the flag is unknown at preview: no failure.
        let v = with(serde_json::json!({"transitEncryptionEnabled": "${cfg.tls}"}));
        assert_eq!(fails(v), vec![]);
    }

    #[test]
    fn replication_group_id_rules() {
        for bad in [
            "1redis",
            "Redis",
            "red--is",
            "redis-",
            "red_is",
            &"a".repeat(41),
            "",
        ] {
            let v = with(serde_json::json!({"replicationGroupId": bad}));
            assert_eq!(fails(v), one(rules::ID, "replicationGroupId"), "{bad:?}");
        }
        for good in ["r", "qualisys-redis", "a1-b2-c3", &"a".repeat(40)] {
            assert_eq!(
                fails(with(serde_json::json!({"replicationGroupId": good}))),
                vec![],
                "{good:?}"
            );
        }
    }

    #[test]
    fn engine_version_must_be_seven_or_newer() {
        for bad in ["6.2", "6.x", "5.0.6", "latest"] {
            assert_eq!(
                fails(with(serde_json::json!({"engineVersion": bad}))),
                one(rules::ENGINE_VERSION, "engineVersion"),
                "{bad}"
            );
        }
        for good in ["7.0", "7.1", "8.0"] {
            assert_eq!(
                fails(with(serde_json::json!({"engineVersion": good}))),
                vec![],
                "{good}"
            );
        }
    }

    #[test]
    fn engine_version_must_be_major_minor_for_seven_and_newer() {
        for bad in ["7", "7.x", "7.1.2", "8.0.1", "7.", "7.1a"] {
            assert_eq!(
                fails(with(serde_json::json!({"engineVersion": bad}))),
                one(rules::ENGINE_VERSION_FORMAT, "engineVersion"),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_aws_minor_upgrade_is_not_a_downgrade() {
        let provider =
            ReplicationGroupProvider::new(std::sync::Arc::new(crate::AwsClients::lazy(None)));
        let paths = |o: &str, n: &str| {
            provider
                .extra_replace_paths(
                    &map(serde_json::json!({"engineVersion": o})),
                    &map(serde_json::json!({"engineVersion": n})),
                )
                .len()
        };
        // Refreshed from AWS after it upgraded by itself: drift, no replace.
        assert_eq!(paths("7.1.0", "7.0"), 0);
        assert_eq!(paths("7.1.0", "7.1"), 0);
        // A downgrade the stack asks for, or across majors, still replaces.
        assert_eq!(paths("7.1", "7.0"), 1);
        assert_eq!(paths("8.0.1", "7.1"), 1);
    }

    #[test]
    fn mixed_case_group_names_warn() {
        let f = check_inputs(&map(with(
            serde_json::json!({"subnetGroupName": "Cache-Subnets"}),
        )));
        assert_eq!(f.len(), 1);
        assert!(f[0].warning);
        assert_eq!(f[0].rule, rules::LOWER_CASE_NAME);
        assert!(f[0].message.contains("`cache-subnets`"), "{}", f[0].message);
        assert_eq!(
            stack_spelling("cache-subnets", Some("Cache-Subnets")),
            "Cache-Subnets"
        );
        assert_eq!(stack_spelling("other", Some("Cache-Subnets")), "other");
    }

    #[test]
    fn maintenance_and_snapshot_windows() {
        let ok = with(
            serde_json::json!({"maintenanceWindow": "sun:05:00-sun:06:00", "snapshotWindow": "03:00-04:00"}),
        );
        assert_eq!(fails(ok), vec![]);
        // Wrapping past Saturday midnight is fine.
        let wrap = with(serde_json::json!({"maintenanceWindow": "sat:23:30-sun:00:30"}));
        assert_eq!(fails(wrap), vec![]);
        for bad in [
            "sun:05:00-sun:05:30",
            "sun:5:00-sun:06:00",
            "funday:05:00-sun:06:00",
            "sun:05:00",
        ] {
            assert_eq!(
                fails(with(serde_json::json!({"maintenanceWindow": bad}))),
                one(rules::MAINTENANCE_WINDOW, "maintenanceWindow"),
                "{bad}"
            );
        }
        for bad in ["03:00-03:30", "3:00-04:00", "25:00-26:00"] {
            assert_eq!(
                fails(with(serde_json::json!({"snapshotWindow": bad}))),
                one(rules::SNAPSHOT_WINDOW, "snapshotWindow"),
                "{bad}"
            );
        }
        for overlapping in ["05:30-06:30", "04:30-05:30", "23:00-06:00"] {
            assert_eq!(
                fails(with(
                    serde_json::json!({"maintenanceWindow": "sun:05:00-sun:06:00", "snapshotWindow": overlapping})
                )),
                one(rules::SNAPSHOT_WINDOW, "snapshotWindow"),
                "{overlapping}"
            );
        }
        // Across the week's end: Saturday 23:30 to Sunday 00:30 meets 00:00-01:00.
        assert_eq!(
            fails(with(
                serde_json::json!({"maintenanceWindow": "sat:23:30-sun:00:30", "snapshotWindow": "00:00-01:00"})
            )),
            one(rules::SNAPSHOT_WINDOW, "snapshotWindow")
        );
    }

    #[test]
    fn tls_mode_needs_tls() {
        let v = with(
            serde_json::json!({"transitEncryptionEnabled": false, "authToken": null, "transitEncryptionMode": "preferred"}),
        );
        assert_eq!(fails(v), one(rules::TLS_MODE, "transitEncryptionMode"));
        let v = with(serde_json::json!({"transitEncryptionMode": "preferred"}));
        assert_eq!(fails(v), vec![]);
    }

    #[test]
    fn node_count_inputs_and_limits() {
        assert_eq!(
            fails(with(serde_json::json!({"numCacheClusters": 2}))),
            vec![
                (
                    rules::NODE_COUNT_INPUTS.to_string(),
                    "numCacheClusters".to_string()
                ),
                (
                    rules::NODE_COUNT_INPUTS.to_string(),
                    "numCacheClusters".to_string()
                )
            ]
        );
        assert_eq!(
            fails(with(
                serde_json::json!({"numNodeGroups": 300, "replicasPerNodeGroup": 1})
            )),
            one(rules::NODE_LIMIT, "numNodeGroups")
        );
        let f = check_inputs(&map(with(
            serde_json::json!({"numNodeGroups": 50, "replicasPerNodeGroup": 1}),
        )));
        assert!(
            f.len() == 1 && f[0].warning && f[0].rule == rules::NODE_LIMIT,
            "{f:?}"
        );
    }

    #[test]
    fn kms_key_needs_at_rest_encryption() {
        let v = with(serde_json::json!({"atRestEncryptionEnabled": false}));
        assert_eq!(fails(v), one(rules::KMS_AT_REST, "kmsKeyId"));
    }

    #[test]
    fn downgrade_and_cluster_mode_flip_replace() {
        let p = |j| map(j);
        let old = p(serde_json::json!({"engineVersion": "7.1", "numNodeGroups": 2}));
        let same = p(serde_json::json!({"engineVersion": "7.1", "numNodeGroups": 3}));
        let up = p(serde_json::json!({"engineVersion": "7.2", "numNodeGroups": 2}));
        let down = p(serde_json::json!({"engineVersion": "7.0", "numNodeGroups": 2}));
        let flat = p(serde_json::json!({"engineVersion": "7.1", "numCacheClusters": 2}));
        let provider =
            ReplicationGroupProvider::new(std::sync::Arc::new(crate::AwsClients::lazy(None)));
        let prov_paths = |o: &Map, n: &Map| -> Vec<String> {
            provider
                .extra_replace_paths(o, n)
                .iter()
                .map(|p| p.to_string())
                .collect()
        };
        assert!(prov_paths(&old, &same).is_empty());
        assert!(prov_paths(&old, &up).is_empty());
        assert_eq!(prov_paths(&old, &down), vec!["engineVersion"]);
        assert_eq!(prov_paths(&old, &flat), vec!["numNodeGroups"]);
    }

    #[test]
    fn cluster_flag_helper() {
        let params = Value::from_json(&serde_json::json!([
            {"name": "maxmemory-policy", "value": "allkeys-lru"},
            {"name": "cluster-enabled", "value": "yes"}
        ]));
        assert!(parameter_group_enables_cluster(&params));
        let mut whole = Map::new();
        whole.insert("parameters".into(), params);
        assert!(parameter_group_enables_cluster(&Value::Map(whole)));
        let off =
            Value::from_json(&serde_json::json!([{"name": "cluster-enabled", "value": "no"}]));
        assert!(!parameter_group_enables_cluster(&off));
        assert!(!parameter_group_enables_cluster(&Value::Null));
    }

    #[test]
    fn connection_secret_shape() {
        let s = connection_secret_json(
            "clustercfg.x.cache.amazonaws.com",
            "clustercfg.x.cache.amazonaws.com",
            6379,
            "Tok3n",
        );
        let j: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(j["primary_endpoint"], "clustercfg.x.cache.amazonaws.com");
        assert_eq!(j["reader_endpoint"], "clustercfg.x.cache.amazonaws.com");
        assert_eq!(j["port"], 6379);
        assert_eq!(j["auth_token"], "Tok3n");
        assert_eq!(j["ssl_enabled"], true);
        assert_eq!(
            j["connection_uri"],
            "rediss://default:Tok3n@clustercfg.x.cache.amazonaws.com:6379"
        );
        assert_eq!(j.as_object().unwrap().len(), 6);
        // Keys in the story's order.
        assert!(s.starts_with("{\"primary_endpoint\""));
        // Tokens with URI-special characters are escaped in the URI only.
        let s = connection_secret_json("h", "r", 6380, "a#b$c");
        let j: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(j["connection_uri"], "rediss://default:a%23b%24c@h:6380");
        assert_eq!(j["auth_token"], "a#b$c");
    }

    #[test]
    fn outputs_follow_cluster_mode() {
        use aws_sdk_elasticache::types::{Endpoint, NodeGroup};
        let flat = RgModel::builder()
            .replication_group_id("r")
            .node_groups(
                NodeGroup::builder()
                    .primary_endpoint(Endpoint::builder().address("p.example").port(6379).build())
                    .reader_endpoint(Endpoint::builder().address("ro.example").port(6379).build())
                    .build(),
            )
            .build();
        let o = outputs_of(&flat, 1);
        assert_eq!(o["primaryEndpointAddress"].as_str(), Some("p.example"));
        assert_eq!(
            o["connectionReaderEndpointAddress"].as_str(),
            Some("ro.example")
        );
        assert_eq!(o["configurationEndpointAddress"].as_str(), Some(""));
        assert_eq!(o["port"].as_i64(), Some(6379));
    }

    #[test]
    fn dsl_args_serialize_camel_case_without_nones() {
        let mut args = ReplicationGroupArgs::new("qualisys-redis", "cache", "cache.t3.micro");
        args.num_node_groups = Some(1.into());
        args.kms_key_id = Some(Output::<String>::of("key", "arn").into());
        let j = serde_json::to_value(&args).unwrap();
        assert_eq!(j["replicationGroupId"], "qualisys-redis");
        assert_eq!(j["numNodeGroups"], 1);
        assert_eq!(j["kmsKeyId"], "${key.arn}");
        assert!(j.get("authToken").is_none());
        let o = ReplicationGroup::outputs("redis");
        assert_eq!(
            o.configuration_endpoint_address.reference(),
            "${redis.configurationEndpointAddress}"
        );
        assert_eq!(o.port.reference(), "${redis.port}");
        // Every serialized key is a schema property.
        let s = schema();
        for k in j.as_object().unwrap().keys() {
            assert!(s.prop(k).is_some(), "{k} not in schema");
        }
    }
}
