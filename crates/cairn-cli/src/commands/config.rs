//! `cairn config set|get|rm`: the stack's environment file's `config:`
//! values. `--secret` values are written as Pulumi writes them, only as
//! ciphertext (`key: { secure: v1:… }`), encrypted with the stack's key
//! (`$STACK_PASSPHRASE`, or the key file `<state dir>/.keys/<stack>.key`);
//! every run decrypts them ([`resolve_secure`]) and passes them on as
//! secret config. The file is edited as text, so comments stay.

use crate::error::CliError;
use cairn_config::{EnvConfig, EnvConfigEntry};
use cairn_core::diag::Problems;
use cairn_core::Value;
use clap::{Args, Subcommand};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Set a config value in the stack's environment file (`--secret`:
    /// stored encrypted, as `secure: …`). The value is checked against the
    /// template's declaration before the file is written.
    Set {
        #[command(flatten)]
        select: ConfigSelect,
        /// The config key (declared in the template's `config:`).
        key: String,
        /// The value; read from stdin when left out (keeps a secret out of
        /// the shell history and the process list).
        value: Option<String>,
        /// Encrypt the value in the file; runs see it as a secret (masked).
        #[arg(long)]
        secret: bool,
    },
    /// Print one config value of the environment file (a secret is masked
    /// unless `--show-secrets`).
    Get {
        #[command(flatten)]
        select: ConfigSelect,
        /// The config key.
        key: String,
        /// Decrypt and print a secret value.
        #[arg(long)]
        show_secrets: bool,
    },
    /// Remove a config value from the environment file.
    Rm {
        #[command(flatten)]
        select: ConfigSelect,
        /// The config key.
        key: String,
    },
}

#[derive(Args, Debug, Clone)]
pub struct ConfigSelect {
    /// The environment file `stacks/NAME.yaml`.
    #[arg(long, conflicts_with = "stack_file")]
    pub stack: Option<String>,
    /// Any environment file (one with `template:`).
    #[arg(long)]
    pub stack_file: Option<PathBuf>,
    /// The state directory whose `.keys/<stack>.key` encrypts secrets when
    /// $STACK_PASSPHRASE is not set (default `state/`).
    #[arg(long, env = "CAIRN_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
}

pub async fn run(cmd: ConfigCommand) -> Result<ExitCode, CliError> {
    match cmd {
        ConfigCommand::Set {
            select,
            key,
            value,
            secret,
        } => set(&select, &key, value, secret).await,
        ConfigCommand::Get {
            select,
            key,
            show_secrets,
        } => get(&select, &key, show_secrets),
        ConfigCommand::Rm { select, key } => rm(&select, &key).await,
    }
}

struct EnvFile {
    path: PathBuf,
    text: String,
    config: EnvConfig,
    stack: String,
}

fn open(select: &ConfigSelect) -> Result<EnvFile, CliError> {
    let stack_select = crate::args::StackSelect {
        stack: select.stack.clone(),
        stack_file: select.stack_file.clone(),
        state_dir: None,
        backend: None,
        local: false,
        force: false,
        config: Vec::new(),
        program: None,
    };
    let path = crate::engine::stack_path(&stack_select)?;
    let bytes = std::fs::read(&path).map_err(|source| CliError::Read {
        path: path.clone(),
        source,
    })?;
    let text = String::from_utf8(bytes)
        .map_err(|_| CliError::Usage(format!("{} is not UTF-8 text", path.display())))?;
    let Some(config) = cairn_config::env_config(&path.display().to_string(), text.as_bytes())
    else {
        return Err(CliError::Usage(format!(
            "{} is not an environment file (a file with `template:` and `config:`, like stacks/dev.yaml) or does not parse; `cairn config` edits environment files (run `cairn preview` to see what is wrong with it)",
            path.display()
        )));
    };
    let Some(stack) = config.name.clone() else {
        return Err(CliError::Usage(format!(
            "{} has no `name:`; add the stack's name first",
            path.display()
        )));
    };
    Ok(EnvFile {
        path,
        text,
        config,
        stack,
    })
}

fn secrets(state_dir: Option<&Path>, stack: &str) -> Result<cairn_state::ConfigSecrets, CliError> {
    let root = state_dir.unwrap_or(Path::new("state"));
    let keys = cairn_state::SecretKeys::from_env_or_default(root, stack)?;
    Ok(cairn_state::ConfigSecrets::new(keys, stack))
}

fn key_file(state_dir: Option<&Path>, stack: &str) -> String {
    let root = state_dir.unwrap_or(Path::new("state"));
    root.join(".keys")
        .join(format!("{stack}.key"))
        .display()
        .to_string()
}

