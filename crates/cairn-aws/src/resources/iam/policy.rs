//! `aws:iam:Policy`: a customer managed policy. Updates add a new default
//! version (pruning the oldest non-default one when IAM's limit of 5 is reached).
//! A create that finds the policy already there (its own lost attempt,
//! retried) adopts it only when it carries this resource's `cairn:urn` tag.
//!
//! A read costs two calls (`GetPolicy`, then `GetPolicyVersion` for the
//! default document). A batched read (refresh) lists every customer managed
//! policy of the account with `GetAccountAuthorizationDetails` (1,000 a
//! page, each with its versions' documents) and asks `ListPolicyTags` for
//! each requested one: no IAM list call returns a policy's tags, and the
//! Resource Groups Tagging API does not cover IAM.

use crate::clients::Shared;
use crate::util::{
    api_error, api_failure, batch_label, concrete_str, ensure_ours, error_code, get_str, get_tags,
    is_not_found, missing, percent_decode, resource_label, same_json, tag_diff, tags_value,
    URN_TAG,
};
use async_trait::async_trait;
use aws_sdk_iam::types::{
    EntityType, ManagedPolicyDetail, Policy as PolicyModel, PolicyScopeType, PolicyVersion, Tag,
};
use cairn_core::dsl::{Input, Output, ResourceType};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, ProviderError, ReadRequest, ResourceProvider,
};
use cairn_core::schema::{OutputSchema, PropType, PropertySchema, ResourceSchema};
use cairn_core::value::{Map, PropertyPath};
use serde::Serialize;
use std::collections::BTreeMap;

pub const TOKEN: &str = "aws:iam:Policy";
/// IAM keeps at most this many versions of a managed policy.
pub const MAX_VERSIONS: usize = 5;

pub mod rules {
    pub const POLICY_JSON: &str = "aws::iam::policy-json";
    pub const NAME: &str = "aws::iam::policy-name";
    pub const PATH: &str = "aws::iam::policy-path";
    pub const SIZE: &str = "aws::iam::policy-size";
}

/// The most entries one `GetAccountAuthorizationDetails` page holds (its
/// `MaxItems` is 1 to 1000).
const DETAILS_PAGE: i32 = 1000;

/// IAM quota: a managed policy document is at most 6,144 characters, not
/// counting white space.
const MAX_DOCUMENT: usize = 6144;

fn name_and_path_failures(inputs: &Map) -> Vec<CheckFailure> {
    let mut out = Vec::new();
    // AWS: `[\w+=,.@-]+`.
    if let Some(bad) = concrete_str(inputs, "name").and_then(|n| {
        crate::util::disallowed_chars(n, |c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-')
        })
    }) {
        out.push(
            CheckFailure::error(
                rules::NAME,
                PropertyPath::key("name"),
                format!("policy name contains {bad}, which IAM does not allow"),
            )
            .with_help("use only letters, digits and `_+=,.@-`"),
        );
    }
    // AWS: `((/[A-Za-z0-9.,+@=_-]+)*)/`, at most 512 characters.
    if let Some(p) = concrete_str(inputs, "path") {
        let inner =
            (p.len() >= 3 && p.starts_with('/') && p.ends_with('/')).then(|| &p[1..p.len() - 1]);
        let segments_ok = p == "/"
            || inner.is_some_and(|inner| {
                inner.split('/').all(|seg| {
                    !seg.is_empty()
                        && seg.chars().all(|c| {
                            c.is_ascii_alphanumeric()
                                || matches!(c, '.' | ',' | '+' | '@' | '=' | '_' | '-')
                        })
                })
            });
        if !segments_ok || p.len() > 512 {
            out.push(
                CheckFailure::error(
                    rules::PATH,
                    PropertyPath::key("path"),
                    format!("policy path `{p}` is not an IAM path"),
                )
                .with_help(
                    "start and end with `/`, with segments of letters, digits and `.,+@=_-` \
                     (at most 512 characters), e.g. `/` or `/cache/`",
                ),
            );
        }
    }
    if let Some(doc) = concrete_str(inputs, "policy") {
        let n = doc.chars().filter(|c| !c.is_whitespace()).count();
        if n > MAX_DOCUMENT {
            out.push(
                CheckFailure::error(
                    rules::SIZE,
                    PropertyPath::key("policy"),
                    format!(
                        "policy document is {n} characters without white space; IAM allows at most {MAX_DOCUMENT}"
                    ),
                )
                .with_help("split the statements over several policies, or use wildcards within reason"),
            );
        }
    }
    out
}

