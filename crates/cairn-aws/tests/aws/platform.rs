//! The Epic 0 platform types (IAM roles, attachments and OIDC providers,
//! ECR repositories, S3 buckets and their settings) against the emulator,
//! through the real SDK: create, read back with no diff, an in-place
//! update, a replace with its reason, delete, adopt after a lost answer.

use super::*;
use cairn_aws::{register_with, AwsClients};
use cairn_core::plan::diff_inputs;

/// The changes between `want` and what a read reports (empty: no drift).
fn drift(want: &Map, seen: &Map) -> Vec<String> {
    diff_inputs(want, seen)
        .into_iter()
        .map(|c| c.path.to_string())
        .collect()
}

/// The properties whose change from `old` to `new` forces a replace (what the plan shows as the reason).
fn replace_reasons(env: &Env, token: &str, old: &Map, new: &Map) -> Vec<String> {
    let schema = env.reg.schema(token).expect("registered");
    let p = env.p(token);
    let mut out: Vec<String> = diff_inputs(old, new)
        .into_iter()
        .map(|c| c.path.to_string())
        .filter(|path| {
            let top = path.split(['.', '[']).next().unwrap_or_default();
            schema.prop(top).is_some_and(|p| p.replace_on_change)
        })
        .collect();
    out.extend(
        p.extra_replace_paths(old, new)
            .into_iter()
            .map(|p| p.to_string()),
    );
    out.sort();
    out.dedup();
    out
}

fn not_owned(r: Result<impl std::fmt::Debug, ProviderError>) -> String {
    match r {
        Err(e @ ProviderError::NotOwned { .. }) => e.to_string(),
        other => panic!("expected NotOwned, got {other:?}"),
    }
}

fn trust(service: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]
    })
    .to_string()
}

#[tokio::test]
async fn iam_role_lifecycle() {
    let env = setup().await;
    let p = env.p("aws:iam:Role");
    let ctx = env.ctx("cluster-role");
    let name = format!("eks-cluster-{}", env.tag);
    let inputs = map(serde_json::json!({
        "name": name,
        "path": "/",
        "assumeRolePolicy": trust("eks.amazonaws.com"),
        "description": "EKS control plane",
        "maxSessionDuration": 3600,
        "tags": {"team": "platform"}
    }));
    assert!(p.check(&inputs).is_empty(), "{:?}", p.check(&inputs));
    let created = p.create(&ctx, &inputs).await.expect("create role");
    assert_eq!(created.id, name);
    assert!(s(&created.outputs, "arn").ends_with(&format!(":role/{name}")));
    assert!(!s(&created.outputs, "uniqueId").is_empty());

    // Read back: no diff, even with the trust policy written another way.
    let seen = p
        .read(&ctx, &created.id, &inputs)
        .await
        .unwrap()
        .expect("role exists");
    assert_eq!(drift(&inputs, &seen.inputs), Vec::<String>::new());
    let mut reformatted = inputs.clone();
    reformatted.insert(
        "assumeRolePolicy".into(),
        Value::String(
            r#"{ "Statement": { "Action": ["sts:AssumeRole"], "Effect": "Allow", "Principal": { "Service": ["eks.amazonaws.com"] } }, "Version": "2012-10-17" }"#
                .into(),
        ),
    );
    let seen = p
        .read(&ctx, &created.id, &reformatted)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        drift(&reformatted, &seen.inputs),
        Vec::<String>::new(),
        "semantic compare"
    );
    // Import by id (the name): what the stack says is read back.
    let imported = p.read(&ctx, &name, &Map::new()).await.unwrap().unwrap();
    assert_eq!(s(&imported.inputs, "name"), name);
    assert!(imported.inputs.contains_key("assumeRolePolicy"));

    // A lost answer: the retried create adopts the role, recovery finds it,
    // and another resource is refused.
    let again = p
        .create(&ctx, &inputs)
        .await
        .expect("create adopts its own role");
    assert_eq!(again.id, created.id);
    assert_eq!(p.recover(&ctx, &inputs).await.unwrap().unwrap().id, name);
    let other = env.ctx("someone-else");
    let err = not_owned(p.recover(&other, &inputs).await);
    assert!(err.contains(&format!("cairn:urn={}", ctx.urn)), "{err}");
    not_owned(p.create(&other, &inputs).await);

    // In place: trust policy, description, session duration, tags.
    let new = map(serde_json::json!({
        "name": name,
        "path": "/",
        "assumeRolePolicy": trust("ec2.amazonaws.com"),
        "description": "nodes",
        "maxSessionDuration": 7200,
        "tags": {"team": "data"}
    }));
    assert!(replace_reasons(&env, "aws:iam:Role", &inputs, &new).is_empty());
    p.update(&ctx, &created.id, &inputs, &new, &created.outputs)
        .await
        .expect("update role");
    let seen = p.read(&ctx, &created.id, &new).await.unwrap().unwrap();
    assert_eq!(drift(&new, &seen.inputs), Vec::<String>::new());

    // A new path replaces.
    let mut moved = new.clone();
    moved.insert("path".into(), "/platform/".into());
    assert_eq!(
        replace_reasons(&env, "aws:iam:Role", &new, &moved),
        ["path"]
    );
    p.delete(&ctx, &created.id, &new, &created.outputs)
        .await
        .expect("delete role");
    let replaced = p
        .create(&ctx, &moved)
        .await
        .expect("create the replacement");
    let seen = p.read(&ctx, &replaced.id, &moved).await.unwrap().unwrap();
    assert_eq!(drift(&moved, &seen.inputs), Vec::<String>::new());
    assert!(s(&replaced.outputs, "arn").contains(":role/platform/"));

    p.delete(&ctx, &replaced.id, &moved, &replaced.outputs)
        .await
        .expect("delete");
    assert!(p.read(&ctx, &replaced.id, &moved).await.unwrap().is_none());
    p.delete(&ctx, &replaced.id, &moved, &replaced.outputs)
        .await
        .expect("idempotent delete");
}

