//! Integration tests of the stack-file loader.

mod config {
    pub mod common;

    mod builtins;
    mod diagnostics;
    mod fuzz;
    mod hostile;
    mod invoke;
    mod invoke_provider;
    mod layered;
    mod loading;
    mod parent;
    mod providers;
    mod pulumi_parity;
    mod schema;
    mod validate;
}
