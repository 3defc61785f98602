//! From what the cloud answered to a stack program and its state: one
//! resource per instance with `options.import`, properties as the cloud has
//! them, references (`${vpc.id}`) wherever a value is another imported
//! resource's id, and the disagreements between Terraform and the cloud.

use crate::mapping::Candidate;
use cairn_core::provider::Observed;
use cairn_core::schema::ResourceSchema;
use cairn_core::{Map, ResourceState, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// One resource the cloud returned.
#[derive(Clone, Debug)]
pub struct Found {
    pub candidate: Candidate,
    /// Its logical name (see [`crate::names::assign`]).
    pub name: String,
    pub schema: ResourceSchema,
    pub observed: Observed,
}

/// A property where Terraform's state and the cloud differ.
#[derive(Clone, Debug, PartialEq)]
pub struct Disagreement {
    pub resource: String,
    pub address: String,
    pub property: String,
    /// Masked when secret.
    pub terraform: String,
    pub cloud: String,
}

/// The program and the state that records it.
#[derive(Clone, Debug)]
pub struct Program {
    pub yaml: String,
    pub resources: Vec<ResourceState>,
    pub disagreements: Vec<Disagreement>,
    /// `name.property` of secret values kept in state but not written to the program.
    pub secrets_left_out: Vec<String>,
    /// How many references replaced literal ids.
    pub references: usize,
}

/// Builds the program for stack `stack`; `origin` says where it came from.
pub fn build(stack: &str, origin: &str, found: &[Found]) -> Program {
    build_with_outputs(stack, origin, found, &Map::new())
}

/// Like [`build`], with the stack's outputs (Terraform's root outputs):
/// an output equal to an imported id becomes a reference; a secret one is
/// left out (listed in `secrets_left_out` as `outputs.name`).
pub fn build_with_outputs(stack: &str, origin: &str, found: &[Found], outputs: &Map) -> Program {
    let mut found: Vec<&Found> = found.iter().collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));

    // Ids that other resources may refer to, and which output carries each.
    // A resource whose id is its own import id owns it; one that only
    // shares it (an association's id is its subnet's) comes second.
    let mut by_id: BTreeMap<&str, (&str, String)> = BTreeMap::new();
    let (owners, sharers): (Vec<&&Found>, Vec<&&Found>) = found
        .iter()
        .partition(|f| f.candidate.import_id == f.observed.id);
    for f in owners.into_iter().chain(sharers) {
        if !looks_generated(&f.observed.id) || by_id.contains_key(f.observed.id.as_str()) {
            continue;
        }
        let outputs = &f.observed.outputs;
        let key = match outputs.get("id").and_then(Value::as_str) {
            Some(v) if v == f.observed.id => Some("id".to_string()),
            _ => outputs
                .iter()
                .find(|(_, v)| v.as_str() == Some(f.observed.id.as_str()))
                .map(|(k, _)| k.clone()),
        };
        if let Some(key) = key {
            by_id.insert(&f.observed.id, (&f.name, key));
        }
    }

    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut references = 0;
    let mut resources = Vec::new();
    let mut disagreements = Vec::new();
    let mut secrets_left_out = Vec::new();
    let mut yaml = String::new();
    let _ = writeln!(
        yaml,
        "# Imported by `cairn import` from {}. Each resource is adopted as it is in the\n# cloud (options.import) and protected; values equal to another imported\n# resource's id are references, so this is the dependency graph.",
        origin.replace('\n', " ")
    );
    let _ = writeln!(yaml, "name: {}", scalar(&escape(stack)));
    let _ = writeln!(
        yaml,
        "description: {}",
        scalar(&escape(&format!("Imported from {origin}")))
    );
    let _ = writeln!(yaml, "resources:");

    for f in &found {
        let terraform = f.candidate.terraform.as_ref();
        let mut inputs: Map = f
            .observed
            .inputs
            .iter()
            .filter(|(_, v)| !matches!(v, Value::Null))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // What Terraform marks sensitive stays secret here too.
        if let Some(tf) = terraform {
            for (k, v) in inputs.iter_mut() {
                if tf.get(k).is_some_and(Value::contains_secret) {
                    *v = Value::secret(v.clone());
                }
            }
            disagreements.extend(compare(f, tf, &inputs));
        }
        let inputs = f.schema.normalize_inputs(&inputs);

        let _ = writeln!(yaml);
        if f.candidate.address != f.name {
            let _ = writeln!(yaml, "  # {}", f.candidate.address.replace('\n', " "));
        }
        let _ = writeln!(yaml, "  {}:", key(&f.name));
        let _ = writeln!(yaml, "    type: {}", scalar(&f.candidate.token));
        let mut props = String::new();
        for (k, v) in &f.observed.inputs {
            if matches!(v, Value::Null) {
                continue;
            }
            if inputs.get(k).is_some_and(Value::contains_secret) {
                secrets_left_out.push(format!("{}.{k}", f.name));
                continue;
            }
            let mut walk = |s: &str| -> Option<String> {
                let (target, out) = by_id.get(s)?;
                if *target == f.name || reaches(&edges, target, &f.name) {
                    return None;
                }
                edges
                    .entry(f.name.clone())
                    .or_default()
                    .insert(target.to_string());
                references += 1;
                Some(format!("${{{target}.{out}}}"))
            };
            let templ = template(v, &mut walk);
            emit(&mut props, 6, k, &templ);
        }
        if !props.is_empty() {
            let _ = writeln!(yaml, "    properties:");
            yaml.push_str(&props);
        }
        let _ = writeln!(yaml, "    options:");
        let _ = writeln!(yaml, "      import: {}", scalar(&escape(&f.observed.id)));
        let _ = writeln!(yaml, "      protect: true");

        resources.push(ResourceState {
            name: f.name.clone(),
            type_token: f.candidate.token.clone(),
            id: f.observed.id.clone(),
            inputs,
            outputs: f.schema.normalize_outputs(&f.observed.outputs),
            dependencies: Vec::new(),
            protect: true,
            retain_on_delete: false,
            imported: true,
            ..Default::default()
        });
    }
    let mut out_yaml = String::new();
    for (k, v) in outputs {
        if v.contains_secret() {
            secrets_left_out.push(format!("outputs.{k}"));
            continue;
        }
        let mut walk = |s: &str| -> Option<String> {
            let (target, out) = by_id.get(s)?;
            Some(format!("${{{target}.{out}}}"))
        };
        emit(&mut out_yaml, 2, k, &template(v, &mut walk));
    }
    if !out_yaml.is_empty() {
        let _ = writeln!(yaml, "\noutputs:");
        yaml.push_str(&out_yaml);
    }
    for r in &mut resources {
        r.dependencies = edges
            .get(&r.name)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
    }
    Program {
        yaml,
        resources,
        disagreements,
        secrets_left_out,
        references,
    }
}

