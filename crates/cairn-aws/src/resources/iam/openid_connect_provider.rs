//! `aws:iam:OpenIdConnectProvider`: an IAM OIDC identity provider (an EKS
//! cluster's issuer, for IRSA). The URL is fixed at create; client ids
//! change in place (Add/RemoveClientIDToOpenIDConnectProvider), thumbprints
//! by UpdateOpenIDConnectProviderThumbprint, tags by Tag/Untag. The ARN
//! follows from the URL, so a create whose answer was lost finds its
//! provider again and adopts it only when it carries this resource's
//! `cairn:urn` tag.

use crate::clients::Shared;
use crate::util::{
    api_error, concrete_str, ensure_ours, error_code, get_str, get_str_list, get_tags,
    is_not_found, missing, order_like, resource_label, retry_not_found, str_list_value, tag_diff,
    tags_value, PROPAGATION, URN_TAG,
};
use async_trait::async_trait;
use aws_sdk_iam::operation::get_open_id_connect_provider::GetOpenIdConnectProviderOutput;
use aws_sdk_iam::types::Tag;
use cairn_core::dsl::{DeclaredType, Input, Output, Outputs, Resource};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, ProviderError, ResourceProvider,
};
use cairn_core::schema::{PropType, ResourceSchema};
use cairn_core::value::{Map, PropertyPath, Value};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

pub const TOKEN: &str = "aws:iam:OpenIdConnectProvider";

pub mod rules {
    pub const URL: &str = "aws::iam::oidc-url";
    pub const THUMBPRINT: &str = "aws::iam::oidc-thumbprint";
    pub const CLIENT_ID: &str = "aws::iam::oidc-client-id";
}

pub struct OpenIdConnectProvider;

/// An IAM OpenID Connect identity provider (e.g. an EKS cluster's issuer).
#[derive(Serialize, Clone, Debug, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(token = "aws:iam:OpenIdConnectProvider", kind = OpenIdConnectProvider, outputs = OpenIdConnectProviderOutputs)]
pub struct OpenIdConnectProviderArgs {
    /// Issuer URL (`https://...`, at most 255 characters).
    #[prop(replaces, ty = PropType::String { min_len: Some(1), max_len: Some(255) })]
    pub url: Input<String>,
    /// Client ids (audiences), e.g. `sts.amazonaws.com`.
    pub client_id_lists: Vec<Input<String>>,
    /// Server certificate thumbprints (40 hex characters each, at most 5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbprint_lists: Option<Vec<Input<String>>>,
    /// Tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Input<String>>>,
}

#[derive(Outputs)]
pub struct OpenIdConnectProviderOutputs {
    /// Provider ARN (also the import id).
    pub arn: Output<String>,
    /// The URL as IAM returns it, without `https://`: the prefix of IRSA
    /// trust condition keys (`${provider.url}:sub`), as Terraform reads it.
    pub url: Output<String>,
}

fn strings(inputs: &Map, k: &str) -> Vec<(usize, String)> {
    inputs
        .get(k)
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            v.as_str()
                .filter(|s| !crate::util::is_unresolved(s))
                .map(|s| (i, s.to_string()))
        })
        .collect()
}

