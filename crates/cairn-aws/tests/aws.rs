//! Integration tests of every AWS resource type against the project's own
//! emulator (moto with cairn's extensions), started per test on a free
//! loopback port. A test fails when the emulator cannot start; none skips.

use cairn_aws::{register_with, AwsClients, PollConfig};
use cairn_core::provider::{CallContext, ProviderError, Registry, ResourceProvider};
use cairn_core::value::{Map, Value};
use cairn_emulator::Emulator;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[path = "aws/batch_reads.rs"]
mod batch_reads;
#[path = "aws/data_sources.rs"]
mod data_sources;
#[path = "aws/eks.rs"]
mod eks;
#[path = "aws/engine_version.rs"]
mod engine_version;
#[path = "aws/fidelity.rs"]
mod fidelity;
#[path = "aws/import_mappings.rs"]
mod import_mappings;
#[path = "aws/members.rs"]
mod members;
#[path = "aws/network_a.rs"]
mod network_a;
#[path = "aws/network_b.rs"]
mod network_b;
#[path = "aws/platform.rs"]
mod platform;
#[path = "aws/platform_stacks.rs"]
mod platform_stacks;
#[path = "aws/rds.rs"]
mod rds;
#[path = "aws/shared_waiters.rs"]
mod shared_waiters;
#[path = "aws/throttle.rs"]
mod throttle;

struct Env {
    reg: Registry,
    clients: Arc<AwsClients>,
    endpoint: String,
    /// Unique per test run and test, for physical names.
    tag: String,
    /// Stops the emulator when the test ends.
    _emulator: Emulator,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

async fn setup() -> Env {
    let emulator = Emulator::start_ephemeral(0, false)
        .await
        .unwrap_or_else(|e| panic!("the emulator did not start: {e:?}"));
    let endpoint = emulator.endpoint();
    let clients = Arc::new(
        AwsClients::lazy(Some(&endpoint))
            .with_poll(PollConfig::with_max(Duration::from_millis(100))),
    );
    let mut reg = Registry::new();
    register_with(&mut reg, clients.clone());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let tag = format!(
        "t{}{}{}",
        std::process::id() % 10_000,
        nanos % 10_000,
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    Env {
        reg,
        clients,
        endpoint,
        tag,
        _emulator: emulator,
    }
}

/// Without the emulator these tests fail with the reason; they never skip.
/// Runs this binary again, one test, with a home the emulator cannot use.
#[test]
fn without_the_emulator_a_test_fails_naming_why() {
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "kms_key_lifecycle_and_recover", "--nocapture"])
        .env("CAIRN_EMULATOR_HOME", "/proc/cairn-no-emulator")
        .output()
        .expect("run the test binary");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "passed without an emulator:\n{text}");
    assert!(
        text.contains("the emulator did not start") && text.contains("1 failed"),
        "{text}"
    );
}

impl Env {
    fn p(&self, token: &str) -> &Arc<dyn ResourceProvider> {
        self.reg.get(token).expect("registered")
    }
    fn ctx(&self, name: &str) -> CallContext {
        CallContext::new(&format!("it-{}", self.tag), name)
    }
    async fn sdk_config(&self) -> aws_config::SdkConfig {
        cairn_aws::load_sdk_config(Some(&self.endpoint)).await
    }
}

/// A copy of `ctx` whose progress reports are collected.
fn logged(ctx: &CallContext) -> (CallContext, Arc<std::sync::Mutex<Vec<String>>>) {
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = log.clone();
    let mut c = ctx.clone();
    c.progress = Arc::new(move |m: &str| sink.lock().unwrap().push(m.to_string()));
    (c, log)
}

fn map(j: serde_json::Value) -> Map {
    match Value::from_json(&j) {
        Value::Map(m) => m,
        _ => panic!("not an object"),
    }
}

fn s<'a>(m: &'a Map, k: &str) -> &'a str {
    m.get(k)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string `{k}` in {m:?}"))
}

#[tokio::test]
async fn kms_key_lifecycle_and_recover() {
    let env = setup().await;
    let p = env.p("aws:kms:Key");
    let mut ctx = env.ctx("cache-key");
    ctx.create_token = Some("intent-1".into());
    let inputs = map(serde_json::json!({
        "description": "redis at rest",
        "enableKeyRotation": true,
        "deletionWindowInDays": 7,
        "tags": {"team": "platform"}
    }));
    // No policy given: the default is computed with the caller's account (STS).
    let created = p.create(&ctx, &inputs).await.expect("create key");
    assert_eq!(s(&created.outputs, "keyId"), created.id);
    assert!(s(&created.outputs, "arn").starts_with("arn:aws:kms:us-east-1:"));

    let seen = p
        .read(&ctx, &created.id, &inputs)
        .await
        .unwrap()
        .expect("key exists");
    assert_eq!(seen.inputs["enableKeyRotation"], Value::Bool(true));
    assert_eq!(s(&seen.inputs, "description"), "redis at rest");
    assert_eq!(
        seen.inputs["tags"],
        Value::from_json(&serde_json::json!({"team": "platform"})),
        "cairn:urn is hidden"
    );

    // An interrupted create is found again by its URN tag and token...
    let found = p
        .recover(&ctx, &inputs)
        .await
        .unwrap()
        .expect("recovered by tag");
    assert_eq!(found.id, created.id);
    // ... a second key of the same resource (another intent) is told apart...
    let mut ctx2 = ctx.clone();
    ctx2.create_token = Some("intent-2".into());
    let second = p.create(&ctx2, &inputs).await.expect("create second key");
    assert_ne!(second.id, created.id);
    assert_eq!(
        p.recover(&ctx2, &inputs).await.unwrap().unwrap().id,
        second.id
    );
    assert_eq!(
        p.recover(&ctx, &inputs).await.unwrap().unwrap().id,
        created.id
    );
    p.delete(&ctx2, &second.id, &inputs, &second.outputs)
        .await
        .expect("schedule deletion of the second key");
    assert!(
        p.recover(&ctx2, &inputs).await.unwrap().is_none(),
        "a key pending deletion is never adopted"
    );
    // ... but not by another resource.
    assert!(p
        .recover(&env.ctx("other-key"), &inputs)
        .await
        .unwrap()
        .is_none());

    let new = map(serde_json::json!({
        "description": "redis at rest v2",
        "enableKeyRotation": false,
        "deletionWindowInDays": 7,
        "tags": {"team": "data"}
    }));
    p.update(&ctx, &created.id, &inputs, &new, &created.outputs)
        .await
        .expect("update key");
    let seen = p.read(&ctx, &created.id, &new).await.unwrap().unwrap();
    assert_eq!(s(&seen.inputs, "description"), "redis at rest v2");
    assert_eq!(seen.inputs["enableKeyRotation"], Value::Bool(false));
    assert_eq!(
        seen.inputs["tags"],
        Value::from_json(&serde_json::json!({"team": "data"}))
    );

    p.delete(&ctx, &created.id, &new, &created.outputs)
        .await
        .expect("schedule deletion");
    assert!(
        p.read(&ctx, &created.id, &new).await.unwrap().is_none(),
        "pending deletion reads as gone"
    );
    assert!(
        p.recover(&ctx, &inputs).await.unwrap().is_none(),
        "pending deletion is not adopted"
    );
    // Deleting twice is fine.
    p.delete(&ctx, &created.id, &new, &created.outputs)
        .await
        .expect("second delete");
}

