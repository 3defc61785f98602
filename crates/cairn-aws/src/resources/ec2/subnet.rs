//! `aws:ec2:Subnet`: a VPC subnet (Pulumi's `aws.ec2.Subnet`). `vpcId`,
//! `cidrBlock` and `availabilityZone` replace; `mapPublicIpOnLaunch`
//! changes in place (ModifySubnetAttribute). A subnet's natural key is its
//! CIDR in its VPC: a create that finds that range taken
//! (`InvalidSubnet.Conflict`) adopts the subnet only if it carries this
//! resource's `cairn:urn` tag. Preview checks the block lies inside its
//! VPC's range (when the VPC is in the stack) and overlaps no sibling.

use super::vpc::{
    all_tags, backoff_until, check_cidr, ec2_not_found, observe_tags, pick_ours, rules, tag_spec,
    update_tags, Cidr,
};
use crate::clients::Shared;
use crate::util::{
    api_error, batch_label, concrete_str, ensure_ours, error_code, get_bool, get_str, missing,
    resource_label, CREATE_TOKEN_TAG, EC2_FILTER_VALUES_MAX, URN_TAG,
};
use async_trait::async_trait;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, Filter, ResourceType as Ec2ResourceType, Subnet as SubnetModel,
};
use cairn_core::dsl::{DeclaredType, Input, Output, Outputs, Resource};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, Operation, ProviderError, ReadRequest,
    ResourceProvider, StackView,
};
use cairn_core::schema::ResourceSchema;
use cairn_core::value::{Map, PropertyPath, Value};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

pub const TOKEN: &str = "aws:ec2:Subnet";
const DELETE_TIMEOUT: Duration = Duration::from_secs(20 * 60);

pub struct Subnet;

/// A subnet of a VPC, in one availability zone.
#[derive(Serialize, Clone, Debug, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(token = "aws:ec2:Subnet", kind = Subnet, outputs = SubnetOutputs)]
pub struct SubnetArgs {
    /// The VPC's id.
    #[prop(replaces)]
    pub vpc_id: Input<String>,
    /// IPv4 range inside the VPC's, /16 to /28, e.g. `10.0.1.0/24`.
    #[prop(replaces)]
    pub cidr_block: Input<String>,
    /// Availability zone, e.g. `us-east-1a` (AWS picks one when unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(replaces)]
    pub availability_zone: Option<Input<String>>,
    /// Give instances launched here a public IPv4 address (default false).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(default = false)]
    pub map_public_ip_on_launch: Option<Input<bool>>,
    /// Tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Input<String>>>,
}

#[derive(Outputs)]
pub struct SubnetOutputs {
    /// Subnet id (subnet-...).
    pub id: Output<String>,
    /// Subnet ARN.
    pub arn: Output<String>,
    /// The availability zone AWS placed it in.
    pub availability_zone: Output<String>,
    /// The availability zone's id (e.g. `use1-az1`).
    pub availability_zone_id: Output<String>,
    /// The subnet's IPv4 range.
    pub cidr_block: Output<String>,
    /// The VPC's id.
    pub vpc_id: Output<String>,
    /// The owning account.
    pub owner_id: Output<String>,
}

/// Whether `az` has the shape of an availability zone name: a region
/// (`us-east-1`, `us-gov-west-1`) then a letter, or a Local/Wavelength
/// zone (`us-west-2-lax-1a`, `us-east-1-wl1-bos-wlz-1`).
pub(crate) fn is_az_name(az: &str) -> bool {
    let parts: Vec<&str> = az.split('-').collect();
    if parts.len() < 3 || parts[0].len() != 2 || !parts[0].bytes().all(|b| b.is_ascii_lowercase()) {
        return false;
    }
    // The region: letters until the first part starting with a digit.
    let Some(num) = parts
        .iter()
        .position(|p| p.starts_with(|c: char| c.is_ascii_digit()))
    else {
        return false;
    };
    if num < 2
        || !parts[1..num]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
    {
        return false;
    }
    let last = parts[parts.len() - 1];
    let ok_part = |p: &&str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    if !parts[num..].iter().all(ok_part) {
        return false;
    }
    if num == parts.len() - 1 {
        // `us-east-1a`: digits, then exactly one letter.
        let digits = last.trim_end_matches(|c: char| c.is_ascii_lowercase());
        return !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && last.len() == digits.len() + 1;
    }
    // A local zone: the region number alone, then a zone ending in a letter.
    parts[num].bytes().all(|b| b.is_ascii_digit())
        && last.ends_with(|c: char| c.is_ascii_lowercase())
}

