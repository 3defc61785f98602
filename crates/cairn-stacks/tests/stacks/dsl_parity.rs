//! The typed DSL and YAML build the same spec for the same small program:
//! options, explicit providers, invokes.

use super::registry;
use cairn_aws::provider_resource::{AssumeRoleArgs, AwsProvider, AwsProviderArgs, DefaultTagsArgs};
use cairn_aws::resources::kms_alias::{Alias, AliasArgs};
use cairn_aws::resources::kms_key::{Key, KeyArgs};
use cairn_core::dsl::{Invoker, Options, StackBuilder};
use cairn_core::provider::InvokeError;
use cairn_core::spec::StackSpec;
use cairn_core::value::{Map, Value};
use std::time::Duration;

fn yaml(text: &str, invoke: Option<cairn_config::Invoke<'_>>) -> StackSpec {
    let read = |_: &str| Err("no files".to_string());
    let program = cairn_config::Program {
        invoke,
        ..Default::default()
    };
    let (spec, _) = cairn_config::load_stack_layered_in(
        "parity.yaml",
        text.as_bytes(),
        &read,
        &registry(),
        &Default::default(),
        &program,
    )
    .unwrap_or_else(|p| panic!("the YAML must load: {p:?}"));
    spec
}

/// Every resource as (name, type, properties, options), and the outputs.
fn assert_same(yaml: &StackSpec, rust: &StackSpec) {
    let shape = |s: &StackSpec| -> Vec<String> {
        s.resources
            .iter()
            .map(|r| {
                format!(
                    "{} {} {:?} {:?}",
                    r.name, r.type_token, r.properties, r.options
                )
            })
            .collect()
    };
    assert_eq!(shape(yaml), shape(rust));
    assert_eq!(yaml.outputs, rust.outputs);
}

#[test]
fn every_yaml_option_has_a_dsl_option_giving_the_same_spec() {
    let y = yaml(
        r#"
name: opts
resources:
  first:
    type: aws:kms:Key
    properties: { description: first }
  second:
    type: aws:kms:Key
    properties: { description: second }
    options:
      dependsOn: ["${first}"]
      protect: true
      retainOnDelete: true
      deleteBeforeReplace: true
      ignoreChanges: [description, 'tags["env"]']
      replaceOnChanges: [policy]
      aliases: [{ name: oldSecond }, { name: older, type: "aws:kms:Key" }]
      customTimeouts: { create: 1.5h, update: 90m, delete: 10m30s }
      deletedWith: ${first}
      additionalSecretOutputs: [keyId]
"#,
        None,
    );
    let mut b = StackBuilder::new("opts");
    let first = b.resource::<Key>("first", KeyArgs::new().description("first"));
    b.resource_with::<Key>(
        "second",
        KeyArgs::new().description("second"),
        Options::new()
            .depends_on([&first])
            .protect()
            .retain_on_delete()
            .delete_before_replace()
            .ignore_changes(["description", "tags[\"env\"]"])
            .replace_on_changes(["policy"])
            .alias("oldSecond")
            .alias_typed("older", "aws:kms:Key")
            .create_timeout(Duration::from_secs(5400))
            .update_timeout(Duration::from_secs(90 * 60))
            .delete_timeout(Duration::from_secs(630))
            .deleted_with(&first)
            .additional_secret_outputs(["keyId"]),
    );
    assert_same(&y, &b.try_build().expect("the DSL stack builds"));
}

#[test]
fn a_provider_chosen_in_rust_gives_the_yaml_spec() {
    let y = yaml(
        r#"
name: prov
resources:
  east:
    type: pulumi:providers:aws
    properties:
      region: eu-west-1
      defaultTags:
        tags: { team: cache, env: dev }
  key:
    type: aws:kms:Key
    properties:
      description: k
      tags: { env: prod }
    options:
      provider: ${east}
  bare:
    type: aws:kms:Key
    properties: { description: b }
    options:
      provider: ${east}
  alias:
    type: aws:kms:Alias
    properties: { name: alias/k, targetKeyId: "${key.keyId}" }
    options:
      provider: ${east}
  home:
    type: aws:kms:Key
    properties: { description: h }
"#,
        None,
    );
    let mut b = StackBuilder::new("prov");
    let east = b.resource::<AwsProvider>(
        "east",
        AwsProviderArgs::new()
            .region("eu-west-1")
            .default_tags(DefaultTagsArgs::new().tags([("team", "cache"), ("env", "dev")])),
    );
    let key = b.resource_with::<Key>(
        "key",
        KeyArgs::new().description("k").tags([("env", "prod")]),
        Options::new().provider(&east),
    );
    b.resource_with::<Key>(
        "bare",
        KeyArgs::new().description("b"),
        Options::new().provider(&east),
    );
    b.resource_with::<Alias>(
        "alias",
        AliasArgs::new("alias/k", key.key_id.clone()),
        Options::new().provider(&east),
    );
    b.resource::<Key>("home", KeyArgs::new().description("h"));
    let rust = b.try_build().expect("the DSL stack builds");
    assert_eq!(
        rust.resources[1].properties.get("region"),
        Some(&Value::from("eu-west-1")),
        "the provider's region is the key's"
    );
    assert_same(&y, &rust);
}

