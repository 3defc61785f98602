//! `aws:rds:Instance`: a PostgreSQL DB instance (Pulumi's `aws.rds.Instance`).
//! The identifier is the name (RDS stores it lower case) and RDS has no
//! client token: a create that finds the identifier taken adopts the
//! instance only when it carries this resource's `cairn:urn` tag. The master
//! password is managed by RDS in Secrets Manager (`manageMasterUserPassword`)
//! and never passes through cairn. Waiters follow RDS's statuses: `creating`
//! → `backing-up` → `available`, `modifying` → `available`, `deleting` → gone.
//! An engine version the stack names as a prefix of what runs (`16` vs
//! `16.4`, after an automatic minor upgrade) reads back as the stack's.

use crate::clients::Shared;
use crate::util::{
    api_error, api_failure, concrete_str, ensure_ours, error_code, get_bool, get_i32, get_i64,
    get_str, get_str_list, get_string, get_tags, order_like, resource_label, str_list_value,
    tags_value, URN_TAG,
};
use crate::wait::{wait_shared, Probe, WaitSpec};
use async_trait::async_trait;
use aws_sdk_rds::types::DbInstance;
use cairn_core::dsl::{DeclaredType, Input, Output, Outputs, Resource};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, Operation, ProviderError, ResourceProvider,
    StackView,
};
use cairn_core::schema::{PropType, ResourceSchema};
use cairn_core::value::{Map, PropertyPath, Value};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

pub const TOKEN: &str = "aws:rds:Instance";
const CREATE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
const UPDATE_TIMEOUT: Duration = Duration::from_secs(80 * 60);
const DELETE_TIMEOUT: Duration = Duration::from_secs(60 * 60);

pub mod rules {
    pub const IDENTIFIER: &str = "aws::rds::instance-identifier";
    pub const LOWER_CASE: &str = "aws::rds::name-stored-lower-case";
    pub const ENGINE_VERSION: &str = "aws::rds::engine-version";
    pub const MAJOR_UPGRADE: &str = "aws::rds::major-version-upgrade";
    pub const STORAGE: &str = "aws::rds::allocated-storage";
    pub const STORAGE_DECREASE: &str = "aws::rds::storage-decrease";
    pub const INSTANCE_CLASS: &str = "aws::rds::instance-class";
    pub const USERNAME: &str = "aws::rds::master-username";
    pub const PASSWORD: &str = "aws::rds::password-not-accepted";
    pub const BACKUP_RETENTION: &str = "aws::rds::backup-retention";
    pub const FINAL_SNAPSHOT: &str = "aws::rds::final-snapshot";
    pub const PARAMETER_GROUP_FAMILY: &str = "aws::rds::parameter-group-family-mismatch";
}

pub struct Instance;

/// An RDS PostgreSQL DB instance; its master password is kept by RDS in Secrets Manager.
#[derive(Serialize, Clone, Debug, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(token = "aws:rds:Instance", kind = Instance, outputs = InstanceOutputs, fixed_name)]
pub struct InstanceArgs {
    /// DB instance identifier: 1 to 63 letters, digits and hyphens, a letter first, no `--`, no trailing hyphen; stored lower case.
    #[prop(replaces, ty = PropType::String { min_len: Some(1), max_len: Some(63) })]
    pub identifier: Input<String>,
    /// Database engine: `postgres`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(replaces, default = "postgres", ty = PropType::one_of(&["postgres"]))]
    pub engine: Option<Input<String>>,
    /// Engine version, `16` or `16.4` (in place; a new major version needs `allowMajorVersionUpgrade`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine_version: Option<Input<String>>,
    /// Allow an in-place upgrade to a new major engine version.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(default = false)]
    pub allow_major_version_upgrade: Option<Input<bool>>,
    /// Instance class, e.g. `db.t4g.micro` (in place).
    pub instance_class: Input<String>,
    /// Storage in GiB: 20 to 65536 for gp2/gp3, 100 to 65536 for io1/io2; grows in place, never shrinks.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(default = 20)]
    pub allocated_storage: Option<Input<i64>>,
    /// Storage type (in place).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(default = "gp2", ty = PropType::one_of(&["gp2", "gp3", "io1", "io2"]))]
    pub storage_type: Option<Input<String>>,
    /// Encrypt the storage (cannot change after create).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(replaces, default = false)]
    pub storage_encrypted: Option<Input<bool>>,
    /// KMS key for the storage (cannot change after create).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(replaces)]
    pub kms_key_id: Option<Input<String>>,
    /// DB subnet group (cannot change after create here).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(replaces)]
    pub db_subnet_group_name: Option<Input<String>>,
    /// VPC security groups (in place).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_security_group_ids: Option<Vec<Input<String>>>,
    /// A standby in another Availability Zone (in place).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(default = false)]
    pub multi_az: Option<Input<bool>>,
    /// Master user name: 1 to 63 letters, digits and `_`, a letter first, not a reserved word.
    #[prop(replaces, ty = PropType::String { min_len: Some(1), max_len: Some(63) })]
    pub username: Input<String>,
    /// RDS keeps the master password in Secrets Manager (cairn never sees it); must be true.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(default = true)]
    pub manage_master_user_password: Option<Input<bool>>,
    /// Not accepted: set `manageMasterUserPassword` and RDS keeps the password in Secrets Manager.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(secret)]
    pub password: Option<Input<String>>,
    /// Days of automated backups, 0 to 35 (in place).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(default = 1)]
    pub backup_retention_period: Option<Input<i64>>,
    /// Refuse to delete the instance while true (in place).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(default = false)]
    pub deletion_protection: Option<Input<bool>>,
    /// Delete without a final snapshot.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(default = false)]
    pub skip_final_snapshot: Option<Input<bool>>,
    /// Name of the snapshot taken at delete (needed unless `skipFinalSnapshot`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_snapshot_identifier: Option<Input<String>>,
    /// DB parameter group (in place).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter_group_name: Option<Input<String>>,
    /// Reachable from the internet (in place).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(default = false)]
    pub publicly_accessible: Option<Input<bool>>,
    /// Apply changes now rather than in the next maintenance window.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(default = false)]
    pub apply_immediately: Option<Input<bool>>,
    /// Tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Input<String>>>,
}

