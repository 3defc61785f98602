//! `cairn verify --stack S`: proves the Redis caching layer's acceptance
//! criteria (Story 0.5, AC1–AC10) on the live deployment.
//!
//! * **Control plane** (AC1–AC9) from live Describe*/Get* calls through
//!   [`cairn_aws::inspect`], never from recorded state; AC10 from the
//!   key-namespacing guide in the repository.
//! * **Data plane** (DP1–DP5) through the live endpoint with the token from
//!   the connection secret: TLS and AUTH enforced on every node, the four
//!   tenant scopes usable with their TTLs, the cluster's shape, and the
//!   effective eviction policy. An endpoint that cannot be reached from here
//!   (real AWS from outside the VPC) makes these rows SKIP, never FAIL, and
//!   the report [`Verdict::Inconclusive`] (exit code 3), never ok.
//!   [`VerifyOptions::control_plane_only`] claims less: the data plane is
//!   not contacted, its rows are not required, and the summary says so.
//! * **Failover drill** (DR1, opt-in): see [`VerifyOptions::failover_drill`].
//!
//! Verification never returns an error: every problem is a failing or
//! skipped row. No secret reaches a row, the report, or a log: evidence is
//! masked with every secret value seen.

mod control;
mod data;
mod doc;
mod drill;
mod error;
mod expect;
mod probe;
mod report;

pub use doc::{scope_ttl, KEY_FORMAT, SCOPES};
pub use error::VerifyError;
pub use expect::{story_sizing, Expectations, NAMESPACING_DOC};
pub use report::{DrillResult, Report, Row, Scope, Status, Verdict, EXIT_INCONCLUSIVE};

/// The test tenant under which DP3 and the drill write their keys.
pub use data::TEST_TENANT;

use cairn_aws::inspect::Inspector;
use cairn_aws::SdkConfig;
use std::path::PathBuf;
use std::time::Duration;

/// How to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Run the failover drill (DR1). On AWS this calls `TestFailover` on one
    /// node group — a real failover of that shard. On a local twin it
    /// stops one primary's process (and always resumes it).
    pub failover_drill: bool,
    /// PEM CA bundle to verify the endpoint's certificate with (the local
    /// twin's `tls/ca.crt`). `None`: on a local twin, the CA the emulator
    /// reports (`GET /_cairn/twin/<id>` on the SDK's loopback endpoint);
    /// otherwise the public web PKI roots, as ElastiCache's certificates
    /// chain to them.
    pub ca_file: Option<PathBuf>,
    /// Deadline of each data-plane connection and command; also how long an
    /// endpoint gets to accept a TCP connection before it counts as unreachable.
    pub data_plane_timeout: Duration,
    /// Verify the control plane only: the data plane is not contacted, its
    /// rows are SKIP and not required, and the report's scope says so.
    /// A drill asked for as well is a required SKIP (inconclusive).
    pub control_plane_only: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            failover_drill: false,
            ca_file: None,
            data_plane_timeout: Duration::from_secs(5),
            control_plane_only: false,
        }
    }
}

/// Replaces every known secret in evidence with the mask.
#[derive(Default)]
struct Masker(Vec<String>);

