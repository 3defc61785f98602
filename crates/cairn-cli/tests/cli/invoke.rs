//! `fn::invoke` in a stack: run at preview through the registry's data
//! sources (offline for aws:iam:getPolicyDocument), both forms, and the
//! diagnostics for an unknown function, bad arguments and an argument that
//! names a resource output.

use super::common::Sandbox;

#[test]
fn policy_document_invoke_offline_both_forms() {
    let sb = Sandbox::new();
    let stack = "tests/invoke/policy-document.yaml";
    let preview = sb.run(&["preview", "--stack-file", stack]).ok();
    assert!(
        preview.stdout.contains("+ doc (core:Data) create"),
        "{}",
        preview.stdout
    );
    sb.run(&["up", "--yes", "--stack-file", stack]).ok();
    let out = sb
        .run(&["stack", "output", "--json", "--stack-file", stack])
        .ok();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json outputs");
    assert_eq!(
        json["assume"],
        "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Allow\",\n      \"Action\": \"sts:AssumeRole\",\n      \"Principal\": {\n        \"Service\": \"ec2.amazonaws.com\"\n      }\n    }\n  ]\n}"
    );
    // A `&{...}` policy variable is written `${...}`, lists reverse-sorted.
    assert_eq!(
        json["minified"],
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"Read\",\"Effect\":\"Allow\",\"Action\":[\"s3:ListBucket\",\"s3:GetObject\"],\"Resource\":[\"arn:aws:s3:::b/*\",\"arn:aws:s3:::b\"],\"Condition\":{\"StringLike\":{\"s3:prefix\":[\"home/\",\"home/${aws:username}/\"]}}}]}"
    );
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots/invoke");
    settings.set_prepend_module_to_snapshot(false);
    let _guard = settings.bind_to_scope();
    insta::assert_snapshot!(
        "policy-document-read",
        json["read"].as_str().unwrap_or("<not a string>")
    );
    let again = sb.run(&["up", "--yes", "--stack-file", stack]).ok();
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
}

#[test]
fn invoke_diagnostics() {
    let sb = Sandbox::new();
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots/invoke");
    settings.set_prepend_module_to_snapshot(false);
    let _guard = settings.bind_to_scope();
    for (name, code) in [
        ("unknown-function", "cairn::invoke::unknown-function"),
        ("bad-argument", "cairn::invoke::bad-argument"),
        ("output-argument", "cairn::invoke::argument-of-output"),
    ] {
        let file = format!("tests/invoke/{name}.yaml");
        let run = sb.run(&["preview", "--stack-file", &file]);
        assert_eq!(run.code, Some(2), "{name}: {}", run.all());
        assert!(run.stderr.contains(code), "{name}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{name}: {}", run.stderr);
        insta::assert_snapshot!(format!("invoke-{name}"), run.stderr);
    }
}

/// Against a private emulator (`--local`): the values come from AWS's
/// answers, checked through the SDK.
#[tokio::test(flavor = "multi_thread")]
async fn aws_lookups_against_the_emulator() {
    use super::common::{free_port, sdk_config};
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
    let stack = "tests/invoke/aws-lookups.yaml";
    sb.run(&["up", "--yes", "--local", "--stack-file", stack])
        .ok();
    let out = sb
        .run(&[
            "stack",
            "output",
            "--json",
            "--local",
            "--stack-file",
            stack,
        ])
        .ok();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json outputs");
    let cfg = sdk_config(&format!("http://127.0.0.1:{port}")).await;
    let ec2 = aws_sdk_ec2::Client::new(&cfg);
    // The account owns the region's default VPC.
    let vpcs = ec2.describe_vpcs().send().await.expect("vpcs");
    let owner = vpcs.vpcs().iter().find_map(|v| v.owner_id());
    assert!(owner.is_some(), "no VPC to name the account");
    assert_eq!(json["account"].as_str(), owner, "{json}");
    assert_eq!(
        json["region"].as_str().map(str::to_string),
        cfg.region().map(|r| r.to_string()),
        "{json}"
    );
    let zones = ec2
        .describe_availability_zones()
        .send()
        .await
        .expect("zones");
    let mut names: Vec<&str> = zones
        .availability_zones()
        .iter()
        .filter_map(|z| z.zone_name())
        .collect();
    names.sort();
    assert_eq!(json["firstZone"].as_str(), names.first().copied(), "{json}");
}
