//! `cairn config set|get|rm` on an environment file: a `--secret` value is
//! only ciphertext in the file (`secure: v1:…`), never printed, and every
//! run decrypts it with the stack's key and treats it as a secret; a wrong
//! key is a clear diagnostic.

use super::common::Sandbox;

const TEMPLATE: &str = "\
name: cfg-template
config:
  password: { type: string }
  count: { type: integer, default: 1 }
resources:
  holder:
    type: core:Data
    properties:
      input: ${password}
  counter:
    type: core:Data
    properties:
      input: ${count}
outputs:
  shown: ${holder.output}
  counted: ${counter.output}
";

const ENV: &str = "\
# The stack's environment (comments stay).
name: cfg-dev
template: cfg.template.yaml
config:
  count: 2 # two
";

const PLAIN: &str = "hunter2-not-in-the-file";

fn setup() -> (Sandbox, String) {
    let sb = Sandbox::new();
    let dir = sb.dir.path().join("stacks");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("cfg.template.yaml"), TEMPLATE).expect("template");
    std::fs::write(dir.join("cfg-dev.yaml"), ENV).expect("env");
    let file = dir.join("cfg-dev.yaml").display().to_string();
    (sb, file)
}

#[test]
fn a_secret_is_only_ciphertext_in_the_file_and_runs_use_it_masked() {
    let (sb, file) = setup();
    let set = sb
        .run(&[
            "config",
            "set",
            "password",
            PLAIN,
            "--secret",
            "--stack-file",
            &file,
        ])
        .ok();
    assert!(!set.all().contains(PLAIN), "{}", set.all());
    let text = std::fs::read_to_string(&file).expect("env file");
    assert!(!text.contains(PLAIN), "plaintext in the file:\n{text}");
    assert!(text.contains("  password:\n    secure: v1:"), "{text}");
    assert!(
        text.contains("# The stack's environment (comments stay)."),
        "{text}"
    );
    assert!(text.contains("  count: 2 # two\n"), "{text}");

    let get = sb
        .run(&["config", "get", "password", "--stack-file", &file])
        .ok();
    assert_eq!(get.stdout, "[secret]\n");
    let shown = sb
        .run(&[
            "config",
            "get",
            "password",
            "--show-secrets",
            "--stack-file",
            &file,
        ])
        .ok();
    assert_eq!(shown.stdout, format!("{PLAIN}\n"));

    let preview = sb.run(&["preview", "--stack-file", &file]).ok();
    assert!(!preview.all().contains(PLAIN), "{}", preview.all());
    assert!(preview.stdout.contains("[secret]"), "{}", preview.stdout);
    let up = sb.run(&["up", "--yes", "--stack-file", &file]).ok();
    assert!(!up.all().contains(PLAIN), "{}", up.all());
    let out = sb
        .run(&["stack", "output", "shown", "--stack-file", &file])
        .ok();
    assert_eq!(out.stdout, "[secret]\n");
    let out = sb
        .run(&[
            "stack",
            "output",
            "shown",
            "--show-secrets",
            "--stack-file",
            &file,
        ])
        .ok();
    assert_eq!(
        out.stdout,
        format!("{PLAIN}\n"),
        "the run did not use the decrypted value"
    );

    // Another passphrase: a clear diagnostic naming the key, no plaintext.
    let wrong = sb
        .command(&["preview", "--stack-file", &file])
        .env("STACK_PASSPHRASE", "another-passphrase")
        .output()
        .expect("run cairn");
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert_eq!(wrong.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cairn::config::secret_key"), "{stderr}");
    assert!(
        stderr.contains("cannot decrypt config `password`"),
        "{stderr}"
    );
    assert!(stderr.contains("$STACK_PASSPHRASE"), "{stderr}");
}

#[test]
fn plain_values_are_checked_against_the_declaration_before_writing() {
    let (sb, file) = setup();
    sb.run(&["config", "set", "password", "x", "--stack-file", &file])
        .ok();
    sb.run(&["config", "set", "count", "3", "--stack-file", &file])
        .ok();
    let text = std::fs::read_to_string(&file).expect("env file");
    assert!(text.contains("  count: 3\n"), "{text}");
    assert!(text.contains("  password: \"x\"\n"), "{text}");
    let get = sb
        .run(&["config", "get", "count", "--stack-file", &file])
        .ok();
    assert_eq!(get.stdout, "3\n");

    let wrong_type = sb.run(&["config", "set", "count", "three", "--stack-file", &file]);
    assert_eq!(wrong_type.code, Some(2), "{}", wrong_type.all());
    assert!(
        wrong_type.stderr.contains("invalid-config"),
        "{}",
        wrong_type.stderr
    );
    let undeclared = sb.run(&["config", "set", "colour", "red", "--stack-file", &file]);
    assert_eq!(undeclared.code, Some(2), "{}", undeclared.all());
    assert!(
        undeclared.stderr.contains("unknown-config"),
        "{}",
        undeclared.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&file).expect("env file"),
        text,
        "a refused value was written"
    );

    sb.run(&["config", "rm", "count", "--stack-file", &file])
        .ok();
    let text = std::fs::read_to_string(&file).expect("env file");
    assert!(!text.contains("count"), "{text}");
    let gone = sb.run(&["config", "get", "count", "--stack-file", &file]);
    assert_eq!(gone.code, Some(2), "{}", gone.all());
}
