//! `aws:ec2:SecurityGroup`: a VPC security group with inline ingress and
//! egress rules (Pulumi's shape). `read()` reports rules in that same shape,
//! ordered like the stack's, so importing an existing group matches the YAML.
//! A create that finds a group of that name already in the VPC (its own lost
//! attempt, retried) adopts it when it carries this resource's `cairn:urn` tag.

use crate::clients::Shared;
use crate::util::{
    api_error, api_failure, batch_label, ensure_ours, error_code, get_str, get_tags, is_not_found,
    missing, resource_label, tag_diff, tags_value, EC2_FILTER_VALUES_MAX, URN_TAG,
};
use async_trait::async_trait;
use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, ResourceType as Ec2ResourceType,
    SecurityGroup as SgModel, Tag, TagSpecification, UserIdGroupPair,
};
use cairn_core::dsl::{Input, Output, ResourceType};
use cairn_core::provider::{
    CallContext, Created, Observed, Operation, ProviderError, ReadRequest, ResourceProvider,
};
use cairn_core::schema::{OutputSchema, PropType, PropertySchema, ResourceSchema};
use cairn_core::value::{Map, Value};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::time::Instant;

pub const TOKEN: &str = "aws:ec2:SecurityGroup";
const DEFAULT_DESCRIPTION: &str = "Managed by cairn";
const DELETE_TIMEOUT: Duration = Duration::from_secs(15 * 60);

fn rule_type() -> PropType {
    let s = PropType::string;
    PropType::object(vec![
        PropertySchema::new("protocol", s())
            .required()
            .doc("`tcp`, `udp`, `icmp`, or `-1` for all."),
        PropertySchema::new("fromPort", PropType::int_range(-1, 65535))
            .required()
            .doc("First port (0 for all protocols)."),
        PropertySchema::new("toPort", PropType::int_range(-1, 65535))
            .required()
            .doc("Last port (0 for all protocols)."),
        PropertySchema::new("cidrBlocks", PropType::list(s())).doc("IPv4 CIDR ranges."),
        PropertySchema::new("ipv6CidrBlocks", PropType::list(s())).doc("IPv6 CIDR ranges."),
        PropertySchema::new("securityGroups", PropType::list(s()))
            .doc("Source/destination security group ids."),
        PropertySchema::new("description", s()).doc("Rule description."),
    ])
}

pub fn schema() -> ResourceSchema {
    let s = PropType::string;
    ResourceSchema::new(TOKEN, "A VPC security group with inline rules.")
        .property(PropertySchema::new("name", PropType::String { min_len: Some(1), max_len: Some(255) }).required().replaces().doc("Group name."))
        .property(
            PropertySchema::new("description", s())
                .replaces()
                .default_value(serde_json::json!(DEFAULT_DESCRIPTION))
                .doc("Group description (cannot change in place)."),
        )
        .property(PropertySchema::new("vpcId", s()).replaces().doc("VPC id."))
        .property(PropertySchema::new("ingress", PropType::list(rule_type())).doc("Inbound rules."))
        .property(PropertySchema::new("egress", PropType::list(rule_type())).doc(
            "Outbound rules. When set, exactly these (AWS's default allow-all is removed); when unset, egress is not managed.",
        ))
        .property(PropertySchema::new("tags", PropType::map(s())).doc("Tags."))
        .output(OutputSchema::new("id", "Group id (sg-...)."))
        .output(OutputSchema::new("arn", "Group ARN."))
        .output(OutputSchema::new("name", "Group name."))
}

// ---------------------------------------------------------------- DSL

pub struct SecurityGroup;

#[derive(Clone, Debug, Serialize, cairn_core::dsl::Builder)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroupRuleArgs {
    pub protocol: Input<String>,
    pub from_port: Input<i64>,
    pub to_port: Input<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr_blocks: Option<Vec<Input<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv6_cidr_blocks: Option<Vec<Input<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Vec<Input<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Input<String>>,
}

