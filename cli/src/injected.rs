//! Provider configuration the CLI supplies beyond the stack's provider blocks.
//!
//! Providers never read the environment (the CLI is the only place that does). What a user
//! expects to come from outside the stack (`AZURE_CLIENT_SECRET` and friends, or the embedded
//! emulator's endpoint and service principal under `--emulator`) is gathered here into an
//! [`Injection`] and merged into the configuration value the engine hands to a provider's
//! `configure`, exactly as if the user had written it in the provider block:
//!
//! - **defaults** fill attributes the block leaves unset (the environment: the block wins);
//! - **overrides** replace what the block says (`--emulator`: a stack that names a real
//!   endpoint or secret must still talk only to the local emulator, and never send a real
//!   credential to it).
//!
//! Design decision: a wrapper around the provider rather than a hook in the engine. The engine
//! keeps evaluating provider blocks as written; the wrapper changes only the value `configure`
//! receives, so plans, state and saved plans never hold injected values (secrets included).

use std::collections::BTreeMap;
use std::sync::Arc;

use lanestack_model::{
    ApplyRequest, AttrPath, BoxFuture, DataRequest, Map, PlanRequest, PlanResponse, Provider, ProviderError,
    ProviderSchema, ReadRequest, ResourceAddress, Value,
};

/// Values for one provider's configuration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layers {
    /// Used where the provider block leaves the attribute unset or null.
    pub defaults: BTreeMap<String, String>,
    /// Used whatever the provider block says.
    pub overrides: BTreeMap<String, String>,
}

impl Layers {
    /// `config` (the evaluated provider block, or null when there is none) with the layers
    /// merged in.
    pub fn merge(&self, config: &Value) -> Value {
        let mut out: Map = config.as_object().cloned().unwrap_or_default();
        for (name, value) in &self.defaults {
            if out.get(name.as_str()).is_none_or(Value::is_null) {
                out.insert(name.clone(), Value::from(value.as_str()));
            }
        }
        for (name, value) in &self.overrides {
            out.insert(name.clone(), Value::from(value.as_str()));
        }
        Value::Object(out)
    }

    fn is_empty(&self) -> bool {
        self.defaults.is_empty() && self.overrides.is_empty()
    }
}

/// Injected configuration, by provider name.
#[derive(Clone, Debug, Default)]
pub struct Injection {
    by_provider: BTreeMap<String, Layers>,
}

impl Injection {
    /// Nothing injected (validate, graph: they never configure providers).
    pub fn none() -> Injection {
        Injection::default()
    }

    /// The layers of one provider, created empty on first use.
    pub fn provider(&mut self, name: &str) -> &mut Layers {
        self.by_provider.entry(name.to_owned()).or_default()
    }

    /// `provider`, wrapped so that its configuration gets the injected values.
    pub fn wrap(&self, provider: Arc<dyn Provider>) -> Arc<dyn Provider> {
        match self.by_provider.get(provider.name()) {
            Some(layers) if !layers.is_empty() => {
                Arc::new(Injected { inner: provider, layers: layers.clone() })
            }
            _ => provider,
        }
    }
}

/// The image provider's inputs from the environment: Docker's configuration file, where
/// `docker login` and `az acr login` keep registry credentials (`$DOCKER_CONFIG/config.json`,
/// else `~/.docker/config.json`), when there is one.
pub fn image_from_env() -> Layers {
    let mut layers = Layers::default();
    let dir = match std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        Some(dir) => Some(std::path::PathBuf::from(dir)),
        None => std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| std::path::PathBuf::from(h).join(".docker")),
    };
    if let Some(file) = dir.map(|d| d.join("config.json")).filter(|f| f.is_file()) {
        layers.defaults.insert("docker_config_file".to_owned(), file.display().to_string());
    }
    layers
}

