//! `runai_project`: a Run:ai project (`/api/v1/org-unit/projects`) with GPU quotas per node
//! pool, and the namespace Run:ai makes for it.
//!
//! Plan needs no IO: identity (`name`, `cluster_id`, a set `parent_id`) forces replacement,
//! quotas update in place (`PUT`), and `id`, `namespace`, `status` are known after a create.
//! A create first looks the name up in the cluster and refuses one that is there
//! (`AlreadyExists`: a project is never adopted), resolves node pool names to ids, and waits
//! until the project's phase is `Ready`; an update waits likewise; a delete waits until the
//! project is gone.

use std::time::{Duration, Instant};

use lanestack_model::path::PathStep;
use lanestack_model::schema::plan_by_schema;
use lanestack_model::{
    AttrPath, AttrType, Attribute, Block, ErrorKind, Nesting, PlanResponse, ProviderError, ResourceSchema,
    Value,
};
use serde_json::json;

use crate::client::{Client, encode};

/// The resource type's name.
pub const TYPE_NAME: &str = "runai_project";

/// The longest project name: `runai-<name>` must be a namespace name (63 characters).
pub const MAX_NAME: usize = 57;

/// A node pool's over-quota weight when the stack sets none (Run:ai's "medium").
const DEFAULT_WEIGHT: i64 = 2;

/// How long a project may take to become ready, or to go.
const WAIT: Duration = Duration::from_secs(600);

/// The schema.
pub fn schema() -> ResourceSchema {
    let s = || AttrType::String;
    let n = || AttrType::Number;
    let pool = Block::new()
        .attr("name", Attribute::required(s()).describe("The node pool's name (`default`: all nodes)."))
        .attr(
            "gpu_deserved",
            Attribute::required(n()).describe("GPUs guaranteed to the project in this pool."),
        )
        .attr(
            "gpu_limit",
            Attribute::optional(n())
                .describe("The most GPUs the project may use in this pool; -1 (the default): no limit."),
        )
        .attr(
            "gpu_over_quota_weight",
            Attribute::optional(n())
                .describe("Its share of GPUs beyond the quotas (default 2, Run:ai's medium)."),
        );
    let block = Block::new()
        .attr(
            "name",
            Attribute::required(s())
                .force_new()
                .describe("The project's name: lowercase letters, digits and '-'."),
        )
        .attr("cluster_id", Attribute::required(s()).force_new().describe("The Run:ai cluster's uuid."))
        .attr(
            "parent_id",
            Attribute::optional_computed(s())
                .force_new()
                .describe("The department's id (default: the cluster's default department)."),
        )
        .block("node_pool", Nesting::List, pool)
        .attr("id", Attribute::computed(s()).describe("The project's id."))
        .attr(
            "namespace",
            Attribute::computed(s()).describe("The namespace Run:ai made for it (runai-<name>)."),
        )
        .attr("status", Attribute::computed(s()).describe("The project's phase (Ready)."));
    ResourceSchema::new("A Run:ai project: a scheduling queue with GPU quotas, and its namespace.", block)
}

fn text<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get(&AttrPath::attr(name)).and_then(Value::as_str)
}

fn number(v: &Value, name: &str) -> Option<f64> {
    v.get(&AttrPath::attr(name)).and_then(Value::as_f64)
}

fn pools(v: &Value) -> &[Value] {
    v.get(&AttrPath::attr("node_pool")).and_then(Value::as_list).unwrap_or_default()
}

/// Why a project name is refused, if it is.
pub fn name_problem(name: &str) -> Option<String> {
    let chars = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let first = name.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
    let last = name.bytes().last().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (name.is_empty() || name.len() > MAX_NAME || !chars || !first || !last).then(|| {
        format!(
            "{name:?} is not a Run:ai project name: 1 to {MAX_NAME} lowercase letters, digits or '-', starting with \
             a letter and ending with a letter or digit (its namespace runai-<name> must be a Kubernetes name)"
        )
    })
}

