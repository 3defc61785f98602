//! Small helpers shared by the resource files: input accessors, SDK error
//! mapping, secret redaction, stable hashing and percent-decoding.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use cairn_core::provider::{CallContext, Observed, ProviderError, ReadRequest, ResourceProvider};
use cairn_core::value::{Map, Value};
use std::collections::BTreeMap;

/// The tag every taggable resource carries, so an interrupted create can be found.
pub const URN_TAG: &str = "cairn:urn";

/// A tag unique to one create call, on resources whose create has no
/// idempotency token (KMS keys): after an ambiguous failure the provider
/// finds exactly what that call made, not an older resource with the same URN.
pub const CREATE_TOKEN_TAG: &str = "cairn:create-token";

/// Tags cairn sets for itself and hides from reads.
pub(crate) fn is_internal_tag(key: &str) -> bool {
    key == URN_TAG || key == CREATE_TOKEN_TAG
}

/// A token unique to one create call (process, time, sequence), for [`CREATE_TOKEN_TAG`].
pub(crate) fn create_token(urn: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    stable_token(&[
        urn,
        &std::process::id().to_string(),
        &nanos.to_string(),
        &SEQ.fetch_add(1, Ordering::Relaxed).to_string(),
    ])
}

/// What `tags` say about an object's owner, for [`ProviderError::NotOwned`].
pub(crate) fn owner_of(tags: &BTreeMap<String, String>) -> String {
    match tags.get(URN_TAG) {
        Some(urn) => format!("the tag {URN_TAG}={urn}"),
        None => format!("no {URN_TAG} tag"),
    }
}

/// Recovery's ownership check: `Ok` when the object `id` carries this
/// resource's `cairn:urn` tag, else [`ProviderError::NotOwned`] naming what
/// it carries. `tags` is `None` when they could not be read.
pub(crate) fn ensure_ours(
    ctx: &CallContext,
    resource: &str,
    id: &str,
    tags: Option<&BTreeMap<String, String>>,
) -> Result<(), ProviderError> {
    match tags {
        Some(t) if t.get(URN_TAG) == Some(&ctx.urn) => Ok(()),
        _ => Err(not_owned(
            ctx,
            resource,
            id,
            tags.map(owner_of)
                .unwrap_or_else(|| "tags that could not be read".to_string()),
        )),
    }
}

pub(crate) fn not_owned(
    ctx: &CallContext,
    resource: &str,
    id: &str,
    found: String,
) -> ProviderError {
    ProviderError::NotOwned {
        resource: resource.to_string(),
        id: id.to_string(),
        urn: ctx.urn.clone(),
        found,
    }
}

// ---------------------------------------------------------------- inputs

pub(crate) fn get_str<'a>(m: &'a Map, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Value::as_str)
}

pub(crate) fn get_string(m: &Map, k: &str) -> Option<String> {
    get_str(m, k).map(str::to_string)
}

pub(crate) fn get_bool(m: &Map, k: &str) -> Option<bool> {
    m.get(k).and_then(Value::as_bool)
}

pub(crate) fn get_i64(m: &Map, k: &str) -> Option<i64> {
    m.get(k).and_then(Value::as_i64)
}

pub(crate) fn get_i32(m: &Map, k: &str) -> Option<i32> {
    get_i64(m, k).and_then(|v| i32::try_from(v).ok())
}

