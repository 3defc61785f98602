//! `aws:eks:Cluster`: an EKS control plane (Pulumi's `aws.eks.Cluster`).
//! Name, role and subnets/security groups are fixed at create; the version
//! (UpdateClusterVersion, one minor at a time), endpoint access
//! (UpdateClusterConfig), adding secrets encryption
//! (AssociateEncryptionConfig) and tags change in place, each update
//! waited for through DescribeUpdate. Waiters follow EKS's statuses:
//! `CREATING` → `ACTIVE`, `UPDATING` → `ACTIVE`, `DELETING` → gone (a
//! cluster whose node groups are still going waits for them). CreateCluster
//! carries a client token from the create call, and a create that finds the
//! name taken adopts the cluster only when it carries this resource's
//! `cairn:urn` tag.

use crate::clients::Shared;
use crate::util::{
    api_error, api_failure, concrete_str, ensure_ours, error_code, get_bool, get_str, get_str_list,
    get_tags, order_like, resource_label, stable_token, str_list_value, tag_diff, tags_value,
    URN_TAG,
};
use crate::wait::{wait_until, Probe, WaitSpec};
use async_trait::async_trait;
use aws_sdk_eks::error::ProvideErrorMetadata;
use aws_sdk_eks::types::{Cluster as ClusterModel, EncryptionConfig, Provider, VpcConfigRequest};
use cairn_core::dsl::{DeclaredType, Input, Output, Outputs, PropObject, Resource};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, Operation, ProviderError, ResourceProvider,
};
use cairn_core::schema::{PropType, ResourceSchema};
use cairn_core::value::{Map, PropertyPath, Value};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

pub const TOKEN: &str = "aws:eks:Cluster";
const CREATE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const UPDATE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
const DELETE_TIMEOUT: Duration = Duration::from_secs(15 * 60);

pub mod rules {
    pub const NAME: &str = "aws::eks::cluster-name";
    pub const VERSION: &str = "aws::eks::version";
    pub const VERSION_UPGRADE: &str = "aws::eks::version-upgrade";
    pub const SUBNETS: &str = "aws::eks::subnets";
    pub const ENCRYPTION: &str = "aws::eks::encryption-config";
    pub const ENCRYPTION_CHANGE: &str = "aws::eks::encryption-config-change";
}

pub struct Cluster;

/// An EKS cluster (the Kubernetes control plane).
#[derive(Serialize, Clone, Debug, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(token = "aws:eks:Cluster", kind = Cluster, outputs = ClusterOutputs, fixed_name)]
pub struct ClusterArgs {
    /// Cluster name: 1 to 100 letters, digits, `-` and `_`, a letter or digit first.
    #[prop(replaces, ty = PropType::String { min_len: Some(1), max_len: Some(100) })]
    pub name: Input<String>,
    /// IAM role the control plane uses (cannot change after create).
    #[prop(replaces)]
    pub role_arn: Input<String>,
    /// Kubernetes version `MAJOR.MINOR`, e.g. `1.30`; upgraded in place one minor version at a time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<Input<String>>,
    /// Networking of the control plane.
    pub vpc_config: VpcConfigArgs,
    /// Envelope encryption of Kubernetes secrets with a KMS key; can be added later, never changed or removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_config: Option<EncryptionConfigArgs>,
    /// Tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Input<String>>>,
}

/// The cluster's subnets, security groups and API endpoint access.
#[derive(Serialize, Clone, Debug, PropObject)]
#[serde(rename_all = "camelCase")]
pub struct VpcConfigArgs {
    /// Subnets (at least two, in different Availability Zones) for the control plane's network interfaces.
    #[prop(replaces)]
    pub subnet_ids: Vec<Input<String>>,
    /// Extra security groups for the control plane's network interfaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(replaces)]
    pub security_group_ids: Option<Vec<Input<String>>>,
    /// The API endpoint is reachable from inside the VPC (in place).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(default = false)]
    pub endpoint_private_access: Option<Input<bool>>,
    /// The API endpoint is reachable from the internet (in place).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(default = true)]
    pub endpoint_public_access: Option<Input<bool>>,
    /// CIDR blocks allowed to reach the public endpoint (in place; AWS's default is `0.0.0.0/0`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_access_cidrs: Option<Vec<Input<String>>>,
}

