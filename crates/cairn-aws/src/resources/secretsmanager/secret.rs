//! `aws:secretsmanager:Secret`: the secret's metadata (its value is a
//! `SecretVersion`). A name still scheduled for deletion is restored and
//! adopted instead of failing the create, if it carries this resource's
//! `cairn:urn` tag.

use crate::clients::Shared;
use crate::util::{
    api_error, api_failure, ensure_ours, error_code, get_i64, get_str, get_tags, is_not_found,
    missing, resource_label, tag_diff, tags_value, URN_TAG,
};
use async_trait::async_trait;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use aws_sdk_secretsmanager::types::Tag;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use cairn_core::dsl::{Input, Output, ResourceType};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, ProviderError, ResourceProvider,
};
use cairn_core::schema::{OutputSchema, PropType, PropertySchema, ResourceSchema};
use cairn_core::value::{Map, PropertyPath, Value};
use serde::Serialize;
use std::collections::BTreeMap;

pub const TOKEN: &str = "aws:secretsmanager:Secret";

pub mod rules {
    pub const RECOVERY_WINDOW: &str = "aws::secretsmanager::recovery-window";
    pub const NAME: &str = "aws::secretsmanager::name";
}

pub fn schema() -> ResourceSchema {
    let s = PropType::string;
    ResourceSchema::new(
        TOKEN,
        "A Secrets Manager secret (metadata; the value is a SecretVersion).",
    )
    .fixed_name()
    .property(
        PropertySchema::new(
            "name",
            PropType::String {
                min_len: Some(1),
                max_len: Some(512),
            },
        )
        .required()
        .replaces()
        .doc("Secret name, e.g. `qualisys/redis/connection`."),
    )
    .property(PropertySchema::new("description", s()).doc("Description."))
    .property(
        PropertySchema::new("kmsKeyId", s())
            .doc("KMS key (id, ARN or alias) that encrypts the secret."),
    )
    .property(
        PropertySchema::new("recoveryWindowInDays", PropType::int_range(0, 30))
            .default_value(serde_json::json!(30))
            .doc("Days a deleted secret stays recoverable: 0 (delete at once) or 7-30."),
    )
    .property(PropertySchema::new("tags", PropType::map(s())).doc("Tags."))
    .output(OutputSchema::new("arn", "ARN."))
    .output(OutputSchema::new("name", "Name."))
}

pub struct Secret;

#[derive(Clone, Debug, Serialize, cairn_core::dsl::Builder)]
#[serde(rename_all = "camelCase")]
pub struct SecretArgs {
    pub name: Input<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Input<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<Input<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_window_in_days: Option<Input<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Input<String>>>,
}

pub struct SecretOutputs {
    pub arn: Output<String>,
    pub name: Output<String>,
}

impl ResourceType for Secret {
    const TOKEN: &'static str = TOKEN;
    type Args = SecretArgs;
    type Outputs = SecretOutputs;
    fn outputs(name: &str) -> SecretOutputs {
        SecretOutputs {
            arn: Output::of(name, "arn"),
            name: Output::of(name, "name"),
        }
    }
}

fn outputs(arn: &str, name: &str) -> Map {
    let mut m = Map::new();
    m.insert("arn".into(), arn.into());
    m.insert("name".into(), name.into());
    m
}

fn sm_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// True for Secrets Manager's "a secret with this name is scheduled for deletion".
pub(crate) fn is_scheduled_for_deletion(code: Option<&str>, message: Option<&str>) -> bool {
    code == Some("InvalidRequestException")
        && message.is_some_and(|m| {
            let m = m.to_ascii_lowercase();
            [
                "scheduled for deletion",
                "marked for deletion",
                "marked deleted",
            ]
            .iter()
            .any(|p| m.contains(p))
        })
}

pub struct SecretProvider {
    schema: ResourceSchema,
    clients: Shared,
}

impl SecretProvider {
    pub fn new(clients: Shared) -> Self {
        SecretProvider {
            schema: schema(),
            clients,
        }
    }

