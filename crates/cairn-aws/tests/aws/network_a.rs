//! The network types Vpc, Subnet, InternetGateway, Eip and NatGateway
//! against the emulator: create, read back with no diff, import by id, an
//! in-place update, what replaces, delete, adopt after a lost answer, and
//! refusing an object that carries another resource's tag.

use super::*;
use aws_sdk_ec2::types::{ResourceType as Ec2Rt, Tag, TagSpecification};

fn tagged(kind: Ec2Rt, urn: &str, token: Option<&str>) -> TagSpecification {
    let mut b = TagSpecification::builder()
        .resource_type(kind)
        .tags(Tag::builder().key("cairn:urn").value(urn).build());
    if let Some(t) = token {
        b = b.tags(Tag::builder().key("cairn:create-token").value(t).build());
    }
    b.build()
}

fn with_token(ctx: &CallContext, token: &str) -> CallContext {
    let mut c = ctx.clone();
    c.create_token = Some(token.to_string());
    c
}

fn assert_not_owned(r: Result<Option<cairn_core::provider::Created>, ProviderError>, other: &str) {
    match r {
        Err(ProviderError::NotOwned { found, .. }) => {
            assert!(found.contains(other), "names the other owner: {found}")
        }
        other => panic!("expected NotOwned, got {other:?}"),
    }
}

/// The read of a just-made resource equals what the stack wrote, key by key.
fn assert_reads_back(seen: &Map, inputs: &Map) {
    for (k, v) in inputs {
        assert_eq!(seen.get(k), Some(v), "{k} reads back");
    }
}

fn replaces(env: &Env, token: &str) -> Vec<String> {
    let mut r: Vec<String> = env
        .p(token)
        .schema()
        .properties
        .iter()
        .filter(|p| p.replace_on_change)
        // Every AWS type's per-resource `region` replaces (tested with providers).
        .filter(|p| p.name != cairn_aws::regional::REGION)
        .map(|p| p.name.clone())
        .collect();
    r.sort();
    r
}

async fn sdk_vpc(ec2: &aws_sdk_ec2::Client, cidr: &str) -> String {
    ec2.create_vpc()
        .cidr_block(cidr)
        .send()
        .await
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_string()
}

