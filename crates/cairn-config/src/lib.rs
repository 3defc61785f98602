//! Pulumi-YAML stack files to [`StackSpec`], with exact source spans.
//!
//! The loader does no IO: the caller reads the file and passes its bytes
//! and name. Every problem is reported at once, each with a stable code
//! (see [`codes`] and [`cairn_core::validate::codes`]) and a byte span into
//! the file. Hostile input is bounded before it can cost much: files over
//! [`MAX_FILE_BYTES`] are refused before parsing, nesting deeper than
//! [`MAX_DEPTH`] and more than [`MAX_NODES`] nodes (aliases included) stop
//! the parse with a diagnostic, and nothing recurses over unbounded depth.
//!
//! # Format
//!
//! ```yaml
//! name: redis-prod
//! description: optional text
//! config:                        # the stack's inputs; `--config key=value` overrides
//!   environment: prod            # a plain value (its type is inferred)...
//!   shards: { type: integer, default: 2 }   # ...or a Pulumi-style declaration
//!   authToken: { type: string, secret: true }
//!   sizing: { nodeType: cache.t4g.small, replicas: 1 }  # maps and lists are fine
//! variables:                     # computed once, in dependency order
//!   prefix: qualisys-${environment}
//!   nodeType: ${sizing.nodeType} # a reference may have a path
//! resources:
//!   redisKey:
//!     type: aws:kms:Key
//!     properties:
//!       description: Redis at-rest key (${environment})
//!       numNodeGroups: ${shards}         # a whole-string reference keeps the type (Int)
//!       token: { fn::secret: "${authToken}" }
//!     options:
//!       dependsOn: [other]               # or [ "${other}" ]
//!       protect: true
//!       customTimeouts: { create: 3600, delete: 60m }  # seconds, or "1h30m"/"60m"/"90s"
//! outputs:
//!   endpoint: ${redis.configurationEndpointAddress}
//! policy:
//!   waivers:
//!     - { rule: CAIRN-POL-007, resource: redis, reason: dev has no replicas }
//! ```
//!
//! * `${name}` / `${name.path[0]}` naming a config key or variable is
//!   substituted at load time; a string that is exactly one reference takes
//!   the value's type, otherwise the value is spliced into the text (lists
//!   and maps cannot be). `${resource.output}` stays in the string for the
//!   planner. `$$` writes a literal `$` (so `$${` a literal `${`), as in Pulumi YAML. Config values may not hold
//!   references; `--config` values are data (a `${` in them is literal).
//! * A config entry is a declaration, as in Pulumi, when it is a map with
//!   any of `type`, `default`, `value`, `secret`, `description`, `items`
//!   (`items: { type: ... }` types a list's elements; any other key is an
//!   error); any other value is the key's value. Map keys in properties and
//!   variables are interpolated like values. Types: `string`, `integer`,
//!   `boolean`, `number`, `list`, `map` (`--config` strings are parsed to
//!   the type; lists and maps as JSON). Every `--config` key must be declared.
//! * Functions: `fn::secret: v` (marks `v` secret), `fn::toJSON: v` (JSON
//!   text; references inside stay as `${...}` text), `fn::join: [sep, [a, b]]`,
//!   and Pulumi YAML's `fn::select`, `fn::split`, `fn::length`,
//!   `fn::toBase64`, `fn::fromBase64`, `fn::sha1`, `fn::unsecret`,
//!   `fn::readFile`, `fn::filebase64`, `fn::filebase64sha256` and the
//!   asset/archive functions, evaluated at load with Go's semantics (names
//!   in any case; see `docs/pulumi-yaml.md`). Files are read through the
//!   caller's reader, relative to the program.
//! * References: `${res.id}`, `${res.urn}`, `${res}` (its id), inputs read
//!   like outputs, quoted keys and roots (`${x["a.b"]}`, `${["my.res"].arn}`),
//!   `${pulumi.stack}`, `${pulumi.project}`, `${pulumi.organization}`.
//! * Only the YAML core schema tags (`!!str`, `!!int`, ...) are accepted.
//!   Values follow YAML 1.2: `yes`/`no`/`on`/`off` are strings.
//! * Top-level `null` properties are dropped, as the Rust DSL drops them.
//!
//! # Spans
//!
//! [`ResourceSpec::spans`] holds: at [`PropertyPath::root()`] the resource
//! name; at each property path (and every nested element) the value's
//! span; at [`cairn_core::validate::key_path`]`(path)` the key's span; at
//! [`cairn_core::validate::type_path`] (`$type`) the `type:` value; at
//! `$options.<option>[...]` option values.
//!
//! [`ResourceSpec::spans`]: cairn_core::spec::ResourceSpec::spans

