//! Data sources in the DSL: `b.invoke("aws:ec2:getVpc", args)?`, the same
//! call and the same values as YAML's `fn::invoke`: arguments must be
//! known when the stack is built (no resource outputs), secret arguments
//! make the results secret, and the results are literal data (a `$` in
//! them is escaped, so nothing in a result is read as a reference).

use super::program::ProgramError;
use super::providers::{use_provider, PROVIDER_PREFIX};
use super::{Handle, ProviderType, StackBuilder};
use crate::provider::InvokeError;
use crate::spec::ResourceSpec;
use crate::value::{Map, Value};

/// Runs a data source: its token and revealed arguments, to its results.
pub type Invoker = Box<dyn Fn(&str, &Map) -> Result<Map, InvokeError>>;

/// The results of one invoke.
#[derive(Clone, Debug, PartialEq)]
pub struct Invoked {
    results: Map,
}

impl Invoked {
    /// All results, as YAML's `fn::invoke` without `return` gives them.
    pub fn results(&self) -> &Map {
        &self.results
    }
    /// One result (`return: name`).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.results.get(name)
    }
    /// One string result, ready to be an input.
    pub fn string(&self, name: &str) -> Option<String> {
        match self.results.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Secret(inner) => match &**inner {
                Value::String(s) => Some(s.clone()),
                _ => None,
            },
            _ => None,
        }
    }
}

/// The text of a result as stack data: `$` doubled, as YAML escapes it.
fn escape(v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace('$', "$$")),
        Value::List(l) => Value::List(l.into_iter().map(escape).collect()),
        Value::Map(m) => Value::Map(m.into_iter().map(|(k, x)| (k, escape(x))).collect()),
        Value::Secret(inner) => Value::secret(escape(*inner)),
        other => other,
    }
}

fn names_an_output(v: &Value) -> bool {
    match v {
        Value::String(s) => !crate::interp::references(s).is_empty(),
        Value::List(l) => l.iter().any(names_an_output),
        Value::Map(m) => m.values().any(names_an_output),
        Value::Secret(inner) => names_an_output(inner),
        _ => false,
    }
}

impl StackBuilder {
    /// Calls data source `token` (e.g. `aws:ec2:getVpc`) with `args`
    /// (`[("default", true)]`, or a [`Map`]), as YAML's `fn::invoke`.
    pub fn invoke<K: Into<String>, V: Into<Value>>(
        &mut self,
        token: &str,
        args: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Invoked, ProgramError> {
        let fail = |message: String| ProgramError::Invoke {
            token: token.to_string(),
            message,
        };
        let args: Map = args
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(_, v)| !matches!(v, Value::Null))
            .collect();
        let args = Value::Map(args);
        if names_an_output(&args) {
            return Err(fail(
                "its arguments name a resource output, known only at apply".to_string(),
            ));
        }
        let Some(invoker) = &self.invoker else {
            return Err(fail(
                "no data sources here: run the program with `cairn preview` or `cairn up`"
                    .to_string(),
            ));
        };
        let secret = args.contains_secret();
        let revealed = match args.reveal() {
            Value::Map(m) => m,
            _ => Map::new(),
        };
        let results = invoker(token, &revealed).map_err(|e| fail(describe(e)))?;
        let results = results
            .into_iter()
            .map(|(k, v)| {
                let v = escape(v);
                let v = if secret && !v.is_secret() {
                    Value::secret(v)
                } else {
                    v
                };
                (k, v)
            })
            .collect();
        Ok(Invoked { results })
    }
}

impl StackBuilder {
    /// [`invoke`](Self::invoke) through an explicit provider, as YAML's
    /// `fn::invoke` with `options.provider`: the provider's `region`, and
    /// its `profile` or `assumeRole` as `credentials`, are passed unless
    /// `args` names them (every AWS data source reads with them).
    pub fn invoke_with<P: ProviderType, K: Into<String>, V: Into<Value>>(
        &mut self,
        token: &str,
        args: impl IntoIterator<Item = (K, V)>,
        provider: &Handle<P>,
    ) -> Result<Invoked, ProgramError> {
        let fail = |message: String| ProgramError::Invoke {
            token: token.to_string(),
            message,
        };
        let name = provider.logical_name();
        let Some(p) = self.spec.resources.iter().find(|r| r.name == name) else {
            return Err(fail(format!(
                "provider `{name}` is not declared before this invoke"
            )));
        };
        let package = token.split(':').next().unwrap_or_default();
        let own = p
            .type_token
            .strip_prefix(PROVIDER_PREFIX)
            .unwrap_or_default();
        if own != package {
            return Err(fail(format!(
                "`{name}` is a provider for package `{own}`, not `{package}`"
            )));
        }
        // What the provider gives a resource of its package, as arguments.
        let mut probe = ResourceSpec::new("invoke", token, Map::new());
        let used = use_provider(&mut probe, p, |k| matches!(k, "region" | "credentials"));
        if used.region_unknown || used.credentials_unknown {
            return Err(fail(format!(
                "the settings of provider `{name}` must be known when the stack is built, not outputs"
            )));
        }
        let mut args: Map = args
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        for (k, v) in probe.properties {
            args.entry(k).or_insert(v);
        }
        self.invoke(token, args)
    }
}

fn describe(e: InvokeError) -> String {
    e.to_string()
}
