//! User-facing problems with stable codes and source positions.
//!
//! Libraries return these; only the binary renders them (with miette).

use crate::spec::{SourceFile, Span};
use miette::{Diagnostic, LabeledSpan, Severity, SourceCode};
use std::fmt;

/// One problem in a stack: a code such as `cairn::config::unknown-property`,
/// a message, a label on the exact span, and a help line.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub code: String,
    pub message: String,
    pub label: Option<String>,
    pub help: Option<String>,
    pub span: Option<Span>,
    pub warning: bool,
    /// The source text the span points into (set by whoever knows the file).
    pub source: Option<SourceFile>,
    /// Further labelled spans in the same source, e.g. the first definition
    /// of a duplicated key.
    pub secondary: Vec<(Span, String)>,
}

impl Problem {
    pub fn error(code: &str, message: impl Into<String>) -> Self {
        Problem {
            code: code.to_string(),
            message: message.into(),
            label: None,
            help: None,
            span: None,
            warning: false,
            source: None,
            secondary: Vec::new(),
        }
    }
    pub fn warning(code: &str, message: impl Into<String>) -> Self {
        Problem {
            warning: true,
            ..Self::error(code, message)
        }
    }
    pub fn at(mut self, span: Option<Span>, label: impl Into<String>) -> Self {
        self.span = span;
        self.label = Some(label.into());
        self
    }
    /// Adds a secondary label (shown only when the problem has a source).
    pub fn also_at(mut self, span: Span, label: impl Into<String>) -> Self {
        self.secondary.push((span, label.into()));
        self
    }
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    pub fn in_source(mut self, source: Option<&SourceFile>) -> Self {
        if self.source.is_none() {
            self.source = source.cloned();
        }
        self
    }
    /// 1-based line and column of the span start, when known.
    pub fn line_col(&self) -> Option<(usize, usize)> {
        let (src, span) = (self.source.as_ref()?, self.span?);
        Some(line_col(&src.text, span.offset))
    }
}

/// 1-based (line, column) of a byte offset; columns count characters.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map(|p| p + 1)
        .unwrap_or(0);
    let col = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, col)
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Problem {}

impl Diagnostic for Problem {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(&self.code))
    }
    fn severity(&self) -> Option<Severity> {
        Some(if self.warning {
            Severity::Warning
        } else {
            Severity::Error
        })
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.span?;
        self.source.as_ref()?;
        let secondary = self
            .secondary
            .iter()
            .map(|(s, l)| LabeledSpan::new_with_span(Some(l.clone()), *s));
        Some(Box::new(
            std::iter::once(LabeledSpan::new_primary_with_span(self.label.clone(), span))
                .chain(secondary),
        ))
    }
}

/// Every problem found in one stack, reported together.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Problems {
    pub file: Option<String>,
    pub problems: Vec<Problem>,
}

impl Problems {
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| !p.warning)
    }
    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }
    pub fn push(&mut self, p: Problem) {
        self.problems.push(p);
    }
    pub fn extend(&mut self, other: impl IntoIterator<Item = Problem>) {
        self.problems.extend(other);
    }
}

/// The help line for a problem that carries none of its own.
pub fn default_help(code: &str) -> &'static str {
    match code.rsplit("::").next().unwrap_or("") {
        "invalid-option" => "options are dependsOn, ignoreChanges, replaceOnChanges, additionalSecretOutputs, aliases (lists), protect, retainOnDelete, deleteBeforeReplace (booleans), import, deletedWith (strings) and customTimeouts (Go durations)",
        "unknown-option" => "options are dependsOn, protect, retainOnDelete, ignoreChanges, deleteBeforeReplace, import, customTimeouts, aliases, replaceOnChanges, additionalSecretOutputs and deletedWith",
        "yaml-syntax" => "fix the YAML at the marked position; indent with spaces, and close every bracket and quote",
        "duplicate-key" => "each key may appear once in a mapping; remove or rename one of them",
        "wrong-shape" => "see the stack format in README.md: resources map names to { type, properties, options }",
        "missing-key" => "add the missing key; a stack needs `name` and `resources`, a resource needs `type`",
        "unknown-key" => "top-level keys are name, description, config, variables, resources, outputs and policy",
        "top-level-not-map" => "a stack file is a mapping with `name:` and `resources:`",
        "invalid-number" => "write the number in plain decimal",
        "unsupported-tag" => "remove the YAML tag; cairn does not use custom tags",
        "complex-key" => "use plain strings as mapping keys",
        "multiple-documents" => "keep one YAML document per stack file",
        _ => "see the marked position and fix the value there",
    }
}

impl Problems {
    /// Gives every problem a help line (a specific one when it has none).
    pub fn ensure_help(&mut self) {
        for p in &mut self.problems {
            if p.help.is_none() {
                p.help = Some(default_help(&p.code).to_string());
            }
        }
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors().count();
        let file = self.file.as_deref().unwrap_or("the stack");
        write!(f, "{n} error{} in {file}", if n == 1 { "" } else { "s" })
    }
}

impl std::error::Error for Problems {}

impl Diagnostic for Problems {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("cairn::stack::invalid"))
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(self.problems.iter().map(|p| p as &dyn Diagnostic)))
    }
}
