//! `pulumi:pulumi:StackReference`, offline with `core:Data` stacks: another
//! stack's outputs flow in at preview, its secrets stay masked, a missing
//! stack is a diagnostic, and a changed upstream output is an update
//! downstream.

use super::common::Sandbox;
use std::path::{Path, PathBuf};

const UPSTREAM: &str = r#"name: upstream
config:
  vpcName:
    type: string
    default: vpc-0aaa
resources:
  vpc:
    type: core:Data
    properties:
      input: ${vpcName}
  token:
    type: random:Password
    properties:
      length: 24
      special: false
outputs:
  vpcId: ${vpc.output}
  subnetIds: [subnet-0a, subnet-0b]
  token: ${token.result}
"#;

const DOWNSTREAM: &str = r#"name: downstream
resources:
  network:
    type: pulumi:pulumi:StackReference
    properties:
      name: upstream
  cache:
    type: core:Data
    properties:
      input:
        vpc: ${network.outputs.vpcId}
        firstSubnet: ${network.outputs.subnetIds[0]}
        quoted: ${network.outputs["vpcId"]}
  credentials:
    type: core:Data
    properties:
      input: ${network.outputs.token}
outputs:
  vpc: ${cache.output.vpc}
  secretNames: ${network.secretOutputNames}
"#;

struct Stacks {
    sb: Sandbox,
    up: PathBuf,
    down: PathBuf,
}

fn stacks() -> Stacks {
    let sb = Sandbox::new();
    let up = sb.dir.path().join("upstream.yaml");
    let down = sb.dir.path().join("downstream.yaml");
    std::fs::write(&up, UPSTREAM).unwrap();
    std::fs::write(&down, DOWNSTREAM).unwrap();
    Stacks { sb, up, down }
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

impl Stacks {
    fn upstream_up(&self, vpc: &str) {
        self.sb
            .run(&[
                "up",
                "--yes",
                "--stack-file",
                p(&self.up),
                "--config",
                &format!("vpcName={vpc}"),
            ])
            .ok();
    }
    fn token(&self) -> String {
        let out = self
            .sb
            .run(&[
                "stack",
                "output",
                "--stack-file",
                p(&self.up),
                "token",
                "--show-secrets",
            ])
            .ok();
        let token = out.stdout.trim().to_string();
        assert_eq!(token.len(), 24, "the upstream token: {}", out.stdout);
        token
    }
}

#[test]
fn outputs_flow_into_the_plan_and_secrets_stay_masked() {
    let s = stacks();
    s.upstream_up("vpc-0aaa");
    let token = s.token();

    let json =
        s.sb.run(&["preview", "--json", "--stack-file", p(&s.down)])
            .ok();
    assert!(
        !json.all().contains(&token),
        "the secret leaked:\n{}",
        json.all()
    );
    let plan: serde_json::Value = serde_json::from_str(&json.stdout).expect("plan json");
    let step = |name: &str| {
        plan["resource_changes"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["name"] == name))
            .unwrap_or_else(|| panic!("step {name} in {plan:#}"))
            .clone()
    };
    let cache = step("cache");
    assert_eq!(
        cache["after"]["input"],
        serde_json::json!({"vpc": "vpc-0aaa", "firstSubnet": "subnet-0a", "quoted": "vpc-0aaa"}),
        "known at preview: {cache:#}"
    );
    let credentials = step("credentials");
    assert_eq!(
        credentials["after"]["input"], "[secret]",
        "a secret output stays secret: {credentials:#}"
    );

    let text = s.sb.run(&["preview", "--stack-file", p(&s.down)]).ok();
    assert!(text.stdout.contains("vpc-0aaa"), "{}", text.stdout);
    assert!(!text.all().contains(&token), "{}", text.all());

    let up = s.sb.run(&["up", "--yes", "--stack-file", p(&s.down)]).ok();
    assert!(
        !up.all().contains(&token),
        "the secret leaked:\n{}",
        up.all()
    );
    let out =
        s.sb.run(&["stack", "output", "--stack-file", p(&s.down), "--json"])
            .ok();
    let outputs: serde_json::Value = serde_json::from_str(&out.stdout).expect("outputs json");
    assert_eq!(outputs["vpc"], "vpc-0aaa", "{outputs:#}");
    assert_eq!(
        outputs["secretNames"],
        serde_json::json!(["token"]),
        "{outputs:#}"
    );
    let shown =
        s.sb.run(&["state", "show", "--stack-file", p(&s.down), "credentials"])
            .ok();
    assert!(!shown.all().contains(&token), "{}", shown.all());
    // State records the reference the resources depend on.
    let list =
        s.sb.run(&["state", "list", "--stack-file", p(&s.down)])
            .ok();
    assert!(
        list.stdout
            .lines()
            .any(|l| l.starts_with("network\tpulumi:pulumi:StackReference\tupstream")),
        "{}",
        list.stdout
    );
    // The secret is encrypted at rest in the downstream state too.
    for file in super::common::files_under(&s.sb.state_dir().join("downstream")) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&token),
            "{} holds the secret in clear",
            file.display()
        );
    }
    let again = s.sb.run(&["preview", "--stack-file", p(&s.down)]).ok();
    assert!(
        again.stdout.contains("no changes") || again.stdout.contains("No changes"),
        "a second preview is empty:\n{}",
        again.stdout
    );
}