/// Checks what the schema cannot say: the name, and each pool's quotas.
pub fn validate(config: &Value) -> Vec<(AttrPath, String)> {
    let mut out = Vec::new();
    if let Some(problem) = text(config, "name").and_then(name_problem) {
        out.push((AttrPath::attr("name"), problem));
    }
    let mut seen = Vec::new();
    for (i, pool) in pools(config).iter().enumerate() {
        let at =
            |f: &str| AttrPath::attr("node_pool").join(PathStep::Index(i)).join(PathStep::Attr(f.to_owned()));
        if let Some(name) = text(pool, "name") {
            if seen.contains(&name) {
                out.push((at("name"), format!("node pool {name:?} appears twice")));
            }
            seen.push(name);
        }
        let deserved = number(pool, "gpu_deserved");
        if deserved.is_some_and(|d| d < 0.0) {
            out.push((at("gpu_deserved"), "gpu_deserved must be at least 0".to_owned()));
        }
        if let (Some(limit), Some(d)) = (number(pool, "gpu_limit"), deserved)
            && limit != -1.0
            && limit < d
        {
            out.push((
                at("gpu_limit"),
                format!("gpu_limit ({limit}) must be -1 (no limit) or at least gpu_deserved ({d})"),
            ));
        }
        if number(pool, "gpu_over_quota_weight").is_some_and(|w| w < 0.0 || w.fract() != 0.0) {
            out.push((
                at("gpu_over_quota_weight"),
                "gpu_over_quota_weight must be a whole number at least 0".to_owned(),
            ));
        }
    }
    out
}

/// The facts, from the configuration and prior state alone; unset pool settings get their
/// defaults so that what is planned is what the control plane will hold.
pub fn plan(prior: Option<&Value>, config: &Value) -> PlanResponse {
    let mut response = plan_by_schema(&schema().block, prior, config);
    if let Some(list) = response.planned_state.get(&AttrPath::attr("node_pool")).and_then(Value::as_list) {
        let filled: Vec<Value> = list.iter().map(with_defaults).collect();
        response.planned_state.set(&AttrPath::attr("node_pool"), Value::List(filled));
    }
    response
}

fn with_defaults(pool: &Value) -> Value {
    let mut pool = pool.clone();
    for (field, default) in
        [("gpu_limit", Value::from(-1)), ("gpu_over_quota_weight", Value::from(DEFAULT_WEIGHT))]
    {
        if pool.get(&AttrPath::attr(field)).is_none_or(Value::is_null) {
            pool.set(&AttrPath::attr(field), default);
        }
    }
    pool
}

/// The node pools of the cluster: name to id.
async fn node_pools(client: &Client, cluster: &str) -> Result<Vec<(String, String)>, ProviderError> {
    let path = format!("/api/v1/node-pools?filterBy={}", encode(&format!("clusterId=={cluster}")));
    let answer = client.call("GET", &path, None).await?;
    if answer.status != 200 {
        return Err(client.error("GET /api/v1/node-pools", &answer));
    }
    let list =
        answer.body.get("nodePools").and_then(serde_json::Value::as_array).cloned().unwrap_or_default();
    Ok(list
        .iter()
        .filter_map(|p| Some((p.get("name")?.as_str()?.to_owned(), p.get("id")?.as_str()?.to_owned())))
        .collect())
}

/// The request's `resources`, node pools by id and name.
async fn resources(client: &Client, planned: &Value) -> Result<serde_json::Value, ProviderError> {
    let cluster = text(planned, "cluster_id").unwrap_or_default();
    let known = node_pools(client, cluster).await?;
    let mut out = Vec::new();
    for pool in pools(planned) {
        let pool = with_defaults(pool);
        let name = text(&pool, "name").unwrap_or_default();
        let Some((_, id)) = known.iter().find(|(n, _)| n == name) else {
            let names: Vec<&str> = known.iter().map(|(n, _)| n.as_str()).collect();
            return Err(ProviderError::new(
                ErrorKind::Invalid,
                format!(
                    "node pool {name:?} is not in Run:ai cluster {cluster} (it has: {})",
                    names.join(", ")
                ),
            ));
        };
        let num =
            |f: &str| pool.get(&AttrPath::attr(f)).map(Value::to_json).unwrap_or(serde_json::Value::Null);
        out.push(json!({
            "nodePool": { "id": id, "name": name },
            "gpu": { "deserved": num("gpu_deserved"), "limit": num("gpu_limit"), "overQuotaWeight": num("gpu_over_quota_weight") },
        }));
    }
    Ok(serde_json::Value::Array(out))
}

