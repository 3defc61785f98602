//! Crash injection for the crash tests: with `CAIRN_TEST_KILL_AT=N`, the
//! process SIGKILLs itself at the N-th journal point of the run. Each
//! operation has three points: after its intent is recorded (before the
//! provider call), after the call returns (before the outcome is recorded),
//! and after the outcome is recorded.
//!
//! With `CAIRN_TEST_SLOW_MS=N`, each operation waits N ms after its intent
//! is recorded: a slow provider call, for the interrupt tests.
//!
//! Compiled in only with the `kill-switch` feature, which only test builds
//! enable; otherwise [`KillSwitch::from_env`] is `None` whatever the
//! environment says.

use async_trait::async_trait;
use cairn_core::state::{Intent, Outcome, StateSink, StateSinkError};
use cairn_core::Map;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct KillSwitch<'a> {
    inner: &'a dyn StateSink,
    at: Option<u64>,
    slow: Option<std::time::Duration>,
    seen: AtomicU64,
}

impl<'a> KillSwitch<'a> {
    #[cfg(feature = "kill-switch")]
    pub fn from_env(inner: &'a dyn StateSink) -> Option<Self> {
        let var = |name: &str| std::env::var(name).ok()?.parse::<u64>().ok();
        let at = var("CAIRN_TEST_KILL_AT");
        let slow = var("CAIRN_TEST_SLOW_MS").map(std::time::Duration::from_millis);
        if at.is_none() && slow.is_none() {
            return None;
        }
        Some(KillSwitch {
            inner,
            at,
            slow,
            seen: AtomicU64::new(0),
        })
    }

    /// Without the `kill-switch` feature there is no crash injection.
    #[cfg(not(feature = "kill-switch"))]
    pub fn from_env(_inner: &'a dyn StateSink) -> Option<Self> {
        None
    }

    fn point(&self, what: &str) {
        let n = self.seen.fetch_add(1, Ordering::SeqCst) + 1;
        if Some(n) == self.at {
            eprintln!("killswitch: SIGKILL at journal point {n} ({what})");
            // SAFETY: raising a signal on our own pid has no memory-safety preconditions.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
    }
}

#[async_trait]
impl StateSink for KillSwitch<'_> {
    async fn begin(&self, intent: &Intent) -> Result<(), StateSinkError> {
        self.inner.begin(intent).await?;
        self.point("intent recorded, before the provider call");
        if let Some(slow) = self.slow {
            tokio::time::sleep(slow).await;
        }
        Ok(())
    }
    async fn finish(
        &self,
        op_id: u64,
        resource: &str,
        outcome: &Outcome,
    ) -> Result<(), StateSinkError> {
        self.point("provider call returned, outcome not recorded");
        self.inner.finish(op_id, resource, outcome).await?;
        self.point("outcome recorded");
        Ok(())
    }
    async fn set_outputs(&self, outputs: &Map) -> Result<(), StateSinkError> {
        self.inner.set_outputs(outputs).await
    }
}