#[tokio::test]
async fn kms_alias_lifecycle() {
    let env = setup().await;
    let keys = env.p("aws:kms:Key");
    let k1 = keys
        .create(
            &env.ctx("k1"),
            &map(serde_json::json!({"policy": "{\"Version\":\"2012-10-17\",\"Statement\":[]}"})),
        )
        .await
        .unwrap();
    let k2 = keys
        .create(
            &env.ctx("k2"),
            &map(serde_json::json!({"description": "two"})),
        )
        .await
        .unwrap();
    let p = env.p("aws:kms:Alias");
    let ctx = env.ctx("alias");
    let name = format!("alias/cairn-{}", env.tag);
    let inputs = map(serde_json::json!({"name": name, "targetKeyId": s(&k1.outputs, "arn")}));
    let created = p.create(&ctx, &inputs).await.expect("create alias");
    assert_eq!(created.id, name);
    assert!(s(&created.outputs, "arn").ends_with(&name));
    let seen = p.read(&ctx, &name, &inputs).await.unwrap().unwrap();
    assert_eq!(
        s(&seen.inputs, "targetKeyId"),
        s(&k1.outputs, "arn"),
        "ARN spelling kept"
    );
    assert_eq!(p.recover(&ctx, &inputs).await.unwrap().unwrap().id, name);
    let new = map(serde_json::json!({"name": name, "targetKeyId": k2.id}));
    p.update(&ctx, &name, &inputs, &new, &created.outputs)
        .await
        .unwrap();
    assert_eq!(
        s(
            &p.read(&ctx, &name, &new).await.unwrap().unwrap().inputs,
            "targetKeyId"
        ),
        k2.id
    );
    p.delete(&ctx, &name, &new, &created.outputs).await.unwrap();
    assert!(p.read(&ctx, &name, &new).await.unwrap().is_none());
    p.delete(&ctx, &name, &new, &created.outputs)
        .await
        .expect("idempotent delete");
}

#[tokio::test]
async fn secret_and_version_lifecycle_with_restore() {
    let env = setup().await;
    let sp = env.p("aws:secretsmanager:Secret");
    let vp = env.p("aws:secretsmanager:SecretVersion");
    let ctx = env.ctx("conn");
    let vctx = env.ctx("conn-value");
    let name = format!("qualisys/redis/connection-{}", env.tag);
    let inputs = map(
        serde_json::json!({"name": name, "description": "Redis connection", "recoveryWindowInDays": 7}),
    );
    let secret = sp.create(&ctx, &inputs).await.expect("create secret");
    assert!(secret.id.starts_with("arn:aws:secretsmanager:"));
    assert_eq!(s(&secret.outputs, "name"), name);
    let seen = sp.read(&ctx, &secret.id, &inputs).await.unwrap().unwrap();
    assert_eq!(s(&seen.inputs, "description"), "Redis connection");
    assert_eq!(
        sp.recover(&ctx, &inputs).await.unwrap().unwrap().id,
        secret.id
    );

    let value = cairn_aws::connection_secret_json(
        "clustercfg.example",
        "clustercfg.example",
        6379,
        "A1b2C3d4E5f6G7h8",
    );
    let vin = map(serde_json::json!({"secretId": secret.id, "secretString": value}));
    let v1 = vp.create(&vctx, &vin).await.expect("put value");
    let version = s(&v1.outputs, "versionId").to_string();
    assert_eq!(v1.id, format!("{}|{version}", secret.id));
    // A retried put of the same value is the same version (idempotent).
    let again = vp.create(&vctx, &vin).await.expect("re-put");
    assert_eq!(s(&again.outputs, "versionId"), version);
    assert_eq!(vp.recover(&vctx, &vin).await.unwrap().unwrap().id, v1.id);
    let seen = vp.read(&vctx, &v1.id, &vin).await.unwrap().unwrap();
    assert_eq!(seen.inputs["secretString"].as_str(), Some(value.as_str()));

    // The stored value is what the stack asked for.
    let sm = aws_sdk_secretsmanager::Client::new(&env.sdk_config().await);
    let got = sm
        .get_secret_value()
        .secret_id(&secret.id)
        .send()
        .await
        .unwrap();
    assert_eq!(got.secret_string(), Some(value.as_str()));

    // A new value is a new version; the old inputs no longer read as current.
    let vin2 =
        map(serde_json::json!({"secretId": secret.id, "secretString": "{\"rotated\":true}"}));
    let out2 = vp
        .update(&vctx, &v1.id, &vin, &vin2, &v1.outputs)
        .await
        .unwrap();
    assert_ne!(s(&out2, "versionId"), version);
    let drift = vp.read(&vctx, &v1.id, &vin).await.unwrap().unwrap();
    assert_eq!(
        drift.inputs["secretString"].as_str(),
        Some("{\"rotated\":true}"),
        "drift shows the current value"
    );
    assert!(drift.inputs["secretString"].is_secret());
    vp.delete(&vctx, &v1.id, &vin2, &out2).await.unwrap();

    let new = map(
        serde_json::json!({"name": name, "description": "Redis connection info", "recoveryWindowInDays": 7, "tags": {"app": "redis"}}),
    );
    sp.update(&ctx, &secret.id, &inputs, &new, &secret.outputs)
        .await
        .unwrap();
    let seen = sp.read(&ctx, &secret.id, &new).await.unwrap().unwrap();
    assert_eq!(s(&seen.inputs, "description"), "Redis connection info");
    assert_eq!(
        seen.inputs["tags"],
        Value::from_json(&serde_json::json!({"app": "redis"}))
    );

    sp.delete(&ctx, &secret.id, &new, &secret.outputs)
        .await
        .expect("delete (scheduled)");
    assert!(
        sp.read(&ctx, &secret.id, &new).await.unwrap().is_none(),
        "scheduled deletion reads as gone"
    );
    sp.delete(&ctx, &secret.id, &new, &secret.outputs)
        .await
        .expect("second delete is fine");

    // Another resource of that name does not get it...
    let err = sp.create(&env.ctx("conn2"), &new).await.unwrap_err();
    assert!(
        err.to_string().contains("not made by this resource"),
        "{err}"
    );
    // ... but this resource, created again, restores its scheduled secret.
    let restored = sp
        .create(&ctx, &new)
        .await
        .expect("create over a scheduled deletion");
    assert_eq!(restored.id, secret.id);
    assert!(sp.read(&ctx, &restored.id, &new).await.unwrap().is_some());
    let zero = map(serde_json::json!({"name": name, "recoveryWindowInDays": 0}));
    sp.delete(&ctx, &restored.id, &zero, &restored.outputs)
        .await
        .expect("force delete");
    assert!(sp.read(&ctx, &restored.id, &zero).await.unwrap().is_none());
}

#[tokio::test]
async fn iam_policy_versions_are_pruned() {
    let env = setup().await;
    let p = env.p("aws:iam:Policy");
    let ctx = env.ctx("reader");
    let doc = |n: u32| {
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:s{n}")}]
        })
        .to_string()
    };
    let name = format!("redis-secret-reader-{}", env.tag);
    let inputs = |n: u32| {
        map(
            serde_json::json!({"name": name, "path": "/", "description": "read the redis secret", "policy": doc(n)}),
        )
    };
    let created = p.create(&ctx, &inputs(0)).await.expect("create policy");
    assert!(created.id.starts_with("arn:aws:iam::"));
    assert_eq!(s(&created.outputs, "defaultVersionId"), "v1");
    let seen = p
        .read(&ctx, &created.id, &inputs(0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        s(&seen.inputs, "policy"),
        doc(0),
        "document decoded and matched"
    );
    assert_eq!(
        p.recover(&ctx, &inputs(0)).await.unwrap().unwrap().id,
        created.id
    );

    let mut outputs = created.outputs.clone();
    for n in 1..=6 {
        outputs = p
            .update(&ctx, &created.id, &inputs(n - 1), &inputs(n), &outputs)
            .await
            .unwrap_or_else(|e| panic!("update {n}: {e}"));
    }
    assert_eq!(s(&outputs, "defaultVersionId"), "v7");
    let iam = aws_sdk_iam::Client::new(&env.sdk_config().await);
    let versions = iam
        .list_policy_versions()
        .policy_arn(&created.id)
        .send()
        .await
        .unwrap();
    assert!(versions.versions().len() <= 5, "pruned to IAM's limit");
    let seen = p
        .read(&ctx, &created.id, &inputs(6))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s(&seen.inputs, "policy"), doc(6));

    p.delete(&ctx, &created.id, &inputs(6), &outputs)
        .await
        .expect("delete policy with versions");
    assert!(p
        .read(&ctx, &created.id, &inputs(6))
        .await
        .unwrap()
        .is_none());
    p.delete(&ctx, &created.id, &inputs(6), &outputs)
        .await
        .expect("idempotent delete");
}

