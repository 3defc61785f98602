//! EKS: `aws:eks:Cluster` against the emulator through the real SDK: create
//! (CREATING → ACTIVE observed), read back with no diff, in-place updates
//! (endpoint access, version, secrets encryption, tags; each waited for
//! through DescribeUpdate), the replace reasons, adopt after a lost answer
//! and refusal of a foreign one, delete (DELETING → gone), and deletion
//! waiting for node groups.

use super::*;
use cairn_core::plan::diff_inputs;
use cairn_core::schema::PropType;

fn drift(want: &Map, seen: &Map) -> Vec<String> {
    diff_inputs(want, seen)
        .into_iter()
        .map(|c| c.path.to_string())
        .collect()
}

/// The changed paths from `old` to `new` that the schema replaces on (nested too).
fn replace_reasons(env: &Env, token: &str, old: &Map, new: &Map) -> Vec<String> {
    let schema = env.reg.schema(token).expect("registered");
    let mut out: Vec<String> = diff_inputs(old, new)
        .into_iter()
        .map(|c| c.path.to_string())
        .filter(|path| {
            let mut parts = path.split(['.', '[']);
            let Some(top) = schema.prop(parts.next().unwrap_or_default()) else {
                return false;
            };
            if top.replace_on_change {
                return true;
            }
            match (&top.ty, parts.next()) {
                (PropType::Object { properties }, Some(k)) => properties
                    .iter()
                    .any(|p| p.name == k && p.replace_on_change),
                _ => false,
            }
        })
        .collect();
    out.sort();
    out
}

fn with(m: &Map, changes: serde_json::Value) -> Map {
    let mut out = m.clone();
    out.extend(map(changes));
    out
}

fn statuses(log: &std::sync::Mutex<Vec<String>>) -> Vec<String> {
    log.lock()
        .unwrap()
        .iter()
        .map(|l| l.split(" (").next().unwrap_or_default().to_string())
        .collect()
}

const ROLE: &str = "arn:aws:iam::123456789012:role/eks-cluster";
const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555";

