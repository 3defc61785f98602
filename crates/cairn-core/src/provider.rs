//! The provider interface: one [`ResourceProvider`] per resource type.
//!
//! Adding a resource type is one new file implementing this trait in a
//! provider crate, registered in that crate's `register` function. The core
//! never changes for it.

use crate::schema::{PropType, PropertySchema, ResourceSchema};
use crate::spec::Timeouts;
use crate::value::{Map, PropertyPath, Value};
use async_trait::async_trait;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// A preview-time validation failure, pointing at a property.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckFailure {
    pub path: PropertyPath,
    pub message: String,
    pub help: Option<String>,
    /// Stable rule id, e.g. `aws::elasticache::cluster-failover`.
    pub rule: String,
    /// Advisory only (policy warnings); errors block preview.
    pub warning: bool,
}

impl CheckFailure {
    pub fn error(rule: &str, path: PropertyPath, message: impl Into<String>) -> Self {
        CheckFailure {
            path,
            message: message.into(),
            help: None,
            rule: rule.to_string(),
            warning: false,
        }
    }
    pub fn warning(rule: &str, path: PropertyPath, message: impl Into<String>) -> Self {
        CheckFailure {
            warning: true,
            ..Self::error(rule, path, message)
        }
    }
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Another resource of the stack, as a cross-resource check sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct StackResource {
    pub name: String,
    pub type_token: String,
    /// Inputs with schema defaults filled in; strings may hold `${...}` references.
    pub inputs: Map,
}

/// The stack's other resources, for [`ResourceProvider::check_in_stack`]. No IO.
pub trait StackView {
    /// The resource named `name`.
    fn resource(&self, name: &str) -> Option<StackResource>;
    /// Every resource of type `token`, in declaration order.
    fn of_type(&self, token: &str) -> Vec<StackResource>;
    /// The resource a whole-string reference such as `${vpc.id}` points at.
    fn referenced(&self, value: &str) -> Option<StackResource> {
        let inner = value.strip_prefix("${")?.strip_suffix('}')?;
        if inner.contains(['$', '{', '}']) {
            return None;
        }
        let name = inner.split(['.', '[']).next()?;
        self.resource(name)
    }
}

/// Where a provider reports live progress ("creating", "modifying 3/5"...).
pub type ProgressFn = Arc<dyn Fn(&str) + Send + Sync>;

/// Context handed to every provider call.
#[derive(Clone)]
pub struct CallContext {
    pub stack: String,
    /// The resource's logical name in the stack.
    pub name: String,
    /// `stack/name`: tagged on cloud resources so interrupted creates can be found.
    pub urn: String,
    pub timeouts: Timeouts,
    pub progress: ProgressFn,
    /// For a create or update (and its recovery): the token recorded in the
    /// journal intent, so a provider can tell what this very intent made from
    /// other objects carrying the same URN, and reuse a request token.
    pub create_token: Option<String>,
    /// For an update the plan made only because the provider reported a
    /// [`PendingUpdate`] that is due: its reason.
    pub pending_update: Option<String>,
}

impl CallContext {
    pub fn new(stack: &str, name: &str) -> Self {
        CallContext {
            stack: stack.to_string(),
            name: name.to_string(),
            urn: format!("{stack}/{name}"),
            timeouts: Timeouts::default(),
            progress: Arc::new(|_| {}),
            create_token: None,
            pending_update: None,
        }
    }
    pub fn report(&self, status: &str) {
        (self.progress)(status)
    }
    /// The deadline for an operation, falling back to `default`.
    pub fn deadline(&self, op: Operation, default: Duration) -> Duration {
        let secs = match op {
            Operation::Create => self.timeouts.create,
            Operation::Update => self.timeouts.update,
            Operation::Delete => self.timeouts.delete,
            Operation::Read => None,
        };
        secs.map(Duration::from_secs).unwrap_or(default)
    }
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    Create,
    Read,
    Update,
    Delete,
}

/// What a create (or a recovered create) produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Created {
    pub id: String,
    pub outputs: Map,
}

/// What a read found in the cloud.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    pub id: String,
    /// The inputs as the cloud reports them (for drift and import).
    pub inputs: Map,
    pub outputs: Map,
}

