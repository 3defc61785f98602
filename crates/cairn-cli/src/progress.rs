//! Live per-resource progress: indicatif bars on a terminal, plain lines elsewhere.

use cairn_core::exec::{ApplyReport, EventSink, ExecEvent};
use cairn_core::plan::{Action, Plan};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Display {
    live: Option<Live>,
    started: Instant,
}

struct Live {
    multi: MultiProgress,
}

fn verb(action: Action) -> &'static str {
    match action {
        Action::Create => "creating",
        Action::Update => "updating",
        Action::Replace => "replacing",
        Action::Delete => "deleting",
        Action::Import => "importing",
        Action::Same => "checking",
    }
}

fn done(action: Action) -> &'static str {
    match action {
        Action::Create => "created",
        Action::Update => "updated",
        Action::Replace => "replaced",
        Action::Delete => "deleted",
        Action::Import => "imported",
        Action::Same => "unchanged",
    }
}

impl Display {
    pub fn new(_plan: &Plan) -> Self {
        let live = std::io::stderr().is_terminal().then(|| Live {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
        });
        Display {
            live,
            started: Instant::now(),
        }
    }

    pub fn sink(&self) -> EventSink {
        match &self.live {
            None => Arc::new(plain_line),
            Some(live) => {
                let multi = live.multi.clone();
                let bars = Arc::new(Mutex::new(HashMap::<String, ProgressBar>::new()));
                Arc::new(move |event| live_event(&multi, &bars, event))
            }
        }
    }

    pub fn finish(&self, report: &ApplyReport) {
        if let Some(live) = &self.live {
            let _ = live.multi.clear();
        }
        let elapsed = self.started.elapsed();
        eprintln!(
            "{} succeeded, {} failed, {} skipped in {:.1}s",
            report.succeeded.len(),
            report.failed.len(),
            report.skipped.len(),
            elapsed.as_secs_f64()
        );
        for (name, error) in &report.failed {
            eprintln!("  failed: {name}: {error}");
        }
    }
}

fn plain_line(event: ExecEvent) {
    match event {
        ExecEvent::Started { name, action } => eprintln!("{name}: {}...", verb(action)),
        ExecEvent::Progress { name, status } => eprintln!("{name}: {status}"),
        ExecEvent::Finished {
            name,
            action,
            elapsed,
        } => {
            eprintln!("{name}: {} ({:.1}s)", done(action), elapsed.as_secs_f64())
        }
        ExecEvent::Failed {
            name,
            action,
            error,
        } => eprintln!("{name}: {} failed: {error}", verb(action)),
        ExecEvent::Skipped { name, reason } => eprintln!("{name}: skipped ({reason})"),
    }
}

fn live_event(multi: &MultiProgress, bars: &Mutex<HashMap<String, ProgressBar>>, event: ExecEvent) {
    let Ok(mut bars) = bars.lock() else { return };
    match event {
        ExecEvent::Started { name, action } => {
            let bar = multi.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix:.bold} {msg} [{elapsed}]")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(name.clone());
            bar.set_message(verb(action));
            bar.enable_steady_tick(Duration::from_millis(120));
            bars.insert(name, bar);
        }
        ExecEvent::Progress { name, status } => {
            if let Some(bar) = bars.get(&name) {
                bar.set_message(status);
            }
        }
        ExecEvent::Finished {
            name,
            action,
            elapsed,
        } => {
            if let Some(bar) = bars.remove(&name) {
                bar.finish_and_clear();
            }
            let _ = multi.println(format!(
                "✓ {name} {} ({:.1}s)",
                done(action),
                elapsed.as_secs_f64()
            ));
        }
        ExecEvent::Failed {
            name,
            action,
            error,
        } => {
            if let Some(bar) = bars.remove(&name) {
                bar.finish_and_clear();
            }
            let _ = multi.println(format!("✗ {name} {} failed: {error}", verb(action)));
        }
        ExecEvent::Skipped { name, reason } => {
            let _ = multi.println(format!("- {name} skipped ({reason})"));
        }
    }
}
