//! Every diagnostic, rendered as the CLI shows it (snapshots), plus the
//! codes and positions asserted directly.

use super::common::{codes, errors, load_stack_bytes, render, render_errors};
use cairn_core::diag::Problems;
use insta::assert_snapshot;

/// (line, col) of each problem, in order.
fn positions(p: &Problems) -> Vec<(usize, usize)> {
    p.problems.iter().filter_map(|p| p.line_col()).collect()
}

#[test]
fn yaml_syntax_error() {
    let text = "name: s\nresources:\n  a:\n    type: core:Data\n    properties: { input: [1, 2 }\n";
    let p = errors(text);
    assert_eq!(codes(&p), ["cairn::config::yaml-syntax"]);
    assert_eq!(positions(&p), [(5, 32)]);
    assert_snapshot!(render(&p));
}

#[test]
fn mapping_value_in_plain_scalar() {
    let p = errors("name: s\ndescription: a: b\nresources: {}\n");
    assert_eq!(codes(&p), ["cairn::config::yaml-syntax"]);
    assert_snapshot!(render(&p));
}

#[test]
fn tab_indentation() {
    let p = errors("name: s\nresources:\n\ta:\n\t\ttype: core:Data\n");
    assert_eq!(codes(&p), ["cairn::config::yaml-syntax"]);
    assert_snapshot!(render(&p));
}

#[test]
fn not_utf8_points_at_the_first_bad_byte() {
    let bytes =
        b"name: s\nresources:\n  a:\n    type: core:Data\n    properties: { input: \"caf\xe9\" }\n";
    let p = load_stack_bytes(bytes).unwrap_err();
    assert_eq!(codes(&p), ["cairn::config::not-utf8"]);
    assert_eq!(positions(&p), [(5, 30)]);
    assert_eq!(p.problems[0].span.map(|s| s.offset), Some(73));
    assert_snapshot!(render(&p));
}

#[test]
fn empty_file() {
    for text in ["", "   \n\n", "# just a comment\n", "---\n", "~\n"] {
        let p = errors(text);
        assert_eq!(codes(&p), ["cairn::config::empty-file"], "for {text:?}");
    }
    assert_snapshot!(render_errors("# nothing yet\n"));
}

#[test]
fn top_level_not_a_map() {
    let p = errors("- name: s\n- resources: {}\n");
    assert_eq!(codes(&p), ["cairn::config::top-level-not-map"]);
    assert_snapshot!(render(&p));
}

#[test]
fn unknown_top_level_key() {
    let p = errors("name: s\nresource:\n  a:\n    type: core:Data\n");
    assert_eq!(
        codes(&p),
        ["cairn::config::missing-key", "cairn::config::unknown-key"]
    );
    assert!(render(&p).contains("did you mean `resources`?"));
    assert_snapshot!(render(&p));
}

#[test]
fn missing_name_and_resources() {
    let p = errors("description: nothing else\n");
    assert_eq!(
        codes(&p),
        ["cairn::config::missing-key", "cairn::config::missing-key"]
    );
    assert_eq!(positions(&p), [(1, 1), (1, 1)]);
    assert_snapshot!(render(&p));
}

#[test]
fn resource_missing_type() {
    let p = errors("name: s\nresources:\n  a:\n    properties: { input: 1 }\n");
    assert_eq!(codes(&p), ["cairn::config::missing-key"]);
    assert_eq!(positions(&p), [(3, 3)]);
    assert_snapshot!(render(&p));
}

#[test]
fn properties_not_a_map() {
    let p = errors("name: s\nresources:\n  a:\n    type: core:Data\n    properties: [input, 1]\n");
    assert_eq!(codes(&p), ["cairn::config::wrong-shape"]);
    assert_eq!(positions(&p), [(5, 17)]);
    assert_snapshot!(render(&p));
}

#[test]
fn unknown_resource_key() {
    let p = errors("name: s\nresources:\n  a:\n    type: core:Data\n    propertes: { input: 1 }\n");
    assert_eq!(codes(&p), ["cairn::config::unknown-key"]);
    assert!(render(&p).contains("did you mean `properties`?"));
}

