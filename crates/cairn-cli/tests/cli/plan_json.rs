//! Plan JSON has exactly the fields `docs/plan-json.md` documents, with the
//! documented types. The field lists are read from the doc's tables, so the
//! doc and this test cannot drift apart.

use super::common::{workspace, Sandbox};
use serde_json::Value as Json;

const DOC: &str = "docs/plan-json.md";
const STACK: &str = "tests/stacks/data-chain.yaml";

/// One documented table: the JSON path its heading names (`` for the top
/// level, `resource_changes[]`, `resource_changes[].changes[]`, …) and its
/// rows (field, type, meaning).
struct Table {
    path: String,
    rows: Vec<(String, String, String)>,
}

fn documented() -> Vec<Table> {
    let text = std::fs::read_to_string(workspace().join(DOC)).expect("read the plan JSON doc");
    let mut tables: Vec<Table> = Vec::new();
    let mut heading: Option<String> = None;
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            heading = Some(h.trim().to_string());
            continue;
        }
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        let (Some(h), [field, ty, meaning]) = (&heading, cells.as_slice()) else {
            continue;
        };
        let Some(field) = field.strip_prefix('`').and_then(|f| f.strip_suffix('`')) else {
            continue; // the header row and its separator
        };
        let path = if h == "Top level" {
            String::new()
        } else {
            h.trim_matches('`').to_string()
        };
        match tables.last_mut() {
            Some(t) if t.path == path => {}
            _ => tables.push(Table { path, rows: vec![] }),
        }
        let t = tables.last_mut().expect("table");
        t.rows
            .push((field.to_string(), ty.to_string(), meaning.to_string()));
    }
    tables
}

/// The values at `path` (`a[].b[]`: every element of `a`, then of each `b`).
fn at<'a>(doc: &'a Json, path: &str) -> Vec<&'a Json> {
    let mut here = vec![doc];
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let key = part.trim_end_matches("[]");
        here = here
            .into_iter()
            .filter_map(|v| v.get(key))
            .flat_map(|v| match v.as_array() {
                Some(items) if part.ends_with("[]") => items.iter().collect(),
                _ => vec![v],
            })
            .collect();
    }
    here
}

fn has_type(v: &Json, ty: &str) -> Option<bool> {
    Some(match ty {
        "string" => v.is_string(),
        "bool" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "array of string" => v.as_array().is_some_and(|a| a.iter().all(Json::is_string)),
        "object or null" => v.is_object() || v.is_null(),
        "any" => true,
        _ => return None,
    })
}

/// Insta's redactions (`[port]`, `[uuid]`) outside strings become `null`.
fn unredact(snapshot: &str) -> String {
    let body = snapshot.splitn(3, "---\n").nth(2).unwrap_or(snapshot);
    let mut out = String::with_capacity(body.len());
    let (mut in_string, mut escaped) = (false, false);
    let mut rest = body;
    while let Some(c) = rest.chars().next() {
        if !in_string && c == '[' {
            if let Some(end) = rest.find(']') {
                let word = &rest[1..end];
                if !word.is_empty() && word.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
                    out.push_str("null");
                    rest = &rest[end + 1..];
                    continue;
                }
            }
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Plans to check: a live one with replaces and property changes, and the
/// committed prod plans (creates, an in-place update, a replace, drift),
/// which `aws.rs` keeps equal to the binary's output.
fn plans() -> Vec<(String, Json)> {
    let sb = Sandbox::new();
    sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    let live = sb
        .run(&[
            "preview",
            "--json",
            "--stack-file",
            STACK,
            "--config",
            "greeting=hey",
        ])
        .ok();
    let mut plans = vec![(
        "preview --json (data-chain, greeting=hey)".to_string(),
        serde_json::from_str(&live.stdout).expect("plan json"),
    )];
    let dir = workspace().join("crates/cairn-cli/tests/cli/snapshots/plans");
    let mut snaps: Vec<_> = std::fs::read_dir(&dir)
        .expect("plan snapshots")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".json.snap"))
        .collect();
    snaps.sort();
    assert!(snaps.len() >= 4, "committed plan snapshots: {snaps:?}");
    for snap in snaps {
        let text = std::fs::read_to_string(&snap).expect("read snapshot");
        let json = serde_json::from_str(&unredact(&text))
            .unwrap_or_else(|e| panic!("{}: {e}", snap.display()));
        plans.push((snap.file_name().unwrap().to_string_lossy().into(), json));
    }
    plans
}

