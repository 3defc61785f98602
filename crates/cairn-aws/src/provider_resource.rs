//! `pulumi:providers:aws`: an explicit AWS provider, as in Pulumi. It makes
//! nothing in the cloud; it is in the graph and state, and resources choose
//! it with `options.provider`. cairn-config then sets their `region` input
//! (see [`crate::regional`]) from its `region`, their `credentials` input
//! from its `profile` or `assumeRole`, and merges its `defaultTags.tags`
//! under their own `tags`.

use crate::regional::region_ok;
use async_trait::async_trait;
use cairn_core::dsl::{DeclaredType, Input, Outputs, PropObject, Resource};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, ProviderError, ResourceProvider,
};
use cairn_core::schema::ResourceSchema;
use cairn_core::value::{Map, PropertyPath, Value};
use serde::Serialize;
use std::collections::BTreeMap;

pub const TOKEN: &str = "pulumi:providers:aws";

pub mod rules {
    /// A `region` that is not an AWS region name.
    pub const REGION: &str = "aws::provider::region";
    /// A malformed `assumeRole`.
    pub const ASSUME_ROLE: &str = "aws::provider::assume-role";
    /// A `profile` in neither shared file.
    pub const PROFILE: &str = "aws::provider::profile";
}

pub struct AwsProvider;

/// An explicit AWS provider: the region (and default tags) of the resources
/// that name it in `options.provider`.
#[derive(Serialize, Clone, Debug, Default, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(token = "pulumi:providers:aws", kind = AwsProvider, outputs = AwsProviderOutputs)]
pub struct AwsProviderArgs {
    /// AWS region of its resources, e.g. `eu-west-1` (default: the run's region).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<Input<String>>,
    /// Shared-config profile whose credentials its resources use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<Input<String>>,
    /// Role its resources are managed as (STS AssumeRole with the run's credentials).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assume_role: Option<AssumeRoleArgs>,
    /// Tags added to every taggable resource of this provider (their own tags win).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_tags: Option<DefaultTagsArgs>,
    /// Accepted for Pulumi compatibility; cairn checks credentials on first use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_credentials_validation: Option<Input<bool>>,
    /// Accepted for Pulumi compatibility; no effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_metadata_api_check: Option<Input<bool>>,
    /// Accepted for Pulumi compatibility; no effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_region_validation: Option<Input<bool>>,
    /// Accepted for Pulumi compatibility; no effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_requesting_account_id: Option<Input<bool>>,
    /// Accepted for Pulumi compatibility; cairn's retry policy applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<Input<i64>>,
}

/// A role to assume (Pulumi's `assumeRole`).
#[derive(Serialize, Clone, Debug, PropObject)]
#[serde(rename_all = "camelCase")]
pub struct AssumeRoleArgs {
    /// ARN of the role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<Input<String>>,
    /// Session name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_name: Option<Input<String>>,
    /// External id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<Input<String>>,
    /// Session length as a Go duration, 15 minutes to 12 hours (`1h`, `90m`, `1h30m`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<Input<String>>,
    /// Session length in seconds (900 to 43200; Terraform's older name of `duration`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<Input<i64>>,
    /// Inline session policy (IAM policy JSON) further limiting the role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<Input<String>>,
    /// ARNs of managed policies further limiting the role (at most 10).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_arns: Option<Vec<Input<String>>>,
    /// Session tags (at most 50).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Input<String>>>,
    /// Source identity: not passed by cairn yet (refused at check).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<Input<String>>,
    /// Transitive session tag keys: not passed by cairn yet (refused at check).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transitive_tag_keys: Option<Vec<Input<String>>>,
}

/// Default tags (Pulumi's `defaultTags`).
#[derive(Serialize, Clone, Debug, PropObject)]
#[serde(rename_all = "camelCase")]
pub struct DefaultTagsArgs {
    /// Tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Input<String>>>,
}

#[derive(Outputs)]
pub struct AwsProviderOutputs {}

pub struct AwsProviderResource {
    schema: ResourceSchema,
}

impl AwsProviderResource {
    pub fn new() -> Self {
        AwsProviderResource {
            schema: AwsProvider::schema(),
        }
    }
}

impl Default for AwsProviderResource {
    fn default() -> Self {
        Self::new()
    }
}

