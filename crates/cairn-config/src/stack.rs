//! The node tree of a stack file to a [`StackSpec`].
//!
//! Recursion over nodes is bounded by [`crate::MAX_DEPTH`], which the
//! tree builder enforces (aliases included).

use crate::codes;
use crate::yaml::{Entry, Kind, Node};
use cairn_core::diag::Problem;
use cairn_core::interp::{self, Part};
use cairn_core::plan::option_property_path;
use cairn_core::spec::{ResourceOptions, ResourceSpec, SourceFile, Span, StackSpec, Waiver};
use cairn_core::validate::{did_you_mean, is_valid_name, key_path, option_path, type_path};
use cairn_core::value::{Map, PathSegment, PropertyPath, Value};
use std::collections::{BTreeMap, BTreeSet};

mod functions;
mod get;
mod invoke;
pub use functions::{ARCHIVE_SIG, ASSET_SIG, SIG_KEY};

/// Reads a file named by the stack (`fn::readFile`, ...), relative to the
/// program's directory; the caller does the IO.
pub type ReadFile<'a> = &'a dyn Fn(&str) -> Result<Vec<u8>, String>;

/// Runs a data source for `fn::invoke` (token, revealed arguments); the
/// caller does the IO, e.g. through [`cairn_core::provider::Registry::prepare_invoke`].
pub type Invoke<'a> = &'a dyn Fn(&str, &Map) -> Result<Map, cairn_core::provider::InvokeError>;

/// Reads an existing resource for `get:` (type token, cloud id, `state`
/// hints): what the provider found; `Err` says why not.
pub type ReadResource<'a> =
    &'a dyn Fn(&str, &str, &Map) -> Result<cairn_core::provider::Observed, String>;

/// What the program knows of where it runs: `${pulumi.stack}`,
/// `${pulumi.project}`, `${pulumi.organization}`, and how to read files.
#[derive(Clone, Default)]
pub struct Program<'a> {
    /// The stack's name; defaults to the stack (or environment) file's `name`.
    pub stack: Option<String>,
    /// The project's name; defaults to the program's `name`.
    pub project: Option<String>,
    /// Defaults to `organization`, Pulumi's value for backends without an
    /// organization (its DIY backends); cairn's backends have none.
    pub organization: Option<String>,
    pub read_file: Option<ReadFile<'a>>,
    /// Runs `fn::invoke`; without it an invoke is an error.
    pub invoke: Option<Invoke<'a>>,
    /// Reads `get:` resources; without it a `get:` is an error.
    pub read: Option<ReadResource<'a>>,
}

pub(crate) const MINIMAL_STACK: &str = "a minimal stack:\n\n  name: my-stack\n  resources:\n    myKey:\n      type: aws:kms:Key\n      properties:\n        description: my key\n";

const TOP_LEVEL: &[&str] = &[
    "name",
    "runtime",
    "description",
    "config",
    "variables",
    "resources",
    "outputs",
    "policy",
    "pulumi",
];
const RESOURCE_KEYS: &[&str] = &["type", "properties", "options", "defaultProvider"];
const OPTIONS: &[&str] = &[
    "dependsOn",
    "protect",
    "retainOnDelete",
    "ignoreChanges",
    "deleteBeforeReplace",
    "import",
    "customTimeouts",
    "aliases",
    "replaceOnChanges",
    "additionalSecretOutputs",
    "deletedWith",
    "provider",
    "providers",
    "version",
    "parent",
];
/// Pulumi options cairn does not implement (named in the help text).
const PULUMI_ONLY_OPTIONS: &[&str] = &["pluginDownloadURL", "replaceWith", "hideDiffs"];
const TIMEOUT_KEYS: &[&str] = &["create", "update", "delete"];
const CONFIG_DECL_KEYS: &[&str] = &["type", "default", "value", "secret", "description", "items"];
const CONFIG_TYPES: &[&str] = &["string", "integer", "boolean", "number", "list", "map"];
/// `fn::invoke`, or its `fn::<pkg>:<fn>` shorthand.
fn is_invoke_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    lower == "fn::invoke" || lower.strip_prefix("fn::").is_some_and(|f| f.contains(':'))
}

const FUNCTIONS: &[&str] = &[
    "fn::secret",
    "fn::toJSON",
    "fn::join",
    "fn::select",
    "fn::split",
    "fn::length",
    "fn::toBase64",
    "fn::fromBase64",
    "fn::readFile",
    "fn::filebase64",
    "fn::filebase64sha256",
    "fn::sha1",
    "fn::unsecret",
    "fn::stringAsset",
    "fn::fileAsset",
    "fn::fileArchive",
    "fn::assetArchive",
    "fn::invoke",
];

/// A config key's declaration: its type, the item type of a typed list,
/// whether it is secret, and the key's span.
type Declared = (Option<ConfigType>, Option<ConfigType>, bool, Span);

/// The declared (or inferred) type of a config value.
#[derive(Clone, Copy, Debug, PartialEq)]
enum ConfigType {
    String,
    Integer,
    Boolean,
    Number,
    List,
    Map,
}

impl ConfigType {
    fn parse(s: &str) -> Option<Self> {
        let lower = s.to_ascii_lowercase();
        Some(match lower.as_str() {
            "string" | "str" => ConfigType::String,
            "integer" | "int" => ConfigType::Integer,
            "boolean" | "bool" => ConfigType::Boolean,
            "number" | "float" => ConfigType::Number,
            "map" | "object" => ConfigType::Map,
            "list" | "array" => ConfigType::List,
            // Pulumi's `List<T>` (any case): a list whose items are all `T`.
            _ if ConfigType::list_item(&lower).is_some() => ConfigType::List,
            _ => return None,
        })
    }
    /// The item type `T` of `List<T>` (any case), as Pulumi's `config.Parse` reads it.
    fn list_item(s: &str) -> Option<Self> {
        let lower = s.to_ascii_lowercase();
        let inner = lower.strip_prefix("list<")?.strip_suffix('>')?;
        ConfigType::parse(inner.trim())
    }
    /// Whether every item of a list value is of type `item` (no item type: any).
    fn items_accept(item: Option<Self>, v: &Value) -> bool {
        match (item, v) {
            (_, Value::Secret(inner)) => ConfigType::items_accept(item, inner),
            (Some(t), Value::List(values)) => values.iter().all(|x| t.accepts(x)),
            _ => true,
        }
    }
    fn of(v: &Value) -> Option<Self> {
        Some(match v {
            Value::String(_) => ConfigType::String,
            Value::Int(_) => ConfigType::Integer,
            Value::Bool(_) => ConfigType::Boolean,
            Value::Float(_) => ConfigType::Number,
            Value::List(_) => ConfigType::List,
            Value::Map(_) => ConfigType::Map,
            Value::Secret(inner) => return ConfigType::of(inner),
            Value::Null | Value::Unknown => return None,
        })
    }
    fn name(self) -> &'static str {
        match self {
            ConfigType::String => "a string",
            ConfigType::Integer => "an integer",
            ConfigType::Boolean => "a boolean",
            ConfigType::Number => "a number",
            ConfigType::List => "a list",
            ConfigType::Map => "a map",
        }
    }
    fn accepts(self, v: &Value) -> bool {
        match (self, v) {
            (_, Value::Secret(inner)) => self.accepts(inner),
            (_, Value::Unknown) => true,
            (ConfigType::Number, Value::Int(_)) => true,
            (t, v) => ConfigType::of(v) == Some(t),
        }
    }
}

/// What a `${name}` root stands for while loading.
enum Root<'v> {
    Value(&'v Value),
    Resource,
    /// A variable that could not be evaluated (already reported).
    Broken,
    Unknown,
}

pub(crate) struct Loader<'a> {
    source: &'a SourceFile,
    problems: Vec<Problem>,
    config: BTreeMap<String, Value>,
    variables: BTreeMap<String, Value>,
    broken: BTreeSet<String>,
    resources: BTreeSet<String>,
    /// Candidate comparisons left for "did you mean" on references.
    budget: usize,
    /// Spans of literal secret values, hidden from diagnostics' snippets.
    pub(crate) secret_spans: Vec<Span>,
    env_problems: Vec<Problem>,
    env_secret_spans: Vec<Span>,
    /// Reads files for `fn::readFile` and friends.
    files: Option<ReadFile<'a>>,
    program: Program<'a>,
    /// `${pulumi.*}`: `stack`, `project`, `organization`.
    pulumi: Value,
    /// Loading a `Pulumi.yaml` project's program (see [`crate::load_project`]).
    project: bool,
    /// `pulumi:providers:*` resources, for `fn::invoke`'s `options.provider`.
    explicit_providers: BTreeMap<String, Entry>,
    /// The invoke about to be evaluated is a variable's whole value, which
    /// takes a `defaultProvider` (as Pulumi YAML's runner sets it).
    pub(crate) variable_invoke: bool,
    /// Config keys of type `Integer`, which Pulumi splices in digits.
    integer_config: BTreeSet<String>,
}

/// A config value set by an environment stack file (see
/// [`crate::load_stack_layered`]): already evaluated, in template form.
pub(crate) struct EnvValue {
    pub key: String,
    pub key_span: Span,
    pub value_span: Span,
    pub value: Value,
}

impl Loader<'_> {
    /// The problems and secret spans gathered so far (for a loader used
    /// only to read an environment file's sections).
    pub(crate) fn take(self) -> (Vec<Problem>, Vec<Span>) {
        (self.problems, self.secret_spans)
    }
}

