//! `cairn graph`: the dependency graph as DOT or Mermaid; and the Mermaid
//! picture of a plan's changed resources and their neighbours (markdown).

use crate::args::{GraphArgs, GraphFormat};
use crate::error::CliError;
use cairn_core::graph::DependencyGraph;
use cairn_core::plan::{Action, Plan};
use std::collections::BTreeSet;
use std::fmt::Write;
use std::process::ExitCode;

/// One resource in a picture; `action` only for a plan's.
pub struct Node {
    pub name: String,
    pub type_token: String,
    pub action: Option<Action>,
}

/// Nodes in a stable order and edges `(dependency, dependent)` by index.
pub struct Picture {
    pub title: String,
    pub nodes: Vec<Node>,
    pub edges: Vec<(usize, usize)>,
}

pub async fn run(args: GraphArgs) -> Result<ExitCode, CliError> {
    let loaded = crate::engine::load(&args.select).await?;
    let graph = DependencyGraph::build(&loaded.spec).map_err(|p| {
        CliError::Invalid(cairn_core::diag::Problems {
            file: None,
            problems: vec![p],
        })
    })?;
    let order = graph.topo_order();
    let nodes: Vec<Node> = order
        .iter()
        .map(|name| Node {
            name: name.to_string(),
            type_token: loaded
                .spec
                .resources
                .iter()
                .find(|r| r.name == *name)
                .map(|r| r.type_token.clone())
                .unwrap_or_default(),
            action: None,
        })
        .collect();
    let index = |n: &str| order.iter().position(|o| *o == n);
    let mut edges = Vec::new();
    for (i, name) in order.iter().enumerate() {
        for dep in graph.dependencies(name) {
            if let Some(d) = index(dep) {
                edges.push((d, i));
            }
        }
    }
    let picture = Picture {
        title: loaded.spec.name.clone(),
        nodes,
        edges,
    };
    match args.format {
        GraphFormat::Dot => print!("{}", dot(&picture)),
        GraphFormat::Mermaid => print!("{}", mermaid(&picture)),
    }
    Ok(ExitCode::SUCCESS)
}

fn escaped(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

fn quoted(text: &str) -> String {
    format!("\"{}\"", escaped(text))
}

/// Graphviz DOT: `dot -Tsvg` draws it. Arrows point from a dependency to
/// what needs it (the order `up` creates them in).
pub fn dot(p: &Picture) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", quoted(&p.title));
    let _ = writeln!(out, "  rankdir=LR;");
    let _ = writeln!(out, "  node [shape=box, fontname=\"monospace\"];");
    for n in &p.nodes {
        let _ = writeln!(
            out,
            "  {} [label=\"{}\\n{}\"];",
            quoted(&n.name),
            escaped(&n.name),
            escaped(&n.type_token)
        );
    }
    for (from, to) in &p.edges {
        let _ = writeln!(
            out,
            "  {} -> {};",
            quoted(&p.nodes[*from].name),
            quoted(&p.nodes[*to].name)
        );
    }
    out.push_str("}\n");
    out
}

fn mermaid_text(text: &str) -> String {
    text.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

/// A Mermaid flowchart (GitHub renders it in a ```mermaid block).
pub fn mermaid(p: &Picture) -> String {
    let mut out = String::from("flowchart LR\n");
    for (i, n) in p.nodes.iter().enumerate() {
        let class = n
            .action
            .map(|a| format!(":::{}", a.as_str()))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  n{i}[\"{}<br/><small>{}</small>\"]{class}",
            mermaid_text(&n.name),
            mermaid_text(&n.type_token)
        );
    }
    for (from, to) in &p.edges {
        let _ = writeln!(out, "  n{from} --> n{to}");
    }
    if p.nodes.iter().any(|n| n.action.is_some()) {
        for (action, style) in [
            ("create", "fill:#dafbe1,stroke:#1a7f37"),
            ("update", "fill:#fff8c5,stroke:#9a6700"),
            ("replace", "fill:#fbefff,stroke:#8250df"),
            ("delete", "fill:#ffebe9,stroke:#cf222e"),
            ("import", "fill:#ddf4ff,stroke:#0969da"),
            ("same", "fill:#f6f8fa,stroke:#8c959f"),
        ] {
            let _ = writeln!(out, "  classDef {action} {style}");
        }
    }
    out
}

/// The plan's changed resources and their direct neighbours (what they
/// depend on and what depends on them), coloured by action; `None` when
/// nothing changes.
pub fn plan_picture(plan: &Plan) -> Option<Picture> {
    let changed: BTreeSet<&str> = plan
        .steps
        .iter()
        .filter(|s| s.action != Action::Same)
        .map(|s| s.name.as_str())
        .collect();
    if changed.is_empty() {
        return None;
    }
    let mut shown: BTreeSet<&str> = changed.clone();
    for s in &plan.steps {
        let deps: Vec<&str> = s.dependencies.iter().map(String::as_str).collect();
        if changed.contains(s.name.as_str()) {
            shown.extend(deps.iter().copied());
        } else if deps.iter().any(|d| changed.contains(d)) {
            shown.insert(s.name.as_str());
        }
    }
    let steps: Vec<_> = plan
        .steps
        .iter()
        .filter(|s| shown.contains(s.name.as_str()))
        .collect();
    let nodes: Vec<Node> = steps
        .iter()
        .map(|s| Node {
            name: s.name.clone(),
            type_token: s.type_token.clone(),
            action: Some(s.action),
        })
        .collect();
    let index = |n: &str| steps.iter().position(|s| s.name == n);
    let mut edges = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        for d in &s.dependencies {
            if let Some(d) = index(d) {
                edges.push((d, i));
            }
        }
    }
    Some(Picture {
        title: plan.stack.clone(),
        nodes,
        edges,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture() -> Picture {
        Picture {
            title: "s\"1".into(),
            nodes: vec![
                Node {
                    name: "a".into(),
                    type_token: "core:Data".into(),
                    action: None,
                },
                Node {
                    name: "b".into(),
                    type_token: "core:Data".into(),
                    action: Some(Action::Create),
                },
            ],
            edges: vec![(0, 1)],
        }
    }

    #[test]
    fn dot_quotes_names_and_draws_edges() {
        let dot = dot(&picture());
        assert!(dot.starts_with("digraph \"s\\\"1\" {"), "{dot}");
        assert!(dot.contains("  \"a\" -> \"b\";"), "{dot}");
        assert!(dot.contains("label=\"a\\ncore:Data\""), "{dot}");
    }

    #[test]
    fn mermaid_classes_follow_actions() {
        let m = mermaid(&picture());
        assert!(
            m.contains("n1[\"b<br/><small>core:Data</small>\"]:::create"),
            "{m}"
        );
        assert!(m.contains("  n0 --> n1"), "{m}");
        assert!(m.contains("classDef create"), "{m}");
    }
}
