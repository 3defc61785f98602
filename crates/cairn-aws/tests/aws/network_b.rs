//! Route tables, routes, route table associations, security group rules and
//! RDS subnet groups against the emulator: create, read back with no diff,
//! an in-place update, the replace-causing properties, delete, import by
//! Terraform's ids, and adoption after a lost answer (refusing what is not
//! this resource's). Plus their preview checks (no emulator).

use super::*;
use aws_sdk_ec2::types::{IpPermission, UserIdGroupPair};

/// A VPC with two subnets (two AZs), an internet gateway and a NAT gateway.
struct Net {
    ec2: aws_sdk_ec2::Client,
    vpc: String,
    subnets: Vec<String>,
    igw: String,
    nat: String,
}

async fn net(env: &Env, second_octet: u8) -> Net {
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk_config().await);
    let vpc = ec2
        .create_vpc()
        .cidr_block(format!("10.{second_octet}.0.0/16"))
        .send()
        .await
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_string();
    let mut subnets = Vec::new();
    for (i, az) in ["us-east-1a", "us-east-1b", "us-east-1a"]
        .iter()
        .enumerate()
    {
        let out = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(format!("10.{second_octet}.{}.0/24", 20 + i))
            .availability_zone(*az)
            .send()
            .await
            .unwrap();
        subnets.push(out.subnet().unwrap().subnet_id().unwrap().to_string());
    }
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
    let eip = ec2
        .allocate_address()
        .domain(aws_sdk_ec2::types::DomainType::Vpc)
        .send()
        .await
        .unwrap()
        .allocation_id()
        .unwrap()
        .to_string();
    let nat = ec2
        .create_nat_gateway()
        .subnet_id(&subnets[0])
        .allocation_id(eip)
        .send()
        .await
        .unwrap()
        .nat_gateway()
        .unwrap()
        .nat_gateway_id()
        .unwrap()
        .to_string();
    Net {
        ec2,
        vpc,
        subnets,
        igw,
        nat,
    }
}

fn replaces(env: &Env, token: &str) -> Vec<String> {
    let mut v: Vec<String> = env
        .p(token)
        .schema()
        .properties
        .iter()
        .filter(|p| p.replace_on_change)
        // Every AWS type's per-resource `region` replaces (tested with providers).
        .filter(|p| p.name != cairn_aws::regional::REGION)
        .map(|p| p.name.clone())
        .collect();
    v.sort();
    v
}

