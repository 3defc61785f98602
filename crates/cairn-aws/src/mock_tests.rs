//! Unit tests against aws-smithy-mocks for failures an emulator cannot
//! produce: throttling, busy states, in-use groups, scheduled deletions,
//! access denied. Responses are real wire-format errors, so the SDK's own
//! error parsing and retry classification run as in production.

use crate::clients::{AwsClients, Sdk};
use crate::resources::{kms_key, parameter_group, replication_group, secret};
use aws_sdk_elasticache::operation::describe_replication_groups::DescribeReplicationGroupsOutput;
use aws_sdk_elasticache::types::{Endpoint, ReplicationGroup};
use aws_sdk_secretsmanager::operation::restore_secret::RestoreSecretOutput;
use aws_sdk_secretsmanager::operation::tag_resource::TagResourceOutput;
use aws_sdk_secretsmanager::operation::update_secret::UpdateSecretOutput;
use aws_smithy_mocks::{create_mock_http_client, mock, MockResponseInterceptor, Rule, RuleMode};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use cairn_core::provider::{CallContext, ProviderError, ResourceProvider};
use cairn_core::value::{Map, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

macro_rules! client {
    ($krate:ident, $rules:expr) => {{
        let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
        for r in $rules {
            interceptor = interceptor.with_rule(r);
        }
        $krate::Client::from_conf(
            $krate::Config::builder()
                .behavior_version($krate::config::BehaviorVersion::latest())
                .region($krate::config::Region::new("us-east-1"))
                .credentials_provider($krate::config::Credentials::new(
                    "AKID", "SECRET", None, None, "test",
                ))
                .http_client(create_mock_http_client())
                .interceptor(interceptor)
                .retry_config(fast_retries())
                .build(),
        )
    }};
}

fn fast_retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(crate::clients::MAX_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(5))
}

/// Clients for every service; those without rules are never called.
#[derive(Default)]
struct Rules<'a> {
    ec: &'a [&'a Rule],
    kms: &'a [&'a Rule],
    sm: &'a [&'a Rule],
}

fn clients(r: Rules<'_>) -> Arc<AwsClients> {
    let none: &[&Rule] = &[];
    Arc::new(AwsClients::from_sdk(Sdk {
        ec: client!(aws_sdk_elasticache, r.ec),
        kms: client!(aws_sdk_kms, r.kms),
        sm: client!(aws_sdk_secretsmanager, r.sm),
        iam: client!(aws_sdk_iam, none),
        ec2: client!(aws_sdk_ec2, none),
        sts: client!(aws_sdk_sts, none),
    }))
}

fn query_error(status: u16, code: &str, message: &str) -> HttpResponse {
    let body = format!(
        "<ErrorResponse xmlns=\"http://elasticache.amazonaws.com/doc/2015-02-02/\">\
         <Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
         <RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    );
    HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body))
}

fn json_error(status: u16, code: &str, message: &str) -> HttpResponse {
    let body = serde_json::json!({ "__type": code, "message": message }).to_string();
    HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body))
}

fn rg(status: &str) -> ReplicationGroup {
    ReplicationGroup::builder()
        .replication_group_id("redis-test")
        .status(status)
        .arn("arn:aws:elasticache:us-east-1:123456789012:replicationgroup:redis-test")
        .cluster_enabled(true)
        .configuration_endpoint(
            Endpoint::builder()
                .address("clustercfg.redis-test.example")
                .port(6380)
                .build(),
        )
        .member_clusters("redis-test-0001-001")
        .build()
}

fn described(status: &str) -> DescribeReplicationGroupsOutput {
    DescribeReplicationGroupsOutput::builder()
        .replication_groups(rg(status))
        .build()
}

fn map(j: serde_json::Value) -> Map {
    match Value::from_json(&j) {
        Value::Map(m) => m,
        _ => panic!("not an object"),
    }
}

fn ctx_with_log(name: &str) -> (CallContext, Arc<Mutex<Vec<String>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut ctx = CallContext::new("test", name);
    let sink = log.clone();
    ctx.progress = Arc::new(move |s: &str| sink.lock().unwrap().push(s.to_string()));
    (ctx, log)
}

fn api_parts(e: &ProviderError) -> (&str, &str, &str, bool) {
    match e {
        ProviderError::Api {
            resource,
            api,
            code,
            retryable,
            ..
        } => (resource.as_str(), api.as_str(), code.as_str(), *retryable),
        other => panic!("expected an Api error, got {other:?}"),
    }
}

