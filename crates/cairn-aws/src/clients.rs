//! SDK configuration and lazily built service clients.
//!
//! Providers hold an [`AwsClients`]; nothing touches the network or the
//! credential chain until the first provider call, so registering the
//! providers for validation or preview needs no AWS credentials.

use crate::error::AwsError;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use cairn_core::ProviderError;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

/// Region used with `--local` (the emulator).
pub const LOCAL_REGION: &str = "us-east-1";
/// Maximum attempts of one SDK call (standard retry mode, jittered exponential backoff).
pub const MAX_ATTEMPTS: u32 = 8;
/// Environment variable for the waiters' longest poll interval, in milliseconds.
pub const POLL_ENV: &str = "CAIRN_AWS_POLL_MS";
/// Default longest poll interval against real AWS.
pub const DEFAULT_POLL_MS: u64 = 15_000;

/// First backoff of a retry (the SDK's and the providers' own).
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(200);
/// Longest backoff of a retry (the SDK's and the providers' own).
pub const MAX_BACKOFF: Duration = Duration::from_secs(20);

/// The SDK retry policy: standard mode, bounded attempts, jittered exponential backoff.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(INITIAL_BACKOFF)
        .with_max_backoff(MAX_BACKOFF)
}

/// How a provider retries a call it sends with the SDK's retries off (a
/// create that cannot be made idempotent): up to `attempts`, backing off
/// from `first` (doubling, jittered) to at most `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub attempts: u32,
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            attempts: MAX_ATTEMPTS,
            first: INITIAL_BACKOFF,
            max: MAX_BACKOFF,
        }
    }
}

/// Loads the SDK configuration.
///
/// Without an override this is aws-config's standard chain (environment,
/// shared profile, SSO, web identity / IRSA, container and instance
/// metadata), and honours `AWS_ENDPOINT_URL`. With an override (`--local`)
/// it points every client at that endpoint, in `us-east-1`, with static
/// test credentials. Either way the retry policy is [`retry_config`].
/// No network call is made here: credentials resolve on first use.
pub async fn load_sdk_config(endpoint_override: Option<&str>) -> SdkConfig {
    load_sdk_config_in(endpoint_override, None).await
}

/// The SDK's stalled-stream protection for downloads only. An upload's
/// clock starts when the attempt does, and the adaptive connector
/// (`concurrency.rs`) may hold an attempt while its service's window is
/// full: with thousands of reads at a 30% throttle rate that wait passed the
/// 5 s grace and failed the run ("throughput of 0 B/s"). Request bodies
/// are in memory, so an upload cannot stall on our side.
fn stalled_stream_protection(
) -> aws_config::stalled_stream_protection::StalledStreamProtectionConfig {
    aws_config::stalled_stream_protection::StalledStreamProtectionConfig::enabled()
        .upload_enabled(false)
        .build()
}

/// [`load_sdk_config`] in `region` (an explicit provider's, e.g.
/// `pulumi:providers:aws`'s `region`) instead of the default one; the
/// emulator serves every region on its one endpoint.
pub async fn load_sdk_config_in(
    endpoint_override: Option<&str>,
    region: Option<&str>,
) -> SdkConfig {
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry_config())
        .stalled_stream_protection(stalled_stream_protection());
    let loader = match region {
        Some(r) => loader.region(Region::new(r.to_string())),
        None => loader,
    };
    match endpoint_override {
        Some(endpoint) => {
            let loader = if region.is_none() {
                loader.region(Region::new(LOCAL_REGION))
            } else {
                loader
            };
            loader
                .endpoint_url(endpoint)
                .test_credentials()
                .load()
                .await
        }
        None => loader.load().await,
    }
}

/// The service clients, built from one [`SdkConfig`].
#[derive(Clone, Debug)]
pub(crate) struct Sdk {
    pub ec: aws_sdk_elasticache::Client,
    pub kms: aws_sdk_kms::Client,
    pub sm: aws_sdk_secretsmanager::Client,
    pub iam: aws_sdk_iam::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub sts: aws_sdk_sts::Client,
    pub rds: aws_sdk_rds::Client,
    pub eks: aws_sdk_eks::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub s3: aws_sdk_s3::Client,
}

