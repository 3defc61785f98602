//! Pulumi YAML's built-in functions, `${pulumi.*}` and quoted subscripts,
//! with the values `pulumi/pulumi-yaml`'s `run.go` computes (Apache-2.0;
//! Go's `strings.Split`, `encoding/base64`, `crypto/sha1`, `uniseg`).

use super::common::{codes, registry};
use cairn_config::{load_stack_layered, load_stack_layered_in, Program};
use cairn_core::diag::Problems;
use cairn_core::spec::StackSpec;
use cairn_core::value::Value;
use std::collections::BTreeMap;

/// Loads `text` as a stack that can read `files` (name → content).
fn load_files(text: &str, files: &[(&str, &[u8])]) -> Result<StackSpec, Problems> {
    let files: BTreeMap<String, Vec<u8>> = files
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_vec()))
        .collect();
    let read = move |name: &str| {
        files
            .get(name)
            .cloned()
            .ok_or_else(|| format!("no such file ({name})"))
    };
    load_stack_layered(
        "stack.yaml",
        text.as_bytes(),
        &read,
        &registry(),
        &BTreeMap::new(),
    )
    .map(|(s, _)| s)
}

/// The outputs of a stack of built-in calls.
fn outputs(body: &str) -> BTreeMap<String, Value> {
    let text = format!("name: fns\nresources: {{}}\n{body}");
    match load_files(
        &text,
        &[("hello.txt", b"hello\n"), ("bin.dat", &[0, 159, 146, 150])],
    ) {
        Ok(spec) => spec.outputs.into_iter().collect(),
        Err(p) => panic!("{:#?}", p.problems),
    }
}

fn out(v: impl Into<Value>) -> Value {
    v.into()
}

#[test]
fn select_split_length_as_pulumi_yaml_computes_them() {
    let o = outputs(
        r#"config:
  zones: { default: [a, b, c] }
  pass: { type: string, secret: true, default: "x,y" }
variables:
  csv: "10.0.0.0/24,10.0.1.0/24"
outputs:
  second: { fn::select: [1, "${zones}"] }
  parts: { fn::split: [",", "${csv}"] }
  chars: { fn::split: ["", "héllo"] }
  emptyBoth: { fn::split: ["", ""] }
  emptySource: { fn::split: [",", ""] }
  lenList: { fn::length: "${zones}" }
  lenMap: { fn::length: { a: 1, b: 2 } }
  lenString: { fn::length: "héllo" }
  lenGraphemes: { fn::length: "e\u0301🇫🇷👍🏽" }
  secretParts: { fn::split: [",", "${pass}"] }
  secretLength: { fn::length: "${pass}" }
  nested: { fn::select: [0, { fn::split: ["/", "a/b"] }] }
  dollar: { fn::split: [",", "$$a,b"] }
"#,
    );
    assert_eq!(o["second"], out("b"));
    assert_eq!(o["parts"], out(vec!["10.0.0.0/24", "10.0.1.0/24"]));
    assert_eq!(o["chars"], out(vec!["h", "é", "l", "l", "o"]));
    assert_eq!(o["emptyBoth"], Value::List(vec![]));
    assert_eq!(o["emptySource"], out(vec![""]));
    assert_eq!(o["lenList"], out(3i64));
    assert_eq!(o["lenMap"], out(2i64));
    assert_eq!(o["lenString"], out(5i64));
    assert_eq!(
        o["lenGraphemes"],
        out(3i64),
        "uniseg counts grapheme clusters"
    );
    assert_eq!(o["secretParts"], Value::secret(out(vec!["x", "y"])));
    assert_eq!(o["secretLength"], Value::secret(out(3i64)));
    assert_eq!(o["nested"], out("a"));
    // Template form: a literal `$` stays escaped for the planner.
    assert_eq!(o["dollar"], out(vec!["$$a", "b"]));
}

