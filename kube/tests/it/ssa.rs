//! One server-side apply scenario, run against the real API server (a custom resource, in
//! `apply.rs`) and against the emulator's Kubernetes API (a Secret, in the emulator's tests),
//! which is held to the same results: managedFields per manager in FieldsV1, a field no longer
//! applied removed, a field edited by another manager moved to it, the conflict's message and
//! causes, force taking it back, shared ownership of equal values, dry runs that create nothing.

use lanestack_kube::{ApplyOptions, Client, Error};
use serde_json::{Value, json};

/// The object a scenario applies: its path, and the map field it plays with.
pub struct Subject {
    /// The object's path.
    pub path: String,
    /// Its `apiVersion`, as conflict messages name it.
    pub api_version: &'static str,
    /// The map field the scenario sets keys of (`parameters`, `data`).
    pub map: &'static str,
    /// The whole object, with this map and the label `team: ml`.
    pub object: fn(Value) -> Value,
    /// A map value as the API keeps it, for `text` (base64 for a Secret's data).
    pub value: fn(&str) -> Value,
    /// The fields besides the map and the label that applying the object owns.
    pub also_owned: Value,
}

const LANESTACK: ApplyOptions<'static> =
    ApplyOptions { field_manager: "lanestack", force: false, dry_run: false };

/// The `fieldsV1` of `manager`'s entry with `operation`, or null.
fn fields<'v>(object: &'v Value, manager: &str, operation: &str) -> &'v Value {
    object["metadata"]["managedFields"]
        .as_array()
        .and_then(|entries| entries.iter().find(|e| e["manager"] == manager && e["operation"] == operation))
        .map_or(&Value::Null, |e| &e["fieldsV1"])
}

/// `{"f:a": {}, ...}` for these keys.
fn keys(names: &[&str]) -> Value {
    Value::Object(names.iter().map(|k| (format!("f:{k}"), json!({}))).collect())
}

/// Runs the scenario; `s.path` must not exist yet.
pub async fn server_side_apply(client: &Client, s: &Subject) {
    let v = s.value;
    let map =
        |pairs: &[(&str, &str)]| Value::Object(pairs.iter().map(|(k, x)| ((*k).to_owned(), v(x))).collect());
    let owned = |map_keys: &[&str]| {
        let mut f = s.also_owned.clone();
        f["f:metadata"] = json!({"f:labels": {"f:team": {}}});
        if !map_keys.is_empty() {
            f[format!("f:{}", s.map).as_str()] = keys(map_keys);
        }
        f
    };

    // A dry run creates nothing.
    let dry = ApplyOptions { dry_run: true, ..LANESTACK };
    let would = client.apply(&s.path, &(s.object)(map(&[("a", "1")])), &dry).await.unwrap();
    assert_eq!(would[s.map], map(&[("a", "1")]));
    assert!(matches!(client.get(&s.path).await.unwrap_err(), Error::NotFound(_)));

    // Apply creates, and records what lanestack owns.
    let created =
        client.apply(&s.path, &(s.object)(map(&[("a", "1"), ("b", "2")])), &LANESTACK).await.unwrap();
    assert_eq!(created[s.map], map(&[("a", "1"), ("b", "2")]));
    assert_eq!(fields(&created, "lanestack", "Apply"), &owned(&["a", "b"]));
    let entry = &created["metadata"]["managedFields"][0];
    assert_eq!(
        (entry["apiVersion"].as_str(), entry["fieldsType"].as_str()),
        (Some(s.api_version), Some("FieldsV1"))
    );

    // A field lanestack stops applying is removed.
    let applied = client.apply(&s.path, &(s.object)(map(&[("a", "1")])), &LANESTACK).await.unwrap();
    assert_eq!(applied[s.map], map(&[("a", "1")]));

    // Another manager changes a field lanestack owns, and adds one: the edited field moves to
    // it (and lanestack's emptied map with it).
    let edit = json!({ s.map: map(&[("a", "9"), ("c", "3")]) });
    let edited = client.merge_patch(&format!("{}?fieldManager=kubectl-edit", s.path), &edit).await.unwrap();
    assert_eq!(
        fields(&edited, "kubectl-edit", "Update"),
        &json!({ format!("f:{}", s.map): keys(&["a", "c"]) })
    );
    assert_eq!(fields(&edited, "lanestack", "Apply"), &owned(&[]));

    // lanestack's next apply conflicts, naming the field and the manager, and changes nothing.
    let e = client.apply(&s.path, &(s.object)(map(&[("a", "1")])), &LANESTACK).await.unwrap_err();
    let Error::Conflict(api) = &e else { panic!("{e:?}") };
    assert_eq!(api.code, 409);
    let field = format!(".{}.a", s.map);
    let with = format!("conflict with \"kubectl-edit\" using {}", s.api_version);
    assert_eq!(api.message, format!("Apply failed with 1 conflict: {with}: {field}"));
    assert_eq!(api.causes.len(), 1, "{:?}", api.causes);
    assert_eq!(
        (api.causes[0].reason.as_str(), api.causes[0].field.as_str()),
        ("FieldManagerConflict", field.as_str())
    );
    assert_eq!(api.causes[0].message, with);
    assert_eq!(client.get(&s.path).await.unwrap()[s.map], map(&[("a", "9"), ("c", "3")]));

    // Forced, lanestack takes the field back; the other manager's own field stays.
    let force = ApplyOptions { force: true, ..LANESTACK };
    let forced = client.apply(&s.path, &(s.object)(map(&[("a", "1")])), &force).await.unwrap();
    assert_eq!(forced[s.map], map(&[("a", "1"), ("c", "3")]));
    assert_eq!(fields(&forced, "kubectl-edit", "Update"), &json!({ format!("f:{}", s.map): keys(&["c"]) }));

    // The same value applied by two managers is shared, not a conflict.
    let other = ApplyOptions { field_manager: "other", ..LANESTACK };
    let both = client.apply(&s.path, &(s.object)(map(&[("a", "1")])), &other).await.unwrap();
    let key = format!("f:{}", s.map);
    assert_eq!(fields(&both, "other", "Apply")[key.as_str()]["f:a"], json!({}));
    assert_eq!(fields(&both, "lanestack", "Apply")[key.as_str()]["f:a"], json!({}));
}
