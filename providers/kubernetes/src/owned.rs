//! What lanestack owns in a live object, read from its `metadata.managedFields`.
//!
//! Server-side apply records, per field manager, the fields that manager set, in the FieldsV1
//! encoding: nested objects keyed `f:<field>` (`{"f:data": {"f:token": {}}}`). A map such as
//! `labels` or `data` is granular: each key is a field of its own, so other controllers add
//! labels and annotations to our objects all the time without touching ours. The provider reads
//! back only the keys that lanestack applied (or that the previous state held, so that an edit
//! by someone else — which moves the key to their manager — shows as drift, not as a vanished
//! key), and never plans to remove what others added.

use serde_json::Value;

/// The field manager lanestack applies with.
pub const FIELD_MANAGER: &str = "lanestack";

/// The keys of the map at `path` (`["metadata", "labels"]`) that `manager` owns by apply.
pub fn owned_keys(object: &Value, manager: &str, path: &[&str]) -> Vec<String> {
    let Some(entries) = object.pointer("/metadata/managedFields").and_then(Value::as_array) else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    for entry in entries {
        if entry["manager"] != manager || entry["operation"] != "Apply" {
            continue;
        }
        let mut node = &entry["fieldsV1"];
        for step in path {
            node = &node[format!("f:{step}").as_str()];
        }
        if let Some(fields) = node.as_object() {
            keys.extend(fields.keys().filter_map(|k| k.strip_prefix("f:")).map(str::to_owned));
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

/// The entries of the live map at `path` whose keys lanestack owns or `also` names, or `None`
/// when there are none.
pub fn owned_entries(
    object: &Value,
    path: &[&str],
    also: &[String],
) -> Option<serde_json::Map<String, Value>> {
    let mut live = object;
    for step in path {
        live = &live[*step];
    }
    let live = live.as_object()?;
    let owned = owned_keys(object, FIELD_MANAGER, path);
    let kept: serde_json::Map<String, Value> = live
        .iter()
        .filter(|(k, _)| owned.contains(k) || also.contains(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (!kept.is_empty()).then_some(kept)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object() -> Value {
        json!({
            "metadata": {
                "labels": {"team": "ml", "kubernetes.io/metadata.name": "x", "edited": "by-hand"},
                "managedFields": [
                    {"manager": "lanestack", "operation": "Apply",
                     "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}}, "f:data": {"f:a": {}}}},
                    {"manager": "lanestack", "operation": "Update",
                     "fieldsV1": {"f:metadata": {"f:labels": {"f:stray": {}}}}},
                    {"manager": "kubectl-edit", "operation": "Update",
                     "fieldsV1": {"f:metadata": {"f:labels": {"f:edited": {}}}}},
                ],
            },
            "data": {"a": "MQ==", "b": "Mg=="},
        })
    }

    #[test]
    fn only_applied_keys_of_our_manager_count() {
        assert_eq!(owned_keys(&object(), FIELD_MANAGER, &["metadata", "labels"]), ["team"]);
        assert_eq!(owned_keys(&object(), FIELD_MANAGER, &["data"]), ["a"]);
        assert!(owned_keys(&object(), "someone", &["data"]).is_empty());
        assert!(owned_keys(&json!({}), FIELD_MANAGER, &["data"]).is_empty());
    }

    #[test]
    fn entries_are_owned_or_previously_known() {
        let labels = owned_entries(&object(), &["metadata", "labels"], &["edited".to_owned()]).unwrap();
        assert_eq!(Value::Object(labels), json!({"team": "ml", "edited": "by-hand"}));
        assert_eq!(owned_entries(&object(), &["metadata", "annotations"], &[]), None);
        let nothing = owned_entries(&object(), &["data"], &[]).map(Value::Object);
        assert_eq!(nothing, Some(json!({"a": "MQ=="})));
    }
}
