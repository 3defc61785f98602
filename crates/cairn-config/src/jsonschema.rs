//! A JSON Schema (draft 2020-12) for stack files, generated from the
//! registry, for editor support through yaml-language-server:
//!
//! ```yaml
//! # yaml-language-server: $schema=./cairn-stack.schema.json
//! ```

use cairn_core::schema::{PropType, PropertySchema, ResourceSchema};
use cairn_core::Registry;
use serde_json::{json, Map as JsonMap, Value as Json};
use std::collections::BTreeMap;

/// The JSON Schema of a stack file whose resources use `registry`'s types:
/// a stack (`$defs/stack`, also the shape of a template) or, when it has a
/// `template:` key, an environment file (`$defs/environment`).
///
/// Each type gets a `$defs` entry for its `properties`, selected by an
/// `if`/`then` on the resource's `type`. Typed slots also accept a
/// `${...}` reference string and a built-in function (`fn::secret`, ...).
pub fn json_schema(registry: &Registry) -> Json {
    let mut schemas: Vec<&ResourceSchema> = registry.schemas().collect();
    schemas.sort_by(|a, b| a.token.cmp(&b.token));
    let tokens: Vec<&str> = schemas.iter().map(|s| s.token.as_str()).collect();

    let mut defs = JsonMap::new();
    defs.insert(
        "reference".into(),
        json!({
            "type": "string",
            "pattern": "^\\$\\{[^}]+\\}$",
            "description": "A reference: `${resource.output}`, `${configKey}` or `${variable}`."
        }),
    );
    defs.insert(
        "function".into(),
        json!({
            "type": "object",
            "minProperties": 1,
            "maxProperties": 1,
            "properties": {
                "fn::secret": { "description": "Marks the value secret: masked in output, encrypted in state." },
                "fn::toJSON": { "description": "The value as JSON text." },
                "fn::join": {
                    "type": "array",
                    "prefixItems": [{ "type": "string" }, { "type": "array" }],
                    "description": "`[separator, [a, b, ...]]`: the strings joined."
                },
                "fn::select": {
                    "type": "array",
                    "minItems": 2,
                    "maxItems": 2,
                    "description": "`[index, list]`: the list's element at the index (from 0)."
                },
                "fn::split": {
                    "type": "array",
                    "minItems": 2,
                    "maxItems": 2,
                    "description": "`[separator, text]`: the text split into a list (an empty separator splits into characters)."
                },
                "fn::length": { "description": "The number of items of a list or map, or of characters of a string." },
                "fn::toBase64": { "description": "The text, base64-encoded." },
                "fn::fromBase64": { "description": "Base64 text decoded (to UTF-8 text)." },
                "fn::readFile": { "description": "The content of a file, relative to the stack file's directory." },
                "fn::filebase64": { "description": "A file's content, base64-encoded." },
                "fn::filebase64sha256": { "description": "The base64 SHA-256 of a file's content." },
                "fn::sha1": { "description": "The hex SHA-1 of the text." },
                "fn::unsecret": { "description": "The value, no longer secret." },
                "fn::stringAsset": { "description": "An asset holding this text." },
                "fn::fileAsset": { "description": "An asset from this file." },
                "fn::fileArchive": { "description": "An archive from this file or directory." },
                "fn::assetArchive": { "type": "object", "description": "An archive of named assets and archives." },
                "fn::invoke": {
                    "type": "object",
                    "required": ["function"],
                    "properties": { "function": { "type": "string" }, "arguments": { "type": "object" }, "return": { "type": "string" }, "options": { "type": "object" } },
                    "description": "Calls a data source at preview (`function`, `arguments`, optional `return`)."
                }
            },
            "patternProperties": {
                "^fn::[A-Za-z0-9_-]+:[A-Za-z0-9_:/-]+$": { "type": "object", "description": "Shorthand for `fn::invoke` of `<pkg>:<fn>` with these arguments." }
            },
            "additionalProperties": false
        }),
    );
    defs.insert("options".into(), options_schema());
    defs.insert("configEntry".into(), config_entry_schema());

    let shared = shared_properties(&schemas);
    for (name, schema) in &shared {
        defs.insert(format!("property.{name}"), schema.clone());
    }
    let mut branches = Vec::new();
    for s in &schemas {
        defs.insert(def_name(&s.token), type_schema(s, &shared));
        branches.push(json!({
            "if": {
                "properties": { "type": { "const": s.token } },
                "required": ["type"]
            },
            "then": {
                "properties": {
                    "properties": { "$ref": format!("#/$defs/{}", pointer_escape(&def_name(&s.token))) }
                }
            }
        }));
    }
    let mut resource = json!({
        "type": "object",
        "required": ["type"],
        "additionalProperties": false,
        "properties": {
            "type": {
                "description": "The resource type token.",
                "enum": tokens
            },
            "properties": { "type": "object", "description": "The resource's input properties." },
            "options": { "$ref": "#/$defs/options" },
            "get": {
                "type": "object",
                "description": "Read an existing resource instead of managing it: its cloud `id` (and optional `state`).",
                "required": ["id"],
                "additionalProperties": false,
                "properties": { "id": { "type": "string" }, "state": { "type": "object" } }
            },
            "defaultProvider": {
                "type": "boolean",
                "description": "On a `pulumi:providers:<package>` resource: the provider of every resource of that package naming none."
            }
        }
    });
    if !branches.is_empty() {
        if let Some(obj) = resource.as_object_mut() {
            obj.insert("allOf".into(), Json::Array(branches));
        }
    }
    defs.insert("resource".into(), resource);

    defs.insert("policy".into(), policy_schema());
    defs.insert("stack".into(), stack_schema());
    defs.insert("environment".into(), environment_schema());

    // One file is either shape; `template:` tells them apart, as the loader
    // does. `if`/`then`/`else` (not `oneOf`) so that an error is reported
    // inside the shape the file has, at the offending key.
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "cairn stack file",
        "description": "A cairn stack (config, variables, resources, outputs and policy waivers: Pulumi YAML's shape), or an environment file that names a stack as its `template:` and gives its `config:` values.",
        "type": "object",
        "if": { "required": ["template"] },
        "then": { "$ref": "#/$defs/environment" },
        "else": { "$ref": "#/$defs/stack" },
        "$defs": Json::Object(defs)
    })
}

