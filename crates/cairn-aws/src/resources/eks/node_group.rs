//! `aws:eks:NodeGroup`: an EKS managed node group (Pulumi's
//! `aws.eks.NodeGroup`). Cluster, name, node role, subnets, instance types
//! and capacity type are fixed at create; scaling and labels
//! (UpdateNodegroupConfig, waited for through DescribeUpdate) and tags
//! change in place. Waiters follow EKS's statuses: `CREATING` → `ACTIVE`,
//! `UPDATING` → `ACTIVE`, `DELETING` → gone. CreateNodegroup carries a
//! client token from the create call, and a create that finds the name
//! taken adopts the node group only when it carries this resource's
//! `cairn:urn` tag. The id is `cluster:nodegroup`, as in Pulumi.

use crate::clients::Shared;
use crate::util::{
    api_error, api_failure, concrete_str, ensure_ours, error_code, get_i64, get_str, get_str_list,
    get_tags, order_like, resource_label, stable_token, str_list_value, tag_diff, tags_value,
    URN_TAG,
};
use crate::wait::{wait_until, Probe, WaitSpec};
use async_trait::async_trait;
use aws_sdk_eks::types::{
    CapacityTypes, Nodegroup as NodegroupModel, NodegroupScalingConfig, UpdateLabelsPayload,
};
use cairn_core::dsl::{DeclaredType, Input, Output, Outputs, PropObject, Resource};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, Operation, ProviderError, ResourceProvider,
};
use cairn_core::schema::{PropType, ResourceSchema};
use cairn_core::value::{Map, PropertyPath, Value};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

pub const TOKEN: &str = "aws:eks:NodeGroup";
const CREATE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
const UPDATE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
const DELETE_TIMEOUT: Duration = Duration::from_secs(60 * 60);

pub mod rules {
    pub const NAME: &str = "aws::eks::node-group-name";
    pub const SCALING: &str = "aws::eks::scaling-config";
}

pub struct NodeGroup;

/// An EKS managed node group: EC2 instances joined to a cluster.
#[derive(Serialize, Clone, Debug, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(token = "aws:eks:NodeGroup", kind = NodeGroup, outputs = NodeGroupOutputs, fixed_name)]
pub struct NodeGroupArgs {
    /// The cluster's name.
    #[prop(replaces)]
    pub cluster_name: Input<String>,
    /// Node group name: 1 to 63 letters, digits, `-` and `_`, a letter or digit first.
    #[prop(replaces, ty = PropType::String { min_len: Some(1), max_len: Some(63) })]
    pub node_group_name: Input<String>,
    /// IAM role of the nodes.
    #[prop(replaces)]
    pub node_role_arn: Input<String>,
    /// Subnets the nodes run in.
    #[prop(replaces)]
    pub subnet_ids: Vec<Input<String>>,
    /// Node counts (in place); minSize ≤ desiredSize ≤ maxSize.
    pub scaling_config: ScalingConfigArgs,
    /// EC2 instance types, e.g. `["t3.medium"]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(replaces)]
    pub instance_types: Option<Vec<Input<String>>>,
    /// `ON_DEMAND` or `SPOT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(replaces, default = "ON_DEMAND", ty = PropType::one_of(&["ON_DEMAND", "SPOT"]))]
    pub capacity_type: Option<Input<String>>,
    /// Kubernetes labels of the nodes (in place).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, Input<String>>>,
    /// Tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Input<String>>>,
}

/// How many nodes.
#[derive(Serialize, Clone, Debug, PropObject)]
#[serde(rename_all = "camelCase")]
pub struct ScalingConfigArgs {
    /// Nodes wanted now.
    pub desired_size: Input<i64>,
    /// At least this many (0 or more).
    pub min_size: Input<i64>,
    /// At most this many (1 or more).
    pub max_size: Input<i64>,
}

#[derive(Outputs)]
pub struct NodeGroupOutputs {
    /// The node group's ARN.
    pub arn: Output<String>,
    /// The node group's status (`ACTIVE` once created).
    pub status: Output<String>,
}

fn status(n: &NodegroupModel) -> &str {
    n.status().map(|s| s.as_str()).unwrap_or("unknown")
}

fn outputs_of(n: &NodegroupModel) -> Map {
    let mut out = Map::new();
    out.insert("arn".into(), n.nodegroup_arn().unwrap_or_default().into());
    out.insert("status".into(), status(n).into());
    out
}

fn not_found(code: Option<&str>) -> bool {
    code == Some("ResourceNotFoundException")
}

/// `cluster:nodegroup` → (cluster, nodegroup).
fn split_id(id: &str) -> (&str, &str) {
    id.split_once(':').unwrap_or(("", id))
}

