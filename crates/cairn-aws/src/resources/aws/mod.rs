//! Data sources of the provider itself (`aws:get*`) and helpers shared by
//! the services' `get_*` data sources.

pub mod get_availability_zones;
pub mod get_caller_identity;
pub mod get_region;

use crate::clients::Shared;
use cairn_core::provider::DataSource;
use cairn_core::schema::{PropType, PropertySchema};
use cairn_core::value::{Map, Value};
use std::sync::Arc;

/// The provider's own data sources.
pub(crate) fn data_sources(clients: &Shared) -> Vec<Arc<dyn DataSource>> {
    vec![
        Arc::new(get_caller_identity::GetCallerIdentity::new(clients.clone())),
        Arc::new(get_region::GetRegion::new(clients.clone())),
        Arc::new(get_availability_zones::GetAvailabilityZones::new(
            clients.clone(),
        )),
    ]
}

/// An input property with its doc line.
pub(crate) fn input(name: &str, ty: PropType, doc: &str) -> PropertySchema {
    let mut p = PropertySchema::new(name, ty);
    p.doc = doc.to_string();
    p
}

/// `filters: [{name, values}]`, as Pulumi's EC2 data sources take them.
pub(crate) fn filters_input() -> PropertySchema {
    input(
        "filters",
        PropType::list(PropType::object(vec![
            PropertySchema::new("name", PropType::string()),
            PropertySchema::new("values", PropType::list(PropType::string())),
        ])),
        "EC2 filters, e.g. `[{name: vpc-id, values: [vpc-123]}]`",
    )
}

/// `tags: {k: v}`, matched as EC2 `tag:k` filters.
pub(crate) fn tags_input() -> PropertySchema {
    input(
        "tags",
        PropType::map(PropType::string()),
        "tags the object must carry, e.g. `{Tier: private}`",
    )
}

/// The EC2 filters from `filters` and `tags` arguments.
pub(crate) fn ec2_filters(args: &Map) -> Vec<aws_sdk_ec2::types::Filter> {
    let mut out = Vec::new();
    if let Some(Value::List(l)) = args.get("filters") {
        for f in l {
            let Some(m) = f.as_map() else { continue };
            let values = m
                .get("values")
                .and_then(Value::as_list)
                .unwrap_or_default()
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string));
            out.push(
                aws_sdk_ec2::types::Filter::builder()
                    .name(m.get("name").and_then(Value::as_str).unwrap_or_default())
                    .set_values(Some(values.collect()))
                    .build(),
            );
        }
    }
    if let Some(Value::Map(tags)) = args.get("tags") {
        for (k, v) in tags {
            out.push(
                aws_sdk_ec2::types::Filter::builder()
                    .name(format!("tag:{k}"))
                    .values(v.as_str().unwrap_or_default())
                    .build(),
            );
        }
    }
    out
}

pub(crate) fn strings(items: impl IntoIterator<Item = String>) -> Value {
    Value::List(items.into_iter().map(Value::String).collect())
}

pub(crate) fn s(v: impl Into<String>) -> Value {
    Value::String(v.into())
}
