//! Rules for the platform types around the cache: RDS, S3, ECR, EKS and IAM
//! roles. The S3 rules are cross-resource: a bucket is matched to the
//! settings resources whose `bucket` input refers to it.

use super::{document, flag, is_prod, is_production_like, Checker, Rule, IAM_READABLE};
use cairn_core::spec::ResourceSpec;
use cairn_core::value::{PropertyPath, Value};
use serde_json::Value as Json;

pub const RDS_ENCRYPTED: Rule = Rule {
    id: "CAIRN-POL-011",
    mandatory: true,
    checkov: Some("CKV_AWS_16"),
    title: "the database storage is encrypted",
};
pub const RDS_NOT_PUBLIC: Rule = Rule {
    id: "CAIRN-POL-012",
    mandatory: true,
    checkov: Some("CKV_AWS_17"),
    title: "the database is not publicly accessible",
};
pub const RDS_MULTI_AZ: Rule = Rule {
    id: "CAIRN-POL-013",
    mandatory: true,
    checkov: Some("CKV_AWS_157"),
    title: "staging and prod databases are Multi-AZ",
};
pub const RDS_DELETION_PROTECTION: Rule = Rule {
    id: "CAIRN-POL-014",
    mandatory: true,
    checkov: Some("CKV_AWS_293"),
    title: "prod databases have deletion protection",
};
pub const S3_PUBLIC_ACCESS_BLOCKED: Rule = Rule {
    id: "CAIRN-POL-015",
    mandatory: true,
    checkov: Some("CKV2_AWS_6, CKV_AWS_53, CKV_AWS_54, CKV_AWS_55, CKV_AWS_56"),
    title: "all public access to the bucket is blocked",
};
pub const S3_SSE_KMS: Rule = Rule {
    id: "CAIRN-POL-016",
    mandatory: true,
    checkov: Some("CKV_AWS_145"),
    title: "the bucket is encrypted with KMS by default",
};
pub const S3_VERSIONING: Rule = Rule {
    id: "CAIRN-POL-017",
    mandatory: true,
    checkov: Some("CKV_AWS_21"),
    title: "bucket versioning is enabled",
};
pub const S3_TLS_ONLY: Rule = Rule {
    id: "CAIRN-POL-018",
    mandatory: true,
    checkov: Some("CKV_AWS_379"),
    title: "the bucket policy denies requests without TLS",
};
pub const ECR_SCAN_ON_PUSH: Rule = Rule {
    id: "CAIRN-POL-019",
    mandatory: true,
    checkov: Some("CKV_AWS_163"),
    title: "images are scanned on push",
};
pub const ECR_IMMUTABLE_TAGS: Rule = Rule {
    id: "CAIRN-POL-020",
    mandatory: true,
    checkov: Some("CKV_AWS_51"),
    title: "prod image tags are immutable",
};
pub const EKS_PUBLIC_ENDPOINT: Rule = Rule {
    id: "CAIRN-POL-021",
    mandatory: true,
    checkov: Some("CKV_AWS_38"),
    title: "the cluster's public endpoint is not open to 0.0.0.0/0",
};
pub const EKS_SECRETS_ENCRYPTED: Rule = Rule {
    id: "CAIRN-POL-022",
    mandatory: true,
    checkov: Some("CKV_AWS_58"),
    title: "Kubernetes secrets are encrypted with a KMS key",
};
pub const IAM_TRUST_NOT_PUBLIC: Rule = Rule {
    id: "CAIRN-POL-023",
    mandatory: true,
    checkov: Some("CKV_AWS_60"),
    title: "the role's trust policy does not let anyone assume it",
};

const RDS_INSTANCE: &str = "aws:rds:Instance";
const BUCKET: &str = "aws:s3:Bucket";
const PUBLIC_ACCESS_BLOCK: &str = "aws:s3:BucketPublicAccessBlock";
const BUCKET_SSE: &str = "aws:s3:BucketServerSideEncryptionConfiguration";
const BUCKET_VERSIONING: &str = "aws:s3:BucketVersioning";
const BUCKET_POLICY: &str = "aws:s3:BucketPolicy";
const ECR_REPOSITORY: &str = "aws:ecr:Repository";
const EKS_CLUSTER: &str = "aws:eks:Cluster";
const IAM_ROLE: &str = "aws:iam:Role";

const OPEN_CIDRS: &[&str] = &["0.0.0.0/0", "::/0"];
const BLOCK_FLAGS: [&str; 4] = [
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
];