fn scaling(inputs: &Map) -> Option<(i64, i64, i64)> {
    let s = inputs.get("scalingConfig").and_then(Value::as_map)?;
    Some((
        get_i64(s, "minSize")?,
        get_i64(s, "desiredSize")?,
        get_i64(s, "maxSize")?,
    ))
}

fn scaling_request(inputs: &Map) -> Option<NodegroupScalingConfig> {
    let (min, desired, max) = scaling(inputs)?;
    Some(
        NodegroupScalingConfig::builder()
            .min_size(min as i32)
            .desired_size(desired as i32)
            .max_size(max as i32)
            .build(),
    )
}

fn check(inputs: &Map) -> Vec<CheckFailure> {
    let mut out = Vec::new();
    if let Some(n) = concrete_str(inputs, "nodeGroupName") {
        let bad = n.is_empty()
            || n.len() > 63
            || !n.starts_with(|c: char| c.is_ascii_alphanumeric())
            || !n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if bad {
            out.push(
                CheckFailure::error(
                    rules::NAME,
                    PropertyPath::key("nodeGroupName"),
                    format!("node group name `{n}` is not accepted by EKS"),
                )
                .with_help(
                    "use 1 to 63 letters, digits, `-` and `_`, starting with a letter or digit",
                ),
            );
        }
    }
    if let Some((min, desired, max)) = scaling(inputs) {
        let problem = if min < 0 || max < 1 {
            Some(format!(
                "minSize must be 0 or more and maxSize 1 or more (got {min} and {max})"
            ))
        } else if !(min <= desired && desired <= max) {
            Some(format!(
                "EKS wants minSize ≤ desiredSize ≤ maxSize; got {min} ≤ {desired} ≤ {max}"
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            out.push(
                CheckFailure::error(rules::SCALING, PropertyPath::key("scalingConfig"), problem)
                    .with_help("choose desiredSize between minSize and maxSize"),
            );
        }
    }
    out
}

pub struct NodeGroupProvider {
    schema: ResourceSchema,
    clients: Shared,
}

impl NodeGroupProvider {
    pub fn new(clients: Shared) -> Self {
        NodeGroupProvider {
            schema: NodeGroup::schema(),
            clients,
        }
    }

    async fn describe(
        &self,
        resource: &str,
        cluster: &str,
        name: &str,
    ) -> Result<Option<NodegroupModel>, ProviderError> {
        let sdk = self.clients.get().await?;
        match sdk
            .eks
            .describe_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(name)
            .send()
            .await
        {
            Ok(out) => Ok(out.nodegroup().cloned()),
            Err(e) if not_found(error_code(&e)) => Ok(None),
            Err(e) => Err(api_error(resource, "eks:DescribeNodegroup", e, &[])),
        }
    }

    async fn wait_active(
        &self,
        ctx: &CallContext,
        resource: &str,
        cluster: &str,
        name: &str,
        deadline: Duration,
    ) -> Result<NodegroupModel, ProviderError> {
        wait_until(
            ctx,
            &self.clients,
            WaitSpec {
                resource,
                api: "eks:DescribeNodegroup",
                wanted: "ACTIVE",
                deadline,
            },
            || async {
                Ok(match self.describe(resource, cluster, name).await? {
                    Some(n) if status(&n) == "ACTIVE" => Probe::Done(n),
                    Some(n) if matches!(status(&n), "CREATE_FAILED" | "DELETING" | "DEGRADED") => {
                        Probe::Failed(status(&n).to_string())
                    }
                    Some(n) => Probe::Pending(status(&n).to_string()),
                    None => Probe::Pending("not visible yet".into()),
                })
            },
        )
        .await
    }

    async fn adopt(
        &self,
        ctx: &CallContext,
        resource: &str,
        cluster: &str,
        name: &str,
    ) -> Result<Option<Created>, ProviderError> {
        let Some(n) = self.describe(resource, cluster, name).await? else {
            return Ok(None);
        };
        let id = format!("{cluster}:{name}");
        let tags: BTreeMap<String, String> = n
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        ensure_ours(ctx, resource, &id, Some(&tags))?;
        if status(&n) == "DELETING" {
            return Ok(None);
        }
        ctx.report("adopting the node group (it carries this resource's tag)");
        let n = self
            .wait_active(
                ctx,
                resource,
                cluster,
                name,
                ctx.deadline(Operation::Create, CREATE_TIMEOUT),
            )
            .await?;
        Ok(Some(Created {
            id,
            outputs: outputs_of(&n),
        }))
    }
}

#[async_trait]
impl ResourceProvider for NodeGroupProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        check(inputs)
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let cluster = get_str(inputs, "clusterName")
            .unwrap_or_default()
            .to_string();
        let name = get_str(inputs, "nodeGroupName")
            .ok_or_else(|| ProviderError::invalid(&resource, "nodeGroupName is required"))?
            .to_string();
        let sdk = self.clients.get().await?;
        let mut tags = get_tags(inputs, "tags");
        tags.insert(URN_TAG.to_string(), ctx.urn.clone());
        let types = get_str_list(inputs, "instanceTypes");
        let token = ctx
            .create_token
            .clone()
            .unwrap_or_else(|| stable_token(&[&ctx.urn, "eks:CreateNodegroup"]));
        let out = sdk
            .eks
            .create_nodegroup()
            .cluster_name(&cluster)
            .nodegroup_name(&name)
            .node_role(get_str(inputs, "nodeRoleArn").unwrap_or_default())
            .set_subnets(Some(get_str_list(inputs, "subnetIds")))
            .set_scaling_config(scaling_request(inputs))
            .set_instance_types((!types.is_empty()).then_some(types))
            .capacity_type(CapacityTypes::from(
                get_str(inputs, "capacityType").unwrap_or("ON_DEMAND"),
            ))
            .set_labels(Some(get_tags(inputs, "labels").into_iter().collect()))
            .set_tags(Some(tags.into_iter().collect()))
            .client_request_token(token)
            .send()
            .await;
        match out {
            Ok(_) => {}
            Err(e) if error_code(&e) == Some("ResourceInUseException") => {
                return match self.adopt(ctx, &resource, &cluster, &name).await {
                    Ok(Some(c)) => Ok(c),
                    Ok(None) => Err(api_error(&resource, "eks:CreateNodegroup", e, &[])),
                    Err(ProviderError::NotOwned { found, .. }) => Err(api_failure(
                        &resource,
                        "eks:CreateNodegroup",
                        "ResourceInUseException",
                        format!(
                            "the node group {name} of cluster {cluster} already exists and was \
                             not made by this resource (it carries {found}, not {URN_TAG}={}): \
                             choose another name, delete that node group, or import it",
                            ctx.urn
                        ),
                    )),
                    Err(other) => Err(other),
                };
            }
            Err(e) => return Err(api_error(&resource, "eks:CreateNodegroup", e, &[])),
        }
        let n = self
            .wait_active(
                ctx,
                &resource,
                &cluster,
                &name,
                ctx.deadline(Operation::Create, CREATE_TIMEOUT),
            )
            .await?;
        Ok(Created {
            id: format!("{cluster}:{name}"),
            outputs: outputs_of(&n),
        })
    }

    async fn read(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let (cluster, name) = split_id(id);
        let Some(n) = self.describe(&resource, cluster, name).await? else {
            return Ok(None);
        };
        if status(&n) == "DELETING" {
            return Ok(None);
        }
        let mut obs = Map::new();
        obs.insert(
            "clusterName".into(),
            n.cluster_name().unwrap_or(cluster).into(),
        );
        obs.insert(
            "nodeGroupName".into(),
            n.nodegroup_name().unwrap_or(name).into(),
        );
        obs.insert(
            "nodeRoleArn".into(),
            n.node_role().unwrap_or_default().into(),
        );
        obs.insert(
            "subnetIds".into(),
            str_list_value(&order_like(n.subnets(), &get_str_list(inputs, "subnetIds"))),
        );
        if let Some(s) = n.scaling_config() {
            let mut m = Map::new();
            for (k, v) in [
                ("desiredSize", s.desired_size()),
                ("minSize", s.min_size()),
                ("maxSize", s.max_size()),
            ] {
                m.insert(k.into(), Value::Int(v.unwrap_or_default().into()));
            }
            obs.insert("scalingConfig".into(), Value::Map(m));
        }
        if inputs.contains_key("instanceTypes") || !n.instance_types().is_empty() {
            obs.insert("instanceTypes".into(), str_list_value(n.instance_types()));
        }
        obs.insert(
            "capacityType".into(),
            n.capacity_type()
                .map(|c| c.as_str())
                .unwrap_or("ON_DEMAND")
                .into(),
        );
        let labels: BTreeMap<String, String> = n
            .labels()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        if inputs.contains_key("labels") || !labels.is_empty() {
            obs.insert("labels".into(), tags_value(&labels));
        }
        let mut tags: BTreeMap<String, String> = n
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        tags.retain(|k, _| !crate::util::is_internal_tag(k));
        if inputs.contains_key("tags") || !tags.is_empty() {
            obs.insert("tags".into(), tags_value(&tags));
        }
        Ok(Some(Observed {
            id: id.to_string(),
            inputs: obs,
            outputs: outputs_of(&n),
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
        let (cluster, name) = split_id(id);
        let sdk = self.clients.get().await?;
        let deadline = ctx.deadline(Operation::Update, UPDATE_TIMEOUT);
        let scaling_changed = old.get("scalingConfig") != new.get("scalingConfig");
        let labels_changed = old.get("labels") != new.get("labels");
        if scaling_changed || labels_changed {
            let mut req = sdk
                .eks
                .update_nodegroup_config()
                .cluster_name(cluster)
                .nodegroup_name(name);
            if scaling_changed {
                req = req.set_scaling_config(scaling_request(new));
            }
            if labels_changed {
                let (set, gone) = tag_diff(&get_tags(old, "labels"), &get_tags(new, "labels"));
                req = req.labels(
                    UpdateLabelsPayload::builder()
                        .set_add_or_update_labels(
                            (!set.is_empty()).then(|| set.into_iter().collect()),
                        )
                        .set_remove_labels((!gone.is_empty()).then_some(gone))
                        .build(),
                );
            }
            let out = req
                .send()
                .await
                .map_err(|e| api_error(&resource, "eks:UpdateNodegroupConfig", e, &[]))?;
            if let Some(update_id) = out.update().and_then(|u| u.id()) {
                wait_until(
                    ctx,
                    &self.clients,
                    WaitSpec {
                        resource: &resource,
                        api: "eks:DescribeUpdate",
                        wanted: "Successful",
                        deadline,
                    },
                    || async {
                        let out = sdk
                            .eks
                            .describe_update()
                            .name(cluster)
                            .nodegroup_name(name)
                            .update_id(update_id)
                            .send()
                            .await
                            .map_err(|e| api_error(&resource, "eks:DescribeUpdate", e, &[]))?;
                        let st = out
                            .update()
                            .and_then(|u| u.status())
                            .map(|s| s.as_str().to_string())
                            .unwrap_or_else(|| "unknown".into());
                        Ok(match st.as_str() {
                            "Successful" => Probe::Done(()),
                            "Failed" | "Cancelled" => Probe::Failed(format!("update {st}")),
                            _ => Probe::Pending(format!("update {st}")),
                        })
                    },
                )
                .await?;
            }
        }
        let n = self
            .wait_active(ctx, &resource, cluster, name, deadline)
            .await?;
        if old.get("tags") != new.get("tags") {
            let arn = n.nodegroup_arn().unwrap_or_default().to_string();
            let (set, gone) = tag_diff(&get_tags(old, "tags"), &get_tags(new, "tags"));
            if !set.is_empty() {
                sdk.eks
                    .tag_resource()
                    .resource_arn(&arn)
                    .set_tags(Some(set.into_iter().collect()))
                    .send()
                    .await
                    .map_err(|e| api_error(&resource, "eks:TagResource", e, &[]))?;
            }
            if !gone.is_empty() {
                sdk.eks
                    .untag_resource()
                    .resource_arn(&arn)
                    .set_tag_keys(Some(gone))
                    .send()
                    .await
                    .map_err(|e| api_error(&resource, "eks:UntagResource", e, &[]))?;
            }
        }
        Ok(outputs_of(&n))
    }

    async fn delete(
        &self,
        ctx: &CallContext,
        id: &str,
        _inputs: &Map,
        _outputs: &Map,
    ) -> Result<(), ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let (cluster, name) = split_id(id);
        let sdk = self.clients.get().await?;
        match sdk
            .eks
            .delete_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(name)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if not_found(error_code(&e)) => return Ok(()),
            Err(e) => return Err(api_error(&resource, "eks:DeleteNodegroup", e, &[])),
        }
        wait_until(
            ctx,
            &self.clients,
            WaitSpec {
                resource: &resource,
                api: "eks:DescribeNodegroup",
                wanted: "deleted",
                deadline: ctx.deadline(Operation::Delete, DELETE_TIMEOUT),
            },
            || async {
                Ok(match self.describe(&resource, cluster, name).await? {
                    None => Probe::Done(()),
                    Some(n) => Probe::Pending(status(&n).to_string()),
                })
            },
        )
        .await
    }

    async fn recover(
        &self,
        ctx: &CallContext,
        inputs: &Map,
    ) -> Result<Option<Created>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let (Some(cluster), Some(name)) = (
            get_str(inputs, "clusterName"),
            get_str(inputs, "nodeGroupName"),
        ) else {
            return Ok(None);
        };
        match self.adopt(ctx, &resource, cluster, name).await {
            // The cluster itself is gone: nothing to adopt.
            Err(ProviderError::Api { code, .. }) if code == "ResourceNotFoundException" => Ok(None),
            other => other,
        }
    }
}
