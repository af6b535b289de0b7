//! Semantic equality between what a stack says and what ARM returns, so that an unchanged
//! stack plans no changes: ARM returns ids and names in other cases, locations in their short
//! form (`West Europe` -> `westeurope`), lists in its own order, and `{}` or `[]` for unset.
//!
//! The rule everywhere: when the live value means the same as the recorded (or configured)
//! one, keep the recorded spelling; otherwise the live value wins and is drift.

use lanestack_model::{Map, Value};

/// How two values of one attribute compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Norm {
    /// Equal as values.
    Exact,
    /// Strings equal ignoring ASCII case (names, ids).
    Fold,
    /// Azure locations: case and spaces ignored.
    Location,
    /// Lists of strings equal as sets.
    Set,
}

fn empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::List(l) => l.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

/// The canonical form of a location.
pub(crate) fn location(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_lowercase).collect()
}

/// Whether `a` and `b` mean the same under `norm`.
pub(crate) fn equivalent(norm: Norm, a: &Value, b: &Value) -> bool {
    if a == b || (empty(a) && empty(b)) {
        return true;
    }
    match (norm, a, b) {
        (Norm::Fold, Value::String(x), Value::String(y)) => x.eq_ignore_ascii_case(y),
        (Norm::Location, Value::String(x), Value::String(y)) => location(x) == location(y),
        (Norm::Set, Value::List(x), Value::List(y)) => {
            let mut x: Vec<String> = x.iter().map(ToString::to_string).collect();
            let mut y: Vec<String> = y.iter().map(ToString::to_string).collect();
            x.sort();
            y.sort();
            x == y
        }
        _ => false,
    }
}

/// `fresh` with every attribute listed in `norms` that is equivalent in `reference` replaced
/// by the reference's spelling. Unknown reference values are ignored.
pub(crate) fn reconcile(fresh: Value, reference: &Value, norms: &[(&str, Norm)]) -> Value {
    let Value::Object(mut out) = fresh else { return fresh };
    let Some(reference) = reference.as_object() else { return Value::Object(out) };
    for (name, norm) in norms {
        let Some(r) = reference.get(*name) else { continue };
        if r.contains_unknown() {
            continue;
        }
        let f = out.get(*name).cloned().unwrap_or(Value::Null);
        if equivalent(*norm, &f, r) {
            out.insert((*name).to_owned(), r.clone());
        }
    }
    Value::Object(out)
}

/// A string attribute of an object value.
pub(crate) fn str_attr<'v>(v: &'v Value, name: &str) -> Option<&'v str> {
    v.as_object().and_then(|m| m.get(name)).and_then(Value::as_str)
}

/// An attribute of an object value, or null.
pub(crate) fn attr<'v>(v: &'v Value, name: &str) -> &'v Value {
    v.as_object().and_then(|m| m.get(name)).unwrap_or(&Value::Null)
}

/// Builds an object value.
pub(crate) fn object(pairs: Vec<(&str, Value)>) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<Map>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_ids_and_sets() {
        assert!(equivalent(Norm::Location, &Value::from("West Europe"), &Value::from("westeurope")));
        assert!(equivalent(
            Norm::Fold,
            &Value::from("/subscriptions/A/resourceGroups/X"),
            &Value::from("/subscriptions/a/resourcegroups/x")
        ));
        assert!(!equivalent(Norm::Exact, &Value::from("a"), &Value::from("A")));
        let a = Value::List(vec![Value::from("10.0.0.0/16"), Value::from("10.1.0.0/16")]);
        let b = Value::List(vec![Value::from("10.1.0.0/16"), Value::from("10.0.0.0/16")]);
        assert!(equivalent(Norm::Set, &a, &b));
        assert!(equivalent(Norm::Exact, &Value::Null, &Value::List(vec![])));
    }

    #[test]
    fn reconcile_keeps_the_reference_spelling() {
        let fresh = object(vec![("location", Value::from("westeurope")), ("name", Value::from("b"))]);
        let reference = object(vec![("location", Value::from("West Europe")), ("name", Value::from("a"))]);
        let out = reconcile(fresh, &reference, &[("location", Norm::Location), ("name", Norm::Fold)]);
        assert_eq!(str_attr(&out, "location"), Some("West Europe"));
        assert_eq!(str_attr(&out, "name"), Some("b"));
    }
}