pub fn schema() -> ResourceSchema {
    let s = PropType::string;
    ResourceSchema::new(TOKEN, "An IAM customer managed policy.")
        .fixed_name()
        .property(
            PropertySchema::new(
                "name",
                PropType::String {
                    min_len: Some(1),
                    max_len: Some(128),
                },
            )
            .required()
            .replaces()
            .doc("Policy name."),
        )
        .property(
            PropertySchema::new("path", s())
                .replaces()
                .default_value(serde_json::json!("/"))
                .doc("Path, e.g. `/`."),
        )
        .property(
            PropertySchema::new("description", s())
                .replaces()
                .doc("Description (cannot change in place)."),
        )
        .property(
            PropertySchema::new("policy", s())
                .required()
                .doc("Policy document (JSON)."),
        )
        .property(PropertySchema::new("tags", PropType::map(s())).doc("Tags."))
        .output(OutputSchema::new("arn", "Policy ARN."))
        .output(OutputSchema::new("policyId", "Policy id."))
        .output(OutputSchema::new(
            "defaultVersionId",
            "Default version, e.g. `v2`.",
        ))
}

pub struct Policy;

#[derive(Clone, Debug, Serialize, cairn_core::dsl::Builder)]
#[serde(rename_all = "camelCase")]
pub struct PolicyArgs {
    pub name: Input<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<Input<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Input<String>>,
    pub policy: Input<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Input<String>>>,
}

pub struct PolicyOutputs {
    pub arn: Output<String>,
    pub policy_id: Output<String>,
    pub default_version_id: Output<String>,
}

impl ResourceType for Policy {
    const TOKEN: &'static str = TOKEN;
    type Args = PolicyArgs;
    type Outputs = PolicyOutputs;
    fn outputs(name: &str) -> PolicyOutputs {
        PolicyOutputs {
            arn: Output::of(name, "arn"),
            policy_id: Output::of(name, "policyId"),
            default_version_id: Output::of(name, "defaultVersionId"),
        }
    }
}

fn outputs(p: &PolicyModel) -> Map {
    outputs_of(p.arn(), p.policy_id(), p.default_version_id())
}

fn outputs_of(arn: Option<&str>, policy_id: Option<&str>, default_version: Option<&str>) -> Map {
    let mut m = Map::new();
    m.insert("arn".into(), arn.unwrap_or_default().into());
    m.insert("policyId".into(), policy_id.unwrap_or_default().into());
    m.insert(
        "defaultVersionId".into(),
        default_version.unwrap_or_default().into(),
    );
    m
}

/// What a read sees of a live policy, from `GetPolicy` and
/// `GetPolicyVersion` (the single read) or from its
/// `GetAccountAuthorizationDetails` entry and `ListPolicyTags` (the batched
/// one); [`observe`] makes both the same observation.
struct Live<'a> {
    name: Option<&'a str>,
    path: Option<&'a str>,
    description: Option<&'a str>,
    arn: Option<&'a str>,
    policy_id: Option<&'a str>,
    default_version: Option<&'a str>,
    /// The default version's document, decoded (`None`: none was read).
    document: Option<String>,
    /// All tags, `cairn:urn` included.
    tags: BTreeMap<String, String>,
}

impl<'a> Live<'a> {
    fn from_policy(p: &'a PolicyModel, document: Option<String>) -> Self {
        Live {
            name: p.policy_name(),
            path: p.path(),
            description: p.description(),
            arn: p.arn(),
            policy_id: p.policy_id(),
            default_version: p.default_version_id(),
            document,
            tags: p
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect(),
        }
    }

    /// From a `GetAccountAuthorizationDetails` entry, whose versions carry
    /// their (URL-encoded) documents.
    fn from_detail(d: &'a ManagedPolicyDetail, tags: BTreeMap<String, String>) -> Self {
        let versions = d.policy_version_list();
        let default = versions
            .iter()
            .find(|v| v.is_default_version())
            .or_else(|| {
                versions
                    .iter()
                    .find(|v| v.version_id().is_some() && v.version_id() == d.default_version_id())
            });
        Live {
            name: d.policy_name(),
            path: d.path(),
            description: d.description(),
            arn: d.arn(),
            policy_id: d.policy_id(),
            default_version: d.default_version_id(),
            document: default.and_then(|v| v.document()).map(percent_decode),
            tags,
        }
    }
}

