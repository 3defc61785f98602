//! Interpolation semantics the provider sees, as Pulumi YAML defines them.

use crate::common::*;
use cairn_core::mem::DATA_TOKEN;
use cairn_core::state::StackState;
use cairn_core::value::Value;

#[tokio::test]
async fn a_double_dollar_reaches_the_provider_as_one_dollar() {
    let world = World::new();
    let spec = stack(vec![
        res("a", DATA_TOKEN, serde_json::json!({"input": "price $$5"})),
        res(
            "b",
            DATA_TOKEN,
            serde_json::json!({"input": "$${a.output} is ${a.output}"}),
        ),
    ]);
    let (_, report, _) = world.up(&spec, &StackState::default(), 4).await;
    assert!(report.ok());
    let input = |id: &str| world.cloud.get(id).unwrap().inputs["input"].clone();
    assert_eq!(input("a-1"), Value::from("price $5"));
    assert_eq!(input("b-1"), Value::from("${a.output} is price $5"));
}

/// As in Pulumi YAML: `${res.id}`, `${res.urn}`, `${res}` (its id) and an
/// input read like an output (`${res.input}` on a type whose outputs do not
/// hold it), known at plan when the value is.
#[tokio::test]
async fn id_urn_bare_name_and_inputs_resolve_like_outputs() {
    let world = World::new();
    let spec = stack(vec![
        res(
            "a",
            THING,
            serde_json::json!({"name": "alpha", "tags": {"k.v": "x"}}),
        ),
        res(
            "b",
            DATA_TOKEN,
            serde_json::json!({"input": "${a.id}|${a.urn}|${a}|${a.name}"}),
        ),
        res("c", DATA_TOKEN, serde_json::json!({"input": "${a.name}"})),
        res("d", DATA_TOKEN, serde_json::json!({"input": "${a.urn}"})),
        res(
            "e",
            DATA_TOKEN,
            serde_json::json!({"input": r#"${a.tags["k.v"]}"#}),
        ),
    ]);
    let planned = world.plan(&spec, &StackState::default());
    let inputs = |name: &str| {
        planned
            .steps
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.new_inputs.clone())
            .unwrap()["input"]
            .clone()
    };
    assert_eq!(
        inputs("b"),
        Value::Unknown,
        "the id is known only after create"
    );
    assert_eq!(
        inputs("c"),
        Value::from("alpha"),
        "an input is known at plan"
    );
    assert_eq!(
        inputs("d"),
        Value::from("test/a"),
        "the urn is known at plan"
    );
    assert_eq!(inputs("e"), Value::from("x"), "a quoted subscript");
    let (_, report, _) = world.up(&spec, &StackState::default(), 4).await;
    assert!(report.ok());
    let a_id = report.state.resources["a"].id.clone();
    let b_id = report.state.resources["b"].id.clone();
    assert_eq!(
        world.cloud.get(&b_id).unwrap().inputs["input"],
        Value::from(format!("{a_id}|test/a|{a_id}|alpha"))
    );
}

#[test]
fn dsl_references_quote_dotted_resource_names() {
    use cairn_core::dsl::Output;
    assert_eq!(
        Output::<String>::of("plain", "arn").reference(),
        "${plain.arn}"
    );
    assert_eq!(
        Output::<String>::of("my.res", "arn").reference(),
        r#"${["my.res"].arn}"#
    );
}
