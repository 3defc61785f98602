//! `aws:elasticache:SubnetGroup`: a cache subnet group (usually imported
//! from the network stack). A create that finds the group already there (its
//! own lost attempt, retried) adopts it when it carries this resource's
//! `cairn:urn` tag, and only then.

use crate::clients::Shared;
use crate::util::{
    api_error, api_failure, batch_label, ensure_ours, error_code, get_str, get_str_list, get_tags,
    is_not_found, order_like, resource_label, str_list_value, tags_value, URN_TAG,
};
use crate::wait::{wait_until, Probe, WaitSpec};
use async_trait::async_trait;
use aws_sdk_elasticache::types::{CacheSubnetGroup, Tag};
use cairn_core::dsl::{Input, Output, ResourceType};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, Operation, ProviderError, ReadRequest,
    ResourceProvider,
};
use cairn_core::schema::{OutputSchema, PropType, PropertySchema, ResourceSchema};
use cairn_core::value::Map;
use serde::Serialize;
use std::collections::BTreeMap;

pub const TOKEN: &str = "aws:elasticache:SubnetGroup";
/// How long a delete retries while ElastiCache still reports the group in use.
const DELETE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10 * 60);
const DEFAULT_DESCRIPTION: &str = "Managed by cairn";

pub fn schema() -> ResourceSchema {
    let s = PropType::string;
    ResourceSchema::new(TOKEN, "An ElastiCache cache subnet group.")
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
            .doc("Group name (lowercase)."),
        )
        .property(
            PropertySchema::new("description", s())
                .default_value(serde_json::json!(DEFAULT_DESCRIPTION))
                .doc("Description."),
        )
        .property(
            PropertySchema::new("subnetIds", PropType::list(s()))
                .required()
                .doc("VPC subnet ids."),
        )
        .property(PropertySchema::new("tags", PropType::map(s())).doc("Tags."))
        .output(OutputSchema::new("arn", "ARN."))
        .output(OutputSchema::new("name", "Group name."))
        .output(OutputSchema::new("vpcId", "The subnets' VPC."))
}

pub struct SubnetGroup;

#[derive(Clone, Debug, Serialize, cairn_core::dsl::Builder)]
#[serde(rename_all = "camelCase")]
pub struct SubnetGroupArgs {
    pub name: Input<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Input<String>>,
    pub subnet_ids: Vec<Input<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Input<String>>>,
}

pub struct SubnetGroupOutputs {
    pub arn: Output<String>,
    pub name: Output<String>,
    pub vpc_id: Output<String>,
}

impl ResourceType for SubnetGroup {
    const TOKEN: &'static str = TOKEN;
    type Args = SubnetGroupArgs;
    type Outputs = SubnetGroupOutputs;
    fn outputs(name: &str) -> SubnetGroupOutputs {
        SubnetGroupOutputs {
            arn: Output::of(name, "arn"),
            name: Output::of(name, "name"),
            vpc_id: Output::of(name, "vpcId"),
        }
    }
}

fn outputs_of(g: &CacheSubnetGroup, name: &str) -> Map {
    let mut out = Map::new();
    out.insert(
        "name".into(),
        g.cache_subnet_group_name().unwrap_or(name).into(),
    );
    out.insert("arn".into(), g.arn().unwrap_or_default().into());
    out.insert("vpcId".into(), g.vpc_id().unwrap_or_default().into());
    out
}

pub struct SubnetGroupProvider {
    schema: ResourceSchema,
    clients: Shared,
}

impl SubnetGroupProvider {
    pub fn new(clients: Shared) -> Self {
        SubnetGroupProvider {
            schema: schema(),
            clients,
        }
    }

    async fn describe(
        &self,
        resource: &str,
        name: &str,
    ) -> Result<Option<CacheSubnetGroup>, ProviderError> {
        let sdk = self.clients.get().await?;
        match sdk
            .ec
            .describe_cache_subnet_groups()
            .cache_subnet_group_name(name)
            .send()
            .await
        {
            Ok(out) => Ok(out.cache_subnet_groups().first().cloned()),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(api_error(
                resource,
                "elasticache:DescribeCacheSubnetGroups",
                e,
                &[],
            )),
        }
    }
}

