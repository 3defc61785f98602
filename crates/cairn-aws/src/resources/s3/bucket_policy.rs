//! `aws:s3:BucketPolicy`: a bucket's resource policy. The document changes
//! in place (PutBucketPolicy replaces it whole) and is compared
//! semantically, so formatting is never drift; the bucket replaces. No tags
//! and none needed: the put is idempotent by nature, so a create whose
//! answer was lost is sent again; recovery adopts the bucket's policy only
//! when it is the stack's.

use super::{bucket_gone, bucket_ref_failures};
use crate::clients::Shared;
use crate::resources::iam::policy_doc::{self, DocKind};
use crate::util::{api_error, concrete_str, error_code, get_str, resource_label};
use async_trait::async_trait;
use cairn_core::dsl::{DeclaredType, Input, Output, Outputs, Resource};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, ProviderError, ResourceProvider,
};
use cairn_core::schema::{PropType, ResourceSchema};
use cairn_core::value::{Map, PropertyPath};
use serde::Serialize;
use serde_json::Value as Json;

pub const TOKEN: &str = "aws:s3:BucketPolicy";

pub mod rules {
    pub const BUCKET: &str = "aws::s3::policy-bucket";
    pub const POLICY: &str = "aws::s3::bucket-policy";
}

/// S3: a bucket policy is at most 20 KB.
const MAX_POLICY: usize = 20 * 1024;

pub struct BucketPolicy;

/// The resource policy of an S3 bucket.
#[derive(Serialize, Clone, Debug, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(token = "aws:s3:BucketPolicy", kind = BucketPolicy, outputs = BucketPolicyOutputs)]
pub struct BucketPolicyArgs {
    /// Bucket name.
    #[prop(replaces)]
    pub bucket: Input<String>,
    /// The policy document (JSON, at most 20 KB).
    #[prop(ty = PropType::String { min_len: Some(1), max_len: Some(20480) })]
    pub policy: Input<String>,
}

#[derive(Outputs)]
pub struct BucketPolicyOutputs {
    /// Bucket name (the import id).
    pub id: Output<String>,
}

/// Resources of `doc` that are not this bucket or its objects.
fn foreign_resources(doc: &str, bucket: &str) -> Vec<String> {
    let Ok(v) = serde_json::from_str::<Json>(doc) else {
        return Vec::new();
    };
    let statements = match v.get("Statement") {
        Some(Json::Array(a)) => a.clone(),
        Some(o @ Json::Object(_)) => vec![o.clone()],
        _ => return Vec::new(),
    };
    let arn = format!("arn:aws:s3:::{bucket}");
    let mut out = Vec::new();
    for st in &statements {
        for k in ["Resource", "NotResource"] {
            let items: Vec<&str> = match st.get(k) {
                Some(Json::String(s)) => vec![s.as_str()],
                Some(Json::Array(a)) => a.iter().filter_map(Json::as_str).collect(),
                _ => Vec::new(),
            };
            for r in items {
                let ours = r == arn || r.starts_with(&format!("{arn}/"));
                // Another partition (aws-cn, aws-us-gov) is the same bucket.
                let other_partition = r
                    .strip_prefix("arn:")
                    .and_then(|x| x.split_once(":s3:::"))
                    .is_some_and(|(_, rest)| {
                        rest == bucket || rest.starts_with(&format!("{bucket}/"))
                    });
                if !ours && !other_partition && !r.contains("${") {
                    out.push(r.to_string());
                }
            }
        }
    }
    out
}