pub(crate) struct Loaded {
    /// Problems located in the environment file (not the template).
    pub env_problems: Vec<Problem>,
    /// Spans (in the environment file) of values for secret config keys.
    pub env_secret_spans: Vec<Span>,
    pub spec: StackSpec,
    pub output_spans: BTreeMap<PropertyPath, Span>,
    pub problems: Vec<Problem>,
    pub secret_spans: Vec<Span>,
}

pub(crate) fn entries(node: &Node) -> &[Entry] {
    match &node.kind {
        Kind::Map(e) => e,
        _ => &[],
    }
}

pub(crate) fn find<'n>(node: &'n Node, key: &str) -> Option<&'n Entry> {
    entries(node).iter().find(|e| e.key == key)
}

pub(crate) fn suggest(name: &str, candidates: &[&str]) -> Option<String> {
    did_you_mean(name, candidates.iter().copied()).map(|s| format!("did you mean `{s}`?"))
}

pub(crate) fn list(candidates: &[&str]) -> String {
    candidates
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Escapes literal text for a template string (`$` becomes `$$`).
fn escape(s: &str) -> String {
    s.replace('$', "$$")
}

/// Turns raw data (a `--config` value) into template form, so that a
/// literal `${` in it is not read as a reference later.
fn escape_value(v: Value, depth: usize) -> Option<Value> {
    if depth > crate::MAX_DEPTH {
        return None;
    }
    Some(match v {
        Value::String(s) => Value::String(escape(&s)),
        Value::List(l) => Value::List(
            l.into_iter()
                .map(|x| escape_value(x, depth + 1))
                .collect::<Option<_>>()?,
        ),
        Value::Map(m) => Value::Map(
            m.into_iter()
                .map(|(k, x)| escape_value(x, depth + 1).map(|x| (k, x)))
                .collect::<Option<_>>()?,
        ),
        Value::Secret(inner) => Value::secret(escape_value(*inner, depth + 1)?),
        other => other,
    })
}

fn has_reference(s: &str) -> bool {
    s.contains("${")
        && interp::parse(s)
            .map(|parts| parts.iter().any(|p| matches!(p, Part::Ref { .. })))
            .unwrap_or(true)
}

impl<'a> Loader<'a> {
    pub(crate) fn new(source: &'a SourceFile) -> Self {
        Loader {
            source,
            problems: Vec::new(),
            config: BTreeMap::new(),
            variables: BTreeMap::new(),
            broken: BTreeSet::new(),
            resources: BTreeSet::new(),
            budget: cairn_core::validate::SUGGESTION_BUDGET,
            secret_spans: Vec::new(),
            env_problems: Vec::new(),
            env_secret_spans: Vec::new(),
            files: None,
            program: Program::default(),
            pulumi: Value::Null,
            project: false,
            explicit_providers: BTreeMap::new(),
            variable_invoke: false,
            integer_config: BTreeSet::new(),
        }
    }

    /// A `Pulumi.yaml` project's program: its project keys are accepted
    /// (checked by the project loader), `configuration:` means `config:`,
    /// the stack's name is the program's `stack`, `resources` is optional.
    pub(crate) fn in_project(mut self) -> Self {
        self.project = true;
        self
    }

    /// Sets what `${pulumi.*}` says and how files are read.
    pub(crate) fn with_program(mut self, program: &Program<'a>) -> Self {
        self.files = program.read_file;
        self.program = program.clone();
        self
    }

    fn is_resource(&self, name: &str) -> bool {
        self.resources.contains(name)
    }

    pub(crate) fn push(&mut self, p: Problem) {
        self.problems.push(p);
    }

    /// The `pulumi:` block (settings of the Pulumi CLI): `requiredVersion`,
    /// a version range of the Pulumi CLI, which cairn is not, so it is
    /// accepted with a warning; anything else is an error.
    fn pulumi_settings(&mut self, block: &Entry) {
        if !matches!(block.value.kind, Kind::Map(_)) {
            return self.wrong_shape("`pulumi`", "a map", &block.value);
        }
        for e in entries(&block.value) {
            match (e.key.as_str(), e.value.as_str()) {
                ("requiredVersion", Some(range)) => self.push(
                    Problem::warning(
                        codes::OPTION_IGNORED,
                        format!("`pulumi.requiredVersion` ({range}) is not checked"),
                    )
                    .at(Some(e.key_span), "ignored")
                    .help("it is a version range of the Pulumi CLI; cairn runs the program itself"),
                ),
                ("requiredVersion", None) => self.wrong_shape(
                    "`pulumi.requiredVersion`",
                    "a version range string",
                    &e.value,
                ),
                (other, _) => self.push(
                    Problem::error(
                        codes::UNKNOWN_KEY,
                        format!("unknown key `{other}` in `pulumi`"),
                    )
                    .at(Some(e.key_span), "unknown key")
                    .help("the `pulumi` block takes `requiredVersion`"),
                ),
            }
        }
    }

    pub(crate) fn wrong_shape(&mut self, what: &str, expected: &str, node: &Node) {
        self.push(
            Problem::error(
                codes::WRONG_SHAPE,
                format!("{what} must be {expected}, but is {}", node.kind_name()),
            )
            .at(Some(node.span), format!("expected {expected}")),
        );
    }

    /// Loads the whole document.
    pub(crate) fn load(
        mut self,
        root: &Node,
        overrides: &BTreeMap<String, Value>,
        env: &[EnvValue],
    ) -> Loaded {
        let mut spec = StackSpec::default();
        let mut output_spans = BTreeMap::new();
        if !matches!(root.kind, Kind::Map(_)) {
            self.push(
                Problem::error(
                    codes::TOP_LEVEL_NOT_MAP,
                    format!(
                        "a stack file must be a map, but this one is {}",
                        root.kind_name()
                    ),
                )
                .at(
                    Some(root.span),
                    "expected a map of `name`, `resources`, ...",
                )
                .help(MINIMAL_STACK),
            );
            return self.finish(spec, output_spans);
        }
        for e in entries(root) {
            let project_key =
                self.project && crate::project::PROJECT_KEYS.contains(&e.key.as_str());
            if !TOP_LEVEL.contains(&e.key.as_str()) && !project_key {
                let mut p = Problem::error(
                    codes::UNKNOWN_KEY,
                    format!("unknown top-level key `{}`", e.key),
                )
                .at(Some(e.key_span), "unknown key");
                p = p
                    .help(suggest(&e.key, TOP_LEVEL).unwrap_or_else(|| {
                        format!("a stack file may contain {}", list(TOP_LEVEL))
                    }));
                self.push(p);
            }
        }
        if let Some(p) = find(root, "pulumi") {
            self.pulumi_settings(p);
        }
        let start = Span::new(root.span.offset, 0);
        match find(root, "name") {
            // A project's `name` is the project's; the stack is named apart.
            _ if self.project => spec.name = self.program.stack.clone().unwrap_or_default(),
            None => self.push(
                Problem::error(codes::MISSING_KEY, "the stack has no `name`")
                    .at(Some(start), "`name` is missing")
                    .help("add `name: <stack name>` at the top level"),
            ),
            Some(e) => match e.value.as_str() {
                Some(n) if !n.trim().is_empty() => spec.name = n.to_string(),
                _ => self.wrong_shape("`name`", "a non-empty string", &e.value),
            },
        }
        let mut pulumi = Map::new();
        let or_name = |v: &Option<String>| v.clone().unwrap_or_else(|| spec.name.clone());
        pulumi.insert(
            "stack".into(),
            Value::String(escape(&or_name(&self.program.stack))),
        );
        pulumi.insert(
            "project".into(),
            Value::String(escape(&or_name(&self.program.project))),
        );
        let org = self
            .program
            .organization
            .clone()
            .unwrap_or_else(|| "organization".into());
        pulumi.insert("organization".into(), Value::String(escape(&org)));
        self.pulumi = Value::Map(pulumi);
        for key in ["description", "runtime"] {
            if let Some(e) = find(root, key).filter(|_| !(self.project && key == "runtime")) {
                match (key, e.value.as_str()) {
                    ("runtime", Some("yaml")) | ("description", Some(_)) => {}
                    ("description", None) if matches!(e.value.kind, Kind::Null) => {}
                    ("runtime", _) => self.wrong_shape("`runtime`", "`yaml`", &e.value),
                    _ => self.wrong_shape("`description`", "a string", &e.value),
                }
            }
        }

        // Names first: references may point forward.
        let resources_node = find(root, "resources");
        if let Some(e) = resources_node {
            for r in entries(&e.value) {
                self.resources.insert(r.key.clone());
                let token = find(&r.value, "type").and_then(|t| t.value.as_str());
                if token.is_some_and(|t| t.starts_with(crate::providers::PROVIDER_PREFIX)) {
                    self.explicit_providers.insert(r.key.clone(), r.clone());
                }
            }
        }
        let config = match (find(root, "config"), find(root, "configuration")) {
            (Some(c), Some(legacy)) if self.project => {
                self.push(
                    Problem::error(codes::UNKNOWN_KEY, "both `config` and `configuration`")
                        .at(Some(legacy.key_span), "legacy spelling of `config`")
                        .help("`configuration:` is the legacy name of `config:`; keep one"),
                );
                Some(c)
            }
            (None, Some(legacy)) if self.project => Some(legacy),
            (c, _) => c,
        };
        self.load_config(config, overrides, env);
        let (read, externals) = self.load_gets(resources_node);
        spec.externals = externals;
        self.load_variables(find(root, "variables"));

        match resources_node {
            None if self.project => {}
            None => self.push(
                Problem::error(codes::MISSING_KEY, "the stack has no `resources`")
                    .at(Some(start), "`resources` is missing")
                    .help(MINIMAL_STACK),
            ),
            Some(e) => match &e.value.kind {
                Kind::Map(list) => {
                    for r in list.iter().filter(|r| !read.contains(&r.key)) {
                        let resource = self.load_resource(r);
                        spec.resources.push(resource);
                    }
                }
                Kind::Null => {}
                _ => self.wrong_shape(
                    "`resources`",
                    "a map of resource names to resources",
                    &e.value,
                ),
            },
        }

        if let Some(e) = find(root, "outputs") {
            match &e.value.kind {
                Kind::Map(list) => {
                    for o in list {
                        let path = PropertyPath::key(o.key.clone());
                        output_spans.insert(key_path(&path), o.key_span);
                        let v = self.eval(&o.value, &path, &mut output_spans);
                        spec.outputs.insert(o.key.clone(), v);
                    }
                }
                Kind::Null => {}
                _ => self.wrong_shape("`outputs`", "a map", &e.value),
            }
        }
        if let Some(e) = find(root, "policy") {
            spec.waivers = self.load_policy(&e.value);
        }
        self.finish(spec, output_spans)
    }

    fn finish(self, mut spec: StackSpec, output_spans: BTreeMap<PropertyPath, Span>) -> Loaded {
        spec.source = Some(self.source.clone());
        Loaded {
            env_problems: self.env_problems,
            env_secret_spans: self.env_secret_spans,
            spec,
            output_spans,
            problems: self.problems,
            secret_spans: self.secret_spans,
        }
    }

    // ---------------------------------------------------------------- config

    fn load_config(
        &mut self,
        section: Option<&Entry>,
        overrides: &BTreeMap<String, Value>,
        env: &[EnvValue],
    ) {
        let mut declared: BTreeMap<String, Declared> = BTreeMap::new();
        if let Some(e) = section {
            match &e.value.kind {
                Kind::Map(list) => {
                    for c in list {
                        self.config_entry(c, &mut declared);
                    }
                }
                Kind::Null => {}
                _ => self.wrong_shape("`config`", "a map", &e.value),
            }
        }
        let names: Vec<&str> = declared.keys().map(String::as_str).collect();
        // Values from the environment file: typed YAML, in template form.
        for e in env {
            let Some((ty, item, secret, _)) = declared.get(&e.key) else {
                let mut p = Problem::error(
                    codes::UNKNOWN_CONFIG,
                    format!("config `{}` is not declared by the template", e.key),
                )
                .at(Some(e.key_span), "unknown config key");
                p = p.help(suggest(&e.key, &names).unwrap_or_else(|| {
                    format!("declare `{}` under the template's `config:`", e.key)
                }));
                self.env_problems.push(p);
                continue;
            };
            if *secret {
                self.env_secret_spans.push(e.value_span);
            }
            if matches!(e.value, Value::Unknown) {
                self.broken.insert(e.key.clone());
                continue; // already reported
            }
            // Typed YAML: strict, like a template default (no string parsing).
            match (ty.is_none_or(|t| t.accepts(&e.value))
                && ConfigType::items_accept(*item, &e.value))
            .then(|| e.value.clone())
            {
                Some(v) => {
                    let v = if *secret { Value::secret(v) } else { v };
                    self.config.insert(e.key.clone(), v);
                    self.broken.remove(&e.key);
                }
                None => {
                    let what = match item {
                        Some(t) => format!("a list, each item {}", t.name()),
                        None => ty.map(ConfigType::name).unwrap_or("a value").to_string(),
                    };
                    self.env_problems.push(
                        Problem::error(
                            codes::INVALID_CONFIG,
                            format!("config `{}` must be {what}", e.key),
                        )
                        .at(Some(e.value_span), format!("expected {what}")),
                    );
                    self.config.remove(&e.key);
                    self.broken.insert(e.key.clone());
                }
            }
        }
        let mut unknown = Vec::new();
        for key in overrides.keys() {
            if !declared.contains_key(key) {
                let mut p = Problem::error(
                    codes::UNKNOWN_CONFIG,
                    format!("`--config {key}=...` sets a key this stack does not declare"),
                )
                .at(section.map(|e| e.key_span), "declared config keys are here");
                p = p.help(suggest(key, &names).unwrap_or_else(|| {
                    format!("declare it under `config:` first, e.g. `{key}: {{ type: string }}`")
                }));
                unknown.push(p);
            }
        }
        self.problems.extend(unknown);
        self.integer_config = declared
            .iter()
            .filter(|(_, (ty, ..))| matches!(ty, Some(ConfigType::Integer)))
            .map(|(k, _)| k.clone())
            .collect();
        for (key, (ty, item, secret, span)) in declared {
            let Some(raw) = overrides.get(&key) else {
                if !self.config.contains_key(&key) && !self.broken.contains(&key) {
                    self.push(
                        Problem::error(
                            codes::MISSING_CONFIG,
                            format!("config `{key}` has no value"),
                        )
                        .at(Some(span), "declared without a default")
                        .help(format!(
                            "pass `--config {key}=<value>`, or add a `default:`"
                        )),
                    );
                    self.broken.insert(key);
                }
                continue;
            };
            match coerce(raw, ty)
                .filter(|v| ConfigType::items_accept(item, v))
                .and_then(|v| escape_value(v, 0))
            {
                Some(v) => {
                    let v = if secret { Value::secret(v) } else { v };
                    self.config.insert(key, v);
                }
                None => {
                    let what = match item {
                        Some(t) => format!("a list, each item {}", t.name()),
                        None => ty.map(ConfigType::name).unwrap_or("a value").to_string(),
                    };
                    self.push(
                        Problem::error(
                            codes::INVALID_CONFIG,
                            format!("the value given for config `{key}` is not {what}"),
                        )
                        .at(Some(span), format!("declared as {what}")),
                    );
                    self.config.remove(&key);
                    self.broken.insert(key);
                }
            }
        }
    }

    fn config_entry(&mut self, c: &Entry, declared: &mut BTreeMap<String, Declared>) {
        if !is_valid_name(&c.key) {
            self.push(
                Problem::error(codes::INVALID_NAME, format!("`{}` is not a valid config key", c.key))
                    .at(Some(c.key_span), "invalid name")
                    .help("config keys may use letters, digits, `_` and `-`, so that `${key}` can refer to them"),
            );
            return;
        }
        let decl = entries(&c.value);
        // As in Pulumi, a map with any declaration key is a declaration; a
        // map with none is the value itself (a cairn extension Pulumi rejects).
        let is_decl = matches!(c.value.kind, Kind::Map(_))
            && decl
                .iter()
                .any(|e| CONFIG_DECL_KEYS.contains(&e.key.as_str()));
        if is_decl {
            for e in decl
                .iter()
                .filter(|e| !CONFIG_DECL_KEYS.contains(&e.key.as_str()))
            {
                self.broken.insert(c.key.clone());
                self.push(
                    Problem::error(
                        codes::UNKNOWN_KEY,
                        format!("`{}` is not part of a config declaration", e.key),
                    )
                    .at(Some(e.key_span), "unknown declaration key")
                    .help(format!(
                        "a declaration takes {}; to give a map as the value, put it under `value:`",
                        list(CONFIG_DECL_KEYS)
                    )),
                );
            }
        }
        if !is_decl {
            let v = self.config_value(&c.value);
            declared.insert(c.key.clone(), (ConfigType::of(&v), None, false, c.key_span));
            self.config.insert(c.key.clone(), v);
            return;
        }
        let mut ty = None;
        let mut list_of = None;
        let mut secret = false;
        if let Some(t) = find(&c.value, "type") {
            match t.value.as_str().map(|s| (s, ConfigType::parse(s))) {
                Some((s, Some(parsed))) => {
                    ty = Some(parsed);
                    list_of = ConfigType::list_item(s);
                }
                Some((s, None)) => {
                    let mut p = Problem::error(
                        codes::INVALID_CONFIG,
                        format!("config `{}` has unknown type `{s}`", c.key),
                    )
                    .at(Some(t.value.span), "unknown type");
                    // Reported once: not also as a missing value.
                    self.broken.insert(c.key.clone());
                    p = p.help(
                        suggest(s, CONFIG_TYPES)
                            .unwrap_or_else(|| format!("use one of {}", list(CONFIG_TYPES))),
                    );
                    self.push(p);
                }
                None => self.wrong_shape("a config `type`", "a string", &t.value),
            }
        }
        if let Some(s) = find(&c.value, "secret") {
            match s.value.kind {
                Kind::Bool(b) => secret = b,
                _ => self.wrong_shape("`secret`", "true or false", &s.value),
            }
        }
        if let Some(d) = find(&c.value, "description") {
            if d.value.as_str().is_none() {
                self.wrong_shape("`description`", "a string", &d.value);
            }
        }
        let items = find(&c.value, "items")
            .and_then(|i| self.config_items(&c.key, ty, i))
            .or(list_of);
        if let Some(d) = find(&c.value, "value").or_else(|| find(&c.value, "default")) {
            if secret {
                self.secret_spans.push(d.value.span);
            }
            let v = match (ty, self.config_value(&d.value)) {
                // As Pulumi's `registerConfig`: a whole number written as a
                // float (`3.0`) is an integer's default.
                (Some(ConfigType::Integer), Value::Float(x))
                    if x.fract() == 0.0 && x.abs() < 9.0e15 =>
                {
                    Value::Int(x as i64)
                }
                (_, v) => v,
            };
            let bad_item = match (&items, &v) {
                (Some(item), Value::List(values)) => values.iter().any(|x| !item.accepts(x)),
                _ => false,
            };
            match ty {
                Some(ConfigType::List) if bad_item => {
                    self.broken.insert(c.key.clone());
                    let item = items.map_or("", ConfigType::name);
                    self.push(
                        Problem::error(
                            codes::INVALID_CONFIG,
                            format!("every item of config `{}` must be {item}", c.key),
                        )
                        .at(
                            Some(d.value.span),
                            format!("expected a list of {item} values"),
                        ),
                    );
                }
                Some(t) if !t.accepts(&v) => {
                    self.broken.insert(c.key.clone());
                    self.push(
                        Problem::error(
                            codes::INVALID_CONFIG,
                            format!("the default of config `{}` must be {}", c.key, t.name()),
                        )
                        .at(Some(d.value.span), format!("expected {}", t.name())),
                    );
                }
                _ => {
                    let ty2 = ty.or_else(|| ConfigType::of(&v));
                    ty = ty2;
                    let v = if secret { Value::secret(v) } else { v };
                    self.config.insert(c.key.clone(), v);
                }
            }
        }
        declared.insert(c.key.clone(), (ty, items, secret, c.key_span));
    }

    /// The item type of a list declaration's `items: { type: ... }`.
    fn config_items(
        &mut self,
        key: &str,
        ty: Option<ConfigType>,
        items: &Entry,
    ) -> Option<ConfigType> {
        if ty != Some(ConfigType::List) {
            self.push(
                Problem::error(
                    codes::INVALID_CONFIG,
                    format!("config `{key}` has `items` but is not a list"),
                )
                .at(Some(items.key_span), "`items` without `type: array`")
                .help("`items` describes the elements of `type: array` (or `list`)"),
            );
            return None;
        }
        let parsed = find(&items.value, "type")
            .and_then(|t| t.value.as_str())
            .and_then(ConfigType::parse);
        if parsed.is_none() {
            self.wrong_shape(
                "`items`",
                "`{ type: string | integer | boolean | number | list | map }`",
                &items.value,
            );
        }
        parsed
    }

    /// A config value: no references (config is the stack's input).
    pub(crate) fn config_value(&mut self, node: &Node) -> Value {
        let mut spans = BTreeMap::new();
        let before = self.problems.len();
        let v = self.eval_with(node, &PropertyPath::root(), &mut spans, false);
        if self.problems.len() > before {
            return Value::Unknown;
        }
        v
    }

    // ------------------------------------------------------------- variables

    fn load_variables(&mut self, section: Option<&Entry>) {
        let Some(e) = section else { return };
        let list = match &e.value.kind {
            Kind::Map(list) => list,
            Kind::Null => return,
            _ => return self.wrong_shape("`variables`", "a map", &e.value),
        };
        let mut valid: Vec<&Entry> = Vec::new();
        for v in list {
            if !is_valid_name(&v.key) {
                self.push(
                    Problem::error(codes::INVALID_NAME, format!("`{}` is not a valid variable name", v.key))
                        .at(Some(v.key_span), "invalid name")
                        .help("variable names may use letters, digits, `_` and `-`, so that `${name}` can refer to them"),
                );
            } else if self.config.contains_key(&v.key) || self.broken.contains(&v.key) {
                self.push(
                    Problem::error(
                        codes::NAME_CONFLICT,
                        format!("`{}` is both a config key and a variable", v.key),
                    )
                    .at(Some(v.key_span), "already a config key")
                    .help("rename one of them: `${name}` must mean one thing"),
                );
            } else {
                valid.push(v);
            }
        }
        let names: BTreeSet<&str> = valid.iter().map(|v| v.key.as_str()).collect();
        // Dependencies among variables.
        let mut deps: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for v in &valid {
            let mut roots = BTreeSet::new();
            collect_roots(&v.value, &mut roots);
            roots.retain(|r| names.contains(r.as_str()));
            deps.insert(v.key.as_str(), roots);
        }
        // Kahn's algorithm, in source order for determinism.
        let mut done: BTreeSet<String> = BTreeSet::new();
        loop {
            let ready: Vec<&Entry> = valid
                .iter()
                .copied()
                .filter(|v| !done.contains(&v.key))
                .filter(|v| {
                    deps.get(v.key.as_str())
                        .is_some_and(|d| d.iter().all(|x| done.contains(x)))
                })
                .collect();
            if ready.is_empty() {
                break;
            }
            for v in ready {
                let mut spans = BTreeMap::new();
                let before = self.problems.len();
                self.variable_invoke = matches!(&v.value.kind, Kind::Map(list) if list.len() == 1 && is_invoke_key(&list[0].key));
                let value = self.eval(&v.value, &PropertyPath::root(), &mut spans);
                self.variable_invoke = false;
                if self.problems.len() > before {
                    self.broken.insert(v.key.clone());
                } else {
                    self.variables.insert(v.key.clone(), value);
                }
                done.insert(v.key.clone());
            }
        }
        let cyclic: Vec<&Entry> = valid
            .iter()
            .copied()
            .filter(|v| !done.contains(&v.key))
            .collect();
        if let Some(first) = cyclic.first() {
            let names: Vec<String> = cyclic.iter().map(|v| format!("`{}`", v.key)).collect();
            let mut p = Problem::error(
                codes::VARIABLE_CYCLE,
                format!(
                    "variables {} refer to each other in a cycle",
                    names.join(", ")
                ),
            )
            .at(Some(first.key_span), "this variable is part of the cycle");
            for other in cyclic.iter().skip(1) {
                p = p.also_at(other.key_span, "and this one");
            }
            self.push(
                p.help("a variable may only use config keys and variables defined without a cycle"),
            );
            for v in cyclic {
                self.broken.insert(v.key.clone());
            }
        }
    }

    // ------------------------------------------------------------- resources

    fn load_resource(&mut self, r: &Entry) -> ResourceSpec {
        if self.config.contains_key(&r.key)
            || self.variables.contains_key(&r.key)
            || self.broken.contains(&r.key)
        {
            self.push(
                Problem::error(
                    codes::NAME_CONFLICT,
                    format!(
                        "`{}` is both a resource and a config key or variable",
                        r.key
                    ),
                )
                .at(Some(r.key_span), "name already used")
                .help("rename one of them: `${name}` must mean one thing"),
            );
        }
        let mut spec = ResourceSpec::new(&r.key, "", Map::new());
        spec.spans.insert(PropertyPath::root(), r.key_span);
        let node = &r.value;
        match &node.kind {
            Kind::Map(_) => {}
            _ => {
                self.wrong_shape(
                    &format!("resource `{}`", r.key),
                    "a map with `type` and `properties`",
                    node,
                );
                // Kept (without a type) so references to it are not reported too.
                return spec;
            }
        }
        for e in entries(node) {
            if !RESOURCE_KEYS.contains(&e.key.as_str()) {
                let mut p = Problem::error(
                    codes::UNKNOWN_KEY,
                    format!("resource `{}` has unknown key `{}`", r.key, e.key),
                )
                .at(Some(e.key_span), "unknown key");
                p = if e.key == "name" {
                    // Pulumi YAML's logical-name override.
                    p.help("cairn names a resource by its key alone (state, `${...}` references and `cairn:urn` tags use it): rename the key, or set the type's own name property (e.g. `bucket`, `name`) under `properties`")
                } else {
                    p.help(suggest(&e.key, RESOURCE_KEYS).unwrap_or_else(|| {
                        format!(
                            "a resource may contain {}, or `get` to read one",
                            list(RESOURCE_KEYS)
                        )
                    }))
                };
                self.push(p);
            }
        }
        if let Some(d) = find(node, "defaultProvider") {
            let is_provider = find(node, "type")
                .and_then(|t| t.value.as_str())
                .is_some_and(|t| t.trim().starts_with(crate::providers::PROVIDER_PREFIX));
            match (&d.value.kind, is_provider) {
                (Kind::Bool(_), true) => {}
                (Kind::Bool(_), false) => self.push(
                    Problem::error(
                        codes::INVALID_OPTION,
                        format!("`{}` is not a provider, so it cannot be a default provider", r.key),
                    )
                    .at(Some(d.key_span), "only on a provider")
                    .help("`defaultProvider: true` goes on a `pulumi:providers:<package>` resource, as in Pulumi; remove it here"),
                ),
                _ => self.wrong_shape("`defaultProvider`", "true or false", &d.value),
            }
        }
        match find(node, "type") {
            None => {
                self.push(
                    Problem::error(
                        codes::MISSING_KEY,
                        format!("resource `{}` has no `type`", r.key),
                    )
                    .at(Some(r.key_span), "`type` is missing")
                    .help("add a type token, e.g. `type: aws:kms:Key`"),
                );
            }
            Some(t) => {
                spec.spans.insert(type_path(), t.value.span);
                match &t.value.kind {
                    // Pulumi's `aws:ec2/vpc:Vpc` is `aws:ec2:Vpc`.
                    Kind::Str { text, .. } if !text.trim().is_empty() => {
                        spec.type_token = cairn_core::provider::canonical_token(text).into_owned()
                    }
                    _ => self.wrong_shape("`type`", "a type token such as `aws:kms:Key`", &t.value),
                }
            }
        }
        if let Some(p) = find(node, "properties") {
            match &p.value.kind {
                Kind::Map(list) => {
                    for e in list {
                        let path = PropertyPath::key(e.key.clone());
                        spec.spans.insert(key_path(&path), e.key_span);
                        let v = self.eval(&e.value, &path, &mut spec.spans);
                        if !matches!(v, Value::Null) {
                            spec.properties.insert(e.key.clone(), v);
                        }
                    }
                }
                Kind::Null => {}
                _ => self.wrong_shape(
                    "`properties`",
                    "a map of property names to values",
                    &p.value,
                ),
            }
        }
        if let Some(o) = find(node, "options") {
            spec.spans.insert(
                PropertyPath::key(cairn_core::validate::OPTIONS_KEY),
                o.value.span,
            );
            match &o.value.kind {
                Kind::Map(list) => {
                    let mut options = ResourceOptions::default();
                    for e in list {
                        self.option(&r.key, e, &mut options, &mut spec.spans);
                    }
                    spec.options = options;
                }
                Kind::Null => {}
                _ => self.wrong_shape("`options`", "a map", &o.value),
            }
        }
        spec
    }

    fn invalid_option(&mut self, name: &str, expected: &str, span: Option<Span>) {
        let label = if expected.len() > 40 {
            "invalid value".to_string()
        } else {
            format!("expected {expected}")
        };
        self.push(
            Problem::error(
                codes::INVALID_OPTION,
                format!("option `{name}` must be {expected}"),
            )
            .at(span, label),
        );
    }

    fn option(
        &mut self,
        resource: &str,
        e: &Entry,
        options: &mut ResourceOptions,
        spans: &mut BTreeMap<PropertyPath, Span>,
    ) {
        let name = e.key.as_str();
        if !OPTIONS.contains(&name) {
            let mut p = Problem::error(
                codes::UNKNOWN_OPTION,
                format!("resource `{resource}` has unknown option `{name}`"),
            )
            .at(Some(e.key_span), "unknown option");
            p = p.help(if PULUMI_ONLY_OPTIONS.contains(&name) {
                format!(
                    "cairn does not support Pulumi's `{name}` option; supported: {}",
                    list(OPTIONS)
                )
            } else {
                suggest(name, OPTIONS)
                    .unwrap_or_else(|| format!("supported options: {}", list(OPTIONS)))
            });
            self.push(p);
            return;
        }
        let path = option_path(name);
        if name == "parent" {
            // Read as written (not evaluated): `parents.rs` checks the name.
            match e.value.as_str().and_then(interp::whole_reference) {
                Some((root, p)) if p.0.is_empty() => {
                    options.parent = Some(root);
                    spans.insert(path, e.value.span);
                }
                _ => {
                    self.invalid_option(
                        name,
                        "a resource reference such as `${group}`",
                        Some(e.value.span),
                    );
                    if let Some(p) = self.problems.last_mut() {
                        p.help = Some(
                            "write `parent: ${name}` naming another resource of the program".into(),
                        );
                    }
                }
            }
            return;
        }
        let before = self.problems.len();
        let value = self.eval(&e.value, &path, spans);
        if self.problems.len() > before || value.contains_unknown() {
            return; // already reported
        }
        let span = Some(e.value.span);
        let value = match value {
            Value::Secret(inner) => *inner,
            v => v,
        };
        match name {
            "protect" | "retainOnDelete" | "deleteBeforeReplace" => {
                let Value::Bool(b) = value else {
                    self.invalid_option(name, "true or false", span);
                    if let (Value::String(s), Some(p)) = (&value, self.problems.last_mut()) {
                        if matches!(
                            s.to_ascii_lowercase().as_str(),
                            "yes" | "no" | "on" | "off" | "y" | "n"
                        ) {
                            p.help = Some(
                                "write `true` or `false`: YAML 1.2 reads yes/no/on/off as strings"
                                    .into(),
                            );
                        }
                    }
                    return;
                };
                match name {
                    "protect" => options.protect = b,
                    "retainOnDelete" => options.retain_on_delete = b,
                    _ => options.delete_before_replace = b,
                }
            }
            "import" => match value {
                Value::String(s) if !s.trim().is_empty() && !has_reference(&s) => {
                    options.import = Some(s.replace("$$", "$"))
                }
                _ => self.invalid_option(
                    name,
                    "a cloud resource id known when the stack is loaded",
                    span,
                ),
            },
            "dependsOn" => {
                let Value::List(items) = value else {
                    return self.invalid_option(
                        name,
                        "a list of resource names, e.g. `[redisKey]`",
                        span,
                    );
                };
                let mut invalid = false;
                for (i, item) in items.iter().enumerate() {
                    let at = spans.get(&path.index(i)).copied().or(span);
                    let dep = match item {
                        Value::String(s) => match interp::whole_reference(s) {
                            Some((root, p)) if p.0.is_empty() => Some(root),
                            Some(_) => None,
                            None if is_valid_name(s) => Some(s.clone()),
                            None => None,
                        },
                        _ => None,
                    };
                    match dep {
                        Some(d) => options.depends_on.push(d),
                        None => {
                            self.invalid_option(
                                "dependsOn",
                                "a list of resource names (`name` or `${name}`)",
                                at,
                            );
                            invalid = true;
                        }
                    }
                }
                if invalid {
                    // Indices must match the recorded spans; the error is reported.
                    options.depends_on.clear();
                }
            }
            "ignoreChanges" => {
                let Value::List(items) = value else {
                    return self.invalid_option(name, "a list of property names", span);
                };
                let mut invalid = false;
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) if option_property_path(s).is_some() => {
                            options.ignore_changes.push(s.clone())
                        }
                        _ => {
                            let at = spans.get(&path.index(i)).copied().or(span);
                            self.invalid_option(
                                name,
                                "a list of property paths (`tags`, `tags.env`, `tags[\"env\"]`)",
                                at,
                            );
                            invalid = true;
                        }
                    }
                }
                if invalid {
                    options.ignore_changes.clear();
                }
            }
            "deletedWith" => {
                let target = match &value {
                    Value::String(s) => match interp::whole_reference(s) {
                        Some((root, p)) if p.0.is_empty() => Some(root),
                        Some(_) => None,
                        None if is_valid_name(s) => Some(s.clone()),
                        None => None,
                    },
                    _ => None,
                };
                match target {
                    Some(t) => options.deleted_with = Some(t),
                    None => {
                        self.invalid_option(name, "a resource name (`name` or `${name}`)", span)
                    }
                }
            }
            "replaceOnChanges" | "additionalSecretOutputs" => {
                let expected = if name == "replaceOnChanges" {
                    "a list of property paths (`name`, `tags.env`, `ingress[0].port`) or `*`"
                } else {
                    "a list of output names"
                };
                let Value::List(items) = value else {
                    return self.invalid_option(name, expected, span);
                };
                for (i, item) in items.iter().enumerate() {
                    let ok = match item {
                        Value::String(s) if name == "additionalSecretOutputs" => is_valid_name(s),
                        Value::String(s) => s == "*" || option_property_path(s).is_some(),
                        _ => false,
                    };
                    match (ok, item) {
                        (true, Value::String(s)) if name == "replaceOnChanges" => {
                            options.replace_on_changes.push(s.clone())
                        }
                        (true, Value::String(s)) => {
                            options.additional_secret_outputs.push(s.clone())
                        }
                        _ => {
                            let at = spans.get(&path.index(i)).copied().or(span);
                            self.invalid_option(name, expected, at);
                            if let Some(p) = self.problems.last_mut() {
                                p.help = Some(if name == "replaceOnChanges" {
                                    "write a property path as in a reference: `tags.env`, `tags[\"a.b\"]`, `ingress[0].port`".into()
                                } else {
                                    "name outputs of the resource's type (`cairn schema` lists them)".into()
                                });
                            }
                        }
                    }
                }
            }
            "aliases" => {
                let Value::List(items) = value else {
                    return self.invalid_option(
                        name,
                        "a list of former URNs or `{name, type}` maps",
                        span,
                    );
                };
                for (i, item) in items.iter().enumerate() {
                    let at = spans.get(&path.index(i)).copied().or(span);
                    match former_parent(item) {
                        Some(Ok((former, only_parent))) => {
                            options.parent_aliases.push(former);
                            if only_parent {
                                continue;
                            }
                        }
                        Some(Err(help)) => {
                            self.invalid_option(
                                "aliases",
                                "a list of former URNs or `{name, type}` maps",
                                at,
                            );
                            if let Some(p) = self.problems.last_mut() {
                                p.help = Some(help);
                            }
                            continue;
                        }
                        None => {}
                    }
                    match parse_alias(resource, item) {
                        Ok(a) => options.aliases.push(a),
                        Err(help) => {
                            self.invalid_option(
                                "aliases",
                                "a list of former URNs or `{name, type}` maps",
                                at,
                            );
                            if let Some(p) = self.problems.last_mut() {
                                p.help = Some(help);
                            }
                        }
                    }
                }
            }
            "customTimeouts" => {
                let Value::Map(m) = value else {
                    return self.invalid_option(
                        name,
                        "a map with `create`, `update` and/or `delete`",
                        span,
                    );
                };
                for (k, v) in &m {
                    let key_span = spans.get(&key_path(&path.child(k.clone()))).copied();
                    let at = spans.get(&path.child(k.clone())).copied().or(span);
                    if !TIMEOUT_KEYS.contains(&k.as_str()) {
                        let mut p = Problem::error(
                            codes::UNKNOWN_OPTION,
                            format!("`customTimeouts` has no `{k}`"),
                        )
                        .at(key_span.or(at), "unknown timeout");
                        p = p.help(
                            suggest(k, TIMEOUT_KEYS)
                                .unwrap_or_else(|| format!("use {}", list(TIMEOUT_KEYS))),
                        );
                        self.push(p);
                        continue;
                    }
                    let Some(secs) = timeout_secs(v) else {
                        self.invalid_option(
                            &format!("customTimeouts.{k}"),
                            "a Go duration such as \"1.5h\", \"90m\" or \"10m30s\", or seconds",
                            at,
                        );
                        if let Some(p) = self.problems.last_mut() {
                            p.help = Some("a duration is numbers with units h, m, s, ms, us or ns, as Go's time.ParseDuration reads them (\"1h30m\", \"2.5m\")".into());
                        }
                        continue;
                    };
                    match k.as_str() {
                        "create" => options.custom_timeouts.create = Some(secs),
                        "update" => options.custom_timeouts.update = Some(secs),
                        _ => options.custom_timeouts.delete = Some(secs),
                    }
                }
            }
            _ => {}
        }
    }

    // ---------------------------------------------------------------- policy

    pub(crate) fn load_policy(&mut self, node: &Node) -> Vec<Waiver> {
        let mut out = Vec::new();
        match &node.kind {
            Kind::Map(list) => {
                for e in list {
                    if e.key != "waivers" {
                        let p = Problem::error(
                            codes::UNKNOWN_KEY,
                            format!("`policy` has unknown key `{}`", e.key),
                        )
                        .at(Some(e.key_span), "unknown key")
                        .help(
                            suggest(&e.key, &["waivers"])
                                .unwrap_or_else(|| "`policy` may contain `waivers`".into()),
                        );
                        self.push(p);
                    }
                }
            }
            Kind::Null => return out,
            _ => {
                self.wrong_shape("`policy`", "a map", node);
                return out;
            }
        }
        let Some(w) = find(node, "waivers") else {
            return out;
        };
        let items = match &w.value.kind {
            Kind::Seq(items) => items,
            Kind::Null => return out,
            _ => {
                self.wrong_shape("`policy.waivers`", "a list", &w.value);
                return out;
            }
        };
        for item in items {
            if !matches!(item.kind, Kind::Map(_)) {
                self.wrong_shape(
                    "a waiver",
                    "a map with `rule`, `resource` and `reason`",
                    item,
                );
                continue;
            }
            let mut ok = true;
            for e in entries(item) {
                if !["rule", "resource", "reason"].contains(&e.key.as_str()) {
                    self.push(
                        Problem::error(
                            codes::UNKNOWN_KEY,
                            format!("a waiver has no key `{}`", e.key),
                        )
                        .at(Some(e.key_span), "unknown key")
                        .help(
                            suggest(&e.key, &["rule", "resource", "reason"]).unwrap_or_else(|| {
                                "a waiver has `rule`, `resource` and `reason`".into()
                            }),
                        ),
                    );
                    ok = false;
                }
            }
            let mut text = |key: &str, required: bool| -> Option<String> {
                match find(item, key) {
                    Some(e) => match e.value.as_str() {
                        Some(s) => Some(s.to_string()),
                        None => {
                            self.wrong_shape(&format!("waiver `{key}`"), "a string", &e.value);
                            ok = false;
                            None
                        }
                    },
                    None => {
                        if required {
                            self.push(
                                Problem::error(codes::MISSING_KEY, format!("a waiver has no `{key}`"))
                                    .at(Some(item.span), format!("`{key}` is missing"))
                                    .help("each waiver names the `rule`, optionally the `resource`, and gives a `reason`"),
                            );
                            ok = false;
                        }
                        None
                    }
                }
            };
            let rule = text("rule", true);
            let resource = text("resource", false);
            let reason = text("reason", true);
            if let (true, Some(rule), Some(reason)) = (ok, rule, reason) {
                out.push(Waiver {
                    rule,
                    resource,
                    reason,
                    span: Some(item.span),
                });
            }
        }
        out
    }

    // ------------------------------------------------------------ evaluation

    /// Evaluates a node: `${config}`/`${variable}` substituted, resource
    /// references kept as text, `fn::` functions applied. Records the span
    /// of every value (and map key) under `path`.
    fn eval(
        &mut self,
        node: &Node,
        path: &PropertyPath,
        spans: &mut BTreeMap<PropertyPath, Span>,
    ) -> Value {
        self.eval_with(node, path, spans, true)
    }

    fn eval_with(
        &mut self,
        node: &Node,
        path: &PropertyPath,
        spans: &mut BTreeMap<PropertyPath, Span>,
        refs: bool,
    ) -> Value {
        spans.insert(path.clone(), node.span);
        match &node.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Int(i) => Value::Int(*i),
            Kind::Float(f) => Value::Float(*f),
            Kind::Invalid => Value::Unknown,
            Kind::Str { text, at } => {
                if refs {
                    self.interpolate(text, node.span, *at)
                } else {
                    if has_reference(text) {
                        self.push(
                            Problem::error(
                                codes::REFERENCE_IN_CONFIG,
                                "config values cannot contain `${...}` references",
                            )
                            .at(Some(node.span), "reference in a config value")
                            .help("config is the stack's input; compute derived values under `variables:`"),
                        );
                        return Value::Unknown;
                    }
                    Value::String(text.clone())
                }
            }
            Kind::Seq(items) => Value::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, n)| self.eval_with(n, &path.index(i), spans, refs))
                    .collect(),
            ),
            Kind::Map(list) => {
                if let Some(f) = list.iter().find(|e| e.key.starts_with("fn::")) {
                    if list.len() == 1 {
                        let v = self.function(f, path, spans, refs);
                        // A computed value is the whole call's (its arguments
                        // keep theirs); `fn::secret` stays transparent.
                        let key = f.key.to_ascii_lowercase();
                        if key != "fn::secret" && key != "fn::unsecret" {
                            spans.insert(path.clone(), node.span);
                        }
                        return v;
                    }
                    self.push(
                        Problem::error(
                            codes::UNSUPPORTED_FUNCTION,
                            format!("`{}` must be the only key of its map", f.key),
                        )
                        .at(Some(f.key_span), "function call")
                        .help(format!(
                            "write `{}: <value>` on its own, as the whole value",
                            f.key
                        )),
                    );
                    return Value::Unknown;
                }
                let mut m = Map::new();
                for e in list {
                    // As in Pulumi YAML, a key is an interpolated string too.
                    let key = if refs && e.key.contains('$') {
                        match self.map_key(e) {
                            Some(key) => key,
                            None => continue,
                        }
                    } else {
                        e.key.clone()
                    };
                    if m.contains_key(&key) {
                        self.push(
                            Problem::error(
                                codes::DUPLICATE_KEY,
                                format!("the key `{key}` appears twice in this map"),
                            )
                            .at(Some(e.key_span), "evaluates to a key already present")
                            .help("each key of a map must be unique after interpolation"),
                        );
                        continue;
                    }
                    let child = path.child(key.clone());
                    spans.insert(key_path(&child), e.key_span);
                    let v = self.eval_with(&e.value, &child, spans, refs);
                    m.insert(key, v);
                }
                Value::Map(m)
            }
        }
    }

    /// The literal text of an interpolated map key; `None` after a diagnostic.
    fn map_key(&mut self, e: &Entry) -> Option<String> {
        let text = match self.interpolate(&e.key, e.key_span, None) {
            Value::String(text) => text,
            Value::Unknown => return None,
            other => {
                self.push(
                    Problem::error(
                        codes::WRONG_SHAPE,
                        format!("a map key must be a string, not {}", other.type_name()),
                    )
                    .at(Some(e.key_span), "not a string")
                    .help("interpolate the value into text, e.g. `key-${name}`"),
                );
                return None;
            }
        };
        let parts = interp::parse(&text).ok()?;
        if parts.iter().any(|p| matches!(p, Part::Ref { .. })) {
            self.push(
                Problem::error(
                    codes::UNSUPPORTED_KEY_REFERENCE,
                    "a map key cannot name a resource output",
                )
                .at(Some(e.key_span), "known only at apply")
                .help("keys may use config and variables (known when the stack loads); put resource outputs in values"),
            );
            return None;
        }
        Some(
            parts
                .into_iter()
                .map(|p| match p {
                    Part::Literal(l) => l,
                    Part::Ref { .. } => String::new(),
                })
                .collect(),
        )
    }

    fn function(
        &mut self,
        f: &Entry,
        path: &PropertyPath,
        spans: &mut BTreeMap<PropertyPath, Span>,
        refs: bool,
    ) -> Value {
        // As in Pulumi YAML, function names are not case-sensitive.
        let lower = f.key.to_ascii_lowercase();
        if let Some(name) = functions::BUILTINS
            .iter()
            .find(|b| b.to_ascii_lowercase() == lower)
        {
            return self.builtin(name, f, path, spans, refs);
        }
        if lower == "fn::invoke" {
            return self.invoke(f, None, path, spans, refs);
        }
        if let Some(token) = f.key.get(4..).filter(|t| t.contains(':')) {
            return self.invoke(f, Some(token), path, spans, refs);
        }
        let canonical = FUNCTIONS
            .iter()
            .find(|b| b.to_ascii_lowercase() == lower)
            .copied()
            .unwrap_or(f.key.as_str());
        match canonical {
            "fn::secret" => {
                self.secret_spans.push(f.value.span);
                let inner = self.eval_with(&f.value, path, spans, refs);
                match inner {
                    Value::Unknown => Value::Unknown,
                    v => Value::secret(v),
                }
            }
            "fn::toJSON" => {
                let inner = self.eval_with(&f.value, path, spans, refs);
                if inner.contains_unknown() {
                    return Value::Unknown;
                }
                // Go's `json.Marshal`, as Pulumi YAML writes it. Strings inside
                // are templates already; the JSON text is one too.
                // A resource output in it is written as JSON once known
                // (`${@json:...}`), as Pulumi's `toJSON` of an output is.
                let text = match cairn_core::gojson::to_go_json_template(&inner) {
                    Ok(text) => text,
                    Err(_) => {
                        self.push(
                            Problem::error(
                                codes::UNSUPPORTED_FUNCTION,
                                "`fn::toJSON` cannot encode NaN or infinity",
                            )
                            .at(Some(f.value.span), "not a finite number")
                            .help("JSON has no NaN or infinity; write a finite number or a string"),
                        );
                        return Value::Unknown;
                    }
                };
                if inner.contains_secret() {
                    Value::secret(Value::String(text))
                } else {
                    Value::String(text)
                }
            }
            other => {
                let mut p = Problem::error(
                    codes::UNSUPPORTED_FUNCTION,
                    format!("function `{other}` is not supported"),
                )
                .at(Some(f.key_span), "unsupported function");
                p = p.help(
                    suggest(other, FUNCTIONS)
                        .unwrap_or_else(|| format!("supported: {}", list(FUNCTIONS))),
                );
                self.push(p);
                Value::Unknown
            }
        }
    }

    fn root(&self, name: &str) -> Root<'_> {
        if let Some(v) = self.config.get(name).or_else(|| self.variables.get(name)) {
            Root::Value(v)
        } else if name == "pulumi" && !self.resources.contains(name) {
            Root::Value(&self.pulumi)
        } else if self.broken.contains(name) {
            Root::Broken
        } else if self.resources.contains(name) {
            Root::Resource
        } else {
            Root::Unknown
        }
    }

    /// The span of `len` bytes at byte `offset` of a string value.
    fn sub_span(
        &self,
        span: Span,
        at: Option<usize>,
        text: &str,
        offset: usize,
        len: usize,
    ) -> Span {
        if let Some(at) = at {
            let end = at + offset + len;
            if at >= span.offset && end <= span.offset + span.len {
                return Span::new(at + offset, len);
            }
        }
        let needle = text.get(offset..offset + len).unwrap_or_default();
        cairn_core::validate::locate_in_span(Some(self.source), span, needle)
    }

    fn interpolate(&mut self, text: &str, span: Span, at: Option<usize>) -> Value {
        if !text.contains("${") {
            return Value::String(text.to_string());
        }
        let parts = match interp::parse(text) {
            Ok(parts) => parts,
            Err(e) => {
                let rest = text.len().saturating_sub(e.offset).min(2);
                let at_span = self.sub_span(span, at, text, e.offset, rest);
                self.push(
                    Problem::error(codes::BAD_INTERPOLATION, format!("invalid reference: {}", e.message))
                        .at(Some(at_span), "malformed `${...}`")
                        .help("write references as `${name}` or `${resource.output}`; write a literal `${` as `$${`"),
                );
                return Value::Unknown;
            }
        };
        let whole = parts.len() == 1;
        let mut out = String::with_capacity(text.len());
        let mut secret = false;
        let mut failed = false;
        for part in &parts {
            let (root, path, offset, len) = match part {
                Part::Literal(l) => {
                    out.push_str(&escape(l));
                    continue;
                }
                Part::Ref {
                    root,
                    path,
                    offset,
                    len,
                    format: interp::RefFormat::Text,
                } => (root, path, *offset, *len),
                // `${@json:...}` is what `fn::toJSON` writes, not a reference.
                Part::Ref { offset, len, .. } => {
                    let s = self.sub_span(span, at, text, *offset, *len);
                    self.push(
                        Problem::error(
                            codes::BAD_INTERPOLATION,
                            "invalid reference: a name starts with a letter, digit or `_`",
                        )
                        .at(Some(s), "malformed `${...}`")
                        .help("write references as `${name}` or `${resource.output}`; write a literal `${` as `$${`"),
                    );
                    failed = true;
                    continue;
                }
            };
            let raw = text.get(offset..offset + len).unwrap_or_default();
            match self.root(root) {
                Root::Resource => {
                    if out.ends_with('$') {
                        let s = self.sub_span(span, at, text, offset, len);
                        self.push(
                            Problem::error(
                                codes::BAD_INTERPOLATION,
                                "a `$` directly before a reference cannot be represented",
                            )
                            .at(Some(s), "after a `$`")
                            .help("put another character between the `$` and the reference"),
                        );
                        failed = true;
                    }
                    out.push_str(raw);
                }
                Root::Broken => failed = true,
                Root::Unknown => {
                    let n = self.resources.len() + self.config.len() + self.variables.len();
                    let hint = if self.budget >= n {
                        self.budget -= n;
                        let mut candidates: Vec<&str> =
                            self.resources.iter().map(String::as_str).collect();
                        candidates.extend(self.config.keys().map(String::as_str));
                        candidates.extend(self.variables.keys().map(String::as_str));
                        suggest(root, &candidates)
                    } else {
                        None
                    };
                    let help = hint.unwrap_or_else(|| {
                        "a reference names a resource (`${resource.output}`), a config key or a variable".into()
                    });
                    let s = self.sub_span(span, at, text, offset, len);
                    self.push(
                        Problem::error(
                            codes::UNKNOWN_REFERENCE,
                            format!("`{root}` is not a resource, config key or variable"),
                        )
                        .at(Some(s), "unknown name")
                        .help(help),
                    );
                    failed = true;
                }
                Root::Value(v) => match select(v, path) {
                    Err((at_seg, keys)) => {
                        let seg = path.0.get(at_seg).map(|s| match s {
                            PathSegment::Key(k) => k.clone(),
                            PathSegment::Index(i) => format!("[{i}]"),
                        });
                        let seg = seg.unwrap_or_default();
                        let prefix = PropertyPath(path.0.iter().take(at_seg).cloned().collect());
                        let owner = if prefix.0.is_empty() {
                            format!("`{root}`")
                        } else {
                            format!("`{root}.{prefix}`")
                        };
                        let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
                        let hint = if self.budget >= key_refs.len() {
                            self.budget -= key_refs.len();
                            suggest(&seg, &key_refs)
                        } else {
                            None
                        };
                        let help = hint.unwrap_or_else(|| {
                            if key_refs.is_empty() {
                                format!("{owner} has nothing to select with `{seg}`")
                            } else {
                                format!("{owner} has {}", list(&key_refs))
                            }
                        });
                        let s = self.sub_span(span, at, text, offset, len);
                        self.push(
                            Problem::error(
                                codes::UNKNOWN_REFERENCE_PATH,
                                format!("{owner} has no `{seg}`"),
                            )
                            .at(Some(s), "no such key")
                            .help(help),
                        );
                        failed = true;
                    }
                    Ok(value) => {
                        if whole && !failed {
                            return value;
                        }
                        let (inner, is_secret) = match &value {
                            Value::Secret(inner) => (inner.as_ref(), true),
                            v => (v, false),
                        };
                        secret |= is_secret;
                        let ours = match inner {
                            Value::Int(i) => Some(i.to_string()),
                            Value::Float(f) => Some(f.to_string()),
                            Value::Null => Some(String::new()),
                            _ => None,
                        };
                        let digits = self.integer_config.contains(root.as_str());
                        if let (Some(ours), Some(theirs)) = (&ours, pulumi_text(inner)) {
                            if *ours != theirs && !digits {
                                let s = self.sub_span(span, at, text, offset, len);
                                self.push(
                                    Problem::warning(
                                        codes::TEXT_DIFFERS,
                                        if is_secret {
                                            // Never the value of a secret, even in a warning.
                                            format!("`{raw}` (secret) is written differently here from the text Pulumi writes")
                                        } else {
                                            format!("`{raw}` is written `{ours}` here; Pulumi writes `{theirs}`")
                                        },
                                    )
                                    .at(Some(s), "spliced into text")
                                    .help(if matches!(inner, Value::Null) {
                                        "give the value a default, or leave the reference out"
                                    } else {
                                        "Pulumi splices YAML numbers as Go float64s (`%v`); write the number as a string (quoted) to mean the same text in both, or an `Integer` config, which Pulumi writes in digits"
                                    }),
                                );
                            }
                        }
                        match inner {
                            Value::String(s) => out.push_str(s),
                            Value::Int(i) => out.push_str(&i.to_string()),
                            Value::Float(f) => out.push_str(&f.to_string()),
                            Value::Bool(b) => out.push_str(&b.to_string()),
                            Value::Null => {}
                            Value::Unknown => failed = true,
                            other => {
                                let s = self.sub_span(span, at, text, offset, len);
                                self.push(
                                    Problem::error(
                                        codes::BAD_INTERPOLATION,
                                        format!("`{raw}` is a {} and cannot be placed inside text", other.type_name()),
                                    )
                                    .at(Some(s), format!("a {} inside a string", other.type_name()))
                                    .help("use the reference as the whole value to insert a list or map"),
                                );
                                failed = true;
                            }
                        }
                    }
                },
            }
        }
        if failed {
            Value::Unknown
        } else if secret {
            Value::secret(Value::String(out))
        } else {
            Value::String(out)
        }
    }
}

