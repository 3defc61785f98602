//! `aws:ec2:NatGateway`: a NAT gateway in a subnet (Pulumi's
//! `aws.ec2.NatGateway`); public ones hold an Elastic IP (`allocationId`).
//! Create sends a `ClientToken` derived from the journal intent's create
//! token, so AWS itself answers a retried create with the same gateway; it
//! then waits `pending` → `available`, and delete waits `deleting` →
//! `deleted` (after which the address can be released). `recover` adopts
//! only a gateway tagged for this resource; one in the subnet holding the
//! same address that is not ours is refused.

use super::vpc::{all_tags, ec2_not_found, observe_tags, pick_ours, rules, tag_spec, update_tags};
use crate::clients::Shared;
use crate::util::{
    api_error, batch_label, concrete_str, ensure_ours, error_code, get_str, missing,
    resource_label, stable_token, EC2_FILTER_VALUES_MAX,
};
use async_trait::async_trait;
use aws_sdk_ec2::types::{
    ConnectivityType, Filter, NatGateway as NatModel, ResourceType as Ec2ResourceType,
};
use cairn_core::dsl::{DeclaredType, Input, Output, Outputs, Resource};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, Operation, ProviderError, ReadRequest,
    ResourceProvider, StackView,
};
use cairn_core::schema::{PropType, ResourceSchema};
use cairn_core::value::{Map, PropertyPath};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

pub const TOKEN: &str = "aws:ec2:NatGateway";
const CREATE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const DELETE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

pub struct NatGateway;

/// A NAT gateway.
#[derive(Serialize, Clone, Debug, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(token = "aws:ec2:NatGateway", kind = NatGateway, outputs = NatGatewayOutputs)]
pub struct NatGatewayArgs {
    /// The Elastic IP's allocation id (a public gateway needs one, of domain `vpc`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(replaces)]
    pub allocation_id: Option<Input<String>>,
    /// The (public) subnet it lives in.
    #[prop(replaces)]
    pub subnet_id: Input<String>,
    /// `public` (the default) or `private`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(replaces, default = "public", ty = PropType::one_of(&["public", "private"]))]
    pub connectivity_type: Option<Input<String>>,
    /// Tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Input<String>>>,
}

#[derive(Outputs)]
pub struct NatGatewayOutputs {
    /// Gateway id (nat-...).
    pub id: Output<String>,
    /// The public address (public gateways).
    pub public_ip: Output<String>,
    /// The private address in the subnet.
    pub private_ip: Output<String>,
    /// The gateway's network interface.
    pub network_interface_id: Output<String>,
}

pub struct NatGatewayProvider {
    schema: ResourceSchema,
    clients: Shared,
}

fn state(n: &NatModel) -> &str {
    n.state().map(|s| s.as_str()).unwrap_or("")
}

/// A gateway that is not (going) away.
fn live(n: &NatModel) -> bool {
    !matches!(state(n), "deleting" | "deleted" | "failed")
}

fn outputs(n: &NatModel) -> Map {
    let a = n.nat_gateway_addresses().first();
    let mut m = Map::new();
    m.insert("id".into(), n.nat_gateway_id().unwrap_or_default().into());
    m.insert(
        "publicIp".into(),
        a.and_then(|a| a.public_ip()).unwrap_or_default().into(),
    );
    m.insert(
        "privateIp".into(),
        a.and_then(|a| a.private_ip()).unwrap_or_default().into(),
    );
    m.insert(
        "networkInterfaceId".into(),
        a.and_then(|a| a.network_interface_id())
            .unwrap_or_default()
            .into(),
    );
    m
}

impl NatGatewayProvider {
    pub fn new(clients: Shared) -> Self {
        NatGatewayProvider {
            schema: NatGateway::schema(),
            clients,
        }
    }

    async fn describe(&self, resource: &str, id: &str) -> Result<Option<NatModel>, ProviderError> {
        let sdk = self.clients.get().await?;
        match sdk
            .ec2
            .describe_nat_gateways()
            .nat_gateway_ids(id)
            .send()
            .await
        {
            Ok(out) => Ok(out.nat_gateways().first().cloned()),
            Err(e) if ec2_not_found(error_code(&e)) => Ok(None),
            Err(e) => Err(api_error(resource, "ec2:DescribeNatGateways", e, &[])),
        }
    }

    async fn in_subnet(
        &self,
        resource: &str,
        subnet: &str,
    ) -> Result<Vec<NatModel>, ProviderError> {
        let sdk = self.clients.get().await?;
        let out = sdk
            .ec2
            .describe_nat_gateways()
            .filter(Filter::builder().name("subnet-id").values(subnet).build())
            .send()
            .await
            .map_err(|e| api_error(resource, "ec2:DescribeNatGateways", e, &[]))?;
        Ok(out
            .nat_gateways()
            .iter()
            .filter(|n| live(n))
            .cloned()
            .collect())
    }

