//! Shared remote state in S3, for teams and CI.
//!
//! `--backend s3://BUCKET/PREFIX?kms_key=KEY` keeps each stack as two objects:
//!
//! ```text
//! s3://BUCKET/PREFIX/<stack>.state.json   the state (cairn-state's snapshot
//!                                         document), SSE-KMS with KEY
//! s3://BUCKET/PREFIX/<stack>.lock         the writer lock (LockInfo JSON)
//! ```
//!
//! # Locking
//! A writer creates the lock object with `If-None-Match: *`, which S3 makes
//! atomic: of two concurrent writers exactly one gets `200`, the other `412`
//! and a [`StateError::Locked`] naming the holder. The lock is removed with
//! `If-Match: <its ETag>`, so a writer never deletes a lock taken over by
//! someone else; `--force-unlock` likewise deletes only the lock it read
//! (its ETag), never one taken a moment later. Every state write carries `If-Match: <ETag we last saw>`
//! (or `If-None-Match: *` for a new stack), so even a writer whose lock was
//! force-removed cannot overwrite a newer state: it gets
//! [`BackendError::Conflict`].
//!
//! # Working copy and durability
//! Under the lock the state is downloaded into a local working copy (a
//! normal sled [`StateStore`] under the state directory, rebuilt on every
//! open) and the engine runs against [`RemoteStore`]. Before every provider
//! call that changes the cloud (an *external* intent) the whole state,
//! journal included, is uploaded, so the intent is in S3 before the call
//! is made: a run killed on any machine is recovered by the next run on
//! any other. Outcomes are uploaded at the next external intent and at
//! [`RemoteStore::close`]; an outcome lost to a crash leaves its intent
//! pending, which the next run reconciles (the same argument as the local
//! store's unflushed `finish`).
//!
//! # Keys
//! Secrets inside the state are sealed with a data key from KMS
//! `GenerateDataKey` (encryption context `cairn:stack=<stack>`); only the
//! KMS-encrypted data key is stored. On top, the object itself is encrypted
//! at rest with SSE-KMS under the same key.

mod error;
mod location;

pub use error::BackendError;
pub use location::S3Location;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use cairn_core::state::{Intent, Outcome, StackState, StateSink, StateSinkError};
use cairn_core::value::Map;
use cairn_state::{DataKey, KeyProvider, LockInfo, SecretKeys, StateError, StateStore};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The key scheme recorded in the state for KMS envelope keys.
pub const KMS_SCHEME: &str = "aws-kms";

/// A stack's state in S3, with the clients to reach it.
#[derive(Clone, Debug)]
pub struct S3Backend {
    s3: aws_sdk_s3::Client,
    kms: aws_sdk_kms::Client,
    location: S3Location,
}

/// What a GET of the state object found.
struct Fetched {
    bytes: Vec<u8>,
    etag: Option<String>,
}

impl S3Backend {
    /// `path_style`: address buckets as `endpoint/bucket` (an emulator on
    /// 127.0.0.1 has no per-bucket host names).
    pub fn new(sdk: &SdkConfig, location: S3Location, path_style: bool) -> S3Backend {
        let s3_config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(path_style)
            .build();
        S3Backend {
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            kms: aws_sdk_kms::Client::new(sdk),
            location,
        }
    }

    pub fn location(&self) -> &S3Location {
        &self.location
    }

    /// The stack's state, read-only, without the lock (preview, state
    /// list/show, stack output). `None` when the stack has no state yet.
    /// `scratch` is a local directory the store may name in errors.
    pub async fn read(
        &self,
        stack: &str,
        scratch: &Path,
    ) -> Result<Option<StateStore>, BackendError> {
        let Some(found) = self.get_state(stack).await? else {
            return Ok(None);
        };
        let keys = self.keys_for(stack, Some(&found.bytes)).await?;
        let url = self.location.object_url(&self.location.state_key(stack));
        Ok(Some(StateStore::from_snapshot(
            scratch,
            stack,
            keys,
            &found.bytes,
            &url,
        )?))
    }

    /// Takes the stack's lock and opens a working copy under `work_root`.
    /// A lock left by a process of this host that is gone is taken over
    /// with a warning; any other held lock fails with [`StateError::Locked`].
    pub async fn open_writer(
        &self,
        stack: &str,
        work_root: &Path,
    ) -> Result<RemoteStore, BackendError> {
        let lock_etag = self.acquire_lock(stack).await?;
        match self.open_locked(stack, work_root, &lock_etag).await {
            Ok(store) => Ok(store),
            Err(e) => {
                if let Err(release) = self.release_lock(stack, &lock_etag).await {
                    tracing::warn!("releasing the lock after a failed open: {release}");
                }
                Err(e)
            }
        }
    }

