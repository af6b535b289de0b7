//! A stack in a temporary directory, planned and applied against the fake provider.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use lanestack_engine::Providers;
use lanestack_engine::apply::{self, ApplyEvent, ApplyInputs, ApplyReport};
use lanestack_engine::config;
use lanestack_engine::diag::Diagnostics;
use lanestack_engine::graph::DepGraph;
use lanestack_engine::plan::{self, Plan, PlanInputs, PlanMode, PlanOptions};
use lanestack_engine::recover;
use lanestack_engine::state::{StateFile, StateStore};
use lanestack_model::{Action, Value};

use crate::fake::FakeProvider;

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub fake: Arc<FakeProvider>,
    pub providers: Providers,
}

impl Harness {
    pub fn new(stack: &str) -> Harness {
        Harness::with_fake(FakeProvider::with_thing(), stack)
    }

    /// A harness around a given fake.
    pub fn with_fake(fake: FakeProvider, stack: &str) -> Harness {
        let fake = Arc::new(fake);
        let providers = Providers::new().with(fake.clone());
        let h = Harness { dir: tempfile::tempdir().unwrap(), fake, providers };
        h.write(stack);
        h
    }

    pub fn write(&self, stack: &str) {
        std::fs::write(self.dir.path().join("main.hcl"), stack).unwrap();
    }

    pub fn read_stack(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("main.hcl")).unwrap()
    }

    pub fn state_dir(&self) -> std::path::PathBuf {
        self.dir.path().join(".lanestack")
    }

    pub fn store(&self) -> StateStore {
        StateStore::open(self.state_dir()).unwrap()
    }

    pub fn state(&self) -> StateFile {
        self.store().state().clone()
    }

    fn load(&self) -> Result<(config::Stack, DepGraph), Diagnostics> {
        let loaded = config::load_dir(self.dir.path());
        let mut diags = loaded.diagnostics;
        diags.extend(config::check_against_schemas(&loaded.stack, self.providers.schemas()));
        let (graph, g) = DepGraph::build(&loaded.stack);
        diags.extend(g);
        if diags.has_errors() { Err(diags) } else { Ok((loaded.stack, graph)) }
    }

    pub async fn plan_with(&self, opts: PlanOptions) -> Result<Plan, Diagnostics> {
        let (stack, graph) = self.load()?;
        let mut store = self.store();
        let state = store.state().clone();
        let (variables, var_diags) = lanestack_engine::eval::inputs::resolve_variables(&stack, &[]);
        if var_diags.has_errors() {
            return Err(var_diags);
        }
        if !store.in_flight().is_empty() {
            let d =
                plan::configure(&stack, &graph, &variables, &state, &self.providers, self.dir.path()).await;
            assert!(!d.has_errors(), "{d:?}");
            recover::recover(&mut store, &self.providers).await.unwrap();
        }
        let state = store.state().clone();
        let exists = state.serial > 0 || !state.resources.is_empty();
        let inputs = PlanInputs {
            stack: &stack,
            graph: &graph,
            variables: &variables,
            state: &state,
            state_exists: exists,
            providers: &self.providers,
            cwd: self.dir.path(),
        };
        plan::plan(inputs, &opts, &Arc::new(AtomicBool::new(false))).await.map(|(p, _)| p)
    }

    pub async fn plan(&self) -> Plan {
        self.plan_with(PlanOptions::default()).await.unwrap_or_else(|d| panic!("plan failed: {d:#?}"))
    }

    /// Applies a plan made earlier (as `apply FILE` does, after the freshness check).
    pub async fn apply_plan(&self, plan: &Plan) -> Result<ApplyReport, apply::ApplyError> {
        let loaded = config::load_sources(plan.dir.clone(), plan.sources.clone());
        assert!(!loaded.diagnostics.has_errors());
        let (graph, _) = DepGraph::build(&loaded.stack);
        let mut store = self.store();
        let exists = store.state().serial > 0 || !store.state().resources.is_empty();
        apply::check_fresh(plan, &store, exists)?;
        let inputs = ApplyInputs {
            stack: &loaded.stack,
            graph: &graph,
            providers: &self.providers,
            cwd: self.dir.path(),
            parallelism: 8,
        };
        let mut events: Vec<ApplyEvent> = Vec::new();
        let mut sink = |e: ApplyEvent| events.push(e);
        apply::apply(inputs, plan, &mut store, &Arc::new(AtomicBool::new(false)), &mut sink).await
    }

    /// Plans and applies; returns the plan and the report.
    pub async fn apply_with(&self, opts: PlanOptions) -> (Plan, ApplyReport) {
        let plan = self.plan_with(opts).await.unwrap_or_else(|d| panic!("plan failed: {d:#?}"));
        let report = self.apply_plan(&plan).await.unwrap();
        (plan, report)
    }

    pub async fn apply(&self) -> (Plan, ApplyReport) {
        self.apply_with(PlanOptions::default()).await
    }

    pub async fn destroy(&self) -> (Plan, ApplyReport) {
        self.apply_with(PlanOptions { mode: PlanMode::Destroy, ..PlanOptions::default() }).await
    }
}

/// The (address, action) pairs of a plan's effective changes.
pub fn actions(plan: &Plan) -> Vec<(String, Action)> {
    plan.effective().map(|c| (c.change.address.to_string(), c.change.action)).collect()
}

/// The value of one attribute of a state entry.
pub fn attr(state: &StateFile, address: &str, name: &str) -> Value {
    let addr = address.parse().unwrap();
    state.resources[&addr].value.get(&lanestack_model::AttrPath::attr(name)).cloned().unwrap_or_default()
}
