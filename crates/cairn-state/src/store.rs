//! [`StateStore`]: one stack's state in sled, with its writer lock, journal,
//! group commit and read-only snapshot.

use crate::dto::{
    self, parse_versioned, Header, JournalRecordV1, OutputsV1, ResourceStateV1, FORMAT_VERSION,
};
use crate::error::StateError;
use crate::fsutil;
use crate::keys::{self, KeysMetaV1, Sealer, SecretKeys};
use crate::lock::{self, LockInfo, WriterLock};
use async_trait::async_trait;
use cairn_core::state::{Intent, Outcome, StackState, StateSink, StateSinkError};
use cairn_core::value::Map;
use serde::Deserialize;
use serde_json::value::RawValue;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const TREE_RESOURCES: &str = "resources";
const TREE_JOURNAL: &str = "journal";
const TREE_META: &str = "meta";
const META_FORMAT: &str = "format";
const META_KEYS: &str = "keys";
const META_OUTPUTS: &str = "outputs";
const META_NEXT_OP: &str = "next_op_id";

/// How long a writer waits for sled's own file lock, which a read-only open
/// holds for the few milliseconds it takes to copy the state out.
const SLED_BUSY_WAIT: Duration = Duration::from_secs(5);

/// Where a stack's files live under the state root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackPaths {
    /// `<root>/<stack>/` (0700).
    pub dir: PathBuf,
    /// `<root>/<stack>/db/`: the sled database.
    pub db: PathBuf,
    /// `<root>/<stack>/snapshot.json`: what read-only opens read while a writer runs.
    pub snapshot: PathBuf,
    /// `<root>/<stack>.lock`: the writer lock.
    pub lock: PathBuf,
    /// `<root>/.keys/<stack>.key`: the default key file.
    pub default_key_file: PathBuf,
}

impl StackPaths {
    pub fn new(root: &Path, stack: &str) -> Result<StackPaths, StateError> {
        validate_stack_name(stack)?;
        let dir = root.join(stack);
        Ok(StackPaths {
            db: dir.join("db"),
            snapshot: dir.join("snapshot.json"),
            lock: root.join(format!("{stack}.lock")),
            default_key_file: root.join(".keys").join(format!("{stack}.key")),
            dir,
        })
    }
}

fn validate_stack_name(name: &str) -> Result<(), StateError> {
    let bad = |reason| {
        Err(StateError::InvalidStackName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > 100 {
        return bad("it is longer than 100 characters");
    }
    if name.starts_with('.') {
        return bad("it starts with `.`");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return bad("it has characters other than letters, digits, `.`, `_` and `-`");
    }
    Ok(())
}

/// Where a read-only store's data came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadSource {
    /// The database itself (a writer store, or no writer was running).
    Database,
    /// `snapshot.json`, because a writer holds the stack: the state as of
    /// that writer's open or last `flush`.
    Snapshot { written_at: String },
}

/// One stack's state. See the crate docs for the format and durability rules.
pub struct StateStore {
    stack: String,
    paths: StackPaths,
    sealer: Sealer,
    inner: Inner,
}

enum Inner {
    Writer(Box<Writer>),
    ReadOnly(RawState),
}

// Field order matters: on drop, sled is closed before the lock is released.
struct Writer {
    db: sled::Db,
    resources: sled::Tree,
    journal: sled::Tree,
    meta: sled::Tree,
    gc: GroupCommit,
    next_op_id: AtomicU64,
    lock: WriterLock,
}

/// A stack's records as raw JSON, copied out for a read-only store.
struct RawState {
    keys: Option<Vec<u8>>,
    outputs: Option<Vec<u8>>,
    resources: Vec<(Vec<u8>, Vec<u8>)>,
    journal: Vec<(Vec<u8>, Vec<u8>)>,
    next_op_id: u64,
    source: ReadSource,
}

impl fmt::Debug for StateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match &self.inner {
            Inner::Writer(_) => "writer",
            Inner::ReadOnly(_) => "read-only",
        };
        f.debug_struct("StateStore")
            .field("stack", &self.stack)
            .field("dir", &self.paths.dir)
            .field("mode", &mode)
            .finish_non_exhaustive()
    }
}

