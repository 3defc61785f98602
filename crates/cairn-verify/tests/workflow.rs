//! The `up` workflow claims only what its runners can check: a hosted runner
//! cannot reach the cache in private subnets, so it verifies the control
//! plane only and says so in the job summary; the full check runs on the
//! self-hosted runner inside the VPC.

use std::path::PathBuf;

fn workflow() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.github/workflows/up.yml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `(name, text)` of each job: the blocks under `jobs:` indented by two spaces.
fn jobs(text: &str) -> Vec<(String, String)> {
    let body = text
        .split_once("\njobs:\n")
        .map(|(_, b)| b)
        .expect("a jobs: section");
    let mut out: Vec<(String, String)> = Vec::new();
    for line in body.lines() {
        let is_job = line.starts_with("  ")
            && !line.starts_with("   ")
            && line.trim_end().ends_with(':')
            && !line.trim_start().starts_with('#');
        if is_job {
            out.push((line.trim().trim_end_matches(':').to_string(), String::new()));
        } else if let Some((_, block)) = out.last_mut() {
            block.push_str(line);
            block.push('\n');
        }
    }
    out
}

fn verify_lines(block: &str) -> Vec<&str> {
    block
        .lines()
        .filter(|l| l.contains("xtask verify") && !l.trim_start().starts_with('#'))
        .collect()
}

#[test]
fn a_hosted_runner_verifies_the_control_plane_only_and_says_so() {
    let text = workflow();
    let jobs = jobs(&text);
    let hosted: Vec<&(String, String)> = jobs
        .iter()
        .filter(|(_, b)| b.contains("runs-on: ubuntu-") && !verify_lines(b).is_empty())
        .collect();
    assert!(!hosted.is_empty(), "no hosted job runs verify: {jobs:?}");
    for (name, block) in hosted {
        for line in verify_lines(block) {
            assert!(
                line.contains("--control-plane-only"),
                "job `{name}` runs verify on a hosted runner without --control-plane-only: {line}"
            );
        }
        assert!(
            block.contains("GITHUB_STEP_SUMMARY") && block.contains("**not** verified"),
            "job `{name}` does not say in its summary that the data plane was not verified"
        );
    }
}

#[test]
fn the_data_plane_is_verified_on_the_documented_vpc_runner() {
    let text = workflow();
    let jobs = jobs(&text);
    let (name, block) = jobs
        .iter()
        .find(|(_, b)| {
            verify_lines(b)
                .iter()
                .any(|l| !l.contains("--control-plane-only"))
        })
        .expect("a job that verifies the data plane");
    assert!(
        !block.contains("runs-on: ubuntu-"),
        "job `{name}` verifies the data plane from a hosted runner"
    );
    assert!(
        text.contains(r#"["self-hosted","cairn-vpc"]"#),
        "the runner label is not in the workflow"
    );
    let header: String = text.lines().take_while(|l| l.starts_with('#')).collect();
    assert!(
        header.contains("cairn-vpc") && header.contains("CAIRN_DATA_PLANE_RUNNER"),
        "the header does not document the runner label and the opt-in"
    );
}