/// The live routes of a table other than the local one: (destination, target).
async fn live_routes(ec2: &aws_sdk_ec2::Client, table: &str) -> Vec<(String, String)> {
    let out = ec2
        .describe_route_tables()
        .route_table_ids(table)
        .send()
        .await
        .unwrap();
    let mut v: Vec<(String, String)> = out.route_tables()[0]
        .routes()
        .iter()
        .filter(|r| r.gateway_id() != Some("local"))
        .map(|r| {
            (
                r.destination_cidr_block().unwrap_or_default().to_string(),
                r.nat_gateway_id()
                    .or(r.gateway_id())
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn route_table_inline_routes_change_in_place_and_recover_only_ours() {
    let env = setup().await;
    let n = net(&env, 61).await;
    let p = env.p("aws:ec2:RouteTable");
    let mut ctx = env.ctx("private-rt");
    ctx.create_token = Some("intent-rt-1".into());
    let inputs = map(serde_json::json!({
        "vpcId": n.vpc,
        "routes": [
            {"cidrBlock": "0.0.0.0/0", "natGatewayId": n.nat},
            {"cidrBlock": "192.168.0.0/16", "gatewayId": n.igw}
        ],
        "tags": {"Name": "private"}
    }));
    let created = p.create(&ctx, &inputs).await.expect("create route table");
    assert!(created.id.starts_with("rtb-"), "{}", created.id);
    assert!(s(&created.outputs, "arn").ends_with(&format!(":route-table/{}", created.id)));
    assert_eq!(
        live_routes(&n.ec2, &created.id).await,
        vec![
            ("0.0.0.0/0".to_string(), n.nat.clone()),
            ("192.168.0.0/16".to_string(), n.igw.clone())
        ]
    );
    let seen = p.read(&ctx, &created.id, &inputs).await.unwrap().unwrap();
    assert_eq!(seen.inputs, inputs, "read back exactly as written");
    // A bare import reports the routes too.
    let imported = p
        .read(&ctx, &created.id, &Map::new())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(imported.inputs["routes"].as_list().unwrap().len(), 2);

    // In place: one route retargeted, one removed, one added, a tag changed.
    let new = map(serde_json::json!({
        "vpcId": n.vpc,
        "routes": [
            {"cidrBlock": "0.0.0.0/0", "gatewayId": n.igw},
            {"cidrBlock": "172.16.0.0/12", "natGatewayId": n.nat}
        ],
        "tags": {"Name": "public"}
    }));
    p.update(&ctx, &created.id, &inputs, &new, &created.outputs)
        .await
        .expect("update routes");
    assert_eq!(
        live_routes(&n.ec2, &created.id).await,
        vec![
            ("0.0.0.0/0".to_string(), n.igw.clone()),
            ("172.16.0.0/12".to_string(), n.nat.clone())
        ]
    );
    let seen = p.read(&ctx, &created.id, &new).await.unwrap().unwrap();
    assert_eq!(seen.inputs, new);
    // Routes left out of the stack are not managed, and not reported.
    let mut unmanaged = new.clone();
    unmanaged.remove("routes");
    let seen = p
        .read(&ctx, &created.id, &unmanaged)
        .await
        .unwrap()
        .unwrap();
    assert!(!seen.inputs.contains_key("routes"));

    assert_eq!(replaces(&env, "aws:ec2:RouteTable"), ["vpcId"]);

    // Recovery adopts the table tagged for this resource...
    assert_eq!(p.recover(&ctx, &new).await.unwrap().unwrap().id, created.id);
    // ...finds nothing for another resource...
    assert!(p
        .recover(&env.ctx("other-rt"), &new)
        .await
        .unwrap()
        .is_none());
    // ...and refuses the table this intent made if it carries another urn.
    let mut thief = env.ctx("other-rt");
    thief.create_token = ctx.create_token.clone();
    let err = p.recover(&thief, &new).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::NotOwned { id, .. } if id == &created.id),
        "{err:?}"
    );

    p.delete(&ctx, &created.id, &new, &created.outputs)
        .await
        .expect("delete");
    assert!(p.read(&ctx, &created.id, &new).await.unwrap().is_none());
    p.delete(&ctx, &created.id, &new, &created.outputs)
        .await
        .expect("idempotent delete");
}

#[tokio::test]
async fn route_retargets_in_place_imports_by_terraform_id_and_recovers() {
    let env = setup().await;
    let n = net(&env, 62).await;
    let table = n
        .ec2
        .create_route_table()
        .vpc_id(&n.vpc)
        .send()
        .await
        .unwrap()
        .route_table()
        .unwrap()
        .route_table_id()
        .unwrap()
        .to_string();
    let p = env.p("aws:ec2:Route");
    let ctx = env.ctx("default-route");
    let inputs = map(serde_json::json!({
        "routeTableId": table,
        "destinationCidrBlock": "0.0.0.0/0",
        "gatewayId": n.igw
    }));
    let created = p.create(&ctx, &inputs).await.expect("create route");
    assert_eq!(created.id, format!("{table}_0.0.0.0/0"));
    assert_eq!(s(&created.outputs, "state"), "active");
    let seen = p.read(&ctx, &created.id, &inputs).await.unwrap().unwrap();
    assert_eq!(seen.inputs, inputs);
    // Terraform's import id is this id.
    let imported = p
        .read(&ctx, &created.id, &Map::new())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (imported.id.as_str(), &imported.inputs),
        (created.id.as_str(), &inputs)
    );

    // A retried create (its answer lost) adopts the identical route.
    let again = p.create(&ctx, &inputs).await.expect("adopt on retry");
    assert_eq!(again.id, created.id);
    assert_eq!(
        p.recover(&ctx, &inputs).await.unwrap().unwrap().id,
        created.id
    );

    // In place: ReplaceRoute to the NAT gateway.
    let new = map(serde_json::json!({
        "routeTableId": table,
        "destinationCidrBlock": "0.0.0.0/0",
        "natGatewayId": n.nat
    }));
    p.update(&ctx, &created.id, &inputs, &new, &created.outputs)
        .await
        .expect("ReplaceRoute");
    assert_eq!(
        live_routes(&n.ec2, &table).await,
        vec![("0.0.0.0/0".to_string(), n.nat.clone())]
    );
    assert_eq!(
        p.read(&ctx, &created.id, &new)
            .await
            .unwrap()
            .unwrap()
            .inputs,
        new
    );
    // A route to another target is not this resource's: refused, not adopted.
    let err = p.recover(&ctx, &inputs).await.unwrap_err();
    assert!(matches!(err, ProviderError::NotOwned { .. }), "{err:?}");
    let err = p
        .create(&env.ctx("other-route"), &inputs)
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::NotOwned { .. }), "{err:?}");

    assert_eq!(
        replaces(&env, "aws:ec2:Route"),
        ["destinationCidrBlock", "routeTableId"]
    );
    p.delete(&ctx, &created.id, &new, &created.outputs)
        .await
        .expect("delete");
    assert!(live_routes(&n.ec2, &table).await.is_empty());
    assert!(p.read(&ctx, &created.id, &new).await.unwrap().is_none());
    p.delete(&ctx, &created.id, &new, &created.outputs)
        .await
        .expect("idempotent delete");
}

