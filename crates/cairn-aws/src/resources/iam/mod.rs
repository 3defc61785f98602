//! IAM: one file per resource type.

pub mod get_policy_document;
pub mod openid_connect_provider;
pub mod policy;
pub(crate) mod policy_doc;
pub mod role;
pub mod role_policy_attachment;

use crate::clients::Shared;
use cairn_core::provider::ResourceProvider;
use std::sync::Arc;

/// This service's providers, sharing `clients`.
pub(crate) fn providers(clients: &Shared) -> Vec<Arc<dyn ResourceProvider>> {
    vec![
        Arc::new(policy::PolicyProvider::new(clients.clone())),
        Arc::new(role::RoleProvider::new(clients.clone())),
        Arc::new(role_policy_attachment::RolePolicyAttachmentProvider::new(
            clients.clone(),
        )),
        Arc::new(openid_connect_provider::OpenIdConnectProviderProvider::new(
            clients.clone(),
        )),
    ]
}

/// This service's data sources.
pub(crate) fn data_sources() -> Vec<Arc<dyn cairn_core::provider::DataSource>> {
    vec![Arc::new(get_policy_document::GetPolicyDocument::new())]
}
