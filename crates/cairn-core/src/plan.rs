//! The planner: desired state (a [`StackSpec`]) against recorded state (a
//! [`StackState`]) gives a [`Plan`] of steps.
//!
//! Semantics, in short:
//! * New inputs are the spec's properties with `${res.output}` references
//!   resolved against outputs recorded in state when `res` is unchanged by
//!   the plan, `Value::Unknown` otherwise, then normalized by the schema
//!   (defaults, secret wrapping). A whole-string reference keeps the
//!   output's type; an interpolated string holding an unknown becomes
//!   unknown; anything built from a secret is secret.
//! * Diffs are property-level and recursive: maps are compared key by key;
//!   lists of equal length element by element, lists of different length
//!   as a whole (one change at the list's path). Secrets are compared as a
//!   whole and never descended into. An unknown new value is a change.
//! * A change forces replacement when a schema property on its path (or,
//!   for a change of a whole subtree, any property inside it) is
//!   `replace_on_change`, when the provider's `extra_replace_paths` names a
//!   prefix of it (asked only when no new input is unknown), or when the
//!   type token changed.
//! * A change of `protect`/`retainOnDelete` or of the dependencies
//!   (`dependsOn`, references) alone is an `Update` with no property
//!   changes: the executor writes state without calling the provider, so
//!   state keeps the graph that `destroy` orders deletions by.
//! * Steps come in topological order (dependencies first); deletes follow,
//!   in reverse dependency order.

use crate::diag::{Problem, Problems};
use crate::graph::DependencyGraph;
use crate::interp::{self, Part, RefFormat};
use crate::provider::{PendingOptions, Registry};
use crate::schema::{PropType, ResourceSchema};
use crate::spec::{ResourceSpec, StackSpec};
use crate::state::{ResourceState, StackState};
use crate::value::{Map, PathSegment, PropertyPath, Value};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;

/// `deletedWith` names no resource of the stack.
pub const DELETED_WITH_UNKNOWN_CODE: &str = "cairn::plan::deleted-with-unknown";
/// Two resources name the same former resource in `aliases`.
pub const ALIAS_CONFLICT_CODE: &str = "cairn::plan::alias-conflict";
/// A resource type with no registered provider.
pub const UNKNOWN_TYPE_CODE: &str = "cairn::plan::unknown-type";
/// Deleting a protected resource.
pub const PROTECTED_DELETE_CODE: &str = "cairn::plan::protected-delete";
/// Replacing a protected resource.
pub const PROTECTED_REPLACE_CODE: &str = "cairn::plan::protected-replace";
/// A protected resource left out of a destroy (warning).
pub const PROTECTED_CODE: &str = "cairn::plan::protected";
/// The plan covers only part of the stack (warning).
pub const PARTIAL_CODE: &str = "cairn::plan::partial";
/// A `--target`/`--exclude` name that is neither in the stack nor in state.
pub const UNKNOWN_TARGET_CODE: &str = "cairn::plan::unknown-target";
/// A targeted resource needs a dependency that does not exist yet.
pub const TARGET_DEPENDENCY_CODE: &str = "cairn::plan::target-dependency-missing";
/// A resource would be deleted while something left in place depends on it.
pub const DELETE_DEPENDENT_CODE: &str = "cairn::plan::delete-with-dependents";
/// A partial plan would replace a resource whose dependents it leaves alone.
pub const REPLACE_DEPENDENT_CODE: &str = "cairn::plan::replace-with-dependents";
/// Two resources with one name.
pub const DUPLICATE_NAME_CODE: &str = "cairn::plan::duplicate-name";
/// A step a provider still owes (a note; an update when it is due).
pub const PENDING_UPDATE_CODE: &str = "cairn::plan::pending-update";

/// What a step does to a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
    Same,
    Import,
}

impl Action {
    /// The lowercase name used in plan JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::Same => "same",
            Action::Import => "import",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one property changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Add,
    Remove,
    Modify,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Add => "add",
            ChangeKind::Remove => "remove",
            ChangeKind::Modify => "modify",
        }
    }
}

/// One changed property (at the deepest path where old and new differ).
#[derive(Clone, PartialEq)]
pub struct PropertyChange {
    pub path: PropertyPath,
    pub kind: ChangeKind,
    pub old: Option<Value>,
    pub new: Option<Value>,
    pub forces_replace: bool,
}

/// One resource's step in a plan.
#[derive(Clone, PartialEq)]
pub struct Step {
    pub name: String,
    pub type_token: String,
    pub action: Action,
    /// Property changes (empty for create, import and delete).
    pub changes: Vec<PropertyChange>,
    /// The changed paths that force replacement.
    pub replace_paths: Vec<PropertyPath>,
    /// For `Replace`: delete the old resource before creating the new one.
    pub delete_before_replace: bool,
    /// The recorded state, when there is one.
    pub old: Option<ResourceState>,
    /// Planned inputs (normalized; may hold unknowns); `None` for deletes.
    pub new_inputs: Option<Map>,
    /// Resources this one depends on (new dependencies; recorded ones for deletes).
    pub dependencies: Vec<String>,
    pub protect: bool,
    pub retain_on_delete: bool,
    pub import_id: Option<String>,
    /// Why an `Update` is planned although no input changed: a step the
    /// provider still owes ([`crate::provider::PendingUpdate`]).
    pub pending_update: Option<String>,
    /// The recorded name this resource is moved from (`aliases`): state
    /// only, no provider call.
    pub renamed_from: Option<String>,
    /// For a delete: the resource it goes with (`deletedWith`), also being
    /// deleted, so its own delete call is skipped.
    pub deleted_with: Option<String>,
    /// The resource it is grouped under (`parent`; the recorded one for a
    /// delete). A recorded parent that differs is a re-parent.
    pub parent: Option<String>,
}

impl Step {
    /// The recorded parent, when this step moves the resource from it to
    /// another (or to or from the stack root).
    pub fn reparented_from(&self) -> Option<Option<&str>> {
        let old = self.old.as_ref()?;
        (self.action != Action::Delete && old.parent != self.parent)
            .then_some(old.parent.as_deref())
    }
}

/// A plan for one stack.
#[derive(Clone, PartialEq)]
pub struct Plan {
    pub stack: String,
    /// Creates/updates/replaces/imports/sames in dependency order, then
    /// deletes in reverse dependency order.
    pub steps: Vec<Step>,
    /// Stack outputs, unknown where they depend on changing resources.
    pub outputs: Map,
    pub warnings: Vec<Problem>,
    /// Only part of the stack was planned (`--target`/`--exclude`).
    pub partial: bool,
    /// Changes found outside the engine (`preview --refresh`).
    pub drift: Vec<crate::drift::Drift>,
}

/// Step counts by action.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub same: usize,
    pub import: usize,
}

impl Summary {
    /// `+create ~update -delete ±replace`, e.g. `+3 ~1 -0 ±1`.
    pub fn line(&self) -> String {
        format!(
            "+{} ~{} -{} ±{}",
            self.create, self.update, self.delete, self.replace
        )
    }
}