#[tokio::test]
async fn eks_cluster_lifecycle_with_status_sequence() {
    let env = setup().await;
    // Long enough to see every status with the test's 100 ms polls, even
    // when a busy machine delays the first poll.
    env._emulator.set_delay_ms(1500).await.unwrap();
    let eks = aws_sdk_eks::Client::new(&env.sdk_config().await);
    let token = "aws:eks:Cluster";
    let p = env.p(token);
    let name = format!("platform-{}", env.tag);
    let inputs = map(serde_json::json!({
        "name": name,
        "roleArn": ROLE,
        "version": "1.29",
        "vpcConfig": {
            "subnetIds": ["subnet-0a", "subnet-0b"],
            "endpointPrivateAccess": true,
            "endpointPublicAccess": false
        },
        "tags": {"team": "platform"}
    }));
    let (ctx, log) = logged(&env.ctx("eks"));
    let created = p.create(&ctx, &inputs).await.expect("create");
    let seen_statuses = statuses(&log);
    assert!(
        seen_statuses.iter().any(|s| s == "CREATING")
            && seen_statuses.last().map(String::as_str) == Some("ACTIVE"),
        "CREATING then ACTIVE expected: {seen_statuses:?}"
    );
    assert_eq!(created.id, name);
    let out = &created.outputs;
    assert_eq!(s(out, "status"), "ACTIVE");
    assert!(s(out, "arn").ends_with(&format!(":cluster/{name}")));
    assert!(!s(out, "endpoint").is_empty(), "endpoint once ACTIVE");
    let issuer = s(out, "oidcIssuer");
    assert!(
        issuer.starts_with("https://") && issuer.contains("/id/"),
        "{issuer}"
    );
    let identities = out["identities"].as_list().unwrap();
    let oidcs = identities[0].as_map().unwrap()["oidcs"].as_list().unwrap();
    assert_eq!(s(oidcs[0].as_map().unwrap(), "issuer"), issuer);
    let ca = out["certificateAuthority"].as_map().unwrap();
    assert!(!s(ca, "data").is_empty());

    let seen = p.read(&ctx, &created.id, &inputs).await.unwrap().unwrap();
    assert_eq!(drift(&inputs, &seen.inputs), Vec::<String>::new());

    // In place: endpoint access, then one minor version, then secrets encryption, tags.
    let new = with(
        &inputs,
        serde_json::json!({
            "version": "1.30",
            "vpcConfig": {
                "subnetIds": ["subnet-0a", "subnet-0b"],
                "endpointPrivateAccess": true,
                "endpointPublicAccess": true,
                "publicAccessCidrs": ["203.0.113.0/24"]
            },
            "encryptionConfig": {"provider": {"keyArn": KEY}, "resources": ["secrets"]},
            "tags": {"team": "platform", "tier": "k8s"}
        }),
    );
    assert_eq!(
        replace_reasons(&env, token, &inputs, &new),
        Vec::<String>::new()
    );
    assert!(p.check_change(&inputs, &new).is_empty());
    let (uctx, ulog) = logged(&env.ctx("eks"));
    p.update(&uctx, &created.id, &inputs, &new, &created.outputs)
        .await
        .expect("update in place");
    let ustatuses = statuses(&ulog);
    assert!(
        ustatuses.iter().any(|s| s == "update InProgress")
            && ustatuses.iter().any(|s| s == "Successful"),
        "updates waited for through DescribeUpdate: {ustatuses:?}"
    );
    let live = eks.describe_cluster().name(&name).send().await.unwrap();
    let live = live.cluster().unwrap();
    assert_eq!(live.version(), Some("1.30"));
    let vpc = live.resources_vpc_config().unwrap();
    assert!(vpc.endpoint_public_access() && vpc.endpoint_private_access());
    assert_eq!(vpc.public_access_cidrs(), ["203.0.113.0/24"]);
    let seen = p.read(&ctx, &created.id, &new).await.unwrap().unwrap();
    assert_eq!(drift(&new, &seen.inputs), Vec::<String>::new());

    // Two minors at once, a downgrade and a changed key are preview errors.
    let rules = |n: serde_json::Value| -> Vec<String> {
        p.check_change(&new, &with(&new, n))
            .into_iter()
            .map(|f| f.rule)
            .collect()
    };
    assert_eq!(
        rules(serde_json::json!({"version": "1.32"})),
        ["aws::eks::version-upgrade"]
    );
    assert_eq!(
        rules(serde_json::json!({"version": "1.29"})),
        ["aws::eks::version-upgrade"]
    );
    assert_eq!(
        rules(
            serde_json::json!({"encryptionConfig": {"provider": {"keyArn": "other"}, "resources": ["secrets"]}})
        ),
        ["aws::eks::encryption-config-change"]
    );

    // Name, role, subnets and security groups are fixed: a replace naming them.
    let other = with(
        &new,
        serde_json::json!({
            "roleArn": "arn:aws:iam::123456789012:role/other",
            "vpcConfig": {
                "subnetIds": ["subnet-0a", "subnet-0c"],
                "securityGroupIds": ["sg-1"],
                "endpointPrivateAccess": true,
                "endpointPublicAccess": true,
                "publicAccessCidrs": ["203.0.113.0/24"]
            }
        }),
    );
    assert_eq!(
        replace_reasons(&env, token, &new, &other),
        [
            "roleArn",
            "vpcConfig.securityGroupIds",
            "vpcConfig.subnetIds[1]"
        ]
    );

    // A retried create adopts it; another resource's create or recovery is refused.
    assert_eq!(p.create(&ctx, &new).await.unwrap().id, name);
    assert_eq!(p.recover(&ctx, &new).await.unwrap().unwrap().id, name);
    let err = p.recover(&env.ctx("other"), &new).await.unwrap_err();
    assert!(matches!(err, ProviderError::NotOwned { .. }), "{err:?}");
    let err = p.create(&env.ctx("other"), &new).await.unwrap_err();
    assert!(
        err.to_string().contains("ResourceInUseException")
            && err.to_string().contains("was not made by this resource"),
        "{err}"
    );

    // A node group still attached: the delete waits until it is gone.
    eks.create_nodegroup()
        .cluster_name(&name)
        .nodegroup_name("workers")
        .node_role(ROLE)
        .subnets("subnet-0a")
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    eks.delete_nodegroup()
        .cluster_name(&name)
        .nodegroup_name("workers")
        .send()
        .await
        .unwrap();
    let (dctx, dlog) = logged(&env.ctx("eks"));
    p.delete(&dctx, &created.id, &new, &created.outputs)
        .await
        .expect("delete");
    let dstatuses = statuses(&dlog);
    assert!(
        dstatuses.iter().any(|s| s.starts_with("in use"))
            && dstatuses.iter().any(|s| s == "DELETING"),
        "in use while the node group goes, then DELETING: {dstatuses:?}"
    );
    assert!(p.read(&ctx, &created.id, &new).await.unwrap().is_none());
    p.delete(&ctx, &created.id, &new, &created.outputs)
        .await
        .expect("idempotent delete");
}

