//! Per-resource `region` (as in Pulumi AWS v7): every AWS type takes an
//! optional `region` input, which `options.provider` sets from an explicit
//! `pulumi:providers:aws`. Calls for a resource with a `region` go to
//! clients in that region (same endpoint and credentials); without one, to
//! the run's. The input is recorded in state like any other, so destroy
//! and drift reach the right region, and changing it replaces the resource.
//! Likewise a `credentials` input (an explicit provider's `profile` or
//! `assumeRole`, never the credentials themselves): calls go to clients
//! with those credentials; it is recorded in state, so destroy and refresh
//! use the credentials the resource was made with, and a change is an
//! update that makes no call (the object stays where it is).

use crate::clients::{CredentialSource, Shared};
use async_trait::async_trait;
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, PendingOptions, PendingUpdate, ProviderError,
    ReadRequest, ResourceProvider, StackView,
};
use cairn_core::schema::{PropType, PropertySchema, ResourceSchema};
use cairn_core::value::{Map, PropertyPath, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The input naming a resource's region.
pub const REGION: &str = "region";
/// The input naming a resource's credentials (an explicit provider's).
pub const CREDENTIALS: &str = "credentials";
/// Rule id of a malformed `region`.
pub const REGION_RULE: &str = "aws::provider::region";

/// `us-east-1`, `eu-west-1`, `us-gov-west-1`, `cn-north-1`, ...
pub fn region_ok(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts
            .iter()
            .take(parts.len() - 1)
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

/// A malformed `region` among `inputs` (a resource's or a data source's).
pub(crate) fn region_check(inputs: &Map) -> Option<CheckFailure> {
    match inputs.get(REGION) {
        Some(Value::String(r)) if !region_ok(r) => Some(
            CheckFailure::error(
                REGION_RULE,
                PropertyPath::key(REGION),
                format!("`{r}` is not an AWS region name"),
            )
            .with_help("write a region such as `us-east-1` or `eu-west-1`"),
        ),
        _ => None,
    }
}

/// `schema` with the `region` and `credentials` inputs added.
pub fn with_region(mut schema: ResourceSchema) -> ResourceSchema {
    if !schema.properties.iter().any(|p| p.name == REGION) {
        let mut p = PropertySchema::new(REGION, PropType::string()).replaces();
        p.doc = "Region where this resource is managed (default: its provider's, \
                 set by `options.provider`); a change replaces it."
            .into();
        schema.properties.push(p);
    }
    if !schema.properties.iter().any(|p| p.name == CREDENTIALS) {
        schema.properties.push(credentials_schema());
    }
    schema
}

/// The `credentials` input (of resources and data sources).
pub(crate) fn credentials_schema() -> PropertySchema {
    let s = |n: &str, doc: &str| PropertySchema::new(n, PropType::string()).doc(doc);
    let strings =
        |n: &str, doc: &str| PropertySchema::new(n, PropType::list(PropType::string())).doc(doc);
    let role = PropType::object(vec![
        s("roleArn", "ARN of the role."),
        s("sessionName", "Session name."),
        s("externalId", "External id."),
        s(
            "duration",
            "Session length as a Go duration (`1h`), 15m to 12h.",
        ),
        PropertySchema::new("durationSeconds", PropType::int_range(900, 43_200))
            .doc("Session length in seconds."),
        s("policy", "Inline session policy (JSON)."),
        strings("policyArns", "Managed session policy ARNs."),
        PropertySchema::new("tags", PropType::map(PropType::string())).doc("Session tags."),
        s(
            "sourceIdentity",
            "Source identity (not passed by cairn yet).",
        ),
        strings(
            "transitiveTagKeys",
            "Transitive tag keys (not passed by cairn yet).",
        ),
    ]);
    PropertySchema::new(
        CREDENTIALS,
        PropType::object(vec![
            s("profile", "Shared-config profile."),
            PropertySchema::new("assumeRole", role).doc("Role assumed with the run's credentials."),
        ]),
    )
    .doc(
        "Credentials its calls use (default: the run's), set by `options.provider` \
         from the provider's `profile` or `assumeRole`; a change is no replacement.",
    )
}

/// The credential source a `credentials` input names.
pub fn credential_source(v: &Value) -> Result<Option<CredentialSource>, String> {
    let m = match v {
        Value::Null => return Ok(None),
        Value::Map(m) => m,
        other => {
            return Err(format!(
                "`credentials` must be an object, not {}",
                other.type_name()
            ))
        }
    };
    let text = |m: &Map, k: &str| -> Result<Option<String>, String> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Secret(inner)) if inner.as_str().is_some() => {
                Ok(inner.as_str().map(str::to_string))
            }
            Some(o) => Err(format!("`{k}` must be a string, not {}", o.type_name())),
        }
    };
    if let Some(p) = text(m, "profile")? {
        return Ok(Some(CredentialSource::Profile(p)));
    }
    match m.get("assumeRole") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Map(r)) => {
            let role_arn = text(r, "roleArn")?.ok_or("`assumeRole` needs a `roleArn`")?;
            for key in ["sourceIdentity", "transitiveTagKeys"] {
                if r.get(key).is_some_and(|v| !matches!(v, Value::Null)) {
                    return Err(format!("cairn does not pass `{key}` yet"));
                }
            }
            let mut duration_seconds = match r.get("durationSeconds") {
                None | Some(Value::Null) => None,
                Some(Value::Int(n)) => Some(
                    u32::try_from(*n)
                        .map_err(|_| format!("`durationSeconds` {n} is out of range"))?,
                ),
                Some(o) => {
                    return Err(format!(
                        "`durationSeconds` must be a number, not {}",
                        o.type_name()
                    ))
                }
            };
            if let Some(d) = text(r, "duration")? {
                if duration_seconds.is_some() {
                    return Err(
                        "`assumeRole` takes `duration` or `durationSeconds`, not both".into(),
                    );
                }
                let secs = crate::provider_resource::session_seconds(&d)
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| format!("`duration` `{d}` is not a duration"))?;
                duration_seconds = Some(secs);
            }
            let policy_arns = match r.get("policyArns") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::List(items)) => items
                    .iter()
                    .map(|v| match v.as_str() {
                        Some(s) => Ok(s.to_string()),
                        None => Err(format!("`policyArns` holds strings, not {}", v.type_name())),
                    })
                    .collect::<Result<_, _>>()?,
                Some(o) => {
                    return Err(format!(
                        "`policyArns` must be a list, not {}",
                        o.type_name()
                    ))
                }
            };
            let tags = match r.get("tags") {
                None | Some(Value::Null) => BTreeMap::new(),
                Some(Value::Map(m)) => m
                    .keys()
                    .map(|k| Ok((k.clone(), text(m, k)?.unwrap_or_default())))
                    .collect::<Result<_, String>>()?,
                Some(o) => return Err(format!("`tags` must be a map, not {}", o.type_name())),
            };
            Ok(Some(CredentialSource::AssumeRole {
                role_arn,
                session_name: text(r, "sessionName")?,
                external_id: text(r, "externalId")?,
                duration_seconds,
                policy: text(r, "policy")?,
                policy_arns,
                tags,
            }))
        }
        Some(o) => Err(format!(
            "`assumeRole` must be an object, not {}",
            o.type_name()
        )),
    }
}

