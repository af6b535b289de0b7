//! Attribute paths: where inside a resource's value something is (`spec.containers[0].image`).
//!
//! Paths name changed attributes in plans, attributes that force replacement, sensitive parts
//! in state, and `ignore_changes` entries. Their text form round-trips through
//! `Display`/`FromStr`: identifiers after dots, list indexes in brackets, and any other object
//! key as a quoted string in brackets (`tags["kubernetes.io/role"]`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One step of an [`AttrPath`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathStep {
    /// An object attribute or map key.
    Attr(String),
    /// A list element.
    Index(usize),
}

/// A path from the root of a value to one of its parts. The empty path is the value itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AttrPath(Vec<PathStep>);

impl AttrPath {
    /// The empty path.
    pub fn root() -> AttrPath {
        AttrPath(Vec::new())
    }

    /// A path of one attribute step.
    pub fn attr(name: impl Into<String>) -> AttrPath {
        AttrPath(vec![PathStep::Attr(name.into())])
    }

    /// This path extended by one step.
    pub fn join(&self, step: PathStep) -> AttrPath {
        let mut p = self.clone();
        p.0.push(step);
        p
    }

    /// The steps, outermost first.
    pub fn steps(&self) -> &[PathStep] {
        &self.0
    }

    /// True for the empty path.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// Appends a step.
    pub fn push(&mut self, step: PathStep) {
        self.0.push(step);
    }

    /// Removes the last step.
    pub fn pop(&mut self) -> Option<PathStep> {
        self.0.pop()
    }

    /// True when `self` equals `other` or lies inside it (`a.b[0]` starts with `a.b`).
    pub fn starts_with(&self, other: &AttrPath) -> bool {
        self.0.starts_with(&other.0)
    }

    /// The first step's attribute name, if the path starts with one.
    pub fn first_attr(&self) -> Option<&str> {
        match self.0.first() {
            Some(PathStep::Attr(a)) => Some(a),
            _ => None,
        }
    }
}

impl From<Vec<PathStep>> for AttrPath {
    fn from(steps: Vec<PathStep>) -> AttrPath {
        AttrPath(steps)
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                PathStep::Attr(a) if is_identifier(a) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(a)?;
                }
                PathStep::Attr(a) => write!(f, "[{}]", serde_json::Value::String(a.clone()))?,
                PathStep::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A malformed attribute path.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid attribute path {text:?}: {reason}")]
pub struct ParsePathError {
    text: String,
    reason: &'static str,
}

impl FromStr for AttrPath {
    type Err = ParsePathError;

    fn from_str(s: &str) -> Result<AttrPath, ParsePathError> {
        let err = |reason| ParsePathError { text: s.to_owned(), reason };
        let mut steps = Vec::new();
        let bytes = s.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'.' if !steps.is_empty() => i += 1,
                b'[' => {
                    let close = s[i..].find(']').ok_or_else(|| err("unclosed '['"))?;
                    let inner = &s[i + 1..i + close];
                    if inner.starts_with('"') {
                        // The key may itself contain ']': find the closing quote instead.
                        let mut de = serde_json::Deserializer::from_str(&s[i + 1..]).into_iter::<String>();
                        let key = match de.next() {
                            Some(Ok(k)) => k,
                            _ => return Err(err("bad quoted key")),
                        };
                        let end = i + 1 + de.byte_offset();
                        if bytes.get(end) != Some(&b']') {
                            return Err(err("expected ']' after key"));
                        }
                        steps.push(PathStep::Attr(key));
                        i = end + 1;
                    } else {
                        let n = inner.parse().map_err(|_| err("index is not a number"))?;
                        steps.push(PathStep::Index(n));
                        i += close + 1;
                    }
                    continue;
                }
                _ if !steps.is_empty() => return Err(err("expected '.' or '['")),
                _ => {}
            }
            let start = i;
            while i < bytes.len() && bytes[i] != b'.' && bytes[i] != b'[' {
                i += 1;
            }
            let name = &s[start..i];
            if !is_identifier(name) {
                return Err(err("expected an attribute name"));
            }
            steps.push(PathStep::Attr(name.to_owned()));
        }
        Ok(AttrPath(steps))
    }
}

impl Serialize for AttrPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AttrPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<AttrPath, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for text in ["a", "a.b[0].c", r#"tags["kubernetes.io/role"]"#, r#"m["a]b"].x"#, "[3]"] {
            let p: AttrPath = text.parse().unwrap();
            assert_eq!(p.to_string(), text);
        }
    }

    #[test]
    fn rejects_garbage() {
        for text in ["a..b", "a[", "a[x]", "a.1", r#"a["x"y]"#, "a[0]b", ".a"] {
            assert!(text.parse::<AttrPath>().is_err(), "{text}");
        }
    }
}