#[tokio::test]
async fn eks_cluster_retry_with_the_same_client_token_is_one_cluster() {
    let env = setup().await;
    let p = env.p("aws:eks:Cluster");
    let mut ctx = env.ctx("eks");
    ctx.create_token = Some(format!("tok-{}", env.tag));
    let inputs = map(serde_json::json!({
        "name": format!("lost-{}", env.tag),
        "roleArn": ROLE,
        "vpcConfig": {"subnetIds": ["subnet-0a", "subnet-0b"]}
    }));
    let a = p.create(&ctx, &inputs).await.expect("create");
    // The answer was lost: the same call again, same token.
    let b = p.create(&ctx, &inputs).await.expect("retried create");
    assert_eq!(a.id, b.id);
    assert_eq!(s(&a.outputs, "arn"), s(&b.outputs, "arn"));
    let seen = p.read(&ctx, &a.id, &inputs).await.unwrap().unwrap();
    assert_eq!(drift(&inputs, &seen.inputs), Vec::<String>::new());
}

#[test]
fn eks_cluster_preview_checks() {
    let reg = {
        let mut reg = Registry::new();
        register_with(
            &mut reg,
            Arc::new(AwsClients::lazy(Some("http://127.0.0.1:9"))),
        );
        reg
    };
    let p = reg.get("aws:eks:Cluster").expect("registered");
    let rules = |j: serde_json::Value| -> Vec<String> {
        p.check(&map(j)).into_iter().map(|f| f.rule).collect()
    };
    assert_eq!(
        rules(serde_json::json!({
            "name": "-bad.name",
            "roleArn": ROLE,
            "version": "1.30.1",
            "vpcConfig": {"subnetIds": ["subnet-0a"]},
            "encryptionConfig": {"provider": {"keyArn": KEY}, "resources": ["configmaps"]}
        })),
        [
            "aws::eks::cluster-name",
            "aws::eks::version",
            "aws::eks::subnets",
            "aws::eks::encryption-config"
        ]
    );
    assert!(rules(serde_json::json!({
        "name": "platform",
        "roleArn": ROLE,
        "version": "1.30",
        "vpcConfig": {"subnetIds": ["subnet-0a", "subnet-0b"]}
    }))
    .is_empty());
}

