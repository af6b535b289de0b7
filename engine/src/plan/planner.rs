//! The planner: refresh, walk, ask providers, decide.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use lanestack_model::{
    Action, ActionReason, BlockAddress, DataRequest, Drift, InstanceKey, Mode, OutputChange, PlanRequest,
    PlanResponse, Provider, ProviderError, ReadRequest, ResourceAddress, ResourceChange, Value,
};
use tokio::task::JoinSet;

use super::{Plan, PlanMode, PlanOptions, PlannedChange, StateRef};
use crate::config::{RefTarget, ResourceBlock, Stack};
use crate::configure::{self, configure_providers};
use crate::decide::{Facts, decide};
use crate::diag::{Diagnostic, Diagnostics};
use crate::eval::{self, Scope};
use crate::expand::{self, Instance, Tables};
use crate::graph::{DepGraph, Node};
use crate::registry::Providers;
use crate::state::StateFile;
use crate::walk::{NodeStatus, Started, Visitor, walk};

/// Everything a plan reads.
pub struct PlanInputs<'a> {
    /// The loaded stack (without errors).
    pub stack: &'a Stack,
    /// Its dependency graph (without cycles).
    pub graph: &'a DepGraph,
    /// The resolved variables.
    pub variables: &'a BTreeMap<String, Value>,
    /// The current state.
    pub state: &'a StateFile,
    /// Whether the state exists on disk (a plan against no state binds to none).
    pub state_exists: bool,
    /// The providers.
    pub providers: &'a Providers,
    /// The working directory (`path.cwd`).
    pub cwd: &'a Path,
}

