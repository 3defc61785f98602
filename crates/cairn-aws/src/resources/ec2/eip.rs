//! `aws:ec2:Eip`: an Elastic IP address (Pulumi's `aws.ec2.Eip`), id its
//! allocation id. AllocateAddress has no idempotency token: the address
//! carries `cairn:urn` and the intent's `cairn:create-token`, and
//! `recover` adopts only an address tagged for this resource. Release waits
//! while a NAT gateway still holds the address (`InvalidIPAddress.InUse`,
//! or `AuthFailure` for an interface AWS manages), up to the delete deadline.

use super::vpc::{
    all_tags, backoff_until, ec2_arn, ec2_not_found, observe_tags, pick_ours, tag_spec, update_tags,
};
use crate::clients::Shared;
use crate::util::{
    api_error, batch_label, error_code, get_str, missing, resource_label, CREATE_TOKEN_TAG,
    EC2_FILTER_VALUES_MAX, URN_TAG,
};
use async_trait::async_trait;
use aws_sdk_ec2::types::{Address, DomainType, Filter, ResourceType as Ec2ResourceType};
use cairn_core::dsl::{DeclaredType, Input, Output, Outputs, Resource};
use cairn_core::provider::{
    CallContext, Created, Observed, Operation, ProviderError, ReadRequest, ResourceProvider,
};
use cairn_core::schema::{PropType, ResourceSchema};
use cairn_core::value::Map;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

pub const TOKEN: &str = "aws:ec2:Eip";
const DELETE_TIMEOUT: Duration = Duration::from_secs(15 * 60);

pub struct Eip;

/// An Elastic IP address.
#[derive(Serialize, Clone, Debug, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(token = "aws:ec2:Eip", kind = Eip, outputs = EipOutputs)]
pub struct EipArgs {
    /// `vpc` (the default; a NAT gateway needs it) or `standard` (EC2-Classic).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(replaces, default = "vpc", ty = PropType::one_of(&["vpc", "standard"]))]
    pub domain: Option<Input<String>>,
    /// Tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Input<String>>>,
}

#[derive(Outputs)]
pub struct EipOutputs {
    /// Allocation id (eipalloc-...).
    pub id: Output<String>,
    /// Allocation id (eipalloc-...), as Pulumi names it.
    pub allocation_id: Output<String>,
    /// The public IPv4 address.
    pub public_ip: Output<String>,
    /// The address's ARN.
    pub arn: Output<String>,
    /// `vpc` or `standard`.
    pub domain: Output<String>,
}

fn outputs_of(ec2: &aws_sdk_ec2::Client, account: &str, a: &Address) -> Map {
    let id = a.allocation_id().unwrap_or_default();
    let mut m = Map::new();
    m.insert("id".into(), id.into());
    m.insert("allocationId".into(), id.into());
    m.insert("publicIp".into(), a.public_ip().unwrap_or_default().into());
    m.insert("arn".into(), ec2_arn(ec2, account, "elastic-ip", id).into());
    m.insert(
        "domain".into(),
        a.domain().map(|d| d.as_str()).unwrap_or("vpc").into(),
    );
    m
}

/// What a read reports for address `a` in `account` (single and batched
/// reads alike).
fn observe(
    ec2: &aws_sdk_ec2::Client,
    account: &str,
    id: &str,
    a: &Address,
    inputs: &Map,
) -> Observed {
    let mut obs = Map::new();
    obs.insert(
        "domain".into(),
        a.domain().map(|d| d.as_str()).unwrap_or("vpc").into(),
    );
    observe_tags(&mut obs, inputs, a.tags());
    Observed {
        id: id.to_string(),
        inputs: obs,
        outputs: outputs_of(ec2, account, a),
    }
}

pub struct EipProvider {
    schema: ResourceSchema,
    clients: Shared,
}

impl EipProvider {
    pub fn new(clients: Shared) -> Self {
        EipProvider {
            schema: Eip::schema(),
            clients,
        }
    }

    async fn describe(&self, resource: &str, id: &str) -> Result<Option<Address>, ProviderError> {
        let sdk = self.clients.get().await?;
        match sdk.ec2.describe_addresses().allocation_ids(id).send().await {
            Ok(out) => Ok(out.addresses().first().cloned()),
            Err(e) if ec2_not_found(error_code(&e)) => Ok(None),
            Err(e) => Err(api_error(resource, "ec2:DescribeAddresses", e, &[])),
        }
    }

    async fn outputs(&self, resource: &str, a: &Address) -> Result<Map, ProviderError> {
        let sdk = self.clients.get().await?;
        // DescribeAddresses has no owner: the caller's account owns its addresses.
        let (account, _) = crate::clients::caller_identity(sdk, resource).await?;
        Ok(outputs_of(&sdk.ec2, &account, a))
    }
}

