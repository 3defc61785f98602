//! Adaptive concurrency per AWS service (AIMD).
//!
//! Every SDK call goes through one HTTP client wrapper ([`adaptive_http_client`])
//! that holds a slot of its service's [`Limiter`] while the request is on
//! the wire. A service's window of calls in flight grows by one per full
//! window of successes (additive increase; only while the window is in
//! use) and is cut to [`DECREASE`] × what was in flight (multiplicative
//! decrease) at the end of a *round* (one window's worth of answers, TCP's
//! round trip) in which more than [`TOLERANCE`] of the answers were
//! throttles: at most once per round, and answers to calls started before
//! the last cut do not count. It stays within 1 and the cap
//! ([`set_max_concurrency`], the user's `--parallel`).
//!
//! Why a tolerance: cutting on every throttle (plain AIMD) collapses the
//! window to about 2 when throttles are random and not caused by load (at
//! a 30% rate nearly every round holds one), though a smaller window does
//! not make them rarer. Throttling caused by load rises with the window
//! past the service's limit, so a round mostly throttled means "too many";
//! a minority of throttles is retried instead. The price: against a hard
//! limit the window settles where up to about half the answers are
//! throttles (at most ~2 attempts per call on average: bounded, no storm).
//!
//! A throttled answer is resent by the connector itself after a short
//! jittered pause ([`QUICK_RETRIES`] times, [`QUICK_BACKOFF`] doubling, each
//! attempt holding a slot again), before the SDK's standard retry (200 ms
//! first backoff, retry quota) sees it. The limiters are the process's (one
//! run), shared by every client. The service is read from the request's
//! SigV4 credential scope, so it works the same against AWS and against the
//! emulator (one endpoint for every service).

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Default cap of calls in flight per service when the caller sets none
/// (the engine's `--parallel` bounds the calls anyway).
pub const DEFAULT_MAX_CONCURRENCY: usize = 64;
/// The window is multiplied by this at a cut (CUBIC's β).
pub const DECREASE: f64 = 0.7;
/// A round cuts the window only when more than this share of its answers
/// were throttles.
pub const TOLERANCE: f64 = 0.5;
/// Throttled answers the connector resends itself before the SDK retries.
pub const QUICK_RETRIES: u32 = 3;
/// How long a resend waits for a slot before the throttled answer goes to
/// the SDK's retry instead (a new attempt, checked afresh).
pub const RESEND_SLOT_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
/// The connector's first pause before resending a throttled call (full
/// jitter: a random pause up to this, doubling per resend).
pub const QUICK_BACKOFF: std::time::Duration = std::time::Duration::from_millis(40);

/// Error codes AWS uses for throttling (the SDK's retry classifier list).
pub const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// How one call ended, as the limiter sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Throttled,
    /// A network error or a non-throttling error: no change to the window.
    Other,
}

/// The AIMD window of one service, without any waiting (pure, for tests).
#[derive(Clone, Debug)]
pub struct Aimd {
    cap: usize,
    window: f64,
    in_flight: usize,
    /// Bumped at every cut; a slot remembers the epoch it started in.
    epoch: u64,
    /// This round: answers and throttles (of calls of this epoch), and the
    /// most calls in flight (its size).
    round_answers: usize,
    round_throttled: usize,
    round_peak: usize,
    stats: Stats,
}

/// What a limiter saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub calls: u64,
    pub throttled: u64,
    pub decreases: u64,
    pub peak_in_flight: usize,
}

impl Aimd {
    /// Starts at the cap: no slower than a plain semaphore until throttled.
    pub fn new(cap: usize) -> Self {
        let cap = cap.max(1);
        Aimd {
            cap,
            window: cap as f64,
            in_flight: 0,
            epoch: 0,
            round_answers: 0,
            round_throttled: 0,
            round_peak: 0,
            stats: Stats::default(),
        }
    }