/// A stack by itself (also a template). Sections may be empty (`null`), as
/// the loader allows.
fn stack_schema() -> Json {
    json!({
        "description": "A stack: config, variables, resources, outputs and policy waivers.",
        "type": "object",
        "required": ["name", "resources"],
        "additionalProperties": false,
        "properties": {
            "name": { "type": "string", "minLength": 1, "description": "The stack's name." },
            "runtime": { "const": "yaml", "description": "Accepted for Pulumi compatibility." },
            "description": { "type": ["string", "null"] },
            "config": {
                "type": ["object", "null"],
                "description": "The stack's inputs; `--config key=value` overrides them.",
                "propertyNames": { "pattern": "^[A-Za-z0-9_-]+$" },
                "additionalProperties": { "$ref": "#/$defs/configEntry" }
            },
            "variables": {
                "type": ["object", "null"],
                "description": "Values computed once; may use `${config}` and other variables.",
                "propertyNames": { "pattern": "^[A-Za-z0-9_-]+$" }
            },
            "resources": {
                "type": ["object", "null"],
                "description": "Resources by logical name.",
                "propertyNames": { "minLength": 1 },
                "additionalProperties": { "$ref": "#/$defs/resource" }
            },
            "outputs": { "type": ["object", "null"], "description": "Stack outputs; may reference resource outputs." },
            "policy": { "$ref": "#/$defs/policy" },
            "pulumi": {
                "type": "object",
                "description": "Settings of the Pulumi CLI: `requiredVersion` is accepted and not checked.",
                "additionalProperties": false,
                "properties": { "requiredVersion": { "type": "string" } }
            }
        }
    })
}

/// An environment file (`stacks/<env>.yaml`): the template it configures,
/// typed values for the template's config keys, and extra waivers.
fn environment_schema() -> Json {
    json!({
        "description": "An environment file: names its template (a stack file) and gives values for the template's config keys.",
        "type": "object",
        "required": ["name", "template"],
        "additionalProperties": false,
        "properties": {
            "name": { "type": "string", "minLength": 1, "description": "The stack's name (replaces the template's)." },
            "description": { "type": ["string", "null"] },
            "template": {
                "type": "string",
                "minLength": 1,
                "description": "The stack file this environment configures, relative to this file."
            },
            "config": {
                "type": ["object", "null"],
                "description": "Values for the template's config keys (typed YAML, checked against the template's declarations); `--config key=value` overrides them.",
                "propertyNames": { "pattern": "^[A-Za-z0-9_-]+$" }
            },
            "policy": { "$ref": "#/$defs/policy" },
            "backend": {
                "type": "string",
                "pattern": "^(local|s3://.+)$",
                "description": "Where this stack's state lives, like Pulumi's `backend.url`: `local` or `s3://BUCKET/PREFIX?kms_key=KEY`. Every run of this stack uses it; a `--backend` or `$CAIRN_BACKEND` that names another is an error."
            }
        }
    })
}

