//! `aws:getRegion`: the region of this run (or the named one), with its EC2
//! endpoint (EC2 DescribeRegions).

use super::{input, s};
use crate::clients::Shared;
use crate::util::api_error;
use cairn_core::provider::{CallContext, DataSource, DataSourceSchema, ProviderError};
use cairn_core::schema::PropType;
use cairn_core::value::{Map, Value};

pub const TOKEN: &str = "aws:getRegion";

pub struct GetRegion {
    clients: Shared,
    schema: DataSourceSchema,
}

impl GetRegion {
    pub fn new(clients: Shared) -> Self {
        GetRegion {
            clients,
            schema: DataSourceSchema {
                token: TOKEN.into(),
                description: "The region of this run, or the one named.".into(),
                inputs: vec![
                    input(
                        "name",
                        PropType::string(),
                        "a region name, e.g. `eu-west-1` (default: this run's)",
                    ),
                    input(
                        "endpoint",
                        PropType::string(),
                        "the region whose EC2 endpoint this is",
                    ),
                ],
                outputs: ["endpoint", "id", "name"].map(String::from).to_vec(),
            },
        }
    }
}

#[async_trait::async_trait]
impl DataSource for GetRegion {
    fn schema(&self) -> &DataSourceSchema {
        &self.schema
    }

    async fn invoke(&self, _ctx: &CallContext, args: &Map) -> Result<Map, ProviderError> {
        let sdk = self.clients.get().await?;
        let current = sdk
            .ec2
            .config()
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default();
        let wanted = args
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(&current)
            .to_string();
        let out = sdk
            .ec2
            .describe_regions()
            .all_regions(true)
            .send()
            .await
            .map_err(|e| api_error(TOKEN, "ec2:DescribeRegions", e, &[]))?;
        let endpoint_arg = args.get("endpoint").and_then(Value::as_str);
        let found = out.regions().iter().find(|r| match endpoint_arg {
            Some(e) => r.endpoint() == Some(e),
            None => r.region_name() == Some(wanted.as_str()),
        });
        let Some(region) = found else {
            return Err(ProviderError::invalid(
                TOKEN,
                format!(
                    "no region {}",
                    endpoint_arg
                        .map(|e| format!("with endpoint `{e}`"))
                        .unwrap_or_else(|| format!("`{wanted}`"))
                ),
            ));
        };
        let name = region.region_name().unwrap_or_default().to_string();
        let mut m = Map::new();
        m.insert("endpoint".into(), s(region.endpoint().unwrap_or_default()));
        m.insert("id".into(), s(&name));
        m.insert("name".into(), s(name));
        Ok(m)
    }
}
