//! The provider boundary: the one trait every provider implements.
//!
//! Providers report facts; the engine decides. A provider reads live objects, says what a
//! resource would look like after a change ([`PlanResponse::planned_state`]) and which changed
//! attributes cannot be updated in place ([`PlanResponse::requires_replace`]), and carries out one
//! step at a time ([`Provider::apply`]). It never chooses between update and replace, never
//! orders steps, and never prints.
//!
//! The trait is object-safe (`Arc<dyn Provider>`) and its IO methods return boxed futures, so
//! that this crate needs no async runtime.

use std::future::Future;
use std::pin::Pin;

use crate::address::ResourceAddress;
use crate::path::AttrPath;
use crate::schema::ProviderSchema;
use crate::value::Value;

/// A boxed, sendable future, as returned by the provider methods that do IO.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the engine asks a provider to plan.
#[derive(Clone, Copy, Debug)]
pub struct PlanRequest<'a> {
    /// The instance being planned.
    pub address: &'a ResourceAddress,
    /// The state recorded after the last apply and refresh; `None` when it does not exist yet.
    pub prior_state: Option<&'a Value>,
    /// The evaluated configuration, converted to the schema's types, sensitive marks removed.
    /// May contain unknowns.
    pub config: &'a Value,
}

/// The facts a provider reports for a planned change.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanResponse {
    /// What the resource will look like after apply; unknown where only apply can tell.
    pub planned_state: Value,
    /// Changed attributes that cannot be updated in place. Non-empty means replace.
    pub requires_replace: Vec<AttrPath>,
}

/// One step for a provider to carry out.
#[derive(Clone, Copy, Debug)]
pub struct ApplyRequest<'a> {
    /// The instance.
    pub address: &'a ResourceAddress,
    /// What exists now; `None` for a create.
    pub prior_state: Option<&'a Value>,
    /// What should exist after; `None` for a delete. Unknowns are for the provider to fill in.
    pub planned_state: Option<&'a Value>,
    /// The evaluated configuration, sensitive marks removed, with no unknowns left.
    pub config: &'a Value,
}

/// A request to read one live object.
#[derive(Clone, Copy, Debug)]
pub struct ReadRequest<'a> {
    /// The instance.
    pub address: &'a ResourceAddress,
    /// Its last recorded state (or, when recovering an interrupted create, the planned state,
    /// whose deterministic identity attributes let the provider find the object).
    pub state: &'a Value,
}

/// A request to read a data source.
#[derive(Clone, Copy, Debug)]
pub struct DataRequest<'a> {
    /// The data source instance.
    pub address: &'a ResourceAddress,
    /// Its evaluated configuration, with no unknowns.
    pub config: &'a Value,
}

/// How a provider operation failed, so that the engine can act on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The object does not exist.
    NotFound,
    /// The object exists in a state that conflicts with the request.
    Conflict,
    /// A create found the object already there, made by someone else: nothing was changed,
    /// and what is there is not this stack's (the engine neither records nor replaces it).
    /// Objects a provider made in an interrupted attempt of its own are found by recovery
    /// reading them back, never reported so.
    AlreadyExists,
    /// The server asked us to slow down; worth retrying later.
    Throttled,
    /// The request itself is wrong (bad attribute value); retrying will not help.
    Invalid,
    /// A passing failure (timeout, 5xx, connection reset); worth retrying.
    Transient,
    /// Credentials are missing or refused.
    Unauthorized,
    /// Anything else; not worth retrying.
    Failed,
}

/// A failed provider operation.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    /// What kind of failure it is.
    pub kind: ErrorKind,
    /// What happened, in a sentence, with the context a user needs (status, remote error code).
    /// Not the resource's address: the engine names the resource wherever it shows the error.
    /// Must never contain a sensitive value.
    pub message: String,
    /// The underlying error, if any.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ProviderError {
    /// An error of this kind with this message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ProviderError {
        ProviderError { kind, message: message.into(), source: None }
    }

    /// Attaches the underlying error.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> ProviderError {
        self.source = Some(Box::new(source));
        self
    }
}

/// A provider: the bridge between the engine and one kind of infrastructure.
///
/// Implementations must be cheap to share across tasks (`&self` everywhere; use interior
/// mutability for configuration) and must treat every input as untrusted: a provider never
/// panics on a stack's values or a server's response.
pub trait Provider: Send + Sync {
    /// The provider's name, as used in type prefixes and `provider "<name>"` blocks.
    fn name(&self) -> &str;

    /// The schemas of the provider block, its resource types and data sources.
    fn schema(&self) -> &ProviderSchema;

    /// Receives the evaluated `provider` block (null when the stack has none). Called before
    /// any other IO method, and possibly again (recovery, then plan): it must be idempotent.
    /// A block that refers to resources (a cluster's credentials) is configured from their
    /// values, and again, with the new configuration replacing the old, once apply has
    /// changed them.
    fn configure<'a>(&'a self, config: &'a Value) -> BoxFuture<'a, Result<(), ProviderError>>;

    /// Checks a resource's configuration beyond what its schema says (cross-attribute rules).
    /// Returns problems as (attribute path, message); the engine turns them into diagnostics.
    fn validate(&self, _address: &ResourceAddress, _config: &Value) -> Vec<(AttrPath, String)> {
        Vec::new()
    }

    /// Whether this instance holds data that its deletion or replacement destroys, beyond
    /// what its schema says for the whole type ([`crate::ResourceSchema::data_bearing`]): a
    /// generic type whose instances differ (a manifest that is a volume claim, or a CRD whose
    /// deletion takes every object of its kind). `state` is the planned or recorded value.
    fn holds_data(&self, _address: &ResourceAddress, _state: &Value) -> bool {
        false
    }

    /// Reports the facts for a planned change to one resource instance.
    ///
    /// May be called before `configure` when the provider's configuration refers to values
    /// known only after apply (the cluster it manages objects in is created by the same plan):
    /// the facts must then come from the configuration and prior state alone, without IO.
    fn plan<'a>(&'a self, request: PlanRequest<'a>) -> BoxFuture<'a, Result<PlanResponse, ProviderError>>;

    /// Carries out one step (create, update or delete) and returns the new state (`Null` after
    /// a delete).
    fn apply<'a>(&'a self, request: ApplyRequest<'a>) -> BoxFuture<'a, Result<Value, ProviderError>>;

    /// Reads the live object; `None` when it no longer exists.
    fn read<'a>(&'a self, request: ReadRequest<'a>) -> BoxFuture<'a, Result<Option<Value>, ProviderError>>;

    /// Reads a data source.
    fn read_data<'a>(&'a self, request: DataRequest<'a>) -> BoxFuture<'a, Result<Value, ProviderError>>;
}