#[async_trait]
impl ResourceProvider for EipProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let sdk = self.clients.get().await?;
        let domain = DomainType::from(get_str(inputs, "domain").unwrap_or("vpc"));
        let out = sdk
            .ec2
            .allocate_address()
            .domain(domain)
            .tag_specifications(tag_spec(ctx, inputs, Ec2ResourceType::ElasticIp))
            .send()
            .await
            .map_err(|e| api_error(&resource, "ec2:AllocateAddress", e, &[]))?;
        let id = out
            .allocation_id()
            .ok_or_else(|| missing(&resource, "ec2:AllocateAddress", "allocation id"))?
            .to_string();
        crate::util::note_created(&id);
        let a = crate::util::read_after_create(ctx, &id, || self.describe(&resource, &id))
            .await?
            .ok_or_else(|| missing(&resource, "ec2:DescribeAddresses", "address"))?;
        Ok(Created {
            outputs: self.outputs(&resource, &a).await?,
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
        let Some(a) =
            crate::util::read_after_create(ctx, id, || self.describe(&resource, id)).await?
        else {
            return Ok(None);
        };
        let sdk = self.clients.get().await?;
        let (account, _) = crate::clients::caller_identity(sdk, &resource).await?;
        Ok(Some(observe(&sdk.ec2, &account, id, &a, inputs)))
    }

    fn read_batch_limit(&self) -> Option<usize> {
        Some(EC2_FILTER_VALUES_MAX)
    }

    /// One `DescribeAddresses` per batch, filtered by `allocation-id` (the
    /// call has no pages), and one `GetCallerIdentity` for the account.
    async fn read_many(
        &self,
        reqs: &[ReadRequest],
    ) -> Result<BTreeMap<String, Observed>, ProviderError> {
        let resource = batch_label(reqs, TOKEN);
        let sdk = self.clients.get().await?;
        let (account, _) = crate::clients::caller_identity(sdk, &resource).await?;
        let (ec2, resource) = (&sdk.ec2, resource.as_str());
        let page = |filter, _next: Option<String>| async move {
            let out = ec2
                .describe_addresses()
                .filters(filter)
                .send()
                .await
                .map_err(|e| api_error(resource, "ec2:DescribeAddresses", e, &[]))?;
            Ok::<_, ProviderError>((out.addresses().to_vec(), None))
        };
        super::batch::read_many(
            self,
            reqs,
            "allocation-id",
            Address::allocation_id,
            page,
            |r, a| observe(ec2, &account, &r.id, a, &r.inputs),
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
        let a = self
            .describe(&resource, id)
            .await?
            .ok_or_else(|| missing(&resource, "ec2:DescribeAddresses", "address"))?;
        self.outputs(&resource, &a).await
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
            match sdk.ec2.release_address().allocation_id(id).send().await {
                Ok(_) => return Ok(()),
                Err(e) if ec2_not_found(error_code(&e)) => return Ok(()),
                // Still held by a NAT gateway that is going away.
                Err(e)
                    if matches!(
                        error_code(&e),
                        Some("InvalidIPAddress.InUse") | Some("AuthFailure")
                    ) =>
                {
                    if !backoff_until(
                        ctx,
                        start,
                        deadline,
                        &mut delay,
                        poll.max,
                        "the address is still in use",
                    )
                    .await
                    {
                        return Err(api_error(&resource, "ec2:ReleaseAddress", e, &[]));
                    }
                }
                Err(e) => return Err(api_error(&resource, "ec2:ReleaseAddress", e, &[])),
            }
        }
    }

    async fn recover(
        &self,
        ctx: &CallContext,
        _inputs: &Map,
    ) -> Result<Option<Created>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let sdk = self.clients.get().await?;
        let mut found: Vec<super::vpc::Found<Address>> = Vec::new();
        let mut by_tag = vec![(URN_TAG, ctx.urn.clone())];
        if let Some(t) = &ctx.create_token {
            by_tag.push((CREATE_TOKEN_TAG, t.clone()));
        }
        for (key, value) in by_tag {
            let out = sdk
                .ec2
                .describe_addresses()
                .filters(
                    Filter::builder()
                        .name(format!("tag:{key}"))
                        .values(value)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| api_error(&resource, "ec2:DescribeAddresses", e, &[]))?;
            for a in out.addresses() {
                let id = a.allocation_id().unwrap_or_default().to_string();
                if !found.iter().any(|(f, _, _)| *f == id) {
                    found.push((id, all_tags(a.tags()), a.clone()));
                }
            }
        }
        let Some((id, _, a)) = pick_ours(ctx, &resource, &found)? else {
            return Ok(None);
        };
        ctx.report("adopting the address (it carries this resource's tag)");
        Ok(Some(Created {
            outputs: self.outputs(&resource, a).await?,
            id: id.clone(),
        }))
    }
}
