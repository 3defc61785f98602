//! The Redis stacks end to end against the local AWS emulator (moto + real
//! redis-server twins), checked independently through the real AWS SDK.

use super::common::{free_port, sdk_config, Sandbox};
use aws_sdk_elasticache::error::DisplayErrorContext;
use aws_sdk_elasticache::Client as ElastiCache;
use std::path::PathBuf;
use std::process::Command;

/// An emulator daemon private to one test, stopped on drop.
struct Local {
    sb: Sandbox,
    port: u16,
    emulator_state: PathBuf,
}

impl Local {
    fn new() -> Local {
        let port = free_port();
        let sb = Sandbox::new();
        let emulator_state = sb.dir.path().join("emulator");
        let sb = sb
            .with_env("LOCAL_AWS_PORT", &port.to_string())
            .with_env(
                "CAIRN_EMULATOR_STATE",
                &emulator_state.display().to_string(),
            )
            .with_env("CAIRN_EMULATOR_DELAY_MS", "300")
            .with_env("CAIRN_AWS_POLL_MS", "150");
        Local {
            sb,
            port,
            emulator_state,
        }
    }

    fn cairn(&self, args: &[&str]) -> super::common::Run {
        let mut all = args.to_vec();
        all.push("--local");
        self.sb.run(&all)
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn sdk(&self) -> aws_config::SdkConfig {
        sdk_config(&self.endpoint()).await
    }

    async fn emulator(&self) -> cairn_emulator::Emulator {
        cairn_emulator::Emulator::attach(self.port, self.emulator_state.clone())
            .await
            .expect("attach emulator")
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        let _ = self.sb.command(&["emulator", "stop"]).output();
    }
}

/// The group, or `None` only when ElastiCache says it does not exist; any
/// other error fails the test (a denied or broken call is not "deleted").
async fn replication_group(
    ec: &ElastiCache,
    id: &str,
) -> Option<aws_sdk_elasticache::types::ReplicationGroup> {
    match ec
        .describe_replication_groups()
        .replication_group_id(id)
        .send()
        .await
    {
        Ok(out) => Some(
            out.replication_groups
                .and_then(|g| g.into_iter().next())
                .unwrap_or_else(|| {
                    panic!("DescribeReplicationGroups {id}: answer without the group")
                }),
        ),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_replication_group_not_found_fault()) =>
        {
            None
        }
        Err(e) => panic!(
            "DescribeReplicationGroups {id}: {}",
            DisplayErrorContext(&e)
        ),
    }
}

/// An endpoint on 127.0.0.1 that answers every request with a query-protocol
/// `AccessDenied` error (HTTP 403). Returns its URL.
fn access_denied_endpoint() -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut length = 0usize;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let xml = "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>\
                       <Message>not authorized</Message></Error><RequestId>r</RequestId></ErrorResponse>";
            let _ = write!(
                reader.get_mut(),
                "HTTP/1.1 403 Forbidden\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}",
                xml.len()
            );
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread")]
#[should_panic(expected = "AccessDenied")]
async fn a_describe_error_other_than_not_found_is_not_taken_for_deleted() {
    let sdk = sdk_config(&access_denied_endpoint()).await;
    let gone = replication_group(&ElastiCache::new(&sdk), "qualisys-redis-prod").await;
    eprintln!("returned {gone:?} instead of failing");
}

