//! The Pulumi YAML conformance suite (`tests/pulumi-yaml/`): every program
//! is previewed and brought up offline, and its outputs compared with the
//! values Pulumi computes for the same program (each `expected.json` says
//! where they come from). Fails listing every mismatch; the pass count must
//! match the one `docs/pulumi-yaml.md` reports.

use super::common::{workspace, Sandbox};
use serde_json::Value as J;

/// Compares the expected outputs with those found; one line per mismatch.
fn compare(case: &str, phase: &str, expected: &J, found: &J, out: &mut Vec<String>) {
    let Some(expected) = expected.as_object() else {
        return;
    };
    for (k, want) in expected {
        let got = found.get(k).unwrap_or(&J::Null);
        if got != want {
            out.push(format!(
                "{case}: {phase} output `{k}` is {got}, Pulumi gives {want}"
            ));
        }
    }
}

fn run_case(case: &str) -> Vec<String> {
    let dir = workspace().join("tests/pulumi-yaml").join(case);
    let file = format!("tests/pulumi-yaml/{case}/stack.yaml");
    let text = std::fs::read_to_string(dir.join("expected.json")).expect("expected.json");
    let expected: J = serde_json::from_str(&text).expect("expected.json is JSON");
    let mut mismatches = Vec::new();
    let sb = Sandbox::new();
    let preview = sb.run(&["preview", "--stack-file", &file, "--format", "json"]);
    if let Some(code) = expected.get("error").and_then(J::as_str) {
        if preview.code != Some(2) || !preview.stderr.contains(code) {
            mismatches.push(format!(
                "{case}: expected the diagnostic {code} (exit 2), got exit {:?}:\n{}",
                preview.code,
                preview.all()
            ));
        }
        return mismatches;
    }
    if preview.code != Some(0) {
        mismatches.push(format!("{case}: preview failed:\n{}", preview.all()));
        return mismatches;
    }
    let plan: J = match serde_json::from_str(&preview.stdout) {
        Ok(plan) => plan,
        Err(e) => {
            mismatches.push(format!(
                "{case}: preview JSON unreadable ({e}):\n{}",
                preview.stdout
            ));
            return mismatches;
        }
    };
    if let Some(want) = expected.get("preview") {
        compare(case, "preview", want, &plan["outputs"], &mut mismatches);
    }
    match up_outputs(&sb, &file) {
        Ok(found) => {
            if let Some(want) = expected.get("outputs") {
                compare(case, "up", want, &found, &mut mismatches)
            }
        }
        Err(why) => {
            mismatches.push(format!("{case}: {why}"));
            return mismatches;
        }
    }
    if let Some(then) = expected.get("then") {
        mismatches.extend(run_next(case, &sb, then));
    }
    mismatches
}

/// The optional second step of a case (`then`): the program changed to
/// `then.file` (same stack), previewed, each resource's planned action
/// compared with `then.actions` (`same`, `update`, `replace`, ...), then
/// brought up and its outputs compared with `then.outputs`.
fn run_next(case: &str, sb: &Sandbox, then: &J) -> Vec<String> {
    let mut mismatches = Vec::new();
    let name = then["file"].as_str().expect("then.file");
    let file = format!("tests/pulumi-yaml/{case}/{name}");
    let preview = sb.run(&["preview", "--stack-file", &file, "--format", "json"]);
    let plan: J = match serde_json::from_str(&preview.stdout) {
        Ok(plan) if preview.code == Some(0) => plan,
        _ => {
            mismatches.push(format!(
                "{case}: preview of {name} failed:\n{}",
                preview.all()
            ));
            return mismatches;
        }
    };
    let changes = plan["resource_changes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (resource, want) in then["actions"].as_object().into_iter().flatten() {
        let got = changes
            .iter()
            .find(|c| c["name"] == resource.as_str())
            .map(|c| c["action"].clone())
            .unwrap_or(J::Null);
        if &got != want {
            mismatches.push(format!(
                "{case}: {name} plans {got} for `{resource}`, Pulumi plans {want}"
            ));
        }
    }
    match up_outputs(sb, &file) {
        Ok(found) => compare(case, name, &then["outputs"], &found, &mut mismatches),
        Err(why) => mismatches.push(format!("{case}: {name}: {why}")),
    }
    mismatches
}

/// `up` of `file`, then its stack outputs (secrets shown).
fn up_outputs(sb: &Sandbox, file: &str) -> Result<J, String> {
    let up = sb.run(&["up", "--yes", "--stack-file", file]);
    if up.code != Some(0) {
        return Err(format!("up failed:\n{}", up.all()));
    }
    let shown = sb.run(&[
        "stack",
        "output",
        "--json",
        "--show-secrets",
        "--stack-file",
        file,
    ]);
    match serde_json::from_str::<J>(&shown.stdout) {
        Ok(found) if shown.code == Some(0) => Ok(found),
        _ => Err(format!("stack output failed:\n{}", shown.all())),
    }
}

#[test]
fn pulumi_yaml_programs_compute_what_pulumi_computes() {
    let root = workspace().join("tests/pulumi-yaml");
    let mut cases: Vec<String> = std::fs::read_dir(&root)
        .expect("tests/pulumi-yaml")
        .flatten()
        .filter(|e| e.path().join("stack.yaml").is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    cases.sort();
    assert!(cases.len() >= 30, "only {} programs", cases.len());
    // Four threads: each case is a few short runs of the binary.
    let chunks: Vec<Vec<String>> = cases
        .chunks(cases.len().div_ceil(4))
        .map(<[String]>::to_vec)
        .collect();
    let results: Vec<(String, Vec<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|c| (c.clone(), run_case(c)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a case thread panicked"))
            .collect()
    });
    let passed = results.iter().filter(|(_, m)| m.is_empty()).count();
    let mismatches: Vec<&String> = results.iter().flat_map(|(_, m)| m).collect();
    let total = cases.len();
    assert!(
        mismatches.is_empty(),
        "{passed} of {total} programs match Pulumi; mismatches:\n{}",
        mismatches
            .iter()
            .map(|m| format!("- {m}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let docs = std::fs::read_to_string(workspace().join("docs/pulumi-yaml.md"))
        .expect("docs/pulumi-yaml.md");
    let claim = format!("{passed} of {total} programs");
    assert!(
        docs.contains(&claim),
        "docs/pulumi-yaml.md must report `{claim}`"
    );
}