    async fn open_locked(
        &self,
        stack: &str,
        work_root: &Path,
        lock_etag: &str,
    ) -> Result<RemoteStore, BackendError> {
        let found = self.get_state(stack).await?;
        let keys = self
            .keys_for(stack, found.as_ref().map(|f| f.bytes.as_slice()))
            .await?;
        let seed = found.as_ref().map(|f| f.bytes.as_slice());
        let store = match StateStore::open_working_copy(work_root, stack, keys.clone(), seed) {
            // A working copy left by a killed run on this machine; we hold
            // the S3 lock, so it is ours to take over.
            Err(StateError::Locked(info)) if info.stale => {
                StateStore::force_unlock(work_root, stack)?;
                StateStore::open_working_copy(work_root, stack, keys, seed)?
            }
            other => other?,
        };
        Ok(RemoteStore {
            store,
            backend: self.clone(),
            stack: stack.to_string(),
            lock_etag: lock_etag.to_string(),
            state_etag: tokio::sync::Mutex::new(found.and_then(|f| f.etag)),
            dirty: AtomicBool::new(false),
            work_root: work_root.to_path_buf(),
        })
    }

    /// Who holds the stack's lock, if anyone.
    pub async fn lock_info(&self, stack: &str) -> Result<Option<LockInfo>, BackendError> {
        Ok(self.get_lock(stack).await?.map(|(info, _)| info))
    }

    /// Who holds the stack's lock, and the lock object's ETag (what
    /// [`S3Backend::force_unlock_if`] needs to remove exactly that lock).
    pub async fn lock_with_etag(
        &self,
        stack: &str,
    ) -> Result<Option<(LockInfo, String)>, BackendError> {
        self.get_lock(stack).await
    }

    /// Removes the lock it finds, whoever holds it, if it is still that
    /// lock when the delete arrives; returns what it said.
    pub async fn force_unlock(&self, stack: &str) -> Result<Option<LockInfo>, BackendError> {
        let Some((_, etag)) = self.get_lock(stack).await? else {
            return Ok(None);
        };
        self.force_unlock_if(stack, &etag).await
    }

    /// Removes the stack's lock only if it is still the one with `etag`
    /// (`DeleteObject` with `If-Match`): a lock taken after it was shown is
    /// left alone ([`BackendError::LockChanged`]). Returns what it said.
    pub async fn force_unlock_if(
        &self,
        stack: &str,
        etag: &str,
    ) -> Result<Option<LockInfo>, BackendError> {
        let Some((info, _)) = self.get_lock(stack).await? else {
            return Ok(None);
        };
        let key = self.location.lock_key(stack);
        match self
            .s3
            .delete_object()
            .bucket(&self.location.bucket)
            .key(&key)
            .if_match(etag)
            .send()
            .await
        {
            Ok(_) => Ok(Some(info)),
            // Released meanwhile: nothing left to remove.
            Err(e) if status_of(&e) == Some(404) => Ok(None),
            Err(e) if is_precondition_failure(&e) => Err(BackendError::LockChanged {
                url: self.location.object_url(&key),
            }),
            Err(e) => Err(self.s3_error("DeleteObject", &key, e)),
        }
    }

    async fn acquire_lock(&self, stack: &str) -> Result<String, BackendError> {
        let key = self.location.lock_key(stack);
        let me = LockRecord {
            info: LockInfo::current(),
            lock_id: new_lock_id(),
        };
        let body = serde_json::to_vec_pretty(&me).map_err(|e| BackendError::Encode {
            detail: e.to_string(),
        })?;
        // Two attempts: the second after taking over a lock of a dead local process.
        for _ in 0..2 {
            let put = self
                .s3
                .put_object()
                .bucket(&self.location.bucket)
                .key(&key)
                .if_none_match("*")
                .content_type("application/json")
                .body(ByteStream::from(body.clone()))
                .send()
                .await;
            match put {
                Ok(out) => return Ok(out.e_tag().unwrap_or_default().to_string()),
                Err(e) if is_precondition_failure(&e) => {
                    let Some((holder, etag)) = self.get_lock_record(stack).await? else {
                        continue; // released meanwhile
                    };
                    // Our own lock: the SDK retried a PUT whose answer was lost.
                    if holder.lock_id == me.lock_id {
                        return Ok(etag);
                    }
                    let holder = holder.info;
                    if holder.holder_gone_from_this_host() {
                        eprintln!(
                            "warning: taking over a stale lock in {}: pid {} on {} (started {}) is no longer running",
                            self.location.object_url(&key),
                            holder.pid,
                            holder.host,
                            holder.started_at
                        );
                        self.delete_lock_if(stack, &etag).await?;
                        continue;
                    }
                    return Err(BackendError::State(StateError::Locked(holder)));
                }
                Err(e) => return Err(self.s3_error("PutObject", &key, e)),
            }
        }
        match self.get_lock(stack).await? {
            Some((holder, _)) => Err(BackendError::State(StateError::Locked(holder))),
            None => Err(BackendError::Conflict {
                url: self.location.object_url(&key),
                detail: "the lock object keeps changing; another process is racing for it".into(),
            }),
        }
    }

