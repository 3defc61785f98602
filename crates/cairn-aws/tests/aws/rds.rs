//! RDS PostgreSQL: `aws:rds:ParameterGroup` and `aws:rds:Instance` against
//! the emulator through the real SDK: create, read back with no diff, an
//! in-place update, the replace reasons, delete, adopt after a lost answer
//! (refusing what is not this resource's), RDS's status sequence, and the
//! preview checks (no emulator).

use super::*;
use cairn_core::plan::diff_inputs;

fn drift(want: &Map, seen: &Map) -> Vec<String> {
    diff_inputs(want, seen)
        .into_iter()
        .map(|c| c.path.to_string())
        .collect()
}

/// The properties whose change from `old` to `new` forces a replace.
fn replace_reasons(env: &Env, token: &str, old: &Map, new: &Map) -> Vec<String> {
    let schema = env.reg.schema(token).expect("registered");
    let mut out: Vec<String> = diff_inputs(old, new)
        .into_iter()
        .map(|c| c.path.to_string())
        .filter(|path| {
            let top = path.split(['.', '[']).next().unwrap_or_default();
            schema.prop(top).is_some_and(|p| p.replace_on_change)
        })
        .collect();
    out.extend(
        env.p(token)
            .extra_replace_paths(old, new)
            .into_iter()
            .map(|p| p.to_string()),
    );
    out.sort();
    out.dedup();
    out
}

fn with(m: &Map, changes: serde_json::Value) -> Map {
    let mut out = m.clone();
    out.extend(map(changes));
    out
}

