//! End-to-end tests of the `cairn` binary.

mod cli {
    mod architecture;
    mod aws;
    mod backend_s3;
    pub mod common;
    mod config_set;
    mod corpus;
    mod day_two_emulator;
    mod emulator_restart;
    mod events_json;
    mod fault_proxy;
    mod get_invoke;
    mod graph;
    mod import_terraform;
    mod interrupt;
    mod invoke;
    mod json_plan;
    mod local_output;
    mod names;
    mod network;
    mod network_b_stack;
    mod offline;
    mod options;
    mod parent;
    mod plan_json;
    mod plan_unknown;
    mod platform;
    mod program;
    mod prompt_interrupt;
    mod provider_credentials;
    mod providers;
    mod pty;
    mod pulumi_get;
    mod pulumi_project;
    mod pulumi_yaml;
    mod reliability;
    mod results;
    mod rotation;
    mod saved_plan;
    mod schema;
    mod stack_reference;
    mod stack_verbs;
    mod state_surgery;
    mod terminal;
    mod warnings;
    mod workflow_plan;
}
