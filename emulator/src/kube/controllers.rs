//! The controllers of an AKS cluster that a platform stack waits on, deterministic and without
//! threads or clocks: [`Store::reconcile`] runs before every request to the cluster's API and
//! does what is due, each write going through the store like a client's (validation,
//! resourceVersion, `managedFields` under the controller's name, status through the status
//! subresource, so that a user's server-side apply of the spec never conflicts with it).
//!
//! - Deployments (`kube-controller-manager`): a rollout ends after `lro_polls` reads (GET or
//!   LIST) of the Deployment: every replica ready, available and updated, `observedGeneration`,
//!   `Available` and `Progressing` (`NewReplicaSetAvailable`) `True`. A spec change starts another.
//! - Jobs (`kube-controller-manager`): started at once (`startTime`, `active`), done after
//!   `lro_polls` reads: `succeeded`, `completionTime`, `SuccessCriteriaMet` and `Complete`
//!   (Kubernetes 1.31's conditions). The emulator-only annotation [`FAIL_ANNOTATION`]
//!   `"true"` makes the Job fail instead: `failed` = `backoffLimit + 1`, `FailureTarget` and
//!   `Failed` with reason `BackoffLimitExceeded`.
//! - PersistentVolumeClaims (`kube-controller-manager` binds, `csi-provisioner` provisions):
//!   a claim whose StorageClass exists (named, or the default class, which a claim without a
//!   class is given, as `RetroactiveDefaultStorageClass` does) gets a PersistentVolume
//!   `pvc-<uid>` of the requested size with the class's reclaim policy, `spec.volumeName`, the
//!   binding annotations and `status` `Bound`. A class with `WaitForFirstConsumer` waits for a
//!   Deployment or Job of the namespace that mounts the claim. A claim restored from a
//!   VolumeSnapshot (`dataSource`) waits for the snapshot to be ready and binds only when it
//!   asks at least the snapshot's `restoreSize`; one cloned from a claim waits for that claim
//!   to be bound. A volume whose claim is gone is deleted (reclaim policy `Delete`) or
//!   `Released`.
//! - VolumeSnapshots (`snapshot-controller`, `csi-snapshotter` for the content), when the
//!   external-snapshotter CRDs are installed: a snapshot of a bound claim with an existing
//!   VolumeSnapshotClass (named, or the default one, then written into its spec) gets a
//!   VolumeSnapshotContent `snapcontent-<uid>` and `readyToUse: true` with the claim's capacity
//!   as `restoreSize`; otherwise `readyToUse: false` and an `error` naming what is missing. A
//!   content whose snapshot is gone is deleted when its deletion policy is `Delete`.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::kinds::quantity;
use super::store::{Op, Store, Write};
use super::types::{self, KindInfo};

/// The annotation that makes a Job fail (`"true"`): an emulator-only hook for tests, which a
/// real cluster ignores (it is an ordinary annotation there). The Job fails when its run ends
/// (after `lro_polls` reads), as if every pod had failed: `failed` = `backoffLimit + 1`,
/// conditions `FailureTarget` and `Failed` with reason `BackoffLimitExceeded`.
pub const FAIL_ANNOTATION: &str = "emulator.lanestack.dev/fail";

const CONTROLLER_MANAGER: &str = "kube-controller-manager";
const PROVISIONER: &str = "csi-provisioner";
const SNAPSHOT_CONTROLLER: &str = "snapshot-controller";
const SNAPSHOTTER: &str = "csi-snapshotter";
const SNAPSHOT_GROUP: &str = "snapshot.storage.k8s.io";
const SNAPSHOT_VERSION: &str = "snapshot.storage.k8s.io/v1";

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

fn builtin(group_version: &str, plural: &str) -> KindInfo {
    types::builtin(group_version, plural).unwrap_or_else(|| unreachable!("{plural} is a built-in kind"))
}

/// A condition, `True`, as the controllers write them.
fn condition(kind: &str, reason: &str, message: &str, now: &str) -> Value {
    json!({
        "type": kind, "status": "True", "lastTransitionTime": now,
        "reason": reason, "message": message,
    })
}

/// A controller's write; whether it stored anything. A write the API refuses is not done (as
/// a controller would retry it, the next reconcile tries again).
struct Writer<'a> {
    cluster: &'a str,
    now: &'a str,
}