/// Secrets encryption.
#[derive(Serialize, Clone, Debug, PropObject)]
#[serde(rename_all = "camelCase")]
pub struct EncryptionConfigArgs {
    /// The KMS key.
    pub provider: EncryptionProviderArgs,
    /// What is encrypted: `["secrets"]`.
    pub resources: Vec<Input<String>>,
}

/// The KMS key encrypting secrets.
#[derive(Serialize, Clone, Debug, PropObject)]
#[serde(rename_all = "camelCase")]
pub struct EncryptionProviderArgs {
    /// ARN of a symmetric KMS key in the cluster's Region.
    pub key_arn: Input<String>,
}

#[derive(Outputs)]
pub struct ClusterOutputs {
    /// The cluster's ARN.
    pub arn: Output<String>,
    /// The Kubernetes API server endpoint.
    pub endpoint: Output<String>,
    /// `{data}`: the base64 certificate authority of the API server.
    pub certificate_authority: Output<serde_json::Value>,
    /// `[{oidcs: [{issuer}]}]`: the cluster's OIDC identity provider (for IRSA).
    pub identities: Output<Vec<Value>>,
    /// The OIDC issuer URL (the same as `identities[0].oidcs[0].issuer`).
    pub oidc_issuer: Output<String>,
    /// The cluster's status (`ACTIVE` once created).
    pub status: Output<String>,
}

fn status(c: &ClusterModel) -> &str {
    c.status().map(|s| s.as_str()).unwrap_or("unknown")
}

fn issuer(c: &ClusterModel) -> &str {
    c.identity()
        .and_then(|i| i.oidc())
        .and_then(|o| o.issuer())
        .unwrap_or_default()
}

fn outputs_of(c: &ClusterModel) -> Map {
    let mut out = Map::new();
    out.insert("arn".into(), c.arn().unwrap_or_default().into());
    out.insert("endpoint".into(), c.endpoint().unwrap_or_default().into());
    let mut ca = Map::new();
    ca.insert(
        "data".into(),
        c.certificate_authority()
            .and_then(|a| a.data())
            .unwrap_or_default()
            .into(),
    );
    out.insert("certificateAuthority".into(), Value::Map(ca));
    let mut oidc = Map::new();
    oidc.insert("issuer".into(), issuer(c).into());
    let mut identity = Map::new();
    identity.insert("oidcs".into(), Value::List(vec![Value::Map(oidc)]));
    out.insert("identities".into(), Value::List(vec![Value::Map(identity)]));
    out.insert("oidcIssuer".into(), issuer(c).into());
    out.insert("status".into(), status(c).into());
    out
}

fn not_found(code: Option<&str>) -> bool {
    code == Some("ResourceNotFoundException")
}

/// AWS: `^[0-9A-Za-z][A-Za-z0-9\-_]*`, 1 to 100 characters.
pub(crate) fn name_problem(n: &str) -> Option<String> {
    if n.is_empty() || n.len() > 100 {
        return Some("must be 1 to 100 characters".into());
    }
    if !n.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Some("must begin with a letter or digit".into());
    }
    crate::util::disallowed_chars(n, |c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        .map(|bad| format!("contains {bad}; only letters, digits, `-` and `_` are allowed"))
}

/// `1.30` → (1, 30).
fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (major, minor) = v.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

fn sub<'a>(m: &'a Map, k: &str) -> Option<&'a Map> {
    m.get(k).and_then(Value::as_map)
}

fn key_arn(inputs: &Map) -> Option<&str> {
    sub(inputs, "encryptionConfig")
        .and_then(|e| sub(e, "provider"))
        .and_then(|p| get_str(p, "keyArn"))
}