/// What Pulumi YAML writes for a null or a number spliced into text: Go's
/// `%v` of `nil` or of a float64 (`<nil>`, `1e+06`, `1.5e-05`).
fn pulumi_text(v: &Value) -> Option<String> {
    let f = match v {
        Value::Null => return Some("<nil>".into()),
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        _ => return None,
    };
    if !f.is_finite() {
        return None;
    }
    let abs = f.abs();
    if abs == 0.0 || (1e-4..1e6).contains(&abs) {
        // Shortest digits, as Rust writes them too.
        return Some(if f.fract() == 0.0 {
            format!("{}", f as i64)
        } else {
            format!("{f}")
        });
    }
    // `%e` with Go's exponent: a sign and at least two digits.
    let e = format!("{f:e}");
    let (mantissa, exp) = e.split_once('e')?;
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    Some(format!("{mantissa}e{sign}{digits:0>2}"))
}

/// The value at `path` inside `v`, secret when any enclosing value is.
/// On failure: the index of the segment that failed and the keys available there.
fn select(v: &Value, path: &PropertyPath) -> Result<Value, (usize, Vec<String>)> {
    let mut current = v;
    let mut secret = false;
    for (i, seg) in path.0.iter().enumerate() {
        while let Value::Secret(inner) = current {
            secret = true;
            current = inner;
        }
        current = match (current, seg) {
            (Value::Map(m), PathSegment::Key(k)) => match m.get(k) {
                Some(x) => x,
                None => return Err((i, m.keys().cloned().collect())),
            },
            (Value::List(l), PathSegment::Index(n)) => match l.get(*n) {
                Some(x) => x,
                None => return Err((i, Vec::new())),
            },
            (Value::Map(m), PathSegment::Index(_)) => return Err((i, m.keys().cloned().collect())),
            _ => return Err((i, Vec::new())),
        };
    }
    let out = current.clone();
    Ok(if secret { Value::secret(out) } else { out })
}

