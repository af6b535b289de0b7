//! The plan JSON (`show --format json`, `plan --json`): held to the JSON Schema in
//! `docs/plan-json.schema.json` by a focused validator, golden on the realistic review plan, and
//! free of secrets unless asked.
//!
//! Design decision: a validator of the keywords the schema uses (type, required, properties,
//! additionalProperties, items, enum, const, allOf, `$ref` into `$defs`) instead of the
//! `jsonschema` crate, whose build (regex engines, URL and HTTP resolution) costs more than the
//! whole engine on a 2-core machine. It refuses any other keyword, so the schema cannot grow a
//! rule that the test silently ignores.

use lanestack_engine::jsonplan;
use lanestack_engine::secrets::Secrets;
use serde_json::Value as Json;

use crate::review::{CANARY, realistic_plan, rt};

const KNOWN: &[&str] = &[
    "$schema",
    "$id",
    "title",
    "description",
    "type",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "allOf",
    "$ref",
    "$defs",
];

fn schema() -> Json {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/plan-json.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("the schema file"))
        .expect("the schema is JSON")
}

fn type_matches(ty: &str, v: &Json) -> bool {
    match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "integer" => v.as_i64().is_some() || v.as_u64().is_some(),
        "number" => v.is_number(),
        "null" => v.is_null(),
        other => panic!("the schema names an unknown type {other:?}"),
    }
}

/// Every violation of `schema` by `v`, each with its JSON pointer.
fn validate(root: &Json, schema: &Json, v: &Json, at: &str, errors: &mut Vec<String>) {
    let Some(s) = schema.as_object() else {
        if schema == &Json::Bool(false) {
            errors.push(format!("{at}: not allowed"));
        }
        return;
    };
    for key in s.keys() {
        assert!(KNOWN.contains(&key.as_str()), "the validator does not know the keyword {key:?}");
    }
    if let Some(r) = s.get("$ref").and_then(Json::as_str) {
        let name = r.strip_prefix("#/$defs/").unwrap_or_else(|| panic!("unsupported $ref {r}"));
        validate(root, &root["$defs"][name], v, at, errors);
    }
    for sub in s.get("allOf").and_then(Json::as_array).into_iter().flatten() {
        validate(root, sub, v, at, errors);
    }
    if let Some(ty) = s.get("type") {
        let ok = match ty {
            Json::String(t) => type_matches(t, v),
            Json::Array(ts) => ts.iter().any(|t| type_matches(t.as_str().unwrap_or_default(), v)),
            _ => panic!("bad type keyword at {at}"),
        };
        if !ok {
            errors.push(format!("{at}: expected {ty}, found {v}"));
            return;
        }
    }
    if let Some(options) = s.get("enum").and_then(Json::as_array)
        && !options.contains(v)
    {
        errors.push(format!("{at}: {v} is not one of {}", Json::Array(options.clone())));
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        errors.push(format!("{at}: expected {c}, found {v}"));
    }
    if let Some(obj) = v.as_object() {
        for name in s.get("required").and_then(Json::as_array).into_iter().flatten() {
            let name = name.as_str().unwrap_or_default();
            if !obj.contains_key(name) {
                errors.push(format!("{at}: missing {name:?}"));
            }
        }
        let props = s.get("properties").and_then(Json::as_object);
        for (k, child) in obj {
            let path = format!("{at}/{k}");
            match props.and_then(|p| p.get(k)) {
                Some(sub) => validate(root, sub, child, &path, errors),
                None => match s.get("additionalProperties") {
                    Some(Json::Bool(false)) => errors.push(format!("{at}: unexpected property {k:?}")),
                    Some(sub) => validate(root, sub, child, &path, errors),
                    None => {}
                },
            }
        }
    }
    if let (Some(items), Some(list)) = (s.get("items"), v.as_array()) {
        for (i, item) in list.iter().enumerate() {
            validate(root, items, item, &format!("{at}/{i}"), errors);
        }
    }
}

fn violations(v: &Json) -> Vec<String> {
    let schema = schema();
    let mut errors = Vec::new();
    validate(&schema, &schema, v, "", &mut errors);
    errors
}

#[test]
fn the_plan_json_of_a_realistic_plan_follows_the_schema_and_holds_no_secret() {
    let plan = rt().block_on(realistic_plan());
    let json = jsonplan::plan_json(&plan, Secrets::Redact);
    assert_eq!(violations(&json), Vec::<String>::new());
    let text = serde_json::to_string_pretty(&json).unwrap();
    assert!(!text.contains(CANARY), "the secret leaked");
    let db = json["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "fake_thing.db")
        .unwrap();
    assert_eq!(db["change"]["actions"], serde_json::json!(["delete", "create"]));
    assert_eq!(db["change"]["replace_paths"], serde_json::json!([["name"]]));
    assert_eq!(db["change"]["after_sensitive"]["secret"], Json::Bool(true));
    assert_eq!(db["change"]["after"]["secret"], Json::Null);
    assert_eq!(db["action_reason"], "replace_because_cannot_update");
    let text = text.replace(env!("CARGO_PKG_VERSION"), "[VERSION]");
    insta::assert_snapshot!(text);
}

#[test]
fn the_plan_json_shows_secrets_only_when_asked() {
    let plan = rt().block_on(realistic_plan());
    let json = jsonplan::plan_json(&plan, Secrets::Show);
    assert_eq!(violations(&json), Vec::<String>::new());
    assert!(
        json.to_string().contains(CANARY),
        "the canary never reached the plan: the redaction test proves nothing"
    );
}

#[test]
fn the_validator_catches_what_the_schema_forbids() {
    let plan = rt().block_on(realistic_plan());
    let mut json = jsonplan::plan_json(&plan, Secrets::Redact);
    json["resource_changes"][0]["change"]["actions"] = serde_json::json!(["replace"]);
    json["surprise"] = Json::Bool(true);
    if let Some(o) = json["output_changes"]["db_id"].as_object_mut() {
        o.remove("after_unknown");
    }
    let errors = violations(&json);
    assert_eq!(errors.len(), 3, "{errors:#?}");
}
