//! The protocol between the CLI and a stack program written in Rust
//! (`cairn up --stack prod --program redis-cache`).
//!
//! The CLI builds the program and runs it with a [`ProgramInput`] (the
//! stack's name and its config, secrets decrypted) as JSON on stdin, never
//! in argv or the environment; the program writes one [`ProgramOutput`]
//! (its [`StackSpec`]) as JSON on stdout and logs to stderr. Everything
//! after that (validation, policy, plan, apply, state) is the YAML path.
//! No IO here: the program's `main` reads stdin and calls [`respond`].
//!
//! ```
//! use cairn_core::dsl::program::{respond, ProgramInput};
//! use cairn_core::dsl::StackBuilder;
//! use cairn_core::value::{Map, Value};
//!
//! let mut config = Map::new();
//! config.insert("environment".into(), Value::from("dev"));
//! let input = ProgramInput::new("redis-dev", "demo", config).to_json();
//! let out = respond(&input, |cfg| {
//!     let env = cfg.string("environment")?;
//!     let mut b = StackBuilder::new(cfg.stack());
//!     b.output("environment", env);
//!     Ok(b.build())
//! })
//! .unwrap();
//! let spec = cairn_core::dsl::program::decode_output(&out).unwrap();
//! assert_eq!(spec.name, "redis-dev");
//! assert_eq!(spec.outputs["environment"].as_str(), Some("dev"));
//! ```

use crate::provider::{InvokeError, ProviderError};
use crate::spec::StackSpec;
use crate::value::{Map, Value};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::rc::Rc;

/// The protocol version; the CLI refuses an answer in another.
pub const PROTOCOL: u32 = 1;

/// What the CLI hands a program on stdin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProgramInput {
    pub protocol: u32,
    /// The stack's name (the environment file's `name:`), Pulumi's `pulumi.stack`.
    pub stack: String,
    /// The program's name, Pulumi's `pulumi.project`.
    pub project: String,
    /// The environment file's `config:`, with `--config` overrides and
    /// decrypted `secure:` values (as secrets).
    pub config: Map,
    /// Data sources the CLI ran for this program (the answers to a
    /// previous run's [`ProgramOutput::needs`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invoked: Vec<InvokeAnswer>,
    /// Invokes asked through [`ProgramInput::builder`] and not answered.
    #[serde(skip)]
    asked: Rc<RefCell<Vec<InvokeCall>>>,
}

/// A data source call (`fn::invoke`) a program needs the CLI to run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InvokeCall {
    pub token: String,
    /// Revealed arguments.
    pub args: Map,
}

/// The CLI's answer to an [`InvokeCall`]: its results or why it failed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InvokeAnswer {
    pub call: InvokeCall,
    pub result: Result<Map, String>,
}

/// What a program's stdout says.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// Its stack.
    Spec(StackSpec),
    /// Run these data sources and run the program again with their answers.
    Needs(Vec<InvokeCall>),
}

/// What a program writes on stdout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProgramOutput {
    pub protocol: u32,
    pub spec: StackSpec,
    /// Invokes to run first (the spec is then empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<InvokeCall>,
}

/// A program could not build its stack.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ProgramError {
    #[error("config `{key}` is not set")]
    #[diagnostic(
        code(cairn::program::config_missing),
        help("set it in the environment file's `config:` or with `--config {key}=VALUE`")
    )]
    Missing { key: String },
    #[error("config `{key}` must be {expected}")]
    #[diagnostic(
        code(cairn::program::config_type),
        help("fix the value in the environment file's `config:`")
    )]
    WrongType { key: String, expected: &'static str },
    #[error("the input on stdin is not a cairn program input: {0}")]
    #[diagnostic(
        code(cairn::program::bad_input),
        help("a stack program is run by the CLI: `cairn preview --stack NAME --program PROGRAM`")
    )]
    BadInput(String),
    #[error("data source `{token}`: {message}")]
    #[diagnostic(
        code(cairn::program::invoke),
        help("check the data source's token and arguments; invokes take config or other invokes' results, never resource outputs")
    )]
    Invoke { token: String, message: String },
    #[error("{0}")]
    #[diagnostic(code(cairn::program::failed))]
    Other(String),
}

impl ProgramInput {
    pub fn new(stack: &str, project: &str, config: Map) -> Self {
        ProgramInput {
            protocol: PROTOCOL,
            stack: stack.to_string(),
            project: project.to_string(),
            config,
            invoked: Vec::new(),
            asked: Rc::default(),
        }
    }

