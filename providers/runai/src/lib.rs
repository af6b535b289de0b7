//! The Run:ai provider, named `runai`: Run:ai projects through the control plane's REST API.
//!
//! - `runai_project` ([`project`]): a project (a scheduling queue with GPU quotas per node
//!   pool) and the namespace Run:ai makes for it in the cluster (`runai-<name>`);
//! - the data source `runai_cluster` ([`cluster`]): a cluster's uuid by name;
//! - [`client`]: the HTTP client (an application's client credentials for a bearer token,
//!   refreshed once on 401; errors with the API's status and message, never the secret).
//!
//! Configuration, in the `provider "runai"` block: `url` (the tenant's control plane,
//! `https://myorg.run.ai`), `client_id` and `client_secret` (an application's), and
//! `ca_certificate_file` (relative to the stack). Until they are known (they may come from
//! resources of the same plan), projects plan without IO.

pub mod client;
pub mod cluster;
pub mod project;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use lanestack_model::{
    ApplyRequest, AttrPath, AttrType, Attribute, Block, BoxFuture, DataRequest, ErrorKind, PlanRequest,
    PlanResponse, Provider, ProviderError, ProviderSchema, ReadRequest, ResourceAddress, Value,
};

use crate::client::{Client, Settings};

/// The provider's name, as used in type prefixes (`runai_project`).
pub const PROVIDER_NAME: &str = "runai";

/// The Run:ai provider. Cheap to share; the client is set by `configure`.
pub struct RunaiProvider {
    schema: ProviderSchema,
    base_dir: PathBuf,
    client: RwLock<Option<Arc<Client>>>,
}

impl std::fmt::Debug for RunaiProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunaiProvider").field("base_dir", &self.base_dir).finish_non_exhaustive()
    }
}

impl RunaiProvider {
    /// A provider resolving a relative `ca_certificate_file` against `base_dir`, the stack
    /// directory.
    pub fn new(base_dir: impl Into<PathBuf>) -> RunaiProvider {
        let s = || AttrType::String;
        let mut schema = ProviderSchema {
            provider: Block::new()
                .attr(
                    "url",
                    Attribute::optional(s()).describe("The tenant's control plane (https://myorg.run.ai)."),
                )
                .attr("client_id", Attribute::optional(s()).describe("The Run:ai application's client id."))
                .attr(
                    "client_secret",
                    Attribute::optional(s()).sensitive().describe("The Run:ai application's secret."),
                )
                .attr(
                    "ca_certificate_file",
                    Attribute::optional(s())
                        .describe("Trust the CAs in this PEM file only, instead of the system's."),
                ),
            ..ProviderSchema::default()
        };
        schema.resources.insert(project::TYPE_NAME.to_owned(), project::schema());
        schema.data_sources.insert(cluster::TYPE_NAME.to_owned(), cluster::schema());
        RunaiProvider { schema, base_dir: base_dir.into(), client: RwLock::new(None) }
    }

    fn configured(&self) -> Result<Arc<Client>, ProviderError> {
        self.client.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone().ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Invalid,
                "the runai provider is not configured: set url, client_id and client_secret in its provider block",
            )
        })
    }

    /// The client settings of a provider block; `None` when it sets nothing.
    pub fn settings(&self, config: &Value) -> Result<Option<Settings>, ProviderError> {
        let text = |name: &str| {
            config
                .get(&AttrPath::attr(name))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let invalid = |m: String| ProviderError::new(ErrorKind::Invalid, m);
        let (url, id, secret) = (text("url"), text("client_id"), text("client_secret"));
        let (url, client_id, client_secret) = match (url, id, secret) {
            (None, None, None) => return Ok(None),
            (Some(u), Some(i), Some(s)) => (u, i, s),
            _ => {
                return Err(invalid(
                    "the runai provider needs url, client_id and client_secret together".into(),
                ));
            }
        };
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(invalid(format!("url {url:?} is not an http(s) URL")));
        }
        let ca_pem = match text("ca_certificate_file") {
            None => None,
            Some(file) => {
                let path = self.base_dir.join(&file);
                Some(std::fs::read(&path).map_err(|e| {
                    invalid(format!("cannot read the CA certificate file {}: {e}", path.display()))
                })?)
            }
        };
        Ok(Some(Settings { url: url.trim_end_matches('/').to_owned(), client_id, client_secret, ca_pem }))
    }
}

impl Provider for RunaiProvider {
    fn name(&self) -> &str {
        PROVIDER_NAME
    }

    fn schema(&self) -> &ProviderSchema {
        &self.schema
    }

