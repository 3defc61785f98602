//! What the deployment should look like, read from the stack's spec and
//! recorded state (ids, ARNs and resolved inputs).

use crate::error::VerifyError;
use cairn_core::value::{Map, Value};
use cairn_core::{ResourceState, StackSpec, StackState};
use serde::Serialize;
use std::path::{Path, PathBuf};

pub const RG_TYPE: &str = "aws:elasticache:ReplicationGroup";
pub const PG_TYPE: &str = "aws:elasticache:ParameterGroup";
pub const SG_TYPE: &str = "aws:ec2:SecurityGroup";
pub const SECRET_TYPE: &str = "aws:secretsmanager:Secret";
pub const KEY_TYPE: &str = "aws:kms:Key";
pub const REFERENCE_TYPE: &str = "pulumi:pulumi:StackReference";

/// The namespacing guide, relative to the repository root.
pub const NAMESPACING_DOC: &str = "docs/key-namespacing.md";

/// What the live deployment must match. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expectations {
    pub stack: String,
    pub environment: String,
    pub replication_group_id: String,
    pub node_type: String,
    pub num_node_groups: i64,
    pub replicas_per_node_group: i64,
    /// Multi-AZ must be on (automatic failover is always required).
    pub require_failover_multi_az: bool,
    /// The customer key that must encrypt the cache at rest.
    pub kms_key_arn: Option<String>,
    pub parameter_group_name: String,
    pub security_group_id: String,
    /// The only CIDRs the security group may admit.
    pub allowed_cidrs: Vec<String>,
    /// The only source security groups it may admit (the Kubernetes nodes' group).
    pub allowed_source_security_groups: Vec<String>,
    /// The port the stack asked for (6379).
    pub port: i64,
    /// Name or ARN of the connection secret.
    pub secret_id: String,
    /// The key-namespacing guide (AC10).
    pub namespacing_doc: PathBuf,
}

/// The story's sizing table: (node type, shards, replicas per shard, Multi-AZ).
pub fn story_sizing(environment: &str) -> Option<(&'static str, i64, i64, bool)> {
    match environment {
        "dev" => Some(("cache.t3.micro", 1, 0, false)),
        "staging" => Some(("cache.t3.small", 2, 1, true)),
        "prod" => Some(("cache.r5.large", 2, 1, true)),
        _ => None,
    }
}

fn s<'a>(m: &'a Map, k: &str) -> Option<&'a str> {
    m.get(k)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty() && !v.contains("${"))
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// The key id inside a KMS key ARN (`arn:...:key/ID` → `ID`), or the input itself.
pub fn kms_key_id_of(id_or_arn: &str) -> &str {
    id_or_arn
        .rsplit_once(":key/")
        .map(|(_, id)| id)
        .unwrap_or(id_or_arn)
}

struct Lookup<'a> {
    spec: &'a StackSpec,
    state: &'a StackState,
}

impl<'a> Lookup<'a> {
    /// The recorded states of every declared resource of `token`, in spec
    /// order; resources recorded in state but absent from the spec count too.
    fn all(&self, token: &str) -> Result<Vec<&'a ResourceState>, VerifyError> {
        let declared: Vec<&str> = self
            .spec
            .resources
            .iter()
            .filter(|r| r.type_token == token)
            .map(|r| r.name.as_str())
            .collect();
        let mut out = Vec::new();
        for name in &declared {
            match self.state.resources.get(*name) {
                Some(rs) if rs.type_token == token => out.push(rs),
                _ => {
                    return Err(VerifyError::NotDeployed {
                        stack: self.spec.name.clone(),
                        resource: name.to_string(),
                        type_token: token.to_string(),
                    })
                }
            }
        }
        for rs in self.state.resources.values() {
            if rs.type_token == token && !declared.contains(&rs.name.as_str()) {
                out.push(rs);
            }
        }
        Ok(out)
    }

    /// The one resource of `token`: the one `pick` selects among several, or
    /// the only one. `None` when there is none.
    fn one(
        &self,
        token: &str,
        pick: impl Fn(&ResourceState) -> bool,
    ) -> Result<Option<&'a ResourceState>, VerifyError> {
        let all = self.all(token)?;
        if all.len() <= 1 {
            return Ok(all.into_iter().next());
        }
        let picked: Vec<_> = all.iter().copied().filter(|r| pick(r)).collect();
        if picked.len() == 1 {
            return Ok(Some(picked[0]));
        }
        Err(VerifyError::Ambiguous {
            stack: self.spec.name.clone(),
            type_token: token.to_string(),
            count: all.len(),
            names: all
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    fn required(
        &self,
        token: &str,
        pick: impl Fn(&ResourceState) -> bool,
    ) -> Result<&'a ResourceState, VerifyError> {
        self.one(token, pick)?
            .ok_or_else(|| VerifyError::NotDeclared {
                stack: self.spec.name.clone(),
                type_token: token.to_string(),
            })
    }
}

