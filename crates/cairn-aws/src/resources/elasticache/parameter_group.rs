//! `aws:elasticache:ParameterGroup`: a cache parameter group and its
//! user-set parameters (changed in batches of at most 20; removed ones reset).
//! A create that finds the group already there (its own lost attempt,
//! retried) adopts it when it carries this resource's `cairn:urn` tag, then
//! sets the parameters as a create does.

use crate::clients::Shared;
use crate::util::{
    api_error, api_failure, batch_label, ensure_ours, error_code, get_str, get_tags, is_not_found,
    resource_label, tag_diff, tags_value, URN_TAG,
};
use async_trait::async_trait;
use aws_sdk_elasticache::types::{CacheParameterGroup, ParameterNameValue, Tag};
use cairn_core::dsl::{Input, Output, ResourceType};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, ProviderError, ReadRequest, ResourceProvider,
};
use cairn_core::schema::{OutputSchema, PropType, PropertySchema, ResourceSchema};
use cairn_core::value::{Map, PropertyPath, Value};
use serde::Serialize;
use std::collections::BTreeMap;

pub const TOKEN: &str = "aws:elasticache:ParameterGroup";
/// ElastiCache accepts at most this many parameters per modify/reset call.
pub const BATCH: usize = 20;
/// Attempts to delete a group that ElastiCache still reports as in use.
const DELETE_ATTEMPTS: u32 = 6;
const DEFAULT_DESCRIPTION: &str = "Managed by cairn";

pub mod rules {
    pub const MAXMEMORY: &str = "aws::elasticache::maxmemory-not-settable";
    pub const MAXMEMORY_POLICY: &str = "aws::elasticache::maxmemory-policy";
    pub const DUPLICATE: &str = "aws::elasticache::duplicate-parameter";
}

/// Eviction policies Redis 7 / Valkey accept for `maxmemory-policy`.
pub const MAXMEMORY_POLICIES: &[&str] = &[
    "volatile-lru",
    "allkeys-lru",
    "volatile-lfu",
    "allkeys-lfu",
    "volatile-random",
    "allkeys-random",
    "volatile-ttl",
    "noeviction",
];

pub fn schema() -> ResourceSchema {
    let s = PropType::string;
    ResourceSchema::new(TOKEN, "An ElastiCache cache parameter group.")
        .fixed_name()
        .property(
            PropertySchema::new(
                "name",
                PropType::String {
                    min_len: Some(1),
                    max_len: Some(255),
                },
            )
            .required()
            .replaces()
            .doc("Group name."),
        )
        .property(
            PropertySchema::new("family", s())
                .required()
                .replaces()
                .doc("Family, e.g. `redis7`."),
        )
        .property(
            PropertySchema::new("description", s())
                .replaces()
                .default_value(serde_json::json!("Managed by cairn"))
                .doc("Description (cannot be changed in place)."),
        )
        .property(
            PropertySchema::new(
                "parameters",
                PropType::list(PropType::object(vec![
                    PropertySchema::new("name", s())
                        .required()
                        .doc("Parameter name."),
                    PropertySchema::new("value", s())
                        .required()
                        .doc("Parameter value."),
                ])),
            )
            .doc("Parameters to set; removing one resets it to the family default."),
        )
        .property(PropertySchema::new("tags", PropType::map(s())).doc("Tags."))
        .output(OutputSchema::new("arn", "ARN."))
        .output(OutputSchema::new("name", "Group name."))
}

// ---------------------------------------------------------------- DSL

pub struct ParameterGroup;

#[derive(Clone, Debug, Serialize, cairn_core::dsl::Builder)]
#[serde(rename_all = "camelCase")]
pub struct ParameterArgs {
    pub name: Input<String>,
    pub value: Input<String>,
}

#[derive(Clone, Debug, Serialize, cairn_core::dsl::Builder)]
#[serde(rename_all = "camelCase")]
pub struct ParameterGroupArgs {
    pub name: Input<String>,
    pub family: Input<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Input<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Vec<ParameterArgs>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Input<String>>>,
}

pub struct ParameterGroupOutputs {
    pub arn: Output<String>,
    pub name: Output<String>,
}

