//! The executor: walks a [`Plan`] in dependency order with bounded
//! parallelism, calling providers and recording every call write-ahead in
//! a [`StateSink`].
//!
//! Each step becomes one or two operations in an operation graph:
//! * create/update/import/same (and delete-before-replace replaces) run
//!   after the operations of the resources they depend on;
//! * a create-before-destroy replace creates the new copy first (its
//!   dependents then update against it) and deletes the old copy in a
//!   second operation once every dependent has been applied;
//! * a delete runs once everything that depended on the resource in the
//!   recorded state has been deleted or updated away from it.
//!
//! A failed operation skips everything that (transitively) depends on it;
//! independent work finishes. Inputs are resolved against the outputs
//! produced so far just before each call, revealed only for the call, and
//! recorded with secrets wrapped per schema.
//!
//! Journal convention for create-before-destroy: the delete intent for the
//! old copy is begun *before* the create of the new one (so a crash in
//! between leaves a trace of the old copy). It carries the old physical id;
//! when it finishes after the old copy is gone, its outcome is
//! `Outcome::Written(<the new copy's state>)`, because the logical resource
//! still exists. When the old copy cannot be deleted (its delete fails, or
//! a dependent failed to move off it) that intent is left *pending*: the
//! next run's [`crate::reconcile`] deletes the old copy, so nothing is
//! orphaned. Every other intent is finished before `apply` returns.

use crate::plan::{
    apply_ignore_changes, diff_inputs, map_has_unknown, resolve_map, resolve_value, reveal_map,
    same_deps, schema_forces_replace, spec_index, with_absent_means, Action, Known, MaskedState,
    Plan, RefTarget, Step,
};
use crate::provider::{CallContext, Operation, Registry, ResourceProvider};
use crate::schema::ResourceSchema;
use crate::spec::{ResourceSpec, StackSpec};
use crate::state::{Intent, Outcome, ResourceState, StackState, StateSink};
use crate::value::{Map, Value};
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the executor reports while it works.
#[derive(Clone, Debug, PartialEq)]
pub enum ExecEvent {
    Started {
        name: String,
        action: Action,
    },
    /// A provider's live status ("creating", "modifying 3/5"...).
    Progress {
        name: String,
        status: String,
    },
    Finished {
        name: String,
        action: Action,
        elapsed: Duration,
    },
    Failed {
        name: String,
        action: Action,
        error: String,
    },
    /// Not attempted because something it depends on failed.
    Skipped {
        name: String,
        reason: String,
    },
}

/// Receives [`ExecEvent`]s; called from the executor's task, keep it quick.
pub type EventSink = Arc<dyn Fn(ExecEvent) + Send + Sync>;

/// How to execute a plan.
#[derive(Clone)]
pub struct ExecOptions {
    /// The stack name (part of every resource's `urn`).
    pub stack: String,
    /// At most this many provider operations in flight (0 counts as 1).
    pub parallel: usize,
    pub events: EventSink,
    /// The first journal op id to use: past every id the store has seen.
    pub first_op_id: u64,
    /// Once set (an interrupt), no new operation starts; those in flight finish.
    pub cancel: Option<Arc<std::sync::atomic::AtomicBool>>,
}

impl ExecOptions {
    /// `parallel` 10, events discarded.
    pub fn new(stack: &str) -> Self {
        ExecOptions {
            stack: stack.to_string(),
            parallel: 10,
            events: Arc::new(|_| {}),
            first_op_id: 1,
            cancel: None,
        }
    }
    pub fn with_cancel(mut self, cancel: Arc<std::sync::atomic::AtomicBool>) -> Self {
        self.cancel = Some(cancel);
        self
    }
    fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|c| c.load(std::sync::atomic::Ordering::SeqCst))
    }
    pub fn with_first_op_id(mut self, first_op_id: u64) -> Self {
        self.first_op_id = first_op_id.max(1);
        self
    }
    pub fn with_parallel(mut self, parallel: usize) -> Self {
        self.parallel = parallel;
        self
    }
    pub fn with_events(mut self, events: EventSink) -> Self {
        self.events = events;
        self
    }
}

impl Default for ExecOptions {
    fn default() -> Self {
        Self::new("")
    }
}

impl fmt::Debug for ExecOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecOptions")
            .field("stack", &self.stack)
            .field("parallel", &self.parallel)
            .finish_non_exhaustive()
    }
}

/// What an apply did.
#[derive(Clone, PartialEq)]
pub struct ApplyReport {
    /// Resources whose step completed (steps with action `Same` are not listed).
    pub succeeded: Vec<String>,
    /// Resources whose step failed, with the error.
    pub failed: Vec<(String, String)>,
    /// Resources not attempted because a dependency failed.
    pub skipped: Vec<String>,
    /// Cancelled (`ExecOptions::cancel`) before every operation started.
    pub interrupted: bool,
    /// Resources not started because of the cancel.
    pub not_started: Vec<String>,
    /// The state after the run (what the sink recorded).
    pub state: StackState,
}

impl ApplyReport {
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty() && !self.interrupted
    }
}

impl fmt::Debug for ApplyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let resources: Vec<MaskedState<'_>> =
            self.state.resources.values().map(MaskedState).collect();
        f.debug_struct("ApplyReport")
            .field("succeeded", &self.succeeded)
            .field("failed", &self.failed)
            .field("skipped", &self.skipped)
            .field("interrupted", &self.interrupted)
            .field("not_started", &self.not_started)
            .field("resources", &resources)
            .finish()
    }
}

// ---------------------------------------------------------------------------
// The operation graph.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OpKind {
    /// The step itself (for a delete-before-replace: delete, then create).
    Apply,
    /// Delete the old copy of a create-before-destroy replace.
    DeleteOld,
    /// A delete step.
    Delete,
}

#[derive(Debug)]
struct Op {
    kind: OpKind,
    step: usize,
    deps: Vec<usize>,
}