/// The projects named `name` in `cluster`.
async fn find(client: &Client, name: &str, cluster: &str) -> Result<Vec<serde_json::Value>, ProviderError> {
    let filter = encode(&format!("name=={name},clusterId=={cluster}"));
    let answer = client.call("GET", &format!("/api/v1/org-unit/projects?filterBy={filter}"), None).await?;
    if answer.status != 200 {
        return Err(client.error("GET /api/v1/org-unit/projects", &answer));
    }
    let list = answer.body.get("projects").and_then(serde_json::Value::as_array).cloned().unwrap_or_default();
    // Filters are the server's; the name is checked here too.
    Ok(list.into_iter().filter(|p| p.get("name").and_then(serde_json::Value::as_str) == Some(name)).collect())
}

/// Reads a project by id; `None` when it is gone.
async fn get(client: &Client, id: &str) -> Result<Option<serde_json::Value>, ProviderError> {
    let path = format!("/api/v1/org-unit/projects/{}", encode(id));
    let answer = client.call("GET", &path, None).await?;
    match answer.status {
        200 => Ok(Some(answer.body)),
        404 => Ok(None),
        _ => Err(client.error("GET /api/v1/org-unit/projects/{id}", &answer)),
    }
}

fn phase(p: &serde_json::Value) -> (&str, &str) {
    (
        p.pointer("/status/phase").and_then(serde_json::Value::as_str).unwrap_or("Unknown"),
        p.pointer("/status/phaseMessage").and_then(serde_json::Value::as_str).unwrap_or_default(),
    )
}

