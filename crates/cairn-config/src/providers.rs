//! Explicit providers: `options.provider: ${east}` (or `options.providers`)
//! on a resource names a `pulumi:providers:<package>` resource of the same
//! package. The resource then depends on it, takes its `region` as its own
//! `region` input (recorded in state: a resource moved to another region is
//! replaced, the plan naming `region`), its `profile` or `assumeRole` as
//! its `credentials` input (recorded in state, so destroy and refresh use
//! them after the program changes; a change is an update, not a replace),
//! and its `defaultTags.tags` under its own `tags` (its own win).
//! `options.version` is accepted with a warning: cairn's providers are
//! built in.

use crate::codes;
use crate::stack::{entries, find};
use crate::yaml::{Kind, Node};
use cairn_core::diag::Problem;
use cairn_core::interp;
use cairn_core::provider::Registry;
use cairn_core::spec::{Span, StackSpec};
use cairn_core::validate::{key_path, option_path};
use cairn_core::value::{PropertyPath, Value};

/// Type tokens of explicit providers start with this.
pub const PROVIDER_PREFIX: &str = "pulumi:providers:";

/// What one resource's options ask for.
struct Use {
    resource: usize,
    provider: usize,
    span: Span,
}

fn package(token: &str) -> &str {
    token.split(':').next().unwrap_or("")
}

/// Applies every resource's `provider`/`providers`/`version` options to
/// `spec` (loaded from `root`), reporting problems.
pub(crate) fn apply(
    root: &Node,
    spec: &mut StackSpec,
    registry: &Registry,
    problems: &mut Vec<Problem>,
) {
    let Some(resources) = find(root, "resources") else {
        return;
    };
    let mut uses = Vec::new();
    // Per resource: the providers its options name (any package).
    let mut named: Vec<Vec<String>> = vec![Vec::new(); spec.resources.len()];
    for r in entries(&resources.value) {
        let Some(index) = spec.resources.iter().position(|s| s.name == r.key) else {
            continue;
        };
        let Some(options) = find(&r.value, "options") else {
            continue;
        };
        named[index] = named_providers(&options.value);
        for e in entries(&options.value) {
            match e.key.as_str() {
                "version" => problems.push(
                    Problem::warning(
                        codes::OPTION_IGNORED,
                        format!("option `version` of `{}` is ignored", r.key),
                    )
                    .at(Some(e.key_span), "ignored")
                    .help("cairn's providers are built in, one version per cairn release; remove `version`"),
                ),
                "provider" => {
                    if let Some(u) = chosen(spec, index, &e.value, None, problems) {
                        uses.push(u);
                    }
                }
                "providers" => match &e.value.kind {
                    Kind::Map(list) => {
                        for p in list {
                            if let Some(u) = chosen(spec, index, &p.value, Some(&p.key), problems) {
                                uses.push(u);
                            }
                        }
                    }
                    Kind::Seq(items) => {
                        for item in items {
                            if let Some(u) = chosen(spec, index, item, Some(""), problems) {
                                uses.push(u);
                            }
                        }
                    }
                    _ => problems.push(
                        Problem::error(
                            codes::INVALID_OPTION,
                            "option `providers` must be a map of package names to providers, or a list of providers",
                        )
                        .at(Some(e.value.span), "expected a map or a list")
                        .help("write `providers: { aws: ${east} }` or `providers: [${east}]`"),
                    ),
                },
                _ => {}
            }
        }
    }
    // `defaultProvider: true`: every resource of that package that names no
    // `provider` uses it, as Pulumi YAML sets its `provider` option (so it
    // wins over a `providers` entry and over the parent's provider).
    let names_provider: std::collections::BTreeSet<&str> = entries(&resources.value)
        .iter()
        .filter(|r| find(&r.value, "options").is_some_and(|o| find(&o.value, "provider").is_some()))
        .map(|r| r.key.as_str())
        .collect();
    for (pkg, (provider, span)) in default_providers(&resources.value, spec, problems) {
        for (i, r) in spec.resources.iter().enumerate() {
            if i == provider
                || r.type_token.starts_with(PROVIDER_PREFIX)
                || package(&r.type_token) != pkg
                || names_provider.contains(r.name.as_str())
            {
                continue;
            }
            uses.retain(|u| u.resource != i);
            named[i].push(spec.resources[provider].name.clone());
            uses.push(Use {
                resource: i,
                provider,
                span,
            });
        }
    }
    uses.extend(inherited(spec, &named));
    for u in uses {
        apply_one(spec, registry, &u, problems);
    }
}

