//! `aws:rds:getEngineVersion`: one RDS engine version, chosen as Pulumi's
//! (the Terraform provider's) data source does: the engine's default
//! version unless `version`, `preferredVersions` or `latest` say otherwise
//! (RDS DescribeDBEngineVersions).

use crate::clients::Shared;
use crate::resources::aws::{input, s, strings};
use crate::util::api_error;
use aws_sdk_rds::types::DbEngineVersion;
use cairn_core::provider::{CallContext, DataSource, DataSourceSchema, ProviderError};
use cairn_core::schema::PropType;
use cairn_core::value::{Map, Value};

pub const TOKEN: &str = "aws:rds:getEngineVersion";

pub struct GetEngineVersion {
    clients: Shared,
    schema: DataSourceSchema,
}

impl GetEngineVersion {
    pub fn new(clients: Shared) -> Self {
        let mut engine = input("engine", PropType::string(), "the engine, e.g. `postgres`");
        engine.required = true;
        let list = || PropType::list(PropType::string());
        GetEngineVersion {
            clients,
            schema: DataSourceSchema {
                token: TOKEN.into(),
                description: "One RDS engine version: the default one, or the one `version`, \
                              `preferredVersions` or `latest` choose."
                    .into(),
                inputs: vec![
                    engine,
                    input(
                        "version",
                        PropType::string(),
                        "a version (`16.4`) or a major version (`16`, with `latest` or `defaultOnly`)",
                    ),
                    input(
                        "defaultOnly",
                        PropType::Bool,
                        "only AWS's default version (of the engine, or of `version`'s major version)",
                    ),
                    input("includeAll", PropType::Bool, "also versions no longer offered"),
                    input("latest", PropType::Bool, "the latest of the versions that match"),
                    input(
                        "parameterGroupFamily",
                        PropType::string(),
                        "only versions of this parameter group family, e.g. `postgres16`",
                    ),
                    input(
                        "preferredVersions",
                        list(),
                        "versions in order of preference: the first that matches is chosen",
                    ),
                    input(
                        "hasMajorTarget",
                        PropType::Bool,
                        "only versions with a major version upgrade target",
                    ),
                    input(
                        "hasMinorTarget",
                        PropType::Bool,
                        "only versions with a minor version upgrade target",
                    ),
                ],
                outputs: [
                    "engine",
                    "engineDescription",
                    "exportableLogTypes",
                    "id",
                    "parameterGroupFamily",
                    "status",
                    "supportedFeatureNames",
                    "supportedModes",
                    "supportsGlobalDatabases",
                    "supportsLimitlessDatabase",
                    "supportsLogExportsToCloudwatch",
                    "supportsParallelQuery",
                    "supportsReadReplica",
                    "validMajorTargets",
                    "validMinorTargets",
                    "validUpgradeTargets",
                    "version",
                    "versionActual",
                    "versionDescription",
                ]
                .map(String::from)
                .to_vec(),
            },
        }
    }
}

fn flag(args: &Map, k: &str) -> bool {
    args.get(k).and_then(Value::as_bool).unwrap_or(false)
}

fn text<'a>(args: &'a Map, k: &str) -> Option<&'a str> {
    args.get(k).and_then(Value::as_str)
}

/// Numeric parts of a version, for ordering (`16.10` after `16.9`).
fn version_key(v: &str) -> Vec<u64> {
    v.split(['.', '-'])
        .map(|p| p.parse::<u64>().unwrap_or(0))
        .collect()
}

fn targets(v: &DbEngineVersion, major: Option<bool>) -> Value {
    strings(
        v.valid_upgrade_target()
            .iter()
            .filter(|t| major.is_none_or(|m| t.is_major_version_upgrade() == Some(m)))
            .filter_map(|t| t.engine_version().map(str::to_string)),
    )
}

