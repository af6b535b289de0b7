//! The built-in kinds a platform stack applies (ServiceAccounts, RBAC, Deployments, Services,
//! ConfigMaps, StorageClasses, PersistentVolumeClaims and PersistentVolumes, Jobs) and the
//! controllers of the cluster that a stack waits on: the real bundles of external-snapshotter
//! and Trident (the copies in `stacks/lane-detection/manifests/`, what the platform applies) applied document by document with server-side apply,
//! rollouts, claims bound to provisioned volumes, snapshots taken and restored, Jobs run, and
//! the real server's refusals.

use lanestack_emulator::{EmulatorConfig, KUBERNETES_JOB_FAIL_ANNOTATION};
use lanestack_kube::{resource_path, yaml};
use serde_json::{Value, json};

use super::kube::{Answer, Kube, cluster};
use super::{Client, rt};

const SNAPSHOT_RBAC: &str = include_str!(
    "../../../stacks/lane-detection/manifests/external-snapshotter-afb2f0d/rbac-snapshot-controller.yaml"
);
const SNAPSHOT_SETUP: &str = include_str!(
    "../../../stacks/lane-detection/manifests/external-snapshotter-afb2f0d/setup-snapshot-controller.yaml"
);
const TRIDENT_BUNDLE: &str =
    include_str!("../../../stacks/lane-detection/manifests/trident-71dd716/bundle.yaml");
const SNAPSHOT_CRDS: [&str; 3] = [
    include_str!(
        "../../../kube/tests/data/external-snapshotter-afb2f0d/snapshot.storage.k8s.io_volumesnapshotclasses.yaml"
    ),
    include_str!(
        "../../../kube/tests/data/external-snapshotter-afb2f0d/snapshot.storage.k8s.io_volumesnapshotcontents.yaml"
    ),
    include_str!(
        "../../../kube/tests/data/external-snapshotter-afb2f0d/snapshot.storage.k8s.io_volumesnapshots.yaml"
    ),
];

const CLAIMS: &str = "/api/v1/namespaces/default/persistentvolumeclaims";
const VOLUMES: &str = "/api/v1/persistentvolumes";
const CLASSES: &str = "/apis/storage.k8s.io/v1/storageclasses";
const JOBS: &str = "/apis/batch/v1/namespaces/default/jobs";
const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";
const SNAPSHOTS: &str = "/apis/snapshot.storage.k8s.io/v1/namespaces/default/volumesnapshots";
const CONTENTS: &str = "/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents";
const SNAPSHOT_CLASSES: &str = "/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses";

/// An emulator whose rollouts and Jobs take `polls` reads, and a client of its cluster `k`.
async fn emulated(polls: u32) -> (Client, Kube) {
    let c = Client::start(EmulatorConfig { lro_polls: polls, ..EmulatorConfig::default() }).await;
    let kube = cluster(&c).await;
    (c, kube)
}

/// The path of an object, from its `apiVersion`, `kind` and metadata.
fn path_of(o: &Value) -> String {
    let plural = match o["kind"].as_str().unwrap() {
        "ServiceAccount" => "serviceaccounts",
        "ClusterRole" => "clusterroles",
        "ClusterRoleBinding" => "clusterrolebindings",
        "Role" => "roles",
        "RoleBinding" => "rolebindings",
        "Deployment" => "deployments",
        "Namespace" => "namespaces",
        other => panic!("no plural for {other}"),
    };
    let namespace = o.pointer("/metadata/namespace").and_then(Value::as_str);
    resource_path(o["apiVersion"].as_str().unwrap(), namespace, plural, o["metadata"]["name"].as_str())
}

/// Server-side apply as `lanestack`.
async fn apply(kube: &Kube, path: &str, body: &Value) -> Answer {
    kube.apply(&format!("{path}?fieldManager=lanestack"), body.clone()).await
}

/// The YAML stream's documents, comments and empty documents left out.
fn documents(text: &str) -> Vec<Value> {
    yaml::documents(text).unwrap().into_iter().filter(Value::is_object).collect()
}

fn condition<'a>(o: &'a Value, kind: &str) -> Option<&'a Value> {
    o.pointer("/status/conditions").and_then(Value::as_array)?.iter().find(|c| c["type"] == kind)
}

fn status_manager<'a>(o: &'a Value, manager: &str) -> Option<&'a Value> {
    o["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|e| e["manager"] == manager && e["subresource"] == "status")
}

