//! An in-memory provider for engine-logic tests. Owned by the planner work.
