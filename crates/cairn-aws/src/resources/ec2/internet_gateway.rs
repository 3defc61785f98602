//! `aws:ec2:InternetGateway`: an internet gateway, attached to the VPC
//! `vpcId` names (Pulumi's `aws.ec2.InternetGateway`). A new `vpcId` is a
//! detach and an attach in place, as AWS allows. CreateInternetGateway has
//! no idempotency token: the gateway carries `cairn:urn`, and `recover`
//! adopts only a gateway tagged for this resource; a gateway already
//! attached to the VPC that is not ours is refused.

use super::vpc::{
    all_tags, backoff_until, ec2_arn, ec2_not_found, observe_tags, pick_ours, tag_spec, update_tags,
};
use crate::clients::Shared;
use crate::util::{
    api_error, batch_label, ensure_ours, error_code, get_str, missing, resource_label,
    CREATE_TOKEN_TAG, EC2_FILTER_VALUES_MAX, URN_TAG,
};
use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, InternetGateway as IgwModel, ResourceType as Ec2ResourceType};
use cairn_core::dsl::{DeclaredType, Input, Output, Outputs, Resource};
use cairn_core::provider::{
    CallContext, Created, Observed, Operation, ProviderError, ReadRequest, ResourceProvider,
};
use cairn_core::schema::ResourceSchema;
use cairn_core::value::Map;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

pub const TOKEN: &str = "aws:ec2:InternetGateway";
const DELETE_TIMEOUT: Duration = Duration::from_secs(20 * 60);

pub struct InternetGateway;

/// An internet gateway, attached to a VPC.
#[derive(Serialize, Clone, Debug, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(token = "aws:ec2:InternetGateway", kind = InternetGateway, outputs = InternetGatewayOutputs)]
pub struct InternetGatewayArgs {
    /// The VPC to attach to (a change detaches and attaches in place).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<Input<String>>,
    /// Tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Input<String>>>,
}

#[derive(Outputs)]
pub struct InternetGatewayOutputs {
    /// Gateway id (igw-...).
    pub id: Output<String>,
    /// Gateway ARN.
    pub arn: Output<String>,
    /// The owning account.
    pub owner_id: Output<String>,
}

fn outputs_of(ec2: &aws_sdk_ec2::Client, igw: &IgwModel) -> Map {
    let id = igw.internet_gateway_id().unwrap_or_default();
    let owner = igw.owner_id().unwrap_or_default();
    let mut m = Map::new();
    m.insert("id".into(), id.into());
    m.insert(
        "arn".into(),
        ec2_arn(ec2, owner, "internet-gateway", id).into(),
    );
    m.insert("ownerId".into(), owner.into());
    m
}

/// What a read reports for `igw` (single and batched reads alike).
fn observe(ec2: &aws_sdk_ec2::Client, id: &str, igw: &IgwModel, inputs: &Map) -> Observed {
    let mut obs = Map::new();
    if let Some(vpc) = attached_vpc(igw) {
        obs.insert("vpcId".into(), vpc.into());
    }
    observe_tags(&mut obs, inputs, igw.tags());
    Observed {
        id: id.to_string(),
        inputs: obs,
        outputs: outputs_of(ec2, igw),
    }
}

pub struct InternetGatewayProvider {
    schema: ResourceSchema,
    clients: Shared,
}

/// The VPC the gateway is attached to (or attaching).
fn attached_vpc(igw: &IgwModel) -> Option<&str> {
    igw.attachments()
        .iter()
        .find(|a| {
            !matches!(
                a.state().map(|s| s.as_str()),
                Some("detaching") | Some("detached")
            )
        })
        .and_then(|a| a.vpc_id())
}

impl InternetGatewayProvider {
    pub fn new(clients: Shared) -> Self {
        InternetGatewayProvider {
            schema: InternetGateway::schema(),
            clients,
        }
    }

    async fn describe(&self, resource: &str, id: &str) -> Result<Option<IgwModel>, ProviderError> {
        let sdk = self.clients.get().await?;
        match sdk
            .ec2
            .describe_internet_gateways()
            .internet_gateway_ids(id)
            .send()
            .await
        {
            Ok(out) => Ok(out.internet_gateways().first().cloned()),
            Err(e) if ec2_not_found(error_code(&e)) => Ok(None),
            Err(e) => Err(api_error(resource, "ec2:DescribeInternetGateways", e, &[])),
        }
    }

