//! Fault tolerance, proven against the local AWS emulator: a SIGKILL at every
//! journal point of `up`, `destroy` and an in-place update converges on the
//! next run; throttling, server errors and connection resets are retried and
//! lose nothing; a permanent error fails fast; one writer per stack while
//! different stacks run in parallel; no secret reaches output or state.
//!
//! The cloud is always checked directly through the AWS SDK, never through
//! cairn. `CAIRN_SLOW_TESTS=1` (`cargo xtask test --slow`) sweeps every kill
//! point; otherwise a fixed sample of about four points per scenario runs.
//! Each test prints its figures and writes them to
//! `target/tmp/reliability/<test>.json`.

use super::common::{
    files_under, make_state_bucket_and_key, runtime, sdk_config, start_private_emulator, workspace,
    Run, Sandbox,
};
use super::fault_proxy::{FaultConfig, FaultKind, FaultProxy, Rule, Stats};
use aws_sdk_elasticache::Client as ElastiCache;
use aws_sdk_iam::Client as Iam;
use aws_sdk_kms::Client as Kms;
use aws_sdk_secretsmanager::Client as SecretsManager;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The stack every scenario runs: 8 creates, and a reference to `network-prod`.
const STACK: &str = "prod";
const ENV: &str = "prod";
/// The network stack the Redis stack reads (brought up before any scenario).
const NETWORK: &str = "network-prod";
const URN: &str = "redis-prod/redisKey";
const ALIAS: &str = "alias/qualisys-redis-prod";
const PARAMETER_GROUP: &str = "qualisys-redis7-prod";
const REPLICATION_GROUP: &str = "qualisys-redis-prod";
const SECRET: &str = "qualisys/prod/redis/connection";
const POLICY: &str = "qualisys-redis-connection-read-prod";
const RESIZED: &str = "nodeType=cache.r5.xlarge";
/// Journal points per operation: intent recorded, provider call returned, outcome recorded.
const POINTS_PER_OP: u32 = 3;

fn slow() -> bool {
    matches!(
        std::env::var("CAIRN_SLOW_TESTS").as_deref(),
        Ok("1") | Ok("true") | Ok("yes")
    )
}

/// Writes a test's figures where the docs can be regenerated from.
fn record_figures(test: &str, figures: &serde_json::Value) {
    println!("reliability figures {test}: {figures}");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("reliability");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(
            dir.join(format!("{test}.json")),
            serde_json::to_string_pretty(figures).unwrap_or_default(),
        );
    }
}

// ------------------------------------------------------------------ the cloud

/// A private emulator daemon (no redis twins, short transitions) and a
/// sandbox whose `--local` runs use it; stopped on drop.
struct Cloud {
    sb: Sandbox,
    port: u16,
    emulator_state: PathBuf,
    /// `--backend` for every run (the S3 state backend), if set.
    backend: Option<String>,
}

/// The S3 state backend's bucket and KMS alias, made by [`Cloud::start_s3`].
const STATE_BACKEND_BUCKET: &str = "cairn-team-state";
const STATE_BACKEND_ALIAS: &str = "alias/cairn-state";

impl Cloud {
    fn start(delay_ms: u64) -> Cloud {
        Self::start_in(Sandbox::new(), delay_ms)
    }

    /// [`Cloud::start`], with the stack's state in the emulator's S3 (a
    /// bucket and a customer KMS key made here, as a platform team would).
    fn start_s3(delay_ms: u64) -> Cloud {
        let mut cloud = Self::start(delay_ms);
        runtime().block_on(async {
            let sdk = cloud.sdk().await;
            make_state_bucket_and_key(&sdk, STATE_BACKEND_BUCKET, STATE_BACKEND_ALIAS).await
        });
        cloud.backend = Some(format!(
            "s3://{STATE_BACKEND_BUCKET}/stacks?kms_key={STATE_BACKEND_ALIAS}"
        ));
        cloud
    }