/// Makes a plan. Returns the plan and its warnings, or every error found.
pub async fn plan(
    inputs: PlanInputs<'_>,
    opts: &PlanOptions,
    cancel: &Arc<AtomicBool>,
) -> Result<(Plan, Diagnostics), Diagnostics> {
    let PlanInputs { stack, graph, variables, state, state_exists, providers, cwd } = inputs;
    let mut diags = Diagnostics::new();
    let mut tables = Tables { vars: variables.clone(), ..Tables::default() };

    configure_providers(stack, graph, state, providers, &mut tables, cwd, &mut diags).await;
    if diags.has_errors() {
        return Err(diags);
    }
    // Early providers' objects first: late providers are configured from what they read.
    let late = configure::late_providers(stack);
    let is_late = |addr: &ResourceAddress| late.contains(addr.block.provider());
    let mut refreshed = if opts.refresh {
        refresh(state, |a| !is_late(a), providers, opts.parallelism, &mut diags).await
    } else {
        HashMap::new()
    };
    if diags.has_errors() {
        return Err(diags);
    }
    let mut late_pending = BTreeSet::new();
    if !late.is_empty() {
        let now = |addr: &ResourceAddress| match refreshed.get(addr) {
            Some(live) => live.clone(),
            None => state.resources.get(addr).map(|r| r.value.clone()),
        };
        let instances = configure::instances_by_block(state);
        let configured =
            configure::configure_late(stack, graph, providers, &tables, cwd, &now, &instances, &mut diags)
                .await;
        if diags.has_errors() {
            return Err(diags);
        }
        // The others are configured at their node of the walk, once what they refer to is
        // planned (a data source read there), or stay unconfigured while it is unknown.
        late_pending = late.iter().filter(|n| !configured.contains_key(*n)).cloned().collect();
        if opts.refresh {
            let ready = |a: &ResourceAddress| configured.contains_key(a.block.provider());
            let more = refresh(state, ready, providers, opts.parallelism, &mut diags).await;
            refreshed.extend(more);
        }
        if diags.has_errors() {
            return Err(diags);
        }
    }

    let (nodes, deps) = graph.walk_order();

    let mut planner = Planner {
        stack,
        graph,
        nodes: &nodes,
        providers,
        state,
        refreshed,
        late_pending,
        opts,
        cwd,
        tables,
        pending: HashMap::new(),
        changes: Vec::new(),
        outputs: Vec::new(),
        diags: Diagnostics::new(),
        planned: HashSet::new(),
        changed_blocks: HashSet::new(),
        changed_attributes: HashMap::new(),
        stack_owned: HashMap::new(),
        forget: Vec::new(),
    };
    if opts.mode == PlanMode::Normal {
        let status = walk(&deps, &mut planner, opts.parallelism, cancel).await;
        if cancel.load(Ordering::SeqCst) && status.contains(&NodeStatus::NotStarted) {
            planner.diags.push(Diagnostic::error("lanestack::interrupted", "the plan was interrupted"));
        }
    }
    planner.plan_deletions();
    diags.extend(planner.diags.0.drain(..));
    if diags.has_errors() {
        return Err(diags);
    }

    let forget = std::mem::take(&mut planner.forget);
    let stack_owned = std::mem::take(&mut planner.stack_owned);
    let mut changes = planner.changes;
    if !opts.targets.is_empty() {
        changes = limit_to_targets(changes, &opts.targets, graph);
    }
    changes.sort_by(|a, b| a.change.address.cmp(&b.change.address));
    let mut outputs = planner.outputs;
    for (name, old) in &state.outputs {
        let gone = opts.mode == PlanMode::Destroy || !stack.outputs.contains_key(name);
        if gone {
            outputs.push(OutputChange {
                name: name.clone(),
                action: Action::Delete,
                before: Some(old.value.clone()),
                after: None,
                sensitive: old.sensitive,
            });
        }
    }
    outputs.sort_by(|a, b| a.name.cmp(&b.name));

    let mut drift = Vec::new();
    let refreshed = std::mem::take(&mut planner.refreshed);
    for (addr, live) in &refreshed {
        let Some(recorded) = state.resources.get(addr) else { continue };
        // A live value that differs only in the server's form (normalisation), or in what the
        // server owns and the stack does not set, is no drift.
        let set = stack_owned.get(addr).map(Vec::as_slice).unwrap_or_default();
        let ours = |name: &str| set.iter().any(|s| s == name);
        let same = |live: &Value| {
            providers.resource_schema(addr.type_name(), false).is_some_and(|s| {
                crate::normalize::equivalent(&s.block, &recorded.value.unmark(), &live.unmark(), &ours)
            })
        };
        if !live.as_ref().is_some_and(same)
            && live.as_ref().map(Value::unmark) != Some(recorded.value.unmark())
        {
            let live = live.as_ref().map(|live| match providers.resource_schema(addr.type_name(), false) {
                Some(s) => crate::normalize::drift_view(&s.block, &recorded.value, live, &ours),
                None => live.clone(),
            });
            drift.push(Drift { address: addr.clone(), recorded: recorded.value.clone(), live });
        }
    }
    drift.sort_by(|a, b| a.address.cmp(&b.address));

    let plan = Plan {
        mode: opts.mode,
        changes,
        drift,
        outputs,
        base: state_exists.then(|| StateRef { lineage: state.lineage.clone(), serial: state.serial }),
        variables: variables.clone(),
        dir: stack.dir.clone(),
        cwd: cwd.to_path_buf(),
        sources: stack.sources.iter().map(|(_, f)| (f.path.clone(), f.text.to_string())).collect(),
        targets: opts.targets.clone(),
        forget,
        deposed: state
            .resources
            .iter()
            .filter_map(|(addr, rs)| rs.deposed.clone().map(|d| (addr.clone(), d)))
            .collect(),
        sealed: None,
    };
    Ok((plan, diags))
}

/// Reads every recorded resource that `only` selects from its provider, `parallelism` at a time. Returns the
/// resources whose live object differs from state (`None`: it is gone); the others are as
/// recorded.
async fn refresh(
    state: &StateFile,
    only: impl Fn(&ResourceAddress) -> bool,
    providers: &Providers,
    parallelism: usize,
    diags: &mut Diagnostics,
) -> HashMap<ResourceAddress, Option<Value>> {
    tracing::debug!(resources = state.resources.len(), parallelism, "refreshing");
    let semaphore = Arc::new(tokio::sync::Semaphore::new(parallelism.max(1)));
    let mut tasks = JoinSet::new();
    for (addr, rs) in state.resources.iter().filter(|(a, _)| only(a)) {
        let Some(provider) = providers.get(addr.block.provider()).cloned() else { continue };
        let addr = addr.clone();
        let recorded = rs.value.clone();
        let semaphore = semaphore.clone();
        tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            let live = read_back(&*provider, &addr, &recorded).await;
            (addr, live)
        });
    }
    let mut out = HashMap::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((addr, Ok(Some(live)))) => {
                out.insert(addr, live);
            }
            Ok((_, Ok(None))) => {}
            Ok((addr, Err(e))) => diags.push(read_failed(&addr, &e)),
            Err(e) => {
                diags.push(Diagnostic::error("lanestack::refresh", format!("a refresh task failed: {e}")))
            }
        }
    }
    out
}

