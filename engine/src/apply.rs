//! Apply: carrying out a plan, step by step, recording every step in state.
//!
//! Three phases, each a graph walk with bounded concurrency:
//! 1. deletes (plain deletes and the first half of delete-then-create replacements), dependents
//!    before their dependencies;
//! 2. creates and updates, in the stack's dependency order, re-evaluating each resource's
//!    configuration with the values its dependencies now have, asking the provider for the final
//!    planned state and refusing it if it contradicts the reviewed plan;
//! 3. the deferred deletes of create-before-destroy replacements.
//!
//! Every step is journaled before it starts ("begin", made durable once per batch) and after it
//! ends ("done"/"failed"), so a crash at any point leaves a record of what may exist. A failed
//! step skips its dependents and lets independent branches finish.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use lanestack_model::{
    Action, ApplyRequest, BlockAddress, DataRequest, Mode, PlanRequest, Provider, ProviderError, ReadRequest,
    ResourceAddress, Value,
};

use crate::config::{ResourceBlock, Stack};
use crate::configure::{self, configure_providers};
use crate::diag::{Diagnostic, Diagnostics};
use crate::eval::{self, Scope};
use crate::expand::{self, Tables};
use crate::graph::{DepGraph, Node};
use crate::plan::{Plan, PlanMode, PlannedChange, StateRef};
use crate::registry::Providers;
use crate::secrets::Seal;
use crate::state::{OutputState, ResourceState, StateStore, StepKind, StoreError};
use crate::walk::{NodeStatus, Started, Visitor, walk};

/// What apply reports as it goes, for progress output.
#[derive(Clone, Debug, PartialEq)]
pub enum ApplyEvent {
    /// A step started.
    Started {
        /// The instance.
        address: ResourceAddress,
        /// Create, update or delete.
        kind: StepKind,
    },
    /// A step finished.
    Finished {
        /// The instance.
        address: ResourceAddress,
        /// Create, update or delete.
        kind: StepKind,
        /// The new object's `id` attribute, when it has one.
        id: Option<String>,
    },
    /// A step failed.
    Failed {
        /// The instance.
        address: ResourceAddress,
        /// Create, update or delete.
        kind: StepKind,
        /// What went wrong.
        message: String,
    },
}

/// The outcome of an apply.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ApplyReport {
    /// Steps carried out.
    pub done: Vec<(ResourceAddress, StepKind)>,
    /// Steps that failed, with the error.
    pub failed: Vec<(ResourceAddress, StepKind, String)>,
    /// Planned changes not carried out (a dependency failed, or the apply was interrupted).
    pub not_done: Vec<(ResourceAddress, Action)>,
    /// Whether the apply was interrupted.
    pub cancelled: bool,
    /// Problems found while re-evaluating the stack.
    pub diagnostics: Diagnostics,
}

impl ApplyReport {
    /// True when every planned change was carried out.
    pub fn succeeded(&self) -> bool {
        self.failed.is_empty()
            && self.not_done.is_empty()
            && !self.cancelled
            && !self.diagnostics.has_errors()
    }
}

/// Why an apply could not start or could not record its work.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The state changed since the plan was made.
    #[error("the saved plan is stale: it was made from state {planned}, but the state is now {current}")]
    Stale {
        /// The state the plan was made from.
        planned: String,
        /// The state now.
        current: String,
    },
    /// State could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Providers could not be configured.
    #[error("providers could not be configured")]
    Configure(Diagnostics),
}

/// Everything apply reads besides the plan.
pub struct ApplyInputs<'a> {
    /// The stack as planned (loaded from the plan's sources).
    pub stack: &'a Stack,
    /// Its dependency graph.
    pub graph: &'a DepGraph,
    /// The providers.
    pub providers: &'a Providers,
    /// The working directory (`path.cwd`).
    pub cwd: &'a Path,
    /// How many provider calls may run at once.
    pub parallelism: usize,
}

fn describe(base: Option<&StateRef>) -> String {
    match base {
        Some(b) => format!("{} serial {}", b.lineage, b.serial),
        None => "(none)".to_owned(),
    }
}

/// Checks that `store` is the state `plan` was made from.
pub fn check_fresh(plan: &Plan, store: &StateStore, state_exists: bool) -> Result<(), ApplyError> {
    let state = store.state();
    let current = state_exists.then(|| StateRef { lineage: state.lineage.clone(), serial: state.serial });
    let fresh = match (&plan.base, &current) {
        (None, None) => true,
        (Some(p), Some(c)) => p == c,
        (None, Some(_)) | (Some(_), None) => false,
    };
    if fresh && store.in_flight().is_empty() {
        Ok(())
    } else {
        Err(ApplyError::Stale { planned: describe(plan.base.as_ref()), current: describe(current.as_ref()) })
    }
}

