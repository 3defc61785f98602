//! `options.parent` (Pulumi's): a dependency on the parent, the parent
//! recorded, `protect` and the provider inherited from it, and diagnostics
//! for an unknown parent, the resource itself and a cycle.

use super::common::{codes, fake_provider, registry, render};
use cairn_config::load_stack_with_warnings;
use cairn_core::diag::Problems;
use cairn_core::schema::{PropType, PropertySchema, ResourceSchema};
use cairn_core::spec::{ResourceSpec, StackSpec};
use cairn_core::value::Value;
use cairn_core::Registry;
use std::collections::BTreeMap;

fn with_aws() -> Registry {
    let mut r = registry();
    r.register(fake_provider(
        ResourceSchema::new("aws:kms:Key", "A key.")
            .property(PropertySchema::new("description", PropType::string()))
            .property(PropertySchema::new("region", PropType::string()).replaces()),
    ));
    r.register(fake_provider(
        ResourceSchema::new("pulumi:providers:aws", "An AWS provider.")
            .property(PropertySchema::new("region", PropType::string())),
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

fn res<'a>(s: &'a StackSpec, name: &str) -> &'a ResourceSpec {
    s.resources
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no resource {name}"))
}

const TREE: &str = r#"name: tree
resources:
  group:
    type: core:Data
    properties: { input: g }
    options:
      protect: true
  child:
    type: core:Data
    properties: { input: c }
    options:
      parent: ${group}
  grandchild:
    type: core:Data
    properties: { input: gc }
    options:
      parent: ${child}
  unprotected:
    type: core:Data
    properties: { input: u }
    options:
      parent: ${group}
      protect: false
  orphan:
    type: core:Data
    properties: { input: o }
"#;

#[test]
fn parent_is_recorded_and_a_dependency() {
    let s = spec(TREE);
    assert_eq!(res(&s, "child").options.parent.as_deref(), Some("group"));
    assert_eq!(
        res(&s, "grandchild").options.parent.as_deref(),
        Some("child")
    );
    assert_eq!(res(&s, "orphan").options.parent, None);
    assert!(
        res(&s, "child")
            .options
            .depends_on
            .contains(&"group".to_string()),
        "{:?}",
        res(&s, "child").options.depends_on
    );
}

#[test]
fn protect_is_inherited_unless_set() {
    let s = spec(TREE);
    assert!(res(&s, "child").options.protect, "child inherits protect");
    assert!(res(&s, "grandchild").options.protect, "through two levels");
    assert!(
        !res(&s, "unprotected").options.protect,
        "its own `false` wins"
    );
    assert!(!res(&s, "orphan").options.protect);
}

#[test]
fn the_parents_provider_is_inherited_by_a_child_of_its_package() {
    let s = spec(
        r#"name: p
resources:
  east:
    type: pulumi:providers:aws
    properties: { region: eu-west-1 }
  main:
    type: aws:kms:Key
    properties: { description: main }
    options:
      provider: ${east}
  replica:
    type: aws:kms:Key
    properties: { description: replica }
    options:
      parent: ${main}
  note:
    type: core:Data
    properties: { input: x }
    options:
      parent: ${main}
"#,
    );
    let replica = res(&s, "replica");
    assert_eq!(
        replica.properties.get("region"),
        Some(&Value::from("eu-west-1")),
        "{:?}",
        replica.properties
    );
    assert!(replica.options.depends_on.contains(&"east".to_string()));
    // Another package: no provider inherited (and no region to take).
    assert!(!res(&s, "note").properties.contains_key("region"));
}

#[test]
fn an_unknown_parent_is_located_with_a_suggestion() {
    let p = errors(
        "name: s\nresources:\n  group:\n    type: core:Data\n  child:\n    type: core:Data\n    options:\n      parent: ${gruop}\n",
    );
    assert_eq!(
        codes(&p),
        vec!["cairn::config::unknown-parent"],
        "{}",
        render(&p)
    );
    let text = render(&p);
    assert!(text.contains("stack.yaml:8:15"), "{text}");
    assert!(text.contains("group"), "did you mean: {text}");
}

#[test]
fn a_parent_that_is_the_resource_itself_is_refused() {
    let p = errors(
        "name: s\nresources:\n  child:\n    type: core:Data\n    options:\n      parent: ${child}\n",
    );
    assert_eq!(
        codes(&p),
        vec!["cairn::config::parent-cycle"],
        "{}",
        render(&p)
    );
    let text = render(&p);
    assert!(text.contains("stack.yaml:6:15"), "{text}");
    assert!(text.contains("help"), "{text}");
}

#[test]
fn a_parent_cycle_is_refused_at_each_member() {
    let p = errors(
        "name: s\nresources:\n  a:\n    type: core:Data\n    options:\n      parent: ${b}\n  b:\n    type: core:Data\n    options:\n      parent: ${a}\n",
    );
    let text = render(&p);
    assert!(
        codes(&p)
            .iter()
            .all(|c| *c == "cairn::config::parent-cycle")
            && !codes(&p).is_empty(),
        "{text}"
    );
    assert!(text.contains("stack.yaml:6:15"), "{text}");
    assert!(
        text.contains("a -> b -> a") || text.contains("b -> a -> b"),
        "{text}"
    );
}

#[test]
fn a_parent_that_is_not_a_reference_is_invalid() {
    let p = errors(
        "name: s\nresources:\n  a:\n    type: core:Data\n  b:\n    type: core:Data\n    options:\n      parent: [a]\n",
    );
    assert_eq!(
        codes(&p),
        vec!["cairn::config::invalid-option"],
        "{}",
        render(&p)
    );
}

#[test]
fn re_parent_aliases_are_read() {
    let s = spec(
        "name: s\nresources:\n  a:\n    type: core:Data\n  b:\n    type: core:Data\n    options:\n      parent: ${a}\n      aliases:\n        - noParent: true\n  c:\n    type: core:Data\n    options:\n      aliases:\n        - parent: ${a}\n",
    );
    assert_eq!(res(&s, "b").options.parent_aliases, vec![None]);
    assert_eq!(
        res(&s, "c").options.parent_aliases,
        vec![Some("a".to_string())]
    );
}