impl Sdk {
    fn new(cfg: &SdkConfig) -> Self {
        // Every call holds a slot of its service's adaptive limiter.
        let cfg = &crate::concurrency::adaptive(cfg);
        Sdk {
            ec: aws_sdk_elasticache::Client::new(cfg),
            kms: aws_sdk_kms::Client::new(cfg),
            sm: aws_sdk_secretsmanager::Client::new(cfg),
            iam: aws_sdk_iam::Client::new(cfg),
            ec2: aws_sdk_ec2::Client::new(cfg),
            sts: aws_sdk_sts::Client::new(cfg),
            rds: aws_sdk_rds::Client::new(cfg),
            eks: aws_sdk_eks::Client::new(cfg),
            ecr: aws_sdk_ecr::Client::new(cfg),
            // An endpoint override (the emulator on 127.0.0.1) has no
            // per-bucket host names: address buckets as `endpoint/bucket`.
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(cfg)
                    .force_path_style(cfg.endpoint_url().is_some())
                    .build(),
            ),
        }
    }
}

enum Source {
    Config(Box<SdkConfig>),
    /// Endpoint override and region (`None`: the default one).
    Lazy(Option<String>, Option<String>),
    #[cfg(test)]
    Ready,
}

/// How waiters poll: first after `first`, growing ×2 up to `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollConfig {
    pub first: Duration,
    pub max: Duration,
}

impl PollConfig {
    /// `max` = `CAIRN_AWS_POLL_MS` (default 15 000 ms); `first` = max/10 (at least 1 ms).
    pub fn from_env() -> Self {
        let ms = std::env::var(POLL_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .unwrap_or(DEFAULT_POLL_MS);
        Self::with_max(Duration::from_millis(ms))
    }
    pub fn with_max(max: Duration) -> Self {
        PollConfig {
            first: (max / 10).max(Duration::from_millis(1)),
            max,
        }
    }
}

static GLOBAL_DESCRIBE_CALLS: AtomicU64 = AtomicU64::new(0);

/// Describe calls made by all waiters in this process (for the benchmark).
pub fn waiter_describe_calls() -> u64 {
    GLOBAL_DESCRIBE_CALLS.load(Ordering::Relaxed)
}

/// Where an explicit provider's credentials come from (its `profile` or
/// `assumeRole`): settings only, never the credentials themselves, which
/// stay inside the SDK's credential cache.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CredentialSource {
    /// A profile of the shared config and credentials files.
    Profile(String),
    /// STS AssumeRole, called with the run's credentials.
    AssumeRole {
        role_arn: String,
        session_name: Option<String>,
        external_id: Option<String>,
        /// Session length (`duration` or `durationSeconds`), in seconds.
        duration_seconds: Option<u32>,
        /// Inline session policy (JSON text).
        policy: Option<String>,
        /// Managed session policies.
        policy_arns: Vec<String>,
        /// Session tags.
        tags: BTreeMap<String, String>,
    },
}

impl CredentialSource {
    /// `cfg` with its credentials from this source (no call is made here).
    async fn apply(&self, cfg: SdkConfig) -> SdkConfig {
        use aws_sdk_sts::config::SharedCredentialsProvider;
        let provider = match self {
            CredentialSource::Profile(name) => SharedCredentialsProvider::new(
                aws_config::profile::ProfileFileCredentialsProvider::builder()
                    .profile_name(name)
                    .build(),
            ),
            CredentialSource::AssumeRole {
                role_arn,
                session_name,
                external_id,
                duration_seconds,
                policy,
                policy_arns,
                tags,
            } => {
                let mut b = aws_config::sts::AssumeRoleProvider::builder(role_arn).configure(&cfg);
                if let Some(s) = session_name {
                    b = b.session_name(s);
                }
                if let Some(e) = external_id {
                    b = b.external_id(e);
                }
                if let Some(d) = duration_seconds {
                    b = b.session_length(Duration::from_secs(u64::from(*d)));
                }
                if let Some(p) = policy {
                    b = b.policy(p);
                }
                if !policy_arns.is_empty() {
                    b = b.policy_arns(policy_arns.clone());
                }
                if !tags.is_empty() {
                    b = b.tags(tags.clone());
                }
                SharedCredentialsProvider::new(b.build().await)
            }
        };
        cfg.into_builder().credentials_provider(provider).build()
    }
}