/// Which resources to plan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Plan only these resources; their dependencies must already exist.
    pub targets: Vec<String>,
    /// Skip these resources and everything that depends on them.
    pub excludes: Vec<String>,
}

impl PlanOptions {
    fn is_partial(&self) -> bool {
        !self.targets.is_empty() || !self.excludes.is_empty()
    }
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for step in &self.steps {
            match step.action {
                Action::Create => s.create += 1,
                Action::Update => s.update += 1,
                Action::Replace => s.replace += 1,
                Action::Delete => s.delete += 1,
                Action::Same => s.same += 1,
                Action::Import => s.import += 1,
            }
        }
        s
    }

    /// True when any step does something (a rename moves the record).
    pub fn has_changes(&self) -> bool {
        self.steps.iter().any(|s| {
            s.action != Action::Same || s.renamed_from.is_some() || s.reparented_from().is_some()
        })
    }

    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// The stable, documented plan JSON (secrets masked, unknowns as the
    /// marker `{"unknown": true}`):
    ///
    /// ```text
    /// { "format_version": "2", "stack": "...",
    ///   "summary": {"create","update","replace","delete","same","import"},
    ///   "resource_changes": [ { "name", "type", "action", "replace_paths": ["a.b"],
    ///       "delete_before_replace": bool,
    ///       "changes": [ {"path","kind","before","after","forces_replace"} ],
    ///       "before": {...} | null, "after": {...} | null } ],
    ///   "outputs": {...}, "partial": bool }
    /// ```
    /// `before` is the recorded inputs, `after` the planned inputs.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        let masked_map = |m: &Map| plan_value_json(&Value::Map(m.clone()));
        let masked_opt =
            |v: &Option<Value>| v.as_ref().map_or(serde_json::Value::Null, plan_value_json);
        let changes: Vec<serde_json::Value> = self
            .steps
            .iter()
            .map(|s| {
                json!({
                    "name": s.name,
                    "type": s.type_token,
                    "action": s.action.as_str(),
                    "replace_paths": s.replace_paths.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "delete_before_replace": s.delete_before_replace,
                    "dependencies": s.dependencies,
                    "changes": s.changes.iter().map(|c| json!({
                        "path": c.path.to_string(),
                        "kind": c.kind.as_str(),
                        "before": masked_opt(&c.old),
                        "after": masked_opt(&c.new),
                        "forces_replace": c.forces_replace,
                    })).collect::<Vec<_>>(),
                    "before": s.old.as_ref().map_or(serde_json::Value::Null, |o| masked_map(&o.inputs)),
                    "after": s.new_inputs.as_ref().map_or(serde_json::Value::Null, masked_map),
                })
            })
            .zip(&self.steps)
            .map(|(mut j, s)| {
                if let Some(reason) = &s.pending_update {
                    j["pending_update"] = json!(reason);
                }
                if let Some(from) = &s.renamed_from {
                    j["renamed_from"] = json!(from);
                }
                if let Some(parent) = &s.parent {
                    j["parent"] = json!(parent);
                }
                if let Some(with) = &s.deleted_with {
                    j["deleted_with"] = json!(with);
                }
                j
            })
            .collect();
        json!({
            "format_version": "2",
            "stack": self.stack,
            "summary": self.summary(),
            "resource_changes": changes,
            "outputs": masked_map(&self.outputs),
            "partial": self.partial,
            "drift": crate::drift::to_json(&self.drift),
        })
    }
}

/// A value in the plan JSON: secrets masked, and an unknown the marker
/// `{"unknown": true}`, which no string a real value holds can equal.
fn plan_value_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Unknown => serde_json::json!({ "unknown": true }),
        Value::List(l) => J::Array(l.iter().map(plan_value_json).collect()),
        Value::Map(m) => J::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), plan_value_json(v)))
                .collect(),
        ),
        other => other.to_masked_json(),
    }
}

// ---------------------------------------------------------------------------
// Debug without secrets: `Value`'s derived Debug would print them.

pub(crate) struct MaskedMap<'a>(pub &'a Map);

impl fmt::Debug for MaskedMap<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Value::Map(self.0.clone()).to_masked_json())
    }
}

struct MaskedValue<'a>(Option<&'a Value>);

impl fmt::Debug for MaskedValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(v) => f.write_str(&v.display_masked()),
            None => f.write_str("None"),
        }
    }
}

pub(crate) struct MaskedState<'a>(pub &'a ResourceState);

impl fmt::Debug for MaskedState<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.0;
        f.debug_struct("ResourceState")
            .field("name", &r.name)
            .field("type_token", &r.type_token)
            .field("id", &r.id)
            .field("inputs", &MaskedMap(&r.inputs))
            .field("outputs", &MaskedMap(&r.outputs))
            .field("dependencies", &r.dependencies)
            .field("protect", &r.protect)
            .field("retain_on_delete", &r.retain_on_delete)
            .field("imported", &r.imported)
            .finish()
    }
}

impl fmt::Debug for PropertyChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PropertyChange")
            .field("path", &self.path.to_string())
            .field("kind", &self.kind)
            .field("old", &MaskedValue(self.old.as_ref()))
            .field("new", &MaskedValue(self.new.as_ref()))
            .field("forces_replace", &self.forces_replace)
            .finish()
    }
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Step");
        if let Some(from) = &self.renamed_from {
            d.field("renamed_from", from);
        }
        if let Some(parent) = &self.parent {
            d.field("parent", parent);
        }
        if let Some(with) = &self.deleted_with {
            d.field("deleted_with", with);
        }
        d.field("name", &self.name)
            .field("type_token", &self.type_token)
            .field("action", &self.action)
            .field("changes", &self.changes)
            .field(
                "replace_paths",
                &self
                    .replace_paths
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
            )
            .field("delete_before_replace", &self.delete_before_replace)
            .field("old", &self.old.as_ref().map(MaskedState))
            .field("new_inputs", &self.new_inputs.as_ref().map(MaskedMap))
            .field("dependencies", &self.dependencies)
            .field("protect", &self.protect)
            .field("retain_on_delete", &self.retain_on_delete)
            .field("import_id", &self.import_id)
            .field("pending_update", &self.pending_update)
            .finish()
    }
}

impl fmt::Debug for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plan")
            .field("stack", &self.stack)
            .field("steps", &self.steps)
            .field("outputs", &MaskedMap(&self.outputs))
            .field("warnings", &self.warnings)
            .field("partial", &self.partial)
            .finish()
    }
}

// ---------------------------------------------------------------------------
// Reference resolution (shared with the executor).

/// What a reference root stands for during resolution.
pub(crate) enum RefTarget<'a> {
    /// A resource, with what is known of it so far.
    Resource(Known<'a>),
    /// Not a resource: the `${...}` text is left as written.
    NotResource,
}

