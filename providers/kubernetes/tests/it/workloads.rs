//! Workloads that lanestack waits for, in an emulated AKS cluster whose controllers bind
//! claims, take snapshots and run jobs: a claim waited on until Bound, a snapshot of it until
//! ready, a claim restored from the snapshot until Bound (runbook §12), a job until Complete —
//! and a job that fails ends the apply with the Job's own reason.

use lanestack_model::Action;

use crate::cluster::{Cluster, actions};

fn crds() -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../kube/tests/data/external-snapshotter-afb2f0d");
    format!(
        r#"
resource "kubernetes_manifest" "crd" {{
  for_each = toset(["volumesnapshotclasses", "volumesnapshotcontents", "volumesnapshots"])
  manifest = file("{dir}/snapshot.storage.k8s.io_${{each.key}}.yaml")
}}
"#
    )
}

const STORAGE: &str = r#"
resource "kubernetes_namespace" "ml" {
  metadata {
    name = "ml"
  }
}

resource "kubernetes_manifest" "class" {
  manifest = yamlencode({
    apiVersion  = "storage.k8s.io/v1"
    kind        = "StorageClass"
    metadata    = { name = "azurenetappfiles" }
    provisioner = "csi.trident.netapp.io"
  })
}

resource "kubernetes_manifest" "snapshot_class" {
  manifest = yamlencode({
    apiVersion     = "snapshot.storage.k8s.io/v1"
    kind           = "VolumeSnapshotClass"
    metadata       = { name = "netapp-csi-snapclass", annotations = { "snapshot.storage.kubernetes.io/is-default-class" = "true" } }
    driver         = "csi.trident.netapp.io"
    deletionPolicy = "Delete"
  })
  depends_on = [kubernetes_manifest.crd]
}

resource "kubernetes_manifest" "data" {
  manifest = yamlencode({
    apiVersion = "v1"
    kind       = "PersistentVolumeClaim"
    metadata   = { name = "data", namespace = kubernetes_namespace.ml.metadata.name }
    spec = {
      accessModes      = ["ReadWriteMany"]
      storageClassName = "azurenetappfiles"
      resources        = { requests = { storage = "100Gi" } }
    }
  })
  wait {
    fields = { "status.phase" = "Bound" }
  }
  depends_on = [kubernetes_manifest.class]
}

resource "kubernetes_manifest" "snapshot" {
  manifest = yamlencode({
    apiVersion = "snapshot.storage.k8s.io/v1"
    kind       = "VolumeSnapshot"
    metadata   = { name = "data-snap", namespace = kubernetes_namespace.ml.metadata.name }
    spec       = { source = { persistentVolumeClaimName = "data" } }
  })
  wait {
    fields = { "status.readyToUse" = "true" }
  }
  depends_on = [kubernetes_manifest.data, kubernetes_manifest.snapshot_class]
}

resource "kubernetes_manifest" "restored" {
  manifest = yamlencode({
    apiVersion = "v1"
    kind       = "PersistentVolumeClaim"
    metadata   = { name = "restored", namespace = kubernetes_namespace.ml.metadata.name }
    spec = {
      accessModes      = ["ReadWriteMany"]
      storageClassName = "azurenetappfiles"
      resources        = { requests = { storage = "100Gi" } }
      dataSource       = { apiGroup = "snapshot.storage.k8s.io", kind = "VolumeSnapshot", name = "data-snap" }
    }
  })
  wait {
    fields = { "status.phase" = "Bound" }
  }
  depends_on = [kubernetes_manifest.snapshot]
}
"#;

