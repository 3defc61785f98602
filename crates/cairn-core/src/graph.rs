//! The dependency graph of a stack (petgraph). Owned by the planner work.
