//! `--program`: stacks written in Rust, run by the CLI. Prebuilt programs
//! (shell scripts speaking the protocol) test the CLI side quickly; the
//! Redis program is built with cargo and previewed against the YAML stack.

use super::common::{network_stand_in, Sandbox};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// A template and an environment file for it, in the sandbox.
fn env_file(sb: &Sandbox) -> PathBuf {
    let dir = sb.dir.path();
    std::fs::write(
        dir.join("demo.template.yaml"),
        "name: demo\nconfig:\n  greeting:\n    type: string\n  token:\n    type: string\n    secret: true\n    default: none\nresources:\n  first:\n    type: core:Data\n    properties:\n      input: ${greeting}\n",
    )
    .unwrap();
    let env = dir.join("demo.yaml");
    std::fs::write(
        &env,
        "name: demo-dev\ntemplate: demo.template.yaml\nconfig:\n  greeting: hello\n",
    )
    .unwrap();
    env
}

/// A shell-script program in the sandbox: records its stdin, argv and
/// environment under `dump`, then prints `stdout` (or runs `body`).
fn script(sb: &Sandbox, name: &str, body: &str) -> String {
    let path = sb.dir.path().join(name);
    let dump = sb.dir.path().join(format!("{name}.dump"));
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\ncat > '{d}.stdin'\necho \"$0 $*\" > '{d}.argv'\nenv > '{d}.env'\n{body}\n",
            d = dump.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

/// The protocol's answer for a two-resource core:Data stack.
const DATA_STACK: &str = r#"{"protocol":1,"spec":{"name":"ignored","resources":[
{"name":"first","typeToken":"core:Data","properties":{"input":{"t":"String","v":"hello"}},"options":{}},
{"name":"second","typeToken":"core:Data","properties":{"input":{"t":"String","v":"${first.output}!"}},"options":{"protect":false}}],
"outputs":{"message":{"t":"String","v":"${second.output}"}}}}"#;

fn print(json: &str) -> String {
    format!("cat <<'EOF'\n{json}\nEOF")
}

#[test]
fn a_program_previews_applies_and_destroys_like_a_yaml_stack() {
    let sb = Sandbox::new();
    let env = env_file(&sb).display().to_string();
    let prog = script(&sb, "data-program", &print(DATA_STACK));
    let run = |verb: &[&str]| {
        let mut args = verb.to_vec();
        args.extend(["--stack-file", &env, "--program", &prog]);
        sb.run(&args)
    };
    let preview = run(&["preview"]).ok();
    assert!(
        preview.stdout.contains("+ first (core:Data) create")
            && preview.stdout.contains("+ second (core:Data) create"),
        "{}",
        preview.stdout
    );
    run(&["up", "--yes"]).ok();
    let again = run(&["up", "--yes"]).ok();
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    // State is the environment file's stack, whatever the program named it.
    let out = sb
        .run(&[
            "stack",
            "output",
            "--json",
            "--stack-file",
            &env,
            "--program",
            &prog,
        ])
        .ok();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json outputs");
    assert_eq!(json["message"], "hello!");
    assert!(
        sb.state_dir().join("demo-dev").exists(),
        "state under the stack's name"
    );
    run(&["destroy", "--yes"]).ok();
    let list = run(&["state", "list"]).ok();
    assert_eq!(list.stdout.trim(), "", "destroy leaves nothing");
}

#[test]
fn a_program_gets_its_config_on_stdin_and_secrets_never_in_argv_or_env() {
    let sb = Sandbox::new();
    let env = env_file(&sb).display().to_string();
    let secret = "s3cr3t-program-token";
    sb.run(&[
        "config",
        "set",
        "token",
        secret,
        "--secret",
        "--stack-file",
        &env,
    ])
    .ok();
    let prog = script(&sb, "config-program", &print(DATA_STACK));
    sb.run(&[
        "preview",
        "--stack-file",
        &env,
        "--program",
        &prog,
        "--config",
        "extra=7",
    ])
    .ok();
    let dump = |what: &str| {
        std::fs::read_to_string(sb.dir.path().join(format!("config-program.dump.{what}")))
            .unwrap_or_else(|e| panic!("the program recorded its {what}: {e}"))
    };
    let input: serde_json::Value = serde_json::from_str(&dump("stdin")).expect("JSON on stdin");
    assert_eq!(input["protocol"], 1);
    assert_eq!(input["stack"], "demo-dev");
    assert_eq!(input["project"], "config-program");
    assert_eq!(
        input["config"]["greeting"],
        serde_json::json!({"t":"String","v":"hello"})
    );
    assert_eq!(
        input["config"]["extra"],
        serde_json::json!({"t":"Int","v":7})
    );
    assert_eq!(
        input["config"]["token"],
        serde_json::json!({"t":"Secret","v":{"t":"String","v":secret}}),
        "the secret arrives decrypted, and marked secret"
    );
    for what in ["argv", "env"] {
        assert!(
            !dump(what).contains(secret),
            "the secret is in the program's {what}"
        );
    }
}