/// The error for a recorded object that could not be read back.
fn read_failed(addr: &ResourceAddress, e: &ProviderError) -> Diagnostic {
    Diagnostic::error("lanestack::refresh", format!("could not read {addr}: {e}"))
        .hint("retry, or plan with --refresh=false to use the recorded state")
}

/// Reads one recorded object. Only what changed is kept: most refreshes find what state
/// recorded, and a copy of every resource would double the memory of a large plan.
async fn read_back(provider: &dyn Provider, addr: &ResourceAddress, recorded: &Value) -> Read {
    let unmarked = recorded.unmark();
    let live = provider.read(ReadRequest { address: addr, state: &unmarked }).await?;
    Ok(match live {
        Some(v) if v == unmarked => None,
        Some(v) => Some(Some(v.with_sensitive_paths(&recorded.sensitive_paths()))),
        None => Some(None),
    })
}

/// One instance waiting for its provider's answer.
struct Pending {
    instance: Instance,
    config: Value,
    prior: Option<Value>,
    was_recorded: bool,
    tainted: bool,
}

enum Io {
    Plan(Vec<Result<Decided, ProviderError>>),
    Data(Vec<Result<Value, ProviderError>>),
    /// A late provider configured at its node, and what its recorded objects read back.
    Configured(Result<Vec<(ResourceAddress, Read)>, ProviderError>),
}

/// What reading one recorded object found: `None` when it is as recorded, `Some(None)` when
/// it is gone.
type Read = Result<Option<Option<Value>>, ProviderError>;

/// What the provider is asked for one instance, with the facts the decision needs.
struct Request {
    addr: ResourceAddress,
    prior: Option<Value>,
    config: Value,
    was_recorded: bool,
    tainted: bool,
    replace_requested: bool,
    triggered: bool,
    create_before_destroy: bool,
}

/// The provider's facts for one instance and the action chosen from them.
struct Decided {
    response: PlanResponse,
    action: Action,
    reason: Option<ActionReason>,
}

/// Asks the provider for the facts, decides, and for a replacement asks again as for a new
/// object: what a replacement will look like is what a create would (computed attributes
/// unknown), whatever the reason for replacing.
async fn plan_instance(provider: &dyn Provider, r: &Request) -> Result<Decided, ProviderError> {
    let block = provider.schema().resources.get(r.addr.type_name()).map(|s| &s.block);
    let config = match block {
        Some(block) => crate::normalize::settle_config(block, r.prior.as_ref(), &r.config),
        None => r.config.clone(),
    };
    let mut response = provider
        .plan(PlanRequest { address: &r.addr, prior_state: r.prior.as_ref(), config: &config })
        .await?;
    if let Some(block) = block {
        crate::normalize::settle(block, r.prior.as_ref(), &config, &mut response);
    }
    let (action, reason) = decide(&Facts {
        prior: r.prior.as_ref(),
        was_recorded: r.was_recorded,
        planned: &response.planned_state,
        requires_replace: &response.requires_replace,
        replace_requested: r.replace_requested,
        triggered: r.triggered,
        tainted: r.tainted,
        create_before_destroy: r.create_before_destroy,
    });
    tracing::debug!(address = %r.addr, ?action, ?reason, "planned");
    if !action.is_replace() {
        return Ok(Decided { response, action, reason });
    }
    let fresh = provider.plan(PlanRequest { address: &r.addr, prior_state: None, config: &r.config }).await?;
    Ok(Decided {
        response: PlanResponse {
            planned_state: fresh.planned_state,
            requires_replace: response.requires_replace,
        },
        action,
        reason,
    })
}

