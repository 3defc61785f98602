//! The Terraform state reader: format version 4 (Terraform 0.12 and later).
//!
//! Managed resources only; data sources are listed as skipped. Every
//! instance of `count` (integer `index_key`) and `for_each` (string
//! `index_key`) in every module becomes one [`TfInstance`]. Tainted and
//! deposed instances are refused. `sensitive_attributes` paths are kept so
//! the values there are treated as secrets. No input panics: anything that
//! is not the expected shape is an [`ImportError`].

use crate::error::ImportError;
use crate::redact;
use miette::{NamedSource, SourceSpan};
use serde_json::Value as Json;
use std::fmt;
use std::sync::Arc;

/// An instance key: `count` gives integers, `for_each` strings.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum IndexKey {
    Int(i64),
    Str(String),
}

impl fmt::Display for IndexKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IndexKey::Int(i) => write!(f, "[{i}]"),
            IndexKey::Str(s) => write!(
                f,
                "[{}]",
                serde_json::to_string(s).unwrap_or_else(|_| "\"?\"".into())
            ),
        }
    }
}

/// One step of an attribute path (`sensitive_attributes`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathStep {
    Attr(String),
    Index(IndexKey),
}

/// One managed resource instance.
#[derive(Clone, Debug, PartialEq)]
pub struct TfInstance {
    /// `module.network.aws_subnet.database[0]`
    pub address: String,
    /// The module path as Terraform writes it (`module.network`), empty at the root.
    pub module: String,
    pub tf_type: String,
    pub name: String,
    pub index: Option<IndexKey>,
    pub attributes: serde_json::Map<String, Json>,
    /// Paths whose values are sensitive.
    pub sensitive: Vec<Vec<PathStep>>,
}

impl TfInstance {
    /// The module call names from the outside in (`["network", "x"]`),
    /// each with its instance key if any (`net["a"]` gives `net`, `a`).
    pub fn module_parts(&self) -> Vec<String> {
        module_parts(&self.module)
    }

    /// True when the top-level attribute `attr`, or anything inside it, is sensitive.
    pub fn is_sensitive(&self, attr: &str) -> bool {
        self.sensitive
            .iter()
            .any(|p| matches!(p.first(), Some(PathStep::Attr(a)) if a == attr))
    }
}

/// What a state file holds, as far as import is concerned.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TfState {
    pub terraform_version: Option<String>,
    pub instances: Vec<TfInstance>,
    /// Data sources (`data.aws_ami.x`), skipped.
    pub skipped_data: Vec<String>,
    /// The root module's outputs, in name order.
    pub outputs: Vec<TfOutput>,
}

/// A root module output.
#[derive(Clone, Debug, PartialEq)]
pub struct TfOutput {
    pub name: String,
    pub value: Json,
    pub sensitive: bool,
}

fn module_parts(module: &str) -> Vec<String> {
    let mut out = Vec::new();
    for seg in module.split("module.").filter(|s| !s.is_empty()) {
        let seg = seg.trim_end_matches('.');
        match seg.split_once('[') {
            Some((name, key)) => {
                out.push(name.to_string());
                let key = key.trim_end_matches(']').trim_matches('"');
                if !key.is_empty() {
                    out.push(key.to_string());
                }
            }
            None => out.push(seg.to_string()),
        }
    }
    out
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn src(&self) -> Arc<NamedSource<String>> {
        Arc::new(NamedSource::new(self.file, redact::mask_values(self.text)))
    }
    fn shape(&self, message: impl Into<String>, at: Option<SourceSpan>) -> ImportError {
        ImportError::Shape {
            file: self.file.to_string(),
            message: message.into(),
            src: self.src(),
            at,
        }
    }
}

