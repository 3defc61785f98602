//! `aws:s3:Bucket`: a general purpose S3 bucket (Pulumi classic's shape:
//! the bucket's settings are their own types). The name is fixed at create;
//! tags change in place. CreateBucket takes no tags, so the create checks
//! first that the name is free (HeadBucket), creates, then tags the bucket
//! with its `cairn:urn`. A bucket found under the name later is adopted
//! only when it carries this resource's tag, or, right after our own create
//! was answered "already owned by you" on a name that was free a moment
//! before, when it has no tags at all (the SDK's retry of a create whose
//! answer was lost). A crash between the create and the tagging leaves an
//! untagged bucket that recovery refuses: import it.

use super::bucket_gone;
use crate::clients::Shared;
use crate::util::{
    api_error, api_failure, concrete_str, ensure_ours, error_code, get_bool, get_str, get_tags,
    resource_label, tags_value, URN_TAG,
};
use async_trait::async_trait;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Delete, ObjectIdentifier, Tag, Tagging,
};
use cairn_core::dsl::{DeclaredType, Input, Output, Outputs, Resource};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, ProviderError, ResourceProvider,
};
use cairn_core::schema::{PropType, ResourceSchema};
use cairn_core::value::{Map, PropertyPath};
use serde::Serialize;
use std::collections::BTreeMap;

pub const TOKEN: &str = "aws:s3:Bucket";

pub mod rules {
    pub const NAME: &str = "aws::s3::bucket-name";
}

pub struct Bucket;

/// A general purpose S3 bucket.
#[derive(Serialize, Clone, Debug, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(token = "aws:s3:Bucket", kind = Bucket, outputs = BucketOutputs)]
pub struct BucketArgs {
    /// Bucket name (globally unique; 3 to 63 lower-case letters, digits, `.` and `-`).
    #[prop(replaces, ty = PropType::String { min_len: Some(3), max_len: Some(63) })]
    pub bucket: Input<String>,
    /// Delete every object (and version) when the bucket is deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(default = false)]
    pub force_destroy: Option<Input<bool>>,
    /// Tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Input<String>>>,
}

#[derive(Outputs)]
pub struct BucketOutputs {
    /// Bucket ARN (`arn:PARTITION:s3:::NAME`).
    pub arn: Output<String>,
    /// Bucket name.
    pub bucket: Output<String>,
    /// `NAME.s3.amazonaws.com`.
    pub bucket_domain_name: Output<String>,
    /// `NAME.s3.REGION.amazonaws.com`.
    pub bucket_regional_domain_name: Output<String>,
    /// Bucket name (the import id).
    pub id: Output<String>,
}

/// Why S3 would reject `n` as a general purpose bucket name, or `None`.
pub(crate) fn name_problem(n: &str) -> Option<String> {
    if !(3..=63).contains(&n.len()) {
        return Some(format!("it is {} characters; 3 to 63 are allowed", n.len()));
    }
    if let Some(bad) = crate::util::disallowed_chars(n, |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-'
    }) {
        return Some(format!(
            "it contains {bad}: only lower-case letters, digits, `.` and `-` are allowed"
        ));
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !alnum(n.chars().next()) || !alnum(n.chars().last()) {
        return Some("it must begin and end with a letter or digit".into());
    }
    if n.contains("..") {
        return Some("it has two adjacent periods".into());
    }
    if n.parse::<std::net::Ipv4Addr>().is_ok() {
        return Some("it is formatted as an IP address".into());
    }
    for p in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if n.starts_with(p) {
            return Some(format!("the prefix `{p}` is reserved"));
        }
    }
    for s in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if n.ends_with(s) {
            return Some(format!("the suffix `{s}` is reserved"));
        }
    }
    None
}

fn check(inputs: &Map) -> Vec<CheckFailure> {
    match concrete_str(inputs, "bucket").and_then(|n| name_problem(n).map(|w| (n, w))) {
        Some((n, why)) => vec![CheckFailure::error(
            rules::NAME,
            PropertyPath::key("bucket"),
            format!("S3 would reject the bucket name `{n}`: {why}"),
        )
        .with_help("see the S3 bucket naming rules; e.g. `acme-platform-artifacts-prod`")],
        None => Vec::new(),
    }
}

/// The partition and DNS suffix of `region` (China and GovCloud differ).
fn partition(region: &str) -> (&'static str, &'static str) {
    if region.starts_with("cn-") {
        ("aws-cn", "amazonaws.com.cn")
    } else if region.starts_with("us-gov-") {
        ("aws-us-gov", "amazonaws.com")
    } else {
        ("aws", "amazonaws.com")
    }
}

fn outputs(name: &str, region: &str) -> Map {
    let (partition, dns) = partition(region);
    let mut m = Map::new();
    m.insert("arn".into(), format!("arn:{partition}:s3:::{name}").into());
    m.insert("bucket".into(), name.into());
    m.insert("bucketDomainName".into(), format!("{name}.s3.{dns}").into());
    m.insert(
        "bucketRegionalDomainName".into(),
        format!("{name}.s3.{region}.{dns}").into(),
    );
    m.insert("id".into(), name.into());
    m
}

