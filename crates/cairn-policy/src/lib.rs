//! The policy pack: rules derived from the Redis caching layer's acceptance
//! criteria, checked on the `StackSpec` at preview, before anything is created.
//!
//! Mandatory rules are errors that block `up`; advisory rules are warnings.
//! A stack may waive a rule only with an explicit entry and a reason
//! (`policy.waivers` in YAML); a waived rule still shows in the preview.
//! Where a Checkov check covers the same ground its id is named.

use cairn_core::diag::{Problem, Problems};
use cairn_core::interp;
use cairn_core::spec::{ResourceSpec, StackSpec};
use cairn_core::value::{PropertyPath, Value};

mod platform;
pub use platform::{
    ECR_IMMUTABLE_TAGS, ECR_SCAN_ON_PUSH, EKS_PUBLIC_ENDPOINT, EKS_SECRETS_ENCRYPTED,
    IAM_TRUST_NOT_PUBLIC, RDS_DELETION_PROTECTION, RDS_ENCRYPTED, RDS_MULTI_AZ, RDS_NOT_PUBLIC,
    S3_PUBLIC_ACCESS_BLOCKED, S3_SSE_KMS, S3_TLS_ONLY, S3_VERSIONING,
};

/// One rule of the pack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub id: &'static str,
    pub mandatory: bool,
    pub checkov: Option<&'static str>,
    pub title: &'static str,
}

pub const TLS: Rule = Rule {
    id: "CAIRN-POL-001",
    mandatory: true,
    checkov: Some("CKV_AWS_30"),
    title: "encryption in transit (TLS) is on",
};
pub const AUTH_TOKEN: Rule = Rule {
    id: "CAIRN-POL-002",
    mandatory: true,
    checkov: Some("CKV_AWS_31"),
    title: "an auth token is set",
};
pub const AT_REST_CMK: Rule = Rule {
    id: "CAIRN-POL-003",
    mandatory: true,
    checkov: Some("CKV_AWS_191"),
    title: "at-rest encryption uses a customer KMS key",
};
pub const FAILOVER_MULTI_AZ: Rule = Rule {
    id: "CAIRN-POL-004",
    mandatory: true,
    checkov: None,
    title: "staging and prod have automatic failover and Multi-AZ",
};
pub const EVICTION_LRU: Rule = Rule {
    id: "CAIRN-POL-005",
    mandatory: true,
    checkov: None,
    title: "the eviction policy is allkeys-lru",
};
pub const INGRESS_ALLOWED: Rule = Rule {
    id: "CAIRN-POL-006",
    mandatory: true,
    checkov: None,
    title: "ingress only on 6379 from the Kubernetes node CIDRs",
};
pub const SECRET_CMK: Rule = Rule {
    id: "CAIRN-POL-007",
    mandatory: true,
    checkov: Some("CKV_AWS_149"),
    title: "the secret is encrypted with the customer KMS key",
};
pub const IAM_NO_WILDCARD: Rule = Rule {
    id: "CAIRN-POL-008",
    mandatory: true,
    checkov: Some("CKV_AWS_355, CKV_AWS_63"),
    title: "the IAM policy grants no wildcard, NotAction or NotResource",
};
pub const IAM_READABLE: Rule = Rule {
    id: "CAIRN-POL-010",
    mandatory: true,
    checkov: None,
    title: "the IAM policy document can be checked",
};
pub const CLUSTER_PARAMETERS: Rule = Rule {
    id: "CAIRN-POL-009",
    mandatory: true,
    checkov: None,
    title: "cluster mode uses a parameter group with cluster-enabled=yes",
};
pub const KEY_ROTATION: Rule = Rule {
    id: "CAIRN-POL-101",
    mandatory: false,
    checkov: Some("CKV_AWS_7"),
    title: "KMS key rotation is on",
};
pub const SNAPSHOTS: Rule = Rule {
    id: "CAIRN-POL-102",
    mandatory: false,
    checkov: Some("CKV_AWS_134"),
    title: "automatic snapshots are retained",
};
pub const SECRET_ROTATION: Rule = Rule {
    id: "CAIRN-POL-103",
    mandatory: false,
    checkov: Some("CKV2_AWS_57"),
    title: "the secret is rotated automatically",
};

