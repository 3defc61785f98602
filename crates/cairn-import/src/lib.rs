//! Adopting infrastructure made by other tools, without touching it.
//!
//! [`tfstate`] reads a Terraform state file (format version 4), [`mapping`]
//! maps its managed instances to cairn types and import ids (and
//! Terraform's attributes to cairn properties), [`bulk`] reads Pulumi's bulk
//! import file, [`names`] gives readable logical names, and [`program`]
//! turns what the cloud answered into a stack program and its state. No IO:
//! the caller reads files and the cloud (`cairn import` in cairn-cli).

pub mod bulk;
mod error;
pub mod mapping;
pub mod names;
pub mod program;
mod redact;
pub mod tfstate;

pub use error::ImportError;
pub use mapping::{Candidate, Selection, Skipped};
pub use program::{Disagreement, Found, Program};
pub use tfstate::{TfInstance, TfState};

/// Masks every value of a JSON text (keys and structure stay), keeping byte
/// offsets: what diagnostics show of a state file, which holds secrets.
pub fn redacted(text: &str) -> String {
    redact::mask_values(text)
}
