//! JSON policy documents: the preview-time shape checks IAM and S3 apply
//! (role trust policies, bucket policies), and a semantic comparison so
//! white space, key order and `"a"` versus `["a"]` are never drift.

use serde_json::Value as Json;

/// Which kind of document: what AWS requires and forbids differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DocKind {
    /// A role's trust policy: every statement names a principal; `Resource` is prohibited.
    Trust,
    /// A resource policy (bucket policy): principals and resources required.
    Resource,
}

const VERSIONS: &[&str] = &["2012-10-17", "2008-10-17"];

/// Why `doc` is not a policy AWS would accept, or `None`.
pub(crate) fn problem(doc: &str, kind: DocKind) -> Option<String> {
    let v: Json = match serde_json::from_str(doc) {
        Ok(v) => v,
        Err(e) => return Some(format!("the policy document is not valid JSON: {e}")),
    };
    let Some(obj) = v.as_object() else {
        return Some("the policy document is not a JSON object".into());
    };
    if let Some(k) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "Version" | "Id" | "Statement"))
    {
        return Some(format!(
            "the policy document has an unknown top-level field `{k}`"
        ));
    }
    match obj.get("Version") {
        None => {}
        Some(Json::String(s)) if VERSIONS.contains(&s.as_str()) => {}
        Some(other) => {
            return Some(format!(
                "the policy Version is {other}; AWS accepts \"2012-10-17\" or \"2008-10-17\""
            ))
        }
    }
    let statements: Vec<&Json> = match obj.get("Statement") {
        Some(Json::Array(a)) if !a.is_empty() => a.iter().collect(),
        Some(s @ Json::Object(_)) => vec![s],
        Some(Json::Array(_)) => return Some("the policy has an empty Statement list".into()),
        _ => return Some("the policy document has no Statement".into()),
    };
    for (i, st) in statements.iter().enumerate() {
        let Some(st) = st.as_object() else {
            return Some(format!("statement {i} is not a JSON object"));
        };
        let at = |what: &str| format!("statement {i}: {what}");
        match st.get("Effect").and_then(Json::as_str) {
            Some("Allow" | "Deny") => {}
            _ => return Some(at("Effect must be \"Allow\" or \"Deny\"")),
        }
        if st.contains_key("Action") == st.contains_key("NotAction") {
            return Some(at("give exactly one of Action or NotAction"));
        }
        for k in ["Action", "NotAction"] {
            if let Some(a) = st.get(k) {
                if !strings_ok(a) {
                    return Some(at(&format!("{k} must be a string or a list of strings")));
                }
            }
        }
        let has_principal = st.contains_key("Principal") || st.contains_key("NotPrincipal");
        if let Some(p) = st.get("Principal").or_else(|| st.get("NotPrincipal")) {
            if let Some(msg) = principal_problem(p) {
                return Some(at(&msg));
            }
        }
        let has_resource = st.contains_key("Resource") || st.contains_key("NotResource");
        match kind {
            DocKind::Trust => {
                if !has_principal {
                    return Some(at(
                        "a trust policy statement must name a Principal (who may assume the role)",
                    ));
                }
                if has_resource {
                    return Some(at("a trust policy has the prohibited field Resource"));
                }
            }
            DocKind::Resource => {
                if !has_principal {
                    return Some(at("a resource policy statement must name a Principal"));
                }
                if !has_resource {
                    return Some(at("a resource policy statement must name a Resource"));
                }
            }
        }
        for k in ["Resource", "NotResource"] {
            if let Some(r) = st.get(k) {
                if !strings_ok(r) {
                    return Some(at(&format!("{k} must be a string or a list of strings")));
                }
            }
        }
        if let Some(c) = st.get("Condition") {
            if !c.is_object() {
                return Some(at("Condition must be an object of operators"));
            }
        }
    }
    None
}

fn strings_ok(v: &Json) -> bool {
    match v {
        Json::String(s) => !s.is_empty(),
        Json::Array(a) => {
            !a.is_empty() && a.iter().all(|x| x.as_str().is_some_and(|s| !s.is_empty()))
        }
        _ => false,
    }
}

