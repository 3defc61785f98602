//! `pulumi:pulumi:StackReference`: another stack's outputs, read from the
//! same backend (local store or S3) without taking its lock.
//!
//! The outputs are read before planning ([`resolve`]): the reference enters
//! the state handed to the planner with what the other stack records now,
//! so `${network.outputs.vpcId}` is a known value in the plan, and a
//! changed upstream output shows as an update of what uses it downstream.
//! `up` records the reference in state with the rest ([`record`]).

use crate::backend::Backend;
use crate::engine::Loaded;
use crate::error::CliError;
use async_trait::async_trait;
use cairn_core::diag::{Problem, Problems};
use cairn_core::dsl::DeclaredType;
use cairn_core::graph::DependencyGraph;
use cairn_core::provider::{CallContext, Created, Observed, ProviderError, ResourceProvider};
use cairn_core::schema::ResourceSchema;
use cairn_core::state::{ResourceState, StackState};
use cairn_core::value::{Map, PropertyPath, Value};
use std::path::PathBuf;

pub const TOKEN: &str = "pulumi:pulumi:StackReference";
/// The referenced stack has no state, or no outputs.
pub const MISSING_CODE: &str = "cairn::stack_reference::missing";
/// The reference's `name` is not a plain stack name known at preview.
pub const NAME_CODE: &str = "cairn::stack_reference::name";
/// The referenced stack could not be read.
pub const READ_CODE: &str = "cairn::stack_reference::read";

// Declared once in cairn-builtin (the typed DSL uses it too).
use cairn_builtin::StackReference;

/// Where referenced stacks are read from: the referencing stack's backend.
#[derive(Clone, Debug)]
pub struct Source {
    /// `--backend` / `$CAIRN_BACKEND` / the file's `backend:`; `None` is local.
    pub backend: Option<String>,
    /// The local state directory (`state/`, or `state/local/` with `--local`).
    pub state_root: PathBuf,
    /// The emulator's endpoint with `--local`.
    pub endpoint: Option<String>,
}

impl Source {
    /// For messages: `state/` or `s3://bucket/prefix`.
    pub fn describe(&self) -> String {
        match self.backend.as_deref().map(str::trim) {
            None | Some("") | Some("local") => self.state_root.display().to_string(),
            Some(url) => url.to_string(),
        }
    }

    fn is_local(&self) -> bool {
        matches!(
            self.backend.as_deref().map(str::trim),
            None | Some("") | Some("local")
        )
    }

    /// The other stack's recorded state, read-only (no lock is taken);
    /// `None` when it has none.
    pub async fn read(&self, stack: &str) -> Result<Option<StackState>, CliError> {
        if self.is_local() {
            let backend = Backend::Local {
                root: self.state_root.clone(),
            };
            return backend.read_opt(stack, None, false).await;
        }
        // A remote read unpacks the snapshot into a scratch directory of its
        // own, never into the working copy a writer of that stack may be using.
        let scratch = std::env::temp_dir().join(format!(
            "cairn-stack-reference-{}-{stack}",
            std::process::id()
        ));
        let backend =
            Backend::parse(self.backend.as_deref(), &scratch, self.endpoint.as_deref()).await?;
        let state = backend.read_opt(stack, None, false).await;
        let _ = std::fs::remove_dir_all(&scratch);
        state
    }

    /// The stacks this backend holds state for (local only; S3 is not listed).
    pub fn existing(&self) -> Vec<String> {
        if !self.is_local() {
            return Vec::new();
        }
        let mut names: Vec<String> = std::fs::read_dir(&self.state_root)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|n| !n.starts_with('.') && cairn_state::StateStore::exists(&self.state_root, n))
            .collect();
        names.sort();
        names
    }
}

/// A reference's outputs: `outputs` (the stack's outputs, secrets still
/// wrapped) and `secretOutputNames`.
fn outputs_of(stack_outputs: &Map) -> Map {
    let secret_names: Vec<Value> = stack_outputs
        .iter()
        .filter(|(_, v)| v.contains_secret())
        .map(|(k, _)| Value::from(k.as_str()))
        .collect();
    let mut out = Map::new();
    out.insert("outputs".into(), Value::Map(stack_outputs.clone()));
    out.insert("secretOutputNames".into(), Value::List(secret_names));
    out
}

pub struct StackReferenceProvider {
    schema: ResourceSchema,
    /// `None` in a registry built only for schemas (`cairn schema`).
    source: Option<Source>,
}

