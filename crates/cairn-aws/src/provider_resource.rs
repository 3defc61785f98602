//! `pulumi:providers:aws`: an explicit AWS provider, as in Pulumi. It makes
//! nothing in the cloud; it is in the graph and state, and resources choose
//! it with `options.provider`. cairn-config then sets their `region` input
//! (see [`crate::regional`]) from its `region`, and merges its
//! `defaultTags.tags` under their own `tags`.

use crate::regional::region_ok;
use async_trait::async_trait;
use cairn_core::dsl::{DeclaredType, Input, Outputs, PropObject, Resource};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, ProviderError, ResourceProvider,
};
use cairn_core::schema::ResourceSchema;
use cairn_core::value::{Map, PropertyPath, Value};
use serde::Serialize;
use std::collections::BTreeMap;

pub const TOKEN: &str = "pulumi:providers:aws";

pub mod rules {
    /// A `region` that is not an AWS region name.
    pub const REGION: &str = "aws::provider::region";
    /// A setting cairn does not apply yet (credentials per provider).
    pub const UNSUPPORTED: &str = "aws::provider::unsupported-setting";
}

pub struct AwsProvider;

/// An explicit AWS provider: the region (and default tags) of the resources
/// that name it in `options.provider`.
#[derive(Serialize, Clone, Debug, Default, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(token = "pulumi:providers:aws", kind = AwsProvider, outputs = AwsProviderOutputs)]
pub struct AwsProviderArgs {
    /// AWS region of its resources, e.g. `eu-west-1` (default: the run's region).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<Input<String>>,
    /// Shared-config profile (not applied yet: refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<Input<String>>,
    /// Role to assume (not applied yet: refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assume_role: Option<AssumeRoleArgs>,
    /// Tags added to every taggable resource of this provider (their own tags win).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_tags: Option<DefaultTagsArgs>,
    /// Accepted for Pulumi compatibility; cairn checks credentials on first use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_credentials_validation: Option<Input<bool>>,
    /// Accepted for Pulumi compatibility; no effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_metadata_api_check: Option<Input<bool>>,
    /// Accepted for Pulumi compatibility; no effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_region_validation: Option<Input<bool>>,
    /// Accepted for Pulumi compatibility; no effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_requesting_account_id: Option<Input<bool>>,
    /// Accepted for Pulumi compatibility; cairn's retry policy applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<Input<i64>>,
}

/// A role to assume (Pulumi's `assumeRole`).
#[derive(Serialize, Clone, Debug, PropObject)]
#[serde(rename_all = "camelCase")]
pub struct AssumeRoleArgs {
    /// ARN of the role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<Input<String>>,
    /// Session name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_name: Option<Input<String>>,
    /// External id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<Input<String>>,
}

/// Default tags (Pulumi's `defaultTags`).
#[derive(Serialize, Clone, Debug, PropObject)]
#[serde(rename_all = "camelCase")]
pub struct DefaultTagsArgs {
    /// Tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Input<String>>>,
}

#[derive(Outputs)]
pub struct AwsProviderOutputs {}

pub struct AwsProviderResource {
    schema: ResourceSchema,
}

impl AwsProviderResource {
    pub fn new() -> Self {
        AwsProviderResource {
            schema: AwsProvider::schema(),
        }
    }
}

impl Default for AwsProviderResource {
    fn default() -> Self {
        Self::new()
    }
}

fn check(inputs: &Map) -> Vec<CheckFailure> {
    let mut out = Vec::new();
    if let Some(Value::String(r)) = inputs.get("region") {
        if !region_ok(r) {
            out.push(
                CheckFailure::error(
                    rules::REGION,
                    PropertyPath::key("region"),
                    format!("`{r}` is not an AWS region name"),
                )
                .with_help("write a region such as `us-east-1` or `eu-west-1`"),
            );
        }
    }
    for key in ["profile", "assumeRole"] {
        if inputs.contains_key(key) {
            out.push(
                CheckFailure::error(
                    rules::UNSUPPORTED,
                    PropertyPath::key(key),
                    format!("cairn does not apply a provider's `{key}` yet"),
                )
                .with_help(
                    "its resources would use the run's credentials, not this ones: \
                     remove it and run with AWS_PROFILE or credentials for that account",
                ),
            );
        }
    }
    out
}

#[async_trait]
impl ResourceProvider for AwsProviderResource {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        check(inputs)
    }

    fn has_external_effects(&self) -> bool {
        false
    }

    async fn create(&self, ctx: &CallContext, _inputs: &Map) -> Result<Created, ProviderError> {
        Ok(Created {
            id: ctx.urn.clone(),
            outputs: Map::new(),
        })
    }

    async fn read(
        &self,
        _ctx: &CallContext,
        id: &str,
        inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        Ok(Some(Observed {
            id: id.to_string(),
            inputs: inputs.clone(),
            outputs: Map::new(),
        }))
    }

    async fn update(
        &self,
        _ctx: &CallContext,
        _id: &str,
        _old_inputs: &Map,
        _new_inputs: &Map,
        _old_outputs: &Map,
    ) -> Result<Map, ProviderError> {
        Ok(Map::new())
    }

    async fn delete(
        &self,
        _ctx: &CallContext,
        _id: &str,
        _inputs: &Map,
        _outputs: &Map,
    ) -> Result<(), ProviderError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_is_pulumis_shape() {
        let p = AwsProviderResource::new();
        let names: Vec<&str> = p
            .schema()
            .properties
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        for n in ["region", "profile", "assumeRole", "defaultTags"] {
            assert!(names.contains(&n), "{n} missing from {names:?}");
        }
        assert_eq!(p.schema().token, TOKEN);
    }

    #[test]
    fn checks_region_and_refuses_credentials_settings() {
        let mut m = Map::new();
        m.insert("region".into(), "eu-west-1".into());
        assert!(check(&m).is_empty());
        m.insert("region".into(), "Europe".into());
        m.insert("profile".into(), "other".into());
        let rules: Vec<String> = check(&m).into_iter().map(|f| f.rule).collect();
        assert_eq!(rules, [rules::REGION, rules::UNSUPPORTED]);
    }
}
