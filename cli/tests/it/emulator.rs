//! `--emulator` and `lanestack emulator serve`: the azure provider against the local cloud,
//! each command a separate process sharing only the stack directory.

use std::process::Command;

use crate::support::Stack;

const NETWORK_PLAN_LINE: &str = "Plan: 9 to add, 0 to change, 0 to replace, 0 to destroy.";

#[test]
fn emulator_apply_then_plan_in_another_process_shows_no_changes_then_destroy() {
    let stack = Stack::example("azure-network");
    stack
        .run(&["apply", "--auto-approve", "--emulator"])
        .ok()
        .stdout_has(NETWORK_PLAN_LINE)
        .stdout_has("Apply complete! Resources: 9 added, 0 changed, 0 destroyed.");
    assert!(
        stack.path(".lanestack/emulator/arm.json").is_file(),
        "the emulator keeps its objects in the stack"
    );
    assert_eq!(stack.state_list().len(), 9);

    stack.run(&["plan", "--emulator", "--detailed-exitcode"]).ok().stdout_has("No changes.");
    stack.run(&["output", "peering_state"]).ok().stdout_has("Connected");

    stack.run(&["destroy", "--auto-approve", "--emulator"]).ok().stdout_has("9 destroyed");
    assert!(stack.state_list().is_empty());
    let cloud = stack.read(".lanestack/emulator/arm.json");
    assert!(!cloud.contains("ANF.sn"), "the emulator still holds objects after destroy: {cloud}");
}

#[test]
fn emulator_objects_deleted_behind_our_back_are_planned_again() {
    let stack = Stack::example("azure-network");
    stack.run(&["apply", "--auto-approve", "--emulator"]).ok();
    // A fresh, empty cloud: everything in state is gone.
    std::fs::remove_dir_all(stack.path(".lanestack/emulator")).unwrap();
    stack.run(&["plan", "--emulator"]).ok().stdout_has(NETWORK_PLAN_LINE);
}

#[test]
fn without_emulator_or_credentials_the_azure_provider_says_what_it_needs() {
    let stack = Stack::example("azure-network");
    stack.run(&["plan"]).code(1).stderr_has("subscription_id");
}

/// `lanestack emulator serve` in a child process, killed when dropped.
fn serve(data: &std::path::Path, extra: &[&str]) -> lanestack_testkit::ServedEmulator {
    lanestack_testkit::ServedEmulator::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_lanestack")),
        data,
        extra,
    )
}

#[test]
fn emulator_serve_with_credentials_from_the_environment() {
    let mut stack = Stack::example("azure-network");
    let served = serve(&stack.path("cloud"), &[]);
    assert!(served.endpoint.starts_with("https://"));
    // The endpoint and CA as a user would write them for a private cloud; the service principal
    // from the environment, as Azure's tools read it.
    stack.write(
        "provider.hcl",
        &format!(
            "provider \"azure\" {{\n  endpoint = \"{e}\"\n  ca_certificate_file = \"cloud/ca.pem\"\n}}\n",
            e = served.endpoint
        ),
    );
    stack.set_env("AZURE_AUTHORITY_HOST", &served.endpoint);
    stack.set_env("AZURE_SUBSCRIPTION_ID", "11111111-2222-3333-4444-555555555555");
    stack.set_env("AZURE_TENANT_ID", "tenant");
    stack.set_env("AZURE_CLIENT_ID", "lanestack-emulator");
    stack.set_env("AZURE_CLIENT_SECRET", "not-the-secret");
    stack.run(&["plan", "--refresh=false"]).ok().stdout_has(NETWORK_PLAN_LINE);
    stack.run(&["apply", "--auto-approve"]).code(1).stdout_has("invalid_client");

    stack.set_env("AZURE_CLIENT_SECRET", "lanestack-emulator-secret");
    let run = stack.run(&["apply", "--auto-approve"]);
    run.ok().stdout_has("subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/lane-rg");
    assert!(
        !run.stdout.contains("lanestack-emulator-secret")
            && !run.stderr.contains("lanestack-emulator-secret")
    );
    stack.run(&["plan", "--detailed-exitcode"]).ok().stdout_has("No changes.");
    assert!(stack.path("cloud/arm.json").is_file());
}

#[test]
fn workload_identity_from_a_federated_token_file() {
    let mut stack = Stack::example("azure-network");
    let served = serve(&stack.path("cloud"), &["--http"]);
    assert!(served.endpoint.starts_with("http://"), "--http serves plain HTTP");
    stack.write(
        "provider.hcl",
        &format!(
            "provider \"azure\" {{\n  endpoint = \"{e}\"\n  authority_host = \"{e}\"\n}}\n",
            e = served.endpoint
        ),
    );
    stack.write("token", "lanestack-emulator-federated-token\n");
    stack.set_env("AZURE_SUBSCRIPTION_ID", "11111111-2222-3333-4444-555555555555");
    stack.set_env("AZURE_TENANT_ID", "tenant");
    stack.set_env("AZURE_CLIENT_ID", "workload");
    stack.set_env("AZURE_FEDERATED_TOKEN_FILE", &stack.path("token").display().to_string());
    stack.run(&["apply", "--auto-approve"]).ok().stdout_has("9 added");
    // A rotated token that the cloud no longer trusts is refused.
    stack.write("token", "expired");
    stack.run(&["destroy", "--auto-approve"]).code(1);
}

