//! AWS resource providers for cairn: KMS keys and aliases, ElastiCache
//! parameter groups, subnet groups and replication groups, Secrets Manager
//! secrets and versions, IAM policies, roles, role policy attachments and
//! OIDC providers, ECR repositories and lifecycle policies, S3 buckets and
//! their settings, RDS parameter groups and PostgreSQL instances, and EC2
//! security groups.
//!
//! This is the only crate that links the AWS SDK. Providers build their
//! clients on first use, so [`register`] / [`register_lazy`] and
//! [`schemas`] need no network and no credentials (preview works offline).

pub mod clients;
pub mod concurrency;
pub mod error;
pub mod inspect;
pub mod provider_resource;
pub mod regional;
mod regional_data;
pub mod resources;
mod util;
mod wait;

#[cfg(test)]
mod mock_tests;

use cairn_core::provider::{Registry, ResourceProvider};
use cairn_core::schema::ResourceSchema;
use std::sync::Arc;

pub use aws_config::SdkConfig;
pub use clients::{
    load_sdk_config, retry_config, verify_credentials, waiter_describe_calls, AwsClients,
    PollConfig,
};
pub use error::AwsError;
pub use resources::replication_group::{connection_secret_json, parameter_group_enables_cluster};
pub use util::URN_TAG;
pub use wait::{waiter_describe_calls_per_waited_minute, waiter_waited};

/// One provider per resource type, sharing `clients`.
pub fn providers(clients: Arc<AwsClients>) -> Vec<Arc<dyn ResourceProvider>> {
    resources::all_providers(&clients)
}

/// Registers every AWS resource type with clients shared from `clients`,
/// each taking a `region` input ([`regional`]), and `pulumi:providers:aws`.
pub fn register_with(registry: &mut Registry, clients: Arc<AwsClients>) {
    let data_regions = regional_data::DataRegions::new(clients.clone());
    for d in resources::all_data_sources(&clients) {
        registry.register_data_source(Arc::new(regional_data::RegionalData::new(
            d,
            data_regions.clone(),
        )));
    }
    let regions = regional::Regions::new(clients.clone());
    for p in providers(clients) {
        registry.register(Arc::new(regional::Regional::new(p, regions.clone())));
    }
    registry.register(Arc::new(provider_resource::AwsProviderResource::new()));
}

/// Registers every AWS resource type using an already-loaded configuration.
/// No network call is made until a provider is used.
pub fn register(registry: &mut Registry, sdk: &SdkConfig) {
    register_with(registry, Arc::new(AwsClients::from_sdk_config(sdk)));
}

/// Registers every AWS resource type; the configuration is loaded with
/// [`load_sdk_config`]`(endpoint_override)` on the first provider call.
/// Use this for preview: it never touches credentials unless a provider
/// actually calls AWS.
pub fn register_lazy(registry: &mut Registry, endpoint_override: Option<&str>) {
    register_with(registry, Arc::new(AwsClients::lazy(endpoint_override)));
}

