//! Errors of reading what a stack expects. Verification itself never errors:
//! every problem it meets becomes a failing or skipped row of the report.

/// Why the expectations could not be read from a stack's spec and state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum VerifyError {
    /// The stack declares no resource of a type verification needs.
    #[error("stack `{stack}` declares no {type_token} resource")]
    #[diagnostic(
        code(cairn::verify::not_declared),
        help("verify checks the Redis caching layer (stacks/redis-cache.template.yaml); is this that stack?")
    )]
    NotDeclared { stack: String, type_token: String },

    /// The resource is declared but has no recorded state: not deployed yet.
    #[error("`{resource}` ({type_token}) has no recorded state: stack `{stack}` is not deployed")]
    #[diagnostic(
        code(cairn::verify::not_deployed),
        help("run `cairn up --stack {stack}` first")
    )]
    NotDeployed {
        stack: String,
        resource: String,
        type_token: String,
    },

    /// Several resources of one type, and nothing says which one to check.
    #[error("stack `{stack}` has {count} {type_token} resources ({names}); verify cannot tell which one to check")]
    #[diagnostic(code(cairn::verify::ambiguous))]
    Ambiguous {
        stack: String,
        type_token: String,
        count: usize,
        names: String,
    },

    /// A value verification needs is missing from the recorded state.
    #[error("`{resource}` has no usable `{field}` in its recorded state")]
    #[diagnostic(
        code(cairn::verify::missing_field),
        help("the state may predate this field; a `cairn up` refreshes it")
    )]
    MissingField { resource: String, field: String },
}
