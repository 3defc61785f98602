//! Live per-resource progress: indicatif bars on a terminal, plain lines elsewhere.

use cairn_core::exec::{ApplyReport, EventSink, ExecEvent};
use cairn_core::plan::{Action, Plan};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use owo_colors::OwoColorize;
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
    colour: bool,
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
            colour: crate::render::colour_stderr(),
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
                let colour = live.colour;
                let bars = Arc::new(Mutex::new(HashMap::<String, ProgressBar>::new()));
                Arc::new(move |event| live_event(&multi, &bars, colour, event))
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

/// A provider's status without the elapsed time it appends (`creating (12s)`):
/// the bar shows its own timer, so the line keeps one.
fn without_timer(status: &str) -> &str {
    if let Some(open) = status.rfind(" (") {
        let inner = &status[open + 2..];
        if let Some(secs) = inner.strip_suffix("s)") {
            if !secs.is_empty() && secs.bytes().all(|b| b.is_ascii_digit()) {
                return &status[..open];
            }
        }
    }
    status
}

fn live_event(
    multi: &MultiProgress,
    bars: &Mutex<HashMap<String, ProgressBar>>,
    colour: bool,
    event: ExecEvent,
) {
    let Ok(mut bars) = bars.lock() else { return };
    match event {
        ExecEvent::Started { name, action } => {
            let bar = multi.add(ProgressBar::new_spinner());
            let template = if colour {
                "{spinner} {prefix:.bold} {msg} [{elapsed}]"
            } else {
                "{spinner} {prefix} {msg} [{elapsed}]"
            };
            bar.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(name.clone());
            bar.set_message(verb(action));
            bar.enable_steady_tick(Duration::from_millis(120));
            bars.insert(name, bar);
        }
        ExecEvent::Progress { name, status } => {
            if let Some(bar) = bars.get(&name) {
                bar.set_message(without_timer(&status).to_string());
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
            let line = format!("✓ {name} {} ({:.1}s)", done(action), elapsed.as_secs_f64());
            let _ = multi.println(if colour {
                line.green().to_string()
            } else {
                line
            });
        }
        ExecEvent::Failed {
            name,
            action,
            error,
        } => {
            if let Some(bar) = bars.remove(&name) {
                bar.finish_and_clear();
            }
            let line = format!("✗ {name} {} failed: {error}", verb(action));
            let _ = multi.println(if colour { line.red().to_string() } else { line });
        }
        ExecEvent::Skipped { name, reason } => {
            let _ = multi.println(format!("- {name} skipped ({reason})"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::without_timer;

    #[test]
    fn the_status_loses_its_own_timer_only() {
        assert_eq!(without_timer("available (12s)"), "available");
        assert_eq!(without_timer("creating (0s)"), "creating");
        assert_eq!(without_timer("creating"), "creating");
        assert_eq!(without_timer("modifying (primary)"), "modifying (primary)");
        assert_eq!(without_timer("x (s)"), "x (s)");
    }
}
