//! CustomResourceDefinitions and custom resources in a cluster's Kubernetes API, with the real
//! upstream CRDs (external-snapshotter's, from `kube/tests/data/`): the CRD's life, the kinds
//! it serves, their validation, pruning, generation and status subresource, discovery,
//! persistence, and one scenario held to the real API server's results.

use lanestack_emulator::EmulatorConfig;
use lanestack_kube::{ApplyOptions, Client as KubeClient, Error, resource_path, yaml};
use serde_json::{Value, json};

use super::kube::{CLUSTER as AKS_CLUSTER, Kube, cluster, field, https_cluster_with, kubeconfig};
use super::server::ApiServer;
use super::snapshot_crds::install_snapshot_crds;
use super::webhook::TokenReviewWebhook;
use super::{AKS, Client, rt};

const SNAPSHOT_CLASSES: &str = include_str!(
    "../../../kube/tests/data/external-snapshotter-afb2f0d/snapshot.storage.k8s.io_volumesnapshotclasses.yaml"
);
const SNAPSHOTS: &str = include_str!(
    "../../../kube/tests/data/external-snapshotter-afb2f0d/snapshot.storage.k8s.io_volumesnapshots.yaml"
);

const CRDS: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
const CLASSES: &str = "/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses";
const DEFAULT_SNAPSHOTS: &str = "/apis/snapshot.storage.k8s.io/v1/namespaces/default/volumesnapshots";

fn class(name: &str, driver: Value, policy: &str) -> Value {
    json!({
        "apiVersion": "snapshot.storage.k8s.io/v1",
        "kind": "VolumeSnapshotClass",
        "metadata": { "name": name },
        "driver": driver,
        "deletionPolicy": policy,
    })
}

fn snapshot(name: &str) -> Value {
    json!({
        "apiVersion": "snapshot.storage.k8s.io/v1",
        "kind": "VolumeSnapshot",
        "metadata": { "name": name },
        "spec": { "source": { "persistentVolumeClaimName": "data" }, "volumeSnapshotClassName": "anf" },
    })
}

/// The emulator's cluster `k` and a `lanestack_kube` client from its kubeconfig.
/// Its controllers are off: the real server it is compared with runs none (no snapshot
/// controller writing the snapshots' status).
async fn emulated() -> (lanestack_emulator::Emulator, KubeClient) {
    let config = EmulatorConfig { kube_controllers: false, ..EmulatorConfig::default() };
    let (emulator, config) = https_cluster_with(config).await;
    let dir = tempfile::tempdir().unwrap();
    let config = lanestack_kube::Config::from_kubeconfig_text(&config, None, dir.path()).unwrap();
    (emulator, KubeClient::new(&config).unwrap())
}

