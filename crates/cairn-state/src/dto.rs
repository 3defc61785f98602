//! The on-disk format (version [`FORMAT_VERSION`]), kept apart from the
//! in-memory types of `cairn-core` so either can change without silently
//! changing the other.
//!
//! Every record carries `"format": 1`; a record of any other version is
//! refused with [`StateError::UnsupportedFormat`], never misread.
//!
//! A [`ValueDto`] is an externally tagged enum, so a user map that happens to
//! have a `$secret` key can never be confused with a secret:
//!
//! ```json
//! "null"  {"bool":true}  {"int":5}  {"float":1.5}  {"float_special":"NaN"}
//! {"str":"x"}  {"list":[...]}  {"map":{"k":...}}  "unknown"
//! {"$secret":{"alg":"chacha20poly1305","nonce":"<b64>","ct":"<b64>"}}
//! ```
//!
//! A secret's plaintext is the JSON of its inner `ValueDto`, encrypted with a
//! fresh random nonce and associated data binding it to the stack and to the
//! resource (or to the stack outputs), so ciphertexts cannot be swapped
//! between resources or stacks undetected.

use crate::error::StateError;
use crate::keys::Sealer;
use cairn_core::provider::Operation;
use cairn_core::state::{Intent, ResourceState};
use cairn_core::value::{Map, Value};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The state format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// A property map on disk.
pub type MapDto = BTreeMap<String, ValueDto>;

/// A property value on disk; secrets only ever as ciphertext.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ValueDto {
    #[serde(rename = "null")]
    Null,
    #[serde(rename = "bool")]
    Bool(bool),
    #[serde(rename = "int")]
    Int(i64),
    #[serde(rename = "float")]
    Float(f64),
    /// `NaN`, `inf` or `-inf`, which JSON numbers cannot carry.
    #[serde(rename = "float_special")]
    FloatSpecial(String),
    #[serde(rename = "str")]
    Str(String),
    #[serde(rename = "list")]
    List(Vec<ValueDto>),
    #[serde(rename = "map")]
    Map(MapDto),
    #[serde(rename = "$secret")]
    Secret(SealedDto),
    #[serde(rename = "unknown")]
    Unknown,
}

/// An encrypted value: base64 nonce and ciphertext (with its tag).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedDto {
    pub alg: String,
    pub nonce: String,
    pub ct: String,
}

/// One resource's recorded state (tree `resources`, key = logical name).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceStateV1 {
    pub format: u32,
    pub name: String,
    #[serde(rename = "type")]
    pub type_token: String,
    pub id: String,
    pub inputs: MapDto,
    pub outputs: MapDto,
    #[serde(default)]
    pub dependencies: Vec<String>,
    #[serde(default)]
    pub protect: bool,
    #[serde(default)]
    pub retain_on_delete: bool,
    #[serde(default)]
    pub imported: bool,
    /// `options.parent` (absent before it existed, or without a parent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Read with `get:`, never managed (absent before it existed).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
    /// `deletedWith` (absent before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_with: Option<String>,
}

/// A pending intent (tree `journal`, key = op id as big-endian u64). The
/// record is deleted in the same transaction that records its outcome, so
/// every record present is an operation whose outcome is unknown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JournalRecordV1 {
    pub format: u32,
    pub op_id: u64,
    pub resource: String,
    #[serde(rename = "type")]
    pub type_token: String,
    pub operation: Operation,
    #[serde(default)]
    pub id: Option<String>,
    pub inputs: MapDto,
    #[serde(default)]
    pub dependencies: Vec<String>,
    pub external: bool,
    /// A create's token (absent in records written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_token: Option<String>,
}

/// The stack outputs (tree `meta`, key `outputs`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputsV1 {
    pub format: u32,
    pub outputs: MapDto,
}

/// Any record's version header.
#[derive(Deserialize)]
pub(crate) struct Header {
    pub format: u64,
}

