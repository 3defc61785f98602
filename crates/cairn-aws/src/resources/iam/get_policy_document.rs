//! `aws:iam:getPolicyDocument`: renders an IAM policy document as JSON, with
//! no network call, exactly as terraform-provider-aws's
//! `internal/service/iam/policy_document_data_source.go` and `policy_model.go`
//! (MPL-2.0) render it, which Pulumi's `aws.iam.getPolicyDocument` returns:
//! Go's `json.MarshalIndent(doc, "", "  ")`; `Version` defaults to
//! `2012-10-17`, `Effect` to `Allow`, an empty `Sid` is left out; a
//! one-element actions, resources or identifiers set is a string, a longer
//! one a list, reverse-sorted (`policyDecodeConfigStringList`); principals
//! and conditions are merged by type (test, variable), keys sorted;
//! condition values keep their order.

use cairn_core::provider::{CallContext, DataSource, DataSourceSchema, ProviderError};
use cairn_core::schema::{PropType, PropertySchema};
use cairn_core::value::{Map, Value};

pub const TOKEN: &str = "aws:iam:getPolicyDocument";

pub struct GetPolicyDocument {
    schema: DataSourceSchema,
}

impl Default for GetPolicyDocument {
    fn default() -> Self {
        Self::new()
    }
}

impl GetPolicyDocument {
    pub fn new() -> Self {
        let strings = || PropType::list(PropType::string());
        let principal = || {
            PropType::list(PropType::object(vec![
                PropertySchema::new("type", PropType::string()),
                PropertySchema::new("identifiers", strings()),
            ]))
        };
        let statement = PropType::object(vec![
            PropertySchema::new("sid", PropType::string()),
            PropertySchema::new("effect", PropType::one_of(&["Allow", "Deny"])),
            PropertySchema::new("actions", strings()),
            PropertySchema::new("notActions", strings()),
            PropertySchema::new("resources", strings()),
            PropertySchema::new("notResources", strings()),
            PropertySchema::new("principals", principal()),
            PropertySchema::new("notPrincipals", principal()),
            PropertySchema::new(
                "conditions",
                PropType::list(PropType::object(vec![
                    PropertySchema::new("test", PropType::string()),
                    PropertySchema::new("variable", PropType::string()),
                    PropertySchema::new("values", strings()),
                ])),
            ),
        ]);
        let mut version =
            PropertySchema::new("version", PropType::one_of(&["2012-10-17", "2008-10-17"]));
        version.doc = "the policy language version, `2012-10-17` (default) or `2008-10-17`".into();
        let mut statements = PropertySchema::new("statements", PropType::list(statement));
        statements.doc = "statements: sid, effect, actions, notActions, resources, notResources, principals, notPrincipals, conditions".into();
        GetPolicyDocument {
            schema: DataSourceSchema {
                token: TOKEN.into(),
                description: "An IAM policy document rendered as JSON (no AWS call).".into(),
                inputs: vec![
                    version,
                    PropertySchema::new("policyId", PropType::string()),
                    statements,
                ],
                outputs: vec!["id".into(), "json".into(), "minifiedJson".into()],
            },
        }
    }
}

#[async_trait::async_trait]
impl DataSource for GetPolicyDocument {
    fn schema(&self) -> &DataSourceSchema {
        &self.schema
    }

    async fn invoke(&self, _ctx: &CallContext, args: &Map) -> Result<Map, ProviderError> {
        render(args).map_err(|m| ProviderError::invalid(TOKEN, m))
    }
}

/// A JSON value in Go's field order.
enum J {
    Str(String),
    List(Vec<J>),
    Obj(Vec<(String, J)>),
}

/// The `json`, `minifiedJson` and `id` results.
pub fn render(args: &Map) -> Result<Map, String> {
    let doc = document(args)?;
    let mut pretty = String::new();
    write(&mut pretty, &doc, Some(0));
    let mut minified = String::new();
    write(&mut minified, &doc, None);
    let mut out = Map::new();
    // Terraform's id is the hashcode of the JSON; Pulumi shows it, nothing
    // depends on it.
    out.insert(
        "id".into(),
        Value::String(crc32(pretty.as_bytes()).to_string()),
    );
    out.insert("json".into(), Value::String(pretty));
    out.insert("minifiedJson".into(), Value::String(minified));
    Ok(out)
}

