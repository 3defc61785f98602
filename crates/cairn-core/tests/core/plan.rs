use crate::common::*;
use cairn_core::diag::Problems;
use cairn_core::mem::MemoryProvider;
use cairn_core::mem::DATA_TOKEN;
use cairn_core::plan::{
    plan, plan_destroy, Action, ChangeKind, Plan, PlanOptions, PARTIAL_CODE, PROTECTED_CODE,
    PROTECTED_DELETE_CODE, PROTECTED_REPLACE_CODE, REPLACE_DEPENDENT_CODE, TARGET_DEPENDENCY_CODE,
    UNKNOWN_TARGET_CODE, UNKNOWN_TYPE_CODE,
};
use cairn_core::schema::{OutputSchema, PropType, PropertySchema, ResourceSchema};
use cairn_core::state::{ResourceState, StackState};
use cairn_core::value::{PropertyPath, Value};
use cairn_core::StackSpec;
use serde_json::json;

fn state_of(resources: Vec<ResourceState>) -> StackState {
    StackState {
        resources: resources.into_iter().map(|r| (r.name.clone(), r)).collect(),
        outputs: Default::default(),
    }
}

fn recorded(
    name: &str,
    token: &str,
    inputs: serde_json::Value,
    outputs: serde_json::Value,
) -> ResourceState {
    ResourceState {
        name: name.into(),
        type_token: token.into(),
        id: format!("{name}-1"),
        inputs: map(inputs),
        outputs: map(outputs),
        dependencies: vec![],
        protect: false,
        retain_on_delete: false,
        imported: false,
        ..Default::default()
    }
}

fn plan_err(w: &World, spec: &StackSpec, state: &StackState, opts: &PlanOptions) -> Problems {
    match plan(spec, state, &w.registry, opts) {
        Ok(p) => panic!("expected problems, got {p:?}"),
        Err(e) => e,
    }
}

fn actions(p: &Plan) -> Vec<(String, Action)> {
    p.steps.iter().map(|s| (s.name.clone(), s.action)).collect()
}

#[test]
fn fresh_stack_creates_in_dependency_order_with_unknowns() {
    let w = World::new();
    let spec = stack(vec![
        res(
            "b",
            THING,
            json!({"name": "b", "input": "${a.id}", "refs": ["x-${a.output}"]}),
        ),
        res("a", DATA_TOKEN, json!({"input": 5})),
    ]);
    let p = w.plan(&spec, &StackState::default());
    assert_eq!(
        actions(&p),
        vec![("a".into(), Action::Create), ("b".into(), Action::Create)]
    );
    let b = p.step("b").unwrap();
    let inputs = b.new_inputs.as_ref().unwrap();
    assert_eq!(inputs["input"], Value::Unknown);
    assert_eq!(inputs["refs"], Value::List(vec![Value::Unknown]));
    // Defaults from the schema are filled in.
    assert_eq!(inputs["size"], Value::Int(1));
    assert_eq!(b.dependencies, vec!["a".to_string()]);
    assert_eq!(p.summary().line(), "+2 ~0 -0 ±0");
    assert!(p.has_changes());
    assert!(!p.partial);
}

#[test]
fn references_resolve_against_unchanged_outputs() {
    let w = World::new();
    let spec = stack(vec![
        res("a", DATA_TOKEN, json!({"input": 6379})),
        res(
            "b",
            THING,
            json!({"name": "b", "input": "${a.output}", "refs": ["host:${a.output}", "${a.token}", "${a.missing}"]}),
        ),
    ]);
    let mut a = recorded(
        "a",
        DATA_TOKEN,
        json!({"input": 6379}),
        json!({"output": 6379, "id": "a-1"}),
    );
    a.outputs.insert("token".into(), Value::secret("s3cr3t"));
    let p = w.plan(&spec, &state_of(vec![a]));
    let inputs = p.step("b").unwrap().new_inputs.clone().unwrap();
    // A whole-string reference keeps the output's type.
    assert_eq!(inputs["input"], Value::Int(6379));
    let refs = inputs["refs"].as_list().unwrap();
    assert_eq!(refs[0], Value::String("host:6379".into()));
    // A reference to a secret output is secret.
    assert_eq!(refs[1], Value::secret("s3cr3t"));
    assert_eq!(refs[2], Value::Null);
}

