//! `aws:ec2:getVpc`: exactly one VPC by id, CIDR, default flag, filters
//! and tags (EC2 DescribeVpcs).

use crate::clients::Shared;
use crate::resources::aws::{ec2_filters, filters_input, input, s, tags_input};
use crate::util::api_error;
use aws_sdk_ec2::types::Filter;
use cairn_core::provider::{CallContext, DataSource, DataSourceSchema, ProviderError};
use cairn_core::schema::PropType;
use cairn_core::value::{Map, Value};

pub const TOKEN: &str = "aws:ec2:getVpc";

pub struct GetVpc {
    clients: Shared,
    schema: DataSourceSchema,
}

impl GetVpc {
    pub fn new(clients: Shared) -> Self {
        GetVpc {
            clients,
            schema: DataSourceSchema {
                token: TOKEN.into(),
                description: "One VPC, found by id, CIDR block, default flag, filters or tags."
                    .into(),
                inputs: vec![
                    input("id", PropType::string(), "the VPC id"),
                    input(
                        "cidrBlock",
                        PropType::string(),
                        "the VPC's primary CIDR block",
                    ),
                    input("default", PropType::Bool, "the region's default VPC"),
                    input(
                        "state",
                        PropType::one_of(&["pending", "available"]),
                        "its state",
                    ),
                    filters_input(),
                    tags_input(),
                ],
                outputs: [
                    "arn",
                    "cidrBlock",
                    "default",
                    "dhcpOptionsId",
                    "id",
                    "instanceTenancy",
                    "ownerId",
                    "state",
                    "tags",
                ]
                .map(String::from)
                .to_vec(),
            },
        }
    }
}

pub(crate) fn tags_value<'a>(tags: impl IntoIterator<Item = &'a aws_sdk_ec2::types::Tag>) -> Value {
    Value::Map(
        tags.into_iter()
            .filter_map(|t| Some((t.key()?.to_string(), s(t.value().unwrap_or_default()))))
            .collect(),
    )
}

fn filter(name: &str, value: impl Into<String>) -> Filter {
    Filter::builder().name(name).values(value).build()
}

#[async_trait::async_trait]
impl DataSource for GetVpc {
    fn schema(&self) -> &DataSourceSchema {
        &self.schema
    }

    async fn invoke(&self, _ctx: &CallContext, args: &Map) -> Result<Map, ProviderError> {
        let sdk = self.clients.get().await?;
        let mut filters = ec2_filters(args);
        if let Some(c) = args.get("cidrBlock").and_then(Value::as_str) {
            filters.push(filter("cidr", c));
        }
        if let Some(d) = args.get("default").and_then(Value::as_bool) {
            filters.push(filter("is-default", d.to_string()));
        }
        if let Some(st) = args.get("state").and_then(Value::as_str) {
            filters.push(filter("state", st));
        }
        let mut req = sdk
            .ec2
            .describe_vpcs()
            .set_filters(Some(filters).filter(|f| !f.is_empty()));
        if let Some(id) = args.get("id").and_then(Value::as_str) {
            req = req.vpc_ids(id);
        }
        let out = req
            .send()
            .await
            .map_err(|e| api_error(TOKEN, "ec2:DescribeVpcs", e, &[]))?;
        let vpcs = out.vpcs();
        let [vpc] = vpcs else {
            return Err(ProviderError::invalid(
                TOKEN,
                format!(
                    "{} VPCs match; the arguments must match exactly one",
                    vpcs.len()
                ),
            ));
        };
        let id = vpc.vpc_id().unwrap_or_default().to_string();
        let owner = vpc.owner_id().unwrap_or_default().to_string();
        let region = sdk
            .ec2
            .config()
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default();
        let mut m = Map::new();
        m.insert(
            "arn".into(),
            s(format!("arn:aws:ec2:{region}:{owner}:vpc/{id}")),
        );
        m.insert("cidrBlock".into(), s(vpc.cidr_block().unwrap_or_default()));
        m.insert(
            "default".into(),
            Value::Bool(vpc.is_default().unwrap_or(false)),
        );
        m.insert(
            "dhcpOptionsId".into(),
            s(vpc.dhcp_options_id().unwrap_or_default()),
        );
        m.insert("id".into(), s(id));
        m.insert(
            "instanceTenancy".into(),
            s(vpc
                .instance_tenancy()
                .map(|t| t.as_str())
                .unwrap_or("default")),
        );
        m.insert("ownerId".into(), s(owner));
        m.insert(
            "state".into(),
            s(vpc.state().map(|t| t.as_str()).unwrap_or_default()),
        );
        m.insert("tags".into(), tags_value(vpc.tags()));
        Ok(m)
    }
}