impl Masker {
    fn add(&mut self, secret: &str) {
        // Short strings would mask ordinary words; tokens are 16+ characters.
        if secret.len() >= 8 && !self.0.iter().any(|s| s == secret) {
            self.0.push(secret.to_string());
            self.0.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }
    fn mask(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.0 {
            out = out.replace(s.as_str(), cairn_core::value::SECRET_MASK);
        }
        out
    }
}

/// True for a loopback address (a local twin).
fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checks AC1–AC10, DP1–DP5 and, when asked, the failover drill (DR1).
pub async fn verify(sdk: &SdkConfig, exp: &Expectations, opts: &VerifyOptions) -> Report {
    // The Redis client builds its TLS configs from the process default provider.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let inspector = Inspector::new(sdk);
    let facts = control::ControlFacts::fetch(&inspector, exp).await;

    let mut masker = Masker::default();
    let mut token = None;
    if let Ok(sv) = &facts.secret {
        if let Some(text) = sv.secret_string.as_deref() {
            masker.add(text);
            if let Ok(s) = control::parse_secret(text) {
                masker.add(&s.connection_uri);
                masker.add(&s.auth_token);
                token = Some(s.auth_token.clone());
            } else if let Ok(j) = serde_json::from_str::<serde_json::Value>(text) {
                // A malformed secret may still hold a token: mask it anyway.
                for k in ["auth_token", "connection_uri"] {
                    if let Some(v) = j.get(k).and_then(|v| v.as_str()) {
                        masker.add(v);
                    }
                }
            }
        }
    }

    let live = facts.live_endpoint();
    let local = live.as_ref().is_some_and(|(h, _)| is_loopback(h));
    let mut rows = control::control_rows(exp, &facts, local);
    rows.push(doc::check_doc(&exp.namespacing_doc));

    let at = Live {
        endpoint: live,
        local,
        emulator: cairn_aws::inspect::endpoint_override(sdk),
    };
    let (dp_rows, drill_row, drill) = if opts.control_plane_only {
        control_plane_only(opts)
    } else {
        data_plane(&inspector, exp, opts, &facts, token, at).await
    };
    rows.extend(dp_rows);
    rows.extend(drill_row);

    for r in &mut rows {
        r.evidence = masker.mask(&r.evidence);
    }
    let drill = drill.map(|mut d| {
        d.method = masker.mask(&d.method);
        d
    });
    let scope = if opts.control_plane_only {
        Scope::ControlPlaneOnly
    } else {
        Scope::Full
    };
    Report { rows, drill, scope }
}

type DataPlaneOut = (Vec<Row>, Option<Row>, Option<DrillResult>);

/// The data-plane rows when only the control plane is claimed: SKIP, not
/// required. A drill asked for anyway stays required, so it is inconclusive.
fn control_plane_only(opts: &VerifyOptions) -> DataPlaneOut {
    let why = "not checked: only the control plane is verified (control-plane-only)";
    let rows = data::CRIT
        .iter()
        .map(|(id, _)| data::row(id, Status::Skip, why).not_required())
        .collect();
    let drill = opts.failover_drill.then(|| {
        Row::new(
            drill::ID,
            drill::CRIT,
            Status::Skip,
            "not run: the failover drill needs the data plane (control-plane-only)",
        )
    });
    (rows, drill, None)
}

/// Where the data plane is.
struct Live {
    /// The live endpoint (configuration endpoint in cluster mode).
    endpoint: Option<(String, i32)>,
    /// The endpoint is on loopback: a local twin.
    local: bool,
    /// The SDK's endpoint override (the emulator, with `--local`).
    emulator: Option<String>,
}

async fn data_plane(
    inspector: &Inspector,
    exp: &Expectations,
    opts: &VerifyOptions,
    facts: &control::ControlFacts,
    token: Option<String>,
    at: Live,
) -> DataPlaneOut {
    let Live {
        endpoint: live,
        local,
        emulator,
    } = at;
    let all = |status: Status, why: &str| -> DataPlaneOut {
        let rows = data::CRIT
            .iter()
            .map(|(id, _)| data::row(id, status, why))
            .collect();
        let drill = opts
            .failover_drill
            .then(|| Row::new(drill::ID, drill::CRIT, status, why));
        (rows, drill, None)
    };
    let Some((host, port)) = live else {
        return all(
            Status::Fail,
            "the live endpoint is unknown (DescribeReplicationGroups failed or reported none; see AC1)",
        );
    };
    let Ok(port) = u16::try_from(port) else {
        return all(
            Status::Fail,
            &format!("the live endpoint reports port {port}"),
        );
    };
    let endpoint = data::Addr { host, port };
    if let Err(e) = probe::tcp(&endpoint.host, endpoint.port, opts.data_plane_timeout).await {
        return if local {
            all(Status::Fail, &format!("the local twin is not serving: {e}"))
        } else {
            all(
                Status::Skip,
                &format!("endpoint not reachable from here ({e})"),
            )
        };
    }
    // A local twin's certificate comes from the emulator's own CA: without a
    // CA file, ask the emulator (the SDK's loopback endpoint) where it is.
    let mut ca_file = opts.ca_file.clone();
    let mut ca_note = String::new();
    if ca_file.is_none() && local {
        if let Some((h, p)) = emulator.as_deref().and_then(probe::http_host_port) {
            if is_loopback(&h) {
                let path = format!("/_cairn/twin/{}", exp.replication_group_id);
                match probe::http_get_json(&h, p, &path, opts.data_plane_timeout).await {
                    Ok(j) => {
                        ca_file = j.get("ca_path").and_then(|c| c.as_str()).map(PathBuf::from);
                        ca_note = format!(" (found through the emulator's GET {path})");
                    }
                    Err(e) => ca_note = format!(" (the emulator's GET {path} failed: {e})"),
                }
            }
        }
    }
    let mut tls = match probe::tls_setup(ca_file.as_deref()) {
        Ok(t) => t,
        Err(e) => return all(Status::Fail, &e),
    };
    tls.trust.push_str(&ca_note);
    let plane = data::Plane {
        tls,
        token,
        timeout: opts.data_plane_timeout,
    };

    // The topology, through the configuration endpoint.
    let topo = match plane.token {
        None => {
            Err("no usable auth token: the connection secret is unreadable (see AC7)".to_string())
        }
        Some(_) => match plane.conn(&endpoint).await {
            Ok(mut c) => data::topology(&mut c, &endpoint).await,
            Err(e) => Err(format!("cannot connect to {endpoint}: {e}")),
        },
    };
    let nodes: Vec<data::Addr> = topo
        .as_ref()
        .map(|t| t.nodes().into_iter().map(|n| n.addr.clone()).collect())
        .unwrap_or_default();

    let mut rows = vec![
        data::dp1_tls(&plane, &endpoint, &nodes).await,
        data::dp2_auth(&plane, &endpoint, &nodes).await,
    ];
    rows.push(match &plane.token {
        None => data::row(
            "DP3",
            Status::Fail,
            "no usable auth token: the connection secret is unreadable (see AC7)",
        ),
        Some(_) => match plane.cluster(&endpoint).await {
            Ok(mut c) => data::dp3_ops(&mut c, &data::random_hex(6)).await,
            Err(e) => data::row(
                "DP3",
                Status::Fail,
                format!("cannot open a cluster connection via {endpoint}: {e}"),
            ),
        },
    });
    rows.push(data::dp4_topology(exp, &topo));
    let dp5_nodes = if nodes.is_empty() {
        vec![endpoint.clone()]
    } else {
        nodes.clone()
    };
    let pg_value = facts.params.is_ok().then(|| {
        (
            exp.parameter_group_name.as_str(),
            facts.param("maxmemory-policy"),
        )
    });
    rows.push(if plane.token.is_none() {
        data::row(
            "DP5",
            Status::Fail,
            "no usable auth token: the connection secret is unreadable (see AC7)",
        )
    } else {
        data::dp5_policy(&plane, &dp5_nodes, pg_value).await
    });

    let (drill_row, drill) = if !opts.failover_drill {
        (None, None)
    } else {
        match &topo {
            Err(e) => (
                Some(Row::new(
                    drill::ID,
                    drill::CRIT,
                    Status::Fail,
                    format!("no topology to drill: {e}"),
                )),
                None,
            ),
            Ok(t) => {
                let (r, d) = drill::run(drill::DrillInput {
                    plane: &plane,
                    exp,
                    topo: t,
                    local,
                    inspector,
                    rg: facts.rg.as_ref().ok(),
                })
                .await;
                (Some(r), d)
            }
        }
    };
    (rows, drill_row, drill)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masker_masks_every_occurrence_longest_first() {
        let mut m = Masker::default();
        m.add("abcdefgh12345678");
        m.add("rediss://:abcdefgh12345678@h:6379");
        m.add("short");
        let out = m.mask("uri rediss://:abcdefgh12345678@h:6379 and token abcdefgh12345678 short");
        assert_eq!(out, "uri [secret] and token [secret] short");
    }

    #[test]
    fn loopback_detection() {
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("::1"));
        assert!(is_loopback("[::1]"));
        assert!(is_loopback("localhost"));
        assert!(!is_loopback("clustercfg.x.use1.cache.amazonaws.com"));
        assert!(!is_loopback("10.0.20.5"));
    }

