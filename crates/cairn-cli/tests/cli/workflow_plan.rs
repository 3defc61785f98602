//! The pull-request workflow applies the plan its comment showed:
//! `preview.yml` saves the plan from the same `preview` run that writes the
//! comment and keeps it as the artifact `plan-<stack>`; `up.yml` downloads
//! that artifact from the merged pull request's preview run and applies it
//! with `up --plan` (a stack without one must have no changes).

use super::common::workspace;

fn workflow(name: &str) -> String {
    let path = workspace().join(".github/workflows").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The workflow's steps (`- ` items at the steps' indentation), in order.
fn steps(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut in_steps = false;
    for line in text.lines() {
        if line.trim_start().starts_with("steps:") {
            in_steps = true;
            continue;
        }
        if !in_steps {
            continue;
        }
        if line.starts_with("      - ") {
            out.push(String::new());
        } else if !line.starts_with("        ") && !line.trim().is_empty() {
            in_steps = false;
            continue;
        }
        if let Some(step) = out.last_mut() {
            step.push_str(line);
            step.push('\n');
        }
    }
    out
}

fn position(steps: &[String], needle: &str, file: &str) -> usize {
    steps
        .iter()
        .position(|s| s.contains(needle))
        .unwrap_or_else(|| {
            panic!(
                "{file}: no step contains {needle:?}:\n{}",
                steps.join("---\n")
            )
        })
}

#[test]
fn the_pull_request_workflow_applies_the_plan_its_comment_showed() {
    let preview = steps(&workflow("preview.yml"));
    let saved = position(&preview, "--out \"plan-$STACK.json\"", "preview.yml");
    let run = &preview[saved];
    assert!(
        run.contains("cargo xtask preview --stack \"$STACK\" --format markdown")
            && run.contains("> preview.md"),
        "the saved plan must come from the run that writes the comment:\n{run}"
    );
    let upload = position(&preview, "actions/upload-artifact", "preview.yml");
    assert!(
        preview[upload].contains("name: plan-${{ matrix.stack }}")
            && preview[upload].contains("path: plan-${{ matrix.stack }}.json"),
        "{}",
        preview[upload]
    );
    let comment = position(&preview, "readFileSync('preview.md'", "preview.yml");
    assert!(saved < upload && saved < comment);

    let up = steps(&workflow("up.yml"));
    let find_run = position(&up, "workflow_id: 'preview.yml'", "up.yml");
    assert!(up[find_run].contains("merged_at"), "{}", up[find_run]);
    let download = position(&up, "actions/download-artifact", "up.yml");
    assert!(
        up[download].contains("name: plan-${{ matrix.stack }}")
            && up[download].contains("run-id: ${{ steps.preview-run.outputs.run-id }}"),
        "{}",
        up[download]
    );
    let apply = position(&up, "--plan \"plan-$STACK.json\"", "up.yml");
    assert!(
        up[apply].contains("cargo xtask up --stack \"$STACK\" --yes --plan \"plan-$STACK.json\"")
            && up[apply].contains("--expect-no-changes"),
        "{}",
        up[apply]
    );
    assert!(
        find_run < download && download < apply,
        "steps out of order"
    );
}

/// The `up` job's matrix, in order.
fn up_matrix(text: &str) -> Vec<String> {
    let mut lines = text.lines().skip_while(|l| l.trim() != "stack:").skip(1);
    let mut out = Vec::new();
    for line in lines.by_ref() {
        match line.trim().strip_prefix("- ") {
            Some(stack) => out.push(stack.to_string()),
            None if line.trim().starts_with('#') => {}
            None => break,
        }
    }
    out
}

#[test]
fn the_up_workflow_applies_every_stack_after_the_stacks_it_references() {
    let matrix = up_matrix(&workflow("up.yml"));
    let stacks_dir = workspace().join("stacks");
    let mut files: Vec<String> = std::fs::read_dir(&stacks_dir)
        .expect("stacks/")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") && !n.ends_with(".template.yaml"))
        .map(|n| n.trim_end_matches(".yaml").to_string())
        .collect();
    files.sort();
    for stack in &files {
        assert!(
            matrix.contains(stack),
            "stacks/{stack}.yaml is never applied by up.yml (matrix: {matrix:?})"
        );
    }
    let at = |s: &str| {
        matrix
            .iter()
            .position(|m| m == s)
            .unwrap_or_else(|| panic!("{s} not in the up matrix {matrix:?}"))
    };
    for env in ["dev", "staging", "prod"] {
        let network = at(&format!("network-{env}"));
        let redis = at(env);
        assert!(network < redis, "the Redis stack {env} reads network-{env}");
        for platform in ["eks", "rds", "storage"] {
            let name = format!("{platform}-{env}");
            if files.contains(&name) {
                assert!(
                    redis < at(&name),
                    "{name} must come after network-{env} and {env}"
                );
            }
        }
    }
    assert!(at("dev") < at("staging") && at("staging") < at("prod"));
}