/// A Job resource named `name` (the object: the same with `-`).
fn job(name: &str, annotations: &str) -> String {
    let object = name.replace('_', "-");
    format!(
        r#"
resource "kubernetes_manifest" "{name}" {{
  manifest = yamlencode({{
    apiVersion = "batch/v1"
    kind       = "Job"
    metadata   = {{ name = "{object}", namespace = kubernetes_namespace.ml.metadata.name, annotations = {{ {annotations} }} }}
    spec = {{
      backoffLimit = 2
      template = {{ spec = {{
        restartPolicy = "Never"
        containers    = [{{ name = "data", image = "registry.example/lanestack-trainer:0.1.0", command = ["lanestack-trainer", "synth"] }}]
      }} }}
    }}
  }})
  wait {{
    conditions         = {{ Complete = "True" }}
    failure_conditions = {{ Failed = "True" }}
  }}
  depends_on = [kubernetes_manifest.restored]
}}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_snapshots_restores_and_jobs_are_waited_for() {
    // The controllers need three reads of an object to finish its work: the waits must wait.
    let cluster = Cluster::start(3).await;
    cluster.write(&format!("{}{STORAGE}{}", crds(), job("data_job", "")));
    cluster.apply().await;
    let kubectl = cluster.kubectl();
    let get = |path: &'static str| {
        let kubectl = kubectl.clone();
        async move { kubectl.get(path).await.unwrap() }
    };
    let data = get("/api/v1/namespaces/ml/persistentvolumeclaims/data").await;
    assert_eq!(data["status"]["phase"], "Bound");
    let snapshot = get("/apis/snapshot.storage.k8s.io/v1/namespaces/ml/volumesnapshots/data-snap").await;
    assert_eq!(
        (snapshot["status"]["readyToUse"].as_bool(), snapshot["status"]["restoreSize"].as_str()),
        (Some(true), Some("100Gi"))
    );
    let restored = get("/api/v1/namespaces/ml/persistentvolumeclaims/restored").await;
    assert_eq!(restored["status"]["phase"], "Bound");
    assert_ne!(restored["spec"]["volumeName"], data["spec"]["volumeName"], "a new volume from the snapshot");
    let data_job = get("/apis/batch/v1/namespaces/ml/jobs/data-job").await;
    assert_eq!(data_job["status"]["succeeded"], 1);
    // Nothing of what the controllers wrote is a change.
    assert!(actions(&cluster.plan().await).is_empty());

    // Removing the restored claim deletes its volume's data: the plan says so, as the review
    // comment's risk summary will.
    let without_restore = STORAGE.split("resource \"kubernetes_manifest\" \"restored\"").next().unwrap();
    cluster.write(&format!("{}{without_restore}", crds()));
    let plan = cluster.plan().await;
    let deletes: Vec<(String, bool)> =
        plan.effective().map(|c| (c.change.address.to_string(), c.data_bearing)).collect();
    assert_eq!(
        deletes,
        [
            ("kubernetes_manifest.data_job".to_owned(), false),
            ("kubernetes_manifest.restored".to_owned(), true)
        ]
    );
    cluster.write(&format!("{}{STORAGE}{}", crds(), job("data_job", "")));

    // Another command in the Job's pod template, which the API server never lets an update
    // change: the plan replaces the Job, and the new one runs it.
    let longer = job("data_job", "").replace(r#""synth"]"#, r#""synth", "--frames", "10"]"#);
    cluster.write(&format!("{}{STORAGE}{longer}", crds()));
    let plan = cluster.plan().await;
    assert_eq!(actions(&plan), [("kubernetes_manifest.data_job".to_owned(), Action::DeleteThenCreate)]);
    let report = cluster.apply_plan(&plan).await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let data_job = get("/apis/batch/v1/namespaces/ml/jobs/data-job").await;
    assert_eq!(data_job["spec"]["template"]["spec"]["containers"][0]["command"][3], "10");
    assert_eq!(data_job["status"]["succeeded"], 1);
    cluster.write(&format!("{}{STORAGE}{}", crds(), job("data_job", "")));
    cluster.apply().await;

    // A job that fails ends its apply with the Job's reason, not a timeout.
    let failing =
        job("bad_job", &format!("\"{}\" = \"true\"", lanestack_emulator::KUBERNETES_JOB_FAIL_ANNOTATION));
    cluster.write(&format!("{}{STORAGE}{}{failing}", crds(), job("data_job", "")));
    let plan = cluster.plan().await;
    assert_eq!(actions(&plan), [("kubernetes_manifest.bad_job".to_owned(), Action::Create)]);
    let report = cluster.apply_plan(&plan).await;
    let failed: Vec<String> = report.failed.iter().map(|(a, _, m)| format!("{a}: {m}")).collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0].starts_with("kubernetes_manifest.bad_job: Job ml/bad-job failed: condition Failed is True: BackoffLimitExceeded:"),
        "{failed:?}"
    );
}