impl Writer<'_> {
    #[allow(clippy::too_many_arguments)]
    fn write(
        &self,
        store: &mut Store,
        kind: &KindInfo,
        namespace: &str,
        name: Option<&str>,
        op: Op,
        body: Value,
        manager: &str,
        status: bool,
    ) -> bool {
        let w = Write { kind, status, namespace, name, op, body, manager, dry_run: false, now: self.now };
        store.write(self.cluster, w).is_ok_and(|w| w.stored)
    }

    fn create(
        &self,
        store: &mut Store,
        kind: &KindInfo,
        namespace: &str,
        body: Value,
        manager: &str,
    ) -> bool {
        self.write(store, kind, namespace, None, Op::Create, body, manager, false)
    }

    /// A merge patch of the main resource.
    fn patch(&self, store: &mut Store, kind: &KindInfo, o: &Value, body: Value, manager: &str) -> bool {
        let (ns, name) = (text(o, "/metadata/namespace"), text(o, "/metadata/name"));
        self.write(store, kind, ns, Some(name), Op::MergePatch, body, manager, false)
    }

    /// The whole status, through the status subresource.
    fn status(&self, store: &mut Store, kind: &KindInfo, o: &Value, status: Value, manager: &str) -> bool {
        let (ns, name) = (text(o, "/metadata/namespace"), text(o, "/metadata/name"));
        let body = json!({ "status": status });
        self.write(store, kind, ns, Some(name), Op::Replace, body, manager, true)
    }
}

impl Store {
    /// Runs the cluster's controllers until nothing more is due; whether anything changed.
    /// `polls` is how many reads a rollout or a Job's run takes.
    pub(crate) fn reconcile(&mut self, cluster: &str, now: &str, polls: u32) -> bool {
        let w = Writer { cluster, now };
        let mut changed = false;
        // A few rounds, so that what one controller did (a claim bound, a snapshot ready) is
        // seen by the others in the same request.
        for _ in 0..4 {
            let round = [
                reclaim_volumes(self, &w),
                bind_claims(self, &w),
                take_snapshots(self, &w),
                roll_out(self, &w, polls),
                run_jobs(self, &w, polls),
            ];
            if !round.contains(&true) {
                break;
            }
            changed = true;
        }
        changed
    }
}

/// Whether the work on `o` is due: its countdown, started at `polls` the first time, has
/// reached 0 (reads count it down). `changed` is set when the countdown starts.
fn due(store: &mut Store, w: &Writer<'_>, o: &Value, polls: u32, changed: &mut bool) -> bool {
    let uid = text(o, "/metadata/uid").to_owned();
    let Some(pending) = store.pending(w.cluster) else { return false };
    match pending.get(&uid) {
        Some(left) => *left == 0,
        None => {
            pending.insert(uid, polls);
            *changed = true;
            polls == 0
        }
    }
}

fn done(store: &mut Store, w: &Writer<'_>, o: &Value) {
    if let Some(pending) = store.pending(w.cluster) {
        pending.remove(text(o, "/metadata/uid"));
    }
}

fn roll_out(store: &mut Store, w: &Writer<'_>, polls: u32) -> bool {
    let kind = builtin("apps/v1", "deployments");
    let mut changed = false;
    for d in store.objects(w.cluster, &kind, None) {
        let generation = d.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1);
        if d.pointer("/status/observedGeneration").and_then(Value::as_i64) == Some(generation)
            || !due(store, w, &d, polls, &mut changed)
        {
            continue;
        }
        let replicas = d.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
        let mut status = json!({ "observedGeneration": generation });
        if replicas > 0 {
            for field in ["replicas", "updatedReplicas", "readyReplicas", "availableReplicas"] {
                status[field] = json!(replicas);
            }
        }
        let name = text(&d, "/metadata/name");
        let since = |t: &str| {
            d.pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|cs| cs.iter().find(|c| c["type"] == t && c["status"] == "True"))
                .and_then(|c| c.get("lastTransitionTime").cloned())
                .unwrap_or_else(|| json!(w.now))
        };
        let mut available =
            condition("Available", "MinimumReplicasAvailable", "Deployment has minimum availability.", w.now);
        available["lastUpdateTime"] = json!(w.now);
        available["lastTransitionTime"] = since("Available");
        let message = format!("ReplicaSet \"{name}-{}\" has successfully progressed.", template_hash(&d));
        let mut progressing = condition("Progressing", "NewReplicaSetAvailable", &message, w.now);
        progressing["lastUpdateTime"] = json!(w.now);
        progressing["lastTransitionTime"] = since("Progressing");
        status["conditions"] = json!([available, progressing]);
        changed |= w.status(store, &kind, &d, status, CONTROLLER_MANAGER);
        done(store, w, &d);
    }
    changed
}

