//! Fixtures shared by the test modules.

#![allow(dead_code)]

use cairn_core::provider::Operation;
use cairn_core::state::{Intent, ResourceState, StackState};
use cairn_core::value::{Map, Value};
use cairn_state::{SecretKeys, StateStore};
use std::path::{Path, PathBuf};

pub const STACK: &str = "prod";
pub const SECRET: &str = "s3cr3t-PLAINTEXT-4242";
pub const VISIBLE: &str = "visible-marker-9876";

pub fn key_file(root: &Path) -> SecretKeys {
    SecretKeys::KeyFile(root.join(".keys").join(format!("{STACK}.key")))
}

pub fn open(root: &Path) -> StateStore {
    StateStore::open(root, STACK, key_file(root)).expect("open store")
}

pub fn map(pairs: &[(&str, Value)]) -> Map {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

pub fn resource(name: &str, secret: &str) -> ResourceState {
    ResourceState {
        name: name.to_string(),
        type_token: "aws:elasticache:ReplicationGroup".into(),
        id: format!("{name}-id"),
        inputs: map(&[
            ("engine", Value::from("redis")),
            ("nodes", Value::from(3)),
            ("note", Value::from(VISIBLE)),
            ("authToken", Value::secret(secret)),
            (
                "nested",
                Value::Map(map(&[
                    (
                        "list",
                        Value::from(vec![Value::secret(secret), Value::Null]),
                    ),
                    ("ratio", Value::Float(0.25)),
                    ("weird", Value::Float(f64::INFINITY)),
                    ("flag", Value::Bool(true)),
                ])),
            ),
            // A user map that looks like a stored secret must stay a map.
            (
                "lookalike",
                Value::Map(map(&[("$secret", Value::from("not really"))])),
            ),
        ]),
        outputs: map(&[
            (
                "endpoint",
                Value::from(format!("{name}.cache.amazonaws.com")),
            ),
            ("port", Value::from(6379)),
            ("password", Value::secret(Value::secret(secret))),
        ]),
        dependencies: vec!["subnets".into(), "sg".into()],
        protect: true,
        retain_on_delete: false,
        imported: true,
        ..Default::default()
    }
}

pub fn stack_state(secret: &str) -> StackState {
    let mut s = StackState::default();
    for name in ["cache", "params"] {
        s.resources.insert(name.into(), resource(name, secret));
    }
    s.outputs = map(&[
        ("url", Value::from("redis://cache")),
        ("token", Value::secret(secret)),
    ]);
    s
}

pub fn intent(op_id: u64, resource: &str, external: bool) -> Intent {
    Intent {
        op_id,
        resource: resource.to_string(),
        type_token: if external {
            "aws:elasticache:ReplicationGroup".into()
        } else {
            "core:Data".into()
        },
        operation: Operation::Create,
        id: None,
        inputs: map(&[
            ("n", Value::from(op_id as i64)),
            ("token", Value::secret(SECRET)),
        ]),
        dependencies: vec!["vpc".into()],
        external,
        create_token: Some(format!("token-{op_id}")),
    }
}

/// Every regular file under `dir`.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

pub fn count_occurrences(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

/// Occurrences of `needle` in all files under `dir`.
pub fn grep_tree(dir: &Path, needle: &str) -> usize {
    files_under(dir)
        .iter()
        .map(|p| count_occurrences(&std::fs::read(p).unwrap(), needle.as_bytes()))
        .sum()
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

pub fn code(e: &cairn_state::StateError) -> String {
    use miette::Diagnostic;
    e.code().map(|c| c.to_string()).unwrap_or_default()
}

/// The stack's sled database, opened directly to tamper with it. sled lets
/// go of its file lock a moment after a handle drops, hence the retries.
pub fn raw_db(root: &Path) -> sled::Db {
    let path = root.join(STACK).join("db");
    let mut tries = 0;
    loop {
        match sled::Config::new().path(&path).flush_every_ms(None).open() {
            Ok(db) => return db,
            Err(_) if tries < 200 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => panic!("opening {}: {e}", path.display()),
        }
    }
}