#[test]
fn a_crd_is_defaulted_established_and_its_kind_served_and_discovered() {
    rt().block_on(async {
        let c = Client::start(EmulatorConfig { lro_retry_after_secs: 0, ..EmulatorConfig::default() }).await;
        let kube = cluster(&c).await;
        let mut crd = yaml::document(SNAPSHOT_CLASSES).unwrap();
        // The defaults the real server fills: singular and listKind from the kind.
        let names = crd["spec"]["names"].as_object_mut().unwrap();
        names.remove("singular");
        names.remove("listKind");
        let r = kube.post(CRDS, crd.clone()).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let created = r.body;
        assert_eq!(created["spec"]["names"]["singular"], "volumesnapshotclass");
        assert_eq!(created["spec"]["names"]["listKind"], "VolumeSnapshotClassList");
        assert_eq!(created["spec"]["conversion"], json!({ "strategy": "None" }));
        assert_eq!(created["metadata"]["generation"], 1);
        let conditions = created["status"]["conditions"].as_array().unwrap();
        let condition = |t: &str| conditions.iter().find(|c| c["type"] == t).unwrap();
        assert_eq!(condition("NamesAccepted")["status"], "True");
        assert_eq!(condition("Established")["status"], "True");
        assert_eq!(created["status"]["acceptedNames"]["kind"], "VolumeSnapshotClass");
        assert_eq!(created["status"]["storedVersions"], json!(["v1"]));
        assert_eq!(created["metadata"]["managedFields"][0]["manager"], "emu-test");
        assert!(created["metadata"]["managedFields"][0]["fieldsV1"].get("f:status").is_none());
        // The same CRD again: AlreadyExists, with the group in the details.
        let r = kube.post(CRDS, crd).await;
        assert_eq!(r.status, 409);
        assert_eq!(
            r.body["message"],
            "customresourcedefinitions.apiextensions.k8s.io \"volumesnapshotclasses.snapshot.storage.k8s.io\" already exists"
        );
        assert_eq!(r.body["details"]["group"], "apiextensions.k8s.io");

        // Discovery: the group with its served versions only (v1beta1 is not served).
        let r = kube.get("/apis").await;
        let groups = r.body["groups"].as_array().unwrap();
        let names: Vec<&str> = groups.iter().map(|g| g["name"].as_str().unwrap()).collect();
        assert_eq!(names.last(), Some(&"snapshot.storage.k8s.io"), "CRD groups after the built-in ones");
        assert_eq!(names[names.len() - 2], "apiextensions.k8s.io");
        let v1 = json!({ "groupVersion": "snapshot.storage.k8s.io/v1", "version": "v1" });
        assert_eq!(groups[names.len() - 1]["versions"], json!([v1]));
        assert_eq!(groups[names.len() - 1]["preferredVersion"], v1);
        assert_eq!(kube.get("/apis/snapshot.storage.k8s.io").await.body["kind"], "APIGroup");
        let r = kube.get("/apis/snapshot.storage.k8s.io/v1").await;
        assert_eq!(r.body["resources"][0]["name"], "volumesnapshotclasses");
        assert_eq!(r.body["resources"][0]["shortNames"], json!(["vsclass", "vsclasses"]));
        assert_eq!(r.body["resources"][0]["namespaced"], false);
        assert_eq!(r.body["resources"].as_array().unwrap().len(), 1, "no status subresource: {}", r.body);
        assert_eq!(kube.get("/apis/snapshot.storage.k8s.io/v1beta1").await.status, 404);
        let r = kube.get("/apis/apiextensions.k8s.io/v1").await;
        let listed: Vec<&str> =
            r.body["resources"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(listed, ["customresourcedefinitions", "customresourcedefinitions/status"]);

        // The kind is served: create, list, get, with uid, generation, managedFields by group/version.
        let r = kube.post(CLASSES, class("anf", json!("csi.trident.netapp.io"), "Delete")).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["metadata"]["generation"], 1);
        assert_eq!(r.body["metadata"]["managedFields"][0]["apiVersion"], "snapshot.storage.k8s.io/v1");
        assert!(r.body["metadata"]["uid"].as_str().is_some_and(|u| u.len() == 36));
        let r = kube.get(CLASSES).await;
        assert_eq!((&r.body["kind"], r.body["items"].as_array().unwrap().len()), (&json!("VolumeSnapshotClassList"), 1));
        assert_eq!(r.body["apiVersion"], "snapshot.storage.k8s.io/v1");
        let r = kube.get(&format!("{CLASSES}/missing")).await;
        assert_eq!(r.body["message"], "volumesnapshotclasses.snapshot.storage.k8s.io \"missing\" not found");
        // A kind no CRD defines, a version not served: the route is not there.
        for path in ["/apis/snapshot.storage.k8s.io/v1beta1/volumesnapshotclasses", "/apis/example.com/v1/widgets"] {
            let r = kube.get(path).await;
            assert_eq!(r.status, 404, "{path}");
            assert_eq!(r.body["message"], "the server could not find the requested resource");
        }
    });
}

#[test]
fn crds_are_validated_with_the_real_servers_messages() {
    rt().block_on(async {
        let c = Client::start(EmulatorConfig { lro_retry_after_secs: 0, ..EmulatorConfig::default() }).await;
        let kube = cluster(&c).await;
        let good = yaml::document(SNAPSHOT_CLASSES).unwrap();
        let mut bad = good.clone();
        bad["metadata"]["name"] = json!("classes.snapshot.storage.k8s.io");
        let r = kube.post(CRDS, bad).await;
        assert_eq!(r.status, 422);
        assert_eq!(
            r.body["message"],
            "CustomResourceDefinition.apiextensions.k8s.io \"classes.snapshot.storage.k8s.io\" is invalid: metadata.name: Invalid value: \"classes.snapshot.storage.k8s.io\": must be spec.names.plural+\".\"+spec.group"
        );
        let mut bad = good.clone();
        bad["spec"]["scope"] = json!("Global");
        let r = kube.post(CRDS, bad).await;
        assert_eq!(r.body["details"]["causes"][0]["message"], "Unsupported value: \"Global\": supported values: \"Cluster\", \"Namespaced\"");
        let mut bad = good.clone();
        bad["spec"]["versions"][0]["schema"] = Value::Null;
        let r = kube.post(CRDS, bad).await;
        assert_eq!(r.body["details"]["causes"][0]["field"], "spec.versions[0].schema.openAPIV3Schema");
        assert_eq!(r.body["details"]["causes"][0]["message"], "Required value");
        let mut bad = good.clone();
        bad["spec"]["versions"][1]["storage"] = json!(true);
        let r = kube.post(CRDS, bad).await;
        assert_eq!(r.status, 422);
        assert_eq!(r.body["details"]["causes"][0]["field"], "spec.versions");
        assert!(r.body["message"].as_str().unwrap().ends_with("must have exactly one version marked as storage version"));
        // A dry run validates and stores nothing: the kind is not served.
        let r = kube.send("POST", &format!("{CRDS}?dryRun=All"), Some(good.to_string().into_bytes()), "application/json").await;
        assert_eq!(r.status, 201);
        assert_eq!(kube.get(CLASSES).await.status, 404);
        assert_eq!(kube.get(CRDS).await.body["items"], json!([]));
    });
}

