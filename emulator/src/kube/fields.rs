//! Field ownership: `metadata.managedFields` and server-side apply.
//!
//! A field set is a set of paths (`["data", "key"]`); its wire form is FieldsV1
//! (`{"f:data":{"f:key":{}}}`, a path that is both a member and a prefix of others gets `".": {}`).
//! Objects are granular (each key of a map or struct its own field), lists atomic, scalars
//! leaves; `apiVersion`, `kind` and the server's metadata are not tracked. Entries of writes
//! to a subresource (`/status`) say so (`subresource: status`) and are apart from the main
//! resource's.
//!
//! Update operations (create, replace, merge patch) own what they changed, taking it from the
//! other managers; a map they added is owned as a whole too (`".": {}`), as the real server
//! records for maps. An apply owns exactly the fields it sent; fields it sent before and no
//! longer sends are removed unless another manager owns them; a field another manager owns
//! with another value is a conflict unless forced.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::status::KubeError;

type Path = Vec<String>;
type Set = BTreeSet<Path>;

/// One `managedFields` entry.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Entry {
    pub(crate) manager: String,
    pub(crate) apply: bool,
    pub(crate) api_version: String,
    pub(crate) time: String,
    /// `status` for writes to the status subresource, empty for the main resource.
    pub(crate) subresource: String,
    set: Set,
}

/// Who writes: the manager, the API version it writes with, and the subresource (or "").
#[derive(Clone, Copy)]
pub(crate) struct Manager<'a> {
    pub(crate) name: &'a str,
    pub(crate) api_version: &'a str,
    pub(crate) subresource: &'a str,
    /// Whether an object an update adds is owned as a whole whatever it is (custom
    /// resources, whose schema makes no struct/map difference here), rather than for maps only.
    pub(crate) objects_owned: bool,
}

impl Entry {
    /// How the real server names this manager in conflicts: `"m"` for an applier, `"m" using
    /// v1` for an updater.
    fn display(&self) -> String {
        if self.apply {
            format!("{:?}", self.manager)
        } else {
            format!("{:?} using {}", self.manager, self.api_version)
        }
    }
}

const UNTRACKED_METADATA: [&str; 10] = [
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

fn tracked(path: &[String]) -> bool {
    match path {
        [top] => !matches!(top.as_str(), "apiVersion" | "kind"),
        [meta, field] if meta == "metadata" => !UNTRACKED_METADATA.contains(&field.as_str()),
        _ => true,
    }
}

/// Whether the field at `path` is a map (owned as a whole when added) rather than a struct:
/// labels, annotations, and the top-level fields other than metadata, spec, status and RBAC's
/// `roleRef` and `aggregationRule` (`data`, a StorageClass's `parameters`). Maps deeper in a
/// spec (a selector's `matchLabels`) are treated as structs. A table per kind would replace
/// this rule when kinds with richer schemas come.
fn is_map(path: &[String]) -> bool {
    match path {
        [top] => !matches!(top.as_str(), "metadata" | "spec" | "status" | "roleRef" | "aggregationRule"),
        [meta, field] => meta == "metadata" && matches!(field.as_str(), "labels" | "annotations"),
        _ => false,
    }
}

fn leaves(v: &Value, prefix: &mut Path, out: &mut Set) {
    let Some(obj) = v.as_object() else { return };
    for (k, child) in obj {
        prefix.push(k.clone());
        if tracked(prefix) {
            match child {
                Value::Object(m) if !m.is_empty() => leaves(child, prefix, out),
                _ => {
                    out.insert(prefix.clone());
                }
            }
        }
        prefix.pop();
    }
}

/// The fields an object sets.
fn members(v: &Value) -> Set {
    let mut out = Set::new();
    leaves(v, &mut Vec::new(), &mut out);
    out
}

/// Fields added or changed from `old` to `new` (with maps added as a whole), and fields removed.
fn changes(old: &Value, new: &Value, prefix: &mut Path, changed: &mut Set, removed: &mut Set, all: bool) {
    let empty = Map::new();
    let (o, n) = (old.as_object().unwrap_or(&empty), new.as_object().unwrap_or(&empty));
    for (k, child) in n {
        prefix.push(k.clone());
        if tracked(prefix) {
            match (o.get(k), child) {
                (Some(Value::Object(_)), Value::Object(m)) if !m.is_empty() => {
                    changes(&o[k], child, prefix, changed, removed, all);
                }
                (_, Value::Object(m)) if !m.is_empty() => {
                    if is_map(prefix) || (all && prefix.as_slice() != ["metadata"]) {
                        changed.insert(prefix.clone());
                    }
                    changes(&Value::Null, child, prefix, changed, removed, all);
                }
                (before, _) => {
                    if before != Some(child) {
                        changed.insert(prefix.clone());
                    }
                }
            }
        }
        prefix.pop();
    }
    for k in o.keys().filter(|k| !n.contains_key(*k)) {
        prefix.push(k.clone());
        if tracked(prefix) {
            removed.insert(prefix.clone());
        }
        prefix.pop();
    }
}

fn remove_under(set: &mut Set, gone: &Path) {
    set.retain(|p| !p.starts_with(gone));
}

fn value_at<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, seg| cur.get(seg))
}

