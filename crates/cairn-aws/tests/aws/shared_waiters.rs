//! Concurrent waiters of one service and operation share one Describe call
//! per interval (#15): N NAT gateways waiting for `available` at once cost
//! about what one costs, not N times as much.

use super::*;

/// Creates `n` private NAT gateways in `subnet` at once; the emulator's
/// `ec2:DescribeNatGateways` count and the clients' waiter count they cost.
async fn create_at_once(env: &Env, subnet: &str, names: &[String]) -> (u64, u64) {
    env._emulator.reset_call_counts().await.unwrap();
    let before = env.clients.describe_calls();
    let mut tasks = Vec::new();
    for name in names {
        let p = env.p("aws:ec2:NatGateway").clone();
        let ctx = env.ctx(name);
        let inputs = p.schema().normalize_inputs(&map(serde_json::json!({
            "subnetId": subnet, "connectivityType": "private", "tags": {"Name": name}
        })));
        tasks.push(tokio::spawn(async move { p.create(&ctx, &inputs).await }));
    }
    for t in tasks {
        let created = t.await.unwrap().expect("create NAT");
        assert!(created.id.starts_with("nat-"), "{}", created.id);
    }
    let calls = env._emulator.call_counts().await.unwrap();
    let describes = calls.get("ec2:DescribeNatGateways").copied().unwrap_or(0);
    (describes, env.clients.describe_calls() - before)
}

#[tokio::test]
async fn concurrent_nat_gateway_waiters_share_one_describe_per_interval() {
    let env = setup().await;
    // Each gateway is `pending` 1.5 s; waiters poll every 10..100 ms.
    env._emulator.set_delay_ms(1500).await.unwrap();
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk_config().await);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.61.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_string();
    let subnet = ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.61.0.0/24")
        .send()
        .await
        .unwrap()
        .subnet()
        .unwrap()
        .subnet_id()
        .unwrap()
        .to_string();
    let (one, one_waiter) = create_at_once(&env, &subnet, &["solo".to_string()]).await;
    assert!(one >= 3, "one waiter polled through pending: {one} calls");
    let names: Vec<String> = (0..6).map(|i| format!("nat{i}")).collect();
    let (six, six_waiter) = create_at_once(&env, &subnet, &names).await;
    // Unshared, six waiters cost about six times one; shared, about one
    // call per interval for all (plus at most one extra round per joiner).
    assert!(
        six <= 2 * one,
        "6 concurrent waiters made {six} DescribeNatGateways calls; one alone made {one}"
    );
    assert!(
        six_waiter <= 2 * one_waiter,
        "waiter describe counter: 6 waiters {six_waiter}, one {one_waiter}"
    );
    // The waited time is counted: describe calls per waited minute exist.
    let rate = cairn_aws::waiter_describe_calls_per_waited_minute()
        .expect("waiters waited, so the rate is known");
    assert!(rate > 0.0, "{rate}");
}