/// The schemas of every AWS resource type as registered (with `region`),
/// and `pulumi:providers:aws`'s (no clients, no IO).
pub fn schemas() -> Vec<ResourceSchema> {
    let mut all: Vec<ResourceSchema> = resources::all_schemas()
        .into_iter()
        .map(regional::with_region)
        .collect();
    all.push(
        provider_resource::AwsProviderResource::new()
            .schema()
            .clone(),
    );
    all.sort_by(|a, b| a.token.cmp(&b.token));
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_core::schema::PropType;

    #[test]
    fn every_type_is_registered_lazily_without_network() {
        let mut reg = Registry::new();
        let clients = Arc::new(AwsClients::lazy(Some("http://127.0.0.1:1")));
        register_with(&mut reg, clients.clone());
        let tokens: Vec<&str> = reg.tokens().collect();
        for t in [
            "aws:ec2:SecurityGroup",
            "aws:elasticache:ParameterGroup",
            "aws:elasticache:ReplicationGroup",
            "aws:elasticache:SubnetGroup",
            "aws:iam:Policy",
            "aws:iam:Role",
            "aws:iam:RolePolicyAttachment",
            "aws:iam:OpenIdConnectProvider",
            "aws:ecr:Repository",
            "aws:ecr:LifecyclePolicy",
            "aws:s3:Bucket",
            "aws:s3:BucketVersioning",
            "aws:s3:BucketServerSideEncryptionConfiguration",
            "aws:s3:BucketPublicAccessBlock",
            "aws:s3:BucketPolicy",
            "aws:kms:Alias",
            "aws:kms:Key",
            "aws:secretsmanager:Secret",
            "aws:secretsmanager:SecretVersion",
            "aws:rds:ParameterGroup",
            "aws:rds:Instance",
        ] {
            assert!(tokens.contains(&t), "{t} is not registered");
        }
        // Checks run without touching AWS.
        let rg = reg.get("aws:elasticache:ReplicationGroup").unwrap();
        let mut inputs = cairn_core::Map::new();
        inputs.insert("replicationGroupId".into(), "Bad--".into());
        assert!(!rg.check(&inputs).is_empty());
        assert!(!clients.is_loaded());
        assert_eq!(schemas().len(), tokens.len());
    }

    #[test]
    fn schemas_are_consistent() {
        for s in schemas() {
            let provider = s.token == provider_resource::TOKEN;
            assert!(s.token.starts_with("aws:") || provider, "{}", s.token);
            let mut names: Vec<&str> = s.properties.iter().map(|p| p.name.as_str()).collect();
            let n = names.len();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), n, "duplicate property in {}", s.token);
            for p in &s.properties {
                assert!(
                    p.name.chars().next().unwrap().is_ascii_lowercase()
                        && !p.name.contains(['_', '-']),
                    "{}.{} is not camelCase",
                    s.token,
                    p.name
                );
                assert!(!p.doc.is_empty(), "{}.{} has no doc", s.token, p.name);
                if let (Some(d), PropType::Int { min, max }) = (&p.default, &p.ty) {
                    let d = d.as_i64().unwrap();
                    assert!(min.is_none_or(|m| d >= m) && max.is_none_or(|m| d <= m));
                }
            }
            assert!(
                !s.outputs.is_empty() || provider,
                "{} has no outputs",
                s.token
            );
            if !provider {
                let region = s
                    .prop(regional::REGION)
                    .expect("every AWS type takes `region`");
                assert!(region.replace_on_change && !region.required);
            }
        }
        let rg = schemas()
            .into_iter()
            .find(|s| s.token == "aws:elasticache:ReplicationGroup")
            .unwrap();
        assert!(rg.prop("authToken").unwrap().secret);
        for p in [
            "replicationGroupId",
            "port",
            "subnetGroupName",
            "atRestEncryptionEnabled",
            "kmsKeyId",
        ] {
            assert!(rg.prop(p).unwrap().replace_on_change, "{p}");
        }
        for p in [
            "nodeType",
            "numNodeGroups",
            "replicasPerNodeGroup",
            "securityGroupIds",
            "authToken",
        ] {
            assert!(!rg.prop(p).unwrap().replace_on_change, "{p}");
        }
        assert!(rg.fixed_physical_name);
        let sv = schemas()
            .into_iter()
            .find(|s| s.token == "aws:secretsmanager:SecretVersion")
            .unwrap();
        assert!(sv.prop("secretString").unwrap().secret);
    }

    #[test]
    fn poll_config_defaults_and_backoff_start() {
        let p = PollConfig::with_max(std::time::Duration::from_millis(15_000));
        assert_eq!(p.first, std::time::Duration::from_millis(1_500));
        let p = PollConfig::with_max(std::time::Duration::from_millis(5));
        assert_eq!(p.first, std::time::Duration::from_millis(1));
    }
}
