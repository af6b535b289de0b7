//! Plans: what apply will do, as a value that can be shown, saved and applied later.
//!
//! [`plan`] refreshes every recorded resource through its provider (concurrently), walks the
//! stack's dependency graph evaluating each item, asks providers for the facts of each resource
//! instance, and lets [`crate::decide`] choose the actions. The resulting [`Plan`] keeps the
//! configuration it was made from and the identity (lineage, serial) of the state it was diffed
//! against, so that applying it later can refuse a stale plan.

pub(crate) mod planner;

use std::collections::BTreeMap;
use std::path::PathBuf;

use lanestack_model::{Action, BlockAddress, Drift, OutputChange, ResourceAddress, ResourceChange, Value};

pub use planner::{PlanInputs, plan};

/// Which kind of plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanMode {
    /// Make the infrastructure match the stack.
    Normal,
    /// Delete everything in state.
    Destroy,
}

/// What the user asked of a plan.
#[derive(Clone, Debug)]
pub struct PlanOptions {
    /// Normal or destroy.
    pub mode: PlanMode,
    /// Read every recorded resource before diffing (`--refresh=false` turns it off).
    pub refresh: bool,
    /// Limit the plan to these resources and what they depend on (`--target`).
    pub targets: Vec<ResourceAddress>,
    /// Replace these instances even if nothing changed (`--replace`).
    pub replace: Vec<ResourceAddress>,
    /// How many provider calls may run at once.
    pub parallelism: usize,
}

impl Default for PlanOptions {
    fn default() -> PlanOptions {
        PlanOptions {
            mode: PlanMode::Normal,
            refresh: true,
            targets: Vec::new(),
            replace: Vec::new(),
            parallelism: 64,
        }
    }
}

/// The change planned for one instance, with what apply needs to order and guard it.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedChange {
    /// The change itself.
    pub change: ResourceChange,
    /// The resource blocks this instance depends on (for ordering deletes).
    pub dependencies: Vec<BlockAddress>,
    /// The provider marks the type as holding data (volumes, claims, registries).
    pub data_bearing: bool,
    /// The resource block has `lifecycle { prevent_destroy = true }`: plan reviews flag every
    /// change to it (a delete or replace of it is an error, so only updates reach a plan).
    pub prevent_destroy: bool,
}

/// The state a plan was made from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateRef {
    /// The state's lineage.
    pub lineage: String,
    /// The state's serial.
    pub serial: u64,
}

/// A plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Normal or destroy.
    pub mode: PlanMode,
    /// One entry per resource instance in the stack or in state, sorted by address; no-ops
    /// included (renderers skip them).
    pub changes: Vec<PlannedChange>,
    /// Changes made outside lanestack, found by refresh.
    pub drift: Vec<Drift>,
    /// Output changes, sorted by name.
    pub outputs: Vec<OutputChange>,
    /// The state this plan was made from; `None` when there was no state yet.
    pub base: Option<StateRef>,
    /// The variables' values (sensitive ones marked).
    pub variables: BTreeMap<String, Value>,
    /// The stack directory, as given (relative to `cwd`).
    pub dir: PathBuf,
    /// The working directory the plan was made in: relative paths in the stack (`path.module`,
    /// files) resolve against it, so applying a saved plan happens there too.
    pub cwd: PathBuf,
    /// The stack's files as planned: (display path, text).
    pub sources: Vec<(PathBuf, String)>,
    /// `--target` addresses the plan was limited to.
    pub targets: Vec<ResourceAddress>,
    /// Recorded instances that refresh found gone and the stack no longer has: apply only
    /// removes them from state.
    pub forget: Vec<ResourceAddress>,
    /// Old objects left by create-before-destroy replacements whose delete failed or was
    /// interrupted (state's deposed objects): apply deletes them first.
    pub deposed: Vec<(ResourceAddress, Value)>,
    /// `None` for a plan made in this process, whose sensitive parts hold the real values.
    /// `Some` for a plan read from a file: every known sensitive part of its values is then a
    /// seal (`sha256:...`), not the secret; see [`crate::planfile::unseal`].
    pub sealed: Option<crate::secrets::Seal>,
}

/// How many resources each kind of action touches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Creates.
    pub add: usize,
    /// In-place updates.
    pub change: usize,
    /// Replacements.
    pub replace: usize,
    /// Deletes.
    pub destroy: usize,
}

impl Plan {
    /// The changes that do something (no-ops left out).
    pub fn effective(&self) -> impl Iterator<Item = &PlannedChange> {
        self.changes.iter().filter(|c| c.change.action != Action::NoOp)
    }

    /// Counts by kind of action.
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for c in &self.changes {
            match c.change.action {
                Action::NoOp => {}
                Action::Create => t.add += 1,
                Action::Update => t.change += 1,
                Action::DeleteThenCreate | Action::CreateThenDelete => t.replace += 1,
                Action::Delete => t.destroy += 1,
            }
        }
        t.destroy += self.deposed.len();
        t
    }

    /// True when applying would change any resource or output.
    pub fn has_changes(&self) -> bool {
        self.effective().next().is_some()
            || !self.deposed.is_empty()
            || self.outputs.iter().any(|o| o.action != Action::NoOp)
    }

    /// The planned change for one instance.
    pub fn change(&self, addr: &ResourceAddress) -> Option<&PlannedChange> {
        self.changes.binary_search_by(|c| c.change.address.cmp(addr)).ok().map(|i| &self.changes[i])
    }
}

/// Configures every provider that the stack or the state uses, evaluating their `provider`
/// blocks with the variables and with the locals that need no resource (and, for blocks that
/// refer to resources, with the state's values). Plan and apply do this
/// themselves; call it directly only before [`crate::recover::recover`].
pub async fn configure(
    stack: &crate::config::Stack,
    graph: &crate::graph::DepGraph,
    variables: &BTreeMap<String, Value>,
    state: &crate::state::StateFile,
    providers: &crate::registry::Providers,
    cwd: &std::path::Path,
) -> crate::diag::Diagnostics {
    let mut tables = crate::expand::Tables { vars: variables.clone(), ..Default::default() };
    let mut diags = crate::diag::Diagnostics::new();
    crate::configure::configure_providers(stack, graph, state, providers, &mut tables, cwd, &mut diags).await;
    // Late providers from the state recorded: recovery reads objects back with them.
    let recorded =
        |addr: &lanestack_model::ResourceAddress| state.resources.get(addr).map(|r| r.value.clone());
    let instances = crate::configure::instances_by_block(state);
    crate::configure::configure_late(
        stack, graph, providers, &tables, cwd, &recorded, &instances, &mut diags,
    )
    .await;
    diags
}
