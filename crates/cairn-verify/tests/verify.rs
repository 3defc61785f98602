//! `cairn verify` against a real local emulator (moto + redis-server twins
//! with TLS, AUTH and cluster mode): the Redis caching layer is deployed
//! through cairn-aws's own providers, its state recorded as the engine would,
//! then verified; then broken out of band, one thing at a time, to check
//! that the right row — and only that row — fails; then drilled.

use cairn_aws::{register_with, AwsClients, PollConfig};
use cairn_core::provider::{CallContext, Registry};
use cairn_core::value::{Map, Value};
use cairn_core::{ResourceSpec, ResourceState, StackSpec, StackState};
use cairn_emulator::{seed_network_fixture, Emulator, TwinInfo};
use cairn_verify::{verify, Expectations, Report, Scope, Status, Verdict, VerifyOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const RG_ID: &str = "qualisys-redis-prod";
const STACK: &str = "redis-prod";
/// The stack name in provider call contexts (URN tags only).
const STACK_ANY: &str = "redis-verify-test";

fn map(j: serde_json::Value) -> Map {
    match Value::from_json(&j) {
        Value::Map(m) => m,
        _ => panic!("not an object"),
    }
}

fn out_str(m: &Map, k: &str) -> String {
    m.get(k)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no `{k}` in {m:?}"))
        .to_string()
}

fn token() -> String {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut b = [0u8; 64];
    getrandom::getrandom(&mut b).unwrap();
    b.iter()
        .map(|x| ALNUM[usize::from(*x) % ALNUM.len()] as char)
        .collect()
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

struct Deployment {
    emu: Emulator,
    sdk: cairn_aws::SdkConfig,
    exp: Expectations,
    token: String,
    twin: TwinInfo,
    security_group_id: String,
}

/// One environment's sizing (the story's table).
struct Sizing {
    env: &'static str,
    node_type: &'static str,
    shards: i64,
    replicas: i64,
    multi_az: bool,
}

const PROD: Sizing = Sizing {
    env: "prod",
    node_type: "cache.r5.large",
    shards: 2,
    replicas: 1,
    multi_az: true,
};
const DEV: Sizing = Sizing {
    env: "dev",
    node_type: "cache.t3.micro",
    shards: 1,
    replicas: 0,
    multi_az: false,
};

/// Deploys the caching layer at `z`'s size through the providers and records
/// its state the way the engine does.
async fn deploy(z: &Sizing) -> Deployment {
    let env = z.env;
    let rg_id = format!("qualisys-redis-{env}");
    let pg_name = format!("qualisys-redis7-{env}");
    let stack = format!("redis-{env}");
    let emu = Emulator::start_ephemeral(200, true)
        .await
        .expect("start the emulator");
    let endpoint = emu.endpoint();
    let sdk = cairn_aws::load_sdk_config(Some(&endpoint)).await;
    let net = seed_network_fixture(&endpoint, env)
        .await
        .expect("seed the network fixture");
    let clients = Arc::new(
        AwsClients::from_sdk_config(&sdk)
            .with_poll(PollConfig::with_max(Duration::from_millis(200))),
    );
    let mut reg = Registry::new();
    register_with(&mut reg, clients);

    let mut spec = StackSpec::new(&stack);
    let mut state = StackState::default();
    let mut record =
        |name: &str, token_type: &str, id: String, inputs: Map, outputs: Map, imported: bool| {
            spec.add(ResourceSpec::new(name, token_type, Map::new()));
            state.resources.insert(
                name.to_string(),
                ResourceState {
                    name: name.into(),
                    type_token: token_type.into(),
                    id,
                    inputs,
                    outputs,
                    dependencies: vec![],
                    protect: false,
                    retain_on_delete: false,
                    imported,
                    ..Default::default()
                },
            );
        };
    let create = |token_type: &'static str, name: &'static str, inputs: Map| {
        let p = reg.get(token_type).expect("registered").clone();
        async move {
            let ctx = CallContext::new(STACK_ANY, name);
            let created = p
                .create(&ctx, &inputs)
                .await
                .unwrap_or_else(|e| panic!("create {name}: {e}"));
            (created, inputs)
        }
    };

    let (key, key_in) = create(
        "aws:kms:Key",
        "redisKey",
        map(serde_json::json!({"description": format!("Redis caching layer ({env})"), "enableKeyRotation": true, "deletionWindowInDays": 30})),
    )
    .await;
    let key_arn = out_str(&key.outputs, "arn");
    record(
        "redisKey",
        "aws:kms:Key",
        key.id.clone(),
        key_in,
        key.outputs.clone(),
        false,
    );

    let sg_in = map(serde_json::json!({
        "name": net.security_group_name,
        "description": "Redis access from the Kubernetes node subnets only",
        "vpcId": net.vpc_id,
        "ingress": [{"protocol": "tcp", "fromPort": 6379, "toPort": 6379,
                     "cidrBlocks": ["10.0.10.0/24", "10.0.11.0/24"], "description": "Redis from Kubernetes nodes"}]
    }));
    let sg_out =
        map(serde_json::json!({"id": net.security_group_id, "name": net.security_group_name}));
    record(
        "redisSecurityGroup",
        "aws:ec2:SecurityGroup",
        net.security_group_id.clone(),
        sg_in,
        sg_out,
        true,
    );

    let (pg, pg_in) = create(
        "aws:elasticache:ParameterGroup",
        "redisParameters",
        map(serde_json::json!({
            "name": pg_name,
            "family": "redis7",
            "description": "Redis 7 cluster-mode parameters for the caching layer",
            "parameters": [
                {"name": "maxmemory-policy", "value": "allkeys-lru"},
                {"name": "tcp-keepalive", "value": "300"},
                {"name": "timeout", "value": "0"},
                {"name": "notify-keyspace-events", "value": "Exe"},
                {"name": "cluster-enabled", "value": "yes"},
                {"name": "reserved-memory-percent", "value": "25"}
            ]
        })),
    )
    .await;
    record(
        "redisParameters",
        "aws:elasticache:ParameterGroup",
        pg.id.clone(),
        pg_in,
        pg.outputs.clone(),
        false,
    );

    let token = token();
    let mut rg_in = map(serde_json::json!({
        "replicationGroupId": rg_id,
        "description": format!("Redis caching layer ({env})"),
        "engine": "redis",
        "engineVersion": "7.1",
        "nodeType": z.node_type,
        "port": 6379,
        "numNodeGroups": z.shards,
        "replicasPerNodeGroup": z.replicas,
        "automaticFailoverEnabled": true,
        "multiAzEnabled": z.multi_az,
        "transitEncryptionEnabled": true,
        "atRestEncryptionEnabled": true,
        "kmsKeyId": key_arn,
        "parameterGroupName": pg_name,
        "subnetGroupName": net.subnet_group_name,
        "securityGroupIds": [net.security_group_id],
        "tags": {"environment": env, "story": "0.5"}
    }));
    rg_in.insert("authToken".into(), Value::secret(token.clone()));
    let (rg, rg_in) = create("aws:elasticache:ReplicationGroup", "redis", rg_in).await;
    let cfg = out_str(&rg.outputs, "configurationEndpointAddress");
    record(
        "redis",
        "aws:elasticache:ReplicationGroup",
        rg.id.clone(),
        rg_in,
        rg.outputs.clone(),
        false,
    );

    let (secret, secret_in) = create(
        "aws:secretsmanager:Secret",
        "redisConnectionSecret",
        map(serde_json::json!({"name": format!("qualisys/{env}/redis/connection"), "kmsKeyId": key_arn, "recoveryWindowInDays": 7})),
    )
    .await;
    let secret_arn = out_str(&secret.outputs, "arn");
    record(
        "redisConnectionSecret",
        "aws:secretsmanager:Secret",
        secret.id.clone(),
        secret_in,
        secret.outputs.clone(),
        false,
    );
    let mut sv_in = map(serde_json::json!({"secretId": secret_arn}));
    sv_in.insert(
        "secretString".into(),
        Value::secret(cairn_aws::connection_secret_json(&cfg, &cfg, 6379, &token)),
    );
    let (sv, sv_in) = create("aws:secretsmanager:SecretVersion", "redisConnection", sv_in).await;
    record(
        "redisConnection",
        "aws:secretsmanager:SecretVersion",
        sv.id.clone(),
        sv_in,
        sv.outputs.clone(),
        false,
    );

    let exp =
        Expectations::from_state(&spec, &state, &repo_root()).expect("expectations from state");
    let twin = emu
        .twin(&rg_id)
        .await
        .expect("twin info")
        .expect("a twin backs the group");
    Deployment {
        emu,
        sdk,
        exp,
        token,
        twin,
        security_group_id: net.security_group_id,
    }
}

fn opts(d: &Deployment, drill: bool) -> VerifyOptions {
    VerifyOptions {
        failover_drill: drill,
        ca_file: d.twin.ca_path.clone(),
        data_plane_timeout: Duration::from_secs(5),
        control_plane_only: false,
    }
}

/// Checks no secret leaks, prints the table, and returns the failing ids.
fn failing(r: &Report, token: &str) -> Vec<String> {
    let table = r.to_table();
    let json = r.to_json().to_string();
    assert!(
        !table.contains(token) && !json.contains(token),
        "the token leaked:\n{table}"
    );
    eprintln!("{table}");
    r.failed_ids().into_iter().map(str::to_string).collect()
}

/// An authenticated TLS connection to one twin node.
async fn node(
    d: &Deployment,
    port: u16,
    password: Option<&str>,
) -> redis::aio::MultiplexedConnection {
    let pem = std::fs::read(d.twin.ca_path.as_ref().expect("TLS twin")).unwrap();
    let url = match password {
        Some(p) => format!("rediss://:{p}@127.0.0.1:{port}"),
        None => format!("rediss://127.0.0.1:{port}"),
    };
    let client = redis::Client::build_with_tls(
        url,
        redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(pem),
        },
    )
    .unwrap();
    client
        .get_multiplexed_async_connection()
        .await
        .expect("connect to a twin node")
}

async fn config_set(d: &Deployment, port: u16, password: Option<&str>, name: &str, value: &str) {
    let mut c = node(d, port, password).await;
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query_async(&mut c)
        .await
        .expect("CONFIG SET");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_proves_the_story_and_names_what_breaks() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let started = Instant::now();
    let d = deploy(&PROD).await;
    eprintln!("deployed in {:.1} s", started.elapsed().as_secs_f64());

    // The expectations come from state, not from this test's literals.
    assert_eq!(d.exp.replication_group_id, RG_ID);
    assert_eq!(
        (d.exp.num_node_groups, d.exp.replicas_per_node_group),
        (2, 1)
    );
    assert!(d
        .exp
        .kms_key_arn
        .as_deref()
        .unwrap()
        .starts_with("arn:aws:kms:"));
    assert_eq!(d.exp.allowed_cidrs, vec!["10.0.10.0/24", "10.0.11.0/24"]);
    assert_eq!(d.twin.nodes.len(), 4);

    // 0. Everything holds.
    let r = verify(&d.sdk, &d.exp, &opts(&d, false)).await;
    assert_eq!(failing(&r, &d.token), Vec::<String>::new());
    let ids: Vec<&str> = r.rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "AC1", "AC2", "AC3", "AC4", "AC5", "AC6", "AC7", "AC8", "AC9", "AC10", "DP1", "DP2",
            "DP3", "DP4", "DP5"
        ]
    );
    assert!(
        r.rows.iter().all(|r| r.status == Status::Pass),
        "no skips against a reachable twin"
    );
    let ev = |id: &str| r.row(id).unwrap().evidence.clone();
    assert!(ev("AC1").contains("redis 7.1.0 on 4/4"), "{}", ev("AC1"));
    assert!(
        ev("AC7").contains("the local twin serves on port"),
        "{}",
        ev("AC7")
    );
    assert!(
        ev("AC7").contains("rediss://:[secret]@127.0.0.1:6379"),
        "{}",
        ev("AC7")
    );
    assert!(
        ev("DP1").contains("TLSv1_3") && ev("DP1").contains("4 address(es)"),
        "{}",
        ev("DP1")
    );
    assert!(
        ev("DP2").contains("NOAUTH") && ev("DP2").contains("WRONGPASS"),
        "{}",
        ev("DP2")
    );
    assert!(ev("DP3").contains("rate_limit (EX 60)"), "{}", ev("DP3"));
    assert!(
        ev("DP4").contains("CLUSTER SHARDS: 2 shards"),
        "{}",
        ev("DP4")
    );
    assert!(
        ev("DP5").contains("from CONFIG GET") && ev("DP5").contains("4 node(s)"),
        "{}",
        ev("DP5")
    );

    // 1. The security group opened to the internet: AC8, naming the rule.
    let ec2 = aws_sdk_ec2::Client::new(&d.sdk);
    let open = aws_sdk_ec2::types::IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(6379)
        .to_port(6379)
        .ip_ranges(
            aws_sdk_ec2::types::IpRange::builder()
                .cidr_ip("0.0.0.0/0")
                .build(),
        )
        .build();
    ec2.authorize_security_group_ingress()
        .group_id(&d.security_group_id)
        .ip_permissions(open.clone())
        .send()
        .await
        .expect("authorize 0.0.0.0/0");
    let r = verify(&d.sdk, &d.exp, &opts(&d, false)).await;
    assert_eq!(failing(&r, &d.token), ["AC8"]);
    assert!(
        r.row("AC8")
            .unwrap()
            .evidence
            .contains("tcp 6379 from 0.0.0.0/0 (the whole internet)"),
        "{}",
        r.row("AC8").unwrap().evidence
    );
    ec2.revoke_security_group_ingress()
        .group_id(&d.security_group_id)
        .ip_permissions(open)
        .send()
        .await
        .expect("revoke 0.0.0.0/0");

    // 2. The eviction policy changed on the nodes behind the parameter group's back: DP5, from CONFIG.
    for n in &d.twin.nodes {
        config_set(
            &d,
            n.port,
            Some(&d.token),
            "maxmemory-policy",
            "volatile-lru",
        )
        .await;
    }
    let r = verify(&d.sdk, &d.exp, &opts(&d, false)).await;
    assert_eq!(failing(&r, &d.token), ["DP5"]);
    let dp5 = &r.row("DP5").unwrap().evidence;
    assert!(
        dp5.contains("maxmemory-policy=volatile-lru (CONFIG GET)"),
        "{dp5}"
    );
    for n in &d.twin.nodes {
        config_set(
            &d,
            n.port,
            Some(&d.token),
            "maxmemory-policy",
            "allkeys-lru",
        )
        .await;
    }

    // 3. AUTH turned off on one node: DP2, naming that node.
    let victim = d
        .twin
        .nodes
        .iter()
        .find(|n| n.role == "replica")
        .expect("a replica")
        .port;
    // The twin sets the token with ACL (`user default on >TOKEN`), so
    // `requirepass` starts unset and setting it to "" alone is a no-op:
    // set it first, then clear it, which leaves the default user `nopass`.
    config_set(&d, victim, Some(&d.token), "requirepass", &d.token).await;
    config_set(&d, victim, Some(&d.token), "requirepass", "").await;
    let r = verify(&d.sdk, &d.exp, &opts(&d, false)).await;
    assert_eq!(failing(&r, &d.token), ["DP2"]);
    let dp2 = &r.row("DP2").unwrap().evidence;
    assert!(
        dp2.contains(&format!("127.0.0.1:{victim} answered PING without AUTH")),
        "{dp2}"
    );
    config_set(&d, victim, None, "requirepass", &d.token).await;

    // 4. The failover drill on the twin: writes recover, acknowledged writes are counted.
    let r = verify(&d.sdk, &d.exp, &opts(&d, true)).await;
    assert_eq!(failing(&r, &d.token), Vec::<String>::new());
    let drill = r.drill.clone().expect("drill figures");
    let dr1 = &r.row("DR1").expect("a drill row").evidence;
    assert!(
        drill.recovery_secs > 0.5 && drill.recovery_secs < 30.0,
        "{drill:?}"
    );
    assert!(drill.acknowledged_writes >= 70, "{drill:?}");
    assert!(drill.lost_writes <= drill.acknowledged_writes);
    assert_ne!(drill.old_primary, drill.new_primary);
    // The other shard was watched (2 shards); how long it refused writes is measured.
    assert!(
        drill
            .other_shard_outage_secs
            .is_some_and(|o| (0.0..30.0).contains(&o)),
        "{drill:?}"
    );
    assert!(dr1.contains("rejoined as an in-sync replica"), "{dr1}");
    assert!(dr1.contains("drill keys removed"), "{dr1}");
    let j = r.to_json();
    assert_eq!(j["drill"]["lost_writes"], drill.lost_writes);

    // 5. After the drill the cluster is whole again: everything holds. No
    //    CA file this time: the twin's CA is found through the emulator.
    let no_ca = VerifyOptions {
        ca_file: None,
        ..opts(&d, false)
    };
    let r = verify(&d.sdk, &d.exp, &no_ca).await;
    assert_eq!(failing(&r, &d.token), Vec::<String>::new());
    let dp1 = &r.row("DP1").unwrap().evidence;
    assert!(
        dp1.contains("found through the emulator's GET /_cairn/twin/qualisys-redis-prod"),
        "{dp1}"
    );

    d.emu.stop().await.expect("stop the emulator");
    eprintln!("whole test in {:.1} s", started.elapsed().as_secs_f64());
}

