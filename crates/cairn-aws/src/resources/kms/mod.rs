//! KMS: one file per resource type.

pub mod alias;
pub mod get_alias;
pub mod key;

use crate::clients::Shared;
use cairn_core::provider::ResourceProvider;
use std::sync::Arc;

/// This service's providers, sharing `clients`.
pub(crate) fn providers(clients: &Shared) -> Vec<Arc<dyn ResourceProvider>> {
    vec![
        Arc::new(alias::AliasProvider::new(clients.clone())),
        Arc::new(key::KeyProvider::new(clients.clone())),
    ]
}

/// This service's data sources (`fn::invoke`), sharing `clients`.
pub(crate) fn data_sources(clients: &Shared) -> Vec<Arc<dyn cairn_core::provider::DataSource>> {
    vec![Arc::new(get_alias::GetAlias::new(clients.clone()))]
}