#[tokio::test]
async fn route_table_association_moves_in_place_and_imports_by_terraform_id() {
    let env = setup().await;
    let n = net(&env, 63).await;
    let mut tables = Vec::new();
    for _ in 0..2 {
        tables.push(
            n.ec2
                .create_route_table()
                .vpc_id(&n.vpc)
                .send()
                .await
                .unwrap()
                .route_table()
                .unwrap()
                .route_table_id()
                .unwrap()
                .to_string(),
        );
    }
    let subnet = &n.subnets[0];
    let p = env.p("aws:ec2:RouteTableAssociation");
    let ctx = env.ctx("db-a-assoc");
    let inputs = map(serde_json::json!({"subnetId": subnet, "routeTableId": tables[0]}));
    let created = p.create(&ctx, &inputs).await.expect("associate");
    assert_eq!(&created.id, subnet);
    let assoc = s(&created.outputs, "id").to_string();
    assert!(assoc.starts_with("rtbassoc-"), "{assoc}");
    let seen = p.read(&ctx, &created.id, &inputs).await.unwrap().unwrap();
    assert_eq!(seen.inputs, inputs);
    // Imports: Terraform's `subnet/rtb`, the association id; a wrong table is nothing.
    for id in [format!("{subnet}/{}", tables[0]), assoc.clone()] {
        let imported = p.read(&ctx, &id, &Map::new()).await.unwrap().unwrap();
        assert_eq!((&imported.id, &imported.inputs), (subnet, &inputs), "{id}");
    }
    assert!(p
        .read(&ctx, &format!("{subnet}/{}", tables[1]), &Map::new())
        .await
        .unwrap()
        .is_none());

    // The lost answer's retry adopts the identical association; another table is refused.
    assert_eq!(p.create(&ctx, &inputs).await.unwrap().id, *subnet);
    assert_eq!(p.recover(&ctx, &inputs).await.unwrap().unwrap().id, *subnet);
    let elsewhere = map(serde_json::json!({"subnetId": subnet, "routeTableId": tables[1]}));
    let err = p.create(&env.ctx("other"), &elsewhere).await.unwrap_err();
    assert!(matches!(err, ProviderError::NotOwned { .. }), "{err:?}");
    let err = p.recover(&env.ctx("other"), &elsewhere).await.unwrap_err();
    assert!(matches!(err, ProviderError::NotOwned { .. }), "{err:?}");

    // In place: ReplaceRouteTableAssociation gives a new association id.
    let outs = p
        .update(&ctx, &created.id, &inputs, &elsewhere, &created.outputs)
        .await
        .expect("ReplaceRouteTableAssociation");
    assert_ne!(s(&outs, "id"), assoc);
    let on_new = n
        .ec2
        .describe_route_tables()
        .route_table_ids(&tables[1])
        .send()
        .await
        .unwrap();
    let a = on_new.route_tables()[0].associations();
    assert_eq!(
        a.iter().filter_map(|a| a.subnet_id()).collect::<Vec<_>>(),
        vec![subnet.as_str()]
    );
    assert_eq!(a[0].route_table_association_id(), Some(s(&outs, "id")));
    assert_eq!(
        p.read(&ctx, &created.id, &elsewhere)
            .await
            .unwrap()
            .unwrap()
            .inputs,
        elsewhere
    );
    assert_eq!(
        replaces(&env, "aws:ec2:RouteTableAssociation"),
        ["subnetId"]
    );

    p.delete(&ctx, &created.id, &elsewhere, &outs)
        .await
        .expect("disassociate");
    assert!(p
        .read(&ctx, &created.id, &elsewhere)
        .await
        .unwrap()
        .is_none());
    p.delete(&ctx, &created.id, &elsewhere, &outs)
        .await
        .expect("idempotent delete");
}

