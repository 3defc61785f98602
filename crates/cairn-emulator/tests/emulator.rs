//! Integration tests: real HTTP against a started emulator (moto 5.2.5 + cairn_moto),
//! raw unsigned Query requests for ElastiCache, boto3 (inside the emulator venv) for the
//! other services, and redis-cli against the local twin.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cairn_emulator::{
    daemon_start, daemon_status, daemon_stop, ensure_venv, is_mutating, seed_network_fixture,
    Emulator, EmulatorConfig,
};

const DELAY_MS: u64 = 200;
const TOKEN: &str = "correct-horse-battery-staple-1";
const TOKEN2: &str = "second-token-for-rotation-22";

// ------------------------------------------------------------------ helpers

async fn ec(emu: &Emulator, action: &str, params: &[(&str, &str)]) -> (u16, String) {
    let mut p = vec![("Action", action), ("Version", "2015-02-02")];
    p.extend_from_slice(params);
    emu.aws_query("elasticache", &p).await.expect("query")
}

async fn ec_ok(emu: &Emulator, action: &str, params: &[(&str, &str)]) -> String {
    let (status, body) = ec(emu, action, params).await;
    assert_eq!(status, 200, "{action} failed: {body}");
    body
}

async fn ec_err(emu: &Emulator, action: &str, params: &[(&str, &str)]) -> (u16, String) {
    let (status, body) = ec(emu, action, params).await;
    assert_ne!(status, 200, "{action} unexpectedly succeeded: {body}");
    (
        status,
        tag(&body, "Code").unwrap_or_else(|| panic!("no error code in {body}")),
    )
}

/// Text of every `<name>...</name>` element (no nesting of the same name assumed).
fn tags(xml: &str, name: &str) -> Vec<String> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(after[..j].to_string());
        rest = &after[j + close.len()..];
    }
    out
}

fn tag(xml: &str, name: &str) -> Option<String> {
    tags(xml, name).into_iter().next()
}

async fn rg_status(emu: &Emulator, id: &str) -> Result<String, String> {
    let (status, body) = ec(
        emu,
        "DescribeReplicationGroups",
        &[("ReplicationGroupId", id)],
    )
    .await;
    if status != 200 {
        return Err(tag(&body, "Code").unwrap_or(body));
    }
    Ok(tag(&body, "Status").expect("status"))
}