    async fn find(&self, resource: &str, filter: Filter) -> Result<Vec<IgwModel>, ProviderError> {
        let sdk = self.clients.get().await?;
        let out = sdk
            .ec2
            .describe_internet_gateways()
            .filters(filter)
            .send()
            .await
            .map_err(|e| api_error(resource, "ec2:DescribeInternetGateways", e, &[]))?;
        Ok(out.internet_gateways().to_vec())
    }

    async fn outputs(&self, igw: &IgwModel) -> Result<Map, ProviderError> {
        let sdk = self.clients.get().await?;
        Ok(outputs_of(&sdk.ec2, igw))
    }

    async fn detach(
        &self,
        ctx: &CallContext,
        resource: &str,
        id: &str,
        vpc: &str,
    ) -> Result<(), ProviderError> {
        let sdk = self.clients.get().await?;
        let start = Instant::now();
        let deadline = ctx.deadline(Operation::Delete, DELETE_TIMEOUT);
        let poll = self.clients.poll();
        let mut delay = poll.first;
        loop {
            match sdk
                .ec2
                .detach_internet_gateway()
                .internet_gateway_id(id)
                .vpc_id(vpc)
                .send()
                .await
            {
                Ok(_) => return Ok(()),
                Err(e)
                    if ec2_not_found(error_code(&e))
                        || error_code(&e) == Some("Gateway.NotAttached") =>
                {
                    return Ok(())
                }
                // Public addresses (a NAT gateway's EIP) still mapped in the VPC.
                Err(e) if error_code(&e) == Some("DependencyViolation") => {
                    if !backoff_until(
                        ctx,
                        start,
                        deadline,
                        &mut delay,
                        poll.max,
                        "public addresses still mapped in the VPC",
                    )
                    .await
                    {
                        return Err(api_error(resource, "ec2:DetachInternetGateway", e, &[]));
                    }
                }
                Err(e) => return Err(api_error(resource, "ec2:DetachInternetGateway", e, &[])),
            }
        }
    }

    async fn attach(&self, resource: &str, id: &str, vpc: &str) -> Result<(), ProviderError> {
        let sdk = self.clients.get().await?;
        sdk.ec2
            .attach_internet_gateway()
            .internet_gateway_id(id)
            .vpc_id(vpc)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| api_error(resource, "ec2:AttachInternetGateway", e, &[]))
    }

    /// Attaches (or moves) the gateway to the inputs' VPC.
    async fn sync_attachment(
        &self,
        ctx: &CallContext,
        resource: &str,
        igw: &IgwModel,
        inputs: &Map,
    ) -> Result<IgwModel, ProviderError> {
        let id = igw.internet_gateway_id().unwrap_or_default();
        let want = get_str(inputs, "vpcId");
        let have = attached_vpc(igw);
        if want != have {
            if let Some(old) = have {
                self.detach(ctx, resource, id, old).await?;
            }
            if let Some(new) = want {
                self.attach(resource, id, new).await?;
            }
        }
        self.describe(resource, id)
            .await?
            .ok_or_else(|| missing(resource, "ec2:DescribeInternetGateways", "internet gateway"))
    }
}

