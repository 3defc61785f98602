//! Source-agnostic validation of a [`StackSpec`] against a [`Registry`].
//!
//! Works for specs loaded from YAML (problems carry exact spans) and for
//! specs built with the Rust DSL (no spans). Every problem is collected;
//! nothing stops at the first error.
//!
//! # Special span paths
//!
//! Besides property paths, a loader records spans under paths whose first
//! segment starts with `$` (no schema property does):
//!
//! * [`PropertyPath::root()`]: the resource's name (its key in `resources:`);
//! * [`type_path()`] (`$type`): the value of `type:`;
//! * [`option_path`] (`$options.<name>`, e.g. `$options.dependsOn[0]`): option values;
//! * [`key_path`] (`$key.<property path>`): the *key* of a property, where
//!   the plain property path holds the span of its *value*.

use crate::diag::{Problem, Problems};
use crate::interp::{self, Part};
use crate::provider::Registry;
use crate::schema::{PropType, PropertySchema, ResourceSchema};
use crate::spec::{ResourceSpec, SourceFile, Span, StackSpec};
use crate::value::{Map, PathSegment, PropertyPath, Value};
use std::collections::BTreeMap;

/// Stable diagnostic codes produced by [`validate`].
pub mod codes {
    pub const UNKNOWN_TYPE: &str = "cairn::config::unknown-type";
    pub const MISSING_TYPE: &str = "cairn::config::missing-type";
    pub const UNKNOWN_PROPERTY: &str = "cairn::config::unknown-property";
    pub const MISSING_PROPERTY: &str = "cairn::config::missing-property";
    pub const WRONG_TYPE: &str = "cairn::config::wrong-type";
    pub const OUT_OF_RANGE: &str = "cairn::config::out-of-range";
    pub const INVALID_ENUM: &str = "cairn::config::invalid-enum";
    pub const UNKNOWN_REFERENCE: &str = "cairn::config::unknown-reference";
    pub const UNKNOWN_OUTPUT: &str = "cairn::config::unknown-output";
    pub const BAD_INTERPOLATION: &str = "cairn::config::bad-interpolation";
    pub const UNKNOWN_DEPENDENCY: &str = "cairn::config::unknown-dependency";
    pub const UNKNOWN_IGNORE_CHANGES: &str = "cairn::config::unknown-ignore-changes";
    pub const DUPLICATE_RESOURCE: &str = "cairn::config::duplicate-resource";
    pub const INVALID_NAME: &str = "cairn::config::invalid-name";
    pub const INVALID_WAIVER: &str = "cairn::config::invalid-waiver";
}

/// First segment of the span path of a resource's `type:` value.
pub const TYPE_KEY: &str = "$type";
/// First segment of the span paths of option values.
pub const OPTIONS_KEY: &str = "$options";
/// First segment of the span paths of property keys.
pub const KEY_KEY: &str = "$key";

/// Where the `type:` value of a resource is recorded in [`ResourceSpec::spans`].
pub fn type_path() -> PropertyPath {
    PropertyPath::key(TYPE_KEY)
}

/// Where the value of option `name` is recorded, e.g. `$options.dependsOn`.
pub fn option_path(name: &str) -> PropertyPath {
    PropertyPath::key(OPTIONS_KEY).child(name)
}

/// Where the key of the property at `path` is recorded.
pub fn key_path(path: &PropertyPath) -> PropertyPath {
    let mut segments = Vec::with_capacity(path.0.len() + 1);
    segments.push(PathSegment::Key(KEY_KEY.to_string()));
    segments.extend(path.0.iter().cloned());
    PropertyPath(segments)
}

