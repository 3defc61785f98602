//! Pulumi's project layout: a directory holding `Pulumi.yaml` (the project
//! and, unless `main:` names another file, its program) and
//! `Pulumi.<stack>.yaml` (the stack's config, keys namespaced
//! `<project>:key`).

use crate::stack::{self, EnvValue, Loader};
use crate::yaml::{Kind, Node};
use crate::{codes, finish, load_tree_as, read_source, redacted, Group, Outcome, Program};
use cairn_core::diag::{Problem, Problems};
use cairn_core::spec::{Span, StackSpec};
use cairn_core::value::{Map, Value};
use cairn_core::Registry;
use std::collections::BTreeMap;
use std::path::Path;

/// The project file's name.
pub const PROJECT_FILE: &str = "Pulumi.yaml";

/// Keys of `Pulumi.yaml` besides a program's (`runtime`, `main`, the
/// `template:` block of `pulumi new`, legacy `configuration:`...).
pub(crate) const PROJECT_KEYS: &[&str] = &[
    "runtime",
    "main",
    "template",
    "configuration",
    "backend",
    "options",
    "plugins",
    "stackConfigDir",
    "author",
    "license",
    "website",
    "packages",
];

/// Keys of `Pulumi.<stack>.yaml`.
const STACK_KEYS: &[&str] = &[
    "config",
    "secretsprovider",
    "encryptedkey",
    "encryptionsalt",
    "environment",
];

/// Program keys that cannot be in `Pulumi.yaml` when `main:` names the program.
const PROGRAM_KEYS: &[&str] = &["config", "variables", "resources", "outputs", "policy"];

