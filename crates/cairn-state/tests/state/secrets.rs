//! Secrets: encrypted at rest, bound to their resource, and keyed correctly.

use crate::common::*;
use cairn_core::state::{ResourceState, StackState, StateSink};
use cairn_core::value::Value;
use cairn_state::{SecretKeys, StateError, StateStore};

#[test]
fn round_trip_with_secrets_and_no_plaintext_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let state = stack_state(SECRET);
    {
        let store = open(root);
        store.replace_all(&state).unwrap();
        // The journal holds intents with secret inputs too.
        rt().block_on(store.begin(&intent(1, "cache", true)))
            .unwrap();
        assert_eq!(store.load().unwrap(), state);
    }
    let store = open(root);
    let loaded = store.load().unwrap();
    assert_eq!(loaded, state);
    assert!(loaded.resources["cache"].inputs["authToken"].is_secret());
    assert_eq!(
        loaded.resources["cache"].inputs["lookalike"],
        Value::Map(map(&[("$secret", Value::from("not really"))]))
    );
    assert_eq!(
        store.pending_intents().unwrap(),
        vec![intent(1, "cache", true)]
    );
    store.flush().unwrap();
    drop(store);

    // Every byte the store wrote: database, snapshot, key file, everything.
    assert_eq!(grep_tree(root, SECRET), 0, "plaintext secret on disk");
    // Control: the same scan does find plaintext that is not secret.
    assert!(
        grep_tree(root, VISIBLE) > 0,
        "scan cannot see stored values"
    );
    let snapshot = std::fs::read_to_string(root.join("prod/snapshot.json")).unwrap();
    assert!(snapshot.contains("\"$secret\":{\"alg\":\"chacha20poly1305\""));
}

#[test]
fn passphrase_round_trip_and_wrong_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let pass = |p: &str| SecretKeys::Passphrase(p.to_string());
    {
        let store = StateStore::open(root, STACK, pass("correct horse")).unwrap();
        store.replace_all(&stack_state(SECRET)).unwrap();
    }
    for ro in [false, true] {
        let res = if ro {
            StateStore::open_read_only(root, STACK, pass("wrong horse"))
        } else {
            StateStore::open(root, STACK, pass("wrong horse"))
        };
        let err = res.unwrap_err();
        assert!(matches!(err, StateError::WrongKey { .. }), "{err:?}");
        assert_eq!(code(&err), "cairn::state::wrong_key");
        assert!(err.to_string().contains("wrong passphrase"), "{err}");
        assert!(!format!("{err:?}").contains("horse"));
    }
    // The failed writer open released its lock.
    let store = StateStore::open(root, STACK, pass("correct horse")).unwrap();
    assert_eq!(store.load().unwrap(), stack_state(SECRET));
    drop(store);

    // A key file cannot open a passphrase stack.
    let err = StateStore::open(root, STACK, key_file(root)).unwrap_err();
    assert_eq!(code(&err), "cairn::state::key_scheme");
    assert!(err.to_string().contains("passphrase-argon2id"), "{err}");
    assert_eq!(grep_tree(root, SECRET), 0);
    assert_eq!(grep_tree(root, "correct horse"), 0);
}

#[test]
fn wrong_or_damaged_key_file_is_a_clear_error() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    open(root).replace_all(&stack_state(SECRET)).unwrap();
    let key_path = root.join(".keys/prod.key");
    assert_eq!(std::fs::read(&key_path).unwrap().len(), 32);

    // Another key of the right shape.
    let other = root.join("other.key");
    std::fs::write(&other, [7u8; 32]).unwrap();
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o600)).unwrap();
    let err = StateStore::open(root, STACK, SecretKeys::KeyFile(other.clone())).unwrap_err();
    assert_eq!(code(&err), "cairn::state::wrong_key", "{err:?}");

    // Readable by others.
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = StateStore::open(root, STACK, SecretKeys::KeyFile(other.clone())).unwrap_err();
    assert_eq!(code(&err), "cairn::state::key_file", "{err:?}");

    // Truncated.
    std::fs::write(&key_path, [1u8; 5]).unwrap();
    let err = StateStore::open(root, STACK, key_file(root)).unwrap_err();
    assert_eq!(code(&err), "cairn::state::key_file");
    assert!(err.to_string().contains("5 bytes"), "{err}");

    // Missing: not silently replaced by a new key.
    std::fs::remove_file(&key_path).unwrap();
    let err = StateStore::open(root, STACK, key_file(root)).unwrap_err();
    assert_eq!(code(&err), "cairn::state::key_file");
    assert!(!key_path.exists());
}

