//! The one error type of this crate, with stable diagnostic codes.

use crate::lock::LockInfo;
use std::path::PathBuf;

/// Everything that can go wrong opening, reading or writing a stack's state.
///
/// Codes (`cairn::state::...`) are stable; the CLI renders these as miette
/// reports. No variant ever carries plaintext secret material.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[non_exhaustive]
pub enum StateError {
    #[error("{}", locked_message(.0))]
    #[diagnostic(
        code(cairn::state::locked),
        help("if that process is gone, run with --force-unlock")
    )]
    Locked(LockInfo),

    #[error("the state of stack `{stack}` belongs to {recorded}, but this run targets {current}")]
    #[diagnostic(
        code(cairn::state::wrong_target),
        help("use the state directory or backend of this target (`--local` runs keep their own state); to move the state on purpose, re-run with --force")
    )]
    WrongTarget {
        stack: String,
        recorded: String,
        current: String,
    },

    #[error("the state database at {path} is in use by another process")]
    #[diagnostic(
        code(cairn::state::busy),
        help("another cairn process has this stack's database open (a lock was force-removed while it ran, or a reader is copying it); retry when it finishes")
    )]
    Busy { path: PathBuf },

    #[error("{action} {path}: {source}")]
    #[diagnostic(code(cairn::state::io))]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("state database error: {detail}")]
    #[diagnostic(
        code(cairn::state::database),
        help("the state database could not be read or written; check disk space and permissions of the state directory")
    )]
    Database { detail: String },

    #[error("state is damaged: {what}: {detail}")]
    #[diagnostic(
        code(cairn::state::corrupt),
        help(
            "restore the stack's state directory from a backup, or rebuild it with `cairn import`"
        )
    )]
    Corrupt { what: String, detail: String },

    #[error(
        "{what} uses state format {found}, but this cairn understands only format {supported}"
    )]
    #[diagnostic(
        code(cairn::state::format),
        help("this state was written by a newer cairn: upgrade cairn to read it")
    )]
    UnsupportedFormat {
        what: String,
        found: u64,
        supported: u32,
    },

    #[error("cannot decrypt the state's secrets: {reason}")]
    #[diagnostic(
        code(cairn::state::wrong_key),
        help("check $STACK_PASSPHRASE (or the key file) used when this stack was created")
    )]
    WrongKey { reason: String },

    #[error("the state's secrets are encrypted with `{stored}`, but `{given}` was supplied")]
    #[diagnostic(
        code(cairn::state::key_scheme),
        help("supply the same kind of key the stack was created with: set $STACK_PASSPHRASE for `passphrase-argon2id`, unset it for `keyfile`")
    )]
    KeySchemeMismatch { stored: String, given: String },

    #[error("a secret in {what} failed authentication")]
    #[diagnostic(
        code(cairn::state::decrypt),
        help("the ciphertext was altered or moved from another resource or stack; restore the state from a backup")
    )]
    Decrypt { what: String },

    #[error("key file {path}: {problem}")]
    #[diagnostic(
        code(cairn::state::key_file),
        help("the key file must hold exactly 32 bytes and be readable only by its owner (chmod 600); if it is lost, the stack's secrets cannot be recovered")
    )]
    KeyFile { path: PathBuf, problem: String },

    #[error("$STACK_PASSPHRASE is set but empty")]
    #[diagnostic(
        code(cairn::state::empty_passphrase),
        help("set a non-empty passphrase, or unset STACK_PASSPHRASE to use the stack's key file")
    )]
    EmptyPassphrase,

    #[error("key provider `{scheme}`: {message}")]
    #[diagnostic(code(cairn::state::key_provider))]
    KeyProvider { scheme: String, message: String },

    #[error("invalid stack name `{name}`: {reason}")]
    #[diagnostic(
        code(cairn::state::stack_name),
        help("stack names use letters, digits, `.`, `_` and `-`, do not start with `.`, and are at most 100 characters")
    )]
    InvalidStackName { name: String, reason: &'static str },

    #[error("no state for stack `{stack}` under {root}")]
    #[diagnostic(
        code(cairn::state::no_such_stack),
        help("check the stack name and --state-dir; a stack's state is created by its first `up`")
    )]
    NoSuchStack { stack: String, root: PathBuf },

    #[error("stack `{stack}` is being written by another process and has no snapshot yet")]
    #[diagnostic(
        code(cairn::state::no_snapshot),
        help("retry once the running `up` finishes")
    )]
    NoSnapshot { stack: String },

    #[error("this state store was opened read-only")]
    #[diagnostic(
        code(cairn::state::read_only),
        help("open the stack with StateStore::open to write it")
    )]
    ReadOnly,

    #[error("operation {op_id} (on `{resource}`) is already in the journal")]
    #[diagnostic(
        code(cairn::state::duplicate_op),
        help("resolve the interrupted run's pending intents first, and number new operations from StateStore::next_op_id()")
    )]
    DuplicateOp { op_id: u64, resource: String },

    #[error("operation {op_id} (on `{resource}`) was never begun")]
    #[diagnostic(
        code(cairn::state::unknown_op),
        help("finish must follow begin with the same op_id; this is a bug in the caller")
    )]
    UnknownOp { op_id: u64, resource: String },

    #[error("could not encrypt a secret: {detail}")]
    #[diagnostic(code(cairn::state::encrypt))]
    Encrypt { detail: String },
}

fn locked_message(info: &LockInfo) -> String {
    let stale = if info.stale {
        " — the lock looks stale: that process is gone"
    } else {
        ""
    };
    format!(
        "stack state is locked by pid {} on host {} since {} (`{}`){stale}",
        info.pid, info.host, info.started_at, info.command
    )
}

impl StateError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        StateError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub fn corrupt(what: impl Into<String>, detail: impl ToString) -> Self {
        StateError::Corrupt {
            what: what.into(),
            detail: detail.to_string(),
        }
    }
}

impl From<sled::Error> for StateError {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Corruption { at, .. } => StateError::Corrupt {
                what: "state database".into(),
                detail: match at {
                    Some(at) => format!("corrupt data at {at:?}"),
                    None => "corrupt data".into(),
                },
            },
            other => StateError::Database {
                detail: other.to_string(),
            },
        }
    }
}

impl From<StateError> for cairn_core::state::StateSinkError {
    fn from(e: StateError) -> Self {
        use miette::Diagnostic;
        let code = e.code().map(|c| c.to_string()).unwrap_or_default();
        let mut msg = format!("[{code}] {e}");
        if let Some(help) = e.help() {
            msg.push_str(&format!(" (help: {help})"));
        }
        cairn_core::state::StateSinkError(msg)
    }
}