// ---------------------------------------------------------------- provider

pub struct SubnetProvider {
    schema: ResourceSchema,
    clients: Shared,
}

impl SubnetProvider {
    pub fn new(clients: Shared) -> Self {
        SubnetProvider {
            schema: Subnet::schema(),
            clients,
        }
    }

    async fn describe(
        &self,
        resource: &str,
        id: &str,
    ) -> Result<Option<SubnetModel>, ProviderError> {
        let sdk = self.clients.get().await?;
        match sdk.ec2.describe_subnets().subnet_ids(id).send().await {
            Ok(out) => Ok(out.subnets().first().cloned()),
            Err(e) if ec2_not_found(error_code(&e)) => Ok(None),
            Err(e) => Err(api_error(resource, "ec2:DescribeSubnets", e, &[])),
        }
    }

    async fn find(
        &self,
        resource: &str,
        filters: Vec<Filter>,
    ) -> Result<Vec<SubnetModel>, ProviderError> {
        let sdk = self.clients.get().await?;
        let out = sdk
            .ec2
            .describe_subnets()
            .set_filters(Some(filters))
            .send()
            .await
            .map_err(|e| api_error(resource, "ec2:DescribeSubnets", e, &[]))?;
        Ok(out.subnets().to_vec())
    }

    /// The subnet holding `cidr` in `vpc`, if any.
    async fn find_by_range(
        &self,
        resource: &str,
        vpc: &str,
        cidr: &str,
    ) -> Result<Option<SubnetModel>, ProviderError> {
        let found = self
            .find(
                resource,
                vec![
                    Filter::builder().name("vpc-id").values(vpc).build(),
                    Filter::builder().name("cidr-block").values(cidr).build(),
                ],
            )
            .await?;
        Ok(found.into_iter().next())
    }

    async fn set_map_public_ip(
        &self,
        resource: &str,
        id: &str,
        value: bool,
    ) -> Result<(), ProviderError> {
        let sdk = self.clients.get().await?;
        sdk.ec2
            .modify_subnet_attribute()
            .subnet_id(id)
            .map_public_ip_on_launch(AttributeBooleanValue::builder().value(value).build())
            .send()
            .await
            .map_err(|e| api_error(resource, "ec2:ModifySubnetAttribute", e, &[]))?;
        Ok(())
    }

    /// Brings an existing (adopted) subnet's in-place settings to `inputs`.
    async fn finish(
        &self,
        resource: &str,
        subnet: &SubnetModel,
        inputs: &Map,
    ) -> Result<SubnetModel, ProviderError> {
        let id = subnet.subnet_id().unwrap_or_default();
        let want = get_bool(inputs, "mapPublicIpOnLaunch").unwrap_or(false);
        if subnet.map_public_ip_on_launch() != Some(want) {
            self.set_map_public_ip(resource, id, want).await?;
        }
        self.describe(resource, id)
            .await?
            .ok_or_else(|| missing(resource, "ec2:DescribeSubnets", "subnet"))
    }

