//! The Kubernetes objects of every emulated cluster, generic over kinds: each object is the
//! JSON the API server returns, keyed by (group-version, plural, namespace, name); the kind
//! ([`Store::kind`]: a built-in, or one of the cluster's CRDs) supplies its rules. One
//! resourceVersion counter for all.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::crd;
use super::fields;
use super::status::{FieldError, KubeError};
use super::types::{self, KindInfo};
use crate::rng::Rng;

/// Where an object lives.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub(crate) struct ObjKey {
    /// A built-in kind's group-version (`v1`); a custom resource's group alone.
    pub(crate) group_version: String,
    pub(crate) plural: String,
    /// Empty for cluster-scoped objects.
    pub(crate) namespace: String,
    pub(crate) name: String,
}

impl ObjKey {
    fn new(kind: &KindInfo, namespace: &str, name: &str) -> ObjKey {
        ObjKey {
            group_version: kind.store_key().to_owned(),
            plural: kind.plural.clone(),
            namespace: if kind.namespaced { namespace.to_owned() } else { String::new() },
            name: name.to_owned(),
        }
    }
}

/// One cluster's objects.
#[derive(Clone, Debug, Default)]
struct Cluster {
    objects: BTreeMap<ObjKey, Value>,
    /// Namespaces being terminated: how many more GETs of each show it before it is gone.
    terminating: BTreeMap<String, u32>,
    /// Objects a controller works on over time (Deployments rolling out, Jobs running), by
    /// uid: how many more reads of each show it unfinished.
    pending: BTreeMap<String, u32>,
}

/// Every cluster's objects.
#[derive(Debug)]
pub(crate) struct Store {
    seed: u64,
    /// The last resourceVersion handed out.
    resource_version: u64,
    /// How many uids were handed out (dry runs included).
    uids: u64,
    clusters: BTreeMap<String, Cluster>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct DiskObject {
    #[serde(flatten)]
    key: ObjKey,
    object: Value,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct DiskCluster {
    key: String,
    objects: Vec<DiskObject>,
    terminating: BTreeMap<String, u32>,
    #[serde(default)]
    pending: BTreeMap<String, u32>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Disk {
    version: u32,
    resource_version: u64,
    uids: u64,
    clusters: Vec<DiskCluster>,
}

/// How a write changes the object.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Op {
    /// POST.
    Create,
    /// PUT.
    Replace,
    /// PATCH, `application/merge-patch+json` (RFC 7386).
    MergePatch,
    /// PATCH, `application/apply-patch+yaml`.
    Apply { force: bool },
}

/// One write request.
pub(crate) struct Write<'a> {
    pub(crate) kind: &'a KindInfo,
    /// A write to the status subresource (`/status`): only `status` changes.
    pub(crate) status: bool,
    pub(crate) namespace: &'a str,
    /// The name in the URL (`None` for a create).
    pub(crate) name: Option<&'a str>,
    pub(crate) op: Op,
    pub(crate) body: Value,
    pub(crate) manager: &'a str,
    pub(crate) dry_run: bool,
    pub(crate) now: &'a str,
}

/// A write's answer: the status (200 or 201), the object, and whether anything was stored.
pub(crate) struct Written {
    pub(crate) status: u16,
    pub(crate) object: Value,
    pub(crate) stored: bool,
}

fn cannot_handle(kind: &KindInfo, why: &str) -> KubeError {
    KubeError::bad_request(format!(
        "{} in version \"{}\" cannot be handled as a {}: {why}",
        kind.kind, kind.group_version, kind.kind
    ))
}

/// RFC 7386 JSON merge patch.
pub(crate) fn merge_patch(target: &Value, patch: &Value) -> Value {
    let Some(p) = patch.as_object() else { return patch.clone() };
    let mut out = target.as_object().cloned().unwrap_or_default();
    for (k, v) in p {
        if v.is_null() {
            out.remove(k);
        } else {
            let merged = merge_patch(out.get(k).unwrap_or(&Value::Null), v);
            out.insert(k.clone(), merged);
        }
    }
    Value::Object(out)
}

fn meta_str<'a>(v: &'a Value, field: &str) -> Option<&'a str> {
    v.get("metadata").and_then(|m| m.get(field)).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn meta_mut(v: &mut Value) -> &mut serde_json::Map<String, Value> {
    if !v.get("metadata").is_some_and(Value::is_object) {
        v["metadata"] = json!({});
    }
    v["metadata"].as_object_mut().unwrap_or_else(|| unreachable!("just set to an object"))
}