fn build_ops(plan: &Plan, state: &StackState) -> Vec<Op> {
    let steps = &plan.steps;
    let mut ops: Vec<Op> = Vec::with_capacity(steps.len());
    let mut apply_op: HashMap<&str, usize> = HashMap::new();
    let mut removal_op: HashMap<&str, usize> = HashMap::new();
    for (i, s) in steps.iter().enumerate() {
        let mut push = |kind| {
            ops.push(Op {
                kind,
                step: i,
                deps: Vec::new(),
            });
            ops.len() - 1
        };
        if s.action == Action::Delete {
            removal_op.insert(&s.name, push(OpKind::Delete));
        } else {
            apply_op.insert(&s.name, push(OpKind::Apply));
            if s.action == Action::Replace && !s.delete_before_replace {
                removal_op.insert(&s.name, push(OpKind::DeleteOld));
            }
        }
    }
    // Who depended on whom when last applied, and who will.
    let mut old_dependents: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    let recorded = state
        .resources
        .values()
        .chain(steps.iter().filter_map(|s| s.old.as_ref()));
    for r in recorded {
        for d in &r.dependencies {
            old_dependents.entry(d).or_default().insert(&r.name);
        }
    }
    let mut new_dependents: HashMap<&str, Vec<&str>> = HashMap::new();
    for s in steps.iter().filter(|s| s.action != Action::Delete) {
        for d in &s.dependencies {
            new_dependents.entry(d).or_default().push(&s.name);
        }
    }
    let none = BTreeSet::new();
    let mut hard: Vec<Vec<usize>> = vec![Vec::new(); ops.len()];
    let mut soft: Vec<Vec<usize>> = vec![Vec::new(); ops.len()];
    for (id, op) in ops.iter().enumerate() {
        let s = &steps[op.step];
        let name = s.name.as_str();
        let olds = old_dependents.get(name).unwrap_or(&none);
        let deps = &mut hard[id];
        match op.kind {
            OpKind::Apply => {
                deps.extend(
                    s.dependencies
                        .iter()
                        .filter_map(|d| apply_op.get(d.as_str())),
                );
                if s.action == Action::Replace && s.delete_before_replace {
                    // Delete what depended on the old copy before deleting it.
                    soft[id].extend(
                        olds.iter()
                            .filter_map(|y| removal_op.get(y))
                            .filter(|o| ops[**o].kind == OpKind::Delete),
                    );
                }
            }
            OpKind::DeleteOld => {
                deps.extend(apply_op.get(name));
                for y in new_dependents.get(name).into_iter().flatten() {
                    deps.extend(apply_op.get(y));
                }
                for y in olds {
                    deps.extend(apply_op.get(y));
                    deps.extend(removal_op.get(y));
                }
            }
            OpKind::Delete => {
                for y in olds {
                    deps.extend(apply_op.get(y));
                    deps.extend(removal_op.get(y));
                }
            }
        }
    }
    let finish = |extra: Option<&Vec<Vec<usize>>>| -> Vec<Vec<usize>> {
        hard.iter()
            .enumerate()
            .map(|(id, h)| {
                let mut d: BTreeSet<usize> = h.iter().copied().collect();
                if let Some(extra) = extra {
                    d.extend(extra[id].iter().copied());
                }
                d.remove(&id);
                d.into_iter().collect()
            })
            .collect()
    };
    let mut deps = finish(Some(&soft));
    if !acyclic(&deps) {
        // Conflicting orderings (rare): drop the delete-before-replace waits.
        deps = finish(None);
    }
    for (op, d) in ops.iter_mut().zip(deps) {
        op.deps = d;
    }
    ops
}

fn acyclic(deps: &[Vec<usize>]) -> bool {
    let mut remaining: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); deps.len()];
    for (id, ds) in deps.iter().enumerate() {
        for d in ds {
            dependents[*d].push(id);
        }
    }
    let mut queue: VecDeque<usize> = (0..deps.len()).filter(|i| remaining[*i] == 0).collect();
    let mut seen = 0;
    while let Some(i) = queue.pop_front() {
        seen += 1;
        for &d in &dependents[i] {
            remaining[d] -= 1;
            if remaining[d] == 0 {
                queue.push_back(d);
            }
        }
    }
    seen == deps.len()
}

// ---------------------------------------------------------------------------
// Running operations.

enum Change {
    None,
    Write(ResourceState),
    Remove,
}

struct OpDone {
    change: Change,
    /// `Ok(Some(op_id))`: a create-before-destroy's pending delete intent.
    result: Result<Option<u64>, String>,
    elapsed: Duration,
    /// Whether anything was done (a provider call or a state write).
    work: bool,
}

impl OpDone {
    fn nothing() -> Self {
        OpDone {
            change: Change::None,
            result: Ok(None),
            elapsed: Duration::ZERO,
            work: false,
        }
    }
    fn failed(msg: String) -> Self {
        OpDone {
            change: Change::None,
            result: Err(msg),
            elapsed: Duration::ZERO,
            work: false,
        }
    }
}

/// How the recorded state of an applied resource is built.
struct Meta {
    dependencies: Vec<String>,
    protect: bool,
    retain_on_delete: bool,
    /// `additionalSecretOutputs`.
    secret_outputs: Vec<String>,
    /// `parent`.
    parent: Option<String>,
    /// `deletedWith`, recorded so a later plan knows it.
    deleted_with: Option<String>,
}

enum Job {
    Create {
        inputs: Map,
    },
    Update {
        inputs: Map,
        old: ResourceState,
    },
    Replace {
        inputs: Map,
        old: ResourceState,
        delete_first: bool,
    },
    Import {
        inputs: Map,
        id: String,
    },
    /// State-only: metadata changed, the cloud did not.
    Write(ResourceState),
    Delete {
        old: ResourceState,
    },
    /// `retainOnDelete`: forget without calling the provider.
    Forget {
        old: ResourceState,
    },
    DeleteOld {
        old: ResourceState,
        current: Option<ResourceState>,
        pre_op: u64,
    },
}

struct Launch {
    name: String,
    type_token: String,
    provider: Option<Arc<dyn ResourceProvider>>,
    ctx: CallContext,
    meta: Meta,
    job: Job,
}

