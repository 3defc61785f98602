//! Per-call `region` and `credentials` for data sources (as in Pulumi AWS
//! v7, where data sources take a `region` argument): every AWS data source
//! accepts them, and a call with them runs against clients in that region
//! (same endpoint) with those credentials (an explicit provider's `profile`
//! or `assumeRole`; see [`crate::regional`]). `fn::invoke`'s
//! `options.provider` sets both from an explicit `pulumi:providers:aws`
//! (cairn-config's `stack/invoke.rs`). The result echoes the region asked
//! for, never the credentials.

use crate::clients::Shared;
use crate::regional::{
    credential_source, credentials_schema, region_check, route_of, Route, CREDENTIALS, REGION,
};
use async_trait::async_trait;
use cairn_core::provider::{
    CallContext, CheckFailure, DataSource, DataSourceSchema, ProviderError,
};
use cairn_core::schema::{PropType, PropertySchema};
use cairn_core::value::{Map, PropertyPath, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// One route's data sources, by token.
type DataSet = BTreeMap<String, Arc<dyn DataSource>>;

/// Data source sets per route (region and credentials), built on first use.
pub(crate) struct DataRegions {
    base: Shared,
    sets: Mutex<BTreeMap<Route, DataSet>>,
}

impl DataRegions {
    pub(crate) fn new(base: Shared) -> Arc<Self> {
        Arc::new(DataRegions {
            base,
            sets: Mutex::new(BTreeMap::new()),
        })
    }

    fn data_source(&self, route: &Route, token: &str) -> Option<Arc<dyn DataSource>> {
        let mut sets = self.sets.lock().unwrap_or_else(|e| e.into_inner());
        let set = sets.entry(route.clone()).or_insert_with(|| {
            let clients = Arc::new(
                self.base
                    .with_settings(route.0.as_deref(), route.1.as_ref()),
            );
            crate::resources::all_data_sources(&clients)
                .into_iter()
                .map(|d| (d.schema().token.clone(), d))
                .collect()
        });
        set.get(token).cloned()
    }
}

/// One AWS data source, routed by its `region` and `credentials` arguments.
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
        if !schema.inputs.iter().any(|p| p.name == CREDENTIALS) {
            let mut p = credentials_schema();
            p.doc = "Credentials to read with (default: this run's, or the invoke's \
                     `options.provider`'s `profile` or `assumeRole`)."
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
    m.remove(CREDENTIALS);
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
        if let Some(Err(m)) = args.get(CREDENTIALS).map(credential_source) {
            out.push(
                CheckFailure::error(
                    crate::provider_resource::rules::ASSUME_ROLE,
                    PropertyPath::key(CREDENTIALS),
                    m,
                )
                .with_help("check the `profile` or `assumeRole` of the invoke's provider"),
            );
        }
        out
    }

    async fn invoke(&self, ctx: &CallContext, args: &Map) -> Result<Map, ProviderError> {
        let rest = strip(args);
        let route = route_of(&self.schema.token, args)?;
        if route.0.is_none() && route.1.is_none() {
            return self.default.invoke(ctx, &rest).await;
        }
        let ds = self
            .regions
            .data_source(&route, &self.schema.token)
            .ok_or_else(|| ProviderError::invalid(&self.schema.token, "no data source here"))?;
        let mut out = ds.invoke(ctx, &rest).await?;
        // The region asked for is echoed (as Pulumi's results carry it);
        // the credentials are not (the inner data source never saw them).
        if let Some(r) = route.0 {
            out.insert(REGION.into(), Value::String(r));
        }
        Ok(out)
    }
}
