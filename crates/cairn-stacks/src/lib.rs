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
use cairn_core::dsl::{Options, StackBuilder};
use cairn_core::spec::StackSpec;
use std::time::Duration;

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

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

/// The Redis caching layer for one environment.
pub fn redis_cache(env: &Environment) -> StackSpec {
    let e = &env.name;
    let mut b = StackBuilder::new(&format!("redis-{e}"));

    let key = b.resource::<Key>(
        "redisKey",
        KeyArgs::new()
            .description(format!(
                "Redis caching layer at-rest and secret encryption ({e})"
            ))
            .enable_key_rotation(true)
            .deletion_window_in_days(30),
    );
    b.resource::<Alias>(
        "redisKeyAlias",
        AliasArgs::new(format!("alias/qualisys-redis-{e}"), key.key_id.clone()),
    );
    // Story 0.2's network belongs to the network stack: read, never imported.
    let network = b.resource::<StackReference>(
        "network",
        StackReferenceArgs::new(env.network_stack.as_str()),
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
        ParameterGroupArgs::new(format!("qualisys-redis7-{e}"), "redis7")
            .description("Redis 7 cluster-mode parameters for the caching layer")
            .parameters(parameters.map(|(n, v)| ParameterArgs::new(n, v))),
    );
    let token = b.resource::<Password>("redisAuthToken", PasswordArgs::new(64).special(false));
    let redis = b.resource_with::<ReplicationGroup>(
        "redis",
        ReplicationGroupArgs::new(
            format!("qualisys-redis-{e}"),
            format!("Redis caching layer ({e})"),
            env.node_type.as_str(),
        )
        .engine("redis")
        .engine_version("7.1")
        .num_node_groups(env.num_node_groups)
        .replicas_per_node_group(env.replicas_per_node_group)
        .automatic_failover_enabled(true)
        .multi_az_enabled(env.multi_az_enabled)
        .transit_encryption_enabled(true)
        .at_rest_encryption_enabled(true)
        .kms_key_id(key.arn.clone())
        .auth_token(token.result.clone())
        .parameter_group_name(params.name.clone())
        .subnet_group_name(stack_output(&network, "elasticacheSubnetGroupName"))
        .security_group_ids([stack_output(&network, "elasticacheSecurityGroupId")])
        .port(env.redis_port)
        .maintenance_window("sun:05:00-sun:06:00")
        .snapshot_window("03:00-04:00")
        .snapshot_retention_limit(env.snapshot_retention_limit)
        .tags([("environment", e.as_str()), ("story", "0.5")]),
        Options::new()
            .create_timeout(HOUR)
            .update_timeout(HOUR)
            .delete_timeout(40 * MINUTE),
    );
    let secret = b.resource::<Secret>(
        "redisConnectionSecret",
        SecretArgs::new(format!("qualisys/{e}/redis/connection"))
            .description("Redis connection details for the platform's applications")
            .kms_key_id(key.arn.clone())
            .recovery_window_in_days(7),
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
        SecretVersionArgs::new(secret.arn.clone(), secret_string),
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
        PolicyArgs::new(format!("qualisys-redis-connection-read-{e}"), policy)
            .description("Lets application pods (IRSA) read the Redis connection secret"),
    );
    b.output("configurationEndpoint", endpoint);
    b.output("port", redis.port.reference());
    b.output("connectionSecretArn", secret.arn.reference());
    b.output("readPolicyArn", read_policy.arn.reference());
    b.output("kmsKeyArn", key.arn.reference());
    b.build()
}
