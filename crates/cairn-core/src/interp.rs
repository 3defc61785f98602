//! `${resource.output}` interpolation inside string values.
//!
//! A reference follows Pulumi YAML's property-access grammar: a root name
//! or a quoted root (`${["my.bucket"].arn}`), then `.name`, `[0]` or
//! `["key.with.dots"]` accessors (`\"` escapes a quote inside quotes).

use crate::value::{PathSegment, PropertyPath};

/// A part of an interpolated string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    Literal(String),
    /// `${resource.output.path}`: the first segment names a resource or variable.
    Ref {
        root: String,
        path: PropertyPath,
        offset: usize,
        len: usize,
        format: RefFormat,
    },
}

/// How a reference's value is written into its string. Only `fn::toJSON`
/// writes the JSON forms (`${@json:...}`, `${@jsonstr:...}`): JSON text
/// holding a resource output that is known only at apply. The loader
/// refuses them in what users write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RefFormat {
    /// The value as text (a string as it is).
    #[default]
    Text,
    /// The value as Go's `json.Marshal` writes it (a string quoted).
    Json,
    /// Inside a JSON string: the text, escaped as JSON, without quotes.
    JsonInString,
}

impl RefFormat {
    const JSON: &'static str = "@json:";
    const JSON_IN_STRING: &'static str = "@jsonstr:";

    fn marker(self) -> &'static str {
        match self {
            RefFormat::Text => "",
            RefFormat::Json => Self::JSON,
            RefFormat::JsonInString => Self::JSON_IN_STRING,
        }
    }
}

/// Why a `${...}` could not be parsed; `offset` is a byte offset into the string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterpError {
    pub offset: usize,
    pub message: String,
}

/// Splits a string into literal text and references. As in Pulumi YAML, `$$`
/// is a literal `$` anywhere (so `$${` writes a literal `${`).
pub fn parse(s: &str) -> Result<Vec<Part>, InterpError> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if s[i..].starts_with("$$") {
            literal.push('$');
            i += 2;
        } else if s[i..].starts_with("${") {
            let start = i;
            let body = &s[i + 2..];
            let format = if body.starts_with(RefFormat::JSON) {
                RefFormat::Json
            } else if body.starts_with(RefFormat::JSON_IN_STRING) {
                RefFormat::JsonInString
            } else {
                RefFormat::Text
            };
            let marker = format.marker().len();
            let (root, path, len) = parse_ref(&body[marker..]).map_err(|message| InterpError {
                offset: start,
                message,
            })?;
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            let len = len + 2 + marker;
            parts.push(Part::Ref {
                root,
                path,
                offset: start,
                len,
                format,
            });
            i += len;
        } else {
            let ch = s[i..].chars().next().unwrap_or('\0');
            literal.push(ch);
            i += ch.len_utf8().max(1);
        }
    }
    if !literal.is_empty() {
        parts.push(Part::Literal(literal));
    }
    Ok(parts)
}

