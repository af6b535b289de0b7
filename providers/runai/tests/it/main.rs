//! `runai_project` through the engine against the emulator's Run:ai control plane: an AKS
//! cluster made by the stack, then a project on it (its namespace appears, labelled), no
//! changes on a second plan, a quota updated in place, a taken name refused, wrong credentials
//! refused without the secret, and a delete that takes the namespace with it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use lanestack_azure::AzureProvider;
use lanestack_azure::client::RetryPolicy;
use lanestack_builtin::BuiltinProvider;
use lanestack_emulator::{Emulator, EmulatorConfig, principal};
use lanestack_engine::Providers;
use lanestack_engine::apply::{self, ApplyInputs, ApplyReport};
use lanestack_engine::config;
use lanestack_engine::graph::DepGraph;
use lanestack_engine::plan::{self, Plan, PlanInputs, PlanOptions};
use lanestack_engine::state::{StateFile, StateStore};
use lanestack_model::{Action, AttrPath, Value};
use lanestack_runai::RunaiProvider;

const CLUSTER: &str = r#"
resource "azure_resource_group" "rg" {
  name     = "rg-runai"
  location = "westeurope"
}

resource "azure_kubernetes_cluster" "aks" {
  name                = "aks-gpu"
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
"#;

struct Stack {
    emulator: Emulator,
    dir: tempfile::TempDir,
    providers: Providers,
}

impl Stack {
    async fn start() -> Stack {
        let dir = tempfile::tempdir().unwrap();
        let config = EmulatorConfig { lro_polls: 2, lro_retry_after_secs: 0, ..EmulatorConfig::default() };
        let emulator = Emulator::start(config).await.unwrap();
        let providers = Providers::new()
            .with(Arc::new(BuiltinProvider::new(dir.path())))
            .with(Arc::new(AzureProvider::with_retry(RetryPolicy::fast())))
            .with(Arc::new(RunaiProvider::new(dir.path())));
        let e = emulator.endpoint();
        let azure = format!(
            "provider \"azure\" {{\n  subscription_id = \"00000000-0000-0000-0000-000000000001\"\n  \
             endpoint = \"{e}\"\n  authority_host = \"{e}\"\n  tenant_id = \"t\"\n  client_id = \"c\"\n  \
             client_secret = \"s\"\n}}\n"
        );
        std::fs::write(dir.path().join("azure.hcl"), azure).unwrap();
        Stack { emulator, dir, providers }
    }

    /// The stack: the cluster, the runai provider with `secret`, and `objects`.
    fn write(&self, secret: &str, objects: &str) {
        let runai = format!(
            "provider \"runai\" {{\n  url = \"{}/runai\"\n  client_id = \"{}\"\n  client_secret = \"{secret}\"\n}}\n",
            self.emulator.endpoint(),
            principal::CLIENT_ID
        );
        std::fs::write(self.dir.path().join("main.hcl"), format!("{CLUSTER}\n{runai}\n{objects}")).unwrap();
    }

    fn store(&self) -> StateStore {
        StateStore::open(self.dir.path().join(".lanestack")).unwrap()
    }

    fn state(&self) -> StateFile {
        self.store().state().clone()
    }

    async fn try_plan(&self) -> Result<Plan, lanestack_engine::diag::Diagnostics> {
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
        plan::plan(inputs, &PlanOptions::default(), &Arc::new(AtomicBool::new(false))).await.map(|(p, _)| p)
    }

    async fn plan(&self) -> Plan {
        match self.try_plan().await {
            Ok(p) => p,
            Err(d) => panic!("plan failed: {d:#?}"),
        }
    }

    async fn apply_plan(&self, plan: &Plan) -> ApplyReport {
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

    async fn apply(&self) -> Plan {
        let plan = self.plan().await;
        let report = self.apply_plan(&plan).await;
        assert!(report.succeeded(), "{report:?}");
        plan
    }

    fn attr(&self, address: &str, path: &str) -> Value {
        let addr = address.parse().unwrap();
        let path: AttrPath = path.parse().unwrap();
        self.state()
            .resources
            .get(&addr)
            .and_then(|r| r.value.get(&path).cloned())
            .unwrap_or_default()
            .unmark()
    }

    /// A client of the cluster's Kubernetes API, with its kubeconfig: someone else.
    fn kubectl(&self) -> lanestack_kube::Client {
        let kubeconfig = self.attr("azure_kubernetes_cluster.aks", "kube_config_raw");
        let config =
            lanestack_kube::Config::from_kubeconfig_text(kubeconfig.as_str().unwrap(), None, self.dir.path())
                .unwrap();
        lanestack_kube::Client::new(&config).unwrap()
    }
}

fn project(name: &str, gpus: u32) -> String {
    format!(
        r#"
data "runai_cluster" "aks" {{
  name = "aks-gpu"
}}

resource "runai_project" "{name}" {{
  name       = "{name}"
  cluster_id = data.runai_cluster.aks.id
  node_pool {{
    name         = "default"
    gpu_deserved = {gpus}
  }}
}}
"#
    )
}

fn actions(plan: &Plan) -> Vec<(String, Action)> {
    plan.effective().map(|c| (c.change.address.to_string(), c.change.action)).collect()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

const NAMESPACE: &str = "/api/v1/namespaces/runai-lane-detection";

#[test]
fn a_project_is_created_updated_in_place_and_deleted_with_its_namespace() {
    rt().block_on(async {
        let s = Stack::start().await;
        s.write(principal::CLIENT_SECRET, "");
        s.apply().await;
        s.write(principal::CLIENT_SECRET, &project("lane-detection", 3));
        s.apply().await;
        let p = "runai_project.lane-detection";
        assert_eq!(s.attr(p, "namespace"), Value::from("runai-lane-detection"));
        assert_eq!(s.attr(p, "status"), Value::from("Ready"));
        assert!(s.attr(p, "parent_id").as_str().is_some_and(|d| d.len() == 36));
        let kube = s.kubectl();
        let ns = kube.get(NAMESPACE).await.unwrap();
        assert_eq!(ns["metadata"]["labels"]["runai/queue"], "lane-detection");
        // Nothing to do on a second plan.
        assert_eq!(actions(&s.plan().await), vec![]);
        // A quota changes in place.
        s.write(principal::CLIENT_SECRET, &project("lane-detection", 5));
        let plan = s.apply().await;
        assert_eq!(actions(&plan), vec![(p.to_owned(), Action::Update)]);
        assert_eq!(s.attr(p, "node_pool[0].gpu_deserved"), Value::from(5));
        assert_eq!(actions(&s.plan().await), vec![]);
        // Gone from the stack: deleted, its namespace with it.
        s.write(principal::CLIENT_SECRET, "");
        s.apply().await;
        assert!(s.state().resources.keys().all(|a| a.to_string() != p));
        let mut gone = false;
        for _ in 0..10 {
            if kube.get(NAMESPACE).await.is_err() {
                gone = true;
                break;
            }
        }
        assert!(gone, "the namespace runai-lane-detection is deleted with the project");
    });
}

#[test]
fn a_taken_name_is_refused_and_wrong_credentials_are_unauthorized() {
    rt().block_on(async {
        let s = Stack::start().await;
        s.write(principal::CLIENT_SECRET, "");
        s.apply().await;
        s.write(principal::CLIENT_SECRET, &project("lane-detection", 1));
        s.apply().await;
        // A second resource declares the same project: its create finds it and refuses.
        let second = r#"
resource "runai_project" "again" {
  name       = "lane-detection"
  cluster_id = data.runai_cluster.aks.id
  node_pool {
    name         = "default"
    gpu_deserved = 1
  }
}
"#;
        s.write(principal::CLIENT_SECRET, &format!("{}\n{second}", project("lane-detection", 1)));
        let plan = s.plan().await;
        let report = s.apply_plan(&plan).await;
        assert!(!report.succeeded());
        let (address, _, message) = &report.failed[0];
        assert_eq!(address.to_string(), "runai_project.again");
        assert!(message.contains("already exists"), "{message}");
        assert!(s.state().resources.keys().all(|a| a.to_string() != "runai_project.again"));
        // A wrong secret: refused, and never shown.
        s.write("the-wrong-secret", &project("lane-detection", 1));
        let diags = s.try_plan().await.expect_err("the plan fails with wrong credentials");
        let text = format!("{diags:?}");
        assert!(text.contains("401"), "{text}");
        assert!(!text.contains("the-wrong-secret"), "{text}");
    });
}
