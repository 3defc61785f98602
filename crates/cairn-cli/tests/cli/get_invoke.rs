//! Against a private emulator (`--local`): a `get:` resource is recorded
//! in state as external, refreshed by later runs, and never deleted; an
//! `fn::invoke` with `options.provider` reads in that provider's region.

use super::common::{sdk_config, start_private_emulator, Sandbox};

struct StopEmulator(std::path::PathBuf);

impl Drop for StopEmulator {
    fn drop(&mut self) {
        let _ = cairn_emulator::daemon_stop(&self.0);
    }
}

fn program(key_id: &str, with_get: bool) -> String {
    let get = if with_get {
        format!("  outside:\n    type: aws:kms:Key\n    get:\n      id: {key_id}\n")
    } else {
        String::new()
    };
    let uses = if with_get { "${outside.arn}" } else { "none" };
    format!(
        "name: get-demo\nresources:\n{get}  west:\n    type: pulumi:providers:aws\n    properties:\n      region: eu-west-1\n  user:\n    type: core:Data\n    properties:\n      input: {uses}\nvariables:\n  there:\n    fn::invoke:\n      function: aws:getRegion\n      options:\n        provider: ${{west}}\n      return: name\n  here:\n    fn::aws:getRegion: {{}}\noutputs:\n  there: ${{there}}\n  here: ${{here.name}}\n  used: ${{user.output}}\n"
    )
}

async fn key_state(kms: &aws_sdk_kms::Client, id: &str) -> String {
    let out = kms
        .describe_key()
        .key_id(id)
        .send()
        .await
        .expect("describe key");
    out.key_metadata()
        .and_then(|m| m.key_state())
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_get_resource_is_recorded_as_external_and_destroy_leaves_it() {
    let (sb, port, emulator) = start_private_emulator(Sandbox::new(), 0);
    let _stop = StopEmulator(emulator);
    let sdk = sdk_config(&format!("http://127.0.0.1:{port}")).await;
    let kms = aws_sdk_kms::Client::new(&sdk);
    let made = kms
        .create_key()
        .description("made outside cairn")
        .send()
        .await
        .expect("create key");
    let meta = made.key_metadata().expect("key metadata");
    let (key_id, key_arn) = (meta.key_id().to_string(), meta.arn().unwrap().to_string());
    let file = sb.dir.path().join("get.yaml");
    std::fs::write(&file, program(&key_id, true)).unwrap();
    let file = file.display().to_string();
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--local", "--stack-file", &file]);
        sb.run(&all)
    };

    let preview = run(&["preview"]).ok();
    assert!(
        preview.stdout.contains(&format!(
            "> outside (aws:kms:Key) read {key_id} (get:, not managed)"
        )),
        "the plan shows the read, as Pulumi's: {}",
        preview.stdout
    );
    run(&["up", "--yes"]).ok();
    // The invoke with a provider read its region; the other, the run's.
    let out = run(&["stack", "output", "--json"]).ok();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("outputs");
    assert_eq!(json["there"], "eu-west-1", "{json}");
    assert_eq!(json["here"], "us-east-1", "{json}");
    assert_eq!(json["used"], key_arn.as_str(), "{json}");
    // Recorded as external, with what was read.
    let list = run(&["state", "list"]).ok();
    assert!(
        list.stdout
            .lines()
            .any(|l| l == format!("outside\taws:kms:Key\t{key_id}\texternal")),
        "{}",
        list.stdout
    );
    let show = run(&["state", "show", "outside"]).ok();
    let shown: serde_json::Value = serde_json::from_str(&show.stdout).expect("state show");
    assert_eq!(shown["external"], true, "{shown}");
    assert_eq!(shown["outputs"]["arn"], key_arn.as_str(), "{shown}");
    assert_eq!(
        shown["inputs"]["description"], "made outside cairn",
        "{shown}"
    );
    let again = run(&["up", "--yes"]).ok();
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);

    // Changed outside: the next run records what it reads now.
    kms.update_key_description()
        .key_id(&key_id)
        .description("changed outside")
        .send()
        .await
        .expect("update description");
    run(&["up", "--yes"]).ok();
    let show = run(&["state", "show", "outside"]).ok();
    let shown: serde_json::Value = serde_json::from_str(&show.stdout).expect("state show");
    assert_eq!(shown["inputs"]["description"], "changed outside", "{shown}");

    // Destroy drops the record; the key stays as it was.
    run(&["destroy", "--yes"]).ok();
    let list = run(&["state", "list"]);
    assert!(!list.stdout.contains("outside"), "{}", list.all());
    assert_eq!(key_state(&kms, &key_id).await, "Enabled");

    // A `get:` removed from the program is forgotten, not deleted.
    run(&["up", "--yes"]).ok();
    std::fs::write(&file, program(&key_id, false)).unwrap();
    let preview = run(&["preview"]).ok();
    assert!(
        preview.stdout.contains(
            "- outside (aws:kms:Key) delete (read with `get:`: forgotten, the object stays)"
        ),
        "the plan says no delete call is made: {}",
        preview.stdout
    );
    let up = run(&["up", "--yes"]).ok();
    let list = run(&["state", "list"]).ok();
    assert!(
        !list.stdout.contains("outside"),
        "{}\n{}",
        up.stdout,
        list.stdout
    );
    assert_eq!(key_state(&kms, &key_id).await, "Enabled");
}