pub(crate) trait Versioned {
    fn format(&self) -> u32;
}
impl Versioned for ResourceStateV1 {
    fn format(&self) -> u32 {
        self.format
    }
}
impl Versioned for JournalRecordV1 {
    fn format(&self) -> u32 {
        self.format
    }
}
impl Versioned for OutputsV1 {
    fn format(&self) -> u32 {
        self.format
    }
}
impl Versioned for crate::keys::KeysMetaV1 {
    fn format(&self) -> u32 {
        self.format
    }
}

/// Parses a record, telling a future version apart from damage.
pub(crate) fn parse_versioned<T: DeserializeOwned + Versioned>(
    bytes: &[u8],
    what: &dyn Fn() -> String,
) -> Result<T, StateError> {
    let unsupported = |found: u64| StateError::UnsupportedFormat {
        what: what(),
        found,
        supported: FORMAT_VERSION,
    };
    match serde_json::from_slice::<T>(bytes) {
        Ok(v) if v.format() == FORMAT_VERSION => Ok(v),
        Ok(v) => Err(unsupported(v.format().into())),
        Err(e) => match serde_json::from_slice::<Header>(bytes) {
            Ok(h) if h.format != u64::from(FORMAT_VERSION) => Err(unsupported(h.format)),
            _ => Err(StateError::corrupt(what(), e)),
        },
    }
}

pub(crate) fn resource_scope(name: &str) -> String {
    format!("resource:{name}")
}
pub(crate) const OUTPUTS_SCOPE: &str = "stack-outputs";

pub(crate) fn encode_value(v: &Value, s: &Sealer, scope: &str) -> Result<ValueDto, StateError> {
    Ok(match v {
        Value::Null => ValueDto::Null,
        Value::Bool(b) => ValueDto::Bool(*b),
        Value::Int(i) => ValueDto::Int(*i),
        Value::Float(f) if f.is_finite() => ValueDto::Float(*f),
        Value::Float(f) => ValueDto::FloatSpecial(
            if f.is_nan() {
                "NaN"
            } else if *f > 0.0 {
                "inf"
            } else {
                "-inf"
            }
            .into(),
        ),
        Value::String(s) => ValueDto::Str(s.clone()),
        Value::List(l) => ValueDto::List(
            l.iter()
                .map(|x| encode_value(x, s, scope))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(m) => ValueDto::Map(encode_map(m, s, scope)?),
        Value::Secret(inner) => {
            let inner = encode_value(inner, s, scope)?;
            let plain = zeroize::Zeroizing::new(serde_json::to_vec(&inner).map_err(|e| {
                StateError::Encrypt {
                    detail: e.to_string(),
                }
            })?);
            ValueDto::Secret(s.seal(scope, &plain)?)
        }
        Value::Unknown => ValueDto::Unknown,
    })
}

pub(crate) fn encode_map(m: &Map, s: &Sealer, scope: &str) -> Result<MapDto, StateError> {
    m.iter()
        .map(|(k, v)| Ok((k.clone(), encode_value(v, s, scope)?)))
        .collect()
}

pub(crate) fn decode_value(
    d: &ValueDto,
    s: &Sealer,
    scope: &str,
    what: &dyn Fn() -> String,
) -> Result<Value, StateError> {
    Ok(match d {
        ValueDto::Null => Value::Null,
        ValueDto::Bool(b) => Value::Bool(*b),
        ValueDto::Int(i) => Value::Int(*i),
        ValueDto::Float(f) => Value::Float(*f),
        ValueDto::FloatSpecial(k) => Value::Float(match k.as_str() {
            "NaN" => f64::NAN,
            "inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            other => {
                return Err(StateError::corrupt(
                    what(),
                    format!("unknown float `{other}`"),
                ))
            }
        }),
        ValueDto::Str(x) => Value::String(x.clone()),
        ValueDto::List(l) => Value::List(
            l.iter()
                .map(|x| decode_value(x, s, scope, what))
                .collect::<Result<_, _>>()?,
        ),
        ValueDto::Map(m) => Value::Map(decode_map(m, s, scope, what)?),
        ValueDto::Secret(sealed) => {
            let plain = s.open(scope, sealed, what)?;
            let inner: ValueDto = serde_json::from_slice(&plain)
                .map_err(|e| StateError::corrupt(what(), format!("decrypted secret: {e}")))?;
            Value::Secret(Box::new(decode_value(&inner, s, scope, what)?))
        }
        ValueDto::Unknown => Value::Unknown,
    })
}

