//! A strict fake provider for the engine's lifecycle tests.
//!
//! [`FakeProvider`] keeps a "cloud" of live objects in memory, so that `read` returns what really
//! exists, and records every call in order. It is stricter than a real provider: it rejects
//! unknown resource types and attributes, sensitive marks and unknowns where the provider
//! contract says there are none, a create over an object that already exists (so "nothing is
//! created twice" is checked by the fake itself: a second object with the same `name` is a
//! `Conflict`), an update of an attribute that forces
//! replacement, and an apply request that is neither a create, an update nor a delete. All of
//! these are `ProviderError`s of kind `Invalid` (or `Conflict`, `NotFound`), never panics.
//!
//! Tests drive drift and failure through its helpers: [`FakeProvider::cloud_set`] and
//! [`FakeProvider::cloud_remove`] change the cloud behind the engine's back;
//! [`FakeProvider::fail_on`] makes apply fail for an address before anything happens, and
//! [`FakeProvider::fail_after_on`] after the object was changed (an interrupted create).
//!
//! Ids are deterministic: `<address>#<n>`, where `n` counts the creates at that address, so that
//! a replaced object gets a new id and a test can name ids without reading them.

// The engine's test binary uses some of these helpers in some tests only.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use lanestack_model::schema::plan_by_schema;
use lanestack_model::{
    ApplyRequest, AttrPath, AttrType, Attribute, Block, BoxFuture, DataRequest, ErrorKind, PlanRequest,
    PlanResponse, Presence, Provider, ProviderError, ProviderSchema, ReadRequest, ResourceAddress,
    ResourceSchema, Value,
};

/// The provider's name.
pub const NAME: &str = "fake";

/// What the engine called.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CallKind {
    /// `configure`.
    Configure,
    /// `validate`.
    Validate,
    /// `plan`.
    Plan,
    /// `apply` with no prior state.
    Create,
    /// `apply` with prior and planned state.
    Update,
    /// `apply` with no planned state.
    Delete,
    /// `read`.
    Read,
    /// `read_data`.
    ReadData,
}

/// One recorded call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// What was called.
    pub kind: CallKind,
    /// The instance's address (empty for `configure`).
    pub address: String,
}

/// When an injected failure strikes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FailWhen {
    /// Before the cloud changes: the step did not happen.
    Before,
    /// After the cloud changed: the step happened but the engine hears it failed.
    After,
}

/// A live object.
#[derive(Clone, Debug)]
struct Object {
    address: String,
    type_name: String,
    /// Creation order, to find the newest object at an address.
    serial: u64,
    state: Value,
}

#[derive(Debug, Default)]
struct Inner {
    configured: Option<Value>,
    /// Every configuration received, in order.
    configurations: Vec<Value>,
    /// `configure` fails.
    refuse_configuration: bool,
    /// Live objects by id.
    cloud: BTreeMap<String, Object>,
    calls: Vec<Call>,
    failures: BTreeMap<String, (ErrorKind, FailWhen)>,
    /// Addresses whose deletes fail (before the cloud changes), whatever else happens to them.
    delete_failures: std::collections::BTreeSet<String>,
    creates: BTreeMap<String, usize>,
    serial: u64,
}

/// A strict, in-memory provider. `Send + Sync`; share it as `Arc<FakeProvider>` and hand the
/// engine an `Arc<dyn Provider>` clone of it, keeping the concrete one for assertions.
#[derive(Debug)]
pub struct FakeProvider {
    name: String,
    schema: ProviderSchema,
    inner: Mutex<Inner>,
}

/// The schema of `fake_thing`: `name` (string, required, forces replacement), `size` (number,
/// optional), `tags` (map of strings, optional), `secret` (sensitive string, optional) and a
/// computed `id`.
pub fn thing_schema() -> ResourceSchema {
    ResourceSchema::new(
        "A thing in the fake cloud.",
        Block::new()
            .attr("name", Attribute::required(AttrType::String).force_new())
            .attr("size", Attribute::optional(AttrType::Number))
            .attr("tags", Attribute::optional(AttrType::Map(Box::new(AttrType::String))))
            .attr("secret", Attribute::optional(AttrType::String).sensitive())
            .attr("id", Attribute::computed(AttrType::String)),
    )
}

