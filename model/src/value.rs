//! Values as the engine sees them: JSON-like data plus two marks.
//!
//! A [`Value`] can be *unknown* (it will only be known after apply, like a cloud-assigned id) and
//! parts of it can be *sensitive* (never printed). Both marks travel through expressions: the
//! evaluator propagates them, the differ respects them, and the renderers show `(known after
//! apply)` and `(sensitive)` instead of the value.
//!
//! Design decision: sensitivity is a wrapper variant ([`Value::Sensitive`]) rather than a side
//! table of paths. Evaluation then carries it for free through every expression, at the cost of
//! having to strip it ([`Value::unmark`]) before a value crosses into a provider or a JSON file.
//! On disk (state, saved plans) values are plain JSON plus a list of sensitive [`AttrPath`]s; see
//! [`Value::to_json`] and [`Value::sensitive_paths`].

use std::collections::BTreeMap;
use std::fmt;

use crate::map::Map;

use crate::path::{AttrPath, PathStep};

/// A value in a stack, in a provider's schema, in state or in a plan.
///
/// Objects and maps are the same thing here (as in JSON): string keys in sorted order, so that
/// every rendering is deterministic.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    /// The absence of a value (`null` in HCL and JSON).
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number. Integral values are kept as integers so that `3` prints as `3`.
    Number(serde_json::Number),
    /// A string.
    String(String),
    /// A list or tuple.
    List(Vec<Value>),
    /// An object or map.
    Object(Map),
    /// A value that will only be known after apply. Must not be used for values that are merely
    /// absent (that is `Null`).
    Unknown,
    /// A value that must never be displayed. Sensitivity is contagious: anything computed from a
    /// sensitive value is sensitive.
    Sensitive(Box<Value>),
}