    /// Calls allowed in flight now (1..=cap).
    pub fn limit(&self) -> usize {
        (self.window.floor() as usize).clamp(1, self.cap)
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Changes the cap; the window is clamped into it.
    pub fn set_cap(&mut self, cap: usize) {
        self.cap = cap.max(1);
        self.window = self.window.clamp(1.0, self.cap as f64);
    }

    /// Takes a slot if one is free; returns the epoch the call starts in.
    pub fn try_acquire(&mut self) -> Option<u64> {
        if self.in_flight >= self.limit() {
            return None;
        }
        self.in_flight += 1;
        self.round_peak = self.round_peak.max(self.in_flight);
        self.stats.calls += 1;
        self.stats.peak_in_flight = self.stats.peak_in_flight.max(self.in_flight);
        Some(self.epoch)
    }

    /// Gives a slot back with how its call ended.
    pub fn release(&mut self, epoch: u64, outcome: Outcome) {
        let flight = self.in_flight;
        self.in_flight = self.in_flight.saturating_sub(1);
        match outcome {
            // Grow only a window in use (more than half full): one the
            // callers never fill says nothing about what the service takes.
            Outcome::Success if flight * 2 > self.limit() => {
                self.window = (self.window + 1.0 / self.window).min(self.cap as f64);
            }
            Outcome::Success | Outcome::Other => {}
            Outcome::Throttled => self.stats.throttled += 1,
        }
        if outcome == Outcome::Other || epoch != self.epoch {
            return;
        }
        self.round_answers += 1;
        if outcome == Outcome::Throttled {
            self.round_throttled += 1;
        }
        // A round: as many answers as calls were in flight (up to the window).
        let size = self.round_peak.clamp(1, self.limit());
        if self.round_answers < size {
            return;
        }
        let share = self.round_throttled as f64 / self.round_answers as f64;
        if share > TOLERANCE {
            let used = self.window.min(size as f64);
            self.window = (used * DECREASE).max(1.0);
            self.epoch += 1;
            self.stats.decreases += 1;
        }
        self.round_answers = 0;
        self.round_throttled = 0;
        self.round_peak = self.in_flight;
    }
}

/// One service's limiter: an [`Aimd`] window that callers wait on.
#[derive(Debug)]
pub struct Limiter {
    state: Mutex<Aimd>,
    freed: Notify,
}

impl Limiter {
    pub fn new(cap: usize) -> Self {
        Limiter {
            state: Mutex::new(Aimd::new(cap)),
            freed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Aimd> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a slot.
    pub async fn acquire(self: &Arc<Self>) -> Slot {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if let Some(epoch) = self.lock().try_acquire() {
                return Slot {
                    limiter: self.clone(),
                    epoch,
                    done: false,
                };
            }
            freed.await;
        }
    }

    pub fn snapshot(&self) -> Aimd {
        self.lock().clone()
    }

    fn set_cap(&self, cap: usize) {
        self.lock().set_cap(cap);
        self.freed.notify_waiters();
    }

    fn release(&self, epoch: u64, outcome: Outcome) {
        self.lock().release(epoch, outcome);
        self.freed.notify_waiters();
    }
}

/// A call's place in its service's window; given back on [`Slot::finish`]
/// or on drop (a cancelled call counts as [`Outcome::Other`]).
#[derive(Debug)]
pub struct Slot {
    limiter: Arc<Limiter>,
    epoch: u64,
    done: bool,
}

impl Slot {
    pub fn finish(mut self, outcome: Outcome) {
        self.done = true;
        self.limiter.release(self.epoch, outcome);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.done {
            self.limiter.release(self.epoch, Outcome::Other);
        }
    }
}

/// The limiters of one run, one per AWS service, sharing a cap.
#[derive(Debug)]
pub struct Limiters {
    cap: AtomicUsize,
    by_service: Mutex<BTreeMap<String, Arc<Limiter>>>,
}

impl Default for Limiters {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_CONCURRENCY)
    }
}

