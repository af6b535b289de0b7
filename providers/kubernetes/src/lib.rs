//! The Kubernetes provider, named `kubernetes`.
//!
//! [`KubernetesProvider`] implements [`lanestack_model::Provider`] over the Kubernetes API with
//! [`lanestack_kube::Client`]:
//!
//! - `kubernetes_namespace` and `kubernetes_secret` ([`kinds`]), in Terraform's kubernetes
//!   provider's vocabulary (`metadata { name namespace labels annotations }`, a secret's `data`
//!   in plain text and marked sensitive, `binary_data` in base64);
//! - creates and updates are **server-side apply** with field manager `lanestack` (and `force`,
//!   since what is applied is exactly what the reviewed plan showed): lanestack owns the fields
//!   it sets and nothing else, so labels, annotations and keys added by controllers or people
//!   are neither removed nor shown as changes ([`owned`]);
//! - a create refuses an object that already exists (as Terraform does) rather than silently
//!   adopting it; a namespace's delete waits until the namespace and its content are gone.
//!
//! Configuration, in the `provider "kubernetes"` block: `kubeconfig` (the text of a kubeconfig,
//! sensitive — e.g. a managed cluster's credentials), or `config_path` (a file, relative to the
//! stack), with `config_context`; with none of them, whatever the environment points at
//! (`KUBECONFIG`, then a pod's service account, then `~/.kube/config`), from the variables the
//! CLI hands over ([`Ambient`]).

pub mod kinds;
pub mod manifest;
pub mod owned;
pub mod wait;

use std::path::PathBuf;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use lanestack_kube::{ApplyOptions, Client, Config, Error as KubeError};
use lanestack_model::{
    ApplyRequest, AttrPath, AttrType, Attribute, Block, BoxFuture, DataRequest, ErrorKind, PlanRequest,
    PlanResponse, Provider, ProviderError, ProviderSchema, ReadRequest, ResourceAddress, Value,
};

pub use kinds::Kind;

/// The provider's name, as used in type prefixes (`kubernetes_secret`).
pub const PROVIDER_NAME: &str = "kubernetes";

/// How long a namespace's deletion may take before the apply reports it.
const NAMESPACE_DELETE_TIMEOUT: Duration = Duration::from_secs(300);

/// A resource type of this provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Type {
    /// A typed resource (`kubernetes_secret`).
    Typed(Kind),
    /// `kubernetes_manifest`.
    Manifest,
}

/// What the environment says, for a provider block that names no configuration: the
/// variables [`Config::infer`] reads and the service-account directory. The CLI, which alone
/// reads the environment, fills it in.
#[derive(Clone, Debug, Default)]
pub struct Ambient {
    /// `(name, value)` of the variables that were set: `KUBECONFIG`, `HOME`,
    /// `KUBERNETES_SERVICE_HOST`, `KUBERNETES_SERVICE_PORT`, `POD_NAMESPACE`.
    pub vars: Vec<(String, String)>,
    /// The service-account directory (`/var/run/secrets/kubernetes.io/serviceaccount` in a pod).
    pub service_account_dir: PathBuf,
}

impl Ambient {
    /// The variables [`Config::infer_from`] consults.
    pub const VARIABLES: [&str; 5] =
        ["KUBECONFIG", "HOME", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "POD_NAMESPACE"];

    fn get(&self, name: &str) -> Option<String> {
        self.vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }
}

/// The Kubernetes provider. Cheap to share; the client is set by `configure`.
pub struct KubernetesProvider {
    schema: ProviderSchema,
    base_dir: PathBuf,
    ambient: Ambient,
    client: RwLock<Option<Client>>,
    discovery: manifest::Discovery,
}

impl std::fmt::Debug for KubernetesProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubernetesProvider").field("base_dir", &self.base_dir).finish_non_exhaustive()
    }
}

