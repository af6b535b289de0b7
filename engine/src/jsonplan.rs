//! Plans and state as JSON in the shape of `terraform show -json`, so that tools that read
//! Terraform's plan representation can read lanestack's.
//!
//! Sensitive values never appear: they are written as `null` and flagged in
//! `before_sensitive`/`after_sensitive` (unless the user asked to see them). Unknown values are
//! `null` and flagged in `after_unknown`. Every field and every deviation from Terraform is in
//! `docs/plan-json.md`; `docs/plan-json.schema.json` is the JSON Schema a test holds it to.

use lanestack_model::{Action, InstanceKey, Mode, ResourceAddress, Value};
use serde_json::{Map, Value as Json, json};

use crate::config::RefTarget;
use crate::plan::{Plan, PlanMode};
use crate::secrets::Secrets;
use crate::state::StateFile;

/// The version of this JSON format.
/// `1.x`, so that tools that accept Terraform's `>= 0.1, < 2.0` read it; the minor version
/// grows with additions, the major one with anything that breaks a reader.
pub const FORMAT_VERSION: &str = "1.0";

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

fn replace_paths(paths: &[lanestack_model::AttrPath]) -> Json {
    Json::Array(
        paths
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
            .collect(),
    )
}

/// The fields that identify a resource instance, shared by every list of resources.
fn identity(addr: &ResourceAddress) -> Map<String, Json> {
    let mut rc = Map::new();
    rc.insert("address".into(), json!(addr.to_string()));
    rc.insert(
        "mode".into(),
        json!(match addr.block.mode {
            Mode::Managed => "managed",
            Mode::Data => "data",
        }),
    );
    rc.insert("type".into(), json!(addr.type_name()));
    rc.insert("name".into(), json!(addr.block.name));
    if addr.key.is_some() {
        rc.insert("index".into(), index(addr));
    }
    rc.insert("provider_name".into(), json!(addr.block.provider()));
    rc
}

/// A `change` object: actions, values and their unknown and sensitive shapes.
fn change_object(
    action: Action,
    before: Option<&Value>,
    after: Option<&Value>,
    secrets: Secrets,
) -> Map<String, Json> {
    let shown = |v: Option<&Value>| v.map_or(Json::Null, |v| redacted(&secrets.prepare(v)));
    let mut change = Map::new();
    change.insert("actions".into(), json!(action.terraform_actions()));
    change.insert("before".into(), shown(before));
    change.insert("after".into(), shown(after));
    change.insert("after_unknown".into(), shape(after, Value::unknown_shape));
    change.insert("before_sensitive".into(), shape(before, Value::sensitive_shape));
    change.insert("after_sensitive".into(), shape(after, Value::sensitive_shape));
    change
}

/// A resource in `planned_values` or `prior_state`.
fn resource_values(addr: &ResourceAddress, value: &Value, secrets: Secrets) -> Json {
    let mut m = identity(addr);
    m.insert("schema_version".into(), json!(0));
    m.insert("values".into(), redacted(&secrets.prepare(value)));
    m.insert("sensitive_values".into(), shape(Some(value), Value::sensitive_shape));
    Json::Object(m)
}

fn output_value(v: &Value, sensitive: bool, secrets: Secrets) -> Json {
    let mut m = Map::new();
    m.insert("sensitive".into(), json!(sensitive || v.contains_sensitive()));
    if !v.contains_unknown() {
        m.insert("value".into(), redacted(&secrets.prepare(v)));
    }
    Json::Object(m)
}

