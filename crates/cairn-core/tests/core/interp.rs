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
