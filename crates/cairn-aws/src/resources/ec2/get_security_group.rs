//! `aws:ec2:getSecurityGroup`: exactly one security group by id, name, VPC,
//! filters and tags (EC2 DescribeSecurityGroups).

use super::get_vpc::tags_value;
use crate::clients::Shared;
use crate::resources::aws::{ec2_filters, filters_input, input, s, tags_input};
use crate::util::api_error;
use aws_sdk_ec2::types::Filter;
use cairn_core::provider::{CallContext, DataSource, DataSourceSchema, ProviderError};
use cairn_core::schema::PropType;
use cairn_core::value::{Map, Value};

pub const TOKEN: &str = "aws:ec2:getSecurityGroup";

pub struct GetSecurityGroup {
    clients: Shared,
    schema: DataSourceSchema,
}

impl GetSecurityGroup {
    pub fn new(clients: Shared) -> Self {
        GetSecurityGroup {
            clients,
            schema: DataSourceSchema {
                token: TOKEN.into(),
                description: "One security group, found by id, name, VPC, filters or tags.".into(),
                inputs: vec![
                    input("id", PropType::string(), "the group id"),
                    input("name", PropType::string(), "the group name"),
                    input("vpcId", PropType::string(), "the group's VPC"),
                    filters_input(),
                    tags_input(),
                ],
                outputs: ["arn", "description", "id", "name", "tags", "vpcId"]
                    .map(String::from)
                    .to_vec(),
            },
        }
    }
}

#[async_trait::async_trait]
impl DataSource for GetSecurityGroup {
    fn schema(&self) -> &DataSourceSchema {
        &self.schema
    }

    async fn invoke(&self, _ctx: &CallContext, args: &Map) -> Result<Map, ProviderError> {
        let sdk = self.clients.get().await?;
        let mut filters = ec2_filters(args);
        for (arg, name) in [("name", "group-name"), ("vpcId", "vpc-id")] {
            if let Some(v) = args.get(arg).and_then(Value::as_str) {
                filters.push(Filter::builder().name(name).values(v).build());
            }
        }
        let mut req = sdk
            .ec2
            .describe_security_groups()
            .set_filters(Some(filters).filter(|f| !f.is_empty()));
        if let Some(id) = args.get("id").and_then(Value::as_str) {
            req = req.group_ids(id);
        }
        let out = req
            .send()
            .await
            .map_err(|e| api_error(TOKEN, "ec2:DescribeSecurityGroups", e, &[]))?;
        let groups = out.security_groups();
        let [g] = groups else {
            return Err(ProviderError::invalid(
                TOKEN,
                format!(
                    "{} security groups match; the arguments must match exactly one",
                    groups.len()
                ),
            ));
        };
        let id = g.group_id().unwrap_or_default().to_string();
        let region = sdk
            .ec2
            .config()
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default();
        let owner = g.owner_id().unwrap_or_default();
        let mut m = Map::new();
        m.insert(
            "arn".into(),
            s(format!("arn:aws:ec2:{region}:{owner}:security-group/{id}")),
        );
        m.insert("description".into(), s(g.description().unwrap_or_default()));
        m.insert("id".into(), s(id));
        m.insert("name".into(), s(g.group_name().unwrap_or_default()));
        m.insert("tags".into(), tags_value(g.tags()));
        m.insert("vpcId".into(), s(g.vpc_id().unwrap_or_default()));
        Ok(m)
    }
}
