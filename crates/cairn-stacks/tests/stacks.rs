//! The Rust-DSL stack and the YAML stack files produce the same graph.

use cairn_core::diag::Problems;
use cairn_core::dsl::program::ProgramInput;
use cairn_core::spec::StackSpec;
use cairn_core::value::Value;
use cairn_core::Registry;
use std::path::PathBuf;

#[path = "stacks/dsl_parity.rs"]
mod dsl_parity;

fn registry() -> Registry {
    let mut r = Registry::new();
    cairn_builtin::register(&mut r);
    cairn_aws::register_lazy(&mut r, None);
    r
}

fn load_yaml(env: &str) -> StackSpec {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../stacks");
    let path = dir.join(format!("{env}.yaml"));
    let bytes = std::fs::read(&path).expect("stack file");
    let read_template = |name: &str| std::fs::read(dir.join(name)).map_err(|e| e.to_string());
    let (spec, _warnings) = cairn_config::load_stack_layered(
        &path.display().to_string(),
        &bytes,
        &read_template,
        &registry(),
        &Default::default(),
    )
    .unwrap_or_else(|p| panic!("{env}.yaml must load: {p:?}"));
    spec
}

/// The Rust stack for `stacks/<env>.yaml`: its config, as the CLI hands
/// it to the `redis-cache` program.
fn rust_stack(env: &str) -> StackSpec {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../stacks");
    let path = dir.join(format!("{env}.yaml"));
    let bytes = std::fs::read(&path).expect("stack file");
    let doc = cairn_config::stack_file_to_json(&path.display().to_string(), &bytes)
        .unwrap_or_else(|p| panic!("{env}.yaml must parse: {p:?}"));
    let config = doc["config"]
        .as_object()
        .expect("a config map")
        .iter()
        .map(|(k, v)| (k.clone(), Value::from_json(v)))
        .collect();
    let name = doc["name"].as_str().expect("a name");
    let input = ProgramInput::new(name, "redis-cache", config);
    cairn_stacks::program(&input).unwrap_or_else(|e| panic!("{env}: {e}"))
}

const ENVIRONMENTS: [&str; 3] = ["dev", "staging", "prod"];

/// Resources as (name, type, properties, options), without source spans.
fn shape(spec: &StackSpec) -> Vec<String> {
    spec.resources
        .iter()
        .map(|r| {
            format!(
                "{} {} {:?} {:?}",
                r.name, r.type_token, r.properties, r.options
            )
        })
        .collect()
}

#[test]
fn rust_dsl_and_yaml_build_the_same_graph_in_every_environment() {
    for name in ENVIRONMENTS {
        let yaml = load_yaml(name);
        let rust = rust_stack(name);
        assert_eq!(yaml.name, rust.name);
        let (y, r) = (shape(&yaml), shape(&rust));
        assert_eq!(y.len(), r.len(), "{name}: resource count");
        for (a, b) in y.iter().zip(&r) {
            assert_eq!(a, b, "{name}: resources differ");
        }
        assert_eq!(yaml.outputs, rust.outputs, "{name}: outputs");
    }
}

/// Validation (schemas, provider checks), then the policy pack, as preview runs them.
fn check(spec: &StackSpec) -> Problems {
    let mut problems = cairn_core::validate::validate(spec, &registry());
    problems.extend(cairn_policy::evaluate(spec).problems);
    problems
}

fn error_codes(p: &Problems) -> Vec<String> {
    p.errors().map(|e| e.code.clone()).collect()
}

#[test]
fn the_rust_stack_validates_and_passes_policy() {
    for env in ENVIRONMENTS {
        let spec = rust_stack(env);
        let problems = check(&spec);
        assert_eq!(
            error_codes(&problems),
            Vec::<String>::new(),
            "{env}: {problems:?}"
        );
    }
}

#[test]
fn the_policy_check_catches_the_rust_stack_with_tls_off() {
    for env in ENVIRONMENTS {
        let mut spec = rust_stack(env);
        let rg = spec
            .resources
            .iter_mut()
            .find(|r| r.type_token == "aws:elasticache:ReplicationGroup")
            .expect("the stack has a replication group");
        rg.properties
            .insert("transitEncryptionEnabled".into(), Value::Bool(false));
        let codes = error_codes(&check(&spec));
        assert!(
            codes.contains(&"cairn::policy::CAIRN-POL-001".to_string()),
            "{env}: TLS off must fail CAIRN-POL-001, got {codes:?}"
        );
        // The policy pack alone names exactly that rule.
        assert_eq!(
            error_codes(&cairn_policy::evaluate(&spec)),
            vec!["cairn::policy::CAIRN-POL-001"],
            "{env}"
        );
    }
}

#[test]
fn the_redis_stacks_read_their_network_by_reference() {
    for env in ["dev", "staging", "prod"] {
        let spec = load_yaml(env);
        fn of<'a>(
            spec: &'a StackSpec,
            token: &'a str,
        ) -> impl Iterator<Item = &'a cairn_core::ResourceSpec> {
            spec.resources.iter().filter(move |r| r.type_token == token)
        }
        // The network's objects belong to the network stack: none declared or imported here.
        for token in ["aws:ec2:SecurityGroup", "aws:elasticache:SubnetGroup"] {
            assert_eq!(of(&spec, token).count(), 0, "{env}: declares a {token}");
        }
        assert!(
            spec.resources.iter().all(|r| r.options.import.is_none()),
            "{env}: imports something"
        );
        let refs: Vec<_> = of(&spec, "pulumi:pulumi:StackReference").collect();
        assert_eq!(refs.len(), 1, "{env}: one stack reference");
        assert_eq!(
            refs[0].properties.get("name"),
            Some(&Value::from(format!("network-{env}").as_str())),
            "{env}"
        );
        let rg = of(&spec, "aws:elasticache:ReplicationGroup")
            .next()
            .expect("group");
        assert_eq!(
            rg.properties.get("subnetGroupName"),
            Some(&Value::from(
                "${network.outputs.elasticacheSubnetGroupName}"
            )),
            "{env}"
        );
        assert_eq!(
            rg.properties.get("securityGroupIds"),
            Some(&Value::List(vec![Value::from(
                "${network.outputs.elasticacheSecurityGroupId}"
            )])),
            "{env}"
        );
    }
}

#[test]
fn the_program_names_a_missing_or_mistyped_config_key() {
    let mut config = cairn_core::Map::new();
    config.insert("environment".into(), Value::from("dev"));
    config.insert("numNodeGroups".into(), Value::from("two"));
    let input = ProgramInput::new("redis-dev", "redis-cache", config.clone());
    let err = cairn_stacks::program(&input).unwrap_err().to_string();
    assert_eq!(err, "config `nodeType` is not set");
    config.insert("nodeType".into(), Value::from("cache.t3.micro"));
    let input = ProgramInput::new("redis-dev", "redis-cache", config);
    let err = cairn_stacks::program(&input).unwrap_err().to_string();
    assert_eq!(err, "config `numNodeGroups` must be an integer");
}
