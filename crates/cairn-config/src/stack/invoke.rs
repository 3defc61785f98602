//! `fn::invoke` (and its `fn::<pkg>:<fn>` shorthand): a data source called
//! while the stack loads, i.e. at preview, as Pulumi YAML does. The caller
//! (the CLI) runs the call; see [`super::Program::invoke`].

use super::functions::{to_data, Arg};
use super::{escape_value, find, has_reference, Loader};
use crate::codes;
use crate::yaml::{Entry, Kind, Node};
use cairn_core::diag::Problem;
use cairn_core::provider::InvokeError;
use cairn_core::spec::{ResourceSpec, Span};
use cairn_core::value::{Map, PropertyPath, Value};
use std::collections::BTreeMap;

const INVOKE_KEYS: &[&str] = &["function", "arguments", "options", "return"];
/// Pulumi's invoke options; `provider` is read, `version` ignored.
const INVOKE_OPTIONS: &[&str] = &[
    "provider",
    "version",
    "parent",
    "dependsOn",
    "pluginDownloadURL",
];
/// What an invoke's `options.provider` adds to its arguments.
#[derive(Default)]
pub(super) struct ProviderSettings {
    pub(super) region: Option<Value>,
    pub(super) credentials: Option<Value>,
}

const INVOKE_FORM: &str = "e.g. `fn::invoke: { function: aws:getRegion, arguments: {}, return: name }` or `fn::aws:getRegion: {}`";

