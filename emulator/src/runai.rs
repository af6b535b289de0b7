//! The Run:ai control plane, under `/runai` of the emulator's endpoint, as if Run:ai's cluster
//! agent were installed in every emulated AKS cluster.
//!
//! What it serves, in the shapes of Run:ai's published REST API (docs/runai.md says which
//! facts come from where):
//!
//! - `POST /api/v2/token`: an application's client credentials (`grant_type=client_credentials`,
//!   `client_id`, `client_secret`, form-encoded) for an opaque bearer token
//!   (`access_token`, `token_type`, `expires_in`). The emulator's service principal is the one
//!   application it knows;
//! - `GET /api/v1/clusters[/{uuid}]`: every AKS cluster that exists, `Connected`, named after
//!   it, with a uuid derived from its ARM id;
//! - `GET /api/v1/node-pools`: one node pool, `default`, per cluster;
//! - `GET /api/v1/org-unit/departments[/{id}]`: one department, `default`, per cluster;
//! - `GET|POST /api/v1/org-unit/projects`, `GET|PUT|DELETE /api/v1/org-unit/projects/{id}`:
//!   projects, validated (name, cluster, department, node pools, quotas, duplicates). A new
//!   project's namespace `runai-<name>` appears at once in the cluster's Kubernetes API,
//!   labelled `runai/queue=<name>`; its phase is `Creating` for `lro_polls` reads and then
//!   `Ready` (an update's `Updating` likewise); a deleted one is `Deleting` for `lro_polls`
//!   reads, then gone with its namespace.
//!
//! Errors are Run:ai's `{"code": <status>, "message": "..."}`. Progress is counted in
//! requests, never in time, as the emulator's other controllers do. Projects persist in the
//! data directory (`runai.json`); tokens do not (a restarted control plane refuses old tokens,
//! as one whose signing keys rotated would).

use std::collections::{BTreeMap, HashSet};

use serde_json::{Value, json};

use crate::arm::Kind;
use crate::cloud::Cloud;

/// The Run:ai version the emulated clusters' agents report.
const AGENT_VERSION: &str = "2.19.0";
/// The label Run:ai puts on a project's namespace, naming the project (its scheduling queue).
pub(crate) const QUEUE_LABEL: &str = "runai/queue";
/// The field manager of what the control plane writes into clusters.
const MANAGER: &str = "runai-cluster-sync";
/// The longest project name: Run:ai's limit, a Kubernetes name's.
const MAX_NAME: usize = 63;

/// The control plane's objects: projects (persisted) and issued tokens (not).
#[derive(Default, Debug)]
pub(crate) struct Store {
    projects: BTreeMap<u64, Project>,
    next_id: u64,
    tokens: HashSet<String>,
    issued: u64,
}

/// A project, as answered, and the reads left before its phase moves on.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Project {
    body: Value,
    /// Reads left until `Creating`/`Updating` becomes `Ready`, or `Deleting` ends in removal.
    pending: u32,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Disk {
    version: u32,
    next_id: u64,
    projects: BTreeMap<u64, Project>,
}

/// A request under `/runai`.
pub(crate) struct Request<'a> {
    pub(crate) method: &'a str,
    /// The whole path, `/runai/...`.
    pub(crate) path: &'a str,
    pub(crate) query: &'a [(String, String)],
    pub(crate) authorization: Option<&'a str>,
    pub(crate) body: &'a [u8],
    /// The one application's credentials.
    pub(crate) client_id: &'a str,
    pub(crate) client_secret: &'a str,
    /// How many reads a project's change takes.
    pub(crate) polls: u32,
    /// A seed for the tokens' randomness.
    pub(crate) seed: u64,
}

/// The answer, for the HTTP layer.
pub(crate) struct Answer {
    pub(crate) status: u16,
    /// `None`: no body.
    pub(crate) body: Option<Value>,
    pub(crate) note: Option<String>,
    pub(crate) resource: Option<String>,
    /// Whether the store (projects or a cluster's objects) changed and should be saved.
    pub(crate) changed: bool,
}

