//! `aws:rds:ParameterGroup`: a DB parameter group (Pulumi's
//! `aws.rds.ParameterGroup`). RDS stores the name lower case: cairn sends and
//! compares it that way and warns at preview about upper-case letters.
//! `family` and `description` cannot change (no API call does); parameters
//! change in place: ModifyDBParameterGroup for new or changed values,
//! ResetDBParameterGroup for the ones the stack no longer lists. A create that
//! finds the group already there adopts it only when it carries this
//! resource's `cairn:urn` tag.

use crate::clients::Shared;
use crate::util::{
    api_error, api_failure, concrete_str, ensure_ours, error_code, get_str, get_tags,
    resource_label, tags_value, URN_TAG,
};
use async_trait::async_trait;
use aws_sdk_rds::types::{ApplyMethod, DbParameterGroup, Parameter};
use cairn_core::dsl::{DeclaredType, Input, Output, Outputs, PropObject, Resource};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, ProviderError, ResourceProvider,
};
use cairn_core::schema::{PropType, ResourceSchema};
use cairn_core::value::{Map, PropertyPath, Value};
use serde::Serialize;
use std::collections::BTreeMap;

pub const TOKEN: &str = "aws:rds:ParameterGroup";
const DEFAULT_DESCRIPTION: &str = "Managed by cairn";
/// ModifyDBParameterGroup and ResetDBParameterGroup take at most 20 parameters a call.
const BATCH: usize = 20;

pub mod rules {
    pub const NAME: &str = "aws::rds::parameter-group-name";
    pub const LOWER_CASE_NAME: &str = "aws::rds::name-stored-lower-case";
    pub const FAMILY: &str = "aws::rds::parameter-group-family";
    pub const PARAMETERS: &str = "aws::rds::parameter-group-parameters";
}

pub struct ParameterGroup;

/// An RDS DB parameter group.
#[derive(Serialize, Clone, Debug, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(token = "aws:rds:ParameterGroup", kind = ParameterGroup, outputs = ParameterGroupOutputs, fixed_name)]
pub struct ParameterGroupArgs {
    /// Group name: 1 to 255 letters, digits and hyphens, a letter first, no `--`, no trailing hyphen; stored lower case.
    #[prop(replaces, ty = PropType::String { min_len: Some(1), max_len: Some(255) })]
    pub name: Input<String>,
    /// Parameter group family, e.g. `postgres16` (cannot change).
    #[prop(replaces)]
    pub family: Input<String>,
    /// Description (cannot change).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(replaces, default = DEFAULT_DESCRIPTION)]
    pub description: Option<Input<String>>,
    /// Parameters set in the group (in place); one not listed is at its engine default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Vec<ParameterArgs>>,
    /// Tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Input<String>>>,
}

/// One parameter.
#[derive(Serialize, Clone, Debug, PropObject)]
#[serde(rename_all = "camelCase")]
pub struct ParameterArgs {
    /// Parameter name, e.g. `log_min_duration_statement`.
    pub name: Input<String>,
    /// Its value.
    pub value: Input<String>,
    /// `immediate` (dynamic parameters) or `pending-reboot` (needed for static ones).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(default = "immediate", ty = PropType::one_of(&["immediate", "pending-reboot"]))]
    pub apply_method: Option<Input<String>>,
}

#[derive(Outputs)]
pub struct ParameterGroupOutputs {
    /// The group's name (lower case).
    pub id: Output<String>,
    /// The group's ARN.
    pub arn: Output<String>,
    /// The group's name (lower case).
    pub name: Output<String>,
}

fn outputs_of(g: &DbParameterGroup, name: &str) -> Map {
    let name = g.db_parameter_group_name().unwrap_or(name);
    let mut out = Map::new();
    out.insert("id".into(), name.into());
    out.insert("name".into(), name.into());
    out.insert(
        "arn".into(),
        g.db_parameter_group_arn().unwrap_or_default().into(),
    );
    out
}

fn not_found(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("DBParameterGroupNotFound" | "DBParameterGroupNotFoundFault")
    )
}

