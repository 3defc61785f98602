//! Pulumi's project layout: a directory with `Pulumi.yaml` and
//! `Pulumi.<stack>.yaml`, selected with `--stack NAME` from that directory
//! (or `-C DIR`). Offline (`core:Data`).

use super::common::{Run, Sandbox};
use std::path::{Path, PathBuf};

fn project(sb: &Sandbox, dir: &str, files: &[(&str, &str)]) -> PathBuf {
    let root = sb.dir.path().join(dir);
    for (name, text) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write");
    }
    root
}

/// Runs `cairn ARGS` with `dir` as the working directory.
fn run_in(sb: &Sandbox, dir: &Path, args: &[&str]) -> Run {
    let out = sb
        .command(args)
        .current_dir(dir)
        .output()
        .expect("run cairn");
    Run::from(out)
}

const PROJECT: &str = "\
name: shop
runtime:
  name: yaml
  options: {}
description: a Pulumi project
template:
  description: what `pulumi new` asks
  config:
    greeting: { default: hi }
configuration:
  greeting: { type: string, default: hi }
  size: { type: integer, default: 1 }
resources:
  data:
    type: core:Data
    properties:
      input: ${greeting}-${size}-${pulumi.stack}-${pulumi.project}
outputs:
  said: ${data.output}
";

const DEV: &str = "\
config:
  shop:greeting: hello
  size: 3
  aws:region: eu-west-1
  other:thing: x
";

#[test]
fn project_layout_runs_a_stack_with_namespaced_config() {
    let sb = Sandbox::new();
    let dir = project(
        &sb,
        "shop",
        &[("Pulumi.yaml", PROJECT), ("Pulumi.dev.yaml", DEV)],
    );
    let preview = run_in(&sb, &dir, &["preview", "--stack", "dev"]).ok();
    assert!(
        preview.stdout.contains("data (core:Data) create"),
        "{}",
        preview.all()
    );
    // Another package's key is not read, and says so at its line.
    assert!(
        preview.stderr.contains("cairn::project::other-namespace")
            && preview.stderr.contains("Pulumi.dev.yaml:5"),
        "{}",
        preview.stderr
    );
    run_in(&sb, &dir, &["up", "--yes", "--stack", "dev"]).ok();
    // `-C DIR` from elsewhere; a stack without a settings file has no values.
    let d = dir.display().to_string();
    let said = sb
        .run(&["-C", &d, "stack", "output", "said", "--stack", "dev"])
        .ok();
    assert_eq!(said.stdout.trim(), "hello-3-dev-shop", "{}", said.all());
    sb.run(&["-C", &d, "up", "--yes", "--stack", "test"]).ok();
    let said = sb
        .run(&["--cwd", &d, "stack", "output", "said", "--stack", "test"])
        .ok();
    assert_eq!(said.stdout.trim(), "hi-1-test-shop", "{}", said.all());
}

#[test]
fn project_main_names_the_program_directory() {
    let sb = Sandbox::new();
    let dir = project(
        &sb,
        "p",
        &[
            ("Pulumi.yaml", "name: split\nruntime: yaml\nmain: infra/\n"),
            (
                "infra/Main.yaml",
                "config:\n  n: { type: integer }\nresources:\n  d:\n    type: core:Data\n    properties:\n      input: ${n}\noutputs:\n  n: ${d.output}\n  text: { fn::readFile: note.txt }\n",
            ),
            ("infra/note.txt", "beside Main.yaml"),
            ("Pulumi.prod.yaml", "config:\n  split:n: 7\n"),
        ],
    );
    let d = dir.display().to_string();
    sb.run(&["-C", &d, "up", "--yes", "--stack", "prod"]).ok();
    let out = sb
        .run(&["-C", &d, "stack", "output", "--json", "--stack", "prod"])
        .ok();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(json["n"], 7, "{}", out.stdout);
    assert_eq!(json["text"], "beside Main.yaml", "{}", out.stdout);
}

#[test]
fn project_diagnostics_point_at_their_lines() {
    let sb = Sandbox::new();
    // Another runtime: a diagnostic at the runtime's line.
    let dir = project(
        &sb,
        "node",
        &[("Pulumi.yaml", "name: n\nruntime: nodejs\nresources: {}\n")],
    );
    let r = run_in(&sb, &dir, &["preview", "--stack", "dev"]);
    assert_eq!(r.code, Some(2), "{}", r.all());
    assert!(
        r.stderr.contains("cairn::project::unsupported-runtime")
            && r.stderr.contains("Pulumi.yaml:2:10")
            && r.stderr.contains("runtime `nodejs` is not supported"),
        "{}",
        r.stderr
    );
    // `runtime: rust` runs the workspace program named like the project:
    // outside a workspace there is none, and the diagnostic names it.
    let dir = project(
        &sb,
        "rs",
        &[("Pulumi.yaml", "name: r\nruntime: { name: rust }\n")],
    );
    let r = run_in(&sb, &dir, &["preview", "--stack", "dev"]);
    assert_eq!(r.code, Some(2), "{}", r.all());
    assert!(
        r.stderr.contains("cairn::program::not_found") && r.stderr.contains("program `r`"),
        "{}",
        r.stderr
    );
    // A config key the program does not declare, in the stack's file.
    let dir = project(
        &sb,
        "cfg",
        &[
            ("Pulumi.yaml", PROJECT),
            ("Pulumi.dev.yaml", "config:\n  shop:greting: hello\n"),
        ],
    );
    let r = run_in(&sb, &dir, &["preview", "--stack", "dev"]);
    assert_eq!(r.code, Some(2), "{}", r.all());
    assert!(
        r.stderr.contains("cairn::config::unknown-config")
            && r.stderr.contains("Pulumi.dev.yaml:2:3")
            && r.stderr.contains("did you mean `greeting`?"),
        "{}",
        r.stderr
    );
}