impl ResourceType for ParameterGroup {
    const TOKEN: &'static str = TOKEN;
    type Args = ParameterGroupArgs;
    type Outputs = ParameterGroupOutputs;
    fn outputs(name: &str) -> ParameterGroupOutputs {
        ParameterGroupOutputs {
            arn: Output::of(name, "arn"),
            name: Output::of(name, "name"),
        }
    }
}

// ---------------------------------------------------------------- helpers

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Bool(b) => Some(if *b { "yes" } else { "no" }.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Secret(inner) => scalar_text(inner),
        _ => None,
    }
}

/// The `parameters` input as ordered (name, value) pairs.
fn params_of(inputs: &Map) -> Vec<(String, String)> {
    inputs
        .get("parameters")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| {
            let m = p.as_map()?;
            Some((
                m.get("name").and_then(scalar_text)?,
                m.get("value").and_then(scalar_text)?,
            ))
        })
        .collect()
}

fn params_value(params: &[(String, String)]) -> Value {
    Value::List(
        params
            .iter()
            .map(|(n, v)| {
                let mut m = Map::new();
                m.insert("name".into(), n.as_str().into());
                m.insert("value".into(), v.as_str().into());
                Value::Map(m)
            })
            .collect(),
    )
}

/// What a read reports: the live value of every parameter the stack sets
/// (in the stack's order), then any other parameter a user changed. Whether
/// ElastiCache marks a parameter set to its default value as `user` varies,
/// so the stack's own parameters are looked up by name.
fn observed_params(
    desired: &[(String, String)],
    live: &[(String, String, bool)],
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = desired
        .iter()
        .filter_map(|(n, _)| {
            live.iter()
                .find(|(l, _, _)| l == n)
                .map(|(l, v, _)| (l.clone(), v.clone()))
        })
        .collect();
    out.extend(
        live.iter()
            .filter(|(n, _, user)| *user && !desired.iter().any(|(d, _)| d == n))
            .map(|(n, v, _)| (n.clone(), v.clone())),
    );
    out
}

fn check_inputs(inputs: &Map) -> Vec<CheckFailure> {
    let mut out = Vec::new();
    let Some(list) = inputs.get("parameters").and_then(Value::as_list) else {
        return out;
    };
    let mut seen = BTreeMap::new();
    for (i, p) in list.iter().enumerate() {
        let Some(m) = p.as_map() else { continue };
        let at = PropertyPath::key("parameters").index(i);
        let Some(name) = m.get("name").and_then(Value::as_str) else {
            continue;
        };
        if crate::util::is_unresolved(name) {
            continue;
        }
        if let Some(first) = seen.insert(name.to_string(), i) {
            out.push(
                CheckFailure::error(
                    rules::DUPLICATE,
                    at.child("name"),
                    format!("parameter `{name}` is set twice (first at parameters[{first}])"),
                )
                .with_help("keep one entry per parameter"),
            );
        }
        if name == "maxmemory" {
            out.push(
                CheckFailure::error(
                    rules::MAXMEMORY,
                    at.child("name"),
                    "ElastiCache does not allow setting `maxmemory`",
                )
                .with_help("express memory headroom as `reserved-memory-percent` (e.g. 25 keeps ~75% of node memory usable)"),
            );
        }
        if name == "maxmemory-policy" {
            if let Some(v) = m.get("value").and_then(Value::as_str) {
                if !crate::util::is_unresolved(v) && !MAXMEMORY_POLICIES.contains(&v) {
                    out.push(
                        CheckFailure::error(
                            rules::MAXMEMORY_POLICY,
                            at.child("value"),
                            format!("`{v}` is not a valid maxmemory-policy"),
                        )
                        .with_help(format!("use one of {}", MAXMEMORY_POLICIES.join(", "))),
                    );
                }
            }
        }
    }
    out
}

fn ec_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn pnv(name: &str, value: Option<&str>) -> ParameterNameValue {
    ParameterNameValue::builder()
        .parameter_name(name)
        .set_parameter_value(value.map(str::to_string))
        .build()
}

// ---------------------------------------------------------------- provider

pub struct ParameterGroupProvider {
    schema: ResourceSchema,
    clients: Shared,
}

