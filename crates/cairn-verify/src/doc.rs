//! AC10: the key-namespacing guide documents the key format, the four
//! scopes and their TTLs.

use crate::report::{Row, Status};
use std::path::Path;

/// The key format the story prescribes.
pub const KEY_FORMAT: &str = "tenant_id:scope:key_identifier";

/// The scopes and the TTLs (seconds) each must be documented with: every
/// listed value must appear in the scope's row (for `llm_cache`, both ends
/// of its 1–7 day range).
pub const SCOPES: [(&str, &[u64], &str); 4] = [
    ("session", &[86_400], "24 h"),
    ("llm_cache", &[86_400, 604_800], "1–7 days"),
    ("rate_limit", &[60], "1 min"),
    ("temp", &[3_600], "1 h"),
];

/// The TTL this verifier writes its test key with, per scope.
pub fn scope_ttl(scope: &str) -> Option<u64> {
    SCOPES
        .iter()
        .find(|(s, _, _)| *s == scope)
        .map(|(_, t, _)| t[0])
}

/// Largest document read (the guide is a few KiB).
const MAX_DOC_BYTES: u64 = 1 << 20;

pub(crate) fn check_doc(path: &Path) -> Row {
    const ID: &str = "AC10";
    const CRIT: &str = "tenant key namespacing documented";
    let text = match std::fs::metadata(path) {
        Ok(m) if m.len() > MAX_DOC_BYTES => {
            return Row::new(
                ID,
                CRIT,
                Status::Fail,
                format!("{} is {} bytes: not a guide", path.display(), m.len()),
            )
        }
        Ok(_) => match std::fs::read(path) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => {
                return Row::new(
                    ID,
                    CRIT,
                    Status::Fail,
                    format!("cannot read {}: {e}", path.display()),
                )
            }
        },
        Err(e) => {
            return Row::new(
                ID,
                CRIT,
                Status::Fail,
                format!("{} is missing: {e}", path.display()),
            )
        }
    };
    let (ok, evidence) = check_doc_text(&text);
    Row::new(
        ID,
        CRIT,
        if ok { Status::Pass } else { Status::Fail },
        format!("{}: {evidence}", path.display()),
    )
}

/// (passes, evidence) for the guide's text.
pub(crate) fn check_doc_text(text: &str) -> (bool, String) {
    let mut problems = Vec::new();
    let mut found = Vec::new();
    if text.contains(KEY_FORMAT) {
        found.push(format!("format `{KEY_FORMAT}`"));
    } else {
        problems.push(format!("the key format `{KEY_FORMAT}` is not documented"));
    }
    for (scope, ttls, human) in SCOPES {
        let rows: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with('|'))
            .filter(|l| first_cell(l).is_some_and(|c| c == scope))
            .collect();
        if rows.is_empty() {
            problems.push(format!("no table row documents the `{scope}` scope"));
            continue;
        }
        let documented: Vec<u64> = rows.iter().flat_map(|r| durations(r)).collect();
        let missing: Vec<u64> = ttls
            .iter()
            .copied()
            .filter(|t| !documented.contains(t))
            .collect();
        if missing.is_empty() {
            found.push(format!("{scope} {human}"));
        } else {
            problems.push(format!(
                "`{scope}` should have TTL {human}; its row documents {}",
                if documented.is_empty() {
                    "no duration".to_string()
                } else {
                    documented
                        .iter()
                        .map(|s| human_secs(*s))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ));
        }
    }
    if problems.is_empty() {
        (true, format!("documents {}", found.join("; ")))
    } else {
        (false, problems.join("; "))
    }
}

fn first_cell(row: &str) -> Option<String> {
    let cell = row.trim_start_matches('|').split('|').next()?;
    Some(cell.trim().trim_matches('`').trim().to_string())
}