pub(crate) fn get_str_list(m: &Map, k: &str) -> Vec<String> {
    m.get(k)
        .and_then(Value::as_list)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// A `tags` map as ordered pairs; non-string values are skipped.
pub(crate) fn get_tags(m: &Map, k: &str) -> BTreeMap<String, String> {
    m.get(k)
        .and_then(Value::as_map)
        .map(|t| {
            t.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn tags_value(tags: &BTreeMap<String, String>) -> Value {
    Value::Map(
        tags.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// Tags to add/change and keys to remove, going from `old` to `new`.
pub(crate) fn tag_diff(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let set = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let removed = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .cloned()
        .collect();
    (set, removed)
}

/// True when a check-time string still holds an unresolved `${...}` reference.
pub(crate) fn is_unresolved(s: &str) -> bool {
    s.contains("${")
}

/// A concrete string at check time: present, a string, and without references.
pub(crate) fn concrete_str<'a>(m: &'a Map, k: &str) -> Option<&'a str> {
    match m.get(k)? {
        Value::Unknown => None,
        v => v.as_str().filter(|s| !is_unresolved(s)),
    }
}

/// Orders `observed` like `desired` where both hold the same items, so a
/// read after an import or apply reports no spurious reordering.
pub(crate) fn order_like<T: PartialEq + Clone>(observed: &[T], desired: &[T]) -> Vec<T> {
    let mut rest: Vec<T> = observed.to_vec();
    let mut out = Vec::with_capacity(rest.len());
    for d in desired {
        if let Some(pos) = rest.iter().position(|o| o == d) {
            out.push(rest.remove(pos));
        }
    }
    out.extend(rest);
    out
}

pub(crate) fn str_list_value<S: AsRef<str>>(items: &[S]) -> Value {
    Value::List(
        items
            .iter()
            .map(|s| Value::String(s.as_ref().to_string()))
            .collect(),
    )
}

/// True when two JSON documents are equal as JSON (ignoring formatting).
pub(crate) fn same_json(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

// ---------------------------------------------------------------- errors

/// How callers name a resource in errors: `name (type token)`.
pub(crate) fn resource_label(ctx: &CallContext, token: &str) -> String {
    format!("{} ({token})", ctx.name)
}

/// The error code of an SDK error, when the service sent one.
pub(crate) fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(_) => err.code(),
        _ => None,
    }
}

const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

const TRANSIENT: &[&str] = &[
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "InternalServiceError",
    "InternalServiceErrorException",
];

const NOT_FOUND: &[&str] = &[
    "ReplicationGroupNotFoundFault",
    "CacheParameterGroupNotFound",
    "CacheSubnetGroupNotFoundFault",
    "CacheClusterNotFound",
    "NotFoundException",
    "ResourceNotFoundException",
    "NoSuchEntity",
    "InvalidGroup.NotFound",
    "InvalidGroupId.NotFound",
];

/// True for the "does not exist" codes of every service used here.
pub(crate) fn is_not_found_code(code: &str) -> bool {
    NOT_FOUND.contains(&code)
}

pub(crate) fn is_not_found<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    error_code(err).is_some_and(is_not_found_code)
}

/// Maps an SDK error (after the SDK's own retries) to a [`ProviderError::Api`]
/// naming the resource and the API call. `secrets` are scrubbed from the text.
pub(crate) fn api_error<E>(
    resource: &str,
    api: &str,
    err: SdkError<E, HttpResponse>,
    secrets: &[&str],
) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let (code, message, retryable) = match &err {
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            let code = err
                .code()
                .map(str::to_string)
                .unwrap_or_else(|| format!("HTTP{status}"));
            let message = err
                .message()
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .unwrap_or_else(|| {
                    format!("the service answered HTTP {status} without an error message")
                });
            let retryable = status >= 500
                || THROTTLING.contains(&code.as_str())
                || TRANSIENT.contains(&code.as_str());
            (code, message, retryable)
        }
        SdkError::TimeoutError(_) => (
            "Timeout".to_string(),
            DisplayErrorContext(&err).to_string(),
            true,
        ),
        SdkError::DispatchFailure(_) => (
            "DispatchFailure".to_string(),
            DisplayErrorContext(&err).to_string(),
            true,
        ),
        SdkError::ResponseError(_) => (
            "ResponseError".to_string(),
            DisplayErrorContext(&err).to_string(),
            true,
        ),
        _ => (
            "ClientError".to_string(),
            DisplayErrorContext(&err).to_string(),
            false,
        ),
    };
    ProviderError::Api {
        resource: resource.to_string(),
        api: api.to_string(),
        code,
        message: redact(&message, secrets),
        retryable,
    }
}

/// True when a failed call may still have taken effect: it was retryable
/// and not refused up front (a reset or timeout after the request was sent,
/// a 5xx, an answer that could not be read). Throttling means it was refused.
pub(crate) fn may_have_taken_effect(e: &ProviderError) -> bool {
    matches!(e, ProviderError::Api { code, retryable: true, .. } if !THROTTLING.contains(&code.as_str()))
}