fn check(inputs: &Map) -> Vec<CheckFailure> {
    let mut out = Vec::new();
    if let Some(u) = concrete_str(inputs, "url") {
        let host = u.strip_prefix("https://");
        let bad = match host {
            None => Some("it does not start with `https://`"),
            Some(h) if h.is_empty() || h.starts_with('/') => Some("it has no host"),
            Some(h) if h.contains(['?', '#']) => Some("it has a query or fragment"),
            Some(h) if h.split('/').next().is_some_and(|host| host.contains(':')) => {
                Some("it names a port")
            }
            _ => None,
        };
        if let Some(why) = bad {
            out.push(
                CheckFailure::error(
                    rules::URL,
                    PropertyPath::key("url"),
                    format!("OIDC provider URL `{u}` is not accepted by IAM: {why}"),
                )
                .with_help(
                    "use the issuer URL, e.g. the cluster's `identities[0].oidcs[0].issuer` output",
                ),
            );
        }
    }
    let thumbs = strings(inputs, "thumbprintLists");
    for (i, t) in &thumbs {
        if t.len() != 40 || !t.chars().all(|c| c.is_ascii_hexdigit()) {
            out.push(
                CheckFailure::error(
                    rules::THUMBPRINT,
                    PropertyPath::key("thumbprintLists").index(*i),
                    format!("thumbprint `{t}` is not 40 hexadecimal characters"),
                )
                .with_help(
                    "a thumbprint is the SHA-1 of the top intermediate CA certificate, in hex",
                ),
            );
        }
    }
    if thumbs.len() > 5 {
        out.push(
            CheckFailure::error(
                rules::THUMBPRINT,
                PropertyPath::key("thumbprintLists"),
                format!("{} thumbprints; IAM allows at most 5", thumbs.len()),
            )
            .with_help("keep at most 5"),
        );
    }
    let ids = strings(inputs, "clientIdLists");
    for (i, c) in &ids {
        if c.is_empty() || c.len() > 255 {
            out.push(
                CheckFailure::error(
                    rules::CLIENT_ID,
                    PropertyPath::key("clientIdLists").index(*i),
                    "a client id is 1 to 255 characters",
                )
                .with_help("e.g. `sts.amazonaws.com` for IRSA"),
            );
        }
    }
    if ids.len() > 100 {
        out.push(
            CheckFailure::error(
                rules::CLIENT_ID,
                PropertyPath::key("clientIdLists"),
                format!("{} client ids; IAM allows at most 100", ids.len()),
            )
            .with_help("keep at most 100"),
        );
    }
    out
}

/// The URL as IAM keys it: no scheme, no trailing slash.
fn bare(url: &str) -> &str {
    url.strip_prefix("https://")
        .unwrap_or(url)
        .trim_end_matches('/')
}

fn iam_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