/// Reads a state file's text. `file` names it in diagnostics.
pub fn parse(file: &str, text: &str) -> Result<TfState, ImportError> {
    let cx = Ctx { file, text };
    let root: Json = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let at = offset_of(text, e.line(), e.column());
            return Err(ImportError::Syntax {
                file: file.to_string(),
                message: e.to_string(),
                src: cx.src(),
                at: SourceSpan::from((at, 0)),
            });
        }
    };
    let Some(root) = root.as_object() else {
        return Err(cx.shape("the top level is not a JSON object", None));
    };
    let version_at = redact::find_key(text, "version", 0);
    match root.get("version") {
        Some(Json::Number(n)) if n.as_u64() == Some(4) => {}
        Some(other) => {
            return Err(ImportError::Version {
                file: file.to_string(),
                found: other.to_string(),
                src: cx.src(),
                at: version_at,
            })
        }
        None => return Err(cx.shape("there is no `version`", None)),
    }
    let mut state = TfState {
        terraform_version: root
            .get("terraform_version")
            .and_then(Json::as_str)
            .map(str::to_string),
        ..TfState::default()
    };
    if let Some(Json::Object(outputs)) = root.get("outputs") {
        for (name, o) in outputs {
            let Some(value) = o.get("value") else {
                continue;
            };
            state.outputs.push(TfOutput {
                name: name.clone(),
                value: value.clone(),
                sensitive: o.get("sensitive").and_then(Json::as_bool) == Some(true),
            });
        }
    }
    let resources = match root.get("resources") {
        None | Some(Json::Null) => return Ok(state),
        Some(Json::Array(r)) => r,
        Some(_) => return Err(cx.shape("`resources` is not a list", None)),
    };
    let mut tainted = Vec::new();
    let mut deposed = Vec::new();
    for (ri, res) in resources.iter().enumerate() {
        let Some(res) = res.as_object() else {
            return Err(cx.shape(format!("resources[{ri}] is not an object"), None));
        };
        let field = |k: &str| -> Result<String, ImportError> {
            match res.get(k) {
                Some(Json::String(s)) if !s.is_empty() => Ok(s.clone()),
                _ => Err(cx.shape(
                    format!("resources[{ri}] has no `{k}` (a non-empty string)"),
                    None,
                )),
            }
        };
        let mode = field("mode")?;
        let tf_type = field("type")?;
        let name = field("name")?;
        let module = match res.get("module") {
            None | Some(Json::Null) => String::new(),
            Some(Json::String(m)) => m.clone(),
            Some(_) => {
                return Err(cx.shape(format!("resources[{ri}] `module` is not a string"), None))
            }
        };
        let prefix = if module.is_empty() {
            String::new()
        } else {
            format!("{module}.")
        };
        match mode.as_str() {
            "data" => {
                state
                    .skipped_data
                    .push(format!("{prefix}data.{tf_type}.{name}"));
                continue;
            }
            "managed" => {}
            other => {
                return Err(cx.shape(
                    format!(
                        "{prefix}{tf_type}.{name} has mode `{other}`; expected `managed` or `data`"
                    ),
                    None,
                ))
            }
        }
        let instances = match res.get("instances") {
            None | Some(Json::Null) => continue,
            Some(Json::Array(i)) => i,
            Some(_) => {
                return Err(cx.shape(
                    format!("{prefix}{tf_type}.{name}: `instances` is not a list"),
                    None,
                ))
            }
        };
        for (ii, inst) in instances.iter().enumerate() {
            let base = format!("{prefix}{tf_type}.{name}");
            let Some(inst) = inst.as_object() else {
                return Err(cx.shape(format!("{base}: instances[{ii}] is not an object"), None));
            };
            let index = match inst.get("index_key") {
                None | Some(Json::Null) => None,
                Some(Json::Number(n)) => match n.as_i64() {
                    Some(i) => Some(IndexKey::Int(i)),
                    None => {
                        return Err(
                            cx.shape(format!("{base}: index_key {n} is not an integer"), None)
                        )
                    }
                },
                Some(Json::String(s)) => Some(IndexKey::Str(s.clone())),
                Some(_) => {
                    return Err(cx.shape(
                        format!("{base}: index_key is neither a number nor a string"),
                        None,
                    ))
                }
            };
            let address = match &index {
                Some(k) => format!("{base}{k}"),
                None => base.clone(),
            };
            if inst.get("status").and_then(Json::as_str) == Some("tainted") {
                tainted.push(address.clone());
            }
            if let Some(d) = inst.get("deposed").and_then(Json::as_str) {
                if !d.is_empty() {
                    deposed.push(format!("{address} (deposed object {d})"));
                }
            }
            let attributes = match inst.get("attributes") {
                Some(Json::Object(a)) => a.clone(),
                None | Some(Json::Null) if inst.contains_key("attributes_flat") => {
                    return Err(cx.shape(
                        format!("{address} has only `attributes_flat` (Terraform 0.11 style)"),
                        None,
                    ))
                }
                _ => return Err(cx.shape(format!("{address} has no `attributes` object"), None)),
            };
            let sensitive = match inst.get("sensitive_attributes") {
                None | Some(Json::Null) => Vec::new(),
                Some(v) => sensitive_paths(v).ok_or_else(|| {
                    cx.shape(
                        format!(
                            "{address}: `sensitive_attributes` is not a list of attribute paths"
                        ),
                        None,
                    )
                })?,
            };
            state.instances.push(TfInstance {
                address,
                module: module.clone(),
                tf_type: tf_type.clone(),
                name: name.clone(),
                index,
                attributes,
                sensitive,
            });
        }
    }
    if !tainted.is_empty() {
        return Err(ImportError::Tainted {
            file: file.to_string(),
            count: tainted.len(),
            addresses: tainted.join(", "),
            src: cx.src(),
            at: redact::find_value(text, "status", "tainted"),
        });
    }
    if !deposed.is_empty() {
        return Err(ImportError::Deposed {
            file: file.to_string(),
            count: deposed.len(),
            addresses: deposed.join(", "),
            src: cx.src(),
            at: redact::find_key(text, "deposed", 0),
        });
    }
    Ok(state)
}

/// `[[{"type":"get_attr","value":"password"}], ...]`; an index step's
/// value is `{"value": 0, "type": "number"}`. A step of a kind this reader
/// does not know ends the path there, so the whole prefix counts as
/// sensitive (never less).
fn sensitive_paths(v: &Json) -> Option<Vec<Vec<PathStep>>> {
    let mut out = Vec::new();
    for path in v.as_array()? {
        let mut steps = Vec::new();
        for step in path.as_array()? {
            let step = step.as_object()?;
            let value = step.get("value");
            match step.get("type").and_then(Json::as_str) {
                Some("get_attr") => steps.push(PathStep::Attr(value?.as_str()?.to_string())),
                Some("index") => {
                    let inner = value?.get("value").or(value)?;
                    match inner {
                        Json::Number(n) => steps.push(PathStep::Index(IndexKey::Int(n.as_i64()?))),
                        Json::String(s) => steps.push(PathStep::Index(IndexKey::Str(s.clone()))),
                        _ => break,
                    }
                }
                _ => break,
            }
        }
        if !steps.is_empty() {
            out.push(steps);
        }
    }
    Some(out)
}

/// The byte offset of serde_json's 1-based line and column, clamped to the text.
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            offset += column.saturating_sub(1).min(l.len());
            break;
        }
        offset += l.len();
    }
    let mut at = offset.min(text.len());
    while at > 0 && !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}