fn check(inputs: &Map) -> Vec<CheckFailure> {
    let mut out = Vec::new();
    if let Some(Value::String(r)) = inputs.get("region") {
        if !region_ok(r) {
            out.push(
                CheckFailure::error(
                    rules::REGION,
                    PropertyPath::key("region"),
                    format!("`{r}` is not an AWS region name"),
                )
                .with_help("write a region such as `us-east-1` or `eu-west-1`"),
            );
        }
    }
    if let Some(Value::Map(role)) = inputs.get("assumeRole") {
        check_assume_role(role, &mut out);
    }
    if let Some(Value::String(name)) = inputs.get("profile") {
        if inputs.contains_key("assumeRole") {
            out.push(
                CheckFailure::error(
                    rules::ASSUME_ROLE,
                    PropertyPath::key("assumeRole"),
                    "a provider takes `profile` or `assumeRole`, not both",
                )
                .with_help("put the role in the profile (`role_arn`), or remove `profile`"),
            );
        }
        if let Some(problem) = missing_profile(name, &profile_files()) {
            out.push(
                CheckFailure::error(rules::PROFILE, PropertyPath::key("profile"), problem)
                    .with_help(
                        "add the profile to the file (`[profile NAME]` in config, `[NAME]` in \
                         credentials), or point AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE at it",
                    ),
            );
        }
    }
    out
}

fn check_assume_role(role: &Map, out: &mut Vec<CheckFailure>) {
    let at = |k: &str| PropertyPath::key("assumeRole").child(k);
    match role.get("roleArn") {
        Some(Value::String(arn)) if role_arn_ok(arn) => {}
        Some(Value::String(arn)) => out.push(
            CheckFailure::error(
                rules::ASSUME_ROLE,
                at("roleArn"),
                format!("`{arn}` is not an IAM role ARN"),
            )
            .with_help("write `arn:aws:iam::<12-digit account>:role/<name>`"),
        ),
        None | Some(Value::Null) => out.push(
            CheckFailure::error(
                rules::ASSUME_ROLE,
                PropertyPath::key("assumeRole"),
                "`assumeRole` needs a `roleArn`",
            )
            .with_help("add `roleArn: arn:aws:iam::<account>:role/<name>`"),
        ),
        Some(_) => {}
    }
    if let Some(Value::String(name)) = role.get("sessionName") {
        let ok = (2..=64).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "=,.@-_".contains(c));
        if !ok {
            out.push(
                CheckFailure::error(
                    rules::ASSUME_ROLE,
                    at("sessionName"),
                    format!("session name `{name}` is not 2 to 64 of letters, digits and =,.@-_"),
                )
                .with_help("write a name such as `cairn-deploy`, or remove `sessionName`"),
            );
        }
    }
    if let Some(Value::String(id)) = role.get("externalId") {
        if !(2..=1224).contains(&id.len()) {
            out.push(
                CheckFailure::error(
                    rules::ASSUME_ROLE,
                    at("externalId"),
                    "an external id is 2 to 1224 characters",
                )
                .with_help("write the id the role's trust policy expects"),
            );
        }
    }
    if let Some(Value::Int(n)) = role.get("durationSeconds") {
        if !(900..=43_200).contains(n) {
            out.push(
                CheckFailure::error(
                    rules::ASSUME_ROLE,
                    at("durationSeconds"),
                    format!("a session lasts 900 to 43200 seconds, not {n}"),
                )
                .with_help("write e.g. `3600`, or remove `durationSeconds`"),
            );
        }
    }
    if let Some(Value::String(d)) = role.get("duration") {
        let problem = match session_seconds(d) {
            None => Some(format!("`{d}` is not a duration")),
            Some(n) if !(900..=43_200).contains(&n) => {
                Some(format!("a session lasts 15 minutes to 12 hours, not `{d}`"))
            }
            Some(_) => None,
        };
        if let Some(problem) = problem {
            out.push(
                CheckFailure::error(rules::ASSUME_ROLE, at("duration"), problem).with_help(
                    "write a Go duration from `15m` to `12h`, e.g. `1h` or `1h30m` \
                     (units h, m, s, ms, us, ns)",
                ),
            );
        }
    }
    if role.contains_key("duration") && role.contains_key("durationSeconds") {
        out.push(
            CheckFailure::error(
                rules::ASSUME_ROLE,
                at("duration"),
                "`assumeRole` takes `duration` or `durationSeconds`, not both",
            )
            .with_help("keep `duration` (Pulumi's name), e.g. `1h`, and remove `durationSeconds`"),
        );
    }
    if let Some(Value::String(p)) = role.get("policy") {
        let object = serde_json::from_str::<serde_json::Value>(p).is_ok_and(|v| v.is_object());
        if !object {
            out.push(
                CheckFailure::error(
                    rules::ASSUME_ROLE,
                    at("policy"),
                    "`policy` is not the JSON text of an IAM policy object",
                )
                .with_help(
                    "write the policy document as JSON, e.g. with `fn::toJSON: { Version: \
                     \"2012-10-17\", Statement: [...] }`",
                ),
            );
        }
    }
    if let Some(Value::List(arns)) = role.get("policyArns") {
        if arns.len() > 10 {
            out.push(
                CheckFailure::error(
                    rules::ASSUME_ROLE,
                    at("policyArns"),
                    format!("a session takes at most 10 policy ARNs, not {}", arns.len()),
                )
                .with_help("merge policies, or put the rules in `policy`"),
            );
        }
        for (i, arn) in arns.iter().enumerate() {
            if let Value::String(arn) = arn {
                if !policy_arn_ok(arn) {
                    out.push(
                        CheckFailure::error(
                            rules::ASSUME_ROLE,
                            at("policyArns").index(i),
                            format!("`{arn}` is not an IAM policy ARN"),
                        )
                        .with_help(
                            "write `arn:aws:iam::<12-digit account>:policy/<name>` \
                             (or `arn:aws:iam::aws:policy/<name>` for an AWS managed policy)",
                        ),
                    );
                }
            }
        }
    }
    if let Some(Value::Map(tags)) = role.get("tags") {
        if tags.len() > 50 {
            out.push(
                CheckFailure::error(
                    rules::ASSUME_ROLE,
                    at("tags"),
                    format!("a session takes at most 50 tags, not {}", tags.len()),
                )
                .with_help("remove tags"),
            );
        }
        for (k, v) in tags {
            let value_len = match v {
                Value::String(v) => v.chars().count(),
                _ => 0,
            };
            let problem = if !(1..=128).contains(&k.chars().count()) {
                Some(format!("session tag key `{k}` is not 1 to 128 characters"))
            } else if value_len > 256 {
                Some(format!(
                    "the value of session tag `{k}` is over 256 characters"
                ))
            } else {
                None
            };
            if let Some(problem) = problem {
                out.push(
                    CheckFailure::error(rules::ASSUME_ROLE, at("tags").child(k.clone()), problem)
                        .with_help("session tag keys are 1 to 128 characters, values 0 to 256"),
                );
            }
        }
    }
    for (key, setter) in [
        ("sourceIdentity", "source identity"),
        ("transitiveTagKeys", "transitive tag keys"),
    ] {
        if role.get(key).is_some_and(|v| !matches!(v, Value::Null)) {
            out.push(
                CheckFailure::error(
                    rules::ASSUME_ROLE,
                    at(key),
                    format!("cairn does not pass `{key}` yet"),
                )
                .with_help(format!(
                    "remove `{key}`: cairn's AssumeRole call sets no {setter}, and a session \
                     without it would differ from the one asked for"
                )),
            );
        }
    }
}