async fn user_params(rds: &aws_sdk_rds::Client, name: &str) -> Vec<(String, String)> {
    let out = rds
        .describe_db_parameters()
        .db_parameter_group_name(name)
        .source("user")
        .send()
        .await
        .unwrap();
    let mut v: Vec<(String, String)> = out
        .parameters()
        .iter()
        .map(|p| {
            (
                p.parameter_name().unwrap_or_default().to_string(),
                p.parameter_value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn rds_parameter_group_lifecycle() {
    let env = setup().await;
    let rds = aws_sdk_rds::Client::new(&env.sdk_config().await);
    let token = "aws:rds:ParameterGroup";
    let p = env.p(token);
    let ctx = env.ctx("pg");
    let name = format!("Platform-PG16-{}", env.tag);
    let lower = name.to_lowercase();
    let inputs = map(serde_json::json!({
        "name": name,
        "family": "postgres16",
        "description": "platform database",
        "parameters": [
            {"name": "log_min_duration_statement", "value": "500", "applyMethod": "immediate"},
            {"name": "shared_preload_libraries", "value": "pg_stat_statements", "applyMethod": "pending-reboot"}
        ],
        "tags": {"tier": "db"}
    }));
    let created = p.create(&ctx, &inputs).await.expect("create");
    assert_eq!(created.id, lower, "RDS stores the name lower case");
    assert!(s(&created.outputs, "arn").ends_with(&format!(":pg:{lower}")));
    assert_eq!(
        user_params(&rds, &lower).await,
        [
            ("log_min_duration_statement".into(), "500".into()),
            (
                "shared_preload_libraries".into(),
                "pg_stat_statements".into()
            )
        ]
    );
    let seen = p.read(&ctx, &created.id, &inputs).await.unwrap().unwrap();
    assert_eq!(drift(&inputs, &seen.inputs), Vec::<String>::new());

    // In place: one value changes, one goes back to its default, one is new.
    let new = with(
        &inputs,
        serde_json::json!({
            "parameters": [
                {"name": "log_min_duration_statement", "value": "250", "applyMethod": "immediate"},
                {"name": "idle_in_transaction_session_timeout", "value": "60000", "applyMethod": "immediate"}
            ],
            "tags": {"tier": "data"}
        }),
    );
    assert_eq!(
        replace_reasons(&env, token, &inputs, &new),
        Vec::<String>::new()
    );
    p.update(&ctx, &created.id, &inputs, &new, &created.outputs)
        .await
        .expect("Modify/ResetDBParameterGroup");
    assert_eq!(
        user_params(&rds, &lower).await,
        [
            ("idle_in_transaction_session_timeout".into(), "60000".into()),
            ("log_min_duration_statement".into(), "250".into())
        ],
        "shared_preload_libraries was reset"
    );
    let seen = p.read(&ctx, &created.id, &new).await.unwrap().unwrap();
    assert_eq!(drift(&new, &seen.inputs), Vec::<String>::new());

    // Family and description have no update call: a replace, naming them.
    let other = with(
        &new,
        serde_json::json!({"family": "postgres17", "description": "v17"}),
    );
    assert_eq!(
        replace_reasons(&env, token, &new, &other),
        ["description", "family"]
    );

    // A retried create adopts it; another resource's create or recovery is refused.
    assert_eq!(p.create(&ctx, &new).await.unwrap().id, lower);
    assert_eq!(p.recover(&ctx, &new).await.unwrap().unwrap().id, lower);
    let err = p.recover(&env.ctx("other"), &new).await.unwrap_err();
    assert!(matches!(err, ProviderError::NotOwned { .. }), "{err:?}");
    let err = p.create(&env.ctx("other"), &new).await.unwrap_err();
    assert!(
        err.to_string().contains("DBParameterGroupAlreadyExists")
            && err.to_string().contains("was not made by this resource"),
        "{err}"
    );

    p.delete(&ctx, &created.id, &new, &created.outputs)
        .await
        .expect("delete");
    assert!(p.read(&ctx, &created.id, &new).await.unwrap().is_none());
    p.delete(&ctx, &created.id, &new, &created.outputs)
        .await
        .expect("idempotent delete");
}

async fn security_group(ec2: &aws_sdk_ec2::Client, name: &str) -> String {
    ec2.create_security_group()
        .group_name(name)
        .description("db")
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn rds_instance_lifecycle_with_status_sequence() {
    let env = setup().await;
    // Long enough to see every status with the test's 100 ms polls.
    env._emulator.set_delay_ms(800).await.unwrap();
    let cfg = env.sdk_config().await;
    let rds = aws_sdk_rds::Client::new(&cfg);
    let ec2 = aws_sdk_ec2::Client::new(&cfg);
    let sm = aws_sdk_secretsmanager::Client::new(&cfg);
    let sg1 = security_group(&ec2, &format!("db1-{}", env.tag)).await;
    let sg2 = security_group(&ec2, &format!("db2-{}", env.tag)).await;
    let pgp = env.p("aws:rds:ParameterGroup");
    let pg_ctx = env.ctx("pg");
    for n in ["a", "b"] {
        pgp.create(
            &pg_ctx,
            &map(
                serde_json::json!({"name": format!("pg-{n}-{}", env.tag), "family": "postgres16"}),
            ),
        )
        .await
        .expect("parameter group");
    }
    let token = "aws:rds:Instance";
    let p = env.p(token);
    let ident = format!("Platform-DB-{}", env.tag);
    let lower = ident.to_lowercase();
    let inputs = map(serde_json::json!({
        "identifier": ident,
        "engine": "postgres",
        "engineVersion": "16",
        "allowMajorVersionUpgrade": false,
        "instanceClass": "db.t4g.micro",
        "allocatedStorage": 20,
        "storageType": "gp3",
        "storageEncrypted": false,
        "vpcSecurityGroupIds": [sg1],
        "multiAz": false,
        "username": "app_admin",
        "manageMasterUserPassword": true,
        "backupRetentionPeriod": 1,
        "deletionProtection": false,
        "skipFinalSnapshot": false,
        "finalSnapshotIdentifier": format!("final-{}", env.tag),
        "parameterGroupName": format!("pg-a-{}", env.tag),
        "publiclyAccessible": false,
        "applyImmediately": true,
        "tags": {"tier": "db"}
    }));
    let (ctx, log) = logged(&env.ctx("db"));
    let created = p.create(&ctx, &inputs).await.expect("create");
    let seen_statuses: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .map(|l| l.split(' ').next().unwrap_or_default().to_string())
        .collect();
    for st in ["creating", "backing-up", "available"] {
        assert!(
            seen_statuses.iter().any(|s| s == st),
            "status `{st}` not seen while creating: {seen_statuses:?}"
        );
    }
    let pos = |st: &str| seen_statuses.iter().position(|s| s == st).unwrap();
    assert!(pos("creating") < pos("backing-up") && pos("backing-up") < pos("available"));
    assert_eq!(created.id, lower, "RDS stores the identifier lower case");
    let out = &created.outputs;
    assert!(!s(out, "address").is_empty());
    assert_eq!(out["port"], Value::Int(5432));
    assert_eq!(s(out, "endpoint"), format!("{}:5432", s(out, "address")));
    assert!(s(out, "arn").ends_with(&format!(":db:{lower}")));
    assert!(s(out, "resourceId").starts_with("db-"));
    let secret = match &out["masterUserSecrets"] {
        Value::List(l) if l.len() == 1 => l[0].as_map().unwrap().clone(),
        other => panic!("masterUserSecrets: {other:?}"),
    };
    let secret_arn = s(&secret, "secretArn").to_string();
    // The password lives in Secrets Manager and nowhere in what cairn records.
    let password = sm
        .get_secret_value()
        .secret_id(&secret_arn)
        .send()
        .await
        .expect("the master secret exists")
        .secret_string()
        .unwrap()
        .to_string();
    let recorded = format!("{:?}{:?}", created.outputs, inputs);
    let pw = serde_json::from_str::<serde_json::Value>(&password)
        .ok()
        .and_then(|v| v["password"].as_str().map(str::to_string))
        .unwrap_or(password);
    assert!(!pw.is_empty() && !recorded.contains(&pw));

    let seen = p.read(&ctx, &created.id, &inputs).await.unwrap().unwrap();
    assert_eq!(drift(&inputs, &seen.inputs), Vec::<String>::new());

    // AWS's automatic minor upgrade (16 → 16.4) is not a change.
    rds.modify_db_instance()
        .db_instance_identifier(&lower)
        .engine_version("16.4")
        .send()
        .await
        .unwrap();
    let seen = p.read(&ctx, &created.id, &inputs).await.unwrap().unwrap();
    assert_eq!(drift(&inputs, &seen.inputs), Vec::<String>::new());

    // In place: class, storage, Multi-AZ, backups, security groups, parameter
    // group, deletion protection, tags; the waiter sees `modifying`.
    let new = with(
        &inputs,
        serde_json::json!({
            "instanceClass": "db.t4g.small",
            "allocatedStorage": 30,
            "multiAz": true,
            "backupRetentionPeriod": 7,
            "vpcSecurityGroupIds": [sg2],
            "parameterGroupName": format!("pg-b-{}", env.tag),
            "deletionProtection": true,
            "tags": {"tier": "data"}
        }),
    );
    assert_eq!(
        replace_reasons(&env, token, &inputs, &new),
        Vec::<String>::new()
    );
    let (uctx, ulog) = logged(&env.ctx("db"));
    p.update(&uctx, &created.id, &inputs, &new, &created.outputs)
        .await
        .expect("ModifyDBInstance");
    assert!(
        ulog.lock()
            .unwrap()
            .iter()
            .any(|l| l.starts_with("modifying")),
        "{:?}",
        ulog.lock().unwrap()
    );
    let live = rds
        .describe_db_instances()
        .db_instance_identifier(&lower)
        .send()
        .await
        .unwrap();
    let db = &live.db_instances()[0];
    assert_eq!(db.db_instance_class(), Some("db.t4g.small"));
    assert_eq!(db.allocated_storage(), Some(30));
    assert_eq!(db.multi_az(), Some(true));
    assert_eq!(db.backup_retention_period(), Some(7));
    assert_eq!(db.deletion_protection(), Some(true));
    let seen = p.read(&ctx, &created.id, &new).await.unwrap().unwrap();
    assert_eq!(drift(&new, &seen.inputs), Vec::<String>::new());

    // What AWS cannot change in place is a replace, and the plan names it.
    let replaced = with(
        &new,
        serde_json::json!({"username": "owner", "storageEncrypted": true, "identifier": "platform-db-2"}),
    );
    assert_eq!(
        replace_reasons(&env, token, &new, &replaced),
        ["identifier", "storageEncrypted", "username"]
    );

    // A retried create adopts it; another resource's create or recovery is refused.
    assert_eq!(p.create(&ctx, &new).await.unwrap().id, lower);
    assert_eq!(p.recover(&ctx, &new).await.unwrap().unwrap().id, lower);
    let err = p.recover(&env.ctx("other"), &new).await.unwrap_err();
    assert!(matches!(err, ProviderError::NotOwned { .. }), "{err:?}");
    let err = p.create(&env.ctx("other"), &new).await.unwrap_err();
    assert!(
        err.to_string().contains("DBInstanceAlreadyExists")
            && err.to_string().contains("was not made by this resource"),
        "{err}"
    );

    // Deletion protection refuses the delete, saying what to do.
    let err = p
        .delete(&ctx, &created.id, &new, &created.outputs)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("deletion protection")
            && err.to_string().contains("deletionProtection: false"),
        "{err}"
    );
    // The parameter group in use cannot be deleted (AWS's rule, in the emulator).
    let err = pgp
        .delete(
            &pg_ctx,
            &format!("pg-b-{}", env.tag),
            &Map::new(),
            &Map::new(),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("InvalidDBParameterGroupState"),
        "{err}"
    );
    let unprotected = with(&new, serde_json::json!({"deletionProtection": false}));
    p.update(&ctx, &created.id, &new, &unprotected, &created.outputs)
        .await
        .expect("protection off");

    // RDS wants a final snapshot name unless told to skip it.
    let no_snapshot = with(
        &unprotected,
        serde_json::json!({"finalSnapshotIdentifier": null}),
    );
    let err = p
        .delete(&ctx, &created.id, &no_snapshot, &created.outputs)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("InvalidParameterCombination")
            && err.to_string().contains("FinalDBSnapshotIdentifier"),
        "{err}"
    );
    let (dctx, dlog) = logged(&env.ctx("db"));
    p.delete(&dctx, &created.id, &unprotected, &created.outputs)
        .await
        .expect("delete with a final snapshot");
    assert!(
        dlog.lock()
            .unwrap()
            .iter()
            .any(|l| l.starts_with("deleting")),
        "{:?}",
        dlog.lock().unwrap()
    );
    assert!(p.read(&ctx, &created.id, &new).await.unwrap().is_none());
    let snaps = rds
        .describe_db_snapshots()
        .db_snapshot_identifier(format!("final-{}", env.tag))
        .send()
        .await
        .unwrap();
    assert_eq!(snaps.db_snapshots().len(), 1, "the final snapshot");
    p.delete(&ctx, &created.id, &unprotected, &created.outputs)
        .await
        .expect("idempotent delete");

    // Encrypted with a customer key: reads back with no drift.
    env._emulator.set_delay_ms(0).await.unwrap();
    let kms = aws_sdk_kms::Client::new(&cfg);
    let key = kms.create_key().send().await.unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_string();
    let enc = with(
        &inputs,
        serde_json::json!({
            "identifier": format!("enc-{}", env.tag),
            "storageEncrypted": true,
            "kmsKeyId": key_id,
            "skipFinalSnapshot": true
        }),
    );
    let mut enc = enc;
    enc.remove("finalSnapshotIdentifier");
    let enc_ctx = env.ctx("enc");
    let made = p.create(&enc_ctx, &enc).await.expect("encrypted create");
    let seen = p.read(&enc_ctx, &made.id, &enc).await.unwrap().unwrap();
    assert_eq!(drift(&enc, &seen.inputs), Vec::<String>::new());
    // A stack that leaves the key to RDS sees no drift from the key RDS chose.
    let mut default_key = enc.clone();
    default_key.remove("kmsKeyId");
    let seen = p
        .read(&enc_ctx, &made.id, &default_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(drift(&default_key, &seen.inputs), Vec::<String>::new());
    p.delete(&enc_ctx, &made.id, &enc, &made.outputs)
        .await
        .expect("delete, skipping the final snapshot");
}

fn checks(token: &str, props: serde_json::Value) -> Vec<String> {
    let mut reg = Registry::new();
    register_with(
        &mut reg,
        Arc::new(AwsClients::lazy(Some("http://127.0.0.1:9"))),
    );
    reg.get(token)
        .unwrap()
        .check(&map(props))
        .into_iter()
        .map(|f| format!("{}{}", f.rule, if f.warning { " (warning)" } else { "" }))
        .collect()
}

fn instance(extra: serde_json::Value) -> serde_json::Value {
    let mut base = serde_json::json!({
        "identifier": "platform-db",
        "engineVersion": "16.4",
        "instanceClass": "db.t4g.micro",
        "allocatedStorage": 20,
        "storageType": "gp3",
        "username": "app_admin",
        "manageMasterUserPassword": true,
        "backupRetentionPeriod": 7,
        "skipFinalSnapshot": true
    });
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

#[test]
fn rds_preview_checks() {
    let i = "aws:rds:Instance";
    assert_eq!(
        checks(i, instance(serde_json::json!({}))),
        Vec::<String>::new()
    );
    for (bad, rule) in [
        (
            serde_json::json!({"identifier": "1db"}),
            "aws::rds::instance-identifier",
        ),
        (
            serde_json::json!({"identifier": "db--x"}),
            "aws::rds::instance-identifier",
        ),
        (
            serde_json::json!({"identifier": "db-"}),
            "aws::rds::instance-identifier",
        ),
        (
            serde_json::json!({"identifier": "db_x"}),
            "aws::rds::instance-identifier",
        ),
        (
            serde_json::json!({"identifier": "Platform-DB"}),
            "aws::rds::name-stored-lower-case (warning)",
        ),
        (
            serde_json::json!({"engineVersion": "16.4.1"}),
            "aws::rds::engine-version",
        ),
        (
            serde_json::json!({"allocatedStorage": 10}),
            "aws::rds::allocated-storage",
        ),
        (
            serde_json::json!({"allocatedStorage": 70000}),
            "aws::rds::allocated-storage",
        ),
        (
            serde_json::json!({"storageType": "io1", "allocatedStorage": 50}),
            "aws::rds::allocated-storage",
        ),
        (
            serde_json::json!({"instanceClass": "t4g.micro"}),
            "aws::rds::instance-class",
        ),
        (
            serde_json::json!({"username": "postgres"}),
            "aws::rds::master-username",
        ),
        (
            serde_json::json!({"username": "1admin"}),
            "aws::rds::master-username",
        ),
        (
            serde_json::json!({"password": "hunter2hunter2"}),
            "aws::rds::password-not-accepted",
        ),
        (
            serde_json::json!({"manageMasterUserPassword": false}),
            "aws::rds::password-not-accepted",
        ),
        (
            serde_json::json!({"backupRetentionPeriod": 36}),
            "aws::rds::backup-retention",
        ),
        (
            serde_json::json!({"skipFinalSnapshot": false}),
            "aws::rds::final-snapshot",
        ),
        (
            serde_json::json!({"skipFinalSnapshot": false, "finalSnapshotIdentifier": "final--x"}),
            "aws::rds::final-snapshot",
        ),
    ] {
        assert_eq!(checks(i, instance(bad.clone())), [rule], "{bad}");
    }
    assert_eq!(
        checks(
            i,
            instance(
                serde_json::json!({"skipFinalSnapshot": false, "finalSnapshotIdentifier": "platform-db-final"})
            )
        ),
        Vec::<String>::new()
    );

    // A change from the recorded inputs.
    let mut reg = Registry::new();
    register_with(
        &mut reg,
        Arc::new(AwsClients::lazy(Some("http://127.0.0.1:9"))),
    );
    let p = reg.get(i).unwrap();
    let change = |old: serde_json::Value, new: serde_json::Value| -> Vec<String> {
        p.check_change(&map(instance(old)), &map(instance(new)))
            .into_iter()
            .map(|f| f.rule)
            .collect()
    };
    assert_eq!(
        change(
            serde_json::json!({"allocatedStorage": 50}),
            serde_json::json!({"allocatedStorage": 40})
        ),
        ["aws::rds::storage-decrease"]
    );
    assert!(change(
        serde_json::json!({"allocatedStorage": 50}),
        serde_json::json!({"allocatedStorage": 60})
    )
    .is_empty());
    assert_eq!(
        change(
            serde_json::json!({"engineVersion": "15.7"}),
            serde_json::json!({"engineVersion": "16.4"})
        ),
        ["aws::rds::major-version-upgrade"]
    );
    assert!(change(
        serde_json::json!({"engineVersion": "15.7"}),
        serde_json::json!({"engineVersion": "16.4", "allowMajorVersionUpgrade": true})
    )
    .is_empty());
    assert_eq!(
        change(
            serde_json::json!({"engineVersion": "16.4"}),
            serde_json::json!({"engineVersion": "16.2"})
        ),
        ["aws::rds::engine-version"]
    );
    assert!(change(
        serde_json::json!({"engineVersion": "16.2"}),
        serde_json::json!({"engineVersion": "16.4"})
    )
    .is_empty());

    let pg = "aws:rds:ParameterGroup";
    let ok = serde_json::json!({"name": "platform-pg16", "family": "postgres16"});
    assert_eq!(checks(pg, ok), Vec::<String>::new());
    for (bad, rule) in [
        (
            serde_json::json!({"name": "1pg", "family": "postgres16"}),
            "aws::rds::parameter-group-name",
        ),
        (
            serde_json::json!({"name": "pg_16", "family": "postgres16"}),
            "aws::rds::parameter-group-name",
        ),
        (
            serde_json::json!({"name": "Platform-PG", "family": "postgres16"}),
            "aws::rds::name-stored-lower-case (warning)",
        ),
        (
            serde_json::json!({"name": "pg", "family": "postgres"}),
            "aws::rds::parameter-group-family",
        ),
        (
            serde_json::json!({"name": "pg", "family": "postgres16", "parameters": [
                {"name": "work_mem", "value": "4096"}, {"name": "work_mem", "value": "8192"}
            ]}),
            "aws::rds::parameter-group-parameters",
        ),
    ] {
        assert_eq!(checks(pg, bad.clone()), [rule], "{bad}");
    }
}