#[async_trait]
impl ResourceProvider for InternetGatewayProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let sdk = self.clients.get().await?;
        let out = sdk
            .ec2
            .create_internet_gateway()
            .tag_specifications(tag_spec(ctx, inputs, Ec2ResourceType::InternetGateway))
            .send()
            .await
            .map_err(|e| api_error(&resource, "ec2:CreateInternetGateway", e, &[]))?;
        let igw = out
            .internet_gateway()
            .ok_or_else(|| missing(&resource, "ec2:CreateInternetGateway", "internet gateway"))?;
        let id = igw.internet_gateway_id().unwrap_or_default().to_string();
        crate::util::note_created(&id);
        // A new gateway may not be visible at once.
        let igw = crate::util::read_after_create(ctx, &id, || self.describe(&resource, &id))
            .await?
            .ok_or_else(|| {
                missing(
                    &resource,
                    "ec2:DescribeInternetGateways",
                    "internet gateway",
                )
            })?;
        let igw = self.sync_attachment(ctx, &resource, &igw, inputs).await?;
        Ok(Created {
            outputs: self.outputs(&igw).await?,
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
        let Some(igw) =
            crate::util::read_after_create(ctx, id, || self.describe(&resource, id)).await?
        else {
            return Ok(None);
        };
        let sdk = self.clients.get().await?;
        Ok(Some(observe(&sdk.ec2, id, &igw, inputs)))
    }

    fn read_batch_limit(&self) -> Option<usize> {
        Some(EC2_FILTER_VALUES_MAX)
    }

    /// One `DescribeInternetGateways` per batch, filtered by
    /// `internet-gateway-id`, paginated.
    async fn read_many(
        &self,
        reqs: &[ReadRequest],
    ) -> Result<BTreeMap<String, Observed>, ProviderError> {
        let resource = batch_label(reqs, TOKEN);
        let sdk = self.clients.get().await?;
        let (ec2, resource) = (&sdk.ec2, resource.as_str());
        let page = |filter, next: Option<String>| async move {
            let out = ec2
                .describe_internet_gateways()
                .filters(filter)
                .max_results(1000)
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| api_error(resource, "ec2:DescribeInternetGateways", e, &[]))?;
            Ok::<_, ProviderError>((
                out.internet_gateways().to_vec(),
                out.next_token().map(str::to_string),
            ))
        };
        let id_of = IgwModel::internet_gateway_id;
        super::batch::read_many(self, reqs, "internet-gateway-id", id_of, page, |r, g| {
            observe(ec2, &r.id, g, &r.inputs)
        })
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
        let igw = self.describe(&resource, id).await?.ok_or_else(|| {
            missing(
                &resource,
                "ec2:DescribeInternetGateways",
                "internet gateway",
            )
        })?;
        let igw = self.sync_attachment(ctx, &resource, &igw, new).await?;
        update_tags(&sdk.ec2, &resource, id, old, new).await?;
        self.outputs(&igw).await
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
        let Some(igw) = self.describe(&resource, id).await? else {
            return Ok(());
        };
        for a in igw.attachments() {
            if let Some(vpc) = a.vpc_id() {
                self.detach(ctx, &resource, id, vpc).await?;
            }
        }
        let start = Instant::now();
        let deadline = ctx.deadline(Operation::Delete, DELETE_TIMEOUT);
        let poll = self.clients.poll();
        let mut delay = poll.first;
        loop {
            match sdk
                .ec2
                .delete_internet_gateway()
                .internet_gateway_id(id)
                .send()
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if ec2_not_found(error_code(&e)) => return Ok(()),
                Err(e) if error_code(&e) == Some("DependencyViolation") => {
                    if !backoff_until(ctx, start, deadline, &mut delay, poll.max, "still attached")
                        .await
                    {
                        return Err(api_error(&resource, "ec2:DeleteInternetGateway", e, &[]));
                    }
                }
                Err(e) => return Err(api_error(&resource, "ec2:DeleteInternetGateway", e, &[])),
            }
        }
    }

    async fn recover(
        &self,
        ctx: &CallContext,
        inputs: &Map,
    ) -> Result<Option<Created>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let mut found: Vec<super::vpc::Found<IgwModel>> = Vec::new();
        let mut by_tag = vec![(URN_TAG, ctx.urn.clone())];
        if let Some(t) = &ctx.create_token {
            by_tag.push((CREATE_TOKEN_TAG, t.clone()));
        }
        for (key, value) in by_tag {
            let filter = Filter::builder()
                .name(format!("tag:{key}"))
                .values(value)
                .build();
            for g in self.find(&resource, filter).await? {
                let id = g.internet_gateway_id().unwrap_or_default().to_string();
                if !found.iter().any(|(f, _, _)| *f == id) {
                    found.push((id, all_tags(g.tags()), g));
                }
            }
        }
        let igw = match pick_ours(ctx, &resource, &found)? {
            Some((_, _, g)) => g.clone(),
            None => {
                // A VPC has one internet gateway: one already there must be ours.
                let Some(vpc) = get_str(inputs, "vpcId") else {
                    return Ok(None);
                };
                let filter = Filter::builder()
                    .name("attachment.vpc-id")
                    .values(vpc)
                    .build();
                let Some(other) = self.find(&resource, filter).await?.into_iter().next() else {
                    return Ok(None);
                };
                let id = other.internet_gateway_id().unwrap_or_default();
                ensure_ours(ctx, &resource, id, Some(&all_tags(other.tags())))?;
                other
            }
        };
        let id = igw.internet_gateway_id().unwrap_or_default().to_string();
        ctx.report("adopting the internet gateway (it carries this resource's tag)");
        let igw = self.sync_attachment(ctx, &resource, &igw, inputs).await?;
        Ok(Some(Created {
            outputs: self.outputs(&igw).await?,
            id,
        }))
    }
}