/// A session length (`duration`) in seconds: a Go duration string with
/// units (a bare number is not one).
pub(crate) fn session_seconds(d: &str) -> Option<u64> {
    if d.trim().chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    cairn_core::spec::parse_duration(d)
}

/// `arn:<partition>:iam::<12 digits or aws>:policy/<path/name>`.
fn policy_arn_ok(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && (parts[4] == "aws"
            || (parts[4].len() == 12 && parts[4].chars().all(|c| c.is_ascii_digit())))
        && parts[5]
            .strip_prefix("policy/")
            .is_some_and(|n| !n.is_empty() && !n.ends_with('/'))
}

/// `arn:<partition>:iam::<12 digits>:role/<path/name>`.
fn role_arn_ok(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5]
            .strip_prefix("role/")
            .is_some_and(|n| !n.is_empty() && !n.ends_with('/'))
}

/// The shared config and credentials files, as the SDK finds them.
fn profile_files() -> [(std::path::PathBuf, bool); 2] {
    let home = std::env::var_os("HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_default();
    let file = |var: &str, default: &str| {
        std::env::var_os(var)
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| home.join(".aws").join(default))
    };
    [
        (file("AWS_CONFIG_FILE", "config"), true),
        (file("AWS_SHARED_CREDENTIALS_FILE", "credentials"), false),
    ]
}