#[derive(Outputs)]
pub struct InstanceOutputs {
    /// The identifier (lower case).
    pub id: Output<String>,
    /// The instance's ARN.
    pub arn: Output<String>,
    /// The host name.
    pub address: Output<String>,
    /// `address:port`.
    pub endpoint: Output<String>,
    /// The port.
    pub port: Output<i64>,
    /// RDS's resource id (`db-...`).
    pub resource_id: Output<String>,
    /// The master password's secret: `[{secretArn, kmsKeyId, secretStatus}]`.
    pub master_user_secrets: Output<Vec<Value>>,
}

fn outputs_of(db: &DbInstance, id: &str) -> Map {
    let mut out = Map::new();
    out.insert(
        "id".into(),
        db.db_instance_identifier().unwrap_or(id).into(),
    );
    out.insert(
        "arn".into(),
        db.db_instance_arn().unwrap_or_default().into(),
    );
    let (address, port) = db
        .endpoint()
        .map(|e| (e.address().unwrap_or_default(), e.port().unwrap_or(5432)))
        .unwrap_or(("", 5432));
    out.insert("address".into(), address.into());
    out.insert("endpoint".into(), format!("{address}:{port}").into());
    out.insert("port".into(), Value::Int(port.into()));
    out.insert(
        "resourceId".into(),
        db.dbi_resource_id().unwrap_or_default().into(),
    );
    let secrets = db
        .master_user_secret()
        .map(|s| {
            let mut m = Map::new();
            m.insert(
                "secretArn".into(),
                s.secret_arn().unwrap_or_default().into(),
            );
            m.insert("kmsKeyId".into(), s.kms_key_id().unwrap_or_default().into());
            m.insert(
                "secretStatus".into(),
                s.secret_status().unwrap_or_default().into(),
            );
            vec![Value::Map(m)]
        })
        .unwrap_or_default();
    out.insert("masterUserSecrets".into(), Value::List(secrets));
    out
}

fn not_found(code: Option<&str>) -> bool {
    matches!(code, Some("DBInstanceNotFound" | "DBInstanceNotFoundFault"))
}

fn status(db: &DbInstance) -> &str {
    db.db_instance_status().unwrap_or("unknown")
}

/// `16.4` → (16, Some(4)); `16` → (16, None). None when not that shape.
fn parse_version(v: &str) -> Option<(u32, Option<u32>)> {
    let mut parts = v.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = match parts.next() {
        Some(m) => Some(m.parse().ok()?),
        None => None,
    };
    if parts.next().is_some() {
        return None;
    }
    Some((major, minor))
}

/// AWS: 1–63 letters, digits, hyphens; a letter first; no `--`; no trailing hyphen.
pub(crate) fn identifier_problem(id: &str) -> Option<String> {
    if id.is_empty() || id.len() > 63 {
        return Some("must be 1 to 63 characters".into());
    }
    if !id.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Some("must begin with a letter".into());
    }
    if let Some(bad) = crate::util::disallowed_chars(id, |c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Some(format!(
            "contains {bad}; only letters, digits and hyphens are allowed"
        ));
    }
    if id.contains("--") {
        return Some("must not contain two consecutive hyphens".into());
    }
    if id.ends_with('-') {
        return Some("must not end with a hyphen".into());
    }
    None
}