#[tokio::test]
async fn security_group_rules_from_cidrs_and_from_a_group() {
    let env = setup().await;
    let n = net(&env, 64).await;
    let mut groups = Vec::new();
    for name in ["cache", "nodes"] {
        groups.push(
            n.ec2
                .create_security_group()
                .group_name(format!("{name}-{}", env.tag))
                .description(name)
                .vpc_id(&n.vpc)
                .send()
                .await
                .unwrap()
                .group_id()
                .unwrap()
                .to_string(),
        );
    }
    let (cache, nodes) = (&groups[0], &groups[1]);
    let p = env.p("aws:ec2:SecurityGroupRule");
    let ctx = env.ctx("redis-from-node-subnets");
    let inputs = map(serde_json::json!({
        "type": "ingress",
        "securityGroupId": cache,
        "protocol": "tcp",
        "fromPort": 6379,
        "toPort": 6379,
        "cidrBlocks": ["10.0.11.0/24", "10.0.10.0/24"],
        "description": "node subnets"
    }));
    let created = p.create(&ctx, &inputs).await.expect("authorize");
    let ids: Vec<&str> = created.id.split(',').collect();
    assert_eq!(ids.len(), 2, "one EC2 rule per CIDR: {}", created.id);
    assert!(ids.iter().all(|i| i.starts_with("sgr-")), "{}", created.id);
    assert_eq!(s(&created.outputs, "securityGroupRuleId"), ids[0]);
    let seen = p.read(&ctx, &created.id, &inputs).await.unwrap().unwrap();
    assert_eq!(seen.inputs, inputs);
    // Terraform's import id reads as the same rule, under its sgr ids.
    let tf = format!("{cache}_ingress_tcp_6379_6379_10.0.11.0/24_10.0.10.0/24");
    let imported = p.read(&ctx, &tf, &inputs).await.unwrap().unwrap();
    assert_eq!((&imported.id, &imported.inputs), (&created.id, &inputs));

    // In place: the description.
    let mut new = inputs.clone();
    new.insert("description".into(), "Kubernetes node subnets".into());
    p.update(&ctx, &created.id, &inputs, &new, &created.outputs)
        .await
        .expect("update description");
    assert_eq!(
        p.read(&ctx, &created.id, &new)
            .await
            .unwrap()
            .unwrap()
            .inputs,
        new
    );
    let mut r = replaces(&env, "aws:ec2:SecurityGroupRule");
    r.sort();
    assert_eq!(
        r,
        [
            "cidrBlocks",
            "fromPort",
            "protocol",
            "securityGroupId",
            "sourceSecurityGroupId",
            "toPort",
            "type"
        ]
    );

    // A retried create adopts the rules tagged for it; another resource's is refused.
    assert_eq!(p.create(&ctx, &new).await.unwrap().id, created.id);
    assert_eq!(p.recover(&ctx, &new).await.unwrap().unwrap().id, created.id);
    let err = p.recover(&env.ctx("other-rule"), &new).await.unwrap_err();
    match &err {
        ProviderError::NotOwned { found, .. } => assert_eq!(
            found,
            &format!("the tag cairn:urn=it-{}/redis-from-node-subnets", env.tag)
        ),
        other => panic!("expected NotOwned, got {other:?}"),
    }

    // From a group; an identical rule made outside cairn (no tag) is refused.
    let from_nodes = map(serde_json::json!({
        "type": "ingress",
        "securityGroupId": cache,
        "protocol": "tcp",
        "fromPort": 6379,
        "toPort": 6379,
        "sourceSecurityGroupId": nodes,
        "description": "nodes"
    }));
    let g_ctx = env.ctx("redis-from-nodes");
    let from_group = p.create(&g_ctx, &from_nodes).await.expect("from a group");
    assert!(from_group.id.starts_with("sgr-") && !from_group.id.contains(','));
    assert_eq!(
        p.read(&g_ctx, &from_group.id, &from_nodes)
            .await
            .unwrap()
            .unwrap()
            .inputs,
        from_nodes
    );
    let egress = map(serde_json::json!({
        "type": "egress", "securityGroupId": nodes, "protocol": "tcp",
        "fromPort": 6379, "toPort": 6379, "sourceSecurityGroupId": cache
    }));
    n.ec2
        .authorize_security_group_egress()
        .group_id(nodes)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(6379)
                .to_port(6379)
                .user_id_group_pairs(UserIdGroupPair::builder().group_id(cache).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let err = p.create(&env.ctx("egress"), &egress).await.unwrap_err();
    match &err {
        ProviderError::NotOwned { found, .. } => assert_eq!(found, "no cairn:urn tag"),
        other => panic!("expected NotOwned, got {other:?}"),
    }

    for (c, id, ins) in [
        (&ctx, &created.id, &new),
        (&g_ctx, &from_group.id, &from_nodes),
    ] {
        p.delete(c, id, ins, &Map::new()).await.expect("revoke");
        assert!(p.read(c, id, ins).await.unwrap().is_none());
        p.delete(c, id, ins, &Map::new())
            .await
            .expect("idempotent revoke");
    }
    let left = n
        .ec2
        .describe_security_group_rules()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-id")
                .values(cache)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(
        left.security_group_rules()
            .iter()
            .all(|r| r.is_egress() == Some(true)),
        "ingress left: {:?}",
        left.security_group_rules()
    );
}

/// `aws:ec2:SecurityGroup` inline rules accept `securityGroups` (source
/// groups), alone and beside CIDR blocks, and read back with no diff.
#[tokio::test]
async fn security_group_inline_rules_take_source_groups() {
    let env = setup().await;
    let n = net(&env, 65).await;
    let nodes = n
        .ec2
        .create_security_group()
        .group_name(format!("nodes-{}", env.tag))
        .description("nodes")
        .vpc_id(&n.vpc)
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    let p = env.p("aws:ec2:SecurityGroup");
    let ctx = env.ctx("cache-sg");
    let inputs = map(serde_json::json!({
        "name": format!("cache-{}", env.tag),
        "description": "6379 from the nodes only",
        "vpcId": n.vpc,
        "ingress": [
            {"protocol": "tcp", "fromPort": 6379, "toPort": 6379, "securityGroups": [nodes], "description": "nodes"},
            {"protocol": "tcp", "fromPort": 6379, "toPort": 6379, "cidrBlocks": ["10.0.10.0/24"]}
        ]
    }));
    let created = p.create(&ctx, &inputs).await.expect("create");
    let live = n
        .ec2
        .describe_security_groups()
        .group_ids(&created.id)
        .send()
        .await
        .unwrap();
    let sources: Vec<&str> = live.security_groups()[0]
        .ip_permissions()
        .iter()
        .flat_map(|p| p.user_id_group_pairs())
        .filter_map(|g| g.group_id())
        .collect();
    assert_eq!(sources, vec![nodes.as_str()]);
    let seen = p.read(&ctx, &created.id, &inputs).await.unwrap().unwrap();
    assert_eq!(seen.inputs["ingress"], inputs["ingress"]);
    p.delete(&ctx, &created.id, &inputs, &created.outputs)
        .await
        .expect("delete");
}

#[tokio::test]
async fn rds_subnet_group_lower_case_in_place_and_two_zones() {
    let env = setup().await;
    let n = net(&env, 66).await;
    let rds = aws_sdk_rds::Client::new(&env.sdk_config().await);
    let p = env.p("aws:rds:SubnetGroup");
    let ctx = env.ctx("db-subnets");
    let name = format!("Platform-DB-{}", env.tag);
    let lower = name.to_lowercase();
    let inputs = map(serde_json::json!({
        "name": name,
        "description": "database tier",
        "subnetIds": [n.subnets[1], n.subnets[0]],
        "tags": {"tier": "db"}
    }));
    let created = p.create(&ctx, &inputs).await.expect("create");
    assert_eq!(created.id, lower);
    assert_eq!(s(&created.outputs, "name"), lower);
    assert_eq!(s(&created.outputs, "vpcId"), n.vpc);
    assert!(s(&created.outputs, "arn").ends_with(&format!(":subgrp:{lower}")));
    let seen = p.read(&ctx, &created.id, &inputs).await.unwrap().unwrap();
    assert_eq!(
        seen.inputs, inputs,
        "the stack's spelling, subnets in its order"
    );

    // In place: subnets and description (ModifyDBSubnetGroup).
    let new = map(serde_json::json!({
        "name": name,
        "description": "database subnets",
        "subnetIds": [n.subnets[0], n.subnets[1], n.subnets[2]],
        "tags": {"tier": "data"}
    }));
    p.update(&ctx, &created.id, &inputs, &new, &created.outputs)
        .await
        .expect("ModifyDBSubnetGroup");
    let live = rds
        .describe_db_subnet_groups()
        .db_subnet_group_name(&lower)
        .send()
        .await
        .unwrap();
    let g = &live.db_subnet_groups()[0];
    assert_eq!(g.db_subnet_group_description(), Some("database subnets"));
    assert_eq!(g.subnets().len(), 3);
    assert_eq!(
        p.read(&ctx, &created.id, &new)
            .await
            .unwrap()
            .unwrap()
            .inputs,
        new
    );
    assert_eq!(replaces(&env, "aws:rds:SubnetGroup"), ["name"]);

    // A retried create adopts it; another resource's create or recovery is refused.
    assert_eq!(p.create(&ctx, &new).await.unwrap().id, lower);
    assert_eq!(p.recover(&ctx, &new).await.unwrap().unwrap().id, lower);
    let err = p.recover(&env.ctx("other"), &new).await.unwrap_err();
    assert!(matches!(err, ProviderError::NotOwned { .. }), "{err:?}");
    let err = p.create(&env.ctx("other"), &new).await.unwrap_err();
    assert!(
        err.to_string().contains("DBSubnetGroupAlreadyExists")
            && err.to_string().contains("was not made by this resource"),
        "{err}"
    );

    // RDS wants two Availability Zones.
    let one_az = map(serde_json::json!({
        "name": format!("one-az-{}", env.tag),
        "subnetIds": [n.subnets[0], n.subnets[2]]
    }));
    let err = p.create(&env.ctx("one-az"), &one_az).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("DBSubnetGroupDoesNotCoverEnoughAZs"),
        "{err}"
    );
    // Import by name, in any case.
    let imported = p.read(&ctx, &name, &Map::new()).await.unwrap().unwrap();
    assert_eq!(imported.id, lower);

    p.delete(&ctx, &created.id, &new, &created.outputs)
        .await
        .expect("delete");
    assert!(p.read(&ctx, &created.id, &new).await.unwrap().is_none());
    p.delete(&ctx, &created.id, &new, &created.outputs)
        .await
        .expect("idempotent delete");
}

