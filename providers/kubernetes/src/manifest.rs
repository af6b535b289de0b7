//! `kubernetes_manifest`: any object — a CRD, a custom resource, a ClusterRole — given as one
//! YAML or JSON document, like Terraform's `kubernetes_manifest` and `kubectl apply
//! --server-side`.
//!
//! The manifest is applied as it is, by server-side apply with field manager `lanestack`; its
//! kind's collection is found by discovery at apply time (a CRD created by the same apply is
//! served by then: a CRD's apply waits until it is `Established`). Planning needs no IO.
//!
//! A `wait` block ([`crate::wait`]) makes the apply wait until the object says its work is
//! done (a Job complete, a claim bound).
//!
//! State keeps the manifest's text. Reading an object back projects the live object onto what
//! lanestack applied — the manifest's own fields, and the fields `managedFields` says lanestack
//! owns — so what the server or controllers add (status, defaults, others' labels) is not a
//! difference, and a field someone else changed is: the state's manifest becomes the live
//! values of those fields, and the plan diffs the two documents field by field.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use lanestack_kube::{ApplyOptions, Client, Error as KubeError};
use lanestack_model::{
    AttrPath, AttrType, Attribute, Block, ErrorKind, Nesting, Normalize, PlanResponse, ProviderError,
    ResourceSchema, Value,
};
use serde_json::{Map, Value as Json};

use crate::owned::FIELD_MANAGER;

/// The resource type's name.
pub const TYPE_NAME: &str = "kubernetes_manifest";

/// How long an apply waits for a kind to be served (a CRD just created) or a CRD to be
/// established, and a delete for an object with finalizers to go.
const WAIT: Duration = Duration::from_secs(120);

/// The schema of `kubernetes_manifest`.
pub fn schema() -> ResourceSchema {
    ResourceSchema::new(
        "Any Kubernetes object, as one YAML or JSON document, applied with field manager lanestack.",
        Block::new()
            .attr(
                "manifest",
                Attribute::required(AttrType::String).normalize(Normalize::Yaml).describe(
                    "The object: one YAML or JSON document with apiVersion, kind and metadata.name \
                     (file(\"crd.yaml\") reads one from a file).",
                ),
            )
            .attr(
                "id",
                Attribute::computed(AttrType::String)
                    .describe("apiVersion=...,kind=...,namespace=...,name=... (known at plan time)."),
            )
            .attr(
                "uid",
                Attribute::computed(AttrType::String).describe("The object's UID, set by the server."),
            )
            .block("wait", Nesting::Single, crate::wait::block()),
    )
}

/// Who a manifest says the object is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// `v1` or `group/version`.
    pub api_version: String,
    /// `ClusterRole`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, when the manifest gives one.
    pub namespace: Option<String>,
}

impl Identity {
    /// The API group (empty for the core group).
    pub fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map_or("", |(g, _)| g)
    }

    /// Terraform's form: `apiVersion=v1,kind=Secret,namespace=ml,name=token`.
    pub fn id(&self) -> String {
        match &self.namespace {
            Some(ns) => format!(
                "apiVersion={},kind={},namespace={ns},name={}",
                self.api_version, self.kind, self.name
            ),
            None => format!("apiVersion={},kind={},name={}", self.api_version, self.kind, self.name),
        }
    }

    /// The same object, whatever the version it is read at.
    fn same_object(&self, other: &Identity) -> bool {
        self.group() == other.group()
            && self.kind == other.kind
            && self.name == other.name
            && self.namespace == other.namespace
    }

    fn is_crd(&self) -> bool {
        self.group() == "apiextensions.k8s.io" && self.kind == "CustomResourceDefinition"
    }
}

/// The object and its identity; an error says what the document lacks.
pub fn parse(text: &str) -> Result<(Json, Identity), String> {
    let object = lanestack_kube::yaml::document(text)
        .map_err(|e| format!("the manifest is not one YAML document: {e}"))?;
    if !object.is_object() {
        return Err(
            "the manifest must be an object (a mapping), with apiVersion, kind and metadata".to_owned()
        );
    }
    let text_at = |pointer: &str| object.pointer(pointer).and_then(Json::as_str).filter(|s| !s.is_empty());
    let missing = |what: &str| format!("the manifest has no {what}");
    let api_version = text_at("/apiVersion").ok_or_else(|| missing("apiVersion"))?.to_owned();
    let kind = text_at("/kind").ok_or_else(|| missing("kind"))?.to_owned();
    let name = text_at("/metadata/name")
        .ok_or_else(|| {
            missing("metadata.name (generateName is not supported: the name is the object's identity)")
        })?
        .to_owned();
    let namespace = text_at("/metadata/namespace").map(str::to_owned);
    if kind.ends_with("List") {
        return Err(format!("{kind}: a list is several objects; declare one kubernetes_manifest per object"));
    }
    Ok((object, Identity { api_version, kind, name, namespace }))
}

