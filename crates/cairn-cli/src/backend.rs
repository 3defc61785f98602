//! Where a stack's state lives: the local sled store under `state/` (the
//! default) or, for teams, S3 (`--backend s3://BUCKET/PREFIX?kms_key=KEY`).

use crate::error::CliError;
use cairn_core::state::{StackState, StateSink};
use cairn_state::{Binding, SecretKeys, StateStore};
use std::path::{Path, PathBuf};

/// A state backend, chosen with `--backend` / `$CAIRN_BACKEND`.
pub enum Backend {
    Local {
        root: PathBuf,
    },
    #[cfg(feature = "aws")]
    S3 {
        backend: cairn_backend_s3::S3Backend,
        /// Local working copies live here.
        work_root: PathBuf,
    },
}

impl Backend {
    /// `spec`: `None` or `local` for the local store under `state_root`,
    /// else `s3://…`. `endpoint` is the emulator's with `--local`.
    pub async fn parse(
        spec: Option<&str>,
        state_root: &Path,
        endpoint: Option<&str>,
    ) -> Result<Backend, CliError> {
        match spec.map(str::trim) {
            None | Some("") | Some("local") => Ok(Backend::Local {
                root: state_root.to_path_buf(),
            }),
            #[cfg(feature = "aws")]
            Some(url) if url.starts_with("s3://") => {
                let location = cairn_backend_s3::S3Location::parse(url)?;
                let sdk = cairn_aws::load_sdk_config(endpoint).await;
                let mut work_root = state_root.join(".s3").join(&location.bucket);
                for segment in location.prefix.split('/').filter(|s| !s.is_empty()) {
                    work_root.push(segment);
                }
                Ok(Backend::S3 {
                    // An endpoint override (the emulator) has no per-bucket host names.
                    backend: cairn_backend_s3::S3Backend::new(&sdk, location, endpoint.is_some()),
                    work_root,
                })
            }
            Some(other) => {
                let _ = endpoint;
                Err(CliError::Usage(format!(
                    "unknown state backend `{other}`: use `local` or `s3://BUCKET/PREFIX?kms_key=KEY`{}",
                    if cfg!(feature = "aws") {
                        ""
                    } else {
                        " (this build has no AWS support)"
                    }
                )))
            }
        }
    }

    /// For messages: `state/` or `s3://bucket/prefix`.
    pub fn describe(&self) -> String {
        match self {
            Backend::Local { root } => root.display().to_string(),
            #[cfg(feature = "aws")]
            Backend::S3 { backend, .. } => backend.location().url(),
        }
    }

    /// Takes the stack's writer lock and opens its state.
    pub async fn open_writer(&self, stack: &str, force_unlock: bool) -> Result<Writer, CliError> {
        match self {
            Backend::Local { root } => Ok(Writer::Local(Box::new(open_local_writer(
                root,
                stack,
                force_unlock,
            )?))),
            #[cfg(feature = "aws")]
            Backend::S3 { backend, work_root } => {
                if force_unlock {
                    if let Some(info) = backend.force_unlock(stack).await? {
                        warn_removed(&info);
                    }
                }
                Ok(Writer::Remote(Box::new(
                    backend.open_writer(stack, work_root).await?,
                )))
            }
        }
    }

    /// Recorded state for read-only commands; a stack never applied has none.
    /// With `check`, a state bound elsewhere is refused unless `force`.
    pub async fn read(
        &self,
        stack: &str,
        check: Option<&Binding>,
        force: bool,
    ) -> Result<StackState, CliError> {
        Ok(self
            .read_opt(stack, check, force)
            .await?
            .unwrap_or_default())
    }

    /// How many operations an interrupted run left in the journal (the next
    /// writer's recovery settles them); 0 for a stack with no state.
    pub async fn pending(&self, stack: &str) -> Result<usize, CliError> {
        let store = match self {
            Backend::Local { root } => {
                match StateStore::open_read_only(root, stack, local_keys(root, stack)?) {
                    Ok(store) => store,
                    Err(cairn_state::StateError::NoSuchStack { .. }) => return Ok(0),
                    Err(e) => return Err(e.into()),
                }
            }
            #[cfg(feature = "aws")]
            Backend::S3 { backend, work_root } => match backend.read(stack, work_root).await? {
                Some(store) => store,
                None => return Ok(0),
            },
        };
        Ok(store.pending_intents()?.len())
    }