/// Loads a Pulumi project's stack: `Pulumi.yaml` (`project_bytes`) and
/// the stack's `Pulumi.<stack>.yaml` (`stack_file`, `None` when absent: no
/// config values). `read` reads files relative to the project directory
/// (`main:`, and `fn::readFile`... relative to the program). The spec is
/// named `stack`; `${pulumi.project}` is the project's `name`.
///
/// Config keys `<project>:key` (or bare `key`) set the program's `key`;
/// `aws:region` is the run's region ([`project_stack_region`]); keys of
/// other namespaces are warned about and not read.
#[allow(clippy::too_many_arguments)]
pub fn load_project(
    project_file: &str,
    project_bytes: &[u8],
    stack: &str,
    stack_file: Option<(&str, &[u8])>,
    read: &dyn Fn(&str) -> Result<Vec<u8>, String>,
    registry: &Registry,
    config: &BTreeMap<String, Value>,
    program: &Program<'_>,
) -> Result<(StackSpec, Problems), Problems> {
    let parsed = read_source(project_file, project_bytes);
    let Some(root) = parsed.root else {
        let failed = Outcome::failed(parsed.source, parsed.problems);
        return finish(project_file, vec![failed.group], None);
    };
    let project_source = parsed.source;
    let mut proj = Loader::new(&project_source);
    for p in parsed.problems {
        proj.push(p);
    }
    let name = project_name(&mut proj, Some(&root));
    check_runtime(&mut proj, &root);

    // The program: Pulumi.yaml itself, or the file `main:` names.
    let project_dir = Path::new(project_file).parent().unwrap_or(Path::new(""));
    let mut program_dir = std::path::PathBuf::new();
    let mut main_program = None;
    if let Some(m) = stack::find(&root, "main") {
        for e in stack::entries(&root) {
            if PROGRAM_KEYS.contains(&e.key.as_str()) {
                proj.push(
                    Problem::error(
                        codes::UNKNOWN_KEY,
                        format!("`{}` in Pulumi.yaml, but `main:` names the program", e.key),
                    )
                    .at(Some(e.key_span), "the program is elsewhere")
                    .help("keep the program in one file: move this section to the program `main:` names, or drop `main:`"),
                );
            } else if !PROJECT_KEYS.contains(&e.key.as_str())
                && !["name", "description"].contains(&e.key.as_str())
            {
                proj.push(
                    Problem::error(
                        codes::UNKNOWN_KEY,
                        format!("unknown key `{}` in Pulumi.yaml", e.key),
                    )
                    .at(Some(e.key_span), "unknown key")
                    .help(stack::suggest(&e.key, PROJECT_KEYS).unwrap_or_else(|| {
                        format!(
                            "Pulumi.yaml may contain `name`, `description`, {}",
                            stack::list(PROJECT_KEYS)
                        )
                    })),
                );
            }
        }
        match m.value.as_str().map(|p| p.trim().trim_end_matches('/')) {
            Some(p) if !p.is_empty() => {
                let is_file = [".yaml", ".yml", ".json"].iter().any(|x| p.ends_with(x));
                let file = if is_file {
                    p.to_string()
                } else {
                    format!("{p}/Main.yaml")
                };
                program_dir = Path::new(&file)
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                match read(&file) {
                    Ok(bytes) => {
                        let shown = project_dir.join(&file).display().to_string();
                        main_program = Some(read_source(&shown, &bytes));
                    }
                    Err(why) => proj.push(
                        Problem::error(
                            codes::TEMPLATE_UNREADABLE,
                            format!("cannot read the program `{file}`: {why}"),
                        )
                        .at(Some(m.value.span), "the program")
                        .help("`main:` names the program's directory (holding `Main.yaml`) or file, relative to Pulumi.yaml"),
                    ),
                }
            }
            _ => proj.wrong_shape("`main`", "a directory or file name", &m.value),
        }
    }

    // The stack's config.
    let mut stack_group = None;
    let mut values = Vec::new();
    if let Some((stack_name, stack_bytes)) = stack_file {
        let parsed = read_source(stack_name, stack_bytes);
        let source = parsed.source;
        let mut st = Loader::new(&source);
        for p in parsed.problems {
            st.push(p);
        }
        if let Some(root) = &parsed.root {
            stack_config(&mut st, root, name.as_deref(), &mut values);
        }
        let (problems, secrets) = st.take();
        stack_group = Some((source, problems, secrets));
    }

    let (mut project_problems, _) = proj.take();
    let read_relative = |f: &str| read(&program_dir.join(f).display().to_string());
    let program = Program {
        stack: Some(stack.to_string()),
        project: name.clone().or_else(|| program.project.clone()),
        read_file: program.read_file.or(Some(&read_relative)),
        ..program.clone()
    };
    let mut groups = Vec::new();
    let mut outcome = match main_program {
        Some(parsed) => {
            groups.push(Group {
                source: project_source,
                problems: project_problems,
            });
            match parsed.root {
                Some(r) => load_tree_as(
                    parsed.source,
                    parsed.problems,
                    &r,
                    registry,
                    config,
                    &values,
                    &program,
                    true,
                ),
                None => Outcome::failed(parsed.source, parsed.problems),
            }
        }
        None if stack::find(&root, "main").is_some() => {
            Outcome::failed(project_source, project_problems)
        }
        None => {
            let mut outcome = load_tree_as(
                project_source,
                Vec::new(),
                &root,
                registry,
                config,
                &values,
                &program,
                true,
            );
            outcome.group.problems.append(&mut project_problems);
            outcome
        }
    };
    if let Some((source, mut problems, mut secrets)) = stack_group {
        problems.append(&mut outcome.env_problems);
        secrets.append(&mut outcome.env_secret_spans);
        groups.insert(
            0,
            Group {
                source: redacted(source, &secrets),
                problems,
            },
        );
    }
    groups.push(outcome.group);
    finish(project_file, groups, outcome.spec)
}

/// A `runtime: rust` project: the Rust stack program the CLI runs (as
/// `--program` does) and the stack's config from `Pulumi.<stack>.yaml`.
#[derive(Clone, Debug, PartialEq)]
pub struct RustProject {
    /// The project's `name` (the program's `pulumi.project`).
    pub project: String,
    /// A workspace `[[bin]]` (or package) name, or a built program's path.
    pub program: String,
    /// The stack's config values, un-namespaced (`<project>:key` is `key`).
    pub config: Map,
    /// Where `program` came from, for diagnostics.
    pub span: Span,
}