#[test]
fn the_snapshot_controller_and_trident_bundles_apply_and_roll_out() {
    rt().block_on(async {
        let (_c, kube) = emulated(2).await;
        let trident = json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": "trident" } });
        assert_eq!(apply(&kube, &path_of(&trident), &trident).await.status, 201);
        let mut docs = documents(SNAPSHOT_RBAC);
        docs.extend(documents(SNAPSHOT_SETUP));
        docs.extend(documents(TRIDENT_BUNDLE));
        let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Deployment",
                "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment",
            ]
        );
        let mut versions = Vec::new();
        for d in &docs {
            let r = apply(&kube, &path_of(d), d).await;
            assert_eq!(r.status, 201, "{}: {}", path_of(d), r.body);
            if d["kind"] != "ServiceAccount" {
                // (A ServiceAccount of a name alone sets no field: no entry.)
                assert_eq!(r.body["metadata"]["managedFields"][0]["operation"], "Apply", "{}", r.body);
            }
            versions.push(r.body["metadata"]["resourceVersion"].clone());
        }
        // Applying the same bundles again changes nothing.
        for (d, rv) in docs.iter().zip(&versions) {
            let r = apply(&kube, &path_of(d), d).await;
            assert_eq!(r.status, 200, "{}: {}", path_of(d), r.body);
            if d["kind"] != "Deployment" {
                assert_eq!(&r.body["metadata"]["resourceVersion"], rv, "{} changed", path_of(d));
            }
        }
        // Stored and listed.
        let r = kube.get("/apis/rbac.authorization.k8s.io/v1/clusterroles").await;
        let names: Vec<&str> = r.body["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["snapshot-controller-runner", "trident-operator"]);
        let runner = &r.body["items"][0];
        assert_eq!(runner["rules"][6]["resources"], json!(["volumesnapshots"]));
        let r = kube.get("/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/rolebindings").await;
        assert_eq!(r.body["items"][0]["roleRef"]["name"], "snapshot-controller-leaderelection");
        let r = kube.get("/api/v1/namespaces/trident/serviceaccounts/trident-operator").await;
        assert_eq!((r.status, &r.body["metadata"]["labels"]["app"]), (200, &json!("operator.trident.netapp.io")));
        let r = kube.get("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/trident-operator").await;
        assert_eq!(r.body["subjects"][0]["namespace"], "trident");

        // The snapshot controller's Deployment: defaulted, then rolled out after two reads
        // (GETs or LISTs of it; writes do not count).
        let path = "/apis/apps/v1/namespaces/kube-system/deployments/snapshot-controller";
        let first = kube.get(path).await.body;
        assert_eq!(first["metadata"]["generation"], 1);
        assert_eq!(first["spec"]["revisionHistoryLimit"], 10);
        assert_eq!(first["spec"]["progressDeadlineSeconds"], 600);
        assert_eq!(first["spec"]["strategy"]["rollingUpdate"], json!({ "maxSurge": 0, "maxUnavailable": 1 }));
        let pod = &first["spec"]["template"]["spec"];
        assert_eq!((&pod["restartPolicy"], &pod["dnsPolicy"]), (&json!("Always"), &json!("ClusterFirst")));
        assert_eq!(pod["containers"][0]["terminationMessagePath"], "/dev/termination-log");
        assert!(condition(&first, "Available").is_none(), "not yet: {first}");
        assert!(condition(&kube.get(path).await.body, "Available").is_none());
        let rolled = kube.get(path).await.body;
        let available = condition(&rolled, "Available").unwrap_or_else(|| panic!("rolled out: {rolled}"));
        assert_eq!(available["status"], "True");
        let progressing = condition(&rolled, "Progressing").unwrap();
        assert_eq!(progressing["reason"], "NewReplicaSetAvailable");
        let status = &rolled["status"];
        assert_eq!(
            [&status["replicas"], &status["readyReplicas"], &status["availableReplicas"], &status["updatedReplicas"]],
            [&json!(2); 4]
        );
        assert_eq!(status["observedGeneration"], 1);
        assert!(status_manager(&rolled, "kube-controller-manager").is_some(), "{}", rolled["metadata"]);

        // (A LIST is a read too: the Trident operator's first.)
        let r = kube.get("/apis/apps/v1/deployments").await;
        assert_eq!(r.body["kind"], "DeploymentList");
        assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
        assert!(condition(&r.body["items"][1], "Available").is_none(), "{}", r.body["items"][1]);

        // The Trident operator: Recreate, no rolling update defaulted.
        let trident_path = "/apis/apps/v1/namespaces/trident/deployments/trident-operator";
        let operator = kube.get(trident_path).await.body;
        assert_eq!(operator["spec"]["strategy"], json!({ "type": "Recreate" }));
        assert!(condition(&operator, "Available").is_none(), "the second read");
        let operator = kube.get(trident_path).await.body;
        assert_eq!(condition(&operator, "Available").unwrap()["status"], "True", "the third read");
        assert_eq!(operator["spec"]["template"]["spec"]["containers"][0]["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");

        // A spec change: a new generation, rolled out after two more reads; the applier's
        // re-apply never conflicts with the controller's status.
        let mut scaled = docs[5].clone();
        scaled["spec"]["replicas"] = json!(3);
        let r = apply(&kube, path, &scaled).await;
        assert_eq!((r.status, &r.body["metadata"]["generation"]), (200, &json!(2)), "{}", r.body);
        assert_eq!(r.body["status"]["observedGeneration"], 1, "the old rollout's status stays");
        kube.get(path).await;
        kube.get(path).await;
        let r = kube.get(path).await.body;
        assert_eq!((&r["status"]["observedGeneration"], &r["status"]["readyReplicas"]), (&json!(2), &json!(3)));
    });
}