/// `--program` in a Pulumi project's directory: the program replaces the
/// project's YAML and gets the stack's config un-namespaced, as a
/// `runtime: rust` project's program does (not `demo:greeting` verbatim).
#[test]
fn a_program_run_in_a_pulumi_project_gets_its_config_un_namespaced() {
    let sb = Sandbox::new();
    let dir = sb.dir.path().join("proj");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("Pulumi.yaml"),
        "name: demo\nruntime: yaml\nresources: {}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("Pulumi.dev.yaml"),
        "config:\n  demo:greeting: hello\n  plain: 3\n  aws:region: eu-west-1\n",
    )
    .unwrap();
    let prog = script(&sb, "project-program", &print(DATA_STACK));
    let dir = dir.display().to_string();
    sb.run(&["preview", "-C", &dir, "--stack", "dev", "--program", &prog])
        .ok();
    let stdin = std::fs::read_to_string(sb.dir.path().join("project-program.dump.stdin"))
        .expect("the program recorded its stdin");
    let input: serde_json::Value = serde_json::from_str(&stdin).expect("JSON on stdin");
    assert_eq!(input["stack"], "dev", "{input}");
    assert_eq!(input["project"], "demo", "the project's name: {input}");
    let keys: Vec<&String> = input["config"]
        .as_object()
        .expect("config")
        .keys()
        .collect();
    assert_eq!(keys, ["greeting", "plain"], "{input}");
}

#[test]
fn a_program_that_fails_or_prints_garbage_is_a_diagnostic_naming_it() {
    let sb = Sandbox::new();
    let env = env_file(&sb).display().to_string();
    let cases = [
        (
            "panicking-program",
            "echo \"thread 'main' panicked at src/main.rs:1:1\" >&2; exit 101",
            "cairn::program::failed",
            "program `panicking-program` failed (exit status: 101)",
        ),
        (
            "garbage-program",
            "echo 'hello, I am not JSON'",
            "cairn::program::bad_output",
            "program `garbage-program` printed something that is not a stack",
        ),
        (
            "old-program",
            &print(&DATA_STACK.replace("\"protocol\":1", "\"protocol\":99")),
            "cairn::program::bad_output",
            "it speaks protocol 99",
        ),
    ];
    for (name, body, code, message) in cases {
        let prog = script(&sb, name, body);
        let run = sb.run(&["preview", "--stack-file", &env, "--program", &prog]);
        assert_eq!(run.code, Some(2), "{name}: {}", run.all());
        assert!(run.stderr.contains(code), "{name}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{name}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{name}: no plan: {}", run.stdout);
    }
}

#[test]
fn an_unknown_program_is_a_diagnostic_listing_the_workspace_programs() {
    let sb = Sandbox::new();
    let env = env_file(&sb).display().to_string();
    let run = sb.run(&["preview", "--stack-file", &env, "--program", "redis-cach"]);
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stderr.contains("cairn::program::not_found"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("no program `redis-cach`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean `redis-cache`"),
        "{}",
        run.stderr
    );
    let missing = sb.run(&[
        "preview",
        "--stack-file",
        &env,
        "--program",
        "./no/such/file",
    ]);
    assert_eq!(missing.code, Some(2), "{}", missing.all());
    assert!(
        missing.stderr.contains("is not a file"),
        "{}",
        missing.stderr
    );
}

