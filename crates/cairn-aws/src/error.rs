//! Errors of the crate's own entry points (provider calls return
//! [`cairn_core::ProviderError`]).

use cairn_core::ProviderError;

/// A problem setting up AWS access (not a provider call).
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
pub enum AwsError {
    /// No region in the environment, profile or `--local` settings.
    #[error("no AWS region is configured")]
    #[diagnostic(
        code(cairn::aws::no_region),
        help("set AWS_REGION (or AWS_DEFAULT_REGION), or `region` in your AWS profile")
    )]
    NoRegion,
    /// The credential chain found nothing usable, or STS refused it.
    #[error("AWS credentials were not accepted: {message}")]
    #[diagnostic(
        code(cairn::aws::credentials),
        help("check AWS_PROFILE / `aws sso login` / AWS_ACCESS_KEY_ID, or use --local")
    )]
    Credentials { message: String },
}

impl From<AwsError> for ProviderError {
    fn from(e: AwsError) -> Self {
        ProviderError::Invalid {
            resource: "aws".to_string(),
            message: e.to_string(),
        }
    }
}
