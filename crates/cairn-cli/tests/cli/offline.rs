//! Offline lifecycle of a core:Data stack: preview, up, no-op up, outputs, destroy,
//! crash recovery, locking and secret hygiene.

use super::common::{files_under, Sandbox};
use std::os::unix::fs::PermissionsExt;

const STACK: &str = "tests/stacks/data-chain.yaml";

#[test]
fn preview_up_noop_outputs_destroy() {
    let sb = Sandbox::new();
    let preview = sb.run(&["preview", "--stack-file", STACK]).ok();
    assert!(
        preview.stdout.contains("+ first (core:Data) create"),
        "{}",
        preview.stdout
    );
    assert!(
        preview.stdout.contains("Resources: +5 ~0 -0 ±0"),
        "{}",
        preview.stdout
    );

    sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    let again = sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);

    let outputs = sb
        .run(&["stack", "output", "--json", "--stack-file", STACK])
        .ok();
    let json: serde_json::Value = serde_json::from_str(&outputs.stdout).expect("json outputs");
    assert_eq!(json["message"], "hello, world");
    assert_eq!(json["nested"]["from"], "hello, world");
    assert_eq!(json["nested"]["count"], 3);
    assert_eq!(
        json["sealed"], "[secret]",
        "a value built from a secret stays secret"
    );

    let list = sb.run(&["state", "list", "--stack-file", STACK]).ok();
    assert_eq!(list.stdout.lines().count(), 5, "{}", list.stdout);

    // A config change flows through the references and updates/replaces dependents.
    let changed = sb
        .run(&["preview", "--stack-file", STACK, "--config", "greeting=hi"])
        .ok();
    assert!(changed.stdout.contains("± first"), "{}", changed.stdout);
    assert!(
        changed.stdout.contains("replaced because input changed"),
        "{}",
        changed.stdout
    );

    sb.run(&["destroy", "--yes", "--stack-file", STACK]).ok();
    let list = sb.run(&["state", "list", "--stack-file", STACK]).ok();
    assert_eq!(list.stdout.trim(), "");
}

#[test]
fn up_off_a_terminal_needs_yes() {
    let sb = Sandbox::new();
    let run = sb.run(&["up", "--stack-file", STACK]);
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(run.stderr.contains("--yes"), "{}", run.stderr);
}

#[test]
fn preview_json_is_the_documented_schema_and_masks_secrets() {
    let sb = Sandbox::new();
    sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    let run = sb
        .run(&[
            "preview",
            "--json",
            "--stack-file",
            STACK,
            "--config",
            "greeting=hey",
        ])
        .ok();
    let plan: serde_json::Value = serde_json::from_str(&run.stdout).expect("plan json");
    assert_eq!(plan["format_version"], "2");
    let changes = plan["resource_changes"]
        .as_array()
        .expect("resource_changes");
    let first = changes
        .iter()
        .find(|c| c["name"] == "first")
        .expect("first");
    assert_eq!(first["action"], "replace");
    assert_eq!(first["replace_paths"][0], "input");
    let sealed = changes
        .iter()
        .find(|c| c["name"] == "sealed")
        .expect("sealed");
    assert_eq!(sealed["before"]["input"], "[secret]");
}

