//! `aws:ec2:RouteTableAssociation`: a subnet's route table (Pulumi's
//! `aws.ec2.RouteTableAssociation`). A subnet has at most one explicit
//! association, and ReplaceRouteTableAssociation (a new `routeTableId`, in
//! place) gives it a new association id, so the resource's id is the
//! subnet's id and the association id (`rtbassoc-…`) is the `id` output.
//! Import takes Terraform's `subnet-…/rtb-…`, a bare `subnet-…` or the
//! association id.
//!
//! Associations carry no tags. Recovery after a lost answer looks up the
//! subnet's association: one to the same table is what the lost call made,
//! or one identical to it (associating again would change nothing), so it
//! is adopted; one to another table is not ours and is refused.

use super::route::route_not_found;
use crate::clients::Shared;
use crate::util::{
    api_error, batch_label, error_code, get_str, missing, not_owned, resource_label,
    EC2_FILTER_VALUES_MAX,
};
use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, RouteTable as RouteTableModel};
use cairn_core::dsl::{DeclaredType, Input, Output, Outputs, Resource};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, ProviderError, ReadRequest, ResourceProvider,
};
use cairn_core::schema::ResourceSchema;
use cairn_core::value::{Map, PropertyPath};
use serde::Serialize;
use std::collections::BTreeMap;

pub const TOKEN: &str = "aws:ec2:RouteTableAssociation";

pub mod rules {
    pub const ASSOCIATION_IDS: &str = "aws::ec2::association-ids";
}

pub struct RouteTableAssociation;

/// Associates a subnet with a route table.
#[derive(Serialize, Clone, Debug, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(token = "aws:ec2:RouteTableAssociation", kind = RouteTableAssociation, outputs = RouteTableAssociationOutputs)]
pub struct RouteTableAssociationArgs {
    /// The subnet (cannot change in place).
    #[prop(replaces)]
    pub subnet_id: Input<String>,
    /// The route table; a new one is ReplaceRouteTableAssociation, in place.
    pub route_table_id: Input<String>,
}

#[derive(Outputs)]
pub struct RouteTableAssociationOutputs {
    /// The association id (rtbassoc-...); it changes when the table does.
    pub id: Output<String>,
}

/// A live association: (association id, subnet id, route table id).
type Assoc = (String, String, String);

pub struct RouteTableAssociationProvider {
    schema: ResourceSchema,
    clients: Shared,
}

fn outputs(a: &Assoc) -> Map {
    let mut m = Map::new();
    m.insert("id".into(), a.0.as_str().into());
    m
}

/// The explicit (not main) associations of `tables`.
fn explicit(tables: &[RouteTableModel]) -> Vec<Assoc> {
    tables
        .iter()
        .flat_map(|t| t.associations())
        .filter(|a| !a.main().unwrap_or(false))
        .filter_map(|a| {
            Some((
                a.route_table_association_id()?.to_string(),
                a.subnet_id()?.to_string(),
                a.route_table_id()?.to_string(),
            ))
        })
        .collect()
}

/// What a read of `id` (`rtbassoc-…`, `subnet-…` or `subnet-…/rtb-…`)
/// reports among `live` associations (single and batched reads alike).
fn observe(id: &str, live: &[Assoc]) -> Option<Observed> {
    let a = if id.starts_with("rtbassoc-") {
        live.iter().find(|a| a.0 == id)?
    } else {
        let (subnet, table) = match id.split_once('/') {
            Some((s, t)) => (s, Some(t)),
            None => (id, None),
        };
        live.iter()
            .find(|a| a.1 == subnet)
            .filter(|a| table.is_none_or(|t| t == a.2))?
    };
    let mut obs = Map::new();
    obs.insert("subnetId".into(), a.1.as_str().into());
    obs.insert("routeTableId".into(), a.2.as_str().into());
    Some(Observed {
        id: a.1.clone(),
        inputs: obs,
        outputs: outputs(a),
    })
}

/// The id's form, or `None` for an id that is no association id.
fn id_filter(id: &str) -> Option<(&'static str, &str)> {
    if id.starts_with("rtbassoc-") {
        return Some(("association.route-table-association-id", id));
    }
    let (subnet, table) = match id.split_once('/') {
        Some((s, t)) => (s, Some(t)),
        None => (id, None),
    };
    (subnet.starts_with("subnet-") && table.is_none_or(|t| t.starts_with("rtb-")))
        .then_some(("association.subnet-id", subnet))
}

