//! Stacks that load: values, substitution, options, spans.

use super::common::{load, load_with, registry};
use cairn_config::load_stack_with_warnings;
use cairn_core::diag::line_col;
use cairn_core::spec::{ResourceSpec, StackSpec};
use cairn_core::validate::{key_path, option_path, type_path};
use cairn_core::value::{PropertyPath, Value};
use std::collections::BTreeMap;

const STACK: &str = r#"name: redis-prod
description: the caching layer
config:
  environment: prod
  shards: { type: integer, default: 2 }
  authToken: { type: string, secret: true, default: "0123456789abcdef-token" }
  sizing:
    nodeType: cache.t4g.small
    replicas: 1
  zones: [a, b]
variables:
  prefix: qualisys-${environment}
  nodeType: ${sizing.nodeType}
  fullName: ${prefix}-cache
resources:
  redisKey:
    type: core:Data
    properties:
      input:
        description: Redis at-rest key (${environment})
        rotation: true
        window: 30
        zone: ${zones[1]}
  redis:
    type: test:Thing
    properties:
      size: ${shards}
      name: ${fullName}
      mode: small
      tags:
        env: ${environment}
        key: ${redisKey.output}
        node: "${nodeType}"
      ports: [6379, 6380]
      settings: { retries: 3, label: "at ${redisKey.output}!" }
      token: { fn::secret: "${authToken}" }
    options:
      dependsOn: [redisKey]
      protect: true
      retainOnDelete: false
      ignoreChanges: [tags]
      deleteBeforeReplace: true
      import: rg-0123
      customTimeouts: { create: 3600, update: 1h30m, delete: "60m" }
outputs:
  endpoint: ${redis.endpoint}
  url: "rediss://${redis.endpoint}:6379/${environment}"
policy:
  waivers:
    - rule: CAIRN-POL-007
      resource: redis
      reason: dev has no replicas
"#;

fn redis(spec: &StackSpec) -> &ResourceSpec {
    spec.resource("redis").expect("redis is declared")
}

/// The text a span covers.
fn text_at<'a>(spec: &'a StackSpec, r: &ResourceSpec, path: &PropertyPath) -> &'a str {
    let span = r.spans.get(path).copied().expect("span recorded");
    let src = spec.source.as_ref().expect("source kept");
    src.text
        .get(span.offset..span.offset + span.len)
        .expect("span in bounds")
}

#[test]
fn loads_a_full_stack() {
    let spec = match load(STACK) {
        Ok(s) => s,
        Err(p) => panic!("{}", super::common::render(&p)),
    };
    assert_eq!(spec.name, "redis-prod");
    assert_eq!(
        spec.resources
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        ["redisKey", "redis"]
    );
    let key = spec.resource("redisKey").unwrap();
    assert_eq!(key.type_token, "core:Data");
    let input = key.properties["input"].as_map().unwrap();
    assert_eq!(
        input["description"],
        Value::from("Redis at-rest key (prod)")
    );
    assert_eq!(input["rotation"], Value::Bool(true));
    assert_eq!(input["window"], Value::Int(30));
    assert_eq!(input["zone"], Value::from("b"));

    let r = redis(&spec);
    // A whole-string reference keeps the config value's type.
    assert_eq!(r.properties["size"], Value::Int(2));
    assert_eq!(r.properties["name"], Value::from("qualisys-prod-cache"));
    let tags = r.properties["tags"].as_map().unwrap();
    assert_eq!(tags["env"], Value::from("prod"));
    // Resource references stay for the planner.
    assert_eq!(tags["key"], Value::from("${redisKey.output}"));
    assert_eq!(tags["node"], Value::from("cache.t4g.small"));
    assert_eq!(
        r.properties["ports"],
        Value::List(vec![Value::Int(6379), Value::Int(6380)])
    );
    let settings = r.properties["settings"].as_map().unwrap();
    assert_eq!(settings["label"], Value::from("at ${redisKey.output}!"));
    assert_eq!(
        r.properties["token"],
        Value::secret(Value::from("0123456789abcdef-token"))
    );

    let o = &r.options;
    assert_eq!(o.depends_on, ["redisKey"]);
    assert!(o.protect && !o.retain_on_delete && o.delete_before_replace);
    assert_eq!(o.ignore_changes, ["tags"]);
    assert_eq!(o.import.as_deref(), Some("rg-0123"));
    assert_eq!(o.custom_timeouts.create, Some(3600));
    assert_eq!(o.custom_timeouts.update, Some(5400));
    assert_eq!(o.custom_timeouts.delete, Some(3600));

    assert_eq!(spec.outputs["endpoint"], Value::from("${redis.endpoint}"));
    assert_eq!(
        spec.outputs["url"],
        Value::from("rediss://${redis.endpoint}:6379/prod")
    );
    assert_eq!(spec.waivers.len(), 1);
    assert_eq!(spec.waivers[0].rule, "CAIRN-POL-007");
    assert_eq!(spec.waivers[0].resource.as_deref(), Some("redis"));
    assert_eq!(spec.waivers[0].reason, "dev has no replicas");
    assert!(spec.waivers[0].span.is_some());
}

