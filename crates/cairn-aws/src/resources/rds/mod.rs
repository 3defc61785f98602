//! RDS: one file per resource type.

pub mod get_engine_version;
pub mod instance;
pub mod parameter_group;
pub mod subnet_group;
mod tags;

use crate::clients::Shared;
use cairn_core::provider::ResourceProvider;
use std::sync::Arc;

/// This service's providers, sharing `clients`.
pub(crate) fn providers(clients: &Shared) -> Vec<Arc<dyn ResourceProvider>> {
    vec![
        Arc::new(subnet_group::SubnetGroupProvider::new(clients.clone())),
        Arc::new(parameter_group::ParameterGroupProvider::new(
            clients.clone(),
        )),
        Arc::new(instance::InstanceProvider::new(clients.clone())),
    ]
}

/// This service's data sources (`fn::invoke`).
pub(crate) fn data_sources(clients: &Shared) -> Vec<Arc<dyn cairn_core::provider::DataSource>> {
    vec![Arc::new(get_engine_version::GetEngineVersion::new(
        clients.clone(),
    ))]
}
