//! The verification report: one row per criterion, plus the drill's figures.

use serde::Serialize;
use std::fmt::Write as _;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// Proven on the live deployment.
    Pass,
    /// Checked, and wrong (or could not be proven where it should have been).
    Fail,
    /// Not checked here (e.g. the endpoint is not reachable from this machine).
    Skip,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One checked criterion. `evidence` never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// `AC1` .. `AC10`, `DP1` .. `DP5`, `DR1`.
    pub id: String,
    pub criterion: String,
    pub status: Status,
    pub evidence: String,
    /// The verdict needs this row: a required row that was skipped makes
    /// the report inconclusive. Not required: a row outside the claimed
    /// scope (`--control-plane-only`) or one that does not apply here.
    pub required: bool,
}

impl Row {
    /// A required row.
    pub fn new(id: &str, criterion: &str, status: Status, evidence: impl Into<String>) -> Row {
        Row {
            id: id.to_string(),
            criterion: criterion.to_string(),
            status,
            evidence: evidence.into(),
            required: true,
        }
    }

    /// The same row, not needed for the verdict.
    pub fn not_required(mut self) -> Row {
        self.required = false;
        self
    }
}

/// What a report claims to have verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Control plane and data plane (and the drill when asked).
    Full,
    /// Only the control plane: the data plane was not contacted.
    ControlPlaneOnly,
}

/// The report's overall result, and `cairn verify`'s exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every required row passed. Exit code 0.
    Ok,
    /// At least one row failed. Exit code 1.
    Failed,
    /// Nothing failed, but a required row could not be checked (or the
    /// report has no rows). Exit code [`EXIT_INCONCLUSIVE`].
    Inconclusive,
}

/// `cairn verify`'s exit code when a required row could not be checked
/// (0 is ok, 1 a row failed, 2 invalid input).
pub const EXIT_INCONCLUSIVE: u8 = 3;

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Failed => "NOT OK",
            Verdict::Inconclusive => "INCONCLUSIVE",
        }
    }

    /// The process exit code: 0 ok, 1 failed, 3 inconclusive.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Ok => 0,
            Verdict::Failed => 1,
            Verdict::Inconclusive => EXIT_INCONCLUSIVE,
        }
    }
}

/// What a failover drill measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrillResult {
    /// Seconds from the first failed write after the failure was injected
    /// until a write to the same slot range was acknowledged by the new primary.
    pub recovery_secs: f64,
    /// Writes the cluster acknowledged during the drill (before and after the failover).
    pub acknowledged_writes: u64,
    /// Acknowledged writes missing after the failover.
    pub lost_writes: u64,
    /// How the failure was injected.
    pub method: String,
    /// The shard drilled (node group id, or its slot range).
    pub node_group: String,
    /// `host:port` of the primary before and after.
    pub old_primary: String,
    pub new_primary: String,
    /// How long writes to another shard were refused meanwhile (`None`
    /// with a single shard): with two shards, a failed primary can take
    /// the whole cluster down until the failover completes.
    pub other_shard_outage_secs: Option<f64>,
}

/// The result of `cairn verify`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub rows: Vec<Row>,
    pub drill: Option<DrillResult>,
    pub scope: Scope,
}

impl Report {
    /// Failed when a row failed; inconclusive when a required row was
    /// skipped or there are no rows; otherwise ok.
    pub fn verdict(&self) -> Verdict {
        if self.rows.iter().any(|r| r.status == Status::Fail) {
            Verdict::Failed
        } else if self.rows.is_empty() || !self.unchecked_ids().is_empty() {
            Verdict::Inconclusive
        } else {
            Verdict::Ok
        }
    }

    /// True when the verdict is ok: nothing failed and every required row passed.
    pub fn ok(&self) -> bool {
        self.verdict() == Verdict::Ok
    }

    /// Ids of the required rows that were skipped, in report order.
    pub fn unchecked_ids(&self) -> Vec<&str> {
        self.rows
            .iter()
            .filter(|r| r.required && r.status == Status::Skip)
            .map(|r| r.id.as_str())
            .collect()
    }

