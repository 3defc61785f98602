//! `aws:secretsmanager:SecretVersion`: a secret's value. Every put uses a
//! ClientRequestToken derived from the token the engine records in the
//! journal intent before the call, so a retried or recovered put is
//! idempotent (Secrets Manager uses the token as the version id) while each
//! new put, even of an earlier value (A → B → A), is a new version. AWS
//! ignores a put whose token names an existing version with the same value.

use crate::clients::Shared;
use crate::util::{api_error, get_str, is_not_found, missing, resource_label, stable_token};
use async_trait::async_trait;
use cairn_core::dsl::{Input, Output, ResourceType};
use cairn_core::provider::{CallContext, Created, Observed, ProviderError, ResourceProvider};
use cairn_core::schema::{OutputSchema, PropType, PropertySchema, ResourceSchema};
use cairn_core::value::{Map, Value};
use serde::Serialize;

pub const TOKEN: &str = "aws:secretsmanager:SecretVersion";
const CURRENT: &str = "AWSCURRENT";

pub fn schema() -> ResourceSchema {
    ResourceSchema::new(
        TOKEN,
        "A Secrets Manager secret value (a new version on every change).",
    )
    .property(
        PropertySchema::new("secretId", PropType::string())
            .required()
            .replaces()
            .doc("Secret name or ARN."),
    )
    .property(
        PropertySchema::new("secretString", PropType::string())
            .required()
            .secret()
            .doc("The value; may interpolate other outputs, e.g. a JSON connection document."),
    )
    .output(OutputSchema::new("versionId", "Version id."))
    .output(OutputSchema::new("arn", "ARN of the secret."))
}

pub struct SecretVersion;

#[derive(Clone, Debug, Serialize, cairn_core::dsl::Builder)]
#[serde(rename_all = "camelCase")]
pub struct SecretVersionArgs {
    pub secret_id: Input<String>,
    pub secret_string: Input<String>,
}

pub struct SecretVersionOutputs {
    pub version_id: Output<String>,
    pub arn: Output<String>,
}

impl ResourceType for SecretVersion {
    const TOKEN: &'static str = TOKEN;
    type Args = SecretVersionArgs;
    type Outputs = SecretVersionOutputs;
    fn outputs(name: &str) -> SecretVersionOutputs {
        SecretVersionOutputs {
            version_id: Output::of(name, "versionId"),
            arn: Output::of(name, "arn"),
        }
    }
}

/// The idempotency token (and so the version id) of a put: from the intent's
/// token when the engine gave one, else (direct calls) from the value.
pub(crate) fn request_token(ctx: &CallContext, value: &str) -> String {
    match &ctx.create_token {
        Some(t) => stable_token(&[&ctx.urn, "put", t]),
        None => stable_token(&[&ctx.urn, value]),
    }
}

fn outputs(arn: &str, version: &str) -> Map {
    let mut m = Map::new();
    m.insert("arn".into(), arn.into());
    m.insert("versionId".into(), version.into());
    m
}

pub struct SecretVersionProvider {
    schema: ResourceSchema,
    clients: Shared,
}

impl SecretVersionProvider {
    pub fn new(clients: Shared) -> Self {
        SecretVersionProvider {
            schema: schema(),
            clients,
        }
    }

    async fn put(
        &self,
        ctx: &CallContext,
        inputs: &Map,
    ) -> Result<(String, String), ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let secret_id = get_str(inputs, "secretId")
            .ok_or_else(|| ProviderError::invalid(&resource, "secretId is required"))?;
        let value = get_str(inputs, "secretString")
            .ok_or_else(|| ProviderError::invalid(&resource, "secretString is required"))?;
        let sdk = self.clients.get().await?;
        let out = sdk
            .sm
            .put_secret_value()
            .secret_id(secret_id)
            .secret_string(value)
            .client_request_token(request_token(ctx, value))
            .send()
            .await
            .map_err(|e| api_error(&resource, "secretsmanager:PutSecretValue", e, &[value]))?;
        let arn = out
            .arn()
            .ok_or_else(|| missing(&resource, "secretsmanager:PutSecretValue", "ARN"))?;
        let version = out
            .version_id()
            .ok_or_else(|| missing(&resource, "secretsmanager:PutSecretValue", "version id"))?;
        Ok((arn.to_string(), version.to_string()))
    }
}