#[test]
fn secrets_never_reach_output_or_state_in_plaintext() {
    let sb = Sandbox::new().with_env("CAIRN_LOG", "trace");
    let mut printed = String::new();
    for args in [
        vec!["preview", "--stack-file", STACK],
        vec!["up", "--yes", "-vvv", "--stack-file", STACK],
        vec!["preview", "--json", "--stack-file", STACK],
        vec!["preview", "--format", "markdown", "--stack-file", STACK],
        vec!["stack", "output", "--stack-file", STACK],
        vec!["stack", "output", "--json", "--stack-file", STACK],
        vec!["state", "show", "token", "--stack-file", STACK],
        vec!["state", "show", "sealed", "--stack-file", STACK],
        vec!["state", "list", "--stack-file", STACK],
    ] {
        let run = sb.run(&args).ok();
        printed.push_str(&run.all());
    }
    let revealed = sb
        .run(&[
            "stack",
            "output",
            "--json",
            "--show-secrets",
            "--stack-file",
            STACK,
        ])
        .ok();
    let json: serde_json::Value = serde_json::from_str(&revealed.stdout).expect("json");
    let secret = json["sealed"]
        .as_str()
        .expect("sealed")
        .trim_start_matches("token=")
        .to_string();
    assert_eq!(secret.len(), 32, "the password is revealed on request");
    assert_eq!(
        printed.matches(&secret).count(),
        0,
        "secret printed in plaintext"
    );
    let mut files = 0;
    for file in files_under(&sb.state_dir()) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "plaintext secret in {}",
            file.display()
        );
        let mode = std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777;
        assert_eq!(
            mode & 0o077,
            0,
            "{} is readable by others: {mode:o}",
            file.display()
        );
        files += 1;
    }
    assert!(files > 0);
    let dir_mode = std::fs::metadata(sb.state_dir())
        .expect("meta")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dir_mode & 0o077, 0, "state dir mode {dir_mode:o}");
}

#[test]
fn a_kill_at_any_journal_point_converges_on_the_next_up() {
    // 5 resources × 3 journal points each.
    for point in 1..=15u32 {
        let sb = Sandbox::new();
        let killed = sb
            .command(&["up", "--yes", "--stack-file", STACK])
            .env("CAIRN_TEST_KILL_AT", point.to_string())
            .output()
            .expect("run");
        assert_eq!(
            killed.status.code(),
            None,
            "point {point}: the process must die by SIGKILL"
        );
        sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
        let again = sb.run(&["preview", "--stack-file", STACK]).ok();
        assert!(
            again.stdout.contains("No changes."),
            "point {point}: {}",
            again.stdout
        );
        let list = sb.run(&["state", "list", "--stack-file", STACK]).ok();
        assert_eq!(
            list.stdout.lines().count(),
            5,
            "point {point}: {}",
            list.stdout
        );
        let outputs = sb
            .run(&["stack", "output", "--json", "--stack-file", STACK])
            .ok();
        assert!(
            outputs.stdout.contains("hello, world"),
            "point {point}: {}",
            outputs.stdout
        );
    }
}

#[test]
fn a_second_writer_fails_at_once_naming_the_holder() {
    let sb = Sandbox::new();
    sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    // This test process holds the writer lock while the binary tries `up`.
    let keys = cairn_state::SecretKeys::Passphrase("test-passphrase-not-secret".into());
    let holder =
        cairn_state::StateStore::open(&sb.state_dir(), "data-chain", keys).expect("take the lock");
    let start = std::time::Instant::now();
    let run = sb.run(&["up", "--yes", "--stack-file", STACK]);
    assert_eq!(run.code, Some(1), "{}", run.all());
    assert!(
        run.stderr.contains(&std::process::id().to_string()),
        "names the pid: {}",
        run.stderr
    );
    assert!(start.elapsed().as_secs() < 10, "fails at once");
    drop(holder);
    sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
}

