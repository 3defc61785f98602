//! A fault-injecting HTTP/1.1 proxy in front of the emulator, on 127.0.0.1.
//!
//! On a configurable share of requests, chosen by a seeded RNG, it answers
//! for the service instead of forwarding: a throttling error in the
//! service's own protocol (Query XML, EC2 XML, or JSON for services called
//! with `X-Amz-Target`), HTTP 500 or 503, or a connection reset (the socket
//! is dropped with SO_LINGER 0 before the request reaches the emulator, so
//! nothing happened and a retry is safe; [`FaultKind::LostResponse`] resets
//! after forwarding instead). Every request can get added
//! latency. [`Rule`]s answer a given API call permanently (e.g. AccessDenied
//! for `CreateKey`); `lose_first` loses the answer to the first request of
//! the given API calls. Faulted requests other than lost responses never
//! reach the emulator; the others are forwarded one request per upstream
//! connection. Counts by kind and by
//! API call are kept in [`Stats`].
//!
//! The proxy runs its own tokio runtime on a thread of its own, so tests may
//! block while it serves; it stops on drop. It only ever connects to
//! 127.0.0.1.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does instead of forwarding a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultKind {
    /// HTTP 400 `Throttling` / `ThrottlingException` / `RequestLimitExceeded`.
    Throttle,
    /// HTTP 500 `InternalFailure`.
    Http500,
    /// HTTP 503 `ServiceUnavailable`.
    Http503,
    /// The connection is reset without an answer.
    Reset,
    /// The request reaches the emulator and takes effect, then the
    /// connection is reset instead of answering: the hard case, where a
    /// retry of a non-idempotent call repeats its effect. Not in the
    /// default mix.
    LostResponse,
}

impl FaultKind {
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Throttle => "throttle",
            FaultKind::Http500 => "http500",
            FaultKind::Http503 => "http503",
            FaultKind::Reset => "reset",
            FaultKind::LostResponse => "lost_response",
        }
    }
}

