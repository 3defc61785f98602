//! What `--local` prints: the network ids it substitutes only with `-v`.

use super::common::{start_private_emulator, Sandbox};

/// Stops a private emulator when the test ends, passed or not.
struct StopEmulator(std::path::PathBuf);

impl Drop for StopEmulator {
    fn drop(&mut self) {
        let _ = cairn_emulator::daemon_stop(&self.0);
    }
}

#[test]
fn local_prints_the_substituted_network_ids_only_with_verbose() {
    let (sb, _port, emulator) = start_private_emulator(Sandbox::new(), 0);
    let _stop = StopEmulator(emulator);
    let quiet = sb.run(&["preview", "--local", "--stack", "dev"]).ok();
    for line in quiet.stderr.lines() {
        assert!(
            !line.contains("vpc-") && !line.trim_start().starts_with('{'),
            "a --local run without -v printed the fixture: {line}\n{}",
            quiet.stderr
        );
    }
    let verbose = sb.run(&["preview", "-v", "--local", "--stack", "dev"]).ok();
    assert!(
        verbose.stderr.contains("vpcId") && verbose.stderr.contains("vpc-"),
        "-v should name the substituted network ids:\n{}",
        verbose.stderr
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

/// After an emulator restart (moto keeps nothing) a `--local` run says the
/// emulator was reset and how to start clean, instead of planning to
/// replace the protected security group it imported from the old fixture.
#[test]
fn a_run_after_an_emulator_restart_says_it_was_reset() {
    let (sb, port, emulator) = start_private_emulator(Sandbox::new(), 0);
    let _stop = StopEmulator(emulator.clone());
    let shown = sb.run(&["preview", "-v", "--local", "--stack", "dev"]).ok();
    let sg = shown
        .stderr
        .split("\"securityGroupId\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no securityGroupId in:\n{}", shown.stderr))
        .to_string();
    sb.run(&[
        "import",
        "--local",
        "--stack",
        "dev",
        "aws:ec2:SecurityGroup",
        "redisSecurityGroup",
        &sg,
    ])
    .ok();
    cairn_emulator::daemon_stop(&emulator).expect("stop the emulator");
    cairn_emulator::daemon_start(&cairn_emulator::EmulatorConfig {
        port,
        state_dir: emulator.clone(),
        delay_ms: 0,
        twin: false,
    })
    .expect("restart the emulator");
    let run = sb.run(&["preview", "--local", "--stack", "dev"]);
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stderr.contains("cairn::local::emulator_reset")
            && run.stderr.contains("the emulator was reset")
            && run.stderr.contains("start clean"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("would be replaced"), "{}", run.stderr);
}