/// The default StorageClass of the tests.
fn storage_class(name: &str, default: bool, policy: &str) -> Value {
    let mut class = json!({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": { "name": name },
        "provisioner": "disk.csi.azure.com",
        "parameters": { "skuName": "Premium_LRS" },
        "reclaimPolicy": policy,
    });
    if default {
        class["metadata"]["annotations"] = json!({ "storageclass.kubernetes.io/is-default-class": "true" });
    }
    class
}

fn claim(name: &str, size: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": { "name": name },
        "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": size } } },
    })
}

#[test]
fn claims_bind_to_provisioned_volumes_once_their_class_exists() {
    rt().block_on(async {
        let (_c, kube) = emulated(0).await;
        // No class at all: Pending, however often it is read.
        let r = apply(&kube, &format!("{CLAIMS}/data"), &claim("data", "10Gi")).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["status"], json!({ "phase": "Pending" }));
        assert_eq!(r.body["spec"]["volumeMode"], "Filesystem");
        for _ in 0..3 {
            assert_eq!(kube.get(&format!("{CLAIMS}/data")).await.body["status"]["phase"], "Pending");
        }
        assert_eq!(kube.get(VOLUMES).await.body["items"], json!([]));
        let mut missing = claim("other", "1Gi");
        missing["spec"]["storageClassName"] = json!("missing");
        assert_eq!(kube.post(CLAIMS, missing).await.status, 201);
        let mut none = claim("static", "1Gi");
        none["spec"]["storageClassName"] = json!("");
        assert_eq!(kube.post(CLAIMS, none).await.status, 201);

        // The default class appears: the claim without a class gets it and binds.
        let r = apply(&kube, &format!("{CLASSES}/managed-csi"), &storage_class("managed-csi", true, "Delete")).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["volumeBindingMode"], "Immediate");
        let bound = kube.get(&format!("{CLAIMS}/data")).await.body;
        let uid = bound["metadata"]["uid"].as_str().unwrap();
        let volume_name = format!("pvc-{uid}");
        assert_eq!(bound["spec"]["storageClassName"], "managed-csi");
        assert_eq!(bound["spec"]["volumeName"], volume_name);
        assert_eq!(
            bound["status"],
            json!({ "phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": { "storage": "10Gi" } })
        );
        assert_eq!(bound["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"], "yes");
        assert!(status_manager(&bound, "kube-controller-manager").is_some());
        let volume = kube.get(&format!("{VOLUMES}/{volume_name}")).await.body;
        assert_eq!(volume["spec"]["capacity"], json!({ "storage": "10Gi" }));
        assert_eq!(volume["spec"]["claimRef"]["uid"], uid);
        assert_eq!(volume["spec"]["claimRef"]["name"], "data");
        assert_eq!(volume["spec"]["persistentVolumeReclaimPolicy"], "Delete");
        assert_eq!(volume["spec"]["csi"]["driver"], "disk.csi.azure.com");
        assert_eq!(volume["status"]["phase"], "Bound");
        // The others stay Pending: a class that does not exist, no class.
        for name in ["other", "static"] {
            assert_eq!(kube.get(&format!("{CLAIMS}/{name}")).await.body["status"]["phase"], "Pending", "{name}");
        }
        // The user's apply again: no conflict with what the controllers own, nothing changes.
        let r = apply(&kube, &format!("{CLAIMS}/data"), &claim("data", "10Gi")).await;
        assert_eq!((r.status, &r.body["metadata"]["resourceVersion"]), (200, &bound["metadata"]["resourceVersion"]));

        // The spec is immutable but for a larger request.
        let r = kube.merge(&format!("{CLAIMS}/data"), json!({ "spec": { "accessModes": ["ReadWriteMany"] } })).await;
        assert_eq!(r.status, 422);
        assert_eq!(
            r.body["message"],
            "PersistentVolumeClaim \"data\" is invalid: spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"
        );
        let r = kube.merge(&format!("{CLAIMS}/data"), json!({ "spec": { "resources": { "requests": { "storage": "5Gi" } } } })).await;
        assert_eq!(r.status, 422);
        assert_eq!(
            r.body["message"],
            "PersistentVolumeClaim \"data\" is invalid: spec.resources.requests.storage: Forbidden: field can not be less than previous value"
        );
        let r = apply(&kube, &format!("{CLAIMS}/data"), &claim("data", "20Gi")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        // What the real server refuses on create.
        let mut bad = claim("bad", "0");
        bad["spec"].as_object_mut().unwrap().remove("accessModes");
        let r = kube.post(CLAIMS, bad).await;
        assert_eq!(
            r.body["message"],
            "PersistentVolumeClaim \"bad\" is invalid: [spec.accessModes: Required value: at least 1 access mode is required, spec.resources[storage]: Invalid value: \"0\": must be greater than zero]"
        );
        let r = kube.post(CLAIMS, claim("bad", "ten")).await;
        assert_eq!(r.status, 400, "{}", r.body);

        // Deleting the claim deletes its volume (reclaim policy Delete); with Retain, it is Released.
        assert_eq!(kube.delete(&format!("{CLAIMS}/data")).await.status, 200);
        assert_eq!(kube.get(&format!("{VOLUMES}/{volume_name}")).await.status, 404);
        apply(&kube, &format!("{CLASSES}/keep"), &storage_class("keep", false, "Retain")).await;
        let mut kept = claim("kept", "1Gi");
        kept["spec"]["storageClassName"] = json!("keep");
        let uid = kube.post(CLAIMS, kept).await.body["metadata"]["uid"].as_str().unwrap().to_owned();
        assert_eq!(kube.get(&format!("{CLAIMS}/kept")).await.body["status"]["phase"], "Bound");
        kube.delete(&format!("{CLAIMS}/kept")).await;
        let volume = kube.get(&format!("{VOLUMES}/pvc-{uid}")).await;
        assert_eq!((volume.status, &volume.body["status"]["phase"]), (200, &json!("Released")));

        // A StorageClass's provisioner, parameters and reclaim policy are immutable.
        let mut changed = storage_class("keep", false, "Delete");
        changed["parameters"] = json!({ "skuName": "StandardSSD_LRS" });
        let r = kube.put(&format!("{CLASSES}/keep"), changed).await;
        assert_eq!(
            r.body["message"],
            "StorageClass.storage.k8s.io \"keep\" is invalid: [parameters: Forbidden: updates to parameters are forbidden., reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden.]"
        );
        let mut unprovisioned = storage_class("none", false, "Delete");
        unprovisioned.as_object_mut().unwrap().remove("provisioner");
        let r = kube.post(CLASSES, unprovisioned).await;
        assert_eq!(r.body["message"], "StorageClass.storage.k8s.io \"none\" is invalid: provisioner: Required value");
    });
}

