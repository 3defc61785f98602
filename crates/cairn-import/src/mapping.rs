//! Terraform resource types to cairn type tokens and import ids, and
//! Terraform attributes (snake_case) to cairn properties (camelCase, only
//! those the type's schema declares).

use crate::error::ImportError;
use crate::tfstate::{PathStep, TfInstance, TfState};
use cairn_core::schema::{PropType, ResourceSchema};
use cairn_core::{Map, Value};
use serde_json::Value as Json;

/// How the import id is formed from an instance's attributes.
#[derive(Clone, Copy, Debug)]
enum IdRule {
    /// One attribute (`id`, `arn`, `name`...).
    Attr(&'static str),
    /// `rtb-…_10.0.0.0/16` (Terraform's `aws_route` import id).
    Route,
    /// `subnet-…/rtb-…` or `igw-…/rtb-…` (Terraform's association import id).
    Association,
    /// `sg-…_ingress_tcp_6379_6379_10.0.10.0/24` (Terraform's rule import id).
    SgRule,
    /// Two attributes joined (`role/policyArn` for a role policy attachment).
    Pair(&'static str, &'static str, &'static str),
}

struct Mapping {
    tf_type: &'static str,
    token: &'static str,
    id: IdRule,
    /// Terraform attribute names whose cairn property is not their camelCase.
    renames: &'static [(&'static str, &'static str)],
}

const fn m(tf_type: &'static str, token: &'static str, id: IdRule) -> Mapping {
    Mapping {
        tf_type,
        token,
        id,
        renames: &[],
    }
}

/// The types cairn imports. The network types use Pulumi AWS (classic)
/// tokens, so `cidr_block` is `cidrBlock`.
static MAPPINGS: &[Mapping] = &[
    m("aws_vpc", "aws:ec2:Vpc", IdRule::Attr("id")),
    m("aws_subnet", "aws:ec2:Subnet", IdRule::Attr("id")),
    m(
        "aws_internet_gateway",
        "aws:ec2:InternetGateway",
        IdRule::Attr("id"),
    ),
    m("aws_eip", "aws:ec2:Eip", IdRule::Attr("allocation_id")),
    m("aws_nat_gateway", "aws:ec2:NatGateway", IdRule::Attr("id")),
    Mapping {
        tf_type: "aws_route_table",
        token: "aws:ec2:RouteTable",
        id: IdRule::Attr("id"),
        renames: &[("route", "routes")],
    },
    m("aws_route", "aws:ec2:Route", IdRule::Route),
    m(
        "aws_route_table_association",
        "aws:ec2:RouteTableAssociation",
        IdRule::Association,
    ),
    m(
        "aws_security_group",
        "aws:ec2:SecurityGroup",
        IdRule::Attr("id"),
    ),
    m(
        "aws_security_group_rule",
        "aws:ec2:SecurityGroupRule",
        IdRule::SgRule,
    ),
    Mapping {
        tf_type: "aws_vpc_security_group_ingress_rule",
        token: "aws:ec2:SecurityGroupRule",
        id: IdRule::Attr("security_group_rule_id"),
        renames: &[
            ("ip_protocol", "protocol"),
            ("referenced_security_group_id", "sourceSecurityGroupId"),
        ],
    },
    Mapping {
        tf_type: "aws_vpc_security_group_egress_rule",
        token: "aws:ec2:SecurityGroupRule",
        id: IdRule::Attr("security_group_rule_id"),
        renames: &[
            ("ip_protocol", "protocol"),
            ("referenced_security_group_id", "sourceSecurityGroupId"),
        ],
    },
    m(
        "aws_db_subnet_group",
        "aws:rds:SubnetGroup",
        IdRule::Attr("name"),
    ),
    m(
        "aws_elasticache_subnet_group",
        "aws:elasticache:SubnetGroup",
        IdRule::Attr("name"),
    ),
    m(
        "aws_elasticache_parameter_group",
        "aws:elasticache:ParameterGroup",
        IdRule::Attr("name"),
    ),
    m(
        "aws_elasticache_replication_group",
        "aws:elasticache:ReplicationGroup",
        IdRule::Attr("id"),
    ),
    m("aws_kms_key", "aws:kms:Key", IdRule::Attr("key_id")),
    m("aws_kms_alias", "aws:kms:Alias", IdRule::Attr("name")),
    m(
        "aws_secretsmanager_secret",
        "aws:secretsmanager:Secret",
        IdRule::Attr("arn"),
    ),
    m("aws_iam_policy", "aws:iam:Policy", IdRule::Attr("arn")),
    m("aws_iam_role", "aws:iam:Role", IdRule::Attr("name")),
    m(
        "aws_iam_role_policy_attachment",
        "aws:iam:RolePolicyAttachment",
        IdRule::Pair("role", "/", "policy_arn"),
    ),
    Mapping {
        tf_type: "aws_iam_openid_connect_provider",
        token: "aws:iam:OpenIdConnectProvider",
        id: IdRule::Attr("arn"),
        renames: &[
            ("client_id_list", "clientIdLists"),
            ("thumbprint_list", "thumbprintLists"),
        ],
    },
    Mapping {
        tf_type: "aws_ecr_repository",
        token: "aws:ecr:Repository",
        id: IdRule::Attr("name"),
        renames: &[("encryption_configuration", "encryptionConfigurations")],
    },
    m(
        "aws_ecr_lifecycle_policy",
        "aws:ecr:LifecyclePolicy",
        IdRule::Attr("repository"),
    ),
    m("aws_s3_bucket", "aws:s3:Bucket", IdRule::Attr("bucket")),
    m(
        "aws_s3_bucket_versioning",
        "aws:s3:BucketVersioning",
        IdRule::Attr("bucket"),
    ),
    Mapping {
        tf_type: "aws_s3_bucket_server_side_encryption_configuration",
        token: "aws:s3:BucketServerSideEncryptionConfiguration",
        id: IdRule::Attr("bucket"),
        renames: &[("rule", "rules")],
    },
    m(
        "aws_s3_bucket_public_access_block",
        "aws:s3:BucketPublicAccessBlock",
        IdRule::Attr("bucket"),
    ),
    m(
        "aws_s3_bucket_policy",
        "aws:s3:BucketPolicy",
        IdRule::Attr("bucket"),
    ),
    Mapping {
        tf_type: "aws_db_parameter_group",
        token: "aws:rds:ParameterGroup",
        id: IdRule::Attr("name"),
        renames: &[("parameter", "parameters")],
    },
    // Terraform's `id` of a DB instance is its resource id (`db-…`) in
    // provider v5; RDS and cairn name it by identifier.
    m(
        "aws_db_instance",
        "aws:rds:Instance",
        IdRule::Attr("identifier"),
    ),
    m("aws_eks_cluster", "aws:eks:Cluster", IdRule::Attr("name")),
    // `cluster:nodegroup`, Terraform's id and import id.
    m(
        "aws_eks_node_group",
        "aws:eks:NodeGroup",
        IdRule::Attr("id"),
    ),
];

/// Every Terraform type cairn imports: `(tf_type, token, renames)`, where
/// `renames` lists the attributes whose property is not their camelCase.
pub fn mappings() -> impl Iterator<
    Item = (
        &'static str,
        &'static str,
        &'static [(&'static str, &'static str)],
    ),
> {
    MAPPINGS.iter().map(|m| (m.tf_type, m.token, m.renames))
}

/// The cairn property a Terraform attribute of `tf_type` becomes (before
/// the schema filters it).
pub fn property_name(tf_type: &str, attribute: &str) -> String {
    MAPPINGS
        .iter()
        .find(|m| m.tf_type == tf_type)
        .and_then(|m| m.renames.iter().find(|(from, _)| *from == attribute))
        .map(|(_, to)| to.to_string())
        .unwrap_or_else(|| crate::names::camel(attribute))
}

/// The cairn token a Terraform type maps to, if any.
pub fn token_for(tf_type: &str) -> Option<&'static str> {
    MAPPINGS
        .iter()
        .find(|m| m.tf_type == tf_type)
        .map(|m| m.token)
}

/// A resource ready to be read from the cloud by id.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// The Terraform address (or the bulk file's name).
    pub address: String,
    /// Where a logical name comes from: module parts, then the base.
    pub name_hint: NameHint,
    pub token: String,
    pub import_id: String,
    /// What Terraform recorded, as cairn properties (sensitive ones
    /// wrapped as secrets); `None` for a bulk import file.
    pub terraform: Option<Map>,
}