impl Value {
    /// Builds a number value from an `f64`, keeping integral values as integers.
    ///
    /// Non-finite floats (NaN, infinity) have no JSON form and become `Null`; callers that can
    /// produce them (division by zero) must report an error before getting here.
    pub fn from_f64(f: f64) -> Value {
        if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
            Value::Number((f as i64).into())
        } else {
            serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
        }
    }

    /// Builds a string value.
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// Builds an object from pairs.
    pub fn object<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Object(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// The name of this value's type, for error messages ("string", "object", ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Object(_) => "object",
            Value::Unknown => "unknown",
            Value::Sensitive(inner) => inner.type_name(),
        }
    }

    /// The number as an `f64`, looking through a sensitive mark.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => n.as_f64(),
            Value::Sensitive(inner) => inner.as_f64(),
            _ => None,
        }
    }

    /// The string, looking through a sensitive mark.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            Value::Sensitive(inner) => inner.as_str(),
            _ => None,
        }
    }

    /// The object's entries, looking through a sensitive mark.
    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(m) => Some(m),
            Value::Sensitive(inner) => inner.as_object(),
            _ => None,
        }
    }

    /// The list's elements, looking through a sensitive mark.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            Value::Sensitive(inner) => inner.as_list(),
            _ => None,
        }
    }

    /// True for `Null` (also when marked sensitive).
    pub fn is_null(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Sensitive(inner) => inner.is_null(),
            _ => false,
        }
    }

    /// True when this value itself is unknown (not when it merely contains an unknown).
    pub fn is_unknown(&self) -> bool {
        match self {
            Value::Unknown => true,
            Value::Sensitive(inner) => inner.is_unknown(),
            _ => false,
        }
    }

    /// True when this value is unknown or contains an unknown anywhere.
    pub fn contains_unknown(&self) -> bool {
        match self {
            Value::Unknown => true,
            Value::List(l) => l.iter().any(Value::contains_unknown),
            Value::Object(m) => m.values().any(Value::contains_unknown),
            Value::Sensitive(inner) => inner.contains_unknown(),
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => false,
        }
    }

    /// True when this value is marked sensitive at the top level.
    pub fn is_sensitive(&self) -> bool {
        matches!(self, Value::Sensitive(_))
    }

    /// True when this value or any part of it is marked sensitive.
    pub fn contains_sensitive(&self) -> bool {
        match self {
            Value::Sensitive(_) => true,
            Value::List(l) => l.iter().any(Value::contains_sensitive),
            Value::Object(m) => m.values().any(Value::contains_sensitive),
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) | Value::Unknown => false,
        }
    }

    /// Marks this value sensitive (idempotent).
    pub fn mark_sensitive(self) -> Value {
        match self {
            Value::Sensitive(_) => self,
            other => Value::Sensitive(Box::new(other)),
        }
    }

    /// Removes the top-level sensitive mark, telling whether there was one.
    pub fn unmark_top(self) -> (Value, bool) {
        match self {
            Value::Sensitive(inner) => (inner.unmark_top().0, true),
            other => (other, false),
        }
    }

    /// Removes every sensitive mark, deeply. Use before handing a value to a provider.
    pub fn unmark(&self) -> Value {
        match self {
            Value::Sensitive(inner) => inner.unmark(),
            Value::List(l) => Value::List(l.iter().map(Value::unmark).collect()),
            Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), v.unmark())).collect()),
            other => other.clone(),
        }
    }

    /// The paths of every sensitive part, outermost first, in sorted order.
    pub fn sensitive_paths(&self) -> Vec<AttrPath> {
        let mut out = Vec::new();
        collect_marked(self, &mut AttrPath::root(), &mut out, &|v| v.is_sensitive());
        out
    }

    /// The paths of every unknown part, in sorted order.
    pub fn unknown_paths(&self) -> Vec<AttrPath> {
        let mut out = Vec::new();
        collect_marked(self, &mut AttrPath::root(), &mut out, &|v| matches!(v, Value::Unknown));
        out
    }

    /// Marks the parts at `paths` sensitive. Paths that do not exist in this value, or hold
    /// null, are ignored.
    pub fn with_sensitive_paths(mut self, paths: &[AttrPath]) -> Value {
        for path in paths {
            // A null hides nothing; marking it would only show `(sensitive)` where nothing is set.
            if let Some(slot) = self.get_mut(path)
                && !slot.is_null()
            {
                let taken = std::mem::take(slot);
                *slot = taken.mark_sensitive();
            }
        }
        self
    }

    /// The part of this value at `path`, looking through sensitive marks.
    pub fn get(&self, path: &AttrPath) -> Option<&Value> {
        let mut cur = self;
        for step in path.steps() {
            cur = cur.step(step)?;
        }
        Some(cur)
    }

    fn step(&self, step: &PathStep) -> Option<&Value> {
        match (self, step) {
            (Value::Sensitive(inner), _) => inner.step(step),
            (Value::Object(m), PathStep::Attr(k)) => m.get(k),
            (Value::List(l), PathStep::Index(i)) => l.get(*i),
            _ => None,
        }
    }

    /// The part of this value at `path`, mutably, looking through sensitive marks.
    pub fn get_mut(&mut self, path: &AttrPath) -> Option<&mut Value> {
        let mut cur = self;
        for step in path.steps() {
            cur = step_mut(cur, step)?;
        }
        Some(cur)
    }

    /// Replaces the part at `path` with `new`, creating intermediate objects where they are
    /// missing. Returns false (and changes nothing) when the path runs through a non-container.
    pub fn set(&mut self, path: &AttrPath, new: Value) -> bool {
        let Some((last, parents)) = path.steps().split_last() else {
            *self = new;
            return true;
        };
        let mut cur = self;
        for step in parents {
            if cur.is_null() {
                *cur = Value::Object(Map::new());
            }
            let Some(next) = step_mut_or_insert(cur, step) else { return false };
            cur = next;
        }
        if cur.is_null() {
            *cur = Value::Object(Map::new());
        }
        match (cur, last) {
            (Value::Object(m), PathStep::Attr(k)) => {
                m.insert(k.clone(), new);
                true
            }
            (Value::List(l), PathStep::Index(i)) if *i < l.len() => {
                l[*i] = new;
                true
            }
            _ => false,
        }
    }

    /// Converts to plain JSON: sensitive marks are dropped (record [`Value::sensitive_paths`]
    /// first), unknowns become `null`. Use [`Value::contains_unknown`] to refuse unknowns where
    /// they must not appear (state).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null | Value::Unknown => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => serde_json::Value::Number(n.clone()),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::List(l) => serde_json::Value::Array(l.iter().map(Value::to_json).collect()),
            Value::Object(m) => {
                serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
            Value::Sensitive(inner) => inner.to_json(),
        }
    }

    /// Converts from plain JSON. Integral floats become integers.
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => {
                if n.is_f64() {
                    n.as_f64().map_or(Value::Null, Value::from_f64)
                } else {
                    Value::Number(n.clone())
                }
            }
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(a) => Value::List(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect())
            }
        }
    }

    /// A boolean tree of the same shape marking where this value is unknown (Terraform's
    /// `after_unknown`); `None` when nothing is unknown.
    pub fn unknown_shape(&self) -> Option<serde_json::Value> {
        shape_of(self, &|v| matches!(v, Value::Unknown))
    }

    /// A boolean tree of the same shape marking where this value is sensitive (Terraform's
    /// `after_sensitive`); `None` when nothing is sensitive.
    pub fn sensitive_shape(&self) -> Option<serde_json::Value> {
        shape_of(self, &|v| v.is_sensitive())
    }
}