/// True for names usable as `${name}` reference roots: letters, digits, `_`, `-`.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The closest candidate to `name`, if any is close enough to suggest.
pub fn did_you_mean<'a, I>(name: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let lower = name.to_lowercase();
    let len = lower.chars().count();
    let mut best: Option<(f64, &'a str)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let c_lower = c.to_lowercase();
        let c_len = c_lower.chars().count();
        let score = if c_lower == lower {
            3.0
        } else {
            let limit = (len.max(c_len) / 3).max(1);
            let d = if len.abs_diff(c_len) > limit {
                usize::MAX
            } else {
                strsim::osa_distance(&lower, &c_lower)
            };
            if d <= limit {
                1.0 + 1.0 / (d as f64 + 1.0)
            } else if len.abs_diff(c_len) <= len.max(c_len) / 2 {
                let jw = strsim::jaro_winkler(&lower, &c_lower);
                if jw < 0.9 {
                    continue;
                }
                jw
            } else {
                continue;
            }
        };
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

/// How many candidate comparisons suggestions may cost in one validation,
/// so that hostile stacks with thousands of bad names stay fast.
pub const SUGGESTION_BUDGET: usize = 200_000;

/// "did you mean `x`?" or a list of what is allowed (when short).
/// Costs `candidates.len()` of `budget`; none once it is spent.
fn suggestion(name: &str, candidates: &[&str], what: &str, budget: &mut usize) -> Option<String> {
    if candidates.is_empty() || *budget < candidates.len() {
        return None;
    }
    *budget -= candidates.len();
    if let Some(s) = did_you_mean(name, candidates.iter().copied()) {
        return Some(format!("did you mean `{s}`?"));
    }
    if candidates.len() <= 12 {
        let list: Vec<String> = candidates.iter().map(|c| format!("`{c}`")).collect();
        Some(format!("{what}: {}", list.join(", ")))
    } else {
        None
    }
}

/// Narrows `span` (a string value's span in `source`) to the first place
/// where `needle` (e.g. the `${...}` text of a reference) is written in it.
/// Falls back to `span` when the text is not there verbatim (for example
/// when it came from a variable).
pub fn locate_in_span(source: Option<&SourceFile>, span: Span, needle: &str) -> Span {
    let Some(src) = source else {
        return span;
    };
    let end = span.offset.saturating_add(span.len);
    let Some(text) = src.text.get(span.offset..end) else {
        return span;
    };
    match text.find(needle) {
        Some(i) if !needle.is_empty() => Span::new(span.offset + i, needle.len()),
        _ => span,
    }
}

/// Validates a whole stack: every problem at once.
pub fn validate(spec: &StackSpec, registry: &Registry) -> Problems {
    validate_with_output_spans(spec, registry, &BTreeMap::new())
}

/// [`validate`], with the spans of stack outputs (a loader knows them;
/// [`StackSpec`] has nowhere to keep them). Paths are rooted at the output
/// name; [`key_path`] paths give output keys.
pub fn validate_with_output_spans(
    spec: &StackSpec,
    registry: &Registry,
    output_spans: &BTreeMap<PropertyPath, Span>,
) -> Problems {
    let mut v = Validator {
        spec,
        registry,
        problems: Vec::new(),
        names: spec.resources.iter().map(|r| r.name.as_str()).collect(),
        by_name: BTreeMap::new(),
        budget: SUGGESTION_BUDGET,
    };
    for r in &spec.resources {
        v.by_name.entry(r.name.as_str()).or_insert(r);
    }
    v.duplicates();
    for r in &spec.resources {
        v.resource(r);
    }
    v.outputs(output_spans);
    v.waivers();
    let source = spec.source.as_ref();
    Problems {
        file: source.map(|s| s.name.clone()),
        problems: v
            .problems
            .into_iter()
            .map(|p| p.in_source(source))
            .collect(),
    }
}

struct Validator<'a> {
    spec: &'a StackSpec,
    registry: &'a Registry,
    problems: Vec<Problem>,
    names: Vec<&'a str>,
    by_name: BTreeMap<&'a str, &'a ResourceSpec>,
    budget: usize,
}

impl crate::provider::StackView for Validator<'_> {
    fn resource(&self, name: &str) -> Option<crate::provider::StackResource> {
        self.resource_named(name).map(|r| self.stack_resource(r))
    }
    fn of_type(&self, token: &str) -> Vec<crate::provider::StackResource> {
        self.spec
            .resources
            .iter()
            .filter(|r| r.type_token == token)
            .map(|r| self.stack_resource(r))
            .collect()
    }
}