/// The stack's parameters: name → (value, apply method), in the stack's order.
fn params_of(m: &Map) -> Vec<(String, String, String)> {
    m.get("parameters")
        .and_then(Value::as_list)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_map)
                .filter_map(|p| {
                    Some((
                        get_str(p, "name")?.to_string(),
                        get_str(p, "value")?.to_string(),
                        get_str(p, "applyMethod").unwrap_or("immediate").to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn param(name: &str, value: Option<&str>, method: &str) -> Parameter {
    Parameter::builder()
        .parameter_name(name)
        .set_parameter_value(value.map(str::to_string))
        .apply_method(ApplyMethod::from(method))
        .build()
}

/// AWS: 1–255 letters, digits, hyphens; a letter first; no `--`; no trailing hyphen.
fn name_problem(name: &str) -> Option<String> {
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Some("must begin with a letter".into());
    }
    if let Some(bad) =
        crate::util::disallowed_chars(name, |c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Some(format!(
            "contains {bad}; only letters, digits and hyphens are allowed"
        ));
    }
    if name.contains("--") {
        return Some("must not contain two consecutive hyphens".into());
    }
    if name.ends_with('-') {
        return Some("must not end with a hyphen".into());
    }
    None
}

pub struct ParameterGroupProvider {
    schema: ResourceSchema,
    clients: Shared,
}

impl ParameterGroupProvider {
    pub fn new(clients: Shared) -> Self {
        ParameterGroupProvider {
            schema: ParameterGroup::schema(),
            clients,
        }
    }

    async fn describe(
        &self,
        resource: &str,
        name: &str,
    ) -> Result<Option<DbParameterGroup>, ProviderError> {
        let sdk = self.clients.get().await?;
        match sdk
            .rds
            .describe_db_parameter_groups()
            .db_parameter_group_name(name)
            .send()
            .await
        {
            Ok(out) => Ok(out.db_parameter_groups().first().cloned()),
            Err(e) if not_found(error_code(&e)) => Ok(None),
            Err(e) => Err(api_error(resource, "rds:DescribeDBParameterGroups", e, &[])),
        }
    }

    /// The parameters set by the user (not engine defaults): name → value.
    async fn user_parameters(
        &self,
        resource: &str,
        name: &str,
    ) -> Result<BTreeMap<String, String>, ProviderError> {
        let sdk = self.clients.get().await?;
        let mut out = BTreeMap::new();
        let mut marker: Option<String> = None;
        loop {
            let page = sdk
                .rds
                .describe_db_parameters()
                .db_parameter_group_name(name)
                .source("user")
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| api_error(resource, "rds:DescribeDBParameters", e, &[]))?;
            for p in page.parameters() {
                if let (Some(n), Some(v)) = (p.parameter_name(), p.parameter_value()) {
                    out.insert(n.to_string(), v.to_string());
                }
            }
            marker = page.marker().map(str::to_string);
            if marker.is_none() {
                return Ok(out);
            }
        }
    }

    /// Sets `set` and resets `reset` (names with their apply method), 20 a call.
    async fn apply_parameters(
        &self,
        resource: &str,
        name: &str,
        set: &[(String, String, String)],
        reset: &[(String, String)],
    ) -> Result<(), ProviderError> {
        let sdk = self.clients.get().await?;
        for chunk in set.chunks(BATCH) {
            sdk.rds
                .modify_db_parameter_group()
                .db_parameter_group_name(name)
                .set_parameters(Some(
                    chunk.iter().map(|(n, v, m)| param(n, Some(v), m)).collect(),
                ))
                .send()
                .await
                .map_err(|e| api_error(resource, "rds:ModifyDBParameterGroup", e, &[]))?;
        }
        for chunk in reset.chunks(BATCH) {
            sdk.rds
                .reset_db_parameter_group()
                .db_parameter_group_name(name)
                .set_parameters(Some(chunk.iter().map(|(n, m)| param(n, None, m)).collect()))
                .send()
                .await
                .map_err(|e| api_error(resource, "rds:ResetDBParameterGroup", e, &[]))?;
        }
        Ok(())
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
        let tags = match g.db_parameter_group_arn() {
            Some(arn) => {
                Some(super::tags::tags_of(&self.clients.get().await?.rds, resource, arn).await?)
            }
            None => None,
        };
        ensure_ours(ctx, resource, name, tags.as_ref())?;
        ctx.report("adopting the DB parameter group (it carries this resource's tag)");
        Ok(Some(Created {
            id: name.to_string(),
            outputs: outputs_of(&g, name),
        }))
    }
}

#[async_trait]
impl ResourceProvider for ParameterGroupProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        let mut out = Vec::new();
        if let Some(name) = concrete_str(inputs, "name") {
            if let Some(problem) = name_problem(name) {
                out.push(
                    CheckFailure::error(
                        rules::NAME,
                        PropertyPath::key("name"),
                        format!("DB parameter group name `{name}` {problem}"),
                    )
                    .with_help("use letters, digits and hyphens, starting with a letter, e.g. `platform-postgres16`"),
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
        if let Some(family) = concrete_str(inputs, "family") {
            let engine = family.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
            let ok = !engine.is_empty()
                && engine.len() < family.len()
                && engine
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                out.push(
                    CheckFailure::error(
                        rules::FAMILY,
                        PropertyPath::key("family"),
                        format!("`{family}` is not a DB parameter group family (an engine and its major version)"),
                    )
                    .with_help("e.g. `postgres16` for PostgreSQL 16"),
                );
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, p) in inputs
            .get("parameters")
            .and_then(Value::as_list)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let Some(name) = p.as_map().and_then(|m| concrete_str(m, "name")) else {
                continue;
            };
            if !seen.insert(name.to_string()) {
                out.push(
                    CheckFailure::error(
                        rules::PARAMETERS,
                        PropertyPath::key("parameters").index(i).child("name"),
                        format!("parameter `{name}` is listed twice"),
                    )
                    .with_help("keep one entry per parameter"),
                );
            }
        }
        out
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let name = &get_str(inputs, "name")
            .ok_or_else(|| ProviderError::invalid(&resource, "name is required"))?
            .to_lowercase();
        let sdk = self.clients.get().await?;
        let mut tags = get_tags(inputs, "tags");
        tags.insert(URN_TAG.to_string(), ctx.urn.clone());
        let out = sdk
            .rds
            .create_db_parameter_group()
            .db_parameter_group_name(name)
            .db_parameter_group_family(get_str(inputs, "family").unwrap_or_default())
            .description(get_str(inputs, "description").unwrap_or(DEFAULT_DESCRIPTION))
            .set_tags(Some(super::tags::rds_tags(&tags)))
            .send()
            .await;
        let created = match out {
            Ok(out) => Created {
                id: name.to_string(),
                outputs: match out.db_parameter_group() {
                    Some(g) => outputs_of(g, name),
                    None => outputs_of(&DbParameterGroup::builder().build(), name),
                },
            },
            Err(e) if error_code(&e) == Some("DBParameterGroupAlreadyExists") => {
                match self.adopt(ctx, &resource, name).await {
                    Ok(Some(c)) => c,
                    Ok(None) => {
                        return Err(api_error(&resource, "rds:CreateDBParameterGroup", e, &[]))
                    }
                    Err(ProviderError::NotOwned { found, .. }) => {
                        return Err(api_failure(
                            &resource,
                            "rds:CreateDBParameterGroup",
                            "DBParameterGroupAlreadyExists",
                            format!(
                                "the DB parameter group {name} already exists and was not made by \
                                 this resource (it carries {found}, not {URN_TAG}={}): choose \
                                 another name, delete that group, or import it",
                                ctx.urn
                            ),
                        ))
                    }
                    Err(other) => return Err(other),
                }
            }
            Err(e) => return Err(api_error(&resource, "rds:CreateDBParameterGroup", e, &[])),
        };
        let set = params_of(inputs);
        self.apply_parameters(&resource, name, &set, &[]).await?;
        Ok(created)
    }

    async fn read(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let Some(g) = self.describe(&resource, &id.to_lowercase()).await? else {
            return Ok(None);
        };
        let name = g.db_parameter_group_name().unwrap_or(id).to_lowercase();
        let mut obs = Map::new();
        obs.insert(
            "name".into(),
            crate::resources::replication_group::stack_spelling(&name, get_str(inputs, "name"))
                .into(),
        );
        obs.insert(
            "family".into(),
            g.db_parameter_group_family().unwrap_or_default().into(),
        );
        obs.insert(
            "description".into(),
            g.description().unwrap_or_default().into(),
        );
        let mut live = self.user_parameters(&resource, &name).await?;
        let wanted = params_of(inputs);
        // The stack's order, then what else is set; the apply method is how
        // a change was applied, not state: the stack's, else `immediate`.
        let mut params = Vec::new();
        for (n, _, m) in &wanted {
            if let Some(v) = live.remove(n) {
                params.push((n.clone(), v, m.clone()));
            }
        }
        params.extend(live.into_iter().map(|(n, v)| (n, v, "immediate".into())));
        if inputs.contains_key("parameters") || !params.is_empty() {
            obs.insert(
                "parameters".into(),
                Value::List(
                    params
                        .into_iter()
                        .map(|(n, v, m)| {
                            let mut p = Map::new();
                            p.insert("name".into(), n.into());
                            p.insert("value".into(), v.into());
                            p.insert("applyMethod".into(), m.into());
                            Value::Map(p)
                        })
                        .collect(),
                ),
            );
        }
        if let Some(arn) = g.db_parameter_group_arn() {
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
        old_outputs: &Map,
    ) -> Result<Map, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let sdk = self.clients.get().await?;
        let before = params_of(old);
        let after = params_of(new);
        let set: Vec<_> = after
            .iter()
            .filter(|(n, v, _)| !before.iter().any(|(bn, bv, _)| bn == n && bv == v))
            .cloned()
            .collect();
        let reset: Vec<(String, String)> = before
            .iter()
            .filter(|(n, _, _)| !after.iter().any(|(an, _, _)| an == n))
            .map(|(n, _, m)| (n.clone(), m.clone()))
            .collect();
        self.apply_parameters(&resource, id, &set, &reset).await?;
        if old.get("tags") != new.get("tags") {
            if let Some(arn) = get_str(old_outputs, "arn").filter(|a| !a.is_empty()) {
                super::tags::sync_tags(&sdk.rds, &resource, arn, old, new).await?;
            }
        }
        Ok(old_outputs.clone())
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
            .delete_db_parameter_group()
            .db_parameter_group_name(id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if not_found(error_code(&e)) => Ok(()),
            Err(e) => Err(api_error(&resource, "rds:DeleteDBParameterGroup", e, &[])),
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
