//! Explicit providers with their own credentials against a private
//! emulator (`--local`): `assumeRole` puts a key in the role's account and
//! the default provider's in the run's; `profile` uses the profile's keys;
//! a credential change is an update, not a replace; a resource made with a
//! role is deleted with it after the program drops the provider; the
//! temporary credentials reach no output, log or state; an invoke through
//! the provider reads with its credentials; malformed settings (a session
//! shorter than 15 minutes, a `sourceIdentity` cairn cannot pass) are
//! refused at preview, each at its line.

use super::common::{sdk_config, start_private_emulator, workspace, Sandbox};
use aws_config::sts::AssumeRoleProvider;

const TWO_ACCOUNTS: &str = "tests/providers/two-accounts.yaml";
const BAD: &str = "tests/providers/bad-credentials.yaml";
const ROLE: &str = "arn:aws:iam::111111111111:role/deployer";

struct Stop<'a>(&'a Sandbox);
impl Drop for Stop<'_> {
    fn drop(&mut self) {
        let _ = self.0.command(&["emulator", "stop"]).output();
    }
}

/// SDK settings for the emulator as `role` (STS AssumeRole through it).
async fn as_role(endpoint: &str, role: &str) -> aws_config::SdkConfig {
    let base = sdk_config(endpoint).await;
    let creds = AssumeRoleProvider::builder(role)
        .session_name("cairn-test-check")
        .configure(&base)
        .build()
        .await;
    base.into_builder()
        .credentials_provider(aws_sdk_kms::config::SharedCredentialsProvider::new(creds))
        .build()
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

/// An STS temporary access key id (moto's and AWS's: `ASIA` + 16).
fn temporary_key_in(text: &str) -> Option<String> {
    text.as_bytes().windows(20).find_map(|w| {
        (w.starts_with(b"ASIA")
            && w[4..]
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()))
        .then(|| String::from_utf8_lossy(w).into_owned())
    })
}