/// The observation of a live policy, the same from a single or a batched
/// read: the stack's spelling of the document when it is the same JSON,
/// tags without `cairn:urn`.
fn observe(id: &str, p: &Live<'_>, inputs: &Map) -> Observed {
    let mut obs = Map::new();
    obs.insert("name".into(), p.name.unwrap_or_default().into());
    obs.insert("path".into(), p.path.unwrap_or("/").into());
    if let Some(d) = p.description.filter(|d| !d.is_empty()) {
        obs.insert("description".into(), d.into());
    }
    if p.default_version.is_some() {
        let live = p.document.clone().unwrap_or_default();
        let v = match get_str(inputs, "policy") {
            Some(want) if same_json(&live, want) => want.to_string(),
            _ => live,
        };
        obs.insert("policy".into(), v.into());
    }
    let tags: BTreeMap<String, String> = p
        .tags
        .iter()
        .filter(|(k, _)| *k != URN_TAG)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if inputs.contains_key("tags") || !tags.is_empty() {
        obs.insert("tags".into(), tags_value(&tags));
    }
    Observed {
        id: id.to_string(),
        inputs: obs,
        outputs: outputs_of(p.arn, p.policy_id, p.default_version),
    }
}

fn iam_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

/// The version to delete to make room: the oldest non-default one.
fn version_to_prune(versions: &[PolicyVersion]) -> Option<String> {
    versions
        .iter()
        .filter(|v| !v.is_default_version())
        .min_by(|a, b| {
            let key = |v: &PolicyVersion| {
                (
                    v.create_date().map(|d| (d.secs(), d.subsec_nanos())),
                    v.version_id()
                        .and_then(|id| id.trim_start_matches('v').parse::<u64>().ok()),
                )
            };
            key(a).cmp(&key(b))
        })
        .and_then(|v| v.version_id().map(str::to_string))
}

/// What a create found under its name after IAM said it exists.
enum Existing {
    NotFound,
    /// Ours; whether its default version already is our document.
    Ours(PolicyModel, bool),
    NotOurs(PolicyModel),
}

pub struct PolicyProvider {
    schema: ResourceSchema,
    clients: Shared,
}

impl PolicyProvider {
    pub fn new(clients: Shared) -> Self {
        PolicyProvider {
            schema: schema(),
            clients,
        }
    }

    async fn get(&self, resource: &str, arn: &str) -> Result<Option<PolicyModel>, ProviderError> {
        let sdk = self.clients.get().await?;
        match sdk.iam.get_policy().policy_arn(arn).send().await {
            Ok(out) => Ok(out.policy().cloned()),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(api_error(resource, "iam:GetPolicy", e, &[])),
        }
    }