#[test]
fn interpolating_a_secret_makes_the_string_secret() {
    let w = World::new();
    let spec = stack(vec![
        res("a", DATA_TOKEN, json!({"input": 1})),
        res(
            "b",
            DATA_TOKEN,
            json!({"input": {"url": "redis://:${a.token}@host"}}),
        ),
    ]);
    let mut a = recorded("a", DATA_TOKEN, json!({"input": 1}), json!({"output": 1}));
    a.outputs.insert("token".into(), Value::secret("pw"));
    let p = w.plan(&spec, &state_of(vec![a]));
    let input = &p.step("b").unwrap().new_inputs.as_ref().unwrap()["input"];
    assert_eq!(
        input.as_map().unwrap()["url"],
        Value::secret("redis://:pw@host")
    );
    let json = p.to_json().to_string();
    assert!(!json.contains("pw@"), "{json}");
    let debug = format!("{p:?}");
    assert!(!debug.contains("pw@"), "{debug}");
}

#[test]
fn diff_is_property_level_and_replaces_on_schema_paths() {
    let w = World::new();
    let old = recorded(
        "t",
        THING,
        json!({"name": "n1", "size": 1, "tags": {"a": "1", "b": "2"}, "config": {"engine": "7.0", "level": 1}}),
        json!({}),
    );
    // Only a non-replacing nested change: update.
    let spec = stack(vec![res(
        "t",
        THING,
        json!({"name": "n1", "tags": {"a": "1", "c": "3"}, "config": {"engine": "7.0", "level": 2}}),
    )]);
    let p = w.plan(&spec, &state_of(vec![old.clone()]));
    let s = p.step("t").unwrap();
    assert_eq!(s.action, Action::Update);
    let changes: Vec<(String, ChangeKind, bool)> = s
        .changes
        .iter()
        .map(|c| (c.path.to_string(), c.kind, c.forces_replace))
        .collect();
    assert_eq!(
        changes,
        vec![
            ("config.level".into(), ChangeKind::Modify, false),
            ("tags.b".into(), ChangeKind::Remove, false),
            ("tags.c".into(), ChangeKind::Add, false),
        ]
    );
    assert!(s.replace_paths.is_empty());

    // A nested replace-on-change property: replace, and its path is named.
    let spec = stack(vec![res(
        "t",
        THING,
        json!({"name": "n1", "tags": {"a": "1", "b": "2"}, "config": {"engine": "7.1", "level": 1}}),
    )]);
    let p = w.plan(&spec, &state_of(vec![old.clone()]));
    let s = p.step("t").unwrap();
    assert_eq!(s.action, Action::Replace);
    assert_eq!(
        s.replace_paths,
        vec![PropertyPath::key("config").child("engine")]
    );
    assert!(!s.delete_before_replace);
    assert_eq!(p.summary().line(), "+0 ~0 -0 ±1");

    // A type change replaces.
    let spec = stack(vec![res("t", DATA_TOKEN, json!({"input": 1}))]);
    let p = w.plan(&spec, &state_of(vec![old]));
    assert_eq!(p.step("t").unwrap().action, Action::Replace);
}

#[test]
fn lists_diff_element_wise_or_as_a_whole() {
    let w = World::new();
    let old = recorded("t", THING, json!({"size": 1, "refs": [1, 2, 3]}), json!({}));
    let spec = stack(vec![res("t", THING, json!({"refs": [1, 5, 3]}))]);
    let s = w.plan(&spec, &state_of(vec![old.clone()])).steps.remove(0);
    assert_eq!(s.changes.len(), 1);
    assert_eq!(s.changes[0].path.to_string(), "refs[1]");
    let spec = stack(vec![res("t", THING, json!({"refs": [1, 2]}))]);
    let s = w.plan(&spec, &state_of(vec![old])).steps.remove(0);
    assert_eq!(s.changes.len(), 1);
    assert_eq!(s.changes[0].path.to_string(), "refs");
    assert_eq!(s.changes[0].kind, ChangeKind::Modify);
}