#[test]
fn a_wait_for_first_consumer_class_binds_when_a_workload_mounts_the_claim() {
    rt().block_on(async {
        let (_c, kube) = emulated(0).await;
        let mut class = storage_class("managed-csi", true, "Delete");
        class["volumeBindingMode"] = json!("WaitForFirstConsumer");
        assert_eq!(kube.post(CLASSES, class).await.status, 201);
        kube.post(CLAIMS, claim("data", "1Gi")).await;
        assert_eq!(kube.get(&format!("{CLAIMS}/data")).await.body["status"]["phase"], "Pending");
        let job = job("train", json!({ "name": "data", "persistentVolumeClaim": { "claimName": "data" } }));
        assert_eq!(kube.post(JOBS, job).await.status, 201);
        assert_eq!(kube.get(&format!("{CLAIMS}/data")).await.body["status"]["phase"], "Bound");
    });
}

async fn install_snapshot_crds(kube: &Kube) {
    for text in SNAPSHOT_CRDS {
        let r = kube
            .post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", yaml::document(text).unwrap())
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
}

fn volume_snapshot(name: &str, claim: &str) -> Value {
    json!({
        "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
        "metadata": { "name": name },
        "spec": { "source": { "persistentVolumeClaimName": claim } },
    })
}

fn restore(name: &str, size: &str, snapshot: &str) -> Value {
    let mut c = claim(name, size);
    c["spec"]["dataSource"] =
        json!({ "apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": snapshot });
    c
}

#[test]
fn snapshots_of_bound_claims_become_ready_and_restore_into_new_claims() {
    rt().block_on(async {
        let (_c, kube) = emulated(0).await;
        // Without the CRDs there are no snapshots, and a restore waits.
        kube.post(CLASSES, storage_class("managed-csi", true, "Delete")).await;
        assert_eq!(kube.post(CLAIMS, restore("early", "10Gi", "snap")).await.status, 201);
        assert_eq!(kube.get(&format!("{CLAIMS}/early")).await.body["status"]["phase"], "Pending");
        install_snapshot_crds(&kube).await;
        assert_eq!(apply(&kube, &format!("{CLAIMS}/data"), &claim("data", "10Gi")).await.status, 201);

        // No snapshot class yet: not ready, and the error says why.
        let r = apply(&kube, &format!("{SNAPSHOTS}/snap"), &volume_snapshot("snap", "data")).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let waiting = kube.get(&format!("{SNAPSHOTS}/snap")).await.body;
        assert_eq!(waiting["status"]["readyToUse"], false);
        assert_eq!(waiting["status"]["error"]["message"], "cannot find default snapshot class");
        let class = json!({
            "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
            "metadata": { "name": "csi-azuredisk-vsc", "annotations": { "snapshot.storage.kubernetes.io/is-default-class": "true" } },
            "driver": "disk.csi.azure.com", "deletionPolicy": "Delete",
        });
        assert_eq!(kube.post(SNAPSHOT_CLASSES, class).await.status, 201);

        // The default class: the snapshot is taken, its content made, its size the claim's.
        let ready = kube.get(&format!("{SNAPSHOTS}/snap")).await.body;
        let uid = ready["metadata"]["uid"].as_str().unwrap();
        assert_eq!(ready["spec"]["volumeSnapshotClassName"], "csi-azuredisk-vsc");
        assert_eq!(ready["status"]["readyToUse"], true, "{ready}");
        assert_eq!(ready["status"]["restoreSize"], "10Gi");
        assert_eq!(ready["status"]["boundVolumeSnapshotContentName"], format!("snapcontent-{uid}"));
        assert!(ready["status"]["creationTime"].is_string());
        assert!(ready["status"].get("error").is_none(), "{ready}");
        assert!(status_manager(&ready, "snapshot-controller").is_some(), "{}", ready["metadata"]);
        let content = kube.get(&format!("{CONTENTS}/snapcontent-{uid}")).await.body;
        assert_eq!(content["spec"]["volumeSnapshotRef"]["uid"], uid);
        assert_eq!(content["spec"]["driver"], "disk.csi.azure.com");
        let claim_uid = kube.get(&format!("{CLAIMS}/data")).await.body["metadata"]["uid"].as_str().unwrap().to_owned();
        assert_eq!(content["spec"]["source"]["volumeHandle"], format!("pvc-{claim_uid}"));
        assert_eq!(content["status"]["restoreSize"], 10 * 1024 * 1024 * 1024_i64);
        assert_eq!(content["status"]["readyToUse"], true);
        // The user's apply of the same snapshot: nothing to change, no conflict.
        let r = apply(&kube, &format!("{SNAPSHOTS}/snap"), &volume_snapshot("snap", "data")).await;
        assert_eq!((r.status, &r.body["metadata"]["resourceVersion"]), (200, &ready["metadata"]["resourceVersion"]));

        // A snapshot of a claim that does not exist.
        apply(&kube, &format!("{SNAPSHOTS}/ghost"), &volume_snapshot("ghost", "nothing")).await;
        let ghost = kube.get(&format!("{SNAPSHOTS}/ghost")).await.body;
        assert_eq!(ghost["status"]["readyToUse"], false);
        assert!(ghost["status"]["error"]["message"].as_str().unwrap().contains("\"nothing\\\" not found"), "{ghost}");

        // Restores: the early claim binds now; one large enough binds; one smaller than the
        // snapshot and one from a snapshot that does not exist stay Pending.
        assert_eq!(kube.get(&format!("{CLAIMS}/early")).await.body["status"]["phase"], "Bound");
        let r = apply(&kube, &format!("{CLAIMS}/restored"), &restore("restored", "10Gi", "snap")).await;
        assert_eq!(r.body["spec"]["dataSourceRef"], r.body["spec"]["dataSource"]);
        let restored = kube.get(&format!("{CLAIMS}/restored")).await.body;
        assert_eq!(restored["status"]["phase"], "Bound");
        assert_eq!(restored["status"]["capacity"]["storage"], "10Gi");
        for (name, body) in [("small", restore("small", "5Gi", "snap")), ("orphan", restore("orphan", "10Gi", "missing"))] {
            kube.post(CLAIMS, body).await;
            assert_eq!(kube.get(&format!("{CLAIMS}/{name}")).await.body["status"]["phase"], "Pending", "{name}");
        }

        // Deleting the snapshot deletes its content (deletion policy Delete).
        assert_eq!(kube.delete(&format!("{SNAPSHOTS}/snap")).await.status, 200);
        assert_eq!(kube.get(&format!("{CONTENTS}/snapcontent-{uid}")).await.status, 404);
    });
}

/// A Job that runs `train`, mounting `volume` if it is not null.
fn job(name: &str, volume: Value) -> Value {
    let mut job = json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": { "name": name },
        "spec": { "template": { "spec": {
            "restartPolicy": "Never",
            "containers": [{ "name": "train", "image": "ghcr.io/example/train:1.0", "args": ["--epochs", "1"] }],
        } } },
    });
    if !volume.is_null() {
        job["spec"]["template"]["spec"]["volumes"] = json!([volume]);
    }
    job
}