impl Answer {
    fn json(status: u16, body: Value) -> Answer {
        Answer { status, body: Some(body), note: None, resource: None, changed: false }
    }
    fn error(status: u16, message: impl Into<String>) -> Answer {
        Answer::json(status, json!({ "code": status, "message": message.into() }))
    }
    fn note(mut self, note: &str) -> Answer {
        self.note = Some(note.to_owned());
        self
    }
}

/// An emulated cluster as Run:ai sees it.
struct Cluster {
    uuid: String,
    name: String,
    /// The key of its Kubernetes API (`/k8s/{key}`).
    kube_key: String,
    created_at: String,
}

/// 128 bits of two FNV-1a hashes of `text`, written as a version-8 UUID (RFC 9562): a stable
/// id derived from a name.
pub(crate) fn derived_uuid(text: &str) -> String {
    let fnv = |seed: u64| {
        let mut h = seed;
        for b in text.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h
    };
    let (a, b) = (fnv(0xcbf2_9ce4_8422_2325), fnv(0x6c62_272e_07bb_0142));
    let hex = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-8{}-{}{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        ["8", "9", "a", "b"][(b >> 62) as usize & 3],
        &hex[17..20],
        &hex[20..32]
    )
}

fn clusters(cloud: &Cloud) -> Vec<Cluster> {
    cloud
        .resources()
        .values()
        .filter(|r| r.kind == Kind::ManagedCluster)
        .filter(|r| crate::cloud::provisioning_state(&r.body).as_deref() != Some("Deleting"))
        .map(|r| Cluster {
            uuid: derived_uuid(&format!("runai-cluster|{}", crate::cloud::key(&r.id))),
            name: crate::kinds::name_of(&r.id).to_owned(),
            kube_key: crate::kube::cluster_key(&r.id),
            created_at: r
                .body
                .pointer("/systemData/createdAt")
                .and_then(Value::as_str)
                .unwrap_or("2024-01-01T00:00:00Z")
                .to_owned(),
        })
        .collect()
}

fn cluster_json(c: &Cluster) -> Value {
    json!({
        "uuid": c.uuid,
        "tenantId": 1001,
        "name": c.name,
        "createdAt": c.created_at,
        "domain": null,
        "version": AGENT_VERSION,
        "status": {
            "state": "Connected",
            "conditions": [{ "type": "Connected", "status": "True", "reason": "ClusterConnected" }],
        },
        "lastLiveness": crate::kube::now_rfc3339(),
    })
}

fn department_id(c: &Cluster) -> String {
    derived_uuid(&format!("runai-department|{}|default", c.uuid))
}

fn node_pool_id(c: &Cluster) -> String {
    derived_uuid(&format!("runai-node-pool|{}|default", c.uuid))
}

fn department_json(c: &Cluster) -> Value {
    json!({
        "id": department_id(c),
        "name": "default",
        "clusterId": c.uuid,
        "parentId": null,
        "resources": [],
        "createdAt": c.created_at,
    })
}

fn node_pool_json(c: &Cluster) -> Value {
    json!({
        "id": node_pool_id(c),
        "name": "default",
        "clusterId": c.uuid,
        "labelKey": "",
        "labelValue": "",
        "phase": "Ready",
        "createdAt": c.created_at,
    })
}

impl Store {
    /// Loads what [`Store::to_json`] saved.
    pub(crate) fn load(&mut self, text: &str) -> Result<(), serde_json::Error> {
        let disk: Disk = serde_json::from_str(text)?;
        self.projects = disk.projects;
        self.next_id = disk.next_id;
        Ok(())
    }

    /// The projects, for the data directory.
    pub(crate) fn to_json(&self) -> String {
        let disk = Disk { version: 1, next_id: self.next_id, projects: self.projects.clone() };
        serde_json::to_string_pretty(&disk).unwrap_or_default()
    }
}

