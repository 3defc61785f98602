//! Auth token rotation with an overlap (issue 13), end to end against the
//! emulator's real redis-server twin: a client that keeps reading the
//! connection secret is never refused while `up` rotates the token, and a
//! later run drops the old token.

use super::common::{free_port, sdk_config, Sandbox};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

const GROUP: &str = "rotation-twin";
const SECRET: &str = "rotation/redis/connection";
const TOKEN_A: &str = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6";
const TOKEN_B: &str = "Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6";
const TOKEN_C: &str = "Z9x8C7v6B5n4M3l2K1j0H9g8F7d6S5a4";

/// A stack with the group, its connection secret (which interpolates the
/// token, as `stacks/redis-cache.template.yaml` does) and `extra` lines
/// under the group's properties.
fn stack(extra: &str, with_token: bool) -> String {
    let (token, waive_auth) = if with_token {
        ("      authToken: ${token}\n", "")
    } else {
        // The policy wants a token too; the provider's own rule is the one tested.
        (
            "",
            "    - { rule: CAIRN-POL-002, resource: cache, reason: removal test }\n",
        )
    };
    format!(
        r#"name: rotation
config:
  token:
    type: string
    secret: true
resources:
  cache:
    type: aws:elasticache:ReplicationGroup
    properties:
      replicationGroupId: {GROUP}
      description: rotation test
      engineVersion: "7.1"
      nodeType: cache.t3.micro
      numCacheClusters: 1
      transitEncryptionEnabled: true
{token}{extra}
  connectionSecret:
    type: aws:secretsmanager:Secret
    properties:
      name: {SECRET}
      recoveryWindowInDays: 7
  connection:
    type: aws:secretsmanager:SecretVersion
    properties:
      secretId: ${{connectionSecret.arn}}
      secretString: '{{"host":"${{cache.primaryEndpointAddress}}","port":${{cache.port}},"auth_token":"${{token}}"}}'
policy:
  waivers:
    - {{ rule: CAIRN-POL-003, resource: cache, reason: test group }}
    - {{ rule: CAIRN-POL-004, resource: cache, reason: test group }}
    - {{ rule: CAIRN-POL-005, resource: cache, reason: test group }}
    - {{ rule: CAIRN-POL-006, resource: cache, reason: test group }}
    - {{ rule: CAIRN-POL-009, resource: cache, reason: test group }}
    - {{ rule: CAIRN-POL-007, resource: connectionSecret, reason: test secret }}
{waive_auth}"#
    )
}

struct Local {
    sb: Sandbox,
    port: u16,
    emulator_state: PathBuf,
    stack_file: PathBuf,
}

impl Local {
    fn new() -> Local {
        let port = free_port();
        let sb = Sandbox::new();
        let emulator_state = sb.dir.path().join("emulator");
        let stack_file = sb.dir.path().join("rotation.yaml");
        let sb = sb
            .with_env("LOCAL_AWS_PORT", &port.to_string())
            .with_env(
                "CAIRN_EMULATOR_STATE",
                &emulator_state.display().to_string(),
            )
            .with_env("CAIRN_EMULATOR_DELAY_MS", "300")
            .with_env("CAIRN_AWS_POLL_MS", "100");
        Local {
            sb,
            port,
            emulator_state,
            stack_file,
        }
    }

    fn write(&self, yaml: &str) {
        std::fs::write(&self.stack_file, yaml).expect("write stack");
    }

    fn cairn(&self, args: &[&str], token: &str) -> super::common::Run {
        let file = self.stack_file.display().to_string();
        let config = format!("token={token}");
        let mut all = args.to_vec();
        all.extend(["--stack-file", &file, "--config", &config, "--local"]);
        self.sb.run(&all)
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        let _ = self.sb.command(&["emulator", "stop"]).output();
    }
}

/// What the twin answered to `PING` with this token.
#[derive(Debug, PartialEq)]
enum Answer {
    Pong,
    AuthRefused,
    Other(String),
}

fn ping(host: &str, port: u16, ca: &str, token: &str) -> Answer {
    let out = Command::new("redis-cli")
        .args(["-h", host, "-p", &port.to_string(), "--tls", "--cacert", ca])
        .args([
            "--user",
            "default",
            "--pass",
            token,
            "--no-auth-warning",
            "PING",
        ])
        .output()
        .expect("redis-cli");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if text.trim() == "PONG" {
        Answer::Pong
    } else if text.contains("WRONGPASS") || text.contains("NOAUTH") || text.contains("AUTH failed")
    {
        Answer::AuthRefused
    } else {
        Answer::Other(text)
    }
}

