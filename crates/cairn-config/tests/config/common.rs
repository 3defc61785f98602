//! A small test registry and helpers to load and render stacks.

use async_trait::async_trait;
use cairn_config::load_stack;
use cairn_core::diag::{Problem, Problems};
use cairn_core::provider::{CallContext, CheckFailure, Created, Observed, ProviderError};
use cairn_core::schema::{OutputSchema, PropType, PropertySchema, ResourceSchema};
use cairn_core::spec::StackSpec;
use cairn_core::value::{Map, PropertyPath, Value};
use cairn_core::{Registry, ResourceProvider};
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

struct Fake {
    schema: ResourceSchema,
}

/// A provider for `schema` whose calls are refused (checks only for `test:Thing`).
pub fn fake_provider(schema: ResourceSchema) -> Arc<dyn ResourceProvider> {
    Arc::new(Fake { schema })
}

#[async_trait]
impl ResourceProvider for Fake {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        let mut out = Vec::new();
        if self.schema.token != "test:Thing" {
            return out;
        }
        let mode = inputs.get("mode").and_then(Value::as_str);
        let size = inputs.get("size").and_then(Value::as_i64);
        if let (Some("small"), Some(n)) = (mode, size) {
            if n > 5 {
                out.push(
                    CheckFailure::error(
                        "test::thing::size-mode",
                        PropertyPath::key("size"),
                        format!("size {n} is too big for mode `small`"),
                    )
                    .with_help("use mode `medium` or a size of at most 5"),
                );
            }
        }
        if inputs.get("enabled").and_then(Value::as_bool) == Some(false) {
            out.push(CheckFailure::warning(
                "test::thing::disabled",
                PropertyPath::key("enabled"),
                "the thing is disabled",
            ));
        }
        out
    }

    async fn create(&self, _: &CallContext, _: &Map) -> Result<Created, ProviderError> {
        Err(ProviderError::invalid("fake", "not callable"))
    }
    async fn read(
        &self,
        _: &CallContext,
        _: &str,
        _: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        Ok(None)
    }
    async fn update(
        &self,
        _: &CallContext,
        _: &str,
        _: &Map,
        _: &Map,
        _: &Map,
    ) -> Result<Map, ProviderError> {
        Err(ProviderError::invalid("fake", "not callable"))
    }
    async fn delete(
        &self,
        _: &CallContext,
        _: &str,
        _: &Map,
        _: &Map,
    ) -> Result<(), ProviderError> {
        Ok(())
    }
}

pub fn data_schema() -> ResourceSchema {
    ResourceSchema::new("core:Data", "Holds a value; its output is the input.")
        .property(PropertySchema::new("input", PropType::Any).doc("Any value."))
        .output(OutputSchema::new("output", "The input, as given."))
}

pub fn thing_schema() -> ResourceSchema {
    ResourceSchema::new("test:Thing", "A thing for tests.")
        .property(
            PropertySchema::new("size", PropType::int_range(1, 10))
                .required()
                .doc("How big."),
        )
        .property(
            PropertySchema::new(
                "name",
                PropType::String {
                    min_len: Some(3),
                    max_len: Some(20),
                },
            )
            .replaces()
            .doc("The physical name."),
        )
        .property(
            PropertySchema::new("mode", PropType::one_of(&["small", "medium", "large"]))
                .default_value(serde_json::json!("medium"))
                .doc("The mode."),
        )
        .property(PropertySchema::new("enabled", PropType::Bool))
        .property(PropertySchema::new(
            "tags",
            PropType::map(PropType::string()),
        ))
        .property(PropertySchema::new(
            "ports",
            PropType::list(PropType::int_range(1, 65535)),
        ))
        .property(PropertySchema::new(
            "settings",
            PropType::object(vec![
                PropertySchema::new("retries", PropType::int()).required(),
                PropertySchema::new("label", PropType::string()),
            ]),
        ))
        .property(
            PropertySchema::new(
                "token",
                PropType::String {
                    min_len: Some(16),
                    max_len: None,
                },
            )
            .secret()
            .doc("An auth token."),
        )
        .output(OutputSchema::new("arn", "The ARN."))
        .output(OutputSchema::new("endpoint", "Where to connect."))
        .output(OutputSchema::new("token", "The token.").secret())
}

pub fn registry() -> Registry {
    let mut r = Registry::new();
    r.register(Arc::new(Fake {
        schema: data_schema(),
    }));
    r.register(Arc::new(Fake {
        schema: thing_schema(),
    }));
    r
}

pub fn load(text: &str) -> Result<StackSpec, Problems> {
    load_stack("stack.yaml", text.as_bytes(), &registry(), &BTreeMap::new())
}

pub fn load_stack_bytes(bytes: &[u8]) -> Result<StackSpec, Problems> {
    load_stack("stack.yaml", bytes, &registry(), &BTreeMap::new())
}

pub fn load_with(text: &str, config: &[(&str, Value)]) -> Result<StackSpec, Problems> {
    let config: BTreeMap<String, Value> = config
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    load_stack("stack.yaml", text.as_bytes(), &registry(), &config)
}

/// The problems of a stack that must fail to load.
#[track_caller]
pub fn errors(text: &str) -> Problems {
    match load(text) {
        Ok(spec) => panic!("expected problems, got a spec for {}", spec.name),
        Err(p) => p,
    }
}

pub fn codes(p: &Problems) -> Vec<&str> {
    p.problems.iter().map(|p| p.code.as_str()).collect()
}

/// A problem shown with its file name, as the CLI shows it.
struct Named<'a> {
    problem: &'a Problem,
    source: Option<NamedSource<Arc<str>>>,
}

impl fmt::Debug for Named<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.problem, f)
    }
}
impl fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.problem, f)
    }
}
impl std::error::Error for Named<'_> {}
impl Diagnostic for Named<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.problem.code()
    }
    fn severity(&self) -> Option<miette::Severity> {
        self.problem.severity()
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.problem.help()
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.problem.labels()
    }
}

/// Renders every problem with miette's graphical handler: no colours,
/// ASCII, 100 columns, with `file:line:col`.
pub fn render(problems: &Problems) -> String {
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::none())
        .with_width(100)
        .with_links(false);
    let mut out = String::new();
    for p in &problems.problems {
        let named = Named {
            problem: p,
            source: p.source.as_ref().map(|s| s.named_source()),
        };
        if handler.render_report(&mut out, &named).is_err() {
            out.push_str("<render failed>\n");
        }
    }
    out
}

/// Renders the problems of a stack that must fail to load.
#[track_caller]
pub fn render_errors(text: &str) -> String {
    render(&errors(text))
}