/// The plan as JSON, in the shape of `terraform show -json PLANFILE` (see docs/plan-json.md).
pub fn plan_json(plan: &Plan, secrets: Secrets) -> Json {
    let resource_changes: Vec<Json> = plan
        .changes
        .iter()
        .map(|c| {
            let ch = &c.change;
            let mut change = change_object(ch.action, ch.before.as_ref(), ch.after.as_ref(), secrets);
            if !ch.replace_paths.is_empty() {
                change.insert("replace_paths".into(), replace_paths(&ch.replace_paths));
            }
            let mut rc = identity(&ch.address);
            rc.insert("change".into(), Json::Object(change));
            if let Some(code) = ch.reason.and_then(|r| r.terraform_code()) {
                rc.insert("action_reason".into(), json!(code));
            }
            if c.data_bearing {
                rc.insert("lanestack_data_bearing".into(), json!(true));
            }
            if c.prevent_destroy {
                rc.insert("lanestack_prevent_destroy".into(), json!(true));
            }
            Json::Object(rc)
        })
        .collect();
    let mut resource_changes = resource_changes;
    for (addr, old) in &plan.deposed {
        resource_changes.push(json!({
            "address": addr.to_string(),
            "mode": "managed",
            "type": addr.type_name(),
            "name": addr.block.name,
            "provider_name": addr.block.provider(),
            "deposed": "00000001",
            "change": {
                "actions": ["delete"],
                "before": redacted(old),
                "after": null,
                "after_unknown": false,
                "before_sensitive": shape(Some(old), Value::sensitive_shape),
                "after_sensitive": false,
            },
        }));
    }
    let drift: Vec<Json> = plan
        .drift
        .iter()
        .map(|d| {
            let action = if d.live.is_some() { Action::Update } else { Action::Delete };
            let mut rc = identity(&d.address);
            rc.insert(
                "change".into(),
                Json::Object(change_object(action, Some(&d.recorded), d.live.as_ref(), secrets)),
            );
            Json::Object(rc)
        })
        .collect();
    let outputs: Map<String, Json> = plan
        .outputs
        .iter()
        .map(|o| {
            let shown = |v: &Option<Value>| {
                v.as_ref().map_or(Json::Null, |v| {
                    if v.contains_unknown() { Json::Null } else { redacted(&secrets.prepare(v)) }
                })
            };
            (
                o.name.clone(),
                json!({
                    "actions": o.action.terraform_actions(),
                    "before": shown(&o.before),
                    "after": shown(&o.after),
                    "after_unknown": o.after.as_ref().is_some_and(Value::contains_unknown),
                    "before_sensitive": o.sensitive,
                    "after_sensitive": o.sensitive,
                }),
            )
        })
        .collect();
    let variables: Map<String, Json> = plan
        .variables
        .iter()
        .map(|(k, v)| (k.clone(), json!({ "value": redacted(&secrets.prepare(v)) })))
        .collect();

    let planned_resources: Vec<Json> = plan
        .changes
        .iter()
        .filter_map(|c| {
            c.change.after.as_ref().map(|after| resource_values(&c.change.address, after, secrets))
        })
        .collect();
    let planned_outputs: Map<String, Json> = plan
        .outputs
        .iter()
        .filter_map(|o| o.after.as_ref().map(|v| (o.name.clone(), output_value(v, o.sensitive, secrets))))
        .collect();
    let prior_resources: Vec<Json> = plan
        .changes
        .iter()
        .filter_map(|c| {
            c.change.before.as_ref().map(|before| resource_values(&c.change.address, before, secrets))
        })
        .collect();
    let prior_outputs: Map<String, Json> = plan
        .outputs
        .iter()
        .filter_map(|o| o.before.as_ref().map(|v| (o.name.clone(), output_value(v, o.sensitive, secrets))))
        .collect();

    json!({
        "format_version": FORMAT_VERSION,
        "lanestack_version": env!("CARGO_PKG_VERSION"),
        "plan_mode": match plan.mode { PlanMode::Normal => "normal", PlanMode::Destroy => "destroy" },
        "variables": variables,
        "planned_values": { "outputs": planned_outputs, "root_module": { "resources": planned_resources } },
        "resource_changes": resource_changes,
        "resource_drift": drift,
        "output_changes": outputs,
        "prior_state": {
            "format_version": FORMAT_VERSION,
            "lanestack_version": env!("CARGO_PKG_VERSION"),
            "values": { "outputs": prior_outputs, "root_module": { "resources": prior_resources } },
        },
        "configuration": configuration(plan),
        "applyable": plan.has_changes(),
        "complete": plan.targets.is_empty(),
        "errored": false,
    })
}

