//! Pulumi YAML's built-in functions beyond `fn::secret`, `fn::toJSON` and
//! `fn::join`, with the meaning `pulumi/pulumi-yaml`'s `run.go` gives them
//! (Apache-2.0): a result is secret when any argument holds a secret (its
//! `lift` runs the function inside an apply over all arguments), except for
//! `fn::unsecret`. Values here are in template form (`$` written `$$`); a
//! string that holds a resource reference is known only at apply.

use super::{escape, Loader};
use crate::codes;
use crate::yaml::{Entry, Kind, Node};
use base64::Engine as _;
use cairn_core::diag::Problem;
use cairn_core::interp::{self, Part};
use cairn_core::spec::Span;
use cairn_core::value::{Map, PropertyPath, Value};
use std::collections::BTreeMap;

/// Pulumi's asset/archive signature key and values (`resource.Asset`).
pub const SIG_KEY: &str = "4dabf18193072939515e22adb298388d";
pub const ASSET_SIG: &str = "c44067f5952c0a294b673a41bacd8c17";
pub const ARCHIVE_SIG: &str = "0def7320c3a5731c473e5ecbe6d01bc7";

/// The built-ins this module evaluates, by Pulumi's spelling.
pub(crate) const BUILTINS: &[&str] = &[
    "fn::join",
    "fn::select",
    "fn::split",
    "fn::length",
    "fn::toBase64",
    "fn::fromBase64",
    "fn::readFile",
    "fn::filebase64",
    "fn::filebase64sha256",
    "fn::sha1",
    "fn::unsecret",
    "fn::stringAsset",
    "fn::fileAsset",
    "fn::fileArchive",
    "fn::assetArchive",
];

/// An argument's value with its secret flag; `None` when it is known
/// only at apply (it holds a resource reference) or already failed.
pub(super) enum Arg {
    Known(Value),
    Later,
    Failed,
}

/// Template-form value to data: strings unescaped. `Later` when a string
/// holds a reference, `Failed` for an unknown (already reported).
pub(super) fn to_data(v: &Value, depth: usize) -> Arg {
    if depth > crate::MAX_DEPTH {
        return Arg::Failed;
    }
    match v {
        Value::Unknown => Arg::Failed,
        Value::String(s) => match interp::parse(s) {
            Ok(parts) if parts.iter().all(|p| matches!(p, Part::Literal(_))) => {
                Arg::Known(Value::String(
                    parts
                        .into_iter()
                        .map(|p| match p {
                            Part::Literal(l) => l,
                            Part::Ref { .. } => String::new(),
                        })
                        .collect(),
                ))
            }
            Ok(_) => Arg::Later,
            Err(_) => Arg::Failed,
        },
        Value::List(l) => {
            let mut out = Vec::with_capacity(l.len());
            for x in l {
                match to_data(x, depth + 1) {
                    Arg::Known(x) => out.push(x),
                    other => return other,
                }
            }
            Arg::Known(Value::List(out))
        }
        Value::Map(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                match to_data(x, depth + 1) {
                    Arg::Known(x) => {
                        out.insert(k.clone(), x);
                    }
                    other => return other,
                }
            }
            Arg::Known(Value::Map(out))
        }
        Value::Secret(inner) => match to_data(inner, depth + 1) {
            Arg::Known(x) => Arg::Known(Value::secret(x)),
            other => other,
        },
        other => Arg::Known(other.clone()),
    }
}

/// Pulumi's name for a value's type in messages.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Int(_) | Value::Float(_) => "a number",
        Value::String(_) => "a string",
        Value::List(_) => "a list",
        Value::Map(m) if is_asset(m) => "an asset",
        Value::Map(m) if is_archive(m) => "an archive",
        Value::Map(_) => "a map",
        Value::Secret(inner) => type_name(inner),
        Value::Unknown => "unknown",
    }
}

pub fn is_asset(m: &Map) -> bool {
    m.get(SIG_KEY).and_then(Value::as_str) == Some(ASSET_SIG)
}

pub fn is_archive(m: &Map) -> bool {
    m.get(SIG_KEY).and_then(Value::as_str) == Some(ARCHIVE_SIG)
}

/// Wraps `v` as secret when `secret`.
fn secret_if(secret: bool, v: Value) -> Value {
    if secret {
        Value::secret(v)
    } else {
        v
    }
}