#[tokio::test]
async fn iam_role_trust_policy_checked_at_preview() {
    let env = setup().await;
    let p = env.p("aws:iam:Role");
    let bad = map(serde_json::json!({
        "name": "ok",
        "assumeRolePolicy": r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#
    }));
    let f = p.check(&bad);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].rule, "aws::iam::trust-policy");
    assert!(f[0].message.contains("Principal"), "{}", f[0].message);
}

#[tokio::test]
async fn iam_role_policy_attachment_lifecycle() {
    let env = setup().await;
    let roles = env.p("aws:iam:Role");
    let policies = env.p("aws:iam:Policy");
    let p = env.p("aws:iam:RolePolicyAttachment");
    let ctx = env.ctx("attach");
    let role_name = format!("app-{}", env.tag);
    let role_in = map(
        serde_json::json!({"name": role_name, "path": "/", "assumeRolePolicy": trust("ec2.amazonaws.com"), "maxSessionDuration": 3600}),
    );
    let role = roles
        .create(&env.ctx("role"), &role_in)
        .await
        .expect("role");
    let doc = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}).to_string();
    let mut arns = Vec::new();
    for n in 0..2 {
        let pin = map(
            serde_json::json!({"name": format!("read-{n}-{}", env.tag), "path": "/", "policy": doc}),
        );
        arns.push(
            policies
                .create(&env.ctx(&format!("policy{n}")), &pin)
                .await
                .expect("policy")
                .id,
        );
    }
    let inputs = map(serde_json::json!({"role": role_name, "policyArn": arns[0]}));
    let created = p.create(&ctx, &inputs).await.expect("attach");
    assert_eq!(created.id, format!("{role_name}/{}", arns[0]));
    let seen = p.read(&ctx, &created.id, &inputs).await.unwrap().unwrap();
    assert_eq!(drift(&inputs, &seen.inputs), Vec::<String>::new());
    // Import by Terraform's id.
    let imported = p
        .read(&ctx, &created.id, &Map::new())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(imported.inputs, inputs);
    // A lost answer: attaching again is harmless; recovery finds the pair.
    assert_eq!(p.create(&ctx, &inputs).await.unwrap().id, created.id);
    assert_eq!(
        p.recover(&ctx, &inputs).await.unwrap().unwrap().id,
        created.id
    );

    // Another policy replaces (there is nothing to change in place).
    let new = map(serde_json::json!({"role": role_name, "policyArn": arns[1]}));
    assert_eq!(
        replace_reasons(&env, "aws:iam:RolePolicyAttachment", &inputs, &new),
        ["policyArn"]
    );
    let replaced = p.create(&ctx, &new).await.expect("attach the new one");
    p.delete(&ctx, &created.id, &inputs, &created.outputs)
        .await
        .expect("detach the old one");
    assert!(p.read(&ctx, &created.id, &inputs).await.unwrap().is_none());
    assert!(p.recover(&ctx, &inputs).await.unwrap().is_none());
    assert!(p.read(&ctx, &replaced.id, &new).await.unwrap().is_some());
    // The role cannot go while a policy is attached; after the detach it can.
    p.delete(&ctx, &replaced.id, &new, &replaced.outputs)
        .await
        .expect("detach");
    p.delete(&ctx, &replaced.id, &new, &replaced.outputs)
        .await
        .expect("idempotent detach");
    roles
        .delete(&env.ctx("role"), &role.id, &role_in, &role.outputs)
        .await
        .expect("delete role");
    assert!(
        p.read(&ctx, &replaced.id, &new).await.unwrap().is_none(),
        "role gone: attachment gone"
    );
}

const THUMB_A: &str = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280";
const THUMB_B: &str = "06B25927C42A721631C1EFD9431E648FA62E1E39";

