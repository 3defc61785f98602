//! `aws:rds:SubnetGroup`: a DB subnet group (Pulumi's `aws.rds.SubnetGroup`).
//! RDS stores the name lower case: cairn sends and compares it that way and
//! warns at preview about upper-case letters. `subnetIds` and `description`
//! change in place (ModifyDBSubnetGroup). RDS wants subnets in at least two
//! Availability Zones of one VPC: preview checks it when the subnets are
//! this stack's with literal zones, else it is RDS's answer at apply
//! (`DBSubnetGroupDoesNotCoverEnoughAZs`); preview also checks the name. A create that finds the group
//! already there (its own lost attempt, retried) adopts it only when it
//! carries this resource's `cairn:urn` tag.

use crate::clients::Shared;
use crate::util::{
    api_error, api_failure, concrete_str, ensure_ours, error_code, get_str, get_str_list, get_tags,
    order_like, resource_label, str_list_value, tags_value, URN_TAG,
};
use async_trait::async_trait;
use aws_sdk_rds::types::DbSubnetGroup;
use cairn_core::dsl::{DeclaredType, Input, Output, Outputs, Resource};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, ProviderError, ResourceProvider, StackView,
};
use cairn_core::schema::{PropType, ResourceSchema};
use cairn_core::value::{Map, PropertyPath, Value};
use serde::Serialize;
use std::collections::BTreeMap;

pub const TOKEN: &str = "aws:rds:SubnetGroup";
const DEFAULT_DESCRIPTION: &str = "Managed by cairn";

pub mod rules {
    pub const NAME: &str = "aws::rds::subnet-group-name";
    pub const LOWER_CASE_NAME: &str = "aws::rds::name-stored-lower-case";
    pub const SUBNETS: &str = "aws::rds::subnet-group-subnets";
    pub const ZONES: &str = "aws::rds::subnet-group-zones";
}

pub struct SubnetGroup;

/// An RDS DB subnet group.
#[derive(Serialize, Clone, Debug, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(token = "aws:rds:SubnetGroup", kind = SubnetGroup, outputs = SubnetGroupOutputs, fixed_name)]
pub struct SubnetGroupArgs {
    /// Group name: letters, digits, spaces, `.`, `_` and `-`; stored lower case; not `default`.
    #[prop(replaces, ty = PropType::String { min_len: Some(1), max_len: Some(255) })]
    pub name: Input<String>,
    /// Description (changes in place).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(default = DEFAULT_DESCRIPTION)]
    pub description: Option<Input<String>>,
    /// VPC subnet ids, in at least two Availability Zones (changes in place).
    pub subnet_ids: Vec<Input<String>>,
    /// Tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Input<String>>>,
}

#[derive(Outputs)]
pub struct SubnetGroupOutputs {
    /// The group's name (lower case).
    pub id: Output<String>,
    /// The group's ARN.
    pub arn: Output<String>,
    /// The group's name (lower case).
    pub name: Output<String>,
    /// The subnets' VPC.
    pub vpc_id: Output<String>,
}

fn outputs_of(g: &DbSubnetGroup, name: &str) -> Map {
    let name = g.db_subnet_group_name().unwrap_or(name);
    let mut out = Map::new();
    out.insert("id".into(), name.into());
    out.insert("name".into(), name.into());
    out.insert(
        "arn".into(),
        g.db_subnet_group_arn().unwrap_or_default().into(),
    );
    out.insert("vpcId".into(), g.vpc_id().unwrap_or_default().into());
    out
}

fn not_found(code: Option<&str>) -> bool {
    matches!(code, Some("DBSubnetGroupNotFoundFault"))
}

pub struct SubnetGroupProvider {
    schema: ResourceSchema,
    clients: Shared,
}

impl SubnetGroupProvider {
    pub fn new(clients: Shared) -> Self {
        SubnetGroupProvider {
            schema: SubnetGroup::schema(),
            clients,
        }
    }

    async fn describe(
        &self,
        resource: &str,
        name: &str,
    ) -> Result<Option<DbSubnetGroup>, ProviderError> {
        let sdk = self.clients.get().await?;
        match sdk
            .rds
            .describe_db_subnet_groups()
            .db_subnet_group_name(name)
            .send()
            .await
        {
            Ok(out) => Ok(out.db_subnet_groups().first().cloned()),
            Err(e) if not_found(error_code(&e)) => Ok(None),
            Err(e) => Err(api_error(resource, "rds:DescribeDBSubnetGroups", e, &[])),
        }
    }