#[tokio::test]
async fn throttled_describe_is_retried_then_succeeds() {
    let describe = mock!(aws_sdk_elasticache::Client::describe_replication_groups)
        .sequence()
        .http_response(|| query_error(400, "Throttling", "Rate exceeded"))
        .times(2)
        .http_response(|| HttpResponse::new(StatusCode::try_from(503).unwrap(), SdkBody::from("")))
        .output(|| described("available"))
        .repeatedly()
        .build();
    let c = clients(Rules {
        ec: &[&describe],
        ..Default::default()
    });
    let p = replication_group::ReplicationGroupProvider::new(c.clone());
    let (ctx, log) = ctx_with_log("redis");
    let inputs = map(serde_json::json!({"replicationGroupId": "redis-test", "port": 6379}));
    let got = p
        .recover(&ctx, &inputs)
        .await
        .expect("recovered")
        .expect("found");
    assert_eq!(got.id, "redis-test");
    assert_eq!(
        got.outputs["configurationEndpointAddress"].as_str(),
        Some("clustercfg.redis-test.example")
    );
    assert_eq!(
        got.outputs["connectionEndpointAddress"].as_str(),
        Some("clustercfg.redis-test.example")
    );
    // The port is the endpoint's, not the input's.
    assert_eq!(got.outputs["port"].as_i64(), Some(6380));
    // 2 throttles + 1 503 retried inside the first call, then the waiter's probe.
    assert_eq!(describe.num_calls(), 5);
    assert_eq!(c.describe_calls(), 1);
    assert!(log
        .lock()
        .unwrap()
        .iter()
        .any(|s| s.starts_with("available")));
}

#[tokio::test]
async fn waiter_polls_until_available_and_counts_describes() {
    let describe = mock!(aws_sdk_elasticache::Client::describe_replication_groups)
        .sequence()
        .output(|| described("creating"))
        .output(|| described("modifying"))
        .output(|| described("available"))
        .repeatedly()
        .build();
    let c = clients(Rules {
        ec: &[&describe],
        ..Default::default()
    });
    let p = replication_group::ReplicationGroupProvider::new(c.clone());
    let (ctx, log) = ctx_with_log("redis");
    let inputs = map(serde_json::json!({"replicationGroupId": "redis-test"}));
    p.recover(&ctx, &inputs).await.unwrap().unwrap();
    // adopt's lookup sees `creating`; the waiter then probes modifying, available.
    assert_eq!(describe.num_calls(), 3);
    assert_eq!(c.describe_calls(), 2);
    let log = log.lock().unwrap();
    assert!(log[0].starts_with("modifying"), "{log:?}");
    assert!(log.last().unwrap().starts_with("available"), "{log:?}");
}