    async fn versions(
        &self,
        resource: &str,
        arn: &str,
    ) -> Result<Vec<PolicyVersion>, ProviderError> {
        let sdk = self.clients.get().await?;
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = sdk
                .iam
                .list_policy_versions()
                .policy_arn(arn)
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| api_error(resource, "iam:ListPolicyVersions", e, &[]))?;
            out.extend(page.versions().iter().cloned());
            match page.marker() {
                Some(m) if page.is_truncated() && Some(m) != marker.as_deref() => {
                    marker = Some(m.to_string())
                }
                _ => return Ok(out),
            }
        }
    }

    /// A policy's tags (`ListPolicyTags`, paginated); `None`: no such policy.
    async fn tags(
        &self,
        resource: &str,
        arn: &str,
    ) -> Result<Option<BTreeMap<String, String>>, ProviderError> {
        let sdk = self.clients.get().await?;
        let mut out = BTreeMap::new();
        let mut marker: Option<String> = None;
        loop {
            let page = match sdk
                .iam
                .list_policy_tags()
                .policy_arn(arn)
                .set_marker(marker.clone())
                .send()
                .await
            {
                Ok(page) => page,
                Err(e) if is_not_found(&e) => return Ok(None),
                Err(e) => return Err(api_error(resource, "iam:ListPolicyTags", e, &[])),
            };
            out.extend(
                page.tags()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string())),
            );
            match page.marker() {
                Some(m) if page.is_truncated() && Some(m) != marker.as_deref() => {
                    marker = Some(m.to_string())
                }
                _ => return Ok(Some(out)),
            }
        }
    }

    /// A batched read's observation of a listed policy: its tags are one
    /// more call. A policy gone since the listing (or not yet visible to
    /// `ListPolicyTags`) gets the single read; `None` when that finds it gone.
    async fn observe_listed(
        &self,
        r: &ReadRequest,
        d: &ManagedPolicyDetail,
    ) -> Result<Option<Observed>, ProviderError> {
        let resource = resource_label(&r.ctx, TOKEN);
        match self.tags(&resource, &r.id).await? {
            Some(tags) => Ok(Some(observe(&r.id, &Live::from_detail(d, tags), &r.inputs))),
            None => self.read(&r.ctx, &r.id, &r.inputs).await,
        }
    }

    /// The (decoded) document of a policy's default version.
    async fn default_document(
        &self,
        resource: &str,
        p: &PolicyModel,
    ) -> Result<Option<String>, ProviderError> {
        let (Some(arn), Some(v)) = (p.arn(), p.default_version_id()) else {
            return Ok(None);
        };
        let sdk = self.clients.get().await?;
        let doc = sdk
            .iam
            .get_policy_version()
            .policy_arn(arn)
            .version_id(v)
            .send()
            .await
            .map_err(|e| api_error(resource, "iam:GetPolicyVersion", e, &[]))?;
        Ok(doc
            .policy_version()
            .and_then(|v| v.document())
            .map(percent_decode))
    }

    /// The policy named like ours, when it is ours: it carries our
    /// `cairn:urn` tag (`same_doc`: its default version is our document).
    async fn existing_if_ours(
        &self,
        ctx: &CallContext,
        resource: &str,
        inputs: &Map,
        name: &str,
    ) -> Result<Existing, ProviderError> {
        let path = get_str(inputs, "path").unwrap_or("/");
        let Some(listed) = self.find_by_name(resource, name, path).await? else {
            return Ok(Existing::NotFound);
        };
        // ListPolicies does not return tags; GetPolicy does.
        let p = match listed.arn() {
            Some(arn) => self.get(resource, arn).await?.unwrap_or(listed),
            None => listed,
        };
        let tagged = p
            .tags()
            .iter()
            .any(|t| t.key() == URN_TAG && t.value() == ctx.urn);
        let same_doc = match (
            get_str(inputs, "policy"),
            self.default_document(resource, &p).await?,
        ) {
            (Some(want), Some(live)) => same_json(&live, want),
            _ => false,
        };
        // Only our tag makes it ours: a policy with our document but another
        // stack's tag (or none) is not ours to adopt or, later, delete.
        Ok(if tagged {
            Existing::Ours(p, same_doc)
        } else {
            Existing::NotOurs(p)
        })
    }

    async fn find_by_name(
        &self,
        resource: &str,
        name: &str,
        path: &str,
    ) -> Result<Option<PolicyModel>, ProviderError> {
        let sdk = self.clients.get().await?;
        let mut marker: Option<String> = None;
        loop {
            let page = sdk
                .iam
                .list_policies()
                .scope(PolicyScopeType::Local)
                .path_prefix(path)
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| api_error(resource, "iam:ListPolicies", e, &[]))?;
            if let Some(p) = page
                .policies()
                .iter()
                .find(|p| p.policy_name() == Some(name))
            {
                return Ok(Some(p.clone()));
            }
            match page.marker() {
                Some(m) if page.is_truncated() && Some(m) != marker.as_deref() => {
                    marker = Some(m.to_string())
                }
                _ => return Ok(None),
            }
        }
    }
}