fn invalid(address: &ResourceAddress, message: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(ErrorKind::Invalid, format!("{address}: {message}"))
}

impl FakeProvider {
    /// A fake serving exactly the resource types in `schema` (whose names must start with
    /// `fake_`).
    pub fn new(schema: ProviderSchema) -> FakeProvider {
        FakeProvider::named(NAME, schema)
    }

    /// A fake named `name`, serving the resource types in `schema` (whose names must start
    /// with `<name>_`), for stacks that use two providers.
    pub fn named(name: &str, schema: ProviderSchema) -> FakeProvider {
        FakeProvider { name: name.to_owned(), schema, inner: Mutex::new(Inner::default()) }
    }

    /// A fake with the types of a realistic plan review: `fake_thing` ([`thing_schema`]); a
    /// data-bearing `fake_volume` (`name` forces replacement, `size`); and `fake_config`, whose
    /// `document` holds JSON, `manifest` YAML, `script` long text and `rules` a list of objects.
    pub fn for_review() -> FakeProvider {
        let mut schema = ProviderSchema::default();
        schema.resources.insert("fake_thing".to_owned(), thing_schema());
        let mut volume = ResourceSchema::new(
            "A volume that holds data.",
            Block::new()
                .attr("name", Attribute::required(AttrType::String).force_new())
                .attr("size", Attribute::required(AttrType::Number))
                .attr("id", Attribute::computed(AttrType::String)),
        );
        volume.data_bearing = true;
        schema.resources.insert("fake_volume".to_owned(), volume);
        let config = ResourceSchema::new(
            "Configuration documents.",
            Block::new()
                .attr("name", Attribute::required(AttrType::String).force_new())
                .attr("document", Attribute::optional(AttrType::String))
                .attr("manifest", Attribute::optional(AttrType::String))
                .attr("script", Attribute::optional(AttrType::String))
                .attr("rules", Attribute::optional(AttrType::Any))
                .attr("id", Attribute::computed(AttrType::String)),
        );
        schema.resources.insert("fake_config".to_owned(), config);
        FakeProvider::new(schema)
    }

    /// The schema of a data source `fake_lookup`-like type: `value` echoes `input`.
    pub fn lookup_schema() -> ResourceSchema {
        ResourceSchema::new(
            "Echoes its input.",
            Block::new()
                .attr("input", Attribute::optional(AttrType::Any))
                .attr("value", Attribute::computed(AttrType::Any)),
        )
    }

    /// A fake with the one resource type `fake_thing` ([`thing_schema`]).
    pub fn with_thing() -> FakeProvider {
        let mut schema = ProviderSchema::default();
        schema.resources.insert("fake_thing".to_owned(), thing_schema());
        FakeProvider::new(schema)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A test that panicked while holding the lock must not turn every later call into a panic.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self, kind: CallKind, address: &ResourceAddress) {
        self.lock().calls.push(Call { kind, address: address.to_string() });
    }

    // ----- assertions -------------------------------------------------------------------------

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// The addresses of the calls of one kind, in order.
    pub fn calls_of(&self, kind: CallKind) -> Vec<String> {
        self.lock().calls.iter().filter(|c| c.kind == kind).map(|c| c.address.clone()).collect()
    }

    /// Forgets the recorded calls (not the cloud).
    pub fn clear_calls(&self) {
        self.lock().calls.clear();
    }

    /// How many objects were created at `address` (successful or not, once the cloud changed).
    pub fn creates(&self, address: &str) -> usize {
        self.lock().creates.get(address).copied().unwrap_or(0)
    }

    /// The configuration `configure` received, if it was called.
    pub fn configured(&self) -> Option<Value> {
        self.lock().configured.clone()
    }

    /// Makes every later `configure` fail.
    pub fn refuse_configuration(&self) {
        self.lock().refuse_configuration = true;
    }

    /// Forgets the configuration, as a new process would start (the cloud stays).
    pub fn forget_configuration(&self) {
        self.lock().configured = None;
    }