/// Two data sources, one result holding a `$`.
fn fake_invoke(token: &str, args: &Map) -> Result<Map, InvokeError> {
    let mut out = Map::new();
    match token {
        "aws:getCallerIdentity" => {
            out.insert("accountId".into(), Value::from("123456789012"));
            out.insert("userId".into(), Value::from("AIDA$weird"));
        }
        "aws:ec2:getVpc" => {
            let default = args.get("default") == Some(&Value::Bool(true));
            let id = if default { "vpc-default" } else { "vpc-other" };
            out.insert("id".into(), Value::from(id));
            out.insert("cidrBlock".into(), Value::from("10.0.0.0/16"));
        }
        _ => return Err(InvokeError::Unknown { suggestion: None }),
    }
    Ok(out)
}

#[test]
fn an_invoke_in_rust_gives_the_yaml_spec() {
    let y = yaml(
        r#"
name: inv
variables:
  caller:
    fn::invoke:
      function: aws:getCallerIdentity
      arguments: {}
  vpcId:
    fn::invoke:
      function: aws:ec2:getVpc
      arguments: { default: true }
      return: id
resources:
  key:
    type: aws:kms:Key
    properties:
      description: key of ${caller.accountId} (${caller.userId}) in ${vpcId}
outputs:
  user: ${caller.userId}
"#,
        Some(&fake_invoke),
    );
    let invoker: Invoker = Box::new(fake_invoke);
    let mut b = StackBuilder::new("inv").with_invoker(invoker);
    let caller = b
        .invoke("aws:getCallerIdentity", Map::new())
        .expect("invoked");
    let vpc = b
        .invoke("aws:ec2:getVpc", [("default", true)])
        .expect("invoked");
    let (account, user) = (
        caller.string("accountId").expect("accountId"),
        caller.string("userId").expect("userId"),
    );
    let vpc_id = vpc.string("id").expect("id");
    b.resource::<Key>(
        "key",
        KeyArgs::new().description(format!("key of {account} ({user}) in {vpc_id}")),
    );
    b.output("user", user.as_str());
    assert_same(&y, &b.try_build().expect("the DSL stack builds"));
}

#[test]
fn an_invoke_of_a_resource_output_or_without_data_sources_is_an_error() {
    let mut b = StackBuilder::new("inv");
    let key = b.resource::<Key>("key", KeyArgs::new());
    let err = b
        .invoke("aws:kms:getAlias", Map::new())
        .expect_err("no invoker");
    assert!(err.to_string().contains("no data sources here"), "{err}");
    let invoker: Invoker = Box::new(fake_invoke);
    let mut b = StackBuilder::new("inv").with_invoker(invoker);
    let err = b
        .invoke("aws:ec2:getVpc", [("id", key.arn.reference())])
        .expect_err("an output is not known at preview");
    assert!(err.to_string().contains("resource output"), "{err}");
}

#[test]
fn the_redis_program_reads_without_some() {
    let source = include_str!("../../src/lib.rs");
    let count = source.matches("Some(").count();
    assert_eq!(
        count, 0,
        "the Redis program wraps {count} arguments in Some(..)"
    );
}

