//! `pulumi:pulumi:StackReference`, declared once: another stack's outputs.
//! The provider that reads them lives in the CLI
//! (`cairn-cli/src/stack_reference.rs`), where the state backend is, and
//! replaces [`StackReferenceDeclared`] in its registry; this is the type
//! for the typed DSL, validation and schemas.

use async_trait::async_trait;
use cairn_core::dsl::{DeclaredType, Handle, Input, Output, Outputs, Resource};
use cairn_core::interp::reference_text;
use cairn_core::provider::{CallContext, Created, Observed, ProviderError, ResourceProvider};
use cairn_core::schema::ResourceSchema;
use cairn_core::value::{Map, PropertyPath};
use serde::Serialize;

pub struct StackReference;

/// Another stack's outputs, as Pulumi's `pulumi:pulumi:StackReference`: read at preview, never written.
#[derive(Serialize, Clone, Debug, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(token = "pulumi:pulumi:StackReference", kind = StackReference, outputs = StackReferenceOutputs)]
pub struct StackReferenceArgs {
    /// The name of another stack of the same backend (its `name:`), e.g. `network-prod`.
    #[prop(replaces)]
    pub name: Input<String>,
}

#[derive(Outputs)]
pub struct StackReferenceOutputs {
    /// That stack's outputs, by name (`${ref.outputs.vpcId}`); secret outputs stay secret.
    pub outputs: Output<serde_json::Value>,
    /// The names of that stack's secret outputs.
    pub secret_output_names: Output<Vec<String>>,
}

/// One output of the referenced stack, `${<reference>.outputs.<key>}`, as
/// an input to another resource.
pub fn stack_output(reference: &Handle<StackReference>, key: &str) -> Input<String> {
    let text = reference_text(
        reference.logical_name(),
        &PropertyPath::key("outputs").child(key),
    );
    // The text is an interpolation; it is resolved like any output reference.
    Input::Value(text)
}

/// The type's schema without a backend to read stacks from: a stack
/// using a reference validates; applying it needs the CLI's provider.
pub struct StackReferenceDeclared {
    schema: ResourceSchema,
}

impl StackReferenceDeclared {
    pub fn new() -> Self {
        StackReferenceDeclared {
            schema: StackReference::schema(),
        }
    }
}

impl Default for StackReferenceDeclared {
    fn default() -> Self {
        Self::new()
    }
}

fn no_backend(ctx: &CallContext) -> ProviderError {
    ProviderError::invalid(
        &ctx.name,
        "stack references are read from a state backend; run the stack with the `cairn` CLI",
    )
}

#[async_trait]
impl ResourceProvider for StackReferenceDeclared {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn has_external_effects(&self) -> bool {
        false
    }

    async fn create(&self, ctx: &CallContext, _inputs: &Map) -> Result<Created, ProviderError> {
        Err(no_backend(ctx))
    }

    async fn read(
        &self,
        ctx: &CallContext,
        _id: &str,
        _inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        Err(no_backend(ctx))
    }

    async fn update(
        &self,
        ctx: &CallContext,
        _id: &str,
        _old: &Map,
        _new_inputs: &Map,
        _old_outputs: &Map,
    ) -> Result<Map, ProviderError> {
        Err(no_backend(ctx))
    }

    async fn delete(
        &self,
        _ctx: &CallContext,
        _id: &str,
        _inputs: &Map,
        _outputs: &Map,
    ) -> Result<(), ProviderError> {
        // Reading another stack made nothing; forgetting it deletes nothing.
        Ok(())
    }
}