    /// A builder for this stack whose invokes are answered by the CLI: an
    /// invoke not answered yet fails, and [`respond`] asks the CLI for it
    /// (the CLI runs it and runs the program again).
    pub fn builder(&self) -> super::StackBuilder {
        let answers = self.invoked.clone();
        let asked = self.asked.clone();
        let invoker: super::Invoker = Box::new(move |token, args| {
            let call = InvokeCall {
                token: token.to_string(),
                args: args.clone(),
            };
            match answers.iter().find(|a| a.call == call) {
                Some(a) => a
                    .result
                    .clone()
                    .map_err(|m| InvokeError::Failed(ProviderError::invalid(token, m))),
                None => {
                    asked.borrow_mut().push(call);
                    Err(InvokeError::Failed(ProviderError::invalid(
                        token,
                        "not run yet: the CLI runs it and runs the program again",
                    )))
                }
            }
        });
        super::StackBuilder::new(&self.stack).with_invoker(invoker)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn stack(&self) -> &str {
        &self.stack
    }

    /// A config value as given (secrets stay [`Value::Secret`]).
    pub fn value(&self, key: &str) -> Option<&Value> {
        self.config.get(key).filter(|v| !matches!(v, Value::Null))
    }

    fn typed<T>(
        &self,
        key: &str,
        expected: &'static str,
        get: impl Fn(&Value) -> Option<T>,
    ) -> Result<Option<T>, ProgramError> {
        match self.value(key) {
            None => Ok(None),
            Some(v) => get(v).map(Some).ok_or_else(|| ProgramError::WrongType {
                key: key.to_string(),
                expected,
            }),
        }
    }

    fn required<T>(&self, key: &str, found: Option<T>) -> Result<T, ProgramError> {
        found.ok_or_else(|| ProgramError::Missing {
            key: key.to_string(),
        })
    }

    /// A required string (a number or boolean is taken as its text, as a
    /// YAML `type: string` config takes it).
    pub fn string(&self, key: &str) -> Result<String, ProgramError> {
        let found = self.typed(key, "a string", scalar_text)?;
        self.required(key, found)
    }
    pub fn string_or(&self, key: &str, default: &str) -> Result<String, ProgramError> {
        Ok(self
            .typed(key, "a string", scalar_text)?
            .unwrap_or_else(|| default.to_string()))
    }
    pub fn int(&self, key: &str) -> Result<i64, ProgramError> {
        let found = self.typed(key, "an integer", Value::as_i64)?;
        self.required(key, found)
    }
    pub fn int_or(&self, key: &str, default: i64) -> Result<i64, ProgramError> {
        Ok(self
            .typed(key, "an integer", Value::as_i64)?
            .unwrap_or(default))
    }
    pub fn bool(&self, key: &str) -> Result<bool, ProgramError> {
        let found = self.typed(key, "true or false", Value::as_bool)?;
        self.required(key, found)
    }
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, ProgramError> {
        Ok(self
            .typed(key, "true or false", Value::as_bool)?
            .unwrap_or(default))
    }
    /// A list of strings, or `default` when it is not set.
    pub fn strings_or(&self, key: &str, default: &[&str]) -> Result<Vec<String>, ProgramError> {
        let list =
            |v: &Value| -> Option<Vec<String>> { v.as_list()?.iter().map(scalar_text).collect() };
        Ok(self
            .typed(key, "a list of strings", list)?
            .unwrap_or_else(|| default.iter().map(|s| s.to_string()).collect()))
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Secret(inner) => scalar_text(inner),
        _ => None,
    }
}

/// Reads the CLI's input (`stdin`, as text), builds the stack with
/// `build`, and returns what the program prints on stdout. The stack is
/// named as the CLI says, whatever `build` named it.
pub fn respond(
    stdin: &str,
    build: impl FnOnce(&ProgramInput) -> Result<StackSpec, ProgramError>,
) -> Result<String, ProgramError> {
    let input: ProgramInput =
        serde_json::from_str(stdin).map_err(|e| ProgramError::BadInput(e.to_string()))?;
    if input.protocol != PROTOCOL {
        return Err(ProgramError::BadInput(format!(
            "protocol {} (this program speaks {PROTOCOL})",
            input.protocol
        )));
    }
    let built = build(&input);
    let needs = input.asked.take();
    if !needs.is_empty() {
        let out = ProgramOutput {
            protocol: PROTOCOL,
            spec: StackSpec::new(&input.stack),
            needs,
        };
        return Ok(serde_json::to_string(&out).unwrap_or_default());
    }
    let mut spec = built?;
    spec.name = input.stack.clone();
    Ok(encode_output(&spec))
}

/// The JSON a program prints for `spec`.
pub fn encode_output(spec: &StackSpec) -> String {
    let out = ProgramOutput {
        protocol: PROTOCOL,
        spec: spec.clone(),
        needs: Vec::new(),
    };
    serde_json::to_string(&out).unwrap_or_default()
}

/// Reads a program's stdout back into its stack (the CLI side); a program
/// that needs data sources run is an error here (see [`decode_answer`]).
pub fn decode_output(stdout: &str) -> Result<StackSpec, String> {
    match decode_answer(stdout)? {
        Answer::Spec(spec) => Ok(spec),
        Answer::Needs(calls) => {
            let tokens: Vec<&str> = calls.iter().map(|c| c.token.as_str()).collect();
            Err(format!(
                "it needs data sources run first ({}), which this caller does not do",
                tokens.join(", ")
            ))
        }
    }
}

/// Reads a program's stdout: its stack, or the invokes to run first (the
/// CLI then runs the program again with [`ProgramInput::invoked`]).
pub fn decode_answer(stdout: &str) -> Result<Answer, String> {
    let out: ProgramOutput = serde_json::from_str(stdout.trim()).map_err(|e| e.to_string())?;
    if out.protocol != PROTOCOL {
        return Err(format!(
            "it speaks protocol {}, this cairn speaks {PROTOCOL}: rebuild it against this cairn",
            out.protocol
        ));
    }
    if out.needs.is_empty() {
        Ok(Answer::Spec(out.spec))
    } else {
        Ok(Answer::Needs(out.needs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{ResourceSpec, Timeouts};

    #[test]
    fn a_spec_round_trips_through_the_protocol_with_secrets_and_options() {
        let mut spec = StackSpec::new("s");
        let mut props = Map::new();
        props.insert("token".into(), Value::secret("hunter2"));
        props.insert("n".into(), Value::Int(3));
        let mut r = ResourceSpec::new("a", "core:Data", props);
        r.options.protect = true;
        r.options.custom_timeouts = Timeouts {
            create: Some(60),
            ..Default::default()
        };
        spec.add(r);
        spec.output("o", "${a.output}");
        assert_eq!(decode_output(&encode_output(&spec)), Ok(spec));
    }

    #[test]
    fn a_program_asks_for_its_invokes_then_builds_with_the_answers() {
        let program = |input: &ProgramInput| -> Result<StackSpec, ProgramError> {
            let mut b = input.builder();
            let vpc = b.invoke("aws:ec2:getVpc", [("default", true)])?;
            b.output("vpc", vpc.string("id").unwrap_or_default());
            b.try_build()
        };
        let input = ProgramInput::new("s", "p", Map::new());
        let first = respond(&input.to_json(), program).unwrap();
        let Ok(Answer::Needs(calls)) = decode_answer(&first) else {
            panic!("expected the program to ask for its invoke: {first}");
        };
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].token, "aws:ec2:getVpc");
        assert_eq!(calls[0].args.get("default"), Some(&Value::Bool(true)));
        assert!(decode_output(&first)
            .unwrap_err()
            .contains("aws:ec2:getVpc"));
        let mut answered = ProgramInput::new("s", "p", Map::new());
        let mut result = Map::new();
        result.insert("id".into(), Value::from("vpc-$1"));
        answered.invoked.push(InvokeAnswer {
            call: calls[0].clone(),
            result: Ok(result),
        });
        let spec = decode_output(&respond(&answered.to_json(), program).unwrap()).unwrap();
        // A result is data: its `$` escaped, as YAML's fn::invoke.
        assert_eq!(spec.outputs["vpc"].as_str(), Some("vpc-$$1"));
    }

    #[test]
    fn config_getters_name_the_missing_or_mistyped_key() {
        let mut config = Map::new();
        config.insert("n".into(), Value::from("x"));
        let input = ProgramInput::new("s", "p", config);
        assert_eq!(
            input.int("n").unwrap_err().to_string(),
            "config `n` must be an integer"
        );
        assert_eq!(
            input.int("m").unwrap_err().to_string(),
            "config `m` is not set"
        );
        assert_eq!(input.int_or("m", 7).unwrap(), 7);
        let garbage = respond("not json", |_| Ok(StackSpec::new("x")));
        assert!(matches!(garbage, Err(ProgramError::BadInput(_))));
    }
}
