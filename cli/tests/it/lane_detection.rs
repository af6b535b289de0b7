//! stacks/lane-detection, the whole platform, against the local cloud (`--emulator`): 42
//! objects applied in graph order — the cluster before its Kubernetes objects, CRDs before
//! their objects, the claim bound before the data job, which completes before the training
//! job — a second plan with no changes, and a destroy that removes everything, Kubernetes
//! objects before the cluster.

use crate::support::Stack;

#[test]
fn the_platform_applies_plans_no_changes_and_destroys_in_order() {
    let stack = Stack::platform("lane-detection");
    let apply = stack.run(&["apply", "--auto-approve", "--emulator"]);
    apply.ok().stdout_has("Apply complete! Resources: 42 added, 0 changed, 0 destroyed.");
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

    let destroy = stack.run(&["destroy", "--auto-approve", "--emulator"]);
    destroy.ok().stdout_has("Destroy complete! Resources: 0 added, 0 changed, 42 destroyed.");
    let out = &destroy.stdout;
    let gone = |address: &str| format!("{address}: Destruction complete");
    assert!(
        position(out, &gone("kubernetes_manifest.training"))
            < position(out, &gone("azure_kubernetes_cluster.aks"))
    );
    assert!(stack.state_list().is_empty());
}