impl RouteTableAssociationProvider {
    pub fn new(clients: Shared) -> Self {
        RouteTableAssociationProvider {
            schema: RouteTableAssociation::schema(),
            clients,
        }
    }

    /// The explicit association matching `filter` = `value`.
    async fn find(
        &self,
        resource: &str,
        filter: &str,
        value: &str,
    ) -> Result<Option<Assoc>, ProviderError> {
        let sdk = self.clients.get().await?;
        let out = match sdk
            .ec2
            .describe_route_tables()
            .filters(Filter::builder().name(filter).values(value).build())
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if route_not_found(error_code(&e)) => return Ok(None),
            Err(e) => return Err(api_error(resource, "ec2:DescribeRouteTables", e, &[])),
        };
        Ok(explicit(out.route_tables())
            .into_iter()
            .find(|(id, subnet, _)| match filter {
                "association.subnet-id" => subnet == value,
                _ => id == value,
            }))
    }

    async fn by_subnet(
        &self,
        resource: &str,
        subnet: &str,
    ) -> Result<Option<Assoc>, ProviderError> {
        self.find(resource, "association.subnet-id", subnet).await
    }

    /// Adopts the subnet's association when it is to `table`.
    fn adopt_or_refuse(
        ctx: &CallContext,
        resource: &str,
        a: &Assoc,
        table: &str,
    ) -> Result<Created, ProviderError> {
        if a.2 == table {
            ctx.report(
                "adopting the association (the subnet is already associated with this table)",
            );
            return Ok(Created {
                id: a.1.clone(),
                outputs: outputs(a),
            });
        }
        Err(not_owned(
            ctx,
            resource,
            &a.1,
            format!(
                "an association with {} ({}; associations carry no tags, and one to another table is not this resource's)",
                a.2, a.0
            ),
        ))
    }
}

