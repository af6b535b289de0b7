//! `--kube-secrets N`: N Secrets applied into an emulated AKS cluster through the kubernetes
//! provider (configured from the cluster's kubeconfig in the same stack), then a no-op plan;
//! the wall time of each and the Kubernetes API requests each made, per object.
//!
//! The emulator runs in this process (so its request log can be read) with no latency: the
//! figures are lanestack's own cost (engine, provider, client) plus the emulator's, and the
//! request counts are what a real API server would see.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};
use lanestack_emulator::{Emulator, EmulatorConfig, LogEntry};

use crate::measure::{self, Measurement};

fn stack(n: usize, endpoint: &str) -> String {
    let provider = crate::azure::provider_block("00000000-0000-0000-0000-0000000000b1", endpoint);
    format!(
        r#"{provider}
resource "azure_resource_group" "rg" {{
  name     = "rg-bench-k8s"
  location = "westeurope"
}}

resource "azure_kubernetes_cluster" "aks" {{
  name                = "aks-bench"
  resource_group_name = azure_resource_group.rg.name
  location            = azure_resource_group.rg.location
  dns_prefix          = "bench"

  default_node_pool {{
    name       = "agentpool"
    vm_size    = "Standard_DS2_v2"
    node_count = 1
  }}

  identity {{
    type = "SystemAssigned"
  }}
}}

provider "kubernetes" {{
  kubeconfig = azure_kubernetes_cluster.aks.kube_config_raw
}}

resource "kubernetes_namespace" "bench" {{
  metadata {{
    name = "bench"
  }}
}}

resource "kubernetes_secret" "s" {{
  count = {n}
  metadata {{
    name      = "secret-${{count.index}}"
    namespace = kubernetes_namespace.bench.metadata.name
    labels    = {{ index = tostring(count.index) }}
  }}
  data = {{ token = "value-${{count.index}}" }}
}}
"#
    )
}

/// The Kubernetes API requests in `log[from..]`, by method.
fn kube_requests(log: &[LogEntry], from: usize) -> (usize, usize, usize) {
    let kube = log[from..].iter().filter(|e| e.path.starts_with("/k8s/"));
    let (mut get, mut patch, mut other) = (0, 0, 0);
    for e in kube {
        match e.method.as_str() {
            "GET" => get += 1,
            "PATCH" => patch += 1,
            _ => other += 1,
        }
    }
    (get, patch, other)
}

/// Runs the benchmark and prints its figures.
pub fn run(lanestack: &Path, n: usize) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let config = EmulatorConfig { lro_retry_after_secs: 0, ..EmulatorConfig::default() };
    let emulator = rt.block_on(Emulator::start(config)).context("cannot start the emulator")?;
    let dir = tempfile::Builder::new().prefix("lanestack-bench-kube-").tempdir()?;
    std::fs::write(dir.path().join("main.hcl"), stack(n, &emulator.endpoint()))
        .with_context(|| format!("cannot write the stack into {}", dir.path().display()))?;
    let dir_arg = dir.path().to_str().context("temporary directory path is not UTF-8")?;

    eprintln!("kube: apply of {n} secrets into an emulated AKS cluster at {}", emulator.endpoint());
    let apply = measure::run(lanestack, &["apply", "--auto-approve", "--parallelism", "16", dir_arg])?;
    let after_apply = emulator.requests().len();
    let plan = measure::run(lanestack, &["plan", "--parallelism", "16", dir_arg])?;
    let log = emulator.requests();
    let noop = plan.success && plan.stdout.contains("No changes");

    println!(
        "{:>6}  {:<12} {:>8}  {:>8}  {:>6}  {:>6}  {:>6}  {:>10}  result",
        "N", "operation", "seconds", "peak MB", "GET", "PATCH", "other", "req/secret"
    );
    let line = |op: &str, m: &Measurement, (get, patch, other): (usize, usize, usize), ok: bool| {
        println!(
            "{:>6}  {:<12} {:>8.3}  {:>8.1}  {:>6}  {:>6}  {:>6}  {:>10.2}  {}",
            n,
            op,
            m.seconds,
            m.peak_mb,
            get,
            patch,
            other,
            (get + patch + other) as f64 / n.max(1) as f64,
            if ok { "ok" } else { "FAIL" }
        );
    };
    line("create-apply", &apply, kube_requests(&log[..after_apply], 0), apply.success);
    line("no-op plan", &plan, kube_requests(&log, after_apply), noop);
    drop(emulator);
    rt.shutdown_timeout(Duration::from_secs(1));
    for (m, what) in [(&apply, "apply"), (&plan, "plan")] {
        if !m.success {
            let tail: Vec<&str> = m.stderr.lines().rev().take(20).collect();
            eprintln!("lanestack {what} failed:\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
        }
    }
    if !apply.success || !noop {
        bail!("the apply failed or the plan after it was not a no-op");
    }
    Ok(())
}
