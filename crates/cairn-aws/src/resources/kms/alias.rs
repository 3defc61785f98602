//! `aws:kms:Alias`: a friendly name (`alias/...`) for a KMS key. Aliases
//! carry no tags: a create that finds the alias already there (its own lost
//! attempt, retried) adopts it only when it points at the requested key.

use crate::clients::Shared;
use crate::util::{
    api_error, api_failure, batch_label, concrete_str, error_code, get_str, is_not_found, missing,
    not_owned, resource_label,
};
use async_trait::async_trait;
use aws_sdk_kms::types::AliasListEntry;
use cairn_core::dsl::{Input, Output, ResourceType};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, ProviderError, ReadRequest, ResourceProvider,
};
use cairn_core::schema::{OutputSchema, PropType, PropertySchema, ResourceSchema};
use cairn_core::value::{Map, PropertyPath};
use serde::Serialize;
use std::collections::BTreeMap;

pub const TOKEN: &str = "aws:kms:Alias";

pub mod rules {
    pub const NAME: &str = "aws::kms::alias-name";
}

pub fn schema() -> ResourceSchema {
    ResourceSchema::new(TOKEN, "A KMS key alias.")
        .fixed_name()
        .property(
            PropertySchema::new(
                "name",
                PropType::String {
                    min_len: Some(7),
                    max_len: Some(256),
                },
            )
            .required()
            .replaces()
            .doc("Alias name, starting with `alias/`."),
        )
        .property(
            PropertySchema::new("targetKeyId", PropType::string())
                .required()
                .doc("Key id or ARN the alias points to."),
        )
        .output(OutputSchema::new("arn", "Alias ARN."))
}

pub struct Alias;

#[derive(Clone, Debug, Serialize, cairn_core::dsl::Builder)]
#[serde(rename_all = "camelCase")]
pub struct AliasArgs {
    pub name: Input<String>,
    pub target_key_id: Input<String>,
}

pub struct AliasOutputs {
    pub arn: Output<String>,
}

impl ResourceType for Alias {
    const TOKEN: &'static str = TOKEN;
    type Args = AliasArgs;
    type Outputs = AliasOutputs;
    fn outputs(name: &str) -> AliasOutputs {
        AliasOutputs {
            arn: Output::of(name, "arn"),
        }
    }
}

/// True when an alias's target (a key id) is the key `wanted` names
/// directly: the same id, or a key ARN ending in `/<id>`.
pub(crate) fn names_key(target: &str, wanted: &str) -> bool {
    !target.is_empty() && (wanted == target || wanted.ends_with(&format!("/{target}")))
}

fn outputs(a: &AliasListEntry) -> Map {
    let mut m = Map::new();
    m.insert("arn".into(), a.alias_arn().unwrap_or_default().into());
    m
}

/// What a read reports for alias `id` listed as `a` (single and batched
/// reads alike).
fn observe(id: &str, a: &AliasListEntry, inputs: &Map) -> Observed {
    let mut obs = Map::new();
    obs.insert("name".into(), id.into());
    if let Some(t) = a.target_key_id() {
        // Keep the stack's spelling (id or ARN) when it names the same key.
        let v = match get_str(inputs, "targetKeyId") {
            Some(i) if i == t || i.ends_with(&format!("/{t}")) => i.to_string(),
            _ => t.to_string(),
        };
        obs.insert("targetKeyId".into(), v.into());
    }
    Observed {
        id: id.to_string(),
        inputs: obs,
        outputs: outputs(a),
    }
}

pub struct AliasProvider {
    schema: ResourceSchema,
    clients: Shared,
}

impl AliasProvider {
    pub fn new(clients: Shared) -> Self {
        AliasProvider {
            schema: schema(),
            clients,
        }
    }

