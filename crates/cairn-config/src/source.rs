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