/// Every `${root...}` root named in strings under `node`.
fn collect_roots(node: &Node, out: &mut BTreeSet<String>) {
    match &node.kind {
        Kind::Str { text, .. } if text.contains("${") => {
            out.extend(interp::references(text).into_iter().map(|(r, _)| r));
        }
        Kind::Seq(items) => items.iter().for_each(|n| collect_roots(n, out)),
        Kind::Map(list) => list.iter().for_each(|e| collect_roots(&e.value, out)),
        _ => {}
    }
}

/// A `--config` value converted to the declared type (strings are parsed).
fn coerce(raw: &Value, ty: Option<ConfigType>) -> Option<Value> {
    let (inner, secret) = match raw {
        Value::Secret(inner) => (inner.as_ref(), true),
        v => (v, false),
    };
    let v = match (ty, inner) {
        (None, v) => v.clone(),
        (Some(t), v) if t.accepts(v) => v.clone(),
        (Some(t), Value::String(s)) => {
            let s = s.trim();
            match t {
                ConfigType::String => Value::String(s.to_string()),
                ConfigType::Integer => Value::Int(s.parse().ok()?),
                ConfigType::Number => Value::Float(s.parse().ok()?),
                ConfigType::Boolean => match s {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    _ => return None,
                },
                ConfigType::List | ConfigType::Map => {
                    let json: serde_json::Value = serde_json::from_str(s).ok()?;
                    let v = Value::from_json(&json);
                    if !t.accepts(&v) {
                        return None;
                    }
                    v
                }
            }
        }
        (Some(ConfigType::String), Value::Int(i)) => Value::String(i.to_string()),
        (Some(ConfigType::String), Value::Bool(b)) => Value::String(b.to_string()),
        (Some(ConfigType::String), Value::Float(f)) => Value::String(f.to_string()),
        _ => return None,
    };
    Some(if secret { Value::secret(v) } else { v })
}

