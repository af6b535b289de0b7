//! The VolumeSnapshot CRDs of external-snapshotter (afb2f0d, Apache-2.0, copied unchanged into
//! `tests/data/`), installed through the client under test.

use std::time::{Duration, Instant};

use lanestack_kube::{Client, resource_path, yaml};
use serde_json::Value;

const CRDS: [&str; 3] = [
    include_str!("../data/external-snapshotter-afb2f0d/snapshot.storage.k8s.io_volumesnapshotclasses.yaml"),
    include_str!("../data/external-snapshotter-afb2f0d/snapshot.storage.k8s.io_volumesnapshotcontents.yaml"),
    include_str!("../data/external-snapshotter-afb2f0d/snapshot.storage.k8s.io_volumesnapshots.yaml"),
];

/// Creates the three CRDs, then polls (bounded) until each is `Established` and its
/// VolumeSnapshots can be listed in `namespace`.
pub async fn install_snapshot_crds(client: &Client, namespace: &str) {
    let collection = resource_path("apiextensions.k8s.io/v1", None, "customresourcedefinitions", None);
    let mut names = Vec::new();
    for text in CRDS {
        let crd = yaml::document(text).unwrap();
        let created = client.create(&collection, &crd).await.unwrap();
        names.push(created["metadata"]["name"].as_str().unwrap().to_owned());
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for name in &names {
        let path = format!("{collection}/{name}");
        loop {
            let crd = client.get(&path).await.unwrap();
            let established = crd
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Established" && c["status"] == "True"));
            if established {
                break;
            }
            assert!(Instant::now() < deadline, "CRD {name} not Established within 60 s: {crd}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Established means served; the handler may still take a moment to answer in every
    // namespace, so wait for a list to succeed too.
    let list = resource_path("snapshot.storage.k8s.io/v1", Some(namespace), "volumesnapshots", None);
    loop {
        match client.list(&list).await {
            Ok(_) => return,
            Err(e) => assert!(Instant::now() < deadline, "VolumeSnapshots not served within 60 s: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
