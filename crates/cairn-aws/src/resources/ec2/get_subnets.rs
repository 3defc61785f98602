//! `aws:ec2:getSubnets`: the ids of the subnets matching filters and tags
//! (EC2 DescribeSubnets, every page).

use crate::clients::Shared;
use crate::resources::aws::{ec2_filters, filters_input, s, strings, tags_input};
use crate::util::api_error;
use cairn_core::provider::{CallContext, DataSource, DataSourceSchema, ProviderError};
use cairn_core::value::Map;

pub const TOKEN: &str = "aws:ec2:getSubnets";

pub struct GetSubnets {
    clients: Shared,
    schema: DataSourceSchema,
}

impl GetSubnets {
    pub fn new(clients: Shared) -> Self {
        GetSubnets {
            clients,
            schema: DataSourceSchema {
                token: TOKEN.into(),
                description: "The ids of the subnets matching filters and tags.".into(),
                inputs: vec![filters_input(), tags_input()],
                outputs: ["id", "ids"].map(String::from).to_vec(),
            },
        }
    }
}

#[async_trait::async_trait]
impl DataSource for GetSubnets {
    fn schema(&self) -> &DataSourceSchema {
        &self.schema
    }

    async fn invoke(&self, _ctx: &CallContext, args: &Map) -> Result<Map, ProviderError> {
        let sdk = self.clients.get().await?;
        let filters = ec2_filters(args);
        let mut ids = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = sdk
                .ec2
                .describe_subnets()
                .set_filters(Some(filters.clone()).filter(|f| !f.is_empty()))
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| api_error(TOKEN, "ec2:DescribeSubnets", e, &[]))?;
            ids.extend(
                out.subnets()
                    .iter()
                    .filter_map(|x| x.subnet_id().map(str::to_string)),
            );
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        let region = sdk
            .ec2
            .config()
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default();
        let mut m = Map::new();
        m.insert("id".into(), s(region));
        m.insert("ids".into(), strings(ids));
        Ok(m)
    }
}
