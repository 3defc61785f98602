//! `aws:ecr:LifecyclePolicy`: a repository's image lifecycle policy. The
//! id is the repository name (Terraform's import id). The policy changes in
//! place (PutLifecyclePolicy replaces it whole); the repository replaces.
//! A lifecycle policy carries no tags, and needs none: PutLifecyclePolicy
//! is idempotent by nature (the same call again leaves the same policy), so
//! a create whose answer was lost is simply sent again; recovery adopts the
//! repository's policy only when it is the stack's.

use crate::clients::Shared;
use crate::util::{api_error, concrete_str, error_code, get_str, resource_label, same_json};
use async_trait::async_trait;
use cairn_core::dsl::{DeclaredType, Input, Output, Outputs, Resource};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, ProviderError, ResourceProvider,
};
use cairn_core::schema::{PropType, ResourceSchema};
use cairn_core::value::{Map, PropertyPath};
use serde::Serialize;
use serde_json::Value as Json;

pub const TOKEN: &str = "aws:ecr:LifecyclePolicy";

pub mod rules {
    pub const POLICY: &str = "aws::ecr::lifecycle-policy";
}

pub struct LifecyclePolicy;

/// The lifecycle policy of an ECR repository (which images expire).
#[derive(Serialize, Clone, Debug, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(token = "aws:ecr:LifecyclePolicy", kind = LifecyclePolicy, outputs = LifecyclePolicyOutputs)]
pub struct LifecyclePolicyArgs {
    /// Repository name.
    #[prop(replaces)]
    pub repository: Input<String>,
    /// The policy document (JSON, `{"rules": [...]}`, at most 30,720 characters).
    #[prop(ty = PropType::String { min_len: Some(100), max_len: Some(30720) })]
    pub policy: Input<String>,
}

#[derive(Outputs)]
pub struct LifecyclePolicyOutputs {
    /// The registry (account) id.
    pub registry_id: Output<String>,
}

/// Why ECR would reject `doc` (its lifecycle-policy rules), or `None`.
pub(crate) fn problem(doc: &str) -> Option<String> {
    let v: Json = match serde_json::from_str(doc) {
        Ok(v) => v,
        Err(e) => return Some(format!("not valid JSON: {e}")),
    };
    let Some(rules) = v
        .get("rules")
        .and_then(Json::as_array)
        .filter(|r| !r.is_empty())
    else {
        return Some("the policy has no `rules` list".into());
    };
    let mut priorities = Vec::new();
    let mut any_priority = None;
    for (i, r) in rules.iter().enumerate() {
        let at = |m: &str| Some(format!("rule {i}: {m}"));
        let Some(p) = r.get("rulePriority").and_then(Json::as_i64) else {
            return at("rulePriority must be an integer");
        };
        if !(1..=999).contains(&p) {
            return at("rulePriority must be 1 to 999");
        }
        if priorities.contains(&p) {
            return at(&format!("rulePriority {p} is used twice"));
        }
        priorities.push(p);
        let Some(sel) = r.get("selection").and_then(Json::as_object) else {
            return at("selection is missing");
        };
        let status = sel.get("tagStatus").and_then(Json::as_str);
        match status {
            Some("tagged") => {
                let has = |k: &str| {
                    sel.get(k)
                        .and_then(Json::as_array)
                        .is_some_and(|a| !a.is_empty())
                };
                if !has("tagPrefixList") && !has("tagPatternList") {
                    return at("tagStatus tagged needs tagPrefixList or tagPatternList");
                }
            }
            Some("untagged") => {}
            Some("any") => any_priority = Some(p),
            _ => return at("tagStatus must be tagged, untagged or any"),
        }
        match sel.get("countType").and_then(Json::as_str) {
            Some("imageCountMoreThan") => {
                if sel.contains_key("countUnit") {
                    return at("countUnit is only valid with sinceImagePushed");
                }
            }
            Some("sinceImagePushed") => {
                if sel.get("countUnit").and_then(Json::as_str) != Some("days") {
                    return at("sinceImagePushed needs countUnit \"days\"");
                }
            }
            _ => return at("countType must be imageCountMoreThan or sinceImagePushed"),
        }
        if sel
            .get("countNumber")
            .and_then(Json::as_i64)
            .is_none_or(|n| n < 1)
        {
            return at("countNumber must be a positive integer");
        }
        if r.get("action")
            .and_then(|a| a.get("type"))
            .and_then(Json::as_str)
            != Some("expire")
        {
            return at("action.type must be \"expire\"");
        }
    }
    if let Some(p) = any_priority {
        if priorities.iter().any(|q| *q > p) {
            return Some(format!(
                "the rule with tagStatus any (priority {p}) must have the highest rulePriority"
            ));
        }
    }
    None
}