/// Applies a plan. The caller has checked freshness ([`check_fresh`]) and holds the lock.
pub async fn apply(
    inputs: ApplyInputs<'_>,
    plan: &Plan,
    store: &mut StateStore,
    cancel: &Arc<AtomicBool>,
    events: &mut (dyn FnMut(ApplyEvent) + Send),
) -> Result<ApplyReport, ApplyError> {
    let ApplyInputs { stack, graph, providers, cwd, parallelism } = inputs;
    let mut tables = Tables { vars: plan.variables.clone(), ..Tables::default() };
    let mut diags = Diagnostics::new();
    let prior_state = store.state().clone();
    configure_providers(stack, graph, &prior_state, providers, &mut tables, cwd, &mut diags).await;
    // Late providers from what existed when the plan was made (for its deletes); the walk
    // configures them again once what they refer to is applied.
    let before = |addr: &ResourceAddress| match plan.change(addr) {
        Some(c) => c.change.before.clone(),
        None => prior_state.resources.get(addr).map(|r| r.value.clone()),
    };
    let instances = configure::instances_by_block(&prior_state);
    let configured =
        configure::configure_late(stack, graph, providers, &tables, cwd, &before, &instances, &mut diags)
            .await;
    if diags.has_errors() {
        return Err(ApplyError::Configure(diags));
    }
    let mut report = ApplyReport::default();
    let mut fatal: Option<StoreError> = None;

    // Phase 0: deposed objects that earlier runs left behind.
    let stuck = delete_deposed(&plan.deposed, providers, store, events, &mut report, &mut fatal).await;

    // What each recorded object depended on when it was applied: the order of deletes
    // follows these (an object's current configuration may no longer name what it still uses).
    let prior_deps: HashMap<ResourceAddress, Vec<BlockAddress>> =
        store.state().resources.iter().map(|(a, r)| (a.clone(), r.dependencies.clone())).collect();
    let (first, late) = split_deletes(plan, &prior_deps);

    // Phase 1: deletes, dependents first.
    let mut failed_deletes = run_deletes(
        &first,
        &prior_deps,
        providers,
        store,
        parallelism,
        cancel,
        events,
        &mut report,
        &mut fatal,
    )
    .await;
    // An address whose deposed object is still there takes no new step: a second replacement
    // would have no place to record its own old object.
    failed_deletes.extend(stuck);

    // Phase 2: creates and updates in dependency order.
    let mut outputs = BTreeMap::new();
    if plan.mode == PlanMode::Normal && fatal.is_none() {
        let (nodes, deps) = graph.walk_order();
        let mut visitor = Applier {
            stack,
            graph,
            nodes: &nodes,
            plan,
            providers,
            cwd,
            tables,
            store: &mut *store,
            events: &mut *events,
            report: &mut report,
            fatal: None,
            failed_deletes: &failed_deletes,
            pending: HashMap::new(),
            outputs: &mut outputs,
            late: configure::late_providers(stack),
            configured,
            pending_configs: BTreeMap::new(),
        };
        let status = walk(&deps, &mut visitor, parallelism, cancel).await;
        fatal = visitor.fatal.take();
        let reported: HashSet<ResourceAddress> = report
            .done
            .iter()
            .map(|(a, _)| a.clone())
            .chain(report.failed.iter().map(|(a, _, _)| a.clone()))
            .collect();
        // Changes by block, so that reporting stays linear in the size of the plan.
        let mut by_block: HashMap<&BlockAddress, Vec<&PlannedChange>> = HashMap::new();
        for c in &plan.changes {
            if !matches!(c.change.action, Action::NoOp | Action::Delete)
                && !reported.contains(&c.change.address)
            {
                by_block.entry(&c.change.address.block).or_default().push(c);
            }
        }
        for (i, s) in status.iter().enumerate() {
            let Node::Resource(addr) = &nodes[i] else { continue };
            let pending = by_block.get(addr).map(Vec::as_slice).unwrap_or_default().iter();
            match s {
                NodeStatus::Skipped | NodeStatus::NotStarted => {
                    for c in pending {
                        report.not_done.push((c.change.address.clone(), c.change.action));
                    }
                }
                // A block that failed before any step started (its configuration could not be
                // evaluated): its changes failed, with the diagnostic already in the report.
                NodeStatus::Failed => {
                    for c in pending {
                        let kind = if c.change.action == Action::Update {
                            StepKind::Update
                        } else {
                            StepKind::Create
                        };
                        report.failed.push((
                            c.change.address.clone(),
                            kind,
                            "its configuration could not be evaluated (see the error above)".to_owned(),
                        ));
                    }
                }
                NodeStatus::Done => {}
            }
        }
    }

    // Phase 3: deferred deletes of create-before-destroy replacements whose create succeeded.
    if fatal.is_none() {
        let created: HashSet<&ResourceAddress> =
            report.done.iter().filter(|(_, k)| *k == StepKind::Create).map(|(a, _)| a).collect();
        let deferred: Vec<(ResourceAddress, Value)> = plan
            .changes
            .iter()
            .filter(|c| c.change.action == Action::CreateThenDelete && created.contains(&c.change.address))
            .filter_map(|c| c.change.before.clone().map(|b| (c.change.address.clone(), b)))
            .collect();
        delete_deposed(&deferred, providers, store, events, &mut report, &mut fatal).await;
    }

    // Phase 4: deletes of what phase 2 moved away from (a volume moved to another pool frees
    // the old pool only once the move is done).
    if fatal.is_none() && !late.is_empty() {
        run_deletes(
            &late,
            &prior_deps,
            providers,
            store,
            parallelism,
            cancel,
            events,
            &mut report,
            &mut fatal,
        )
        .await;
    }

    if cancel.load(Ordering::SeqCst) {
        report.cancelled = true;
    }
    if let Some(e) = fatal {
        return Err(ApplyError::Store(e));
    }
    for addr in &plan.forget {
        store.finish(addr, None)?;
    }
    let mut new_outputs =
        if plan.mode == PlanMode::Destroy { BTreeMap::new() } else { store.state().outputs.clone() };
    if plan.mode == PlanMode::Normal {
        new_outputs.retain(|name, _| stack.outputs.contains_key(name));
        new_outputs.extend(outputs);
    }
    store.set_outputs(new_outputs)?;
    store.commit()?;
    Ok(report)
}

