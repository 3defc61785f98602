//! Day-two operations against the emulator, checked through the AWS SDK:
//! SIGINT during a multi-resource `up` (the first lets the call in flight
//! finish, saves state, frees the lock and exits 130; a second exits at once
//! and the next run recovers), and `refresh` of real drift (asks before
//! writing; `--preview-only` writes nothing). Operations are made slow with
//! the test build's `CAIRN_TEST_SLOW_MS` (see `killswitch.rs`).

use super::common::{runtime, sdk_config, start_private_emulator, Run, Sandbox};
use super::pty::{spawn_with, Wiring};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::time::{Duration, Instant};

const SLOW_MS: u64 = 2500;

/// Stops a private emulator when the test ends, passed or not.
struct StopEmulator(std::path::PathBuf);

impl Drop for StopEmulator {
    fn drop(&mut self) {
        let _ = cairn_emulator::daemon_stop(&self.0);
    }
}

/// A stack of four independent IAM policies named `<name>-p1..4`.
fn policy_stack(sb: &Sandbox, name: &str) -> String {
    let mut text = format!(
        "name: {name}\nconfig:\n  network:\n    type: object\n    default: {{}}\nresources:\n"
    );
    for i in 1..=4 {
        text.push_str(&format!(
            "  p{i}:\n    type: aws:iam:Policy\n    properties:\n      name: {name}-p{i}\n      policy: '{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::{name}/p{i}\"}}]}}'\n      tags:\n        team: platform\n"
        ));
    }
    let file = sb.dir.path().join(format!("{name}.yaml"));
    std::fs::write(&file, text).expect("write stack");
    file.display().to_string()
}

/// The ARNs of the IAM policies whose names start with `prefix`, as the cloud has them.
fn cloud_policies(port: u16, prefix: &str) -> BTreeSet<String> {
    runtime().block_on(async {
        let sdk = sdk_config(&format!("http://127.0.0.1:{port}")).await;
        let iam = aws_sdk_iam::Client::new(&sdk);
        let out = iam
            .list_policies()
            .scope(aws_sdk_iam::types::PolicyScopeType::Local)
            .max_items(1000)
            .send()
            .await
            .expect("ListPolicies");
        out.policies()
            .iter()
            .filter(|p| p.policy_name().is_some_and(|n| n.starts_with(prefix)))
            .filter_map(|p| p.arn().map(str::to_string))
            .collect()
    })
}

/// The ids state records (`state list`), which also proves the lock is free.
fn state_ids(sb: &Sandbox, file: &str) -> BTreeSet<String> {
    let list = sb
        .run(&["state", "list", "--local", "--stack-file", file])
        .ok();
    list.stdout
        .lines()
        .filter_map(|l| l.split('\t').nth(2))
        .map(str::to_string)
        .collect()
}

/// Starts `up`, waits until an operation is in flight, sends `signals` (100
/// ms apart) and returns the run and how long it took to exit after the first.
fn interrupt_up(sb: &Sandbox, file: &str, signals: &[i32]) -> (Run, Duration) {
    let mut child = sb
        .command(&[
            "up",
            "--yes",
            "--parallel",
            "1",
            "--local",
            "--stack-file",
            file,
        ])
        .env("CAIRN_TEST_SLOW_MS", SLOW_MS.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cairn");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = stderr.read_line(&mut line).expect("read stderr");
        assert!(n > 0, "up ended before any operation started:\n{seen}");
        seen.push_str(&line);
        if line.contains("creating") {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    for (i, sig) in signals.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
        // SAFETY: signalling our own child process.
        unsafe {
            libc::kill(child.id() as i32, *sig);
        }
    }
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).expect("read stderr");
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut stdout)
        .expect("read stdout");
    let status = child.wait().expect("wait");
    let took = sent.elapsed();
    (
        Run {
            code: status.code(),
            stdout,
            stderr: seen + &rest,
        },
        took,
    )
}

