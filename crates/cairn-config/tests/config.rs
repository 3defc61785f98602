//! Integration tests of the stack-file loader.

mod config {
    pub mod common;

    mod diagnostics;
    mod fuzz;
    mod hostile;
    mod layered;
    mod loading;
    mod schema;
    mod validate;
}
