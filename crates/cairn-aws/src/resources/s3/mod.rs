//! S3: one file per resource type. The bucket's settings are separate
//! types, as in Pulumi's AWS provider; each takes the bucket name as its id
//! (Terraform's import id).

pub mod bucket;
pub mod bucket_policy;
pub mod bucket_public_access_block;
pub mod bucket_server_side_encryption_configuration;
pub mod bucket_versioning;

use crate::clients::Shared;
use crate::util::concrete_str;
use cairn_core::provider::{CheckFailure, ResourceProvider};
use cairn_core::value::{Map, PropertyPath};
use std::sync::Arc;

/// This service's providers, sharing `clients`.
pub(crate) fn providers(clients: &Shared) -> Vec<Arc<dyn ResourceProvider>> {
    vec![
        Arc::new(bucket::BucketProvider::new(clients.clone())),
        Arc::new(bucket_versioning::BucketVersioningProvider::new(
            clients.clone(),
        )),
        Arc::new(
            bucket_server_side_encryption_configuration::BucketSseProvider::new(clients.clone()),
        ),
        Arc::new(bucket_public_access_block::BucketPublicAccessBlockProvider::new(clients.clone())),
        Arc::new(bucket_policy::BucketPolicyProvider::new(clients.clone())),
    ]
}

/// S3's "no such bucket" codes (HEAD answers a bare 404).
pub(crate) fn bucket_gone(code: Option<&str>) -> bool {
    matches!(code, Some("NoSuchBucket" | "NotFound"))
}

/// The settings types' `bucket` property: a bucket name, never an ARN.
pub(crate) fn bucket_ref_failures(rule: &str, inputs: &Map) -> Vec<CheckFailure> {
    match concrete_str(inputs, "bucket") {
        Some(b) if b.starts_with("arn:") || bucket::name_problem(b).is_some() => {
            vec![CheckFailure::error(
                rule,
                PropertyPath::key("bucket"),
                format!("`{b}` is not a bucket name"),
            )
            .with_help("give the bucket's name (its `bucket` or `id` output), not its ARN")]
        }
        _ => Vec::new(),
    }
}