/// A stored object as the kind's version serves it. Objects are stored in their kind's storage
/// version; a CRD's versions differ only in `apiVersion` (conversion `None`).
fn served(o: &Value, kind: &KindInfo) -> Value {
    let mut o = o.clone();
    if o.get("apiVersion").and_then(Value::as_str) != Some(&kind.group_version) {
        o["apiVersion"] = json!(kind.group_version);
    }
    o
}

/// The object without the fields a no-op write would change anyway.
fn comparable(v: &Value) -> Value {
    let mut v = v.clone();
    let meta = meta_mut(&mut v);
    meta.remove("resourceVersion");
    meta.remove("managedFields");
    v
}

/// One read of an object a controller works on over time: one fewer to wait for.
fn count_read(pending: &mut BTreeMap<String, u32>, o: &Value) -> bool {
    match meta_str(o, "uid").and_then(|u| pending.get_mut(u)) {
        Some(left) if *left > 0 => {
            *left -= 1;
            true
        }
        _ => false,
    }
}

/// The first address a Service gets in AKS's default service range, 10.0.0.0/16 (10.0.0.1 is
/// the `kubernetes` Service's and 10.0.0.10 kube-dns's on a real cluster).
const FIRST_SERVICE_IP: u32 = 11;

impl Store {
    pub(crate) fn new(seed: u64) -> Store {
        Store { seed, resource_version: 0, uids: 0, clusters: BTreeMap::new() }
    }

    /// Loads what [`Store::to_json`] saved.
    pub(crate) fn load(&mut self, text: &str) -> Result<(), serde_json::Error> {
        let disk: Disk = serde_json::from_str(text)?;
        self.resource_version = disk.resource_version;
        self.uids = disk.uids;
        self.clusters = disk
            .clusters
            .into_iter()
            .map(|c| {
                let objects = c.objects.into_iter().map(|o| (o.key, o.object)).collect();
                (c.key, Cluster { objects, terminating: c.terminating, pending: c.pending })
            })
            .collect();
        Ok(())
    }

    pub(crate) fn to_json(&self) -> String {
        let disk = Disk {
            version: 1,
            resource_version: self.resource_version,
            uids: self.uids,
            clusters: self
                .clusters
                .iter()
                .map(|(key, c)| DiskCluster {
                    key: key.clone(),
                    objects: c
                        .objects
                        .iter()
                        .map(|(k, o)| DiskObject { key: k.clone(), object: o.clone() })
                        .collect(),
                    terminating: c.terminating.clone(),
                    pending: c.pending.clone(),
                })
                .collect(),
        };
        serde_json::to_string_pretty(&disk).unwrap_or_default()
    }

    /// Forgets a cluster's objects (the cluster was deleted).
    pub(crate) fn drop_cluster(&mut self, cluster: &str) {
        self.clusters.remove(cluster);
    }

    /// Keeps only the clusters `keep` says still exist.
    pub(crate) fn retain_clusters(&mut self, keep: impl Fn(&str) -> bool) {
        self.clusters.retain(|k, _| keep(k));
    }

    /// The current resourceVersion, as lists report it.
    pub(crate) fn resource_version(&self) -> String {
        self.resource_version.to_string()
    }

    fn new_uid(&mut self) -> String {
        self.uids += 1;
        Rng::new(self.seed ^ self.uids.wrapping_mul(0x9e37_79b9_7f4a_7c15)).uuid()
    }

    /// Makes sure the cluster exists, with its initial namespaces; true when it was just made.
    pub(crate) fn ensure_cluster(&mut self, cluster: &str, now: &str) -> bool {
        if self.clusters.contains_key(cluster) {
            return false;
        }
        self.clusters.insert(cluster.to_owned(), Cluster::default());
        let Some(kind) = types::builtin("v1", "namespaces") else { return true };
        for ns in types::INITIAL_NAMESPACES {
            let body = json!({ "metadata": { "name": ns } });
            let w = Write {
                kind: &kind,
                status: false,
                namespace: "",
                name: None,
                op: Op::Create,
                body,
                manager: "kube-apiserver",
                dry_run: false,
                now,
            };
            let _ = self.write(cluster, w);
        }
        true
    }

