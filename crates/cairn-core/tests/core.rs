//! Integration tests of the core: graph, planner, executor, recovery.

#[path = "core/common.rs"]
mod common;
#[path = "core/declare.rs"]
mod declare;
#[path = "core/drift.rs"]
mod drift;
#[path = "core/exec.rs"]
mod exec;
#[path = "core/external.rs"]
mod external;
#[path = "core/graph.rs"]
mod graph;
#[path = "core/interp.rs"]
mod interp;
#[path = "core/interrupt.rs"]
mod interrupt;
#[path = "core/options.rs"]
mod options;
#[path = "core/pending.rs"]
mod pending;
#[path = "core/plan.rs"]
mod plan;
#[path = "core/props.rs"]
mod props;
#[path = "core/reconcile.rs"]
mod reconcile;