struct Planner<'a> {
    stack: &'a Stack,
    graph: &'a DepGraph,
    nodes: &'a [Node],
    providers: &'a Providers,
    state: &'a StateFile,
    refreshed: HashMap<ResourceAddress, Option<Value>>,
    /// Late providers not configured before the walk: configured at their node when their
    /// configuration is known there.
    late_pending: BTreeSet<String>,
    opts: &'a PlanOptions,
    cwd: &'a Path,
    tables: Tables,
    pending: HashMap<usize, Vec<Pending>>,
    changes: Vec<PlannedChange>,
    outputs: Vec<OutputChange>,
    diags: Diagnostics,
    planned: HashSet<ResourceAddress>,
    changed_blocks: HashSet<BlockAddress>,
    /// For each changed block, the top-level attributes whose values change (`*`: all of
    /// them, for a create, replacement or delete), for `replace_triggered_by` entries that name
    /// an attribute (`image_build.trainer.digest`).
    changed_attributes: HashMap<BlockAddress, HashSet<String>>,
    /// Per instance, the server-owned attributes its configuration sets.
    stack_owned: HashMap<ResourceAddress, Vec<String>>,
    forget: Vec<ResourceAddress>,
}

impl Planner<'_> {
    fn scope(&self) -> Scope<'_> {
        Scope::new(&self.tables, &self.stack.dir, self.cwd)
    }

    fn prior(&self, addr: &ResourceAddress) -> Option<Value> {
        match self.refreshed.get(addr) {
            Some(live) => live.clone(),
            None => self.state.resources.get(addr).map(|r| r.value.clone()),
        }
    }

    /// A late provider not configured before the walk ([`crate::configure`]): now that what
    /// it refers to is planned (a data source read), configured when its configuration is
    /// known, and its recorded objects read back before they are planned; while unknown, left
    /// unconfigured, with a warning when it has objects that cannot be read.
    fn start_late_provider(&mut self, name: &str) -> Started<Io> {
        let (Some(block), Some(provider)) =
            (self.stack.providers.get(name), self.providers.get(name).cloned())
        else {
            return Started::Done(false);
        };
        let (config, d) = eval::eval_body(&block.body, &provider.schema().provider, &self.scope());
        let failed = d.has_errors();
        self.diags.extend(d);
        if failed {
            return Started::Done(false);
        }
        let recorded: Vec<(ResourceAddress, Value)> = if self.opts.refresh {
            self.state
                .resources
                .iter()
                .filter(|(a, _)| a.block.provider() == name)
                .map(|(a, r)| (a.clone(), r.value.clone()))
                .collect()
        } else {
            Vec::new()
        };
        if config.contains_unknown() {
            if !recorded.is_empty() {
                self.diags.push(
                    Diagnostic::warning(
                        "lanestack::not_refreshed",
                        format!(
                            "provider {name:?} is configured from values known only after apply: its {} recorded \
                             object(s) were not read, and plan from the state recorded",
                            recorded.len()
                        ),
                    )
                    .at(block.span.clone(), "configured from resources here"),
                );
            }
            return Started::Done(true);
        }
        let config = config.unmark();
        Started::Io(Box::pin(async move {
            if let Err(e) = provider.configure(&config).await {
                return Io::Configured(Err(e));
            }
            let mut read = Vec::with_capacity(recorded.len());
            for (addr, value) in recorded {
                let live = read_back(&*provider, &addr, &value).await;
                read.push((addr, live));
            }
            Io::Configured(Ok(read))
        }))
    }

    fn finish_late_provider(
        &mut self,
        name: &str,
        result: Result<Vec<(ResourceAddress, Read)>, ProviderError>,
    ) -> bool {
        let read = match result {
            Ok(read) => read,
            Err(e) => {
                self.diags.push(configure::refused(self.stack, name, &e));
                return false;
            }
        };
        let mut ok = true;
        for (addr, live) in read {
            match live {
                Ok(Some(live)) => {
                    self.refreshed.insert(addr, live);
                }
                Ok(None) => {}
                Err(e) => {
                    ok = false;
                    self.diags.push(read_failed(&addr, &e));
                }
            }
        }
        ok
    }

    /// What the instance's provider says of it beyond its schema ([`Provider::holds_data`]).
    fn holds_data(&self, addr: &ResourceAddress, state: &Value) -> bool {
        self.providers.get(addr.block.provider()).is_some_and(|p| p.holds_data(addr, &state.unmark()))
    }

    fn start_resource(&mut self, n: usize, block: &ResourceBlock) -> Started<Io> {
        let data = block.addr.mode == Mode::Data;
        let Some(schema) = self.providers.resource_schema(&block.addr.type_name, data) else {
            self.diags.push(
                Diagnostic::error(
                    "lanestack::unknown_resource_type",
                    format!("unknown type {:?}", block.addr.type_name),
                )
                .at(block.type_span.clone(), "no provider offers this type"),
            );
            return Started::Done(false);
        };
        let schema = &schema.block;
        let instances = match expand::expand(block, &self.tables, &self.stack.dir, self.cwd) {
            Ok(i) => i,
            Err(d) => {
                self.diags.push(d);
                return Started::Done(false);
            }
        };
        let provider = self.providers.get(block.addr.provider()).cloned();
        let Some(provider) = provider else { return Started::Done(false) };
        let mut pending = Vec::with_capacity(instances.len());
        let mut ok = true;
        for instance in instances {
            let (config, d) =
                expand::eval_instance(block, schema, &instance, &self.tables, &self.stack.dir, self.cwd);
            ok &= !d.has_errors();
            self.diags.extend(d);
            if data {
                pending.push(Pending { instance, config, prior: None, was_recorded: false, tainted: false });
                continue;
            }
            let recorded = self.state.resources.get(&instance.addr);
            let prior = self.prior(&instance.addr);
            // Server-owned attributes the stack sets anyway are the stack's: their drift is news.
            let set: Vec<String> = schema
                .attributes
                .iter()
                .filter(|(name, a)| {
                    a.owner == lanestack_model::schema::Owner::Server
                        && config
                            .get(&lanestack_model::AttrPath::attr((*name).clone()))
                            .is_some_and(|v| !v.is_null())
                })
                .map(|(name, _)| name.clone())
                .collect();
            if !set.is_empty() {
                self.stack_owned.insert(instance.addr.clone(), set);
            }
            let config =
                expand::apply_ignore_changes(config, prior.as_ref(), &block.lifecycle.ignore_changes, schema);
            for (path, message) in provider.validate(&instance.addr, &config.unmark()) {
                ok = false;
                let label = if path.is_root() { message.clone() } else { format!("{path}: {message}") };
                self.diags.push(
                    Diagnostic::error(
                        "lanestack::invalid_configuration",
                        format!("{}: {label}", instance.addr),
                    )
                    .at(block.body.span_of(&path).unwrap_or_else(|| block.span.clone()), label),
                );
            }
            pending.push(Pending {
                instance,
                config,
                prior,
                was_recorded: recorded.is_some(),
                tainted: recorded.is_some_and(|r| r.tainted),
            });
        }
        if !ok {
            return Started::Done(false);
        }
        if data {
            // A data source whose configuration is not known yet is read during apply; so is one
            // whose `depends_on` names a resource with changes planned (as in Terraform: what it
            // looks up may be what those changes make).
            let waits = block
                .depends_on
                .iter()
                .any(|r| matches!(&r.target, RefTarget::Resource(a) if self.changed_blocks.contains(a)));
            if waits || pending.iter().any(|p| p.config.contains_unknown()) {
                let values = pending.into_iter().map(|p| (p.instance.addr, Value::Unknown)).collect();
                self.tables.resources.insert(block.addr.clone(), expand::block_value(block, values));
                return Started::Done(true);
            }
            let requests: Vec<(ResourceAddress, Value)> =
                pending.iter().map(|p| (p.instance.addr.clone(), p.config.unmark())).collect();
            self.pending.insert(n, pending);
            return Started::Io(Box::pin(async move {
                let mut out = Vec::with_capacity(requests.len());
                for (addr, config) in &requests {
                    out.push(provider.read_data(DataRequest { address: addr, config }).await);
                }
                Io::Data(out)
            }));
        }
        // An entry naming a resource triggers on any change to it; one naming an attribute
        // (`image_build.trainer.digest`), only when that attribute changes.
        let triggered = block.lifecycle.replace_triggered_by.iter().any(|e| {
            e.refs.iter().any(|r| match (&r.target, r.path.first()) {
                (RefTarget::Resource(a), None) => self.changed_blocks.contains(a),
                (RefTarget::Resource(a), Some(attr)) => self
                    .changed_attributes
                    .get(a)
                    .is_some_and(|changed| changed.contains("*") || changed.contains(attr)),
                _ => false,
            })
        });
        let requests: Vec<Request> = pending
            .iter()
            .map(|p| Request {
                addr: p.instance.addr.clone(),
                prior: p.prior.as_ref().map(Value::unmark),
                config: p.config.unmark(),
                was_recorded: p.was_recorded,
                tainted: p.tainted,
                replace_requested: self.opts.replace.contains(&p.instance.addr),
                triggered,
                create_before_destroy: block.lifecycle.create_before_destroy,
            })
            .collect();
        self.pending.insert(n, pending);
        Started::Io(Box::pin(async move {
            if requests.len() == 1 {
                return Io::Plan(vec![plan_instance(&*provider, &requests[0]).await]);
            }
            let mut tasks = JoinSet::new();
            for (i, request) in requests.into_iter().enumerate() {
                let provider = provider.clone();
                tasks.spawn(async move { (i, plan_instance(&*provider, &request).await) });
            }
            let mut out: Vec<Option<Result<Decided, ProviderError>>> = Vec::new();
            out.resize_with(tasks.len(), || None);
            while let Some(joined) = tasks.join_next().await {
                match joined {
                    Ok((i, r)) => out[i] = Some(r),
                    Err(e) => {
                        return Io::Plan(vec![Err(ProviderError::new(
                            lanestack_model::ErrorKind::Failed,
                            format!("a plan task failed: {e}"),
                        ))]);
                    }
                }
            }
            Io::Plan(out.into_iter().flatten().collect())
        }))
    }

    fn finish_plan(
        &mut self,
        block: &ResourceBlock,
        pending: Vec<Pending>,
        results: Vec<Result<Decided, ProviderError>>,
    ) -> bool {
        if results.len() != pending.len() {
            self.diags.push(
                Diagnostic::error(
                    "lanestack::provider",
                    format!("{}: the provider answered for the wrong number of instances", block.addr),
                )
                .at(block.span.clone(), "planned here"),
            );
            return false;
        }
        let Some(schema) = self.providers.resource_schema(&block.addr.type_name, false) else { return false };
        let data_bearing = schema.data_bearing;
        let schema = schema.block.clone();
        let dependencies = self.graph.resource_dependencies(&Node::Resource(block.addr.clone()));
        let mut ok = true;
        let mut values = Vec::with_capacity(pending.len());
        for (p, result) in pending.into_iter().zip(results) {
            let Decided { response, action, reason } = match result {
                Ok(r) => r,
                Err(e) => {
                    ok = false;
                    self.diags.push(
                        Diagnostic::error("lanestack::provider", format!("{}: {e}", p.instance.addr))
                            .at(block.span.clone(), "while planning this resource"),
                    );
                    continue;
                }
            };
            let planned = expand::mark_by_schema(
                response.planned_state.with_sensitive_paths(&p.config.sensitive_paths()),
                &schema,
            );
            if block.lifecycle.prevent_destroy && (action.is_replace() || action == Action::Delete) {
                ok = false;
                self.diags.push(prevent_destroy_error(&p.instance.addr, block));
            }
            if action != Action::NoOp {
                self.changed_blocks.insert(block.addr.clone());
                let changed = self.changed_attributes.entry(block.addr.clone()).or_default();
                match (&p.prior, action) {
                    (Some(prior), Action::Update) => changed.extend(changed_attributes(prior, &planned)),
                    _ => {
                        changed.insert("*".to_owned());
                    }
                }
            }
            let replace_paths =
                if action.is_replace() { response.requires_replace.clone() } else { Vec::new() };
            self.planned.insert(p.instance.addr.clone());
            values.push((p.instance.addr.clone(), planned.clone()));
            let holds_data =
                data_bearing || self.holds_data(&p.instance.addr, p.prior.as_ref().unwrap_or(&planned));
            self.changes.push(PlannedChange {
                change: ResourceChange {
                    address: p.instance.addr,
                    action,
                    reason,
                    before: p.prior,
                    after: Some(planned),
                    replace_paths,
                },
                dependencies: dependencies.clone(),
                data_bearing: holds_data,
                prevent_destroy: block.lifecycle.prevent_destroy,
            });
        }
        self.tables.resources.insert(block.addr.clone(), expand::block_value(block, values));
        ok
    }

    fn finish_data(
        &mut self,
        block: &ResourceBlock,
        pending: Vec<Pending>,
        results: Vec<Result<Value, ProviderError>>,
    ) -> bool {
        let mut ok = true;
        let mut values = Vec::with_capacity(pending.len());
        let schema = self.providers.resource_schema(&block.addr.type_name, true).map(|s| s.block.clone());
        let schema = schema.unwrap_or_default();
        for (p, result) in pending.into_iter().zip(results) {
            match result {
                Ok(v) => values.push((p.instance.addr, expand::data_result(v, &p.config, &schema))),
                Err(e) => {
                    ok = false;
                    self.diags.push(
                        Diagnostic::error("lanestack::provider", format!("{}: {e}", p.instance.addr))
                            .at(block.span.clone(), "while reading this data source"),
                    );
                }
            }
        }
        self.tables.resources.insert(block.addr.clone(), expand::block_value(block, values));
        ok
    }

    /// Plans the deletion of every recorded instance that the stack no longer has (or of
    /// everything, in destroy mode).
    fn plan_deletions(&mut self) {
        for (addr, rs) in &self.state.resources {
            if self.planned.contains(addr) {
                continue;
            }
            let block = self.stack.resources.get(&addr.block);
            let reason = if self.opts.mode == PlanMode::Destroy {
                ActionReason::DeleteBecauseDestroy
            } else {
                match (block, &addr.key) {
                    (None, _) => ActionReason::DeleteBecauseNoResourceConfig,
                    (Some(_), Some(InstanceKey::Int(_))) => ActionReason::DeleteBecauseCountIndex,
                    (Some(_), Some(InstanceKey::Str(_))) => ActionReason::DeleteBecauseEachKey,
                    (Some(_), None) => ActionReason::DeleteBecauseNoResourceConfig,
                }
            };
            if let Some(block) = block
                && block.lifecycle.prevent_destroy
            {
                self.diags.push(prevent_destroy_error(addr, block));
            }
            let before = match self.refreshed.get(addr) {
                Some(None) => {
                    // Already gone: nothing to delete, only a record to drop.
                    self.forget.push(addr.clone());
                    continue;
                }
                Some(Some(live)) => live.clone(),
                None => rs.value.clone(),
            };
            let data_bearing =
                self.providers.resource_schema(addr.type_name(), false).is_some_and(|s| s.data_bearing)
                    || self.holds_data(addr, &before);
            self.changes.push(PlannedChange {
                change: ResourceChange {
                    address: addr.clone(),
                    action: Action::Delete,
                    reason: Some(reason),
                    before: Some(before),
                    after: None,
                    replace_paths: Vec::new(),
                },
                dependencies: rs.dependencies.clone(),
                data_bearing,
                prevent_destroy: block.is_some_and(|b| b.lifecycle.prevent_destroy),
            });
        }
    }
}