    async fn describe(
        &self,
        resource: &str,
        id: &str,
    ) -> Result<Option<DescribeSecretOutput>, ProviderError> {
        let sdk = self.clients.get().await?;
        match sdk.sm.describe_secret().secret_id(id).send().await {
            Ok(out) => Ok(Some(out)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(api_error(resource, "secretsmanager:DescribeSecret", e, &[])),
        }
    }

    /// Restores a secret scheduled for deletion, if it carries this
    /// resource's `cairn:urn` tag, and brings its metadata in line.
    async fn restore_and_adopt(
        &self,
        ctx: &CallContext,
        resource: &str,
        inputs: &Map,
        name: &str,
    ) -> Result<Created, ProviderError> {
        let owner = self.describe(resource, name).await?.and_then(|d| {
            d.tags()
                .iter()
                .find(|t| t.key() == Some(URN_TAG))
                .and_then(|t| t.value().map(str::to_string))
        });
        if owner.as_deref() != Some(ctx.urn.as_str()) {
            let carries = match &owner {
                Some(o) => format!("it carries {URN_TAG}={o}"),
                None => format!("it has no {URN_TAG} tag"),
            };
            return Err(api_failure(
                resource,
                "secretsmanager:CreateSecret",
                "ResourceExistsException",
                format!(
                    "the secret {name} is scheduled for deletion and was not made by this \
                     resource ({carries}, not {URN_TAG}={}): choose another name, or restore \
                     and import it",
                    ctx.urn
                ),
            ));
        }
        let sdk = self.clients.get().await?;
        ctx.report("restoring a secret scheduled for deletion");
        let restored = sdk
            .sm
            .restore_secret()
            .secret_id(name)
            .send()
            .await
            .map_err(|e| api_error(resource, "secretsmanager:RestoreSecret", e, &[]))?;
        let arn = restored
            .arn()
            .ok_or_else(|| missing(resource, "secretsmanager:RestoreSecret", "ARN"))?
            .to_string();
        self.adopt(ctx, resource, inputs, &arn).await?;
        Ok(Created {
            id: arn.clone(),
            outputs: outputs(&arn, name),
        })
    }

    /// Makes an existing secret's description, key and tags match the inputs.
    async fn adopt(
        &self,
        ctx: &CallContext,
        resource: &str,
        inputs: &Map,
        arn: &str,
    ) -> Result<(), ProviderError> {
        let sdk = self.clients.get().await?;
        if inputs.contains_key("description") || inputs.contains_key("kmsKeyId") {
            sdk.sm
                .update_secret()
                .secret_id(arn)
                .set_description(get_str(inputs, "description").map(str::to_string))
                .set_kms_key_id(get_str(inputs, "kmsKeyId").map(str::to_string))
                .send()
                .await
                .map_err(|e| api_error(resource, "secretsmanager:UpdateSecret", e, &[]))?;
        }
        let mut tags = get_tags(inputs, "tags");
        tags.insert(URN_TAG.to_string(), ctx.urn.clone());
        sdk.sm
            .tag_resource()
            .secret_id(arn)
            .set_tags(Some(sm_tags(&tags)))
            .send()
            .await
            .map_err(|e| api_error(resource, "secretsmanager:TagResource", e, &[]))?;
        Ok(())
    }
}

#[async_trait]
impl ResourceProvider for SecretProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        let mut out = Vec::new();
        // AWS: letters, digits and `/_+=.@-` only.
        if let Some(bad) = crate::util::concrete_str(inputs, "name").and_then(|n| {
            crate::util::disallowed_chars(n, |c| {
                c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '+' | '=' | '.' | '@' | '-')
            })
        }) {
            out.push(
                CheckFailure::error(
                    rules::NAME,
                    PropertyPath::key("name"),
                    format!("secret name contains {bad}, which Secrets Manager does not allow"),
                )
                .with_help(
                    "use only letters, digits and `/_+=.@-`, e.g. `qualisys/redis/connection`",
                ),
            );
        }
        out.extend(match get_i64(inputs, "recoveryWindowInDays") {
            Some(d) if d != 0 && !(7..=30).contains(&d) => vec![CheckFailure::error(
                rules::RECOVERY_WINDOW,
                PropertyPath::key("recoveryWindowInDays"),
                format!("recoveryWindowInDays must be 0 or 7-30, not {d}"),
            )
            .with_help("use 7-30 days, or 0 to delete without recovery")],
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
            .sm
            .create_secret()
            .name(name)
            .set_description(get_str(inputs, "description").map(str::to_string))
            .set_kms_key_id(get_str(inputs, "kmsKeyId").map(str::to_string))
            .set_tags(Some(sm_tags(&tags)))
            .send()
            .await;
        match res {
            Ok(out) => {
                let arn = out
                    .arn()
                    .ok_or_else(|| missing(&resource, "secretsmanager:CreateSecret", "ARN"))?
                    .to_string();
                Ok(Created {
                    id: arn.clone(),
                    outputs: outputs(&arn, name),
                })
            }
            Err(e) if is_scheduled_for_deletion(error_code(&e), e.message()) => {
                self.restore_and_adopt(ctx, &resource, inputs, name).await
            }
            Err(e) if error_code(&e) == Some("ResourceExistsException") => {
                // Some endpoints report a name scheduled for deletion this way.
                // Otherwise: our own earlier create whose response was lost?
                if let Some(d) = self.describe(&resource, name).await? {
                    if d.deleted_date().is_some() {
                        return self.restore_and_adopt(ctx, &resource, inputs, name).await;
                    }
                    let ours = d
                        .tags()
                        .iter()
                        .any(|t| t.key() == Some(URN_TAG) && t.value() == Some(ctx.urn.as_str()));
                    if let (true, Some(arn)) = (ours, d.arn()) {
                        ctx.report("adopting the secret (it carries this resource's tag)");
                        return Ok(Created {
                            id: arn.to_string(),
                            outputs: outputs(arn, name),
                        });
                    }
                    return Err(api_failure(
                        &resource,
                        "secretsmanager:CreateSecret",
                        "ResourceExistsException",
                        format!(
                            "the secret {name} already exists and was not made by this resource \
                             (it lacks the tag {URN_TAG}={}): choose another name, delete that \
                             secret, or import it",
                            ctx.urn
                        ),
                    ));
                }
                Err(api_error(&resource, "secretsmanager:CreateSecret", e, &[]))
            }
            Err(e) => Err(api_error(&resource, "secretsmanager:CreateSecret", e, &[])),
        }
    }

    async fn read(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let Some(d) = self.describe(&resource, id).await? else {
            return Ok(None);
        };
        if d.deleted_date().is_some() {
            return Ok(None);
        }
        let name = d.name().unwrap_or_default().to_string();
        let arn = d.arn().unwrap_or(id).to_string();
        let mut obs = Map::new();
        obs.insert("name".into(), name.as_str().into());
        if let Some(v) = d.description().filter(|v| !v.is_empty()) {
            obs.insert("description".into(), v.into());
        }
        if let Some(k) = d.kms_key_id() {
            let v = match get_str(inputs, "kmsKeyId") {
                Some(i) if k == i || k.ends_with(&format!("/{i}")) => i.to_string(),
                _ => k.to_string(),
            };
            obs.insert("kmsKeyId".into(), v.into());
        }
        if let Some(v) = inputs.get("recoveryWindowInDays") {
            obs.insert("recoveryWindowInDays".into(), v.clone());
        }
        let tags: BTreeMap<String, String> = d
            .tags()
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_string(),
                    t.value().unwrap_or_default().to_string(),
                ))
            })
            .filter(|(k, _)| k != URN_TAG)
            .collect();
        if inputs.contains_key("tags") || !tags.is_empty() {
            obs.insert("tags".into(), tags_value(&tags));
        }
        Ok(Some(Observed {
            id: arn.clone(),
            inputs: obs,
            outputs: outputs(&arn, &name),
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
        let changed = |k: &str| old.get(k) != new.get(k);
        if changed("description") || changed("kmsKeyId") {
            sdk.sm
                .update_secret()
                .secret_id(id)
                .set_description(
                    changed("description")
                        .then(|| get_str(new, "description").unwrap_or_default().to_string()),
                )
                .set_kms_key_id(
                    get_str(new, "kmsKeyId")
                        .filter(|_| changed("kmsKeyId"))
                        .map(str::to_string),
                )
                .send()
                .await
                .map_err(|e| api_error(&resource, "secretsmanager:UpdateSecret", e, &[]))?;
        }
        if changed("tags") {
            let (set, gone) = tag_diff(&get_tags(old, "tags"), &get_tags(new, "tags"));
            if !set.is_empty() {
                sdk.sm
                    .tag_resource()
                    .secret_id(id)
                    .set_tags(Some(sm_tags(&set)))
                    .send()
                    .await
                    .map_err(|e| api_error(&resource, "secretsmanager:TagResource", e, &[]))?;
            }
            if !gone.is_empty() {
                sdk.sm
                    .untag_resource()
                    .secret_id(id)
                    .set_tag_keys(Some(gone))
                    .send()
                    .await
                    .map_err(|e| api_error(&resource, "secretsmanager:UntagResource", e, &[]))?;
            }
        }
        let name = get_str(new, "name").unwrap_or_default();
        let arn = old_outputs.get("arn").and_then(Value::as_str).unwrap_or(id);
        Ok(outputs(arn, name))
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
        let window = get_i64(inputs, "recoveryWindowInDays").unwrap_or(30);
        let mut req = sdk.sm.delete_secret().secret_id(id);
        req = if window == 0 {
            req.force_delete_without_recovery(true)
        } else {
            req.recovery_window_in_days(window)
        };
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) if is_scheduled_for_deletion(error_code(&e), e.message()) => Ok(()),
            Err(e) => Err(api_error(&resource, "secretsmanager:DeleteSecret", e, &[])),
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
        let Some(d) = self.describe(&resource, name).await? else {
            return Ok(None);
        };
        let tags: BTreeMap<String, String> = d
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
            .collect();
        ensure_ours(ctx, &resource, name, Some(&tags))?;
        // Still scheduled for deletion: the create did not restore it (the
        // next create will); never adopted as it is.
        if d.deleted_date().is_some() {
            return Ok(None);
        }
        let Some(arn) = d.arn() else { return Ok(None) };
        self.adopt(ctx, &resource, inputs, arn).await?;
        Ok(Some(Created {
            id: arn.to_string(),
            outputs: outputs(arn, name),
        }))
    }
}
