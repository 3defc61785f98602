//! `cairn version`: the build's version and the formats it reads and writes.

use std::process::ExitCode;

/// What `cairn version` prints (the first line is what `--version` prints).
pub fn text() -> String {
    format!(
        "cairn {}\nstate format {}\n",
        env!("CARGO_PKG_VERSION"),
        cairn_state::dto::FORMAT_VERSION
    )
}

pub fn run() -> ExitCode {
    print!("{}", text());
    ExitCode::SUCCESS
}