#[test]
fn a_changed_upstream_output_is_an_update_downstream() {
    let s = stacks();
    s.upstream_up("vpc-0aaa");
    s.sb.run(&["up", "--yes", "--stack-file", p(&s.down)]).ok();
    s.upstream_up("vpc-0bbb");
    let json =
        s.sb.run(&["preview", "--json", "--stack-file", p(&s.down)])
            .ok();
    let plan: serde_json::Value = serde_json::from_str(&json.stdout).expect("plan json");
    let steps = plan["resource_changes"].as_array().expect("steps");
    let cache = steps
        .iter()
        .find(|s| s["name"] == "cache")
        .unwrap_or_else(|| panic!("cache changes: {plan:#}"));
    assert!(
        cache["action"] == "replace" || cache["action"] == "update",
        "{cache:#}"
    );
    let text = serde_json::to_string(cache).unwrap();
    assert!(
        text.contains("vpc-0aaa") && text.contains("vpc-0bbb"),
        "old and new: {cache:#}"
    );
    assert!(
        steps
            .iter()
            .filter(|s| s["name"] == "credentials")
            .all(|s| s["action"] == "same"),
        "the unchanged secret is no change: {plan:#}"
    );
    s.sb.run(&["up", "--yes", "--stack-file", p(&s.down)]).ok();
    let out =
        s.sb.run(&["stack", "output", "--stack-file", p(&s.down), "vpc"])
            .ok();
    assert_eq!(out.stdout.trim(), "vpc-0bbb");
}

fn redact(text: &str, dir: &Path) -> String {
    text.replace(&dir.display().to_string(), "[TMP]")
}

#[test]
fn a_missing_or_empty_referenced_stack_is_a_diagnostic_at_preview() {
    let s = stacks();
    // No stack `upstream` yet; another stack exists, and is named in the help.
    let other = s.sb.dir.path().join("other.yaml");
    std::fs::write(
        &other,
        "name: other\nresources:\n  d:\n    type: core:Data\n    properties:\n      input: 1\noutputs:\n  x: ${d.output}\n",
    )
    .unwrap();
    s.sb.run(&["up", "--yes", "--stack-file", p(&other)]).ok();
    let run = s.sb.run(&["preview", "--stack-file", p(&s.down)]);
    assert_eq!(run.code, Some(2), "{}", run.all());
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots/preview");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        insta::assert_snapshot!(
            "stack-reference-missing",
            redact(&run.stderr, s.sb.dir.path())
        );
    });
    // `up` says the same before touching anything.
    let up = s.sb.run(&["up", "--yes", "--stack-file", p(&s.down)]);
    assert_eq!(up.code, Some(2), "{}", up.all());
    assert!(
        up.stderr.contains("cairn::stack_reference::missing"),
        "{}",
        up.stderr
    );

    // Pulumi's `organization/project/stack` form: a diagnostic at the name
    // with the stack name to write, never a read of another project's stack.
    let qualified = s.sb.dir.path().join("qualified.yaml");
    std::fs::write(
        &qualified,
        DOWNSTREAM
            .replace("name: downstream", "name: qualified")
            .replace("name: upstream", "name: acme/network/upstream"),
    )
    .unwrap();
    let run = s.sb.run(&["preview", "--stack-file", p(&qualified)]);
    assert_eq!(run.code, Some(2), "{}", run.all());
    for part in [
        "cairn::stack_reference::name",
        "qualified.yaml:6:13",
        "a qualified stack name",
        "`upstream`",
    ] {
        assert!(run.stderr.contains(part), "{part}: {}", run.stderr);
    }

    // A stack with state but no outputs (destroyed) is a diagnostic too.
    s.upstream_up("vpc-0aaa");
    s.sb.run(&["destroy", "--yes", "--stack-file", p(&s.up)])
        .ok();
    let run = s.sb.run(&["preview", "--stack-file", p(&s.down)]);
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stderr.contains("cairn::stack_reference::missing")
            && run.stderr.contains("has no outputs"),
        "{}",
        run.stderr
    );
}

