//! The platform rules (RDS, S3, ECR, EKS, IAM roles): a compliant platform
//! passes in every environment; each rule's snapshot shows its failing cases
//! (message, where it points, help) and the test asserts its passing ones.

use cairn_core::spec::{ResourceSpec, Span, StackSpec};
use cairn_core::value::{Map, PropertyPath, Value};
use cairn_policy::evaluate;
use std::fmt::Write;

fn props(pairs: &[(&str, Value)]) -> Map {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn map(pairs: &[(&str, Value)]) -> Value {
    Value::Map(props(pairs))
}

fn json(v: serde_json::Value) -> Value {
    v.to_string().into()
}

const TLS_DENY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"DenyPlainHttp","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["${artifacts.arn}","${artifacts.arn}/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;

/// A platform that passes every rule in `env`.
fn platform(env: &str) -> StackSpec {
    let mut s = StackSpec::new(&format!("platform-{env}"));
    let add = |s: &mut StackSpec, name: &str, token: &str, p: &[(&str, Value)]| {
        s.add(ResourceSpec::new(name, token, props(p)));
    };
    add(
        &mut s,
        "key",
        "aws:kms:Key",
        &[("enableKeyRotation", true.into())],
    );
    add(
        &mut s,
        "db",
        "aws:rds:Instance",
        &[
            ("identifier", "platform-db".into()),
            ("storageEncrypted", true.into()),
            ("kmsKeyId", "${key.arn}".into()),
            ("publiclyAccessible", false.into()),
            ("multiAz", true.into()),
            ("deletionProtection", true.into()),
        ],
    );
    add(
        &mut s,
        "artifacts",
        "aws:s3:Bucket",
        &[("bucket", "qualisys-artifacts".into())],
    );
    add(
        &mut s,
        "artifactsBlock",
        "aws:s3:BucketPublicAccessBlock",
        &[
            ("bucket", "${artifacts.id}".into()),
            ("blockPublicAcls", true.into()),
            ("blockPublicPolicy", true.into()),
            ("ignorePublicAcls", true.into()),
            ("restrictPublicBuckets", true.into()),
        ],
    );
    add(
        &mut s,
        "artifactsSse",
        "aws:s3:BucketServerSideEncryptionConfiguration",
        &[
            ("bucket", "${artifacts.bucket}".into()),
            (
                "rules",
                Value::List(vec![map(&[(
                    "applyServerSideEncryptionByDefault",
                    map(&[
                        ("sseAlgorithm", "aws:kms".into()),
                        ("kmsMasterKeyId", "${key.arn}".into()),
                    ]),
                )])]),
            ),
        ],
    );
    add(
        &mut s,
        "artifactsVersioning",
        "aws:s3:BucketVersioning",
        &[
            ("bucket", "qualisys-artifacts".into()),
            (
                "versioningConfiguration",
                map(&[("status", "Enabled".into())]),
            ),
        ],
    );
    add(
        &mut s,
        "artifactsPolicy",
        "aws:s3:BucketPolicy",
        &[
            ("bucket", "${artifacts.id}".into()),
            ("policy", TLS_DENY.into()),
        ],
    );
    add(
        &mut s,
        "images",
        "aws:ecr:Repository",
        &[
            ("name", "qualisys/app".into()),
            ("imageTagMutability", "IMMUTABLE".into()),
            (
                "imageScanningConfiguration",
                map(&[("scanOnPush", true.into())]),
            ),
        ],
    );
    add(
        &mut s,
        "cluster",
        "aws:eks:Cluster",
        &[
            ("name", "platform".into()),
            (
                "vpcConfig",
                map(&[
                    ("subnetIds", vec!["subnet-a", "subnet-b"].into()),
                    ("endpointPrivateAccess", true.into()),
                    ("endpointPublicAccess", false.into()),
                ]),
            ),
            (
                "encryptionConfig",
                map(&[
                    ("provider", map(&[("keyArn", "${key.arn}".into())])),
                    ("resources", vec!["secrets"].into()),
                ]),
            ),
        ],
    );
    add(
        &mut s,
        "clusterRole",
        "aws:iam:Role",
        &[
            ("name", "platform-cluster".into()),
            (
                "assumeRolePolicy",
                json(serde_json::json!({"Version":"2012-10-17","Statement":[{
                    "Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},
                    "Action":"sts:AssumeRole"}]})),
            ),
        ],
    );
    add(
        &mut s,
        "appRole",
        "aws:iam:Role",
        &[
            ("name", "platform-app".into()),
            (
                "assumeRolePolicy",
                json(serde_json::json!({"Version":"2012-10-17","Statement":[{
                    "Effect":"Allow","Principal":{"Federated":"${oidc.arn}"},
                    "Action":"sts:AssumeRoleWithWebIdentity",
                    "Condition":{"StringEquals":{"${issuer}:sub":"system:serviceaccount:app:api"}}}]})),
            ),
        ],
    );
    s
}

fn set(s: &mut StackSpec, resource: &str, prop: &str, v: Value) {
    let r = s
        .resources
        .iter_mut()
        .find(|r| r.name == resource)
        .unwrap_or_else(|| panic!("no resource {resource}"));
    r.properties.insert(prop.into(), v);
}

fn remove(s: &mut StackSpec, resource: &str) {
    s.resources.retain(|r| r.name != resource);
}

fn codes(s: &StackSpec) -> Vec<String> {
    evaluate(s)
        .problems
        .iter()
        .map(|p| p.code.clone())
        .collect()
}

/// Gives every property of every resource its own span, so a problem's
/// span tells which `resource.path` it points at.
fn locate(s: &mut StackSpec) -> Vec<(usize, String)> {
    fn walk(v: &Value, path: PropertyPath, r: &mut ResourceSpec, names: &mut Vec<(usize, String)>) {
        let offset = names.len() + 1;
        names.push((offset, format!("{}.{}", r.name, path)));
        r.spans.insert(path.clone(), Span::new(offset, 1));
        match v {
            Value::Map(m) => {
                for (k, child) in m {
                    walk(child, path.child(k.as_str()), r, names);
                }
            }
            Value::List(l) => {
                for (i, child) in l.iter().enumerate() {
                    walk(child, path.index(i), r, names);
                }
            }
            _ => {}
        }
    }
    let mut names = Vec::new();
    for r in &mut s.resources {
        let props = Value::Map(r.properties.clone());
        walk(&props, PropertyPath::root(), r, &mut names);
    }
    names
}

/// The problems as a reader sees them: severity, code, message, the
/// property pointed at, the label and the help line.
fn render(case: &str, mut s: StackSpec) -> String {
    let names = locate(&mut s);
    let mut out = format!("## {case}\n");
    let problems = evaluate(&s).problems;
    if problems.is_empty() {
        out.push_str("(no problems)\n");
    }
    for p in problems {
        let at = p
            .span
            .and_then(|sp| names.iter().find(|(o, _)| *o == sp.offset))
            .map(|(_, n)| n.trim_end_matches('.').to_string())
            .unwrap_or_else(|| "(nowhere)".into());
        let _ = writeln!(
            out,
            "{}[{}] {}\n  at: {at}\n  label: {}\n  help: {}",
            if p.warning { "warning" } else { "error" },
            p.code,
            p.message,
            p.label.unwrap_or_default(),
            p.help.unwrap_or_default()
        );
    }
    out
}

/// Renders the failing cases of `rule`, checks each fails with exactly that
/// rule, and snapshots them.
fn snapshot_failures(rule: &str, cases: Vec<(&str, StackSpec)>) {
    let code = format!("cairn::policy::{rule}");
    let mut out = String::new();
    for (case, s) in cases {
        assert_eq!(
            codes(&s).iter().filter(|c| **c != code).count(),
            0,
            "{case}: only {rule} expected, got {:?}",
            codes(&s)
        );
        assert!(
            codes(&s).contains(&code),
            "{case}: {rule} expected, got {:?}",
            codes(&s)
        );
        out.push_str(&render(case, s));
    }
    insta::assert_snapshot!(rule, out);
}

fn assert_passes(case: &str, s: &StackSpec) {
    assert_eq!(codes(s), Vec::<String>::new(), "{case} should pass");
}

fn with(env: &str, edit: impl FnOnce(&mut StackSpec)) -> StackSpec {
    let mut s = platform(env);
    edit(&mut s);
    s
}

#[test]
fn a_compliant_platform_passes_in_every_environment() {
    for env in ["dev", "staging", "prod"] {
        assert_passes(env, &platform(env));
    }
}

#[test]
fn rds_storage_must_be_encrypted() {
    snapshot_failures(
        "CAIRN-POL-011",
        vec![
            (
                "storageEncrypted unset",
                with("dev", |s| {
                    s.resources[1].properties.remove("storageEncrypted");
                }),
            ),
            (
                "storageEncrypted false",
                with("dev", |s| set(s, "db", "storageEncrypted", false.into())),
            ),
        ],
    );
}

#[test]
fn rds_must_not_be_public() {
    snapshot_failures(
        "CAIRN-POL-012",
        vec![(
            "publiclyAccessible true",
            with("dev", |s| set(s, "db", "publiclyAccessible", true.into())),
        )],
    );
    assert_passes(
        "publiclyAccessible unset (false by default)",
        &with("dev", |s| {
            s.resources[1].properties.remove("publiclyAccessible");
        }),
    );
}

#[test]
fn rds_is_multi_az_in_staging_and_prod() {
    snapshot_failures(
        "CAIRN-POL-013",
        vec![
            (
                "staging, multiAz false",
                with("staging", |s| set(s, "db", "multiAz", false.into())),
            ),
            (
                "prod by environment tag, multiAz unset",
                with("dev", |s| {
                    set(s, "db", "tags", map(&[("environment", "prod".into())]));
                    s.resources[1].properties.remove("multiAz");
                }),
            ),
        ],
    );
    assert_passes(
        "dev, multiAz false",
        &with("dev", |s| set(s, "db", "multiAz", false.into())),
    );
}

#[test]
fn rds_has_deletion_protection_in_prod() {
    snapshot_failures(
        "CAIRN-POL-014",
        vec![(
            "prod, deletionProtection false",
            with("prod", |s| set(s, "db", "deletionProtection", false.into())),
        )],
    );
    for env in ["dev", "staging"] {
        assert_passes(
            env,
            &with(env, |s| set(s, "db", "deletionProtection", false.into())),
        );
    }
}

#[test]
fn s3_public_access_is_fully_blocked() {
    snapshot_failures(
        "CAIRN-POL-015",
        vec![
            (
                "no public access block",
                with("dev", |s| remove(s, "artifactsBlock")),
            ),
            (
                "two flags not true",
                with("dev", |s| {
                    set(s, "artifactsBlock", "ignorePublicAcls", false.into());
                    s.resources
                        .iter_mut()
                        .find(|r| r.name == "artifactsBlock")
                        .unwrap()
                        .properties
                        .remove("restrictPublicBuckets");
                }),
            ),
            (
                "the block targets another bucket",
                with("dev", |s| {
                    set(s, "artifactsBlock", "bucket", "other-bucket".into())
                }),
            ),
            (
                "the block refers to the bucket's arn, not its name",
                with("dev", |s| {
                    set(s, "artifactsBlock", "bucket", "${artifacts.arn}".into())
                }),
            ),
        ],
    );
    assert_passes(
        "the block names the bucket literally",
        &with("dev", |s| {
            set(s, "artifactsBlock", "bucket", "qualisys-artifacts".into())
        }),
    );
}

#[test]
fn s3_is_encrypted_with_kms() {
    snapshot_failures(
        "CAIRN-POL-016",
        vec![
            (
                "AES256",
                with("dev", |s| {
                    set(
                        s,
                        "artifactsSse",
                        "rules",
                        Value::List(vec![map(&[(
                            "applyServerSideEncryptionByDefault",
                            map(&[("sseAlgorithm", "AES256".into())]),
                        )])]),
                    )
                }),
            ),
            (
                "no encryption configuration",
                with("dev", |s| remove(s, "artifactsSse")),
            ),
        ],
    );
}

#[test]
fn s3_is_versioned() {
    snapshot_failures(
        "CAIRN-POL-017",
        vec![
            (
                "Suspended",
                with("dev", |s| {
                    set(
                        s,
                        "artifactsVersioning",
                        "versioningConfiguration",
                        map(&[("status", "Suspended".into())]),
                    )
                }),
            ),
            (
                "no versioning resource",
                with("dev", |s| remove(s, "artifactsVersioning")),
            ),
        ],
    );
}

#[test]
fn s3_denies_plain_http() {
    let policy = |doc: &str| {
        let doc = doc.to_string();
        with("dev", move |s| {
            set(s, "artifactsPolicy", "policy", doc.into())
        })
    };
    snapshot_failures(
        "CAIRN-POL-018",
        vec![
            (
                "no bucket policy",
                with("dev", |s| remove(s, "artifactsPolicy")),
            ),
            (
                "a policy that only allows",
                policy(
                    r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3:GetObject","Resource":"${artifacts.arn}/*"}]}"#,
                ),
            ),
            (
                "the deny covers one action only",
                policy(&TLS_DENY.replace(r#""s3:*""#, r#""s3:GetObject""#)),
            ),
            (
                "the deny fires on TLS, not on plain HTTP",
                policy(&TLS_DENY.replace(
                    r#""aws:SecureTransport":"false""#,
                    r#""aws:SecureTransport":"true""#,
                )),
            ),
        ],
    );
    for (case, doc) in [
        (
            "boolean false, Principal {AWS: *}",
            TLS_DENY
                .replace(r#""Principal":"*""#, r#""Principal":{"AWS":["*"]}"#)
                .replace(r#""false""#, "false"),
        ),
        (
            "Action *",
            TLS_DENY.replace(r#""Action":"s3:*""#, r#""Action":["*"]"#),
        ),
    ] {
        assert_passes(case, &policy(&doc));
    }
    // A document the pack cannot read is an error, not a pass.
    assert_eq!(
        codes(&policy("{not json")),
        vec!["cairn::policy::CAIRN-POL-010"]
    );
}

#[test]
fn ecr_scans_on_push() {
    snapshot_failures(
        "CAIRN-POL-019",
        vec![
            (
                "scanOnPush false",
                with("dev", |s| {
                    set(
                        s,
                        "images",
                        "imageScanningConfiguration",
                        map(&[("scanOnPush", false.into())]),
                    )
                }),
            ),
            (
                "no imageScanningConfiguration",
                with("dev", |s| {
                    s.resources
                        .iter_mut()
                        .find(|r| r.name == "images")
                        .unwrap()
                        .properties
                        .remove("imageScanningConfiguration");
                }),
            ),
        ],
    );
}

#[test]
fn ecr_tags_are_immutable_in_prod() {
    snapshot_failures(
        "CAIRN-POL-020",
        vec![
            (
                "prod, MUTABLE",
                with("prod", |s| {
                    set(s, "images", "imageTagMutability", "MUTABLE".into())
                }),
            ),
            (
                "prod, unset",
                with("prod", |s| {
                    s.resources
                        .iter_mut()
                        .find(|r| r.name == "images")
                        .unwrap()
                        .properties
                        .remove("imageTagMutability");
                }),
            ),
        ],
    );
    for env in ["dev", "staging"] {
        assert_passes(
            env,
            &with(env, |s| {
                set(s, "images", "imageTagMutability", "MUTABLE".into())
            }),
        );
    }
}

fn vpc(pairs: &[(&str, Value)]) -> Value {
    let mut all = vec![("subnetIds", vec!["subnet-a", "subnet-b"].into())];
    all.extend(pairs.iter().cloned());
    map(&all)
}

#[test]
fn eks_public_endpoint_is_not_open_to_the_internet() {
    let cluster_vpc = |v: Value| with("dev", move |s| set(s, "cluster", "vpcConfig", v));
    snapshot_failures(
        "CAIRN-POL-021",
        vec![
            (
                "endpointPublicAccess unset (on by default), no publicAccessCidrs",
                cluster_vpc(vpc(&[])),
            ),
            (
                "public access with 0.0.0.0/0 among the CIDRs",
                cluster_vpc(vpc(&[
                    ("endpointPublicAccess", true.into()),
                    (
                        "publicAccessCidrs",
                        vec!["203.0.113.0/24", "0.0.0.0/0"].into(),
                    ),
                ])),
            ),
        ],
    );
    assert_passes(
        "public access limited to an office range",
        &cluster_vpc(vpc(&[
            ("endpointPublicAccess", true.into()),
            ("publicAccessCidrs", vec!["203.0.113.0/24"].into()),
        ])),
    );
}

#[test]
fn eks_secrets_are_encrypted() {
    snapshot_failures(
        "CAIRN-POL-022",
        vec![
            (
                "no encryptionConfig",
                with("dev", |s| {
                    s.resources
                        .iter_mut()
                        .find(|r| r.name == "cluster")
                        .unwrap()
                        .properties
                        .remove("encryptionConfig");
                }),
            ),
            (
                "encryptionConfig without secrets",
                with("dev", |s| {
                    set(
                        s,
                        "cluster",
                        "encryptionConfig",
                        map(&[
                            ("provider", map(&[("keyArn", "${key.arn}".into())])),
                            ("resources", Value::List(vec![])),
                        ]),
                    )
                }),
            ),
        ],
    );
}

#[test]
fn iam_trust_is_not_open_to_everyone() {
    let trust = |doc: serde_json::Value| {
        with("dev", move |s| {
            set(s, "clusterRole", "assumeRolePolicy", json(doc))
        })
    };
    snapshot_failures(
        "CAIRN-POL-023",
        vec![
            (
                "Principal *",
                trust(
                    serde_json::json!({"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]}),
                ),
            ),
            (
                "Principal {AWS: [*]} in the second statement",
                trust(serde_json::json!({"Statement":[
                    {"Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},"Action":"sts:AssumeRole"},
                    {"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:root","*"]},"Action":"sts:AssumeRole"}]})),
            ),
            (
                "NotPrincipal in an Allow",
                trust(
                    serde_json::json!({"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}),
                ),
            ),
        ],
    );
    for (case, doc) in [
        (
            "Principal * with a Condition",
            serde_json::json!({"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole",
                "Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abc123"}}}]}),
        ),
        (
            "Deny to *",
            serde_json::json!({"Statement":[
                {"Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},"Action":"sts:AssumeRole"},
                {"Effect":"Deny","Principal":"*","Action":"sts:AssumeRole"}]}),
        ),
    ] {
        assert_passes(case, &trust(doc));
    }
    assert_eq!(
        codes(&with("dev", |s| set(
            s,
            "clusterRole",
            "assumeRolePolicy",
            "not json".into()
        ))),
        vec!["cairn::policy::CAIRN-POL-010"]
    );
}

#[test]
fn every_rule_has_a_unique_id_and_the_platform_rules_name_checkov() {
    let ids: std::collections::BTreeSet<_> = cairn_policy::RULES.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), cairn_policy::RULES.len(), "duplicate rule ids");
    for id in 11..=23 {
        let rule = cairn_policy::RULES
            .iter()
            .find(|r| r.id == format!("CAIRN-POL-{id:03}"))
            .unwrap_or_else(|| panic!("CAIRN-POL-{id:03} is not in RULES"));
        assert!(rule.mandatory, "{}", rule.id);
        assert!(
            rule.checkov.is_some_and(|c| c.starts_with("CKV")),
            "{} names no Checkov id",
            rule.id
        );
    }
}

#[test]
fn a_waiver_on_the_bucket_covers_a_problem_found_on_its_settings() {
    let mut s = with("dev", |s| {
        set(s, "artifactsBlock", "ignorePublicAcls", false.into())
    });
    s.waivers.push(cairn_core::spec::Waiver {
        rule: "CAIRN-POL-015".into(),
        resource: Some("artifacts".into()),
        reason: "public website bucket".into(),
        span: None,
    });
    let problems = evaluate(&s);
    assert!(!problems.has_errors(), "{problems:?}");
    assert_eq!(problems.problems.len(), 1);
    assert!(problems.problems[0]
        .message
        .starts_with("waived CAIRN-POL-015"));
}
