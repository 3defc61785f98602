//! `aws:ec2:Route`: one route of a route table (Pulumi's `aws.ec2.Route`).
//! Its id is Terraform's import id, `rtb-…_10.0.0.0/16` (a route has no id
//! of its own in EC2: a table holds one route per destination). The table
//! and destination replace; a new target is ReplaceRoute in place.
//!
//! Routes carry no tags. Recovery after a lost answer looks up that exact
//! route: one to the same target is what the lost CreateRoute made, or an
//! identical route that creating again would only duplicate (the call is
//! idempotent in effect), so it is adopted; one to another target is not
//! ours and is refused. Also the route helpers `route_table.rs` shares.

use super::vpc::{rules as net_rules, Cidr};
use crate::clients::Shared;
use crate::util::{
    api_error, api_failure, batch_label, concrete_str, error_code, get_str, resource_label,
    EC2_FILTER_VALUES_MAX,
};
use async_trait::async_trait;
use aws_sdk_ec2::types::{Route as RouteModel, RouteTable as RouteTableModel};
use cairn_core::dsl::{DeclaredType, Input, Output, Outputs, Resource};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, ProviderError, ReadRequest, ResourceProvider,
    StackView,
};
use cairn_core::schema::ResourceSchema;
use cairn_core::value::{Map, PropertyPath, Value};
use serde::Serialize;
use std::collections::BTreeMap;

pub const TOKEN: &str = "aws:ec2:Route";

/// Stable ids of the route types' preview rules.
pub mod rules {
    pub const ROUTE_TARGET: &str = "aws::ec2::route-target";
    pub const ROUTE_DUPLICATE: &str = "aws::ec2::route-duplicate";
}

pub struct Route;

/// One route in a route table.
#[derive(Serialize, Clone, Debug, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(token = "aws:ec2:Route", kind = Route, outputs = RouteOutputs)]
pub struct RouteArgs {
    /// The route table (rtb-...).
    #[prop(replaces)]
    pub route_table_id: Input<String>,
    /// Destination IPv4 range, e.g. `0.0.0.0/0`.
    #[prop(replaces)]
    pub destination_cidr_block: Input<String>,
    /// Target: an internet or virtual private gateway (igw-..., vgw-...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway_id: Option<Input<String>>,
    /// Target: a NAT gateway (nat-...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nat_gateway_id: Option<Input<String>>,
}

#[derive(Outputs)]
pub struct RouteOutputs {
    /// `rtb-…_<destination>` (Terraform's import id).
    pub id: Output<String>,
    /// How the route was made (`CreateRoute`, `CreateRouteTable`, ...).
    pub origin: Output<String>,
    /// `active`, or `blackhole` when its target is gone.
    pub state: Output<String>,
}

// ---------------------------------------------------------------- shared helpers

/// The target keys a route may name, with the id prefix each expects.
pub(crate) const TARGETS: &[(&str, &[&str])] = &[
    ("gatewayId", &["igw-", "vgw-", "local"]),
    ("natGatewayId", &["nat-"]),
];

/// Not-found codes of route tables, routes and associations.
pub(crate) fn route_not_found(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "InvalidRouteTableID.NotFound"
                | "InvalidRoute.NotFound"
                | "InvalidAssociationID.NotFound"
                | "InvalidSubnetID.NotFound"
        )
    )
}

/// A route's target as `(key, id)`: `gatewayId` or `natGatewayId`.
pub(crate) fn target_of(r: &RouteModel) -> Option<(&'static str, String)> {
    if let Some(n) = r.nat_gateway_id().filter(|s| !s.is_empty()) {
        return Some(("natGatewayId", n.to_string()));
    }
    r.gateway_id()
        .filter(|s| !s.is_empty())
        .map(|g| ("gatewayId", g.to_string()))
}

/// The desired target in `m` (first of `TARGETS` present).
pub(crate) fn desired_target(m: &Map) -> Option<(&'static str, String)> {
    TARGETS
        .iter()
        .find_map(|(k, _)| get_str(m, k).map(|v| (*k, v.to_string())))
}

