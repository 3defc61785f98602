//! `fn::invoke`'s `options`: `provider: ${p}` passes the provider's
//! `region` to the data source; other options are diagnostics.

use super::common::{codes, fake_provider, registry};
use cairn_config::{load_stack_layered_in, Program};
use cairn_core::provider::InvokeError;
use cairn_core::schema::{PropType, PropertySchema, ResourceSchema};
use cairn_core::value::{Map, Value};
use cairn_core::Registry;
use std::collections::BTreeMap;

fn with_providers() -> Registry {
    let mut r = registry();
    for token in ["pulumi:providers:aws", "pulumi:providers:test"] {
        r.register(fake_provider(
            ResourceSchema::new(token, "A provider.")
                .property(PropertySchema::new("region", PropType::string())),
        ));
    }
    r
}

/// `aws:getRegion` answers the region it was asked for (else `us-east-1`).
fn get_region(_: &str, args: &Map) -> Result<Map, InvokeError> {
    let mut m = Map::new();
    let name = args
        .get("region")
        .cloned()
        .unwrap_or_else(|| Value::from("us-east-1"));
    m.insert("name".into(), name);
    Ok(m)
}

fn load(text: &str) -> Result<cairn_core::spec::StackSpec, cairn_core::diag::Problems> {
    let program = Program {
        invoke: Some(&get_region),
        ..Program::default()
    };
    let read = |_: &str| Err("no files".to_string());
    load_stack_layered_in(
        "s.yaml",
        text.as_bytes(),
        &read,
        &with_providers(),
        &BTreeMap::new(),
        &program,
    )
    .map(|(spec, _)| spec)
}

const PROVIDERS: &str = "name: s\nconfig:\n  west: eu-west-1\nresources:\n  euWest:\n    type: pulumi:providers:aws\n    properties:\n      region: ${west}\n  plain:\n    type: pulumi:providers:aws\n  other:\n    type: pulumi:providers:test\n    properties:\n      region: x\n";

#[test]
fn an_invoke_with_a_provider_reads_in_its_region() {
    let spec = load(&format!(
        "{PROVIDERS}variables:\n  there:\n    fn::invoke:\n      function: aws:getRegion\n      options:\n        provider: ${{euWest}}\n        version: 6.0.0\n      return: name\n  here:\n    fn::invoke: {{ function: aws:getRegion, return: name }}\n  default:\n    fn::invoke: {{ function: aws:getRegion, options: {{ provider: \"${{plain}}\" }}, return: name }}\n  explicit:\n    fn::invoke: {{ function: aws:getRegion, arguments: {{ region: ap-south-1 }}, options: {{ provider: \"${{euWest}}\" }}, return: name }}\noutputs:\n  there: ${{there}}\n  here: ${{here}}\n  default: ${{default}}\n  explicit: ${{explicit}}\n"
    ))
    .expect("loads");
    assert_eq!(spec.outputs["there"], Value::from("eu-west-1"));
    assert_eq!(spec.outputs["here"], Value::from("us-east-1"));
    assert_eq!(
        spec.outputs["default"],
        Value::from("us-east-1"),
        "a provider without a region reads in the run's"
    );
    assert_eq!(
        spec.outputs["explicit"],
        Value::from("ap-south-1"),
        "an argument `region` wins"
    );
}

#[test]
fn invoke_options_other_than_provider_are_diagnostics() {
    for (options, code) in [
        (
            "{ provder: \"${euWest}\" }",
            "cairn::config::unknown-option",
        ),
        (
            "{ dependsOn: [\"${euWest}\"] }",
            "cairn::config::unknown-option",
        ),
        ("{ parent: \"${euWest}\" }", "cairn::config::unknown-option"),
        (
            "{ provider: \"${nope}\" }",
            "cairn::config::invalid-provider",
        ),
        (
            "{ provider: \"${other}\" }",
            "cairn::config::invalid-provider",
        ),
        ("{ provider: euWest }", "cairn::config::invalid-provider"),
    ] {
        let text = format!(
            "{PROVIDERS}variables:\n  v:\n    fn::invoke: {{ function: aws:getRegion, options: {options} }}\n"
        );
        let p = load(&text).expect_err(options);
        assert_eq!(codes(&p), [code], "{options}: {p:?}");
        let line = p.problems[0]
            .span
            .map(|s| text[..s.offset].matches('\n').count() + 1);
        assert_eq!(line, Some(17), "{options}: on the invoke's line");
    }
    // A near miss is named.
    let p = load(&format!(
        "{PROVIDERS}variables:\n  v:\n    fn::invoke: {{ function: aws:getRegion, options: {{ provder: x }} }}\n"
    ))
    .expect_err("typo");
    assert!(
        format!("{p:?}").contains("did you mean `provider`"),
        "{p:?}"
    );
}