/// The providers marked `defaultProvider: true`, by package: the provider's
/// index and the flag's span. Two for one package are an error.
fn default_providers(
    resources: &Node,
    spec: &StackSpec,
    problems: &mut Vec<Problem>,
) -> std::collections::BTreeMap<String, (usize, Span)> {
    let mut out: std::collections::BTreeMap<String, (usize, Span)> = Default::default();
    for r in entries(resources) {
        let Some(flag) = find(&r.value, "defaultProvider") else {
            continue;
        };
        if !matches!(flag.value.kind, Kind::Bool(true)) {
            continue;
        }
        let Some(index) = spec.resources.iter().position(|s| s.name == r.key) else {
            continue;
        };
        let Some(pkg) = spec.resources[index]
            .type_token
            .strip_prefix(PROVIDER_PREFIX)
        else {
            continue; // reported by the loader
        };
        if let Some((first, _)) = out.get(pkg) {
            problems.push(
                Problem::error(
                    codes::INVALID_PROVIDER,
                    format!(
                        "`{}` and `{}` are both the default provider for `{pkg}`",
                        spec.resources[*first].name, r.key
                    ),
                )
                .at(Some(flag.value.span), "a second default")
                .help("mark one provider of a package `defaultProvider: true`; name the other with `options.provider`"),
            );
            continue;
        }
        out.insert(pkg.to_string(), (index, flag.value.span));
    }
    out
}

/// The `${name}`s of a resource's `provider` and `providers` options.
fn named_providers(options: &Node) -> Vec<String> {
    let name = |n: &Node| {
        n.as_str()
            .and_then(interp::whole_reference)
            .filter(|(_, path)| path.0.is_empty())
            .map(|(root, _)| root)
    };
    let mut out = Vec::new();
    for e in entries(options) {
        match (e.key.as_str(), &e.value.kind) {
            ("provider", _) => out.extend(name(&e.value)),
            ("providers", Kind::Map(list)) => {
                out.extend(list.iter().filter_map(|p| name(&p.value)))
            }
            ("providers", Kind::Seq(items)) => out.extend(items.iter().filter_map(name)),
            _ => {}
        }
    }
    out
}

/// For each resource naming no provider: the provider of its package that
/// its nearest parent names (Pulumi's inheritance), at its `parent` value.
fn inherited(spec: &StackSpec, named: &[Vec<String>]) -> Vec<Use> {
    let mut out = Vec::new();
    for (i, r) in spec.resources.iter().enumerate() {
        if !named[i].is_empty() || r.type_token.starts_with(PROVIDER_PREFIX) {
            continue;
        }
        let Some(span) = r.span_of(&option_path("parent")) else {
            continue;
        };
        let own = package(&r.type_token);
        let found = crate::parents::ancestors(spec, i)
            .into_iter()
            .find_map(|a| {
                named[a].iter().find_map(|p| {
                    spec.resources.iter().position(|s| {
                        s.name == *p && s.type_token.strip_prefix(PROVIDER_PREFIX) == Some(own)
                    })
                })
            });
        if let Some(provider) = found {
            out.push(Use {
                resource: i,
                provider,
                span,
            });
        }
    }
    out
}

/// The provider `value` names for resource `index`, checked. `key`: the
/// `providers` map key (`Some("")` for the list form, where a provider of
/// another package is skipped, as Pulumi does).
fn chosen(
    spec: &StackSpec,
    index: usize,
    value: &Node,
    key: Option<&str>,
    problems: &mut Vec<Problem>,
) -> Option<Use> {
    let resource = &spec.resources[index];
    let option = if key.is_some() {
        "providers"
    } else {
        "provider"
    };
    let name = value
        .as_str()
        .and_then(interp::whole_reference)
        .filter(|(_, path)| path.0.is_empty())
        .map(|(root, _)| root);
    let Some(name) = name else {
        problems.push(
            Problem::error(
                codes::INVALID_OPTION,
                format!("option `{option}` must name a provider resource, e.g. `${{east}}`"),
            )
            .at(Some(value.span), "expected `${name}` of a provider")
            .help("declare `east: { type: pulumi:providers:aws, properties: { region: eu-west-1 } }` and write `provider: ${east}`"),
        );
        return None;
    };
    // An unknown name is reported by the loader (unknown reference).
    let provider = spec.resources.iter().position(|s| s.name == name)?;
    let target = &spec.resources[provider];
    let Some(pkg) = target.type_token.strip_prefix(PROVIDER_PREFIX) else {
        problems.push(
            Problem::error(
                codes::INVALID_PROVIDER,
                format!(
                    "`{name}` is not a provider: it is a `{}`",
                    target.type_token
                ),
            )
            .at(Some(value.span), "not a provider")
            .help(format!(
                "`{option}` names a resource of type `{PROVIDER_PREFIX}<package>`, e.g. `{PROVIDER_PREFIX}aws`"
            )),
        );
        return None;
    };
    let own = package(&resource.type_token);
    if let Some(k) = key.filter(|k| !k.is_empty() && *k != pkg) {
        problems.push(
            Problem::error(
                codes::INVALID_PROVIDER,
                format!("`providers.{k}` names `{name}`, a provider for `{pkg}`"),
            )
            .at(Some(value.span), format!("a `{pkg}` provider"))
            .help(format!("write `{pkg}: ${{{name}}}`")),
        );
        return None;
    }
    if pkg != own {
        if key.is_some() {
            return None; // a provider for the resource's children of other packages
        }
        problems.push(
            Problem::error(
                codes::INVALID_PROVIDER,
                format!(
                    "`{name}` is a provider for package `{pkg}`, but `{}` is a `{}` resource",
                    resource.name, resource.type_token
                ),
            )
            .at(Some(value.span), format!("a `{pkg}` provider"))
            .help(format!(
                "name a `{PROVIDER_PREFIX}{own}` resource, or remove `provider` to use the default one"
            )),
        );
        return None;
    }
    Some(Use {
        resource: index,
        provider,
        span: value.span,
    })
}