fn set_at(v: &mut Value, path: &[String], value: Value) {
    let mut cur = v;
    for seg in &path[..path.len() - 1] {
        if !cur.get(seg).is_some_and(Value::is_object) {
            cur[seg.as_str()] = json!({});
        }
        cur = &mut cur[seg.as_str()];
    }
    cur[path[path.len() - 1].as_str()] = value;
}

/// Removes the field at `path`, and the maps it leaves empty (never `metadata` itself).
fn remove_at(v: &mut Value, path: &[String]) {
    fn go(cur: &mut Value, path: &[String], depth: usize) {
        let Some(obj) = cur.as_object_mut() else { return };
        match path {
            [] => {}
            [last] => {
                obj.remove(last);
            }
            [first, rest @ ..] => {
                if let Some(child) = obj.get_mut(first) {
                    go(child, rest, depth + 1);
                    let emptied = child.as_object().is_some_and(Map::is_empty);
                    if emptied && !(depth == 0 && first == "metadata") {
                        obj.remove(first);
                    }
                }
            }
        }
    }
    go(v, path, 0);
}

fn encode(set: &Set) -> Value {
    let mut root = json!({});
    for path in set {
        let mut cur = &mut root;
        for seg in path {
            let key = format!("f:{seg}");
            if !cur.get(&key).is_some_and(Value::is_object) {
                cur[key.as_str()] = json!({});
            }
            cur = &mut cur[key.as_str()];
        }
    }
    // A member that other members extend is marked with ".".
    for path in set {
        let has_children = set.range(path.clone()..).nth(1).is_some_and(|next| next.starts_with(path));
        if has_children {
            let mut cur = &mut root;
            for seg in path {
                cur = &mut cur[format!("f:{seg}").as_str()];
            }
            cur["."] = json!({});
        }
    }
    root
}

fn decode(v: &Value, prefix: &mut Path, out: &mut Set) {
    let Some(obj) = v.as_object() else { return };
    if obj.is_empty() && !prefix.is_empty() {
        out.insert(prefix.clone());
        return;
    }
    for (k, child) in obj {
        if k == "." {
            out.insert(prefix.clone());
        } else if let Some(name) = k.strip_prefix("f:") {
            prefix.push(name.to_owned());
            decode(child, prefix, out);
            prefix.pop();
        }
    }
}

/// The entries of an object's `metadata.managedFields`.
pub(crate) fn entries(object: &Value) -> Vec<Entry> {
    let list =
        object.pointer("/metadata/managedFields").and_then(Value::as_array).cloned().unwrap_or_default();
    list.iter()
        .map(|e| {
            let mut set = Set::new();
            decode(e.get("fieldsV1").unwrap_or(&Value::Null), &mut Vec::new(), &mut set);
            let text = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
            Entry {
                manager: text("manager"),
                apply: text("operation") == "Apply",
                api_version: text("apiVersion"),
                time: text("time"),
                subresource: text("subresource"),
                set,
            }
        })
        .collect()
}

/// Writes `entries` into the object's `metadata.managedFields`, empty ones dropped, in the
/// real server's order (appliers first, then by time, manager and version).
pub(crate) fn store(object: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|e| !e.set.is_empty());
    entries.sort_by(|a, b| {
        (!a.apply, &a.time, &a.manager, &a.api_version).cmp(&(!b.apply, &b.time, &b.manager, &b.api_version))
    });
    let list: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut entry = json!({
                "manager": e.manager,
                "operation": if e.apply { "Apply" } else { "Update" },
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": encode(&e.set),
            });
            if !e.subresource.is_empty() {
                entry["subresource"] = json!(e.subresource);
            }
            entry
        })
        .collect();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        if list.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(list));
        }
    }
}

/// The entries after an update operation by `manager` from `old` (`Null` on create) to `new`.
pub(crate) fn update(
    mut current: Vec<Entry>,
    old: &Value,
    new: &Value,
    who: Manager<'_>,
    now: &str,
) -> Vec<Entry> {
    let (manager, api_version) = (who.name, who.api_version);
    let (mut changed, mut removed) = (Set::new(), Set::new());
    changes(old, new, &mut Vec::new(), &mut changed, &mut removed, who.objects_owned);
    if changed.is_empty() && removed.is_empty() {
        return current;
    }
    let mine = |e: &Entry| {
        !e.apply && e.manager == manager && e.api_version == api_version && e.subresource == who.subresource
    };
    for e in current.iter_mut() {
        for gone in &removed {
            remove_under(&mut e.set, gone);
        }
        if !mine(e) {
            e.set.retain(|p| !changed.contains(p));
        }
    }
    match current.iter_mut().find(|e| mine(e)) {
        Some(e) => {
            e.set.extend(changed);
            e.time = now.to_owned();
        }
        None if !changed.is_empty() => current.push(Entry {
            manager: manager.to_owned(),
            apply: false,
            api_version: api_version.to_owned(),
            time: now.to_owned(),
            subresource: who.subresource.to_owned(),
            set: changed,
        }),
        None => {}
    }
    current
}