fn document(args: &Map) -> Result<J, String> {
    let mut doc = Vec::new();
    let version = str_of(args.get("version")).unwrap_or_else(|| "2012-10-17".into());
    doc.push(("Version".to_string(), J::Str(version)));
    if let Some(id) = str_of(args.get("policyId")).filter(|s| !s.is_empty()) {
        doc.push(("Id".to_string(), J::Str(id)));
    }
    let mut statements = Vec::new();
    for (i, st) in list_of(args.get("statements")).iter().enumerate() {
        let st = st
            .as_map()
            .ok_or_else(|| format!("statements[{i}] must be a map"))?;
        statements.push(statement(st).map_err(|m| format!("statements[{i}]: {m}"))?);
    }
    if !statements.is_empty() {
        doc.push(("Statement".to_string(), J::List(statements)));
    }
    Ok(J::Obj(doc))
}

fn statement(st: &Map) -> Result<J, String> {
    let mut out = Vec::new();
    if let Some(sid) = str_of(st.get("sid")).filter(|s| !s.is_empty()) {
        out.push(("Sid".to_string(), J::Str(sid)));
    }
    let effect = str_of(st.get("effect")).unwrap_or_else(|| "Allow".into());
    out.push(("Effect".to_string(), J::Str(effect)));
    for (key, name) in [
        ("actions", "Action"),
        ("notActions", "NotAction"),
        ("resources", "Resource"),
        ("notResources", "NotResource"),
    ] {
        let set = tf_set(strings(st.get(key))?);
        if let Some(j) = one_or_list(set) {
            out.push((name.to_string(), j));
        }
    }
    for (key, name) in [
        ("principals", "Principal"),
        ("notPrincipals", "NotPrincipal"),
    ] {
        if let Some(j) = principals(st.get(key))? {
            out.push((name.to_string(), j));
        }
    }
    if let Some(j) = conditions(st.get("conditions"))? {
        out.push(("Condition".to_string(), j));
    }
    Ok(J::Obj(out))
}

/// `IAMPolicyStatementPrincipalSet.MarshalJSON`.
fn principals(v: Option<&Value>) -> Result<Option<J>, String> {
    let mut set = Vec::new();
    for p in list_of(v) {
        let p = p
            .as_map()
            .ok_or("a principal must be a map of type and identifiers")?;
        let ty = str_of(p.get("type")).ok_or("a principal needs `type`")?;
        let ids = tf_set(strings(p.get("identifiers"))?);
        set.push((ty, ids));
    }
    if set.is_empty() {
        return Ok(None);
    }
    // Principals are a set too: ordered by their hash; any stable order of
    // distinct types gives the same JSON (keys are sorted below) except for
    // two principals of one type, which are rare and merged in set order.
    let set = tf_set_by(set, |(t, ids)| format!("{t}-{}", ids.join("-")));
    if set.len() == 1 && set[0].0 == "*" && set[0].1 == ["*"] {
        return Ok(Some(J::Str("*".into())));
    }
    let mut raw: Vec<(String, Vec<String>, bool)> = Vec::new(); // type, ids, is list
    for (ty, mut ids) in set {
        let slot = raw.iter().position(|(t, _, _)| *t == ty);
        if ids.len() == 1 {
            match slot {
                None => raw.push((ty, ids, false)),
                Some(i) => {
                    raw[i].1.extend(ids);
                    raw[i].2 = true;
                }
            }
        } else {
            ids.sort_by(|a, b| b.cmp(a));
            match slot {
                None => raw.push((ty, ids, true)),
                Some(i) => {
                    raw[i].1.extend(ids);
                    raw[i].2 = true;
                }
            }
        }
    }
    raw.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Some(J::Obj(
        raw.into_iter()
            .map(|(t, ids, is_list)| {
                let j = if is_list {
                    J::List(ids.into_iter().map(J::Str).collect())
                } else {
                    J::Str(ids.into_iter().next().unwrap_or_default())
                };
                (t, j)
            })
            .collect(),
    )))
}

/// `IAMPolicyStatementConditionSet.MarshalJSON`: test, then variable, keys sorted.
fn conditions(v: Option<&Value>) -> Result<Option<J>, String> {
    let mut set = Vec::new();
    for c in list_of(v) {
        let c = c
            .as_map()
            .ok_or("a condition must be a map of test, variable and values")?;
        let test = str_of(c.get("test")).ok_or("a condition needs `test`")?;
        let variable = str_of(c.get("variable")).ok_or("a condition needs `variable`")?;
        let values: Vec<String> = strings(c.get("values"))?.iter().map(|v| vars(v)).collect();
        set.push((test, variable, values));
    }
    if set.is_empty() {
        return Ok(None);
    }
    let set = tf_set_by(set, |(t, v, vals)| format!("{t}-{v}-{}", vals.join("-")));
    let mut raw: std::collections::BTreeMap<
        String,
        std::collections::BTreeMap<String, (Vec<String>, bool)>,
    > = Default::default();
    for (test, variable, values) in set {
        let slot = raw.entry(test).or_default();
        match slot.get_mut(&variable) {
            None => {
                let is_list = values.len() != 1;
                slot.insert(variable, (values, is_list));
            }
            Some((existing, is_list)) => {
                existing.extend(values);
                *is_list = true;
            }
        }
    }
    Ok(Some(J::Obj(
        raw.into_iter()
            .map(|(test, vars)| {
                let vars = vars
                    .into_iter()
                    .map(|(var, (vals, is_list))| {
                        let j = if is_list {
                            J::List(vals.into_iter().map(J::Str).collect())
                        } else {
                            J::Str(vals.into_iter().next().unwrap_or_default())
                        };
                        (var, j)
                    })
                    .collect();
                (test, J::Obj(vars))
            })
            .collect(),
    )))
}