/// Poll until the group's status is `want` ("gone" = ReplicationGroupNotFoundFault);
/// returns every status seen on the way.
async fn wait_status(emu: &Emulator, id: &str, want: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen: Vec<String> = Vec::new();
    loop {
        let s = match rg_status(emu, id).await {
            Ok(s) => s,
            Err(code) => {
                assert_eq!(code, "ReplicationGroupNotFoundFault");
                "gone".to_string()
            }
        };
        if seen.last() != Some(&s) {
            seen.push(s.clone());
        }
        if s == want {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {id} -> {want}; saw {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

fn python(emu_venv: &Path, script: &str, endpoint: &str) -> String {
    let out = Command::new(emu_venv.join("bin/python"))
        .args(["-c", script, endpoint])
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "python failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .expect("redis-cli");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn count_lines(text: &str, line: &str) -> usize {
    text.lines().filter(|l| l.trim() == line).count()
}

fn tls_cli(port: u16, ca: &Path, token: &str, cmd: &[&str]) -> String {
    let ca = ca.to_str().unwrap();
    let mut args = vec![
        "--tls",
        "--cacert",
        ca,
        "-a",
        token,
        "--no-auth-warning",
        "-c",
    ];
    args.extend_from_slice(cmd);
    redis_cli(port, &args)
}

// ------------------------------------------------------------------ tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_groups_replication_group_lifecycle_and_call_counts() {
    let emu = Emulator::start_ephemeral(DELAY_MS, false)
        .await
        .expect("start emulator");

    // --- parameter groups
    let body = ec_ok(
        &emu,
        "CreateCacheParameterGroup",
        &[
            ("CacheParameterGroupName", "app-redis7"),
            ("CacheParameterGroupFamily", "redis7"),
            ("Description", "app"),
        ],
    )
    .await;
    assert_eq!(
        tag(&body, "CacheParameterGroupFamily").as_deref(),
        Some("redis7")
    );
    assert!(tag(&body, "ARN")
        .unwrap()
        .ends_with(":parametergroup:app-redis7"));
    let create_again = [
        ("CacheParameterGroupName", "app-redis7"),
        ("CacheParameterGroupFamily", "redis7"),
        ("Description", "app"),
    ];
    assert_eq!(
        ec_err(&emu, "CreateCacheParameterGroup", &create_again)
            .await
            .1,
        "CacheParameterGroupAlreadyExists"
    );
    assert_eq!(
        ec_err(
            &emu,
            "DescribeCacheParameters",
            &[("CacheParameterGroupName", "nope")]
        )
        .await,
        (404, "CacheParameterGroupNotFound".to_string())
    );

    let groups = ec_ok(&emu, "DescribeCacheParameterGroups", &[]).await;
    let names = tags(&groups, "CacheParameterGroupName");
    for n in ["default.redis7", "default.redis7.cluster.on", "app-redis7"] {
        assert!(names.contains(&n.to_string()), "{names:?}");
    }

    // defaults
    let params = ec_ok(
        &emu,
        "DescribeCacheParameters",
        &[("CacheParameterGroupName", "app-redis7")],
    )
    .await;
    let param = |xml: &str, name: &str| -> (Option<String>, String) {
        let start = xml
            .find(&format!("<ParameterName>{name}</ParameterName>"))
            .expect(name);
        let chunk = &xml[start..];
        let chunk = &chunk[..chunk.find("</Parameter>").unwrap()];
        (tag(chunk, "ParameterValue"), tag(chunk, "Source").unwrap())
    };
    assert_eq!(
        param(&params, "maxmemory-policy"),
        (Some("volatile-lru".into()), "system".into())
    );
    assert_eq!(
        param(&params, "tcp-keepalive"),
        (Some("300".into()), "system".into())
    );
    assert_eq!(
        param(&params, "timeout"),
        (Some("0".into()), "system".into())
    );
    assert_eq!(
        param(&params, "cluster-enabled"),
        (Some("no".into()), "system".into())
    );
    assert_eq!(
        param(&params, "reserved-memory-percent"),
        (Some("25".into()), "system".into())
    );
    assert_eq!(param(&params, "notify-keyspace-events").1, "system");
    assert!(params.contains("<CacheNodeTypeSpecificParameters>"));

    // modify: valid values, then invalid ones
    ec_ok(
        &emu,
        "ModifyCacheParameterGroup",
        &[
            ("CacheParameterGroupName", "app-redis7"),
            (
                "ParameterNameValues.ParameterNameValue.1.ParameterName",
                "maxmemory-policy",
            ),
            (
                "ParameterNameValues.ParameterNameValue.1.ParameterValue",
                "allkeys-lru",
            ),
            (
                "ParameterNameValues.ParameterNameValue.2.ParameterName",
                "cluster-enabled",
            ),
            (
                "ParameterNameValues.ParameterNameValue.2.ParameterValue",
                "yes",
            ),
            (
                "ParameterNameValues.ParameterNameValue.3.ParameterName",
                "notify-keyspace-events",
            ),
            (
                "ParameterNameValues.ParameterNameValue.3.ParameterValue",
                "Ex",
            ),
            (
                "ParameterNameValues.ParameterNameValue.4.ParameterName",
                "timeout",
            ),
            (
                "ParameterNameValues.ParameterNameValue.4.ParameterValue",
                "300",
            ),
        ],
    )
    .await;
    let modify_one = |name: &'static str, value: &'static str| {
        [
            ("CacheParameterGroupName", "app-redis7"),
            (
                "ParameterNameValues.ParameterNameValue.1.ParameterName",
                name,
            ),
            (
                "ParameterNameValues.ParameterNameValue.1.ParameterValue",
                value,
            ),
        ]
    };
    for (name, value) in [
        ("maxmemory-policy", "evict-everything"),
        ("maxmemory", "1024"),
        ("timeout", "5"),
        ("no-such-param", "1"),
        ("notify-keyspace-events", "Q"),
    ] {
        assert_eq!(
            ec_err(&emu, "ModifyCacheParameterGroup", &modify_one(name, value))
                .await
                .1,
            "InvalidParameterValue",
            "{name}={value}"
        );
    }
    let mut too_many: Vec<(String, String)> =
        vec![("CacheParameterGroupName".into(), "app-redis7".into())];
    for i in 1..=21 {
        too_many.push((
            format!("ParameterNameValues.ParameterNameValue.{i}.ParameterName"),
            "timeout".into(),
        ));
        too_many.push((
            format!("ParameterNameValues.ParameterNameValue.{i}.ParameterValue"),
            "0".into(),
        ));
    }
    let too_many: Vec<(&str, &str)> = too_many
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        ec_err(&emu, "ModifyCacheParameterGroup", &too_many).await.1,
        "InvalidParameterValue"
    );
    assert_eq!(
        ec_err(
            &emu,
            "ModifyCacheParameterGroup",
            &[
                ("CacheParameterGroupName", "default.redis7"),
                (
                    "ParameterNameValues.ParameterNameValue.1.ParameterName",
                    "timeout"
                ),
                (
                    "ParameterNameValues.ParameterNameValue.1.ParameterValue",
                    "0"
                ),
            ]
        )
        .await
        .1,
        "InvalidParameterValue"
    );

    let user = ec_ok(
        &emu,
        "DescribeCacheParameters",
        &[
            ("CacheParameterGroupName", "app-redis7"),
            ("Source", "user"),
        ],
    )
    .await;
    let mut user_names = tags(&user, "ParameterName");
    user_names.sort();
    assert_eq!(
        user_names,
        [
            "cluster-enabled",
            "maxmemory-policy",
            "notify-keyspace-events",
            "timeout"
        ]
    );

    // reset one parameter, then check
    ec_ok(
        &emu,
        "ResetCacheParameterGroup",
        &[
            ("CacheParameterGroupName", "app-redis7"),
            (
                "ParameterNameValues.ParameterNameValue.1.ParameterName",
                "timeout",
            ),
        ],
    )
    .await;
    let params = ec_ok(
        &emu,
        "DescribeCacheParameters",
        &[("CacheParameterGroupName", "app-redis7")],
    )
    .await;
    assert_eq!(
        param(&params, "timeout"),
        (Some("0".into()), "system".into())
    );
    assert_eq!(
        param(&params, "maxmemory-policy"),
        (Some("allkeys-lru".into()), "user".into())
    );
    assert_eq!(
        ec_err(
            &emu,
            "ResetCacheParameterGroup",
            &[("CacheParameterGroupName", "app-redis7")]
        )
        .await
        .1,
        "InvalidParameterValue"
    );

    // --- create validation
    let base: Vec<(&str, &str)> = vec![
        ("ReplicationGroupId", "orders-cache"),
        ("ReplicationGroupDescription", "orders"),
        ("CacheNodeType", "cache.t4g.small"),
        ("Engine", "redis"),
        ("EngineVersion", "7.1"),
        ("NumNodeGroups", "2"),
        ("ReplicasPerNodeGroup", "1"),
        ("AutomaticFailoverEnabled", "true"),
        ("MultiAZEnabled", "true"),
        ("TransitEncryptionEnabled", "true"),
        ("AtRestEncryptionEnabled", "true"),
        ("KmsKeyId", "arn:aws:kms:us-east-1:123456789012:key/abc"),
        ("AuthToken", TOKEN),
        ("CacheParameterGroupName", "app-redis7"),
        ("SecurityGroupIds.SecurityGroupId.1", "sg-does-not-exist"),
        ("Port", "6379"),
        ("SnapshotRetentionLimit", "3"),
        ("SnapshotWindow", "03:00-04:00"),
        ("PreferredMaintenanceWindow", "sun:05:00-sun:06:00"),
    ];
    let with = |changes: &[(&'static str, Option<&'static str>)]| -> Vec<(&str, &str)> {
        let mut p: Vec<(&str, &str)> = base.clone();
        for (k, v) in changes {
            p.retain(|(pk, _)| pk != k);
            if let Some(v) = v {
                p.push((k, v));
            }
        }
        p
    };
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            with(&[("TransitEncryptionEnabled", Some("false"))]),
            "InvalidParameterCombination",
        ),
        (
            with(&[
                ("AutomaticFailoverEnabled", Some("false")),
                ("MultiAZEnabled", None),
            ]),
            "InvalidParameterCombination",
        ),
        (
            with(&[
                ("MultiAZEnabled", Some("true")),
                ("AutomaticFailoverEnabled", None),
            ]),
            "InvalidParameterCombination",
        ),
        (
            with(&[("CacheParameterGroupName", Some("missing-pg"))]),
            "CacheParameterGroupNotFound",
        ),
        (
            with(&[("CacheParameterGroupName", Some("default.redis7"))]),
            "InvalidParameterCombination",
        ),
        (
            with(&[("ReplicationGroupId", Some("1-starts-with-digit"))]),
            "InvalidParameterValue",
        ),
        (
            with(&[("ReplicationGroupId", Some("double--hyphen"))]),
            "InvalidParameterValue",
        ),
        (
            with(&[("AuthToken", Some("short"))]),
            "InvalidParameterValue",
        ),
        (
            with(&[("SnapshotWindow", Some("3am"))]),
            "InvalidParameterValue",
        ),
        (with(&[]), "InvalidParameterValue"), // unknown security group
    ];
    for (params, code) in &cases {
        assert_eq!(
            &ec_err(&emu, "CreateReplicationGroup", params).await.1,
            code,
            "{params:?}"
        );
    }

    // a real security group for the happy path
    let (status, vpc) = emu
        .aws_query(
            "ec2",
            &[
                ("Action", "CreateVpc"),
                ("Version", "2016-11-15"),
                ("CidrBlock", "10.9.0.0/16"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{vpc}");
    let vpc_id = tag(&vpc, "vpcId").unwrap();
    let (status, sg) = emu
        .aws_query(
            "ec2",
            &[
                ("Action", "CreateSecurityGroup"),
                ("Version", "2016-11-15"),
                ("GroupName", "orders-redis"),
                ("GroupDescription", "orders redis"),
                ("VpcId", &vpc_id),
            ],
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{sg}");
    let sg_id = tag(&sg, "groupId").unwrap();
    let mut create: Vec<(&str, &str)> = with(&[("SecurityGroupIds.SecurityGroupId.1", None)]);
    create.push(("SecurityGroupIds.SecurityGroupId.1", &sg_id));

    // --- create: creating -> available
    let body = ec_ok(&emu, "CreateReplicationGroup", &create).await;
    assert_eq!(tag(&body, "Status").as_deref(), Some("creating"));
    assert_eq!(tag(&body, "ClusterEnabled").as_deref(), Some("true"));
    assert_eq!(
        tag(&body, "CacheNodeType").as_deref(),
        Some("cache.t4g.small")
    );
    assert_eq!(tag(&body, "AuthTokenEnabled").as_deref(), Some("true"));
    assert!(!body.contains(TOKEN), "auth token must never be echoed");
    assert_eq!(tag(&body, "MultiAZ").as_deref(), Some("enabled"));
    assert_eq!(tag(&body, "AutomaticFailover").as_deref(), Some("enabled"));
    assert_eq!(
        tag(&body, "TransitEncryptionEnabled").as_deref(),
        Some("true")
    );
    assert_eq!(
        tag(&body, "AtRestEncryptionEnabled").as_deref(),
        Some("true")
    );
    assert_eq!(
        tag(&body, "KmsKeyId").as_deref(),
        Some("arn:aws:kms:us-east-1:123456789012:key/abc")
    );
    assert_eq!(tag(&body, "SnapshotRetentionLimit").as_deref(), Some("3"));
    assert_eq!(tag(&body, "SnapshotWindow").as_deref(), Some("03:00-04:00"));
    assert_eq!(tag(&body, "Engine").as_deref(), Some("redis"));
    assert_eq!(tags(&body, "NodeGroupId"), ["0001", "0002"]);
    assert_eq!(
        tags(&body, "ClusterId"),
        [
            "orders-cache-0001-001",
            "orders-cache-0001-002",
            "orders-cache-0002-001",
            "orders-cache-0002-002"
        ]
    );
    assert_eq!(
        ec_err(&emu, "CreateReplicationGroup", &create).await.1,
        "ReplicationGroupAlreadyExists"
    );
    assert_eq!(
        ec_err(
            &emu,
            "ModifyReplicationGroup",
            &[
                ("ReplicationGroupId", "orders-cache"),
                ("CacheNodeType", "cache.t4g.medium"),
                ("ApplyImmediately", "true")
            ]
        )
        .await
        .1,
        "InvalidReplicationGroupState"
    );
    let seen = wait_status(&emu, "orders-cache", "available").await;
    assert_eq!(seen, ["creating", "available"]);
    let body = ec_ok(
        &emu,
        "DescribeReplicationGroups",
        &[("ReplicationGroupId", "orders-cache")],
    )
    .await;
    let cfg_ep = &body[body
        .find("<ConfigurationEndpoint>")
        .expect("configuration endpoint")..];
    assert_eq!(tag(cfg_ep, "Port").as_deref(), Some("6379"));
    assert!(tag(cfg_ep, "Address")
        .unwrap()
        .starts_with("clustercfg.orders-cache."));
    assert!(
        !body.contains("<PrimaryEndpoint>"),
        "cluster mode has no per-shard primary endpoint"
    );

    // the parameter group is now in use
    assert_eq!(
        ec_err(
            &emu,
            "DeleteCacheParameterGroup",
            &[("CacheParameterGroupName", "app-redis7")]
        )
        .await
        .1,
        "InvalidCacheParameterGroupState"
    );
    assert_eq!(
        ec_err(
            &emu,
            "DeleteCacheParameterGroup",
            &[("CacheParameterGroupName", "default.redis7")]
        )
        .await
        .1,
        "InvalidParameterValue"
    );

    // member clusters
    let clusters = ec_ok(
        &emu,
        "DescribeCacheClusters",
        &[("ShowCacheNodeInfo", "true")],
    )
    .await;
    assert_eq!(tags(&clusters, "CacheClusterId").len(), 4);
    assert_eq!(
        tags(&clusters, "ReplicationGroupId"),
        vec!["orders-cache"; 4]
    );
    // AWS reports the full version.
    assert_eq!(tags(&clusters, "EngineVersion"), vec!["7.1.0"; 4]);
    assert_eq!(tags(&clusters, "Engine"), vec!["redis"; 4]);
    assert_eq!(tags(&clusters, "CacheNodeType"), vec!["cache.t4g.small"; 4]);
    assert!(clusters.contains(&format!("<SecurityGroupId>{sg_id}</SecurityGroupId>")));
    assert!(clusters.contains("<CacheParameterGroupName>app-redis7</CacheParameterGroupName>"));
    assert!(clusters
        .contains("<PreferredMaintenanceWindow>sun:05:00-sun:06:00</PreferredMaintenanceWindow>"));

    // --- idempotent re-reads make no mutating calls
    emu.reset_call_counts().await.unwrap();
    ec_ok(
        &emu,
        "DescribeReplicationGroups",
        &[("ReplicationGroupId", "orders-cache")],
    )
    .await;
    ec_ok(
        &emu,
        "DescribeCacheParameters",
        &[("CacheParameterGroupName", "app-redis7")],
    )
    .await;
    let counts = emu.call_counts().await.unwrap();
    assert_eq!(
        counts.get("elasticache:DescribeReplicationGroups"),
        Some(&1)
    );
    assert_eq!(counts.get("elasticache:DescribeCacheParameters"), Some(&1));
    assert!(
        emu.mutating_call_counts().await.unwrap().is_empty(),
        "{counts:?}"
    );

    // --- modify node type: modifying -> available
    let body = ec_ok(
        &emu,
        "ModifyReplicationGroup",
        &[
            ("ReplicationGroupId", "orders-cache"),
            ("CacheNodeType", "cache.t4g.medium"),
            ("ApplyImmediately", "true"),
        ],
    )
    .await;
    assert_eq!(tag(&body, "Status").as_deref(), Some("modifying"));
    assert_eq!(
        wait_status(&emu, "orders-cache", "available").await,
        ["modifying", "available"]
    );
    let body = ec_ok(
        &emu,
        "DescribeReplicationGroups",
        &[("ReplicationGroupId", "orders-cache")],
    )
    .await;
    assert_eq!(
        tag(&body, "CacheNodeType").as_deref(),
        Some("cache.t4g.medium")
    );
    let counts = emu.mutating_call_counts().await.unwrap();
    assert_eq!(
        counts.get("elasticache:ModifyReplicationGroup"),
        Some(&1),
        "{counts:?}"
    );

    // disabling failover on a cluster-mode group is refused
    assert_eq!(
        ec_err(
            &emu,
            "ModifyReplicationGroup",
            &[
                ("ReplicationGroupId", "orders-cache"),
                ("AutomaticFailoverEnabled", "false"),
                ("ApplyImmediately", "true")
            ]
        )
        .await
        .1,
        "InvalidParameterCombination"
    );

    // --- shard count 2 -> 3 -> 2
    let body = ec_ok(
        &emu,
        "ModifyReplicationGroupShardConfiguration",
        &[
            ("ReplicationGroupId", "orders-cache"),
            ("NodeGroupCount", "3"),
            ("ApplyImmediately", "true"),
        ],
    )
    .await;
    assert_eq!(tag(&body, "Status").as_deref(), Some("modifying"));
    wait_status(&emu, "orders-cache", "available").await;
    let body = ec_ok(
        &emu,
        "DescribeReplicationGroups",
        &[("ReplicationGroupId", "orders-cache")],
    )
    .await;
    assert_eq!(tags(&body, "NodeGroupId"), ["0001", "0002", "0003"]);
    assert_eq!(
        tags(&body, "Slots"),
        ["0-5460", "5461-10921", "10922-16383"]
    );
    assert_eq!(
        ec_err(
            &emu,
            "ModifyReplicationGroupShardConfiguration",
            &[
                ("ReplicationGroupId", "orders-cache"),
                ("NodeGroupCount", "2"),
                ("ApplyImmediately", "true")
            ]
        )
        .await
        .1,
        "InvalidParameterValue"
    );
    ec_ok(
        &emu,
        "ModifyReplicationGroupShardConfiguration",
        &[
            ("ReplicationGroupId", "orders-cache"),
            ("NodeGroupCount", "2"),
            ("ApplyImmediately", "true"),
            ("NodeGroupsToRemove.NodeGroupToRemove.1", "0002"),
        ],
    )
    .await;
    wait_status(&emu, "orders-cache", "available").await;
    let body = ec_ok(
        &emu,
        "DescribeReplicationGroups",
        &[("ReplicationGroupId", "orders-cache")],
    )
    .await;
    assert_eq!(tags(&body, "NodeGroupId"), ["0001", "0003"]);

    // --- replicas 1 -> 2 -> 1
    ec_ok(
        &emu,
        "IncreaseReplicaCount",
        &[
            ("ReplicationGroupId", "orders-cache"),
            ("NewReplicaCount", "2"),
            ("ApplyImmediately", "true"),
        ],
    )
    .await;
    assert_eq!(
        wait_status(&emu, "orders-cache", "available").await,
        ["modifying", "available"]
    );
    let body = ec_ok(
        &emu,
        "DescribeReplicationGroups",
        &[("ReplicationGroupId", "orders-cache")],
    )
    .await;
    assert_eq!(tags(&body, "ClusterId").len(), 6);
    assert_eq!(
        ec_err(
            &emu,
            "DecreaseReplicaCount",
            &[
                ("ReplicationGroupId", "orders-cache"),
                ("NewReplicaCount", "0"),
                ("ApplyImmediately", "true")
            ]
        )
        .await
        .1,
        "InvalidParameterValue",
        "Multi-AZ needs a replica per shard"
    );
    ec_ok(
        &emu,
        "DecreaseReplicaCount",
        &[
            ("ReplicationGroupId", "orders-cache"),
            ("NewReplicaCount", "1"),
            ("ApplyImmediately", "true"),
        ],
    )
    .await;
    wait_status(&emu, "orders-cache", "available").await;
    let clusters = ec_ok(&emu, "DescribeCacheClusters", &[]).await;
    assert_eq!(tags(&clusters, "CacheClusterId").len(), 4);

    // --- delete: deleting -> gone, then the parameter group can go
    let body = ec_ok(
        &emu,
        "DeleteReplicationGroup",
        &[("ReplicationGroupId", "orders-cache")],
    )
    .await;
    assert_eq!(tag(&body, "Status").as_deref(), Some("deleting"));
    assert_eq!(rg_status(&emu, "orders-cache").await.unwrap(), "deleting");
    assert_eq!(
        wait_status(&emu, "orders-cache", "gone").await,
        ["deleting", "gone"]
    );
    ec_ok(
        &emu,
        "DeleteCacheParameterGroup",
        &[("CacheParameterGroupName", "app-redis7")],
    )
    .await;
    assert_eq!(
        ec_err(
            &emu,
            "DescribeCacheParameterGroups",
            &[("CacheParameterGroupName", "app-redis7")]
        )
        .await
        .1,
        "CacheParameterGroupNotFound"
    );

    // --- runtime delay change
    emu.set_delay_ms(0).await.unwrap();
    ec_ok(
        &emu,
        "CreateReplicationGroup",
        &[
            ("ReplicationGroupId", "Plain"),
            ("ReplicationGroupDescription", "p"),
            ("CacheNodeType", "cache.t4g.micro"),
            ("NumCacheClusters", "2"),
        ],
    )
    .await;
    wait_status(&emu, "plain", "available").await; // ids are stored lower-case
    let body = ec_ok(
        &emu,
        "DescribeReplicationGroups",
        &[("ReplicationGroupId", "plain")],
    )
    .await;
    assert_eq!(tag(&body, "ClusterEnabled").as_deref(), Some("false"));
    assert!(body.contains("<PrimaryEndpoint>") && body.contains("<ReaderEndpoint>"));
    assert!(!body.contains("<ConfigurationEndpoint>"));

    let counts = emu.call_counts().await.unwrap();
    assert!(
        counts
            .get("elasticache:DescribeReplicationGroups")
            .copied()
            .unwrap_or(0)
            > 3
    );
    assert!(
        is_mutating("elasticache:CreateReplicationGroup") && !is_mutating("kms:ListResourceTags")
    );
    emu.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_twin_cluster_tls_auth_params_and_cleanup() {
    let emu = Emulator::start_ephemeral(DELAY_MS, true)
        .await
        .expect("start emulator");
    ec_ok(
        &emu,
        "CreateCacheParameterGroup",
        &[
            ("CacheParameterGroupName", "twin-pg"),
            ("CacheParameterGroupFamily", "redis7"),
            ("Description", "twin"),
        ],
    )
    .await;
    ec_ok(
        &emu,
        "ModifyCacheParameterGroup",
        &[
            ("CacheParameterGroupName", "twin-pg"),
            (
                "ParameterNameValues.ParameterNameValue.1.ParameterName",
                "cluster-enabled",
            ),
            (
                "ParameterNameValues.ParameterNameValue.1.ParameterValue",
                "yes",
            ),
            (
                "ParameterNameValues.ParameterNameValue.2.ParameterName",
                "maxmemory-policy",
            ),
            (
                "ParameterNameValues.ParameterNameValue.2.ParameterValue",
                "allkeys-lru",
            ),
            (
                "ParameterNameValues.ParameterNameValue.3.ParameterName",
                "reserved-memory-percent",
            ),
            (
                "ParameterNameValues.ParameterNameValue.3.ParameterValue",
                "50",
            ),
        ],
    )
    .await;
    ec_ok(
        &emu,
        "CreateReplicationGroup",
        &[
            ("ReplicationGroupId", "twin-rg"),
            ("ReplicationGroupDescription", "twin"),
            ("CacheNodeType", "cache.t4g.micro"),
            ("NumNodeGroups", "2"),
            ("ReplicasPerNodeGroup", "1"),
            ("AutomaticFailoverEnabled", "true"),
            ("TransitEncryptionEnabled", "true"),
            ("AuthToken", TOKEN),
            ("CacheParameterGroupName", "twin-pg"),
            ("Port", "6379"),
        ],
    )
    .await;
    assert!(
        emu.twin("twin-rg").await.unwrap().is_none(),
        "no twin while creating"
    );
    wait_status(&emu, "twin-rg", "available").await;

    let twin = emu.twin("twin-rg").await.unwrap().expect("twin");
    assert!(twin.cluster_mode && twin.tls && twin.auth_enabled);
    assert_eq!(twin.requested_port, Some(6379));
    assert_eq!(twin.nodes.len(), 4);
    assert!(twin.nodes.iter().all(|n| n.alive && n.pid.is_some()));
    let ca = twin.ca_path.clone().expect("ca path");
    assert!(ca.exists());
    assert!(twin.dir.starts_with(emu.state_dir().join("twins")));

    // the configuration endpoint is the twin's first node; the Port property stays 6379
    let body = ec_ok(
        &emu,
        "DescribeReplicationGroups",
        &[("ReplicationGroupId", "twin-rg")],
    )
    .await;
    let cfg = &body[body.find("<ConfigurationEndpoint>").unwrap()..];
    assert_eq!(tag(cfg, "Address").as_deref(), Some("127.0.0.1"));
    let port: u16 = tag(cfg, "Port").unwrap().parse().unwrap();
    assert_eq!(port, twin.nodes[0].port);
    let clusters = ec_ok(
        &emu,
        "DescribeCacheClusters",
        &[("ShowCacheNodeInfo", "true")],
    )
    .await;
    assert!(tags(&clusters, "Port").iter().all(|p| p == "6379"));

    assert_eq!(tls_cli(port, &ca, TOKEN, &["PING"]).trim(), "PONG");
    for i in 0..10 {
        assert_eq!(
            tls_cli(
                port,
                &ca,
                TOKEN,
                &["SET", &format!("key{i}"), &format!("v{i}")]
            )
            .trim(),
            "OK"
        );
    }
    for i in 0..10 {
        assert_eq!(
            tls_cli(port, &ca, TOKEN, &["GET", &format!("key{i}")]).trim(),
            format!("v{i}")
        );
    }
    let shards = tls_cli(port, &ca, TOKEN, &["CLUSTER", "SHARDS"]);
    assert_eq!(count_lines(&shards, "master"), 2, "{shards}");
    assert_eq!(count_lines(&shards, "replica"), 2, "{shards}");
    assert!(tls_cli(port, &ca, TOKEN, &["CLUSTER", "INFO"]).contains("cluster_state:ok"));
    // parameter group settings reached redis (maxmemory = 64 MiB * (100 - 50)%)
    let cfg = tls_cli(port, &ca, TOKEN, &["CONFIG", "GET", "maxmemory*"]);
    assert!(
        cfg.contains("allkeys-lru") && cfg.contains("33554432"),
        "{cfg}"
    );

    // no AUTH -> refused; plaintext -> refused
    let noauth = redis_cli(
        port,
        &["--tls", "--cacert", ca.to_str().unwrap(), "GET", "key1"],
    );
    assert!(noauth.contains("NOAUTH"), "{noauth}");
    let wrong = tls_cli(port, &ca, "wrong-password-wrong-password", &["PING"]);
    assert!(!wrong.contains("PONG"), "{wrong}");
    let plain = redis_cli(port, &["-a", TOKEN, "--no-auth-warning", "PING"]);
    assert!(!plain.contains("PONG"), "{plain}");

    // live parameter change -> CONFIG SET on the twin
    ec_ok(
        &emu,
        "ModifyCacheParameterGroup",
        &[
            ("CacheParameterGroupName", "twin-pg"),
            (
                "ParameterNameValues.ParameterNameValue.1.ParameterName",
                "notify-keyspace-events",
            ),
            (
                "ParameterNameValues.ParameterNameValue.1.ParameterValue",
                "Ex",
            ),
            (
                "ParameterNameValues.ParameterNameValue.2.ParameterName",
                "timeout",
            ),
            (
                "ParameterNameValues.ParameterNameValue.2.ParameterValue",
                "120",
            ),
        ],
    )
    .await;
    let cfg = tls_cli(
        port,
        &ca,
        TOKEN,
        &["CONFIG", "GET", "notify-keyspace-events"],
    );
    assert!(cfg.contains("xE") || cfg.contains("Ex"), "{cfg}");
    assert!(tls_cli(port, &ca, TOKEN, &["CONFIG", "GET", "timeout"]).contains("120"));

    // cluster-enabled cannot change while in use
    assert_eq!(
        ec_err(
            &emu,
            "ModifyCacheParameterGroup",
            &[
                ("CacheParameterGroupName", "twin-pg"),
                (
                    "ParameterNameValues.ParameterNameValue.1.ParameterName",
                    "cluster-enabled"
                ),
                (
                    "ParameterNameValues.ParameterNameValue.1.ParameterValue",
                    "no"
                ),
            ]
        )
        .await
        .1,
        "InvalidCacheParameterGroupState"
    );

    // AUTH rotation: both tokens valid afterwards; SET drops the old one
    ec_ok(
        &emu,
        "ModifyReplicationGroup",
        &[
            ("ReplicationGroupId", "twin-rg"),
            ("AuthToken", TOKEN2),
            ("AuthTokenUpdateStrategy", "ROTATE"),
            ("ApplyImmediately", "true"),
        ],
    )
    .await;
    wait_status(&emu, "twin-rg", "available").await;
    assert_eq!(tls_cli(port, &ca, TOKEN, &["PING"]).trim(), "PONG");
    assert_eq!(tls_cli(port, &ca, TOKEN2, &["PING"]).trim(), "PONG");
    ec_ok(
        &emu,
        "ModifyReplicationGroup",
        &[
            ("ReplicationGroupId", "twin-rg"),
            ("AuthToken", TOKEN2),
            ("AuthTokenUpdateStrategy", "SET"),
            ("ApplyImmediately", "true"),
        ],
    )
    .await;
    wait_status(&emu, "twin-rg", "available").await;
    assert!(!tls_cli(port, &ca, TOKEN, &["PING"]).contains("PONG"));
    assert_eq!(tls_cli(port, &ca, TOKEN2, &["PING"]).trim(), "PONG");

    // node type change keeps the same processes
    ec_ok(
        &emu,
        "ModifyReplicationGroup",
        &[
            ("ReplicationGroupId", "twin-rg"),
            ("CacheNodeType", "cache.t4g.small"),
            ("ApplyImmediately", "true"),
        ],
    )
    .await;
    wait_status(&emu, "twin-rg", "available").await;
    let after = emu.twin("twin-rg").await.unwrap().unwrap();
    assert_eq!(
        after.nodes.iter().map(|n| n.pid).collect::<Vec<_>>(),
        twin.nodes.iter().map(|n| n.pid).collect::<Vec<_>>()
    );

    // replica change rebuilds the twin with the new topology
    ec_ok(
        &emu,
        "DecreaseReplicaCount",
        &[
            ("ReplicationGroupId", "twin-rg"),
            ("NewReplicaCount", "0"),
            ("ApplyImmediately", "true"),
        ],
    )
    .await;
    wait_status(&emu, "twin-rg", "available").await;
    let rebuilt = emu.twin("twin-rg").await.unwrap().unwrap();
    assert_eq!(rebuilt.nodes.len(), 2);
    for old in &twin.nodes {
        assert!(
            !Path::new(&format!("/proc/{}", old.pid.unwrap())).exists(),
            "old twin process {old:?} survived"
        );
    }
    let new_port = rebuilt.nodes[0].port;
    let shards = tls_cli(new_port, &ca, TOKEN2, &["CLUSTER", "SHARDS"]);
    assert_eq!(count_lines(&shards, "master"), 2, "{shards}");

    // delete: processes gone, twin dir removed
    ec_ok(
        &emu,
        "DeleteReplicationGroup",
        &[("ReplicationGroupId", "twin-rg")],
    )
    .await;
    wait_status(&emu, "twin-rg", "gone").await;
    for n in &rebuilt.nodes {
        assert!(
            !Path::new(&format!("/proc/{}", n.pid.unwrap())).exists(),
            "twin process {n:?} survived delete"
        );
    }
    assert!(
        !rebuilt.dir.exists(),
        "twin dir {} not removed",
        rebuilt.dir.display()
    );
    assert!(emu.twin("twin-rg").await.unwrap().is_none());

    // a twin left running is killed with the emulator
    ec_ok(
        &emu,
        "CreateReplicationGroup",
        &[
            ("ReplicationGroupId", "plain-twin"),
            ("ReplicationGroupDescription", "p"),
            ("CacheNodeType", "cache.t4g.micro"),
            ("NumCacheClusters", "2"),
        ],
    )
    .await;
    wait_status(&emu, "plain-twin", "available").await;
    let plain_twin = emu.twin("plain-twin").await.unwrap().unwrap();
    assert!(!plain_twin.tls && !plain_twin.cluster_mode && !plain_twin.auth_enabled);
    let primary = plain_twin
        .nodes
        .iter()
        .find(|n| n.role == "primary")
        .unwrap()
        .port;
    assert_eq!(redis_cli(primary, &["PING"]).trim(), "PONG");
    let replica = plain_twin
        .nodes
        .iter()
        .find(|n| n.role == "replica")
        .unwrap()
        .port;
    assert!(redis_cli(replica, &["INFO", "replication"]).contains("role:slave"));
    emu.stop().await.unwrap();
    for n in &plain_twin.nodes {
        assert!(
            !Path::new(&format!("/proc/{}", n.pid.unwrap())).exists(),
            "twin process {n:?} orphaned"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_fixture_is_idempotent_and_other_services_work() {
    let emu = Emulator::start_ephemeral(DELAY_MS, false)
        .await
        .expect("start emulator");
    // Two seeders at once (two `--local` runs starting together) agree.
    let endpoint = emu.endpoint();
    let (a, b) = tokio::join!(
        seed_network_fixture(&endpoint, "test"),
        seed_network_fixture(&endpoint, "test")
    );
    let (a, b) = (a.expect("seed"), b.expect("concurrent seed"));
    assert_eq!(a, b);
    let c = seed_network_fixture(&emu.endpoint(), "test")
        .await
        .expect("seed again");
    assert_eq!(a, c);
    assert_eq!(a.subnet_group_name, "qualisys-redis-subnets-test");
    assert_eq!(a.subnet_ids.len(), 2);
    assert!(seed_network_fixture(&emu.endpoint(), "Bad Name")
        .await
        .is_err());

    let venv = ensure_venv().unwrap();
    let script = r#"
import sys, json, boto3
ep = sys.argv[1]
kw = dict(endpoint_url=ep, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
fx = json.loads(sys.stdin.read()) if False else None
ec2 = boto3.client("ec2", **kw)
ec = boto3.client("elasticache", **kw)
sg = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["qualisys-redis-test"]}])["SecurityGroups"][0]
perms = sg["IpPermissions"]
assert len(perms) == 1, perms
p = perms[0]
assert (p["IpProtocol"], p["FromPort"], p["ToPort"]) == ("tcp", 6379, 6379), p
assert sorted(r["CidrIp"] for r in p["IpRanges"]) == ["10.0.10.0/24", "10.0.11.0/24"], p
assert not p["UserIdGroupPairs"], p
grp = ec.describe_cache_subnet_groups(CacheSubnetGroupName="qualisys-redis-subnets-test")["CacheSubnetGroups"][0]
azs = sorted(s["SubnetAvailabilityZone"]["Name"] for s in grp["Subnets"])
assert azs == ["us-east-1a", "us-east-1b"], grp

# KMS
kms = boto3.client("kms", **kw)
key = kms.create_key(Description="k", Tags=[{"TagKey": "app", "TagValue": "orders"}])["KeyMetadata"]["KeyId"]
kms.enable_key_rotation(KeyId=key)
assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"]
kms.create_alias(AliasName="alias/orders", TargetKeyId=key)
assert kms.list_resource_tags(KeyId=key)["Tags"] == [{"TagKey": "app", "TagValue": "orders"}]
# Secrets Manager
sm = boto3.client("secretsmanager", **kw)
arn = sm.create_secret(Name="orders/redis", SecretString="s1", KmsKeyId=key)["ARN"]
sm.put_secret_value(SecretId=arn, SecretString="s2")
assert sm.describe_secret(SecretId=arn)["KmsKeyId"] == key
sm.delete_secret(SecretId=arn, RecoveryWindowInDays=7)
assert "DeletedDate" in sm.describe_secret(SecretId=arn)
sm.restore_secret(SecretId=arn)
assert "DeletedDate" not in sm.describe_secret(SecretId=arn)
kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingDeletion"
# IAM
iam = boto3.client("iam", **kw)
doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
pol = iam.create_policy(PolicyName="orders", PolicyDocument=doc)["Policy"]["Arn"]
iam.create_policy_version(PolicyArn=pol, PolicyDocument=doc, SetAsDefault=True)
versions = iam.list_policy_versions(PolicyArn=pol)["Versions"]
assert len(versions) == 2, versions
iam.delete_policy_version(PolicyArn=pol, VersionId="v1")
assert [v["VersionId"] for v in iam.list_policy_versions(PolicyArn=pol)["Versions"]] == ["v2"]
# S3 conditional put
s3 = boto3.client("s3", **kw)
s3.create_bucket(Bucket="cairn-state")
s3.put_object(Bucket="cairn-state", Key="lock", Body=b"1", IfNoneMatch="*")
try:
    s3.put_object(Bucket="cairn-state", Key="lock", Body=b"2", IfNoneMatch="*")
    raise SystemExit("conditional put should have failed")
except s3.exceptions.ClientError as e:
    assert e.response["Error"]["Code"] == "PreconditionFailed", e.response
print("ok")
"#;
    emu.reset_call_counts().await.unwrap();
    let out = python(&venv, script, &emu.endpoint());
    assert_eq!(out.trim(), "ok");
    let counts = emu.call_counts().await.unwrap();
    for key in [
        "kms:CreateKey",
        "kms:EnableKeyRotation",
        "kms:GetKeyRotationStatus",
        "secretsmanager:CreateSecret",
        "secretsmanager:RestoreSecret",
        "iam:CreatePolicyVersion",
        "ec2:DescribeSecurityGroups",
        "s3:CreateBucket",
    ] {
        assert!(counts.contains_key(key), "{key} missing from {counts:?}");
    }
    assert_eq!(counts.get("s3:PutObject"), Some(&2), "{counts:?}");
    emu.stop().await.unwrap();
}

#[test]
fn daemon_start_status_stop() {
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        l.local_addr().unwrap().port()
    };
    let cfg = EmulatorConfig {
        port,
        state_dir: dir.path().to_path_buf(),
        delay_ms: 100,
        twin: false,
    };
    assert!(!daemon_status(dir.path()).unwrap().running);
    let started = daemon_start(&cfg).expect("daemon start");
    assert!(started.running);
    assert_eq!(started.port, Some(port));
    assert_eq!(
        started.endpoint.as_deref(),
        Some(format!("http://127.0.0.1:{port}").as_str())
    );
    let pid = started.pid.unwrap();
    // idempotent start
    assert_eq!(daemon_start(&cfg).unwrap().pid, Some(pid));
    let status = daemon_status(dir.path()).unwrap();
    assert!(status.running && status.pid == Some(pid));
    assert!(dir.path().join("emulator.pid").exists() && dir.path().join("emulator.port").exists());
    let stopped = daemon_stop(dir.path()).unwrap();
    assert!(!stopped.running);
    assert_eq!(stopped.pid, Some(pid));
    assert!(!dir.path().join("emulator.pid").exists());
    assert!(!daemon_status(dir.path()).unwrap().running);
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
        "port still bound"
    );
    assert_eq!(daemon_stop(dir.path()).unwrap().pid, None);
}

#[test]
fn venv_is_cached_and_config_defaults() {
    let a = ensure_venv().unwrap();
    let b = Emulator::ensure_venv().unwrap();
    assert_eq!(a, b);
    assert!(a.join("bin/python").exists());
    let cfg = EmulatorConfig::default();
    assert!(cfg.port > 0);
    assert!(cfg.state_dir.ends_with("state"));
}

#[tokio::test]
async fn port_in_use_is_reported() {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = l.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let err = Emulator::start(EmulatorConfig {
        port,
        state_dir: dir.path().to_path_buf(),
        delay_ms: 0,
        twin: false,
    })
    .await
    .unwrap_err();
    assert!(
        matches!(err, cairn_emulator::EmulatorError::PortInUse { .. }),
        "{err}"
    );
}