/// Every documented field is present with its type in every object the doc
/// describes, every field present is documented, and each table is seen.
fn problems(tables: &[Table], plans: &[(String, Json)]) -> Vec<String> {
    let mut problems = Vec::new();
    for t in tables {
        let shown = if t.path.is_empty() {
            "top level"
        } else {
            &t.path
        };
        let mut seen = 0;
        for (name, plan) in plans {
            for (i, obj) in at(plan, &t.path).into_iter().enumerate() {
                seen += 1;
                let Some(map) = obj.as_object() else {
                    problems.push(format!("{name}: {shown}[{i}] is not an object"));
                    continue;
                };
                for (field, ty, _) in &t.rows {
                    match (
                        map.get(field),
                        has_type(map.get(field).unwrap_or(&Json::Null), ty),
                    ) {
                        (_, None) => {
                            problems.push(format!("{DOC}: {shown}.{field}: unknown type `{ty}`"))
                        }
                        (None, _) => {
                            problems.push(format!("{name}: {shown}[{i}] has no `{field}`"))
                        }
                        (Some(v), Some(false)) => {
                            problems.push(format!("{name}: {shown}[{i}].{field} is not {ty}: {v}"))
                        }
                        _ => {}
                    }
                }
                for key in map.keys() {
                    if !t.rows.iter().any(|(f, _, _)| f == key) {
                        problems.push(format!("{name}: {shown}.{key} is not documented in {DOC}"));
                    }
                }
            }
        }
        if seen == 0 {
            problems.push(format!("no plan checked here has a {shown} entry"));
        }
    }
    problems.sort();
    problems.dedup();
    problems
}

#[test]
fn plan_json_has_every_documented_field_and_only_those() {
    let tables = documented();
    let paths: Vec<&str> = tables.iter().map(|t| t.path.as_str()).collect();
    for wanted in ["", "resource_changes[]", "resource_changes[].changes[]"] {
        assert!(
            paths.contains(&wanted),
            "{DOC} has no table for `{wanted}`: {paths:?}"
        );
    }
    let plans = plans();
    let problems = problems(&tables, &plans);
    assert!(
        problems.is_empty(),
        "plan JSON and {DOC} disagree:\n{}",
        problems.join("\n")
    );

    // The summary's counts are the ones its row lists, each an integer.
    let top = &tables[paths.iter().position(|p| p.is_empty()).unwrap()];
    let (_, _, meaning) = top
        .rows
        .iter()
        .find(|(f, _, _)| f == "summary")
        .expect("summary row");
    let counts: Vec<&str> = meaning.split('`').skip(1).step_by(2).collect();
    assert!(counts.len() >= 6, "{meaning}");
    for (name, plan) in &plans {
        let summary = plan["summary"].as_object().expect("summary");
        let mut keys: Vec<&str> = summary.keys().map(String::as_str).collect();
        let mut want = counts.clone();
        keys.sort();
        want.sort();
        assert_eq!(keys, want, "{name}: summary counts");
        assert!(summary.values().all(Json::is_u64), "{name}: {summary:?}");
    }
}

/// The check fails when the doc and the output disagree either way.
#[test]
fn the_plan_json_check_catches_a_missing_and_an_undocumented_field() {
    let tables = documented();
    let mut plan = plans().swap_remove(0);
    let first = plan.1["resource_changes"][0]
        .as_object_mut()
        .expect("a change");
    first.remove("replace_paths");
    first.insert("surprise".into(), Json::Bool(true));
    let found = problems(&tables, &[plan]);
    assert!(
        found.iter().any(|p| p.contains("has no `replace_paths`"))
            && found
                .iter()
                .any(|p| p.contains("surprise is not documented")),
        "{found:#?}"
    );
}
