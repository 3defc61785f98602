//! EKS: one file per resource type.

pub mod cluster;
pub mod node_group;

use crate::clients::Shared;
use cairn_core::provider::ResourceProvider;
use std::sync::Arc;

/// This service's providers, sharing `clients`.
pub(crate) fn providers(clients: &Shared) -> Vec<Arc<dyn ResourceProvider>> {
    vec![
        Arc::new(cluster::ClusterProvider::new(clients.clone())),
        Arc::new(node_group::NodeGroupProvider::new(clients.clone())),
    ]
}
