//! [`StateStore`]: one stack's state in sled, with its writer lock, journal,
//! group commit and read-only snapshot.

use crate::binding::{self, Binding};
use crate::commit::GroupCommit;
use crate::dto::{
    self, parse_versioned, Header, JournalRecordV1, OutputsV1, ResourceStateV1, FORMAT_VERSION,
};
use crate::error::StateError;
use crate::fsutil;
use crate::keys::{self, KeysMetaV1, Sealer, SecretKeys};
use crate::lock::{self, LockInfo, WriterLock};
use crate::snapshot::{self, RawState};
use async_trait::async_trait;
use cairn_core::state::{Intent, Outcome, StackState, StateSink, StateSinkError};
use cairn_core::value::Map;
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The one sled tree; records are told apart by key prefix so that a
/// resource and its journal entry can change in one atomic batch.
pub(crate) const TREE: &str = "stack";
pub(crate) const P_META: &[u8] = b"m/";
pub(crate) const P_RESOURCE: &[u8] = b"r/";
pub(crate) const P_JOURNAL: &[u8] = b"j/";
pub(crate) const META_FORMAT: &str = "format";
pub(crate) const META_KEYS: &str = "keys";
pub(crate) const META_OUTPUTS: &str = "outputs";
pub(crate) const META_NEXT_OP: &str = "next_op_id";
pub(crate) const META_BINDING: &str = "binding";

/// Finishes buffered before they are applied as one atomic sled batch.
/// sled pays ~0.1 ms per atomic batch (it seals and syncs a log buffer for
/// each), so one batch per finish would cost a second per 10,000 resources.
const FINISH_BATCH: usize = 256;

/// How long a writer waits for sled's own file lock, which a read-only open
/// holds for the few milliseconds it takes to copy the state out.
const SLED_BUSY_WAIT: Duration = Duration::from_secs(2);

pub(crate) fn meta_key(name: &str) -> Vec<u8> {
    [P_META, name.as_bytes()].concat()
}
pub(crate) fn resource_key(name: &str) -> Vec<u8> {
    [P_RESOURCE, name.as_bytes()].concat()
}
pub(crate) fn journal_key(op_id: u64) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[..2].copy_from_slice(P_JOURNAL);
    k[2..].copy_from_slice(&op_id.to_be_bytes());
    k
}
/// The op id of a journal key.
pub(crate) fn journal_op(key: &[u8]) -> Result<u64, StateError> {
    key.strip_prefix(P_JOURNAL)
        .and_then(|k| <[u8; 8]>::try_from(k).ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| StateError::corrupt("journal", "a key is not an operation id"))
}
/// The resource name of a resource key.
pub(crate) fn resource_name(key: &[u8]) -> Result<&str, StateError> {
    let name = key.strip_prefix(P_RESOURCE).unwrap_or(key);
    std::str::from_utf8(name).map_err(|_| StateError::corrupt("resource name", "not UTF-8"))
}

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
    /// A snapshot document from a remote backend.
    Remote {
        location: String,
        written_at: String,
    },
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
    tree: sled::Tree,
    finishes: Mutex<FinishBuffer>,
    gc: GroupCommit,
    next_op_id: AtomicU64,
    /// Held for its `Drop`, which releases the stack (after sled has closed).
    _lock: WriterLock,
}