    /// Every configuration `configure` received, in order.
    pub fn configurations(&self) -> Vec<Value> {
        self.lock().configurations.clone()
    }

    // ----- the cloud --------------------------------------------------------------------------

    /// The newest live object at `address`.
    pub fn cloud_get(&self, address: &str) -> Option<Value> {
        newest(&self.lock().cloud, address).map(|(_, o)| o.state.clone())
    }

    /// The addresses of every live object, sorted, with repeats when one address has several.
    pub fn cloud_addresses(&self) -> Vec<String> {
        let mut out: Vec<_> = self.lock().cloud.values().map(|o| o.address.clone()).collect();
        out.sort();
        out
    }

    /// The number of live objects.
    pub fn cloud_len(&self) -> usize {
        self.lock().cloud.len()
    }

    /// Changes one attribute of the live object at `address` behind the engine's back (drift).
    /// Returns false when there is no such object.
    pub fn cloud_set(&self, address: &str, attribute: &str, value: Value) -> bool {
        let mut inner = self.lock();
        let Some(id) = newest(&inner.cloud, address).map(|(id, _)| id.clone()) else { return false };
        match inner.cloud.get_mut(&id) {
            Some(object) => object.state.set(&AttrPath::attr(attribute), value),
            None => false,
        }
    }

    /// Deletes the live object at `address` behind the engine's back. Returns false when there
    /// was none.
    pub fn cloud_remove(&self, address: &str) -> bool {
        let mut inner = self.lock();
        let Some(id) = newest(&inner.cloud, address).map(|(id, _)| id.clone()) else { return false };
        inner.cloud.remove(&id).is_some()
    }

    // ----- failures ---------------------------------------------------------------------------

    /// Makes every apply step for `address` fail with `kind` before the cloud changes.
    pub fn fail_on(&self, address: &str, kind: ErrorKind) {
        self.lock().failures.insert(address.to_owned(), (kind, FailWhen::Before));
    }

    /// Makes every apply step for `address` change the cloud and then report failure with
    /// `kind`, as when the connection drops after the server acted.
    pub fn fail_after_on(&self, address: &str, kind: ErrorKind) {
        self.lock().failures.insert(address.to_owned(), (kind, FailWhen::After));
    }

    /// Makes deletes (only) at `address` fail before the cloud changes.
    pub fn fail_deletes_on(&self, address: &str) {
        self.lock().delete_failures.insert(address.to_owned());
    }

    /// Removes the injected failures for `address`.
    pub fn heal(&self, address: &str) {
        let mut inner = self.lock();
        inner.failures.remove(address);
        inner.delete_failures.remove(address);
    }

    // ----- checks -----------------------------------------------------------------------------

    fn block(&self, address: &ResourceAddress) -> Result<&Block, ProviderError> {
        self.schema.resources.get(address.type_name()).map(|r| &r.block).ok_or_else(|| {
            invalid(address, format!("the fake provider has no resource type {:?}", address.type_name()))
        })
    }

    /// The config must be an object of settable attributes with no sensitive marks.
    fn check_config(
        &self,
        address: &ResourceAddress,
        block: &Block,
        config: &Value,
    ) -> Result<(), ProviderError> {
        let Some(attrs) = config.as_object() else {
            return Err(invalid(address, format!("config must be an object, got {}", config.type_name())));
        };
        if config.contains_sensitive() {
            return Err(invalid(address, "config reached the provider with sensitive marks"));
        }
        for (name, value) in attrs {
            match block.attributes.get(name) {
                None => return Err(invalid(address, format!("unknown attribute {name:?}"))),
                Some(a) if !a.settable() && !value.is_null() && !value.is_unknown() => {
                    return Err(invalid(
                        address,
                        format!("attribute {name:?} is computed and cannot be set"),
                    ));
                }
                Some(_) => {}
            }
        }
        for (name, a) in &block.attributes {
            if a.presence == Presence::Required && attrs.get(name).is_none_or(Value::is_null) {
                return Err(invalid(address, format!("required attribute {name:?} is missing")));
            }
        }
        Ok(())
    }