impl ParameterGroupProvider {
    pub fn new(clients: Shared) -> Self {
        ParameterGroupProvider {
            schema: schema(),
            clients,
        }
    }

    /// Sets parameters in batches of at most [`BATCH`].
    async fn set_params(
        &self,
        resource: &str,
        name: &str,
        params: &[(String, String)],
    ) -> Result<(), ProviderError> {
        let sdk = self.clients.get().await?;
        for chunk in params.chunks(BATCH) {
            sdk.ec
                .modify_cache_parameter_group()
                .cache_parameter_group_name(name)
                .set_parameter_name_values(Some(
                    chunk.iter().map(|(n, v)| pnv(n, Some(v))).collect(),
                ))
                .send()
                .await
                .map_err(|e| {
                    api_error(resource, "elasticache:ModifyCacheParameterGroup", e, &[])
                })?;
        }
        Ok(())
    }

    /// Resets parameters to their defaults in batches of at most [`BATCH`].
    async fn reset_params(
        &self,
        resource: &str,
        name: &str,
        names: &[String],
    ) -> Result<(), ProviderError> {
        let sdk = self.clients.get().await?;
        for chunk in names.chunks(BATCH) {
            sdk.ec
                .reset_cache_parameter_group()
                .cache_parameter_group_name(name)
                .reset_all_parameters(false)
                .set_parameter_name_values(Some(chunk.iter().map(|n| pnv(n, None)).collect()))
                .send()
                .await
                .map_err(|e| api_error(resource, "elasticache:ResetCacheParameterGroup", e, &[]))?;
        }
        Ok(())
    }

    async fn describe(
        &self,
        resource: &str,
        name: &str,
    ) -> Result<Option<aws_sdk_elasticache::types::CacheParameterGroup>, ProviderError> {
        let sdk = self.clients.get().await?;
        match sdk
            .ec
            .describe_cache_parameter_groups()
            .cache_parameter_group_name(name)
            .send()
            .await
        {
            Ok(out) => Ok(out.cache_parameter_groups().first().cloned()),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(api_error(
                resource,
                "elasticache:DescribeCacheParameterGroups",
                e,
                &[],
            )),
        }
    }

