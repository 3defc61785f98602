//! Verbs kept out of `engine.rs`, one file per verb group.

pub mod state;
pub mod version;
pub mod stack;
pub mod history;
pub mod events;