enum DeleteIo {
    Deleted(Result<Value, ProviderError>),
}

struct Deleter<'a, 'e> {
    steps: &'a [&'a PlannedChange],
    providers: &'a Providers,
    store: &'a mut StateStore,
    events: &'e mut (dyn FnMut(ApplyEvent) + Send),
    report: &'a mut ApplyReport,
    fatal: &'a mut Option<StoreError>,
    failed: HashSet<ResourceAddress>,
}

impl Visitor for Deleter<'_, '_> {
    type Io = DeleteIo;

    fn start(&mut self, n: usize) -> Started<DeleteIo> {
        let c = &self.steps[n].change;
        let Some(provider) = self.providers.get(c.address.block.provider()).cloned() else {
            self.failed.insert(c.address.clone());
            self.report.failed.push((c.address.clone(), StepKind::Delete, "provider not available".into()));
            return Started::Done(false);
        };
        if self.fatal.is_some() {
            return Started::Done(false);
        }
        if let Err(e) = self.store.begin(&c.address, StepKind::Delete, None) {
            *self.fatal = Some(e);
            return Started::Done(false);
        }
        (self.events)(ApplyEvent::Started { address: c.address.clone(), kind: StepKind::Delete });
        tracing::debug!(address = %c.address, "delete started");
        let addr = c.address.clone();
        let before = c.before.as_ref().map(Value::unmark).unwrap_or_default();
        Started::Io(Box::pin(async move {
            let r = provider
                .apply(ApplyRequest {
                    address: &addr,
                    prior_state: Some(&before),
                    planned_state: None,
                    config: &Value::Null,
                })
                .await;
            // A delete reported as failed may still have happened (the connection dropped
            // after the server acted). If the object is gone, the step's goal is reached.
            let r = match r {
                Err(e) => match provider.read(ReadRequest { address: &addr, state: &before }).await {
                    Ok(None) => Ok(Value::Null),
                    Ok(Some(_)) | Err(_) => Err(e),
                },
                ok => ok,
            };
            DeleteIo::Deleted(r)
        }))
    }

    fn finish(&mut self, n: usize, out: Option<DeleteIo>) -> bool {
        let addr = self.steps[n].change.address.clone();
        let result = match out {
            Some(DeleteIo::Deleted(r)) => r.map(|_| ()).map_err(|e| e.to_string()),
            None => Err("the delete task failed".to_owned()),
        };
        record(
            self.store,
            self.events,
            self.report,
            self.fatal,
            &addr,
            StepKind::Delete,
            result.map(|()| None),
        )
        .inspect_err(|_| {
            self.failed.insert(addr.clone());
        })
        .is_ok()
    }

    fn before_launch(&mut self) -> bool {
        sync(self.store, self.fatal)
    }
}

fn sync(store: &mut StateStore, fatal: &mut Option<StoreError>) -> bool {
    match store.sync() {
        Ok(()) => true,
        Err(e) => {
            *fatal = Some(e);
            false
        }
    }
}