#[test]
fn provider_extra_replace_paths_force_replacement() {
    let w = World::with(|p| {
        p.with_replace_rule(|old, new| {
            let (o, n) = (
                old.get("input").and_then(Value::as_i64),
                new.get("input").and_then(Value::as_i64),
            );
            match (o, n) {
                (Some(o), Some(n)) if n < o => vec![PropertyPath::key("input")],
                _ => vec![],
            }
        })
    });
    let old = recorded("d", DATA_TOKEN, json!({"input": 5}), json!({}));
    let up = stack(vec![res("d", DATA_TOKEN, json!({"input": 6}))]);
    assert_eq!(
        w.plan(&up, &state_of(vec![old.clone()])).steps[0].action,
        Action::Update
    );
    let down = stack(vec![res("d", DATA_TOKEN, json!({"input": 4}))]);
    let s = w.plan(&down, &state_of(vec![old])).steps.remove(0);
    assert_eq!(s.action, Action::Replace);
    assert_eq!(s.replace_paths, vec![PropertyPath::key("input")]);
    assert!(s.changes[0].forces_replace);
}

#[test]
fn unknowns_propagate_from_replaced_and_updated_resources() {
    let w = World::new();
    let state = state_of(vec![
        recorded(
            "a",
            THING,
            json!({"name": "a1", "size": 1}),
            json!({"id": "a-1", "output": null}),
        ),
        recorded(
            "b",
            THING,
            json!({"name": "b", "size": 1, "input": "a-1"}),
            json!({"id": "b-1"}),
        ),
        recorded(
            "c",
            THING,
            json!({"name": "c-a-1", "size": 1}),
            json!({"id": "c-1"}),
        ),
        ResourceState {
            // As the last apply recorded it: d read b.
            dependencies: vec!["b".into()],
            ..recorded(
                "d",
                THING,
                json!({"name": "d", "size": 1, "input": "b-1"}),
                json!({"id": "d-1"}),
            )
        },
        recorded(
            "e",
            THING,
            json!({"name": "e", "size": 1}),
            json!({"id": "e-1"}),
        ),
    ]);
    let spec = stack(vec![
        // a is replaced (name changes): its outputs become unknown.
        res("a", THING, json!({"name": "a2"})),
        // b references a.id in a non-replacing property: update.
        res("b", THING, json!({"name": "b", "input": "${a.id}"})),
        // c interpolates a.id into a replacing property: replace.
        res("c", THING, json!({"name": "c-${a.id}"})),
        // d references b's id; an in-place update keeps it: same.
        res("d", THING, json!({"name": "d", "input": "${b.id}"})),
        // e is untouched.
        res("e", THING, json!({"name": "e"})),
    ]);
    let p = w.plan(&spec, &state);
    assert_eq!(
        actions(&p),
        vec![
            ("a".into(), Action::Replace),
            ("b".into(), Action::Update),
            ("c".into(), Action::Replace),
            ("d".into(), Action::Same),
            ("e".into(), Action::Same),
        ]
    );
    let c = p.step("c").unwrap();
    assert_eq!(c.new_inputs.as_ref().unwrap()["name"], Value::Unknown);
    assert_eq!(c.replace_paths, vec![PropertyPath::key("name")]);
    let b = p.step("b").unwrap();
    assert_eq!(b.changes[0].new, Some(Value::Unknown));
    assert_eq!(p.summary().line(), "+0 ~1 -0 ±2");
    assert_eq!(p.summary().same, 2);
}

