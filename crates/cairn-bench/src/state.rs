//! The state store in process: the journal's cost per operation without
//! outside effects, and how fast a second writer is refused.

use crate::{tempdir, Section, Target};
use cairn_core::provider::Operation;
use cairn_core::state::{Intent, Outcome, ResourceState, StateSink};
use cairn_core::value::{Map, Value};
use cairn_state::{SecretKeys, StateError, StateStore};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

/// 10,000 `core:Data` begin + finish + flush, seconds.
const JOURNAL_10K_S: f64 = 0.8;
/// A second writer is refused within, seconds.
const LOCK_REFUSAL_S: f64 = 1.0;
const STACK: &str = "bench";
const OPS: u64 = 10_000;
const LOCK_TRIES: usize = 20;

fn keys(root: &Path) -> SecretKeys {
    SecretKeys::KeyFile(root.join(".keys").join(format!("{STACK}.key")))
}

fn data_intent(op_id: u64) -> Intent {
    let mut inputs = Map::new();
    inputs.insert("value".into(), Value::from(format!("value-{op_id}")));
    inputs.insert("index".into(), Value::from(op_id as i64));
    Intent {
        op_id,
        resource: format!("data-{op_id}"),
        type_token: "core:Data".into(),
        operation: Operation::Create,
        id: None,
        inputs,
        dependencies: vec![],
        external: false,
        create_token: None,
    }
}

/// Seconds for `OPS` journalled creates and the final flush, and the number
/// of fsyncs they made.
fn journal() -> Result<(f64, u64), String> {
    let dir = tempdir();
    let store = StateStore::open(dir.path(), STACK, keys(dir.path())).map_err(|e| e.to_string())?;
    let intents: Vec<Intent> = (1..=OPS).map(data_intent).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| e.to_string())?;
    let before = store.fsync_count();
    let started = Instant::now();
    rt.block_on(async {
        for i in &intents {
            store.begin(i).await.map_err(|e| e.to_string())?;
            let rs = ResourceState {
                name: i.resource.clone(),
                type_token: i.type_token.clone(),
                id: format!("data-{}", i.op_id),
                inputs: i.inputs.clone(),
                outputs: i.inputs.clone(),
                dependencies: vec![],
                protect: false,
                retain_on_delete: false,
                imported: false,
                ..Default::default()
            };
            store
                .finish(i.op_id, &i.resource, &Outcome::Written(rs))
                .await
                .map_err(|e| e.to_string())?;
        }
        store
            .set_outputs(&Map::new())
            .await
            .map_err(|e| e.to_string())
    })?;
    store.flush().map_err(|e| e.to_string())?;
    Ok((
        started.elapsed().as_secs_f64(),
        store.fsync_count() - before,
    ))
}

/// The slowest of `LOCK_TRIES` refusals of a second writer, in seconds.
fn lock_refusal() -> Result<f64, String> {
    let dir = tempdir();
    let _holder =
        StateStore::open(dir.path(), STACK, keys(dir.path())).map_err(|e| e.to_string())?;
    let mut slowest = 0.0f64;
    for _ in 0..LOCK_TRIES {
        let started = Instant::now();
        let second = StateStore::open(dir.path(), STACK, keys(dir.path()));
        let took = started.elapsed().as_secs_f64();
        match second {
            Err(StateError::Locked(_)) => slowest = slowest.max(took),
            Err(e) => return Err(format!("expected a lock error, got {e}")),
            Ok(_) => return Err("a second writer opened a locked stack".into()),
        }
    }
    Ok(slowest)
}

pub fn bench() -> Section {
    let mut table = String::from("| measurement | value |\n|---|---:|\n");
    let mut targets = Vec::new();
    let mut failed = false;
    match journal() {
        Ok((secs, fsyncs)) => {
            let _ = writeln!(
                table,
                "| journal: {OPS} `core:Data` begin + finish, then flush | {secs:.3} s, {fsyncs} fsync |"
            );
            targets.push(Target::new(
                "journal: 10,000 `core:Data` operations and the flush",
                JOURNAL_10K_S,
                "s",
                secs,
            ));
            // Operations without outside effects share the final flush.
            if fsyncs != 1 {
                eprintln!("bench: the journal made {fsyncs} fsyncs, expected 1");
                failed = true;
            }
        }
        Err(e) => {
            let _ = writeln!(table, "| journal (FAILED: {e}) | |");
            failed = true;
        }
    }
    match lock_refusal() {
        Ok(secs) => {
            let _ = writeln!(
                table,
                "| second writer refused (slowest of {LOCK_TRIES}) | {:.1} ms |",
                secs * 1000.0
            );
            targets.push(Target::new(
                "second writer refused",
                LOCK_REFUSAL_S,
                "s",
                secs,
            ));
        }
        Err(e) => {
            let _ = writeln!(table, "| second writer refused (FAILED: {e}) | |");
            failed = true;
        }
    }
    Section {
        name: "state-bench",
        table,
        targets,
        failed,
    }
}
