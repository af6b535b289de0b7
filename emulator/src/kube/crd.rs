//! CustomResourceDefinitions (`apiextensions.k8s.io/v1`): the CRD kind's rules (defaults,
//! status, validation of the essentials with the real server's messages), and the kinds an
//! established CRD serves.
//!
//! The registry of a cluster's custom kinds is its stored CRDs themselves: a CRD is established
//! (its `Established` condition `True`) as soon as it is created, and from then on each served
//! version's kind is found by [`kind`]; deleting the CRD removes its objects at once (see
//! `Store::delete`), so its kinds stop being served with it.

use std::cmp::Ordering;
use std::sync::Arc;

use serde_json::{Value, json};

use super::status::FieldError;
use super::types::{Custom, KindInfo, Rules, decode_metadata, is_label, is_subdomain, metadata_errors};

pub(crate) const GROUP_VERSION: &str = "apiextensions.k8s.io/v1";
pub(crate) const PLURAL: &str = "customresourcedefinitions";

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

pub(crate) fn decode(v: &Value) -> Result<(), String> {
    decode_metadata(v, "CustomResourceDefinition")?;
    let typed = |pointer: &str, ok: fn(&Value) -> bool, go: &str| match v.pointer(pointer) {
        None | Some(Value::Null) => Ok(()),
        Some(x) if ok(x) => Ok(()),
        Some(x) => {
            Err(format!("json: cannot unmarshal {} into Go struct field {go}", super::types::kind_of(x)))
        }
    };
    typed(
        "/spec",
        Value::is_object,
        "CustomResourceDefinition.spec of type v1.CustomResourceDefinitionSpec",
    )?;
    typed("/spec/group", Value::is_string, "CustomResourceDefinitionSpec.spec.group of type string")?;
    typed(
        "/spec/names",
        Value::is_object,
        "CustomResourceDefinitionSpec.spec.names of type v1.CustomResourceDefinitionNames",
    )?;
    typed(
        "/spec/versions",
        Value::is_array,
        "CustomResourceDefinitionSpec.spec.versions of type []v1.CustomResourceDefinitionVersion",
    )
}

/// `SetDefaults_CustomResourceDefinitionSpec`: the singular and list kind from the kind, the
/// conversion strategy `None`.
pub(crate) fn default(v: &mut Value, _name: &str) {
    let Some(spec) = v.get_mut("spec").and_then(Value::as_object_mut) else { return };
    if let Some(names) = spec.get_mut("names").and_then(Value::as_object_mut) {
        let kind = names.get("kind").and_then(Value::as_str).unwrap_or_default().to_owned();
        if names.get("singular").and_then(Value::as_str).is_none_or(str::is_empty) {
            names.insert("singular".into(), json!(kind.to_lowercase()));
        }
        if names.get("listKind").and_then(Value::as_str).is_none_or(str::is_empty) && !kind.is_empty() {
            names.insert("listKind".into(), json!(format!("{kind}List")));
        }
    }
    if !spec.get("conversion").is_some_and(Value::is_object) {
        spec.insert("conversion".into(), json!({ "strategy": "None" }));
    }
}

