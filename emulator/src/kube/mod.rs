//! The Kubernetes API of every emulated AKS cluster, on the emulator's own port under
//! `/k8s/{cluster-key}` ([`cluster_key`]), where `listClusterUserCredential`'s kubeconfig
//! points.
//!
//! It answers as the real API server documents: discovery (`/api`, `/api/v1`, `/apis`,
//! `/apis/{group}`, `/apis/{group}/{version}`, `/version`), GET, LIST, POST, PUT, PATCH (JSON
//! merge patch and server-side apply) and DELETE, `dryRun=All`, `Status` refusals with the real
//! reasons and messages, uids, resourceVersions, creation timestamps and `managedFields`. Auth
//! is the kubeconfig's bearer token; ARM's token, `api-version`, throttling and faults do not
//! apply here.
//!
//! Kinds are the cluster's: [`Store::kind`] finds a built-in one (core namespaces, secrets,
//! configmaps, serviceaccounts, services, persistentvolumeclaims, persistentvolumes; apps/v1
//! deployments; batch/v1 jobs; RBAC's roles and bindings; storage.k8s.io/v1 storageclasses;
//! customresourcedefinitions), else one a CRD of the cluster serves, at
//! `/apis/{group}/{version}/[namespaces/{ns}/]{plural}[/{name}[/status]]`.
//!
//! Before each request the cluster's controllers ([`Store::reconcile`]) do what is due:
//! Deployments roll out and Jobs run (after `lro_polls` reads), claims bind to provisioned
//! volumes, VolumeSnapshots are taken; `EmulatorConfig::kube_controllers` turns them off.
//!
//! Modules: `store` (the objects, generic over kinds; namespaces' termination; CRDs deleted
//! with their objects), `types` (kinds and their rules: the built-in table, custom kinds'
//! generation and status), `kinds` (the rules of the platform's built-in kinds), `crd`
//! (CustomResourceDefinitions and the kinds they serve), `schema` (structural schemas:
//! pruning, defaults, validation), `fields` (field ownership and server-side apply),
//! `controllers` (what an AKS cluster's controllers do), `status` (the `Status` errors).

mod controllers;
mod crd;
mod fields;
mod kinds;
mod schema;
mod status;
mod store;
mod types;

use serde_json::{Value, json};

pub use controllers::FAIL_ANNOTATION;
pub(crate) use status::KubeError;
pub(crate) use store::Store;
use store::{Op, Write};
use types::KindInfo;

use crate::arm::Kind;
use crate::cloud::Cloud;

/// The Kubernetes version the emulated clusters report.
const GIT_VERSION: &str = "v1.30.6";

/// The stable key of a managed cluster in Kubernetes API paths: 16 lowercase hex digits of a
/// hash (FNV-1a, 64 bits) of its ARM id, case-insensitive.
pub fn cluster_key(cluster_id: &str) -> String {
    let id = crate::cloud::key(cluster_id);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// A request under `/k8s`.
pub(crate) struct Request<'a> {
    pub(crate) method: &'a str,
    /// The whole path, `/k8s/...`.
    pub(crate) path: &'a str,
    pub(crate) query: &'a [(String, String)],
    pub(crate) authorization: Option<&'a str>,
    pub(crate) content_type: Option<&'a str>,
    pub(crate) user_agent: Option<&'a str>,
    pub(crate) body: &'a [u8],
    /// `host:port` of the server, for discovery.
    pub(crate) server_address: &'a str,
    /// How many GETs a terminating namespace survives, and how many reads a Deployment's
    /// rollout or a Job's run takes.
    pub(crate) lro_polls: u32,
    /// Whether the cluster's controllers run.
    pub(crate) controllers: bool,
}

impl Request<'_> {
    fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// The answer, for the HTTP layer.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Value,
    pub(crate) note: Option<String>,
    /// What the request touched, for the log: `k8s/{cluster}/{plural}/{namespace}/{name}`.
    pub(crate) resource: Option<String>,
    /// Whether the store changed (and should be saved).
    pub(crate) changed: bool,
}

