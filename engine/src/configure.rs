//! Configuring providers, early and late.
//!
//! Most `provider` blocks need only variables and locals: those providers are configured
//! *early*, before anything else. A block that refers to a resource or data source, directly
//! or through locals — the kubernetes provider given an AKS cluster's credentials — is
//! configured *late*, from the values those resources have:
//!
//! - before plan refreshes its resources, from what exists now (the refreshed or recorded
//!   values of the resources it refers to), so that its objects can be read; or, when that is
//!   not known then (a data source, which has no recorded value), at its node of the plan's
//!   walk, its objects read back there before they are planned;
//! - before apply deletes anything, the same way (from the plan's prior values);
//! - during apply's walk, again, once the resources it refers to are applied, when that gives
//!   another configuration (a cluster created or changed by this apply).
//!
//! When the configuration is not known yet (the cluster is created by this very plan), the
//! provider stays unconfigured during the plan: its resources plan from their configuration
//! and recorded state alone, which the provider contract allows
//! ([`lanestack_model::Provider::plan`] must not need the provider's configuration), and their
//! recorded objects are not refreshed (a warning says so).
//!
//! The graph orders all of this already: a provider node depends on what its block refers to,
//! and every resource depends on its provider's node, so the cluster is created before the
//! secrets inside it and deleted after them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use lanestack_model::{BlockAddress, ResourceAddress, Value};

use crate::config::{RefTarget, Stack};
use crate::diag::{Diagnostic, Diagnostics};
use crate::eval::{self, Scope};
use crate::expand::{self, Tables};
use crate::graph::{DepGraph, Node};
use crate::registry::Providers;
use crate::state::StateFile;

/// What a provider block refers to, directly or through locals: the resource blocks and the
/// locals (`locals { kube = yamldecode(azure_kubernetes_cluster.aks.kube_config_raw) }`).
fn block_refs(
    stack: &Stack,
    block: &crate::config::ProviderBlock,
) -> (BTreeSet<BlockAddress>, BTreeSet<String>) {
    let mut resources = BTreeSet::new();
    let mut locals = BTreeSet::new();
    let mut pending: Vec<&RefTarget> = block.body.refs().map(|r| &r.target).collect();
    while let Some(target) = pending.pop() {
        match target {
            RefTarget::Resource(addr) => {
                resources.insert(addr.clone());
            }
            RefTarget::Local(name) => {
                if locals.insert(name.clone())
                    && let Some(local) = stack.locals.get(name)
                {
                    pending.extend(local.value.refs.iter().map(|r| &r.target));
                }
            }
            _ => {}
        }
    }
    (resources, locals)
}

/// The providers whose blocks refer to resources or data sources, directly or through locals:
/// configured late.
pub(crate) fn late_providers(stack: &Stack) -> BTreeSet<String> {
    stack
        .providers
        .iter()
        .filter(|(_, p)| !block_refs(stack, p).0.is_empty())
        .map(|(name, _)| name.clone())
        .collect()
}

/// Evaluates the variables and locals that need no resource, then every early provider block
/// used by the stack or the state, and configures those providers. Late providers are left
/// out (see [`configure_late`]).
pub(crate) async fn configure_providers(
    stack: &Stack,
    graph: &DepGraph,
    state: &StateFile,
    providers: &Providers,
    tables: &mut Tables,
    cwd: &Path,
    diags: &mut Diagnostics,
) {
    for node in graph.order() {
        if let Node::Local(name) = node {
            let local = &stack.locals[name];
            let scope = Scope::new(&*tables, &stack.dir, cwd);
            // Locals that need resources stay unknown here; the walk evaluates them for real.
            if let Ok(v) = eval::eval(&local.value, &scope) {
                tables.locals.insert(name.clone(), v);
            }
        }
    }
    let late = late_providers(stack);
    let mut used: BTreeSet<&str> = stack.resources.keys().map(BlockAddress::provider).collect();
    used.extend(state.resources.keys().map(|a| a.block.provider()));
    used.extend(stack.providers.keys().map(String::as_str));
    for name in used {
        if late.contains(name) {
            continue;
        }
        let Some(provider) = providers.get(name) else {
            let mut d =
                Diagnostic::error("lanestack::unknown_provider", format!("no provider named {name:?}"));
            if let Some(block) = stack.providers.get(name) {
                d = d.at(block.span.clone(), "this provider is not available");
            }
            diags.push(d);
            continue;
        };
        let config = match stack.providers.get(name) {
            Some(block) => {
                let scope = Scope::new(&*tables, &stack.dir, cwd);
                let (v, d) = eval::eval_body(&block.body, &provider.schema().provider, &scope);
                let failed = d.has_errors();
                diags.extend(d);
                if failed {
                    continue;
                }
                v
            }
            None => Value::Null,
        };
        configure_one(stack, providers, name, &config, diags).await;
    }
}