#[derive(Clone, Debug, Serialize, cairn_core::dsl::Builder)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroupArgs {
    pub name: Input<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Input<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<Input<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingress: Option<Vec<SecurityGroupRuleArgs>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub egress: Option<Vec<SecurityGroupRuleArgs>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Input<String>>>,
}

pub struct SecurityGroupOutputs {
    pub id: Output<String>,
    pub arn: Output<String>,
    pub name: Output<String>,
}

impl ResourceType for SecurityGroup {
    const TOKEN: &'static str = TOKEN;
    type Args = SecurityGroupArgs;
    type Outputs = SecurityGroupOutputs;
    fn outputs(name: &str) -> SecurityGroupOutputs {
        SecurityGroupOutputs {
            id: Output::of(name, "id"),
            arn: Output::of(name, "arn"),
            name: Output::of(name, "name"),
        }
    }
}

// ---------------------------------------------------------------- rules

/// One rule in Pulumi's shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rule {
    pub protocol: String,
    pub from: i64,
    pub to: i64,
    pub cidrs: Vec<String>,
    pub ipv6: Vec<String>,
    pub groups: Vec<String>,
    pub description: Option<String>,
}

/// The smallest unit EC2 authorizes/revokes: one source of one port range.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Atom {
    protocol: String,
    from: i64,
    to: i64,
    /// 0 = IPv4 CIDR, 1 = IPv6 CIDR, 2 = security group.
    kind: u8,
    source: String,
    description: Option<String>,
}

pub(crate) fn normalize_protocol(p: &str) -> String {
    match p.trim().to_ascii_lowercase().as_str() {
        "all" | "-1" => "-1".into(),
        "6" => "tcp".into(),
        "17" => "udp".into(),
        "1" => "icmp".into(),
        "58" => "icmpv6".into(),
        other => other.to_string(),
    }
}

fn strs(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

pub(crate) fn rules_of(inputs: &Map, key: &str) -> Vec<Rule> {
    inputs
        .get(key)
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|r| {
            let m = r.as_map()?;
            let protocol = normalize_protocol(m.get("protocol").and_then(Value::as_str)?);
            let all = protocol == "-1";
            Some(Rule {
                from: if all {
                    0
                } else {
                    m.get("fromPort").and_then(Value::as_i64).unwrap_or(0)
                },
                to: if all {
                    0
                } else {
                    m.get("toPort").and_then(Value::as_i64).unwrap_or(0)
                },
                protocol,
                cidrs: strs(m.get("cidrBlocks")),
                ipv6: strs(m.get("ipv6CidrBlocks")),
                groups: strs(m.get("securityGroups")),
                description: m
                    .get("description")
                    .and_then(Value::as_str)
                    .filter(|d| !d.is_empty())
                    .map(str::to_string),
            })
        })
        .collect()
}

fn atoms(rules: &[Rule]) -> BTreeSet<Atom> {
    let mut out = BTreeSet::new();
    for r in rules {
        for (kind, list) in [(0u8, &r.cidrs), (1, &r.ipv6), (2, &r.groups)] {
            for s in list {
                out.insert(Atom {
                    protocol: r.protocol.clone(),
                    from: r.from,
                    to: r.to,
                    kind,
                    source: s.clone(),
                    description: r.description.clone(),
                });
            }
        }
    }
    out
}

