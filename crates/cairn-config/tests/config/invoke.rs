//! `fn::invoke` in the loader, with a stand-in data source: arguments from
//! config and other invokes, secrets kept, `return`, and the diagnostics.

use super::common::registry;
use cairn_config::{load_stack_layered_in, Program};
use cairn_core::provider::InvokeError;
use cairn_core::value::{Map, Value};
use std::collections::BTreeMap;

/// `test:echo` returns its arguments under `args` and `greeting: hello`.
fn echo(token: &str, args: &Map) -> Result<Map, InvokeError> {
    if token != "test:echo" {
        return Err(InvokeError::Unknown {
            suggestion: Some("test:echo".into()),
        });
    }
    let mut m = Map::new();
    m.insert("args".into(), Value::Map(args.clone()));
    m.insert("greeting".into(), Value::String("hello ${x}".into()));
    Ok(m)
}

fn load(text: &str) -> Result<cairn_core::spec::StackSpec, String> {
    let program = Program {
        invoke: Some(&echo),
        ..Program::default()
    };
    let read = |_: &str| Err("no files".to_string());
    load_stack_layered_in(
        "s.yaml",
        text.as_bytes(),
        &read,
        &registry(),
        &BTreeMap::new(),
        &program,
    )
    .map(|(spec, _)| spec)
    .map_err(|p| format!("{p:?}"))
}

#[test]
fn results_feed_variables_and_secrets_stay_secret() {
    let spec = load(
        r#"
name: s
config:
  token:
    type: string
    secret: true
    default: sekret
variables:
  first:
    fn::test:echo: { a: 1 }
  second:
    fn::invoke:
      function: test:echo
      arguments: { token: "${token}", fromFirst: "${first.greeting}" }
  word:
    fn::invoke: { function: test:echo, return: greeting }
resources: {}
outputs:
  a: ${first.args.a}
  fromFirst: ${second.args.fromFirst}
  second: ${second.greeting}
  word: ${word}
"#,
    )
    .expect("loads");
    let o = &spec.outputs;
    assert_eq!(o["a"], Value::Int(1));
    // A literal `${` in a result stays text.
    assert_eq!(o["word"], Value::String("hello $${x}".into()));
    // A secret argument makes the whole result secret, as in Pulumi.
    assert!(o["fromFirst"].is_secret(), "{:?}", o["fromFirst"]);
    assert_eq!(o["fromFirst"].reveal(), Value::String("hello $${x}".into()));
    assert!(o["second"].is_secret(), "{:?}", o["second"]);
}

#[test]
fn unknown_function_and_return_are_diagnostics() {
    let err = load(
        "name: s\nvariables:\n  v:\n    fn::test:ecko: {}\nresources: {}\noutputs:\n  v: ${v}\n",
    )
    .expect_err("unknown function");
    assert!(err.contains("cairn::invoke::unknown-function"), "{err}");
    assert!(err.contains("did you mean `test:echo`?"), "{err}");
    let err = load("name: s\nvariables:\n  v:\n    fn::invoke: { function: test:echo, return: nope }\nresources: {}\noutputs:\n  v: ${v}\n")
        .expect_err("unknown result");
    assert!(err.contains("has no result `nope`"), "{err}");
    let err = load("name: s\nvariables:\n  v:\n    fn::invoke: { fuction: test:echo }\nresources: {}\noutputs:\n  v: ${v}\n")
        .expect_err("unknown key");
    assert!(err.contains("did you mean `function`?"), "{err}");
}