    fn start_in(sb: Sandbox, delay_ms: u64) -> Cloud {
        let (sb, port, emulator_state) = start_private_emulator(sb, delay_ms);
        Cloud {
            sb,
            port,
            emulator_state,
            backend: None,
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `ARGS --local`, plus `--backend` when the state is in S3.
    fn local_args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = args.to_vec();
        all.push("--local");
        if let Some(url) = &self.backend {
            all.extend(["--backend", url.as_str()]);
        }
        all
    }

    /// `cairn ARGS --local`.
    fn cairn(&self, args: &[&str]) -> Run {
        self.sb.run(&self.local_args(args))
    }

    /// `cairn ARGS` without `--local` (read-only commands need no emulator;
    /// state in S3 does: it is the emulator's S3).
    fn cairn_offline(&self, args: &[&str]) -> Run {
        match self.backend {
            Some(_) => self.cairn(args),
            None => self.sb.run(args),
        }
    }

    /// `cairn ARGS --local` that SIGKILLs itself at journal point `point`.
    fn cairn_killed_at(&self, args: &[&str], point: u32) -> Result<(), String> {
        let out = self
            .sb
            .command(&self.local_args(args))
            .env("CAIRN_TEST_KILL_AT", point.to_string())
            .output()
            .map_err(|e| format!("running cairn: {e}"))?;
        if out.status.signal() == Some(libc::SIGKILL) {
            Ok(())
        } else {
            Err(format!(
                "expected death by SIGKILL at journal point {point}, got {:?}\nstdout:\n{}\nstderr:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    async fn sdk(&self) -> aws_config::SdkConfig {
        sdk_config(&self.endpoint()).await
    }

    /// `network-prod`, brought up if it has no outputs yet, so the runs
    /// under test only read it (a child `up` of the network would inherit
    /// `CAIRN_TEST_KILL_AT`).
    fn network(&self) -> Net {
        self.network_of(ENV)
    }

    fn network_of(&self, env: &str) -> Net {
        let stack = format!("network-{env}");
        let outputs = |cloud: &Cloud| {
            let run = cloud.cairn(&["stack", "output", "--json", "--stack", &stack]);
            (run.code == Some(0))
                .then(|| serde_json::from_str::<serde_json::Value>(&run.stdout).ok())
                .flatten()
                .filter(|o| o.get("elasticacheSecurityGroupId").is_some())
        };
        let o = match outputs(self) {
            Some(o) => o,
            None => {
                let up = self.cairn(&["up", "--yes", "--stack", &stack]);
                assert_eq!(up.code, Some(0), "{stack} up:\n{}", up.all());
                outputs(self).unwrap_or_else(|| panic!("{stack} has no outputs"))
            }
        };
        let text = |k: &str| {
            o[k].as_str()
                .unwrap_or_else(|| panic!("{k}: {o}"))
                .to_string()
        };
        Net {
            security_group_id: text("elasticacheSecurityGroupId"),
            subnet_group_name: text("elasticacheSubnetGroupName"),
        }
    }
}

/// The network stack's objects the Redis stack uses, from its outputs.
struct Net {
    security_group_id: String,
    subnet_group_name: String,
}

impl Drop for Cloud {
    fn drop(&mut self) {
        let _ = cairn_emulator::daemon_stop(&self.emulator_state);
    }
}

// ------------------------------------------------------------------ census

/// Everything the emulator holds that the prod stack could have made,
/// listed through the SDK.
#[derive(Debug, Default)]
struct Census {
    /// (key id, key state, `cairn:urn` tag) of every KMS key.
    keys: Vec<(String, String, Option<String>)>,
    /// (alias name, target key id) of every alias not made by AWS.
    aliases: Vec<(String, String)>,
    /// Non-default parameter groups.
    parameter_groups: Vec<String>,
    /// (id, status, node type) of every replication group.
    replication_groups: Vec<(String, String, String)>,
    /// (name, ARN, deleted) of every secret, including ones scheduled for deletion.
    secrets: Vec<(String, String, bool)>,
    /// (name, ARN) of every customer-managed IAM policy.
    policies: Vec<(String, String)>,
    /// The current version id of the connection secret, if it has a value.
    secret_current_version: Option<String>,
    security_group_exists: bool,
    subnet_group_exists: bool,
}

impl Census {
    async fn take(sdk: &aws_config::SdkConfig, net: &Net) -> Result<Census, String> {
        let kms = Kms::new(sdk);
        let ec = ElastiCache::new(sdk);
        let sm = SecretsManager::new(sdk);
        let iam = Iam::new(sdk);
        let ec2 = aws_sdk_ec2::Client::new(sdk);
        let e = |what: &str, err: &dyn std::fmt::Debug| format!("{what}: {err:?}");
        let mut c = Census::default();

        let keys = kms
            .list_keys()
            .limit(1000)
            .send()
            .await
            .map_err(|x| e("ListKeys", &x))?;
        for k in keys.keys() {
            let id = k.key_id().unwrap_or_default().to_string();
            let meta = kms
                .describe_key()
                .key_id(&id)
                .send()
                .await
                .map_err(|x| e("DescribeKey", &x))?;
            let state = meta
                .key_metadata()
                .and_then(|m| m.key_state())
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            let tags = kms
                .list_resource_tags()
                .key_id(&id)
                .send()
                .await
                .map_err(|x| e("ListResourceTags", &x))?;
            let urn = tags
                .tags()
                .iter()
                .find(|t| t.tag_key() == "cairn:urn")
                .map(|t| t.tag_value().to_string());
            c.keys.push((id, state, urn));
        }
        let aliases = kms
            .list_aliases()
            .send()
            .await
            .map_err(|x| e("ListAliases", &x))?;
        for a in aliases.aliases() {
            let name = a.alias_name().unwrap_or_default();
            if name == STATE_BACKEND_ALIAS {
                // The S3 state backend's key, made by the test, not the stack.
                let target = a.target_key_id().unwrap_or_default();
                c.keys.retain(|(id, _, _)| id != target);
                continue;
            }
            if !name.starts_with("alias/aws/") {
                c.aliases.push((
                    name.to_string(),
                    a.target_key_id().unwrap_or_default().to_string(),
                ));
            }
        }
        let groups = ec
            .describe_cache_parameter_groups()
            .send()
            .await
            .map_err(|x| e("DescribeCacheParameterGroups", &x))?;
        for g in groups.cache_parameter_groups() {
            let name = g.cache_parameter_group_name().unwrap_or_default();
            if !name.starts_with("default.") {
                c.parameter_groups.push(name.to_string());
            }
        }
        let rgs = ec
            .describe_replication_groups()
            .send()
            .await
            .map_err(|x| e("DescribeReplicationGroups", &x))?;
        for rg in rgs.replication_groups() {
            c.replication_groups.push((
                rg.replication_group_id().unwrap_or_default().to_string(),
                rg.status().unwrap_or_default().to_string(),
                rg.cache_node_type().unwrap_or_default().to_string(),
            ));
        }
        let secrets = sm
            .list_secrets()
            .include_planned_deletion(true)
            .send()
            .await
            .map_err(|x| e("ListSecrets", &x))?;
        for s in secrets.secret_list() {
            c.secrets.push((
                s.name().unwrap_or_default().to_string(),
                s.arn().unwrap_or_default().to_string(),
                s.deleted_date().is_some(),
            ));
        }
        if c.secrets
            .iter()
            .any(|(n, _, deleted)| n == SECRET && !deleted)
        {
            c.secret_current_version = sm
                .get_secret_value()
                .secret_id(SECRET)
                .send()
                .await
                .ok()
                .and_then(|v| v.version_id().map(str::to_string));
        }
        let policies = iam
            .list_policies()
            .scope(aws_sdk_iam::types::PolicyScopeType::Local)
            .send()
            .await
            .map_err(|x| e("ListPolicies", &x))?;
        for p in policies.policies() {
            c.policies.push((
                p.policy_name().unwrap_or_default().to_string(),
                p.arn().unwrap_or_default().to_string(),
            ));
        }
        c.security_group_exists = ec2
            .describe_security_groups()
            .group_ids(&net.security_group_id)
            .send()
            .await
            .map(|r| r.security_groups().len() == 1)
            .unwrap_or(false);
        c.subnet_group_exists = ec
            .describe_cache_subnet_groups()
            .cache_subnet_group_name(&net.subnet_group_name)
            .send()
            .await
            .is_ok();
        Ok(c)
    }

    /// Keys that are not on their way out.
    fn live_keys(&self) -> Vec<&(String, String, Option<String>)> {
        self.keys
            .iter()
            .filter(|(_, state, _)| state != "PendingDeletion")
            .collect()
    }

    fn pending_deletion_keys(&self) -> usize {
        self.keys.len() - self.live_keys().len()
    }
}

/// `cairn state list SELECT`: name → (type, id, flags).
fn state_list(
    cloud: &Cloud,
    select: &[&str],
) -> Result<BTreeMap<String, (String, String, String)>, String> {
    let mut args = vec!["state", "list"];
    args.extend_from_slice(select);
    let run = cloud.cairn_offline(&args);
    if run.code != Some(0) {
        return Err(format!("state list failed:\n{}", run.all()));
    }
    Ok(run
        .stdout
        .lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            let name = f.next()?.to_string();
            let ty = f.next()?.to_string();
            let id = f.next()?.to_string();
            let flags = f.next().unwrap_or("").to_string();
            Some((name, (ty, id, flags)))
        })
        .collect())
}

macro_rules! check {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

/// The whole stack exists exactly once in the cloud, state records exactly
/// those ids, and the replication group has `node_type`.
fn check_converged_up(cloud: &Cloud, select: &[&str], node_type: &str) -> Result<(), String> {
    let net = cloud.network();
    let census = runtime().block_on(async {
        let sdk = cloud.sdk().await;
        Census::take(&sdk, &net).await
    })?;
    let state = state_list(cloud, select)?;
    let id = |name: &str| state.get(name).map(|(_, id, _)| id.as_str()).unwrap_or("");
    check!(
        state.len() == 9,
        "state holds {} resources, not 9 (8 and the network reference): {state:?}",
        state.len()
    );

    check!(
        census.pending_deletion_keys() == 0,
        "keys scheduled for deletion during an up: {:?}",
        census.keys
    );
    let live = census.live_keys();
    check!(
        live.len() == 1,
        "{} live KMS keys, not 1: {:?}",
        live.len(),
        census.keys
    );
    let (key_id, _, urn) = live[0];
    check!(
        urn.as_deref() == Some(URN),
        "the live key's cairn:urn is {urn:?}"
    );
    check!(
        id("redisKey") == key_id,
        "state redisKey = {} but the cloud's key is {key_id}",
        id("redisKey")
    );

    check!(
        census.aliases.len() == 1 && census.aliases[0].0 == ALIAS && census.aliases[0].1 == *key_id,
        "aliases {:?} (want exactly {ALIAS} → {key_id})",
        census.aliases
    );
    check!(
        id("redisKeyAlias") == ALIAS,
        "state redisKeyAlias = {}",
        id("redisKeyAlias")
    );

    check!(
        census.parameter_groups == [PARAMETER_GROUP],
        "parameter groups {:?}",
        census.parameter_groups
    );
    check!(
        id("redisParameters") == PARAMETER_GROUP,
        "state redisParameters = {}",
        id("redisParameters")
    );

    check!(
        census.replication_groups.len() == 1,
        "replication groups {:?}",
        census.replication_groups
    );
    let (rg, status, nt) = &census.replication_groups[0];
    check!(
        rg == REPLICATION_GROUP && status == "available" && nt == node_type,
        "replication group {rg} {status} {nt} (want {REPLICATION_GROUP} available {node_type})"
    );
    check!(
        id("redis") == REPLICATION_GROUP,
        "state redis = {}",
        id("redis")
    );

    check!(
        census.secrets.len() == 1 && census.secrets[0].0 == SECRET && !census.secrets[0].2,
        "secrets {:?} (want exactly {SECRET}, not deleted)",
        census.secrets
    );
    let secret_arn = &census.secrets[0].1;
    check!(
        id("redisConnectionSecret") == secret_arn,
        "state redisConnectionSecret = {} but the cloud's secret is {secret_arn}",
        id("redisConnectionSecret")
    );
    let version = census.secret_current_version.as_deref().unwrap_or("<none>");
    check!(
        id("redisConnection") == format!("{secret_arn}|{version}"),
        "state redisConnection = {} but the secret's current version is {version}",
        id("redisConnection")
    );

    check!(
        census.policies.len() == 1 && census.policies[0].0 == POLICY,
        "IAM policies {:?} (want exactly {POLICY})",
        census.policies
    );
    check!(
        id("redisConnectionReadPolicy") == census.policies[0].1,
        "state redisConnectionReadPolicy = {} but the cloud's policy is {}",
        id("redisConnectionReadPolicy"),
        census.policies[0].1
    );

    check!(
        census.security_group_exists && census.subnet_group_exists,
        "the network stack's security group or subnet group is gone"
    );
    check!(
        state
            .get("network")
            .is_some_and(|(ty, id, _)| ty == "pulumi:pulumi:StackReference" && id == NETWORK),
        "state records the network by reference: {:?}",
        state.get("network")
    );
    Ok(())
}

/// None of the 8 created resources is left, nor the reference in state; the
/// network stack's objects stay.
fn check_converged_destroy(cloud: &Cloud, select: &[&str]) -> Result<(), String> {
    let net = cloud.network();
    let census = runtime().block_on(async {
        let sdk = cloud.sdk().await;
        Census::take(&sdk, &net).await
    })?;
    check!(
        census.live_keys().is_empty(),
        "live KMS keys left: {:?}",
        census.keys
    );
    check!(
        census
            .keys
            .iter()
            .all(|(_, _, urn)| urn.as_deref() == Some(URN)),
        "untagged keys: {:?}",
        census.keys
    );
    check!(
        census.aliases.is_empty(),
        "aliases left: {:?}",
        census.aliases
    );
    check!(
        census.parameter_groups.is_empty(),
        "parameter groups left: {:?}",
        census.parameter_groups
    );
    check!(
        census.replication_groups.is_empty(),
        "replication groups left: {:?}",
        census.replication_groups
    );
    check!(
        census.secrets.iter().all(|(_, _, deleted)| *deleted),
        "secrets not deleted: {:?}",
        census.secrets
    );
    check!(
        census.policies.is_empty(),
        "IAM policies left: {:?}",
        census.policies
    );
    check!(
        census.security_group_exists && census.subnet_group_exists,
        "destroy removed the network stack's objects (security group {}, subnet group {})",
        census.security_group_exists,
        census.subnet_group_exists
    );
    let state = state_list(cloud, select)?;
    check!(state.is_empty(), "state after destroy: {state:?}");
    Ok(())
}

fn expect_ok(what: &str, run: Run) -> Result<Run, String> {
    if run.code == Some(0) {
        Ok(run)
    } else {
        Err(format!(
            "{what} exited {:?}\nstdout:\n{}\nstderr:\n{}",
            run.code, run.stdout, run.stderr
        ))
    }
}

fn expect_no_changes(what: &str, run: Run) -> Result<(), String> {
    let run = expect_ok(what, run)?;
    check!(
        run.stdout.contains("No changes."),
        "{what} is not clean:\n{}",
        run.stdout
    );
    Ok(())
}

// ------------------------------------------------------------------ kill sweeps

/// A kill point (`None`: the control run) and how it went.
type PointResult = (Option<u32>, Result<Duration, String>);

#[derive(Clone, Copy)]
enum Scenario {
    Up,
    /// `up` with the stack's state in the emulator's S3.
    UpS3,
    Destroy,
    Update,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Up => "up",
            Scenario::UpS3 => "up-s3",
            Scenario::Destroy => "destroy",
            Scenario::Update => "update",
        }
    }

    /// Operations of the run under test: 8 creates (the network reference
    /// is read before planning), 8 deletes and forgetting the reference, 1 update.
    fn operations(self) -> u32 {
        match self {
            Scenario::Up | Scenario::UpS3 => 8,
            Scenario::Destroy => 9,
            Scenario::Update => 1,
        }
    }

    fn command(self) -> Vec<&'static str> {
        match self {
            Scenario::Up | Scenario::UpS3 => vec!["up", "--yes", "--stack", STACK],
            Scenario::Destroy => vec!["destroy", "--yes", "--stack", STACK],
            Scenario::Update => vec!["up", "--yes", "--stack", STACK, "--config", RESIZED],
        }
    }