pub const RULES: &[Rule] = &[
    TLS,
    AUTH_TOKEN,
    AT_REST_CMK,
    FAILOVER_MULTI_AZ,
    EVICTION_LRU,
    INGRESS_ALLOWED,
    SECRET_CMK,
    IAM_NO_WILDCARD,
    CLUSTER_PARAMETERS,
    IAM_READABLE,
    RDS_ENCRYPTED,
    RDS_NOT_PUBLIC,
    RDS_MULTI_AZ,
    RDS_DELETION_PROTECTION,
    S3_PUBLIC_ACCESS_BLOCKED,
    S3_SSE_KMS,
    S3_VERSIONING,
    S3_TLS_ONLY,
    ECR_SCAN_ON_PUSH,
    ECR_IMMUTABLE_TAGS,
    EKS_PUBLIC_ENDPOINT,
    EKS_SECRETS_ENCRYPTED,
    IAM_TRUST_NOT_PUBLIC,
    KEY_ROTATION,
    SNAPSHOTS,
    SECRET_ROTATION,
];

/// The CIDRs of the Kubernetes node subnets (AC8).
pub const ALLOWED_CIDRS: &[&str] = &["10.0.10.0/24", "10.0.11.0/24"];
pub const REDIS_PORT: i64 = 6379;

const REPLICATION_GROUP: &str = "aws:elasticache:ReplicationGroup";
const PARAMETER_GROUP: &str = "aws:elasticache:ParameterGroup";
const SECURITY_GROUP: &str = "aws:ec2:SecurityGroup";
const SECRET: &str = "aws:secretsmanager:Secret";
const IAM_POLICY: &str = "aws:iam:Policy";
const KMS_KEY: &str = "aws:kms:Key";

struct Checker<'a> {
    spec: &'a StackSpec,
    problems: Problems,
}

impl<'a> Checker<'a> {
    fn violation(
        &mut self,
        rule: Rule,
        resource: &ResourceSpec,
        path: PropertyPath,
        message: String,
        help: &str,
    ) {
        self.violation_at(rule, resource, resource, path, message, help);
    }

    /// A violation by `owner` (the resource a waiver names) found at `path`
    /// of `at` (the same resource, or a settings resource of it).
    fn violation_at(
        &mut self,
        rule: Rule,
        owner: &ResourceSpec,
        at: &ResourceSpec,
        path: PropertyPath,
        message: String,
        help: &str,
    ) {
        let waiver =
            self.spec.waivers.iter().find(|w| {
                w.rule == rule.id && w.resource.as_deref().is_none_or(|r| r == owner.name)
            });
        let checkov = rule
            .checkov
            .map(|c| format!(" (Checkov {c})"))
            .unwrap_or_default();
        let code = format!("cairn::policy::{}", rule.id);
        let span = at.span_of(&path);
        let problem = match waiver {
            Some(w) => Problem::warning(&code, format!("waived {}: {message}", rule.id))
                .at(span, format!("{} waived", rule.title))
                .help(format!("waiver reason: {}", w.reason)),
            None if rule.mandatory => {
                Problem::error(&code, format!("{}: {message}{checkov}", rule.id))
                    .at(span, rule.title)
                    .help(format!(
                "{help}; to accept the risk, add a waiver with a reason under policy.waivers"
            ))
            }
            None => Problem::warning(&code, format!("{}: {message}{checkov}", rule.id))
                .at(span, rule.title)
                .help(help),
        };
        self.problems
            .push(problem.in_source(self.spec.source.as_ref()));
    }

    fn resources(&self, token: &str) -> impl Iterator<Item = &'a ResourceSpec> + use<'a, '_> {
        let token = token.to_string();
        self.spec
            .resources
            .iter()
            .filter(move |r| r.type_token == token)
    }

    /// True when `value` is a reference to an output of a resource of type `token`.
    fn refers_to(&self, value: Option<&Value>, token: &str) -> bool {
        let Some(text) = value.and_then(Value::as_str) else {
            return false;
        };
        cairn_core::interp::references(text)
            .iter()
            .any(|(root, _)| {
                self.spec
                    .resource(root)
                    .is_some_and(|r| r.type_token == token)
            })
    }
}

fn flag(r: &ResourceSpec, name: &str) -> Option<bool> {
    r.properties.get(name).and_then(Value::as_bool)
}

/// The environment of `r`: its `environment` tag, else the stack name's
/// last `-` segment (`redis-prod` is prod).
fn environment(spec: &StackSpec, r: &ResourceSpec) -> String {
    let tag_env = r
        .properties
        .get("tags")
        .and_then(Value::as_map)
        .and_then(|t| t.get("environment"))
        .and_then(Value::as_str)
        .map(str::to_string);
    tag_env.unwrap_or_else(|| spec.name.rsplit('-').next().unwrap_or("").to_string())
}

