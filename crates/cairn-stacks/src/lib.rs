//! The Redis caching layer (Story 0.5) in the typed Rust DSL.
//!
//! [`redis_cache`] builds the same `StackSpec` that `stacks/<env>.yaml` with
//! `stacks/redis-cache.template.yaml` loads to; `tests/stacks.rs` proves it.
//! The `redis-cache` binary is the stack program the CLI runs
//! (`cairn up --stack prod --program redis-cache`): it reads the same
//! environment file's config, so the sizing is written once.

use cairn_aws::resources::iam_policy::{Policy, PolicyArgs};
use cairn_aws::resources::kms_alias::{Alias, AliasArgs};
use cairn_aws::resources::kms_key::{Key, KeyArgs};
use cairn_aws::resources::parameter_group::{ParameterArgs, ParameterGroup, ParameterGroupArgs};
use cairn_aws::resources::replication_group::{ReplicationGroup, ReplicationGroupArgs};
use cairn_aws::resources::secret::{Secret, SecretArgs};
use cairn_aws::resources::secret_version::{SecretVersion, SecretVersionArgs};
use cairn_builtin::{stack_output, Password, PasswordArgs, StackReference, StackReferenceArgs};
use cairn_core::dsl::program::{ProgramError, ProgramInput};
use cairn_core::dsl::{Input, StackBuilder};
use cairn_core::spec::{ResourceOptions, StackSpec, Timeouts};
use std::collections::BTreeMap;

/// One environment's sizing and the network stack it reads.
#[derive(Clone, Debug)]
pub struct Environment {
    pub name: String,
    pub aws_region: String,
    pub node_type: String,
    pub num_node_groups: i64,
    pub replicas_per_node_group: i64,
    pub multi_az_enabled: bool,
    pub snapshot_retention_limit: i64,
    pub redis_port: i64,
    /// The stack that owns Story 0.2's network (`network-<env>`), read
    /// by a stack reference.
    pub network_stack: String,
}

impl Environment {
    /// The environment's config as the CLI hands it to the program (from
    /// `stacks/<env>.yaml`), with the template's defaults: the sizing lives
    /// in the environment files only, for YAML and Rust alike.
    pub fn from_config(config: &ProgramInput) -> Result<Self, ProgramError> {
        Ok(Environment {
            name: config.string("environment")?,
            aws_region: config.string_or("awsRegion", "us-east-1")?,
            node_type: config.string("nodeType")?,
            num_node_groups: config.int("numNodeGroups")?,
            replicas_per_node_group: config.int("replicasPerNodeGroup")?,
            multi_az_enabled: config.bool("multiAzEnabled")?,
            snapshot_retention_limit: config.int_or("snapshotRetentionLimit", 7)?,
            redis_port: config.int_or("redisPort", 6379)?,
            network_stack: config.string("networkStack")?,
        })
    }
}

/// The `redis-cache` program: the stack for the environment the CLI names.
pub fn program(config: &ProgramInput) -> Result<StackSpec, ProgramError> {
    Ok(redis_cache(&Environment::from_config(config)?))
}

fn s(text: impl Into<String>) -> Input<String> {
    Input::Value(text.into())
}

