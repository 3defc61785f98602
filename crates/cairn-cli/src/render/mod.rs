//! Plan rendering: coloured text for people, markdown for pull requests.
//! (JSON is `Plan::to_json` in the core: one stable schema.)

pub mod markdown;
pub mod text;

use std::io::IsTerminal;

/// Colour only on a terminal, and never when NO_COLOR is set.
pub fn colour_stdout() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}
