//! `stack history`, and the record each changing run leaves.

use crate::args::RunArgs;
use crate::backend::{Backend, Writer};
use crate::engine::load;
use crate::error::CliError;
use cairn_state::history::{self, HistoryRecordV1};
use std::process::ExitCode;

/// Records a run (up, destroy, refresh, import) in the stack's history.
/// A failure to record is a warning: the run itself happened.
// Without the `aws` feature the local backend is the only one.
#[allow(irrefutable_let_patterns)]
pub fn record(writer: &Writer, started_at: String, ok: bool, summary: &str) {
    if let Writer::Local(store) = writer {
        let rec = HistoryRecordV1::finished(started_at, ok, summary);
        if let Err(e) = store.append_history(&rec) {
            eprintln!("warning: could not record this run in the stack's history: {e}");
        }
    }
}

/// `stack history`: each run, oldest first (`--json`: one object per line).
#[allow(irrefutable_let_patterns)]
pub async fn show(run: RunArgs, json: bool) -> Result<ExitCode, CliError> {
    let loaded = load(&run.select).await?;
    let Backend::Local { root } = &loaded.backend else {
        return Err(CliError::Usage(
            "`stack history` is kept for the local backend only".into(),
        ));
    };
    let records = history::read(root, &loaded.spec.name)?;
    if records.is_empty() {
        eprintln!("stack `{}` has no recorded runs", loaded.spec.name);
    }
    for r in &records {
        if json {
            println!("{}", serde_json::to_string(r).unwrap_or_default());
        } else {
            println!(
                "{}\t{}@{}\t{}\t{}\t{}",
                r.started_at, r.user, r.host, r.result, r.summary, r.command
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