#[test]
fn unknown_option() {
    let p = errors(
        "name: s\nresources:\n  a:\n    type: core:Data\n    options:\n      dependOn: [b]\n      hideDiffs: x\n  b:\n    type: core:Data\n",
    );
    assert_eq!(
        codes(&p),
        [
            "cairn::config::unknown-option",
            "cairn::config::unknown-option"
        ]
    );
    assert_eq!(positions(&p), [(6, 7), (7, 7)]);
    assert_snapshot!(render(&p));
}

#[test]
fn option_of_the_wrong_type() {
    let p = errors(
        "name: s\nresources:\n  a:\n    type: core:Data\n    options:\n      protect: yes\n      dependsOn: b\n      customTimeouts: { create: soon, delet: 5 }\n      ignoreChanges: [tags..Name]\n",
    );
    assert_eq!(
        codes(&p),
        [
            "cairn::config::invalid-option",
            "cairn::config::invalid-option",
            "cairn::config::invalid-option",
            "cairn::config::unknown-option",
            "cairn::config::invalid-option",
        ]
    );
    assert_snapshot!(render(&p));
}

#[test]
fn duplicate_keys_anywhere() {
    let text = "name: s\nresources:\n  a:\n    type: core:Data\n    properties:\n      input: { k: 1, k: 2 }\n  a:\n    type: core:Data\nname: t\n";
    let p = errors(text);
    assert_eq!(
        codes(&p),
        [
            "cairn::config::duplicate-key",
            "cairn::config::duplicate-key",
            "cairn::config::duplicate-key",
        ]
    );
    // Each points at the second occurrence and labels the first.
    assert_eq!(positions(&p), [(6, 22), (7, 3), (9, 1)]);
    assert_eq!(p.problems[1].secondary.len(), 1);
    assert_snapshot!(render(&p));
}

#[test]
fn unsupported_tag() {
    let p = errors("name: s\nresources:\n  a:\n    type: core:Data\n    properties:\n      input: !Ref other\n");
    assert_eq!(codes(&p), ["cairn::config::unsupported-tag"]);
    assert_eq!(positions(&p), [(6, 14)]);
    assert_snapshot!(render(&p));
}

#[test]
fn invalid_numbers() {
    let p = errors("name: s\nresources:\n  a:\n    type: core:Data\n    properties:\n      input: [99999999999999999999, !!int twelve]\n");
    assert_eq!(
        codes(&p),
        [
            "cairn::config::invalid-number",
            "cairn::config::invalid-number"
        ]
    );
    assert_snapshot!(render(&p));
}

#[test]
fn multiple_documents() {
    let p = errors("name: s\nresources: {}\n---\nname: t\n");
    assert_eq!(codes(&p), ["cairn::config::multiple-documents"]);
    assert_eq!(positions(&p), [(3, 1)]);
}

#[test]
fn unknown_reference_points_inside_the_string() {
    let text = "name: s\nconfig:\n  environment: prod\nvariables:\n  prefix: app-${enviroment}\nresources:\n  a:\n    type: core:Data\n    properties:\n      input: \"key for ${environment} in ${redisKye.output}\"\n  redisKey:\n    type: core:Data\n";
    let p = errors(text);
    assert_eq!(
        codes(&p),
        [
            "cairn::config::unknown-reference",
            "cairn::config::unknown-reference",
        ]
    );
    // `${enviroment}` at line 5 col 15; `${redisKye.output}` at line 10 col 41.
    assert_eq!(positions(&p), [(5, 15), (10, 41)]);
    let spans: Vec<usize> = p
        .problems
        .iter()
        .filter_map(|p| p.span.map(|s| s.len))
        .collect();
    assert_eq!(spans, ["${enviroment}".len(), "${redisKye.output}".len()]);
    let out = render(&p);
    assert!(out.contains("did you mean `environment`?"), "{out}");
    assert!(out.contains("did you mean `redisKey`?"), "{out}");
    assert_snapshot!(out);
}

#[test]
fn reference_into_a_config_map() {
    let text = "name: s\nconfig:\n  sizing: { nodeType: small, replicas: 1 }\nresources:\n  a:\n    type: core:Data\n    properties: { input: \"${sizing.nodeTyp}\" }\n";
    let p = errors(text);
    assert_eq!(codes(&p), ["cairn::config::unknown-reference-path"]);
    assert!(render(&p).contains("did you mean `nodeType`?"));
    assert_snapshot!(render(&p));
}