/// Where (in which resource, or in the stack outputs) a value lives.
enum Place<'a> {
    Resource(&'a ResourceSpec),
    Outputs(&'a BTreeMap<PropertyPath, Span>),
}

impl Place<'_> {
    fn span(&self, path: &PropertyPath) -> Option<Span> {
        match self {
            Place::Resource(r) => r.span_of(path),
            Place::Outputs(spans) => {
                let mut p = path.clone();
                loop {
                    if let Some(s) = spans.get(&p) {
                        return Some(*s);
                    }
                    p.0.pop()?;
                }
            }
        }
    }
    fn key_span(&self, path: &PropertyPath) -> Option<Span> {
        let exact = match self {
            Place::Resource(r) => r.spans.get(&key_path(path)).copied(),
            Place::Outputs(spans) => spans.get(&key_path(path)).copied(),
        };
        exact.or_else(|| self.span(path))
    }
    fn describe(&self, path: &PropertyPath) -> String {
        match self {
            Place::Resource(r) if path.0.is_empty() => format!("resource `{}`", r.name),
            Place::Resource(r) => format!("`{}.{path}`", r.name),
            Place::Outputs(_) => format!("stack output `{path}`"),
        }
    }
}

/// A string that holds `${...}` references, or the literal text it stands for.
enum Template {
    /// No references: the literal text (with `$$` unescaped).
    Literal(String),
    /// At least one reference: the value is known only at apply.
    WholeRef,
    PartialRefs,
    /// Malformed `${` (reported by the reference pass).
    Malformed,
}

fn template(s: &str) -> Template {
    if !s.contains('$') {
        return Template::Literal(s.to_string());
    }
    match interp::parse(s) {
        Err(_) => Template::Malformed,
        Ok(parts) => {
            let refs = parts
                .iter()
                .filter(|p| matches!(p, Part::Ref { .. }))
                .count();
            if refs == 0 {
                Template::Literal(
                    parts
                        .into_iter()
                        .map(|p| match p {
                            Part::Literal(l) => l,
                            Part::Ref { .. } => String::new(),
                        })
                        .collect(),
                )
            } else if refs == 1 && parts.len() == 1 {
                Template::WholeRef
            } else {
                Template::PartialRefs
            }
        }
    }
}

fn unwrap_secret(v: &Value) -> (&Value, bool) {
    let mut v = v;
    let mut secret = false;
    while let Value::Secret(inner) = v {
        v = inner;
        secret = true;
    }
    (v, secret)
}

fn found(v: &Value) -> String {
    match v {
        Value::Int(_) => "an integer".into(),
        Value::Float(_) => "a number".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::String(_) => "a string".into(),
        Value::List(_) => "a list".into(),
        // Pulumi's asset/archive signature (`fn::stringAsset`, `fn::fileArchive`...).
        Value::Map(m) if m.contains_key("4dabf18193072939515e22adb298388d") => {
            "an asset or archive (no cairn type takes one yet)".into()
        }
        Value::Map(_) => "a map".into(),
        Value::Null => "null".into(),
        other => other.type_name().into(),
    }
}