    async fn wait_available(
        &self,
        ctx: &CallContext,
        resource: &str,
        id: &str,
    ) -> Result<NatModel, ProviderError> {
        let deadline = ctx.deadline(Operation::Create, CREATE_TIMEOUT);
        let (clients, label) = (self.clients.clone(), resource.to_string());
        crate::wait::wait_shared(
            ctx,
            &self.clients,
            crate::wait::WaitSpec {
                resource,
                api: "ec2:DescribeNatGateways",
                wanted: "available",
                deadline,
            },
            id,
            move |ids| describe_by_ids(clients.clone(), label.clone(), ids),
            |found| match found {
                Some(n) if state(&n) == "available" => crate::wait::Probe::Done(n),
                Some(n) if matches!(state(&n), "failed" | "deleting" | "deleted") => {
                    crate::wait::Probe::Failed(format!(
                        "{}{}",
                        state(&n),
                        n.failure_message()
                            .map(|m| format!(": {m}"))
                            .unwrap_or_default()
                    ))
                }
                Some(n) => crate::wait::Probe::Pending(state(&n).to_string()),
                None => crate::wait::Probe::Pending("not visible yet".into()),
            },
        )
        .await
    }
}

/// The gateways of `ids` that exist (deleted ones included), in one call
/// per 200 ids: the shared waiters' round.
async fn describe_by_ids(
    clients: Shared,
    resource: String,
    ids: Vec<String>,
) -> Result<std::collections::HashMap<String, NatModel>, ProviderError> {
    let sdk = clients.get().await?;
    let mut found = std::collections::HashMap::new();
    for chunk in ids.chunks(EC2_FILTER_VALUES_MAX) {
        let mut next: Option<String> = None;
        loop {
            let out = sdk
                .ec2
                .describe_nat_gateways()
                .filter(
                    Filter::builder()
                        .name("nat-gateway-id")
                        .set_values(Some(chunk.to_vec()))
                        .build(),
                )
                .max_results(1000)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| api_error(&resource, "ec2:DescribeNatGateways", e, &[]))?;
            for n in out.nat_gateways() {
                if let Some(id) = n.nat_gateway_id() {
                    found.insert(id.to_string(), n.clone());
                }
            }
            next = out
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if next.is_none() {
                break;
            }
        }
    }
    Ok(found)
}

/// What a read reports for the described gateway `n` (single and batched reads).
fn observe(id: &str, n: &NatModel, inputs: &Map) -> Observed {
    let mut obs = Map::new();
    obs.insert("subnetId".into(), n.subnet_id().unwrap_or_default().into());
    if let Some(a) = n
        .nat_gateway_addresses()
        .first()
        .and_then(|a| a.allocation_id())
    {
        obs.insert("allocationId".into(), a.into());
    }
    obs.insert(
        "connectivityType".into(),
        n.connectivity_type()
            .map(|c| c.as_str())
            .unwrap_or("public")
            .into(),
    );
    observe_tags(&mut obs, inputs, n.tags());
    Observed {
        id: id.to_string(),
        inputs: obs,
        outputs: outputs(n),
    }
}

