//! VolumeSnapshots through a kubeconfig (client certificate): created, read back, never
//! overwritten; invalid objects refused with the server's message; an untrusted server named.

use std::time::{Duration, UNIX_EPOCH};

use lanestack_kube::snapshot::{self, SnapshotError};
use lanestack_kube::{Auth, Client, Config, Error, resource_path};
use serde_json::json;

use crate::crds::install_snapshot_crds;
use crate::server::ApiServer;
use crate::webhook::TokenReviewWebhook;

#[tokio::test(flavor = "current_thread")]
async fn snapshots_through_a_kubeconfig_with_a_client_certificate() {
    let server = ApiServer::start(TokenReviewWebhook::start("unused-token", "unused")).await;
    let config = Config::from_kubeconfig(&server.kubeconfig(), None).unwrap();
    assert!(matches!(config.auth, Auth::ClientCertificate { .. }));
    let client = Client::new(&config).unwrap();
    assert_eq!(client.default_namespace(), "ml");
    install_snapshot_crds(&client, "ml").await;

    let at = UNIX_EPOCH + Duration::from_secs(1_709_251_199);
    let name = snapshot::snapshot_name("data", "scnn-run", at);
    assert_eq!(name, "snap-data-scnn-run-20240229-235959");
    let created = snapshot::create_volume_snapshot(&client, "ml", &name, "data").await.unwrap();
    assert_eq!(
        (created.namespace.as_str(), created.name.as_str(), created.pvc.as_str()),
        ("ml", name.as_str(), "data")
    );
    assert!(!created.uid.is_empty() && !created.creation_timestamp.is_empty(), "{created:?}");

    let path = resource_path(snapshot::API_VERSION, Some("ml"), "volumesnapshots", Some(&name));
    let read = client.get(&path).await.unwrap();
    assert_eq!(read["apiVersion"], "snapshot.storage.k8s.io/v1");
    assert_eq!(read["kind"], "VolumeSnapshot");
    assert_eq!(read["metadata"]["name"], name.as_str());
    assert_eq!(read["metadata"]["namespace"], "ml");
    assert_eq!(read["metadata"]["uid"], created.uid.as_str());
    assert_eq!(read["metadata"]["labels"]["app.kubernetes.io/managed-by"], "lanestack-trainer");
    assert_eq!(read["spec"], json!({"source": {"persistentVolumeClaimName": "data"}}));
    assert!(read["spec"].get("volumeSnapshotClassName").is_none());

    // The same name again: refused, and the first snapshot is untouched.
    let again = snapshot::create_volume_snapshot(&client, "ml", &name, "other-pvc").await.unwrap_err();
    let SnapshotError::AlreadyExists { source: Error::AlreadyExists(api), .. } = &again else {
        panic!("{again:?}")
    };
    assert_eq!(api.code, 409);
    assert_eq!(
        again.to_string(),
        format!(
            "VolumeSnapshot ml/{name} already exists and was left as it is (not overwritten): POST \
             /apis/snapshot.storage.k8s.io/v1/namespaces/ml/volumesnapshots: 409 AlreadyExists: \
             volumesnapshots.snapshot.storage.k8s.io \"{name}\" already exists"
        )
    );
    let still = client.get(&path).await.unwrap();
    assert_eq!(still["spec"]["source"]["persistentVolumeClaimName"], "data");
    assert_eq!(still["metadata"]["resourceVersion"], read["metadata"]["resourceVersion"]);

    // Both sources: the CRD's CEL rule refuses it.
    let collection = resource_path(snapshot::API_VERSION, Some("ml"), "volumesnapshots", None);
    let mut both = snapshot::volume_snapshot("ml", "both-sources", "data");
    both["spec"]["source"]["volumeSnapshotContentName"] = json!("content");
    let e = client.create(&collection, &both).await.unwrap_err();
    let Error::Invalid(api) = &e else { panic!("{e:?}") };
    assert_eq!(api.code, 422);
    assert!(
        api.message
            .contains("exactly one of volumeSnapshotContentName and persistentVolumeClaimName must be set"),
        "{e}"
    );
    assert!(api.causes.iter().any(|c| c.field == "spec.source"), "{:?}", api.causes);
    // No spec at all: the OpenAPI schema's `required` refuses it.
    let mut none = snapshot::volume_snapshot("ml", "no-spec", "data");
    none.as_object_mut().unwrap().remove("spec");
    let e = client.create(&collection, &none).await.unwrap_err();
    assert!(matches!(&e, Error::Invalid(api) if api.message.contains("spec: Required value")), "{e}");
    // Neither was stored.
    let e = client.get(&format!("{collection}/both-sources")).await.unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "{e}");

    // The list holds exactly the one snapshot.
    let list = client.list(&collection).await.unwrap();
    let names: Vec<&str> =
        list["items"].as_array().unwrap().iter().filter_map(|i| i["metadata"]["name"].as_str()).collect();
    assert_eq!(names, [name.as_str()]);
}

#[tokio::test(flavor = "current_thread")]
async fn an_untrusted_server_is_a_tls_error_naming_it() {
    let server = ApiServer::start(TokenReviewWebhook::start("unused-token", "unused")).await;
    let mut config = Config::from_kubeconfig(&server.kubeconfig(), None).unwrap();
    config.ca_pem = Some(server.other_ca_pem.clone().into_bytes());
    let client = Client::new(&config).unwrap();
    let e = client.get("/apis").await.unwrap_err();
    let Error::Tls { server: named, detail } = &e else { panic!("{e:?}") };
    assert_eq!(named, &server.url);
    assert!(detail.contains("UnknownIssuer"), "{detail}");
    assert!(
        e.to_string()
            .starts_with(&format!("TLS handshake with the Kubernetes API server {} failed: ", server.url))
    );

    // A closed port is a connection error naming the server.
    let config = server.config(Auth::None);
    let closed = Config { server: "https://127.0.0.1:1".to_owned(), ..config };
    let e = Client::new(&closed).unwrap().get("/apis").await.unwrap_err();
    assert!(matches!(&e, Error::Connect { server, .. } if server == "https://127.0.0.1:1"), "{e:?}");
}