#[test]
fn a_parent_chosen_in_rust_gives_the_yaml_spec_with_what_children_inherit() {
    let y = yaml(
        r#"
name: family
resources:
  east:
    type: pulumi:providers:aws
    properties: { region: eu-west-1 }
  group:
    type: aws:kms:Key
    properties: { description: g }
    options: { protect: true, provider: "${east}" }
  child:
    type: aws:kms:Key
    properties: { description: c }
    options: { parent: "${group}" }
  free:
    type: aws:kms:Key
    properties: { description: f }
    options: { parent: "${group}", protect: false, aliases: [{ noParent: true }] }
"#,
        None,
    );
    let mut b = StackBuilder::new("family");
    let east = b.resource::<AwsProvider>("east", AwsProviderArgs::new().region("eu-west-1"));
    let group = b.resource_with::<Key>(
        "group",
        KeyArgs::new().description("g"),
        Options::new().protect().provider(&east),
    );
    b.resource_with::<Key>(
        "child",
        KeyArgs::new().description("c"),
        Options::new().parent(&group),
    );
    b.resource_with::<Key>(
        "free",
        KeyArgs::new().description("f"),
        Options::new()
            .parent(&group)
            .protected(false)
            .alias_no_parent(),
    );
    let rust = b.try_build().expect("the DSL stack builds");
    let child = &rust.resources[2];
    assert!(child.options.protect, "the child inherits protect");
    assert_eq!(
        child.properties.get("region"),
        Some(&Value::from("eu-west-1")),
        "the child inherits its parent's provider"
    );
    assert_same(&y, &rust);
}

#[test]
fn a_provider_with_credentials_gives_the_yaml_spec() {
    let y = yaml(
        r#"
name: accounts
resources:
  deployer:
    type: pulumi:providers:aws
    properties:
      region: us-west-2
      assumeRole:
        roleArn: arn:aws:iam::111111111111:role/deployer
        sessionName: cairn
  key:
    type: aws:kms:Key
    properties: { description: k }
    options: { provider: "${deployer}" }
"#,
        None,
    );
    let mut b = StackBuilder::new("accounts");
    let deployer = b.resource::<AwsProvider>(
        "deployer",
        AwsProviderArgs::new().region("us-west-2").assume_role(
            AssumeRoleArgs::new()
                .role_arn("arn:aws:iam::111111111111:role/deployer")
                .session_name("cairn"),
        ),
    );
    b.resource_with::<Key>(
        "key",
        KeyArgs::new().description("k"),
        Options::new().provider(&deployer),
    );
    let rust = b.try_build().expect("the DSL stack builds");
    assert!(
        rust.resources[1].properties.contains_key("credentials"),
        "the key is made with the provider's credentials: {:?}",
        rust.resources[1].properties
    );
    assert_same(&y, &rust);
}

/// Records what each invoke was asked, so both sides can be compared.
fn echo_invoke(token: &str, args: &Map) -> Result<Map, InvokeError> {
    let mut out = Map::new();
    out.insert("token".into(), Value::from(token));
    out.insert(
        "asked".into(),
        Value::from(cairn_core::gojson::to_go_json(&Value::Map(args.clone())).unwrap()),
    );
    Ok(out)
}

#[test]
fn an_invoke_through_a_provider_in_rust_gives_the_yaml_spec() {
    let y = yaml(
        r#"
name: inv
resources:
  deployer:
    type: pulumi:providers:aws
    properties:
      region: us-west-2
      assumeRole:
        roleArn: arn:aws:iam::111111111111:role/deployer
        duration: 1h
variables:
  there:
    fn::invoke:
      function: aws:getCallerIdentity
      options: { provider: "${deployer}" }
      return: asked
outputs:
  there: ${there}
"#,
        Some(&echo_invoke),
    );
    let invoker: Invoker = Box::new(echo_invoke);
    let mut b = StackBuilder::new("inv").with_invoker(invoker);
    let deployer = b.resource::<AwsProvider>(
        "deployer",
        AwsProviderArgs::new().region("us-west-2").assume_role(
            AssumeRoleArgs::new()
                .role_arn("arn:aws:iam::111111111111:role/deployer")
                .duration("1h"),
        ),
    );
    let there = b
        .invoke_with("aws:getCallerIdentity", Map::new(), &deployer)
        .expect("invoked");
    let asked = there.string("asked").expect("asked");
    assert!(
        asked.contains("\"region\":\"us-west-2\"") && asked.contains("deployer"),
        "the provider's region and role reach the data source: {asked}"
    );
    // A provider of another package is refused.
    let err = b
        .invoke_with("random:getThing", Map::new(), &deployer)
        .expect_err("another package");
    assert!(err.to_string().contains("package"), "{err}");
    b.output("there", asked.as_str());
    assert_same(&y, &b.try_build().expect("the DSL stack builds"));
}
