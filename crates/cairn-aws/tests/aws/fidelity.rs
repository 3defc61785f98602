//! Issue 13 (AWS fidelity): a cache subnet group still in use right after
//! its replication group is deleted, auth token rotation with an overlap,
//! and removing `authToken`.

use super::*;
use cairn_core::provider::PendingOptions;
use std::io::{Read, Write};

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
}

/// Two subnets in a new VPC.
async fn subnets(env: &Env) -> Vec<String> {
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk_config().await);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.2.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc_id = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    let mut out = Vec::new();
    for (cidr, az) in [
        ("10.2.10.0/24", "us-east-1a"),
        ("10.2.11.0/24", "us-east-1b"),
    ] {
        let s = ec2
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block(cidr)
            .availability_zone(az)
            .send()
            .await
            .unwrap();
        out.push(s.subnet().unwrap().subnet_id().unwrap().to_string());
    }
    out
}

#[tokio::test]
async fn subnet_group_still_in_use_after_its_group_is_deleted_is_retried() {
    let env = setup().await;
    // AWS: the subnet group answers CacheSubnetGroupInUse for a while after
    // the replication group that used it is gone.
    emulator_config(&env, serde_json::json!({"subnet_group_in_use_ms": 1500}));
    let sp = env.p("aws:elasticache:SubnetGroup");
    let rp = env.p("aws:elasticache:ReplicationGroup");
    let ids = subnets(&env).await;
    for (round, lag_ms) in [(0, 1500u64), (1, 6000)] {
        emulator_config(&env, serde_json::json!({"subnet_group_in_use_ms": lag_ms}));
        let sctx = env.ctx(&format!("subnets{round}"));
        let name = format!("subnets-{}-{round}", env.tag);
        let sin = map(serde_json::json!({"name": name, "description": "db", "subnetIds": ids}));
        let sg = sp.create(&sctx, &sin).await.expect("create subnet group");
        let rctx = env.ctx(&format!("redis{round}"));
        let id = format!("redis-{}-{round}", env.tag);
        let mut rin = small_rg(&id);
        rin.insert("subnetGroupName".into(), name.clone().into());
        let rg = rp.create(&rctx, &rin).await.expect("create group");
        rp.delete(&rctx, &id, &rin, &rg.outputs)
            .await
            .expect("delete group");
        let start = std::time::Instant::now();
        if round == 0 {
            // Retried until AWS lets go of it.
            sp.delete(&sctx, &name, &sin, &sg.outputs)
                .await
                .expect("DeleteCacheSubnetGroup retried while in use");
            assert!(
                start.elapsed() >= Duration::from_millis(700),
                "deleted before the emulator let go of it: {:?}",
                start.elapsed()
            );
            assert!(sp.read(&sctx, &name, &sin).await.unwrap().is_none());
        } else {
            // ... but no longer than the delete deadline.
            let mut short = sctx.clone();
            short.timeouts.delete = Some(1);
            let err = sp
                .delete(&short, &name, &sin, &sg.outputs)
                .await
                .expect_err("still in use after the deadline");
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "bounded by the 1s deadline: {:?}",
                start.elapsed()
            );
            assert!(
                format!("{err}").contains("CacheSubnetGroupInUse"),
                "names why: {err}"
            );
        }
    }
}

const TOKEN_A: &str = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6";
const TOKEN_B: &str = "Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6";