#[test]
fn ignore_changes_keeps_recorded_values() {
    let w = World::new();
    let old = recorded(
        "t",
        THING,
        json!({"name": "n", "size": 1, "tags": {"a": "1"}}),
        json!({}),
    );
    let mut r = res(
        "t",
        THING,
        json!({"name": "n", "size": 1, "tags": {"a": "2"}, "input": 3}),
    );
    r.options.ignore_changes = vec!["tags".into(), "input".into()];
    let p = w.plan(&stack(vec![r.clone()]), &state_of(vec![old.clone()]));
    let s = p.step("t").unwrap();
    assert_eq!(s.action, Action::Same);
    assert_eq!(
        s.new_inputs.as_ref().unwrap()["tags"],
        Value::Map(map(json!({"a": "1"})))
    );
    assert!(!s.new_inputs.as_ref().unwrap().contains_key("input"));
    // Changes elsewhere still show.
    r.properties.insert("size".into(), Value::Int(2));
    let p = w.plan(&stack(vec![r]), &state_of(vec![old]));
    let s = p.step("t").unwrap();
    assert_eq!(s.action, Action::Update);
    assert_eq!(s.changes.len(), 1);
    assert_eq!(s.changes[0].path.to_string(), "size");
}

#[test]
fn deleting_a_protected_resource_is_an_error() {
    let w = World::new();
    let mut gone = recorded("gone", THING, json!({"size": 1}), json!({}));
    gone.protect = true;
    let keep = recorded("keep", THING, json!({"size": 1}), json!({}));
    let spec = stack(vec![res("keep", THING, json!({}))]);
    let err = plan_err(
        &w,
        &spec,
        &state_of(vec![gone, keep]),
        &PlanOptions::default(),
    );
    let p = err.errors().next().unwrap();
    assert_eq!(p.code, PROTECTED_DELETE_CODE);
    assert!(p.message.contains("`gone`"));
    assert!(p
        .help
        .as_deref()
        .unwrap()
        .starts_with("set options.protect: false first"));
}

#[test]
fn unprotected_deletes_come_last_in_reverse_dependency_order() {
    let w = World::new();
    let a = recorded("a", THING, json!({"size": 1}), json!({}));
    let mut b = recorded("b", THING, json!({"size": 1}), json!({}));
    b.dependencies = vec!["a".into()];
    let mut c = recorded("c", THING, json!({"size": 1}), json!({}));
    c.dependencies = vec!["b".into()];
    let spec = stack(vec![res("z", THING, json!({}))]);
    let p = w.plan(&spec, &state_of(vec![a, b, c]));
    assert_eq!(
        actions(&p),
        vec![
            ("z".into(), Action::Create),
            ("c".into(), Action::Delete),
            ("b".into(), Action::Delete),
            ("a".into(), Action::Delete),
        ]
    );
    assert_eq!(p.summary().line(), "+1 ~0 -3 ±0");
}

#[test]
fn replacing_a_protected_resource_is_an_error() {
    let w = World::new();
    let old = recorded("t", THING, json!({"name": "a", "size": 1}), json!({}));
    let mut r = res("t", THING, json!({"name": "b"}));
    r.options.protect = true;
    let mut old_p = old.clone();
    old_p.protect = true;
    let err = plan_err(
        &w,
        &stack(vec![r]),
        &state_of(vec![old_p]),
        &PlanOptions::default(),
    );
    assert_eq!(err.errors().next().unwrap().code, PROTECTED_REPLACE_CODE);
    // Turning protection on alone is an update without property changes.
    let mut r = res("t", THING, json!({"name": "a"}));
    r.options.protect = true;
    let p = w.plan(&stack(vec![r]), &state_of(vec![old]));
    let s = p.step("t").unwrap();
    assert_eq!(s.action, Action::Update);
    assert!(s.changes.is_empty());
    assert!(s.protect);
}

#[test]
fn fixed_names_and_the_option_delete_before_replace() {
    let w = World::new();
    let state = state_of(vec![
        recorded("f", FIXED, json!({"name": "a"}), json!({})),
        recorded("t", THING, json!({"name": "a", "size": 1}), json!({})),
    ]);
    let mut t = res("t", THING, json!({"name": "b"}));
    t.options.delete_before_replace = true;
    let spec = stack(vec![res("f", FIXED, json!({"name": "b"})), t]);
    let p = w.plan(&spec, &state);
    assert!(p.step("f").unwrap().delete_before_replace);
    assert!(p.step("t").unwrap().delete_before_replace);
}

