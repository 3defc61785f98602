//! Explicit providers: `options.provider` / `providers` / `version`, with
//! stand-ins for `pulumi:providers:aws` and a taggable AWS type.

use super::common::{codes, fake_provider, registry, render};
use cairn_config::load_stack_with_warnings;
use cairn_core::diag::Problems;
use cairn_core::schema::{OutputSchema, PropType, PropertySchema, ResourceSchema};
use cairn_core::spec::StackSpec;
use cairn_core::value::Value;
use cairn_core::Registry;
use std::collections::BTreeMap;

fn with_aws() -> Registry {
    let mut r = registry();
    let tags = || PropertySchema::new("tags", PropType::map(PropType::string()));
    r.register(fake_provider(
        ResourceSchema::new("aws:kms:Key", "A key.")
            .property(PropertySchema::new("description", PropType::string()))
            .property(PropertySchema::new("region", PropType::string()).replaces())
            .property(tags())
            .output(OutputSchema::new("arn", "The ARN.")),
    ));
    r.register(fake_provider(
        ResourceSchema::new("pulumi:providers:aws", "An AWS provider.")
            .property(PropertySchema::new("region", PropType::string()))
            .property(PropertySchema::new(
                "defaultTags",
                PropType::object(vec![tags()]),
            )),
    ));
    r
}

fn load(text: &str) -> Result<(StackSpec, Problems), Problems> {
    load_stack_with_warnings("stack.yaml", text.as_bytes(), &with_aws(), &BTreeMap::new())
}

#[track_caller]
fn spec(text: &str) -> StackSpec {
    match load(text) {
        Ok((s, _)) => s,
        Err(p) => panic!("expected a spec, got:\n{}", render(&p)),
    }
}

#[track_caller]
fn errors(text: &str) -> Problems {
    match load(text) {
        Ok(_) => panic!("expected problems"),
        Err(p) => p,
    }
}

const TWO_REGIONS: &str = r#"name: two
resources:
  east:
    type: pulumi:providers:aws
    properties:
      region: eu-west-1
      defaultTags:
        tags: { team: data, env: default }
  home:
    type: aws:kms:Key
    properties: { description: home }
  away:
    type: aws:kms:Key
    properties:
      description: away
      tags: { env: prod }
    options:
      provider: ${east}
"#;

#[test]
fn provider_sets_region_dependency_and_default_tags() {
    let s = spec(TWO_REGIONS);
    let r = |n: &str| s.resources.iter().find(|r| r.name == n).unwrap();
    let away = r("away");
    assert_eq!(
        away.properties.get("region"),
        Some(&Value::from("eu-west-1"))
    );
    assert_eq!(away.options.depends_on, ["east"]);
    let tags = away.properties.get("tags").and_then(Value::as_map).unwrap();
    // The resource's own tag wins over the provider's default.
    assert_eq!(tags.get("env"), Some(&Value::from("prod")));
    assert_eq!(tags.get("team"), Some(&Value::from("data")));
    // The default provider's resource is untouched.
    let home = r("home");
    assert!(!home.properties.contains_key("region"));
    assert!(!home.properties.contains_key("tags"));
    assert!(home.options.depends_on.is_empty());
}

#[test]
fn a_resource_region_is_not_overridden() {
    let text = TWO_REGIONS.replace(
        "description: away",
        "description: away\n      region: us-west-2",
    );
    let s = spec(&text);
    let away = s.resources.iter().find(|r| r.name == "away").unwrap();
    assert_eq!(
        away.properties.get("region"),
        Some(&Value::from("us-west-2"))
    );
}

#[test]
fn providers_map_and_list_forms() {
    for form in [
        r#"providers: { aws: "${east}" }"#,
        r#"providers: [ "${east}" ]"#,
    ] {
        let text = TWO_REGIONS.replace("provider: ${east}", form);
        let s = spec(&text);
        let away = s.resources.iter().find(|r| r.name == "away").unwrap();
        assert_eq!(
            away.properties.get("region"),
            Some(&Value::from("eu-west-1")),
            "{form}"
        );
    }
}

#[test]
fn version_is_accepted_with_a_warning() {
    let text = TWO_REGIONS.replace(
        "provider: ${east}",
        "provider: ${east}\n      version: 6.0.0",
    );
    let (_, warnings) = load(&text).expect("loads");
    assert_eq!(codes(&warnings), ["cairn::config::option-ignored"]);
    assert!(
        render(&warnings).contains("stack.yaml:19:7"),
        "{}",
        render(&warnings)
    );
}

