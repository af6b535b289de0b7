//! A stack in a temporary directory, planned and applied through the engine with the real
//! providers: an AKS cluster in the emulator with the kubernetes provider configured from its
//! kubeconfig ([`Cluster::start`]), or the kubernetes provider alone on a kubeconfig file (the
//! real CRD API server's, [`Cluster::on_kubeconfig`]); plus the objects a test adds.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use lanestack_azure::AzureProvider;
use lanestack_azure::client::RetryPolicy;
use lanestack_builtin::BuiltinProvider;
use lanestack_emulator::{Emulator, EmulatorConfig};
use lanestack_engine::Providers;
use lanestack_engine::apply::{self, ApplyInputs, ApplyReport};
use lanestack_engine::config;
use lanestack_engine::graph::DepGraph;
use lanestack_engine::plan::{self, Plan, PlanInputs, PlanMode, PlanOptions};
use lanestack_engine::state::{StateFile, StateStore};
use lanestack_kubernetes::{Ambient, KubernetesProvider};
use lanestack_model::{AttrPath, Value};

const CLUSTER: &str = r#"
resource "azure_resource_group" "rg" {
  name     = "rg-k8s"
  location = "westeurope"
}

resource "azure_kubernetes_cluster" "aks" {
  name                = "aks"
  resource_group_name = azure_resource_group.rg.name
  location            = azure_resource_group.rg.location
  dns_prefix          = "aks"

  default_node_pool {
    name       = "agentpool"
    vm_size    = "Standard_DS2_v2"
    node_count = 1
  }

  identity {
    type = "SystemAssigned"
  }
}

provider "kubernetes" {
  kubeconfig = azure_kubernetes_cluster.aks.kube_config_raw
}
"#;

pub struct Cluster {
    /// The emulator, when the cluster is an emulated AKS cluster.
    pub emulator: Option<Emulator>,
    dir: tempfile::TempDir,
    providers: Providers,
    /// What every stack starts with: the cluster, or the provider block.
    prelude: String,
    /// The kubeconfig file, when the provider is given one.
    kubeconfig: Option<std::path::PathBuf>,
}