async fn sdk_subnet(ec2: &aws_sdk_ec2::Client, vpc: &str, cidr: &str) -> String {
    ec2.create_subnet()
        .vpc_id(vpc)
        .cidr_block(cidr)
        .availability_zone("us-east-1a")
        .send()
        .await
        .unwrap()
        .subnet()
        .unwrap()
        .subnet_id()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn vpc_lifecycle_import_update_recover() {
    let env = setup().await;
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk_config().await);
    let p = env.p("aws:ec2:Vpc");
    assert_eq!(replaces(&env, "aws:ec2:Vpc"), vec!["cidrBlock"]);
    let ctx = with_token(&env.ctx("vpc"), "tok-1");
    let inputs = p.schema().normalize_inputs(&map(serde_json::json!({
        "cidrBlock": "10.0.0.0/16",
        "enableDnsHostnames": true,
        "tags": {"Name": "main"}
    })));
    let created = p.create(&ctx, &inputs).await.expect("create");
    assert!(created.id.starts_with("vpc-"), "{}", created.id);
    assert_eq!(s(&created.outputs, "cidrBlock"), "10.0.0.0/16");
    assert!(s(&created.outputs, "arn").ends_with(&format!(":vpc/{}", created.id)));
    let seen = p.read(&ctx, &created.id, &inputs).await.unwrap().unwrap();
    assert_eq!(seen.inputs, inputs, "a second preview is empty");
    // Import by id: the read needs only the id.
    let imported = p
        .read(&ctx, &created.id, &Map::new())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(imported.inputs, inputs);

    // In place: DNS host names off, a tag changed.
    let mut new = inputs.clone();
    new.insert("enableDnsHostnames".into(), Value::Bool(false));
    new.insert(
        "tags".into(),
        Value::from_json(&serde_json::json!({"Name": "main2"})),
    );
    p.update(&ctx, &created.id, &inputs, &new, &created.outputs)
        .await
        .expect("update");
    let attr = ec2
        .describe_vpc_attribute()
        .vpc_id(&created.id)
        .attribute(aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames)
        .send()
        .await
        .unwrap();
    assert_eq!(attr.enable_dns_hostnames().unwrap().value(), Some(false));
    assert_eq!(
        p.read(&ctx, &created.id, &new)
            .await
            .unwrap()
            .unwrap()
            .inputs,
        new
    );

    // A lost answer: recovery finds what this intent made.
    assert_eq!(p.recover(&ctx, &new).await.unwrap().unwrap().id, created.id);
    // An object made with this intent's token but tagged for another resource is refused.
    ec2.create_vpc()
        .cidr_block("10.9.0.0/16")
        .tag_specifications(tagged(Ec2Rt::Vpc, "other/vpc", Some("tok-2")))
        .send()
        .await
        .unwrap();
    assert_not_owned(
        p.recover(&with_token(&ctx, "tok-2"), &new).await,
        "other/vpc",
    );
    // Nothing tagged for a resource that never made one.
    assert!(p
        .recover(&env.ctx("nothing"), &new)
        .await
        .unwrap()
        .is_none());

    p.delete(&ctx, &created.id, &new, &created.outputs)
        .await
        .expect("delete");
    assert!(p.read(&ctx, &created.id, &new).await.unwrap().is_none());
    p.delete(&ctx, &created.id, &new, &created.outputs)
        .await
        .expect("idempotent delete");
    // An id that never existed reads as gone.
    assert!(p
        .read(&ctx, "vpc-0123456789abcdef0", &new)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn subnet_lifecycle_import_update_recover() {
    let env = setup().await;
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk_config().await);
    let vpc = sdk_vpc(&ec2, "10.0.0.0/16").await;
    let p = env.p("aws:ec2:Subnet");
    assert_eq!(
        replaces(&env, "aws:ec2:Subnet"),
        vec!["availabilityZone", "cidrBlock", "vpcId"]
    );
    let ctx = env.ctx("public-a");
    let inputs = p.schema().normalize_inputs(&map(serde_json::json!({
        "vpcId": vpc,
        "cidrBlock": "10.0.1.0/24",
        "availabilityZone": "us-east-1a",
        "tags": {"Tier": "public"}
    })));
    let created = p.create(&ctx, &inputs).await.expect("create");
    assert!(created.id.starts_with("subnet-"));
    assert_eq!(s(&created.outputs, "availabilityZone"), "us-east-1a");
    let seen = p.read(&ctx, &created.id, &inputs).await.unwrap().unwrap();
    assert_eq!(seen.inputs, inputs);
    let imported = p
        .read(&ctx, &created.id, &Map::new())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(imported.inputs, inputs);

    let mut new = inputs.clone();
    new.insert("mapPublicIpOnLaunch".into(), Value::Bool(true));
    p.update(&ctx, &created.id, &inputs, &new, &created.outputs)
        .await
        .expect("update");
    let live = ec2
        .describe_subnets()
        .subnet_ids(&created.id)
        .send()
        .await
        .unwrap();
    assert_eq!(live.subnets()[0].map_public_ip_on_launch(), Some(true));
    assert_reads_back(
        &p.read(&ctx, &created.id, &new)
            .await
            .unwrap()
            .unwrap()
            .inputs,
        &new,
    );

    assert_eq!(p.recover(&ctx, &new).await.unwrap().unwrap().id, created.id);
    // The same range in the same VPC, tagged for another resource: refused
    // by recovery and by a create that finds the range taken.
    ec2.create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.0.2.0/24")
        .tag_specifications(tagged(Ec2Rt::Subnet, "other/subnet", None))
        .send()
        .await
        .unwrap();
    let mut theirs = inputs.clone();
    theirs.insert("cidrBlock".into(), "10.0.2.0/24".into());
    let other_ctx = env.ctx("public-b");
    assert_not_owned(p.recover(&other_ctx, &theirs).await, "other/subnet");
    match p.create(&other_ctx, &theirs).await {
        Err(ProviderError::NotOwned { found, .. }) => assert!(found.contains("other/subnet")),
        other => panic!("expected NotOwned, got {other:?}"),
    }

    p.delete(&ctx, &created.id, &new, &created.outputs)
        .await
        .expect("delete");
    assert!(p.read(&ctx, &created.id, &new).await.unwrap().is_none());
}

#[tokio::test]
async fn internet_gateway_moves_between_vpcs_in_place() {
    let env = setup().await;
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk_config().await);
    let (a, b) = (
        sdk_vpc(&ec2, "10.0.0.0/16").await,
        sdk_vpc(&ec2, "10.1.0.0/16").await,
    );
    let p = env.p("aws:ec2:InternetGateway");
    assert!(replaces(&env, "aws:ec2:InternetGateway").is_empty());
    let ctx = env.ctx("igw");
    let inputs = map(serde_json::json!({"vpcId": a, "tags": {"Name": "igw"}}));
    let created = p.create(&ctx, &inputs).await.expect("create");
    assert!(created.id.starts_with("igw-"));
    assert_eq!(
        p.read(&ctx, &created.id, &inputs)
            .await
            .unwrap()
            .unwrap()
            .inputs,
        inputs
    );
    assert_eq!(
        p.read(&ctx, &created.id, &Map::new())
            .await
            .unwrap()
            .unwrap()
            .inputs,
        inputs
    );

    let mut new = inputs.clone();
    new.insert("vpcId".into(), b.as_str().into());
    p.update(&ctx, &created.id, &inputs, &new, &created.outputs)
        .await
        .expect("move");
    let live = ec2
        .describe_internet_gateways()
        .internet_gateway_ids(&created.id)
        .send()
        .await
        .unwrap();
    let vpcs: Vec<&str> = live.internet_gateways()[0]
        .attachments()
        .iter()
        .filter_map(|x| x.vpc_id())
        .collect();
    assert_eq!(vpcs, vec![b.as_str()]);
    assert_eq!(
        p.read(&ctx, &created.id, &new)
            .await
            .unwrap()
            .unwrap()
            .inputs,
        new
    );

    assert_eq!(p.recover(&ctx, &new).await.unwrap().unwrap().id, created.id);
    // The VPC's gateway is somebody else's: refused.
    let c = sdk_vpc(&ec2, "10.2.0.0/16").await;
    let theirs = ec2
        .create_internet_gateway()
        .tag_specifications(tagged(Ec2Rt::InternetGateway, "other/igw", None))
        .send()
        .await
        .unwrap();
    ec2.attach_internet_gateway()
        .internet_gateway_id(
            theirs
                .internet_gateway()
                .unwrap()
                .internet_gateway_id()
                .unwrap(),
        )
        .vpc_id(&c)
        .send()
        .await
        .unwrap();
    assert_not_owned(
        p.recover(&env.ctx("igw2"), &map(serde_json::json!({"vpcId": c})))
            .await,
        "other/igw",
    );

    p.delete(&ctx, &created.id, &new, &created.outputs)
        .await
        .expect("delete");
    assert!(p.read(&ctx, &created.id, &new).await.unwrap().is_none());
}