fn is_production_like(spec: &StackSpec, r: &ResourceSpec) -> bool {
    matches!(
        environment(spec, r).as_str(),
        "prod" | "production" | "staging"
    )
}

fn is_prod(spec: &StackSpec, r: &ResourceSpec) -> bool {
    matches!(environment(spec, r).as_str(), "prod" | "production")
}

/// Evaluates every rule; the result holds errors (mandatory, unwaived),
/// warnings (advisory) and the notes of waived rules.
pub fn evaluate(spec: &StackSpec) -> Problems {
    let mut c = Checker {
        spec,
        problems: Problems {
            file: spec.source.as_ref().map(|s| s.name.clone()),
            problems: Vec::new(),
        },
    };
    for rg in c.resources(REPLICATION_GROUP).collect::<Vec<_>>() {
        check_replication_group(&mut c, rg);
    }
    for pg in c.resources(PARAMETER_GROUP).collect::<Vec<_>>() {
        check_parameter_group(&mut c, pg);
    }
    for sg in c.resources(SECURITY_GROUP).collect::<Vec<_>>() {
        if !guards_a_database(spec, sg) {
            check_security_group(&mut c, sg);
        }
    }
    for secret in c.resources(SECRET).collect::<Vec<_>>() {
        if !c.refers_to(secret.properties.get("kmsKeyId"), KMS_KEY) {
            c.violation(
                SECRET_CMK,
                secret,
                PropertyPath::key("kmsKeyId"),
                format!(
                    "secret `{}` is not encrypted with the stack's customer KMS key",
                    secret.name
                ),
                "set kmsKeyId: ${<your aws:kms:Key>.arn}",
            );
        }
        if !secret.properties.contains_key("rotationLambdaArn") {
            c.violation(
                SECRET_ROTATION,
                secret,
                PropertyPath::root(),
                format!("secret `{}` has no automatic rotation", secret.name),
                "rotate the auth token with AuthTokenUpdateStrategy ROTATE then SET, on a schedule",
            );
        }
    }
    for policy in c.resources(IAM_POLICY).collect::<Vec<_>>() {
        check_iam_policy(&mut c, policy);
    }
    for key in c.resources(KMS_KEY).collect::<Vec<_>>() {
        if flag(key, "enableKeyRotation") != Some(true) {
            c.violation(
                KEY_ROTATION,
                key,
                PropertyPath::key("enableKeyRotation"),
                format!("KMS key `{}` does not rotate", key.name),
                "set enableKeyRotation: true",
            );
        }
    }
    platform::check(&mut c);
    c.problems
}

fn check_replication_group(c: &mut Checker, rg: &ResourceSpec) {
    if flag(rg, "transitEncryptionEnabled") != Some(true) {
        c.violation(
            TLS,
            rg,
            PropertyPath::key("transitEncryptionEnabled"),
            format!(
                "replication group `{}` accepts plaintext connections",
                rg.name
            ),
            "set transitEncryptionEnabled: true",
        );
    }
    if !rg.properties.contains_key("authToken") {
        c.violation(
            AUTH_TOKEN,
            rg,
            PropertyPath::key("authToken"),
            format!("replication group `{}` has no auth token", rg.name),
            "set authToken: ${<a random:Password>.result}",
        );
    }
    let at_rest = flag(rg, "atRestEncryptionEnabled") == Some(true);
    if !at_rest || !c.refers_to(rg.properties.get("kmsKeyId"), KMS_KEY) {
        let path = if at_rest {
            "kmsKeyId"
        } else {
            "atRestEncryptionEnabled"
        };
        c.violation(
            AT_REST_CMK,
            rg,
            PropertyPath::key(path),
            format!(
                "replication group `{}` is not encrypted at rest with the stack's customer KMS key",
                rg.name
            ),
            "set atRestEncryptionEnabled: true and kmsKeyId: ${<your aws:kms:Key>.arn}",
        );
    }
    if is_production_like(c.spec, rg) {
        for prop in ["automaticFailoverEnabled", "multiAzEnabled"] {
            if flag(rg, prop) != Some(true) {
                c.violation(
                    FAILOVER_MULTI_AZ,
                    rg,
                    PropertyPath::key(prop),
                    format!(
                        "`{}` is a staging/prod replication group without {prop}",
                        rg.name
                    ),
                    &format!("set {prop}: true"),
                );
            }
        }
    }
    let retention = rg
        .properties
        .get("snapshotRetentionLimit")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if retention < 1 {
        c.violation(
            SNAPSHOTS,
            rg,
            PropertyPath::key("snapshotRetentionLimit"),
            format!(
                "replication group `{}` keeps no automatic snapshots",
                rg.name
            ),
            "set snapshotRetentionLimit to 1 or more days",
        );
    }
    let cluster_mode = rg.properties.contains_key("numNodeGroups")
        || rg.properties.get("clusterMode").and_then(Value::as_str) == Some("enabled");
    if cluster_mode {
        let pg_ref = rg
            .properties
            .get("parameterGroupName")
            .and_then(Value::as_str)
            .unwrap_or("");
        let pg = cairn_core::interp::references(pg_ref)
            .into_iter()
            .find_map(|(root, _)| c.spec.resource(&root))
            .filter(|r| r.type_token == PARAMETER_GROUP)
            .or_else(|| {
                c.resources(PARAMETER_GROUP)
                    .find(|p| p.properties.get("name").and_then(Value::as_str) == Some(pg_ref))
            });
        let enabled =
            pg.is_some_and(|pg| parameter(pg, "cluster-enabled").as_deref() == Some("yes"));
        if !enabled {
            c.violation(CLUSTER_PARAMETERS, rg, PropertyPath::key("parameterGroupName"),
                format!("replication group `{}` runs in cluster mode, but its parameter group does not set cluster-enabled=yes", rg.name),
                "reference an aws:elasticache:ParameterGroup (family redis7) whose parameters include cluster-enabled: \"yes\"");
        }
    }
}