#[test]
fn reading_a_stack_does_not_take_its_lock() {
    let s = stacks();
    s.upstream_up("vpc-0aaa");
    // A slow upstream run holds its writer lock while downstream previews.
    let mut slow = s.sb.command(&[
        "up",
        "--yes",
        "--stack-file",
        p(&s.up),
        "--config",
        "vpcName=vpc-0ccc",
    ]);
    slow.env("CAIRN_TEST_SLOW_MS", "2000")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = slow.spawn().expect("spawn slow up");
    let lock = s.sb.state_dir().join("upstream.lock");
    let pid = child.id();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !held(&lock, pid) {
        assert!(
            std::time::Instant::now() < deadline,
            "the slow run never took its lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let json =
        s.sb.run(&["preview", "--json", "--stack-file", p(&s.down)])
            .ok();
    assert!(json.stdout.contains("vpc-0aaa"), "{}", json.stdout);
    assert!(
        held(&lock, pid),
        "the writer still runs (the test proves nothing otherwise)"
    );
    assert!(child.wait().expect("slow up").success());
}

/// The lock file names `pid` as its holder.
fn held(lock: &Path, pid: u32) -> bool {
    std::fs::read_to_string(lock)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v["pid"] == pid)
}

#[test]
fn local_up_brings_referenced_stacks_up_first_then_reuses_them() {
    let s = stacks();
    let (sb, _port, _) = super::common::start_private_emulator(s.sb, 200);
    let up = sb
        .run(&["up", "--local", "--yes", "--stack-file", p(&s.down)])
        .ok();
    assert!(
        up.stderr.contains("local: bringing up stack `upstream` (")
            && up.stderr.contains("first: `downstream` references it"),
        "{}",
        up.stderr
    );
    let out = sb
        .run(&[
            "stack",
            "output",
            "--local",
            "--stack-file",
            p(&s.down),
            "vpc",
        ])
        .ok();
    assert_eq!(out.stdout.trim(), "vpc-0aaa");
    let again = sb
        .run(&["up", "--local", "--yes", "--stack-file", p(&s.down)])
        .ok();
    assert!(
        again.stderr.contains("local: reusing stack `upstream`"),
        "{}",
        again.stderr
    );
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
}

#[test]
fn references_read_the_s3_backend_without_its_lock() {
    let s = stacks();
    let (sb, port, _) = super::common::start_private_emulator(s.sb, 200);
    let url = "s3://cairn-refs/team?kms_key=alias/cairn-refs";
    super::common::runtime().block_on(async {
        let sdk = super::common::sdk_config(&format!("http://127.0.0.1:{port}")).await;
        super::common::make_state_bucket_and_key(&sdk, "cairn-refs", "alias/cairn-refs").await;
    });
    let with = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--local", "--backend", url]);
        sb.run(&all)
    };
    // Missing in S3: the diagnostic names the backend.
    let missing = with(&["preview", "--stack-file", p(&s.down)]);
    assert_eq!(missing.code, Some(2), "{}", missing.all());
    assert!(
        missing.stderr.contains("cairn::stack_reference::missing")
            && missing.stderr.contains("s3://cairn-"),
        "{}",
        missing.stderr
    );
    with(&[
        "up",
        "--yes",
        "--stack-file",
        p(&s.up),
        "--config",
        "vpcName=vpc-0s3",
    ])
    .ok();
    let token = with(&[
        "stack",
        "output",
        "--stack-file",
        p(&s.up),
        "token",
        "--show-secrets",
    ])
    .ok()
    .stdout
    .trim()
    .to_string();
    assert_eq!(token.len(), 24);
    let json = with(&["preview", "--json", "--stack-file", p(&s.down)]).ok();
    assert!(!json.all().contains(&token), "the secret leaked");
    let plan: serde_json::Value = serde_json::from_str(&json.stdout).expect("plan json");
    let cache = plan["resource_changes"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "cache"))
        .unwrap_or_else(|| panic!("{plan:#}"))
        .clone();
    assert_eq!(cache["after"]["input"]["vpc"], "vpc-0s3", "{cache:#}");
    with(&["up", "--yes", "--stack-file", p(&s.down)]).ok();
    // The upstream stack's lock was never taken by the reads: a writer gets it.
    with(&[
        "up",
        "--yes",
        "--stack-file",
        p(&s.up),
        "--config",
        "vpcName=vpc-0s3b",
    ])
    .ok();
    let out = with(&["preview", "--json", "--stack-file", p(&s.down)]).ok();
    assert!(out.stdout.contains("vpc-0s3b"), "{}", out.stdout);
}

#[test]
fn json_up_reads_references_and_destroy_works_once_the_upstream_is_gone() {
    let s = stacks();
    s.upstream_up("vpc-0aaa");
    let up =
        s.sb.run(&["up", "--json", "--yes", "--stack-file", p(&s.down)])
            .ok();
    assert!(up.stdout.contains("\"type\":\"summary\""), "{}", up.stdout);
    let out =
        s.sb.run(&["stack", "output", "--stack-file", p(&s.down), "vpc"])
            .ok();
    assert_eq!(out.stdout.trim(), "vpc-0aaa");
    // The upstream stack goes first; the downstream one can still be destroyed.
    s.sb.run(&["destroy", "--yes", "--stack-file", p(&s.up)])
        .ok();
    s.sb.run(&["destroy", "--yes", "--stack-file", p(&s.down)])
        .ok();
    let list =
        s.sb.run(&["state", "list", "--stack-file", p(&s.down)])
            .ok();
    assert!(list.stdout.trim().is_empty(), "{}", list.stdout);
}