/// The parts a logical name is made from.
#[derive(Clone, Debug, PartialEq)]
pub struct NameHint {
    pub modules: Vec<String>,
    /// The resource name in the program (`database`), or the bulk name.
    pub name: String,
    /// The type's last words (`Subnet`), empty for a bulk entry.
    pub type_word: String,
    pub index: Option<String>,
}

/// An instance cairn cannot import, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Skipped {
    pub address: String,
    pub tf_type: String,
    pub why: String,
}

/// What a state file imports as.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selection {
    pub candidates: Vec<Candidate>,
    pub unknown: Vec<Skipped>,
    pub skipped_data: Vec<String>,
    /// The state's root outputs as cairn outputs (camelCase; sensitive
    /// ones as secrets).
    pub outputs: Map,
}

impl Selection {
    /// `--strict`: any unknown type is an error.
    pub fn strict(&self) -> Result<(), ImportError> {
        if self.unknown.is_empty() {
            return Ok(());
        }
        Err(ImportError::UnknownTypes {
            count: self.unknown.len(),
            list: self
                .unknown
                .iter()
                .map(|u| format!("{} ({})", u.address, u.why))
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

/// Maps every managed instance. `schema_of` answers which tokens this
/// build of cairn provides (and their schemas).
pub fn select<'a>(
    file: &str,
    state: &TfState,
    schema_of: &dyn Fn(&str) -> Option<&'a ResourceSchema>,
) -> Result<Selection, ImportError> {
    let mut out = Selection {
        skipped_data: state.skipped_data.clone(),
        ..Selection::default()
    };
    for o in &state.outputs {
        if let Some(v) = convert(&o.value, &PropType::Any) {
            let v = if o.sensitive { Value::secret(v) } else { v };
            out.outputs.insert(crate::names::camel(&o.name), v);
        }
    }
    let routed: std::collections::BTreeSet<&str> = state
        .instances
        .iter()
        .filter(|i| i.tf_type == "aws_route")
        .filter_map(|i| attr_str(i, "route_table_id"))
        .collect();
    for inst in &state.instances {
        let Some(mapping) = MAPPINGS.iter().find(|m| m.tf_type == inst.tf_type) else {
            out.unknown.push(Skipped {
                address: inst.address.clone(),
                tf_type: inst.tf_type.clone(),
                why: format!("cairn has no type for `{}`", inst.tf_type),
            });
            continue;
        };
        let Some(schema) = schema_of(mapping.token) else {
            out.unknown.push(Skipped {
                address: inst.address.clone(),
                tf_type: inst.tf_type.clone(),
                why: format!(
                    "`{}` maps to {}, which this build of cairn does not provide",
                    inst.tf_type, mapping.token
                ),
            });
            continue;
        };
        let import_id = import_id(file, mapping, inst)?;
        let mut terraform = properties(mapping, inst, schema);
        // Terraform records a table's routes in `route` even when they are
        // `aws_route` resources; those are imported as routes, so the table
        // must not manage them inline as well.
        if inst.tf_type == "aws_route_table" && routed.contains(import_id.as_str()) {
            terraform.remove("routes");
        }
        out.candidates.push(Candidate {
            address: inst.address.clone(),
            name_hint: NameHint {
                modules: inst.module_parts(),
                name: inst.name.clone(),
                type_word: type_word(&inst.tf_type),
                index: inst.index.as_ref().map(|k| match k {
                    crate::tfstate::IndexKey::Int(i) => i.to_string(),
                    crate::tfstate::IndexKey::Str(s) => s.clone(),
                }),
            },
            token: mapping.token.to_string(),
            import_id,
            terraform: Some(terraform),
        });
    }
    Ok(out)
}

/// `aws_route_table_association` → `RouteTableAssociation`.
fn type_word(tf_type: &str) -> String {
    let rest = tf_type.split_once('_').map(|(_, r)| r).unwrap_or(tf_type);
    crate::names::pascal(rest)
}

fn attr_str<'a>(inst: &'a TfInstance, k: &str) -> Option<&'a str> {
    inst.attributes
        .get(k)
        .and_then(Json::as_str)
        .filter(|s| !s.is_empty())
}

fn import_id(file: &str, mapping: &Mapping, inst: &TfInstance) -> Result<String, ImportError> {
    let need = |k: &str| {
        attr_str(inst, k)
            .map(str::to_string)
            .ok_or_else(|| ImportError::NoId {
                file: file.to_string(),
                address: inst.address.clone(),
                tf_type: inst.tf_type.clone(),
                attribute: k.to_string(),
            })
    };
    Ok(match mapping.id {
        IdRule::Attr(k) => need(k).or_else(|_| need("id"))?,
        IdRule::Route => {
            let rtb = need("route_table_id")?;
            let dest = attr_str(inst, "destination_cidr_block")
                .or_else(|| attr_str(inst, "destination_ipv6_cidr_block"))
                .or_else(|| attr_str(inst, "destination_prefix_list_id"))
                .map(str::to_string)
                .map_or_else(|| need("destination_cidr_block"), Ok)?;
            format!("{rtb}_{dest}")
        }
        IdRule::Association => {
            let rtb = need("route_table_id")?;
            let target = attr_str(inst, "subnet_id")
                .or_else(|| attr_str(inst, "gateway_id"))
                .map(str::to_string)
                .map_or_else(|| need("subnet_id"), Ok)?;
            format!("{target}/{rtb}")
        }
        IdRule::SgRule => {
            let sg = need("security_group_id")?;
            let kind = need("type")?;
            let protocol = match attr_str(inst, "protocol").unwrap_or("-1") {
                "-1" => "all".to_string(),
                p => p.to_string(),
            };
            let port = |k: &str| {
                inst.attributes
                    .get(k)
                    .and_then(Json::as_i64)
                    .unwrap_or(0)
                    .to_string()
            };
            let mut sources: Vec<String> = Vec::new();
            for list in ["cidr_blocks", "ipv6_cidr_blocks", "prefix_list_ids"] {
                if let Some(Json::Array(items)) = inst.attributes.get(list) {
                    sources.extend(items.iter().filter_map(Json::as_str).map(str::to_string));
                }
            }
            if let Some(s) = attr_str(inst, "source_security_group_id") {
                sources.push(s.to_string());
            }
            if inst.attributes.get("self").and_then(Json::as_bool) == Some(true) {
                sources.push("self".into());
            }
            let mut id = format!(
                "{sg}_{kind}_{protocol}_{}_{}",
                port("from_port"),
                port("to_port")
            );
            for s in sources {
                id.push('_');
                id.push_str(&s);
            }
            id
        }
        IdRule::Pair(a, sep, b) => format!("{}{sep}{}", need(a)?, need(b)?),
    })
}

/// The instance's attributes as cairn properties: camelCase names, only
/// what the schema declares (nested objects too), Terraform's empty
/// values (`null`, `""`, `[]`, `{}`) dropped, sensitive ones as secrets.
fn properties(mapping: &Mapping, inst: &TfInstance, schema: &ResourceSchema) -> Map {
    let mut out = Map::new();
    for (k, v) in &inst.attributes {
        let name = property_name(mapping.tf_type, k);
        let Some(prop) = schema.prop(&name) else {
            continue;
        };
        let Some(mut value) = convert(v, &prop.ty) else {
            continue;
        };
        // A single CIDR where the schema wants a list (the newer rule resources).
        if let (PropType::List { .. }, Value::String(_)) = (&prop.ty, &value) {
            value = Value::List(vec![value]);
        }
        if inst.is_sensitive(k) || prop.secret {
            value = Value::secret(value);
        }
        out.insert(name, value);
    }
    for (from, to) in [("cidr_ipv4", "cidrBlocks")] {
        if let (Some(v), Some(_)) = (attr_str(inst, from), schema.prop(to)) {
            out.entry(to.to_string())
                .or_insert_with(|| Value::List(vec![Value::from(v)]));
        }
    }
    if inst.tf_type.starts_with("aws_vpc_security_group_") && schema.prop("type").is_some() {
        let kind = if inst.tf_type.contains("ingress") {
            "ingress"
        } else {
            "egress"
        };
        out.insert("type".into(), Value::from(kind));
    }
    out
}

/// Terraform JSON to a cairn value shaped by `ty`; `None` for an empty value.
fn convert(v: &Json, ty: &PropType) -> Option<Value> {
    match v {
        Json::Null => None,
        Json::String(s) if s.is_empty() => None,
        // Terraform keeps a nested block as a list of one object; cairn's
        // schema has the object itself (`vpc_config`, `scaling_config`).
        Json::Array(items) if matches!(ty, PropType::Object { .. }) => match items.as_slice() {
            [one] => convert(one, ty),
            _ => None,
        },
        Json::Array(items) => {
            let item_ty = match ty {
                PropType::List { items } => items.as_ref(),
                _ => &PropType::Any,
            };
            let list: Vec<Value> = items.iter().filter_map(|i| convert(i, item_ty)).collect();
            (!list.is_empty()).then_some(Value::List(list))
        }
        Json::Object(o) => {
            let mut map = Map::new();
            for (k, v) in o {
                let (key, sub) = match ty {
                    PropType::Object { properties } => {
                        let key = crate::names::camel(k);
                        match properties.iter().find(|p| p.name == key) {
                            Some(p) => (key, &p.ty),
                            None => continue,
                        }
                    }
                    PropType::Map { values } => (k.clone(), values.as_ref()),
                    _ => (k.clone(), &PropType::Any),
                };
                if let Some(v) = convert(v, sub) {
                    map.insert(key, v);
                }
            }
            (!map.is_empty()).then_some(Value::Map(map))
        }
        other => Some(Value::from_json(other)),
    }
}

/// Paths as text for reports (`password`, `route[0].cidr_block`).
pub fn path_text(path: &[PathStep]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            PathStep::Attr(a) if out.is_empty() => out.push_str(a),
            PathStep::Attr(a) => {
                out.push('.');
                out.push_str(a);
            }
            PathStep::Index(k) => out.push_str(&k.to_string()),
        }
    }
    out
}
