//! The Azure provider, named `azure`.
//!
//! [`AzureProvider`] implements [`lanestack_model::Provider`] over Azure Resource Manager's REST
//! API for `azure_resource_group`, `azure_virtual_network`, `azure_subnet`,
//! `azure_virtual_network_peering`, `azure_netapp_account`, `azure_netapp_capacity_pool`,
//! `azure_netapp_volume`, `azure_kubernetes_cluster`, `azure_kubernetes_node_pool`,
//! `azure_container_registry` and `azure_role_assignment` ([`types::Type`]).
//!
//! - [`credential`]: the token chain: service principal (secret or workload identity), the
//!   Azure CLI's login, managed identity (IMDS or App Service).
//! - [`client`]: a lean ARM client (bearer token from client credentials, retries honouring
//!   `Retry-After`, long-running operations polled per ARM's rules).
//! - `limiter`: adaptive (AIMD) concurrency per subscription and bucket, from 429s,
//!   `Retry-After` and the `x-ms-ratelimit-remaining-subscription-*` headers.
//! - [`types`]: schemas, ARM ids, request bodies, and how ARM's answers become state.
//! - `workloads`: the volume, AKS, registry and role-assignment types, and their plan rules
//!   (a volume's move between pools, the autoscaler's node count, a deterministic role
//!   assignment name).
//! - `normalize`: semantic equality (case-insensitive ids, short locations, lists as sets), so
//!   that an unchanged stack plans no changes against real ARM responses.
//!
//! Design decision: ARM ids are computed from names at plan time. References to them plan with
//! known values, and an interrupted create is found again by reading the planned id back.
//!
//! The provider knows nothing of the emulator: tests and the CLI point `endpoint` and
//! `authority_host` at it.

pub mod client;
pub mod credential;
mod limiter;
mod normalize;
pub mod types;
mod workloads;

use std::sync::{Arc, RwLock};

use lanestack_model::schema::plan_by_schema;
use lanestack_model::{
    ApplyRequest, AttrPath, AttrType, Attribute, Block, BoxFuture, DataRequest, ErrorKind, PlanRequest,
    PlanResponse, Provider, ProviderError, ProviderSchema, ReadRequest, ResourceAddress, Value,
};

use crate::client::{ArmClient, RetryPolicy};
use crate::credential::{
    AzureCli, IMDS_ENDPOINT, IdentityKind, ManagedIdentity, Proof, ServicePrincipal, Source,
};
use crate::normalize::{attr, equivalent, str_attr};
use crate::types::{Type, Update};

/// The provider's name.
pub const PROVIDER_NAME: &str = "azure";

/// Azure's public cloud endpoints, used when the provider block leaves them unset.
const PUBLIC_ENDPOINT: &str = "https://management.azure.com";
const PUBLIC_AUTHORITY: &str = "https://login.microsoftonline.com";

struct Configured {
    subscription: String,
    client: ArmClient,
}

/// The `azure` provider.
pub struct AzureProvider {
    schema: ProviderSchema,
    blocks: Vec<(Type, Block)>,
    retry: RetryPolicy,
    /// The `PATH` the Azure CLI is looked up on; `None` inherits the process's.
    cli_search_path: Option<std::ffi::OsString>,
    /// What a relative `ca_certificate_file` is relative to: the stack directory.
    base_dir: std::path::PathBuf,
    configured: RwLock<Option<Arc<Configured>>>,
}

impl std::fmt::Debug for AzureProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureProvider").field("retry", &self.retry).finish_non_exhaustive()
    }
}

impl Default for AzureProvider {
    fn default() -> AzureProvider {
        AzureProvider::new()
    }
}

impl AzureProvider {
    /// The provider with the default retry policy.
    pub fn new() -> AzureProvider {
        AzureProvider::with_retry(RetryPolicy::default())
    }