#[test]
fn jobs_run_to_completion_and_the_failure_hook_fails_them() {
    rt().block_on(async {
        let (_c, kube) = emulated(1).await;
        let r = apply(&kube, &format!("{JOBS}/train"), &job("train", Value::Null)).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let spec = &r.body["spec"];
        assert_eq!(
            [&spec["backoffLimit"], &spec["completions"], &spec["parallelism"], &spec["completionMode"]],
            [&json!(6), &json!(1), &json!(1), &json!("NonIndexed")]
        );
        let uid = r.body["metadata"]["uid"].as_str().unwrap();
        assert_eq!(spec["selector"], json!({ "matchLabels": { "batch.kubernetes.io/controller-uid": uid } }));
        assert_eq!(spec["template"]["metadata"]["labels"]["job-name"], "train");
        assert_eq!(r.body["status"], json!({}));
        // Started at once, done after one read.
        let running = kube.get(&format!("{JOBS}/train")).await.body;
        assert_eq!(running["status"]["active"], 1);
        assert!(running["status"]["startTime"].is_string());
        assert!(condition(&running, "Complete").is_none());
        let done = kube.get(&format!("{JOBS}/train")).await.body;
        assert_eq!(done["status"]["succeeded"], 1, "{done}");
        assert!(done["status"].get("active").is_none());
        assert!(done["status"]["completionTime"].is_string());
        for kind in ["SuccessCriteriaMet", "Complete"] {
            assert_eq!(condition(&done, kind).unwrap()["status"], "True", "{kind}");
        }
        assert!(status_manager(&done, "kube-controller-manager").is_some());
        // The same apply again: no conflict, nothing changes.
        let r = apply(&kube, &format!("{JOBS}/train"), &job("train", Value::Null)).await;
        assert_eq!((r.status, &r.body["metadata"]["resourceVersion"]), (200, &done["metadata"]["resourceVersion"]));
        // The template is immutable.
        let mut changed = job("train", Value::Null);
        changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("ghcr.io/example/train:2.0");
        let r = apply(&kube, &format!("{JOBS}/train"), &changed).await;
        assert_eq!(r.status, 422);
        let message = r.body["message"].as_str().unwrap();
        assert!(message.starts_with("Job.batch \"train\" is invalid: spec.template: Invalid value: "), "{message}");
        assert!(message.ends_with(": field is immutable"), "{message}");

        // The emulator's failure hook.
        let mut failing = job("broken", Value::Null);
        failing["metadata"]["annotations"] = json!({ KUBERNETES_JOB_FAIL_ANNOTATION: "true" });
        failing["spec"]["backoffLimit"] = json!(2);
        assert_eq!(kube.post(JOBS, failing).await.status, 201);
        kube.get(&format!("{JOBS}/broken")).await;
        let failed = kube.get(&format!("{JOBS}/broken")).await.body;
        assert_eq!(failed["status"]["failed"], 3, "{failed}");
        let condition = condition(&failed, "Failed").unwrap();
        assert_eq!((&condition["status"], &condition["reason"]), (&json!("True"), &json!("BackoffLimitExceeded")));
        assert!(failed["status"].get("succeeded").is_none());

        // The pod template's restart policy defaults to Always, which a Job refuses.
        let mut always = job("always", Value::Null);
        always["spec"]["template"]["spec"].as_object_mut().unwrap().remove("restartPolicy");
        let r = kube.post(JOBS, always).await;
        assert_eq!(
            r.body["message"],
            "Job.batch \"always\" is invalid: spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""
        );
    });
}

