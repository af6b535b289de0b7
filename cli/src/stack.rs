//! Loading a stack for a command: files, schema checks, graph, variables, providers, state.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use lanestack_azure::AzureProvider;
use lanestack_builtin::BuiltinProvider;
use lanestack_engine::Providers;
use lanestack_engine::config::{self, Loaded, Stack};
use lanestack_engine::diag::Sources;
use lanestack_engine::eval::inputs::resolve_variables;
use lanestack_engine::graph::DepGraph;
use lanestack_engine::state::{LockGuard, StateFile, StateStore, lock};
use lanestack_helm::HelmProvider;
use lanestack_image::ImageProvider;
use lanestack_kubernetes::{Ambient, KubernetesProvider};
use lanestack_model::Value;
use lanestack_runai::RunaiProvider;

use crate::Reported;
use crate::injected::Injection;
use crate::inputs::{self, VarArgs};
use crate::ui::Ui;

/// A stack ready to plan: loaded, checked, its graph built and its variables resolved.
pub struct Ready {
    pub stack: Stack,
    pub graph: DepGraph,
    pub variables: BTreeMap<String, Value>,
    pub providers: Providers,
    pub cwd: PathBuf,
}

/// The providers this build knows, for a stack in `dir`, with `injection`'s configuration.
pub fn providers(dir: &Path, injection: &Injection) -> Providers {
    Providers::new()
        .with(injection.wrap(Arc::new(BuiltinProvider::new(dir.to_path_buf()))))
        .with(injection.wrap(Arc::new(AzureProvider::new().with_base_dir(dir))))
        .with(injection.wrap(Arc::new(KubernetesProvider::new(dir.to_path_buf(), kube_ambient()))))
        .with(injection.wrap(Arc::new(ImageProvider::new(dir.to_path_buf()))))
        .with(injection.wrap(Arc::new(HelmProvider::new(dir.to_path_buf()))))
        .with(injection.wrap(Arc::new(RunaiProvider::new(dir.to_path_buf()))))
}

/// The variables the kubernetes provider falls back on when its block names no cluster
/// (`KUBECONFIG`, a pod's service account, `~/.kube/config`): read here, the one place that
/// reads the environment.
fn kube_ambient() -> Ambient {
    Ambient {
        vars: Ambient::VARIABLES
            .iter()
            .filter_map(|name| std::env::var(name).ok().map(|v| ((*name).to_owned(), v)))
            .collect(),
        service_account_dir: lanestack_kube::config::SERVICE_ACCOUNT_DIR.into(),
    }
}

/// Checks a loaded stack: schemas and the graph. Prints every diagnostic; errors are `Reported`.
pub fn check(loaded: Loaded, injection: &Injection, ui: &Ui) -> anyhow::Result<(Stack, DepGraph, Providers)> {
    let Loaded { stack, mut diagnostics } = loaded;
    let providers = providers(&stack.dir, injection);
    let (graph, graph_diags) = DepGraph::build(&stack);
    // Items with errors are left out of the stack, so checking the rest still reports real
    // problems: every diagnostic of a stack is shown at once.
    diagnostics.extend(config::check_against_schemas(&stack, providers.schemas()));
    diagnostics.extend(graph_diags);
    diagnostics.sort();
    if ui.diagnostics(&diagnostics, &stack.sources) {
        return Err(Reported.into());
    }
    Ok((stack, graph, providers))
}

/// Loads a stack directory and resolves its variables.
pub fn load(dir: &Path, vars: &VarArgs, injection: &Injection, ui: &Ui) -> anyhow::Result<Ready> {
    let (stack, graph, providers) = check(config::load_dir(dir), injection, ui)?;
    let variables = resolve(&stack, dir, vars, ui)?;
    let cwd = std::env::current_dir().context("could not read the working directory")?;
    Ok(Ready { stack, graph, variables, providers, cwd })
}

/// Resolves the stack's variables from every input source.
pub fn resolve(
    stack: &Stack,
    dir: &Path,
    vars: &VarArgs,
    ui: &Ui,
) -> anyhow::Result<BTreeMap<String, Value>> {
    // Var files are added to a copy of the stack's sources, so that every diagnostic (in the
    // stack or in a var file) resolves its span in one place, while the stack's own sources
    // (saved with plans) stay as they are.
    let mut sources: Sources = stack.sources.clone();
    let (raw, mut diags) = inputs::collect(dir, vars, &mut sources);
    let (values, var_diags) = resolve_variables(stack, &raw);
    diags.extend(var_diags);
    if ui.diagnostics(&diags, &sources) {
        return Err(Reported.into());
    }
    Ok(values)
}

/// Resolves what it can of the stack's variables, printing nothing: for a saved plan, whose
/// non-sensitive variables are in the file and whose sensitive ones are checked against their
/// seals (a diagnostic could quote a value).
pub fn resolve_quietly(stack: &Stack, dir: &Path, vars: &VarArgs) -> BTreeMap<String, Value> {
    let mut sources: Sources = stack.sources.clone();
    let (raw, _) = inputs::collect(dir, vars, &mut sources);
    resolve_variables(stack, &raw).0
}

/// The state directory of a stack.
pub fn state_dir(dir: &Path) -> PathBuf {
    dir.join(".lanestack")
}

/// Takes the lock and opens the state store.
pub fn open_state(dir: &Path, operation: &str) -> anyhow::Result<(LockGuard, StateStore)> {
    let state_dir = state_dir(dir);
    std::fs::create_dir_all(&state_dir)
        .with_context(|| format!("could not create the state directory {}", state_dir.display()))?;
    let guard = lock::acquire(&state_dir, operation)?;
    let store = StateStore::open(&state_dir)?;
    Ok((guard, store))
}

/// Opens state read-only, without the lock (for show, output, state list).
pub fn read_state(dir: &Path) -> anyhow::Result<StateFile> {
    if !dir.is_dir() {
        anyhow::bail!("{} is not a stack directory", dir.display());
    }
    Ok(StateStore::open(state_dir(dir))?.state().clone())
}

/// Whether a state has ever been written (a plan against no state binds to none).
pub fn state_exists(state: &StateFile) -> bool {
    state.serial > 0 || !state.resources.is_empty() || !state.outputs.is_empty()
}
