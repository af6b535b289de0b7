//! Kubernetes `Status` refusals: the reasons, codes and message shapes of the real API server
//! (`k8s.io/apimachinery/pkg/api/errors` and `validation/field`).

use serde_json::{Value, json};

/// A refusal, answered as a `Status` object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KubeError {
    pub(crate) code: u16,
    pub(crate) reason: &'static str,
    pub(crate) message: String,
    pub(crate) details: Option<Value>,
}

impl KubeError {
    pub(crate) fn new(code: u16, reason: &'static str, message: impl Into<String>) -> KubeError {
        KubeError { code, reason, message: message.into(), details: None }
    }

    fn with_details(mut self, details: Value) -> KubeError {
        self.details = Some(details);
        self
    }

    /// The `Status` body.
    pub(crate) fn body(&self) -> Value {
        let mut body = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            body["details"] = d.clone();
        }
        body
    }

    /// A path the server does not serve.
    pub(crate) fn no_route() -> KubeError {
        KubeError::new(404, "NotFound", "the server could not find the requested resource")
            .with_details(json!({}))
    }

    pub(crate) fn unauthorized() -> KubeError {
        KubeError::new(401, "Unauthorized", "Unauthorized")
    }

    pub(crate) fn method_not_allowed() -> KubeError {
        KubeError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
        .with_details(json!({}))
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> KubeError {
        KubeError::new(400, "BadRequest", message)
    }

    /// `{resource} "{name}" not found`; `resource` is the plural, `.group` after it but for core.
    pub(crate) fn not_found(resource: &str, name: &str) -> KubeError {
        KubeError::new(404, "NotFound", format!("{resource} \"{name}\" not found"))
            .with_details(details(resource, name))
    }

    pub(crate) fn already_exists(resource: &str, name: &str) -> KubeError {
        KubeError::new(409, "AlreadyExists", format!("{resource} \"{name}\" already exists"))
            .with_details(details(resource, name))
    }

    /// 409 Conflict: `Operation cannot be fulfilled on {plural} "{name}": {why}`.
    pub(crate) fn conflict(plural: &str, name: &str, why: &str) -> KubeError {
        KubeError::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {plural} \"{name}\": {why}"),
        )
        .with_details(details(plural, name))
    }

    /// The optimistic-concurrency refusal of a write with a stale `resourceVersion`.
    pub(crate) fn modified(plural: &str, name: &str) -> KubeError {
        KubeError::conflict(
            plural,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    pub(crate) fn forbidden(plural: &str, name: &str, why: &str) -> KubeError {
        KubeError::new(403, "Forbidden", format!("{plural} \"{name}\" is forbidden: {why}"))
            .with_details(details(plural, name))
    }

    /// 422 Invalid, from field errors (at least one).
    pub(crate) fn invalid(kind: &str, name: &str, errors: &[FieldError]) -> KubeError {
        let listed: Vec<String> = errors.iter().map(FieldError::to_string).collect();
        let summary = match listed.as_slice() {
            [one] => one.clone(),
            many => format!("[{}]", many.join(", ")),
        };
        let causes: Vec<Value> = errors
            .iter()
            .map(|e| json!({ "reason": e.reason, "message": e.detail, "field": e.field }))
            .collect();
        let mut d = match kind.split_once('.') {
            Some((k, group)) => json!({ "name": name, "group": group, "kind": k }),
            None => json!({ "name": name, "kind": kind }),
        };
        d["causes"] = json!(causes);
        KubeError::new(422, "Invalid", format!("{kind} \"{name}\" is invalid: {summary}")).with_details(d)
    }

    /// 409 from server-side apply: fields another manager owns with another value.
    pub(crate) fn apply_conflicts(conflicts: &[(String, String)]) -> KubeError {
        let message = match conflicts {
            [(manager, field)] => format!("Apply failed with 1 conflict: conflict with {manager}: {field}"),
            _ => {
                let mut managers: Vec<&String> = conflicts.iter().map(|(m, _)| m).collect();
                managers.sort();
                managers.dedup();
                let mut lines = Vec::new();
                for m in managers {
                    lines.push(format!("conflicts with {m}:"));
                    for (_, field) in conflicts.iter().filter(|(o, _)| o == m) {
                        lines.push(format!("- {field}"));
                    }
                }
                format!("Apply failed with {} conflicts: {}", conflicts.len(), lines.join("\n"))
            }
        };
        let causes: Vec<Value> = conflicts
            .iter()
            .map(|(m, f)| json!({ "reason": "FieldManagerConflict", "message": format!("conflict with {m}"), "field": f }))
            .collect();
        KubeError::new(409, "Conflict", message).with_details(json!({ "causes": causes }))
    }
}

/// A `Status`'s details for `resource` (`plural[.group]`) and `name`.
fn details(resource: &str, name: &str) -> Value {
    match resource.split_once('.') {
        Some((plural, group)) => json!({ "name": name, "group": group, "kind": plural }),
        None => json!({ "name": name, "kind": resource }),
    }
}

/// One `field.Error`: `{field}: {detail}`, where the detail starts with its type
/// (`Invalid value: "x": ...`, `Forbidden: ...`, `Required value: ...`, `Too long: ...`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldError {
    pub(crate) reason: &'static str,
    pub(crate) field: String,
    pub(crate) detail: String,
}