// `resources` is deprecated in the SDK (EKS encrypts all API data now) but still Pulumi's shape.
#[allow(deprecated)]
fn encryption_request(inputs: &Map) -> Option<Vec<EncryptionConfig>> {
    let enc = sub(inputs, "encryptionConfig")?;
    Some(vec![EncryptionConfig::builder()
        .provider(
            Provider::builder()
                .set_key_arn(key_arn(inputs).map(str::to_string))
                .build(),
        )
        .set_resources(Some(get_str_list(enc, "resources")))
        .build()])
}

/// The in-place part of `vpcConfig` (endpoint access), as UpdateClusterConfig takes it.
fn access_request(vpc: &Map) -> VpcConfigRequest {
    let cidrs = get_str_list(vpc, "publicAccessCidrs");
    VpcConfigRequest::builder()
        .endpoint_private_access(get_bool(vpc, "endpointPrivateAccess").unwrap_or(false))
        .endpoint_public_access(get_bool(vpc, "endpointPublicAccess").unwrap_or(true))
        .set_public_access_cidrs((!cidrs.is_empty()).then_some(cidrs))
        .build()
}

fn check(inputs: &Map) -> Vec<CheckFailure> {
    let mut out = Vec::new();
    if let Some(n) = concrete_str(inputs, "name") {
        if let Some(problem) = name_problem(n) {
            out.push(
                CheckFailure::error(
                    rules::NAME,
                    PropertyPath::key("name"),
                    format!("EKS cluster name `{n}` {problem}"),
                )
                .with_help("use letters, digits, `-` and `_`, starting with a letter or digit, e.g. `platform`"),
            );
        }
    }
    if let Some(v) = concrete_str(inputs, "version") {
        if parse_version(v).is_none() {
            out.push(
                CheckFailure::error(
                    rules::VERSION,
                    PropertyPath::key("version"),
                    format!("`{v}` is not a Kubernetes version EKS takes: it wants MAJOR.MINOR"),
                )
                .with_help("write e.g. `1.30`"),
            );
        }
    }
    if let Some(vpc) = sub(inputs, "vpcConfig") {
        let n = vpc
            .get("subnetIds")
            .and_then(Value::as_list)
            .map(|l| l.len());
        if n.is_some_and(|n| n < 2) {
            out.push(
                CheckFailure::error(
                    rules::SUBNETS,
                    PropertyPath::key("vpcConfig").child("subnetIds"),
                    "EKS needs subnets in at least two Availability Zones; one subnet is given",
                )
                .with_help("list at least two subnets in different Availability Zones"),
            );
        }
    }
    if let Some(enc) = sub(inputs, "encryptionConfig") {
        let resources = get_str_list(enc, "resources");
        if resources != ["secrets"] {
            out.push(
                CheckFailure::error(
                    rules::ENCRYPTION,
                    PropertyPath::key("encryptionConfig").child("resources"),
                    format!("EKS encrypts only `secrets`, not {resources:?}"),
                )
                .with_help("write `resources: [secrets]`"),
            );
        }
    }
    out
}

fn check_change(old: &Map, new: &Map) -> Vec<CheckFailure> {
    let mut out = Vec::new();
    if let (Some(ov), Some(nv)) = (concrete_str(old, "version"), concrete_str(new, "version")) {
        if let (Some((om, omi)), Some((nm, nmi))) = (parse_version(ov), parse_version(nv)) {
            let problem = if (nm, nmi) < (om, omi) {
                Some(format!("EKS cannot downgrade Kubernetes: {ov} to {nv}"))
            } else if nm != om || nmi > omi + 1 {
                Some(format!(
                    "EKS upgrades one minor version at a time: {ov} to {nv} skips versions"
                ))
            } else {
                None
            };
            if let Some(problem) = problem {
                out.push(
                    CheckFailure::error(
                        rules::VERSION_UPGRADE,
                        PropertyPath::key("version"),
                        problem,
                    )
                    .with_help(format!(
                        "set version to {om}.{} and run up, then the next minor version",
                        omi + 1
                    )),
                );
            }
        }
    }
    if let Some(old_enc) = old
        .get("encryptionConfig")
        .filter(|v| !matches!(v, Value::Null))
    {
        let new_enc = new
            .get("encryptionConfig")
            .filter(|v| !matches!(v, Value::Null));
        let unknown = new_enc.is_some() && key_arn(new).is_some_and(crate::util::is_unresolved);
        if new_enc != Some(old_enc) && !unknown {
            out.push(
                CheckFailure::error(
                    rules::ENCRYPTION_CHANGE,
                    PropertyPath::key("encryptionConfig"),
                    "EKS cannot remove or change a cluster's secrets encryption once enabled",
                )
                .with_help("keep encryptionConfig as it is; a different key needs a new cluster"),
            );
        }
    }
    out
}