#[test]
fn default_keys_come_from_env_or_key_file_outside_the_stack_dir() {
    let dir = tempfile::tempdir().unwrap();
    // Tests share the environment: read it, never set it.
    match std::env::var("STACK_PASSPHRASE") {
        Ok(p) if !p.is_empty() => assert!(matches!(
            SecretKeys::from_env_or_default(dir.path(), STACK).unwrap(),
            SecretKeys::Passphrase(_)
        )),
        Ok(_) => assert!(SecretKeys::from_env_or_default(dir.path(), STACK).is_err()),
        Err(_) => match SecretKeys::from_env_or_default(dir.path(), STACK).unwrap() {
            SecretKeys::KeyFile(p) => assert_eq!(p, dir.path().join(".keys").join("prod.key")),
            other => panic!("{other:?}"),
        },
    }
    assert!(SecretKeys::from_env_or_default(dir.path(), "../x").is_err());
}

#[test]
fn ciphertexts_cannot_be_moved_between_resources() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    open(root).replace_all(&stack_state(SECRET)).unwrap();
    // Copy `cache`'s stored record, secrets and all, over `params`.
    {
        let db = raw_db(root);
        let tree = db.open_tree("stack").unwrap();
        let cache = tree.get("r/cache").unwrap().unwrap();
        tree.insert("r/params", cache).unwrap();
        db.flush().unwrap();
    }
    let err = open(root).load().unwrap_err();
    assert_eq!(code(&err), "cairn::state::decrypt", "{err:?}");
    assert!(err.to_string().contains("params"), "{err}");
}

#[test]
fn debug_output_never_shows_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.replace_all(&stack_state(SECRET)).unwrap();
    let keys = SecretKeys::Passphrase("hunter2-pass".into());
    assert!(!format!("{keys:?}").contains("hunter2"));
    let dk = cairn_state::DataKey::from_bytes([0xAB; 32]);
    assert!(!format!("{dk:?}").to_lowercase().contains("ab, "));
    assert!(!format!("{dk:?}").contains("171"));
    let dbg = format!("{store:?}");
    assert!(dbg.contains("prod") && !dbg.contains(SECRET));
}

#[test]
fn stack_outputs_and_empty_values_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut state = StackState::default();
    state.resources.insert(
        "empty".into(),
        ResourceState {
            name: "empty".into(),
            type_token: "core:Data".into(),
            id: String::new(),
            inputs: Default::default(),
            outputs: map(&[("nan", Value::Float(f64::NAN)), ("u", Value::Unknown)]),
            dependencies: vec![],
            protect: false,
            retain_on_delete: true,
            imported: false,
            ..Default::default()
        },
    );
    {
        let s = open(root);
        s.replace_all(&state).unwrap();
        rt().block_on(s.set_outputs(&map(&[("k", Value::secret(Value::List(vec![])))])))
            .unwrap();
    }
    let loaded = open(root).load().unwrap();
    let r = &loaded.resources["empty"];
    assert!(matches!(r.outputs["nan"], Value::Float(f) if f.is_nan()));
    assert_eq!(r.outputs["u"], Value::Unknown);
    assert!(r.retain_on_delete);
    assert_eq!(loaded.outputs["k"], Value::secret(Value::List(vec![])));

    // replace_all drops resources not in the new state.
    let s = open(root);
    s.replace_all(&StackState::default()).unwrap();
    assert_eq!(s.load().unwrap(), StackState::default());
}

/// Stands in for a KMS key: `create` returns a data key and its "wrapped"
/// form as params; `unwrap` unwraps the stored params.
struct FakeKms {
    mask: u8,
}

impl cairn_state::KeyProvider for FakeKms {
    fn scheme(&self) -> String {
        "fake-kms".into()
    }
    fn create(&self) -> Result<(cairn_state::DataKey, Vec<u8>), StateError> {
        let key = [42u8; 32];
        let wrapped = key.iter().map(|b| b ^ self.mask).collect();
        Ok((cairn_state::DataKey::from_bytes(key), wrapped))
    }
    fn unwrap(&self, params: &[u8]) -> Result<cairn_state::DataKey, StateError> {
        let key: [u8; 32] = params
            .iter()
            .map(|b| b ^ self.mask)
            .collect::<Vec<_>>()
            .try_into()
            .map_err(|_| StateError::KeyProvider {
                scheme: self.scheme(),
                message: "bad wrapped key".into(),
            })?;
        Ok(cairn_state::DataKey::from_bytes(key))
    }
}

#[test]
fn a_key_provider_plugs_in_for_kms() {
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let kms = |mask| SecretKeys::Provider(Arc::new(FakeKms { mask }));
    StateStore::open(root, STACK, kms(0x5a))
        .unwrap()
        .replace_all(&stack_state(SECRET))
        .unwrap();
    let ro = StateStore::open_read_only(root, STACK, kms(0x5a)).unwrap();
    assert_eq!(ro.load().unwrap(), stack_state(SECRET));
    // A provider that unwraps to another key is caught by the key check.
    let err = StateStore::open(root, STACK, kms(0x00)).unwrap_err();
    assert_eq!(code(&err), "cairn::state::wrong_key", "{err:?}");
    let err = StateStore::open(root, STACK, key_file(root)).unwrap_err();
    assert_eq!(code(&err), "cairn::state::key_scheme", "{err:?}");
    assert_eq!(grep_tree(root, SECRET), 0);
}
