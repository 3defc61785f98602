//! Markdown for pull-request comments: a summary table, then a collapsible
//! section per changed resource. Secrets masked; long output truncated.

use cairn_core::diag::Problems;
use cairn_core::plan::{Action, ChangeKind, Plan};
use std::fmt::Write;

/// GitHub comments hold 65,536 characters; stay well below.
const LIMIT: usize = 60_000;

pub fn plan(plan: &Plan, warnings: &Problems) -> String {
    let s = plan.summary();
    let mut out = String::new();
    let _ = writeln!(out, "### cairn preview: `{}`\n", plan.stack);
    let _ = writeln!(
        out,
        "| create | update | replace | delete | import | unchanged |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|");
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} |\n",
        s.create, s.update, s.replace, s.delete, s.import, s.same
    );
    if plan.partial {
        let _ = writeln!(out, "> **Partial plan** (`--target`/`--exclude`).\n");
    }
    let warnings = super::warnings::collect(warnings.problems.iter().chain(&plan.warnings));
    if !warnings.is_empty() {
        out.push_str(&super::warnings::markdown(&warnings));
        out.push('\n');
    }
    if !plan.drift.is_empty() {
        let _ = writeln!(
            out,
            "#### Drift: changed outside cairn\n\n```diff\n{}```\n",
            super::text::drift(&plan.drift)
        );
    }
    if let Some(picture) = crate::graph::plan_picture(plan) {
        // Changed resources and their neighbours; GitHub draws the block.
        let graph = format!(
            "<details><summary>Graph of the changes ({} resource(s) and their neighbours)</summary>\n\n```mermaid\n{}```\n</details>\n\n",
            s.create + s.update + s.replace + s.delete + s.import,
            crate::graph::mermaid(&picture)
        );
        if graph.len() < LIMIT / 4 {
            out.push_str(&graph);
        }
    }
    let mut truncated = 0usize;
    // Tree order, as the text plan: children follow their parent, and an
    // unchanged parent is listed (without a diff) above a changed child.
    for (step, depth) in super::text::tree(plan) {
        let mut section = String::new();
        let mut notes = super::text::notes(step);
        if let (Some(parent), true) = (&step.parent, depth > 0) {
            notes.insert(0, format!("under {parent}"));
        }
        let notes: String = notes
            .iter()
            .map(|n| format!(", {}", code_names(n)))
            .collect();
        let indent = "&nbsp;&nbsp;".repeat(depth);
        if !super::text::does_something(step) {
            let _ = writeln!(
                section,
                "{indent}<code>Same</code> <b>{}</b> ({}){notes}\n",
                step.name, step.type_token
            );
            out.push_str(&section);
            continue;
        }
        let _ = writeln!(
            section,
            "<details><summary>{indent}<code>{:?}</code> <b>{}</b> ({}){notes}</summary>\n",
            step.action, step.name, step.type_token
        );
        if !step.replace_paths.is_empty() {
            let reasons: Vec<String> = step
                .replace_paths
                .iter()
                .map(|p| format!("`{p}`"))
                .collect();
            let _ = writeln!(
                section,
                "Replaced because {} changed.\n",
                reasons.join(", ")
            );
        }
        let _ = writeln!(section, "```diff");
        if step.action == Action::Create {
            for (k, v) in step.new_inputs.iter().flatten() {
                let _ = writeln!(section, "+ {k}: {}", v.display_masked());
            }
        }
        for c in &step.changes {
            let old = c
                .old
                .as_ref()
                .map(|v| v.display_masked())
                .unwrap_or_default();
            let new = c
                .new
                .as_ref()
                .map(|v| v.display_masked())
                .unwrap_or_default();
            let forced = if c.forces_replace {
                "  # forces replacement"
            } else {
                ""
            };
            match c.kind {
                ChangeKind::Add => writeln!(section, "+ {}: {new}{forced}", c.path),
                ChangeKind::Remove => writeln!(section, "- {}: {old}{forced}", c.path),
                ChangeKind::Modify => {
                    writeln!(section, "- {}: {old}\n+ {}: {new}{forced}", c.path, c.path)
                }
            }
            .ok();
        }
        let _ = writeln!(section, "```\n</details>\n");
        if out.len() + section.len() > LIMIT {
            truncated += 1;
        } else {
            out.push_str(&section);
        }
    }
    if truncated > 0 {
        let _ = writeln!(out, "_{truncated} more resource change(s) not shown: run `cairn preview` for the full diff._");
    }
    out
}

/// A note with its resource names in `<code>`: "renamed from old" and
/// "under group" name one; other notes are prose.
fn code_names(note: &str) -> String {
    for lead in ["renamed from ", "re-parented from ", "under ", "with "] {
        if let Some(rest) = note.strip_prefix(lead) {
            let (name, tail) = rest.split_once(':').map_or((rest, ""), |(n, t)| (n, t));
            if !name.contains(' ') {
                let tail = if tail.is_empty() {
                    String::new()
                } else {
                    format!(":{tail}")
                };
                return format!("{lead}<code>{name}</code>{tail}");
            }
        }
    }
    note.replace('`', "")
}
