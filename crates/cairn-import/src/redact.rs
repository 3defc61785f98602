//! A tolerant JSON token scan (works on damaged text) used for two things:
//! masking values in the copy of a file kept for diagnostics, and finding
//! where a key's value is, for a label.

use miette::SourceSpan;

/// Keys whose values are structure, never data: kept readable.
const STRUCTURE: &[&str] = &[
    "version",
    "terraform_version",
    "serial",
    "lineage",
    "mode",
    "type",
    "name",
    "module",
    "provider",
    "status",
    "deposed",
    "index_key",
    "schema_version",
    "dependencies",
    "create_before_destroy",
];

/// One scalar token: a string (span includes the quotes) or a bare word.
struct Token {
    start: usize,
    end: usize,
    is_string: bool,
    /// A string cut off by the end of the text has no closing quote.
    closed: bool,
    /// The key this value belongs to (`None` for keys themselves).
    key: Option<String>,
    is_key: bool,
}

fn scan(text: &str) -> Vec<Token> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut last_key: Option<String> = None;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                let closed = i < b.len();
                let end = (i + 1).min(b.len());
                i = end;
                let mut j = end;
                while j < b.len() && b[j].is_ascii_whitespace() {
                    j += 1;
                }
                let is_key = j < b.len() && b[j] == b':';
                if is_key {
                    let inner = text.get(start + 1..end.saturating_sub(1)).unwrap_or("");
                    last_key = Some(inner.to_string());
                }
                out.push(Token {
                    start,
                    end,
                    is_string: true,
                    closed,
                    key: if is_key { None } else { last_key.clone() },
                    is_key,
                });
            }
            c if c == b'-' || c.is_ascii_alphanumeric() => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b"+-.".contains(&b[i])) {
                    i += 1;
                }
                out.push(Token {
                    start,
                    end: i,
                    is_string: false,
                    closed: true,
                    key: last_key.clone(),
                    is_key: false,
                });
            }
            _ => i += 1,
        }
    }
    out
}

/// The text with every value masked (same byte length, so spans stay
/// valid) except the values of [`STRUCTURE`] keys and `true`/`false`/`null`.
pub fn mask_values(text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for t in scan(text) {
        if t.is_key || t.key.as_deref().is_some_and(|k| STRUCTURE.contains(&k)) {
            continue;
        }
        let word = &text.as_bytes()[t.start..t.end];
        if !t.is_string && matches!(word, b"true" | b"false" | b"null") {
            continue;
        }
        let (from, to) = if t.is_string && t.closed {
            (t.start + 1, t.end.saturating_sub(1).max(t.start + 1))
        } else if t.is_string {
            (t.start + 1, t.end)
        } else {
            (t.start, t.end)
        };
        for byte in bytes.iter_mut().take(to).skip(from) {
            *byte = if t.is_string { b'*' } else { b'0' };
        }
    }
    // Only ASCII bytes were written over whole tokens' contents (a string's
    // content is masked byte by byte, so no character is split).
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The span of the `nth` value written under `key`.
pub fn find_key(text: &str, key: &str, nth: usize) -> Option<SourceSpan> {
    scan(text)
        .into_iter()
        .filter(|t| !t.is_key && t.key.as_deref() == Some(key))
        .nth(nth)
        .map(|t| SourceSpan::from((t.start, t.end - t.start)))
}

/// The span of the first string value `"value"` under `key`.
pub fn find_value(text: &str, key: &str, value: &str) -> Option<SourceSpan> {
    let quoted = format!("\"{value}\"");
    scan(text)
        .into_iter()
        .find(|t| {
            !t.is_key
                && t.key.as_deref() == Some(key)
                && text.get(t.start..t.end) == Some(quoted.as_str())
        })
        .map(|t| SourceSpan::from((t.start, t.end - t.start)))
}

#[cfg(test)]
mod tests {
    use super::mask_values;

    #[test]
    fn values_are_masked_to_the_last_byte_even_when_cut_off() {
        assert_eq!(mask_values(r#"{"a": "abc"#), r#"{"a": "***"#);
        assert_eq!(
            mask_values(r#"{"a": "ab\"c", "n": 12}"#),
            r#"{"a": "*****", "n": 00}"#
        );
        assert_eq!(
            mask_values(r#"{"type": "aws_vpc", "b": true, "c": "é"}"#),
            r#"{"type": "aws_vpc", "b": true, "c": "**"}"#
        );
    }
}
