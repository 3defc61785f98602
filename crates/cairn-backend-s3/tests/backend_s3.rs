//! The backend against the emulator's S3 and KMS through the real SDK:
//! the lock under a race of many writers, conditional state writes after a
//! force-unlock, and secrets sealed by the KMS data key.

use cairn_backend_s3::{BackendError, S3Backend, S3Location};
use cairn_core::provider::Operation;
use cairn_core::state::{Intent, Outcome, ResourceState, StateSink};
use cairn_core::Value;
use cairn_emulator::Emulator;
use cairn_state::StateError;

const BUCKET: &str = "team-state";

async fn cloud() -> (Emulator, aws_config::SdkConfig) {
    let emulator = Emulator::start_ephemeral(0, false)
        .await
        .expect("start emulator");
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(emulator.endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_kms::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await;
    let s3 = s3(&sdk);
    s3.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("bucket");
    let kms = aws_sdk_kms::Client::new(&sdk);
    let key = kms.create_key().send().await.expect("key");
    kms.create_alias()
        .alias_name("alias/state")
        .target_key_id(key.key_metadata().expect("meta").key_id())
        .send()
        .await
        .expect("alias");
    (emulator, sdk)
}

fn s3(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    )
}

fn backend(sdk: &aws_config::SdkConfig) -> S3Backend {
    let location = S3Location::parse(&format!("s3://{BUCKET}/p?kms_key=alias/state")).unwrap();
    S3Backend::new(sdk, location, true)
}

fn intent(op_id: u64, name: &str) -> Intent {
    Intent {
        op_id,
        resource: name.into(),
        type_token: "core:Data".into(),
        operation: Operation::Create,
        id: None,
        inputs: Default::default(),
        dependencies: Vec::new(),
        external: true,
        create_token: None,
    }
}