#[test]
fn select_from_a_list_holding_a_secret_is_secret_as_pulumi_lifts_it() {
    let o = outputs(
        r#"config:
  pass: { type: string, secret: true, default: "s3cret" }
outputs:
  first: { fn::select: [0, [plain, "${pass}"]] }
  second: { fn::select: [1, [plain, "${pass}"]] }
"#,
    );
    assert_eq!(o["first"], Value::secret(out("plain")));
    assert_eq!(o["second"], Value::secret(out("s3cret")));
}

#[test]
fn base64_sha1_unsecret_and_files() {
    let o = outputs(
        r#"config:
  pass: { type: string, secret: true, default: "hunter2" }
outputs:
  b64: { fn::toBase64: "hello world" }
  back: { fn::fromBase64: "aGVsbG8gd29ybGQ=" }
  sha: { fn::sha1: "hello world" }
  secretB64: { fn::toBase64: "${pass}" }
  revealed: { fn::unsecret: "${pass}" }
  text: { fn::readFile: hello.txt }
  fileB64: { fn::filebase64: bin.dat }
  fileSha: { fn::filebase64sha256: hello.txt }
"#,
    );
    assert_eq!(o["b64"], out("aGVsbG8gd29ybGQ="));
    assert_eq!(o["back"], out("hello world"));
    assert_eq!(o["sha"], out("2aae6c35c94fcfb415dbe95f408b9ce91ee846ed"));
    assert_eq!(o["secretB64"], Value::secret(out("aHVudGVyMg==")));
    assert_eq!(o["revealed"], out("hunter2"));
    assert_eq!(o["text"], out("hello\n"));
    assert_eq!(o["fileB64"], out("AJ+Slg=="));
    // base64(sha256("hello\n"))
    assert_eq!(
        o["fileSha"],
        out("WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoai6Eb2vgM=")
    );
}

#[test]
fn assets_and_archives_carry_pulumis_signature() {
    let o = outputs(
        r#"outputs:
  s: { fn::stringAsset: "<h1>hi</h1>" }
  f: { fn::fileAsset: hello.txt }
  a: { fn::fileArchive: ./site }
  aa:
    fn::assetArchive:
      index.html: { fn::stringAsset: "<h1>hi</h1>" }
      sub: { fn::fileArchive: ./site }
"#,
    );
    let sig = |kind: &str, field: &str, v: &str| {
        let mut m = BTreeMap::new();
        m.insert(cairn_config::SIG_KEY.to_string(), out(kind));
        m.insert(field.to_string(), out(v));
        Value::Map(m)
    };
    let hashed = |kind: &str, field: &str, v: &str, hash: &str| {
        let mut m = sig(kind, field, v);
        if let Value::Map(m) = &mut m {
            m.insert("hash".into(), out(hash));
        }
        m
    };
    // sha256("<h1>hi</h1>") and sha256("hello\n"), hex.
    assert_eq!(
        o["s"],
        hashed(
            cairn_config::ASSET_SIG,
            "text",
            "<h1>hi</h1>",
            "e7fbb6fbbf4ce294913eb62b53ff03a7546649cfdc0d824d9e3a2b4541502f7f"
        )
    );
    assert_eq!(
        o["f"],
        hashed(
            cairn_config::ASSET_SIG,
            "path",
            "hello.txt",
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
        )
    );
    assert_eq!(o["a"], sig(cairn_config::ARCHIVE_SIG, "path", "./site"));
    let aa = o["aa"].as_map().unwrap();
    assert_eq!(aa[cairn_config::SIG_KEY], out(cairn_config::ARCHIVE_SIG));
    assert_eq!(
        aa["assets"].as_map().unwrap()["sub"],
        sig(cairn_config::ARCHIVE_SIG, "path", "./site")
    );
}

#[test]
fn function_names_are_not_case_sensitive_as_in_pulumi_yaml() {
    let o = outputs("outputs:\n  x: { fn::TOBASE64: a }\n  y: { fn::tojson: [1] }\n");
    assert_eq!(o["x"], out("YQ=="));
    assert_eq!(o["y"], out("[1]"));
}