fn is_sled_lock_error(e: &sled::Error) -> bool {
    matches!(e, sled::Error::Io(io) if io.to_string().contains("could not acquire lock"))
}

fn open_sled(path: &Path, wait: Duration) -> Result<sled::Db, StateError> {
    let deadline = Instant::now() + wait;
    loop {
        // No background flusher: every fsync is ours (group commit, flush,
        // close), which is what makes `fsync_count` and the durability
        // argument exact.
        match sled::Config::new()
            .path(path)
            .flush_every_ms(None)
            .open()
        {
            Ok(db) => return Ok(db),
            Err(e) if is_sled_lock_error(&e) => {
                if Instant::now() >= deadline {
                    return Err(StateError::Busy {
                        path: path.to_path_buf(),
                    });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn json_u64(bytes: &[u8], what: &str) -> Result<u64, StateError> {
    serde_json::from_slice(bytes).map_err(|e| StateError::corrupt(what, e))
}

fn op_key(op_id: u64) -> [u8; 8] {
    op_id.to_be_bytes()
}

fn key_name(key: &[u8]) -> Result<&str, StateError> {
    std::str::from_utf8(key).map_err(|_| StateError::corrupt("resource name", "not UTF-8"))
}

impl StateStore {
    /// Opens (creating with dir mode 0700, files 0600) and takes the stack's writer lock.
    ///
    /// Fails at once with [`StateError::Locked`] if another store holds the
    /// stack, in this process or any other.
    pub fn open(root: &Path, stack: &str, keys: SecretKeys) -> Result<StateStore, StateError> {
        let paths = StackPaths::new(root, stack)?;
        fsutil::ensure_dir_exists(root)?;
        // Our lock before sled's: a second writer gets `Locked` naming the
        // holder, not sled's anonymous file-lock error.
        let lock = WriterLock::acquire(&paths.lock)?;
        fsutil::ensure_private_dir(&paths.dir)?;
        let db = open_sled(&paths.db, SLED_BUSY_WAIT)?;
        fsutil::secure_tree(&paths.dir)?;
        let resources = db.open_tree(TREE_RESOURCES)?;
        let journal = db.open_tree(TREE_JOURNAL)?;
        let meta = db.open_tree(TREE_META)?;
        let fresh = resources.is_empty() && journal.is_empty();

        match meta.get(META_FORMAT)? {
            Some(b) => {
                let h: Header = serde_json::from_slice(&b)
                    .map_err(|e| StateError::corrupt("state format marker", e))?;
                if h.format != u64::from(FORMAT_VERSION) {
                    return Err(StateError::UnsupportedFormat {
                        what: format!("the state of stack `{stack}`"),
                        found: h.format,
                        supported: FORMAT_VERSION,
                    });
                }
            }
            None if fresh => {
                meta.insert(
                    META_FORMAT,
                    dto::to_json(&serde_json::json!({ "format": FORMAT_VERSION }))?,
                )?;
            }
            None => {
                return Err(StateError::corrupt(
                    "state database",
                    "it has resources but no format marker",
                ))
            }
        }

        let sealer = match meta.get(META_KEYS)? {
            Some(b) => {
                let km: KeysMetaV1 = parse_versioned(&b, &|| "key record".into())?;
                keys::unlock_keys(&keys, stack, &km)?
            }
            None if fresh => {
                let (sealer, km) = keys::create_keys(&keys, stack)?;
                meta.insert(META_KEYS, dto::to_json(&km)?)?;
                sealer
            }
            None => {
                return Err(StateError::corrupt(
                    "state database",
                    "it has resources but no key record",
                ))
            }
        };

        let mut next = match meta.get(META_NEXT_OP)? {
            Some(b) => json_u64(&b, "next operation id")?,
            None => 0,
        };
        if let Some((k, _)) = journal.last()? {
            let k: [u8; 8] = k
                .as_ref()
                .try_into()
                .map_err(|_| StateError::corrupt("journal", "a key is not 8 bytes"))?;
            next = next.max(u64::from_be_bytes(k).saturating_add(1));
        }

        let store = StateStore {
            stack: stack.to_string(),
            paths,
            sealer,
            inner: Inner::Writer(Box::new(Writer {
                db,
                resources,
                journal,
                meta,
                gc: GroupCommit::default(),
                next_op_id: AtomicU64::new(next),
                lock,
            })),
        };
        // Durable format/key records, and a snapshot for concurrent readers.
        store.flush()?;
        Ok(store)
    }

    /// Read-only open without the lock (preview, state list/show, stack output).
    ///
    /// sled cannot open a database that another handle has open, even
    /// read-only. So when a live writer holds the stack this reads
    /// `snapshot.json`, which every writer refreshes at open, at each
    /// [`StateStore::flush`] and at close (see [`StateStore::read_source`]).
    /// Otherwise it copies the records out of sled and closes it at once.
    pub fn open_read_only(
        root: &Path,
        stack: &str,
        keys: SecretKeys,
    ) -> Result<StateStore, StateError> {
        let paths = StackPaths::new(root, stack)?;
        if !paths.db.exists() && !paths.snapshot.exists() {
            return Err(StateError::NoSuchStack {
                stack: stack.to_string(),
                root: root.to_path_buf(),
            });
        }
        let writer_live = matches!(lock::inspect(&paths.lock)?, Some(info) if !info.stale);
        let raw = if writer_live || !paths.db.exists() {
            read_snapshot(&paths, stack)?
        } else {
            match open_sled(&paths.db, Duration::ZERO) {
                Ok(db) => {
                    let raw = copy_out(&db)?;
                    drop(db);
                    fsutil::secure_tree(&paths.dir)?;
                    raw
                }
                Err(StateError::Busy { .. }) => read_snapshot(&paths, stack)?,
                Err(e) => return Err(e),
            }
        };
        let Some(km) = &raw.keys else {
            if raw.resources.is_empty() && raw.journal.is_empty() {
                return Err(StateError::NoSuchStack {
                    stack: stack.to_string(),
                    root: root.to_path_buf(),
                });
            }
            return Err(StateError::corrupt("state", "it has resources but no key record"));
        };
        let km: KeysMetaV1 = parse_versioned(km, &|| "key record".into())?;
        let sealer = keys::unlock_keys(&keys, stack, &km)?;
        Ok(StateStore {
            stack: stack.to_string(),
            paths,
            sealer,
            inner: Inner::ReadOnly(raw),
        })
    }

    /// Whether a stack has state under `root`.
    pub fn exists(root: &Path, stack: &str) -> bool {
        StackPaths::new(root, stack)
            .map(|p| p.db.exists() || p.snapshot.exists())
            .unwrap_or(false)
    }

    pub fn stack(&self) -> &str {
        &self.stack
    }

    pub fn paths(&self) -> &StackPaths {
        &self.paths
    }

    pub fn is_read_only(&self) -> bool {
        matches!(self.inner, Inner::ReadOnly(_))
    }

    pub fn read_source(&self) -> ReadSource {
        match &self.inner {
            Inner::Writer(_) => ReadSource::Database,
            Inner::ReadOnly(raw) => raw.source.clone(),
        }
    }

    fn writer(&self) -> Result<&Writer, StateError> {
        match &self.inner {
            Inner::Writer(w) => Ok(w),
            Inner::ReadOnly(_) => Err(StateError::ReadOnly),
        }
    }

    /// The whole recorded state, secrets decrypted back into `Value::Secret`.
    pub fn load(&self) -> Result<StackState, StateError> {
        let mut state = StackState::default();
        let mut add = |k: &[u8], v: &[u8]| -> Result<(), StateError> {
            let name = key_name(k)?;
            let dto: ResourceStateV1 = parse_versioned(v, &|| format!("resource `{name}`"))?;
            state
                .resources
                .insert(name.to_string(), dto.decode(name, &self.sealer)?);
            Ok(())
        };
        let outputs = match &self.inner {
            Inner::Writer(w) => {
                for kv in w.resources.iter() {
                    let (k, v) = kv?;
                    add(&k, &v)?;
                }
                w.meta.get(META_OUTPUTS)?.map(|b| b.to_vec())
            }
            Inner::ReadOnly(raw) => {
                for (k, v) in &raw.resources {
                    add(k, v)?;
                }
                raw.outputs.clone()
            }
        };
        if let Some(b) = outputs {
            let dto: OutputsV1 = parse_versioned(&b, &|| "stack outputs".into())?;
            state.outputs = dto.decode(&self.sealer)?;
        }
        Ok(state)
    }

    /// Journal entries with no outcome, in op-id order: the previous run
    /// crashed (or was killed) while these operations were in flight.
    pub fn pending_intents(&self) -> Result<Vec<Intent>, StateError> {
        let mut out = Vec::new();
        let mut add = |k: &[u8], v: &[u8]| -> Result<(), StateError> {
            let rec: JournalRecordV1 = parse_versioned(v, &|| "journal entry".into())?;
            if k != op_key(rec.op_id) {
                return Err(StateError::corrupt(
                    format!("journal entry {}", rec.op_id),
                    "stored under another operation's key",
                ));
            }
            out.push(rec.decode(&self.sealer)?);
            Ok(())
        };
        match &self.inner {
            Inner::Writer(w) => {
                for kv in w.journal.iter() {
                    let (k, v) = kv?;
                    add(&k, &v)?;
                }
            }
            Inner::ReadOnly(raw) => {
                for (k, v) in &raw.journal {
                    add(k, v)?;
                }
            }
        }
        Ok(out)
    }

    /// One more than the largest op id ever begun in this stack (pending or
    /// not): numbering a run's operations from here never collides with an
    /// interrupted run's pending intents.
    pub fn next_op_id(&self) -> u64 {
        match &self.inner {
            Inner::Writer(w) => w.next_op_id.load(Ordering::SeqCst),
            Inner::ReadOnly(raw) => raw.next_op_id,
        }
    }

    /// Makes everything recorded so far durable (one fsync), and refreshes
    /// the snapshot read by read-only opens. A no-op on a read-only store.
    pub fn flush(&self) -> Result<(), StateError> {
        let Inner::Writer(w) = &self.inner else {
            return Ok(());
        };
        w.meta.insert(
            META_NEXT_OP,
            dto::to_json(&w.next_op_id.load(Ordering::SeqCst))?,
        )?;
        w.gc.flush_blocking(&w.db)?;
        self.write_snapshot(w)?;
        fsutil::secure_tree(&self.paths.dir)
    }

    /// How many times this store has forced its data to disk (each a sled
    /// flush ending in fsync). Concurrent external `begin`s share one.
    pub fn fsync_count(&self) -> u64 {
        match &self.inner {
            Inner::Writer(w) => w.gc.fsyncs.load(Ordering::SeqCst),
            Inner::ReadOnly(_) => 0,
        }
    }

    /// Who holds the stack's writer lock, if anyone (`stale` when they are gone).
    pub fn lock_info(root: &Path, stack: &str) -> Result<Option<LockInfo>, StateError> {
        lock::inspect(&StackPaths::new(root, stack)?.lock)
    }

    /// Removes the stack's lock file whoever holds it; returns what it said.
    ///
    /// If the holder is in fact alive, it keeps sled's own file lock, so a
    /// new writer fails with [`StateError::Busy`] rather than corrupting state.
    pub fn force_unlock(root: &Path, stack: &str) -> Result<Option<LockInfo>, StateError> {
        lock::force_remove(&StackPaths::new(root, stack)?.lock)
    }

    /// Replaces the whole state (resources and outputs) in one transaction,
    /// then flushes. Used by import and `state migrate`. The journal is left
    /// as it is.
    pub fn replace_all(&self, state: &StackState) -> Result<(), StateError> {
        let w = self.writer()?;
        let mut encoded = Vec::with_capacity(state.resources.len());
        for (name, r) in &state.resources {
            let dto = ResourceStateV1::encode(name, r, &self.sealer)?;
            encoded.push((name.as_bytes(), dto::to_json(&dto)?));
        }
        let outputs = dto::to_json(&OutputsV1::encode(&state.outputs, &self.sealer)?)?;
        let stale: Vec<sled::IVec> = w
            .resources
            .iter()
            .keys()
            .filter(|k| match k {
                Ok(k) => std::str::from_utf8(k).map_or(true, |n| !state.resources.contains_key(n)),
                Err(_) => true,
            })
            .collect::<Result<_, _>>()?;
        (&w.resources, &w.meta)
            .transaction(|(r, m)| {
                for k in &stale {
                    r.remove(k)?;
                }
                for (k, v) in &encoded {
                    r.insert(*k, v.as_slice())?;
                }
                m.insert(META_OUTPUTS, outputs.as_slice())?;
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                TransactionError::Storage(e) => StateError::from(e),
                TransactionError::Abort(()) => StateError::Database {
                    detail: "transaction aborted".into(),
                },
            })?;
        self.flush()
    }

    fn write_snapshot(&self, w: &Writer) -> Result<(), StateError> {
        let mut out = Vec::with_capacity(4096);
        let push_str = |out: &mut Vec<u8>, s: &str| -> Result<(), StateError> {
            serde_json::to_writer(out, s).map_err(|e| StateError::Encrypt {
                detail: e.to_string(),
            })
        };
        out.extend_from_slice(format!("{{\"format\":{FORMAT_VERSION},\"stack\":").as_bytes());
        push_str(&mut out, &self.stack)?;
        out.extend_from_slice(b",\"written_at\":");
        push_str(&mut out, &lock::rfc3339_now())?;
        out.extend_from_slice(
            format!(
                ",\"next_op_id\":{},\"keys\":",
                w.next_op_id.load(Ordering::SeqCst)
            )
            .as_bytes(),
        );
        match w.meta.get(META_KEYS)? {
            Some(k) => out.extend_from_slice(&k),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"outputs\":");
        match w.meta.get(META_OUTPUTS)? {
            Some(o) => out.extend_from_slice(&o),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"resources\":{");
        for (i, kv) in w.resources.iter().enumerate() {
            let (k, v) = kv?;
            if i > 0 {
                out.push(b',');
            }
            push_str(&mut out, key_name(&k)?)?;
            out.push(b':');
            out.extend_from_slice(&v);
        }
        out.extend_from_slice(b"},\"journal\":[");
        for (i, kv) in w.journal.iter().enumerate() {
            let (_, v) = kv?;
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&v);
        }
        out.extend_from_slice(b"]}\n");
        fsutil::write_atomic(&self.paths.snapshot, &out)
    }
}

fn copy_out(db: &sled::Db) -> Result<RawState, StateError> {
    let resources = db.open_tree(TREE_RESOURCES)?;
    let journal = db.open_tree(TREE_JOURNAL)?;
    let meta = db.open_tree(TREE_META)?;
    if let Some(b) = meta.get(META_FORMAT)? {
        let h: Header =
            serde_json::from_slice(&b).map_err(|e| StateError::corrupt("state format marker", e))?;
        if h.format != u64::from(FORMAT_VERSION) {
            return Err(StateError::UnsupportedFormat {
                what: "the state database".into(),
                found: h.format,
                supported: FORMAT_VERSION,
            });
        }
    }
    let collect = |t: &sled::Tree| -> Result<Vec<(Vec<u8>, Vec<u8>)>, StateError> {
        t.iter()
            .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(Into::into))
            .collect()
    };
    let journal_raw = collect(&journal)?;
    let mut next = match meta.get(META_NEXT_OP)? {
        Some(b) => json_u64(&b, "next operation id")?,
        None => 0,
    };
    if let Some((k, _)) = journal_raw.last() {
        if let Ok(k) = <[u8; 8]>::try_from(k.as_slice()) {
            next = next.max(u64::from_be_bytes(k).saturating_add(1));
        }
    }
    Ok(RawState {
        keys: meta.get(META_KEYS)?.map(|b| b.to_vec()),
        outputs: meta.get(META_OUTPUTS)?.map(|b| b.to_vec()),
        resources: collect(&resources)?,
        journal: journal_raw,
        next_op_id: next,
        source: ReadSource::Database,
    })
}

#[derive(Deserialize)]
struct SnapshotV1 {
    stack: String,
    written_at: String,
    next_op_id: u64,
    keys: Option<Box<RawValue>>,
    outputs: Option<Box<RawValue>>,
    resources: BTreeMap<String, Box<RawValue>>,
    journal: Vec<Box<RawValue>>,
}

fn read_snapshot(paths: &StackPaths, stack: &str) -> Result<RawState, StateError> {
    let bytes = match std::fs::read(&paths.snapshot) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StateError::NoSnapshot {
                stack: stack.to_string(),
            })
        }
        Err(e) => return Err(StateError::io("reading", &paths.snapshot, e)),
    };
    let what = || format!("snapshot {}", paths.snapshot.display());
    let header: Header =
        serde_json::from_slice(&bytes).map_err(|e| StateError::corrupt(what(), e))?;
    if header.format != u64::from(FORMAT_VERSION) {
        return Err(StateError::UnsupportedFormat {
            what: what(),
            found: header.format,
            supported: FORMAT_VERSION,
        });
    }
    let snap: SnapshotV1 =
        serde_json::from_slice(&bytes).map_err(|e| StateError::corrupt(what(), e))?;
    if snap.stack != stack {
        return Err(StateError::corrupt(
            what(),
            format!("it belongs to stack `{}`", snap.stack),
        ));
    }
    let raw = |r: Box<RawValue>| r.get().as_bytes().to_vec();
    let mut journal = Vec::with_capacity(snap.journal.len());
    for rec in snap.journal {
        // The op id is the journal key in the database; take it from the record.
        #[derive(Deserialize)]
        struct OpId {
            op_id: u64,
        }
        let id: OpId =
            serde_json::from_str(rec.get()).map_err(|e| StateError::corrupt(what(), e))?;
        journal.push((op_key(id.op_id).to_vec(), raw(rec)));
    }
    Ok(RawState {
        keys: snap.keys.map(raw),
        outputs: snap.outputs.map(raw),
        resources: snap
            .resources
            .into_iter()
            .map(|(k, v)| (k.into_bytes(), raw(v)))
            .collect(),
        journal,
        next_op_id: snap.next_op_id,
        source: ReadSource::Snapshot {
            written_at: snap.written_at,
        },
    })
}

