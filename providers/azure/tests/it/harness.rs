//! A stack in a temporary directory, planned and applied through the azure provider against
//! an emulator started in-process on a free loopback port.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use lanestack_azure::AzureProvider;
use lanestack_azure::client::RetryPolicy;
use lanestack_emulator::{Emulator, EmulatorConfig};
use lanestack_engine::Providers;
use lanestack_engine::apply::{self, ApplyEvent, ApplyInputs, ApplyReport};
use lanestack_engine::config;
use lanestack_engine::graph::DepGraph;
use lanestack_engine::plan::{self, Plan, PlanInputs, PlanMode, PlanOptions};
use lanestack_engine::state::{StateFile, StateStore};
use lanestack_model::{Action, Value};
use serde_json::Value as Json;

pub const SUB: &str = "00000000-0000-0000-0000-000000000001";

pub struct Cloud {
    pub emulator: Emulator,
    pub dir: tempfile::TempDir,
    providers: Providers,
    stack: String,
    /// The provider block's credential lines; `None`: the emulator's service principal.
    credentials: Option<String>,
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// The emulator's settings for tests: no latency, no waits.
pub fn quiet() -> EmulatorConfig {
    EmulatorConfig { lro_retry_after_secs: 0, ..EmulatorConfig::default() }
}

impl Cloud {
    pub async fn start(config: EmulatorConfig) -> Cloud {
        Cloud::start_with(config, RetryPolicy::fast()).await
    }

    /// [`Cloud::start`] with the provider's client on this retry policy.
    pub async fn start_with(config: EmulatorConfig, retry: RetryPolicy) -> Cloud {
        Cloud::start_provider(config, AzureProvider::with_retry(retry), None).await
    }

    /// [`Cloud::start`] with this provider, whose block holds `credentials` (lines of
    /// settings, `{e}` standing for the emulator's endpoint) instead of the service principal.
    pub async fn start_provider(
        config: EmulatorConfig,
        provider: AzureProvider,
        credentials: Option<&str>,
    ) -> Cloud {
        let dir = tempfile::tempdir().unwrap();
        let config = EmulatorConfig { data_dir: Some(dir.path().join("emulator")), ..config };
        let emulator = Emulator::start(config).await.unwrap();
        let providers = Providers::new().with(Arc::new(provider));
        let credentials = credentials.map(|c| c.replace("{e}", &emulator.endpoint()));
        Cloud { emulator, dir, providers, stack: String::new(), credentials }
    }

    /// Stops the emulator and starts a new one on the same data directory, with a new
    /// provider: a new process, as far as the cloud and the client are concerned.
    pub async fn restart(self) -> Cloud {
        let Cloud { emulator, dir, stack, .. } = self;
        drop(emulator);
        let config = EmulatorConfig { data_dir: Some(dir.path().join("emulator")), ..quiet() };
        let emulator = Emulator::start(config).await.unwrap();
        let providers = Providers::new().with(Arc::new(AzureProvider::with_retry(RetryPolicy::fast())));
        let cloud = Cloud { emulator, dir, providers, stack: String::new(), credentials: None };
        cloud.write_raw(&stack);
        Cloud { stack, ..cloud }
    }

    fn provider_block(&self) -> String {
        let ca = self
            .emulator
            .ca_certificate_file()
            .map(|f| format!("  ca_certificate_file = \"{}\"\n", f.display()))
            .unwrap_or_default();
        let e = self.emulator.endpoint();
        let credentials = self.credentials.clone().unwrap_or_else(|| {
            format!(
                "  tenant_id       = \"tenant\"\n  client_id       = \"lanestack\"\n  \
                 client_secret   = \"s3cret\"\n  authority_host  = \"{e}\"\n"
            )
        });
        format!(
            r#"
provider "azure" {{
  subscription_id = "{SUB}"
  endpoint        = "{e}"
{credentials}{ca}}}
"#
        )
    }

    fn write_raw(&self, stack: &str) {
        std::fs::write(self.dir.path().join("main.hcl"), stack).unwrap();
        std::fs::write(self.dir.path().join("provider.hcl"), self.provider_block()).unwrap();
    }

    pub fn write(&mut self, stack: &str) {
        self.stack = stack.to_owned();
        self.write_raw(stack);
    }