#[tokio::test(flavor = "multi_thread")]
async fn prod_from_empty_meets_every_criterion_then_updates_replaces_and_destroys() {
    let local = Local::new();
    // From empty: `up --local` brings up `network-prod`, which it references, first.
    let up = local.cairn(&["up", "--yes", "--stack", "prod"]).ok();
    assert!(
        up.stderr
            .contains("local: bringing up stack `network-prod` (stacks/network-prod.yaml) first"),
        "{}",
        up.stderr
    );
    let sdk = local.sdk().await;
    let ec = ElastiCache::new(&sdk);

    // AC1–AC6 from DescribeReplicationGroups / DescribeCacheClusters.
    let rg = replication_group(&ec, "qualisys-redis-prod")
        .await
        .expect("replication group exists");
    assert_eq!(rg.status(), Some("available"));
    assert_eq!(rg.cache_node_type(), Some("cache.r5.large"));
    let groups = rg.node_groups();
    assert_eq!(groups.len(), 2, "NumNodeGroups = 2");
    for g in groups {
        assert_eq!(
            g.node_group_members().len(),
            2,
            "1 primary + 1 replica per shard"
        );
    }
    assert_eq!(rg.automatic_failover().map(|f| f.as_str()), Some("enabled"));
    assert_eq!(rg.multi_az().map(|f| f.as_str()), Some("enabled"));
    assert_eq!(rg.transit_encryption_enabled(), Some(true));
    assert_eq!(rg.at_rest_encryption_enabled(), Some(true));
    assert_eq!(rg.auth_token_enabled(), Some(true));
    let outputs = local
        .cairn(&["stack", "output", "--json", "--stack", "prod"])
        .ok();
    let outputs: serde_json::Value = serde_json::from_str(&outputs.stdout).expect("outputs json");
    let key_arn = outputs["kmsKeyArn"].as_str().expect("key arn").to_string();
    assert_eq!(
        rg.kms_key_id(),
        Some(key_arn.as_str()),
        "at rest with the customer key"
    );
    let member = rg
        .member_clusters()
        .first()
        .expect("a member cluster")
        .clone();
    let clusters = ec
        .describe_cache_clusters()
        .cache_cluster_id(&member)
        .send()
        .await
        .expect("describe cache clusters");
    let version = clusters.cache_clusters()[0]
        .engine_version()
        .unwrap_or("")
        .to_string();
    assert!(version.starts_with('7'), "engine 7.x, got {version}");

    // AC9: the parameter group.
    let params = ec
        .describe_cache_parameters()
        .cache_parameter_group_name("qualisys-redis7-prod")
        .send()
        .await
        .expect("describe parameters");
    let policy = params
        .parameters()
        .iter()
        .find(|p| p.parameter_name() == Some("maxmemory-policy"));
    assert_eq!(
        policy.and_then(|p| p.parameter_value()),
        Some("allkeys-lru")
    );
    assert_eq!(rg.cache_node_type(), Some("cache.r5.large"));

    // AC7: the secret's JSON, and its connection_uri works against the twin.
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let secret = sm
        .get_secret_value()
        .secret_id("qualisys/prod/redis/connection")
        .send()
        .await
        .expect("secret");
    let secret_arn = secret.arn().expect("secret arn").to_string();
    let json: serde_json::Value =
        serde_json::from_str(secret.secret_string().expect("string")).expect("secret json");
    for field in [
        "primary_endpoint",
        "reader_endpoint",
        "port",
        "auth_token",
        "ssl_enabled",
        "connection_uri",
    ] {
        assert!(!json[field].is_null(), "secret field {field}");
    }
    let token = json["auth_token"].as_str().expect("token");
    assert_eq!(token.len(), 64);
    assert!(token.chars().all(|c| c.is_ascii_alphanumeric()));
    let uri = json["connection_uri"].as_str().expect("uri");
    assert_eq!(
        uri,
        format!(
            "rediss://default:{token}@{}:{}",
            json["primary_endpoint"].as_str().unwrap_or(""),
            json["port"]
        )
    );
    let twin = local
        .emulator()
        .await
        .twin("qualisys-redis-prod")
        .await
        .expect("twin")
        .expect("a twin runs");
    let ca = twin.ca_path.expect("twin CA");
    // An operator logs in with the secret's own URI: redis-cli 7.0 sends
    // `AUTH "" token` for `rediss://:token@`, so the URI names the `default` user.
    let pong = Command::new("redis-cli")
        .args(["-u", uri, "--tls", "--cacert", &ca.display().to_string()])
        .args(["-c", "--no-auth-warning", "PING"])
        .output()
        .expect("redis-cli");
    assert_eq!(
        String::from_utf8_lossy(&pong.stdout).trim(),
        "PONG",
        "{}",
        String::from_utf8_lossy(&pong.stderr)
    );

    // The IAM policy is scoped to the secret's ARN.
    let iam = aws_sdk_iam::Client::new(&sdk);
    let policy_arn = outputs["readPolicyArn"].as_str().expect("policy arn");
    let p = iam
        .get_policy()
        .policy_arn(policy_arn)
        .send()
        .await
        .expect("policy");
    let version = p
        .policy()
        .and_then(|p| p.default_version_id())
        .expect("default version")
        .to_string();
    let doc = iam
        .get_policy_version()
        .policy_arn(policy_arn)
        .version_id(version)
        .send()
        .await
        .expect("version");
    let text = doc
        .policy_version()
        .and_then(|v| v.document())
        .expect("document")
        .to_string();
    let text = urlencoding_decode(&text);
    let doc: serde_json::Value = serde_json::from_str(&text).expect("policy json");
    assert_eq!(doc["Statement"][0]["Resource"], secret_arn.as_str());
    assert!(!text.contains("\"*\""), "no wildcard: {text}");

    // A second up makes zero mutating API calls.
    let emulator = local.emulator().await;
    emulator.reset_call_counts().await.expect("reset");
    let again = local.cairn(&["up", "--yes", "--stack", "prod"]).ok();
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    let mutating = emulator.mutating_call_counts().await.expect("counts");
    let mutating: Vec<_> = mutating
        .into_iter()
        .filter(|(k, _)| !k.starts_with("ec2:") || !k.contains("Describe"))
        .collect();
    assert!(
        mutating.is_empty(),
        "mutating calls on a no-op up: {mutating:?}"
    );

    // A node type change updates in place.
    let resize = local
        .cairn(&[
            "up",
            "--yes",
            "--stack",
            "prod",
            "--config",
            "nodeType=cache.r5.xlarge",
        ])
        .ok();
    assert!(
        resize
            .stdout
            .contains("~ redis (aws:elasticache:ReplicationGroup) update"),
        "{}",
        resize.stdout
    );
    let rg = replication_group(&ec, "qualisys-redis-prod")
        .await
        .expect("still there");
    assert_eq!(rg.cache_node_type(), Some("cache.r5.xlarge"));

    // A port change replaces, and says why.
    let port = local
        .cairn(&[
            "preview",
            "--stack",
            "prod",
            "--config",
            "nodeType=cache.r5.xlarge",
            "--config",
            "redisPort=6380",
        ])
        .ok();
    assert!(
        port.stdout
            .contains("± redis (aws:elasticache:ReplicationGroup) replace"),
        "{}",
        port.stdout
    );
    assert!(
        port.stdout.contains("replaced because port changed"),
        "{}",
        port.stdout
    );

    // destroy removes everything the stack made; the network stack's objects stay.
    local
        .cairn(&[
            "destroy",
            "--yes",
            "--stack",
            "prod",
            "--config",
            "nodeType=cache.r5.xlarge",
        ])
        .ok();
    assert!(
        replication_group(&ec, "qualisys-redis-prod")
            .await
            .is_none(),
        "replication group deleted"
    );
    match ec
        .describe_cache_parameter_groups()
        .cache_parameter_group_name("qualisys-redis7-prod")
        .send()
        .await
    {
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_cache_parameter_group_not_found_fault()) => {}
        other => panic!("parameter group not deleted: {other:?}"),
    }
    match sm.describe_secret().secret_id(&secret_arn).send().await {
        Ok(s) => assert!(s.deleted_date().is_some(), "secret scheduled for deletion"),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) => {}
        Err(e) => panic!("DescribeSecret: {}", DisplayErrorContext(&e)),
    }
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let sgs = ec2
        .describe_security_groups()
        .group_names("qualisys-redis-prod")
        .send()
        .await
        .expect("sg");
    assert_eq!(
        sgs.security_groups().len(),
        1,
        "the network stack's security group is kept"
    );
    let subnets = ec
        .describe_cache_subnet_groups()
        .cache_subnet_group_name("qualisys-redis-prod")
        .send()
        .await
        .expect("the network stack's subnet group is kept");
    assert_eq!(subnets.cache_subnet_groups().len(), 1);
    let list = local.cairn(&["state", "list", "--stack", "prod"]).ok();
    assert_eq!(
        list.stdout.lines().count(),
        0,
        "nothing stays in the Redis stack's state: {}",
        list.stdout
    );
}