pub mod codes;
mod jsonschema;
mod parents;
mod project;
mod providers;
mod source;
mod stack;
mod yaml;

pub use cairn_core::validate::OPTIONS_KEY;
pub use jsonschema::json_schema;
pub use project::{
    load_project, program_project, project_stack_region, rust_project, RustProject, PROJECT_FILE,
};
pub use stack::{Invoke, Program, ReadFile, ReadResource, ARCHIVE_SIG, ASSET_SIG, SIG_KEY};
pub use yaml::{MAX_DEPTH, MAX_NODES};

use cairn_core::diag::{Problem, Problems};
use cairn_core::schema::{PropType, PropertySchema};
use cairn_core::spec::{SourceFile, Span, StackSpec};
use cairn_core::value::{PathSegment, Value};
use cairn_core::Registry;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Most problems reported for one file; the rest are counted in a last one.
pub const MAX_PROBLEMS: usize = 1000;

/// Largest stack file accepted (8 MiB), checked before parsing.
pub const MAX_FILE_BYTES: usize = 8 * 1024 * 1024;

/// Loads a stack file. `config` holds `--config key=value` overrides.
///
/// Returns every error at once (loader and [`cairn_core::validate`]);
/// warnings are dropped on success (see [`load_stack_with_warnings`]).
pub fn load_stack(
    file_name: &str,
    bytes: &[u8],
    registry: &Registry,
    config: &BTreeMap<String, Value>,
) -> Result<StackSpec, Problems> {
    load_stack_with_warnings(file_name, bytes, registry, config).map(|(spec, _)| spec)
}

/// [`load_stack`], also returning the warnings (e.g. policy advisories from
/// provider checks) when there is no error. On error, the `Err` holds the
/// warnings too.
pub fn load_stack_with_warnings(
    file_name: &str,
    bytes: &[u8],
    registry: &Registry,
    config: &BTreeMap<String, Value>,
) -> Result<(StackSpec, Problems), Problems> {
    let parsed = read_source(file_name, bytes);
    let outcome = match parsed.root {
        Some(root) => load_tree(
            parsed.source,
            parsed.problems,
            &root,
            registry,
            config,
            &[],
            &Program::default(),
        ),
        None => Outcome::failed(parsed.source, parsed.problems),
    };
    finish(file_name, vec![outcome.group], outcome.spec)
}

/// Loads an environment stack file that names a template, the way a
/// `Pulumi.<stack>.yaml` configures a Pulumi program:
///
/// ```yaml
/// name: redis-dev                    # the stack's name
/// template: redis-cache.template.yaml  # the program (a full stack file)
/// config:                            # values for the template's config keys
///   environment: dev
///   numNodeGroups: 1
/// policy:                            # waivers for this environment, added to the template's
///   waivers: [{ rule: CAIRN-POL-007, resource: redis, reason: dev has no replicas }]
/// ```
///
/// `read_template` reads the named template (the caller resolves it, e.g.
/// next to the environment file). Environment values are typed YAML and
/// must match the template's declarations; `config` (`--config`) overrides
/// them. Problems in the environment file point into it; the spec's spans
/// and source are the template's. A file without `template:` is loaded as
/// a stack by itself, exactly as [`load_stack_with_warnings`] does.
///
/// `read_template` also reads the files the program names (`fn::readFile`,
/// `fn::fileAsset`, ...), relative to the program's (template's) directory,
/// as Pulumi reads them relative to the project. `${pulumi.stack}` is the
/// stack's `name` (the environment file's), `${pulumi.project}` the
/// program's `name`; [`load_stack_layered_in`] sets them otherwise.
pub fn load_stack_layered(
    file_name: &str,
    bytes: &[u8],
    read_template: &dyn Fn(&str) -> Result<Vec<u8>, String>,
    registry: &Registry,
    config: &BTreeMap<String, Value>,
) -> Result<(StackSpec, Problems), Problems> {
    load_stack_layered_in(
        file_name,
        bytes,
        read_template,
        registry,
        config,
        &Program::default(),
    )
}