impl Answer {
    fn ok(status: u16, body: Value) -> Answer {
        Answer { status, body, note: None, resource: None, changed: false }
    }
}

impl From<KubeError> for Answer {
    fn from(e: KubeError) -> Answer {
        Answer::ok(e.code, e.body())
    }
}

/// The current time as Kubernetes writes it (RFC 3339, seconds, UTC).
pub(crate) fn now_rfc3339() -> String {
    lanestack_kube::snapshot::UtcTime::from_system_time(std::time::SystemTime::now()).rfc3339()
}

/// The cluster a key names, and the token its kubeconfig carries.
fn find_cluster(cloud: &Cloud, key: &str) -> Option<String> {
    cloud
        .resources()
        .values()
        .filter(|r| r.kind == Kind::ManagedCluster)
        .find(|r| cluster_key(&r.id) == key)
        .map(crate::workloads::cluster_token)
}

/// Handles one request under `/k8s`.
pub(crate) fn handle(cloud: &mut Cloud, req: &Request<'_>) -> Answer {
    let rest = req.path.strip_prefix("/k8s").unwrap_or_default();
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    let (key, rest) = rest.split_once('/').map_or((rest, ""), |(k, r)| (k, r));
    let Some(token) = find_cluster(cloud, key) else {
        return KubeError::no_route().into();
    };
    // The scheme is case-insensitive, as the API server's bearer authenticator takes it.
    let presented = req
        .authorization
        .and_then(|a| a.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    if presented != Some(token.as_str()) {
        let mut a = Answer::from(KubeError::unauthorized());
        a.note = Some("unauthorized".into());
        return a;
    }
    let now = now_rfc3339();
    let seeded = cloud.kube.ensure_cluster(key, &now);
    // The cluster's controllers do what is due before the request is answered.
    let reconciled = req.controllers && cloud.kube.reconcile(key, &now, req.lro_polls);
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let mut answer = match segs.as_slice() {
        [] | ["api"] | ["api", "v1"] | ["apis"] | ["apis", _] | ["apis", _, _] | ["version"] => {
            discovery(&cloud.kube, key, req, &segs)
        }
        ["api", "v1", resource @ ..] => resource_request(cloud, req, key, "v1", resource, &now),
        ["apis", group, version, resource @ ..] if !resource.is_empty() => {
            resource_request(cloud, req, key, &format!("{group}/{version}"), resource, &now)
        }
        _ => KubeError::no_route().into(),
    };
    answer.changed |= seeded || reconciled;
    answer
}

/// One APIResourceList entry (and its `/status` one) for a kind.
fn api_resources(k: &KindInfo) -> Vec<Value> {
    let mut r = json!({
        "name": k.plural,
        "singularName": k.singular,
        "namespaced": k.namespaced,
        "kind": k.kind,
        "verbs": types::VERBS,
    });
    if !k.short_names.is_empty() {
        r["shortNames"] = json!(k.short_names);
    }
    if !k.categories.is_empty() {
        r["categories"] = json!(k.categories);
    }
    let mut out = vec![r];
    if k.serves_status() {
        out.push(json!({
            "name": format!("{}/status", k.plural),
            "singularName": "",
            "namespaced": k.namespaced,
            "kind": k.kind,
            "verbs": ["get", "patch", "update"],
        }));
    }
    out
}

/// The API groups served besides core, each with its versions in Kubernetes' order.
fn api_groups(store: &Store, cluster: &str) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for b in types::BUILTINS {
        if let Some((group, version)) = b.group_version.split_once('/')
            && !groups.iter().any(|(g, _)| g == group)
        {
            groups.push((group.to_owned(), vec![version.to_owned()]));
        }
    }
    for c in store.crds(cluster) {
        let group = c.pointer("/spec/group").and_then(Value::as_str).unwrap_or_default();
        let versions = crd::served_versions(c);
        if versions.is_empty() {
            continue;
        }
        match groups.iter_mut().find(|(g, _)| g == group) {
            Some((_, vs)) => vs.extend(versions),
            None => groups.push((group.to_owned(), versions)),
        }
    }
    for (_, vs) in &mut groups {
        vs.sort_by(|a, b| crd::by_priority(a, b));
        vs.dedup();
    }
    groups
}

