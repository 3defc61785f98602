//! Warnings (policy advisories, plan notes) in one compact form for every
//! output: the code once, where, one line of help; each warning once.

use cairn_core::diag::Problem;
use owo_colors::OwoColorize;
use std::fmt::Write;

/// One warning as shown to people and machines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub code: String,
    /// The message without a leading copy of the code's last part.
    pub message: String,
    /// `file:line:col`, when the warning points into a file.
    pub location: Option<String>,
    /// One line.
    pub help: Option<String>,
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Warning {
    pub fn from_problem(p: &Problem) -> Warning {
        let short = p.code.rsplit("::").next().unwrap_or(&p.code);
        let message = p
            .message
            .strip_prefix(short)
            .and_then(|m| m.strip_prefix(':'))
            .map(str::trim_start)
            .unwrap_or(&p.message);
        Warning {
            code: p.code.clone(),
            message: one_line(message),
            location: p.line_col().and_then(|(line, col)| {
                p.source
                    .as_ref()
                    .map(|s| format!("{}:{line}:{col}", s.name))
            }),
            help: p.help.as_deref().map(one_line),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "code": self.code,
            "message": self.message,
            "location": self.location,
            "help": self.help,
        })
    }
}

/// Each distinct warning once, in the order first seen.
pub fn collect<'a>(problems: impl IntoIterator<Item = &'a Problem>) -> Vec<Warning> {
    let mut out: Vec<Warning> = Vec::new();
    for w in problems.into_iter().map(Warning::from_problem) {
        if !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

/// For a terminal or a log: `warning[CODE]: message` / `  --> where` / `  help: ...`.
pub fn text(warnings: &[Warning], colour: bool) -> String {
    let mut out = String::new();
    for w in warnings {
        let head = format!("warning[{}]", w.code);
        let head = if colour {
            head.yellow().bold().to_string()
        } else {
            head
        };
        let _ = writeln!(out, "{head}: {}", w.message);
        if let Some(at) = &w.location {
            let _ = writeln!(out, "  --> {at}");
        }
        if let Some(help) = &w.help {
            let _ = writeln!(out, "  help: {help}");
        }
    }
    out
}

/// For a pull-request comment: one quoted line per warning.
pub fn markdown(warnings: &[Warning]) -> String {
    let mut out = String::new();
    for w in warnings {
        let at = w
            .location
            .as_deref()
            .map(|l| format!(" (`{l}`)"))
            .unwrap_or_default();
        let help = w
            .help
            .as_deref()
            .map(|h| format!(" _Help:_ {h}"))
            .unwrap_or_default();
        let _ = writeln!(out, "> ⚠️ `{}` {}{at}.{help}", w.code, w.message);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_once_the_help_on_one_line_duplicates_dropped() {
        let p = Problem::warning("cairn::policy::CAIRN-POL-103", "CAIRN-POL-103: no rotation")
            .help("rotate the token,\n  on a schedule");
        let ws = collect([&p, &p]);
        assert_eq!(ws.len(), 1);
        assert_eq!(ws[0].message, "no rotation");
        let shown = text(&ws, false);
        assert_eq!(shown.matches("CAIRN-POL-103").count(), 1, "{shown}");
        assert!(
            shown.contains("  help: rotate the token, on a schedule\n"),
            "{shown}"
        );
        let md = markdown(&ws);
        assert_eq!(md.lines().count(), 1, "{md}");
    }
}