/// The connection secret as an application reads it: host, port, token.
async fn read_secret(sm: &aws_sdk_secretsmanager::Client) -> (String, u16, String) {
    let v = sm
        .get_secret_value()
        .secret_id(SECRET)
        .send()
        .await
        .expect("GetSecretValue");
    let j: serde_json::Value =
        serde_json::from_str(v.secret_string().expect("string")).expect("json");
    (
        j["host"].as_str().expect("host").to_string(),
        j["port"].as_u64().expect("port") as u16,
        j["auth_token"].as_str().expect("token").to_string(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_reading_the_secret_is_never_refused_while_the_token_rotates() {
    let local = Arc::new(Local::new());
    local.write(&stack("", true));
    local.cairn(&["up", "--yes"], TOKEN_A).ok();
    let sdk = sdk_config(&format!("http://127.0.0.1:{}", local.port)).await;
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let twin = cairn_emulator::Emulator::attach(local.port, local.emulator_state.clone())
        .await
        .expect("attach emulator")
        .twin(GROUP)
        .await
        .expect("twin")
        .expect("a twin runs");
    let ca = twin.ca_path.expect("twin CA").display().to_string();
    let (host, port, token) = read_secret(&sm).await;
    assert_eq!(token, TOKEN_A);
    assert_eq!(ping(&host, port, &ca, TOKEN_A), Answer::Pong);

    // The client loop: read the secret, talk to the twin, again and again.
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<Vec<(String, Answer)>>> = Arc::default();
    let client = {
        let (stop, seen, sm, ca) = (stop.clone(), seen.clone(), sm.clone(), ca.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let (host, port, token) = read_secret(&sm).await;
                let ca = ca.clone();
                let answer = tokio::task::spawn_blocking(move || {
                    (token.clone(), ping(&host, port, &ca, &token))
                })
                .await
                .expect("ping");
                seen.lock().unwrap().push(answer);
            }
        })
    };
    // `up` rotates the token while the client runs.
    let up = {
        let local = local.clone();
        tokio::task::spawn_blocking(move || local.cairn(&["up", "--yes"], TOKEN_B))
            .await
            .expect("up")
    };
    // A few more rounds with the new secret.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    client.await.expect("client loop");
    let up = up.ok();
    let seen = seen.lock().unwrap();
    let refused: Vec<&(String, Answer)> = seen.iter().filter(|(_, a)| *a != Answer::Pong).collect();
    let with = |t: &str| seen.iter().filter(|(k, _)| k == t).count();
    assert!(
        refused.is_empty(),
        "{} of {} attempts refused while the token rotated ({} with the old token, {} with the new): {:?}\n{}",
        refused.len(),
        seen.len(),
        with(TOKEN_A),
        with(TOKEN_B),
        refused.iter().map(|(k, a)| (k == TOKEN_A, a)).collect::<Vec<_>>(),
        up.all()
    );
    assert!(
        with(TOKEN_A) > 0 && with(TOKEN_B) > 0,
        "the loop saw both tokens: {} old, {} new",
        with(TOKEN_A),
        with(TOKEN_B)
    );
    // The old token is still accepted (the overlap, one day by default) ...
    assert_eq!(
        ping(&host, port, &ca, TOKEN_A),
        Answer::Pong,
        "the old token during the overlap"
    );
    let preview = local.cairn(&["preview"], TOKEN_B).ok();
    assert!(
        preview.all().contains("old token is still accepted until"),
        "preview shows the pending step:\n{}",
        preview.all()
    );
    // ... until `up --finish-rotation` drops it.
    let finish = local
        .cairn(&["up", "--yes", "--finish-rotation"], TOKEN_B)
        .ok();
    assert!(
        finish.all().contains("finish the auth token rotation"),
        "{}",
        finish.all()
    );
    assert_eq!(
        ping(&host, port, &ca, TOKEN_A),
        Answer::AuthRefused,
        "the old token is dropped"
    );
    assert_eq!(ping(&host, port, &ca, TOKEN_B), Answer::Pong);
    let clean = local
        .cairn(&["preview", "--expect-no-changes"], TOKEN_B)
        .ok();
    assert!(
        !clean.all().contains("auth token rotation"),
        "{}",
        clean.all()
    );

    // With a short overlap, the first `up` after it drops the old token.
    local.write(&stack("      authTokenRotationOverlap: 2s\n", true));
    local.cairn(&["up", "--yes"], TOKEN_C).ok();
    assert_eq!(
        ping(&host, port, &ca, TOKEN_B),
        Answer::Pong,
        "old token within the overlap"
    );
    std::thread::sleep(std::time::Duration::from_secs(2));
    let after = local.cairn(&["up", "--yes"], TOKEN_C).ok();
    assert!(
        after.all().contains("its overlap has passed"),
        "{}",
        after.all()
    );
    assert_eq!(
        ping(&host, port, &ca, TOKEN_B),
        Answer::AuthRefused,
        "dropped after the overlap"
    );
    assert_eq!(ping(&host, port, &ca, TOKEN_C), Answer::Pong);
}

#[test]
fn removing_the_auth_token_is_refused_at_preview() {
    let local = Local::new();
    local.write(&stack("", true));
    local.cairn(&["up", "--yes"], TOKEN_A).ok();
    local.write(&stack("", false));
    let preview = local.cairn(&["preview"], TOKEN_A);
    assert_eq!(preview.code, Some(2), "{}", preview.all());
    assert!(
        preview
            .all()
            .contains("aws::elasticache::auth-token-removal"),
        "{}",
        preview.all()
    );
    assert!(preview.all().contains("user groups"), "{}", preview.all());
}
