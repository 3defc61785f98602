//! AWS resource providers for cairn: KMS keys and aliases, ElastiCache
//! parameter groups, subnet groups and replication groups, Secrets Manager
//! secrets and versions, IAM policies and EC2 security groups.
//!
//! This is the only crate that links the AWS SDK. Providers build their
//! clients on first use, so [`register`] / [`register_lazy`] and
//! [`schemas`] need no network and no credentials (preview works offline).

pub mod clients;
pub mod error;
pub mod resources;
mod util;
mod wait;

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

/// One provider per resource type, sharing `clients`.
pub fn providers(clients: Arc<AwsClients>) -> Vec<Arc<dyn ResourceProvider>> {
    use resources::*;
    vec![
        Arc::new(kms_key::KeyProvider::new(clients.clone())),
        Arc::new(kms_alias::AliasProvider::new(clients.clone())),
        Arc::new(parameter_group::ParameterGroupProvider::new(clients.clone())),
        Arc::new(subnet_group::SubnetGroupProvider::new(clients.clone())),
        Arc::new(replication_group::ReplicationGroupProvider::new(clients.clone())),
        Arc::new(secret::SecretProvider::new(clients.clone())),
        Arc::new(secret_version::SecretVersionProvider::new(clients.clone())),
        Arc::new(iam_policy::PolicyProvider::new(clients.clone())),
        Arc::new(security_group::SecurityGroupProvider::new(clients)),
    ]
}

/// Registers every AWS resource type with clients shared from `clients`.
pub fn register_with(registry: &mut Registry, clients: Arc<AwsClients>) {
    for p in providers(clients) {
        registry.register(p);
    }
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

/// The schemas of every AWS resource type (no clients, no IO).
pub fn schemas() -> Vec<ResourceSchema> {
    resources::all_schemas()
}
