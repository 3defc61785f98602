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

/// What validators see is what the loader reads: order kept, YAML 1.2 core
/// scalars (`yes` stays a string), and the loader's diagnostics on bad input.
#[test]
fn stack_files_read_as_json_the_way_the_loader_reads_them() {
    let doc = cairn_config::stack_file_to_json(
        "s.yaml",
        b"name: s\nresources:\n  b: {type: core:Data, properties: {input: [1, 2.5, yes, null, true]}}\n  a: {type: core:Data}\n",
    )
    .unwrap();
    assert_eq!(
        doc,
        serde_json::json!({"name": "s", "resources": {
            "b": {"type": "core:Data", "properties": {"input": [1, 2.5, "yes", null, true]}},
            "a": {"type": "core:Data"}}})
    );
    let keys: Vec<_> = doc["resources"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["b", "a"], "document order kept");

    let err = cairn_config::stack_file_to_json("s.yaml", b"name: a\nname: b\n").unwrap_err();
    let first = err.errors().next().expect("an error");
    assert_eq!(first.code, "cairn::config::duplicate-key");
    assert!(first.source.is_some(), "points into the file");
}