    fn facts() -> control::ControlFacts {
        let none = || cairn_aws::inspect::InspectError::Missing {
            api: "test".into(),
            what: "anything".into(),
        };
        control::ControlFacts {
            rg: Err(none()),
            clusters: Err(none()),
            security_groups: vec![],
            params: Err(none()),
            secret: Err(none()),
            key_rotation: None,
        }
    }

    /// Expectations for a 2×1 prod group, shared by the unit tests.
    pub(crate) fn exp() -> Expectations {
        Expectations {
            stack: "s".into(),
            environment: "prod".into(),
            replication_group_id: "r".into(),
            node_type: "cache.r5.large".into(),
            num_node_groups: 2,
            replicas_per_node_group: 1,
            require_failover_multi_az: true,
            kms_key_arn: None,
            parameter_group_name: "pg".into(),
            security_group_id: "sg".into(),
            allowed_cidrs: vec![],
            allowed_source_security_groups: vec![],
            port: 6379,
            secret_id: "x".into(),
            namespacing_doc: "d".into(),
        }
    }

    /// Port 1 on loopback refuses at once: stands in for an endpoint that
    /// cannot be reached (no traffic leaves the machine).
    async fn unreachable(local: bool) -> DataPlaneOut {
        let sdk = SdkConfig::builder().build();
        let opts = VerifyOptions {
            failover_drill: true,
            ca_file: None,
            data_plane_timeout: Duration::from_millis(300),
            control_plane_only: false,
        };
        let at = Live {
            endpoint: Some(("127.0.0.1".into(), 1)),
            local,
            emulator: None,
        };
        data_plane(&Inspector::new(&sdk), &exp(), &opts, &facts(), None, at).await
    }

