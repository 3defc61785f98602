//! End-to-end tests of the `cairn` binary.

mod cli {
    mod aws;
    pub mod common;
    mod corpus;
    mod fault_proxy;
    mod offline;
    mod reliability;
}