impl SubnetGroupProvider {
    /// The group's tags; `None` when they cannot be read (older emulators
    /// lack them for subnet groups).
    async fn tags_of(&self, arn: &str) -> Result<Option<BTreeMap<String, String>>, ProviderError> {
        let sdk = self.clients.get().await?;
        Ok(crate::util::elasticache_tags(&sdk.ec, "", arn).await.ok())
    }

    /// Whether an existing group is this resource's: it carries our
    /// `cairn:urn` tag. Tags that cannot be read prove nothing: not ours.
    async fn is_ours(
        &self,
        ctx: &CallContext,
        g: &CacheSubnetGroup,
    ) -> Result<bool, ProviderError> {
        let tags = match g.arn() {
            Some(arn) => self.tags_of(arn).await?,
            None => None,
        };
        Ok(tags.is_some_and(|t| t.get(URN_TAG) == Some(&ctx.urn)))
    }

    /// What a read reports for `g` (single and batched reads alike).
    async fn observe(
        &self,
        id: &str,
        g: &CacheSubnetGroup,
        inputs: &Map,
    ) -> Result<Observed, ProviderError> {
        let live: Vec<String> = g
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_identifier().map(str::to_string))
            .collect();
        let subnets = order_like(&live, &get_str_list(inputs, "subnetIds"));
        let mut obs = Map::new();
        let name = g.cache_subnet_group_name().unwrap_or(id);
        obs.insert(
            "name".into(),
            super::replication_group::stack_spelling(name, get_str(inputs, "name")).into(),
        );
        obs.insert(
            "description".into(),
            g.cache_subnet_group_description()
                .unwrap_or_default()
                .into(),
        );
        obs.insert("subnetIds".into(), str_list_value(&subnets));
        if let Some(arn) = g.arn() {
            // Tags are best effort: older emulators lack them for subnet groups.
            if let Some(mut tags) = self.tags_of(arn).await? {
                tags.remove(URN_TAG);
                if inputs.contains_key("tags") || !tags.is_empty() {
                    obs.insert("tags".into(), tags_value(&tags));
                }
            }
        }
        Ok(Observed {
            id: id.to_string(),
            inputs: obs,
            outputs: outputs_of(g, id),
        })
    }
}

