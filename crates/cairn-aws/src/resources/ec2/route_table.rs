//! `aws:ec2:RouteTable`: a VPC route table with inline `routes` (Pulumi's
//! `aws.ec2.RouteTable`). `vpcId` replaces; routes change in place
//! (CreateRoute / ReplaceRoute / DeleteRoute for the difference). The
//! VPC's `local` route and propagated routes are AWS's, never reported or
//! touched; when the stack leaves `routes` out, routes are not managed (so
//! `aws:ec2:Route` resources can own them), except that a bare import
//! reports them. CreateRouteTable takes a ClientToken (derived from the
//! journal intent); the table also carries `cairn:urn`, and `recover`
//! adopts only a table tagged for this resource.

use super::route::{
    check_route, delete_route, describe_table, desired_target, put_route, route_not_found,
    rules as route_rules, target_of,
};
use super::vpc::{all_tags, ec2_arn, observe_tags, pick_ours, tag_spec, update_tags};
use crate::clients::Shared;
use crate::util::{
    api_error, batch_label, concrete_str, error_code, get_str, missing, order_like, resource_label,
    CREATE_TOKEN_TAG, EC2_FILTER_VALUES_MAX, URN_TAG,
};
use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, ResourceType as Ec2ResourceType, RouteTable as RouteTableModel};
use cairn_core::dsl::{DeclaredType, Input, Output, Outputs, PropObject, Resource};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, Operation, ProviderError, ReadRequest,
    ResourceProvider,
};
use cairn_core::schema::ResourceSchema;
use cairn_core::value::{Map, PropertyPath, Value};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

pub const TOKEN: &str = "aws:ec2:RouteTable";
const DELETE_TIMEOUT: Duration = Duration::from_secs(5 * 60);

pub struct RouteTable;

/// One inline route.
#[derive(Serialize, Clone, Debug, PropObject)]
#[serde(rename_all = "camelCase")]
pub struct RouteTableRouteArgs {
    /// Destination IPv4 range, e.g. `0.0.0.0/0`.
    pub cidr_block: Input<String>,
    /// Target: an internet or virtual private gateway (igw-..., vgw-...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway_id: Option<Input<String>>,
    /// Target: a NAT gateway (nat-...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nat_gateway_id: Option<Input<String>>,
}

/// A VPC route table with inline routes.
#[derive(Serialize, Clone, Debug, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(token = "aws:ec2:RouteTable", kind = RouteTable, outputs = RouteTableOutputs)]
pub struct RouteTableArgs {
    /// The VPC (cannot change in place).
    #[prop(replaces)]
    pub vpc_id: Input<String>,
    /// Routes besides the VPC's local one. When set, exactly these; when unset, routes are not managed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<RouteTableRouteArgs>>,
    /// Tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Input<String>>>,
}

#[derive(Outputs)]
pub struct RouteTableOutputs {
    /// Route table id (rtb-...).
    pub id: Output<String>,
    /// Route table ARN.
    pub arn: Output<String>,
    /// The owning account.
    pub owner_id: Output<String>,
}