#[tokio::test]
async fn auth_token_rotation_keeps_the_old_token_until_a_later_run() {
    let env = setup().await;
    let p = env.p("aws:elasticache:ReplicationGroup");
    let ctx = env.ctx("redis");
    let id = format!("redis-{}", env.tag);
    let mut a = small_rg(&id);
    a.insert("transitEncryptionEnabled".into(), Value::Bool(true));
    a.insert("authToken".into(), TOKEN_A.into());
    let created = p.create(&ctx, &a).await.expect("create");
    let mut b = a.clone();
    b.insert("authToken".into(), TOKEN_B.into());
    let (lctx, log) = logged(&ctx);
    let out = p
        .update(&lctx, &id, &a, &b, &created.outputs)
        .await
        .expect("rotate");
    let modifies = log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.starts_with("modifying: "))
        .count();
    assert_eq!(modifies, 1, "ROTATE only; SET waits for a later run");
    let started = out
        .get("authTokenRotationStartedAt")
        .and_then(Value::as_i64)
        .expect("the rotation start is an output");
    // A refresh still knows (the group carries it), and hides the tag.
    let seen = p.read(&ctx, &id, &b).await.unwrap().unwrap();
    assert_eq!(
        seen.outputs["authTokenRotationStartedAt"],
        Value::Int(started)
    );
    assert!(
        !seen.inputs.contains_key("tags"),
        "{:?}",
        seen.inputs.get("tags")
    );

    // Pending, not due within the overlap (default one day) ...
    let at = |secs: i64, finish_now| PendingOptions {
        now_unix: secs as u64,
        finish_now,
    };
    let pending = p
        .pending_update(&b, &b, &out, &at(started + 60, false))
        .expect("pending");
    assert!(!pending.due);
    assert!(
        pending.reason.contains("still accepted until"),
        "{}",
        pending.reason
    );
    // ... due after it, or at once when asked; a new token supersedes it.
    assert!(
        p.pending_update(&b, &b, &out, &at(started + 86_400, false))
            .unwrap()
            .due
    );
    assert!(
        p.pending_update(&b, &b, &out, &at(started + 60, true))
            .unwrap()
            .due
    );
    assert!(p
        .pending_update(&b, &a, &out, &at(started + 86_400, false))
        .is_none());
    let mut short = b.clone();
    short.insert("authTokenRotationOverlap".into(), "30s".into());
    assert!(
        p.pending_update(&short, &short, &out, &at(started + 31, false))
            .unwrap()
            .due
    );

    // The later run: SET, and the rotation is over.
    let mut fctx = ctx.clone();
    fctx.pending_update = Some(pending.reason);
    let done = p.update(&fctx, &id, &b, &b, &out).await.expect("finish");
    assert!(!done.contains_key("authTokenRotationStartedAt"), "{done:?}");
    let seen = p.read(&ctx, &id, &b).await.unwrap().unwrap();
    assert!(!seen.outputs.contains_key("authTokenRotationStartedAt"));
    assert!(p
        .pending_update(&b, &b, &done, &at(started + 86_400, true))
        .is_none());
}

#[test]
fn removing_the_auth_token_is_a_preview_error() {
    let reg = {
        let clients = Arc::new(AwsClients::lazy(Some("http://127.0.0.1:9")));
        let mut reg = Registry::new();
        register_with(&mut reg, clients);
        reg
    };
    let p = reg.get("aws:elasticache:ReplicationGroup").unwrap();
    let mut with = small_rg("redis-x");
    with.insert("transitEncryptionEnabled".into(), Value::Bool(true));
    with.insert("authToken".into(), TOKEN_A.into());
    let without = {
        let mut m = with.clone();
        m.remove("authToken");
        m
    };
    let failures = p.check_change(&with, &without);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].rule, "aws::elasticache::auth-token-removal");
    assert!(failures[0]
        .help
        .as_deref()
        .unwrap_or("")
        .contains("rotates"));
    assert!(p.check_change(&with, &with).is_empty());
    let mut other = with.clone();
    other.insert("authToken".into(), TOKEN_B.into());
    assert!(
        p.check_change(&with, &other).is_empty(),
        "a new token rotates"
    );
}

#[tokio::test]
async fn set_is_only_accepted_after_rotate() {
    let env = setup().await;
    let p = env.p("aws:elasticache:ReplicationGroup");
    let ctx = env.ctx("redis");
    let id = format!("redis-{}", env.tag);
    let mut a = small_rg(&id);
    a.insert("transitEncryptionEnabled".into(), Value::Bool(true));
    a.insert("authToken".into(), TOKEN_A.into());
    a.insert("authTokenUpdateStrategy".into(), "SET".into());
    let created = p.create(&ctx, &a).await.expect("create");
    // AWS (ModifyReplicationGroup): "SET - allowed only after ROTATE".
    let ec = aws_sdk_elasticache::Client::new(&env.sdk_config().await);
    let err = ec
        .modify_replication_group()
        .replication_group_id(&id)
        .auth_token(TOKEN_B)
        .auth_token_update_strategy(aws_sdk_elasticache::types::AuthTokenUpdateStrategyType::Set)
        .apply_immediately(true)
        .send()
        .await
        .expect_err("SET without a ROTATE first");
    assert_eq!(
        aws_sdk_elasticache::error::ProvideErrorMetadata::code(&err),
        Some("InvalidParameterCombination")
    );
    // `authTokenUpdateStrategy: SET` (no overlap wanted): ROTATE, then SET at once.
    let mut b = a.clone();
    b.insert("authToken".into(), TOKEN_B.into());
    let (lctx, log) = logged(&ctx);
    let out = p
        .update(&lctx, &id, &a, &b, &created.outputs)
        .await
        .expect("SET strategy");
    let modifies = log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.starts_with("modifying: "))
        .count();
    assert_eq!(modifies, 2, "ROTATE, then SET");
    assert!(!out.contains_key("authTokenRotationStartedAt"), "{out:?}");
}