/// [`load_stack_layered`] with the program's context: what `${pulumi.*}`
/// says, and how files are read (when `program.read_file` is `None`,
/// through `read_template`).
pub fn load_stack_layered_in(
    file_name: &str,
    bytes: &[u8],
    read_template: &dyn Fn(&str) -> Result<Vec<u8>, String>,
    registry: &Registry,
    config: &BTreeMap<String, Value>,
    program: &Program<'_>,
) -> Result<(StackSpec, Problems), Problems> {
    let parsed = read_source(file_name, bytes);
    let Some(root) = parsed.root else {
        let failed = Outcome::failed(parsed.source, parsed.problems);
        return finish(file_name, vec![failed.group], None);
    };
    let Some(template_entry) = stack::find(&root, "template") else {
        let program = Program {
            read_file: program.read_file.or(Some(read_template)),
            ..program.clone()
        };
        let outcome = load_tree(
            parsed.source,
            parsed.problems,
            &root,
            registry,
            config,
            &[],
            &program,
        );
        return finish(file_name, vec![outcome.group], outcome.spec);
    };
    let env_source = parsed.source;
    let mut env = stack::Loader::new(&env_source);
    for p in parsed.problems {
        env.push(p);
    }
    for e in stack::entries(&root) {
        if !ENV_KEYS.contains(&e.key.as_str()) {
            let help = stack::suggest(&e.key, ENV_KEYS).unwrap_or_else(|| {
                format!(
                    "an environment file may contain {}; resources belong in the template",
                    stack::list(ENV_KEYS)
                )
            });
            env.push(
                Problem::error(
                    codes::UNKNOWN_KEY,
                    format!("unknown key `{}` in an environment file", e.key),
                )
                .at(Some(e.key_span), "unknown key")
                .help(help),
            );
        }
    }
    let name = match stack::find(&root, "name") {
        Some(e) => match e.value.as_str() {
            Some(n) if !n.trim().is_empty() => Some(n.to_string()),
            _ => {
                env.wrong_shape("`name`", "a non-empty string", &e.value);
                None
            }
        },
        None => {
            env.push(
                Problem::error(codes::MISSING_KEY, "the stack has no `name`")
                    .at(Some(Span::new(root.span.offset, 0)), "`name` is missing")
                    .help("add `name: <stack name>` at the top level"),
            );
            None
        }
    };
    let mut values = Vec::new();
    if let Some(c) = stack::find(&root, "config") {
        match &c.value.kind {
            yaml::Kind::Map(list) => {
                for e in list {
                    let value = env.config_value(&e.value);
                    values.push(stack::EnvValue {
                        key: e.key.clone(),
                        key_span: e.key_span,
                        value_span: e.value.span,
                        value,
                    });
                }
            }
            yaml::Kind::Null => {}
            _ => env.wrong_shape("`config`", "a map", &c.value),
        }
    }
    if let Some(b) = stack::find(&root, "backend") {
        match b.value.as_str() {
            Some(url) if !url.trim().is_empty() => {}
            _ => env.wrong_shape(
                "`backend`",
                "a state backend URL (`local` or `s3://BUCKET/PREFIX?kms_key=KEY`)",
                &b.value,
            ),
        }
    }
    let waivers = match stack::find(&root, "policy") {
        Some(p) => env.load_policy(&p.value),
        None => Vec::new(),
    };
    let template = match template_entry.value.as_str() {
        Some(t) if !t.trim().is_empty() => match read_template(t) {
            // Named as the caller finds it: relative to the environment file.
            Ok(bytes) => Some((
                std::path::Path::new(file_name)
                    .parent()
                    .map(|dir| dir.join(t).display().to_string())
                    .unwrap_or_else(|| t.to_string()),
                bytes,
            )),
            Err(why) => {
                env.push(
                    Problem::error(
                        codes::TEMPLATE_UNREADABLE,
                        format!("cannot read template `{t}`: {why}"),
                    )
                    .at(Some(template_entry.value.span), "this template")
                    .help("the template is read relative to the environment file"),
                );
                None
            }
        },
        _ => {
            env.wrong_shape("`template`", "a file name", &template_entry.value);
            None
        }
    };
    let (mut env_problems, mut env_secrets) = env.take();
    let Some((template_name, template_bytes)) = template else {
        let failed = Outcome::failed(env_source, env_problems);
        return finish(file_name, vec![failed.group], None);
    };
    let parsed = read_source(&template_name, &template_bytes);
    // Files the template names are relative to the template's directory.
    let template_dir = template_entry
        .value
        .as_str()
        .and_then(|t| std::path::Path::new(t).parent())
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let read_relative = |f: &str| read_template(&template_dir.join(f).display().to_string());
    let program = Program {
        stack: program.stack.clone().or_else(|| name.clone()),
        read_file: program.read_file.or(Some(&read_relative)),
        ..program.clone()
    };
    let mut outcome = match parsed.root {
        Some(t_root) => {
            let mut outcome = load_tree(
                parsed.source,
                parsed.problems,
                &t_root,
                registry,
                config,
                &values,
                &program,
            );
            if let Some(e) = stack::find(&t_root, "template") {
                outcome.group.problems.push(
                    Problem::error(
                        codes::UNKNOWN_KEY,
                        "a template cannot itself name a template",
                    )
                    .at(Some(e.key_span), "nested template")
                    .help("templates are one level deep: environment file, then template"),
                );
            }
            outcome
        }
        None => Outcome::failed(parsed.source, parsed.problems),
    };
    env_problems.append(&mut outcome.env_problems);
    env_secrets.append(&mut outcome.env_secret_spans);
    if let Some(spec) = outcome.spec.as_mut() {
        if let Some(n) = name {
            spec.name = n;
        }
        // The environment's waivers name the template's resources.
        let resources: Vec<&str> = spec.resources.iter().map(|r| r.name.as_str()).collect();
        for w in &waivers {
            if w.rule.trim().is_empty() || w.reason.trim().is_empty() {
                env_problems.push(
                    Problem::error(
                        cairn_core::validate::codes::INVALID_WAIVER,
                        "a policy waiver needs both a `rule` and a `reason`",
                    )
                    .at(w.span, "incomplete waiver"),
                );
            }
            if let Some(r) = w.resource.as_deref().filter(|r| !resources.contains(r)) {
                let mut p = Problem::error(
                    codes::UNKNOWN_REFERENCE,
                    format!(
                        "waiver of `{}` names resource `{r}`, which the template does not declare",
                        w.rule
                    ),
                )
                .at(w.span, "unknown resource");
                if let Some(h) = stack::suggest(r, &resources) {
                    p = p.help(h);
                }
                env_problems.push(p);
            }
        }
        spec.waivers.extend(waivers);
    }
    let env_group = Group {
        source: redacted(env_source, &env_secrets),
        problems: env_problems,
    };
    finish(file_name, vec![env_group, outcome.group], outcome.spec)
}

