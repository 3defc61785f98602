//! `aws:ec2:SecurityGroupRule`: one ingress or egress rule of a security
//! group, from CIDR blocks or from another group (Pulumi's
//! `aws.ec2.SecurityGroupRule`). EC2 makes one rule, with its own id
//! (`sgr-…`), per source: the resource's id is that id, or the ids joined
//! by `,` in `cidrBlocks` order. Import also takes Terraform's id
//! (`sg-…_ingress_tcp_6379_6379_10.0.10.0/24`). Only `description` changes
//! in place; everything else replaces, as in EC2.
//!
//! Rules carry tags: each is made with `cairn:urn`, and after a lost answer
//! (`InvalidPermission.Duplicate` on retry, or recovery) only rules tagged
//! for this resource are adopted; an identical rule without that tag is
//! refused.

use super::security_group::normalize_protocol;
use super::vpc::{all_tags, rules as net_rules, tag_spec, Cidr};
use crate::clients::Shared;
use crate::util::{
    api_error, api_failure, batch_label, concrete_str, error_code, get_i64, get_str, get_str_list,
    not_owned, order_like, owner_of, resource_label, str_list_value, EC2_FILTER_VALUES_MAX,
    URN_TAG,
};
use async_trait::async_trait;
use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, ResourceType as Ec2ResourceType, SecurityGroupRule as RuleModel,
    UserIdGroupPair,
};
use cairn_core::dsl::{DeclaredType, Input, Output, Outputs, Resource};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, ProviderError, ReadRequest, ResourceProvider,
    StackView,
};
use cairn_core::schema::{PropType, ResourceSchema};
use cairn_core::value::{Map, PropertyPath, Value};
use serde::Serialize;
use std::collections::BTreeMap;

pub const TOKEN: &str = "aws:ec2:SecurityGroupRule";

pub mod rules {
    pub const PROTOCOL: &str = "aws::ec2::sg-rule-protocol";
    pub const PORTS: &str = "aws::ec2::sg-rule-ports";
    pub const SOURCE: &str = "aws::ec2::sg-rule-source";
    pub const DESCRIPTION: &str = "aws::ec2::sg-rule-description";
    pub const INLINE_CONFLICT: &str = "aws::ec2::sg-rule-inline-conflict";
}

pub struct SecurityGroupRule;

/// One security group rule: traffic from (ingress) or to (egress) CIDR blocks or another group.
#[derive(Serialize, Clone, Debug, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(token = "aws:ec2:SecurityGroupRule", kind = SecurityGroupRule, outputs = SecurityGroupRuleOutputs)]
pub struct SecurityGroupRuleArgs {
    /// `ingress` (inbound) or `egress` (outbound).
    #[prop(replaces, ty = PropType::one_of(&["ingress", "egress"]))]
    pub r#type: Input<String>,
    /// The group the rule belongs to (sg-...).
    #[prop(replaces)]
    pub security_group_id: Input<String>,
    /// `tcp`, `udp`, `icmp`, `icmpv6`, a protocol number, or `-1` (`all`) for all.
    #[prop(replaces)]
    pub protocol: Input<String>,
    /// First port (the ICMP type for icmp; ignored for `-1`).
    #[prop(replaces, ty = PropType::int_range(-1, 65535))]
    pub from_port: Input<i64>,
    /// Last port (the ICMP code for icmp; ignored for `-1`).
    #[prop(replaces, ty = PropType::int_range(-1, 65535))]
    pub to_port: Input<i64>,
    /// IPv4 sources (ingress) or destinations (egress). Exactly one of this and sourceSecurityGroupId.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(replaces)]
    pub cidr_blocks: Option<Vec<Input<String>>>,
    /// The group whose members are the source (ingress) or destination (egress).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(replaces)]
    pub source_security_group_id: Option<Input<String>>,
    /// Description (changes in place).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(ty = PropType::String { min_len: None, max_len: Some(255) })]
    pub description: Option<Input<String>>,
}

#[derive(Outputs)]
pub struct SecurityGroupRuleOutputs {
    /// The rule ids (sgr-...), joined by `,` when the rule has several CIDR blocks.
    pub id: Output<String>,
    /// The rule's id when it has one source (the first one's otherwise).
    pub security_group_rule_id: Output<String>,
}

