//! Plan rendering: coloured text for people, markdown for pull requests.
//! (JSON is `Plan::to_json` in the core: one stable schema.)

pub mod markdown;
pub mod text;
pub mod warnings;

use std::io::IsTerminal;

/// Colour on stdout (the plan): see [`colour`].
pub fn colour_stdout() -> bool {
    colour(std::io::stdout().is_terminal())
}

/// Colour on stderr (reports, logs, progress): see [`colour`].
pub fn colour_stderr() -> bool {
    colour(std::io::stderr().is_terminal())
}

/// Whether to colour a stream: never with `NO_COLOR` (non-empty), always
/// with `CLICOLOR_FORCE` (non-empty, not `0`), else only on a terminal.
pub fn colour(is_terminal: bool) -> bool {
    decide(
        std::env::var("NO_COLOR").ok().as_deref(),
        std::env::var("CLICOLOR_FORCE").ok().as_deref(),
        is_terminal,
    )
}

fn decide(no_color: Option<&str>, force: Option<&str>, is_terminal: bool) -> bool {
    if no_color.is_some_and(|v| !v.is_empty()) {
        return false;
    }
    if force.is_some_and(|v| !v.is_empty() && v != "0") {
        return true;
    }
    is_terminal
}

#[cfg(test)]
mod tests {
    use super::decide;

    #[test]
    fn no_color_wins_then_force_then_the_terminal() {
        assert!(decide(None, None, true));
        assert!(!decide(None, None, false));
        assert!(!decide(Some("1"), None, true));
        assert!(!decide(Some("1"), Some("1"), true));
        assert!(decide(Some(""), None, true), "an empty NO_COLOR is unset");
        assert!(decide(None, Some("1"), false));
        assert!(!decide(None, Some("0"), false));
        assert!(!decide(None, Some(""), false));
    }
}