/// What is known of a resource while resolving references to it.
pub(crate) struct Known<'a> {
    /// Its outputs; `None` until it is created.
    pub outputs: Option<&'a Map>,
    /// Its (resolved) inputs, readable like outputs as in Pulumi.
    pub inputs: Option<&'a Map>,
    /// Its physical id; `None` until it is created.
    pub id: Option<&'a str>,
    /// `<stack>/<name>`: the URN its `cairn:urn` tag carries.
    pub urn: String,
    /// Its `additionalSecretOutputs`: read secret, inputs read like
    /// outputs included (as Pulumi's state holds every input as an output).
    pub secret_outputs: &'a [String],
}

impl<'a> Known<'a> {
    pub(crate) fn new(stack: &str, name: &str) -> Self {
        Known {
            outputs: None,
            inputs: None,
            id: None,
            urn: format!("{stack}/{name}"),
            secret_outputs: &[],
        }
    }

    /// The value `${name.path}` stands for: `id` (also `${name}` alone) and
    /// `urn`, else an output, else an input of that name.
    fn at(&self, path: &PropertyPath) -> Value {
        let v = self.at_plain(path);
        let secret =
            matches!(path.0.first(), Some(PathSegment::Key(k)) if self.secret_outputs.contains(k));
        if secret && !matches!(v, Value::Unknown | Value::Null) && !v.is_secret() {
            Value::secret(v)
        } else {
            v
        }
    }

    fn at_plain(&self, path: &PropertyPath) -> Value {
        let id = || match self.id {
            Some(id) => Value::String(id.to_string()),
            None => Value::Unknown,
        };
        let top = match path.0.first() {
            None => return id(),
            Some(PathSegment::Key(k)) => k.as_str(),
            Some(PathSegment::Index(_)) => return Value::Null,
        };
        match (top, self.outputs) {
            (_, Some(m)) if m.contains_key(top) => output_at(m, path),
            ("id", _) if path.0.len() == 1 => id(),
            ("urn", _) if path.0.len() == 1 => Value::String(self.urn.clone()),
            _ => match (self.inputs, self.outputs) {
                (Some(i), _) if i.contains_key(top) => output_at(i, path),
                (_, Some(_)) => Value::Null,
                (_, None) => Value::Unknown,
            },
        }
    }
}

/// A stack output as Pulumi exports it: one value, secret as a whole when
/// anything inside it is secret.
pub(crate) fn stack_output(v: Value) -> Value {
    if v.contains_secret() && !v.is_secret() {
        Value::secret(v.reveal())
    } else {
        v
    }
}

/// Resolves every `${res.output}` in a map of properties.
pub(crate) fn resolve_map<'a>(m: &Map, lookup: &dyn Fn(&str) -> RefTarget<'a>) -> Map {
    m.iter()
        .map(|(k, v)| (k.clone(), resolve_value(v, lookup)))
        .collect()
}

pub(crate) fn resolve_value<'a>(v: &Value, lookup: &dyn Fn(&str) -> RefTarget<'a>) -> Value {
    match v {
        Value::String(s) => resolve_str(s, lookup),
        Value::List(l) => Value::List(l.iter().map(|v| resolve_value(v, lookup)).collect()),
        Value::Map(m) => Value::Map(resolve_map(m, lookup)),
        Value::Secret(inner) => match resolve_value(inner, lookup) {
            Value::Unknown => Value::Unknown,
            other => Value::secret(other),
        },
        other => other.clone(),
    }
}

fn resolve_str<'a>(s: &str, lookup: &dyn Fn(&str) -> RefTarget<'a>) -> Value {
    if !s.contains('$') {
        return Value::String(s.to_string());
    }
    let Ok(parts) = interp::parse(s) else {
        return Value::String(s.to_string());
    };
    if let [Part::Ref {
        root,
        path,
        format: RefFormat::Text,
        ..
    }] = parts.as_slice()
    {
        return match lookup(root) {
            RefTarget::Resource(known) => known.at(path),
            RefTarget::NotResource => Value::String(s.to_string()),
        };
    }
    let mut out = String::with_capacity(s.len());
    let mut secret = false;
    for part in &parts {
        match part {
            Part::Literal(l) => out.push_str(l),
            Part::Ref {
                root,
                path,
                offset,
                len,
                format,
            } => match lookup(root) {
                RefTarget::NotResource => out.push_str(&s[*offset..*offset + *len]),
                RefTarget::Resource(known) => {
                    let v = known.at(path);
                    if v.contains_unknown() {
                        return Value::Unknown;
                    }
                    secret |= v.contains_secret();
                    if *format != RefFormat::Text {
                        // `fn::toJSON` over an output: JSON as Pulumi writes it.
                        let Ok(json) = crate::gojson::to_go_json(&v.reveal()) else {
                            return Value::Unknown;
                        };
                        match (format, v.reveal()) {
                            (RefFormat::JsonInString, Value::String(_)) => {
                                out.push_str(&json[1..json.len() - 1])
                            }
                            (RefFormat::JsonInString, _) => {
                                let text = crate::gojson::to_go_json(&Value::String(json))
                                    .unwrap_or_default();
                                out.push_str(
                                    text.get(1..text.len().saturating_sub(1)).unwrap_or(""),
                                )
                            }
                            _ => out.push_str(&json),
                        }
                        continue;
                    }
                    match v.reveal() {
                        Value::String(t) => out.push_str(&t),
                        Value::Null => {}
                        Value::Bool(b) => out.push_str(&b.to_string()),
                        Value::Int(i) => out.push_str(&i.to_string()),
                        Value::Float(f) => out.push_str(&f.to_string()),
                        other => out.push_str(&other.to_plain_json().to_string()),
                    }
                }
            },
        }
    }
    if secret {
        Value::secret(Value::String(out))
    } else {
        Value::String(out)
    }
}

/// The output at `path` (`Null` when absent); secret when any enclosing
/// value on the way is secret.
fn output_at(outputs: &Map, path: &PropertyPath) -> Value {
    let mut segments = path.0.iter();
    let mut current = match segments.next() {
        None => return Value::Map(outputs.clone()),
        Some(PathSegment::Key(k)) => match outputs.get(k) {
            Some(v) => v,
            None => return Value::Null,
        },
        Some(PathSegment::Index(_)) => return Value::Null,
    };
    let mut secret = false;
    for seg in segments {
        while let Value::Secret(inner) = current {
            secret = true;
            current = inner;
        }
        current = match (current, seg) {
            (Value::Map(m), PathSegment::Key(k)) => match m.get(k) {
                Some(v) => v,
                None => return Value::Null,
            },
            (Value::List(l), PathSegment::Index(i)) => match l.get(*i) {
                Some(v) => v,
                None => return Value::Null,
            },
            (Value::Unknown, _) => return Value::Unknown,
            _ => return Value::Null,
        };
    }
    if secret && !matches!(current, Value::Unknown) {
        Value::secret(current.clone())
    } else {
        current.clone()
    }
}

/// An option's property path (`tags`, `tags.env`, `tags["env"]`,
/// `ingress[0].description`), parsed like a reference's path.
pub fn option_property_path(text: &str) -> Option<PropertyPath> {
    let (root, path) = interp::whole_reference(&format!("${{{text}}}"))?;
    let mut segments = vec![PathSegment::Key(root)];
    segments.extend(path.0);
    Some(PropertyPath(segments))
}

