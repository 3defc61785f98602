//! Issue 13 (AWS fidelity): after IncreaseReplicaCount/DecreaseReplicaCount
//! AWS reports the group `available` while the added member is still
//! `creating` (a removed one `deleting`), and refuses the next modify. The
//! emulator models that lag (`member_lag_ms`); the provider waits for the
//! members before the next step.

use super::*;
use aws_sdk_elasticache::error::ProvideErrorMetadata;
use std::io::{Read, Write};

/// How long members settle after the group reads available.
const LAG_MS: u64 = 1500;

/// `POST /_cairn/config` on the test's emulator.
fn emulator_config(env: &Env, body: serde_json::Value) {
    let port = env
        ._emulator
        .endpoint()
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    let body = body.to_string();
    let mut tcp = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).expect("connect");
    write!(
        tcp,
        "POST /_cairn/config HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("member_lag_ms"), "knob not known: {answer}");
}

/// `(cache cluster id, status)` of every cluster of group `id`, sorted.
async fn member_states(ec: &aws_sdk_elasticache::Client, id: &str) -> Vec<(String, String)> {
    let out = ec.describe_cache_clusters().send().await.unwrap();
    let mut v: Vec<(String, String)> = out
        .cache_clusters()
        .iter()
        .filter(|c| c.replication_group_id() == Some(id))
        .map(|c| {
            (
                c.cache_cluster_id().unwrap_or_default().to_string(),
                c.cache_cluster_status().unwrap_or_default().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn emulator_refuses_a_modify_while_a_new_member_is_creating() {
    let env = setup().await;
    emulator_config(&env, serde_json::json!({"member_lag_ms": LAG_MS}));
    let p = env.p("aws:elasticache:ReplicationGroup");
    let ctx = env.ctx("redis");
    let id = format!("redis-{}", env.tag);
    p.create(&ctx, &small_rg(&id)).await.expect("create");
    let ec = aws_sdk_elasticache::Client::new(&env.sdk_config().await);
    ec.increase_replica_count()
        .replication_group_id(&id)
        .new_replica_count(1)
        .apply_immediately(true)
        .send()
        .await
        .expect("IncreaseReplicaCount");
    wait_rg_available(&ec, &id).await;
    let settled_at = std::time::Instant::now() + Duration::from_millis(LAG_MS);
    // The group is available; its new member is not.
    assert_eq!(
        member_states(&ec, &id).await,
        vec![
            (format!("{id}-001"), "available".to_string()),
            (format!("{id}-002"), "creating".to_string())
        ]
    );
    let err = ec
        .modify_replication_group()
        .replication_group_id(&id)
        .replication_group_description("next step")
        .apply_immediately(true)
        .send()
        .await
        .expect_err("a modify while a member is creating is refused");
    assert_eq!(err.code(), Some("InvalidCacheClusterState"), "{err:?}");
    assert!(
        format!("{:?}", err.message()).contains(&format!("{id}-002")),
        "names the member: {err:?}"
    );
    // Once the lag is over, the member is available and the modify goes through.
    tokio::time::sleep_until(settled_at.into()).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(member_states(&ec, &id)
        .await
        .iter()
        .all(|(_, status)| status == "available"));
    ec.modify_replication_group()
        .replication_group_id(&id)
        .replication_group_description("next step")
        .apply_immediately(true)
        .send()
        .await
        .expect("modify after the members settled");
}

#[tokio::test]
async fn replica_change_waits_for_member_clusters_before_the_next_step() {
    let env = setup().await;
    emulator_config(&env, serde_json::json!({"member_lag_ms": LAG_MS}));
    let p = env.p("aws:elasticache:ReplicationGroup");
    let ctx = env.ctx("redis");
    let id = format!("redis-{}", env.tag);
    let one = small_rg(&id);
    let created = p.create(&ctx, &one).await.expect("create");
    let ec = aws_sdk_elasticache::Client::new(&env.sdk_config().await);

    // Up (new member creating), then down (removed member deleting); each
    // followed by a second ModifyReplicationGroup step (the description).
    let mut two = one.clone();
    two.insert("numCacheClusters".into(), Value::Int(2));
    two.insert("description".into(), "two nodes".into());
    let mut back = one.clone();
    back.insert("description".into(), "one node again".into());
    let mut outputs = created.outputs;
    for (from, to, members) in [(&one, &two, 2usize), (&two, &back, 1)] {
        let (lctx, log) = logged(&ctx);
        let start = std::time::Instant::now();
        outputs = p
            .update(&lctx, &id, from, to, &outputs)
            .await
            .unwrap_or_else(|e| panic!("update to {} members: {e}", members));
        assert!(
            start.elapsed() >= Duration::from_millis(LAG_MS / 2),
            "did not wait for the members: {:?}",
            start.elapsed()
        );
        assert!(
            log.lock().unwrap().iter().any(|m| m.contains("member")),
            "the wait for the members is reported: {:?}",
            log.lock().unwrap()
        );
        let states = member_states(&ec, &id).await;
        assert_eq!(states.len(), members, "{states:?}");
        assert!(states.iter().all(|(_, s)| s == "available"), "{states:?}");
        let rg = ec
            .describe_replication_groups()
            .replication_group_id(&id)
            .send()
            .await
            .unwrap();
        assert_eq!(
            rg.replication_groups()[0].description(),
            to.get("description").and_then(Value::as_str)
        );
    }
}
