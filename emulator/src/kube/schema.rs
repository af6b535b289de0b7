//! A custom resource's structural schema (`openAPIV3Schema` of its CRD's version) at work:
//! pruning of unknown fields, defaults, and validation with the real server's field errors.
//!
//! Validation covers `type` (object, array, string, integer, number, boolean; `nullable`;
//! `x-kubernetes-int-or-string`), `required`, `properties`, `items`, `additionalProperties`
//! (a schema or a bool), `enum` and `x-kubernetes-preserve-unknown-fields`, worded as
//! `k8s.io/apiextensions-apiserver` turns kube-openapi's results into field errors
//! (`spec.driver: Invalid value: "integer": spec.driver in body must be of type string:
//! "integer"`). Formats, patterns, lengths and bounds are not checked; neither are
//! `x-kubernetes-validations` (CEL) rules, except for the real server's note that they were not
//! checked when the object already has a blocking error.

use serde_json::{Map, Value};

use super::status::FieldError;

/// The fields of ObjectMeta: what pruning keeps of a custom resource's `metadata`.
const OBJECT_META: [&str; 15] = [
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// The schema that allows any value and keeps no unknown field.
static EMPTY: Value = Value::Null;

fn preserves(s: &Value) -> bool {
    s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
}

/// Removes the fields the schema does not allow, as the real server does silently.
pub(crate) fn prune_root(v: &mut Value, schema: &Value) {
    let Some(obj) = v.as_object_mut() else { return };
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.retain(|k, _| OBJECT_META.contains(&k.as_str()));
    }
    prune_object(obj, schema, true);
}

fn prune_object(obj: &mut Map<String, Value>, s: &Value, root: bool) {
    let props = s.get("properties").and_then(Value::as_object);
    // `additionalProperties: true` keeps any key, each value with an empty schema.
    let additional = match s.get("additionalProperties") {
        Some(Value::Bool(true)) => Some(&EMPTY),
        Some(a @ Value::Object(_)) => Some(a),
        _ => None,
    };
    let embedded = root || s.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true));
    let keep_unknown = preserves(s);
    obj.retain(|k, _| {
        keep_unknown
            || additional.is_some()
            || props.is_some_and(|p| p.contains_key(k))
            || (embedded && matches!(k.as_str(), "apiVersion" | "kind" | "metadata"))
    });
    for (k, child) in obj.iter_mut() {
        if embedded && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        if let Some(cs) = props.and_then(|p| p.get(k)).or(additional) {
            prune(child, cs);
        }
    }
}

fn prune(v: &mut Value, s: &Value) {
    match v {
        Value::Object(obj) => prune_object(obj, s, false),
        Value::Array(items) => {
            if let Some(is) = s.get("items") {
                for item in items {
                    prune(item, is);
                }
            }
        }
        _ => {}
    }
}

/// Fills the schema's `default`s of absent fields; drops nulls where null is not allowed, or
/// replaces them by the default.
pub(crate) fn default_root(v: &mut Value, schema: &Value) {
    if let Some(obj) = v.as_object_mut() {
        default_object(obj, schema, true);
    }
}

fn default_object(obj: &mut Map<String, Value>, s: &Value, root: bool) {
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        for (k, ps) in props {
            if root && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            let nullable = ps.get("nullable") == Some(&Value::Bool(true));
            // A null where null is not allowed is dropped, or replaced by the default.
            if obj.get(k).is_some_and(Value::is_null) && !nullable {
                obj.remove(k);
            }
            if let Some(d) = ps.get("default")
                && !obj.contains_key(k)
            {
                obj.insert(k.clone(), d.clone());
            }
            if let Some(child) = obj.get_mut(k) {
                default_value(child, ps);
            }
        }
    }
    if let Some(additional) = s.get("additionalProperties").filter(|a| a.is_object()) {
        let known = s.get("properties").and_then(Value::as_object);
        for (k, child) in obj.iter_mut() {
            if known.is_none_or(|p| !p.contains_key(k)) {
                default_value(child, additional);
            }
        }
    }
}

fn default_value(v: &mut Value, s: &Value) {
    match v {
        Value::Object(obj) => default_object(obj, s, false),
        Value::Array(items) => {
            if let Some(is) = s.get("items") {
                for item in items {
                    default_value(item, is);
                }
            }
        }
        _ => {}
    }
}

/// The type name kube-openapi gives a JSON value.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The field errors of the object against the schema (apiVersion, kind and metadata aside).
pub(crate) fn validate_root(v: &Value, schema: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(obj) = v.as_object() else { return errors };
    validate_object(obj, schema, "", true, &mut errors);
    // The real server skips CEL rules after a blocking error, and says so.
    let blocking = errors.iter().any(|e| {
        matches!(
            e.reason,
            "FieldValueRequired"
                | "FieldValueTypeInvalid"
                | "FieldValueNotSupported"
                | "FieldValueTooLong"
                | "FieldValueTooMany"
        )
    });
    if blocking && has_rules(schema) {
        errors.push(FieldError {
            reason: "FieldValueInvalid",
            field: "<nil>".to_owned(),
            detail: "Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation".to_owned(),
        });
    }
    errors
}