#[test]
fn import_without_state_is_an_import_step() {
    let w = World::new();
    let mut r = res("r", DATA_TOKEN, json!({"input": 1}));
    r.options.import = Some("r-1".into());
    let p = w.plan(&stack(vec![r]), &StackState::default());
    let s = p.step("r").unwrap();
    assert_eq!(s.action, Action::Import);
    assert_eq!(s.import_id.as_deref(), Some("r-1"));
    assert!(s.protect);
    assert_eq!(p.summary().import, 1);
}

#[test]
fn unknown_type_is_reported() {
    let w = World::new();
    let err = plan_err(
        &w,
        &stack(vec![res("x", "aws:nope:Thing", json!({}))]),
        &StackState::default(),
        &PlanOptions::default(),
    );
    assert_eq!(err.errors().next().unwrap().code, UNKNOWN_TYPE_CODE);
}

fn chain_spec() -> StackSpec {
    stack(vec![
        res("a", DATA_TOKEN, json!({"input": 1})),
        res("b", DATA_TOKEN, json!({"input": "${a.output}"})),
        res("c", DATA_TOKEN, json!({"input": "${b.output}"})),
        res("x", DATA_TOKEN, json!({"input": 9})),
    ])
}

#[test]
fn target_plans_only_the_target_and_needs_its_dependencies() {
    let w = World::new();
    let spec = chain_spec();
    let opts = PlanOptions {
        targets: vec!["b".into()],
        excludes: vec![],
    };
    let err = plan_err(&w, &spec, &StackState::default(), &opts);
    let p = err.errors().next().unwrap();
    assert_eq!(p.code, TARGET_DEPENDENCY_CODE);
    assert!(p.message.contains("`a`"));

    let state = state_of(vec![recorded(
        "a",
        DATA_TOKEN,
        json!({"input": 1}),
        json!({"output": 1}),
    )]);
    let p = plan(&spec, &state, &w.registry, &opts).unwrap();
    assert_eq!(actions(&p), vec![("b".into(), Action::Create)]);
    assert_eq!(
        p.step("b").unwrap().new_inputs.as_ref().unwrap()["input"],
        Value::Int(1)
    );
    assert!(p.partial);
    assert_eq!(p.warnings[0].code, PARTIAL_CODE);
    assert!(p.warnings[0].warning);

    let bad = PlanOptions {
        targets: vec!["nope".into()],
        excludes: vec![],
    };
    let err = plan_err(&w, &spec, &state, &bad);
    assert_eq!(err.errors().next().unwrap().code, UNKNOWN_TARGET_CODE);
}

#[test]
fn exclude_skips_the_resource_and_its_dependents() {
    let w = World::new();
    let opts = PlanOptions {
        targets: vec![],
        excludes: vec!["b".into()],
    };
    let p = plan(&chain_spec(), &StackState::default(), &w.registry, &opts).unwrap();
    assert_eq!(
        actions(&p),
        vec![("a".into(), Action::Create), ("x".into(), Action::Create)]
    );
    assert!(p.partial);
    assert!(p.warnings.iter().any(|w| w.code == PARTIAL_CODE));
}

#[test]
fn plan_outputs_are_resolved_where_known() {
    let w = World::new();
    let mut spec = chain_spec();
    spec.output("first", "${a.output}");
    spec.output("last", "${c.output}");
    spec.output("literal", 3);
    let state = state_of(vec![recorded(
        "a",
        DATA_TOKEN,
        json!({"input": 1}),
        json!({"output": 1}),
    )]);
    let p = w.plan(&spec, &state);
    assert_eq!(p.outputs["first"], Value::Int(1));
    assert_eq!(p.outputs["last"], Value::Unknown);
    assert_eq!(p.outputs["literal"], Value::Int(3));
}

