//! The platform from empty with `--local` (issue 11's acceptance): `up` of
//! `eks-dev`, `rds-dev` and `storage-dev` from `stacks/`, which brings
//! `network-dev` and `redis-dev` up first; each checked through the SDK; a
//! second `up` of each changes nothing; `destroy` in reverse order leaves
//! nothing (dev protects nothing).

use super::common::{runtime, s3_client, sdk_config, start_private_emulator, Sandbox};
use std::collections::BTreeMap;

/// Stops a private emulator when the test ends, passed or not.
struct StopEmulator(std::path::PathBuf);

impl Drop for StopEmulator {
    fn drop(&mut self) {
        let _ = cairn_emulator::daemon_stop(&self.0);
    }
}

/// The `--stack` name of a stack: Redis's environment files are
/// `stacks/<env>.yaml`.
fn file(stack: &str) -> &str {
    stack.strip_prefix("redis-").unwrap_or(stack)
}

/// A stack's outputs (`stack output --json`).
fn outputs(sb: &Sandbox, stack: &str) -> serde_json::Value {
    let out = sb
        .run(&[
            "stack",
            "output",
            "--json",
            "--local",
            "--stack",
            file(stack),
        ])
        .ok();
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{stack}'s outputs are not JSON ({e}):\n{}", out.all()))
}

fn text(v: &serde_json::Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string output `{key}` in {v}"))
        .to_string()
}

fn strings(v: &serde_json::Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("no list output `{key}` in {v}"))
        .iter()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

