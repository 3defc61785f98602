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
