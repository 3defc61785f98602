//! Resource options through the binary: an `aliases` rename is `same`
//! (shown as a rename) in preview, moves the record on `up` and keeps the
//! object: offline with `core:Data`, and against the emulator with an IAM
//! policy (no mutating AWS call).

use super::common::{runtime, sdk_config, start_private_emulator, Sandbox};

/// Stops a private emulator when the test ends, passed or not.
struct StopEmulator(std::path::PathBuf);

impl Drop for StopEmulator {
    fn drop(&mut self) {
        let _ = cairn_emulator::daemon_stop(&self.0);
    }
}

fn write(sb: &Sandbox, file: &str, text: &str) -> String {
    let path = sb.dir.path().join(file);
    std::fs::write(&path, text).expect("write stack");
    path.display().to_string()
}

/// `state list` rows: name -> id.
fn state_ids(sb: &Sandbox, file: &str, local: bool) -> Vec<(String, String)> {
    let mut args = vec!["state", "list", "--stack-file", file];
    if local {
        args.push("--local");
    }
    let list = sb.run(&args).ok();
    list.stdout
        .lines()
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            Some((cols.first()?.to_string(), cols.get(2)?.to_string()))
        })
        .collect()
}

const DATA_V1: &str = "name: renames\nresources:\n  cache:\n    type: core:Data\n    properties:\n      input: kept\n  user:\n    type: core:Data\n    properties:\n      input: ${cache.output}\n";

const DATA_V2: &str = "name: renames\nresources:\n  redis:\n    type: core:Data\n    properties:\n      input: kept\n    options:\n      aliases:\n        - name: cache\n  user:\n    type: core:Data\n    properties:\n      input: ${redis.output}\n";

#[test]
fn alias_rename_is_same_in_preview_and_keeps_the_resource() {
    let sb = Sandbox::new();
    let file = write(&sb, "renames.yaml", DATA_V1);
    sb.run(&["up", "--yes", "--stack-file", &file]).ok();
    let before = state_ids(&sb, &file, false);
    let cache_id = before
        .iter()
        .find(|(n, _)| n == "cache")
        .map(|(_, id)| id.clone())
        .unwrap_or_else(|| panic!("cache recorded: {before:?}"));

    std::fs::write(&file, DATA_V2).expect("rewrite");
    let preview = sb.run(&["preview", "--stack-file", &file]).ok();
    assert!(
        preview
            .stdout
            .contains("  redis (core:Data) same (renamed from cache)"),
        "{}",
        preview.stdout
    );
    assert!(
        preview
            .stdout
            .contains("Resources: +0 ~0 -0 ±0 (2 unchanged), 1 renamed"),
        "{}",
        preview.stdout
    );
    assert!(!preview.stdout.contains("delete"), "{}", preview.stdout);
    let json = sb.run(&["preview", "--json", "--stack-file", &file]).ok();
    let plan: serde_json::Value = serde_json::from_str(&json.stdout).expect("plan json");
    let redis = plan["resource_changes"]
        .as_array()
        .expect("resource_changes")
        .iter()
        .find(|c| c["name"] == "redis")
        .unwrap_or_else(|| panic!("redis step: {plan}"));
    assert_eq!(redis["action"], "same", "{redis}");
    assert_eq!(redis["renamed_from"], "cache", "{redis}");

    sb.run(&["up", "--yes", "--stack-file", &file]).ok();
    let after = state_ids(&sb, &file, false);
    assert!(
        after.contains(&("redis".to_string(), cache_id)),
        "the record moved with its id: {after:?}"
    );
    assert!(after.iter().all(|(n, _)| n != "cache"), "{after:?}");
    let again = sb.run(&["up", "--yes", "--stack-file", &file]).ok();
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
}

#[test]
fn a_plain_name_as_alias_string_is_a_diagnostic() {
    let sb = Sandbox::new();
    let file = write(
        &sb,
        "bad-alias.yaml",
        "name: bad\nresources:\n  redis:\n    type: core:Data\n    properties:\n      input: x\n    options:\n      aliases:\n        - cache\n",
    );
    let run = sb.run(&["preview", "--stack-file", &file]);
    assert_ne!(run.code, Some(0), "{}", run.all());
    let err = run.all();
    assert!(err.contains("cairn::config::invalid-option"), "{err}");
    assert!(
        err.contains("bad-alias.yaml:9:"),
        "points at the entry: {err}"
    );
    assert!(
        err.contains("- name: cache"),
        "the help shows the fix: {err}"
    );
}

