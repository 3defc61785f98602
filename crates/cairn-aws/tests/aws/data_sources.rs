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