    /// Brings a fresh cloud to where the run under test starts.
    fn setup(self, cloud: &Cloud) -> Result<(), String> {
        cloud.network();
        match self {
            Scenario::Up | Scenario::UpS3 => Ok(()),
            Scenario::Destroy | Scenario::Update => {
                expect_ok("setup up", cloud.cairn(&["up", "--yes", "--stack", STACK])).map(drop)
            }
        }
    }

    /// After the crash: a plain re-run converges and the cloud is exactly right.
    fn converge_and_check(self, cloud: &Cloud) -> Result<(), String> {
        let command = self.command();
        expect_ok("the re-run after the crash", cloud.cairn(&command))?;
        match self {
            Scenario::Up | Scenario::UpS3 => {
                check_converged_up(cloud, &["--stack", STACK], "cache.r5.large")?;
                expect_no_changes("preview", cloud.cairn(&["preview", "--stack", STACK]))
            }
            Scenario::Update => {
                check_converged_up(cloud, &["--stack", STACK], "cache.r5.xlarge")?;
                expect_no_changes(
                    "preview",
                    cloud.cairn(&["preview", "--stack", STACK, "--config", RESIZED]),
                )
            }
            Scenario::Destroy => {
                check_converged_destroy(cloud, &["--stack", STACK])?;
                expect_no_changes("a second destroy", cloud.cairn(&command))
            }
        }
    }