/// The Redis layer written in Rust (`crates/cairn-stacks`, bin
/// `redis-cache`) plans exactly what the YAML
/// template plans, from the same environment file, in every environment.
#[test]
fn the_redis_program_previews_the_same_plan_as_the_yaml_stack_in_every_environment() {
    let sb = Sandbox::new();
    // Each run builds (a no-op after the first) and runs the program: prod's
    // text plan by default, every environment and format in the slow tier.
    let slow = matches!(
        std::env::var("CAIRN_SLOW_TESTS").as_deref(),
        Ok("1") | Ok("true") | Ok("yes")
    );
    let (envs, formats): (&[&str], &[&str]) = if slow {
        (&["dev", "staging", "prod"], &["text", "json"])
    } else {
        (&["prod"], &["text"])
    };
    let program = redis_program();
    for &env in envs {
        network_stand_in(&sb, env);
        for &format in formats {
            let yaml = sb
                .run(&["preview", "--stack", env, "--format", format])
                .ok();
            let rust = sb
                .run(&[
                    "preview",
                    "--stack",
                    env,
                    "--format",
                    format,
                    "--program",
                    &program,
                ])
                .ok();
            assert!(
                yaml.stdout.contains("aws:elasticache:ReplicationGroup"),
                "{env}: {}",
                yaml.stdout
            );
            // A Rust program has no YAML source: its warnings carry no
            // `location`. Everything else is the same.
            let (rust_plan, yaml_plan) = if format == "json" {
                (
                    without_locations(&rust.stdout),
                    without_locations(&yaml.stdout),
                )
            } else {
                (rust.stdout.clone(), yaml.stdout.clone())
            };
            assert_eq!(rust_plan, yaml_plan, "{env} ({format}): the plans differ");
        }
    }
}

/// The Redis program. `cargo nextest run --workspace` builds it beside
/// `cairn` (for cairn-stacks' own tests), with the workspace's features: run
/// that one, since `cargo build -p cairn-stacks` would compile the SDKs
/// again with that package's features. Alone (`-p cairn-cli`), build it by
/// name.
fn redis_program() -> String {
    let built = std::path::Path::new(env!("CARGO_BIN_EXE_cairn")).with_file_name("redis-cache");
    if built.is_file() {
        built.display().to_string()
    } else {
        "redis-cache".to_string()
    }
}

/// The built Redis program, or a failure saying how to build it (a test
/// must not `cargo build` it: that recompiles the AWS SDKs).
#[track_caller]
fn built_redis_program() -> String {
    let program = redis_program();
    assert!(
        program.contains('/'),
        "the redis-cache binary is not built beside cairn: run the workspace's tests (`cargo nextest run --workspace`) or `cargo build --bin redis-cache` first"
    );
    program
}

/// A `runtime: rust` Pulumi project naming the Redis program previews what
/// `--program` previews from the environment file, with the same config
/// written Pulumi's way (`Pulumi.<stack>.yaml`, keys `<project>:key`).
#[test]
fn a_runtime_rust_project_previews_the_same_plan_as_its_program() {
    let sb = Sandbox::new();
    network_stand_in(&sb, "prod");
    let program = built_redis_program();
    let dir = sb.dir.path().join("redis-project");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("Pulumi.yaml"),
        format!("name: redis-cache\nruntime:\n  name: rust\n  options:\n    binary: {program}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("Pulumi.redis-prod.yaml"),
        "config:\n  redis-cache:environment: prod\n  redis-cache:nodeType: cache.r5.large\n  redis-cache:numNodeGroups: 2\n  redis-cache:replicasPerNodeGroup: 1\n  redis-cache:multiAzEnabled: true\n  redis-cache:snapshotRetentionLimit: 7\n  redis-cache:networkStack: network-prod\n",
    )
    .unwrap();
    let dir = dir.display().to_string();
    let project = sb
        .run(&["preview", "-C", &dir, "--stack", "redis-prod"])
        .ok();
    let program_plan = sb
        .run(&["preview", "--stack", "prod", "--program", &program])
        .ok();
    assert!(
        project.stdout.contains("aws:elasticache:ReplicationGroup"),
        "{}",
        project.stdout
    );
    assert_eq!(project.stdout, program_plan.stdout, "the plans differ");
    // The string form names the workspace's program like the project; an
    // unknown option is a diagnostic at its line.
    std::fs::write(
        std::path::Path::new(&dir).join("Pulumi.yaml"),
        "name: redis-cache\nruntime:\n  name: rust\n  options:\n    binry: x\n",
    )
    .unwrap();
    let bad = sb.run(&["preview", "-C", &dir, "--stack", "redis-prod"]);
    assert_eq!(bad.code, Some(2), "{}", bad.all());
    assert!(
        bad.stderr
            .contains("unknown option `binry` of runtime `rust`")
            && bad.stderr.contains("Pulumi.yaml:5:5"),
        "{}",
        bad.stderr
    );
}

