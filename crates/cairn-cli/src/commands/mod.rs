//! Verbs kept out of `engine.rs`, one file per verb group.

pub mod config;
pub mod events;
pub mod history;
pub mod import;
pub mod stack;
pub mod state;
pub mod version;
