//! The one integration-test binary of cairn-state. Tests that need a process
//! to die re-run this binary with `CAIRN_STATE_CHILD` set (see `child`).

#[path = "state/common.rs"]
mod common;

#[path = "state/child.rs"]
mod child;
#[path = "state/crash.rs"]
mod crash;
#[path = "state/format.rs"]
mod format;
#[path = "state/journal.rs"]
mod journal;
#[path = "state/lock.rs"]
mod lock;
#[path = "state/remote.rs"]
mod remote;
#[path = "state/secrets.rs"]
mod secrets;