/// Whether `from` already depends, directly or not, on `to`.
fn reaches(edges: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_string()];
    while let Some(n) = todo.pop() {
        if n == to {
            return true;
        }
        if seen.insert(n.clone()) {
            if let Some(next) = edges.get(&n) {
                todo.extend(next.iter().cloned());
            }
        }
    }
    false
}

/// An id AWS generated (`vpc-0a1b…`, `eipalloc-…`, an ARN, a key's UUID):
/// worth a reference. Names people chose (a subnet group's) are not, so a
/// group named like another resource does not become a false edge.
pub fn looks_generated(id: &str) -> bool {
    if id.starts_with("arn:") {
        return true;
    }
    let b = id.as_bytes();
    let uuid = b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        });
    if uuid {
        return true;
    }
    match id.rsplit_once('-') {
        Some((prefix, hex)) => {
            !prefix.is_empty()
                && prefix.bytes().all(|c| c.is_ascii_lowercase() || c == b'-')
                && hex.len() >= 8
                && hex.bytes().all(|c| c.is_ascii_hexdigit())
        }
        None => false,
    }
}

/// `$` is `$$` in a stack file's literal text.
fn escape(s: &str) -> String {
    s.replace('$', "$$")
}

/// The value in template form: literal strings escaped, ids replaced by
/// references where `walk` gives one.
fn template(v: &Value, walk: &mut dyn FnMut(&str) -> Option<String>) -> Value {
    match v {
        Value::String(s) => Value::String(walk(s).unwrap_or_else(|| escape(s))),
        Value::List(items) => Value::List(items.iter().map(|i| template(i, walk)).collect()),
        Value::Map(m) => Value::Map(
            m.iter()
                .map(|(k, v)| (escape(k), template(v, walk)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Writes `key: value` at `indent` in block style.
fn emit(out: &mut String, indent: usize, k: &str, v: &Value) {
    let pad = " ".repeat(indent);
    match v {
        Value::List(items) if !items.is_empty() => {
            let _ = writeln!(out, "{pad}{}:", key(k));
            emit_list(out, indent + 2, items);
        }
        Value::Map(m) if !m.is_empty() => {
            let _ = writeln!(out, "{pad}{}:", key(k));
            for (k2, v2) in m {
                emit(out, indent + 2, k2, v2);
            }
        }
        other => {
            let _ = writeln!(out, "{pad}{}: {}", key(k), inline(other));
        }
    }
}

fn emit_list(out: &mut String, indent: usize, items: &[Value]) {
    let pad = " ".repeat(indent);
    for item in items {
        match item {
            Value::Map(m) if !m.is_empty() => {
                // `- first: x` then the other keys under it.
                let mut block = String::new();
                for (k, v) in m {
                    emit(&mut block, indent + 2, k, v);
                }
                let block = block.trim_start_matches(' ');
                let _ = write!(out, "{pad}- {block}");
            }
            Value::List(inner) if !inner.is_empty() => {
                let _ = writeln!(out, "{pad}-");
                emit_list(out, indent + 2, inner);
            }
            other => {
                let _ = writeln!(out, "{pad}- {}", inline(other));
            }
        }
    }
}

fn inline(v: &Value) -> String {
    match v {
        Value::Null | Value::Unknown | Value::Secret(_) => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => {
            let s = f.to_string();
            if s.contains(['.', 'e', 'E']) || !f.is_finite() {
                s
            } else {
                format!("{s}.0")
            }
        }
        Value::String(s) => scalar(s),
        Value::List(_) => "[]".into(),
        Value::Map(_) => "{}".into(),
    }
}

fn key(k: &str) -> String {
    if k.contains(':') {
        quoted(k)
    } else {
        scalar(k)
    }
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// A string as a YAML scalar: plain when YAML 1.2 reads it back as the
/// same string, else double-quoted (JSON escapes are valid YAML).
pub fn scalar(s: &str) -> String {
    let first = s.chars().next();
    let needs_quotes = s.is_empty()
        || s.trim() != s
        || first.is_some_and(|c| "-?:,[]{}#&*!|>'\"%@`".contains(c))
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.chars().any(|c| c.is_control() || c == '\u{feff}')
        || matches!(
            s,
            "true" | "True" | "TRUE" | "false" | "False" | "FALSE" | "null" | "Null" | "NULL" | "~"
        )
        || s.parse::<f64>().is_ok()
        || s.starts_with("0x")
        || s.starts_with("0o")
        || s.starts_with('.')
        || s.starts_with('+');
    if needs_quotes {
        quoted(s)
    } else {
        s.to_string()
    }
}

/// Empty values (`null`, `""`, `[]`, `{}`) dropped, lists in a canonical
/// order (Terraform keeps many as sets), JSON documents parsed.
fn canonical(v: &Value) -> Option<serde_json::Value> {
    match v.reveal() {
        Value::Null | Value::Unknown => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) if s.trim_start().starts_with('{') => {
            Some(serde_json::from_str(&s).unwrap_or(serde_json::Value::String(s)))
        }
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9e15 => Some((f as i64).into()),
        Value::List(items) => {
            let mut list: Vec<serde_json::Value> = items.iter().filter_map(canonical).collect();
            list.sort_by_key(|a| a.to_string());
            (!list.is_empty()).then_some(serde_json::Value::Array(list))
        }
        Value::Map(m) => {
            let obj: serde_json::Map<String, serde_json::Value> = m
                .iter()
                .filter_map(|(k, v)| canonical(v).map(|c| (k.clone(), c)))
                .collect();
            (!obj.is_empty()).then_some(serde_json::Value::Object(obj))
        }
        other => Some(other.to_plain_json()),
    }
}

fn shown(v: Option<&Value>) -> String {
    match v {
        None => "(not set)".into(),
        Some(v) if v.contains_secret() => cairn_core::value::SECRET_MASK.into(),
        Some(v) => v.to_masked_json().to_string(),
    }
}

/// Every property Terraform recorded whose value the cloud does not have.
fn compare(f: &Found, tf: &Map, cloud: &Map) -> Vec<Disagreement> {
    let mut out = Vec::new();
    for (k, tv) in tf {
        let cv = cloud.get(k);
        if canonical(tv) == cv.and_then(canonical) {
            continue;
        }
        let secret = tv.contains_secret() || cv.is_some_and(Value::contains_secret);
        let (terraform, cloud) = if secret {
            (
                cairn_core::value::SECRET_MASK.to_string(),
                cairn_core::value::SECRET_MASK.to_string(),
            )
        } else {
            (
                shown(Some(tv).filter(|v| !matches!(v, Value::Null))),
                shown(cv),
            )
        };
        out.push(Disagreement {
            resource: f.name.clone(),
            address: f.candidate.address.clone(),
            property: k.clone(),
            terraform,
            cloud,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_told_from_chosen_names() {
        for id in [
            "vpc-0a1b2c3d4e5f60031",
            "subnet-12345678",
            "eipalloc-0123456789abcdef0",
            "arn:aws:iam::123456789012:policy/x",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
        ] {
            assert!(looks_generated(id), "{id}");
        }
        for id in ["qualisys-redis-prod", "rtb-1_10.0.0.0/16", "alias/x", "sg"] {
            assert!(!looks_generated(id), "{id}");
        }
    }

    fn found(name: &str, token: &str, import_id: &str, id: &str, inputs: &[(&str, &str)]) -> Found {
        let mut outputs = Map::new();
        outputs.insert("id".into(), Value::from(id));
        Found {
            candidate: Candidate {
                address: name.into(),
                name_hint: crate::mapping::NameHint {
                    modules: vec![],
                    name: name.into(),
                    type_word: String::new(),
                    index: None,
                },
                token: token.into(),
                import_id: import_id.into(),
                terraform: None,
            },
            name: name.into(),
            schema: ResourceSchema::new(token, ""),
            observed: Observed {
                id: id.into(),
                inputs: inputs
                    .iter()
                    .map(|(k, v)| (k.to_string(), Value::from(*v)))
                    .collect(),
                outputs,
            },
        }
    }

    /// An association's id is its subnet's (`subnet-…`): the subnet it
    /// names is still a reference to the subnet, not a literal.
    #[test]
    fn a_resource_sharing_its_subnets_id_still_refers_to_the_subnet() {
        let subnet = "subnet-0a1b2c3d4e5f6a201";
        let rtb = "rtb-0a1b2c3d4e5f6c001";
        let p = build(
            "n",
            "t",
            &[
                found("sub", "aws:ec2:Subnet", subnet, subnet, &[]),
                found("rt", "aws:ec2:RouteTable", rtb, rtb, &[]),
                found(
                    "assoc",
                    "aws:ec2:RouteTableAssociation",
                    &format!("{subnet}/{rtb}"),
                    subnet,
                    &[("subnetId", subnet), ("routeTableId", rtb)],
                ),
            ],
        );
        assert!(p.yaml.contains("subnetId: ${sub.id}"), "{}", p.yaml);
        assert!(p.yaml.contains("routeTableId: ${rt.id}"), "{}", p.yaml);
    }

    #[test]
    fn scalars_quote_what_yaml_would_read_otherwise() {
        assert_eq!(scalar("10.0.0.0/16"), "10.0.0.0/16");
        assert_eq!(scalar("${vpc.id}"), "${vpc.id}");
        for s in ["", "true", "6379", "1e3", "a: b", "- x", " x", "null", "#x"] {
            assert!(scalar(s).starts_with('"'), "{s:?}");
        }
    }
}
