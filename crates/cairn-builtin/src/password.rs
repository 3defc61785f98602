//! `random:Password`: a secret drawn from the operating system's secure random source.

use async_trait::async_trait;
use cairn_core::dsl::{DeclaredType, Input, Output, Outputs, Resource};
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, ProviderError, ResourceProvider,
};
use cairn_core::schema::{PropType, ResourceSchema};
use cairn_core::value::{Map, PropertyPath, Value};
use serde::Serialize;

pub struct Password;

/// A random password from the OS's secure random source.
#[derive(Serialize, Clone, Debug, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(token = "random:Password", kind = Password, outputs = PasswordOutputs)]
pub struct PasswordArgs {
    /// Number of characters.
    #[prop(replaces, ty = PropType::int_range(1, 1024))]
    pub length: Input<i64>,
    /// Include special characters (default false: alphanumeric only, safe inside URIs).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(replaces, default = false)]
    pub special: Option<Input<bool>>,
    /// The special characters allowed when `special` is true.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[prop(replaces, ty = PropType::String { min_len: Some(1), max_len: Some(64) })]
    pub override_special: Option<Input<String>>,
}

#[derive(Outputs)]
pub struct PasswordOutputs {
    /// The generated password.
    #[output(secret)]
    pub result: Output<String>,
}

const ALPHANUMERIC: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const DEFAULT_SPECIAL: &str = "!#$%&*()-_=+[]{}<>:?";

pub struct PasswordProvider {
    schema: ResourceSchema,
}

impl PasswordProvider {
    pub fn new() -> Self {
        let schema = Password::schema();
        PasswordProvider { schema }
    }
}

impl Default for PasswordProvider {
    fn default() -> Self {
        Self::new()
    }
}

/// The characters a password may contain given its inputs.
fn alphabet(inputs: &Map) -> String {
    let special = inputs
        .get("special")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut chars = ALPHANUMERIC.to_string();
    if special {
        chars.push_str(
            inputs
                .get("overrideSpecial")
                .and_then(Value::as_str)
                .unwrap_or(DEFAULT_SPECIAL),
        );
    }
    chars
}

/// Draws `length` characters uniformly from `alphabet` (rejection sampling, no modulo bias).
pub fn generate(length: usize, alphabet: &str) -> Result<String, getrandom::Error> {
    let chars: Vec<char> = alphabet.chars().collect();
    let n = chars.len();
    if n == 0 || n > 256 {
        return Ok(String::new());
    }
    let limit = 256 - (256 % n);
    let mut out = String::with_capacity(length);
    let mut buf = [0u8; 64];
    while out.chars().count() < length {
        getrandom::getrandom(&mut buf)?;
        for b in buf {
            if (b as usize) < limit && out.chars().count() < length {
                out.push(chars[b as usize % n]);
            }
        }
    }
    Ok(out)
}

#[async_trait]
impl ResourceProvider for PasswordProvider {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn has_external_effects(&self) -> bool {
        false
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        let special = inputs
            .get("special")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if !special && inputs.contains_key("overrideSpecial") {
            return vec![CheckFailure::warning(
                "cairn::random::override-ignored",
                PropertyPath::key("overrideSpecial"),
                "overrideSpecial has no effect while special is false",
            )
            .with_help("set special: true, or remove overrideSpecial")];
        }
        Vec::new()
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let length = inputs.get("length").and_then(Value::as_i64).unwrap_or(0);
        let length = usize::try_from(length)
            .map_err(|_| ProviderError::invalid(&ctx.name, "length must be a positive integer"))?;
        let result = generate(length, &alphabet(inputs)).map_err(|e| {
            ProviderError::invalid(&ctx.name, format!("the OS random source failed: {e}"))
        })?;
        let mut outputs = Map::new();
        outputs.insert("result".into(), Value::secret(result));
        Ok(Created {
            id: format!("{}-password", ctx.name),
            outputs,
        })
    }

    async fn read(
        &self,
        _ctx: &CallContext,
        id: &str,
        inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        // A password exists only in state: reading returns nothing new.
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
        _old: &Map,
        _new: &Map,
        old_outputs: &Map,
    ) -> Result<Map, ProviderError> {
        Ok(old_outputs.clone())
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