fn step<'a>(plan: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    plan["resource_changes"]
        .as_array()
        .expect("resource_changes")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("{name} step: {plan}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn assume_role_provider_manages_a_key_in_the_roles_account() {
    let (sb, port, _) = start_private_emulator(Sandbox::new(), 0);
    let _stop = Stop(&sb);
    let endpoint = format!("http://127.0.0.1:{port}");

    let up = sb
        .command(&["up", "--yes", "--local", "--stack-file", TWO_ACCOUNTS])
        .env("CAIRN_LOG", "debug")
        .output()
        .expect("run cairn");
    let up = super::common::Run::from(up).ok();
    let out = sb
        .run(&[
            "stack",
            "output",
            "--json",
            "--local",
            "--stack-file",
            TWO_ACCOUNTS,
        ])
        .ok();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json outputs");
    let ours = json["oursArn"].as_str().expect("oursArn").to_string();
    let theirs = json["theirsArn"].as_str().expect("theirsArn").to_string();
    assert!(ours.contains(":123456789012:key/"), "{ours}");
    assert!(theirs.contains(":111111111111:key/"), "{theirs}");
    // Invokes read with the same credentials: through the provider, the
    // role's account (its `duration: 1h` and session `tags` accepted by
    // STS); without one, the run's.
    assert_eq!(json["theirAccount"], "111111111111", "{json}");
    assert_eq!(json["ourAccount"], "123456789012", "{json}");

    // Each key exists in its own account only.
    let run_kms = aws_sdk_kms::Client::new(&sdk_config(&endpoint).await);
    let role_kms = aws_sdk_kms::Client::new(&as_role(&endpoint, ROLE).await);
    assert_eq!(key_state(&run_kms, &ours).await.as_deref(), Some("Enabled"));
    assert_eq!(
        key_state(&role_kms, &theirs).await.as_deref(),
        Some("Enabled")
    );
    assert_eq!(
        key_state(&run_kms, &theirs).await,
        None,
        "theirs is not ours"
    );

    // A second run changes nothing, also when read back.
    let again = sb
        .run(&[
            "preview",
            "--refresh",
            "--local",
            "--stack-file",
            TWO_ACCOUNTS,
        ])
        .ok();
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);

    // Another session name: an update of `theirs`, never a replace.
    let renamed = sb.dir.path().join("renamed.yaml");
    let text = std::fs::read_to_string(workspace().join(TWO_ACCOUNTS)).expect("stack");
    std::fs::write(
        &renamed,
        text.replace("sessionName: cairn-deploy", "sessionName: cairn-deploy-2"),
    )
    .expect("write");
    let renamed = renamed.display().to_string();
    let plan = sb
        .run(&["preview", "--json", "--local", "--stack-file", &renamed])
        .ok();
    let plan_json: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan json");
    assert_eq!(
        step(&plan_json, "theirs")["action"],
        "update",
        "{plan_json}"
    );
    assert_eq!(step(&plan_json, "ours")["action"], "same", "{plan_json}");
    // At trace the SDK shows identities (key ids, secrets redacted).
    let traced = sb
        .command(&["up", "--yes", "--local", "--stack-file", &renamed])
        .env("CAIRN_LOG", "trace")
        .output()
        .expect("run cairn");
    let traced = super::common::Run::from(traced).ok().all();
    for secret in ["<SecretAccessKey>", "<SessionToken>"] {
        assert!(!traced.contains(secret), "{secret} in the trace log");
    }
    assert_eq!(
        key_state(&role_kms, &theirs).await.as_deref(),
        Some("Enabled"),
        "the update left the key as it was"
    );

    // The temporary credentials are in no output, log, plan or state.
    // The SDK's debug log names identities by access key id, secrets
    // redacted: the secret key and token are in no log.
    for secret in ["<SecretAccessKey>", "<SessionToken>"] {
        assert!(!up.all().contains(secret), "{secret} in the debug log");
    }
    // The debug log too: the SDK's credential and signing logs are capped
    // at info, so not even the temporary access key id shows there.
    let mut seen = vec![up.all(), again.all(), plan.all()];
    for f in super::common::files_under(&sb.state_dir()) {
        seen.push(String::from_utf8_lossy(&std::fs::read(&f).expect("read")).into_owned());
    }
    let export = sb
        .run(&["stack", "export", "--local", "--stack-file", TWO_ACCOUNTS])
        .ok();
    seen.push(export.all());
    for (i, text) in seen.iter().enumerate() {
        // STS answers hold the secret key and token in these elements.
        for secret in ["<SecretAccessKey>", "<SessionToken>"] {
            if let Some(at) = text.find(secret) {
                let from = text[..at]
                    .char_indices()
                    .rev()
                    .nth(200)
                    .map_or(0, |(i, _)| i);
                let to = text[at..]
                    .char_indices()
                    .nth(200)
                    .map_or(text.len(), |(i, _)| at + i);
                panic!("`{secret}` in text {i}: ...{}", &text[from..to]);
            }
        }
        if let Some(k) = temporary_key_in(text) {
            let at = text.find(&k).unwrap_or(0);
            let from = text[..at]
                .char_indices()
                .rev()
                .nth(300)
                .map_or(0, |(i, _)| i);
            panic!(
                "temporary credentials leaked in text {i}: ...{}",
                &text[from..(at + 40).min(text.len())]
            );
        }
    }
    assert!(
        export.stdout.contains(ROLE),
        "state records the role: {}",
        export.stdout
    );

    // The program drops the provider and `theirs`: state says which role
    // made it, so it is deleted in its account.
    let dropped = sb.dir.path().join("dropped.yaml");
    std::fs::write(
        &dropped,
        "name: two-accounts\nresources:\n  ours:\n    type: aws:kms:Key\n    properties:\n      description: cairn two-accounts ours\n",
    )
    .expect("write");
    let dropped = dropped.display().to_string();
    sb.run(&["up", "--yes", "--local", "--stack-file", &dropped])
        .ok();
    assert_eq!(
        key_state(&role_kms, &theirs).await.as_deref(),
        Some("PendingDeletion")
    );
    assert_eq!(key_state(&run_kms, &ours).await.as_deref(), Some("Enabled"));
}