#[test]
fn a_stale_lock_is_taken_over_with_a_warning_and_force_unlock_clears_any_lock() {
    let sb = Sandbox::new();
    sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    let killed = sb
        .command(&["destroy", "--yes", "--stack-file", STACK])
        .env("CAIRN_TEST_KILL_AT", "1")
        .output()
        .expect("run");
    assert_eq!(killed.status.code(), None);
    let info = cairn_state::StateStore::lock_info(&sb.state_dir(), "data-chain")
        .expect("lock info")
        .expect("a lock is left");
    assert!(info.stale, "the killed holder's lock is detected as stale");
    let next = sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    assert!(
        next.stderr.contains("warning: taking over a stale lock"),
        "{}",
        next.stderr
    );

    // A live holder's lock is only removed by --force-unlock, with a warning.
    let keys = cairn_state::SecretKeys::Passphrase("test-passphrase-not-secret".into());
    let holder =
        cairn_state::StateStore::open(&sb.state_dir(), "data-chain", keys).expect("take the lock");
    let freed = sb.run(&["state", "list", "--stack-file", STACK]).ok();
    assert_eq!(
        freed.stdout.lines().count(),
        5,
        "readers are not blocked by a writer"
    );
    let forced = sb.run(&["up", "--yes", "--force-unlock", "--stack-file", STACK]);
    assert!(
        forced.stderr.contains("warning: removed the lock"),
        "{}",
        forced.all()
    );
    drop(holder);
}

#[test]
fn a_waiver_is_shown_in_the_preview_and_lets_it_pass() {
    let sb = Sandbox::new();
    let run = sb
        .run(&["preview", "--stack-file", "tests/stacks/prod-waived.yaml"])
        .ok();
    assert!(
        run.stderr.contains("waived CAIRN-POL-004"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("the region offers one availability zone"),
        "{}",
        run.stderr
    );
    let md = sb
        .run(&[
            "preview",
            "--format",
            "markdown",
            "--stack-file",
            "tests/stacks/prod-waived.yaml",
        ])
        .ok();
    assert!(md.stdout.contains("waived CAIRN-POL-004"), "{}", md.stdout);
}

#[test]
fn preview_text_snapshot() {
    let sb = Sandbox::new();
    let create = sb.run(&["preview", "--stack-file", STACK]).ok();
    sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    let change = sb
        .run(&["preview", "--stack-file", STACK, "--config", "greeting=hi"])
        .ok();
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots/preview");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        insta::assert_snapshot!("data-chain-create", create.stdout);
        insta::assert_snapshot!("data-chain-change", change.stdout);
    });
}