struct Shared<'a> {
    sink: &'a dyn StateSink,
    next_op: AtomicU64,
}

impl Shared<'_> {
    async fn begin(
        &self,
        l: &Launch,
        operation: Operation,
        id: Option<&str>,
        inputs: &Map,
        dependencies: &[String],
        external: bool,
    ) -> Result<u64, String> {
        self.begin_intent(l, operation, id, inputs, dependencies, external, None)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn begin_intent(
        &self,
        l: &Launch,
        operation: Operation,
        id: Option<&str>,
        inputs: &Map,
        dependencies: &[String],
        external: bool,
        create_token: Option<String>,
    ) -> Result<u64, String> {
        let op_id = self.next_op.fetch_add(1, Ordering::Relaxed);
        let intent = Intent {
            op_id,
            resource: l.name.clone(),
            type_token: l.type_token.clone(),
            operation,
            id: id.map(str::to_string),
            inputs: inputs.clone(),
            dependencies: dependencies.to_vec(),
            external,
            create_token,
        };
        self.sink
            .begin(&intent)
            .await
            .map_err(|e| e.to_string())
            .map(|_| op_id)
    }

    async fn finish(&self, op_id: u64, name: &str, outcome: &Outcome) -> Result<(), String> {
        self.sink
            .finish(op_id, name, outcome)
            .await
            .map_err(|e| e.to_string())
    }
}

/// Outputs as recorded: secret outputs per schema wrapped, and outputs that
/// echo a secret input wrapped too.
fn record_outputs(schema: &ResourceSchema, inputs: &Map, raw: &Map, secret: &[String]) -> Map {
    let mut out = schema.normalize_outputs(raw);
    crate::value::wrap_outputs_echoing_secrets(&mut out, inputs);
    for name in secret {
        if let Some(v) = out.get_mut(name) {
            if !v.is_secret() {
                *v = Value::secret(v.clone());
            }
        }
    }
    out
}

fn recorded(
    l: &Launch,
    schema: &ResourceSchema,
    id: String,
    inputs: Map,
    raw: &Map,
) -> ResourceState {
    ResourceState {
        name: l.name.clone(),
        type_token: l.type_token.clone(),
        id,
        outputs: record_outputs(schema, &inputs, raw, &l.meta.secret_outputs),
        inputs,
        dependencies: l.meta.dependencies.clone(),
        protect: l.meta.protect,
        retain_on_delete: l.meta.retain_on_delete,
        parent: l.meta.parent.clone(),
        imported: false,
        external: false,
        deleted_with: l.meta.deleted_with.clone(),
    }
}

async fn run(sh: &Shared<'_>, l: Launch) -> OpDone {
    let start = Instant::now();
    let (change, result) = run_job(sh, &l).await;
    OpDone {
        change,
        result,
        elapsed: start.elapsed(),
        work: true,
    }
}

type JobResult = (Change, Result<Option<u64>, String>);

async fn run_job(sh: &Shared<'_>, l: &Launch) -> JobResult {
    let provider = l.provider.as_ref();
    match (&l.job, provider) {
        (Job::Write(rs), _) => {
            let op = match sh
                .begin(
                    l,
                    Operation::Update,
                    Some(&rs.id),
                    &rs.inputs,
                    &rs.dependencies,
                    false,
                )
                .await
            {
                Ok(op) => op,
                Err(e) => return (Change::None, Err(e)),
            };
            match sh.finish(op, &l.name, &Outcome::Written(rs.clone())).await {
                Ok(()) => (Change::Write(rs.clone()), Ok(None)),
                Err(e) => (Change::None, Err(e)),
            }
        }
        (Job::Forget { old }, _) => match forget(sh, l, old).await {
            Ok(()) => (Change::Remove, Ok(None)),
            Err(e) => (Change::None, Err(e)),
        },
        (_, None) => (
            Change::None,
            Err(format!("no provider for type `{}`", l.type_token)),
        ),
        (Job::Create { inputs }, Some(p)) => match create(sh, l, p.as_ref(), inputs).await {
            Ok(rs) => (Change::Write(rs), Ok(None)),
            Err(e) => (Change::None, Err(e)),
        },
        (Job::Update { inputs, old }, Some(p)) => update(sh, l, p.as_ref(), inputs, old).await,
        (
            Job::Replace {
                inputs,
                old,
                delete_first,
            },
            Some(p),
        ) => replace(sh, l, p.as_ref(), inputs, old, *delete_first).await,
        (Job::Import { inputs, id }, Some(p)) => import(sh, l, p.as_ref(), inputs, id).await,
        (Job::Delete { old }, Some(p)) => match delete(sh, l, p.as_ref(), old).await {
            Ok(()) => (Change::Remove, Ok(None)),
            Err(e) => (Change::None, Err(e)),
        },
        (
            Job::DeleteOld {
                old,
                current,
                pre_op,
            },
            Some(p),
        ) => {
            let res = if retains(l, old) {
                (l.ctx.progress)(&format!(
                    "retained the replaced copy `{}` in the cloud (retainOnDelete)",
                    old.id
                ));
                Ok(())
            } else {
                p.delete(
                    &l.ctx,
                    &old.id,
                    &reveal_map(&old.inputs),
                    &reveal_map(&old.outputs),
                )
                .await
            };
            match res {
                Ok(()) => {
                    let outcome = match current {
                        Some(c) => Outcome::Written(c.clone()),
                        None => Outcome::Removed,
                    };
                    match sh.finish(*pre_op, &l.name, &outcome).await {
                        Ok(()) => (Change::None, Ok(None)),
                        Err(e) => (Change::None, Err(e)),
                    }
                }
                // The delete intent stays pending: the next run's
                // reconcile deletes the old copy instead of orphaning it.
                Err(e) => (
                    Change::None,
                    Err(format!(
                        "the replaced copy `{}` could not be deleted: {e}; the next run retries",
                        old.id
                    )),
                ),
            }
        }
    }
}

