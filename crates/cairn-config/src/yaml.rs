//! YAML events to a spanned node tree, with limits for hostile input.
//!
//! The tree is built iteratively from saphyr-parser's pull events (its
//! `load` helper recurses, `next_event` does not), so nesting is bounded
//! by [`MAX_DEPTH`] before anything recurses over the tree. Every node
//! (parsed, or copied by an alias) counts against [`MAX_NODES`].

use crate::codes;
use crate::source::{char_span, trim_end, Offsets};
use cairn_core::diag::Problem;
use cairn_core::spec::Span;
use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Tag};
use std::borrow::Cow;
use std::collections::HashMap;

/// Deepest nesting of lists and maps accepted.
pub const MAX_DEPTH: usize = 64;
/// Most YAML nodes a stack file may expand to (aliases included).
pub const MAX_NODES: usize = 100_000;

#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub kind: Kind,
    /// Byte span of the node in the input.
    pub span: Span,
}

#[derive(Clone, Debug)]
pub(crate) enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str {
        text: String,
        /// Byte offset in the input where `text` is written verbatim
        /// (plain or simple quoted scalars), for pointing inside it.
        at: Option<usize>,
    },
    Seq(Vec<Node>),
    Map(Vec<Entry>),
    /// A value already reported as invalid (e.g. an out-of-range integer).
    Invalid,
}

#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub key: String,
    pub key_span: Span,
    pub value: Node,
}

impl Node {
    pub(crate) fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a number",
            Kind::Str { .. } => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a map",
            Kind::Invalid => "an invalid value",
        }
    }
    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str { text, .. } => Some(text),
            _ => None,
        }
    }
}

/// The result of parsing: the document's root (if complete) and problems.
pub(crate) struct Parsed {
    pub root: Option<Node>,
    pub problems: Vec<Problem>,
}

struct Built {
    node: Node,
    count: usize,
    height: usize,
}

enum PendingKey {
    Key(String, Span),
    Invalid,
}

enum FrameKind {
    Seq(Vec<Node>),
    Map {
        entries: Vec<Entry>,
        key: Option<PendingKey>,
        seen: HashMap<String, Span>,
    },
}

struct Frame {
    kind: FrameKind,
    start: usize,
    end: usize,
    anchor: usize,
    count: usize,
    height: usize,
}

struct Anchored {
    node: Node,
    count: usize,
    height: usize,
}

/// Stops the event loop.
struct Fatal;

struct Builder<'s> {
    full: &'s str,
    offsets: Offsets<'s>,
    frames: Vec<Frame>,
    anchors: HashMap<usize, Anchored>,
    nodes: usize,
    problems: Vec<Problem>,
    root: Option<Node>,
}

/// Parses `full[body_start..]` (after a byte-order mark, if any).
pub(crate) fn parse(full: &str, body_start: usize) -> Parsed {
    let body = full.get(body_start..).unwrap_or_default();
    let mut b = Builder {
        full,
        offsets: Offsets::new(body, body_start),
        frames: Vec::new(),
        anchors: HashMap::new(),
        nodes: 0,
        problems: Vec::new(),
        root: None,
    };
    // saphyr-parser has a few internal `unwrap`s; a panic there must not
    // take the engine down, so it becomes a problem instead.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        b.run(body);
        (b.root.take(), std::mem::take(&mut b.problems))
    }));
    match outcome {
        Ok((root, problems)) => Parsed { root, problems },
        Err(_) => Parsed {
            root: None,
            problems: vec![
                Problem::error(codes::INTERNAL, "the YAML parser failed on this input")
                    .at(Some(Span::new(0, 0)), "while reading this file")
                    .help("please report this as a bug, with the file attached"),
            ],
        },
    }
}