// ---------------------------------------------------------------- the rule

/// What a rule is, as EC2 matches it (the description aside).
#[derive(Clone, Debug, PartialEq)]
struct Spec {
    egress: bool,
    group: String,
    protocol: String,
    from: i64,
    to: i64,
    /// CIDR blocks, or the one source group.
    cidrs: Vec<String>,
    source_group: Option<String>,
    description: Option<String>,
}

impl Spec {
    fn of(inputs: &Map) -> Option<Spec> {
        Some(Spec {
            egress: get_str(inputs, "type")? == "egress",
            group: get_str(inputs, "securityGroupId")?.to_string(),
            protocol: normalize_protocol(get_str(inputs, "protocol")?),
            from: get_i64(inputs, "fromPort").unwrap_or(0),
            to: get_i64(inputs, "toPort").unwrap_or(0),
            cidrs: get_str_list(inputs, "cidrBlocks"),
            source_group: get_str(inputs, "sourceSecurityGroupId").map(str::to_string),
            description: get_str(inputs, "description")
                .filter(|d| !d.is_empty())
                .map(str::to_string),
        })
    }

    /// The sources in stack order: one EC2 rule each.
    fn sources(&self) -> Vec<String> {
        match &self.source_group {
            Some(g) => vec![g.clone()],
            None => self.cidrs.clone(),
        }
    }

    fn all_ports(&self) -> bool {
        self.protocol == "-1"
    }

    fn permission(&self, description: Option<&str>) -> IpPermission {
        let mut b = IpPermission::builder().ip_protocol(&self.protocol);
        if !self.all_ports() {
            b = b.from_port(self.from as i32).to_port(self.to as i32);
        }
        let d = description.map(str::to_string);
        match &self.source_group {
            Some(g) => b.user_id_group_pairs(
                UserIdGroupPair::builder()
                    .group_id(g)
                    .set_description(d)
                    .build(),
            ),
            None => b.set_ip_ranges(Some(
                self.cidrs
                    .iter()
                    .map(|c| {
                        IpRange::builder()
                            .cidr_ip(c)
                            .set_description(d.clone())
                            .build()
                    })
                    .collect(),
            )),
        }
        .build()
    }

    /// The source of a live rule when it is one of this spec's rules.
    fn source_of(&self, r: &RuleModel) -> Option<String> {
        let same = r.is_egress() == Some(self.egress)
            && r.group_id() == Some(self.group.as_str())
            && normalize_protocol(r.ip_protocol().unwrap_or("-1")) == self.protocol
            && (self.all_ports()
                || (r.from_port().map(i64::from) == Some(self.from)
                    && r.to_port().map(i64::from) == Some(self.to)));
        if !same {
            return None;
        }
        let source = match (
            r.cidr_ipv4(),
            r.referenced_group_info().and_then(|g| g.group_id()),
        ) {
            (Some(c), _) => c.to_string(),
            (None, Some(g)) => g.to_string(),
            _ => return None,
        };
        self.sources().contains(&source).then_some(source)
    }
}

/// Terraform's import id `sg-…_ingress_tcp_6379_6379_<source>[_<source>…]`
/// as a spec (the description unknown).
fn parse_terraform_id(id: &str) -> Option<Spec> {
    let parts: Vec<&str> = id.split('_').collect();
    if parts.len() < 6 || !parts[0].starts_with("sg-") {
        return None;
    }
    let egress = match parts[1] {
        "ingress" => false,
        "egress" => true,
        _ => return None,
    };
    let sources: Vec<String> = parts[5..].iter().map(|s| s.to_string()).collect();
    let group_source = sources.len() == 1 && sources[0].starts_with("sg-");
    Some(Spec {
        egress,
        group: parts[0].to_string(),
        protocol: normalize_protocol(parts[2]),
        from: parts[3].parse().ok()?,
        to: parts[4].parse().ok()?,
        cidrs: if group_source {
            vec![]
        } else {
            sources.clone()
        },
        source_group: group_source.then(|| sources[0].clone()),
        description: None,
    })
}