async fn create(
    sh: &Shared<'_>,
    l: &Launch,
    p: &dyn ResourceProvider,
    inputs: &Map,
) -> Result<ResourceState, String> {
    let token = crate::state::new_create_token();
    let op = sh
        .begin_intent(
            l,
            Operation::Create,
            None,
            inputs,
            &l.meta.dependencies,
            p.has_external_effects(),
            Some(token.clone()),
        )
        .await?;
    let mut ctx = l.ctx.clone();
    ctx.create_token = Some(token);
    match p.create(&ctx, &reveal_map(inputs)).await {
        Ok(created) => {
            let rs = recorded(l, p.schema(), created.id, inputs.clone(), &created.outputs);
            sh.finish(op, &l.name, &Outcome::Written(rs.clone()))
                .await
                .map_err(|e| format!("created `{}` but could not record it: {e}", rs.id))?;
            Ok(rs)
        }
        Err(e) if e.outcome_unknown() => {
            // The create may have taken effect: the intent stays pending so
            // the next run's reconcile adopts what it made (or closes it).
            Err(format!(
                "{e} (the create may have taken effect; the next run looks for what it made before creating again)"
            ))
        }
        Err(e) => {
            let msg = e.to_string();
            let _ = sh.finish(op, &l.name, &Outcome::Failed(msg.clone())).await;
            Err(msg)
        }
    }
}

async fn update(
    sh: &Shared<'_>,
    l: &Launch,
    p: &dyn ResourceProvider,
    inputs: &Map,
    old: &ResourceState,
) -> JobResult {
    // A fresh token per update too (e.g. Secrets Manager's request token):
    // a retry reuses it, a later update of the same value does not.
    let token = crate::state::new_create_token();
    let op = match sh
        .begin_intent(
            l,
            Operation::Update,
            Some(&old.id),
            inputs,
            &l.meta.dependencies,
            p.has_external_effects(),
            Some(token.clone()),
        )
        .await
    {
        Ok(op) => op,
        Err(e) => return (Change::None, Err(e)),
    };
    let mut ctx = l.ctx.clone();
    ctx.create_token = Some(token);
    let res = p
        .update(
            &ctx,
            &old.id,
            &reveal_map(&old.inputs),
            &reveal_map(inputs),
            &reveal_map(&old.outputs),
        )
        .await;
    match res {
        Ok(outputs) => {
            let mut rs = recorded(l, p.schema(), old.id.clone(), inputs.clone(), &outputs);
            rs.imported = old.imported;
            match sh.finish(op, &l.name, &Outcome::Written(rs.clone())).await {
                Ok(()) => (Change::Write(rs), Ok(None)),
                Err(e) => (Change::None, Err(e)),
            }
        }
        Err(e) => {
            let msg = e.to_string();
            let _ = sh.finish(op, &l.name, &Outcome::Failed(msg.clone())).await;
            (Change::None, Err(msg))
        }
    }
}

async fn delete(
    sh: &Shared<'_>,
    l: &Launch,
    p: &dyn ResourceProvider,
    old: &ResourceState,
) -> Result<(), String> {
    let op = sh
        .begin(
            l,
            Operation::Delete,
            Some(&old.id),
            &old.inputs,
            &old.dependencies,
            p.has_external_effects(),
        )
        .await?;
    let res = p
        .delete(
            &l.ctx,
            &old.id,
            &reveal_map(&old.inputs),
            &reveal_map(&old.outputs),
        )
        .await;
    match res {
        Ok(()) => sh.finish(op, &l.name, &Outcome::Removed).await,
        Err(e) => {
            let msg = e.to_string();
            let _ = sh.finish(op, &l.name, &Outcome::Failed(msg.clone())).await;
            Err(msg)
        }
    }
}

/// `retainOnDelete` (recorded or declared) keeps a replaced copy in the
/// cloud, as Pulumi does: it leaves state without a provider delete.
fn retains(l: &Launch, old: &ResourceState) -> bool {
    old.retain_on_delete || l.meta.retain_on_delete
}

/// Removes `old` from state, leaving it in the cloud (journalled).
async fn forget(sh: &Shared<'_>, l: &Launch, old: &ResourceState) -> Result<(), String> {
    let op = sh
        .begin(
            l,
            Operation::Delete,
            Some(&old.id),
            &old.inputs,
            &old.dependencies,
            false,
        )
        .await?;
    (l.ctx.progress)("retained in the cloud; removed from state");
    sh.finish(op, &l.name, &Outcome::Removed).await
}

async fn replace(
    sh: &Shared<'_>,
    l: &Launch,
    p: &dyn ResourceProvider,
    inputs: &Map,
    old: &ResourceState,
    delete_first: bool,
) -> JobResult {
    if delete_first {
        let removed = if retains(l, old) {
            forget(sh, l, old).await
        } else {
            delete(sh, l, p, old).await
        };
        if let Err(e) = removed {
            return (Change::None, Err(e));
        }
        return match create(sh, l, p, inputs).await {
            Ok(rs) => (Change::Write(rs), Ok(None)),
            Err(e) => (
                Change::Remove,
                Err(format!("deleted the old copy, then the create failed: {e}")),
            ),
        };
    }
    // Create before destroy: the old copy's delete intent goes first.
    let pre_op = match sh
        .begin(
            l,
            Operation::Delete,
            Some(&old.id),
            &old.inputs,
            &old.dependencies,
            p.has_external_effects(),
        )
        .await
    {
        Ok(op) => op,
        Err(e) => return (Change::None, Err(e)),
    };
    match create(sh, l, p, inputs).await {
        Ok(rs) => (Change::Write(rs), Ok(Some(pre_op))),
        Err(e) => {
            let _ = sh
                .finish(
                    pre_op,
                    &l.name,
                    &Outcome::Failed("the replacement was not created; the old copy stays".into()),
                )
                .await;
            (Change::None, Err(e))
        }
    }
}