fn principal_problem(p: &Json) -> Option<String> {
    match p {
        Json::String(s) if s == "*" => None,
        Json::String(s) => Some(format!(
            "Principal \"{s}\" is not valid: use \"*\" or an object such as {{\"Service\": \"eks.amazonaws.com\"}}"
        )),
        Json::Object(m) if m.is_empty() => Some("Principal is an empty object".into()),
        Json::Object(m) => {
            if let Some(k) = m
                .keys()
                .find(|k| !matches!(k.as_str(), "AWS" | "Service" | "Federated" | "CanonicalUser"))
            {
                return Some(format!(
                    "Principal type `{k}` is not one of AWS, Service, Federated, CanonicalUser"
                ));
            }
            m.values()
                .all(strings_ok)
                .then_some(())
                .map_or(Some("each Principal entry must be a string or a list of strings".into()), |_| None)
        }
        _ => Some("Principal must be \"*\" or an object".into()),
    }
}

/// A canonical form: `Statement` always a list, every string-or-list value
/// a sorted, de-duplicated list.
fn canonical(v: &Json, key: Option<&str>) -> Json {
    match v {
        Json::Object(m) => Json::Object(
            m.iter()
                .map(|(k, x)| {
                    let c = canonical(x, Some(k));
                    let c = match (k.as_str(), c) {
                        ("Statement", o @ Json::Object(_)) => Json::Array(vec![o]),
                        (_, c) => c,
                    };
                    (k.clone(), c)
                })
                .collect(),
        ),
        Json::Array(a) => {
            if key != Some("Statement") && a.iter().all(Json::is_string) {
                let mut s: Vec<String> = a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect();
                s.sort();
                s.dedup();
                return Json::Array(s.into_iter().map(Json::String).collect());
            }
            Json::Array(a.iter().map(|x| canonical(x, key)).collect())
        }
        // A lone string where a list is allowed (not Version/Effect/Sid/Id).
        Json::String(s)
            if !matches!(
                key,
                Some("Version" | "Effect" | "Sid" | "Id" | "Statement") | None
            ) =>
        {
            if key == Some("Principal") || key == Some("NotPrincipal") {
                Json::String(s.clone())
            } else {
                Json::Array(vec![Json::String(s.clone())])
            }
        }
        other => other.clone(),
    }
}

/// True when two policy documents mean the same (formatting, key order,
/// list order and single-item lists aside). Not JSON: compared as text.
pub(crate) fn equivalent(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<Json>(a),
        serde_json::from_str::<Json>(b),
    ) {
        (Ok(x), Ok(y)) => canonical(&x, None) == canonical(&y, None),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_policies() {
        let ok = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        assert_eq!(problem(ok, DocKind::Trust), None);
        for (bad, why) in [
            ("{", "not valid JSON"),
            ("[]", "not a JSON object"),
            (r#"{"Version":"2012-10-17"}"#, "no Statement"),
            (r#"{"Version":"2020-01-01","Statement":[]}"#, "Version"),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}"#,
                "must name a Principal",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole","Resource":"*"}]}"#,
                "prohibited field Resource",
            ),
            (
                r#"{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"sts:AssumeRole"}]}"#,
                "Effect",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":{"User":"x"},"Action":"a"}]}"#,
                "Principal type",
            ),
        ] {
            let got = problem(bad, DocKind::Trust).unwrap_or_default();
            assert!(got.contains(why), "{bad}: {got}");
        }
    }

    #[test]
    fn semantic_equality() {
        let a = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":["sts:AssumeRole"]}}"#;
        let b = r#"{
            "Statement": [{"Action": "sts:AssumeRole", "Principal": {"Service": ["ec2.amazonaws.com"]}, "Effect": "Allow"}],
            "Version": "2012-10-17"
        }"#;
        assert!(equivalent(a, b));
        let c = b.replace("ec2", "eks");
        assert!(!equivalent(a, &c));
    }
}