/// `up --program redis-cache --stack prod --local` brings the Redis prod
/// stack up (its network stack first) on a private emulator; a second `up`
/// changes nothing.
#[test]
fn up_program_redis_cache_prod_local_brings_it_up_and_a_second_up_changes_nothing() {
    let program = built_redis_program();
    let port = super::common::free_port();
    let sb = Sandbox::new();
    let state = sb.dir.path().join("emulator");
    let sb = sb
        .with_env("LOCAL_AWS_PORT", &port.to_string())
        .with_env("CAIRN_EMULATOR_STATE", &state.display().to_string())
        .with_env("CAIRN_AWS_POLL_MS", "100");
    struct Stop<'a>(&'a Sandbox);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = self.0.command(&["emulator", "stop"]).output();
        }
    }
    let _stop = Stop(&sb);
    let up_with = |extra: &str| {
        sb.run(&[
            "up",
            "--local",
            "--stack",
            "prod",
            "--program",
            &program,
            extra,
        ])
    };
    let up = up_with("--yes").ok();
    assert!(
        up.stdout.contains("aws:elasticache:ReplicationGroup"),
        "{}",
        up.stdout
    );
    let out = sb
        .run(&[
            "stack",
            "output",
            "--json",
            "--local",
            "--stack",
            "prod",
            "--program",
            &program,
        ])
        .ok();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json outputs");
    assert!(
        json["connectionSecretArn"]
            .as_str()
            .is_some_and(|a| a.contains(":secret:qualisys/prod/redis/connection")),
        "{json}"
    );
    let list = sb
        .run(&[
            "state",
            "list",
            "--local",
            "--stack",
            "prod",
            "--program",
            &program,
        ])
        .ok();
    assert!(
        list.stdout
            .lines()
            .any(|l| l.contains("aws:elasticache:ReplicationGroup\tqualisys-redis-prod")),
        "{}",
        list.stdout
    );
    let again = up_with("--expect-no-changes").ok();
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
}

/// A JSON plan with every warning's `location` removed.
fn without_locations(plan: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(plan).expect("a JSON plan");
    if let Some(warnings) = v.get_mut("warnings").and_then(|w| w.as_array_mut()) {
        for w in warnings {
            if let Some(w) = w.as_object_mut() {
                w.remove("location");
            }
        }
    }
    serde_json::to_string_pretty(&v).expect("JSON")
}

/// A program (Python, speaking the protocol) that asks for
/// `aws:iam:getPolicyDocument` (rendered here, no network call), then
/// builds a stack from its answer; with `loop_forever` it asks again
/// whatever the answer.
fn invoking_program(sb: &Sandbox, name: &str, loop_forever: bool) -> String {
    let path = sb.dir.path().join(name);
    let body = format!(
        r#"#!/usr/bin/env python3
import json, sys
inp = json.load(sys.stdin)
answers = inp.get("invoked", [])
S = lambda v: {{"t": "String", "v": v}}
L = lambda *v: {{"t": "List", "v": list(v)}}
call = {{"token": "aws:iam:getPolicyDocument", "args": {{"statements": L(
    {{"t": "Map", "v": {{"actions": L(S("s3:GetObject")), "resources": L(S("*"))}}}})}}}}
if {loop_forever} or not answers:
    print(json.dumps({{"protocol": 1, "spec": {{"name": "x", "resources": [], "outputs": {{}}}}, "needs": [call]}}))
else:
    doc = answers[0]["result"]["Ok"]["json"]["v"]
    print(json.dumps({{"protocol": 1, "spec": {{"name": "x", "resources": [
        {{"name": "first", "typeToken": "core:Data", "properties": {{"input": S(doc)}}, "options": {{}}}}],
        "outputs": {{"policy": S("${{first.output}}")}}}}}}))
"#,
        loop_forever = if loop_forever { "True" } else { "False" }
    );
    std::fs::write(&path, body).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

#[test]
fn a_program_that_invokes_a_data_source_gets_its_answer_and_builds_with_it() {
    let sb = Sandbox::new();
    let env = env_file(&sb).display().to_string();
    let prog = invoking_program(&sb, "invoking-program", false);
    sb.run(&["up", "--yes", "--stack-file", &env, "--program", &prog])
        .ok();
    let out = sb
        .run(&[
            "stack",
            "output",
            "--json",
            "--stack-file",
            &env,
            "--program",
            &prog,
        ])
        .ok();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json outputs");
    let policy: serde_json::Value =
        serde_json::from_str(json["policy"].as_str().expect("policy output")).expect("policy json");
    assert_eq!(policy["Version"], "2012-10-17", "{policy}");
    assert!(
        policy["Statement"][0]["Action"]
            .to_string()
            .contains("s3:GetObject"),
        "{policy}"
    );

    // A program that asks again whatever it is told is stopped, named.
    let looping = invoking_program(&sb, "looping-program", true);
    let run = sb.run(&["preview", "--stack-file", &env, "--program", &looping]);
    assert_ne!(run.code, Some(0), "{}", run.all());
    assert!(
        run.stderr.contains("cairn::program::bad_output")
            && run.stderr.contains("kept asking for data sources"),
        "{}",
        run.stderr
    );
}
