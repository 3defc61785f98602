//! `aws:iam:Role`: an IAM role and its trust policy. Name and path are
//! fixed at create; the trust policy (UpdateAssumeRolePolicy), description
//! and session duration (UpdateRole), permissions boundary and tags change
//! in place. A create that finds the role already there (its own lost
//! attempt) adopts it only when it carries this resource's `cairn:urn` tag.
//! A new role may not be visible for seconds (IAM is eventually
//! consistent): follow-up calls retry not-found for a bounded time.

use super::policy_doc::{self, DocKind};
use crate::clients::Shared;
use crate::util::{
    api_error, api_failure, concrete_str, ensure_ours, error_code, get_i32, get_str, get_tags,
    is_not_found, missing, percent_decode, resource_label, retry_not_found, tag_diff, tags_value,
    PROPAGATION, URN_TAG,
};
use async_trait::async_trait;
use aws_sdk_iam::types::{Role as RoleModel, Tag};
use cairn_core::dsl::{DeclaredType, Input, Output, Outputs, Resource};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, ProviderError, ResourceProvider,
};
use cairn_core::schema::{PropType, ResourceSchema};
use cairn_core::value::{Map, PropertyPath};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

pub const TOKEN: &str = "aws:iam:Role";

pub mod rules {
    pub const NAME: &str = "aws::iam::role-name";
    pub const PATH: &str = "aws::iam::role-path";
    pub const TRUST_POLICY: &str = "aws::iam::trust-policy";
    pub const BOUNDARY: &str = "aws::iam::permissions-boundary";
}

pub struct Role;

/// An IAM role: who may assume it (its trust policy) and for how long.
#[derive(Serialize, Clone, Debug, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(token = "aws:iam:Role", kind = Role, outputs = RoleOutputs, fixed_name)]
pub struct RoleArgs {
    /// Role name (letters, digits and `_+=,.@-`, at most 64 characters).
    #[prop(replaces, ty = PropType::String { min_len: Some(1), max_len: Some(64) })]
    pub name: Input<String>,
    /// Path, e.g. `/` or `/platform/`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(replaces, default = "/")]
    pub path: Option<Input<String>>,
    /// Trust policy (JSON): who may assume the role.
    pub assume_role_policy: Input<String>,
    /// Description (at most 1000 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(ty = PropType::String { min_len: None, max_len: Some(1000) })]
    pub description: Option<Input<String>>,
    /// Longest session, in seconds (3600 to 43200).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(default = 3600, ty = PropType::int_range(3600, 43200))]
    pub max_session_duration: Option<Input<i64>>,
    /// ARN of the managed policy that bounds the role's permissions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<Input<String>>,
    /// Tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Input<String>>>,
}

#[derive(Outputs)]
pub struct RoleOutputs {
    /// Role ARN.
    pub arn: Output<String>,
    /// Role name (the import id).
    pub id: Output<String>,
    /// Role name.
    pub name: Output<String>,
    /// IAM's stable unique id (AROA...).
    pub unique_id: Output<String>,
}

/// IAM names: `[\w+=,.@-]+`.
pub(crate) fn iam_name_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-')
}

/// IAM paths: `/` or `(/[A-Za-z0-9.,+@=_-]+)+/`, at most 512 characters.
pub(crate) fn iam_path_ok(p: &str) -> bool {
    if p == "/" {
        return true;
    }
    p.len() <= 512
        && p.len() >= 3
        && p.starts_with('/')
        && p.ends_with('/')
        && p[1..p.len() - 1]
            .split('/')
            .all(|seg| !seg.is_empty() && seg.chars().all(iam_name_ok))
}

