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