    #[tokio::test]
    async fn an_unreachable_aws_endpoint_skips_and_a_dead_twin_fails() {
        let (rows, drill_row, drill) = unreachable(false).await;
        assert_eq!(rows.len(), 5);
        for r in rows.iter().chain(drill_row.iter()) {
            assert_eq!(r.status, Status::Skip, "{}: {}", r.id, r.evidence);
            assert!(
                r.evidence.starts_with("endpoint not reachable from here"),
                "{}",
                r.evidence
            );
        }
        assert_eq!(drill_row.as_ref().unwrap().id, "DR1");
        assert!(drill.is_none());
        // Not checked is not proven: the whole report is inconclusive.
        let mut all = vec![Row::new("AC1", "c", Status::Pass, "e")];
        all.extend(rows.iter().cloned().chain(drill_row));
        let report = Report {
            rows: all,
            drill: None,
            scope: Scope::Full,
        };
        assert_eq!(report.verdict(), Verdict::Inconclusive);
        assert_eq!(
            report.unchecked_ids(),
            vec!["DP1", "DP2", "DP3", "DP4", "DP5", "DR1"]
        );

        let (rows, _, _) = unreachable(true).await;
        for r in &rows {
            assert_eq!(r.status, Status::Fail, "{}: {}", r.id, r.evidence);
            assert!(
                r.evidence.starts_with("the local twin is not serving"),
                "{}",
                r.evidence
            );
        }
    }

    #[test]
    fn control_plane_only_rows_are_not_required_but_a_drill_is() {
        let opts = VerifyOptions {
            control_plane_only: true,
            ..VerifyOptions::default()
        };
        let (rows, drill_row, drill) = control_plane_only(&opts);
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, vec!["DP1", "DP2", "DP3", "DP4", "DP5"]);
        for r in &rows {
            assert_eq!(r.status, Status::Skip);
            assert!(!r.required, "{}", r.id);
            assert!(
                r.evidence.contains("only the control plane"),
                "{}",
                r.evidence
            );
        }
        assert!(drill_row.is_none() && drill.is_none());

        let (_, drill_row, _) = control_plane_only(&VerifyOptions {
            failover_drill: true,
            ..opts
        });
        let dr1 = drill_row.expect("the drill asked for gets a row");
        assert_eq!((dr1.status, dr1.required), (Status::Skip, true));
    }

    #[test]
    fn default_options() {
        let o = VerifyOptions::default();
        assert!(!o.control_plane_only);
        assert!(!o.failover_drill && o.ca_file.is_none());
        assert_eq!(o.data_plane_timeout, Duration::from_secs(5));
    }
}
