//! JSON text exactly as Go's `encoding/json.Marshal` writes it, which is
//! what Pulumi YAML's `fn::toJSON` produces: keys sorted, no spaces, `<`,
//! `>`, `&`, U+2028 and U+2029 escaped, and numbers as float64 (`2`, not
//! `2.0`; an exponent from 1e21 up and below 1e-6).

use crate::value::Value;
use std::fmt::Write;

/// Why a value has no Go JSON encoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GoJsonError {
    /// NaN or an infinity (Go: "json: unsupported value").
    NonFinite,
    /// An unknown (not yet computed) value.
    Unknown,
}

/// `value` (secrets revealed) as Go's `json.Marshal` would write it.
pub fn to_go_json(value: &Value) -> Result<String, GoJsonError> {
    let mut out = String::new();
    write_value(&mut out, value, false)?;
    Ok(out)
}

/// [`to_go_json`] of a value whose strings are templates holding
/// `${resource.output}` references (`fn::toJSON` before apply): the result
/// is a template too. A string that is one reference becomes
/// `${@json:...}` (the output's JSON, whatever its type, as Pulumi writes
/// it once known); a reference inside a string becomes `${@jsonstr:...}`
/// (its text, escaped as JSON); literal text is escaped now.
pub fn to_go_json_template(value: &Value) -> Result<String, GoJsonError> {
    let mut out = String::new();
    write_value(&mut out, value, true)?;
    Ok(out)
}

fn write_template(out: &mut String, s: &str) {
    use crate::interp::{self, Part, RefFormat};
    let parts = match interp::parse(s) {
        Ok(parts) if parts.iter().any(|p| matches!(p, Part::Ref { .. })) => parts,
        _ => return write_string(out, s),
    };
    if let [Part::Ref { root, path, .. }] = parts.as_slice() {
        out.push_str(&interp::reference_text_as(root, path, RefFormat::Json));
        return;
    }
    out.push('"');
    for part in &parts {
        match part {
            Part::Literal(l) => {
                let mut quoted = String::new();
                write_string(&mut quoted, l);
                // Literal `$` stays literal in the template.
                out.push_str(&quoted[1..quoted.len() - 1].replace('$', "$$"));
            }
            Part::Ref { root, path, .. } => out.push_str(&interp::reference_text_as(
                root,
                path,
                RefFormat::JsonInString,
            )),
        }
    }
    out.push('"');
}

fn write_value(out: &mut String, value: &Value, templates: bool) -> Result<(), GoJsonError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        // Pulumi YAML numbers are float64; beyond 2^53 an integer rounds as one.
        Value::Int(i) if i.unsigned_abs() <= 1 << 53 => {
            let _ = write!(out, "{i}");
        }
        Value::Int(i) => write_float(out, *i as f64)?,
        Value::Float(f) => write_float(out, *f)?,
        Value::String(s) if templates => write_template(out, s),
        Value::String(s) => write_string(out, s),
        Value::List(items) => {
            out.push('[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                write_value(out, item, templates)?;
            }
            out.push(']');
        }
        // `Map` is ordered by key bytes, as Go sorts map keys.
        Value::Map(map) => {
            out.push('{');
            for (n, (k, v)) in map.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_value(out, v, templates)?;
            }
            out.push('}');
        }
        Value::Secret(inner) => write_value(out, inner, templates)?,
        Value::Unknown => return Err(GoJsonError::Unknown),
    }
    Ok(())
}

fn write_float(out: &mut String, f: f64) -> Result<(), GoJsonError> {
    if !f.is_finite() {
        return Err(GoJsonError::NonFinite);
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Rust writes `1e21` and `1e-7`; Go writes `1e+21` and `1e-7`.
        let text = format!("{f:e}");
        match text.split_once('e') {
            Some((mantissa, exp)) if !exp.starts_with('-') => {
                let _ = write!(out, "{mantissa}e+{exp}");
            }
            _ => out.push_str(&text),
        }
    } else {
        // Shortest round-trip digits, no exponent, no trailing `.0`.
        let _ = write!(out, "{f}");
    }
    Ok(())
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(v: serde_json::Value) -> String {
        to_go_json(&Value::from_json(&v)).unwrap()
    }

    #[test]
    fn numbers_as_go_writes_float64() {
        assert_eq!(
            go(serde_json::json!([
                2.0, 0.5, 1e21, 1.5e-7, 1e-6, -0.0, 3, 123456.0
            ])),
            "[2,0.5,1e+21,1.5e-7,0.000001,-0,3,123456]"
        );
        assert_eq!(
            to_go_json(&Value::Int(1 << 60)).unwrap(),
            "1152921504606847000"
        );
        assert_eq!(
            to_go_json(&Value::Float(f64::NAN)),
            Err(GoJsonError::NonFinite)
        );
    }

    #[test]
    fn templates_write_outputs_as_json_once_known() {
        let v = Value::from_json(&serde_json::json!({
            "port": "${db.port}",
            "arn": "arn:${b.name}/\"<$$x>\"",
            "plain": "cost $$5",
        }));
        assert_eq!(
            to_go_json_template(&v).unwrap(),
            r#"{"arn":"arn:${@jsonstr:b.name}/\"\u003c$$x\u003e\"","plain":"cost $$5","port":${@json:db.port}}"#
        );
        // Without a reference: what `to_go_json` writes.
        let plain = Value::from_json(&serde_json::json!({"a": "$$b <c>"}));
        assert_eq!(to_go_json_template(&plain), to_go_json(&plain));
    }

    #[test]
    fn strings_escape_html_and_line_separators() {
        assert_eq!(
            go(serde_json::json!("<a href=\"x\">&\u{2028}\u{8}\u{1f}</a>")),
            r#""\u003ca href=\"x\"\u003e\u0026\u2028\b\u001f\u003c/a\u003e""#
        );
    }

    #[test]
    fn keys_sorted_and_secrets_revealed() {
        let v = Value::Map(
            [
                ("b".to_string(), Value::secret(1)),
                ("a".to_string(), Value::Null),
            ]
            .into_iter()
            .collect(),
        );
        assert_eq!(to_go_json(&v).unwrap(), r#"{"a":null,"b":1}"#);
        assert_eq!(to_go_json(&Value::Unknown), Err(GoJsonError::Unknown));
    }
}