    /// Every parameter of the group: (name, value, set by the user).
    async fn all_params(
        &self,
        resource: &str,
        name: &str,
    ) -> Result<Vec<(String, String, bool)>, ProviderError> {
        let sdk = self.clients.get().await?;
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = sdk
                .ec
                .describe_cache_parameters()
                .cache_parameter_group_name(name)
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| api_error(resource, "elasticache:DescribeCacheParameters", e, &[]))?;
            for p in page.parameters() {
                if let (Some(n), Some(v)) = (p.parameter_name(), p.parameter_value()) {
                    out.push((n.to_string(), v.to_string(), p.source() == Some("user")));
                }
            }
            match page.marker() {
                Some(m) if !m.is_empty() && Some(m) != marker.as_deref() => {
                    marker = Some(m.to_string())
                }
                _ => break,
            }
        }
        Ok(out)
    }

    /// The group's tags.
    async fn tags_of(
        &self,
        resource: &str,
        arn: &str,
    ) -> Result<BTreeMap<String, String>, ProviderError> {
        let sdk = self.clients.get().await?;
        crate::util::elasticache_tags(&sdk.ec, resource, arn).await
    }

    /// Whether an existing group is this resource's: it carries our
    /// `cairn:urn` tag. Tags that cannot be read prove nothing: not ours.
    async fn is_ours(
        &self,
        ctx: &CallContext,
        resource: &str,
        g: &CacheParameterGroup,
    ) -> Result<bool, ProviderError> {
        let Some(arn) = g.arn() else { return Ok(false) };
        match self.tags_of(resource, arn).await {
            Ok(t) => Ok(t.get(URN_TAG) == Some(&ctx.urn)),
            Err(ProviderError::Api {
                retryable: false, ..
            }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn outputs(name: &str, arn: Option<&str>) -> Map {
        let mut out = Map::new();
        out.insert("name".into(), name.into());
        out.insert("arn".into(), arn.unwrap_or_default().into());
        out
    }

    /// What a read reports for `g` (single and batched reads alike).
    async fn observe(
        &self,
        resource: &str,
        id: &str,
        g: &CacheParameterGroup,
        inputs: &Map,
    ) -> Result<Observed, ProviderError> {
        let desired = params_of(inputs);
        let params = observed_params(&desired, &self.all_params(resource, id).await?);
        let mut obs = Map::new();
        obs.insert(
            "name".into(),
            super::replication_group::stack_spelling(id, get_str(inputs, "name")).into(),
        );
        if let Some(f) = g.cache_parameter_group_family() {
            obs.insert("family".into(), f.into());
        }
        if let Some(d) = g.description() {
            obs.insert("description".into(), d.into());
        }
        if inputs.contains_key("parameters") || !params.is_empty() {
            obs.insert("parameters".into(), params_value(&params));
        }
        if let Some(arn) = g.arn() {
            let mut tags = self.tags_of(resource, arn).await?;
            tags.remove(URN_TAG);
            if inputs.contains_key("tags") || !tags.is_empty() {
                obs.insert("tags".into(), tags_value(&tags));
            }
        }
        Ok(Observed {
            id: id.to_string(),
            inputs: obs,
            outputs: Self::outputs(id, g.arn()),
        })
    }
}

#[async_trait]
impl ResourceProvider for ParameterGroupProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        let mut out = check_inputs(inputs);
        out.extend(super::replication_group::lower_case_name_warning(
            inputs, "name",
        ));
        out
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        // ElastiCache stores the name lower case; so does cairn.
        let name = &get_str(inputs, "name")
            .ok_or_else(|| ProviderError::invalid(&resource, "name is required"))?
            .to_lowercase();
        let sdk = self.clients.get().await?;
        let mut tags = get_tags(inputs, "tags");
        tags.insert(URN_TAG.to_string(), ctx.urn.clone());
        let res = sdk
            .ec
            .create_cache_parameter_group()
            .cache_parameter_group_name(name)
            .cache_parameter_group_family(get_str(inputs, "family").unwrap_or_default())
            .description(get_str(inputs, "description").unwrap_or(DEFAULT_DESCRIPTION))
            .set_tags(Some(ec_tags(&tags)))
            .send()
            .await;
        let arn = match res {
            Ok(created) => created
                .cache_parameter_group()
                .and_then(|g| g.arn())
                .map(str::to_string),
            // Our own earlier attempt whose answer was lost (the SDK retried),
            // or somebody else's group: adopt it only if it is ours.
            Err(e) if error_code(&e) == Some("CacheParameterGroupAlreadyExists") => {
                let Some(g) = self.describe(&resource, name).await? else {
                    return Err(api_error(
                        &resource,
                        "elasticache:CreateCacheParameterGroup",
                        e,
                        &[],
                    ));
                };
                if !self.is_ours(ctx, &resource, &g).await? {
                    return Err(api_failure(
                        &resource,
                        "elasticache:CreateCacheParameterGroup",
                        "CacheParameterGroupAlreadyExists",
                        format!(
                            "the parameter group {name} already exists and was not made by this resource \
                             (it lacks the tag {URN_TAG}={}): choose another name, delete that group, \
                             or import it",
                            ctx.urn
                        ),
                    ));
                }
                ctx.report("adopting the parameter group (it carries this resource's tag)");
                g.arn().map(str::to_string)
            }
            Err(e) => {
                return Err(api_error(
                    &resource,
                    "elasticache:CreateCacheParameterGroup",
                    e,
                    &[],
                ))
            }
        };
        let params = params_of(inputs);
        if !params.is_empty() {
            ctx.report("setting parameters");
            self.set_params(&resource, name, &params).await?;
        }
        Ok(Created {
            id: name.to_string(),
            outputs: Self::outputs(name, arn.as_deref()),
        })
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
        self.observe(&resource, id, &g, inputs).await.map(Some)
    }

    fn read_batch_limit(&self) -> Option<usize> {
        Some(usize::MAX)
    }

    /// From two resources on, one `DescribeCacheParameterGroups` with no name lists the
    /// region's groups (100 a page) instead of one call each (`resources/listed.rs`).
    async fn read_many(
        &self,
        reqs: &[ReadRequest],
    ) -> Result<BTreeMap<String, Observed>, ProviderError> {
        let resource = batch_label(reqs, TOKEN);
        let sdk = self.clients.get().await?;
        let (ec, resource) = (&sdk.ec, resource.as_str());
        let page = |marker: Option<String>| async move {
            let out = ec
                .describe_cache_parameter_groups()
                .max_records(100)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| {
                    api_error(resource, "elasticache:DescribeCacheParameterGroups", e, &[])
                })?;
            Ok::<_, ProviderError>((
                out.cache_parameter_groups().to_vec(),
                out.marker().map(str::to_string),
            ))
        };
        let observe =
            |r: ReadRequest, g| async move { self.observe(resource, &r.id, &g, &r.inputs).await };
        crate::resources::listed::read_listed(
            self,
            reqs,
            CacheParameterGroup::cache_parameter_group_name,
            str::to_ascii_lowercase,
            page,
            observe,
        )
        .await
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
        let old_params: BTreeMap<String, String> = params_of(old).into_iter().collect();
        let new_params = params_of(new);
        let new_names: BTreeMap<&str, &str> = new_params
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let changed: Vec<(String, String)> = new_params
            .iter()
            .filter(|(n, v)| old_params.get(n) != Some(v))
            .cloned()
            .collect();
        let removed: Vec<String> = old_params
            .keys()
            .filter(|n| !new_names.contains_key(n.as_str()))
            .cloned()
            .collect();
        if !removed.is_empty() {
            ctx.report("resetting parameters");
            self.reset_params(&resource, id, &removed).await?;
        }
        if !changed.is_empty() {
            ctx.report("setting parameters");
            self.set_params(&resource, id, &changed).await?;
        }
        let arn = old_outputs
            .get("arn")
            .and_then(Value::as_str)
            .map(str::to_string);
        if old.get("tags") != new.get("tags") {
            if let Some(arn) = arn.as_deref().filter(|a| !a.is_empty()) {
                let sdk = self.clients.get().await?;
                let (set, gone) = tag_diff(&get_tags(old, "tags"), &get_tags(new, "tags"));
                if !set.is_empty() {
                    sdk.ec
                        .add_tags_to_resource()
                        .resource_name(arn)
                        .set_tags(Some(ec_tags(&set)))
                        .send()
                        .await
                        .map_err(|e| {
                            api_error(&resource, "elasticache:AddTagsToResource", e, &[])
                        })?;
                }
                if !gone.is_empty() {
                    sdk.ec
                        .remove_tags_from_resource()
                        .resource_name(arn)
                        .set_tag_keys(Some(gone))
                        .send()
                        .await
                        .map_err(|e| {
                            api_error(&resource, "elasticache:RemoveTagsFromResource", e, &[])
                        })?;
                }
            }
        }
        Ok(Self::outputs(id, arn.as_deref()))
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
        let poll = self.clients.poll();
        let mut delay = poll.first;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match sdk
                .ec
                .delete_cache_parameter_group()
                .cache_parameter_group_name(id)
                .send()
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if is_not_found(&e) => return Ok(()),
                // Still attached to a replication group that is going away:
                // ElastiCache lags a little; retry a few times, then explain.
                Err(e) if error_code(&e) == Some("InvalidCacheParameterGroupState") => {
                    if attempt >= DELETE_ATTEMPTS {
                        let aws = crate::util::redact(
                            aws_smithy_types::error::metadata::ProvideErrorMetadata::message(&e)
                                .unwrap_or(""),
                            &[],
                        );
                        return Err(api_failure(
                            &resource,
                            "elasticache:DeleteCacheParameterGroup",
                            "InvalidCacheParameterGroupState",
                            format!(
                                "{aws} (the parameter group is still in use by a replication group or cluster; \
                                 delete or re-point that first; tried {attempt} times)"
                            ),
                        ));
                    }
                    ctx.report(&format!(
                        "parameter group in use; retrying ({attempt}/{DELETE_ATTEMPTS})"
                    ));
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(poll.max);
                }
                Err(e) => {
                    return Err(api_error(
                        &resource,
                        "elasticache:DeleteCacheParameterGroup",
                        e,
                        &[],
                    ))
                }
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
        let Some(g) = self.describe(&resource, name).await? else {
            return Ok(None);
        };
        let tags = match g.arn() {
            Some(arn) => Some(self.tags_of(&resource, arn).await?),
            None => None,
        };
        ensure_ours(ctx, &resource, name, tags.as_ref())?;
        // The create may have stopped before all parameters were set.
        let params = params_of(inputs);
        if !params.is_empty() {
            self.set_params(&resource, name, &params).await?;
        }
        Ok(Some(Created {
            id: name.to_string(),
            outputs: Self::outputs(name, g.arn()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(params: serde_json::Value) -> Map {
        let mut m = Map::new();
        m.insert("name".into(), "qualisys-redis7".into());
        m.insert("family".into(), "redis7".into());
        m.insert("parameters".into(), Value::from_json(&params));
        m
    }

    fn fails(params: serde_json::Value) -> Vec<(String, String)> {
        check_inputs(&inputs(params))
            .into_iter()
            .map(|f| {
                assert!(f.help.is_some());
                (f.rule, f.path.to_string())
            })
            .collect()
    }

    #[test]
    fn the_story_parameters_pass() {
        let story = serde_json::json!([
            {"name": "maxmemory-policy", "value": "allkeys-lru"},
            {"name": "tcp-keepalive", "value": "300"},
            {"name": "timeout", "value": "0"},
            {"name": "notify-keyspace-events", "value": "Exe"},
            {"name": "cluster-enabled", "value": "yes"},
            {"name": "reserved-memory-percent", "value": "25"}
        ]);
        assert_eq!(fails(story), vec![]);
    }

    #[test]
    fn maxmemory_is_refused_with_headroom_help() {
        let f = check_inputs(&inputs(serde_json::json!([
            {"name": "timeout", "value": "0"},
            {"name": "maxmemory", "value": "75%"}
        ])));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].rule, rules::MAXMEMORY);
        assert_eq!(f[0].path.to_string(), "parameters[1].name");
        assert!(f[0]
            .help
            .as_deref()
            .unwrap()
            .contains("reserved-memory-percent"));
    }

    #[test]
    fn maxmemory_policy_must_be_valid() {
        assert_eq!(
            fails(serde_json::json!([{"name": "maxmemory-policy", "value": "allkeys-lru-ish"}])),
            vec![(
                rules::MAXMEMORY_POLICY.to_string(),
                "parameters[0].value".to_string()
            )]
        );
        for p in MAXMEMORY_POLICIES {
            assert_eq!(
                fails(serde_json::json!([{"name": "maxmemory-policy", "value": p}])),
                vec![]
            );
        }
        assert_eq!(
            fails(serde_json::json!([{"name": "maxmemory-policy", "value": "${cfg.policy}"}])),
            vec![]
        );
    }

    #[test]
    fn duplicates_are_reported() {
        assert_eq!(
            fails(
                serde_json::json!([{"name": "timeout", "value": "0"}, {"name": "timeout", "value": "1"}])
            ),
            vec![(
                rules::DUPLICATE.to_string(),
                "parameters[1].name".to_string()
            )]
        );
    }

    #[test]
    fn read_reports_desired_then_user_changed_parameters() {
        let desired = vec![
            ("timeout".to_string(), "0".to_string()),
            ("maxmemory-policy".to_string(), "allkeys-lru".to_string()),
        ];
        let live = vec![
            (
                "maxmemory-policy".to_string(),
                "volatile-lru".to_string(),
                true,
            ),
            ("timeout".to_string(), "0".to_string(), false),
            ("tcp-keepalive".to_string(), "300".to_string(), false),
            ("notify-keyspace-events".to_string(), "Ex".to_string(), true),
        ];
        assert_eq!(
            observed_params(&desired, &live),
            vec![
                ("timeout".to_string(), "0".to_string()),
                ("maxmemory-policy".to_string(), "volatile-lru".to_string()),
                ("notify-keyspace-events".to_string(), "Ex".to_string()),
            ]
        );
    }

    #[test]
    fn numeric_values_are_sent_as_text() {
        let m = inputs(serde_json::json!([{"name": "tcp-keepalive", "value": 300}]));
        assert_eq!(
            params_of(&m),
            vec![("tcp-keepalive".to_string(), "300".to_string())]
        );
    }
}