pub(crate) fn check(c: &mut Checker) {
    for db in c.resources(RDS_INSTANCE).collect::<Vec<_>>() {
        check_rds(c, db);
    }
    for bucket in c.resources(BUCKET).collect::<Vec<_>>() {
        check_bucket(c, bucket);
    }
    for repo in c.resources(ECR_REPOSITORY).collect::<Vec<_>>() {
        check_ecr(c, repo);
    }
    for cluster in c.resources(EKS_CLUSTER).collect::<Vec<_>>() {
        check_eks(c, cluster);
    }
    for role in c.resources(IAM_ROLE).collect::<Vec<_>>() {
        check_role(c, role);
    }
}

fn check_rds(c: &mut Checker, db: &ResourceSpec) {
    if flag(db, "storageEncrypted") != Some(true) {
        c.violation(
            RDS_ENCRYPTED,
            db,
            PropertyPath::key("storageEncrypted"),
            format!(
                "RDS instance `{}` does not encrypt its storage (storageEncrypted is not true)",
                db.name
            ),
            "set storageEncrypted: true and kmsKeyId: ${<your aws:kms:Key>.arn} (it cannot be turned on after create)",
        );
    }
    let public = db.properties.get("publiclyAccessible");
    if !matches!(public, None | Some(Value::Null)) && public.and_then(Value::as_bool) != Some(false)
    {
        c.violation(
            RDS_NOT_PUBLIC,
            db,
            PropertyPath::key("publiclyAccessible"),
            format!(
                "RDS instance `{}` is reachable from the internet (publiclyAccessible is not false)",
                db.name
            ),
            "set publiclyAccessible: false and reach the database from inside the VPC",
        );
    }
    if is_production_like(c.spec, db) && flag(db, "multiAz") != Some(true) {
        c.violation(
            RDS_MULTI_AZ,
            db,
            PropertyPath::key("multiAz"),
            format!(
                "`{}` is a staging/prod RDS instance without multiAz",
                db.name
            ),
            "set multiAz: true",
        );
    }
    if is_prod(c.spec, db) && flag(db, "deletionProtection") != Some(true) {
        c.violation(
            RDS_DELETION_PROTECTION,
            db,
            PropertyPath::key("deletionProtection"),
            format!(
                "`{}` is a prod RDS instance without deletionProtection",
                db.name
            ),
            "set deletionProtection: true",
        );
    }
}

/// True when the `bucket` input of `setting` names `bucket`: a reference to
/// its `id` or `bucket` output, or the same literal name.
fn targets(setting: &ResourceSpec, bucket: &ResourceSpec) -> bool {
    let Some(text) = setting.properties.get("bucket").and_then(Value::as_str) else {
        return false;
    };
    match cairn_core::interp::whole_reference(text) {
        Some((root, path)) => {
            root == bucket.name && matches!(path.to_string().as_str(), "id" | "bucket")
        }
        None => bucket.properties.get("bucket").and_then(Value::as_str) == Some(text),
    }
}

fn settings_of<'a>(c: &Checker<'a>, token: &str, bucket: &ResourceSpec) -> Vec<&'a ResourceSpec> {
    c.resources(token).filter(|s| targets(s, bucket)).collect()
}

fn check_bucket(c: &mut Checker, bucket: &ResourceSpec) {
    check_public_access(c, bucket);
    check_sse(c, bucket);
    check_versioning(c, bucket);
    check_tls_only(c, bucket);
}

fn check_public_access(c: &mut Checker, bucket: &ResourceSpec) {
    let blocks = settings_of(c, PUBLIC_ACCESS_BLOCK, bucket);
    let open = |b: &ResourceSpec| -> Vec<&'static str> {
        BLOCK_FLAGS
            .into_iter()
            .filter(|f| flag(b, f) != Some(true))
            .collect()
    };
    if blocks.iter().any(|b| open(b).is_empty()) {
        return;
    }
    let help = "add an aws:s3:BucketPublicAccessBlock with bucket: ${<bucket>.id} and blockPublicAcls, blockPublicPolicy, ignorePublicAcls and restrictPublicBuckets all true";
    match blocks.first() {
        Some(block) => {
            let missing = open(block);
            c.violation_at(
                S3_PUBLIC_ACCESS_BLOCKED,
                bucket,
                block,
                PropertyPath::key(missing[0]),
                format!(
                    "bucket `{}` is not fully blocked from public access: `{}` does not set {} to true",
                    bucket.name,
                    block.name,
                    missing.join(", ")
                ),
                help,
            );
        }
        None => c.violation(
            S3_PUBLIC_ACCESS_BLOCKED,
            bucket,
            PropertyPath::root(),
            format!(
                "bucket `{}` has no aws:s3:BucketPublicAccessBlock whose bucket refers to it",
                bucket.name
            ),
            help,
        ),
    }
}