    /// The provider with this retry policy (tests use [`RetryPolicy::fast`]).
    pub fn with_retry(retry: RetryPolicy) -> AzureProvider {
        let mut schema = ProviderSchema {
            provider: Block::new()
                .attr(
                    "subscription_id",
                    Attribute::optional(AttrType::String)
                        .describe("The subscription (the CLI fills it from AZURE_SUBSCRIPTION_ID when unset)."),
                )
                .attr(
                    "tenant_id",
                    Attribute::optional(AttrType::String)
                        .describe("The Entra ID tenant (the CLI fills it from AZURE_TENANT_ID when unset)."),
                )
                .attr(
                    "client_id",
                    Attribute::optional(AttrType::String)
                        .describe("The service principal's id (the CLI fills it from AZURE_CLIENT_ID when unset)."),
                )
                .attr(
                    "client_secret",
                    Attribute::optional(AttrType::String).sensitive().describe(
                        "The service principal's secret (the CLI fills it from AZURE_CLIENT_SECRET when unset).",
                    ),
                )
                .attr(
                    "federated_token_file",
                    Attribute::optional(AttrType::String).describe(
                        "A file holding a federated token (workload identity), used instead of client_secret \
                         (the CLI fills it from AZURE_FEDERATED_TOKEN_FILE when unset).",
                    ),
                )
                .attr(
                    "ca_certificate_file",
                    Attribute::optional(AttrType::String).describe(
                        "A PEM file of the CAs to trust instead of the system's, for the endpoint and the \
                         authority (a private cloud, a proxy, or the emulator under --emulator).",
                    ),
                )
                .attr(
                    "endpoint",
                    Attribute::optional(AttrType::String)
                        .describe("The resource manager URL; default management.azure.com."),
                )
                .attr(
                    "authority_host",
                    Attribute::optional(AttrType::String)
                        .describe("The Entra ID authority; default login.microsoftonline.com (AZURE_AUTHORITY_HOST)."),
                )
                .attr(
                    "managed_identity_endpoint",
                    Attribute::optional(AttrType::String).describe(
                        "The instance metadata service's token URL; default \
                         http://169.254.169.254/metadata/identity/oauth2/token.",
                    ),
                )
                .attr(
                    "identity_endpoint",
                    Attribute::optional(AttrType::String).describe(
                        "App Service's managed identity endpoint (the CLI fills it from IDENTITY_ENDPOINT, \
                         or MSI_ENDPOINT).",
                    ),
                )
                .attr(
                    "identity_header",
                    Attribute::optional(AttrType::String).sensitive().describe(
                        "App Service's managed identity header (the CLI fills it from IDENTITY_HEADER, or \
                         MSI_SECRET for the older MSI_ENDPOINT form).",
                    ),
                )
                .attr(
                    "identity_api",
                    Attribute::optional(AttrType::String).describe(
                        "\"2019-08-01\" (IDENTITY_ENDPOINT, the default) or \"2017-09-01\" (MSI_ENDPOINT).",
                    ),
                ),
            ..ProviderSchema::default()
        };
        let mut blocks = Vec::new();
        for t in Type::ALL {
            let s = t.schema();
            blocks.push((t, s.block.clone()));
            schema.resources.insert(t.name().to_owned(), s);
        }
        AzureProvider {
            schema,
            blocks,
            retry,
            cli_search_path: None,
            base_dir: std::path::PathBuf::from("."),
            configured: RwLock::new(None),
        }
    }

    /// Resolves a relative `ca_certificate_file` against `dir` (the stack directory), as every
    /// provider does with the paths a stack gives, rather than against the working directory.
    pub fn with_base_dir(mut self, dir: impl Into<std::path::PathBuf>) -> AzureProvider {
        self.base_dir = dir.into();
        self
    }

    /// Looks `az` up on this `PATH` instead of the process's. For tests, which put a fake
    /// `az` first; the process environment is never changed.
    pub fn with_azure_cli_search_path(mut self, path: std::ffi::OsString) -> AzureProvider {
        self.cli_search_path = Some(path);
        self
    }

