use crate::common::*;
use cairn_core::graph::{DependencyGraph, CYCLE_CODE};
use cairn_core::spec::Span;
use cairn_core::value::PropertyPath;
use serde_json::json;

#[test]
fn cycle_names_every_member_in_order() {
    let mut a = res("a", THING, json!({"input": "${b.id}"}));
    a.spans.insert(PropertyPath::root(), Span::new(10, 1));
    let b = res("b", THING, json!({"refs": ["x-${c.output}-y"]}));
    let mut c = res("c", THING, json!({}));
    c.options.depends_on = vec!["a".into()];
    // An unrelated resource that depends on the cycle is not a member.
    let d = res("d", THING, json!({"input": "${a.id}"}));
    let spec = stack(vec![d, a, b, c]);
    let err = DependencyGraph::build(&spec).unwrap_err();
    assert_eq!(err.code, CYCLE_CODE);
    assert!(
        err.message.contains("a → b → c → a"),
        "message: {}",
        err.message
    );
    assert!(
        !err.message.contains("d →") && !err.message.contains("→ d"),
        "{}",
        err.message
    );
    assert_eq!(err.span, Some(Span::new(10, 1)));
    assert!(err.help.as_deref().unwrap_or("").contains("dependsOn"));
    assert!(!err.warning);
}

#[test]
fn self_reference_is_a_cycle() {
    let spec = stack(vec![res("a", THING, json!({"input": "${a.id}"}))]);
    let err = DependencyGraph::build(&spec).unwrap_err();
    assert!(err.message.contains("a → a"), "{}", err.message);
}

#[test]
fn counts_further_cycles() {
    let spec = stack(vec![
        res("a", THING, json!({"input": "${b.id}"})),
        res("b", THING, json!({"input": "${a.id}"})),
        res("c", THING, json!({"input": "${d.id}"})),
        res("d", THING, json!({"input": "${c.id}"})),
    ]);
    let err = DependencyGraph::build(&spec).unwrap_err();
    assert!(err.message.contains("a → b → a"), "{}", err.message);
    assert!(err.message.contains("1 more cycle"), "{}", err.message);
}

#[test]
fn edges_from_references_and_depends_on() {
    let mut e = res("e", THING, json!({"tags": {"k": "${a.output}"}}));
    e.options.depends_on = vec!["d".into(), "nope".into()];
    let spec = stack(vec![
        res("e0", THING, json!({"input": "${config.region} ${e.id}"})),
        e,
        res("a", THING, json!({})),
        res("d", THING, json!({"refs": [{"x": "${a.id}"}]})),
    ]);
    let g = DependencyGraph::build(&spec).unwrap();
    assert_eq!(g.len(), 4);
    assert_eq!(g.dependencies("e"), vec!["a", "d"]);
    assert_eq!(g.dependencies("e0"), vec!["e"]);
    assert_eq!(g.dependents("a"), vec!["e", "d"]);
    assert_eq!(g.topo_order(), vec!["a", "d", "e", "e0"]);
    let deps: Vec<String> = g.with_dependencies(["e0"]).into_iter().collect();
    assert_eq!(deps, vec!["a", "d", "e", "e0"]);
    let dependents: Vec<String> = g.with_dependents(["d"]).into_iter().collect();
    assert_eq!(dependents, vec!["d", "e", "e0"]);
    assert!(g.with_dependents(["missing"]).is_empty());
}

#[test]
fn topo_order_keeps_source_order_among_independents() {
    let spec = stack(vec![
        res("z", THING, json!({})),
        res("y", THING, json!({"input": "${x.id}"})),
        res("x", THING, json!({})),
        res("w", THING, json!({})),
    ]);
    let g = DependencyGraph::build(&spec).unwrap();
    assert_eq!(g.topo_order(), vec!["z", "x", "y", "w"]);
}
