//! Per-resource `region` (as in Pulumi AWS v7): every AWS type takes an
//! optional `region` input, which `options.provider` sets from an explicit
//! `pulumi:providers:aws`. Calls for a resource with a `region` go to
//! clients in that region (same endpoint and credentials); without one, to
//! the run's. The input is recorded in state like any other, so destroy
//! and drift reach the right region, and changing it replaces the resource.

use crate::clients::Shared;
use async_trait::async_trait;
use cairn_core::provider::{
    CallContext, CheckFailure, Created, Observed, PendingOptions, PendingUpdate, ProviderError,
    ReadRequest, ResourceProvider, StackView,
};
use cairn_core::schema::{PropType, PropertySchema, ResourceSchema};
use cairn_core::value::{Map, PropertyPath, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The input naming a resource's region.
pub const REGION: &str = "region";
/// Rule id of a malformed `region`.
pub const REGION_RULE: &str = "aws::provider::region";

/// `us-east-1`, `eu-west-1`, `us-gov-west-1`, `cn-north-1`, ...
pub fn region_ok(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts
            .iter()
            .take(parts.len() - 1)
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

/// `schema` with the `region` input added.
pub fn with_region(mut schema: ResourceSchema) -> ResourceSchema {
    if !schema.properties.iter().any(|p| p.name == REGION) {
        let mut p = PropertySchema::new(REGION, PropType::string()).replaces();
        p.doc = "Region where this resource is managed (default: its provider's, \
                 set by `options.provider`); a change replaces it."
            .into();
        schema.properties.push(p);
    }
    schema
}

/// One region's providers, by type token.
type ProviderSet = BTreeMap<String, Arc<dyn ResourceProvider>>;

/// Provider sets per region, built on first use.
pub(crate) struct Regions {
    base: Shared,
    sets: Mutex<BTreeMap<String, ProviderSet>>,
}

impl Regions {
    pub(crate) fn new(base: Shared) -> Arc<Self> {
        Arc::new(Regions {
            base,
            sets: Mutex::new(BTreeMap::new()),
        })
    }

    fn provider(&self, region: &str, token: &str) -> Option<Arc<dyn ResourceProvider>> {
        let mut sets = self.sets.lock().unwrap_or_else(|e| e.into_inner());
        let set = sets.entry(region.to_string()).or_insert_with(|| {
            let clients = Arc::new(self.base.in_region(region));
            crate::resources::all_providers(&clients)
                .into_iter()
                .map(|p| (p.schema().token.clone(), p))
                .collect()
        });
        set.get(token).cloned()
    }
}

/// One AWS type, routed by its `region` input.
pub(crate) struct Regional {
    schema: ResourceSchema,
    default: Arc<dyn ResourceProvider>,
    regions: Arc<Regions>,
}

impl Regional {
    pub(crate) fn new(default: Arc<dyn ResourceProvider>, regions: Arc<Regions>) -> Self {
        let mut schema = with_region(default.schema().clone());
        // Absent means the run's region: moving a resource between the
        // default provider and an explicit one in that region is no change.
        if let Some(run) = regions.base.known_region() {
            for p in schema.properties.iter_mut().filter(|p| p.name == REGION) {
                p.absent_means = Some(Value::String(run.clone()));
            }
        }
        Regional {
            schema,
            default,
            regions,
        }
    }

    /// The inner provider for `inputs`, and the inputs without `region`.
    fn pick(&self, inputs: &Map) -> Result<(Arc<dyn ResourceProvider>, Map), ProviderError> {
        let mut rest = inputs.clone();
        match rest.remove(REGION) {
            None | Some(Value::Null) => Ok((self.default.clone(), rest)),
            Some(Value::String(r)) => {
                let p = self
                    .regions
                    .provider(&r, &self.schema.token)
                    .ok_or_else(|| {
                        ProviderError::invalid(&self.schema.token, "no provider for this type")
                    })?;
                Ok((p, rest))
            }
            Some(other) => Err(ProviderError::invalid(
                &self.schema.token,
                format!("`region` must be a string, not {}", other.type_name()),
            )),
        }
    }
}

fn strip(inputs: &Map) -> Map {
    let mut m = inputs.clone();
    m.remove(REGION);
    m
}

fn with_region_of(mut observed: Observed, requested: &Map) -> Observed {
    if let Some(r) = requested.get(REGION) {
        observed.inputs.insert(REGION.into(), r.clone());
    }
    observed
}

#[async_trait]
impl ResourceProvider for Regional {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    fn check(&self, inputs: &Map) -> Vec<CheckFailure> {
        let mut out = self.default.check(&strip(inputs));
        if let Some(Value::String(r)) = inputs.get(REGION) {
            if !region_ok(r) {
                out.push(
                    CheckFailure::error(
                        REGION_RULE,
                        PropertyPath::key(REGION),
                        format!("`{r}` is not an AWS region name"),
                    )
                    .with_help("write a region such as `us-east-1` or `eu-west-1`"),
                );
            }
        }
        out
    }

    fn check_in_stack(&self, name: &str, inputs: &Map, stack: &dyn StackView) -> Vec<CheckFailure> {
        self.default.check_in_stack(name, &strip(inputs), stack)
    }

    fn check_change(&self, old: &Map, new: &Map) -> Vec<CheckFailure> {
        self.default.check_change(&strip(old), &strip(new))
    }

    fn pending_update(
        &self,
        old: &Map,
        new: &Map,
        outputs: &Map,
        opts: &PendingOptions,
    ) -> Option<PendingUpdate> {
        self.default
            .pending_update(&strip(old), &strip(new), outputs, opts)
    }

    fn extra_replace_paths(&self, old: &Map, new: &Map) -> Vec<PropertyPath> {
        self.default.extra_replace_paths(&strip(old), &strip(new))
    }

    fn has_external_effects(&self) -> bool {
        self.default.has_external_effects()
    }

    async fn create(&self, ctx: &CallContext, inputs: &Map) -> Result<Created, ProviderError> {
        let (p, rest) = self.pick(inputs)?;
        p.create(ctx, &rest).await
    }

    async fn read(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
    ) -> Result<Option<Observed>, ProviderError> {
        let (p, rest) = self.pick(inputs)?;
        Ok(p.read(ctx, id, &rest)
            .await?
            .map(|o| with_region_of(o, inputs)))
    }

    fn read_batch_limit(&self) -> Option<usize> {
        self.default.read_batch_limit()
    }

    async fn read_many(
        &self,
        reqs: &[ReadRequest],
    ) -> Result<BTreeMap<String, Observed>, ProviderError> {
        // One batch per region.
        let mut groups: BTreeMap<Option<String>, Vec<ReadRequest>> = BTreeMap::new();
        for r in reqs {
            let region = match r.inputs.get(REGION) {
                Some(Value::String(s)) => Some(s.clone()),
                _ => None,
            };
            let mut req = r.clone();
            req.inputs = strip(&r.inputs);
            groups.entry(region).or_default().push(req);
        }
        let mut found = BTreeMap::new();
        for (region, group) in groups {
            let p = match &region {
                None => self.default.clone(),
                Some(r) => self
                    .regions
                    .provider(r, &self.schema.token)
                    .unwrap_or_else(|| self.default.clone()),
            };
            for (id, mut o) in p.read_many(&group).await? {
                if let Some(r) = &region {
                    o.inputs.insert(REGION.into(), Value::String(r.clone()));
                }
                found.insert(id, o);
            }
        }
        Ok(found)
    }

    async fn update(
        &self,
        ctx: &CallContext,
        id: &str,
        old_inputs: &Map,
        new_inputs: &Map,
        old_outputs: &Map,
    ) -> Result<Map, ProviderError> {
        let (p, rest) = self.pick(new_inputs)?;
        p.update(ctx, id, &strip(old_inputs), &rest, old_outputs)
            .await
    }

    async fn delete(
        &self,
        ctx: &CallContext,
        id: &str,
        inputs: &Map,
        outputs: &Map,
    ) -> Result<(), ProviderError> {
        let (p, rest) = self.pick(inputs)?;
        p.delete(ctx, id, &rest, outputs).await
    }

    async fn recover(
        &self,
        ctx: &CallContext,
        inputs: &Map,
    ) -> Result<Option<Created>, ProviderError> {
        let (p, rest) = self.pick(inputs)?;
        p.recover(ctx, &rest).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names() {
        for ok in ["us-east-1", "eu-west-1", "us-gov-west-1", "ap-southeast-2"] {
            assert!(region_ok(ok), "{ok}");
        }
        for bad in [
            "",
            "us-east",
            "Europe",
            "us_east_1",
            "us-east-1a",
            "useast1",
        ] {
            assert!(!region_ok(bad), "{bad}");
        }
    }
}