/// The Rust stack program of a `runtime: rust` project (`None` for any
/// other runtime, which [`load_project`] handles):
///
/// - `runtime: rust`: the workspace's program named like the project;
/// - `runtime: { name: rust, options: { program: NAME } }`: the workspace's
///   `[[bin]]` (or package) NAME, as `--program NAME`;
/// - `runtime: { name: rust, options: { binary: PATH } }`: a built program,
///   PATH relative to `Pulumi.yaml` (as Pulumi's Go runtime `binary`).
///
/// `stack_file` is the stack's `Pulumi.<stack>.yaml`, when present.
pub fn rust_project(
    project_file: &str,
    project_bytes: &[u8],
    stack_file: Option<(&str, &[u8])>,
) -> Result<Option<(RustProject, Problems)>, Problems> {
    let parsed = read_source(project_file, project_bytes);
    let Some(root) = parsed.root else {
        return Ok(None);
    };
    let Some(runtime) = stack::find(&root, "runtime") else {
        return Ok(None);
    };
    let (name_node, options) = match &runtime.value.kind {
        Kind::Map(_) => match stack::find(&runtime.value, "name") {
            Some(n) => (&n.value, stack::find(&runtime.value, "options")),
            None => return Ok(None),
        },
        _ => (&runtime.value, None),
    };
    if name_node.as_str() != Some("rust") {
        return Ok(None);
    }
    let mut proj = Loader::new(&parsed.source);
    for p in parsed.problems {
        proj.push(p);
    }
    let project = project_name(&mut proj, Some(&root)).unwrap_or_default();
    let mut program = (project.clone(), name_node.span);
    if let Some(o) = options.filter(|o| !matches!(o.value.kind, Kind::Null)) {
        if !matches!(o.value.kind, Kind::Map(_)) {
            proj.wrong_shape("`runtime.options`", "a map", &o.value);
        }
        for e in stack::entries(&o.value) {
            let value = e.value.as_str().map(str::trim).filter(|v| !v.is_empty());
            match (e.key.as_str(), value) {
                ("program", Some(v)) => program = (v.to_string(), e.value.span),
                ("binary", Some(v)) => {
                    let dir = Path::new(project_file).parent().unwrap_or(Path::new(""));
                    program = (dir.join(v).display().to_string(), e.value.span);
                }
                ("program" | "binary", None) => {
                    proj.wrong_shape(&format!("`{}`", e.key), "a non-empty string", &e.value)
                }
                (other, _) => proj.push(
                    Problem::error(
                        codes::UNKNOWN_KEY,
                        format!("unknown option `{other}` of runtime `rust`"),
                    )
                    .at(Some(e.key_span), "unknown option")
                    .help("runtime `rust` takes `program` (a workspace bin's name) or `binary` (a built program's path)"),
                ),
            }
        }
    }
    let (problems, _) = proj.take();
    rust_project_config(
        project_file,
        Group {
            source: parsed.source,
            problems,
        },
        project,
        program,
        stack_file,
    )
    .map(Some)
}

/// The project of `--program NAME` run in a Pulumi project's directory
/// (any runtime: the named program replaces the project's): its `name`
/// and the stack's un-namespaced config, as for `runtime: rust`.
pub fn program_project(
    project_file: &str,
    project_bytes: &[u8],
    stack_file: Option<(&str, &[u8])>,
    program: &str,
) -> Result<(RustProject, Problems), Problems> {
    let parsed = read_source(project_file, project_bytes);
    let mut proj = Loader::new(&parsed.source);
    for p in parsed.problems {
        proj.push(p);
    }
    let name = project_name(&mut proj, parsed.root.as_ref()).unwrap_or_default();
    let (problems, _) = proj.take();
    rust_project_config(
        project_file,
        Group {
            source: parsed.source,
            problems,
        },
        name,
        (program.to_string(), Span::new(0, 0)),
        stack_file,
    )
}

