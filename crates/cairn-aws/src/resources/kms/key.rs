//! `aws:kms:Key`: a symmetric customer managed key. CreateKey has no
//! idempotency token, so keys are tagged `cairn:urn` and
//! `cairn:create-token` (the journal intent's token), and `recover()` finds
//! an interrupted create's key by both: never an older key with the same URN,
//! never one pending deletion. CreateKey is sent with the SDK's
//! retries off: after a failure that may have taken effect (a lost answer),
//! the create looks for the key that very call made (tagged with its own
//! `cairn:create-token`) and adopts it before it tries again.

use crate::clients::{caller_identity, Shared};
use crate::util::{
    api_error, concrete_str, create_or_find, create_token, error_code, get_bool, get_i32, get_str,
    get_tags, is_internal_tag, is_not_found, missing, resource_label, same_json, tag_diff,
    tags_value, CREATE_TOKEN_TAG, URN_TAG,
};
use async_trait::async_trait;
use aws_sdk_kms::types::{KeyMetadata, Tag};
use aws_smithy_types::retry::RetryConfig;
use cairn_core::dsl::{Input, Output, ResourceType};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, ProviderError, ResourceProvider,
};
use cairn_core::schema::{OutputSchema, PropType, PropertySchema, ResourceSchema};
use cairn_core::value::{Map, PropertyPath};
use serde::Serialize;
use std::collections::BTreeMap;

pub const TOKEN: &str = "aws:kms:Key";
const DEFAULT_WINDOW: i32 = 30;

pub mod rules {
    pub const POLICY_JSON: &str = "aws::kms::policy-json";
    pub const DESCRIPTION: &str = "aws::kms::description-length";
}

/// KMS CreateKey: `Description` is at most 8,192 characters.
const MAX_DESCRIPTION: usize = 8192;

pub fn schema() -> ResourceSchema {
    let s = PropType::string;
    ResourceSchema::new(TOKEN, "A KMS customer managed key (symmetric, ENCRYPT_DECRYPT).")
        .property(PropertySchema::new("description", s()).doc("Description."))
        .property(
            PropertySchema::new("enableKeyRotation", PropType::Bool)
                .default_value(serde_json::json!(false))
                .doc("Yearly automatic rotation of the key material."),
        )
        .property(
            PropertySchema::new("deletionWindowInDays", PropType::int_range(7, 30))
                .default_value(serde_json::json!(DEFAULT_WINDOW))
                .doc("Waiting period before a destroyed key is deleted."),
        )
        .property(PropertySchema::new("policy", s()).doc(
            "Key policy JSON. Default: the account root, plus use by ElastiCache and Secrets Manager (kms:ViaService) in this account.",
        ))
        .property(PropertySchema::new("tags", PropType::map(s())).doc("Tags."))
        .output(OutputSchema::new("arn", "Key ARN."))
        .output(OutputSchema::new("keyId", "Key id."))
}

pub struct Key;

#[derive(Clone, Debug, Default, Serialize, cairn_core::dsl::Builder)]
#[serde(rename_all = "camelCase")]
pub struct KeyArgs {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Input<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_key_rotation: Option<Input<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_window_in_days: Option<Input<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<Input<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Input<String>>>,
}

pub struct KeyOutputs {
    pub arn: Output<String>,
    pub key_id: Output<String>,
}

impl ResourceType for Key {
    const TOKEN: &'static str = TOKEN;
    type Args = KeyArgs;
    type Outputs = KeyOutputs;
    fn outputs(name: &str) -> KeyOutputs {
        KeyOutputs {
            arn: Output::of(name, "arn"),
            key_id: Output::of(name, "keyId"),
        }
    }
}

/// The default key policy: the account root administers the key; principals
/// of the account may use it only through ElastiCache or Secrets Manager.
pub fn default_key_policy(partition: &str, account: &str, region: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": "cairn-default-key-policy",
        "Statement": [
            {
                "Sid": "EnableRootAccountAdministration",
                "Effect": "Allow",
                "Principal": { "AWS": format!("arn:{partition}:iam::{account}:root") },
                "Action": "kms:*",
                "Resource": "*"
            },
            {
                "Sid": "AllowUseThroughElastiCacheAndSecretsManager",
                "Effect": "Allow",
                "Principal": { "AWS": "*" },
                "Action": [
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:CreateGrant",
                    "kms:ListGrants",
                    "kms:DescribeKey"
                ],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:CallerAccount": account,
                        "kms:ViaService": [
                            format!("elasticache.{region}.amazonaws.com"),
                            format!("secretsmanager.{region}.amazonaws.com")
                        ]
                    }
                }
            }
        ]
    })
    .to_string()
}