#[test]
fn dropping_a_retained_or_deleted_with_resource_says_no_delete_call_is_made() {
    let sb = Sandbox::new();
    let both = "name: keep\nresources:\n  kept:\n    type: core:Data\n    properties:\n      input: k\n    options:\n      retainOnDelete: true\n  owner:\n    type: core:Data\n    properties:\n      input: o\n  part:\n    type: core:Data\n    properties:\n      input: p\n    options:\n      deletedWith: ${owner}\n  plain:\n    type: core:Data\n    properties:\n      input: x\n";
    let file = write(&sb, "keep.yaml", both);
    sb.run(&["up", "--yes", "--stack-file", &file]).ok();
    std::fs::write(&file, "name: keep\nresources: {}\n").expect("rewrite");
    let preview = sb.run(&["preview", "--stack-file", &file]).ok();
    for line in [
        "- kept (core:Data) delete (retainOnDelete: forgotten, the object stays)",
        "- part (core:Data) delete (with owner: no delete call of its own)",
        "- plain (core:Data) delete\n",
    ] {
        assert!(preview.stdout.contains(line), "{line}\n{}", preview.stdout);
    }
}

fn policy_stack(name: &str, logical: &str, alias: Option<&str>) -> String {
    let options = alias
        .map(|a| format!("    options:\n      aliases:\n        - \"urn:pulumi:{name}::{name}::aws:iam/policy:Policy::{a}\"\n"))
        .unwrap_or_default();
    format!(
        "name: {name}\nconfig:\n  network:\n    type: object\n    default: {{}}\nresources:\n  {logical}:\n    type: aws:iam:Policy\n    properties:\n      name: {name}-cache\n      policy: '{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::{name}/x\"}}]}}'\n{options}"
    )
}

#[test]
fn alias_rename_of_an_aws_resource_keeps_the_cloud_object() {
    let (sb, port, emulator) = start_private_emulator(Sandbox::new(), 0);
    let _stop = StopEmulator(emulator.clone());
    let name = "alias-rename";
    let file = write(&sb, "alias.yaml", &policy_stack(name, "oldPolicy", None));
    sb.run(&["up", "--yes", "--local", "--stack-file", &file])
        .ok();
    let before = state_ids(&sb, &file, true);
    assert_eq!(before.len(), 1, "{before:?}");
    let arn = before[0].1.clone();

    std::fs::write(&file, policy_stack(name, "cachePolicy", Some("oldPolicy"))).expect("rewrite");
    let preview = sb.run(&["preview", "--local", "--stack-file", &file]).ok();
    assert!(
        preview
            .stdout
            .contains("  cachePolicy (aws:iam:Policy) same (renamed from oldPolicy)"),
        "{}",
        preview.stdout
    );
    assert!(!preview.stdout.contains("replace"), "{}", preview.stdout);
    assert!(!preview.stdout.contains("delete"), "{}", preview.stdout);

    let calls = runtime().block_on(async {
        let em = cairn_emulator::Emulator::attach(port, emulator.clone())
            .await
            .expect("attach");
        em.reset_call_counts().await.expect("reset");
        em
    });
    let up = sb
        .run(&["up", "--yes", "--local", "--stack-file", &file])
        .ok();
    let mutating = runtime()
        .block_on(calls.mutating_call_counts())
        .expect("counts");
    assert!(
        mutating.is_empty(),
        "a rename makes no mutating call: {mutating:?}\n{}",
        up.all()
    );
    assert_eq!(
        state_ids(&sb, &file, true),
        vec![("cachePolicy".to_string(), arn.clone())],
        "the record moved, same ARN"
    );
    let exists = runtime().block_on(async {
        let sdk = sdk_config(&format!("http://127.0.0.1:{port}")).await;
        aws_sdk_iam::Client::new(&sdk)
            .get_policy()
            .policy_arn(&arn)
            .send()
            .await
            .is_ok()
    });
    assert!(exists, "the policy {arn} still exists");
}
