use super::*;
use cairn_aws::inspect::{EndpointInfo, IngressRule, NodeGroupInfo, NodeGroupMemberInfo};
use std::path::PathBuf;

const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const TOKEN: &str = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v2W3x4Y5z6A7b8C9d0E1f2";
const CFG: &str = "clustercfg.qualisys-redis-prod.abc123.use1.cache.amazonaws.com";

fn exp() -> Expectations {
    Expectations {
        stack: "redis-prod".into(),
        environment: "prod".into(),
        replication_group_id: "qualisys-redis-prod".into(),
        node_type: "cache.r5.large".into(),
        num_node_groups: 2,
        replicas_per_node_group: 1,
        require_failover_multi_az: true,
        kms_key_arn: Some(KEY.into()),
        parameter_group_name: "qualisys-redis7-prod".into(),
        security_group_id: "sg-1".into(),
        allowed_cidrs: vec!["10.0.10.0/24".into(), "10.0.11.0/24".into()],
        allowed_source_security_groups: vec![],
        port: 6379,
        secret_id: "qualisys/prod/redis/connection".into(),
        namespacing_doc: PathBuf::from("docs/key-namespacing.md"),
    }
}

fn member(id: &str, az: &str) -> NodeGroupMemberInfo {
    NodeGroupMemberInfo {
        cache_cluster_id: id.into(),
        current_role: None,
        availability_zone: Some(az.into()),
    }
}

fn rg() -> ReplicationGroupInfo {
    let ng = |id: &str, slots: &str| NodeGroupInfo {
        node_group_id: id.into(),
        status: Some("available".into()),
        slots: Some(slots.into()),
        members: vec![
            member(&format!("r-{id}-001"), "us-east-1a"),
            member(&format!("r-{id}-002"), "us-east-1b"),
        ],
        primary_endpoint: None,
        reader_endpoint: None,
    };
    ReplicationGroupInfo {
        replication_group_id: "qualisys-redis-prod".into(),
        status: Some("available".into()),
        engine: Some("redis".into()),
        cache_node_type: Some("cache.r5.large".into()),
        cluster_enabled: Some(true),
        cluster_mode: Some("enabled".into()),
        automatic_failover: Some("enabled".into()),
        multi_az: Some("enabled".into()),
        transit_encryption_enabled: Some(true),
        transit_encryption_mode: Some("required".into()),
        at_rest_encryption_enabled: Some(true),
        kms_key_id: Some(KEY.into()),
        auth_token_enabled: Some(true),
        configuration_endpoint: Some(EndpointInfo {
            address: CFG.into(),
            port: Some(6379),
        }),
        node_groups: vec![ng("0001", "0-8191"), ng("0002", "8192-16383")],
        member_clusters: vec![
            "r-0001-001".into(),
            "r-0001-002".into(),
            "r-0002-001".into(),
            "r-0002-002".into(),
        ],
        ..Default::default()
    }
}

fn clusters() -> Vec<CacheClusterInfo> {
    rg().member_clusters
        .iter()
        .map(|id| CacheClusterInfo {
            cache_cluster_id: id.clone(),
            engine: Some("redis".into()),
            engine_version: Some("7.1".into()),
            cache_node_type: Some("cache.r5.large".into()),
            parameter_group: Some("qualisys-redis7-prod".into()),
            security_group_ids: vec!["sg-1".into()],
            transit_encryption_enabled: Some(true),
            at_rest_encryption_enabled: Some(true),
            ..Default::default()
        })
        .collect()
}

fn ok<T>(v: T) -> Result<T, InspectError> {
    Ok(v)
}

fn assert_pass(r: &Row) {
    assert_eq!(r.status, Status::Pass, "{}: {}", r.id, r.evidence);
}

fn assert_fail(r: &Row, needle: &str) {
    assert_eq!(r.status, Status::Fail, "{}: {}", r.id, r.evidence);
    assert!(
        r.evidence.contains(needle),
        "{}: `{}` lacks `{needle}`",
        r.id,
        r.evidence
    );
}