impl<'s> Builder<'s> {
    fn run(&mut self, body: &'s str) {
        let mut parser = Parser::new_from_str(body);
        let mut documents = 0usize;
        while let Some(next) = parser.next_event() {
            let (ev, span) = match next {
                Ok(x) => x,
                Err(e) => {
                    self.syntax_error(&e);
                    return;
                }
            };
            let span_b = self.offsets.span(span.start.index(), span.end.index());
            let step = match ev {
                Event::Nothing | Event::StreamStart | Event::DocumentEnd => Ok(()),
                Event::StreamEnd => return,
                Event::DocumentStart(_) => {
                    documents += 1;
                    if documents > 1 {
                        self.problems.push(
                            Problem::error(
                                codes::MULTIPLE_DOCUMENTS,
                                "a stack file holds exactly one YAML document",
                            )
                            .at(Some(span_b), "a second document starts here")
                            .help("remove the `---` and everything after it, or split the file"),
                        );
                        return;
                    }
                    Ok(())
                }
                Event::Alias(id) => self.alias(id, span_b),
                Event::Scalar(value, style, anchor, tag) => {
                    self.scalar(value, style, anchor, tag.as_deref(), span_b)
                }
                Event::SequenceStart(anchor, tag) => {
                    self.start(FrameKind::Seq(Vec::new()), anchor, tag.as_deref(), span_b)
                }
                Event::MappingStart(anchor, tag) => self.start(
                    FrameKind::Map {
                        entries: Vec::new(),
                        key: None,
                        seen: HashMap::new(),
                    },
                    anchor,
                    tag.as_deref(),
                    span_b,
                ),
                Event::SequenceEnd | Event::MappingEnd => self.end(span_b),
            };
            if step.is_err() {
                return;
            }
        }
    }

    fn syntax_error(&mut self, e: &ScanError) {
        let offset = self.offsets.byte(e.marker().index());
        let info = e.info();
        let (message, help) = if info.contains("recursion limit") {
            self.problems.push(too_deep(char_span(self.full, offset)));
            return;
        } else if info.contains("tab") {
            (
                format!("invalid YAML: {info}"),
                "indent with spaces; YAML does not allow tabs for indentation",
            )
        } else if info.contains("mapping values are not allowed") {
            (
                format!("invalid YAML: {info}"),
                "a value containing `: ` must be quoted, e.g. `description: \"a: b\"`",
            )
        } else if info.contains("unknown anchor") {
            (
                format!("invalid YAML: {info}"),
                "define the anchor (`&name`) before using the alias (`*name`)",
            )
        } else {
            (
                format!("invalid YAML: {info}"),
                "check the indentation and quoting around this position",
            )
        };
        self.problems.push(
            Problem::error(codes::YAML_SYNTAX, message)
                .at(Some(char_span(self.full, offset)), "here")
                .help(help),
        );
    }