/// Records the end of a step in the journal and the report, and tells the user.
fn record(
    store: &mut StateStore,
    events: &mut (dyn FnMut(ApplyEvent) + Send),
    report: &mut ApplyReport,
    fatal: &mut Option<StoreError>,
    addr: &ResourceAddress,
    kind: StepKind,
    result: Result<Option<ResourceState>, String>,
) -> Result<(), ()> {
    match result {
        Ok(new) => {
            tracing::debug!(address = %addr, ?kind, "step done");
            let id = new.as_ref().and_then(|s| s.value.get(&lanestack_model::AttrPath::attr("id"))).and_then(
                |v| {
                    if v.is_sensitive() { None } else { v.as_str().map(str::to_owned) }
                },
            );
            if let Err(e) = store.finish(addr, new) {
                *fatal = Some(e);
                return Err(());
            }
            report.done.push((addr.clone(), kind));
            events(ApplyEvent::Finished { address: addr.clone(), kind, id });
            Ok(())
        }
        Err(message) => {
            tracing::debug!(address = %addr, ?kind, %message, "step failed");
            if let Err(e) = store.fail(addr, &message) {
                *fatal = Some(e);
            }
            report.failed.push((addr.clone(), kind, message.clone()));
            events(ApplyEvent::Failed { address: addr.clone(), kind, message });
            Err(())
        }
    }
}

/// Splits the planned deletes into those that run first (phase 1) and those that must wait
/// for phase 2: a delete of X waits when an object that survives phase 2 (updated in place, or
/// the old object of a create-before-destroy replacement) depended on X when it was applied,
/// and so do the deletes of what such an X itself depended on.
fn split_deletes<'p>(
    plan: &'p Plan,
    prior_deps: &HashMap<ResourceAddress, Vec<BlockAddress>>,
) -> (Vec<&'p PlannedChange>, Vec<&'p PlannedChange>) {
    let mut held: HashSet<&BlockAddress> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.change.action, Action::Update | Action::CreateThenDelete))
        .filter_map(|c| prior_deps.get(&c.change.address))
        .flatten()
        .collect();
    let deletes: Vec<&PlannedChange> =
        plan.changes.iter().filter(|c| c.change.action == Action::Delete).collect();
    let mut late: HashSet<&ResourceAddress> = HashSet::new();
    // Grow the set to a fixed point: each round adds what a late delete depended on.
    loop {
        let before = late.len();
        for c in &deletes {
            if !late.contains(&c.change.address) && held.contains(&c.change.address.block) {
                late.insert(&c.change.address);
                held.extend(prior_deps.get(&c.change.address).into_iter().flatten());
            }
        }
        if late.len() == before {
            break;
        }
    }
    let first = plan
        .changes
        .iter()
        .filter(|c| match c.change.action {
            Action::DeleteThenCreate => true,
            Action::Delete => !late.contains(&c.change.address),
            Action::NoOp | Action::Create | Action::Update | Action::CreateThenDelete => false,
        })
        .collect();
    (first, deletes.into_iter().filter(|c| late.contains(&c.change.address)).collect())
}

#[allow(clippy::too_many_arguments)]
async fn run_deletes(
    steps: &[&PlannedChange],
    prior_deps: &HashMap<ResourceAddress, Vec<BlockAddress>>,
    providers: &Providers,
    store: &mut StateStore,
    parallelism: usize,
    cancel: &Arc<AtomicBool>,
    events: &mut (dyn FnMut(ApplyEvent) + Send),
    report: &mut ApplyReport,
    fatal: &mut Option<StoreError>,
) -> HashSet<ResourceAddress> {
    if steps.is_empty() {
        return HashSet::new();
    }
    // Delete X only after every Y that depends on X is deleted.
    let mut by_block: HashMap<&BlockAddress, Vec<usize>> = HashMap::new();
    for (i, c) in steps.iter().enumerate() {
        by_block.entry(&c.change.address.block).or_default().push(i);
    }
    let mut deps = vec![Vec::new(); steps.len()];
    for (y, c) in steps.iter().enumerate() {
        for dep_block in prior_deps.get(&c.change.address).unwrap_or(&c.dependencies) {
            for &x in by_block.get(dep_block).map(Vec::as_slice).unwrap_or(&[]) {
                if x != y {
                    deps[x].push(y);
                }
            }
        }
    }
    let mut visitor = Deleter { steps, providers, store, events, report, fatal, failed: HashSet::new() };
    let status = walk(&deps, &mut visitor, parallelism, cancel).await;
    let mut failed = visitor.failed;
    for (i, s) in status.iter().enumerate() {
        if *s != NodeStatus::Done {
            failed.insert(steps[i].change.address.clone());
            if matches!(s, NodeStatus::Skipped | NodeStatus::NotStarted) {
                report.not_done.push((steps[i].change.address.clone(), steps[i].change.action));
            }
        }
    }
    failed
}