/// Configures every late provider whose block is known from `values` (what the resources it
/// refers to are now: refreshed, recorded, or the plan's prior values), on top of the variables
/// and locals in `tables`. Returns the configuration each configured provider was given.
#[allow(clippy::too_many_arguments)] // each is one thing the evaluation reads
pub(crate) async fn configure_late(
    stack: &Stack,
    graph: &DepGraph,
    providers: &Providers,
    tables: &Tables,
    cwd: &Path,
    values: &dyn Fn(&ResourceAddress) -> Option<Value>,
    instances: &BTreeMap<BlockAddress, Vec<ResourceAddress>>,
    diags: &mut Diagnostics,
) -> BTreeMap<String, Value> {
    let mut configured = BTreeMap::new();
    for name in late_providers(stack) {
        let Some(block) = stack.providers.get(&name) else { continue };
        let Some(provider) = providers.get(&name) else {
            diags.push(
                Diagnostic::error("lanestack::unknown_provider", format!("no provider named {name:?}"))
                    .at(block.span.clone(), "this provider is not available"),
            );
            continue;
        };
        let mut scope_tables = Tables {
            vars: tables.vars.clone(),
            locals: tables.locals.clone(),
            resources: std::collections::HashMap::new(),
        };
        let (resources, locals) = block_refs(stack, block);
        for addr in &resources {
            let value = match (stack.resources.get(addr), instances.get(addr)) {
                (Some(resource), Some(addrs)) => {
                    let found: Option<Vec<(ResourceAddress, Value)>> =
                        addrs.iter().map(|a| values(a).map(|v| (a.clone(), v))).collect();
                    found.map_or(Value::Unknown, |found| expand::block_value(resource, found))
                }
                // Not created yet (or no longer in the stack): known only after apply.
                _ => Value::Unknown,
            };
            scope_tables.resources.insert(addr.clone(), value);
        }
        // The locals in between, in dependency order, from those values.
        for node in graph.order() {
            if let Node::Local(name) = node
                && locals.contains(name)
            {
                let scope = Scope::new(&scope_tables, &stack.dir, cwd);
                let value = eval::eval(&stack.locals[name].value, &scope).unwrap_or(Value::Unknown);
                scope_tables.locals.insert(name.clone(), value);
            }
        }
        let scope = Scope::new(&scope_tables, &stack.dir, cwd);
        let (config, d) = eval::eval_body(&block.body, &provider.schema().provider, &scope);
        if d.has_errors() {
            // Evaluated for real, with reasons, during the walk; a failure here only means the
            // values are not all there yet.
            tracing::debug!(provider = %name, "late provider configuration not evaluable before the walk");
            continue;
        }
        if config.contains_unknown() {
            tracing::debug!(provider = %name, "late provider configuration known only after apply");
            continue;
        }
        if configure_one(stack, providers, &name, &config, diags).await {
            configured.insert(name, config);
        }
    }
    configured
}

/// Configures one provider, reporting a refusal at its block. Returns whether it succeeded.
pub(crate) async fn configure_one(
    stack: &Stack,
    providers: &Providers,
    name: &str,
    config: &Value,
    diags: &mut Diagnostics,
) -> bool {
    let Some(provider) = providers.get(name) else { return false };
    match provider.configure(&config.unmark()).await {
        Ok(()) => true,
        Err(e) => {
            diags.push(refused(stack, name, &e));
            false
        }
    }
}

/// The diagnostic for a provider that refused its configuration.
pub(crate) fn refused(stack: &Stack, name: &str, e: &lanestack_model::ProviderError) -> Diagnostic {
    let mut d = Diagnostic::error(
        "lanestack::provider_configure",
        format!("provider {name:?} could not be configured: {e}"),
    );
    if let Some(block) = stack.providers.get(name) {
        d = d.at(block.span.clone(), "configured here");
    }
    d
}

/// The recorded instances of every block in `state`, by block.
pub(crate) fn instances_by_block(state: &StateFile) -> BTreeMap<BlockAddress, Vec<ResourceAddress>> {
    let mut out: BTreeMap<BlockAddress, Vec<ResourceAddress>> = BTreeMap::new();
    for addr in state.resources.keys() {
        out.entry(addr.block.clone()).or_default().push(addr.clone());
    }
    out
}