fn outputs(ids: &[String]) -> Map {
    let mut m = Map::new();
    m.insert("id".into(), ids.join(",").into());
    m.insert(
        "securityGroupRuleId".into(),
        ids.first().cloned().unwrap_or_default().into(),
    );
    m
}

/// What a read reports for a resource whose live rules are `live` (in the
/// order of its ids; none: gone), single and batched reads alike.
fn observe(live: &[RuleModel], inputs: &Map) -> Option<Observed> {
    let first = live.first()?;
    let protocol = normalize_protocol(first.ip_protocol().unwrap_or("-1"));
    let mut obs = Map::new();
    let egress = first.is_egress().unwrap_or(false);
    obs.insert(
        "type".into(),
        if egress { "egress" } else { "ingress" }.into(),
    );
    obs.insert(
        "securityGroupId".into(),
        first.group_id().unwrap_or_default().into(),
    );
    // The stack's spelling when it means the same protocol (`6` for tcp, `all` for -1).
    let stack_protocol = get_str(inputs, "protocol")
        .filter(|p| normalize_protocol(p) == protocol)
        .map(str::to_string);
    obs.insert(
        "protocol".into(),
        stack_protocol.unwrap_or_else(|| protocol.clone()).into(),
    );
    for (key, live_port) in [("fromPort", first.from_port()), ("toPort", first.to_port())] {
        // EC2 reports -1 for all protocols, whatever was sent: echo the stack.
        let v = if protocol == "-1" {
            get_i64(inputs, key).unwrap_or(0)
        } else {
            live_port.map(i64::from).unwrap_or(0)
        };
        obs.insert(key.into(), Value::Int(v));
    }
    let cidrs: Vec<String> = live
        .iter()
        .filter_map(|r| r.cidr_ipv4().map(str::to_string))
        .collect();
    let group = live
        .iter()
        .find_map(|r| r.referenced_group_info().and_then(|g| g.group_id()));
    if let Some(g) = group {
        obs.insert("sourceSecurityGroupId".into(), g.into());
    } else {
        let cidrs = order_like(&cidrs, &get_str_list(inputs, "cidrBlocks"));
        obs.insert("cidrBlocks".into(), str_list_value(&cidrs));
    }
    let description = first.description().filter(|d| !d.is_empty());
    if let Some(d) = description {
        obs.insert("description".into(), d.into());
    } else if inputs.contains_key("description") {
        obs.insert("description".into(), "".into());
    }
    // Ids in the stack's order of sources (a Terraform id becomes the rule ids).
    let mut ids: Vec<String> = Vec::new();
    let order: Vec<String> = get_str_list(&obs, "cidrBlocks");
    for c in &order {
        if let Some(r) = live.iter().find(|r| r.cidr_ipv4() == Some(c.as_str())) {
            ids.extend(r.security_group_rule_id().map(str::to_string));
        }
    }
    if ids.is_empty() {
        ids = live
            .iter()
            .filter_map(|r| r.security_group_rule_id().map(str::to_string))
            .collect();
    }
    Some(Observed {
        id: ids.join(","),
        inputs: obs,
        outputs: outputs(&ids),
    })
}

fn not_found(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "InvalidSecurityGroupRuleId.NotFound"
                | "InvalidGroup.NotFound"
                | "InvalidGroupId.NotFound"
                | "InvalidPermission.NotFound"
        )
    )
}

/// AWS's characters for a rule description.
fn description_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(c)
}

// ---------------------------------------------------------------- provider

pub struct SecurityGroupRuleProvider {
    schema: ResourceSchema,
    clients: Shared,
}

impl SecurityGroupRuleProvider {
    pub fn new(clients: Shared) -> Self {
        SecurityGroupRuleProvider {
            schema: SecurityGroupRule::schema(),
            clients,
        }
    }