impl Loader<'_> {
    /// `fn::invoke: {function, arguments, return}`, or, with `token` set,
    /// the shorthand `fn::<token>: arguments`.
    pub(super) fn invoke(
        &mut self,
        f: &Entry,
        shorthand: Option<&str>,
        path: &PropertyPath,
        spans: &mut BTreeMap<PropertyPath, Span>,
        refs: bool,
    ) -> Value {
        let (token, token_span, args_node, ret, options) = match shorthand {
            Some(t) => (t.to_string(), f.key_span, Some(&f.value), None, None),
            None => {
                let Kind::Map(list) = &f.value.kind else {
                    return self.bad_invoke(f.value.span, "`fn::invoke` takes a map");
                };
                for e in list {
                    if !INVOKE_KEYS.contains(&e.key.as_str()) {
                        let help = super::suggest(&e.key, INVOKE_KEYS).unwrap_or_else(|| {
                            format!("`fn::invoke` takes {}", super::list(INVOKE_KEYS))
                        });
                        self.push(
                            Problem::error(
                                codes::INVOKE_ARGUMENT,
                                format!("unknown key `{}` in `fn::invoke`", e.key),
                            )
                            .at(Some(e.key_span), "unknown key")
                            .help(help),
                        );
                        return Value::Unknown;
                    }
                }
                let Some(func) = list.iter().find(|e| e.key == "function") else {
                    return self.bad_invoke(f.key_span, "`fn::invoke` needs `function`");
                };
                let Some(token) = func.value.as_str() else {
                    return self.bad_invoke(
                        func.value.span,
                        "`function` must be a token such as `aws:getRegion`",
                    );
                };
                let ret = match list.iter().find(|e| e.key == "return") {
                    Some(r) => match r.value.as_str() {
                        Some(s) => Some((s.to_string(), r.value.span)),
                        None => {
                            return self.bad_invoke(
                                r.value.span,
                                "`return` must be the name of one result property",
                            )
                        }
                    },
                    None => None,
                };
                let args = list.iter().find(|e| e.key == "arguments").map(|e| &e.value);
                let options = list.iter().find(|e| e.key == "options");
                (token.to_string(), func.value.span, args, ret, options)
            }
        };
        // Only the outermost invoke of a variable's value takes the default.
        let variable_invoke = std::mem::take(&mut self.variable_invoke);
        let names_provider = options.is_some_and(|o| find(&o.value, "provider").is_some());
        let provider = match options {
            None => ProviderSettings::default(),
            Some(o) => match self.invoke_options(&token, o) {
                Ok(p) => p,
                Err(()) => return Value::Unknown,
            },
        };
        let provider = match self.default_provider(&token) {
            Some(node) if variable_invoke && !names_provider => {
                match self.invoke_provider(&token, &node) {
                    Ok(p) => p,
                    Err(()) => return Value::Unknown,
                }
            }
            _ => provider,
        };
        let args = match args_node {
            None => Map::new(),
            Some(node) if matches!(node.kind, Kind::Null) => Map::new(),
            Some(node) => match self.eval_with(node, path, spans, refs) {
                Value::Map(m) => m,
                Value::Unknown => return Value::Unknown,
                other => {
                    return self.bad_invoke(
                        node.span,
                        &format!(
                            "the arguments of `{token}` must be a map, not {}",
                            other.type_name()
                        ),
                    )
                }
            },
        };
        let mut args = args;
        // The provider's region and credentials, unless the arguments name them.
        if let Some(r) = provider.region {
            args.entry("region".into()).or_insert(r);
        }
        if let Some(c) = provider.credentials {
            args.entry("credentials".into()).or_insert(c);
        }
        let args_span = args_node.map(|n| n.span).unwrap_or(f.key_span);
        let args = match to_data(&Value::Map(args), 0) {
            Arg::Known(Value::Map(m)) => m,
            Arg::Known(_) | Arg::Failed => return Value::Unknown,
            Arg::Later => {
                self.push(
                    Problem::error(
                        codes::INVOKE_OF_OUTPUT,
                        format!("the arguments of `{token}` name a resource output, known only at apply"),
                    )
                    .at(Some(args_span), "invokes run at preview")
                    .help("pass config, variables or other invokes' results; read the resource with `get:` or pass its id through config"),
                );
                return Value::Unknown;
            }
        };
        let secret = Value::Map(args.clone()).contains_secret();
        let revealed = match Value::Map(args).reveal() {
            Value::Map(m) => m,
            _ => Map::new(),
        };
        let Some(run) = self.program.invoke else {
            self.push(
                Problem::error(
                    codes::INVOKE_UNAVAILABLE,
                    format!("`{token}` cannot be invoked here"),
                )
                .at(Some(token_span), "needs the data source")
                .help("run the stack with `cairn preview` or `cairn up`, which call data sources"),
            );
            return Value::Unknown;
        };
        let result = match run(&token, &revealed) {
            Ok(m) => m,
            Err(InvokeError::Invalid(failures)) => {
                // Each failure at its argument's key (or value), else the arguments.
                let located = failures
                    .into_iter()
                    .map(|f| {
                        let mut full = path.clone();
                        full.0.extend(f.path.0.iter().cloned());
                        let span = spans
                            .get(&cairn_core::validate::key_path(&full))
                            .or_else(|| spans.get(&full))
                            .copied()
                            .unwrap_or(args_span);
                        (f, span)
                    })
                    .collect();
                return self.invoke_invalid(located);
            }
            Err(e) => return self.invoke_error(&token, token_span, args_span, e),
        };
        let mut value = match ret {
            Some((name, span)) => match result.get(&name) {
                Some(v) => v.clone(),
                None => {
                    let names: Vec<&str> = result.keys().map(String::as_str).collect();
                    let help = super::suggest(&name, &names)
                        .unwrap_or_else(|| format!("`{token}` returns {}", super::list(&names)));
                    self.push(
                        Problem::error(
                            codes::INVOKE_ARGUMENT,
                            format!("`{token}` has no result `{name}`"),
                        )
                        .at(Some(span), "not a result property")
                        .help(help),
                    );
                    return Value::Unknown;
                }
            },
            None => Value::Map(result),
        };
        if secret && !value.is_secret() {
            value = Value::secret(value);
        }
        escape_value(value, 0).unwrap_or(Value::Unknown)
    }

    /// An invoke's `options`: the region and credentials of its `provider`
    /// (`None`: the run's). `Err` once a problem is reported.
    fn invoke_options(&mut self, token: &str, options: &Entry) -> Result<ProviderSettings, ()> {
        let list = match &options.value.kind {
            Kind::Map(list) => list,
            Kind::Null => return Ok(ProviderSettings::default()),
            _ => {
                self.wrong_shape("`options` of `fn::invoke`", "a map", &options.value);
                return Err(());
            }
        };
        let mut ok = true;
        let mut settings = ProviderSettings::default();
        for e in list {
            match e.key.as_str() {
                "provider" => match self.invoke_provider(token, &e.value) {
                    Ok(p) => settings = p,
                    Err(()) => ok = false,
                },
                // Accepted and ignored: cairn's providers are built in. (No
                // warning here: a problem while evaluating marks the value broken.)
                "version" => {}
                key => {
                    ok = false;
                    let help = if INVOKE_OPTIONS.contains(&key) {
                        format!("an invoke runs at preview, before any resource exists; of Pulumi's invoke options cairn reads `provider` (and ignores `version`); remove `{key}`")
                    } else {
                        super::suggest(key, INVOKE_OPTIONS).unwrap_or_else(|| {
                            format!("invoke options are {}", super::list(INVOKE_OPTIONS))
                        })
                    };
                    self.push(
                        Problem::error(
                            codes::UNKNOWN_OPTION,
                            format!("option `{key}` of `fn::invoke` is not supported"),
                        )
                        .at(Some(e.key_span), "not an invoke option here")
                        .help(help),
                    );
                }
            }
        }
        if ok {
            Ok(settings)
        } else {
            Err(())
        }
    }

    /// `${name}` of the provider marked `defaultProvider: true` for the
    /// package of `token` (at the flag, for diagnostics), if any.
    pub(super) fn default_provider(&self, token: &str) -> Option<Node> {
        let package = token.split(':').next().unwrap_or_default();
        self.explicit_providers.values().find_map(|e| {
            let flag = find(&e.value, "defaultProvider")?;
            let ptype = find(&e.value, "type")?.value.as_str()?.trim().to_string();
            let is_default = matches!(flag.value.kind, Kind::Bool(true));
            (is_default && ptype.strip_prefix(crate::providers::PROVIDER_PREFIX) == Some(package))
                .then(|| Node {
                    kind: Kind::Str {
                        text: format!("${{{}}}", e.key),
                        at: None,
                    },
                    span: flag.value.span,
                })
        })
    }

    /// `provider: ${name}` of an invoke: `name` must be an explicit provider
    /// of the function's package; its `region` and its `profile` or
    /// `assumeRole` as the `credentials` resources of it get (evaluated
    /// now: config allowed), if it sets them.
    pub(super) fn invoke_provider(
        &mut self,
        token: &str,
        node: &Node,
    ) -> Result<ProviderSettings, ()> {
        let named = node
            .as_str()
            .map(str::trim)
            .and_then(|s| s.strip_prefix("${"))
            .and_then(|s| s.strip_suffix('}'))
            .map(str::trim);
        let package = token.split(':').next().unwrap_or_default().to_string();
        let Some(entry) = named.and_then(|n| self.explicit_providers.get(n)).cloned() else {
            let names: Vec<String> = self.explicit_providers.keys().cloned().collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let help = named
                .and_then(|n| super::suggest(n, &refs))
                .unwrap_or_else(|| {
                    format!("declare a `pulumi:providers:{package}` resource and write `provider: ${{name}}`")
                });
            let what = match named {
                Some(n) if self.is_resource(n) => format!("`{n}` is not a provider"),
                Some(n) => format!("no provider `{n}`"),
                None => "`provider` must be `${name}` of a provider resource".to_string(),
            };
            self.push(
                Problem::error(codes::INVALID_PROVIDER, what)
                    .at(Some(node.span), "the invoke's provider")
                    .help(help),
            );
            return Err(());
        };
        let ptype = find(&entry.value, "type")
            .and_then(|t| t.value.as_str())
            .unwrap_or_default()
            .to_string();
        let ppkg = ptype
            .strip_prefix(crate::providers::PROVIDER_PREFIX)
            .unwrap_or_default();
        if ppkg != package {
            self.push(
                Problem::error(
                    codes::INVALID_PROVIDER,
                    format!(
                        "`{}` is a `{ptype}`, not a provider of `{token}`'s package `{package}`",
                        entry.key
                    ),
                )
                .at(Some(node.span), "the invoke's provider")
                .help(format!("name a `pulumi:providers:{package}` resource")),
            );
            return Err(());
        }
        let credentials = self.invoke_credentials(&entry, &ptype)?;
        let Some(region) = find(&entry.value, "properties").and_then(|p| find(&p.value, "region"))
        else {
            return Ok(ProviderSettings {
                region: None,
                credentials,
            });
        };
        let before = self.problems.len();
        match self.eval(&region.value, &PropertyPath::root(), &mut BTreeMap::new()) {
            Value::String(r) if !has_reference(&r) => Ok(ProviderSettings {
                region: Some(Value::String(r)),
                credentials,
            }),
            _ if self.problems.len() > before => Err(()),
            _ => {
                self.push(
                    Problem::error(
                        codes::INVALID_PROVIDER,
                        format!(
                            "the region of provider `{}` must be known when the stack loads",
                            entry.key
                        ),
                    )
                    .at(Some(region.value.span), "used by an invoke")
                    .help("an invoke runs at preview: write the region, or take it from config"),
                );
                Err(())
            }
        }
    }

    /// The `credentials` argument of an invoke through provider `entry`
    /// (of type `ptype`): its `profile` or `assumeRole`, evaluated now, as
    /// its resources get them (`crate::providers::credentials_of`).
    fn invoke_credentials(&mut self, entry: &Entry, ptype: &str) -> Result<Option<Value>, ()> {
        let Some(props) = find(&entry.value, "properties") else {
            return Ok(None);
        };
        let mut provider = ResourceSpec::new(&entry.key, ptype, Map::new());
        let before = self.problems.len();
        for key in crate::providers::CREDENTIAL_KEYS {
            let Some(e) = find(&props.value, key) else {
                continue;
            };
            let v = self.eval(&e.value, &PropertyPath::root(), &mut BTreeMap::new());
            provider.properties.insert(key.to_string(), v);
            provider.spans.insert(PropertyPath::key(key), e.value.span);
        }
        if self.problems.len() > before {
            return Err(());
        }
        let credentials = crate::providers::credentials_of(&provider, &mut self.problems);
        if self.problems.len() > before {
            return Err(());
        }
        Ok(credentials)
    }

    fn invoke_invalid(
        &mut self,
        failures: Vec<(cairn_core::provider::CheckFailure, Span)>,
    ) -> Value {
        for (fl, span) in failures {
            self.push(
                Problem::error(codes::INVOKE_ARGUMENT, fl.message)
                    .at(Some(span), "argument refused")
                    .help(fl.help.unwrap_or_else(|| INVOKE_FORM.to_string())),
            );
        }
        Value::Unknown
    }

    fn bad_invoke(&mut self, span: Span, message: &str) -> Value {
        self.push(
            Problem::error(codes::INVOKE_ARGUMENT, message.to_string())
                .at(Some(span), "here")
                .help(INVOKE_FORM),
        );
        Value::Unknown
    }

    fn invoke_error(
        &mut self,
        token: &str,
        token_span: Span,
        args_span: Span,
        e: InvokeError,
    ) -> Value {
        let p = match e {
            InvokeError::Unknown { suggestion } => Problem::error(
                codes::INVOKE_UNKNOWN_FUNCTION,
                format!("no data source `{token}`"),
            )
            .at(Some(token_span), "unknown function")
            .help(match suggestion {
                Some(s) => format!("did you mean `{s}`?"),
                None => "see docs/pulumi-yaml.md for the data sources cairn offers".to_string(),
            }),
            InvokeError::Invalid(failures) => {
                for fl in failures.iter().skip(1) {
                    let mut p = Problem::error(codes::INVOKE_ARGUMENT, format!("{} (at `{}`)", fl.message, fl.path))
                        .at(Some(args_span), "arguments refused");
                    if let Some(h) = &fl.help {
                        p = p.help(h.clone());
                    }
                    self.push(p);
                }
                let Some(fl) = failures.into_iter().next() else {
                    return Value::Unknown;
                };
                let mut p = Problem::error(codes::INVOKE_ARGUMENT, format!("{} (at `{}`)", fl.message, fl.path))
                    .at(Some(args_span), "arguments refused");
                p = p.help(fl.help.unwrap_or_else(|| INVOKE_FORM.to_string()));
                p
            }
            InvokeError::Failed(err) => Problem::error(
                codes::INVOKE_FAILED,
                format!("`{token}` failed: {err}"),
            )
            .at(Some(token_span), "this invoke")
            .help("check the arguments and the credentials and region of this run (`-v` shows the calls)"),
        };
        self.push(p);
        Value::Unknown
    }
}