#[test]
fn custom_resources_are_validated_pruned_and_applied() {
    rt().block_on(async {
        let c = Client::start(EmulatorConfig { lro_retry_after_secs: 0, ..EmulatorConfig::default() }).await;
        let kube = cluster(&c).await;
        assert_eq!(kube.post(CRDS, yaml::document(SNAPSHOT_CLASSES).unwrap()).await.status, 201);
        // Wrong type, unsupported value, missing required field.
        let r = kube.post(CLASSES, class("c", json!(5), "Keep")).await;
        assert_eq!(r.status, 422);
        assert_eq!(
            r.body["message"],
            "VolumeSnapshotClass.snapshot.storage.k8s.io \"c\" is invalid: [deletionPolicy: Unsupported value: \"Keep\": supported values: \"Delete\", \"Retain\", driver: Invalid value: \"integer\": driver in body must be of type string: \"integer\"]"
        );
        let causes = &r.body["details"]["causes"];
        assert_eq!((&causes[1]["reason"], &causes[1]["field"]), (&json!("FieldValueTypeInvalid"), &json!("driver")));
        let mut missing = class("c", json!("d"), "Delete");
        missing.as_object_mut().unwrap().remove("driver");
        let r = kube.post(CLASSES, missing).await;
        assert_eq!(r.body["message"], "VolumeSnapshotClass.snapshot.storage.k8s.io \"c\" is invalid: driver: Required value");
        // Unknown fields are pruned silently, metadata's too; parameters (a map) keep theirs.
        let mut extra = class("c", json!("d"), "Delete");
        extra["bogus"] = json!({ "x": 1 });
        extra["metadata"]["bogus"] = json!(1);
        extra["parameters"] = json!({ "any-key": "v" });
        let r = kube.post(CLASSES, extra).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert!(r.body.get("bogus").is_none() && r.body["metadata"].get("bogus").is_none(), "{}", r.body);
        assert_eq!(r.body["parameters"], json!({ "any-key": "v" }));
        assert_eq!(kube.get(&format!("{CLASSES}/c")).await.body, r.body);

        // Server-side apply: ownership, a conflict with another manager, force.
        let path = format!("{CLASSES}/anf?fieldManager=lanestack");
        let r = kube.apply(&path, class("anf", json!("csi.trident.netapp.io"), "Delete")).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let entry = &r.body["metadata"]["managedFields"][0];
        assert_eq!((&entry["manager"], &entry["operation"]), (&json!("lanestack"), &json!("Apply")));
        assert_eq!(entry["fieldsV1"], json!({ "f:deletionPolicy": {}, "f:driver": {} }));
        let r = kube.merge(&format!("{CLASSES}/anf?fieldManager=kubectl-edit"), json!({ "deletionPolicy": "Retain" })).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["metadata"]["generation"], 2);
        let r = kube.apply(&path, class("anf", json!("csi.trident.netapp.io"), "Delete")).await;
        assert_eq!(r.status, 409);
        assert_eq!(
            r.body["message"],
            "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using snapshot.storage.k8s.io/v1: .deletionPolicy"
        );
        let r = kube.apply(&format!("{path}&force=true"), class("anf", json!("csi.trident.netapp.io"), "Delete")).await;
        assert_eq!((r.status, &r.body["deletionPolicy"]), (200, &json!("Delete")));
        assert_eq!(r.body["metadata"]["generation"], 3);
        // An apply that is invalid is refused like a create.
        let r = kube.apply(&path, class("anf", json!(["x"]), "Delete")).await;
        assert_eq!(r.status, 422);
        assert_eq!(r.body["details"]["causes"][0]["message"], "Invalid value: \"array\": driver in body must be of type string: \"array\"");
    });
}

