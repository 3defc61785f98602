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

async fn security_group(ec2: &aws_sdk_ec2::Client, vpc: &str, name: &str) -> String {
    ec2.create_security_group()
        .group_name(name)
        .description("batch")
        .vpc_id(vpc)
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn internet_gateway_and_eip_batched_reads_equal_single_reads() {
    let env = setup().await;
    let ec2 = ec2(&env).await;
    let vpc = vpc(&ec2, "10.45.0.0/16").await;
    let p = env.p("aws:ec2:InternetGateway");
    let mut gateways = Vec::new();
    for (i, inputs) in [
        serde_json::json!({"vpcId": vpc, "tags": {"Name": "igw"}}),
        serde_json::json!({}),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("igw{i}");
        let inputs = p.schema().normalize_inputs(&map(inputs));
        let c = p
            .create(&env.ctx(&name), &inputs)
            .await
            .expect("create igw");
        gateways.push((name, c.id, inputs));
    }
    single_equals_batched(
        &env,
        "aws:ec2:InternetGateway",
        "ec2:DescribeInternetGateways",
        &gateways,
        "igw-0123456789abcdef0",
    )
    .await;

    let p = env.p("aws:ec2:Eip");
    let mut addresses = Vec::new();
    for (i, inputs) in [
        serde_json::json!({"tags": {"Name": "nat"}}),
        serde_json::json!({"domain": "vpc"}),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("eip{i}");
        let inputs = p.schema().normalize_inputs(&map(inputs));
        let c = p.create(&env.ctx(&name), &inputs).await.expect("allocate");
        addresses.push((name, c.id, inputs));
    }
    single_equals_batched(
        &env,
        "aws:ec2:Eip",
        "ec2:DescribeAddresses",
        &addresses,
        "eipalloc-0123456789abcdef0",
    )
    .await;
}

#[tokio::test]
async fn security_group_rule_batched_read_equals_single_read() {
    let env = setup().await;
    let ec2 = ec2(&env).await;
    let vpc = vpc(&ec2, "10.46.0.0/16").await;
    let (cache, nodes) = (
        security_group(&ec2, &vpc, &format!("cache-{}", env.tag)).await,
        security_group(&ec2, &vpc, &format!("nodes-{}", env.tag)).await,
    );
    let p = env.p("aws:ec2:SecurityGroupRule");
    let mut rules = Vec::new();
    for (i, inputs) in [
        // Two CIDRs: two EC2 rules, one resource (id `sgr-a,sgr-b`).
        serde_json::json!({"type": "ingress", "securityGroupId": cache, "protocol": "tcp",
            "fromPort": 6379, "toPort": 6379, "cidrBlocks": ["10.0.11.0/24", "10.0.10.0/24"],
            "description": "node subnets"}),
        serde_json::json!({"type": "egress", "securityGroupId": nodes, "protocol": "tcp",
            "fromPort": 6379, "toPort": 6379, "sourceSecurityGroupId": cache}),
        serde_json::json!({"type": "ingress", "securityGroupId": nodes, "protocol": "-1",
            "fromPort": 0, "toPort": 0, "cidrBlocks": ["10.46.0.0/16"]}),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("rule{i}");
        let inputs = p.schema().normalize_inputs(&map(inputs));
        let c = p.create(&env.ctx(&name), &inputs).await.expect("authorize");
        rules.push((name, c.id, inputs));
    }
    assert!(rules[0].1.contains(','), "{}", rules[0].1);
    single_equals_batched(
        &env,
        "aws:ec2:SecurityGroupRule",
        "ec2:DescribeSecurityGroupRules",
        &rules,
        "sgr-0123456789abcdef0",
    )
    .await;
}

/// 20 internet gateways, 20 addresses and 40 security group rules, one of
/// each gone: one describe call per type, where single reads make one each.
#[tokio::test]
async fn refreshing_gateways_addresses_and_rules_costs_one_describe_call_per_type() {
    let env = setup().await;
    let ec2 = ec2(&env).await;
    let vpc = vpc(&ec2, "10.47.0.0/16").await;
    let sg = security_group(&ec2, &vpc, &format!("rules-{}", env.tag)).await;
    let mut state = StackState::default();
    let mut record = |token: &str, logical: String, id: String, inputs: Map| {
        state
            .resources
            .insert(logical.clone(), recorded(token, &logical, &id, inputs));
    };
    let mut gone = Vec::new();
    for i in 0..20 {
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
        let eip = ec2
            .allocate_address()
            .domain(aws_sdk_ec2::types::DomainType::Vpc)
            .send()
            .await
            .unwrap()
            .allocation_id()
            .unwrap()
            .to_string();
        if i == 5 {
            gone.push((igw.clone(), eip.clone()));
        }
        record(
            "aws:ec2:InternetGateway",
            format!("igw{i:02}"),
            igw,
            Map::new(),
        );
        record(
            "aws:ec2:Eip",
            format!("eip{i:02}"),
            eip,
            map(serde_json::json!({"domain": "vpc"})),
        );
    }
    let mut gone_rule = String::new();
    for i in 0..40 {
        let port = 1000 + i;
        let cidr = format!("10.0.{i}.0/24");
        let out = ec2
            .authorize_security_group_ingress()
            .group_id(&sg)
            .ip_permissions(
                aws_sdk_ec2::types::IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(port)
                    .to_port(port)
                    .ip_ranges(
                        aws_sdk_ec2::types::IpRange::builder()
                            .cidr_ip(&cidr)
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let id = out.security_group_rules()[0]
            .security_group_rule_id()
            .unwrap()
            .to_string();
        if i == 5 {
            gone_rule = id.clone();
        }
        record(
            "aws:ec2:SecurityGroupRule",
            format!("rule{i:02}"),
            id,
            map(
                serde_json::json!({"type": "ingress", "securityGroupId": sg, "protocol": "tcp",
                "fromPort": port, "toPort": port, "cidrBlocks": [cidr]}),
            ),
        );
    }
    let (igw, eip) = &gone[0];
    ec2.delete_internet_gateway()
        .internet_gateway_id(igw)
        .send()
        .await
        .unwrap();
    ec2.release_address()
        .allocation_id(eip)
        .send()
        .await
        .unwrap();
    ec2.revoke_security_group_ingress()
        .group_id(&sg)
        .security_group_rule_ids(&gone_rule)
        .send()
        .await
        .unwrap();
    env._emulator.reset_call_counts().await.unwrap();
    let (refreshed, drift) = refresh_with(&state, &env.reg, "it", 10)
        .await
        .expect("refresh");
    let mut calls = Vec::new();
    for api in [
        "ec2:DescribeInternetGateways",
        "ec2:DescribeAddresses",
        "ec2:DescribeSecurityGroupRules",
    ] {
        calls.push((api, describe_calls(&env, api).await));
    }
    assert!(
        calls.iter().all(|(_, n)| *n <= 1),
        "80 resources of 3 types refreshed with {calls:?}"
    );
    let gone_names: Vec<&str> = drift
        .iter()
        .filter(|d| d.gone)
        .map(|d| d.resource.as_str())
        .collect();
    assert_eq!(gone_names, ["eip05", "igw05", "rule05"]);
    let changed: Vec<&str> = drift
        .iter()
        .filter(|d| !d.gone)
        .map(|d| d.resource.as_str())
        .collect();
    assert!(changed.is_empty(), "{drift:?}");
    assert_eq!(refreshed.resources.len(), 77);
}

/// ElastiCache's describes take one name or none: from two resources on, a
/// batch lists the type once (one call for up to 100 groups) and picks its
/// own; what it reports equals the single reads.
#[tokio::test]
async fn elasticache_batched_reads_list_once_and_equal_single_reads() {
    let env = setup().await;
    let ec2 = ec2(&env).await;
    let vpc = vpc(&ec2, "10.48.0.0/16").await;
    let mut subnets = Vec::new();
    for (cidr, az) in [
        ("10.48.1.0/24", "us-east-1a"),
        ("10.48.2.0/24", "us-east-1b"),
    ] {
        let out = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(cidr)
            .availability_zone(az)
            .send()
            .await
            .unwrap();
        subnets.push(out.subnet().unwrap().subnet_id().unwrap().to_string());
    }
    let p = env.p("aws:elasticache:SubnetGroup");
    let mut groups = Vec::new();
    for (i, ids) in [vec![&subnets[1], &subnets[0]], vec![&subnets[0]]]
        .into_iter()
        .enumerate()
    {
        let name = format!("subnets{i}");
        let inputs = p.schema().normalize_inputs(&map(serde_json::json!({
            "name": format!("subnets{i}-{}", env.tag), "description": "private", "subnetIds": ids
        })));
        let c = p.create(&env.ctx(&name), &inputs).await.expect("create");
        groups.push((name, c.id, inputs));
    }
    single_equals_batched(
        &env,
        "aws:elasticache:SubnetGroup",
        "elasticache:DescribeCacheSubnetGroups",
        &groups,
        "gone-subnets",
    )
    .await;

    let p = env.p("aws:elasticache:ParameterGroup");
    let mut params = Vec::new();
    for (i, parameters) in [
        serde_json::json!([{"name": "maxmemory-policy", "value": "allkeys-lru"}]),
        serde_json::json!([]),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("params{i}");
        let inputs = p.schema().normalize_inputs(&map(serde_json::json!({
            "name": format!("params{i}-{}", env.tag), "family": "redis7",
            "description": "batch", "parameters": parameters, "tags": {"n": name}
        })));
        let c = p.create(&env.ctx(&name), &inputs).await.expect("create");
        params.push((name, c.id, inputs));
    }
    single_equals_batched(
        &env,
        "aws:elasticache:ParameterGroup",
        "elasticache:DescribeCacheParameterGroups",
        &params,
        "gone-params",
    )
    .await;

    let p = env.p("aws:elasticache:ReplicationGroup");
    let mut caches = Vec::new();
    for i in 0..2 {
        let name = format!("redis{i}");
        let inputs = p.schema().normalize_inputs(&map(serde_json::json!({
            "replicationGroupId": format!("redis{i}-{}", env.tag),
            "description": "batch", "engine": "redis", "nodeType": "cache.t3.micro",
            "numCacheClusters": 1, "port": 6379, "tags": {"n": name}
        })));
        let c = p.create(&env.ctx(&name), &inputs).await.expect("create");
        caches.push((name, c.id, inputs));
    }
    single_equals_batched(
        &env,
        "aws:elasticache:ReplicationGroup",
        "elasticache:DescribeReplicationGroups",
        &caches,
        "gone-redis",
    )
    .await;
}

#[tokio::test]
async fn route_and_route_table_association_batched_reads_equal_single_reads() {
    let env = setup().await;
    let ec2 = ec2(&env).await;
    let vpc = vpc(&ec2, "10.49.0.0/16").await;
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
    let mut tables = Vec::new();
    let mut subnets = Vec::new();
    for i in 0..2 {
        let out = ec2.create_route_table().vpc_id(&vpc).send().await.unwrap();
        tables.push(
            out.route_table()
                .unwrap()
                .route_table_id()
                .unwrap()
                .to_string(),
        );
        let out = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(format!("10.49.{i}.0/24"))
            .send()
            .await
            .unwrap();
        subnets.push(out.subnet().unwrap().subnet_id().unwrap().to_string());
    }
    let p = env.p("aws:ec2:Route");
    let mut routes = Vec::new();
    for (i, (table, dest)) in [
        (&tables[0], "0.0.0.0/0"),
        (&tables[1], "0.0.0.0/0"),
        (&tables[1], "192.168.0.0/16"),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("route{i}");
        let inputs = p.schema().normalize_inputs(&map(serde_json::json!({
            "routeTableId": table, "destinationCidrBlock": dest, "gatewayId": igw
        })));
        let c = p.create(&env.ctx(&name), &inputs).await.expect("route");
        routes.push((name, c.id, inputs));
    }
    single_equals_batched(
        &env,
        "aws:ec2:Route",
        "ec2:DescribeRouteTables",
        &routes,
        "rtb-0123456789abcdef0_10.9.0.0/16",
    )
    .await;

    let p = env.p("aws:ec2:RouteTableAssociation");
    let mut assocs = Vec::new();
    for i in 0..2 {
        let name = format!("assoc{i}");
        let inputs = p.schema().normalize_inputs(&map(serde_json::json!({
            "subnetId": subnets[i], "routeTableId": tables[i]
        })));
        let c = p.create(&env.ctx(&name), &inputs).await.expect("associate");
        assocs.push((name, c.id, inputs));
    }
    single_equals_batched(
        &env,
        "aws:ec2:RouteTableAssociation",
        "ec2:DescribeRouteTables",
        &assocs,
        "subnet-0123456789abcdef0",
    )
    .await;
}

/// A KMS alias is read by walking ListAliases: a batch walks it once for
/// all aliases, where single reads walk it once each.
#[tokio::test]
async fn kms_alias_batched_read_walks_list_aliases_once() {
    let env = setup().await;
    let kms = aws_sdk_kms::Client::new(&env.sdk_config().await);
    let p = env.p("aws:kms:Alias");
    let mut aliases = Vec::new();
    for i in 0..3 {
        let key = kms.create_key().send().await.unwrap();
        let meta = key.key_metadata().unwrap();
        // The stack's spelling of the target: an id, or an ARN.
        let target = if i == 0 {
            meta.arn().unwrap().to_string()
        } else {
            meta.key_id().to_string()
        };
        let name = format!("alias{i}");
        let inputs = p.schema().normalize_inputs(&map(serde_json::json!({
            "name": format!("alias/batch{i}-{}", env.tag), "targetKeyId": target
        })));
        let c = p.create(&env.ctx(&name), &inputs).await.expect("alias");
        aliases.push((name, c.id, inputs));
    }
    single_equals_batched(
        &env,
        "aws:kms:Alias",
        "kms:ListAliases",
        &aliases,
        "alias/gone",
    )
    .await;
}