/// Extended grapheme clusters, as Go's `uniseg.GraphemeClusterCount`
/// counts them for `fn::length`: combining marks, variation selectors,
/// emoji modifiers, tags, zero-width joiner sequences, regional-indicator
/// pairs and CR LF stay with the character before them.
pub fn grapheme_count(s: &str) -> usize {
    let extends = |c: char| {
        matches!(c as u32,
            0x0300..=0x036F | 0x0483..=0x0489 | 0x0591..=0x05BD | 0x0610..=0x061A
            | 0x064B..=0x065F | 0x0900..=0x0903 | 0x093A..=0x094F | 0x1AB0..=0x1AFF
            | 0x1DC0..=0x1DFF | 0x200C | 0x20D0..=0x20FF | 0x302A..=0x302F
            | 0x3099..=0x309A | 0xFE00..=0xFE0F | 0xFE20..=0xFE2F
            | 0x1F3FB..=0x1F3FF | 0xE0020..=0xE007F | 0xE0100..=0xE01EF)
    };
    let regional = |c: char| (0x1F1E6..=0x1F1FF).contains(&(c as u32));
    let mut count = 0;
    let mut prev: Option<char> = None;
    let mut ri_run = 0;
    for c in s.chars() {
        let joins = match prev {
            None => false,
            Some('\r') => c == '\n',
            Some('\u{200D}') => true,
            Some(_) if c == '\u{200D}' || extends(c) => true,
            Some(p) if regional(p) && regional(c) => ri_run % 2 == 1,
            _ => false,
        };
        ri_run = if regional(c) { ri_run + 1 } else { 0 };
        if !joins {
            count += 1;
        }
        prev = Some(c);
    }
    count
}

/// Go's `strings.Split`: an empty separator splits after each character
/// (and an empty string then gives no parts).
pub fn go_split(s: &str, sep: &str) -> Vec<String> {
    if sep.is_empty() {
        return s.chars().map(String::from).collect();
    }
    s.split(sep).map(str::to_string).collect()
}

