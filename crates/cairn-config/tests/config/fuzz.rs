//! Property tests: the loader never panics and every span is in bounds.

use super::common::registry;
use cairn_config::load_stack;
use cairn_core::value::Value;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn check(input: &[u8]) {
    let registry = registry();
    let mut config = BTreeMap::new();
    config.insert("env".to_string(), Value::from("dev"));
    let result = load_stack("fuzz.yaml", input, &registry, &BTreeMap::new());
    let _ = load_stack("fuzz.yaml", input, &registry, &config);
    if let Err(problems) = result {
        assert!(problems.has_errors());
        for p in &problems.problems {
            if let Some(s) = p.span {
                assert!(
                    s.offset + s.len <= input.len(),
                    "span {s:?} past the end ({}) for {:?}",
                    input.len(),
                    p.code
                );
            }
            for (s, _) in &p.secondary {
                assert!(s.offset + s.len <= input.len());
            }
        }
    }
}

/// Fragments that make YAML-ish text interesting to the parser and loader.
fn yamlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("name: s\n".to_string()),
        Just("resources:\n".to_string()),
        Just("  a:\n    type: core:Data\n".to_string()),
        Just("    properties:\n      input: ".to_string()),
        Just("    options: { dependsOn: [".to_string()),
        Just("config:\n  env: prod\n".to_string()),
        Just("variables:\n  v: ${env}\n".to_string()),
        Just("${".to_string()),
        Just("}".to_string()),
        Just("${a.output}".to_string()),
        Just("&x ".to_string()),
        Just("*x".to_string()),
        Just("!!str ".to_string()),
        Just("!Ref ".to_string()),
        Just("fn::secret: ".to_string()),
        Just("- ".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just(": ".to_string()),
        Just(", ".to_string()),
        Just("\n".to_string()),
        Just("  ".to_string()),
        Just("\t".to_string()),
        Just("\"".to_string()),
        Just("'".to_string()),
        Just("|\n".to_string()),
        Just("---\n".to_string()),
        Just("? ".to_string()),
        Just("#".to_string()),
        Just("é✓".to_string()),
        Just("\u{feff}".to_string()),
        "[a-z0-9]{1,6}".prop_map(|s| s),
    ];
    prop::collection::vec(piece, 0..60).prop_map(|v| v.concat())
}

// 256 cases each by default; `PROPTEST_CASES=50000` for a longer run.
proptest! {

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check(&bytes);
    }

    #[test]
    fn yamlish_text_never_panics(text in yamlish()) {
        check(text.as_bytes());
    }

    #[test]
    fn arbitrary_strings_never_panic(text in "\\PC{0,200}") {
        check(text.as_bytes());
    }
}

/// A syntactically valid stack with random names, references and values.
/// Resources are `a`/`b`, config keys `env`/`sizing`, variables `v`/`w`;
/// references may also name `t`, which is none of them.
fn stackish() -> impl Strategy<Value = String> {
    let target = prop_oneof![
        Just("a"),
        Just("b"),
        Just("env"),
        Just("sizing"),
        Just("v"),
        Just("w"),
        Just("t")
    ];
    let path = prop_oneof![
        Just(""),
        Just(".output"),
        Just(".arn"),
        Just(".nodeType"),
        Just("[0]")
    ];
    // Boxed: debug-built value trees of nested tuples are large enough to
    // overflow a test thread's stack otherwise.
    let reference = (target, path)
        .prop_map(|(n, p)| format!("${{{n}{p}}}"))
        .boxed();
    let scalar = prop_oneof![
        Just("1".to_string()),
        Just("true".to_string()),
        Just("small".to_string()),
        Just("~".to_string()),
        Just("[1, 2]".to_string()),
        Just("{ nodeType: x, n: 2 }".to_string()),
        Just("{ fn::secret: s3cr3t }".to_string()),
        reference
            .clone()
            .prop_map(|r| format!("\"pre {r} $${{lit}}\"")),
        reference.clone().prop_map(|r| format!("\"{r}\"")),
        reference.prop_map(|r| format!("[\"{r}\", {{ k: \"{r}-x\" }}]")),
    ]
    .boxed();
    let resource = |name: &'static str| {
        (
            prop_oneof![4 => Just("core:Data"), 1 => Just("test:Thing")],
            scalar.clone(),
            prop::collection::vec(prop_oneof![Just("a"), Just("b"), Just("${a}")], 0..2),
        )
            .prop_map(move |(ty, v, deps)| {
                let prop = if ty == "core:Data" { "input" } else { "size" };
                format!(
                    "  {name}:\n    type: {ty}\n    properties:\n      {prop}: {v}\n    options: {{ dependsOn: [{}] }}\n",
                    deps.iter().map(|d| format!("\"{d}\"")).collect::<Vec<_>>().join(", ")
                )
            })
            .boxed()
    };
    (
        prop::option::of(scalar.clone()),
        prop::option::of(scalar.clone()),
        prop::option::of(scalar.clone()),
        prop::option::of(scalar.clone()),
        prop::option::of(resource("a")),
        prop::option::of(resource("b")),
    )
        .prop_map(|(env, sizing, v, w, a, b)| {
            let mut out = String::from("name: fuzz\nconfig:\n");
            for (k, val) in [("env", env), ("sizing", sizing)] {
                if let Some(val) = val {
                    // Config may not hold references.
                    out.push_str(&format!("  {k}: {}\n", val.replace("${", "x{")));
                }
            }
            out.push_str("variables:\n");
            for (k, val) in [("v", v), ("w", w)] {
                if let Some(val) = val {
                    out.push_str(&format!("  {k}: {val}\n"));
                }
            }
            out.push_str("resources:\n");
            for r in [a, b].into_iter().flatten() {
                out.push_str(&r);
            }
            out
        })
}

proptest! {
    /// On success nothing but resource references is left unresolved, and
    /// every recorded span lies inside the file.
    #[test]
    fn generated_stacks_resolve_or_explain(text in stackish()) {
        check(text.as_bytes());
        if let Ok(spec) = load_stack("fuzz.yaml", text.as_bytes(), &registry(), &BTreeMap::new()) {
            for r in &spec.resources {
                for span in r.spans.values() {
                    prop_assert!(span.offset + span.len <= text.len());
                }
                let mut stack: Vec<&Value> = r.properties.values().collect();
                while let Some(v) = stack.pop() {
                    match v {
                        Value::String(s) => {
                            for (root, _) in cairn_core::interp::references(s) {
                                prop_assert!(spec.resource(&root).is_some(), "dangling ${{{root}}} in {s}");
                            }
                        }
                        Value::List(l) => stack.extend(l.iter()),
                        Value::Map(m) => stack.extend(m.values()),
                        Value::Secret(inner) => stack.push(inner),
                        _ => {}
                    }
                }
            }
        }
    }
}
