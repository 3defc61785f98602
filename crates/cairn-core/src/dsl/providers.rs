//! What choosing an explicit provider (`pulumi:providers:<pkg>`) does to a
//! resource, for the DSL's `.provider(&p)` and YAML's `options.provider`
//! alike: the resource depends on the provider, takes the provider's
//! `region` as its own `region` input (when its type has one and it set
//! none), its `profile` and `assumeRole` as its `credentials` input, and
//! the provider's `defaultTags.tags` under its own `tags` (its own win).

use crate::spec::ResourceSpec;
use crate::value::Value;

/// Type tokens of explicit providers start with this.
pub const PROVIDER_PREFIX: &str = "pulumi:providers:";

/// What [`use_provider`] changed, and what it could not do.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProviderUse {
    /// `region` was set from the provider.
    pub region_set: bool,
    /// `tags` was set from the provider's default tags (the resource had none).
    pub tags_set: bool,
    /// The provider's `region` is not a literal (an output or an interpolation).
    pub region_unknown: bool,
    /// `credentials` was set from the provider's `profile`/`assumeRole`.
    pub credentials_set: bool,
    /// The provider's `profile` or `assumeRole` is not known (names an output).
    pub credentials_unknown: bool,
    /// The resource's `tags` is one expression: the default tags were not merged.
    pub tags_not_merged: bool,
}

/// A value with no reference left in it (known when the stack is built).
fn known(v: &Value) -> bool {
    match v {
        Value::String(s) => !s.contains("${"),
        Value::Map(m) => m.values().all(known),
        Value::List(l) => l.iter().all(known),
        Value::Secret(inner) => known(inner),
        Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => true,
        Value::Unknown => false,
    }
}

fn known_string(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) if !s.contains("${") => Some(s),
        _ => None,
    }
}

/// Applies `provider` to `resource`; `takes(p)` says whether the
/// resource's type has input `p`.
pub fn use_provider(
    resource: &mut ResourceSpec,
    provider: &ResourceSpec,
    takes: impl Fn(&str) -> bool,
) -> ProviderUse {
    let mut out = ProviderUse::default();
    if !resource.options.depends_on.contains(&provider.name) {
        resource.options.depends_on.push(provider.name.clone());
    }
    if let Some(region) = provider.properties.get("region") {
        match known_string(region) {
            Some(r) if takes("region") => {
                if !resource.properties.contains_key("region") {
                    resource.properties.insert("region".into(), Value::from(r));
                    out.region_set = true;
                }
            }
            Some(_) => {}
            None => out.region_unknown = true,
        }
    }
    let mut creds = crate::value::Map::new();
    for key in ["profile", "assumeRole"] {
        if let Some(v) = provider.properties.get(key) {
            if known(v) {
                creds.insert(key.into(), v.clone());
            } else {
                out.credentials_unknown = true;
            }
        }
    }
    if !creds.is_empty()
        && !out.credentials_unknown
        && takes("credentials")
        && !resource.properties.contains_key("credentials")
    {
        resource
            .properties
            .insert("credentials".into(), Value::Map(creds));
        out.credentials_set = true;
    }
    let default_tags = provider
        .properties
        .get("defaultTags")
        .and_then(Value::as_map)
        .and_then(|m| m.get("tags"))
        .and_then(Value::as_map);
    if let (Some(defaults), true) = (default_tags, takes("tags")) {
        match resource.properties.get_mut("tags") {
            None => {
                resource
                    .properties
                    .insert("tags".into(), Value::Map(defaults.clone()));
                out.tags_set = true;
            }
            Some(Value::Map(own)) => {
                for (k, v) in defaults {
                    own.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            Some(_) => out.tags_not_merged = true,
        }
    }
    out
}