    fn configure<'a>(&'a self, config: &'a Value) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let client = match self.settings(config)? {
                Some(settings) => Some(Arc::new(Client::new(settings)?)),
                None => None,
            };
            *self.client.write().unwrap_or_else(std::sync::PoisonError::into_inner) = client;
            Ok(())
        })
    }

    fn validate(&self, address: &ResourceAddress, config: &Value) -> Vec<(AttrPath, String)> {
        match check_type(address) {
            Ok(()) => project::validate(config),
            Err(e) => vec![(AttrPath::root(), e.message)],
        }
    }

    fn plan<'a>(&'a self, request: PlanRequest<'a>) -> BoxFuture<'a, Result<PlanResponse, ProviderError>> {
        Box::pin(async move {
            check_type(request.address)?;
            Ok(project::plan(request.prior_state, request.config))
        })
    }

    fn apply<'a>(&'a self, request: ApplyRequest<'a>) -> BoxFuture<'a, Result<Value, ProviderError>> {
        Box::pin(async move {
            check_type(request.address)?;
            let client = self.configured()?;
            match (request.prior_state, request.planned_state) {
                (Some(prior), None) => project::delete(&client, prior).await.map(|()| Value::Null),
                (None, None) => Ok(Value::Null),
                (None, Some(planned)) => project::create(&client, planned).await,
                (Some(prior), Some(planned)) => project::update(&client, prior, planned).await,
            }
        })
    }

    fn read<'a>(&'a self, request: ReadRequest<'a>) -> BoxFuture<'a, Result<Option<Value>, ProviderError>> {
        Box::pin(async move {
            check_type(request.address)?;
            project::read(&*self.configured()?, request.state).await
        })
    }

    fn read_data<'a>(&'a self, request: DataRequest<'a>) -> BoxFuture<'a, Result<Value, ProviderError>> {
        Box::pin(async move {
            if request.address.type_name() != cluster::TYPE_NAME {
                return Err(ProviderError::new(
                    ErrorKind::Invalid,
                    format!("the runai provider has no data source {:?}", request.address.type_name()),
                ));
            }
            cluster::read(&*self.configured()?, request.config).await
        })
    }
}

fn check_type(address: &ResourceAddress) -> Result<(), ProviderError> {
    if address.type_name() == project::TYPE_NAME {
        return Ok(());
    }
    Err(ProviderError::new(
        ErrorKind::Invalid,
        format!("the runai provider has no resource type {:?}", address.type_name()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unconfigured_provider_plans_and_refuses_io_clearly() {
        let p = RunaiProvider::new(".");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            p.configure(&Value::Null).await.unwrap();
            let address: ResourceAddress = "runai_project.p".parse().unwrap();
            let config = Value::object([
                ("name", Value::from("p")),
                ("cluster_id", Value::Unknown),
                ("parent_id", Value::Null),
                ("node_pool", Value::List(Vec::new())),
            ]);
            let r =
                p.plan(PlanRequest { address: &address, prior_state: None, config: &config }).await.unwrap();
            assert_eq!(r.planned_state.get(&AttrPath::attr("id")), Some(&Value::Unknown));
            let e = p.read(ReadRequest { address: &address, state: &config }).await.unwrap_err();
            assert_eq!(e.kind, ErrorKind::Invalid);
            assert!(e.message.contains("not configured"), "{}", e.message);
        });
    }

    #[test]
    fn partial_or_bad_configuration_is_refused_without_the_secret() {
        let p = RunaiProvider::new(".");
        let block = |url: &str, secret: Option<&str>| {
            Value::object([
                ("url", Value::from(url)),
                ("client_id", Value::from("app")),
                ("client_secret", secret.map_or(Value::Null, Value::from)),
            ])
        };
        let e = p.settings(&block("https://x.run.ai", None)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Invalid);
        let e = p.settings(&block("x.run.ai", Some("hush"))).unwrap_err();
        assert!(!e.message.contains("hush"));
        let mut with_ca = block("https://x.run.ai/", Some("hush"));
        with_ca.set(&AttrPath::attr("ca_certificate_file"), Value::from("missing.pem"));
        let e = p.settings(&with_ca).unwrap_err();
        assert!(e.message.contains("missing.pem") && !e.message.contains("hush"));
        let s = p.settings(&block("https://x.run.ai/", Some("hush"))).unwrap().unwrap();
        assert_eq!(s.url, "https://x.run.ai");
    }

    #[test]
    fn unknown_types_are_refused() {
        let p = RunaiProvider::new(".");
        let address: ResourceAddress = "runai_queue.q".parse().unwrap();
        assert!(!p.validate(&address, &Value::Null).is_empty());
    }
}