/// Runs a create that AWS cannot make idempotent. `attempt` must send the
/// call with the SDK's retries off: after a failure that may have taken
/// effect, `find` looks for what that attempt made and, if it finds it, the
/// create adopts it instead of creating again. Otherwise a retryable failure
/// is retried (up to `backoff.attempts`, jittered exponential backoff); any
/// other failure is returned at once.
pub(crate) async fn create_or_find<T, A, AF, F, FF>(
    ctx: &CallContext,
    backoff: crate::clients::Backoff,
    mut attempt: A,
    mut find: F,
) -> Result<T, ProviderError>
where
    A: FnMut() -> AF,
    AF: std::future::Future<Output = Result<T, ProviderError>>,
    F: FnMut() -> FF,
    FF: std::future::Future<Output = Result<Option<T>, ProviderError>>,
{
    let mut delay = backoff.first;
    let mut tries = 0;
    loop {
        tries += 1;
        let err = match attempt().await {
            Ok(t) => return Ok(t),
            Err(e) => e,
        };
        if !matches!(
            err,
            ProviderError::Api {
                retryable: true,
                ..
            }
        ) {
            return Err(err);
        }
        if may_have_taken_effect(&err) {
            ctx.report("the create's answer was lost; looking for what it made");
            if let Some(found) = find().await? {
                ctx.report("adopting what the lost create made");
                return Ok(found);
            }
        }
        if tries >= backoff.attempts.max(1) {
            return Err(err);
        }
        ctx.report(&format!(
            "retrying the create ({}/{})",
            tries + 1,
            backoff.attempts
        ));
        tokio::time::sleep(jittered(delay)).await;
        delay = (delay * 2).min(backoff.max);
    }
}

/// Between half and all of `d` (equal jitter), so retries spread out.
fn jittered(d: std::time::Duration) -> std::time::Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or_default();
    let half = d / 2;
    half + half.mul_f64(f64::from(nanos % 1000) / 1000.0)
}

/// An API-level failure we detect ourselves (odd response, wrong state).
pub(crate) fn api_failure(
    resource: &str,
    api: &str,
    code: &str,
    message: impl Into<String>,
) -> ProviderError {
    ProviderError::Api {
        resource: resource.to_string(),
        api: api.to_string(),
        code: code.to_string(),
        message: message.into(),
        retryable: false,
    }
}

/// A response that lacks a field we rely on.
pub(crate) fn missing(resource: &str, api: &str, what: &str) -> ProviderError {
    api_failure(
        resource,
        api,
        "MalformedResponse",
        format!("the response has no {what}"),
    )
}

/// Replaces every occurrence of each (non-trivial) secret with `[secret]`.
pub(crate) fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(*s, cairn_core::value::SECRET_MASK);
    }
    out
}

// ---------------------------------------------------------------- hashing