pub struct ClusterProvider {
    schema: ResourceSchema,
    clients: Shared,
}

impl ClusterProvider {
    pub fn new(clients: Shared) -> Self {
        ClusterProvider {
            schema: Cluster::schema(),
            clients,
        }
    }

    async fn describe(
        &self,
        resource: &str,
        name: &str,
    ) -> Result<Option<ClusterModel>, ProviderError> {
        let sdk = self.clients.get().await?;
        match sdk.eks.describe_cluster().name(name).send().await {
            Ok(out) => Ok(out.cluster().cloned()),
            Err(e) if not_found(error_code(&e)) => Ok(None),
            Err(e) => Err(api_error(resource, "eks:DescribeCluster", e, &[])),
        }
    }

    /// Polls until the cluster is `ACTIVE` (reporting every status seen).
    async fn wait_active(
        &self,
        ctx: &CallContext,
        resource: &str,
        name: &str,
        deadline: Duration,
    ) -> Result<ClusterModel, ProviderError> {
        wait_until(
            ctx,
            &self.clients,
            WaitSpec {
                resource,
                api: "eks:DescribeCluster",
                wanted: "ACTIVE",
                deadline,
            },
            || async {
                Ok(match self.describe(resource, name).await? {
                    Some(c) if status(&c) == "ACTIVE" => Probe::Done(c),
                    Some(c) if matches!(status(&c), "FAILED" | "DELETING") => {
                        Probe::Failed(status(&c).to_string())
                    }
                    Some(c) => Probe::Pending(status(&c).to_string()),
                    None => Probe::Pending("not visible yet".into()),
                })
            },
        )
        .await
    }

    /// Polls DescribeUpdate until the update `id` is `Successful`.
    async fn wait_update(
        &self,
        ctx: &CallContext,
        resource: &str,
        name: &str,
        id: &str,
    ) -> Result<(), ProviderError> {
        let sdk = self.clients.get().await?;
        wait_until(
            ctx,
            &self.clients,
            WaitSpec {
                resource,
                api: "eks:DescribeUpdate",
                wanted: "Successful",
                deadline: ctx.deadline(Operation::Update, UPDATE_TIMEOUT),
            },
            || async {
                let out = sdk
                    .eks
                    .describe_update()
                    .name(name)
                    .update_id(id)
                    .send()
                    .await
                    .map_err(|e| api_error(resource, "eks:DescribeUpdate", e, &[]))?;
                let Some(u) = out.update() else {
                    return Ok(Probe::Pending("not visible yet".into()));
                };
                let st = u.status().map(|s| s.as_str()).unwrap_or("unknown");
                Ok(match st {
                    "Successful" => Probe::Done(()),
                    "Failed" | "Cancelled" => {
                        let why: Vec<String> = u
                            .errors()
                            .iter()
                            .filter_map(|e| e.error_message().map(str::to_string))
                            .collect();
                        Probe::Failed(format!("update {st}: {}", why.join("; ")))
                    }
                    _ => Probe::Pending(format!("update {st}")),
                })
            },
        )
        .await
    }