/// The references of an expression, as Terraform writes them (`var.x`, `aws_vpc.main.id`).
fn references(expr: &crate::config::Expr) -> Json {
    let mut out: Vec<String> = Vec::new();
    for r in &expr.refs {
        let base = match &r.target {
            RefTarget::Var(name) => format!("var.{name}"),
            RefTarget::Local(name) => format!("local.{name}"),
            RefTarget::Resource(addr) => addr.to_string(),
            RefTarget::Each => "each".to_owned(),
            RefTarget::Count => "count".to_owned(),
            RefTarget::Path => "path".to_owned(),
            RefTarget::SelfRef => "self".to_owned(),
        };
        // Like Terraform: the longest static traversal first, then the object itself.
        if let Some(first) = r.path.first() {
            out.push(format!("{base}.{first}"));
        }
        out.push(base);
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|r| seen.insert(r.clone()));
    json!({ "references": out })
}

/// The stack's configuration as far as it maps onto Terraform's `configuration`: providers,
/// resources with the references of each attribute, outputs and variables. Constant values
/// are left out (they could be secrets written in the stack).
fn configuration(plan: &Plan) -> Json {
    let loaded = crate::config::load_sources(plan.dir.clone(), plan.sources.clone());
    let stack = loaded.stack;
    let mut providers: Map<String, Json> = Map::new();
    for name in stack.resources.keys().map(|a| a.provider().to_owned()).chain(stack.providers.keys().cloned())
    {
        providers.insert(name.clone(), json!({ "name": name, "full_name": name }));
    }
    let resources: Vec<Json> = stack
        .resources
        .values()
        .map(|r| {
            let expressions: Map<String, Json> =
                r.body.attrs.iter().map(|a| (a.name.clone(), references(&a.value))).collect();
            let mut m = Map::new();
            m.insert("address".into(), json!(r.addr.to_string()));
            m.insert(
                "mode".into(),
                json!(match r.addr.mode {
                    Mode::Managed => "managed",
                    Mode::Data => "data",
                }),
            );
            m.insert("type".into(), json!(r.addr.type_name));
            m.insert("name".into(), json!(r.addr.name));
            m.insert("provider_config_key".into(), json!(r.addr.provider()));
            m.insert("expressions".into(), Json::Object(expressions));
            m.insert("schema_version".into(), json!(0));
            if let Some(e) = &r.count {
                m.insert("count_expression".into(), references(e));
            }
            if let Some(e) = &r.for_each {
                m.insert("for_each_expression".into(), references(e));
            }
            if !r.depends_on.is_empty() {
                let deps: Vec<String> = r
                    .depends_on
                    .iter()
                    .filter_map(|d| match &d.target {
                        RefTarget::Resource(a) => Some(a.to_string()),
                        RefTarget::Var(_)
                        | RefTarget::Local(_)
                        | RefTarget::Each
                        | RefTarget::Count
                        | RefTarget::Path
                        | RefTarget::SelfRef => None,
                    })
                    .collect();
                m.insert("depends_on".into(), json!(deps));
            }
            Json::Object(m)
        })
        .collect();
    let outputs: Map<String, Json> = stack
        .outputs
        .values()
        .map(|o| {
            let mut m = Map::new();
            m.insert("expression".into(), references(&o.value));
            if o.sensitive {
                m.insert("sensitive".into(), json!(true));
            }
            if let Some(d) = &o.description {
                m.insert("description".into(), json!(d));
            }
            (o.name.clone(), Json::Object(m))
        })
        .collect();
    let variables: Map<String, Json> = stack
        .variables
        .values()
        .map(|v| {
            let mut m = Map::new();
            if let Some(d) = &v.description {
                m.insert("description".into(), json!(d));
            }
            if v.sensitive {
                m.insert("sensitive".into(), json!(true));
            }
            (v.name.clone(), Json::Object(m))
        })
        .collect();
    json!({
        "provider_config": providers,
        "root_module": { "resources": resources, "outputs": outputs, "variables": variables },
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
