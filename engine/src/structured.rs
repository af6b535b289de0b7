//! Strings that hold a JSON or YAML document, read as values.
//!
//! Configuration often embeds documents in string attributes (a policy as JSON, a manifest as
//! YAML). Diffed as text they change wholesale when a key moves; read as values they diff
//! leaf by leaf and compare equal when only formatting or key order differs. Only objects and
//! lists count as documents: a string `"3"` is text, not the number 3.
//!
//! YAML is read with saphyr's event parser into [`Value`]s. Anchors and aliases, tags and
//! multi-document streams are not read (the string is then treated as text): they are rare in
//! embedded documents and would make a diff harder to follow, not easier.

use std::borrow::Cow;

use lanestack_model::{Map, Value};
use saphyr_parser::{Event, Parser, ScalarStyle};

/// Which kind of document a string holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocFormat {
    /// JSON.
    Json,
    /// YAML.
    Yaml,
}

impl DocFormat {
    /// The lowercase name, as shown in diff paths (`policy(json).Statement[0]`).
    pub fn name(self) -> &'static str {
        match self {
            DocFormat::Json => "json",
            DocFormat::Yaml => "yaml",
        }
    }

    /// The name as prose (`JSON reformatted, content unchanged`).
    pub fn label(self) -> &'static str {
        match self {
            DocFormat::Json => "JSON",
            DocFormat::Yaml => "YAML",
        }
    }
}

/// The string as a JSON object or array.
pub fn parse_json(s: &str) -> Option<Value> {
    let t = s.trim_start();
    if !(t.starts_with('{') || t.starts_with('[')) {
        return None;
    }
    serde_json::from_str::<serde_json::Value>(s).ok().map(|j| Value::from_json(&j))
}

/// Whether a string looks like a YAML block document rather than prose: several lines, one of
/// them a `key: value` or a `- item`, or a leading `---`.
fn looks_like_yaml(s: &str) -> bool {
    let t = s.trim_start();
    if t.starts_with("---") {
        return true;
    }
    s.contains('\n')
        && s.lines().any(|l| {
            let l = l.trim_start();
            l.starts_with("- ")
                || l.split_once(':').is_some_and(|(k, rest)| {
                    !k.is_empty() && !k.contains(' ') && (rest.is_empty() || rest.starts_with(' '))
                })
        })
}

/// The string as a YAML mapping or sequence, when it looks like one.
pub fn parse_yaml(s: &str) -> Option<Value> {
    if !looks_like_yaml(s) {
        return None;
    }
    let mut events = Vec::new();
    for e in Parser::new_from_str(s) {
        events.push(e.ok()?.0);
    }
    events.retain(|e| !matches!(e, Event::Nothing));
    let mut it = events.into_iter().peekable();
    if !matches!(it.next(), Some(Event::StreamStart)) || !matches!(it.next(), Some(Event::DocumentStart(_))) {
        return None;
    }
    let value = node(&mut it)?;
    if !matches!(it.next(), Some(Event::DocumentEnd)) || !matches!(it.next(), Some(Event::StreamEnd)) {
        return None;
    }
    matches!(value, Value::Object(_) | Value::List(_)).then_some(value)
}

/// The document a string holds: JSON first, then YAML.
pub fn parse_document(s: &str) -> Option<(DocFormat, Value)> {
    parse_json(s).map(|v| (DocFormat::Json, v)).or_else(|| parse_yaml(s).map(|v| (DocFormat::Yaml, v)))
}

/// Two strings that both hold documents, read for a diff: in their shared format, or as YAML
/// when one is JSON and the other YAML (JSON is YAML; a server's JSON and a stack's YAML are
/// the same kind of document).
pub fn parse_pair(a: &str, b: &str) -> Option<(DocFormat, Value, Value)> {
    let ((fa, da), (fb, db)) = (parse_document(a)?, parse_document(b)?);
    Some((if fa == fb { fa } else { DocFormat::Yaml }, da, db))
}

/// Every document of a YAML stream (`---`-separated), as values: what `yamldecode` and
/// `yamldecodeall` return. Unlike the embedded-document reading above, any value is a document
/// (a scalar too), and what cannot be read is an error saying where: anchors, aliases and tags
/// other than the core schema's are refused rather than guessed at.
pub fn decode_yaml_stream(s: &str) -> Result<Vec<Value>, String> {
    let mut events = Vec::new();
    for e in Parser::new_from_str(s) {
        let (event, span) = e.map_err(|e| {
            format!("line {}, column {}: {}", e.marker().line(), e.marker().col() + 1, e.info())
        })?;
        match &event {
            Event::Alias(_) => return Err(format!("line {}: aliases are not supported", span.start.line())),
            Event::Scalar(_, _, anchor, _)
            | Event::SequenceStart(anchor, _)
            | Event::MappingStart(anchor, _)
                if *anchor != 0 =>
            {
                return Err(format!("line {}: anchors are not supported", span.start.line()));
            }
            Event::Scalar(_, _, _, Some(_))
            | Event::SequenceStart(_, Some(_))
            | Event::MappingStart(_, Some(_)) => {
                return Err(format!("line {}: tags are not supported", span.start.line()));
            }
            Event::Nothing => continue,
            _ => {}
        }
        events.push(event);
    }
    let mut it = events.into_iter().peekable();
    let mut docs = Vec::new();
    loop {
        match it.next() {
            Some(Event::StreamStart | Event::DocumentEnd) => {}
            Some(Event::DocumentStart(_)) => {
                if matches!(it.peek(), Some(Event::DocumentEnd)) {
                    continue;
                }
                // A document of only comments reads as null: empty, left out as kubectl does.
                match node(&mut it).ok_or("a mapping key that is not a scalar")? {
                    Value::Null => {}
                    doc => docs.push(doc),
                }
            }
            Some(Event::StreamEnd) | None => return Ok(docs),
            Some(_) => return Err("an unexpected YAML event".to_owned()),
        }
    }
}