#[tokio::test]
async fn security_group_rules_round_trip_for_import() {
    let env = setup().await;
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk_config().await);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc_id = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    let p = env.p("aws:ec2:SecurityGroup");
    let ctx = env.ctx("redis-sg");
    let name = format!("redis-{}", env.tag);
    let inputs = map(serde_json::json!({
        "name": name,
        "description": "Redis from the Kubernetes nodes",
        "vpcId": vpc_id,
        "ingress": [
            {"protocol": "tcp", "fromPort": 6379, "toPort": 6379, "cidrBlocks": ["10.0.11.0/24", "10.0.10.0/24"], "description": "k8s nodes"}
        ],
        "egress": [
            {"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}
        ],
        "tags": {"Name": "redis"}
    }));
    let created = p.create(&ctx, &inputs).await.expect("create sg");
    assert!(created.id.starts_with("sg-"));
    // What an import of this group reads back matches the YAML exactly.
    let seen = p.read(&ctx, &created.id, &inputs).await.unwrap().unwrap();
    for k in ["name", "description", "vpcId", "ingress", "egress", "tags"] {
        assert_eq!(seen.inputs[k], inputs[k], "{k}");
    }
    assert_eq!(
        p.recover(&ctx, &inputs).await.unwrap().unwrap().id,
        created.id
    );
    // A stack that leaves egress unmanaged does not see it as drift.
    let mut no_egress = inputs.clone();
    no_egress.remove("egress");
    let seen = p
        .read(&ctx, &created.id, &no_egress)
        .await
        .unwrap()
        .unwrap();
    assert!(!seen.inputs.contains_key("egress"));
    assert_eq!(seen.inputs["ingress"], inputs["ingress"]);

    // Drop one subnet, add a port: only the difference is revoked/authorized.
    let mut new = inputs.clone();
    new.insert(
        "ingress".into(),
        Value::from_json(&serde_json::json!([
            {"protocol": "tcp", "fromPort": 6379, "toPort": 6379, "cidrBlocks": ["10.0.10.0/24"], "description": "k8s nodes"},
            {"protocol": "tcp", "fromPort": 6380, "toPort": 6380, "cidrBlocks": ["10.0.10.0/24"]}
        ])),
    );
    p.update(&ctx, &created.id, &inputs, &new, &created.outputs)
        .await
        .expect("update rules");
    let seen = p.read(&ctx, &created.id, &new).await.unwrap().unwrap();
    assert_eq!(seen.inputs["ingress"], new["ingress"]);

    p.delete(&ctx, &created.id, &new, &created.outputs)
        .await
        .expect("delete sg");
    assert!(p.read(&ctx, &created.id, &new).await.unwrap().is_none());
    p.delete(&ctx, &created.id, &new, &created.outputs)
        .await
        .expect("idempotent delete");
}

#[tokio::test]
async fn subnet_group_lifecycle() {
    let env = setup().await;
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk_config().await);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.1.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc_id = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    let mut subnets = Vec::new();
    for (cidr, az) in [
        ("10.1.10.0/24", "us-east-1a"),
        ("10.1.11.0/24", "us-east-1b"),
    ] {
        let out = ec2
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block(cidr)
            .availability_zone(az)
            .send()
            .await
            .unwrap();
        subnets.push(out.subnet().unwrap().subnet_id().unwrap().to_string());
    }
    let p = env.p("aws:elasticache:SubnetGroup");
    let ctx = env.ctx("redis-subnets");
    let name = format!("redis-subnets-{}", env.tag);
    let inputs = map(
        serde_json::json!({"name": name, "description": "private", "subnetIds": [subnets[1], subnets[0]]}),
    );
    let created = p.create(&ctx, &inputs).await.expect("create subnet group");
    assert_eq!(created.id, name);
    let seen = p.read(&ctx, &name, &inputs).await.unwrap().unwrap();
    assert_eq!(
        seen.inputs["subnetIds"], inputs["subnetIds"],
        "order follows the stack"
    );
    assert_eq!(s(&seen.inputs, "description"), "private");
    assert_eq!(p.recover(&ctx, &inputs).await.unwrap().unwrap().id, name);
    // Another resource's recovery refuses it, naming the tag it carries.
    let err = p
        .recover(&env.ctx("other-subnets"), &inputs)
        .await
        .unwrap_err();
    match &err {
        ProviderError::NotOwned { id, found, .. } => {
            assert_eq!(id, &name);
            assert_eq!(
                found,
                &format!("the tag cairn:urn=it-{}/redis-subnets", env.tag)
            );
        }
        other => panic!("expected NotOwned, got {other:?}"),
    }
    let new =
        map(serde_json::json!({"name": name, "description": "private", "subnetIds": [subnets[0]]}));
    p.update(&ctx, &name, &inputs, &new, &created.outputs)
        .await
        .expect("ModifyCacheSubnetGroup");
    let seen = p.read(&ctx, &name, &new).await.unwrap().unwrap();
    assert_eq!(seen.inputs["subnetIds"], new["subnetIds"]);
    p.delete(&ctx, &name, &new, &created.outputs)
        .await
        .expect("DeleteCacheSubnetGroup");
    assert!(p.read(&ctx, &name, &new).await.unwrap().is_none());
}

#[tokio::test]
async fn parameter_group_lifecycle() {
    let env = setup().await;
    let p = env.p("aws:elasticache:ParameterGroup");
    let ctx = env.ctx("params");
    let name = format!("qualisys-redis7-{}", env.tag);
    let story = serde_json::json!([
        {"name": "maxmemory-policy", "value": "allkeys-lru"},
        {"name": "tcp-keepalive", "value": "300"},
        {"name": "timeout", "value": "0"},
        {"name": "notify-keyspace-events", "value": "Exe"},
        {"name": "cluster-enabled", "value": "yes"},
        {"name": "reserved-memory-percent", "value": "25"}
    ]);
    let inputs = map(
        serde_json::json!({"name": name, "family": "redis7", "description": "story 0.5", "parameters": story}),
    );
    assert!(p.check(&inputs).is_empty());
    let created = p
        .create(&ctx, &inputs)
        .await
        .expect("CreateCacheParameterGroup");
    assert_eq!(s(&created.outputs, "name"), name);
    let seen = p.read(&ctx, &name, &inputs).await.unwrap().unwrap();
    assert_eq!(seen.inputs["parameters"], inputs["parameters"]);
    assert_eq!(s(&seen.inputs, "family"), "redis7");
    assert!(cairn_aws::parameter_group_enables_cluster(
        &seen.inputs["parameters"]
    ));
    let new = map(
        serde_json::json!({"name": name, "family": "redis7", "description": "story 0.5", "parameters": [
            {"name": "maxmemory-policy", "value": "allkeys-lfu"},
            {"name": "cluster-enabled", "value": "yes"}
        ]}),
    );
    p.update(&ctx, &name, &inputs, &new, &created.outputs)
        .await
        .expect("update parameters");
    let seen = p.read(&ctx, &name, &new).await.unwrap().unwrap();
    assert_eq!(
        seen.inputs["parameters"], new["parameters"],
        "removed parameters were reset"
    );
    assert_eq!(p.recover(&ctx, &new).await.unwrap().unwrap().id, name);
    p.delete(&ctx, &name, &new, &created.outputs)
        .await
        .expect("delete");
    assert!(p.read(&ctx, &name, &new).await.unwrap().is_none());
}