/// Problems with the configuration found without IO.
pub fn validate(config: &Value) -> Vec<(AttrPath, String)> {
    match config.get(&AttrPath::attr("manifest")).and_then(Value::as_str) {
        Some(text) => match parse(text) {
            // A manifest is shown in plans; a Secret's data must never be.
            Ok((_, identity)) if identity.group().is_empty() && identity.kind == "Secret" => vec![(
                AttrPath::attr("manifest"),
                "a Secret's data would be shown in plans as part of its manifest: declare it with \
                 kubernetes_secret, whose data is never shown"
                    .to_owned(),
            )],
            Ok(_) => Vec::new(),
            Err(e) => vec![(AttrPath::attr("manifest"), e)],
        },
        None => Vec::new(),
    }
}

/// The facts: replaced when the manifest names another object (group, kind, name or
/// namespace), or changes a field the API server never lets an update change
/// (`immutable_fields`); a version change within the group is an update.
pub fn plan(prior: Option<&Value>, config: &Value) -> PlanResponse {
    let manifest = config.get(&AttrPath::attr("manifest")).cloned().unwrap_or(Value::Null);
    let parsed = manifest.as_str().and_then(|t| parse(t).ok());
    let now = parsed.as_ref().map(|(_, id)| id.clone());
    let was = prior
        .and_then(|p| p.get(&AttrPath::attr("manifest")))
        .and_then(Value::as_str)
        .and_then(|t| parse(t).ok());
    let mut requires_replace = Vec::new();
    if let (Some((was_object, was)), Some((now_object, now))) = (&was, &parsed)
        && (!was.same_object(now) || changes_immutable(now, was_object, now_object))
    {
        requires_replace.push(AttrPath::attr("manifest"));
    }
    let keep = prior.filter(|_| requires_replace.is_empty());
    let uid = keep.and_then(|p| p.get(&AttrPath::attr("uid"))).cloned().unwrap_or(Value::Unknown);
    let id = now.as_ref().map_or(Value::Unknown, |i| Value::from(i.id()));
    let wait = config.get(&AttrPath::attr("wait")).cloned().unwrap_or(Value::Null);
    PlanResponse {
        planned_state: Value::object([("manifest", manifest), ("id", id), ("uid", uid), ("wait", wait)]),
        requires_replace,
    }
}

/// The fields of a kind that the API server refuses to change in an update ("field is
/// immutable"), as JSON pointers; `None` for a claim, whose whole spec is immutable but for its
/// storage request (which may grow) and its volume attributes class.
fn immutable_fields(id: &Identity) -> Option<&'static [&'static str]> {
    let fields: &'static [&'static str] = match (id.group(), id.kind.as_str()) {
        ("batch", "Job") => &["/spec/template", "/spec/selector", "/spec/completionMode"],
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet") => &["/spec/selector"],
        ("storage.k8s.io", "StorageClass") => {
            &["/provisioner", "/parameters", "/reclaimPolicy", "/volumeBindingMode"]
        }
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => &["/roleRef"],
        ("snapshot.storage.k8s.io", "VolumeSnapshot") => &["/spec/source"],
        ("", "PersistentVolumeClaim") => return None,
        _ => &[],
    };
    Some(fields)
}

/// Whether the change from `was` to `now` (the stack's manifests of one object) touches a field
/// that cannot be updated: such a change is a replacement, not an update the server would refuse.
fn changes_immutable(id: &Identity, was: &Json, now: &Json) -> bool {
    match immutable_fields(id) {
        Some(fields) => fields.iter().any(|f| was.pointer(f) != now.pointer(f)),
        None => {
            let spec = |object: &Json| {
                let mut spec = object.get("spec").cloned().unwrap_or(Json::Null);
                if let Some(fields) = spec.as_object_mut() {
                    fields.remove("volumeAttributesClassName");
                    if let Some(Json::Object(resources)) = fields.get_mut("resources")
                        && let Some(Json::Object(requests)) = resources.get_mut("requests")
                    {
                        requests.remove("storage");
                    }
                }
                spec
            };
            spec(was) != spec(now)
        }
    }
}