#[test]
fn the_status_subresource_and_generation_follow_the_strategy() {
    rt().block_on(async {
        let c = Client::start(EmulatorConfig { lro_retry_after_secs: 0, ..EmulatorConfig::default() }).await;
        let kube = cluster(&c).await;
        assert_eq!(kube.post(CRDS, yaml::document(SNAPSHOTS).unwrap()).await.status, 201);
        let r = kube.get("/apis/snapshot.storage.k8s.io/v1").await;
        let listed: Vec<&str> =
            r.body["resources"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(listed, ["volumesnapshots", "volumesnapshots/status"]);
        // The namespace must exist.
        let r = kube.post("/apis/snapshot.storage.k8s.io/v1/namespaces/nowhere/volumesnapshots", snapshot("s")).await;
        assert_eq!((r.status, &r.body["message"]), (404, &json!("namespaces \"nowhere\" not found")));
        // A create ignores the status; metadata changes keep the generation, spec changes move it.
        let mut body = snapshot("s");
        body["status"] = json!({ "readyToUse": true });
        let r = kube.post(DEFAULT_SNAPSHOTS, body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert!(r.body.get("status").is_none(), "{}", r.body);
        assert_eq!(r.body["metadata"]["generation"], 1);
        let item = format!("{DEFAULT_SNAPSHOTS}/s");
        let r = kube.merge(&item, json!({ "metadata": { "labels": { "a": "b" } }, "status": { "readyToUse": true } })).await;
        assert_eq!((r.status, &r.body["metadata"]["generation"]), (200, &json!(1)));
        assert!(r.body.get("status").is_none(), "{}", r.body);
        let r = kube.merge(&item, json!({ "spec": { "volumeSnapshotClassName": "other" } })).await;
        assert_eq!(r.body["metadata"]["generation"], 2);
        // /status writes change only the status, and not the generation.
        let r = kube
            .merge(
                &format!("{item}/status?fieldManager=snapshot-controller"),
                json!({ "metadata": { "labels": { "x": "y" } }, "spec": { "volumeSnapshotClassName": "z" }, "status": { "readyToUse": true } }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["status"], json!({ "readyToUse": true }));
        assert_eq!(r.body["spec"]["volumeSnapshotClassName"], "other");
        assert_eq!(r.body["metadata"]["labels"], json!({ "a": "b" }));
        assert_eq!(r.body["metadata"]["generation"], 2);
        let entry = r.body["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["manager"] == "snapshot-controller")
            .unwrap()
            .clone();
        assert_eq!(entry["subresource"], "status");
        assert_eq!(entry["fieldsV1"], json!({ "f:status": { ".": {}, "f:readyToUse": {} } }));
        // Apply to /status, and the status is validated against the schema.
        let applied = json!({
            "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
            "metadata": { "name": "s" }, "status": { "restoreSize": "1Gi" },
        });
        let r = kube.apply(&format!("{item}/status?fieldManager=csi"), applied).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["status"], json!({ "readyToUse": true, "restoreSize": "1Gi" }));
        let r = kube.merge(&format!("{item}/status"), json!({ "status": { "readyToUse": "yes" } })).await;
        assert_eq!(r.status, 422);
        assert_eq!(r.body["details"]["causes"][0]["field"], "status.readyToUse");
        // No status subresource for a missing object, and no POST there.
        assert_eq!(kube.merge(&format!("{DEFAULT_SNAPSHOTS}/none/status"), json!({ "status": {} })).await.status, 404);
        assert_eq!(kube.post(&format!("{item}/status"), snapshot("s")).await.status, 405);
        assert_eq!(kube.get(&format!("{item}/status")).await.body["status"]["restoreSize"], "1Gi");
    });
}

#[test]
fn deleting_a_crd_takes_its_objects_and_kind_and_crds_persist() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let config = || EmulatorConfig {
            data_dir: Some(dir.path().to_owned()),
            lro_retry_after_secs: 0,
            ..EmulatorConfig::default()
        };
        let c = Client::start(config()).await;
        let kube = cluster(&c).await;
        assert_eq!(kube.post(CRDS, yaml::document(SNAPSHOT_CLASSES).unwrap()).await.status, 201);
        assert_eq!(kube.post(CRDS, yaml::document(SNAPSHOTS).unwrap()).await.status, 201);
        assert_eq!(kube.post(CLASSES, class("anf", json!("d"), "Delete")).await.status, 201);
        let kept = kube.post(DEFAULT_SNAPSHOTS, snapshot("s")).await.body;
        drop(c);

        // A restart with the data directory keeps the CRDs and their objects.
        let c = Client::start(config()).await;
        let r = c.call("POST", &format!("{AKS_CLUSTER}/listClusterUserCredential"), AKS, None).await;
        let text = kubeconfig(&r.body);
        let kube = Kube {
            http: c.http.clone(),
            server: field(&text, "server").unwrap().to_owned(),
            token: field(&text, "token").unwrap().to_owned(),
        };
        assert_eq!(kube.get(&format!("{DEFAULT_SNAPSHOTS}/s")).await.body, kept);
        assert_eq!(kube.get(&format!("{CLASSES}/anf")).await.status, 200);

        // Deleting the classes' CRD: answered with the CRD marked for deletion, then its
        // objects and kind are gone; the other CRD's are not.
        let r = kube.delete(&format!("{CRDS}/volumesnapshotclasses.snapshot.storage.k8s.io")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["kind"], "CustomResourceDefinition");
        assert!(r.body["metadata"]["deletionTimestamp"].is_string());
        assert_eq!(r.body["metadata"]["finalizers"], json!(["customresourcecleanup.apiextensions.k8s.io"]));
        let r = kube.get(&format!("{CLASSES}/anf")).await;
        assert_eq!(
            (r.status, &r.body["message"]),
            (404, &json!("the server could not find the requested resource"))
        );
        assert_eq!(
            kube.get(&format!("{CRDS}/volumesnapshotclasses.snapshot.storage.k8s.io")).await.status,
            404
        );
        assert_eq!(kube.get(&format!("{DEFAULT_SNAPSHOTS}/s")).await.status, 200);
        // Created again, the kind is served empty.
        assert_eq!(kube.post(CRDS, yaml::document(SNAPSHOT_CLASSES).unwrap()).await.status, 201);
        assert_eq!(kube.get(CLASSES).await.body["items"], json!([]));
    });
}

