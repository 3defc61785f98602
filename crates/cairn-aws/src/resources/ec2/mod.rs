//! EC2 (VPC networking): one file per resource type.

pub(crate) mod batch;
pub mod eip;
pub mod get_security_group;
pub mod get_subnets;
pub mod get_vpc;
pub mod internet_gateway;
pub mod nat_gateway;
pub mod route;
pub mod route_table;
pub mod route_table_association;
pub mod security_group;
pub mod security_group_rule;
pub mod subnet;
pub mod vpc;

use crate::clients::Shared;
use cairn_core::provider::ResourceProvider;
use std::sync::Arc;

/// This service's providers, sharing `clients`.
pub(crate) fn providers(clients: &Shared) -> Vec<Arc<dyn ResourceProvider>> {
    let c = || clients.clone();
    vec![
        Arc::new(security_group::SecurityGroupProvider::new(c())),
        Arc::new(vpc::VpcProvider::new(c())),
        Arc::new(subnet::SubnetProvider::new(c())),
        Arc::new(internet_gateway::InternetGatewayProvider::new(c())),
        Arc::new(eip::EipProvider::new(c())),
        Arc::new(nat_gateway::NatGatewayProvider::new(c())),
        Arc::new(route_table::RouteTableProvider::new(c())),
        Arc::new(route::RouteProvider::new(c())),
        Arc::new(route_table_association::RouteTableAssociationProvider::new(
            c(),
        )),
        Arc::new(security_group_rule::SecurityGroupRuleProvider::new(c())),
    ]
}

/// This service's data sources (`fn::invoke`), sharing `clients`.
pub(crate) fn data_sources(clients: &Shared) -> Vec<Arc<dyn cairn_core::provider::DataSource>> {
    vec![
        Arc::new(get_security_group::GetSecurityGroup::new(clients.clone())),
        Arc::new(get_subnets::GetSubnets::new(clients.clone())),
        Arc::new(get_vpc::GetVpc::new(clients.clone())),
    ]
}