fn secret_error(
    e: cairn_state::ConfigSecretError,
    key: &str,
    file: &Path,
    state_dir: Option<&Path>,
    stack: &str,
) -> CliError {
    CliError::ConfigSecret {
        key: key.to_string(),
        file: file.display().to_string(),
        reason: e.to_string(),
        key_file: key_file(state_dir, stack),
    }
}

/// For every run: the `secure:` values of the environment file at `path`,
/// decrypted as secret config, and the file's bytes with those entries
/// blanked (offsets unchanged, so diagnostics still point right).
pub fn resolve_secure(
    path: &Path,
    bytes: &[u8],
    state_dir: Option<&Path>,
) -> Result<(Vec<u8>, BTreeMap<String, Value>), CliError> {
    let mut overrides = BTreeMap::new();
    let Some(config) = cairn_config::env_config(&path.display().to_string(), bytes) else {
        return Ok((bytes.to_vec(), overrides));
    };
    let secure: Vec<&EnvConfigEntry> = config
        .entries
        .iter()
        .filter(|e| e.secure.is_some())
        .collect();
    let (Some(stack), false) = (config.name.as_deref(), secure.is_empty()) else {
        return Ok((bytes.to_vec(), overrides));
    };
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok((bytes.to_vec(), overrides));
    };
    let mut crypter = secrets(state_dir, stack)?;
    let mut out = bytes.to_vec();
    for e in secure {
        let ct = e.secure.as_deref().unwrap_or_default();
        let plain = crypter
            .open(&e.key, ct)
            .map_err(|err| secret_error(err, &e.key, path, state_dir, stack))?;
        overrides.insert(
            e.key.clone(),
            Value::secret(Value::String(plain.as_str().to_string())),
        );
        let (start, end) = entry_lines(text, e.key_span.offset);
        for b in &mut out[start..end] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    }
    Ok((out, overrides))
}

fn line_start(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1)
}

fn indent_at(text: &str, offset: usize) -> usize {
    offset - line_start(text, offset)
}

/// The byte range of the lines a block-map entry whose key starts at
/// `key_offset` occupies: its key's line and the deeper-indented lines after
/// it (trailing blank lines excluded), each with its newline.
fn entry_lines(text: &str, key_offset: usize) -> (usize, usize) {
    let start = line_start(text, key_offset);
    let indent = key_offset - start;
    let first_end = text[key_offset..]
        .find('\n')
        .map_or(text.len(), |i| key_offset + i + 1);
    let mut end = first_end;
    let mut at = first_end;
    while at < text.len() {
        let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i + 1);
        let line = &text[at..line_end];
        let body = line.trim_start_matches(' ');
        if !body.trim().is_empty() {
            if line.len() - body.len() <= indent {
                break;
            }
            end = line_end;
        }
        at = line_end;
    }
    (start, end)
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
}

/// The file's text with `key` set to the YAML `rendered` (a one-line value,
/// or `\n`-prefixed block lines at indent `+2`, see [`Rendered`]).
fn with_entry(file: &EnvFile, key: &str, rendered: &Rendered) -> Result<String, CliError> {
    let text = &file.text;
    if file.config.flow {
        return Err(CliError::Usage(format!(
            "the `config:` of {} is written in flow style (`{{ … }}`); write it as a block map (one key per line) to use `cairn config set`",
            file.path.display()
        )));
    }
    let line = |indent: usize| rendered.lines(indent, key);
    if let Some(e) = file.config.entries.iter().find(|e| e.key == key) {
        let (start, end) = entry_lines(text, e.key_span.offset);
        let indent = indent_at(text, e.key_span.offset);
        return Ok(format!(
            "{}{}{}",
            &text[..start],
            line(indent),
            &text[end..]
        ));
    }
    if let Some(last) = file.config.entries.last() {
        let (_, end) = entry_lines(text, last.key_span.offset);
        let indent = file
            .config
            .entries
            .first()
            .map_or(2, |f| indent_at(text, f.key_span.offset));
        let sep = if end > 0 && !text[..end].ends_with('\n') {
            "\n"
        } else {
            ""
        };
        return Ok(format!(
            "{}{sep}{}{}",
            &text[..end],
            line(indent),
            &text[end..]
        ));
    }
    if let Some(section) = file.config.section {
        let after = section.offset + section.len;
        let line_end = text[after..].find('\n').map_or(text.len(), |i| after + i);
        let rest = text[after..line_end].trim_start_matches(':').trim();
        if !(rest.is_empty() || rest.starts_with('#') || rest == "null" || rest == "~") {
            return Err(CliError::Usage(format!(
                "the `config:` of {} is not a map; make it one (one key per line) to use `cairn config set`",
                file.path.display()
            )));
        }
        let indent = indent_at(text, section.offset) + 2;
        let next = (line_end + 1).min(text.len());
        let nl = if text[..next].ends_with('\n') {
            ""
        } else {
            "\n"
        };
        return Ok(format!(
            "{}{nl}{}{}",
            &text[..next],
            line(indent),
            &text[next..]
        ));
    }
    let sep = if text.is_empty() || text.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    Ok(format!("{text}{sep}config:\n{}", line(2)))
}