#[async_trait]
impl ResourceProvider for PolicyProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        let mut out = name_and_path_failures(inputs);
        out.extend(match concrete_str(inputs, "policy") {
            Some(p)
                if serde_json::from_str::<serde_json::Value>(p)
                    .map(|v| !v.is_object())
                    .unwrap_or(true) =>
            {
                vec![CheckFailure::error(
                    rules::POLICY_JSON,
                    PropertyPath::key("policy"),
                    "policy is not a JSON object",
                )
                .with_help("write the policy document as JSON, e.g. with `fn::toJSON`")]
            }
            _ => Vec::new(),
        });
        out
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let name = get_str(inputs, "name")
            .ok_or_else(|| ProviderError::invalid(&resource, "name is required"))?;
        let sdk = self.clients.get().await?;
        let mut tags = get_tags(inputs, "tags");
        tags.insert(URN_TAG.to_string(), ctx.urn.clone());
        let res = sdk
            .iam
            .create_policy()
            .policy_name(name)
            .path(get_str(inputs, "path").unwrap_or("/"))
            .set_description(get_str(inputs, "description").map(str::to_string))
            .policy_document(get_str(inputs, "policy").unwrap_or_default())
            .set_tags(Some(iam_tags(&tags)))
            .send()
            .await;
        let out = match res {
            Ok(out) => out,
            // Our own earlier attempt whose answer was lost (the SDK retried),
            // or somebody else's policy: adopt it only if it is ours.
            Err(e) if error_code(&e) == Some("EntityAlreadyExists") => {
                return match self.existing_if_ours(ctx, &resource, inputs, name).await? {
                    Existing::Ours(p, same_doc) => {
                        let arn = p
                            .arn()
                            .ok_or_else(|| missing(&resource, "iam:GetPolicy", "policy ARN"))?
                            .to_string();
                        ctx.report("adopting the policy (it is this resource's)");
                        if !same_doc {
                            // Tagged ours but made from another document: make ours the default.
                            let mut old = inputs.clone();
                            old.remove("policy");
                            let outputs = self.update(ctx, &arn, &old, inputs, &Map::new()).await?;
                            return Ok(Created { id: arn, outputs });
                        }
                        Ok(Created {
                            id: arn,
                            outputs: outputs(&p),
                        })
                    }
                    Existing::NotOurs(p) => Err(api_failure(
                        &resource,
                        "iam:CreatePolicy",
                        "EntityAlreadyExists",
                        format!(
                            "the policy {} already exists and was not made by this resource \
                             (no tag {URN_TAG}={}): choose another name, \
                             delete that policy, or import it",
                            p.arn().unwrap_or(name),
                            ctx.urn
                        ),
                    )),
                    Existing::NotFound => Err(api_error(&resource, "iam:CreatePolicy", e, &[])),
                };
            }
            Err(e) => return Err(api_error(&resource, "iam:CreatePolicy", e, &[])),
        };
        let p = out
            .policy()
            .ok_or_else(|| missing(&resource, "iam:CreatePolicy", "policy"))?;
        crate::util::note_created(p.arn().unwrap_or_default());
        Ok(Created {
            id: p.arn().unwrap_or_default().to_string(),
            outputs: outputs(p),
        })
    }

    async fn read(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let found = crate::util::read_after_create(ctx, id, || self.get(&resource, id)).await?;
        let Some(p) = found else {
            return Ok(None);
        };
        let document = match p.default_version_id() {
            Some(_) => self.default_document(&resource, &p).await?,
            None => None,
        };
        Ok(Some(observe(id, &Live::from_policy(&p, document), inputs)))
    }

    fn read_batch_limit(&self) -> Option<usize> {
        Some(usize::MAX)
    }

    /// Lists every customer managed policy (`GetAccountAuthorizationDetails`
    /// filtered to them, documents included) and reads each requested one's
    /// tags: the listing's pages plus one call per policy, where single
    /// reads cost two per policy.
    async fn read_many(
        &self,
        reqs: &[ReadRequest],
    ) -> Result<BTreeMap<String, Observed>, ProviderError> {
        let resource = batch_label(reqs, TOKEN);
        let sdk = self.clients.get().await?;
        let (iam, resource) = (&sdk.iam, resource.as_str());
        let page = |marker: Option<String>| async move {
            let out = iam
                .get_account_authorization_details()
                .filter(EntityType::LocalManagedPolicy)
                .max_items(DETAILS_PAGE)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| api_error(resource, "iam:GetAccountAuthorizationDetails", e, &[]))?;
            let next = out.marker().filter(|_| out.is_truncated());
            Ok::<_, ProviderError>((out.policies().to_vec(), next.map(str::to_string)))
        };
        // A policy found gone after all (see `observe_listed`) is marked by
        // an empty id and left out below, as `read`'s `None`.
        let observe =
            |r: ReadRequest, d: ManagedPolicyDetail| async move {
                Ok::<_, ProviderError>(self.observe_listed(&r, &d).await?.unwrap_or_else(|| {
                    Observed {
                        id: String::new(),
                        inputs: Map::new(),
                        outputs: Map::new(),
                    }
                }))
            };
        let mut found = crate::resources::listed::read_listed(
            self,
            reqs,
            ManagedPolicyDetail::arn,
            str::to_string,
            page,
            observe,
        )
        .await?;
        found.retain(|_, o| !o.id.is_empty());
        Ok(found)
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
        if old.get("policy") != new.get("policy") {
            let versions = self.versions(&resource, id).await?;
            if versions.len() >= MAX_VERSIONS {
                if let Some(v) = version_to_prune(&versions) {
                    ctx.report(&format!("pruning policy version {v}"));
                    sdk.iam
                        .delete_policy_version()
                        .policy_arn(id)
                        .version_id(v)
                        .send()
                        .await
                        .map_err(|e| api_error(&resource, "iam:DeletePolicyVersion", e, &[]))?;
                }
            }
            sdk.iam
                .create_policy_version()
                .policy_arn(id)
                .policy_document(get_str(new, "policy").unwrap_or_default())
                .set_as_default(true)
                .send()
                .await
                .map_err(|e| api_error(&resource, "iam:CreatePolicyVersion", e, &[]))?;
        }
        if old.get("tags") != new.get("tags") {
            let (set, gone) = tag_diff(&get_tags(old, "tags"), &get_tags(new, "tags"));
            if !set.is_empty() {
                sdk.iam
                    .tag_policy()
                    .policy_arn(id)
                    .set_tags(Some(iam_tags(&set)))
                    .send()
                    .await
                    .map_err(|e| api_error(&resource, "iam:TagPolicy", e, &[]))?;
            }
            if !gone.is_empty() {
                sdk.iam
                    .untag_policy()
                    .policy_arn(id)
                    .set_tag_keys(Some(gone))
                    .send()
                    .await
                    .map_err(|e| api_error(&resource, "iam:UntagPolicy", e, &[]))?;
            }
        }
        let p = self
            .get(&resource, id)
            .await?
            .ok_or_else(|| missing(&resource, "iam:GetPolicy", "policy"))?;
        Ok(outputs(&p))
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
        let versions = match self.versions(&resource, id).await {
            Ok(v) => v,
            Err(ProviderError::Api { code, .. }) if code == "NoSuchEntity" => return Ok(()),
            Err(e) => return Err(e),
        };
        for v in versions.iter().filter(|v| !v.is_default_version()) {
            let Some(vid) = v.version_id() else { continue };
            match sdk
                .iam
                .delete_policy_version()
                .policy_arn(id)
                .version_id(vid)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(api_error(&resource, "iam:DeletePolicyVersion", e, &[])),
            }
        }
        match sdk.iam.delete_policy().policy_arn(id).send().await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(api_error(&resource, "iam:DeletePolicy", e, &[])),
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
        let path = get_str(inputs, "path").unwrap_or("/");
        let Some(listed) = self.find_by_name(&resource, name, path).await? else {
            return Ok(None);
        };
        let Some(arn) = listed.arn().map(str::to_string) else {
            return Ok(None);
        };
        // ListPolicies does not return tags; GetPolicy does.
        let Some(p) = self.get(&resource, &arn).await? else {
            return Ok(None);
        };
        let tags: BTreeMap<String, String> = p
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        ensure_ours(ctx, &resource, &arn, Some(&tags))?;
        Ok(Some(Created {
            id: arn,
            outputs: outputs(&p),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::DateTime;

    fn v(id: &str, secs: i64, default: bool) -> PolicyVersion {
        PolicyVersion::builder()
            .version_id(id)
            .create_date(DateTime::from_secs(secs))
            .is_default_version(default)
            .build()
    }

    #[test]
    fn prunes_oldest_non_default() {
        let vs = vec![
            v("v1", 10, true),
            v("v2", 20, false),
            v("v3", 30, false),
            v("v4", 5, false),
        ];
        assert_eq!(version_to_prune(&vs).as_deref(), Some("v4"));
        assert_eq!(version_to_prune(&[v("v1", 1, true)]), None);
    }
}
