//! `#[derive(Resource)]`: one declaration gives the schema, DSL and outputs.

use cairn_core::dsl::{
    DeclaredType, Input, Output, Outputs, PropObject, Resource, ResourceType, StackBuilder,
};
use cairn_core::schema::{OutputSchema, PropType, PropertySchema, ResourceSchema};
use cairn_core::value::Value;
use serde::Serialize;
use std::collections::BTreeMap;

pub struct Widget;

/// A test widget.
#[derive(Clone, Debug, Serialize, Resource)]
#[serde(rename_all = "camelCase")]
#[resource(token = "test:Widget", kind = Widget, outputs = WidgetOutputs, fixed_name)]
pub struct WidgetArgs {
    /// Widget name
    /// (lowercase).
    #[prop(replaces, ty = PropType::String { min_len: Some(1), max_len: Some(40) })]
    pub widget_name: Input<String>,
    /// Size in GiB.
    #[prop(default = 20)]
    pub size_gib: Option<Input<i64>>,
    /// The admin password.
    #[prop(secret)]
    pub admin_password: Option<Input<String>>,
    /// Subnets.
    pub subnet_ids: Vec<Input<String>>,
    /// Tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Input<String>>>,
    /// Scaling.
    pub scaling: Scaling,
    /// Mode.
    #[prop(ty = PropType::one_of(&["a", "b"]))]
    pub mode: Option<String>,
}

#[derive(Clone, Debug, Serialize, PropObject)]
#[serde(rename_all = "camelCase")]
pub struct Scaling {
    /// Least nodes.
    pub min_size: i64,
    /// Whether it may grow.
    pub auto_grow: Option<bool>,
}

#[derive(Outputs)]
pub struct WidgetOutputs {
    /// ARN.
    pub arn: Output<String>,
    /// The endpoint.
    pub endpoint_address: Output<String>,
    /// A token.
    #[output(secret)]
    pub token: Output<String>,
}

fn hand_written() -> ResourceSchema {
    ResourceSchema::new("test:Widget", "A test widget.")
        .fixed_name()
        .property(
            PropertySchema::new(
                "widgetName",
                PropType::String {
                    min_len: Some(1),
                    max_len: Some(40),
                },
            )
            .required()
            .replaces()
            .doc("Widget name (lowercase)."),
        )
        .property(
            PropertySchema::new("sizeGib", PropType::int())
                .default_value(serde_json::json!(20))
                .doc("Size in GiB."),
        )
        .property(
            PropertySchema::new("adminPassword", PropType::string())
                .secret()
                .doc("The admin password."),
        )
        .property(
            PropertySchema::new("subnetIds", PropType::list(PropType::string()))
                .required()
                .doc("Subnets."),
        )
        .property(PropertySchema::new("tags", PropType::map(PropType::string())).doc("Tags."))
        .property(
            PropertySchema::new(
                "scaling",
                PropType::object(vec![
                    PropertySchema::new("minSize", PropType::int())
                        .required()
                        .doc("Least nodes."),
                    PropertySchema::new("autoGrow", PropType::Bool).doc("Whether it may grow."),
                ]),
            )
            .required()
            .doc("Scaling."),
        )
        .property(PropertySchema::new("mode", PropType::one_of(&["a", "b"])).doc("Mode."))
        .output(OutputSchema::new("arn", "ARN."))
        .output(OutputSchema::new("endpointAddress", "The endpoint."))
        .output(OutputSchema::new("token", "A token.").secret())
}

#[test]
fn the_derived_schema_is_what_a_hand_written_one_says() {
    assert_eq!(Widget::schema(), hand_written());
}

#[test]
fn derived_outputs_reference_the_camel_case_names_and_args_serialize_to_them() {
    assert_eq!(Widget::TOKEN, "test:Widget");
    let mut b = StackBuilder::new("demo");
    let w = b.resource::<Widget>(
        "w",
        WidgetArgs {
            widget_name: "one".into(),
            size_gib: None,
            admin_password: None,
            subnet_ids: vec!["subnet-1".into()],
            tags: None,
            scaling: Scaling {
                min_size: 1,
                auto_grow: Some(true),
            },
            mode: None,
        },
    );
    assert_eq!(w.endpoint_address.reference(), "${w.endpointAddress}");
    assert_eq!(w.arn.reference(), "${w.arn}");
    assert_eq!(w.token.reference(), "${w.token}");
    let spec = b.build();
    let props = &spec.resources[0].properties;
    let schema = Widget::schema();
    for key in props.keys() {
        assert!(schema.prop(key).is_some(), "`{key}` is not in the schema");
    }
    assert!(props.contains_key("widgetName") && props.contains_key("subnetIds"));
}

#[test]
fn arguments_read_without_some_new_takes_the_required_and_setters_the_optional() {
    let mut b = StackBuilder::new("demo");
    let first = b.resource::<Widget>(
        "first",
        WidgetArgs::new(
            "one",
            vec!["subnet-1".into()],
            Scaling::new(1).auto_grow(true),
        )
        .size_gib(40)
        .admin_password("pw")
        .mode("a"),
    );
    let written_out = WidgetArgs {
        widget_name: "one".into(),
        size_gib: Some(40.into()),
        admin_password: Some("pw".into()),
        subnet_ids: vec!["subnet-1".into()],
        tags: None,
        scaling: Scaling {
            min_size: 1,
            auto_grow: Some(true),
        },
        mode: Some("a".into()),
    };
    // An output is an argument too, with no wrapping.
    b.resource::<Widget>(
        "second",
        WidgetArgs::new(
            first.arn.clone(),
            Vec::<Input<String>>::new(),
            Scaling::new(2),
        ),
    );
    let spec = b.build();
    assert_eq!(
        Value::Map(spec.resources[0].properties.clone()),
        Value::from_json(&serde_json::to_value(&written_out).unwrap())
    );
    assert_eq!(
        spec.resources[1].properties["widgetName"].as_str(),
        Some("${first.arn}")
    );
    assert!(!spec.resources[1].properties.contains_key("sizeGib"));
}

#[test]
fn options_read_as_a_chain() {
    use cairn_core::dsl::Options;
    use std::time::Duration;
    let o = Options::new()
        .protect()
        .import("sg-1")
        .ignore_changes(["tags[\"env\"]"])
        .replace_on_changes(["name"])
        .depends_on(["first"])
        .alias("old")
        .create_timeout(Duration::from_secs(60))
        .delete_timeout(Duration::from_millis(29_500));
    let o = o.spec();
    assert!(o.protect);
    assert_eq!(o.import.as_deref(), Some("sg-1"));
    assert_eq!(o.ignore_changes, ["tags[\"env\"]"]);
    assert_eq!(o.replace_on_changes, ["name"]);
    assert_eq!(o.depends_on, ["first"]);
    assert_eq!(o.aliases[0].name, "old");
    assert_eq!(o.custom_timeouts.create, Some(60));
    // Rounded up to whole seconds, as YAML's "29.5s".
    assert_eq!(o.custom_timeouts.delete, Some(30));
}