    /// The cluster's CRDs.
    pub(crate) fn crds(&self, cluster: &str) -> Vec<&Value> {
        let Some(cl) = self.clusters.get(cluster) else { return Vec::new() };
        cl.objects
            .iter()
            .filter(|(k, _)| k.group_version == crd::GROUP_VERSION && k.plural == crd::PLURAL)
            .map(|(_, o)| o)
            .collect()
    }

    /// The kind served at `group_version` and `plural` in the cluster: a built-in one, else
    /// one of its CRDs'.
    pub(crate) fn kind(&self, cluster: &str, group_version: &str, plural: &str) -> Option<KindInfo> {
        if let Some(k) = types::builtin(group_version, plural) {
            return Some(k);
        }
        let (group, version) = group_version.split_once('/')?;
        self.crds(cluster)
            .into_iter()
            .find(|c| {
                c.pointer("/spec/group") == Some(&json!(group))
                    && c.pointer("/spec/names/plural") == Some(&json!(plural))
            })
            .and_then(|c| crd::kind(c, version))
    }

    /// The objects of `kind` in one namespace or (`None`) in all, as served.
    pub(super) fn objects(&self, cluster: &str, kind: &KindInfo, namespace: Option<&str>) -> Vec<Value> {
        let Some(cl) = self.clusters.get(cluster) else { return Vec::new() };
        cl.objects
            .iter()
            .filter(|(k, _)| k.group_version == kind.store_key() && k.plural == kind.plural)
            .filter(|(k, _)| namespace.is_none_or(|ns| k.namespace == ns))
            .map(|(_, o)| served(o, kind))
            .collect()
    }

    /// One object, as served, without counting a read.
    pub(super) fn object(
        &self,
        cluster: &str,
        kind: &KindInfo,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        let cl = self.clusters.get(cluster)?;
        cl.objects.get(&ObjKey::new(kind, namespace, name)).map(|o| served(o, kind))
    }

    /// The countdowns of the objects the cluster's controllers work on over time.
    pub(super) fn pending(&mut self, cluster: &str) -> Option<&mut BTreeMap<String, u32>> {
        self.clusters.get_mut(cluster).map(|c| &mut c.pending)
    }