fn missing(rs: &ResourceState, field: &str) -> VerifyError {
    VerifyError::MissingField {
        resource: rs.name.clone(),
        field: field.to_string(),
    }
}

/// The story's Kubernetes node subnets: the only CIDRs the cache admits.
pub const NODE_CIDRS: [&str; 2] = ["10.0.10.0/24", "10.0.11.0/24"];

/// (id, allowed CIDRs, allowed source groups) of a group this stack declares.
fn declared_group(sg: &ResourceState) -> Result<(String, Vec<String>, Vec<String>), VerifyError> {
    let id = if sg.id.is_empty() {
        sg.outputs
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| missing(sg, "id"))?
    } else {
        sg.id.clone()
    };
    let mut cidrs = Vec::new();
    let mut sources = Vec::new();
    for rule in sg
        .inputs
        .get("ingress")
        .and_then(Value::as_list)
        .unwrap_or_default()
    {
        let Some(rule) = rule.as_map() else { continue };
        for c in strings(rule.get("cidrBlocks"))
            .into_iter()
            .chain(strings(rule.get("ipv6CidrBlocks")))
        {
            if !cidrs.contains(&c) {
                cidrs.push(c);
            }
        }
        for g in strings(rule.get("securityGroups")) {
            if !sources.contains(&g) {
                sources.push(g);
            }
        }
    }
    Ok((id, cidrs, sources))
}

/// (id, allowed CIDRs, allowed source groups) of the network stack's group
/// that the replication group uses: the story's rule, "6379 from the
/// Kubernetes nodes' group and node subnets only", with the node subnets'
/// CIDRs (`privateSubnetCidrs`) and the nodes' group (`nodeSecurityGroupId`)
/// as the referenced network stack's outputs name them, recorded with the
/// reference; the story's node CIDRs when it does not name them.
fn referenced_group(
    state: &StackState,
    rg: &ResourceState,
    rg_sgs: &[String],
) -> Result<(String, Vec<String>, Vec<String>), VerifyError> {
    let networks: Vec<&Map> = state
        .resources
        .values()
        .filter(|r| r.type_token == REFERENCE_TYPE)
        .filter_map(|r| r.outputs.get("outputs").and_then(Value::as_map))
        .collect();
    let cache_group = |n: &Map| s(n, "elasticacheSecurityGroupId").map(str::to_string);
    let id = rg_sgs
        .iter()
        .find(|id| {
            networks
                .iter()
                .any(|n| cache_group(n).as_ref() == Some(*id))
        })
        .or_else(|| rg_sgs.first())
        .cloned()
        .ok_or_else(|| missing(rg, "securityGroupIds"))?;
    let network = networks
        .iter()
        .find(|n| cache_group(n).as_ref() == Some(&id))
        .or_else(|| networks.first().filter(|_| networks.len() == 1));
    let mut cidrs = network
        .map(|n| strings(n.get("privateSubnetCidrs")))
        .unwrap_or_default();
    if cidrs.is_empty() {
        cidrs = NODE_CIDRS.iter().map(|c| c.to_string()).collect();
    }
    let sources = network
        .and_then(|n| s(n, "nodeSecurityGroupId"))
        .map(|g| vec![g.to_string()])
        .unwrap_or_default();
    Ok((id, cidrs, sources))
}