/// Handles one request under `/runai`.
pub(crate) fn handle(cloud: &mut Cloud, req: &Request<'_>) -> Answer {
    let rest = req.path.strip_prefix("/runai").unwrap_or_default();
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    if segs == ["api", "v2", "token"] {
        return token(&mut cloud.runai, req);
    }
    let presented = req
        .authorization
        .and_then(|a| a.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    if !presented.is_some_and(|t| cloud.runai.tokens.contains(t)) {
        return Answer::error(401, "Unauthorized: a valid bearer token is required").note("unauthorized");
    }
    let live = clusters(cloud);
    // Projects of clusters that are gone go with them.
    let before = cloud.runai.projects.len();
    cloud.runai.projects.retain(|_, p| {
        let cluster = p.body.get("clusterId").and_then(Value::as_str).unwrap_or_default();
        live.iter().any(|c| c.uuid == cluster)
    });
    let pruned = cloud.runai.projects.len() != before;
    let mut answer = match (req.method, segs.as_slice()) {
        ("GET", ["api", "v1", "clusters"]) => {
            Answer::json(200, Value::Array(live.iter().map(cluster_json).collect()))
        }
        ("GET", ["api", "v1", "clusters", uuid]) => match live.iter().find(|c| c.uuid == *uuid) {
            Some(c) => Answer::json(200, cluster_json(c)),
            None => Answer::error(404, format!("cluster {uuid} not found")),
        },
        ("GET", ["api", "v1", "node-pools"]) => match Filter::parse(req, &["name", "clusterId"]) {
            Ok(f) => {
                let pools: Vec<Value> = live.iter().map(node_pool_json).filter(|p| f.keep(p)).collect();
                Answer::json(200, json!({ "nodePools": pools }))
            }
            Err(e) => e,
        },
        ("GET", ["api", "v1", "org-unit", "departments"]) => {
            match Filter::parse(req, &["name", "clusterId"]) {
                Ok(f) => {
                    let all: Vec<Value> = live.iter().map(department_json).filter(|d| f.keep(d)).collect();
                    Answer::json(200, json!({ "departments": all }))
                }
                Err(e) => e,
            }
        }
        ("GET", ["api", "v1", "org-unit", "departments", id]) => {
            match live.iter().find(|c| department_id(c) == *id) {
                Some(c) => Answer::json(200, department_json(c)),
                None => Answer::error(404, format!("department {id} not found")),
            }
        }
        ("GET", ["api", "v1", "org-unit", "projects"]) => list_projects(cloud, req),
        ("POST", ["api", "v1", "org-unit", "projects"]) => create_project(cloud, req, &live),
        ("GET", ["api", "v1", "org-unit", "projects", id]) => match id.parse::<u64>() {
            Ok(id) => get_project(cloud, req, id),
            Err(_) => Answer::error(404, format!("project {id} not found")),
        },
        ("PUT", ["api", "v1", "org-unit", "projects", id]) => match id.parse::<u64>() {
            Ok(id) => update_project(cloud, req, &live, id),
            Err(_) => Answer::error(404, format!("project {id} not found")),
        },
        ("DELETE", ["api", "v1", "org-unit", "projects", id]) => match id.parse::<u64>() {
            Ok(id) => delete_project(cloud, req, id),
            Err(_) => Answer::error(404, format!("project {id} not found")),
        },
        (
            _,
            ["api", "v1", "clusters"]
            | ["api", "v1", "clusters", _]
            | ["api", "v1", "node-pools"]
            | ["api", "v1", "org-unit", "departments"]
            | ["api", "v1", "org-unit", "departments", _]
            | ["api", "v1", "org-unit", "projects"]
            | ["api", "v1", "org-unit", "projects", _]
            | ["api", "v2", "token"],
        ) => Answer::error(405, format!("method {} is not allowed on this path", req.method)),
        _ => Answer::error(404, format!("no such API: {}", req.path)),
    };
    answer.changed |= pruned;
    answer
}

/// `POST /api/v2/token`.
fn token(store: &mut Store, req: &Request<'_>) -> Answer {
    if req.method != "POST" {
        return Answer::error(405, format!("method {} is not allowed on this path", req.method));
    }
    let form = crate::server::parse_query(&String::from_utf8_lossy(req.body));
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    match field("grant_type") {
        Some("client_credentials") => {}
        Some(other) => return Answer::error(400, format!("unsupported grant_type {other:?}")),
        None => return Answer::error(400, "grant_type is required"),
    }
    let (Some(id), Some(secret)) = (field("client_id"), field("client_secret")) else {
        return Answer::error(400, "client_id and client_secret are required");
    };
    if id != req.client_id || secret != req.client_secret {
        return Answer::error(401, "invalid client credentials").note("unauthorized");
    }
    store.issued += 1;
    // Unguessable across restarts: a token of an earlier run is never issued again.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let token = format!("emu.runai.{}", derived_uuid(&format!("{}|{}|{nanos}", req.seed, store.issued)));
    store.tokens.insert(token.clone());
    Answer::json(200, json!({ "access_token": token, "token_type": "Bearer", "expires_in": 3600 }))
}

/// `filterBy` (a list, comma-separated or repeated): `field<op>value` with Run:ai's operators.
struct Filter {
    terms: Vec<(String, &'static str, String)>,
}

impl Filter {
    const OPERATORS: [&'static str; 8] = ["==", "!=", "<=", ">=", "=@", "!@", "=^", "=$"];

    fn parse(req: &Request<'_>, fields: &[&str]) -> Result<Filter, Answer> {
        let mut terms = Vec::new();
        for (_, v) in req.query.iter().filter(|(k, _)| k == "filterBy") {
            for term in v.split(',').filter(|t| !t.is_empty()) {
                let found = fields.iter().find_map(|f| {
                    let rest = term.strip_prefix(f)?;
                    let op = Filter::OPERATORS.into_iter().find(|op| rest.starts_with(op))?;
                    let value = &rest[op.len()..];
                    (!value.is_empty()).then(|| ((*f).to_owned(), op, value.to_owned()))
                });
                match found {
                    Some(t) => terms.push(t),
                    None => {
                        return Err(Answer::error(
                            400,
                            format!(
                                "invalid filterBy {term:?}: expected <field><operator><value> with a field of {} and an operator of {}",
                                fields.join(", "),
                                Filter::OPERATORS.join(" ")
                            ),
                        ));
                    }
                }
            }
        }
        Ok(Filter { terms })
    }

    fn keep(&self, item: &Value) -> bool {
        self.terms.iter().all(|(field, op, want)| {
            let have = match field.as_str() {
                "phase" => item.pointer("/status/phase"),
                f => item.get(f),
            };
            let have = match have {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            match *op {
                "==" => have == *want,
                "!=" => have != *want,
                "<=" => have <= *want,
                ">=" => have >= *want,
                "=@" => have.contains(want.as_str()),
                "!@" => !have.contains(want.as_str()),
                "=^" => have.starts_with(want.as_str()),
                _ => have.ends_with(want.as_str()),
            }
        })
    }
}

/// Counts one read of a project: its phase moves on when its reads are done. `false` when the
/// read found it deleted (and removed it, with its namespace).
fn count_read(cloud: &mut Cloud, id: u64, polls: u32) -> bool {
    let Some(p) = cloud.runai.projects.get_mut(&id) else { return false };
    if p.pending > 0 {
        p.pending -= 1;
        return true;
    }
    let phase = p.body.pointer("/status/phase").and_then(Value::as_str).unwrap_or_default().to_owned();
    match phase.as_str() {
        "Creating" | "Updating" => {
            p.body["status"]["phase"] = json!("Ready");
            p.body["status"]["phaseMessage"] = json!("");
            true
        }
        "Deleting" => {
            let removed = cloud.runai.projects.remove(&id);
            if let Some(p) = removed {
                let cluster = p.body.get("clusterId").and_then(Value::as_str).unwrap_or_default();
                let namespace =
                    p.body.pointer("/status/namespace").and_then(Value::as_str).unwrap_or_default();
                if let Some(c) = clusters(cloud).into_iter().find(|c| c.uuid == cluster) {
                    let now = crate::kube::now_rfc3339();
                    crate::kube::remove_namespace(&mut cloud.kube, &c.kube_key, namespace, &now, polls);
                }
            }
            false
        }
        _ => true,
    }
}

fn list_projects(cloud: &mut Cloud, req: &Request<'_>) -> Answer {
    let filter = match Filter::parse(req, &["name", "clusterId", "parentId", "phase"]) {
        Ok(f) => f,
        Err(e) => return e,
    };
    let ids: Vec<u64> = cloud.runai.projects.keys().copied().collect();
    let mut changed = false;
    for id in ids {
        count_read(cloud, id, req.polls);
        changed = true;
    }
    let number =
        |name: &str| req.query.iter().find(|(k, _)| k == name).and_then(|(_, v)| v.parse::<usize>().ok());
    let offset = number("offset").unwrap_or(0);
    let limit = number("limit").unwrap_or(usize::MAX);
    let projects: Vec<Value> = cloud
        .runai
        .projects
        .values()
        .map(|p| p.body.clone())
        .filter(|p| filter.keep(p))
        .skip(offset)
        .take(limit)
        .collect();
    let mut answer = Answer::json(200, json!({ "projects": projects }));
    answer.changed = changed;
    answer
}

fn get_project(cloud: &mut Cloud, req: &Request<'_>, id: u64) -> Answer {
    let existed = cloud.runai.projects.contains_key(&id);
    let still = count_read(cloud, id, req.polls);
    let mut answer = match cloud.runai.projects.get(&id) {
        Some(p) if still => Answer::json(200, p.body.clone()),
        _ => Answer::error(404, format!("project {id} not found")),
    };
    answer.changed = existed;
    answer
}

/// Run:ai's rule for project names (a Kubernetes DNS label): lowercase letters, digits and
/// hyphens, starting with a letter and ending with a letter or digit, at most 63 characters.
pub(crate) fn name_problem(name: &str) -> Option<String> {
    let ok_chars = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let first = name.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
    let last = name.bytes().last().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if name.is_empty() || name.len() > MAX_NAME || !ok_chars || !first || !last {
        return Some(format!(
            "invalid project name {name:?}: it must be 1 to {MAX_NAME} lowercase letters, digits or '-', \
             start with a letter and end with a letter or digit"
        ));
    }
    None
}

/// Checks a request's `resources` against the cluster's node pools and Run:ai's quota rules,
/// and answers them whole: one entry per node pool of the cluster (those not named get no
/// quota), with the pool's id and name.
fn resources(body: &Value, cluster: &Cluster) -> Result<Value, Answer> {
    let bad = |m: String| Answer::error(400, m);
    let Some(given) = body.get("resources").and_then(Value::as_array) else {
        return Err(bad("resources is required: a list of node pool quotas".to_owned()));
    };
    let pool_id = node_pool_id(cluster);
    let mut quota = None;
    for r in given {
        let pool = r.get("nodePool").unwrap_or(&Value::Null);
        let id = pool.get("id").and_then(Value::as_str);
        let name = pool.get("name").and_then(Value::as_str);
        let matches = match (id, name) {
            (None, None) => return Err(bad("resources[].nodePool needs an id or a name".to_owned())),
            (Some(i), Some(n)) => i == pool_id && n == "default",
            (Some(i), None) => i == pool_id,
            (None, Some(n)) => n == "default",
        };
        if !matches {
            return Err(bad(format!(
                "node pool {} does not exist in cluster {}",
                name.or(id).unwrap_or_default(),
                cluster.uuid
            )));
        }
        if quota.is_some() {
            return Err(bad("a node pool appears more than once in resources".to_owned()));
        }
        let gpu = r.get("gpu").unwrap_or(&Value::Null);
        let field = |f: &str| gpu.get(f).filter(|v| !v.is_null());
        let num = |f: &str, default: f64| -> Result<f64, Answer> {
            match field(f) {
                None => Ok(default),
                Some(v) => v.as_f64().ok_or_else(|| bad(format!("gpu.{f} must be a number"))),
            }
        };
        let deserved = num("deserved", 0.0)?;
        let limit = num("limit", -1.0)?;
        let weight = num("overQuotaWeight", 2.0)?;
        if deserved < 0.0 {
            return Err(bad(format!("gpu.deserved must be at least 0, not {deserved}")));
        }
        if limit != -1.0 && limit < deserved {
            return Err(bad(format!(
                "gpu.limit ({limit}) must be -1 (no limit) or at least gpu.deserved ({deserved})"
            )));
        }
        if weight < 0.0 || weight.fract() != 0.0 {
            return Err(bad(format!("gpu.overQuotaWeight must be a whole number at least 0, not {weight}")));
        }
        quota = Some((deserved, limit, weight));
    }
    let (deserved, limit, weight) = quota.unwrap_or((0.0, -1.0, 2.0));
    let n = |f: f64| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number);
    let whole = |f: f64| if f.fract() == 0.0 { json!(f as i64) } else { n(f) };
    Ok(json!([{
        "nodePool": { "id": pool_id, "name": "default" },
        "gpu": { "deserved": whole(deserved), "limit": whole(limit), "overQuotaWeight": whole(weight) },
        "cpu": { "deserved": null, "limit": null, "overQuotaWeight": null },
        "memory": { "deserved": null, "limit": null, "overQuotaWeight": null, "units": "Mib" },
        "priority": "Normal",
    }]))
}

fn parse_body(req: &Request<'_>) -> Result<Value, Answer> {
    match serde_json::from_slice::<Value>(req.body) {
        Ok(v) if v.is_object() => Ok(v),
        Ok(_) => Err(Answer::error(400, "the request body must be a JSON object")),
        Err(e) => Err(Answer::error(400, format!("the request body is not valid JSON: {e}"))),
    }
}

fn create_project(cloud: &mut Cloud, req: &Request<'_>, live: &[Cluster]) -> Answer {
    let body = match parse_body(req) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let Some(name) = body.get("name").and_then(Value::as_str) else {
        return Answer::error(400, "name is required");
    };
    if let Some(problem) = name_problem(name) {
        return Answer::error(400, problem);
    }
    let Some(cluster_id) = body.get("clusterId").and_then(Value::as_str) else {
        return Answer::error(400, "clusterId is required");
    };
    let Some(cluster) = live.iter().find(|c| c.uuid == cluster_id) else {
        return Answer::error(400, format!("cluster {cluster_id} does not exist"));
    };
    let parent = match body.get("parentId") {
        None | Some(Value::Null) => department_id(cluster),
        Some(Value::String(p)) if *p == department_id(cluster) => p.clone(),
        Some(p) => {
            return Answer::error(400, format!("department {p} does not exist in cluster {cluster_id}"));
        }
    };
    let namespace = match body.get("requestedNamespace") {
        None | Some(Value::Null) => format!("runai-{name}"),
        Some(Value::String(ns)) if !ns.is_empty() => ns.clone(),
        Some(_) => return Answer::error(400, "requestedNamespace must be a non-empty string"),
    };
    if namespace.len() > MAX_NAME {
        return Answer::error(
            400,
            format!("the project's namespace {namespace:?} would be longer than {MAX_NAME} characters"),
        );
    }
    let resources = match resources(&body, cluster) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let taken = cloud.runai.projects.values().any(|p| {
        p.body.get("clusterId").and_then(Value::as_str) == Some(cluster_id)
            && p.body.get("name").and_then(Value::as_str) == Some(name)
    });
    if taken {
        return Answer::error(
            409,
            format!("a project named {name:?} already exists in cluster {cluster_id}"),
        );
    }
    let now = crate::kube::now_rfc3339();
    let mut labels = serde_json::Map::new();
    labels.insert(QUEUE_LABEL.to_owned(), json!(name));
    if let Err(e) =
        crate::kube::ensure_namespace(&mut cloud.kube, &cluster.kube_key, &namespace, &labels, MANAGER, &now)
    {
        return Answer::error(
            409,
            format!("the project's namespace {namespace:?} cannot be made: {}", e.message),
        );
    }
    cloud.runai.next_id += 1;
    let id = cloud.runai.next_id;
    let description = body.get("description").and_then(Value::as_str).unwrap_or_default();
    let project = json!({
        "id": id.to_string(),
        "name": name,
        "description": description,
        "clusterId": cluster_id,
        "parentId": parent,
        "requestedNamespace": body.get("requestedNamespace").cloned().unwrap_or(Value::Null),
        "enforceRunaiScheduler": true,
        "resources": resources,
        "status": { "namespace": namespace, "phase": "Creating", "phaseMessage": "the cluster is creating the project" },
        "createdAt": now,
        "updatedAt": now,
        "createdBy": req.client_id,
        "updatedBy": req.client_id,
    });
    cloud.runai.projects.insert(id, Project { body: project.clone(), pending: req.polls });
    let mut answer = Answer::json(201, project).note("created");
    answer.resource = Some(format!("runai/projects/{id}"));
    answer.changed = true;
    answer
}

fn update_project(cloud: &mut Cloud, req: &Request<'_>, live: &[Cluster], id: u64) -> Answer {
    let body = match parse_body(req) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let Some(current) = cloud.runai.projects.get(&id).map(|p| p.body.clone()) else {
        return Answer::error(404, format!("project {id} not found"));
    };
    if current.pointer("/status/phase").and_then(Value::as_str) == Some("Deleting") {
        return Answer::error(409, format!("project {id} is being deleted"));
    }
    let cluster_id = current.get("clusterId").and_then(Value::as_str).unwrap_or_default();
    let Some(cluster) = live.iter().find(|c| c.uuid == cluster_id) else {
        return Answer::error(404, format!("project {id} not found"));
    };
    for fixed in ["name", "clusterId", "parentId"] {
        if let Some(v) = body.get(fixed)
            && !v.is_null()
            && current.get(fixed) != Some(v)
        {
            return Answer::error(400, format!("{fixed} cannot be changed by an update"));
        }
    }
    let resources = match resources(&body, cluster) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let mut project = current;
    project["resources"] = resources;
    if let Some(d) = body.get("description").and_then(Value::as_str) {
        project["description"] = json!(d);
    }
    project["status"]["phase"] = json!("Updating");
    project["updatedAt"] = json!(crate::kube::now_rfc3339());
    project["updatedBy"] = json!(req.client_id);
    cloud.runai.projects.insert(id, Project { body: project.clone(), pending: req.polls });
    let mut answer = Answer::json(200, project);
    answer.resource = Some(format!("runai/projects/{id}"));
    answer.changed = true;
    answer
}

fn delete_project(cloud: &mut Cloud, req: &Request<'_>, id: u64) -> Answer {
    let Some(p) = cloud.runai.projects.get_mut(&id) else {
        return Answer::error(404, format!("project {id} not found"));
    };
    if p.body.pointer("/status/phase").and_then(Value::as_str) != Some("Deleting") {
        p.body["status"]["phase"] = json!("Deleting");
        p.body["status"]["phaseMessage"] = json!("the cluster is deleting the project");
        p.pending = req.polls;
    }
    let mut answer =
        Answer { status: 202, body: None, note: Some("deleted".into()), resource: None, changed: true };
    answer.resource = Some(format!("runai/projects/{id}"));
    answer
}