#[tokio::test(flavor = "multi_thread")]
async fn profile_provider_uses_the_profiles_keys() {
    let sb = Sandbox::new();
    let dir = sb.dir.path().to_path_buf();
    let config = dir.join("aws-config");
    let credentials = dir.join("aws-credentials");
    let sb = sb
        .with_env("AWS_CONFIG_FILE", &config.display().to_string())
        .with_env(
            "AWS_SHARED_CREDENTIALS_FILE",
            &credentials.display().to_string(),
        );
    let (sb, port, _) = start_private_emulator(sb, 0);
    let _stop = Stop(&sb);
    let endpoint = format!("http://127.0.0.1:{port}");

    // Long-lived keys of a user in account 222222222222.
    let admin = as_role(&endpoint, "arn:aws:iam::222222222222:role/admin").await;
    let iam = aws_sdk_iam::Client::new(&admin);
    iam.create_user()
        .user_name("cairn-ops")
        .send()
        .await
        .expect("create user");
    let key = iam
        .create_access_key()
        .user_name("cairn-ops")
        .send()
        .await
        .expect("create access key");
    let key = key.access_key().expect("access key");
    std::fs::write(&config, "[profile ops]\nregion = us-east-1\n").expect("write");
    std::fs::write(
        &credentials,
        format!(
            "[ops]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            key.access_key_id(),
            key.secret_access_key()
        ),
    )
    .expect("write");
    let stack = dir.join("profile.yaml");
    std::fs::write(
        &stack,
        "name: profile\nresources:\n  ops:\n    type: pulumi:providers:aws\n    properties:\n      profile: ops\n  key:\n    type: aws:kms:Key\n    properties:\n      description: cairn profile key\n    options:\n      provider: ${ops}\noutputs:\n  arn: ${key.arn}\n",
    )
    .expect("write");
    let stack = stack.display().to_string();

    sb.run(&["up", "--yes", "--local", "--stack-file", &stack])
        .ok();
    let out = sb
        .run(&[
            "stack",
            "output",
            "--json",
            "--local",
            "--stack-file",
            &stack,
        ])
        .ok();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json outputs");
    let arn = json["arn"].as_str().expect("arn");
    assert!(arn.contains(":222222222222:key/"), "{arn}");
    let kms = aws_sdk_kms::Client::new(&admin);
    assert_eq!(key_state(&kms, arn).await.as_deref(), Some("Enabled"));
    let export = sb
        .run(&["stack", "export", "--local", "--stack-file", &stack])
        .ok();
    assert!(
        !export.all().contains(key.secret_access_key()),
        "the profile's secret key is in state"
    );
    sb.run(&["destroy", "--yes", "--local", "--stack-file", &stack])
        .ok();
    assert_eq!(
        key_state(&kms, arn).await.as_deref(),
        Some("PendingDeletion")
    );
}

#[test]
fn credential_settings_are_checked_at_preview() {
    let sb = Sandbox::new();
    let config = sb.dir.path().join("aws-config");
    std::fs::write(&config, "[profile other]\nregion = us-east-1\n").expect("write");
    let none = sb.dir.path().join("no-credentials").display().to_string();
    let sb = sb
        .with_env("AWS_CONFIG_FILE", &config.display().to_string())
        .with_env("AWS_SHARED_CREDENTIALS_FILE", &none);
    let out = sb.run(&["preview", "--stack-file", BAD]);
    assert_ne!(out.code, Some(0), "{}", out.all());
    let text = out.all();
    for (code, at) in [
        ("aws::provider::assume-role", "bad-credentials.yaml:8:18"),
        ("aws::provider::assume-role", "bad-credentials.yaml:14:22"),
        ("aws::provider::profile", "bad-credentials.yaml:18:16"),
        // `duration: 10m`: under the 15 minutes STS allows.
        ("aws::provider::assume-role", "bad-credentials.yaml:30:19"),
        ("aws::provider::assume-role", "bad-credentials.yaml:36:25"),
    ] {
        let hit = text
            .split("Error: ")
            .any(|block| block.starts_with(code) && block.contains(at));
        assert!(hit, "no {code} at {at}:\n{text}");
    }
    assert!(text.contains("cairn-no-such-profile"), "{text}");
    assert!(text.contains("15 minutes to 12 hours, not `10m`"), "{text}");
    assert!(
        text.contains("cairn does not pass `sourceIdentity` yet"),
        "{text}"
    );
    assert!(!text.contains("unsupported-setting"), "{text}");
}