/// Deletes deposed objects: the old objects of create-before-destroy replacements (phase 3),
/// or those a previous run left behind (phase 0). State records each as its address's deposed
/// object until its delete succeeds, so a failure or a crash never forgets one. Returns the
/// addresses whose deposed object is still there.
async fn delete_deposed(
    objects: &[(ResourceAddress, Value)],
    providers: &Providers,
    store: &mut StateStore,
    events: &mut (dyn FnMut(ApplyEvent) + Send),
    report: &mut ApplyReport,
    fatal: &mut Option<StoreError>,
) -> HashSet<ResourceAddress> {
    let mut left = HashSet::new();
    for (addr, old) in objects.iter().rev() {
        let Some(provider) = providers.get(addr.block.provider()) else {
            left.insert(addr.clone());
            continue;
        };
        let before = old.unmark();
        events(ApplyEvent::Started { address: addr.clone(), kind: StepKind::Delete });
        let request = ApplyRequest {
            address: addr,
            prior_state: Some(&before),
            planned_state: None,
            config: &Value::Null,
        };
        let result = match provider.apply(request).await {
            Ok(_) => Ok(()),
            // Gone already (deleted by an interrupted run, or by hand) is what we want.
            Err(e) => match provider.read(ReadRequest { address: addr, state: &before }).await {
                Ok(None) => Ok(()),
                Ok(Some(_)) | Err(_) => Err(e),
            },
        };
        match result {
            Ok(()) => {
                if let Some(mut rs) = store.state().resources.get(addr).cloned() {
                    rs.deposed = None;
                    if let Err(e) = store.finish(addr, Some(rs)) {
                        *fatal = Some(e);
                        left.insert(addr.clone());
                        return left;
                    }
                }
                report.done.push((addr.clone(), StepKind::Delete));
                events(ApplyEvent::Finished { address: addr.clone(), kind: StepKind::Delete, id: None });
            }
            Err(e) => {
                left.insert(addr.clone());
                let message = format!(
                    "the replaced object could not be deleted; state keeps it as deposed and the next apply tries again: {e}"
                );
                report.failed.push((addr.clone(), StepKind::Delete, message.clone()));
                events(ApplyEvent::Failed { address: addr.clone(), kind: StepKind::Delete, message });
            }
        }
    }
    left
}

/// One instance step in phase 2.
struct Step {
    /// For a create-before-destroy replacement, the old object, recorded as deposed until
    /// phase 3 deletes it.
    deposed: Option<Value>,
    addr: ResourceAddress,
    kind: StepKind,
    prior: Option<Value>,
    config: Value,
    saved_after: Value,
}

/// A node's steps in flight, and the values of its instances that needed none (for a data
/// source: its instances' configurations).
type PendingNode = (Vec<Step>, Vec<(ResourceAddress, Value)>);

enum NodeIo {
    Steps(Vec<Result<Value, StepError>>),
    Data(Vec<Result<Value, ProviderError>>),
    Configured(Result<(), ProviderError>),
}

struct Applier<'a, 'e> {
    stack: &'a Stack,
    graph: &'a DepGraph,
    nodes: &'a [Node],
    plan: &'a Plan,
    providers: &'a Providers,
    cwd: &'a Path,
    tables: Tables,
    store: &'a mut StateStore,
    events: &'e mut (dyn FnMut(ApplyEvent) + Send),
    report: &'a mut ApplyReport,
    fatal: Option<StoreError>,
    failed_deletes: &'a HashSet<ResourceAddress>,
    /// Per node: the steps in flight, and the values of the instances that needed none.
    pending: HashMap<usize, PendingNode>,
    outputs: &'a mut BTreeMap<String, OutputState>,
    /// The providers configured from resources ([`crate::configure`]).
    late: BTreeSet<String>,
    /// The configuration each late provider was last given.
    configured: BTreeMap<String, Value>,
    /// The configurations being given.
    pending_configs: BTreeMap<String, Value>,
}

