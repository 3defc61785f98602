//! `aws:ec2:Vpc`: a VPC (Pulumi's `aws.ec2.Vpc`). `cidrBlock` replaces;
//! the DNS attributes change in place (ModifyVpcAttribute). CreateVpc has
//! no idempotency token: the VPC carries `cairn:urn` (and the intent's
//! `cairn:create-token`), and `recover` adopts only a VPC tagged for this
//! resource. Also the helpers the other network files share (CIDRs, tags,
//! ARNs, not-found codes).

use crate::clients::Shared;
use crate::util::{
    api_error, error_code, get_bool, get_str, get_tags, missing, not_owned, owner_of,
    resource_label, tag_diff, tags_value, CREATE_TOKEN_TAG, URN_TAG,
};
use async_trait::async_trait;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, Filter, ResourceType as Ec2ResourceType, Tag, TagSpecification,
    Vpc as VpcModel, VpcAttributeName,
};
use cairn_core::dsl::{DeclaredType, Input, Output, Outputs, Resource};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, Operation, ProviderError, ResourceProvider,
};
use cairn_core::schema::ResourceSchema;
use cairn_core::value::{Map, PropertyPath, Value};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

pub const TOKEN: &str = "aws:ec2:Vpc";
const DELETE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// Stable ids of the network types' preview rules.
pub mod rules {
    pub const CIDR: &str = "aws::ec2::cidr-block";
    pub const VPC_SIZE: &str = "aws::ec2::vpc-size";
    pub const SUBNET_SIZE: &str = "aws::ec2::subnet-size";
    pub const AZ: &str = "aws::ec2::availability-zone";
    pub const SUBNET_OUTSIDE_VPC: &str = "aws::ec2::subnet-outside-vpc";
    pub const SUBNET_OVERLAP: &str = "aws::ec2::subnet-overlap";
    pub const NAT_EIP_DOMAIN: &str = "aws::ec2::nat-eip-domain";
    pub const NAT_ALLOCATION: &str = "aws::ec2::nat-allocation";
}

pub struct Vpc;

/// A VPC.
#[derive(Serialize, Clone, Debug, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(token = "aws:ec2:Vpc", kind = Vpc, outputs = VpcOutputs)]
pub struct VpcArgs {
    /// IPv4 range, /16 to /28, e.g. `10.0.0.0/16` (cannot change in place).
    #[prop(replaces)]
    pub cidr_block: Input<String>,
    /// Give instances public DNS host names (default false).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(default = false)]
    pub enable_dns_hostnames: Option<Input<bool>>,
    /// Resolve DNS through the Amazon-provided server (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(default = true)]
    pub enable_dns_support: Option<Input<bool>>,
    /// Tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Input<String>>>,
}

#[derive(Outputs)]
pub struct VpcOutputs {
    /// VPC id (vpc-...).
    pub id: Output<String>,
    /// VPC ARN.
    pub arn: Output<String>,
    /// The VPC's IPv4 range.
    pub cidr_block: Output<String>,
    /// The owning account.
    pub owner_id: Output<String>,
}

// ---------------------------------------------------------------- shared helpers