/// The routes cairn manages: made by CreateRoute, not the local or propagated ones.
fn managed_routes(t: &RouteTableModel) -> Vec<(String, (&'static str, String))> {
    t.routes()
        .iter()
        .filter(|r| r.origin().map(|o| o.as_str()) != Some("CreateRouteTable"))
        .filter(|r| r.origin().map(|o| o.as_str()) != Some("EnableVgwRoutePropagation"))
        .filter(|r| r.gateway_id() != Some("local"))
        .filter_map(|r| Some((r.destination_cidr_block()?.to_string(), target_of(r)?)))
        .collect()
}

fn desired_routes(inputs: &Map) -> Vec<(String, (&'static str, String))> {
    inputs
        .get("routes")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|r| {
            let m = r.as_map()?;
            Some((get_str(m, "cidrBlock")?.to_string(), desired_target(m)?))
        })
        .collect()
}

fn route_value(dest: &str, target: &(&str, String)) -> Value {
    let mut m = Map::new();
    m.insert("cidrBlock".into(), dest.into());
    m.insert(target.0.into(), target.1.as_str().into());
    Value::Map(m)
}

pub struct RouteTableProvider {
    schema: ResourceSchema,
    clients: Shared,
}

impl RouteTableProvider {
    pub fn new(clients: Shared) -> Self {
        RouteTableProvider {
            schema: RouteTable::schema(),
            clients,
        }
    }

    fn outputs(&self, ec2: &aws_sdk_ec2::Client, t: &RouteTableModel) -> Map {
        let id = t.route_table_id().unwrap_or_default();
        let owner = t.owner_id().unwrap_or_default();
        let mut m = Map::new();
        m.insert("id".into(), id.into());
        m.insert("arn".into(), ec2_arn(ec2, owner, "route-table", id).into());
        m.insert("ownerId".into(), owner.into());
        m
    }

    /// What a read reports for the described `table` (single and batched reads).
    fn observe(
        &self,
        ec2: &aws_sdk_ec2::Client,
        id: &str,
        table: &RouteTableModel,
        inputs: &Map,
    ) -> Observed {
        let mut obs = Map::new();
        obs.insert("vpcId".into(), table.vpc_id().unwrap_or_default().into());
        // Unmanaged routes are not reported (no perpetual diff), except for a bare import.
        if inputs.contains_key("routes") || inputs.is_empty() {
            let live = managed_routes(table);
            let want = desired_routes(inputs);
            let keys: Vec<&String> = order_like(
                &live.iter().map(|(d, _)| d).collect::<Vec<_>>(),
                &want.iter().map(|(d, _)| d).collect::<Vec<_>>(),
            );
            let routes = keys
                .iter()
                .filter_map(|d| live.iter().find(|(l, _)| l == *d))
                .map(|(d, t)| route_value(d, t))
                .collect();
            obs.insert("routes".into(), Value::List(routes));
        }
        observe_tags(&mut obs, inputs, table.tags());
        Observed {
            id: id.to_string(),
            inputs: obs,
            outputs: self.outputs(ec2, table),
        }
    }

    async fn describe(
        &self,
        resource: &str,
        id: &str,
    ) -> Result<Option<RouteTableModel>, ProviderError> {
        let sdk = self.clients.get().await?;
        describe_table(&sdk.ec2, resource, id).await
    }

    /// Makes the table's managed routes equal to the stack's `routes`.
    async fn sync_routes(
        &self,
        resource: &str,
        id: &str,
        inputs: &Map,
    ) -> Result<RouteTableModel, ProviderError> {
        let sdk = self.clients.get().await?;
        let table = self
            .describe(resource, id)
            .await?
            .ok_or_else(|| missing(resource, "ec2:DescribeRouteTables", "route table"))?;
        if !inputs.contains_key("routes") {
            return Ok(table);
        }
        let live = managed_routes(&table);
        let want = desired_routes(inputs);
        for (dest, _) in live.iter().filter(|(d, _)| !want.iter().any(|w| &w.0 == d)) {
            delete_route(&sdk.ec2, resource, id, dest).await?;
        }
        for (dest, target) in &want {
            match live.iter().find(|(d, _)| d == dest) {
                Some((_, t)) if t == target => {}
                Some(_) => put_route(&sdk.ec2, resource, id, dest, target, true).await?,
                None => put_route(&sdk.ec2, resource, id, dest, target, false).await?,
            }
        }
        self.describe(resource, id)
            .await?
            .ok_or_else(|| missing(resource, "ec2:DescribeRouteTables", "route table"))
    }
}

#[async_trait]
impl ResourceProvider for RouteTableProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        let mut out = Vec::new();
        let Some(routes) = inputs.get("routes").and_then(Value::as_list) else {
            return out;
        };
        let mut seen: Vec<&str> = Vec::new();
        for (i, r) in routes.iter().enumerate() {
            let Some(m) = r.as_map() else { continue };
            let path = PropertyPath::key("routes").index(i);
            out.extend(check_route(m, "cidrBlock", &path));
            if let Some(c) = concrete_str(m, "cidrBlock") {
                if seen.contains(&c) {
                    out.push(
                        CheckFailure::error(
                            route_rules::ROUTE_DUPLICATE,
                            path.child("cidrBlock"),
                            format!("two routes go to `{c}`: a route table holds one route per destination"),
                        )
                        .with_help("remove one of them, or give it another destination"),
                    );
                }
                seen.push(c);
            }
        }
        out
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let vpc = get_str(inputs, "vpcId")
            .ok_or_else(|| ProviderError::invalid(&resource, "vpcId is required"))?;
        let sdk = self.clients.get().await?;
        // The same token for the SDK's retries and a re-run of this intent.
        let token =
            crate::util::stable_token(&[&ctx.urn, ctx.create_token.as_deref().unwrap_or_default()]);
        let out = sdk
            .ec2
            .create_route_table()
            .vpc_id(vpc)
            .client_token(token)
            .tag_specifications(tag_spec(ctx, inputs, Ec2ResourceType::RouteTable))
            .send()
            .await
            .map_err(|e| api_error(&resource, "ec2:CreateRouteTable", e, &[]))?;
        let id = out
            .route_table()
            .and_then(|t| t.route_table_id())
            .ok_or_else(|| missing(&resource, "ec2:CreateRouteTable", "route table id"))?
            .to_string();
        crate::util::note_created(&id);
        crate::util::read_after_create(ctx, &id, || self.describe(&resource, &id)).await?;
        let table = self.sync_routes(&resource, &id, inputs).await?;
        Ok(Created {
            outputs: self.outputs(&sdk.ec2, &table),
            id,
        })
    }

    async fn read(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let sdk = self.clients.get().await?;
        let Some(table) =
            crate::util::read_after_create(ctx, id, || self.describe(&resource, id)).await?
        else {
            return Ok(None);
        };
        Ok(Some(self.observe(&sdk.ec2, id, &table, inputs)))
    }

    fn read_batch_limit(&self) -> Option<usize> {
        Some(EC2_FILTER_VALUES_MAX)
    }

    /// One `DescribeRouteTables` per batch, filtered by `route-table-id`, paginated.
    async fn read_many(
        &self,
        reqs: &[ReadRequest],
    ) -> Result<BTreeMap<String, Observed>, ProviderError> {
        let resource = batch_label(reqs, TOKEN);
        let sdk = self.clients.get().await?;
        let (ec2, resource) = (&sdk.ec2, resource.as_str());
        let page = |filter, next| super::batch::route_tables_page(ec2, resource, filter, next);
        super::batch::read_many(
            self,
            reqs,
            "route-table-id",
            RouteTableModel::route_table_id,
            page,
            |r, t| self.observe(ec2, &r.id, t, &r.inputs),
        )
        .await
    }

    async fn update(
        &self,
        ctx: &CallContext,
        id: &str,
        old: &Map,
        new: &Map,
        _old_outputs: &Map,
    ) -> Result<Map, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let sdk = self.clients.get().await?;
        self.sync_routes(&resource, id, new).await?;
        update_tags(&sdk.ec2, &resource, id, old, new).await?;
        let table = self
            .describe(&resource, id)
            .await?
            .ok_or_else(|| missing(&resource, "ec2:DescribeRouteTables", "route table"))?;
        Ok(self.outputs(&sdk.ec2, &table))
    }

    async fn delete(
        &self,
        ctx: &CallContext,
        id: &str,
        _inputs: &Map,
        _outputs: &Map,
    ) -> Result<(), ProviderError> {
        crate::util::forget_created(id);
        let resource = resource_label(ctx, TOKEN);
        let sdk = self.clients.get().await?;
        let start = Instant::now();
        let deadline = ctx.deadline(Operation::Delete, DELETE_TIMEOUT);
        let poll = self.clients.poll();
        let mut delay = poll.first;
        loop {
            match sdk.ec2.delete_route_table().route_table_id(id).send().await {
                Ok(_) => return Ok(()),
                Err(e) if route_not_found(error_code(&e)) => return Ok(()),
                // Subnet associations still being removed.
                Err(e) if error_code(&e) == Some("DependencyViolation") => {
                    if !super::vpc::backoff_until(
                        ctx,
                        start,
                        deadline,
                        &mut delay,
                        poll.max,
                        "still associated",
                    )
                    .await
                    {
                        return Err(api_error(&resource, "ec2:DeleteRouteTable", e, &[]));
                    }
                }
                Err(e) => return Err(api_error(&resource, "ec2:DeleteRouteTable", e, &[])),
            }
        }
    }

    async fn recover(
        &self,
        ctx: &CallContext,
        inputs: &Map,
    ) -> Result<Option<Created>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let sdk = self.clients.get().await?;
        // Tables tagged for this resource, and the one this very intent made.
        let mut found: Vec<(String, BTreeMap<String, String>, RouteTableModel)> = Vec::new();
        for (key, value) in [
            (URN_TAG, Some(ctx.urn.clone())),
            (CREATE_TOKEN_TAG, ctx.create_token.clone()),
        ] {
            let Some(value) = value else { continue };
            let mut req = sdk.ec2.describe_route_tables().filters(
                Filter::builder()
                    .name(format!("tag:{key}"))
                    .values(value)
                    .build(),
            );
            if let Some(vpc) = get_str(inputs, "vpcId") {
                req = req.filters(Filter::builder().name("vpc-id").values(vpc).build());
            }
            let out = req
                .send()
                .await
                .map_err(|e| api_error(&resource, "ec2:DescribeRouteTables", e, &[]))?;
            for t in out.route_tables() {
                let Some(id) = t.route_table_id() else {
                    continue;
                };
                if !found.iter().any(|(f, _, _)| f == id) {
                    found.push((id.to_string(), all_tags(t.tags()), t.clone()));
                }
            }
        }
        let Some((id, _, _)) = pick_ours(ctx, &resource, &found)? else {
            return Ok(None);
        };
        let id = id.clone();
        ctx.report("adopting the route table (it carries this resource's tag)");
        // Finish what the interrupted create may not have done.
        let table = self.sync_routes(&resource, &id, inputs).await?;
        Ok(Some(Created {
            outputs: self.outputs(&sdk.ec2, &table),
            id,
        }))
    }
}