type Events<'a> = std::iter::Peekable<std::vec::IntoIter<Event<'a>>>;

fn node(it: &mut Events<'_>) -> Option<Value> {
    match it.next()? {
        Event::Scalar(text, style, anchor, tag) if anchor == 0 && tag.is_none() => Some(scalar(text, style)),
        Event::SequenceStart(0, None) => {
            let mut items = Vec::new();
            while !matches!(it.peek(), Some(Event::SequenceEnd)) {
                items.push(node(it)?);
            }
            it.next();
            Some(Value::List(items))
        }
        Event::MappingStart(0, None) => {
            let mut map = Map::new();
            while !matches!(it.peek(), Some(Event::MappingEnd)) {
                let key = match node(it)? {
                    Value::String(s) => s,
                    key @ (Value::Bool(_) | Value::Number(_) | Value::Null) => key.to_string(),
                    Value::List(_) | Value::Object(_) | Value::Unknown | Value::Sensitive(_) => return None,
                };
                let value = node(it)?;
                map.insert(key, value);
            }
            it.next();
            Some(Value::Object(map))
        }
        _ => None,
    }
}

/// A scalar as YAML 1.2's core schema reads it; quoted scalars are always strings.
fn scalar(text: Cow<'_, str>, style: ScalarStyle) -> Value {
    if style != ScalarStyle::Plain {
        return Value::String(text.into_owned());
    }
    match text.as_ref() {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        t => match t.parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => match t.parse::<f64>() {
                Ok(f) if f.is_finite() && t.chars().any(|c| c.is_ascii_digit()) => Value::from_f64(f),
                Ok(_) | Err(_) => Value::String(t.to_owned()),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_objects_and_arrays_are_documents_scalars_are_not() {
        assert_eq!(
            parse_json(r#"{"a": [1, "x"]}"#),
            Some(Value::object([("a", Value::List(vec![Value::from(1), Value::from("x")]))]))
        );
        assert_eq!(parse_json("3"), None);
        assert_eq!(parse_json("{not json"), None);
    }

    #[test]
    fn yaml_block_documents_are_read_with_core_schema_scalars() {
        let doc = "kind: Deployment\nspec:\n  replicas: 3\n  paused: false\n  containers:\n    - name: trainer\n      image: 'x:1'\n      args: [a, b]\n";
        let v = parse_yaml(doc).unwrap();
        assert_eq!(v.get(&"spec.replicas".parse().unwrap()), Some(&Value::from(3)));
        assert_eq!(v.get(&"spec.paused".parse().unwrap()), Some(&Value::from(false)));
        assert_eq!(v.get(&"spec.containers[0].image".parse().unwrap()), Some(&Value::from("x:1")));
        assert_eq!(v.get(&"spec.containers[0].args[1]".parse().unwrap()), Some(&Value::from("b")));
        assert_eq!(parse_document(doc).map(|d| d.0), Some(DocFormat::Yaml));
    }

    #[test]
    fn a_json_and_a_yaml_document_diff_as_yaml() {
        let (format, a, b) = parse_pair("{\"a\": 1}", "a: 2\n").unwrap();
        assert_eq!(
            (format, a.get(&"a".parse().unwrap()), b.get(&"a".parse().unwrap())),
            (DocFormat::Yaml, Some(&Value::from(1)), Some(&Value::from(2)))
        );
        assert_eq!(parse_pair("[1]", "[2]").map(|p| p.0), Some(DocFormat::Json));
        assert!(parse_pair("a: 1\n", "plain words").is_none());
    }

    #[test]
    fn yaml_streams_decode_to_every_document_or_say_where_they_fail() {
        let docs = decode_yaml_stream("a: 1\n---\n# nothing\n---\n- x\n- 'y'\n---\n3\n").unwrap();
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[0], Value::object([("a", Value::from(1))]));
        assert_eq!(docs[1], Value::List(vec![Value::from("x"), Value::from("y")]));
        assert_eq!(docs[2], Value::from(3));
        assert_eq!(decode_yaml_stream("").unwrap(), Vec::<Value>::new());
        assert!(decode_yaml_stream("a: [1").unwrap_err().starts_with("line "));
        assert_eq!(decode_yaml_stream("a: &x 1\nb: *x\n").unwrap_err(), "line 1: anchors are not supported");
        assert_eq!(decode_yaml_stream("a: !!str 1\n").unwrap_err(), "line 1: tags are not supported");
    }

    #[test]
    fn prose_and_aliases_are_text() {
        assert_eq!(parse_yaml("Hello, world.\nSecond line."), None);
        assert_eq!(parse_yaml("just one line: not a document"), None);
        assert_eq!(parse_yaml("a: &x 1\nb: *x\n"), None);
        assert_eq!(parse_yaml("key: [unclosed\nother: 1\n"), None);
    }
}