impl Expectations {
    /// Reads the expectations from the stack's resources of types
    /// `aws:elasticache:ReplicationGroup` (required), `aws:ec2:SecurityGroup`
    /// (the group's, else the referenced network stack's: `pulumi:pulumi:StackReference`),
    /// `aws:secretsmanager:Secret` (required),
    /// `aws:elasticache:ParameterGroup` and `aws:kms:Key` (optional: the
    /// replication group's own inputs name them too), using their recorded
    /// state: physical ids, output ARNs and the resolved inputs last applied.
    pub fn from_state(
        spec: &StackSpec,
        state: &StackState,
        repo_root: &Path,
    ) -> Result<Expectations, VerifyError> {
        let look = Lookup { spec, state };
        let rg = look.required(RG_TYPE, |_| false)?;
        let ri = &rg.inputs;

        let replication_group_id = s(ri, "replicationGroupId")
            .map(str::to_string)
            .or_else(|| Some(rg.id.clone()).filter(|i| !i.is_empty()))
            .ok_or_else(|| missing(rg, "replicationGroupId"))?
            .to_ascii_lowercase();
        let node_type = s(ri, "nodeType")
            .ok_or_else(|| missing(rg, "nodeType"))?
            .to_string();
        let int = |k: &str, default: i64| match ri.get(k) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v.as_i64().ok_or_else(|| missing(rg, k)),
        };
        let num_node_groups = int("numNodeGroups", 1)?;
        let replicas_per_node_group = int("replicasPerNodeGroup", 0)?;
        let port = int("port", 6379)?;

        let environment = ri
            .get("tags")
            .and_then(Value::as_map)
            .and_then(|t| s(t, "environment"))
            .map(str::to_string)
            .unwrap_or_else(|| {
                let n = spec.name.as_str();
                n.rsplit_once('-').map(|(_, e)| e).unwrap_or(n).to_string()
            });
        let multi_az_input = ri
            .get("multiAzEnabled")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let require_failover_multi_az =
            multi_az_input || story_sizing(&environment).is_some_and(|(_, _, _, m)| m);

        // Security group: the one the replication group uses, declared in
        // this stack, or else the network stack's, read by a stack reference.
        let rg_sgs = strings(ri.get("securityGroupIds"));
        let (security_group_id, allowed_cidrs, allowed_source_security_groups) =
            match look.one(SG_TYPE, |r| rg_sgs.contains(&r.id))? {
                Some(sg) => declared_group(sg)?,
                None => referenced_group(state, rg, &rg_sgs)?,
            };

        // Parameter group: the replication group's input, else the declared group.
        let pg_input = s(ri, "parameterGroupName").map(str::to_string);
        let pg = look.one(PG_TYPE, |r| {
            pg_input.is_some()
                && r.outputs.get("name").and_then(Value::as_str) == pg_input.as_deref()
        })?;
        let parameter_group_name = pg_input
            .or_else(|| {
                pg.and_then(|p| p.outputs.get("name").and_then(Value::as_str))
                    .map(str::to_string)
            })
            .or_else(|| pg.map(|p| p.id.clone()).filter(|i| !i.is_empty()))
            .ok_or_else(|| missing(rg, "parameterGroupName"))?;

