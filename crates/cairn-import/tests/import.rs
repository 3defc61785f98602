//! Golden tests of the Terraform state reader, the mapping to cairn
//! imports, Pulumi's bulk file, and the generated program; and that no
//! damaged input panics or prints a secret.

use cairn_core::provider::Observed;
use cairn_core::schema::{OutputSchema, PropType, PropertySchema, ResourceSchema};
use cairn_core::{Map, Value};
use cairn_import::{bulk, mapping, names, program, tfstate, ImportError, Selection};
use std::fmt::Write as _;

const SECRET: &str = "s3cr3t-token-never-printed";

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn s() -> PropType {
    PropType::string()
}

/// A few cairn schemas, as the registry would give them (the real ones
/// come from the providers; these keep the reader's tests independent).
fn schemas() -> Vec<ResourceSchema> {
    let rule_ty = PropType::object(vec![
        PropertySchema::new("protocol", s()),
        PropertySchema::new("fromPort", PropType::int()),
        PropertySchema::new("toPort", PropType::int()),
        PropertySchema::new("cidrBlocks", PropType::list(s())),
    ]);
    vec![
        ResourceSchema::new("aws:ec2:Vpc", "")
            .property(PropertySchema::new("cidrBlock", s()))
            .property(PropertySchema::new("enableDnsHostnames", PropType::Bool))
            .property(PropertySchema::new("enableDnsSupport", PropType::Bool))
            .property(PropertySchema::new("tags", PropType::map(s())))
            .output(OutputSchema::new("id", "")),
        ResourceSchema::new("aws:ec2:Subnet", "")
            .property(PropertySchema::new("vpcId", s()))
            .property(PropertySchema::new("cidrBlock", s()))
            .property(PropertySchema::new("availabilityZone", s()))
            .property(PropertySchema::new("mapPublicIpOnLaunch", PropType::Bool))
            .output(OutputSchema::new("id", "")),
        ResourceSchema::new("aws:ec2:RouteTableAssociation", "")
            .property(PropertySchema::new("subnetId", s()))
            .property(PropertySchema::new("routeTableId", s())),
        ResourceSchema::new("aws:ec2:RouteTable", "")
            .property(PropertySchema::new("vpcId", s()))
            .property(PropertySchema::new(
                "routes",
                PropType::list(PropType::object(vec![
                    PropertySchema::new("cidrBlock", s()),
                    PropertySchema::new("natGatewayId", s()),
                ])),
            )),
        ResourceSchema::new("aws:ec2:Route", "")
            .property(PropertySchema::new("routeTableId", s()))
            .property(PropertySchema::new("destinationCidrBlock", s()))
            .property(PropertySchema::new("natGatewayId", s())),
        ResourceSchema::new("aws:ec2:SecurityGroupRule", "")
            .property(PropertySchema::new("type", s()))
            .property(PropertySchema::new("securityGroupId", s()))
            .property(PropertySchema::new("protocol", s()))
            .property(PropertySchema::new("fromPort", PropType::int()))
            .property(PropertySchema::new("toPort", PropType::int()))
            .property(PropertySchema::new("cidrBlocks", PropType::list(s())))
            .property(PropertySchema::new("sourceSecurityGroupId", s())),
        ResourceSchema::new("aws:ec2:SecurityGroup", "")
            .property(PropertySchema::new("vpcId", s()))
            .property(PropertySchema::new("ingress", PropType::list(rule_ty)))
            .output(OutputSchema::new("id", "")),
        ResourceSchema::new("aws:elasticache:ReplicationGroup", "")
            .property(PropertySchema::new("description", s()))
            .property(PropertySchema::new("authToken", s())),
    ]
}

fn select(file: &str, text: &str) -> Result<Selection, ImportError> {
    let all = schemas();
    let state = tfstate::parse(file, text)?;
    mapping::select(file, &state, &|t| all.iter().find(|s| s.token == t))
}

/// The report as the CLI prints it, without colour.
fn report(e: ImportError) -> String {
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .render_report(&mut out, &e)
        .expect("render");
    out
}

fn masked(m: &Map) -> String {
    serde_json::to_string(&Value::Map(m.clone()).to_masked_json()).expect("json")
}

fn render(sel: &Selection) -> String {
    let hints: Vec<_> = sel
        .candidates
        .iter()
        .map(|c| (c.address.as_str(), &c.name_hint))
        .collect();
    let names = names::assign(&hints);
    let mut out = String::new();
    for (c, name) in sel.candidates.iter().zip(&names) {
        let _ = writeln!(
            out,
            "{} -> {name} ({}) import {}",
            c.address, c.token, c.import_id
        );
        if let Some(tf) = &c.terraform {
            let _ = writeln!(out, "    {}", masked(tf));
        }
    }
    for u in &sel.unknown {
        let _ = writeln!(out, "unknown: {} ({}): {}", u.address, u.tf_type, u.why);
    }
    for d in &sel.skipped_data {
        let _ = writeln!(out, "data source skipped: {d}");
    }
    out
}