#[test]
fn ac1_engine_version() {
    assert_pass(&ac1_engine(&ok(rg()), &ok(clusters())));
    let mut cs = clusters();
    cs[2].engine_version = Some("6.2".into());
    assert_fail(&ac1_engine(&ok(rg()), &ok(cs)), "r-0002-001 runs redis 6.2");
    let mut cs = clusters();
    cs[0].engine = Some("valkey".into());
    cs[0].engine_version = Some("8.0".into());
    assert_fail(&ac1_engine(&ok(rg()), &ok(cs)), "runs valkey 8.0");
    let mut cs = clusters();
    cs.pop();
    assert_fail(
        &ac1_engine(&ok(rg()), &ok(cs)),
        "lists 4 member clusters, DescribeCacheClusters found 3",
    );
    assert_fail(&ac1_engine(&ok(rg()), &ok(vec![])), "no member cluster");
    let denied = Err(InspectError::Api {
        api: "elasticache:DescribeCacheClusters".into(),
        code: "AccessDenied".into(),
        message: "no".into(),
    });
    assert_fail(
        &ac1_engine(&ok(rg()), &denied),
        "could not check: elasticache:DescribeCacheClusters failed: AccessDenied",
    );
}

#[test]
fn ac2_node_type_against_stack_and_story() {
    assert_pass(&ac2_node_type(&exp(), &ok(rg()), &ok(clusters())));
    let mut g = rg();
    g.cache_node_type = Some("cache.t3.small".into());
    assert_fail(
        &ac2_node_type(&exp(), &ok(g), &ok(clusters())),
        "the group runs cache.t3.small, the stack asks cache.r5.large",
    );
    let mut e = exp();
    e.node_type = "cache.t3.micro".into();
    let mut g = rg();
    g.cache_node_type = Some("cache.t3.micro".into());
    let cs: Vec<_> = clusters()
        .into_iter()
        .map(|mut c| {
            c.cache_node_type = Some("cache.t3.micro".into());
            c
        })
        .collect();
    assert_fail(
        &ac2_node_type(&e, &ok(g), &ok(cs)),
        "the story sizes prod at cache.r5.large",
    );
}

#[test]
fn ac3_shards_and_replicas() {
    let r = ac3_cluster_mode(&exp(), &ok(rg()));
    assert_pass(&r);
    assert!(r.evidence.contains("NumNodeGroups=2"));
    let mut g = rg();
    g.cluster_enabled = Some(false);
    g.cluster_mode = Some("disabled".into());
    assert_fail(&ac3_cluster_mode(&exp(), &ok(g)), "cluster mode is off");
    let mut g = rg();
    g.node_groups.pop();
    assert_fail(
        &ac3_cluster_mode(&exp(), &ok(g)),
        "1 node groups, the stack asks 2",
    );
    let mut g = rg();
    g.node_groups[1].members.pop();
    assert_fail(
        &ac3_cluster_mode(&exp(), &ok(g)),
        "node group 0002 has 0 replicas, the stack asks 1",
    );
}

#[test]
fn ac4_failover_and_multi_az() {
    assert_pass(&ac4_failover(&exp(), &ok(rg())));
    let mut g = rg();
    g.automatic_failover = Some("disabled".into());
    assert_fail(&ac4_failover(&exp(), &ok(g)), "AutomaticFailover=disabled");
    let mut g = rg();
    g.multi_az = Some("disabled".into());
    assert_fail(
        &ac4_failover(&exp(), &ok(g.clone())),
        "MultiAZ=disabled, required for prod",
    );
    // dev: failover on, Multi-AZ not required.
    let mut dev = exp();
    dev.environment = "dev".into();
    dev.require_failover_multi_az = false;
    let r = ac4_failover(&dev, &ok(g));
    assert_pass(&r);
    assert!(r.evidence.contains("not required for dev"));
    let mut g = rg();
    g.node_groups[0].members[1].availability_zone = Some("us-east-1a".into());
    assert_fail(
        &ac4_failover(&exp(), &ok(g)),
        "node group 0001 has every member in us-east-1a",
    );
}