        // KMS key: the replication group's kmsKeyId, as the key's ARN when we know it.
        let kms_input = s(ri, "kmsKeyId").map(str::to_string);
        let key_arn = |r: &ResourceState| {
            r.outputs
                .get("arn")
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let key = look.one(KEY_TYPE, |r| {
            kms_input.as_deref().is_some_and(|k| {
                key_arn(r).is_some_and(|a| a == k || kms_key_id_of(&a) == kms_key_id_of(k))
            })
        });
        let key = match key {
            Ok(k) => k,
            // Several keys, none named by the group: the group's input decides.
            Err(_) if kms_input.is_some() => None,
            Err(e) => return Err(e),
        };
        let kms_key_arn = match (&kms_input, key.and_then(key_arn)) {
            (Some(input), Some(arn)) if kms_key_id_of(input) == kms_key_id_of(&arn) => Some(arn),
            (Some(input), _) => Some(input.clone()),
            (None, arn) => arn,
        };

        // The connection secret.
        let secret = look.required(SECRET_TYPE, |r| {
            r.outputs
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.contains("redis") && n.contains("connection"))
        })?;
        let secret_id = secret
            .outputs
            .get("arn")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .or_else(|| Some(secret.id.clone()).filter(|i| !i.is_empty()))
            .ok_or_else(|| missing(secret, "arn"))?;

