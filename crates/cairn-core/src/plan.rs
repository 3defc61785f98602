//! The planner. Owned by the planner work.
