//! The backend's error type, with stable diagnostic codes.

use cairn_state::StateError;

/// What can go wrong with remote state. Never carries secret material.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[non_exhaustive]
pub enum BackendError {
    #[error("`{url}` is not a state backend: {reason}")]
    #[diagnostic(
        code(cairn::backend::url),
        help("use `local` or `s3://BUCKET/PREFIX?kms_key=KEY` (KEY: a KMS key id, ARN or `alias/NAME`)")
    )]
    Url { url: String, reason: String },

    #[error("S3 {operation} on {url} failed ({code}): {detail}")]
    #[diagnostic(
        code(cairn::backend::s3),
        help("check that the bucket exists in this account and region, and that the role may s3:GetObject, s3:PutObject and s3:DeleteObject under the prefix")
    )]
    S3 {
        operation: &'static str,
        url: String,
        code: String,
        detail: String,
    },

    #[error("KMS {operation} with key {key} failed ({code}): {detail}")]
    #[diagnostic(
        code(cairn::backend::kms),
        help("the state's data key is protected by this KMS key: the role needs kms:GenerateDataKey and kms:Decrypt on it, and the key must be enabled")
    )]
    Kms {
        operation: &'static str,
        key: String,
        code: String,
        detail: String,
    },

    #[error("{url} changed under this run: {detail}")]
    #[diagnostic(
        code(cairn::backend::conflict),
        help("another writer changed the remote state; nothing was overwritten. Re-run: the next run reads the newer state and reconciles anything in flight")
    )]
    Conflict { url: String, detail: String },

    #[error(
        "the lock {url} changed since it was shown: another process took it; it was not removed"
    )]
    #[diagnostic(
        code(cairn::backend::lock_changed),
        help("look at the new holder (`cairn preview` names it when it fails to lock); force-unlock again only if that holder is gone")
    )]
    LockChanged { url: String },

    #[error("{url} is damaged: {detail}")]
    #[diagnostic(
        code(cairn::backend::corrupt),
        help(
            "restore the object from S3 versioning, or remove a damaged lock with --force-unlock"
        )
    )]
    Corrupt { url: String, detail: String },

    #[error("cannot encode the lock record: {detail}")]
    #[diagnostic(code(cairn::backend::encode))]
    Encode { detail: String },

    #[error(transparent)]
    #[diagnostic(transparent)]
    State(#[from] StateError),
}