/// Words RDS for PostgreSQL refuses as the master user name (PostgreSQL's
/// reserved words and its own roles; a short, documented subset).
const RESERVED_USERNAMES: &[&str] = &[
    "postgres",
    "rdsadmin",
    "rdsrepladmin",
    "rds_superuser",
    "admin",
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "user",
    "select",
    "table",
    "where",
    "public",
];

fn username_problem(u: &str) -> Option<String> {
    if u.is_empty() || u.len() > 63 {
        return Some("must be 1 to 63 characters".into());
    }
    if !u.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Some("must begin with a letter".into());
    }
    if let Some(bad) = crate::util::disallowed_chars(u, |c| c.is_ascii_alphanumeric() || c == '_') {
        return Some(format!(
            "contains {bad}; only letters, digits and `_` are allowed"
        ));
    }
    if RESERVED_USERNAMES.contains(&u.to_ascii_lowercase().as_str()) {
        return Some(format!(
            "`{u}` is a reserved word for the RDS for PostgreSQL engine"
        ));
    }
    None
}

fn storage_bounds(storage_type: &str) -> (i64, i64) {
    match storage_type {
        "io1" | "io2" => (100, 65536),
        _ => (20, 65536),
    }
}

pub struct InstanceProvider {
    schema: ResourceSchema,
    clients: Shared,
}

impl InstanceProvider {
    pub fn new(clients: Shared) -> Self {
        InstanceProvider {
            schema: Instance::schema(),
            clients,
        }
    }

    fn family_mismatch(&self, pg: &str, version: &str, stack: &dyn StackView) -> Vec<CheckFailure> {
        let group = stack.referenced(pg).or_else(|| {
            stack
                .of_type(super::parameter_group::TOKEN)
                .into_iter()
                .find(|r| {
                    concrete_str(&r.inputs, "name").is_some_and(|n| n.eq_ignore_ascii_case(pg))
                })
        });
        let Some(group) = group.filter(|g| g.type_token == super::parameter_group::TOKEN) else {
            return Vec::new();
        };
        let (Some(family), Some((major, _))) = (
            concrete_str(&group.inputs, "family"),
            parse_version(version),
        ) else {
            return Vec::new();
        };
        let wanted = format!("postgres{major}");
        if family == wanted {
            return Vec::new();
        }
        vec![CheckFailure::error(
            rules::PARAMETER_GROUP_FAMILY,
            PropertyPath::key("parameterGroupName"),
            format!(
                "parameter group `{}` is of family {family}; RDS wants {wanted} for PostgreSQL {version}",
                group.name
            ),
        )
        .with_help(format!("use a parameter group of family {wanted}"))]
    }

    async fn describe(
        &self,
        resource: &str,
        id: &str,
    ) -> Result<Option<DbInstance>, ProviderError> {
        let sdk = self.clients.get().await?;
        match sdk
            .rds
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
        {
            Ok(out) => Ok(out.db_instances().first().cloned()),
            Err(e) if not_found(error_code(&e)) => Ok(None),
            Err(e) => Err(api_error(resource, "rds:DescribeDBInstances", e, &[])),
        }
    }

    /// Polls until the instance is `available` (reporting every status seen).
    async fn wait_available(
        &self,
        ctx: &CallContext,
        resource: &str,
        id: &str,
        deadline: Duration,
    ) -> Result<DbInstance, ProviderError> {
        let (clients, label) = (self.clients.clone(), resource.to_string());
        wait_shared(
            ctx,
            &self.clients,
            WaitSpec {
                resource,
                api: "rds:DescribeDBInstances",
                wanted: "available",
                deadline,
            },
            id,
            move |ids| describe_by_ids(clients.clone(), label.clone(), ids),
            |found| match found {
                Some(db) if status(&db) == "available" => Probe::Done(db),
                Some(db)
                    if matches!(
                        status(&db),
                        "failed" | "deleting" | "incompatible-parameters" | "storage-full"
                    ) =>
                {
                    Probe::Failed(status(&db).to_string())
                }
                Some(db) => Probe::Pending(status(&db).to_string()),
                None => Probe::Pending("not visible yet".into()),
            },
        )
        .await
    }