impl Loader<'_> {
    /// Evaluates one of [`BUILTINS`] (`name` is its canonical spelling).
    pub(super) fn builtin(
        &mut self,
        name: &str,
        f: &Entry,
        path: &PropertyPath,
        spans: &mut BTreeMap<PropertyPath, Span>,
        refs: bool,
    ) -> Value {
        match name {
            "fn::join" => {
                let Some([sep, list]) = self.args::<2>(name, f, "[delimiter, [a, b, ...]]") else {
                    return Value::Unknown;
                };
                let sv = self.eval_with(sep, &path.index(0), spans, refs);
                let lv = self.eval_with(list, &path.index(1), spans, refs);
                self.join(sep, &sv, list, &lv)
            }
            "fn::select" => {
                let Some([index, list]) = self.args::<2>(name, f, "[index, list]") else {
                    return Value::Unknown;
                };
                let iv = self.eval_with(index, &path.index(0), spans, refs);
                let lv = self.eval_with(list, &path.index(1), spans, refs);
                self.select(name, index, &iv, list, &lv)
            }
            "fn::split" => {
                let Some([sep, source]) = self.args::<2>(name, f, "[delimiter, string]") else {
                    return Value::Unknown;
                };
                let sv = self.eval_with(sep, &path.index(0), spans, refs);
                let tv = self.eval_with(source, &path.index(1), spans, refs);
                let (Some(sep_text), Some(text)) = (
                    self.string_arg(name, sep, &sv),
                    self.string_arg(name, source, &tv),
                ) else {
                    return Value::Unknown;
                };
                let parts = go_split(&text, &sep_text)
                    .into_iter()
                    .map(|p| Value::String(escape(&p)))
                    .collect();
                secret_if(
                    sv.contains_secret() || tv.contains_secret(),
                    Value::List(parts),
                )
            }
            "fn::length" => {
                let v = self.eval_with(&f.value, path, spans, refs);
                let secret = v.contains_secret();
                let n = match v.reveal() {
                    Value::List(l) => l.len(),
                    Value::Map(m) if !is_asset(&m) && !is_archive(&m) => m.len(),
                    Value::String(_) => match self.string_arg(name, &f.value, &v) {
                        Some(text) => grapheme_count(&text),
                        None => return Value::Unknown,
                    },
                    Value::Unknown => return Value::Unknown,
                    other => {
                        self.misuse(
                            &f.value,
                            format!(
                                "`fn::length` takes a list, map or string, not {}",
                                type_name(&other)
                            ),
                            "e.g. `fn::length: ${subnetIds}`",
                        );
                        return Value::Unknown;
                    }
                };
                secret_if(secret, Value::Int(n as i64))
            }
            "fn::toBase64" | "fn::sha1" => {
                let v = self.eval_with(&f.value, path, spans, refs);
                let Some(text) = self.string_arg(name, &f.value, &v) else {
                    return Value::Unknown;
                };
                let out = if name == "fn::sha1" {
                    use sha1::Digest as _;
                    let digest = sha1::Sha1::digest(text.as_bytes());
                    digest.iter().map(|b| format!("{b:02x}")).collect()
                } else {
                    base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
                };
                secret_if(v.contains_secret(), Value::String(escape(&out)))
            }
            "fn::fromBase64" => {
                let v = self.eval_with(&f.value, path, spans, refs);
                let Some(text) = self.string_arg(name, &f.value, &v) else {
                    return Value::Unknown;
                };
                let decoded = match base64::engine::general_purpose::STANDARD
                    .decode(text.as_bytes())
                {
                    Ok(bytes) => bytes,
                    Err(e) => {
                        self.misuse(
                            &f.value,
                            format!("`fn::fromBase64` cannot decode its argument: {e}"),
                            "the argument must be standard base64 (A-Z, a-z, 0-9, +, /, `=` padding)",
                        );
                        return Value::Unknown;
                    }
                };
                match String::from_utf8(decoded) {
                    Ok(s) => secret_if(v.contains_secret(), Value::String(escape(&s))),
                    Err(_) => {
                        self.misuse(
                            &f.value,
                            "`fn::fromBase64` decodes to bytes that are not valid UTF-8 text"
                                .into(),
                            "only text can be decoded; keep binary content base64-encoded",
                        );
                        Value::Unknown
                    }
                }
            }
            "fn::readFile" | "fn::filebase64" | "fn::filebase64sha256" => {
                let v = self.eval_with(&f.value, path, spans, refs);
                let Some(file) = self.string_arg(name, &f.value, &v) else {
                    return Value::Unknown;
                };
                let Some(bytes) = self.read(name, &f.value, &file) else {
                    return Value::Unknown;
                };
                let out = match name {
                    "fn::readFile" => String::from_utf8_lossy(&bytes).into_owned(),
                    "fn::filebase64" => base64::engine::general_purpose::STANDARD.encode(&bytes),
                    _ => {
                        use sha2::Digest as _;
                        base64::engine::general_purpose::STANDARD
                            .encode(sha2::Sha256::digest(&bytes))
                    }
                };
                secret_if(v.contains_secret(), Value::String(escape(&out)))
            }
            "fn::unsecret" => {
                let v = self.eval_with(&f.value, path, spans, refs);
                if matches!(v, Value::Unknown) {
                    return v;
                }
                v.reveal()
            }
            "fn::stringAsset" | "fn::fileAsset" | "fn::fileArchive" => {
                let v = self.eval_with(&f.value, path, spans, refs);
                let Some(text) = self.string_arg(name, &f.value, &v) else {
                    return Value::Unknown;
                };
                // An asset's `hash` is the hex SHA-256 of its content, as
                // Pulumi's engine records it; an archive's is left out.
                let content = match name {
                    "fn::fileAsset" => match self.read(name, &f.value, &text) {
                        Some(bytes) => Some(bytes),
                        None => return Value::Unknown,
                    },
                    "fn::stringAsset" => Some(text.as_bytes().to_vec()),
                    _ => None,
                };
                let (sig, field) = match name {
                    "fn::stringAsset" => (ASSET_SIG, "text"),
                    "fn::fileAsset" => (ASSET_SIG, "path"),
                    _ => (ARCHIVE_SIG, "path"),
                };
                let mut m = Map::new();
                m.insert(SIG_KEY.into(), Value::from(sig));
                m.insert(field.into(), Value::String(escape(&text)));
                if let Some(bytes) = content {
                    use sha2::Digest as _;
                    let hash: String = sha2::Sha256::digest(&bytes)
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    m.insert("hash".into(), Value::String(hash));
                }
                secret_if(v.contains_secret(), Value::Map(m))
            }
            "fn::assetArchive" => {
                if !matches!(f.value.kind, Kind::Map(_)) {
                    self.misuse(
                        &f.value,
                        format!(
                            "the argument to `fn::assetArchive` must be a map, not {}",
                            f.value.kind_name()
                        ),
                        "e.g. `fn::assetArchive: { index.html: { fn::fileAsset: ./index.html } }`",
                    );
                    return Value::Unknown;
                }
                let v = self.eval_with(&f.value, path, spans, refs);
                let Value::Map(items) = &v else {
                    return Value::Unknown;
                };
                let mut bad = false;
                for e in super::entries(&f.value) {
                    match items.get(&e.key) {
                        Some(Value::Map(m)) if is_asset(m) || is_archive(m) => {}
                        Some(Value::Unknown) | None => bad = true,
                        Some(other) => {
                            self.misuse(
                                &e.value,
                                format!("`fn::assetArchive` entry `{}` is {}, not an asset or archive", e.key, type_name(other)),
                                "wrap it: `{ fn::stringAsset: ... }`, `{ fn::fileAsset: path }` or `{ fn::fileArchive: path }`",
                            );
                            bad = true;
                        }
                    }
                }
                if bad {
                    return Value::Unknown;
                }
                let mut m = Map::new();
                m.insert(SIG_KEY.into(), Value::from(ARCHIVE_SIG));
                m.insert("assets".into(), v);
                Value::Map(m)
            }
            _ => Value::Unknown,
        }
    }

    /// The argument nodes of a function taking a list of `N`.
    fn args<'n, const N: usize>(
        &mut self,
        name: &str,
        f: &'n Entry,
        shape: &str,
    ) -> Option<[&'n Node; N]> {
        if let Kind::Seq(items) = &f.value.kind {
            if let Ok(arr) = <[&Node; N]>::try_from(items.iter().collect::<Vec<_>>()) {
                return Some(arr);
            }
        }
        let found = match &f.value.kind {
            Kind::Seq(items) => format!("a list of {}", items.len()),
            _ => f.value.kind_name().to_string(),
        };
        self.push(
            Problem::error(
                codes::FUNCTION_ARGUMENT,
                format!("`{name}` takes a list of {N} values `{shape}`, but is given {found}"),
            )
            .at(Some(f.value.span), format!("expected `{shape}`"))
            .help(format!("write `{name}: {shape}`")),
        );
        None
    }

    fn misuse(&mut self, node: &Node, message: String, help: &str) {
        self.push(
            Problem::error(codes::FUNCTION_ARGUMENT, message)
                .at(Some(node.span), "this argument")
                .help(help),
        );
    }

    /// The plain text of a string argument; `None` after a diagnostic.
    fn string_arg(&mut self, name: &str, node: &Node, v: &Value) -> Option<String> {
        match to_data(v, 0) {
            Arg::Failed => None,
            Arg::Later => {
                self.later(name, node);
                None
            }
            Arg::Known(data) => match data.reveal() {
                Value::String(s) => Some(s),
                other => {
                    self.misuse(
                        node,
                        format!("`{name}` takes a string here, not {}", type_name(&other)),
                        "pass text, e.g. a config value or a literal",
                    );
                    None
                }
            },
        }
    }

    /// A function applied to a resource output, known only at apply.
    fn later(&mut self, name: &str, node: &Node) {
        self.push(
            Problem::error(
                codes::FUNCTION_OF_OUTPUT,
                format!("`{name}` of a resource output is not supported yet"),
            )
            .at(Some(node.span), "known only after apply")
            .help("cairn evaluates this function when the stack loads; apply it to config values, variables or literals (`fn::select` also takes a whole `${resource.listOutput}`)"),
        );
    }

    /// Reads a file relative to the program's directory.
    fn read(&mut self, name: &str, node: &Node, file: &str) -> Option<Vec<u8>> {
        let result = match &self.files {
            Some(read) => read(file),
            None => Err("this loader was given no way to read files".to_string()),
        };
        match result {
            Ok(bytes) => Some(bytes),
            Err(why) => {
                self.push(
                    Problem::error(
                        codes::FILE_UNREADABLE,
                        format!("`{name}` cannot read `{file}`: {why}"),
                    )
                    .at(Some(node.span), "this file")
                    .help("paths are relative to the directory of the stack file that names them"),
                );
                None
            }
        }
    }

    /// `fn::join` as Pulumi's `evaluateBuiltinJoin`: a null delimiter is
    /// `""`; the delimiter and every item must be strings (a number or a
    /// boolean is an error, not written as text). Strings stay in template
    /// form, so an item holding a resource output is joined at apply.
    fn join(&mut self, sep: &Node, sv: &Value, list: &Node, lv: &Value) -> Value {
        if sv.contains_unknown() || lv.contains_unknown() {
            return Value::Unknown; // already reported
        }
        let secret = sv.contains_secret() || lv.contains_secret();
        let delimiter = match sv.reveal() {
            Value::Null => String::new(),
            Value::String(s) => s,
            other => {
                self.misuse(
                    sep,
                    format!(
                        "the delimiter of `fn::join` must be a string, not {}",
                        type_name(&other)
                    ),
                    "quote it to use it as text, e.g. `fn::join: [\"0\", [a, b]]`",
                );
                return Value::Unknown;
            }
        };
        let items = match lv.reveal() {
            Value::List(items) => items,
            Value::String(s) => {
                if matches!(to_data(&Value::String(s), 0), Arg::Later) {
                    self.later("fn::join", list);
                } else {
                    self.misuse(
                        list,
                        "`fn::join` takes a list of strings, not a string".into(),
                        "e.g. `fn::join: [\",\", [a, b]]`",
                    );
                }
                return Value::Unknown;
            }
            other => {
                self.misuse(
                    list,
                    format!(
                        "`fn::join` takes a list of strings, not {}",
                        type_name(&other)
                    ),
                    "e.g. `fn::join: [\",\", [a, b]]`",
                );
                return Value::Unknown;
            }
        };
        let written = match &list.kind {
            Kind::Seq(nodes) if nodes.len() == items.len() => Some(nodes),
            _ => None,
        };
        let mut parts = Vec::with_capacity(items.len());
        let mut failed = false;
        for (i, item) in items.into_iter().enumerate() {
            match item {
                Value::String(s) => parts.push(s),
                other => {
                    failed = true;
                    let at = written.map_or(list, |nodes| &nodes[i]);
                    self.misuse(
                        at,
                        format!(
                            "`fn::join` takes a list of strings, but item {i} is {}",
                            type_name(&other)
                        ),
                        "Pulumi YAML joins only strings; quote the item to join it as text, e.g. `\"3\"`",
                    );
                }
            }
        }
        if failed {
            return Value::Unknown;
        }
        secret_if(secret, Value::String(parts.join(&delimiter)))
    }

    fn select(&mut self, name: &str, index: &Node, iv: &Value, list: &Node, lv: &Value) -> Value {
        let i = match to_data(iv, 0) {
            Arg::Failed => return Value::Unknown,
            Arg::Later => {
                self.later(name, index);
                return Value::Unknown;
            }
            Arg::Known(v) => {
                match v.reveal() {
                    Value::Int(i) if i >= 0 => i as usize,
                    Value::Float(x) if x >= 0.0 && x.fract() == 0.0 && x < 1e15 => x as usize,
                    Value::Int(_) | Value::Float(_) => {
                        self.misuse(
                        index,
                        format!("the index of `fn::select` must be a non-negative whole number, not {}", v.reveal().to_masked_json()),
                        "indexes count from 0",
                    );
                        return Value::Unknown;
                    }
                    other => {
                        self.misuse(
                            index,
                            format!(
                                "the index of `fn::select` must be a number, not {}",
                                type_name(&other)
                            ),
                            "e.g. `fn::select: [0, ${subnetIds}]`",
                        );
                        return Value::Unknown;
                    }
                }
            }
        };
        let secret = iv.contains_secret() || lv.contains_secret();
        let mut inner = lv;
        while let Value::Secret(x) = inner {
            inner = x;
        }
        match inner {
            Value::Unknown => Value::Unknown,
            Value::List(items) => match items.get(i) {
                Some(item) => secret_if(secret, item.clone()),
                None => {
                    self.misuse(
                        index,
                        format!(
                            "index {i} is out of range for a list of length {}",
                            items.len()
                        ),
                        "indexes count from 0; `fn::length` gives a list's length",
                    );
                    Value::Unknown
                }
            },
            Value::String(s) => match interp::whole_reference(s) {
                // A whole resource output: select at apply through the reference.
                Some((root, p)) if self.is_resource(&root) => secret_if(
                    secret,
                    Value::String(interp::reference_text(&root, &p.index(i))),
                ),
                _ => {
                    if matches!(to_data(inner, 0), Arg::Later) {
                        self.later(name, list);
                    } else {
                        self.misuse(
                            list,
                            "`fn::select` takes a list, not a string".into(),
                            "e.g. `fn::select: [0, [a, b]]`; `fn::split` turns text into a list",
                        );
                    }
                    Value::Unknown
                }
            },
            other => {
                self.misuse(
                    list,
                    format!("`fn::select` takes a list, not {}", type_name(other)),
                    "e.g. `fn::select: [0, [a, b]]`",
                );
                Value::Unknown
            }
        }
    }
}