    /// A state must be an object whose attributes the schema knows.
    fn check_state(
        &self,
        address: &ResourceAddress,
        block: &Block,
        state: &Value,
        what: &str,
    ) -> Result<(), ProviderError> {
        let Some(attrs) = state.as_object() else {
            return Err(invalid(address, format!("{what} must be an object, got {}", state.type_name())));
        };
        if let Some(name) = attrs.keys().find(|k| !block.attributes.contains_key(*k)) {
            return Err(invalid(address, format!("{what} has unknown attribute {name:?}")));
        }
        Ok(())
    }

    fn injected(&self, address: &ResourceAddress, when: FailWhen) -> Result<(), ProviderError> {
        match self.lock().failures.get(&address.to_string()) {
            Some((kind, w)) if *w == when => {
                Err(ProviderError::new(*kind, format!("{address}: injected failure")))
            }
            Some(_) | None => Ok(()),
        }
    }

    fn apply_now(&self, request: ApplyRequest<'_>) -> Result<Value, ProviderError> {
        let address = request.address;
        let block = self.block(address)?;
        let kind = match (request.prior_state, request.planned_state) {
            (None, Some(_)) => CallKind::Create,
            (Some(_), Some(_)) => CallKind::Update,
            (Some(_), None) => CallKind::Delete,
            (None, None) => {
                self.record(CallKind::Create, address);
                return Err(invalid(address, "apply with neither prior nor planned state"));
            }
        };
        self.record(kind, address);
        if let Some(prior) = request.prior_state {
            self.check_state(address, block, prior, "prior state")?;
        }
        if let Some(planned) = request.planned_state {
            self.check_state(address, block, planned, "planned state")?;
            self.check_config(address, block, request.config)?;
            if request.config.contains_unknown() {
                return Err(invalid(address, "config at apply time still holds unknowns"));
            }
            for path in planned.unknown_paths() {
                let computed = path
                    .first_attr()
                    .and_then(|a| block.attributes.get(a))
                    .is_some_and(|a| a.presence != Presence::Required && a.presence != Presence::Optional);
                if !computed {
                    return Err(invalid(
                        address,
                        format!("planned state is unknown at {path}, which is not computed"),
                    ));
                }
            }
        }
        self.injected(address, FailWhen::Before)?;
        if kind == CallKind::Delete && self.lock().delete_failures.contains(&address.to_string()) {
            return Err(ProviderError::new(
                ErrorKind::Transient,
                format!("{address}: injected delete failure"),
            ));
        }

        let text = address.to_string();
        let new_state = match (request.prior_state, request.planned_state) {
            (None, Some(planned)) => {
                let mut inner = self.lock();
                let n = inner.creates.get(&text).copied().unwrap_or(0) + 1;
                let id = format!("{text}#{n}");
                // Like a real cloud, names are unique per type: creating a second object with
                // the same name is how an engine that forgot an interrupted create would fail.
                let name = planned.get(&AttrPath::attr("name")).and_then(Value::as_str);
                if let Some(name) = name {
                    let taken = inner.cloud.values().any(|o| {
                        o.type_name == address.type_name()
                            && o.state.get(&AttrPath::attr("name")).and_then(Value::as_str) == Some(name)
                    });
                    if taken {
                        return Err(ProviderError::new(
                            ErrorKind::Conflict,
                            format!("{address}: a {} named {name:?} already exists", address.type_name()),
                        ));
                    }
                }
                let state = fill_computed(block, planned.unmark(), &id);
                inner.creates.insert(text.clone(), n);
                inner.serial += 1;
                let serial = inner.serial;
                let type_name = address.type_name().to_owned();
                inner.cloud.insert(id, Object { address: text, type_name, serial, state: state.clone() });
                state
            }
            (Some(prior), Some(planned)) => {
                for (name, a) in &block.attributes {
                    let path = AttrPath::attr(name.clone());
                    if a.force_new && a.settable() && prior.get(&path) != planned.get(&path) {
                        return Err(invalid(
                            address,
                            format!("update changes {name:?}, which forces replacement"),
                        ));
                    }
                }
                let id = id_of(prior).ok_or_else(|| invalid(address, "prior state has no id"))?;
                let mut inner = self.lock();
                let Some(object) = inner.cloud.get_mut(&id) else {
                    return Err(ProviderError::new(
                        ErrorKind::NotFound,
                        format!("{address}: {id} does not exist"),
                    ));
                };
                let state = fill_computed(block, planned.unmark(), &id);
                object.state = state.clone();
                state
            }
            (Some(prior), None) => {
                let id = id_of(prior).ok_or_else(|| invalid(address, "prior state has no id"))?;
                if self.lock().cloud.remove(&id).is_none() {
                    return Err(ProviderError::new(
                        ErrorKind::NotFound,
                        format!("{address}: {id} does not exist"),
                    ));
                }
                Value::Null
            }
            (None, None) => Value::Null,
        };
        self.injected(address, FailWhen::After)?;
        Ok(new_state)
    }
}

