//! `kubernetes_manifest` on the real API server for custom resources: the snapshot CRDs of
//! external-snapshotter and a VolumeSnapshotClass of theirs in one stack — the CRD applied and
//! established before the object of its kind, an unchanged stack planning nothing, someone
//! else's edit of an applied field shown as drift (field by field) and reverted, fields others
//! add left alone, a change of name replacing, and destroy removing the object before its CRD.

use lanestack_kube::{Error, resource_path};
use lanestack_model::{Action, Value};
use serde_json::json;

use crate::cluster::{Cluster, actions};
use crate::server::ApiServer;
use crate::webhook::TokenReviewWebhook;

/// The three snapshot CRDs of external-snapshotter in one stream, as a bundle comes.
fn crds() -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../kube/tests/data/external-snapshotter-afb2f0d");
    ["volumesnapshotclasses", "volumesnapshotcontents", "volumesnapshots"]
        .iter()
        .map(|kind| std::fs::read_to_string(format!("{dir}/snapshot.storage.k8s.io_{kind}.yaml")).unwrap())
        .collect::<Vec<_>>()
        .join("\n---\n")
}

const STACK: &str = r#"
resource "kubernetes_manifest" "crds" {
  for_each = { for d in yamldecodeall(file("snapshot-crds.yaml")) : d.metadata.name => d }
  manifest = yamlencode(each.value)
}

resource "kubernetes_manifest" "class" {
  manifest = yamlencode({
    apiVersion     = "snapshot.storage.k8s.io/v1"
    kind           = "VolumeSnapshotClass"
    metadata       = { name = "netapp-csi-snapclass", annotations = { "snapshot.storage.kubernetes.io/is-default-class" = "true" } }
    driver         = "csi.trident.netapp.io"
    deletionPolicy = "Delete"
    parameters     = { backend = "anf" }
  })
  depends_on = [kubernetes_manifest.crds]
}
"#;

const CLASS_CRD: &str = "kubernetes_manifest.crds[\"volumesnapshotclasses.snapshot.storage.k8s.io\"]";

fn class_path(name: &str) -> String {
    resource_path("snapshot.storage.k8s.io/v1", None, "volumesnapshotclasses", Some(name))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crd_and_an_object_of_its_kind_in_one_stack_on_the_real_api_server() {
    let server = ApiServer::start(TokenReviewWebhook::start("unused-token", "unused")).await;
    crd_then_object(&Cluster::on_kubeconfig(&server.kubeconfig())).await;
}

/// The same stack in an emulated AKS cluster, whose API serves CRDs too: the same results.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crd_and_an_object_of_its_kind_in_one_stack_in_an_emulated_aks_cluster() {
    crd_then_object(&Cluster::start(0).await).await;
}