fn outputs(registry: &str) -> Map {
    let mut m = Map::new();
    m.insert("registryId".into(), registry.into());
    m
}

pub struct LifecyclePolicyProvider {
    schema: ResourceSchema,
    clients: Shared,
}

impl LifecyclePolicyProvider {
    pub fn new(clients: Shared) -> Self {
        LifecyclePolicyProvider {
            schema: LifecyclePolicy::schema(),
            clients,
        }
    }

    /// (registry id, policy text), or `None` when the repository or its policy is gone.
    async fn get(
        &self,
        resource: &str,
        repo: &str,
    ) -> Result<Option<(String, String)>, ProviderError> {
        let sdk = self.clients.get().await?;
        match sdk
            .ecr
            .get_lifecycle_policy()
            .repository_name(repo)
            .send()
            .await
        {
            Ok(out) => Ok(Some((
                out.registry_id().unwrap_or_default().to_string(),
                out.lifecycle_policy_text().unwrap_or_default().to_string(),
            ))),
            Err(e)
                if matches!(
                    error_code(&e),
                    Some("LifecyclePolicyNotFoundException" | "RepositoryNotFoundException")
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(api_error(resource, "ecr:GetLifecyclePolicy", e, &[])),
        }
    }

    async fn put(&self, resource: &str, repo: &str, policy: &str) -> Result<String, ProviderError> {
        let sdk = self.clients.get().await?;
        let out = sdk
            .ecr
            .put_lifecycle_policy()
            .repository_name(repo)
            .lifecycle_policy_text(policy)
            .send()
            .await
            .map_err(|e| api_error(resource, "ecr:PutLifecyclePolicy", e, &[]))?;
        Ok(out.registry_id().unwrap_or_default().to_string())
    }
}

#[async_trait]
impl ResourceProvider for LifecyclePolicyProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        match concrete_str(inputs, "policy").and_then(problem) {
            Some(why) => vec![CheckFailure::error(
                rules::POLICY,
                PropertyPath::key("policy"),
                format!("ECR would reject the lifecycle policy: {why}"),
            )
            .with_help(
                "e.g. {\"rules\": [{\"rulePriority\": 1, \"selection\": {\"tagStatus\": \"untagged\", \
                 \"countType\": \"sinceImagePushed\", \"countUnit\": \"days\", \"countNumber\": 14}, \
                 \"action\": {\"type\": \"expire\"}}]}",
            )],
            None => Vec::new(),
        }
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let (Some(repo), Some(policy)) = (get_str(inputs, "repository"), get_str(inputs, "policy"))
        else {
            return Err(ProviderError::invalid(
                &resource,
                "repository and policy are required",
            ));
        };
        let registry = self.put(&resource, repo, policy).await?;
        Ok(Created {
            id: repo.to_string(),
            outputs: outputs(&registry),
        })
    }

    async fn read(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let Some((registry, live)) = self.get(&resource, id).await? else {
            return Ok(None);
        };
        let policy = match get_str(inputs, "policy") {
            Some(want) if same_json(&live, want) => want.to_string(),
            _ => live,
        };
        let mut obs = Map::new();
        obs.insert("repository".into(), id.into());
        obs.insert("policy".into(), policy.into());
        Ok(Some(Observed {
            id: id.to_string(),
            inputs: obs,
            outputs: outputs(&registry),
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
        let registry = self
            .put(&resource, id, get_str(new, "policy").unwrap_or_default())
            .await?;
        Ok(outputs(&registry))
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
        match sdk
            .ecr
            .delete_lifecycle_policy()
            .repository_name(id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    error_code(&e),
                    Some("LifecyclePolicyNotFoundException" | "RepositoryNotFoundException")
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(api_error(&resource, "ecr:DeleteLifecyclePolicy", e, &[])),
        }
    }

    async fn recover(
        &self,
        ctx: &CallContext,
        inputs: &Map,
    ) -> Result<Option<Created>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let Some(repo) = get_str(inputs, "repository") else {
            return Ok(None);
        };
        // Adopt only the stack's own policy; otherwise the put is sent again.
        let want = get_str(inputs, "policy").unwrap_or_default();
        Ok(self
            .get(&resource, repo)
            .await?
            .filter(|(_, live)| same_json(live, want))
            .map(|(registry, _)| Created {
                id: repo.to_string(),
                outputs: outputs(&registry),
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_rules() {
        let ok = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}"#;
        assert_eq!(problem(ok), None);
        let no_unit = ok.replace(r#""countUnit":"days","#, "");
        assert!(problem(&no_unit).unwrap().contains("countUnit"));
        let tagged = ok.replace("untagged", "tagged");
        assert!(problem(&tagged).unwrap().contains("tagPrefixList"));
        let any_first = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}},{"rulePriority":2,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}"#;
        assert!(problem(any_first).unwrap().contains("highest"));
    }
}
