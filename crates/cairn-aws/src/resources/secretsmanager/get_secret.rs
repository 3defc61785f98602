//! `aws:secretsmanager:getSecret`: a secret's metadata by ARN or name
//! (Secrets Manager DescribeSecret; never its value).

use crate::clients::Shared;
use crate::resources::aws::{input, s};
use crate::util::api_error;
use cairn_core::provider::{
    CallContext, CheckFailure, DataSource, DataSourceSchema, ProviderError,
};
use cairn_core::schema::PropType;
use cairn_core::value::{Map, PropertyPath, Value};

pub const TOKEN: &str = "aws:secretsmanager:getSecret";

pub struct GetSecret {
    clients: Shared,
    schema: DataSourceSchema,
}

impl GetSecret {
    pub fn new(clients: Shared) -> Self {
        GetSecret {
            clients,
            schema: DataSourceSchema {
                token: TOKEN.into(),
                description: "A secret's metadata (not its value), by ARN or name.".into(),
                inputs: vec![
                    input("arn", PropType::string(), "the secret's ARN"),
                    input("name", PropType::string(), "the secret's name"),
                ],
                outputs: ["arn", "description", "id", "kmsKeyId", "name", "tags"]
                    .map(String::from)
                    .to_vec(),
            },
        }
    }
}

#[async_trait::async_trait]
impl DataSource for GetSecret {
    fn schema(&self) -> &DataSourceSchema {
        &self.schema
    }

    fn check(&self, args: &Map) -> Vec<CheckFailure> {
        let (arn, name) = (args.contains_key("arn"), args.contains_key("name"));
        if arn == name {
            return vec![CheckFailure::error(
                "aws::secretsmanager::get-secret-key",
                PropertyPath::root(),
                "give exactly one of `arn` and `name`",
            )
            .with_help("e.g. `name: prod/db-password`")];
        }
        Vec::new()
    }

    async fn invoke(&self, _ctx: &CallContext, args: &Map) -> Result<Map, ProviderError> {
        let sdk = self.clients.get().await?;
        let id = args
            .get("arn")
            .or_else(|| args.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let out = sdk
            .sm
            .describe_secret()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| api_error(TOKEN, "secretsmanager:DescribeSecret", e, &[]))?;
        let arn = out.arn().unwrap_or_default().to_string();
        let tags = out
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), s(t.value().unwrap_or_default()))))
            .collect();
        let mut m = Map::new();
        m.insert("arn".into(), s(&arn));
        m.insert(
            "description".into(),
            s(out.description().unwrap_or_default()),
        );
        m.insert("id".into(), s(arn));
        m.insert("kmsKeyId".into(), s(out.kms_key_id().unwrap_or_default()));
        m.insert("name".into(), s(out.name().unwrap_or_default()));
        m.insert("tags".into(), Value::Map(tags));
        Ok(m)
    }
}
