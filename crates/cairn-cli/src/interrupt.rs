//! Interrupts during `up`/`destroy`: the first SIGINT or SIGTERM stops new
//! operations (those in flight finish and are journalled, state is saved and
//! the lock released: exit 130, or 143 for SIGTERM); a second SIGINT exits
//! at once, leaving the journal for the next run's recovery, as a kill does.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use tokio::signal::unix::{signal, SignalKind};

pub struct Interrupts {
    pub cancel: Arc<AtomicBool>,
    code: Arc<AtomicU8>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Interrupts {
    /// Starts listening (for the duration of an apply).
    pub fn watch() -> Interrupts {
        let cancel = Arc::new(AtomicBool::new(false));
        let code = Arc::new(AtomicU8::new(0));
        let (mut int, mut term) = match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(i), Ok(t)) => (i, t),
            _ => {
                tracing::warn!("cannot listen for interrupts; Ctrl-C stops the run at once");
                return Interrupts {
                    cancel,
                    code,
                    task: None,
                };
            }
        };
        let (flag, first) = (cancel.clone(), code.clone());
        let task = tokio::spawn(async move {
            let c = tokio::select! {
                _ = int.recv() => 130,
                _ = term.recv() => 143,
            };
            first.store(c, Ordering::SeqCst);
            flag.store(true, Ordering::SeqCst);
            eprintln!(
                "\ninterrupted: letting the operations in flight finish, starting no more (interrupt again to exit at once; the next run recovers)"
            );
            let again = tokio::select! {
                _ = int.recv() => 130,
                _ = term.recv() => 143,
            };
            eprintln!("interrupted again: exiting now; the next run recovers what was in flight");
            std::process::exit(again);
        });
        Interrupts {
            cancel,
            code,
            task: Some(task),
        }
    }

    /// 130 (SIGINT) or 143 (SIGTERM) once interrupted.
    pub fn exit_code(&self) -> Option<u8> {
        match self.code.load(Ordering::SeqCst) {
            0 => None,
            c => Some(c),
        }
    }
}

impl Drop for Interrupts {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// What an interrupted apply did, for the user.
pub fn summary(report: &cairn_core::exec::ApplyReport) -> String {
    let list = |v: &[String]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    let failed: Vec<String> = report.failed.iter().map(|(n, _)| n.clone()).collect();
    format!(
        "interrupted: finished: {}; failed: {}; not started: {}\nstate saved and the lock released; run the command again to continue",
        list(&report.succeeded),
        list(&failed),
        list(&report.not_started)
    )
}