#[tokio::test]
async fn replication_group_lifecycle() {
    let env = setup().await;
    let p = env.p("aws:elasticache:ReplicationGroup");
    let ctx = env.ctx("redis");
    let id = format!("redis-{}", env.tag);
    let token = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v2W3x4Y5z6A7b8C9d0E1f2";
    // The story's dev sizing, with failover on as cluster mode requires.
    let inputs = map(serde_json::json!({
        "replicationGroupId": id,
        "description": "qualisys redis",
        "engine": "redis",
        "engineVersion": "7.1",
        "nodeType": "cache.t3.micro",
        "clusterMode": "enabled",
        "numNodeGroups": 1,
        "replicasPerNodeGroup": 0,
        "automaticFailoverEnabled": true,
        "multiAzEnabled": false,
        "transitEncryptionEnabled": true,
        "atRestEncryptionEnabled": true,
        "authToken": token,
        "port": 6379,
        "tags": {"env": "dev"}
    }));
    assert!(p.check(&inputs).is_empty(), "{:?}", p.check(&inputs));
    let before = env.clients.describe_calls();
    let created = p
        .create(&ctx, &inputs)
        .await
        .expect("create replication group");
    assert!(env.clients.describe_calls() > before, "the waiter polled");
    assert_eq!(created.id, id);
    let cfg = s(&created.outputs, "configurationEndpointAddress").to_string();
    assert!(
        !cfg.is_empty(),
        "cluster mode has a configuration endpoint: {:?}",
        created.outputs
    );
    assert_eq!(s(&created.outputs, "connectionEndpointAddress"), cfg);
    assert_eq!(created.outputs["port"].as_i64(), Some(6379));
    assert!(!created.outputs["memberClusters"]
        .as_list()
        .unwrap()
        .is_empty());

    let seen = p.read(&ctx, &id, &inputs).await.unwrap().expect("exists");
    assert_eq!(s(&seen.inputs, "nodeType"), "cache.t3.micro");
    assert_eq!(seen.inputs["numNodeGroups"].as_i64(), Some(1));
    assert_eq!(seen.inputs["automaticFailoverEnabled"], Value::Bool(true));
    assert_eq!(seen.inputs["transitEncryptionEnabled"], Value::Bool(true));
    assert_eq!(
        seen.inputs["tags"],
        Value::from_json(&serde_json::json!({"env": "dev"}))
    );
    let found = p
        .recover(&ctx, &inputs)
        .await
        .unwrap()
        .expect("recover by id");
    assert_eq!(found.id, id);

    // A description change is an in-place ModifyReplicationGroup + wait.
    let mut new = inputs.clone();
    new.insert("description".into(), "qualisys redis (dev)".into());
    let outputs = p
        .update(&ctx, &id, &inputs, &new, &created.outputs)
        .await
        .expect("ModifyReplicationGroup");
    assert_eq!(s(&outputs, "configurationEndpointAddress"), cfg);
    let seen = p.read(&ctx, &id, &new).await.unwrap().unwrap();
    assert_eq!(s(&seen.inputs, "description"), "qualisys redis (dev)");

    // Scale dev up to the staging sizing in place: node type, shards,
    // replicas, Multi-AZ, and an auth token rotation (ROTATE; the SET that
    // drops the old token waits for a later run, see aws/fidelity.rs).
    let mut up = new.clone();
    for (k, v) in [
        ("nodeType", Value::from("cache.t3.small")),
        ("numNodeGroups", Value::Int(2)),
        ("replicasPerNodeGroup", Value::Int(1)),
        ("multiAzEnabled", Value::Bool(true)),
        ("authToken", Value::from("Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4")),
    ] {
        up.insert(k.into(), v);
    }
    assert!(p.check(&up).is_empty(), "{:?}", p.check(&up));
    let (sctx, log) = logged(&ctx);
    let before = env.clients.describe_calls();
    let outputs = p
        .update(&sctx, &id, &new, &up, &outputs)
        .await
        .expect("in-place scaling");
    let seen = p.read(&ctx, &id, &up).await.unwrap().unwrap();
    assert_eq!(s(&seen.inputs, "nodeType"), "cache.t3.small");
    assert_eq!(seen.inputs["numNodeGroups"].as_i64(), Some(2));
    assert_eq!(seen.inputs["replicasPerNodeGroup"].as_i64(), Some(1));
    assert_eq!(seen.inputs["multiAzEnabled"], Value::Bool(true));
    assert_eq!(outputs["memberClusters"].as_list().unwrap().len(), 4);
    let steps: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.starts_with("modifying: "))
        .cloned()
        .collect();
    assert_eq!(
        steps,
        [
            "ModifyReplicationGroup",
            "ModifyReplicationGroupShardConfiguration",
            "IncreaseReplicaCount",
            "ModifyReplicationGroup",
            "ModifyReplicationGroup",
        ]
        .iter()
        .map(|a| format!("modifying: {a}"))
        .collect::<Vec<_>>(),
        "node type, shards, replicas, ROTATE, Multi-AZ"
    );
    assert!(
        env.clients.describe_calls() >= before + 5,
        "one wait per mutating call"
    );

    // And back down: Multi-AZ off first, then shards and replicas shrink.
    let (sctx, _) = logged(&ctx);
    let outputs = p
        .update(&sctx, &id, &up, &new, &outputs)
        .await
        .expect("scale down");
    let seen = p.read(&ctx, &id, &new).await.unwrap().unwrap();
    assert_eq!(seen.inputs["numNodeGroups"].as_i64(), Some(1));
    assert_eq!(seen.inputs["replicasPerNodeGroup"].as_i64(), Some(0));
    assert_eq!(seen.inputs["multiAzEnabled"], Value::Bool(false));
    assert_eq!(s(&seen.inputs, "nodeType"), "cache.t3.micro");

    let before = env.clients.describe_calls();
    let mut dctx = ctx.clone();
    dctx.timeouts.delete = Some(30);
    p.delete(&dctx, &id, &new, &outputs)
        .await
        .expect("delete replication group");
    assert!(env.clients.describe_calls() > before);
    assert!(p.read(&ctx, &id, &new).await.unwrap().is_none());
    p.delete(&ctx, &id, &new, &outputs)
        .await
        .expect("idempotent delete");
    assert!(p.recover(&ctx, &new).await.unwrap().is_none());
}

