//! What the emulator's processes may see and touch: a stale pid file never
//! gets an unrelated process signalled, and child processes start from a
//! clean environment (no stack passphrase, no real AWS credentials).

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use cairn_emulator::{daemon_start, daemon_status, daemon_stop, Emulator, EmulatorConfig};

/// A `sleep` in its own process group, killed on drop.
struct Bystander(Child);

impl Bystander {
    fn spawn() -> Bystander {
        let child = Command::new("sleep")
            .arg("60")
            .process_group(0)
            .spawn()
            .expect("spawn sleep");
        Bystander(child)
    }
    fn pid(&self) -> u32 {
        self.0.id()
    }
    fn alive(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }
}

impl Drop for Bystander {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A state dir whose pid file names `pid` and whose port file names a free port.
fn stale_state(pid: u32) -> (tempfile::TempDir, u16) {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(dir.path().join("emulator.pid"), format!("{pid}\n")).unwrap();
    std::fs::write(dir.path().join("emulator.port"), format!("{port}\n")).unwrap();
    (dir, port)
}

#[test]
fn stop_never_signals_a_process_that_is_not_the_emulator() {
    let mut sleep = Bystander::spawn();
    let (dir, _) = stale_state(sleep.pid());
    let stopped = daemon_stop(dir.path());
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        sleep.alive(),
        "emulator stop signalled an unrelated `sleep`"
    );
    let stopped = stopped.expect("a stale pid file is not an error");
    assert_eq!(stopped.pid, None, "{stopped:?}");
    assert_eq!(stopped.stale_pid, Some(sleep.pid()), "{stopped:?}");
    assert!(!dir.path().join("emulator.pid").exists());
}

#[test]
fn status_and_start_never_signal_a_process_that_is_not_the_emulator() {
    let mut sleep = Bystander::spawn();
    let (dir, port) = stale_state(sleep.pid());
    let status = daemon_status(dir.path()).expect("status");
    assert!(!status.running);
    assert_eq!(status.pid, None, "{status:?}");
    assert!(sleep.alive());
    assert!(!dir.path().join("emulator.pid").exists());

    // The pid file again: start replaces a leftover only if it is the emulator.
    std::fs::write(
        dir.path().join("emulator.pid"),
        format!("{}\n", sleep.pid()),
    )
    .unwrap();
    let cfg = EmulatorConfig {
        port,
        state_dir: dir.path().to_path_buf(),
        delay_ms: 100,
        twin: false,
    };
    let started = daemon_start(&cfg).expect("daemon start");
    assert!(
        sleep.alive(),
        "emulator start signalled an unrelated `sleep`"
    );
    assert_ne!(started.pid, Some(sleep.pid()));
    let stopped = daemon_stop(dir.path()).expect("stop");
    assert_eq!(stopped.pid, started.pid);
    assert!(sleep.alive());
}

/// The environment of a live process.
fn environ(pid: u32) -> BTreeMap<String, String> {
    parse_env0(&std::fs::read(format!("/proc/{pid}/environ")).expect("read environ"))
}

const PASSPHRASE: &str = "do-not-leak-this-passphrase";
const REAL_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYREALKEY";

/// Secrets a developer's shell might hold while running the emulator.
fn poison_environment() {
    std::env::set_var("STACK_PASSPHRASE", PASSPHRASE);
    std::env::set_var("AWS_ACCESS_KEY_ID", "AKIAREALREALREAL1234");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", REAL_SECRET);
    std::env::set_var("AWS_SESSION_TOKEN", REAL_SECRET);
    std::env::set_var("AWS_PROFILE", "prod-admin");
    std::env::set_var("GITHUB_TOKEN", REAL_SECRET);
}

fn assert_clean(what: &str, env: &BTreeMap<String, String>) {
    for (k, v) in env {
        assert!(
            !v.contains(PASSPHRASE) && !v.contains(REAL_SECRET),
            "{what} inherited a secret in {k}"
        );
    }
    for k in [
        "STACK_PASSPHRASE",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "GITHUB_TOKEN",
    ] {
        assert!(!env.contains_key(k), "{what} inherited {k}");
    }
}

/// Parses `env -0` output.
fn parse_env0(raw: &[u8]) -> BTreeMap<String, String> {
    raw.split(|b| *b == 0)
        .filter(|kv| !kv.is_empty())
        .filter_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emulator_and_its_twins_start_from_a_clean_environment() {
    poison_environment();
    // redis-server rewrites its process title over /proc/<pid>/environ, so
    // the twins run through a wrapper that records the environment it got.
    let redis = cairn_emulator::find_redis_server().expect("redis-server");
    let dumps = tempfile::tempdir().unwrap();
    let wrapper = dumps.path().join("redis-server");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nenv -0 > \"{}/env.$$\"\nexec \"{}\" \"$@\"\n",
            dumps.path().display(),
            redis.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::env::set_var("CAIRN_REDIS_SERVER", &wrapper);
    let emu = Emulator::start_ephemeral(100, true)
        .await
        .expect("start emulator");
    let env = environ(emu.pid().expect("owned"));
    assert_clean("the emulator", &env);
    assert_eq!(
        env.get("AWS_ACCESS_KEY_ID").map(String::as_str),
        Some("cairnlocal")
    );
    assert_eq!(
        env.get("AWS_SECRET_ACCESS_KEY").map(String::as_str),
        Some("cairnlocal")
    );
    assert!(env.contains_key("PATH") && env.contains_key("PYTHONPATH"));

    let params: &[(&str, &str)] = &[
        ("Action", "CreateReplicationGroup"),
        ("Version", "2015-02-02"),
        ("ReplicationGroupId", "clean-env"),
        ("ReplicationGroupDescription", "clean env"),
        ("CacheNodeType", "cache.t4g.micro"),
        ("NumCacheClusters", "1"),
        ("Port", "6379"),
    ];
    let (status, body) = emu.aws_query("elasticache", params).await.expect("query");
    assert_eq!(status, 200, "{body}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let twin = loop {
        if let Some(t) = emu.twin("clean-env").await.expect("twin") {
            break t;
        }
        assert!(Instant::now() < deadline, "no twin after 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!twin.nodes.is_empty());
    for node in &twin.nodes {
        let pid = node.pid.expect("twin pid");
        let dump = std::fs::read(dumps.path().join(format!("env.{pid}")))
            .unwrap_or_else(|e| panic!("no environment recorded for redis-server {pid}: {e}"));
        let env = parse_env0(&dump);
        assert!(env.contains_key("PATH"), "{env:?}");
        assert_clean("redis-server", &env);
        let extra: Vec<&String> = env
            .keys()
            .filter(|k| {
                !["PATH", "HOME", "LANG", "LC_ALL", "PWD", "SHLVL", "_"].contains(&k.as_str())
            })
            .collect();
        assert!(extra.is_empty(), "redis-server got {extra:?}");
    }
    emu.stop().await.expect("stop");
}
