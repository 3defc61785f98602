//! RDS tags, shared by every RDS type: one ARN-addressed tag API
//! (ListTagsForResource, AddTagsToResource, RemoveTagsFromResource).

use crate::util::{api_error, get_tags, tag_diff};
use aws_sdk_rds::types::Tag;
use cairn_core::provider::ProviderError;
use cairn_core::value::Map;
use std::collections::BTreeMap;

/// Tags as RDS takes them.
pub(super) fn rds_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The tags on the RDS resource `arn`.
pub(super) async fn tags_of(
    rds: &aws_sdk_rds::Client,
    resource: &str,
    arn: &str,
) -> Result<BTreeMap<String, String>, ProviderError> {
    let out = rds
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(|e| api_error(resource, "rds:ListTagsForResource", e, &[]))?;
    Ok(out
        .tag_list()
        .iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect())
}

/// Moves the tags on `arn` from `old`'s `tags` input to `new`'s: adds or
/// changes what is new, removes what is gone.
pub(super) async fn sync_tags(
    rds: &aws_sdk_rds::Client,
    resource: &str,
    arn: &str,
    old: &Map,
    new: &Map,
) -> Result<(), ProviderError> {
    let (set, gone) = tag_diff(&get_tags(old, "tags"), &get_tags(new, "tags"));
    if !set.is_empty() {
        rds.add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(rds_tags(&set)))
            .send()
            .await
            .map_err(|e| api_error(resource, "rds:AddTagsToResource", e, &[]))?;
    }
    if !gone.is_empty() {
        rds.remove_tags_from_resource()
            .resource_name(arn)
            .set_tag_keys(Some(gone))
            .send()
            .await
            .map_err(|e| api_error(resource, "rds:RemoveTagsFromResource", e, &[]))?;
    }
    Ok(())
}