/// The project's `name` (reported when missing or not a string).
fn project_name(proj: &mut Loader<'_>, root: Option<&Node>) -> Option<String> {
    match root.and_then(|root| stack::find(root, "name")) {
        Some(e) => match e.value.as_str() {
            Some(n) if !n.trim().is_empty() => Some(n.trim().to_string()),
            _ => {
                proj.wrong_shape("`name`", "a non-empty string", &e.value);
                None
            }
        },
        None => {
            let at = Span::new(root.map_or(0, |r| r.span.offset), 0);
            proj.push(
                Problem::error(codes::MISSING_KEY, "the project has no `name`")
                    .at(Some(at), "`name` is missing")
                    .help("add `name: <project name>` at the top level of Pulumi.yaml"),
            );
            None
        }
    }
}

/// A Rust program's project with the stack's config from `stack_file`.
fn rust_project_config(
    project_file: &str,
    project_group: Group,
    project: String,
    program: (String, Span),
    stack_file: Option<(&str, &[u8])>,
) -> Result<(RustProject, Problems), Problems> {
    let mut groups = vec![project_group];
    let mut values = Vec::new();
    if let Some((stack_name, stack_bytes)) = stack_file {
        let parsed = read_source(stack_name, stack_bytes);
        let source = parsed.source;
        let mut st = Loader::new(&source);
        for p in parsed.problems {
            st.push(p);
        }
        if let Some(root) = &parsed.root {
            let ns = (!project.is_empty()).then_some(project.as_str());
            stack_config(&mut st, root, ns, &mut values);
        }
        let (problems, secrets) = st.take();
        groups.push(Group {
            source: redacted(source, &secrets),
            problems,
        });
    }
    let (_, warnings) = finish(project_file, groups, Some(StackSpec::default()))?;
    let config = values.into_iter().map(|v| (v.key, v.value)).collect();
    Ok((
        RustProject {
            project,
            program: program.0,
            config,
            span: program.1,
        },
        warnings,
    ))
}

/// `runtime: yaml` or `runtime: { name: yaml, options: {...} }`.
fn check_runtime(proj: &mut Loader<'_>, root: &Node) {
    let Some(e) = stack::find(root, "runtime") else {
        proj.push(
            Problem::error(codes::MISSING_KEY, "the project has no `runtime`")
                .at(Some(Span::new(root.span.offset, 0)), "`runtime` is missing")
                .help("add `runtime: yaml` at the top level of Pulumi.yaml"),
        );
        return;
    };
    let runtime = match &e.value.kind {
        Kind::Str { .. } => &e.value,
        Kind::Map(list) => {
            for k in list {
                if !["name", "options"].contains(&k.key.as_str()) {
                    proj.push(
                        Problem::error(
                            codes::UNKNOWN_KEY,
                            format!("unknown key `{}` in `runtime`", k.key),
                        )
                        .at(Some(k.key_span), "unknown key")
                        .help("`runtime:` holds `name` and `options`"),
                    );
                }
            }
            match stack::find(&e.value, "name") {
                Some(n) => &n.value,
                None => {
                    proj.push(
                        Problem::error(codes::MISSING_KEY, "`runtime` has no `name`")
                            .at(Some(e.value.span), "`name` is missing")
                            .help("write `runtime: { name: yaml }` or `runtime: yaml`"),
                    );
                    return;
                }
            }
        }
        _ => return proj.wrong_shape("`runtime`", "`yaml` or `{ name: yaml }`", &e.value),
    };
    match runtime.as_str() {
        Some("yaml") => {}
        Some("rust") => proj.push(
            Problem::error(
                codes::UNSUPPORTED_RUNTIME,
                "runtime `rust`: a Rust stack program is built and run with `--program`",
            )
            .at(Some(runtime.span), "runtime rust")
            .help("a `runtime: rust` project is run by the CLI (`cairn preview --stack STACK` in its directory), or with `--program NAME`"),
        ),
        Some(other) => proj.push(
            Problem::error(
                codes::UNSUPPORTED_RUNTIME,
                format!("runtime `{other}` is not supported"),
            )
            .at(Some(runtime.span), "unsupported runtime")
            .help("cairn runs Pulumi YAML programs (`runtime: yaml`) and Rust stack programs (`--program`)"),
        ),
        None => proj.wrong_shape("`runtime`'s name", "a string", runtime),
    }
}