fn prevent_destroy_error(addr: &ResourceAddress, block: &ResourceBlock) -> Diagnostic {
    Diagnostic::error(
        "lanestack::prevent_destroy",
        format!("{addr} has lifecycle.prevent_destroy set, but this plan would destroy it"),
    )
    .at(block.span.clone(), "protected here")
    .hint("change the plan so that it keeps this resource, or remove prevent_destroy first if destroying it is really intended")
}

impl Visitor for Planner<'_> {
    type Io = Io;

    fn start(&mut self, n: usize) -> Started<Io> {
        let stack = self.stack;
        match &self.nodes[n] {
            Node::Provider(name) if self.late_pending.contains(name) => self.start_late_provider(name),
            Node::Variable(_) | Node::Provider(_) => Started::Done(true),
            Node::Local(name) => {
                let local = &stack.locals[name];
                match eval::eval(&local.value, &self.scope()) {
                    Ok(v) => {
                        self.tables.locals.insert(name.clone(), v);
                        Started::Done(true)
                    }
                    Err(d) => {
                        self.diags.push(d);
                        Started::Done(false)
                    }
                }
            }
            Node::Resource(addr) => self.start_resource(n, &stack.resources[addr]),
            Node::Output(name) => {
                let output = &stack.outputs[name];
                match eval::eval(&output.value, &self.scope()) {
                    Ok(v) => {
                        let v = if output.sensitive { v.mark_sensitive() } else { v };
                        let before = self.state.outputs.get(name).map(|o| o.value.clone());
                        let action = match &before {
                            None => Action::Create,
                            Some(b) if b.unmark() == v.unmark() => Action::NoOp,
                            Some(_) => Action::Update,
                        };
                        self.outputs.push(OutputChange {
                            name: name.clone(),
                            action,
                            before,
                            after: Some(v),
                            sensitive: output.sensitive,
                        });
                        Started::Done(true)
                    }
                    Err(d) => {
                        self.diags.push(d);
                        Started::Done(false)
                    }
                }
            }
        }
    }

    fn finish(&mut self, n: usize, out: Option<Io>) -> bool {
        let nodes = self.nodes;
        let addr = match (&nodes[n], out) {
            (Node::Provider(name), Some(Io::Configured(result))) => {
                return self.finish_late_provider(name, result);
            }
            (Node::Resource(addr), out) => (addr, out),
            _ => return false,
        };
        let (addr, out) = addr;
        let block = &self.stack.resources[addr];
        let pending = self.pending.remove(&n).unwrap_or_default();
        match out {
            Some(Io::Plan(results)) => self.finish_plan(block, pending, results),
            Some(Io::Data(results)) => self.finish_data(block, pending, results),
            Some(Io::Configured(_)) | None => {
                self.diags.push(
                    Diagnostic::error("lanestack::provider", format!("{addr}: the provider task failed"))
                        .at(block.span.clone(), "while planning this resource"),
                );
                false
            }
        }
    }
}