#[test]
fn list_inside_text_and_malformed_references() {
    let text = "name: s\nconfig:\n  zones: [a, b]\nresources:\n  a:\n    type: core:Data\n    properties:\n      input: [\"in ${zones}\", \"${unclosed\", \"${}\"]\n";
    let p = errors(text);
    assert_eq!(
        codes(&p),
        [
            "cairn::config::bad-interpolation",
            "cairn::config::bad-interpolation",
            "cairn::config::bad-interpolation",
        ]
    );
    assert_snapshot!(render(&p));
}

#[test]
fn unknown_dependency() {
    let p = errors("name: s\nresources:\n  a:\n    type: core:Data\n    options: { dependsOn: [redisKye] }\n  redisKey:\n    type: core:Data\n");
    assert_eq!(codes(&p), ["cairn::config::unknown-dependency"]);
    assert_eq!(positions(&p), [(5, 28)]);
    assert_snapshot!(render(&p));
}

#[test]
fn unknown_type() {
    let p =
        errors("name: s\nresources:\n  a:\n    type: test:Thnig\n    properties: { size: 1 }\n");
    assert_eq!(codes(&p), ["cairn::config::unknown-type"]);
    assert_eq!(positions(&p), [(4, 11)]);
    assert!(render(&p).contains("did you mean `test:Thing`?"));
    assert_snapshot!(render(&p));
}

#[test]
fn schema_errors_all_at_once() {
    let text = r#"name: s
resources:
  t:
    type: test:Thing
    properties:
      sise: 3
      name: ab
      mode: smal
      enabled: "true"
      tags: { a: 1 }
      ports: [80, 70000, "${other.output}", "x${other.output}"]
      settings: { label: 5, retry: 1 }
  other:
    type: core:Data
"#;
    let p = errors(text);
    assert_eq!(
        codes(&p),
        [
            "cairn::config::missing-property",
            "cairn::config::unknown-property",
            "cairn::config::out-of-range",
            "cairn::config::invalid-enum",
            "cairn::config::wrong-type",
            "cairn::config::wrong-type",
            "cairn::config::out-of-range",
            "cairn::config::wrong-type",
            "cairn::config::missing-property",
            "cairn::config::wrong-type",
            "cairn::config::unknown-property",
        ]
    );
    let out = render(&p);
    assert!(out.contains("did you mean `size`?"), "{out}");
    assert!(out.contains("did you mean `small`?"), "{out}");
    assert!(out.contains("remove the quotes"), "{out}");
    assert_snapshot!(out);
}

#[test]
fn wrong_type_string_where_integer_expected() {
    let p = errors(
        "name: s\nresources:\n  t:\n    type: test:Thing\n    properties:\n      size: \"3\"\n",
    );
    assert_eq!(codes(&p), ["cairn::config::wrong-type"]);
    assert_eq!(positions(&p), [(6, 13)]);
    assert_snapshot!(render(&p));
}

#[test]
fn unknown_output_reference() {
    let text = "name: s\nresources:\n  t:\n    type: test:Thing\n    properties: { size: 1 }\n  d:\n    type: core:Data\n    properties: { input: \"at ${t.endpoit}\" }\noutputs:\n  whole: ${t.nothing}\n  arn: ${t.ar}\n";
    let p = errors(text);
    assert_eq!(
        codes(&p),
        [
            "cairn::config::unknown-output",
            "cairn::config::unknown-output",
            "cairn::config::unknown-output",
        ]
    );
    assert_eq!(positions(&p), [(8, 30), (10, 10), (11, 8)]);
    let out = render(&p);
    assert!(out.contains("did you mean `endpoint`?"), "{out}");
    assert!(out.contains("did you mean `arn`?"), "{out}");
    assert_snapshot!(out);
}

