//! Human plan text: one line per resource, a per-property diff, a summary line.

use cairn_core::drift::Drift;
use cairn_core::plan::{Action, ChangeKind, Plan, Step};
use cairn_core::state::ResourceState;
use cairn_core::value::Value;
use owo_colors::OwoColorize;
use std::collections::HashMap;
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
    let notes = notes(step);
    if notes.is_empty() {
        word
    } else {
        format!("{word} ({})", notes.join(", "))
    }
}

/// What a step does beyond its action word: a rename, a re-parent, or a
/// delete that makes no delete call (the object stays, or goes with another).
pub(crate) fn notes(step: &Step) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(from) = &step.renamed_from {
        notes.push(format!("renamed from {from}"));
    }
    // A re-parent that replaces says so in its change lines.
    if let (Some(from), false) = (step.reparented_from(), step.action == Action::Replace) {
        notes.push(format!(
            "re-parented from {}",
            from.unwrap_or("the stack root")
        ));
    }
    if step.action == Action::Delete {
        let old = step.old.as_ref();
        if old.is_some_and(|o| o.external) {
            notes.push("read with `get:`: forgotten, the object stays".into());
        } else if step.retain_on_delete {
            notes.push("retainOnDelete: forgotten, the object stays".into());
        } else if let Some(with) = &step.deleted_with {
            notes.push(format!("with {with}: no delete call of its own"));
        }
    }
    notes
}

/// Whether a step is shown on its own account (unchanged ones are not).
pub(crate) fn does_something(s: &Step) -> bool {
    s.action != Action::Same || s.renamed_from.is_some() || s.reparented_from().is_some()
}

/// The shown steps in tree order, with their depth: children under their
/// parent (`options.parent`), as `pulumi preview` shows them; an unchanged
/// parent is shown when a child below it changes.
pub(crate) fn tree(plan: &Plan) -> Vec<(&Step, usize)> {
    let steps = &plan.steps;
    let index: HashMap<&str, usize> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let mut children = vec![Vec::new(); steps.len()];
    let mut roots = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        match s.parent.as_deref().and_then(|p| index.get(p)) {
            Some(&j) if j != i => children[j].push(i),
            _ => roots.push(i),
        }
    }
    // Shown: does something, or has a shown descendant (children first).
    fn shown(
        i: usize,
        steps: &[Step],
        children: &[Vec<usize>],
        memo: &mut [Option<bool>],
        depth: usize,
    ) -> bool {
        if let Some(v) = memo[i] {
            return v;
        }
        memo[i] = Some(false); // guards a cycle
        let mut v = does_something(&steps[i]);
        if depth < steps.len() {
            for &c in &children[i] {
                v |= shown(c, steps, children, memo, depth + 1);
            }
        }
        memo[i] = Some(v);
        v
    }
    let mut memo = vec![None; steps.len()];
    let mut out = Vec::new();
    let mut seen = vec![false; steps.len()];
    let mut stack: Vec<(usize, usize)> = roots.iter().rev().map(|&r| (r, 0)).collect();
    // Steps left out of the tree by a cycle are shown at the top level.
    let mut rest = (0..steps.len()).rev();
    while let Some((i, depth)) = stack
        .pop()
        .or_else(|| rest.find(|&i| !seen[i]).map(|i| (i, 0)))
    {
        if seen[i] {
            continue;
        }
        seen[i] = true;
        if shown(i, steps, &children, &mut memo, 0) {
            out.push((&steps[i], depth));
        }
        stack.extend(children[i].iter().rev().map(|&c| (c, depth + 1)));
    }
    out
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

/// The `get:` resources the program read (Pulumi's `read` steps): never
/// created, changed or deleted.
pub fn reads(externals: &[cairn_core::spec::ExternalResource]) -> String {
    let mut out = String::new();
    for e in externals {
        let _ = writeln!(
            out,
            "> {} ({}) read {} (get:, not managed)",
            e.name, e.type_token, e.id
        );
    }
    out
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
    for (step, depth) in tree(plan) {
        let indent = "  ".repeat(depth);
        let head = format!(
            "{} {indent}{} ({}) {}",
            symbol(step.action),
            step.name,
            step.type_token,
            action_word(step)
        );
        let _ = writeln!(out, "{}", paint(&head, step.action, colour));
        if step.action == Action::Replace && !step.replace_paths.is_empty() {
            let reasons: Vec<String> = step.replace_paths.iter().map(|p| p.to_string()).collect();
            let _ = writeln!(
                out,
                "    {indent}replaced because {} changed",
                reasons.join(", ")
            );
        }
        if step.action == Action::Create {
            if let Some(inputs) = &step.new_inputs {
                for (k, v) in inputs {
                    let _ = writeln!(
                        out,
                        "    {indent}{}",
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
                let _ = writeln!(out, "    {indent}{}", paint(&line, Action::Update, colour));
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
            let _ = writeln!(out, "    {indent}{}{forced}", paint(&line, action, colour));
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
