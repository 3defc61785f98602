//! Built-in resource types that need no cloud: `core:Data` and `random:Password`;
//! and the declaration of `pulumi:pulumi:StackReference` (its provider is the CLI's).

mod data;
mod password;
mod stack_reference;

pub use data::{Data, DataArgs, DataOutputs, DataProvider};
pub use password::{Password, PasswordArgs, PasswordOutputs, PasswordProvider};
pub use stack_reference::{
    stack_output, StackReference, StackReferenceArgs, StackReferenceDeclared, StackReferenceOutputs,
};

use cairn_core::Registry;
use std::sync::Arc;

/// Registers every built-in type.
pub fn register(registry: &mut Registry) {
    registry.register(Arc::new(DataProvider::new()));
    registry.register(Arc::new(PasswordProvider::new()));
    // Declared only; the CLI registers the provider that reads stacks.
    registry.register(Arc::new(StackReferenceDeclared::new()));
}