#[test]
fn pulumi_stack_project_and_organization() {
    let template = "name: proj\nresources: {}\noutputs:\n  s: ${pulumi.stack}\n  p: ${pulumi.project}\n  o: ${pulumi.organization}\n  q: ${pulumi[\"stack\"]}\n";
    let env = "name: proj-dev\ntemplate: proj.yaml\n";
    let read = |name: &str| match name {
        "proj.yaml" => Ok(template.as_bytes().to_vec()),
        other => Err(format!("no {other}")),
    };
    let (spec, _) = load_stack_layered(
        "dev.yaml",
        env.as_bytes(),
        &read,
        &registry(),
        &BTreeMap::new(),
    )
    .unwrap();
    assert_eq!(spec.outputs["s"], out("proj-dev"));
    assert_eq!(spec.outputs["p"], out("proj"));
    assert_eq!(spec.outputs["o"], out("organization"));
    assert_eq!(spec.outputs["q"], out("proj-dev"));
    // A single file is its own project and stack; a caller may say otherwise.
    let program = Program {
        stack: Some("prod".into()),
        organization: Some("acme".into()),
        ..Program::default()
    };
    let (spec, _) = load_stack_layered_in(
        "proj.yaml",
        template.as_bytes(),
        &read,
        &registry(),
        &BTreeMap::new(),
        &program,
    )
    .unwrap();
    assert_eq!(spec.outputs["s"], out("prod"));
    assert_eq!(spec.outputs["p"], out("proj"));
    assert_eq!(spec.outputs["o"], out("acme"));
}

#[test]
fn quoted_subscripts_on_config_and_dotted_resource_names() {
    let text = r#"name: q
config:
  labels: { default: { "app.kubernetes.io/name": web } }
resources:
  my.data:
    type: core:Data
    properties:
      input: ${labels["app.kubernetes.io/name"]}
  other:
    type: core:Data
    properties:
      input: ${["my.data"].output}
    options:
      dependsOn: ["${[\"my.data\"]}"]
outputs:
  id: ${["my.data"].id}
"#;
    let spec = load_files(text, &[]).unwrap();
    assert_eq!(spec.resources[0].properties["input"], out("web"));
    assert_eq!(
        spec.resources[1].properties["input"],
        out(r#"${["my.data"].output}"#)
    );
    assert_eq!(
        spec.resources[1].options.depends_on,
        vec!["my.data".to_string()]
    );
}

#[test]
fn resource_id_urn_and_inputs_are_valid_references() {
    let text = r#"name: r
resources:
  a:
    type: test:Thing
    properties: { size: 2 }
  b:
    type: core:Data
    properties:
      input: ["${a.id}", "${a.urn}", "${a}", "${a.size}"]
"#;
    assert!(load_files(text, &[]).is_ok());
}

/// Every misuse is a diagnostic with its code at the argument.
#[test]
fn misuse_is_a_diagnostic_at_the_argument() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "{ fn::select: [0] }",
            "cairn::config::function-argument",
            "[0]",
        ),
        (
            "{ fn::select: [3, [a, b]] }",
            "cairn::config::function-argument",
            "3",
        ),
        (
            "{ fn::select: [-1, [a, b]] }",
            "cairn::config::function-argument",
            "-1",
        ),
        (
            "{ fn::select: [x, [a, b]] }",
            "cairn::config::function-argument",
            "x",
        ),
        (
            "{ fn::select: [0, { a: 1 }] }",
            "cairn::config::function-argument",
            "{ a: 1 }",
        ),
        (
            "{ fn::split: [\",\", [a]] }",
            "cairn::config::function-argument",
            "[a]",
        ),
        ("{ fn::length: 3 }", "cairn::config::function-argument", "3"),
        (
            "{ fn::fromBase64: \"not base64!\" }",
            "cairn::config::function-argument",
            "\"not base64!\"",
        ),
        (
            "{ fn::fromBase64: \"/w==\" }",
            "cairn::config::function-argument",
            "\"/w==\"",
        ),
        (
            "{ fn::readFile: missing.txt }",
            "cairn::config::file-unreadable",
            "missing.txt",
        ),
        (
            "{ fn::fileAsset: missing.txt }",
            "cairn::config::file-unreadable",
            "missing.txt",
        ),
        (
            "{ fn::toBase64: \"${t.arn}\" }",
            "cairn::config::function-of-output",
            "\"${t.arn}\"",
        ),
        (
            "{ fn::assetArchive: { a: plain } }",
            "cairn::config::function-argument",
            "plain",
        ),
        (
            "{ fn::sha1: [a] }",
            "cairn::config::function-argument",
            "[a]",
        ),
    ];
    for (expr, code, at) in cases {
        let text = format!(
            "name: m\nresources:\n  t:\n    type: test:Thing\n    properties: {{ size: 2 }}\noutputs:\n  x: {expr}\n"
        );
        let p = match load_files(&text, &[]) {
            Ok(_) => panic!("{expr} should fail"),
            Err(p) => p,
        };
        assert_eq!(codes(&p), vec![*code], "{expr}");
        let span = p.problems[0].span.expect("a span");
        assert_eq!(
            text[span.offset..span.offset + span.len].trim_end(),
            *at,
            "{expr}"
        );
        assert!(p.problems[0].help.is_some(), "{expr} has a help line");
    }
}

