//! Batched reads: refresh reads many resources of a type per Describe call
//! (filtered by id, so one gone id does not fail the call), and a batched
//! read reports exactly what the single read does.

use super::*;
use cairn_core::drift::refresh_with;
use cairn_core::provider::ReadRequest;
use cairn_core::state::{ResourceState, StackState};

async fn ec2(env: &Env) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&env.sdk_config().await)
}

async fn vpc(ec2: &aws_sdk_ec2::Client, cidr: &str) -> String {
    ec2.create_vpc()
        .cidr_block(cidr)
        .send()
        .await
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_string()
}

fn recorded(token: &str, name: &str, id: &str, inputs: Map) -> ResourceState {
    ResourceState {
        name: name.to_string(),
        type_token: token.to_string(),
        id: id.to_string(),
        inputs,
        outputs: Map::new(),
        dependencies: Vec::new(),
        protect: false,
        retain_on_delete: false,
        imported: false,
        ..Default::default()
    }
}

async fn describe_calls(env: &Env, api: &str) -> u64 {
    let calls = env._emulator.call_counts().await.unwrap();
    calls.get(api).copied().unwrap_or(0)
}

/// Single and batched reads of `created` (name, id, inputs; ids distinct)
/// agree, the batch in one call; an id that is gone is left out, as
/// `read`'s `None`.
async fn single_equals_batched(
    env: &Env,
    token: &str,
    api: &str,
    created: &[(String, String, Map)],
    gone: &str,
) {
    let p = env.p(token);
    assert!(p.read_batch_limit().is_some(), "{token} has no batch read");
    let mut reqs: Vec<ReadRequest> = created
        .iter()
        .map(|(name, id, inputs)| ReadRequest {
            ctx: env.ctx(name),
            id: id.clone(),
            inputs: inputs.clone(),
        })
        .collect();
    reqs.push(ReadRequest {
        ctx: env.ctx("gone"),
        id: gone.to_string(),
        inputs: Map::new(),
    });
    env._emulator.reset_call_counts().await.unwrap();
    let batched = p.read_many(&reqs).await.expect("batched read");
    assert_eq!(
        describe_calls(env, api).await,
        1,
        "{token}: one {api} for the batch"
    );
    assert!(
        !batched.contains_key(gone),
        "{token}: a gone id reads as gone"
    );
    assert_eq!(batched.len(), created.len(), "{token}: {batched:?}");
    for r in &reqs[..reqs.len() - 1] {
        let single = p.read(&r.ctx, &r.id, &r.inputs).await.unwrap();
        assert!(single.is_some(), "{token} {} exists", r.id);
        assert_eq!(batched.get(&r.id), single.as_ref(), "{token} {}", r.id);
    }
    assert_eq!(
        p.read(&env.ctx("gone"), gone, &Map::new()).await.unwrap(),
        None
    );
    // A bare import (no inputs) of each reads the same both ways too.
    let bare: Vec<ReadRequest> = reqs
        .iter()
        .map(|r| ReadRequest {
            inputs: Map::new(),
            ..r.clone()
        })
        .collect();
    let batched = p.read_many(&bare).await.expect("batched read");
    for r in &bare[..bare.len() - 1] {
        let single = p.read(&r.ctx, &r.id, &r.inputs).await.unwrap();
        assert_eq!(batched.get(&r.id), single.as_ref(), "{token} {} bare", r.id);
    }
}

#[tokio::test]
async fn refreshing_300_security_groups_costs_at_most_two_describe_calls() {
    let env = setup().await;
    let ec2 = ec2(&env).await;
    let vpc = vpc(&ec2, "10.40.0.0/16").await;
    let mut state = StackState::default();
    for i in 0..300 {
        let name = format!("sg-{}-{i:03}", env.tag);
        let id = ec2
            .create_security_group()
            .group_name(&name)
            .description("batch")
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap()
            .group_id()
            .unwrap()
            .to_string();
        let mut inputs =
            map(serde_json::json!({"name": name, "description": "batch", "vpcId": vpc}));
        if i == 7 {
            // Recorded with a tag the group does not carry: drift.
            inputs.insert(
                "tags".into(),
                Value::from_json(&serde_json::json!({"team": "a"})),
            );
        }
        let logical = format!("g{i:03}");
        state.resources.insert(
            logical.clone(),
            recorded("aws:ec2:SecurityGroup", &logical, &id, inputs),
        );
    }
    // One deleted out of band; g007 lacks its recorded tag.
    let gone = state.resources["g150"].id.clone();
    ec2.delete_security_group()
        .group_id(&gone)
        .send()
        .await
        .unwrap();
    ec2.create_tags()
        .resources(&state.resources["g007"].id)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("team")
                .value("x")
                .build(),
        )
        .send()
        .await
        .unwrap();
    env._emulator.reset_call_counts().await.unwrap();
    let (refreshed, drift) = refresh_with(&state, &env.reg, "it", 10)
        .await
        .expect("refresh");
    let calls = describe_calls(&env, "ec2:DescribeSecurityGroups").await;
    assert!(
        calls <= 2,
        "300 groups refreshed with {calls} DescribeSecurityGroups calls"
    );
    let gone_names: Vec<&str> = drift
        .iter()
        .filter(|d| d.gone)
        .map(|d| d.resource.as_str())
        .collect();
    assert_eq!(gone_names, ["g150"]);
    let changed: Vec<&str> = drift
        .iter()
        .filter(|d| !d.gone)
        .map(|d| d.resource.as_str())
        .collect();
    assert_eq!(changed, ["g007"], "{drift:?}");
    assert_eq!(refreshed.resources.len(), 299);
    assert_eq!(
        s(&refreshed.resources["g001"].outputs, "id"),
        state.resources["g001"].id
    );
}