    /// Like `read`, but `None` for a stack that has no state at all.
    pub async fn read_opt(
        &self,
        stack: &str,
        check: Option<&Binding>,
        force: bool,
    ) -> Result<Option<StackState>, CliError> {
        let store = match self {
            Backend::Local { root } => {
                match StateStore::open_read_only(root, stack, local_keys(root, stack)?) {
                    Ok(store) => store,
                    Err(cairn_state::StateError::NoSuchStack { .. }) => return Ok(None),
                    Err(e) => return Err(e.into()),
                }
            }
            #[cfg(feature = "aws")]
            Backend::S3 { backend, work_root } => match backend.read(stack, work_root).await? {
                Some(store) => store,
                None => return Ok(None),
            },
        };
        if let Some(current) = check {
            store.check_binding(current, force)?;
        }
        Ok(Some(store.load()?))
    }
}

fn local_keys(root: &Path, stack: &str) -> Result<SecretKeys, CliError> {
    Ok(SecretKeys::from_env_or_default(root, stack)?)
}

fn warn_removed(info: &cairn_state::LockInfo) {
    eprintln!(
        "warning: removed the lock held by pid {} on {} since {}{}",
        info.pid,
        info.host,
        info.started_at,
        if info.stale {
            " (that process is gone)"
        } else {
            ""
        }
    );
}

fn open_local_writer(root: &Path, stack: &str, force_unlock: bool) -> Result<StateStore, CliError> {
    if force_unlock {
        if let Some(info) = StateStore::force_unlock(root, stack)? {
            warn_removed(&info);
        }
    }
    let keys = local_keys(root, stack)?;
    match StateStore::open(root, stack, keys.clone()) {
        // The holder is provably gone (its lock is free): take over, loudly.
        Err(cairn_state::StateError::Locked(info)) if info.stale => {
            eprintln!(
                "warning: taking over a stale lock: pid {} on {} (started {}) is no longer running",
                info.pid, info.host, info.started_at
            );
            StateStore::force_unlock(root, stack)?;
            Ok(StateStore::open(root, stack, keys)?)
        }
        other => Ok(other?),
    }
}

/// A stack opened for writing, on either backend. Call [`Writer::close`]
/// at the end of the run, on success and on failure alike.
pub enum Writer {
    Local(Box<StateStore>),
    #[cfg(feature = "aws")]
    Remote(Box<cairn_backend_s3::RemoteStore>),
}

impl Writer {
    /// The (working copy of the) state, for reads.
    pub fn store(&self) -> &StateStore {
        match self {
            Writer::Local(s) => s.as_ref(),
            #[cfg(feature = "aws")]
            Writer::Remote(r) => r.store(),
        }
    }

    /// Where the engine records intents and outcomes.
    pub fn sink(&self) -> &dyn StateSink {
        match self {
            Writer::Local(s) => s.as_ref(),
            #[cfg(feature = "aws")]
            Writer::Remote(r) => r.as_ref(),
        }
    }

    /// Checks that the state belongs to `current` (adopting it when the
    /// state has no binding yet); `force` rebinds a state bound elsewhere
    /// and returns the binding it replaced.
    pub async fn bind(&self, current: &Binding, force: bool) -> Result<Option<Binding>, CliError> {
        match self {
            Writer::Local(s) => Ok(s.bind(current, force)?),
            #[cfg(feature = "aws")]
            Writer::Remote(r) => Ok(r.bind(current, force).await?),
        }
    }

    pub fn replace_all(&self, state: &StackState) -> Result<(), CliError> {
        match self {
            Writer::Local(s) => Ok(s.replace_all(state)?),
            #[cfg(feature = "aws")]
            Writer::Remote(r) => Ok(r.replace_all(state)?),
        }
    }

    /// Everything recorded so far, durable (and uploaded).
    pub async fn sync(&self) -> Result<(), CliError> {
        match self {
            Writer::Local(s) => Ok(s.flush()?),
            #[cfg(feature = "aws")]
            Writer::Remote(r) => Ok(r.sync().await?),
        }
    }

    /// Syncs and releases the lock.
    pub async fn close(self) -> Result<(), CliError> {
        match self {
            Writer::Local(s) => {
                s.flush()?;
                drop(s);
                Ok(())
            }
            #[cfg(feature = "aws")]
            Writer::Remote(r) => Ok((*r).close().await?),
        }
    }
}

/// Runs `body` with the writer, then closes it whatever happened; the
/// body's error wins over a close error.
pub async fn with_writer<T, F>(writer: Writer, body: F) -> Result<T, CliError>
where
    F: AsyncFnOnce(&Writer) -> Result<T, CliError>,
{
    let result = body(&writer).await;
    let closed = writer.close().await;
    match (result, closed) {
        (Ok(v), Ok(())) => Ok(v),
        (Err(e), Ok(())) => Err(e),
        (Ok(_), Err(e)) => Err(e),
        (Err(e), Err(close)) => {
            eprintln!("warning: after the error below, closing the state also failed: {close}");
            Err(e)
        }
    }
}