    async fn release_lock(&self, stack: &str, etag: &str) -> Result<(), BackendError> {
        self.delete_lock_if(stack, etag).await
    }

    async fn delete_lock_if(&self, stack: &str, etag: &str) -> Result<(), BackendError> {
        let key = self.location.lock_key(stack);
        match self
            .s3
            .delete_object()
            .bucket(&self.location.bucket)
            .key(&key)
            .if_match(etag)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Already gone (e.g. a retried delete whose answer was lost).
            Err(e) if status_of(&e) == Some(404) => Ok(()),
            Err(e) if is_precondition_failure(&e) => Err(BackendError::Conflict {
                url: self.location.object_url(&key),
                detail: "the lock was removed and taken by another process while this one held it"
                    .into(),
            }),
            Err(e) => Err(self.s3_error("DeleteObject", &key, e)),
        }
    }

    async fn get_lock(&self, stack: &str) -> Result<Option<(LockInfo, String)>, BackendError> {
        Ok(self
            .get_lock_record(stack)
            .await?
            .map(|(record, etag)| (record.info, etag)))
    }

    async fn get_lock_record(
        &self,
        stack: &str,
    ) -> Result<Option<(LockRecord, String)>, BackendError> {
        let key = self.location.lock_key(stack);
        let Some(found) = self.get_object(&key).await? else {
            return Ok(None);
        };
        let record: LockRecord =
            serde_json::from_slice(&found.bytes).map_err(|e| BackendError::Corrupt {
                url: self.location.object_url(&key),
                detail: e.to_string(),
            })?;
        Ok(Some((record, found.etag.unwrap_or_default())))
    }

    async fn get_state(&self, stack: &str) -> Result<Option<Fetched>, BackendError> {
        self.get_object(&self.location.state_key(stack)).await
    }

    async fn get_object(&self, key: &str) -> Result<Option<Fetched>, BackendError> {
        let out = match self
            .s3
            .get_object()
            .bucket(&self.location.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(self.s3_error("GetObject", key, e)),
        };
        let etag = out.e_tag().map(str::to_string);
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| BackendError::S3 {
                operation: "GetObject",
                url: self.location.object_url(key),
                code: "ReadBody".into(),
                detail: e.to_string(),
            })?
            .into_bytes()
            .to_vec();
        Ok(Some(Fetched { bytes, etag }))
    }

    /// Writes the state object: SSE-KMS, conditional on the ETag we last
    /// saw (or on there being none). Returns the new ETag.
    async fn put_state(
        &self,
        stack: &str,
        bytes: Vec<u8>,
        expected: Option<&str>,
    ) -> Result<String, BackendError> {
        let key = self.location.state_key(stack);
        let mut put = self
            .s3
            .put_object()
            .bucket(&self.location.bucket)
            .key(&key)
            .content_type("application/json")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&self.location.kms_key)
            .body(ByteStream::from(bytes.clone()));
        put = match expected {
            Some(etag) => put.if_match(etag),
            None => put.if_none_match("*"),
        };
        match put.send().await {
            Ok(out) => Ok(out.e_tag().unwrap_or_default().to_string()),
            Err(e) if is_precondition_failure(&e) => {
                // A retried PUT whose first answer was lost finds its own write.
                if let Some(found) = self.get_object(&key).await? {
                    if found.bytes == bytes {
                        return Ok(found.etag.unwrap_or_default());
                    }
                }
                Err(BackendError::Conflict {
                    url: self.location.object_url(&key),
                    detail: "the state was changed by another writer while this run held the lock (was the lock force-removed?)".into(),
                })
            }
            Err(e) => Err(self.s3_error("PutObject", &key, e)),
        }
    }

    /// The data key for a stack: decrypted from the stored key record, or a
    /// new one from KMS for a stack without state.
    async fn keys_for(
        &self,
        stack: &str,
        snapshot: Option<&[u8]>,
    ) -> Result<SecretKeys, BackendError> {
        let record = match snapshot {
            Some(bytes) => StateStore::snapshot_keys(bytes, stack)?,
            None => None,
        };
        let context = ("cairn:stack", stack);
        let provider = match record {
            Some(meta) => {
                if meta.scheme != KMS_SCHEME {
                    return Err(StateError::KeySchemeMismatch {
                        stored: meta.scheme,
                        given: KMS_SCHEME.into(),
                    }
                    .into());
                }
                let params = B64
                    .decode(&meta.params)
                    .map_err(|e| StateError::corrupt("KMS data key", e))?;
                let out = self
                    .kms
                    .decrypt()
                    .ciphertext_blob(Blob::new(params.clone()))
                    .encryption_context(context.0, context.1)
                    .send()
                    .await
                    .map_err(|e| self.kms_error("Decrypt", e))?;
                KmsDataKey::new(out.plaintext(), params, &self.location.kms_key)?
            }
            None => {
                let out = self
                    .kms
                    .generate_data_key()
                    .key_id(&self.location.kms_key)
                    .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
                    .encryption_context(context.0, context.1)
                    .send()
                    .await
                    .map_err(|e| self.kms_error("GenerateDataKey", e))?;
                let params = out
                    .ciphertext_blob()
                    .map(|b| b.as_ref().to_vec())
                    .unwrap_or_default();
                KmsDataKey::new(out.plaintext(), params, &self.location.kms_key)?
            }
        };
        Ok(SecretKeys::Provider(Arc::new(provider)))
    }

    fn s3_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
        &self,
        operation: &'static str,
        key: &str,
        e: SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
    ) -> BackendError {
        BackendError::S3 {
            operation,
            url: self.location.object_url(key),
            code: e
                .code()
                .map(str::to_string)
                .or_else(|| status_of(&e).map(|s| format!("HTTP {s}")))
                .unwrap_or_else(|| "no response".into()),
            detail: aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
        }
    }

    fn kms_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
        &self,
        operation: &'static str,
        e: SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
    ) -> BackendError {
        BackendError::Kms {
            operation,
            key: self.location.kms_key.clone(),
            code: e.code().unwrap_or("no response").to_string(),
            detail: aws_sdk_kms::error::DisplayErrorContext(&e).to_string(),
        }
    }
}

