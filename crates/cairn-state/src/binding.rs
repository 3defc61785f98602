//! Where a state belongs: the endpoint (`aws` for real AWS, else the URL,
//! e.g. the emulator's), the account and the region. Stored as the meta
//! record `m/binding` and in snapshots as `"binding"`, so a `--local` run
//! can never act on a real stack's state (or one account's on another's).

use crate::dto::Versioned;
use crate::error::StateError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The endpoint value for real AWS.
pub const AWS_ENDPOINT: &str = "aws";

/// What a state is bound to. `account`/`region` are `None` when the run
/// that recorded it did not know them (a stack of built-in types only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    pub endpoint: String,
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
}

impl Binding {
    /// True when the two name different targets: another endpoint, or an
    /// account or region both know and disagree on.
    pub fn conflicts_with(&self, other: &Binding) -> bool {
        let differ =
            |a: &Option<String>, b: &Option<String>| matches!((a, b), (Some(a), Some(b)) if a != b);
        self.endpoint != other.endpoint
            || differ(&self.account, &other.account)
            || differ(&self.region, &other.region)
    }

    /// `self` with what it lacks taken from `newer` (for a state recorded
    /// before the account or region was known).
    pub fn completed_by(&self, newer: &Binding) -> Binding {
        Binding {
            endpoint: self.endpoint.clone(),
            account: self.account.clone().or_else(|| newer.account.clone()),
            region: self.region.clone().or_else(|| newer.region.clone()),
        }
    }
}

impl fmt::Display for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unknown = "unknown";
        write!(
            f,
            "endpoint {}, account {}, region {}",
            if self.endpoint == AWS_ENDPOINT {
                "aws (real AWS)"
            } else {
                &self.endpoint
            },
            self.account.as_deref().unwrap_or(unknown),
            self.region.as_deref().unwrap_or(unknown)
        )
    }
}

/// The record on disk.
#[derive(Serialize, Deserialize)]
pub(crate) struct BindingV1 {
    pub format: u32,
    #[serde(flatten)]
    pub binding: Binding,
}

impl Versioned for BindingV1 {
    fn format(&self) -> u32 {
        self.format
    }
}

pub(crate) fn encode(b: &Binding) -> Result<Vec<u8>, StateError> {
    crate::dto::to_json(&BindingV1 {
        format: crate::dto::FORMAT_VERSION,
        binding: b.clone(),
    })
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Binding, StateError> {
    let v: BindingV1 = crate::dto::parse_versioned(bytes, &|| "binding record".into())?;
    Ok(v.binding)
}
