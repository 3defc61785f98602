//! `aws:iam:RolePolicyAttachment`: a managed policy attached to a role.
//! Both properties replace (an attachment is the pair). The id is
//! `role/policyArn`, Terraform's import id. Attachments carry no tags, and
//! none is needed: AttachRolePolicy is idempotent by nature (attaching an
//! attached policy changes nothing), so a create whose answer was lost is
//! simply sent again, and recovery adopts the attachment if it exists.

use crate::clients::Shared;
use crate::util::{
    api_error, api_failure, concrete_str, get_str, is_not_found, resource_label, retry_not_found,
    PROPAGATION,
};
use async_trait::async_trait;
use cairn_core::dsl::{DeclaredType, Input, Output, Outputs, Resource};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, ProviderError, ResourceProvider,
};
use cairn_core::schema::ResourceSchema;
use cairn_core::value::{Map, PropertyPath};
use serde::Serialize;

pub const TOKEN: &str = "aws:iam:RolePolicyAttachment";

pub mod rules {
    pub const POLICY_ARN: &str = "aws::iam::attachment-policy-arn";
    pub const ROLE: &str = "aws::iam::attachment-role";
}

pub struct RolePolicyAttachment;

/// Attaches a managed policy to a role.
#[derive(Serialize, Clone, Debug, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(token = "aws:iam:RolePolicyAttachment", kind = RolePolicyAttachment, outputs = RolePolicyAttachmentOutputs)]
pub struct RolePolicyAttachmentArgs {
    /// Name of the role.
    #[prop(replaces)]
    pub role: Input<String>,
    /// ARN of the managed policy to attach.
    #[prop(replaces)]
    pub policy_arn: Input<String>,
}

#[derive(Outputs)]
pub struct RolePolicyAttachmentOutputs {
    /// `role/policyArn` (the import id).
    pub id: Output<String>,
}

fn check(inputs: &Map) -> Vec<CheckFailure> {
    let mut out = Vec::new();
    if let Some(a) = concrete_str(inputs, "policyArn") {
        if !(a.starts_with("arn:") && a.split(':').nth(2) == Some("iam") && a.contains(":policy/"))
        {
            out.push(
                CheckFailure::error(
                    rules::POLICY_ARN,
                    PropertyPath::key("policyArn"),
                    format!("`{a}` is not a managed policy ARN"),
                )
                .with_help("use the policy's `arn` output, or e.g. arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"),
            );
        }
    }
    if let Some(r) = concrete_str(inputs, "role") {
        if r.starts_with("arn:")
            || crate::util::disallowed_chars(r, super::role::iam_name_ok).is_some()
        {
            out.push(
                CheckFailure::error(
                    rules::ROLE,
                    PropertyPath::key("role"),
                    format!("`{r}` is not a role name"),
                )
                .with_help("give the role's name (its `name` output), not its ARN"),
            );
        }
    }
    out
}

fn id_of(role: &str, arn: &str) -> String {
    format!("{role}/{arn}")
}

/// `role/arn` → (role, arn): a role name has no `/`.
fn split_id(id: &str) -> Option<(&str, &str)> {
    id.split_once('/')
        .filter(|(r, a)| !r.is_empty() && a.starts_with("arn:"))
}

fn outputs(id: &str) -> Map {
    let mut m = Map::new();
    m.insert("id".into(), id.into());
    m
}

pub struct RolePolicyAttachmentProvider {
    schema: ResourceSchema,
    clients: Shared,
}

impl RolePolicyAttachmentProvider {
    pub fn new(clients: Shared) -> Self {
        RolePolicyAttachmentProvider {
            schema: RolePolicyAttachment::schema(),
            clients,
        }
    }