async fn import(
    sh: &Shared<'_>,
    l: &Launch,
    p: &dyn ResourceProvider,
    inputs: &Map,
    id: &str,
) -> JobResult {
    let op = match sh
        .begin(
            l,
            Operation::Read,
            Some(id),
            inputs,
            &l.meta.dependencies,
            false,
        )
        .await
    {
        Ok(op) => op,
        Err(e) => return (Change::None, Err(e)),
    };
    let res = p.read(&l.ctx, id, &reveal_map(inputs)).await;
    let failed = |msg: String| async move {
        let _ = sh.finish(op, &l.name, &Outcome::Failed(msg.clone())).await;
        (Change::None, Err(msg))
    };
    match res {
        Ok(Some(observed)) => {
            let schema = p.schema();
            let mut recorded_inputs = schema.normalize_inputs(&observed.inputs);
            for (k, v) in recorded_inputs.iter_mut() {
                if !v.is_secret() && inputs.get(k).is_some_and(Value::contains_secret) {
                    *v = Value::secret(std::mem::take(v));
                }
            }
            let mut rs = recorded(l, schema, observed.id, recorded_inputs, &observed.outputs);
            rs.imported = true;
            rs.protect = true;
            match sh.finish(op, &l.name, &Outcome::Written(rs.clone())).await {
                Ok(()) => (Change::Write(rs), Ok(None)),
                Err(e) => (Change::None, Err(e)),
            }
        }
        Ok(None) => failed(format!("cannot import `{id}`: it does not exist")).await,
        Err(e) => failed(e.to_string()).await,
    }
}

// ---------------------------------------------------------------------------
// The scheduler.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Pending,
    Running,
    Done,
    Failed,
    Skipped,
}

// One short-lived value per step: boxing `Done` would buy nothing.
#[allow(clippy::large_enum_variant)]
enum Prepared {
    Done(OpDone),
    Run(Box<Launch>),
}

struct Sched<'a> {
    plan: &'a Plan,
    spec_res: HashMap<&'a str, &'a ResourceSpec>,
    registry: &'a Registry,
    opts: &'a ExecOptions,
    ops: Vec<Op>,
    dependents: Vec<Vec<usize>>,
    remaining: Vec<usize>,
    status: Vec<Status>,
    ready: BinaryHeap<Reverse<usize>>,
    current: StackState,
    succeeded: Vec<String>,
    failed: Vec<(String, String)>,
    skipped: Vec<String>,
    /// Pending delete intents of create-before-destroy replaces, by step.
    pre_ops: HashMap<usize, u64>,
    /// Names already in `skipped`.
    skipped_set: HashSet<String>,
    /// `Same` steps that turned into updates at apply time (see `prepare_apply`).
    late_updates: HashSet<String>,
    /// Resources whose recorded state an operation of this run rewrote
    /// (so their outputs may differ from what the plan assumed).
    rewritten: HashSet<String>,
}

impl<'a> Sched<'a> {
    fn emit(&self, e: ExecEvent) {
        (self.opts.events)(e)
    }