impl Applier<'_, '_> {
    fn scope(&self) -> Scope<'_> {
        Scope::new(&self.tables, &self.stack.dir, self.cwd)
    }

    fn fail_config(&mut self, d: Diagnostic) -> Started<NodeIo> {
        self.report.diagnostics.push(d);
        Started::Done(false)
    }

    /// A provider configured from resources, now that they are applied: configured again when
    /// that gives another configuration than the one it has.
    fn start_late_provider(&mut self, name: &str) -> Started<NodeIo> {
        let (Some(block), Some(provider)) =
            (self.stack.providers.get(name), self.providers.get(name).cloned())
        else {
            return Started::Done(false);
        };
        let (config, d) = eval::eval_body(&block.body, &provider.schema().provider, &self.scope());
        if d.has_errors() {
            self.report.diagnostics.extend(d.0);
            return Started::Done(false);
        }
        if config.contains_unknown() {
            return self.fail_config(
                Diagnostic::error(
                    "lanestack::provider_unknown",
                    format!("provider {name:?}'s configuration is still unknown after what it refers to was applied"),
                )
                .at(block.span.clone(), "configured here"),
            );
        }
        if self.configured.get(name).is_some_and(|c| c.unmark() == config.unmark()) {
            return Started::Done(true);
        }
        let unmarked = config.unmark();
        self.pending_configs.insert(name.to_owned(), config);
        Started::Io(Box::pin(async move { NodeIo::Configured(provider.configure(&unmarked).await) }))
    }

    fn start_resource(&mut self, n: usize, block: &ResourceBlock) -> Started<NodeIo> {
        let data = block.addr.mode == Mode::Data;
        let Some(schema) = self.providers.resource_schema(&block.addr.type_name, data) else {
            return Started::Done(false);
        };
        let schema = &schema.block;
        let Some(provider) = self.providers.get(block.addr.provider()).cloned() else {
            return Started::Done(false);
        };
        let instances = match expand::expand(block, &self.tables, &self.stack.dir, self.cwd) {
            Ok(i) => i,
            Err(d) => return self.fail_config(d),
        };
        let mut steps = Vec::new();
        let mut settled = Vec::new();
        let mut data_requests = Vec::new();
        for instance in instances {
            if data {
                let (config, d) =
                    expand::eval_instance(block, schema, &instance, &self.tables, &self.stack.dir, self.cwd);
                if d.has_errors() {
                    self.report.diagnostics.extend(d);
                    return Started::Done(false);
                }
                data_requests.push((instance.addr, config));
                continue;
            }
            let recorded = self.store.state().resources.get(&instance.addr).map(|r| r.value.clone());
            let Some(change) = self.plan.change(&instance.addr) else {
                // Not part of this plan (targeted out): keep what exists.
                if let Some(v) = recorded {
                    settled.push((instance.addr, v));
                }
                continue;
            };
            let c = &change.change;
            match c.action {
                Action::NoOp => {
                    let value = c.before.clone().or(recorded.clone()).unwrap_or_default();
                    // Refresh found changes that need no action: record what is live.
                    if recorded.as_ref().map(Value::unmark) != Some(value.unmark()) {
                        let deposed =
                            self.store.state().resources.get(&instance.addr).and_then(|r| r.deposed.clone());
                        let rs = ResourceState {
                            address: instance.addr.clone(),
                            value: value.clone(),
                            dependencies: change.dependencies.clone(),
                            tainted: false,
                            deposed,
                        };
                        if let Err(e) = self.store.finish(&instance.addr, Some(rs)) {
                            self.fatal = Some(e);
                            return Started::Done(false);
                        }
                    }
                    settled.push((instance.addr, value));
                }
                Action::Delete => {}
                Action::Create | Action::Update | Action::DeleteThenCreate | Action::CreateThenDelete => {
                    if self.failed_deletes.contains(&instance.addr) {
                        return Started::Done(false);
                    }
                    let (config, d) = expand::eval_instance(
                        block,
                        schema,
                        &instance,
                        &self.tables,
                        &self.stack.dir,
                        self.cwd,
                    );
                    if d.has_errors() {
                        self.report.diagnostics.extend(d);
                        return Started::Done(false);
                    }
                    let prior = if c.action == Action::Update { c.before.clone() } else { None };
                    let config = expand::apply_ignore_changes(
                        config,
                        prior.as_ref(),
                        &block.lifecycle.ignore_changes,
                        schema,
                    );
                    let kind = if c.action == Action::Update { StepKind::Update } else { StepKind::Create };
                    let deposed = if c.action == Action::CreateThenDelete { c.before.clone() } else { None };
                    steps.push(Step {
                        deposed,
                        addr: instance.addr,
                        kind,
                        prior,
                        config,
                        saved_after: c.after.clone().unwrap_or_default(),
                    });
                }
            }
        }
        if data {
            let requests: Vec<(ResourceAddress, Value)> =
                data_requests.iter().map(|(a, c)| (a.clone(), c.unmark())).collect();
            self.pending.insert(n, (Vec::new(), data_requests));
            return Started::Io(Box::pin(async move {
                let mut out = Vec::new();
                for (addr, config) in &requests {
                    out.push(provider.read_data(DataRequest { address: addr, config }).await);
                }
                NodeIo::Data(out)
            }));
        }
        if steps.is_empty() {
            let values = settled;
            self.tables.resources.insert(block.addr.clone(), expand::block_value(block, values));
            return Started::Done(true);
        }
        if self.fatal.is_some() {
            return Started::Done(false);
        }
        for s in &steps {
            if let Err(e) = self.store.begin(&s.addr, s.kind, Some(&s.saved_after)) {
                self.fatal = Some(e);
                return Started::Done(false);
            }
            (self.events)(ApplyEvent::Started { address: s.addr.clone(), kind: s.kind });
            tracing::debug!(address = %s.addr, kind = ?s.kind, "step started");
        }
        let requests: Vec<StepRequest> = steps
            .iter()
            .map(|s| StepRequest {
                addr: s.addr.clone(),
                prior: s.prior.as_ref().map(Value::unmark),
                config: s.config.unmark(),
                saved_after: s.saved_after.clone(),
                replaced: s.deposed.as_ref().map(Value::unmark),
            })
            .collect();
        self.pending.insert(n, (steps, settled));
        let seal = self.plan.sealed.clone();
        Started::Io(Box::pin(async move {
            let mut out = Vec::with_capacity(requests.len());
            if requests.len() == 1 {
                out.push(apply_one(&*provider, &requests[0], seal.as_ref()).await);
                return NodeIo::Steps(out);
            }
            let mut tasks = tokio::task::JoinSet::new();
            for (i, request) in requests.into_iter().enumerate() {
                let provider = provider.clone();
                let seal = seal.clone();
                tasks.spawn(async move { (i, apply_one(&*provider, &request, seal.as_ref()).await) });
            }
            out.resize_with(tasks.len(), || Err(StepError::Failed("the step's task failed".to_owned())));
            while let Some(joined) = tasks.join_next().await {
                if let Ok((i, r)) = joined {
                    out[i] = r;
                }
            }
            NodeIo::Steps(out)
        }))
    }

    fn finish_resource(&mut self, n: usize, block: &ResourceBlock, out: Option<NodeIo>) -> bool {
        let (steps, mut values) = self.pending.remove(&n).unwrap_or_default();
        let data = block.addr.mode == Mode::Data;
        let schema = self.providers.resource_schema(&block.addr.type_name, data).map(|s| s.block.clone());
        let Some(schema) = schema else { return false };
        match out {
            Some(NodeIo::Data(results)) => {
                let mut ok = true;
                let configs = std::mem::take(&mut values);
                for ((addr, config), r) in configs.into_iter().zip(results) {
                    match r {
                        Ok(v) => values.push((addr, expand::data_result(v, &config, &schema))),
                        Err(e) => {
                            ok = false;
                            self.report.diagnostics.push(
                                Diagnostic::error("lanestack::provider", format!("{addr}: {e}"))
                                    .at(block.span.clone(), "while reading this data source"),
                            );
                        }
                    }
                }
                self.tables.resources.insert(block.addr.clone(), expand::block_value(block, values));
                ok
            }
            Some(NodeIo::Steps(results)) => {
                let dependencies = self.graph.resource_dependencies(&Node::Resource(block.addr.clone()));
                let mut ok = true;
                for (step, r) in steps.into_iter().zip(results) {
                    let mark = |v: Value| {
                        expand::mark_by_schema(
                            v.with_sensitive_paths(&step.config.sensitive_paths()),
                            &schema,
                        )
                    };
                    let result = match r {
                        Ok(v) => {
                            let v = mark(v);
                            values.push((step.addr.clone(), v.clone()));
                            Ok(Some(ResourceState {
                                address: step.addr.clone(),
                                value: v,
                                dependencies: dependencies.clone(),
                                tainted: false,
                                deposed: step.deposed.clone(),
                            }))
                        }
                        Err(StepError::Failed(message)) => Err(message),
                        Err(StepError::Partial(message, live)) => {
                            // Recorded as existing (tainted) rather than failed in the journal:
                            // the object is real and must not be forgotten.
                            let rs = ResourceState {
                                address: step.addr.clone(),
                                value: mark(live),
                                dependencies: dependencies.clone(),
                                tainted: true,
                                deposed: step.deposed.clone(),
                            };
                            if let Err(e) = self.store.finish(&step.addr, Some(rs)) {
                                self.fatal = Some(e);
                            }
                            let message = format!(
                                "{message} (the object exists and is recorded as tainted: the next apply replaces it)"
                            );
                            self.report.failed.push((step.addr.clone(), step.kind, message.clone()));
                            (self.events)(ApplyEvent::Failed {
                                address: step.addr.clone(),
                                kind: step.kind,
                                message,
                            });
                            ok = false;
                            continue;
                        }
                    };
                    ok &= record(
                        self.store,
                        self.events,
                        self.report,
                        &mut self.fatal,
                        &step.addr,
                        step.kind,
                        result,
                    )
                    .is_ok();
                }
                values.sort_by(|a, b| a.0.cmp(&b.0));
                self.tables.resources.insert(block.addr.clone(), expand::block_value(block, values));
                ok
            }
            // A provider node answers for itself, never for a resource.
            Some(NodeIo::Configured(_)) | None => false,
        }
    }
}

