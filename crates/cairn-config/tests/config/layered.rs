//! Environment files layered over a template (`load_stack_layered`).

use super::common::{codes, registry, render};
use cairn_config::load_stack_layered;
use cairn_core::diag::Problems;
use cairn_core::spec::StackSpec;
use cairn_core::value::{PropertyPath, Value};
use std::collections::BTreeMap;

const TEMPLATE: &str = r#"name: thing-stack
config:
  environment: { type: string }
  size: { type: integer }
  token: { type: string, secret: true, default: "0123456789abcdef" }
  network: { type: object }
resources:
  t:
    type: test:Thing
    properties:
      size: ${size}
      name: thing-${environment}
      token: ${token}
      tags:
        vpc: ${network.vpcId}
    options:
      import: ${network.thingId}
outputs:
  arn: ${t.arn}
"#;

fn layered(env: &str, config: &[(&str, Value)]) -> Result<(StackSpec, Problems), Problems> {
    let read = |name: &str| match name {
        "thing.template.yaml" => Ok(TEMPLATE.as_bytes().to_vec()),
        other => Err(format!("no such file: {other}")),
    };
    let config: BTreeMap<String, Value> = config
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    load_stack_layered("dev.yaml", env.as_bytes(), &read, &registry(), &config)
}

const DEV: &str = r#"name: thing-dev
template: thing.template.yaml
config:
  environment: dev
  size: 2
  token: fedcba9876543210-dev
  network: { vpcId: vpc-1, thingId: thing-1 }
policy:
  waivers:
    - { rule: CAIRN-POL-007, resource: t, reason: dev has no replicas }
"#;

#[test]
fn environment_values_configure_the_template() {
    let (spec, warnings) = layered(DEV, &[]).unwrap();
    assert!(warnings.problems.is_empty());
    assert_eq!(spec.name, "thing-dev");
    let t = &spec.resources[0];
    assert_eq!(t.properties["size"], Value::Int(2));
    assert_eq!(t.properties["name"], Value::from("thing-dev"));
    assert_eq!(
        t.properties["token"],
        Value::secret(Value::from("fedcba9876543210-dev"))
    );
    assert_eq!(t.options.import.as_deref(), Some("thing-1"));
    assert_eq!(spec.waivers.len(), 1);
    // Spans and source are the template's.
    let src = spec.source.as_ref().unwrap();
    assert_eq!(src.name, "thing.template.yaml");
    let span = t.spans[&PropertyPath::key("size")];
    assert_eq!(
        src.text.get(span.offset..span.offset + span.len),
        Some("${size}")
    );
}

#[test]
fn command_line_config_beats_the_environment_file() {
    let (spec, _) = layered(DEV, &[("size", Value::from("3"))]).unwrap();
    assert_eq!(spec.resources[0].properties["size"], Value::Int(3));
}

#[test]
fn problems_point_into_the_file_they_are_in() {
    let env = r#"name: thing-dev
template: thing.template.yaml
resources: {}
config:
  environment: dev
  sise: 2
  size: "2"
  token: short
  network: { vpcId: vpc-1, thingId: thing-1 }
policy:
  waivers:
    - { rule: CAIRN-POL-007, resource: tt, reason: dev has no replicas }
"#;
    let p = layered(env, &[]).unwrap_err();
    assert_eq!(
        codes(&p),
        [
            "cairn::config::unknown-key",
            "cairn::config::unknown-config",
            "cairn::config::invalid-config",
            "cairn::config::unknown-reference",
            // `token: short` is too short; reported where the template uses it.
            "cairn::config::out-of-range",
        ]
    );
    let files: Vec<&str> = p
        .problems
        .iter()
        .map(|p| p.source.as_ref().map_or("", |s| s.name.as_str()))
        .collect();
    assert_eq!(
        files,
        [
            "dev.yaml",
            "dev.yaml",
            "dev.yaml",
            "dev.yaml",
            "thing.template.yaml"
        ]
    );
    let out = render(&p);
    assert!(out.contains("did you mean `size`?"), "{out}");
    assert!(out.contains("did you mean `t`?"), "{out}");
    // The secret config value is starred out of the environment file.
    assert!(!out.contains("short"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn secret_environment_values_are_redacted_in_schema_errors() {
    let env = DEV.replace("fedcba9876543210-dev", "tiny");
    let p = layered(&env, &[]).unwrap_err();
    assert_eq!(codes(&p), ["cairn::config::out-of-range"]);
    assert!(!render(&p).contains("tiny"));
}

#[test]
fn unreadable_template_and_files_without_template() {
    let p = layered("name: x\ntemplate: missing.yaml\n", &[]).unwrap_err();
    assert_eq!(codes(&p), ["cairn::config::template-unreadable"]);
    assert!(render(&p).contains("no such file: missing.yaml"));
    // Without `template:`, the file is a stack by itself.
    let (spec, _) = layered("name: solo\nresources:\n  d:\n    type: core:Data\n", &[]).unwrap();
    assert_eq!(spec.name, "solo");
    assert_eq!(spec.source.unwrap().name, "dev.yaml");
}

#[test]
fn an_environment_file_may_name_its_backend_and_only_as_a_url() {
    let env = DEV.replace(
        "template: thing.template.yaml\n",
        "template: thing.template.yaml\nbackend: \" s3://team/redis?kms_key=alias/state \"\n",
    );
    layered(&env, &[]).unwrap();
    let declared = cairn_config::declared_backend("dev.yaml", env.as_bytes()).expect("declared");
    assert_eq!(declared.url, "s3://team/redis?kms_key=alias/state");
    assert_eq!(
        &env[declared.span.offset..declared.span.offset + declared.span.len],
        "\" s3://team/redis?kms_key=alias/state \""
    );
    // The diagnostic source keeps only the `backend:` line: no config value
    // (here the token) can show up in a report about it.
    assert!(declared.source.text.contains("backend:"));
    assert!(!declared.source.text.contains("fedcba9876543210-dev"));
    assert_eq!(declared.source.text.len(), env.len(), "offsets unchanged");

    assert!(cairn_config::declared_backend("dev.yaml", DEV.as_bytes()).is_none());
    let bad = DEV.replace(
        "template: thing.template.yaml\n",
        "template: thing.template.yaml\nbackend: [s3://x]\n",
    );
    let err = layered(&bad, &[]).unwrap_err();
    assert!(
        codes(&err).contains(&cairn_config::codes::WRONG_SHAPE),
        "{}",
        render(&err)
    );
}
