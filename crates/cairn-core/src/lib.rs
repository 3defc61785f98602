//! The resource-graph core of cairn.
//!
//! Values, resource schemas (the typed DSL), stack specifications, the
//! planner and the executor. This crate does no IO and links no cloud SDK:
//! providers and state stores plug in through the traits in [`provider`]
//! and [`state`].

// The derives in cairn-macros name `::cairn_core`, also inside this crate.
extern crate self as cairn_core;

pub mod diag;
pub mod drift;
pub mod dsl;
pub mod exec;
pub mod gojson;
pub mod graph;
pub mod interp;
pub mod mem;
pub mod plan;
pub mod provider;
pub mod reconcile;
pub mod schema;
pub mod spec;
pub mod state;
pub mod validate;
pub mod value;

pub use provider::{ProviderError, Registry, ResourceProvider};
pub use schema::{PropType, PropertySchema, ResourceSchema};
pub use spec::{ResourceOptions, ResourceSpec, StackSpec};
pub use state::{ResourceState, StackState};
pub use value::{Map, Value};
