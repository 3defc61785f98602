//! Polling waiters: a short first poll, then doubling up to the configured
//! interval, bounded by the operation's deadline. Every probe counts as one
//! Describe call and reports status + elapsed time through `ctx.report`.

use crate::clients::AwsClients;
use cairn_core::provider::{CallContext, ProviderError};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// What one probe saw.
pub(crate) enum Probe<T> {
    /// The wanted state was reached.
    Done(T),
    /// Not yet; the current status.
    Pending(String),
    /// A state the wanted one cannot follow (e.g. `create-failed`).
    Failed(String),
}

pub(crate) struct WaitSpec<'a> {
    pub resource: &'a str,
    pub api: &'a str,
    pub wanted: &'a str,
    pub deadline: Duration,
}

pub(crate) async fn wait_until<T, F, Fut>(
    ctx: &CallContext,
    clients: &AwsClients,
    spec: WaitSpec<'_>,
    mut probe: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Probe<T>, ProviderError>>,
{
    let start = Instant::now();
    let poll = clients.poll();
    let mut delay = poll.first;
    let mut last;
    loop {
        clients.count_describe();
        let elapsed = start.elapsed();
        let probed = probe().await?;
        if let Probe::Pending(status) | Probe::Failed(status) = &probed {
            tracing::debug!(resource = spec.resource, status = %status, elapsed_ms = elapsed.as_millis() as u64, "waiting for `{}`", spec.wanted);
        }
        match probed {
            Probe::Done(t) => {
                ctx.report(&format!("{} ({}s)", spec.wanted, elapsed.as_secs()));
                return Ok(t);
            }
            Probe::Pending(status) => {
                ctx.report(&format!("{status} ({}s)", elapsed.as_secs()));
                last = status;
            }
            Probe::Failed(status) => {
                return Err(ProviderError::Api {
                    resource: spec.resource.to_string(),
                    api: spec.api.to_string(),
                    code: "UnexpectedStatus".to_string(),
                    message: format!(
                        "status became `{status}` while waiting for `{}`",
                        spec.wanted
                    ),
                    retryable: false,
                });
            }
        }
        let elapsed = start.elapsed();
        if elapsed >= spec.deadline {
            return Err(ProviderError::Timeout {
                resource: spec.resource.to_string(),
                wanted: spec.wanted.to_string(),
                last,
                waited_secs: elapsed.as_secs(),
            });
        }
        tokio::time::sleep(delay.min(spec.deadline - elapsed)).await;
        delay = (delay * 2).min(poll.max);
    }
}