/// The schema of `fake_cluster`, whose attributes declare normalisation and ownership: `name`
/// (forces replacement), `region` (case-insensitive, forces replacement), `policy` (JSON),
/// `manifest` (YAML), `zones` (a set), `node_count` (initial only: an autoscaler owns it),
/// `etag` (server-owned unless set) and a computed `id`.
pub fn cluster_schema() -> ResourceSchema {
    use lanestack_model::{Normalize, Owner};
    ResourceSchema::new(
        "A cluster whose server rewrites values.",
        Block::new()
            .attr("name", Attribute::required(AttrType::String).force_new())
            .attr(
                "region",
                Attribute::required(AttrType::String).force_new().normalize(Normalize::CaseInsensitive),
            )
            .attr("policy", Attribute::optional(AttrType::String).normalize(Normalize::Json))
            .attr("manifest", Attribute::optional(AttrType::String).normalize(Normalize::Yaml))
            .attr(
                "zones",
                Attribute::optional(AttrType::List(Box::new(AttrType::String))).normalize(Normalize::Set),
            )
            .attr("node_count", Attribute::optional(AttrType::Number).owned_by(Owner::InitialOnly))
            .attr("etag", Attribute::optional(AttrType::String).owned_by(Owner::Server))
            .attr("id", Attribute::computed(AttrType::String)),
    )
}

/// The `id` attribute of a state, when it is a known string.
fn id_of(state: &Value) -> Option<String> {
    state.get(&AttrPath::attr("id")).and_then(Value::as_str).map(str::to_owned)
}

/// The newest live object at `address`, with its id.
fn newest<'c>(cloud: &'c BTreeMap<String, Object>, address: &str) -> Option<(&'c String, &'c Object)> {
    cloud.iter().filter(|(_, o)| o.address == address).max_by_key(|(_, o)| o.serial)
}

/// Fills the unknown computed attributes of a planned state: `id` with the allocated id, others
/// with a value derived from it (strings), zero, false or null.
fn fill_computed(block: &Block, mut state: Value, id: &str) -> Value {
    for (name, a) in &block.attributes {
        let path = AttrPath::attr(name.clone());
        if a.settable() && a.presence != Presence::OptionalComputed {
            continue;
        }
        if !state.get(&path).is_none_or(Value::is_unknown) {
            continue;
        }
        let value = match (name.as_str(), &a.ty) {
            ("id", _) => Value::from(id),
            (_, AttrType::String) => Value::from(format!("{name} of {id}")),
            (_, AttrType::Number) => Value::from(0),
            (_, AttrType::Bool) => Value::from(false),
            (_, AttrType::Any | AttrType::List(_) | AttrType::Map(_) | AttrType::Object(_)) => Value::Null,
        };
        state.set(&path, value);
    }
    state
}