/// A permanent answer for one API call, e.g. `CreateKey`.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The action: the part after the `.` of `X-Amz-Target`, or the Query `Action`.
    pub action: String,
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Rule {
    /// A JSON-protocol error (KMS, Secrets Manager).
    pub fn json_error(action: &str, status: u16, error_type: &str, message: &str) -> Rule {
        Rule {
            action: action.to_string(),
            status,
            content_type: "application/x-amz-json-1.1".into(),
            body: serde_json::json!({ "__type": error_type, "message": message }).to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct FaultConfig {
    pub seed: u64,
    /// Share of requests (0.0–1.0) that get a fault instead of an answer.
    pub fault_rate: f64,
    /// Relative weights of the fault kinds.
    pub weights: Vec<(FaultKind, u32)>,
    /// Every request waits a uniformly random 0..=this many milliseconds.
    pub max_latency_ms: u64,
    pub rules: Vec<Rule>,
    /// API calls (actions) whose first request gets [`FaultKind::LostResponse`].
    pub lose_first: Vec<String>,
}

impl FaultConfig {
    /// `rate` of the requests faulted: 40% throttling, 20% each HTTP 500,
    /// HTTP 503 and connection reset; up to 20 ms latency on every request.
    pub fn with_rate(seed: u64, rate: f64) -> FaultConfig {
        FaultConfig {
            seed,
            fault_rate: rate,
            weights: vec![
                (FaultKind::Throttle, 2),
                (FaultKind::Http500, 1),
                (FaultKind::Http503, 1),
                (FaultKind::Reset, 1),
            ],
            max_latency_ms: 20,
            rules: Vec::new(),
            lose_first: Vec::new(),
        }
    }

    /// Forwards everything, except what the rules answer.
    pub fn passthrough() -> FaultConfig {
        FaultConfig {
            fault_rate: 0.0,
            max_latency_ms: 0,
            ..FaultConfig::with_rate(0, 0.0)
        }
    }
}

/// What the proxy saw and did.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Requests read from clients.
    pub requests: u64,
    /// Requests forwarded to the emulator and answered.
    pub forwarded: u64,
    /// Injected faults by kind.
    pub faults: BTreeMap<FaultKind, u64>,
    /// Requests answered by a [`Rule`].
    pub rule_hits: u64,
    /// Requests by `service:Action`.
    pub by_action: BTreeMap<String, u64>,
    /// Injected faults by `service:Action`.
    pub faults_by_action: BTreeMap<String, u64>,
    /// Requests the proxy could not forward (emulator unreachable, bad framing).
    pub proxy_errors: u64,
}

impl Stats {
    pub fn total_faults(&self) -> u64 {
        self.faults.values().sum()
    }

    /// Adds another proxy's counts to these.
    pub fn absorb(&mut self, other: &Stats) {
        self.requests += other.requests;
        self.forwarded += other.forwarded;
        self.rule_hits += other.rule_hits;
        self.proxy_errors += other.proxy_errors;
        for (k, v) in &other.faults {
            *self.faults.entry(*k).or_default() += v;
        }
        for (k, v) in &other.by_action {
            *self.by_action.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.faults_by_action {
            *self.faults_by_action.entry(k.clone()).or_default() += v;
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "requests": self.requests,
            "forwarded": self.forwarded,
            "faults": self.faults.iter().map(|(k, v)| (k.name().to_string(), *v)).collect::<BTreeMap<_, _>>(),
            "faults_total": self.total_faults(),
            "rule_hits": self.rule_hits,
            "proxy_errors": self.proxy_errors,
        })
    }
}

/// SplitMix64: small, seeded, good enough to pick faults.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Shared {
    cfg: FaultConfig,
    upstream_port: u16,
    rng: Mutex<Rng>,
    stats: Mutex<Stats>,
    /// Actions in `lose_first` whose response was lost already.
    lost: Mutex<std::collections::HashSet<String>>,
}

impl Shared {
    /// The decision for one request: latency, then a rule, a fault or `None` (forward).
    fn decide(&self, action: &str) -> (Duration, Option<Result<Rule, FaultKind>>) {
        let mut rng = self.rng.lock().expect("rng");
        let latency = if self.cfg.max_latency_ms > 0 {
            Duration::from_millis(rng.next() % (self.cfg.max_latency_ms + 1))
        } else {
            Duration::ZERO
        };
        if let Some(rule) = self.cfg.rules.iter().find(|r| r.action == action) {
            return (latency, Some(Ok(rule.clone())));
        }
        if self.cfg.lose_first.iter().any(|a| a == action)
            && self.lost.lock().expect("lost").insert(action.to_string())
        {
            return (latency, Some(Err(FaultKind::LostResponse)));
        }
        if rng.unit() >= self.cfg.fault_rate {
            return (latency, None);
        }
        let total: u32 = self.cfg.weights.iter().map(|(_, w)| w).sum();
        let mut pick = (rng.next() % u64::from(total.max(1))) as u32;
        for (kind, w) in &self.cfg.weights {
            if pick < *w {
                return (latency, Some(Err(*kind)));
            }
            pick -= w;
        }
        (latency, None)
    }

    fn stats(&self) -> std::sync::MutexGuard<'_, Stats> {
        self.stats.lock().expect("stats")
    }
}

