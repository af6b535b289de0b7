//! Plans and state as JSON in the shape of `terraform show -json`, so that tools that read
//! Terraform's plan representation can read lanestack's.
//!
//! Sensitive values never appear: they are written as `null` and flagged in
//! `before_sensitive`/`after_sensitive`. Unknown values are `null` and flagged in
//! `after_unknown`.

use lanestack_model::{Action, InstanceKey, ResourceAddress, Value};
use serde_json::{Map, Value as Json, json};

use crate::plan::{Plan, PlanMode};
use crate::secrets::Secrets;
use crate::state::StateFile;

/// The version of this JSON format.
pub const FORMAT_VERSION: &str = "0.1";

/// A value as JSON with every sensitive part replaced by `null`.
pub fn redacted(v: &Value) -> Json {
    match v {
        Value::Sensitive(_) | Value::Unknown | Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => Json::Number(n.clone()),
        Value::String(s) => Json::String(s.clone()),
        Value::List(l) => Json::Array(l.iter().map(redacted).collect()),
        Value::Object(m) => Json::Object(m.iter().map(|(k, v)| (k.clone(), redacted(v))).collect()),
    }
}

fn shape(v: Option<&Value>, f: fn(&Value) -> Option<Json>) -> Json {
    v.and_then(f).unwrap_or_else(|| if v.is_some() { json!({}) } else { json!(false) })
}

fn index(addr: &ResourceAddress) -> Json {
    match &addr.key {
        None => Json::Null,
        Some(InstanceKey::Int(i)) => json!(i),
        Some(InstanceKey::Str(s)) => json!(s),
    }
}

/// The plan as JSON.
pub fn plan_json(plan: &Plan, secrets: Secrets) -> Json {
    let redacted = |v: &Value| redacted(&secrets.prepare(v));
    let resource_changes: Vec<Json> = plan
        .changes
        .iter()
        .map(|c| {
            let ch = &c.change;
            let mut change = Map::new();
            change.insert("actions".into(), json!(ch.action.terraform_actions()));
            change.insert("before".into(), ch.before.as_ref().map_or(Json::Null, redacted));
            change.insert("after".into(), ch.after.as_ref().map_or(Json::Null, redacted));
            change.insert("after_unknown".into(), shape(ch.after.as_ref(), Value::unknown_shape));
            change.insert("before_sensitive".into(), shape(ch.before.as_ref(), Value::sensitive_shape));
            change.insert("after_sensitive".into(), shape(ch.after.as_ref(), Value::sensitive_shape));
            if !ch.replace_paths.is_empty() {
                let paths: Vec<Json> = ch
                    .replace_paths
                    .iter()
                    .map(|p| {
                        Json::Array(
                            p.steps()
                                .iter()
                                .map(|s| match s {
                                    lanestack_model::PathStep::Attr(a) => json!(a),
                                    lanestack_model::PathStep::Index(i) => json!(i),
                                })
                                .collect(),
                        )
                    })
                    .collect();
                change.insert("replace_paths".into(), Json::Array(paths));
            }
            let mut rc = Map::new();
            rc.insert("address".into(), json!(ch.address.to_string()));
            rc.insert("mode".into(), json!("managed"));
            rc.insert("type".into(), json!(ch.address.type_name()));
            rc.insert("name".into(), json!(ch.address.block.name));
            if ch.address.key.is_some() {
                rc.insert("index".into(), index(&ch.address));
            }
            rc.insert("provider_name".into(), json!(ch.address.block.provider()));
            rc.insert("change".into(), Json::Object(change));
            if let Some(code) = ch.reason.and_then(|r| r.terraform_code()) {
                rc.insert("action_reason".into(), json!(code));
            }
            Json::Object(rc)
        })
        .collect();
    let drift: Vec<Json> = plan
        .drift
        .iter()
        .map(|d| {
            json!({
                "address": d.address.to_string(),
                "type": d.address.type_name(),
                "name": d.address.block.name,
                "change": {
                    "actions": if d.live.is_some() { Action::Update } else { Action::Delete }.terraform_actions(),
                    "before": redacted(&d.recorded),
                    "after": d.live.as_ref().map_or(Json::Null, redacted),
                }
            })
        })
        .collect();
    let outputs: Map<String, Json> = plan
        .outputs
        .iter()
        .map(|o| {
            (
                o.name.clone(),
                json!({
                    "actions": o.action.terraform_actions(),
                    "before": o.before.as_ref().map_or(Json::Null, redacted),
                    "after": o.after.as_ref().map_or(Json::Null, redacted),
                    "after_unknown": o.after.as_ref().is_some_and(Value::contains_unknown),
                    "before_sensitive": o.sensitive,
                    "after_sensitive": o.sensitive,
                }),
            )
        })
        .collect();
    let variables: Map<String, Json> =
        plan.variables.iter().map(|(k, v)| (k.clone(), json!({ "value": redacted(v) }))).collect();
    json!({
        "format_version": FORMAT_VERSION,
        "lanestack_version": env!("CARGO_PKG_VERSION"),
        "plan_mode": match plan.mode { PlanMode::Normal => "normal", PlanMode::Destroy => "destroy" },
        "variables": variables,
        "resource_changes": resource_changes,
        "resource_drift": drift,
        "output_changes": outputs,
        "errored": false,
    })
}

/// The state as JSON (`lanestack show --format json` without a plan file).
pub fn state_json(state: &StateFile) -> Json {
    let resources: Vec<Json> = state
        .resources
        .values()
        .map(|r| {
            let mut m = Map::new();
            m.insert("address".into(), json!(r.address.to_string()));
            m.insert("mode".into(), json!("managed"));
            m.insert("type".into(), json!(r.address.type_name()));
            m.insert("name".into(), json!(r.address.block.name));
            if r.address.key.is_some() {
                m.insert("index".into(), index(&r.address));
            }
            m.insert("values".into(), redacted(&r.value));
            m.insert("sensitive_values".into(), shape(Some(&r.value), Value::sensitive_shape));
            m.insert(
                "depends_on".into(),
                json!(r.dependencies.iter().map(ToString::to_string).collect::<Vec<_>>()),
            );
            if r.tainted {
                m.insert("tainted".into(), json!(true));
            }
            Json::Object(m)
        })
        .collect();
    let outputs: Map<String, Json> = state
        .outputs
        .iter()
        .map(|(k, o)| (k.clone(), json!({ "value": redacted(&o.value), "sensitive": o.sensitive })))
        .collect();
    json!({
        "format_version": FORMAT_VERSION,
        "lanestack_version": env!("CARGO_PKG_VERSION"),
        "values": { "outputs": outputs, "root_module": { "resources": resources } },
    })
}