/// The kinds whose deletion destroys data: a claim or volume and what is stored on it, a
/// snapshot, a namespace and everything in it, a CRD and every object of its kind.
const DATA_KINDS: [&str; 6] = [
    "PersistentVolumeClaim",
    "PersistentVolume",
    "VolumeSnapshot",
    "VolumeSnapshotContent",
    "Namespace",
    "CustomResourceDefinition",
];

/// Whether the manifest of `state` is an object whose deletion destroys data, so that plans
/// flag its deletion or replacement as a reviewer must see it.
pub fn holds_data(state: &Value) -> bool {
    state
        .get(&AttrPath::attr("manifest"))
        .and_then(Value::as_str)
        .and_then(|text| parse(text).ok())
        .is_some_and(|(_, identity)| DATA_KINDS.contains(&identity.kind.as_str()))
}

/// Discovery answers, by (apiVersion, kind): the collection's plural and whether it is
/// namespaced.
#[derive(Debug, Default)]
pub struct Discovery {
    cache: Mutex<HashMap<(String, String), (String, bool)>>,
}

impl Discovery {
    /// The plural and scope of `identity`'s kind; `None` when the server does not serve it.
    async fn find(
        &self,
        client: &Client,
        identity: &Identity,
    ) -> Result<Option<(String, bool)>, ProviderError> {
        let key = (identity.api_version.clone(), identity.kind.clone());
        if let Some(hit) = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key) {
            return Ok(Some(hit.clone()));
        }
        let path = if identity.api_version.contains('/') {
            format!("/apis/{}", identity.api_version)
        } else {
            format!("/api/{}", identity.api_version)
        };
        let list = match client.get(&path).await {
            Ok(list) => list,
            Err(KubeError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(crate::from_kube(&e)),
        };
        let found = list["resources"].as_array().into_iter().flatten().find(|r| {
            r["kind"] == identity.kind.as_str() && r["name"].as_str().is_some_and(|n| !n.contains('/'))
        });
        let Some(found) = found else { return Ok(None) };
        let answer = (found["name"].as_str().unwrap_or_default().to_owned(), found["namespaced"] == true);
        self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key, answer.clone());
        Ok(Some(answer))
    }

    /// Forgets everything learnt (the provider now talks to another cluster).
    pub fn clear(&self) {
        self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    }

    /// Forgets what was learnt about a kind (its CRD may be gone or changed).
    fn forget(&self, identity: &Identity) {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&(identity.api_version.clone(), identity.kind.clone()));
    }

    /// The object's path; `None` when its kind is not served.
    async fn path(&self, client: &Client, identity: &Identity) -> Result<Option<String>, ProviderError> {
        Ok(self.find(client, identity).await?.map(|(plural, namespaced)| {
            let namespace = namespaced.then(|| identity.namespace.as_deref().unwrap_or("default"));
            lanestack_kube::resource_path(&identity.api_version, namespace, &plural, Some(&identity.name))
        }))
    }

    /// The object's path, waiting (bounded) for its kind to be served: the CRD that defines it
    /// may have been created moments ago.
    async fn path_waiting(&self, client: &Client, identity: &Identity) -> Result<String, ProviderError> {
        let mut backoff = crate::Backoff::new();
        loop {
            if let Some(path) = self.path(client, identity).await? {
                return Ok(path);
            }
            if backoff.past(WAIT) {
                return Err(ProviderError::new(
                    ErrorKind::NotFound,
                    format!(
                        "the cluster does not serve kind {} in {} (is its CustomResourceDefinition applied, and does \
                         this resource depend on it?)",
                        identity.kind, identity.api_version
                    ),
                ));
            }
            backoff.pause().await;
        }
    }
}

