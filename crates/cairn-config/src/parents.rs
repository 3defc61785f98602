//! `options.parent` (Pulumi's): the resource is grouped under another of
//! the program. The child depends on its parent (created after it, deleted
//! before it) and, as in Pulumi, inherits `protect` (unless it sets its
//! own) and, in `providers.rs`, its parent's provider for its package. An
//! unknown parent, the resource itself or a cycle is a diagnostic at the
//! `parent` value.

use crate::codes;
use crate::stack::{entries, find, suggest};
use crate::yaml::Node;
use cairn_core::diag::Problem;
use cairn_core::spec::StackSpec;
use cairn_core::validate::option_path;
use std::collections::HashMap;

/// Checks every `parent`, then adds the dependencies and inherited
/// `protect` (only when no parent is in error).
pub(crate) fn apply(root: &Node, spec: &mut StackSpec, problems: &mut Vec<Problem>) {
    let index: HashMap<&str, usize> = spec
        .resources
        .iter()
        .enumerate()
        .map(|(i, r)| (r.name.as_str(), i))
        .collect();
    let names: Vec<&str> = spec.resources.iter().map(|r| r.name.as_str()).collect();
    let parent_of: Vec<Option<usize>> = spec
        .resources
        .iter()
        .map(|r| {
            r.options
                .parent
                .as_deref()
                .and_then(|p| index.get(p).copied())
        })
        .collect();
    let mut failed = false;
    for (i, r) in spec.resources.iter().enumerate() {
        let Some(parent) = &r.options.parent else {
            continue;
        };
        let at = r.span_of(&option_path("parent"));
        if parent_of[i].is_none() {
            failed = true;
            problems.push(
                Problem::error(
                    codes::UNKNOWN_PARENT,
                    format!(
                        "`{}` has parent `{parent}`, which is not a resource of the program",
                        r.name
                    ),
                )
                .at(at, "unknown resource")
                .help(suggest(parent, &names).unwrap_or_else(|| {
                    "name another resource of the program, e.g. `parent: ${group}`".into()
                })),
            );
            continue;
        }
        // Walk up; meeting this resource again is a cycle.
        let mut chain = vec![r.name.as_str()];
        let mut at_index = parent_of[i];
        while let Some(j) = at_index {
            chain.push(&spec.resources[j].name);
            if j == i || chain.len() > spec.resources.len() + 1 {
                break;
            }
            at_index = parent_of[j];
        }
        if at_index == Some(i) {
            failed = true;
            let (message, help) = if chain.len() == 2 {
                (
                    format!("`{}` is its own parent", r.name),
                    "name another resource, or remove `parent` to keep it at the top level"
                        .to_string(),
                )
            } else {
                (
                    format!(
                        "the parents of `{}` form a cycle: {}",
                        r.name,
                        chain.join(" -> ")
                    ),
                    "a parent chain must end at a resource without `parent`; remove one of them"
                        .to_string(),
                )
            };
            problems.push(
                Problem::error(codes::PARENT_CYCLE, message)
                    .at(at, "cycle")
                    .help(help),
            );
        }
    }
    if failed {
        return;
    }
    // `protect` given in the program, per resource.
    let explicit: Vec<bool> = spec
        .resources
        .iter()
        .map(|r| {
            find(root, "resources")
                .and_then(|rs| find(&rs.value, &r.name))
                .and_then(|e| find(&e.value, "options"))
                .is_some_and(|o| entries(&o.value).iter().any(|e| e.key == "protect"))
        })
        .collect();
    let protect: Vec<bool> = (0..spec.resources.len())
        .map(|i| {
            let mut at = Some(i);
            while let Some(j) = at {
                if explicit[j] {
                    return spec.resources[j].options.protect;
                }
                at = parent_of[j];
            }
            false
        })
        .collect();
    for (i, r) in spec.resources.iter_mut().enumerate() {
        let Some(parent) = r.options.parent.clone() else {
            continue;
        };
        r.options.protect = protect[i];
        if !r.options.depends_on.contains(&parent) {
            r.options.depends_on.push(parent);
        }
    }
}

/// The chain of parents of resource `index` (nearest first), bounded so a
/// cycle (already reported) cannot loop.
pub(crate) fn ancestors(spec: &StackSpec, index: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut at = spec.resources[index].options.parent.as_deref();
    while let Some(name) = at {
        let Some(j) = spec.resources.iter().position(|r| r.name == name) else {
            break;
        };
        if j == index || out.contains(&j) {
            break;
        }
        out.push(j);
        at = spec.resources[j].options.parent.as_deref();
    }
    out
}