fn s3_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

/// What a lookup by name found.
enum Found {
    Missing,
    /// In this account, with these tags.
    Ours(BTreeMap<String, String>),
    /// Another account's (HeadBucket 403).
    Foreign,
}

pub struct BucketProvider {
    schema: ResourceSchema,
    clients: Shared,
}

impl BucketProvider {
    pub fn new(clients: Shared) -> Self {
        BucketProvider {
            schema: Bucket::schema(),
            clients,
        }
    }

    async fn region(&self) -> Result<String, ProviderError> {
        let sdk = self.clients.get().await?;
        Ok(sdk
            .s3
            .config()
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into()))
    }

    async fn tags(
        &self,
        resource: &str,
        name: &str,
    ) -> Result<BTreeMap<String, String>, ProviderError> {
        let sdk = self.clients.get().await?;
        match sdk.s3.get_bucket_tagging().bucket(name).send().await {
            Ok(out) => Ok(out
                .tag_set()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect()),
            Err(e) if error_code(&e) == Some("NoSuchTagSet") => Ok(BTreeMap::new()),
            Err(e) => Err(api_error(resource, "s3:GetBucketTagging", e, &[])),
        }
    }

    async fn find(&self, resource: &str, name: &str) -> Result<Found, ProviderError> {
        let sdk = self.clients.get().await?;
        match sdk.s3.head_bucket().bucket(name).send().await {
            Ok(_) => Ok(Found::Ours(self.tags(resource, name).await?)),
            Err(e) if bucket_gone(error_code(&e)) => Ok(Found::Missing),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => {
                Ok(Found::Missing)
            }
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 403) => {
                Ok(Found::Foreign)
            }
            Err(e) => Err(api_error(resource, "s3:HeadBucket", e, &[])),
        }
    }

    async fn put_tags(
        &self,
        resource: &str,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        let sdk = self.clients.get().await?;
        let tagging = Tagging::builder()
            .set_tag_set(Some(s3_tags(tags)))
            .build()
            .map_err(|e| ProviderError::invalid(resource, e.to_string()))?;
        sdk.s3
            .put_bucket_tagging()
            .bucket(name)
            .tagging(tagging)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| api_error(resource, "s3:PutBucketTagging", e, &[]))
    }

    /// Deletes every object version and delete marker (forceDestroy).
    async fn empty(&self, resource: &str, name: &str) -> Result<(), ProviderError> {
        let sdk = self.clients.get().await?;
        loop {
            let page = sdk
                .s3
                .list_object_versions()
                .bucket(name)
                .send()
                .await
                .map_err(|e| api_error(resource, "s3:ListObjectVersions", e, &[]))?;
            let ids: Vec<ObjectIdentifier> = page
                .versions()
                .iter()
                .map(|v| (v.key(), v.version_id()))
                .chain(
                    page.delete_markers()
                        .iter()
                        .map(|m| (m.key(), m.version_id())),
                )
                .filter_map(|(k, v)| {
                    ObjectIdentifier::builder()
                        .key(k?)
                        .set_version_id(v.map(str::to_string))
                        .build()
                        .ok()
                })
                .collect();
            if ids.is_empty() {
                return Ok(());
            }
            let delete = Delete::builder()
                .set_objects(Some(ids))
                .quiet(true)
                .build()
                .map_err(|e| ProviderError::invalid(resource, e.to_string()))?;
            sdk.s3
                .delete_objects()
                .bucket(name)
                .delete(delete)
                .send()
                .await
                .map_err(|e| api_error(resource, "s3:DeleteObjects", e, &[]))?;
        }
    }
}