fn check(inputs: &Map) -> Vec<CheckFailure> {
    let mut out = Vec::new();
    if let Some(n) = concrete_str(inputs, "name") {
        if let Some(bad) = crate::util::disallowed_chars(n, iam_name_ok) {
            out.push(
                CheckFailure::error(
                    rules::NAME,
                    PropertyPath::key("name"),
                    format!("role name contains {bad}, which IAM does not allow"),
                )
                .with_help("use only letters, digits and `_+=,.@-` (at most 64 characters)"),
            );
        }
    }
    if let Some(p) = concrete_str(inputs, "path").filter(|p| !iam_path_ok(p)) {
        out.push(
            CheckFailure::error(
                rules::PATH,
                PropertyPath::key("path"),
                format!("role path `{p}` is not an IAM path"),
            )
            .with_help("start and end with `/`, segments of letters, digits and `.,+@=_-`, e.g. `/platform/`"),
        );
    }
    if let Some(doc) = concrete_str(inputs, "assumeRolePolicy") {
        if let Some(why) = policy_doc::problem(doc, DocKind::Trust) {
            out.push(
                CheckFailure::error(
                    rules::TRUST_POLICY,
                    PropertyPath::key("assumeRolePolicy"),
                    format!("the trust policy would be rejected by IAM: {why}"),
                )
                .with_help(
                    "a trust policy is {\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \
                     \"Principal\": {\"Service\": \"...\"}, \"Action\": \"sts:AssumeRole\"}]}",
                ),
            );
        }
    }
    if let Some(b) = concrete_str(inputs, "permissionsBoundary") {
        let ok =
            b.starts_with("arn:") && b.split(':').nth(2) == Some("iam") && b.contains(":policy/");
        if !ok {
            out.push(
                CheckFailure::error(
                    rules::BOUNDARY,
                    PropertyPath::key("permissionsBoundary"),
                    format!("permissions boundary `{b}` is not a managed policy ARN"),
                )
                .with_help("use a policy ARN, e.g. arn:aws:iam::123456789012:policy/boundary"),
            );
        }
    }
    out
}

fn iam_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

