use cairn_builtin::{DataProvider, PasswordProvider};
use cairn_core::provider::{CallContext, ResourceProvider};
use cairn_core::value::{Map, Value};

#[tokio::test]
async fn password_is_secret_alphanumeric_and_of_the_asked_length() {
    let p = PasswordProvider::new();
    let mut inputs = Map::new();
    inputs.insert("length".into(), Value::Int(64));
    let created = p
        .create(&CallContext::new("s", "token"), &inputs)
        .await
        .unwrap();
    let result = &created.outputs["result"];
    assert!(result.is_secret());
    let text = result.as_str().unwrap();
    assert_eq!(text.len(), 64);
    assert!(text.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(format!("{result}"), "[secret]");
    assert!(
        !format!("{result:?}").contains(text),
        "Debug must mask the secret"
    );
    let again = p
        .create(&CallContext::new("s", "token"), &inputs)
        .await
        .unwrap();
    assert_ne!(
        again.outputs["result"], created.outputs["result"],
        "two draws must differ"
    );
}

async fn password(inputs: serde_json::Value) -> String {
    let inputs = match Value::from_json(&inputs) {
        Value::Map(m) => m,
        _ => unreachable!(),
    };
    let created = PasswordProvider::new()
        .create(&CallContext::new("s", "t"), &inputs)
        .await
        .unwrap();
    created.outputs["result"].as_str().unwrap().to_string()
}

// 1024 characters (the maximum) make a draw without a special character
// vanishingly unlikely: (62/64)^1024 < 1e-14 for two specials.
#[tokio::test]
async fn special_characters_come_from_override() {
    let text =
        password(serde_json::json!({"length": 1024, "special": true, "overrideSpecial": "!&"}))
            .await;
    assert_eq!(text.chars().count(), 1024);
    assert!(text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '!' || c == '&'));
    assert!(
        text.contains('!') || text.contains('&'),
        "special: true drew no special character"
    );
}

#[tokio::test]
async fn special_uses_the_default_set_and_false_means_none() {
    let text = password(serde_json::json!({"length": 1024, "special": true})).await;
    assert!(
        text.chars().any(|c| !c.is_ascii_alphanumeric()),
        "special: true drew no special character"
    );
    assert!(text.chars().all(|c| c.is_ascii_graphic()));
    for inputs in [
        serde_json::json!({"length": 1024, "special": false, "overrideSpecial": "!&"}),
        serde_json::json!({"length": 1024}),
    ] {
        let text = password(inputs.clone()).await;
        assert!(
            text.chars().all(|c| c.is_ascii_alphanumeric()),
            "{inputs}: a special character while special is off"
        );
    }
}

#[tokio::test]
async fn data_echoes_its_input() {
    let p = DataProvider::new();
    let mut inputs = Map::new();
    inputs.insert("input".into(), Value::from("hello"));
    let created = p
        .create(&CallContext::new("s", "d"), &inputs)
        .await
        .unwrap();
    assert_eq!(created.outputs["output"], Value::from("hello"));
    assert!(!p.has_external_effects());
}
