//! Unit tests against aws-smithy-mocks for failures an emulator cannot
//! produce: throttling, busy states, in-use groups, scheduled deletions,
//! access denied, and creates that find what their own lost attempt made
//! (adopted when it is ours, a clear error when it is not). Responses are real wire-format errors, so the SDK's own
//! error parsing and retry classification run as in production.

use crate::clients::{AwsClients, Sdk};
use crate::resources::{
    iam_policy, kms_alias, kms_key, parameter_group, replication_group, secret, security_group,
    subnet_group,
};
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
    iam: &'a [&'a Rule],
    ec2: &'a [&'a Rule],
}

fn clients(r: Rules<'_>) -> Arc<AwsClients> {
    let none: &[&Rule] = &[];
    Arc::new(AwsClients::from_sdk(Sdk {
        ec: client!(aws_sdk_elasticache, r.ec),
        kms: client!(aws_sdk_kms, r.kms),
        sm: client!(aws_sdk_secretsmanager, r.sm),
        iam: client!(aws_sdk_iam, r.iam),
        ec2: client!(aws_sdk_ec2, r.ec2),
        sts: client!(aws_sdk_sts, none),
        rds: client!(aws_sdk_rds, none),
        eks: client!(aws_sdk_eks, none),
        ecr: client!(aws_sdk_ecr, none),
        s3: client!(aws_sdk_s3, none),
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
    let tags = mock!(aws_sdk_elasticache::Client::list_tags_for_resource)
        .then_output(|| ec_urn_tags("test/redis"));
    let c = clients(Rules {
        ec: &[&describe, &tags],
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
    let tags = mock!(aws_sdk_elasticache::Client::list_tags_for_resource)
        .then_output(|| ec_urn_tags("test/redis"));
    let c = clients(Rules {
        ec: &[&describe, &tags],
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
    let tags = mock!(aws_sdk_elasticache::Client::list_tags_for_resource)
        .then_output(|| ec_urn_tags("test/redis"));
    let c = clients(Rules {
        ec: &[&describe, &tags],
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

/// DescribeSecret of `qualisys/redis/connection`, scheduled for deletion and
/// tagged `cairn:urn=urn`.
fn scheduled_secret(urn: &'static str) -> Rule {
    use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
    mock!(aws_sdk_secretsmanager::Client::describe_secret).then_output(move || {
        DescribeSecretOutput::builder()
            .arn("arn:aws:secretsmanager:us-east-1:123456789012:secret:qualisys/redis/connection-AbCdEf")
            .name("qualisys/redis/connection")
            .deleted_date(aws_smithy_types::DateTime::from_secs(1_700_000_000))
            .tags(
                aws_sdk_secretsmanager::types::Tag::builder()
                    .key(crate::URN_TAG)
                    .value(urn)
                    .build(),
            )
            .build()
    })
}

#[tokio::test]
async fn a_secret_of_another_stack_scheduled_for_deletion_is_not_restored() {
    let create = mock!(aws_sdk_secretsmanager::Client::create_secret).then_http_response(|| {
        json_error(
            400,
            "InvalidRequestException",
            "You can't create this secret because a secret with this name is already scheduled for deletion.",
        )
    });
    let describe = scheduled_secret("other-stack/secret");
    let restore = mock!(aws_sdk_secretsmanager::Client::restore_secret)
        .then_output(|| RestoreSecretOutput::builder().build());
    let p = secret::SecretProvider::new(clients(Rules {
        sm: &[&create, &describe, &restore],
        ..Default::default()
    }));
    let (ctx, _) = ctx_with_log("secret");
    let inputs = map(serde_json::json!({"name": "qualisys/redis/connection"}));
    let err = p.create(&ctx, &inputs).await.expect_err("refused");
    assert_eq!(
        restore.num_calls(),
        0,
        "another stack's secret is not restored"
    );
    let shown = err.to_string();
    assert!(
        shown.contains("qualisys/redis/connection") && shown.contains("not made by this resource"),
        "{shown}"
    );
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
    let describe = scheduled_secret("test/secret");
    let c = clients(Rules {
        sm: &[&create, &describe, &restore, &update, &tag],
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

// ------------------------------------------------------- lost create answers

fn ec2_error(status: u16, code: &str, message: &str) -> HttpResponse {
    let body = format!(
        "<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>\
         <RequestID>00000000-0000-0000-0000-000000000000</RequestID></Response>"
    );
    HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body))
}

fn http_503() -> HttpResponse {
    HttpResponse::new(StatusCode::try_from(503).unwrap(), SdkBody::from(""))
}

fn kms_key_meta(id: &str) -> aws_sdk_kms::types::KeyMetadata {
    aws_sdk_kms::types::KeyMetadata::builder()
        .key_id(id)
        .arn(format!("arn:aws:kms:us-east-1:123456789012:key/{id}"))
        .key_state(aws_sdk_kms::types::KeyState::Enabled)
        .build()
        .unwrap()
}

fn kms_tag(k: &str, v: &str) -> aws_sdk_kms::types::Tag {
    aws_sdk_kms::types::Tag::builder()
        .tag_key(k)
        .tag_value(v)
        .build()
        .unwrap()
}

/// KMS mocks for a CreateKey whose first answer is lost (HTTP 503 with the
/// SDK's retries off). `made_key` is the key that lost attempt made, if any;
/// `old-key` is an older key with the same URN tag but not this call's token.
fn kms_lost_create_key(made_key: Option<&'static str>) -> (Rule, Vec<Rule>) {
    use aws_sdk_kms::operation::{
        create_key::CreateKeyOutput, describe_key::DescribeKeyOutput, list_keys::ListKeysOutput,
        list_resource_tags::ListResourceTagsOutput,
    };
    let token: Arc<Mutex<Option<String>>> = Arc::default();
    let seen = token.clone();
    let create = mock!(aws_sdk_kms::Client::create_key)
        .match_requests(move |r| {
            let t = r
                .tags()
                .iter()
                .find(|t| t.tag_key() == crate::util::CREATE_TOKEN_TAG)
                .map(|t| t.tag_value().to_string());
            *seen.lock().unwrap() = t;
            true
        })
        .sequence()
        .http_response(http_503)
        .output(|| {
            CreateKeyOutput::builder()
                .key_metadata(kms_key_meta("second-key"))
                .build()
        })
        .build();
    let list = mock!(aws_sdk_kms::Client::list_keys).then_output(move || {
        let mut out = ListKeysOutput::builder().keys(
            aws_sdk_kms::types::KeyListEntry::builder()
                .key_id("old-key")
                .build(),
        );
        if let Some(k) = made_key {
            out = out.keys(
                aws_sdk_kms::types::KeyListEntry::builder()
                    .key_id(k)
                    .build(),
            );
        }
        out.build()
    });
    let tags = mock!(aws_sdk_kms::Client::list_resource_tags).then_compute_output(move |r| {
        let mut out = ListResourceTagsOutput::builder().tags(kms_tag(crate::URN_TAG, "test/key"));
        if r.key_id() == made_key {
            let t = token.lock().unwrap().clone().unwrap_or_default();
            out = out.tags(kms_tag(crate::util::CREATE_TOKEN_TAG, &t));
        }
        out.build()
    });
    let describe = mock!(aws_sdk_kms::Client::describe_key).then_compute_output(|r| {
        DescribeKeyOutput::builder()
            .key_metadata(kms_key_meta(r.key_id().unwrap_or_default()))
            .build()
    });
    (create, vec![list, tags, describe])
}

#[tokio::test]
async fn kms_key_lost_create_adopts_the_key_that_call_made_without_a_second_create() {
    let (create, others) = kms_lost_create_key(Some("lost-key"));
    let mut rules: Vec<&Rule> = vec![&create];
    rules.extend(others.iter());
    let p = kms_key::KeyProvider::new(clients(Rules {
        kms: &rules,
        ..Default::default()
    }));
    let (ctx, log) = ctx_with_log("key");
    let inputs = map(serde_json::json!({"description": "k", "policy": "{}"}));
    let created = p.create(&ctx, &inputs).await.expect("adopted");
    // Not the older key that carries the same URN: the one this call made.
    assert_eq!(created.id, "lost-key");
    assert_eq!(
        created.outputs["arn"].as_str(),
        Some("arn:aws:kms:us-east-1:123456789012:key/lost-key")
    );
    assert_eq!(create.num_calls(), 1, "no second CreateKey");
    assert!(log.lock().unwrap().iter().any(|s| s.contains("adopting")));
}

#[tokio::test]
async fn kms_key_lost_create_that_made_nothing_is_sent_again_once() {
    let (create, others) = kms_lost_create_key(None);
    let mut rules: Vec<&Rule> = vec![&create];
    rules.extend(others.iter());
    let p = kms_key::KeyProvider::new(clients(Rules {
        kms: &rules,
        ..Default::default()
    }));
    let (ctx, _) = ctx_with_log("key");
    let inputs = map(serde_json::json!({"description": "k", "policy": "{}"}));
    let created = p.create(&ctx, &inputs).await.expect("created");
    // The older key with the same URN is not adopted; the create is repeated.
    assert_eq!(created.id, "second-key");
    assert_eq!(
        create.num_calls(),
        2,
        "the SDK did not retry; the provider did, once"
    );
}

fn alias_rules(target: &'static str) -> Vec<Rule> {
    use aws_sdk_kms::operation::{
        describe_key::DescribeKeyOutput, list_aliases::ListAliasesOutput,
    };
    let create = mock!(aws_sdk_kms::Client::create_alias).then_http_response(|| {
        json_error(
            400,
            "AlreadyExistsException",
            "An alias with the name arn:aws:kms:us-east-1:123456789012:alias/cache already exists",
        )
    });
    let list = mock!(aws_sdk_kms::Client::list_aliases).then_output(move || {
        ListAliasesOutput::builder()
            .aliases(
                aws_sdk_kms::types::AliasListEntry::builder()
                    .alias_name("alias/cache")
                    .alias_arn("arn:aws:kms:us-east-1:123456789012:alias/cache")
                    .target_key_id(target)
                    .build(),
            )
            .build()
    });
    let describe = mock!(aws_sdk_kms::Client::describe_key).then_compute_output(|r| {
        DescribeKeyOutput::builder()
            .key_metadata(kms_key_meta(r.key_id().unwrap_or_default()))
            .build()
    });
    vec![create, list, describe]
}

#[tokio::test]
async fn kms_alias_that_exists_and_points_at_our_key_is_adopted() {
    let rules = alias_rules("key-1");
    let refs: Vec<&Rule> = rules.iter().collect();
    let p = kms_alias::AliasProvider::new(clients(Rules {
        kms: &refs,
        ..Default::default()
    }));
    let (ctx, _) = ctx_with_log("alias");
    let inputs = map(serde_json::json!({
        "name": "alias/cache",
        "targetKeyId": "arn:aws:kms:us-east-1:123456789012:key/key-1"
    }));
    let created = p.create(&ctx, &inputs).await.expect("adopted");
    assert_eq!(created.id, "alias/cache");
    assert_eq!(
        created.outputs["arn"].as_str(),
        Some("arn:aws:kms:us-east-1:123456789012:alias/cache")
    );
    assert_eq!(rules[0].num_calls(), 1, "no second CreateAlias");
}

#[tokio::test]
async fn kms_alias_that_exists_for_another_key_is_a_clear_error() {
    let rules = alias_rules("someone-elses-key");
    let refs: Vec<&Rule> = rules.iter().collect();
    let p = kms_alias::AliasProvider::new(clients(Rules {
        kms: &refs,
        ..Default::default()
    }));
    let (ctx, _) = ctx_with_log("alias");
    let inputs = map(serde_json::json!({"name": "alias/cache", "targetKeyId": "key-1"}));
    let err = p.create(&ctx, &inputs).await.unwrap_err();
    let (resource, api, code, retryable) = api_parts(&err);
    assert_eq!(resource, "alias (aws:kms:Alias)");
    assert_eq!(api, "kms:CreateAlias");
    assert_eq!(code, "AlreadyExistsException");
    assert!(!retryable);
    let shown = err.to_string();
    assert!(
        shown.contains("alias/cache")
            && shown.contains("someone-elses-key")
            && shown.contains("belongs to another key"),
        "{shown}"
    );
}

/// ElastiCache tags holding `cairn:urn=urn`; none when `urn` is empty.
fn ec_urn_tags(
    urn: &str,
) -> aws_sdk_elasticache::operation::list_tags_for_resource::ListTagsForResourceOutput {
    let out =
        aws_sdk_elasticache::operation::list_tags_for_resource::ListTagsForResourceOutput::builder(
        );
    if urn.is_empty() {
        return out.build();
    }
    out.tag_list(
        aws_sdk_elasticache::types::Tag::builder()
            .key(crate::URN_TAG)
            .value(urn)
            .build(),
    )
    .build()
}

/// A parameter group that already exists, tagged `cairn:urn=urn` (untagged
/// when `urn` is empty).
fn parameter_group_rules(urn: &'static str) -> Vec<Rule> {
    use aws_sdk_elasticache::operation::{
        describe_cache_parameter_groups::DescribeCacheParameterGroupsOutput,
        modify_cache_parameter_group::ModifyCacheParameterGroupOutput,
    };
    let arn = "arn:aws:elasticache:us-east-1:123456789012:parametergroup:qualisys-redis7";
    let create = mock!(aws_sdk_elasticache::Client::create_cache_parameter_group)
        .then_http_response(|| {
            query_error(
                400,
                "CacheParameterGroupAlreadyExists",
                "Parameter group qualisys-redis7 already exists",
            )
        });
    let describe = mock!(aws_sdk_elasticache::Client::describe_cache_parameter_groups).then_output(
        move || {
            DescribeCacheParameterGroupsOutput::builder()
                .cache_parameter_groups(
                    aws_sdk_elasticache::types::CacheParameterGroup::builder()
                        .cache_parameter_group_name("qualisys-redis7")
                        .cache_parameter_group_family("redis7")
                        .description("Managed by cairn")
                        .arn(arn)
                        .build(),
                )
                .build()
        },
    );
    let tags = mock!(aws_sdk_elasticache::Client::list_tags_for_resource)
        .match_requests(move |r| r.resource_name() == Some(arn))
        .then_output(move || ec_urn_tags(urn));
    let modify = mock!(aws_sdk_elasticache::Client::modify_cache_parameter_group)
        .match_requests(|r| r.parameter_name_values().len() == 2)
        .then_output(|| ModifyCacheParameterGroupOutput::builder().build());
    vec![create, describe, tags, modify]
}

fn parameter_group_inputs() -> Map {
    map(serde_json::json!({
        "name": "qualisys-redis7",
        "family": "redis7",
        "parameters": [
            {"name": "maxmemory-policy", "value": "allkeys-lru"},
            {"name": "timeout", "value": "0"}
        ]
    }))
}

#[tokio::test]
async fn parameter_group_that_exists_and_is_ours_is_adopted_and_its_parameters_set() {
    let rules = parameter_group_rules("test/params");
    let refs: Vec<&Rule> = rules.iter().collect();
    let p = parameter_group::ParameterGroupProvider::new(clients(Rules {
        ec: &refs,
        ..Default::default()
    }));
    let (ctx, _) = ctx_with_log("params");
    let created = p
        .create(&ctx, &parameter_group_inputs())
        .await
        .expect("adopted");
    assert_eq!(created.id, "qualisys-redis7");
    assert_eq!(
        created.outputs["arn"].as_str(),
        Some("arn:aws:elasticache:us-east-1:123456789012:parametergroup:qualisys-redis7")
    );
    assert_eq!(created.outputs["name"].as_str(), Some("qualisys-redis7"));
    assert_eq!(rules[0].num_calls(), 1, "no second create");
    assert_eq!(
        rules[3].num_calls(),
        1,
        "the parameters are set after adopting"
    );
}

#[tokio::test]
async fn parameter_group_that_exists_and_is_not_ours_is_a_clear_error() {
    let rules = parameter_group_rules("other-stack/params");
    let refs: Vec<&Rule> = rules.iter().collect();
    let p = parameter_group::ParameterGroupProvider::new(clients(Rules {
        ec: &refs,
        ..Default::default()
    }));
    let (ctx, _) = ctx_with_log("params");
    let err = p.create(&ctx, &parameter_group_inputs()).await.unwrap_err();
    let (_, api, code, retryable) = api_parts(&err);
    assert_eq!(api, "elasticache:CreateCacheParameterGroup");
    assert_eq!(code, "CacheParameterGroupAlreadyExists");
    assert!(!retryable);
    let shown = err.to_string();
    assert!(
        shown.contains("qualisys-redis7")
            && shown.contains("not made by this resource")
            && shown.contains("cairn:urn=test/params"),
        "{shown}"
    );
    assert_eq!(
        rules[3].num_calls(),
        0,
        "nothing is changed on a group not ours"
    );
}

const POLICY_DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#;

fn iam_policy_rules(urn: &'static str, live_doc: &'static str) -> Vec<Rule> {
    use aws_sdk_iam::operation::{
        get_policy::GetPolicyOutput, get_policy_version::GetPolicyVersionOutput,
        list_policies::ListPoliciesOutput,
    };
    let arn = "arn:aws:iam::123456789012:policy/redis-read";
    let policy = move |tags: bool| {
        let mut p = aws_sdk_iam::types::Policy::builder()
            .policy_name("redis-read")
            .policy_id("ANPA0000")
            .arn(arn)
            .path("/")
            .default_version_id("v1");
        if tags && !urn.is_empty() {
            p = p.tags(
                aws_sdk_iam::types::Tag::builder()
                    .key(crate::URN_TAG)
                    .value(urn)
                    .build()
                    .unwrap(),
            );
        }
        p.build()
    };
    let create = mock!(aws_sdk_iam::Client::create_policy).then_http_response(|| {
        query_error(
            409,
            "EntityAlreadyExists",
            "A policy called redis-read already exists. Duplicate names are not allowed.",
        )
    });
    let list = mock!(aws_sdk_iam::Client::list_policies).then_output(move || {
        ListPoliciesOutput::builder()
            .policies(policy(false))
            .is_truncated(false)
            .build()
    });
    let get = mock!(aws_sdk_iam::Client::get_policy)
        .match_requests(move |r| r.policy_arn() == Some(arn))
        .then_output(move || GetPolicyOutput::builder().policy(policy(true)).build());
    let version = mock!(aws_sdk_iam::Client::get_policy_version).then_output(move || {
        GetPolicyVersionOutput::builder()
            .policy_version(
                aws_sdk_iam::types::PolicyVersion::builder()
                    .version_id("v1")
                    .is_default_version(true)
                    .document(live_doc)
                    .build(),
            )
            .build()
    });
    vec![create, list, get, version]
}

#[tokio::test]
async fn iam_policy_that_exists_and_is_ours_is_adopted() {
    let p_inputs =
        map(serde_json::json!({"name": "redis-read", "path": "/", "policy": POLICY_DOC}));
    // Ours by the URN tag.
    for (urn, doc) in [("test/policy", POLICY_DOC)] {
        let rules = iam_policy_rules(urn, doc);
        let refs: Vec<&Rule> = rules.iter().collect();
        let p = iam_policy::PolicyProvider::new(clients(Rules {
            iam: &refs,
            ..Default::default()
        }));
        let (ctx, _) = ctx_with_log("policy");
        let created = p.create(&ctx, &p_inputs).await.expect("adopted");
        assert_eq!(created.id, "arn:aws:iam::123456789012:policy/redis-read");
        assert_eq!(created.outputs["policyId"].as_str(), Some("ANPA0000"));
        assert_eq!(created.outputs["defaultVersionId"].as_str(), Some("v1"));
        assert_eq!(rules[0].num_calls(), 1, "no second CreatePolicy");
    }
}

#[tokio::test]
async fn iam_policy_that_exists_and_is_not_ours_is_a_clear_error() {
    // Another stack's tag, or none: refused even when the document is ours
    // (adopting it would let a later destroy delete another stack's policy).
    for (urn, doc) in [
        ("other-stack/policy", r#"{"Statement":[]}"#),
        ("other-stack/policy", POLICY_DOC),
        ("", POLICY_DOC),
    ] {
        let rules = iam_policy_rules(urn, doc);
        let refs: Vec<&Rule> = rules.iter().collect();
        let p = iam_policy::PolicyProvider::new(clients(Rules {
            iam: &refs,
            ..Default::default()
        }));
        let (ctx, _) = ctx_with_log("policy");
        let inputs = map(serde_json::json!({"name": "redis-read", "policy": POLICY_DOC}));
        let err = p.create(&ctx, &inputs).await.expect_err(urn);
        let (_, api, code, retryable) = api_parts(&err);
        assert_eq!(api, "iam:CreatePolicy");
        assert_eq!(code, "EntityAlreadyExists");
        assert!(!retryable);
        let shown = err.to_string();
        assert!(
            shown.contains("policy/redis-read") && shown.contains("not made by this resource"),
            "{shown}"
        );
    }
}

fn secret_rules(urn: &'static str) -> Vec<Rule> {
    use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
    let create = mock!(aws_sdk_secretsmanager::Client::create_secret).then_http_response(|| {
        json_error(
            400,
            "ResourceExistsException",
            "The operation failed because the secret qualisys/redis/connection already exists.",
        )
    });
    let describe = mock!(aws_sdk_secretsmanager::Client::describe_secret).then_output(move || {
        DescribeSecretOutput::builder()
            .arn("arn:aws:secretsmanager:us-east-1:123456789012:secret:qualisys/redis/connection-AbCdEf")
            .name("qualisys/redis/connection")
            .set_tags((!urn.is_empty()).then(|| {
                vec![aws_sdk_secretsmanager::types::Tag::builder()
                    .key(crate::URN_TAG)
                    .value(urn)
                    .build()]
            }))
            .build()
    });
    vec![create, describe]
}

#[tokio::test]
async fn secret_that_exists_and_is_ours_is_adopted() {
    let rules = secret_rules("test/secret");
    let refs: Vec<&Rule> = rules.iter().collect();
    let p = secret::SecretProvider::new(clients(Rules {
        sm: &refs,
        ..Default::default()
    }));
    let (ctx, _) = ctx_with_log("secret");
    let inputs = map(serde_json::json!({"name": "qualisys/redis/connection"}));
    let created = p.create(&ctx, &inputs).await.expect("adopted");
    assert!(created.id.ends_with("qualisys/redis/connection-AbCdEf"));
    assert_eq!(
        created.outputs["name"].as_str(),
        Some("qualisys/redis/connection")
    );
    assert_eq!(rules[0].num_calls(), 1, "no second CreateSecret");
}

#[tokio::test]
async fn secret_that_exists_and_is_not_ours_is_a_clear_error() {
    let rules = secret_rules("other-stack/secret");
    let refs: Vec<&Rule> = rules.iter().collect();
    let p = secret::SecretProvider::new(clients(Rules {
        sm: &refs,
        ..Default::default()
    }));
    let (ctx, _) = ctx_with_log("secret");
    let inputs = map(serde_json::json!({"name": "qualisys/redis/connection"}));
    let err = p.create(&ctx, &inputs).await.unwrap_err();
    let (_, api, code, retryable) = api_parts(&err);
    assert_eq!(api, "secretsmanager:CreateSecret");
    assert_eq!(code, "ResourceExistsException");
    assert!(!retryable);
    assert!(
        err.to_string().contains("not made by this resource"),
        "{err}"
    );
}

fn subnet_group_rules(urn: &'static str) -> Vec<Rule> {
    use aws_sdk_elasticache::operation::describe_cache_subnet_groups::DescribeCacheSubnetGroupsOutput;
    let create =
        mock!(aws_sdk_elasticache::Client::create_cache_subnet_group).then_http_response(|| {
            query_error(
                400,
                "CacheSubnetGroupAlreadyExists",
                "Cache subnet group redis-subnets already exists.",
            )
        });
    let describe =
        mock!(aws_sdk_elasticache::Client::describe_cache_subnet_groups).then_output(|| {
            DescribeCacheSubnetGroupsOutput::builder()
                .cache_subnet_groups(
                    aws_sdk_elasticache::types::CacheSubnetGroup::builder()
                        .cache_subnet_group_name("redis-subnets")
                        .cache_subnet_group_description("Managed by cairn")
                        .vpc_id("vpc-1")
                        .arn("arn:aws:elasticache:us-east-1:123456789012:subnetgroup:redis-subnets")
                        .build(),
                )
                .build()
        });
    let tags = mock!(aws_sdk_elasticache::Client::list_tags_for_resource)
        .then_output(move || ec_urn_tags(urn));
    vec![create, describe, tags]
}

#[tokio::test]
async fn subnet_group_that_exists_is_adopted_if_ours_else_a_clear_error() {
    let inputs = map(serde_json::json!({"name": "redis-subnets", "subnetIds": ["subnet-1"]}));
    let rules = subnet_group_rules("test/subnets");
    let refs: Vec<&Rule> = rules.iter().collect();
    let p = subnet_group::SubnetGroupProvider::new(clients(Rules {
        ec: &refs,
        ..Default::default()
    }));
    let (ctx, _) = ctx_with_log("subnets");
    let created = p.create(&ctx, &inputs).await.expect("adopted");
    assert_eq!(created.id, "redis-subnets");
    assert_eq!(created.outputs["vpcId"].as_str(), Some("vpc-1"));
    assert_eq!(rules[0].num_calls(), 1);

    let rules = subnet_group_rules("other-stack/subnets");
    let refs: Vec<&Rule> = rules.iter().collect();
    let p = subnet_group::SubnetGroupProvider::new(clients(Rules {
        ec: &refs,
        ..Default::default()
    }));
    let err = p.create(&ctx, &inputs).await.unwrap_err();
    let (_, api, code, _) = api_parts(&err);
    assert_eq!(api, "elasticache:CreateCacheSubnetGroup");
    assert_eq!(code, "CacheSubnetGroupAlreadyExists");
    assert!(
        err.to_string().contains("not made by this resource"),
        "{err}"
    );
}

fn security_group_rules(urn: &'static str) -> Vec<Rule> {
    use aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput;
    let create = mock!(aws_sdk_ec2::Client::create_security_group).then_http_response(|| {
        ec2_error(
            400,
            "InvalidGroup.Duplicate",
            "The security group 'redis' already exists for VPC 'vpc-1'",
        )
    });
    let describe = mock!(aws_sdk_ec2::Client::describe_security_groups).then_output(move || {
        DescribeSecurityGroupsOutput::builder()
            .security_groups(
                aws_sdk_ec2::types::SecurityGroup::builder()
                    .group_id("sg-1")
                    .group_name("redis")
                    .vpc_id("vpc-1")
                    .description("Managed by cairn")
                    .set_tags((!urn.is_empty()).then(|| {
                        vec![aws_sdk_ec2::types::Tag::builder()
                            .key(crate::URN_TAG)
                            .value(urn)
                            .build()]
                    }))
                    .build(),
            )
            .build()
    });
    vec![create, describe]
}

#[tokio::test]
async fn security_group_that_exists_is_adopted_if_ours_else_a_clear_error() {
    let inputs = map(serde_json::json!({"name": "redis", "vpcId": "vpc-1"}));
    let rules = security_group_rules("test/sg");
    let refs: Vec<&Rule> = rules.iter().collect();
    let p = security_group::SecurityGroupProvider::new(clients(Rules {
        ec2: &refs,
        ..Default::default()
    }));
    let (ctx, _) = ctx_with_log("sg");
    let created = p.create(&ctx, &inputs).await.expect("adopted");
    assert_eq!(created.id, "sg-1");
    assert_eq!(rules[0].num_calls(), 1);

    let rules = security_group_rules("other-stack/sg");
    let refs: Vec<&Rule> = rules.iter().collect();
    let p = security_group::SecurityGroupProvider::new(clients(Rules {
        ec2: &refs,
        ..Default::default()
    }));
    let err = p.create(&ctx, &inputs).await.unwrap_err();
    let (_, api, code, _) = api_parts(&err);
    assert_eq!(api, "ec2:CreateSecurityGroup");
    assert_eq!(code, "InvalidGroup.Duplicate");
    assert!(
        err.to_string().contains("sg-1") && err.to_string().contains("not made by this resource"),
        "{err}"
    );
}

// ------------------------------------------------ recovery adopts only ours

/// The id and what it carries, from a recover's `NotOwned` refusal.
fn refused(e: &ProviderError) -> (&str, &str) {
    match e {
        ProviderError::NotOwned { id, found, .. } => (id.as_str(), found.as_str()),
        other => panic!("expected NotOwned, got {other:?}"),
    }
}

/// A replication group `redis-test` tagged `cairn:urn=urn` (untagged when empty).
fn replication_group_rules(urn: &'static str) -> Vec<Rule> {
    let describe = mock!(aws_sdk_elasticache::Client::describe_replication_groups)
        .then_output(|| described("available"));
    let tags = mock!(aws_sdk_elasticache::Client::list_tags_for_resource)
        .then_output(move || ec_urn_tags(urn));
    vec![describe, tags]
}

/// `recover` of every name-addressed type, each finding a same-named object
/// tagged `cairn:urn=urn` (untagged when `urn` is empty): (type, result).
async fn recover_each_type(
    urn: &'static str,
) -> Vec<(
    &'static str,
    Result<Option<cairn_core::provider::Created>, ProviderError>,
)> {
    let mut out = Vec::new();
    let ctx = |name: &str| CallContext::new("test", name);

    let rules = parameter_group_rules(urn);
    let refs: Vec<&Rule> = rules.iter().collect();
    let p = parameter_group::ParameterGroupProvider::new(clients(Rules {
        ec: &refs,
        ..Default::default()
    }));
    let r = p.recover(&ctx("params"), &parameter_group_inputs()).await;
    out.push(("parameter group", r));

    let rules = subnet_group_rules(urn);
    let refs: Vec<&Rule> = rules.iter().collect();
    let p = subnet_group::SubnetGroupProvider::new(clients(Rules {
        ec: &refs,
        ..Default::default()
    }));
    let inputs = map(serde_json::json!({"name": "redis-subnets", "subnetIds": ["subnet-1"]}));
    out.push(("subnet group", p.recover(&ctx("subnets"), &inputs).await));

    let rules = security_group_rules(urn);
    let refs: Vec<&Rule> = rules.iter().collect();
    let p = security_group::SecurityGroupProvider::new(clients(Rules {
        ec2: &refs,
        ..Default::default()
    }));
    let inputs = map(serde_json::json!({"name": "redis", "vpcId": "vpc-1"}));
    out.push(("security group", p.recover(&ctx("sg"), &inputs).await));

    let rules = secret_rules(urn);
    let refs: Vec<&Rule> = rules.iter().collect();
    let p = secret::SecretProvider::new(clients(Rules {
        sm: &refs,
        ..Default::default()
    }));
    let inputs = map(serde_json::json!({"name": "qualisys/redis/connection"}));
    out.push(("secret", p.recover(&ctx("secret"), &inputs).await));

    let rules = iam_policy_rules(urn, POLICY_DOC);
    let refs: Vec<&Rule> = rules.iter().collect();
    let p = iam_policy::PolicyProvider::new(clients(Rules {
        iam: &refs,
        ..Default::default()
    }));
    let inputs = map(serde_json::json!({"name": "redis-read", "path": "/", "policy": POLICY_DOC}));
    out.push(("iam policy", p.recover(&ctx("policy"), &inputs).await));

    let rules = replication_group_rules(urn);
    let refs: Vec<&Rule> = rules.iter().collect();
    let p = replication_group::ReplicationGroupProvider::new(clients(Rules {
        ec: &refs,
        ..Default::default()
    }));
    let inputs = map(serde_json::json!({"replicationGroupId": "redis-test"}));
    out.push(("replication group", p.recover(&ctx("redis"), &inputs).await));
    out
}

#[tokio::test]
async fn recover_refuses_a_same_named_object_tagged_for_another_resource() {
    for (what, r) in recover_each_type("other-stack/thing").await {
        let err = r.expect_err(what);
        let (_, found) = refused(&err);
        assert_eq!(found, "the tag cairn:urn=other-stack/thing", "{what}");
        let shown = err.to_string();
        assert!(
            shown.contains("not made by this resource") && shown.contains("other-stack/thing"),
            "{what}: {shown}"
        );
        let code = miette::Diagnostic::code(&err).map(|c| c.to_string());
        assert_eq!(
            code.as_deref(),
            Some("cairn::provider::not_owned"),
            "{what}"
        );
    }
}

#[tokio::test]
async fn recover_refuses_a_same_named_object_without_a_urn_tag() {
    for (what, r) in recover_each_type("").await {
        let err = r.expect_err(what);
        let (_, found) = refused(&err);
        assert_eq!(found, "no cairn:urn tag", "{what}");
    }
}

#[tokio::test]
async fn recover_adopts_a_same_named_object_tagged_for_this_resource() {
    // Each type's URN in `recover_each_type` is `test/<name>`; give them all
    // one shared URN by checking the types one at a time.
    for (urn, want) in [
        ("test/params", "parameter group"),
        ("test/subnets", "subnet group"),
        ("test/redis", "replication group"),
        ("test/policy", "iam policy"),
    ] {
        let results = recover_each_type(urn).await;
        let (_, r) = results.into_iter().find(|(w, _)| *w == want).unwrap();
        assert!(r.expect(want).is_some(), "{want} adopted");
    }
}

#[tokio::test]
async fn kms_alias_recover_refuses_an_alias_pointing_at_another_key() {
    let rules = alias_rules("someone-elses-key");
    let refs: Vec<&Rule> = rules.iter().collect();
    let p = kms_alias::AliasProvider::new(clients(Rules {
        kms: &refs,
        ..Default::default()
    }));
    let ctx = CallContext::new("test", "alias");
    let inputs = map(serde_json::json!({"name": "alias/cache", "targetKeyId": "key-1"}));
    let err = p.recover(&ctx, &inputs).await.unwrap_err();
    let (id, found) = refused(&err);
    assert_eq!(id, "alias/cache");
    assert!(found.contains("someone-elses-key"), "{found}");
    // Pointing at our key, it is adopted.
    let rules = alias_rules("key-1");
    let refs: Vec<&Rule> = rules.iter().collect();
    let p = kms_alias::AliasProvider::new(clients(Rules {
        kms: &refs,
        ..Default::default()
    }));
    let found = p.recover(&ctx, &inputs).await.unwrap();
    assert_eq!(found.unwrap().id, "alias/cache");
}

/// KMS mocks listing `keys` as (id, cairn:urn, cairn:create-token, state).
fn kms_keys(
    keys: &'static [(&'static str, &'static str, &'static str, &'static str)],
) -> Vec<Rule> {
    use aws_sdk_kms::operation::{
        describe_key::DescribeKeyOutput, list_keys::ListKeysOutput,
        list_resource_tags::ListResourceTagsOutput,
    };
    use aws_sdk_kms::types::KeyState;
    let find = move |id: Option<&str>| keys.iter().find(|k| Some(k.0) == id).copied();
    let list = mock!(aws_sdk_kms::Client::list_keys).then_output(move || {
        let mut out = ListKeysOutput::builder();
        for k in keys {
            out = out.keys(
                aws_sdk_kms::types::KeyListEntry::builder()
                    .key_id(k.0)
                    .build(),
            );
        }
        out.build()
    });
    let tags = mock!(aws_sdk_kms::Client::list_resource_tags).then_compute_output(move |r| {
        let (_, urn, token, _) = find(r.key_id()).expect("a listed key");
        ListResourceTagsOutput::builder()
            .tags(kms_tag(crate::URN_TAG, urn))
            .tags(kms_tag(crate::util::CREATE_TOKEN_TAG, token))
            .build()
    });
    let describe = mock!(aws_sdk_kms::Client::describe_key).then_compute_output(move |r| {
        let (id, _, _, state) = find(r.key_id()).expect("a listed key");
        let mut meta = kms_key_meta(id);
        meta.key_state = Some(KeyState::from(state));
        DescribeKeyOutput::builder().key_metadata(meta).build()
    });
    vec![list, tags, describe]
}

fn key_provider(rules: &[Rule]) -> kms_key::KeyProvider {
    let refs: Vec<&Rule> = rules.iter().collect();
    kms_key::KeyProvider::new(clients(Rules {
        kms: &refs,
        ..Default::default()
    }))
}

fn ctx_with_token(name: &str, token: Option<&str>) -> CallContext {
    let mut ctx = CallContext::new("test", name);
    ctx.create_token = token.map(str::to_string);
    ctx
}

#[tokio::test]
async fn kms_key_recover_adopts_the_key_this_intent_created_among_several_tagged() {
    // An older key of the same resource (kept from an earlier replace) is listed first.
    static KEYS: &[(&str, &str, &str, &str)] = &[
        ("old-key", "test/key", "token-old", "Enabled"),
        ("new-key", "test/key", "token-new", "Enabled"),
        ("foreign-key", "other/key", "token-new", "Enabled"),
    ];
    let p = key_provider(&kms_keys(KEYS));
    let inputs = map(serde_json::json!({"description": "k"}));
    let found = p
        .recover(&ctx_with_token("key", Some("token-new")), &inputs)
        .await
        .unwrap();
    assert_eq!(found.expect("adopted").id, "new-key");
    // An intent whose create made nothing adopts nothing.
    let found = p
        .recover(&ctx_with_token("key", Some("token-lost")), &inputs)
        .await
        .unwrap();
    assert_eq!(found, None);
    // Without a token there is no telling which: a clear error, not the first one.
    let err = p
        .recover(&ctx_with_token("key", None), &inputs)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("old-key") && err.to_string().contains("new-key"),
        "{err}"
    );
}

#[tokio::test]
async fn kms_key_recover_never_adopts_a_key_pending_deletion() {
    // This intent's key was made and then scheduled for deletion; an older
    // live key of the same resource is not what this intent made either.
    static KEYS: &[(&str, &str, &str, &str)] = &[
        ("doomed-key", "test/key", "token-1", "PendingDeletion"),
        ("older-key", "test/key", "token-0", "Enabled"),
    ];
    let p = key_provider(&kms_keys(KEYS));
    let inputs = map(serde_json::json!({"description": "k"}));
    let found = p
        .recover(&ctx_with_token("key", Some("token-1")), &inputs)
        .await
        .unwrap();
    assert_eq!(found, None);
    // Without a token, the only live candidate; never the doomed one.
    let found = p
        .recover(&ctx_with_token("key", None), &inputs)
        .await
        .unwrap();
    assert_eq!(found.expect("the live key").id, "older-key");
}

/// `rules` with ListTagsForResource answering AccessDenied instead.
fn tags_denied(mut rules: Vec<Rule>, tags_at: usize) -> Vec<Rule> {
    rules[tags_at] = mock!(aws_sdk_elasticache::Client::list_tags_for_resource)
        .then_http_response(|| query_error(400, "AccessDenied", "not authorized to list tags"));
    rules
}

#[tokio::test]
async fn a_group_whose_tags_cannot_be_read_is_never_adopted_by_a_create() {
    // Same family and the default description, but no proof it is ours.
    let rules = tags_denied(parameter_group_rules("test/params"), 2);
    let refs: Vec<&Rule> = rules.iter().collect();
    let p = parameter_group::ParameterGroupProvider::new(clients(Rules {
        ec: &refs,
        ..Default::default()
    }));
    let (ctx, _) = ctx_with_log("params");
    let inputs = map(serde_json::json!({"name": "qualisys-redis7", "family": "redis7"}));
    let err = p.create(&ctx, &inputs).await.expect_err("not adopted");
    assert!(err.to_string().contains("qualisys-redis7"), "{err}");
    assert_eq!(rules[3].num_calls(), 0, "nothing is changed");

    let rules = tags_denied(subnet_group_rules("test/subnets"), 2);
    let refs: Vec<&Rule> = rules.iter().collect();
    let p = subnet_group::SubnetGroupProvider::new(clients(Rules {
        ec: &refs,
        ..Default::default()
    }));
    let (ctx, _) = ctx_with_log("subnets");
    // Our description and the group's (empty) subnet list.
    let inputs = map(serde_json::json!({"name": "redis-subnets", "subnetIds": []}));
    let err = p.create(&ctx, &inputs).await.expect_err("not adopted");
    assert!(err.to_string().contains("redis-subnets"), "{err}");
}

/// The rules the checks report for `inputs` (empty: accepted).
fn check_rules(p: &dyn ResourceProvider, inputs: serde_json::Value) -> Vec<String> {
    p.check(&map(inputs))
        .into_iter()
        .map(|f| f.rule.to_string())
        .collect()
}

#[test]
fn preview_rules_for_names_paths_and_sizes() {
    let c = clients(Rules::default());
    let alias = kms_alias::AliasProvider::new(c.clone());
    for ok in ["alias/qualisys-redis", "alias/a/b_c-D9"] {
        assert!(
            check_rules(&alias, serde_json::json!({"name": ok})).is_empty(),
            "{ok}"
        );
    }
    for bad in [
        "alias/a b",
        "alias/a:b",
        "alias/",
        "alias/aws/x",
        "qualisys",
    ] {
        assert_eq!(
            check_rules(&alias, serde_json::json!({"name": bad})),
            ["aws::kms::alias-name"],
            "{bad}"
        );
    }
    let key = kms_key::KeyProvider::new(c.clone());
    assert!(check_rules(&key, serde_json::json!({"description": "x".repeat(8192)})).is_empty());
    assert_eq!(
        check_rules(&key, serde_json::json!({"description": "x".repeat(8193)})),
        ["aws::kms::description-length"]
    );
    let sp = secret::SecretProvider::new(c.clone());
    assert!(check_rules(&sp, serde_json::json!({"name": "a/b_c+d=e.f@g-h"})).is_empty());
    for bad in ["a b", "a#b", "a*b"] {
        assert_eq!(
            check_rules(&sp, serde_json::json!({"name": bad})),
            ["aws::secretsmanager::name"],
            "{bad}"
        );
    }
    let pp = iam_policy::PolicyProvider::new(c);
    let doc = |n: usize| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{}"}}]}}"#,
            "b".repeat(n)
        )
    };
    let base = doc(0).len();
    let ok = serde_json::json!({"name": "a_b+c=d,e.f@g-h", "path": "/cache/x.y/", "policy": doc(6144 - base)});
    assert!(check_rules(&pp, ok).is_empty());
    // White space does not count.
    let spaced = doc(6144 - base).replace(',', ",      ");
    assert!(check_rules(&pp, serde_json::json!({"name": "n", "policy": spaced})).is_empty());
    assert_eq!(
        check_rules(
            &pp,
            serde_json::json!({"name": "n", "policy": doc(6145 - base)})
        ),
        ["aws::iam::policy-size"]
    );
    assert_eq!(
        check_rules(&pp, serde_json::json!({"name": "a b", "policy": "{}"})),
        ["aws::iam::policy-name"]
    );
    assert!(check_rules(
        &pp,
        serde_json::json!({"name": "n", "path": "/", "policy": "{}"})
    )
    .is_empty());
    for bad in ["cache", "/cache", "cache/", "//", "/a//b/", "/a b/"] {
        assert_eq!(
            check_rules(
                &pp,
                serde_json::json!({"name": "n", "path": bad, "policy": "{}"})
            ),
            ["aws::iam::policy-path"],
            "{bad}"
        );
    }
    let long = format!("/{}/", "p".repeat(511));
    assert_eq!(
        check_rules(
            &pp,
            serde_json::json!({"name": "n", "path": long, "policy": "{}"})
        ),
        ["aws::iam::policy-path"]
    );
}
