//! CAIRN-POL-006 (ingress on 6379 from the node subnets only) is the Redis
//! layer's rule: the security group an RDS instance names is the
//! database's (5432 from the nodes' group), as in `stacks/rds.template.yaml`.

use cairn_core::spec::{ResourceSpec, StackSpec};
use cairn_core::value::{Map, Value};
use cairn_policy::evaluate;

fn map(j: serde_json::Value) -> Map {
    match Value::from_json(&j) {
        Value::Map(m) => m,
        _ => panic!("not an object"),
    }
}

fn stack(db_names_group: bool) -> StackSpec {
    let mut s = StackSpec::new("rds-dev");
    s.add(ResourceSpec::new(
        "dbSecurityGroup",
        "aws:ec2:SecurityGroup",
        map(serde_json::json!({
            "name": "qualisys-db-dev",
            "vpcId": "vpc-1",
            "ingress": [{"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "securityGroups": ["sg-nodes"]}]
        })),
    ));
    let groups = if db_names_group {
        serde_json::json!(["${dbSecurityGroup.id}"])
    } else {
        serde_json::json!(["sg-other"])
    };
    s.add(ResourceSpec::new(
        "db",
        "aws:rds:Instance",
        map(serde_json::json!({"identifier": "qualisys-db-dev", "vpcSecurityGroupIds": groups})),
    ));
    s
}

fn pol006(s: &StackSpec) -> Vec<String> {
    evaluate(s)
        .problems
        .iter()
        .filter(|p| p.code.contains("CAIRN-POL-006"))
        .map(|p| p.message.clone())
        .collect()
}

#[test]
fn the_database_security_group_is_not_held_to_the_redis_ingress_rule() {
    assert_eq!(pol006(&stack(true)), Vec::<String>::new());
    // A group no database names is still held to it.
    assert_eq!(
        pol006(&stack(false)).len(),
        1,
        "{:?}",
        pol006(&stack(false))
    );
}