/// The ReplicaSet's `pod-template-hash` (10 characters from FNV-1a of the template, as the
/// real one is 10 characters of a hash of it).
fn template_hash(d: &Value) -> String {
    let template = d.pointer("/spec/template").map(Value::to_string).unwrap_or_default();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in template.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..10).map(|i| ALPHABET[((h >> (i * 6)) % ALPHABET.len() as u64) as usize] as char).collect()
}

fn run_jobs(store: &mut Store, w: &Writer<'_>, polls: u32) -> bool {
    let kind = builtin("batch/v1", "jobs");
    let mut changed = false;
    for j in store.objects(w.cluster, &kind, None) {
        let finished = j
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|cs| cs.iter().any(|c| matches!(c["type"].as_str(), Some("Complete" | "Failed"))));
        if finished || j.pointer("/spec/suspend") == Some(&json!(true)) {
            continue;
        }
        let spec_int = |field: &str, default: i64| {
            j.pointer(&format!("/spec/{field}")).and_then(Value::as_i64).unwrap_or(default)
        };
        let mut status = j.get("status").cloned().filter(Value::is_object).unwrap_or_else(|| json!({}));
        let mut write = false;
        if status.get("startTime").is_none() {
            let completions = spec_int("completions", 1);
            status["startTime"] = json!(w.now);
            status["active"] = json!(spec_int("parallelism", 1).min(completions.max(1)));
            status["ready"] = json!(0);
            status["terminating"] = json!(0);
            status["uncountedTerminatedPods"] = json!({});
            write = true;
        }
        if due(store, w, &j, polls, &mut changed) {
            if let Some(s) = status.as_object_mut() {
                s.remove("active");
            }
            if text(&j, &format!("/metadata/annotations/{}", FAIL_ANNOTATION.replace('/', "~1"))) == "true" {
                status["failed"] = json!(spec_int("backoffLimit", 6) + 1);
                let message = "Job has reached the specified backoff limit";
                status["conditions"] = json!([
                    condition("FailureTarget", "BackoffLimitExceeded", message, w.now),
                    condition("Failed", "BackoffLimitExceeded", message, w.now),
                ]);
            } else {
                status["succeeded"] = json!(spec_int("completions", 1).max(1));
                status["completionTime"] = json!(w.now);
                let message = "Reached expected number of succeeded pods";
                status["conditions"] = json!([
                    condition("SuccessCriteriaMet", "CompletionsReached", message, w.now),
                    condition("Complete", "CompletionsReached", message, w.now),
                ]);
            }
            for c in status["conditions"].as_array_mut().into_iter().flatten() {
                c["lastProbeTime"] = json!(w.now);
            }
            write = true;
            done(store, w, &j);
        }
        if write {
            changed |= w.status(store, &kind, &j, status, CONTROLLER_MANAGER);
        }
    }
    changed
}

/// The cluster's default StorageClass or VolumeSnapshotClass: the one annotated so.
fn default_class(store: &Store, w: &Writer<'_>, kind: &KindInfo, annotation: &str) -> Option<Value> {
    let pointer = format!("/metadata/annotations/{}", annotation.replace('/', "~1"));
    store.objects(w.cluster, kind, None).into_iter().find(|c| text(c, &pointer) == "true")
}

/// Whether a Deployment or Job of the namespace mounts the claim (a `WaitForFirstConsumer`
/// class's trigger; the emulator has no pods).
fn consumed(store: &Store, w: &Writer<'_>, namespace: &str, claim: &str) -> bool {
    [builtin("apps/v1", "deployments"), builtin("batch/v1", "jobs")].iter().any(|kind| {
        store.objects(w.cluster, kind, Some(namespace)).iter().any(|o| {
            o.pointer("/spec/template/spec/volumes")
                .and_then(Value::as_array)
                .is_some_and(|vs| vs.iter().any(|v| text(v, "/persistentVolumeClaim/claimName") == claim))
        })
    })
}

