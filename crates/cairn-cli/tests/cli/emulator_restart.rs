//! `--local` after the emulator restarted: the emulator keeps its objects
//! in memory, so states written against its previous start name objects
//! that are gone. They are moved aside (not deleted) with a note, and the
//! run creates what the program says again, instead of "No changes".

use super::common::{sdk_config, start_private_emulator, Sandbox};

const STACK: &str = "name: restart-key
resources:
  key:
    type: aws:kms:Key
    properties:
      description: cairn emulator-restart test
outputs:
  arn: ${key.arn}
";

fn arn(sb: &Sandbox, file: &str) -> String {
    let out = sb
        .run(&["stack", "output", "--json", "--local", "--stack-file", file])
        .ok();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json outputs");
    json["arn"].as_str().expect("arn output").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_emulator_is_not_mistaken_for_the_one_before() {
    let (sb, port, _) = start_private_emulator(Sandbox::new(), 0);
    let sb = sb.with_env("CAIRN_EMULATOR_TWIN", "0");
    struct Stop<'a>(&'a Sandbox);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = self.0.command(&["emulator", "stop"]).output();
        }
    }
    let _stop = Stop(&sb);
    let file = sb.dir.path().join("restart-key.yaml");
    std::fs::write(&file, STACK).expect("write stack");
    let file = file.display().to_string();

    sb.run(&["up", "--yes", "--local", "--stack-file", &file])
        .ok();
    let first = arn(&sb, &file);

    // A new start of the emulator: the key is gone with the old one.
    sb.run(&["emulator", "stop"]).ok();
    let again = sb
        .run(&["up", "--yes", "--local", "--stack-file", &file])
        .ok();
    assert!(
        !again.stdout.contains("No changes."),
        "a fresh emulator was taken for the old one: {}",
        again.all()
    );
    assert!(
        again.stderr.contains("the emulator restarted") && again.stderr.contains("`restart-key`"),
        "{}",
        again.stderr
    );
    let second = arn(&sb, &file);
    assert_ne!(first, second, "the key was made again");

    let endpoint = format!("http://127.0.0.1:{port}");
    let kms = aws_sdk_kms::Client::new(&sdk_config(&endpoint).await);
    let state = kms
        .describe_key()
        .key_id(&second)
        .send()
        .await
        .expect("the new key exists")
        .key_metadata()
        .and_then(|m| m.key_state())
        .map(|s| s.as_str().to_string());
    assert_eq!(state.as_deref(), Some("Enabled"));

    // The old state is kept, not deleted.
    let kept = sb.state_dir().join(".before-emulator-restart");
    let kept_stacks: Vec<String> = std::fs::read_dir(&kept)
        .expect("kept states")
        .flatten()
        .flat_map(|boot| {
            std::fs::read_dir(boot.path())
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(kept_stacks, vec!["restart-key".to_string()]);

    // The same start again: nothing moves, nothing changes.
    let third = sb
        .run(&["up", "--yes", "--local", "--stack-file", &file])
        .ok();
    assert!(third.stdout.contains("No changes."), "{}", third.all());
    assert!(!third.stderr.contains("restarted"), "{}", third.stderr);

    sb.run(&["destroy", "--yes", "--local", "--stack-file", &file])
        .ok();
}