    /// Adopts the existing group `name` when it carries this resource's tag.
    async fn adopt(
        &self,
        ctx: &CallContext,
        resource: &str,
        name: &str,
    ) -> Result<Option<Created>, ProviderError> {
        let Some(g) = self.describe(resource, name).await? else {
            return Ok(None);
        };
        let tags = match g.db_subnet_group_arn() {
            Some(arn) => {
                Some(super::tags::tags_of(&self.clients.get().await?.rds, resource, arn).await?)
            }
            None => None,
        };
        ensure_ours(ctx, resource, name, tags.as_ref())?;
        ctx.report("adopting the DB subnet group (it carries this resource's tag)");
        Ok(Some(Created {
            id: name.to_string(),
            outputs: outputs_of(&g, name),
        }))
    }
}

#[async_trait]
impl ResourceProvider for SubnetGroupProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        let mut out = Vec::new();
        if let Some(name) = concrete_str(inputs, "name") {
            let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-');
            if let Some(bad) = crate::util::disallowed_chars(name, allowed) {
                out.push(
                    CheckFailure::error(
                        rules::NAME,
                        PropertyPath::key("name"),
                        format!("DB subnet group name `{name}` contains {bad}, which RDS does not allow"),
                    )
                    .with_help("use only letters, digits, spaces, `.`, `_` and `-`"),
                );
            } else if name.eq_ignore_ascii_case("default") {
                out.push(
                    CheckFailure::error(
                        rules::NAME,
                        PropertyPath::key("name"),
                        "`default` is reserved: RDS does not accept it as a DB subnet group name",
                    )
                    .with_help("choose another name, e.g. `platform-db`"),
                );
            } else if name != name.to_lowercase() {
                out.push(
                    CheckFailure::warning(
                        rules::LOWER_CASE_NAME,
                        PropertyPath::key("name"),
                        format!(
                            "RDS stores name `{name}` as `{}`; cairn sends and compares it in lower case",
                            name.to_lowercase()
                        ),
                    )
                    .with_help(format!(
                        "write it as `{}` to match what AWS reports",
                        name.to_lowercase()
                    )),
                );
            }
        }
        if inputs
            .get("subnetIds")
            .and_then(Value::as_list)
            .is_some_and(|l| l.is_empty())
        {
            out.push(
                CheckFailure::error(
                    rules::SUBNETS,
                    PropertyPath::key("subnetIds"),
                    "a DB subnet group needs subnets: RDS wants them in at least two Availability Zones",
                )
                .with_help("list the database subnets, one per Availability Zone"),
            );
        }
        out
    }

    /// Two Availability Zones, when every subnet is one of this stack's
    /// `aws:ec2:Subnet`s with a literal zone (otherwise RDS answers at apply).
    fn check_in_stack(
        &self,
        _name: &str,
        inputs: &Map,
        stack: &dyn StackView,
    ) -> Vec<CheckFailure> {
        let Some(list) = inputs.get("subnetIds").and_then(Value::as_list) else {
            return Vec::new();
        };
        let mut zones: Vec<String> = Vec::new();
        for v in list {
            let zone = v
                .as_str()
                .and_then(|r| stack.referenced(r))
                .filter(|s| s.type_token == crate::resources::ec2::subnet::TOKEN)
                .and_then(|s| concrete_str(&s.inputs, "availabilityZone").map(str::to_string));
            match zone {
                Some(z) => zones.push(z),
                None => return Vec::new(),
            }
        }
        zones.sort();
        zones.dedup();
        if zones.len() != 1 {
            return Vec::new();
        }
        vec![CheckFailure::error(
            rules::ZONES,
            PropertyPath::key("subnetIds"),
            format!(
                "every subnet is in {}: RDS wants a DB subnet group to cover at least two Availability Zones",
                zones[0]
            ),
        )
        .with_help("add a subnet in another Availability Zone")]
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        // RDS stores the name lower case; so does cairn.
        let name = &get_str(inputs, "name")
            .ok_or_else(|| ProviderError::invalid(&resource, "name is required"))?
            .to_lowercase();
        let sdk = self.clients.get().await?;
        let mut tags = get_tags(inputs, "tags");
        tags.insert(URN_TAG.to_string(), ctx.urn.clone());
        let out = sdk
            .rds
            .create_db_subnet_group()
            .db_subnet_group_name(name)
            .db_subnet_group_description(
                get_str(inputs, "description").unwrap_or(DEFAULT_DESCRIPTION),
            )
            .set_subnet_ids(Some(get_str_list(inputs, "subnetIds")))
            .set_tags(Some(super::tags::rds_tags(&tags)))
            .send()
            .await;
        match out {
            Ok(out) => Ok(Created {
                id: name.to_string(),
                outputs: match out.db_subnet_group() {
                    Some(g) => outputs_of(g, name),
                    None => outputs_of(&DbSubnetGroup::builder().build(), name),
                },
            }),
            // Our own earlier attempt whose answer was lost (the SDK retried),
            // or somebody else's group: adopt it only if it is ours.
            Err(e) if error_code(&e) == Some("DBSubnetGroupAlreadyExists") => {
                match self.adopt(ctx, &resource, name).await {
                    Ok(Some(c)) => Ok(c),
                    Ok(None) => Err(api_error(&resource, "rds:CreateDBSubnetGroup", e, &[])),
                    Err(ProviderError::NotOwned { found, .. }) => Err(api_failure(
                        &resource,
                        "rds:CreateDBSubnetGroup",
                        "DBSubnetGroupAlreadyExists",
                        format!(
                            "the DB subnet group {name} already exists and was not made by this \
                             resource (it carries {found}, not {URN_TAG}={}): choose another name, \
                             delete that group, or import it",
                            ctx.urn
                        ),
                    )),
                    Err(other) => Err(other),
                }
            }
            Err(e) => Err(api_error(&resource, "rds:CreateDBSubnetGroup", e, &[])),
        }
    }

    async fn read(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let Some(g) = self.describe(&resource, id).await? else {
            return Ok(None);
        };
        let name = g.db_subnet_group_name().unwrap_or(id).to_string();
        let live: Vec<String> = g
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_identifier().map(str::to_string))
            .collect();
        let mut obs = Map::new();
        obs.insert(
            "name".into(),
            crate::resources::replication_group::stack_spelling(&name, get_str(inputs, "name"))
                .into(),
        );
        obs.insert(
            "description".into(),
            g.db_subnet_group_description().unwrap_or_default().into(),
        );
        obs.insert(
            "subnetIds".into(),
            str_list_value(&order_like(&live, &get_str_list(inputs, "subnetIds"))),
        );
        if let Some(arn) = g.db_subnet_group_arn() {
            let mut tags =
                super::tags::tags_of(&self.clients.get().await?.rds, &resource, arn).await?;
            tags.retain(|k, _| !crate::util::is_internal_tag(k));
            if inputs.contains_key("tags") || !tags.is_empty() {
                obs.insert("tags".into(), tags_value(&tags));
            }
        }
        Ok(Some(Observed {
            id: name.clone(),
            inputs: obs,
            outputs: outputs_of(&g, &name),
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
        let out = sdk
            .rds
            .modify_db_subnet_group()
            .db_subnet_group_name(id)
            .db_subnet_group_description(get_str(new, "description").unwrap_or(DEFAULT_DESCRIPTION))
            .set_subnet_ids(Some(get_str_list(new, "subnetIds")))
            .send()
            .await
            .map_err(|e| api_error(&resource, "rds:ModifyDBSubnetGroup", e, &[]))?;
        let g = out
            .db_subnet_group()
            .cloned()
            .unwrap_or_else(|| DbSubnetGroup::builder().build());
        if old.get("tags") != new.get("tags") {
            if let Some(arn) = g.db_subnet_group_arn() {
                super::tags::sync_tags(&sdk.rds, &resource, arn, old, new).await?;
            }
        }
        Ok(outputs_of(&g, id))
    }

    async fn delete(
        &self,
        ctx: &CallContext,
        id: &str,
        _inputs: &Map,
        _outputs: &Map,
    ) -> Result<(), ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let sdk = self.clients.get().await?;
        match sdk
            .rds
            .delete_db_subnet_group()
            .db_subnet_group_name(id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if not_found(error_code(&e)) => Ok(()),
            Err(e) => Err(api_error(&resource, "rds:DeleteDBSubnetGroup", e, &[])),
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
        self.adopt(ctx, &resource, &name.to_lowercase()).await
    }
}