#[test]
fn a_crds_versions_serve_the_same_objects_whatever_the_storage_version() {
    rt().block_on(async {
        let c = Client::start(EmulatorConfig { lro_retry_after_secs: 0, ..EmulatorConfig::default() }).await;
        let kube = cluster(&c).await;
        let crd = widgets_crd();
        assert_eq!(kube.post(CRDS, crd.clone()).await.status, 201);
        let beta = "/apis/example.com/v1beta1/namespaces/default/widgets";
        let body = json!({ "apiVersion": "example.com/v1beta1", "kind": "Widget", "metadata": { "name": "w" }, "spec": { "size": 1 } });
        let r = kube.post(beta, body).await;
        assert_eq!((r.status, &r.body["apiVersion"]), (201, &json!("example.com/v1beta1")));
        // The storage version moves to v1beta1: the object stays, at both versions.
        let mut moved = crd;
        moved["spec"]["versions"][0]["storage"] = json!(false);
        moved["spec"]["versions"][1]["storage"] = json!(true);
        let r = kube.put("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com", moved).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["status"]["storedVersions"], json!(["v1", "v1beta1"]));
        assert_eq!(r.body["metadata"]["generation"], 2);
        let r = kube.get("/apis/example.com/v1/namespaces/default/widgets/w").await;
        assert_eq!((r.status, &r.body["apiVersion"], &r.body["spec"]["mode"]), (200, &json!("example.com/v1"), &json!("slow")));
        assert_eq!(kube.get(beta).await.body["items"].as_array().unwrap().len(), 1);
        // Discovery: v1 preferred over v1beta1.
        let r = kube.get("/apis/example.com").await;
        assert_eq!(r.body["preferredVersion"]["version"], "v1");
        assert_eq!(r.body["versions"][1]["version"], "v1beta1");
    });
}

// --- The same scenario against the real API server and the emulator.

/// An object without what differs from server to server: uid, resourceVersion, times,
/// namespace, and the order of managedFields entries (by time).
fn comparable(mut v: Value) -> Value {
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for server_set in ["uid", "resourceVersion", "creationTimestamp", "namespace"] {
            meta.remove(server_set);
        }
        if let Some(entries) = meta.get_mut("managedFields").and_then(Value::as_array_mut) {
            for e in entries.iter_mut() {
                e.as_object_mut().unwrap().remove("time");
            }
            // The API server orders entries by their times, which are seconds: two writes in
            // one second on one server and across a second on the other come out in another
            // order. What is compared is the entries, not their order.
            let key = |e: &Value| {
                ["manager", "operation", "subresource"].map(|k| e[k].as_str().unwrap_or_default().to_owned())
            };
            entries.sort_by_key(key);
        }
    }
    v
}

/// A refusal as the scenario records it.
fn refusal(r: Result<Value, Error>) -> Value {
    let e = r.expect_err("the server accepted it");
    let api = e.api().unwrap_or_else(|| panic!("not a Status: {e}"));
    let causes: Vec<Value> = api
        .causes
        .iter()
        .map(|c| json!({ "reason": c.reason, "message": c.message, "field": c.field }))
        .collect();
    json!({ "code": api.code, "reason": api.reason, "message": api.message, "causes": causes })
}

/// The scenario: the snapshot CRDs are installed, `namespace` exists. Returns what each step
/// observed.
/// Fails naming every step at which the emulator answered otherwise than the real server.
#[track_caller]
fn assert_same_answers(real: &[(&'static str, Value)], emulator: &[(&'static str, Value)]) {
    assert_eq!(real.len(), emulator.len(), "the scenarios took different steps");
    let differences: Vec<String> = real
        .iter()
        .zip(emulator)
        .filter(|((_, want), (_, have))| have != want)
        .map(|((step, want), (_, have))| format!("step {step:?}:\n  emulator: {have}\n  real:     {want}"))
        .collect();
    assert!(differences.is_empty(), "the emulator differs from the real server:\n{}", differences.join("\n"));
}