    fn store(&self) -> StateStore {
        StateStore::open(self.dir.path().join(".lanestack")).unwrap()
    }

    pub fn state(&self) -> StateFile {
        self.store().state().clone()
    }

    pub async fn plan_with(&self, opts: PlanOptions) -> Plan {
        let loaded = config::load_dir(self.dir.path());
        let mut diags = loaded.diagnostics;
        diags.extend(config::check_against_schemas(&loaded.stack, self.providers.schemas()));
        let (graph, g) = DepGraph::build(&loaded.stack);
        diags.extend(g);
        assert!(!diags.has_errors(), "{diags:?}");
        let state = self.store().state().clone();
        let variables = BTreeMap::new();
        let inputs = PlanInputs {
            stack: &loaded.stack,
            graph: &graph,
            variables: &variables,
            state: &state,
            state_exists: state.serial > 0 || !state.resources.is_empty(),
            providers: &self.providers,
            cwd: self.dir.path(),
        };
        match plan::plan(inputs, &opts, &Arc::new(AtomicBool::new(false))).await {
            Ok((p, _)) => p,
            Err(d) => panic!("plan failed: {d:#?}"),
        }
    }

    pub async fn plan(&self) -> Plan {
        self.plan_with(PlanOptions::default()).await
    }

    pub async fn apply_plan(&self, plan: &Plan) -> ApplyReport {
        let loaded = config::load_sources(plan.dir.clone(), plan.sources.clone());
        let (graph, _) = DepGraph::build(&loaded.stack);
        let mut store = self.store();
        let inputs = ApplyInputs {
            stack: &loaded.stack,
            graph: &graph,
            providers: &self.providers,
            cwd: self.dir.path(),
            parallelism: 8,
        };
        let mut sink = |_: ApplyEvent| {};
        apply::apply(inputs, plan, &mut store, &Arc::new(AtomicBool::new(false)), &mut sink).await.unwrap()
    }

    /// Plans and applies; the apply must succeed.
    pub async fn apply(&self) -> Plan {
        let plan = self.plan().await;
        let report = self.apply_plan(&plan).await;
        assert!(report.succeeded(), "{report:?}");
        plan
    }

    pub async fn destroy(&self) -> Plan {
        let plan = self.plan_with(PlanOptions { mode: PlanMode::Destroy, ..PlanOptions::default() }).await;
        let report = self.apply_plan(&plan).await;
        assert!(report.succeeded(), "{report:?}");
        plan
    }

    /// An ARM call straight to the emulator, as someone changing the cloud behind our back
    /// would make it. Long-running operations are polled to the end.
    pub async fn arm(&self, method: &str, path: &str, api: &str, body: Option<Json>) -> (u16, Json) {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut http = reqwest::Client::builder();
        if let Some(pem) = self.emulator.ca_certificate_pem() {
            http = http.tls_certs_only(reqwest::Certificate::from_pem_bundle(pem.as_bytes()).unwrap());
        }
        let http = http.build().unwrap();
        let token = lanestack_testkit::entra_token(&http, &self.emulator.endpoint()).await;
        let url = format!("{}{path}?api-version={api}", self.emulator.endpoint());
        let mut req = http.request(method.parse().unwrap(), url).bearer_auth(&token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let poll = resp
            .headers()
            .get("azure-asyncoperation")
            .or_else(|| resp.headers().get("location"))
            .map(|h| h.to_str().unwrap().to_owned());
        let text = resp.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Json::Null);
        if let Some(url) = poll {
            for _ in 0..10 {
                let r = http.get(&url).bearer_auth(&token).send().await.unwrap();
                let done = r.status().as_u16() != 202;
                let body: Json = serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Json::Null);
                if done && body.get("status").is_none_or(|s| s != "InProgress") {
                    break;
                }
            }
        }
        (status, json)
    }
}

/// The (address, action) pairs of a plan's effective changes.
pub fn actions(plan: &Plan) -> Vec<(String, Action)> {
    plan.effective().map(|c| (c.change.address.to_string(), c.change.action)).collect()
}

/// One attribute of a state entry.
pub fn attr(state: &StateFile, address: &str, name: &str) -> Value {
    let addr = address.parse().unwrap();
    state.resources[&addr].value.get(&lanestack_model::AttrPath::attr(name)).cloned().unwrap_or_default()
}