    fn count(&mut self, n: usize, span: Span, alias: bool) -> Result<(), Fatal> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes <= MAX_NODES {
            return Ok(());
        }
        let p = if alias {
            Problem::error(
                codes::ALIAS_BOMB,
                format!("YAML aliases expand this file to more than {MAX_NODES} nodes"),
            )
            .at(Some(span), "this alias exceeds the limit")
            .help("a stack file needs no such expansion; remove the nested aliases (`*name`)")
        } else {
            Problem::error(
                codes::TOO_MANY_NODES,
                format!("the stack file has more than {MAX_NODES} YAML nodes"),
            )
            .at(Some(span), "the limit is reached here")
            .help("split the stack, or move bulk data out of the stack file")
        };
        self.problems.push(p);
        Err(Fatal)
    }

    fn check_tag(&mut self, tag: Option<&Tag>, want: &str, span: Span) {
        let Some(tag) = tag else { return };
        if tag.is_yaml_core_schema() && tag.suffix == want {
            return;
        }
        self.unsupported_tag(tag, span);
    }

    fn unsupported_tag(&mut self, tag: &Tag, span: Span) {
        let shown = tag_text(tag);
        let at = self.tag_span(&shown, span);
        self.problems.push(
            Problem::error(codes::UNSUPPORTED_TAG, format!("YAML tag `{shown}` is not supported"))
                .at(Some(at), "unsupported tag")
                .help("use `${name}` references and `fn::secret` instead of custom tags; only the YAML core tags (`!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, `!!map`, `!!seq`) are accepted"),
        );
    }

    /// The tag's own text, written shortly before the node, when found.
    fn tag_span(&self, shown: &str, node: Span) -> Span {
        let from = node.offset.saturating_sub(1024);
        let mut from = from;
        while from < node.offset && !self.full.is_char_boundary(from) {
            from += 1;
        }
        match self
            .full
            .get(from..node.offset)
            .and_then(|t| t.rfind(shown))
        {
            Some(i) => Span::new(from + i, shown.len()),
            None => node,
        }
    }

    fn start(
        &mut self,
        kind: FrameKind,
        anchor: usize,
        tag: Option<&Tag>,
        span: Span,
    ) -> Result<(), Fatal> {
        if self.frames.len() >= MAX_DEPTH {
            self.problems.push(too_deep(span));
            return Err(Fatal);
        }
        self.count(1, span, false)?;
        let want = match kind {
            FrameKind::Seq(_) => "seq",
            FrameKind::Map { .. } => "map",
        };
        self.check_tag(tag, want, span);
        self.frames.push(Frame {
            kind,
            start: span.offset,
            end: span.offset + span.len,
            anchor,
            count: 1,
            height: 1,
        });
        Ok(())
    }

    fn end(&mut self, span: Span) -> Result<(), Fatal> {
        let Some(frame) = self.frames.pop() else {
            return Ok(());
        };
        let mut end = frame.end;
        if span.len > 0 {
            end = end.max(span.offset + span.len);
        }
        let node_span = Span::new(frame.start, end.saturating_sub(frame.start));
        let kind = match frame.kind {
            FrameKind::Seq(items) => Kind::Seq(items),
            FrameKind::Map { entries, .. } => Kind::Map(entries),
        };
        let built = Built {
            node: Node {
                kind,
                span: node_span,
            },
            count: frame.count,
            height: frame.height,
        };
        self.finish(built, frame.anchor)
    }

    fn scalar(
        &mut self,
        value: Cow<'_, str>,
        style: ScalarStyle,
        anchor: usize,
        tag: Option<&Tag>,
        span: Span,
    ) -> Result<(), Fatal> {
        let span = match style {
            ScalarStyle::Literal | ScalarStyle::Folded => trim_end(self.full, span),
            _ => span,
        };
        self.count(1, span, false)?;
        let is_key = matches!(
            self.frames.last(),
            Some(Frame {
                kind: FrameKind::Map { key: None, .. },
                ..
            })
        );
        let kind = if is_key {
            if let Some(t) = tag {
                if !(t.is_yaml_core_schema() && t.suffix == "str") {
                    self.unsupported_tag(t, span);
                }
            }
            Kind::Str {
                text: value.to_string(),
                at: None,
            }
        } else {
            self.resolve(&value, style, tag, span)
        };
        self.finish(
            Built {
                node: Node { kind, span },
                count: 1,
                height: 0,
            },
            anchor,
        )
    }

    fn resolve(&mut self, value: &str, style: ScalarStyle, tag: Option<&Tag>, span: Span) -> Kind {
        let text_kind = || Kind::Str {
            text: value.to_string(),
            at: verbatim_at(self.full, span, value, style),
        };
        match tag {
            None if style == ScalarStyle::Plain => match resolve_plain(value) {
                Plain::Kind(k) => k,
                Plain::String => text_kind(),
                Plain::IntOverflow => {
                    self.problems.push(
                        Problem::error(
                            codes::INVALID_NUMBER,
                            format!("integer `{value}` does not fit in 64 bits"),
                        )
                        .at(Some(span), "out of range")
                        .help("quote it to use it as a string"),
                    );
                    Kind::Invalid
                }
            },
            None => text_kind(),
            Some(t) if t.handle == "!" && t.suffix.is_empty() => text_kind(),
            Some(t) if t.is_yaml_core_schema() => {
                let resolved = match t.suffix.as_str() {
                    "str" => return text_kind(),
                    "int" => match resolve_plain(value) {
                        Plain::Kind(k @ Kind::Int(_)) => Some(k),
                        _ => None,
                    },
                    "float" => match resolve_plain(value) {
                        Plain::Kind(Kind::Int(i)) => Some(Kind::Float(i as f64)),
                        Plain::Kind(k @ Kind::Float(_)) => Some(k),
                        _ => None,
                    },
                    "bool" => match resolve_plain(value) {
                        Plain::Kind(k @ Kind::Bool(_)) => Some(k),
                        _ => None,
                    },
                    "null" => match resolve_plain(value) {
                        Plain::Kind(k @ Kind::Null) => Some(k),
                        _ => None,
                    },
                    _ => {
                        self.unsupported_tag(t, span);
                        return text_kind();
                    }
                };
                match resolved {
                    Some(k) => k,
                    None => {
                        let shown = tag_text(t);
                        self.problems.push(
                            Problem::error(
                                codes::INVALID_NUMBER,
                                format!("this value is not valid for its tag `{shown}`"),
                            )
                            .at(Some(span), format!("not a valid {}", t.suffix))
                            .help("remove the tag, or write a value of that type"),
                        );
                        Kind::Invalid
                    }
                }
            }
            Some(t) => {
                self.unsupported_tag(t, span);
                match style {
                    ScalarStyle::Plain => match resolve_plain(value) {
                        Plain::Kind(k) => k,
                        _ => text_kind(),
                    },
                    _ => text_kind(),
                }
            }
        }
    }

    fn alias(&mut self, id: usize, span: Span) -> Result<(), Fatal> {
        let Some(a) = self.anchors.get(&id) else {
            self.problems.push(
                Problem::error(
                    codes::YAML_SYNTAX,
                    "invalid YAML: alias to an unknown anchor",
                )
                .at(Some(span), "unknown anchor"),
            );
            return Err(Fatal);
        };
        let (count, height) = (a.count, a.height);
        if self.frames.len() + height > MAX_DEPTH {
            self.problems.push(too_deep(span));
            return Err(Fatal);
        }
        self.count(count, span, true)?;
        let Some(a) = self.anchors.get(&id) else {
            return Err(Fatal);
        };
        let mut node = a.node.clone();
        node.span = span;
        self.finish(
            Built {
                node,
                count,
                height,
            },
            0,
        )
    }

    fn finish(&mut self, built: Built, anchor: usize) -> Result<(), Fatal> {
        if anchor > 0 {
            // Keeping a copy for later aliases costs as much as the node.
            self.count(built.count, built.node.span, true)?;
            self.anchors.insert(
                anchor,
                Anchored {
                    node: built.node.clone(),
                    count: built.count,
                    height: built.height,
                },
            );
        }
        self.attach(built);
        Ok(())
    }

    fn attach(&mut self, built: Built) {
        let Built {
            node,
            count,
            height,
        } = built;
        let node_end = node.span.offset + node.span.len;
        let Some(frame) = self.frames.last_mut() else {
            self.root = Some(node);
            return;
        };
        frame.end = frame.end.max(node_end);
        frame.count = frame.count.saturating_add(count);
        frame.height = frame.height.max(height + 1);
        let mut problem = None;
        match &mut frame.kind {
            FrameKind::Seq(items) => items.push(node),
            FrameKind::Map { entries, key, seen } => match key.take() {
                None => match scalar_text(&node) {
                    Some(k) => {
                        if let Some(first) = seen.get(&k) {
                            problem = Some(
                                Problem::error(
                                    codes::DUPLICATE_KEY,
                                    format!("key `{k}` appears twice in the same mapping"),
                                )
                                .at(Some(node.span), "duplicate key")
                                .also_at(*first, "first used here")
                                .help("remove one of them; only the first is used"),
                            );
                            *key = Some(PendingKey::Invalid);
                        } else {
                            seen.insert(k.clone(), node.span);
                            *key = Some(PendingKey::Key(k, node.span));
                        }
                    }
                    None => {
                        problem = Some(
                            Problem::error(
                                codes::COMPLEX_KEY,
                                "a mapping key must be a plain string",
                            )
                            .at(Some(node.span), "list or map used as a key"),
                        );
                        *key = Some(PendingKey::Invalid);
                    }
                },
                Some(PendingKey::Key(k, key_span)) => entries.push(Entry {
                    key: k,
                    key_span,
                    value: node,
                }),
                Some(PendingKey::Invalid) => {}
            },
        }
        if let Some(p) = problem {
            self.problems.push(p);
        }
    }
}