/// The `sseAlgorithm` of each rule of an SSE configuration, with its path.
fn sse_algorithms(sse: &ResourceSpec) -> Vec<(PropertyPath, Option<String>)> {
    let Some(rules) = sse.properties.get("rules").and_then(Value::as_list) else {
        return Vec::new();
    };
    rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let path = PropertyPath::key("rules")
                .index(i)
                .child("applyServerSideEncryptionByDefault")
                .child("sseAlgorithm");
            let algorithm = rule
                .as_map()
                .and_then(|m| m.get("applyServerSideEncryptionByDefault"))
                .and_then(Value::as_map)
                .and_then(|m| m.get("sseAlgorithm"))
                .and_then(Value::as_str)
                .map(str::to_string);
            (path, algorithm)
        })
        .collect()
}

fn check_sse(c: &mut Checker, bucket: &ResourceSpec) {
    let configs = settings_of(c, BUCKET_SSE, bucket);
    let kms = |a: &Option<String>| matches!(a.as_deref(), Some("aws:kms" | "aws:kms:dsse"));
    if configs
        .iter()
        .any(|s| sse_algorithms(s).iter().any(|(_, a)| kms(a)))
    {
        return;
    }
    let help = "add an aws:s3:BucketServerSideEncryptionConfiguration with bucket: ${<bucket>.id} and a rule whose applyServerSideEncryptionByDefault has sseAlgorithm: aws:kms and kmsMasterKeyId: ${<your aws:kms:Key>.arn}";
    let found = configs.iter().find_map(|s| {
        sse_algorithms(s)
            .into_iter()
            .next()
            .map(|found| (*s, found))
    });
    match found {
        Some((config, (path, algorithm))) => c.violation_at(
            S3_SSE_KMS,
            bucket,
            config,
            path,
            format!(
                "bucket `{}` is not encrypted with KMS: `{}` sets sseAlgorithm {}",
                bucket.name,
                config.name,
                algorithm
                    .map(|a| format!("`{a}`"))
                    .unwrap_or_else(|| "to nothing".into())
            ),
            help,
        ),
        None => c.violation(
            S3_SSE_KMS,
            bucket,
            PropertyPath::root(),
            format!(
                "bucket `{}` has no aws:s3:BucketServerSideEncryptionConfiguration with sseAlgorithm aws:kms whose bucket refers to it",
                bucket.name
            ),
            help,
        ),
    }
}

fn versioning_status(v: &ResourceSpec) -> Option<&str> {
    v.properties
        .get("versioningConfiguration")
        .and_then(Value::as_map)
        .and_then(|m| m.get("status"))
        .and_then(Value::as_str)
}

fn check_versioning(c: &mut Checker, bucket: &ResourceSpec) {
    let configs = settings_of(c, BUCKET_VERSIONING, bucket);
    if configs
        .iter()
        .any(|v| versioning_status(v) == Some("Enabled"))
    {
        return;
    }
    let help = "add an aws:s3:BucketVersioning with bucket: ${<bucket>.id} and versioningConfiguration: {status: Enabled}";
    match configs.first() {
        Some(v) => c.violation_at(
            S3_VERSIONING,
            bucket,
            v,
            PropertyPath::key("versioningConfiguration").child("status"),
            format!(
                "bucket `{}` is not versioned: `{}` sets versioningConfiguration.status {}",
                bucket.name,
                v.name,
                versioning_status(v)
                    .map(|s| format!("`{s}`"))
                    .unwrap_or_else(|| "to nothing".into())
            ),
            help,
        ),
        None => c.violation(
            S3_VERSIONING,
            bucket,
            PropertyPath::root(),
            format!(
                "bucket `{}` has no aws:s3:BucketVersioning whose bucket refers to it",
                bucket.name
            ),
            help,
        ),
    }
}

/// The strings of a JSON string-or-list field.
fn strings(v: Option<&Json>) -> Vec<&str> {
    match v {
        Some(Json::String(s)) => vec![s.as_str()],
        Some(Json::Array(a)) => a.iter().filter_map(Json::as_str).collect(),
        _ => Vec::new(),
    }
}