#[tokio::test]
async fn eks_node_group_lifecycle_with_status_sequence() {
    let env = setup().await;
    env._emulator.set_delay_ms(400).await.unwrap();
    let eks = aws_sdk_eks::Client::new(&env.sdk_config().await);
    let cluster = format!("ng-{}", env.tag);
    env.p("aws:eks:Cluster")
        .create(
            &env.ctx("cluster"),
            &map(serde_json::json!({
                "name": cluster,
                "roleArn": ROLE,
                "vpcConfig": {"subnetIds": ["subnet-0a", "subnet-0b"]}
            })),
        )
        .await
        .expect("cluster");
    let token = "aws:eks:NodeGroup";
    let p = env.p(token);
    let inputs = map(serde_json::json!({
        "clusterName": cluster,
        "nodeGroupName": "workers",
        "nodeRoleArn": "arn:aws:iam::123456789012:role/eks-nodes",
        "subnetIds": ["subnet-0a", "subnet-0b"],
        "scalingConfig": {"desiredSize": 2, "minSize": 1, "maxSize": 3},
        "instanceTypes": ["t3.large"],
        "capacityType": "ON_DEMAND",
        "labels": {"role": "app"},
        "tags": {"team": "platform"}
    }));
    let (ctx, log) = logged(&env.ctx("ng"));
    let created = p.create(&ctx, &inputs).await.expect("create");
    let seen_statuses = statuses(&log);
    assert!(
        seen_statuses.iter().any(|s| s == "CREATING")
            && seen_statuses.last().map(String::as_str) == Some("ACTIVE"),
        "CREATING then ACTIVE expected: {seen_statuses:?}"
    );
    assert_eq!(created.id, format!("{cluster}:workers"));
    assert_eq!(s(&created.outputs, "status"), "ACTIVE");
    assert!(s(&created.outputs, "arn").contains(&format!(":nodegroup/{cluster}/workers/")));
    let seen = p.read(&ctx, &created.id, &inputs).await.unwrap().unwrap();
    assert_eq!(drift(&inputs, &seen.inputs), Vec::<String>::new());

    // In place: scaling and labels (one UpdateNodegroupConfig), tags.
    let new = with(
        &inputs,
        serde_json::json!({
            "scalingConfig": {"desiredSize": 3, "minSize": 2, "maxSize": 5},
            "labels": {"tier": "web"},
            "tags": {"team": "platform", "cost": "k8s"}
        }),
    );
    assert_eq!(
        replace_reasons(&env, token, &inputs, &new),
        Vec::<String>::new()
    );
    let (uctx, ulog) = logged(&env.ctx("ng"));
    p.update(&uctx, &created.id, &inputs, &new, &created.outputs)
        .await
        .expect("update in place");
    assert!(
        statuses(&ulog).iter().any(|s| s == "update InProgress"),
        "{:?}",
        statuses(&ulog)
    );
    let live = eks
        .describe_nodegroup()
        .cluster_name(&cluster)
        .nodegroup_name("workers")
        .send()
        .await
        .unwrap();
    let live = live.nodegroup().unwrap();
    assert_eq!(live.scaling_config().unwrap().desired_size(), Some(3));
    assert_eq!(
        live.labels().unwrap().get("tier").map(String::as_str),
        Some("web")
    );
    assert!(
        !live.labels().unwrap().contains_key("role"),
        "label removed"
    );
    let seen = p.read(&ctx, &created.id, &new).await.unwrap().unwrap();
    assert_eq!(drift(&new, &seen.inputs), Vec::<String>::new());

    // Instance types, capacity type and subnets are fixed: a replace naming them.
    let other = with(
        &new,
        serde_json::json!({
            "instanceTypes": ["m5.large"],
            "capacityType": "SPOT",
            "subnetIds": ["subnet-0a"]
        }),
    );
    assert_eq!(
        replace_reasons(&env, token, &new, &other),
        ["capacityType", "instanceTypes[0]", "subnetIds"]
    );

    // A retried create adopts it; another resource's create or recovery is refused.
    assert_eq!(p.create(&ctx, &new).await.unwrap().id, created.id);
    assert_eq!(p.recover(&ctx, &new).await.unwrap().unwrap().id, created.id);
    let err = p.recover(&env.ctx("other"), &new).await.unwrap_err();
    assert!(matches!(err, ProviderError::NotOwned { .. }), "{err:?}");
    let err = p.create(&env.ctx("other"), &new).await.unwrap_err();
    assert!(
        err.to_string().contains("was not made by this resource"),
        "{err}"
    );

    let (dctx, dlog) = logged(&env.ctx("ng"));
    p.delete(&dctx, &created.id, &new, &created.outputs)
        .await
        .expect("delete");
    assert!(
        statuses(&dlog).iter().any(|s| s == "DELETING"),
        "{:?}",
        statuses(&dlog)
    );
    assert!(p.read(&ctx, &created.id, &new).await.unwrap().is_none());
    p.delete(&ctx, &created.id, &new, &created.outputs)
        .await
        .expect("idempotent delete");
}

#[test]
fn eks_node_group_preview_checks() {
    let mut reg = Registry::new();
    register_with(
        &mut reg,
        Arc::new(AwsClients::lazy(Some("http://127.0.0.1:9"))),
    );
    let p = reg.get("aws:eks:NodeGroup").expect("registered");
    let rules = |j: serde_json::Value| -> Vec<String> {
        p.check(&map(j)).into_iter().map(|f| f.rule).collect()
    };
    assert_eq!(
        rules(serde_json::json!({
            "nodeGroupName": "_workers",
            "scalingConfig": {"desiredSize": 5, "minSize": 1, "maxSize": 3}
        })),
        ["aws::eks::node-group-name", "aws::eks::scaling-config"]
    );
    assert!(rules(serde_json::json!({
        "nodeGroupName": "workers",
        "scalingConfig": {"desiredSize": 2, "minSize": 1, "maxSize": 3}
    }))
    .is_empty());
}
