//! Route tables, routes, associations, security group rules and an RDS
//! subnet group through the engine against the emulator: `up` from empty,
//! a refreshed preview shows no changes (every read returns what the stack
//! wrote), an in-place edit is an update (not a replace), and `destroy`
//! leaves none of them (the RDS subnet group's delete is checked in
//! cairn-aws's tests/aws/network_b.rs).

use super::common::{runtime, sdk_config, start_private_emulator, Sandbox};

/// Stops a private emulator when the test ends, passed or not.
struct StopEmulator(std::path::PathBuf);

impl Drop for StopEmulator {
    fn drop(&mut self) {
        let _ = cairn_emulator::daemon_stop(&self.0);
    }
}

fn stack(rule_description: &str, private_target: &str, db_a_table: &str) -> String {
    format!(
        r#"name: netb-e2e
resources:
  vpc:
    type: aws:ec2:Vpc
    properties:
      cidrBlock: 10.0.0.0/16
  publicA:
    type: aws:ec2:Subnet
    properties:
      vpcId: ${{vpc.id}}
      cidrBlock: 10.0.0.0/24
      availabilityZone: us-east-1a
  databaseA:
    type: aws:ec2:Subnet
    properties:
      vpcId: ${{vpc.id}}
      cidrBlock: 10.0.20.0/24
      availabilityZone: us-east-1a
  databaseB:
    type: aws:ec2:Subnet
    properties:
      vpcId: ${{vpc.id}}
      cidrBlock: 10.0.21.0/24
      availabilityZone: us-east-1b
  igw:
    type: aws:ec2:InternetGateway
    properties:
      vpcId: ${{vpc.id}}
  natIp:
    type: aws:ec2:Eip
    properties:
      domain: vpc
  nat:
    type: aws:ec2:NatGateway
    properties:
      allocationId: ${{natIp.id}}
      subnetId: ${{publicA.id}}
  publicRoutes:
    type: aws:ec2:RouteTable
    properties:
      vpcId: ${{vpc.id}}
      routes:
        - cidrBlock: 0.0.0.0/0
          gatewayId: ${{igw.id}}
  privateRoutes:
    type: aws:ec2:RouteTable
    properties:
      vpcId: ${{vpc.id}}
  privateDefault:
    type: aws:ec2:Route
    properties:
      routeTableId: ${{privateRoutes.id}}
      destinationCidrBlock: 0.0.0.0/0
      {private_target}
  databaseRoutes:
    type: aws:ec2:RouteTable
    properties:
      vpcId: ${{vpc.id}}
  publicAAssoc:
    type: aws:ec2:RouteTableAssociation
    properties:
      subnetId: ${{publicA.id}}
      routeTableId: ${{publicRoutes.id}}
  databaseAAssoc:
    type: aws:ec2:RouteTableAssociation
    properties:
      subnetId: ${{databaseA.id}}
      routeTableId: ${{{db_a_table}.id}}
  nodes:
    type: aws:ec2:SecurityGroup
    properties:
      name: netb-nodes
      vpcId: ${{vpc.id}}
  cache:
    type: aws:ec2:SecurityGroup
    properties:
      name: netb-cache
      vpcId: ${{vpc.id}}
  cacheFromNodes:
    type: aws:ec2:SecurityGroupRule
    properties:
      type: ingress
      securityGroupId: ${{cache.id}}
      protocol: tcp
      fromPort: 6379
      toPort: 6379
      sourceSecurityGroupId: ${{nodes.id}}
      description: {rule_description}
  cacheFromNodeSubnets:
    type: aws:ec2:SecurityGroupRule
    properties:
      type: ingress
      securityGroupId: ${{cache.id}}
      protocol: tcp
      fromPort: 6379
      toPort: 6379
      cidrBlocks: [10.0.10.0/24, 10.0.11.0/24]
  databaseSubnets:
    type: aws:rds:SubnetGroup
    properties:
      name: netb-db
      description: database tier
      subnetIds:
        - ${{databaseA.id}}
        - ${{databaseB.id}}
outputs:
  vpcId: ${{vpc.id}}
"#
    )
}

#[test]
fn route_and_rule_types_converge_update_in_place_and_destroy() {
    let (sb, port, emulator) = start_private_emulator(Sandbox::new(), 0);
    let _stop = StopEmulator(emulator);
    let file = sb.dir.path().join("netb.yaml");
    let file_s = file.display().to_string();
    std::fs::write(
        &file,
        stack("nodes", "gatewayId: ${igw.id}", "databaseRoutes"),
    )
    .unwrap();
    sb.run(&["up", "--yes", "--local", "--stack-file", &file_s])
        .ok();
    let no_changes = |why: &str| {
        let r = sb.run(&[
            "preview",
            "--local",
            "--stack-file",
            &file_s,
            "--refresh",
            "--expect-no-changes",
        ]);
        assert_eq!(r.code, Some(0), "{why}: changes after up:\n{}", r.all());
    };
    no_changes("first up");
    let state = sb
        .run(&["state", "list", "--local", "--stack-file", &file_s])
        .ok();
    assert!(
        state.stdout.contains("aws:rds:SubnetGroup"),
        "{}",
        state.all()
    );

    // In place: a rule's description, the route's target, a subnet's table.
    std::fs::write(
        &file,
        stack(
            "Kubernetes nodes",
            "natGatewayId: ${nat.id}",
            "privateRoutes",
        ),
    )
    .unwrap();
    let plan = sb
        .run(&["preview", "--local", "--stack-file", &file_s])
        .ok();
    for name in ["cacheFromNodes", "privateDefault", "databaseAAssoc"] {
        let line = plan
            .stdout
            .lines()
            .chain(plan.stderr.lines())
            .find(|l| l.contains(&format!(" {name} (")))
            .unwrap_or_else(|| panic!("{name} not in the plan:\n{}", plan.all()));
        assert!(
            line.contains("update") && !line.contains("replace"),
            "{name} is not an in-place update: {line}"
        );
    }
    sb.run(&["up", "--yes", "--local", "--stack-file", &file_s])
        .ok();
    no_changes("the update");

    let endpoint = format!("http://127.0.0.1:{port}");
    let tables = runtime().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&sdk_config(&endpoint).await);
        let tables = ec2.describe_route_tables().send().await.unwrap();
        tables.route_tables().to_vec()
    });
    let nat_routes = tables
        .iter()
        .flat_map(|t| t.routes())
        .filter(|r| r.nat_gateway_id().is_some())
        .count();
    assert_eq!(nat_routes, 1, "the private default route goes to the NAT");

    sb.run(&["destroy", "--yes", "--local", "--stack-file", &file_s])
        .ok();
    let tables = runtime().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&sdk_config(&endpoint).await);
        let tables = ec2.describe_route_tables().send().await.unwrap();
        tables.route_tables().to_vec()
    });
    let ours: Vec<_> = tables
        .iter()
        .filter(|t| t.tags().iter().any(|tag| tag.key() == Some("cairn:urn")))
        .collect();
    assert!(ours.is_empty(), "route tables left: {ours:?}");
    let state = sb
        .run(&["state", "list", "--local", "--stack-file", &file_s])
        .ok();
    assert!(
        !state.stdout.contains("aws:"),
        "state still lists resources:\n{}",
        state.all()
    );
}