#[async_trait]
impl ResourceProvider for RouteTableAssociationProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        let mut out = Vec::new();
        for (key, prefix) in [("subnetId", "subnet-"), ("routeTableId", "rtb-")] {
            if let Some(v) = crate::util::concrete_str(inputs, key) {
                if !v.starts_with(prefix) {
                    out.push(
                        CheckFailure::error(
                            rules::ASSOCIATION_IDS,
                            PropertyPath::key(key),
                            format!("`{v}` is not a valid {key}: EC2 expects an id starting with `{prefix}`"),
                        )
                        .with_help("reference the subnet's and the route table's `id` outputs"),
                    );
                }
            }
        }
        out
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let (Some(subnet), Some(table)) =
            (get_str(inputs, "subnetId"), get_str(inputs, "routeTableId"))
        else {
            return Err(ProviderError::invalid(
                &resource,
                "subnetId and routeTableId are required",
            ));
        };
        let sdk = self.clients.get().await?;
        match sdk
            .ec2
            .associate_route_table()
            .subnet_id(subnet)
            .route_table_id(table)
            .send()
            .await
        {
            Ok(out) => {
                let id = out.association_id().ok_or_else(|| {
                    missing(&resource, "ec2:AssociateRouteTable", "association id")
                })?;
                let a = (id.to_string(), subnet.to_string(), table.to_string());
                Ok(Created {
                    id: subnet.to_string(),
                    outputs: outputs(&a),
                })
            }
            // Our own lost attempt (the SDK retried), or another association.
            Err(e) if error_code(&e) == Some("Resource.AlreadyAssociated") => {
                match self.by_subnet(&resource, subnet).await? {
                    Some(a) => Self::adopt_or_refuse(ctx, &resource, &a, table),
                    None => Err(api_error(&resource, "ec2:AssociateRouteTable", e, &[])),
                }
            }
            Err(e) => Err(api_error(&resource, "ec2:AssociateRouteTable", e, &[])),
        }
    }

    async fn read(
        &self,
        ctx: &CallContext,
        id: &str,
        _inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let Some((filter, value)) = id_filter(id) else {
            return Err(ProviderError::invalid(
                &resource,
                format!("`{id}` is not a route table association id: expected `subnet-…/rtb-…` (Terraform's), `subnet-…` or `rtbassoc-…`"),
            ));
        };
        let found = self.find(&resource, filter, value).await?;
        Ok(observe(id, &found.into_iter().collect::<Vec<_>>()))
    }

    fn read_batch_limit(&self) -> Option<usize> {
        Some(EC2_FILTER_VALUES_MAX)
    }

    /// One `DescribeRouteTables` per 200 subnets (`association.subnet-id`)
    /// and per 200 association ids of the batch, paginated; an id of
    /// neither form gets the single read's error.
    async fn read_many(
        &self,
        reqs: &[ReadRequest],
    ) -> Result<BTreeMap<String, Observed>, ProviderError> {
        let resource = batch_label(reqs, TOKEN);
        let sdk = self.clients.get().await?;
        let (ec2, resource) = (&sdk.ec2, resource.as_str());
        let page = |filter, next| super::batch::route_tables_page(ec2, resource, filter, next);
        let mut tables: Vec<RouteTableModel> = Vec::new();
        for filter in [
            "association.subnet-id",
            "association.route-table-association-id",
        ] {
            let values: Vec<&str> = reqs
                .iter()
                .filter_map(|r| id_filter(&r.id).filter(|(f, _)| *f == filter))
                .map(|(_, v)| v)
                .collect();
            if values.is_empty() {
                continue;
            }
            let id_of = RouteTableModel::route_table_id;
            let live = super::batch::describe_by_ids(values, filter, id_of, page).await?;
            tables.extend(live.into_values());
        }
        let live = explicit(&tables);
        let mut found = BTreeMap::new();
        for r in reqs {
            let seen = if id_filter(&r.id).is_some() {
                observe(&r.id, &live)
            } else {
                self.read(&r.ctx, &r.id, &r.inputs).await?
            };
            if let Some(o) = seen {
                found.insert(r.id.clone(), o);
            }
        }
        Ok(found)
    }

    async fn update(
        &self,
        ctx: &CallContext,
        id: &str,
        _old: &Map,
        new: &Map,
        _old_outputs: &Map,
    ) -> Result<Map, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let table = get_str(new, "routeTableId")
            .ok_or_else(|| ProviderError::invalid(&resource, "routeTableId is required"))?;
        let current = self.by_subnet(&resource, id).await?.ok_or_else(|| {
            missing(
                &resource,
                "ec2:DescribeRouteTables",
                "association of the subnet",
            )
        })?;
        if current.2 == table {
            return Ok(outputs(&current));
        }
        let sdk = self.clients.get().await?;
        let out = sdk
            .ec2
            .replace_route_table_association()
            .association_id(&current.0)
            .route_table_id(table)
            .send()
            .await
            .map_err(|e| api_error(&resource, "ec2:ReplaceRouteTableAssociation", e, &[]))?;
        let new_id = out.new_association_id().ok_or_else(|| {
            missing(
                &resource,
                "ec2:ReplaceRouteTableAssociation",
                "new association id",
            )
        })?;
        Ok(outputs(&(
            new_id.to_string(),
            id.to_string(),
            table.to_string(),
        )))
    }

    async fn delete(
        &self,
        ctx: &CallContext,
        id: &str,
        _inputs: &Map,
        _outputs: &Map,
    ) -> Result<(), ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let Some(a) = self.by_subnet(&resource, id).await? else {
            return Ok(());
        };
        let sdk = self.clients.get().await?;
        match sdk
            .ec2
            .disassociate_route_table()
            .association_id(&a.0)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if route_not_found(error_code(&e)) => Ok(()),
            Err(e) => Err(api_error(&resource, "ec2:DisassociateRouteTable", e, &[])),
        }
    }

    async fn recover(
        &self,
        ctx: &CallContext,
        inputs: &Map,
    ) -> Result<Option<Created>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let (Some(subnet), Some(table)) =
            (get_str(inputs, "subnetId"), get_str(inputs, "routeTableId"))
        else {
            return Ok(None);
        };
        match self.by_subnet(&resource, subnet).await? {
            Some(a) => Self::adopt_or_refuse(ctx, &resource, &a, table).map(Some),
            None => Ok(None),
        }
    }
}