/// Top-level keys of an environment file.
const ENV_KEYS: &[&str] = &[
    "name",
    "description",
    "template",
    "config",
    "policy",
    "backend",
];

/// The state backend an environment file names (`backend: s3://…`, like
/// Pulumi's `backend.url`).
#[derive(Clone, Debug)]
pub struct DeclaredBackend {
    /// The value, trimmed.
    pub url: String,
    /// Where the value is, for diagnostics.
    pub span: Span,
    /// The file with only the `backend:` line kept (every other character
    /// blanked, offsets unchanged), so a diagnostic never shows a config
    /// value.
    pub source: SourceFile,
}

/// The `backend:` of an environment file (one with `template:`). `None`
/// when there is none, or the file is not an environment file or cannot be
/// parsed (loading it reports why).
pub fn declared_backend(file_name: &str, bytes: &[u8]) -> Option<DeclaredBackend> {
    let parsed = read_source(file_name, bytes);
    let root = parsed.root?;
    stack::find(&root, "template")?;
    let entry = stack::find(&root, "backend")?;
    let url = entry.value.as_str()?.trim().to_string();
    if url.is_empty() {
        return None;
    }
    let span = entry.value.span;
    let text = &parsed.source.text;
    let line_start = text[..span.offset.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line_end = text[span.offset.min(text.len())..]
        .find('\n')
        .map_or(text.len(), |i| span.offset + i);
    let kept: String = text
        .char_indices()
        .map(|(i, c)| {
            if c == '\n' || (line_start..line_end).contains(&i) {
                c
            } else {
                ' '
            }
        })
        .collect();
    Some(DeclaredBackend {
        url,
        span,
        source: SourceFile {
            name: parsed.source.name.clone(),
            text: Arc::from(kept),
        },
    })
}

/// An environment file's `name:` and `config:` entries, for `cairn config`
/// (which edits the file as text and decrypts its `secure:` values).
#[derive(Clone, Debug)]
pub struct EnvConfig {
    pub name: Option<String>,
    /// The `config:` key's span, when the file has one.
    pub section: Option<Span>,
    /// `config:` is written in flow style (`config: { a: 1 }`).
    pub flow: bool,
    pub entries: Vec<EnvConfigEntry>,
}

/// One `config:` entry of an environment file.
#[derive(Clone, Debug)]
pub struct EnvConfigEntry {
    pub key: String,
    pub key_span: Span,
    pub value_span: Span,
    /// The ciphertext of a `{ secure: TEXT }` value.
    pub secure: Option<String>,
    /// A scalar value as text (strings unquoted); `None` for lists and maps.
    pub text: Option<String>,
}

/// The `config:` of an environment file (one with `template:`). `None` when
/// the file is not one or cannot be parsed (loading it reports why).
pub fn env_config(file_name: &str, bytes: &[u8]) -> Option<EnvConfig> {
    let parsed = read_source(file_name, bytes);
    let root = parsed.root?;
    stack::find(&root, "template")?;
    let name = stack::find(&root, "name").and_then(|e| e.value.as_str().map(str::to_string));
    let mut out = EnvConfig {
        name,
        section: None,
        flow: false,
        entries: Vec::new(),
    };
    if let Some(c) = stack::find(&root, "config") {
        out.section = Some(c.key_span);
        if let yaml::Kind::Map(list) = &c.value.kind {
            let text = &parsed.source.text;
            out.flow = text[c.value.span.offset.min(text.len())..].starts_with('{');
            for e in list {
                let secure = match &e.value.kind {
                    yaml::Kind::Map(inner) if inner.len() == 1 && inner[0].key == "secure" => {
                        inner[0].value.as_str().map(str::to_string)
                    }
                    _ => None,
                };
                let text = match &e.value.kind {
                    yaml::Kind::Str { text, .. } => Some(text.clone()),
                    yaml::Kind::Bool(b) => Some(b.to_string()),
                    yaml::Kind::Int(i) => Some(i.to_string()),
                    yaml::Kind::Float(f) => Some(f.to_string()),
                    yaml::Kind::Null => Some("null".to_string()),
                    _ => None,
                };
                out.entries.push(EnvConfigEntry {
                    key: e.key.clone(),
                    key_span: e.key_span,
                    value_span: e.value.span,
                    secure,
                    text,
                });
            }
        }
    }
    Some(out)
}

/// Problems that point into one source file.
struct Group {
    source: SourceFile,
    problems: Vec<Problem>,
}

struct Outcome {
    group: Group,
    spec: Option<StackSpec>,
    env_problems: Vec<Problem>,
    env_secret_spans: Vec<Span>,
}

impl Outcome {
    fn failed(source: SourceFile, problems: Vec<Problem>) -> Self {
        Outcome {
            group: Group { source, problems },
            spec: None,
            env_problems: Vec::new(),
            env_secret_spans: Vec::new(),
        }
    }
}

/// The source with the given spans starred out (same offsets and lines).
fn redacted(source: SourceFile, spans: &[Span]) -> SourceFile {
    if spans.is_empty() {
        return source;
    }
    SourceFile {
        text: Arc::from(source::redact(&source.text, spans)),
        name: source.name,
    }
}

/// Every problem with its source attached, sorted by position within each
/// file, capped at [`MAX_PROBLEMS`].
fn finish(
    file_name: &str,
    groups: Vec<Group>,
    spec: Option<StackSpec>,
) -> Result<(StackSpec, Problems), Problems> {
    let mut problems = Vec::new();
    for g in groups {
        let mut ps: Vec<Problem> = g
            .problems
            .into_iter()
            .map(|p| p.in_source(Some(&g.source)))
            .collect();
        // Stable: by position, problems without a position last.
        ps.sort_by_key(|p| p.span.map_or(usize::MAX, |s| s.offset));
        problems.extend(ps);
    }
    if problems.len() > MAX_PROBLEMS {
        let more = problems.len() - MAX_PROBLEMS;
        problems.truncate(MAX_PROBLEMS);
        problems.push(
            Problem::error(
                codes::TOO_MANY_PROBLEMS,
                format!("{more} more problems are not shown"),
            )
            .help("fix the problems above and load the stack again"),
        );
    }
    let problems = Problems {
        file: Some(file_name.to_string()),
        problems,
    };
    match spec {
        Some(spec) if !problems.has_errors() => Ok((spec, problems)),
        _ => Err(problems),
    }
}

/// A stack (or environment) file as plain JSON, read exactly as the loader
/// reads it: the same YAML subset, scalar rules (`yes` is a string) and
/// limits on size, depth and aliases. What a JSON Schema validator or an
/// editor should see. `Err` holds the loader's own diagnostics (syntax,
/// encoding, limits, duplicate keys).
pub fn stack_file_to_json(file_name: &str, bytes: &[u8]) -> Result<serde_json::Value, Problems> {
    let parsed = read_source(file_name, bytes);
    let root = match parsed.root {
        Some(root) if parsed.problems.iter().all(|p| p.warning) => root,
        _ => {
            let group = Group {
                source: parsed.source,
                problems: parsed.problems,
            };
            return Err(match finish(file_name, vec![group], None) {
                Err(problems) => problems,
                Ok((_, problems)) => problems,
            });
        }
    };
    Ok(node_to_json(&root))
}

fn node_to_json(root: &yaml::Node) -> serde_json::Value {
    use serde_json::Value as J;
    // Iterative, like the parser: depth is bounded there, but no recursion here either.
    enum Work<'a> {
        Visit(&'a yaml::Node),
        Seq(usize),
        Map(Vec<&'a str>),
    }
    let mut work = vec![Work::Visit(root)];
    let mut done: Vec<J> = Vec::new();
    while let Some(w) = work.pop() {
        match w {
            Work::Visit(node) => match &node.kind {
                yaml::Kind::Null | yaml::Kind::Invalid => done.push(J::Null),
                yaml::Kind::Bool(b) => done.push(J::Bool(*b)),
                yaml::Kind::Int(i) => done.push(J::from(*i)),
                yaml::Kind::Float(f) => {
                    done.push(serde_json::Number::from_f64(*f).map_or(J::Null, J::Number))
                }
                yaml::Kind::Str { text, .. } => done.push(J::String(text.clone())),
                yaml::Kind::Seq(items) => {
                    work.push(Work::Seq(items.len()));
                    work.extend(items.iter().rev().map(Work::Visit));
                }
                yaml::Kind::Map(entries) => {
                    work.push(Work::Map(entries.iter().map(|e| e.key.as_str()).collect()));
                    work.extend(entries.iter().rev().map(|e| Work::Visit(&e.value)));
                }
            },
            Work::Seq(n) => {
                let items = done.split_off(done.len() - n);
                done.push(J::Array(items));
            }
            Work::Map(keys) => {
                let values = done.split_off(done.len() - keys.len());
                done.push(J::Object(
                    keys.into_iter().map(str::to_string).zip(values).collect(),
                ));
            }
        }
    }
    done.pop().unwrap_or(J::Null)
}

/// The text of a file and its YAML tree; `root` is `None` when nothing
/// more can be said (too large, not UTF-8, fatal YAML error, empty).
struct ReadSource {
    source: SourceFile,
    root: Option<yaml::Node>,
    problems: Vec<Problem>,
}

fn read_source(file_name: &str, bytes: &[u8]) -> ReadSource {
    let named = |text: String| SourceFile {
        name: file_name.to_string(),
        text: Arc::from(text),
    };
    let failed = |source: SourceFile, p: Problem| ReadSource {
        source,
        root: None,
        problems: vec![p],
    };
    if bytes.len() > MAX_FILE_BYTES {
        // Show only the first line: the rest is never looked at.
        let head = bytes.get(..bytes.len().min(200)).unwrap_or_default();
        let head = head.split(|b| *b == b'\n').next().unwrap_or_default();
        let p = Problem::error(
            codes::FILE_TOO_LARGE,
            format!(
                "the stack file is {} bytes; the limit is {MAX_FILE_BYTES} bytes (8 MiB)",
                bytes.len()
            ),
        )
        .at(Some(Span::new(0, 0)), "file too large")
        .help("a stack file is a few kilobytes; is this the right file?");
        return failed(named(source::sanitize(head)), p);
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.to_string(),
        Err(e) => {
            let source = named(source::sanitize(bytes));
            let at = e.valid_up_to();
            let (line, col) = cairn_core::diag::line_col(&source.text, at);
            let p = Problem::error(
                codes::NOT_UTF8,
                format!(
                    "the stack file is not valid UTF-8 (first bad byte at line {line}, column {col})"
                ),
            )
            .at(
                Some(Span::new(at, 1.min(bytes.len().saturating_sub(at)))),
                "invalid UTF-8",
            )
            .help("save the file as UTF-8");
            return failed(source, p);
        }
    };
    let source = named(text);
    let body_start = if source.text.starts_with('\u{feff}') {
        3
    } else {
        0
    };
    let parsed = yaml::parse(&source.text, body_start);
    let mut problems = parsed.problems;
    let empty = |at: usize| {
        Problem::error(codes::EMPTY_FILE, "the stack file is empty")
            .at(Some(Span::new(at, 0)), "no YAML document here")
            .help(stack::MINIMAL_STACK)
    };
    let root = match parsed.root {
        None => {
            if problems.is_empty() {
                problems.push(empty(0));
            }
            None
        }
        Some(_) if problems.iter().any(|p| is_fatal(&p.code)) => None,
        Some(root) if matches!(root.kind, yaml::Kind::Null) => {
            problems.push(empty(root.span.offset));
            None
        }
        Some(root) => Some(root),
    };
    ReadSource {
        source,
        root,
        problems,
    }
}

/// Interprets a parsed stack (or template) and validates it.
fn load_tree(
    source: SourceFile,
    problems: Vec<Problem>,
    root: &yaml::Node,
    registry: &Registry,
    config: &BTreeMap<String, Value>,
    env: &[stack::EnvValue],
    program: &Program<'_>,
) -> Outcome {
    load_tree_as(
        source, problems, root, registry, config, env, program, false,
    )
}

/// [`load_tree`]; `project`: the program of a `Pulumi.yaml` project.
#[allow(clippy::too_many_arguments)]
fn load_tree_as(
    source: SourceFile,
    mut problems: Vec<Problem>,
    root: &yaml::Node,
    registry: &Registry,
    config: &BTreeMap<String, Value>,
    env: &[stack::EnvValue],
    program: &Program<'_>,
    project: bool,
) -> Outcome {
    let mut loader = stack::Loader::new(&source).with_program(program);
    if project {
        loader = loader.in_project();
    }
    let mut loaded = loader.load(root, config, env);
    problems.append(&mut loaded.problems);
    parents::apply(root, &mut loaded.spec, &mut problems);
    providers::apply(root, &mut loaded.spec, registry, &mut problems);
    // Literal secrets in the file must not show up in rendered snippets.
    let mut secret_spans = std::mem::take(&mut loaded.secret_spans);
    secret_spans.extend(schema_secret_spans(&loaded.spec, registry, &source.text));
    let source = redacted(source, &secret_spans);
    loaded.spec.source = Some(source.clone());
    let validated = cairn_core::validate::validate_with_output_spans(
        &loaded.spec,
        registry,
        &loaded.output_spans,
    );
    problems.extend(option_names(&loaded.spec, registry));
    // The loader reports a missing or malformed `type` itself, more precisely.
    problems.extend(
        validated
            .problems
            .into_iter()
            .filter(|p| p.code != cairn_core::validate::codes::MISSING_TYPE),
    );
    Outcome {
        group: Group { source, problems },
        spec: Some(loaded.spec),
        env_problems: loaded.env_problems,
        env_secret_spans: loaded.env_secret_spans,
    }
}

/// `replaceOnChanges` entries that name no property of the resource's
/// type, and `additionalSecretOutputs` entries that name neither an output
/// nor a property (inputs read like outputs), each at its line.
fn option_names(spec: &StackSpec, registry: &Registry) -> Vec<Problem> {
    let mut out = Vec::new();
    for r in &spec.resources {
        let Some(schema) = registry.schema(&r.type_token) else {
            continue;
        };
        let props: Vec<&str> = schema.properties.iter().map(|p| p.name.as_str()).collect();
        let mut names = props.clone();
        names.extend(schema.outputs.iter().map(|o| o.name.as_str()));
        let checks = [
            (
                "replaceOnChanges",
                &r.options.replace_on_changes,
                &props,
                "property",
            ),
            (
                "additionalSecretOutputs",
                &r.options.additional_secret_outputs,
                &names,
                "output",
            ),
        ];
        for (option, entries, known, what) in checks {
            let at = cairn_core::validate::option_path(option);
            for (i, entry) in entries.iter().enumerate() {
                let root = match cairn_core::plan::option_property_path(entry) {
                    _ if entry == "*" => continue,
                    Some(p) => match p.0.first() {
                        Some(PathSegment::Key(k)) => k.clone(),
                        _ => continue,
                    },
                    None => continue,
                };
                if known.contains(&root.as_str()) {
                    continue;
                }
                let span = r.spans.get(&at.index(i)).or(r.spans.get(&at)).copied();
                let help = match cairn_core::validate::did_you_mean(&root, known.iter().copied()) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => format!("`{}` has {what}s {}", r.type_token, stack::list(known)),
                };
                out.push(
                    Problem::error(
                        codes::UNKNOWN_OPTION_PROPERTY,
                        format!(
                            "`{option}` of `{}` names `{root}`, which is no {what} of `{}`",
                            r.name, r.type_token
                        ),
                    )
                    .at(span, format!("no such {what}"))
                    .help(help),
                );
            }
        }
    }
    out
}

/// Spans of values written for properties the schema marks secret
/// (except plain `${...}` references, which hold no secret themselves).
fn schema_secret_spans(spec: &StackSpec, registry: &Registry, text: &str) -> Vec<Span> {
    let mut out = Vec::new();
    for r in &spec.resources {
        let Some(schema) = registry.schema(&r.type_token) else {
            continue;
        };
        let mut chains: Vec<Vec<&str>> = Vec::new();
        secret_chains(&schema.properties, &mut Vec::new(), &mut chains, 0);
        for (path, span) in &r.spans {
            let keys: Vec<&str> = path
                .0
                .iter()
                .filter_map(|s| match s {
                    PathSegment::Key(k) => Some(k.as_str()),
                    PathSegment::Index(_) => None,
                })
                .collect();
            if !chains.iter().any(|c| keys.starts_with(c)) {
                continue;
            }
            let raw = text
                .get(span.offset..span.offset.saturating_add(span.len))
                .unwrap_or_default()
                .trim_matches(|c| c == '"' || c == '\'');
            if cairn_core::interp::whole_reference(raw).is_none() {
                out.push(*span);
            }
        }
    }
    out
}

/// Names-paths of secret properties, through nested objects (bounded by
/// the schema's own, program-defined nesting; capped for safety).
fn secret_chains<'s>(
    props: &'s [PropertySchema],
    prefix: &mut Vec<&'s str>,
    out: &mut Vec<Vec<&'s str>>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    for p in props {
        prefix.push(&p.name);
        if p.secret {
            out.push(prefix.clone());
        } else {
            let mut ty = &p.ty;
            while let PropType::List { items: inner } | PropType::Map { values: inner } = ty {
                ty = inner;
            }
            if let PropType::Object { properties } = ty {
                secret_chains(properties, prefix, out, depth + 1);
            }
        }
        prefix.pop();
    }
}

fn is_fatal(code: &str) -> bool {
    [
        codes::YAML_SYNTAX,
        codes::TOO_DEEP,
        codes::TOO_MANY_NODES,
        codes::ALIAS_BOMB,
        codes::INTERNAL,
    ]
    .contains(&code)
}
