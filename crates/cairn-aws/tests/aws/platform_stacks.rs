//! What bringing up the platform stacks (`stacks/eks.template.yaml`)
//! needs from the provider and the emulator: the OIDC provider's `url`
//! output (the issuer without `https://`, the prefix of IRSA trust
//! condition keys) and AWS managed policies that roles can attach.

use super::*;

#[tokio::test]
async fn oidc_provider_url_output_is_the_issuer_without_its_scheme() {
    let env = setup().await;
    let p = env.p("aws:iam:OpenIdConnectProvider");
    let ctx = env.ctx("oidc");
    let host = format!(
        "oidc.eks.us-east-1.amazonaws.com/id/{}",
        env.tag.to_uppercase()
    );
    let inputs = map(serde_json::json!({
        "url": format!("https://{host}"),
        "clientIdLists": ["sts.amazonaws.com"],
    }));
    let created = p.create(&ctx, &inputs).await.expect("create provider");
    assert_eq!(
        created.outputs.get("url").and_then(Value::as_str),
        Some(host.as_str()),
        "create"
    );
    let seen = p.read(&ctx, &created.id, &inputs).await.unwrap().unwrap();
    assert_eq!(
        seen.outputs.get("url").and_then(Value::as_str),
        Some(host.as_str()),
        "read"
    );
    let schema = p.schema();
    assert!(
        schema.outputs.iter().any(|o| o.name == "url"),
        "the schema declares the `url` output"
    );
    p.delete(&ctx, &created.id, &inputs, &created.outputs)
        .await
        .expect("delete");
}

#[tokio::test]
async fn aws_managed_policies_attach_to_roles() {
    let env = setup().await;
    let roles = env.p("aws:iam:Role");
    let p = env.p("aws:iam:RolePolicyAttachment");
    let name = format!("eks-cluster-{}", env.tag);
    let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "eks.amazonaws.com"}}]}).to_string();
    let role_in = map(serde_json::json!({"name": name, "assumeRolePolicy": trust}));
    let role = roles
        .create(&env.ctx("role"), &role_in)
        .await
        .expect("role");
    for arn in [
        "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    ] {
        let inputs = map(serde_json::json!({"role": name, "policyArn": arn}));
        let ctx = env.ctx("attach");
        let created = p
            .create(&ctx, &inputs)
            .await
            .unwrap_or_else(|e| panic!("attach {arn}: {e}"));
        assert!(p.read(&ctx, &created.id, &inputs).await.unwrap().is_some());
        p.delete(&ctx, &created.id, &inputs, &created.outputs)
            .await
            .expect("detach");
    }
    roles
        .delete(&env.ctx("role"), &role.id, &role_in, &role.outputs)
        .await
        .expect("delete role");
}