/// The lock object: who holds it, and a token unique to this acquisition
/// (so a retried PUT recognises its own lock, and two writers in one
/// process never mistake each other's).
#[derive(serde::Serialize, serde::Deserialize)]
struct LockRecord {
    #[serde(flatten)]
    info: LockInfo,
    #[serde(default)]
    lock_id: String,
}

fn new_lock_id() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{}-{}-{nanos}-{}",
        LockInfo::current().host,
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

fn status_of<E>(
    e: &SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

/// `412 Precondition Failed`, or `409 ConditionalRequestConflict` (S3's
/// answer when a concurrent conditional write to the same key is in flight).
fn is_precondition_failure<E: ProvideErrorMetadata>(
    e: &SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
) -> bool {
    matches!(status_of(e), Some(412 | 409))
        || matches!(
            e.code(),
            Some("PreconditionFailed" | "ConditionalRequestConflict")
        )
}

fn is_not_found<E: ProvideErrorMetadata>(
    e: &SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
) -> bool {
    status_of(e) == Some(404) || matches!(e.code(), Some("NoSuchKey" | "NotFound"))
}

/// A data key fetched from KMS before the store opens (the store's key
/// interface is synchronous).
struct KmsDataKey {
    key: DataKey,
    params: Vec<u8>,
    kms_key: String,
}

impl KmsDataKey {
    fn new(
        plaintext: Option<&Blob>,
        params: Vec<u8>,
        kms_key: &str,
    ) -> Result<KmsDataKey, BackendError> {
        let bytes: [u8; 32] = plaintext
            .map(|b| b.as_ref())
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| BackendError::Kms {
                operation: "GenerateDataKey",
                key: kms_key.to_string(),
                code: "BadDataKey".into(),
                detail: "KMS returned no 32-byte data key".into(),
            })?;
        Ok(KmsDataKey {
            key: DataKey::from_bytes(bytes),
            params,
            kms_key: kms_key.to_string(),
        })
    }
}