/// What each provider's `check` says about `props` (no emulator).
fn checks(token: &str, props: serde_json::Value) -> Vec<(String, bool)> {
    let mut reg = Registry::new();
    register_with(
        &mut reg,
        Arc::new(AwsClients::lazy(Some("http://127.0.0.1:9"))),
    );
    reg.get(token)
        .unwrap()
        .check(&map(props))
        .into_iter()
        .map(|f| (f.rule, f.warning))
        .collect()
}

#[test]
fn network_b_preview_checks() {
    let err = |r: &str| (r.to_string(), false);
    let rt = "aws:ec2:RouteTable";
    assert_eq!(
        checks(
            rt,
            serde_json::json!({"vpcId": "vpc-1", "routes": [{"cidrBlock": "0.0.0.0/0", "gatewayId": "igw-1"}]})
        ),
        []
    );
    assert_eq!(
        checks(
            rt,
            serde_json::json!({"vpcId": "vpc-1", "routes": [
                {"cidrBlock": "10.0.0.1/16", "gatewayId": "igw-1"},
                {"cidrBlock": "0.0.0.0/0", "gatewayId": "igw-1", "natGatewayId": "nat-1"},
                {"cidrBlock": "0.0.0.0/0", "gatewayId": "nat-1"},
                {"cidrBlock": "1.2.3.0/24"}
            ]})
        ),
        [
            err("aws::ec2::cidr-block"),
            err("aws::ec2::route-target"),
            err("aws::ec2::route-target"),
            err("aws::ec2::route-duplicate"),
            err("aws::ec2::route-target"),
        ]
    );
    assert_eq!(
        checks(
            "aws:ec2:Route",
            serde_json::json!({"routeTableId": "rtb-1", "destinationCidrBlock": "0.0.0.0/0", "natGatewayId": "nat-1"})
        ),
        []
    );
    assert_eq!(
        checks(
            "aws:ec2:Route",
            serde_json::json!({"routeTableId": "rtb-1", "destinationCidrBlock": "300.0.0.0/8"})
        ),
        [err("aws::ec2::cidr-block"), err("aws::ec2::route-target")]
    );
    assert_eq!(
        checks(
            "aws:ec2:RouteTableAssociation",
            serde_json::json!({"subnetId": "rtb-1", "routeTableId": "rtb-2"})
        ),
        [err("aws::ec2::association-ids")]
    );
    let sgr = "aws:ec2:SecurityGroupRule";
    let ok = serde_json::json!({"type": "ingress", "securityGroupId": "sg-1", "protocol": "tcp",
        "fromPort": 6379, "toPort": 6379, "cidrBlocks": ["10.0.10.0/24"], "description": "nodes"});
    assert_eq!(checks(sgr, ok.clone()), []);
    let with = |patch: serde_json::Value| {
        let mut v = ok.clone();
        for (k, x) in patch.as_object().unwrap() {
            if x.is_null() {
                v.as_object_mut().unwrap().remove(k);
            } else {
                v[k] = x.clone();
            }
        }
        checks(sgr, v)
    };
    assert_eq!(
        with(serde_json::json!({"protocol": "tpc"})),
        [err("aws::ec2::sg-rule-protocol")]
    );
    assert_eq!(
        with(serde_json::json!({"fromPort": 6380})),
        [err("aws::ec2::sg-rule-ports")]
    );
    assert_eq!(
        with(serde_json::json!({"protocol": "icmp", "fromPort": 8, "toPort": 300})),
        [err("aws::ec2::sg-rule-ports")]
    );
    assert_eq!(
        with(serde_json::json!({"protocol": "-1", "fromPort": 0, "toPort": 0})),
        []
    );
    assert_eq!(
        with(serde_json::json!({"sourceSecurityGroupId": "sg-2"})),
        [err("aws::ec2::sg-rule-source")]
    );
    assert_eq!(
        with(serde_json::json!({"cidrBlocks": null})),
        [err("aws::ec2::sg-rule-source")]
    );
    assert_eq!(
        with(serde_json::json!({"cidrBlocks": ["10.0.10.0/33"]})),
        [err("aws::ec2::cidr-block")]
    );
    assert_eq!(
        with(serde_json::json!({"description": "nodes <all>"})),
        [err("aws::ec2::sg-rule-description")]
    );
    let sg = "aws:rds:SubnetGroup";
    assert_eq!(
        checks(
            sg,
            serde_json::json!({"name": "platform db_1.x", "subnetIds": ["subnet-1"]})
        ),
        []
    );
    assert_eq!(
        checks(
            sg,
            serde_json::json!({"name": "Platform", "subnetIds": ["subnet-1"]})
        ),
        [("aws::rds::name-stored-lower-case".to_string(), true)]
    );
    assert_eq!(
        checks(
            sg,
            serde_json::json!({"name": "default", "subnetIds": ["subnet-1"]})
        ),
        [err("aws::rds::subnet-group-name")]
    );
    assert_eq!(
        checks(
            sg,
            serde_json::json!({"name": "db/main", "subnetIds": ["subnet-1"]})
        ),
        [err("aws::rds::subnet-group-name")]
    );
    assert_eq!(
        checks(sg, serde_json::json!({"name": "db", "subnetIds": []})),
        [err("aws::rds::subnet-group-subnets")]
    );
}