/// `CAIRN_TEST_KILL_AT` is a test-only feature: a binary built the way a
/// release is (without the `kill-switch` feature) runs to the end. Builds
/// that binary into its own target directory (the engine without AWS, to
/// keep the build small).
#[test]
fn a_build_without_the_kill_switch_feature_ignores_the_variable() {
    let test_bin = std::path::Path::new(env!("CARGO_BIN_EXE_cairn"));
    let target = test_bin
        .parent()
        .and_then(|p| p.parent())
        .expect("target dir")
        .join("no-kill-switch");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = std::process::Command::new(cargo)
        .args([
            "build",
            "--offline",
            "--quiet",
            "-p",
            "cairn-cli",
            "--no-default-features",
            "--bin",
            "cairn",
            "--target-dir",
        ])
        .arg(&target)
        .current_dir(super::common::workspace())
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .expect("run cargo build");
    assert!(
        built.success(),
        "cargo build without the kill-switch feature failed"
    );

    let sb = Sandbox::new();
    let mut cmd = std::process::Command::new(target.join("debug").join("cairn"));
    cmd.args(["up", "--yes", "--stack-file", STACK])
        .current_dir(super::common::workspace())
        .stdin(std::process::Stdio::null())
        .env_remove("CAIRN_BACKEND")
        .env("CAIRN_TEST_KILL_AT", "1");
    for (k, v) in &sb.env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the release-like binary");
    assert_eq!(
        out.status.code(),
        Some(0),
        "the variable must be ignored (None = killed by a signal)\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = sb.run(&["state", "list", "--stack-file", STACK]).ok();
    assert_eq!(list.stdout.lines().count(), 5, "{}", list.stdout);
}

/// A `dependsOn` change alone is an update that state records, so a later
/// destroy orders deletions by the new graph.
#[test]
fn a_depends_on_change_alone_is_planned_and_recorded() {
    let sb = Sandbox::new();
    sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    let source = std::fs::read_to_string(super::common::workspace().join(STACK)).expect("stack");
    let changed = source.replace(
        "    type: random:Password\n",
        "    type: random:Password\n    options:\n      dependsOn: [first]\n",
    );
    assert_ne!(changed, source, "the fixture has a random:Password");
    let file = sb.dir.path().join("data-chain.yaml");
    std::fs::write(&file, changed).expect("write stack");
    let file = file.display().to_string();

    let preview = sb.run(&["preview", "--stack-file", &file]).ok();
    assert!(
        preview.stdout.contains("~ token (random:Password) update")
            && preview.stdout.contains("~ dependencies: [] => [first]")
            && preview.stdout.contains("Resources: +0 ~1 -0 ±0"),
        "{}",
        preview.stdout
    );
    sb.run(&["up", "--yes", "--stack-file", &file]).ok();
    let shown = sb
        .run(&["state", "show", "token", "--stack-file", &file])
        .ok();
    let doc: serde_json::Value = serde_json::from_str(&shown.stdout).expect("json");
    assert_eq!(doc["dependencies"], serde_json::json!(["first"]), "{doc}");
    let again = sb.run(&["preview", "--stack-file", &file]).ok();
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
}

/// A stack of built-in types that `--local` can run too.
const BOUND_STACK: &str = "name: bound\nresources:\n  a:\n    type: core:Data\n    properties:\n      input: kept\n  b:\n    type: core:Data\n    properties:\n      input: ${a.output}\n";

fn bound_stack(sb: &Sandbox) -> String {
    let file = sb.dir.path().join("bound.yaml");
    std::fs::write(&file, BOUND_STACK).expect("write stack");
    file.display().to_string()
}

fn recorded_binding(sb: &Sandbox, stack: &str) -> Option<cairn_state::Binding> {
    let keys = cairn_state::SecretKeys::Passphrase("test-passphrase-not-secret".into());
    cairn_state::StateStore::open_read_only(&sb.state_dir(), stack, keys)
        .expect("open state")
        .binding()
        .expect("read binding")
}

/// Stops a private emulator when the test ends, passed or not.
struct StopEmulator(std::path::PathBuf);

impl Drop for StopEmulator {
    fn drop(&mut self) {
        let _ = cairn_emulator::daemon_stop(&self.0);
    }
}

/// A real stack's state directory exported while running `--local`: the
/// run is refused naming both targets, and the state is untouched.
#[test]
fn a_local_run_on_a_real_stacks_state_is_refused_naming_both() {
    let sb = Sandbox::new();
    let file = bound_stack(&sb);
    sb.run(&["up", "--yes", "--stack-file", &file]).ok();

    let (sb, port, emulator) = super::common::start_private_emulator(sb, 0);
    let _stop = StopEmulator(emulator);
    let endpoint = format!("http://127.0.0.1:{port}");
    for args in [
        vec!["refresh", "--local", "--stack-file", &file],
        vec!["up", "--yes", "--local", "--stack-file", &file],
        vec!["destroy", "--yes", "--local", "--stack-file", &file],
        vec!["preview", "--local", "--stack-file", &file],
    ] {
        let run = sb.run(&args);
        assert_ne!(run.code, Some(0), "{args:?} must be refused: {}", run.all());
        assert!(
            run.stderr.contains("cairn::state::wrong_target")
                && run.stderr.contains("aws (real AWS)")
                && run.stderr.contains(&endpoint)
                && run.stderr.contains("--force"),
            "{args:?}: {}",
            run.stderr
        );
    }
    let list = sb.run(&["state", "list", "--stack-file", &file]).ok();
    assert_eq!(list.stdout.lines().count(), 2, "untouched: {}", list.stdout);
    let bound = recorded_binding(&sb, "bound").expect("the first writer binds the state");
    assert_eq!(bound.endpoint, "aws", "{bound:?}");
    assert_eq!(recorded_binding(&sb, "bound"), Some(bound.clone()));

    // A deliberate move says so and rebinds the state.
    let moved = sb
        .run(&["up", "--yes", "--local", "--force", "--stack-file", &file])
        .ok();
    assert!(
        moved.stderr.contains("warning: --force"),
        "{}",
        moved.stderr
    );
    let now = recorded_binding(&sb, "bound").expect("binding");
    assert_eq!(now.endpoint, endpoint);
    assert_eq!(now.region.as_deref(), Some("us-east-1"));
    assert!(now.account.is_some(), "{now:?}");
    // And now the real-AWS run is the one refused.
    let back = sb.run(&["up", "--yes", "--stack-file", &file]);
    assert_ne!(back.code, Some(0), "{}", back.all());
    assert!(
        back.stderr.contains("cairn::state::wrong_target"),
        "{}",
        back.stderr
    );
}

/// A state written before bindings existed adopts the first writer's.
#[test]
fn a_state_without_a_binding_adopts_it_on_first_open() {
    let sb = Sandbox::new();
    let file = bound_stack(&sb);
    {
        let keys = cairn_state::SecretKeys::Passphrase("test-passphrase-not-secret".into());
        let old = cairn_state::StateStore::open(&sb.state_dir(), "bound", keys).expect("open");
        assert_eq!(old.binding().expect("binding"), None);
    }
    assert_eq!(recorded_binding(&sb, "bound"), None);
    sb.run(&["up", "--yes", "--stack-file", &file]).ok();
    let b = recorded_binding(&sb, "bound").expect("adopted");
    assert_eq!(b.endpoint, "aws");
}

/// An environment file for [`BOUND_STACK`] that names its backend.
fn env_with_backend(sb: &Sandbox, backend: &str) -> String {
    bound_stack(sb);
    let file = sb.dir.path().join("team.yaml");
    std::fs::write(
        &file,
        format!("name: team\ntemplate: bound.yaml\nbackend: {backend}\n"),
    )
    .expect("write env file");
    file.display().to_string()
}

/// A `--backend` or `$CAIRN_BACKEND` naming another backend than the
/// environment file's `backend:` is invalid input pointing at that line.
#[test]
fn a_backend_flag_that_disagrees_with_the_environment_file_is_an_error() {
    let sb = Sandbox::new();
    let declared = "s3://team/p?kms_key=k";
    let file = env_with_backend(&sb, declared);
    let other = "s3://other/p?kms_key=k";
    let by_flag = sb.run(&["preview", "--stack-file", &file, "--backend", other]);
    let by_env = sb
        .command(&["preview", "--stack-file", &file])
        .env("CAIRN_BACKEND", other)
        .output()
        .expect("run");
    let by_env = super::common::Run::from(by_env);
    for run in [by_flag, by_env] {
        assert_eq!(run.code, Some(2), "{}", run.all());
        for needle in [
            "cairn::backend::mismatch",
            other,
            declared,
            "team.yaml:3:",
            "this stack's state lives here",
            "help:",
        ] {
            assert!(
                run.stderr.contains(needle),
                "missing `{needle}`: {}",
                run.stderr
            );
        }
    }
}

/// Runs of a stack whose environment file says `backend: local` use the
/// local store even when `$CAIRN_BACKEND` is unset, and the same URL given
/// again is no conflict.
#[test]
fn the_environment_files_backend_is_used() {
    let sb = Sandbox::new();
    let file = env_with_backend(&sb, "local");
    sb.run(&["up", "--yes", "--stack-file", &file, "--backend", "local"])
        .ok();
    let list = sb.run(&["state", "list", "--stack-file", &file]).ok();
    assert_eq!(list.stdout.lines().count(), 2, "{}", list.stdout);
    let s3 = sb.run(&[
        "state",
        "list",
        "--stack-file",
        &file,
        "--backend",
        "s3://x/y?kms_key=k",
    ]);
    assert_eq!(s3.code, Some(2), "{}", s3.all());
}