/// Counts one waiter describe call process-wide ([`waiter_describe_calls`]).
pub(crate) fn count_global_describe() {
    GLOBAL_DESCRIBE_CALLS.fetch_add(1, Ordering::Relaxed);
}

/// Shared, lazily initialised AWS access for all providers of one registry.
pub struct AwsClients {
    source: Source,
    /// An explicit provider's credentials (default: the run's).
    credentials: Option<CredentialSource>,
    sdk: OnceCell<Sdk>,
    poll: PollConfig,
    backoff: Backoff,
    describe_calls: Arc<AtomicU64>,
    /// Waiters sharing one describe per interval ([`crate::wait::wait_shared`]).
    pollers: crate::wait::Pollers,
}

impl std::fmt::Debug for AwsClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsClients")
            .field("loaded", &self.sdk.initialized())
            .field("poll", &self.poll)
            .finish()
    }
}

impl AwsClients {
    /// Clients from an already-loaded configuration (built on first use).
    pub fn from_sdk_config(cfg: &SdkConfig) -> Self {
        AwsClients {
            source: Source::Config(Box::new(cfg.clone())),
            credentials: None,
            sdk: OnceCell::new(),
            poll: PollConfig::from_env(),
            backoff: Backoff::default(),
            describe_calls: Arc::default(),
            pollers: Default::default(),
        }
    }

    /// Clients whose configuration is loaded by [`load_sdk_config`] on first use.
    pub fn lazy(endpoint_override: Option<&str>) -> Self {
        Self::lazy_in(endpoint_override, None)
    }

    /// [`lazy`](Self::lazy) in `region` ([`load_sdk_config_in`]).
    pub fn lazy_in(endpoint_override: Option<&str>, region: Option<&str>) -> Self {
        AwsClients {
            source: Source::Lazy(
                endpoint_override.map(str::to_string),
                region.map(str::to_string),
            ),
            credentials: None,
            sdk: OnceCell::new(),
            poll: PollConfig::from_env(),
            backoff: Backoff::default(),
            describe_calls: Arc::default(),
            pollers: Default::default(),
        }
    }

    /// The region these clients call, when known without IO: the loaded
    /// configuration's, the one asked for, the emulator's, or `AWS_REGION`
    /// / `AWS_DEFAULT_REGION` (a region only in a profile file is `None`).
    pub fn known_region(&self) -> Option<String> {
        let from_env = || {
            ["AWS_REGION", "AWS_DEFAULT_REGION"]
                .iter()
                .filter_map(|k| std::env::var(k).ok())
                .map(|v| v.trim().to_string())
                .find(|v| !v.is_empty())
        };
        match &self.source {
            Source::Config(cfg) => cfg.region().map(|r| r.to_string()),
            Source::Lazy(_, Some(region)) => Some(region.clone()),
            Source::Lazy(Some(_), None) => Some(LOCAL_REGION.to_string()),
            Source::Lazy(None, None) => from_env(),
            #[cfg(test)]
            Source::Ready => None,
        }
    }

    /// Clients like these (same endpoint, credentials and policies) in
    /// `region`, built on first use.
    pub fn in_region(&self, region: &str) -> Self {
        self.with_settings(Some(region), None)
    }

    /// Clients like these (same endpoint and policies) in `region` (default:
    /// theirs) with `credentials` (default: theirs), built on first use.
    pub fn with_settings(
        &self,
        region: Option<&str>,
        credentials: Option<&CredentialSource>,
    ) -> Self {
        let source = match (&self.source, region) {
            (Source::Config(cfg), Some(r)) => Source::Config(Box::new(
                cfg.to_builder().region(Region::new(r.to_string())).build(),
            )),
            (Source::Config(cfg), None) => Source::Config(cfg.clone()),
            (Source::Lazy(endpoint, own), r) => Source::Lazy(
                endpoint.clone(),
                r.map(str::to_string).or_else(|| own.clone()),
            ),
            #[cfg(test)]
            (Source::Ready, _) => Source::Ready,
        };
        let sdk = match &source {
            #[cfg(test)]
            Source::Ready => OnceCell::new_with(self.sdk.get().cloned()),
            _ => OnceCell::new(),
        };
        AwsClients {
            source,
            credentials: credentials.cloned().or_else(|| self.credentials.clone()),
            sdk,
            poll: self.poll,
            backoff: self.backoff,
            describe_calls: Arc::default(),
            pollers: Default::default(),
        }
    }