#[tokio::test]
async fn iam_openid_connect_provider_lifecycle() {
    let env = setup().await;
    let p = env.p("aws:iam:OpenIdConnectProvider");
    let ctx = env.ctx("oidc");
    let url = format!(
        "https://oidc.eks.us-east-1.amazonaws.com/id/{}",
        env.tag.to_uppercase()
    );
    let inputs = map(serde_json::json!({
        "url": url,
        "clientIdLists": ["sts.amazonaws.com"],
        "thumbprintLists": [THUMB_A],
        "tags": {"cluster": "main"}
    }));
    assert!(p.check(&inputs).is_empty());
    let created = p.create(&ctx, &inputs).await.expect("create provider");
    assert!(
        created
            .id
            .ends_with(&format!(":oidc-provider/{}", &url["https://".len()..])),
        "{}",
        created.id
    );
    let seen = p.read(&ctx, &created.id, &inputs).await.unwrap().unwrap();
    assert_eq!(drift(&inputs, &seen.inputs), Vec::<String>::new());
    let imported = p
        .read(&ctx, &created.id, &Map::new())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s(&imported.inputs, "url"), url);

    // A lost answer: the retried create adopts; others are refused.
    assert_eq!(p.create(&ctx, &inputs).await.unwrap().id, created.id);
    assert_eq!(
        p.recover(&ctx, &inputs).await.unwrap().unwrap().id,
        created.id
    );
    not_owned(p.recover(&env.ctx("other"), &inputs).await);

    // In place: client ids (add and remove), thumbprints, tags.
    let new = map(serde_json::json!({
        "url": url,
        "clientIdLists": ["apps.example.com", "sts.amazonaws.com"],
        "thumbprintLists": [THUMB_B],
        "tags": {"cluster": "main", "env": "dev"}
    }));
    assert!(replace_reasons(&env, "aws:iam:OpenIdConnectProvider", &inputs, &new).is_empty());
    p.update(&ctx, &created.id, &inputs, &new, &created.outputs)
        .await
        .expect("update");
    let seen = p.read(&ctx, &created.id, &new).await.unwrap().unwrap();
    assert_eq!(drift(&new, &seen.inputs), Vec::<String>::new());
    let fewer = map(
        serde_json::json!({"url": url, "clientIdLists": ["apps.example.com"], "thumbprintLists": [THUMB_B], "tags": {"cluster": "main"}}),
    );
    p.update(&ctx, &created.id, &new, &fewer, &created.outputs)
        .await
        .expect("remove a client id");
    let seen = p.read(&ctx, &created.id, &fewer).await.unwrap().unwrap();
    assert_eq!(drift(&fewer, &seen.inputs), Vec::<String>::new());

    // A new URL replaces.
    let mut moved = fewer.clone();
    moved.insert("url".into(), Value::String(format!("{url}2")));
    assert_eq!(
        replace_reasons(&env, "aws:iam:OpenIdConnectProvider", &fewer, &moved),
        ["url"]
    );
    let replaced = p
        .create(&ctx, &moved)
        .await
        .expect("create the replacement");
    assert_ne!(replaced.id, created.id);
    p.delete(&ctx, &created.id, &fewer, &created.outputs)
        .await
        .expect("delete");
    assert!(p.read(&ctx, &created.id, &fewer).await.unwrap().is_none());
    p.delete(&ctx, &created.id, &fewer, &created.outputs)
        .await
        .expect("idempotent delete");
    p.delete(&ctx, &replaced.id, &moved, &replaced.outputs)
        .await
        .expect("delete");
}

fn lifecycle(days: u32) -> String {
    serde_json::json!({"rules": [{
        "rulePriority": 1,
        "description": "expire untagged images",
        "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": days},
        "action": {"type": "expire"}
    }]})
    .to_string()
}

#[tokio::test]
async fn ecr_repository_lifecycle() {
    let env = setup().await;
    let p = env.p("aws:ecr:Repository");
    let ctx = env.ctx("images");
    let name = format!("platform/api-{}", env.tag);
    let inputs = map(serde_json::json!({
        "name": name,
        "imageTagMutability": "MUTABLE",
        "imageScanningConfiguration": {"scanOnPush": false},
        "forceDelete": false,
        "tags": {"team": "platform"}
    }));
    assert!(p.check(&inputs).is_empty(), "{:?}", p.check(&inputs));
    let created = p.create(&ctx, &inputs).await.expect("create repository");
    assert_eq!(created.id, name);
    assert!(s(&created.outputs, "repositoryUrl").ends_with(&format!("/{name}")));
    assert!(s(&created.outputs, "arn").contains(":repository/"));
    let seen = p.read(&ctx, &name, &inputs).await.unwrap().unwrap();
    assert_eq!(drift(&inputs, &seen.inputs), Vec::<String>::new());
    let imported = p.read(&ctx, &name, &Map::new()).await.unwrap().unwrap();
    assert_eq!(s(&imported.inputs, "name"), name);

    // A lost answer: the retried create adopts; others are refused.
    assert_eq!(p.create(&ctx, &inputs).await.unwrap().id, name);
    assert_eq!(p.recover(&ctx, &inputs).await.unwrap().unwrap().id, name);
    not_owned(p.recover(&env.ctx("other"), &inputs).await);
    not_owned(p.create(&env.ctx("other"), &inputs).await);

    // In place: immutable tags, scan on push, tags.
    let new = map(serde_json::json!({
        "name": name,
        "imageTagMutability": "IMMUTABLE",
        "imageScanningConfiguration": {"scanOnPush": true},
        "forceDelete": true,
        "tags": {"team": "data"}
    }));
    assert!(replace_reasons(&env, "aws:ecr:Repository", &inputs, &new).is_empty());
    p.update(&ctx, &name, &inputs, &new, &created.outputs)
        .await
        .expect("update");
    let seen = p.read(&ctx, &name, &new).await.unwrap().unwrap();
    assert_eq!(drift(&new, &seen.inputs), Vec::<String>::new());

    // An image in it: delete refuses without forceDelete, naming it.
    let ecr = aws_sdk_ecr::Client::new(&env.sdk_config().await);
    ecr.put_image()
        .repository_name(&name)
        .image_tag("v1")
        .image_manifest(r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1,"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000"},"layers":[]}"#)
        .send()
        .await
        .expect("put an image");
    let err = p
        .delete(&ctx, &name, &inputs, &created.outputs)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("forceDelete"), "{err}");

    // Encryption replaces.
    let mut kms = new.clone();
    kms.insert(
        "encryptionConfigurations".into(),
        Value::from_json(&serde_json::json!([{"encryptionType": "KMS"}])),
    );
    assert_eq!(
        replace_reasons(&env, "aws:ecr:Repository", &new, &kms),
        ["encryptionConfigurations"]
    );
    p.delete(&ctx, &name, &new, &created.outputs)
        .await
        .expect("force delete");
    assert!(p.read(&ctx, &name, &new).await.unwrap().is_none());
    let replaced = p.create(&ctx, &kms).await.expect("create the replacement");
    let seen = p.read(&ctx, &replaced.id, &kms).await.unwrap().unwrap();
    assert_eq!(drift(&kms, &seen.inputs), Vec::<String>::new());
    p.delete(&ctx, &replaced.id, &kms, &replaced.outputs)
        .await
        .expect("delete");
    p.delete(&ctx, &replaced.id, &kms, &replaced.outputs)
        .await
        .expect("idempotent delete");
}

