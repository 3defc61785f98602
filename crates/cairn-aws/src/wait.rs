//! Polling waiters: a short first poll, then doubling up to the configured
//! interval, bounded by the operation's deadline. Every probe counts as one
//! Describe call and reports status + elapsed time through `ctx.report`.
//!
//! [`wait_shared`]: concurrent waiters of one service operation (several NAT
//! gateways waiting for `available`) share one poller per [`AwsClients`],
//! which describes every id being waited on in ONE call per interval (same
//! capped backoff; a new waiter gets a round within the first interval) and
//! hands each waiter its object.

use crate::clients::{AwsClients, PollConfig};
use cairn_core::provider::{CallContext, ProviderError};
use std::any::Any;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;

static WAITED_MS: AtomicU64 = AtomicU64::new(0);

/// Time all waiters in this process spent waiting, summed over waiters
/// (two waiting a minute at once count two minutes). For the benchmark.
pub fn waiter_waited() -> Duration {
    Duration::from_millis(WAITED_MS.load(Ordering::Relaxed))
}

/// Describe calls per waited minute ([`crate::waiter_describe_calls`] over
/// [`waiter_waited`]); `None` before any wait.
pub fn waiter_describe_calls_per_waited_minute() -> Option<f64> {
    let minutes = waiter_waited().as_secs_f64() / 60.0;
    (minutes > 0.0).then(|| crate::clients::waiter_describe_calls() as f64 / minutes)
}

/// Adds a waiter's time to [`waiter_waited`] however it ends.
struct WaitTimer(Instant);

impl Drop for WaitTimer {
    fn drop(&mut self) {
        let ms = u64::try_from(self.0.elapsed().as_millis()).unwrap_or(u64::MAX);
        let waited_ms = WAITED_MS
            .fetch_add(ms, Ordering::Relaxed)
            .saturating_add(ms);
        // The running totals, for the benchmark (`CAIRN_LOG=cairn_aws::waiters=info`).
        tracing::info!(
            target: "cairn_aws::waiters",
            describe_calls = crate::clients::waiter_describe_calls(),
            waited_ms,
            "waiter totals"
        );
    }
}

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
    let _timer = WaitTimer(start);
    let poll = clients.poll();
    let mut delay = poll.first;
    let mut last;
    loop {
        clients.count_describe();
        let elapsed = start.elapsed();
        let probed = probe().await?;
        match settle(ctx, &spec, elapsed, probed)? {
            Ok(t) => return Ok(t),
            Err(status) => last = status,
        }
        let elapsed = start.elapsed();
        if elapsed >= spec.deadline {
            return Err(timeout(&spec, last, elapsed));
        }
        tokio::time::sleep(delay.min(spec.deadline - elapsed)).await;
        delay = (delay * 2).min(poll.max);
    }
}

/// Reports what a probe saw: `Ok(Ok(t))` done, `Ok(Err(status))` pending.
fn settle<T>(
    ctx: &CallContext,
    spec: &WaitSpec<'_>,
    elapsed: Duration,
    probed: Probe<T>,
) -> Result<Result<T, String>, ProviderError> {
    if let Probe::Pending(status) | Probe::Failed(status) = &probed {
        tracing::debug!(resource = spec.resource, status = %status, elapsed_ms = elapsed.as_millis() as u64, "waiting for `{}`", spec.wanted);
    }
    match probed {
        Probe::Done(t) => {
            ctx.report(&format!("{} ({}s)", spec.wanted, elapsed.as_secs()));
            Ok(Ok(t))
        }
        Probe::Pending(status) => {
            ctx.report(&format!("{status} ({}s)", elapsed.as_secs()));
            Ok(Err(status))
        }
        Probe::Failed(status) => Err(ProviderError::Api {
            resource: spec.resource.to_string(),
            api: spec.api.to_string(),
            code: "UnexpectedStatus".to_string(),
            message: format!(
                "status became `{status}` while waiting for `{}`",
                spec.wanted
            ),
            retryable: false,
        }),
    }
}

fn timeout(spec: &WaitSpec<'_>, last: String, elapsed: Duration) -> ProviderError {
    ProviderError::Timeout {
        resource: spec.resource.to_string(),
        wanted: spec.wanted.to_string(),
        last,
        waited_secs: elapsed.as_secs(),
    }
}

/// What one shared round saw for one id: the object, `None` if absent.
type Answer<T> = Result<Option<T>, ProviderError>;

/// The shared pollers of one [`AwsClients`], one per service operation.
#[derive(Default)]
pub(crate) struct Pollers(Mutex<HashMap<String, Arc<dyn Any + Send + Sync>>>);