impl KubernetesProvider {
    /// A provider resolving a relative `config_path` against `base_dir` (the stack directory)
    /// and falling back on `ambient` when its block names no configuration.
    pub fn new(base_dir: impl Into<PathBuf>, ambient: Ambient) -> KubernetesProvider {
        let mut schema = ProviderSchema {
            provider: Block::new()
                .attr(
                    "kubeconfig",
                    Attribute::optional(AttrType::String)
                        .sensitive()
                        .describe("The text of a kubeconfig (a cluster's credentials)."),
                )
                .attr(
                    "config_path",
                    Attribute::optional(AttrType::String)
                        .describe("A kubeconfig file, relative to the stack."),
                )
                .attr(
                    "config_context",
                    Attribute::optional(AttrType::String)
                        .describe("The kubeconfig context to use (default: its current-context)."),
                )
                .attr(
                    "allowed_server_prefix",
                    Attribute::optional(AttrType::String).describe(
                        "Refuse any cluster whose API server URL does not start with this (a stack meant for \
                         one cluster never touches another; `--emulator` sets it to the local cloud's).",
                    ),
                ),
            ..ProviderSchema::default()
        };
        for kind in Kind::ALL {
            schema.resources.insert(kind.type_name().to_owned(), kind.schema());
        }
        schema.resources.insert(manifest::TYPE_NAME.to_owned(), manifest::schema());
        KubernetesProvider {
            schema,
            base_dir: base_dir.into(),
            ambient,
            client: RwLock::new(None),
            discovery: manifest::Discovery::default(),
        }
    }

    fn client(&self) -> Result<Client, ProviderError> {
        self.client.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone().ok_or_else(|| {
            ProviderError::new(ErrorKind::Failed, "the kubernetes provider was used before it was configured")
        })
    }

    fn config(&self, block: &Value) -> Result<Config, ProviderError> {
        let text =
            |name: &str| kinds::attr(block, name).as_str().filter(|s| !s.is_empty()).map(str::to_owned);
        let context = text("config_context");
        let invalid = |e: lanestack_kube::ConfigError| ProviderError::new(ErrorKind::Invalid, e.to_string());
        match (text("kubeconfig"), text("config_path")) {
            (Some(_), Some(_)) => {
                Err(ProviderError::new(ErrorKind::Invalid, "give kubeconfig or config_path, not both"))
            }
            (Some(kubeconfig), None) => {
                Config::from_kubeconfig_text(&kubeconfig, context.as_deref(), &self.base_dir).map_err(invalid)
            }
            (None, Some(path)) => {
                Config::from_kubeconfig(&self.base_dir.join(path), context.as_deref()).map_err(invalid)
            }
            (None, None) if context.is_some() => {
                Err(ProviderError::new(ErrorKind::Invalid, "config_context needs config_path or kubeconfig"))
            }
            (None, None) => Config::infer_from(|n| self.ambient.get(n), &self.ambient.service_account_dir)
                .map_err(|e| {
                    ProviderError::new(
                        ErrorKind::Invalid,
                        format!(
                            "no Kubernetes cluster to talk to: set kubeconfig or config_path in the provider \
                             block, or KUBECONFIG ({e})"
                        ),
                    )
                }),
        }
    }
}

impl Provider for KubernetesProvider {
    fn name(&self) -> &str {
        PROVIDER_NAME
    }

    fn schema(&self) -> &ProviderSchema {
        &self.schema
    }