fn shape_of(v: &Value, marked: &dyn Fn(&Value) -> bool) -> Option<serde_json::Value> {
    if marked(v) {
        return Some(serde_json::Value::Bool(true));
    }
    match v {
        Value::List(l) => {
            let parts: Vec<_> = l.iter().map(|e| shape_of(e, marked)).collect();
            parts.iter().any(Option::is_some).then(|| {
                serde_json::Value::Array(
                    parts.into_iter().map(|p| p.unwrap_or(serde_json::Value::Bool(false))).collect(),
                )
            })
        }
        Value::Object(m) => {
            let parts: serde_json::Map<_, _> =
                m.iter().filter_map(|(k, e)| shape_of(e, marked).map(|s| (k.clone(), s))).collect();
            (!parts.is_empty()).then_some(serde_json::Value::Object(parts))
        }
        _ => None,
    }
}

fn step_mut<'v>(v: &'v mut Value, step: &PathStep) -> Option<&'v mut Value> {
    match (v, step) {
        (Value::Sensitive(inner), _) => step_mut(inner, step),
        (Value::Object(m), PathStep::Attr(k)) => m.get_mut(k),
        (Value::List(l), PathStep::Index(i)) => l.get_mut(*i),
        _ => None,
    }
}

fn step_mut_or_insert<'v>(v: &'v mut Value, step: &PathStep) -> Option<&'v mut Value> {
    match (v, step) {
        (Value::Sensitive(inner), _) => step_mut_or_insert(inner, step),
        (Value::Object(m), PathStep::Attr(k)) => Some(m.entry_or_null(k.clone())),
        (Value::List(l), PathStep::Index(i)) => l.get_mut(*i),
        _ => None,
    }
}

fn collect_marked(v: &Value, at: &mut AttrPath, out: &mut Vec<AttrPath>, marked: &dyn Fn(&Value) -> bool) {
    if marked(v) {
        out.push(at.clone());
        return;
    }
    match v {
        Value::List(l) => {
            for (i, e) in l.iter().enumerate() {
                at.push(PathStep::Index(i));
                collect_marked(e, at, out, marked);
                at.pop();
            }
        }
        Value::Object(m) => {
            for (k, e) in m {
                at.push(PathStep::Attr(k.clone()));
                collect_marked(e, at, out, marked);
                at.pop();
            }
        }
        Value::Sensitive(inner) => collect_marked(inner, at, out, marked),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) | Value::Unknown => {}
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Number(n.into())
    }
}

impl From<Vec<Value>> for Value {
    fn from(l: Vec<Value>) -> Value {
        Value::List(l)
    }
}

impl From<BTreeMap<String, Value>> for Value {
    fn from(m: BTreeMap<String, Value>) -> Value {
        Value::Object(m.into())
    }
}

impl From<Map> for Value {
    fn from(m: Map) -> Value {
        Value::Object(m)
    }
}

/// Renders the value in HCL-like syntax for humans: strings quoted, `(sensitive)` and
/// `(known after apply)` in place of marked parts. Never reveals a sensitive value.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => write!(f, "{n}"),
            Value::String(s) => write!(f, "{}", serde_json::Value::String(s.clone())),
            Value::List(l) => {
                f.write_str("[")?;
                for (i, e) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{e}")?;
                }
                f.write_str("]")
            }
            Value::Object(m) => {
                f.write_str("{")?;
                for (i, (k, e)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, " {k} = {e}")?;
                }
                f.write_str(if m.is_empty() { "}" } else { " }" })
            }
            Value::Unknown => f.write_str("(known after apply)"),
            Value::Sensitive(_) => f.write_str("(sensitive)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_floats_become_integers() {
        assert_eq!(Value::from_f64(3.0).to_string(), "3");
        assert_eq!(Value::from_f64(2.5).to_string(), "2.5");
        assert_eq!(Value::from_json(&serde_json::json!(4.0)), Value::from(4));
        assert_eq!(Value::from_f64(f64::NAN), Value::Null);
    }

    #[test]
    fn sensitive_paths_round_trip_through_json() {
        let v = Value::object([
            ("name", Value::from("a")),
            ("secret", Value::from("hunter2").mark_sensitive()),
            ("list", Value::List(vec![Value::from(1), Value::from(2).mark_sensitive()])),
        ]);
        let paths = v.sensitive_paths();
        assert_eq!(paths.iter().map(ToString::to_string).collect::<Vec<_>>(), ["list[1]", "secret"]);
        let back = Value::from_json(&v.to_json()).with_sensitive_paths(&paths);
        assert_eq!(back, v);
        assert!(!v.to_string().contains("hunter2"));
    }

    #[test]
    fn unknowns_are_found_and_shaped() {
        let v = Value::object([("id", Value::Unknown), ("n", Value::from(1))]);
        assert!(v.contains_unknown());
        assert_eq!(v.unknown_shape(), Some(serde_json::json!({"id": true})));
        assert_eq!(Value::from(1).unknown_shape(), None);
    }

    #[test]
    fn set_creates_intermediate_objects() {
        let mut v = Value::Null;
        assert!(v.set(&"a.b".parse().unwrap(), Value::from(1)));
        assert_eq!(v.get(&"a.b".parse().unwrap()), Some(&Value::from(1)));
        assert!(!Value::from(1).set(&"a".parse().unwrap(), Value::Null));
    }
}