impl Pollers {
    fn get<T: Clone + Send + 'static>(&self, op: &str) -> Arc<Poller<T>> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let any = map
            .entry(op.to_string())
            .or_insert_with(|| Arc::new(Poller::<T>::default()))
            .clone();
        // One operation always describes one type; if not, poll unshared.
        any.downcast::<Poller<T>>().unwrap_or_default()
    }
}

/// One operation's poller: the waiters and whether its round loop runs.
struct Poller<T> {
    state: Mutex<PollerState<T>>,
    joined: Notify,
}

struct PollerState<T> {
    /// Waiter key -> (id waited on, where its answers go).
    waiters: BTreeMap<u64, (String, mpsc::UnboundedSender<Answer<T>>)>,
    next_key: u64,
    running: bool,
}

impl<T> Default for Poller<T> {
    fn default() -> Self {
        Poller {
            state: Mutex::new(PollerState {
                waiters: BTreeMap::new(),
                next_key: 0,
                running: false,
            }),
            joined: Notify::new(),
        }
    }
}

/// A waiter's place in a poller; leaves it on drop (done or cancelled).
struct Joined<T> {
    poller: Arc<Poller<T>>,
    key: u64,
    answers: mpsc::UnboundedReceiver<Answer<T>>,
}

impl<T> Drop for Joined<T> {
    fn drop(&mut self) {
        self.poller.lock().waiters.remove(&self.key);
    }
}

