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

fn iam_doc(action: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]
    })
    .to_string()
}

/// IAM policies: a batch lists every customer managed policy once with
/// GetAccountAuthorizationDetails (documents included) and asks only for
/// each one's tags; what it reports equals the single read (GetPolicy +
/// GetPolicyVersion), the stack's spelling of an equal document included.
#[tokio::test]
async fn iam_policy_batched_read_equals_single_read() {
    let env = setup().await;
    let p = env.p("aws:iam:Policy");
    let specs = [
        serde_json::json!({
            "name": format!("tagged-{}", env.tag), "description": "reads the cache",
            "policy": iam_doc("elasticache:Describe*"),
            "tags": {"team": "platform", "tier": "cache"}
        }),
        serde_json::json!({
            "name": format!("pathed-{}", env.tag), "path": "/cairn/batch/",
            "policy": iam_doc("s3:GetObject")
        }),
        serde_json::json!({"name": format!("versioned-{}", env.tag), "policy": iam_doc("sqs:SendMessage")}),
        serde_json::json!({"name": format!("deleted-{}", env.tag), "policy": iam_doc("sns:Publish")}),
    ];
    let mut created = Vec::new();
    for (i, spec) in specs.into_iter().enumerate() {
        let name = format!("policy{i}");
        let inputs = p.schema().normalize_inputs(&map(spec));
        let c = p.create(&env.ctx(&name), &inputs).await.expect("policy");
        created.push((name, c.id, inputs));
    }
    // The third gets a second default version, v2; the stack spells that
    // document with other white space (the same JSON).
    let (name, id, old) = created[2].clone();
    let v2 = iam_doc("sqs:ReceiveMessage");
    let mut new = old.clone();
    new.insert("policy".into(), v2.as_str().into());
    p.update(&env.ctx(&name), &id, &old, &new, &Map::new())
        .await
        .expect("new default version");
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(&v2).unwrap())
            .unwrap();
    new.insert("policy".into(), pretty.as_str().into());
    created[2].2 = new;
    // The fourth is deleted.
    let (name, gone, inputs) = created.pop().unwrap();
    p.delete(&env.ctx(&name), &gone, &inputs, &Map::new())
        .await
        .expect("delete");
    single_equals_batched(
        &env,
        "aws:iam:Policy",
        "iam:GetAccountAuthorizationDetails",
        &created,
        &gone,
    )
    .await;

    // And what both report is right.
    let reqs: Vec<ReadRequest> = created
        .iter()
        .map(|(name, id, inputs)| ReadRequest {
            ctx: env.ctx(name),
            id: id.clone(),
            inputs: inputs.clone(),
        })
        .collect();
    env._emulator.reset_call_counts().await.unwrap();
    let batched = p.read_many(&reqs).await.expect("batched read");
    let tagged = &batched[&created[0].1];
    assert_eq!(s(&tagged.inputs, "description"), "reads the cache");
    assert_eq!(
        tagged.inputs["tags"],
        Value::from_json(&serde_json::json!({"team": "platform", "tier": "cache"})),
        "cairn:urn is hidden"
    );
    assert_eq!(s(&tagged.outputs, "arn"), created[0].1);
    assert!(!s(&tagged.outputs, "policyId").is_empty());
    let pathed = &batched[&created[1].1];
    assert_eq!(s(&pathed.inputs, "path"), "/cairn/batch/");
    assert!(!pathed.inputs.contains_key("description"));
    let versioned = &batched[&created[2].1];
    assert_eq!(s(&versioned.outputs, "defaultVersionId"), "v2");
    assert_eq!(
        s(&versioned.inputs, "policy"),
        pretty,
        "the stack's spelling"
    );
    let calls = env._emulator.call_counts().await.unwrap();
    let n = |api: &str| calls.get(api).copied().unwrap_or(0);
    assert_eq!(
        (
            n("iam:GetAccountAuthorizationDetails"),
            n("iam:ListPolicyTags"),
            n("iam:GetPolicy"),
            n("iam:GetPolicyVersion")
        ),
        (1, 3, 0, 0),
        "{calls:?}"
    );
}

