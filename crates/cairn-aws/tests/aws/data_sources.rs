//! `fn::invoke` data sources against the emulator, through the real SDK.

use super::*;
use cairn_core::provider::InvokeError;
use cairn_core::value::{Map, Value};

async fn invoke(env: &Env, token: &str, args: Map) -> Map {
    let ds = match env.reg.prepare_invoke(token, &args) {
        Ok(ds) => ds,
        Err(e) => panic!("{token}: refused: {e:?}"),
    };
    ds.invoke(&env.ctx(token), &args)
        .await
        .unwrap_or_else(|e| panic!("{token}: {e}"))
}

fn strs(v: &Value) -> Vec<String> {
    v.as_list()
        .unwrap_or_default()
        .iter()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn caller_identity_region_and_zones() {
    let env = setup().await;
    let sts = aws_sdk_sts::Client::new(&env.sdk_config().await);
    let who = sts.get_caller_identity().send().await.expect("sts");

    let id = invoke(&env, "aws:getCallerIdentity", Map::new()).await;
    assert_eq!(id["accountId"].as_str(), who.account());
    assert_eq!(id["arn"].as_str(), who.arn());
    assert_eq!(id["userId"].as_str(), who.user_id());
    assert_eq!(id["id"], id["accountId"]);

    let region = invoke(&env, "aws:getRegion", Map::new()).await;
    let sdk_region = env.sdk_config().await.region().map(|r| r.to_string());
    assert_eq!(region["name"].as_str().map(str::to_string), sdk_region);
    assert!(
        region["endpoint"].as_str().unwrap_or("").contains("ec2."),
        "{region:?}"
    );

    let zones = invoke(&env, "aws:getAvailabilityZones", Map::new()).await;
    let ec2 = aws_sdk_ec2::Client::new(&env.sdk_config().await);
    let live = ec2
        .describe_availability_zones()
        .send()
        .await
        .expect("describe zones");
    let mut expected: Vec<String> = live
        .availability_zones()
        .iter()
        .filter_map(|z| z.zone_name().map(str::to_string))
        .collect();
    expected.sort();
    assert!(expected.len() >= 2, "{expected:?}");
    assert_eq!(strs(&zones["names"]), expected);
    assert_eq!(strs(&zones["zoneIds"]).len(), expected.len());

    let mut args = Map::new();
    args.insert(
        "excludeNames".into(),
        Value::List(vec![Value::String(expected[0].clone())]),
    );
    let fewer = invoke(&env, "aws:getAvailabilityZones", args).await;
    assert_eq!(strs(&fewer["names"]), expected[1..].to_vec());
}

#[tokio::test]
async fn arguments_are_checked_before_any_call() {
    let env = setup().await;
    let mut args = Map::new();
    args.insert("nmae".into(), Value::String("x".into()));
    match env.reg.prepare_invoke("aws:getRegion", &args) {
        Err(InvokeError::Invalid(f)) => {
            assert!(f[0].message.contains("no argument `nmae`"), "{f:?}");
            assert_eq!(f[0].help.as_deref(), Some("did you mean `name`?"));
        }
        other => panic!("accepted: {:?}", other.err()),
    }
    match env.reg.prepare_invoke("aws:getRegoin", &Map::new()) {
        Err(InvokeError::Unknown { suggestion }) => {
            assert_eq!(suggestion.as_deref(), Some("aws:getRegion"))
        }
        other => panic!("found: {:?}", other.err()),
    }
    let mut bad = Map::new();
    bad.insert("excludeNames".into(), Value::String("a".into()));
    assert!(matches!(
        env.reg.prepare_invoke("aws:getAvailabilityZones", &bad),
        Err(InvokeError::Invalid(_))
    ));
    // The emulator saw no call: the clients were never built.
    assert!(!env.clients.is_loaded());
}

fn args(pairs: Vec<(&str, Value)>) -> Map {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn sv(v: &str) -> Value {
    Value::String(v.to_string())
}

#[tokio::test]
async fn ec2_kms_and_secret_lookups() {
    let env = setup().await;
    let cfg = env.sdk_config().await;
    let ec2 = aws_sdk_ec2::Client::new(&cfg);
    let tag = |k: &str, v: &str| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build();
    let spec = |ty: aws_sdk_ec2::types::ResourceType, tags: Vec<aws_sdk_ec2::types::Tag>| {
        aws_sdk_ec2::types::TagSpecification::builder()
            .resource_type(ty)
            .set_tags(Some(tags))
            .build()
    };
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.42.0.0/16")
        .tag_specifications(spec(
            aws_sdk_ec2::types::ResourceType::Vpc,
            vec![tag("Name", &env.tag)],
        ))
        .send()
        .await
        .expect("vpc");
    let vpc_id = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_string();
    let mut private = Vec::new();
    for (i, tier) in ["private", "private", "public"].iter().enumerate() {
        let sn = ec2
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block(format!("10.42.{i}.0/24"))
            .tag_specifications(spec(
                aws_sdk_ec2::types::ResourceType::Subnet,
                vec![tag("Tier", tier)],
            ))
            .send()
            .await
            .expect("subnet");
        if *tier == "private" {
            private.push(
                sn.subnet()
                    .and_then(|s| s.subnet_id())
                    .expect("id")
                    .to_string(),
            );
        }
    }
    let sg = ec2
        .create_security_group()
        .group_name(format!("sg-{}", env.tag))
        .description("lookup me")
        .vpc_id(&vpc_id)
        .send()
        .await
        .expect("sg");
    let sg_id = sg.group_id().expect("sg id").to_string();

    // getVpc by tag; by id; several matches is an error.
    let mut tags = Map::new();
    tags.insert("Name".into(), sv(&env.tag));
    let got = invoke(
        &env,
        "aws:ec2:getVpc",
        args(vec![("tags", Value::Map(tags))]),
    )
    .await;
    assert_eq!(got["id"].as_str(), Some(vpc_id.as_str()));
    assert_eq!(got["cidrBlock"].as_str(), Some("10.42.0.0/16"));
    let by_id = invoke(&env, "aws:ec2:getVpc", args(vec![("id", sv(&vpc_id))])).await;
    assert_eq!(by_id["arn"], got["arn"]);
    let ds = env.reg.data_source("aws:ec2:getVpc").expect("registered");
    let err = ds
        .invoke(&env.ctx("x"), &Map::new())
        .await
        .expect_err("many VPCs");
    assert!(err.to_string().contains("must match exactly one"), "{err}");

    // getSubnets: a filter and tags together.
    let mut tier = Map::new();
    tier.insert("Tier".into(), sv("private"));
    let filter = Value::List(vec![Value::Map(args(vec![
        ("name", sv("vpc-id")),
        ("values", Value::List(vec![sv(&vpc_id)])),
    ]))]);
    let subnets = invoke(
        &env,
        "aws:ec2:getSubnets",
        args(vec![("filters", filter), ("tags", Value::Map(tier))]),
    )
    .await;
    let mut ids = strs(&subnets["ids"]);
    ids.sort();
    private.sort();
    assert_eq!(ids, private);

    let group = invoke(
        &env,
        "aws:ec2:getSecurityGroup",
        args(vec![
            ("name", sv(&format!("sg-{}", env.tag))),
            ("vpcId", sv(&vpc_id)),
        ]),
    )
    .await;
    assert_eq!(group["id"].as_str(), Some(sg_id.as_str()));
    assert_eq!(group["description"].as_str(), Some("lookup me"));

    // kms:getAlias.
    let kms = aws_sdk_kms::Client::new(&cfg);
    let key = kms.create_key().send().await.expect("key");
    let meta = key.key_metadata().expect("meta");
    let alias = format!("alias/{}", env.tag);
    kms.create_alias()
        .alias_name(&alias)
        .target_key_id(meta.key_id())
        .send()
        .await
        .expect("alias");
    let got = invoke(&env, "aws:kms:getAlias", args(vec![("name", sv(&alias))])).await;
    assert_eq!(got["targetKeyId"].as_str(), Some(meta.key_id()));
    assert_eq!(got["targetKeyArn"].as_str(), meta.arn());
    assert!(
        got["arn"].as_str().unwrap_or("").ends_with(&alias),
        "{got:?}"
    );
    assert!(matches!(
        env.reg
            .prepare_invoke("aws:kms:getAlias", &args(vec![("name", sv("app"))])),
        Err(InvokeError::Invalid(_))
    ));

    // secretsmanager:getSecret: metadata only.
    let sm = aws_sdk_secretsmanager::Client::new(&cfg);
    let name = format!("lookup/{}", env.tag);
    let made = sm
        .create_secret()
        .name(&name)
        .description("db password")
        .secret_string("hunter2")
        .send()
        .await
        .expect("secret");
    let got = invoke(
        &env,
        "aws:secretsmanager:getSecret",
        args(vec![("name", sv(&name))]),
    )
    .await;
    assert_eq!(got["arn"].as_str(), made.arn());
    assert_eq!(got["description"].as_str(), Some("db password"));
    assert!(!format!("{got:?}").contains("hunter2"));
    assert!(matches!(
        env.reg
            .prepare_invoke("aws:secretsmanager:getSecret", &Map::new()),
        Err(InvokeError::Invalid(_))
    ));
}
