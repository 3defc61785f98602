//! `cairn_core::validate` on specs built in Rust (no spans, no source).

use super::common::{codes, registry};
use cairn_core::spec::{ResourceSpec, StackSpec, Waiver};
use cairn_core::validate::{did_you_mean, validate};
use cairn_core::value::{Map, Value};

fn props(pairs: &[(&str, Value)]) -> Map {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[test]
fn a_valid_rust_built_spec_has_no_problems() {
    let mut spec = StackSpec::new("s");
    spec.add(ResourceSpec::new(
        "d",
        "core:Data",
        props(&[("input", Value::from("x"))]),
    ));
    let mut t = ResourceSpec::new(
        "t",
        "test:Thing",
        props(&[
            ("size", Value::from("${d.output}")),
            ("name", Value::from("thing-${d.output}")),
            (
                "ports",
                Value::from(vec![Value::Int(80), Value::from("${d.output}")]),
            ),
            ("settings", Value::from("${d.output}")),
            ("token", Value::secret(Value::from("0123456789abcdef"))),
            ("enabled", Value::Unknown),
        ]),
    );
    t.options.depends_on.push("d".into());
    t.options.ignore_changes.push("tags".into());
    spec.add(t);
    spec.output("arn", "${t.arn}");
    let p = validate(&spec, &registry());
    assert!(p.problems.is_empty(), "{:?}", p.problems);
}

#[test]
fn problems_without_spans() {
    let mut spec = StackSpec::new("s");
    spec.add(ResourceSpec::new("d", "core:Data", Map::new()));
    spec.add(ResourceSpec::new("d", "core:Data", Map::new()));
    spec.add(ResourceSpec::new("x", "core:Dta", Map::new()));
    spec.add(ResourceSpec::new("bad name", "core:Data", Map::new()));
    let mut t = ResourceSpec::new(
        "t",
        "test:Thing",
        props(&[
            ("size", Value::from("5 ${d.output}")),
            ("name", Value::from("${e.output}")),
            ("mode", Value::from("${d.outptu}")),
            ("tags", Value::from("${unclosed")),
        ]),
    );
    t.options.depends_on.push("dd".into());
    t.options.ignore_changes.push("tag".into());
    spec.add(t);
    spec.output("o", "${t.nope}");
    spec.waivers.push(Waiver {
        rule: "R".into(),
        resource: Some("tt".into()),
        reason: String::new(),
        span: None,
    });
    let p = validate(&spec, &registry());
    assert_eq!(
        codes(&p),
        [
            "cairn::config::duplicate-resource",
            "cairn::config::invalid-name",
            "cairn::config::unknown-type",
            "cairn::config::wrong-type",
            "cairn::config::unknown-output",
            "cairn::config::unknown-reference",
            "cairn::config::bad-interpolation",
            "cairn::config::unknown-dependency",
            "cairn::config::unknown-ignore-changes",
            "cairn::config::unknown-output",
            "cairn::config::invalid-waiver",
            "cairn::config::unknown-reference",
        ]
    );
    assert!(p
        .problems
        .iter()
        .all(|p| p.span.is_none() && p.source.is_none()));
    let helps: Vec<&str> = p
        .problems
        .iter()
        .filter_map(|p| p.help.as_deref())
        .collect();
    assert!(helps.contains(&"did you mean `core:Data`?"), "{helps:?}");
    assert!(helps.contains(&"did you mean `output`?"), "{helps:?}");
    assert!(helps.contains(&"did you mean `d`?"), "{helps:?}");
    assert!(helps.contains(&"did you mean `tags`?"), "{helps:?}");
    assert!(helps.contains(&"did you mean `t`?"), "{helps:?}");
}

#[test]
fn deeply_nested_rust_values_are_walked_iteratively() {
    // Value's derived Clone/Drop recurse, so keep this within what they
    // handle; validate's own walk over `Any` values is iterative.
    let mut v = Value::from("${nope.x}");
    for _ in 0..2_000 {
        v = Value::List(vec![v]);
    }
    let mut input = Map::new();
    input.insert("input".to_string(), v);
    let mut spec = StackSpec::new("s");
    spec.add(ResourceSpec::new("d", "core:Data", input));
    let p = validate(&spec, &registry());
    assert_eq!(codes(&p), ["cairn::config::unknown-reference"]);
}

#[test]
fn suggestions() {
    assert_eq!(
        did_you_mean("enviroment", ["environment", "shards"]),
        Some("environment")
    );
    assert_eq!(did_you_mean("Size", ["size", "name"]), Some("size"));
    assert_eq!(did_you_mean("zzz", ["size", "name"]), None);
    assert_eq!(did_you_mean("a", ["b"]), Some("b"));
    assert_eq!(did_you_mean("x", Vec::<&str>::new()), None);
}