fn known_string(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) if !s.contains("${") => Some(s),
        _ => None,
    }
}

/// A value with no reference left in it (known when the stack is loaded).
fn known(v: &Value) -> bool {
    match v {
        Value::String(s) => !s.contains("${"),
        Value::Map(m) => m.values().all(known),
        Value::List(l) => l.iter().all(known),
        Value::Secret(inner) => known(inner),
        Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => true,
        _ => false,
    }
}

/// A provider's properties that make the `credentials` of its resources
/// (and of its invokes).
pub(crate) const CREDENTIAL_KEYS: [&str; 2] = ["profile", "assumeRole"];

/// The `credentials` input of a resource of `provider` (or argument of an
/// invoke through it): its `profile` or `assumeRole` (`None` when it has
/// neither, or they are not known).
pub(crate) fn credentials_of(
    provider: &cairn_core::spec::ResourceSpec,
    problems: &mut Vec<Problem>,
) -> Option<Value> {
    let mut creds = cairn_core::value::Map::new();
    for key in CREDENTIAL_KEYS {
        let Some(v) = provider.properties.get(key) else {
            continue;
        };
        if !known(v) {
            problems.push(
                Problem::error(
                    codes::INVALID_PROVIDER,
                    format!(
                        "the `{key}` of provider `{}` must be known when the stack is loaded",
                        provider.name
                    ),
                )
                .at(
                    provider.span_of(&PropertyPath::key(key)),
                    "not a literal or config value",
                )
                .help("write it, or read it from config; resource outputs are known only at apply"),
            );
            return None;
        }
        creds.insert(key.into(), v.clone());
    }
    (!creds.is_empty()).then_some(Value::Map(creds))
}

fn apply_one(spec: &mut StackSpec, registry: &Registry, u: &Use, problems: &mut Vec<Problem>) {
    let provider = spec.resources[u.provider].clone();
    let resource = &mut spec.resources[u.resource];
    if !resource.options.depends_on.contains(&provider.name) {
        resource.options.depends_on.push(provider.name.clone());
    }
    let schema = registry.schema(&resource.type_token);
    let has = |p: &str| schema.is_some_and(|s| s.properties.iter().any(|x| x.name == p));
    let region_span = provider.span_of(&PropertyPath::key("region"));
    if let Some(region) = provider.properties.get("region") {
        match known_string(region) {
            Some(r) if has("region") => {
                if !resource.properties.contains_key("region") {
                    resource.properties.insert("region".into(), Value::from(r));
                    note_span(&mut resource.spans, "region", u.span);
                }
            }
            Some(_) => {}
            None => problems.push(
                Problem::error(
                    codes::INVALID_PROVIDER,
                    format!(
                        "the `region` of provider `{}` must be known when the stack is loaded",
                        provider.name
                    ),
                )
                .at(region_span, "not a literal or config value")
                .help("write the region, or read it from config (`${awsRegion}`); resource outputs are known only at apply"),
            ),
        }
    }
    if let (Some(creds), true) = (credentials_of(&provider, problems), has("credentials")) {
        if !resource.properties.contains_key("credentials") {
            resource.properties.insert("credentials".into(), creds);
            note_span(&mut resource.spans, "credentials", u.span);
        }
    }
    let default_tags = provider
        .properties
        .get("defaultTags")
        .and_then(Value::as_map)
        .and_then(|m| m.get("tags"))
        .and_then(Value::as_map);
    if let (Some(defaults), true) = (default_tags, has("tags")) {
        match resource.properties.get_mut("tags") {
            None => {
                resource
                    .properties
                    .insert("tags".into(), Value::Map(defaults.clone()));
                note_span(&mut resource.spans, "tags", u.span);
            }
            Some(Value::Map(own)) => {
                for (k, v) in defaults {
                    own.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            Some(_) => problems.push(
                Problem::warning(
                    codes::INVALID_PROVIDER,
                    format!(
                        "the default tags of provider `{}` are not added to `{}`'s tags",
                        provider.name, resource.name
                    ),
                )
                .at(
                    resource.span_of(&PropertyPath::key("tags")),
                    "tags given as one expression",
                )
                .help("write `tags` as a map to have the provider's `defaultTags` merged in"),
            ),
        }
    }
}

fn note_span(spans: &mut std::collections::BTreeMap<PropertyPath, Span>, key: &str, span: Span) {
    let path = PropertyPath::key(key);
    spans.entry(key_path(&path)).or_insert(span);
    spans.entry(path).or_insert(span);
}