impl Drop for StateStore {
    fn drop(&mut self) {
        // Best effort: make the run durable and leave a fresh snapshot.
        // Errors cannot be reported from drop; anything not flushed is, by
        // the journal's design, either re-done or recovered by the next run.
        if let Inner::Writer(_) = &self.inner {
            let _ = self.flush();
        }
        // Then `Writer`'s fields drop in order: sled closes, then the lock
        // file is removed.
    }
}

/// Group commit: concurrent external `begin`s share one fsync.
///
/// Each durable write takes a sequence number after its insert returns. A
/// waiter whose number is not yet durable either becomes the *leader* (if no
/// flush is running), flushes everything written so far, and publishes
/// "durable up to N", or sleeps until the running flush finishes and checks
/// again. A flush covers every write that completed before it started, so
/// waiters that arrive during a flush are all covered by the next one.
#[derive(Default)]
struct GroupCommit {
    written: AtomicU64,
    state: Mutex<GcState>,
    notify: tokio::sync::Notify,
    fsyncs: AtomicU64,
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
    fn note_write(&self) -> u64 {
        self.written.fetch_add(1, Ordering::SeqCst) + 1
    }

    async fn wait_durable(&self, db: &sled::Db, seq: u64) -> Result<(), StateError> {
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

    fn flush_blocking(&self, db: &sled::Db) -> Result<(), StateError> {
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

impl StateStore {
    async fn begin_inner(&self, intent: &Intent) -> Result<(), StateError> {
        let w = self.writer()?;
        let rec = JournalRecordV1::encode(intent, &self.sealer)?;
        let bytes = dto::to_json(&rec)?;
        let swapped =
            w.journal
                .compare_and_swap(op_key(intent.op_id), None::<&[u8]>, Some(bytes))?;
        if swapped.is_err() {
            return Err(StateError::DuplicateOp {
                op_id: intent.op_id,
                resource: intent.resource.clone(),
            });
        }
        w.next_op_id
            .fetch_max(intent.op_id.saturating_add(1), Ordering::SeqCst);
        if intent.external {
            let seq = w.gc.note_write();
            w.gc.wait_durable(&w.db, seq).await?;
        }
        Ok(())
    }

    fn finish_inner(&self, op_id: u64, resource: &str, outcome: &Outcome) -> Result<(), StateError> {
        let w = self.writer()?;
        let key = op_key(op_id);
        let written = match outcome {
            Outcome::Written(rs) => Some(dto::to_json(&ResourceStateV1::encode(
                resource,
                rs,
                &self.sealer,
            )?)?),
            Outcome::Removed | Outcome::Failed(_) => None,
        };
        (&w.resources, &w.journal)
            .transaction(|(r, j)| {
                if j.remove(&key)?.is_none() {
                    return Err(ConflictableTransactionError::Abort(()));
                }
                match (outcome, &written) {
                    (Outcome::Written(_), Some(bytes)) => {
                        r.insert(resource.as_bytes(), bytes.as_slice())?;
                    }
                    (Outcome::Removed, _) => {
                        r.remove(resource.as_bytes())?;
                    }
                    _ => {}
                }
                Ok(())
            })
            .map_err(|e| match e {
                TransactionError::Storage(e) => StateError::from(e),
                TransactionError::Abort(()) => StateError::UnknownOp {
                    op_id,
                    resource: resource.to_string(),
                },
            })
    }

    fn set_outputs_inner(&self, outputs: &Map) -> Result<(), StateError> {
        let w = self.writer()?;
        let bytes = dto::to_json(&OutputsV1::encode(outputs, &self.sealer)?)?;
        w.meta.insert(META_OUTPUTS, bytes)?;
        Ok(())
    }
}

#[async_trait]
impl StateSink for StateStore {
    /// Journals the intent; for an external intent, returns only once it is
    /// on disk (sharing the fsync with concurrent callers).
    async fn begin(&self, intent: &Intent) -> Result<(), StateSinkError> {
        self.begin_inner(intent).await.map_err(Into::into)
    }

    /// Records the outcome and the resource's new state in one transaction
    /// and removes the journal entry. Not flushed: see the crate docs.
    async fn finish(
        &self,
        op_id: u64,
        resource: &str,
        outcome: &Outcome,
    ) -> Result<(), StateSinkError> {
        self.finish_inner(op_id, resource, outcome)
            .map_err(Into::into)
    }

    /// Records the stack outputs (durable at the next flush).
    async fn set_outputs(&self, outputs: &Map) -> Result<(), StateSinkError> {
        self.set_outputs_inner(outputs).map_err(Into::into)
    }
}