/// True when a statement's `Principal` is everyone: `*` or `{"AWS": "*"}`.
fn everyone(principal: Option<&Json>) -> bool {
    match principal {
        Some(Json::String(s)) => s == "*",
        Some(Json::Object(m)) => strings(m.get("AWS")).contains(&"*"),
        _ => false,
    }
}

/// True for a statement that denies every S3 action to everyone when
/// `aws:SecureTransport` is false.
fn denies_plain_http(st: &serde_json::Map<String, Json>) -> bool {
    let deny = st.get("Effect").and_then(Json::as_str) == Some("Deny");
    let all_actions = strings(st.get("Action"))
        .iter()
        .any(|a| matches!(*a, "*" | "s3:*"));
    let insecure = st
        .get("Condition")
        .and_then(|c| c.get("Bool"))
        .and_then(Json::as_object)
        .and_then(|b| {
            b.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("aws:SecureTransport"))
        })
        .is_some_and(|(_, v)| match v {
            Json::Bool(b) => !b,
            other => strings(Some(other))
                .iter()
                .any(|s| s.eq_ignore_ascii_case("false")),
        });
    deny && everyone(st.get("Principal")) && all_actions && insecure
}

fn check_tls_only(c: &mut Checker, bucket: &ResourceSpec) {
    let mut unreadable = false;
    for policy in settings_of(c, BUCKET_POLICY, bucket) {
        let Some(value) = policy.properties.get("policy") else {
            continue;
        };
        match statement_objects(value) {
            Ok(statements) => {
                if statements.iter().any(denies_plain_http) {
                    return;
                }
            }
            Err(why) => {
                unreadable = true;
                c.violation(
                    IAM_READABLE,
                    policy,
                    PropertyPath::key("policy"),
                    format!(
                        "the policy document of `{}` cannot be checked: {why}",
                        policy.name
                    ),
                    "write the policy as a JSON document with a Statement list",
                );
            }
        }
    }
    if unreadable {
        return;
    }
    c.violation(
        S3_TLS_ONLY,
        bucket,
        PropertyPath::root(),
        format!(
            "bucket `{}` accepts plain HTTP: no aws:s3:BucketPolicy whose bucket refers to it denies s3:* to Principal * when aws:SecureTransport is false",
            bucket.name
        ),
        r#"add an aws:s3:BucketPolicy with a statement {"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["${<bucket>.arn}","${<bucket>.arn}/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#,
    );
}

/// The statements of a policy document, each a JSON object.
fn statement_objects(value: &Value) -> Result<Vec<serde_json::Map<String, Json>>, String> {
    let doc = document(value)?;
    let statements = match doc.get("Statement") {
        Some(Json::Array(a)) => a.clone(),
        Some(st @ Json::Object(_)) => vec![st.clone()],
        Some(_) => return Err("Statement is neither a list nor an object".into()),
        None => return Err("it has no Statement".into()),
    };
    statements
        .into_iter()
        .enumerate()
        .map(|(i, st)| match st {
            Json::Object(m) => Ok(m),
            _ => Err(format!("statement {i} is not an object")),
        })
        .collect()
}

fn check_ecr(c: &mut Checker, repo: &ResourceSpec) {
    let scan = repo
        .properties
        .get("imageScanningConfiguration")
        .and_then(Value::as_map)
        .and_then(|m| m.get("scanOnPush"))
        .and_then(Value::as_bool);
    if scan != Some(true) {
        c.violation(
            ECR_SCAN_ON_PUSH,
            repo,
            PropertyPath::key("imageScanningConfiguration").child("scanOnPush"),
            format!(
                "ECR repository `{}` does not scan images on push (imageScanningConfiguration.scanOnPush is not true)",
                repo.name
            ),
            "set imageScanningConfiguration: {scanOnPush: true}",
        );
    }
    let mutability = repo
        .properties
        .get("imageTagMutability")
        .and_then(Value::as_str);
    if is_prod(c.spec, repo) && mutability != Some("IMMUTABLE") {
        c.violation(
            ECR_IMMUTABLE_TAGS,
            repo,
            PropertyPath::key("imageTagMutability"),
            format!(
                "`{}` is a prod ECR repository whose tags can be overwritten (imageTagMutability is {})",
                repo.name,
                mutability.unwrap_or("MUTABLE by default")
            ),
            "set imageTagMutability: IMMUTABLE",
        );
    }
}

