//! Human plan text: one line per resource, a per-property diff, a summary line.

use cairn_core::drift::Drift;
use cairn_core::plan::{Action, ChangeKind, Plan, Step};
use cairn_core::state::ResourceState;
use cairn_core::value::Value;
use owo_colors::OwoColorize;
use std::fmt::Write;

fn symbol(action: Action) -> &'static str {
    match action {
        Action::Create => "+",
        Action::Update => "~",
        Action::Replace => "±",
        Action::Delete => "-",
        Action::Import => "=",
        Action::Same => " ",
    }
}

fn paint(text: &str, action: Action, colour: bool) -> String {
    if !colour {
        return text.to_string();
    }
    match action {
        Action::Create => text.green().to_string(),
        Action::Update => text.yellow().to_string(),
        Action::Replace => text.magenta().to_string(),
        Action::Delete => text.red().to_string(),
        Action::Import => text.cyan().to_string(),
        Action::Same => text.dimmed().to_string(),
    }
}

fn action_word(step: &Step) -> String {
    let word = action_only(step);
    match (&step.renamed_from, &step.deleted_with) {
        (Some(from), _) => format!("{word} (renamed from {from})"),
        (None, Some(with)) => format!("{word} (with {with}: no delete call of its own)"),
        (None, None) => word,
    }
}

fn action_only(step: &Step) -> String {
    match step.action {
        Action::Replace if step.delete_before_replace => "replace (delete first)".into(),
        Action::Replace => "replace".into(),
        Action::Create => "create".into(),
        Action::Update => "update".into(),
        Action::Delete => "delete".into(),
        Action::Import => format!("import {}", step.import_id.as_deref().unwrap_or("")),
        Action::Same => "same".into(),
    }
}

/// The preview text of a plan. Secrets are always masked.
pub fn plan(plan: &Plan, colour: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Stack {}", plan.stack);
    if !plan.drift.is_empty() {
        let _ = writeln!(
            out,
            "Drift (changed outside cairn; the plan below undoes it):"
        );
        out.push_str(&drift(&plan.drift));
    }
    let shown_steps = plan
        .steps
        .iter()
        .filter(|s| s.action != Action::Same || s.renamed_from.is_some());
    for step in shown_steps {
        let head = format!(
            "{} {} ({}) {}",
            symbol(step.action),
            step.name,
            step.type_token,
            action_word(step)
        );
        let _ = writeln!(out, "{}", paint(&head, step.action, colour));
        if step.action == Action::Replace && !step.replace_paths.is_empty() {
            let reasons: Vec<String> = step.replace_paths.iter().map(|p| p.to_string()).collect();
            let _ = writeln!(out, "    replaced because {} changed", reasons.join(", "));
        }
        if step.action == Action::Create {
            if let Some(inputs) = &step.new_inputs {
                for (k, v) in inputs {
                    let _ = writeln!(
                        out,
                        "    {}",
                        paint(
                            &format!("+ {k}: {}", v.display_masked()),
                            Action::Create,
                            colour
                        )
                    );
                }
            }
            continue;
        }
        if let (Action::Update, Some(old)) = (step.action, &step.old) {
            if !same_set(&old.dependencies, &step.dependencies) {
                let line = format!(
                    "~ dependencies: [{}] => [{}]",
                    old.dependencies.join(", "),
                    step.dependencies.join(", ")
                );
                let _ = writeln!(out, "    {}", paint(&line, Action::Update, colour));
            }
        }
        for change in &step.changes {
            let line = match change.kind {
                ChangeKind::Add => format!("+ {}: {}", change.path, shown(&change.new)),
                ChangeKind::Remove => format!("- {}: {}", change.path, shown(&change.old)),
                ChangeKind::Modify => format!(
                    "~ {}: {} => {}",
                    change.path,
                    shown(&change.old),
                    shown(&change.new)
                ),
            };
            let forced = if change.forces_replace {
                " (forces replacement)"
            } else {
                ""
            };
            let action = match change.kind {
                ChangeKind::Add => Action::Create,
                ChangeKind::Remove => Action::Delete,
                ChangeKind::Modify => Action::Update,
            };
            let _ = writeln!(out, "    {}{forced}", paint(&line, action, colour));
        }
    }
    if plan.partial {
        let _ = writeln!(out, "warning: this plan is partial (--target/--exclude)");
    }
    let s = plan.summary();
    let renamed = plan
        .steps
        .iter()
        .filter(|s| s.renamed_from.is_some())
        .count();
    let _ = writeln!(
        out,
        "Resources: {} ({} unchanged){}{}",
        s.line(),
        s.same,
        if renamed > 0 {
            format!(", {renamed} renamed")
        } else {
            String::new()
        },
        if s.import > 0 {
            format!(", {} to import", s.import)
        } else {
            String::new()
        }
    );
    if !plan.has_changes() {
        let _ = writeln!(out, "No changes.");
    }
    out
}

/// The same names, in any order.
fn same_set(a: &[String], b: &[String]) -> bool {
    let a: std::collections::BTreeSet<&String> = a.iter().collect();
    let b: std::collections::BTreeSet<&String> = b.iter().collect();
    a == b
}

fn shown(v: &Option<Value>) -> String {
    v.as_ref()
        .map(Value::display_masked)
        .unwrap_or_else(|| "null".into())
}

/// Drift found by a refresh, one line per property (secrets masked).
pub fn drift(drift: &[Drift]) -> String {
    let mut out = String::new();
    for d in drift {
        if d.gone {
            let _ = writeln!(
                out,
                "- {} ({}) was deleted outside cairn",
                d.resource, d.type_token
            );
            continue;
        }
        let _ = writeln!(
            out,
            "~ {} ({}) changed outside cairn",
            d.resource, d.type_token
        );
        for c in &d.changes {
            let _ = writeln!(
                out,
                "    ~ {}: {} => {}",
                c.path,
                shown(&c.old),
                shown(&c.new)
            );
        }
    }
    out
}

/// YAML that declares an imported resource as it exists (secrets masked).
pub fn resource_yaml(rs: &ResourceState) -> String {
    let mut out = format!(
        "  {}:\n    type: {}\n    properties:\n",
        rs.name, rs.type_token
    );
    for (k, v) in &rs.inputs {
        let json = v.to_masked_json();
        let _ = writeln!(out, "      {k}: {json}");
    }
    let _ = writeln!(
        out,
        "    options:\n      import: {}\n      protect: true",
        rs.id
    );
    out
}
