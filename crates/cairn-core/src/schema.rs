//! Resource schemas: what a resource type declares about its properties.
//!
//! Schemas drive validation with exact source positions, property-level
//! diffs, replacement decisions, secret masking and the editor JSON Schema.

use crate::value::{Map, Value};
use serde::Serialize;

/// The type of an input property.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum PropType {
    /// Any value at all (e.g. `core:Data.input`).
    Any,
    Bool,
    Int {
        #[serde(skip_serializing_if = "Option::is_none")]
        min: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        max: Option<i64>,
    },
    String {
        #[serde(skip_serializing_if = "Option::is_none")]
        min_len: Option<usize>,
        #[serde(skip_serializing_if = "Option::is_none")]
        max_len: Option<usize>,
    },
    /// One of a fixed set of strings.
    Enum {
        values: Vec<String>,
    },
    List {
        items: Box<PropType>,
    },
    /// A map of free-form keys to values of one type.
    Map {
        values: Box<PropType>,
    },
    /// A nested object with its own declared properties.
    Object {
        properties: Vec<PropertySchema>,
    },
}

impl PropType {
    pub fn string() -> Self {
        PropType::String {
            min_len: None,
            max_len: None,
        }
    }
    pub fn int() -> Self {
        PropType::Int {
            min: None,
            max: None,
        }
    }
    pub fn int_range(min: i64, max: i64) -> Self {
        PropType::Int {
            min: Some(min),
            max: Some(max),
        }
    }
    pub fn one_of(values: &[&str]) -> Self {
        PropType::Enum {
            values: values.iter().map(|s| s.to_string()).collect(),
        }
    }
    pub fn list(items: PropType) -> Self {
        PropType::List {
            items: Box::new(items),
        }
    }
    pub fn map(values: PropType) -> Self {
        PropType::Map {
            values: Box::new(values),
        }
    }
    pub fn object(properties: Vec<PropertySchema>) -> Self {
        PropType::Object { properties }
    }

    /// Short name used in diagnostics, e.g. "integer" or "list of string".
    pub fn describe(&self) -> String {
        match self {
            PropType::Any => "any value".into(),
            PropType::Bool => "boolean".into(),
            PropType::Int { .. } => "integer".into(),
            PropType::String { .. } => "string".into(),
            PropType::Enum { values } => format!("one of {}", values.join(", ")),
            PropType::List { items } => format!("list of {}", items.describe()),
            PropType::Map { values } => format!("map of {}", values.describe()),
            PropType::Object { .. } => "object".into(),
        }
    }
}

/// One input property of a resource type.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertySchema {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: PropType,
    pub required: bool,
    /// A change to this property replaces the resource.
    pub replace_on_change: bool,
    /// The value is secret: masked in output, encrypted in state.
    pub secret: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
    /// What an absent value means when old and new inputs are compared
    /// (e.g. `region`: the run's region). Unlike `default`, nothing is
    /// filled into the inputs; a change between absent and this value is
    /// no change.
    #[serde(skip)]
    pub absent_means: Option<Value>,
    pub doc: String,
}

impl PropertySchema {
    pub fn new(name: &str, ty: PropType) -> Self {
        PropertySchema {
            name: name.to_string(),
            ty,
            required: false,
            replace_on_change: false,
            secret: false,
            default: None,
            absent_means: None,
            doc: String::new(),
        }
    }
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub fn replaces(mut self) -> Self {
        self.replace_on_change = true;
        self
    }
    pub fn secret(mut self) -> Self {
        self.secret = true;
        self
    }
    pub fn absent_means(mut self, v: Value) -> Self {
        self.absent_means = Some(v);
        self
    }
    pub fn default_value(mut self, v: serde_json::Value) -> Self {
        self.default = Some(v);
        self
    }
    pub fn doc(mut self, doc: &str) -> Self {
        self.doc = doc.to_string();
        self
    }
}

/// One output of a resource type.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputSchema {
    pub name: String,
    pub secret: bool,
    pub doc: String,
}

impl OutputSchema {
    pub fn new(name: &str, doc: &str) -> Self {
        OutputSchema {
            name: name.to_string(),
            secret: false,
            doc: doc.to_string(),
        }
    }
    pub fn secret(mut self) -> Self {
        self.secret = true;
        self
    }
}

/// Everything a resource type declares.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSchema {
    /// Pulumi-style type token, e.g. `aws:elasticache:ReplicationGroup`.
    pub token: String,
    pub doc: String,
    pub properties: Vec<PropertySchema>,
    pub outputs: Vec<OutputSchema>,
    /// The resource has a user-chosen physical name (e.g. a replication
    /// group id), so create-before-destroy would collide on replace.
    pub fixed_physical_name: bool,
}

impl ResourceSchema {
    pub fn new(token: &str, doc: &str) -> Self {
        ResourceSchema {
            token: token.to_string(),
            doc: doc.to_string(),
            properties: Vec::new(),
            outputs: Vec::new(),
            fixed_physical_name: false,
        }
    }
    pub fn property(mut self, p: PropertySchema) -> Self {
        self.properties.push(p);
        self
    }
    pub fn output(mut self, o: OutputSchema) -> Self {
        self.outputs.push(o);
        self
    }
    pub fn fixed_name(mut self) -> Self {
        self.fixed_physical_name = true;
        self
    }
    pub fn prop(&self, name: &str) -> Option<&PropertySchema> {
        self.properties.iter().find(|p| p.name == name)
    }
    pub fn out(&self, name: &str) -> Option<&OutputSchema> {
        self.outputs.iter().find(|o| o.name == name)
    }

    /// Inputs with defaults filled in and secret properties wrapped as secrets.
    pub fn normalize_inputs(&self, inputs: &Map) -> Map {
        let mut out = inputs.clone();
        for p in &self.properties {
            if !out.contains_key(&p.name) {
                if let Some(d) = &p.default {
                    out.insert(p.name.clone(), Value::from_json(d));
                }
            }
            if p.secret {
                if let Some(v) = out.remove(&p.name) {
                    let v = if matches!(v, Value::Unknown) {
                        v
                    } else {
                        Value::secret(v)
                    };
                    out.insert(p.name.clone(), v);
                }
            }
        }
        out
    }

    /// Outputs with secret outputs wrapped as secrets.
    pub fn normalize_outputs(&self, outputs: &Map) -> Map {
        let mut out = outputs.clone();
        for o in self.outputs.iter().filter(|o| o.secret) {
            if let Some(v) = out.remove(&o.name) {
                out.insert(o.name.clone(), Value::secret(v));
            }
        }
        out
    }
}
