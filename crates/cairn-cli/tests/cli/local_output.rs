//! What `--local` prints, and where the emulator keeps its files.

use super::common::{start_private_emulator, Sandbox};

/// Stops a private emulator when the test ends, passed or not.
struct StopEmulator(std::path::PathBuf);

impl Drop for StopEmulator {
    fn drop(&mut self) {
        let _ = cairn_emulator::daemon_stop(&self.0);
    }
}

/// `--local` substitutes nothing for the Redis stack's network: it reads
/// `network-dev` by reference, so a preview before that stack is up is a
/// diagnostic that says `up --local` brings it up first.
#[test]
fn a_local_preview_before_the_network_is_up_says_how_to_bring_it_up() {
    let (sb, _port, emulator) = start_private_emulator(Sandbox::new(), 0);
    let _stop = StopEmulator(emulator);
    let run = sb.run(&["preview", "-v", "--local", "--stack", "dev"]);
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stderr.contains("cairn::stack_reference::missing")
            && run.stderr.contains("`network-dev`")
            && run.stderr.contains("--local"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("vpc-") && !run.stderr.contains("fixture"),
        "no substituted network ids: {}",
        run.stderr
    );
}

/// The default emulator state dir is relative (`state/local/.emulator`);
/// the emulator runs inside it, so it must be handed over absolute or its
/// files land at `state/local/.emulator/state/local/.emulator`.
#[test]
fn the_emulator_files_go_to_one_place() {
    let sb = Sandbox::new();
    let cwd = sb.dir.path().join("project");
    std::fs::create_dir_all(&cwd).expect("project dir");
    let port = super::common::free_port().to_string();
    let run = |verb: &str| {
        let mut cmd = sb.command(&["emulator", verb]);
        cmd.current_dir(&cwd)
            .env_remove("CAIRN_EMULATOR_STATE")
            .env("LOCAL_AWS_PORT", &port)
            .env("CAIRN_EMULATOR_TWIN", "0");
        super::common::Run::from(cmd.output().expect("run cairn"))
    };
    let state = cwd.join("state/local/.emulator");
    let _stop = StopEmulator(state.clone());
    let started = run("start").ok();
    assert!(
        started.stdout.contains("emulator running"),
        "{}",
        started.all()
    );
    assert!(state.join("emulator.log").is_file(), "{}", started.all());
    let doubled = state.join("state");
    assert!(
        !doubled.exists(),
        "the emulator wrote under a doubled path: {}",
        doubled.display()
    );
    run("stop").ok();
}