#[test]
fn destroy_plans_reverse_order_and_keeps_protected() {
    let mut a = recorded("a", THING, json!({}), json!({}));
    a.protect = true;
    let b = recorded("b", THING, json!({}), json!({}));
    let mut c = recorded("c", THING, json!({}), json!({}));
    c.dependencies = vec!["b".into()];
    let mut d = recorded("d", THING, json!({}), json!({}));
    d.dependencies = vec!["a".into(), "c".into()];
    let state = state_of(vec![a, b, c, d]);
    let p = plan_destroy(&state, &PlanOptions::default());
    // a is protected: a stays, and so does nothing else (a depends on nothing).
    assert_eq!(
        actions(&p),
        vec![
            ("d".into(), Action::Delete),
            ("c".into(), Action::Delete),
            ("b".into(), Action::Delete),
        ]
    );
    assert_eq!(p.warnings.len(), 1);
    assert_eq!(p.warnings[0].code, PROTECTED_CODE);
    assert!(!p.partial);

    // Targeting b also destroys what depends on it; excluding c keeps b.
    let t = plan_destroy(
        &state,
        &PlanOptions {
            targets: vec!["b".into()],
            excludes: vec![],
        },
    );
    assert_eq!(
        actions(&t).into_iter().map(|(n, _)| n).collect::<Vec<_>>(),
        vec!["d", "c", "b"]
    );
    assert!(t.partial);
    let x = plan_destroy(
        &state,
        &PlanOptions {
            targets: vec![],
            excludes: vec!["c".into()],
        },
    );
    assert_eq!(
        actions(&x).into_iter().map(|(n, _)| n).collect::<Vec<_>>(),
        vec!["d"]
    );
}

#[test]
fn plan_json_snapshot() {
    let w = World::new();
    let state = state_of(vec![
        recorded(
            "key",
            DATA_TOKEN,
            json!({"input": "kms"}),
            json!({"output": "kms", "id": "key-1"}),
        ),
        recorded(
            "rg",
            THING,
            json!({"name": "redis", "size": 1, "password": {"t": "x"}, "tags": {"env": "dev"}}),
            json!({"id": "rg-1"}),
        ),
        recorded("old", DATA_TOKEN, json!({"input": 1}), json!({})),
    ]);
    let mut state = state;
    state
        .resources
        .get_mut("rg")
        .unwrap()
        .inputs
        .insert("password".into(), Value::secret("old-pw"));
    let mut spec = stack(vec![
        res("key", DATA_TOKEN, json!({"input": "kms"})),
        res(
            "rg",
            THING,
            json!({"name": "redis", "password": "new-pw", "tags": {"env": "prod"}, "input": "${key.output}"}),
        ),
        res(
            "secret",
            THING,
            json!({"name": "s-${rg.id}", "password": "${rg.token}"}),
        ),
    ]);
    spec.output("endpoint", "${rg.id}:6379");
    spec.output("key", "${key.id}");
    let p = w.plan(&spec, &state);
    let json = p.to_json();
    let text = json.to_string();
    assert!(
        !text.contains("new-pw") && !text.contains("old-pw"),
        "{text}"
    );
    insta::assert_json_snapshot!("plan_json", json);
}

#[test]
fn debug_output_masks_secrets() {
    let w = World::new();
    let spec = stack(vec![res(
        "t",
        THING,
        json!({"name": "n", "password": "hunter2"}),
    )]);
    let p = w.plan(&spec, &StackState::default());
    let debug = format!("{p:?}");
    assert!(debug.contains("[secret]"), "{debug}");
    assert!(!debug.contains("hunter2"), "{debug}");
}

