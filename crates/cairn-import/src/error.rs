//! Import errors: stable codes (`cairn::import::*`), a help line, and where
//! it makes sense the file, line and column (a redacted copy of the file:
//! values are masked so no attribute, secret or not, is ever printed).

use miette::{Diagnostic, NamedSource, SourceSpan};
use std::sync::Arc;

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum ImportError {
    #[error("{file} is not valid JSON: {message}")]
    #[diagnostic(
        code(cairn::import::syntax),
        help("the file is damaged or truncated; `terraform state pull > FILE` writes a complete copy of the state")
    )]
    Syntax {
        file: String,
        message: String,
        #[source_code]
        src: Arc<NamedSource<String>>,
        #[label("here")]
        at: SourceSpan,
    },

    #[error(
        "{file}: Terraform state format version {found} is not supported; cairn reads version 4"
    )]
    #[diagnostic(
        code(cairn::import::version),
        help("Terraform 0.12 and later write version 4: run `terraform state pull > FILE` with a current Terraform (it upgrades older states)")
    )]
    Version {
        file: String,
        found: String,
        #[source_code]
        src: Arc<NamedSource<String>>,
        #[label("this version")]
        at: Option<SourceSpan>,
    },

    #[error("{file}: {message}")]
    #[diagnostic(
        code(cairn::import::shape),
        help("this is not a Terraform state file as Terraform writes it; `terraform state pull > FILE` writes one")
    )]
    Shape {
        file: String,
        message: String,
        #[source_code]
        src: Arc<NamedSource<String>>,
        #[label("here")]
        at: Option<SourceSpan>,
    },

    #[error("{file}: {message}")]
    #[diagnostic(
        code(cairn::import::bulk_shape),
        help("a bulk import file is {{\"resources\": [{{\"type\": \"aws:ec2/vpc:Vpc\", \"name\": \"vpc\", \"id\": \"vpc-...\"}}]}}")
    )]
    BulkShape { file: String, message: String },

    #[error("{file}: {count} instance(s) are tainted (Terraform would replace them on its next apply): {addresses}")]
    #[diagnostic(
        code(cairn::import::tainted),
        help("adopting an object Terraform considers broken would hide that: run `terraform apply` (it replaces it) or, if the object is fine, `terraform untaint ADDRESS`, then export the state again")
    )]
    Tainted {
        file: String,
        count: usize,
        addresses: String,
        #[source_code]
        src: Arc<NamedSource<String>>,
        #[label("tainted")]
        at: Option<SourceSpan>,
    },

    #[error("{file}: {count} instance(s) have a deposed object (a create_before_destroy replacement that did not finish): {addresses}")]
    #[diagnostic(
        code(cairn::import::deposed),
        help(
            "let Terraform finish the replacement (`terraform apply`), then export the state again"
        )
    )]
    Deposed {
        file: String,
        count: usize,
        addresses: String,
        #[source_code]
        src: Arc<NamedSource<String>>,
        #[label("deposed")]
        at: Option<SourceSpan>,
    },

    #[error(
        "{file}: {address} ({tf_type}) has no `{attribute}`, so its import id cannot be formed"
    )]
    #[diagnostic(
        code(cairn::import::no_id),
        help("the state is incomplete for this instance; `terraform refresh` then `terraform state pull > FILE`")
    )]
    NoId {
        file: String,
        address: String,
        tf_type: String,
        attribute: String,
    },

    #[error("--strict: {count} resource(s) have types cairn cannot import: {list}")]
    #[diagnostic(
        code(cairn::import::unknown_type),
        help("drop --strict to import the rest and leave these to Terraform, or remove them from the state first (`terraform state rm ADDRESS`)")
    )]
    UnknownTypes { count: usize, list: String },
}
