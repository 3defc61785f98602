//! The editor JSON Schema.

use super::common::registry;
use cairn_config::json_schema;

#[test]
fn json_schema_for_the_test_registry() {
    let schema = json_schema(&registry());
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let thing = &schema["$defs"]["type:test:Thing"];
    assert_eq!(thing["required"], serde_json::json!(["size"]));
    assert_eq!(thing["properties"]["size"]["anyOf"][0]["maximum"], 10);
    assert!(thing["properties"]["token"]["description"]
        .as_str()
        .unwrap()
        .contains("secret"));
    let branches = schema["$defs"]["resource"]["allOf"].as_array().unwrap();
    assert_eq!(branches.len(), 2);
    insta::assert_json_snapshot!(sorted(&schema));
}

/// Keys sorted, whatever serde_json's `preserve_order` feature says.
fn sorted(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            serde_json::Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&m[k])))
                    .collect(),
            )
        }
        serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}
