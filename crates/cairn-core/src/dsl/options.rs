//! Resource options in the DSL, read as a chain:
//! `Options::new().protect().provider(&east).depends_on([&key])`.
//! Every option a YAML resource takes under `options:` has one here, and
//! both produce the same [`ResourceOptions`].

use super::{Handle, Named, ProviderType};
use crate::spec::{Alias, ResourceOptions};
use std::time::Duration;

/// The options of one resource: the spec's [`ResourceOptions`] and the
/// explicit provider it uses (`options.provider`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options {
    pub(crate) spec: ResourceOptions,
    pub(crate) provider: Option<String>,
    /// `protect` was given (a child inherits its parent's otherwise).
    pub(crate) protect_set: bool,
}

impl From<ResourceOptions> for Options {
    fn from(spec: ResourceOptions) -> Self {
        Options {
            protect_set: spec.protect,
            spec,
            provider: None,
        }
    }
}

/// Whole seconds, rounded up, as YAML's `customTimeouts` reads `"1.5s"`.
fn seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl Options {
    pub fn new() -> Self {
        Options::default()
    }
    /// The options as the spec records them.
    pub fn spec(&self) -> &ResourceOptions {
        &self.spec
    }
    /// Its explicit provider (`provider`): the provider's `region` becomes
    /// the resource's, its `defaultTags` are merged under its tags, and it
    /// depends on the provider, as YAML's `options.provider: ${east}`.
    pub fn provider<P: ProviderType>(mut self, provider: &Handle<P>) -> Self {
        self.provider = Some(provider.logical_name().to_string());
        self
    }
    /// Refuse to delete or replace it (`protect: true`).
    pub fn protect(self) -> Self {
        self.protected(true)
    }
    /// `protect: false` or `true`, given: not inherited from the parent.
    pub fn protected(mut self, protect: bool) -> Self {
        self.spec.protect = protect;
        self.protect_set = true;
        self
    }
    /// Grouped under that resource (`parent`): it depends on it, and
    /// inherits its `protect` (unless given) and the provider the nearest
    /// parent chose for this resource's package (unless it chooses one).
    pub fn parent(mut self, resource: impl Named) -> Self {
        self.spec.parent = Some(resource.name().to_string());
        self
    }
    /// A former parent (`aliases: [{parent: ${old}}]`): re-parenting keeps the object.
    pub fn alias_parent(mut self, resource: impl Named) -> Self {
        self.spec
            .parent_aliases
            .push(Some(resource.name().to_string()));
        self
    }
    /// It had no parent before (`aliases: [{noParent: true}]`).
    pub fn alias_no_parent(mut self) -> Self {
        self.spec.parent_aliases.push(None);
        self
    }
    /// Keep the cloud object when it leaves the stack (`retainOnDelete`).
    pub fn retain_on_delete(mut self) -> Self {
        self.spec.retain_on_delete = true;
        self
    }
    /// Delete the old object before creating its replacement (`deleteBeforeReplace`).
    pub fn delete_before_replace(mut self) -> Self {
        self.spec.delete_before_replace = true;
        self
    }
    /// Adopt the existing cloud object with this id (`import`).
    pub fn import(mut self, id: impl Into<String>) -> Self {
        self.spec.import = Some(id.into());
        self
    }
    /// Property paths whose changes are ignored (`ignoreChanges`), e.g. `tags["env"]`.
    pub fn ignore_changes<S: Into<String>>(mut self, paths: impl IntoIterator<Item = S>) -> Self {
        self.spec
            .ignore_changes
            .extend(paths.into_iter().map(Into::into));
        self
    }
    /// Property paths whose change forces a replacement (`replaceOnChanges`; `*` for any).
    pub fn replace_on_changes<S: Into<String>>(
        mut self,
        paths: impl IntoIterator<Item = S>,
    ) -> Self {
        self.spec
            .replace_on_changes
            .extend(paths.into_iter().map(Into::into));
        self
    }
    /// Explicit dependencies (`dependsOn`): handles or logical names.
    pub fn depends_on<N: Named>(mut self, resources: impl IntoIterator<Item = N>) -> Self {
        for r in resources {
            let name = r.name().to_string();
            if !self.spec.depends_on.contains(&name) {
                self.spec.depends_on.push(name);
            }
        }
        self
    }
    /// Outputs recorded and shown as secret (`additionalSecretOutputs`).
    pub fn additional_secret_outputs<S: Into<String>>(
        mut self,
        names: impl IntoIterator<Item = S>,
    ) -> Self {
        self.spec
            .additional_secret_outputs
            .extend(names.into_iter().map(Into::into));
        self
    }
    /// A former logical name (`aliases: [{name: old}]`): a rename, not a replacement.
    pub fn alias(mut self, name: impl Into<String>) -> Self {
        self.spec.aliases.push(Alias {
            name: name.into(),
            type_token: None,
        });
        self
    }
    /// A former name and type (`aliases: [{name: old, type: aws:x:Y}]`).
    pub fn alias_typed(mut self, name: impl Into<String>, type_token: impl Into<String>) -> Self {
        self.spec.aliases.push(Alias {
            name: name.into(),
            type_token: Some(type_token.into()),
        });
        self
    }
    /// Deleted together with that resource (`deletedWith`).
    pub fn deleted_with(mut self, resource: impl Named) -> Self {
        self.spec.deleted_with = Some(resource.name().to_string());
        self
    }
    /// `customTimeouts.create`.
    pub fn create_timeout(mut self, d: Duration) -> Self {
        self.spec.custom_timeouts.create = Some(seconds(d));
        self
    }
    /// `customTimeouts.update`.
    pub fn update_timeout(mut self, d: Duration) -> Self {
        self.spec.custom_timeouts.update = Some(seconds(d));
        self
    }
    /// `customTimeouts.delete`.
    pub fn delete_timeout(mut self, d: Duration) -> Self {
        self.spec.custom_timeouts.delete = Some(seconds(d));
        self
    }
}