pub struct FaultProxy {
    port: u16,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FaultProxy {
    /// Listens on 127.0.0.1 (a free port) and forwards to 127.0.0.1:`upstream_port`.
    pub fn start(upstream_port: u16, cfg: FaultConfig) -> FaultProxy {
        let shared = Arc::new(Shared {
            rng: Mutex::new(Rng(cfg.seed)),
            cfg,
            upstream_port,
            stats: Mutex::new(Stats::default()),
            lost: Mutex::new(std::collections::HashSet::new()),
        });
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let serving = shared.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("proxy runtime");
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy bind");
                let _ = port_tx.send(listener.local_addr().expect("proxy addr").port());
                let accept = async {
                    loop {
                        let Ok((client, _)) = listener.accept().await else {
                            continue;
                        };
                        tokio::spawn(serve(client, serving.clone()));
                    }
                };
                tokio::select! {
                    _ = accept => {}
                    _ = stop_rx => {}
                }
            });
            rt.shutdown_timeout(Duration::from_secs(1));
        });
        let port = port_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("proxy listening");
        FaultProxy {
            port,
            shared,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn stats(&self) -> Stats {
        self.shared.stats().clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ------------------------------------------------------------------ HTTP/1.1

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 16 * 1024 * 1024;
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);

struct Message {
    /// Request line or status line.
    start: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A buffered reader over one connection.
struct Conn<S> {
    stream: S,
    buf: Vec<u8>,
}

impl<S: AsyncRead + Unpin> Conn<S> {
    async fn fill(&mut self) -> std::io::Result<bool> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    /// The head (start line + headers); `None` on a clean EOF before any byte.
    async fn head(&mut self) -> std::io::Result<Option<(String, Vec<(String, String)>)>> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.drain(..end + 4);
                let mut lines = head.split("\r\n");
                let start = lines.next().unwrap_or_default().to_string();
                let headers = lines
                    .filter_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        Some((k.trim().to_string(), v.trim().to_string()))
                    })
                    .collect();
                return Ok(Some((start, headers)));
            }
            if self.buf.len() > MAX_HEAD {
                return Err(bad("head too large"));
            }
            if !self.fill().await? {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(bad("EOF inside a head"))
                };
            }
        }
    }

    async fn exact(&mut self, n: usize) -> std::io::Result<Vec<u8>> {
        if n > MAX_BODY {
            return Err(bad("body too large"));
        }
        while self.buf.len() < n {
            if !self.fill().await? {
                return Err(bad("EOF inside a body"));
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    async fn line(&mut self) -> std::io::Result<String> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.drain(..end + 2);
                return Ok(line);
            }
            if self.buf.len() > MAX_HEAD || !self.fill().await? {
                return Err(bad("bad chunk framing"));
            }
        }
    }

    async fn chunked(&mut self) -> std::io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let size_line = self.line().await?;
            let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| bad("bad chunk size"))?;
            if size == 0 {
                // trailers, up to the empty line
                while !self.line().await?.is_empty() {}
                return Ok(body);
            }
            if body.len() + size > MAX_BODY {
                return Err(bad("body too large"));
            }
            body.extend(self.exact(size).await?);
            self.line().await?;
        }
    }

    async fn until_eof(&mut self) -> std::io::Result<Vec<u8>> {
        while self.fill().await? {
            if self.buf.len() > MAX_BODY {
                return Err(bad("body too large"));
            }
        }
        Ok(std::mem::take(&mut self.buf))
    }

    /// The body framed by the headers; `eof_ok` for responses without framing.
    async fn body(
        &mut self,
        headers: &[(String, String)],
        eof_ok: bool,
    ) -> std::io::Result<Vec<u8>> {
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        if get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
            self.chunked().await
        } else if let Some(len) = get("content-length") {
            let n = len.parse().map_err(|_| bad("bad content-length"))?;
            self.exact(n).await
        } else if eof_ok {
            self.until_eof().await
        } else {
            Ok(Vec::new())
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

/// How a request's service speaks errors.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Query,
    Ec2,
    Json,
}