/// Keeps the changes of the targeted instances and of every block they depend on; others are
/// left as they are (their changes dropped).
fn limit_to_targets(
    changes: Vec<PlannedChange>,
    targets: &[ResourceAddress],
    graph: &DepGraph,
) -> Vec<PlannedChange> {
    let mut blocks: HashSet<BlockAddress> = HashSet::new();
    for t in targets {
        blocks.extend(graph.resource_dependencies(&Node::Resource(t.block.clone())));
    }
    changes
        .into_iter()
        .filter(|c| {
            let a = &c.change.address;
            blocks.contains(&a.block)
                || targets.iter().any(|t| t.block == a.block && (t.key.is_none() || t.key == a.key))
        })
        .collect()
}

/// The top-level attributes whose values differ between `prior` and `planned` (an unknown
/// planned value differs from any known one).
fn changed_attributes(prior: &Value, planned: &Value) -> Vec<String> {
    let (prior, planned) = (prior.unmark(), planned.unmark());
    let names: HashSet<&String> = prior
        .as_object()
        .into_iter()
        .flat_map(|o| o.keys())
        .chain(planned.as_object().into_iter().flat_map(|o| o.keys()))
        .collect();
    names
        .into_iter()
        .filter(|name| {
            let path = lanestack_model::AttrPath::attr((*name).clone());
            let (was, now) = (prior.get(&path), planned.get(&path));
            was != now || now.is_some_and(Value::contains_unknown)
        })
        .cloned()
        .collect()
}
