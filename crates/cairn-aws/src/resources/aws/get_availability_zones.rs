//! `aws:getAvailabilityZones`: the region's zones (EC2
//! DescribeAvailabilityZones), sorted by name as Terraform sorts them.

use super::{ec2_filters, filters_input, input, s, strings};
use crate::clients::Shared;
use crate::util::api_error;
use cairn_core::provider::{CallContext, DataSource, DataSourceSchema, ProviderError};
use cairn_core::schema::PropType;
use cairn_core::value::{Map, Value};

pub const TOKEN: &str = "aws:getAvailabilityZones";

pub struct GetAvailabilityZones {
    clients: Shared,
    schema: DataSourceSchema,
}

impl GetAvailabilityZones {
    pub fn new(clients: Shared) -> Self {
        let list = || PropType::list(PropType::string());
        GetAvailabilityZones {
            clients,
            schema: DataSourceSchema {
                token: TOKEN.into(),
                description: "The Availability Zones of this run's region.".into(),
                inputs: vec![
                    input(
                        "allAvailabilityZones",
                        PropType::Bool,
                        "include Local and Wavelength Zones",
                    ),
                    input("excludeNames", list(), "zone names to leave out"),
                    input("excludeZoneIds", list(), "zone ids to leave out"),
                    filters_input(),
                    input(
                        "state",
                        PropType::one_of(&["available", "information", "impaired", "unavailable"]),
                        "only zones in this state",
                    ),
                ],
                outputs: ["groupNames", "id", "names", "zoneIds"]
                    .map(String::from)
                    .to_vec(),
            },
        }
    }
}

fn listed(args: &Map, key: &str) -> Vec<String> {
    args.get(key)
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

#[async_trait::async_trait]
impl DataSource for GetAvailabilityZones {
    fn schema(&self) -> &DataSourceSchema {
        &self.schema
    }

    async fn invoke(&self, _ctx: &CallContext, args: &Map) -> Result<Map, ProviderError> {
        let sdk = self.clients.get().await?;
        let mut filters = ec2_filters(args);
        if let Some(state) = args.get("state").and_then(Value::as_str) {
            filters.push(
                aws_sdk_ec2::types::Filter::builder()
                    .name("state")
                    .values(state)
                    .build(),
            );
        }
        let mut req = sdk
            .ec2
            .describe_availability_zones()
            .set_filters(Some(filters).filter(|f| !f.is_empty()));
        if args.get("allAvailabilityZones").and_then(Value::as_bool) == Some(true) {
            req = req.all_availability_zones(true);
        }
        let out = req
            .send()
            .await
            .map_err(|e| api_error(TOKEN, "ec2:DescribeAvailabilityZones", e, &[]))?;
        let (ex_names, ex_ids) = (listed(args, "excludeNames"), listed(args, "excludeZoneIds"));
        let mut zones: Vec<(String, String, String)> = out
            .availability_zones()
            .iter()
            .map(|z| {
                (
                    z.zone_name().unwrap_or_default().to_string(),
                    z.zone_id().unwrap_or_default().to_string(),
                    z.group_name().unwrap_or_default().to_string(),
                )
            })
            .filter(|(n, id, _)| !ex_names.contains(n) && !ex_ids.contains(id))
            .collect();
        zones.sort();
        let mut groups: Vec<String> = zones
            .iter()
            .map(|z| z.2.clone())
            .filter(|g| !g.is_empty())
            .collect();
        groups.sort();
        groups.dedup();
        let region = sdk
            .ec2
            .config()
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default();
        let mut m = Map::new();
        m.insert("groupNames".into(), strings(groups));
        m.insert("id".into(), s(region));
        m.insert("names".into(), strings(zones.iter().map(|z| z.0.clone())));
        m.insert("zoneIds".into(), strings(zones.into_iter().map(|z| z.1)));
        Ok(m)
    }
}
