//! Built-in resource types that need no cloud: `core:Data` and `random:Password`.

mod data;
mod password;

pub use data::{Data, DataArgs, DataOutputs, DataProvider};
pub use password::{Password, PasswordArgs, PasswordOutputs, PasswordProvider};

use cairn_core::Registry;
use std::sync::Arc;

/// Registers every built-in type.
pub fn register(registry: &mut Registry) {
    registry.register(Arc::new(DataProvider::new()));
    registry.register(Arc::new(PasswordProvider::new()));
}