impl<'a> Validator<'a> {
    fn resource_named(&self, name: &str) -> Option<&'a ResourceSpec> {
        self.by_name.get(name).copied()
    }

    fn stack_resource(&self, r: &ResourceSpec) -> crate::provider::StackResource {
        crate::provider::StackResource {
            name: r.name.clone(),
            type_token: r.type_token.clone(),
            inputs: match self.registry.schema(&r.type_token) {
                Some(schema) => schema.normalize_inputs(&r.properties),
                None => r.properties.clone(),
            },
        }
    }

    fn push(&mut self, p: Problem) {
        self.problems.push(p);
    }

    fn duplicates(&mut self) {
        let mut seen: BTreeMap<&str, &ResourceSpec> = BTreeMap::new();
        for r in &self.spec.resources {
            // As in Pulumi YAML, a name may hold dots: `${["my.bucket"].arn}`.
            if r.name.split('.').any(|part| !is_valid_name(part)) {
                self.push(
                    Problem::error(
                        codes::INVALID_NAME,
                        format!("`{}` is not a valid resource name", r.name),
                    )
                    .at(r.span_of(&PropertyPath::root()), "invalid name")
                    .help(
                        "resource names may use letters, digits, `_`, `-` and `.` so that `${name.output}` (or `${[\"a.b\"].output}`) can refer to them",
                    ),
                );
            }
            match seen.get(r.name.as_str()) {
                Some(first) => {
                    let mut p = Problem::error(
                        codes::DUPLICATE_RESOURCE,
                        format!("resource `{}` is declared more than once", r.name),
                    )
                    .at(r.span_of(&PropertyPath::root()), "declared again here")
                    .help("give each resource a unique name");
                    if let Some(s) = first.span_of(&PropertyPath::root()) {
                        p = p.also_at(s, "first declared here");
                    }
                    self.push(p);
                }
                None => {
                    seen.insert(&r.name, r);
                }
            }
        }
    }

    fn resource(&mut self, r: &'a ResourceSpec) {
        let place = Place::Resource(r);
        let before = self.problems.len();
        let schema = self.registry.schema(&r.type_token);
        match schema {
            None if r.type_token.is_empty() => {
                self.push(
                    Problem::error(
                        codes::MISSING_TYPE,
                        format!("resource `{}` has no type", r.name),
                    )
                    .at(r.span_of(&PropertyPath::root()), "no type")
                    .help("give the resource a type token, e.g. `aws:kms:Key`"),
                );
            }
            None => {
                let tokens: Vec<&str> = self.registry.tokens().collect();
                let mut p = Problem::error(
                    codes::UNKNOWN_TYPE,
                    format!("resource `{}` has unknown type `{}`", r.name, r.type_token),
                )
                .at(r.span_of(&type_path()), "unknown resource type");
                if let Some(h) = suggestion(&r.type_token, &tokens, "known types", &mut self.budget)
                {
                    p = p.help(h);
                }
                self.push(p);
            }
            Some(schema) => self.properties(&place, schema, &r.properties),
        }
        // References in properties (checked whatever the type).
        self.references(&place, &r.properties, &r.name);
        self.options(r, schema);
        // Provider checks only make sense on inputs that passed the schema.
        let clean = self.problems.iter().skip(before).all(|p| p.warning);
        if let (true, Some(provider), Some(schema)) =
            (clean, self.registry.get(&r.type_token), schema)
        {
            let inputs = schema.normalize_inputs(&r.properties);
            let mut failures = provider.check(&inputs);
            failures.extend(provider.check_in_stack(&r.name, &inputs, self));
            for f in failures {
                let label = if f.warning {
                    "policy warning"
                } else {
                    "rejected here"
                };
                let base = if f.warning {
                    Problem::warning(&f.rule, format!("{}: {}", r.name, f.message))
                } else {
                    Problem::error(&f.rule, format!("{}: {}", r.name, f.message))
                };
                let mut p = base.at(r.span_of(&f.path), label);
                if let Some(h) = f.help {
                    p = p.help(h);
                }
                self.push(p);
            }
        }
    }

    fn properties(&mut self, place: &Place<'_>, schema: &ResourceSchema, props: &Map) {
        self.object(
            place,
            &PropertyPath::root(),
            &schema.properties,
            props,
            false,
            &format!("type `{}`", schema.token),
        );
    }

    /// Checks the fields of an object (or of a resource's properties).
    fn object(
        &mut self,
        place: &Place<'_>,
        path: &PropertyPath,
        fields: &[PropertySchema],
        value: &Map,
        secret: bool,
        owner: &str,
    ) {
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        for (k, v) in value {
            let child = path.child(k.clone());
            match fields.iter().find(|f| &f.name == k) {
                Some(field) => {
                    if !matches!(v, Value::Null) {
                        self.check(place, &child, &field.ty, v, secret || field.secret);
                    }
                }
                None => {
                    let mut p = Problem::error(
                        codes::UNKNOWN_PROPERTY,
                        format!("{} has no property `{k}`", place_owner(place, path, owner)),
                    )
                    .at(place.key_span(&child), "unknown property");
                    if let Some(h) = suggestion(k, &names, "known properties", &mut self.budget) {
                        p = p.help(h);
                    }
                    self.push(p);
                }
            }
        }
        for f in fields.iter().filter(|f| f.required) {
            let present = value
                .get(&f.name)
                .is_some_and(|v| !matches!(v, Value::Null));
            if !present {
                let mut p = Problem::error(
                    codes::MISSING_PROPERTY,
                    format!(
                        "{} is missing required property `{}`",
                        place.describe(path),
                        f.name
                    ),
                )
                .at(
                    place.span(&path.child(f.name.clone())),
                    format!("`{}` is required here", f.name),
                );
                let mut help = format!("add `{}: <{}>`", f.name, f.ty.describe());
                if !f.doc.is_empty() {
                    help.push_str(&format!(" ({})", f.doc));
                }
                p = p.help(help);
                self.push(p);
            }
        }
    }

    fn wrong_type(
        &mut self,
        place: &Place<'_>,
        path: &PropertyPath,
        ty: &PropType,
        v: &Value,
        secret: bool,
    ) {
        let what = if secret {
            format!("a secret ({})", found(v))
        } else {
            found(v)
        };
        let mut p = Problem::error(
            codes::WRONG_TYPE,
            format!(
                "{} must be {}, but is {what}",
                place.describe(path),
                article(ty)
            ),
        )
        .at(place.span(path), format!("expected {}", ty.describe()));
        if let Value::String(s) = v {
            let quoted_ok = match ty {
                PropType::Int { .. } => s.trim().parse::<i64>().is_ok(),
                PropType::Bool => matches!(s.trim(), "true" | "false"),
                _ => false,
            };
            if quoted_ok {
                p = p.help("remove the quotes: the value is written as a string");
            } else if matches!(ty, PropType::Bool)
                && matches!(
                    s.to_lowercase().as_str(),
                    "yes" | "no" | "on" | "off" | "y" | "n"
                )
                && !secret
            {
                p = p.help("write `true` or `false` (YAML 1.2 reads yes/no/on/off as strings)");
            } else if matches!(template(s), Template::PartialRefs) {
                p = p.help("a string with references inside text is a string; use a whole-string `${resource.output}` to pass a value of another type");
            }
        }
        self.push(p);
    }

    /// Checks one value against its type. Recursion follows the schema's
    /// (finite, program-defined) type nesting, never the value's depth alone.
    fn check(
        &mut self,
        place: &Place<'_>,
        path: &PropertyPath,
        ty: &PropType,
        v: &Value,
        secret: bool,
    ) {
        let (v, wrapped) = unwrap_secret(v);
        let secret = secret || wrapped;
        if matches!(v, Value::Unknown) || matches!(ty, PropType::Any) {
            return;
        }
        // A string that is (or holds) references is known only at apply.
        let literal = match v {
            Value::String(s) => match template(s) {
                Template::WholeRef | Template::Malformed => return,
                Template::PartialRefs => {
                    if matches!(ty, PropType::String { .. } | PropType::Enum { .. }) {
                        return;
                    }
                    None
                }
                Template::Literal(l) => Some(l),
            },
            _ => None,
        };
        match (ty, v) {
            (PropType::Any, _) => {}
            (PropType::Bool, Value::Bool(_)) => {}
            (PropType::Int { min, max }, Value::Int(i)) => {
                let low = min.is_some_and(|m| *i < m);
                let high = max.is_some_and(|m| *i > m);
                if low || high {
                    let range = match (min, max) {
                        (Some(a), Some(b)) => format!("between {a} and {b}"),
                        (Some(a), None) => format!("at least {a}"),
                        (None, Some(b)) => format!("at most {b}"),
                        (None, None) => String::new(),
                    };
                    let shown = if secret {
                        String::new()
                    } else {
                        format!(" (found {i})")
                    };
                    self.push(
                        Problem::error(
                            codes::OUT_OF_RANGE,
                            format!("{} must be {range}{shown}", place.describe(path)),
                        )
                        .at(place.span(path), format!("must be {range}"))
                        .help(format!("use a value {range}")),
                    );
                }
            }
            (PropType::String { min_len, max_len }, Value::String(_)) => {
                let n = literal.as_deref().map(|l| l.chars().count()).unwrap_or(0);
                let short = min_len.is_some_and(|m| n < m);
                let long = max_len.is_some_and(|m| n > m);
                if short || long {
                    let range = match (min_len, max_len) {
                        (Some(a), Some(b)) => format!("between {a} and {b} characters long"),
                        (Some(a), None) => format!("at least {a} characters long"),
                        (None, Some(b)) => format!("at most {b} characters long"),
                        (None, None) => String::new(),
                    };
                    let shown = if secret {
                        String::new()
                    } else {
                        format!(" (found {n})")
                    };
                    self.push(
                        Problem::error(
                            codes::OUT_OF_RANGE,
                            format!("{} must be {range}{shown}", place.describe(path)),
                        )
                        .at(place.span(path), format!("must be {range}"))
                        .help(format!("use a value {range}")),
                    );
                }
            }
            (PropType::Enum { values }, Value::String(_)) => {
                let l = literal.unwrap_or_default();
                if !values.contains(&l) {
                    let allowed: Vec<&str> = values.iter().map(String::as_str).collect();
                    let msg = if secret {
                        format!("{} is not an allowed value", place.describe(path))
                    } else {
                        format!("{} cannot be `{l}`", place.describe(path))
                    };
                    let mut p = Problem::error(codes::INVALID_ENUM, msg)
                        .at(place.span(path), format!("expected {}", ty.describe()));
                    let hint = if secret {
                        None
                    } else {
                        did_you_mean(&l, allowed.iter().copied())
                    };
                    p = match hint {
                        Some(h) => p.help(format!(
                            "did you mean `{h}`? allowed: {}",
                            allowed.join(", ")
                        )),
                        None => p.help(format!("allowed: {}", allowed.join(", "))),
                    };
                    self.push(p);
                }
            }
            (PropType::List { items }, Value::List(l)) => {
                for (i, item) in l.iter().enumerate() {
                    if matches!(item, Value::Null) {
                        self.wrong_type(place, &path.index(i), items, item, secret);
                    } else {
                        self.check(place, &path.index(i), items, item, secret);
                    }
                }
            }
            (PropType::Map { values }, Value::Map(m)) => {
                for (k, item) in m {
                    if matches!(item, Value::Null) {
                        self.wrong_type(place, &path.child(k.clone()), values, item, secret);
                    } else {
                        self.check(place, &path.child(k.clone()), values, item, secret);
                    }
                }
            }
            (PropType::Object { properties }, Value::Map(m)) => {
                self.object(place, path, properties, m, secret, "");
            }
            _ => self.wrong_type(place, path, ty, v, secret),
        }
    }

    /// Every `${...}` in `props`: the root must be a resource and the first
    /// segment one of its type's declared outputs.
    fn references(&mut self, place: &Place<'_>, props: &Map, own: &str) {
        // Iterative walk: DSL values may nest arbitrarily deep.
        let mut stack: Vec<(PropertyPath, &Value)> = props
            .iter()
            .rev()
            .map(|(k, v)| (PropertyPath::key(k.clone()), v))
            .collect();
        while let Some((path, v)) = stack.pop() {
            match v {
                Value::Secret(inner) => stack.push((path, inner)),
                Value::List(l) => {
                    for (i, item) in l.iter().enumerate().rev() {
                        stack.push((path.index(i), item));
                    }
                }
                Value::Map(m) => {
                    for (k, item) in m.iter().rev() {
                        stack.push((path.child(k.clone()), item));
                    }
                }
                Value::String(s) if s.contains("${") => self.string_refs(place, &path, s, own),
                _ => {}
            }
        }
    }

    fn string_refs(&mut self, place: &Place<'_>, path: &PropertyPath, s: &str, own: &str) {
        let span = place.span(path);
        let source = self.spec.source.as_ref();
        let parts = match interp::parse(s) {
            Ok(parts) => parts,
            Err(e) => {
                self.push(
                    Problem::error(
                        codes::BAD_INTERPOLATION,
                        format!("{}: {}", place.describe(path), e.message),
                    )
                    .at(span, "malformed reference")
                    .help(
                        "write references as `${resource.output}`; write a literal `${` as `$${`",
                    ),
                );
                return;
            }
        };
        for part in parts {
            let Part::Ref {
                root,
                path: rpath,
                offset,
                len,
                ..
            } = part
            else {
                continue;
            };
            let text = s.get(offset..offset + len).unwrap_or_default();
            let at = span.map(|sp| locate_in_span(source, sp, text));
            let Some(target) = self.resource_named(&root) else {
                let mut p = Problem::error(
                    codes::UNKNOWN_REFERENCE,
                    format!(
                        "{} refers to `{root}`, which is not a resource in this stack",
                        place.describe(path)
                    ),
                )
                .at(at, "unknown resource");
                if let Some(h) = suggestion(&root, &self.names, "resources", &mut self.budget) {
                    p = p.help(h);
                }
                self.push(p);
                continue;
            };
            if root == own {
                // A self-reference is a cycle; the planner's graph reports it.
                continue;
            }
            let Some(schema) = self.registry.schema(&target.type_token) else {
                continue; // unknown type: reported on the target itself
            };
            let outputs: Vec<&str> = schema.outputs.iter().map(|o| o.name.as_str()).collect();
            // `${res}` is its id; `id`, `urn` and inputs read like outputs.
            match rpath.0.first() {
                None => {}
                Some(PathSegment::Key(k))
                    if k == "id" || k == "urn" || schema.prop(k).is_some() => {}
                Some(PathSegment::Key(out)) if schema.out(out).is_some() => {}
                Some(seg) => {
                    let name = match seg {
                        PathSegment::Key(k) => k.clone(),
                        PathSegment::Index(i) => format!("[{i}]"),
                    };
                    let mut p = Problem::error(
                        codes::UNKNOWN_OUTPUT,
                        format!(
                            "{} refers to `{root}.{name}`, but type `{}` has no output `{name}`",
                            place.describe(path),
                            schema.token
                        ),
                    )
                    .at(at, "unknown output");
                    if let Some(h) = suggestion(&name, &outputs, "outputs", &mut self.budget) {
                        p = p.help(h);
                    }
                    self.push(p);
                }
            }
        }
    }

    fn options(&mut self, r: &ResourceSpec, schema: Option<&ResourceSchema>) {
        for (i, dep) in r.options.depends_on.iter().enumerate() {
            if self.resource_named(dep).is_none() {
                let mut p = Problem::error(
                    codes::UNKNOWN_DEPENDENCY,
                    format!(
                        "resource `{}` depends on `{dep}`, which is not a resource in this stack",
                        r.name
                    ),
                )
                .at(
                    r.span_of(&option_path("dependsOn").index(i)),
                    "unknown resource",
                );
                if let Some(h) = suggestion(dep, &self.names, "resources", &mut self.budget) {
                    p = p.help(h);
                }
                self.push(p);
            }
        }
        if let Some(schema) = schema {
            let names: Vec<&str> = schema.properties.iter().map(|p| p.name.as_str()).collect();
            for (i, ignored) in r.options.ignore_changes.iter().enumerate() {
                let top = crate::plan::option_property_path(ignored)
                    .and_then(|p| p.top().map(str::to_string))
                    .unwrap_or_else(|| ignored.clone());
                if schema.prop(&top).is_none() {
                    let mut p = Problem::error(
                        codes::UNKNOWN_IGNORE_CHANGES,
                        format!(
                            "resource `{}` ignores changes to `{ignored}`, but type `{}` has no such property",
                            r.name, schema.token
                        ),
                    )
                    .at(
                        r.span_of(&option_path("ignoreChanges").index(i)),
                        "unknown property",
                    );
                    if let Some(h) =
                        suggestion(ignored, &names, "known properties", &mut self.budget)
                    {
                        p = p.help(h);
                    }
                    self.push(p);
                }
            }
        }
    }

    fn outputs(&mut self, spans: &BTreeMap<PropertyPath, Span>) {
        let place = Place::Outputs(spans);
        self.references(&place, &self.spec.outputs, "");
    }

    fn waivers(&mut self) {
        for w in &self.spec.waivers {
            if w.rule.trim().is_empty() || w.reason.trim().is_empty() {
                self.push(
                    Problem::error(
                        codes::INVALID_WAIVER,
                        "a policy waiver needs both a `rule` and a `reason`",
                    )
                    .at(w.span, "incomplete waiver")
                    .help("say which rule is waived and why, e.g. `reason: dev has no replicas`"),
                );
            }
            if let Some(res) = &w.resource {
                if self.resource_named(res).is_none() {
                    let mut p = Problem::error(
                        codes::UNKNOWN_REFERENCE,
                        format!(
                            "waiver of `{}` names resource `{res}`, which is not in this stack",
                            w.rule
                        ),
                    )
                    .at(w.span, "unknown resource");
                    if let Some(h) = suggestion(res, &self.names, "resources", &mut self.budget) {
                        p = p.help(h);
                    }
                    self.push(p);
                }
            }
        }
    }
}

fn place_owner(place: &Place<'_>, path: &PropertyPath, owner: &str) -> String {
    if path.0.is_empty() {
        match place {
            Place::Resource(r) => format!("resource `{}` ({owner})", r.name),
            Place::Outputs(_) => "the stack outputs".into(),
        }
    } else {
        place.describe(path)
    }
}

fn article(ty: &PropType) -> String {
    match ty {
        PropType::Int { .. } => "an integer".into(),
        PropType::Enum { .. } => ty.describe(),
        PropType::Any => "any value".into(),
        PropType::Object { .. } => "an object".into(),
        other => format!("a {}", other.describe()),
    }
}