    /// Adopts the instance `id` when it carries this resource's tag (waiting for it).
    async fn adopt(
        &self,
        ctx: &CallContext,
        resource: &str,
        id: &str,
    ) -> Result<Option<Created>, ProviderError> {
        let Some(db) = self.describe(resource, id).await? else {
            return Ok(None);
        };
        let tags = match db.db_instance_arn() {
            Some(arn) => {
                Some(super::tags::tags_of(&self.clients.get().await?.rds, resource, arn).await?)
            }
            None => None,
        };
        ensure_ours(ctx, resource, id, tags.as_ref())?;
        if status(&db) == "deleting" {
            return Ok(None);
        }
        ctx.report("adopting the DB instance (it carries this resource's tag)");
        let db = self
            .wait_available(
                ctx,
                resource,
                id,
                ctx.deadline(Operation::Create, CREATE_TIMEOUT),
            )
            .await?;
        Ok(Some(Created {
            id: id.to_string(),
            outputs: outputs_of(&db, id),
        }))
    }
}

#[async_trait]
impl ResourceProvider for InstanceProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        let mut out = Vec::new();
        if let Some(id) = concrete_str(inputs, "identifier") {
            if let Some(problem) = identifier_problem(id) {
                out.push(
                    CheckFailure::error(
                        rules::IDENTIFIER,
                        PropertyPath::key("identifier"),
                        format!("DB instance identifier `{id}` {problem}"),
                    )
                    .with_help("use 1 to 63 letters, digits and hyphens, starting with a letter, e.g. `platform-db`"),
                );
            } else if id != id.to_lowercase() {
                out.push(
                    CheckFailure::warning(
                        rules::LOWER_CASE,
                        PropertyPath::key("identifier"),
                        format!(
                            "RDS stores identifier `{id}` as `{}`; cairn sends and compares it in lower case",
                            id.to_lowercase()
                        ),
                    )
                    .with_help(format!("write it as `{}` to match what AWS reports", id.to_lowercase())),
                );
            }
        }
        if let Some(v) = concrete_str(inputs, "engineVersion") {
            if parse_version(v).is_none() {
                out.push(
                    CheckFailure::error(
                        rules::ENGINE_VERSION,
                        PropertyPath::key("engineVersion"),
                        format!("`{v}` is not a PostgreSQL engine version RDS knows: it wants MAJOR or MAJOR.MINOR"),
                    )
                    .with_help("write e.g. `16` (RDS picks the newest minor) or `16.4`"),
                );
            }
        }
        if let Some(class) = concrete_str(inputs, "instanceClass") {
            let ok = class
                .strip_prefix("db.")
                .and_then(|rest| rest.split_once('.'))
                .is_some_and(|(family, size)| {
                    !family.is_empty()
                        && !size.is_empty()
                        && family
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                        && size
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                });
            if !ok {
                out.push(
                    CheckFailure::error(
                        rules::INSTANCE_CLASS,
                        PropertyPath::key("instanceClass"),
                        format!("`{class}` is not an RDS instance class (`db.<family>.<size>`)"),
                    )
                    .with_help("e.g. `db.t4g.micro` or `db.m7g.large`"),
                );
            }
        }
        let storage_type = concrete_str(inputs, "storageType").unwrap_or("gp2");
        if let Some(gib) = get_i64(inputs, "allocatedStorage") {
            let (min, max) = storage_bounds(storage_type);
            if gib < min || gib > max {
                out.push(
                    CheckFailure::error(
                        rules::STORAGE,
                        PropertyPath::key("allocatedStorage"),
                        format!("{gib} GiB is outside what RDS allows for {storage_type} storage ({min} to {max} GiB)"),
                    )
                    .with_help(format!("choose between {min} and {max}")),
                );
            }
        }
        if let Some(u) = concrete_str(inputs, "username") {
            if let Some(problem) = username_problem(u) {
                out.push(
                    CheckFailure::error(
                        rules::USERNAME,
                        PropertyPath::key("username"),
                        format!("master user name {problem}"),
                    )
                    .with_help("e.g. `app_admin`"),
                );
            }
        }
        if inputs
            .get("password")
            .is_some_and(|v| !matches!(v, Value::Null))
        {
            out.push(
                CheckFailure::error(
                    rules::PASSWORD,
                    PropertyPath::key("password"),
                    "cairn does not take a master password: it would end up in state and plans",
                )
                .with_help("remove `password` and set `manageMasterUserPassword: true`; RDS then keeps the password in Secrets Manager (see the `masterUserSecrets` output)"),
            );
        }
        if get_bool(inputs, "manageMasterUserPassword") == Some(false) {
            out.push(
                CheckFailure::error(
                    rules::PASSWORD,
                    PropertyPath::key("manageMasterUserPassword"),
                    "without manageMasterUserPassword RDS needs a master password, which cairn does not take",
                )
                .with_help("set `manageMasterUserPassword: true` (the default)"),
            );
        }
        if let Some(days) = get_i64(inputs, "backupRetentionPeriod") {
            if !(0..=35).contains(&days) {
                out.push(
                    CheckFailure::error(
                        rules::BACKUP_RETENTION,
                        PropertyPath::key("backupRetentionPeriod"),
                        format!("backupRetentionPeriod {days} is outside 0 to 35 days"),
                    )
                    .with_help("choose 0 (no automated backups) to 35"),
                );
            }
        }
        let skip = get_bool(inputs, "skipFinalSnapshot") == Some(true);
        match inputs.get("finalSnapshotIdentifier") {
            None | Some(Value::Null) if !skip => out.push(
                CheckFailure::error(
                    rules::FINAL_SNAPSHOT,
                    PropertyPath::key("skipFinalSnapshot"),
                    "RDS refuses to delete this instance: it takes a final snapshot unless skipFinalSnapshot, and no finalSnapshotIdentifier names it",
                )
                .with_help("set `finalSnapshotIdentifier: <name>` or `skipFinalSnapshot: true`"),
            ),
            Some(_) => {
                if let Some(snap) = concrete_str(inputs, "finalSnapshotIdentifier") {
                    if let Some(problem) = identifier_problem(snap) {
                        out.push(
                            CheckFailure::error(
                                rules::FINAL_SNAPSHOT,
                                PropertyPath::key("finalSnapshotIdentifier"),
                                format!("final snapshot identifier `{snap}` {problem}"),
                            )
                            .with_help("use 1 to 63 letters, digits and hyphens, starting with a letter"),
                        );
                    }
                }
            }
            _ => {}
        }
        out
    }

    /// A parameter group of this stack whose family is not the instance's
    /// engine major version (RDS refuses it at create and modify).
    fn check_in_stack(
        &self,
        _name: &str,
        inputs: &Map,
        stack: &dyn StackView,
    ) -> Vec<CheckFailure> {
        let (Some(pg), Some(version)) = (
            get_str(inputs, "parameterGroupName"),
            concrete_str(inputs, "engineVersion"),
        ) else {
            return Vec::new();
        };
        self.family_mismatch(pg, version, stack)
    }

    fn check_change(&self, old: &Map, new: &Map) -> Vec<CheckFailure> {
        let mut out = Vec::new();
        if let (Some(o), Some(n)) = (
            get_i64(old, "allocatedStorage"),
            get_i64(new, "allocatedStorage"),
        ) {
            if n < o {
                out.push(
                    CheckFailure::error(
                        rules::STORAGE_DECREASE,
                        PropertyPath::key("allocatedStorage"),
                        format!("RDS cannot shrink storage: {o} GiB to {n} GiB"),
                    )
                    .with_help(format!("keep allocatedStorage at {o} or more; to shrink, restore a snapshot into a new instance")),
                );
            }
        }
        if let (Some(ov), Some(nv)) = (
            concrete_str(old, "engineVersion"),
            concrete_str(new, "engineVersion"),
        ) {
            if let (Some((om, omi)), Some((nm, nmi))) = (parse_version(ov), parse_version(nv)) {
                if nm > om && get_bool(new, "allowMajorVersionUpgrade") != Some(true) {
                    out.push(
                        CheckFailure::error(
                            rules::MAJOR_UPGRADE,
                            PropertyPath::key("engineVersion"),
                            format!("{ov} to {nv} is a major version upgrade, which RDS does only with allowMajorVersionUpgrade"),
                        )
                        .with_help("set `allowMajorVersionUpgrade: true` (and `applyImmediately: true` to do it now)"),
                    );
                } else if nm < om || (nm == om && matches!((omi, nmi), (Some(a), Some(b)) if b < a))
                {
                    out.push(
                        CheckFailure::error(
                            rules::ENGINE_VERSION,
                            PropertyPath::key("engineVersion"),
                            format!("RDS cannot downgrade the engine: {ov} to {nv}"),
                        )
                        .with_help(format!("keep engineVersion at {ov} or newer")),
                    );
                }
            }
        }
        out
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let id = &get_str(inputs, "identifier")
            .ok_or_else(|| ProviderError::invalid(&resource, "identifier is required"))?
            .to_lowercase();
        if inputs
            .get("password")
            .is_some_and(|v| !matches!(v, Value::Null))
        {
            return Err(ProviderError::invalid(
                &resource,
                "cairn does not take a master password: set manageMasterUserPassword",
            ));
        }
        let sdk = self.clients.get().await?;
        let mut tags = get_tags(inputs, "tags");
        tags.insert(URN_TAG.to_string(), ctx.urn.clone());
        let sgs = get_str_list(inputs, "vpcSecurityGroupIds");
        let out = sdk
            .rds
            .create_db_instance()
            .db_instance_identifier(id)
            .engine(get_str(inputs, "engine").unwrap_or("postgres"))
            .set_engine_version(get_string(inputs, "engineVersion"))
            .db_instance_class(get_str(inputs, "instanceClass").unwrap_or_default())
            .allocated_storage(get_i32(inputs, "allocatedStorage").unwrap_or(20))
            .storage_type(get_str(inputs, "storageType").unwrap_or("gp2"))
            .storage_encrypted(get_bool(inputs, "storageEncrypted").unwrap_or(false))
            .set_kms_key_id(get_string(inputs, "kmsKeyId"))
            .set_db_subnet_group_name(get_str(inputs, "dbSubnetGroupName").map(str::to_lowercase))
            .set_vpc_security_group_ids((!sgs.is_empty()).then_some(sgs))
            .multi_az(get_bool(inputs, "multiAz").unwrap_or(false))
            .master_username(get_str(inputs, "username").unwrap_or_default())
            .manage_master_user_password(true)
            .backup_retention_period(get_i32(inputs, "backupRetentionPeriod").unwrap_or(1))
            .deletion_protection(get_bool(inputs, "deletionProtection").unwrap_or(false))
            .set_db_parameter_group_name(
                get_str(inputs, "parameterGroupName").map(str::to_lowercase),
            )
            .publicly_accessible(get_bool(inputs, "publiclyAccessible").unwrap_or(false))
            .set_tags(Some(super::tags::rds_tags(&tags)))
            .send()
            .await;
        match out {
            Ok(_) => {}
            // Our own earlier attempt whose answer was lost, or somebody
            // else's instance: adopt it only if it is ours.
            Err(e) if error_code(&e) == Some("DBInstanceAlreadyExists") => {
                return match self.adopt(ctx, &resource, id).await {
                    Ok(Some(c)) => Ok(c),
                    Ok(None) => Err(api_error(&resource, "rds:CreateDBInstance", e, &[])),
                    Err(ProviderError::NotOwned { found, .. }) => Err(api_failure(
                        &resource,
                        "rds:CreateDBInstance",
                        "DBInstanceAlreadyExists",
                        format!(
                            "the DB instance {id} already exists and was not made by this \
                             resource (it carries {found}, not {URN_TAG}={}): choose another \
                             identifier, delete that instance, or import it",
                            ctx.urn
                        ),
                    )),
                    Err(other) => Err(other),
                };
            }
            Err(e) => return Err(api_error(&resource, "rds:CreateDBInstance", e, &[])),
        }
        let db = self
            .wait_available(
                ctx,
                &resource,
                id,
                ctx.deadline(Operation::Create, CREATE_TIMEOUT),
            )
            .await?;
        Ok(Created {
            id: id.clone(),
            outputs: outputs_of(&db, id),
        })
    }

    async fn read(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let Some(db) = self.describe(&resource, id).await? else {
            return Ok(None);
        };
        if status(&db) == "deleting" {
            return Ok(None);
        }
        let ident = db.db_instance_identifier().unwrap_or(id).to_string();
        let spell = crate::resources::replication_group::stack_spelling;
        let mut obs = Map::new();
        obs.insert(
            "identifier".into(),
            spell(&ident, get_str(inputs, "identifier")).into(),
        );
        obs.insert("engine".into(), db.engine().unwrap_or("postgres").into());
        if let Some(v) = db.engine_version() {
            // `16` in the stack and `16.4` running: the stack's (AWS's minor upgrades are not a change).
            let v = match get_str(inputs, "engineVersion") {
                Some(i) if v == i || v.starts_with(&format!("{i}.")) => i.to_string(),
                _ => v.to_string(),
            };
            obs.insert("engineVersion".into(), v.into());
        }
        for key in [
            "allowMajorVersionUpgrade",
            "applyImmediately",
            "skipFinalSnapshot",
        ] {
            obs.insert(key.into(), get_bool(inputs, key).unwrap_or(false).into());
        }
        if let Some(snap) = get_str(inputs, "finalSnapshotIdentifier") {
            obs.insert("finalSnapshotIdentifier".into(), snap.into());
        }
        obs.insert(
            "instanceClass".into(),
            db.db_instance_class().unwrap_or_default().into(),
        );
        obs.insert(
            "allocatedStorage".into(),
            Value::Int(db.allocated_storage().unwrap_or_default().into()),
        );
        obs.insert(
            "storageType".into(),
            db.storage_type().unwrap_or("gp2").into(),
        );
        obs.insert(
            "storageEncrypted".into(),
            db.storage_encrypted().unwrap_or(false).into(),
        );
        if let Some(k) = db.kms_key_id() {
            // Only when declared (or imported): RDS fills in the default key.
            if inputs.contains_key("kmsKeyId") || inputs.is_empty() {
                let k = match get_str(inputs, "kmsKeyId") {
                    // RDS answers with the key's ARN; the stack may name its id.
                    Some(i) if k.ends_with(&format!("/{i}")) || k == i => i.to_string(),
                    _ => k.to_string(),
                };
                obs.insert("kmsKeyId".into(), k.into());
            }
        }
        if let Some(g) = db.db_subnet_group().and_then(|g| g.db_subnet_group_name()) {
            if inputs.contains_key("dbSubnetGroupName") || g != "default" {
                obs.insert(
                    "dbSubnetGroupName".into(),
                    spell(g, get_str(inputs, "dbSubnetGroupName")).into(),
                );
            }
        }
        let sgs: Vec<String> = db
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
            .collect();
        if inputs.contains_key("vpcSecurityGroupIds") || inputs.is_empty() {
            obs.insert(
                "vpcSecurityGroupIds".into(),
                str_list_value(&order_like(
                    &sgs,
                    &get_str_list(inputs, "vpcSecurityGroupIds"),
                )),
            );
        }
        obs.insert("multiAz".into(), db.multi_az().unwrap_or(false).into());
        obs.insert(
            "username".into(),
            db.master_username().unwrap_or_default().into(),
        );
        obs.insert(
            "manageMasterUserPassword".into(),
            db.master_user_secret().is_some().into(),
        );
        obs.insert(
            "backupRetentionPeriod".into(),
            Value::Int(db.backup_retention_period().unwrap_or_default().into()),
        );
        obs.insert(
            "deletionProtection".into(),
            db.deletion_protection().unwrap_or(false).into(),
        );
        if let Some(pg) = db
            .db_parameter_groups()
            .first()
            .and_then(|p| p.db_parameter_group_name())
        {
            if inputs.contains_key("parameterGroupName") || !pg.starts_with("default.") {
                obs.insert(
                    "parameterGroupName".into(),
                    spell(pg, get_str(inputs, "parameterGroupName")).into(),
                );
            }
        }
        obs.insert(
            "publiclyAccessible".into(),
            db.publicly_accessible().unwrap_or(false).into(),
        );
        if let Some(arn) = db.db_instance_arn() {
            let mut tags =
                super::tags::tags_of(&self.clients.get().await?.rds, &resource, arn).await?;
            tags.retain(|k, _| !crate::util::is_internal_tag(k));
            if inputs.contains_key("tags") || !tags.is_empty() {
                obs.insert("tags".into(), tags_value(&tags));
            }
        }
        Ok(Some(Observed {
            id: ident.clone(),
            inputs: obs,
            outputs: outputs_of(&db, &ident),
        }))
    }

    async fn update(
        &self,
        ctx: &CallContext,
        id: &str,
        old: &Map,
        new: &Map,
        _old_outputs: &Map,
    ) -> Result<Map, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let sdk = self.clients.get().await?;
        let changed = |k: &str| old.get(k) != new.get(k);
        let mut req = sdk
            .rds
            .modify_db_instance()
            .db_instance_identifier(id)
            .apply_immediately(get_bool(new, "applyImmediately").unwrap_or(false));
        let mut any = false;
        if changed("instanceClass") {
            req = req.db_instance_class(get_str(new, "instanceClass").unwrap_or_default());
            any = true;
        }
        if changed("allocatedStorage") {
            req = req.allocated_storage(get_i32(new, "allocatedStorage").unwrap_or(20));
            any = true;
        }
        if changed("storageType") {
            req = req.storage_type(get_str(new, "storageType").unwrap_or("gp2"));
            any = true;
        }
        if changed("engineVersion") {
            if let Some(v) = get_str(new, "engineVersion") {
                req = req.engine_version(v).allow_major_version_upgrade(
                    get_bool(new, "allowMajorVersionUpgrade").unwrap_or(false),
                );
                any = true;
            }
        }
        if changed("vpcSecurityGroupIds") {
            req = req.set_vpc_security_group_ids(Some(get_str_list(new, "vpcSecurityGroupIds")));
            any = true;
        }
        for (key, apply) in [
            ("multiAz", 0),
            ("deletionProtection", 1),
            ("publiclyAccessible", 2),
        ] {
            if changed(key) {
                let v = get_bool(new, key).unwrap_or(false);
                req = match apply {
                    0 => req.multi_az(v),
                    1 => req.deletion_protection(v),
                    _ => req.publicly_accessible(v),
                };
                any = true;
            }
        }
        if changed("backupRetentionPeriod") {
            req = req.backup_retention_period(get_i32(new, "backupRetentionPeriod").unwrap_or(1));
            any = true;
        }
        if changed("parameterGroupName") {
            if let Some(pg) = get_str(new, "parameterGroupName") {
                req = req.db_parameter_group_name(pg.to_lowercase());
                any = true;
            }
        }
        if any {
            req.send()
                .await
                .map_err(|e| api_error(&resource, "rds:ModifyDBInstance", e, &[]))?;
        }
        let db = self
            .wait_available(
                ctx,
                &resource,
                id,
                ctx.deadline(Operation::Update, UPDATE_TIMEOUT),
            )
            .await?;
        if changed("tags") {
            if let Some(arn) = db.db_instance_arn() {
                super::tags::sync_tags(&sdk.rds, &resource, arn, old, new).await?;
            }
        }
        Ok(outputs_of(&db, id))
    }

    async fn delete(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
        _outputs: &Map,
    ) -> Result<(), ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let sdk = self.clients.get().await?;
        let skip = get_bool(inputs, "skipFinalSnapshot").unwrap_or(false);
        let res = sdk
            .rds
            .delete_db_instance()
            .db_instance_identifier(id)
            .skip_final_snapshot(skip)
            .set_final_db_snapshot_identifier(
                (!skip)
                    .then(|| get_string(inputs, "finalSnapshotIdentifier"))
                    .flatten(),
            )
            .send()
            .await;
        match res {
            Ok(_) => {}
            Err(e) if not_found(error_code(&e)) => return Ok(()),
            Err(e)
                if error_code(&e) == Some("InvalidParameterCombination")
                    && get_bool(inputs, "deletionProtection") == Some(true) =>
            {
                return Err(api_failure(
                    &resource,
                    "rds:DeleteDBInstance",
                    "InvalidParameterCombination",
                    format!(
                        "the DB instance {id} has deletion protection: set deletionProtection: false \
                         and run up first, then delete it"
                    ),
                ));
            }
            Err(e) if error_code(&e) == Some("InvalidDBInstanceState") => {}
            Err(e) => return Err(api_error(&resource, "rds:DeleteDBInstance", e, &[])),
        }
        let (clients, label) = (self.clients.clone(), resource.clone());
        wait_shared(
            ctx,
            &self.clients,
            WaitSpec {
                resource: &resource,
                api: "rds:DescribeDBInstances",
                wanted: "deleted",
                deadline: ctx.deadline(Operation::Delete, DELETE_TIMEOUT),
            },
            id,
            move |ids| describe_by_ids(clients.clone(), label.clone(), ids),
            |found| match found {
                None => Probe::Done(()),
                Some(db) => Probe::Pending(status(&db).to_string()),
            },
        )
        .await
    }

    async fn recover(
        &self,
        ctx: &CallContext,
        inputs: &Map,
    ) -> Result<Option<Created>, ProviderError> {
        let resource = resource_label(ctx, TOKEN);
        let Some(id) = get_str(inputs, "identifier") else {
            return Ok(None);
        };
        self.adopt(ctx, &resource, &id.to_lowercase()).await
    }
}