    async fn adopt(
        &self,
        ctx: &CallContext,
        resource: &str,
        name: &str,
    ) -> Result<Option<Created>, ProviderError> {
        let Some(c) = self.describe(resource, name).await? else {
            return Ok(None);
        };
        let tags: BTreeMap<String, String> = c
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        ensure_ours(ctx, resource, name, Some(&tags))?;
        if status(&c) == "DELETING" {
            return Ok(None);
        }
        ctx.report("adopting the cluster (it carries this resource's tag)");
        let c = self
            .wait_active(
                ctx,
                resource,
                name,
                ctx.deadline(Operation::Create, CREATE_TIMEOUT),
            )
            .await?;
        Ok(Some(Created {
            id: name.to_string(),
            outputs: outputs_of(&c),
        }))
    }
}

#[async_trait]
impl ResourceProvider for ClusterProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        check(inputs)
    }

    fn check_change(&self, old: &Map, new: &Map) -> Vec<CheckFailure> {
        check_change(old, new)
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let name = get_str(inputs, "name")
            .ok_or_else(|| ProviderError::invalid(&resource, "name is required"))?
            .to_string();
        let sdk = self.clients.get().await?;
        let mut tags = get_tags(inputs, "tags");
        tags.insert(URN_TAG.to_string(), ctx.urn.clone());
        let empty = Map::new();
        let vpc = sub(inputs, "vpcConfig").unwrap_or(&empty);
        let sgs = get_str_list(vpc, "securityGroupIds");
        let cidrs = get_str_list(vpc, "publicAccessCidrs");
        let token = ctx
            .create_token
            .clone()
            .unwrap_or_else(|| stable_token(&[&ctx.urn, "eks:CreateCluster"]));
        let out = sdk
            .eks
            .create_cluster()
            .name(&name)
            .role_arn(get_str(inputs, "roleArn").unwrap_or_default())
            .set_version(crate::util::get_string(inputs, "version"))
            .resources_vpc_config(
                VpcConfigRequest::builder()
                    .set_subnet_ids(Some(get_str_list(vpc, "subnetIds")))
                    .set_security_group_ids((!sgs.is_empty()).then_some(sgs))
                    .endpoint_private_access(
                        get_bool(vpc, "endpointPrivateAccess").unwrap_or(false),
                    )
                    .endpoint_public_access(get_bool(vpc, "endpointPublicAccess").unwrap_or(true))
                    .set_public_access_cidrs((!cidrs.is_empty()).then_some(cidrs))
                    .build(),
            )
            .set_encryption_config(encryption_request(inputs))
            .client_request_token(token)
            .set_tags(Some(tags.into_iter().collect()))
            .send()
            .await;
        match out {
            Ok(_) => {}
            // Our own earlier attempt whose answer was lost (another token),
            // or somebody else's cluster: adopt it only if it is ours.
            Err(e) if error_code(&e) == Some("ResourceInUseException") => {
                return match self.adopt(ctx, &resource, &name).await {
                    Ok(Some(c)) => Ok(c),
                    Ok(None) => Err(api_error(&resource, "eks:CreateCluster", e, &[])),
                    Err(ProviderError::NotOwned { found, .. }) => Err(api_failure(
                        &resource,
                        "eks:CreateCluster",
                        "ResourceInUseException",
                        format!(
                            "the EKS cluster {name} already exists and was not made by this \
                             resource (it carries {found}, not {URN_TAG}={}): choose another \
                             name, delete that cluster, or import it",
                            ctx.urn
                        ),
                    )),
                    Err(other) => Err(other),
                };
            }
            Err(e) => return Err(api_error(&resource, "eks:CreateCluster", e, &[])),
        }
        let c = self
            .wait_active(
                ctx,
                &resource,
                &name,
                ctx.deadline(Operation::Create, CREATE_TIMEOUT),
            )
            .await?;
        Ok(Created {
            id: name,
            outputs: outputs_of(&c),
        })
    }

    async fn read(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let Some(c) = self.describe(&resource, id).await? else {
            return Ok(None);
        };
        if status(&c) == "DELETING" {
            return Ok(None);
        }
        let mut obs = Map::new();
        obs.insert("name".into(), c.name().unwrap_or(id).into());
        obs.insert("roleArn".into(), c.role_arn().unwrap_or_default().into());
        if let Some(v) = c.version() {
            if inputs.contains_key("version") {
                obs.insert("version".into(), v.into());
            }
        }
        let empty = Map::new();
        let want = sub(inputs, "vpcConfig").unwrap_or(&empty);
        let mut vpc = Map::new();
        if let Some(r) = c.resources_vpc_config() {
            vpc.insert(
                "subnetIds".into(),
                str_list_value(&order_like(
                    r.subnet_ids(),
                    &get_str_list(want, "subnetIds"),
                )),
            );
            if want.contains_key("securityGroupIds") || !r.security_group_ids().is_empty() {
                vpc.insert(
                    "securityGroupIds".into(),
                    str_list_value(&order_like(
                        r.security_group_ids(),
                        &get_str_list(want, "securityGroupIds"),
                    )),
                );
            }
            for (key, value, default) in [
                ("endpointPrivateAccess", r.endpoint_private_access(), false),
                ("endpointPublicAccess", r.endpoint_public_access(), true),
            ] {
                if want.contains_key(key) || value != default {
                    vpc.insert(key.into(), value.into());
                }
            }
            let cidrs = r.public_access_cidrs();
            if want.contains_key("publicAccessCidrs") || cidrs != ["0.0.0.0/0"] {
                vpc.insert(
                    "publicAccessCidrs".into(),
                    str_list_value(&order_like(cidrs, &get_str_list(want, "publicAccessCidrs"))),
                );
            }
        }
        obs.insert("vpcConfig".into(), Value::Map(vpc));
        if let Some(e) = c.encryption_config().first() {
            let mut provider = Map::new();
            provider.insert(
                "keyArn".into(),
                e.provider()
                    .and_then(|p| p.key_arn())
                    .unwrap_or_default()
                    .into(),
            );
            let mut enc = Map::new();
            enc.insert("provider".into(), Value::Map(provider));
            #[allow(deprecated)]
            enc.insert("resources".into(), str_list_value(e.resources()));
            obs.insert("encryptionConfig".into(), Value::Map(enc));
        }
        let mut tags: BTreeMap<String, String> = c
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        tags.retain(|k, _| !crate::util::is_internal_tag(k));
        if inputs.contains_key("tags") || !tags.is_empty() {
            obs.insert("tags".into(), tags_value(&tags));
        }
        Ok(Some(Observed {
            id: c.name().unwrap_or(id).to_string(),
            inputs: obs,
            outputs: outputs_of(&c),
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
        let deadline = ctx.deadline(Operation::Update, UPDATE_TIMEOUT);
        // EKS runs one update at a time: each is waited for before the next.
        if old.get("version") != new.get("version") {
            if let Some(v) = get_str(new, "version") {
                let out = sdk
                    .eks
                    .update_cluster_version()
                    .name(id)
                    .version(v)
                    .send()
                    .await
                    .map_err(|e| api_error(&resource, "eks:UpdateClusterVersion", e, &[]))?;
                if let Some(u) = out.update().and_then(|u| u.id()) {
                    self.wait_update(ctx, &resource, id, u).await?;
                }
                self.wait_active(ctx, &resource, id, deadline).await?;
            }
        }
        let empty = Map::new();
        let (ov, nv) = (
            sub(old, "vpcConfig").unwrap_or(&empty),
            sub(new, "vpcConfig").unwrap_or(&empty),
        );
        let access_changed = [
            "endpointPrivateAccess",
            "endpointPublicAccess",
            "publicAccessCidrs",
        ]
        .iter()
        .any(|k| ov.get(*k) != nv.get(*k));
        if access_changed {
            let out = sdk
                .eks
                .update_cluster_config()
                .name(id)
                .resources_vpc_config(access_request(nv))
                .send()
                .await
                .map_err(|e| api_error(&resource, "eks:UpdateClusterConfig", e, &[]))?;
            if let Some(u) = out.update().and_then(|u| u.id()) {
                self.wait_update(ctx, &resource, id, u).await?;
            }
            self.wait_active(ctx, &resource, id, deadline).await?;
        }
        let had_encryption = old
            .get("encryptionConfig")
            .is_some_and(|v| !matches!(v, Value::Null));
        if !had_encryption {
            if let Some(config) = encryption_request(new) {
                let out = sdk
                    .eks
                    .associate_encryption_config()
                    .cluster_name(id)
                    .set_encryption_config(Some(config))
                    .send()
                    .await
                    .map_err(|e| api_error(&resource, "eks:AssociateEncryptionConfig", e, &[]))?;
                if let Some(u) = out.update().and_then(|u| u.id()) {
                    self.wait_update(ctx, &resource, id, u).await?;
                }
            }
        }
        let c = self.wait_active(ctx, &resource, id, deadline).await?;
        if old.get("tags") != new.get("tags") {
            let arn = c.arn().unwrap_or_default().to_string();
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
        Ok(outputs_of(&c))
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
        let deadline = ctx.deadline(Operation::Delete, DELETE_TIMEOUT);
        // Node groups still being deleted keep the cluster in use: retry until they are gone.
        wait_until(
            ctx,
            &self.clients,
            WaitSpec {
                resource: &resource,
                api: "eks:DeleteCluster",
                wanted: "deletion started",
                deadline,
            },
            || async {
                match sdk.eks.delete_cluster().name(id).send().await {
                    Ok(_) => Ok(Probe::Done(())),
                    Err(e) if not_found(error_code(&e)) => Ok(Probe::Done(())),
                    Err(e) if error_code(&e) == Some("ResourceInUseException") => {
                        Ok(Probe::Pending(format!(
                            "in use ({})",
                            e.message().unwrap_or("node groups attached")
                        )))
                    }
                    Err(e) => Err(api_error(&resource, "eks:DeleteCluster", e, &[])),
                }
            },
        )
        .await?;
        wait_until(
            ctx,
            &self.clients,
            WaitSpec {
                resource: &resource,
                api: "eks:DescribeCluster",
                wanted: "deleted",
                deadline,
            },
            || async {
                Ok(match self.describe(&resource, id).await? {
                    None => Probe::Done(()),
                    Some(c) => Probe::Pending(status(&c).to_string()),
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
        let Some(name) = get_str(inputs, "name") else {
            return Ok(None);
        };
        self.adopt(ctx, &resource, name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(j: serde_json::Value) -> Map {
        match Value::from_json(&j) {
            Value::Map(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn names_follow_eks_rules() {
        assert_eq!(name_problem("platform-1_a"), None);
        assert!(name_problem("-x").is_some());
        assert!(name_problem("a.b").is_some());
        assert!(name_problem(&"a".repeat(101)).is_some());
    }

    #[test]
    fn version_steps_one_minor_at_a_time() {
        let v = |s: &str| map(serde_json::json!({ "version": s }));
        let rules_of = |o: &str, n: &str| -> Vec<String> {
            check_change(&v(o), &v(n))
                .into_iter()
                .map(|f| f.rule)
                .collect()
        };
        assert!(rules_of("1.29", "1.30").is_empty());
        assert_eq!(rules_of("1.29", "1.31"), [rules::VERSION_UPGRADE]);
        assert_eq!(rules_of("1.30", "1.29"), [rules::VERSION_UPGRADE]);
    }

    #[test]
    fn encryption_is_added_never_changed() {
        let enc = |k: &str| serde_json::json!({ "encryptionConfig": { "provider": { "keyArn": k }, "resources": ["secrets"] } });
        assert!(check_change(&map(serde_json::json!({})), &map(enc("k1"))).is_empty());
        let rules: Vec<String> = check_change(&map(enc("k1")), &map(enc("k2")))
            .into_iter()
            .map(|f| f.rule)
            .collect();
        assert_eq!(rules, [rules::ENCRYPTION_CHANGE]);
        let rules: Vec<String> = check_change(&map(enc("k1")), &map(serde_json::json!({})))
            .into_iter()
            .map(|f| f.rule)
            .collect();
        assert_eq!(rules, [rules::ENCRYPTION_CHANGE]);
    }
}