fn value_at<'a>(m: &'a Map, path: &PropertyPath) -> Option<&'a Value> {
    let (Some(PathSegment::Key(top)), rest) = (path.0.first(), path.0.get(1..).unwrap_or(&[]))
    else {
        return None;
    };
    m.get(top)?.get_path(&PropertyPath(rest.to_vec()))
}

/// Sets (or, for `None`, removes) the value at `path` inside `m`; a missing
/// map on the way is created when there is a value to set.
fn set_at(m: &mut Map, path: &[PathSegment], v: Option<Value>) {
    let Some((PathSegment::Key(k), rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        match v {
            Some(v) => {
                m.insert(k.clone(), v);
            }
            None => {
                m.remove(k);
            }
        }
        return;
    }
    if v.is_some() && !m.contains_key(k) && matches!(rest.first(), Some(PathSegment::Key(_))) {
        m.insert(k.clone(), Value::Map(Map::new()));
    }
    match m.get_mut(k) {
        Some(Value::Map(inner)) => set_at(inner, rest, v),
        Some(Value::List(items)) => set_in_list(items, rest, v),
        _ => {}
    }
}

fn set_in_list(items: &mut [Value], path: &[PathSegment], v: Option<Value>) {
    let Some((PathSegment::Index(i), rest)) = path.split_first() else {
        return;
    };
    let Some(item) = items.get_mut(*i) else {
        return;
    };
    match (rest.is_empty(), item) {
        (true, item) => {
            if let Some(v) = v {
                *item = v;
            }
        }
        (false, Value::Map(inner)) => set_at(inner, rest, v),
        (false, Value::List(inner)) => set_in_list(inner, rest, v),
        _ => {}
    }
}

/// Applies `ignoreChanges`: ignored property paths keep their recorded value.
pub(crate) fn apply_ignore_changes(new: &mut Map, old: &Map, ignore: &[String]) {
    for p in ignore {
        match option_property_path(p) {
            Some(path) => set_at(new, &path.0, value_at(old, &path).cloned()),
            None => match old.get(p) {
                Some(v) => {
                    new.insert(p.clone(), v.clone());
                }
                None => {
                    new.remove(p);
                }
            },
        }
    }
}

/// The `replaceOnChanges` paths whose value differs between `old` and `new`.
fn replace_on_changes(
    r: &ResourceSpec,
    old: &Map,
    new: &Map,
    changes: &[PropertyChange],
) -> Vec<PropertyPath> {
    let mut out = Vec::new();
    for p in &r.options.replace_on_changes {
        if p == "*" {
            out.extend(changes.iter().map(|c| c.path.clone()));
        } else if let Some(path) = option_property_path(p) {
            if value_at(old, &path) != value_at(new, &path) {
                out.push(path);
            }
        }
    }
    out
}

pub(crate) fn reveal_map(m: &Map) -> Map {
    m.iter().map(|(k, v)| (k.clone(), v.reveal())).collect()
}

pub(crate) fn map_has_unknown(m: &Map) -> bool {
    m.values().any(Value::contains_unknown)
}

// ---------------------------------------------------------------------------
// Diff.

/// `inputs` with each absent property that has an `absent_means` set to it,
/// so that absent and that value compare equal.
pub(crate) fn with_absent_means(schema: &ResourceSchema, inputs: &Map) -> Map {
    let mut out = inputs.clone();
    for p in &schema.properties {
        if let Some(v) = &p.absent_means {
            out.entry(p.name.clone()).or_insert_with(|| v.clone());
        }
    }
    out
}

/// Keeps a recorded value the new inputs leave absent when absent means
/// the same (the state goes on saying where the object is).
fn carry_absent_means(schema: &ResourceSchema, old: &Map, new: &mut Map) {
    for p in &schema.properties {
        if let (Some(v), Some(recorded)) = (&p.absent_means, old.get(&p.name)) {
            if recorded == v && !new.contains_key(&p.name) {
                new.insert(p.name.clone(), recorded.clone());
            }
        }
    }
}

/// Property-level differences between recorded and new inputs, sorted by path.
pub fn diff_inputs(old: &Map, new: &Map) -> Vec<PropertyChange> {
    let mut out = Vec::new();
    diff_map(&PropertyPath::root(), old, new, &mut out);
    out
}

fn diff_map(prefix: &PropertyPath, old: &Map, new: &Map, out: &mut Vec<PropertyChange>) {
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for k in keys {
        let path = prefix.child(k.as_str());
        match (old.get(k), new.get(k)) {
            (Some(o), Some(n)) => diff_value(path, o, n, out),
            (Some(o), None) => out.push(change(path, ChangeKind::Remove, Some(o), None)),
            (None, Some(n)) => out.push(change(path, ChangeKind::Add, None, Some(n))),
            (None, None) => {}
        }
    }
}

fn diff_value(path: PropertyPath, old: &Value, new: &Value, out: &mut Vec<PropertyChange>) {
    if old == new && !new.contains_unknown() {
        return;
    }
    match (old, new) {
        (Value::Map(a), Value::Map(b)) => diff_map(&path, a, b, out),
        (Value::List(a), Value::List(b)) if a.len() == b.len() => {
            for (i, (o, n)) in a.iter().zip(b).enumerate() {
                diff_value(path.index(i), o, n, out);
            }
        }
        _ => out.push(change(path, ChangeKind::Modify, Some(old), Some(new))),
    }
}

fn change(
    path: PropertyPath,
    kind: ChangeKind,
    old: Option<&Value>,
    new: Option<&Value>,
) -> PropertyChange {
    PropertyChange {
        path,
        kind,
        old: old.cloned(),
        new: new.cloned(),
        forces_replace: false,
    }
}

/// Whether a change at `path` forces replacement under the schema: some
/// property on the path is `replace_on_change`, or the change covers a
/// whole subtree that contains such a property.
pub(crate) fn schema_forces_replace(schema: &ResourceSchema, path: &PropertyPath) -> bool {
    let mut segments = path.0.iter();
    let Some(PathSegment::Key(top)) = segments.next() else {
        return false;
    };
    let Some(prop) = schema.prop(top) else {
        return false;
    };
    if prop.replace_on_change {
        return true;
    }
    let mut ty = &prop.ty;
    for seg in segments {
        ty = match (ty, seg) {
            (PropType::Object { properties }, PathSegment::Key(k)) => {
                match properties.iter().find(|p| &p.name == k) {
                    Some(p) if p.replace_on_change => return true,
                    Some(p) => &p.ty,
                    None => return false,
                }
            }
            (PropType::Map { values }, PathSegment::Key(_)) => values,
            (PropType::List { items }, PathSegment::Index(_)) => items,
            _ => return false,
        };
    }
    type_has_replace(ty)
}

fn type_has_replace(ty: &PropType) -> bool {
    match ty {
        PropType::Object { properties } => properties
            .iter()
            .any(|p| p.replace_on_change || type_has_replace(&p.ty)),
        PropType::List { items } => type_has_replace(items),
        PropType::Map { values } => type_has_replace(values),
        _ => false,
    }
}

fn starts_with(path: &PropertyPath, prefix: &PropertyPath) -> bool {
    path.0.starts_with(&prefix.0)
}

// ---------------------------------------------------------------------------
// Planning.

/// Effective protection: the spec's flag, and imported resources stay
/// protected while the spec still carries their `import` option.
pub(crate) fn effective_protect(r: &ResourceSpec, old: Option<&ResourceState>) -> bool {
    r.options.protect || (r.options.import.is_some() && old.is_none_or(|o| o.imported))
}

pub(crate) fn same_deps(a: &[String], b: &[String]) -> bool {
    let a: BTreeSet<&String> = a.iter().collect();
    let b: BTreeSet<&String> = b.iter().collect();
    a == b
}

/// Plans `spec` against `state`, at the system clock's time.
pub fn plan(
    spec: &StackSpec,
    state: &StackState,
    registry: &Registry,
    opts: &PlanOptions,
) -> Result<Plan, Problems> {
    plan_with(spec, state, registry, opts, &PendingOptions::now())
}

/// [`plan`] with the time and the operator's wish to finish pending steps
/// now, for the providers' [`crate::provider::ResourceProvider::pending_update`].
pub fn plan_with(
    spec: &StackSpec,
    state: &StackState,
    registry: &Registry,
    opts: &PlanOptions,
    pending: &PendingOptions,
) -> Result<Plan, Problems> {
    let mut problems = Problems {
        file: spec.source.as_ref().map(|s| s.name.clone()),
        problems: Vec::new(),
    };
    let source = spec.source.as_ref();
    let graph = match DependencyGraph::build(spec) {
        Ok(g) => g,
        Err(p) => {
            problems.push(p);
            return Err(problems);
        }
    };
    if graph.len() != spec.resources.len() {
        let mut seen = HashSet::new();
        for r in &spec.resources {
            if !seen.insert(r.name.as_str()) {
                problems.push(
                    Problem::error(
                        DUPLICATE_NAME_CODE,
                        format!("two resources are named `{}`", r.name),
                    )
                    .at(
                        r.spans.get(&PropertyPath::root()).copied(),
                        "second one here",
                    )
                    .help("give every resource a unique name")
                    .in_source(source),
                );
            }
        }
        return Err(problems);
    }
    let n = spec.resources.len();

    for r in &spec.resources {
        let Some(with) = &r.options.deleted_with else {
            continue;
        };
        if !graph.contains(with) || *with == r.name {
            problems.push(
                Problem::error(
                    DELETED_WITH_UNKNOWN_CODE,
                    format!(
                        "`{}` is deleted with `{with}`, which is not another resource of the stack",
                        r.name
                    ),
                )
                .at(
                    r.span_of(
                        &PropertyPath::key(crate::validate::OPTIONS_KEY).child("deletedWith"),
                    ),
                    "not another resource",
                )
                .help("name another resource of this stack, e.g. `deletedWith: ${cluster}`")
                .in_source(source),
            );
        }
    }

    // `aliases`: recorded resources under a former name move to the new one.
    let (moved, renames) = resolve_aliases(spec, state, &mut problems);
    if problems.has_errors() {
        return Err(problems);
    }
    let state: &StackState = moved.as_ref().unwrap_or(state);

    // Which resources this plan considers.
    for name in opts.targets.iter().chain(&opts.excludes) {
        if !graph.contains(name) && !state.resources.contains_key(name) {
            problems.push(
                Problem::error(
                    UNKNOWN_TARGET_CODE,
                    format!("`{name}` is neither a resource of the stack nor in its state"),
                )
                .help("--target and --exclude take logical resource names"),
            );
        }
    }
    let orphans: Vec<&ResourceState> = state
        .resources
        .values()
        .filter(|r| !graph.contains(&r.name))
        // A `get:` resource the program still reads stays recorded.
        .filter(|r| !(r.external && spec.externals.iter().any(|e| e.name == r.name)))
        .collect();
    let state_graph = (!orphans.is_empty() || !opts.excludes.is_empty())
        .then(|| DependencyGraph::from_state(state));
    let excluded: HashSet<String> = if opts.excludes.is_empty() {
        HashSet::new()
    } else {
        let excludes = || opts.excludes.iter().map(String::as_str);
        let mut set: HashSet<String> = graph.with_dependents(excludes()).into_iter().collect();
        if let Some(sg) = &state_graph {
            set.extend(sg.with_dependents(excludes()));
        }
        for e in &opts.excludes {
            set.insert(e.clone());
        }
        set
    };
    let targets: HashSet<&str> = opts.targets.iter().map(String::as_str).collect();
    let selected =
        |name: &str| (targets.is_empty() || targets.contains(name)) && !excluded.contains(name);

    // Outputs known at plan time, by source index.
    let mut known: Vec<Option<Cow<'_, Map>>> = vec![None; n];
    // Inputs and ids known at plan time, for `${res.input}` and `${res.id}`.
    let mut known_inputs: Vec<Option<Cow<'_, Map>>> = vec![None; n];
    let mut known_ids: Vec<Option<&str>> = vec![None; n];
    let mut planned = vec![false; n];
    let mut steps: Vec<Step> = Vec::with_capacity(n + orphans.len());

    for i in graph.topo_indices() {
        let r = &spec.resources[i];
        let old = state.resources.get(&r.name);
        if !selected(&r.name) {
            known[i] = old.map(|o| Cow::Borrowed(&o.outputs));
            known_inputs[i] = old.map(|o| Cow::Borrowed(&o.inputs));
            known_ids[i] = old.map(|o| o.id.as_str());
            continue;
        }
        planned[i] = true;
        let deps: Vec<String> = graph
            .dependencies(&r.name)
            .into_iter()
            .map(str::to_string)
            .collect();
        for d in &deps {
            let j = graph.index_of(d).unwrap_or(i);
            if !planned[j] && !state.resources.contains_key(d) {
                problems.push(
                    Problem::error(
                        TARGET_DEPENDENCY_CODE,
                        format!("`{}` depends on `{d}`, which does not exist yet and is not part of this plan", r.name),
                    )
                    .at(r.spans.get(&PropertyPath::root()).copied(), "targeted here")
                    .help(format!("add --target {d}, or plan without --target/--exclude"))
                    .in_source(source),
                );
            }
        }
        let Some(provider) = registry.get(&r.type_token) else {
            problems.push(
                Problem::error(
                    UNKNOWN_TYPE_CODE,
                    format!("no provider for resource type `{}`", r.type_token),
                )
                .at(
                    r.spans.get(&PropertyPath::root()).copied(),
                    format!("`{}` is declared here", r.name),
                )
                .help("check the type token; `cairn schema` lists the known types")
                .in_source(source),
            );
            continue;
        };
        let schema = provider.schema();
        let resolved = {
            let lookup = |root: &str| match graph.index_of(root) {
                Some(j) => RefTarget::Resource(Known {
                    outputs: known[j].as_deref(),
                    inputs: known_inputs[j].as_deref(),
                    id: known_ids[j],
                    secret_outputs: &spec.resources[j].options.additional_secret_outputs,
                    ..Known::new(&spec.name, root)
                }),
                None => RefTarget::NotResource,
            };
            resolve_map(&r.properties, &lookup)
        };
        let mut new_inputs = schema.normalize_inputs(&resolved);
        let protect = effective_protect(r, old);
        let retain = r.options.retain_on_delete;

        let (mut action, changes, replace_paths) = match old {
            None if r.options.import.is_some() => (Action::Import, Vec::new(), Vec::new()),
            None => (Action::Create, Vec::new(), Vec::new()),
            Some(old) => {
                apply_ignore_changes(&mut new_inputs, &old.inputs, &r.options.ignore_changes);
                if old.imported {
                    // What an imported resource's spec leaves out stays unmanaged.
                    for (k, v) in &old.inputs {
                        new_inputs.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
                carry_absent_means(schema, &old.inputs, &mut new_inputs);
                let mut changes = diff_inputs(
                    &with_absent_means(schema, &old.inputs),
                    &with_absent_means(schema, &new_inputs),
                );
                let mut replace_paths: BTreeSet<PropertyPath> = BTreeSet::new();
                let type_changed = old.type_token != r.type_token;
                for c in &mut changes {
                    c.forces_replace = type_changed || schema_forces_replace(schema, &c.path);
                    if c.forces_replace && !type_changed {
                        replace_paths.insert(c.path.clone());
                    }
                }
                if !type_changed {
                    for p in replace_on_changes(r, &old.inputs, &new_inputs, &changes) {
                        for c in &mut changes {
                            if starts_with(&c.path, &p) || starts_with(&p, &c.path) {
                                c.forces_replace = true;
                            }
                        }
                        replace_paths.insert(p);
                    }
                }
                if !changes.is_empty() && !type_changed && !map_has_unknown(&new_inputs) {
                    let extra = provider
                        .extra_replace_paths(&reveal_map(&old.inputs), &reveal_map(&new_inputs));
                    for p in extra {
                        for c in &mut changes {
                            if starts_with(&c.path, &p) || starts_with(&p, &c.path) {
                                c.forces_replace = true;
                            }
                        }
                        replace_paths.insert(p);
                    }
                }
                // Pulumi's URN carries the parent: a new parent is a new
                // resource (create, then delete the old) unless an alias
                // names the recorded parent.
                if old.parent != r.options.parent && !r.options.parent_aliases.contains(&old.parent)
                {
                    let path = PropertyPath::key("options").child("parent");
                    changes.push(PropertyChange {
                        path: path.clone(),
                        kind: ChangeKind::Modify,
                        old: Some(Value::from(old.parent.as_deref().unwrap_or("(none)"))),
                        new: Some(Value::from(r.options.parent.as_deref().unwrap_or("(none)"))),
                        forces_replace: true,
                    });
                    replace_paths.insert(path);
                }
                // The parent's dependency moves with the parent.
                let without = |d: &[String], p: &Option<String>| -> Vec<String> {
                    d.iter()
                        .filter(|x| Some(*x) != p.as_ref())
                        .cloned()
                        .collect()
                };
                let action = if type_changed || !replace_paths.is_empty() {
                    Action::Replace
                } else if !changes.is_empty()
                    || old.protect != protect
                    || old.retain_on_delete != retain
                    || !same_deps(
                        &without(&old.dependencies, &old.parent),
                        &without(&deps, &r.options.parent),
                    )
                {
                    Action::Update
                } else {
                    Action::Same
                };
                (action, changes, replace_paths.into_iter().collect())
            }
        };
        // Provider rules on the change itself, and steps it still owes.
        let mut pending_update = None;
        if let (Some(old), false) = (old, old.is_some_and(|o| o.type_token != r.type_token)) {
            let (old_in, new_in) = (reveal_map(&old.inputs), reveal_map(&new_inputs));
            for f in provider.check_change(&old_in, &new_in) {
                let base = if f.warning {
                    Problem::warning(&f.rule, format!("{}: {}", r.name, f.message))
                } else {
                    Problem::error(&f.rule, format!("{}: {}", r.name, f.message))
                };
                let mut p = base
                    .at(
                        r.span_of(&f.path)
                            .or_else(|| r.spans.get(&PropertyPath::root()).copied()),
                        "this change",
                    )
                    .in_source(source);
                if let Some(h) = f.help {
                    p = p.help(h);
                }
                problems.push(p);
            }
            if matches!(action, Action::Same | Action::Update) {
                if let Some(p) = provider.pending_update(&old_in, &new_in, &old.outputs, pending) {
                    problems.push(Problem::warning(
                        PENDING_UPDATE_CODE,
                        format!("{}: {}", r.name, p.reason),
                    ));
                    if p.due {
                        action = Action::Update;
                        pending_update = Some(p.reason);
                    }
                }
            }
        }
        if action == Action::Replace && protect {
            let paths: Vec<String> = replace_paths.iter().map(ToString::to_string).collect();
            let why = if paths.is_empty() {
                "its type changed".to_string()
            } else {
                format!("{} changed", paths.join(", "))
            };
            problems.push(
                Problem::error(
                    PROTECTED_REPLACE_CODE,
                    format!("`{}` is protected but would be replaced ({why})", r.name),
                )
                .at(
                    replace_paths
                        .first()
                        .and_then(|p| r.span_of(p))
                        .or_else(|| r.spans.get(&PropertyPath::root()).copied()),
                    "this change replaces the resource",
                )
                .help("revert the change, or set options.protect: false first")
                .in_source(source),
            );
        }
        if action == Action::Same || (action == Action::Update && changes.is_empty()) {
            known[i] = old.map(|o| Cow::Borrowed(&o.outputs));
        } else if let (Action::Update, Some(old)) = (action, old) {
            // An in-place update keeps the physical resource: its outputs stay,
            // except those named like a changed input, which take the new value.
            // A wrong guess is caught at apply: a dependent planned `Same`
            // whose references then resolve differently is updated in the same
            // run (`exec`, `late_update`).
            let changed: BTreeSet<&str> = changes.iter().filter_map(|c| c.path.top()).collect();
            let outputs = old
                .outputs
                .iter()
                .map(|(k, v)| {
                    let v = if !changed.contains(k.as_str()) {
                        v.clone()
                    } else {
                        match new_inputs.get(k) {
                            Some(nv) if !nv.contains_unknown() => nv.clone(),
                            _ => Value::Unknown,
                        }
                    };
                    (k.clone(), v)
                })
                .collect();
            known[i] = Some(Cow::Owned(outputs));
        }
        if matches!(action, Action::Same | Action::Update | Action::Import) {
            known_ids[i] = old.map(|o| o.id.as_str()).or(r.options.import.as_deref());
        }
        known_inputs[i] = Some(Cow::Owned(new_inputs.clone()));
        let provider_schema_dbr = schema.fixed_physical_name;
        steps.push(Step {
            name: r.name.clone(),
            type_token: r.type_token.clone(),
            action,
            changes,
            replace_paths,
            delete_before_replace: action == Action::Replace
                && (r.options.delete_before_replace || provider_schema_dbr),
            old: old.cloned(),
            new_inputs: Some(new_inputs),
            dependencies: deps,
            protect: if action == Action::Import {
                true
            } else {
                protect
            },
            retain_on_delete: retain,
            import_id: r.options.import.clone(),
            pending_update,
            renamed_from: renames.get(&r.name).cloned(),
            deleted_with: None,
            parent: r.options.parent.clone(),
        });
    }

    // Deletes: in state, not in the stack; dependents first.
    if let Some(sg) = &state_graph {
        let deleting: HashSet<&str> = orphans
            .iter()
            .map(|o| o.name.as_str())
            .filter(|name| selected(name))
            .collect();
        let planned_spec: HashSet<String> = steps.iter().map(|s| s.name.clone()).collect();
        let mut order = sg.topo_order();
        order.reverse();
        for name in order {
            if !deleting.contains(name) {
                continue;
            }
            let Some(old) = state.resources.get(name) else {
                continue;
            };
            if old.protect {
                problems.push(
                    Problem::error(
                        PROTECTED_DELETE_CODE,
                        format!("`{name}` is protected but is no longer in the stack, so it would be deleted"),
                    )
                    .help("set options.protect: false first (keep the resource in the stack with protect: false and apply, then remove it)"),
                );
            }
            for dependent in sg.dependents(name) {
                if !deleting.contains(dependent) && !planned_spec.contains(dependent) {
                    problems.push(
                        Problem::error(
                            DELETE_DEPENDENT_CODE,
                            format!("`{name}` would be deleted while `{dependent}`, which is not part of this plan, still depends on it"),
                        )
                        .help(format!("add --target {dependent}, or plan without --target/--exclude")),
                    );
                }
            }
            steps.push(Step {
                name: name.to_string(),
                type_token: old.type_token.clone(),
                action: Action::Delete,
                changes: Vec::new(),
                replace_paths: Vec::new(),
                delete_before_replace: false,
                old: Some(old.clone()),
                new_inputs: None,
                dependencies: old.dependencies.clone(),
                protect: old.protect,
                retain_on_delete: old.retain_on_delete,
                import_id: None,
                pending_update: None,
                renamed_from: None,
                parent: old.parent.clone(),
                // Recorded `deletedWith`: the program no longer says it.
                deleted_with: old
                    .deleted_with
                    .clone()
                    .filter(|w| deleting.contains(w.as_str())),
            });
        }
    }

    // A partial plan must not replace what unplanned resources still use:
    // they would be left pointing at the deleted copy.
    if opts.is_partial() {
        let in_plan: HashSet<&str> = steps.iter().map(|s| s.name.as_str()).collect();
        let mut users: HashMap<&str, BTreeSet<&str>> = HashMap::new();
        for r in state.resources.values() {
            for d in &r.dependencies {
                users.entry(d).or_default().insert(&r.name);
            }
        }
        for s in steps.iter().filter(|s| s.action == Action::Replace) {
            let mut left: BTreeSet<&str> = graph.dependents(&s.name).into_iter().collect();
            left.extend(users.get(s.name.as_str()).into_iter().flatten());
            left.retain(|d| !in_plan.contains(d));
            if !left.is_empty() {
                let list: Vec<String> = left.iter().map(|d| format!("`{d}`")).collect();
                let span = spec
                    .resource(&s.name)
                    .and_then(|r| r.spans.get(&PropertyPath::root()).copied());
                problems.push(
                    Problem::error(
                        REPLACE_DEPENDENT_CODE,
                        format!(
                            "`{}` would be replaced, but {} depend on it and are not part of this plan",
                            s.name,
                            list.join(", ")
                        ),
                    )
                    .at(span, "replaced here")
                    .help(format!(
                        "add {}, or plan without --target/--exclude",
                        left.iter()
                            .map(|d| format!("--target {d}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ))
                    .in_source(source),
                );
            }
        }
    }

    let outputs = {
        let lookup = |root: &str| match graph.index_of(root) {
            Some(j) => RefTarget::Resource(Known {
                outputs: known[j].as_deref(),
                inputs: known_inputs[j].as_deref(),
                id: known_ids[j],
                secret_outputs: &spec.resources[j].options.additional_secret_outputs,
                ..Known::new(&spec.name, root)
            }),
            None => RefTarget::NotResource,
        };
        resolve_map(&spec.outputs, &lookup)
            .into_iter()
            .map(|(k, v)| (k, stack_output(v)))
            .collect()
    };

    let partial = opts.is_partial();
    if partial {
        let considered = planned.iter().filter(|p| **p).count();
        problems.push(
            Problem::warning(
                PARTIAL_CODE,
                format!(
                    "the plan is partial: {considered} of {n} resources are considered (--target/--exclude); the rest keep their recorded state"
                ),
            )
            .help("run without --target/--exclude to bring the whole stack up to date"),
        );
    }
    if problems.has_errors() {
        return Err(problems);
    }
    Ok(Plan {
        stack: spec.name.clone(),
        steps,
        outputs,
        warnings: problems.problems,
        partial,
        drift: Vec::new(),
    })
}

/// Resolves `aliases`: a spec resource not in state whose alias names a
/// recorded resource (of the alias's type, when given) that no spec
/// resource is called takes that record, renamed. A record left under the
/// old name beside an identical new one (a move cut short) is dropped.
/// Returns the moved state (when anything moved) and new name -> old name.
fn resolve_aliases(
    spec: &StackSpec,
    state: &StackState,
    problems: &mut Problems,
) -> (Option<StackState>, HashMap<String, String>) {
    let mut renames: HashMap<String, String> = HashMap::new();
    let mut claimed: HashMap<&str, &str> = HashMap::new();
    let in_spec: HashSet<&str> = spec.resources.iter().map(|r| r.name.as_str()).collect();
    let source = spec.source.as_ref();
    for r in &spec.resources {
        for a in &r.options.aliases {
            if a.name == r.name || in_spec.contains(a.name.as_str()) {
                continue;
            }
            if let Some(first) = claimed.get(a.name.as_str()) {
                problems.push(
                    Problem::error(
                        ALIAS_CONFLICT_CODE,
                        format!(
                            "`{}` and `{first}` both alias `{}`; one recorded resource cannot become two",
                            r.name, a.name
                        ),
                    )
                    .at(
                        r.span_of(
                            &PropertyPath::key(crate::validate::OPTIONS_KEY).child("aliases"),
                        ),
                        "second alias here",
                    )
                    .help(format!("keep `{}` in the aliases of one resource only", a.name))
                    .in_source(source),
                );
                continue;
            }
            claimed.insert(&a.name, &r.name);
            let Some(old) = state.resources.get(&a.name) else {
                continue;
            };
            if a.type_token.as_ref().is_some_and(|t| *t != old.type_token) {
                continue;
            }
            let leftover = state
                .resources
                .get(&r.name)
                .is_some_and(|cur| cur.id == old.id && cur.type_token == old.type_token);
            if (!state.resources.contains_key(&r.name) || leftover)
                && !renames.contains_key(&r.name)
            {
                renames.insert(r.name.clone(), a.name.clone());
            }
        }
    }
    if renames.is_empty() {
        return (None, renames);
    }
    (Some(moved_state(state, &renames)), renames)
}

/// `state` with each `old` record moved to `new` (`renames`: new -> old),
/// and the dependencies naming the old names renamed.
pub(crate) fn moved_state(state: &StackState, renames: &HashMap<String, String>) -> StackState {
    let back: HashMap<&str, &str> = renames
        .iter()
        .map(|(new, old)| (old.as_str(), new.as_str()))
        .collect();
    let mut out = state.clone();
    for (new, old) in renames {
        if let Some(mut rs) = out.resources.remove(old) {
            if !out.resources.contains_key(new) {
                rs.name = new.clone();
                out.resources.insert(new.clone(), rs);
            }
        }
    }
    for rs in out.resources.values_mut() {
        for d in &mut rs.dependencies {
            if let Some(new) = back.get(d.as_str()) {
                *d = new.to_string();
            }
        }
    }
    out
}

/// Applies the program's `deletedWith` options to a destroy plan: a delete
/// whose resource is deleted with another that this plan also deletes
/// skips its own delete call (the record is dropped).
pub fn apply_deleted_with(plan: &mut Plan, spec: &StackSpec) {
    let deleting: HashSet<String> = plan
        .steps
        .iter()
        .filter(|s| s.action == Action::Delete)
        .map(|s| s.name.clone())
        .collect();
    for step in plan.steps.iter_mut().filter(|s| s.action == Action::Delete) {
        // The program's `deletedWith`, else the one recorded.
        let with = spec
            .resource(&step.name)
            .and_then(|r| r.options.deleted_with.clone())
            .or_else(|| step.old.as_ref().and_then(|o| o.deleted_with.clone()));
        if let Some(with) = with.filter(|w| deleting.contains(w)) {
            step.deleted_with = Some(with);
        }
    }
}

/// Plans the deletion of everything in `state`, dependents first.
///
/// Protected resources (and whatever they depend on) are left out with a
/// warning. `--target X` also destroys what depends on X; `--exclude X`
/// keeps X and what it depends on. `retain_on_delete` resources are
/// removed from state without a provider delete (by the executor).
pub fn plan_destroy(state: &StackState, opts: &PlanOptions) -> Plan {
    let g = DependencyGraph::from_state(state);
    let mut warnings = Vec::new();
    for name in opts.targets.iter().chain(&opts.excludes) {
        if !state.resources.contains_key(name) {
            warnings.push(Problem::warning(
                UNKNOWN_TARGET_CODE,
                format!("`{name}` is not in the stack's state; ignored"),
            ));
        }
    }
    let mut selected: BTreeSet<String> = if opts.targets.is_empty() {
        state.resources.keys().cloned().collect()
    } else {
        let with = g.with_dependents(opts.targets.iter().map(String::as_str));
        let extra: Vec<&String> = with.iter().filter(|n| !opts.targets.contains(n)).collect();
        if !extra.is_empty() {
            warnings.push(Problem::warning(
                PARTIAL_CODE,
                format!(
                    "also destroying {} because they depend on the targets",
                    extra
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        with
    };
    let mut kept: BTreeSet<String> = g.with_dependencies(opts.excludes.iter().map(String::as_str));
    for r in state.resources.values() {
        if r.protect && selected.contains(&r.name) {
            let keep = g.with_dependencies([r.name.as_str()]);
            let also: Vec<String> = keep
                .iter()
                .filter(|n| **n != r.name && selected.contains(*n) && !kept.contains(*n))
                .map(|n| format!("`{n}`"))
                .collect();
            let mut message = format!("`{}` is protected and will not be destroyed", r.name);
            if !also.is_empty() {
                message.push_str(&format!(
                    "; {} also stay because it depends on them",
                    also.join(", ")
                ));
            }
            warnings.push(
                Problem::warning(PROTECTED_CODE, message)
                    .help("set options.protect: false and apply, then destroy"),
            );
            kept.extend(keep);
        }
    }
    selected.retain(|n| !kept.contains(n));
    let mut order = g.topo_order();
    order.reverse();
    let steps: Vec<Step> = order
        .into_iter()
        .filter(|n| selected.contains(*n))
        .filter_map(|n| state.resources.get(n))
        .map(|old| Step {
            name: old.name.clone(),
            type_token: old.type_token.clone(),
            action: Action::Delete,
            changes: Vec::new(),
            replace_paths: Vec::new(),
            delete_before_replace: false,
            old: Some(old.clone()),
            new_inputs: None,
            dependencies: old.dependencies.clone(),
            protect: old.protect,
            retain_on_delete: old.retain_on_delete,
            import_id: None,
            pending_update: None,
            renamed_from: None,
            deleted_with: None,
            parent: old.parent.clone(),
        })
        .collect();
    let partial = opts.is_partial();
    if partial {
        warnings.push(
            Problem::warning(
                PARTIAL_CODE,
                format!(
                    "the destroy is partial: {} of {} resources (--target/--exclude)",
                    steps.len(),
                    state.resources.len()
                ),
            )
            .help("run without --target/--exclude to destroy the whole stack"),
        );
    }
    Plan {
        stack: String::new(),
        steps,
        outputs: Map::new(),
        warnings,
        partial,
        drift: Vec::new(),
    }
}

/// Source-order index of resources by name.
pub(crate) fn spec_index(spec: &StackSpec) -> HashMap<&str, &ResourceSpec> {
    spec.resources
        .iter()
        .map(|r| (r.name.as_str(), r))
        .collect()
}

#[cfg(test)]
mod json_reference_tests {
    use super::*;

    #[test]
    fn json_references_write_the_output_as_json_and_text_references_as_text() {
        let outputs = Value::from_json(&serde_json::json!({
            "port": 5432, "name": "say \"hi\"", "list": ["a", "b"]
        }));
        let Value::Map(outputs) = outputs else {
            unreachable!()
        };
        let lookup = |root: &str| {
            if root == "db" {
                let mut k = Known::new("s", "db");
                k.outputs = Some(&outputs);
                RefTarget::Resource(k)
            } else {
                RefTarget::NotResource
            }
        };
        let resolved = |s: &str| resolve_str(s, &lookup);
        assert_eq!(
            resolved(r#"{"p":${@json:db.port},"n":${@json:db.name},"l":${@json:db.list}}"#),
            Value::from(r#"{"p":5432,"n":"say \"hi\"","l":["a","b"]}"#)
        );
        assert_eq!(
            resolved(r#""x ${@jsonstr:db.name} ${@jsonstr:db.port}""#),
            Value::from(r#""x say \"hi\" 5432""#)
        );
        // One JSON reference alone is JSON text, not the output's value.
        assert_eq!(resolved("${@json:db.port}"), Value::from("5432"));
        assert_eq!(resolved("${db.port}"), Value::Int(5432));
        assert_eq!(resolved("${db.name}!"), Value::from("say \"hi\"!"));
    }
}