async fn crd_then_object(cluster: &Cluster) {
    cluster.write_file("snapshot-crds.yaml", &crds());
    cluster.write(STACK);

    // Planned without a cluster round trip: the kind does not exist yet.
    let plan = cluster.apply().await;
    let created: Vec<String> = plan
        .effective()
        .map(|c| c.change.address.to_string())
        .filter(|a| a.starts_with("kubernetes_"))
        .collect();
    assert_eq!(
        created,
        [
            "kubernetes_manifest.class",
            CLASS_CRD,
            "kubernetes_manifest.crds[\"volumesnapshotcontents.snapshot.storage.k8s.io\"]",
            "kubernetes_manifest.crds[\"volumesnapshots.snapshot.storage.k8s.io\"]",
        ]
    );
    assert!(plan.effective().all(|c| c.change.action == Action::Create));
    let kubectl = cluster.kubectl();
    let live = kubectl.get(&class_path("netapp-csi-snapclass")).await.unwrap();
    assert_eq!(live["driver"], "csi.trident.netapp.io");
    assert_eq!(live["parameters"], json!({"backend": "anf"}));
    assert_eq!(
        cluster.attr("kubernetes_manifest.class", "id"),
        Value::from(
            "apiVersion=snapshot.storage.k8s.io/v1,kind=VolumeSnapshotClass,name=netapp-csi-snapclass"
        )
    );
    assert_eq!(
        cluster.attr("kubernetes_manifest.class", "uid"),
        Value::from(live["metadata"]["uid"].as_str().unwrap())
    );
    let again = cluster.plan().await;
    let style =
        lanestack_engine::render::Style { color: false, secrets: lanestack_engine::secrets::Secrets::Redact };
    assert!(
        actions(&again).is_empty(),
        "an unchanged stack plans nothing:\n{}",
        lanestack_engine::render::plan_text(&again, style)
    );

    // Someone adds a label (not ours: ignored) and changes a parameter we applied (drift).
    kubectl
        .merge_patch(
            &format!("{}?fieldManager=kubectl-edit", class_path("netapp-csi-snapclass")),
            &json!({"metadata": {"labels": {"owner": "ops"}}, "parameters": {"backend": "other"}}),
        )
        .await
        .unwrap();
    let plan = cluster.plan().await;
    assert_eq!(actions(&plan), [("kubernetes_manifest.class".to_owned(), Action::Update)]);
    let drift: Vec<String> = plan.drift.iter().map(|d| d.address.to_string()).collect();
    assert_eq!(drift, ["kubernetes_manifest.class"]);
    let style =
        lanestack_engine::render::Style { color: false, secrets: lanestack_engine::secrets::Secrets::Redact };
    let text = lanestack_engine::render::plan_text(&plan, style);
    assert!(text.contains(r#"manifest(yaml).parameters.backend: "other" -> "anf""#), "{text}");
    let report = cluster.apply_plan(&plan).await;
    assert!(report.succeeded(), "{report:?}");
    let live = kubectl.get(&class_path("netapp-csi-snapclass")).await.unwrap();
    assert_eq!(
        (live["parameters"]["backend"].as_str(), live["metadata"]["labels"]["owner"].as_str()),
        (Some("anf"), Some("ops"))
    );
    assert!(actions(&cluster.plan().await).is_empty());

    // Another name is another object: replaced.
    cluster.write(&STACK.replace("netapp-csi-snapclass", "anf-snapclass"));
    let plan = cluster.apply().await;
    assert_eq!(actions(&plan), [("kubernetes_manifest.class".to_owned(), Action::DeleteThenCreate)]);
    assert!(matches!(
        kubectl.get(&class_path("netapp-csi-snapclass")).await.unwrap_err(),
        Error::NotFound(_)
    ));
    kubectl.get(&class_path("anf-snapclass")).await.unwrap();

    // The server's validation runs at plan time (a dry run): a class without its driver is
    // refused with the server's words, before anything changes.
    cluster.write(
        &STACK
            .replace("netapp-csi-snapclass", "anf-snapclass")
            .replace("driver         = \"csi.trident.netapp.io\"\n", ""),
    );
    let diags = cluster.try_plan(lanestack_engine::plan::PlanMode::Normal).await.unwrap_err();
    let summaries: Vec<&str> = diags.0.iter().map(|d| d.summary.as_str()).collect();
    assert_eq!(
        summaries,
        ["kubernetes_manifest.class: the API server refuses the object (dry run): 422 Invalid: \
          VolumeSnapshotClass.snapshot.storage.k8s.io \"anf-snapclass\" is invalid: driver: Required value"]
    );
    assert_eq!(kubectl.get(&class_path("anf-snapclass")).await.unwrap()["driver"], "csi.trident.netapp.io");
    cluster.write(&STACK.replace("netapp-csi-snapclass", "anf-snapclass"));

    // Removed from the stack: the object goes, then its CRD (which the server deletes once its
    // objects are gone).
    cluster.write("");
    let plan = cluster.plan().await;
    let report = cluster.apply_plan(&plan).await;
    assert!(report.succeeded(), "{report:?}");
    let done: Vec<String> = report.done.iter().map(|(a, _)| a.to_string()).collect();
    assert_eq!(
        (done.len(), done[0].as_str()),
        (4, "kubernetes_manifest.class"),
        "the object goes before the CRDs: {done:?}"
    );
    let crd = resource_path(
        "apiextensions.k8s.io/v1",
        None,
        "customresourcedefinitions",
        Some("volumesnapshotclasses.snapshot.storage.k8s.io"),
    );
    assert!(matches!(kubectl.get(&crd).await.unwrap_err(), Error::NotFound(_)));
}

/// `wait`: the apply of a VolumeSnapshot waits until its status says `readyToUse` — set here
/// by the test acting as the snapshot controller, once the object exists — and an object that
/// never gets there fails the apply with what it is still waiting for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_waits_until_the_object_says_it_is_done() {
    let server = ApiServer::start(TokenReviewWebhook::start("unused-token", "unused")).await;
    let cluster = Cluster::on_kubeconfig(&server.kubeconfig());
    cluster.write_file("snapshot-crds.yaml", &crds());
    let snapshot = |name: &str, timeout: u32| {
        format!(
            r#"
resource "kubernetes_manifest" "{name}" {{
  manifest = yamlencode({{
    apiVersion = "snapshot.storage.k8s.io/v1"
    kind       = "VolumeSnapshot"
    metadata   = {{ name = "{name}", namespace = "ml" }}
    spec       = {{ source = {{ persistentVolumeClaimName = "data" }} }}
  }})
  wait {{
    fields          = {{ "status.readyToUse" = "true" }}
    timeout_seconds = {timeout}
  }}
  depends_on = [kubernetes_manifest.crds]
}}
"#
        )
    };
    let crds_only = STACK.split("resource \"kubernetes_manifest\" \"class\"").next().unwrap().to_owned();
    cluster.write(&format!("{crds_only}{}", snapshot("snap", 600)));

    // The snapshot controller: once the snapshot exists, it says it is ready.
    let kubectl = cluster.kubectl();
    let path = resource_path("snapshot.storage.k8s.io/v1", Some("ml"), "volumesnapshots", Some("snap"));
    let controller = tokio::spawn(async move {
        while kubectl.get(&path).await.is_err() {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let status = json!({"status": {"readyToUse": true, "restoreSize": "1Gi"}});
        kubectl
            .merge_patch(&format!("{path}/status?fieldManager=snapshot-controller"), &status)
            .await
            .unwrap()
    });
    cluster.apply().await;
    let marked = controller.await.unwrap();
    assert_eq!(marked["status"]["readyToUse"], true);
    // The apply returned after the controller's write, and the state is the ready object's.
    let live = cluster
        .kubectl()
        .get(&resource_path("snapshot.storage.k8s.io/v1", Some("ml"), "volumesnapshots", Some("snap")))
        .await
        .unwrap();
    assert_eq!(live["status"]["readyToUse"], true);
    assert!(actions(&cluster.plan().await).is_empty());

    // No controller this time: the wait ends at its timeout, naming what it waited for.
    cluster.write(&format!("{crds_only}{}{}", snapshot("snap", 600), snapshot("never", 1)));
    let plan = cluster.plan().await;
    let report = cluster.apply_plan(&plan).await;
    let failed: Vec<String> = report.failed.iter().map(|(a, _, m)| format!("{a}: {m}")).collect();
    assert_eq!(
        failed,
        [
            "kubernetes_manifest.never: VolumeSnapshot ml/never is not done after 1 s: waiting for status.readyToUse = \"true\" (now unset) (the object exists and is recorded as tainted: the next apply replaces it)"
        ]
    );
}

/// The CRDs as a real stack takes them: each file pinned by its SHA-256 with
/// `data "lanestack_download"` (here `file://` URLs to this repository's unchanged copies,
/// whose hashes are upstream's), one manifest per download; a wrong pin stops the plan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crds_from_pinned_downloads() {
    let server = ApiServer::start(TokenReviewWebhook::start("unused-token", "unused")).await;
    let cluster = Cluster::on_kubeconfig(&server.kubeconfig());
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../kube/tests/data/external-snapshotter-afb2f0d");
    let stack = format!(
        r#"
locals {{
  crds = {{
    volumesnapshotclasses  = "75e6565aac2c0f2949ed13ea884bbaa388cb7be576b558b709cf1168e011828d"
    volumesnapshotcontents = "895a3c1e73b60f06a0deb566dd123d01bdf1b2efc5d5ff5231ff8bbcf42dafc7"
    volumesnapshots        = "b032116e987fb1d7d93cec7d942833adeb9d95c9bdc7e00c10b280c2fe4a6c33"
  }}
}}

data "lanestack_download" "crd" {{
  for_each = local.crds
  url      = "file://{dir}/snapshot.storage.k8s.io_${{each.key}}.yaml"
  sha256   = each.value
}}

resource "kubernetes_manifest" "crd" {{
  for_each = data.lanestack_download.crd
  manifest = each.value.content
}}
"#
    );
    cluster.write(&stack);
    let plan = cluster.apply().await;
    assert_eq!(plan.effective().filter(|c| c.change.action == Action::Create).count(), 3);
    let crd = resource_path(
        "apiextensions.k8s.io/v1",
        None,
        "customresourcedefinitions",
        Some("volumesnapshots.snapshot.storage.k8s.io"),
    );
    let live = cluster.kubectl().get(&crd).await.unwrap();
    assert_eq!(live["spec"]["names"]["kind"], "VolumeSnapshot");
    assert!(actions(&cluster.plan().await).is_empty());

    cluster.write(&stack.replace("b032116e987fb1d7", "0000000000000000"));
    let diags = cluster.try_plan(lanestack_engine::plan::PlanMode::Normal).await.unwrap_err();
    let text = format!("{diags:?}");
    assert!(
        text.contains("has SHA-256 b032116e987fb1d7") && text.contains("not the pinned 0000000000000000"),
        "{text}"
    );
}