fn role_tags(r: &RoleModel) -> BTreeMap<String, String> {
    r.tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

fn outputs(r: &RoleModel) -> Map {
    let mut m = Map::new();
    m.insert("arn".into(), r.arn().into());
    m.insert("id".into(), r.role_name().into());
    m.insert("name".into(), r.role_name().into());
    m.insert("uniqueId".into(), r.role_id().into());
    m
}

/// The inputs a live role reports; the trust policy as the stack wrote it
/// when it means the same.
fn observed(r: &RoleModel, want: &Map) -> Map {
    let mut obs = Map::new();
    obs.insert("name".into(), r.role_name().into());
    obs.insert("path".into(), r.path().into());
    let live = r
        .assume_role_policy_document()
        .map(percent_decode)
        .unwrap_or_default();
    let doc = match get_str(want, "assumeRolePolicy") {
        Some(w) if policy_doc::equivalent(&live, w) => w.to_string(),
        _ => live,
    };
    obs.insert("assumeRolePolicy".into(), doc.into());
    if let Some(d) = r.description().filter(|d| !d.is_empty()) {
        obs.insert("description".into(), d.into());
    }
    obs.insert(
        "maxSessionDuration".into(),
        i64::from(r.max_session_duration().unwrap_or(3600)).into(),
    );
    if let Some(b) = r
        .permissions_boundary()
        .and_then(|b| b.permissions_boundary_arn())
    {
        obs.insert("permissionsBoundary".into(), b.into());
    }
    let tags: BTreeMap<String, String> = role_tags(r)
        .into_iter()
        .filter(|(k, _)| !crate::util::is_internal_tag(k))
        .collect();
    if want.contains_key("tags") || !tags.is_empty() {
        obs.insert("tags".into(), tags_value(&tags));
    }
    obs
}

pub struct RoleProvider {
    schema: ResourceSchema,
    clients: Shared,
}

impl RoleProvider {
    pub fn new(clients: Shared) -> Self {
        RoleProvider {
            schema: Role::schema(),
            clients,
        }
    }

    async fn get(&self, resource: &str, name: &str) -> Result<Option<RoleModel>, ProviderError> {
        let sdk = self.clients.get().await?;
        match sdk.iam.get_role().role_name(name).send().await {
            Ok(out) => Ok(out.role().cloned()),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(api_error(resource, "iam:GetRole", e, &[])),
        }
    }

    /// Applies every difference between `old` and `new` (retrying while a
    /// new role is not yet visible).
    async fn apply(
        &self,
        ctx: &CallContext,
        resource: &str,
        name: &str,
        old: &Map,
        new: &Map,
    ) -> Result<(), ProviderError> {
        let sdk = self.clients.get().await?;
        let changed = |k: &str| old.get(k) != new.get(k);
        let doc_changed = match (
            get_str(old, "assumeRolePolicy"),
            get_str(new, "assumeRolePolicy"),
        ) {
            (Some(a), Some(b)) => !policy_doc::equivalent(a, b),
            (a, b) => a != b,
        };
        if doc_changed {
            let doc = get_str(new, "assumeRolePolicy").unwrap_or_default();
            retry_not_found(ctx, PROPAGATION, || async {
                sdk.iam
                    .update_assume_role_policy()
                    .role_name(name)
                    .policy_document(doc)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| api_error(resource, "iam:UpdateAssumeRolePolicy", e, &[]))
            })
            .await?;
        }
        if changed("description") || changed("maxSessionDuration") {
            retry_not_found(ctx, PROPAGATION, || async {
                sdk.iam
                    .update_role()
                    .role_name(name)
                    // An empty description clears it.
                    .description(get_str(new, "description").unwrap_or_default())
                    .max_session_duration(get_i32(new, "maxSessionDuration").unwrap_or(3600))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| api_error(resource, "iam:UpdateRole", e, &[]))
            })
            .await?;
        }
        if changed("permissionsBoundary") {
            match get_str(new, "permissionsBoundary") {
                Some(b) => {
                    retry_not_found(ctx, PROPAGATION, || async {
                        sdk.iam
                            .put_role_permissions_boundary()
                            .role_name(name)
                            .permissions_boundary(b)
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| {
                                api_error(resource, "iam:PutRolePermissionsBoundary", e, &[])
                            })
                    })
                    .await?
                }
                None => match sdk
                    .iam
                    .delete_role_permissions_boundary()
                    .role_name(name)
                    .send()
                    .await
                {
                    Ok(_) => {}
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => {
                        return Err(api_error(
                            resource,
                            "iam:DeleteRolePermissionsBoundary",
                            e,
                            &[],
                        ))
                    }
                },
            }
        }
        if changed("tags") {
            let (set, gone) = tag_diff(&get_tags(old, "tags"), &get_tags(new, "tags"));
            let gone: Vec<String> = gone.into_iter().filter(|k| k != URN_TAG).collect();
            if !set.is_empty() {
                retry_not_found(ctx, PROPAGATION, || async {
                    sdk.iam
                        .tag_role()
                        .role_name(name)
                        .set_tags(Some(iam_tags(&set)))
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| api_error(resource, "iam:TagRole", e, &[]))
                })
                .await?;
            }
            if !gone.is_empty() {
                retry_not_found(ctx, PROPAGATION, || async {
                    sdk.iam
                        .untag_role()
                        .role_name(name)
                        .set_tag_keys(Some(gone.clone()))
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| api_error(resource, "iam:UntagRole", e, &[]))
                })
                .await?;
            }
        }
        Ok(())
    }

    async fn current(
        &self,
        ctx: &CallContext,
        resource: &str,
        name: &str,
    ) -> Result<RoleModel, ProviderError> {
        retry_not_found(ctx, PROPAGATION, || async {
            self.get(resource, name).await?.ok_or_else(|| {
                api_failure(
                    resource,
                    "iam:GetRole",
                    "NoSuchEntity",
                    format!("role {name} not found"),
                )
            })
        })
        .await
    }
}