    /// The row with this id.
    pub fn row(&self, id: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.id == id)
    }

    /// Ids of the failing rows, in report order.
    pub fn failed_ids(&self) -> Vec<&str> {
        self.rows
            .iter()
            .filter(|r| r.status == Status::Fail)
            .map(|r| r.id.as_str())
            .collect()
    }

    fn count(&self, s: Status) -> usize {
        self.rows.iter().filter(|r| r.status == s).count()
    }

    /// A plain-text table (no colour; the CLI may colour the status column).
    pub fn to_table(&self) -> String {
        let id_w = self
            .rows
            .iter()
            .map(|r| r.id.len())
            .max()
            .unwrap_or(2)
            .max(2);
        let crit_w = self
            .rows
            .iter()
            .map(|r| r.criterion.chars().count())
            .max()
            .unwrap_or(9)
            .max(9);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:id_w$}  {:6}  {:crit_w$}  EVIDENCE",
            "ID", "STATUS", "CRITERION"
        );
        for r in &self.rows {
            let mut lines = r.evidence.lines();
            let first = lines.next().unwrap_or("");
            let _ = writeln!(
                out,
                "{:id_w$}  {:6}  {:crit_w$}  {}",
                r.id,
                r.status.as_str(),
                r.criterion,
                first
            );
            for more in lines {
                let _ = writeln!(out, "{:id_w$}  {:6}  {:crit_w$}  {}", "", "", "", more);
            }
        }
        if let Some(d) = &self.drill {
            let other = d
                .other_shard_outage_secs
                .map(|o| format!("; another shard refused writes for {o:.2} s"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "drill: {} on {}: recovered in {:.2} s; {} acknowledged writes, {} lost; primary {} -> {}{other}",
                d.method,
                d.node_group,
                d.recovery_secs,
                d.acknowledged_writes,
                d.lost_writes,
                d.old_primary,
                d.new_primary
            );
        }

        let _ = writeln!(out, "{}", self.summary());
        out
    }

    /// `verify[ (scope)]: P PASS, F FAIL, S SKIP: VERDICT[ (why)]`.
    pub fn summary(&self) -> String {
        let scope = match self.scope {
            Scope::Full => "",
            Scope::ControlPlaneOnly => " (control plane only: the data plane was not verified)",
        };
        let verdict = self.verdict();
        let why = match verdict {
            Verdict::Inconclusive if self.rows.is_empty() => " (nothing was checked)".to_string(),
            Verdict::Inconclusive => format!(
                " (required rows not checked: {})",
                self.unchecked_ids().join(", ")
            ),
            _ => String::new(),
        };
        format!(
            "verify{scope}: {} PASS, {} FAIL, {} SKIP: {}{why}",
            self.count(Status::Pass),
            self.count(Status::Fail),
            self.count(Status::Skip),
            verdict.as_str(),
        )
    }

    /// `{"ok", "verdict", "scope", "summary": {"pass","fail","skip"},
    /// "unchecked": [...], "rows": [...], "drill": {...}|null}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "ok": self.ok(),
            "verdict": self.verdict(),
            "scope": self.scope,
            "unchecked": self.unchecked_ids(),
            "summary": {
                "pass": self.count(Status::Pass),
                "fail": self.count(Status::Fail),
                "skip": self.count(Status::Skip),
            },
            "rows": self.rows,
            "drill": self.drill,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            scope: Scope::Full,
            rows: vec![
                Row::new("AC1", "Redis 7+", Status::Pass, "redis 7.1"),
                Row::new(
                    "AC8",
                    "security group",
                    Status::Fail,
                    "0.0.0.0/0 on tcp 6379\nsecond line",
                ),
                Row::new(
                    "DP1",
                    "TLS",
                    Status::Skip,
                    "endpoint not reachable from here",
                ),
            ],
            drill: None,
        }
    }

    #[test]
    fn a_failure_wins_over_a_skip() {
        let mut r = report();
        assert_eq!(r.verdict(), Verdict::Failed);
        assert_eq!(r.verdict().exit_code(), 1);
        assert!(!r.ok());
        assert_eq!(r.failed_ids(), vec!["AC8"]);
        r.rows[1].status = Status::Pass;
        r.rows[2].status = Status::Pass;
        assert_eq!(r.verdict(), Verdict::Ok);
        assert_eq!(r.verdict().exit_code(), 0);
        assert!(r.ok());
    }

    #[test]
    fn an_empty_report_proves_nothing() {
        let r = Report {
            rows: vec![],
            drill: None,
            scope: Scope::Full,
        };
        assert!(!r.ok(), "an empty report must not be ok");
        assert_eq!(r.verdict(), Verdict::Inconclusive);
        assert_eq!(
            r.summary(),
            "verify: 0 PASS, 0 FAIL, 0 SKIP: INCONCLUSIVE (nothing was checked)"
        );
    }

    #[test]
    fn skipped_data_plane_rows_are_not_ok() {
        let mut r = report();
        r.rows[1].status = Status::Pass;
        assert!(!r.ok(), "DP1 was not checked, yet the report is ok");
        assert_eq!(r.verdict(), Verdict::Inconclusive);
        assert_eq!(r.verdict().exit_code(), EXIT_INCONCLUSIVE);
        assert_eq!(EXIT_INCONCLUSIVE, 3);
        assert_eq!(r.unchecked_ids(), vec!["DP1"]);
        assert_eq!(
            r.summary(),
            "verify: 2 PASS, 0 FAIL, 1 SKIP: INCONCLUSIVE (required rows not checked: DP1)"
        );
        let j = r.to_json();
        assert_eq!(j["ok"], false);
        assert_eq!(j["verdict"], "inconclusive");
        assert_eq!(j["unchecked"], serde_json::json!(["DP1"]));
        assert_eq!(j["rows"][2]["required"], true);
    }

    #[test]
    fn a_skip_outside_the_claimed_scope_is_ok_and_the_summary_says_so() {
        let mut r = report();
        r.rows[1].status = Status::Pass;
        r.rows[2] = r.rows[2].clone().not_required();
        r.scope = Scope::ControlPlaneOnly;
        assert_eq!(r.verdict(), Verdict::Ok);
        assert_eq!(
            r.summary(),
            "verify (control plane only: the data plane was not verified): 2 PASS, 0 FAIL, 1 SKIP: ok"
        );
        assert!(r.to_table().ends_with(&format!("{}\n", r.summary())));
        let j = r.to_json();
        assert_eq!(j["scope"], "control-plane-only");
        assert_eq!(j["verdict"], "ok");
        assert_eq!(j["rows"][2]["required"], false);
    }

    #[test]
    fn table_has_every_row_and_a_summary() {
        let t = report().to_table();
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("ID "));
        assert!(lines[1].starts_with("AC1  PASS"), "{t}");
        assert!(lines[2].starts_with("AC8  FAIL") && lines[2].ends_with("0.0.0.0/0 on tcp 6379"));
        assert!(lines[3].trim_start().starts_with("second line"));
        assert!(lines[4].starts_with("DP1  SKIP"));
        assert_eq!(
            *lines.last().unwrap(),
            "verify: 1 PASS, 1 FAIL, 1 SKIP: NOT OK"
        );
    }

    #[test]
    fn json_shape() {
        let mut r = report();
        r.drill = Some(DrillResult {
            recovery_secs: 3.5,
            acknowledged_writes: 70,
            lost_writes: 0,
            method: "m".into(),
            node_group: "0001".into(),
            old_primary: "a".into(),
            new_primary: "b".into(),
            other_shard_outage_secs: Some(1.5),
        });
        let j = r.to_json();
        assert_eq!(j["ok"], false);
        assert_eq!(j["summary"]["fail"], 1);
        assert_eq!(j["rows"][1]["status"], "FAIL");
        assert_eq!(j["rows"][1]["id"], "AC8");
        assert_eq!(j["drill"]["acknowledged_writes"], 70);
        assert_eq!(j["drill"]["other_shard_outage_secs"], 1.5);
        assert!(r
            .to_table()
            .contains("recovered in 3.50 s; 70 acknowledged writes, 0 lost; primary a -> b; another shard refused writes for 1.50 s"));
    }
}