#[test]
fn modules_count_and_for_each_map_to_imports_data_sources_skipped_unknown_types_reported() {
    let sel = select("network.tfstate", &fixture("network.tfstate")).expect("reads");
    let text = render(&sel);
    assert!(
        !text.contains(SECRET),
        "a sensitive value was printed: {text}"
    );
    // The table's routes are `aws_route` resources: not managed twice.
    let table = sel
        .candidates
        .iter()
        .find(|c| c.token == "aws:ec2:RouteTable")
        .expect("route table");
    let tf = table.terraform.as_ref().expect("terraform");
    assert!(!tf.contains_key("routes"), "{tf:?}");
    insta::assert_snapshot!("network", text);
}

#[test]
fn strict_makes_unknown_types_an_error() {
    let sel = select("network.tfstate", &fixture("network.tfstate")).expect("reads");
    let err = sel.strict().expect_err("aws_flow_log is unknown");
    insta::assert_snapshot!("strict", report(err));
}

#[test]
fn tainted_instances_are_refused() {
    let err = select("tainted.tfstate", &fixture("tainted.tfstate")).expect_err("tainted");
    assert!(matches!(err, ImportError::Tainted { .. }), "{err:?}");
    insta::assert_snapshot!("tainted", report(err));
}

#[test]
fn deposed_objects_are_refused() {
    let err = select("deposed.tfstate", &fixture("deposed.tfstate")).expect_err("deposed");
    assert!(matches!(err, ImportError::Deposed { .. }), "{err:?}");
    insta::assert_snapshot!("deposed", report(err));
}

#[test]
fn a_wrong_version_is_refused() {
    let err = select("version3.tfstate", &fixture("version3.tfstate")).expect_err("version 3");
    assert!(matches!(err, ImportError::Version { .. }), "{err:?}");
    insta::assert_snapshot!("version", report(err));
}

#[test]
fn a_truncated_file_gets_a_diagnostic_with_its_position_and_no_secret() {
    let text = fixture("network.tfstate");
    let cut = text.find(SECRET).expect("secret in fixture") + 10;
    let err = select("network.tfstate", &text[..cut]).expect_err("truncated");
    assert!(matches!(err, ImportError::Syntax { .. }), "{err:?}");
    let shown = report(err);
    assert!(!shown.contains(&SECRET[..10]), "secret shown: {shown}");
    insta::assert_snapshot!("truncated", shown);
}