/// Where a resource's calls go: its region and credentials (`None`: the run's).
pub(crate) type Route = (Option<String>, Option<CredentialSource>);

pub(crate) fn route_of(token: &str, inputs: &Map) -> Result<Route, ProviderError> {
    let region = match inputs.get(REGION) {
        None | Some(Value::Null) => None,
        Some(Value::String(r)) => Some(r.clone()),
        Some(other) => {
            return Err(ProviderError::invalid(
                token,
                format!("`region` must be a string, not {}", other.type_name()),
            ))
        }
    };
    let credentials = match inputs.get(CREDENTIALS) {
        None => None,
        Some(v) => credential_source(v).map_err(|m| ProviderError::invalid(token, m))?,
    };
    Ok((region, credentials))
}

/// One region's providers, by type token.
type ProviderSet = BTreeMap<String, Arc<dyn ResourceProvider>>;

/// Provider sets per route (region and credentials), built on first use.
pub(crate) struct Regions {
    base: Shared,
    sets: Mutex<BTreeMap<Route, ProviderSet>>,
}

impl Regions {
    pub(crate) fn new(base: Shared) -> Arc<Self> {
        Arc::new(Regions {
            base,
            sets: Mutex::new(BTreeMap::new()),
        })
    }

    fn provider(&self, route: &Route, token: &str) -> Option<Arc<dyn ResourceProvider>> {
        let mut sets = self.sets.lock().unwrap_or_else(|e| e.into_inner());
        let set = sets.entry(route.clone()).or_insert_with(|| {
            let clients = Arc::new(
                self.base
                    .with_settings(route.0.as_deref(), route.1.as_ref()),
            );
            crate::resources::all_providers(&clients)
                .into_iter()
                .map(|p| (p.schema().token.clone(), p))
                .collect()
        });
        set.get(token).cloned()
    }
}