/// A value as written into the file.
enum Rendered {
    /// A one-line YAML value.
    Inline(String),
    /// `secure: CIPHERTEXT`, on its own line under the key.
    Secure(String),
}

impl Rendered {
    fn lines(&self, indent: usize, key: &str) -> String {
        let pad = " ".repeat(indent);
        match self {
            Rendered::Inline(v) => format!("{pad}{key}: {v}\n"),
            Rendered::Secure(ct) => format!("{pad}{key}:\n{pad}  secure: {ct}\n"),
        }
    }
}

/// How a plain value may be written: as YAML would type it (number,
/// boolean, JSON list or map), then as a string.
fn candidates(value: &str) -> Vec<String> {
    let quoted = serde_json::to_string(value).unwrap_or_default();
    let trimmed = value.trim();
    let typed = matches!(trimmed, "true" | "false")
        || trimmed.parse::<i64>().is_ok()
        || (trimmed.parse::<f64>().is_ok()
            && trimmed
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')))
        || ((trimmed.starts_with('[') || trimmed.starts_with('{'))
            && serde_json::from_str::<serde_json::Value>(trimmed).is_ok());
    if typed && !trimmed.contains('\n') {
        vec![trimmed.to_string(), quoted]
    } else {
        vec![quoted]
    }
}

/// The problems the edited file has with `key` (undeclared, wrong type).
async fn problems_with(
    path: &Path,
    text: &str,
    key: &str,
    state_dir: Option<&Path>,
) -> Result<Option<Problems>, CliError> {
    let (bytes, overrides) = resolve_secure(path, text.as_bytes(), state_dir)?;
    let registry = crate::engine::registry(None).await;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let read_template = |name: &str| std::fs::read(dir.join(name)).map_err(|e| e.to_string());
    let Err(mut problems) = cairn_config::load_stack_layered(
        &path.display().to_string(),
        &bytes,
        &read_template,
        &registry,
        &overrides,
    ) else {
        return Ok(None);
    };
    let named = format!("`{key}`");
    let flag = format!("`--config {key}=");
    problems.problems.retain(|p| {
        !p.warning
            && [
                cairn_config::codes::UNKNOWN_CONFIG,
                cairn_config::codes::INVALID_CONFIG,
            ]
            .contains(&p.code.as_str())
            && (p.message.contains(&named) || p.message.contains(&flag))
    });
    Ok((!problems.problems.is_empty()).then_some(problems))
}

fn write_atomic(path: &Path, text: &str) -> Result<(), CliError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.cairn-tmp"));
    let fail =
        |e: std::io::Error| CliError::Failed(format!("cannot write {}: {e}", path.display()));
    std::fs::write(&tmp, text).map_err(fail)?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, path).map_err(fail)
}

fn read_value(value: Option<String>) -> Result<String, CliError> {
    if let Some(v) = value {
        return Ok(v);
    }
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| CliError::Failed(format!("reading the value from stdin: {e}")))?;
    let s = s.strip_suffix('\n').unwrap_or(&s);
    Ok(s.strip_suffix('\r').unwrap_or(s).to_string())
}

async fn set(
    select: &ConfigSelect,
    key: &str,
    value: Option<String>,
    secret: bool,
) -> Result<ExitCode, CliError> {
    if !valid_key(key) {
        return Err(CliError::Usage(format!(
            "`{key}` is not a config key: use letters, digits, `_` and `-`"
        )));
    }
    let file = open(select)?;
    let value = read_value(value)?;
    let state_dir = select.state_dir.as_deref();
    let options = if secret {
        let reuse = file.config.entries.iter().find_map(|e| e.secure.clone());
        let mut crypter = secrets(state_dir, &file.stack)?;
        let ct = crypter
            .seal(key, &value, reuse.as_deref())
            .map_err(|e| secret_error(e, key, &file.path, state_dir, &file.stack))?;
        vec![Rendered::Secure(ct)]
    } else {
        candidates(&value)
            .into_iter()
            .map(Rendered::Inline)
            .collect()
    };
    let mut first_problems = None;
    for rendered in &options {
        let text = with_entry(&file, key, rendered)?;
        match problems_with(&file.path, &text, key, state_dir).await? {
            None => {
                write_atomic(&file.path, &text)?;
                eprintln!(
                    "config `{key}` of stack `{}` set in {}{}",
                    file.stack,
                    file.path.display(),
                    if secret { " (encrypted)" } else { "" }
                );
                return Ok(ExitCode::SUCCESS);
            }
            Some(p) => {
                first_problems.get_or_insert(p);
            }
        }
    }
    match first_problems {
        Some(p) => Err(CliError::Invalid(p)),
        None => Err(CliError::Failed("no value to write".into())),
    }
}