    async fn wait_available(
        &self,
        ctx: &CallContext,
        resource: &str,
        id: &str,
    ) -> Result<SubnetModel, ProviderError> {
        let deadline = ctx.deadline(Operation::Create, Duration::from_secs(10 * 60));
        crate::wait::wait_until(
            ctx,
            &self.clients,
            crate::wait::WaitSpec {
                resource,
                api: "ec2:DescribeSubnets",
                wanted: "available",
                deadline,
            },
            || async {
                Ok(match self.describe(resource, id).await? {
                    Some(s) if s.state().map(|s| s.as_str()) == Some("available") => {
                        crate::wait::Probe::Done(s)
                    }
                    Some(s) => crate::wait::Probe::Pending(
                        s.state()
                            .map(|s| s.as_str().to_string())
                            .unwrap_or_default(),
                    ),
                    None => crate::wait::Probe::Pending("not visible yet".into()),
                })
            },
        )
        .await
    }
}

fn outputs(s: &SubnetModel) -> Map {
    let mut m = Map::new();
    m.insert("id".into(), s.subnet_id().unwrap_or_default().into());
    m.insert("arn".into(), s.subnet_arn().unwrap_or_default().into());
    m.insert(
        "availabilityZone".into(),
        s.availability_zone().unwrap_or_default().into(),
    );
    m.insert(
        "availabilityZoneId".into(),
        s.availability_zone_id().unwrap_or_default().into(),
    );
    m.insert(
        "cidrBlock".into(),
        s.cidr_block().unwrap_or_default().into(),
    );
    m.insert("vpcId".into(), s.vpc_id().unwrap_or_default().into());
    m.insert("ownerId".into(), s.owner_id().unwrap_or_default().into());
    m
}

/// What a read reports for the described subnet `s` (single and batched reads).
fn observe(id: &str, s: &SubnetModel, inputs: &Map) -> Observed {
    let mut obs = Map::new();
    obs.insert("vpcId".into(), s.vpc_id().unwrap_or_default().into());
    obs.insert(
        "cidrBlock".into(),
        s.cidr_block().unwrap_or_default().into(),
    );
    obs.insert(
        "availabilityZone".into(),
        s.availability_zone().unwrap_or_default().into(),
    );
    obs.insert(
        "mapPublicIpOnLaunch".into(),
        Value::Bool(s.map_public_ip_on_launch().unwrap_or(false)),
    );
    observe_tags(&mut obs, inputs, s.tags());
    Observed {
        id: id.to_string(),
        inputs: obs,
        outputs: outputs(s),
    }
}