/// `policyDecodeConfigStringList`: one element is a string.
fn one_or_list(set: Vec<String>) -> Option<J> {
    match set.len() {
        0 => None,
        1 => set.into_iter().next().map(J::Str),
        _ => Some(J::List(set.into_iter().map(J::Str).collect())),
    }
}

/// A string set as `policyDecodeConfigStringList` writes it: duplicates
/// dropped, reverse-sorted, with Terraform's `&{` written `${` (IAM policy
/// variables).
fn tf_set(mut items: Vec<String>) -> Vec<String> {
    items.sort_by(|a, b| b.cmp(a));
    items.dedup();
    items.into_iter().map(|s| vars(&s)).collect()
}

/// `&{aws:username}` is `${aws:username}`, as Terraform's replacer writes it.
fn vars(s: &str) -> String {
    s.replace("&{", "${")
}

fn tf_set_by<T>(items: Vec<T>, key: impl Fn(&T) -> String) -> Vec<T> {
    let mut keyed: Vec<(String, T)> = Vec::new();
    for it in items {
        let k = crc32(key(&it).as_bytes()).to_string();
        if !keyed.iter().any(|(x, _)| *x == k) {
            keyed.push((k, it));
        }
    }
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.into_iter().map(|(_, it)| it).collect()
}

/// CRC-32 (IEEE), as Go's `crc32.ChecksumIEEE`.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn str_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Secret(inner) => str_of(Some(inner)),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn list_of(v: Option<&Value>) -> &[Value] {
    match v {
        Some(Value::List(l)) => l,
        Some(Value::Secret(inner)) => list_of(Some(inner)),
        _ => &[],
    }
}

fn strings(v: Option<&Value>) -> Result<Vec<String>, String> {
    list_of(v)
        .iter()
        .map(|x| {
            str_of(Some(x)).ok_or_else(|| format!("expected strings, found {}", x.type_name()))
        })
        .collect()
}

