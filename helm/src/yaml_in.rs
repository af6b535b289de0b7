//! YAML read as Helm reads it: `sigs.k8s.io/yaml`, which decodes with go-yaml v2 (YAML 1.1
//! scalars: `yes`/`on` are booleans, `0777` is octal) and then goes through JSON, so that every
//! number becomes a float64 and every key a string.
//!
//! Anchors, aliases and merge keys (`<<: *defaults`) are resolved; tags other than `!!str`
//! (which keeps a scalar a string) are ignored. Only the first document of a stream is read,
//! as `yaml.Unmarshal` does.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use saphyr_parser::{Event, Parser, ScalarStyle};

use crate::value::{MAX_DEPTH, Val};
use crate::yaml_out::{go_int, is_yaml_float};

/// The first document of `text` (nil when there is none). Errors say where, never what.
pub fn parse_document(text: &str) -> Result<Val, String> {
    let mut events = Vec::new();
    for e in Parser::new_from_str(text) {
        let (event, span) = e.map_err(|e| format!("yaml: line {}: {}", e.marker().line(), e.info()))?;
        if matches!(event, Event::Nothing) {
            continue;
        }
        let end = matches!(event, Event::DocumentEnd);
        events.push((event, span.start.line()));
        if end {
            break;
        }
    }
    let mut b = Builder { events: events.into_iter(), anchors: HashMap::new() };
    loop {
        match b.events.next() {
            Some((Event::StreamStart, _)) => {}
            Some((Event::DocumentStart(_), _)) => break,
            _ => return Ok(Val::Nil),
        }
    }
    match b.events.as_slice().first() {
        Some((Event::DocumentEnd | Event::StreamEnd, _)) | None => return Ok(Val::Nil),
        _ => {}
    }
    b.node(0)
}

struct Builder<'a> {
    events: std::vec::IntoIter<(Event<'a>, usize)>,
    anchors: HashMap<usize, Val>,
}

impl Builder<'_> {
    fn node(&mut self, depth: usize) -> Result<Val, String> {
        if depth > MAX_DEPTH {
            return Err("yaml: the document nests too deeply".to_owned());
        }
        let Some((event, line)) = self.events.next() else {
            return Err("yaml: unexpected end of document".to_owned());
        };
        let (v, anchor) = match event {
            Event::Scalar(text, style, anchor, tag) => {
                let force_str = tag.as_ref().is_some_and(|t| t.suffix == "str");
                (scalar(text, style, force_str), anchor)
            }
            Event::Alias(id) => {
                return self
                    .anchors
                    .get(&id)
                    .map(Val::deep_copy)
                    .ok_or_else(|| format!("yaml: line {line}: unknown anchor referenced"));
            }
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                while !matches!(self.events.as_slice().first(), Some((Event::SequenceEnd, _))) {
                    items.push(self.node(depth + 1)?);
                }
                self.events.next();
                (Val::list(items), anchor)
            }
            Event::MappingStart(anchor, _) => {
                let mut map = BTreeMap::new();
                let mut merged: Vec<Val> = Vec::new();
                while !matches!(self.events.as_slice().first(), Some((Event::MappingEnd, _))) {
                    let key = self.node(depth + 1)?;
                    let value = self.node(depth + 1)?;
                    let key = match key {
                        Val::Str(s) if &*s == "<<" => {
                            match value {
                                Val::List(l) => merged.extend(l.iter().cloned()),
                                v => merged.push(v),
                            }
                            continue;
                        }
                        Val::Str(s) => s.to_string(),
                        Val::Nil => "null".to_owned(),
                        Val::List(_) | Val::Map(_) | Val::Native(_) => {
                            return Err(format!("yaml: line {line}: a mapping key that is not a scalar"));
                        }
                        other => other.go_string(),
                    };
                    map.insert(key, value);
                }
                self.events.next();
                for m in merged {
                    let Val::Map(m) = m else {
                        return Err(format!(
                            "yaml: line {line}: map merge requires map or sequence of maps as the value"
                        ));
                    };
                    for (k, v) in m.borrow().iter() {
                        map.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
                (Val::map(map), anchor)
            }
            _ => return Err(format!("yaml: line {line}: did not expect this here")),
        };
        if anchor != 0 {
            self.anchors.insert(anchor, v.clone());
        }
        Ok(v)
    }
}

/// A scalar as go-yaml v2 resolves it, numbers as float64 (what JSON makes of them).
fn scalar(text: Cow<'_, str>, style: ScalarStyle, force_str: bool) -> Val {
    if style != ScalarStyle::Plain || force_str {
        return Val::str(text.as_ref());
    }
    let t = text.as_ref();
    match t {
        "" | "~" | "null" | "Null" | "NULL" => Val::Nil,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => Val::Bool(true),
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Val::Bool(false)
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Val::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Val::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => Val::Float(f64::NAN),
        _ => {
            if t.starts_with(|c: char| "+-0123456789.".contains(c)) {
                if let Some(i) = go_int(t) {
                    return Val::Float(i as f64);
                }
                if is_yaml_float(t)
                    && let Ok(f) = t.parse::<f64>()
                {
                    return Val::Float(f);
                }
            }
            Val::str(t)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_resolve_as_yaml_1_1_through_json() {
        let v =
            parse_document("a: 1\nb: yes\nc: '1'\nd: 0777\ne: 1.5\nf: ~\ng: on\nh: 2024-01-01\ni: !!str 3\n")
                .unwrap();
        let Val::Map(m) = v else { panic!() };
        let m = m.borrow();
        assert!(matches!(m["a"], Val::Float(f) if f == 1.0));
        assert!(matches!(m["b"], Val::Bool(true)));
        assert!(matches!(&m["c"], Val::Str(s) if &**s == "1"));
        assert!(matches!(m["d"], Val::Float(f) if f == 511.0));
        assert!(matches!(m["e"], Val::Float(f) if f == 1.5));
        assert!(matches!(m["f"], Val::Nil));
        assert!(matches!(m["g"], Val::Bool(true)));
        assert!(matches!(&m["h"], Val::Str(s) if &**s == "2024-01-01"));
        assert!(matches!(&m["i"], Val::Str(s) if &**s == "3"));
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let v = parse_document("base: &b {x: 1, w: 2}\nother:\n  <<: *b\n  w: 3\nlist: [*b]\n").unwrap();
        assert_eq!(v.go_string(), "map[base:map[w:2 x:1] list:[map[w:2 x:1]] other:map[w:3 x:1]]");
    }

    #[test]
    fn errors_say_where_and_empty_documents_are_nil() {
        assert!(parse_document("a: [1\n").unwrap_err().starts_with("yaml: line"));
        assert!(matches!(parse_document("").unwrap(), Val::Nil));
        assert!(matches!(parse_document("# only a comment\n").unwrap(), Val::Nil));
    }
}