#[async_trait]
impl ResourceProvider for BucketProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        check(inputs)
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let name = get_str(inputs, "bucket")
            .ok_or_else(|| ProviderError::invalid(&resource, "bucket is required"))?;
        let sdk = self.clients.get().await?;
        let region = self.region().await?;
        let mut tags = get_tags(inputs, "tags");
        tags.insert(URN_TAG.to_string(), ctx.urn.clone());
        match self.find(&resource, name).await? {
            Found::Ours(live) => {
                // Ours from an earlier attempt, or someone else's in this account.
                ensure_ours(ctx, &resource, name, Some(&live))?;
                ctx.report("adopting the bucket (it is this resource's)");
            }
            Found::Foreign => {
                return Err(api_failure(
                    &resource,
                    "s3:CreateBucket",
                    "BucketAlreadyExists",
                    format!("the bucket name {name} is taken by another account: bucket names are global, choose another"),
                ))
            }
            Found::Missing => {
                let config = (region != "us-east-1").then(|| {
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(region.as_str()))
                        .build()
                });
                match sdk
                    .s3
                    .create_bucket()
                    .bucket(name)
                    .set_create_bucket_configuration(config)
                    .send()
                    .await
                {
                    Ok(_) => {}
                    // Free a moment ago, ours now: our own create, answered
                    // twice (the SDK retried after a lost answer). Adopt it
                    // only if nothing has tagged it since.
                    Err(e) if error_code(&e) == Some("BucketAlreadyOwnedByYou") => {
                        let live = self.tags(&resource, name).await?;
                        if !live.is_empty() {
                            ensure_ours(ctx, &resource, name, Some(&live))?;
                        }
                    }
                    Err(e) => return Err(api_error(&resource, "s3:CreateBucket", e, &[])),
                }
            }
        }
        self.put_tags(&resource, name, &tags).await?;
        Ok(Created {
            id: name.to_string(),
            outputs: outputs(name, &region),
        })
    }

    async fn read(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let tags = match self.find(&resource, id).await? {
            Found::Ours(t) => t,
            Found::Missing => return Ok(None),
            Found::Foreign => {
                return Err(api_failure(
                    &resource,
                    "s3:HeadBucket",
                    "AccessDenied",
                    format!("bucket {id} belongs to another account"),
                ))
            }
        };
        let mut obs = Map::new();
        obs.insert("bucket".into(), id.into());
        // Not an S3 setting: how cairn deletes.
        obs.insert(
            "forceDestroy".into(),
            get_bool(inputs, "forceDestroy").unwrap_or(false).into(),
        );
        let tags: BTreeMap<String, String> = tags
            .into_iter()
            .filter(|(k, _)| !crate::util::is_internal_tag(k))
            .collect();
        if inputs.contains_key("tags") || !tags.is_empty() {
            obs.insert("tags".into(), tags_value(&tags));
        }
        Ok(Some(Observed {
            id: id.to_string(),
            inputs: obs,
            outputs: outputs(id, &self.region().await?),
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
        if old.get("tags") != new.get("tags") {
            // PutBucketTagging replaces the whole set: keep our urn tag.
            let mut tags = get_tags(new, "tags");
            tags.insert(URN_TAG.to_string(), ctx.urn.clone());
            self.put_tags(&resource, id, &tags).await?;
        }
        Ok(outputs(id, &self.region().await?))
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
        if get_bool(inputs, "forceDestroy").unwrap_or(false) {
            match self.empty(&resource, id).await {
                Ok(()) => {}
                Err(ProviderError::Api { code, .. }) if bucket_gone(Some(&code)) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        match sdk.s3.delete_bucket().bucket(id).send().await {
            Ok(_) => Ok(()),
            Err(e) if bucket_gone(error_code(&e)) => Ok(()),
            Err(e) if error_code(&e) == Some("BucketNotEmpty") => Err(api_failure(
                &resource,
                "s3:DeleteBucket",
                "BucketNotEmpty",
                format!("bucket {id} still holds objects: set forceDestroy: true to delete them with it, or empty it first"),
            )),
            Err(e) => Err(api_error(&resource, "s3:DeleteBucket", e, &[])),
        }
    }

    async fn recover(
        &self,
        ctx: &CallContext,
        inputs: &Map,
    ) -> Result<Option<Created>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let Some(name) = get_str(inputs, "bucket") else {
            return Ok(None);
        };
        match self.find(&resource, name).await? {
            Found::Missing | Found::Foreign => Ok(None),
            Found::Ours(tags) => {
                ensure_ours(ctx, &resource, name, Some(&tags))?;
                Ok(Some(Created {
                    id: name.to_string(),
                    outputs: outputs(name, &self.region().await?),
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_follow_the_partition() {
        assert_eq!(
            outputs("b", "cn-north-1")["arn"],
            "arn:aws-cn:s3:::b".into()
        );
        assert_eq!(
            outputs("b", "cn-north-1")["bucketRegionalDomainName"],
            "b.s3.cn-north-1.amazonaws.com.cn".into()
        );
        assert_eq!(
            outputs("b", "us-gov-west-1")["arn"],
            "arn:aws-us-gov:s3:::b".into()
        );
        assert_eq!(
            outputs("b", "eu-west-1")["bucketDomainName"],
            "b.s3.amazonaws.com".into()
        );
    }

    #[test]
    fn bucket_names() {
        for ok in ["abc", "acme-artifacts.prod", "a1-b2", "192.168.5"] {
            assert_eq!(name_problem(ok), None, "{ok}");
        }
        for (bad, why) in [
            ("ab", "3 to 63"),
            ("Acme", "contains"),
            ("a_b", "contains"),
            ("-ab", "begin and end"),
            ("a..b", "adjacent"),
            ("192.168.5.4", "IP address"),
            ("xn--abc", "prefix"),
            ("abc-s3alias", "suffix"),
            ("abc--ol-s3", "suffix"),
        ] {
            let got = name_problem(bad).unwrap_or_default();
            assert!(got.contains(why), "{bad}: {got}");
        }
    }
}