/// Why profile `name` is in none of `files` (`(path, is the config file)`),
/// or `None` when one declares it.
fn missing_profile(name: &str, files: &[(std::path::PathBuf, bool)]) -> Option<String> {
    for (path, config) in files {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        for line in text.lines() {
            let Some(section) = line
                .trim()
                .strip_prefix('[')
                .and_then(|l| l.strip_suffix(']'))
            else {
                continue;
            };
            let section = section.trim();
            let declared = if *config && section != "default" {
                section.strip_prefix("profile").map(str::trim)
            } else {
                Some(section)
            };
            if declared == Some(name) {
                return None;
            }
        }
    }
    let names: Vec<String> = files.iter().map(|(p, _)| p.display().to_string()).collect();
    Some(format!(
        "profile `{name}` is not in {}",
        names.join(" nor ")
    ))
}

#[async_trait]
impl ResourceProvider for AwsProviderResource {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        check(inputs)
    }

    fn has_external_effects(&self) -> bool {
        false
    }

    async fn create(&self, ctx: &CallContext, _inputs: &Map) -> Result<Created, ProviderError> {
        Ok(Created {
            id: ctx.urn.clone(),
            outputs: Map::new(),
        })
    }

    async fn read(
        &self,
        _ctx: &CallContext,
        id: &str,
        inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        Ok(Some(Observed {
            id: id.to_string(),
            inputs: inputs.clone(),
            outputs: Map::new(),
        }))
    }

    async fn update(
        &self,
        _ctx: &CallContext,
        _id: &str,
        _old_inputs: &Map,
        _new_inputs: &Map,
        _old_outputs: &Map,
    ) -> Result<Map, ProviderError> {
        Ok(Map::new())
    }

    async fn delete(
        &self,
        _ctx: &CallContext,
        _id: &str,
        _inputs: &Map,
        _outputs: &Map,
    ) -> Result<(), ProviderError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_is_pulumis_shape() {
        let p = AwsProviderResource::new();
        let names: Vec<&str> = p
            .schema()
            .properties
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        for n in ["region", "profile", "assumeRole", "defaultTags"] {
            assert!(names.contains(&n), "{n} missing from {names:?}");
        }
        assert_eq!(p.schema().token, TOKEN);
    }

    #[test]
    fn checks_region() {
        let mut m = Map::new();
        m.insert("region".into(), "eu-west-1".into());
        assert!(check(&m).is_empty());
        m.insert("region".into(), "Europe".into());
        let rules: Vec<String> = check(&m).into_iter().map(|f| f.rule).collect();
        assert_eq!(rules, [rules::REGION]);
    }

    fn role(pairs: &[(&str, Value)]) -> Map {
        let mut r = Map::new();
        for (k, v) in pairs {
            r.insert((*k).into(), v.clone());
        }
        let mut m = Map::new();
        m.insert("assumeRole".into(), Value::Map(r));
        m
    }

    #[test]
    fn checks_assume_role_at_each_field() {
        let good = role(&[
            ("roleArn", "arn:aws:iam::111111111111:role/deployer".into()),
            ("sessionName", "cairn-deploy".into()),
            ("externalId", "ext-1".into()),
            ("durationSeconds", Value::Int(3600)),
        ]);
        assert!(check(&good).is_empty(), "{:?}", check(&good));
        for (field, bad) in [
            ("roleArn", Value::from("arn:aws:iam::1111:role/deployer")),
            ("roleArn", "arn:aws:iam::111111111111:user/deployer".into()),
            ("roleArn", "deployer".into()),
            ("sessionName", "".into()),
            ("sessionName", "has space".into()),
            ("externalId", "x".into()),
            ("durationSeconds", Value::Int(60)),
        ] {
            let mut pairs = vec![("roleArn", Value::from("arn:aws:iam::111111111111:role/d"))];
            pairs.retain(|(k, _)| *k != field);
            pairs.push((field, bad.clone()));
            let failures = check(&role(&pairs));
            assert_eq!(failures.len(), 1, "{field}={bad:?}: {failures:?}");
            assert_eq!(failures[0].rule, rules::ASSUME_ROLE);
            assert_eq!(
                failures[0].path,
                PropertyPath::key("assumeRole").child(field),
                "{field}"
            );
        }
        let no_arn = check(&role(&[("sessionName", "s1".into())]));
        assert_eq!(no_arn[0].path, PropertyPath::key("assumeRole"));
    }

    #[test]
    fn checks_pulumis_assume_role_fields() {
        let arn = || ("roleArn", Value::from("arn:aws:iam::111111111111:role/d"));
        let tags = |pairs: &[(&str, &str)]| {
            Value::Map(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_string(), Value::from(*v)))
                    .collect(),
            )
        };
        let list = |items: &[&str]| Value::List(items.iter().map(|s| Value::from(*s)).collect());
        let good = role(&[
            arn(),
            ("duration", "1h30m".into()),
            (
                "policy",
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#.into(),
            ),
            (
                "policyArns",
                list(&[
                    "arn:aws:iam::aws:policy/ReadOnlyAccess",
                    "arn:aws:iam::111111111111:policy/team/limits",
                ]),
            ),
            ("tags", tags(&[("team", "ops"), ("empty", "")])),
        ]);
        assert!(check(&good).is_empty(), "{:?}", check(&good));
        for d in ["15m", "12h", "90m", "1h", "900s", "0.25h"] {
            let ok = role(&[arn(), ("duration", d.into())]);
            assert!(check(&ok).is_empty(), "{d}: {:?}", check(&ok));
        }
        let at = |k: &str| PropertyPath::key("assumeRole").child(k);
        let long = "k".repeat(129);
        let many: Vec<String> = (0..11)
            .map(|i| format!("arn:aws:iam::aws:policy/P{i}"))
            .collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let lots: Vec<(String, String)> = (0..51).map(|i| (format!("k{i}"), "v".into())).collect();
        let lots: Vec<(&str, &str)> = lots.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let big = "v".repeat(257);
        for (field, bad, path) in [
            ("duration", Value::from("10m"), at("duration")),
            ("duration", "13h".into(), at("duration")),
            ("duration", "1 hour".into(), at("duration")),
            ("duration", "3600".into(), at("duration")),
            ("duration", "1d".into(), at("duration")),
            ("policy", "not json".into(), at("policy")),
            ("policy", "[1, 2]".into(), at("policy")),
            (
                "policyArns",
                list(&[
                    "arn:aws:iam::aws:policy/ok",
                    "arn:aws:iam::111111111111:role/r",
                ]),
                at("policyArns").index(1),
            ),
            (
                "policyArns",
                list(&["ReadOnlyAccess"]),
                at("policyArns").index(0),
            ),
            ("policyArns", list(&many), at("policyArns")),
            (
                "tags",
                tags(&[(long.as_str(), "v")]),
                at("tags").child(long.clone()),
            ),
            ("tags", tags(&[("", "v")]), at("tags").child("")),
            ("tags", tags(&[("k", big.as_str())]), at("tags").child("k")),
            ("tags", tags(&lots), at("tags")),
            ("sourceIdentity", "me".into(), at("sourceIdentity")),
            (
                "transitiveTagKeys",
                list(&["team"]),
                at("transitiveTagKeys"),
            ),
        ] {
            let failures = check(&role(&[arn(), (field, bad.clone())]));
            assert_eq!(failures.len(), 1, "{field}={bad:?}: {failures:?}");
            assert_eq!(failures[0].rule, rules::ASSUME_ROLE);
            assert_eq!(failures[0].path, path, "{field}={bad:?}");
            assert!(failures[0].help.is_some(), "{field}: no help");
        }
        let both = check(&role(&[
            arn(),
            ("duration", "1h".into()),
            ("durationSeconds", Value::Int(3600)),
        ]));
        assert_eq!(both.len(), 1, "{both:?}");
        assert_eq!(both[0].path, at("duration"));
        assert!(both[0].message.contains("not both"), "{}", both[0].message);
    }

    #[test]
    fn a_profile_must_be_in_a_shared_file() {
        let dir = std::env::temp_dir().join(format!("cairn-profiles-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("config");
        let creds = dir.join("credentials");
        std::fs::write(
            &config,
            "[default]\nregion=us-east-1\n[profile ops]\nregion=eu-west-1\n",
        )
        .unwrap();
        std::fs::write(&creds, "[keys-only]\naws_access_key_id=x\n").unwrap();
        let files = [(config, true), (creds, false)];
        for ok in ["default", "ops", "keys-only"] {
            assert_eq!(missing_profile(ok, &files), None, "{ok}");
        }
        let why = missing_profile("other", &files).expect("missing");
        assert!(why.contains("`other`") && why.contains("config"), "{why}");
        // `[ops]` in the config file is not a profile named ops.
        let only_config = [(files[0].0.clone(), true)];
        std::fs::write(&only_config[0].0, "[ops]\n").unwrap();
        assert!(missing_profile("ops", &only_config).is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