/// `defaultProvider: true`: an invoke written directly as a variable uses
/// it unless it names a provider; an invoke elsewhere (an output, inside
/// another value) does not, as in Pulumi YAML's runner.
#[test]
fn a_variable_invoke_uses_the_default_provider() {
    let text = PROVIDERS.replace(
        "  euWest:\n    type: pulumi:providers:aws\n",
        "  euWest:\n    type: pulumi:providers:aws\n    defaultProvider: true\n",
    );
    let spec = load(&format!(
        "{text}variables:\n  short:\n    fn::aws:getRegion: {{}}\n  long:\n    fn::invoke: {{ function: aws:getRegion, return: name }}\n  named:\n    fn::invoke: {{ function: aws:getRegion, options: {{ provider: \"${{plain}}\" }}, return: name }}\n  nested:\n    list:\n      - fn::invoke: {{ function: aws:getRegion, return: name }}\noutputs:\n  short: ${{short.name}}\n  long: ${{long}}\n  named: ${{named}}\n  nested: ${{nested.list[0]}}\n  output:\n    fn::invoke: {{ function: aws:getRegion, return: name }}\n"
    ))
    .expect("loads");
    assert_eq!(spec.outputs["short"], Value::from("eu-west-1"));
    assert_eq!(spec.outputs["long"], Value::from("eu-west-1"));
    assert_eq!(spec.outputs["named"], Value::from("us-east-1"));
    assert_eq!(spec.outputs["nested"], Value::from("us-east-1"));
    assert_eq!(spec.outputs["output"], Value::from("us-east-1"));
}

/// A `get:` resource with `options.provider` (or a default provider) is
/// read in that provider's region, as Pulumi reads it through its provider;
/// other options are diagnostics, not ignored.
#[test]
fn a_get_resource_is_read_through_its_provider() {
    let read = |_: &str, id: &str, state: &Map| {
        let mut outputs = Map::new();
        let region = state
            .get("region")
            .cloned()
            .unwrap_or(Value::from("us-east-1"));
        outputs.insert("readIn".into(), region);
        Ok(cairn_core::provider::Observed {
            id: id.into(),
            inputs: state.clone(),
            outputs,
        })
    };
    let load = |text: &str| {
        let program = Program {
            invoke: Some(&get_region),
            read: Some(&read),
            ..Program::default()
        };
        let files = |_: &str| Err("no files".to_string());
        load_stack_layered_in(
            "s.yaml",
            text.as_bytes(),
            &files,
            &with_providers(),
            &BTreeMap::new(),
            &program,
        )
        .map(|(spec, _)| spec)
    };
    let spec = load(&format!(
        "{PROVIDERS}  there:\n    type: test:Thing\n    get:\n      id: d-1\n    options:\n      provider: ${{other}}\n      version: 1.0.0\n  here:\n    type: test:Thing\n    get: {{ id: d-2 }}\noutputs:\n  there: ${{there.readIn}}\n  here: ${{here.readIn}}\n"
    ))
    .expect("loads");
    assert_eq!(spec.outputs["there"], Value::from("x"));
    assert_eq!(spec.outputs["here"], Value::from("us-east-1"));
    let p = load(&format!(
        "{PROVIDERS}  there:\n    type: test:Thing\n    get: {{ id: d-1 }}\n    options:\n      protect: true\n"
    ))
    .expect_err("protect on a get");
    assert_eq!(codes(&p), ["cairn::config::unknown-option"], "{p:?}");
}