#[test]
fn records_exact_spans() {
    let spec = load(STACK).unwrap();
    let src = spec.source.as_ref().unwrap();
    assert_eq!(src.name, "stack.yaml");
    let r = redis(&spec);
    let lc = |p: &PropertyPath| line_col(&src.text, r.spans[p].offset);
    assert_eq!(text_at(&spec, r, &PropertyPath::root()), "redis");
    assert_eq!(lc(&PropertyPath::root()), (24, 3));
    assert_eq!(text_at(&spec, r, &type_path()), "test:Thing");
    assert_eq!(text_at(&spec, r, &PropertyPath::key("size")), "${shards}");
    assert_eq!(lc(&PropertyPath::key("size")), (27, 13));
    assert_eq!(
        text_at(&spec, r, &key_path(&PropertyPath::key("size"))),
        "size"
    );
    assert_eq!(
        text_at(&spec, r, &PropertyPath::key("tags").child("node")),
        "\"${nodeType}\""
    );
    assert_eq!(
        text_at(&spec, r, &PropertyPath::key("ports").index(1)),
        "6380"
    );
    assert_eq!(
        text_at(&spec, r, &PropertyPath::key("settings")),
        "{ retries: 3, label: \"at ${redisKey.output}!\" }"
    );
    assert_eq!(
        text_at(&spec, r, &PropertyPath::key("settings").child("retries")),
        "3"
    );
    assert_eq!(
        text_at(&spec, r, &option_path("dependsOn").index(0)),
        "redisKey"
    );
    assert_eq!(text_at(&spec, r, &option_path("protect")), "true");
    // A deeper path without its own span falls back to its parent.
    assert_eq!(
        r.span_of(&PropertyPath::key("ports").index(7)),
        r.spans.get(&PropertyPath::key("ports")).copied()
    );
}

