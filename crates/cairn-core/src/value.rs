//! Property values: JSON-like, plus secrets and values unknown until apply.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A map of property or output names to values, ordered for stable output.
pub type Map = BTreeMap<String, Value>;

/// Text shown wherever a secret would be printed.
pub const SECRET_MASK: &str = "[secret]";
/// Text shown for a value that is known only after apply.
pub const UNKNOWN_TEXT: &str = "(known after apply)";

/// A property value.
///
/// `Secret` wraps a value that must never be printed or stored in plaintext;
/// `Unknown` stands for an output that does not exist until apply.
/// The serde form is internal (state DTOs live in `cairn-state`); use
/// [`Value::to_masked_json`] for anything shown to people or tools.
#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "t", content = "v")]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    List(Vec<Value>),
    Map(Map),
    Secret(Box<Value>),
    Unknown,
}

impl Value {
    pub fn secret(inner: impl Into<Value>) -> Value {
        match inner.into() {
            already @ Value::Secret(_) => already,
            other => Value::Secret(Box::new(other)),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            Value::Secret(inner) => inner.as_str(),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Float(f) if f.fract() == 0.0 => Some(*f as i64),
            Value::Secret(inner) => inner.as_i64(),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Secret(inner) => inner.as_bool(),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            Value::Secret(inner) => inner.as_map(),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            Value::Secret(inner) => inner.as_list(),
            _ => None,
        }
    }

    pub fn is_secret(&self) -> bool {
        matches!(self, Value::Secret(_))
    }

    /// True when this value or anything inside it is unknown.
    pub fn contains_unknown(&self) -> bool {
        match self {
            Value::Unknown => true,
            Value::List(l) => l.iter().any(Value::contains_unknown),
            Value::Map(m) => m.values().any(Value::contains_unknown),
            Value::Secret(inner) => inner.contains_unknown(),
            _ => false,
        }
    }

    /// True when this value or anything inside it is secret.
    pub fn contains_secret(&self) -> bool {
        match self {
            Value::Secret(_) => true,
            Value::List(l) => l.iter().any(Value::contains_secret),
            Value::Map(m) => m.values().any(Value::contains_secret),
            _ => false,
        }
    }

    /// The value with every secret wrapper removed (for provider calls only).
    pub fn reveal(&self) -> Value {
        match self {
            Value::Secret(inner) => inner.reveal(),
            Value::List(l) => Value::List(l.iter().map(Value::reveal).collect()),
            Value::Map(m) => Value::Map(m.iter().map(|(k, v)| (k.clone(), v.reveal())).collect()),
            other => other.clone(),
        }
    }

    /// JSON for people and tools: secrets become [`SECRET_MASK`], unknowns [`UNKNOWN_TEXT`].
    pub fn to_masked_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .unwrap_or(J::Null),
            Value::String(s) => J::String(s.clone()),
            Value::List(l) => J::Array(l.iter().map(Value::to_masked_json).collect()),
            Value::Map(m) => J::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), v.to_masked_json()))
                    .collect(),
            ),
            Value::Secret(_) => J::String(SECRET_MASK.into()),
            Value::Unknown => J::String(UNKNOWN_TEXT.into()),
        }
    }

    /// Plain JSON with secrets revealed: only for values sent to a provider.
    pub fn to_plain_json(&self) -> serde_json::Value {
        self.reveal().to_masked_json()
    }

    pub fn from_json(json: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        match json {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => n
                .as_i64()
                .map(Value::Int)
                .unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or(0.0))),
            J::String(s) => Value::String(s.clone()),
            J::Array(a) => Value::List(a.iter().map(Value::from_json).collect()),
            J::Object(o) => Value::Map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Looks up a dotted/indexed path such as `nodeGroups[0].endpoint`.
    pub fn get_path(&self, path: &PropertyPath) -> Option<&Value> {
        let mut current = self;
        for segment in &path.0 {
            while let Value::Secret(inner) = current {
                current = inner;
            }
            current = match (current, segment) {
                (Value::Map(m), PathSegment::Key(k)) => m.get(k)?,
                (Value::List(l), PathSegment::Index(i)) => l.get(*i)?,
                _ => return None,
            };
        }
        Some(current)
    }

    /// A short human rendering with secrets masked.
    pub fn display_masked(&self) -> String {
        match self {
            Value::String(s) => format!("{s:?}"),
            Value::Secret(_) => SECRET_MASK.to_string(),
            Value::Unknown => UNKNOWN_TEXT.to_string(),
            other => other.to_masked_json().to_string(),
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "map",
            Value::Secret(_) => "secret",
            Value::Unknown => "unknown",
        }
    }
}