fn deployment(name: &str, selector: &str, label: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": name },
        "spec": {
            "selector": { "matchLabels": { "app": selector } },
            "template": {
                "metadata": { "labels": { "app": label } },
                "spec": { "containers": [{ "name": "web", "image": "nginx" }] },
            },
        },
    })
}

#[test]
fn built_in_kinds_are_validated_defaulted_and_discovered() {
    rt().block_on(async {
        let (_c, kube) = emulated(0).await;
        // A Deployment: defaults, and rolled out at once (no polls).
        let r = apply(&kube, &format!("{DEPLOYMENTS}/web"), &deployment("web", "web", "web")).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["spec"]["replicas"], 1);
        assert_eq!(r.body["spec"]["strategy"], json!({ "type": "RollingUpdate", "rollingUpdate": { "maxSurge": "25%", "maxUnavailable": "25%" } }));
        assert_eq!(r.body["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "Always");
        let web = kube.get(&format!("{DEPLOYMENTS}/web")).await.body;
        assert_eq!(condition(&web, "Available").unwrap()["status"], "True");
        // Selectors.
        let r = kube.post(DEPLOYMENTS, deployment("other", "web", "other")).await;
        assert_eq!(
            r.body["message"],
            "Deployment.apps \"other\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`"
        );
        let mut unselected = deployment("unselected", "x", "x");
        unselected["spec"].as_object_mut().unwrap().remove("selector");
        let r = kube.post(DEPLOYMENTS, unselected).await;
        assert_eq!(r.status, 422);
        assert_eq!(r.body["details"]["causes"][0], json!({ "reason": "FieldValueRequired", "message": "Required value", "field": "spec.selector" }));

        // RBAC: a binding's roleRef cannot change; rules need verbs; names are path segments.
        let binding = |role: &str| json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": { "name": "b" },
            "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role },
            "subjects": [{ "kind": "User", "name": "alice" }],
        });
        let bindings = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings";
        let r = apply(&kube, &format!("{bindings}/b"), &binding("view")).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["subjects"][0]["apiGroup"], "rbac.authorization.k8s.io", "defaulted");
        let r = apply(&kube, &format!("{bindings}/b"), &binding("edit")).await;
        assert_eq!(r.status, 422);
        assert_eq!(
            r.body["message"],
            "ClusterRoleBinding.rbac.authorization.k8s.io \"b\" is invalid: roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"ClusterRole\", Name:\"edit\"}: cannot change roleRef"
        );
        let role = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": { "name": "system:reader" },
            "rules": [{ "apiGroups": [""], "resources": ["pods"] }, { "nonResourceURLs": ["/healthz"], "verbs": ["get"] }],
        });
        let r = kube.post("/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles", role).await;
        assert_eq!(
            r.body["message"],
            "Role.rbac.authorization.k8s.io \"system:reader\" is invalid: [rules[0].verbs: Required value: verbs must contain at least one value, rules[1].nonResourceURLs: Invalid value: []string{\"/healthz\"}: namespaced rules cannot apply to non-resource URLs]"
        );

        // Services: ClusterIP with an address of 10.0.0.0/16, kept by a re-apply.
        let service = json!({
            "apiVersion": "v1", "kind": "Service", "metadata": { "name": "web" },
            "spec": { "selector": { "app": "web" }, "ports": [{ "port": 80 }] },
        });
        let r = apply(&kube, "/api/v1/namespaces/default/services/web", &service).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["spec"]["type"], "ClusterIP");
        assert_eq!(r.body["spec"]["clusterIP"], "10.0.0.11");
        assert_eq!(r.body["spec"]["clusterIPs"], json!(["10.0.0.11"]));
        assert_eq!(r.body["spec"]["ports"][0], json!({ "port": 80, "protocol": "TCP", "targetPort": 80 }));
        let r = apply(&kube, "/api/v1/namespaces/default/services/web", &service).await;
        assert_eq!((r.status, &r.body["spec"]["clusterIP"]), (200, &json!("10.0.0.11")));
        let mut second = service.clone();
        second["metadata"]["name"] = json!("api");
        let r = kube.post("/api/v1/namespaces/default/services", second).await;
        assert_eq!(r.body["spec"]["clusterIP"], "10.0.0.12");
        let mut bad = service.clone();
        bad["metadata"]["name"] = json!("1web");
        let r = kube.post("/api/v1/namespaces/default/services", bad).await;
        assert_eq!(r.status, 422);
        assert!(r.body["message"].as_str().unwrap().contains("a DNS-1035 label must consist of"), "{}", r.body);

        // ConfigMaps.
        let config = json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "train" }, "data": { "epochs": "3" } });
        assert_eq!(apply(&kube, "/api/v1/namespaces/default/configmaps/train", &config).await.status, 201);
        let r = kube.get("/api/v1/namespaces/default/configmaps").await;
        assert_eq!(r.body["items"][0]["data"], json!({ "epochs": "3" }));
        let r = kube.post("/api/v1/namespaces/default/configmaps", json!({ "metadata": { "name": "x" }, "data": { "a/b": "1" } })).await;
        assert_eq!(r.body["details"]["causes"][0]["field"], "data[a/b]");

        // Discovery.
        let r = kube.get("/api/v1").await;
        let names: Vec<&str> = r.body["resources"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "configmaps", "namespaces", "persistentvolumeclaims", "persistentvolumeclaims/status",
                "persistentvolumes", "persistentvolumes/status", "secrets", "serviceaccounts", "services",
                "services/status",
            ]
        );
        let pvc = r.body["resources"].as_array().unwrap().iter().find(|r| r["name"] == "persistentvolumeclaims").unwrap();
        assert_eq!((&pvc["shortNames"], &pvc["namespaced"]), (&json!(["pvc"]), &json!(true)));
        for (path, expected) in [
            ("/apis/apps/v1", vec!["deployments", "deployments/status"]),
            ("/apis/batch/v1", vec!["jobs", "jobs/status"]),
            ("/apis/rbac.authorization.k8s.io/v1", vec!["clusterrolebindings", "clusterroles", "rolebindings", "roles"]),
            ("/apis/storage.k8s.io/v1", vec!["storageclasses"]),
        ] {
            let r = kube.get(path).await;
            let names: Vec<&str> = r.body["resources"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
            assert_eq!(names, expected, "{path}");
        }
        let r = kube.get("/apis/batch").await;
        assert_eq!((&r.body["kind"], &r.body["preferredVersion"]["groupVersion"]), (&json!("APIGroup"), &json!("batch/v1")));
        let r = kube.get("/apis").await;
        let groups: Vec<&str> = r.body["groups"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
        assert_eq!(groups, ["apps", "batch", "rbac.authorization.k8s.io", "storage.k8s.io", "apiextensions.k8s.io"]);
    });
}