    /// One kill point on a fresh cloud. `None` runs the command to completion
    /// (the control: the run has no point beyond the last one).
    fn try_point(self, point: Option<u32>) -> Result<Duration, String> {
        let start = Instant::now();
        let cloud = match self {
            Scenario::UpS3 => Cloud::start_s3(200),
            _ => Cloud::start(200),
        };
        self.setup(&cloud)?;
        match point {
            Some(n) => cloud.cairn_killed_at(&self.command(), n)?,
            None => {
                let beyond = self.operations() * POINTS_PER_OP + 1;
                let out = cloud
                    .sb
                    .command(&cloud.local_args(&self.command()))
                    .env("CAIRN_TEST_KILL_AT", beyond.to_string())
                    .output()
                    .map_err(|e| e.to_string())?;
                check!(
                    out.status.code() == Some(0),
                    "with the kill point set past the last journal point ({beyond}) the run must complete, got {:?}:\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        self.converge_and_check(&cloud)?;
        Ok(start.elapsed())
    }

    /// The kill points to try: all of them under CAIRN_SLOW_TESTS (or when
    /// there are at most four), else a sample:
    /// the first intent, the first provider call whose outcome is not yet
    /// recorded, the middle, and the last call's unrecorded outcome.
    fn points(self) -> Vec<u32> {
        let k = self.operations() * POINTS_PER_OP;
        if slow() || k <= 4 {
            (1..=k).collect()
        } else {
            let mut p = vec![1, 2, k / 2 + 1, k - 1];
            p.retain(|&n| (1..=k).contains(&n));
            p.sort_unstable();
            p.dedup();
            p
        }
    }

    fn sweep(self) {
        let started = Instant::now();
        let points = self.points();
        let mut jobs: Vec<Option<u32>> = points.iter().copied().map(Some).collect();
        if slow() {
            jobs.push(None);
        }
        let workers = if slow() { 2 } else { 1 };
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<PointResult>> = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&job) = jobs.get(i) else { break };
                    let result = std::panic::catch_unwind(|| self.try_point(job))
                        .unwrap_or_else(|p| Err(panic_text(&p)));
                    let label = job.map_or("control".to_string(), |n| n.to_string());
                    match &result {
                        Ok(d) => eprintln!(
                            "{}: point {label} survived ({:.1}s)",
                            self.name(),
                            d.as_secs_f64()
                        ),
                        Err(e) => eprintln!("{}: point {label} FAILED: {e}", self.name()),
                    }
                    results.lock().expect("results").push((job, result));
                });
            }
        });
        let results = results.into_inner().expect("results");
        let tried = results.iter().filter(|(p, _)| p.is_some()).count();
        let survived = results
            .iter()
            .filter(|(p, r)| p.is_some() && r.is_ok())
            .count();
        let failures: Vec<String> = results
            .iter()
            .filter_map(|(p, r)| {
                r.as_ref().err().map(|e| {
                    format!(
                        "point {}: {e}",
                        p.map_or("control".to_string(), |n| n.to_string())
                    )
                })
            })
            .collect();
        let total = self.operations() * POINTS_PER_OP;
        println!(
            "reliability: {}: {survived}/{tried} kill points survived ({} of {total} journal points tried, {}) in {:.0}s",
            self.name(),
            tried,
            if slow() { "full sweep" } else { "sample; CAIRN_SLOW_TESTS=1 for all" },
            started.elapsed().as_secs_f64()
        );
        record_figures(
            &format!("kill_{}", self.name()),
            &serde_json::json!({
                "scenario": self.name(),
                "journal_points": total,
                "points_tried": tried,
                "points_survived": survived,
                "full_sweep": slow(),
                "points": points,
                "seconds": started.elapsed().as_secs(),
            }),
        );
        assert!(
            failures.is_empty(),
            "{}: {} of {tried} kill points failed:\n{}",
            self.name(),
            failures.len(),
            failures.join("\n\n")
        );
        if slow() && matches!(self, Scenario::Up | Scenario::UpS3) {
            assert!(
                tried >= 20,
                "at least 20 distinct kill points, tried {tried}"
            );
        }
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}

#[test]
fn a_kill_at_every_journal_point_of_up_converges_with_nothing_duplicated() {
    Scenario::Up.sweep();
}

/// The same with the state in S3: the intent in flight is in the remote
/// journal, and the re-run takes over the dead process's lock.
#[test]
fn a_kill_at_every_journal_point_of_up_with_state_in_s3_converges() {
    Scenario::UpS3.sweep();
}

#[test]
fn a_kill_at_every_journal_point_of_destroy_converges_and_keeps_the_network() {
    Scenario::Destroy.sweep();
}