/// A rule on a group made a moment ago waits for the group to become
/// visible (AWS is eventually consistent) instead of failing not-found.
#[tokio::test]
async fn security_group_rule_waits_for_a_new_group() {
    let env = setup().await;
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk_config().await);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.67.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_string();
    env._emulator.set_hide_new_ms(1500).await.unwrap();
    let group = ec2
        .create_security_group()
        .group_name(format!("hidden-{}", env.tag))
        .description("hidden at first")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    let p = env.p("aws:ec2:SecurityGroupRule");
    let ctx = env.ctx("rule-on-new-group");
    let inputs = map(serde_json::json!({
        "type": "ingress", "securityGroupId": group, "protocol": "tcp",
        "fromPort": 5432, "toPort": 5432, "cidrBlocks": ["10.67.20.0/24"]
    }));
    let created = p
        .create(&ctx, &inputs)
        .await
        .expect("a rule on a group not yet visible");
    assert!(created.id.starts_with("sgr-"), "{}", created.id);
}

/// A stack seen by `check_in_stack`: (name, type, inputs).
struct View(Vec<cairn_core::provider::StackResource>);

impl cairn_core::provider::StackView for View {
    fn resource(&self, name: &str) -> Option<cairn_core::provider::StackResource> {
        self.0.iter().find(|r| r.name == name).cloned()
    }
    fn of_type(&self, token: &str) -> Vec<cairn_core::provider::StackResource> {
        self.0
            .iter()
            .filter(|r| r.type_token == token)
            .cloned()
            .collect()
    }
}