/// The `config:` of `Pulumi.<stack>.yaml`, as the program's config values.
fn stack_config(st: &mut Loader<'_>, root: &Node, project: Option<&str>, out: &mut Vec<EnvValue>) {
    if !matches!(root.kind, Kind::Map(_)) {
        return st.wrong_shape("a stack settings file", "a map", root);
    }
    for e in stack::entries(root) {
        if !STACK_KEYS.contains(&e.key.as_str()) {
            st.push(
                Problem::error(
                    codes::UNKNOWN_KEY,
                    format!("unknown key `{}` in a stack settings file", e.key),
                )
                .at(Some(e.key_span), "unknown key")
                .help(stack::suggest(&e.key, STACK_KEYS).unwrap_or_else(|| {
                    format!(
                        "Pulumi.<stack>.yaml may contain {}",
                        stack::list(STACK_KEYS)
                    )
                })),
            );
        }
    }
    let Some(c) = stack::find(root, "config") else {
        return;
    };
    let list = match &c.value.kind {
        Kind::Map(list) => list,
        Kind::Null => return,
        _ => return st.wrong_shape("`config`", "a map", &c.value),
    };
    for e in list {
        let key = match e.key.split_once(':') {
            None => e.key.as_str(),
            Some((ns, key)) if Some(ns) == project => key,
            Some(("aws", "region")) => {
                if e.value.as_str().is_none_or(|r| r.trim().is_empty()) {
                    st.wrong_shape("`aws:region`", "a region name", &e.value);
                }
                continue;
            }
            Some((ns, _)) => {
                let help = if ns == "aws" {
                    "cairn reads `aws:region` only; set the rest in the AWS profile or environment"
                        .to_string()
                } else {
                    format!(
                        "this project's keys are `{}:<key>`",
                        project.unwrap_or("<project>")
                    )
                };
                st.push(
                    Problem::warning(
                        codes::OTHER_NAMESPACE,
                        format!(
                            "config `{}` is for `{ns}`, not this project; cairn does not read it",
                            e.key
                        ),
                    )
                    .at(Some(e.key_span), "not read")
                    .help(help),
                );
                continue;
            }
        };
        if let Kind::Map(inner) = &e.value.kind {
            if inner.len() == 1 && inner[0].key == "secure" {
                st.push(
                    Problem::error(
                        codes::UNSUPPORTED_STACK_SETTING,
                        format!("`{}` is encrypted by Pulumi's secrets provider, which cairn cannot read", e.key),
                    )
                    .at(Some(e.value.span), "Pulumi ciphertext")
                    .help("pass the secret with `--config key=value`, or keep the stack in cairn's environment-file layout (`cairn config set --secret`)"),
                );
                continue;
            }
        }
        let value = st.config_value(&e.value);
        out.push(EnvValue {
            key: key.to_string(),
            key_span: e.key_span,
            value_span: e.value.span,
            value,
        });
    }
}

/// The `aws:region` a `Pulumi.<stack>.yaml` sets, if any.
pub fn project_stack_region(file_name: &str, bytes: &[u8]) -> Option<String> {
    let root = read_source(file_name, bytes).root?;
    let config = stack::find(&root, "config")?;
    let region = stack::find(&config.value, "aws:region")?
        .value
        .as_str()?
        .trim();
    (!region.is_empty()).then(|| region.to_string())
}
