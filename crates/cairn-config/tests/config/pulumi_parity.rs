//! Pulumi parity (#12): option names checked against the type, Pulumi's
//! type token spellings.

use super::common::{codes, errors, load};
use cairn_core::diag::line_col;

fn line_of(p: &cairn_core::diag::Problems, code: &str, text: &str) -> Option<usize> {
    let problem = p.problems.iter().find(|x| x.code == code)?;
    Some(line_col(text, problem.span?.offset).0)
}

#[test]
fn replace_on_changes_naming_no_property_is_a_diagnostic_at_its_line() {
    let text = "name: s\nresources:\n  t:\n    type: test:Thing\n    properties: { size: 2 }\n    options:\n      replaceOnChanges:\n        - size\n        - tags.env\n        - sise\n";
    let p = errors(text);
    assert_eq!(
        codes(&p),
        ["cairn::config::unknown-option-property"],
        "{p:?}"
    );
    assert_eq!(
        line_of(&p, "cairn::config::unknown-option-property", text),
        Some(10)
    );
    let help = p.problems[0].help.clone().unwrap_or_default();
    assert!(help.contains("did you mean `size`?"), "{help}");
    // `*` and nested paths of real properties are fine.
    load("name: s\nresources:\n  t:\n    type: test:Thing\n    properties: { size: 2 }\n    options: { replaceOnChanges: [\"*\", tags.env, settings.retries] }\n")
        .expect("valid");
}

#[test]
fn additional_secret_outputs_naming_no_output_is_a_diagnostic_at_its_line() {
    let text = "name: s\nresources:\n  t:\n    type: test:Thing\n    properties: { size: 2 }\n    options:\n      additionalSecretOutputs: [arn, endpont]\n";
    let p = errors(text);
    assert_eq!(
        codes(&p),
        ["cairn::config::unknown-option-property"],
        "{p:?}"
    );
    assert_eq!(
        line_of(&p, "cairn::config::unknown-option-property", text),
        Some(7)
    );
    let help = p.problems[0].help.clone().unwrap_or_default();
    assert!(help.contains("did you mean `endpoint`?"), "{help}");
    // Inputs read like outputs: a property name is accepted.
    load("name: s\nresources:\n  t:\n    type: test:Thing\n    properties: { size: 2 }\n    options: { additionalSecretOutputs: [endpoint, name] }\n")
        .expect("valid");
}

#[test]
fn pulumi_type_token_spellings_mean_the_short_form() {
    let spec = load("name: s\nresources:\n  d:\n    type: core:index/data:Data\n    properties: { input: 1 }\n  t:\n    type: test:index:Thing\n    properties: { size: 2 }\n")
        .expect("loads");
    let types: Vec<&str> = spec
        .resources
        .iter()
        .map(|r| r.type_token.as_str())
        .collect();
    assert_eq!(types, ["core:Data", "test:Thing"]);
}

fn load_reading(text: &str) -> Result<cairn_core::spec::StackSpec, cairn_core::diag::Problems> {
    use cairn_core::value::{Map, Value};
    let read = |token: &str, id: &str, state: &Map| {
        if id != "vpc-1" {
            return Err(format!("there is no `{token}` with id `{id}`"));
        }
        let mut outputs = Map::new();
        outputs.insert("arn".into(), Value::from("arn:test:vpc-1"));
        outputs.insert("size".into(), Value::Int(3));
        Ok(cairn_core::provider::Observed {
            id: id.into(),
            inputs: state.clone(),
            outputs,
        })
    };
    let files = |_: &str| Err("no files".to_string());
    let program = cairn_config::Program {
        read: Some(&read),
        ..cairn_config::Program::default()
    };
    cairn_config::load_stack_layered_in(
        "s.yaml",
        text.as_bytes(),
        &files,
        &super::common::registry(),
        &Default::default(),
        &program,
    )
    .map(|(spec, _)| spec)
}

