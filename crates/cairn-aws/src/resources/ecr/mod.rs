//! ECR: one file per resource type.

pub mod lifecycle_policy;
pub mod repository;

use crate::clients::Shared;
use cairn_core::provider::ResourceProvider;
use std::sync::Arc;

/// This service's providers, sharing `clients`.
pub(crate) fn providers(clients: &Shared) -> Vec<Arc<dyn ResourceProvider>> {
    vec![
        Arc::new(repository::RepositoryProvider::new(clients.clone())),
        Arc::new(lifecycle_policy::LifecyclePolicyProvider::new(
            clients.clone(),
        )),
    ]
}