/// (`service:Action`, action, protocol) of a request.
fn classify(req: &Message) -> (String, String, Protocol) {
    let service = req
        .header("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(3))
        .unwrap_or("unknown")
        .to_string();
    if let Some(target) = req.header("x-amz-target") {
        let action = target.rsplit('.').next().unwrap_or(target).to_string();
        return (format!("{service}:{action}"), action, Protocol::Json);
    }
    let body = String::from_utf8_lossy(&req.body);
    let action = body
        .split('&')
        .find_map(|kv| kv.strip_prefix("Action="))
        .unwrap_or("unknown")
        .to_string();
    let protocol = if service == "ec2" {
        Protocol::Ec2
    } else {
        Protocol::Query
    };
    (format!("{service}:{action}"), action, protocol)
}

/// The error a service would send: (status, content type, body).
fn fault_response(kind: FaultKind, protocol: Protocol) -> (u16, &'static str, String) {
    let (status, query_type, code, ec2_code, json_type, message) = match kind {
        FaultKind::Throttle => (
            400,
            "Sender",
            "Throttling",
            "RequestLimitExceeded",
            "ThrottlingException",
            "Rate exceeded",
        ),
        FaultKind::Http500 => (
            500,
            "Receiver",
            "InternalFailure",
            "InternalError",
            "InternalFailure",
            "We encountered an internal error. Please try again.",
        ),
        FaultKind::Http503 | FaultKind::Reset | FaultKind::LostResponse => (
            503,
            "Receiver",
            "ServiceUnavailable",
            "Unavailable",
            "ServiceUnavailableException",
            "Service is unavailable. Please try again.",
        ),
    };
    match protocol {
        Protocol::Query => (
            status,
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>{query_type}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>"
            ),
        ),
        Protocol::Ec2 => (
            status,
            "text/xml;charset=UTF-8",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>{ec2_code}</Code><Message>{message}</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>"
            ),
        ),
        Protocol::Json => (
            status,
            "application/x-amz-json-1.1",
            serde_json::json!({ "__type": json_type, "message": message }).to_string(),
        ),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

async fn answer(
    client: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (k, v) in headers {
        if [
            "connection",
            "keep-alive",
            "transfer-encoding",
            "content-length",
        ]
        .iter()
        .any(|h| k.eq_ignore_ascii_case(h))
        {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    client.write_all(head.as_bytes()).await?;
    client.write_all(body).await?;
    client.flush().await
}

/// Forwards one request to the emulator on a fresh connection; the whole response.
async fn forward(upstream_port: u16, req: &Message) -> std::io::Result<Message> {
    let upstream = TcpStream::connect(("127.0.0.1", upstream_port)).await?;
    let mut up = Conn {
        stream: upstream,
        buf: Vec::new(),
    };
    let mut head = format!("{}\r\n", req.start);
    for (k, v) in &req.headers {
        if [
            "connection",
            "keep-alive",
            "transfer-encoding",
            "content-length",
            "expect",
        ]
        .iter()
        .any(|h| k.eq_ignore_ascii_case(h))
        {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        req.body.len()
    ));
    up.stream.write_all(head.as_bytes()).await?;
    up.stream.write_all(&req.body).await?;
    up.stream.flush().await?;
    loop {
        let (start, headers) = up.head().await?.ok_or_else(|| bad("no response"))?;
        let status: u16 = start
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("bad status line"))?;
        if (100..200).contains(&status) {
            continue;
        }
        let no_body = status == 204 || status == 304 || req.start.starts_with("HEAD ");
        let body = if no_body {
            Vec::new()
        } else {
            up.body(&headers, true).await?
        };
        return Ok(Message {
            start,
            headers,
            body,
        });
    }
}

async fn serve(client: TcpStream, shared: Arc<Shared>) {
    let mut conn = Conn {
        stream: client,
        buf: Vec::new(),
    };
    loop {
        let Ok(Some((start, headers))) = conn.head().await else {
            return;
        };
        if headers.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("expect") && v.eq_ignore_ascii_case("100-continue")
        }) && conn
            .stream
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await
            .is_err()
        {
            return;
        }
        let Ok(body) = conn.body(&headers, false).await else {
            return;
        };
        let req = Message {
            start,
            headers,
            body,
        };
        let (key, action, protocol) = classify(&req);
        {
            let mut s = shared.stats();
            s.requests += 1;
            *s.by_action.entry(key.clone()).or_default() += 1;
        }
        let (latency, decision) = shared.decide(&action);
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let written = match decision {
            Some(Ok(rule)) => {
                shared.stats().rule_hits += 1;
                let headers = vec![("content-type".to_string(), rule.content_type.clone())];
                answer(
                    &mut conn.stream,
                    rule.status,
                    &headers,
                    rule.body.as_bytes(),
                )
                .await
            }
            Some(Err(kind)) => {
                {
                    let mut s = shared.stats();
                    *s.faults.entry(kind).or_default() += 1;
                    *s.faults_by_action.entry(key).or_default() += 1;
                }
                if kind == FaultKind::LostResponse {
                    let _ =
                        tokio::time::timeout(UPSTREAM_TIMEOUT, forward(shared.upstream_port, &req))
                            .await;
                }
                if matches!(kind, FaultKind::Reset | FaultKind::LostResponse) {
                    // RST, not FIN: the client sees "connection reset".
                    let _ = conn.stream.set_zero_linger();
                    return;
                }
                let (status, content_type, body) = fault_response(kind, protocol);
                let headers = vec![("content-type".to_string(), content_type.to_string())];
                answer(&mut conn.stream, status, &headers, body.as_bytes()).await
            }
            None => {
                match tokio::time::timeout(UPSTREAM_TIMEOUT, forward(shared.upstream_port, &req))
                    .await
                {
                    Ok(Ok(resp)) => {
                        shared.stats().forwarded += 1;
                        let status = resp
                            .start
                            .split_whitespace()
                            .nth(1)
                            .and_then(|s| s.parse().ok())
                            .unwrap_or(502);
                        answer(&mut conn.stream, status, &resp.headers, &resp.body).await
                    }
                    _ => {
                        shared.stats().proxy_errors += 1;
                        answer(
                            &mut conn.stream,
                            502,
                            &[],
                            b"fault proxy: emulator unreachable",
                        )
                        .await
                    }
                }
            }
        };
        if written.is_err() {
            return;
        }
    }
}