/// The instances of `ids` that exist, in one call per 100 ids (the
/// `db-instance-id` filter), keyed by the id asked (identifiers are
/// case-insensitive): the shared waiters' round.
async fn describe_by_ids(
    clients: crate::clients::Shared,
    resource: String,
    ids: Vec<String>,
) -> Result<std::collections::HashMap<String, DbInstance>, ProviderError> {
    let sdk = clients.get().await?;
    let mut found = std::collections::HashMap::new();
    for chunk in ids.chunks(100) {
        let mut marker: Option<String> = None;
        loop {
            let out = sdk
                .rds
                .describe_db_instances()
                .filters(
                    aws_sdk_rds::types::Filter::builder()
                        .name("db-instance-id")
                        .set_values(Some(chunk.to_vec()))
                        .build(),
                )
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| api_error(&resource, "rds:DescribeDBInstances", e, &[]))?;
            for db in out.db_instances() {
                let name = db.db_instance_identifier().unwrap_or_default();
                if let Some(id) = chunk.iter().find(|id| id.eq_ignore_ascii_case(name)) {
                    found.insert(id.clone(), db.clone());
                }
            }
            marker = out.marker().filter(|m| !m.is_empty()).map(str::to_string);
            if marker.is_none() {
                break;
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_follow_rds_rules() {
        assert_eq!(identifier_problem("platform-db"), None);
        assert!(identifier_problem("1db").is_some());
        assert!(identifier_problem("db--x").is_some());
        assert!(identifier_problem("db-").is_some());
        assert!(identifier_problem("db_x").is_some());
        assert!(identifier_problem(&"a".repeat(64)).is_some());
    }

    #[test]
    fn versions_are_major_or_major_minor() {
        assert_eq!(parse_version("16"), Some((16, None)));
        assert_eq!(parse_version("16.4"), Some((16, Some(4))));
        assert_eq!(parse_version("16.4.1"), None);
        assert_eq!(parse_version("sixteen"), None);
    }
}