/// Live permissions as rules: one rule per (protocol, ports, description).
pub(crate) fn rules_from_permissions(perms: &[IpPermission]) -> Vec<Rule> {
    let mut grouped: BTreeMap<(String, i64, i64, Option<String>), Rule> = BTreeMap::new();
    for p in perms {
        let protocol = normalize_protocol(p.ip_protocol().unwrap_or("-1"));
        let all = protocol == "-1";
        let from = if all {
            0
        } else {
            p.from_port().map(i64::from).unwrap_or(0)
        };
        let to = if all {
            0
        } else {
            p.to_port().map(i64::from).unwrap_or(0)
        };
        let mut add = |d: Option<&str>, kind: u8, source: &str| {
            let description = d.filter(|d| !d.is_empty()).map(str::to_string);
            let rule = grouped
                .entry((protocol.clone(), from, to, description.clone()))
                .or_insert_with(|| Rule {
                    protocol: protocol.clone(),
                    from,
                    to,
                    cidrs: vec![],
                    ipv6: vec![],
                    groups: vec![],
                    description,
                });
            match kind {
                0 => rule.cidrs.push(source.to_string()),
                1 => rule.ipv6.push(source.to_string()),
                _ => rule.groups.push(source.to_string()),
            }
        };
        for r in p.ip_ranges() {
            if let Some(c) = r.cidr_ip() {
                add(r.description(), 0, c);
            }
        }
        for r in p.ipv6_ranges() {
            if let Some(c) = r.cidr_ipv6() {
                add(r.description(), 1, c);
            }
        }
        for g in p.user_id_group_pairs() {
            if let Some(id) = g.group_id() {
                add(g.description(), 2, id);
            }
        }
    }
    grouped.into_values().collect()
}

fn sorted(r: &Rule) -> Rule {
    let mut r = r.clone();
    r.cidrs.sort();
    r.ipv6.sort();
    r.groups.sort();
    r
}

/// Observed rules, ordered (and each rule's lists ordered) like the desired ones.
pub(crate) fn order_rules(observed: &[Rule], desired: &[Rule]) -> Vec<Rule> {
    let mut rest: Vec<Rule> = observed.to_vec();
    let mut out = Vec::new();
    for d in desired {
        if let Some(pos) = rest.iter().position(|o| sorted(o) == sorted(d)) {
            rest.remove(pos);
            out.push(d.clone());
        }
    }
    out.extend(rest.iter().map(sorted));
    out
}

/// Rules as input values; `desired` decides whether empty optional lists appear.
pub(crate) fn rules_value(rules: &[Rule], desired: Option<&Value>) -> Value {
    let written = |i: usize, k: &str| {
        desired
            .and_then(Value::as_list)
            .and_then(|l| l.get(i))
            .and_then(Value::as_map)
            .is_some_and(|m| m.contains_key(k))
    };
    Value::List(
        rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut m = Map::new();
                m.insert("protocol".into(), r.protocol.as_str().into());
                m.insert("fromPort".into(), Value::Int(r.from));
                m.insert("toPort".into(), Value::Int(r.to));
                for (k, list) in [
                    ("cidrBlocks", &r.cidrs),
                    ("ipv6CidrBlocks", &r.ipv6),
                    ("securityGroups", &r.groups),
                ] {
                    if !list.is_empty() || written(i, k) {
                        m.insert(k.into(), crate::util::str_list_value(list));
                    }
                }
                if let Some(d) = &r.description {
                    m.insert("description".into(), d.as_str().into());
                }
                Value::Map(m)
            })
            .collect(),
    )
}

fn permission(a: &Atom) -> IpPermission {
    let mut b = IpPermission::builder().ip_protocol(&a.protocol);
    if a.protocol != "-1" {
        b = b.from_port(a.from as i32).to_port(a.to as i32);
    }
    let d = a.description.clone();
    match a.kind {
        0 => b.ip_ranges(
            IpRange::builder()
                .cidr_ip(&a.source)
                .set_description(d)
                .build(),
        ),
        1 => b.ipv6_ranges(
            Ipv6Range::builder()
                .cidr_ipv6(&a.source)
                .set_description(d)
                .build(),
        ),
        _ => b.user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(&a.source)
                .set_description(d)
                .build(),
        ),
    }
    .build()
}

// ---------------------------------------------------------------- provider

pub struct SecurityGroupProvider {
    schema: ResourceSchema,
    clients: Shared,
}

fn outputs(sg: &SgModel) -> Map {
    let mut m = Map::new();
    m.insert("id".into(), sg.group_id().unwrap_or_default().into());
    m.insert(
        "arn".into(),
        sg.security_group_arn().unwrap_or_default().into(),
    );
    m.insert("name".into(), sg.group_name().unwrap_or_default().into());
    m
}

#[derive(Clone, Copy)]
enum Direction {
    Ingress,
    Egress,
}