#[test]
fn a_client_that_does_not_trust_the_emulators_ca_is_refused() {
    let stack = Stack::example("azure-network");
    let served = serve(&stack.path("cloud"), &[]);
    stack.write(
        "provider.hcl",
        &format!(
            "provider \"azure\" {{\n  endpoint = \"{e}\"\n  authority_host = \"{e}\"\n  subscription_id = \"s\"\n  tenant_id = \"t\"\n  client_id = \"c\"\n  client_secret = \"lanestack-emulator-secret\"\n}}\n",
            e = served.endpoint
        ),
    );
    let run = stack.run(&["apply", "--auto-approve"]);
    run.code(1).stdout_has("certificate is not trusted");
}

#[test]
fn a_plan_saved_under_emulator_is_applied_under_emulator() {
    let stack = Stack::example("azure-network");
    stack.run(&["plan", "--emulator", "--out", "net.plan"]).ok().stdout_has(NETWORK_PLAN_LINE);
    stack.run(&["apply", "--emulator", "net.plan"]).ok().stdout_has("9 added");
    stack.run(&["plan", "--emulator", "--detailed-exitcode"]).ok().stdout_has("No changes.");
}

#[test]
fn emulator_serve_reads_its_behaviour_from_a_config_file_and_refuses_a_wrong_one() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.json");
    std::fs::write(&good, r#"{ "throttling": "off", "faults": { "seed": 7 }, "lro_polls": 2 }"#).unwrap();
    let served = serve(&dir.path().join("cloud"), &["--http", "--config", good.to_str().unwrap()]);
    assert!(served.endpoint.starts_with("http://"));
    drop(served);

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{ "faults": { "reset_rate": 0.1, "rset": 1 } }"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lanestack"))
        .args(["emulator", "serve", "--port", "0", "--config"])
        .arg(&bad)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid emulator configuration"), "{stderr}");
    assert!(stderr.contains("unknown field `rset`"), "{stderr}");
}

/// Under `--emulator` the kubernetes provider talks to the local cloud's emulated clusters
/// only: a stack pointed at another cluster (here a kubeconfig naming a server on a closed
/// loopback port) is refused before any request, naming the server and why.
#[test]
fn under_emulator_kubernetes_objects_never_go_to_another_cluster() {
    let stack = Stack::from_hcl(
        r#"
provider "kubernetes" {
  config_path = "kubeconfig"
}

resource "kubernetes_namespace" "ml" {
  metadata {
    name = "ml"
  }
}
"#,
    );
    stack.write(
        "kubeconfig",
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\ncontexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x\n",
    );
    let run = stack.run(&["plan", "--emulator"]);
    run.code(1).stderr_has(
        "the cluster's API server https://127.0.0.1:9 is not under the allowed https://127.0.0.1:",
    );
    stack.run(&["plan"]).code(1).stderr_has("cannot reach the Kubernetes API server https://127.0.0.1:9");
}

/// A plan saved in one `--emulator` run applies in the next, also when it involves an
/// emulated cluster's objects: the embedded emulator comes back on the same port with the same
/// CA (kept with its data, the key readable by its owner only), so the cluster's kubeconfig —
/// a sensitive value the saved plan holds only sealed — is the one the plan was made with.
#[test]
fn a_saved_plan_with_kubernetes_objects_applies_in_the_next_emulator_run() {
    use std::os::unix::fs::PermissionsExt as _;
    let stack = Stack::example("kubernetes-on-aks");
    stack.run(&["apply", "--auto-approve", "--emulator"]).ok();
    let port = stack.read(".lanestack/emulator/port");
    let mode = std::fs::metadata(stack.path(".lanestack/emulator/ca.key")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let main = stack.read("main.hcl");
    stack.write("main.hcl", &main.replace("\"lane-detection\" }", "\"lanes\" }"));
    stack
        .run(&["plan", "--emulator", "--out", "label.plan"])
        .ok()
        .stdout_has("kubernetes_namespace.trident will be updated in place");
    stack
        .run(&["apply", "label.plan", "--emulator"])
        .ok()
        .stdout_has("Apply complete! Resources: 0 added, 1 changed, 0 destroyed.");
    assert_eq!(stack.read(".lanestack/emulator/port"), port, "the emulator came back on its port");
    stack.run(&["plan", "--emulator", "--detailed-exitcode"]).ok().stdout_has("No changes.");
}