#[test]
fn a_kill_at_every_journal_point_of_an_in_place_update_converges() {
    Scenario::Update.sweep();
}

// ------------------------------------------------------------------ concurrency

/// A `cairn` child whose stderr is read line by line as it comes.
struct Timed {
    pid: u32,
    started: Instant,
    /// When the first operation started (its first `NAME: creating...` line).
    first_op: Option<Instant>,
    ended: Instant,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn spawn_timed(cloud: &Cloud, args: &[&str]) -> (Child, Instant) {
    let child = cloud
        .sb
        .command(&cloud.local_args(args))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cairn");
    (child, Instant::now())
}

fn wait_timed((mut child, started): (Child, Instant)) -> Timed {
    use std::io::{BufRead, Read};
    let pid = child.id();
    let stderr = child.stderr.take().expect("stderr");
    let mut stdout = child.stdout.take().expect("stdout");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let mut first_op = None;
    let mut err = String::new();
    for line in std::io::BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
    {
        if first_op.is_none() && line.ends_with(": creating...") {
            first_op = Some(Instant::now());
        }
        err.push_str(&line);
        err.push('\n');
    }
    let status = child.wait().expect("wait cairn");
    Timed {
        pid,
        started,
        first_op,
        ended: Instant::now(),
        code: status.code(),
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err,
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

#[test]
fn two_ups_on_one_stack_one_proceeds_the_other_fails_at_once_naming_the_holder() {
    // Transitions of 3 s make the winner's run last several seconds.
    let cloud = Cloud::start(3000);
    cloud.network();
    let up = ["up", "--yes", "--stack", STACK];
    let a = spawn_timed(&cloud, &up);
    let b = spawn_timed(&cloud, &up);
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| wait_timed(a));
        let b = s.spawn(|| wait_timed(b));
        (a.join().expect("a"), b.join().expect("b"))
    });
    let (winner, loser) = match (a.code, b.code) {
        (Some(0), Some(1)) => (a, b),
        (Some(1), Some(0)) => (b, a),
        other => panic!(
            "exactly one run must succeed and the other exit 1, got {other:?}\nA:\n{}\nB:\n{}",
            a.stderr, b.stderr
        ),
    };
    let loser_secs = (loser.ended - loser.started).as_secs_f64();
    let winner_secs = (winner.ended - winner.started).as_secs_f64();
    println!(
        "reliability: same stack: winner pid {} ran {winner_secs:.1}s; loser pid {} exited 1 after {loser_secs:.1}s",
        winner.pid, loser.pid
    );
    record_figures(
        "lock_same_stack",
        &serde_json::json!({ "winner_seconds": winner_secs, "loser_seconds": loser_secs }),
    );
    assert!(
        loser.ended < winner.ended && loser_secs < 10.0,
        "the loser fails at once, while the winner still runs ({loser_secs:.1}s vs {winner_secs:.1}s)"
    );
    assert!(
        winner_secs > 3.0,
        "the winner's run lasts seconds ({winner_secs:.1}s)"
    );
    let message = &loser.stderr;
    assert!(
        message.contains(&format!("locked by pid {} ", winner.pid)),
        "names the holder's pid {}: {message}",
        winner.pid
    );
    assert!(
        message.contains(&format!("on host {} ", hostname())),
        "names the host: {message}"
    );
    let since = message
        .split(" since ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or("");
    assert!(
        since.len() >= 20 && since.as_bytes()[4] == b'-' && since.contains('T'),
        "names the start time (RFC 3339): {message}"
    );
    assert!(
        !loser.stderr.contains(": creating..."),
        "the loser started no operation: {}",
        loser.stderr
    );
    check_converged_up(&cloud, &["--stack", STACK], "cache.r5.large")
        .unwrap_or_else(|e| panic!("after the race: {e}"));
}

#[test]
fn ups_on_two_stacks_run_in_parallel() {
    let cloud = Cloud::start(3000);
    // Both networks first, so the two runs only read them.
    for env in ["dev", "staging"] {
        cloud.network_of(env);
    }
    let dev = spawn_timed(&cloud, &["up", "--yes", "--stack", "dev"]);
    let staging = spawn_timed(&cloud, &["up", "--yes", "--stack", "staging"]);
    let (dev, staging) = std::thread::scope(|s| {
        let d = s.spawn(|| wait_timed(dev));
        let st = s.spawn(|| wait_timed(staging));
        (d.join().expect("dev"), st.join().expect("staging"))
    });
    for (name, run) in [("dev", &dev), ("staging", &staging)] {
        assert_eq!(
            run.code,
            Some(0),
            "{name} failed:\n{}\n{}",
            run.stdout,
            run.stderr
        );
    }
    // The runs' operations overlap in time: each started its first operation
    // before the other had finished.
    let dev_op = dev.first_op.expect("dev ran operations");
    let staging_op = staging.first_op.expect("staging ran operations");
    let overlap_from = dev_op.max(staging_op);
    let overlap_to = dev.ended.min(staging.ended);
    assert!(
        overlap_from < overlap_to,
        "the two stacks ran one after the other"
    );
    let overlap = (overlap_to - overlap_from).as_secs_f64();
    let dev_secs = (dev.ended - dev_op).as_secs_f64();
    let staging_secs = (staging.ended - staging_op).as_secs_f64();
    println!(
        "reliability: dev ran {dev_secs:.1}s, staging {staging_secs:.1}s, overlapping {overlap:.1}s"
    );
    record_figures(
        "parallel_stacks",
        &serde_json::json!({ "dev_seconds": dev_secs, "staging_seconds": staging_secs, "overlap_seconds": overlap }),
    );
    assert!(
        overlap > 2.0,
        "the runs overlap for seconds, not an instant ({overlap:.1}s)"
    );
    let statuses = runtime().block_on(async {
        let sdk = cloud.sdk().await;
        let ec = ElastiCache::new(&sdk);
        let mut ok = Vec::new();
        for id in ["qualisys-redis-dev", "qualisys-redis-staging"] {
            let rg = ec
                .describe_replication_groups()
                .replication_group_id(id)
                .send()
                .await
                .ok()
                .and_then(|r| r.replication_groups().first().cloned());
            ok.push(rg.and_then(|g| g.status().map(str::to_string)));
        }
        ok
    });
    assert_eq!(
        statuses,
        vec![Some("available".to_string()), Some("available".to_string())]
    );
    for stack in ["dev", "staging"] {
        let state = state_list(&cloud, &["--stack", stack]).expect("state list");
        assert_eq!(state.len(), 9, "{stack}: {state:?}");
    }
}

// ------------------------------------------------------------------ secrets

/// Every command whose output is searched for the stack's secrets (each runs
/// with `--local`, `CAIRN_LOG=trace`, after the `up` that made them). Extend
/// this list with new commands; `state show` runs for every resource besides.
const SECRET_PROBES: &[&[&str]] = &[
    &["preview", "--stack", STACK],
    &["up", "--yes", "-vvv", "--stack", STACK],
    &["preview", "-vvv", "--stack", STACK],
    &["preview", "--json", "--stack", STACK],
    &["preview", "--format", "markdown", "--stack", STACK],
    &["preview", "--json", "--stack", STACK, "--config", RESIZED],
    &[
        "preview",
        "--format",
        "markdown",
        "--stack",
        STACK,
        "--config",
        "redisPort=6380",
    ],
    &["stack", "output", "--stack", STACK],
    &["stack", "output", "--json", "--stack", STACK],
    &["state", "list", "--stack", STACK],
    &["refresh", "-vvv", "--stack", STACK],
];

fn dir_modes(dir: &std::path::Path) -> Vec<(PathBuf, u32)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        if let Ok(meta) = std::fs::metadata(&d) {
            out.push((d.clone(), meta.permissions().mode() & 0o777));
        }
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            }
        }
    }
    out
}