/// Preview checks of one route at `path` (root or a `routes` element):
/// its CIDR syntax and exactly one target of the right kind.
pub(crate) fn check_route(m: &Map, cidr_key: &str, path: &PropertyPath) -> Vec<CheckFailure> {
    let mut out = Vec::new();
    if let Some(s) = concrete_str(m, cidr_key) {
        if let Err(why) = Cidr::parse(s) {
            out.push(
                CheckFailure::error(net_rules::CIDR, path.child(cidr_key), why)
                    .with_help("write an IPv4 network address and prefix length, e.g. `0.0.0.0/0`"),
            );
        }
    }
    let given: Vec<&str> = TARGETS
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| m.get(*k).is_some_and(|v| !matches!(v, Value::Null)))
        .collect();
    if given.len() != 1 {
        let at = given.get(1).copied().unwrap_or(cidr_key);
        out.push(
            CheckFailure::error(
                rules::ROUTE_TARGET,
                path.child(at),
                if given.is_empty() {
                    "the route has no target: EC2 needs exactly one".to_string()
                } else {
                    format!(
                        "the route names {} targets ({}): EC2 takes exactly one",
                        given.len(),
                        given.join(", ")
                    )
                },
            )
            .with_help("set one of gatewayId (igw-...) or natGatewayId (nat-...)"),
        );
    }
    for (key, prefixes) in TARGETS {
        if let Some(v) = concrete_str(m, key) {
            if !prefixes.iter().any(|p| v.starts_with(p)) {
                out.push(
                    CheckFailure::error(
                        rules::ROUTE_TARGET,
                        path.child(*key),
                        format!(
                            "`{v}` is not a valid {key}: EC2 expects an id starting with {}",
                            prefixes.join(" or ")
                        ),
                    )
                    .with_help(
                        "an internet gateway goes in gatewayId, a NAT gateway in natGatewayId",
                    ),
                );
            }
        }
    }
    out
}

/// `(route table id, destination)` from `rtb-…_10.0.0.0/16`.
pub(crate) fn parse_id(id: &str) -> Option<(&str, &str)> {
    id.split_once('_')
        .filter(|(t, d)| t.starts_with("rtb-") && !d.is_empty())
}

/// What a read reports for route `id` (`rtb-…_<destination>`) given its
/// table, or `None` when the table has no such route (single and batched
/// reads alike).
fn observe(id: &str, table: &RouteTableModel) -> Option<Observed> {
    let (table_id, dest) = parse_id(id)?;
    let route = table
        .routes()
        .iter()
        .find(|r| r.destination_cidr_block() == Some(dest))?;
    let mut obs = Map::new();
    obs.insert("routeTableId".into(), table_id.into());
    obs.insert("destinationCidrBlock".into(), dest.into());
    if let Some((key, value)) = target_of(route) {
        obs.insert(key.into(), value.into());
    }
    Some(Observed {
        id: id.to_string(),
        inputs: obs,
        outputs: outputs(id, route),
    })
}

pub(crate) async fn describe_table(
    ec2: &aws_sdk_ec2::Client,
    resource: &str,
    id: &str,
) -> Result<Option<RouteTableModel>, ProviderError> {
    match ec2.describe_route_tables().route_table_ids(id).send().await {
        Ok(out) => Ok(out.route_tables().first().cloned()),
        Err(e) if route_not_found(error_code(&e)) => Ok(None),
        Err(e) => Err(api_error(resource, "ec2:DescribeRouteTables", e, &[])),
    }
}

/// Creates (`replace` false) or replaces the route to `dest` in `table`.
pub(crate) async fn put_route(
    ec2: &aws_sdk_ec2::Client,
    resource: &str,
    table: &str,
    dest: &str,
    target: &(&str, String),
    replace: bool,
) -> Result<(), ProviderError> {
    let (key, value) = (target.0, target.1.clone());
    if replace {
        let req = ec2
            .replace_route()
            .route_table_id(table)
            .destination_cidr_block(dest);
        let req = if key == "natGatewayId" {
            req.nat_gateway_id(value)
        } else {
            req.gateway_id(value)
        };
        req.send()
            .await
            .map(|_| ())
            .map_err(|e| api_error(resource, "ec2:ReplaceRoute", e, &[]))
    } else {
        let req = ec2
            .create_route()
            .route_table_id(table)
            .destination_cidr_block(dest);
        let req = if key == "natGatewayId" {
            req.nat_gateway_id(value)
        } else {
            req.gateway_id(value)
        };
        req.send()
            .await
            .map(|_| ())
            .map_err(|e| api_error(resource, "ec2:CreateRoute", e, &[]))
    }
}

