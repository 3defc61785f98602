//! Group commit: many waiters, one fsync.

use crate::error::StateError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Group commit: concurrent external `begin`s share one fsync.
///
/// Each durable write takes a sequence number after its insert returns. A
/// waiter whose number is not yet durable either becomes the *leader* (if no
/// flush is running), flushes everything written so far, and publishes
/// "durable up to N", or sleeps until the running flush finishes and checks
/// again. A flush covers every write that completed before it started, so
/// waiters that arrive during a flush are all covered by the next one.
#[derive(Default)]
pub(crate) struct GroupCommit {
    written: AtomicU64,
    state: Mutex<GcState>,
    notify: tokio::sync::Notify,
    pub(crate) fsyncs: AtomicU64,
}

#[derive(Default)]
struct GcState {
    durable: u64,
    leader: bool,
}

/// Resets leadership even if the leader's future is dropped mid-flush.
struct LeaderGuard<'a> {
    gc: &'a GroupCommit,
    target: u64,
    succeeded: bool,
}

impl Drop for LeaderGuard<'_> {
    fn drop(&mut self) {
        let mut g = self.gc.lock_state();
        g.leader = false;
        if self.succeeded {
            g.durable = g.durable.max(self.target);
        }
        drop(g);
        self.gc.notify.notify_waiters();
    }
}

impl GroupCommit {
    fn lock_state(&self) -> std::sync::MutexGuard<'_, GcState> {
        // The state is two plain fields, valid whatever a panicking holder did.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Call after a write's insert returned; the number to wait for.
    pub(crate) fn note_write(&self) -> u64 {
        self.written.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub(crate) async fn wait_durable(&self, db: &sled::Db, seq: u64) -> Result<(), StateError> {
        loop {
            let notified = self.notify.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            let target = {
                let mut g = self.lock_state();
                if g.durable >= seq {
                    return Ok(());
                }
                if g.leader {
                    None
                } else {
                    g.leader = true;
                    Some(self.written.load(Ordering::SeqCst))
                }
            };
            let Some(target) = target else {
                notified.await;
                continue;
            };
            let mut guard = LeaderGuard {
                gc: self,
                target,
                succeeded: false,
            };
            let res = db.flush_async().await;
            self.fsyncs.fetch_add(1, Ordering::SeqCst);
            guard.succeeded = res.is_ok();
            drop(guard);
            res?;
        }
    }

    pub(crate) fn flush_blocking(&self, db: &sled::Db) -> Result<(), StateError> {
        let target = self.written.load(Ordering::SeqCst);
        let res = db.flush();
        self.fsyncs.fetch_add(1, Ordering::SeqCst);
        res?;
        let mut g = self.lock_state();
        g.durable = g.durable.max(target);
        drop(g);
        self.notify.notify_waiters();
        Ok(())
    }
}
