//! `up --json` / `destroy --json`: one JSON event per line on stdout
//! (documented in `docs/events-json.md`). Needs `--yes`: a stream cannot
//! ask for confirmation.

use crate::args::ApplyArgs;
use crate::backend::{with_writer, Writer};
use crate::engine::{load, open_writer, recover};
use crate::error::CliError;
use cairn_core::exec::{self, ExecEvent, ExecOptions};
use cairn_core::plan::{self, PlanOptions};
use serde_json::{json, Value};
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

/// The event stream's version, in its first line.
pub const EVENTS_FORMAT: &str = "1";

fn emit(event: Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{event}");
    let _ = out.flush();
}

/// One executor event as its JSON line.
pub fn event_json(event: &ExecEvent) -> Value {
    match event {
        ExecEvent::Started { name, action } => {
            json!({"type": "started", "name": name, "action": action.as_str()})
        }
        ExecEvent::Progress { name, status } => {
            json!({"type": "progress", "name": name, "status": status})
        }
        ExecEvent::Finished {
            name,
            action,
            elapsed,
        } => json!({
            "type": "finished", "name": name, "action": action.as_str(),
            "elapsed_ms": u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        }),
        ExecEvent::Failed {
            name,
            action,
            error,
        } => json!({"type": "failed", "name": name, "action": action.as_str(), "error": error}),
        ExecEvent::Skipped { name, reason } => {
            json!({"type": "skipped", "name": name, "reason": reason})
        }
    }
}

/// `up --json` (`destroy` false) or `destroy --json`.
pub async fn apply(args: ApplyArgs, destroy: bool) -> Result<ExitCode, CliError> {
    if !args.yes {
        return Err(CliError::Usage(
            "`--json` needs `--yes`: the event stream cannot ask for confirmation".into(),
        ));
    }
    if destroy && args.plan.is_some() {
        return Err(CliError::Usage(
            "--plan is for `cairn up`; destroy plans are not saved".into(),
        ));
    }
    let saved = match &args.plan {
        Some(path) => Some((path, crate::saved_plan::read(path)?)),
        None => None,
    };
    let loaded = load(&args.run.select).await?;
    let writer = open_writer(&loaded, &args.run).await?;
    let options = PlanOptions {
        targets: args.target.clone(),
        excludes: args.exclude.clone(),
    };
    with_writer(writer, async |writer: &Writer| {
        let mut state = recover(writer, &loaded.registry, &loaded.spec.name).await?;
        if !destroy {
            let recorded = state;
            state = crate::stack_reference::resolve(&loaded, recorded.clone()).await?;
            crate::stack_reference::record(writer, &recorded, &state)?;
        }
        let plan = if destroy {
            let mut p = plan::plan_destroy(&state, &options);
            plan::apply_deleted_with(&mut p, &loaded.spec);
            p.stack = loaded.spec.name.clone();
            crate::names::refuse_unknown_targets(&p)?;
            p
        } else {
            plan::plan_with(
                &loaded.spec,
                &state,
                &loaded.registry,
                &options,
                &crate::engine::finish_rotation(args.finish_rotation),
            )?
        };
        if let Some((path, doc)) = &saved {
            let file = crate::engine::stack_path(&args.run.select)?;
            let now =
                crate::saved_plan::document(&loaded, &file, &args.run.select.config, &state, &plan);
            crate::saved_plan::check(path, doc, &now)?;
        }
        crate::results::expect_no_changes(args.expect_no_changes, &plan)?;
        let started = cairn_state::history::now();
        emit(json!({
            "type": "run_started",
            "format_version": EVENTS_FORMAT,
            "command": if destroy { "destroy" } else { "up" },
            "stack": plan.stack,
            "summary": plan.summary(),
        }));
        let report = if plan.has_changes() {
            let sink: exec::EventSink = Arc::new(|e: ExecEvent| emit(event_json(&e)));
            let interrupts = crate::interrupt::Interrupts::watch();
            let exec_options = ExecOptions::new(&loaded.spec.name)
                .with_cancel(interrupts.cancel.clone())
                .with_parallel(args.parallel.max(1))
                .with_events(sink)
                .with_first_op_id(writer.store().next_op_id());
            // The test build's crash injection and slow operations, as for `up`.
            let killswitch = crate::killswitch::KillSwitch::from_env(writer.sink());
            let state_sink: &dyn cairn_core::state::StateSink = match &killswitch {
                Some(k) => k,
                None => writer.sink(),
            };
            let report = exec::apply(
                &plan,
                Some(&loaded.spec),
                &state,
                &loaded.registry,
                state_sink,
                &exec_options,
            )
            .await;
            writer.sync().await?;
            crate::commands::history::record(writer, started, report.ok(), &plan.summary().line());
            let interrupted = interrupts.exit_code().filter(|_| report.interrupted);
            Some((report, interrupted))
        } else {
            None
        };
        let interrupted = report.as_ref().and_then(|(_, code)| *code);
        let report = report.map(|(r, _)| r);
        let ok = report.as_ref().is_none_or(|r| r.ok());
        let (succeeded, failed, skipped) = match &report {
            Some(r) => (
                r.succeeded.clone(),
                r.failed
                    .iter()
                    .map(|(n, e)| json!({"name": n, "error": e}))
                    .collect(),
                r.skipped.clone(),
            ),
            None => (Vec::new(), Vec::new(), Vec::new()),
        };
        let not_started = report
            .as_ref()
            .map(|r| r.not_started.clone())
            .unwrap_or_default();
        emit(json!({
            "type": "summary",
            "ok": ok,
            "succeeded": succeeded,
            "failed": failed,
            "skipped": skipped,
            "interrupted": interrupted.is_some(),
            "not_started": not_started,
        }));
        if let Some(code) = interrupted {
            return Ok(ExitCode::from(code));
        }
        Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    })
    .await
}