fn parameter(pg: &ResourceSpec, name: &str) -> Option<String> {
    pg.properties
        .get("parameters")?
        .as_list()?
        .iter()
        .find_map(|p| {
            let m = p.as_map()?;
            (m.get("name")?.as_str()? == name).then(|| match m.get("value") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_masked_json().to_string(),
                None => String::new(),
            })
        })
}

fn check_parameter_group(c: &mut Checker, pg: &ResourceSpec) {
    let policy = parameter(pg, "maxmemory-policy");
    if policy.as_deref() != Some("allkeys-lru") {
        let index = pg
            .properties
            .get("parameters")
            .and_then(Value::as_list)
            .and_then(|l| {
                l.iter().position(|p| {
                    p.as_map()
                        .and_then(|m| m.get("name"))
                        .and_then(Value::as_str)
                        == Some("maxmemory-policy")
                })
            });
        let path = match index {
            Some(i) => PropertyPath::key("parameters").index(i).child("value"),
            None => PropertyPath::key("parameters"),
        };
        let found = policy
            .map(|p| format!("`{p}`"))
            .unwrap_or_else(|| "not set".into());
        c.violation(
            EVICTION_LRU,
            pg,
            path,
            format!("parameter group `{}` has maxmemory-policy {found}", pg.name),
            "set the parameter maxmemory-policy to allkeys-lru",
        );
    }
}

/// A group an RDS instance of the stack names (`vpcSecurityGroupIds`): the
/// database's, not the Redis layer's, so CAIRN-POL-006 is not its rule.
fn guards_a_database(spec: &StackSpec, sg: &ResourceSpec) -> bool {
    spec.resources
        .iter()
        .filter(|r| r.type_token == "aws:rds:Instance")
        .filter_map(|db| {
            db.properties
                .get("vpcSecurityGroupIds")
                .and_then(Value::as_list)
        })
        .flatten()
        .filter_map(Value::as_str)
        .any(|id| {
            cairn_core::interp::references(id)
                .iter()
                .any(|(root, _)| *root == sg.name)
        })
}

fn check_security_group(c: &mut Checker, sg: &ResourceSpec) {
    let Some(rules) = sg.properties.get("ingress").and_then(Value::as_list) else {
        return;
    };
    for (i, rule) in rules.iter().enumerate() {
        let Some(m) = rule.as_map() else { continue };
        let path = PropertyPath::key("ingress").index(i);
        let from = m.get("fromPort").and_then(Value::as_i64);
        let to = m.get("toPort").and_then(Value::as_i64);
        if from != Some(REDIS_PORT) || to != Some(REDIS_PORT) {
            c.violation(
                INGRESS_ALLOWED,
                sg,
                path.child("fromPort"),
                format!(
                    "security group `{}` admits ports other than {REDIS_PORT}",
                    sg.name
                ),
                "admit only port 6379",
            );
        }
        for key in ["cidrBlocks", "ipv6CidrBlocks"] {
            let Some(cidrs) = m.get(key).and_then(Value::as_list) else {
                continue;
            };
            for (j, cidr) in cidrs.iter().enumerate() {
                let Some(text) = cidr.as_str() else { continue };
                if !ALLOWED_CIDRS.contains(&text) {
                    c.violation(
                        INGRESS_ALLOWED,
                        sg,
                        path.child(key).index(j),
                        format!("security group `{}` admits {text}", sg.name),
                        "admit only the Kubernetes node subnets 10.0.10.0/24 and 10.0.11.0/24",
                    );
                }
            }
        }
    }
}

