//! Crash-safe state for one cairn stack, stored in [sled].
//!
//! A [`StateStore`] holds one stack's recorded resources, stack outputs and
//! write-ahead journal under `<root>/<stack>/`, and implements the engine's
//! [`StateSink`](cairn_core::state::StateSink).
//!
//! # Files
//!
//! ```text
//! <root>/                     created 0700 if absent
//!   <stack>.lock              writer lock: LockInfo JSON + flock (0600)
//!   .keys/<stack>.key         default key file, 32 random bytes (dir 0700, file 0600)
//!   <stack>/                  0700
//!     db/                     sled database (all files chmod 0600 after open/flush)
//!     snapshot.json           export for read-only opens (0600, tmp+rename)
//!     history.jsonl           one line per run, for `stack history` (0600)
//! ```
//!
//! The sled database has one tree, `stack`, whose keys are prefixed by
//! record kind, every value a JSON record carrying `"format": 1` (see
//! [`dto`]). One tree, so that a resource and its journal entry change in
//! one atomic sled batch (sled batches are per tree):
//!
//! * `r/<name>` → [`dto::ResourceStateV1`]
//! * `j/<op id as big-endian u64>` → [`dto::JournalRecordV1`], one per
//!   operation whose outcome is not yet recorded
//! * `m/format` → `{"format":1}`, `m/keys` → [`keys::KeysMetaV1`] (key
//!   scheme, its params such as the argon2 salt, and a key check),
//!   `m/outputs` → [`dto::OutputsV1`], `m/next_op_id` → u64,
//!   `m/binding` → where the state belongs ([`binding`]: endpoint, account,
//!   region; a state without one adopts the first writer's)
//!
//! Secrets are stored only as ChaCha20-Poly1305 ciphertext with a fresh
//! random nonce; the associated data binds each one to the stack and the
//! resource (or the stack outputs). A newer `format` is refused with
//! [`StateError::UnsupportedFormat`]; damaged records give
//! [`StateError::Corrupt`], never a panic.
//!
//! # Durability argument
//!
//! The executor calls [`begin`](cairn_core::state::StateSink::begin) before
//! every provider call and [`finish`](cairn_core::state::StateSink::finish)
//! after it.
//!
//! * **External intent** (the call changes something outside the engine, e.g.
//!   creates a cache cluster): `begin` returns only after the journal entry is
//!   fsynced. So if the process dies at any point after the provider call
//!   started, the next run finds the intent in [`StateStore::pending_intents`]
//!   and reconciles it (`provider.recover` adopts a half-made resource by name
//!   or URN tag instead of creating a duplicate).
//! * **`finish` is not flushed.** It records the resource state and deletes
//!   the journal entry in one atomic sled batch, so after a crash either both
//!   happened or neither did. If neither did, the intent is still pending and
//!   reconcile recovers the resource, exactly as if the crash had come just
//!   before the provider returned. Losing an unflushed `finish` therefore
//!   never loses track of a cloud resource, and skipping its fsync is safe.
//!   For speed, outcomes are buffered in memory and applied up to 256 at a
//!   time as one batch (sled pays a log-buffer sync per atomic batch): a
//!   crash loses a buffered outcome exactly like an unflushed one. Reads
//!   (`load`, `pending_intents`), `flush` and every external `begin` apply
//!   the buffer first, so the store always reads its own writes.
//! * **Non-external intent** (e.g. `core:Data`): nothing outside the engine
//!   changes, so losing the intent, the outcome or both only means the next
//!   run does the operation again. No fsync at `begin`.
//! * sled recovers a *prefix* of the writes made, and one flush makes all
//!   earlier writes durable; so each external `begin` also makes every earlier
//!   `finish` durable, and [`StateStore::flush`] (call it at the end of a run;
//!   dropping the store does it too) makes everything durable.
//!
//! **Group commit.** Concurrent external `begin`s share fsyncs: a waiter
//! either leads a flush covering every write made so far or waits for the
//! running one and re-checks. [`StateStore::fsync_count`] counts them.
//!
//! # Locking and readers
//!
//! One writer per stack: [`StateStore::open`] creates `<stack>.lock`
//! atomically with the holder's [`LockInfo`] and holds an exclusive `flock`
//! on it; a second writer fails at once with [`StateError::Locked`]. The
//! kernel drops the flock when the holder dies, so a leftover lock file is
//! reported `stale`; [`StateStore::force_unlock`] removes it. Our lock is
//! taken before sled opens, so a second writer sees `Locked`, not sled's own
//! file-lock error.
//!
//! sled cannot open a database another handle has open, even to read. So
//! [`StateStore::open_read_only`] reads `snapshot.json` while a live writer
//! holds the stack (the state as of that writer's open or last flush; see
//! [`StateStore::read_source`]), and otherwise copies the records out of the
//! database and closes it at once (a writer opening meanwhile waits for
//! sled's lock for up to a few seconds).
//!
//! # Keys
//!
//! [`SecretKeys`] selects the data key: an argon2id-stretched passphrase, a
//! key file, or any [`keys::KeyProvider`] (the extension point for a KMS data
//! key; see [`keys`]).

pub mod binding;
mod commit;
pub mod config_secret;
pub mod dto;
mod error;
mod fsutil;
pub mod history;
pub mod keys;
mod lock;
mod snapshot;
mod store;

pub use binding::Binding;
pub use config_secret::{ConfigSecretError, ConfigSecrets};
pub use error::StateError;
pub use keys::{DataKey, KeyProvider, SecretKeys};
pub use lock::LockInfo;
pub use store::{ReadSource, StackPaths, StateStore};