impl SecurityGroupProvider {
    pub fn new(clients: Shared) -> Self {
        SecurityGroupProvider {
            schema: schema(),
            clients,
        }
    }

    async fn describe(&self, resource: &str, id: &str) -> Result<Option<SgModel>, ProviderError> {
        let sdk = self.clients.get().await?;
        match sdk
            .ec2
            .describe_security_groups()
            .group_ids(id)
            .send()
            .await
        {
            Ok(out) => Ok(out.security_groups().first().cloned()),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(api_error(resource, "ec2:DescribeSecurityGroups", e, &[])),
        }
    }

    /// Makes one direction's live rules equal to `desired`.
    async fn sync_rules(
        &self,
        resource: &str,
        id: &str,
        dir: Direction,
        live: &[IpPermission],
        desired: &[Rule],
    ) -> Result<(), ProviderError> {
        let sdk = self.clients.get().await?;
        let have = atoms(&rules_from_permissions(live));
        let want = atoms(desired);
        let revoke: Vec<IpPermission> = have.difference(&want).map(permission).collect();
        let grant: Vec<IpPermission> = want.difference(&have).map(permission).collect();
        if !revoke.is_empty() {
            match dir {
                Direction::Ingress => sdk
                    .ec2
                    .revoke_security_group_ingress()
                    .group_id(id)
                    .set_ip_permissions(Some(revoke))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| api_error(resource, "ec2:RevokeSecurityGroupIngress", e, &[]))?,
                Direction::Egress => sdk
                    .ec2
                    .revoke_security_group_egress()
                    .group_id(id)
                    .set_ip_permissions(Some(revoke))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| api_error(resource, "ec2:RevokeSecurityGroupEgress", e, &[]))?,
            }
        }
        if !grant.is_empty() {
            match dir {
                Direction::Ingress => sdk
                    .ec2
                    .authorize_security_group_ingress()
                    .group_id(id)
                    .set_ip_permissions(Some(grant))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        api_error(resource, "ec2:AuthorizeSecurityGroupIngress", e, &[])
                    })?,
                Direction::Egress => sdk
                    .ec2
                    .authorize_security_group_egress()
                    .group_id(id)
                    .set_ip_permissions(Some(grant))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| api_error(resource, "ec2:AuthorizeSecurityGroupEgress", e, &[]))?,
            }
        }
        Ok(())
    }

    /// The group named `name` in the inputs' VPC (any VPC when none is given).
    async fn find_by_name(
        &self,
        resource: &str,
        name: &str,
        inputs: &Map,
    ) -> Result<Option<SgModel>, ProviderError> {
        let sdk = self.clients.get().await?;
        let mut req = sdk
            .ec2
            .describe_security_groups()
            .filters(Filter::builder().name("group-name").values(name).build());
        if let Some(vpc) = get_str(inputs, "vpcId") {
            req = req.filters(Filter::builder().name("vpc-id").values(vpc).build());
        }
        let out = req
            .send()
            .await
            .map_err(|e| api_error(resource, "ec2:DescribeSecurityGroups", e, &[]))?;
        Ok(out.security_groups().first().cloned())
    }

    async fn sync_all(
        &self,
        resource: &str,
        id: &str,
        inputs: &Map,
    ) -> Result<SgModel, ProviderError> {
        let sg = self
            .describe(resource, id)
            .await?
            .ok_or_else(|| missing(resource, "ec2:DescribeSecurityGroups", "security group"))?;
        self.sync_rules(
            resource,
            id,
            Direction::Ingress,
            sg.ip_permissions(),
            &rules_of(inputs, "ingress"),
        )
        .await?;
        if inputs.contains_key("egress") {
            self.sync_rules(
                resource,
                id,
                Direction::Egress,
                sg.ip_permissions_egress(),
                &rules_of(inputs, "egress"),
            )
            .await?;
        }
        Ok(sg)
    }
}