/// The Redis caching layer for one environment.
pub fn redis_cache(env: &Environment) -> StackSpec {
    let e = &env.name;
    let mut b = StackBuilder::new(&format!("redis-{e}"));

    let key = b.resource::<Key>(
        "redisKey",
        KeyArgs {
            description: Some(s(format!(
                "Redis caching layer at-rest and secret encryption ({e})"
            ))),
            enable_key_rotation: Some(true.into()),
            deletion_window_in_days: Some(30.into()),
            policy: None,
            tags: None,
        },
    );
    b.resource::<Alias>(
        "redisKeyAlias",
        AliasArgs {
            name: s(format!("alias/qualisys-redis-{e}")),
            target_key_id: key.key_id.clone().into(),
        },
    );
    // Story 0.2's network belongs to the network stack: read, never imported.
    let network = b.resource::<StackReference>(
        "network",
        StackReferenceArgs {
            name: s(&env.network_stack),
        },
    );
    let parameters = [
        ("maxmemory-policy", "allkeys-lru"),
        ("tcp-keepalive", "300"),
        ("timeout", "0"),
        ("notify-keyspace-events", "Exe"),
        ("cluster-enabled", "yes"),
        ("reserved-memory-percent", "25"),
    ];
    let params = b.resource::<ParameterGroup>(
        "redisParameters",
        ParameterGroupArgs {
            name: s(format!("qualisys-redis7-{e}")),
            family: s("redis7"),
            description: Some(s("Redis 7 cluster-mode parameters for the caching layer")),
            parameters: Some(
                parameters
                    .iter()
                    .map(|(n, v)| ParameterArgs {
                        name: s(*n),
                        value: s(*v),
                    })
                    .collect(),
            ),
            tags: None,
        },
    );
    let token = b.resource::<Password>(
        "redisAuthToken",
        PasswordArgs {
            length: 64.into(),
            special: Some(false.into()),
            override_special: None,
        },
    );
    let tags = BTreeMap::from([
        ("environment".to_string(), s(e.as_str())),
        ("story".to_string(), s("0.5")),
    ]);
    let redis = b.resource_with::<ReplicationGroup>(
        "redis",
        ReplicationGroupArgs {
            replication_group_id: s(format!("qualisys-redis-{e}")),
            description: s(format!("Redis caching layer ({e})")),
            node_type: s(&env.node_type),
            engine: Some(s("redis")),
            engine_version: Some(s("7.1")),
            cluster_mode: None,
            num_node_groups: Some(env.num_node_groups.into()),
            replicas_per_node_group: Some(env.replicas_per_node_group.into()),
            num_cache_clusters: None,
            automatic_failover_enabled: Some(true.into()),
            multi_az_enabled: Some(env.multi_az_enabled.into()),
            transit_encryption_enabled: Some(true.into()),
            at_rest_encryption_enabled: Some(true.into()),
            kms_key_id: Some(key.arn.clone().into()),
            auth_token: Some(token.result.clone().into()),
            auth_token_update_strategy: None,
            auth_token_rotation_overlap: None,
            parameter_group_name: Some(params.name.clone().into()),
            subnet_group_name: Some(stack_output(&network, "elasticacheSubnetGroupName")),
            security_group_ids: Some(vec![stack_output(&network, "elasticacheSecurityGroupId")]),
            port: Some(env.redis_port.into()),
            maintenance_window: Some(s("sun:05:00-sun:06:00")),
            snapshot_window: Some(s("03:00-04:00")),
            snapshot_retention_limit: Some(env.snapshot_retention_limit.into()),
            apply_immediately: None,
            auto_minor_version_upgrade: None,
            final_snapshot_identifier: None,
            tags: Some(tags),
        },
        ResourceOptions {
            custom_timeouts: Timeouts {
                create: Some(3600),
                update: Some(3600),
                delete: Some(2400),
            },
            ..Default::default()
        },
    );
    let secret = b.resource::<Secret>(
        "redisConnectionSecret",
        SecretArgs {
            name: s(format!("qualisys/{e}/redis/connection")),
            description: Some(s(
                "Redis connection details for the platform's applications",
            )),
            kms_key_id: Some(key.arn.clone().into()),
            recovery_window_in_days: Some(7.into()),
            tags: None,
        },
    );
    let endpoint = redis.configuration_endpoint_address.reference();
    let port = redis.port.reference();
    let token_ref = token.result.reference();
    // The same text as the template's folded scalar: lines joined by spaces.
    let secret_string = [
        format!("{{\"primary_endpoint\":\"{endpoint}\","),
        format!("\"reader_endpoint\":\"{endpoint}\","),
        format!("\"port\":{port},"),
        format!("\"auth_token\":\"{token_ref}\","),
        "\"ssl_enabled\":true,".to_string(),
        format!("\"connection_uri\":\"rediss://default:{token_ref}@{endpoint}:{port}\"}}"),
    ]
    .join(" ");
    b.resource::<SecretVersion>(
        "redisConnection",
        SecretVersionArgs {
            secret_id: secret.arn.clone().into(),
            secret_string: s(secret_string),
        },
    );
    let policy = [
        "{\"Version\":\"2012-10-17\",\"Statement\":[".to_string(),
        "{\"Sid\":\"ReadRedisConnectionSecret\",\"Effect\":\"Allow\",".to_string(),
        "\"Action\":[\"secretsmanager:GetSecretValue\",\"secretsmanager:DescribeSecret\"],".to_string(),
        format!("\"Resource\":\"{}\"}},", secret.arn),
        "{\"Sid\":\"DecryptThroughSecretsManagerOnly\",\"Effect\":\"Allow\",".to_string(),
        format!("\"Action\":\"kms:Decrypt\",\"Resource\":\"{}\",", key.arn),
        format!(
            "\"Condition\":{{\"StringEquals\":{{\"kms:ViaService\":\"secretsmanager.{}.amazonaws.com\"}}}}}}]}}",
            env.aws_region
        ),
    ]
    .join(" ");
    let read_policy = b.resource::<Policy>(
        "redisConnectionReadPolicy",
        PolicyArgs {
            name: s(format!("qualisys-redis-connection-read-{e}")),
            path: None,
            description: Some(s(
                "Lets application pods (IRSA) read the Redis connection secret",
            )),
            policy: s(policy),
            tags: None,
        },
    );
    b.output("configurationEndpoint", endpoint);
    b.output("port", redis.port.reference());
    b.output("connectionSecretArn", secret.arn.reference());
    b.output("readPolicyArn", read_policy.arn.reference());
    b.output("kmsKeyArn", key.arn.reference());
    b.build()
}