/// Polls until the project is `Ready` (or, `gone`, until it is not there), with back-off.
async fn wait(
    client: &Client,
    id: &str,
    name: &str,
    gone: bool,
) -> Result<Option<serde_json::Value>, ProviderError> {
    let started = Instant::now();
    let mut delay = Duration::from_millis(100);
    loop {
        match get(client, id).await? {
            None if gone => return Ok(None),
            None => {
                return Err(ProviderError::new(
                    ErrorKind::Failed,
                    format!("Run:ai project {name} (id {id}) disappeared"),
                ));
            }
            Some(p) if !gone && phase(&p).0 == "Ready" => return Ok(Some(p)),
            Some(p) if started.elapsed() >= WAIT => {
                let (ph, message) = phase(&p);
                let last = if message.is_empty() { ph.to_owned() } else { format!("{ph}: {message}") };
                let goal = if gone { "gone" } else { "ready" };
                return Err(ProviderError::new(
                    ErrorKind::Transient,
                    format!(
                        "Run:ai project {name} (id {id}) was not {goal} after {}s; the control plane reports phase {last}",
                        WAIT.as_secs()
                    ),
                ));
            }
            Some(_) => {}
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

/// The state of a project, its pools in the order of `like` (the planned or prior state),
/// then any other pool the server gives a quota.
pub fn state(p: &serde_json::Value, like: Option<&Value>) -> Value {
    let s = |path: &str| p.pointer(path).and_then(serde_json::Value::as_str).map_or(Value::Null, Value::from);
    let order: Vec<String> = like
        .map(pools)
        .unwrap_or_default()
        .iter()
        .filter_map(|v| text(v, "name").map(str::to_owned))
        .collect();
    let mut listed: Vec<(usize, Value)> = Vec::new();
    for r in p.get("resources").and_then(serde_json::Value::as_array).map(Vec::as_slice).unwrap_or_default() {
        let name = r.pointer("/nodePool/name").and_then(serde_json::Value::as_str).unwrap_or_default();
        let num = |f: &str| r.pointer(&format!("/gpu/{f}")).map(Value::from_json).unwrap_or(Value::Null);
        let pool = Value::object([
            ("name", Value::from(name)),
            ("gpu_deserved", num("deserved")),
            ("gpu_limit", num("limit")),
            ("gpu_over_quota_weight", num("overQuotaWeight")),
        ]);
        let position = order.iter().position(|n| n == name);
        let quota = num("deserved").as_f64().is_some_and(|d| d != 0.0)
            || num("limit").as_f64().is_some_and(|l| l != -1.0);
        match position {
            Some(i) => listed.push((i, pool)),
            None if quota => listed.push((order.len(), pool)),
            None => {}
        }
    }
    listed.sort_by_key(|(i, _)| *i);
    Value::object([
        (
            "id",
            p.get("id").map_or(Value::Null, |v| {
                Value::from(v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            }),
        ),
        ("name", s("/name")),
        ("cluster_id", s("/clusterId")),
        ("parent_id", s("/parentId")),
        ("namespace", s("/status/namespace")),
        ("status", s("/status/phase")),
        ("node_pool", Value::List(listed.into_iter().map(|(_, v)| v).collect())),
    ])
}

/// Creates the project and waits until it is ready.
pub async fn create(client: &Client, planned: &Value) -> Result<Value, ProviderError> {
    let name = text(planned, "name").unwrap_or_default();
    let cluster = text(planned, "cluster_id").unwrap_or_default();
    if !find(client, name, cluster).await?.is_empty() {
        return Err(ProviderError::new(
            ErrorKind::AlreadyExists,
            format!("a Run:ai project named {name} already exists in cluster {cluster}; import or rename it"),
        ));
    }
    let mut body =
        json!({ "name": name, "clusterId": cluster, "resources": resources(client, planned).await? });
    if let Some(parent) = text(planned, "parent_id") {
        body["parentId"] = json!(parent);
    }
    let answer = client.call("POST", "/api/v1/org-unit/projects", Some(&body)).await?;
    if answer.status == 409 {
        let mut e = client.error("POST /api/v1/org-unit/projects", &answer);
        e.kind = ErrorKind::AlreadyExists;
        return Err(e);
    }
    if !(200..300).contains(&answer.status) {
        return Err(client.error("POST /api/v1/org-unit/projects", &answer));
    }
    let id = match answer.body.get("id") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => {
            return Err(ProviderError::new(
                ErrorKind::Failed,
                "Run:ai created the project but answered no id",
            ));
        }
    };
    let ready = wait(client, &id, name, false).await?;
    Ok(state(&ready.unwrap_or(answer.body), Some(planned)))
}

/// Updates the quotas in place and waits until the project is ready again.
pub async fn update(client: &Client, prior: &Value, planned: &Value) -> Result<Value, ProviderError> {
    let id = text(prior, "id").unwrap_or_default();
    let name = text(planned, "name").unwrap_or_default();
    let body = json!({ "resources": resources(client, planned).await? });
    let answer =
        client.call("PUT", &format!("/api/v1/org-unit/projects/{}", encode(id)), Some(&body)).await?;
    if !(200..300).contains(&answer.status) {
        return Err(client.error("PUT /api/v1/org-unit/projects/{id}", &answer));
    }
    let ready = wait(client, id, name, false).await?;
    Ok(state(&ready.unwrap_or(answer.body), Some(planned)))
}

/// Deletes the project and waits until it is gone.
pub async fn delete(client: &Client, prior: &Value) -> Result<(), ProviderError> {
    let id = text(prior, "id").unwrap_or_default();
    let name = text(prior, "name").unwrap_or_default();
    let answer = client.call("DELETE", &format!("/api/v1/org-unit/projects/{}", encode(id)), None).await?;
    match answer.status {
        404 => Ok(()),
        200..=299 => wait(client, id, name, true).await.map(|_| ()),
        _ => Err(client.error("DELETE /api/v1/org-unit/projects/{id}", &answer)),
    }
}

/// Reads the project back; `None` when it is gone (or on its way out).
pub async fn read(client: &Client, recorded: &Value) -> Result<Option<Value>, ProviderError> {
    let Some(id) = text(recorded, "id").filter(|i| !i.is_empty()) else {
        // An interrupted create: find it by name.
        let (name, cluster) =
            (text(recorded, "name").unwrap_or_default(), text(recorded, "cluster_id").unwrap_or_default());
        return Ok(find(client, name, cluster).await?.first().map(|p| state(p, Some(recorded))));
    };
    Ok(get(client, id)
        .await?
        .filter(|p| !matches!(phase(p).0, "Deleting" | "Deleted"))
        .map(|p| state(&p, Some(recorded))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(name: &str, pools: Vec<Value>) -> Value {
        Value::object([
            ("name", Value::from(name)),
            ("cluster_id", Value::from("c-1")),
            ("parent_id", Value::Null),
            ("node_pool", Value::List(pools)),
        ])
    }

    fn pool(name: &str, deserved: f64, limit: Option<f64>) -> Value {
        Value::object([
            ("name", Value::from(name)),
            ("gpu_deserved", Value::from_f64(deserved)),
            ("gpu_limit", limit.map_or(Value::Null, Value::from_f64)),
            ("gpu_over_quota_weight", Value::Null),
        ])
    }

    #[test]
    fn names_follow_runai_rules() {
        assert!(name_problem("lane-detection").is_none());
        assert!(name_problem(&"a".repeat(57)).is_none());
        for bad in ["", "Lane", "-a", "a-", "a_b", "1a", &"a".repeat(58)] {
            assert!(name_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn quotas_are_checked() {
        let ok = config("p", vec![pool("default", 2.0, Some(4.0))]);
        assert!(validate(&ok).is_empty());
        let bad = config("P", vec![pool("default", -1.0, None), pool("default", 3.0, Some(2.0))]);
        let problems: Vec<String> = validate(&bad).into_iter().map(|(p, _)| p.to_string()).collect();
        assert!(problems.contains(&"name".to_owned()), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("gpu_deserved")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("gpu_limit")), "{problems:?}");
        assert!(problems.iter().any(|p| p.ends_with("name") && p.starts_with("node_pool")), "{problems:?}");
    }

    #[test]
    fn a_new_project_plans_without_io_with_unknown_computed_attributes() {
        let r = plan(None, &config("p", vec![pool("default", 1.0, None)]));
        for computed in ["id", "namespace", "status", "parent_id"] {
            assert_eq!(r.planned_state.get(&AttrPath::attr(computed)), Some(&Value::Unknown), "{computed}");
        }
        let p = &pools(&r.planned_state)[0];
        assert_eq!(number(p, "gpu_limit"), Some(-1.0));
        assert_eq!(number(p, "gpu_over_quota_weight"), Some(2.0));
    }

    #[test]
    fn identity_replaces_and_quotas_update() {
        let prior = {
            let mut v = plan(None, &config("p", vec![pool("default", 1.0, None)])).planned_state;
            for (k, x) in [("id", "7"), ("namespace", "runai-p"), ("status", "Ready"), ("parent_id", "d-1")] {
                v.set(&AttrPath::attr(k), Value::from(x));
            }
            v
        };
        let r = plan(Some(&prior), &config("p", vec![pool("default", 3.0, None)]));
        assert!(r.requires_replace.is_empty());
        assert_eq!(r.planned_state.get(&AttrPath::attr("parent_id")), Some(&Value::from("d-1")));
        assert_eq!(r.planned_state.get(&AttrPath::attr("id")), Some(&Value::from("7")));
        let same = plan(Some(&prior), &config("p", vec![pool("default", 1.0, None)]));
        assert_eq!(same.planned_state, prior);
        let renamed = plan(Some(&prior), &config("q", vec![pool("default", 1.0, None)]));
        assert_eq!(renamed.requires_replace, vec![AttrPath::attr("name")]);
    }

    #[test]
    fn state_keeps_the_stack_s_pools_and_others_with_quota() {
        let p = json!({
            "id": "3", "name": "p", "clusterId": "c-1", "parentId": "d-1",
            "status": { "namespace": "runai-p", "phase": "Ready" },
            "resources": [
                { "nodePool": { "id": "x", "name": "a100" }, "gpu": { "deserved": 0, "limit": -1, "overQuotaWeight": 2 } },
                { "nodePool": { "id": "y", "name": "default" }, "gpu": { "deserved": 2, "limit": -1, "overQuotaWeight": 2 } },
                { "nodePool": { "id": "z", "name": "h100" }, "gpu": { "deserved": 1, "limit": 4, "overQuotaWeight": 1 } },
            ],
        });
        let s = state(&p, Some(&config("p", vec![pool("default", 2.0, None)])));
        let names: Vec<&str> = pools(&s).iter().filter_map(|v| text(v, "name")).collect();
        assert_eq!(names, ["default", "h100"]);
        assert_eq!(text(&s, "namespace"), Some("runai-p"));
        assert_eq!(text(&s, "id"), Some("3"));
    }
}