impl KeyProvider for KmsDataKey {
    fn scheme(&self) -> String {
        KMS_SCHEME.into()
    }
    fn create(&self) -> Result<(DataKey, Vec<u8>), StateError> {
        Ok((self.key.clone(), self.params.clone()))
    }
    fn unwrap(&self, params: &[u8]) -> Result<DataKey, StateError> {
        if params == self.params.as_slice() {
            Ok(self.key.clone())
        } else {
            Err(StateError::WrongKey {
                reason: "the state's data key changed while it was being opened".into(),
            })
        }
    }
    fn describe(&self) -> String {
        format!("KMS key {}", self.kms_key)
    }
}

/// A stack opened for writing in S3: a local working copy plus the lock.
/// Use it as the engine's [`StateSink`]; call [`RemoteStore::close`] at the
/// end of the run (dropping it leaves the lock for `--force-unlock`).
pub struct RemoteStore {
    store: StateStore,
    backend: S3Backend,
    stack: String,
    lock_etag: String,
    /// The ETag of the state object as we last wrote or read it (`None`:
    /// there is none yet). Held across uploads so they run one at a time.
    state_etag: tokio::sync::Mutex<Option<String>>,
    /// Something was recorded since the last upload.
    dirty: AtomicBool,
    work_root: PathBuf,
}

impl std::fmt::Debug for RemoteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteStore")
            .field("stack", &self.stack)
            .field("location", &self.backend.location)
            .finish_non_exhaustive()
    }
}

impl RemoteStore {
    /// The working copy, for reads (`load`, `pending_intents`, `next_op_id`).
    pub fn store(&self) -> &StateStore {
        &self.store
    }

    pub fn location(&self) -> &S3Location {
        &self.backend.location
    }

    /// Where the working copy lives.
    pub fn work_root(&self) -> &Path {
        &self.work_root
    }

    /// Replaces resources and outputs (refresh, import, migrate).
    pub fn replace_all(&self, state: &StackState) -> Result<(), BackendError> {
        self.store.replace_all(state)?;
        self.dirty.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// [`StateStore::bind`], with a new or completed binding uploaded at once.
    pub async fn bind(
        &self,
        current: &cairn_state::Binding,
        force: bool,
    ) -> Result<Option<cairn_state::Binding>, BackendError> {
        let before = self.store.binding()?;
        let moved = self.store.bind(current, force)?;
        if self.store.binding()? != before {
            self.dirty.store(true, Ordering::SeqCst);
            self.upload(false).await?;
        }
        Ok(moved)
    }

    /// Makes everything recorded so far durable locally and in S3.
    pub async fn sync(&self) -> Result<(), BackendError> {
        self.store.flush()?;
        self.upload(false).await
    }

    /// [`sync`](Self::sync), then releases the lock.
    pub async fn close(self) -> Result<(), BackendError> {
        let synced = self.sync().await;
        let released = self
            .backend
            .release_lock(&self.stack, &self.lock_etag)
            .await;
        synced.and(released)
    }

    async fn upload(&self, force: bool) -> Result<(), BackendError> {
        let mut etag = self.state_etag.lock().await;
        let was_dirty = self.dirty.swap(false, Ordering::SeqCst);
        if !force && !was_dirty {
            return Ok(());
        }
        let bytes = self.store.export_snapshot()?;
        match self
            .backend
            .put_state(&self.stack, bytes, etag.as_deref())
            .await
        {
            Ok(new) => {
                *etag = Some(new);
                Ok(())
            }
            Err(e) => {
                self.dirty.store(true, Ordering::SeqCst);
                Err(e)
            }
        }
    }
}

fn sink_error(e: impl std::fmt::Display) -> StateSinkError {
    StateSinkError(e.to_string())
}

#[async_trait]
impl StateSink for RemoteStore {
    /// Journals locally; an external intent is also in S3 before this returns.
    async fn begin(&self, intent: &Intent) -> Result<(), StateSinkError> {
        self.store.begin(intent).await?;
        self.dirty.store(true, Ordering::SeqCst);
        if intent.external {
            self.upload(true).await.map_err(sink_error)?;
        }
        Ok(())
    }

    async fn finish(
        &self,
        op_id: u64,
        resource: &str,
        outcome: &Outcome,
    ) -> Result<(), StateSinkError> {
        self.store.finish(op_id, resource, outcome).await?;
        self.dirty.store(true, Ordering::SeqCst);
        Ok(())
    }

    async fn set_outputs(&self, outputs: &Map) -> Result<(), StateSinkError> {
        self.store.set_outputs(outputs).await?;
        self.dirty.store(true, Ordering::SeqCst);
        Ok(())
    }
}