fn manifest_of(state: &Value) -> Result<(String, Json, Identity), ProviderError> {
    let text = state
        .get(&AttrPath::attr("manifest"))
        .and_then(Value::as_str)
        .ok_or_else(|| ProviderError::new(ErrorKind::Invalid, "the manifest is not known"))?;
    let (mut object, identity) = parse(text).map_err(|e| ProviderError::new(ErrorKind::Invalid, e))?;
    // Status is the server's and its controllers' (CRD files carry an empty one): never applied,
    // never compared. A field set to null (`creationTimestamp: null` in generated files) sets
    // nothing: left out, as the server leaves it out of what an apply owns.
    if let Some(fields) = object.as_object_mut() {
        fields.remove("status");
    }
    drop_nulls(&mut object);
    Ok((text.to_owned(), object, identity))
}

/// The path and object a planned state applies, when its kind is served now (`None` for a
/// kind whose CRD this plan creates).
pub async fn target(
    client: &Client,
    discovery: &Discovery,
    planned: &Value,
) -> Result<Option<(String, Json)>, ProviderError> {
    let (_, object, identity) = manifest_of(planned)?;
    Ok(discovery.path(client, &identity).await?.map(|path| (path, object)))
}

/// Creates or updates the object of `planned`.
pub async fn apply(
    client: &Client,
    discovery: &Discovery,
    prior: Option<&Value>,
    planned: &Value,
) -> Result<Value, ProviderError> {
    let (text, object, identity) = manifest_of(planned)?;
    let path = discovery.path_waiting(client, &identity).await?;
    if prior.is_none() {
        let what = format!("{} {}", identity.kind, display_name(&identity));
        crate::refuse_existing(client, &path, &what).await?;
    }
    let options = ApplyOptions { field_manager: FIELD_MANAGER, force: true, dry_run: false };
    let mut live = client.apply(&path, &object, &options).await.map_err(|e| crate::from_kube(&e))?;
    if identity.is_crd() {
        // Its kind is served once it is established; what depends on it applies after.
        live = wait_established(client, &path, &identity).await?;
        discovery.forget(&identity);
    }
    let wait = planned.get(&AttrPath::attr("wait")).cloned().unwrap_or(Value::Null);
    if let Some(w) = crate::wait::Wait::from_value(&wait) {
        let what = format!("{} {}", identity.kind, display_name(&identity));
        live = crate::wait::until(client, &path, &what, &w).await?;
    }
    Ok(state(&text, &object, &identity, &live, wait))
}

/// Reads the object back: `None` when it (or its kind) is gone.
pub async fn read(
    client: &Client,
    discovery: &Discovery,
    recorded: &Value,
) -> Result<Option<Value>, ProviderError> {
    let (text, object, identity) = manifest_of(recorded)?;
    let Some(path) = discovery.path(client, &identity).await? else { return Ok(None) };
    match client.get(&path).await {
        Ok(live) => {
            let wait = recorded.get(&AttrPath::attr("wait")).cloned().unwrap_or(Value::Null);
            Ok(Some(state(&text, &object, &identity, &live, wait)))
        }
        Err(KubeError::NotFound(_)) => Ok(None),
        Err(e) => Err(crate::from_kube(&e)),
    }
}

/// Deletes the object and waits (bounded) until it is gone: finalizers (a namespace's
/// content, a CRD's objects) run first.
pub async fn delete(client: &Client, discovery: &Discovery, prior: &Value) -> Result<(), ProviderError> {
    let (_, _, identity) = manifest_of(prior)?;
    let Some(path) = discovery.path(client, &identity).await? else { return Ok(()) };
    match client.delete(&path).await {
        Ok(_) | Err(KubeError::NotFound(_)) => {}
        Err(e) => return Err(crate::from_kube(&e)),
    }
    crate::wait_gone(client, &path, &format!("{} {}", identity.kind, display_name(&identity)), WAIT).await?;
    if identity.is_crd() {
        discovery.forget(&identity);
    }
    Ok(())
}