/// IAM answers policy documents URL-encoded.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn the_platform_from_empty_with_local() {
    let (sb, port, emulator) = start_private_emulator(Sandbox::new(), 20);
    let _stop = StopEmulator(emulator);
    let endpoint = format!("http://127.0.0.1:{port}");

    // Up from empty: the references come up first, in dependency order.
    let eks = sb
        .run(&["up", "--local", "--yes", "--stack", "eks-dev"])
        .ok();
    let order: Vec<&str> = eks
        .stderr
        .lines()
        .filter(|l| l.starts_with("local: "))
        .collect();
    let pos = |needle: &str| {
        order
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("`{needle}` not in {order:#?}"))
    };
    assert!(
        pos("bringing up stack `network-dev`") < pos("bringing up stack `redis-dev`"),
        "network before Redis: {order:#?}"
    );
    for stack in ["rds-dev", "storage-dev"] {
        let up = sb.run(&["up", "--local", "--yes", "--stack", stack]).ok();
        assert!(
            up.stderr.contains("local: reusing stack `network-dev`")
                || !up.stderr.contains("bringing up stack `network-dev`"),
            "{stack} reuses the network:\n{}",
            up.stderr
        );
    }

    let network = outputs(&sb, "network-dev");
    let redis = outputs(&sb, "redis-dev");
    let eks_out = outputs(&sb, "eks-dev");
    let rds_out = outputs(&sb, "rds-dev");
    let storage = outputs(&sb, "storage-dev");
    let private = strings(&network, "privateSubnetIds");

    runtime().block_on(async {
        let sdk = sdk_config(&endpoint).await;

        // EKS: ACTIVE in the private subnets, secrets under the stack's key.
        let eksc = aws_sdk_eks::Client::new(&sdk);
        let cluster = eksc
            .describe_cluster()
            .name(text(&eks_out, "clusterName"))
            .send()
            .await
            .expect("DescribeCluster");
        let cluster = cluster.cluster().expect("cluster");
        assert_eq!(
            cluster.status().map(|s| s.as_str()),
            Some("ACTIVE"),
            "cluster status"
        );
        let mut subnets = cluster
            .resources_vpc_config()
            .map(|v| v.subnet_ids().to_vec())
            .unwrap_or_default();
        subnets.sort();
        let mut want = private.clone();
        want.sort();
        assert_eq!(subnets, want, "the cluster is in the private subnets");
        let key = cluster
            .encryption_config()
            .first()
            .and_then(|e| e.provider())
            .and_then(|p| p.key_arn())
            .map(str::to_string);
        assert_eq!(key, Some(text(&eks_out, "secretsKeyArn")), "secrets key");
        // Deprecated in the SDK (EKS now encrypts all API data), still what
        // the stack declares and the cluster reports.
        #[allow(deprecated)]
        let resources = cluster
            .encryption_config()
            .first()
            .map(|e| e.resources().to_vec());
        assert_eq!(resources, Some(vec!["secrets".to_string()]));
        let groups = eksc
            .list_nodegroups()
            .cluster_name(text(&eks_out, "clusterName"))
            .send()
            .await
            .expect("ListNodegroups");
        assert_eq!(
            groups.nodegroups(),
            [text(&eks_out, "nodeGroupName")],
            "the managed node group"
        );

        // IRSA: the trust names the provider and the service account only.
        let iam = aws_sdk_iam::Client::new(&sdk);
        let provider_arn = text(&eks_out, "oidcProviderArn");
        let host = provider_arn
            .split_once(":oidc-provider/")
            .map(|(_, h)| h.to_string())
            .expect("an OIDC provider ARN");
        let role_name = text(&eks_out, "appRoleArn")
            .rsplit('/')
            .next()
            .unwrap()
            .to_string();
        let role = iam
            .get_role()
            .role_name(&role_name)
            .send()
            .await
            .expect("GetRole");
        let trust = percent_decode(
            role.role()
                .and_then(|r| r.assume_role_policy_document())
                .unwrap_or_default(),
        );
        let trust: serde_json::Value = serde_json::from_str(&trust).expect("trust JSON");
        let st = &trust["Statement"][0];
        assert_eq!(
            st["Principal"]["Federated"],
            provider_arn.as_str(),
            "{trust}"
        );
        assert_eq!(st["Action"], "sts:AssumeRoleWithWebIdentity", "{trust}");
        let cond = &st["Condition"]["StringEquals"];
        assert_eq!(
            cond[format!("{host}:sub")],
            "system:serviceaccount:qualisys:qualisys-api",
            "{trust}"
        );
        assert_eq!(cond[format!("{host}:aud")], "sts.amazonaws.com", "{trust}");
        assert_eq!(
            trust["Statement"].as_array().map(Vec::len),
            Some(1),
            "{trust}"
        );
        let attached = iam
            .list_attached_role_policies()
            .role_name(&role_name)
            .send()
            .await
            .expect("ListAttachedRolePolicies");
        let arns: Vec<&str> = attached
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn())
            .collect();
        assert_eq!(
            arns,
            [text(&redis, "readPolicyArn")],
            "the Redis read policy"
        );

        // RDS: encrypted with the stack's key, private, in the database subnets.
        let rds = aws_sdk_rds::Client::new(&sdk);
        let dbs = rds
            .describe_db_instances()
            .db_instance_identifier("qualisys-db-dev")
            .send()
            .await
            .expect("DescribeDBInstances");
        let db = &dbs.db_instances()[0];
        assert_eq!(db.db_instance_status(), Some("available"));
        assert_eq!(db.engine(), Some("postgres"));
        assert_eq!(db.storage_encrypted(), Some(true));
        assert_eq!(
            db.kms_key_id().map(str::to_string),
            Some(text(&rds_out, "kmsKeyArn"))
        );
        assert_eq!(db.publicly_accessible(), Some(false));
        assert_eq!(db.multi_az(), Some(false), "dev is single-AZ");
        assert_eq!(
            db.db_subnet_group()
                .and_then(|g| g.db_subnet_group_name())
                .map(str::to_string),
            Some(text(&network, "rdsSubnetGroupName"))
        );
        assert_eq!(
            db.master_user_secret()
                .and_then(|s| s.secret_arn())
                .map(str::to_string),
            Some(text(&rds_out, "masterSecretArn"))
        );
        let sg: Vec<&str> = db
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id())
            .collect();
        assert_eq!(sg, [text(&rds_out, "securityGroupId")]);
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let groups = ec2
            .describe_security_groups()
            .group_ids(text(&rds_out, "securityGroupId"))
            .send()
            .await
            .expect("DescribeSecurityGroups");
        let perms = groups.security_groups()[0].ip_permissions();
        assert_eq!(perms.len(), 1, "{perms:?}");
        assert_eq!(
            (perms[0].from_port(), perms[0].to_port()),
            (Some(5432), Some(5432))
        );
        assert!(perms[0].ip_ranges().is_empty(), "{perms:?}");
        let from: Vec<&str> = perms[0]
            .user_id_group_pairs()
            .iter()
            .filter_map(|p| p.group_id())
            .collect();
        assert_eq!(from, [text(&network, "nodeSecurityGroupId")]);

        // S3: versioned, SSE-KMS with the stack's key, blocked, TLS only.
        let s3 = s3_client(&sdk);
        let bucket = text(&storage, "artifactsBucketName");
        let v = s3
            .get_bucket_versioning()
            .bucket(&bucket)
            .send()
            .await
            .expect("GetBucketVersioning");
        assert_eq!(v.status().map(|s| s.as_str()), Some("Enabled"));
        let enc = s3
            .get_bucket_encryption()
            .bucket(&bucket)
            .send()
            .await
            .expect("GetBucketEncryption");
        let rule = enc
            .server_side_encryption_configuration()
            .and_then(|c| c.rules().first())
            .and_then(|r| r.apply_server_side_encryption_by_default())
            .expect("a default encryption rule");
        assert_eq!(rule.sse_algorithm().as_str(), "aws:kms");
        assert_eq!(
            rule.kms_master_key_id().map(str::to_string),
            Some(text(&storage, "kmsKeyArn"))
        );
        let block = s3
            .get_public_access_block()
            .bucket(&bucket)
            .send()
            .await
            .expect("GetPublicAccessBlock");
        let b = block
            .public_access_block_configuration()
            .expect("configuration");
        assert_eq!(
            (
                b.block_public_acls(),
                b.block_public_policy(),
                b.ignore_public_acls(),
                b.restrict_public_buckets()
            ),
            (Some(true), Some(true), Some(true), Some(true))
        );
        let policy = s3
            .get_bucket_policy()
            .bucket(&bucket)
            .send()
            .await
            .expect("GetBucketPolicy");
        let policy: serde_json::Value =
            serde_json::from_str(policy.policy().unwrap_or_default()).expect("policy JSON");
        let deny = &policy["Statement"][0];
        assert_eq!(deny["Effect"], "Deny", "{policy}");
        assert_eq!(
            deny["Condition"]["Bool"]["aws:SecureTransport"], "false",
            "{policy}"
        );

        // ECR: scan on push, a lifecycle policy.
        let ecr = aws_sdk_ecr::Client::new(&sdk);
        let repos = ecr
            .describe_repositories()
            .repository_names("qualisys-api-dev")
            .send()
            .await
            .expect("DescribeRepositories");
        let repo = &repos.repositories()[0];
        assert_eq!(
            repo.image_scanning_configuration()
                .map(|c| c.scan_on_push()),
            Some(true)
        );
        ecr.get_lifecycle_policy()
            .repository_name("qualisys-api-dev")
            .send()
            .await
            .expect("GetLifecyclePolicy");
    });

    // A second `up` of each changes nothing.
    for stack in [
        "network-dev",
        "redis-dev",
        "rds-dev",
        "eks-dev",
        "storage-dev",
    ] {
        let again = sb.run(&[
            "up",
            "--local",
            "--yes",
            "--expect-no-changes",
            "--stack",
            file(stack),
        ]);
        assert_eq!(
            again.code,
            Some(0),
            "{stack} changes again:\n{}",
            again.all()
        );
    }

    // Destroy in reverse order: nothing is left (dev protects nothing).
    let keys: BTreeMap<&str, String> = [
        ("eks", text(&eks_out, "secretsKeyArn")),
        ("rds", text(&rds_out, "kmsKeyArn")),
        ("storage", text(&storage, "kmsKeyArn")),
        ("redis", text(&redis, "kmsKeyArn")),
    ]
    .into_iter()
    .collect();
    for stack in [
        "storage-dev",
        "eks-dev",
        "rds-dev",
        "redis-dev",
        "network-dev",
    ] {
        sb.run(&["destroy", "--local", "--yes", "--stack", file(stack)])
            .ok();
        let left = sb
            .run(&["state", "list", "--local", "--stack", file(stack)])
            .ok();
        assert!(
            !left.stdout.contains("aws:"),
            "{stack} still records:\n{}",
            left.all()
        );
    }
    runtime().block_on(async {
        let sdk = sdk_config(&endpoint).await;
        let eksc = aws_sdk_eks::Client::new(&sdk);
        let clusters = eksc.list_clusters().send().await.expect("ListClusters");
        assert!(clusters.clusters().is_empty(), "{:?}", clusters.clusters());
        let rds = aws_sdk_rds::Client::new(&sdk);
        let dbs = rds.describe_db_instances().send().await.expect("DBs");
        assert!(dbs.db_instances().is_empty(), "{:?}", dbs.db_instances());
        let s3 = s3_client(&sdk);
        let buckets = s3.list_buckets().send().await.expect("ListBuckets");
        assert!(buckets.buckets().is_empty(), "{:?}", buckets.buckets());
        let ecr = aws_sdk_ecr::Client::new(&sdk);
        let repos = ecr.describe_repositories().send().await.expect("repos");
        assert!(
            repos.repositories().is_empty(),
            "{:?}",
            repos.repositories()
        );
        let iam = aws_sdk_iam::Client::new(&sdk);
        let roles = iam.list_roles().send().await.expect("ListRoles");
        assert!(roles.roles().is_empty(), "{:?}", roles.roles());
        let oidc = iam
            .list_open_id_connect_providers()
            .send()
            .await
            .expect("ListOpenIDConnectProviders");
        assert!(oidc.open_id_connect_provider_list().is_empty());
        let policies = iam
            .list_policies()
            .scope(aws_sdk_iam::types::PolicyScopeType::Local)
            .send()
            .await
            .expect("ListPolicies");
        assert!(policies.policies().is_empty(), "{:?}", policies.policies());
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let vpcs = ec2
            .describe_vpcs()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("tag-key")
                    .values("cairn:urn")
                    .build(),
            )
            .send()
            .await
            .expect("DescribeVpcs");
        assert!(vpcs.vpcs().is_empty(), "{:?}", vpcs.vpcs());
        let kms = aws_sdk_kms::Client::new(&sdk);
        for (stack, arn) in &keys {
            let key = kms
                .describe_key()
                .key_id(arn)
                .send()
                .await
                .expect("DescribeKey");
            let state = key.key_metadata().and_then(|m| m.key_state()).cloned();
            assert_eq!(
                state,
                Some(aws_sdk_kms::types::KeyState::PendingDeletion),
                "{stack}'s key is scheduled for deletion"
            );
        }
    });
}