/// Seconds from an integer or a duration such as `"1h30m"`, `"60m"`, `"90s"`.
/// One `aliases` entry: a former URN
/// (`urn:pulumi:stack::project::[parentType$]type::name`) or a map with
/// `name`, `type`, `parent`, `noParent`, `stack`, `project` (Pulumi's
/// fields; a missing `name` means the resource's own).
fn parse_alias(resource: &str, v: &Value) -> Result<cairn_core::spec::Alias, String> {
    const KEYS: &[&str] = &["name", "type", "parent", "noParent", "stack", "project"];
    match v {
        Value::String(urn) => {
            let rest = urn.strip_prefix("urn:pulumi:").ok_or_else(|| {
                format!("an alias string is a former URN such as `urn:pulumi:<stack>::<project>::<type>::<name>`; for a former name write `- name: {urn}`")
            })?;
            let parts: Vec<&str> = rest.splitn(4, "::").collect();
            let [_stack, _project, ty, name] = parts[..] else {
                return Err("a URN has four `::`-separated parts: `urn:pulumi:<stack>::<project>::<type>::<name>`".into());
            };
            let ty = short_type(ty.rsplit('$').next().unwrap_or(ty));
            if name.is_empty() || ty.is_empty() {
                return Err("the URN's type and name must not be empty".into());
            }
            Ok(cairn_core::spec::Alias {
                name: name.to_string(),
                type_token: Some(ty),
            })
        }
        Value::Map(m) => {
            if let Some(k) = m.keys().find(|k| !KEYS.contains(&k.as_str())) {
                return Err(format!(
                    "an alias map has no `{k}`; it takes {}",
                    list(KEYS)
                ));
            }
            let text = |k: &str| match m.get(k) {
                None => Ok(None),
                Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
                Some(_) => Err(format!("the alias's `{k}` must be a non-empty string")),
            };
            let name = text("name")?.unwrap_or_else(|| resource.to_string());
            let type_token = text("type")?.map(|t| short_type(&t));
            if name == resource && type_token.is_none() {
                return Err("an alias names a former `name` or `type`".into());
            }
            Ok(cairn_core::spec::Alias { name, type_token })
        }
        _ => Err("write the former URN as a string, or a map such as `{name: oldName}`".into()),
    }
}