/// What one create or update needs, owned so that it can run on its own task.
struct StepRequest {
    addr: ResourceAddress,
    prior: Option<Value>,
    config: Value,
    saved_after: Value,
    /// The object a create-before-destroy replacement replaces, which still exists while the
    /// new one is created.
    replaced: Option<Value>,
}

/// The `id` attribute of a value, when it has a known one.
fn id_of(v: &Value) -> Option<&str> {
    v.get(&lanestack_model::AttrPath::attr("id")).and_then(Value::as_str)
}

/// One create or update: the final plan (checked against the reviewed one), then the apply.
async fn apply_one(
    provider: &dyn Provider,
    r: &StepRequest,
    seal: Option<&Seal>,
) -> Result<Value, StepError> {
    let (addr, prior) = (&r.addr, r.prior.as_ref());
    // The same normalisation as at plan time, so that the check below compares like with like.
    let block = provider.schema().resources.get(addr.type_name()).map(|s| &s.block);
    let settled = block.map(|b| crate::normalize::settle_config(b, prior, &r.config));
    let config = settled.as_ref().unwrap_or(&r.config);
    let mut planned = provider
        .plan(PlanRequest { address: addr, prior_state: prior, config })
        .await
        .map_err(|e| StepError::Failed(e.to_string()))?;
    if let Some(block) = block {
        crate::normalize::settle(block, prior, config, &mut planned);
    }
    if let Some(path) = expand::contradiction(&r.saved_after, &planned.planned_state, seal) {
        return Err(StepError::Failed(format!(
            "the planned value of {path} changed since the plan was made; make a new plan and review it"
        )));
    }
    let applied = provider
        .apply(ApplyRequest {
            address: addr,
            prior_state: prior,
            planned_state: Some(&planned.planned_state),
            config,
        })
        .await;
    match applied {
        Ok(new) if new.contains_unknown() => {
            Err(StepError::Failed("the provider left values unknown after apply".to_owned()))
        }
        Ok(new) => Ok(new),
        // Someone else's object where ours would go: it is not ours to record or replace.
        Err(e) if prior.is_none() && e.kind == lanestack_model::ErrorKind::AlreadyExists => {
            Err(StepError::Failed(e.to_string()))
        }
        Err(e) => {
            // A failed create or update may still have left an object behind (a cloud
            // operation that failed half-way). Read it back so that state records it, tainted,
            // instead of forgetting it and creating a second one next time.
            let probe = prior.cloned().unwrap_or_else(|| planned.planned_state.clone());
            match provider.read(ReadRequest { address: addr, state: &probe }).await {
                Ok(Some(live)) if !live.contains_unknown() => {
                    // What is found may be the old object of a create-first replacement, which
                    // exists anyway: then the new one was not made.
                    let is_old = r.replaced.as_ref().is_some_and(|old| match (id_of(old), id_of(&live)) {
                        (Some(a), Some(b)) => a == b,
                        _ => *old == live,
                    });
                    if is_old {
                        Err(StepError::Failed(e.to_string()))
                    } else {
                        Err(StepError::Partial(e.to_string(), live))
                    }
                }
                Ok(_) | Err(_) => Err(StepError::Failed(e.to_string())),
            }
        }
    }
}