fn policy_schema() -> Json {
    json!({
        "type": ["object", "null"],
        "additionalProperties": false,
        "properties": {
            "waivers": {
                "type": ["array", "null"],
                "items": {
                    "type": "object",
                    "required": ["rule", "reason"],
                    "additionalProperties": false,
                    "properties": {
                        "rule": { "type": "string", "description": "The policy rule id, e.g. CAIRN-POL-007." },
                        "resource": { "type": "string", "description": "The resource the waiver applies to (all when absent)." },
                        "reason": { "type": "string", "minLength": 1, "description": "Why the rule is waived." }
                    }
                }
            }
        }
    })
}

fn def_name(token: &str) -> String {
    format!("type:{token}")
}

/// Escapes a `$defs` key for use in a JSON pointer.
fn pointer_escape(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// Large property schemas that many types share unchanged (an AWS type's
/// `credentials`), written once under `$defs` and referenced.
fn shared_properties(schemas: &[&ResourceSchema]) -> BTreeMap<String, Json> {
    let mut seen: BTreeMap<String, (Json, usize, bool)> = BTreeMap::new();
    for s in schemas {
        for p in &s.properties {
            let schema = property_schema(p);
            match seen.get_mut(&p.name) {
                Some((first, count, same)) => {
                    *count += 1;
                    *same &= *first == schema;
                }
                None => {
                    seen.insert(p.name.clone(), (schema, 1, true));
                }
            }
        }
    }
    seen.into_iter()
        .filter(|(_, (schema, count, same))| {
            *same && *count >= 3 && schema.to_string().len() > 1_000
        })
        .map(|(name, (schema, _, _))| (name, schema))
        .collect()
}

fn type_schema(s: &ResourceSchema, shared: &BTreeMap<String, Json>) -> Json {
    let mut props = JsonMap::new();
    for p in &s.properties {
        let schema = match shared.get(&p.name) {
            Some(_) => json!({ "$ref": format!("#/$defs/property.{}", p.name) }),
            None => property_schema(p),
        };
        props.insert(p.name.clone(), schema);
    }
    let required: Vec<&str> = s
        .properties
        .iter()
        .filter(|p| p.required)
        .map(|p| p.name.as_str())
        .collect();
    let mut out = json!({
        "type": "object",
        "description": s.doc,
        "properties": Json::Object(props),
        "additionalProperties": false
    });
    if let Some(obj) = out.as_object_mut() {
        if !required.is_empty() {
            obj.insert("required".into(), json!(required));
        }
        if !s.outputs.is_empty() {
            let outs: Vec<String> = s.outputs.iter().map(|o| o.name.clone()).collect();
            obj.insert(
                "description".into(),
                Json::String(
                    format!("{} Outputs: {}.", s.doc, outs.join(", "))
                        .trim()
                        .to_string(),
                ),
            );
        }
    }
    out
}

fn property_schema(p: &PropertySchema) -> Json {
    let mut schema = prop_type_schema(&p.ty);
    let mut doc = p.doc.clone();
    if p.secret {
        doc.push_str(" (secret: masked in output, encrypted in state)");
    }
    if p.replace_on_change {
        doc.push_str(" (changing it replaces the resource)");
    }
    if let Some(obj) = schema.as_object_mut() {
        let doc = doc.trim();
        if !doc.is_empty() {
            obj.insert("description".into(), Json::String(doc.to_string()));
        }
        if let Some(d) = &p.default {
            obj.insert("default".into(), d.clone());
        }
    }
    schema
}

/// A typed slot: the type itself, or a reference, or a function.
fn prop_type_schema(ty: &PropType) -> Json {
    let typed = match ty {
        PropType::Any => return json!({}),
        PropType::Bool => json!({ "type": "boolean" }),
        PropType::Int { min, max } => {
            let mut o = json!({ "type": "integer" });
            if let Some(obj) = o.as_object_mut() {
                if let Some(m) = min {
                    obj.insert("minimum".into(), json!(m));
                }
                if let Some(m) = max {
                    obj.insert("maximum".into(), json!(m));
                }
            }
            o
        }
        PropType::String { min_len, max_len } => {
            // Lengths are checked on literal text only: a string with
            // references may be shorter or longer before apply.
            let mut o = json!({ "type": "string" });
            if let Some(obj) = o.as_object_mut() {
                if let Some(m) = min_len {
                    obj.insert("minLength".into(), json!(m));
                }
                if let Some(m) = max_len {
                    obj.insert("maxLength".into(), json!(m));
                }
            }
            return json!({ "anyOf": [o, { "type": "string", "pattern": "\\$\\{" }, { "$ref": "#/$defs/function" }] });
        }
        PropType::Enum { values } => json!({ "enum": values }),
        PropType::List { items } => json!({ "type": "array", "items": prop_type_schema(items) }),
        PropType::Map { values } => {
            json!({ "type": "object", "additionalProperties": prop_type_schema(values) })
        }
        PropType::Object { properties } => {
            let mut props = JsonMap::new();
            for p in properties {
                props.insert(p.name.clone(), property_schema(p));
            }
            let required: Vec<&str> = properties
                .iter()
                .filter(|p| p.required)
                .map(|p| p.name.as_str())
                .collect();
            let mut o = json!({
                "type": "object",
                "properties": Json::Object(props),
                "additionalProperties": false
            });
            if let (Some(obj), false) = (o.as_object_mut(), required.is_empty()) {
                obj.insert("required".into(), json!(required));
            }
            o
        }
    };
    json!({ "anyOf": [typed, { "$ref": "#/$defs/reference" }, { "$ref": "#/$defs/function" }] })
}

/// Options may take their values from config (`protect: ${isProd}`).
fn or_reference(schema: Json, description: &str) -> Json {
    json!({
        "anyOf": [schema, { "$ref": "#/$defs/reference" }],
        "description": description
    })
}

fn options_schema() -> Json {
    let timeout = json!({
        "anyOf": [
            { "type": "integer", "minimum": 0 },
            { "type": "string", "pattern": "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$" },
            { "$ref": "#/$defs/reference" }
        ],
        "description": "Seconds, or a Go duration such as \"60m\", \"1.5h\", \"1h30m\", \"90s\"."
    });
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "dependsOn": {
                "type": "array",
                "items": { "type": "string" },
                "description": "Resources (`name` or `${name}`) this one must come after."
            },
            "protect": or_reference(json!({ "type": "boolean" }), "Refuse to delete the resource."),
            "retainOnDelete": or_reference(json!({ "type": "boolean" }), "Forget the resource instead of deleting it."),
            "ignoreChanges": {
                "type": "array",
                "items": { "type": "string" },
                "description": "Property paths whose changes are ignored (`tags`, `tags[\"env\"]`, `ingress[0].description`)."
            },
            "replaceOnChanges": {
                "type": "array",
                "items": { "type": "string" },
                "description": "Property paths whose change forces a replace (`*` for any)."
            },
            "additionalSecretOutputs": {
                "type": "array",
                "items": { "type": "string" },
                "description": "Outputs recorded and shown as secret."
            },
            "aliases": {
                "type": "array",
                "items": { "anyOf": [{ "type": "string" }, { "type": "object" }] },
                "description": "Old names (URNs or `{name, type}`) of this resource: a rename keeps the cloud object."
            },
            "deletedWith": { "type": "string", "description": "A resource whose deletion deletes this one (no delete call of its own)." },
            "parent": { "type": "string", "description": "`${name}` of the resource this one is grouped under: created after it, deleted before it, inherits its `protect` and provider." },
            "provider": { "type": "string", "description": "`${name}` of a `pulumi:providers:<package>` resource of this resource's package (its region, default tags)." },
            "providers": {
                "anyOf": [
                    { "type": "object", "additionalProperties": { "type": "string" } },
                    { "type": "array", "items": { "type": "string" } }
                ],
                "description": "Providers by package (`{ aws: ${east} }`) or a list; the one of this resource's package is used."
            },
            "version": { "type": "string", "description": "Accepted with a warning: cairn's providers are built in." },
            "deleteBeforeReplace": or_reference(json!({ "type": "boolean" }), "Delete the old resource before creating its replacement."),
            "import": { "type": "string", "description": "Adopt the existing cloud resource with this id (may use `${config}`)." },
            "customTimeouts": {
                "type": "object",
                "additionalProperties": false,
                "properties": { "create": timeout, "update": timeout, "delete": timeout }
            }
        }
    })
}

fn config_entry_schema() -> Json {
    json!({
        "description": "A value, or a declaration `{ type, default, secret, description }`.",
        "anyOf": [
            {
                "type": "object",
                "additionalProperties": false,
                "anyOf": [{ "required": ["type"] }, { "required": ["default"] }],
                "properties": {
                    "type": { "enum": ["string", "integer", "boolean", "number", "list", "map", "str", "int", "bool", "float", "array", "object"] },
                    "default": {},
                    "secret": { "type": "boolean" },
                    "description": { "type": "string" }
                }
            },
            { "type": ["string", "integer", "number", "boolean", "array", "object", "null"] }
        ]
    })
}
