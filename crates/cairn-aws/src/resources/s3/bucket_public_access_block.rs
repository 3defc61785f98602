//! `aws:s3:BucketPublicAccessBlock`: a bucket's four public-access
//! switches, changed in place by PutPublicAccessBlock; the bucket replaces.
//! No tags and none needed: the put is idempotent by nature, so a create
//! whose answer was lost is sent again; recovery adopts the bucket's
//! setting only when it is the stack's.

use super::{bucket_gone, bucket_ref_failures};
use crate::clients::Shared;
use crate::util::{api_error, error_code, get_bool, get_str, resource_label};
use async_trait::async_trait;
use aws_sdk_s3::types::PublicAccessBlockConfiguration;
use cairn_core::dsl::{DeclaredType, Input, Output, Outputs, Resource};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, ProviderError, ResourceProvider,
};
use cairn_core::schema::ResourceSchema;
use cairn_core::value::Map;
use serde::Serialize;

pub const TOKEN: &str = "aws:s3:BucketPublicAccessBlock";

pub mod rules {
    pub const BUCKET: &str = "aws::s3::public-access-block-bucket";
}

const SWITCHES: [&str; 4] = [
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
];

pub struct BucketPublicAccessBlock;

/// Blocks public access to an S3 bucket.
#[derive(Serialize, Clone, Debug, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(token = "aws:s3:BucketPublicAccessBlock", kind = BucketPublicAccessBlock, outputs = BucketPublicAccessBlockOutputs)]
pub struct BucketPublicAccessBlockArgs {
    /// Bucket name.
    #[prop(replaces)]
    pub bucket: Input<String>,
    /// Reject requests that set public ACLs.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(default = false)]
    pub block_public_acls: Option<Input<bool>>,
    /// Reject bucket policies that grant public access.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(default = false)]
    pub block_public_policy: Option<Input<bool>>,
    /// Ignore public ACLs on the bucket and its objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(default = false)]
    pub ignore_public_acls: Option<Input<bool>>,
    /// Only AWS services and the owner may reach the bucket while its policy is public.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(default = false)]
    pub restrict_public_buckets: Option<Input<bool>>,
}

#[derive(Outputs)]
pub struct BucketPublicAccessBlockOutputs {
    /// Bucket name (the import id).
    pub id: Output<String>,
}

fn outputs(id: &str) -> Map {
    let mut m = Map::new();
    m.insert("id".into(), id.into());
    m
}

pub struct BucketPublicAccessBlockProvider {
    schema: ResourceSchema,
    clients: Shared,
}

impl BucketPublicAccessBlockProvider {
    pub fn new(clients: Shared) -> Self {
        BucketPublicAccessBlockProvider {
            schema: BucketPublicAccessBlock::schema(),
            clients,
        }
    }

    async fn get(
        &self,
        resource: &str,
        bucket: &str,
    ) -> Result<Option<PublicAccessBlockConfiguration>, ProviderError> {
        let sdk = self.clients.get().await?;
        match sdk.s3.get_public_access_block().bucket(bucket).send().await {
            Ok(out) => Ok(out.public_access_block_configuration().cloned()),
            Err(e)
                if bucket_gone(error_code(&e))
                    || error_code(&e) == Some("NoSuchPublicAccessBlockConfiguration") =>
            {
                Ok(None)
            }
            Err(e) => Err(api_error(resource, "s3:GetPublicAccessBlock", e, &[])),
        }
    }

    async fn put(&self, resource: &str, bucket: &str, m: &Map) -> Result<(), ProviderError> {
        let sdk = self.clients.get().await?;
        let b = |k: &str| get_bool(m, k).unwrap_or(false);
        sdk.s3
            .put_public_access_block()
            .bucket(bucket)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(b("blockPublicAcls"))
                    .block_public_policy(b("blockPublicPolicy"))
                    .ignore_public_acls(b("ignorePublicAcls"))
                    .restrict_public_buckets(b("restrictPublicBuckets"))
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| api_error(resource, "s3:PutPublicAccessBlock", e, &[]))
    }
}

#[async_trait]
impl ResourceProvider for BucketPublicAccessBlockProvider {
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
        _inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let Some(c) = self.get(&resource, id).await? else {
            return Ok(None);
        };
        let mut obs = Map::new();
        obs.insert("bucket".into(), id.into());
        let vals = [
            c.block_public_acls(),
            c.block_public_policy(),
            c.ignore_public_acls(),
            c.restrict_public_buckets(),
        ];
        for (k, v) in SWITCHES.iter().zip(vals) {
            obs.insert((*k).into(), v.unwrap_or(false).into());
        }
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
        match sdk.s3.delete_public_access_block().bucket(id).send().await {
            Ok(_) => Ok(()),
            Err(e)
                if bucket_gone(error_code(&e))
                    || error_code(&e) == Some("NoSuchPublicAccessBlockConfiguration") =>
            {
                Ok(())
            }
            Err(e) => Err(api_error(&resource, "s3:DeletePublicAccessBlock", e, &[])),
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
        // Adopt only the stack's own setting; otherwise the put is sent again.
        let Some(c) = self.get(&resource, bucket).await? else {
            return Ok(None);
        };
        let live = [
            c.block_public_acls(),
            c.block_public_policy(),
            c.ignore_public_acls(),
            c.restrict_public_buckets(),
        ];
        let same = SWITCHES
            .iter()
            .zip(live)
            .all(|(k, v)| v.unwrap_or(false) == get_bool(inputs, k).unwrap_or(false));
        Ok(same.then(|| Created {
            id: bucket.to_string(),
            outputs: outputs(bucket),
        }))
    }
}