    /// Overrides the waiters' poll intervals.
    pub fn with_poll(mut self, poll: PollConfig) -> Self {
        self.poll = poll;
        self
    }

    #[cfg(test)]
    pub(crate) fn from_sdk(sdk: Sdk) -> Self {
        AwsClients {
            source: Source::Ready,
            credentials: None,
            sdk: OnceCell::new_with(Some(sdk)),
            poll: PollConfig::with_max(Duration::from_millis(2)),
            backoff: Backoff {
                attempts: MAX_ATTEMPTS,
                first: Duration::from_millis(1),
                max: Duration::from_millis(5),
            },
            describe_calls: Arc::default(),
            pollers: Default::default(),
        }
    }

    pub fn poll(&self) -> PollConfig {
        self.poll
    }

    /// The providers' own retry policy for calls sent without SDK retries.
    pub fn backoff(&self) -> Backoff {
        self.backoff
    }

    /// Describe calls made by this instance's waiters.
    pub fn describe_calls(&self) -> u64 {
        self.describe_calls.load(Ordering::Relaxed)
    }

    pub(crate) fn count_describe(&self) {
        self.describe_calls.fetch_add(1, Ordering::Relaxed);
        GLOBAL_DESCRIBE_CALLS.fetch_add(1, Ordering::Relaxed);
    }

    /// This instance's waiter describe counter (shared pollers add to it).
    pub(crate) fn describe_counter(&self) -> Arc<AtomicU64> {
        self.describe_calls.clone()
    }

    pub(crate) fn pollers(&self) -> &crate::wait::Pollers {
        &self.pollers
    }

    /// True once the clients exist (i.e. some provider call was made).
    pub fn is_loaded(&self) -> bool {
        self.sdk.initialized()
    }

    pub(crate) async fn get(&self) -> Result<&Sdk, ProviderError> {
        let sdk = self
            .sdk
            .get_or_init(|| async {
                let cfg = match &self.source {
                    Source::Config(cfg) => cfg.as_ref().clone(),
                    Source::Lazy(endpoint, region) => {
                        load_sdk_config_in(endpoint.as_deref(), region.as_deref()).await
                    }
                    #[cfg(test)]
                    Source::Ready => unreachable!("test clients are built ready"),
                };
                match &self.credentials {
                    Some(c) => Sdk::new(&c.apply(cfg).await),
                    None => Sdk::new(&cfg),
                }
            })
            .await;
        if sdk.ec.config().region().is_none() {
            return Err(AwsError::NoRegion.into());
        }
        Ok(sdk)
    }
}

/// The account id and partition of the caller (STS GetCallerIdentity).
pub(crate) async fn caller_identity(
    sdk: &Sdk,
    resource: &str,
) -> Result<(String, String), ProviderError> {
    let out = sdk
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| crate::util::api_error(resource, "sts:GetCallerIdentity", e, &[]))?;
    let account = out
        .account()
        .ok_or_else(|| crate::util::missing(resource, "sts:GetCallerIdentity", "account"))?
        .to_string();
    let partition = out
        .arn()
        .and_then(|a| a.split(':').nth(1))
        .filter(|p| !p.is_empty())
        .unwrap_or("aws")
        .to_string();
    Ok((account, partition))
}

/// Checks the credential chain now (for a CLI's early "who am I" check).
pub async fn verify_credentials(cfg: &SdkConfig) -> Result<String, AwsError> {
    if cfg.region().is_none() {
        return Err(AwsError::NoRegion);
    }
    let sts = aws_sdk_sts::Client::new(cfg);
    match sts.get_caller_identity().send().await {
        Ok(out) => Ok(out.account().unwrap_or_default().to_string()),
        Err(e) => Err(AwsError::Credentials {
            message: aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
        }),
    }
}

pub(crate) type Shared = Arc<AwsClients>;