    fn configure<'a>(&'a self, config: &'a Value) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let allowed = kinds::attr(config, "allowed_server_prefix").as_str().map(str::to_owned);
            let config = self.config(config)?;
            if let Some(prefix) = allowed.filter(|p| !config.server.starts_with(p.as_str())) {
                return Err(ProviderError::new(
                    ErrorKind::Invalid,
                    format!(
                        "the cluster's API server {} is not under the allowed {prefix} (allowed_server_prefix; \
                         under --emulator, only the local cloud's emulated clusters are: configure the provider \
                         from an emulated cluster's kube_config_raw)",
                        config.server
                    ),
                ));
            }
            let client = Client::new(&config).map_err(|e| from_kube(&e))?;
            *self.client.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(client);
            // Another cluster, perhaps: what discovery learnt may not hold there.
            self.discovery.clear();
            Ok(())
        })
    }

    fn holds_data(&self, address: &ResourceAddress, state: &Value) -> bool {
        matches!(type_of(address), Ok(Type::Manifest)) && manifest::holds_data(state)
    }

    fn validate(&self, address: &ResourceAddress, config: &Value) -> Vec<(AttrPath, String)> {
        match type_of(address) {
            Ok(Type::Typed(kind)) => kind.validate(config),
            Ok(Type::Manifest) => manifest::validate(config),
            Err(e) => vec![(AttrPath::root(), e.message)],
        }
    }

    fn plan<'a>(&'a self, request: PlanRequest<'a>) -> BoxFuture<'a, Result<PlanResponse, ProviderError>> {
        Box::pin(async move {
            let ty = type_of(request.address)?;
            let response = match ty {
                Type::Typed(kind) => kind.plan(request.prior_state, request.config),
                Type::Manifest => manifest::plan(request.prior_state, request.config),
            };
            // The server's own validation, at plan time, when there is a server to ask. An
            // update the API cannot make is a replacement: its create is checked instead. What
            // does not change needs no check (a no-op plan costs one read per object).
            let client = self.client.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
            if let Some(client) = client
                && response.requires_replace.is_empty()
                && request.prior_state != Some(&response.planned_state)
                && known_to_the_stack(&response.planned_state)
            {
                let target = match ty {
                    Type::Typed(kind) => {
                        kind.path(&response.planned_state).map(|p| (p, kind.object(&response.planned_state)))
                    }
                    Type::Manifest => {
                        manifest::target(&client, &self.discovery, &response.planned_state).await?
                    }
                };
                if let Some((path, object)) = target {
                    dry_run(&client, &path, &object, request.prior_state.is_none()).await?;
                }
            }
            Ok(response)
        })
    }

    fn apply<'a>(&'a self, request: ApplyRequest<'a>) -> BoxFuture<'a, Result<Value, ProviderError>> {
        Box::pin(async move {
            let ty = type_of(request.address)?;
            let client = self.client()?;
            match (ty, request.prior_state, request.planned_state) {
                (_, None, None) => Ok(Value::Null),
                (Type::Manifest, Some(prior), None) => {
                    manifest::delete(&client, &self.discovery, prior).await.map(|()| Value::Null)
                }
                (Type::Manifest, prior, Some(planned)) => {
                    manifest::apply(&client, &self.discovery, prior, planned).await
                }
                (Type::Typed(kind), Some(prior), None) => {
                    delete(&client, kind, prior).await.map(|()| Value::Null)
                }
                (Type::Typed(kind), prior, Some(planned)) => {
                    let path = kind.path(planned).ok_or_else(|| no_name(kind))?;
                    if prior.is_none() {
                        refuse_existing(&client, &path, &kind.describe(planned)).await?;
                    }
                    let options =
                        ApplyOptions { field_manager: owned::FIELD_MANAGER, force: true, dry_run: false };
                    let live = client
                        .apply(&path, &kind.object(planned), &options)
                        .await
                        .map_err(|e| from_kube(&e))?;
                    Ok(kind.state(&live, Some(planned)))
                }
            }
        })
    }

    fn read<'a>(&'a self, request: ReadRequest<'a>) -> BoxFuture<'a, Result<Option<Value>, ProviderError>> {
        Box::pin(async move {
            let kind = match type_of(request.address)? {
                Type::Manifest => {
                    return manifest::read(&self.client()?, &self.discovery, request.state).await;
                }
                Type::Typed(kind) => kind,
            };
            let path = kind.path(request.state).ok_or_else(|| no_name(kind))?;
            match self.client()?.get(&path).await {
                Ok(live) => Ok(Some(kind.state(&live, Some(request.state)))),
                Err(KubeError::NotFound(_)) => Ok(None),
                Err(e) => Err(from_kube(&e)),
            }
        })
    }

    fn read_data<'a>(&'a self, request: DataRequest<'a>) -> BoxFuture<'a, Result<Value, ProviderError>> {
        Box::pin(async move {
            Err(ProviderError::new(
                ErrorKind::Invalid,
                format!("{}: the kubernetes provider has no data sources yet", request.address),
            ))
        })
    }
}

fn type_of(address: &ResourceAddress) -> Result<Type, ProviderError> {
    if address.type_name() == manifest::TYPE_NAME {
        return Ok(Type::Manifest);
    }
    Kind::of(address.type_name()).map(Type::Typed).ok_or_else(|| {
        ProviderError::new(
            ErrorKind::Invalid,
            format!("{address}: the kubernetes provider has no resource type {:?}", address.type_name()),
        )
    })
}