#[test]
fn controllers_progress_survives_a_restart_from_the_data_directory() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let config = EmulatorConfig {
            data_dir: Some(dir.path().to_owned()),
            lro_polls: 3,
            ..EmulatorConfig::default()
        };
        let c = Client::start(config.clone()).await;
        let kube = cluster(&c).await;
        kube.post(JOBS, job("train", Value::Null)).await;
        kube.get(&format!("{JOBS}/train")).await;
        kube.get(&format!("{JOBS}/train")).await;
        drop(kube);
        drop(c);
        let c = Client::start(config).await;
        let r = c
            .call("POST", &format!("{}/listClusterUserCredential", super::kube::CLUSTER), super::AKS, None)
            .await;
        let kubeconfig = super::kube::kubeconfig(&r.body);
        let kube = Kube {
            http: c.http.clone(),
            server: super::kube::field(&kubeconfig, "server").unwrap().to_owned(),
            token: super::kube::field(&kubeconfig, "token").unwrap().to_owned(),
        };
        // Three reads in all before it is done: one more after the two before the restart.
        assert!(condition(&kube.get(&format!("{JOBS}/train")).await.body, "Complete").is_none());
        let done = kube.get(&format!("{JOBS}/train")).await.body;
        assert_eq!(condition(&done, "Complete").unwrap()["status"], "True", "{done}");
    });
}