/// Whether a claim's data source, if any, lets it be provisioned now.
fn source_ready(store: &Store, w: &Writer<'_>, claim: &Value) -> bool {
    let Some(source) = claim.pointer("/spec/dataSource").filter(|s| s.is_object()) else { return true };
    let namespace = text(claim, "/metadata/namespace");
    let name = text(source, "/name");
    match (text(source, "/apiGroup"), text(source, "/kind")) {
        (SNAPSHOT_GROUP, "VolumeSnapshot") => {
            let Some(kind) = store.kind(w.cluster, SNAPSHOT_VERSION, "volumesnapshots") else { return false };
            let Some(snapshot) = store.object(w.cluster, &kind, namespace, name) else { return false };
            let requested = claim.pointer("/spec/resources/requests/storage").and_then(quantity);
            let restore = snapshot.pointer("/status/restoreSize").and_then(quantity);
            snapshot.pointer("/status/readyToUse") == Some(&json!(true))
                && matches!((requested, restore), (Some(r), Some(s)) if r >= s)
        }
        ("", "PersistentVolumeClaim") => {
            let kind = builtin("v1", "persistentvolumeclaims");
            store
                .object(w.cluster, &kind, namespace, name)
                .is_some_and(|c| text(&c, "/status/phase") == "Bound")
        }
        // Populators the emulator does not know: never ready.
        _ => false,
    }
}

fn bind_claims(store: &mut Store, w: &Writer<'_>) -> bool {
    let claims = builtin("v1", "persistentvolumeclaims");
    let volumes = builtin("v1", "persistentvolumes");
    let classes = builtin("storage.k8s.io/v1", "storageclasses");
    let mut changed = false;
    for claim in store.objects(w.cluster, &claims, None) {
        if text(&claim, "/status/phase") == "Bound" || claim.pointer("/metadata/deletionTimestamp").is_some()
        {
            continue;
        }
        let class = match claim.pointer("/spec/storageClassName") {
            Some(Value::String(name)) if name.is_empty() => continue,
            Some(Value::String(name)) => store.object(w.cluster, &classes, "", name),
            _ => {
                let Some(class) =
                    default_class(store, w, &classes, "storageclass.kubernetes.io/is-default-class")
                else {
                    continue;
                };
                let name = text(&class, "/metadata/name");
                let body = json!({ "spec": { "storageClassName": name } });
                changed |= w.patch(store, &claims, &claim, body, CONTROLLER_MANAGER);
                Some(class)
            }
        };
        let Some(class) = class else { continue };
        let (namespace, name, uid) = (
            text(&claim, "/metadata/namespace"),
            text(&claim, "/metadata/name"),
            text(&claim, "/metadata/uid"),
        );
        if text(&class, "/volumeBindingMode") == "WaitForFirstConsumer"
            && !consumed(store, w, namespace, name)
        {
            continue;
        }
        if !source_ready(store, w, &claim) {
            continue;
        }
        let provisioner = text(&class, "/provisioner");
        let size = claim.pointer("/spec/resources/requests/storage").cloned().unwrap_or(Value::Null);
        let volume_name = format!("pvc-{uid}");
        let mut csi = json!({ "driver": provisioner, "volumeHandle": volume_name });
        if let Some(parameters) = class.get("parameters").filter(|p| p.is_object()) {
            csi["volumeAttributes"] = parameters.clone();
        }
        let mut spec = json!({
            "accessModes": claim.pointer("/spec/accessModes").cloned().unwrap_or_else(|| json!([])),
            "capacity": { "storage": size },
            "claimRef": {
                "apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": namespace, "name": name,
                "uid": uid, "resourceVersion": text(&claim, "/metadata/resourceVersion"),
            },
            "csi": csi,
            "persistentVolumeReclaimPolicy": text(&class, "/reclaimPolicy"),
            "storageClassName": text(&class, "/metadata/name"),
            "volumeMode": text(&claim, "/spec/volumeMode"),
        });
        if let Some(options) = class.get("mountOptions") {
            spec["mountOptions"] = options.clone();
        }
        let volume = json!({
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": { "name": volume_name, "annotations": { "pv.kubernetes.io/provisioned-by": provisioner } },
            "spec": spec,
        });
        changed |= w.create(store, &volumes, "", volume, PROVISIONER);
        let Some(volume) = store.object(w.cluster, &volumes, "", &volume_name) else { continue };
        changed |= w.status(store, &volumes, &volume, json!({ "phase": "Bound" }), CONTROLLER_MANAGER);
        let bind = json!({
            "metadata": { "annotations": {
                "pv.kubernetes.io/bind-completed": "yes",
                "pv.kubernetes.io/bound-by-controller": "yes",
                "volume.beta.kubernetes.io/storage-provisioner": provisioner,
                "volume.kubernetes.io/storage-provisioner": provisioner,
            } },
            "spec": { "volumeName": volume_name },
        });
        changed |= w.patch(store, &claims, &claim, bind, CONTROLLER_MANAGER);
        let Some(claim) = store.object(w.cluster, &claims, namespace, name) else { continue };
        let status = json!({
            "phase": "Bound",
            "accessModes": claim.pointer("/spec/accessModes").cloned().unwrap_or_else(|| json!([])),
            "capacity": { "storage": size },
        });
        changed |= w.status(store, &claims, &claim, status, CONTROLLER_MANAGER);
    }
    changed
}