#[test]
fn select_on_a_whole_list_output_selects_at_apply() {
    let text = r#"name: s
resources:
  d:
    type: core:Data
    properties: { input: [a, b] }
outputs:
  second: { fn::select: [1, "${d.output}"] }
"#;
    let spec = load_files(text, &[]).unwrap();
    assert_eq!(spec.outputs["second"], out("${d.output[1]}"));
}

#[test]
fn an_asset_where_a_string_is_expected_is_a_diagnostic() {
    let text = "name: a\nresources:\n  t:\n    type: test:Thing\n    properties:\n      size: 2\n      name: { fn::stringAsset: hello }\n";
    let p = match load_files(text, &[]) {
        Ok(_) => panic!("an asset is not a string"),
        Err(p) => p,
    };
    let message = &p.problems[0].message;
    assert!(message.contains("an asset or archive"), "{message}");
    let span = p.problems[0].span.expect("a span");
    assert_eq!(
        text[span.offset..span.offset + span.len].trim_end(),
        "{ fn::stringAsset: hello }"
    );
}

#[test]
fn join_takes_only_strings_and_a_null_delimiter_as_pulumi_yaml_does() {
    // `evaluateBuiltinJoin`: a nil delimiter is "", a secret item makes the
    // result secret.
    let o = outputs(
        r#"config:
  pass: { type: string, secret: true, default: p }
outputs:
  none: { fn::join: [null, [a, b]] }
  hidden: { fn::join: ["-", [a, "${pass}"]] }
"#,
    );
    assert_eq!(o["none"], out("ab"));
    assert_eq!(o["hidden"], Value::secret(out("a-p")));
    // A number or a boolean is not written as text: an error at the item,
    // as Pulumi reports "found number at index 1".
    let text = "name: s\nresources: {}\noutputs:\n  x: { fn::join: [\",\", [a, 1, true]] }\n";
    let p = load_files(text, &[]).expect_err("non-string items");
    assert_eq!(
        codes(&p),
        [
            "cairn::config::function-argument",
            "cairn::config::function-argument"
        ],
        "{p:?}"
    );
    assert!(
        p.problems[0].message.contains("item 1 is a number"),
        "{p:?}"
    );
    let span = p.problems[1].span.expect("a span");
    assert_eq!(&text[span.offset..span.offset + span.len], "true");
    // A delimiter that is not a string is an error too.
    let text = "name: s\nresources: {}\nvariables:\n  l: [a, b]\noutputs:\n  x: { fn::join: [0, \"${l}\"] }\n";
    let p = load_files(text, &[]).expect_err("a number delimiter");
    assert!(p.problems[0].message.contains("delimiter"), "{p:?}");
    let span = p.problems[0].span.expect("a span");
    assert_eq!(&text[span.offset..span.offset + span.len], "0");
}