pub(crate) fn decode_map(
    m: &MapDto,
    s: &Sealer,
    scope: &str,
    what: &dyn Fn() -> String,
) -> Result<Map, StateError> {
    m.iter()
        .map(|(k, v)| Ok((k.clone(), decode_value(v, s, scope, what)?)))
        .collect()
}

impl ResourceStateV1 {
    /// `key` is the name the resource is recorded under (the AEAD scope).
    pub(crate) fn encode(key: &str, r: &ResourceState, s: &Sealer) -> Result<Self, StateError> {
        let scope = resource_scope(key);
        Ok(ResourceStateV1 {
            format: FORMAT_VERSION,
            name: r.name.clone(),
            type_token: r.type_token.clone(),
            id: r.id.clone(),
            inputs: encode_map(&r.inputs, s, &scope)?,
            outputs: encode_map(&r.outputs, s, &scope)?,
            dependencies: r.dependencies.clone(),
            protect: r.protect,
            retain_on_delete: r.retain_on_delete,
            imported: r.imported,
            parent: r.parent.clone(),
            external: r.external,
            deleted_with: r.deleted_with.clone(),
        })
    }

    pub(crate) fn decode(self, key: &str, s: &Sealer) -> Result<ResourceState, StateError> {
        let scope = resource_scope(key);
        let what = || format!("resource `{key}`");
        Ok(ResourceState {
            inputs: decode_map(&self.inputs, s, &scope, &what)?,
            outputs: decode_map(&self.outputs, s, &scope, &what)?,
            name: self.name,
            type_token: self.type_token,
            id: self.id,
            dependencies: self.dependencies,
            protect: self.protect,
            retain_on_delete: self.retain_on_delete,
            imported: self.imported,
            parent: self.parent,
            external: self.external,
            deleted_with: self.deleted_with,
        })
    }
}

impl JournalRecordV1 {
    pub(crate) fn encode(i: &Intent, s: &Sealer) -> Result<Self, StateError> {
        Ok(JournalRecordV1 {
            format: FORMAT_VERSION,
            op_id: i.op_id,
            resource: i.resource.clone(),
            type_token: i.type_token.clone(),
            operation: i.operation,
            id: i.id.clone(),
            inputs: encode_map(&i.inputs, s, &resource_scope(&i.resource))?,
            dependencies: i.dependencies.clone(),
            external: i.external,
            create_token: i.create_token.clone(),
        })
    }

    pub(crate) fn decode(self, s: &Sealer) -> Result<Intent, StateError> {
        let scope = resource_scope(&self.resource);
        let what = || format!("journal entry {} (`{}`)", self.op_id, self.resource);
        let inputs = decode_map(&self.inputs, s, &scope, &what)?;
        Ok(Intent {
            op_id: self.op_id,
            resource: self.resource,
            type_token: self.type_token,
            operation: self.operation,
            id: self.id,
            inputs,
            dependencies: self.dependencies,
            external: self.external,
            create_token: self.create_token,
        })
    }
}

impl OutputsV1 {
    pub(crate) fn encode(m: &Map, s: &Sealer) -> Result<Self, StateError> {
        Ok(OutputsV1 {
            format: FORMAT_VERSION,
            outputs: encode_map(m, s, OUTPUTS_SCOPE)?,
        })
    }
    pub(crate) fn decode(&self, s: &Sealer) -> Result<Map, StateError> {
        decode_map(&self.outputs, s, OUTPUTS_SCOPE, &|| "stack outputs".into())
    }
}

pub(crate) fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, StateError> {
    serde_json::to_vec(v).map_err(|e| StateError::Encrypt {
        detail: format!("serializing state: {e}"),
    })
}
