//! `aws:kms:getAlias`: an alias and its target key (KMS ListAliases,
//! DescribeKey for the key's ARN).

use crate::clients::Shared;
use crate::resources::aws::{input, s};
use crate::util::api_error;
use cairn_core::provider::{CallContext, DataSource, DataSourceSchema, ProviderError};
use cairn_core::schema::PropType;
use cairn_core::value::{Map, Value};

pub const TOKEN: &str = "aws:kms:getAlias";

pub struct GetAlias {
    clients: Shared,
    schema: DataSourceSchema,
}

impl GetAlias {
    pub fn new(clients: Shared) -> Self {
        let mut name = input("name", PropType::string(), "the alias name, `alias/...`");
        name.required = true;
        GetAlias {
            clients,
            schema: DataSourceSchema {
                token: TOKEN.into(),
                description: "A KMS alias and the key it points at.".into(),
                inputs: vec![name],
                outputs: ["arn", "id", "name", "targetKeyArn", "targetKeyId"]
                    .map(String::from)
                    .to_vec(),
            },
        }
    }
}

#[async_trait::async_trait]
impl DataSource for GetAlias {
    fn schema(&self) -> &DataSourceSchema {
        &self.schema
    }

    fn check(&self, args: &Map) -> Vec<cairn_core::provider::CheckFailure> {
        match args.get("name").and_then(Value::as_str) {
            Some(n) if !n.starts_with("alias/") => vec![cairn_core::provider::CheckFailure::error(
                "aws::kms::alias-name",
                cairn_core::value::PropertyPath::key("name"),
                format!("`{n}` is not an alias name"),
            )
            .with_help("alias names start with `alias/`, e.g. `alias/app`")],
            _ => Vec::new(),
        }
    }

    async fn invoke(&self, _ctx: &CallContext, args: &Map) -> Result<Map, ProviderError> {
        let sdk = self.clients.get().await?;
        let wanted = args.get("name").and_then(Value::as_str).unwrap_or_default();
        let mut marker: Option<String> = None;
        let found = loop {
            let out = sdk
                .kms
                .list_aliases()
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| api_error(TOKEN, "kms:ListAliases", e, &[]))?;
            if let Some(a) = out
                .aliases()
                .iter()
                .find(|a| a.alias_name() == Some(wanted))
            {
                break a.clone();
            }
            match out.next_marker() {
                Some(m) if out.truncated() => marker = Some(m.to_string()),
                _ => {
                    return Err(ProviderError::invalid(
                        TOKEN,
                        format!("no KMS alias `{wanted}`"),
                    ))
                }
            }
        };
        let key_id = found.target_key_id().unwrap_or_default().to_string();
        let key_arn = if key_id.is_empty() {
            String::new()
        } else {
            sdk.kms
                .describe_key()
                .key_id(&key_id)
                .send()
                .await
                .map_err(|e| api_error(TOKEN, "kms:DescribeKey", e, &[]))?
                .key_metadata()
                .and_then(|k| k.arn())
                .unwrap_or_default()
                .to_string()
        };
        let arn = found.alias_arn().unwrap_or_default().to_string();
        let mut m = Map::new();
        m.insert("arn".into(), s(&arn));
        m.insert("id".into(), s(arn));
        m.insert("name".into(), s(wanted));
        m.insert("targetKeyArn".into(), s(key_arn));
        m.insert("targetKeyId".into(), s(key_id));
        Ok(m)
    }
}