fn check(inputs: &Map) -> Vec<CheckFailure> {
    let mut out = bucket_ref_failures(rules::BUCKET, inputs);
    let Some(doc) = concrete_str(inputs, "policy") else {
        return out;
    };
    let at = PropertyPath::key("policy");
    if let Some(why) = policy_doc::problem(doc, DocKind::Resource) {
        out.push(
            CheckFailure::error(rules::POLICY, at, format!("S3 would reject the bucket policy: {why}"))
                .with_help("a bucket policy's statements name Effect, Principal, Action and Resource (the bucket's ARN)"),
        );
        return out;
    }
    if doc.len() > MAX_POLICY {
        out.push(
            CheckFailure::error(
                rules::POLICY,
                at.clone(),
                format!("the bucket policy is {} bytes; S3 allows 20 KB", doc.len()),
            )
            .with_help("merge statements or use wildcards"),
        );
    }
    if let Some(bucket) = concrete_str(inputs, "bucket") {
        let foreign = foreign_resources(doc, bucket);
        if !foreign.is_empty() {
            out.push(
                CheckFailure::error(
                    rules::POLICY,
                    at,
                    format!(
                        "the bucket policy names resources outside bucket {bucket}: {} (S3 answers \"Policy has invalid resource\")",
                        foreign.join(", ")
                    ),
                )
                .with_help(format!("use arn:aws:s3:::{bucket} and arn:aws:s3:::{bucket}/*")),
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

pub struct BucketPolicyProvider {
    schema: ResourceSchema,
    clients: Shared,
}

impl BucketPolicyProvider {
    pub fn new(clients: Shared) -> Self {
        BucketPolicyProvider {
            schema: BucketPolicy::schema(),
            clients,
        }
    }

    async fn get(&self, resource: &str, bucket: &str) -> Result<Option<String>, ProviderError> {
        let sdk = self.clients.get().await?;
        match sdk.s3.get_bucket_policy().bucket(bucket).send().await {
            Ok(out) => Ok(out.policy().map(str::to_string)),
            Err(e)
                if bucket_gone(error_code(&e)) || error_code(&e) == Some("NoSuchBucketPolicy") =>
            {
                Ok(None)
            }
            Err(e) => Err(api_error(resource, "s3:GetBucketPolicy", e, &[])),
        }
    }

    async fn put(&self, resource: &str, bucket: &str, policy: &str) -> Result<(), ProviderError> {
        let sdk = self.clients.get().await?;
        sdk.s3
            .put_bucket_policy()
            .bucket(bucket)
            .policy(policy)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| api_error(resource, "s3:PutBucketPolicy", e, &[]))
    }
}

#[async_trait]
impl ResourceProvider for BucketPolicyProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        check(inputs)
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let (Some(bucket), Some(policy)) = (get_str(inputs, "bucket"), get_str(inputs, "policy"))
        else {
            return Err(ProviderError::invalid(
                &resource,
                "bucket and policy are required",
            ));
        };
        self.put(&resource, bucket, policy).await?;
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
        let policy = match get_str(inputs, "policy") {
            Some(want) if policy_doc::equivalent(&live, want) => want.to_string(),
            _ => live,
        };
        let mut obs = Map::new();
        obs.insert("bucket".into(), id.into());
        obs.insert("policy".into(), policy.into());
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
        self.put(&resource, id, get_str(new, "policy").unwrap_or_default())
            .await?;
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
        match sdk.s3.delete_bucket_policy().bucket(id).send().await {
            Ok(_) => Ok(()),
            Err(e)
                if bucket_gone(error_code(&e)) || error_code(&e) == Some("NoSuchBucketPolicy") =>
            {
                Ok(())
            }
            Err(e) => Err(api_error(&resource, "s3:DeleteBucketPolicy", e, &[])),
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
        // Adopt only the stack's own policy; otherwise the put is sent again.
        let want = get_str(inputs, "policy").unwrap_or_default();
        Ok(self
            .get(&resource, bucket)
            .await?
            .filter(|live| policy_doc::equivalent(live, want))
            .map(|_| Created {
                id: bucket.to_string(),
                outputs: outputs(bucket),
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_must_be_the_bucket() {
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::bkt1","arn:aws:s3:::bkt1/*","arn:aws:s3:::bkt2/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;
        assert_eq!(foreign_resources(doc, "bkt1"), ["arn:aws:s3:::bkt2/*"]);
        let mut m = Map::new();
        m.insert("bucket".into(), "bkt1".into());
        m.insert("policy".into(), doc.into());
        assert_eq!(check(&m).len(), 1);
    }
}