    /// Admission that needs the cluster's other objects: a new Service's cluster IP, the
    /// lowest free address of 10.0.0.0/16 from 10.0.0.11, and its IP families.
    fn admit(&self, cluster: &str, kind: &KindInfo, new: &mut Value) {
        if kind.group_version != "v1" || kind.plural != "services" {
            return;
        }
        if new.pointer("/spec/type").and_then(Value::as_str) == Some("ExternalName") {
            return;
        }
        let ip = match new.pointer("/spec/clusterIP").and_then(Value::as_str).filter(|ip| !ip.is_empty()) {
            Some(ip) => ip.to_owned(),
            None => {
                let taken: Vec<String> = self
                    .objects(cluster, kind, None)
                    .iter()
                    .filter_map(|s| s.pointer("/spec/clusterIP").and_then(Value::as_str).map(str::to_owned))
                    .collect();
                let free = (FIRST_SERVICE_IP..0xffff)
                    .map(|n| format!("10.0.{}.{}", n >> 8, n & 0xff))
                    .find(|ip| !taken.contains(ip));
                free.unwrap_or_default()
            }
        };
        let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) else { return };
        spec.insert("clusterIP".into(), json!(ip));
        spec.entry("clusterIPs").or_insert_with(|| json!([ip]));
        spec.entry("ipFamilies").or_insert_with(|| json!(["IPv4"]));
        spec.entry("ipFamilyPolicy").or_insert_with(|| json!("SingleStack"));
    }

    fn cluster(&mut self, cluster: &str) -> Result<&mut Cluster, KubeError> {
        self.clusters.get_mut(cluster).ok_or_else(KubeError::no_route)
    }

    /// GET one object. A terminating namespace's GETs count down its termination; the one
    /// after the last finds it gone, its content with it. The flag says whether anything changed.
    pub(crate) fn get(
        &mut self,
        cluster: &str,
        kind: &KindInfo,
        namespace: &str,
        name: &str,
    ) -> Result<(Value, bool), KubeError> {
        let cl = self.cluster(cluster)?;
        let mut changed = false;
        if kind.plural == "namespaces" && kind.group_version == "v1" {
            match cl.terminating.get_mut(name) {
                Some(0) => {
                    cl.terminating.remove(name);
                    cl.objects.retain(|k, _| {
                        k.namespace != name
                            && !(k.plural == "namespaces" && k.group_version == "v1" && k.name == name)
                    });
                    return Err(KubeError::not_found(&kind.resource(), name));
                }
                Some(left) => {
                    *left -= 1;
                    changed = true;
                }
                None => {}
            }
        }
        match cl.objects.get(&ObjKey::new(kind, namespace, name)) {
            Some(o) => {
                changed |= count_read(&mut cl.pending, o);
                Ok((served(o, kind), changed))
            }
            None => Err(KubeError::not_found(&kind.resource(), name)),
        }
    }

    /// LIST, in one namespace or (`None`) across all, filtered by `keep`. Listing an object
    /// counts as a read of it for its controller. The flag says whether anything changed.
    pub(crate) fn list(
        &mut self,
        cluster: &str,
        kind: &KindInfo,
        namespace: Option<&str>,
        keep: impl Fn(&Value) -> bool,
    ) -> Result<(Value, bool), KubeError> {
        let rv = self.resource_version();
        let cl = self.cluster(cluster)?;
        let listed: Vec<&Value> = cl
            .objects
            .iter()
            .filter(|(k, _)| k.group_version == kind.store_key() && k.plural == kind.plural)
            .filter(|(k, _)| namespace.is_none_or(|ns| k.namespace == ns))
            .filter(|(_, o)| keep(o))
            .map(|(_, o)| o)
            .collect();
        let mut changed = false;
        for o in &listed {
            changed |= count_read(&mut cl.pending, o);
        }
        let items: Vec<Value> = listed
            .into_iter()
            .map(|o| {
                // Items of a list carry no kind or apiVersion.
                let mut o = o.clone();
                if let Some(obj) = o.as_object_mut() {
                    obj.remove("kind");
                    obj.remove("apiVersion");
                }
                o
            })
            .collect();
        let list = json!({
            "kind": format!("{}List", kind.kind),
            "apiVersion": kind.group_version,
            "metadata": { "resourceVersion": rv },
            "items": items,
        });
        Ok((list, changed))
    }

    /// POST, PUT or PATCH.
    pub(crate) fn write(&mut self, cluster: &str, w: Write<'_>) -> Result<Written, KubeError> {
        let kind = w.kind;
        let mut body = w.body;
        // The fields this endpoint does not write (the strategy's reset fields): `status` on the
        // main resource of a kind with a status subresource, all but `status` on `/status`.
        if let Some(obj) = body.as_object_mut() {
            if w.status {
                obj.retain(|k, _| matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status"));
                if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.retain(|k, _| matches!(k.as_str(), "name" | "namespace" | "resourceVersion"));
                }
            } else if kind.has_status() {
                obj.remove("status");
            }
        }
        if !body.is_object() {
            let what = match &body {
                Value::Array(_) => "array",
                Value::String(_) => "string",
                Value::Number(_) => "number",
                Value::Bool(_) => "bool",
                _ => "null",
            };
            return Err(cannot_handle(
                kind,
                &format!(
                    "json: cannot unmarshal {what} into Go value of type {}.{}",
                    kind.group_version, kind.kind
                ),
            ));
        }
        if w.op != Op::MergePatch {
            match body.get("kind").and_then(Value::as_str) {
                Some(k) if k != kind.kind => {
                    return Err(cannot_handle(
                        kind,
                        &format!(
                            "the object provided is unrecognized (must be of type {}): kind {k:?}",
                            kind.kind
                        ),
                    ));
                }
                None if matches!(w.op, Op::Apply { .. }) => {
                    return Err(KubeError::bad_request(format!("Object 'Kind' is missing in '{body}'")));
                }
                _ => {}
            }
            match body.get("apiVersion").and_then(Value::as_str) {
                Some(v) if v != kind.group_version => {
                    return Err(KubeError::bad_request(format!(
                        "the API version in the data ({v}) does not match the expected API version ({})",
                        kind.group_version
                    )));
                }
                None if matches!(w.op, Op::Apply { .. }) => {
                    return Err(KubeError::bad_request(format!(
                        "Object 'apiVersion' is missing in '{body}'"
                    )));
                }
                _ => {}
            }
            kind.decode(&body).map_err(|e| cannot_handle(kind, &e))?;
            if kind.namespaced
                && let Some(ns) = meta_str(&body, "namespace")
                && ns != w.namespace
            {
                return Err(KubeError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        // The name.
        let name = match w.name {
            Some(url_name) => {
                if let Some(n) = meta_str(&body, "name")
                    && n != url_name
                {
                    return Err(KubeError::bad_request(format!(
                        "the name of the object ({n}) does not match the name on the URL ({url_name})"
                    )));
                }
                url_name.to_owned()
            }
            None => match (meta_str(&body, "name"), meta_str(&body, "generateName")) {
                (Some(n), _) => n.to_owned(),
                (None, Some(prefix)) => {
                    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
                    let mut rng = Rng::new(self.seed ^ self.uids ^ 0x6e61_6d65);
                    let suffix: String = (0..5)
                        .map(|_| ALPHABET[(rng.next_u64() % ALPHABET.len() as u64) as usize] as char)
                        .collect();
                    format!("{prefix}{suffix}")
                }
                (None, None) => {
                    return Err(KubeError::invalid(
                        &kind.qualified_kind(),
                        "",
                        &[FieldError::required("metadata.name", "name or generateName is required")],
                    ));
                }
            },
        };
        let key = ObjKey::new(kind, w.namespace, &name);
        let (existing, ns_state) = {
            let cl = self.cluster(cluster)?;
            let ns_key = ObjKey {
                group_version: "v1".into(),
                plural: "namespaces".into(),
                namespace: String::new(),
                name: w.namespace.to_owned(),
            };
            let ns_state =
                cl.objects.get(&ns_key).map(|ns| ns.pointer("/metadata/deletionTimestamp").is_some());
            (cl.objects.get(&key).map(|o| served(o, kind)), ns_state)
        };
        let creating = existing.is_none();
        if creating && (w.status || matches!(w.op, Op::Replace | Op::MergePatch)) {
            return Err(KubeError::not_found(&kind.resource(), &name));
        }
        if creating && kind.namespaced {
            match ns_state {
                None => return Err(KubeError::not_found("namespaces", w.namespace)),
                Some(true) => {
                    let mut e = KubeError::forbidden(
                        &kind.resource(),
                        &name,
                        &format!(
                            "unable to create new content in namespace {} because it is being terminated",
                            w.namespace
                        ),
                    );
                    if let Some(d) = e.details.as_mut() {
                        d["causes"] = json!([{
                            "reason": "NamespaceTerminating",
                            "message": format!("namespace {} is being terminated", w.namespace),
                            "field": "metadata.namespace",
                        }]);
                    }
                    return Err(e);
                }
                Some(false) => {}
            }
        }
        // Optimistic concurrency: a resourceVersion sent must be the current one.
        if let (Some(old), Some(sent)) = (&existing, meta_str(&body, "resourceVersion"))
            && w.op != Op::Create
            && meta_str(old, "resourceVersion") != Some(sent)
        {
            return Err(KubeError::modified(&kind.resource(), &name));
        }
        let subresource = if w.status { "status" } else { "" };
        let old_view = existing.clone().unwrap_or(Value::Null);
        let entries = existing.as_ref().map(fields::entries).unwrap_or_default();
        let mut applied_entries = None;
        let mut new = match w.op {
            Op::Create | Op::Replace => body,
            Op::MergePatch => {
                let patched = merge_patch(&old_view, &body);
                kind.decode(&patched).map_err(|e| cannot_handle(kind, &e))?;
                patched
            }
            Op::Apply { force } => {
                let mut applied = body;
                kind.convert(&mut applied);
                let (merged, entries) = fields::apply(
                    &old_view,
                    entries.clone(),
                    &applied,
                    fields::Manager {
                        name: w.manager,
                        api_version: &kind.group_version,
                        subresource,
                        objects_owned: kind.is_custom(),
                    },
                    force,
                    w.now,
                )?;
                applied_entries = Some(entries);
                merged
            }
        };
        kind.convert(&mut new);
        kind.default(&mut new, &name);
        {
            let meta = meta_mut(&mut new);
            meta.insert("name".into(), json!(name));
            if kind.namespaced {
                meta.insert("namespace".into(), json!(w.namespace));
            } else {
                meta.remove("namespace");
            }
            for server_set in [
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "resourceVersion",
                "selfLink",
                "managedFields",
                "generation",
            ] {
                meta.remove(server_set);
            }
        }
        let uid = match existing.as_ref().and_then(|o| meta_str(o, "uid")) {
            Some(u) => u.to_owned(),
            None => self.new_uid(),
        };
        meta_mut(&mut new).insert("uid".into(), json!(uid));
        let before_strategy = new.clone();
        // A POST is a create whatever is stored under its name: it is validated as one, and
        // refused as AlreadyExists only then (as the API server's create handler does).
        let rules_old = if w.op == Op::Create { None } else { existing.as_ref() };
        match (rules_old, w.status) {
            (Some(old), true) => {
                // The status strategy: the object stays as it was but for its status.
                let status = new.get("status").cloned();
                new = old.clone();
                if let Some(obj) = new.as_object_mut() {
                    match status {
                        Some(s) => obj.insert("status".into(), s),
                        None => obj.remove("status"),
                    };
                }
                let meta = meta_mut(&mut new);
                meta.remove("resourceVersion");
                meta.remove("managedFields");
            }
            _ => kind.prepare(&mut new, rules_old, w.now),
        }
        if rules_old.is_none() {
            self.admit(cluster, kind, &mut new);
        }
        {
            let meta = meta_mut(&mut new);
            meta.insert("uid".into(), json!(uid));
            let created_at =
                existing.as_ref().and_then(|o| meta_str(o, "creationTimestamp")).unwrap_or(w.now);
            meta.insert("creationTimestamp".into(), json!(created_at));
            if let Some(deleting) = existing.as_ref().and_then(|o| meta_str(o, "deletionTimestamp")) {
                meta.insert("deletionTimestamp".into(), json!(deleting));
            }
        }
        let entries = match applied_entries {
            Some(e) => e,
            None => {
                let mut tracked_new = if creating { before_strategy } else { new.clone() };
                if kind.has_status() && !w.status {
                    // What the controllers write to the status is not this manager's.
                    if let (Some(obj), Some(status)) =
                        (tracked_new.as_object_mut(), existing.as_ref().and_then(|o| o.get("status")))
                    {
                        obj.insert("status".into(), status.clone());
                    } else if let Some(obj) = tracked_new.as_object_mut() {
                        obj.remove("status");
                    }
                }
                let manager = fields::Manager {
                    name: w.manager,
                    api_version: &kind.group_version,
                    subresource,
                    objects_owned: kind.is_custom(),
                };
                fields::update(entries.clone(), &old_view, &tracked_new, manager, w.now)
            }
        };
        fields::store(&mut new, entries);
        let errors = kind.validate(&new, rules_old);
        if !errors.is_empty() {
            return Err(KubeError::invalid(&kind.qualified_kind(), &name, &errors));
        }
        if w.op == Op::Create && !creating {
            return Err(KubeError::already_exists(&kind.resource(), &name));
        }
        if let Some(obj) = new.as_object_mut() {
            obj.insert("kind".into(), json!(kind.kind));
            obj.insert("apiVersion".into(), json!(kind.group_version));
        }
        if let Some(old) = &existing {
            // A write that changes nothing stores nothing and keeps the resourceVersion.
            let same_fields = fields::same_ownership(&fields::entries(old), &fields::entries(&new));
            if same_fields && comparable(old) == comparable(&new) {
                return Ok(Written { status: 200, object: old.clone(), stored: false });
            }
        }
        let status = if creating { 201 } else { 200 };
        if w.dry_run {
            if let Some(rv) = existing.as_ref().and_then(|o| meta_str(o, "resourceVersion")) {
                meta_mut(&mut new).insert("resourceVersion".into(), json!(rv));
            }
            return Ok(Written { status, object: new, stored: false });
        }
        self.resource_version += 1;
        meta_mut(&mut new).insert("resourceVersion".into(), json!(self.resource_version.to_string()));
        let cl = self.cluster(cluster)?;
        let mut stored = new.clone();
        stored["apiVersion"] = json!(kind.storage_version);
        cl.objects.insert(key, stored);
        Ok(Written { status, object: new, stored: true })
    }

    /// DELETE. A namespace is marked terminating (answered with the object), and goes away
    /// with its content after `polls` more GETs of it; other objects go at once (answered
    /// with a `Status`). `options` is the request's DeleteOptions, if any.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn delete(
        &mut self,
        cluster: &str,
        kind: &KindInfo,
        namespace: &str,
        name: &str,
        options: &Value,
        dry_run: bool,
        now: &str,
        polls: u32,
    ) -> Result<(Value, bool), KubeError> {
        let key = ObjKey::new(kind, namespace, name);
        let cl = self.cluster(cluster)?;
        let Some(mut object) = cl.objects.get(&key).map(|o| served(o, kind)) else {
            return Err(KubeError::not_found(&kind.resource(), name));
        };
        let uid = meta_str(&object, "uid").unwrap_or_default().to_owned();
        let rv = meta_str(&object, "resourceVersion").unwrap_or_default().to_owned();
        if let Some(want) = options.pointer("/preconditions/uid").and_then(Value::as_str)
            && want != uid
        {
            return Err(KubeError::conflict(
                &kind.resource(),
                name,
                &format!("Precondition failed: UID in precondition: {want}, UID in object meta: {uid}"),
            ));
        }
        if let Some(want) = options.pointer("/preconditions/resourceVersion").and_then(Value::as_str)
            && want != rv
        {
            return Err(KubeError::conflict(
                &kind.resource(),
                name,
                &format!(
                    "the ResourceVersion in the precondition ({want}) does not match the ResourceVersion in record ({rv}). The object might have been modified"
                ),
            ));
        }
        if kind.plural == "namespaces" && kind.group_version == "v1" {
            if types::PROTECTED_NAMESPACES.contains(&name) {
                return Err(KubeError::forbidden(
                    &kind.resource(),
                    name,
                    "this namespace may not be deleted",
                ));
            }
            if cl.terminating.contains_key(name) {
                return Err(KubeError::conflict(
                    &kind.resource(),
                    name,
                    "The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.",
                ));
            }
            meta_mut(&mut object).insert("deletionTimestamp".into(), json!(now));
            object["status"] = json!({ "phase": "Terminating" });
            if dry_run {
                return Ok((object, false));
            }
            cl.terminating.insert(name.to_owned(), polls);
            self.resource_version += 1;
            meta_mut(&mut object).insert("resourceVersion".into(), json!(self.resource_version.to_string()));
            let cl = self.cluster(cluster)?;
            cl.objects.insert(key, object.clone());
            return Ok((object, true));
        }
        if kind.group_version == crd::GROUP_VERSION && kind.plural == crd::PLURAL {
            // The CRD goes with its objects at once (the real server finalizes it in the
            // background); the answer is the CRD as the deletion marks it.
            meta_mut(&mut object).insert("deletionTimestamp".into(), json!(now));
            meta_mut(&mut object)
                .insert("finalizers".into(), json!(["customresourcecleanup.apiextensions.k8s.io"]));
            if let Some(conditions) = object.pointer_mut("/status/conditions").and_then(Value::as_array_mut) {
                conditions.push(json!({
                    "type": "Terminating", "status": "True", "lastTransitionTime": now,
                    "reason": "InstanceDeletionInProgress", "message": "CustomResource deletion is in progress",
                }));
            }
            if !dry_run {
                let group = object.pointer("/spec/group").and_then(Value::as_str).unwrap_or_default();
                let plural = object.pointer("/spec/names/plural").and_then(Value::as_str).unwrap_or_default();
                cl.objects.retain(|k, _| !(k.plural == plural && k.group_version == group));
                cl.objects.remove(&key);
                self.resource_version += 1;
                meta_mut(&mut object)
                    .insert("resourceVersion".into(), json!(self.resource_version.to_string()));
            }
            return Ok((object, !dry_run));
        }
        if !dry_run {
            cl.objects.remove(&key);
        }
        let mut details = json!({ "name": name, "kind": kind.plural, "uid": uid });
        if !kind.group().is_empty() {
            details["group"] = json!(kind.group());
        }
        let status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": details,
        });
        Ok((status, !dry_run))
    }
}