/// The strategy: generation, and the status the controllers would write (names accepted,
/// established, the storage version recorded), kept from before where it already says so.
pub(crate) fn prepare(v: &mut Value, old: Option<&Value>, now: &str) {
    super::types::prepare_custom(v, old, true);
    let names = v.pointer("/spec/names").cloned().unwrap_or_else(|| json!({}));
    let mut stored: Vec<Value> = old
        .and_then(|o| o.pointer("/status/storedVersions"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let storage = v
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .and_then(|vs| vs.iter().find(|x| x["storage"] == true))
        .and_then(|x| x.get("name").cloned());
    if let Some(s) = storage
        && !stored.contains(&s)
    {
        stored.push(s);
    }
    let since = |kind: &str| {
        old.and_then(|o| o.pointer("/status/conditions"))
            .and_then(Value::as_array)
            .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
            .and_then(|c| c.get("lastTransitionTime").cloned())
            .unwrap_or_else(|| json!(now))
    };
    v["status"] = json!({
        "conditions": [
            {
                "type": "NamesAccepted", "status": "True", "lastTransitionTime": since("NamesAccepted"),
                "reason": "NoConflicts", "message": "no conflicts found",
            },
            {
                "type": "Established", "status": "True", "lastTransitionTime": since("Established"),
                "reason": "InitialNamesAccepted", "message": "the initial names have been accepted",
            },
        ],
        "acceptedNames": names,
        "storedVersions": stored,
    });
}

const DNS1035_LABEL: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

fn is_dns1035(s: &str) -> bool {
    is_label(s) && s.len() <= 63 && s.as_bytes()[0].is_ascii_lowercase()
}

/// The essentials of `ValidateCustomResourceDefinition`.
pub(crate) fn validate(v: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let name = text(v, "/metadata/name");
    let group = text(v, "/spec/group");
    let plural = text(v, "/spec/names/plural");
    if name != format!("{plural}.{group}") {
        errors.push(FieldError::invalid("metadata.name", name, "must be spec.names.plural+\".\"+spec.group"));
    }
    errors.extend(metadata_errors(v));
    if group.is_empty() {
        errors.push(FieldError::required("spec.group", ""));
    } else if !is_subdomain(group) || group.len() > 253 {
        errors.push(FieldError::invalid("spec.group", group, super::types::DNS1123_SUBDOMAIN));
    } else if !group.contains('.') {
        errors.push(FieldError::invalid("spec.group", group, "should be a domain with at least one dot"));
    }
    let scope = text(v, "/spec/scope");
    match scope {
        "Cluster" | "Namespaced" => {}
        "" => errors.push(FieldError::required("spec.scope", "")),
        other => errors.push(FieldError::not_supported(
            "spec.scope",
            &json!(other),
            &[json!("Cluster"), json!("Namespaced")],
        )),
    }
    let versions = v.pointer("/spec/versions").and_then(Value::as_array).cloned().unwrap_or_default();
    if versions.is_empty() {
        errors.push(FieldError::invalid(
            "spec.versions",
            "[]",
            "must have exactly one version marked as storage version",
        ));
    }
    let mut seen = Vec::new();
    for (i, ver) in versions.iter().enumerate() {
        let vname = text(ver, "/name");
        if !is_dns1035(vname) {
            errors.push(FieldError::invalid(format!("spec.versions[{i}].name"), vname, DNS1035_LABEL));
        }
        if seen.contains(&vname) {
            errors.push(FieldError::invalid("spec.versions", vname, "must contain unique version names"));
        }
        seen.push(vname);
        let schema = ver.pointer("/schema/openAPIV3Schema");
        if ver["served"] == true && schema.is_none() {
            errors.push(FieldError::required(format!("spec.versions[{i}].schema.openAPIV3Schema"), ""));
        }
        if let Some(s) = schema {
            match s.get("type").and_then(Value::as_str) {
                Some("object") => {}
                None => errors.push(FieldError::required(
                    format!("spec.versions[{i}].schema.openAPIV3Schema.type"),
                    "must not be empty at the root",
                )),
                Some(other) => errors.push(FieldError::invalid(
                    format!("spec.versions[{i}].schema.openAPIV3Schema.type"),
                    other,
                    "must be object at the root",
                )),
            }
        }
    }
    let storage = versions.iter().filter(|x| x["storage"] == true).count();
    if !versions.is_empty() && storage != 1 {
        errors.push(FieldError::invalid(
            "spec.versions",
            &format!("{storage} storage versions"),
            "must have exactly one version marked as storage version",
        ));
    }
    let kind = text(v, "/spec/names/kind");
    let list_kind = text(v, "/spec/names/listKind");
    if plural.is_empty() {
        errors.push(FieldError::required("spec.names.plural", ""));
    } else if !is_dns1035(plural) {
        errors.push(FieldError::invalid("spec.names.plural", plural, DNS1035_LABEL));
    }
    let singular = text(v, "/spec/names/singular");
    if !singular.is_empty() && !is_dns1035(singular) {
        errors.push(FieldError::invalid("spec.names.singular", singular, DNS1035_LABEL));
    }
    if kind.is_empty() {
        errors.push(FieldError::required("spec.names.kind", ""));
    } else if !is_dns1035(&kind.to_lowercase()) {
        errors.push(FieldError::invalid(
            "spec.names.kind",
            kind,
            &format!("may have mixed case, but should otherwise match: {DNS1035_LABEL}"),
        ));
    }
    if list_kind.is_empty() {
        errors.push(FieldError::required("spec.names.listKind", ""));
    } else if list_kind == kind {
        errors.push(FieldError::invalid(
            "spec.names.listKind",
            list_kind,
            "kind and listKind may not be the same",
        ));
    }
    if let Some(old) = old {
        let old_scope = text(old, "/spec/scope");
        if old_scope != scope {
            errors.push(FieldError::invalid("spec.scope", scope, "field is immutable"));
        }
    }
    errors
}

/// The kind `crd` serves at `version`, when it serves it.
pub(crate) fn kind(crd: &Value, version: &str) -> Option<KindInfo> {
    let ver = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)?
        .iter()
        .find(|v| v["name"] == version && v["served"] == true)?;
    let strings = |pointer: &str| -> Vec<String> {
        crd.pointer(pointer)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let storage = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .and_then(|vs| vs.iter().find(|v| v["storage"] == true))
        .and_then(|v| v["name"].as_str())
        .unwrap_or(version);
    Some(KindInfo {
        group_version: format!("{}/{version}", text(crd, "/spec/group")),
        storage_version: format!("{}/{storage}", text(crd, "/spec/group")),
        plural: text(crd, "/spec/names/plural").to_owned(),
        singular: text(crd, "/spec/names/singular").to_owned(),
        kind: text(crd, "/spec/names/kind").to_owned(),
        namespaced: text(crd, "/spec/scope") == "Namespaced",
        short_names: strings("/spec/names/shortNames"),
        categories: strings("/spec/names/categories"),
        rules: Rules::Custom(Arc::new(Custom {
            schema: ver.pointer("/schema/openAPIV3Schema").cloned().unwrap_or_else(|| json!({})),
            status: ver.pointer("/subresources/status").is_some_and(Value::is_object),
        })),
    })
}

/// The served versions of `crd`.
pub(crate) fn served_versions(crd: &Value) -> Vec<String> {
    crd.pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .filter(|v| v["served"] == true)
                .filter_map(|v| v["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A version's place in Kubernetes' order: GA, then beta, then alpha (higher numbers first),
/// then anything else alphabetically.
fn version_rank(v: &str) -> (u8, i64, i64, String) {
    let parse = || -> Option<(u8, i64, i64)> {
        let rest = v.strip_prefix('v')?;
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let major: i64 = rest[..digits].parse().ok()?;
        let tail = &rest[digits..];
        if tail.is_empty() {
            return Some((0, -major, 0));
        }
        for (level, word) in [(1, "beta"), (2, "alpha")] {
            if let Some(n) = tail.strip_prefix(word) {
                let minor: i64 = n.parse().ok()?;
                return Some((level, -major, -minor));
            }
        }
        None
    };
    match parse() {
        Some((level, major, minor)) => (level, major, minor, String::new()),
        None => (3, 0, 0, v.to_owned()),
    }
}

/// Kubernetes' version order (`v1` before `v1beta1` before `v1alpha1` before `foo`).
pub(crate) fn by_priority(a: &str, b: &str) -> Ordering {
    version_rank(a).cmp(&version_rank(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_as_kubernetes_sorts_them() {
        let mut v = vec!["foo1", "v1alpha1", "v2beta1", "v1", "v11alpha2", "v2", "v1beta2", "v1beta1"];
        v.sort_by(|a, b| by_priority(a, b));
        assert_eq!(v, ["v2", "v1", "v2beta1", "v1beta2", "v1beta1", "v11alpha2", "v1alpha1", "foo1"]);
    }
}