        Ok(Expectations {
            stack: spec.name.clone(),
            environment,
            replication_group_id,
            node_type,
            num_node_groups,
            replicas_per_node_group,
            require_failover_multi_az,
            kms_key_arn,
            parameter_group_name,
            security_group_id,
            allowed_cidrs,
            allowed_source_security_groups,
            port,
            secret_id,
            namespacing_doc: repo_root.join(NAMESPACING_DOC),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_core::ResourceSpec;

    fn map(j: serde_json::Value) -> Map {
        match Value::from_json(&j) {
            Value::Map(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn rs(
        name: &str,
        token: &str,
        id: &str,
        inputs: serde_json::Value,
        outputs: serde_json::Value,
    ) -> ResourceState {
        ResourceState {
            name: name.into(),
            type_token: token.into(),
            id: id.into(),
            inputs: map(inputs),
            outputs: map(outputs),
            dependencies: vec![],
            protect: false,
            retain_on_delete: false,
            imported: false,
            ..Default::default()
        }
    }

    const KEY_ARN: &str =
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn prod() -> (StackSpec, StackState) {
        let mut spec = StackSpec::new("redis-prod");
        let mut state = StackState::default();
        let mut add = |r: ResourceState| {
            spec.add(ResourceSpec::new(&r.name, &r.type_token, Map::new()));
            state.resources.insert(r.name.clone(), r);
        };
        add(rs(
            "redisKey",
            KEY_TYPE,
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            serde_json::json!({}),
            serde_json::json!({"arn": KEY_ARN, "keyId": "1234abcd-12ab-34cd-56ef-1234567890ab"}),
        ));
        add(rs(
            "redisSecurityGroup",
            SG_TYPE,
            "sg-0a1",
            serde_json::json!({
                "name": "qualisys-redis-prod",
                "ingress": [{"protocol": "tcp", "fromPort": 6379, "toPort": 6379, "cidrBlocks": ["10.0.10.0/24", "10.0.11.0/24"]}]
            }),
            serde_json::json!({"id": "sg-0a1"}),
        ));
        add(rs(
            "redisParameters",
            PG_TYPE,
            "qualisys-redis7-prod",
            serde_json::json!({"name": "qualisys-redis7-prod"}),
            serde_json::json!({"name": "qualisys-redis7-prod"}),
        ));
        add(rs(
            "redis",
            RG_TYPE,
            "qualisys-redis-prod",
            serde_json::json!({
                "replicationGroupId": "qualisys-redis-prod",
                "nodeType": "cache.r5.large",
                "numNodeGroups": 2,
                "replicasPerNodeGroup": 1,
                "multiAzEnabled": true,
                "port": 6379,
                "kmsKeyId": KEY_ARN,
                "parameterGroupName": "qualisys-redis7-prod",
                "securityGroupIds": ["sg-0a1"],
                "authToken": {"t": "x"},
                "tags": {"environment": "prod", "story": "0.5"}
            }),
            serde_json::json!({}),
        ));
        add(rs(
            "redisConnectionSecret",
            SECRET_TYPE,
            "arn:aws:secretsmanager:us-east-1:1:secret:qualisys/prod/redis/connection-AbC",
            serde_json::json!({}),
            serde_json::json!({
                "arn": "arn:aws:secretsmanager:us-east-1:1:secret:qualisys/prod/redis/connection-AbC",
                "name": "qualisys/prod/redis/connection"
            }),
        ));
        (spec, state)
    }

    #[test]
    fn reads_the_prod_stack() {
        let (spec, state) = prod();
        let e = Expectations::from_state(&spec, &state, Path::new("/repo")).unwrap();
        assert_eq!(e.stack, "redis-prod");
        assert_eq!(e.environment, "prod");
        assert_eq!(e.replication_group_id, "qualisys-redis-prod");
        assert_eq!(e.node_type, "cache.r5.large");
        assert_eq!(
            (e.num_node_groups, e.replicas_per_node_group, e.port),
            (2, 1, 6379)
        );
        assert!(e.require_failover_multi_az);
        assert_eq!(e.kms_key_arn.as_deref(), Some(KEY_ARN));
        assert_eq!(e.parameter_group_name, "qualisys-redis7-prod");
        assert_eq!(e.security_group_id, "sg-0a1");
        assert_eq!(e.allowed_cidrs, vec!["10.0.10.0/24", "10.0.11.0/24"]);
        assert!(e.allowed_source_security_groups.is_empty());
        assert!(e.secret_id.ends_with("connection-AbC"));
        assert_eq!(
            e.namespacing_doc,
            Path::new("/repo/docs/key-namespacing.md")
        );
    }

    /// The Redis stack as it is now: no security group of its own; the
    /// replication group uses the network stack's, read by a stack reference.
    fn prod_by_reference() -> (StackSpec, StackState) {
        let (mut spec, mut state) = prod();
        spec.resources.retain(|r| r.type_token != SG_TYPE);
        state.resources.remove("redisSecurityGroup");
        let net = rs(
            "network",
            REFERENCE_TYPE,
            "network-prod",
            serde_json::json!({"name": "network-prod"}),
            serde_json::json!({"outputs": {
                "vpcId": "vpc-1",
                "elasticacheSecurityGroupId": "sg-0a1",
                "nodeSecurityGroupId": "sg-nodes",
                "privateSubnetCidrs": ["10.0.10.0/24", "10.0.11.0/24"]
            }, "secretOutputNames": []}),
        );
        spec.add(ResourceSpec::new("network", REFERENCE_TYPE, Map::new()));
        state.resources.insert("network".into(), net);
        (spec, state)
    }

    #[test]
    fn the_security_group_comes_from_the_referenced_network() {
        let (spec, state) = prod_by_reference();
        let e = Expectations::from_state(&spec, &state, Path::new(".")).unwrap();
        assert_eq!(e.security_group_id, "sg-0a1");
        assert_eq!(e.allowed_cidrs, vec!["10.0.10.0/24", "10.0.11.0/24"]);
        assert_eq!(e.allowed_source_security_groups, vec!["sg-nodes"]);

        // A network without those outputs: the story's node subnets, no source group.
        let (spec, mut state) = prod_by_reference();
        state.resources.get_mut("network").unwrap().outputs =
            map(serde_json::json!({"outputs": {"vpcId": "vpc-1"}}));
        let e = Expectations::from_state(&spec, &state, Path::new(".")).unwrap();
        assert_eq!(e.security_group_id, "sg-0a1");
        assert_eq!(e.allowed_cidrs, vec!["10.0.10.0/24", "10.0.11.0/24"]);
        assert!(e.allowed_source_security_groups.is_empty());

        // No group at all: named.
        let (spec, mut state) = prod_by_reference();
        state
            .resources
            .get_mut("redis")
            .unwrap()
            .inputs
            .remove("securityGroupIds");
        let err = Expectations::from_state(&spec, &state, Path::new(".")).unwrap_err();
        assert_eq!(
            err,
            VerifyError::MissingField {
                resource: "redis".into(),
                field: "securityGroupIds".into()
            }
        );
    }

    #[test]
    fn key_id_input_resolves_to_the_keys_arn() {
        let (spec, mut state) = prod();
        let rg = state.resources.get_mut("redis").unwrap();
        rg.inputs.insert(
            "kmsKeyId".into(),
            "1234abcd-12ab-34cd-56ef-1234567890ab".into(),
        );
        let e = Expectations::from_state(&spec, &state, Path::new(".")).unwrap();
        assert_eq!(e.kms_key_arn.as_deref(), Some(KEY_ARN));
    }

    #[test]
    fn dev_needs_no_multi_az_and_defaults_apply() {
        let (spec, mut state) = prod();
        let rg = state.resources.get_mut("redis").unwrap();
        rg.inputs.insert("multiAzEnabled".into(), false.into());
        rg.inputs.remove("replicasPerNodeGroup");
        rg.inputs.remove("port");
        rg.inputs.insert(
            "tags".into(),
            Value::Map(map(serde_json::json!({"environment": "dev"}))),
        );
        let e = Expectations::from_state(&spec, &state, Path::new(".")).unwrap();
        assert_eq!(e.environment, "dev");
        assert!(!e.require_failover_multi_az);
        assert_eq!((e.replicas_per_node_group, e.port), (0, 6379));
    }

    #[test]
    fn undeployed_and_undeclared_and_ambiguous_are_errors() {
        let (spec, mut state) = prod();
        state.resources.remove("redis");
        let err = Expectations::from_state(&spec, &state, Path::new(".")).unwrap_err();
        assert!(
            matches!(err, VerifyError::NotDeployed { ref resource, .. } if resource == "redis"),
            "{err}"
        );

        let (mut spec, state) = prod();
        spec.resources.retain(|r| r.type_token != SECRET_TYPE);
        let mut state2 = state.clone();
        state2.resources.remove("redisConnectionSecret");
        let err = Expectations::from_state(&spec, &state2, Path::new(".")).unwrap_err();
        assert!(
            matches!(err, VerifyError::NotDeclared { ref type_token, .. } if type_token == SECRET_TYPE)
        );

        let (mut spec, mut state) = prod();
        let mut other = state.resources["redis"].clone();
        other.name = "redis2".into();
        spec.add(ResourceSpec::new("redis2", RG_TYPE, Map::new()));
        state.resources.insert("redis2".into(), other);
        let err = Expectations::from_state(&spec, &state, Path::new(".")).unwrap_err();
        assert!(
            matches!(err, VerifyError::Ambiguous { count: 2, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("redis, redis2"));
    }

    #[test]
    fn the_security_group_used_by_the_group_wins_among_several() {
        let (mut spec, mut state) = prod();
        let mut other = state.resources["redisSecurityGroup"].clone();
        other.name = "otherSg".into();
        other.id = "sg-other".into();
        spec.add(ResourceSpec::new("otherSg", SG_TYPE, Map::new()));
        state.resources.insert("otherSg".into(), other);
        let e = Expectations::from_state(&spec, &state, Path::new(".")).unwrap();
        assert_eq!(e.security_group_id, "sg-0a1");
    }

    #[test]
    fn missing_node_type_is_named() {
        let (spec, mut state) = prod();
        state
            .resources
            .get_mut("redis")
            .unwrap()
            .inputs
            .remove("nodeType");
        let err = Expectations::from_state(&spec, &state, Path::new(".")).unwrap_err();
        assert_eq!(
            err,
            VerifyError::MissingField {
                resource: "redis".into(),
                field: "nodeType".into()
            }
        );
    }

    #[test]
    fn kms_arn_parsing() {
        assert_eq!(
            kms_key_id_of(KEY_ARN),
            "1234abcd-12ab-34cd-56ef-1234567890ab"
        );
        assert_eq!(kms_key_id_of("abc"), "abc");
    }
}