fn get(select: &ConfigSelect, key: &str, show_secrets: bool) -> Result<ExitCode, CliError> {
    let file = open(select)?;
    let Some(e) = file.config.entries.iter().find(|e| e.key == key) else {
        return Err(unknown_key(&file, key));
    };
    match (&e.secure, &e.text) {
        (Some(ct), _) if show_secrets => {
            let state_dir = select.state_dir.as_deref();
            let mut crypter = secrets(state_dir, &file.stack)?;
            let plain = crypter
                .open(key, ct)
                .map_err(|err| secret_error(err, key, &file.path, state_dir, &file.stack))?;
            println!("{}", plain.as_str());
        }
        (Some(_), _) => println!("[secret]"),
        (None, Some(text)) => println!("{text}"),
        (None, None) => {
            let (start, end) = entry_lines(&file.text, e.key_span.offset);
            let block = &file.text[start..end];
            let value = block
                .split_once(':')
                .map_or(block, |(_, v)| v)
                .trim_matches('\n');
            println!("{}", value.trim_start_matches(' '));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn unknown_key(file: &EnvFile, key: &str) -> CliError {
    let keys: Vec<&str> = file.config.entries.iter().map(|e| e.key.as_str()).collect();
    CliError::Usage(format!(
        "{} sets no config `{key}`; it sets: {}",
        file.path.display(),
        if keys.is_empty() {
            "nothing".to_string()
        } else {
            keys.join(", ")
        }
    ))
}

async fn rm(select: &ConfigSelect, key: &str) -> Result<ExitCode, CliError> {
    let file = open(select)?;
    let Some(e) = file.config.entries.iter().find(|e| e.key == key) else {
        return Err(unknown_key(&file, key));
    };
    let (start, end) = entry_lines(&file.text, e.key_span.offset);
    let text = format!("{}{}", &file.text[..start], &file.text[end..]);
    write_atomic(&file.path, &text)?;
    eprintln!(
        "config `{key}` removed from {} (the template's default, if any, applies)",
        file.path.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(text: &str) -> EnvFile {
        EnvFile {
            path: PathBuf::from("stacks/x.yaml"),
            text: text.to_string(),
            config: cairn_config::env_config("x.yaml", text.as_bytes()).expect("env file"),
            stack: "x".into(),
        }
    }

    #[test]
    fn edits_keep_the_rest_of_the_file() {
        let text = "# top\nname: x\ntemplate: t.yaml\nconfig:\n  a: 1 # one\n  net:\n    vpc: v\n\n  b: two\npolicy: {}\n";
        let f = env(text);
        let set_a = with_entry(&f, "a", &Rendered::Inline("2".into())).expect("set");
        assert_eq!(
            set_a,
            "# top\nname: x\ntemplate: t.yaml\nconfig:\n  a: 2\n  net:\n    vpc: v\n\n  b: two\npolicy: {}\n"
        );
        let set_net = with_entry(&f, "net", &Rendered::Secure("v1:ct".into())).expect("set");
        assert!(
            set_net.contains("  net:\n    secure: v1:ct\n\n  b: two\n"),
            "{set_net}"
        );
        let added = with_entry(&f, "c", &Rendered::Inline("\"s\"".into())).expect("add");
        assert!(
            added.contains("  b: two\n  c: \"s\"\npolicy: {}\n"),
            "{added}"
        );
        let bare = env("name: x\ntemplate: t.yaml\n");
        let first = with_entry(&bare, "c", &Rendered::Inline("1".into())).expect("add");
        assert_eq!(first, "name: x\ntemplate: t.yaml\nconfig:\n  c: 1\n");
        let empty = env("name: x\ntemplate: t.yaml\nconfig:\npolicy: {}\n");
        let into = with_entry(&empty, "c", &Rendered::Inline("1".into())).expect("add");
        assert_eq!(
            into,
            "name: x\ntemplate: t.yaml\nconfig:\n  c: 1\npolicy: {}\n"
        );
        let flow = env("name: x\ntemplate: t.yaml\nconfig: { a: 1 }\n");
        assert!(with_entry(&flow, "a", &Rendered::Inline("2".into())).is_err());
    }

    #[test]
    fn values_are_tried_typed_then_as_strings() {
        assert_eq!(candidates("3"), vec!["3", "\"3\""]);
        assert_eq!(candidates("true"), vec!["true", "\"true\""]);
        assert_eq!(candidates("a: b"), vec!["\"a: b\""]);
        assert_eq!(candidates("[\"a\"]"), vec!["[\"a\"]", "\"[\\\"a\\\"]\""]);
        assert_eq!(candidates("inf"), vec!["\"inf\""]);
    }
}
