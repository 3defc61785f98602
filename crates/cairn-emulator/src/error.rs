//! Error type of the emulator crate.

use std::path::PathBuf;

/// Everything that can go wrong while provisioning, starting or talking to the emulator.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum EmulatorError {
    /// No usable `python3` interpreter.
    #[error("python3 not found or unusable ({detail})")]
    #[diagnostic(
        code(cairn::emulator::python),
        help("install Python >= 3.9 with the venv module (Debian: `apt-get install python3 python3-venv`), or point $CAIRN_PYTHON at an interpreter")
    )]
    PythonMissing {
        /// What was tried and what failed.
        detail: String,
    },

    /// Creating the virtualenv or installing moto into it failed.
    #[error("could not prepare the emulator virtualenv at {venv}: {message}")]
    #[diagnostic(
        code(cairn::emulator::venv),
        help("the venv is cached under $CAIRN_EMULATOR_HOME (default $XDG_CACHE_HOME/cairn/emulator or ~/.cache/cairn/emulator); delete it to force a clean reinstall, and check that PyPI is reachable")
    )]
    Venv {
        /// Virtualenv directory.
        venv: PathBuf,
        /// Failure details (includes pip output when available).
        message: String,
    },

    /// Neither `$CAIRN_EMULATOR_HOME`, `$XDG_CACHE_HOME` nor `$HOME` is set.
    #[error(
        "the emulator has no home: none of $CAIRN_EMULATOR_HOME, $XDG_CACHE_HOME, $HOME is set"
    )]
    #[diagnostic(
        code(cairn::emulator::home_unset),
        help("set $CAIRN_EMULATOR_HOME to a directory only you can write (it holds the emulator's Python code)")
    )]
    HomeUnset,

    /// The emulator's home could hold code planted by someone else.
    #[error("refusing the emulator home {home}: {problem}")]
    #[diagnostic(
        code(cairn::emulator::home_unsafe),
        help("its venv and Python package run as your code: use a directory you own that others cannot write (`chmod 700`), or point $CAIRN_EMULATOR_HOME elsewhere")
    )]
    HomeUnsafe {
        /// The directory.
        home: PathBuf,
        /// What is wrong with it.
        problem: String,
    },

    /// Twin mode was requested but `redis-server` is not installed.
    #[error("twin mode needs redis-server, which was not found ({detail})")]
    #[diagnostic(
        code(cairn::emulator::redis_missing),
        help("install redis (Debian: `apt-get install redis-server redis-tools`), or set $CAIRN_REDIS_SERVER, or start the emulator without twin mode")
    )]
    RedisMissing {
        /// What was looked for.
        detail: String,
    },

    /// The requested port is already taken.
    #[error("127.0.0.1:{port} is already in use")]
    #[diagnostic(
        code(cairn::emulator::port_in_use),
        help("another emulator may be running: check `cairn emulator status`, stop it with `cairn emulator stop`, or choose another port with $LOCAL_AWS_PORT")
    )]
    PortInUse {
        /// The port.
        port: u16,
    },

    /// The emulator process exited or never became healthy.
    #[error("the emulator failed to start: {message}\n--- emulator log ({log}) ---\n{log_tail}")]
    #[diagnostic(
        code(cairn::emulator::start),
        help("read the emulator log above; a stale venv can be removed to force reinstallation")
    )]
    Start {
        /// Summary.
        message: String,
        /// Log file path.
        log: PathBuf,
        /// Last lines of the log.
        log_tail: String,
    },

    /// HTTP exchange with the emulator failed.
    #[error("emulator request {what} failed: {message}")]
    #[diagnostic(
        code(cairn::emulator::http),
        help("is the emulator still running? check `cairn emulator status`")
    )]
    Http {
        /// Request description, e.g. `GET /_cairn/calls`.
        what: String,
        /// Failure details.
        message: String,
    },

    /// The emulator answered something unexpected.
    #[error("unexpected emulator response to {what}: {message}")]
    #[diagnostic(code(cairn::emulator::protocol))]
    Protocol {
        /// Request description.
        what: String,
        /// Details.
        message: String,
    },

    /// A replication group's local twin failed to start.
    #[error("the local twin of replication group {replication_group_id} failed: {message}")]
    #[diagnostic(
        code(cairn::emulator::twin),
        help("see the emulator log and <state-dir>/twins/<id>/*/redis.log")
    )]
    Twin {
        /// Replication group id.
        replication_group_id: String,
        /// Details.
        message: String,
    },

    /// Seeding the network fixture failed.
    #[error("seeding the network fixture failed: {message}")]
    #[diagnostic(code(cairn::emulator::seed))]
    Seed {
        /// Details.
        message: String,
    },

    /// Daemon bookkeeping (pid/port files) failed.
    #[error("emulator daemon: {message}")]
    #[diagnostic(
        code(cairn::emulator::daemon),
        help("remove stale files in the state directory if the process is gone")
    )]
    Daemon {
        /// Details.
        message: String,
    },

    /// Filesystem / process I/O error.
    #[error("{context}: {source}")]
    #[diagnostic(code(cairn::emulator::io))]
    Io {
        /// What was being done.
        context: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

impl EmulatorError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> EmulatorError {
        let context = context.into();
        move |source| EmulatorError::Io { context, source }
    }
}