async fn observe(client: &KubeClient, namespace: &str) -> Vec<(&'static str, Value)> {
    let mut seen = Vec::new();
    // Discovery of the CRDs' resources. (`/apis` is not compared: without the aggregator of a
    // whole kube-apiserver, the CRD server alone does not list the CRDs' groups there.)
    let list = client.get("/apis/snapshot.storage.k8s.io/v1").await.unwrap();
    let mut resources: Vec<Value> = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            json!({
                "name": r["name"], "singularName": r["singularName"], "namespaced": r["namespaced"],
                "kind": r["kind"], "shortNames": r["shortNames"], "categories": r["categories"],
            })
        })
        .collect();
    resources.sort_by_key(|r| r["name"].as_str().unwrap().to_owned());
    seen.push(("resources", json!(resources)));

    let classes = resource_path("snapshot.storage.k8s.io/v1", None, "volumesnapshotclasses", None);
    let snapshots = resource_path("snapshot.storage.k8s.io/v1", Some(namespace), "volumesnapshots", None);
    // A required field missing (the schema has CEL rules, which the server then skips).
    let mut no_spec = snapshot("no-spec");
    no_spec.as_object_mut().unwrap().remove("spec");
    seen.push(("required", refusal(client.create(&snapshots, &no_spec).await)));
    let mut no_source = snapshot("no-source");
    no_source["spec"].as_object_mut().unwrap().remove("source");
    seen.push(("required nested", refusal(client.create(&snapshots, &no_source).await)));
    // A wrong type, an unsupported value (a schema without CEL rules).
    seen.push(("type", refusal(client.create(&classes, &class("c1", json!(5), "Delete")).await)));
    seen.push(("enum", refusal(client.create(&classes, &class("c2", json!("d"), "Keep")).await)));
    let mut map_value = class("c3", json!("d"), "Delete");
    map_value["parameters"] = json!({ "k": 1 });
    seen.push(("map value type", refusal(client.create(&classes, &map_value).await)));
    // Pruning of unknown fields, at the top and in a nested object.
    let mut extra = class("pruned", json!("csi.example.com"), "Retain");
    extra["bogus"] = json!({ "x": 1 });
    extra["parameters"] = json!({ "kept": "yes" });
    seen.push(("pruned", comparable(client.create(&classes, &extra).await.unwrap())));
    let mut nested = snapshot("nested");
    nested["spec"]["source"]["bogus"] = json!("x");
    nested["spec"]["bogus"] = json!(1);
    let created = client.create(&snapshots, &nested).await.unwrap();
    seen.push(("pruned nested", comparable(created)));
    // Generation: metadata changes keep it, spec changes move it; the main resource ignores
    // the status, `/status` changes only the status.
    let item = format!("{snapshots}/nested");
    let r = client
        .merge_patch(
            &item,
            &json!({ "metadata": { "labels": { "a": "b" } }, "status": { "readyToUse": true } }),
        )
        .await;
    seen.push(("metadata change", comparable(r.unwrap())));
    let r = client.merge_patch(&item, &json!({ "spec": { "volumeSnapshotClassName": "other" } })).await;
    seen.push(("spec change", comparable(r.unwrap())));
    let r = client
        .merge_patch(
            &format!("{item}/status?fieldManager=controller"),
            &json!({ "spec": { "volumeSnapshotClassName": "x" }, "status": { "readyToUse": true } }),
        )
        .await;
    seen.push(("status change", comparable(r.unwrap())));
    // Server-side apply of a custom resource, its conflict.
    let lanestack = ApplyOptions { field_manager: "lanestack", force: false, dry_run: false };
    let applied = client
        .apply(&format!("{classes}/applied"), &class("applied", json!("d"), "Delete"), &lanestack)
        .await;
    seen.push(("apply", comparable(applied.unwrap())));
    let edit =
        client.merge_patch(&format!("{classes}/applied?fieldManager=edit"), &json!({ "driver": "e" })).await;
    seen.push(("edit", comparable(edit.unwrap())));
    let again = client
        .apply(&format!("{classes}/applied"), &class("applied", json!("d"), "Delete"), &lanestack)
        .await;
    seen.push(("apply conflict", refusal(again)));
    // What the emulator's snapshot controller relies on: a user's apply, a controller's write
    // of the status through `/status`, the same apply again: no conflict, the status kept.
    let owned = format!("{snapshots}/owned");
    let applied = client.apply(&owned, &snapshot("owned"), &lanestack).await;
    seen.push(("apply snapshot", comparable(applied.unwrap())));
    let status = json!({ "status": { "readyToUse": true, "restoreSize": "10Gi", "boundVolumeSnapshotContentName": "snapcontent-1" } });
    let r = client.merge_patch(&format!("{owned}/status?fieldManager=snapshot-controller"), &status).await;
    seen.push(("controller status", comparable(r.unwrap())));
    let again = client.apply(&owned, &snapshot("owned"), &lanestack).await;
    seen.push(("apply over status", comparable(again.unwrap())));
    seen
}

/// The scenario against the real API server (etcd + apiextensions-apiserver, as
/// `lanestack-kube`'s tests start it) and against the emulator: the same results, step by step.
#[test]
fn custom_resources_give_the_real_servers_results() {
    rt().block_on(async {
        let server = ApiServer::start(TokenReviewWebhook::start("unused-token", "unused")).await;
        let real = server.admin();
        install_snapshot_crds(&real, "ml").await;
        let expected = observe(&real, "ml").await;
        drop(server);

        let (_emulator, client) = emulated().await;
        install_snapshot_crds(&client, "default").await;
        let got = observe(&client, "default").await;
        assert_same_answers(&expected, &got);
        // What the real server answered, pinned.
        let step = |name: &str| &expected.iter().find(|(s, _)| *s == name).unwrap().1;
        assert_eq!(
            step("type")["causes"][0]["message"],
            "Invalid value: \"integer\": driver in body must be of type string: \"integer\""
        );
        assert_eq!(step("spec change")["metadata"]["generation"], 2);
        assert!(step("pruned").get("bogus").is_none());
        let kept = step("apply over status");
        assert_eq!(kept["status"]["readyToUse"], true);
        let entries = kept["metadata"]["managedFields"].as_array().unwrap();
        assert!(
            entries.iter().any(|e| e["manager"] == "snapshot-controller" && e["subresource"] == "status")
        );
    });
}

const MPIJOBS: &str =
    include_str!("../../../stacks/lane-detection/manifests/mpi-operator-caa3c47/kubeflow.org_mpijobs.yaml");