#[tokio::test]
async fn ecr_lifecycle_policy_lifecycle() {
    let env = setup().await;
    let repos = env.p("aws:ecr:Repository");
    let p = env.p("aws:ecr:LifecyclePolicy");
    let ctx = env.ctx("expiry");
    let mut names = Vec::new();
    for n in 0..2 {
        let name = format!("app{n}-{}", env.tag);
        let r = map(
            serde_json::json!({"name": name, "imageTagMutability": "MUTABLE", "forceDelete": true}),
        );
        repos
            .create(&env.ctx(&format!("repo{n}")), &r)
            .await
            .expect("repository");
        names.push(name);
    }
    let inputs = map(serde_json::json!({"repository": names[0], "policy": lifecycle(14)}));
    assert!(p.check(&inputs).is_empty(), "{:?}", p.check(&inputs));
    let created = p.create(&ctx, &inputs).await.expect("put policy");
    assert_eq!(created.id, names[0]);
    assert!(!s(&created.outputs, "registryId").is_empty());
    let seen = p.read(&ctx, &created.id, &inputs).await.unwrap().unwrap();
    assert_eq!(drift(&inputs, &seen.inputs), Vec::<String>::new());
    let pretty = map(
        serde_json::json!({"repository": names[0], "policy": serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(&lifecycle(14)).unwrap()).unwrap()}),
    );
    let seen = p.read(&ctx, &created.id, &pretty).await.unwrap().unwrap();
    assert_eq!(
        drift(&pretty, &seen.inputs),
        Vec::<String>::new(),
        "formatting is no drift"
    );
    // A lost answer: putting again is harmless; recovery finds it.
    assert_eq!(p.create(&ctx, &inputs).await.unwrap().id, created.id);
    assert_eq!(
        p.recover(&ctx, &inputs).await.unwrap().unwrap().id,
        created.id
    );

    // In place: a new policy.
    let new = map(serde_json::json!({"repository": names[0], "policy": lifecycle(30)}));
    assert!(replace_reasons(&env, "aws:ecr:LifecyclePolicy", &inputs, &new).is_empty());
    p.update(&ctx, &created.id, &inputs, &new, &created.outputs)
        .await
        .expect("update");
    let seen = p.read(&ctx, &created.id, &new).await.unwrap().unwrap();
    assert_eq!(drift(&new, &seen.inputs), Vec::<String>::new());

    assert!(
        p.recover(&ctx, &inputs).await.unwrap().is_none(),
        "a policy other than the stack's is not adopted"
    );

    // Another repository replaces.
    let moved = map(serde_json::json!({"repository": names[1], "policy": lifecycle(30)}));
    assert_eq!(
        replace_reasons(&env, "aws:ecr:LifecyclePolicy", &new, &moved),
        ["repository"]
    );
    let replaced = p
        .create(&ctx, &moved)
        .await
        .expect("create the replacement");
    p.delete(&ctx, &created.id, &new, &created.outputs)
        .await
        .expect("delete");
    assert!(p.read(&ctx, &created.id, &new).await.unwrap().is_none());
    assert!(p.recover(&ctx, &new).await.unwrap().is_none());
    p.delete(&ctx, &created.id, &new, &created.outputs)
        .await
        .expect("idempotent delete");
    assert!(p.read(&ctx, &replaced.id, &moved).await.unwrap().is_some());

    // Preview: a rule ECR would reject.
    let bad = map(
        serde_json::json!({"repository": names[1], "policy": lifecycle(30).replace("\"days\"", "\"weeks\"")}),
    );
    let f = p.check(&bad);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].rule, "aws::ecr::lifecycle-policy");
}

/// A bucket made through the provider, for the settings types.
async fn bucket(env: &Env, name: &str) -> cairn_core::provider::Created {
    let inputs = map(serde_json::json!({"bucket": name, "forceDestroy": true}));
    env.p("aws:s3:Bucket")
        .create(&env.ctx(&format!("b-{name}")), &inputs)
        .await
        .expect("bucket")
}