fn check_eks(c: &mut Checker, cluster: &ResourceSpec) {
    let vpc = cluster.properties.get("vpcConfig").and_then(Value::as_map);
    let public = vpc
        .and_then(|v| v.get("endpointPublicAccess"))
        .and_then(Value::as_bool);
    let vpc_path = PropertyPath::key("vpcConfig");
    if public != Some(false) {
        let cidrs = vpc
            .and_then(|v| v.get("publicAccessCidrs"))
            .and_then(Value::as_list)
            .unwrap_or_default();
        let help = "set vpcConfig.endpointPublicAccess: false (with endpointPrivateAccess: true), or list the CIDRs allowed to reach it in vpcConfig.publicAccessCidrs";
        if cidrs.is_empty() {
            c.violation(
                EKS_PUBLIC_ENDPOINT,
                cluster,
                vpc_path.child("endpointPublicAccess"),
                format!(
                    "EKS cluster `{}` has a public endpoint open to 0.0.0.0/0 (vpcConfig.endpointPublicAccess is on and vpcConfig.publicAccessCidrs is not set)",
                    cluster.name
                ),
                help,
            );
        }
        for (i, cidr) in cidrs.iter().enumerate() {
            let Some(text) = cidr.as_str() else { continue };
            if OPEN_CIDRS.contains(&text) {
                c.violation(
                    EKS_PUBLIC_ENDPOINT,
                    cluster,
                    vpc_path.child("publicAccessCidrs").index(i),
                    format!(
                        "EKS cluster `{}` has a public endpoint open to {text} (vpcConfig.publicAccessCidrs)",
                        cluster.name
                    ),
                    help,
                );
            }
        }
    }
    let configs: Vec<&Value> = match cluster.properties.get("encryptionConfig") {
        Some(Value::List(l)) => l.iter().collect(),
        Some(v @ Value::Map(_)) => vec![v],
        _ => Vec::new(),
    };
    let encrypts_secrets = configs.iter().any(|cfg| {
        let Some(m) = cfg.as_map() else { return false };
        let secrets = m
            .get("resources")
            .and_then(Value::as_list)
            .is_some_and(|r| r.iter().any(|x| x.as_str() == Some("secrets")));
        let key = m
            .get("provider")
            .and_then(Value::as_map)
            .and_then(|p| p.get("keyArn"))
            .and_then(Value::as_str)
            .is_some_and(|k| !k.trim().is_empty());
        secrets && key
    });
    if !encrypts_secrets {
        c.violation(
            EKS_SECRETS_ENCRYPTED,
            cluster,
            PropertyPath::key("encryptionConfig"),
            format!(
                "EKS cluster `{}` does not encrypt Kubernetes secrets with a KMS key (no encryptionConfig with resources [secrets] and provider.keyArn)",
                cluster.name
            ),
            "set encryptionConfig: {provider: {keyArn: ${<your aws:kms:Key>.arn}}, resources: [secrets]}",
        );
    }
}

fn check_role(c: &mut Checker, role: &ResourceSpec) {
    let Some(value) = role.properties.get("assumeRolePolicy") else {
        return;
    };
    let path = PropertyPath::key("assumeRolePolicy");
    let statements = match statement_objects(value) {
        Ok(st) => st,
        Err(why) => {
            c.violation(
                IAM_READABLE,
                role,
                path,
                format!(
                    "the trust policy (assumeRolePolicy) of `{}` cannot be checked: {why}",
                    role.name
                ),
                "write the trust policy as a JSON document with a Statement list whose entries have Effect, Principal and Action",
            );
            return;
        }
    };
    for (i, st) in statements.iter().enumerate() {
        if st.get("Effect").and_then(Json::as_str) == Some("Deny") {
            continue;
        }
        let conditioned = st
            .get("Condition")
            .and_then(Json::as_object)
            .is_some_and(|m| !m.is_empty());
        let who = if everyone(st.get("Principal")) {
            "any principal (`*`)"
        } else if st.contains_key("NotPrincipal") {
            "every principal not listed (NotPrincipal)"
        } else {
            continue;
        };
        if !conditioned {
            c.violation(
                IAM_TRUST_NOT_PUBLIC,
                role,
                path.clone(),
                format!(
                    "role `{}` lets {who} assume it: assumeRolePolicy statement {i} has no Condition",
                    role.name
                ),
                "name the principals that may assume the role (a service, an account or role ARN, or the OIDC provider with a `:sub` condition)",
            );
        }
    }
}