const TRIDENT_ORCHESTRATORS: &str = include_str!(
    "../../../stacks/lane-detection/manifests/trident-71dd716/trident.netapp.io_tridentorchestrators_crd_post1.16.yaml"
);

/// A CRD of the tests' own with most of what a structural schema says, served at two versions.
fn widgets_crd() -> Value {
    let schema = json!({
        "type": "object",
        "required": ["spec"],
        "properties": {
            "spec": {
                "type": "object",
                "required": ["size"],
                "properties": {
                    "size": { "type": "integer" },
                    "ratio": { "type": "number" },
                    "enabled": { "type": "boolean", "default": true },
                    "mode": { "type": "string", "enum": ["fast", "slow"], "default": "slow" },
                    "port": { "x-kubernetes-int-or-string": true },
                    "note": { "type": "string", "nullable": true },
                    "tags": { "type": "array", "items": { "type": "string" } },
                    "parts": { "type": "array", "items": {
                        "type": "object", "required": ["name"],
                        "properties": { "name": { "type": "string" }, "count": { "type": "integer", "default": 1 } },
                    } },
                    "labels": { "type": "object", "additionalProperties": { "type": "string" } },
                    "extra": { "type": "object", "additionalProperties": true },
                    "free": { "type": "object", "x-kubernetes-preserve-unknown-fields": true,
                              "properties": { "known": { "type": "integer" } } },
                },
            },
            "status": { "type": "object", "properties": { "phase": { "type": "string" } } },
        },
    });
    let version = |name: &str, storage: bool| {
        json!({ "name": name, "served": true, "storage": storage,
                "schema": { "openAPIV3Schema": schema }, "subresources": { "status": {} } })
    };
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": "widgets.example.com" },
        "spec": {
            "group": "example.com",
            "names": { "kind": "Widget", "plural": "widgets", "shortNames": ["wd"], "categories": ["all"] },
            "scope": "Namespaced",
            "versions": [version("v1", true), version("v1beta1", false)],
        },
    })
}

/// Creates a CRD and waits (bounded, polling without sleeping) until `list` answers.
async fn establish(client: &KubeClient, crd: &Value, list: &str) -> Value {
    let created = client.create(CRDS, crd).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while client.list(list).await.is_err() {
        assert!(std::time::Instant::now() < deadline, "{list} not served within 60 s");
        tokio::task::yield_now().await;
    }
    created
}