#[test]
fn ac5_transit_required() {
    assert_pass(&ac5_transit(&ok(rg()), &ok(clusters())));
    let mut g = rg();
    g.transit_encryption_enabled = Some(false);
    assert_fail(
        &ac5_transit(&ok(g), &ok(clusters())),
        "TransitEncryptionEnabled=Some(false)",
    );
    let mut g = rg();
    g.transit_encryption_mode = Some("preferred".into());
    assert_fail(
        &ac5_transit(&ok(g), &ok(clusters())),
        "plaintext clients are still accepted",
    );
}

#[test]
fn ac6_key() {
    let on = ok(true);
    let r = ac6_at_rest(&exp(), &ok(rg()), Some(&on));
    assert_pass(&r);
    assert!(
        r.evidence.contains("automatic rotation on"),
        "{}",
        r.evidence
    );
    let off = ok(false);
    assert_fail(
        &ac6_at_rest(&exp(), &ok(rg()), Some(&off)),
        "automatic key rotation is off",
    );
    let denied = Err(InspectError::Api {
        api: "kms:GetKeyRotationStatus".into(),
        code: "AccessDeniedException".into(),
        message: "no".into(),
    });
    let r = ac6_at_rest(&exp(), &ok(rg()), Some(&denied));
    assert_pass(&r);
    assert!(r.evidence.contains("rotation not checked"));
    assert_pass(&ac6_at_rest(&exp(), &ok(rg()), None));
    let mut g = rg();
    g.kms_key_id = Some("1234abcd-12ab-34cd-56ef-1234567890ab".into());
    assert_pass(&ac6_at_rest(&exp(), &ok(g), None));
    let mut g = rg();
    g.kms_key_id = Some("arn:aws:kms:us-east-1:123456789012:key/other".into());
    assert_fail(&ac6_at_rest(&exp(), &ok(g), None), "not the stack's key");
    let mut g = rg();
    g.kms_key_id = None;
    assert_fail(
        &ac6_at_rest(&exp(), &ok(g), None),
        "the AWS-managed key is used",
    );
    let mut g = rg();
    g.at_rest_encryption_enabled = Some(false);
    assert_fail(
        &ac6_at_rest(&exp(), &ok(g), None),
        "AtRestEncryptionEnabled=Some(false)",
    );
}

fn secret(json: &str) -> Result<SecretValue, InspectError> {
    Ok(SecretValue {
        name: Some("qualisys/prod/redis/connection".into()),
        secret_string: Some(json.into()),
        ..Default::default()
    })
}

fn good_json() -> String {
    cairn_aws::connection_secret_json(CFG, CFG, 6379, TOKEN)
}

fn live() -> Option<(String, i32)> {
    Some((CFG.into(), 6379))
}

#[test]
fn ac7_secret_passes_and_never_shows_the_token() {
    let r = ac7_secret(&exp(), &secret(&good_json()), live(), false);
    assert_pass(&r);
    assert!(!r.evidence.contains(TOKEN));
    assert!(r.evidence.contains("64 alphanumeric"));
    let s = parse_secret(&good_json()).unwrap();
    assert!(!format!("{s:?}").contains(TOKEN));
}

