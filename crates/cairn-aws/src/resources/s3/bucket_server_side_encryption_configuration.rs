//! `aws:s3:BucketServerSideEncryptionConfiguration`: a bucket's default
//! encryption (Pulumi's `aws.s3.BucketServerSideEncryptionConfiguration`,
//! formerly `...V2`). The rule changes in place (PutBucketEncryption
//! replaces it whole); the bucket replaces. Deleting it returns the bucket
//! to S3's default (SSE-S3). No tags and none needed: the put is idempotent
//! by nature, so a create whose answer was lost is sent again; recovery
//! adopts the bucket's setting only when it is the stack's (never S3's
//! default, which every bucket has).

use super::{bucket_gone, bucket_ref_failures};
use crate::clients::Shared;
use crate::util::{api_error, concrete_str, error_code, get_bool, get_str, resource_label};
use async_trait::async_trait;
use aws_sdk_s3::types::{
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};
use cairn_core::dsl::{DeclaredType, Input, Output, Outputs, PropObject, Resource};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, ProviderError, ResourceProvider,
};
use cairn_core::schema::{PropType, ResourceSchema};
use cairn_core::value::{Map, PropertyPath, Value};
use serde::Serialize;

pub const TOKEN: &str = "aws:s3:BucketServerSideEncryptionConfiguration";

pub mod rules {
    pub const BUCKET: &str = "aws::s3::encryption-bucket";
    pub const RULES: &str = "aws::s3::encryption-rules";
}

pub struct BucketServerSideEncryptionConfiguration;

/// Default encryption of an S3 bucket's new objects.
#[derive(Serialize, Clone, Debug, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(
    token = "aws:s3:BucketServerSideEncryptionConfiguration",
    kind = BucketServerSideEncryptionConfiguration,
    outputs = BucketSseOutputs
)]
pub struct BucketSseArgs {
    /// Bucket name.
    #[prop(replaces)]
    pub bucket: Input<String>,
    /// The encryption rule (S3 takes exactly one).
    pub rules: Vec<SseRuleArgs>,
}

/// One encryption rule.
#[derive(Serialize, Clone, Debug, PropObject)]
#[serde(rename_all = "camelCase")]
pub struct SseRuleArgs {
    /// The algorithm and key applied to new objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apply_server_side_encryption_by_default: Option<SseByDefaultArgs>,
    /// Use an S3 Bucket Key (fewer KMS calls) with SSE-KMS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_key_enabled: Option<Input<bool>>,
}

/// The default algorithm and key.
#[derive(Serialize, Clone, Debug, PropObject)]
#[serde(rename_all = "camelCase")]
pub struct SseByDefaultArgs {
    /// `AES256` (SSE-S3), `aws:kms` or `aws:kms:dsse`.
    #[prop(ty = PropType::one_of(&["AES256", "aws:kms", "aws:kms:dsse"]))]
    pub sse_algorithm: Input<String>,
    /// KMS key id or ARN (with `aws:kms`; the AWS managed key `aws/s3` when unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_master_key_id: Option<Input<String>>,
}

#[derive(Outputs)]
pub struct BucketSseOutputs {
    /// Bucket name (the import id).
    pub id: Output<String>,
}

fn rule_maps(m: &Map) -> Vec<&Map> {
    m.get("rules")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_map)
        .collect()
}

fn by_default(rule: &Map) -> Option<&Map> {
    rule.get("applyServerSideEncryptionByDefault")
        .and_then(Value::as_map)
}

fn check(inputs: &Map) -> Vec<CheckFailure> {
    let mut out = bucket_ref_failures(rules::BUCKET, inputs);
    let rules = rule_maps(inputs);
    if inputs
        .get("rules")
        .and_then(Value::as_list)
        .map(|l| l.len())
        != Some(1)
        && inputs.get("rules").is_some_and(|r| r.as_list().is_some())
    {
        out.push(
            CheckFailure::error(
                rules::RULES,
                PropertyPath::key("rules"),
                "S3 takes exactly one server-side encryption rule",
            )
            .with_help("keep one entry in rules"),
        );
    }
    for (i, r) in rules.iter().enumerate() {
        let Some(d) = by_default(r) else { continue };
        let alg = concrete_str(d, "sseAlgorithm");
        if alg == Some("AES256") && d.contains_key("kmsMasterKeyId") {
            out.push(
                CheckFailure::error(
                    rules::RULES,
                    PropertyPath::key("rules")
                        .index(i)
                        .child("applyServerSideEncryptionByDefault")
                        .child("kmsMasterKeyId"),
                    "kmsMasterKeyId is only valid with sseAlgorithm aws:kms or aws:kms:dsse",
                )
                .with_help("set sseAlgorithm: aws:kms, or remove kmsMasterKeyId"),
            );
        }
    }
    out
}

fn outputs(id: &str) -> Map {
    let mut m = Map::new();
    m.insert("id".into(), id.into());
    m
}

pub struct BucketSseProvider {
    schema: ResourceSchema,
    clients: Shared,
}