    fn step(&self, op: usize) -> &'a Step {
        &self.plan.steps[self.ops[op].step]
    }

    fn context(&self, step: &Step) -> CallContext {
        let mut ctx = CallContext::new(&self.opts.stack, &step.name);
        ctx.pending_update = step.pending_update.clone();
        if let Some(r) = self.spec_res.get(step.name.as_str()) {
            ctx.timeouts = r.options.custom_timeouts.clone();
        }
        let events = self.opts.events.clone();
        let name = step.name.clone();
        ctx.progress = Arc::new(move |status: &str| {
            events(ExecEvent::Progress {
                name: name.clone(),
                status: status.to_string(),
            })
        });
        ctx
    }

    /// The step's inputs resolved against the outputs recorded so far.
    fn desired_inputs(&self, step: &Step) -> Result<Map, String> {
        let inputs = match self.spec_res.get(step.name.as_str()) {
            Some(r) => {
                let schema = self
                    .registry
                    .schema(&r.type_token)
                    .ok_or_else(|| format!("no provider for type `{}`", r.type_token))?;
                let current = &self.current;
                let spec_res = &self.spec_res;
                let stack = &self.opts.stack;
                let lookup = |root: &str| known_target(stack, current, spec_res, root);
                let mut m = schema.normalize_inputs(&resolve_map(&r.properties, &lookup));
                if let Some(old) = &step.old {
                    apply_ignore_changes(&mut m, &old.inputs, &r.options.ignore_changes);
                }
                m
            }
            None => step.new_inputs.clone().unwrap_or_default(),
        };
        if map_has_unknown(&inputs) {
            return Err(format!(
                "inputs of `{}` are still unknown at apply time (a referenced resource was not applied)",
                step.name
            ));
        }
        Ok(inputs)
    }

    fn meta(step: &Step) -> Meta {
        Meta {
            dependencies: step.dependencies.clone(),
            protect: step.protect,
            retain_on_delete: step.retain_on_delete,
            secret_outputs: Vec::new(),
            parent: step.parent.clone(),
            deleted_with: None,
        }
    }

    /// The program's `deletedWith` for `name`; without the program, `old`'s.
    fn deleted_with_of(&self, name: &str, old: Option<&ResourceState>) -> Option<String> {
        match self.spec_res.get(name) {
            Some(r) => r.options.deleted_with.clone(),
            None => old.and_then(|o| o.deleted_with.clone()),
        }
    }

    /// Recorded state with the step's metadata, when that differs.
    fn metadata_write(
        step: &Step,
        old: &ResourceState,
        deleted_with: Option<String>,
    ) -> Option<ResourceState> {
        let changed = old.parent != step.parent
            || !same_deps(&old.dependencies, &step.dependencies)
            || old.protect != step.protect
            || old.retain_on_delete != step.retain_on_delete
            || old.deleted_with != deleted_with;
        changed.then(|| ResourceState {
            parent: step.parent.clone(),
            dependencies: step.dependencies.clone(),
            protect: step.protect,
            retain_on_delete: step.retain_on_delete,
            deleted_with,
            ..old.clone()
        })
    }

    fn launch(&self, step: &Step, job: Job) -> Prepared {
        let type_token = match &job {
            Job::Delete { old } | Job::Forget { old } | Job::DeleteOld { old, .. } => {
                old.type_token.clone()
            }
            _ => step.type_token.clone(),
        };
        Prepared::Run(Box::new(Launch {
            name: step.name.clone(),
            provider: self.registry.get(&type_token).cloned(),
            type_token,
            ctx: self.context(step),
            meta: Meta {
                secret_outputs: self
                    .spec_res
                    .get(step.name.as_str())
                    .map(|r| r.options.additional_secret_outputs.clone())
                    .unwrap_or_default(),
                deleted_with: self.deleted_with_of(&step.name, step.old.as_ref()),
                ..Self::meta(step)
            },
            job,
        }))
    }

    fn prepare(&mut self, op: usize) -> Prepared {
        let step = self.step(op);
        match self.ops[op].kind {
            OpKind::Apply => self.prepare_apply(step),
            OpKind::Delete => {
                let Some(old) = step
                    .old
                    .clone()
                    .or_else(|| self.current.resources.get(&step.name).cloned())
                else {
                    return Prepared::Done(OpDone::nothing());
                };
                if step.protect {
                    return Prepared::Done(OpDone::failed(format!(
                        "`{}` is protected; set options.protect: false first",
                        step.name
                    )));
                }
                // `get:` resources are only dropped from state.
                if step.retain_on_delete || step.deleted_with.is_some() || old.external {
                    self.launch(step, Job::Forget { old })
                } else {
                    self.launch(step, Job::Delete { old })
                }
            }
            OpKind::DeleteOld => {
                let (Some(pre_op), Some(old)) =
                    (self.pre_ops.remove(&self.ops[op].step), step.old.clone())
                else {
                    // The replace turned out a no-op: nothing to delete.
                    return Prepared::Done(OpDone::nothing());
                };
                self.emit(ExecEvent::Progress {
                    name: step.name.clone(),
                    status: format!("deleting the replaced copy `{}`", old.id),
                });
                let current = self.current.resources.get(&step.name).cloned();
                self.launch(
                    step,
                    Job::DeleteOld {
                        old,
                        current,
                        pre_op,
                    },
                )
            }
        }
    }

    fn prepare_apply(&mut self, step: &'a Step) -> Prepared {
        if step.action == Action::Same {
            if let Some(prepared) = self.late_update(step) {
                return prepared;
            }
            let with = self.deleted_with_of(&step.name, step.old.as_ref());
            return match step
                .old
                .as_ref()
                .and_then(|o| Self::metadata_write(step, o, with))
            {
                Some(rs) => self.launch(step, Job::Write(rs)),
                None => Prepared::Done(OpDone::nothing()),
            };
        }
        let inputs = match self.desired_inputs(step) {
            Ok(m) => m,
            Err(e) => return Prepared::Done(OpDone::failed(e)),
        };
        // A re-parent (a new URN in Pulumi) replaces even with the same inputs.
        let unchanged = |old: &ResourceState| {
            old.type_token == step.type_token
                && old.inputs == inputs
                && (step.action != Action::Replace || old.parent == step.parent)
        };
        match (step.action, step.old.clone()) {
            (Action::Create, _) | (Action::Update | Action::Replace, None) => {
                self.launch(step, Job::Create { inputs })
            }
            (Action::Import, _) => match &step.import_id {
                Some(id) => {
                    let id = id.clone();
                    self.launch(step, Job::Import { inputs, id })
                }
                None => Prepared::Done(OpDone::failed(format!(
                    "`{}` has no id to import",
                    step.name
                ))),
            },
            (Action::Update | Action::Replace, Some(old))
                if unchanged(&old) && step.pending_update.is_none() =>
            {
                // Unknowns at plan time resolved to the recorded values.
                if !step.changes.is_empty() {
                    self.emit(ExecEvent::Progress {
                        name: step.name.clone(),
                        status: "no change once references were resolved".into(),
                    });
                }
                let with = self.deleted_with_of(&step.name, Some(&old));
                match Self::metadata_write(step, &old, with) {
                    Some(rs) => self.launch(step, Job::Write(rs)),
                    None => Prepared::Done(OpDone::nothing()),
                }
            }
            (Action::Update, Some(old)) => self.launch_update(step, old, inputs),
            (Action::Replace, Some(old)) => self.launch(
                step,
                Job::Replace {
                    inputs,
                    old,
                    delete_first: step.delete_before_replace,
                },
            ),
            (Action::Same | Action::Delete, _) => Prepared::Done(OpDone::nothing()),
        }
    }

    /// A `Same` step whose references resolve to new values now that the
    /// resources it reads were applied in this run (the planner assumed an
    /// in-place update keeps outputs not named like a changed input): update
    /// it now, so the run converges instead of the next one. Imported
    /// resources are left to the next plan (their undeclared properties are
    /// not managed).
    fn late_update(&mut self, step: &'a Step) -> Option<Prepared> {
        let old = step.old.as_ref()?;
        if old.imported
            || old.type_token != step.type_token
            || !step.dependencies.iter().any(|d| self.rewritten.contains(d))
        {
            return None;
        }
        self.spec_res.get(step.name.as_str())?;
        let inputs = self.desired_inputs(step).ok()?;
        if inputs == old.inputs {
            return None;
        }
        self.late_updates.insert(step.name.clone());
        self.emit(ExecEvent::Started {
            name: step.name.clone(),
            action: Action::Update,
        });
        self.emit(ExecEvent::Progress {
            name: step.name.clone(),
            status: "a resource it references changed its outputs; updating".into(),
        });
        Some(self.launch_update(step, old.clone(), inputs))
    }

    fn launch_update(&self, step: &Step, old: ResourceState, inputs: Map) -> Prepared {
        if let Some(p) = self.registry.get(&step.type_token) {
            let changes = diff_inputs(
                &with_absent_means(p.schema(), &old.inputs),
                &with_absent_means(p.schema(), &inputs),
            );
            let mut forced: Vec<String> = changes
                .iter()
                .filter(|c| schema_forces_replace(p.schema(), &c.path))
                .map(|c| c.path.to_string())
                .collect();
            forced.extend(
                p.extra_replace_paths(&reveal_map(&old.inputs), &reveal_map(&inputs))
                    .iter()
                    .map(ToString::to_string),
            );
            if !forced.is_empty() {
                return Prepared::Done(OpDone::failed(format!(
                            "the change to {} requires replacing `{}`, which the plan did not include; plan again",
                            forced.join(", "),
                            step.name
                        )));
            }
        }
        self.launch(step, Job::Update { inputs, old })
    }

    fn complete(&mut self, op: usize, done: OpDone) {
        let step = self.step(op);
        let kind = self.ops[op].kind;
        let late = self.late_updates.contains(&step.name);
        let visible = step.action != Action::Same || late;
        if visible && !matches!(done.change, Change::None) {
            self.rewritten.insert(step.name.clone());
        }
        match done.change {
            Change::None => {}
            Change::Write(rs) => {
                self.current.resources.insert(step.name.clone(), rs);
            }
            Change::Remove => {
                self.current.resources.remove(&step.name);
            }
        }
        let action = if late { Action::Update } else { step.action };
        match done.result {
            Ok(pre_op) => {
                self.status[op] = Status::Done;
                if let Some(pre) = pre_op {
                    self.pre_ops.insert(self.ops[op].step, pre);
                }
                match kind {
                    OpKind::Apply | OpKind::Delete if visible => {
                        self.emit(ExecEvent::Finished {
                            name: step.name.clone(),
                            action,
                            elapsed: done.elapsed,
                        });
                        if pre_op.is_none() {
                            self.succeeded.push(step.name.clone());
                        }
                    }
                    OpKind::DeleteOld if done.work => {
                        self.emit(ExecEvent::Progress {
                            name: step.name.clone(),
                            status: "deleted the replaced copy".into(),
                        });
                        self.succeeded.push(step.name.clone());
                    }
                    _ => {}
                }
                for i in 0..self.dependents[op].len() {
                    let d = self.dependents[op][i];
                    self.remaining[d] -= 1;
                    if self.remaining[d] == 0 && self.status[d] == Status::Pending {
                        self.ready.push(Reverse(d));
                    }
                }
            }
            Err(error) => {
                self.status[op] = Status::Failed;
                self.emit(ExecEvent::Failed {
                    name: step.name.clone(),
                    action: step.action,
                    error: error.clone(),
                });
                self.failed.push((step.name.clone(), error));
                self.skip_dependents(op);
            }
        }
    }

    fn skip_dependents(&mut self, failed: usize) {
        let cause = self.step(failed).name.clone();
        let failed_step = self.ops[failed].step;
        let mut stack: Vec<usize> = self.dependents[failed].clone();
        while let Some(d) = stack.pop() {
            if self.status[d] != Status::Pending {
                continue;
            }
            self.status[d] = Status::Skipped;
            stack.extend(self.dependents[d].iter().copied());
            let step = self.step(d);
            let reason = match self.ops[d].kind {
                OpKind::DeleteOld if self.ops[d].step == failed_step => continue,
                // Its delete intent stays pending for the next run's reconcile.
                OpKind::DeleteOld => format!(
                    "the replaced copy `{}` is kept for now because `{cause}` failed; the next run deletes it",
                    step.old.as_ref().map_or("", |o| o.id.as_str())
                ),
                _ if step.action == Action::Same => continue,
                _ => format!("`{cause}` failed"),
            };
            self.emit(ExecEvent::Skipped {
                name: step.name.clone(),
                reason,
            });
            if self.skipped_set.insert(step.name.clone()) {
                self.skipped.push(step.name.clone());
            }
        }
    }
}