#[test]
fn sigint_during_up_against_the_emulator_leaves_state_matching_the_cloud() {
    let (sb, port, emulator) = start_private_emulator(Sandbox::new(), 0);
    let _stop = StopEmulator(emulator);

    // The first SIGINT: the operation in flight finishes, the rest do not start.
    let file = policy_stack(&sb, "sigint-once");
    let (run, took) = interrupt_up(&sb, &file, &[libc::SIGINT]);
    assert_eq!(run.code, Some(130), "{}", run.all());
    assert!(
        took < Duration::from_millis(SLOW_MS + 5000),
        "took {took:?} after the signal:\n{}",
        run.all()
    );
    assert!(run.stderr.contains("not started: "), "{}", run.stderr);
    let cloud = cloud_policies(port, "sigint-once-");
    assert_eq!(
        cloud.len(),
        1,
        "one call was in flight: {cloud:?}\n{}",
        run.stderr
    );
    assert_eq!(
        state_ids(&sb, &file),
        cloud,
        "state lists exactly what the cloud has"
    );
    // A plain re-run converges: no recovery, no lock to take over.
    let again = sb
        .run(&["up", "--yes", "--local", "--stack-file", &file])
        .ok();
    assert!(!again.stderr.contains("recovering"), "{}", again.stderr);
    assert!(!again.stderr.contains("stale lock"), "{}", again.stderr);
    let cloud = cloud_policies(port, "sigint-once-");
    assert_eq!(cloud.len(), 4, "{cloud:?}");
    assert_eq!(state_ids(&sb, &file), cloud);

    // A second SIGINT exits at once; the next run recovers what was in flight.
    let file = policy_stack(&sb, "sigint-twice");
    let (run, took) = interrupt_up(&sb, &file, &[libc::SIGINT, libc::SIGINT]);
    assert_eq!(run.code, Some(130), "{}", run.all());
    assert!(
        took < Duration::from_millis(SLOW_MS / 2),
        "the second interrupt did not exit at once: {took:?}\n{}",
        run.all()
    );
    assert!(run.stderr.contains("interrupted again"), "{}", run.stderr);
    let next = sb
        .run(&["up", "--yes", "--local", "--stack-file", &file])
        .ok();
    assert!(next.stderr.contains("stale lock"), "{}", next.stderr);
    assert!(
        next.stderr.contains("recovering 1 operation(s)"),
        "{}",
        next.stderr
    );
    let cloud = cloud_policies(port, "sigint-twice-");
    assert_eq!(cloud.len(), 4, "{cloud:?}");
    assert_eq!(state_ids(&sb, &file), cloud);
}

#[test]
fn refresh_of_real_drift_asks_before_writing_and_preview_only_writes_nothing() {
    let (sb, port, emulator) = start_private_emulator(Sandbox::new(), 0);
    let _stop = StopEmulator(emulator);
    let file = policy_stack(&sb, "drifty");
    sb.run(&["up", "--yes", "--local", "--stack-file", &file])
        .ok();
    // A tag changed out of band, through the SDK.
    runtime().block_on(async {
        let sdk = sdk_config(&format!("http://127.0.0.1:{port}")).await;
        let iam = aws_sdk_iam::Client::new(&sdk);
        let arn = cloud_policies_async(&iam, "drifty-p1").await;
        iam.tag_policy()
            .policy_arn(arn)
            .tags(
                aws_sdk_iam::types::Tag::builder()
                    .key("team")
                    .value("changed-by-hand")
                    .build()
                    .expect("tag"),
            )
            .send()
            .await
            .expect("TagPolicy");
    });
    let snapshot = sb.state_dir().join("drifty").join("snapshot.json");
    let before = std::fs::read(&snapshot).expect("snapshot");
    let show = || {
        sb.run(&["state", "show", "p1", "--local", "--stack-file", &file])
            .ok()
            .stdout
    };
    assert!(show().contains("platform"), "{}", show());

    let preview = sb
        .run(&[
            "refresh",
            "--preview-only",
            "--local",
            "--stack-file",
            &file,
        ])
        .ok();
    assert!(
        preview.stdout.contains("changed-by-hand"),
        "{}",
        preview.stdout
    );
    assert!(
        preview
            .stdout
            .contains("1 resource(s) drifted; --preview-only: nothing was written"),
        "{}",
        preview.stdout
    );
    assert_eq!(before, std::fs::read(&snapshot).expect("snapshot"));

    // On a terminal it asks; "n" writes nothing.
    let mut child = spawn_with(
        sb.command(&["refresh", "--local", "--stack-file", &file]),
        Wiring::ALL,
        &[("NO_COLOR", "1")],
    );
    child.expect(
        "Record this drift (1 resource(s)) in state?",
        Duration::from_secs(60),
    );
    child.send("n\n");
    let declined = child.finish(Duration::from_secs(30));
    assert_eq!(declined.code, Some(1), "{}", declined.screen);
    assert!(declined.screen.contains("cancelled"), "{}", declined.screen);
    assert!(
        show().contains("platform") && !show().contains("changed-by-hand"),
        "{}",
        show()
    );
    // Without a terminal it needs --yes.
    let piped = sb.run(&["refresh", "--local", "--stack-file", &file]);
    assert_eq!(piped.code, Some(2), "{}", piped.all());
    assert!(piped.stderr.contains("--yes"), "{}", piped.stderr);
    assert!(!show().contains("changed-by-hand"), "{}", show());

    let written = sb
        .run(&["refresh", "--yes", "--local", "--stack-file", &file])
        .ok();
    assert!(
        written
            .stdout
            .contains("state now records what the cloud has"),
        "{}",
        written.stdout
    );
    assert!(show().contains("changed-by-hand"), "{}", show());
    let clean = sb
        .run(&[
            "refresh",
            "--preview-only",
            "--local",
            "--stack-file",
            &file,
        ])
        .ok();
    assert!(clean.stdout.contains("no drift"), "{}", clean.stdout);
}

async fn cloud_policies_async(iam: &aws_sdk_iam::Client, name: &str) -> String {
    let out = iam
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
        .send()
        .await
        .expect("ListPolicies");
    out.policies()
        .iter()
        .find(|p| p.policy_name() == Some(name))
        .and_then(|p| p.arn().map(str::to_string))
        .unwrap_or_else(|| panic!("no policy {name}"))
}