impl BucketSseProvider {
    pub fn new(clients: Shared) -> Self {
        BucketSseProvider {
            schema: BucketServerSideEncryptionConfiguration::schema(),
            clients,
        }
    }

    async fn get(
        &self,
        resource: &str,
        bucket: &str,
    ) -> Result<Option<Vec<ServerSideEncryptionRule>>, ProviderError> {
        let sdk = self.clients.get().await?;
        match sdk.s3.get_bucket_encryption().bucket(bucket).send().await {
            Ok(out) => Ok(out
                .server_side_encryption_configuration()
                .map(|c| c.rules().to_vec())),
            Err(e)
                if bucket_gone(error_code(&e))
                    || error_code(&e) == Some("ServerSideEncryptionConfigurationNotFoundError") =>
            {
                Ok(None)
            }
            Err(e) => Err(api_error(resource, "s3:GetBucketEncryption", e, &[])),
        }
    }

    async fn put(&self, resource: &str, bucket: &str, m: &Map) -> Result<(), ProviderError> {
        let sdk = self.clients.get().await?;
        let mut rules = Vec::new();
        for r in rule_maps(m) {
            let mut b = ServerSideEncryptionRule::builder()
                .set_bucket_key_enabled(get_bool(r, "bucketKeyEnabled"));
            if let Some(d) = by_default(r) {
                b = b.apply_server_side_encryption_by_default(
                    ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(ServerSideEncryption::from(
                            get_str(d, "sseAlgorithm").unwrap_or("AES256"),
                        ))
                        .set_kms_master_key_id(get_str(d, "kmsMasterKeyId").map(str::to_string))
                        .build()
                        .map_err(|e| ProviderError::invalid(resource, e.to_string()))?,
                );
            }
            rules.push(b.build());
        }
        let config = ServerSideEncryptionConfiguration::builder()
            .set_rules(Some(rules))
            .build()
            .map_err(|e| ProviderError::invalid(resource, e.to_string()))?;
        sdk.s3
            .put_bucket_encryption()
            .bucket(bucket)
            .server_side_encryption_configuration(config)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| api_error(resource, "s3:PutBucketEncryption", e, &[]))
    }
}

/// A live rule in the stack's shape (`want`: the stack's rule at that place).
fn rule_value(r: &ServerSideEncryptionRule, want: Option<&Map>) -> Value {
    let mut m = Map::new();
    if let Some(d) = r.apply_server_side_encryption_by_default() {
        let mut dm = Map::new();
        dm.insert("sseAlgorithm".into(), d.sse_algorithm().as_str().into());
        if let Some(k) = d.kms_master_key_id() {
            dm.insert("kmsMasterKeyId".into(), k.into());
        }
        m.insert("applyServerSideEncryptionByDefault".into(), Value::Map(dm));
    }
    let key = r.bucket_key_enabled().unwrap_or(false);
    if key || want.is_some_and(|w| w.contains_key("bucketKeyEnabled")) {
        m.insert("bucketKeyEnabled".into(), key.into());
    }
    Value::Map(m)
}

#[async_trait]
impl ResourceProvider for BucketSseProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        check(inputs)
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let bucket = get_str(inputs, "bucket")
            .ok_or_else(|| ProviderError::invalid(&resource, "bucket is required"))?;
        self.put(&resource, bucket, inputs).await?;
        Ok(Created {
            id: bucket.to_string(),
            outputs: outputs(bucket),
        })
    }

    async fn read(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let Some(live) = self.get(&resource, id).await? else {
            return Ok(None);
        };
        let want = rule_maps(inputs);
        let rules: Vec<Value> = live
            .iter()
            .enumerate()
            .map(|(i, r)| rule_value(r, want.get(i).copied()))
            .collect();
        let mut obs = Map::new();
        obs.insert("bucket".into(), id.into());
        obs.insert("rules".into(), Value::List(rules));
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
        new: &Map,
        _old_outputs: &Map,
    ) -> Result<Map, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        self.put(&resource, id, new).await?;
        Ok(outputs(id))
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
        match sdk.s3.delete_bucket_encryption().bucket(id).send().await {
            Ok(_) => Ok(()),
            Err(e) if bucket_gone(error_code(&e)) => Ok(()),
            Err(e) => Err(api_error(&resource, "s3:DeleteBucketEncryption", e, &[])),
        }
    }

    async fn recover(
        &self,
        ctx: &CallContext,
        inputs: &Map,
    ) -> Result<Option<Created>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let Some(bucket) = get_str(inputs, "bucket") else {
            return Ok(None);
        };
        // Adopt only the stack's own rule: every bucket has S3's default
        // (SSE-S3), which a lost put did not set; a put again is harmless.
        let Some(live) = self.get(&resource, bucket).await? else {
            return Ok(None);
        };
        let want = rule_maps(inputs);
        let rules: Vec<Value> = live
            .iter()
            .enumerate()
            .map(|(i, r)| rule_value(r, want.get(i).copied()))
            .collect();
        Ok(
            (inputs.get("rules") == Some(&Value::List(rules))).then(|| Created {
                id: bucket.to_string(),
                outputs: outputs(bucket),
            }),
        )
    }
}