#[tokio::test]
async fn errors_name_the_resource_and_call() {
    let env = setup().await;
    let p = env.p("aws:iam:Policy");
    let ctx = env.ctx("broken");
    let inputs = map(serde_json::json!({"name": format!("bad-{}", env.tag), "policy": "not json"}));
    assert_eq!(p.check(&inputs)[0].rule, "aws::iam::policy-json");
    let err = p.create(&ctx, &inputs).await.unwrap_err();
    match &err {
        ProviderError::Api {
            resource,
            api,
            retryable,
            ..
        } => {
            assert_eq!(resource, "broken (aws:iam:Policy)");
            assert_eq!(api, "iam:CreatePolicy");
            assert!(!retryable);
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// A put with the engine's token per intent: A → B → A ends with A current
/// (a token derived from the value would repeat A's, which AWS ignores).
#[tokio::test]
async fn secret_value_rolled_back_to_an_earlier_value_is_current() {
    let env = setup().await;
    let sp = env.p("aws:secretsmanager:Secret");
    let vp = env.p("aws:secretsmanager:SecretVersion");
    let name = format!("rollback-{}", env.tag);
    let secret = sp
        .create(&env.ctx("s"), &map(serde_json::json!({"name": name})))
        .await
        .expect("create secret");
    let vin = |v: &str| map(serde_json::json!({"secretId": secret.id, "secretString": v}));
    let with_token = |t: &str| {
        let mut c = env.ctx("s-value");
        c.create_token = Some(t.to_string());
        c
    };
    let (a, b) = (vin("value-A"), vin("value-B"));
    let v1 = vp.create(&with_token("intent-1"), &a).await.expect("put A");
    let o2 = vp
        .update(&with_token("intent-2"), &v1.id, &a, &b, &v1.outputs)
        .await
        .expect("put B");
    // The retry of a put whose answer was lost reuses its token: no new version.
    let again = vp
        .update(&with_token("intent-2"), &v1.id, &a, &b, &v1.outputs)
        .await
        .expect("retried put B");
    assert_eq!(s(&again, "versionId"), s(&o2, "versionId"));
    let o3 = vp
        .update(&with_token("intent-3"), &v1.id, &b, &a, &o2)
        .await
        .expect("put A again");
    let sm = aws_sdk_secretsmanager::Client::new(&env.sdk_config().await);
    let got = sm
        .get_secret_value()
        .secret_id(&secret.id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.secret_string(),
        Some("value-A"),
        "A → B → A ends with A"
    );
    assert_eq!(got.version_id(), Some(s(&o3, "versionId")));
    // Refresh reads A as current: no drift.
    let seen = vp
        .read(&env.ctx("s-value"), &v1.id, &a)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        seen.inputs["secretString"].reveal().as_str(),
        Some("value-A"),
        "no drift after the rollback"
    );
}

/// The emulator keeps AWS's PutSecretValue token rule: the same token with
/// another value is ResourceExistsException, with the same value a no-op
/// that leaves AWSCURRENT where it is.
#[tokio::test]
async fn emulator_put_secret_value_token_rule() {
    let env = setup().await;
    let sm = aws_sdk_secretsmanager::Client::new(&env.sdk_config().await);
    let name = format!("tokens-{}", env.tag);
    sm.create_secret().name(&name).send().await.unwrap();
    let put = |v: &'static str, t: &'static str| {
        sm.put_secret_value()
            .secret_id(&name)
            .secret_string(v)
            .client_request_token(t)
            .send()
    };
    let ta = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa";
    let tb = "bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb";
    put("A", ta).await.unwrap();
    put("B", tb).await.unwrap();
    put("A", ta).await.expect("same token, same value: ignored");
    let cur = sm.get_secret_value().secret_id(&name).send().await.unwrap();
    assert_eq!(
        cur.secret_string(),
        Some("B"),
        "the ignored put moved nothing"
    );
    let err = put("C", ta).await.unwrap_err();
    assert_eq!(
        err.as_service_error()
            .and_then(|e| aws_sdk_secretsmanager::error::ProvideErrorMetadata::code(e)),
        Some("ResourceExistsException"),
        "{err:?}"
    );
}

/// Waits until the group is `available` again after an out-of-band change.
async fn wait_rg_available(ec: &aws_sdk_elasticache::Client, id: &str) {
    for _ in 0..200 {
        let out = ec
            .describe_replication_groups()
            .replication_group_id(id)
            .send()
            .await
            .unwrap();
        if out.replication_groups()[0].status() == Some("available") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{id} did not become available");
}

#[tokio::test]
async fn elasticache_minor_upgrade_by_aws_is_drift_not_a_replace() {
    let env = setup().await;
    let p = env.p("aws:elasticache:ReplicationGroup");
    let ctx = env.ctx("redis");
    let id = format!("redis-{}", env.tag);
    let inputs = map(serde_json::json!({
        "replicationGroupId": id,
        "description": "minor upgrade",
        "engineVersion": "7.0",
        "nodeType": "cache.t3.micro",
        "numCacheClusters": 1,
        "port": 6379
    }));
    let created = p.create(&ctx, &inputs).await.expect("create");
    // AWS reports `7.0.0`; the stack's `7.0` is the same version.
    let seen = p.read(&ctx, &id, &inputs).await.unwrap().unwrap();
    assert_eq!(s(&seen.inputs, "engineVersion"), "7.0");

    // AWS upgrades the minor version by itself (out of band).
    let ec = aws_sdk_elasticache::Client::new(&env.sdk_config().await);
    ec.modify_replication_group()
        .replication_group_id(&id)
        .engine_version("7.1")
        .apply_immediately(true)
        .send()
        .await
        .expect("out-of-band minor upgrade");
    wait_rg_available(&ec, &id).await;

    // Refresh: drift on engineVersion, and no replace.
    let seen = p.read(&ctx, &id, &inputs).await.unwrap().unwrap();
    assert_eq!(s(&seen.inputs, "engineVersion"), "7.1.0", "drift is shown");
    let paths = p.extra_replace_paths(&seen.inputs, &inputs);
    assert!(paths.is_empty(), "replace planned on {paths:?}");
    // Accepting the drift sends no downgrade (the emulator refuses one, as AWS does).
    p.update(&ctx, &id, &seen.inputs, &inputs, &created.outputs)
        .await
        .expect("accepting the drift is not a downgrade");
    let mut dctx = ctx.clone();
    dctx.timeouts.delete = Some(30);
    p.delete(&dctx, &id, &inputs, &created.outputs)
        .await
        .unwrap();
}

#[tokio::test]
async fn elasticache_group_names_are_stored_lower_case() {
    let env = setup().await;
    let p = env.p("aws:elasticache:ParameterGroup");
    let ctx = env.ctx("params");
    let name = format!("Qualisys-Redis7-{}", env.tag);
    let inputs =
        map(serde_json::json!({"name": name, "family": "redis7", "description": "mixed case"}));
    let warned = p.check(&inputs);
    assert!(
        warned.len() == 1 && warned[0].warning && warned[0].message.contains(&name.to_lowercase()),
        "preview says the name is stored lower case: {warned:?}"
    );
    let created = p.create(&ctx, &inputs).await.expect("create");
    assert_eq!(created.id, name.to_lowercase());
    assert_eq!(s(&created.outputs, "name"), name.to_lowercase());
    // AWS lists it lower case; a refresh shows no drift on the replace-forcing name.
    let ec = aws_sdk_elasticache::Client::new(&env.sdk_config().await);
    let listed = ec
        .describe_cache_parameter_groups()
        .cache_parameter_group_name(&name)
        .send()
        .await
        .expect("AWS finds it in any case");
    assert_eq!(
        listed.cache_parameter_groups()[0].cache_parameter_group_name(),
        Some(name.to_lowercase().as_str())
    );
    let seen = p.read(&ctx, &created.id, &inputs).await.unwrap().unwrap();
    assert_eq!(s(&seen.inputs, "name"), name);
    p.delete(&ctx, &created.id, &inputs, &created.outputs)
        .await
        .unwrap();
}

/// A small cluster-mode-disabled group for the ElastiCache fidelity tests.
fn small_rg(id: &str) -> Map {
    map(serde_json::json!({
        "replicationGroupId": id,
        "description": "fidelity",
        "engineVersion": "7.1",
        "nodeType": "cache.t3.micro",
        "numCacheClusters": 1,
        "transitEncryptionEnabled": false,
        "port": 6379
    }))
}

#[tokio::test]
async fn elasticache_update_steps_each_get_their_own_deadline_and_no_op_is_success() {
    let env = setup().await;
    let p = env.p("aws:elasticache:ReplicationGroup");
    let ctx = env.ctx("redis");
    let id = format!("redis-{}", env.tag);
    let inputs = small_rg(&id);
    let created = p.create(&ctx, &inputs).await.expect("create");
    // Two sequential steps (node type, then description) of ~0.7 s each
    // under a 1 s update deadline: each step has its own.
    env._emulator.set_delay_ms(700).await.unwrap();
    let mut new = inputs.clone();
    new.insert("nodeType".into(), "cache.t3.small".into());
    new.insert("description".into(), "fidelity 2".into());
    let mut uctx = ctx.clone();
    uctx.timeouts.update = Some(1);
    p.update(&uctx, &id, &inputs, &new, &created.outputs)
        .await
        .expect("each step within its own deadline");
    env._emulator.set_delay_ms(0).await.unwrap();
    // Somebody already made the change: "No modifications were requested" is success.
    let ec = aws_sdk_elasticache::Client::new(&env.sdk_config().await);
    ec.modify_replication_group()
        .replication_group_id(&id)
        .replication_group_description("fidelity 3")
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    wait_rg_available(&ec, &id).await;
    let mut third = new.clone();
    third.insert("description".into(), "fidelity 3".into());
    p.update(&ctx, &id, &new, &third, &created.outputs)
        .await
        .expect("a modify that changes nothing is success");
}

#[tokio::test]
async fn elasticache_tls_goes_on_in_place_and_auth_off_is_seen() {
    let env = setup().await;
    let p = env.p("aws:elasticache:ReplicationGroup");
    let ctx = env.ctx("redis");
    let id = format!("redis-{}", env.tag);
    let inputs = small_rg(&id);
    let created = p.create(&ctx, &inputs).await.expect("create");
    let mut tls = inputs.clone();
    tls.insert("transitEncryptionEnabled".into(), Value::Bool(true));
    assert!(p.extra_replace_paths(&inputs, &tls).is_empty());
    let (lctx, log) = logged(&ctx);
    p.update(&lctx, &id, &inputs, &tls, &created.outputs)
        .await
        .expect("TLS on in place");
    let steps = log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.starts_with("modifying: "))
        .count();
    assert_eq!(steps, 2, "preferred, then required");
    let ec = aws_sdk_elasticache::Client::new(&env.sdk_config().await);
    let rg = ec
        .describe_replication_groups()
        .replication_group_id(&id)
        .send()
        .await
        .unwrap()
        .replication_groups()[0]
        .clone();
    assert_eq!(rg.transit_encryption_enabled(), Some(true));
    assert_eq!(
        rg.transit_encryption_mode().map(|m| m.as_str()),
        Some("required")
    );
    // Off again is a replace (with the property named).
    assert_eq!(p.extra_replace_paths(&tls, &inputs).len(), 1);

    // An AUTH token, then AUTH switched off out of band: a refresh sees it.
    let mut auth = tls.clone();
    auth.insert(
        "authToken".into(),
        "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6".into(),
    );
    p.update(&ctx, &id, &tls, &auth, &created.outputs)
        .await
        .expect("set a token");
    assert_eq!(
        p.read(&ctx, &id, &auth).await.unwrap().unwrap().inputs["authToken"],
        auth["authToken"]
    );
    ec.modify_replication_group()
        .replication_group_id(&id)
        .auth_token_update_strategy(aws_sdk_elasticache::types::AuthTokenUpdateStrategyType::Delete)
        .user_group_ids_to_add("open-default")
        .apply_immediately(true)
        .send()
        .await
        .expect("out-of-band move to RBAC");
    wait_rg_available(&ec, &id).await;
    let seen = p.read(&ctx, &id, &auth).await.unwrap().unwrap();
    assert_ne!(
        seen.inputs["authToken"].reveal(),
        auth["authToken"],
        "AUTH off is drift"
    );
    assert!(seen.inputs["authToken"].is_secret(), "and stays masked");
    // TLS relaxed to preferred out of band is seen too.
    ec.modify_replication_group()
        .replication_group_id(&id)
        .transit_encryption_mode(aws_sdk_elasticache::types::TransitEncryptionMode::Preferred)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    wait_rg_available(&ec, &id).await;
    let seen = p.read(&ctx, &id, &auth).await.unwrap().unwrap();
    assert_eq!(s(&seen.inputs, "transitEncryptionMode"), "preferred");
}

#[tokio::test]
async fn elasticache_cluster_mode_and_engine_change_in_place() {
    let env = setup().await;
    let p = env.p("aws:elasticache:ReplicationGroup");
    let ctx = env.ctx("redis");
    let id = format!("redis-{}", env.tag);
    let mut inputs = small_rg(&id);
    inputs.insert("clusterMode".into(), "disabled".into());
    let created = p.create(&ctx, &inputs).await.expect("create");
    let ec = aws_sdk_elasticache::Client::new(&env.sdk_config().await);
    let mode = || async {
        let rg = ec
            .describe_replication_groups()
            .replication_group_id(&id)
            .send()
            .await
            .unwrap()
            .replication_groups()[0]
            .clone();
        (
            rg.cluster_mode().map(|m| m.as_str().to_string()),
            rg.engine().map(str::to_string),
        )
    };
    // disabled → compatible: in place, and sent.
    let mut compatible = inputs.clone();
    compatible.insert("clusterMode".into(), "compatible".into());
    assert!(p.extra_replace_paths(&inputs, &compatible).is_empty());
    p.update(&ctx, &id, &inputs, &compatible, &created.outputs)
        .await
        .expect("to compatible");
    assert_eq!(mode().await.0.as_deref(), Some("compatible"));
    // redis → valkey: in place.
    let mut valkey = compatible.clone();
    valkey.insert("engine".into(), "valkey".into());
    valkey.insert("engineVersion".into(), "7.2".into());
    assert!(p.extra_replace_paths(&compatible, &valkey).is_empty());
    p.update(&ctx, &id, &compatible, &valkey, &created.outputs)
        .await
        .expect("to valkey");
    assert_eq!(mode().await.1.as_deref(), Some("valkey"));
    // The other direction still replaces, naming the property.
    let paths: Vec<String> = p
        .extra_replace_paths(&valkey, &compatible)
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert!(paths.contains(&"engine".to_string()), "{paths:?}");
    let mut enabled = valkey.clone();
    enabled.insert("clusterMode".into(), "enabled".into());
    enabled.insert("automaticFailoverEnabled".into(), Value::Bool(true));
    assert_eq!(
        p.extra_replace_paths(&enabled, &valkey)
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>(),
        ["clusterMode"]
    );
}

/// Eventual consistency: with the emulator hiding every new key, alias and
/// policy for 1.5 s (as AWS may), the follow-up calls and reads right after
/// a create wait for it instead of failing or reading it as gone.
#[tokio::test]
async fn new_objects_not_yet_visible_are_waited_for() {
    let env = setup().await;
    env._emulator.set_hide_new_ms(1500).await.unwrap();
    // The knob: a new key is not found at first.
    let kms = aws_sdk_kms::Client::new(&env.sdk_config().await);
    let raw = kms.create_key().send().await.unwrap();
    let raw_id = raw.key_metadata().unwrap().key_id().to_string();
    let err = kms.describe_key().key_id(&raw_id).send().await.unwrap_err();
    assert_eq!(
        aws_sdk_kms::error::ProvideErrorMetadata::code(&err),
        Some("NotFoundException"),
        "{err:?}"
    );

    // EnableKeyRotation right after CreateKey.
    let kp = env.p("aws:kms:Key");
    let kin = map(serde_json::json!({"description": "hidden", "enableKeyRotation": true}));
    let key = kp
        .create(&env.ctx("k"), &kin)
        .await
        .expect("create key with rotation");
    // DescribeKey right after.
    let seen = kp.read(&env.ctx("k"), &key.id, &kin).await.unwrap();
    assert!(seen.is_some(), "a new key read as gone");

    // CreateAlias on a key created a moment ago.
    let key2 = kp
        .create(&env.ctx("k2"), &map(serde_json::json!({})))
        .await
        .unwrap();
    let ap = env.p("aws:kms:Alias");
    let ain = map(
        serde_json::json!({"name": format!("alias/hidden-{}", env.tag), "targetKeyId": key2.id}),
    );
    ap.create(&env.ctx("a"), &ain)
        .await
        .expect("alias on a key not yet visible");

    // GetPolicy right after CreatePolicy.
    let pp = env.p("aws:iam:Policy");
    let pin = map(serde_json::json!({
        "name": format!("hidden-{}", env.tag),
        "policy": r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/k"}]}"#
    }));
    let pol = pp.create(&env.ctx("p"), &pin).await.expect("create policy");
    let seen = pp.read(&env.ctx("p"), &pol.id, &pin).await.unwrap();
    assert!(seen.is_some(), "a new policy read as gone");
}

/// cairn type → CloudFormation type; `None`: no CloudFormation counterpart.
const CFN_TYPES: &[(&str, Option<&str>)] = &[
    ("aws:kms:Key", Some("AWS::KMS::Key")),
    ("aws:kms:Alias", Some("AWS::KMS::Alias")),
    (
        "aws:secretsmanager:Secret",
        Some("AWS::SecretsManager::Secret"),
    ),
    // A value is a property of AWS::SecretsManager::Secret, not a resource.
    ("aws:secretsmanager:SecretVersion", None),
    ("aws:iam:Policy", Some("AWS::IAM::ManagedPolicy")),
    ("aws:iam:Role", Some("AWS::IAM::Role")),
    // CloudFormation attaches managed policies through the role's ManagedPolicyArns.
    ("aws:iam:RolePolicyAttachment", None),
    (
        "aws:iam:OpenIdConnectProvider",
        Some("AWS::IAM::OIDCProvider"),
    ),
    ("aws:ecr:Repository", Some("AWS::ECR::Repository")),
    // CloudFormation has the lifecycle policy as a property of AWS::ECR::Repository.
    ("aws:ecr:LifecyclePolicy", None),
    ("aws:s3:Bucket", Some("AWS::S3::Bucket")),
    // Versioning, encryption and the public access block are properties of AWS::S3::Bucket.
    ("aws:s3:BucketVersioning", None),
    ("aws:s3:BucketServerSideEncryptionConfiguration", None),
    ("aws:s3:BucketPublicAccessBlock", None),
    ("aws:s3:BucketPolicy", Some("AWS::S3::BucketPolicy")),
    ("aws:ec2:SecurityGroup", Some("AWS::EC2::SecurityGroup")),
    ("aws:ec2:Vpc", Some("AWS::EC2::VPC")),
    ("aws:ec2:Subnet", Some("AWS::EC2::Subnet")),
    ("aws:ec2:InternetGateway", Some("AWS::EC2::InternetGateway")),
    ("aws:ec2:Eip", Some("AWS::EC2::EIP")),
    ("aws:ec2:NatGateway", Some("AWS::EC2::NatGateway")),
    ("aws:ec2:RouteTable", Some("AWS::EC2::RouteTable")),
    ("aws:ec2:Route", Some("AWS::EC2::Route")),
    (
        "aws:ec2:RouteTableAssociation",
        Some("AWS::EC2::SubnetRouteTableAssociation"),
    ),
    // Egress is AWS::EC2::SecurityGroupEgress, with the same create-only set.
    (
        "aws:ec2:SecurityGroupRule",
        Some("AWS::EC2::SecurityGroupIngress"),
    ),
    ("aws:eks:Cluster", Some("AWS::EKS::Cluster")),
    ("aws:eks:NodeGroup", Some("AWS::EKS::Nodegroup")),
    ("aws:rds:SubnetGroup", Some("AWS::RDS::DBSubnetGroup")),
    ("aws:rds:ParameterGroup", Some("AWS::RDS::DBParameterGroup")),
    ("aws:rds:Instance", Some("AWS::RDS::DBInstance")),
    (
        "aws:elasticache:ReplicationGroup",
        Some("AWS::ElastiCache::ReplicationGroup"),
    ),
    (
        "aws:elasticache:ParameterGroup",
        Some("AWS::ElastiCache::ParameterGroup"),
    ),
    (
        "aws:elasticache:SubnetGroup",
        Some("AWS::ElastiCache::SubnetGroup"),
    ),
];

/// cairn property → CloudFormation property where not just capitalised.
const CFN_NAMES: &[(&str, &str, &str)] = &[
    ("aws:kms:Alias", "name", "AliasName"),
    ("aws:secretsmanager:Secret", "name", "Name"),
    ("aws:iam:Policy", "name", "ManagedPolicyName"),
    ("aws:iam:Policy", "policy", "PolicyDocument"),
    ("aws:iam:Role", "name", "RoleName"),
    (
        "aws:iam:Role",
        "assumeRolePolicy",
        "AssumeRolePolicyDocument",
    ),
    (
        "aws:iam:OpenIdConnectProvider",
        "clientIdLists",
        "ClientIdList",
    ),
    (
        "aws:iam:OpenIdConnectProvider",
        "thumbprintLists",
        "ThumbprintList",
    ),
    ("aws:ecr:Repository", "name", "RepositoryName"),
    (
        "aws:ecr:Repository",
        "encryptionConfigurations",
        "EncryptionConfiguration",
    ),
    ("aws:s3:Bucket", "bucket", "BucketName"),
    ("aws:s3:BucketPolicy", "policy", "PolicyDocument"),
    ("aws:ec2:SecurityGroup", "name", "GroupName"),
    ("aws:ec2:SecurityGroup", "description", "GroupDescription"),
    ("aws:ec2:SecurityGroupRule", "securityGroupId", "GroupId"),
    ("aws:ec2:SecurityGroupRule", "protocol", "IpProtocol"),
    ("aws:ec2:SecurityGroupRule", "cidrBlocks", "CidrIp"),
    ("aws:eks:Cluster", "vpcConfig", "ResourcesVpcConfig"),
    ("aws:eks:NodeGroup", "nodeGroupName", "NodegroupName"),
    ("aws:eks:NodeGroup", "nodeRoleArn", "NodeRole"),
    ("aws:eks:NodeGroup", "subnetIds", "Subnets"),
    ("aws:rds:SubnetGroup", "name", "DBSubnetGroupName"),
    (
        "aws:rds:SubnetGroup",
        "description",
        "DBSubnetGroupDescription",
    ),
    ("aws:rds:ParameterGroup", "name", "DBParameterGroupName"),
    ("aws:rds:Instance", "identifier", "DBInstanceIdentifier"),
    ("aws:rds:Instance", "username", "MasterUsername"),
    ("aws:rds:Instance", "password", "MasterUserPassword"),
    ("aws:rds:Instance", "instanceClass", "DBInstanceClass"),
    ("aws:rds:Instance", "dbSubnetGroupName", "DBSubnetGroupName"),
    (
        "aws:rds:Instance",
        "parameterGroupName",
        "DBParameterGroupName",
    ),
    (
        "aws:rds:Instance",
        "vpcSecurityGroupIds",
        "VPCSecurityGroups",
    ),
    ("aws:rds:Instance", "multiAz", "MultiAZ"),
    (
        "aws:elasticache:ReplicationGroup",
        "description",
        "ReplicationGroupDescription",
    ),
    (
        "aws:elasticache:ReplicationGroup",
        "parameterGroupName",
        "CacheParameterGroupName",
    ),
    (
        "aws:elasticache:ReplicationGroup",
        "subnetGroupName",
        "CacheSubnetGroupName",
    ),
    (
        "aws:elasticache:ReplicationGroup",
        "nodeType",
        "CacheNodeType",
    ),
    (
        "aws:elasticache:ReplicationGroup",
        "maintenanceWindow",
        "PreferredMaintenanceWindow",
    ),
    (
        "aws:elasticache:ReplicationGroup",
        "snapshotWindow",
        "SnapshotWindow",
    ),
    (
        "aws:elasticache:ParameterGroup",
        "name",
        "CacheParameterGroupName",
    ),
    (
        "aws:elasticache:ParameterGroup",
        "family",
        "CacheParameterGroupFamily",
    ),
    (
        "aws:elasticache:SubnetGroup",
        "name",
        "CacheSubnetGroupName",
    ),
];

/// A cairn property's CloudFormation name.
fn cfn_name(token: &str, name: &str) -> String {
    if let Some((_, _, c)) = CFN_NAMES.iter().find(|(t, n, _)| *t == token && *n == name) {
        return c.to_string();
    }
    let mut c = name.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// The reviewed differences: (cairn type, CloudFormation property, why).
/// "+" before the property: cairn replaces where CloudFormation does not
/// list it create-only; "-": CloudFormation create-only, cairn in place.
const CFN_DIFFERENCES: &[(&str, &str, &str)] = &[
    (
        "aws:eks:Cluster",
        "-EncryptionConfig",
        "EKS adds secrets encryption to a running cluster (AssociateEncryptionConfig), as \
         Terraform's aws_eks_cluster does; removing or changing it is a preview error \
         (aws::eks::encryption-config-change), not a replace",
    ),
    (
        "aws:rds:Instance",
        "+Engine",
        "cairn's type is PostgreSQL only (`postgres`); CloudFormation allows engine \
         changes between compatible engines (e.g. to Aurora) that cairn does not model",
    ),
    (
        "aws:ec2:Eip",
        "+Domain",
        "no EC2 call changes a VPC address's domain (MoveAddressToVpc only moved \
         EC2-Classic addresses, retired); Terraform's aws_eip domain is ForceNew too",
    ),
    (
        "aws:ec2:RouteTableAssociation",
        "-RouteTableId",
        "ReplaceRouteTableAssociation moves the subnet to another table in place \
         (Terraform and Pulumi update it in place too)",
    ),
    (
        "aws:ec2:SecurityGroupRule",
        "+Type",
        "CloudFormation has one type per direction (SecurityGroupIngress, \
         SecurityGroupEgress): a new direction is a new rule",
    ),
    (
        "aws:elasticache:ParameterGroup",
        "+CacheParameterGroupName",
        "CloudFormation's schema has the name as primary identifier, not create-only; \
         ElastiCache has no rename call, so a new name is a new group",
    ),
    (
        "aws:elasticache:ParameterGroup",
        "+Description",
        "ModifyCacheParameterGroup takes parameters only: no API call changes the \
         description (Terraform's description is ForceNew too)",
    ),
];

/// Every type's replace-on-change properties match the createOnlyProperties
/// of AWS's CloudFormation schema (from cfn-lint in the emulator's venv),
/// except the reviewed differences above.
#[test]
fn replace_on_change_matches_cloudformation_create_only() {
    let venv = cairn_emulator::ensure_venv().expect("the emulator's venv (with cfn-lint)");
    let script = r#"
import json, os, sys
import cfnlint.data.schemas as m
d = os.path.dirname(m.__file__)
# providers/<region>.json names each type's schema file under resources/.
with open(os.path.join(d, "providers", "us-east-1.json")) as f:
    index = json.load(f)
out = {}
for t in sys.argv[1:]:
    with open(os.path.join(d, "resources", index[t] + ".json")) as f:
        s = json.load(f)
    out[t] = [p.split("/")[2] for p in s.get("createOnlyProperties", [])]
print(json.dumps(out))
"#;
    let cfn_types: Vec<&str> = CFN_TYPES.iter().filter_map(|(_, c)| *c).collect();
    let out = std::process::Command::new(venv.join("bin/python"))
        .arg("-c")
        .arg(script)
        .args(&cfn_types)
        .output()
        .expect("run the venv's python");
    assert!(
        out.status.success(),
        "reading the CloudFormation schemas failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let create_only: std::collections::BTreeMap<String, Vec<String>> =
        serde_json::from_slice(&out.stdout).expect("schema JSON");
    let mut reg = Registry::new();
    register_with(
        &mut reg,
        Arc::new(AwsClients::lazy(Some("http://127.0.0.1:9"))),
    );
    let mut tokens: Vec<&str> = reg.tokens().filter(|t| t.starts_with("aws:")).collect();
    tokens.sort();
    let mut found = Vec::new();
    for token in tokens {
        let cfn = CFN_TYPES
            .iter()
            .find(|(t, _)| *t == token)
            .unwrap_or_else(|| panic!("{token}: add it to CFN_TYPES"))
            .1;
        let Some(cfn) = cfn else { continue };
        let schema = reg.schema(token).unwrap();
        let ours: std::collections::BTreeSet<String> = schema
            .properties
            .iter()
            // `region` (per resource, from `options.provider`) is no
            // CloudFormation property: a CloudFormation stack is regional.
            .filter(|p| p.replace_on_change && p.name != "region")
            .map(|p| cfn_name(token, &p.name))
            .collect();
        // Only what cairn models: a CloudFormation property cairn lacks is not a difference.
        let modelled: std::collections::BTreeSet<String> = schema
            .properties
            .iter()
            .map(|p| cfn_name(token, &p.name))
            .collect();
        let theirs: std::collections::BTreeSet<String> = create_only[cfn]
            .iter()
            .filter(|p| modelled.contains(*p))
            .cloned()
            .collect();
        for p in ours.difference(&theirs) {
            found.push((token.to_string(), format!("+{p}")));
        }
        for p in theirs.difference(&ours) {
            found.push((token.to_string(), format!("-{p}")));
        }
    }
    let reviewed: Vec<(String, String)> = CFN_DIFFERENCES
        .iter()
        .map(|(t, p, _)| (t.to_string(), p.to_string()))
        .collect();
    let unreviewed: Vec<_> = found.iter().filter(|f| !reviewed.contains(f)).collect();
    let stale: Vec<_> = reviewed.iter().filter(|r| !found.contains(r)).collect();
    assert!(
        unreviewed.is_empty() && stale.is_empty(),
        "differences from CloudFormation's createOnlyProperties not in CFN_DIFFERENCES: {unreviewed:#?}\nlisted but no longer different: {stale:#?}"
    );
}

/// A secret of another resource scheduled for deletion is refused, naming
/// the owner its cairn:urn tag names.
#[tokio::test]
async fn scheduled_secret_of_another_owner_is_refused_naming_it() {
    let env = setup().await;
    let sp = env.p("aws:secretsmanager:Secret");
    let inputs =
        map(serde_json::json!({"name": format!("owned-{}", env.tag), "recoveryWindowInDays": 7}));
    let owner = env.ctx("first");
    let made = sp.create(&owner, &inputs).await.unwrap();
    sp.delete(&owner, &made.id, &inputs, &made.outputs)
        .await
        .unwrap();
    let err = sp
        .create(&env.ctx("second"), &inputs)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(&format!("cairn:urn={}", owner.urn)), "{err}");
}

/// A security group hidden for 1.5 s after its create: its rules are still
/// applied and it reads back at once.
#[tokio::test]
async fn new_security_group_not_yet_visible_is_waited_for() {
    let env = setup().await;
    env._emulator.set_hide_new_ms(1500).await.unwrap();
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk_config().await);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.1.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc_id = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    let p = env.p("aws:ec2:SecurityGroup");
    let ctx = env.ctx("hidden-sg");
    let inputs = map(serde_json::json!({
        "name": format!("hidden-{}", env.tag),
        "description": "hidden at first",
        "vpcId": vpc_id,
        "ingress": [{"protocol": "tcp", "fromPort": 6379, "toPort": 6379, "cidrBlocks": ["10.1.1.0/24"]}]
    }));
    let created = p
        .create(&ctx, &inputs)
        .await
        .expect("create a group not yet visible");
    let seen = p
        .read(&ctx, &created.id, &inputs)
        .await
        .unwrap()
        .expect("reads back");
    assert_eq!(
        seen.inputs["ingress"],
        inputs["ingress"].clone(),
        "{seen:?}"
    );
}