impl<T> Poller<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, PollerState<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T: Clone + Send + 'static> Poller<T> {
    /// Adds a waiter for `id`; starts the round loop (with `fetch`) if none runs.
    fn join<F, Fut>(
        self: &Arc<Self>,
        id: &str,
        poll: PollConfig,
        count: Arc<AtomicU64>,
        fetch: F,
    ) -> Joined<T>
    where
        F: Fn(Vec<String>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<HashMap<String, T>, ProviderError>> + Send + 'static,
    {
        let (tx, answers) = mpsc::unbounded_channel();
        let mut st = self.lock();
        let key = st.next_key;
        st.next_key += 1;
        st.waiters.insert(key, (id.to_string(), tx));
        if st.running {
            drop(st);
            self.joined.notify_one();
        } else {
            st.running = true;
            drop(st);
            tokio::spawn(self.clone().rounds(poll, count, fetch));
        }
        Joined {
            poller: self.clone(),
            key,
            answers,
        }
    }

    /// One describe of every id waited on per round, until no one waits.
    async fn rounds<F, Fut>(self: Arc<Self>, poll: PollConfig, count: Arc<AtomicU64>, fetch: F)
    where
        F: Fn(Vec<String>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<HashMap<String, T>, ProviderError>> + Send + 'static,
    {
        let mut delay = poll.first;
        loop {
            let (keys, ids): (Vec<u64>, Vec<String>) = {
                let mut st = self.lock();
                if st.waiters.is_empty() {
                    st.running = false;
                    return;
                }
                let ids: BTreeSet<&String> = st.waiters.values().map(|(id, _)| id).collect();
                let ids = ids.into_iter().cloned().collect();
                (st.waiters.keys().copied().collect(), ids)
            };
            count.fetch_add(1, Ordering::Relaxed);
            crate::clients::count_global_describe();
            let answer = fetch(ids).await;
            let round = Instant::now();
            {
                // Only waiters whose id this round asked about get its answer.
                let st = self.lock();
                for key in keys {
                    if let Some((id, tx)) = st.waiters.get(&key) {
                        let _ = tx.send(match &answer {
                            Ok(found) => Ok(found.get(id).cloned()),
                            Err(e) => Err(e.clone()),
                        });
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => delay = (delay * 2).min(poll.max),
                // A new waiter: its first round within the first interval.
                _ = self.joined.notified() => tokio::time::sleep_until(round + poll.first).await,
            }
        }
    }
}

/// [`wait_until`] for `id`, sharing rounds with every concurrent waiter of
/// `spec.api` on these clients: `fetch` describes a list of ids in one call
/// (ids it does not find are absent from its map), `classify` judges this
/// waiter's object (`None`: not found).
pub(crate) async fn wait_shared<T, R, F, Fut, C>(
    ctx: &CallContext,
    clients: &AwsClients,
    spec: WaitSpec<'_>,
    id: &str,
    fetch: F,
    mut classify: C,
) -> Result<R, ProviderError>
where
    T: Clone + Send + Sync + 'static,
    F: Fn(Vec<String>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<HashMap<String, T>, ProviderError>> + Send + 'static,
    C: FnMut(Option<T>) -> Probe<R>,
{
    let start = Instant::now();
    let _timer = WaitTimer(start);
    let poller = clients.pollers().get::<T>(spec.api);
    let mut joined = poller.join(id, clients.poll(), clients.describe_counter(), fetch);
    let mut last = "not observed yet".to_string();
    loop {
        let left = spec.deadline.saturating_sub(start.elapsed());
        let answer = match tokio::time::timeout(left, joined.answers.recv()).await {
            Err(_) => return Err(timeout(&spec, last, start.elapsed())),
            Ok(None) => {
                return Err(ProviderError::Api {
                    resource: spec.resource.to_string(),
                    api: spec.api.to_string(),
                    code: "WaiterStopped".to_string(),
                    message: "the shared poller stopped".to_string(),
                    retryable: true,
                })
            }
            Ok(Some(answer)) => answer,
        };
        // The round's error names the waiter it was fetched for: name ours.
        let found = answer.map_err(|e| match e {
            ProviderError::Api {
                api,
                code,
                message,
                retryable,
                ..
            } => ProviderError::Api {
                resource: spec.resource.to_string(),
                api,
                code,
                message,
                retryable,
            },
            e => e,
        })?;
        match settle(ctx, &spec, start.elapsed(), classify(found))? {
            Ok(t) => return Ok(t),
            Err(status) => last = status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::PollConfig;

    #[tokio::test]
    async fn waited_time_and_describe_calls_are_counted() {
        let clients = AwsClients::lazy(Some("http://127.0.0.1:9"))
            .with_poll(PollConfig::with_max(Duration::from_millis(40)));
        let before = waiter_waited();
        let mut probes = 0;
        let done = wait_until(
            &CallContext::new("s", "r"),
            &clients,
            WaitSpec {
                resource: "r",
                api: "ec2:DescribeNatGateways",
                wanted: "available",
                deadline: Duration::from_secs(5),
            },
            || {
                probes += 1;
                let n = probes;
                async move {
                    Ok(if n < 3 {
                        Probe::Pending("pending".into())
                    } else {
                        Probe::Done(n)
                    })
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(done, 3);
        assert_eq!(clients.describe_calls(), 3);
        // Polls after 4 ms, then 8 ms: at least 12 ms waited.
        let waited = waiter_waited() - before;
        assert!(waited >= Duration::from_millis(12), "{waited:?}");
        assert!(waiter_describe_calls_per_waited_minute().is_some_and(|r| r > 0.0));
    }

    type Round = std::pin::Pin<
        Box<dyn Future<Output = Result<HashMap<String, bool>, ProviderError>> + Send>,
    >;

    /// A fetch whose object `id` (a number) is done from round `id + 2` on;
    /// it records every list of ids it was asked.
    fn staged(
        asked: Arc<Mutex<Vec<Vec<String>>>>,
    ) -> impl Fn(Vec<String>) -> Round + Send + Sync + 'static {
        move |ids: Vec<String>| {
            let asked = asked.clone();
            Box::pin(async move {
                // Slow enough that waiters join while a round is on the wire.
                tokio::time::sleep(Duration::from_millis(5)).await;
                let round = {
                    let mut a = asked.lock().unwrap();
                    a.push(ids.clone());
                    a.len() as u64
                };
                Ok(ids
                    .into_iter()
                    .map(|id| {
                        let done = round >= id.parse::<u64>().unwrap_or(0) + 2;
                        (id, done)
                    })
                    .collect())
            })
        }
    }

    #[tokio::test]
    async fn concurrent_waiters_share_one_describe_per_round() {
        let clients = Arc::new(
            AwsClients::lazy(Some("http://127.0.0.1:9"))
                .with_poll(PollConfig::with_max(Duration::from_millis(40))),
        );
        let asked = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..5u32 {
            let (clients, fetch) = (clients.clone(), staged(asked.clone()));
            tasks.push(tokio::spawn(async move {
                let spec = WaitSpec {
                    resource: "r",
                    api: "ec2:DescribeNatGateways",
                    wanted: "available",
                    deadline: Duration::from_secs(10),
                };
                wait_shared(
                    &CallContext::new("s", "r"),
                    &clients,
                    spec,
                    &i.to_string(),
                    fetch,
                    |found| match found {
                        Some(true) => Probe::Done(()),
                        Some(false) => Probe::Pending("pending".into()),
                        // Only a round that asked for this id answers it.
                        None => Probe::Failed("not asked".into()),
                    },
                )
                .await
            }));
        }
        for t in tasks {
            t.await.unwrap().expect("every waiter sees its object done");
        }
        let asked = asked.lock().unwrap().clone();
        // Alone, waiter i polls i + 2 times: 20 calls for the five.
        assert!(asked.len() <= 8, "{} rounds: {asked:?}", asked.len());
        assert!(asked.iter().any(|ids| ids.len() > 1), "{asked:?}");
        assert_eq!(clients.describe_calls(), asked.len() as u64);
        // Nobody waits: the round loop has stopped.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(clients.describe_calls(), asked.len() as u64);
    }
}