/// The former parent an `aliases` entry names (`parent: ${old}`, or
/// `noParent: true`: none), and whether it names nothing else (no `name`
/// or `type`). A URN without a parent chain names the stack root. `None`:
/// the entry says nothing of a parent.
fn former_parent(v: &Value) -> Option<Result<(Option<String>, bool), String>> {
    let m = match v {
        Value::Map(m) => m,
        Value::String(urn) => {
            let ty = urn.strip_prefix("urn:pulumi:")?.split("::").nth(2)?;
            return (!ty.contains('$')).then_some(Ok((None, false)));
        }
        _ => return None,
    };
    let only = !m.contains_key("name") && !m.contains_key("type");
    match (m.get("parent"), m.get("noParent")) {
        (Some(_), Some(Value::Bool(true))) => Some(Err(
            "an alias takes `parent` or `noParent: true`, not both".into(),
        )),
        (Some(p), _) => Some(
            match p.as_str().and_then(interp::whole_reference) {
                Some((root, path)) if path.0.is_empty() => Ok((Some(root), only)),
                _ => Err("an alias's `parent` is the former parent, e.g. `parent: ${group}`".into()),
            },
        ),
        (None, Some(Value::Bool(true))) => Some(Ok((None, only))),
        (None, Some(Value::Bool(false))) if only => Some(Err(
            "`noParent: false` names nothing; write `noParent: true` for a resource that had no parent".into(),
        )),
        (None, Some(Value::Bool(false))) => None,
        (None, Some(_)) => Some(Err("`noParent` must be true or false".into())),
        (None, None) => None,
    }
}