impl StackReferenceProvider {
    pub fn new(source: Option<Source>) -> Self {
        StackReferenceProvider {
            schema: StackReference::schema(),
            source,
        }
    }

    async fn outputs(&self, resource: &str, stack: &str) -> Result<Option<Map>, ProviderError> {
        let Some(source) = &self.source else {
            return Err(ProviderError::invalid(
                resource,
                "no state backend to read stack references from",
            ));
        };
        let state = source.read(stack).await.map_err(|e| {
            ProviderError::invalid(resource, format!("reading stack `{stack}`: {e}"))
        })?;
        Ok(state
            .filter(|s| !s.outputs.is_empty())
            .map(|s| outputs_of(&s.outputs)))
    }
}

fn name_of(inputs: &Map, id: &str) -> String {
    inputs
        .get("name")
        .map(Value::reveal)
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| id.to_string())
}

#[async_trait]
impl ResourceProvider for StackReferenceProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn has_external_effects(&self) -> bool {
        false
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let stack = name_of(inputs, "");
        match self.outputs(&ctx.name, &stack).await? {
            Some(outputs) => Ok(Created { id: stack, outputs }),
            None => Err(ProviderError::invalid(
                &ctx.name,
                format!("stack `{stack}` has no outputs (no state, or never applied)"),
            )),
        }
    }

    async fn read(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        let stack = name_of(inputs, id);
        let mut observed_inputs = Map::new();
        observed_inputs.insert("name".into(), Value::from(stack.as_str()));
        Ok(self
            .outputs(&ctx.name, &stack)
            .await?
            .map(|outputs| Observed {
                id: stack.clone(),
                inputs: observed_inputs,
                outputs,
            }))
    }

    async fn update(
        &self,
        ctx: &CallContext,
        id: &str,
        _old: &Map,
        new_inputs: &Map,
        old_outputs: &Map,
    ) -> Result<Map, ProviderError> {
        let stack = name_of(new_inputs, id);
        Ok(self
            .outputs(&ctx.name, &stack)
            .await?
            .unwrap_or_else(|| old_outputs.clone()))
    }

    async fn delete(
        &self,
        _ctx: &CallContext,
        _id: &str,
        _inputs: &Map,
        _outputs: &Map,
    ) -> Result<(), ProviderError> {
        // Reading another stack made nothing; forgetting it deletes nothing.
        Ok(())
    }
}