/// An IPv4 CIDR block: network address and prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cidr {
    pub addr: u32,
    pub prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n`, requiring the network address (no host bits set).
    pub(crate) fn parse(s: &str) -> Result<Cidr, String> {
        let (ip, prefix) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not a CIDR block (expected a.b.c.d/n)"))?;
        let octets: Vec<&str> = ip.split('.').collect();
        let valid_octet = |o: &&str| {
            !o.is_empty()
                && o.len() <= 3
                && o.bytes().all(|b| b.is_ascii_digit())
                && (o.len() == 1 || !o.starts_with('0'))
                && o.parse::<u16>().is_ok_and(|v| v <= 255)
        };
        if octets.len() != 4 || !octets.iter().all(valid_octet) {
            return Err(format!(
                "`{s}` is not a CIDR block: `{ip}` is not an IPv4 address"
            ));
        }
        let addr = octets
            .iter()
            .fold(0u32, |a, o| (a << 8) | o.parse::<u32>().unwrap_or(0));
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 32 && !prefix.starts_with('+'))
            .ok_or_else(|| format!("`{s}` is not a CIDR block: `/{prefix}` is not 0 to 32"))?;
        let c = Cidr { addr, prefix };
        if addr & !c.mask() != 0 {
            let net = Cidr {
                addr: addr & c.mask(),
                prefix,
            };
            return Err(format!(
                "`{s}` has host bits set: the network address is `{net}`"
            ));
        }
        Ok(c)
    }
    fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        }
    }
    fn last(&self) -> u32 {
        self.addr | !self.mask()
    }
    /// Whether `other` lies wholly inside this block.
    pub(crate) fn contains(&self, other: &Cidr) -> bool {
        other.prefix >= self.prefix && other.addr & self.mask() == self.addr
    }
    pub(crate) fn overlaps(&self, other: &Cidr) -> bool {
        self.addr <= other.last() && other.addr <= self.last()
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let a = self.addr;
        write!(
            f,
            "{}.{}.{}.{}/{}",
            a >> 24,
            (a >> 16) & 255,
            (a >> 8) & 255,
            a & 255,
            self.prefix
        )
    }
}

/// Checks a CIDR property: syntax, then a prefix within `min..=max`.
pub(crate) fn check_cidr(
    inputs: &Map,
    key: &str,
    (min, max): (u8, u8),
    size_rule: &str,
    what: &str,
) -> Vec<CheckFailure> {
    let Some(s) = crate::util::concrete_str(inputs, key) else {
        return Vec::new();
    };
    match Cidr::parse(s) {
        Err(why) => vec![
            CheckFailure::error(rules::CIDR, PropertyPath::key(key), why)
                .with_help("write an IPv4 network address and prefix length, e.g. `10.0.0.0/16`"),
        ],
        Ok(c) if c.prefix < min || c.prefix > max => vec![CheckFailure::error(
            size_rule,
            PropertyPath::key(key),
            format!(
                "a {what} must be between /{min} and /{max}; `{s}` is /{}",
                c.prefix
            ),
        )
        .with_help(format!(
            "AWS rejects a {what} block larger than /{min} or smaller than /{max}"
        ))],
        Ok(_) => Vec::new(),
    }
}

/// EC2 not-found error codes of the network types.
pub(crate) fn ec2_not_found(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "InvalidVpcID.NotFound"
                | "InvalidSubnetID.NotFound"
                | "InvalidInternetGatewayID.NotFound"
                | "InvalidAllocationID.NotFound"
                | "InvalidAddress.NotFound"
                | "NatGatewayNotFound"
                | "InvalidNatGatewayID.NotFound"
        )
    )
}

/// The tag specification of a create: the stack's tags, `cairn:urn`, and
/// the intent's create token when there is one.
pub(crate) fn tag_spec(ctx: &CallContext, inputs: &Map, kind: Ec2ResourceType) -> TagSpecification {
    let mut tags = get_tags(inputs, "tags");
    tags.insert(URN_TAG.to_string(), ctx.urn.clone());
    if let Some(t) = &ctx.create_token {
        tags.insert(CREATE_TOKEN_TAG.to_string(), t.clone());
    }
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .build()
}

/// All of an object's tags.
pub(crate) fn all_tags(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

/// Reports the user's tags into `obs` (cairn's own are hidden) when the
/// stack manages tags or there are any.
pub(crate) fn observe_tags(obs: &mut Map, inputs: &Map, tags: &[Tag]) {
    let tags: BTreeMap<String, String> = all_tags(tags)
        .into_iter()
        .filter(|(k, _)| !crate::util::is_internal_tag(k))
        .collect();
    if inputs.contains_key("tags") || !tags.is_empty() {
        obs.insert("tags".into(), tags_value(&tags));
    }
}

/// Applies the `tags` change between `old` and `new` to `id`.
pub(crate) async fn update_tags(
    ec2: &aws_sdk_ec2::Client,
    resource: &str,
    id: &str,
    old: &Map,
    new: &Map,
) -> Result<(), ProviderError> {
    if old.get("tags") == new.get("tags") {
        return Ok(());
    }
    let (set, gone) = tag_diff(&get_tags(old, "tags"), &get_tags(new, "tags"));
    if !set.is_empty() {
        ec2.create_tags()
            .resources(id)
            .set_tags(Some(
                set.iter()
                    .map(|(k, v)| Tag::builder().key(k).value(v).build())
                    .collect(),
            ))
            .send()
            .await
            .map_err(|e| api_error(resource, "ec2:CreateTags", e, &[]))?;
    }
    if !gone.is_empty() {
        ec2.delete_tags()
            .resources(id)
            .set_tags(Some(
                gone.iter().map(|k| Tag::builder().key(k).build()).collect(),
            ))
            .send()
            .await
            .map_err(|e| api_error(resource, "ec2:DeleteTags", e, &[]))?;
    }
    Ok(())
}

/// An object recovery found: its id, all its tags, and the object.
pub(crate) type Found<T> = (String, BTreeMap<String, String>, T);

/// Among objects found by tags, the one recovery may adopt: one made by
/// this very intent (its create token) if any, else one carrying this
/// resource's urn. An object made by this intent but carrying another urn
/// is refused. `None` when nothing is ours.
pub(crate) fn pick_ours<'a, T>(
    ctx: &CallContext,
    resource: &str,
    found: &'a [Found<T>],
) -> Result<Option<&'a Found<T>>, ProviderError> {
    if let Some(token) = &ctx.create_token {
        if let Some(hit) = found
            .iter()
            .find(|(_, tags, _)| tags.get(CREATE_TOKEN_TAG) == Some(token))
        {
            if hit.1.get(URN_TAG) != Some(&ctx.urn) {
                return Err(not_owned(ctx, resource, &hit.0, owner_of(&hit.1)));
            }
            return Ok(Some(hit));
        }
    }
    Ok(found
        .iter()
        .find(|(_, tags, _)| tags.get(URN_TAG) == Some(&ctx.urn)))
}

/// An EC2 ARN: `arn:<partition>:ec2:<region>:<account>:<kind>/<id>`.
pub(crate) fn ec2_arn(ec2: &aws_sdk_ec2::Client, account: &str, kind: &str, id: &str) -> String {
    let region = ec2
        .config()
        .region()
        .map(|r| r.as_ref().to_string())
        .unwrap_or_default();
    let partition = if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    format!("arn:{partition}:ec2:{region}:{account}:{kind}/{id}")
}

/// Sleeps before the next retry of an in-use delete; false once `deadline` has passed.
pub(crate) async fn backoff_until(
    ctx: &CallContext,
    start: Instant,
    deadline: Duration,
    delay: &mut Duration,
    max: Duration,
    why: &str,
) -> bool {
    if start.elapsed() >= deadline {
        return false;
    }
    ctx.report(&format!("{why}; retrying ({}s)", start.elapsed().as_secs()));
    tokio::time::sleep((*delay).min(deadline.saturating_sub(start.elapsed()))).await;
    *delay = (*delay * 2).min(max);
    true
}

// ---------------------------------------------------------------- provider

pub struct VpcProvider {
    schema: ResourceSchema,
    clients: Shared,
}

impl VpcProvider {
    pub fn new(clients: Shared) -> Self {
        VpcProvider {
            schema: Vpc::schema(),
            clients,
        }
    }

    async fn describe(&self, resource: &str, id: &str) -> Result<Option<VpcModel>, ProviderError> {
        let sdk = self.clients.get().await?;
        match sdk.ec2.describe_vpcs().vpc_ids(id).send().await {
            Ok(out) => Ok(out.vpcs().first().cloned()),
            Err(e) if ec2_not_found(error_code(&e)) => Ok(None),
            Err(e) => Err(api_error(resource, "ec2:DescribeVpcs", e, &[])),
        }
    }

    async fn attribute(
        &self,
        resource: &str,
        id: &str,
        name: VpcAttributeName,
    ) -> Result<bool, ProviderError> {
        let sdk = self.clients.get().await?;
        let out = sdk
            .ec2
            .describe_vpc_attribute()
            .vpc_id(id)
            .attribute(name.clone())
            .send()
            .await
            .map_err(|e| api_error(resource, "ec2:DescribeVpcAttribute", e, &[]))?;
        let v = match name {
            VpcAttributeName::EnableDnsHostnames => out.enable_dns_hostnames(),
            _ => out.enable_dns_support(),
        };
        Ok(v.and_then(|v| v.value()).unwrap_or(false))
    }

    /// Sets the DNS attributes that differ from AWS's defaults or from `old`.
    async fn sync_dns(
        &self,
        resource: &str,
        id: &str,
        old: Option<&Map>,
        new: &Map,
    ) -> Result<(), ProviderError> {
        let sdk = self.clients.get().await?;
        // Host names need support on: turn support on first, off last.
        let support = ("enableDnsSupport", true);
        let hostnames = ("enableDnsHostnames", false);
        let order = if get_bool(new, "enableDnsSupport").unwrap_or(true) {
            [support, hostnames]
        } else {
            [hostnames, support]
        };
        for (key, default) in order {
            let want = get_bool(new, key).unwrap_or(default);
            let had = old.map_or(default, |o| get_bool(o, key).unwrap_or(default));
            if want == had {
                continue;
            }
            let v = AttributeBooleanValue::builder().value(want).build();
            let req = sdk.ec2.modify_vpc_attribute().vpc_id(id);
            let req = if key == "enableDnsSupport" {
                req.enable_dns_support(v)
            } else {
                req.enable_dns_hostnames(v)
            };
            req.send()
                .await
                .map_err(|e| api_error(resource, "ec2:ModifyVpcAttribute", e, &[]))?;
        }
        Ok(())
    }

    fn outputs(&self, sdk_ec2: &aws_sdk_ec2::Client, vpc: &VpcModel) -> Map {
        let id = vpc.vpc_id().unwrap_or_default();
        let owner = vpc.owner_id().unwrap_or_default();
        let mut m = Map::new();
        m.insert("id".into(), id.into());
        m.insert("arn".into(), ec2_arn(sdk_ec2, owner, "vpc", id).into());
        m.insert(
            "cidrBlock".into(),
            vpc.cidr_block().unwrap_or_default().into(),
        );
        m.insert("ownerId".into(), owner.into());
        m
    }

    /// Waits until the VPC is `available`.
    async fn wait_available(
        &self,
        ctx: &CallContext,
        resource: &str,
        id: &str,
    ) -> Result<VpcModel, ProviderError> {
        let deadline = ctx.deadline(Operation::Create, Duration::from_secs(5 * 60));
        crate::wait::wait_until(
            ctx,
            &self.clients,
            crate::wait::WaitSpec {
                resource,
                api: "ec2:DescribeVpcs",
                wanted: "available",
                deadline,
            },
            || async {
                Ok(match self.describe(resource, id).await? {
                    Some(v) if v.state().map(|s| s.as_str()) == Some("available") => {
                        crate::wait::Probe::Done(v)
                    }
                    Some(v) => crate::wait::Probe::Pending(
                        v.state()
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

#[async_trait]
impl ResourceProvider for VpcProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        check_cidr(inputs, "cidrBlock", (16, 28), rules::VPC_SIZE, "VPC")
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let cidr = get_str(inputs, "cidrBlock")
            .ok_or_else(|| ProviderError::invalid(&resource, "cidrBlock is required"))?;
        let sdk = self.clients.get().await?;
        let out = sdk
            .ec2
            .create_vpc()
            .cidr_block(cidr)
            .tag_specifications(tag_spec(ctx, inputs, Ec2ResourceType::Vpc))
            .send()
            .await
            .map_err(|e| api_error(&resource, "ec2:CreateVpc", e, &[]))?;
        let id = out
            .vpc()
            .and_then(|v| v.vpc_id())
            .ok_or_else(|| missing(&resource, "ec2:CreateVpc", "VPC id"))?
            .to_string();
        crate::util::note_created(&id);
        self.wait_available(ctx, &resource, &id).await?;
        self.sync_dns(&resource, &id, None, inputs).await?;
        let vpc = self
            .describe(&resource, &id)
            .await?
            .ok_or_else(|| missing(&resource, "ec2:DescribeVpcs", "VPC"))?;
        Ok(Created {
            outputs: self.outputs(&sdk.ec2, &vpc),
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
        let Some(vpc) =
            crate::util::read_after_create(ctx, id, || self.describe(&resource, id)).await?
        else {
            return Ok(None);
        };
        let mut obs = Map::new();
        obs.insert(
            "cidrBlock".into(),
            vpc.cidr_block().unwrap_or_default().into(),
        );
        for (key, name) in [
            ("enableDnsHostnames", VpcAttributeName::EnableDnsHostnames),
            ("enableDnsSupport", VpcAttributeName::EnableDnsSupport),
        ] {
            let v = self.attribute(&resource, id, name).await?;
            obs.insert(key.into(), Value::Bool(v));
        }
        observe_tags(&mut obs, inputs, vpc.tags());
        Ok(Some(Observed {
            id: id.to_string(),
            inputs: obs,
            outputs: self.outputs(&sdk.ec2, &vpc),
        }))
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
        self.sync_dns(&resource, id, Some(old), new).await?;
        update_tags(&sdk.ec2, &resource, id, old, new).await?;
        let vpc = self
            .describe(&resource, id)
            .await?
            .ok_or_else(|| missing(&resource, "ec2:DescribeVpcs", "VPC"))?;
        Ok(self.outputs(&sdk.ec2, &vpc))
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
            match sdk.ec2.delete_vpc().vpc_id(id).send().await {
                Ok(_) => return Ok(()),
                Err(e) if ec2_not_found(error_code(&e)) => return Ok(()),
                // Subnets, gateways or interfaces still going away.
                Err(e) if error_code(&e) == Some("DependencyViolation") => {
                    if !backoff_until(ctx, start, deadline, &mut delay, poll.max, "still in use")
                        .await
                    {
                        return Err(api_error(&resource, "ec2:DeleteVpc", e, &[]));
                    }
                }
                Err(e) => return Err(api_error(&resource, "ec2:DeleteVpc", e, &[])),
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
        let mut found = Vec::new();
        for (key, value) in [
            (Some(URN_TAG), Some(ctx.urn.clone())),
            (Some(CREATE_TOKEN_TAG), ctx.create_token.clone()),
        ] {
            let (Some(key), Some(value)) = (key, value) else {
                continue;
            };
            let out = sdk
                .ec2
                .describe_vpcs()
                .filters(
                    Filter::builder()
                        .name(format!("tag:{key}"))
                        .values(value)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| api_error(&resource, "ec2:DescribeVpcs", e, &[]))?;
            for v in out.vpcs() {
                let Some(id) = v.vpc_id() else { continue };
                if !found.iter().any(|(f, _, _): &(String, _, _)| f == id) {
                    found.push((id.to_string(), all_tags(v.tags()), v.clone()));
                }
            }
        }
        let Some((id, _, _)) = pick_ours(ctx, &resource, &found)? else {
            return Ok(None);
        };
        let id = id.clone();
        ctx.report("adopting the VPC (it carries this resource's tag)");
        self.wait_available(ctx, &resource, &id).await?;
        // Finish what the interrupted create may not have done.
        let mut seen = Map::new();
        for (key, name) in [
            ("enableDnsHostnames", VpcAttributeName::EnableDnsHostnames),
            ("enableDnsSupport", VpcAttributeName::EnableDnsSupport),
        ] {
            seen.insert(
                key.into(),
                Value::Bool(self.attribute(&resource, &id, name).await?),
            );
        }
        self.sync_dns(&resource, &id, Some(&seen), inputs).await?;
        let vpc = self
            .describe(&resource, &id)
            .await?
            .ok_or_else(|| missing(&resource, "ec2:DescribeVpcs", "VPC"))?;
        Ok(Some(Created {
            outputs: self.outputs(&sdk.ec2, &vpc),
            id,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_parsing() {
        let c = Cidr::parse("10.0.0.0/16").unwrap();
        assert_eq!(c.to_string(), "10.0.0.0/16");
        assert!(Cidr::parse("10.0.0.1/16")
            .unwrap_err()
            .contains("`10.0.0.0/16`"));
        for bad in [
            "10.0.0.0",
            "10.0.0/16",
            "10.0.0.256/24",
            "10.0.0.0/33",
            "a.b.c.d/8",
            "10.0.0.00/24",
            "10.0.0.0/+8",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
        let vpc = Cidr::parse("10.0.0.0/16").unwrap();
        let sub = Cidr::parse("10.0.1.0/24").unwrap();
        assert!(vpc.contains(&sub) && !sub.contains(&vpc));
        assert!(!vpc.contains(&Cidr::parse("10.1.0.0/24").unwrap()));
        assert!(sub.overlaps(&Cidr::parse("10.0.1.128/25").unwrap()));
        assert!(!sub.overlaps(&Cidr::parse("10.0.2.0/24").unwrap()));
    }
}