fn too_deep(span: Span) -> Problem {
    Problem::error(
        codes::TOO_DEEP,
        format!("the stack file nests lists and maps more than {MAX_DEPTH} levels deep"),
    )
    .at(Some(span), "too deep")
    .help("a stack file needs only a few levels of nesting; flatten this structure")
}

fn tag_text(tag: &Tag) -> String {
    if tag.handle == "!" {
        format!("!{}", tag.suffix)
    } else if tag.is_yaml_core_schema() {
        format!("!!{}", tag.suffix)
    } else {
        format!("!<{}{}>", tag.handle, tag.suffix)
    }
}

fn scalar_text(node: &Node) -> Option<String> {
    match &node.kind {
        Kind::Str { text, .. } => Some(text.clone()),
        Kind::Null => Some(String::new()),
        Kind::Bool(b) => Some(b.to_string()),
        Kind::Int(i) => Some(i.to_string()),
        Kind::Float(f) => Some(f.to_string()),
        Kind::Seq(_) | Kind::Map(_) | Kind::Invalid => None,
    }
}

/// Where `value` is written verbatim in the input, if it is.
fn verbatim_at(full: &str, span: Span, value: &str, style: ScalarStyle) -> Option<usize> {
    let raw = full.get(span.offset..span.offset + span.len)?;
    match style {
        ScalarStyle::Plain if raw == value => Some(span.offset),
        ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted
            if raw.len() >= 2 && raw.get(1..raw.len() - 1) == Some(value) =>
        {
            Some(span.offset + 1)
        }
        _ => None,
    }
}