#[test]
fn no_secret_reaches_any_output_log_or_state_file_in_plaintext() {
    // No passphrase: the generated key file under the state dir is covered too.
    let mut sb = Sandbox::new().with_env("CAIRN_LOG", "trace");
    sb.env.retain(|(k, _)| k != "STACK_PASSPHRASE");
    let cloud = Cloud::start_in(sb, 200);
    let mut printed = String::new();
    let first = cloud.cairn(&["up", "--yes", "-vvv", "--stack", STACK]);
    printed.push_str(&first.all());
    assert_eq!(first.code, Some(0), "{}", first.all());
    for probe in SECRET_PROBES {
        let run = cloud.cairn(probe);
        assert_eq!(run.code, Some(0), "{probe:?}: {}", run.all());
        printed.push_str(&run.all());
    }
    let names: Vec<String> = state_list(&cloud, &["--stack", STACK])
        .expect("state list")
        .into_keys()
        .collect();
    // 8 created, and the network stack reference.
    assert_eq!(names.len(), 9, "{names:?}");
    for name in &names {
        let run = cloud.cairn(&["state", "show", name, "--stack", STACK]);
        assert_eq!(run.code, Some(0), "state show {name}: {}", run.all());
        printed.push_str(&run.all());
    }

    // The real values, read from the cloud.
    let secret_string = runtime().block_on(async {
        let sdk = cloud.sdk().await;
        SecretsManager::new(&sdk)
            .get_secret_value()
            .secret_id(SECRET)
            .send()
            .await
            .expect("GetSecretValue")
            .secret_string()
            .expect("secret string")
            .to_string()
    });
    let json: serde_json::Value = serde_json::from_str(&secret_string).expect("secret json");
    let token = json["auth_token"].as_str().expect("auth_token").to_string();
    let uri = json["connection_uri"]
        .as_str()
        .expect("connection_uri")
        .to_string();
    assert_eq!(token.len(), 64);
    let escaped = serde_json::to_string(&secret_string).expect("escape");
    let escaped = escaped.trim_matches('"').to_string();
    let needles = [
        ("auth token", token.clone()),
        ("connection URI", uri),
        ("secret JSON", secret_string.clone()),
        ("secret JSON, escaped", escaped),
    ];

    let mut occurrences = 0;
    let mut report = Vec::new();
    for (what, needle) in &needles {
        let n = printed.matches(needle.as_str()).count();
        if n > 0 {
            report.push(format!("{what}: {n} in printed output"));
        }
        occurrences += n;
    }
    let files = files_under(&cloud.sb.state_dir());
    assert!(files.len() > 3, "state was written: {files:?}");
    let mut bad_modes = Vec::new();
    for file in &files {
        let bytes = std::fs::read(file).unwrap_or_default();
        for (what, needle) in &needles {
            let n = bytes
                .windows(needle.len())
                .filter(|w| *w == needle.as_bytes())
                .count();
            if n > 0 {
                report.push(format!("{what}: {n} in {}", file.display()));
            }
            occurrences += n;
        }
        let mode = std::fs::metadata(file).expect("meta").permissions().mode() & 0o777;
        if mode != 0o600 {
            bad_modes.push(format!("{} is {mode:o}", file.display()));
        }
    }
    for (dir, mode) in dir_modes(&cloud.sb.state_dir()) {
        if mode != 0o700 {
            bad_modes.push(format!("{}/ is {mode:o}", dir.display()));
        }
    }
    println!(
        "reliability: secrets: {occurrences} plaintext occurrences in {} bytes of output and {} state files ({} commands)",
        printed.len(),
        files.len(),
        1 + SECRET_PROBES.len() + names.len()
    );
    record_figures(
        "secrets",
        &serde_json::json!({
            "commands": 1 + SECRET_PROBES.len() + names.len(),
            "printed_bytes": printed.len(),
            "state_files": files.len(),
            "plaintext_occurrences": occurrences,
        }),
    );
    assert_eq!(occurrences, 0, "plaintext secrets:\n{}", report.join("\n"));
    assert!(
        bad_modes.is_empty(),
        "permissions:\n{}",
        bad_modes.join("\n")
    );
    assert!(
        printed.contains("TRACE") || printed.contains("DEBUG"),
        "-vvv produced logs to search"
    );
    assert!(
        printed.contains("[secret]"),
        "secret values were rendered, masked"
    );
}

// ------------------------------------------------------------------ faults

/// stacks/prod.yaml with the template by absolute path, for runs that
/// reach the emulator through the fault proxy (no `--local`: the SDK's
/// endpoint is the proxy). `network-prod` is brought up first (through
/// `--local`, in the same state directory), so the reference finds it.
fn proxied_stack_file(cloud: &Cloud) -> PathBuf {
    cloud.network();
    let prod = std::fs::read_to_string(workspace().join("stacks/prod.yaml")).expect("prod.yaml");
    let anchor = "template: redis-cache.template.yaml\n";
    assert!(prod.contains(anchor), "stacks/prod.yaml names its template");
    let template = workspace().join("stacks/redis-cache.template.yaml");
    let text = prod.replace(anchor, &format!("template: {}\n", template.display()));
    let path = cloud.sb.dir.path().join("prod-via-proxy.yaml");
    std::fs::write(&path, text).expect("write stack file");
    path
}