async fn wait_established(client: &Client, path: &str, identity: &Identity) -> Result<Json, ProviderError> {
    let mut backoff = crate::Backoff::new();
    loop {
        let crd = client.get(path).await.map_err(|e| crate::from_kube(&e))?;
        let established = crd["status"]["conditions"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Established" && c["status"] == "True"));
        if established {
            return Ok(crd);
        }
        if backoff.past(WAIT) {
            return Err(ProviderError::new(
                ErrorKind::Failed,
                format!(
                    "CustomResourceDefinition {} is not Established after {} s",
                    identity.name,
                    WAIT.as_secs()
                ),
            ));
        }
        backoff.pause().await;
    }
}

fn display_name(identity: &Identity) -> String {
    match &identity.namespace {
        Some(ns) => format!("{ns}/{}", identity.name),
        None => identity.name.clone(),
    }
}

/// The state for a live object: the recorded text while the live object agrees with what
/// was applied; otherwise, the live values of what lanestack applied, as JSON.
fn state(text: &str, applied: &Json, identity: &Identity, live: &Json, wait: Value) -> Value {
    let owned = owned_fields(live);
    let seen = project(live, Some(applied), owned.as_ref()).unwrap_or(Json::Null);
    let manifest = if &seen == applied {
        text.to_owned()
    } else {
        serde_json::to_string_pretty(&seen).unwrap_or_default()
    };
    Value::object([
        ("manifest", Value::from(manifest)),
        ("id", Value::from(identity.id())),
        ("uid", Value::from_json(&live["metadata"]["uid"])),
        ("wait", wait),
    ])
}

/// Removes every object field whose value is null, at any depth.
fn drop_nulls(value: &mut Json) {
    match value {
        Json::Object(fields) => {
            fields.retain(|_, v| !v.is_null());
            fields.values_mut().for_each(drop_nulls);
        }
        Json::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// lanestack's applied fields (FieldsV1) in the live object, merged over its entries.
fn owned_fields(live: &Json) -> Option<Json> {
    let entries = live["metadata"]["managedFields"].as_array()?;
    let mut merged: Option<Json> = None;
    for entry in entries.iter().filter(|e| e["manager"] == FIELD_MANAGER && e["operation"] == "Apply") {
        let fields = &entry["fieldsV1"];
        merged = Some(match merged {
            None => fields.clone(),
            Some(m) => merge_fields(m, fields),
        });
    }
    merged
}

fn merge_fields(mut a: Json, b: &Json) -> Json {
    if let (Some(am), Some(bm)) = (a.as_object_mut(), b.as_object()) {
        for (k, v) in bm {
            let merged = match am.remove(k) {
                Some(existing) => merge_fields(existing, v),
                None => v.clone(),
            };
            am.insert(k.clone(), merged);
        }
    }
    a
}

/// The part of `live` at the fields of `applied` (the manifest) and of `owned` (a FieldsV1
/// tree): objects recursively, anything else whole. `None` when live has none of them.
fn project(live: &Json, applied: Option<&Json>, owned: Option<&Json>) -> Option<Json> {
    let applied_obj = applied.and_then(Json::as_object);
    let owned_obj = owned.and_then(Json::as_object).filter(|o| o.keys().any(|k| k.starts_with("f:")));
    // A list the manifest gives whole is compared element by element when the lengths agree,
    // so that what the server fills into each element (a container's defaults) is no change.
    if let (Some(items), Some(wanted)) = (live.as_array(), applied.and_then(Json::as_array))
        && items.len() == wanted.len()
    {
        let projected =
            items.iter().zip(wanted).map(|(item, w)| project(item, Some(w), None).unwrap_or(Json::Null));
        return Some(Json::Array(projected.collect()));
    }
    let Some(live_obj) = live.as_object() else { return Some(live.clone()) };
    if applied_obj.is_none() && owned_obj.is_none() {
        // A leaf of the manifest, or a field owned whole.
        return Some(live.clone());
    }
    let mut out = Map::new();
    let mut names: Vec<&str> = applied_obj.into_iter().flat_map(|o| o.keys().map(String::as_str)).collect();
    names.extend(owned_obj.into_iter().flat_map(|o| o.keys().filter_map(|k| k.strip_prefix("f:"))));
    names.sort_unstable();
    names.dedup();
    for name in names {
        let Some(value) = live_obj.get(name) else { continue };
        let sub_applied = applied_obj.and_then(|o| o.get(name));
        let sub_owned = owned_obj.and_then(|o| o.get(&format!("f:{name}")));
        if let Some(v) = project(value, sub_applied, sub_owned) {
            out.insert(name.to_owned(), v);
        }
    }
    Some(Json::Object(out))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const CLASS: &str = "apiVersion: snapshot.storage.k8s.io/v1\nkind: VolumeSnapshotClass\nmetadata:\n  name: anf\n  labels: {team: ml}\ndriver: csi.trident.netapp.io\ndeletionPolicy: Delete\nparameters: {a: '1'}\n";

    fn config(text: &str) -> Value {
        Value::object([("manifest", Value::from(text)), ("id", Value::Null), ("uid", Value::Null)])
    }

    #[test]
    fn a_change_the_server_would_refuse_as_immutable_is_a_replacement() {
        let prior = |text: &str| Value::object([("manifest", Value::from(text)), ("uid", Value::from("u"))]);
        let replaced =
            |was: &str, now: &str| !plan(Some(&prior(was)), &config(now)).requires_replace.is_empty();
        let job = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j, namespace: ml}\n\
                   spec:\n  backoffLimit: 2\n  template:\n    spec:\n      containers: [{name: c, image: 'r.io/t@sha256:1'}]\n";
        // A new image in the pod template: the Job is replaced; its retry budget is updated.
        assert!(replaced(job, &job.replace("sha256:1", "sha256:2")));
        assert!(!replaced(job, &job.replace("backoffLimit: 2", "backoffLimit: 4")));
        // A claim: a bigger request is an update, another class a replacement.
        let claim = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: ml}\n\
                     spec:\n  accessModes: [ReadWriteMany]\n  storageClassName: anf\n  resources: {requests: {storage: 100Gi}}\n";
        assert!(!replaced(claim, &claim.replace("100Gi", "200Gi")));
        assert!(replaced(claim, &claim.replace("anf", "premium")));
        // A binding's role, a storage class's parameters: replaced; its labels: updated.
        let binding = "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: b, namespace: ml}\n\
                       roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: snapshotter}\nsubjects: []\n";
        assert!(replaced(binding, &binding.replace("name: snapshotter", "name: other")));
        assert!(!replaced(
            binding,
            &binding
                .replace("subjects: []", "subjects: [{kind: ServiceAccount, name: default, namespace: ml}]")
        ));
        let class = "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: anf}\nprovisioner: csi.trident.netapp.io\nparameters: {backendType: azure-netapp-files}\n";
        assert!(replaced(class, &class.replace("azure-netapp-files", "ontap-nas")));
        assert!(!replaced(
            class,
            &class.replace("metadata: {name: anf}", "metadata: {name: anf, labels: {a: b}}")
        ));
        // Kinds without such fields are updated.
        let config_map =
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: ml}\ndata: {a: '1'}\n";
        assert!(!replaced(config_map, &config_map.replace("'1'", "'2'")));
    }

    #[test]
    fn identity_and_clear_errors() {
        let (_, id) = parse(CLASS).unwrap();
        assert_eq!(id.id(), "apiVersion=snapshot.storage.k8s.io/v1,kind=VolumeSnapshotClass,name=anf");
        assert_eq!(id.group(), "snapshot.storage.k8s.io");
        assert_eq!(parse("kind: X\nmetadata: {name: a}").unwrap_err(), "the manifest has no apiVersion");
        assert!(parse("apiVersion: v1\nkind: X\nmetadata: {}").unwrap_err().contains("metadata.name"));
        assert!(parse("a: [").unwrap_err().starts_with("the manifest is not one YAML document"));
        assert!(
            parse("apiVersion: v1\nkind: ConfigMapList\nmetadata: {name: a}")
                .unwrap_err()
                .contains("one kubernetes_manifest per object")
        );
        assert_eq!(validate(&config("- 1")).len(), 1);
        let secret =
            validate(&config("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: s3cr3t}\n"));
        assert!(secret[0].1.contains("declare it with kubernetes_secret") && !secret[0].1.contains("s3cr3t"));
    }

    #[test]
    fn claims_snapshots_namespaces_and_crds_hold_data() {
        let with = |text: &str| Value::object([("manifest", Value::from(text))]);
        assert!(holds_data(&with("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\n")));
        assert!(holds_data(&with(
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: a.b.c}\n"
        )));
        assert!(!holds_data(&with("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")));
        assert!(!holds_data(&Value::object([("manifest", Value::Unknown)])));
    }

    #[test]
    fn another_object_replaces_another_version_updates() {
        let prior = Value::object([
            ("manifest", Value::from(CLASS)),
            ("id", Value::from("x")),
            ("uid", Value::from("u")),
        ]);
        let r = plan(Some(&prior), &config(&CLASS.replace("a: '1'", "a: '2'")));
        assert!(r.requires_replace.is_empty());
        assert_eq!(r.planned_state.get(&AttrPath::attr("uid")), Some(&Value::from("u")));
        let r = plan(
            Some(&prior),
            &config(&CLASS.replace("snapshot.storage.k8s.io/v1", "snapshot.storage.k8s.io/v1beta1")),
        );
        assert!(r.requires_replace.is_empty());
        let r = plan(Some(&prior), &config(&CLASS.replace("name: anf", "name: other")));
        assert_eq!(r.requires_replace, vec![AttrPath::attr("manifest")]);
        assert_eq!(r.planned_state.get(&AttrPath::attr("uid")), Some(&Value::Unknown));
        let unknown = Value::object([("manifest", Value::Unknown)]);
        assert_eq!(plan(None, &unknown).planned_state.get(&AttrPath::attr("id")), Some(&Value::Unknown));
    }

    #[test]
    fn what_the_server_fills_in_is_no_change_and_status_is_never_compared() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: 'i:1'}\nstatus: {}\n";
        let (applied, identity) = parse(text).unwrap();
        let mut applied = applied;
        applied.as_object_mut().unwrap().remove("status");
        let live = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "uid": "u"},
            "spec": {"containers": [{"name": "c", "image": "i:1", "imagePullPolicy": "IfNotPresent"}], "dnsPolicy": "ClusterFirst"},
            "status": {"phase": "Running"}});
        let s = state(text, &applied, &identity, &live, Value::Null);
        assert_eq!(s.get(&AttrPath::attr("manifest")), Some(&Value::from(text)));
        // Another container list is a change, shown whole.
        let mut moved = live.clone();
        moved["spec"]["containers"][0]["image"] = json!("i:2");
        let s = state(text, &applied, &identity, &moved, Value::Null);
        let seen: Json =
            serde_json::from_str(s.get(&AttrPath::attr("manifest")).and_then(Value::as_str).unwrap())
                .unwrap();
        assert_eq!(seen["spec"]["containers"], json!([{"name": "c", "image": "i:2"}]));
    }

    #[test]
    fn a_null_in_the_manifest_sets_nothing_and_is_never_a_difference() {
        let text = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: op\n  creationTimestamp: null\n";
        let state = Value::object([("manifest", Value::from(text))]);
        let (_, applied, identity) = manifest_of(&state).unwrap();
        assert_eq!(
            applied,
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "op"}})
        );
        let live = json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "op", "uid": "u", "creationTimestamp": "2026-11-28T21:28:22Z"}});
        let s = super::state(text, &applied, &identity, &live, Value::Null);
        assert_eq!(s.get(&AttrPath::attr("manifest")), Some(&Value::from(text)));
    }

    #[test]
    fn state_keeps_the_text_while_live_agrees_and_shows_what_changed() {
        let (applied, identity) = parse(CLASS).unwrap();
        let mut live = applied.clone();
        live["metadata"]["uid"] = json!("u-1");
        live["metadata"]["labels"]["added-by"] = json!("a-controller");
        live["metadata"]["managedFields"] = json!([{"manager": "lanestack", "operation": "Apply",
            "fieldsV1": {"f:driver": {}, "f:deletionPolicy": {}, "f:parameters": {"f:a": {}}, "f:metadata": {"f:labels": {"f:team": {}}}}}]);
        live["status"] = json!({"ready": true});
        let s = state(CLASS, &applied, &identity, &live, Value::Null);
        assert_eq!(s.get(&AttrPath::attr("manifest")), Some(&Value::from(CLASS)));
        assert_eq!(s.get(&AttrPath::attr("uid")), Some(&Value::from("u-1")));
        // Someone changed a field we applied: the state shows its live value.
        live["parameters"]["a"] = json!("9");
        let s = state(CLASS, &applied, &identity, &live, Value::Null);
        let text = s.get(&AttrPath::attr("manifest")).and_then(Value::as_str).unwrap().to_owned();
        let seen: Json = serde_json::from_str(&text).unwrap();
        assert_eq!(seen["parameters"], json!({"a": "9"}));
        assert!(
            seen["metadata"]["labels"].get("added-by").is_none() && seen.get("status").is_none(),
            "{seen}"
        );
    }
}