    /// Every rule of `group` (none when the group is gone).
    async fn rules_of_group(
        &self,
        resource: &str,
        group: &str,
    ) -> Result<Vec<RuleModel>, ProviderError> {
        let sdk = self.clients.get().await?;
        match sdk
            .ec2
            .describe_security_group_rules()
            .filters(Filter::builder().name("group-id").values(group).build())
            .send()
            .await
        {
            Ok(out) => Ok(out.security_group_rules().to_vec()),
            Err(e) if not_found(error_code(&e)) => Ok(Vec::new()),
            Err(e) => Err(api_error(
                resource,
                "ec2:DescribeSecurityGroupRules",
                e,
                &[],
            )),
        }
    }

    /// The live rules with these ids (those still there).
    async fn rules_by_id(
        &self,
        resource: &str,
        ids: &[&str],
    ) -> Result<Vec<RuleModel>, ProviderError> {
        let sdk = self.clients.get().await?;
        let mut out = Vec::new();
        for id in ids {
            match sdk
                .ec2
                .describe_security_group_rules()
                .security_group_rule_ids(*id)
                .send()
                .await
            {
                Ok(o) => out.extend(o.security_group_rules().iter().cloned()),
                Err(e) if not_found(error_code(&e)) => {}
                Err(e) => {
                    return Err(api_error(
                        resource,
                        "ec2:DescribeSecurityGroupRules",
                        e,
                        &[],
                    ))
                }
            }
        }
        Ok(out)
    }

    /// This spec's live rules as (source, rule), in stack order.
    async fn matching(
        &self,
        resource: &str,
        spec: &Spec,
    ) -> Result<Vec<(String, RuleModel)>, ProviderError> {
        let live = self.rules_of_group(resource, &spec.group).await?;
        let mut out: Vec<(String, RuleModel)> = Vec::new();
        for source in spec.sources() {
            if let Some(r) = live
                .iter()
                .find(|r| spec.source_of(r).as_deref() == Some(source.as_str()))
            {
                out.push((source, r.clone()));
            }
        }
        Ok(out)
    }

    /// Adopts the spec's live rules if every one carries this resource's
    /// tag; refuses (naming what it carries) the first that does not.
    fn adopt(
        ctx: &CallContext,
        resource: &str,
        found: &[(String, RuleModel)],
    ) -> Result<Option<Created>, ProviderError> {
        if found.is_empty() {
            return Ok(None);
        }
        for (source, r) in found {
            let tags = all_tags(r.tags());
            if tags.get(URN_TAG) != Some(&ctx.urn) {
                let id = r.security_group_rule_id().unwrap_or(source);
                return Err(not_owned(ctx, resource, id, owner_of(&tags)));
            }
        }
        ctx.report("adopting the security group rule (it carries this resource's tag)");
        let ids: Vec<String> = found
            .iter()
            .filter_map(|(_, r)| r.security_group_rule_id().map(str::to_string))
            .collect();
        Ok(Some(Created {
            id: ids.join(","),
            outputs: outputs(&ids),
        }))
    }

    async fn authorize(
        &self,
        ctx: &CallContext,
        resource: &str,
        spec: &Spec,
    ) -> Result<Vec<RuleModel>, ProviderError> {
        let sdk = self.clients.get().await?;
        let perm = spec.permission(spec.description.as_deref());
        let tags = tag_spec(ctx, &Map::new(), Ec2ResourceType::SecurityGroupRule);
        if spec.egress {
            sdk.ec2
                .authorize_security_group_egress()
                .group_id(&spec.group)
                .ip_permissions(perm)
                .tag_specifications(tags)
                .send()
                .await
                .map(|o| o.security_group_rules().to_vec())
                .map_err(|e| api_error(resource, "ec2:AuthorizeSecurityGroupEgress", e, &[]))
        } else {
            sdk.ec2
                .authorize_security_group_ingress()
                .group_id(&spec.group)
                .ip_permissions(perm)
                .tag_specifications(tags)
                .send()
                .await
                .map(|o| o.security_group_rules().to_vec())
                .map_err(|e| api_error(resource, "ec2:AuthorizeSecurityGroupIngress", e, &[]))
        }
    }
}