#[tokio::test]
async fn an_unreachable_aws_endpoint_skips_the_data_plane() {
    // A control plane that does not answer: control rows fail with the error,
    // and the data plane has no endpoint to try (never a panic).
    let sdk = cairn_aws::load_sdk_config(Some("http://127.0.0.1:9"))
        .await
        .to_builder()
        .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
        .build();
    let exp = Expectations {
        stack: STACK.into(),
        environment: "prod".into(),
        replication_group_id: RG_ID.into(),
        node_type: "cache.r5.large".into(),
        num_node_groups: 2,
        replicas_per_node_group: 1,
        require_failover_multi_az: true,
        kms_key_arn: None,
        parameter_group_name: "qualisys-redis7-prod".into(),
        security_group_id: "sg-1".into(),
        allowed_cidrs: vec!["10.0.10.0/24".into()],
        allowed_source_security_groups: vec![],
        port: 6379,
        secret_id: "qualisys/prod/redis/connection".into(),
        namespacing_doc: repo_root().join("docs/key-namespacing.md"),
    };
    let o = VerifyOptions {
        data_plane_timeout: Duration::from_millis(500),
        ..VerifyOptions::default()
    };
    let r = tokio::time::timeout(Duration::from_secs(120), verify(&sdk, &exp, &o))
        .await
        .expect("bounded");
    assert!(!r.ok());
    assert!(
        r.row("AC1")
            .unwrap()
            .evidence
            .starts_with("could not check:"),
        "{}",
        r.row("AC1").unwrap().evidence
    );
    assert_eq!(r.row("AC10").unwrap().status, Status::Pass);
    assert_eq!(r.row("DP1").unwrap().status, Status::Fail);
    assert!(r
        .row("DP1")
        .unwrap()
        .evidence
        .contains("live endpoint is unknown"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_sizing_passes_and_its_drill_skips() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let d = deploy(&DEV).await;
    assert_eq!(d.exp.environment, "dev");
    assert!(!d.exp.require_failover_multi_az);
    assert_eq!(d.twin.nodes.len(), 1);
    let r = verify(&d.sdk, &d.exp, &opts(&d, true)).await;
    assert_eq!(failing(&r, &d.token), Vec::<String>::new());
    assert!(r
        .row("AC4")
        .unwrap()
        .evidence
        .contains("MultiAZ=disabled (not required for dev)"));
    assert!(r.row("AC2").unwrap().evidence.contains("cache.t3.micro"));
    assert!(r
        .row("DP4")
        .unwrap()
        .evidence
        .contains("1 shards, all 16384 slots"));
    let dr1 = r.row("DR1").unwrap();
    assert_eq!(dr1.status, Status::Skip, "{}", dr1.evidence);
    assert!(dr1.evidence.contains("no replicas"));
    assert!(r.drill.is_none());
    assert!(r.ok());
    d.emu.stop().await.expect("stop the emulator");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_plane_only_leaves_the_data_plane_alone_and_says_so() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let d = deploy(&DEV).await;
    // A CA file that does not exist fails every data-plane row of a full run.
    let bad_ca = VerifyOptions {
        ca_file: Some(PathBuf::from("/nonexistent/cairn-ca.crt")),
        ..opts(&d, false)
    };
    let full = verify(&d.sdk, &d.exp, &bad_ca).await;
    assert_eq!(full.verdict(), Verdict::Failed, "{}", full.to_table());
    assert_eq!(full.row("DP1").unwrap().status, Status::Fail);

    let narrow = verify(
        &d.sdk,
        &d.exp,
        &VerifyOptions {
            control_plane_only: true,
            ..bad_ca
        },
    )
    .await;
    assert_eq!(failing(&narrow, &d.token), Vec::<String>::new());
    assert_eq!(narrow.scope, Scope::ControlPlaneOnly);
    assert_eq!(narrow.verdict(), Verdict::Ok);
    for id in ["DP1", "DP2", "DP3", "DP4", "DP5"] {
        let r = narrow.row(id).unwrap();
        assert_eq!((r.status, r.required), (Status::Skip, false), "{id}");
    }
    for id in ["AC1", "AC2", "AC8", "AC10"] {
        assert_eq!(narrow.row(id).unwrap().status, Status::Pass, "{id}");
    }
    let summary = narrow.to_table().lines().last().unwrap().to_string();
    assert!(
        summary.starts_with("verify (control plane only: the data plane was not verified): ")
            && summary.ends_with(" 5 SKIP: ok"),
        "{summary}"
    );
    d.emu.stop().await.expect("stop the emulator");
}
