//! The data source `runai_cluster`: a Run:ai cluster found by name (`GET /api/v1/clusters`),
//! so that a stack can write `cluster_id = data.runai_cluster.aks.id`.

use lanestack_model::{
    AttrPath, AttrType, Attribute, Block, ErrorKind, ProviderError, ResourceSchema, Value,
};

use crate::client::Client;

/// The data source's name.
pub const TYPE_NAME: &str = "runai_cluster";

/// The schema.
pub fn schema() -> ResourceSchema {
    let s = || AttrType::String;
    let block = Block::new()
        .attr("name", Attribute::required(s()).describe("The cluster's name in Run:ai."))
        .attr("id", Attribute::computed(s()).describe("The cluster's uuid."))
        .attr("version", Attribute::computed(s()).describe("The version of Run:ai's cluster agent."))
        .attr("status", Attribute::computed(s()).describe("Its state (Connected)."));
    ResourceSchema::new("A Run:ai cluster, by name.", block)
}

/// Looks the cluster up by name: exactly one must match.
pub async fn read(client: &Client, config: &Value) -> Result<Value, ProviderError> {
    let name = config.get(&AttrPath::attr("name")).and_then(Value::as_str).unwrap_or_default();
    let answer = client.call("GET", "/api/v1/clusters", None).await?;
    if answer.status != 200 {
        return Err(client.error("GET /api/v1/clusters", &answer));
    }
    let all = answer.body.as_array().cloned().unwrap_or_default();
    let named = |c: &serde_json::Value| c.get("name").and_then(serde_json::Value::as_str).map(str::to_owned);
    let matching: Vec<&serde_json::Value> =
        all.iter().filter(|c| named(c).as_deref() == Some(name)).collect();
    let cluster = match matching.as_slice() {
        [one] => *one,
        [] => {
            let names: Vec<String> = all.iter().filter_map(named).collect();
            return Err(ProviderError::new(
                ErrorKind::NotFound,
                format!("no Run:ai cluster is named {name:?} (the control plane has: {})", names.join(", ")),
            ));
        }
        _ => {
            return Err(ProviderError::new(
                ErrorKind::Invalid,
                format!("more than one Run:ai cluster is named {name:?}"),
            ));
        }
    };
    let s = |p: &str| cluster.pointer(p).and_then(serde_json::Value::as_str).map_or(Value::Null, Value::from);
    Ok(Value::object([
        ("name", Value::from(name)),
        ("id", s("/uuid")),
        ("version", s("/version")),
        ("status", s("/status/state")),
    ]))
}
