//! Resource options: `aliases` (rename without replace).

use crate::common::*;
use cairn_core::mem::DATA_TOKEN;
use cairn_core::plan::{
    apply_deleted_with, plan, plan_destroy, Action, PlanOptions, ALIAS_CONFLICT_CODE,
};
use cairn_core::provider::Operation;
use cairn_core::spec::Alias;
use cairn_core::state::StackState;
use cairn_core::value::Value;
use serde_json::json;

fn alias(name: &str) -> Alias {
    Alias {
        name: name.into(),
        type_token: None,
    }
}

fn total_calls(w: &World, op: Operation) -> usize {
    w.data.calls(op) + w.thing.calls(op) + w.fixed.calls(op)
}

#[tokio::test]
async fn alias_rename_keeps_the_id_and_makes_no_create_or_delete() {
    let w = World::new();
    let v1 = stack(vec![
        res("cache", DATA_TOKEN, json!({"input": 1})),
        res("user", DATA_TOKEN, json!({"input": "${cache.id}"})),
    ]);
    let (_, r1, _) = w.up(&v1, &StackState::default(), 4).await;
    assert!(r1.ok(), "{r1:?}");
    let id = r1.state.resources["cache"].id.clone();

    let mut v2 = stack(vec![
        res("redis", DATA_TOKEN, json!({"input": 1})),
        res("user", DATA_TOKEN, json!({"input": "${redis.id}"})),
    ]);
    v2.resources[0].options.aliases = vec![alias("cache")];
    let (p, r2, _) = w.up(&v2, &r1.state, 4).await;
    let step = p.step("redis").expect("a step for the new name");
    assert_eq!(step.action, Action::Same, "{p:?}");
    assert_eq!(step.renamed_from.as_deref(), Some("cache"), "{p:?}");
    assert!(
        p.step("cache").is_none(),
        "no delete of the old name: {p:?}"
    );
    assert_eq!(p.step("user").unwrap().action, Action::Same, "{p:?}");
    assert!(r2.ok(), "{r2:?}");
    assert_eq!(r2.state.resources["redis"].id, id);
    assert_eq!(r2.state.resources["redis"].name, "redis");
    assert!(!r2.state.resources.contains_key("cache"));
    assert_eq!(
        r2.state.resources["user"].dependencies,
        vec!["redis".to_string()]
    );
    assert_eq!(
        total_calls(&w, Operation::Create),
        2,
        "only the first up creates"
    );
    assert_eq!(total_calls(&w, Operation::Delete), 0);
    assert_eq!(total_calls(&w, Operation::Update), 0);
    // Converged, with or without the alias left in place.
    assert!(!w.plan(&v2, &r2.state).has_changes());
    v2.resources[0].options.aliases.clear();
    assert!(!w.plan(&v2, &r2.state).has_changes());
}

#[tokio::test]
async fn alias_rename_with_a_change_is_an_update_of_the_same_object() {
    let w = World::new();
    let v1 = stack(vec![res("old", DATA_TOKEN, json!({"input": 1}))]);
    let (_, r1, _) = w.up(&v1, &StackState::default(), 4).await;
    let mut v2 = stack(vec![res("new", DATA_TOKEN, json!({"input": 2}))]);
    v2.resources[0].options.aliases = vec![alias("old")];
    let (p, r2, _) = w.up(&v2, &r1.state, 4).await;
    assert_eq!(p.step("new").unwrap().action, Action::Update, "{p:?}");
    assert!(r2.ok(), "{r2:?}");
    assert_eq!(r2.state.resources["new"].id, r1.state.resources["old"].id);
    assert_eq!(w.data.calls(Operation::Create), 1);
    assert_eq!(w.data.calls(Operation::Delete), 0);
}

#[test]
fn without_an_alias_a_rename_is_a_create_and_a_delete() {
    let w = World::new();
    let mut state = StackState::default();
    let (_, r1, _) = rt().block_on(w.up(
        &stack(vec![res("old", DATA_TOKEN, json!({"input": 1}))]),
        &state,
        4,
    ));
    state = r1.state;
    let p = w.plan(
        &stack(vec![res("new", DATA_TOKEN, json!({"input": 1}))]),
        &state,
    );
    assert_eq!(p.step("new").unwrap().action, Action::Create);
    assert_eq!(p.step("old").unwrap().action, Action::Delete);
}

