use cairn_core::diag::Problems;
use std::path::PathBuf;

/// Everything the CLI can fail with. Input errors exit 2, the rest 1.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CliError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Invalid(#[from] Problems),

    #[error("cannot read stack file {path}")]
    #[diagnostic(
        code(cairn::cli::read),
        help("check the path; `--stack NAME` reads stacks/NAME.yaml")
    )]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{0}")]
    #[diagnostic(code(cairn::cli::usage))]
    Usage(String),

    #[error(transparent)]
    #[diagnostic(transparent)]
    State(#[from] cairn_state::StateError),

    #[cfg(feature = "aws")]
    #[error(transparent)]
    #[diagnostic(transparent)]
    Backend(#[from] cairn_backend_s3::BackendError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Emulator(#[from] cairn_emulator::EmulatorError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Provider(#[from] cairn_core::ProviderError),

    #[error("{0}")]
    #[diagnostic(code(cairn::cli::failed))]
    Failed(String),

    #[error("stack `{stack}` has no state in {location}")]
    #[diagnostic(
        code(cairn::cli::no_state),
        help("it was never applied here: check --stack, --backend and --local, or run `cairn up`")
    )]
    NoState { stack: String, location: String },

    #[error("{0}")]
    #[diagnostic(
        code(cairn::cli::changes),
        help("--expect-no-changes fails when the plan has changes; drop it to apply them")
    )]
    ChangesExpectedNone(String),

    #[error("the saved plan {path} is stale: {what}")]
    #[diagnostic(
        code(cairn::plan::stale),
        help("run `cairn preview --out FILE` again, review it, and apply that plan")
    )]
    StalePlan { path: String, what: String },

    #[error("stack `{stack}` has no output `{name}`")]
    #[diagnostic(code(cairn::cli::unknown_output), help("{help}"))]
    UnknownOutput {
        stack: String,
        name: String,
        help: String,
    },

    #[error("cannot decrypt config `{key}` in {file}: {reason}")]
    #[diagnostic(
        code(cairn::config::secret_key),
        help("secrets in an environment file are encrypted with $STACK_PASSPHRASE or, when it is not set, the key file {key_file}: use the one they were set with, or set the value again with `cairn config set {key} --secret`")
    )]
    ConfigSecret {
        key: String,
        file: String,
        reason: String,
        key_file: String,
    },

    /// Ctrl-C (or SIGTERM) while the confirmation prompt waited: nothing
    /// was changed; the lock is released on the way out.
    #[error("interrupted at the confirmation prompt: nothing was changed, the lock is released")]
    #[diagnostic(code(cairn::cli::interrupted))]
    Interrupted { code: u8 },
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Invalid(_) | CliError::Read { .. } | CliError::Usage(_) => 2,
            CliError::Interrupted { code } => *code,
            #[cfg(feature = "aws")]
            CliError::Backend(cairn_backend_s3::BackendError::Url { .. }) => 2,
            _ => 1,
        }
    }
}