/// One resource a batched read asks about ([`ResourceProvider::read_many`]).
#[derive(Clone)]
pub struct ReadRequest {
    pub ctx: CallContext,
    /// The recorded physical id.
    pub id: String,
    /// The recorded inputs, revealed.
    pub inputs: Map,
}

/// What a plan tells [`ResourceProvider::pending_update`]: the time, and
/// whether the operator asked to finish pending steps now
/// (`cairn up --finish-rotation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingOptions {
    /// Seconds since the Unix epoch.
    pub now_unix: u64,
    pub finish_now: bool,
}

impl PendingOptions {
    /// The system clock's time, nothing finished early.
    pub fn now() -> Self {
        let now_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        PendingOptions {
            now_unix,
            finish_now: false,
        }
    }
}

/// A step a resource still owes although its inputs did not change (e.g.
/// dropping the old auth token once a rotation's overlap has passed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingUpdate {
    /// True: plan an in-place update now. False: only say it is pending.
    pub due: bool,
    /// Shown at preview, e.g. "old token still accepted until ...".
    pub reason: String,
}

/// A provider failure. `retryable` failures were already retried by the provider.
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
pub enum ProviderError {
    #[error("{api} failed for {resource}: {code}: {message}")]
    #[diagnostic(code(cairn::provider::api))]
    Api {
        resource: String,
        api: String,
        code: String,
        message: String,
        retryable: bool,
    },
    #[error("{resource} did not reach `{wanted}` within {waited_secs}s (last status `{last}`)")]
    #[diagnostic(
        code(cairn::provider::timeout),
        help("raise options.customTimeouts for this resource")
    )]
    Timeout {
        resource: String,
        wanted: String,
        last: String,
        waited_secs: u64,
    },
    #[error("{resource}: {message}")]
    #[diagnostic(code(cairn::provider::invalid))]
    Invalid { resource: String, message: String },
    /// Recovery found an object with this resource's physical name (or URN)
    /// that this resource did not make; it is never adopted.
    #[error("{resource}: `{id}` exists but was not made by this resource: it carries {found}, not the tag cairn:urn={urn}")]
    #[diagnostic(
        code(cairn::provider::not_owned),
        help("another stack or a person made it, and cairn neither adopts nor deletes it: give this resource another name, or delete or import that object deliberately")
    )]
    NotOwned {
        resource: String,
        id: String,
        /// This resource's URN.
        urn: String,
        /// What the object carries instead, e.g. "the tag cairn:urn=other/x" or "no cairn:urn tag".
        found: String,
    },
    #[error("no provider for type `{0}`")]
    #[diagnostic(code(cairn::provider::unknown_type))]
    UnknownType(String),
}

impl ProviderError {
    /// The call failed but may have taken effect: a retryable API failure
    /// (the answer lost, a 5xx, retries exhausted) or a waiter timeout (the
    /// resource exists but did not settle). A create failing this way keeps
    /// its journal intent, so the next run's reconcile adopts what it made.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            ProviderError::Api {
                retryable: true,
                ..
            } | ProviderError::Timeout { .. }
        )
    }

    pub fn invalid(resource: &str, message: impl Into<String>) -> Self {
        ProviderError::Invalid {
            resource: resource.to_string(),
            message: message.into(),
        }
    }
}

/// One resource type's lifecycle. Inputs passed in are resolved (no
/// references, no unknowns) and revealed (no secret wrappers).
#[async_trait]
pub trait ResourceProvider: Send + Sync {
    fn schema(&self) -> &ResourceSchema;

    /// Semantic validation at preview, beyond the schema's types. No IO.
    fn check(&self, _inputs: &Map) -> Vec<CheckFailure> {
        Vec::new()
    }

    /// Validation at preview that needs the stack's other resources (e.g. a
    /// subnet inside its VPC's range). `name` is this resource's. No IO.
    fn check_in_stack(
        &self,
        _name: &str,
        _inputs: &Map,
        _stack: &dyn StackView,
    ) -> Vec<CheckFailure> {
        Vec::new()
    }

    /// Preview-time rules about a change from the recorded inputs `old` to
    /// `new` (e.g. a property that can be set but never removed). Errors
    /// block the plan. No IO; values are revealed, `new` may hold unknowns.
    fn check_change(&self, _old: &Map, _new: &Map) -> Vec<CheckFailure> {
        Vec::new()
    }