#[test]
fn an_alias_of_another_type_does_not_match() {
    let w = World::new();
    let (_, r1, _) = rt().block_on(w.up(
        &stack(vec![res("old", DATA_TOKEN, json!({"input": 1}))]),
        &StackState::default(),
        4,
    ));
    let mut v2 = stack(vec![res("new", DATA_TOKEN, json!({"input": 1}))]);
    v2.resources[0].options.aliases = vec![Alias {
        name: "old".into(),
        type_token: Some("test:Other".into()),
    }];
    let p = w.plan(&v2, &r1.state);
    assert_eq!(p.step("new").unwrap().action, Action::Create, "{p:?}");
}

#[test]
fn two_resources_aliasing_one_record_is_an_error() {
    let w = World::new();
    let mut v = stack(vec![
        res("a", DATA_TOKEN, json!({"input": 1})),
        res("b", DATA_TOKEN, json!({"input": 1})),
    ]);
    v.resources[0].options.aliases = vec![alias("old")];
    v.resources[1].options.aliases = vec![alias("old")];
    let err = plan(
        &v,
        &StackState::default(),
        &w.registry,
        &PlanOptions::default(),
    )
    .expect_err("two aliases of one record");
    assert!(
        err.problems.iter().any(|p| p.code == ALIAS_CONFLICT_CODE),
        "{:?}",
        err.problems
    );
}

#[tokio::test]
async fn a_move_cut_short_is_finished_by_the_next_run() {
    // Both records present (the new one written, the old not yet removed):
    // the next plan drops the old record instead of deleting the object.
    let w = World::new();
    let (_, r1, _) = w
        .up(
            &stack(vec![res("old", DATA_TOKEN, json!({"input": 1}))]),
            &StackState::default(),
            4,
        )
        .await;
    let mut state = r1.state.clone();
    let mut moved = state.resources["old"].clone();
    moved.name = "new".into();
    state.resources.insert("new".into(), moved);
    let mut v2 = stack(vec![res("new", DATA_TOKEN, json!({"input": 1}))]);
    v2.resources[0].options.aliases = vec![alias("old")];
    let (p, r2, _) = w.up(&v2, &state, 4).await;
    assert!(p.step("old").is_none(), "{p:?}");
    assert!(r2.ok(), "{r2:?}");
    assert!(!r2.state.resources.contains_key("old"));
    assert_eq!(w.data.calls(Operation::Delete), 0);
}

#[tokio::test]
async fn replace_on_changes_replaces_on_a_nested_path_only() {
    let w = World::new();
    let v1 = stack(vec![res(
        "t",
        THING,
        json!({"name": "n", "tags": {"env": "dev", "team": "a"}}),
    )]);
    let (_, r1, _) = w.up(&v1, &StackState::default(), 4).await;
    assert!(r1.ok(), "{r1:?}");
    let with = |tags: serde_json::Value, roc: &[&str]| {
        let mut r = res("t", THING, json!({"name": "n", "tags": tags}));
        r.options.replace_on_changes = roc.iter().map(|s| s.to_string()).collect();
        stack(vec![r])
    };
    // Another tag changes: an update.
    let p = w.plan(
        &with(json!({"env": "dev", "team": "b"}), &["tags[\"env\"]"]),
        &r1.state,
    );
    assert_eq!(p.step("t").unwrap().action, Action::Update, "{p:?}");
    // The named tag changes: a replace, with the path as the reason.
    let v2 = with(json!({"env": "prod", "team": "a"}), &["tags.env"]);
    let p = w.plan(&v2, &r1.state);
    let s = p.step("t").unwrap();
    assert_eq!(s.action, Action::Replace, "{p:?}");
    assert_eq!(
        s.replace_paths
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["tags.env"]
    );
    assert!(s.changes.iter().all(|c| c.forces_replace), "{p:?}");
    // `*`: any change replaces.
    let p = w.plan(&with(json!({"env": "dev", "team": "b"}), &["*"]), &r1.state);
    assert_eq!(p.step("t").unwrap().action, Action::Replace, "{p:?}");
    let (_, r2, _) = w.up(&v2, &r1.state, 4).await;
    assert!(r2.ok(), "{r2:?}");
    assert_ne!(r2.state.resources["t"].id, r1.state.resources["t"].id);
    assert_eq!(w.thing.calls(Operation::Create), 2);
}