/// What a read reports for the described group `sg` (single and batched reads).
fn observe(id: &str, sg: &SgModel, inputs: &Map) -> Observed {
    let mut obs = Map::new();
    obs.insert("name".into(), sg.group_name().unwrap_or_default().into());
    obs.insert(
        "description".into(),
        sg.description().unwrap_or_default().into(),
    );
    if let Some(v) = sg.vpc_id() {
        obs.insert("vpcId".into(), v.into());
    }
    let ingress = order_rules(
        &rules_from_permissions(sg.ip_permissions()),
        &rules_of(inputs, "ingress"),
    );
    obs.insert(
        "ingress".into(),
        rules_value(&ingress, inputs.get("ingress")),
    );
    let egress = order_rules(
        &rules_from_permissions(sg.ip_permissions_egress()),
        &rules_of(inputs, "egress"),
    );
    // Egress the stack does not manage is not reported (no perpetual diff),
    // except for a bare import, which shows everything.
    if inputs.contains_key("egress") || inputs.is_empty() {
        obs.insert("egress".into(), rules_value(&egress, inputs.get("egress")));
    }
    let tags: BTreeMap<String, String> = sg
        .tags()
        .iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .filter(|(k, _)| k != URN_TAG)
        .collect();
    if inputs.contains_key("tags") || !tags.is_empty() {
        obs.insert("tags".into(), tags_value(&tags));
    }
    Observed {
        id: id.to_string(),
        inputs: obs,
        outputs: outputs(sg),
    }
}