/// Whether everything the stack sets in a planned state is known (what the server sets —
/// `id`, `uid` — may not be yet).
fn known_to_the_stack(planned: &Value) -> bool {
    let mut sent = planned.clone();
    if let Value::Object(fields) = &mut sent {
        fields.remove("id");
        fields.remove("uid");
        if let Some(Value::Object(metadata)) = fields.get_mut("metadata") {
            metadata.remove("uid");
        }
    }
    !sent.contains_unknown()
}

/// The API server's validation (and admission) of the object, changing nothing: a dry-run
/// create (`POST ...?dryRun=All`) for a new object, a dry-run server-side apply for an update.
/// Only a refusal of the object itself fails the plan: a namespace or kind that this plan
/// creates first is not there yet, and an object already where a new one goes is either a
/// replacement's old one or someone else's (which apply refuses).
async fn dry_run(
    client: &Client,
    path: &str,
    object: &serde_json::Value,
    create: bool,
) -> Result<(), ProviderError> {
    let answer = if create {
        let collection = path.rsplit_once('/').map_or(path, |(c, _)| c);
        let query = format!("{collection}?dryRun=All&fieldManager={}", owned::FIELD_MANAGER);
        client.create(&query, object).await
    } else {
        let options = ApplyOptions { field_manager: owned::FIELD_MANAGER, force: true, dry_run: true };
        client.apply(path, object, &options).await
    };
    // The server's answer, without the request line (a dry run's query is noise here).
    let refused = |api: &lanestack_kube::ApiError| {
        let mut text = format!(
            "the API server refuses the object (dry run): {} {}: {}",
            api.code, api.reason, api.message
        );
        for cause in api.causes.iter().filter(|c| !api.message.contains(&c.message)) {
            text.push_str(&format!("; {}: {}", cause.field, cause.message));
        }
        Err(ProviderError::new(ErrorKind::Invalid, text))
    };
    match answer {
        Ok(_) | Err(KubeError::NotFound(_) | KubeError::AlreadyExists(_)) => Ok(()),
        Err(KubeError::Invalid(api) | KubeError::Forbidden(api)) => refused(&api),
        Err(KubeError::Api(api)) if api.code == 400 => refused(&api),
        Err(e) => Err(from_kube(&e)),
    }
}

/// Fails with [`ErrorKind::AlreadyExists`] when an object is at `path` already: a create never
/// adopts what someone else made.
pub(crate) async fn refuse_existing(client: &Client, path: &str, what: &str) -> Result<(), ProviderError> {
    match client.get(path).await {
        Ok(_) => Err(ProviderError::new(
            ErrorKind::AlreadyExists,
            format!("{what} already exists and is not managed by this stack; import it or delete it first"),
        )),
        Err(KubeError::NotFound(_)) => Ok(()),
        Err(e) => Err(from_kube(&e)),
    }
}

fn no_name(kind: Kind) -> ProviderError {
    ProviderError::new(ErrorKind::Invalid, format!("the {} has no metadata.name", kind.api_kind()))
}

/// Deletes the object; a namespace's delete then waits until the namespace controller has
/// removed its content and the namespace itself. Already gone is done.
async fn delete(client: &Client, kind: Kind, prior: &Value) -> Result<(), ProviderError> {
    let path = kind.path(prior).ok_or_else(|| no_name(kind))?;
    match client.delete(&path).await {
        Ok(_) | Err(KubeError::NotFound(_)) => {}
        Err(e) => return Err(from_kube(&e)),
    }
    if kind != Kind::Namespace {
        return Ok(());
    }
    wait_gone(client, &path, &kind.describe(prior), NAMESPACE_DELETE_TIMEOUT).await
}

/// The pacing of every wait for the cluster to catch up: 50 ms, doubling up to every 2 s,
/// and how long it has been since the wait began.
pub(crate) struct Backoff {
    started: Instant,
    pause: Duration,
}

impl Backoff {
    pub(crate) fn new() -> Backoff {
        Backoff { started: Instant::now(), pause: Duration::from_millis(50) }
    }

    /// Whether the wait has lasted `limit` already.
    pub(crate) fn past(&self, limit: Duration) -> bool {
        self.started.elapsed() >= limit
    }