    /// A step still owed by this resource (recorded `old` inputs and
    /// `outputs`, planned `new` inputs, which may hold unknowns). A due one
    /// makes the plan update the resource in place even with no input
    /// changed; `update` then sees the reason in `ctx.pending_update`. No IO.
    fn pending_update(
        &self,
        _old: &Map,
        _new: &Map,
        _outputs: &Map,
        _opts: &PendingOptions,
    ) -> Option<PendingUpdate> {
        None
    }

    /// Properties that force replacement given this old/new pair, beyond the
    /// schema's `replace_on_change` (e.g. an engine downgrade).
    fn extra_replace_paths(&self, _old: &Map, _new: &Map) -> Vec<PropertyPath> {
        Vec::new()
    }

    /// False for types whose create/delete touch nothing outside the engine
    /// (e.g. `core:Data`): the journal then need not fsync before the call.
    fn has_external_effects(&self) -> bool {
        true
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError>;

    /// Reads the live resource; `Ok(None)` when it no longer exists.
    async fn read(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError>;

    /// How many resources one [`read_many`](Self::read_many) call takes
    /// (`usize::MAX`: every one of this type in the run). `None` (the
    /// default): the type has no batch read API and is read one at a time.
    fn read_batch_limit(&self) -> Option<usize> {
        None
    }

    /// Reads many resources of this type in as few calls as the API allows
    /// (paginated). Answers the live ones keyed by requested id; an id left
    /// out no longer exists, exactly as [`read`](Self::read)'s `Ok(None)`.
    /// Each observation must equal what `read` reports for that resource.
    async fn read_many(
        &self,
        reqs: &[ReadRequest],
    ) -> Result<BTreeMap<String, Observed>, ProviderError> {
        let mut found = BTreeMap::new();
        for r in reqs {
            if let Some(o) = self.read(&r.ctx, &r.id, &r.inputs).await? {
                found.insert(r.id.clone(), o);
            }
        }
        Ok(found)
    }

    /// Updates in place; returns the new outputs.
    async fn update(
        &self,
        ctx: &CallContext,
        id: &str,
        old_inputs: &Map,
        new_inputs: &Map,
        old_outputs: &Map,
    ) -> Result<Map, ProviderError>;

    async fn delete(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
        outputs: &Map,
    ) -> Result<(), ProviderError>;

    /// Finds what an interrupted create left behind (by name or by the
    /// `ctx.urn` tag), so a re-run adopts it instead of creating a duplicate.
    /// Only an object carrying this resource's `cairn:urn` tag is adopted
    /// (among several, the one made with `ctx.create_token`), never one
    /// pending deletion; a same-named object that is not ours is
    /// [`ProviderError::NotOwned`].
    async fn recover(
        &self,
        _ctx: &CallContext,
        _inputs: &Map,
    ) -> Result<Option<Created>, ProviderError> {
        Ok(None)
    }
}

/// What a data source accepts and returns (`fn::invoke`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataSourceSchema {
    /// e.g. `aws:getRegion`.
    pub token: String,
    pub description: String,
    pub inputs: Vec<PropertySchema>,
    /// Result property names (Pulumi's, camelCase).
    pub outputs: Vec<String>,
}

impl DataSourceSchema {
    /// Unknown or missing arguments and top-level type mismatches. No IO.
    pub fn check_args(&self, args: &Map) -> Vec<CheckFailure> {
        let mut out = Vec::new();
        for (k, v) in args {
            let Some(p) = self.inputs.iter().find(|p| &p.name == k) else {
                let names: Vec<&str> = self.inputs.iter().map(|p| p.name.as_str()).collect();
                let help = crate::validate::did_you_mean(k, names.iter().copied())
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| {
                        if names.is_empty() {
                            format!("`{}` takes no arguments", self.token)
                        } else {
                            format!("`{}` takes {}", self.token, names.join(", "))
                        }
                    });
                out.push(
                    CheckFailure::error(
                        "cairn::invoke::unknown-argument",
                        PropertyPath::root().child(k.clone()),
                        format!("`{}` has no argument `{k}`", self.token),
                    )
                    .with_help(help),
                );
                continue;
            };
            if !arg_matches(&p.ty, v) {
                out.push(
                    CheckFailure::error(
                        "cairn::invoke::argument-type",
                        PropertyPath::root().child(k.clone()),
                        format!(
                            "argument `{k}` of `{}` must be a {}, not {}",
                            self.token,
                            p.ty.describe(),
                            v.type_name()
                        ),
                    )
                    .with_help(p.doc.clone()),
                );
            }
        }
        for p in self.inputs.iter().filter(|p| p.required) {
            if !args.contains_key(&p.name) {
                out.push(
                    CheckFailure::error(
                        "cairn::invoke::missing-argument",
                        PropertyPath::root().child(p.name.clone()),
                        format!("`{}` needs the argument `{}`", self.token, p.name),
                    )
                    .with_help(p.doc.clone()),
                );
            }
        }
        out
    }
}