#[tokio::test]
async fn ignore_changes_takes_nested_paths() {
    let w = World::new();
    let v1 = stack(vec![res(
        "t",
        THING,
        json!({"name": "n", "tags": {"env": "dev", "team": "a"},
               "refs": [{"description": "old", "port": 1}]}),
    )]);
    let (_, r1, _) = w.up(&v1, &StackState::default(), 4).await;
    for ignore in [
        vec!["tags[\"env\"]", "refs[0].description"],
        vec!["tags.env", "refs[0].description"],
    ] {
        let mut r = res(
            "t",
            THING,
            json!({"name": "n", "tags": {"env": "changed-by-a-tool", "team": "a"},
                   "refs": [{"description": "new", "port": 1}]}),
        );
        r.options.ignore_changes = ignore.iter().map(|s| s.to_string()).collect();
        let p = w.plan(&stack(vec![r.clone()]), &r1.state);
        assert_eq!(
            p.step("t").unwrap().action,
            Action::Same,
            "{ignore:?}: {p:?}"
        );
        // A change beside the ignored path still shows, alone.
        r.properties.insert(
            "tags".into(),
            Value::Map(map(json!({"env": "x", "team": "b"}))),
        );
        let p = w.plan(&stack(vec![r]), &r1.state);
        let s = p.step("t").unwrap();
        assert_eq!(s.action, Action::Update, "{p:?}");
        let paths: Vec<String> = s.changes.iter().map(|c| c.path.to_string()).collect();
        assert_eq!(paths, ["tags.team"], "{p:?}");
    }
}

#[tokio::test]
async fn additional_secret_outputs_are_recorded_secret() {
    let w = World::new();
    let mut r = res("t", THING, json!({"name": "n", "input": "visible"}));
    r.options.additional_secret_outputs = vec!["output".into()];
    let (_, r1, _) = w.up(&stack(vec![r]), &StackState::default(), 4).await;
    assert!(r1.ok(), "{r1:?}");
    let out = &r1.state.resources["t"].outputs["output"];
    assert!(out.is_secret(), "{out:?}");
    assert_eq!(out.display_masked(), "[secret]");
}

#[tokio::test]
async fn deleted_with_skips_the_delete_call_when_both_go() {
    let w = World::new();
    let mut member = res("member", DATA_TOKEN, json!({"input": "${cluster.id}"}));
    member.options.deleted_with = Some("cluster".into());
    let spec = stack(vec![
        res("cluster", DATA_TOKEN, json!({"input": 1})),
        member,
        res("other", DATA_TOKEN, json!({"input": 2})),
    ]);
    let (_, r1, _) = w.up(&spec, &StackState::default(), 4).await;
    assert!(r1.ok(), "{r1:?}");
    let mut d = plan_destroy(&r1.state, &PlanOptions::default());
    apply_deleted_with(&mut d, &spec);
    assert_eq!(
        d.step("member").unwrap().deleted_with.as_deref(),
        Some("cluster")
    );
    assert_eq!(d.step("other").unwrap().deleted_with, None);
    let (r2, _) = w.apply(&d, None, &r1.state, 4).await;
    assert!(r2.ok(), "{r2:?}");
    assert!(r2.state.resources.is_empty(), "{r2:?}");
    assert_eq!(
        w.data.calls(Operation::Delete),
        2,
        "cluster and other are deleted; member goes with cluster"
    );

    // Destroying only the member (cluster stays): its delete is made.
    let (_, r3, _) = w.up(&spec, &StackState::default(), 4).await;
    let mut d = plan_destroy(
        &r3.state,
        &PlanOptions {
            targets: vec!["member".into()],
            ..Default::default()
        },
    );
    apply_deleted_with(&mut d, &spec);
    assert_eq!(d.step("member").unwrap().deleted_with, None, "{d:?}");
    let (r4, _) = w.apply(&d, None, &r3.state, 4).await;
    assert!(r4.ok(), "{r4:?}");
    assert_eq!(w.data.calls(Operation::Delete), 3);
}

#[test]
fn deleted_with_an_unknown_resource_is_an_error() {
    let w = World::new();
    let mut r = res("a", DATA_TOKEN, json!({"input": 1}));
    r.options.deleted_with = Some("nope".into());
    let err = plan(
        &stack(vec![r]),
        &StackState::default(),
        &w.registry,
        &PlanOptions::default(),
    )
    .expect_err("unknown deletedWith");
    assert!(
        err.problems
            .iter()
            .any(|p| p.code == cairn_core::plan::DELETED_WITH_UNKNOWN_CODE),
        "{:?}",
        err.problems
    );
}