/// Secret-taint for outputs: an output that echoes a secret input (by name,
/// or by containing a secret's plaintext) is wrapped as secret too.
pub fn wrap_outputs_echoing_secrets(outputs: &mut Map, inputs: &Map) {
    let mut secrets = Vec::new();
    for v in inputs.values() {
        collect_secret_texts(v, false, &mut secrets);
    }
    secrets.retain(|s| s.len() >= 4);
    for (k, v) in outputs.iter_mut() {
        if v.is_secret() {
            continue;
        }
        let echoes_by_name = inputs.get(k).is_some_and(Value::contains_secret);
        let mut texts = Vec::new();
        collect_secret_texts(v, true, &mut texts);
        let echoes_by_content = texts
            .iter()
            .any(|t| secrets.iter().any(|s| t.contains(s.as_str())));
        if echoes_by_name || echoes_by_content {
            *v = Value::secret(std::mem::take(v));
        }
    }
}

/// Strings inside `v`: all of them when `all`, else only those under a secret.
fn collect_secret_texts(v: &Value, all: bool, out: &mut Vec<String>) {
    match v {
        Value::String(s) if all => out.push(s.clone()),
        Value::Int(i) if all => out.push(i.to_string()),
        Value::Secret(inner) => collect_secret_texts(inner, true, out),
        Value::List(l) => l.iter().for_each(|x| collect_secret_texts(x, all, out)),
        Value::Map(m) => m.values().for_each(|x| collect_secret_texts(x, all, out)),
        _ => {}
    }
}

impl fmt::Debug for Value {
    /// Like a derived `Debug`, but a secret's content is never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("Null"),
            Value::Bool(b) => f.debug_tuple("Bool").field(b).finish(),
            Value::Int(i) => f.debug_tuple("Int").field(i).finish(),
            Value::Float(x) => f.debug_tuple("Float").field(x).finish(),
            Value::String(s) => f.debug_tuple("String").field(s).finish(),
            Value::List(l) => f.debug_tuple("List").field(l).finish(),
            Value::Map(m) => f.debug_tuple("Map").field(m).finish(),
            Value::Secret(_) => f.write_str("Secret([secret])"),
            Value::Unknown => f.write_str("Unknown"),
        }
    }
}

impl fmt::Display for Value {
    /// Always masked: a secret can never reach output through `Display`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_masked())
    }
}

macro_rules! value_from {
    ($($t:ty => $variant:ident),* $(,)?) => {
        $(impl From<$t> for Value {
            fn from(v: $t) -> Self { Value::$variant(v.into()) }
        })*
    };
}
value_from!(bool => Bool, i64 => Int, i32 => Int, u16 => Int, u32 => Int, f64 => Float, String => String, &str => String, Map => Map);

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Self {
        Value::List(v.into_iter().map(Into::into).collect())
    }
}

/// One step of a [`PropertyPath`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PathSegment {
    Key(String),
    Index(usize),
}

/// A path to a property inside a resource's inputs, e.g. `parameters[0].value`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PropertyPath(pub Vec<PathSegment>);

impl PropertyPath {
    pub fn root() -> Self {
        PropertyPath(Vec::new())
    }
    pub fn key(name: impl Into<String>) -> Self {
        PropertyPath(vec![PathSegment::Key(name.into())])
    }
    pub fn child(&self, name: impl Into<String>) -> Self {
        let mut p = self.clone();
        p.0.push(PathSegment::Key(name.into()));
        p
    }
    pub fn index(&self, i: usize) -> Self {
        let mut p = self.clone();
        p.0.push(PathSegment::Index(i));
        p
    }
    /// The top-level property name, if any.
    pub fn top(&self) -> Option<&str> {
        match self.0.first() {
            Some(PathSegment::Key(k)) => Some(k),
            _ => None,
        }
    }
}

impl fmt::Display for PropertyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                PathSegment::Key(k) if i == 0 => write!(f, "{k}")?,
                PathSegment::Key(k) => write!(f, ".{k}")?,
                PathSegment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}