#[test]
fn provider_check_failures() {
    let p = errors("name: s\nresources:\n  t:\n    type: test:Thing\n    properties:\n      size: 8\n      mode: small\n      enabled: false\n");
    assert_eq!(
        codes(&p),
        ["test::thing::size-mode", "test::thing::disabled"]
    );
    assert!(!p.problems[0].warning && p.problems[1].warning);
    assert_eq!(positions(&p), [(6, 13), (8, 16)]);
    assert_snapshot!(render(&p));
}

#[test]
fn secrets_are_never_echoed() {
    let text = "name: s\nresources:\n  t:\n    type: test:Thing\n    properties:\n      size: 1\n      token: hunter2-short\n  u:\n    type: test:Thing\n    properties:\n      size: { fn::secret: 99 }\n      mode: { fn::secret: hunter3-mode }\n";
    let p = errors(text);
    assert_eq!(
        codes(&p),
        [
            "cairn::config::out-of-range",
            "cairn::config::out-of-range",
            "cairn::config::invalid-enum",
        ]
    );
    let out = render(&p);
    for secret in ["hunter2", "99", "hunter3", "(found"] {
        assert!(!out.contains(secret), "`{secret}` leaked:\n{out}");
    }
    assert_snapshot!(out);
}

#[test]
fn variable_cycle() {
    let p =
        errors("name: s\nvariables:\n  a: ${b}-x\n  b: ${c}\n  c: ${a}\n  d: ok\nresources: {}\n");
    assert_eq!(codes(&p), ["cairn::config::variable-cycle"]);
    assert_eq!(p.problems[0].secondary.len(), 2);
    assert_snapshot!(render(&p));
}

#[test]
fn name_conflicts_and_invalid_names() {
    let p = errors("name: s\nconfig:\n  env: prod\nvariables:\n  env: dev\nresources:\n  env:\n    type: core:Data\n  my/res:\n    type: core:Data\n");
    assert_eq!(
        codes(&p),
        [
            "cairn::config::name-conflict",
            "cairn::config::name-conflict",
            "cairn::config::invalid-name",
        ]
    );
    assert_snapshot!(render(&p));
}

#[test]
fn config_errors() {
    let text = "name: s\nconfig:\n  shards: { type: integr }\n  count: { type: integer, default: many }\n  ref: \"${shards}\"\nresources: {}\n";
    let p = errors(text);
    // `shards` has an unknown type: reported once, not also as missing.
    assert_eq!(
        codes(&p),
        [
            "cairn::config::invalid-config",
            "cairn::config::invalid-config",
            "cairn::config::reference-in-config",
        ]
    );
    let q = errors("name: s\nconfig:\n  shards: { type: integer }\nresources: {}\n");
    assert_eq!(codes(&q), ["cairn::config::missing-config"]);
    assert_snapshot!(render(&p));
}

#[test]
fn unsupported_function() {
    let p = errors("name: s\nresources:\n  a:\n    type: core:Data\n    properties:\n      input: [{ fn::secrt: x }, { fn::secret: x, more: 1 }]\n");
    assert_eq!(
        codes(&p),
        [
            "cairn::config::unsupported-function",
            "cairn::config::unsupported-function",
        ]
    );
    assert!(render(&p).contains("did you mean `fn::secret`?"));
}

#[test]
fn waiver_problems() {
    let p = errors("name: s\nresources:\n  redis:\n    type: core:Data\npolicy:\n  waivers:\n    - rule: CAIRN-POL-007\n      resource: rediss\n      reason: dev has no replicas\n    - rule: CAIRN-POL-001\n    - rule: CAIRN-POL-002\n      reason: \"\"\n");
    assert_eq!(
        codes(&p),
        [
            "cairn::config::unknown-reference",
            "cairn::config::missing-key",
            "cairn::config::invalid-waiver",
        ]
    );
    assert!(render(&p).contains("did you mean `redis`?"));
}

#[test]
fn file_too_large() {
    let mut big = b"name: s\nresources: {}\n# ".to_vec();
    big.resize(cairn_config::MAX_FILE_BYTES + 1, b'x');
    let p = load_stack_bytes(&big).unwrap_err();
    assert_eq!(codes(&p), ["cairn::config::file-too-large"]);
    assert_eq!(positions(&p), [(1, 1)]);
    assert_snapshot!(render(&p));
}