fn api_group(group: &str, versions: &[String]) -> Value {
    let gv = |v: &String| json!({ "groupVersion": format!("{group}/{v}"), "version": v });
    json!({
        "name": group,
        "versions": versions.iter().map(gv).collect::<Vec<_>>(),
        "preferredVersion": gv(&versions[0]),
    })
}

fn discovery(store: &Store, cluster: &str, req: &Request<'_>, segs: &[&str]) -> Answer {
    if req.method != "GET" {
        return KubeError::method_not_allowed().into();
    }
    let body = match segs {
        [] => json!({ "paths": ["/api", "/api/v1", "/apis", "/version"] }),
        ["api"] => json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": req.server_address }],
        }),
        ["api", "v1"] => {
            let mut kinds: Vec<KindInfo> = types::BUILTINS
                .iter()
                .filter(|k| k.group_version == "v1")
                .map(types::Builtin::info)
                .collect();
            kinds.sort_by(|a, b| a.plural.cmp(&b.plural));
            let resources: Vec<Value> = kinds.iter().flat_map(api_resources).collect();
            json!({ "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": resources })
        }
        ["apis"] => {
            let groups: Vec<Value> =
                api_groups(store, cluster).iter().map(|(g, vs)| api_group(g, vs)).collect();
            json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
        }
        ["apis", group] => match api_groups(store, cluster).into_iter().find(|(g, _)| g == group) {
            Some((g, vs)) => {
                let mut body = api_group(&g, &vs);
                body["kind"] = json!("APIGroup");
                body["apiVersion"] = json!("v1");
                body
            }
            None => return KubeError::no_route().into(),
        },
        ["apis", group, version] => {
            let group_version = format!("{group}/{version}");
            let mut kinds: Vec<KindInfo> = types::BUILTINS
                .iter()
                .filter(|k| k.group_version == group_version)
                .map(types::Builtin::info)
                .collect();
            for c in store.crds(cluster) {
                if c.pointer("/spec/group").and_then(Value::as_str) == Some(group) {
                    kinds.extend(crd::kind(c, version));
                }
            }
            if kinds.is_empty() {
                return KubeError::no_route().into();
            }
            kinds.sort_by(|a, b| a.plural.cmp(&b.plural));
            let resources: Vec<Value> = kinds.iter().flat_map(api_resources).collect();
            json!({ "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources })
        }
        _ => {
            let minor = GIT_VERSION.split('.').nth(1).unwrap_or_default();
            json!({
                "major": "1",
                "minor": minor,
                "gitVersion": GIT_VERSION,
                "gitCommit": "0000000000000000000000000000000000000000",
                "gitTreeState": "clean",
                "buildDate": "2024-10-22T20:26:57Z",
                "goVersion": "go1.22.8",
                "compiler": "gc",
                "platform": "linux/amd64",
            })
        }
    };
    Answer::ok(200, body)
}

/// `labelSelector`'s equality-based requirements: `k=v`, `k==v`, `k!=v`, `k`, `!k`.
fn selector(text: &str) -> impl Fn(&Value) -> bool + use<> {
    let reqs: Vec<(String, Option<String>, bool)> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|r| {
            if let Some((k, v)) = r.split_once("!=") {
                (k.trim().to_owned(), Some(v.trim().to_owned()), false)
            } else if let Some((k, v)) = r.split_once("==").or_else(|| r.split_once('=')) {
                (k.trim().to_owned(), Some(v.trim().to_owned()), true)
            } else if let Some(k) = r.strip_prefix('!') {
                (k.trim().to_owned(), None, false)
            } else {
                (r.to_owned(), None, true)
            }
        })
        .collect();
    move |o: &Value| {
        let labels = o.pointer("/metadata/labels");
        reqs.iter().all(|(k, v, positive)| {
            let have = labels.and_then(|l| l.get(k)).and_then(Value::as_str);
            match (v, positive) {
                (Some(v), true) => have == Some(v.as_str()),
                (Some(v), false) => have != Some(v.as_str()),
                (None, true) => have.is_some(),
                (None, false) => have.is_none(),
            }
        })
    }
}