    /// Sleeps the next pause.
    pub(crate) async fn pause(&mut self) {
        tokio::time::sleep(self.pause).await;
        self.pause = (self.pause * 2).min(Duration::from_secs(2));
    }
}

/// Polls `path` (backing off to every 2 s) until it is gone: an object with finalizers
/// (a namespace and its content, a CRD and its objects) stays a while after its delete.
pub(crate) async fn wait_gone(
    client: &Client,
    path: &str,
    what: &str,
    timeout: Duration,
) -> Result<(), ProviderError> {
    let mut backoff = Backoff::new();
    loop {
        match client.get(path).await {
            Err(KubeError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(from_kube(&e)),
            Ok(_) if backoff.past(timeout) => {
                return Err(ProviderError::new(
                    ErrorKind::Failed,
                    format!(
                        "{what} is still being deleted after {} s (a finalizer that nothing removes?)",
                        timeout.as_secs()
                    ),
                ));
            }
            Ok(_) => {}
        }
        backoff.pause().await;
    }
}

/// The engine's view of a client error. The message is the client's, which names the request
/// and the server's reason and never a credential or a secret's value.
pub(crate) fn from_kube(e: &KubeError) -> ProviderError {
    let kind = match e {
        KubeError::NotFound(_) => ErrorKind::NotFound,
        KubeError::AlreadyExists(_) => ErrorKind::AlreadyExists,
        KubeError::Conflict(_) => ErrorKind::Conflict,
        KubeError::Invalid(_) => ErrorKind::Invalid,
        KubeError::Unauthorized(_) | KubeError::Forbidden(_) | KubeError::TokenFile { .. } => {
            ErrorKind::Unauthorized
        }
        KubeError::Api(api) if api.code == 429 => ErrorKind::Throttled,
        KubeError::Api(api) if api.code >= 500 => ErrorKind::Transient,
        KubeError::Api(api) if api.code == 400 => ErrorKind::Invalid,
        KubeError::Connect { .. } => ErrorKind::Transient,
        KubeError::Api(_) | KubeError::Tls { .. } | KubeError::Setup { .. } | KubeError::Response { .. } => {
            ErrorKind::Failed
        }
    };
    ProviderError::new(kind, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn configuration_errors_are_clear() {
        let dir = tempfile::tempdir().unwrap();
        let p = KubernetesProvider::new(dir.path(), Ambient::default());
        let block = |pairs: &[(&str, &str)]| Value::object(pairs.iter().map(|(k, v)| (*k, Value::from(*v))));
        let e = p.configure(&Value::Null).await.unwrap_err();
        assert!(e.message.starts_with("no Kubernetes cluster to talk to"), "{e}");
        let e = p.configure(&block(&[("config_path", "nope"), ("kubeconfig", "x")])).await.unwrap_err();
        assert_eq!(e.message, "give kubeconfig or config_path, not both");
        let e = p.configure(&block(&[("config_path", "missing")])).await.unwrap_err();
        assert!(e.message.contains(&dir.path().join("missing").display().to_string()), "{e}");
        let e = p
            .configure(&block(&[("kubeconfig", "users: [{name: u, user: {token: s3cr3t}}]")]))
            .await
            .unwrap_err();
        assert!(
            e.message.starts_with("the kubeconfig given inline:") && !e.message.contains("s3cr3t"),
            "{e}"
        );
        // Used before configured: an error, not a panic.
        let address = ResourceAddress::managed("kubernetes_secret", "s");
        let state = Value::object([("metadata", Value::object([("name", Value::from("s"))]))]);
        let e = p.read(ReadRequest { address: &address, state: &state }).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Failed);
    }

    #[test]
    fn schema_names_the_types_and_marks_data_sensitive() {
        let p = KubernetesProvider::new(".", Ambient::default());
        assert_eq!(
            p.schema().resources.keys().collect::<Vec<_>>(),
            ["kubernetes_manifest", "kubernetes_namespace", "kubernetes_secret"]
        );
        let secret = &p.schema().resources["kubernetes_secret"];
        assert!(
            secret.block.attributes["data"].sensitive && secret.block.attributes["binary_data"].sensitive
        );
        assert!(p.schema().resources["kubernetes_namespace"].data_bearing);
        assert!(p.schema().provider.attributes["kubeconfig"].sensitive);
    }
}
