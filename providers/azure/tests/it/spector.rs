//! The client's long-running-operation polling against Microsoft's own ARM scenario server:
//! `tsp-spector serve` with the scenarios of `@azure-tools/azure-http-specs`
//! (`azure/resource-manager/operation-templates`, `Azure_ResourceManager_OperationTemplates_Lro_*`),
//! on loopback. Proof that the poller follows ARM's rules, not only our emulator's.
//!
//! The npm packages are installed by `.ci/run` into `$HOME/.cache/lanestack/spector`
//! (`LANESTACK_SPECTOR_DIR` overrides it). When they are missing this test fails, loudly: a
//! skipped check would look like a passed one.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lanestack_azure::client::{ArmClient, RetryPolicy};
use lanestack_azure::credential::{Proof, ServicePrincipal, Source};
use lanestack_emulator::Emulator;
use serde_json::json;

use crate::harness::{quiet, rt};

const ORDER: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/test-rg/providers/Azure.ResourceManager.OperationTemplates/orders/order1";
const API: &str = "2023-12-01-preview";

/// The scenario server, killed when dropped.
struct Spector {
    child: Child,
    endpoint: String,
    coverage: tempfile::TempDir,
}

impl Spector {
    /// Stops the server (SIGTERM, so that it writes its coverage) and returns the status it
    /// recorded for each scenario it served.
    fn stop(mut self) -> serde_json::Value {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
        let file = self.coverage.path().join("coverage.json");
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("the scenario server wrote no coverage to {}: {e}", file.display()));
        serde_json::from_str(&text).unwrap()
    }
}

impl Drop for Spector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spector_dir() -> PathBuf {
    match std::env::var_os("LANESTACK_SPECTOR_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is not set")).join(".cache/lanestack/spector")
        }
    }
}

fn start_spector() -> Spector {
    let dir = spector_dir();
    let cli = dir.join("node_modules/@typespec/spector/cmd/cli.mjs");
    let specs = dir.join("node_modules/@azure-tools/azure-http-specs/specs");
    assert!(
        cli.is_file() && specs.is_dir(),
        "the ARM scenario server is not installed in {} (no {} or {}): run .ci/run, which installs \
         @typespec/spector and @azure-tools/azure-http-specs there",
        dir.display(),
        cli.display(),
        specs.display()
    );
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let coverage = tempfile::tempdir().unwrap();
    let child = Command::new("node")
        .arg(&cli)
        .args(["serve", specs.to_str().unwrap(), "--port", &port.to_string(), "--coverageFile"])
        .arg(coverage.path().join("coverage.json"))
        // spector asks git for the commit of the scenarios: `.ci/run` makes the install
        // directory a repository with one empty commit.
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("could not run node, which the ARM scenario server needs");
    let spector = Spector { child, endpoint: format!("http://127.0.0.1:{port}"), coverage };
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "the ARM scenario server did not listen on {addr} within 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    spector
}

#[test]
fn long_running_operations_follow_arms_own_scenarios() {
    let spector = start_spector();
    rt().block_on(async {
        // The scenario server ignores tokens; the client still needs one, from the emulator.
        let emulator = Emulator::start(quiet()).await.unwrap();
        let sources = vec![Source::ServicePrincipal(ServicePrincipal {
            tenant_id: "t".into(),
            client_id: "c".into(),
            proof: Proof::Secret("s".into()),
            authority_host: emulator.endpoint(),
        })];
        let client = ArmClient::new(&spector.endpoint, sources, RetryPolicy::fast(), None).unwrap();

        // PUT: 201 + Azure-AsyncOperation, InProgress then Succeeded, then the final GET.
        let body = json!({ "location": "eastus", "properties": { "productId": "product1", "amount": 1 } });
        let order = client.put(ORDER, API, &body).await.unwrap();
        assert_eq!(order["properties"]["provisioningState"], "Succeeded", "{order}");

        // POST: 202 + Azure-AsyncOperation and Location: the status polled to Succeeded, then
        // the result read from Location (202, then 200 with the body).
        let exported = client.post(ORDER, "export", API, &json!({ "format": "csv" })).await.unwrap();
        assert_eq!(exported, json!({ "content": "order1,product1,1" }));

        // DELETE: 202 + Location, 202 then 204.
        client.delete(ORDER, API).await.unwrap();
    });
    // The server checked every step of each scenario (verb, URL, api-version, body, order).
    let coverage = spector.stop();
    let results = coverage
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|entry| entry.get("results"))
        .unwrap_or_else(|| panic!("no results in the coverage: {coverage}"));
    for scenario in ["createOrReplace", "export", "delete"] {
        let name = format!("Azure_ResourceManager_OperationTemplates_Lro_{scenario}");
        assert_eq!(results[&name], "pass", "{name}: {}", results[&name]);
    }
}