impl Limiters {
    pub fn new(cap: usize) -> Self {
        Limiters {
            cap: AtomicUsize::new(cap.max(1)),
            by_service: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn cap(&self) -> usize {
        self.cap.load(Ordering::Relaxed)
    }

    /// Sets the cap of every service (the user's `--parallel`).
    pub fn set_cap(&self, cap: usize) {
        let cap = cap.max(1);
        self.cap.store(cap, Ordering::Relaxed);
        for l in self.map().values() {
            l.set_cap(cap);
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<Limiter>>> {
        self.by_service.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn for_service(&self, service: &str) -> Arc<Limiter> {
        self.map()
            .entry(service.to_string())
            .or_insert_with(|| Arc::new(Limiter::new(self.cap())))
            .clone()
    }

    /// Each service's window and counters so far.
    pub fn snapshot(&self) -> BTreeMap<String, Aimd> {
        self.map()
            .iter()
            .map(|(k, v)| (k.clone(), v.snapshot()))
            .collect()
    }
}

static LIMITERS: std::sync::OnceLock<Arc<Limiters>> = std::sync::OnceLock::new();

/// The process's limiters (one run), shared by every client.
pub fn limiters() -> Arc<Limiters> {
    LIMITERS
        .get_or_init(|| Arc::new(Limiters::default()))
        .clone()
}

/// Caps the calls in flight per service (the CLI passes `--parallel`).
pub fn set_max_concurrency(cap: usize) {
    limiters().set_cap(cap);
}

/// `cfg` with its HTTP client (or the SDK's default one) wrapped by the
/// process's limiters. Unchanged if there is no client to wrap.
pub fn adaptive(cfg: &aws_types::SdkConfig) -> aws_types::SdkConfig {
    match cfg.http_client().or_else(default_http_client) {
        Some(inner) => cfg
            .to_builder()
            .http_client(adaptive_http_client(inner, limiters()))
            .build(),
        None => cfg.clone(),
    }
}

/// The service a signed request is for: the SigV4 credential scope's
/// fourth part (`Credential=AKID/date/region/SERVICE/aws4_request`).
pub fn service_of(request: &HttpRequest) -> String {
    request
        .headers()
        .get("authorization")
        .and_then(|auth| auth.split("Credential=").nth(1))
        .and_then(|cred| cred.split('/').nth(3))
        .filter(|s| !s.is_empty())
        .unwrap_or("unsigned")
        .to_string()
}

/// Whether an error answer names a throttling code: the XML `<Code>`, the
/// JSON `__type`/`code`, or the `x-amzn-ErrorType` header.
pub fn is_throttling(status: u16, error_type_header: Option<&str>, body: &[u8]) -> bool {
    if status == 429 {
        return true;
    }
    let named = |code: &str| {
        let code = code.split(':').next().unwrap_or(code);
        let code = code.rsplit('#').next().unwrap_or(code).trim();
        THROTTLING_CODES.contains(&code)
    };
    if error_type_header.is_some_and(named) {
        return true;
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim_start();
    if text.starts_with('{') {
        let json: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        return ["__type", "code", "Code"]
            .iter()
            .filter_map(|k| json.get(k).and_then(|v| v.as_str()))
            .any(named);
    }
    text.split("<Code>")
        .skip(1)
        .filter_map(|rest| rest.split("</Code>").next())
        .any(named)
}

/// Wraps `inner` so every request holds a slot of its service's limiter.
pub fn adaptive_http_client(inner: SharedHttpClient, limiters: Arc<Limiters>) -> SharedHttpClient {
    SharedHttpClient::new(AdaptiveClient { inner, limiters })
}

/// The SDK's own default HTTPS client (what a client gets when none is set).
pub fn default_http_client() -> Option<SharedHttpClient> {
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
    use aws_smithy_runtime_api::client::runtime_plugin::RuntimePlugin;
    let plugin = aws_smithy_runtime::client::defaults::default_http_client_plugin_v2(
        aws_config::BehaviorVersion::latest(),
    )?;
    let base = RuntimeComponentsBuilder::new("cairn-default-http-client");
    plugin.runtime_components(&base).http_client()
}

#[derive(Debug)]
struct AdaptiveClient {
    inner: SharedHttpClient,
    limiters: Arc<Limiters>,
}

impl HttpClient for AdaptiveClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(AdaptiveConnector {
            inner: self.inner.http_connector(settings, components),
            limiters: self.limiters.clone(),
        })
    }

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[derive(Debug)]
struct AdaptiveConnector {
    inner: SharedHttpConnector,
    limiters: Arc<Limiters>,
}

impl HttpConnector for AdaptiveConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let limiter = self.limiters.for_service(&service_of(&request));
        let inner = self.inner.clone();
        HttpConnectorFuture::new(async move {
            let mut request = request;
            let mut resend = 0;
            let mut held: Option<Slot> = None;
            loop {
                // A copy to resend if throttled (a streamed body has none).
                let spare = (resend < QUICK_RETRIES)
                    .then(|| request.try_clone())
                    .flatten();
                let slot = match held.take() {
                    Some(slot) => slot,
                    None => limiter.acquire().await,
                };
                let mut response = match inner.call(request).await {
                    Ok(r) => r,
                    Err(e) => {
                        slot.finish(Outcome::Other);
                        return Err(e);
                    }
                };
                let status = response.status().as_u16();
                if !matches!(status, 400 | 429 | 503) {
                    slot.finish(if status < 400 {
                        Outcome::Success
                    } else {
                        Outcome::Other
                    });
                    return Ok(response);
                }
                // An error answer is small: read it to find its code, then
                // hand the same bytes on to the SDK.
                let body = std::mem::replace(response.body_mut(), SdkBody::taken());
                let bytes = match ByteStream::new(body).collect().await {
                    Ok(b) => b.to_vec(),
                    Err(e) => {
                        slot.finish(Outcome::Other);
                        return Err(ConnectorError::io(e.into()));
                    }
                };
                let throttled =
                    is_throttling(status, response.headers().get("x-amzn-errortype"), &bytes);
                *response.body_mut() = SdkBody::from(bytes);
                if !throttled {
                    slot.finish(Outcome::Other);
                    return Ok(response);
                }
                slot.finish(Outcome::Throttled);
                let Some(again) = spare else {
                    return Ok(response);
                };
                // Time spent here counts against the SDK's stalled-upload
                // check of this attempt (5 s grace): resend only soon.
                tokio::time::sleep(quick_pause(resend)).await;
                match tokio::time::timeout(RESEND_SLOT_WAIT, limiter.acquire()).await {
                    Ok(slot) => held = Some(slot),
                    Err(_) => return Ok(response),
                }
                request = again;
                resend += 1;
            }
        })
    }
}

/// The pause before the `n`th resend of a throttled call: uniform in
/// `0..QUICK_BACKOFF × 2^n` (full jitter, so resends do not line up).
pub fn quick_pause(n: u32) -> std::time::Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(n);
    let unit = (h.finish() >> 11) as f64 / (1u64 << 53) as f64;
    QUICK_BACKOFF.mul_f64(unit * f64::from(1u32 << n.min(16)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn throttling_codes_are_found_in_each_protocol() {
        let ec2 = b"<Response><Errors><Error><Code>RequestLimitExceeded</Code></Error></Errors></Response>";
        assert!(is_throttling(503, None, ec2));
        let query = b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code></Error></ErrorResponse>";
        assert!(is_throttling(400, None, query));
        let json =
            br#"{"__type":"com.amazonaws.kms#ThrottlingException","message":"Rate exceeded"}"#;
        assert!(is_throttling(400, None, json));
        assert!(is_throttling(
            400,
            Some("ThrottlingException:http://x"),
            b""
        ));
        assert!(is_throttling(429, None, b""));
        let other = b"<Response><Errors><Error><Code>InvalidGroup.NotFound</Code></Error></Errors></Response>";
        assert!(!is_throttling(400, None, other));
        assert!(!is_throttling(
            400,
            None,
            br#"{"__type":"NotFoundException"}"#
        ));
        // A message quoting a code is not the code.
        assert!(!is_throttling(
            400,
            None,
            b"<Error><Code>ValidationError</Code><Message>Throttling</Message></Error>"
        ));
    }

    #[test]
    fn a_mostly_throttled_round_cuts_once_and_the_window_grows_back() {
        let mut a = Aimd::new(8);
        let slots: Vec<u64> = (0..8).map(|_| a.try_acquire().unwrap()).collect();
        assert_eq!(a.try_acquire(), None, "cap reached");
        // A round of 8 answers, 5 throttled: one cut, to 0.7 × 8.
        for e in &slots[..5] {
            a.release(*e, Outcome::Throttled);
        }
        assert_eq!(a.limit(), 8, "no cut before the round ends");
        for e in &slots[5..] {
            a.release(*e, Outcome::Success);
        }
        assert_eq!(a.limit(), 5, "{a:?}");
        assert_eq!(a.stats().decreases, 1);
        // A round with a minority of throttles does not cut.
        let slots: Vec<u64> = (0..5).map(|_| a.try_acquire().unwrap()).collect();
        for (i, e) in slots.into_iter().enumerate() {
            let o = if i < 2 {
                Outcome::Throttled
            } else {
                Outcome::Success
            };
            a.release(e, o);
        }
        assert_eq!(a.stats().decreases, 1, "{a:?}");
        assert!(a.limit() >= 5, "{a:?}");
        let mut rounds = 0;
        while a.limit() < 8 {
            fill_and_succeed(&mut a);
            rounds += 1;
            assert!(rounds < 100, "did not grow back: {a:?}");
        }
    }

    #[test]
    fn a_cut_is_a_fraction_of_what_was_in_flight() {
        let mut a = Aimd::new(64);
        let slots: Vec<u64> = (0..10).map(|_| a.try_acquire().unwrap()).collect();
        for e in slots {
            a.release(e, Outcome::Throttled);
        }
        assert_eq!(a.limit(), 7, "{a:?}");
        assert_eq!(a.stats().decreases, 1, "one cut per round: {a:?}");
        // A window callers never fill past half does not grow: one call
        // at a time takes it to 2, no further.
        let mut b = Aimd::new(8);
        let one = b.try_acquire().unwrap();
        b.release(one, Outcome::Throttled);
        assert_eq!(b.limit(), 1);
        for _ in 0..50 {
            let e = b.try_acquire().unwrap();
            b.release(e, Outcome::Success);
        }
        assert_eq!(b.limit(), 2, "grew while nothing waited: {b:?}");
    }

    /// A tiny deterministic generator (xorshift64) for the simulations.
    struct Rng(u64);
    impl Rng {
        fn unit(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// Callers that always have work: every free slot is taken at once and
    /// answers come back oldest first; `throttled(in_flight, rng)` decides
    /// each call's answer when it starts. The mean window and the share of
    /// throttled answers over `calls` answers.
    fn simulate(
        cap: usize,
        calls: usize,
        mut throttled: impl FnMut(usize, &mut Rng) -> bool,
    ) -> (f64, f64) {
        let mut a = Aimd::new(cap);
        let mut held = std::collections::VecDeque::new();
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let (mut windows, mut throttles) = (0usize, 0usize);
        for _ in 0..calls {
            while let Some(e) = a.try_acquire() {
                let t = throttled(a.in_flight(), &mut rng);
                held.push_back((e, t));
            }
            let (e, t) = held.pop_front().expect("a call in flight");
            let outcome = if t {
                Outcome::Throttled
            } else {
                Outcome::Success
            };
            a.release(e, outcome);
            throttles += usize::from(t);
            windows += a.limit();
        }
        (
            windows as f64 / calls as f64,
            throttles as f64 / calls as f64,
        )
    }

    #[test]
    fn random_throttles_do_not_collapse_the_window() {
        // 30% of answers throttled whatever the load (the emulator's knob;
        // AWS's background throttling): a smaller window would not help.
        let (window, share) = simulate(10, 5000, |_, r| r.unit() < 0.3);
        assert!((0.25..0.35).contains(&share), "{share}");
        assert!(
            window >= 8.0,
            "mean window {window:.2} of cap 10 under 30% random throttles"
        );
    }

    #[test]
    fn load_caused_throttling_keeps_the_window_near_the_service_limit() {
        // A service that throttles every call beyond 6 in flight.
        let (window, share) = simulate(32, 5000, |in_flight, _| in_flight > 6);
        assert!((4.0..=9.0).contains(&window), "mean window {window:.2}");
        assert!(share <= 0.5, "{share} of the answers throttled");
    }

    #[test]
    fn quick_pauses_are_jittered_and_grow() {
        for n in 0..4 {
            let cap = QUICK_BACKOFF * (1 << n);
            let pauses: Vec<_> = (0..50).map(|_| quick_pause(n)).collect();
            assert!(pauses.iter().all(|p| *p <= cap), "{n}: {pauses:?}");
            assert!(
                pauses.iter().any(|p| *p != pauses[0]),
                "{n}: no jitter: {pauses:?}"
            );
        }
    }

    /// Takes every free slot, then gives them all back as successes.
    fn fill_and_succeed(a: &mut Aimd) {
        let mut held = vec![];
        while let Some(e) = a.try_acquire() {
            held.push(e);
        }
        for e in held {
            a.release(e, Outcome::Success);
        }
    }

    #[tokio::test]
    async fn waiters_get_slots_as_they_free() {
        let l = Arc::new(Limiter::new(2));
        let a = l.acquire().await;
        let _b = l.acquire().await;
        let l2 = l.clone();
        let waiting = tokio::spawn(async move { l2.acquire().await.finish(Outcome::Success) });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(
            !waiting.is_finished(),
            "a third call got a slot over the cap"
        );
        a.finish(Outcome::Success);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("the waiter was woken")
            .unwrap();
    }

    #[derive(Clone, Debug)]
    enum Op {
        Acquire,
        Release(usize, Outcome),
        SetCap(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => Just(Op::Acquire),
            4 => (any::<usize>(), prop_oneof![
                Just(Outcome::Success),
                Just(Outcome::Throttled),
                Just(Outcome::Other)
            ])
            .prop_map(|(i, o)| Op::Release(i, o)),
            1 => (1usize..40).prop_map(Op::SetCap),
        ]
    }

    proptest! {
        #[test]
        fn window_stays_within_one_and_the_cap(cap in 1usize..40, ops in proptest::collection::vec(op(), 0..400)) {
            let mut a = Aimd::new(cap);
            let mut held: Vec<u64> = vec![];
            for op in ops {
                match op {
                    Op::Acquire => {
                        let before = a.in_flight();
                        match a.try_acquire() {
                            Some(e) => held.push(e),
                            None => prop_assert!(before >= a.limit()),
                        }
                        if a.in_flight() > before {
                            prop_assert!(a.in_flight() <= a.limit(), "over the window");
                        }
                    }
                    Op::Release(i, o) if !held.is_empty() => {
                        let e = held.swap_remove(i % held.len());
                        let (limit, cuts) = (a.limit(), a.stats().decreases);
                        a.release(e, o);
                        let cut = a.stats().decreases > cuts;
                        if o == Outcome::Throttled {
                            prop_assert!(a.limit() <= limit, "grew on throttle");
                        }
                        // Only the end of a mostly throttled round shrinks it.
                        prop_assert!(a.limit() >= limit || cut, "shrank without a cut");
                        prop_assert!(!cut || o != Outcome::Other, "an unrelated error cut");
                    }
                    Op::Release(..) => {}
                    Op::SetCap(c) => a.set_cap(c),
                }
                prop_assert!(a.limit() >= 1 && a.limit() <= a.cap());
                prop_assert!(a.window >= 1.0 && a.window <= a.cap() as f64);
                prop_assert_eq!(a.in_flight(), held.len());
            }
            // Full windows of successes bring it back to the cap.
            for e in held.drain(..) {
                a.release(e, Outcome::Success);
            }
            for _ in 0..(4 * a.cap() + 10) {
                fill_and_succeed(&mut a);
            }
            prop_assert_eq!(a.limit(), a.cap());
        }
    }
}