#[test]
fn config_overrides_are_typed_and_escaped() {
    let spec = load_with(
        STACK,
        &[
            ("shards", Value::from("4")),
            ("environment", Value::from("${x}")),
            (
                "sizing",
                Value::from(r#"{"nodeType": "cache.m7g.large", "replicas": 2}"#),
            ),
        ],
    )
    .unwrap();
    let r = redis(&spec);
    assert_eq!(r.properties["size"], Value::Int(4));
    // A literal `${` in config data is escaped, not read as a reference.
    assert_eq!(
        r.properties["tags"].as_map().unwrap()["env"],
        Value::from("$${x}")
    );
    assert_eq!(
        r.properties["tags"].as_map().unwrap()["node"],
        Value::from("cache.m7g.large")
    );
}

#[test]
fn config_override_errors_do_not_echo_values() {
    let err = load_with(
        STACK,
        &[
            ("shards", Value::from("four-secret-ish")),
            ("shard", Value::from("1")),
        ],
    )
    .unwrap_err();
    let codes = super::common::codes(&err);
    assert!(
        codes.contains(&"cairn::config::invalid-config"),
        "{codes:?}"
    );
    assert!(
        codes.contains(&"cairn::config::unknown-config"),
        "{codes:?}"
    );
    let text = super::common::render(&err);
    assert!(!text.contains("four-secret-ish"), "{text}");
    assert!(text.contains("did you mean `shards`?"), "{text}");
}

#[test]
fn secret_config_is_secret_everywhere_it_goes() {
    let text = r#"name: s
config:
  token: { type: string, secret: true }
resources:
  a:
    type: core:Data
    properties:
      input: "Bearer ${token}"
"#;
    let spec = load_with(text, &[("token", Value::from("s3cr3t-value"))]).unwrap();
    let v = &spec.resources[0].properties["input"];
    assert_eq!(*v, Value::secret(Value::from("Bearer s3cr3t-value")));
    // Missing secret config: the error must not need the value.
    let err = load(text).unwrap_err();
    assert_eq!(
        super::common::codes(&err),
        ["cairn::config::missing-config"]
    );
}

#[test]
fn functions_secret_to_json_and_join() {
    let text = r#"name: s
config:
  env: prod
resources:
  a:
    type: core:Data
    properties:
      input:
        policy:
          fn::toJSON:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Resource: ${b.output}
        joined: { fn::join: [",", [a, "${env}", "3"]] }
        hidden: { fn::secret: 42 }
  b:
    type: core:Data
    properties: { input: x }
"#;
    let spec = load(text).unwrap();
    let input = spec.resources[0].properties["input"].as_map().unwrap();
    // `b.output` is known at apply: written as its JSON then.
    assert_eq!(
        input["policy"],
        Value::from(
            r#"{"Statement":[{"Effect":"Allow","Resource":${@json:b.output}}],"Version":"2012-10-17"}"#
        )
    );
    assert_eq!(input["joined"], Value::from("a,prod,3"));
    assert_eq!(input["hidden"], Value::secret(Value::Int(42)));
}

#[test]
fn to_json_writes_what_go_json_marshal_writes_as_pulumi_does() {
    let text = r#"name: s
resources:
  a:
    type: core:Data
    properties:
      input:
        fn::toJSON:
          whole: 2.0
          half: 0.5
          big: 1.0e21
          tiny: 1.5e-7
          count: 3
          html: "<b> & </b>"
          ctl: "tab\there\u0001"
"#;
    let spec = load(text).unwrap();
    assert_eq!(
        spec.resources[0].properties["input"],
        Value::from(
            r#"{"big":1e+21,"count":3,"ctl":"tab\there\u0001","half":0.5,"html":"\u003cb\u003e \u0026 \u003c/b\u003e","tiny":1.5e-7,"whole":2}"#
        )
    );
}

#[test]
fn to_json_of_nan_is_a_diagnostic_at_the_value() {
    let text = "name: s\nresources:\n  a:\n    type: core:Data\n    properties:\n      input: { fn::toJSON: [.nan] }\n";
    let err = load(text).unwrap_err();
    assert_eq!(
        super::common::codes(&err),
        ["cairn::config::unsupported-function"]
    );
}

#[test]
fn map_keys_are_interpolated_as_in_pulumi_yaml() {
    let text = r#"name: s
variables:
  k: env
resources:
  a:
    type: core:Data
    properties:
      input:
        ${k}: prod
        "$${lit}": x
        "cost$$": y
        plain: z
"#;
    let spec = load(text).unwrap();
    let input = spec.resources[0].properties["input"].as_map().unwrap();
    let keys: Vec<&str> = input.keys().map(String::as_str).collect();
    assert_eq!(keys, ["${lit}", "cost$", "env", "plain"]);
    assert_eq!(input["env"], Value::from("prod"));
}

#[test]
fn a_map_key_naming_a_resource_output_is_a_diagnostic() {
    let text = "name: s\nresources:\n  a:\n    type: core:Data\n    properties:\n      input:\n        ${b.output}: 1\n  b:\n    type: core:Data\n";
    let err = load(text).unwrap_err();
    assert_eq!(
        super::common::codes(&err),
        ["cairn::config::unsupported-key-reference"]
    );
}

#[test]
fn an_array_config_declaration_with_items_is_a_declaration() {
    let text = r#"name: s
config:
  zones: { type: array, items: { type: string }, default: [a, b] }
resources:
  r:
    type: core:Data
    properties: { input: "${zones[1]}" }
"#;
    let spec = load(text).unwrap();
    assert_eq!(spec.resources[0].properties["input"], Value::from("b"));
}

#[test]
fn a_declaration_without_type_is_a_declaration() {
    let text = "name: s\nconfig:\n  token: { secret: true, description: the token }\nresources:\n  r:\n    type: core:Data\n    properties: { input: \"${token}\" }\n";
    let spec = load_with(text, &[("token", Value::from("t0ps3cret-t0ps3cret"))]).unwrap();
    assert!(spec.resources[0].properties["input"].is_secret());
    let missing = load(text).unwrap_err();
    assert_eq!(
        super::common::codes(&missing),
        ["cairn::config::missing-config"]
    );
}

#[test]
fn config_items_and_unknown_declaration_keys_are_checked() {
    let bad_item =
        "name: s\nconfig:\n  ports: { type: array, items: { type: integer }, default: [1, x] }\nresources:\n  r:\n    type: core:Data\n";
    assert_eq!(
        super::common::codes(&load(bad_item).unwrap_err()),
        ["cairn::config::invalid-config"]
    );
    let unknown = "name: s\nconfig:\n  tags: { description: d, owner: me }\nresources:\n  r:\n    type: core:Data\n";
    assert_eq!(
        super::common::codes(&load(unknown).unwrap_err()),
        ["cairn::config::unknown-key"]
    );
    let value =
        "name: s\nconfig:\n  tags: { value: { owner: me } }\nresources:\n  r:\n    type: core:Data\noutputs:\n  o: ${tags.owner}\n";
    assert!(load(value).is_ok());
}

#[test]
fn yaml_core_schema_values() {
    let text = r#"name: s
resources:
  a:
    type: core:Data
    properties:
      input:
        - yes
        - 0x1F
        - 0o17
        - 1.5e3
        - ~
        - !!str 12
        - "12"
        - |
          two
          lines
        - &anchor { k: v }
        - *anchor
        - 'it''s'
"#;
    let spec = load(text).unwrap();
    let input = spec.resources[0].properties["input"]
        .as_list()
        .unwrap()
        .to_vec();
    let map = Value::Map([("k".to_string(), Value::from("v"))].into_iter().collect());
    assert_eq!(
        input,
        vec![
            Value::from("yes"),
            Value::Int(31),
            Value::Int(15),
            Value::Float(1500.0),
            Value::Null,
            Value::from("12"),
            Value::from("12"),
            Value::from("two\nlines\n"),
            map.clone(),
            map,
            Value::from("it's"),
        ]
    );
}

#[test]
fn byte_order_mark_and_multibyte_text_keep_byte_spans() {
    let text = "\u{feff}name: s\nresources:\n  a:\n    type: core:Data\n    properties:\n      input: \"héllo wörld ✓\"\n  b:\n    type: core:Data\n    properties: { input: ✓✓ }\n";
    let spec = load(text).unwrap();
    let b = spec.resource("b").unwrap();
    let span = b.spans[&PropertyPath::key("input")];
    assert_eq!(text.get(span.offset..span.offset + span.len), Some("✓✓"));
    let root = b.spans[&PropertyPath::root()];
    assert_eq!(text.get(root.offset..root.offset + root.len), Some("b"));
}

#[test]
fn null_properties_are_dropped_and_empty_sections_allowed() {
    let text = "name: s\nconfig:\nvariables:\nresources:\n  a:\n    type: core:Data\n    properties:\n      input: ~\n    options:\noutputs:\n";
    let spec = load(text).unwrap();
    assert!(spec.resources[0].properties.is_empty());
}

#[test]
fn warnings_are_returned_separately() {
    let text = "name: s\nresources:\n  t:\n    type: test:Thing\n    properties: { size: 2, enabled: false }\n";
    let (spec, warnings) =
        load_stack_with_warnings("stack.yaml", text.as_bytes(), &registry(), &BTreeMap::new())
            .unwrap();
    assert_eq!(spec.resources.len(), 1);
    assert_eq!(super::common::codes(&warnings), ["test::thing::disabled"]);
    assert!(warnings.problems[0].warning);
}

#[test]
fn depends_on_accepts_reference_form() {
    let text = "name: s\nresources:\n  a:\n    type: core:Data\n    properties: { input: 1 }\n    options: { dependsOn: [\"${b}\", b] }\n  b:\n    type: core:Data\n";
    let spec = load(text).unwrap();
    assert_eq!(spec.resources[0].options.depends_on, ["b", "b"]);
}

#[test]
fn options_may_use_config() {
    let text = "name: s\nconfig:\n  isProd: true\n  wait: 90s\nresources:\n  a:\n    type: core:Data\n    options: { protect: \"${isProd}\", customTimeouts: { delete: \"${wait}\" } }\n";
    let spec = load(text).unwrap();
    assert!(spec.resources[0].options.protect);
    assert_eq!(spec.resources[0].options.custom_timeouts.delete, Some(90));
}

#[test]
fn escaped_dollar_brace_is_kept_escaped() {
    let text = "name: s\nresources:\n  a:\n    type: core:Data\n    properties: { input: \"cost: $${price} and ${b.output}\" }\n  b:\n    type: core:Data\n";
    let spec = load(text).unwrap();
    assert_eq!(
        spec.resources[0].properties["input"],
        Value::from("cost: $${price} and ${b.output}")
    );
}

#[test]
fn a_double_dollar_outside_dollar_brace_is_one_dollar_as_in_pulumi_yaml() {
    let text =
        "name: s\nresources:\n  a:\n    type: core:Data\n    options: { import: \"id-$$x\" }\n";
    let spec = load(text).unwrap();
    assert_eq!(spec.resources[0].options.import.as_deref(), Some("id-$x"));
}

#[test]
fn literal_secrets_are_redacted_from_the_kept_source() {
    let text = "name: s\nconfig:\n  pw: { type: string, secret: true, default: hunter2-hunter2 }\nresources:\n  t:\n    type: test:Thing\n    properties:\n      size: 1\n      token: opensesame-opensesame\n      name: ${t.arn}\n      tags: { k: { fn::secret: classified } }\n";
    let spec = load(text).unwrap();
    let src = &spec.source.as_ref().unwrap().text;
    assert_eq!(src.len(), text.len());
    for secret in ["hunter2", "opensesame", "classified"] {
        assert!(!src.contains(secret), "{secret} kept in {src}");
    }
    assert!(src.contains("name: ${t.arn}"));
    assert!(src.contains("      token: *********************\n"));
    // The values themselves are intact; schema-secret properties are
    // wrapped by `normalize_inputs`, as for Rust-built specs.
    assert_eq!(
        spec.resources[0].properties["token"],
        Value::from("opensesame-opensesame")
    );
    let tags = spec.resources[0].properties["tags"].as_map().unwrap();
    assert_eq!(tags["k"], Value::secret(Value::from("classified")));
}
