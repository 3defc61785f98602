//! Source text handling: UTF-8 checks, a byte-preserving view of invalid
//! input for diagnostics, and char-index to byte-offset conversion.

use cairn_core::spec::Span;

/// Text with every byte of an invalid UTF-8 sequence replaced by `?`, so
/// that byte offsets into it are byte offsets into the input.
pub(crate) fn sanitize(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for _ in chunk.invalid() {
            out.push('?');
        }
    }
    out
}

/// Converts the parser's char indices into byte offsets of the full text.
///
/// saphyr-parser's `Marker::index()` counts characters (its scanner adds
/// one per char), while miette spans are byte offsets.
pub(crate) struct Offsets<'a> {
    /// The text the parser saw (the input after any byte-order mark).
    text: &'a str,
    /// Byte offset of `text` in the full input.
    base: usize,
    ascii: bool,
    /// Byte offset of every `STEP`-th char of `text`.
    checkpoints: Vec<usize>,
}

const STEP: usize = 64;

impl<'a> Offsets<'a> {
    pub(crate) fn new(text: &'a str, base: usize) -> Self {
        let ascii = text.is_ascii();
        let checkpoints = if ascii {
            Vec::new()
        } else {
            text.char_indices()
                .step_by(STEP)
                .map(|(byte, _)| byte)
                .collect()
        };
        Offsets {
            text,
            base,
            ascii,
            checkpoints,
        }
    }

    /// Byte offset (in the full input) of char index `ch` of the parsed text.
    pub(crate) fn byte(&self, ch: usize) -> usize {
        if self.ascii {
            return self.base + ch.min(self.text.len());
        }
        let k = (ch / STEP).min(self.checkpoints.len().saturating_sub(1));
        let Some(&start) = self.checkpoints.get(k) else {
            return self.base;
        };
        let rest = ch - k * STEP;
        let within = self
            .text
            .get(start..)
            .and_then(|t| t.char_indices().nth(rest).map(|(i, _)| i));
        self.base
            + match within {
                Some(i) => start + i,
                None => self.text.len(),
            }
    }

    /// A byte span from a pair of char indices.
    pub(crate) fn span(&self, start: usize, end: usize) -> Span {
        let a = self.byte(start);
        let b = self.byte(end.max(start));
        Span::new(a, b - a)
    }
}

/// The span with trailing whitespace (and newlines) removed.
pub(crate) fn trim_end(full: &str, span: Span) -> Span {
    let end = span.offset.saturating_add(span.len);
    match full.get(span.offset..end) {
        Some(t) => Span::new(span.offset, t.trim_end().len()),
        None => span,
    }
}

/// A span covering one character at `offset` (empty at a line end or EOF).
pub(crate) fn char_span(full: &str, offset: usize) -> Span {
    let offset = offset.min(full.len());
    match full.get(offset..).and_then(|t| t.chars().next()) {
        Some(c) if c != '\n' && c != '\r' => Span::new(offset, c.len_utf8()),
        _ => Span::new(offset, 0),
    }
}

/// `text` with the characters inside `spans` replaced by `*` (one per
/// byte, newlines kept), so offsets and lines stay exactly the same.
pub(crate) fn redact(text: &str, spans: &[Span]) -> String {
    if spans.is_empty() {
        return text.to_string();
    }
    let mut bytes = text.as_bytes().to_vec();
    for span in spans {
        let end = span.offset.saturating_add(span.len);
        let Some(slice) = text.get(span.offset..end) else {
            continue;
        };
        for (i, c) in slice.char_indices() {
            if c == '\n' || c == '\r' {
                continue;
            }
            for k in 0..c.len_utf8() {
                if let Some(b) = bytes.get_mut(span.offset + i + k) {
                    *b = b'*';
                }
            }
        }
    }
    // Whole characters were replaced by ASCII, so this cannot fail.
    String::from_utf8(bytes).unwrap_or_else(|_| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_indices_become_byte_offsets() {
        // Past several checkpoints, with 1-, 2-, 3- and 4-byte chars.
        let text: String = "aé✓😀".repeat(100);
        let offsets = Offsets::new(&text, 3);
        for (ch, (byte, _)) in text.char_indices().enumerate() {
            assert_eq!(offsets.byte(ch), byte + 3, "char {ch}");
        }
        assert_eq!(offsets.byte(400), text.len() + 3);
        assert_eq!(offsets.byte(10_000), text.len() + 3);
        let ascii = Offsets::new("abc", 0);
        assert_eq!(ascii.byte(2), 2);
        assert_eq!(ascii.byte(99), 3);
        assert_eq!(Offsets::new("", 0).byte(5), 0);
    }

    #[test]
    fn sanitize_keeps_byte_offsets() {
        let s = sanitize(b"ab\xff\xfec\xe2\x9c");
        assert_eq!(s, "ab??c??");
        assert_eq!(s.len(), 7);
    }

    #[test]
    fn redact_keeps_lines_and_offsets() {
        let text = "a: s3cr\u{e9}t\nb: |\n  x\n  y\n";
        let r = redact(
            text,
            &[Span::new(3, 7), Span::new(18, 5), Span::new(999, 3)],
        );
        assert_eq!(r.len(), text.len());
        // Indentation inside the span is starred too.
        assert_eq!(r, "a: *******\nb: |\n  *\n***\n");
    }

    #[test]
    fn spans_are_trimmed_and_single_chars() {
        assert_eq!(trim_end("ab  \n", Span::new(0, 5)), Span::new(0, 2));
        assert_eq!(char_span("a✓", 1), Span::new(1, 3));
        assert_eq!(char_span("a\n", 1), Span::new(1, 0));
        assert_eq!(char_span("a", 9), Span::new(1, 0));
    }
}