#[tokio::test]
async fn s3_bucket_lifecycle() {
    let env = setup().await;
    let p = env.p("aws:s3:Bucket");
    let ctx = env.ctx("artifacts");
    let name = format!("acme-artifacts-{}", env.tag);
    let inputs = map(
        serde_json::json!({"bucket": name, "forceDestroy": false, "tags": {"team": "platform"}}),
    );
    assert!(p.check(&inputs).is_empty(), "{:?}", p.check(&inputs));
    let created = p.create(&ctx, &inputs).await.expect("create bucket");
    assert_eq!(created.id, name);
    assert_eq!(s(&created.outputs, "arn"), format!("arn:aws:s3:::{name}"));
    assert_eq!(
        s(&created.outputs, "bucketRegionalDomainName"),
        format!("{name}.s3.us-east-1.amazonaws.com")
    );
    let seen = p.read(&ctx, &name, &inputs).await.unwrap().unwrap();
    assert_eq!(drift(&inputs, &seen.inputs), Vec::<String>::new());
    let imported = p.read(&ctx, &name, &Map::new()).await.unwrap().unwrap();
    assert_eq!(s(&imported.inputs, "bucket"), name);

    // A lost answer: the retried create adopts; another resource is refused.
    assert_eq!(p.create(&ctx, &inputs).await.unwrap().id, name);
    assert_eq!(p.recover(&ctx, &inputs).await.unwrap().unwrap().id, name);
    not_owned(p.recover(&env.ctx("other"), &inputs).await);
    not_owned(p.create(&env.ctx("other"), &inputs).await);
    // An untagged bucket of this account under that name is not adopted either.
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&env.sdk_config().await)
            .force_path_style(true)
            .build(),
    );
    let stray = format!("stray-{}", env.tag);
    s3.create_bucket().bucket(&stray).send().await.unwrap();
    let stray_in = map(serde_json::json!({"bucket": stray}));
    let err = not_owned(p.create(&ctx, &stray_in).await);
    assert!(err.contains("no cairn:urn tag"), "{err}");

    // In place: tags (our urn tag is kept).
    let new =
        map(serde_json::json!({"bucket": name, "forceDestroy": false, "tags": {"team": "data"}}));
    assert!(replace_reasons(&env, "aws:s3:Bucket", &inputs, &new).is_empty());
    p.update(&ctx, &name, &inputs, &new, &created.outputs)
        .await
        .expect("update tags");
    let seen = p.read(&ctx, &name, &new).await.unwrap().unwrap();
    assert_eq!(drift(&new, &seen.inputs), Vec::<String>::new());
    assert_eq!(
        p.recover(&ctx, &new).await.unwrap().unwrap().id,
        name,
        "still tagged ours"
    );

    // An object in it: delete refuses without forceDestroy, naming it.
    s3.put_object()
        .bucket(&name)
        .key("a.txt")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap();
    let err = p
        .delete(&ctx, &name, &new, &created.outputs)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("forceDestroy"), "{err}");

    // A new name replaces.
    let mut moved = new.clone();
    moved.insert("bucket".into(), Value::String(format!("{name}-2")));
    assert_eq!(
        replace_reasons(&env, "aws:s3:Bucket", &new, &moved),
        ["bucket"]
    );
    let replaced = p
        .create(&ctx, &moved)
        .await
        .expect("create the replacement");
    let mut force = new.clone();
    force.insert("forceDestroy".into(), Value::Bool(true));
    p.delete(&ctx, &name, &force, &created.outputs)
        .await
        .expect("force destroy");
    assert!(p.read(&ctx, &name, &new).await.unwrap().is_none());
    p.delete(&ctx, &name, &force, &created.outputs)
        .await
        .expect("idempotent delete");
    p.delete(&ctx, &replaced.id, &moved, &replaced.outputs)
        .await
        .expect("delete");
}

#[tokio::test]
async fn s3_bucket_name_rules_at_preview() {
    let env = setup().await;
    let p = env.p("aws:s3:Bucket");
    for bad in ["Acme", "a..b", "192.168.1.1", "xn--abc", "abc-s3alias"] {
        let f = p.check(&map(serde_json::json!({"bucket": bad})));
        assert_eq!(f.len(), 1, "{bad}: {f:?}");
        assert_eq!(f[0].rule, "aws::s3::bucket-name");
    }
}

#[tokio::test]
async fn s3_bucket_versioning_lifecycle() {
    let env = setup().await;
    let p = env.p("aws:s3:BucketVersioning");
    let ctx = env.ctx("versioning");
    let (b1, b2) = (format!("v1-{}", env.tag), format!("v2-{}", env.tag));
    bucket(&env, &b1).await;
    bucket(&env, &b2).await;
    let inputs =
        map(serde_json::json!({"bucket": b1, "versioningConfiguration": {"status": "Enabled"}}));
    assert!(
        p.read(&ctx, &b1, &inputs).await.unwrap().is_none(),
        "never versioned: none"
    );
    let created = p.create(&ctx, &inputs).await.expect("enable");
    let seen = p.read(&ctx, &b1, &inputs).await.unwrap().unwrap();
    assert_eq!(drift(&inputs, &seen.inputs), Vec::<String>::new());
    assert_eq!(
        p.read(&ctx, &b1, &Map::new())
            .await
            .unwrap()
            .unwrap()
            .inputs,
        inputs,
        "import"
    );
    // A lost answer: putting again is harmless; recovery finds it.
    assert_eq!(p.create(&ctx, &inputs).await.unwrap().id, b1);
    assert_eq!(p.recover(&ctx, &inputs).await.unwrap().unwrap().id, b1);
    // In place: suspend.
    let new =
        map(serde_json::json!({"bucket": b1, "versioningConfiguration": {"status": "Suspended"}}));
    assert!(replace_reasons(&env, "aws:s3:BucketVersioning", &inputs, &new).is_empty());
    p.update(&ctx, &b1, &inputs, &new, &created.outputs)
        .await
        .expect("suspend");
    assert_eq!(
        drift(
            &new,
            &p.read(&ctx, &b1, &new).await.unwrap().unwrap().inputs
        ),
        Vec::<String>::new()
    );
    // Another bucket replaces.
    let moved =
        map(serde_json::json!({"bucket": b2, "versioningConfiguration": {"status": "Enabled"}}));
    assert_eq!(
        replace_reasons(&env, "aws:s3:BucketVersioning", &new, &moved),
        ["bucket"]
    );
    let replaced = p.create(&ctx, &moved).await.expect("replacement");
    // Delete suspends: S3 never returns a bucket to unversioned.
    p.delete(&ctx, &replaced.id, &moved, &replaced.outputs)
        .await
        .expect("delete");
    let seen = p.read(&ctx, &b2, &moved).await.unwrap().unwrap();
    assert_eq!(
        seen.inputs["versioningConfiguration"],
        Value::from_json(&serde_json::json!({"status": "Suspended"}))
    );
    p.delete(&ctx, &b1, &new, &created.outputs)
        .await
        .expect("delete a suspended one");
}