#[async_trait]
impl ResourceProvider for SecurityGroupProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let name = get_str(inputs, "name")
            .ok_or_else(|| ProviderError::invalid(&resource, "name is required"))?;
        let sdk = self.clients.get().await?;
        let mut tags = get_tags(inputs, "tags");
        tags.insert(URN_TAG.to_string(), ctx.urn.clone());
        let spec = TagSpecification::builder()
            .resource_type(Ec2ResourceType::SecurityGroup)
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| Tag::builder().key(k).value(v).build())
                    .collect(),
            ))
            .build();
        let out = sdk
            .ec2
            .create_security_group()
            .group_name(name)
            .description(get_str(inputs, "description").unwrap_or(DEFAULT_DESCRIPTION))
            .set_vpc_id(get_str(inputs, "vpcId").map(str::to_string))
            .tag_specifications(spec)
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            // Our own earlier attempt whose answer was lost (the SDK retried),
            // or somebody else's group: adopt it only if it is ours.
            Err(e) if error_code(&e) == Some("InvalidGroup.Duplicate") => {
                let found = self.find_by_name(&resource, name, inputs).await?;
                let Some((sg, id)) =
                    found.and_then(|sg| sg.group_id().map(str::to_string).map(|id| (sg, id)))
                else {
                    return Err(api_error(&resource, "ec2:CreateSecurityGroup", e, &[]));
                };
                let ours = sg
                    .tags()
                    .iter()
                    .any(|t| t.key() == Some(URN_TAG) && t.value() == Some(ctx.urn.as_str()));
                if !ours {
                    return Err(api_failure(
                        &resource,
                        "ec2:CreateSecurityGroup",
                        "InvalidGroup.Duplicate",
                        format!(
                            "the security group {name} ({id}) already exists and was not made by this \
                             resource (it lacks the tag {URN_TAG}={}): choose another name, delete \
                             that group, or import it",
                            ctx.urn
                        ),
                    ));
                }
                ctx.report("adopting the security group (it carries this resource's tag)");
                let sg = self.sync_all(&resource, &id, inputs).await?;
                return Ok(Created {
                    id,
                    outputs: outputs(&sg),
                });
            }
            Err(e) => return Err(api_error(&resource, "ec2:CreateSecurityGroup", e, &[])),
        };
        let id = out
            .group_id()
            .ok_or_else(|| missing(&resource, "ec2:CreateSecurityGroup", "group id"))?
            .to_string();
        crate::util::note_created(&id);
        // A new group may not be visible yet: wait until it is.
        crate::util::read_after_create(ctx, &id, || self.describe(&resource, &id)).await?;
        let sg = crate::util::retry_not_found(ctx, crate::util::PROPAGATION, || {
            self.sync_all(&resource, &id, inputs)
        })
        .await?;
        Ok(Created {
            id,
            outputs: outputs(&sg),
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
        let Some(sg) = found else {
            return Ok(None);
        };
        Ok(Some(observe(id, &sg, inputs)))
    }

    fn read_batch_limit(&self) -> Option<usize> {
        Some(EC2_FILTER_VALUES_MAX)
    }

    /// One `DescribeSecurityGroups` per batch, filtered by `group-id`, paginated.
    async fn read_many(
        &self,
        reqs: &[ReadRequest],
    ) -> Result<BTreeMap<String, Observed>, ProviderError> {
        let resource = batch_label(reqs, TOKEN);
        let sdk = self.clients.get().await?;
        let (ec2, resource) = (&sdk.ec2, resource.as_str());
        let page = |filter, next: Option<String>| async move {
            let out = ec2
                .describe_security_groups()
                .filters(filter)
                .max_results(1000)
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| api_error(resource, "ec2:DescribeSecurityGroups", e, &[]))?;
            Ok::<_, ProviderError>((
                out.security_groups().to_vec(),
                out.next_token().map(str::to_string),
            ))
        };
        super::batch::read_many(self, reqs, "group-id", SgModel::group_id, page, |r, sg| {
            observe(&r.id, sg, &r.inputs)
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
        self.sync_all(&resource, id, new).await?;
        if old.get("tags") != new.get("tags") {
            let (set, gone) = tag_diff(&get_tags(old, "tags"), &get_tags(new, "tags"));
            if !set.is_empty() {
                sdk.ec2
                    .create_tags()
                    .resources(id)
                    .set_tags(Some(
                        set.iter()
                            .map(|(k, v)| Tag::builder().key(k).value(v).build())
                            .collect(),
                    ))
                    .send()
                    .await
                    .map_err(|e| api_error(&resource, "ec2:CreateTags", e, &[]))?;
            }
            if !gone.is_empty() {
                sdk.ec2
                    .delete_tags()
                    .resources(id)
                    .set_tags(Some(
                        gone.iter().map(|k| Tag::builder().key(k).build()).collect(),
                    ))
                    .send()
                    .await
                    .map_err(|e| api_error(&resource, "ec2:DeleteTags", e, &[]))?;
            }
        }
        let sg = self
            .describe(&resource, id)
            .await?
            .ok_or_else(|| missing(&resource, "ec2:DescribeSecurityGroups", "security group"))?;
        Ok(outputs(&sg))
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
            match sdk.ec2.delete_security_group().group_id(id).send().await {
                Ok(_) => return Ok(()),
                Err(e) if is_not_found(&e) => return Ok(()),
                // Network interfaces of a just-deleted cache cluster linger.
                Err(e)
                    if error_code(&e) == Some("DependencyViolation")
                        && start.elapsed() < deadline =>
                {
                    ctx.report(&format!(
                        "still in use; retrying ({}s)",
                        start.elapsed().as_secs()
                    ));
                    tokio::time::sleep(delay.min(deadline.saturating_sub(start.elapsed()))).await;
                    delay = (delay * 2).min(poll.max);
                }
                Err(e) => return Err(api_error(&resource, "ec2:DeleteSecurityGroup", e, &[])),
            }
        }
    }

    async fn recover(
        &self,
        ctx: &CallContext,
        inputs: &Map,
    ) -> Result<Option<Created>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let Some(name) = get_str(inputs, "name") else {
            return Ok(None);
        };
        let Some(sg) = self.find_by_name(&resource, name, inputs).await? else {
            return Ok(None);
        };
        let Some(id) = sg.group_id() else {
            return Ok(None);
        };
        let tags: BTreeMap<String, String> = sg
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
            .collect();
        ensure_ours(ctx, &resource, id, Some(&tags))?;
        // Finish what the interrupted create may not have done.
        let sg = self.sync_all(&resource, id, inputs).await?;
        Ok(Some(Created {
            id: id.to_string(),
            outputs: outputs(&sg),
        }))
    }
}