#[async_trait]
impl ResourceProvider for SecretVersionProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let (arn, version) = self.put(ctx, inputs).await?;
        Ok(Created {
            id: format!("{arn}|{version}"),
            outputs: outputs(&arn, &version),
        })
    }

    async fn read(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let id_arn = id.split_once('|').map_or(id, |(arn, _)| arn);
        let secret_id = get_str(inputs, "secretId").unwrap_or(id_arn);
        let sdk = self.clients.get().await?;
        let d = match sdk.sm.describe_secret().secret_id(secret_id).send().await {
            Ok(d) => d,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => {
                return Err(api_error(
                    &resource,
                    "secretsmanager:DescribeSecret",
                    e,
                    &[],
                ))
            }
        };
        if d.deleted_date().is_some() {
            return Ok(None);
        }
        let arn = d.arn().unwrap_or(id_arn).to_string();
        // Ours is current when AWSCURRENT holds the value the inputs ask
        // for, whichever version put it there.
        let cur = match sdk
            .sm
            .get_secret_value()
            .secret_id(secret_id)
            .version_stage(CURRENT)
            .send()
            .await
        {
            Ok(c) => c,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => {
                return Err(api_error(
                    &resource,
                    "secretsmanager:GetSecretValue",
                    e,
                    &[],
                ))
            }
        };
        let version = cur.version_id().unwrap_or_default().to_string();
        let mut obs = Map::new();
        obs.insert("secretId".into(), secret_id.into());
        match (inputs.get("secretString"), cur.secret_string()) {
            (Some(v), Some(c)) if v.reveal().as_str() == Some(c) => {
                obs.insert("secretString".into(), v.clone());
            }
            // Someone put another value: report it (as a secret) as drift.
            (_, Some(c)) => {
                obs.insert("secretString".into(), Value::secret(c));
            }
            _ => {}
        }
        Ok(Some(Observed {
            id: format!("{arn}|{version}"),
            inputs: obs,
            outputs: outputs(&arn, &version),
        }))
    }

    async fn update(
        &self,
        ctx: &CallContext,
        _id: &str,
        _old: &Map,
        new: &Map,
        _old_outputs: &Map,
    ) -> Result<Map, ProviderError> {
        let (arn, version) = self.put(ctx, new).await?;
        Ok(outputs(&arn, &version))
    }

    /// Versions go with their secret; a version of a live secret is simply
    /// superseded by the next put, so there is nothing to delete.
    async fn delete(
        &self,
        _ctx: &CallContext,
        _id: &str,
        _inputs: &Map,
        _outputs: &Map,
    ) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn recover(
        &self,
        ctx: &CallContext,
        inputs: &Map,
    ) -> Result<Option<Created>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let (Some(secret_id), Some(value)) =
            (get_str(inputs, "secretId"), get_str(inputs, "secretString"))
        else {
            return Ok(None);
        };
        let version = request_token(ctx, value);
        let sdk = self.clients.get().await?;
        let d = match sdk.sm.describe_secret().secret_id(secret_id).send().await {
            Ok(d) => d,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => {
                return Err(api_error(
                    &resource,
                    "secretsmanager:DescribeSecret",
                    e,
                    &[],
                ))
            }
        };
        let found = d
            .version_ids_to_stages()
            .is_some_and(|m| m.contains_key(&version));
        match (found, d.arn()) {
            (true, Some(arn)) => Ok(Some(Created {
                id: format!("{arn}|{version}"),
                outputs: outputs(arn, &version),
            })),
            _ => Ok(None),
        }
    }
}