fn has_rules(s: &Value) -> bool {
    match s {
        Value::Object(m) => {
            m.contains_key("x-kubernetes-validations")
                || m.iter()
                    .any(|(k, v)| !matches!(k.as_str(), "default" | "enum" | "example") && has_rules(v))
        }
        Value::Array(items) => items.iter().any(has_rules),
        _ => false,
    }
}

fn child_path(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

fn validate_object(
    obj: &Map<String, Value>,
    s: &Value,
    path: &str,
    root: bool,
    errors: &mut Vec<FieldError>,
) {
    if let Some(required) = s.get("required").and_then(Value::as_array) {
        for r in required.iter().filter_map(Value::as_str) {
            if !obj.contains_key(r) {
                errors.push(FieldError::required(child_path(path, r), ""));
            }
        }
    }
    let props = s.get("properties").and_then(Value::as_object);
    let additional = s.get("additionalProperties").filter(|a| a.is_object());
    let mut keys: Vec<&String> = obj.keys().collect();
    keys.sort();
    for k in keys {
        if root && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        if let Some(cs) = props.and_then(|p| p.get(k)).or(additional) {
            validate(&obj[k], cs, &child_path(path, k), errors);
        }
    }
}

fn validate(v: &Value, s: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let have = type_name(v);
    let nullable = s.get("nullable") == Some(&Value::Bool(true));
    if v.is_null() && nullable {
        return;
    }
    let int_or_string = s.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
    let want = s.get("type").and_then(Value::as_str).unwrap_or_default();
    let fits = if int_or_string {
        matches!(have, "integer" | "string")
    } else {
        match want {
            "" => true,
            "number" => v.is_number(),
            other => other == have,
        }
    };
    if !fits {
        let wanted = if want.is_empty() { "integer,string" } else { want };
        errors.push(FieldError::type_invalid(
            path,
            have,
            &format!("{path} in body must be of type {wanted}: \"{have}\""),
        ));
        return;
    }
    if let Some(allowed) = s.get("enum").and_then(Value::as_array)
        && !allowed.contains(v)
    {
        errors.push(FieldError::not_supported(path, v, allowed));
    }
    match v {
        Value::Object(obj) => validate_object(obj, s, path, false, errors),
        Value::Array(items) => {
            if let Some(is) = s.get("items") {
                for (i, item) in items.iter().enumerate() {
                    validate(item, is, &format!("{path}[{i}]"), errors);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["driver"],
                    "properties": {
                        "driver": { "type": "string" },
                        "policy": { "type": "string", "enum": ["Delete", "Retain"], "default": "Delete" },
                        "params": { "type": "object", "additionalProperties": { "type": "string" } },
                        "free": { "type": "object", "x-kubernetes-preserve-unknown-fields": true },
                        "list": { "type": "array", "items": { "type": "object", "properties": { "a": { "type": "integer" } } } },
                    },
                },
            },
        })
    }

    #[test]
    fn pruning_keeps_what_the_schema_allows() {
        let mut v = json!({
            "apiVersion": "g/v1", "kind": "K", "metadata": { "name": "x", "bogus": 1 },
            "extra": 1,
            "spec": { "driver": "d", "unknown": 2, "params": { "any": "v" }, "free": { "deep": { "x": 1 } },
                      "list": [{ "a": 1, "b": 2 }] },
        });
        prune_root(&mut v, &schema());
        assert_eq!(
            v,
            json!({
                "apiVersion": "g/v1", "kind": "K", "metadata": { "name": "x" },
                "spec": { "driver": "d", "params": { "any": "v" }, "free": { "deep": { "x": 1 } }, "list": [{ "a": 1 }] },
            })
        );
        default_root(&mut v, &schema());
        assert_eq!(v["spec"]["policy"], "Delete");
    }

    #[test]
    fn validation_words_errors_as_the_real_server() {
        let v = json!({ "spec": { "driver": 5, "policy": "Keep", "params": { "k": true }, "list": [{ "a": "x" }] } });
        let got: Vec<String> = validate_root(&v, &schema()).iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            [
                "spec.driver: Invalid value: \"integer\": spec.driver in body must be of type string: \"integer\"",
                "spec.list[0].a: Invalid value: \"string\": spec.list[0].a in body must be of type integer: \"string\"",
                "spec.params.k: Invalid value: \"boolean\": spec.params.k in body must be of type string: \"boolean\"",
                "spec.policy: Unsupported value: \"Keep\": supported values: \"Delete\", \"Retain\"",
            ]
        );
        let missing: Vec<String> =
            validate_root(&json!({ "spec": {} }), &schema()).iter().map(ToString::to_string).collect();
        assert_eq!(missing, ["spec.driver: Required value"]);
    }
}