#[test]
fn get_reads_a_resource_without_managing_it() {
    let spec = load_reading("name: s\nconfig:\n  vpcId: vpc-1\nresources:\n  vpc:\n    type: test:index:Thing\n    get:\n      id: ${vpcId}\n      state: { mode: large }\n  user:\n    type: core:Data\n    properties:\n      input: ${vpc.arn} ${vpc.id} ${vpc.mode}\noutputs:\n  size: ${vpc.size}\n")
        .expect("loads");
    // Not managed: only `user` is in the plan's input.
    let names: Vec<&str> = spec.resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["user"]);
    assert_eq!(
        spec.resources[0].properties["input"],
        cairn_core::value::Value::from("arn:test:vpc-1 vpc-1 large")
    );
    assert_eq!(spec.outputs["size"], cairn_core::value::Value::Int(3));
    // Recorded as Pulumi records it: external, with what the read found.
    assert_eq!(spec.externals.len(), 1, "{:?}", spec.externals);
    let vpc = &spec.externals[0];
    assert_eq!((vpc.name.as_str(), vpc.id.as_str()), ("vpc", "vpc-1"));
    assert_eq!(vpc.type_token, "test:Thing");
    assert_eq!(
        vpc.outputs["arn"],
        cairn_core::value::Value::from("arn:test:vpc-1")
    );
    assert_eq!(vpc.inputs["mode"], cairn_core::value::Value::from("large"));
    // A read that fails is a diagnostic at the id.
    let text = "name: s\nresources:\n  vpc:\n    type: test:Thing\n    get: { id: vpc-2 }\n";
    let p = load_reading(text).expect_err("not found");
    assert_eq!(codes(&p), ["cairn::get::failed"], "{p:?}");
    assert_eq!(line_of(&p, "cairn::get::failed", text), Some(5));
    // `properties` cannot go with `get:`, and an id must be known at load.
    let p = load_reading("name: s\nresources:\n  a:\n    type: core:Data\n  vpc:\n    type: test:Thing\n    properties: { size: 1 }\n    get: { id: \"${a.output}\" }\n")
        .expect_err("invalid");
    assert_eq!(
        codes(&p),
        [
            "cairn::config::unknown-key",
            "cairn::config::invalid-option"
        ],
        "{p:?}"
    );
}

/// Pulumi YAML's `pulumi:` block: `requiredVersion` is a range of the Pulumi
/// CLI, which cairn is not: accepted with a warning at its line; anything
/// else in the block is an error.
#[test]
fn the_pulumi_block_takes_required_version_with_a_warning() {
    let text = "name: s\npulumi:\n  requiredVersion: \">=3.0.0\"\nresources: {}\n";
    let (_, warnings) = cairn_config::load_stack_with_warnings(
        "stack.yaml",
        text.as_bytes(),
        &super::common::registry(),
        &Default::default(),
    )
    .expect("loads");
    assert_eq!(codes(&warnings), ["cairn::config::option-ignored"]);
    assert_eq!(
        line_of(&warnings, "cairn::config::option-ignored", text),
        Some(3)
    );
    let bad = "name: s\npulumi:\n  requiredVersion: 3\n  cliVersion: x\nresources: {}\n";
    let p = errors(bad);
    assert_eq!(
        codes(&p),
        ["cairn::config::wrong-shape", "cairn::config::unknown-key"],
        "{p:?}"
    );
    assert_eq!(line_of(&p, "cairn::config::unknown-key", bad), Some(4));
}

/// `${@json:...}` is how `fn::toJSON` writes an output into JSON text; in
/// what users write it is no reference (Pulumi rejects it too).
#[test]
fn the_internal_json_reference_form_is_refused_in_stack_files() {
    let text = "name: s\nresources:\n  d:\n    type: core:Data\n    properties: { input: 1 }\noutputs:\n  x: \"${@json:d.output}\"\n";
    let p = errors(text);
    assert_eq!(codes(&p), ["cairn::config::bad-interpolation"], "{p:?}");
    assert_eq!(
        line_of(&p, "cairn::config::bad-interpolation", text),
        Some(7)
    );
}

