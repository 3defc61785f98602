//! `aws:ecr:Repository`: an ECR image repository. Tag mutability
//! (PutImageTagMutability), scan on push (PutImageScanningConfiguration)
//! and tags change in place; the name and the encryption configuration
//! are fixed at create. A create that finds the repository already there
//! (its own lost attempt) adopts it only when it carries this resource's
//! `cairn:urn` tag.

use crate::clients::Shared;
use crate::util::{
    api_error, api_failure, concrete_str, ensure_ours, error_code, get_bool, get_str, get_tags,
    missing, resource_label, tag_diff, tags_value, URN_TAG,
};
use async_trait::async_trait;
use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability,
    Repository as RepoModel, Tag,
};
use cairn_core::dsl::{DeclaredType, Input, Output, Outputs, PropObject, Resource};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, ProviderError, ResourceProvider,
};
use cairn_core::schema::{PropType, ResourceSchema};
use cairn_core::value::{Map, PropertyPath, Value};
use serde::Serialize;
use std::collections::BTreeMap;

pub const TOKEN: &str = "aws:ecr:Repository";

pub mod rules {
    pub const NAME: &str = "aws::ecr::repository-name";
    pub const KMS_KEY: &str = "aws::ecr::kms-key";
}

pub struct Repository;

/// An ECR repository for container images.
#[derive(Serialize, Clone, Debug, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(token = "aws:ecr:Repository", kind = Repository, outputs = RepositoryOutputs, fixed_name)]
pub struct RepositoryArgs {
    /// Repository name: lower case, digits and `._-/` separators, 2 to 256 characters.
    #[prop(replaces, ty = PropType::String { min_len: Some(2), max_len: Some(256) })]
    pub name: Input<String>,
    /// `MUTABLE` or `IMMUTABLE` (tags cannot be overwritten).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(default = "MUTABLE", ty = PropType::one_of(&["MUTABLE", "IMMUTABLE"]))]
    pub image_tag_mutability: Option<Input<String>>,
    /// Image scanning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_scanning_configuration: Option<ImageScanningConfigurationArgs>,
    /// Encryption at rest (AES256 when unset); cannot change after create.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(replaces)]
    pub encryption_configurations: Option<Vec<EncryptionConfigurationArgs>>,
    /// Delete the repository even when it still holds images.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(default = false)]
    pub force_delete: Option<Input<bool>>,
    /// Tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Input<String>>>,
}

/// Image scanning settings.
#[derive(Serialize, Clone, Debug, PropObject)]
#[serde(rename_all = "camelCase")]
pub struct ImageScanningConfigurationArgs {
    /// Scan every image when it is pushed.
    pub scan_on_push: Input<bool>,
}

/// Encryption at rest.
#[derive(Serialize, Clone, Debug, PropObject)]
#[serde(rename_all = "camelCase")]
pub struct EncryptionConfigurationArgs {
    /// `AES256` or `KMS`.
    #[prop(ty = PropType::one_of(&["AES256", "KMS"]))]
    pub encryption_type: Input<String>,
    /// KMS key ARN (with `KMS`; the AWS managed key `aws/ecr` when unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<Input<String>>,
}

#[derive(Outputs)]
pub struct RepositoryOutputs {
    /// Repository ARN.
    pub arn: Output<String>,
    /// The registry (account) id.
    pub registry_id: Output<String>,
    /// `ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME`.
    pub repository_url: Output<String>,
}

/// AWS: `(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*`.
pub(crate) fn name_ok(n: &str) -> bool {
    let component = |c: &str| {
        let mut prev_sep = true;
        for ch in c.chars() {
            let sep = matches!(ch, '.' | '_' | '-');
            if sep && prev_sep {
                return false;
            }
            if !(sep || ch.is_ascii_lowercase() || ch.is_ascii_digit()) {
                return false;
            }
            prev_sep = sep;
        }
        !c.is_empty() && !prev_sep
    };
    n.split('/').all(component)
}

fn encryption(inputs: &Map) -> Option<&Map> {
    inputs
        .get("encryptionConfigurations")
        .and_then(Value::as_list)
        .and_then(|l| l.first())
        .and_then(Value::as_map)
}

fn check(inputs: &Map) -> Vec<CheckFailure> {
    let mut out = Vec::new();
    if let Some(n) = concrete_str(inputs, "name").filter(|n| !name_ok(n)) {
        out.push(
            CheckFailure::error(
                rules::NAME,
                PropertyPath::key("name"),
                format!("repository name `{n}` is not accepted by ECR"),
            )
            .with_help(
                "use lower-case letters and digits, separated by single `.`, `_` or `-`, \
                 with `/` between path parts, e.g. `platform/api`",
            ),
        );
    }
    if let Some(list) = inputs
        .get("encryptionConfigurations")
        .and_then(Value::as_list)
    {
        if list.len() > 1 {
            out.push(
                CheckFailure::error(
                    rules::KMS_KEY,
                    PropertyPath::key("encryptionConfigurations"),
                    "ECR takes one encryption configuration",
                )
                .with_help("keep one entry"),
            );
        }
        for (i, e) in list.iter().enumerate() {
            let Some(e) = e.as_map() else { continue };
            if concrete_str(e, "encryptionType") == Some("AES256") && e.contains_key("kmsKey") {
                out.push(
                    CheckFailure::error(
                        rules::KMS_KEY,
                        PropertyPath::key("encryptionConfigurations")
                            .index(i)
                            .child("kmsKey"),
                        "kmsKey is only valid with encryptionType KMS",
                    )
                    .with_help("set encryptionType: KMS, or remove kmsKey"),
                );
            }
        }
    }
    out
}

