//! The executor. Owned by the planner work.
