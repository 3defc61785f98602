//! `core:Data`: holds any value and echoes it as `output`, like Terraform's `terraform_data`.

use async_trait::async_trait;
use cairn_core::dsl::{DeclaredType, Input, Output, Outputs, Resource};
use cairn_core::provider::{CallContext, Created, Observed, ProviderError, ResourceProvider};
use cairn_core::schema::ResourceSchema;
use cairn_core::value::{Map, Value};
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct Data;

/// Holds any value and exposes it as `output`; a change replaces it, like terraform_data.
#[derive(Serialize, Clone, Debug, Default, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(token = "core:Data", kind = Data, outputs = DataOutputs)]
pub struct DataArgs {
    /// Any value.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(replaces)]
    pub input: Option<Input<serde_json::Value>>,
}

#[derive(Outputs)]
pub struct DataOutputs {
    /// The input, unchanged.
    pub output: Output<serde_json::Value>,
}

pub struct DataProvider {
    schema: ResourceSchema,
    next_id: AtomicU64,
}

impl DataProvider {
    pub fn new() -> Self {
        let schema = Data::schema();
        DataProvider {
            schema,
            next_id: AtomicU64::new(0),
        }
    }
}

impl Default for DataProvider {
    fn default() -> Self {
        Self::new()
    }
}

fn outputs_of(inputs: &Map) -> Map {
    let mut out = Map::new();
    out.insert(
        "output".into(),
        inputs.get("input").cloned().unwrap_or(Value::Null),
    );
    out
}

#[async_trait]
impl ResourceProvider for DataProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn has_external_effects(&self) -> bool {
        false
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        Ok(Created {
            id: format!("{}-{n}", ctx.name),
            outputs: outputs_of(inputs),
        })
    }

    async fn read(
        &self,
        _ctx: &CallContext,
        id: &str,
        inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        Ok(Some(Observed {
            id: id.to_string(),
            inputs: inputs.clone(),
            outputs: outputs_of(inputs),
        }))
    }

    async fn update(
        &self,
        _ctx: &CallContext,
        _id: &str,
        _old: &Map,
        new_inputs: &Map,
        _old_outputs: &Map,
    ) -> Result<Map, ProviderError> {
        Ok(outputs_of(new_inputs))
    }

    async fn delete(
        &self,
        _ctx: &CallContext,
        _id: &str,
        _inputs: &Map,
        _outputs: &Map,
    ) -> Result<(), ProviderError> {
        Ok(())
    }
}