    async fn find(
        &self,
        resource: &str,
        name: &str,
    ) -> Result<Option<AliasListEntry>, ProviderError> {
        let sdk = self.clients.get().await?;
        let mut marker: Option<String> = None;
        loop {
            let page = match sdk
                .kms
                .list_aliases()
                .set_marker(marker.clone())
                .send()
                .await
            {
                Ok(p) => p,
                Err(e) if is_not_found(&e) => return Ok(None),
                Err(e) => return Err(api_error(resource, "kms:ListAliases", e, &[])),
            };
            if let Some(a) = page.aliases().iter().find(|a| a.alias_name() == Some(name)) {
                return Ok(Some(a.clone()));
            }
            match page.next_marker() {
                Some(m) if page.truncated() && Some(m) != marker.as_deref() => {
                    marker = Some(m.to_string())
                }
                _ => return Ok(None),
            }
        }
    }

    /// True when the alias's target is the key `wanted` names (an id, a key
    /// ARN, or anything else DescribeKey resolves, such as another alias).
    async fn points_at(
        &self,
        resource: &str,
        alias: &AliasListEntry,
        wanted: &str,
    ) -> Result<bool, ProviderError> {
        let Some(target) = alias.target_key_id() else {
            return Ok(false);
        };
        if names_key(target, wanted) {
            return Ok(true);
        }
        let sdk = self.clients.get().await?;
        match sdk.kms.describe_key().key_id(wanted).send().await {
            Ok(out) => Ok(out.key_metadata().map(|m| m.key_id()) == Some(target)),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(api_error(resource, "kms:DescribeKey", e, &[])),
        }
    }
}