fn ecr_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

fn outputs(r: &RepoModel) -> Map {
    let mut m = Map::new();
    m.insert("arn".into(), r.repository_arn().unwrap_or_default().into());
    m.insert(
        "registryId".into(),
        r.registry_id().unwrap_or_default().into(),
    );
    m.insert(
        "repositoryUrl".into(),
        r.repository_uri().unwrap_or_default().into(),
    );
    m
}

/// The inputs a live repository reports, shaped like `want`.
fn observed(r: &RepoModel, tags: &BTreeMap<String, String>, want: &Map) -> Map {
    let mut obs = Map::new();
    obs.insert(
        "name".into(),
        r.repository_name().unwrap_or_default().into(),
    );
    obs.insert(
        "imageTagMutability".into(),
        r.image_tag_mutability()
            .map(|m| m.as_str())
            .unwrap_or("MUTABLE")
            .into(),
    );
    let scan = r
        .image_scanning_configuration()
        .map(|s| s.scan_on_push())
        .unwrap_or(false);
    if want.contains_key("imageScanningConfiguration") || scan {
        let mut m = Map::new();
        m.insert("scanOnPush".into(), scan.into());
        obs.insert("imageScanningConfiguration".into(), Value::Map(m));
    }
    if let Some(e) = r.encryption_configuration() {
        let ty = e.encryption_type().as_str();
        let wanted = encryption(want);
        // AWS's default (AES256) is no drift when the stack leaves it unset.
        if wanted.is_some() || ty != "AES256" {
            let mut m = Map::new();
            m.insert("encryptionType".into(), ty.into());
            // With KMS and no key named, AWS reports the managed key it chose.
            if let Some(k) = e
                .kms_key()
                .filter(|_| wanted.is_none_or(|w| w.contains_key("kmsKey")))
            {
                m.insert("kmsKey".into(), k.into());
            }
            obs.insert(
                "encryptionConfigurations".into(),
                Value::List(vec![Value::Map(m)]),
            );
        }
    }
    // Not an AWS setting: how cairn deletes.
    obs.insert(
        "forceDelete".into(),
        get_bool(want, "forceDelete").unwrap_or(false).into(),
    );
    let tags: BTreeMap<String, String> = tags
        .iter()
        .filter(|(k, _)| !crate::util::is_internal_tag(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if want.contains_key("tags") || !tags.is_empty() {
        obs.insert("tags".into(), tags_value(&tags));
    }
    obs
}

fn scan_on_push(m: &Map) -> bool {
    m.get("imageScanningConfiguration")
        .and_then(Value::as_map)
        .and_then(|s| get_bool(s, "scanOnPush"))
        .unwrap_or(false)
}

pub struct RepositoryProvider {
    schema: ResourceSchema,
    clients: Shared,
}

impl RepositoryProvider {
    pub fn new(clients: Shared) -> Self {
        RepositoryProvider {
            schema: Repository::schema(),
            clients,
        }
    }

    async fn get(&self, resource: &str, name: &str) -> Result<Option<RepoModel>, ProviderError> {
        let sdk = self.clients.get().await?;
        match sdk
            .ecr
            .describe_repositories()
            .repository_names(name)
            .send()
            .await
        {
            Ok(out) => Ok(out.repositories().first().cloned()),
            Err(e) if error_code(&e) == Some("RepositoryNotFoundException") => Ok(None),
            Err(e) => Err(api_error(resource, "ecr:DescribeRepositories", e, &[])),
        }
    }

    async fn tags(
        &self,
        resource: &str,
        arn: &str,
    ) -> Result<BTreeMap<String, String>, ProviderError> {
        let sdk = self.clients.get().await?;
        let out = sdk
            .ecr
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| api_error(resource, "ecr:ListTagsForResource", e, &[]))?;
        Ok(out
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect())
    }

    async fn apply(
        &self,
        resource: &str,
        r: &RepoModel,
        old: &Map,
        new: &Map,
    ) -> Result<(), ProviderError> {
        let sdk = self.clients.get().await?;
        let name = r.repository_name().unwrap_or_default();
        let mutability = |m: &Map| {
            get_str(m, "imageTagMutability")
                .unwrap_or("MUTABLE")
                .to_string()
        };
        if mutability(old) != mutability(new) {
            sdk.ecr
                .put_image_tag_mutability()
                .repository_name(name)
                .image_tag_mutability(ImageTagMutability::from(mutability(new).as_str()))
                .send()
                .await
                .map_err(|e| api_error(resource, "ecr:PutImageTagMutability", e, &[]))?;
        }
        if scan_on_push(old) != scan_on_push(new) {
            sdk.ecr
                .put_image_scanning_configuration()
                .repository_name(name)
                .image_scanning_configuration(
                    ImageScanningConfiguration::builder()
                        .scan_on_push(scan_on_push(new))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| api_error(resource, "ecr:PutImageScanningConfiguration", e, &[]))?;
        }
        if old.get("tags") != new.get("tags") {
            let arn = r.repository_arn().unwrap_or_default();
            let (set, gone) = tag_diff(&get_tags(old, "tags"), &get_tags(new, "tags"));
            let gone: Vec<String> = gone.into_iter().filter(|k| k != URN_TAG).collect();
            if !set.is_empty() {
                sdk.ecr
                    .tag_resource()
                    .resource_arn(arn)
                    .set_tags(Some(ecr_tags(&set)))
                    .send()
                    .await
                    .map_err(|e| api_error(resource, "ecr:TagResource", e, &[]))?;
            }
            if !gone.is_empty() {
                sdk.ecr
                    .untag_resource()
                    .resource_arn(arn)
                    .set_tag_keys(Some(gone))
                    .send()
                    .await
                    .map_err(|e| api_error(resource, "ecr:UntagResource", e, &[]))?;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl ResourceProvider for RepositoryProvider {
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
        let enc = match encryption(inputs) {
            Some(e) => Some(
                EncryptionConfiguration::builder()
                    .encryption_type(EncryptionType::from(
                        get_str(e, "encryptionType").unwrap_or("AES256"),
                    ))
                    .set_kms_key(get_str(e, "kmsKey").map(str::to_string))
                    .build()
                    .map_err(|e| ProviderError::invalid(&resource, e.to_string()))?,
            ),
            None => None,
        };
        let res = sdk
            .ecr
            .create_repository()
            .repository_name(name)
            .image_tag_mutability(ImageTagMutability::from(
                get_str(inputs, "imageTagMutability").unwrap_or("MUTABLE"),
            ))
            .image_scanning_configuration(
                ImageScanningConfiguration::builder()
                    .scan_on_push(scan_on_push(inputs))
                    .build(),
            )
            .set_encryption_configuration(enc)
            .set_tags(Some(ecr_tags(&tags)))
            .send()
            .await;
        let repo = match res {
            Ok(out) => out
                .repository()
                .cloned()
                .ok_or_else(|| missing(&resource, "ecr:CreateRepository", "repository"))?,
            // Our own lost attempt, or another's repository.
            Err(e) if error_code(&e) == Some("RepositoryAlreadyExistsException") => {
                let Some(live) = self.get(&resource, name).await? else {
                    return Err(api_error(&resource, "ecr:CreateRepository", e, &[]));
                };
                let live_tags = self
                    .tags(&resource, live.repository_arn().unwrap_or_default())
                    .await?;
                ensure_ours(ctx, &resource, name, Some(&live_tags))?;
                ctx.report("adopting the repository (it is this resource's)");
                let mut was = observed(&live, &live_tags, inputs);
                was.insert("tags".into(), tags_value(&live_tags));
                self.apply(&resource, &live, &was, inputs).await?;
                live
            }
            Err(e) => return Err(api_error(&resource, "ecr:CreateRepository", e, &[])),
        };
        Ok(Created {
            id: name.to_string(),
            outputs: outputs(&repo),
        })
    }

    async fn read(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let Some(r) = self.get(&resource, id).await? else {
            return Ok(None);
        };
        let tags = self
            .tags(&resource, r.repository_arn().unwrap_or_default())
            .await?;
        Ok(Some(Observed {
            id: id.to_string(),
            inputs: observed(&r, &tags, inputs),
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
        let r = self.get(&resource, id).await?.ok_or_else(|| {
            api_failure(
                &resource,
                "ecr:DescribeRepositories",
                "RepositoryNotFoundException",
                format!("repository {id} not found"),
            )
        })?;
        self.apply(&resource, &r, old, new).await?;
        Ok(outputs(&r))
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
        let force = get_bool(inputs, "forceDelete").unwrap_or(false);
        match sdk
            .ecr
            .delete_repository()
            .repository_name(id)
            .force(force)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if error_code(&e) == Some("RepositoryNotFoundException") => Ok(()),
            Err(e) if error_code(&e) == Some("RepositoryNotEmptyException") => Err(api_failure(
                &resource,
                "ecr:DeleteRepository",
                "RepositoryNotEmptyException",
                format!("repository {id} still holds images: set forceDelete: true to delete them with it, or delete them first"),
            )),
            Err(e) => Err(api_error(&resource, "ecr:DeleteRepository", e, &[])),
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
        let tags = self
            .tags(&resource, r.repository_arn().unwrap_or_default())
            .await?;
        ensure_ours(ctx, &resource, name, Some(&tags))?;
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
    fn names() {
        for ok in ["ab", "platform/api", "a.b_c-d/e1", "x9"] {
            assert!(name_ok(ok), "{ok}");
        }
        for bad in ["Api", "a..b", "-a", "a-", "a//b", "/a", "a/", "a b"] {
            assert!(!name_ok(bad), "{bad}");
        }
    }
}