/// One AWS type, routed by its `region` input.
pub(crate) struct Regional {
    schema: ResourceSchema,
    default: Arc<dyn ResourceProvider>,
    regions: Arc<Regions>,
}

impl Regional {
    pub(crate) fn new(default: Arc<dyn ResourceProvider>, regions: Arc<Regions>) -> Self {
        let mut schema = with_region(default.schema().clone());
        // Absent means the run's region: moving a resource between the
        // default provider and an explicit one in that region is no change.
        if let Some(run) = regions.base.known_region() {
            for p in schema.properties.iter_mut().filter(|p| p.name == REGION) {
                p.absent_means = Some(Value::String(run.clone()));
            }
        }
        Regional {
            schema,
            default,
            regions,
        }
    }

    /// The inner provider for `route`.
    fn routed(&self, route: &Route) -> Result<Arc<dyn ResourceProvider>, ProviderError> {
        if route.0.is_none() && route.1.is_none() {
            return Ok(self.default.clone());
        }
        self.regions
            .provider(route, &self.schema.token)
            .ok_or_else(|| ProviderError::invalid(&self.schema.token, "no provider for this type"))
    }

    /// The inner provider for `inputs`, and the inputs without `region`
    /// and `credentials`.
    fn pick(&self, inputs: &Map) -> Result<(Arc<dyn ResourceProvider>, Map), ProviderError> {
        let route = route_of(&self.schema.token, inputs)?;
        Ok((self.routed(&route)?, strip(inputs)))
    }
}

fn strip(inputs: &Map) -> Map {
    let mut m = inputs.clone();
    m.remove(REGION);
    m.remove(CREDENTIALS);
    m
}

fn with_region_of(mut observed: Observed, requested: &Map) -> Observed {
    for k in [REGION, CREDENTIALS] {
        if let Some(r) = requested.get(k) {
            observed.inputs.insert(k.into(), r.clone());
        }
    }
    observed
}