fn written(name: &str, secret: &str) -> Outcome {
    let mut outputs = cairn_core::Map::new();
    outputs.insert("token".into(), Value::Secret(Box::new(Value::from(secret))));
    Outcome::Written(ResourceState {
        name: name.into(),
        type_token: "core:Data".into(),
        id: format!("{name}-id"),
        inputs: Default::default(),
        outputs,
        dependencies: Vec::new(),
        protect: false,
        retain_on_delete: false,
        imported: false,
        ..Default::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_eight_racing_writers_exactly_one_gets_the_lock() {
    let (_emulator, sdk) = cloud().await;
    let work = tempfile::tempdir().unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let b = backend(&sdk);
        let root = work.path().join(format!("w{i}"));
        tasks.push(tokio::spawn(
            async move { b.open_writer("prod", &root).await },
        ));
    }
    let mut winners = Vec::new();
    let mut locked = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(w) => winners.push(w),
            Err(BackendError::State(StateError::Locked(info))) => {
                assert_eq!(info.pid, std::process::id());
                locked += 1;
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    // All eight share a pid, host and command: only S3's conditional
    // write (atomic in the emulator too) tells them apart.
    assert_eq!(winners.len(), 1, "exactly one writer holds the lock");
    assert_eq!(locked, 7);
    for w in winners {
        let _ = w.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_whose_lock_was_force_removed_cannot_overwrite_newer_state() {
    let (_emulator, sdk) = cloud().await;
    let work = tempfile::tempdir().unwrap();
    let b = backend(&sdk);
    let first = b.open_writer("prod", &work.path().join("a")).await.unwrap();
    first.begin(&intent(1, "one")).await.unwrap();
    first
        .finish(1, "one", &written("one", "s3cr3t-one"))
        .await
        .unwrap();
    first.sync().await.unwrap();

    // Someone decides the first writer is dead and takes over.
    let removed = b.force_unlock("prod").await.unwrap();
    assert!(removed.is_some());
    let second = b.open_writer("prod", &work.path().join("b")).await.unwrap();
    assert!(second.store().load().unwrap().resources.contains_key("one"));
    second.begin(&intent(2, "two")).await.unwrap();
    second
        .finish(2, "two", &written("two", "s3cr3t-two"))
        .await
        .unwrap();
    second.close().await.unwrap();

    // The first writer wakes up: its next write is refused, not applied.
    let err = first.begin(&intent(3, "three")).await.unwrap_err();
    assert!(err.0.contains("changed under this run"), "{}", err.0);
    let closed = first.close().await;
    assert!(
        matches!(closed, Err(BackendError::Conflict { .. })),
        "{closed:?}"
    );

    // What S3 holds is the second writer's state, secrets sealed.
    let scratch = tempfile::tempdir().unwrap();
    let store = b
        .read("prod", scratch.path())
        .await
        .unwrap()
        .expect("state");
    let state = store.load().unwrap();
    assert_eq!(
        state.resources.keys().collect::<Vec<_>>(),
        vec!["one", "two"]
    );
    assert_eq!(
        state.resources["two"].outputs["token"],
        Value::Secret(Box::new(Value::from("s3cr3t-two")))
    );
    let raw = s3(&sdk)
        .get_object()
        .bucket(BUCKET)
        .key("p/prod.state.json")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    let raw = String::from_utf8_lossy(&raw);
    assert!(!raw.contains("s3cr3t"), "plaintext secret in the object");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_lock_refuses_other_writers_until_closed_and_a_foreign_one_is_never_stale() {
    let (_emulator, sdk) = cloud().await;
    let work = tempfile::tempdir().unwrap();
    let b = backend(&sdk);
    let first = b.open_writer("prod", &work.path().join("a")).await.unwrap();
    match b.open_writer("prod", &work.path().join("b")).await {
        Err(BackendError::State(StateError::Locked(holder))) => {
            assert_eq!(holder.pid, std::process::id());
            assert!(!holder.stale, "its holder is alive");
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    // A lock a CI runner left on another stack.
    let info = serde_json::json!({
        "host": "ci-runner-7", "pid": 4242, "started_at": "2026-11-29T00:00:00Z",
        "command": "cairn up --stack staging"
    });
    s3(&sdk)
        .put_object()
        .bucket(BUCKET)
        .key("p/staging.lock")
        .body(serde_json::to_vec(&info).unwrap().into())
        .send()
        .await
        .unwrap();
    match b.open_writer("staging", &work.path().join("c")).await {
        Err(BackendError::State(StateError::Locked(holder))) => {
            assert_eq!(holder.host, "ci-runner-7");
            assert_eq!(holder.pid, 4242);
            assert!(!holder.stale, "a foreign host's lock is never judged stale");
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    first.close().await.unwrap();
    let again = b.open_writer("prod", &work.path().join("d")).await.unwrap();
    again.close().await.unwrap();
}

/// The emulator's S3 is faithful where the backend relies on it: SSE-KMS
/// with a key that does not exist is refused (moto alone stores any id).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emulator_refuses_sse_kms_with_an_unknown_key() {
    let (_emulator, sdk) = cloud().await;
    let s3 = s3(&sdk);
    let put = |key: &'static str| {
        s3.put_object()
            .bucket(BUCKET)
            .key("x")
            .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
            .ssekms_key_id(key)
            .body(b"{}".to_vec().into())
            .send()
    };
    let err = put("alias/missing").await.unwrap_err();
    let err = aws_sdk_s3::error::DisplayErrorContext(&err).to_string();
    assert!(err.contains("KMS.NotFoundException"), "{err}");
    put("alias/state").await.expect("a real key is accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_unlock_removes_only_the_lock_it_showed() {
    let (_emulator, sdk) = cloud().await;
    let work = tempfile::tempdir().unwrap();
    let b = backend(&sdk);
    let holder_a = b.open_writer("prod", work.path()).await.unwrap();
    let (shown, etag_a) = b.lock_with_etag("prod").await.unwrap().expect("lock A");
    assert_eq!(shown.pid, std::process::id());

    // Lock A goes away and lock B is taken before the force-unlock runs.
    let key = "p/prod.lock";
    let client = s3(&sdk);
    let body_a = client
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    let body_b = String::from_utf8(body_a.to_vec()).unwrap().replacen(
        "\"lock_id\"",
        "\"lock_id\":\"lock-b\",\"was\"",
        1,
    );
    let put = client
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .body(body_b.clone().into_bytes().into())
        .send()
        .await
        .unwrap();
    let etag_b = put.e_tag().unwrap().to_string();
    assert_ne!(etag_a, etag_b);

    let err = b.force_unlock_if("prod", &etag_a).await.unwrap_err();
    assert!(
        matches!(err, BackendError::LockChanged { .. }),
        "the lock changed since it was shown: {err:?}"
    );
    let (_, still) = b
        .lock_with_etag("prod")
        .await
        .unwrap()
        .expect("lock B stays");
    assert_eq!(still, etag_b, "lock B was left in place");

    // With the ETag of the lock it shows now, it goes.
    let removed = b.force_unlock_if("prod", &etag_b).await.unwrap();
    assert!(removed.is_some());
    assert!(b.lock_with_etag("prod").await.unwrap().is_none());
    drop(holder_a);
}
