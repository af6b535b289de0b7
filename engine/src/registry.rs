//! The providers a run can use, by name.

use std::collections::BTreeMap;
use std::sync::Arc;

use lanestack_model::{Provider, ProviderSchema, ResourceSchema};

/// The providers available to a plan or apply, keyed by provider name (the resource type
/// prefix: `lanestack`, `azure`, `kubernetes`).
#[derive(Clone, Default)]
pub struct Providers {
    by_name: BTreeMap<String, Arc<dyn Provider>>,
    schemas: BTreeMap<String, ProviderSchema>,
}

impl Providers {
    /// An empty registry.
    pub fn new() -> Providers {
        Providers::default()
    }

    /// Adds a provider under its own name (replacing any provider of the same name).
    pub fn with(mut self, provider: Arc<dyn Provider>) -> Providers {
        let name = provider.name().to_owned();
        self.schemas.insert(name.clone(), provider.schema().clone());
        self.by_name.insert(name, provider);
        self
    }

    /// The provider with this name.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Provider>> {
        self.by_name.get(name)
    }

    /// Every provider's schema, by provider name.
    pub fn schemas(&self) -> &BTreeMap<String, ProviderSchema> {
        &self.schemas
    }

    /// The schema of a managed resource type (`data == false`) or data source.
    pub fn resource_schema(&self, type_name: &str, data: bool) -> Option<&ResourceSchema> {
        let schema = self.schemas.get(lanestack_model::address::provider_of(type_name))?;
        if data { schema.data_sources.get(type_name) } else { schema.resources.get(type_name) }
    }
}