/// A stable 36-char UUID-shaped token from SHA-256 of the parts
/// (used as an idempotency token; never reversible to the parts).
pub(crate) fn stable_token(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    let digest = h.finalize();
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Decodes `%XX` escapes (IAM returns policy documents URL-encoded).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

/// An ElastiCache resource's tags (replication, parameter and subnet groups).
pub(crate) async fn elasticache_tags(
    ec: &aws_sdk_elasticache::Client,
    resource: &str,
    arn: &str,
) -> Result<BTreeMap<String, String>, ProviderError> {
    let out = ec
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(|e| api_error(resource, "elasticache:ListTagsForResource", e, &[]))?;
    Ok(out
        .tag_list()
        .iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect())
}

/// The distinct characters of `s` that `allowed` rejects, quoted for a
/// diagnostic (`' '`, `'#'`), or `None` when every character is allowed.
pub(crate) fn disallowed_chars(s: &str, allowed: impl Fn(char) -> bool) -> Option<String> {
    let mut bad: Vec<char> = s.chars().filter(|c| !allowed(*c)).collect();
    bad.sort_unstable();
    bad.dedup();
    (!bad.is_empty()).then(|| {
        bad.iter()
            .map(|c| format!("{:?}", c))
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// How long a new object may stay invisible (Terraform's IAM/KMS/EC2
/// `propagationTimeout` is 2 minutes).
pub(crate) const PROPAGATION: std::time::Duration = std::time::Duration::from_secs(120);

fn recent() -> &'static std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>> {
    static RECENT: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
    > = std::sync::OnceLock::new();
    RECENT.get_or_init(Default::default)
}

/// Notes that this process just created `id`, so a not-found read of it
/// within [`PROPAGATION`] is retried rather than taken as gone.
pub(crate) fn note_created(id: &str) {
    if let Ok(mut m) = recent().lock() {
        let now = std::time::Instant::now();
        m.retain(|_, t| now.duration_since(*t) < PROPAGATION);
        m.insert(id.to_string(), now);
    }
}

/// Forgets `id` (deleted): a not-found read of it is final again.
pub(crate) fn forget_created(id: &str) {
    if let Ok(mut m) = recent().lock() {
        m.remove(id);
    }
}

/// Whether `id` was created by this process within [`PROPAGATION`].
pub(crate) fn recently_created(id: &str) -> bool {
    recent()
        .lock()
        .ok()
        .and_then(|m| m.get(id).map(|t| t.elapsed() < PROPAGATION))
        .unwrap_or(false)
}

/// Runs `call` again while it fails with a not-found code, for at most
/// `bound` (a new object not yet visible everywhere); other results return
/// at once.
pub(crate) async fn retry_not_found<T, F, Fut>(
    ctx: &CallContext,
    bound: std::time::Duration,
    mut call: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ProviderError>>,
{
    let start = std::time::Instant::now();
    let mut delay = std::time::Duration::from_millis(100);
    loop {
        match call().await {
            Err(ProviderError::Api { ref code, .. })
                if is_not_found_code(code) && start.elapsed() + delay < bound =>
            {
                ctx.report("waiting for a new object to become visible");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(2));
            }
            r => return r,
        }
    }
}

/// Like [`retry_not_found`] for a lookup that answers `None` when not found:
/// retried only while `id` is one this process just created.
pub(crate) async fn read_after_create<T, F, Fut>(
    ctx: &CallContext,
    id: &str,
    mut call: F,
) -> Result<Option<T>, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, ProviderError>>,
{
    let mut delay = std::time::Duration::from_millis(100);
    loop {
        match call().await? {
            None if recently_created(id) => {
                ctx.report("waiting for a new object to become visible");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(2));
            }
            r => return Ok(r),
        }
    }
}

/// The most values one EC2 `Describe*` filter takes.
pub(crate) const EC2_FILTER_VALUES_MAX: usize = 200;

/// A batched read's label for errors: the resource, or how many of a type.
pub(crate) fn batch_label(reqs: &[ReadRequest], token: &str) -> String {
    match reqs {
        [one] => resource_label(&one.ctx, token),
        _ => format!("{} resources ({token})", reqs.len()),
    }
}

/// After a batch: an id it did not return that was created moments ago
/// (not yet visible everywhere) gets the single read, which waits for it.
pub(crate) async fn read_missing_recent<P: ResourceProvider + ?Sized>(
    provider: &P,
    reqs: &[ReadRequest],
    found: &mut BTreeMap<String, Observed>,
) -> Result<(), ProviderError> {
    for r in reqs {
        if !found.contains_key(&r.id) && recently_created(&r.id) {
            if let Some(o) = provider.read(&r.ctx, &r.id, &r.inputs).await? {
                found.insert(r.id.clone(), o);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("%7B%22a%22%3A1%7D"), "{\"a\":1}");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn tokens_are_stable_and_distinct() {
        let a = stable_token(&["s/x", "v1"]);
        assert_eq!(a, stable_token(&["s/x", "v1"]));
        assert_ne!(a, stable_token(&["s/x", "v2"]));
        assert_ne!(stable_token(&["ab", "c"]), stable_token(&["a", "bc"]));
        assert_eq!(a.len(), 36);
        assert!(!a.contains("v1"));
    }

    #[test]
    fn redaction() {
        assert_eq!(
            redact("bad token abcdef!", &["abcdef"]),
            "bad token [secret]!"
        );
        assert_eq!(redact("x", &[""]), "x");
    }

    #[test]
    fn ordering_follows_desired() {
        let o = order_like(&["b", "c", "a"], &["a", "b"]);
        assert_eq!(o, vec!["a", "b", "c"]);
    }

    #[test]
    fn tag_diffs() {
        let old: BTreeMap<_, _> =
            [("a".to_string(), "1".to_string()), ("b".into(), "2".into())].into();
        let new: BTreeMap<_, _> =
            [("a".to_string(), "1".to_string()), ("c".into(), "3".into())].into();
        let (set, removed) = tag_diff(&old, &new);
        assert_eq!(set.keys().collect::<Vec<_>>(), vec!["c"]);
        assert_eq!(removed, vec!["b".to_string()]);
    }
}