#[test]
fn list_of_t_config_types_check_their_items_as_pulumi_does() {
    // `config.Parse` reads `List<T>` in any case; a default of other items
    // is "type mismatch" in `registerConfig`.
    let text = "name: s\nresources: {}\nconfig:\n  ports: { type: List<Integer>, default: [http, https] }\n";
    let p = errors(text);
    assert_eq!(codes(&p), ["cairn::config::invalid-config"], "{p:?}");
    assert_eq!(line_of(&p, "cairn::config::invalid-config", text), Some(4));
    let p = errors(
        "name: s\nresources: {}\nconfig:\n  names: { type: list<string>, default: [1, 2] }\n",
    );
    assert_eq!(codes(&p), ["cairn::config::invalid-config"], "{p:?}");
    // An unknown item type is an unknown type, not a list of anything.
    let p = errors("name: s\nresources: {}\nconfig:\n  xs: { type: List<Strin>, default: [a] }\n");
    assert_eq!(codes(&p), ["cairn::config::invalid-config"], "{p:?}");
    assert!(p.problems[0].message.contains("unknown type"), "{p:?}");
    // A `--config` value is checked the same way.
    let stack = "name: s\nresources: {}\nconfig:\n  ports: { type: List<Integer> }\noutputs:\n  p: ${ports}\n";
    let p = super::common::load_with(
        stack,
        &[("ports", cairn_core::value::Value::from("[\"a\"]"))],
    )
    .expect_err("strings for List<Integer>");
    assert_eq!(codes(&p), ["cairn::config::invalid-config"], "{p:?}");
    assert!(
        p.problems[0]
            .message
            .contains("a list, each item an integer"),
        "{p:?}"
    );
    let spec = super::common::load_with(
        stack,
        &[("ports", cairn_core::value::Value::from("[80, 443]"))],
    )
    .expect("integers");
    assert_eq!(
        spec.outputs["p"],
        cairn_core::value::Value::List(vec![80.into(), 443.into()])
    );
}

#[test]
fn an_integer_default_written_as_a_whole_float_is_an_integer() {
    // `registerConfig`: a Number default of an Integer declaration with no
    // fraction becomes an int; `3.5` stays a type mismatch.
    let spec = load("name: s\nresources: {}\nconfig:\n  n: { type: Integer, default: 3.0 }\noutputs:\n  n: ${n}\n")
        .expect("3.0 is an integer");
    assert_eq!(spec.outputs["n"], cairn_core::value::Value::Int(3));
    let p = errors("name: s\nresources: {}\nconfig:\n  n: { type: Integer, default: 3.5 }\n");
    assert_eq!(codes(&p), ["cairn::config::invalid-config"], "{p:?}");
}

/// Pulumi splices with Go's `%v`: a null is `<nil>`, a YAML number (a
/// float64) from 1e6 is `1e+06`. cairn writes `` and the digits, and says so
/// at the reference; an `Integer` config (digits in Pulumi too) and small
/// numbers say nothing.
#[test]
fn text_that_pulumi_writes_differently_is_a_located_warning() {
    let text = "name: s\nconfig:\n  count:\n    type: integer\n    default: 2000000\nvariables:\n  big: 1000000\n  tiny: 0.00001\n  none: null\n  port: 6379\nresources: {}\noutputs:\n  a: x-${big}\n  b: x-${tiny}\n  c: x-${none}\n  d: x-${port}\n  e: x-${count}\n";
    let (spec, warnings) = cairn_config::load_stack_with_warnings(
        "stack.yaml",
        text.as_bytes(),
        &super::common::registry(),
        &Default::default(),
    )
    .expect("loads");
    assert_eq!(
        spec.outputs["a"],
        cairn_core::value::Value::from("x-1000000")
    );
    let found: Vec<(usize, String)> = warnings
        .problems
        .iter()
        .filter(|p| p.code == "cairn::config::text-differs")
        .map(|p| (line_col(text, p.span.unwrap().offset).0, p.message.clone()))
        .collect();
    assert_eq!(
        found,
        [
            (
                13,
                "`${big}` is written `1000000` here; Pulumi writes `1e+06`".to_string()
            ),
            (
                14,
                "`${tiny}` is written `0.00001` here; Pulumi writes `1e-05`".to_string()
            ),
            (
                15,
                "`${none}` is written `` here; Pulumi writes `<nil>`".to_string()
            ),
        ]
    );
    // A secret's value is never in the warning.
    let text = "name: s\nconfig:\n  pin:\n    type: number\n    secret: true\n    default: 7654321.5\nresources: {}\noutputs:\n  a: x-${pin}\n";
    let (_, warnings) = cairn_config::load_stack_with_warnings(
        "stack.yaml",
        text.as_bytes(),
        &super::common::registry(),
        &Default::default(),
    )
    .expect("loads");
    let shown: Vec<&str> = warnings
        .problems
        .iter()
        .filter(|p| p.code == "cairn::config::text-differs")
        .map(|p| p.message.as_str())
        .collect();
    assert_eq!(
        shown,
        ["`${pin}` (secret) is written differently here from the text Pulumi writes"]
    );
}