/// Where a resource path points.
enum Target {
    /// `/{plural}` of a cluster-scoped kind, or across all namespaces.
    Collection {
        namespace: Option<String>,
    },
    Item {
        namespace: String,
        name: String,
    },
}

fn resource_request(
    cloud: &mut Cloud,
    req: &Request<'_>,
    cluster: &str,
    group_version: &str,
    segs: &[&str],
    now: &str,
) -> Answer {
    let store = &cloud.kube;
    let find = |plural: &str| store.kind(cluster, group_version, plural);
    let item =
        |namespace: &str, name: &str| Target::Item { namespace: namespace.to_owned(), name: name.to_owned() };
    let namespaced = match segs {
        ["namespaces", ns, plural] => find(plural)
            .filter(|k| k.namespaced)
            .map(|k| (k, Target::Collection { namespace: Some((*ns).to_owned()) }, false)),
        ["namespaces", ns, plural, name] => {
            find(plural).filter(|k| k.namespaced).map(|k| (k, item(ns, name), false))
        }
        ["namespaces", ns, plural, name, "status"] => {
            find(plural).filter(|k| k.namespaced && k.serves_status()).map(|k| (k, item(ns, name), true))
        }
        _ => None,
    };
    let parsed: Option<(KindInfo, Target, bool)> = namespaced.or_else(|| match segs {
        [plural] => find(plural).map(|k| (k, Target::Collection { namespace: None }, false)),
        [plural, name] => find(plural).filter(|k| !k.namespaced).map(|k| (k, item("", name), false)),
        [plural, name, "status"] => {
            find(plural).filter(|k| !k.namespaced && k.serves_status()).map(|k| (k, item("", name), true))
        }
        _ => None,
    });
    let Some((kind, target, status)) = parsed else {
        return KubeError::no_route().into();
    };
    let kind = &kind;
    let dry_run = match req.query("dryRun") {
        None => false,
        Some("All") => true,
        Some(other) => {
            let options = match req.method {
                "POST" => "CreateOptions",
                "PUT" => "UpdateOptions",
                "PATCH" => "PatchOptions",
                "DELETE" => "DeleteOptions",
                _ => "ListOptions",
            };
            let detail = format!("Unsupported value: \"{other}\": supported values: \"All\"");
            return invalid_options(options, "dryRun", "FieldValueNotSupported", &detail);
        }
    };
    let manager = req
        .query("fieldManager")
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .or_else(|| {
            req.user_agent
                .map(|ua| ua.split('/').next().unwrap_or_default().to_owned())
                .filter(|m| !m.is_empty())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let store = &mut cloud.kube;
    let resource = |ns: &str, name: &str| {
        Some(match ns {
            "" => format!("k8s/{cluster}/{}/{name}", kind.resource()),
            _ => format!("k8s/{cluster}/{}/{ns}/{name}", kind.resource()),
        })
    };
    let parse_body = |kind: &KindInfo| -> Result<Value, KubeError> {
        serde_json::from_slice(req.body).map_err(|e| {
            KubeError::bad_request(format!(
                "{} in version \"{}\" cannot be handled as a {}: {e}",
                kind.kind, kind.group_version, kind.kind
            ))
        })
    };
    let write = |store: &mut Store, namespace: &str, name: Option<&str>, op: Op, body: Value| -> Answer {
        let w = Write { kind, status, namespace, name, op, body, manager: &manager, dry_run, now };
        match store.write(cluster, w) {
            Err(e) => e.into(),
            Ok(written) => {
                let name =
                    written.object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
                let mut a = Answer::ok(written.status, written.object.clone());
                a.resource = resource(namespace, name);
                a.changed = written.stored;
                if written.stored && written.status == 201 {
                    a.note = Some("created".into());
                }
                a
            }
        }
    };
    match (target, req.method) {
        (Target::Collection { namespace }, "GET") => {
            if req.query("watch").is_some_and(|w| w == "true" || w == "1") {
                return KubeError::method_not_allowed().into();
            }
            let keep = selector(req.query("labelSelector").unwrap_or_default());
            match store.list(cluster, kind, namespace.as_deref(), keep) {
                Ok((list, changed)) => {
                    let mut a = Answer::ok(200, list);
                    a.changed = changed;
                    a
                }
                Err(e) => e.into(),
            }
        }
        (_, "POST" | "DELETE") if status => KubeError::method_not_allowed().into(),
        (Target::Collection { namespace }, "POST") if namespace.is_some() || !kind.namespaced => {
            let body = match parse_body(kind) {
                Ok(b) => b,
                Err(e) => return e.into(),
            };
            write(store, namespace.as_deref().unwrap_or_default(), None, Op::Create, body)
        }
        (Target::Item { namespace, name }, "GET") => match store.get(cluster, kind, &namespace, &name) {
            Ok((object, changed)) => {
                let mut a = Answer::ok(200, object);
                a.changed = changed;
                a
            }
            Err(e) => {
                let mut a = Answer::from(e);
                // The GET that ended a namespace's termination removed it.
                a.changed = kind.plural == "namespaces";
                a
            }
        },
        (Target::Item { namespace, name }, "PUT") => {
            let body = match parse_body(kind) {
                Ok(b) => b,
                Err(e) => return e.into(),
            };
            write(store, &namespace, Some(&name), Op::Replace, body)
        }
        (Target::Item { namespace, name }, "PATCH") => {
            let content_type = req.content_type.unwrap_or_default();
            let media = content_type.split(';').next().unwrap_or_default().trim();
            let force = req.query("force").map(|f| f == "true" || f == "1");
            let op = match media {
                "application/merge-patch+json" => {
                    if force.is_some() {
                        return invalid_options(
                            "PatchOptions",
                            "force",
                            "FieldValueForbidden",
                            "Forbidden: may not be specified for non-apply patch",
                        );
                    }
                    Op::MergePatch
                }
                "application/apply-patch+yaml" => {
                    if req.query("fieldManager").is_none_or(str::is_empty) {
                        return invalid_options(
                            "PatchOptions",
                            "fieldManager",
                            "FieldValueRequired",
                            "Required value: is required for apply patch",
                        );
                    }
                    Op::Apply { force: force.unwrap_or(false) }
                }
                _ => {
                    return KubeError::new(
                        415,
                        "UnsupportedMediaType",
                        format!(
                            "the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/apply-patch+yaml{}",
                            if media.is_empty() { String::new() } else { format!(" (got {media})") }
                        ),
                    )
                    .into();
                }
            };
            let body = if matches!(op, Op::Apply { .. }) {
                match serde_json::from_slice::<Value>(req.body) {
                    Ok(v) => v,
                    Err(_) => match std::str::from_utf8(req.body)
                        .map_err(|e| e.to_string())
                        .and_then(|text| lanestack_kube::yaml::document(text).map_err(|e| e.to_string()))
                    {
                        Ok(v) => v,
                        Err(e) => return KubeError::bad_request(format!("error decoding YAML: {e}")).into(),
                    },
                }
            } else {
                match serde_json::from_slice::<Value>(req.body) {
                    Ok(v) => v,
                    Err(e) => return KubeError::bad_request(format!("error decoding patch: {e}")).into(),
                }
            };
            write(store, &namespace, Some(&name), op, body)
        }
        (Target::Item { namespace, name }, "DELETE") => {
            let options: Value = serde_json::from_slice(req.body).unwrap_or(Value::Null);
            let dry_run = dry_run
                || options
                    .get("dryRun")
                    .and_then(Value::as_array)
                    .is_some_and(|d| d.iter().any(|v| v == "All"));
            match store.delete(cluster, kind, &namespace, &name, &options, dry_run, now, req.lro_polls) {
                Ok((body, changed)) => {
                    let mut a = Answer::ok(200, body);
                    a.changed = changed;
                    a.resource = resource(&namespace, &name);
                    if changed {
                        a.note = Some("deleted".into());
                    }
                    a
                }
                Err(e) => e.into(),
            }
        }
        _ => KubeError::method_not_allowed().into(),
    }
}

/// 422 for request options the real server refuses (`ValidatePatchOptions` and the like).
fn invalid_options(options: &str, field: &str, reason: &str, detail: &str) -> Answer {
    let mut e =
        KubeError::new(422, "Invalid", format!("{options}.meta.k8s.io \"\" is invalid: {field}: {detail}"));
    e.details = Some(json!({
        "group": "meta.k8s.io",
        "kind": options,
        "causes": [{ "reason": reason, "message": detail, "field": field }],
    }));
    e.into()
}

/// Makes sure namespace `name` exists in the cluster with `labels` (added to what it has), as
/// a cluster agent does for the objects it manages (the Run:ai control plane's projects).
/// True when anything changed.
pub(crate) fn ensure_namespace(
    store: &mut Store,
    cluster: &str,
    name: &str,
    labels: &serde_json::Map<String, Value>,
    manager: &str,
    now: &str,
) -> Result<bool, KubeError> {
    let seeded = store.ensure_cluster(cluster, now);
    let Some(kind) = types::builtin("v1", "namespaces") else { return Ok(seeded) };
    let existing = store.object(cluster, &kind, "", name);
    let (op, body, url_name) = match &existing {
        None => (Op::Create, json!({ "metadata": { "name": name, "labels": labels } }), None),
        Some(o) => {
            let have = o.pointer("/metadata/labels").and_then(Value::as_object);
            if labels.iter().all(|(k, v)| have.and_then(|h| h.get(k)) == Some(v)) {
                return Ok(seeded);
            }
            (Op::MergePatch, json!({ "metadata": { "labels": labels } }), Some(name))
        }
    };
    let w = Write {
        kind: &kind,
        status: false,
        namespace: "",
        name: url_name,
        op,
        body,
        manager,
        dry_run: false,
        now,
    };
    store.write(cluster, w).map(|_| true)
}

/// Deletes namespace `name` of the cluster (it terminates over `polls` reads, as any
/// namespace); true when it was there.
pub(crate) fn remove_namespace(store: &mut Store, cluster: &str, name: &str, now: &str, polls: u32) -> bool {
    let Some(kind) = types::builtin("v1", "namespaces") else { return false };
    store.delete(cluster, &kind, "", name, &Value::Null, false, now, polls).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_keys_ignore_case_and_are_16_hex_digits() {
        let id = "/subscriptions/s/resourceGroups/RG/providers/Microsoft.ContainerService/managedClusters/K";
        let key = cluster_key(id);
        assert_eq!(key.len(), 16);
        assert!(key.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(key, cluster_key(&id.to_lowercase()));
        assert_ne!(key, cluster_key(&id.replace("/K", "/L")));
    }

    #[test]
    fn label_selectors_match_equality_requirements() {
        let o = serde_json::json!({ "metadata": { "labels": { "app": "web", "tier": "front" } } });
        assert!(selector("app=web,tier")(&o));
        assert!(selector("app==web,!missing,tier!=back")(&o));
        assert!(!selector("app=db")(&o));
        assert!(!selector("!app")(&o));
    }
}