#[tokio::test]
async fn security_group_batched_read_equals_single_read() {
    let env = setup().await;
    let ec2 = ec2(&env).await;
    let vpc = vpc(&ec2, "10.41.0.0/16").await;
    let p = env.p("aws:ec2:SecurityGroup");
    let mut created = Vec::new();
    for (i, inputs) in [
        serde_json::json!({"name": format!("a-{}", env.tag), "vpcId": vpc,
            "ingress": [{"protocol": "tcp", "fromPort": 6379, "toPort": 6379, "cidrBlocks": ["10.0.0.0/24"]}],
            "tags": {"team": "cache"}}),
        serde_json::json!({"name": format!("b-{}", env.tag), "vpcId": vpc, "description": "two",
            "egress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}]}),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("sg{i}");
        let inputs = p.schema().normalize_inputs(&map(inputs));
        let c = p.create(&env.ctx(&name), &inputs).await.expect("create");
        created.push((name, c.id, inputs));
    }
    single_equals_batched(
        &env,
        "aws:ec2:SecurityGroup",
        "ec2:DescribeSecurityGroups",
        &created,
        "sg-0123456789abcdef0",
    )
    .await;
}

#[tokio::test]
async fn subnet_and_route_table_batched_reads_equal_single_reads() {
    let env = setup().await;
    let ec2 = ec2(&env).await;
    let vpc = vpc(&ec2, "10.42.0.0/16").await;
    let p = env.p("aws:ec2:Subnet");
    let mut subnets = Vec::new();
    for (i, az) in ["us-east-1a", "us-east-1b"].iter().enumerate() {
        let name = format!("subnet{i}");
        let inputs = p.schema().normalize_inputs(&map(serde_json::json!({
            "vpcId": vpc, "cidrBlock": format!("10.42.{i}.0/24"), "availabilityZone": az,
            "tags": {"Tier": "private"}
        })));
        let c = p
            .create(&env.ctx(&name), &inputs)
            .await
            .expect("create subnet");
        subnets.push((name, c.id, inputs));
    }
    single_equals_batched(
        &env,
        "aws:ec2:Subnet",
        "ec2:DescribeSubnets",
        &subnets,
        "subnet-0123456789abcdef0",
    )
    .await;

    let igw = ec2
        .create_internet_gateway()
        .send()
        .await
        .unwrap()
        .internet_gateway()
        .unwrap()
        .internet_gateway_id()
        .unwrap()
        .to_string();
    ec2.attach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap();
    let p = env.p("aws:ec2:RouteTable");
    let mut tables = Vec::new();
    for (i, inputs) in [
        serde_json::json!({"vpcId": vpc, "routes": [{"cidrBlock": "0.0.0.0/0", "gatewayId": igw}], "tags": {"Name": "public"}}),
        serde_json::json!({"vpcId": vpc}),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("rt{i}");
        let inputs = p.schema().normalize_inputs(&map(inputs));
        let c = p.create(&env.ctx(&name), &inputs).await.expect("create route table");
        tables.push((name, c.id, inputs));
    }
    single_equals_batched(
        &env,
        "aws:ec2:RouteTable",
        "ec2:DescribeRouteTables",
        &tables,
        "rtb-0123456789abcdef0",
    )
    .await;
}

#[tokio::test]
async fn nat_gateway_batched_read_equals_single_read_and_skips_deleted_ones() {
    let env = setup().await;
    let ec2 = ec2(&env).await;
    let vpc = vpc(&ec2, "10.43.0.0/16").await;
    let subnet = ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.43.0.0/24")
        .send()
        .await
        .unwrap()
        .subnet()
        .unwrap()
        .subnet_id()
        .unwrap()
        .to_string();
    let p = env.p("aws:ec2:NatGateway");
    let mut gateways = Vec::new();
    for i in 0..3 {
        let ip = ec2
            .allocate_address()
            .domain(aws_sdk_ec2::types::DomainType::Vpc)
            .send()
            .await
            .unwrap()
            .allocation_id()
            .unwrap()
            .to_string();
        let name = format!("nat{i}");
        let inputs = p.schema().normalize_inputs(&map(serde_json::json!({
            "allocationId": ip, "subnetId": subnet, "tags": {"Name": name}
        })));
        let id = if i < 2 {
            p.create(&env.ctx(&name), &inputs)
                .await
                .expect("create NAT")
                .id
        } else {
            String::new()
        };
        gateways.push((name, id, inputs));
    }
    // A deleted gateway stays visible for a while as `deleted`: gone. (Made
    // outside the provider: one it made moments ago and missing from a
    // batch gets a confirming single read.)
    let (_, _, inputs) = gateways.pop().unwrap();
    let deleted = ec2
        .create_nat_gateway()
        .subnet_id(&subnet)
        .allocation_id(s(&inputs, "allocationId"))
        .send()
        .await
        .unwrap()
        .nat_gateway()
        .unwrap()
        .nat_gateway_id()
        .unwrap()
        .to_string();
    ec2.delete_nat_gateway()
        .nat_gateway_id(&deleted)
        .send()
        .await
        .unwrap();
    single_equals_batched(
        &env,
        "aws:ec2:NatGateway",
        "ec2:DescribeNatGateways",
        &gateways,
        &deleted,
    )
    .await;
}
