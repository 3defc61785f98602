//! Secrets Manager: one file per resource type.

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