#[test]
fn ac7_secret_problems_are_named() {
    let j = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value = serde_json::from_str(&good_json()).unwrap();
        f(&mut v);
        v.to_string()
    };
    let cases: Vec<(String, &str)> = vec![
        (
            j(&|v| {
                v.as_object_mut().unwrap().remove("reader_endpoint");
            }),
            "`reader_endpoint` is missing",
        ),
        (
            j(&|v| v["port"] = "6379".into()),
            "`port` is a string (want a number)",
        ),
        (
            j(&|v| v["ssl_enabled"] = "true".into()),
            "`ssl_enabled` is a string",
        ),
        (
            j(&|v| v["ssl_enabled"] = false.into()),
            "ssl_enabled is false",
        ),
        (
            j(&|v| v["connection_uri"] = format!("redis://:{TOKEN}@{CFG}:6379").into()),
            "want `rediss://` (TLS)",
        ),
        (
            j(&|v| v["connection_uri"] = format!("rediss://:wrongwrongwrong@{CFG}:6379").into()),
            "the password in connection_uri is not auth_token",
        ),
        (
            j(&|v| v["connection_uri"] = format!("rediss://:{TOKEN}@elsewhere:6379").into()),
            "connection_uri host `elsewhere` is not primary_endpoint",
        ),
        (
            j(&|v| v["connection_uri"] = format!("rediss://:{TOKEN}@{CFG}:6380").into()),
            "connection_uri port 6380 is not port 6379",
        ),
        (
            j(&|v| v["connection_uri"] = format!("rediss://{CFG}:6379").into()),
            "no `:TOKEN@` credentials",
        ),
        (
            j(&|v| v["primary_endpoint"] = "old.example".into()),
            "primary_endpoint `old.example` is not the live endpoint",
        ),
        ("not json".to_string(), "not JSON"),
        ("[1,2]".to_string(), "not an object"),
    ];
    for (json, needle) in cases {
        let r = ac7_secret(&exp(), &secret(&json), live(), false);
        assert_fail(&r, needle);
        assert!(!r.evidence.contains(TOKEN), "token leaked: {}", r.evidence);
    }
}

#[test]
fn ac7_percent_encoded_tokens_and_local_ports() {
    let special = "tok#en$with%special&chars!";
    let json = cairn_aws::connection_secret_json(CFG, CFG, 6379, special);
    assert_pass(&ac7_secret(&exp(), &secret(&json), live(), false));
    // The local twin serves on another port: a note, not a failure.
    let r = ac7_secret(
        &exp(),
        &secret(&good_json()),
        Some((CFG.into(), 40123)),
        true,
    );
    assert_pass(&r);
    assert!(r.evidence.contains("the local twin serves on port 40123"));
    // On AWS the same difference is a failure.
    assert_fail(
        &ac7_secret(
            &exp(),
            &secret(&good_json()),
            Some((CFG.into(), 40123)),
            false,
        ),
        "not the live endpoint's port 40123",
    );
    let missing = Ok(SecretValue {
        name: Some("n".into()),
        ..Default::default()
    });
    assert_fail(
        &ac7_secret(&exp(), &missing, live(), false),
        "no SecretString",
    );
}

fn sg(rules: Vec<IngressRule>) -> Vec<(String, Result<SecurityGroupInfo, InspectError>)> {
    vec![(
        "sg-1".into(),
        Ok(SecurityGroupInfo {
            group_id: "sg-1".into(),
            ingress: rules,
            ..Default::default()
        }),
    )]
}

fn rule(proto: &str, from: i32, to: i32, cidrs: &[&str]) -> IngressRule {
    IngressRule {
        protocol: proto.into(),
        from_port: Some(from),
        to_port: Some(to),
        ipv4_cidrs: cidrs.iter().map(|c| c.to_string()).collect(),
        ..Default::default()
    }
}