/// `state` with every stack reference of the spec as the referenced stack
/// records it now, for the planner. A referenced stack that is missing or
/// has no outputs is a diagnostic, as is a name not known at preview.
pub async fn resolve(loaded: &Loaded, state: StackState) -> Result<StackState, CliError> {
    let spec = &loaded.spec;
    // `get:` resources, as read when the stack loaded (recorded by `up`).
    let state = state.with_externals(&spec.externals);
    if !spec.resources.iter().any(|r| r.type_token == TOKEN) {
        return Ok(state);
    }
    let source = loaded.reference_source();
    let source_file = spec.source.as_ref();
    let schema = StackReference::schema();
    let graph = DependencyGraph::build(spec).ok();
    let mut problems = Vec::new();
    let mut state = state;
    for r in spec.resources.iter().filter(|r| r.type_token == TOKEN) {
        let name_path = PropertyPath::key("name");
        let at = r.span_of(&name_path);
        let stack = match r.properties.get("name").map(Value::reveal) {
            Some(Value::String(s)) if !s.contains("${") && !s.trim().is_empty() => s,
            _ => {
                problems.push(
                    Problem::error(
                        NAME_CODE,
                        format!("`{}`: `name` must name a stack, known at preview", r.name),
                    )
                    .at(at, "the referenced stack")
                    .help("write the stack's name (its `name:`), e.g. `network-prod`, or build it from config such as `network-${environment}`")
                    .in_source(source_file),
                );
                continue;
            }
        };
        if stack.contains('/') {
            // Pulumi's `organization/project/stack`: cairn names a stack by its
            // `name:` alone, so reading the last part could read another
            // project's stack of that name.
            let last = stack.rsplit('/').next().unwrap_or_default();
            problems.push(
                Problem::error(
                    NAME_CODE,
                    format!("`{}` names stack `{stack}` in Pulumi's organization/project/stack form", r.name),
                )
                .at(at, "a qualified stack name")
                .help(format!("cairn stacks are named by their `name:` alone, one namespace per backend: write the referenced stack's name, e.g. `{last}` if that is its `name:`"))
                .in_source(source_file),
            );
            continue;
        }
        if stack == spec.name {
            problems.push(
                Problem::error(
                    NAME_CODE,
                    format!("`{}` refers to this very stack `{stack}`", r.name),
                )
                .at(at, "this stack")
                .help("a stack reference reads another stack's outputs")
                .in_source(source_file),
            );
            continue;
        }
        let recorded = match source.read(&stack).await {
            Ok(s) => s,
            Err(e) => {
                problems.push(
                    Problem::error(
                        READ_CODE,
                        format!("`{}`: cannot read stack `{stack}` in {}: {e}", r.name, source.describe()),
                    )
                    .at(at, "the referenced stack")
                    .help("check the backend and its credentials; a stack's secrets are read with $STACK_PASSPHRASE or its key file under state/.keys/")
                    .in_source(source_file),
                );
                continue;
            }
        };
        let Some(recorded) = recorded.filter(|s| !s.outputs.is_empty()) else {
            problems.push(missing(loaded, &source, r, &stack, at, source_file));
            continue;
        };
        let old = state.resources.get(&r.name);
        let deps: Vec<String> = graph
            .as_ref()
            .map(|g| {
                g.dependencies(&r.name)
                    .into_iter()
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let rs = ResourceState {
            name: r.name.clone(),
            type_token: TOKEN.to_string(),
            id: stack.clone(),
            inputs: schema.normalize_inputs(&r.properties),
            outputs: schema.normalize_outputs(&outputs_of(&recorded.outputs)),
            dependencies: deps,
            protect: old.map_or(r.options.protect, |o| o.protect),
            retain_on_delete: old.map_or(r.options.retain_on_delete, |o| o.retain_on_delete),
            imported: false,
            ..Default::default()
        };
        state.resources.insert(r.name.clone(), rs);
    }
    if problems.is_empty() {
        Ok(state)
    } else {
        Err(CliError::Invalid(Problems {
            file: source_file.map(|s| s.name.clone()),
            problems,
        }))
    }
}

fn missing(
    loaded: &Loaded,
    source: &Source,
    r: &cairn_core::ResourceSpec,
    stack: &str,
    at: Option<cairn_core::spec::Span>,
    source_file: Option<&cairn_core::spec::SourceFile>,
) -> Problem {
    let existing: Vec<String> = source
        .existing()
        .into_iter()
        .filter(|s| *s != loaded.spec.name)
        .collect();
    let has_state = existing.iter().any(|s| s == stack);
    let what = if has_state {
        "has no outputs (it was never applied, or was destroyed)"
    } else {
        "has no state"
    };
    // The local state directory is this run's; a remote backend is named.
    let place = if source.is_local() {
        String::new()
    } else {
        format!(" in {}", source.describe())
    };
    let stacks = if !source.is_local() {
        "`cairn stack ls` lists local stacks only".to_string()
    } else if existing.is_empty() {
        "no stack has state here yet".to_string()
    } else {
        format!("stacks with state here: {}", existing.join(", "))
    };
    let (local, by_itself) = if loaded.endpoint.is_some() {
        (" --local", " (`up --local` of this stack does that first)")
    } else {
        ("", "")
    };
    let own_dir = source_file
        .and_then(|f| {
            std::path::Path::new(&f.name)
                .parent()
                .map(|p| p.to_path_buf())
        })
        .unwrap_or_default();
    let file = crate::local::stack_file(stack, &[&own_dir, std::path::Path::new("stacks")])
        .map(|f| f.display().to_string())
        .unwrap_or_else(|| "<its file>".to_string());
    Problem::error(
        MISSING_CODE,
        format!("`{}` refers to stack `{stack}`, which {what}{place}", r.name),
    )
    .at(at, "the referenced stack")
    .help(format!(
        "bring that stack up first: `cairn up --stack-file {file}{local}`{by_itself}; or fix the name; {stacks}"
    ))
    .in_source(source_file)
}

/// Records in state what [`resolve`] read, before `up` applies: state then
/// holds the references its resources depend on, for `destroy` and `state`
/// commands. Writes only when something changed.
pub fn record(
    writer: &crate::backend::Writer,
    recorded: &StackState,
    resolved: &StackState,
) -> Result<(), CliError> {
    if recorded == resolved {
        return Ok(());
    }
    writer.replace_all(resolved)
}
