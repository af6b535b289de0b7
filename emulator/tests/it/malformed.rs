//! No input makes the emulator's Kubernetes API fail: every malformed body, sent with every
//! write verb to every kind, is answered — refused with a `Status` (4xx), or accepted — never
//! with a 5xx or a dropped connection (a handler that panicked).

use lanestack_emulator::EmulatorConfig;
use serde_json::{Value, json};

use super::kube::cluster;
use super::{Client, rt};

fn bodies() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = [
        json!(null),
        json!([1, 2]),
        json!("text"),
        json!(7),
        json!({}),
        json!({"metadata": "x"}),
        json!({"metadata": {"name": 5}}),
        json!({"metadata": {"name": "a", "namespace": ["x"]}}),
        json!({"metadata": {"name": "a", "labels": [1]}}),
        json!({"metadata": {"name": "a", "annotations": {"k": 1}}}),
        json!({"metadata": {"name": "a", "managedFields": "x"}}),
        json!({"metadata": {"name": "a", "resourceVersion": 3}}),
        json!({"apiVersion": 5, "kind": [], "metadata": {"name": "a"}}),
        json!({"metadata": {"name": "a"}, "spec": "x", "status": 7}),
        json!({"metadata": {"name": "a"}, "data": [1], "stringData": 5, "type": {}}),
        json!({"metadata": {"name": "a"}, "spec": {"selector": "x", "template": [], "replicas": "many"}}),
        json!({"metadata": {"name": "a"}, "spec": {"resources": {"requests": {"storage": "lots"}}, "accessModes": "RWX"}}),
        json!({"metadata": {"name": "a"}, "spec": {"group": 1, "names": "x", "versions": {"v1": true}}}),
        json!({"metadata": {"name": "a"}, "rules": "all", "roleRef": 1, "subjects": {}}),
        json!({"metadata": {"name": "a"}, "spec": {"template": {"spec": {"containers": "x", "restartPolicy": 1}}}}),
    ]
    .iter()
    .map(|v| v.to_string().into_bytes())
    .collect();
    let mut deep = String::new();
    for _ in 0..200 {
        deep.push_str("{\"a\":");
    }
    deep.push('1');
    deep.push_str(&"}".repeat(200));
    out.extend([b"{".to_vec(), b"\xff\xfe".to_vec(), Vec::new(), deep.into_bytes()]);
    out
}

#[test]
fn malformed_writes_are_answered_never_failed() {
    rt().block_on(async {
        let c = Client::start(EmulatorConfig::default()).await;
        let kube = cluster(&c).await;
        let crd = include_str!("../../../kube/tests/data/external-snapshotter-afb2f0d/snapshot.storage.k8s.io_volumesnapshotclasses.yaml");
        let crd: Value = lanestack_kube::yaml::document(crd).unwrap();
        assert_eq!(kube.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd).await.status, 201);
        let collections = [
            "/api/v1/namespaces",
            "/api/v1/namespaces/default/secrets",
            "/api/v1/namespaces/default/configmaps",
            "/api/v1/namespaces/default/persistentvolumeclaims",
            "/apis/apps/v1/namespaces/default/deployments",
            "/apis/batch/v1/namespaces/default/jobs",
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            "/apis/storage.k8s.io/v1/storageclasses",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            "/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses",
        ];
        // Objects named `a` to update, so that PUT and PATCH reach the update paths too.
        let labels = json!({"app": "a"});
        let template = json!({"metadata": {"labels": labels}, "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}});
        let seeds = [
            ("/api/v1/namespaces", json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}})),
            ("/api/v1/namespaces/default/secrets", json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a"}, "immutable": true})),
            ("/api/v1/namespaces/default/configmaps", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}})),
            ("/apis/storage.k8s.io/v1/storageclasses", json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "a"}, "provisioner": "p"})),
            ("/api/v1/namespaces/default/persistentvolumeclaims", json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "a"},
                "spec": {"storageClassName": "a", "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})),
            ("/apis/apps/v1/namespaces/default/deployments", json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"},
                "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}})),
            ("/apis/batch/v1/namespaces/default/jobs", json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "a"}, "spec": {"template": template}})),
            ("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "a"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "r"}})),
            ("/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses", json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass", "metadata": {"name": "a"},
                "driver": "d", "deletionPolicy": "Delete"})),
        ];
        for (collection, object) in seeds {
            let r = kube.post(collection, object).await;
            assert_eq!(r.status, 201, "{collection}: {}", r.body);
        }
        // The controllers get their reads in between, on claims and jobs with odd updates.
        kube.get("/api/v1/namespaces/default/persistentvolumeclaims/a").await;
        let mut answered = 0;
        for collection in collections {
            for body in bodies() {
                let item = format!("{collection}/a");
                for (method, path, content_type) in [
                    ("POST", collection.to_owned(), "application/json"),
                    ("PUT", item.clone(), "application/json"),
                    ("PATCH", item.clone(), "application/merge-patch+json"),
                    ("PATCH", format!("{item}?fieldManager=fuzz"), "application/apply-patch+yaml"),
                    ("PATCH", format!("{item}/status"), "application/merge-patch+json"),
                ] {
                    let r = kube.send(method, &path, Some(body.clone()), content_type).await;
                    assert!(
                        r.status < 500,
                        "{method} {path} with {:?}: {} {}",
                        String::from_utf8_lossy(&body),
                        r.status,
                        r.body
                    );
                    if r.status >= 400 {
                        assert_eq!(r.body["kind"], "Status", "{method} {path}: {}", r.body);
                    }
                    answered += 1;
                }
            }
        }
        assert_eq!(answered, collections.len() * bodies().len() * 5);
        // And the API still works afterwards.
        assert_eq!(kube.get("/api/v1/namespaces/default").await.status, 200);
    });
}