fn arg_matches(ty: &PropType, v: &Value) -> bool {
    match (ty, v) {
        (_, Value::Secret(inner)) => arg_matches(ty, inner),
        (PropType::Any, _) | (_, Value::Unknown) => true,
        (PropType::Bool, Value::Bool(_)) => true,
        (PropType::Int { .. }, Value::Int(_)) => true,
        (PropType::String { .. } | PropType::Enum { .. }, Value::String(_)) => true,
        (PropType::List { items }, Value::List(l)) => l.iter().all(|x| arg_matches(items, x)),
        (PropType::Map { values }, Value::Map(m)) => m.values().all(|x| arg_matches(values, x)),
        (PropType::Object { .. }, Value::Map(_)) => true,
        _ => false,
    }
}

/// A function for `fn::invoke`: reads (from the cloud, or computes), never
/// changes anything. Arguments are resolved and revealed; a result value
/// that is secret is wrapped in [`Value::Secret`].
#[async_trait]
pub trait DataSource: Send + Sync {
    fn schema(&self) -> &DataSourceSchema;

    /// Validation beyond the schema's types. No IO.
    fn check(&self, _args: &Map) -> Vec<CheckFailure> {
        Vec::new()
    }

    async fn invoke(&self, ctx: &CallContext, args: &Map) -> Result<Map, ProviderError>;
}

/// Why an `fn::invoke` gave no result.
#[derive(Debug, Clone)]
pub enum InvokeError {
    /// No data source has this token; a close one, if any.
    Unknown { suggestion: Option<String> },
    /// The arguments were refused before any call.
    Invalid(Vec<CheckFailure>),
    /// The data source failed.
    Failed(ProviderError),
}

impl std::fmt::Display for InvokeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InvokeError::Unknown {
                suggestion: Some(s),
            } => write!(f, "no such data source (did you mean `{s}`?)"),
            InvokeError::Unknown { suggestion: None } => f.write_str("no such data source"),
            InvokeError::Invalid(failures) => {
                let parts: Vec<String> = failures
                    .iter()
                    .map(|c| format!("{} (at `{}`)", c.message, c.path))
                    .collect();
                f.write_str(&parts.join("; "))
            }
            InvokeError::Failed(err) => write!(f, "{err}"),
        }
    }
}

/// Pulumi's spellings of a token in cairn's short form: `pkg:index:name`
/// and `pkg:index/name:name` are `pkg:name`; `pkg:mod/name:Name` is
/// `pkg:mod:Name` (`aws:ec2/getVpc:getVpc` is `aws:ec2:getVpc`,
/// `aws:ec2/vpc:Vpc` is `aws:ec2:Vpc`). Any other token is returned as is.
pub fn canonical_token(token: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    let mut parts = token.split(':');
    let (Some(pkg), Some(module), Some(member), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Cow::Borrowed(token);
    };
    let module = match module.split_once('/') {
        Some((m, tail)) if tail.eq_ignore_ascii_case(member) => m,
        Some(_) => return Cow::Borrowed(token),
        None if module == "index" => module,
        None => return Cow::Borrowed(token),
    };
    if pkg.is_empty() || member.is_empty() {
        return Cow::Borrowed(token);
    }
    Cow::Owned(if module == "index" {
        format!("{pkg}:{member}")
    } else {
        format!("{pkg}:{module}:{member}")
    })
}