/// How a create or update failed.
enum StepError {
    /// Nothing was changed (or nothing can be known to exist).
    Failed(String),
    /// The step failed but left this object behind; it is recorded as tainted.
    Partial(String, Value),
}

impl Visitor for Applier<'_, '_> {
    type Io = NodeIo;

    fn start(&mut self, n: usize) -> Started<NodeIo> {
        let stack = self.stack;
        match &self.nodes[n] {
            Node::Provider(name) if self.late.contains(name) => self.start_late_provider(name),
            Node::Variable(_) | Node::Provider(_) => Started::Done(true),
            Node::Local(name) => match eval::eval(&stack.locals[name].value, &self.scope()) {
                Ok(v) => {
                    self.tables.locals.insert(name.clone(), v);
                    Started::Done(true)
                }
                Err(d) => self.fail_config(d),
            },
            Node::Resource(addr) => self.start_resource(n, &stack.resources[addr]),
            Node::Output(name) => {
                let output = &stack.outputs[name];
                match eval::eval(&output.value, &self.scope()) {
                    Ok(v) if v.contains_unknown() => self.fail_config(
                        Diagnostic::error(
                            "lanestack::output_unknown",
                            format!("output {name} is still unknown after apply"),
                        )
                        .at(output.value.span.clone(), "this value"),
                    ),
                    Ok(v) => {
                        let value = if output.sensitive { v.mark_sensitive() } else { v };
                        self.outputs.insert(name.clone(), OutputState { value, sensitive: output.sensitive });
                        Started::Done(true)
                    }
                    Err(d) => self.fail_config(d),
                }
            }
        }
    }

    fn finish(&mut self, n: usize, out: Option<NodeIo>) -> bool {
        match (&self.nodes[n], out) {
            (Node::Provider(name), Some(NodeIo::Configured(result))) => {
                let config = self.pending_configs.remove(name);
                match result {
                    Ok(()) => {
                        self.configured.extend(config.map(|c| (name.clone(), c)));
                        true
                    }
                    Err(e) => {
                        self.report.diagnostics.push(configure::refused(self.stack, name, &e));
                        false
                    }
                }
            }
            (Node::Resource(addr), out) => {
                let block = &self.stack.resources[addr];
                self.finish_resource(n, block, out)
            }
            _ => false,
        }
    }

    fn before_launch(&mut self) -> bool {
        sync(self.store, &mut self.fatal)
    }
}