fn kms_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(k, v)| Tag::builder().tag_key(k).tag_value(v).build().ok())
        .collect()
}

fn outputs(meta: &KeyMetadata) -> Map {
    let mut m = Map::new();
    m.insert("arn".into(), meta.arn().unwrap_or_default().into());
    m.insert("keyId".into(), meta.key_id().into());
    m
}

fn gone(meta: &KeyMetadata) -> bool {
    matches!(
        meta.key_state().map(|s| s.as_str()),
        Some("PendingDeletion" | "PendingReplicaDeletion")
    )
}

pub struct KeyProvider {
    schema: ResourceSchema,
    clients: Shared,
}

impl KeyProvider {
    pub fn new(clients: Shared) -> Self {
        KeyProvider {
            schema: schema(),
            clients,
        }
    }

    async fn describe(
        &self,
        resource: &str,
        id: &str,
    ) -> Result<Option<KeyMetadata>, ProviderError> {
        let sdk = self.clients.get().await?;
        match sdk.kms.describe_key().key_id(id).send().await {
            Ok(out) => Ok(out.key_metadata().cloned()),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(api_error(resource, "kms:DescribeKey", e, &[])),
        }
    }

    async fn tags_of(
        &self,
        resource: &str,
        id: &str,
    ) -> Result<BTreeMap<String, String>, ProviderError> {
        let sdk = self.clients.get().await?;
        let mut out = BTreeMap::new();
        let mut marker: Option<String> = None;
        loop {
            let page = sdk
                .kms
                .list_resource_tags()
                .key_id(id)
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| api_error(resource, "kms:ListResourceTags", e, &[]))?;
            for t in page.tags() {
                out.insert(t.tag_key().to_string(), t.tag_value().to_string());
            }
            match page.next_marker() {
                Some(m) if page.truncated() && Some(m) != marker.as_deref() => {
                    marker = Some(m.to_string())
                }
                _ => break,
            }
        }
        Ok(out)
    }

    /// Every live key (not pending deletion) whose tag `key` has `value`,
    /// with its tags.
    async fn find_tagged(
        &self,
        resource: &str,
        key: &str,
        value: &str,
    ) -> Result<Vec<(KeyMetadata, BTreeMap<String, String>)>, ProviderError> {
        let sdk = self.clients.get().await?;
        let mut found = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = sdk
                .kms
                .list_keys()
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| api_error(resource, "kms:ListKeys", e, &[]))?;
            for k in page.keys() {
                let Some(key_id) = k.key_id() else { continue };
                let tags = match self.tags_of(resource, key_id).await {
                    Ok(t) => t,
                    // AWS managed keys and keys we may not read: not ours.
                    Err(ProviderError::Api { code, .. })
                        if code == "AccessDeniedException" || code == "NotFoundException" =>
                    {
                        continue
                    }
                    Err(e) => return Err(e),
                };
                if tags.get(key).map(String::as_str) != Some(value) {
                    continue;
                }
                if let Some(meta) = self.describe(resource, key_id).await? {
                    if !gone(&meta) {
                        found.push((meta, tags));
                    }
                }
            }
            match page.next_marker() {
                Some(m) if page.truncated() && Some(m) != marker.as_deref() => {
                    marker = Some(m.to_string())
                }
                _ => return Ok(found),
            }
        }
    }

    async fn policy_for(&self, resource: &str, inputs: &Map) -> Result<String, ProviderError> {
        if let Some(p) = get_str(inputs, "policy") {
            return Ok(p.to_string());
        }
        let sdk = self.clients.get().await?;
        let (account, partition) = caller_identity(sdk, resource).await?;
        let region = sdk
            .kms
            .config()
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".to_string());
        Ok(default_key_policy(&partition, &account, &region))
    }

    async fn set_rotation(
        &self,
        resource: &str,
        key_id: &str,
        on: bool,
    ) -> Result<(), ProviderError> {
        let sdk = self.clients.get().await?;
        if on {
            sdk.kms
                .enable_key_rotation()
                .key_id(key_id)
                .send()
                .await
                .map_err(|e| api_error(resource, "kms:EnableKeyRotation", e, &[]))?;
        } else {
            sdk.kms
                .disable_key_rotation()
                .key_id(key_id)
                .send()
                .await
                .map_err(|e| api_error(resource, "kms:DisableKeyRotation", e, &[]))?;
        }
        Ok(())
    }
}