impl Provider for FakeProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn schema(&self) -> &ProviderSchema {
        &self.schema
    }

    fn configure<'a>(&'a self, config: &'a Value) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let mut inner = self.lock();
            inner.calls.push(Call { kind: CallKind::Configure, address: String::new() });
            // The contract allows configuring again: the same configuration, or for a block
            // that refers to resources, a new one once they changed. Never unknowns.
            if config.contains_unknown() || config.contains_sensitive() {
                return Err(ProviderError::new(
                    ErrorKind::Invalid,
                    "configured with unknown or marked values",
                ));
            }
            if inner.refuse_configuration {
                return Err(ProviderError::new(
                    ErrorKind::Unauthorized,
                    "the endpoint refused the credentials",
                ));
            }
            inner.configured = Some(config.clone());
            inner.configurations.push(config.clone());
            Ok(())
        })
    }

    fn validate(&self, address: &ResourceAddress, config: &Value) -> Vec<(AttrPath, String)> {
        self.record(CallKind::Validate, address);
        let block = match self.block(address) {
            Ok(block) => block,
            Err(e) => return vec![(AttrPath::root(), e.message)],
        };
        let attrs = config.as_object().into_iter().flatten();
        attrs
            .filter(|(name, _)| !block.attributes.contains_key(*name))
            .map(|(name, _)| (AttrPath::attr(name.clone()), format!("unknown attribute {name:?}")))
            .collect()
    }

    fn plan<'a>(&'a self, request: PlanRequest<'a>) -> BoxFuture<'a, Result<PlanResponse, ProviderError>> {
        Box::pin(async move {
            // No configuration needed: plan may come before configure when the provider's
            // configuration is known only after apply (the provider contract).
            self.record(CallKind::Plan, request.address);
            let block = self.block(request.address)?;
            self.check_config(request.address, block, request.config)?;
            if let Some(prior) = request.prior_state {
                self.check_state(request.address, block, prior, "prior state")?;
            }
            Ok(plan_by_schema(block, request.prior_state.map(Value::unmark).as_ref(), request.config))
        })
    }

    fn apply<'a>(&'a self, request: ApplyRequest<'a>) -> BoxFuture<'a, Result<Value, ProviderError>> {
        Box::pin(async move {
            if self.lock().configured.is_none() {
                return Err(invalid(request.address, "apply before configure"));
            }
            self.apply_now(request)
        })
    }

    fn read<'a>(&'a self, request: ReadRequest<'a>) -> BoxFuture<'a, Result<Option<Value>, ProviderError>> {
        Box::pin(async move {
            let address = request.address;
            self.record(CallKind::Read, address);
            if self.lock().configured.is_none() {
                return Err(invalid(address, "read before configure"));
            }
            let block = self.block(address)?;
            self.check_state(address, block, request.state, "state")?;
            let inner = self.lock();
            // A known id finds the object; an unknown one (a planned state, when the engine
            // recovers an interrupted create) finds the newest object at the address.
            let found = match id_of(request.state) {
                Some(id) => inner.cloud.get(&id),
                None => newest(&inner.cloud, &address.to_string()).map(|(_, o)| o),
            };
            Ok(found.map(|o| o.state.clone()))
        })
    }

    fn read_data<'a>(&'a self, request: DataRequest<'a>) -> BoxFuture<'a, Result<Value, ProviderError>> {
        Box::pin(async move {
            self.record(CallKind::ReadData, request.address);
            // A data source the schema declares echoes its `input` as `value`.
            if !self.schema.data_sources.contains_key(request.address.type_name()) {
                return Err(invalid(request.address, "the fake provider has no such data source"));
            }
            let input = request.config.get(&AttrPath::attr("input")).cloned().unwrap_or(Value::Null);
            Ok(Value::object([("input", input.clone()), ("value", input)]))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn thing(name: &str) -> Value {
        Value::object([("name", Value::from(name)), ("size", Value::from(1))])
    }

    async fn create(
        p: &FakeProvider,
        address: &ResourceAddress,
        config: &Value,
    ) -> Result<Value, ProviderError> {
        let planned = p.plan(PlanRequest { address, prior_state: None, config }).await?.planned_state;
        p.apply(ApplyRequest { address, prior_state: None, planned_state: Some(&planned), config }).await
    }

    #[tokio::test(flavor = "current_thread")]
    async fn lifecycle_is_recorded_and_reads_see_the_cloud() {
        let fake = Arc::new(FakeProvider::with_thing());
        let p: Arc<dyn Provider> = fake.clone();
        p.configure(&Value::Null).await.unwrap();
        let a: ResourceAddress = "fake_thing.a".parse().unwrap();
        let state = create(&fake, &a, &thing("a")).await.unwrap();
        assert_eq!(state.get(&AttrPath::attr("id")), Some(&Value::from("fake_thing.a#1")));
        assert_eq!(fake.creates("fake_thing.a"), 1);
        assert_eq!(p.read(ReadRequest { address: &a, state: &state }).await.unwrap(), Some(state.clone()));

        assert!(fake.cloud_set("fake_thing.a", "size", Value::from(9)));
        let live = p.read(ReadRequest { address: &a, state: &state }).await.unwrap().unwrap();
        assert_eq!(live.get(&AttrPath::attr("size")), Some(&Value::from(9)));
        assert!(fake.cloud_remove("fake_thing.a"));
        assert_eq!(p.read(ReadRequest { address: &a, state: &state }).await.unwrap(), None);

        let kinds: Vec<_> = fake.calls().into_iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [
                CallKind::Configure,
                CallKind::Plan,
                CallKind::Create,
                CallKind::Read,
                CallKind::Read,
                CallKind::Read
            ]
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn strictness_is_invalid_not_panic() {
        let fake = FakeProvider::with_thing();
        fake.configure(&Value::Null).await.unwrap();
        let a: ResourceAddress = "fake_thing.a".parse().unwrap();
        let extra = Value::object([("name", Value::from("a")), ("colour", Value::from("red"))]);
        assert_eq!(create(&fake, &a, &extra).await.unwrap_err().kind, ErrorKind::Invalid);
        let marked = Value::object([("name", Value::from("a").mark_sensitive())]);
        assert_eq!(create(&fake, &a, &marked).await.unwrap_err().kind, ErrorKind::Invalid);
        let other: ResourceAddress = "fake_other.a".parse().unwrap();
        assert_eq!(create(&fake, &other, &thing("a")).await.unwrap_err().kind, ErrorKind::Invalid);
        assert_eq!(fake.cloud_len(), 0);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn injected_failures_strike_before_or_after_the_cloud_changes() {
        let fake = FakeProvider::with_thing();
        fake.configure(&Value::Null).await.unwrap();
        let a: ResourceAddress = "fake_thing.a".parse().unwrap();
        fake.fail_on("fake_thing.a", ErrorKind::Throttled);
        assert_eq!(create(&fake, &a, &thing("a")).await.unwrap_err().kind, ErrorKind::Throttled);
        assert_eq!(fake.creates("fake_thing.a"), 0);
        fake.fail_after_on("fake_thing.a", ErrorKind::Transient);
        assert_eq!(create(&fake, &a, &thing("a")).await.unwrap_err().kind, ErrorKind::Transient);
        assert_eq!(fake.creates("fake_thing.a"), 1);
        // Creating it again, forgetting the first attempt, conflicts as in a real cloud.
        fake.heal("fake_thing.a");
        assert_eq!(create(&fake, &a, &thing("a")).await.unwrap_err().kind, ErrorKind::Conflict);
        // The interrupted create is found by reading the planned state back.
        let planned = fake
            .plan(PlanRequest { address: &a, prior_state: None, config: &thing("a") })
            .await
            .unwrap()
            .planned_state;
        let found = fake.read(ReadRequest { address: &a, state: &planned }).await.unwrap();
        assert_eq!(found.and_then(|s| id_of(&s)), Some("fake_thing.a#1".to_owned()));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn updating_a_force_new_attribute_is_refused() {
        let fake = FakeProvider::with_thing();
        fake.configure(&Value::Null).await.unwrap();
        let a: ResourceAddress = "fake_thing.a".parse().unwrap();
        let prior = create(&fake, &a, &thing("a")).await.unwrap();
        let renamed = thing("b");
        let mut planned = prior.clone();
        planned.set(&AttrPath::attr("name"), Value::from("b"));
        let err = fake
            .apply(ApplyRequest {
                address: &a,
                prior_state: Some(&prior),
                planned_state: Some(&planned),
                config: &renamed,
            })
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Invalid);
    }
}
