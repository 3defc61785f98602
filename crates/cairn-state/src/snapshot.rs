//! `snapshot.json`, the export that read-only opens read while a writer holds
//! the database, and the raw in-memory copy a read-only store works from.
//!
//! ```json
//! {"format":1,"stack":"prod","written_at":"2025-01-01T00:00:00Z","next_op_id":42,
//!  "keys":{...KeysMetaV1},"outputs":{...OutputsV1}|null,"binding":{...BindingV1} (optional),
//!  "resources":{"<name>":{...ResourceStateV1},...},
//!  "journal":[{...JournalRecordV1},...]}
//! ```
//!
//! Records are spliced in exactly as stored, so secrets stay encrypted and
//! reading a snapshot runs the same checks as reading the database.

use crate::dto::{Header, FORMAT_VERSION};
use crate::error::StateError;
use crate::fsutil;
use crate::store::{
    check_format_marker, check_no_legacy_trees, journal_key, meta_key, resource_name,
    stored_next_op, ReadSource, StackPaths, META_BINDING, META_KEYS, META_OUTPUTS, P_JOURNAL,
    P_RESOURCE, TREE,
};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// A stored key and its JSON value.
pub(crate) type RawRecord = (Vec<u8>, Vec<u8>);

/// A stack's records as raw JSON, copied out for a read-only store. Keys
/// are the database's (with their prefixes).
pub(crate) struct RawState {
    pub keys: Option<Vec<u8>>,
    pub outputs: Option<Vec<u8>>,
    /// The binding record (`None` in states older than bindings).
    pub binding: Option<Vec<u8>>,
    pub resources: Vec<RawRecord>,
    pub journal: Vec<RawRecord>,
    pub next_op_id: u64,
    pub source: ReadSource,
}

/// Copies everything out of an open database.
pub(crate) fn copy_out(db: &sled::Db, stack: &str) -> Result<RawState, StateError> {
    check_no_legacy_trees(db)?;
    let tree = db.open_tree(TREE)?;
    check_format_marker(&tree, stack)?;
    let collect = |prefix: &[u8]| -> Result<Vec<RawRecord>, StateError> {
        tree.scan_prefix(prefix)
            .map(|kv| {
                kv.map(|(k, v)| (k.to_vec(), v.to_vec()))
                    .map_err(Into::into)
            })
            .collect()
    };
    Ok(RawState {
        keys: tree.get(meta_key(META_KEYS))?.map(|b| b.to_vec()),
        outputs: tree.get(meta_key(META_OUTPUTS))?.map(|b| b.to_vec()),
        binding: tree.get(meta_key(META_BINDING))?.map(|b| b.to_vec()),
        resources: collect(P_RESOURCE)?,
        journal: collect(P_JOURNAL)?,
        next_op_id: stored_next_op(&tree)?,
        source: ReadSource::Database,
    })
}

/// Writes the snapshot atomically (tmp file 0600, fsync, rename).
pub(crate) fn write(
    paths: &StackPaths,
    stack: &str,
    tree: &sled::Tree,
    next_op_id: u64,
) -> Result<(), StateError> {
    fsutil::write_atomic(&paths.snapshot, &render(stack, tree, next_op_id)?)
}

/// The snapshot document for the database's current records.
pub(crate) fn render(
    stack: &str,
    tree: &sled::Tree,
    next_op_id: u64,
) -> Result<Vec<u8>, StateError> {
    let mut out = Vec::with_capacity(4096);
    let push_str = |out: &mut Vec<u8>, s: &str| -> Result<(), StateError> {
        serde_json::to_writer(out, s).map_err(|e| StateError::Encrypt {
            detail: e.to_string(),
        })
    };
    out.extend_from_slice(format!("{{\"format\":{FORMAT_VERSION},\"stack\":").as_bytes());
    push_str(&mut out, stack)?;
    out.extend_from_slice(b",\"written_at\":");
    push_str(&mut out, &crate::lock::rfc3339_now())?;
    out.extend_from_slice(format!(",\"next_op_id\":{next_op_id},\"keys\":").as_bytes());
    match tree.get(meta_key(META_KEYS))? {
        Some(k) => out.extend_from_slice(&k),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"outputs\":");
    match tree.get(meta_key(META_OUTPUTS))? {
        Some(o) => out.extend_from_slice(&o),
        None => out.extend_from_slice(b"null"),
    }
    if let Some(b) = tree.get(meta_key(META_BINDING))? {
        out.extend_from_slice(b",\"binding\":");
        out.extend_from_slice(&b);
    }
    out.extend_from_slice(b",\"resources\":{");
    for (i, kv) in tree.scan_prefix(P_RESOURCE).enumerate() {
        let (k, v) = kv?;
        if i > 0 {
            out.push(b',');
        }
        push_str(&mut out, resource_name(&k)?)?;
        out.push(b':');
        out.extend_from_slice(&v);
    }
    out.extend_from_slice(b"},\"journal\":[");
    for (i, kv) in tree.scan_prefix(P_JOURNAL).enumerate() {
        let (_, v) = kv?;
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&v);
    }
    out.extend_from_slice(b"]}\n");
    Ok(out)
}

#[derive(Deserialize)]
struct SnapshotV1 {
    stack: String,
    written_at: String,
    next_op_id: u64,
    keys: Option<Box<RawValue>>,
    outputs: Option<Box<RawValue>>,
    #[serde(default)]
    binding: Option<Box<RawValue>>,
    resources: BTreeMap<String, Box<RawValue>>,
    journal: Vec<Box<RawValue>>,
}

/// Reads `snapshot.json`.
pub(crate) fn read(paths: &StackPaths, stack: &str) -> Result<RawState, StateError> {
    let bytes = match std::fs::read(&paths.snapshot) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StateError::NoSnapshot {
                stack: stack.to_string(),
            })
        }
        Err(e) => return Err(StateError::io("reading", &paths.snapshot, e)),
    };
    parse(
        &bytes,
        stack,
        &format!("snapshot {}", paths.snapshot.display()),
    )
}

/// Parses a snapshot document (from `snapshot.json` or a remote backend);
/// `label` names it in errors.
pub(crate) fn parse(bytes: &[u8], stack: &str, label: &str) -> Result<RawState, StateError> {
    let what = || label.to_string();
    let header: Header =
        serde_json::from_slice(bytes).map_err(|e| StateError::corrupt(what(), e))?;
    if header.format != u64::from(FORMAT_VERSION) {
        return Err(StateError::UnsupportedFormat {
            what: what(),
            found: header.format,
            supported: FORMAT_VERSION,
        });
    }
    let snap: SnapshotV1 =
        serde_json::from_slice(bytes).map_err(|e| StateError::corrupt(what(), e))?;
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
        journal.push((journal_key(id.op_id).to_vec(), raw(rec)));
    }
    Ok(RawState {
        keys: snap.keys.map(raw),
        outputs: snap.outputs.map(raw),
        binding: snap.binding.map(raw),
        resources: snap
            .resources
            .into_iter()
            .map(|(k, v)| ([P_RESOURCE, k.as_bytes()].concat(), raw(v)))
            .collect(),
        journal,
        next_op_id: snap.next_op_id,
        source: ReadSource::Snapshot {
            written_at: snap.written_at,
        },
    })
}