/// Executes `plan`. `spec` is the stack the plan was made from (`None` for
/// a destroy); `state` is the state the plan was made against.
pub async fn apply(
    plan: &Plan,
    spec: Option<&StackSpec>,
    state: &StackState,
    registry: &Registry,
    sink: &dyn StateSink,
    opts: &ExecOptions,
) -> ApplyReport {
    let next_op = AtomicU64::new(opts.first_op_id.max(1));
    let (moved, move_failures) = move_renamed(plan, state, sink, &next_op).await;
    let state = moved.as_ref().unwrap_or(state);
    let ops = build_ops(plan, state);
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); ops.len()];
    for (id, op) in ops.iter().enumerate() {
        for d in &op.deps {
            dependents[*d].push(id);
        }
    }
    let remaining: Vec<usize> = ops.iter().map(|o| o.deps.len()).collect();
    let ready = remaining
        .iter()
        .enumerate()
        .filter(|(_, r)| **r == 0)
        .map(|(i, _)| Reverse(i))
        .collect();
    let n = ops.len();
    let mut s = Sched {
        plan,
        spec_res: spec.map(spec_index).unwrap_or_default(),
        registry,
        opts,
        ops,
        dependents,
        remaining,
        status: vec![Status::Pending; n],
        ready,
        current: state.clone(),
        succeeded: Vec::new(),
        failed: Vec::new(),
        skipped: Vec::new(),
        pre_ops: HashMap::new(),
        skipped_set: HashSet::new(),
        late_updates: HashSet::new(),
        rewritten: HashSet::new(),
    };
    s.failed.extend(move_failures);
    let shared = Shared { sink, next_op };
    let parallel = opts.parallel.max(1);
    let mut inflight: FuturesUnordered<BoxFuture<'_, (usize, OpDone)>> = FuturesUnordered::new();
    let mut interrupted = false;
    loop {
        interrupted = interrupted || opts.cancelled();
        while inflight.len() < parallel && !interrupted {
            let Some(Reverse(op)) = s.ready.pop() else {
                break;
            };
            if s.status[op] != Status::Pending {
                continue;
            }
            s.status[op] = Status::Running;
            let step = s.step(op);
            if step.action != Action::Same && s.ops[op].kind != OpKind::DeleteOld {
                s.emit(ExecEvent::Started {
                    name: step.name.clone(),
                    action: step.action,
                });
            }
            match s.prepare(op) {
                Prepared::Done(done) => s.complete(op, done),
                Prepared::Run(launch) => {
                    let shared = &shared;
                    inflight.push(Box::pin(async move { (op, run(shared, *launch).await) }));
                }
            }
        }
        match inflight.next().await {
            Some((op, done)) => s.complete(op, done),
            None if s.ready.is_empty() || interrupted => break,
            None => {}
        }
    }
    // Interrupted: what is still pending was not started.
    let mut not_started = Vec::new();
    if interrupted {
        for op in 0..n {
            if s.status[op] == Status::Pending {
                s.status[op] = Status::Skipped;
                let step = s.step(op);
                if step.action != Action::Same && !not_started.contains(&step.name) {
                    not_started.push(step.name.clone());
                }
            }
        }
        interrupted = !not_started.is_empty();
    }
    // Anything still pending could not be ordered (conflicting dependencies).
    for op in 0..n {
        if s.status[op] == Status::Pending {
            s.status[op] = Status::Skipped;
            let name = s.step(op).name.clone();
            s.emit(ExecEvent::Skipped {
                name: name.clone(),
                reason: "its dependencies could not be ordered".into(),
            });
            if s.skipped_set.insert(name.clone()) {
                s.skipped.push(name);
            }
        }
    }

    // Stack outputs.
    let new_outputs = match spec {
        Some(spec) => {
            let current = &s.current;
            let spec_res = &s.spec_res;
            let stack = &s.opts.stack;
            let lookup = |root: &str| known_target(stack, current, spec_res, root);
            let mut outs = Map::new();
            for (k, v) in &spec.outputs {
                let r = crate::plan::stack_output(resolve_value(v, &lookup));
                if !r.contains_unknown() {
                    outs.insert(k.clone(), r);
                } else if let Some(prev) = current.outputs.get(k) {
                    outs.insert(k.clone(), prev.clone());
                }
            }
            Some(outs)
        }
        None if !plan.partial => Some(Map::new()),
        None => None,
    };
    if let Some(outs) = new_outputs {
        match sink.set_outputs(&outs).await {
            Ok(()) => s.current.outputs = outs,
            Err(e) => s.failed.push(("(stack outputs)".into(), e.to_string())),
        }
    }
    ApplyReport {
        succeeded: s.succeeded,
        failed: s.failed,
        skipped: s.skipped,
        interrupted,
        not_started,
        state: s.current,
    }
}