#[test]
fn ac8_only_the_node_subnets_on_6379() {
    let good = rule("tcp", 6379, 6379, &["10.0.10.0/24", "10.0.11.0/24"]);
    let r = ac8_security_groups(&exp(), &sg(vec![good.clone()]), &ok(clusters()));
    assert_pass(&r);
    assert!(r
        .evidence
        .contains("only tcp 6379 from 10.0.10.0/24, 10.0.11.0/24"));

    let open = rule("tcp", 6379, 6379, &["0.0.0.0/0"]);
    assert_fail(
        &ac8_security_groups(&exp(), &sg(vec![good.clone(), open]), &ok(clusters())),
        "sg-1 admits tcp 6379 from 0.0.0.0/0 (the whole internet)",
    );
    let v6 = IngressRule {
        ipv6_cidrs: vec!["::/0".into()],
        ..rule("tcp", 6379, 6379, &[])
    };
    assert_fail(
        &ac8_security_groups(&exp(), &sg(vec![good.clone(), v6]), &ok(clusters())),
        "from ::/0",
    );
    let all = rule("-1", -1, -1, &["10.0.10.0/24"]);
    assert_fail(
        &ac8_security_groups(&exp(), &sg(vec![good.clone(), all]), &ok(clusters())),
        "admits all traffic from 10.0.10.0/24: only tcp 6379 is allowed",
    );
    let ssh = rule("tcp", 22, 22, &["10.0.10.0/24"]);
    assert_fail(
        &ac8_security_groups(&exp(), &sg(vec![good.clone(), ssh]), &ok(clusters())),
        "tcp 22 from 10.0.10.0/24",
    );
    let other = rule("tcp", 6379, 6379, &["192.168.0.0/16"]);
    assert_fail(
        &ac8_security_groups(&exp(), &sg(vec![good.clone(), other]), &ok(clusters())),
        "from 192.168.0.0/16, not an allowed CIDR",
    );
    let src = IngressRule {
        source_security_groups: vec!["sg-evil".into()],
        ..rule("tcp", 6379, 6379, &[])
    };
    assert_fail(
        &ac8_security_groups(&exp(), &sg(vec![good.clone(), src]), &ok(clusters())),
        "from security group sg-evil",
    );
    let half = rule("tcp", 6379, 6379, &["10.0.10.0/24"]);
    assert_fail(
        &ac8_security_groups(&exp(), &sg(vec![half]), &ok(clusters())),
        "no rule admits 10.0.11.0/24",
    );
    let mut cs = clusters();
    cs[1].security_group_ids = vec!["sg-2".into()];
    assert_fail(
        &ac8_security_groups(&exp(), &sg(vec![good]), &ok(cs)),
        "r-0001-002 uses sg-2 rather than the stack's sg-1",
    );
}

fn params(policy: &str) -> Vec<CacheParameterInfo> {
    [
        ("maxmemory-policy", policy),
        ("tcp-keepalive", "300"),
        ("timeout", "0"),
        ("notify-keyspace-events", "Exe"),
        ("cluster-enabled", "yes"),
        ("reserved-memory-percent", "25"),
    ]
    .iter()
    .map(|(n, v)| CacheParameterInfo {
        name: n.to_string(),
        value: Some(v.to_string()),
        source: Some("user".into()),
    })
    .collect()
}

#[test]
fn ac9_eviction_policy() {
    let r = ac9_params(&exp(), &ok(params("allkeys-lru")), &ok(clusters()));
    assert_pass(&r);
    assert!(r.evidence.contains("tcp-keepalive=300"));
    assert_fail(
        &ac9_params(&exp(), &ok(params("volatile-lru")), &ok(clusters())),
        "maxmemory-policy=volatile-lru",
    );
    let mut cs = clusters();
    cs[0].parameter_group = Some("default.redis7.cluster.on".into());
    assert_fail(
        &ac9_params(&exp(), &ok(params("allkeys-lru")), &ok(cs)),
        "uses parameter group default.redis7.cluster.on",
    );
    let nf = Err(InspectError::NotFound {
        api: "elasticache:DescribeCacheParameters".into(),
        what: "cache parameter group".into(),
        id: "x".into(),
    });
    assert_fail(&ac9_params(&exp(), &nf, &ok(clusters())), "could not check");
}

#[test]
fn the_control_rows_come_in_order() {
    let f = ControlFacts {
        rg: ok(rg()),
        clusters: ok(clusters()),
        security_groups: sg(vec![rule(
            "tcp",
            6379,
            6379,
            &["10.0.10.0/24", "10.0.11.0/24"],
        )]),
        params: ok(params("allkeys-lru")),
        secret: secret(&good_json()),
        key_rotation: Some(ok(true)),
    };
    let rows = control_rows(&exp(), &f, false);
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        ["AC1", "AC2", "AC3", "AC4", "AC5", "AC6", "AC7", "AC8", "AC9"]
    );
    for r in &rows {
        assert_pass(r);
    }
    assert_eq!(f.live_endpoint(), Some((CFG.to_string(), 6379)));
    assert_eq!(f.param("maxmemory-policy").as_deref(), Some("allkeys-lru"));
}