#[async_trait]
impl ResourceProvider for KeyProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        let mut out = Vec::new();
        if let Some(d) = concrete_str(inputs, "description") {
            let n = d.chars().count();
            if n > MAX_DESCRIPTION {
                out.push(
                    CheckFailure::error(
                        rules::DESCRIPTION,
                        PropertyPath::key("description"),
                        format!(
                            "description is {n} characters; KMS allows at most {MAX_DESCRIPTION}"
                        ),
                    )
                    .with_help("shorten the description"),
                );
            }
        }
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
                .with_help("write the key policy as a JSON document, e.g. with `fn::toJSON`")]
            }
            _ => Vec::new(),
        });
        out
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let policy = self.policy_for(&resource, inputs).await?;
        let sdk = self.clients.get().await?;
        let mut tags = get_tags(inputs, "tags");
        tags.insert(URN_TAG.to_string(), ctx.urn.clone());
        let token = ctx
            .create_token
            .clone()
            .unwrap_or_else(|| create_token(&ctx.urn));
        tags.insert(CREATE_TOKEN_TAG.to_string(), token.clone());
        let tags = kms_tags(&tags);
        let description = get_str(inputs, "description").map(str::to_string);
        let attempt = || {
            let req = sdk
                .kms
                .create_key()
                .set_description(description.clone())
                .policy(policy.clone())
                .set_tags(Some(tags.clone()))
                .customize()
                .config_override(
                    aws_sdk_kms::config::Builder::default().retry_config(RetryConfig::disabled()),
                );
            let resource = resource.as_str();
            async move {
                let out = req
                    .send()
                    .await
                    .map_err(|e| api_error(resource, "kms:CreateKey", e, &[]))?;
                out.key_metadata()
                    .cloned()
                    .ok_or_else(|| missing(resource, "kms:CreateKey", "key metadata"))
            }
        };
        let find = || async {
            let found = self
                .find_tagged(&resource, CREATE_TOKEN_TAG, &token)
                .await?;
            Ok(found.into_iter().map(|(meta, _)| meta).next())
        };
        let meta = create_or_find(ctx, self.clients.backoff(), attempt, find).await?;
        let meta = &meta;
        crate::util::note_created(meta.key_id());
        if get_bool(inputs, "enableKeyRotation") == Some(true) {
            // A new key may not be visible yet.
            crate::util::retry_not_found(ctx, crate::util::PROPAGATION, || {
                self.set_rotation(&resource, meta.key_id(), true)
            })
            .await?;
        }
        Ok(Created {
            id: meta.key_id().to_string(),
            outputs: outputs(meta),
        })
    }

    async fn read(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let found =
            crate::util::read_after_create(ctx, id, || self.describe(&resource, id)).await?;
        let Some(meta) = found else {
            return Ok(None);
        };
        if gone(&meta) {
            return Ok(None);
        }
        let sdk = self.clients.get().await?;
        let mut obs = Map::new();
        if let Some(d) = meta.description().filter(|d| !d.is_empty()) {
            obs.insert("description".into(), d.into());
        }
        let rotation = sdk
            .kms
            .get_key_rotation_status()
            .key_id(id)
            .send()
            .await
            .map_err(|e| api_error(&resource, "kms:GetKeyRotationStatus", e, &[]))?
            .key_rotation_enabled();
        obs.insert("enableKeyRotation".into(), rotation.into());
        if let Some(w) = inputs.get("deletionWindowInDays") {
            obs.insert("deletionWindowInDays".into(), w.clone());
        }
        if let Some(want) = get_str(inputs, "policy") {
            let live = sdk
                .kms
                .get_key_policy()
                .key_id(id)
                .policy_name("default")
                .send()
                .await
                .map_err(|e| api_error(&resource, "kms:GetKeyPolicy", e, &[]))?;
            let live = live.policy().unwrap_or_default();
            let v = if same_json(live, want) { want } else { live };
            obs.insert("policy".into(), v.into());
        }
        let mut tags = self.tags_of(&resource, id).await?;
        tags.retain(|k, _| !is_internal_tag(k));
        if inputs.contains_key("tags") || !tags.is_empty() {
            obs.insert("tags".into(), tags_value(&tags));
        }
        Ok(Some(Observed {
            id: id.to_string(),
            inputs: obs,
            outputs: outputs(&meta),
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
        let changed = |k: &str| old.get(k) != new.get(k);
        if changed("description") {
            sdk.kms
                .update_key_description()
                .key_id(id)
                .description(get_str(new, "description").unwrap_or_default())
                .send()
                .await
                .map_err(|e| api_error(&resource, "kms:UpdateKeyDescription", e, &[]))?;
        }
        if changed("enableKeyRotation") {
            self.set_rotation(
                &resource,
                id,
                get_bool(new, "enableKeyRotation") == Some(true),
            )
            .await?;
        }
        if changed("policy") {
            let policy = self.policy_for(&resource, new).await?;
            sdk.kms
                .put_key_policy()
                .key_id(id)
                .policy_name("default")
                .policy(policy)
                .send()
                .await
                .map_err(|e| api_error(&resource, "kms:PutKeyPolicy", e, &[]))?;
        }
        if changed("tags") {
            let (set, gone) = tag_diff(&get_tags(old, "tags"), &get_tags(new, "tags"));
            if !set.is_empty() {
                sdk.kms
                    .tag_resource()
                    .key_id(id)
                    .set_tags(Some(kms_tags(&set)))
                    .send()
                    .await
                    .map_err(|e| api_error(&resource, "kms:TagResource", e, &[]))?;
            }
            if !gone.is_empty() {
                sdk.kms
                    .untag_resource()
                    .key_id(id)
                    .set_tag_keys(Some(gone))
                    .send()
                    .await
                    .map_err(|e| api_error(&resource, "kms:UntagResource", e, &[]))?;
            }
        }
        let meta = self
            .describe(&resource, id)
            .await?
            .ok_or_else(|| missing(&resource, "kms:DescribeKey", "key"))?;
        Ok(outputs(&meta))
    }

    async fn delete(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
        _outputs: &Map,
    ) -> Result<(), ProviderError> {
        crate::util::forget_created(id);
        let resource = resource_label(ctx, TOKEN);
        let sdk = self.clients.get().await?;
        let window = get_i32(inputs, "deletionWindowInDays").unwrap_or(DEFAULT_WINDOW);
        match sdk
            .kms
            .schedule_key_deletion()
            .key_id(id)
            .pending_window_in_days(window)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            // Already pending deletion.
            Err(e) if error_code(&e) == Some("KMSInvalidStateException") => {
                match self.describe(&resource, id).await? {
                    Some(meta) if !gone(&meta) => {
                        Err(api_error(&resource, "kms:ScheduleKeyDeletion", e, &[]))
                    }
                    _ => Ok(()),
                }
            }
            Err(e) => Err(api_error(&resource, "kms:ScheduleKeyDeletion", e, &[])),
        }
    }

    async fn recover(
        &self,
        ctx: &CallContext,
        inputs: &Map,
    ) -> Result<Option<Created>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let mut keys = self.find_tagged(&resource, URN_TAG, &ctx.urn).await?;
        let meta = match &ctx.create_token {
            // The key this intent's create made, not an older one with our URN.
            Some(token) => keys
                .into_iter()
                .find(|(_, tags)| tags.get(CREATE_TOKEN_TAG) == Some(token)),
            None if keys.len() > 1 => {
                let ids: Vec<&str> = keys.iter().map(|(m, _)| m.key_id()).collect();
                return Err(ProviderError::invalid(
                    &resource,
                    format!(
                        "{} live keys carry the tag {URN_TAG}={} ({}) and the interrupted create \
                         recorded no token to tell which one it made: schedule the deletion of \
                         the extra keys, then run again",
                        ids.len(),
                        ctx.urn,
                        ids.join(", ")
                    ),
                ));
            }
            None => keys.pop(),
        };
        let Some((meta, _)) = meta else {
            return Ok(None);
        };
        ctx.report("adopting a key from an interrupted create");
        // The create may have stopped before rotation was enabled.
        if get_bool(inputs, "enableKeyRotation") == Some(true) {
            self.set_rotation(&resource, meta.key_id(), true).await?;
        }
        Ok(Some(Created {
            id: meta.key_id().to_string(),
            outputs: outputs(&meta),
        }))
    }
}
