//! Secrets Manager: one file per resource type.

pub mod get_secret;
pub mod secret;
pub mod secret_version;

use crate::clients::Shared;
use cairn_core::provider::ResourceProvider;
use std::sync::Arc;

/// This service's providers, sharing `clients`.
pub(crate) fn providers(clients: &Shared) -> Vec<Arc<dyn ResourceProvider>> {
    vec![
        Arc::new(secret::SecretProvider::new(clients.clone())),
        Arc::new(secret_version::SecretVersionProvider::new(clients.clone())),
    ]
}

/// This service's data sources (`fn::invoke`), sharing `clients`.
pub(crate) fn data_sources(clients: &Shared) -> Vec<Arc<dyn cairn_core::provider::DataSource>> {
    vec![Arc::new(get_secret::GetSecret::new(clients.clone()))]
}
