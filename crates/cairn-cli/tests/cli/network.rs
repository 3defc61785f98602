//! The network stack (Story 0.2) end to end in the emulator, from empty:
//! every object checked through the SDK, a second `up` with no changes,
//! and a `destroy` that leaves nothing (NATs deleted, EIPs released).

use super::common::{runtime, sdk_config, start_private_emulator, Sandbox};
use aws_sdk_ec2::types::Filter;
use serde_json::Value as Json;

fn strings(v: &Json) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("a list: {v}"))
        .iter()
        .map(|s| s.as_str().expect("a string").to_string())
        .collect()
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// What the stack's outputs name, for the checks after destroy.
struct Made {
    vpc: String,
    subnets: Vec<String>,
    nats: Vec<String>,
    allocations: Vec<String>,
    groups: Vec<String>,
}

/// Up `network-<env>`, check every object through the SDK, up again (no
/// changes), destroy, and check nothing is left.
fn round_trip(sb: &Sandbox, port: u16, env: &str, nats_expected: usize) {
    let stack = format!("network-{env}");
    sb.run(&["up", "--stack", &stack, "--local", "--yes"]).ok();
    let out = sb
        .run(&["stack", "output", "--stack", &stack, "--local", "--json"])
        .ok();
    let o: Json = serde_json::from_str(&out.stdout).expect("outputs json");
    let vpc_id = o["vpcId"].as_str().expect("vpcId").to_string();
    let public = strings(&o["publicSubnetIds"]);
    let private = strings(&o["privateSubnetIds"]);
    let database = strings(&o["databaseSubnetIds"]);
    let nats = strings(&o["natGatewayIds"]);
    let nodes_sg = o["nodeSecurityGroupId"]
        .as_str()
        .expect("nodes sg")
        .to_string();
    let cache_sg = o["elasticacheSecurityGroupId"]
        .as_str()
        .expect("cache sg")
        .to_string();
    assert_eq!(nats.len(), nats_expected, "{o:#}");
    assert_eq!(
        o["elasticacheSubnetGroupName"],
        format!("qualisys-redis-{env}")
    );
    assert_eq!(o["rdsSubnetGroupName"], format!("qualisys-db-{env}"));

    let rt = runtime();
    let made = rt.block_on(async {
        let sdk = sdk_config(&format!("http://127.0.0.1:{port}")).await;
        let ec2 = aws_sdk_ec2::Client::new(&sdk);

        let vpcs = ec2
            .describe_vpcs()
            .vpc_ids(&vpc_id)
            .send()
            .await
            .expect("vpc");
        let vpc = &vpcs.vpcs()[0];
        assert_eq!(vpc.cidr_block(), Some("10.0.0.0/16"));

        // Subnets: CIDR and AZ per tier.
        let want = [
            (&public[0], "10.0.0.0/24", "us-east-1a"),
            (&public[1], "10.0.1.0/24", "us-east-1b"),
            (&private[0], "10.0.10.0/24", "us-east-1a"),
            (&private[1], "10.0.11.0/24", "us-east-1b"),
            (&database[0], "10.0.20.0/24", "us-east-1a"),
            (&database[1], "10.0.21.0/24", "us-east-1b"),
        ];
        for (id, cidr, az) in want {
            let s = ec2
                .describe_subnets()
                .subnet_ids(id)
                .send()
                .await
                .expect("subnet");
            let s = &s.subnets()[0];
            assert_eq!(s.cidr_block(), Some(cidr), "{id}");
            assert_eq!(s.availability_zone(), Some(az), "{id}");
            assert_eq!(s.vpc_id(), Some(vpc_id.as_str()), "{id}");
        }

        let igws = ec2
            .describe_internet_gateways()
            .filters(filter("attachment.vpc-id", &vpc_id))
            .send()
            .await
            .expect("igw");
        assert_eq!(igws.internet_gateways().len(), 1, "one IGW attached");
        let igw = igws.internet_gateways()[0]
            .internet_gateway_id()
            .expect("igw id")
            .to_string();

        // The NATs: available, in the public subnets, with their EIPs.
        let described = ec2
            .describe_nat_gateways()
            .set_nat_gateway_ids(Some(nats.clone()))
            .send()
            .await
            .expect("nats");
        let mut allocations = Vec::new();
        for (i, nat) in nats.iter().enumerate() {
            let n = described
                .nat_gateways()
                .iter()
                .find(|n| n.nat_gateway_id() == Some(nat))
                .unwrap_or_else(|| panic!("NAT {nat}"));
            assert_eq!(n.state().map(|s| s.as_str()), Some("available"), "{nat}");
            assert_eq!(
                n.subnet_id(),
                Some(public[i].as_str()),
                "{nat} in public subnet {i}"
            );
            let alloc = n.nat_gateway_addresses()[0]
                .allocation_id()
                .expect("allocation")
                .to_string();
            allocations.push(alloc);
        }

        // Routes by the subnet each table is associated with.
        let default_routes = |subnet: String| {
            let ec2 = ec2.clone();
            async move {
                let t = ec2
                    .describe_route_tables()
                    .filters(filter("association.subnet-id", &subnet))
                    .send()
                    .await
                    .expect("route table");
                assert_eq!(t.route_tables().len(), 1, "one table for {subnet}");
                t.route_tables()[0]
                    .routes()
                    .iter()
                    .filter(|r| r.gateway_id() != Some("local"))
                    .map(|r| {
                        (
                            r.destination_cidr_block().unwrap_or_default().to_string(),
                            r.gateway_id().unwrap_or_default().to_string(),
                            r.nat_gateway_id().unwrap_or_default().to_string(),
                        )
                    })
                    .collect::<Vec<_>>()
            }
        };
        for s in &public {
            assert_eq!(
                default_routes(s.clone()).await,
                vec![("0.0.0.0/0".to_string(), igw.clone(), String::new())],
                "public subnet {s} goes to the IGW"
            );
        }
        for (i, s) in private.iter().enumerate() {
            let nat = &nats[i.min(nats.len() - 1)];
            assert_eq!(
                default_routes(s.clone()).await,
                vec![("0.0.0.0/0".to_string(), String::new(), nat.clone())],
                "private subnet {s} goes to NAT {nat}"
            );
        }
        for s in &database {
            assert_eq!(
                default_routes(s.clone()).await,
                Vec::<(String, String, String)>::new(),
                "database subnet {s} has no route out of the VPC"
            );
        }

        // The ElastiCache group: 6379 only, from the nodes' group and the node CIDRs.
        let g = ec2
            .describe_security_groups()
            .group_ids(&cache_sg)
            .send()
            .await
            .expect("sg");
        let g = &g.security_groups()[0];
        let perms = g.ip_permissions();
        assert_eq!(perms.len(), 1, "one ingress permission: {perms:?}");
        let p = &perms[0];
        assert_eq!(
            (p.ip_protocol(), p.from_port(), p.to_port()),
            (Some("tcp"), Some(6379), Some(6379))
        );
        let mut cidrs: Vec<&str> = p.ip_ranges().iter().filter_map(|r| r.cidr_ip()).collect();
        cidrs.sort();
        assert_eq!(cidrs, ["10.0.10.0/24", "10.0.11.0/24"]);
        let sources: Vec<&str> = p
            .user_id_group_pairs()
            .iter()
            .filter_map(|u| u.group_id())
            .collect();
        assert_eq!(sources, [nodes_sg.as_str()]);
        assert!(p.ipv6_ranges().is_empty() && p.prefix_list_ids().is_empty());

        let cache = aws_sdk_elasticache::Client::new(&sdk);
        let sg = cache
            .describe_cache_subnet_groups()
            .cache_subnet_group_name(format!("qualisys-redis-{env}"))
            .send()
            .await
            .expect("cache subnet group");
        let mut ids: Vec<&str> = sg.cache_subnet_groups()[0]
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_identifier())
            .collect();
        ids.sort();
        let mut want: Vec<&str> = database.iter().map(String::as_str).collect();
        want.sort();
        assert_eq!(
            ids, want,
            "the cache subnet group spans the database subnets"
        );

        let mut subnets = public.clone();
        subnets.extend(private.clone());
        subnets.extend(database.clone());
        Made {
            vpc: vpc_id.clone(),
            subnets,
            nats: nats.clone(),
            allocations,
            groups: vec![nodes_sg.clone(), cache_sg.clone()],
        }
    });

    let again = sb.run(&["up", "--stack", &stack, "--local", "--yes"]).ok();
    assert!(
        again.stdout.contains("No changes."),
        "a second up changes nothing:\n{}",
        again.stdout
    );
    sb.run(&["destroy", "--stack", &stack, "--local", "--yes"])
        .ok();
    let list = sb.run(&["state", "list", "--stack", &stack, "--local"]);
    assert!(
        list.stdout.trim().is_empty(),
        "state is empty: {}",
        list.stdout
    );

    rt.block_on(async {
        let sdk = sdk_config(&format!("http://127.0.0.1:{port}")).await;
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let vpcs = ec2
            .describe_vpcs()
            .filters(filter("vpc-id", &made.vpc))
            .send()
            .await
            .expect("vpcs");
        assert!(vpcs.vpcs().is_empty(), "the VPC is gone");
        let subnets = ec2
            .describe_subnets()
            .filters(
                Filter::builder()
                    .name("subnet-id")
                    .set_values(Some(made.subnets.clone()))
                    .build(),
            )
            .send()
            .await
            .expect("subnets");
        assert!(
            subnets.subnets().is_empty(),
            "subnets gone: {:?}",
            subnets.subnets()
        );
        let nats = ec2
            .describe_nat_gateways()
            .set_nat_gateway_ids(Some(made.nats.clone()))
            .send()
            .await
            .expect("nats");
        for n in nats.nat_gateways() {
            assert_eq!(n.state().map(|s| s.as_str()), Some("deleted"), "{n:?}");
        }
        let addresses = ec2.describe_addresses().send().await.expect("addresses");
        for a in addresses.addresses() {
            assert!(
                !made
                    .allocations
                    .iter()
                    .any(|m| Some(m.as_str()) == a.allocation_id()),
                "EIP {:?} was not released",
                a.allocation_id()
            );
        }
        let groups = ec2
            .describe_security_groups()
            .filters(
                Filter::builder()
                    .name("group-id")
                    .set_values(Some(made.groups.clone()))
                    .build(),
            )
            .send()
            .await
            .expect("groups");
        assert!(groups.security_groups().is_empty(), "security groups gone");
        let tables = ec2
            .describe_route_tables()
            .filters(filter("vpc-id", &made.vpc))
            .send()
            .await
            .expect("tables");
        assert!(tables.route_tables().is_empty(), "route tables gone");
        let cache = aws_sdk_elasticache::Client::new(&sdk);
        let gone = cache
            .describe_cache_subnet_groups()
            .cache_subnet_group_name(format!("qualisys-redis-{env}"))
            .send()
            .await;
        assert!(gone.is_err(), "the cache subnet group is gone: {gone:?}");
    });
}

#[test]
fn network_stack_from_empty_prod_then_dev() {
    let (sb, port, _) = start_private_emulator(Sandbox::new(), 200);
    // prod: a NAT per AZ; dev: one NAT shared by both private subnets.
    round_trip(&sb, port, "prod", 2);
    round_trip(&sb, port, "dev", 1);
}