#[async_trait]
impl ResourceProvider for SubnetProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        let mut out = check_cidr(inputs, "cidrBlock", (16, 28), rules::SUBNET_SIZE, "subnet");
        if let Some(az) = concrete_str(inputs, "availabilityZone") {
            if !is_az_name(az) {
                out.push(
                    CheckFailure::error(
                        rules::AZ,
                        PropertyPath::key("availabilityZone"),
                        format!("`{az}` is not an availability zone name"),
                    )
                    .with_help("name a zone of the stack's region: the region and a letter, e.g. `us-east-1a`"),
                );
            }
        }
        out
    }

    fn check_in_stack(&self, name: &str, inputs: &Map, stack: &dyn StackView) -> Vec<CheckFailure> {
        let mut out = Vec::new();
        let (Some(vpc_ref), Some(Ok(mine))) = (
            get_str(inputs, "vpcId"),
            concrete_str(inputs, "cidrBlock").map(Cidr::parse),
        ) else {
            return out;
        };
        // Inside the VPC's range, when the VPC is this stack's.
        if let Some(vpc) = stack
            .referenced(vpc_ref)
            .filter(|v| v.type_token == super::vpc::TOKEN)
        {
            // A VPC block its own check rejects is reported there, not here.
            let range = concrete_str(&vpc.inputs, "cidrBlock")
                .and_then(|c| Cidr::parse(c).ok())
                .filter(|r| (16..=28).contains(&r.prefix));
            if let Some(range) = range {
                if !range.contains(&mine) {
                    out.push(
                        CheckFailure::error(
                            rules::SUBNET_OUTSIDE_VPC,
                            PropertyPath::key("cidrBlock"),
                            format!(
                                "`{mine}` is not inside the VPC `{}`'s range `{range}`",
                                vpc.name
                            ),
                        )
                        .with_help(format!("choose a block inside `{range}`")),
                    );
                }
            }
        }
        // No overlap with a sibling declared earlier (one error per pair).
        for sib in stack.of_type(TOKEN) {
            if sib.name == name {
                break;
            }
            if get_str(&sib.inputs, "vpcId") != Some(vpc_ref) {
                continue;
            }
            if let Some(Ok(theirs)) = concrete_str(&sib.inputs, "cidrBlock").map(Cidr::parse) {
                if mine.overlaps(&theirs) {
                    out.push(
                        CheckFailure::error(
                            rules::SUBNET_OVERLAP,
                            PropertyPath::key("cidrBlock"),
                            format!(
                                "`{mine}` overlaps subnet `{}`'s `{theirs}` in the same VPC",
                                sib.name
                            ),
                        )
                        .with_help("give each subnet of a VPC its own, non-overlapping block"),
                    );
                }
            }
        }
        out
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let vpc = get_str(inputs, "vpcId")
            .ok_or_else(|| ProviderError::invalid(&resource, "vpcId is required"))?;
        let cidr = get_str(inputs, "cidrBlock")
            .ok_or_else(|| ProviderError::invalid(&resource, "cidrBlock is required"))?;
        let sdk = self.clients.get().await?;
        let out = sdk
            .ec2
            .create_subnet()
            .vpc_id(vpc)
            .cidr_block(cidr)
            .set_availability_zone(get_str(inputs, "availabilityZone").map(str::to_string))
            .tag_specifications(tag_spec(ctx, inputs, Ec2ResourceType::Subnet))
            .send()
            .await;
        let id = match out {
            Ok(out) => out
                .subnet()
                .and_then(|s| s.subnet_id())
                .ok_or_else(|| missing(&resource, "ec2:CreateSubnet", "subnet id"))?
                .to_string(),
            // The range is taken: our own lost attempt (adopt), or another's (refuse).
            Err(e) if error_code(&e) == Some("InvalidSubnet.Conflict") => {
                let Some(found) = self.find_by_range(&resource, vpc, cidr).await? else {
                    return Err(api_error(&resource, "ec2:CreateSubnet", e, &[]));
                };
                let id = found.subnet_id().unwrap_or_default().to_string();
                ensure_ours(ctx, &resource, &id, Some(&all_tags(found.tags())))?;
                ctx.report("adopting the subnet (it carries this resource's tag)");
                id
            }
            Err(e) => return Err(api_error(&resource, "ec2:CreateSubnet", e, &[])),
        };
        crate::util::note_created(&id);
        let subnet = self.wait_available(ctx, &resource, &id).await?;
        let subnet = self.finish(&resource, &subnet, inputs).await?;
        Ok(Created {
            id,
            outputs: outputs(&subnet),
        })
    }

    async fn read(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let Some(s) =
            crate::util::read_after_create(ctx, id, || self.describe(&resource, id)).await?
        else {
            return Ok(None);
        };
        Ok(Some(observe(id, &s, inputs)))
    }

    fn read_batch_limit(&self) -> Option<usize> {
        Some(EC2_FILTER_VALUES_MAX)
    }

    /// One `DescribeSubnets` per batch, filtered by `subnet-id`, paginated.
    async fn read_many(
        &self,
        reqs: &[ReadRequest],
    ) -> Result<BTreeMap<String, Observed>, ProviderError> {
        let resource = batch_label(reqs, TOKEN);
        let sdk = self.clients.get().await?;
        let (ec2, resource) = (&sdk.ec2, resource.as_str());
        let page = |filter, next: Option<String>| async move {
            let out = ec2
                .describe_subnets()
                .filters(filter)
                .max_results(1000)
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| api_error(resource, "ec2:DescribeSubnets", e, &[]))?;
            Ok::<_, ProviderError>((out.subnets().to_vec(), out.next_token().map(str::to_string)))
        };
        super::batch::read_many(
            self,
            reqs,
            "subnet-id",
            SubnetModel::subnet_id,
            page,
            |r, s| observe(&r.id, s, &r.inputs),
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
        let want = get_bool(new, "mapPublicIpOnLaunch").unwrap_or(false);
        if get_bool(old, "mapPublicIpOnLaunch").unwrap_or(false) != want {
            self.set_map_public_ip(&resource, id, want).await?;
        }
        update_tags(&sdk.ec2, &resource, id, old, new).await?;
        let s = self
            .describe(&resource, id)
            .await?
            .ok_or_else(|| missing(&resource, "ec2:DescribeSubnets", "subnet"))?;
        Ok(outputs(&s))
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
            match sdk.ec2.delete_subnet().subnet_id(id).send().await {
                Ok(_) => return Ok(()),
                Err(e) if ec2_not_found(error_code(&e)) => return Ok(()),
                // A NAT gateway's or a cache's network interfaces linger.
                Err(e) if error_code(&e) == Some("DependencyViolation") => {
                    if !backoff_until(ctx, start, deadline, &mut delay, poll.max, "still in use")
                        .await
                    {
                        return Err(api_error(&resource, "ec2:DeleteSubnet", e, &[]));
                    }
                }
                Err(e) => return Err(api_error(&resource, "ec2:DeleteSubnet", e, &[])),
            }
        }
    }

    async fn recover(
        &self,
        ctx: &CallContext,
        inputs: &Map,
    ) -> Result<Option<Created>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let mut found: Vec<super::vpc::Found<SubnetModel>> = Vec::new();
        let mut by_tag = vec![(URN_TAG, ctx.urn.clone())];
        if let Some(t) = &ctx.create_token {
            by_tag.push((CREATE_TOKEN_TAG, t.clone()));
        }
        for (key, value) in by_tag {
            let filter = Filter::builder()
                .name(format!("tag:{key}"))
                .values(value)
                .build();
            for s in self.find(&resource, vec![filter]).await? {
                let id = s.subnet_id().unwrap_or_default().to_string();
                if !found.iter().any(|(f, _, _)| *f == id) {
                    found.push((id, all_tags(s.tags()), s));
                }
            }
        }
        let subnet = match pick_ours(ctx, &resource, &found)? {
            Some((_, _, s)) => s.clone(),
            None => {
                // Nothing of ours: the range in that VPC belongs to someone else?
                let (Some(vpc), Some(cidr)) =
                    (get_str(inputs, "vpcId"), get_str(inputs, "cidrBlock"))
                else {
                    return Ok(None);
                };
                let Some(other) = self.find_by_range(&resource, vpc, cidr).await? else {
                    return Ok(None);
                };
                let id = other.subnet_id().unwrap_or_default();
                ensure_ours(ctx, &resource, id, Some(&all_tags(other.tags())))?;
                other
            }
        };
        let id = subnet.subnet_id().unwrap_or_default().to_string();
        ctx.report("adopting the subnet (it carries this resource's tag)");
        let subnet = self.wait_available(ctx, &resource, &id).await?;
        let subnet = self.finish(&resource, &subnet, inputs).await?;
        Ok(Some(Created {
            id,
            outputs: outputs(&subnet),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn availability_zone_names() {
        for ok in [
            "us-east-1a",
            "eu-west-3c",
            "us-gov-west-1b",
            "ap-southeast-2a",
            "us-west-2-lax-1a",
        ] {
            assert!(is_az_name(ok), "{ok}");
        }
        for bad in [
            "us-east-1",
            "us-east-1ab",
            "useast1a",
            "US-EAST-1A",
            "us-east-a",
            "us--1a",
            "",
            "a",
        ] {
            assert!(!is_az_name(bad), "{bad}");
        }
    }
}