/// IAM returns policy documents URL-encoded.
fn urlencoding_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The Redis stack takes its network from `network-dev` by reference: a
/// preview before that stack exists is a diagnostic naming it; once it is
/// up, the plan reads its subnet group and security group, known at preview.
#[tokio::test(flavor = "multi_thread")]
async fn the_dev_stack_reads_its_network_by_reference() {
    let local = Local::new();
    let before = local.cairn(&["preview", "--stack", "dev"]);
    assert_eq!(before.code, Some(2), "{}", before.all());
    assert!(
        before.stderr.contains("cairn::stack_reference::missing")
            && before.stderr.contains("`network-dev`"),
        "names the missing network stack: {}",
        before.stderr
    );
    local.cairn(&["up", "--yes", "--stack", "network-dev"]).ok();
    let outputs = local
        .cairn(&["stack", "output", "--json", "--stack", "network-dev"])
        .ok();
    let net: serde_json::Value = serde_json::from_str(&outputs.stdout).expect("outputs json");
    let sg = net["elasticacheSecurityGroupId"].as_str().expect("sg id");
    let preview = local.cairn(&["preview", "--stack", "dev", "--json"]).ok();
    let plan: serde_json::Value = serde_json::from_str(&preview.stdout).expect("plan json");
    let text = plan.to_string();
    assert!(
        text.contains(sg) && text.contains("qualisys-redis-dev"),
        "the plan uses the network's group {sg} and subnet group: {}",
        preview.stdout
    );
    for gone in ["redisSecurityGroup", "redisSubnetGroup"] {
        assert!(
            !text.contains(gone),
            "{gone} in the plan: {}",
            preview.stdout
        );
    }
    assert_eq!(
        plan["summary"]["import"], 0,
        "nothing imported: {}",
        preview.stdout
    );
}