/// Moves the records of renamed steps (`aliases`) to their new names in the
/// sink, before any provider call: the new record is written before the
/// old one is removed, so a crash between leaves both, which the next plan
/// recognizes (same id) and finishes. Dependencies naming an old name are
/// renamed too. Returns the moved state, if anything moved.
async fn move_renamed(
    plan: &Plan,
    state: &StackState,
    sink: &dyn StateSink,
    next_op: &AtomicU64,
) -> (Option<StackState>, Vec<(String, String)>) {
    let renames: HashMap<String, String> = plan
        .steps
        .iter()
        .filter(|s| s.action != Action::Delete)
        .filter_map(|s| Some((s.name.clone(), s.renamed_from.clone()?)))
        .filter(|(_, old)| state.resources.contains_key(old))
        .collect();
    if renames.is_empty() {
        return (None, Vec::new());
    }
    let moved = crate::plan::moved_state(state, &renames);
    let mut failed = Vec::new();
    let write = |name: String, rs: Option<ResourceState>| {
        let op_id = next_op.fetch_add(1, Ordering::Relaxed);
        let base = rs.as_ref().or_else(|| state.resources.get(&name));
        let intent = Intent {
            op_id,
            resource: name.clone(),
            type_token: base.map(|b| b.type_token.clone()).unwrap_or_default(),
            operation: Operation::Read,
            id: base.map(|b| b.id.clone()),
            inputs: Map::new(),
            dependencies: Vec::new(),
            external: false,
            create_token: None,
        };
        async move {
            sink.begin(&intent).await?;
            let outcome = match rs {
                Some(rs) => Outcome::Written(rs),
                None => Outcome::Removed,
            };
            sink.finish(op_id, &name, &outcome).await
        }
    };
    let mut order: Vec<(&String, &String)> = renames.iter().collect();
    order.sort();
    for (new, old) in order {
        let Some(rs) = moved.resources.get(new) else {
            continue;
        };
        if let Err(e) = write(new.clone(), Some(rs.clone())).await {
            failed.push((new.clone(), format!("moving `{old}` to `{new}`: {e}")));
            return (None, failed);
        }
        if let Err(e) = write(old.clone(), None).await {
            failed.push((new.clone(), format!("removing the record `{old}`: {e}")));
            return (None, failed);
        }
    }
    for (name, rs) in &moved.resources {
        let before = renames.get(name).map_or(name.as_str(), String::as_str);
        if state
            .resources
            .get(before)
            .is_some_and(|b| b.dependencies != rs.dependencies)
        {
            if let Err(e) = write(name.clone(), Some(rs.clone())).await {
                failed.push((name.clone(), format!("renaming its dependencies: {e}")));
            }
        }
    }
    (Some(moved), failed)
}

/// What a reference to `root` resolves against during apply.
fn known_target<'a>(
    stack: &str,
    current: &'a StackState,
    spec_res: &HashMap<&str, &'a ResourceSpec>,
    root: &str,
) -> RefTarget<'a> {
    match current.resources.get(root) {
        Some(rs) => RefTarget::Resource(Known {
            outputs: Some(&rs.outputs),
            inputs: Some(&rs.inputs),
            id: Some(rs.id.as_str()),
            secret_outputs: spec_res
                .get(root)
                .map_or(&[], |r| r.options.additional_secret_outputs.as_slice()),
            ..Known::new(stack, root)
        }),
        None if spec_res.contains_key(root) => RefTarget::Resource(Known::new(stack, root)),
        None => RefTarget::NotResource,
    }
}
