//! `${resource.output}` interpolation inside string values.

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
    },
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
            let Some(close) = s[i + 2..].find('}') else {
                return Err(InterpError {
                    offset: start,
                    message: "unclosed `${`".into(),
                });
            };
            let body = &s[i + 2..i + 2 + close];
            let (root, path) = parse_ref(body).map_err(|message| InterpError {
                offset: start,
                message,
            })?;
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            let len = close + 3;
            parts.push(Part::Ref {
                root,
                path,
                offset: start,
                len,
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

fn parse_ref(body: &str) -> Result<(String, PropertyPath), String> {
    let body = body.trim();
    if body.is_empty() {
        return Err("empty reference `${}`".into());
    }
    let mut segments = Vec::new();
    for raw in body.split('.') {
        let (name, mut rest) = match raw.find('[') {
            Some(b) => (&raw[..b], &raw[b..]),
            None => (raw, ""),
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!(
                "`{body}` is not a valid reference; expected `${{resource.output}}`"
            ));
        }
        segments.push(PathSegment::Key(name.to_string()));
        while let Some(stripped) = rest.strip_prefix('[') {
            let end = stripped
                .find(']')
                .ok_or_else(|| format!("unclosed `[` in `{body}`"))?;
            let idx: usize = stripped[..end]
                .parse()
                .map_err(|_| format!("bad index in `{body}`"))?;
            segments.push(PathSegment::Index(idx));
            rest = &stripped[end + 1..];
        }
        if !rest.is_empty() {
            return Err(format!("unexpected `{rest}` in `{body}`"));
        }
    }
    let root = match segments.remove(0) {
        PathSegment::Key(k) => k,
        PathSegment::Index(_) => unreachable!("first segment is always a key"),
    };
    Ok((root, PropertyPath(segments)))
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
}