/// Refreshing N policies costs the listing's pages (1,000 policies a page)
/// plus one ListPolicyTags per policy, instead of GetPolicy and
/// GetPolicyVersion per policy. 900 policies outside the stack, listed
/// before its 150, make the listing two pages.
#[tokio::test]
async fn refreshing_policies_costs_one_listing_page_plus_one_tag_call_each() {
    use futures::StreamExt;
    let env = setup().await;
    let iam = aws_sdk_iam::Client::new(&env.sdk_config().await);
    let doc = iam_doc("s3:GetObject");
    futures::stream::iter(0..900)
        .map(|i| {
            let (iam, doc) = (iam.clone(), doc.clone());
            async move {
                iam.create_policy()
                    .policy_name(format!("a-other-{i:04}"))
                    .policy_document(doc)
                    .send()
                    .await
                    .expect("other policy");
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;
    let ours: Vec<(String, String, Map)> = futures::stream::iter(0..150)
        .map(|i| {
            let (iam, doc, tag) = (iam.clone(), doc.clone(), env.tag.clone());
            async move {
                let name = format!("p-{tag}-{i:03}");
                let mut req = iam.create_policy().policy_name(&name).policy_document(&doc);
                let mut inputs = map(serde_json::json!({"name": name, "path": "/", "policy": doc}));
                if i % 3 == 0 {
                    let t = aws_sdk_iam::types::Tag::builder()
                        .key("n")
                        .value(i.to_string())
                        .build()
                        .unwrap();
                    req = req.tags(t);
                    inputs.insert(
                        "tags".into(),
                        Value::from_json(&serde_json::json!({"n": i.to_string()})),
                    );
                }
                if i == 7 {
                    // Recorded with a tag the policy does not carry: drift.
                    inputs.insert(
                        "tags".into(),
                        Value::from_json(&serde_json::json!({"team": "a"})),
                    );
                }
                let arn = req
                    .send()
                    .await
                    .expect("policy")
                    .policy()
                    .unwrap()
                    .arn()
                    .unwrap()
                    .to_string();
                (format!("p{i:03}"), arn, inputs)
            }
        })
        .buffered(8)
        .collect()
        .await;
    let mut state = StackState::default();
    for (logical, arn, inputs) in ours {
        state.resources.insert(
            logical.clone(),
            recorded("aws:iam:Policy", &logical, &arn, inputs),
        );
    }
    // One deleted out of band.
    iam.delete_policy()
        .policy_arn(&state.resources["p100"].id)
        .send()
        .await
        .unwrap();
    env._emulator.reset_call_counts().await.unwrap();
    let (refreshed, drift) = refresh_with(&state, &env.reg, "it", 10)
        .await
        .expect("refresh");
    let calls = env._emulator.call_counts().await.unwrap();
    let n = |api: &str| calls.get(api).copied().unwrap_or(0);
    assert_eq!(
        [
            n("iam:GetAccountAuthorizationDetails"),
            n("iam:ListPolicyTags"),
            n("iam:GetPolicy"),
            n("iam:GetPolicyVersion"),
        ],
        [2, 149, 0, 0],
        "pages, tag calls, GetPolicy, GetPolicyVersion for 150 policies: {calls:?}"
    );
    let gone: Vec<&str> = drift
        .iter()
        .filter(|d| d.gone)
        .map(|d| d.resource.as_str())
        .collect();
    assert_eq!(gone, ["p100"]);
    let changed: Vec<&str> = drift
        .iter()
        .filter(|d| !d.gone)
        .map(|d| d.resource.as_str())
        .collect();
    assert_eq!(changed, ["p007"], "{drift:?}");
    assert_eq!(refreshed.resources.len(), 149);
    assert_eq!(
        s(&refreshed.resources["p001"].outputs, "arn"),
        state.resources["p001"].id
    );
}

/// The emulator pages GetAccountAuthorizationDetails as AWS does (MaxItems
/// 1 to 1000, default 100; a truncated answer carries a Marker), honours
/// the filter, and lists each policy's versions with URL-encoded documents.
#[tokio::test]
async fn emulator_pages_account_authorization_details() {
    use aws_sdk_iam::types::EntityType;
    let env = setup().await;
    let iam = aws_sdk_iam::Client::new(&env.sdk_config().await);
    for i in 0..5 {
        iam.create_policy()
            .policy_name(format!("page{i}"))
            .path(if i == 1 { "/team/" } else { "/" })
            .set_description((i == 0).then(|| "first".to_string()))
            .policy_document(iam_doc("s3:GetObject"))
            .send()
            .await
            .unwrap();
    }
    let arn0 = "arn:aws:iam::123456789012:policy/page0";
    iam.create_policy_version()
        .policy_arn(arn0)
        .policy_document(iam_doc("s3:PutObject"))
        .set_as_default(true)
        .send()
        .await
        .unwrap();
    // A role in an instance profile: not listed under a policy filter.
    iam.create_role()
        .role_name("paged-role")
        .assume_role_policy_document(iam_doc("sts:AssumeRole"))
        .send()
        .await
        .unwrap();
    iam.create_instance_profile()
        .instance_profile_name("paged-profile")
        .send()
        .await
        .unwrap();
    iam.add_role_to_instance_profile()
        .instance_profile_name("paged-profile")
        .role_name("paged-role")
        .send()
        .await
        .unwrap();

    let mut pages = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = iam
            .get_account_authorization_details()
            .filter(EntityType::LocalManagedPolicy)
            .max_items(2)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        assert!(out.role_detail_list().is_empty() && out.user_detail_list().is_empty());
        assert!(out.group_detail_list().is_empty());
        pages.push(out.policies().to_vec());
        if !out.is_truncated() {
            assert_eq!(out.marker(), None);
            break;
        }
        marker = Some(
            out.marker()
                .expect("a truncated page has a marker")
                .to_string(),
        );
        assert!(pages.len() < 10, "the marker does not move on");
    }
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [2, 2, 1]);
    let all: Vec<_> = pages.into_iter().flatten().collect();
    let mut names: Vec<&str> = all.iter().filter_map(|p| p.policy_name()).collect();
    names.sort();
    assert_eq!(names, ["page0", "page1", "page2", "page3", "page4"]);
    let p0 = all.iter().find(|p| p.arn() == Some(arn0)).unwrap();
    assert_eq!(p0.description(), Some("first"));
    assert_eq!(p0.default_version_id(), Some("v2"));
    assert!(p0.policy_id().is_some_and(|id| !id.is_empty()));
    assert_eq!(p0.path(), Some("/"));
    let versions: Vec<(&str, bool)> = p0
        .policy_version_list()
        .iter()
        .map(|v| (v.version_id().unwrap(), v.is_default_version()))
        .collect();
    assert_eq!(versions.len(), 2);
    assert!(versions.contains(&("v1", false)) && versions.contains(&("v2", true)));
    let v2 = p0
        .policy_version_list()
        .iter()
        .find(|v| v.is_default_version())
        .and_then(|v| v.document())
        .unwrap();
    assert!(v2.starts_with("%7B"), "URL-encoded: {v2}");
    assert!(v2.contains("s3%3APutObject"), "{v2}");
    let p1 = all
        .iter()
        .find(|p| p.policy_name() == Some("page1"))
        .unwrap();
    assert_eq!(p1.path(), Some("/team/"));
    assert_eq!(
        p1.arn(),
        Some("arn:aws:iam::123456789012:policy/team/page1")
    );
    assert_eq!(p1.description(), None, "no description, none listed");

    // Without MaxItems, up to 100; roles (with their instance profiles)
    // only when asked for.
    let out = iam
        .get_account_authorization_details()
        .filter(EntityType::LocalManagedPolicy)
        .send()
        .await
        .unwrap();
    assert_eq!(out.policies().len(), 5);
    assert!(!out.is_truncated());
    let out = iam
        .get_account_authorization_details()
        .filter(EntityType::Role)
        .send()
        .await
        .unwrap();
    assert!(out.policies().is_empty());
    let role = &out.role_detail_list()[0];
    assert_eq!(role.role_name(), Some("paged-role"));
    assert_eq!(
        role.instance_profile_list()[0].instance_profile_name(),
        "paged-profile"
    );
    // MaxItems is 1 to 1000, as on AWS.
    for bad in [0, 1001] {
        let err = iam
            .get_account_authorization_details()
            .filter(EntityType::LocalManagedPolicy)
            .max_items(bad)
            .send()
            .await
            .expect_err("MaxItems out of range");
        let code = aws_sdk_iam::error::ProvideErrorMetadata::code(&err);
        assert_eq!(code, Some("ValidationError"), "MaxItems {bad}: {err:?}");
    }
}

/// A listed policy whose tags answer NoSuchEntity (IAM not yet consistent,
/// or the policy deleted since the listing) gets the single read: one this
/// process just created is waited for, as `read` does; one it did not
/// create reads as gone, as `read`'s `None`.
#[tokio::test]
async fn iam_policy_batch_falls_back_to_the_single_read_when_tags_are_not_found() {
    let env = setup().await;
    let p = env.p("aws:iam:Policy");
    env._emulator.set_hide_new_ms(1500).await.unwrap();
    let mut reqs = Vec::new();
    for i in 0..2 {
        let name = format!("new{i}");
        let inputs = p.schema().normalize_inputs(&map(serde_json::json!({
            "name": format!("new{i}-{}", env.tag), "policy": iam_doc("s3:GetObject"),
            "tags": {"n": name}
        })));
        let c = p.create(&env.ctx(&name), &inputs).await.expect("policy");
        reqs.push(ReadRequest {
            ctx: env.ctx(&name),
            id: c.id,
            inputs,
        });
    }
    // Made by someone else: not waited for.
    let iam = aws_sdk_iam::Client::new(&env.sdk_config().await);
    let other = iam
        .create_policy()
        .policy_name(format!("other-{}", env.tag))
        .policy_document(iam_doc("s3:GetObject"))
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    reqs.push(ReadRequest {
        ctx: env.ctx("other"),
        id: other.clone(),
        inputs: Map::new(),
    });
    let batched = p.read_many(&reqs).await.expect("batched read");
    assert!(!batched.contains_key(&other), "{batched:?}");
    assert_eq!(batched.len(), 2, "{batched:?}");
    for r in &reqs[..2] {
        let single = p.read(&r.ctx, &r.id, &r.inputs).await.unwrap();
        assert!(single.is_some());
        assert_eq!(batched.get(&r.id), single.as_ref(), "{}", r.id);
    }
}
