//! Attribute-level diffs between two values, for people.
//!
//! Values are flattened into leaves addressed by paths such as
//! `spec.containers[name=trainer].image`: lists whose elements are objects with a unique `name`
//! (or else `id`) are keyed by it, so that inserting an element does not show every later
//! element as changed. Sensitive parts are single leaves that are never shown; unknown parts are
//! leaves shown as `(known after apply)`.

use std::collections::{BTreeMap, HashSet};

use lanestack_model::Value;

/// How one leaf changed.
#[derive(Clone, Debug, PartialEq)]
pub enum LeafChange {
    /// Only in the new value.
    Added(Value),
    /// Only in the old value.
    Removed(Value),
    /// In both, different.
    Changed(Value, Value),
}

/// One changed leaf.
#[derive(Clone, Debug, PartialEq)]
pub struct AttrChange {
    /// Where, e.g. `input.tags["kubernetes.io/role"]` or `containers[name=trainer].image`.
    pub path: String,
    /// What changed.
    pub change: LeafChange,
}

/// The changed leaves between `before` and `after` (either may be absent), sorted by path.
/// Null leaves count as absent.
pub fn diff(before: Option<&Value>, after: Option<&Value>) -> Vec<AttrChange> {
    let mut old = BTreeMap::new();
    let mut new = BTreeMap::new();
    if let Some(b) = before {
        flatten(b, &mut String::new(), &mut old);
    }
    if let Some(a) = after {
        flatten(a, &mut String::new(), &mut new);
    }
    let mut out = Vec::new();
    for (path, o) in &old {
        match new.get(path) {
            Some(n) if o.unmark() == n.unmark() && o.is_sensitive() == n.is_sensitive() => {}
            Some(n) if o.unmark() == n.unmark() && !matches!(n, Value::Unknown) => {}
            Some(n) => {
                out.push(AttrChange { path: path.clone(), change: LeafChange::Changed(o.clone(), n.clone()) })
            }
            None => out.push(AttrChange { path: path.clone(), change: LeafChange::Removed(o.clone()) }),
        }
    }
    for (path, n) in new {
        if !old.contains_key(&path) {
            out.push(AttrChange { path, change: LeafChange::Added(n) });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// `path` (as [`diff`] writes it) under `prefix`: `prefix.path`, or `prefix[key]` for a list
/// element; `path` alone when there is no prefix.
pub fn join_path(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path.starts_with('[')) {
        (true, _) => path.to_owned(),
        (false, true) => format!("{prefix}{path}"),
        (false, false) => format!("{prefix}.{path}"),
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The field that identifies the elements of a list of objects, if there is one.
fn list_key(items: &[Value]) -> Option<&'static str> {
    ["name", "id"].into_iter().find(|field| {
        let mut seen = HashSet::new();
        !items.is_empty()
            && items.iter().all(|item| {
                item.as_object()
                    .and_then(|m| m.get(*field))
                    .filter(|v| !v.is_sensitive())
                    .and_then(Value::as_str)
                    .is_some_and(|k| seen.insert(k.to_owned()))
            })
    })
}

fn flatten(v: &Value, at: &mut String, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Null => {}
        Value::Object(m) if !m.is_empty() => {
            for (k, e) in m {
                let len = at.len();
                if is_identifier(k) {
                    if !at.is_empty() {
                        at.push('.');
                    }
                    at.push_str(k);
                } else {
                    at.push_str(&format!("[{}]", serde_json::Value::String(k.clone())));
                }
                flatten(e, at, out);
                at.truncate(len);
            }
        }
        Value::List(items) if !items.is_empty() => {
            let key = list_key(items);
            for (i, e) in items.iter().enumerate() {
                let len = at.len();
                match key.and_then(|k| e.as_object().and_then(|m| m.get(k)).and_then(Value::as_str)) {
                    Some(name) => at.push_str(&format!("[{}={name}]", key.unwrap_or("name"))),
                    None => at.push_str(&format!("[{i}]")),
                }
                flatten(e, at, out);
                at.truncate(len);
            }
        }
        leaf => {
            out.insert(if at.is_empty() { "(value)".to_owned() } else { at.clone() }, leaf.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(name: &str, image: &str) -> Value {
        Value::object([("name", Value::from(name)), ("image", Value::from(image))])
    }

    #[test]
    fn keyed_lists_match_by_name() {
        let before =
            Value::object([("containers", Value::List(vec![container("a", "x:1"), container("b", "y:1")]))]);
        let after = Value::object([(
            "containers",
            Value::List(vec![container("new", "z:1"), container("a", "x:1"), container("b", "y:2")]),
        )]);
        let d = diff(Some(&before), Some(&after));
        let paths: Vec<&str> = d.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(
            paths,
            ["containers[name=b].image", "containers[name=new].image", "containers[name=new].name"]
        );
    }

    #[test]
    fn sensitive_leaves_compare_by_value_and_stay_hidden() {
        let before = Value::object([("s", Value::from("a").mark_sensitive())]);
        let same = Value::object([("s", Value::from("a").mark_sensitive())]);
        let changed = Value::object([("s", Value::from("b").mark_sensitive())]);
        assert!(diff(Some(&before), Some(&same)).is_empty());
        let d = diff(Some(&before), Some(&changed));
        assert_eq!(d.len(), 1);
        assert!(matches!(&d[0].change, LeafChange::Changed(a, b) if a.is_sensitive() && b.is_sensitive()));
    }

    #[test]
    fn unknown_leaves_are_changes() {
        let before = Value::object([("id", Value::from("x"))]);
        let after = Value::object([("id", Value::Unknown)]);
        assert_eq!(diff(Some(&before), Some(&after)).len(), 1);
    }
}