/// Pulumi's long type form `aws:iam/policy:Policy` as the short `aws:iam:Policy`.
fn short_type(token: &str) -> String {
    let parts: Vec<&str> = token.split(':').collect();
    match parts[..] {
        [pkg, module, name] => {
            let module = module.split('/').next().unwrap_or(module);
            format!("{pkg}:{module}:{name}")
        }
        _ => token.to_string(),
    }
}

use cairn_core::spec::parse_duration;

fn timeout_secs(v: &Value) -> Option<u64> {
    match v {
        Value::Int(i) => u64::try_from(*i).ok(),
        Value::String(s) => parse_duration(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h30m"), Some(5400));
        assert_eq!(parse_duration("60m"), Some(3600));
        assert_eq!(parse_duration("90s"), Some(90));
        assert_eq!(parse_duration("120"), Some(120));
        assert_eq!(parse_duration("1d"), None);
        assert_eq!(parse_duration("m"), None);
        assert_eq!(parse_duration("5"), Some(5));
        assert_eq!(parse_duration("5h5"), None);
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("1.5h"), Some(5400));
        assert_eq!(parse_duration("90m"), Some(5400));
        assert_eq!(parse_duration("10m30s"), Some(630));
        assert_eq!(parse_duration("1h0m0s"), Some(3600));
        assert_eq!(parse_duration("2.5m"), Some(150));
        assert_eq!(parse_duration("500ms"), Some(1), "rounded up");
        assert_eq!(parse_duration(".5s"), Some(1));
        assert_eq!(parse_duration("1500us"), Some(1));
        assert_eq!(parse_duration("-5m"), None);
        assert_eq!(parse_duration("1.5"), None, "a fraction needs a unit");
        assert_eq!(parse_duration("1.5.5h"), None);
        assert_eq!(parse_duration("10 m"), None);
    }

    #[test]
    fn escaping_round_trips_through_interp() {
        for lit in ["${x}", "$${", "a$", "$", "x $${y} ${", "plain"] {
            let parts = interp::parse(&escape(lit)).unwrap();
            let back: String = parts
                .into_iter()
                .map(|p| match p {
                    Part::Literal(l) => l,
                    Part::Ref { .. } => panic!("escaped text must hold no reference"),
                })
                .collect();
            assert_eq!(back, lit);
        }
    }
}