fn check_iam_policy(c: &mut Checker, policy: &ResourceSpec) {
    let Some(value) = policy.properties.get("policy") else {
        return;
    };
    let statements = match iam_statements(value) {
        Ok(st) => st,
        Err(why) => {
            c.violation(
                IAM_READABLE,
                policy,
                PropertyPath::key("policy"),
                format!(
                    "the policy document of `{}` cannot be checked: {why}",
                    policy.name
                ),
                "write the policy as a JSON document with a Statement list whose entries have Effect, Action (or NotAction) and Resource (or NotResource) strings",
            );
            return;
        }
    };
    for (i, st) in statements.iter().enumerate() {
        // A wildcard in a Deny statement only takes permissions away.
        if st.deny {
            continue;
        }
        let mut found = Vec::new();
        for (field, values) in &st.fields {
            match *field {
                "NotAction" | "NotResource" => {
                    found.push(format!("{field} (allows everything not listed)"))
                }
                "Action" => found.extend(
                    values
                        .iter()
                        .filter(|a| a.contains(['*', '?']))
                        .map(|a| format!("wildcard Action `{a}`")),
                ),
                _ => found.extend(
                    values
                        .iter()
                        .filter(|r| r.contains('*'))
                        .map(|r| format!("wildcard Resource `{r}`")),
                ),
            }
        }
        for what in found {
            c.violation(
                IAM_NO_WILDCARD,
                policy,
                PropertyPath::key("policy"),
                format!("IAM policy `{}` statement {i} has a {what}", policy.name),
                "name the exact actions and the secret's and key's ARNs",
            );
        }
    }
}

/// A policy document (JSON text, or a map written in YAML) as a JSON
/// object; `Err` says why it cannot be read.
fn document(value: &Value) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let doc = match value {
        Value::String(text) => {
            serde_json::from_str::<serde_json::Value>(&interp::with_plain_references(text))
                .map_err(|e| format!("it is not JSON ({e})"))?
        }
        Value::Map(_) => value.to_masked_json(),
        _ => return Err("it is neither JSON text nor a map".into()),
    };
    match doc {
        serde_json::Value::Object(obj) => Ok(obj),
        _ => Err("it is not a JSON object".into()),
    }
}

/// One statement of an IAM policy: Deny or Allow, and the strings of its
/// Action, NotAction, Resource and NotResource fields.
struct Statement {
    deny: bool,
    fields: Vec<(&'static str, Vec<String>)>,
}

/// Reads a policy document (JSON text, or a map written in YAML) into its
/// statements; `Err` says what the pack cannot read.
fn iam_statements(value: &Value) -> Result<Vec<Statement>, String> {
    let obj = document(value)?;
    let statements = match obj.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.iter().collect::<Vec<_>>(),
        Some(st @ serde_json::Value::Object(_)) => vec![st],
        Some(_) => return Err("Statement is neither a list nor an object".into()),
        None => return Err("it has no Statement".into()),
    };
    statements
        .into_iter()
        .enumerate()
        .map(|(i, st)| {
            let Some(st) = st.as_object() else {
                return Err(format!("statement {i} is not an object"));
            };
            let deny = match st.get("Effect").map(|e| e.as_str()) {
                Some(Some("Deny")) => true,
                Some(Some("Allow")) | None => false,
                Some(_) => {
                    return Err(format!(
                        "statement {i} has an Effect other than Allow or Deny"
                    ))
                }
            };
            let mut fields = Vec::new();
            for field in ["Action", "NotAction", "Resource", "NotResource"] {
                let Some(v) = st.get(field) else { continue };
                let strings = match v {
                    serde_json::Value::String(s) => vec![s.clone()],
                    serde_json::Value::Array(a) => a
                        .iter()
                        .map(|s| s.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                        .ok_or(format!(
                            "statement {i}: {field} holds something other than strings"
                        ))?,
                    _ => {
                        return Err(format!(
                            "statement {i}: {field} is neither a string nor a list"
                        ))
                    }
                };
                fields.push((field, strings));
            }
            let has = |f: &str| fields.iter().any(|(n, _)| *n == f);
            if !has("Action") && !has("NotAction") {
                return Err(format!("statement {i} has neither Action nor NotAction"));
            }
            Ok(Statement { deny, fields })
        })
        .collect()
}