#[tokio::test]
async fn waiter_times_out_with_last_status() {
    let describe = mock!(aws_sdk_elasticache::Client::describe_replication_groups)
        .then_output(|| described("modifying"));
    let c = clients(Rules {
        ec: &[&describe],
        ..Default::default()
    });
    let p = replication_group::ReplicationGroupProvider::new(c);
    let (mut ctx, _) = ctx_with_log("redis");
    ctx.timeouts.create = Some(0);
    let inputs = map(serde_json::json!({"replicationGroupId": "redis-test"}));
    let err = p.recover(&ctx, &inputs).await.unwrap_err();
    match err {
        ProviderError::Timeout { wanted, last, .. } => {
            assert_eq!(wanted, "available");
            assert_eq!(last, "modifying");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[tokio::test]
async fn modify_in_invalid_state_is_a_clear_error_without_secrets() {
    let token_old = "OldToken0123456789abcdef";
    let token_new = "NewToken0123456789abcdef";
    let describe = mock!(aws_sdk_elasticache::Client::describe_replication_groups)
        .then_output(|| described("available"));
    let msg = format!("Replication group must be in available state to modify (token {token_new})");
    let modify = mock!(aws_sdk_elasticache::Client::modify_replication_group)
        .then_http_response(move || query_error(400, "InvalidReplicationGroupState", &msg));
    let c = clients(Rules {
        ec: &[&describe, &modify],
        ..Default::default()
    });
    let p = replication_group::ReplicationGroupProvider::new(c);
    let (ctx, _) = ctx_with_log("redis");
    let old = map(
        serde_json::json!({"replicationGroupId": "redis-test", "nodeType": "cache.t3.micro", "authToken": token_old}),
    );
    let new = map(
        serde_json::json!({"replicationGroupId": "redis-test", "nodeType": "cache.t3.small", "authToken": token_new}),
    );
    let err = p
        .update(&ctx, "redis-test", &old, &new, &Map::new())
        .await
        .unwrap_err();
    let (resource, api, code, retryable) = api_parts(&err);
    assert!(resource.contains("redis"), "{resource}");
    assert_eq!(api, "elasticache:ModifyReplicationGroup");
    assert_eq!(code, "InvalidReplicationGroupState");
    assert!(!retryable);
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("available state"), "{shown}");
    assert!(
        !shown.contains(token_new) && !shown.contains(token_old),
        "secret leaked: {shown}"
    );
    // Not retried by the SDK: a state error is permanent for this call.
    assert_eq!(modify.num_calls(), 1);
}

#[tokio::test]
async fn parameter_group_in_use_retries_then_explains() {
    let delete = mock!(aws_sdk_elasticache::Client::delete_cache_parameter_group)
        .then_http_response(|| {
            query_error(
            400,
            "InvalidCacheParameterGroupState",
            "Cannot delete parameter group because it is in use by replication group redis-test",
        )
        });
    let c = clients(Rules {
        ec: &[&delete],
        ..Default::default()
    });
    let p = parameter_group::ParameterGroupProvider::new(c);
    let (ctx, _) = ctx_with_log("params");
    let err = p
        .delete(&ctx, "qualisys-redis7", &Map::new(), &Map::new())
        .await
        .unwrap_err();
    let (resource, api, code, retryable) = api_parts(&err);
    assert!(resource.contains("params") && resource.contains("aws:elasticache:ParameterGroup"));
    assert_eq!(api, "elasticache:DeleteCacheParameterGroup");
    assert_eq!(code, "InvalidCacheParameterGroupState");
    assert!(!retryable);
    assert!(err.to_string().contains("still in use"), "{err}");
    assert_eq!(delete.num_calls(), 6);
}

#[tokio::test]
async fn parameter_group_in_use_briefly_then_deleted() {
    let delete = mock!(aws_sdk_elasticache::Client::delete_cache_parameter_group)
        .sequence()
        .http_response(|| query_error(400, "InvalidCacheParameterGroupState", "in use"))
        .output(|| {
            aws_sdk_elasticache::operation::delete_cache_parameter_group::DeleteCacheParameterGroupOutput::builder().build()
        })
        .build();
    let c = clients(Rules {
        ec: &[&delete],
        ..Default::default()
    });
    let p = parameter_group::ParameterGroupProvider::new(c);
    let (ctx, _) = ctx_with_log("params");
    p.delete(&ctx, "qualisys-redis7", &Map::new(), &Map::new())
        .await
        .unwrap();
    assert_eq!(delete.num_calls(), 2);
}

#[tokio::test]
async fn parameter_updates_go_in_batches_of_twenty() {
    let modify = mock!(aws_sdk_elasticache::Client::modify_cache_parameter_group)
        .match_requests(|r| r.parameter_name_values().len() <= parameter_group::BATCH)
        .then_output(|| {
            aws_sdk_elasticache::operation::modify_cache_parameter_group::ModifyCacheParameterGroupOutput::builder().build()
        });
    let reset = mock!(aws_sdk_elasticache::Client::reset_cache_parameter_group)
        .match_requests(|r| {
            r.parameter_name_values().len() == 1
                && r.parameter_name_values()[0].parameter_name() == Some("timeout")
                && r.reset_all_parameters() == Some(false)
        })
        .then_output(|| {
            aws_sdk_elasticache::operation::reset_cache_parameter_group::ResetCacheParameterGroupOutput::builder().build()
        });
    let c = clients(Rules {
        ec: &[&modify, &reset],
        ..Default::default()
    });
    let p = parameter_group::ParameterGroupProvider::new(c);
    let (ctx, _) = ctx_with_log("params");
    let params = |n: usize| -> serde_json::Value {
        (0..n)
            .map(|i| serde_json::json!({"name": format!("p{i}"), "value": "1"}))
            .collect()
    };
    let mut old = map(serde_json::json!({"name": "g", "family": "redis7"}));
    old.insert(
        "parameters".into(),
        Value::from_json(&serde_json::json!([{"name": "timeout", "value": "0"}])),
    );
    let mut new = map(serde_json::json!({"name": "g", "family": "redis7"}));
    new.insert("parameters".into(), Value::from_json(&params(45)));
    p.update(&ctx, "g", &old, &new, &Map::new()).await.unwrap();
    assert_eq!(modify.num_calls(), 3, "45 parameters = 20 + 20 + 5");
    assert_eq!(reset.num_calls(), 1);
}

#[tokio::test]
async fn secret_scheduled_for_deletion_is_restored_and_adopted() {
    let arn =
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:qualisys/redis/connection-AbCdEf";
    let create = mock!(aws_sdk_secretsmanager::Client::create_secret).then_http_response(|| {
        json_error(
            400,
            "InvalidRequestException",
            "You can't create this secret because a secret with this name is already scheduled for deletion.",
        )
    });
    let restore = mock!(aws_sdk_secretsmanager::Client::restore_secret)
        .match_requests(|r| r.secret_id() == Some("qualisys/redis/connection"))
        .then_output(move || {
            RestoreSecretOutput::builder()
                .arn(arn)
                .name("qualisys/redis/connection")
                .build()
        });
    let update = mock!(aws_sdk_secretsmanager::Client::update_secret)
        .match_requests(|r| r.description() == Some("Redis connection"))
        .then_output(|| UpdateSecretOutput::builder().build());
    let tag = mock!(aws_sdk_secretsmanager::Client::tag_resource)
        .match_requests(|r| {
            r.tags()
                .iter()
                .any(|t| t.key() == Some(crate::URN_TAG) && t.value() == Some("test/secret"))
        })
        .then_output(|| TagResourceOutput::builder().build());
    let c = clients(Rules {
        sm: &[&create, &restore, &update, &tag],
        ..Default::default()
    });
    let p = secret::SecretProvider::new(c);
    let (ctx, log) = ctx_with_log("secret");
    let inputs = map(
        serde_json::json!({"name": "qualisys/redis/connection", "description": "Redis connection"}),
    );
    let created = p.create(&ctx, &inputs).await.expect("restored");
    assert_eq!(created.id, arn);
    assert_eq!(
        created.outputs["name"].as_str(),
        Some("qualisys/redis/connection")
    );
    assert_eq!(
        (
            create.num_calls(),
            restore.num_calls(),
            update.num_calls(),
            tag.num_calls()
        ),
        (1, 1, 1, 1)
    );
    assert!(log.lock().unwrap().iter().any(|s| s.contains("restoring")));
}

#[tokio::test]
async fn access_denied_fails_fast_naming_resource_and_api() {
    let create = mock!(aws_sdk_kms::Client::create_key).then_http_response(|| {
        json_error(
            400,
            "AccessDeniedException",
            "User: arn:aws:iam::123456789012:user/dev is not authorized to perform: kms:CreateKey",
        )
    });
    let c = clients(Rules {
        kms: &[&create],
        ..Default::default()
    });
    let p = kms_key::KeyProvider::new(c);
    let (ctx, _) = ctx_with_log("cache-key");
    let inputs = map(serde_json::json!({"description": "k", "policy": "{}"}));
    let err = p.create(&ctx, &inputs).await.unwrap_err();
    let (resource, api, code, retryable) = api_parts(&err);
    assert_eq!(resource, "cache-key (aws:kms:Key)");
    assert_eq!(api, "kms:CreateKey");
    assert_eq!(code, "AccessDeniedException");
    assert!(!retryable);
    assert_eq!(create.num_calls(), 1, "a permanent error is not retried");
    let shown = err.to_string();
    assert!(
        shown.contains("cache-key")
            && shown.contains("kms:CreateKey")
            && shown.contains("not authorized"),
        "{shown}"
    );
}

#[tokio::test]
async fn persistent_throttling_gives_up_after_bounded_attempts() {
    let describe = mock!(aws_sdk_elasticache::Client::describe_replication_groups)
        .then_http_response(|| query_error(400, "Throttling", "Rate exceeded"));
    let c = clients(Rules {
        ec: &[&describe],
        ..Default::default()
    });
    let p = replication_group::ReplicationGroupProvider::new(c);
    let (ctx, _) = ctx_with_log("redis");
    let err = p.read(&ctx, "redis-test", &Map::new()).await.unwrap_err();
    let (_, api, code, retryable) = api_parts(&err);
    assert_eq!(api, "elasticache:DescribeReplicationGroups");
    assert_eq!(code, "Throttling");
    assert!(retryable);
    assert_eq!(describe.num_calls() as u32, crate::clients::MAX_ATTEMPTS);
}

#[tokio::test]
async fn not_found_on_read_is_none() {
    let describe = mock!(aws_sdk_elasticache::Client::describe_replication_groups)
        .then_http_response(|| query_error(404, "ReplicationGroupNotFoundFault", "not found"));
    let c = clients(Rules {
        ec: &[&describe],
        ..Default::default()
    });
    let p = replication_group::ReplicationGroupProvider::new(c);
    let (ctx, _) = ctx_with_log("redis");
    assert!(p
        .read(&ctx, "redis-test", &Map::new())
        .await
        .unwrap()
        .is_none());
}
