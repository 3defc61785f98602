//! The desired state of a stack, as loaded from YAML or built with the Rust DSL.

use crate::value::{Map, PropertyPath, Value};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A byte range in the stack's source text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Span {
    pub offset: usize,
    pub len: usize,
}

impl Span {
    pub fn new(offset: usize, len: usize) -> Self {
        Span { offset, len }
    }
}

impl From<Span> for miette::SourceSpan {
    fn from(s: Span) -> Self {
        (s.offset, s.len).into()
    }
}

/// The text a stack was loaded from, for diagnostics that point into it.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceFile {
    pub name: String,
    pub text: Arc<str>,
}

impl miette::SourceCode for SourceFile {
    /// Like `NamedSource`: snippets carry the file name, so reports show `file:line:col`.
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let inner = self
            .text
            .read_span(span, context_lines_before, context_lines_after)?;
        Ok(Box::new(
            miette::MietteSpanContents::new_named(
                self.name.clone(),
                inner.data(),
                *inner.span(),
                inner.line(),
                inner.column(),
                inner.line_count(),
            )
            .with_language("yaml"),
        ))
    }
}

impl SourceFile {
    pub fn named_source(&self) -> miette::NamedSource<Arc<str>> {
        miette::NamedSource::new(self.name.clone(), self.text.clone()).with_language("yaml")
    }
}

/// Custom per-operation deadlines, in seconds (Pulumi's `customTimeouts`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Timeouts {
    pub create: Option<u64>,
    pub update: Option<u64>,
    pub delete: Option<u64>,
}

/// A Go duration string (`time.ParseDuration`: `"1.5h"`, `"90m"`,
/// `"10m30s"`, `"500ms"`; units ns, us, µs, ms, s, m, h) in whole seconds,
/// rounded up. A bare integer string is seconds, as cairn always took it.
/// Negative, empty or unit-less strings are `None`. `customTimeouts`
/// and the AWS provider's `assumeRole.duration` read durations with it.
pub fn parse_duration(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u64>() {
        return Some(n);
    }
    let rest = s.strip_prefix('+').unwrap_or(s);
    if rest.is_empty() || rest.starts_with('-') {
        return None;
    }
    let mut nanos: u128 = 0;
    let mut rest = rest;
    while !rest.is_empty() {
        let int_len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (int, after) = rest.split_at(int_len);
        let (frac, after) = match after.strip_prefix('.') {
            Some(a) => {
                let n = a.find(|c: char| !c.is_ascii_digit()).unwrap_or(a.len());
                a.split_at(n)
            }
            None => ("", after),
        };
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        let whole: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
        nanos = nanos.checked_add(whole.checked_mul(scale)?)?;
        let mut place = scale;
        for d in frac.bytes().take(18) {
            place /= 10;
            nanos = nanos.checked_add(u128::from(d - b'0') * place)?;
        }
        rest = next;
    }
    u64::try_from(nanos.div_ceil(1_000_000_000)).ok()
}

/// Pulumi-style resource options.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResourceOptions {
    pub depends_on: Vec<String>,
    pub protect: bool,
    pub retain_on_delete: bool,
    /// Property paths whose changes the planner ignores: a top-level name
    /// or a nested path (`tags["env"]`, `tags.env`, `ingress[0].description`).
    pub ignore_changes: Vec<String>,
    pub delete_before_replace: bool,
    /// Adopt an existing cloud resource with this physical id.
    pub import: Option<String>,
    pub custom_timeouts: Timeouts,
    /// Former names (Pulumi's `aliases`): a recorded resource under one of
    /// them is moved to this name instead of being replaced.
    pub aliases: Vec<Alias>,
    /// Property paths whose change forces a replacement (`replaceOnChanges`;
    /// `*` for any property).
    pub replace_on_changes: Vec<String>,
    /// Outputs recorded and shown as secret (`additionalSecretOutputs`).
    pub additional_secret_outputs: Vec<String>,
    /// Deleted together with this resource (`deletedWith`): when both go,
    /// this one's delete call is skipped.
    pub deleted_with: Option<String>,
    /// The resource this one is grouped under (`parent`): a dependency,
    /// recorded in state; re-parenting replaces unless `parent_aliases`
    /// names the recorded parent.
    pub parent: Option<String>,
    /// Former parents (`aliases` entries with `parent` or `noParent`;
    /// `None`: none): a record under one of them is kept, not replaced.
    pub parent_aliases: Vec<Option<String>>,
}

/// A former identity of a resource (one entry of `aliases`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Alias {
    /// The former logical name.
    pub name: String,
    /// The former type token, when the alias names one.
    pub type_token: Option<String>,
}

/// One resource in the desired state. The serde form (spans left out) is
/// what a Rust stack program hands the CLI (`dsl::program`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSpec {
    pub name: String,
    pub type_token: String,
    /// Inputs. Strings may hold `${resource.output}` references, resolved at apply.
    pub properties: Map,
    pub options: ResourceOptions,
    /// Where each property (and the resource itself, at the root path) was written.
    #[serde(skip)]
    pub spans: BTreeMap<PropertyPath, Span>,
}

impl ResourceSpec {
    pub fn new(name: &str, type_token: &str, properties: Map) -> Self {
        ResourceSpec {
            name: name.to_string(),
            type_token: type_token.to_string(),
            properties,
            options: ResourceOptions::default(),
            spans: BTreeMap::new(),
        }
    }

    /// The span of the deepest written prefix of `path`, or of the resource.
    pub fn span_of(&self, path: &PropertyPath) -> Option<Span> {
        let mut p = path.clone();
        loop {
            if let Some(s) = self.spans.get(&p) {
                return Some(*s);
            }
            p.0.pop()?;
        }
    }
}

/// A waiver of a policy rule, with the reason the stack gives for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Waiver {
    pub rule: String,
    pub resource: Option<String>,
    pub reason: String,
    #[serde(skip)]
    pub span: Option<Span>,
}

/// A whole stack's desired state. Its serde form (source left out) is what
/// a Rust stack program writes (`dsl::program`).
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct StackSpec {
    pub name: String,
    /// Resources in source order.
    pub resources: Vec<ResourceSpec>,
    /// Stack outputs; strings may hold references.
    pub outputs: Map,
    #[serde(default)]
    pub waivers: Vec<Waiver>,
    /// Resources read with `get:` (Pulumi's external resources).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub externals: Vec<ExternalResource>,
    #[serde(skip)]
    pub source: Option<SourceFile>,
}

/// A resource read with `get:` when the stack loaded: recorded in state as
/// external (its outputs readable, refreshed by every run), never created,
/// updated or deleted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalResource {
    pub name: String,
    pub type_token: String,
    pub id: String,
    pub inputs: Map,
    pub outputs: Map,
}

impl StackSpec {
    pub fn new(name: &str) -> Self {
        StackSpec {
            name: name.to_string(),
            ..Default::default()
        }
    }
    pub fn resource(&self, name: &str) -> Option<&ResourceSpec> {
        self.resources.iter().find(|r| r.name == name)
    }
    pub fn add(&mut self, r: ResourceSpec) {
        self.resources.push(r);
    }
    pub fn output(&mut self, name: &str, v: impl Into<Value>) {
        self.outputs.insert(name.to_string(), v.into());
    }
}
