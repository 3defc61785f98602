//! One folder per AWS service, one file per resource type: schema, preview
//! checks, lifecycle, and the typed Rust DSL (`ResourceType` unit struct,
//! `Args`, `Outputs`), like terraform-provider-aws's `internal/service/`.
//! A new type is one file plus one line in its service's `providers()`.
//!
//! The old flat module names (`resources::kms_key`, ...) stay as aliases.

pub mod aws;
pub mod ec2;
pub mod ecr;
pub mod eks;
pub mod elasticache;
pub mod iam;
pub mod kms;
pub(crate) mod listed;
pub mod rds;
pub mod s3;
pub mod secretsmanager;

pub use ec2::security_group;
pub use elasticache::{parameter_group, replication_group, subnet_group};
pub use iam::policy as iam_policy;
pub use kms::{alias as kms_alias, key as kms_key};
pub use secretsmanager::{secret, secret_version};

use crate::clients::{AwsClients, Shared};
use cairn_core::provider::ResourceProvider;
use cairn_core::schema::ResourceSchema;
use std::sync::Arc;

/// Every provider, grouped by service, sharing `clients`.
pub fn all_providers(clients: &Shared) -> Vec<Arc<dyn ResourceProvider>> {
    let mut all = Vec::new();
    all.extend(ec2::providers(clients));
    all.extend(ecr::providers(clients));
    all.extend(eks::providers(clients));
    all.extend(elasticache::providers(clients));
    all.extend(iam::providers(clients));
    all.extend(kms::providers(clients));
    all.extend(s3::providers(clients));
    all.extend(rds::providers(clients));
    all.extend(secretsmanager::providers(clients));
    all
}

/// Every data source (`fn::invoke`), sharing `clients`.
pub fn all_data_sources(clients: &Shared) -> Vec<Arc<dyn cairn_core::provider::DataSource>> {
    let mut all = aws::data_sources(clients);
    all.extend(iam::data_sources());
    all.extend(ec2::data_sources(clients));
    all.extend(kms::data_sources(clients));
    all.extend(rds::data_sources(clients));
    all.extend(secretsmanager::data_sources(clients));
    all
}

/// Every schema, sorted by type token (no clients are built, no IO).
pub fn all_schemas() -> Vec<ResourceSchema> {
    let clients = Arc::new(AwsClients::lazy(None));
    let mut schemas: Vec<ResourceSchema> = all_providers(&clients)
        .iter()
        .map(|p| p.schema().clone())
        .collect();
    schemas.sort_by(|a, b| a.token.cmp(&b.token));
    schemas
}