#[tokio::test]
async fn s3_bucket_encryption_lifecycle() {
    let env = setup().await;
    let p = env.p("aws:s3:BucketServerSideEncryptionConfiguration");
    let ctx = env.ctx("sse");
    let (b1, b2) = (format!("e1-{}", env.tag), format!("e2-{}", env.tag));
    bucket(&env, &b1).await;
    bucket(&env, &b2).await;
    let inputs = map(
        serde_json::json!({"bucket": b1, "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]}),
    );
    assert!(p.check(&inputs).is_empty());
    let created = p.create(&ctx, &inputs).await.expect("put encryption");
    let seen = p.read(&ctx, &b1, &inputs).await.unwrap().unwrap();
    assert_eq!(drift(&inputs, &seen.inputs), Vec::<String>::new());
    assert!(
        p.read(&ctx, &b1, &Map::new()).await.unwrap().is_some(),
        "import"
    );
    assert_eq!(
        p.create(&ctx, &inputs).await.unwrap().id,
        b1,
        "put again after a lost answer"
    );
    assert_eq!(p.recover(&ctx, &inputs).await.unwrap().unwrap().id, b1);
    // In place: SSE-KMS with a bucket key.
    let new = map(
        serde_json::json!({"bucket": b1, "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"}, "bucketKeyEnabled": true}]}),
    );
    assert!(replace_reasons(
        &env,
        "aws:s3:BucketServerSideEncryptionConfiguration",
        &inputs,
        &new
    )
    .is_empty());
    p.update(&ctx, &b1, &inputs, &new, &created.outputs)
        .await
        .expect("to KMS");
    assert_eq!(
        drift(
            &new,
            &p.read(&ctx, &b1, &new).await.unwrap().unwrap().inputs
        ),
        Vec::<String>::new()
    );
    let mut moved = new.clone();
    moved.insert("bucket".into(), Value::String(b2.clone()));
    assert_eq!(
        replace_reasons(
            &env,
            "aws:s3:BucketServerSideEncryptionConfiguration",
            &new,
            &moved
        ),
        ["bucket"]
    );
    let replaced = p.create(&ctx, &moved).await.expect("replacement");
    p.delete(&ctx, &b1, &new, &created.outputs)
        .await
        .expect("delete");
    p.delete(&ctx, &b1, &new, &created.outputs)
        .await
        .expect("idempotent delete");
    p.delete(&ctx, &replaced.id, &moved, &replaced.outputs)
        .await
        .expect("delete");
    // Preview: a KMS key with SSE-S3.
    let bad = map(
        serde_json::json!({"bucket": b1, "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256", "kmsMasterKeyId": "k"}}]}),
    );
    assert_eq!(p.check(&bad)[0].rule, "aws::s3::encryption-rules");
}

#[tokio::test]
async fn s3_bucket_public_access_block_lifecycle() {
    let env = setup().await;
    let p = env.p("aws:s3:BucketPublicAccessBlock");
    let ctx = env.ctx("pab");
    let (b1, b2) = (format!("p1-{}", env.tag), format!("p2-{}", env.tag));
    bucket(&env, &b1).await;
    bucket(&env, &b2).await;
    let all = |b: &str, on: bool| {
        map(
            serde_json::json!({"bucket": b, "blockPublicAcls": on, "blockPublicPolicy": on, "ignorePublicAcls": on, "restrictPublicBuckets": true}),
        )
    };
    let inputs = all(&b1, true);
    let created = p.create(&ctx, &inputs).await.expect("block");
    assert_eq!(
        drift(
            &inputs,
            &p.read(&ctx, &b1, &inputs).await.unwrap().unwrap().inputs
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        p.read(&ctx, &b1, &Map::new())
            .await
            .unwrap()
            .unwrap()
            .inputs,
        inputs,
        "import"
    );
    assert_eq!(
        p.create(&ctx, &inputs).await.unwrap().id,
        b1,
        "put again after a lost answer"
    );
    assert_eq!(p.recover(&ctx, &inputs).await.unwrap().unwrap().id, b1);
    let new = all(&b1, false);
    assert!(replace_reasons(&env, "aws:s3:BucketPublicAccessBlock", &inputs, &new).is_empty());
    p.update(&ctx, &b1, &inputs, &new, &created.outputs)
        .await
        .expect("update");
    assert_eq!(
        drift(
            &new,
            &p.read(&ctx, &b1, &new).await.unwrap().unwrap().inputs
        ),
        Vec::<String>::new()
    );
    let moved = all(&b2, true);
    assert_eq!(
        replace_reasons(&env, "aws:s3:BucketPublicAccessBlock", &new, &moved),
        ["bucket"]
    );
    let replaced = p.create(&ctx, &moved).await.expect("replacement");
    p.delete(&ctx, &b1, &new, &created.outputs)
        .await
        .expect("delete");
    assert!(p.read(&ctx, &b1, &new).await.unwrap().is_none());
    assert!(p.recover(&ctx, &new).await.unwrap().is_none());
    p.delete(&ctx, &b1, &new, &created.outputs)
        .await
        .expect("idempotent delete");
    p.delete(&ctx, &replaced.id, &moved, &replaced.outputs)
        .await
        .expect("delete");
}

fn tls_only(bucket: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}
        }]
    })
    .to_string()
}

