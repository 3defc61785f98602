//! `aws:rds:getEngineVersion` against the emulator's DescribeDBEngineVersions
//! (a fixed PostgreSQL catalogue: 14.12, 14.13, 15.7, 15.8, 16.3, 16.4; the
//! default of each major version its latest, the engine's 16.4).

use super::*;
use cairn_core::value::{Map, Value};

const TOKEN: &str = "aws:rds:getEngineVersion";

async fn engine_version(env: &Env, args: serde_json::Value) -> Result<Map, String> {
    let args = map(args);
    let ds = env
        .reg
        .prepare_invoke(TOKEN, &args)
        .unwrap_or_else(|e| panic!("refused: {e:?}"));
    ds.invoke(&env.ctx(TOKEN), &args)
        .await
        .map_err(|e| e.to_string())
}

fn text<'a>(m: &'a Map, k: &str) -> &'a str {
    m.get(k)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {k} in {m:?}"))
}

#[tokio::test]
async fn rds_engine_version_choices() {
    let env = setup().await;

    // The engine's default version.
    let d = engine_version(&env, serde_json::json!({"engine": "postgres"}))
        .await
        .expect("default");
    assert_eq!(text(&d, "version"), "16.4");
    assert_eq!(text(&d, "versionActual"), "16.4");
    assert_eq!(text(&d, "id"), "16.4");
    assert_eq!(text(&d, "parameterGroupFamily"), "postgres16");
    assert_eq!(text(&d, "engine"), "postgres");
    assert_eq!(text(&d, "status"), "available");
    assert_eq!(d["supportsReadReplica"], Value::Bool(true));

    // A major version: its default with defaultOnly, its latest with latest;
    // `version` stays as written, `versionActual` is the one found.
    let m = engine_version(
        &env,
        serde_json::json!({"engine": "postgres", "version": "15", "defaultOnly": true}),
    )
    .await
    .expect("major default");
    assert_eq!(text(&m, "version"), "15");
    assert_eq!(text(&m, "versionActual"), "15.8");
    assert_eq!(text(&m, "parameterGroupFamily"), "postgres15");
    let l = engine_version(
        &env,
        serde_json::json!({"engine": "postgres", "version": "14", "latest": true}),
    )
    .await
    .expect("latest 14");
    assert_eq!(text(&l, "versionActual"), "14.13");
    let upgrades: Vec<&str> = l["validMajorTargets"]
        .as_list()
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(upgrades, ["15.7", "15.8", "16.3", "16.4"]);
    assert_eq!(l["validMinorTargets"], Value::List(vec![]));

    // Several matches and nothing to choose: refused, naming them.
    let several = engine_version(
        &env,
        serde_json::json!({"engine": "postgres", "version": "16"}),
    )
    .await
    .expect_err("two 16.x");
    assert!(
        several.contains("16.3") && several.contains("16.4"),
        "{several}"
    );

    // Preferred versions: the first that exists.
    let p = engine_version(
        &env,
        serde_json::json!({"engine": "postgres", "preferredVersions": ["13.1", "15.7", "16.3"]}),
    )
    .await
    .expect("preferred");
    assert_eq!(text(&p, "versionActual"), "15.7");
    assert_eq!(text(&p, "version"), "15.7");

    // A family filter, and the latest of it.
    let f = engine_version(
        &env,
        serde_json::json!({"engine": "postgres", "parameterGroupFamily": "postgres14", "latest": true}),
    )
    .await
    .expect("family");
    assert_eq!(text(&f, "versionActual"), "14.13");

    // Nothing matches.
    let none = engine_version(
        &env,
        serde_json::json!({"engine": "postgres", "version": "9.6.1"}),
    )
    .await
    .expect_err("no 9.6.1");
    assert!(none.contains("no RDS engine version"), "{none}");

    // The API answers as AWS's does.
    let rds = aws_sdk_rds::Client::new(&env.sdk_config().await);
    let all = rds
        .describe_db_engine_versions()
        .engine("postgres")
        .send()
        .await
        .expect("describe");
    assert_eq!(all.db_engine_versions().len(), 6);
}
