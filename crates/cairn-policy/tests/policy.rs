use cairn_core::spec::{ResourceSpec, StackSpec, Waiver};
use cairn_core::value::{Map, Value};
use cairn_policy::evaluate;

#[path = "policy/database_group.rs"]
mod database_group;
#[path = "policy/platform.rs"]
mod platform;

fn props(pairs: &[(&str, Value)]) -> Map {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn param(name: &str, value: &str) -> Value {
    Value::Map(props(&[("name", name.into()), ("value", value.into())]))
}

/// A compliant prod stack; each test breaks one thing.
fn compliant() -> StackSpec {
    let mut s = StackSpec::new("redis-prod");
    s.add(ResourceSpec::new(
        "key",
        "aws:kms:Key",
        props(&[("enableKeyRotation", true.into())]),
    ));
    s.add(ResourceSpec::new(
        "params",
        "aws:elasticache:ParameterGroup",
        props(&[
            ("name", "p".into()),
            (
                "parameters",
                Value::List(vec![
                    param("maxmemory-policy", "allkeys-lru"),
                    param("cluster-enabled", "yes"),
                ]),
            ),
        ]),
    ));
    s.add(ResourceSpec::new(
        "sg",
        "aws:ec2:SecurityGroup",
        props(&[(
            "ingress",
            Value::List(vec![Value::Map(props(&[
                ("fromPort", 6379.into()),
                ("toPort", 6379.into()),
                ("cidrBlocks", vec!["10.0.10.0/24", "10.0.11.0/24"].into()),
            ]))]),
        )]),
    ));
    s.add(ResourceSpec::new(
        "redis",
        "aws:elasticache:ReplicationGroup",
        props(&[
            ("transitEncryptionEnabled", true.into()),
            ("authToken", "${tok.result}".into()),
            ("atRestEncryptionEnabled", true.into()),
            ("kmsKeyId", "${key.arn}".into()),
            ("automaticFailoverEnabled", true.into()),
            ("multiAzEnabled", true.into()),
            ("numNodeGroups", 2.into()),
            ("snapshotRetentionLimit", 7.into()),
            ("parameterGroupName", "${params.name}".into()),
        ]),
    ));
    s.add(ResourceSpec::new(
        "secret",
        "aws:secretsmanager:Secret",
        props(&[
            ("kmsKeyId", "${key.arn}".into()),
            ("rotationLambdaArn", "arn:x".into()),
        ]),
    ));
    s.add(ResourceSpec::new(
        "policy",
        "aws:iam:Policy",
        props(&[(
            "policy",
            r#"{"Statement":[{"Action":["secretsmanager:GetSecretValue"],"Resource":"${secret.arn}"}]}"#.into(),
        )]),
    ));
    s
}

fn codes(s: &StackSpec) -> Vec<String> {
    evaluate(s)
        .problems
        .iter()
        .map(|p| format!("{}{}", p.code, if p.warning { " (warning)" } else { "" }))
        .collect()
}

fn set(s: &mut StackSpec, resource: &str, prop: &str, v: Value) {
    let r = s.resources.iter_mut().find(|r| r.name == resource).unwrap();
    r.properties.insert(prop.into(), v);
}

#[test]
fn a_compliant_stack_passes() {
    assert_eq!(codes(&compliant()), Vec::<String>::new());
}

#[test]
fn each_mandatory_rule_fires() {
    let cases: Vec<(&str, &str, Value, &str)> = vec![
        (
            "redis",
            "transitEncryptionEnabled",
            false.into(),
            "CAIRN-POL-001",
        ),
        (
            "redis",
            "kmsKeyId",
            "alias/aws/elasticache".into(),
            "CAIRN-POL-003",
        ),
        ("redis", "multiAzEnabled", false.into(), "CAIRN-POL-004"),
        (
            "params",
            "parameters",
            Value::List(vec![
                param("maxmemory-policy", "volatile-lru"),
                param("cluster-enabled", "yes"),
            ]),
            "CAIRN-POL-005",
        ),
        ("secret", "kmsKeyId", Value::Null, "CAIRN-POL-007"),
        (
            "policy",
            "policy",
            r#"{"Statement":[{"Action":"*","Resource":"*"}]}"#.into(),
            "CAIRN-POL-008",
        ),
        (
            "params",
            "parameters",
            Value::List(vec![param("maxmemory-policy", "allkeys-lru")]),
            "CAIRN-POL-009",
        ),
    ];
    for (resource, prop, value, code) in cases {
        let mut s = compliant();
        set(&mut s, resource, prop, value);
        let found = codes(&s);
        assert!(
            found.contains(&format!("cairn::policy::{code}")),
            "{code} expected for {resource}.{prop}, got {found:?}"
        );
    }
    let mut s = compliant();
    s.resources
        .iter_mut()
        .find(|r| r.name == "redis")
        .unwrap()
        .properties
        .remove("authToken");
    assert!(codes(&s).contains(&"cairn::policy::CAIRN-POL-002".to_string()));
    let mut s = compliant();
    set(
        &mut s,
        "sg",
        "ingress",
        Value::List(vec![Value::Map(props(&[
            ("fromPort", 6379.into()),
            ("toPort", 6379.into()),
            ("cidrBlocks", vec!["0.0.0.0/0"].into()),
        ]))]),
    );
    assert!(codes(&s).contains(&"cairn::policy::CAIRN-POL-006".to_string()));
}

#[test]
fn dev_needs_no_multi_az_but_prod_does() {
    let mut s = compliant();
    s.name = "redis-dev".into();
    set(&mut s, "redis", "multiAzEnabled", false.into());
    assert_eq!(codes(&s), Vec::<String>::new());
}

#[test]
fn a_waiver_turns_the_error_into_a_shown_warning() {
    let mut s = compliant();
    set(&mut s, "redis", "multiAzEnabled", false.into());
    s.waivers.push(Waiver {
        rule: "CAIRN-POL-004".into(),
        resource: Some("redis".into()),
        reason: "single-AZ region".into(),
        span: None,
    });
    let problems = evaluate(&s);
    assert!(!problems.has_errors());
    let w = &problems.problems[0];
    assert!(
        w.warning
            && w.message.starts_with("waived CAIRN-POL-004")
            && w.help.as_deref().unwrap().contains("single-AZ region")
    );
}

#[test]
fn advisory_rules_warn() {
    let mut s = compliant();
    set(&mut s, "key", "enableKeyRotation", false.into());
    set(&mut s, "redis", "snapshotRetentionLimit", 0.into());
    assert_eq!(
        codes(&s),
        vec![
            "cairn::policy::CAIRN-POL-102 (warning)",
            "cairn::policy::CAIRN-POL-101 (warning)"
        ]
    );
}

/// The compliant stack with this IAM policy document.
fn with_policy(doc: &str) -> StackSpec {
    let mut s = compliant();
    set(&mut s, "policy", "policy", doc.into());
    s
}

fn messages(s: &StackSpec) -> Vec<String> {
    evaluate(s)
        .problems
        .iter()
        .map(|p| p.message.clone())
        .collect()
}

const POL_008: &str = "cairn::policy::CAIRN-POL-008";
const POL_010: &str = "cairn::policy::CAIRN-POL-010";

#[test]
fn an_action_wildcard_after_a_prefix_is_refused() {
    for action in [
        r#""secretsmanager:Get*""#,
        r#"["secretsmanager:DescribeSecret","secretsmanager:Get*"]"#,
        r#""secretsmanager:GetSecret?alue""#,
        r#""*""#,
        r#""kms:*""#,
    ] {
        let s = with_policy(&format!(
            r#"{{"Statement":[{{"Effect":"Allow","Action":{action},"Resource":"${{secret.arn}}"}}]}}"#
        ));
        assert_eq!(codes(&s), vec![POL_008], "Action {action}");
        assert!(
            messages(&s)[0].contains("wildcard Action"),
            "{:?}",
            messages(&s)
        );
    }
}

#[test]
fn a_resource_wildcard_after_a_prefix_is_refused() {
    for resource in [
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:qualisys/*",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:*",
        "arn:aws:kms:*:123456789012:key/abc",
        "*",
    ] {
        let s = with_policy(&format!(
            r#"{{"Statement":[{{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":["${{secret.arn}}","{resource}"]}}]}}"#
        ));
        assert_eq!(codes(&s), vec![POL_008], "Resource {resource}");
        assert!(
            messages(&s)[0].contains(resource),
            "the message names {resource}: {:?}",
            messages(&s)
        );
    }
}

#[test]
fn not_action_and_not_resource_are_refused() {
    let not_action = with_policy(
        r#"{"Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"${secret.arn}"}]}"#,
    );
    assert_eq!(codes(&not_action), vec![POL_008]);
    assert!(messages(&not_action)[0].contains("NotAction"));
    let not_resource = with_policy(
        r#"{"Statement":{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","NotResource":"${secret.arn}"}}"#,
    );
    assert_eq!(codes(&not_resource), vec![POL_008]);
    assert!(messages(&not_resource)[0].contains("NotResource"));
}

#[test]
fn a_policy_document_that_cannot_be_read_is_an_error_not_a_pass() {
    for doc in [
        "{not json",
        r#"["Statement"]"#,
        r#"{"Version":"2012-10-17"}"#,
        r#"{"Statement":"Allow everything"}"#,
        r#"{"Statement":[{"Effect":"Allow","Action":{"Get":"*"},"Resource":"x"}]}"#,
        r#"{"Statement":[{"Effect":"Allow","Resource":"x"}]}"#,
    ] {
        let s = with_policy(doc);
        assert_eq!(codes(&s), vec![POL_010], "{doc}");
        assert!(evaluate(&s).has_errors(), "{doc}");
    }
    let mut s = compliant();
    set(&mut s, "policy", "policy", 42.into());
    assert_eq!(codes(&s), vec![POL_010]);
}

#[test]
fn exact_grants_and_wildcard_denies_pass() {
    let s = with_policy(
        r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["secretsmanager:GetSecretValue","secretsmanager:DescribeSecret"],
         "Resource":["${secret.arn}","arn:aws:secretsmanager:us-east-1:123456789012:secret:qualisys/prod/redis/connection-??????"]},
        {"Effect":"Deny","Action":"*","NotResource":"${secret.arn}"}]}"#,
    );
    assert_eq!(codes(&s), Vec::<String>::new());
}