/// All resource types known to a run, by type token.
#[derive(Clone, Default)]
pub struct Registry {
    providers: BTreeMap<String, Arc<dyn ResourceProvider>>,
    data_sources: BTreeMap<String, Arc<dyn DataSource>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn register(&mut self, provider: Arc<dyn ResourceProvider>) {
        self.providers
            .insert(provider.schema().token.clone(), provider);
    }
    pub fn get(&self, token: &str) -> Option<&Arc<dyn ResourceProvider>> {
        self.providers.get(token)
    }
    pub fn schema(&self, token: &str) -> Option<&ResourceSchema> {
        self.providers.get(token).map(|p| p.schema())
    }
    pub fn tokens(&self) -> impl Iterator<Item = &str> {
        self.providers.keys().map(String::as_str)
    }
    pub fn schemas(&self) -> impl Iterator<Item = &ResourceSchema> {
        self.providers.values().map(|p| p.schema())
    }
    pub fn register_data_source(&mut self, ds: Arc<dyn DataSource>) {
        self.data_sources.insert(ds.schema().token.clone(), ds);
    }
    /// The data source for `token`, in any of Pulumi's spellings
    /// ([`canonical_token`]).
    pub fn data_source(&self, token: &str) -> Option<&Arc<dyn DataSource>> {
        self.data_sources.get(canonical_token(token).as_ref())
    }
    pub fn data_source_tokens(&self) -> impl Iterator<Item = &str> {
        self.data_sources.keys().map(String::as_str)
    }
    /// The data source for `token` once its arguments pass its checks
    /// (errors only; warnings are dropped). No IO: the caller awaits
    /// [`DataSource::invoke`].
    pub fn prepare_invoke(
        &self,
        token: &str,
        args: &Map,
    ) -> Result<Arc<dyn DataSource>, InvokeError> {
        let token = canonical_token(token);
        let token = token.as_ref();
        let Some(ds) = self.data_sources.get(token) else {
            let suggestion =
                crate::validate::did_you_mean(token, self.data_source_tokens()).map(str::to_string);
            return Err(InvokeError::Unknown { suggestion });
        };
        let mut failures = ds.schema().check_args(args);
        if failures.is_empty() {
            failures = ds.check(args);
        }
        failures.retain(|f| !f.warning);
        if failures.is_empty() {
            Ok(ds.clone())
        } else {
            Err(InvokeError::Invalid(failures))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pulumi_token_spellings_are_canonical() {
        for (given, want) in [
            ("aws:index:getCallerIdentity", "aws:getCallerIdentity"),
            (
                "aws:index/getCallerIdentity:getCallerIdentity",
                "aws:getCallerIdentity",
            ),
            ("aws:ec2/getVpc:getVpc", "aws:ec2:getVpc"),
            ("aws:ec2/vpc:Vpc", "aws:ec2:Vpc"),
            ("aws:ec2:getVpc", "aws:ec2:getVpc"),
            ("aws:getRegion", "aws:getRegion"),
            ("aws:ec2/other:Vpc", "aws:ec2/other:Vpc"),
            ("core:Data", "core:Data"),
            ("a:b:c:d", "a:b:c:d"),
        ] {
            assert_eq!(canonical_token(given), want, "{given}");
        }
    }

    struct One;
    impl StackView for One {
        fn resource(&self, name: &str) -> Option<StackResource> {
            (name == "vpc").then(|| StackResource {
                name: "vpc".into(),
                type_token: "aws:ec2:Vpc".into(),
                inputs: Map::new(),
            })
        }
        fn of_type(&self, _token: &str) -> Vec<StackResource> {
            Vec::new()
        }
    }

    #[test]
    fn a_whole_string_reference_finds_its_resource() {
        assert_eq!(One.referenced("${vpc.id}").unwrap().name, "vpc");
        assert_eq!(One.referenced("${vpc.tags[\"a\"]}").unwrap().name, "vpc");
        for not in [
            "vpc-123",
            "x-${vpc.id}",
            "${vpc.id}-x",
            "${other.id}",
            "${vpc.id",
            "${vpc.id}-${vpc.arn}",
        ] {
            assert!(One.referenced(not).is_none(), "{not}");
        }
    }
}