#[async_trait]
impl ResourceProvider for NatGatewayProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        let private = get_str(inputs, "connectivityType") == Some("private");
        match (private, inputs.contains_key("allocationId")) {
            (false, false) => vec![CheckFailure::error(
                rules::NAT_ALLOCATION,
                PropertyPath::key("allocationId"),
                "a public NAT gateway needs an Elastic IP: allocationId is missing",
            )
            .with_help(
                "set allocationId to an aws:ec2:Eip's `${eip.id}`, or connectivityType: private",
            )],
            (true, true) => vec![CheckFailure::error(
                rules::NAT_ALLOCATION,
                PropertyPath::key("allocationId"),
                "a private NAT gateway takes no Elastic IP",
            )
            .with_help("remove allocationId, or make the gateway public")],
            _ => Vec::new(),
        }
    }

    fn check_in_stack(
        &self,
        _name: &str,
        inputs: &Map,
        stack: &dyn StackView,
    ) -> Vec<CheckFailure> {
        let Some(eip) = get_str(inputs, "allocationId")
            .and_then(|r| stack.referenced(r))
            .filter(|e| e.type_token == super::eip::TOKEN)
        else {
            return Vec::new();
        };
        match concrete_str(&eip.inputs, "domain") {
            Some(domain) if domain != "vpc" => vec![CheckFailure::error(
                rules::NAT_EIP_DOMAIN,
                PropertyPath::key("allocationId"),
                format!(
                    "the Elastic IP `{}` has domain `{domain}`: a NAT gateway needs one of domain `vpc`",
                    eip.name
                ),
            )
            .with_help(format!("set `domain: vpc` on `{}`", eip.name))],
            _ => Vec::new(),
        }
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let subnet = get_str(inputs, "subnetId")
            .ok_or_else(|| ProviderError::invalid(&resource, "subnetId is required"))?;
        let sdk = self.clients.get().await?;
        // The same intent sends the same token: AWS returns the gateway it made.
        let token = ctx
            .create_token
            .as_deref()
            .map(|t| stable_token(&[&ctx.urn, t]));
        let out = sdk
            .ec2
            .create_nat_gateway()
            .subnet_id(subnet)
            .set_allocation_id(get_str(inputs, "allocationId").map(str::to_string))
            .connectivity_type(ConnectivityType::from(
                get_str(inputs, "connectivityType").unwrap_or("public"),
            ))
            .set_client_token(token)
            .tag_specifications(tag_spec(ctx, inputs, Ec2ResourceType::Natgateway))
            .send()
            .await
            .map_err(|e| api_error(&resource, "ec2:CreateNatGateway", e, &[]))?;
        let id = out
            .nat_gateway()
            .and_then(|n| n.nat_gateway_id())
            .ok_or_else(|| missing(&resource, "ec2:CreateNatGateway", "NAT gateway id"))?
            .to_string();
        crate::util::note_created(&id);
        let n = self.wait_available(ctx, &resource, &id).await?;
        Ok(Created {
            id,
            outputs: outputs(&n),
        })
    }

    async fn read(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let found =
            crate::util::read_after_create(ctx, id, || self.describe(&resource, id)).await?;
        // A deleted gateway stays visible for a while: it is gone.
        let Some(n) = found.filter(live) else {
            return Ok(None);
        };
        Ok(Some(observe(id, &n, inputs)))
    }

    fn read_batch_limit(&self) -> Option<usize> {
        Some(EC2_FILTER_VALUES_MAX)
    }

    /// One `DescribeNatGateways` per batch, filtered by `nat-gateway-id`, paginated.
    async fn read_many(
        &self,
        reqs: &[ReadRequest],
    ) -> Result<BTreeMap<String, Observed>, ProviderError> {
        let resource = batch_label(reqs, TOKEN);
        let sdk = self.clients.get().await?;
        let (ec2, resource) = (&sdk.ec2, resource.as_str());
        let page = |filter, next: Option<String>| async move {
            let out = ec2
                .describe_nat_gateways()
                .filter(filter)
                .max_results(1000)
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| api_error(resource, "ec2:DescribeNatGateways", e, &[]))?;
            // A deleted gateway stays visible for a while: it is gone.
            let gateways: Vec<_> = out
                .nat_gateways()
                .iter()
                .filter(|n| live(n))
                .cloned()
                .collect();
            Ok::<_, ProviderError>((gateways, out.next_token().map(str::to_string)))
        };
        super::batch::read_many(
            self,
            reqs,
            "nat-gateway-id",
            NatModel::nat_gateway_id,
            page,
            |r, n| observe(&r.id, n, &r.inputs),
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
        update_tags(&sdk.ec2, &resource, id, old, new).await?;
        let n = self
            .describe(&resource, id)
            .await?
            .ok_or_else(|| missing(&resource, "ec2:DescribeNatGateways", "NAT gateway"))?;
        Ok(outputs(&n))
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
        match sdk.ec2.delete_nat_gateway().nat_gateway_id(id).send().await {
            Ok(_) => {}
            Err(e) if ec2_not_found(error_code(&e)) => return Ok(()),
            Err(e) => return Err(api_error(&resource, "ec2:DeleteNatGateway", e, &[])),
        }
        // Until `deleted`, its address and interface are still held.
        let deadline = ctx.deadline(Operation::Delete, DELETE_TIMEOUT);
        let (clients, label) = (self.clients.clone(), resource.clone());
        crate::wait::wait_shared(
            ctx,
            &self.clients,
            crate::wait::WaitSpec {
                resource: &resource,
                api: "ec2:DescribeNatGateways",
                wanted: "deleted",
                deadline,
            },
            id,
            move |ids| describe_by_ids(clients.clone(), label.clone(), ids),
            |found| match found {
                Some(n) if state(&n) != "deleted" => {
                    crate::wait::Probe::Pending(state(&n).to_string())
                }
                _ => crate::wait::Probe::Done(()),
            },
        )
        .await
    }

    async fn recover(
        &self,
        ctx: &CallContext,
        inputs: &Map,
    ) -> Result<Option<Created>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let Some(subnet) = get_str(inputs, "subnetId") else {
            return Ok(None);
        };
        let found: Vec<super::vpc::Found<NatModel>> = self
            .in_subnet(&resource, subnet)
            .await?
            .into_iter()
            .map(|n| {
                (
                    n.nat_gateway_id().unwrap_or_default().to_string(),
                    all_tags(n.tags()),
                    n,
                )
            })
            .collect();
        let id = match pick_ours(ctx, &resource, &found)? {
            Some((id, _, _)) => id.clone(),
            None => {
                // A gateway holding our address that is not ours is refused.
                let Some(alloc) = get_str(inputs, "allocationId") else {
                    return Ok(None);
                };
                let Some((id, tags, _)) = found.iter().find(|(_, _, n)| {
                    n.nat_gateway_addresses()
                        .iter()
                        .any(|a| a.allocation_id() == Some(alloc))
                }) else {
                    return Ok(None);
                };
                ensure_ours(ctx, &resource, id, Some(tags))?;
                id.clone()
            }
        };
        ctx.report("adopting the NAT gateway (it carries this resource's tag)");
        let n = self.wait_available(ctx, &resource, &id).await?;
        Ok(Some(Created {
            id,
            outputs: outputs(&n),
        }))
    }
}