#[async_trait]
impl ResourceProvider for Regional {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        let mut out = self.default.check(&strip(inputs));
        out.extend(region_check(inputs));
        out
    }

    fn check_in_stack(&self, name: &str, inputs: &Map, stack: &dyn StackView) -> Vec<CheckFailure> {
        self.default.check_in_stack(name, &strip(inputs), stack)
    }

    fn check_change(&self, old: &Map, new: &Map) -> Vec<CheckFailure> {
        self.default.check_change(&strip(old), &strip(new))
    }

    fn pending_update(
        &self,
        old: &Map,
        new: &Map,
        outputs: &Map,
        opts: &PendingOptions,
    ) -> Option<PendingUpdate> {
        self.default
            .pending_update(&strip(old), &strip(new), outputs, opts)
    }

    fn extra_replace_paths(&self, old: &Map, new: &Map) -> Vec<PropertyPath> {
        self.default.extra_replace_paths(&strip(old), &strip(new))
    }

    fn has_external_effects(&self) -> bool {
        self.default.has_external_effects()
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let (p, rest) = self.pick(inputs)?;
        p.create(ctx, &rest).await
    }

    async fn read(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        let (p, rest) = self.pick(inputs)?;
        Ok(p.read(ctx, id, &rest)
            .await?
            .map(|o| with_region_of(o, inputs)))
    }

    fn read_batch_limit(&self) -> Option<usize> {
        self.default.read_batch_limit()
    }

    async fn read_many(
        &self,
        reqs: &[ReadRequest],
    ) -> Result<BTreeMap<String, Observed>, ProviderError> {
        // One batch per route (region and credentials).
        let mut groups: BTreeMap<Route, (Map, Vec<ReadRequest>)> = BTreeMap::new();
        for r in reqs {
            let route = route_of(&self.schema.token, &r.inputs)?;
            let mut req = r.clone();
            req.inputs = strip(&r.inputs);
            groups
                .entry(route)
                .or_insert_with(|| (r.inputs.clone(), Vec::new()))
                .1
                .push(req);
        }
        let mut found = BTreeMap::new();
        for (route, (example, group)) in groups {
            let p = self.routed(&route)?;
            for (id, o) in p.read_many(&group).await? {
                found.insert(id, with_region_of(o, &example));
            }
        }
        Ok(found)
    }

    async fn update(
        &self,
        ctx: &CallContext,
        id: &str,
        old_inputs: &Map,
        new_inputs: &Map,
        old_outputs: &Map,
    ) -> Result<Map, ProviderError> {
        let (p, rest) = self.pick(new_inputs)?;
        let old = strip(old_inputs);
        if old == rest && old_inputs != new_inputs && ctx.pending_update.is_none() {
            // Only `credentials` (or `region` between absent and the run's)
            // changed: the object stays as it is. Same inputs are passed on:
            // a step the provider owes (`pending_update`) changes no input.
            return Ok(old_outputs.clone());
        }
        p.update(ctx, id, &old, &rest, old_outputs).await
    }

    async fn delete(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
        outputs: &Map,
    ) -> Result<(), ProviderError> {
        let (p, rest) = self.pick(inputs)?;
        p.delete(ctx, id, &rest, outputs).await
    }

    async fn recover(
        &self,
        ctx: &CallContext,
        inputs: &Map,
    ) -> Result<Option<Created>, ProviderError> {
        let (p, rest) = self.pick(inputs)?;
        p.recover(ctx, &rest).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials(role: &[(&str, Value)]) -> Value {
        let role: Map = role
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect();
        let mut m = Map::new();
        m.insert("assumeRole".into(), Value::Map(role));
        Value::Map(m)
    }

    #[test]
    fn credential_source_reads_pulumis_assume_role_fields() {
        let arn = ("roleArn", Value::from("arn:aws:iam::111111111111:role/d"));
        let mut tags = Map::new();
        tags.insert("team".into(), "ops".into());
        tags.insert("env".into(), Value::secret(Value::from("prod")));
        let got = credential_source(&credentials(&[
            arn.clone(),
            ("sessionName", "s1".into()),
            ("duration", "1h30m".into()),
            ("policy", r#"{"Version":"2012-10-17"}"#.into()),
            (
                "policyArns",
                Value::List(vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()]),
            ),
            ("tags", Value::Map(tags)),
        ]))
        .expect("parses");
        assert_eq!(
            got,
            Some(CredentialSource::AssumeRole {
                role_arn: "arn:aws:iam::111111111111:role/d".into(),
                session_name: Some("s1".into()),
                external_id: None,
                duration_seconds: Some(5400),
                policy: Some(r#"{"Version":"2012-10-17"}"#.into()),
                policy_arns: vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()],
                tags: [("env", "prod"), ("team", "ops")]
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .into(),
            })
        );
        // `durationSeconds`, Terraform's older name, gives the same source.
        let by_secs = credential_source(&credentials(&[
            arn.clone(),
            ("durationSeconds", Value::Int(3600)),
        ]));
        let by_duration =
            credential_source(&credentials(&[arn.clone(), ("duration", "1h".into())]));
        assert_eq!(by_secs, by_duration);
        for bad in [
            vec![arn.clone(), ("duration", "soon".into())],
            vec![
                arn.clone(),
                ("duration", "1h".into()),
                ("durationSeconds", Value::Int(3600)),
            ],
            vec![arn.clone(), ("sourceIdentity", "me".into())],
            vec![
                arn.clone(),
                ("transitiveTagKeys", Value::List(vec!["team".into()])),
            ],
            vec![
                arn.clone(),
                ("policyArns", "arn:aws:iam::aws:policy/X".into()),
            ],
            vec![arn.clone(), ("tags", Value::List(vec![]))],
        ] {
            assert!(credential_source(&credentials(&bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_credentials_schema_names_pulumis_assume_role_fields() {
        let schema = credentials_schema();
        let PropType::Object { properties: props } = &schema.ty else {
            panic!("credentials is an object: {:?}", schema.ty);
        };
        let role = props
            .iter()
            .find(|p| p.name == "assumeRole")
            .expect("assumeRole");
        let PropType::Object { properties: fields } = &role.ty else {
            panic!("assumeRole is an object");
        };
        let names: Vec<&str> = fields.iter().map(|p| p.name.as_str()).collect();
        for n in [
            "duration",
            "durationSeconds",
            "policy",
            "policyArns",
            "tags",
        ] {
            assert!(names.contains(&n), "{n} missing from {names:?}");
        }
    }

    #[test]
    fn region_names() {
        for ok in ["us-east-1", "eu-west-1", "us-gov-west-1", "ap-southeast-2"] {
            assert!(region_ok(ok), "{ok}");
        }
        for bad in [
            "",
            "us-east",
            "Europe",
            "us_east_1",
            "us-east-1a",
            "useast1",
        ] {
            assert!(!region_ok(bad), "{bad}");
        }
    }
}