/// `cairn ARGS` with every AWS call sent to the proxy.
fn cairn_via(cloud: &Cloud, proxy: &FaultProxy, args: &[&str]) -> (Run, Duration) {
    // Empty config and credentials files: nothing from the host's AWS setup.
    let none = cloud.sb.dir.path().join("empty-aws-config");
    std::fs::write(&none, "").expect("empty AWS config");
    let mut cmd = cloud.sb.command(args);
    cmd.env("AWS_ENDPOINT_URL", proxy.endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", &none)
        .env("AWS_SHARED_CREDENTIALS_FILE", &none)
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
        .env_remove("AWS_ROLE_ARN");
    let start = Instant::now();
    let run = Run::from(cmd.output().expect("run cairn"));
    (run, start.elapsed())
}

fn fault_seed() -> u64 {
    std::env::var("CAIRN_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_2026)
}

/// One up → preview → destroy cycle on a fresh emulator behind a proxy
/// faulting `rate` of the requests; every step checked through the SDK.
fn faulted_cycle(seed: u64, rate: f64) -> Result<(Stats, Stats, Duration, Duration), String> {
    let cloud = Cloud::start(200);
    let file = proxied_stack_file(&cloud);
    let file = file.display().to_string();
    let select = ["--stack-file", file.as_str()];
    let proxy = FaultProxy::start(cloud.port, FaultConfig::with_rate(seed, rate));

    let (up, up_time) = cairn_via(&cloud, &proxy, &["up", "--yes", "--stack-file", &file]);
    let after_up = proxy.stats();
    expect_ok("up through faults", up)?;
    check_converged_up(&cloud, &select, "cache.r5.large")?;
    let (preview, _) = cairn_via(&cloud, &proxy, &["preview", "--stack-file", &file]);
    expect_no_changes("preview through faults", preview)?;
    let (destroy, destroy_time) =
        cairn_via(&cloud, &proxy, &["destroy", "--yes", "--stack-file", &file]);
    expect_ok("destroy through faults", destroy)?;
    check_converged_destroy(&cloud, &select)?;
    Ok((after_up, proxy.stats(), up_time, destroy_time))
}

#[test]
fn throttling_server_errors_and_resets_on_30_percent_of_requests_lose_nothing() {
    const RATE: f64 = 0.3;
    let cycles = if slow() { 12 } else { 4 };
    let seed = fault_seed();
    let started = Instant::now();
    let mut total = Stats::default();
    let mut up_requests = 0;
    let mut up_faults = 0;
    let mut failures = Vec::new();
    for cycle in 0..cycles {
        let cycle_seed = seed.wrapping_add(cycle);
        match faulted_cycle(cycle_seed, RATE) {
            Ok((up, all, up_time, destroy_time)) => {
                eprintln!(
                    "faults: cycle {cycle} (seed {cycle_seed}): up {:.1}s, destroy {:.1}s, {} requests, {} faults {:?}",
                    up_time.as_secs_f64(),
                    destroy_time.as_secs_f64(),
                    all.requests,
                    all.total_faults(),
                    all.faults
                );
                up_requests += up.requests;
                up_faults += up.total_faults();
                total.absorb(&all);
            }
            Err(e) => failures.push(format!("cycle {cycle} (seed {cycle_seed}): {e}")),
        }
    }
    let share = total.total_faults() as f64 / total.requests.max(1) as f64;
    println!(
        "reliability: faults at {RATE}: {}/{cycles} up+destroy cycles lost nothing; {} requests, {} forwarded, {} faults injected {:?} ({:.0}%), in {:.0}s",
        cycles as usize - failures.len(),
        total.requests,
        total.forwarded,
        total.total_faults(),
        total.faults,
        share * 100.0,
        started.elapsed().as_secs_f64()
    );
    println!("reliability: faults by call: {:?}", total.faults_by_action);
    record_figures(
        "faults",
        &serde_json::json!({
            "seed": seed,
            "fault_rate": RATE,
            "cycles": cycles,
            "cycles_ok": cycles as usize - failures.len(),
            "up_requests": up_requests,
            "up_faults": up_faults,
            "proxy": total.to_json(),
            "observed_fault_share": share,
            "seconds": started.elapsed().as_secs(),
        }),
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        total.requests >= 100,
        "enough traffic to mean something: {total:?}"
    );
    assert!(
        (0.15..=0.45).contains(&share),
        "the proxy faulted {share:.2} of requests, not about {RATE}"
    );
    for kind in [
        FaultKind::Throttle,
        FaultKind::Http500,
        FaultKind::Http503,
        FaultKind::Reset,
    ] {
        assert!(
            total.faults.get(&kind).copied().unwrap_or(0) > 0,
            "no {kind:?} was injected: {:?}",
            total.faults
        );
    }
    assert_eq!(total.proxy_errors, 0, "the emulator was always reachable");
}

#[test]
fn a_permanent_error_fails_fast_naming_the_resource_and_the_call() {
    let cloud = Cloud::start(200);
    let file = proxied_stack_file(&cloud);
    let file = file.display().to_string();
    let mut cfg = FaultConfig::passthrough();
    cfg.rules.push(Rule::json_error(
        "CreateKey",
        400,
        "AccessDeniedException",
        "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: kms:CreateKey",
    ));
    let proxy = FaultProxy::start(cloud.port, cfg);
    let (run, took) = cairn_via(&cloud, &proxy, &["up", "--yes", "--stack-file", &file]);
    let stats = proxy.stats();
    println!(
        "reliability: AccessDenied on CreateKey: exit {:?} after {:.1}s, {} CreateKey request(s)",
        run.code,
        took.as_secs_f64(),
        stats.by_action.get("kms:CreateKey").copied().unwrap_or(0)
    );
    record_figures(
        "permanent_error",
        &serde_json::json!({ "exit_code": run.code, "seconds": took.as_secs_f64(), "create_key_requests": stats.by_action.get("kms:CreateKey") }),
    );
    assert_eq!(run.code, Some(1), "{}", run.all());
    let out = run.all();
    println!(
        "reliability: the failure as printed:\n{}",
        run.stderr.trim_end()
    );
    for needle in ["redisKey", "CreateKey", "AccessDenied"] {
        assert!(out.contains(needle), "the error names {needle}:\n{out}");
    }
    assert!(
        took < Duration::from_secs(10),
        "fails fast, not after the retry budget ({:.1}s)",
        took.as_secs_f64()
    );
    assert_eq!(
        stats.by_action.get("kms:CreateKey"),
        Some(&1),
        "a permanent error is not retried: {:?}",
        stats.by_action
    );
    // Only the key's dependents were skipped: nothing that needs the key exists.
    let net = cloud.network();
    let census = runtime()
        .block_on(async {
            let sdk = cloud.sdk().await;
            Census::take(&sdk, &net).await
        })
        .expect("census");
    assert!(
        census.keys.is_empty()
            && census.aliases.is_empty()
            && census.replication_groups.is_empty()
            && census.secrets.is_empty()
            && census.policies.is_empty(),
        "nothing depending on the key was made: {census:?}"
    );
}

/// The calls of `up` with an effect outside the engine.
const MUTATING_CALLS_OF_UP: &[&str] = &[
    "CreateKey",
    "EnableKeyRotation",
    "CreateAlias",
    "CreateCacheParameterGroup",
    "ModifyCacheParameterGroup",
    "CreateReplicationGroup",
    "CreateSecret",
    "PutSecretValue",
    "CreatePolicy",
];

/// The hard case: the call takes effect in the emulator, its answer is lost
/// (connection reset), the SDK retries. `up`, then at most one plain re-run,
/// must leave exactly one of everything. The providers make this hold: a
/// create the SDK retries onto AlreadyExists adopts the object when it is
/// ours (the alias points at our key; the parameter group, replication group
/// and policy carry our `cairn:urn` tag), CreateSecret and PutSecretValue
/// carry idempotency tokens, and CreateKey (no token) goes without SDK
/// retries and looks for the key that very call made before trying again.
/// Last measured: 9/9 calls converged, every first `up` succeeded, 35 s
/// (docs/reliability.md, "Lost responses").
#[test]
fn a_lost_response_to_any_mutating_call_converges_without_duplicates() {
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut first_run_failed = Vec::new();
    for action in MUTATING_CALLS_OF_UP {
        let cloud = Cloud::start(200);
        let file = proxied_stack_file(&cloud);
        let file = file.display().to_string();
        let mut cfg = FaultConfig::passthrough();
        cfg.lose_first.push(action.to_string());
        let proxy = FaultProxy::start(cloud.port, cfg);
        let (first, _) = cairn_via(&cloud, &proxy, &["up", "--yes", "--stack-file", &file]);
        let lost = proxy
            .stats()
            .faults
            .get(&FaultKind::LostResponse)
            .copied()
            .unwrap_or(0);
        if lost != 1 {
            failures.push(format!("{action}: the proxy lost {lost} responses, not 1"));
            continue;
        }
        if first.code != Some(0) {
            first_run_failed.push(*action);
        }
        let (second, _) = cairn_via(&cloud, &proxy, &["up", "--yes", "--stack-file", &file]);
        let outcome = expect_ok("the re-run", second)
            .and_then(|_| check_converged_up(&cloud, &["--stack-file", &file], "cache.r5.large"));
        match outcome {
            Ok(()) => eprintln!(
                "lost response: {action}: converged (first run exit {:?})",
                first.code
            ),
            Err(e) => failures.push(format!(
                "{action} (first run exit {:?}): {e}\nfirst run:\n{}",
                first.code, first.stderr
            )),
        }
    }
    println!(
        "reliability: lost responses: {}/{} calls converged without duplicates ({} first runs failed and were recovered by the re-run: {first_run_failed:?}) in {:.0}s",
        MUTATING_CALLS_OF_UP.len() - failures.len(),
        MUTATING_CALLS_OF_UP.len(),
        first_run_failed.len(),
        started.elapsed().as_secs_f64()
    );
    record_figures(
        "lost_response",
        &serde_json::json!({
            "calls": MUTATING_CALLS_OF_UP,
            "converged": MUTATING_CALLS_OF_UP.len() - failures.len(),
            "first_run_failed": first_run_failed,
        }),
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

// ------------------------------------------------------------ ownership

/// A lost create whose name another stack then takes: the next run's
/// recovery finds a same-named parameter group tagged for another stack and
/// refuses it with a clear error naming that tag, and a later `destroy`
/// leaves it in place (checked through the SDK).
#[test]
fn a_lost_create_never_adopts_a_same_named_object_of_another_stack() {
    const FOREIGN_URN: &str = "redis-other/redisParameters";
    let cloud = Cloud::start(0);
    cloud.network();
    // Journal point 1: the parameter group's create intent, before the call.
    cloud
        .cairn_killed_at(
            &[
                "up",
                "--yes",
                "--stack",
                STACK,
                "--target",
                "redisParameters",
            ],
            1,
        )
        .unwrap();
    let ec = runtime().block_on(async { ElastiCache::new(&cloud.sdk().await) });
    let tags_of = |arn: &str| {
        runtime().block_on(async {
            ec.list_tags_for_resource()
                .resource_name(arn)
                .send()
                .await
                .expect("ListTagsForResource")
                .tag_list()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    )
                })
                .collect::<BTreeMap<_, _>>()
        })
    };
    let describe = || {
        runtime().block_on(async {
            ec.describe_cache_parameter_groups()
                .cache_parameter_group_name(PARAMETER_GROUP)
                .send()
                .await
                .map(|o| o.cache_parameter_groups().first().cloned())
                .map_err(|e| e.to_string())
        })
    };
    assert!(
        describe().map_or(true, |g| g.is_none()),
        "the killed run made no parameter group"
    );
    // Another stack takes the name.
    let made = runtime().block_on(async {
        ec.create_cache_parameter_group()
            .cache_parameter_group_name(PARAMETER_GROUP)
            .cache_parameter_group_family("redis7")
            .description("another stack's parameters")
            .tags(
                aws_sdk_elasticache::types::Tag::builder()
                    .key("cairn:urn")
                    .value(FOREIGN_URN)
                    .build(),
            )
            .send()
            .await
            .expect("CreateCacheParameterGroup")
    });
    let arn = made
        .cache_parameter_group()
        .and_then(|g| g.arn())
        .expect("the group's ARN")
        .to_string();

    let refused = cloud.cairn(&["up", "--yes", "--stack", STACK]);
    let shown = refused.all();
    assert_eq!(refused.code, Some(1), "{shown}");
    assert!(
        shown.contains("cairn::provider::not_owned")
            && shown.contains(PARAMETER_GROUP)
            && shown.contains(&format!("cairn:urn={FOREIGN_URN}")),
        "the refusal names the object and the tag it carries:\n{shown}"
    );
    let recorded = state_list(&cloud, &["--stack", STACK]).unwrap();
    assert!(
        !recorded.contains_key("redisParameters"),
        "not recorded as ours: {recorded:?}"
    );

    expect_ok(
        "destroy",
        cloud.cairn(&["destroy", "--yes", "--stack", STACK]),
    )
    .unwrap();
    let group = describe()
        .expect("DescribeCacheParameterGroups")
        .expect("the other stack's group is still there");
    assert_eq!(group.description(), Some("another stack's parameters"));
    assert_eq!(
        tags_of(&arn).get("cairn:urn").map(String::as_str),
        Some(FOREIGN_URN)
    );
}