/// Volumes whose claim is gone: deleted (`Delete`) or `Released`.
fn reclaim_volumes(store: &mut Store, w: &Writer<'_>) -> bool {
    let claims = builtin("v1", "persistentvolumeclaims");
    let volumes = builtin("v1", "persistentvolumes");
    let mut changed = false;
    for volume in store.objects(w.cluster, &volumes, None) {
        let uid = text(&volume, "/spec/claimRef/uid");
        if uid.is_empty() {
            continue;
        }
        let (namespace, name) =
            (text(&volume, "/spec/claimRef/namespace"), text(&volume, "/spec/claimRef/name"));
        let claim = store.object(w.cluster, &claims, namespace, name);
        if claim.is_some_and(|c| text(&c, "/metadata/uid") == uid) {
            continue;
        }
        let volume_name = text(&volume, "/metadata/name");
        if text(&volume, "/spec/persistentVolumeReclaimPolicy") == "Delete" {
            changed |=
                store.delete(w.cluster, &volumes, "", volume_name, &Value::Null, false, w.now, 0).is_ok();
        } else if text(&volume, "/status/phase") != "Released" {
            changed |= w.status(store, &volumes, &volume, json!({ "phase": "Released" }), CONTROLLER_MANAGER);
        }
    }
    changed
}

