//! stacks/lane-detection, the whole platform, against the local cloud (`--emulator`): 44
//! objects applied in graph order — the cluster before its Kubernetes objects, CRDs before
//! their objects (Trident's from its Helm chart, rendered by lanestack), the Run:ai project
//! before what runs in its namespace, the registry before the trainer image, the image and the claim bound before
//! the data job, which completes before the training job — a second plan with no changes; a
//! change to the trainer's code (design journey 4) rebuilds the image and replaces the jobs
//! that run it; and a destroy removes everything, Kubernetes objects before the cluster.

use crate::support::Stack;

/// The platform stack, building its trainer image from a small source tree of the test's
/// (the real trainer's cargo build cannot run inside `cargo test`): the "build" copies the
/// trainer's source into the binary's place, so the image changes exactly when it does.
fn platform() -> Stack {
    let mut stack = Stack::platform("lane-detection");
    // ./run-example leaves its inputs in the checkout's stack; this copy has its own.
    let _ = std::fs::remove_file(stack.path("run-example.auto.lsvars"));
    stack.write("src/trainer/src/main.rs", "fn main() { train() }\n");
    stack.write("src/Cargo.toml", "[workspace]\n");
    stack.write("src/Cargo.lock", "version = 4\n");
    let source_root = stack.path("src").display().to_string();
    stack.set_env("LANESTACK_VAR_source_root", &source_root);
    stack.set_env(
        "LANESTACK_VAR_trainer_build_command",
        &format!(
            r#"["sh", "-c", "mkdir -p {source_root}/target/release && cp {source_root}/trainer/src/main.rs {source_root}/target/release/lanestack-trainer"]"#
        ),
    );
    stack
}

#[test]
fn the_platform_applies_plans_no_changes_and_destroys_in_order() {
    let stack = platform();
    let apply = stack.run(&["apply", "--auto-approve", "--emulator"]);
    apply.ok().stdout_has("Apply complete! Resources: 44 added, 0 changed, 0 destroyed.");
    let position = |text: &str, needle: &str| {
        text.find(needle).unwrap_or_else(|| panic!("{needle:?} is not in the output:\n{text}"))
    };
    let done = |address: &str| format!("{address}: Creation complete");
    let out = &apply.stdout;
    // What the graph orders, the apply did in that order.
    for (before, after) in [
        ("azure_kubernetes_cluster.aks", "kubernetes_namespace.trident"),
        (
            "kubernetes_manifest.crd[\"tridentbackendconfigs.trident.netapp.io\"]",
            "kubernetes_manifest.anf_backend",
        ),
        // Trident's chart, rendered by lanestack: its orchestrator after the chart's CRD.
        (
            "kubernetes_manifest.crd[\"tridentorchestrators.trident.netapp.io\"]",
            "kubernetes_manifest.trident[\"trident.netapp.io/TridentOrchestrator//trident\"]",
        ),
        // The Run:ai project (its namespace, made by Run:ai) before what runs in it.
        ("runai_project.lane_detection", "kubernetes_manifest.data_claim"),
        ("azure_container_registry.acr", "image_build.trainer"),
        ("image_build.trainer", "kubernetes_manifest.data_job"),
        ("kubernetes_manifest.data_claim", "kubernetes_manifest.data_job"),
        ("kubernetes_manifest.data_job", "kubernetes_manifest.training"),
    ] {
        assert!(
            position(out, &done(before)) < position(out, &format!("{after}: Creating")),
            "{before} before {after}"
        );
    }
    // The secret's value is the stack's default for the local cloud; it is never shown.
    assert!(!out.contains("local-cloud-only"), "{out}");

    stack.run(&["plan", "--emulator", "--detailed-exitcode"]).ok().stdout_has("No changes.");
    let image = |stack: &Stack| {
        stack.run(&["output", "trainer_image"]).ok().stdout.trim().trim_matches('"').to_owned()
    };
    let first = image(&stack);
    assert!(first.starts_with("laneregistry.azurecr.io/lanestack-trainer@sha256:"), "{first}");

    // Journey 4: the trainer's code changes; the image is rebuilt (its digest known after
    // apply) and both jobs, whose pod templates cannot change, are replaced.
    stack.write("src/trainer/src/main.rs", "fn main() { train_better() }\n");
    let plan = stack.run(&["plan", "--emulator"]);
    plan.ok()
        .stdout_has("~ image_build.trainer will be updated in place")
        .stdout_has("~ source_digest: \"sha256:")
        .stdout_has("-/+ kubernetes_manifest.data_job will be replaced (a replacement trigger changed)")
        .stdout_has("-/+ kubernetes_manifest.training will be replaced (a replacement trigger changed)")
        .stdout_has("Plan: 0 to add, 1 to change, 2 to replace, 0 to destroy.");
    stack.run(&["apply", "--auto-approve", "--emulator"]).ok();
    let second = image(&stack);
    assert!(
        second.starts_with("laneregistry.azurecr.io/lanestack-trainer@sha256:") && second != first,
        "{second}"
    );
    // The new jobs run the new image (state records the manifests as applied).
    let state: serde_json::Value = serde_json::from_str(&stack.read(".lanestack/state.json")).unwrap();
    let manifest = |address: &str| {
        let resources = state["resources"].as_array().unwrap();
        let resource = resources.iter().find(|r| r["address"] == address).unwrap();
        resource["attributes"]["manifest"].as_str().unwrap().to_owned()
    };
    // `state show` prints the record in full, a manifest as a heredoc, as Terraform's does.
    let shown = stack.run(&["state", "show", "kubernetes_manifest.training"]);
    shown
        .ok()
        .stdout_has("    manifest = <<-EOT\n        apiVersion: kubeflow.org/v2beta1\n")
        .stdout_has(&format!("image: {second}"));
    for job in ["kubernetes_manifest.data_job", "kubernetes_manifest.training"] {
        let manifest = manifest(job);
        assert!(
            manifest.contains(&format!("image: {second}")) && !manifest.contains(&first),
            "{job}: {manifest}"
        );
        assert!(
            manifest.contains("namespace: runai-lane-detection"),
            "{job} runs in the Run:ai project's namespace"
        );
    }
    stack.run(&["plan", "--emulator", "--detailed-exitcode"]).ok().stdout_has("No changes.");

    let destroy = stack.run(&["destroy", "--auto-approve", "--emulator"]);
    destroy.ok().stdout_has("Destroy complete! Resources: 0 added, 0 changed, 44 destroyed.");
    let out = &destroy.stdout;
    let gone = |address: &str| format!("{address}: Destruction complete");
    assert!(
        position(out, &gone("kubernetes_manifest.training"))
            < position(out, &gone("azure_kubernetes_cluster.aks"))
    );
    assert!(stack.state_list().is_empty());
}
