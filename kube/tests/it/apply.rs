//! Server-side apply against the real API server, the reference the emulator's Kubernetes API
//! is held to: ownership recorded in `managedFields`, fields an applier stops applying removed,
//! conflicts with another manager named field by field, `force` taking them over, and dry runs
//! that change nothing.

use lanestack_kube::{ApplyOptions, Client, Config, Error, resource_path};
use serde_json::{Value, json};

use crate::crds::install_snapshot_crds;
use crate::server::ApiServer;
use crate::webhook::TokenReviewWebhook;

const LANESTACK: ApplyOptions<'static> =
    ApplyOptions { field_manager: "lanestack", force: false, dry_run: false };

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

/// The `fieldsV1` of `manager`'s entry with `operation`, or null.
fn fields<'v>(object: &'v Value, manager: &str, operation: &str) -> &'v Value {
    object["metadata"]["managedFields"]
        .as_array()
        .and_then(|entries| entries.iter().find(|e| e["manager"] == manager && e["operation"] == operation))
        .map_or(&Value::Null, |e| &e["fieldsV1"])
}

#[tokio::test(flavor = "current_thread")]
async fn server_side_apply_owns_removes_conflicts_and_forces() {
    let server = ApiServer::start(TokenReviewWebhook::start("unused-token", "unused")).await;
    let client = Client::new(&Config::from_kubeconfig(&server.kubeconfig(), None).unwrap()).unwrap();
    install_snapshot_crds(&client, "ml").await;
    let path = resource_path("snapshot.storage.k8s.io/v1", None, "volumesnapshotclasses", Some("anf"));

    // A dry run creates nothing.
    let dry = ApplyOptions { dry_run: true, ..LANESTACK };
    let would = client.apply(&path, &class(json!({"a": "1"})), &dry).await.unwrap();
    assert_eq!(would["driver"], "csi.trident.netapp.io");
    assert!(matches!(client.get(&path).await.unwrap_err(), Error::NotFound(_)));

    // Apply creates, and records what lanestack owns.
    let created = client.apply(&path, &class(json!({"a": "1", "b": "2"})), &LANESTACK).await.unwrap();
    assert_eq!(created["parameters"], json!({"a": "1", "b": "2"}));
    assert_eq!(
        fields(&created, "lanestack", "Apply"),
        &json!({
            "f:deletionPolicy": {},
            "f:driver": {},
            "f:metadata": {"f:labels": {"f:team": {}}},
            "f:parameters": {"f:a": {}, "f:b": {}},
        })
    );
    let entry = &created["metadata"]["managedFields"][0];
    assert_eq!(
        (entry["apiVersion"].as_str(), entry["fieldsType"].as_str()),
        (Some("snapshot.storage.k8s.io/v1"), Some("FieldsV1"))
    );

    // A field lanestack stops applying is removed.
    let applied = client.apply(&path, &class(json!({"a": "1"})), &LANESTACK).await.unwrap();
    assert_eq!(applied["parameters"], json!({"a": "1"}));

    // Another manager changes a field lanestack owns: lanestack's next apply conflicts...
    let edited = client
        .merge_patch(
            &format!("{path}?fieldManager=kubectl-edit"),
            &json!({"parameters": {"a": "9", "c": "3"}}),
        )
        .await
        .unwrap();
    assert_eq!(fields(&edited, "kubectl-edit", "Update"), &json!({"f:parameters": {"f:a": {}, "f:c": {}}}));
    // The edited field moved away from lanestack (and its emptied map with it).
    assert_eq!(
        fields(&edited, "lanestack", "Apply"),
        &json!({"f:deletionPolicy": {}, "f:driver": {}, "f:metadata": {"f:labels": {"f:team": {}}}})
    );
    let e = client.apply(&path, &class(json!({"a": "1"})), &LANESTACK).await.unwrap_err();
    let Error::Conflict(api) = &e else { panic!("{e:?}") };
    assert_eq!(api.code, 409);
    assert_eq!(
        api.message,
        "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using snapshot.storage.k8s.io/v1: .parameters.a"
    );
    assert_eq!(api.causes.len(), 1, "{:?}", api.causes);
    assert_eq!(api.causes[0].reason, "FieldManagerConflict");
    assert_eq!(api.causes[0].field, ".parameters.a");
    assert_eq!(api.causes[0].message, "conflict with \"kubectl-edit\" using snapshot.storage.k8s.io/v1");
    // ...and changed nothing.
    assert_eq!(client.get(&path).await.unwrap()["parameters"], json!({"a": "9", "c": "3"}));

    // Forced, lanestack takes the field back; the other manager's own field stays.
    let forced = client
        .apply(&path, &class(json!({"a": "1"})), &ApplyOptions { force: true, ..LANESTACK })
        .await
        .unwrap();
    assert_eq!(forced["parameters"], json!({"a": "1", "c": "3"}));
    assert_eq!(fields(&forced, "kubectl-edit", "Update"), &json!({"f:parameters": {"f:c": {}}}));

    // The same value applied by two managers is shared, not a conflict.
    let shared = ApplyOptions { field_manager: "other", ..LANESTACK };
    let both = client.apply(&path, &class(json!({"a": "1"})), &shared).await.unwrap();
    assert_eq!(fields(&both, "other", "Apply")["f:parameters"]["f:a"], json!({}));
    assert_eq!(fields(&both, "lanestack", "Apply")["f:parameters"]["f:a"], json!({}));
}
