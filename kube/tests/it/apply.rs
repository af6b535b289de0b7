//! Server-side apply against the real API server, the reference the emulator's Kubernetes API
//! is held to (the scenario is `ssa.rs`; the emulator's tests run it too).

use lanestack_kube::{Client, Config, resource_path};
use serde_json::{Value, json};

use crate::crds::install_snapshot_crds;
use crate::server::ApiServer;
use crate::ssa::{Subject, server_side_apply};
use crate::webhook::TokenReviewWebhook;

fn class(parameters: Value) -> Value {
    json!({
        "apiVersion": "snapshot.storage.k8s.io/v1",
        "kind": "VolumeSnapshotClass",
        "metadata": {"name": "anf", "labels": {"team": "ml"}},
        "driver": "csi.trident.netapp.io",
        "deletionPolicy": "Delete",
        "parameters": parameters,
    })
}

#[tokio::test(flavor = "current_thread")]
async fn server_side_apply_owns_removes_conflicts_and_forces() {
    let server = ApiServer::start(TokenReviewWebhook::start("unused-token", "unused")).await;
    let client = Client::new(&Config::from_kubeconfig(&server.kubeconfig(), None).unwrap()).unwrap();
    install_snapshot_crds(&client, "ml").await;
    let subject = Subject {
        path: resource_path("snapshot.storage.k8s.io/v1", None, "volumesnapshotclasses", Some("anf")),
        api_version: "snapshot.storage.k8s.io/v1",
        map: "parameters",
        object: class,
        value: |text| json!(text),
        also_owned: json!({"f:deletionPolicy": {}, "f:driver": {}}),
    };
    server_side_apply(&client, &subject).await;
}