/// Outcomes recorded but not yet applied to sled (see [`FINISH_BATCH`]).
#[derive(Default)]
struct FinishBuffer {
    batch: sled::Batch,
    ops: HashSet<u64>,
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

pub(crate) fn open_sled(path: &Path, wait: Duration) -> Result<sled::Db, StateError> {
    let deadline = Instant::now() + wait;
    loop {
        // No background flusher: every fsync is ours (group commit, flush,
        // close), which is what makes `fsync_count` and the durability
        // argument exact.
        match sled::Config::new().path(path).flush_every_ms(None).open() {
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

pub(crate) fn json_u64(bytes: &[u8], what: &str) -> Result<u64, StateError> {
    serde_json::from_slice(bytes).map_err(|e| StateError::corrupt(what, e))
}

/// Refuses a database written by a pre-release build, which kept records in
/// separate trees: read with this layout it would look empty.
pub(crate) fn check_no_legacy_trees(db: &sled::Db) -> Result<(), StateError> {
    for name in ["resources", "journal", "meta"] {
        if db
            .tree_names()
            .iter()
            .any(|n| n.as_ref() == name.as_bytes())
            && !db.open_tree(name)?.is_empty()
        {
            return Err(StateError::corrupt(
                "state database",
                format!("it has a `{name}` tree from a pre-release cairn; export it with that build and re-import"),
            ));
        }
    }
    Ok(())
}

/// Refuses a database written in another format version.
pub(crate) fn check_format_marker(tree: &sled::Tree, stack: &str) -> Result<bool, StateError> {
    let Some(b) = tree.get(meta_key(META_FORMAT))? else {
        return Ok(false);
    };
    let h: Header =
        serde_json::from_slice(&b).map_err(|e| StateError::corrupt("state format marker", e))?;
    if h.format != u64::from(FORMAT_VERSION) {
        return Err(StateError::UnsupportedFormat {
            what: format!("the state of stack `{stack}`"),
            found: h.format,
            supported: FORMAT_VERSION,
        });
    }
    Ok(true)
}

/// Loads a parsed snapshot into an empty tree, as one batch.
fn fill(tree: &sled::Tree, raw: RawState) -> Result<(), StateError> {
    let mut batch = sled::Batch::default();
    batch.insert(
        meta_key(META_FORMAT),
        dto::to_json(&serde_json::json!({ "format": FORMAT_VERSION }))?,
    );
    if let Some(k) = raw.keys {
        batch.insert(meta_key(META_KEYS), k);
    }
    if let Some(o) = raw.outputs {
        batch.insert(meta_key(META_OUTPUTS), o);
    }
    if let Some(b) = raw.binding {
        batch.insert(meta_key(META_BINDING), b);
    }
    batch.insert(meta_key(META_NEXT_OP), dto::to_json(&raw.next_op_id)?);
    for (k, v) in raw.resources.into_iter().chain(raw.journal) {
        batch.insert(k, v);
    }
    tree.apply_batch(batch)?;
    Ok(())
}

/// One more than the largest op id recorded (meta high-water mark or journal).
pub(crate) fn stored_next_op(tree: &sled::Tree) -> Result<u64, StateError> {
    let mut next = match tree.get(meta_key(META_NEXT_OP))? {
        Some(b) => json_u64(&b, "next operation id")?,
        None => 0,
    };
    if let Some(kv) = tree.scan_prefix(P_JOURNAL).next_back() {
        let (k, _) = kv?;
        next = next.max(journal_op(&k)?.saturating_add(1));
    }
    Ok(next)
}

impl StateStore {
    /// Opens (creating with dir mode 0700, files 0600) and takes the stack's writer lock.
    ///
    /// Fails at once with [`StateError::Locked`] if another store holds the
    /// stack, in this process or any other.
    pub fn open(root: &Path, stack: &str, keys: SecretKeys) -> Result<StateStore, StateError> {
        Self::open_with(root, stack, keys, None)
    }

    /// Opens a *working copy* for a remote backend: takes the local writer
    /// lock, discards whatever the stack's directory held, and fills a fresh
    /// database from `snapshot` (a document from [`StateStore::export_snapshot`];
    /// `None` for a stack the remote does not have yet). Journal entries and
    /// the op-id high-water mark come along, so a crash recorded remotely is
    /// recovered locally.
    pub fn open_working_copy(
        root: &Path,
        stack: &str,
        keys: SecretKeys,
        snapshot: Option<&[u8]>,
    ) -> Result<StateStore, StateError> {
        let raw = snapshot
            .map(|bytes| snapshot::parse(bytes, stack, &format!("the remote state of `{stack}`")))
            .transpose()?;
        Self::open_with(root, stack, keys, Some(raw))
    }

    /// `seed`: `None` opens the database as it is; `Some(x)` replaces it
    /// with `x` (`Some(None)`: empty).
    fn open_with(
        root: &Path,
        stack: &str,
        keys: SecretKeys,
        seed: Option<Option<RawState>>,
    ) -> Result<StateStore, StateError> {
        let paths = StackPaths::new(root, stack)?;
        fsutil::ensure_dir_exists(root)?;
        // Our lock before sled's: a second writer gets `Locked` naming the
        // holder, not sled's anonymous file-lock error.
        let lock = WriterLock::acquire(&paths.lock)?;
        if seed.is_some() && paths.dir.exists() {
            std::fs::remove_dir_all(&paths.dir)
                .map_err(|e| StateError::io("clearing working copy", &paths.dir, e))?;
        }
        fsutil::ensure_private_dir(&paths.dir)?;
        let db = open_sled(&paths.db, SLED_BUSY_WAIT)?;
        fsutil::secure_tree(&paths.dir)?;
        check_no_legacy_trees(&db)?;
        let tree = db.open_tree(TREE)?;
        if let Some(Some(raw)) = seed {
            fill(&tree, raw)?;
        }
        let fresh = tree.scan_prefix(P_RESOURCE).next().is_none()
            && tree.scan_prefix(P_JOURNAL).next().is_none();

        if !check_format_marker(&tree, stack)? {
            if !fresh {
                return Err(StateError::corrupt(
                    "state database",
                    "it has resources but no format marker",
                ));
            }
            tree.insert(
                meta_key(META_FORMAT),
                dto::to_json(&serde_json::json!({ "format": FORMAT_VERSION }))?,
            )?;
        }

        let sealer = match tree.get(meta_key(META_KEYS))? {
            Some(b) => {
                let km: KeysMetaV1 = parse_versioned(&b, &|| "key record".into())?;
                keys::unlock_keys(&keys, stack, &km)?
            }
            None if fresh => {
                let (sealer, km) = keys::create_keys(&keys, stack)?;
                tree.insert(meta_key(META_KEYS), dto::to_json(&km)?)?;
                sealer
            }
            None => {
                return Err(StateError::corrupt(
                    "state database",
                    "it has resources but no key record",
                ))
            }
        };
        let next = stored_next_op(&tree)?;

        let store = StateStore {
            stack: stack.to_string(),
            paths,
            sealer,
            inner: Inner::Writer(Box::new(Writer {
                db,
                tree,
                finishes: Mutex::default(),
                gc: GroupCommit::default(),
                next_op_id: AtomicU64::new(next),
                _lock: lock,
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
            snapshot::read(&paths, stack)?
        } else {
            match open_sled(&paths.db, Duration::ZERO) {
                Ok(db) => {
                    let raw = snapshot::copy_out(&db, stack)?;
                    drop(db);
                    fsutil::secure_tree(&paths.dir)?;
                    raw
                }
                Err(StateError::Busy { .. }) => snapshot::read(&paths, stack)?,
                Err(e) => return Err(e),
            }
        };
        Self::read_only_from(paths, stack, keys, raw, root)
    }

    fn read_only_from(
        paths: StackPaths,
        stack: &str,
        keys: SecretKeys,
        raw: RawState,
        root: &Path,
    ) -> Result<StateStore, StateError> {
        let Some(km) = &raw.keys else {
            if raw.resources.is_empty() && raw.journal.is_empty() {
                return Err(StateError::NoSuchStack {
                    stack: stack.to_string(),
                    root: root.to_path_buf(),
                });
            }
            return Err(StateError::corrupt(
                "state",
                "it has resources but no key record",
            ));
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

    /// A read-only store over a snapshot document fetched from elsewhere
    /// (a remote backend); `location` names it in errors and in
    /// [`StateStore::read_source`].
    pub fn from_snapshot(
        root: &Path,
        stack: &str,
        keys: SecretKeys,
        snapshot: &[u8],
        location: &str,
    ) -> Result<StateStore, StateError> {
        let paths = StackPaths::new(root, stack)?;
        let mut raw = snapshot::parse(snapshot, stack, location)?;
        if let ReadSource::Snapshot { written_at } = raw.source {
            raw.source = ReadSource::Remote {
                location: location.to_string(),
                written_at,
            };
        }
        Self::read_only_from(paths, stack, keys, raw, root)
    }

    /// The key record of a snapshot document: which key scheme its secrets
    /// use, and that scheme's params (e.g. a KMS-encrypted data key), so a
    /// caller can fetch the key before opening.
    pub fn snapshot_keys(snapshot: &[u8], stack: &str) -> Result<Option<KeysMetaV1>, StateError> {
        let raw = snapshot::parse(snapshot, stack, "state snapshot")?;
        raw.keys
            .map(|k| parse_versioned(&k, &|| "key record".into()))
            .transpose()
    }

    /// The whole state as one snapshot document (secrets stay encrypted),
    /// as of every outcome recorded so far. What remote backends upload.
    pub fn export_snapshot(&self) -> Result<Vec<u8>, StateError> {
        let w = self.writer()?;
        w.apply_finishes()?;
        snapshot::render(&self.stack, &w.tree, w.next_op_id.load(Ordering::SeqCst))
    }

    /// Where this state belongs; `None` for a state recorded before
    /// bindings existed (or never opened by a writer).
    pub fn binding(&self) -> Result<Option<Binding>, StateError> {
        let bytes = match &self.inner {
            Inner::Writer(w) => w.tree.get(meta_key(META_BINDING))?.map(|b| b.to_vec()),
            Inner::ReadOnly(raw) => raw.binding.clone(),
        };
        bytes.as_deref().map(binding::decode).transpose()
    }

    /// A writer's check that this state belongs to `current`: a state
    /// without a binding adopts it; one bound elsewhere is refused with
    /// [`StateError::WrongTarget`] unless `force`, which rebinds it.
    /// Returns the binding it replaced when `force` moved it.
    pub fn bind(&self, current: &Binding, force: bool) -> Result<Option<Binding>, StateError> {
        let w = self.writer()?;
        let recorded = self.binding()?;
        let (write, moved) = match &recorded {
            None => (current.clone(), None),
            Some(r) if r.conflicts_with(current) => {
                if !force {
                    return Err(self.wrong_target(r, current));
                }
                (current.clone(), Some(r.clone()))
            }
            Some(r) => (r.completed_by(current), None),
        };
        if recorded.as_ref() != Some(&write) {
            w.tree
                .insert(meta_key(META_BINDING), binding::encode(&write)?)?;
            self.flush()?;
        }
        Ok(moved)
    }

    /// A reader's check: refuses a state bound elsewhere unless `force`.
    pub fn check_binding(&self, current: &Binding, force: bool) -> Result<(), StateError> {
        match self.binding()? {
            Some(r) if r.conflicts_with(current) && !force => Err(self.wrong_target(&r, current)),
            _ => Ok(()),
        }
    }

    fn wrong_target(&self, recorded: &Binding, current: &Binding) -> StateError {
        StateError::WrongTarget {
            stack: self.stack.clone(),
            recorded: recorded.to_string(),
            current: current.to_string(),
        }
    }

    /// Deletes the stack's state (database and snapshot), then releases its
    /// lock. The caller checks that nothing is recorded; the key file stays.
    pub fn remove(mut self) -> Result<(), StateError> {
        self.flush()?;
        let empty = RawState {
            keys: None,
            outputs: None,
            binding: None,
            resources: Vec::new(),
            journal: Vec::new(),
            next_op_id: 0,
            source: ReadSource::Database,
        };
        let Inner::Writer(w) = std::mem::replace(&mut self.inner, Inner::ReadOnly(empty)) else {
            return Err(StateError::ReadOnly);
        };
        let Writer {
            db,
            tree,
            _lock: lock,
            ..
        } = *w;
        drop(tree);
        drop(db);
        std::fs::remove_dir_all(&self.paths.dir)
            .map_err(|e| StateError::io("removing", &self.paths.dir, e))?;
        drop(lock);
        Ok(())
    }

    /// Appends a run to the stack's history (see [`crate::history`]).
    pub fn append_history(
        &self,
        record: &crate::history::HistoryRecordV1,
    ) -> Result<(), StateError> {
        self.writer()?;
        crate::history::append(&self.paths, record)
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

    /// Where this store's data comes from: the database, or (read-only,
    /// beside a live writer) that writer's last snapshot.
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
            let name = resource_name(k)?;
            let dto: ResourceStateV1 = parse_versioned(v, &|| format!("resource `{name}`"))?;
            state
                .resources
                .insert(name.to_string(), dto.decode(name, &self.sealer)?);
            Ok(())
        };
        let outputs = match &self.inner {
            Inner::Writer(w) => {
                w.apply_finishes()?;
                for kv in w.tree.scan_prefix(P_RESOURCE) {
                    let (k, v) = kv?;
                    add(&k, &v)?;
                }
                w.tree.get(meta_key(META_OUTPUTS))?.map(|b| b.to_vec())
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
            let op_id = journal_op(k)?;
            let rec: JournalRecordV1 = parse_versioned(v, &|| format!("journal entry {op_id}"))?;
            if rec.op_id != op_id {
                return Err(StateError::corrupt(
                    format!("journal entry {op_id}"),
                    format!("it records operation {}", rec.op_id),
                ));
            }
            out.push(rec.decode(&self.sealer)?);
            Ok(())
        };
        match &self.inner {
            Inner::Writer(w) => {
                w.apply_finishes()?;
                for kv in w.tree.scan_prefix(P_JOURNAL) {
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
        w.apply_finishes()?;
        w.tree.insert(
            meta_key(META_NEXT_OP),
            dto::to_json(&w.next_op_id.load(Ordering::SeqCst))?,
        )?;
        w.gc.flush_blocking(&w.db)?;
        snapshot::write(
            &self.paths,
            &self.stack,
            &w.tree,
            w.next_op_id.load(Ordering::SeqCst),
        )?;
        fsutil::secure_tree(&self.paths.dir)
    }

    /// How many times this store has forced its data to disk: sled flushes,
    /// each ending in fsync, made by group commit, [`StateStore::flush`],
    /// open and close. Concurrent external `begin`s share one. (sled also
    /// issues `sync_file_range` when it writes out a full log buffer; those
    /// are not counted.)
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

    /// Replaces the whole state (resources and outputs) atomically, then
    /// flushes. Used by import and `state migrate`. The journal is left as
    /// it is.
    pub fn replace_all(&self, state: &StackState) -> Result<(), StateError> {
        let w = self.writer()?;
        let mut batch = sled::Batch::default();
        w.apply_finishes()?;
        for kv in w.tree.scan_prefix(P_RESOURCE) {
            let (k, _) = kv?;
            let keep = resource_name(&k).is_ok_and(|n| state.resources.contains_key(n));
            if !keep {
                batch.remove(k);
            }
        }
        for (name, r) in &state.resources {
            let dto = ResourceStateV1::encode(name, r, &self.sealer)?;
            batch.insert(resource_key(name), dto::to_json(&dto)?);
        }
        batch.insert(
            meta_key(META_OUTPUTS),
            dto::to_json(&OutputsV1::encode(&state.outputs, &self.sealer)?)?,
        );
        w.tree.apply_batch(batch)?;
        self.flush()
    }

    async fn begin_inner(&self, intent: &Intent) -> Result<(), StateError> {
        let w = self.writer()?;
        let bytes = dto::to_json(&JournalRecordV1::encode(intent, &self.sealer)?)?;
        let key = journal_key(intent.op_id);
        if intent.external {
            // So the coming flush also covers every earlier outcome.
            w.apply_finishes()?;
        }
        let mut inserted = w
            .tree
            .compare_and_swap(key, None::<&[u8]>, Some(bytes.as_slice()))?;
        if inserted.is_err() {
            // The entry may be one whose finish is still buffered.
            w.apply_finishes()?;
            inserted = w.tree.compare_and_swap(key, None::<&[u8]>, Some(bytes))?;
        }
        if inserted.is_err() {
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

    fn finish_inner(
        &self,
        op_id: u64,
        resource: &str,
        outcome: &Outcome,
    ) -> Result<(), StateError> {
        let w = self.writer()?;
        let written = match outcome {
            Outcome::Written(rs) => Some(dto::to_json(&ResourceStateV1::encode(
                resource,
                rs,
                &self.sealer,
            )?)?),
            Outcome::Removed | Outcome::Failed(_) => None,
        };
        let key = journal_key(op_id);
        let mut buf = w.lock_finishes();
        if buf.ops.contains(&op_id) || !w.tree.contains_key(key)? {
            return Err(StateError::UnknownOp {
                op_id,
                resource: resource.to_string(),
            });
        }
        buf.batch.remove(&key[..]);
        match (outcome, written) {
            (Outcome::Written(_), Some(bytes)) => buf.batch.insert(resource_key(resource), bytes),
            (Outcome::Removed, _) => buf.batch.remove(resource_key(resource)),
            _ => {}
        }
        buf.ops.insert(op_id);
        if buf.ops.len() >= FINISH_BATCH {
            w.apply_locked(&mut buf)?;
        }
        Ok(())
    }

    fn set_outputs_inner(&self, outputs: &Map) -> Result<(), StateError> {
        let w = self.writer()?;
        let bytes = dto::to_json(&OutputsV1::encode(outputs, &self.sealer)?)?;
        w.tree.insert(meta_key(META_OUTPUTS), bytes)?;
        Ok(())
    }
}

impl Writer {
    fn lock_finishes(&self) -> MutexGuard<'_, FinishBuffer> {
        // A panic mid-append can leave at most a half-recorded outcome whose
        // intent is still journaled: safe to apply or to lose.
        self.finishes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies buffered outcomes to sled as one atomic batch.
    fn apply_finishes(&self) -> Result<(), StateError> {
        let mut buf = self.lock_finishes();
        self.apply_locked(&mut buf)
    }

    fn apply_locked(&self, buf: &mut FinishBuffer) -> Result<(), StateError> {
        if buf.ops.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut buf.batch);
        buf.ops.clear();
        // On error the outcomes are lost, which the journal tolerates: their
        // intents stay pending and the next run reconciles them.
        self.tree.apply_batch(batch)?;
        Ok(())
    }
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

#[async_trait]
impl StateSink for StateStore {
    /// Journals the intent; for an external intent, returns only once it is
    /// on disk (sharing the fsync with concurrent callers).
    async fn begin(&self, intent: &Intent) -> Result<(), StateSinkError> {
        self.begin_inner(intent).await.map_err(Into::into)
    }

    /// Records the outcome and the resource's new state, atomically with
    /// removing the journal entry. Not flushed: see the crate docs.
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