enum Plain {
    Kind(Kind),
    String,
    IntOverflow,
}

/// YAML 1.2 core schema resolution of a plain scalar.
fn resolve_plain(v: &str) -> Plain {
    match v {
        "" | "~" | "null" | "Null" | "NULL" => return Plain::Kind(Kind::Null),
        "true" | "True" | "TRUE" => return Plain::Kind(Kind::Bool(true)),
        "false" | "False" | "FALSE" => return Plain::Kind(Kind::Bool(false)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Plain::Kind(Kind::Float(f64::INFINITY))
        }
        "-.inf" | "-.Inf" | "-.INF" => return Plain::Kind(Kind::Float(f64::NEG_INFINITY)),
        ".nan" | ".NaN" | ".NAN" => return Plain::Kind(Kind::Float(f64::NAN)),
        _ => {}
    }
    let unsigned = v.strip_prefix(['-', '+']).unwrap_or(v);
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return match v.parse::<i64>() {
            Ok(i) => Plain::Kind(Kind::Int(i)),
            Err(_) => Plain::IntOverflow,
        };
    }
    if let Some(oct) = v.strip_prefix("0o") {
        if !oct.is_empty() && oct.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return match i64::from_str_radix(oct, 8) {
                Ok(i) => Plain::Kind(Kind::Int(i)),
                Err(_) => Plain::IntOverflow,
            };
        }
    }
    if let Some(hex) = v.strip_prefix("0x") {
        if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return match i64::from_str_radix(hex, 16) {
                Ok(i) => Plain::Kind(Kind::Int(i)),
                Err(_) => Plain::IntOverflow,
            };
        }
    }
    if is_float(unsigned) {
        if let Ok(f) = v.parse::<f64>() {
            return Plain::Kind(Kind::Float(f));
        }
    }
    Plain::String
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
fn is_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let int = digits(&mut i);
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac = digits(&mut i);
        if int == 0 && frac == 0 {
            return false;
        }
    } else if int == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}
