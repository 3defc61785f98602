//! Per-call `region` for data sources (as in Pulumi AWS v7, where data
//! sources take a `region` argument): every AWS data source accepts one, and
//! a call with it runs against clients in that region (same endpoint and
//! credentials). `fn::invoke`'s `options.provider` sets it from an explicit
//! `pulumi:providers:aws` (cairn-config's `stack/invoke.rs`).

use crate::clients::Shared;
use crate::regional::{region_check, REGION};
use async_trait::async_trait;
use cairn_core::provider::{
    CallContext, CheckFailure, DataSource, DataSourceSchema, ProviderError,
};
use cairn_core::schema::{PropType, PropertySchema};
use cairn_core::value::{Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// One region's data sources, by token.
type DataSet = BTreeMap<String, Arc<dyn DataSource>>;

/// Data source sets per region, built on first use.
pub(crate) struct DataRegions {
    base: Shared,
    sets: Mutex<BTreeMap<String, DataSet>>,
}

impl DataRegions {
    pub(crate) fn new(base: Shared) -> Arc<Self> {
        Arc::new(DataRegions {
            base,
            sets: Mutex::new(BTreeMap::new()),
        })
    }

    fn data_source(&self, region: &str, token: &str) -> Option<Arc<dyn DataSource>> {
        let mut sets = self.sets.lock().unwrap_or_else(|e| e.into_inner());
        let set = sets.entry(region.to_string()).or_insert_with(|| {
            let clients = Arc::new(self.base.in_region(region));
            crate::resources::all_data_sources(&clients)
                .into_iter()
                .map(|d| (d.schema().token.clone(), d))
                .collect()
        });
        set.get(token).cloned()
    }
}

/// One AWS data source, routed by its `region` argument.
pub(crate) struct RegionalData {
    schema: DataSourceSchema,
    default: Arc<dyn DataSource>,
    regions: Arc<DataRegions>,
}

impl RegionalData {
    pub(crate) fn new(default: Arc<dyn DataSource>, regions: Arc<DataRegions>) -> Self {
        let mut schema = default.schema().clone();
        if !schema.inputs.iter().any(|p| p.name == REGION) {
            let mut p = PropertySchema::new(REGION, PropType::string());
            p.doc = "Region to read in (default: this run's, or the invoke's \
                     `options.provider`'s)."
                .into();
            schema.inputs.push(p);
        }
        RegionalData {
            schema,
            default,
            regions,
        }
    }
}

fn strip(args: &Map) -> Map {
    let mut m = args.clone();
    m.remove(REGION);
    m
}

#[async_trait]
impl DataSource for RegionalData {
    fn schema(&self) -> &DataSourceSchema {
        &self.schema
    }

    fn check(&self, args: &Map) -> Vec<CheckFailure> {
        let mut out = self.default.check(&strip(args));
        out.extend(region_check(args));
        out
    }

    async fn invoke(&self, ctx: &CallContext, args: &Map) -> Result<Map, ProviderError> {
        let rest = strip(args);
        match args.get(REGION) {
            None | Some(Value::Null) => self.default.invoke(ctx, &rest).await,
            Some(Value::String(r)) => {
                let ds = self
                    .regions
                    .data_source(r, &self.schema.token)
                    .ok_or_else(|| {
                        ProviderError::invalid(&self.schema.token, "no data source in this region")
                    })?;
                let mut out = ds.invoke(ctx, &rest).await?;
                out.insert(REGION.into(), Value::String(r.clone()));
                Ok(out)
            }
            Some(other) => Err(ProviderError::invalid(
                &self.schema.token,
                format!("`region` must be a string, not {}", other.type_name()),
            )),
        }
    }
}
