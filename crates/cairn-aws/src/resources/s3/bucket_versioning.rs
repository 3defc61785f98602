//! `aws:s3:BucketVersioning`: a bucket's versioning state (Pulumi's
//! `aws.s3.BucketVersioning`, formerly `BucketVersioningV2`). The status
//! changes in place; the bucket replaces. A bucket can never go back to
//! unversioned: deleting this resource suspends versioning. No tags and
//! none needed: PutBucketVersioning is idempotent by nature, so a create
//! whose answer was lost is sent again; recovery adopts the bucket's
//! status only when it is the stack's.

use super::{bucket_gone, bucket_ref_failures};
use crate::clients::Shared;
use crate::util::{api_error, error_code, get_str, resource_label};
use async_trait::async_trait;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use cairn_core::dsl::{DeclaredType, Input, Output, Outputs, PropObject, Resource};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, ProviderError, ResourceProvider,
};
use cairn_core::schema::{PropType, ResourceSchema};
use cairn_core::value::{Map, Value};
use serde::Serialize;

pub const TOKEN: &str = "aws:s3:BucketVersioning";

pub mod rules {
    pub const BUCKET: &str = "aws::s3::versioning-bucket";
}

pub struct BucketVersioning;

/// Versioning of an S3 bucket.
#[derive(Serialize, Clone, Debug, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(token = "aws:s3:BucketVersioning", kind = BucketVersioning, outputs = BucketVersioningOutputs)]
pub struct BucketVersioningArgs {
    /// Bucket name.
    #[prop(replaces)]
    pub bucket: Input<String>,
    /// The versioning state.
    pub versioning_configuration: VersioningConfigurationArgs,
}

/// The versioning state.
#[derive(Serialize, Clone, Debug, PropObject)]
#[serde(rename_all = "camelCase")]
pub struct VersioningConfigurationArgs {
    /// `Enabled` or `Suspended` (a versioned bucket never returns to unversioned).
    #[prop(ty = PropType::one_of(&["Enabled", "Suspended"]))]
    pub status: Input<String>,
}

#[derive(Outputs)]
pub struct BucketVersioningOutputs {
    /// Bucket name (the import id).
    pub id: Output<String>,
}

fn status(m: &Map) -> &str {
    m.get("versioningConfiguration")
        .and_then(Value::as_map)
        .and_then(|v| get_str(v, "status"))
        .unwrap_or("Enabled")
}

fn outputs(id: &str) -> Map {
    let mut m = Map::new();
    m.insert("id".into(), id.into());
    m
}

pub struct BucketVersioningProvider {
    schema: ResourceSchema,
    clients: Shared,
}

impl BucketVersioningProvider {
    pub fn new(clients: Shared) -> Self {
        BucketVersioningProvider {
            schema: BucketVersioning::schema(),
            clients,
        }
    }

    /// The status, or `None` when the bucket is gone or was never versioned.
    async fn get(&self, resource: &str, bucket: &str) -> Result<Option<String>, ProviderError> {
        let sdk = self.clients.get().await?;
        match sdk.s3.get_bucket_versioning().bucket(bucket).send().await {
            Ok(out) => Ok(out.status().map(|s| s.as_str().to_string())),
            Err(e) if bucket_gone(error_code(&e)) => Ok(None),
            Err(e) => Err(api_error(resource, "s3:GetBucketVersioning", e, &[])),
        }
    }

    async fn put(&self, resource: &str, bucket: &str, status: &str) -> Result<(), ProviderError> {
        let sdk = self.clients.get().await?;
        sdk.s3
            .put_bucket_versioning()
            .bucket(bucket)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::from(status))
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| api_error(resource, "s3:PutBucketVersioning", e, &[]))
    }
}

#[async_trait]
impl ResourceProvider for BucketVersioningProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        bucket_ref_failures(rules::BUCKET, inputs)
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let bucket = get_str(inputs, "bucket")
            .ok_or_else(|| ProviderError::invalid(&resource, "bucket is required"))?;
        self.put(&resource, bucket, status(inputs)).await?;
        Ok(Created {
            id: bucket.to_string(),
            outputs: outputs(bucket),
        })
    }

    async fn read(
        &self,
        ctx: &CallContext,
        id: &str,
        _inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let Some(status) = self.get(&resource, id).await? else {
            return Ok(None);
        };
        let mut v = Map::new();
        v.insert("status".into(), status.into());
        let mut obs = Map::new();
        obs.insert("bucket".into(), id.into());
        obs.insert("versioningConfiguration".into(), Value::Map(v));
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
        self.put(&resource, id, status(new)).await?;
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
        // S3 cannot un-version a bucket: suspend it (a gone bucket is done).
        match self.get(&resource, id).await? {
            Some(s) if s == "Enabled" => match self.put(&resource, id, "Suspended").await {
                Err(ProviderError::Api { code, .. }) if bucket_gone(Some(&code)) => Ok(()),
                r => r,
            },
            _ => Ok(()),
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
        // Adopt only the stack's own status; otherwise the put is sent again.
        Ok(self
            .get(&resource, bucket)
            .await?
            .filter(|s| s == status(inputs))
            .map(|_| Created {
                id: bucket.to_string(),
                outputs: outputs(bucket),
            }))
    }
}