#[test]
fn ten_thousand_resources_plan_quickly() {
    let w = World::new();
    let n = 10_000;
    let mut resources = Vec::with_capacity(n);
    let mut state = StackState::default();
    for i in 0..n {
        // Every tenth resource starts a chain of ten.
        let input = if i % 100 < 10 && i % 100 > 0 {
            Value::String(format!("${{r{}.output}}", i - 1))
        } else {
            Value::Int(i as i64)
        };
        let mut props = cairn_core::Map::new();
        props.insert("input".into(), input);
        resources.push(cairn_core::ResourceSpec::new(
            &format!("r{i}"),
            DATA_TOKEN,
            props,
        ));
    }
    // Record state as if applied: outputs mirror the resolved input.
    let mut outputs: Vec<Value> = Vec::with_capacity(n);
    for i in 0..n {
        let v = if i % 100 < 10 && i % 100 > 0 {
            outputs[i - 1].clone()
        } else {
            Value::Int(i as i64)
        };
        outputs.push(v.clone());
        let mut r = recorded(&format!("r{i}"), DATA_TOKEN, json!({}), json!({}));
        r.inputs.insert("input".into(), v.clone());
        r.outputs.insert("output".into(), v);
        if i % 100 < 10 && i % 100 > 0 {
            r.dependencies = vec![format!("r{}", i - 1)];
        }
        state.resources.insert(r.name.clone(), r);
    }
    let spec = stack(resources);
    // Speed is a benchmark target (`cargo xtask bench`: the no-op preview).
    let p = w.plan(&spec, &state);
    assert_eq!(p.steps.len(), n);
    assert!(!p.has_changes(), "{:?}", p.summary());
}

#[test]
fn targeted_replace_must_take_its_dependents_along() {
    let w = World::new();
    let a = recorded(
        "a",
        THING,
        json!({"name": "one", "size": 1}),
        json!({"id": "a-1"}),
    );
    let mut b = recorded(
        "b",
        THING,
        json!({"name": "b", "size": 1, "input": "a-1"}),
        json!({}),
    );
    b.dependencies = vec!["a".into()];
    let state = state_of(vec![a, b]);
    let spec = stack(vec![
        res("a", THING, json!({"name": "two"})),
        res("b", THING, json!({"name": "b", "input": "${a.id}"})),
    ]);
    let only_a = PlanOptions {
        targets: vec!["a".into()],
        excludes: vec![],
    };
    let err = plan_err(&w, &spec, &state, &only_a);
    let p = err.errors().next().unwrap();
    assert_eq!(p.code, REPLACE_DEPENDENT_CODE);
    assert!(p.message.contains("`b`"), "{}", p.message);
    assert!(p.help.as_deref().unwrap().contains("--target b"));
    let both = PlanOptions {
        targets: vec!["a".into(), "b".into()],
        excludes: vec![],
    };
    let p = plan(&spec, &state, &w.registry, &both).unwrap();
    assert_eq!(
        actions(&p),
        vec![("a".into(), Action::Replace), ("b".into(), Action::Update)]
    );
}

/// A replacing property whose absence means a known value (AWS `region`:
/// the run's) compares equal to that value: no replace, no update.
#[test]
fn absent_and_its_meaning_compare_equal() {
    const ZONED: &str = "test:Zoned";
    let schema = ResourceSchema::new(ZONED, "A zoned thing.")
        .property(
            PropertySchema::new("zone", PropType::string())
                .replaces()
                .absent_means(Value::String("a".into())),
        )
        .property(PropertySchema::new("input", PropType::Any))
        .output(OutputSchema::new("id", "Physical id."));
    let mut w = World::new();
    w.registry
        .register(std::sync::Arc::new(MemoryProvider::new(schema)));
    let case = |old: serde_json::Value, new: serde_json::Value| {
        let state = state_of(vec![recorded("z", ZONED, old, json!({"id": "z-1"}))]);
        let p = w.plan(&stack(vec![res("z", ZONED, new)]), &state);
        let step = p.step("z").expect("step").clone();
        (step.action, step.new_inputs.expect("inputs"))
    };
    let (action, _) = case(json!({"input": 1}), json!({"input": 1, "zone": "a"}));
    assert_eq!(action, Action::Same, "absent → its meaning");
    let (action, inputs) = case(json!({"input": 1, "zone": "a"}), json!({"input": 1}));
    assert_eq!(action, Action::Same, "its meaning → absent");
    assert_eq!(
        inputs.get("zone"),
        Some(&Value::String("a".into())),
        "the recorded value is kept"
    );
    let (action, _) = case(json!({"input": 1}), json!({"input": 1, "zone": "b"}));
    assert_eq!(action, Action::Replace, "absent → another value");
    let (action, _) = case(json!({"input": 1, "zone": "b"}), json!({"input": 1}));
    assert_eq!(action, Action::Replace, "another value → absent");
}
