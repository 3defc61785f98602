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

#[tokio::test]
async fn special_characters_come_from_override() {
    let p = PasswordProvider::new();
    let mut inputs = Map::new();
    inputs.insert("length".into(), Value::Int(200));
    inputs.insert("special".into(), Value::Bool(true));
    inputs.insert("overrideSpecial".into(), Value::from("!&"));
    let created = p
        .create(&CallContext::new("s", "t"), &inputs)
        .await
        .unwrap();
    let text = created.outputs["result"].as_str().unwrap().to_string();
    assert!(text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '!' || c == '&'));
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
