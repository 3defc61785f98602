//! `--program NAME`: a stack written in Rust with the typed DSL.
//!
//! The CLI finds the workspace's `[[bin]]` (or package) named NAME, builds
//! it with `cargo build` (progress on stderr), and runs it with the stack's
//! name and config as JSON on stdin (`cairn_core::dsl::program`; secrets
//! decrypted here, never in argv or the environment). The program prints
//! its `StackSpec` on stdout; from there on it is the YAML path. A NAME
//! with a `/` is a program already built: it is run as it is.

use crate::error::CliError;
use cairn_core::diag::{Problem, Problems};
use cairn_core::dsl::program::{decode_answer, Answer, InvokeAnswer, ProgramInput};
use cairn_core::{Registry, StackSpec, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const NOT_FOUND: &str = "cairn::program::not_found";
pub const BUILD_FAILED: &str = "cairn::program::build_failed";
pub const FAILED: &str = "cairn::program::failed";
pub const BAD_OUTPUT: &str = "cairn::program::bad_output";

fn problem(code: &str, message: String, help: &str) -> CliError {
    CliError::Invalid(Problems {
        file: None,
        problems: vec![Problem::error(code, message).help(help)],
    })
}

/// The program's stack for the environment file at `path` (its `config:`,
/// with `overrides` over it), validated as the YAML loader validates.
pub fn load(
    program: &str,
    path: &Path,
    bytes: &[u8],
    overrides: &BTreeMap<String, Value>,
    registry: &Registry,
) -> Result<(StackSpec, Problems), CliError> {
    let (stack, config) = env_config(path, bytes, overrides)?;
    run_validated(program, &stack, &label(program), config, registry)
}

/// A `runtime: rust` project's stack `stack`: its program run as
/// `--program` runs one, with the project's name and the stack's config
/// (`Pulumi.<stack>.yaml`, un-namespaced), `overrides` over it.
pub fn load_project(
    project: &cairn_config::RustProject,
    stack: &str,
    overrides: &BTreeMap<String, Value>,
    registry: &Registry,
) -> Result<(StackSpec, Problems), CliError> {
    let mut config = project.config.clone();
    for (k, v) in overrides {
        config.insert(k.clone(), v.clone());
    }
    run_validated(&project.program, stack, &project.project, config, registry)
}

fn run_validated(
    program: &str,
    stack: &str,
    project: &str,
    config: cairn_core::Map,
    registry: &Registry,
) -> Result<(StackSpec, Problems), CliError> {
    let exe = executable(program)?;
    let mut input = ProgramInput::new(stack, project, config);
    let mut spec = run_answering(program, &exe, &mut input, registry)?;
    spec.name = stack.to_string();
    let problems = cairn_core::validate::validate(&spec, registry);
    if problems.has_errors() {
        return Err(CliError::Invalid(problems));
    }
    Ok((spec, problems))
}

/// The program's name as shown and as `pulumi.project`.
fn label(program: &str) -> String {
    Path::new(program)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| program.to_string())
}

/// The stack's name (the file's `name:`, else its file name) and its
/// config: the file's `config:` entries, then `overrides` (decrypted
/// `secure:` values, `--config`, `--local` substitutes) over them.
fn env_config(
    path: &Path,
    bytes: &[u8],
    overrides: &BTreeMap<String, Value>,
) -> Result<(String, cairn_core::Map), CliError> {
    let doc = cairn_config::stack_file_to_json(&path.display().to_string(), bytes)?;
    let stack = doc
        .get("name")
        .and_then(|n| n.as_str())
        .map(str::to_string)
        .or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let mut config = cairn_core::Map::new();
    if let Some(entries) = doc.get("config").and_then(|c| c.as_object()) {
        for (k, v) in entries {
            if !v.is_null() {
                config.insert(k.clone(), Value::from_json(v));
            }
        }
    }
    for (k, v) in overrides {
        config.insert(k.clone(), v.clone());
    }
    Ok((stack, config))
}

/// The program's executable: a path as given, or built with cargo.
fn executable(program: &str) -> Result<PathBuf, CliError> {
    if program.contains('/') || program.contains(std::path::MAIN_SEPARATOR) {
        let path = PathBuf::from(program);
        if !path.is_file() {
            return Err(problem(
                NOT_FOUND,
                format!("program `{program}` is not a file"),
                "give a built program's path, or the name of a `[[bin]]` of this workspace",
            ));
        }
        return Ok(path);
    }
    let (package, bin) = find(program)?;
    build(&package, &bin)
}

fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// The (package, bin) that `program` names: a bin of that name, else the
/// package of that name when it has exactly one bin.
fn find(program: &str) -> Result<(String, String), CliError> {
    let out = Command::new(cargo())
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| {
            problem(
                NOT_FOUND,
                format!("cannot run cargo to find program `{program}`: {e}"),
                "install Rust's cargo, or give a built program's path",
            )
        })?;
    if !out.status.success() {
        return Err(problem(
            NOT_FOUND,
            format!("`cargo metadata` failed while looking for program `{program}`"),
            "run from the workspace that holds the program (its messages are above)",
        ));
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let mut bins = Vec::new();
    for p in meta["packages"].as_array().into_iter().flatten() {
        let package = p["name"].as_str().unwrap_or_default();
        for t in p["targets"].as_array().into_iter().flatten() {
            let is_bin = t["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bin"));
            if is_bin {
                bins.push((
                    package.to_string(),
                    t["name"].as_str().unwrap_or_default().to_string(),
                ));
            }
        }
    }
    if let Some(found) = bins.iter().find(|(_, b)| b == program) {
        return Ok(found.clone());
    }
    let of_package: Vec<_> = bins.iter().filter(|(p, _)| p == program).collect();
    if let [only] = of_package.as_slice() {
        return Ok((*only).clone());
    }
    let known: Vec<&str> = bins.iter().map(|(_, b)| b.as_str()).collect();
    let mut help = format!(
        "a program is a `[[bin]]` of this workspace (or a package with one); the workspace's bins: {}",
        known.join(", ")
    );
    if let Some(close) = known
        .iter()
        .filter(|b| looks_close(b, program))
        .min_by_key(|b| b.len())
    {
        help = format!("did you mean `{close}`? {help}");
    }
    Err(problem(
        NOT_FOUND,
        format!("no program `{program}` in this workspace"),
        &help,
    ))
}

/// A cheap "did you mean": one contains the other, or they share their first 4 characters.
fn looks_close(a: &str, b: &str) -> bool {
    let head = |s: &str| s.chars().take(4).collect::<String>();
    a.contains(b) || b.contains(a) || (head(a).chars().count() == 4 && head(a) == head(b))
}

/// `cargo build -p PACKAGE --bin BIN`, its progress on stderr; the executable it made.
fn build(package: &str, bin: &str) -> Result<PathBuf, CliError> {
    eprintln!("building program `{bin}` (cargo build -p {package} --bin {bin})");
    let out = Command::new(cargo())
        .args(["build", "-p", package, "--bin", bin])
        .arg("--message-format=json-render-diagnostics")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| {
            problem(
                BUILD_FAILED,
                format!("cannot run cargo to build program `{bin}`: {e}"),
                "install Rust's cargo, or give a built program's path",
            )
        })?;
    if !out.status.success() {
        return Err(problem(
            BUILD_FAILED,
            format!("program `{bin}` did not build ({})", out.status),
            "the compiler's messages are above",
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == bin)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| {
            problem(
                BUILD_FAILED,
                format!("cargo built program `{bin}` but named no executable"),
                "check that the target is a `[[bin]]`",
            )
        })
}

/// Rounds of data source answers a program may ask for (an invoke may take
/// an earlier one's results) before it is taken to loop.
const MAX_INVOKE_ROUNDS: usize = 8;

/// Runs the program until it prints its stack, running the data sources it
/// asks for (`fn::invoke` of the DSL) and handing back their answers.
fn run_answering(
    program: &str,
    exe: &Path,
    input: &mut ProgramInput,
    registry: &Registry,
) -> Result<StackSpec, CliError> {
    for _ in 0..MAX_INVOKE_ROUNDS {
        let calls = match run(program, exe, input)? {
            Answer::Spec(spec) => return Ok(spec),
            Answer::Needs(calls) => calls,
        };
        let before = input.invoked.len();
        for call in calls {
            if input.invoked.iter().any(|a| a.call == call) {
                continue;
            }
            let result = crate::invoke::run(registry, &input.stack, &call.token, &call.args)
                .map_err(|e| e.to_string());
            input.invoked.push(InvokeAnswer { call, result });
        }
        if input.invoked.len() == before {
            break;
        }
    }
    Err(problem(
        BAD_OUTPUT,
        format!(
            "program `{}` kept asking for data sources it was already given",
            label(program)
        ),
        "a program builds its stack once its invokes are answered (`ProgramInput::builder`)",
    ))
}

/// Runs the program with `input` on stdin: its stack, or the data sources
/// it needs run first.
fn run(program: &str, exe: &Path, input: &ProgramInput) -> Result<Answer, CliError> {
    let name = label(program);
    let mut child = Command::new(exe)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| {
            problem(
                FAILED,
                format!("cannot start program `{name}` ({}): {e}", exe.display()),
                "check that it is an executable",
            )
        })?;
    let text = input.to_json();
    let mut stdin = child.stdin.take();
    // A thread of its own, so a program that writes before it reads cannot deadlock.
    let writer = std::thread::spawn(move || {
        if let Some(s) = stdin.as_mut() {
            // A program that exits without reading closes the pipe: not our error.
            let _ = s.write_all(text.as_bytes());
        }
    });
    let out = child.wait_with_output().map_err(|e| {
        problem(
            FAILED,
            format!("program `{name}` could not be waited for: {e}"),
            "run it again",
        )
    })?;
    let _ = writer.join();
    if !out.status.success() {
        return Err(problem(
            FAILED,
            format!(
                "program `{name}` failed ({}) and built no stack",
                out.status
            ),
            "its own messages are above; a program reports problems on stderr and exits non-zero",
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    decode_answer(&stdout).map_err(|why| {
        problem(
            BAD_OUTPUT,
            format!(
                "program `{name}` printed something that is not a stack ({} bytes): {why}",
                out.stdout.len()
            ),
            "a program prints exactly what `cairn_core::dsl::program::respond` returns on stdout, and logs to stderr",
        )
    })
}