/// Go's `json.MarshalIndent(v, "", "  ")` (`indent` = Some(depth)) or `json.Marshal`.
fn write(out: &mut String, j: &J, indent: Option<usize>) {
    let nl = |out: &mut String, d: usize| {
        out.push('\n');
        for _ in 0..d {
            out.push_str("  ");
        }
    };
    match j {
        J::Str(s) => out.push_str(
            &cairn_core::gojson::to_go_json(&Value::String(s.clone())).unwrap_or_default(),
        ),
        J::List(items) => {
            out.push('[');
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if let Some(d) = indent {
                    nl(out, d + 1);
                }
                write(out, it, indent.map(|d| d + 1));
            }
            if let (Some(d), false) = (indent, items.is_empty()) {
                nl(out, d);
            }
            out.push(']');
        }
        J::Obj(fields) => {
            out.push('{');
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if let Some(d) = indent {
                    nl(out, d + 1);
                }
                write(out, &J::Str(k.clone()), None);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write(out, v, indent.map(|d| d + 1));
            }
            if let (Some(d), false) = (indent, fields.is_empty()) {
                nl(out, d);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_core::value::Value;

    fn l(items: &[&str]) -> Value {
        Value::List(items.iter().map(|s| Value::String(s.to_string())).collect())
    }
    fn m(pairs: Vec<(&str, Value)>) -> Value {
        Value::Map(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }
    fn principal(ty: &str, ids: &[&str]) -> Value {
        m(vec![
            ("type", Value::String(ty.into())),
            ("identifiers", l(ids)),
        ])
    }

    /// terraform-provider-aws `internal/service/iam/policy_document_data_source_test.go`
    /// (`TestAccIAMPolicyDocumentDataSource_basic`: its configuration and
    /// `testAccPolicyDocumentExpectedJSON`, with the second principal of
    /// its `_source` variant), MPL-2.0, HashiCorp; written here in Pulumi's
    /// argument names. Terraform 4+ leaves out the empty `"Sid": ""` lines
    /// that older expected JSON shows.
    #[test]
    fn renders_as_terraform_renders_its_basic_example() {
        let args = match m(vec![
            ("policyId", Value::String("policy_id".into())),
            (
                "statements",
                Value::List(vec![
                    m(vec![
                        ("sid", Value::String("1".into())),
                        (
                            "actions",
                            l(&["s3:ListAllMyBuckets", "s3:GetBucketLocation"]),
                        ),
                        ("resources", l(&["arn:aws:s3:::*"])),
                    ]),
                    m(vec![
                        ("actions", l(&["s3:ListBucket"])),
                        ("resources", l(&["arn:aws:s3:::foo"])),
                        (
                            "conditions",
                            Value::List(vec![m(vec![
                                ("test", Value::String("StringLike".into())),
                                ("variable", Value::String("s3:prefix".into())),
                                ("values", l(&["home/", "", "home/&{aws:username}/"])),
                            ])]),
                        ),
                        (
                            "notPrincipals",
                            Value::List(vec![principal("AWS", &["arn:blahblah:example"])]),
                        ),
                    ]),
                    m(vec![
                        ("actions", l(&["s3:*"])),
                        (
                            "resources",
                            l(&[
                                "arn:aws:s3:::foo/home/&{aws:username}",
                                "arn:aws:s3:::foo/home/&{aws:username}/*",
                            ]),
                        ),
                        (
                            "principals",
                            Value::List(vec![principal(
                                "AWS",
                                &["arn:blahblah:example", "arn:blahblahblah:example"],
                            )]),
                        ),
                    ]),
                    m(vec![
                        ("effect", Value::String("Deny".into())),
                        ("notActions", l(&["s3:*"])),
                        ("notResources", l(&["arn:aws:s3:::*"])),
                    ]),
                    m(vec![
                        ("effect", Value::String("Allow".into())),
                        ("actions", l(&["kinesis:*"])),
                        ("principals", Value::List(vec![principal("AWS", &["*"])])),
                    ]),
                    m(vec![
                        ("effect", Value::String("Allow".into())),
                        ("actions", l(&["firehose:*"])),
                        ("principals", Value::List(vec![principal("*", &["*"])])),
                    ]),
                ]),
            ),
        ]) {
            Value::Map(m) => m,
            _ => unreachable!(),
        };
        let out = render(&args).expect("renders");
        let expected = r#"{
  "Version": "2012-10-17",
  "Id": "policy_id",
  "Statement": [
    {
      "Sid": "1",
      "Effect": "Allow",
      "Action": [
        "s3:ListAllMyBuckets",
        "s3:GetBucketLocation"
      ],
      "Resource": "arn:aws:s3:::*"
    },
    {
      "Effect": "Allow",
      "Action": "s3:ListBucket",
      "Resource": "arn:aws:s3:::foo",
      "NotPrincipal": {
        "AWS": "arn:blahblah:example"
      },
      "Condition": {
        "StringLike": {
          "s3:prefix": [
            "home/",
            "",
            "home/${aws:username}/"
          ]
        }
      }
    },
    {
      "Effect": "Allow",
      "Action": "s3:*",
      "Resource": [
        "arn:aws:s3:::foo/home/${aws:username}/*",
        "arn:aws:s3:::foo/home/${aws:username}"
      ],
      "Principal": {
        "AWS": [
          "arn:blahblahblah:example",
          "arn:blahblah:example"
        ]
      }
    },
    {
      "Effect": "Deny",
      "NotAction": "s3:*",
      "NotResource": "arn:aws:s3:::*"
    },
    {
      "Effect": "Allow",
      "Action": "kinesis:*",
      "Principal": {
        "AWS": "*"
      }
    },
    {
      "Effect": "Allow",
      "Action": "firehose:*",
      "Principal": "*"
    }
  ]
}"#;
        assert_eq!(
            out["json"],
            Value::String(expected.into()),
            "{}",
            out["json"].as_str().unwrap_or("")
        );
        let minified: serde_json::Value =
            serde_json::from_str(out["minifiedJson"].as_str().unwrap_or("")).expect("json");
        let pretty: serde_json::Value = serde_json::from_str(expected).expect("json");
        assert_eq!(minified, pretty);
    }

    #[test]
    fn go_escapes_and_empty_document() {
        let out = render(&Map::new()).expect("renders");
        assert_eq!(
            out["json"],
            Value::String("{\n  \"Version\": \"2012-10-17\"\n}".into())
        );
        let mut args = Map::new();
        args.insert(
            "statements".into(),
            Value::List(vec![m(vec![("actions", l(&["a<b>&"]))])]),
        );
        let out = render(&args).expect("renders");
        assert!(
            out["minifiedJson"]
                .as_str()
                .unwrap_or("")
                .contains("a\\u003cb\\u003e\\u0026"),
            "{:?}",
            out["minifiedJson"]
        );
    }
}