#[async_trait]
impl ResourceProvider for RoleProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        check(inputs)
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let name = get_str(inputs, "name")
            .ok_or_else(|| ProviderError::invalid(&resource, "name is required"))?;
        let sdk = self.clients.get().await?;
        let mut tags = get_tags(inputs, "tags");
        tags.insert(URN_TAG.to_string(), ctx.urn.clone());
        let start = std::time::Instant::now();
        let res = loop {
            let res = sdk
                .iam
                .create_role()
                .role_name(name)
                .path(get_str(inputs, "path").unwrap_or("/"))
                .assume_role_policy_document(
                    get_str(inputs, "assumeRolePolicy").unwrap_or_default(),
                )
                .set_description(get_str(inputs, "description").map(str::to_string))
                .set_max_session_duration(get_i32(inputs, "maxSessionDuration"))
                .set_permissions_boundary(
                    get_str(inputs, "permissionsBoundary").map(str::to_string),
                )
                .set_tags(Some(iam_tags(&tags)))
                .send()
                .await;
            // A principal created moments ago (another role, an OIDC
            // provider) is not yet known to IAM: retry, as Terraform does.
            match &res {
                Err(e)
                    if error_code(e) == Some("MalformedPolicyDocument")
                        && e.as_service_error()
                            .and_then(|s| {
                                aws_smithy_types::error::metadata::ProvideErrorMetadata::message(s)
                            })
                            .is_some_and(|m| m.contains("Invalid principal"))
                        && start.elapsed() < PROPAGATION =>
                {
                    ctx.report("waiting for the trust policy's principal to become visible");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                _ => break res,
            }
        };
        let role = match res {
            Ok(out) => out
                .role()
                .cloned()
                .ok_or_else(|| missing(&resource, "iam:CreateRole", "role"))?,
            // Our own earlier attempt whose answer was lost, or another's role.
            Err(e) if error_code(&e) == Some("EntityAlreadyExists") => {
                let Some(live) = self.get(&resource, name).await? else {
                    return Err(api_error(&resource, "iam:CreateRole", e, &[]));
                };
                let tags = role_tags(&live);
                ensure_ours(ctx, &resource, name, Some(&tags))?;
                ctx.report("adopting the role (it is this resource's)");
                let mut was = observed(&live, inputs);
                was.insert("tags".into(), tags_value(&tags));
                self.apply(ctx, &resource, name, &was, inputs).await?;
                self.current(ctx, &resource, name).await?
            }
            Err(e) => return Err(api_error(&resource, "iam:CreateRole", e, &[])),
        };
        crate::util::note_created(name);
        Ok(Created {
            id: name.to_string(),
            outputs: outputs(&role),
        })
    }

    async fn read(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let Some(r) = crate::util::read_after_create(ctx, id, || self.get(&resource, id)).await?
        else {
            return Ok(None);
        };
        Ok(Some(Observed {
            id: id.to_string(),
            inputs: observed(&r, inputs),
            outputs: outputs(&r),
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
        self.apply(ctx, &resource, id, old, new).await?;
        Ok(outputs(&self.current(ctx, &resource, id).await?))
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
        // A policy detached moments ago may still count: retry the conflict briefly.
        let start = std::time::Instant::now();
        loop {
            match sdk.iam.delete_role().role_name(id).send().await {
                Ok(_) => return Ok(()),
                Err(e) if is_not_found(&e) => return Ok(()),
                Err(e)
                    if error_code(&e) == Some("DeleteConflict")
                        && start.elapsed() < Duration::from_secs(30) =>
                {
                    ctx.report("the role still has policies attached; waiting");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                Err(e) => return Err(api_error(&resource, "iam:DeleteRole", e, &[])),
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
        let Some(r) = self.get(&resource, name).await? else {
            return Ok(None);
        };
        ensure_ours(ctx, &resource, name, Some(&role_tags(&r)))?;
        Ok(Some(Created {
            id: name.to_string(),
            outputs: outputs(&r),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        assert!(iam_path_ok("/"));
        assert!(iam_path_ok("/platform/eks/"));
        assert!(!iam_path_ok("platform/"));
        assert!(!iam_path_ok("//"));
        let mut m = Map::new();
        m.insert("name".into(), "bad name!".into());
        m.insert("assumeRolePolicy".into(), "{}".into());
        m.insert("permissionsBoundary".into(), "boundary".into());
        let rules: Vec<String> = check(&m).into_iter().map(|f| f.rule).collect();
        assert_eq!(rules, [rules::NAME, rules::TRUST_POLICY, rules::BOUNDARY]);
    }
}
