//! One file per resource type: schema, preview checks, lifecycle, and the
//! typed Rust DSL (`ResourceType` unit struct, `Args`, `Outputs`).

pub mod iam_policy;
pub mod kms_alias;
pub mod kms_key;
pub mod parameter_group;
pub mod replication_group;
pub mod secret;
pub mod secret_version;
pub mod security_group;
pub mod subnet_group;

use cairn_core::schema::ResourceSchema;

/// Every schema, in a stable order.
pub fn all_schemas() -> Vec<ResourceSchema> {
    vec![
        kms_key::schema(),
        kms_alias::schema(),
        parameter_group::schema(),
        subnet_group::schema(),
        replication_group::schema(),
        secret::schema(),
        secret_version::schema(),
        iam_policy::schema(),
        security_group::schema(),
    ]
}
