//! ElastiCache: one file per resource type.

pub mod parameter_group;
pub mod replication_group;
pub mod subnet_group;

use crate::clients::Shared;
use cairn_core::provider::ResourceProvider;
use std::sync::Arc;

/// This service's providers, sharing `clients`.
pub(crate) fn providers(clients: &Shared) -> Vec<Arc<dyn ResourceProvider>> {
    vec![
        Arc::new(parameter_group::ParameterGroupProvider::new(
            clients.clone(),
        )),
        Arc::new(replication_group::ReplicationGroupProvider::new(
            clients.clone(),
        )),
        Arc::new(subnet_group::SubnetGroupProvider::new(clients.clone())),
    ]
}