#[tokio::test]
async fn s3_bucket_policy_lifecycle() {
    let env = setup().await;
    let p = env.p("aws:s3:BucketPolicy");
    let ctx = env.ctx("policy");
    let (b1, b2) = (format!("bp1-{}", env.tag), format!("bp2-{}", env.tag));
    bucket(&env, &b1).await;
    bucket(&env, &b2).await;
    let inputs = map(serde_json::json!({"bucket": b1, "policy": tls_only(&b1)}));
    assert!(p.check(&inputs).is_empty(), "{:?}", p.check(&inputs));
    let created = p.create(&ctx, &inputs).await.expect("put policy");
    assert_eq!(
        drift(
            &inputs,
            &p.read(&ctx, &b1, &inputs).await.unwrap().unwrap().inputs
        ),
        Vec::<String>::new()
    );
    // Written another way (one resource per line, other key order): no drift.
    let v: serde_json::Value = serde_json::from_str(&tls_only(&b1)).unwrap();
    let pretty =
        map(serde_json::json!({"bucket": b1, "policy": serde_json::to_string_pretty(&v).unwrap()}));
    assert_eq!(
        drift(
            &pretty,
            &p.read(&ctx, &b1, &pretty).await.unwrap().unwrap().inputs
        ),
        Vec::<String>::new()
    );
    assert!(
        p.read(&ctx, &b1, &Map::new()).await.unwrap().is_some(),
        "import"
    );
    assert_eq!(
        p.create(&ctx, &inputs).await.unwrap().id,
        b1,
        "put again after a lost answer"
    );
    assert_eq!(p.recover(&ctx, &inputs).await.unwrap().unwrap().id, b1);
    // In place: another statement.
    let new = map(
        serde_json::json!({"bucket": b1, "policy": tls_only(&b1).replace("TlsOnly", "DenyPlainHttp")}),
    );
    assert!(replace_reasons(&env, "aws:s3:BucketPolicy", &inputs, &new).is_empty());
    p.update(&ctx, &b1, &inputs, &new, &created.outputs)
        .await
        .expect("update");
    assert_eq!(
        drift(
            &new,
            &p.read(&ctx, &b1, &new).await.unwrap().unwrap().inputs
        ),
        Vec::<String>::new()
    );
    let moved = map(serde_json::json!({"bucket": b2, "policy": tls_only(&b2)}));
    assert!(
        replace_reasons(&env, "aws:s3:BucketPolicy", &new, &moved).contains(&"bucket".to_string())
    );
    let replaced = p.create(&ctx, &moved).await.expect("replacement");
    p.delete(&ctx, &b1, &new, &created.outputs)
        .await
        .expect("delete");
    assert!(p.read(&ctx, &b1, &new).await.unwrap().is_none());
    p.delete(&ctx, &b1, &new, &created.outputs)
        .await
        .expect("idempotent delete");
    p.delete(&ctx, &replaced.id, &moved, &replaced.outputs)
        .await
        .expect("delete");
    // Preview: another bucket's resources, and a statement with no principal.
    let foreign = map(serde_json::json!({"bucket": b1, "policy": tls_only(&b2)}));
    assert!(p.check(&foreign)[0].message.contains("outside bucket"));
    let no_principal = map(
        serde_json::json!({"bucket": b1, "policy": tls_only(&b1).replace(r#""Principal":"*","#, "")}),
    );
    assert!(
        p.check(&no_principal)[0].message.contains("Principal"),
        "{:?}",
        p.check(&no_principal)
    );
}

/// A role hidden for 1.5 s after its create (IAM is eventually consistent):
/// the provider's read, update and an attachment right after still succeed.
#[tokio::test]
async fn iam_new_role_not_yet_visible_is_waited_for() {
    let env = setup().await;
    env._emulator.set_hide_new_ms(1500).await.unwrap();
    // The knob: a new role is not found at first.
    let iam = aws_sdk_iam::Client::new(&env.sdk_config().await);
    let raw = format!("raw-{}", env.tag);
    iam.create_role()
        .role_name(&raw)
        .assume_role_policy_document(trust("ec2.amazonaws.com"))
        .send()
        .await
        .unwrap();
    let err = iam.get_role().role_name(&raw).send().await.unwrap_err();
    assert_eq!(
        aws_sdk_iam::error::ProvideErrorMetadata::code(&err),
        Some("NoSuchEntity"),
        "{err:?}"
    );

    let p = env.p("aws:iam:Role");
    let ctx = env.ctx("hidden-role");
    let name = format!("hidden-{}", env.tag);
    let inputs = map(
        serde_json::json!({"name": name, "path": "/", "assumeRolePolicy": trust("ec2.amazonaws.com"), "maxSessionDuration": 3600}),
    );
    let created = p.create(&ctx, &inputs).await.expect("create role");
    let seen = p
        .read(&ctx, &name, &inputs)
        .await
        .unwrap()
        .expect("read waits for the role");
    assert_eq!(drift(&inputs, &seen.inputs), Vec::<String>::new());
    let policy = env
        .p("aws:iam:Policy")
        .create(
            &env.ctx("hidden-policy"),
            &map(serde_json::json!({"name": format!("p-{}", env.tag), "path": "/", "policy": serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}).to_string()})),
        )
        .await
        .expect("policy");
    let attach = map(serde_json::json!({"role": name, "policyArn": policy.id}));
    env.p("aws:iam:RolePolicyAttachment")
        .create(&env.ctx("hidden-attach"), &attach)
        .await
        .expect("attach waits for the role and the policy");
    let new = map(
        serde_json::json!({"name": name, "path": "/", "assumeRolePolicy": trust("eks.amazonaws.com"), "maxSessionDuration": 7200}),
    );
    p.update(&ctx, &name, &inputs, &new, &created.outputs)
        .await
        .expect("update");
}

/// S3 encrypts every bucket with SSE-S3 by default (GetBucketEncryption
/// answers AES256 for a bucket nobody configured): recovery after a lost
/// answer adopts a bucket's setting only when it is the stack's, never that
/// default; the same holds for the other settings types.
#[tokio::test]
async fn s3_settings_recover_only_what_the_lost_call_set() {
    let env = setup().await;
    let b = format!("rec-{}", env.tag);
    bucket(&env, &b).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&env.sdk_config().await)
            .force_path_style(true)
            .build(),
    );
    let default = s3
        .get_bucket_encryption()
        .bucket(&b)
        .send()
        .await
        .expect("default encryption");
    let rule = &default
        .server_side_encryption_configuration()
        .unwrap()
        .rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .unwrap()
            .sse_algorithm()
            .as_str(),
        "AES256"
    );
    let kms = map(
        serde_json::json!({"bucket": b, "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]}),
    );
    let sse = env.p("aws:s3:BucketServerSideEncryptionConfiguration");
    assert!(
        sse.recover(&env.ctx("sse"), &kms).await.unwrap().is_none(),
        "S3's default is not our setting"
    );
    sse.create(&env.ctx("sse"), &kms).await.unwrap();
    assert!(sse.recover(&env.ctx("sse"), &kms).await.unwrap().is_some());

    let pab = env.p("aws:s3:BucketPublicAccessBlock");
    let on = map(
        serde_json::json!({"bucket": b, "blockPublicAcls": true, "blockPublicPolicy": true, "ignorePublicAcls": true, "restrictPublicBuckets": true}),
    );
    let off = map(
        serde_json::json!({"bucket": b, "blockPublicAcls": false, "blockPublicPolicy": false, "ignorePublicAcls": false, "restrictPublicBuckets": false}),
    );
    pab.create(&env.ctx("pab"), &off).await.unwrap();
    assert!(
        pab.recover(&env.ctx("pab"), &on).await.unwrap().is_none(),
        "another setting is not ours"
    );
    let ver = env.p("aws:s3:BucketVersioning");
    let enabled =
        map(serde_json::json!({"bucket": b, "versioningConfiguration": {"status": "Enabled"}}));
    let suspended =
        map(serde_json::json!({"bucket": b, "versioningConfiguration": {"status": "Suspended"}}));
    ver.create(&env.ctx("ver"), &suspended).await.unwrap();
    assert!(ver
        .recover(&env.ctx("ver"), &enabled)
        .await
        .unwrap()
        .is_none());
    let pol = env.p("aws:s3:BucketPolicy");
    pol.create(
        &env.ctx("pol"),
        &map(serde_json::json!({"bucket": b, "policy": tls_only(&b)})),
    )
    .await
    .unwrap();
    let other = map(
        serde_json::json!({"bucket": b, "policy": tls_only(&b).replace("\"Deny\"", "\"Allow\"")}),
    );
    assert!(pol
        .recover(&env.ctx("pol"), &other)
        .await
        .unwrap()
        .is_none());
}

/// A replace deletes first only where the new object would take the old
/// one's name: a role (new path, same name) and a repository (new
/// encryption, same name). A bucket or OIDC provider is replaced only for a
/// new name or URL, so the new one is made before the old one goes.
#[test]
fn replace_order_follows_physical_names() {
    let mut reg = Registry::new();
    register_with(
        &mut reg,
        Arc::new(AwsClients::lazy(Some("http://127.0.0.1:9"))),
    );
    for (token, fixed) in [
        ("aws:iam:Role", true),
        ("aws:ecr:Repository", true),
        ("aws:s3:Bucket", false),
        ("aws:iam:OpenIdConnectProvider", false),
        ("aws:iam:RolePolicyAttachment", false),
        ("aws:s3:BucketPolicy", false),
    ] {
        assert_eq!(
            reg.schema(token).unwrap().fixed_physical_name,
            fixed,
            "{token}"
        );
    }
}