fn res(name: &str, token: &str, inputs: serde_json::Value) -> cairn_core::provider::StackResource {
    cairn_core::provider::StackResource {
        name: name.into(),
        type_token: token.into(),
        inputs: map(inputs),
    }
}

#[test]
fn network_b_checks_across_the_stack() {
    use cairn_core::provider::StackView;
    let mut reg = Registry::new();
    register_with(
        &mut reg,
        Arc::new(AwsClients::lazy(Some("http://127.0.0.1:9"))),
    );
    let subnet = |name: &str, az: &str| {
        res(
            name,
            "aws:ec2:Subnet",
            serde_json::json!({"vpcId": "vpc-1", "cidrBlock": "10.0.0.0/24", "availabilityZone": az}),
        )
    };
    let rules = |token: &str, name: &str, view: &View| -> Vec<String> {
        let me = view.resource(name).unwrap();
        reg.get(token)
            .unwrap()
            .check_in_stack(name, &me.inputs, view)
            .into_iter()
            .map(|f| f.rule)
            .collect()
    };
    let group = |subnets: serde_json::Value| {
        res(
            "db",
            "aws:rds:SubnetGroup",
            serde_json::json!({"name": "db", "subnetIds": subnets}),
        )
    };
    let one_zone = View(vec![
        subnet("a", "us-east-1a"),
        subnet("b", "us-east-1a"),
        group(serde_json::json!(["${a.id}", "${b.id}"])),
    ]);
    assert_eq!(
        rules("aws:rds:SubnetGroup", "db", &one_zone),
        ["aws::rds::subnet-group-zones"]
    );
    let two_zones = View(vec![
        subnet("a", "us-east-1a"),
        subnet("b", "us-east-1b"),
        group(serde_json::json!(["${a.id}", "${b.id}"])),
    ]);
    assert!(rules("aws:rds:SubnetGroup", "db", &two_zones).is_empty());
    // A subnet from outside the stack: RDS decides at apply.
    let outside = View(vec![
        subnet("a", "us-east-1a"),
        group(serde_json::json!(["${a.id}", "subnet-0123"])),
    ]);
    assert!(rules("aws:rds:SubnetGroup", "db", &outside).is_empty());

    let table = res(
        "rt",
        "aws:ec2:RouteTable",
        serde_json::json!({"vpcId": "vpc-1", "routes": [{"cidrBlock": "0.0.0.0/0", "gatewayId": "igw-1"}]}),
    );
    let route = |name: &str, dest: &str| {
        res(
            name,
            "aws:ec2:Route",
            serde_json::json!({"routeTableId": "${rt.id}", "destinationCidrBlock": dest, "natGatewayId": "nat-1"}),
        )
    };
    let v = View(vec![
        table,
        route("r1", "0.0.0.0/0"),
        route("r2", "10.9.0.0/16"),
        route("r3", "10.9.0.0/16"),
    ]);
    assert_eq!(
        rules("aws:ec2:Route", "r1", &v),
        ["aws::ec2::route-duplicate"]
    );
    assert!(rules("aws:ec2:Route", "r2", &v).is_empty());
    assert_eq!(
        rules("aws:ec2:Route", "r3", &v),
        ["aws::ec2::route-duplicate"]
    );

    let sg = |ingress: bool| {
        let mut p = serde_json::json!({"name": "cache", "vpcId": "vpc-1"});
        if ingress {
            p["ingress"] = serde_json::json!([{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["10.0.0.0/8"]}]);
        }
        res("cache", "aws:ec2:SecurityGroup", p)
    };
    let rule = res(
        "rule",
        "aws:ec2:SecurityGroupRule",
        serde_json::json!({"type": "ingress", "securityGroupId": "${cache.id}", "protocol": "tcp",
            "fromPort": 6379, "toPort": 6379, "sourceSecurityGroupId": "sg-2"}),
    );
    assert_eq!(
        rules(
            "aws:ec2:SecurityGroupRule",
            "rule",
            &View(vec![sg(true), rule.clone()])
        ),
        ["aws::ec2::sg-rule-inline-conflict"]
    );
    assert!(rules(
        "aws:ec2:SecurityGroupRule",
        "rule",
        &View(vec![sg(false), rule])
    )
    .is_empty());
}