/// The azure provider's inputs from the environment, as the Azure SDKs and CLI read them.
pub fn azure_from_env() -> Layers {
    let mut layers = Layers::default();
    for (attr, var) in [
        ("subscription_id", "AZURE_SUBSCRIPTION_ID"),
        ("tenant_id", "AZURE_TENANT_ID"),
        ("client_id", "AZURE_CLIENT_ID"),
        ("client_secret", "AZURE_CLIENT_SECRET"),
        ("federated_token_file", "AZURE_FEDERATED_TOKEN_FILE"),
        ("authority_host", "AZURE_AUTHORITY_HOST"),
    ] {
        if let Ok(value) = std::env::var(var)
            && !value.is_empty()
        {
            layers.defaults.insert(attr.to_owned(), value);
        }
    }
    // A managed identity on App Service or Functions: IDENTITY_ENDPOINT and IDENTITY_HEADER,
    // or the older MSI_ENDPOINT and MSI_SECRET.
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let identity = match (var("IDENTITY_ENDPOINT"), var("IDENTITY_HEADER")) {
        (Some(endpoint), Some(header)) => Some((endpoint, header, "2019-08-01")),
        _ => match (var("MSI_ENDPOINT"), var("MSI_SECRET")) {
            (Some(endpoint), Some(secret)) => Some((endpoint, secret, "2017-09-01")),
            _ => None,
        },
    };
    if let Some((endpoint, header, api)) = identity {
        layers.defaults.insert("identity_endpoint".to_owned(), endpoint);
        layers.defaults.insert("identity_header".to_owned(), header);
        layers.defaults.insert("identity_api".to_owned(), api.to_owned());
    }
    layers
}

/// A provider whose configuration gets injected values; everything else is delegated.
struct Injected {
    inner: Arc<dyn Provider>,
    layers: Layers,
}

impl Provider for Injected {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn schema(&self) -> &ProviderSchema {
        self.inner.schema()
    }

    fn configure<'a>(&'a self, config: &'a Value) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let merged = self.layers.merge(config);
            self.inner.configure(&merged).await
        })
    }

    fn holds_data(&self, address: &ResourceAddress, state: &Value) -> bool {
        self.inner.holds_data(address, state)
    }

    fn validate(&self, address: &ResourceAddress, config: &Value) -> Vec<(AttrPath, String)> {
        self.inner.validate(address, config)
    }

    fn plan<'a>(&'a self, request: PlanRequest<'a>) -> BoxFuture<'a, Result<PlanResponse, ProviderError>> {
        self.inner.plan(request)
    }

    fn apply<'a>(&'a self, request: ApplyRequest<'a>) -> BoxFuture<'a, Result<Value, ProviderError>> {
        self.inner.apply(request)
    }

    fn read<'a>(&'a self, request: ReadRequest<'a>) -> BoxFuture<'a, Result<Option<Value>, ProviderError>> {
        self.inner.read(request)
    }

    fn read_data<'a>(&'a self, request: DataRequest<'a>) -> BoxFuture<'a, Result<Value, ProviderError>> {
        self.inner.read_data(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_gaps_and_overrides_win() {
        let mut layers = Layers::default();
        layers.defaults.insert("tenant_id".into(), "from-env".into());
        layers.defaults.insert("client_id".into(), "env-client".into());
        layers.overrides.insert("endpoint".into(), "https://127.0.0.1:1".into());
        let block = Value::object([
            ("client_id", Value::from("block-client")),
            ("endpoint", Value::from("https://management.azure.com")),
            ("subscription_id", Value::Null),
        ]);
        let merged = layers.merge(&block);
        let get = |n: &str| merged.get(&AttrPath::attr(n)).and_then(Value::as_str).map(str::to_owned);
        assert_eq!(get("tenant_id").as_deref(), Some("from-env"));
        assert_eq!(get("client_id").as_deref(), Some("block-client"));
        assert_eq!(get("endpoint").as_deref(), Some("https://127.0.0.1:1"));
        assert_eq!(
            layers.merge(&Value::Null).get(&AttrPath::attr("tenant_id")),
            Some(&Value::from("from-env"))
        );
    }
}