fn human_secs(s: u64) -> String {
    match s {
        s if s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s % 3_600 == 0 => format!("{} h", s / 3_600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

fn unit_secs(word: &str) -> Option<u64> {
    let w = word
        .trim_end_matches(['.', ',', ')', ';', ':'])
        .to_ascii_lowercase();
    Some(match w.as_str() {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 604_800,
        _ => return None,
    })
}

/// Every duration a table row mentions, in seconds: `24 h`, `24h`, `1 min`,
/// ranges such as `1–7 days` (both ends), and `EX 86400`.
pub(crate) fn durations(text: &str) -> Vec<u64> {
    // Tokens: numbers, words, and range separators, split at every boundary.
    #[derive(Debug, PartialEq)]
    enum Tok {
        Num(u64),
        Word(String),
        Range,
    }
    let mut toks = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_digit() {
            let mut n: u64 = 0;
            while let Some(&d) = chars.peek() {
                if let Some(v) = d.to_digit(10) {
                    n = n.saturating_mul(10).saturating_add(u64::from(v));
                    chars.next();
                } else if d == '_' || d == ',' {
                    // 86_400 / 86,400
                    chars.next();
                    if !chars.peek().is_some_and(|x| x.is_ascii_digit()) {
                        break;
                    }
                } else {
                    break;
                }
            }
            toks.push(Tok::Num(n));
        } else if c.is_alphabetic() {
            let mut w = String::new();
            while let Some(&d) = chars.peek() {
                if d.is_alphabetic() {
                    w.push(d);
                    chars.next();
                } else {
                    break;
                }
            }
            toks.push(Tok::Word(w));
        } else if matches!(c, '-' | '–' | '—' | '…') {
            chars.next();
            toks.push(Tok::Range);
        } else if c == '.' {
            let mut dots = 0;
            while chars.peek() == Some(&'.') {
                chars.next();
                dots += 1;
            }
            if dots >= 2 {
                toks.push(Tok::Range);
            }
        } else {
            chars.next();
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Tok::Word(w) if w.eq_ignore_ascii_case("EX") => {
                if let Some(Tok::Num(n)) = toks.get(i + 1) {
                    out.push(*n);
                    i += 2;
                    continue;
                }
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("PX") => {
                if let Some(Tok::Num(n)) = toks.get(i + 1) {
                    out.push(n / 1000);
                    i += 2;
                    continue;
                }
            }
            Tok::Num(a) => {
                // a [- b] unit
                if let (Some(Tok::Range), Some(Tok::Num(b)), Some(Tok::Word(u))) =
                    (toks.get(i + 1), toks.get(i + 2), toks.get(i + 3))
                {
                    if let Some(k) = unit_secs(u) {
                        out.push(a.saturating_mul(k));
                        out.push(b.saturating_mul(k));
                        i += 4;
                        continue;
                    }
                }
                if let Some(Tok::Word(u)) = toks.get(i + 1) {
                    if let Some(k) = unit_secs(u) {
                        out.push(a.saturating_mul(k));
                        i += 2;
                        continue;
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_many_spellings() {
        assert_eq!(
            durations("| `session` | 24 h (`EX 86400`) | expiry |"),
            vec![86_400, 86_400]
        );
        assert_eq!(
            durations("1–7 days (`EX 86400`…`EX 604800`)"),
            vec![86_400, 604_800, 86_400, 604_800]
        );
        assert_eq!(durations("1-7d"), vec![86_400, 604_800]);
        assert_eq!(durations("1 min"), vec![60]);
        assert_eq!(durations("60s"), vec![60]);
        assert_eq!(durations("1 hour"), vec![3_600]);
        assert_eq!(durations("EX 86_400"), vec![86_400]);
        assert_eq!(durations("no numbers here"), Vec::<u64>::new());
        assert_eq!(durations("7 apples"), Vec::<u64>::new());
        // Never panics on odd input.
        let _ = durations("99999999999999999999999999 d ---- … ... EX");
    }

    #[test]
    fn the_repository_guide_passes() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/key-namespacing.md");
        let row = check_doc(&path);
        assert_eq!(row.status, Status::Pass, "{}", row.evidence);
        assert!(
            row.evidence.contains("llm_cache 1–7 days"),
            "{}",
            row.evidence
        );
    }

    const GOOD: &str = "Keys are `tenant_id:scope:key_identifier`.\n\n| scope | TTL |\n|---|---|\n| `session` | 24 h |\n| `llm_cache` | 1–7 days |\n| `rate_limit` | 1 min |\n| `temp` | 1 h |\n";

    #[test]
    fn each_missing_piece_is_named() {
        assert!(check_doc_text(GOOD).0, "{}", check_doc_text(GOOD).1);
        let (ok, ev) =
            check_doc_text(&GOOD.replace("tenant_id:scope:key_identifier", "tenant/scope/key"));
        assert!(!ok && ev.contains("key format"), "{ev}");
        let (ok, ev) = check_doc_text(&GOOD.replace("| `rate_limit` | 1 min |\n", ""));
        assert!(!ok && ev.contains("`rate_limit` scope"), "{ev}");
        let (ok, ev) = check_doc_text(&GOOD.replace("1 min", "5 min"));
        assert!(
            !ok && ev.contains("`rate_limit` should have TTL 1 min; its row documents 5 min"),
            "{ev}"
        );
        let (ok, ev) = check_doc_text(&GOOD.replace("1–7 days", "1 day"));
        assert!(!ok && ev.contains("llm_cache"), "{ev}");
        let (ok, ev) = check_doc_text(&GOOD.replace("24 h", "forever"));
        assert!(!ok && ev.contains("no duration"), "{ev}");
    }

    #[test]
    fn a_missing_file_fails_naming_it() {
        let row = check_doc(Path::new("/nonexistent/key-namespacing.md"));
        assert_eq!(row.status, Status::Fail);
        assert!(row
            .evidence
            .contains("/nonexistent/key-namespacing.md is missing"));
    }

    #[test]
    fn scope_ttls() {
        assert_eq!(scope_ttl("session"), Some(86_400));
        assert_eq!(scope_ttl("rate_limit"), Some(60));
        assert_eq!(scope_ttl("nope"), None);
    }
}
