//! What state remembers once the program no longer says it: `deletedWith`,
//! and `get:` resources (recorded as external, never deleted).

use crate::common::*;
use cairn_core::mem::DATA_TOKEN;
use cairn_core::plan::{apply_deleted_with, plan_destroy, Action, PlanOptions};
use cairn_core::provider::Operation;
use cairn_core::spec::ExternalResource;
use cairn_core::state::StackState;
use serde_json::json;

fn with_member() -> cairn_core::StackSpec {
    let mut member = res("member", DATA_TOKEN, json!({"input": "${cluster.id}"}));
    member.options.deleted_with = Some("cluster".into());
    stack(vec![
        res("cluster", DATA_TOKEN, json!({"input": 1})),
        member,
        res("other", DATA_TOKEN, json!({"input": 2})),
    ])
}

#[tokio::test]
async fn deleted_with_is_honoured_when_both_leave_the_program() {
    let w = World::new();
    let (_, r1, _) = w.up(&with_member(), &StackState::default(), 4).await;
    assert!(r1.ok(), "{r1:?}");
    assert_eq!(
        r1.state.resources["member"].deleted_with.as_deref(),
        Some("cluster"),
        "state records deletedWith"
    );
    // Both removed from the program: only the cluster's delete is called.
    let only_other = stack(vec![res("other", DATA_TOKEN, json!({"input": 2}))]);
    let (p, r2, _) = w.up(&only_other, &r1.state, 4).await;
    let step = p.step("member").expect("member is deleted");
    assert_eq!(step.action, Action::Delete);
    assert_eq!(step.deleted_with.as_deref(), Some("cluster"), "{p:?}");
    assert!(r2.ok(), "{r2:?}");
    assert_eq!(
        w.data.calls(Operation::Delete),
        1,
        "the cluster's delete removes the member; no call of its own"
    );
    let names: Vec<&String> = r2.state.resources.keys().collect();
    assert_eq!(names, ["other"]);
}

#[tokio::test]
async fn a_member_removed_alone_is_deleted_even_with_deleted_with_recorded() {
    let w = World::new();
    let (_, r1, _) = w.up(&with_member(), &StackState::default(), 4).await;
    let without_member = stack(vec![
        res("cluster", DATA_TOKEN, json!({"input": 1})),
        res("other", DATA_TOKEN, json!({"input": 2})),
    ]);
    let (p, r2, _) = w.up(&without_member, &r1.state, 4).await;
    assert_eq!(p.step("member").unwrap().deleted_with, None, "{p:?}");
    assert!(r2.ok(), "{r2:?}");
    assert_eq!(
        w.data.calls(Operation::Delete),
        1,
        "the member's own delete"
    );
}

#[tokio::test]
async fn deleted_with_added_later_is_recorded_without_a_provider_call() {
    let w = World::new();
    let mut plain = with_member();
    plain.resources[1].options.deleted_with = None;
    let (_, r1, _) = w.up(&plain, &StackState::default(), 4).await;
    assert_eq!(r1.state.resources["member"].deleted_with, None);
    let (p, r2, _) = w.up(&with_member(), &r1.state, 4).await;
    assert_eq!(p.step("member").unwrap().action, Action::Same);
    assert!(r2.ok(), "{r2:?}");
    assert_eq!(
        r2.state.resources["member"].deleted_with.as_deref(),
        Some("cluster")
    );
    assert_eq!(w.data.calls(Operation::Update), 0);
    // And a destroy without the program still skips the member's delete.
    let mut d = plan_destroy(&r2.state, &PlanOptions::default());
    apply_deleted_with(&mut d, &cairn_core::StackSpec::new("s"));
    assert_eq!(
        d.step("member").unwrap().deleted_with.as_deref(),
        Some("cluster")
    );
}

fn vpc() -> ExternalResource {
    ExternalResource {
        name: "vpc".into(),
        type_token: DATA_TOKEN.into(),
        id: "vpc-1".into(),
        inputs: map(json!({"input": 1})),
        outputs: map(json!({"output": 1})),
    }
}

#[tokio::test]
async fn a_get_resource_is_recorded_as_external_and_only_forgotten() {
    let w = World::new();
    let mut spec = stack(vec![res("user", DATA_TOKEN, json!({"input": "vpc-1"}))]);
    spec.externals = vec![vpc()];
    let state = StackState::default().with_externals(&spec.externals);
    assert!(state.resources["vpc"].external);
    // While the program reads it, the plan leaves it alone.
    let (p, r1, _) = w.up(&spec, &state, 4).await;
    assert!(p.step("vpc").is_none(), "{p:?}");
    assert!(r1.ok(), "{r1:?}");
    assert!(r1.state.resources["vpc"].external);
    // Read again with other values: the record follows.
    let mut again = vpc();
    again.outputs = map(json!({"output": 2}));
    let refreshed = r1.state.clone().with_externals(&[again]);
    assert_eq!(
        refreshed.resources["vpc"].outputs["output"],
        cairn_core::value::Value::Int(2)
    );
    // Destroy drops the record without a delete call.
    let d = plan_destroy(&r1.state, &PlanOptions::default());
    let (r2, _) = w.apply(&d, None, &r1.state, 4).await;
    assert!(r2.ok(), "{r2:?}");
    assert!(r2.state.resources.is_empty(), "{r2:?}");
    assert_eq!(
        w.data.calls(Operation::Delete),
        1,
        "only `user` is deleted; the external vpc is forgotten"
    );
    // A `get:` the program no longer has: forgotten, not deleted.
    let w = World::new();
    let (_, r3, _) = w.up(&spec, &state, 4).await;
    let (p, r4, _) = w.up(&stack(vec![]), &r3.state, 4).await;
    assert_eq!(p.step("vpc").unwrap().action, Action::Delete);
    assert!(r4.ok(), "{r4:?}");
    assert_eq!(w.data.calls(Operation::Delete), 1, "only `user`");
}
