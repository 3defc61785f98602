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
