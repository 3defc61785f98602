//! The S3 state backend against the emulator's S3 and KMS: two concurrent
//! writers (one wins, one gets a lock error), migration to S3 and back
//! without losing a resource or an output, a SIGKILL mid-run recovered from
//! the remote journal, and the object encrypted with the customer key.
//! The cloud is checked through the AWS SDK, never through cairn.

use super::common::{
    make_state_bucket_and_key, runtime, s3_client, sdk_config, start_private_emulator, Run, Sandbox,
};
use aws_sdk_s3::types::ServerSideEncryption;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;

const BUCKET: &str = "cairn-team-state";
const PREFIX: &str = "platform/redis";
const ALIAS: &str = "alias/cairn-state";
const STATE_KEY: &str = "platform/redis/redis-prod.state.json";
const DEV_STATE_KEY: &str = "platform/redis/redis-dev.state.json";
const LOCK_KEY: &str = "platform/redis/redis-prod.lock";
const REPLICATION_GROUP: &str = "qualisys-redis-prod";
const SECRET: &str = "qualisys/prod/redis/connection";

fn backend_url() -> String {
    format!("s3://{BUCKET}/{PREFIX}?kms_key={ALIAS}")
}

/// A private emulator (no twins) with a state bucket and a customer KMS key.
struct Cloud {
    sb: Sandbox,
    port: u16,
    emulator_state: PathBuf,
    key_arn: String,
}

impl Cloud {
    fn start() -> Cloud {
        Self::start_with_delay(500)
    }

    /// `delay_ms`: how long the emulator keeps a replication group `creating`.
    fn start_with_delay(delay_ms: u64) -> Cloud {
        let (sb, port, emulator_state) = start_private_emulator(Sandbox::new(), delay_ms);
        let mut cloud = Cloud {
            sb,
            port,
            emulator_state,
            key_arn: String::new(),
        };
        cloud.key_arn = runtime()
            .block_on(async { make_state_bucket_and_key(&cloud.sdk().await, BUCKET, ALIAS).await });
        cloud
    }

    async fn sdk(&self) -> aws_config::SdkConfig {
        sdk_config(&format!("http://127.0.0.1:{}", self.port)).await
    }

    async fn s3(&self) -> aws_sdk_s3::Client {
        s3_client(&self.sdk().await)
    }

    fn cairn(&self, args: &[&str]) -> Run {
        let mut all = args.to_vec();
        all.push("--local");
        self.sb.run(&all)
    }

    fn cairn_s3(&self, args: &[&str]) -> Run {
        let url = backend_url();
        let mut all = args.to_vec();
        all.extend(["--local", "--backend", &url]);
        self.sb.run(&all)
    }

    /// `network-ENV` (which the Redis stack references) up with its state
    /// in S3 beforehand, so the run under test only reads it.
    fn network_in_s3(&self, env: &str) {
        self.cairn_s3(&["up", "--yes", "--stack", &format!("network-{env}")])
            .ok();
    }

    fn replication_groups(&self) -> Vec<String> {
        runtime().block_on(async {
            let ec = aws_sdk_elasticache::Client::new(&self.sdk().await);
            ec.describe_replication_groups()
                .send()
                .await
                .expect("describe replication groups")
                .replication_groups()
                .iter()
                .filter_map(|g| g.replication_group_id().map(str::to_string))
                .collect()
        })
    }

    fn secrets_named(&self, name: &str) -> usize {
        runtime().block_on(async {
            let sm = aws_sdk_secretsmanager::Client::new(&self.sdk().await);
            sm.list_secrets()
                .send()
                .await
                .expect("list secrets")
                .secret_list()
                .iter()
                .filter(|s| s.name() == Some(name))
                .count()
        })
    }

    fn secret_value(&self) -> String {
        runtime().block_on(async {
            let sm = aws_sdk_secretsmanager::Client::new(&self.sdk().await);
            sm.get_secret_value()
                .secret_id(SECRET)
                .send()
                .await
                .expect("get secret value")
                .secret_string()
                .unwrap_or_default()
                .to_string()
        })
    }

    /// The prod state object's bytes and its server-side encryption.
    fn state_object(&self) -> Option<(Vec<u8>, Option<ServerSideEncryption>, Option<String>)> {
        self.object(STATE_KEY)
    }