    /// Whether `arn` is attached to `role`; `None` when the role is gone.
    async fn attached(
        &self,
        resource: &str,
        role: &str,
        arn: &str,
    ) -> Result<Option<bool>, ProviderError> {
        let sdk = self.clients.get().await?;
        let mut marker: Option<String> = None;
        loop {
            let page = match sdk
                .iam
                .list_attached_role_policies()
                .role_name(role)
                .set_marker(marker.clone())
                .send()
                .await
            {
                Ok(p) => p,
                Err(e) if is_not_found(&e) => return Ok(None),
                Err(e) => return Err(api_error(resource, "iam:ListAttachedRolePolicies", e, &[])),
            };
            if page
                .attached_policies()
                .iter()
                .any(|p| p.policy_arn() == Some(arn))
            {
                return Ok(Some(true));
            }
            match page.marker() {
                Some(m) if page.is_truncated() && Some(m) != marker.as_deref() => {
                    marker = Some(m.to_string())
                }
                _ => return Ok(Some(false)),
            }
        }
    }
}

#[async_trait]
impl ResourceProvider for RolePolicyAttachmentProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        check(inputs)
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let (Some(role), Some(arn)) = (get_str(inputs, "role"), get_str(inputs, "policyArn"))
        else {
            return Err(ProviderError::invalid(
                &resource,
                "role and policyArn are required",
            ));
        };
        let sdk = self.clients.get().await?;
        // A role or policy created moments ago may not be visible yet.
        retry_not_found(ctx, PROPAGATION, || async {
            sdk.iam
                .attach_role_policy()
                .role_name(role)
                .policy_arn(arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| api_error(&resource, "iam:AttachRolePolicy", e, &[]))
        })
        .await?;
        let id = id_of(role, arn);
        crate::util::note_created(&id);
        Ok(Created {
            outputs: outputs(&id),
            id,
        })
    }

    async fn read(
        &self,
        ctx: &CallContext,
        id: &str,
        _inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let (role, arn) = split_id(id).ok_or_else(|| {
            ProviderError::invalid(
                &resource,
                format!("`{id}` is not an attachment id: use ROLE/POLICY_ARN"),
            )
        })?;
        let found = crate::util::read_after_create(ctx, id, || async {
            Ok(self.attached(&resource, role, arn).await?.filter(|a| *a))
        })
        .await?;
        if found.is_none() {
            return Ok(None);
        }
        let mut obs = Map::new();
        obs.insert("role".into(), role.into());
        obs.insert("policyArn".into(), arn.into());
        Ok(Some(Observed {
            id: id.to_string(),
            inputs: obs,
            outputs: outputs(id),
        }))
    }

    async fn update(
        &self,
        ctx: &CallContext,
        id: &str,
        _old: &Map,
        _new: &Map,
        old_outputs: &Map,
    ) -> Result<Map, ProviderError> {
        // Both properties replace: nothing changes in place.
        let _ = (ctx, id);
        Ok(old_outputs.clone())
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
        let Some((role, arn)) = split_id(id) else {
            return Err(api_failure(
                &resource,
                "iam:DetachRolePolicy",
                "InvalidId",
                format!("`{id}` is not ROLE/POLICY_ARN"),
            ));
        };
        let sdk = self.clients.get().await?;
        match sdk
            .iam
            .detach_role_policy()
            .role_name(role)
            .policy_arn(arn)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(api_error(&resource, "iam:DetachRolePolicy", e, &[])),
        }
    }

    async fn recover(
        &self,
        ctx: &CallContext,
        inputs: &Map,
    ) -> Result<Option<Created>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let (Some(role), Some(arn)) = (get_str(inputs, "role"), get_str(inputs, "policyArn"))
        else {
            return Ok(None);
        };
        // Idempotent by nature: the pair is the whole object, no tag to check.
        Ok(match self.attached(&resource, role, arn).await? {
            Some(true) => {
                let id = id_of(role, arn);
                Some(Created {
                    outputs: outputs(&id),
                    id,
                })
            }
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        let id = id_of("app", "arn:aws:iam::aws:policy/path/ReadOnly");
        assert_eq!(
            split_id(&id),
            Some(("app", "arn:aws:iam::aws:policy/path/ReadOnly"))
        );
        assert_eq!(split_id("app"), None);
        let mut m = Map::new();
        m.insert("role".into(), "arn:aws:iam::1:role/app".into());
        m.insert("policyArn".into(), "ReadOnly".into());
        assert_eq!(check(&m).len(), 2);
    }
}