#[tokio::test]
async fn eip_and_nat_gateway_wait_and_release_in_order() {
    let env = setup().await;
    env._emulator.set_delay_ms(600).await.unwrap();
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk_config().await);
    let vpc = sdk_vpc(&ec2, "10.0.0.0/16").await;
    let subnet = sdk_subnet(&ec2, &vpc, "10.0.0.0/24").await;
    let eip = env.p("aws:ec2:Eip");
    let nat = env.p("aws:ec2:NatGateway");
    assert_eq!(replaces(&env, "aws:ec2:Eip"), vec!["domain"]);
    assert_eq!(
        replaces(&env, "aws:ec2:NatGateway"),
        vec!["allocationId", "connectivityType", "subnetId"]
    );

    let ectx = with_token(&env.ctx("nat-ip"), "e-1");
    let einputs = eip
        .schema()
        .normalize_inputs(&map(serde_json::json!({"tags": {"Name": "nat"}})));
    let ip = eip.create(&ectx, &einputs).await.expect("allocate");
    assert!(ip.id.starts_with("eipalloc-"));
    assert_eq!(s(&ip.outputs, "allocationId"), ip.id);
    assert!(!s(&ip.outputs, "publicIp").is_empty());
    assert_eq!(
        eip.read(&ectx, &ip.id, &einputs)
            .await
            .unwrap()
            .unwrap()
            .inputs,
        einputs
    );
    assert_eq!(
        eip.read(&ectx, &ip.id, &Map::new())
            .await
            .unwrap()
            .unwrap()
            .inputs,
        einputs
    );
    let mut enew = einputs.clone();
    enew.insert(
        "tags".into(),
        Value::from_json(&serde_json::json!({"Name": "nat-a"})),
    );
    eip.update(&ectx, &ip.id, &einputs, &enew, &ip.outputs)
        .await
        .expect("retag");
    assert_eq!(
        eip.read(&ectx, &ip.id, &enew)
            .await
            .unwrap()
            .unwrap()
            .inputs,
        enew
    );
    assert_eq!(eip.recover(&ectx, &enew).await.unwrap().unwrap().id, ip.id);
    ec2.allocate_address()
        .domain(aws_sdk_ec2::types::DomainType::Vpc)
        .tag_specifications(tagged(Ec2Rt::ElasticIp, "other/ip", Some("e-2")))
        .send()
        .await
        .unwrap();
    assert_not_owned(
        eip.recover(&with_token(&ectx, "e-2"), &enew).await,
        "other/ip",
    );

    // The NAT gateway: pending, then available.
    let (nctx, log) = logged(&with_token(&env.ctx("nat"), "n-1"));
    let ninputs = nat.schema().normalize_inputs(&map(serde_json::json!({
        "allocationId": ip.id,
        "subnetId": subnet,
        "tags": {"Name": "nat-a"}
    })));
    let gw = nat.create(&nctx, &ninputs).await.expect("create NAT");
    assert!(gw.id.starts_with("nat-"));
    assert_eq!(s(&gw.outputs, "publicIp"), s(&ip.outputs, "publicIp"));
    let seen = log.lock().unwrap().clone();
    assert!(
        seen.iter().any(|l| l.starts_with("pending")),
        "waited through pending: {seen:?}"
    );
    assert_eq!(
        nat.read(&nctx, &gw.id, &ninputs)
            .await
            .unwrap()
            .unwrap()
            .inputs,
        ninputs
    );
    assert_eq!(
        nat.read(&nctx, &gw.id, &Map::new())
            .await
            .unwrap()
            .unwrap()
            .inputs,
        ninputs
    );
    // The same intent's create again (a lost answer, retried): the ClientToken
    // makes AWS answer with the same gateway.
    assert_eq!(nat.create(&nctx, &ninputs).await.unwrap().id, gw.id);
    assert_eq!(
        nat.recover(&nctx, &ninputs).await.unwrap().unwrap().id,
        gw.id
    );
    let mut nnew = ninputs.clone();
    nnew.insert(
        "tags".into(),
        Value::from_json(&serde_json::json!({"Name": "nat-b"})),
    );
    nat.update(&nctx, &gw.id, &ninputs, &nnew, &gw.outputs)
        .await
        .expect("retag");
    assert_eq!(
        nat.read(&nctx, &gw.id, &nnew)
            .await
            .unwrap()
            .unwrap()
            .inputs,
        nnew
    );

    // The address cannot be released while the gateway holds it.
    let mut short = ectx.clone();
    short.timeouts.delete = Some(1);
    match eip.delete(&short, &ip.id, &enew, &ip.outputs).await {
        Err(ProviderError::Api { code, .. }) => assert_eq!(code, "InvalidIPAddress.InUse"),
        other => panic!("release while in use: {other:?}"),
    }

    // A gateway holding another address in another subnet, not ours: refused.
    let subnet2 = sdk_subnet(&ec2, &vpc, "10.0.1.0/24").await;
    let ip2 = ec2
        .allocate_address()
        .domain(aws_sdk_ec2::types::DomainType::Vpc)
        .send()
        .await
        .unwrap();
    let ip2 = ip2.allocation_id().unwrap().to_string();
    ec2.create_nat_gateway()
        .subnet_id(&subnet2)
        .allocation_id(&ip2)
        .tag_specifications(tagged(Ec2Rt::Natgateway, "other/nat", None))
        .send()
        .await
        .unwrap();
    assert_not_owned(
        nat.recover(
            &env.ctx("nat2"),
            &map(serde_json::json!({"subnetId": subnet2, "allocationId": ip2})),
        )
        .await,
        "other/nat",
    );

    // Delete waits for `deleted`; then the address is released.
    let (dctx, log) = logged(&nctx);
    nat.delete(&dctx, &gw.id, &nnew, &gw.outputs)
        .await
        .expect("delete NAT");
    let seen = log.lock().unwrap().clone();
    assert!(
        seen.iter().any(|l| l.starts_with("deleting")),
        "waited through deleting: {seen:?}"
    );
    assert!(nat.read(&nctx, &gw.id, &nnew).await.unwrap().is_none());
    eip.delete(&ectx, &ip.id, &enew, &ip.outputs)
        .await
        .expect("release");
    assert!(eip.read(&ectx, &ip.id, &enew).await.unwrap().is_none());
    nat.delete(&nctx, &gw.id, &nnew, &gw.outputs)
        .await
        .expect("idempotent delete");
    // Ids that never existed read as gone (AWS: NatGatewayNotFound,
    // InvalidAllocationID.NotFound) and delete as done.
    assert!(nat
        .read(&nctx, "nat-0123456789abcdef0", &nnew)
        .await
        .unwrap()
        .is_none());
    nat.delete(&nctx, "nat-0123456789abcdef0", &nnew, &gw.outputs)
        .await
        .expect("delete of an unknown NAT gateway");
    assert!(eip
        .read(&ectx, "eipalloc-0123456789abcdef0", &enew)
        .await
        .unwrap()
        .is_none());
}