pub(crate) async fn delete_route(
    ec2: &aws_sdk_ec2::Client,
    resource: &str,
    table: &str,
    dest: &str,
) -> Result<(), ProviderError> {
    match ec2
        .delete_route()
        .route_table_id(table)
        .destination_cidr_block(dest)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if route_not_found(error_code(&e)) => Ok(()),
        Err(e) => Err(api_error(resource, "ec2:DeleteRoute", e, &[])),
    }
}

// ---------------------------------------------------------------- provider

pub struct RouteProvider {
    schema: ResourceSchema,
    clients: Shared,
}

impl RouteProvider {
    pub fn new(clients: Shared) -> Self {
        RouteProvider {
            schema: Route::schema(),
            clients,
        }
    }

    /// The live route `dest` of `table`; `None` when the table or route is gone.
    async fn find(
        &self,
        resource: &str,
        table: &str,
        dest: &str,
    ) -> Result<Option<RouteModel>, ProviderError> {
        let sdk = self.clients.get().await?;
        Ok(describe_table(&sdk.ec2, resource, table)
            .await?
            .and_then(|t| {
                t.routes()
                    .iter()
                    .find(|r| r.destination_cidr_block() == Some(dest))
                    .cloned()
            }))
    }

    /// Adopts the existing route when it goes to the wanted target.
    fn adopt_or_refuse(
        ctx: &CallContext,
        resource: &str,
        id: &str,
        route: &RouteModel,
        want: &(&str, String),
    ) -> Result<Created, ProviderError> {
        match target_of(route) {
            Some(t) if t.0 == want.0 && t.1 == want.1 => {
                ctx.report("adopting the route (it already goes to this target)");
                Ok(Created {
                    id: id.to_string(),
                    outputs: outputs(id, route),
                })
            }
            other => Err(crate::util::not_owned(
                ctx,
                resource,
                id,
                format!(
                    "a route to {} (routes carry no tags; a route to another target is not this resource's)",
                    other.map(|t| t.1).unwrap_or_else(|| "another target".into())
                ),
            )),
        }
    }
}

fn outputs(id: &str, r: &RouteModel) -> Map {
    let mut m = Map::new();
    m.insert("id".into(), id.into());
    m.insert(
        "origin".into(),
        r.origin().map(|o| o.as_str()).unwrap_or_default().into(),
    );
    m.insert(
        "state".into(),
        r.state().map(|s| s.as_str()).unwrap_or_default().into(),
    );
    m
}