impl Cluster {
    /// An emulator whose namespaces take `namespace_polls` reads to finish terminating.
    pub async fn start(namespace_polls: u32) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let config = EmulatorConfig {
            lro_polls: namespace_polls,
            lro_retry_after_secs: 0,
            ..EmulatorConfig::default()
        };
        let emulator = Emulator::start(config).await.unwrap();
        let providers = Providers::new()
            .with(Arc::new(BuiltinProvider::new(dir.path())))
            .with(Arc::new(AzureProvider::with_retry(RetryPolicy::fast())))
            .with(Arc::new(KubernetesProvider::new(dir.path(), Ambient::default())));
        let e = emulator.endpoint();
        let azure = format!(
            "provider \"azure\" {{\n  subscription_id = \"00000000-0000-0000-0000-000000000001\"\n  \
             endpoint = \"{e}\"\n  authority_host = \"{e}\"\n  tenant_id = \"t\"\n  client_id = \"c\"\n  \
             client_secret = \"s\"\n}}\n"
        );
        std::fs::write(dir.path().join("azure.hcl"), azure).unwrap();
        Cluster { emulator: Some(emulator), dir, providers, prelude: CLUSTER.to_owned(), kubeconfig: None }
    }

    /// The kubernetes provider alone, on the cluster of this kubeconfig file.
    pub fn on_kubeconfig(kubeconfig: &std::path::Path) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let providers = Providers::new()
            .with(Arc::new(BuiltinProvider::new(dir.path())))
            .with(Arc::new(KubernetesProvider::new(dir.path(), Ambient::default())));
        let prelude =
            format!("provider \"kubernetes\" {{\n  config_path = \"{}\"\n}}\n", kubeconfig.display());
        Cluster { emulator: None, dir, providers, prelude, kubeconfig: Some(kubeconfig.to_owned()) }
    }

    /// Sets the stack: the prelude and `objects`.
    pub fn write(&self, objects: &str) {
        std::fs::write(self.dir.path().join("main.hcl"), format!("{}\n{objects}", self.prelude)).unwrap();
    }

    /// Writes a file beside the stack (for `file(...)`).
    pub fn write_file(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join(name), text).unwrap();
    }

    fn store(&self) -> StateStore {
        StateStore::open(self.dir.path().join(".lanestack")).unwrap()
    }

    pub fn state(&self) -> StateFile {
        self.store().state().clone()
    }

    pub async fn plan_with(&self, mode: PlanMode) -> Plan {
        match self.try_plan(mode).await {
            Ok(plan) => plan,
            Err(d) => panic!("plan failed: {d:#?}"),
        }
    }

    /// The plan, or the diagnostics of a plan that failed.
    pub async fn try_plan(&self, mode: PlanMode) -> Result<Plan, lanestack_engine::diag::Diagnostics> {
        let loaded = config::load_dir(self.dir.path());
        let mut diags = loaded.diagnostics;
        diags.extend(config::check_against_schemas(&loaded.stack, self.providers.schemas()));
        let (graph, g) = DepGraph::build(&loaded.stack);
        diags.extend(g);
        assert!(!diags.has_errors(), "{diags:?}");
        let state = self.state();
        let inputs = PlanInputs {
            stack: &loaded.stack,
            graph: &graph,
            variables: &BTreeMap::new(),
            state: &state,
            state_exists: state.serial > 0,
            providers: &self.providers,
            cwd: self.dir.path(),
        };
        let opts = PlanOptions { mode, ..PlanOptions::default() };
        plan::plan(inputs, &opts, &Arc::new(AtomicBool::new(false))).await.map(|(plan, _)| plan)
    }

    pub async fn plan(&self) -> Plan {
        self.plan_with(PlanMode::Normal).await
    }

    pub async fn apply_plan(&self, plan: &Plan) -> ApplyReport {
        let loaded = config::load_sources(plan.dir.clone(), plan.sources.clone());
        let (graph, _) = DepGraph::build(&loaded.stack);
        let inputs = ApplyInputs {
            stack: &loaded.stack,
            graph: &graph,
            providers: &self.providers,
            cwd: self.dir.path(),
            parallelism: 4,
        };
        let mut sink = |_| {};
        apply::apply(inputs, plan, &mut self.store(), &Arc::new(AtomicBool::new(false)), &mut sink)
            .await
            .unwrap()
    }

    /// Plans and applies; the apply must succeed.
    pub async fn apply(&self) -> Plan {
        let plan = self.plan().await;
        let report = self.apply_plan(&plan).await;
        assert!(report.succeeded(), "{report:?}");
        plan
    }

    /// A client of the cluster's API with the kubeconfig lanestack uses: someone else.
    pub fn kubectl(&self) -> lanestack_kube::Client {
        if let Some(path) = &self.kubeconfig {
            let config = lanestack_kube::Config::from_kubeconfig(path, None).unwrap();
            return lanestack_kube::Client::new(&config).unwrap();
        }
        let state = self.state();
        let addr = "azure_kubernetes_cluster.aks".parse().unwrap();
        let kubeconfig =
            state.resources[&addr].value.get(&AttrPath::attr("kube_config_raw")).unwrap().unmark();
        let config =
            lanestack_kube::Config::from_kubeconfig_text(kubeconfig.as_str().unwrap(), None, self.dir.path())
                .unwrap();
        lanestack_kube::Client::new(&config).unwrap()
    }

    /// One attribute of a recorded resource.
    pub fn attr(&self, address: &str, path: &str) -> Value {
        let addr = address.parse().unwrap();
        let path: AttrPath = path.parse().unwrap();
        self.state().resources[&addr].value.get(&path).cloned().unwrap_or_default().unmark()
    }
}

/// The (address, action) of every change a plan would make.
pub fn actions(plan: &Plan) -> Vec<(String, lanestack_model::Action)> {
    plan.effective().map(|c| (c.change.address.to_string(), c.change.action)).collect()
}