/// The second scenario: CRD refusals, a schema's rules one by one, defaults and pruning, the
/// versions of a CRD, and the real MPIJob and TridentOrchestrator CRDs.
async fn observe_schemas(client: &KubeClient, namespace: &str) -> Vec<(&'static str, Value)> {
    let mut seen = Vec::new();
    let good = widgets_crd();
    let mut bad = good.clone();
    bad["metadata"]["name"] = json!("gadgets.example.com");
    seen.push(("crd name", refusal(client.create(CRDS, &bad).await)));
    let mut bad = good.clone();
    bad["spec"]["scope"] = json!("Global");
    seen.push(("crd scope", refusal(client.create(CRDS, &bad).await)));
    let mut bad = good.clone();
    bad["spec"]["group"] = json!("example");
    bad["metadata"]["name"] = json!("widgets.example");
    seen.push(("crd group", refusal(client.create(CRDS, &bad).await)));
    let mut bad = good.clone();
    bad["spec"]["versions"][1].as_object_mut().unwrap().remove("schema");
    seen.push(("crd schema", refusal(client.create(CRDS, &bad).await)));

    let widgets = resource_path("example.com/v1", Some(namespace), "widgets", None);
    let crd = establish(client, &good, &widgets).await;
    seen.push((
        "crd defaults",
        json!({ "names": crd["spec"]["names"], "conversion": crd["spec"]["conversion"] }),
    ));
    let named = |name: &str, spec: Value| json!({ "apiVersion": "example.com/v1", "kind": "Widget", "metadata": { "name": name }, "spec": spec });
    let widget = |spec: Value| named("w", spec);
    let cases: [(&'static str, Value); 9] = [
        ("integer", json!({ "size": "3" })),
        ("number", json!({ "size": 1, "ratio": "x" })),
        ("array item", json!({ "size": 1, "tags": [1] })),
        ("array required", json!({ "size": 1, "parts": [{ "count": 2 }] })),
        ("enum", json!({ "size": 1, "mode": "medium" })),
        ("int-or-string", json!({ "size": 1, "port": 1.5 })),
        ("map value", json!({ "size": 1, "labels": { "a": 1 } })),
        ("preserved known", json!({ "size": 1, "free": { "known": "x" } })),
        ("not nullable", json!({ "size": 1, "ratio": null })),
    ];
    for (i, (name, spec)) in cases.into_iter().enumerate() {
        let outcome = match client.create(&widgets, &named(&format!("case-{i}"), spec)).await {
            Ok(created) => comparable(created),
            Err(e) => refusal(Err(e)),
        };
        seen.push((name, outcome));
    }
    let mut full = widget(json!({
        "size": 2, "ratio": 0.5, "port": "http", "note": null, "enabled": null, "tags": ["a"], "unknown": 1,
        "parts": [{ "name": "p", "unknown": 1 }], "labels": { "k": "v" }, "extra": { "any": { "x": 1 } },
        "free": { "known": 1, "other": { "deep": [1] } },
    }));
    full["status"] = json!({ "phase": "ignored" });
    seen.push(("defaulted and pruned", comparable(client.create(&widgets, &full).await.unwrap())));
    let other_version = resource_path("example.com/v1beta1", Some(namespace), "widgets", Some("w"));
    seen.push(("other version", comparable(client.get(&other_version).await.unwrap())));
    let status = client
        .merge_patch(&format!("{other_version}/status"), &json!({ "status": { "phase": "Ready" } }))
        .await;
    seen.push(("other version status", comparable(status.unwrap())));

    // The real MPIJob CRD: defaults and pruning through a PodTemplate schema.
    let mpijobs = resource_path("kubeflow.org/v2beta1", Some(namespace), "mpijobs", None);
    establish(client, &yaml::document(MPIJOBS).unwrap(), &mpijobs).await;
    let replica = |n: i64| {
        json!({ "replicas": n, "template": {
            "metadata": { "labels": { "app": "train" } },
            "spec": { "containers": [{ "name": "mpi", "image": "mpi:1", "unknownField": 1,
                "resources": { "limits": { "cpu": 1, "memory": "1Gi", "nvidia.com/gpu": 8 } } }] },
        } })
    };
    let job = json!({
        "apiVersion": "kubeflow.org/v2beta1", "kind": "MPIJob", "metadata": { "name": "train" },
        "spec": { "slotsPerWorker": 8, "bogus": true, "mpiReplicaSpecs": { "Launcher": replica(1), "Worker": replica(2) } },
    });
    // (Without managedFields: the emulator keeps lists atomic, the real server tracks the
    // containers by name, `k:{"name":"mpi"}`.)
    let mut created = comparable(client.create(&mpijobs, &job).await.unwrap());
    created["metadata"].as_object_mut().unwrap().remove("managedFields");
    seen.push(("mpijob", created));
    let mut no_replicas = job.clone();
    no_replicas["metadata"]["name"] = json!("none");
    no_replicas["spec"].as_object_mut().unwrap().remove("mpiReplicaSpecs");
    seen.push(("mpijob required", refusal(client.create(&mpijobs, &no_replicas).await)));

    // The real TridentOrchestrator CRD: a schema that keeps everything, a status subresource.
    let orchestrators = resource_path("trident.netapp.io/v1", None, "tridentorchestrators", None);
    establish(client, &yaml::document(TRIDENT_ORCHESTRATORS).unwrap(), &orchestrators).await;
    let torc = json!({
        "apiVersion": "trident.netapp.io/v1", "kind": "TridentOrchestrator", "metadata": { "name": "trident" },
        "spec": { "debug": true, "namespace": "trident", "windows": { "enabled": false } },
        "status": { "status": "Installed" },
        "extra": 1,
    });
    seen.push(("torc", comparable(client.create(&orchestrators, &torc).await.unwrap())));
    seen
}

#[test]
fn schemas_defaults_and_pruning_give_the_real_servers_results() {
    rt().block_on(async {
        let server = ApiServer::start(TokenReviewWebhook::start("unused-token", "unused")).await;
        let expected = observe_schemas(&server.admin(), "ml").await;
        drop(server);

        let (_emulator, client) = emulated().await;
        let got = observe_schemas(&client, "default").await;
        assert_same_answers(&expected, &got);
        let step = |name: &str| &expected.iter().find(|(s, _)| *s == name).unwrap().1;
        assert_eq!(step("defaulted and pruned")["spec"]["mode"], "slow");
        assert_eq!(step("other version")["apiVersion"], "example.com/v1beta1");
    });
}

/// The server-side apply scenario that `lanestack-kube`'s tests run against the real API
/// server on a VolumeSnapshotClass (`kube/tests/it/apply.rs`), here on the same custom resource.
#[test]
fn server_side_apply_of_a_custom_resource_gives_the_real_servers_results() {
    rt().block_on(async {
        let (_emulator, client) = emulated().await;
        install_snapshot_crds(&client, "default").await;
        let subject = super::kube::ssa::Subject {
            path: resource_path("snapshot.storage.k8s.io/v1", None, "volumesnapshotclasses", Some("anf")),
            api_version: "snapshot.storage.k8s.io/v1",
            map: "parameters",
            object: |parameters| {
                json!({
                    "apiVersion": "snapshot.storage.k8s.io/v1",
                    "kind": "VolumeSnapshotClass",
                    "metadata": {"name": "anf", "labels": {"team": "ml"}},
                    "driver": "csi.trident.netapp.io",
                    "deletionPolicy": "Delete",
                    "parameters": parameters,
                })
            },
            value: |text| json!(text),
            also_owned: json!({"f:deletionPolicy": {}, "f:driver": {}}),
        };
        super::kube::ssa::server_side_apply(&client, &subject).await;
    });
}