    fn kind(address: &ResourceAddress) -> Result<Type, ProviderError> {
        Type::of(address.type_name()).ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Invalid,
                format!("{address}: the azure provider has no resource type {:?}", address.type_name()),
            )
        })
    }

    fn block(&self, t: Type) -> &Block {
        // Every type has a block; the fallback is never used.
        self.blocks.iter().find(|(k, _)| *k == t).map_or(&self.blocks[0].1, |(_, b)| b)
    }

    fn configured(&self) -> Result<Arc<Configured>, ProviderError> {
        self.configured.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone().ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Invalid,
                "the azure provider is not configured: add a provider \"azure\" block",
            )
        })
    }

    fn subscription(&self) -> String {
        self.configured
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .map(|c| c.subscription.clone())
            .unwrap_or_default()
    }

    fn plan_facts(
        &self,
        t: Type,
        address: &ResourceAddress,
        prior: Option<&Value>,
        config: &Value,
    ) -> PlanResponse {
        let block = self.block(t);
        let mut response = plan_by_schema(block, prior, config);
        if t == Type::KubernetesCluster
            && let Some(prior) = prior
        {
            response.requires_replace.extend(workloads::cluster_replacements(prior, config));
        }
        let planned = &mut response.planned_state;
        for (name, default) in t.defaults() {
            let path = AttrPath::attr(*name);
            if planned.get(&path).is_none_or(Value::is_null) {
                planned.set(&path, default());
            }
        }
        if let Some(prior) = prior {
            // What means the same as the prior state keeps the prior spelling and forces nothing.
            for (name, norm) in t.norms() {
                let path = AttrPath::attr(*name);
                let was = prior.get(&path).cloned().unwrap_or(Value::Null);
                let now = planned.get(&path).cloned().unwrap_or(Value::Null);
                if !now.contains_unknown() && equivalent(*norm, &was, &now) {
                    planned.set(&path, was);
                    response.requires_replace.retain(|p| *p != path);
                }
            }
            let reconciled = t.reconcile(planned.clone(), prior);
            *planned = reconciled;
            if !response.requires_replace.is_empty() {
                // Computed values of a replaced object are new, except the id (names unchanged).
                for (name, a) in &block.attributes {
                    if a.presence == lanestack_model::Presence::Computed {
                        planned.set(&AttrPath::attr(name.clone()), Value::Unknown);
                    }
                }
            }
        }
        let _ = address;
        match t {
            Type::NodePool => workloads::node_pool_plan(prior, config, planned),
            Type::Volume => {
                // A move to another pool takes that pool's service level.
                if let Some(prior) = prior
                    && workloads::pool_changes(prior, planned)
                    && attr(config, "service_level").is_null()
                {
                    planned.set(&AttrPath::attr("service_level"), Value::Unknown);
                }
            }
            Type::RoleAssignment => {
                if attr(planned, "name").is_unknown()
                    && let Some(n) = workloads::role_assignment_name_of(config)
                {
                    planned.set(&AttrPath::attr("name"), Value::from(n));
                }
            }
            Type::ResourceGroup
            | Type::VirtualNetwork
            | Type::Subnet
            | Type::Peering
            | Type::NetAppAccount
            | Type::CapacityPool
            | Type::KubernetesCluster
            | Type::ContainerRegistry => {}
        }
        if let Some(id) = t.arm_id(&self.subscription(), config) {
            let keep = prior
                .and_then(|p| str_attr(p, "id"))
                .filter(|p| p.eq_ignore_ascii_case(&id))
                .map(str::to_owned);
            planned.set(&AttrPath::attr("id"), Value::from(keep.unwrap_or(id)));
        }
        response
    }

    async fn create_or_update(
        &self,
        t: Type,
        prior: Option<&Value>,
        planned: &Value,
    ) -> Result<Value, ProviderError> {
        let c = self.configured()?;
        let Some(id) = t.arm_id(&c.subscription, planned) else {
            return Err(ProviderError::new(
                ErrorKind::Invalid,
                "the names of the object are not known at apply time",
            ));
        };
        let api = t.api_version();
        if t == Type::Volume
            && let Some(prior) = prior
            && workloads::pool_changes(prior, planned)
        {
            // Moving to another pool is the poolChange action on the volume where it is now;
            // ARM then serves it under the new pool's path, which the PATCH below uses.
            let from = str_attr(prior, "id").map(str::to_owned).or_else(|| t.arm_id(&c.subscription, prior));
            let to = workloads::pool_id(&c.subscription, planned);
            if let (Some(from), Some(to)) = (from, to) {
                c.client
                    .post(&from, "poolChange", api, &serde_json::json!({ "newPoolResourceId": to }))
                    .await?;
            }
        }
        let live = match (prior, t.update()) {
            (Some(_), Update::Patch) => c.client.patch(&id, api, &t.patch_body(planned)).await?,
            (_, _) => {
                let existing = if t == Type::VirtualNetwork { c.client.get(&id, api).await? } else { None };
                c.client.put(&id, api, &t.put_body(planned, existing.as_ref())).await?
            }
        };
        let state = t.reconcile(t.state(&live), planned);
        self.with_credentials(&c, t, &id, state).await
    }

    /// A volume that is no longer where state says (someone moved it to another pool of the
    /// account): found by its name in the account's other pools, so that the plan moves it
    /// back instead of creating a second volume with the same file path.
    async fn find_moved_volume(
        &self,
        c: &Configured,
        id: &str,
    ) -> Result<Option<serde_json::Value>, ProviderError> {
        let Some((pools, name)) = id.rsplit_once("/volumes/") else { return Ok(None) };
        let Some((account, _)) = pools.rsplit_once("/capacityPools/") else { return Ok(None) };
        let api = Type::Volume.api_version();
        let Some(list) = c.client.get(&format!("{account}/capacityPools"), api).await? else {
            return Ok(None);
        };
        for pool in list["value"].as_array().cloned().unwrap_or_default() {
            let Some(pool_id) = pool["id"].as_str() else { continue };
            if pool_id.eq_ignore_ascii_case(pools) {
                continue;
            }
            if let Some(v) = c.client.get(&format!("{pool_id}/volumes/{name}"), api).await? {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    /// A cluster's state with its user kubeconfig (listClusterUserCredential); other types'
    /// states as they are.
    async fn with_credentials(
        &self,
        c: &Configured,
        t: Type,
        id: &str,
        mut state: Value,
    ) -> Result<Value, ProviderError> {
        if t == Type::KubernetesCluster {
            let credentials = c
                .client
                .post(id, "listClusterUserCredential", t.api_version(), &serde_json::json!({}))
                .await?;
            let config = workloads::kubeconfig(&credentials).map_or(Value::Null, Value::from);
            state.set(&AttrPath::attr("kube_config_raw"), config);
            let given = state
                .get(&"default_node_pool.vnet_subnet_id".parse().unwrap_or_default())
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
            let network = match given {
                Some(subnet) => workloads::network_of_subnet(&subnet),
                None => {
                    let node_rg = state.get(&AttrPath::attr("node_resource_group")).and_then(Value::as_str);
                    let subscription = id.split('/').nth(2).unwrap_or_default();
                    match node_rg {
                        Some(rg) => {
                            let vnets = format!(
                                "/subscriptions/{subscription}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks"
                            );
                            let listing = c.client.get(&vnets, Type::VirtualNetwork.api_version()).await?;
                            listing.as_ref().and_then(workloads::network_of_listing)
                        }
                        None => None,
                    }
                }
            };
            if let Some((vnet_id, vnet_name, subnet_id)) = network {
                state.set(&AttrPath::attr("node_vnet_id"), Value::from(vnet_id));
                state.set(&AttrPath::attr("node_vnet_name"), Value::from(vnet_name));
                state.set(&AttrPath::attr("node_subnet_id"), Value::from(subnet_id));
            }
        }
        Ok(state)
    }
}

impl Provider for AzureProvider {
    fn name(&self) -> &str {
        PROVIDER_NAME
    }

    fn schema(&self) -> &ProviderSchema {
        &self.schema
    }

    fn configure<'a>(&'a self, config: &'a Value) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let config = config.unmark();
            let get = |n: &str| str_attr(&config, n).filter(|s| !s.is_empty()).map(str::to_owned);
            let need = |n: &str| {
                get(n).ok_or_else(|| {
                    ProviderError::new(
                        ErrorKind::Invalid,
                        format!("the azure provider needs {n}: set it in the provider \"azure\" block"),
                    )
                })
            };
            let subscription = need("subscription_id")?;
            // The chain, in the order the Azure SDKs use: a service principal from the settings
            // (or AZURE_* through the CLI), the Azure CLI's login, a managed identity.
            let mut credentials = Vec::new();
            let proof = match (get("client_secret"), get("federated_token_file")) {
                (Some(secret), _) => Some(Proof::Secret(secret)),
                (None, Some(file)) => Some(Proof::FederatedTokenFile(file.into())),
                (None, None) => None,
            };
            if let Some(proof) = proof {
                credentials.push(Source::ServicePrincipal(ServicePrincipal {
                    tenant_id: need("tenant_id")?,
                    client_id: need("client_id")?,
                    proof,
                    authority_host: get("authority_host").unwrap_or_else(|| PUBLIC_AUTHORITY.to_owned()),
                }));
            }
            credentials.push(Source::AzureCli(AzureCli { search_path: self.cli_search_path.clone() }));
            let identity = match (get("identity_endpoint"), get("identity_header")) {
                (Some(endpoint), Some(header)) => ManagedIdentity {
                    kind: if get("identity_api").as_deref() == Some("2017-09-01") {
                        IdentityKind::LegacyAppService(header)
                    } else {
                        IdentityKind::AppService(header)
                    },
                    endpoint,
                    client_id: get("client_id"),
                },
                _ => ManagedIdentity {
                    kind: IdentityKind::Imds,
                    endpoint: get("managed_identity_endpoint").unwrap_or_else(|| IMDS_ENDPOINT.to_owned()),
                    client_id: get("client_id"),
                },
            };
            credentials.push(Source::ManagedIdentity(identity));
            let endpoint = get("endpoint").unwrap_or_else(|| PUBLIC_ENDPOINT.to_owned());
            let ca = match get("ca_certificate_file") {
                None => None,
                Some(file) => Some(std::fs::read(self.base_dir.join(&file)).map_err(|e| {
                    ProviderError::new(
                        ErrorKind::Invalid,
                        format!("could not read ca_certificate_file {file}: {e}"),
                    )
                })?),
            };
            let client = ArmClient::new(&endpoint, credentials, self.retry, ca.as_deref())?;
            *self.configured.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
                Some(Arc::new(Configured { subscription, client }));
            Ok(())
        })
    }

    fn validate(&self, address: &ResourceAddress, config: &Value) -> Vec<(AttrPath, String)> {
        let mut problems = Vec::new();
        if address.type_name() == Type::CapacityPool.name() {
            if let Some(size) = attr(config, "size_in_tb").as_f64()
                && (size < 4.0 || size.fract() != 0.0)
            {
                problems.push((
                    AttrPath::attr("size_in_tb"),
                    "a capacity pool is a whole number of TiB, at least 4".to_owned(),
                ));
            }
            if let Some(level) = str_attr(config, "service_level")
                && !["Standard", "Premium", "Ultra"].contains(&level)
            {
                problems.push((
                    AttrPath::attr("service_level"),
                    "expected Standard, Premium or Ultra".to_owned(),
                ));
            }
        }
        let one_of = |problems: &mut Vec<(AttrPath, String)>, name: &str, allowed: &[&str]| {
            if let Some(v) = str_attr(config, name)
                && !allowed.iter().any(|a| a.eq_ignore_ascii_case(v))
            {
                problems.push((AttrPath::attr(name), format!("expected one of {}", allowed.join(", "))));
            }
        };
        match Type::of(address.type_name()) {
            Some(Type::Volume) => one_of(&mut problems, "service_level", &["Standard", "Premium", "Ultra"]),
            Some(Type::ContainerRegistry) => {
                one_of(&mut problems, "sku", &["Basic", "Standard", "Premium"]);
                if let Some(n) = str_attr(config, "name")
                    && (!(5..=50).contains(&n.len()) || !n.chars().all(|c| c.is_ascii_alphanumeric()))
                {
                    problems.push((
                        AttrPath::attr("name"),
                        "a registry name is 5 to 50 letters and digits (it becomes <name>.azurecr.io)"
                            .to_owned(),
                    ));
                }
            }
            Some(Type::NodePool) => {
                let auto = matches!(attr(config, "enable_auto_scaling"), Value::Bool(true));
                if auto && (attr(config, "min_count").is_null() || attr(config, "max_count").is_null()) {
                    problems.push((
                        AttrPath::attr("enable_auto_scaling"),
                        "the autoscaler needs min_count and max_count".to_owned(),
                    ));
                }
            }
            Some(Type::KubernetesCluster) => {
                if let Some(t) = str_attr(attr(config, "identity"), "type")
                    && !t.eq_ignore_ascii_case("SystemAssigned")
                {
                    problems.push((
                        AttrPath::attr("identity").join(lanestack_model::PathStep::Attr("type".to_owned())),
                        "expected SystemAssigned".to_owned(),
                    ));
                }
            }
            Some(
                Type::ResourceGroup
                | Type::VirtualNetwork
                | Type::Subnet
                | Type::Peering
                | Type::NetAppAccount
                | Type::CapacityPool
                | Type::RoleAssignment,
            )
            | None => {}
        }
        problems
    }

    fn plan<'a>(&'a self, request: PlanRequest<'a>) -> BoxFuture<'a, Result<PlanResponse, ProviderError>> {
        Box::pin(async move {
            let t = AzureProvider::kind(request.address)?;
            let prior = request.prior_state.map(Value::unmark);
            Ok(self.plan_facts(t, request.address, prior.as_ref(), request.config))
        })
    }

    fn apply<'a>(&'a self, request: ApplyRequest<'a>) -> BoxFuture<'a, Result<Value, ProviderError>> {
        Box::pin(async move {
            let t = AzureProvider::kind(request.address)?;
            let prior = request.prior_state.map(Value::unmark);
            match request.planned_state {
                Some(planned) => {
                    let planned = planned.unmark();
                    self.create_or_update(t, prior.as_ref(), &planned).await
                }
                None => {
                    let c = self.configured()?;
                    let Some(prior) = prior else { return Ok(Value::Null) };
                    let id = str_attr(&prior, "id")
                        .map(str::to_owned)
                        .or_else(|| t.arm_id(&c.subscription, &prior));
                    if let Some(id) = id {
                        c.client.delete(&id, t.api_version()).await.map_err(ProviderError::from)?;
                    }
                    Ok(Value::Null)
                }
            }
        })
    }

    fn read<'a>(&'a self, request: ReadRequest<'a>) -> BoxFuture<'a, Result<Option<Value>, ProviderError>> {
        Box::pin(async move {
            let t = AzureProvider::kind(request.address)?;
            let c = self.configured()?;
            let state = request.state.unmark();
            let id = str_attr(&state, "id").map(str::to_owned).or_else(|| t.arm_id(&c.subscription, &state));
            let Some(id) = id else { return Ok(None) };
            let mut found = c.client.get(&id, t.api_version()).await.map_err(ProviderError::from)?;
            if found.is_none() && t == Type::Volume {
                found = self.find_moved_volume(&c, &id).await?;
            }
            match found {
                None => Ok(None),
                Some(live) => {
                    let fresh = t.reconcile(t.state(&live), &state);
                    Ok(Some(self.with_credentials(&c, t, &id, fresh).await?))
                }
            }
        })
    }

    fn read_data<'a>(&'a self, request: DataRequest<'a>) -> BoxFuture<'a, Result<Value, ProviderError>> {
        Box::pin(async move {
            Err(ProviderError::new(
                ErrorKind::Invalid,
                format!("{}: the azure provider has no data sources", request.address),
            ))
        })
    }
}
