//! `get:` on a resource: an existing cloud resource read when the stack
//! loads (at preview), never managed: its id, inputs and outputs are
//! readable like a resource's (`${vpc.id}`, `${vpc.cidrBlock}`), and it is
//! not part of the plan (never created, updated or deleted). It is recorded
//! in state as external (`StackSpec::externals`), as Pulumi does.

use super::{entries, escape_value, find, has_reference, list, Loader};
use crate::codes;
use crate::yaml::{Entry, Kind};
use cairn_core::diag::Problem;
use cairn_core::spec::ExternalResource;
use cairn_core::value::{Map, PropertyPath, Value};
use std::collections::BTreeMap;

const GET_KEYS: &[&str] = &["id", "state"];

impl Loader<'_> {
    /// Reads every resource written with `get:` (after config, before
    /// variables: its `id` and `state` may use config values) and makes
    /// it a value. Returns their names, and what was read (to record).
    pub(super) fn load_gets(
        &mut self,
        resources: Option<&Entry>,
    ) -> (Vec<String>, Vec<ExternalResource>) {
        let mut names = Vec::new();
        let mut externals = Vec::new();
        for r in resources.map(|e| entries(&e.value)).unwrap_or_default() {
            let Some(get) = find(&r.value, "get") else {
                continue;
            };
            names.push(r.key.clone());
            self.resources.remove(&r.key);
            let value = self.read_get(r, get).and_then(|found| {
                // Its id, inputs and outputs in one value (outputs win).
                let mut all = found.inputs.clone();
                all.extend(found.outputs.clone());
                all.insert("id".into(), Value::String(found.id.clone()));
                let value = escape_value(Value::Map(all), 0)?;
                externals.push(found);
                Some(value)
            });
            match value {
                Some(v) => {
                    self.variables.insert(r.key.clone(), v);
                }
                None => {
                    self.broken.insert(r.key.clone());
                }
            }
        }
        (names, externals)
    }

    fn read_get(&mut self, r: &Entry, get: &Entry) -> Option<ExternalResource> {
        for e in entries(&r.value) {
            if !["type", "get", "options"].contains(&e.key.as_str()) {
                self.push(
                    Problem::error(
                        codes::UNKNOWN_KEY,
                        format!("resource `{}` is read with `get:`; it cannot have `{}`", r.key, e.key),
                    )
                    .at(Some(e.key_span), "not with `get:`")
                    .help("a `get:` resource is read, not managed: it has `type` and `get: { id, state }`"),
                );
            }
        }
        let token = match find(&r.value, "type").map(|t| (&t.value.kind, t.value.span)) {
            Some((Kind::Str { text, .. }, _)) if !text.trim().is_empty() => {
                cairn_core::provider::canonical_token(text).into_owned()
            }
            Some((_, span)) => {
                self.push(
                    Problem::error(
                        codes::WRONG_SHAPE,
                        "`type` must be a type token such as `aws:ec2:Vpc`",
                    )
                    .at(Some(span), "expected a type token"),
                );
                return None;
            }
            None => {
                self.push(
                    Problem::error(
                        codes::MISSING_KEY,
                        format!("resource `{}` has no `type`", r.key),
                    )
                    .at(Some(r.key_span), "`type` is missing")
                    .help("`get:` reads a resource of a type: add `type: aws:ec2:Vpc`"),
                );
                return None;
            }
        };
        if !matches!(get.value.kind, Kind::Map(_)) {
            self.wrong_shape(
                "`get`",
                "a map with `id` (and optionally `state`)",
                &get.value,
            );
            return None;
        }
        for e in entries(&get.value) {
            if !GET_KEYS.contains(&e.key.as_str()) {
                self.push(
                    Problem::error(
                        codes::UNKNOWN_KEY,
                        format!("unknown key `{}` in `get`", e.key),
                    )
                    .at(Some(e.key_span), "unknown key")
                    .help(format!("`get:` holds {}", list(GET_KEYS))),
                );
            }
        }
        let mut spans = BTreeMap::new();
        let Some(id_entry) = find(&get.value, "id") else {
            self.push(
                Problem::error(
                    codes::MISSING_KEY,
                    format!("`get` of `{}` has no `id`", r.key),
                )
                .at(Some(get.key_span), "`id` is missing")
                .help("write the cloud id of the resource to read: `get: { id: vpc-0123 }`"),
            );
            return None;
        };
        let before = self.problems.len();
        let id = match self.eval(&id_entry.value, &PropertyPath::root(), &mut spans) {
            Value::String(s) if !s.trim().is_empty() && !has_reference(&s) => s.replace("$$", "$"),
            _ if self.problems.len() > before => return None,
            _ => {
                self.push(
                    Problem::error(codes::INVALID_OPTION, "`get.id` must be a cloud id known when the stack loads")
                        .at(Some(id_entry.value.span), "expected an id")
                        .help("write the id, or take it from config; a `get:` is read at preview, before any resource exists"),
                );
                return None;
            }
        };
        let state = match find(&get.value, "state") {
            None => Map::new(),
            Some(s) => match self.eval(&s.value, &PropertyPath::root(), &mut spans) {
                Value::Map(m) => m,
                _ if self.problems.len() > before => return None,
                _ => {
                    self.wrong_shape(
                        "`get.state`",
                        "a map of the resource's properties",
                        &s.value,
                    );
                    return None;
                }
            },
        };
        let mut state = state;
        // `options.provider` (or a `defaultProvider`): read in its region
        // with its credentials, as its resources are managed.
        let options = find(&r.value, "options");
        if let Some(o) = options.filter(|o| !matches!(o.value.kind, Kind::Map(_) | Kind::Null)) {
            self.wrong_shape("`options`", "a map", &o.value);
            return None;
        }
        let mut provider = None;
        for e in options.map(|o| entries(&o.value)).unwrap_or_default() {
            match e.key.as_str() {
                "provider" => provider = Some(e.value.clone()),
                // Accepted and ignored, as for invokes: providers are built in.
                "version" => {}
                other => {
                    self.push(
                        Problem::error(
                            codes::UNKNOWN_OPTION,
                            format!("option `{other}` of `get:` resource `{}` is not supported", r.key),
                        )
                        .at(Some(e.key_span), "not read for a `get:`")
                        .help("a `get:` resource is read, not managed: of the resource options cairn reads `provider` (and ignores `version`)"),
                    );
                    return None;
                }
            }
        }
        if let Some(node) = provider.or_else(|| self.default_provider(&token)) {
            let settings = self.invoke_provider(&token, &node).ok()?;
            if let Some(region) = settings.region {
                state.entry("region".into()).or_insert(region);
            }
            if let Some(credentials) = settings.credentials {
                state.entry("credentials".into()).or_insert(credentials);
            }
        }
        let Some(read) = self.program.read else {
            self.push(
                Problem::error(codes::GET_FAILED, format!("`{token}` cannot be read here"))
                    .at(Some(get.key_span), "needs the provider")
                    .help(
                        "`get:` reads the cloud when a run loads the stack (`cairn preview`/`up`)",
                    ),
            );
            return None;
        };
        match read(&token, &id, &state) {
            Ok(found) => Some(ExternalResource {
                name: r.key.clone(),
                type_token: token,
                id: found.id,
                inputs: found.inputs,
                outputs: found.outputs,
            }),
            Err(why) => {
                self.push(
                    Problem::error(codes::GET_FAILED, format!("cannot read `{token}` `{id}`: {why}"))
                        .at(Some(id_entry.value.span), "this resource")
                        .help("check the id, and the credentials and region of this run (`-v` shows the calls)"),
                );
                None
            }
        }
    }
}