#[async_trait]
impl ResourceProvider for RouteProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        check_route(inputs, "destinationCidrBlock", &PropertyPath::root())
    }

    /// One route per destination of a table: not also an inline route of
    /// that table (this stack's `aws:ec2:RouteTable`), nor an earlier
    /// `aws:ec2:Route` to the same table and destination.
    fn check_in_stack(&self, name: &str, inputs: &Map, stack: &dyn StackView) -> Vec<CheckFailure> {
        let (Some(table), Some(dest)) = (
            get_str(inputs, "routeTableId"),
            concrete_str(inputs, "destinationCidrBlock"),
        ) else {
            return Vec::new();
        };
        let dup = |other: &str| {
            vec![CheckFailure::error(
                rules::ROUTE_DUPLICATE,
                PropertyPath::key("destinationCidrBlock"),
                format!("{other} also routes `{dest}` in this table: a route table holds one route per destination"),
            )
            .with_help("keep one of them (a table with inline `routes` should not also have aws:ec2:Route resources)")]
        };
        if let Some(t) = stack
            .referenced(table)
            .filter(|t| t.type_token == super::route_table::TOKEN)
        {
            let inline = t
                .inputs
                .get("routes")
                .and_then(Value::as_list)
                .unwrap_or_default();
            if inline
                .iter()
                .filter_map(Value::as_map)
                .any(|r| concrete_str(r, "cidrBlock") == Some(dest))
            {
                return dup(&format!("route table `{}`'s inline route", t.name));
            }
        }
        for other in stack.of_type(TOKEN) {
            if other.name == name {
                break;
            }
            if get_str(&other.inputs, "routeTableId") == Some(table)
                && concrete_str(&other.inputs, "destinationCidrBlock") == Some(dest)
            {
                return dup(&format!("route `{}`", other.name));
            }
        }
        Vec::new()
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let (Some(table), Some(dest)) = (
            get_str(inputs, "routeTableId"),
            get_str(inputs, "destinationCidrBlock"),
        ) else {
            return Err(ProviderError::invalid(
                &resource,
                "routeTableId and destinationCidrBlock are required",
            ));
        };
        let target = desired_target(inputs)
            .ok_or_else(|| ProviderError::invalid(&resource, "the route needs a target"))?;
        let id = format!("{table}_{dest}");
        let sdk = self.clients.get().await?;
        match put_route(&sdk.ec2, &resource, table, dest, &target, false).await {
            Ok(()) => {}
            // Our own lost attempt (the SDK retried), or somebody else's route.
            Err(ProviderError::Api { code, .. }) if code == "RouteAlreadyExists" => {
                let route = self.find(&resource, table, dest).await?.ok_or_else(|| {
                    api_failure(
                        &resource,
                        "ec2:CreateRoute",
                        "RouteAlreadyExists",
                        "the route exists but could not be read back",
                    )
                })?;
                return Self::adopt_or_refuse(ctx, &resource, &id, &route, &target);
            }
            Err(e) => return Err(e),
        }
        let route = self
            .find(&resource, table, dest)
            .await?
            .ok_or_else(|| crate::util::missing(&resource, "ec2:DescribeRouteTables", "route"))?;
        Ok(Created {
            outputs: outputs(&id, &route),
            id,
        })
    }

    async fn read(
        &self,
        ctx: &CallContext,
        id: &str,
        _inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let Some((table, _)) = parse_id(id) else {
            return Err(ProviderError::invalid(
                &resource,
                format!("`{id}` is not a route id: expected `rtb-…_<destination CIDR>`, e.g. `rtb-0123_10.0.0.0/16`"),
            ));
        };
        let sdk = self.clients.get().await?;
        let found = describe_table(&sdk.ec2, &resource, table).await?;
        Ok(found.and_then(|t| observe(id, &t)))
    }

    fn read_batch_limit(&self) -> Option<usize> {
        Some(EC2_FILTER_VALUES_MAX)
    }

    /// One `DescribeRouteTables` per 200 distinct tables of the batch
    /// (`route-table-id` filter, paginated); an id that is not a route id
    /// gets the single read's error.
    async fn read_many(
        &self,
        reqs: &[ReadRequest],
    ) -> Result<BTreeMap<String, Observed>, ProviderError> {
        let resource = batch_label(reqs, TOKEN);
        let sdk = self.clients.get().await?;
        let (ec2, resource) = (&sdk.ec2, resource.as_str());
        let page = |filter, next| super::batch::route_tables_page(ec2, resource, filter, next);
        let tables = reqs.iter().filter_map(|r| Some(parse_id(&r.id)?.0));
        let live = super::batch::describe_by_ids(
            tables,
            "route-table-id",
            RouteTableModel::route_table_id,
            page,
        )
        .await?;
        let mut found = BTreeMap::new();
        for r in reqs {
            let seen = match parse_id(&r.id) {
                Some((table, _)) => live.get(table).and_then(|t| observe(&r.id, t)),
                None => self.read(&r.ctx, &r.id, &r.inputs).await?,
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
        let (table, dest) = parse_id(id)
            .ok_or_else(|| ProviderError::invalid(&resource, format!("bad route id `{id}`")))?;
        let target = desired_target(new)
            .ok_or_else(|| ProviderError::invalid(&resource, "the route needs a target"))?;
        let sdk = self.clients.get().await?;
        put_route(&sdk.ec2, &resource, table, dest, &target, true).await?;
        let route = self
            .find(&resource, table, dest)
            .await?
            .ok_or_else(|| crate::util::missing(&resource, "ec2:DescribeRouteTables", "route"))?;
        Ok(outputs(id, &route))
    }

    async fn delete(
        &self,
        ctx: &CallContext,
        id: &str,
        _inputs: &Map,
        _outputs: &Map,
    ) -> Result<(), ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let Some((table, dest)) = parse_id(id) else {
            return Ok(());
        };
        let sdk = self.clients.get().await?;
        delete_route(&sdk.ec2, &resource, table, dest).await
    }

    async fn recover(
        &self,
        ctx: &CallContext,
        inputs: &Map,
    ) -> Result<Option<Created>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let (Some(table), Some(dest), Some(target)) = (
            get_str(inputs, "routeTableId"),
            get_str(inputs, "destinationCidrBlock"),
            desired_target(inputs),
        ) else {
            return Ok(None);
        };
        let Some(route) = self.find(&resource, table, dest).await? else {
            return Ok(None);
        };
        let id = format!("{table}_{dest}");
        Self::adopt_or_refuse(ctx, &resource, &id, &route, &target).map(Some)
    }
}