#[test]
fn every_prefix_of_a_state_reads_or_fails_cleanly_and_never_shows_a_secret() {
    let text = fixture("network.tfstate");
    // Every cut near a secret, and every fifth byte elsewhere (seconds, not minutes).
    let near: Vec<usize> = text.match_indices("s3cr3t").map(|(i, _)| i).collect();
    let cuts = (0..text.len()).filter(|&i| {
        text.is_char_boundary(i) && (i % 5 == 0 || near.iter().any(|&n| i >= n && i <= n + 40))
    });
    for cut in cuts {
        if let Err(e) = select("network.tfstate", &text[..cut]) {
            let shown = report(e);
            // Not even the first characters of a value cut off mid-way.
            for line in shown.lines() {
                if let Some((_, after)) = line.split_once("\"auth_token\": \"") {
                    let rest = after.trim_end_matches(['"', ',']);
                    assert!(rest.chars().all(|c| c == '*'), "cut at {cut}: {shown}");
                }
            }
            assert!(!shown.contains("s3cr"), "cut at {cut}: {shown}");
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
    /// Garbled bytes anywhere: an error or a reading, never a panic.
    #[test]
    fn garbled_files_never_panic(edits in proptest::collection::vec((0usize..4000, 0u8..=255), 1..8)) {
        let mut bytes = fixture("network.tfstate").into_bytes();
        for (at, b) in edits {
            let i = at % bytes.len();
            bytes[i] = b;
        }
        let text = String::from_utf8_lossy(&bytes);
        if let Err(e) = select("garbled.tfstate", &text) {
            let _ = report(e);
        }
        let _ = cairn_import::redacted(&text);
    }
}

#[test]
fn pulumi_bulk_files_map_types_and_names() {
    let all = schemas();
    let sel = bulk::select("bulk.json", &fixture("bulk.json"), &|t| {
        all.iter().find(|s| s.token == t)
    })
    .expect("reads");
    insta::assert_snapshot!("bulk", render(&sel));
    let err = bulk::select(
        "bad.json",
        "{\"resources\": [{\"type\": \"aws:ec2:Vpc\"}]}",
        &|t| all.iter().find(|s| s.token == t),
    )
    .expect_err("no name");
    insta::assert_snapshot!("bulk-error", report(err));
}

fn observed(id: &str, inputs: &[(&str, Value)]) -> Observed {
    let mut outputs = Map::new();
    outputs.insert("id".into(), Value::from(id));
    Observed {
        id: id.into(),
        inputs: inputs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        outputs,
    }
}

#[test]
fn the_program_refers_to_imported_ids_keeps_secrets_out_and_reports_disagreements() {
    let sel = select("network.tfstate", &fixture("network.tfstate")).expect("reads");
    let hints: Vec<_> = sel
        .candidates
        .iter()
        .map(|c| (c.address.as_str(), &c.name_hint))
        .collect();
    let names = names::assign(&hints);
    let all = schemas();
    let vpc = "vpc-0a1b2c3d4e5f60031";
    let mut found = Vec::new();
    for (c, name) in sel.candidates.iter().zip(&names) {
        let schema = all
            .iter()
            .find(|s| s.token == c.token)
            .expect("schema")
            .clone();
        // The cloud as Terraform recorded it, but database[1]'s AZ moved.
        let mut inputs: Vec<(&str, Value)> = Vec::new();
        let tf = c.terraform.clone().unwrap_or_default();
        for (k, v) in &tf {
            let v = if c.address.ends_with("database[1]") && k == "availabilityZone" {
                Value::from("us-east-1c")
            } else {
                v.reveal()
            };
            inputs.push((k.as_str(), v));
        }
        let id = if c.token == "aws:ec2:Vpc" {
            vpc
        } else {
            &c.import_id
        };
        found.push(program::Found {
            candidate: c.clone(),
            name: name.clone(),
            schema,
            observed: observed(id, &inputs),
        });
    }
    let p = program::build_with_outputs("network", "network.tfstate", &found, &sel.outputs);
    assert!(p.yaml.contains("  vpcId: ${mainVpc.id}"), "{}", p.yaml);
    assert!(!p.yaml.contains(SECRET), "{}", p.yaml);
    assert!(p.yaml.contains("vpcId: ${mainVpc.id}"), "{}", p.yaml);
    let deps: Vec<_> = p
        .resources
        .iter()
        .map(|r| format!("{} -> {:?}", r.name, r.dependencies))
        .collect();
    let mut text = p.yaml.clone();
    let _ = writeln!(text, "---\ndependencies: {deps:#?}");
    let _ = writeln!(text, "secrets left out: {:?}", p.secrets_left_out);
    for d in &p.disagreements {
        let _ = writeln!(
            text,
            "disagrees: {} {}: terraform {} cloud {}",
            d.address, d.property, d.terraform, d.cloud
        );
    }
    insta::assert_snapshot!("program", text);
    let redis = p
        .resources
        .iter()
        .find(|r| r.type_token == "aws:elasticache:ReplicationGroup")
        .expect("redis");
    assert!(
        redis.inputs.get("authToken").is_some_and(Value::is_secret),
        "the sensitive token is stored as a secret"
    );
}

/// Schemas shaped like the platform types' (nested objects, not lists).
fn platform_schemas() -> Vec<ResourceSchema> {
    vec![
        ResourceSchema::new("aws:iam:RolePolicyAttachment", "")
            .property(PropertySchema::new("role", s()))
            .property(PropertySchema::new("policyArn", s())),
        ResourceSchema::new("aws:eks:Cluster", "")
            .property(PropertySchema::new("name", s()))
            .property(PropertySchema::new("roleArn", s()))
            .property(PropertySchema::new("version", s()))
            .property(PropertySchema::new(
                "vpcConfig",
                PropType::object(vec![
                    PropertySchema::new("subnetIds", PropType::list(s())),
                    PropertySchema::new("endpointPrivateAccess", PropType::Bool),
                    PropertySchema::new("endpointPublicAccess", PropType::Bool),
                    PropertySchema::new("publicAccessCidrs", PropType::list(s())),
                ]),
            ))
            .property(PropertySchema::new(
                "encryptionConfig",
                PropType::object(vec![
                    PropertySchema::new(
                        "provider",
                        PropType::object(vec![PropertySchema::new("keyArn", s())]),
                    ),
                    PropertySchema::new("resources", PropType::list(s())),
                ]),
            )),
        ResourceSchema::new("aws:eks:NodeGroup", "")
            .property(PropertySchema::new("clusterName", s()))
            .property(PropertySchema::new("nodeGroupName", s()))
            .property(PropertySchema::new(
                "scalingConfig",
                PropType::object(vec![
                    PropertySchema::new("desiredSize", PropType::int()),
                    PropertySchema::new("maxSize", PropType::int()),
                    PropertySchema::new("minSize", PropType::int()),
                ]),
            )),
        ResourceSchema::new("aws:rds:Instance", "")
            .property(PropertySchema::new("identifier", s()))
            .property(PropertySchema::new("engine", s())),
        ResourceSchema::new("aws:s3:BucketVersioning", "")
            .property(PropertySchema::new("bucket", s()))
            .property(PropertySchema::new(
                "versioningConfiguration",
                PropType::object(vec![
                    PropertySchema::new("status", s()),
                    PropertySchema::new("mfaDelete", s()),
                ]),
            )),
    ]
}

#[test]
fn platform_types_get_terraforms_import_ids_and_nested_blocks_become_objects() {
    let all = platform_schemas();
    let file = "platform.tfstate";
    let state = tfstate::parse(file, &fixture(file)).expect("parse");
    let sel =
        mapping::select(file, &state, &|t| all.iter().find(|s| s.token == t)).expect("select");
    let text = render(&sel);
    assert!(!text.contains(SECRET), "{text}");
    insta::assert_snapshot!(text);
}