    /// The object's bytes and encryption; `None` when there is no such key.
    fn object(&self, key: &str) -> Option<(Vec<u8>, Option<ServerSideEncryption>, Option<String>)> {
        runtime().block_on(async {
            let s3 = self.s3().await;
            let out = match s3.get_object().bucket(BUCKET).key(key).send().await {
                Ok(out) => out,
                Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => return None,
                Err(e) => panic!(
                    "GetObject {key}: {}",
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                ),
            };
            let sse = out.server_side_encryption().cloned();
            let key = out.ssekms_key_id().map(str::to_string);
            let bytes = out.body.collect().await.ok()?.into_bytes().to_vec();
            Some((bytes, sse, key))
        })
    }

    fn lock_exists(&self) -> bool {
        self.object(LOCK_KEY).is_some()
    }
}

impl Drop for Cloud {
    fn drop(&mut self) {
        let _ = cairn_emulator::daemon_stop(&self.emulator_state);
    }
}

fn assert_clean_preview(cloud: &Cloud) {
    let preview = cloud.cairn_s3(&["preview", "--stack", "prod"]).ok();
    assert!(
        preview.stdout.contains("No changes."),
        "preview through S3 after the run:\n{}",
        preview.all()
    );
}

#[test]
fn two_concurrent_ups_one_wins_and_the_other_gets_a_lock_error() {
    // The replication group stays `creating` for 5 s, so the first run holds
    // the lock that long; the second starts once the lock object exists.
    // (A truly simultaneous race is tested at the API level in cairn-backend-s3.)
    let cloud = Cloud::start_with_delay(5000);
    cloud.network_in_s3("prod");
    let url = backend_url();
    let spawn = || {
        cloud
            .sb
            .command(&[
                "up",
                "--yes",
                "--stack",
                "prod",
                "--local",
                "--backend",
                &url,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn cairn")
    };
    let mut first = spawn();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !cloud.lock_exists() {
        assert!(
            first.try_wait().expect("poll first run").is_none(),
            "the first run ended before taking the lock"
        );
        assert!(std::time::Instant::now() < deadline, "no lock after 120 s");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let second = spawn();
    let winner_pid = first.id();
    let loser = Run::from(second.wait_with_output().expect("wait second"));
    let winner = Run::from(first.wait_with_output().expect("wait first"));
    assert_eq!(winner.code, Some(0), "{}", winner.all());
    assert_eq!(loser.code, Some(1), "{}", loser.all());
    assert!(
        loser.stderr.contains("cairn::state::locked")
            && loser.stderr.contains(&format!("pid {winner_pid}")),
        "the loser names the lock and its holder:\n{}",
        loser.stderr
    );
    assert!(winner.stdout.contains("create"), "{}", winner.all());
    assert_eq!(cloud.replication_groups(), vec![REPLICATION_GROUP]);
    assert_eq!(cloud.secrets_named(SECRET), 1);
    assert!(!cloud.lock_exists(), "the winner released the lock");

    // The state object: SSE-KMS with the customer key, secrets sealed.
    let (bytes, sse, key) = cloud.state_object().expect("state object");
    assert_eq!(sse, Some(ServerSideEncryption::AwsKms));
    let key = key.unwrap_or_default();
    assert!(
        key == ALIAS || key == cloud.key_arn || cloud.key_arn.ends_with(&key),
        "object key {key}, state key {}",
        cloud.key_arn
    );
    let body = String::from_utf8_lossy(&bytes);
    let secret: serde_json::Value =
        serde_json::from_str(&cloud.secret_value()).expect("secret JSON");
    let token = secret["auth_token"].as_str().expect("auth_token in secret");
    assert!(token.len() >= 16);
    assert!(
        !body.contains(token),
        "the auth token is in the state object in plaintext"
    );
    assert!(body.contains("\"scheme\":\"aws-kms\""), "KMS envelope key");

    assert_clean_preview(&cloud);
    // A later writer takes the released lock normally.
    cloud.cairn_s3(&["up", "--yes", "--stack", "prod"]).ok();
}

#[test]
fn migrating_to_s3_and_back_keeps_every_resource_and_output() {
    let cloud = Cloud::start();
    cloud.cairn(&["up", "--yes", "--stack", "prod"]).ok();
    let resources = cloud
        .cairn(&["state", "list", "--stack", "prod"])
        .ok()
        .stdout;
    let outputs = cloud
        .cairn(&[
            "stack",
            "output",
            "--stack",
            "prod",
            "--json",
            "--show-secrets",
        ])
        .ok()
        .stdout;
    assert!(resources.lines().count() >= 9, "{resources}");

    let url = backend_url();
    let to_s3 = cloud
        .cairn(&["state", "migrate", "--stack", "prod", "--to", &url])
        .ok();
    assert!(to_s3.stdout.contains("verified"), "{}", to_s3.all());
    // The network stack it references (brought up locally by `up --local`) moves too.
    cloud
        .cairn(&["state", "migrate", "--stack", "network-prod", "--to", &url])
        .ok();
    assert_eq!(
        cloud
            .cairn_s3(&["state", "list", "--stack", "prod"])
            .ok()
            .stdout,
        resources
    );
    assert_eq!(
        cloud
            .cairn_s3(&[
                "stack",
                "output",
                "--stack",
                "prod",
                "--json",
                "--show-secrets"
            ])
            .ok()
            .stdout,
        outputs
    );
    assert_clean_preview(&cloud);
    // Migrating onto a backend that already holds this very state is a no-op;
    // one that holds a different state is refused.
    cloud
        .cairn(&["state", "migrate", "--stack", "prod", "--to", &url])
        .ok();

    // And back, into an empty local state directory (the network too).
    let fresh = cloud.sb.dir.path().join("state-back");
    let fresh = fresh.display().to_string();
    let migrate_back = |stack: &str| {
        let back = cloud
            .sb
            .command(&[
                "state",
                "migrate",
                "--stack",
                stack,
                "--local",
                "--backend",
                &url,
                "--to",
                "local",
            ])
            .env("CAIRN_STATE_DIR", &fresh)
            .output()
            .expect("run cairn");
        Run::from(back).ok()
    };
    let back = migrate_back("prod");
    assert!(back.stdout.contains("verified"), "{}", back.all());
    migrate_back("network-prod");
    let local = |args: &[&str]| {
        let mut all = args.to_vec();
        all.push("--local");
        Run::from(
            cloud
                .sb
                .command(&all)
                .env("CAIRN_STATE_DIR", &fresh)
                .output()
                .expect("run cairn"),
        )
        .ok()
        .stdout
    };
    assert_eq!(local(&["state", "list", "--stack", "prod"]), resources);
    assert_eq!(
        local(&[
            "stack",
            "output",
            "--stack",
            "prod",
            "--json",
            "--show-secrets"
        ]),
        outputs
    );
    assert!(local(&["preview", "--stack", "prod"]).contains("No changes."));
    assert_eq!(cloud.replication_groups(), vec![REPLICATION_GROUP]);
}

#[test]
fn migrating_onto_a_different_state_is_refused_and_changes_nothing() {
    let cloud = Cloud::start();
    cloud.cairn_s3(&["up", "--yes", "--stack", "dev"]).ok();
    let before = cloud.object(DEV_STATE_KEY);
    assert!(before.is_some(), "dev state in S3");
    // A second, local `dev` state (a different, empty-ish history) cannot
    // overwrite what the team already has in S3.
    let url = format!("s3://{BUCKET}/{PREFIX}?kms_key={ALIAS}");
    cloud
        .cairn(&["up", "--yes", "--stack", "dev", "--target", "redisKey"])
        .ok();
    let refused = cloud.cairn(&["state", "migrate", "--stack", "dev", "--to", &url]);
    assert_eq!(refused.code, Some(1), "{}", refused.all());
    assert!(
        refused.stderr.contains("already holds a different state"),
        "{}",
        refused.stderr
    );
    let after = cloud.object(DEV_STATE_KEY);
    assert_eq!(
        before.map(|(b, _, _)| b),
        after.map(|(b, _, _)| b),
        "the refused migration left the S3 state byte for byte as it was"
    );
    let dev_lock = cloud.object("platform/redis/redis-dev.lock").is_some();
    assert!(!dev_lock, "the S3 lock is released after the refusal");
}

#[test]
fn a_run_killed_mid_apply_is_recovered_from_the_remote_journal() {
    let cloud = Cloud::start();
    // The network first: a child `up` of it would inherit CAIRN_TEST_KILL_AT.
    cloud.network_in_s3("prod");
    let url = backend_url();
    // Journal point 10: an intent recorded (and uploaded) mid-run, its
    // provider call not yet made or its answer not yet recorded.
    let out = cloud
        .sb
        .command(&[
            "up",
            "--yes",
            "--stack",
            "prod",
            "--local",
            "--backend",
            &url,
        ])
        .env("CAIRN_TEST_KILL_AT", "10")
        .output()
        .expect("run cairn");
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGKILL),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        cloud.lock_exists(),
        "a killed writer leaves its lock behind"
    );
    let (bytes, _, _) = cloud
        .state_object()
        .expect("state uploaded before the kill");
    assert!(
        String::from_utf8_lossy(&bytes).contains("\"op_id\""),
        "the intent in flight is in the remote journal"
    );
    // Same host, dead pid: the next run takes the lock over and recovers.
    let rerun = cloud.cairn_s3(&["up", "--yes", "--stack", "prod"]).ok();
    assert!(
        rerun.stderr.contains("taking over a stale lock"),
        "{}",
        rerun.stderr
    );
    assert!(rerun.stderr.contains("recovering"), "{}", rerun.stderr);
    assert_eq!(cloud.replication_groups(), vec![REPLICATION_GROUP]);
    assert_eq!(cloud.secrets_named(SECRET), 1);
    assert_clean_preview(&cloud);
    assert!(!cloud.lock_exists());
}

#[test]
fn a_bad_backend_url_is_invalid_input_with_a_reason() {
    let sb = Sandbox::new();
    for (url, reason) in [
        ("s3://Bad_Bucket/x?kms_key=k", "bucket name"),
        ("s3://cairn-team-state/x", "names no KMS key"),
        ("ftp://state", "unknown state backend"),
    ] {
        let run = sb.run(&["preview", "--stack", "dev", "--backend", url]);
        assert_eq!(run.code, Some(2), "{url}: {}", run.all());
        assert!(run.stderr.contains(reason), "{url}: {}", run.stderr);
        assert!(
            run.stderr.contains("help:") || run.stderr.contains("unknown state backend"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn a_missing_kms_key_fails_before_anything_is_written() {
    let cloud = Cloud::start();
    let url = format!("s3://{BUCKET}/{PREFIX}?kms_key=alias/no-such-key");
    let run = cloud.sb.run(&[
        "up",
        "--yes",
        "--stack",
        "dev",
        "--local",
        "--backend",
        &url,
    ]);
    assert_eq!(run.code, Some(1), "{}", run.all());
    assert!(run.stderr.contains("cairn::backend::kms"), "{}", run.stderr);
    assert!(run.stderr.contains("kms:GenerateDataKey"), "{}", run.stderr);
    assert!(cloud.object(DEV_STATE_KEY).is_none(), "no state written");
    assert!(
        cloud.object("platform/redis/redis-dev.lock").is_none(),
        "the lock is released after the failed open"
    );
    assert!(cloud.replication_groups().is_empty(), "nothing created");
}

#[test]
fn a_lock_held_on_another_host_needs_force_unlock_which_warns() {
    let cloud = Cloud::start();
    // A CI runner died holding the dev stack's lock.
    runtime().block_on(async {
        let holder = serde_json::json!({
            "host": "ci-runner-7", "pid": 4242,
            "started_at": "2026-11-29T00:00:00Z", "command": "cairn up --stack dev",
            "lock_id": "ci-runner-7-4242-1"
        });
        cloud
            .s3()
            .await
            .put_object()
            .bucket(BUCKET)
            .key("platform/redis/redis-dev.lock")
            .body(serde_json::to_vec(&holder).unwrap().into())
            .send()
            .await
            .expect("put lock");
    });
    let locked = cloud.cairn_s3(&["up", "--yes", "--stack", "dev"]);
    assert_eq!(locked.code, Some(1), "{}", locked.all());
    assert!(
        locked.stderr.contains("cairn::state::locked")
            && locked.stderr.contains("pid 4242 on host ci-runner-7")
            && locked.stderr.contains("--force-unlock"),
        "{}",
        locked.stderr
    );
    assert!(cloud.replication_groups().is_empty(), "nothing was touched");
    let forced = cloud
        .cairn_s3(&["up", "--yes", "--stack", "dev", "--force-unlock"])
        .ok();
    assert!(
        forced
            .stderr
            .contains("warning: removed the lock held by pid 4242 on ci-runner-7"),
        "{}",
        forced.stderr
    );
    assert!(cloud.object("platform/redis/redis-dev.lock").is_none());
    assert!(cloud.object(DEV_STATE_KEY).is_some());
}