fn live_tags(p: &GetOpenIdConnectProviderOutput) -> BTreeMap<String, String> {
    p.tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

fn outputs(arn: &str) -> Map {
    let mut m = Map::new();
    m.insert("arn".into(), arn.into());
    // `arn:aws:iam::ACCOUNT:oidc-provider/HOST/PATH`: the URL IAM keys.
    let url = arn.split_once(":oidc-provider/").map_or("", |(_, u)| u);
    m.insert("url".into(), url.into());
    m
}

fn observed(p: &GetOpenIdConnectProviderOutput, want: &Map) -> Map {
    let mut obs = Map::new();
    let live = p.url().unwrap_or_default();
    let url = match get_str(want, "url") {
        Some(w) if bare(w) == bare(live) => w.to_string(),
        _ => format!("https://{}", bare(live)),
    };
    obs.insert("url".into(), url.into());
    let ids = order_like(p.client_id_list(), &get_str_list(want, "clientIdLists"));
    obs.insert("clientIdLists".into(), str_list_value(&ids));
    // Thumbprints are hex: case is not a difference.
    let want_thumbs = get_str_list(want, "thumbprintLists");
    let thumbs: Vec<String> = p
        .thumbprint_list()
        .iter()
        .map(|t| {
            want_thumbs
                .iter()
                .find(|w| w.eq_ignore_ascii_case(t))
                .cloned()
                .unwrap_or_else(|| t.to_string())
        })
        .collect();
    if want.contains_key("thumbprintLists") || !thumbs.is_empty() {
        obs.insert(
            "thumbprintLists".into(),
            str_list_value(&order_like(&thumbs, &want_thumbs)),
        );
    }
    let tags: BTreeMap<String, String> = live_tags(p)
        .into_iter()
        .filter(|(k, _)| !crate::util::is_internal_tag(k))
        .collect();
    if want.contains_key("tags") || !tags.is_empty() {
        obs.insert("tags".into(), tags_value(&tags));
    }
    obs
}

pub struct OpenIdConnectProviderProvider {
    schema: ResourceSchema,
    clients: Shared,
}

impl OpenIdConnectProviderProvider {
    pub fn new(clients: Shared) -> Self {
        OpenIdConnectProviderProvider {
            schema: OpenIdConnectProvider::schema(),
            clients,
        }
    }

    async fn get(
        &self,
        resource: &str,
        arn: &str,
    ) -> Result<Option<GetOpenIdConnectProviderOutput>, ProviderError> {
        let sdk = self.clients.get().await?;
        match sdk
            .iam
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(arn)
            .send()
            .await
        {
            Ok(out) => Ok(Some(out)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(api_error(resource, "iam:GetOpenIDConnectProvider", e, &[])),
        }
    }

    /// The ARN of the provider for `url`, if one exists.
    async fn find(&self, resource: &str, url: &str) -> Result<Option<String>, ProviderError> {
        let sdk = self.clients.get().await?;
        let out = sdk
            .iam
            .list_open_id_connect_providers()
            .send()
            .await
            .map_err(|e| api_error(resource, "iam:ListOpenIDConnectProviders", e, &[]))?;
        let suffix = format!(":oidc-provider/{}", bare(url));
        Ok(out
            .open_id_connect_provider_list()
            .iter()
            .filter_map(|p| p.arn())
            .find(|a| a.ends_with(&suffix))
            .map(str::to_string))
    }

    async fn apply(
        &self,
        ctx: &CallContext,
        resource: &str,
        arn: &str,
        old: &Map,
        new: &Map,
    ) -> Result<(), ProviderError> {
        let sdk = self.clients.get().await?;
        let was: BTreeSet<String> = get_str_list(old, "clientIdLists").into_iter().collect();
        let now: BTreeSet<String> = get_str_list(new, "clientIdLists").into_iter().collect();
        for id in now.difference(&was) {
            retry_not_found(ctx, PROPAGATION, || async {
                sdk.iam
                    .add_client_id_to_open_id_connect_provider()
                    .open_id_connect_provider_arn(arn)
                    .client_id(id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        api_error(resource, "iam:AddClientIDToOpenIDConnectProvider", e, &[])
                    })
            })
            .await?;
        }
        for id in was.difference(&now) {
            retry_not_found(ctx, PROPAGATION, || async {
                sdk.iam
                    .remove_client_id_from_open_id_connect_provider()
                    .open_id_connect_provider_arn(arn)
                    .client_id(id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        api_error(
                            resource,
                            "iam:RemoveClientIDFromOpenIDConnectProvider",
                            e,
                            &[],
                        )
                    })
            })
            .await?;
        }
        let lower = |m: &Map| -> BTreeSet<String> {
            get_str_list(m, "thumbprintLists")
                .iter()
                .map(|t| t.to_ascii_lowercase())
                .collect()
        };
        if lower(old) != lower(new) {
            let list = get_str_list(new, "thumbprintLists");
            retry_not_found(ctx, PROPAGATION, || async {
                sdk.iam
                    .update_open_id_connect_provider_thumbprint()
                    .open_id_connect_provider_arn(arn)
                    .set_thumbprint_list(Some(list.clone()))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        api_error(
                            resource,
                            "iam:UpdateOpenIDConnectProviderThumbprint",
                            e,
                            &[],
                        )
                    })
            })
            .await?;
        }
        if old.get("tags") != new.get("tags") {
            let (set, gone) = tag_diff(&get_tags(old, "tags"), &get_tags(new, "tags"));
            let gone: Vec<String> = gone.into_iter().filter(|k| k != URN_TAG).collect();
            if !set.is_empty() {
                retry_not_found(ctx, PROPAGATION, || async {
                    sdk.iam
                        .tag_open_id_connect_provider()
                        .open_id_connect_provider_arn(arn)
                        .set_tags(Some(iam_tags(&set)))
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| api_error(resource, "iam:TagOpenIDConnectProvider", e, &[]))
                })
                .await?;
            }
            if !gone.is_empty() {
                retry_not_found(ctx, PROPAGATION, || async {
                    sdk.iam
                        .untag_open_id_connect_provider()
                        .open_id_connect_provider_arn(arn)
                        .set_tag_keys(Some(gone.clone()))
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| api_error(resource, "iam:UntagOpenIDConnectProvider", e, &[]))
                })
                .await?;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl ResourceProvider for OpenIdConnectProviderProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        check(inputs)
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let url = get_str(inputs, "url")
            .ok_or_else(|| ProviderError::invalid(&resource, "url is required"))?;
        let sdk = self.clients.get().await?;
        let mut tags = get_tags(inputs, "tags");
        tags.insert(URN_TAG.to_string(), ctx.urn.clone());
        let res = sdk
            .iam
            .create_open_id_connect_provider()
            .url(url)
            .set_client_id_list(Some(get_str_list(inputs, "clientIdLists")))
            .set_thumbprint_list(Some(get_str_list(inputs, "thumbprintLists")))
            .set_tags(Some(iam_tags(&tags)))
            .send()
            .await;
        let arn = match res {
            Ok(out) => out
                .open_id_connect_provider_arn()
                .ok_or_else(|| {
                    missing(&resource, "iam:CreateOpenIDConnectProvider", "provider ARN")
                })?
                .to_string(),
            // Our own lost attempt, or another's provider for this URL.
            Err(e) if error_code(&e) == Some("EntityAlreadyExists") => {
                let Some(arn) = self.find(&resource, url).await? else {
                    return Err(api_error(
                        &resource,
                        "iam:CreateOpenIDConnectProvider",
                        e,
                        &[],
                    ));
                };
                let live = self.get(&resource, &arn).await?.ok_or_else(|| {
                    missing(&resource, "iam:GetOpenIDConnectProvider", "provider")
                })?;
                let live_tags = live_tags(&live);
                ensure_ours(ctx, &resource, &arn, Some(&live_tags))?;
                ctx.report("adopting the OIDC provider (it is this resource's)");
                let mut was = observed(&live, inputs);
                was.insert("tags".into(), tags_value(&live_tags));
                self.apply(ctx, &resource, &arn, &was, inputs).await?;
                arn
            }
            Err(e) => {
                return Err(api_error(
                    &resource,
                    "iam:CreateOpenIDConnectProvider",
                    e,
                    &[],
                ))
            }
        };
        crate::util::note_created(&arn);
        Ok(Created {
            outputs: outputs(&arn),
            id: arn,
        })
    }

    async fn read(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let Some(p) = crate::util::read_after_create(ctx, id, || self.get(&resource, id)).await?
        else {
            return Ok(None);
        };
        Ok(Some(Observed {
            id: id.to_string(),
            inputs: observed(&p, inputs),
            outputs: outputs(id),
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
        self.apply(ctx, &resource, id, old, new).await?;
        Ok(outputs(id))
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
        match sdk
            .iam
            .delete_open_id_connect_provider()
            .open_id_connect_provider_arn(id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(api_error(
                &resource,
                "iam:DeleteOpenIDConnectProvider",
                e,
                &[],
            )),
        }
    }

    async fn recover(
        &self,
        ctx: &CallContext,
        inputs: &Map,
    ) -> Result<Option<Created>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let Some(url) = get_str(inputs, "url") else {
            return Ok(None);
        };
        let Some(arn) = self.find(&resource, url).await? else {
            return Ok(None);
        };
        let Some(p) = self.get(&resource, &arn).await? else {
            return Ok(None);
        };
        ensure_ours(ctx, &resource, &arn, Some(&live_tags(&p)))?;
        Ok(Some(Created {
            outputs: outputs(&arn),
            id: arn,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_and_thumbprints() {
        let mut m = Map::new();
        m.insert("url".into(), "http://oidc.eks.example/id/A".into());
        m.insert(
            "thumbprintLists".into(),
            Value::List(vec![
                "abc".into(),
                "9e99a48a9960b14926bb7f3b02e22da2b0ab7280".into(),
            ]),
        );
        let f = check(&m);
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!(f[1].path.to_string(), "thumbprintLists[0]");
        assert_eq!(bare("https://oidc.eks.x/id/ABC/"), "oidc.eks.x/id/ABC");
    }
}