fn take_snapshots(store: &mut Store, w: &Writer<'_>) -> bool {
    let Some(snapshots) = store.kind(w.cluster, SNAPSHOT_VERSION, "volumesnapshots") else { return false };
    let Some(contents) = store.kind(w.cluster, SNAPSHOT_VERSION, "volumesnapshotcontents") else {
        return false;
    };
    let classes = store.kind(w.cluster, SNAPSHOT_VERSION, "volumesnapshotclasses");
    let claims = builtin("v1", "persistentvolumeclaims");
    let volumes = builtin("v1", "persistentvolumes");
    let mut changed = false;
    // Contents whose snapshot is gone.
    for content in store.objects(w.cluster, &contents, None) {
        let uid = text(&content, "/spec/volumeSnapshotRef/uid");
        let (namespace, name) = (
            text(&content, "/spec/volumeSnapshotRef/namespace"),
            text(&content, "/spec/volumeSnapshotRef/name"),
        );
        let snapshot = store.object(w.cluster, &snapshots, namespace, name);
        if uid.is_empty() || snapshot.is_some_and(|s| text(&s, "/metadata/uid") == uid) {
            continue;
        }
        if text(&content, "/spec/deletionPolicy") == "Delete" {
            let content_name = text(&content, "/metadata/name");
            changed |=
                store.delete(w.cluster, &contents, "", content_name, &Value::Null, false, w.now, 0).is_ok();
        }
    }
    for snapshot in store.objects(w.cluster, &snapshots, None) {
        if snapshot.pointer("/status/readyToUse") == Some(&json!(true))
            || snapshot.pointer("/metadata/deletionTimestamp").is_some()
        {
            continue;
        }
        let claim_name = text(&snapshot, "/spec/source/persistentVolumeClaimName");
        if claim_name.is_empty() {
            // A pre-provisioned snapshot (`volumeSnapshotContentName`): not emulated.
            continue;
        }
        let namespace = text(&snapshot, "/metadata/namespace");
        let class =
            match (snapshot.pointer("/spec/volumeSnapshotClassName").and_then(Value::as_str), &classes) {
                (Some(name), Some(kind)) => store.object(w.cluster, kind, "", name).ok_or_else(|| {
                    format!("volumesnapshotclasses.snapshot.storage.k8s.io \"{name}\" not found")
                }),
                (Some(name), None) => {
                    Err(format!("volumesnapshotclasses.snapshot.storage.k8s.io \"{name}\" not found"))
                }
                (None, kind) => kind
                    .as_ref()
                    .and_then(|k| {
                        default_class(store, w, k, "snapshot.storage.kubernetes.io/is-default-class")
                    })
                    .ok_or_else(|| "cannot find default snapshot class".to_owned()),
            };
        let claim = store.object(w.cluster, &claims, namespace, claim_name);
        let ready = class.and_then(|class| match &claim {
            None => Err(format!("failed to retrieve PVC {claim_name} from the lister: \"persistentvolumeclaim \\\"{claim_name}\\\" not found\"")),
            Some(c) if text(c, "/status/phase") != "Bound" => {
                Err(format!("the PVC {claim_name} is not yet bound to a PV, will not attempt to take a snapshot"))
            }
            Some(c) => Ok((class, c.clone())),
        });
        let (class, claim) = match ready {
            Err(message) => {
                if text(&snapshot, "/status/error/message") != message {
                    let status =
                        json!({ "readyToUse": false, "error": { "message": message, "time": w.now } });
                    changed |= w.status(store, &snapshots, &snapshot, status, SNAPSHOT_CONTROLLER);
                }
                continue;
            }
            Ok(found) => found,
        };
        let class_name = text(&class, "/metadata/name");
        if snapshot.pointer("/spec/volumeSnapshotClassName").is_none() {
            let body = json!({ "spec": { "volumeSnapshotClassName": class_name } });
            changed |= w.patch(store, &snapshots, &snapshot, body, SNAPSHOT_CONTROLLER);
        }
        let (name, uid) = (text(&snapshot, "/metadata/name"), text(&snapshot, "/metadata/uid"));
        let content_name = format!("snapcontent-{}", uid);
        let volume = store.object(w.cluster, &volumes, "", text(&claim, "/spec/volumeName"));
        let handle =
            volume.as_ref().map_or(text(&claim, "/spec/volumeName"), |v| text(v, "/spec/csi/volumeHandle"));
        let content = json!({
            "apiVersion": SNAPSHOT_VERSION, "kind": "VolumeSnapshotContent",
            "metadata": { "name": content_name },
            "spec": {
                "deletionPolicy": text(&class, "/deletionPolicy"),
                "driver": text(&class, "/driver"),
                "source": { "volumeHandle": handle },
                "volumeSnapshotClassName": class_name,
                "volumeSnapshotRef": {
                    "apiVersion": SNAPSHOT_VERSION, "kind": "VolumeSnapshot", "namespace": namespace,
                    "name": name, "uid": uid, "resourceVersion": text(&snapshot, "/metadata/resourceVersion"),
                },
            },
        });
        changed |= w.create(store, &contents, "", content, SNAPSHOT_CONTROLLER);
        let Some(content) = store.object(w.cluster, &contents, "", &content_name) else { continue };
        let size = claim.pointer("/status/capacity/storage").cloned().unwrap_or(Value::Null);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64);
        let content_status = json!({
            "creationTime": nanos,
            "readyToUse": true,
            "restoreSize": quantity(&size).map_or(0, |b| b as i64),
            "snapshotHandle": format!("snapshot-{uid}"),
        });
        if content.get("status").is_none() {
            changed |= w.status(store, &contents, &content, content_status, SNAPSHOTTER);
        }
        let Some(snapshot) = store.object(w.cluster, &snapshots, namespace, name) else { continue };
        let status = json!({
            "boundVolumeSnapshotContentName": content_name,
            "creationTime": w.now,
            "readyToUse": true,
            "restoreSize": size,
        });
        changed |= w.status(store, &snapshots, &snapshot, status, SNAPSHOT_CONTROLLER);
    }
    changed
}