#[async_trait]
impl ResourceProvider for SubnetGroupProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        super::replication_group::lower_case_name_warning(inputs, "name")
            .into_iter()
            .collect()
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
        let out = sdk
            .ec
            .create_cache_subnet_group()
            .cache_subnet_group_name(name)
            .cache_subnet_group_description(
                get_str(inputs, "description").unwrap_or(DEFAULT_DESCRIPTION),
            )
            .set_subnet_ids(Some(get_str_list(inputs, "subnetIds")))
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| Tag::builder().key(k).value(v).build())
                    .collect(),
            ))
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            // Our own earlier attempt whose answer was lost (the SDK retried),
            // or somebody else's group: adopt it only if it is ours.
            Err(e) if error_code(&e) == Some("CacheSubnetGroupAlreadyExists") => {
                let Some(g) = self.describe(&resource, name).await? else {
                    return Err(api_error(
                        &resource,
                        "elasticache:CreateCacheSubnetGroup",
                        e,
                        &[],
                    ));
                };
                if !self.is_ours(ctx, &g).await? {
                    return Err(api_failure(
                        &resource,
                        "elasticache:CreateCacheSubnetGroup",
                        "CacheSubnetGroupAlreadyExists",
                        format!(
                            "the subnet group {name} already exists and was not made by this resource \
                             (it lacks the tag {URN_TAG}={}): choose another name, delete that group, \
                             or import it",
                            ctx.urn
                        ),
                    ));
                }
                ctx.report("adopting the subnet group (it carries this resource's tag)");
                return Ok(Created {
                    id: name.to_string(),
                    outputs: outputs_of(&g, name),
                });
            }
            Err(e) => {
                return Err(api_error(
                    &resource,
                    "elasticache:CreateCacheSubnetGroup",
                    e,
                    &[],
                ))
            }
        };
        let outputs = match out.cache_subnet_group() {
            Some(g) => outputs_of(g, name),
            None => outputs_of(&CacheSubnetGroup::builder().build(), name),
        };
        Ok(Created {
            id: name.to_string(),
            outputs,
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
        self.observe(id, &g, inputs).await.map(Some)
    }

    fn read_batch_limit(&self) -> Option<usize> {
        Some(usize::MAX)
    }

    /// From two resources on, one `DescribeCacheSubnetGroups` with no name lists the
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
                .describe_cache_subnet_groups()
                .max_records(100)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| {
                    api_error(resource, "elasticache:DescribeCacheSubnetGroups", e, &[])
                })?;
            Ok::<_, ProviderError>((
                out.cache_subnet_groups().to_vec(),
                out.marker().map(str::to_string),
            ))
        };
        let observe = |r: ReadRequest, g| async move { self.observe(&r.id, &g, &r.inputs).await };
        crate::resources::listed::read_listed(
            self,
            reqs,
            CacheSubnetGroup::cache_subnet_group_name,
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
        _old_outputs: &Map,
    ) -> Result<Map, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let sdk = self.clients.get().await?;
        let out = sdk
            .ec
            .modify_cache_subnet_group()
            .cache_subnet_group_name(id)
            .set_cache_subnet_group_description(
                (old.get("description") != new.get("description")).then(|| {
                    get_str(new, "description")
                        .unwrap_or(DEFAULT_DESCRIPTION)
                        .to_string()
                }),
            )
            .set_subnet_ids(Some(get_str_list(new, "subnetIds")))
            .send()
            .await
            .map_err(|e| api_error(&resource, "elasticache:ModifyCacheSubnetGroup", e, &[]))?;
        if old.get("tags") != new.get("tags") {
            if let Some(arn) = out.cache_subnet_group().and_then(|g| g.arn()) {
                let (set, gone) =
                    crate::util::tag_diff(&get_tags(old, "tags"), &get_tags(new, "tags"));
                if !set.is_empty() {
                    sdk.ec
                        .add_tags_to_resource()
                        .resource_name(arn)
                        .set_tags(Some(
                            set.iter()
                                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                                .collect(),
                        ))
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
        Ok(match out.cache_subnet_group() {
            Some(g) => outputs_of(g, id),
            None => outputs_of(&CacheSubnetGroup::builder().build(), id),
        })
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
        // Right after its replication group is deleted, AWS may still say
        // the group is in use (eventual consistency): retry until the
        // delete deadline.
        let deadline = ctx.deadline(Operation::Delete, DELETE_TIMEOUT);
        let in_use = std::sync::Mutex::new(None);
        let waited = wait_until(
            ctx,
            &self.clients,
            WaitSpec {
                resource: &resource,
                api: "elasticache:DeleteCacheSubnetGroup",
                wanted: "deleted",
                deadline,
            },
            || async {
                match sdk
                    .ec
                    .delete_cache_subnet_group()
                    .cache_subnet_group_name(id)
                    .send()
                    .await
                {
                    Ok(_) => Ok(Probe::Done(())),
                    Err(e) if is_not_found(&e) => Ok(Probe::Done(())),
                    Err(e) if error_code(&e) == Some("CacheSubnetGroupInUse") => {
                        let err =
                            api_error(&resource, "elasticache:DeleteCacheSubnetGroup", e, &[]);
                        *in_use.lock().unwrap_or_else(|p| p.into_inner()) = Some(err);
                        Ok(Probe::Pending("in use".to_string()))
                    }
                    Err(e) => Err(api_error(
                        &resource,
                        "elasticache:DeleteCacheSubnetGroup",
                        e,
                        &[],
                    )),
                }
            },
        )
        .await;
        match waited {
            // Out of time: AWS's own answer says why.
            Err(ProviderError::Timeout { .. }) => {
                match in_use.into_inner().unwrap_or_else(|p| p.into_inner()) {
                    Some(err) => Err(err),
                    None => waited,
                }
            }
            other => other,
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
            Some(arn) => {
                let sdk = self.clients.get().await?;
                Some(crate::util::elasticache_tags(&sdk.ec, &resource, arn).await?)
            }
            None => None,
        };
        ensure_ours(ctx, &resource, name, tags.as_ref())?;
        Ok(Some(Created {
            id: name.to_string(),
            outputs: outputs_of(&g, name),
        }))
    }
}