/// Pulumi's choice among `found`: the first preferred version present,
/// else the latest when `latest`, else the only one.
fn choose(args: &Map, mut found: Vec<DbEngineVersion>) -> Result<DbEngineVersion, ProviderError> {
    if found.is_empty() {
        return Err(ProviderError::invalid(
            TOKEN,
            "no RDS engine version matches the arguments",
        ));
    }
    let preferred: Vec<&str> = args
        .get("preferredVersions")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for p in &preferred {
        if let Some(i) = found.iter().position(|v| v.engine_version() == Some(*p)) {
            return Ok(found.swap_remove(i));
        }
    }
    if !preferred.is_empty() && !flag(args, "latest") {
        return Err(ProviderError::invalid(
            TOKEN,
            format!(
                "none of the preferred versions ({}) matches",
                preferred.join(", ")
            ),
        ));
    }
    if found.len() > 1 && flag(args, "latest") {
        found.sort_by_key(|v| version_key(v.engine_version().unwrap_or_default()));
    } else if found.len() > 1 {
        let names: Vec<&str> = found.iter().filter_map(|v| v.engine_version()).collect();
        return Err(ProviderError::invalid(
            TOKEN,
            format!(
                "several RDS engine versions match ({}): add `latest: true`, `defaultOnly: true` or `preferredVersions`",
                names.join(", ")
            ),
        ));
    }
    Ok(found.pop().expect("not empty"))
}

#[async_trait::async_trait]
impl DataSource for GetEngineVersion {
    fn schema(&self) -> &DataSourceSchema {
        &self.schema
    }

    async fn invoke(&self, _ctx: &CallContext, args: &Map) -> Result<Map, ProviderError> {
        let sdk = self.clients.get().await?;
        let engine = text(args, "engine")
            .ok_or_else(|| ProviderError::invalid(TOKEN, "`engine` is required"))?;
        let version = text(args, "version");
        let chosen_otherwise =
            version.is_some() || args.contains_key("preferredVersions") || flag(args, "latest");
        let default_only = match args.get("defaultOnly").and_then(Value::as_bool) {
            Some(d) => d,
            None => !chosen_otherwise,
        };
        let mut found = Vec::new();
        let mut marker = None;
        loop {
            let out = sdk
                .rds
                .describe_db_engine_versions()
                .engine(engine)
                .set_engine_version(version.map(str::to_string))
                .set_db_parameter_group_family(
                    text(args, "parameterGroupFamily").map(str::to_string),
                )
                .default_only(default_only)
                .set_include_all(args.get("includeAll").and_then(Value::as_bool))
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| api_error(TOKEN, "rds:DescribeDBEngineVersions", e, &[]))?;
            found.extend(out.db_engine_versions().iter().cloned());
            marker = out.marker().map(str::to_string);
            if marker.is_none() {
                break;
            }
        }
        let has = |v: &DbEngineVersion, major: bool| {
            v.valid_upgrade_target()
                .iter()
                .any(|t| t.is_major_version_upgrade() == Some(major))
        };
        found.retain(|v| {
            (!flag(args, "hasMajorTarget") || has(v, true))
                && (!flag(args, "hasMinorTarget") || has(v, false))
        });
        let v = choose(args, found)?;
        let actual = v.engine_version().unwrap_or_default().to_string();
        let b = |x: Option<bool>| Value::Bool(x.unwrap_or(false));
        let list = |x: &[String]| strings(x.iter().cloned());
        let mut m = Map::new();
        m.insert("engine".into(), s(v.engine().unwrap_or_default()));
        m.insert(
            "engineDescription".into(),
            s(v.db_engine_description().unwrap_or_default()),
        );
        m.insert("exportableLogTypes".into(), list(v.exportable_log_types()));
        m.insert("id".into(), s(&actual));
        m.insert(
            "parameterGroupFamily".into(),
            s(v.db_parameter_group_family().unwrap_or_default()),
        );
        m.insert("status".into(), s(v.status().unwrap_or_default()));
        m.insert(
            "supportedFeatureNames".into(),
            list(v.supported_feature_names()),
        );
        m.insert("supportedModes".into(), list(v.supported_engine_modes()));
        m.insert(
            "supportsGlobalDatabases".into(),
            b(v.supports_global_databases()),
        );
        m.insert(
            "supportsLimitlessDatabase".into(),
            b(v.supports_limitless_database()),
        );
        m.insert(
            "supportsLogExportsToCloudwatch".into(),
            b(v.supports_log_exports_to_cloudwatch_logs()),
        );
        m.insert(
            "supportsParallelQuery".into(),
            b(v.supports_parallel_query()),
        );
        m.insert("supportsReadReplica".into(), b(v.supports_read_replica()));
        m.insert("validMajorTargets".into(), targets(&v, Some(true)));
        m.insert("validMinorTargets".into(), targets(&v, Some(false)));
        m.insert("validUpgradeTargets".into(), targets(&v, None));
        m.insert("version".into(), s(version.unwrap_or(&actual)));
        m.insert("versionActual".into(), s(&actual));
        m.insert(
            "versionDescription".into(),
            s(v.db_engine_version_description().unwrap_or_default()),
        );
        Ok(m)
    }
}
