//! `aws:getCallerIdentity`: STS GetCallerIdentity.

use super::s;
use crate::clients::Shared;
use crate::util::api_error;
use cairn_core::provider::{CallContext, DataSource, DataSourceSchema, ProviderError};
use cairn_core::value::Map;

pub const TOKEN: &str = "aws:getCallerIdentity";

pub struct GetCallerIdentity {
    clients: Shared,
    schema: DataSourceSchema,
}

impl GetCallerIdentity {
    pub fn new(clients: Shared) -> Self {
        GetCallerIdentity {
            clients,
            schema: DataSourceSchema {
                token: TOKEN.into(),
                description: "The account, ARN and user id of the credentials in use.".into(),
                inputs: Vec::new(),
                outputs: ["accountId", "arn", "id", "userId"]
                    .map(String::from)
                    .to_vec(),
            },
        }
    }
}

#[async_trait::async_trait]
impl DataSource for GetCallerIdentity {
    fn schema(&self) -> &DataSourceSchema {
        &self.schema
    }

    async fn invoke(&self, _ctx: &CallContext, _args: &Map) -> Result<Map, ProviderError> {
        let sdk = self.clients.get().await?;
        let out = sdk
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| api_error(TOKEN, "sts:GetCallerIdentity", e, &[]))?;
        let account = out.account().unwrap_or_default().to_string();
        let mut m = Map::new();
        m.insert("accountId".into(), s(&account));
        m.insert("arn".into(), s(out.arn().unwrap_or_default()));
        m.insert("id".into(), s(account));
        m.insert("userId".into(), s(out.user_id().unwrap_or_default()));
        Ok(m)
    }
}