impl FieldError {
    pub(crate) fn invalid(field: impl Into<String>, value: &str, why: &str) -> FieldError {
        FieldError {
            reason: "FieldValueInvalid",
            field: field.into(),
            detail: format!("Invalid value: {}: {why}", Value::from(value)),
        }
    }

    /// `Invalid value: {raw}: {why}`, the value as the real server prints it (Go's `%v` of a
    /// number, `%#v` of a struct, map or slice).
    pub(crate) fn invalid_raw(field: impl Into<String>, raw: &str, why: &str) -> FieldError {
        FieldError {
            reason: "FieldValueInvalid",
            field: field.into(),
            detail: format!("Invalid value: {raw}: {why}"),
        }
    }

    pub(crate) fn forbidden(field: impl Into<String>, why: &str) -> FieldError {
        FieldError { reason: "FieldValueForbidden", field: field.into(), detail: format!("Forbidden: {why}") }
    }

    /// `Required value`, with `: {why}` when there is a why.
    pub(crate) fn required(field: impl Into<String>, why: &str) -> FieldError {
        let detail =
            if why.is_empty() { "Required value".to_owned() } else { format!("Required value: {why}") };
        FieldError { reason: "FieldValueRequired", field: field.into(), detail }
    }

    /// `Invalid value: "{type}": {why}`, a value of the wrong type (`FieldValueTypeInvalid`).
    pub(crate) fn type_invalid(field: impl Into<String>, value: &str, why: &str) -> FieldError {
        FieldError {
            reason: "FieldValueTypeInvalid",
            field: field.into(),
            detail: format!("Invalid value: {}: {why}", Value::from(value)),
        }
    }

    /// `Unsupported value: "x": supported values: "a", "b"`.
    pub(crate) fn not_supported(field: impl Into<String>, value: &Value, supported: &[Value]) -> FieldError {
        let quoted = |v: &Value| match v {
            Value::String(s) => Value::from(s.as_str()).to_string(),
            other => other.to_string(),
        };
        let listed: Vec<String> = supported.iter().map(quoted).collect();
        FieldError {
            reason: "FieldValueNotSupported",
            field: field.into(),
            detail: format!("Unsupported value: {}: supported values: {}", quoted(value), listed.join(", ")),
        }
    }

    pub(crate) fn too_long(field: impl Into<String>, max: usize) -> FieldError {
        FieldError {
            reason: "FieldValueTooLong",
            field: field.into(),
            detail: format!("Too long: must have at most {max} bytes"),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.detail)
    }
}