/// Server-side apply of `applied` by `manager` onto `live` (`Null` when absent): the merged
/// object and the new entries, or the conflicts.
pub(crate) fn apply(
    live: &Value,
    mut current: Vec<Entry>,
    applied: &Value,
    who: Manager<'_>,
    force: bool,
    now: &str,
) -> Result<(Value, Vec<Entry>), KubeError> {
    let (manager, api_version) = (who.name, who.api_version);
    let applied_set = members(applied);
    let mine = |e: &Entry| e.apply && e.manager == manager && e.subresource == who.subresource;
    let mut conflicts: Vec<(usize, Path)> = Vec::new();
    for (i, e) in current.iter().enumerate().filter(|(_, e)| !mine(e)) {
        for p in e.set.intersection(&applied_set) {
            if value_at(live, p) != value_at(applied, p) {
                conflicts.push((i, p.clone()));
            }
        }
    }
    if !conflicts.is_empty() {
        if !force {
            let listed: Vec<(String, String)> = conflicts
                .iter()
                .map(|(i, p)| (current[*i].display(), p.iter().map(|s| format!(".{s}")).collect::<String>()))
                .collect();
            return Err(KubeError::apply_conflicts(&listed));
        }
        for (i, p) in &conflicts {
            current[*i].set.remove(p);
        }
    }
    let previous = current.iter().find(|e| mine(e)).map(|e| e.set.clone()).unwrap_or_default();
    let mut merged = if live.is_object() { live.clone() } else { json!({}) };
    for p in previous.difference(&applied_set) {
        let owned_elsewhere = current.iter().any(|e| !mine(e) && e.set.contains(p));
        if !owned_elsewhere {
            remove_at(&mut merged, p);
        }
    }
    for p in &applied_set {
        if let Some(v) = value_at(applied, p) {
            set_at(&mut merged, p, v.clone());
        }
    }
    let changed_set = previous != applied_set;
    match current.iter_mut().find(|e| mine(e)) {
        Some(e) => {
            if changed_set {
                e.time = now.to_owned();
            }
            e.set = applied_set;
            e.api_version = api_version.to_owned();
        }
        None => current.push(Entry {
            manager: manager.to_owned(),
            apply: true,
            api_version: api_version.to_owned(),
            time: now.to_owned(),
            subresource: who.subresource.to_owned(),
            set: applied_set,
        }),
    }
    Ok((merged, current))
}

/// Whether two entry lists own the same fields (times aside).
pub(crate) fn same_ownership(a: &[Entry], b: &[Entry]) -> bool {
    let key = |v: &[Entry]| {
        let mut k: Vec<(String, bool, String, String, Set)> = v
            .iter()
            .filter(|e| !e.set.is_empty())
            .map(|e| {
                (e.manager.clone(), e.apply, e.api_version.clone(), e.subresource.clone(), e.set.clone())
            })
            .collect();
        k.sort();
        k
    };
    key(a) == key(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_v1_round_trips_with_dot_markers() {
        let set: Set = [vec!["metadata", "labels"], vec!["metadata", "labels", "a"], vec!["type"]]
            .into_iter()
            .map(|p| p.into_iter().map(str::to_owned).collect())
            .collect();
        let wire = encode(&set);
        assert_eq!(wire, json!({ "f:metadata": { "f:labels": { ".": {}, "f:a": {} } }, "f:type": {} }));
        let mut back = Set::new();
        decode(&wire, &mut Vec::new(), &mut back);
        assert_eq!(back, set);
    }

    #[test]
    fn an_update_owns_added_maps_and_takes_changed_fields() {
        let old = json!({ "metadata": { "name": "x" }, "data": { "a": "1" } });
        let new = json!({ "metadata": { "name": "x", "labels": { "l": "v" } }, "data": { "a": "2" } });
        let who = |name| Manager { name, api_version: "v1", subresource: "", objects_owned: false };
        let applier = apply(&Value::Null, vec![], &old, who("ssa"), false, "t0").unwrap().1;
        let after = update(applier, &old, &new, who("edit"), "t1");
        assert_eq!(after.len(), 2);
        assert!(after[0].set.is_empty(), "the applier lost data.a");
        let edit = encode(&after[1].set);
        assert_eq!(
            edit,
            json!({ "f:data": { "f:a": {} }, "f:metadata": { "f:labels": { ".": {}, "f:l": {} } } })
        );
    }
}