/// Snapshot settings that blank out random cloud ids and ports.
fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots/plans");
    settings.set_prepend_module_to_snapshot(false);
    for (pattern, replacement) in [
        (r"sg-[0-9a-f]{8,}", "sg-[id]"),
        (r"vpc-[0-9a-f]{8,}", "vpc-[id]"),
        (r"subnet-[0-9a-f]{8,}", "subnet-[id]"),
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "[uuid]",
        ),
        (r"secret:([a-z/]+)-[A-Za-z0-9]{6}", "secret:$1-[suffix]"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
        (r#""port": \d{4,5}"#, r#""port": [port]"#),
        (r"port: \d{4,5} =>", "port: [port] =>"),
    ] {
        settings.add_filter(pattern, replacement);
    }
    settings
}

#[tokio::test(flavor = "multi_thread")]
async fn prod_plans_in_markdown_and_json_including_drift() {
    let local = Local::new();
    let settings = snapshot_settings();
    // The plan reads the network stack's outputs: it is up first.
    local
        .cairn(&["up", "--yes", "--stack", "network-prod"])
        .ok();
    let create_md = local
        .cairn(&["preview", "--stack", "prod", "--format", "markdown"])
        .ok();
    let create_json = local
        .cairn(&["preview", "--stack", "prod", "--format", "json"])
        .ok();
    local.cairn(&["up", "--yes", "--stack", "prod"]).ok();
    let resize_md = local
        .cairn(&[
            "preview",
            "--stack",
            "prod",
            "--format",
            "markdown",
            "--config",
            "nodeType=cache.r5.xlarge",
        ])
        .ok();
    let resize_json = local
        .cairn(&[
            "preview",
            "--stack",
            "prod",
            "--json",
            "--config",
            "nodeType=cache.r5.xlarge",
        ])
        .ok();
    let port_md = local
        .cairn(&[
            "preview",
            "--stack",
            "prod",
            "--format",
            "markdown",
            "--config",
            "redisPort=6380",
        ])
        .ok();
    let port_json = local
        .cairn(&[
            "preview",
            "--stack",
            "prod",
            "--json",
            "--config",
            "redisPort=6380",
        ])
        .ok();

    // Out of band: someone switches the eviction policy through the AWS API.
    let sdk = local.sdk().await;
    let ec = ElastiCache::new(&sdk);
    ec.modify_cache_parameter_group()
        .cache_parameter_group_name("qualisys-redis7-prod")
        .parameter_name_values(
            aws_sdk_elasticache::types::ParameterNameValue::builder()
                .parameter_name("maxmemory-policy")
                .parameter_value("volatile-lru")
                .build(),
        )
        .send()
        .await
        .expect("out-of-band change");
    let drift_text = local
        .cairn(&["preview", "--stack", "prod", "--refresh"])
        .ok();
    assert!(
        drift_text
            .stdout
            .contains("~ redisParameters (aws:elasticache:ParameterGroup) changed outside cairn"),
        "{}",
        drift_text.stdout
    );
    assert!(
        drift_text.stdout.contains("volatile-lru"),
        "{}",
        drift_text.stdout
    );
    let drift_md = local
        .cairn(&[
            "preview",
            "--stack",
            "prod",
            "--refresh",
            "--format",
            "markdown",
        ])
        .ok();
    let drift_json = local
        .cairn(&["preview", "--stack", "prod", "--refresh", "--json"])
        .ok();
    let json: serde_json::Value = serde_json::from_str(&drift_json.stdout).expect("json");
    assert_eq!(json["drift"][0]["name"], "redisParameters");
    assert!(drift_md.stdout.contains("Drift"), "{}", drift_md.stdout);

    settings.bind(|| {
        insta::assert_snapshot!("prod-create.md", create_md.stdout);
        insta::assert_snapshot!("prod-create.json", create_json.stdout);
        insta::assert_snapshot!("prod-node-type.md", resize_md.stdout);
        insta::assert_snapshot!("prod-node-type.json", resize_json.stdout);
        insta::assert_snapshot!("prod-port.md", port_md.stdout);
        insta::assert_snapshot!("prod-port.json", port_json.stdout);
        insta::assert_snapshot!("prod-drift.txt", drift_text.stdout);
        insta::assert_snapshot!("prod-drift.md", drift_md.stdout);
        insta::assert_snapshot!("prod-drift.json", drift_json.stdout);
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_is_all_pass_on_prod_and_the_drill_reports_recovery() {
    let local = Local::new();
    local.cairn(&["up", "--yes", "--stack", "prod"]).ok();
    let table = local.cairn(&["verify", "--stack", "prod"]).ok();
    for id in [
        "AC1", "AC2", "AC3", "AC4", "AC5", "AC6", "AC7", "AC8", "AC9", "AC10", "DP1", "DP2", "DP3",
        "DP4", "DP5",
    ] {
        assert!(
            table.stdout.contains(id),
            "{id} in the table:\n{}",
            table.stdout
        );
    }
    let run = local
        .cairn(&["verify", "--stack", "prod", "--json", "--failover-drill"])
        .ok();
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("verify json");
    assert_eq!(report["ok"], true, "{}", run.stdout);
    for row in report["rows"].as_array().expect("rows") {
        assert_eq!(
            row["status"].as_str().map(str::to_lowercase).as_deref(),
            Some("pass"),
            "{row}"
        );
    }
    let drill = &report["drill"];
    assert!(
        drill["recovery_secs"].as_f64().is_some_and(|s| s > 0.0),
        "{drill}"
    );
    assert_eq!(drill["lost_writes"], 0, "{drill}");

    // Break it out of band: open the security group to the world.
    let sdk = local.sdk().await;
    let outputs = local
        .cairn(&["stack", "output", "--json", "--stack", "network-prod"])
        .ok();
    let net: serde_json::Value = serde_json::from_str(&outputs.stdout).expect("outputs json");
    let sg = net["elasticacheSecurityGroupId"].as_str().expect("sg id");
    aws_sdk_ec2::Client::new(&sdk)
        .authorize_security_group_ingress()
        .group_id(sg)
        .ip_protocol("tcp")
        .from_port(6379)
        .to_port(6379)
        .cidr_ip("0.0.0.0/0")
        .send()
        .await
        .expect("open the group");
    let broken = local.cairn(&["verify", "--stack", "prod", "--json"]);
    assert_eq!(broken.code, Some(1), "{}", broken.all());
    let report: serde_json::Value = serde_json::from_str(&broken.stdout).expect("verify json");
    let failed: Vec<&str> = report["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["status"].as_str().map(str::to_lowercase).as_deref() == Some("fail"))
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(failed, vec!["AC8"], "{}", broken.stdout);
}

/// The highest verbosity leaks nothing: `up`, `refresh` and `verify` with
/// `-vvv` and `CAIRN_LOG=trace` (the SDK's request and response logs, the
/// data-plane checks that log in with the token) never print the auth token
/// or the connection URI. Guards the SDK's own redaction across upgrades and
/// every new log line.
#[tokio::test(flavor = "multi_thread")]
async fn the_auth_token_is_in_no_output_at_trace_verbosity() {
    let mut local = Local::new();
    local.sb.env.push(("CAIRN_LOG".into(), "trace".into()));
    let mut printed = String::new();
    for args in [
        &["up", "--yes", "-vvv", "--stack", "prod"][..],
        &["refresh", "-vvv", "--stack", "prod"],
        &["verify", "-vvv", "--stack", "prod"],
    ] {
        let run = local.cairn(args);
        assert_eq!(run.code, Some(0), "{args:?}:\n{}", run.stderr);
        printed.push_str(&run.all());
    }
    assert!(
        printed.contains("TRACE") && printed.len() > 100_000,
        "trace logs were printed ({} bytes)",
        printed.len()
    );
    let sdk = local.sdk().await;
    let secret = aws_sdk_secretsmanager::Client::new(&sdk)
        .get_secret_value()
        .secret_id("qualisys/prod/redis/connection")
        .send()
        .await
        .expect("GetSecretValue");
    let json: serde_json::Value =
        serde_json::from_str(secret.secret_string().expect("string")).expect("secret json");
    let token = json["auth_token"].as_str().expect("auth_token").to_string();
    let uri = json["connection_uri"].as_str().expect("uri").to_string();
    assert!(token.len() >= 16, "a real token");
    let needles = [("auth token", token), ("connection URI", uri)];
    // verify read the secret and printed its URI masked.
    assert!(printed.contains("rediss://:[secret]@"), "AC7's masked URI");
    for (what, needle) in &needles {
        let n = printed.matches(needle.as_str()).count();
        assert_eq!(n, 0, "the {what} appears {n} times in -vvv/trace output");
    }
}