/// Parses the body after `${` up to and including its `}`; returns the
/// root, the path and the bytes consumed.
fn parse_ref(rest: &str) -> Result<(String, PropertyPath, usize), String> {
    let shown = |end: usize| rest.get(..end).unwrap_or(rest).trim().to_string();
    let Some(first_close) = rest.find('}') else {
        return Err("unclosed `${`".into());
    };
    let bytes = rest.as_bytes();
    let mut segments: Vec<PathSegment> = Vec::new();
    let mut i = 0;
    // Leading spaces are tolerated, as before.
    while i < bytes.len() && bytes[i] == b' ' {
        i += 1;
    }
    loop {
        let Some(&c) = bytes.get(i) else {
            return Err("unclosed `${`".into());
        };
        match c {
            b'}' => break,
            b' ' if rest[i..].trim_start().starts_with('}') => {
                i += rest[i..].find('}').unwrap_or(0);
            }
            b'.' if !segments.is_empty() => {
                i += 1;
                let start = i;
                while i < bytes.len() && !matches!(bytes[i], b'.' | b'[' | b'}' | b' ') {
                    i += 1;
                }
                let name = &rest[start..i];
                if !valid_name(name) {
                    return Err(format!(
                        "`{}` is not a valid reference: `{name}` after a `.` is not a name; quote other keys as `[\"{name}\"]`",
                        shown(first_close)
                    ));
                }
                segments.push(PathSegment::Key(name.to_string()));
            }
            b'[' => {
                if bytes.get(i + 1) == Some(&b'"') {
                    let mut key = String::new();
                    let mut j = i + 2;
                    loop {
                        match bytes.get(j) {
                            None => return Err("missing closing quote in a `[\"...\"]` key".into()),
                            Some(b'"') => break,
                            Some(b'\\') if bytes.get(j + 1) == Some(&b'"') => {
                                key.push('"');
                                j += 2;
                            }
                            Some(_) => {
                                let ch = rest[j..].chars().next().unwrap_or('\0');
                                key.push(ch);
                                j += ch.len_utf8().max(1);
                            }
                        }
                    }
                    if bytes.get(j + 1) != Some(&b']') {
                        return Err("missing `]` after a quoted key".into());
                    }
                    segments.push(PathSegment::Key(key));
                    i = j + 2;
                } else {
                    let Some(end) = rest[i..].find(']').map(|e| i + e) else {
                        return Err(format!("unclosed `[` in `{}`", shown(first_close)));
                    };
                    if segments.is_empty() {
                        return Err(format!(
                            "`{}` starts with an index; the root must be a name or a quoted name (`[\"name\"]`)",
                            shown(first_close)
                        ));
                    }
                    let idx: usize = rest[i + 1..end]
                        .trim()
                        .parse()
                        .map_err(|_| format!("bad index in `{}`", shown(first_close)))?;
                    segments.push(PathSegment::Index(idx));
                    i = end + 1;
                }
            }
            _ if segments.is_empty() => {
                let start = i;
                while i < bytes.len() && !matches!(bytes[i], b'.' | b'[' | b'}' | b' ') {
                    i += 1;
                }
                let name = &rest[start..i];
                if !valid_name(name) {
                    return Err(format!(
                        "`{}` is not a valid reference; expected `${{resource.output}}`",
                        shown(first_close)
                    ));
                }
                segments.push(PathSegment::Key(name.to_string()));
            }
            _ => {
                return Err(format!(
                    "unexpected `{}` in `{}`",
                    rest[i..first_close.max(i)].trim(),
                    shown(first_close)
                ))
            }
        }
    }
    if segments.is_empty() {
        return Err("empty reference `${}`".into());
    }
    let root = match segments.remove(0) {
        PathSegment::Key(k) => k,
        PathSegment::Index(_) => return Err("the root of a reference must be a name".into()),
    };
    Ok((root, PropertyPath(segments), i + 1))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The text of a reference to `root` and `path`, quoting keys that are
/// not plain names (`${["my.bucket"].tags["a.b"]}`).
pub fn reference_text(root: &str, path: &PropertyPath) -> String {
    let mut out = String::from("${");
    if valid_name(root) {
        out.push_str(root);
    } else {
        out.push_str(&quoted(root));
    }
    for seg in &path.0 {
        match seg {
            PathSegment::Key(k) if valid_name(k) => {
                out.push('.');
                out.push_str(k);
            }
            PathSegment::Key(k) => out.push_str(&quoted(k)),
            PathSegment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out.push('}');
    out
}

/// [`reference_text`] written by `fn::toJSON` (see [`RefFormat`]).
pub fn reference_text_as(root: &str, path: &PropertyPath, format: RefFormat) -> String {
    let text = reference_text(root, path);
    format!("${{{}{}", format.marker(), &text[2..])
}

/// `fn::toJSON` text with its references as plain JSON strings
/// (`${@json:b.arn}` as `"${b.arn}"`), for reading the document before
/// apply (policy checks); text without them is returned as it is.
pub fn with_plain_references(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("${@json") {
        return std::borrow::Cow::Borrowed(text);
    }
    let Ok(parts) = parse(text) else {
        return std::borrow::Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len());
    for part in parts {
        match part {
            Part::Literal(l) => out.push_str(&l.replace('$', "$$")),
            Part::Ref {
                root, path, format, ..
            } => {
                let plain = reference_text(&root, &path);
                if format == RefFormat::Json {
                    out.push('"');
                    out.push_str(&plain);
                    out.push('"');
                } else {
                    out.push_str(&plain);
                }
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

fn quoted(k: &str) -> String {
    format!("[\"{}\"]", k.replace('"', "\\\""))
}

/// All references in a string (ignores malformed ones; the loader reports those).
pub fn references(s: &str) -> Vec<(String, PropertyPath)> {
    parse(s)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| match p {
            Part::Ref { root, path, .. } => Some((root, path)),
            Part::Literal(_) => None,
        })
        .collect()
}

/// The single reference when the whole string is exactly one `${...}`.
pub fn whole_reference(s: &str) -> Option<(String, PropertyPath)> {
    match parse(s).ok()?.as_slice() {
        [Part::Ref { root, path, .. }] => Some((root.clone(), path.clone())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_refs_and_literals() {
        let parts = parse("rediss://:${tok.result}@${rg.endpoint}:6379").unwrap();
        assert_eq!(parts.len(), 5);
        assert_eq!(
            whole_reference("${a.b[1].c}").unwrap().1.to_string(),
            "b[1].c"
        );
        assert!(parse("${unclosed").is_err());
        assert_eq!(parse("$${x}").unwrap(), vec![Part::Literal("${x}".into())]);
    }

    #[test]
    fn a_double_dollar_is_one_dollar_anywhere_as_in_pulumi_yaml() {
        assert_eq!(parse("a$$b").unwrap(), vec![Part::Literal("a$b".into())]);
        assert_eq!(
            parse("$$$${x}").unwrap(),
            vec![Part::Literal("$${x}".into())]
        );
        assert_eq!(
            parse("cost $5").unwrap(),
            vec![Part::Literal("cost $5".into())]
        );
        assert_eq!(parse("$$$").unwrap(), vec![Part::Literal("$$".into())]);
    }

    #[test]
    fn quoted_subscripts_and_quoted_roots_as_in_pulumi_yaml() {
        let (root, path) = whole_reference(r#"${x["key.with.dots"]}"#).unwrap();
        assert_eq!(root, "x");
        assert_eq!(path.0, vec![PathSegment::Key("key.with.dots".into())]);
        let (root, path) = whole_reference(r#"${["my.bucket"].tags["a\"b"][2].c}"#).unwrap();
        assert_eq!(root, "my.bucket");
        assert_eq!(
            path.0,
            vec![
                PathSegment::Key("tags".into()),
                PathSegment::Key("a\"b".into()),
                PathSegment::Index(2),
                PathSegment::Key("c".into()),
            ]
        );
        // A `}` inside quotes does not end the reference.
        let parts = parse(r#"a${x["}"]}b"#).unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(
            reference_text("my.bucket", &path),
            r#"${["my.bucket"].tags["a\"b"][2].c}"#
        );
        assert_eq!(whole_reference("${ a.b }").unwrap().0, "a");
        for bad in [
            r#"${x["a}"#,
            "${x[0}",
            "${[0].a}",
            "${a..b}",
            "${a b}",
            "${}",
            r#"${x["a"}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn json_references_read_back_as_plain_strings() {
        let text = r#"{"a":${@json:b.arn},"c":"x ${@jsonstr:b.name} $$y"}"#;
        assert_eq!(
            with_plain_references(text),
            r#"{"a":"${b.arn}","c":"x ${b.name} $$y"}"#
        );
        assert_eq!(with_plain_references("${b.arn}"), "${b.arn}");
    }
}