#[async_trait]
impl ResourceProvider for SecurityGroupRuleProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        let mut out = Vec::new();
        let protocol = concrete_str(inputs, "protocol").map(normalize_protocol);
        if let Some(p) = &protocol {
            let known = ["tcp", "udp", "icmp", "icmpv6", "-1"].contains(&p.as_str())
                || p.parse::<u8>().is_ok();
            if !known {
                out.push(
                    CheckFailure::error(
                        rules::PROTOCOL,
                        PropertyPath::key("protocol"),
                        format!("`{p}` is not a protocol EC2 knows"),
                    )
                    .with_help(
                        "use tcp, udp, icmp, icmpv6, a protocol number (0-255), or -1 for all",
                    ),
                );
            }
        }
        let (from, to) = (get_i64(inputs, "fromPort"), get_i64(inputs, "toPort"));
        if let (Some(p), Some(from), Some(to)) = (&protocol, from, to) {
            let (lo, hi, what) = match p.as_str() {
                "tcp" | "udp" => (0, 65535, "ports"),
                "icmp" | "icmpv6" => (-1, 255, "ICMP type and code"),
                _ => (i64::MIN, i64::MAX, ""),
            };
            let bad = if !(lo..=hi).contains(&from) || !(lo..=hi).contains(&to) {
                Some(format!(
                    "{p} {what} must be between {lo} and {hi}; got {from} to {to}"
                ))
            } else if what == "ports" && from > to {
                Some(format!("fromPort {from} is above toPort {to}"))
            } else {
                None
            };
            if let Some(message) = bad {
                out.push(
                    CheckFailure::error(rules::PORTS, PropertyPath::key("fromPort"), message)
                        .with_help("e.g. fromPort: 6379, toPort: 6379 for one TCP port"),
                );
            }
        }
        let has = |k: &str| inputs.get(k).is_some_and(|v| !matches!(v, Value::Null));
        match (has("cidrBlocks"), has("sourceSecurityGroupId")) {
            (true, true) | (false, false) => out.push(
                CheckFailure::error(
                    rules::SOURCE,
                    PropertyPath::key(if has("cidrBlocks") {
                        "sourceSecurityGroupId"
                    } else {
                        "cidrBlocks"
                    }),
                    "a security group rule needs exactly one of cidrBlocks and sourceSecurityGroupId",
                )
                .with_help("use two rules to admit both CIDR blocks and a group"),
            ),
            _ => {}
        }
        if let Some(list) = inputs.get("cidrBlocks").and_then(Value::as_list) {
            if list.is_empty() {
                out.push(
                    CheckFailure::error(
                        rules::SOURCE,
                        PropertyPath::key("cidrBlocks"),
                        "cidrBlocks is empty: the rule would admit nothing",
                    )
                    .with_help("list at least one CIDR block, or use sourceSecurityGroupId"),
                );
            }
            for (i, v) in list.iter().enumerate() {
                let Some(c) = v.as_str().filter(|s| !crate::util::is_unresolved(s)) else {
                    continue;
                };
                if let Err(why) = Cidr::parse(c) {
                    out.push(
                        CheckFailure::error(
                            net_rules::CIDR,
                            PropertyPath::key("cidrBlocks").index(i),
                            why,
                        )
                        .with_help(
                            "write an IPv4 network address and prefix length, e.g. `10.0.10.0/24`",
                        ),
                    );
                }
            }
        }
        if let Some(d) = concrete_str(inputs, "description") {
            if let Some(bad) = crate::util::disallowed_chars(d, description_char) {
                out.push(
                    CheckFailure::error(
                        rules::DESCRIPTION,
                        PropertyPath::key("description"),
                        format!("the description contains {bad}, which EC2 does not allow"),
                    )
                    .with_help("use letters, digits, spaces and ._-:/()#,@[]+=&;{}!$*"),
                );
            }
        }
        out
    }

    /// A group of this stack that lists its rules of that direction inline
    /// owns all of them: it would revoke this rule on its next update (and
    /// see it as drift), so the two cannot be mixed (as in Terraform).
    fn check_in_stack(
        &self,
        _name: &str,
        inputs: &Map,
        stack: &dyn StackView,
    ) -> Vec<CheckFailure> {
        let (Some(group), Some(kind)) =
            (get_str(inputs, "securityGroupId"), get_str(inputs, "type"))
        else {
            return Vec::new();
        };
        let Some(g) = stack
            .referenced(group)
            .filter(|g| g.type_token == super::security_group::TOKEN)
        else {
            return Vec::new();
        };
        if !g.inputs.contains_key(kind) {
            return Vec::new();
        }
        vec![CheckFailure::error(
            rules::INLINE_CONFLICT,
            PropertyPath::key("securityGroupId"),
            format!(
                "security group `{}` lists its {kind} rules inline, so it owns all of them: it would revoke this rule",
                g.name
            ),
        )
        .with_help(format!(
            "move this rule into `{}`'s `{kind}` list, or move that list's rules into aws:ec2:SecurityGroupRule resources",
            g.name
        ))]
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let spec = Spec::of(inputs).ok_or_else(|| {
            ProviderError::invalid(&resource, "type, securityGroupId and protocol are required")
        })?;
        // A group made just before may not be visible yet.
        let made = crate::util::retry_not_found(ctx, crate::util::PROPAGATION, || {
            self.authorize(ctx, &resource, &spec)
        })
        .await;
        let made = match made {
            Ok(made) => made,
            // Our own lost attempt (the SDK retried), or somebody else's rule.
            Err(ProviderError::Api { code, .. }) if code == "InvalidPermission.Duplicate" => {
                let found = self.matching(&resource, &spec).await?;
                return match Self::adopt(ctx, &resource, &found)? {
                    Some(c) => Ok(c),
                    None => Err(api_failure(
                        &resource,
                        "ec2:AuthorizeSecurityGroupIngress",
                        "InvalidPermission.Duplicate",
                        "the rule already exists but could not be found",
                    )),
                };
            }
            Err(e) => return Err(e),
        };
        // In stack order (one rule per source).
        let mut ids = Vec::new();
        for source in spec.sources() {
            if let Some(r) = made
                .iter()
                .find(|r| spec.source_of(r).as_deref() == Some(source.as_str()))
            {
                ids.extend(r.security_group_rule_id().map(str::to_string));
            }
        }
        if ids.len() != spec.sources().len() {
            let found = self.matching(&resource, &spec).await?;
            ids = found
                .iter()
                .filter_map(|(_, r)| r.security_group_rule_id().map(str::to_string))
                .collect();
        }
        if ids.is_empty() {
            return Err(crate::util::missing(
                &resource,
                "ec2:AuthorizeSecurityGroupIngress",
                "security group rule ids",
            ));
        }
        Ok(Created {
            id: ids.join(","),
            outputs: outputs(&ids),
        })
    }

    async fn read(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let live: Vec<RuleModel> = if id.starts_with("sgr-") {
            let ids: Vec<&str> = id.split(',').map(str::trim).collect();
            self.rules_by_id(&resource, &ids).await?
        } else if let Some(spec) = parse_terraform_id(id) {
            self.matching(&resource, &spec)
                .await?
                .into_iter()
                .map(|(_, r)| r)
                .collect()
        } else {
            return Err(ProviderError::invalid(
                &resource,
                format!("`{id}` is not a security group rule id: expected `sgr-…` (several joined by `,`) or Terraform's `sg-…_ingress_tcp_6379_6379_10.0.0.0/16`"),
            ));
        };
        Ok(observe(&live, inputs))
    }

    fn read_batch_limit(&self) -> Option<usize> {
        Some(EC2_FILTER_VALUES_MAX)
    }

    /// `DescribeSecurityGroupRules` filtered by `security-group-rule-id`
    /// for every rule id of the batch (at most 200 ids a call, paginated),
    /// where a single read makes one call per rule id. A Terraform-style id
    /// (an import) is read singly.
    async fn read_many(
        &self,
        reqs: &[ReadRequest],
    ) -> Result<BTreeMap<String, Observed>, ProviderError> {
        let resource = batch_label(reqs, TOKEN);
        let sdk = self.clients.get().await?;
        let rule_ids = |r: &ReadRequest| -> Vec<String> {
            r.id.split(',').map(|i| i.trim().to_string()).collect()
        };
        let (by_rule, single): (Vec<&ReadRequest>, Vec<&ReadRequest>) =
            reqs.iter().partition(|r| r.id.starts_with("sgr-"));
        let ids: Vec<String> = by_rule.iter().flat_map(|r| rule_ids(r)).collect();
        let (ec2, resource) = (&sdk.ec2, resource.as_str());
        let page = |filter, next: Option<String>| async move {
            let out = ec2
                .describe_security_group_rules()
                .filters(filter)
                .max_results(1000)
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| api_error(resource, "ec2:DescribeSecurityGroupRules", e, &[]))?;
            Ok::<_, ProviderError>((
                out.security_group_rules().to_vec(),
                out.next_token().map(str::to_string),
            ))
        };
        let live = super::batch::describe_by_ids(
            ids.iter().map(String::as_str),
            "security-group-rule-id",
            RuleModel::security_group_rule_id,
            page,
        )
        .await?;
        let mut found = BTreeMap::new();
        for r in by_rule {
            let rules: Vec<RuleModel> = rule_ids(r)
                .iter()
                .filter_map(|i| live.get(i).cloned())
                .collect();
            if let Some(o) = observe(&rules, &r.inputs) {
                found.insert(r.id.clone(), o);
            }
        }
        for r in single {
            if let Some(o) = self.read(&r.ctx, &r.id, &r.inputs).await? {
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
        old_outputs: &Map,
    ) -> Result<Map, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let spec = Spec::of(new).ok_or_else(|| {
            ProviderError::invalid(&resource, "type, securityGroupId and protocol are required")
        })?;
        let sdk = self.clients.get().await?;
        // Only the description changes in place; EC2 clears it when empty.
        let perm = spec.permission(Some(spec.description.as_deref().unwrap_or("")));
        if spec.egress {
            sdk.ec2
                .update_security_group_rule_descriptions_egress()
                .group_id(&spec.group)
                .ip_permissions(perm)
                .send()
                .await
                .map_err(|e| {
                    api_error(
                        &resource,
                        "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
                        e,
                        &[],
                    )
                })?;
        } else {
            sdk.ec2
                .update_security_group_rule_descriptions_ingress()
                .group_id(&spec.group)
                .ip_permissions(perm)
                .send()
                .await
                .map_err(|e| {
                    api_error(
                        &resource,
                        "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
                        e,
                        &[],
                    )
                })?;
        }
        let mut out = old_outputs.clone();
        if out.is_empty() {
            out = outputs(&id.split(',').map(str::to_string).collect::<Vec<_>>());
        }
        Ok(out)
    }

    async fn delete(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
        _outputs: &Map,
    ) -> Result<(), ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let sdk = self.clients.get().await?;
        let ids: Vec<&str> = id.split(',').map(str::trim).collect();
        // The group and direction: from the live rules (the stack's as a fallback).
        let live = self.rules_by_id(&resource, &ids).await?;
        for r in &live {
            let (Some(rule), Some(group)) = (r.security_group_rule_id(), r.group_id()) else {
                continue;
            };
            let egress = r
                .is_egress()
                .unwrap_or(get_str(inputs, "type") == Some("egress"));
            let res = if egress {
                match sdk
                    .ec2
                    .revoke_security_group_egress()
                    .group_id(group)
                    .security_group_rule_ids(rule)
                    .send()
                    .await
                {
                    Err(e) if !not_found(error_code(&e)) => Err(api_error(
                        &resource,
                        "ec2:RevokeSecurityGroupEgress",
                        e,
                        &[],
                    )),
                    _ => Ok(()),
                }
            } else {
                match sdk
                    .ec2
                    .revoke_security_group_ingress()
                    .group_id(group)
                    .security_group_rule_ids(rule)
                    .send()
                    .await
                {
                    Err(e) if !not_found(error_code(&e)) => Err(api_error(
                        &resource,
                        "ec2:RevokeSecurityGroupIngress",
                        e,
                        &[],
                    )),
                    _ => Ok(()),
                }
            };
            res?;
        }
        Ok(())
    }

    async fn recover(
        &self,
        ctx: &CallContext,
        inputs: &Map,
    ) -> Result<Option<Created>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let Some(spec) = Spec::of(inputs) else {
            return Ok(None);
        };
        let found = self.matching(&resource, &spec).await?;
        Self::adopt(ctx, &resource, &found)
    }
}