#[async_trait]
impl ResourceProvider for AliasProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        match concrete_str(inputs, "name") {
            Some(n) if !n.starts_with("alias/") || n.starts_with("alias/aws/") => {
                vec![CheckFailure::error(
                    rules::NAME,
                    PropertyPath::key("name"),
                    format!("alias name `{n}` must start with `alias/` and not with `alias/aws/`"),
                )
                .with_help("e.g. `alias/qualisys-redis`")]
            }
            // AWS: `^alias/[a-zA-Z0-9/_-]+$`.
            Some(n) => match crate::util::disallowed_chars(&n["alias/".len()..], |c| {
                c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-')
            }) {
                Some(bad) => vec![CheckFailure::error(
                    rules::NAME,
                    PropertyPath::key("name"),
                    format!("alias name `{n}` contains {bad}, which KMS does not allow"),
                )
                .with_help("after `alias/`, use only letters, digits, `/`, `_` and `-`")],
                None if n.len() == "alias/".len() => vec![CheckFailure::error(
                    rules::NAME,
                    PropertyPath::key("name"),
                    "alias name `alias/` needs a name after the prefix",
                )
                .with_help("e.g. `alias/qualisys-redis`")],
                None => Vec::new(),
            },
            None => Vec::new(),
        }
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let name = get_str(inputs, "name")
            .ok_or_else(|| ProviderError::invalid(&resource, "name is required"))?;
        let target = get_str(inputs, "targetKeyId").unwrap_or_default();
        let sdk = self.clients.get().await?;
        // A key created just before may not be visible yet: NotFoundException
        // is retried for a bounded time.
        let start = std::time::Instant::now();
        let mut delay = std::time::Duration::from_millis(100);
        let res = loop {
            let res = sdk
                .kms
                .create_alias()
                .alias_name(name)
                .target_key_id(target)
                .send()
                .await;
            match res {
                Err(e)
                    if crate::util::is_not_found(&e)
                        && start.elapsed() + delay < crate::util::PROPAGATION =>
                {
                    ctx.report("waiting for the new key to become visible");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(std::time::Duration::from_secs(2));
                }
                r => break r,
            }
        };
        match res {
            Ok(_) => crate::util::note_created(name),
            // Our own earlier attempt whose answer was lost (the SDK retried),
            // or somebody else's alias: adopt it only if it points at our key.
            Err(e) if error_code(&e) == Some("AlreadyExistsException") => {
                let Some(a) = self.find(&resource, name).await? else {
                    return Err(api_error(&resource, "kms:CreateAlias", e, &[]));
                };
                if !self.points_at(&resource, &a, target).await? {
                    return Err(api_failure(
                        &resource,
                        "kms:CreateAlias",
                        "AlreadyExistsException",
                        format!(
                            "the alias {name} already exists and points at key {}, not at {target}: \
                             it belongs to another key (delete or re-point that alias, or choose another name)",
                            a.target_key_id().unwrap_or("<none>")
                        ),
                    ));
                }
                ctx.report("adopting the alias (it already points at this key)");
                return Ok(Created {
                    id: name.to_string(),
                    outputs: outputs(&a),
                });
            }
            Err(e) => return Err(api_error(&resource, "kms:CreateAlias", e, &[])),
        }
        let a = self
            .find(&resource, name)
            .await?
            .ok_or_else(|| missing(&resource, "kms:ListAliases", "the alias just created"))?;
        Ok(Created {
            id: name.to_string(),
            outputs: outputs(&a),
        })
    }

    async fn read(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let found = crate::util::read_after_create(ctx, id, || self.find(&resource, id)).await?;
        let Some(a) = found else {
            return Ok(None);
        };
        Ok(Some(observe(id, &a, inputs)))
    }

    fn read_batch_limit(&self) -> Option<usize> {
        Some(usize::MAX)
    }

    /// From two aliases on, one walk of `ListAliases` (100 a page) for all
    /// of them, where a single read walks it for each (`resources/listed.rs`).
    async fn read_many(
        &self,
        reqs: &[ReadRequest],
    ) -> Result<BTreeMap<String, Observed>, ProviderError> {
        let resource = batch_label(reqs, TOKEN);
        let sdk = self.clients.get().await?;
        let (kms, resource) = (&sdk.kms, resource.as_str());
        let page = |marker: Option<String>| async move {
            match kms
                .list_aliases()
                .limit(100)
                .set_marker(marker)
                .send()
                .await
            {
                Ok(p) => {
                    let next = p.next_marker().filter(|_| p.truncated());
                    let next = next.map(str::to_string);
                    Ok((p.aliases().to_vec(), next))
                }
                Err(e) if is_not_found(&e) => Ok((Vec::new(), None)),
                Err(e) => Err(api_error(resource, "kms:ListAliases", e, &[])),
            }
        };
        let observe = |r: ReadRequest, a: AliasListEntry| async move {
            Ok::<_, ProviderError>(observe(&r.id, &a, &r.inputs))
        };
        let name_of = AliasListEntry::alias_name;
        crate::resources::listed::read_listed(self, reqs, name_of, str::to_string, page, observe)
            .await
    }

    async fn update(
        &self,
        ctx: &CallContext,
        id: &str,
        _old: &Map,
        new: &Map,
        old_outputs: &Map,
    ) -> Result<Map, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let sdk = self.clients.get().await?;
        sdk.kms
            .update_alias()
            .alias_name(id)
            .target_key_id(get_str(new, "targetKeyId").unwrap_or_default())
            .send()
            .await
            .map_err(|e| api_error(&resource, "kms:UpdateAlias", e, &[]))?;
        Ok(old_outputs.clone())
    }

    async fn delete(
        &self,
        ctx: &CallContext,
        id: &str,
        _inputs: &Map,
        _outputs: &Map,
    ) -> Result<(), ProviderError> {
        crate::util::forget_created(id);
        let resource = resource_label(ctx, TOKEN);
        let sdk = self.clients.get().await?;
        match sdk.kms.delete_alias().alias_name(id).send().await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(api_error(&resource, "kms:DeleteAlias", e, &[])),
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
        let Some(a) = self.find(&resource, name).await? else {
            return Ok(None);
        };
        // An alias carries no tags: it is ours only if it points at our key.
        let target = get_str(inputs, "targetKeyId").unwrap_or_default();
        if !self.points_at(&resource, &a, target).await? {
            return Err(not_owned(
                ctx,
                &resource,
                name,
                format!(
                    "no tag (aliases have none) and points at key {}, not at {target}",
                    a.target_key_id().unwrap_or("<none>")
                ),
            ));
        }
        Ok(Some(Created {
            id: name.to_string(),
            outputs: outputs(&a),
        }))
    }
}
