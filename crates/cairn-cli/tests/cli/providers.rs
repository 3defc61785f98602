//! Explicit providers against a private emulator (`--local`): one program
//! spans two regions through `options.provider`, each key checked through
//! the SDK in its region; a second `up` changes nothing; moving the
//! provider to another region plans a replace naming `region`; `destroy`
//! removes both keys.

use super::common::{free_port, sdk_config, Sandbox};
use aws_config::Region;
use std::collections::BTreeMap;

const STACK: &str = "tests/providers/two-regions.yaml";

async fn kms_in(endpoint: &str, region: &str) -> aws_sdk_kms::Client {
    let cfg = sdk_config(endpoint).await;
    let cfg = cfg
        .to_builder()
        .region(Region::new(region.to_string()))
        .build();
    aws_sdk_kms::Client::new(&cfg)
}

async fn key_state(kms: &aws_sdk_kms::Client, arn: &str) -> Option<String> {
    match kms.describe_key().key_id(arn).send().await {
        Ok(out) => out
            .key_metadata()
            .and_then(|m| m.key_state())
            .map(|s| s.as_str().to_string()),
        Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_program_two_regions() {
    let port = free_port();
    let sb = Sandbox::new();
    let state = sb.dir.path().join("emulator");
    let sb = sb
        .with_env("LOCAL_AWS_PORT", &port.to_string())
        .with_env("CAIRN_EMULATOR_STATE", &state.display().to_string());
    struct Stop<'a>(&'a Sandbox);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = self.0.command(&["emulator", "stop"]).output();
        }
    }
    let _stop = Stop(&sb);
    sb.run(&["up", "--yes", "--local", "--stack-file", STACK])
        .ok();
    let out = sb
        .run(&[
            "stack",
            "output",
            "--json",
            "--local",
            "--stack-file",
            STACK,
        ])
        .ok();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json outputs");
    let home = json["homeArn"].as_str().expect("homeArn").to_string();
    let away = json["awayArn"].as_str().expect("awayArn").to_string();
    assert!(home.contains(":us-east-1:"), "{home}");
    assert!(away.contains(":eu-west-1:"), "{away}");

    let endpoint = format!("http://127.0.0.1:{port}");
    let east1 = kms_in(&endpoint, "us-east-1").await;
    let west1 = kms_in(&endpoint, "eu-west-1").await;
    assert_eq!(key_state(&east1, &home).await.as_deref(), Some("Enabled"));
    assert_eq!(key_state(&west1, &away).await.as_deref(), Some("Enabled"));
    // Each key lives in its own region only.
    let away_id = away.rsplit('/').next().unwrap_or_default();
    let home_id = home.rsplit('/').next().unwrap_or_default();
    assert_eq!(
        key_state(&east1, away_id).await,
        None,
        "away is not in us-east-1"
    );
    assert_eq!(
        key_state(&west1, home_id).await,
        None,
        "home is not in eu-west-1"
    );
    // The provider's default tags are under the key's own (which win).
    let tags: BTreeMap<String, String> = west1
        .list_resource_tags()
        .key_id(&away)
        .send()
        .await
        .expect("tags")
        .tags()
        .iter()
        .map(|t| (t.tag_key().to_string(), t.tag_value().to_string()))
        .collect();
    assert_eq!(
        tags.get("team").map(String::as_str),
        Some("data"),
        "{tags:?}"
    );
    assert_eq!(
        tags.get("env").map(String::as_str),
        Some("test"),
        "{tags:?}"
    );

    // No changes, also when the keys are read back (default tags are no drift).
    let again = sb
        .run(&["up", "--yes", "--local", "--stack-file", STACK])
        .ok();
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    let refreshed = sb
        .run(&["preview", "--refresh", "--local", "--stack-file", STACK])
        .ok();
    assert!(
        refreshed.stdout.contains("No changes."),
        "{}",
        refreshed.stdout
    );

    // Moving the provider to another region replaces its resources.
    let moved = sb.dir.path().join("two-regions.yaml");
    let text = std::fs::read_to_string(super::common::workspace().join(STACK))
        .expect("stack")
        .replace("eu-west-1", "eu-central-1");
    std::fs::write(&moved, text).expect("write");
    let moved = moved.display().to_string();
    let plan = sb
        .run(&["preview", "--json", "--local", "--stack-file", &moved])
        .ok();
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan json");
    let step = plan["resource_changes"]
        .as_array()
        .expect("resource_changes")
        .iter()
        .find(|c| c["name"] == "away")
        .cloned()
        .unwrap_or_else(|| panic!("away step: {plan}"));
    assert_eq!(step["action"], "replace", "{step}");
    assert_eq!(step["replace_paths"][0], "region", "{step}");

    // Moving `home` from the default provider to an explicit one in the
    // same region (the run's, us-east-1) changes nothing about the key
    // (before: a replace naming `region`).
    let explicit = sb.dir.path().join("explicit-home.yaml");
    let text = std::fs::read_to_string(super::common::workspace().join(STACK))
        .expect("stack")
        .replace(
            "  home:\n    type: aws:kms:Key\n    properties:\n      description: cairn two-regions home\n",
            "  here:\n    type: pulumi:providers:aws\n    properties:\n      region: us-east-1\n  home:\n    type: aws:kms:Key\n    properties:\n      description: cairn two-regions home\n    options:\n      provider: ${here}\n",
        );
    assert!(text.contains("provider: ${here}"), "{text}");
    std::fs::write(&explicit, text).expect("write");
    let explicit = explicit.display().to_string();
    let plan = sb
        .run(&["preview", "--json", "--local", "--stack-file", &explicit])
        .ok();
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan json");
    let step = plan["resource_changes"]
        .as_array()
        .expect("resource_changes")
        .iter()
        .find(|c| c["name"] == "home")
        .cloned()
        .unwrap_or_else(|| panic!("home step: {plan}"));
    // Not a replace; at most the new dependency on `here` is recorded.
    assert!(
        step["action"] == "same"
            || (step["action"] == "update" && step["changes"] == serde_json::json!([])),
        "{step}"
    );
    // And back: the explicit provider's region is recorded, the default's
    // region is the same, so still nothing to do.
    sb.run(&["up", "--yes", "--local", "--stack-file", &explicit])
        .ok();
    let back = sb.run(&["preview", "--local", "--stack-file", STACK]).ok();
    assert!(
        !back.stdout.contains("replace"),
        "moving back to the default provider replaced: {}",
        back.stdout
    );

    sb.run(&["destroy", "--yes", "--local", "--stack-file", STACK])
        .ok();
    assert_eq!(
        key_state(&east1, &home).await.as_deref(),
        Some("PendingDeletion")
    );
    assert_eq!(
        key_state(&west1, &away).await.as_deref(),
        Some("PendingDeletion")
    );
}