#[test]
fn a_provider_that_is_not_one_is_located() {
    let text = TWO_REGIONS.replace("provider: ${east}", "provider: ${home}");
    let p = errors(&text);
    assert_eq!(codes(&p), ["cairn::config::invalid-provider"]);
    let out = render(&p);
    assert!(out.contains("stack.yaml:18:17"), "{out}");
    assert!(
        out.contains("`home` is not a provider: it is a `aws:kms:Key`"),
        "{out}"
    );
}

#[test]
fn an_unknown_provider_is_located() {
    let text = TWO_REGIONS.replace("provider: ${east}", "provider: ${west}");
    let p = errors(&text);
    let out = render(&p);
    assert!(
        codes(&p).contains(&"cairn::config::unknown-reference"),
        "{out}"
    );
    assert!(out.contains("stack.yaml:18:"), "{out}");
    assert!(out.contains("west"), "{out}");
}

#[test]
fn a_provider_for_another_package_is_refused() {
    let text = TWO_REGIONS.replace(
        "type: pulumi:providers:aws",
        "type: pulumi:providers:kubernetes",
    );
    let p = errors(&text);
    let out = render(&p);
    assert!(
        codes(&p).contains(&"cairn::config::invalid-provider"),
        "{out}"
    );
    assert!(
        out.contains(
            "`east` is a provider for package `kubernetes`, but `away` is a `aws:kms:Key` resource"
        ),
        "{out}"
    );
    assert!(out.contains("stack.yaml:18:17"), "{out}");
    // A map entry under the wrong package is refused too.
    let text = TWO_REGIONS.replace(
        "provider: ${east}",
        r#"providers: { kubernetes: "${east}" }"#,
    );
    let p = errors(&text);
    assert!(render(&p).contains("`providers.kubernetes` names `east`, a provider for `aws`"));
}

#[test]
fn a_provider_must_be_a_reference() {
    for (form, col) in [("provider: east", 17), ("provider: ${east.region}", 17)] {
        let text = TWO_REGIONS.replace("provider: ${east}", form);
        let p = errors(&text);
        let out = render(&p);
        assert_eq!(
            codes(&p),
            ["cairn::config::invalid-option"],
            "{form}: {out}"
        );
        assert!(
            out.contains(&format!("stack.yaml:18:{col}")),
            "{form}: {out}"
        );
    }
}

/// `defaultProvider: true` (Pulumi YAML): every resource of the package that
/// names no `provider` uses it; one that names another keeps its own.
#[test]
fn a_default_provider_is_used_by_every_resource_naming_none() {
    let text = r#"name: defaults
resources:
  west:
    type: pulumi:providers:aws
    defaultProvider: true
    properties:
      region: us-west-2
  east:
    type: pulumi:providers:aws
    properties:
      region: eu-west-1
  plain:
    type: aws:kms:Key
    properties: { description: plain }
  listed:
    type: aws:kms:Key
    properties: { description: listed }
    options:
      providers: ["${east}"]
  named:
    type: aws:kms:Key
    properties: { description: named }
    options:
      provider: ${east}
  data:
    type: core:Data
    properties: { input: 1 }
"#;
    let s = spec(text);
    let r = |n: &str| s.resources.iter().find(|r| r.name == n).unwrap();
    let region = |n: &str| r(n).properties.get("region").cloned();
    assert_eq!(region("plain"), Some(Value::from("us-west-2")));
    assert_eq!(r("plain").options.depends_on, ["west"]);
    // `provider` is what Pulumi sets, so it wins over a `providers` entry.
    assert_eq!(region("listed"), Some(Value::from("us-west-2")));
    assert_eq!(region("named"), Some(Value::from("eu-west-1")));
    assert!(r("data").options.depends_on.is_empty(), "another package");
}

#[test]
fn default_provider_errors_are_located() {
    let on_resource = "name: d\nresources:\n  k:\n    type: aws:kms:Key\n    defaultProvider: true\n    properties: { description: k }\n";
    let p = errors(on_resource);
    assert_eq!(
        codes(&p),
        ["cairn::config::invalid-option"],
        "{}",
        render(&p)
    );
    assert!(render(&p).contains("stack.yaml:5:5"), "{}", render(&p));

    let two = "name: d\nresources:\n  a:\n    type: pulumi:providers:aws\n    defaultProvider: true\n  b:\n    type: pulumi:providers:aws\n    defaultProvider: true\n";
    let p = errors(two);
    assert_eq!(
        codes(&p),
        ["cairn::config::invalid-provider"],
        "{}",
        render(&p)
    );
    assert!(render(&p).contains("stack.yaml:8:22"), "{}", render(&p));

    let not_bool = "name: d\nresources:\n  a:\n    type: pulumi:providers:aws\n    defaultProvider: yes please\n";
    let p = errors(not_bool);
    assert!(render(&p).contains("stack.yaml:5:22"), "{}", render(&p));
}
