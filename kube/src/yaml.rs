//! YAML documents read as JSON values, on saphyr's event parser (already the workspace's YAML
//! parser; its DOM crate would add encoding_rs and a second tree type for nothing).
//!
//! Plain scalars follow YAML 1.2's core schema (`null`, `true`, integers, floats); quoted and
//! block scalars are strings. Anchors and aliases are honoured (kubeconfigs written by tools
//! rarely use them, hand-written ones sometimes do). A tag other than the core schema's is an
//! error rather than a guess. Keys that are not strings (`1: x`) become their text, as
//! Kubernetes' own YAML-to-JSON conversion does.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};
use serde_json::{Map, Number, Value};

/// Why a YAML text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("YAML line {line}, column {column}: {message}")]
pub struct YamlError {
    /// 1-based line of the problem.
    pub line: usize,
    /// 1-based column of the problem.
    pub column: usize,
    /// What is wrong there.
    pub message: String,
}

/// Every document of a YAML stream (`---`-separated), each as a JSON value. Empty documents
/// (a stream that is only comments, or `---` followed by nothing) are left out.
pub fn documents(text: &str) -> Result<Vec<Value>, YamlError> {
    let mut events = Vec::new();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| YamlError {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info().to_owned(),
        })?;
        if !matches!(event, Event::Nothing) {
            events.push((event, span));
        }
    }
    let mut reader = Reader { events: events.into_iter().peekable(), anchors: HashMap::new() };
    let mut docs = Vec::new();
    loop {
        match reader.next()? {
            (Event::StreamStart, _) | (Event::DocumentEnd, _) => {}
            (Event::StreamEnd, _) => return Ok(docs),
            (Event::DocumentStart(_), _) => {
                if matches!(reader.events.peek(), Some((Event::DocumentEnd, _))) {
                    continue;
                }
                let doc = reader.node()?;
                if !doc.is_null() {
                    docs.push(doc);
                }
            }
            (_, span) => return Err(error(span, "unexpected YAML event outside a document")),
        }
    }
}

/// The one document of a YAML text (an empty text is `null`); more than one is an error.
pub fn document(text: &str) -> Result<Value, YamlError> {
    let mut docs = documents(text)?;
    match docs.len() {
        0 => Ok(Value::Null),
        1 => Ok(docs.remove(0)),
        n => Err(YamlError { line: 1, column: 1, message: format!("expected one document, found {n}") }),
    }
}

struct Reader<'a> {
    events: std::iter::Peekable<std::vec::IntoIter<(Event<'a>, Span)>>,
    anchors: HashMap<usize, Value>,
}

impl<'a> Reader<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), YamlError> {
        self.events.next().ok_or_else(|| YamlError {
            line: 0,
            column: 0,
            message: "unexpected end".to_owned(),
        })
    }

    fn node(&mut self) -> Result<Value, YamlError> {
        let (event, span) = self.next()?;
        let (value, anchor) = match event {
            Event::Scalar(text, style, anchor, tag) => (scalar(text, style, tag.as_deref(), span)?, anchor),
            Event::Alias(id) => {
                let value = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| error(span, "alias of an unknown anchor"))?;
                return Ok(value);
            }
            Event::SequenceStart(anchor, tag) => {
                check_collection_tag(tag.as_deref(), "seq", span)?;
                let mut items = Vec::new();
                while !matches!(self.events.peek(), Some((Event::SequenceEnd, _))) {
                    items.push(self.node()?);
                }
                self.next()?;
                (Value::Array(items), anchor)
            }
            Event::MappingStart(anchor, tag) => {
                check_collection_tag(tag.as_deref(), "map", span)?;
                let mut map = Map::new();
                while !matches!(self.events.peek(), Some((Event::MappingEnd, _))) {
                    let key_span = self.events.peek().map(|(_, s)| *s).unwrap_or(span);
                    let key = match self.node()? {
                        Value::String(s) => s,
                        key @ (Value::Null | Value::Bool(_) | Value::Number(_)) => key.to_string(),
                        Value::Array(_) | Value::Object(_) => {
                            return Err(error(key_span, "a mapping key must be a scalar"));
                        }
                    };
                    let value = self.node()?;
                    if map.insert(key.clone(), value).is_some() {
                        return Err(error(key_span, &format!("duplicate key {key:?}")));
                    }
                }
                self.next()?;
                (Value::Object(map), anchor)
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd
            | Event::SequenceEnd
            | Event::MappingEnd => return Err(error(span, "expected a value")),
        };
        if anchor != 0 {
            self.anchors.insert(anchor, value.clone());
        }
        Ok(value)
    }
}

fn error(span: Span, message: &str) -> YamlError {
    YamlError { line: span.start.line(), column: span.start.col() + 1, message: message.to_owned() }
}

fn check_collection_tag(tag: Option<&Tag>, want: &str, span: Span) -> Result<(), YamlError> {
    match tag {
        None => Ok(()),
        Some(t) if t.is_yaml_core_schema() && t.suffix == want => Ok(()),
        Some(t) => Err(error(span, &format!("unsupported tag {}{}", t.handle, t.suffix))),
    }
}

fn scalar(text: Cow<'_, str>, style: ScalarStyle, tag: Option<&Tag>, span: Span) -> Result<Value, YamlError> {
    if let Some(t) = tag {
        if !t.is_yaml_core_schema() {
            return Err(error(span, &format!("unsupported tag {}{}", t.handle, t.suffix)));
        }
        return match t.suffix.as_str() {
            "str" => Ok(Value::String(text.into_owned())),
            "null" | "bool" | "int" | "float" => match plain(&text) {
                v @ Value::String(_) => Err(error(span, &format!("{:?} is not a {}", v, t.suffix))),
                v => Ok(v),
            },
            other => Err(error(span, &format!("unsupported tag !!{other}"))),
        };
    }
    Ok(match style {
        ScalarStyle::Plain => plain(&text),
        ScalarStyle::SingleQuoted
        | ScalarStyle::DoubleQuoted
        | ScalarStyle::Literal
        | ScalarStyle::Folded => Value::String(text.into_owned()),
    })
}

/// A plain scalar under YAML 1.2's core schema.
fn plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        t => {
            let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                if let Ok(n) = t.trim_start_matches('+').parse::<i64>() {
                    return Value::Number(n.into());
                }
                if let Ok(n) = t.trim_start_matches('+').parse::<u64>() {
                    return Value::Number(n.into());
                }
            }
            let looks_float = digits.bytes().any(|b| b.is_ascii_digit())
                && digits
                    .bytes()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
            if looks_float
                && let Ok(f) = t.parse::<f64>()
                && let Some(n) = Number::from_f64(f)
            {
                return Value::Number(n);
            }
            Value::String(t.to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn block_and_flow_documents_become_json_with_core_schema_scalars() {
        let text = "kind: Config\nusers: [{name: a, user: {token: 'x:1'}}]\nn: 3\nf: 1.5\nb: true\nz: ~\ns: \"007\"\nplain: 1.2.3\n";
        assert_eq!(
            document(text).unwrap(),
            json!({"kind": "Config", "users": [{"name": "a", "user": {"token": "x:1"}}], "n": 3, "f": 1.5,
                   "b": true, "z": null, "s": "007", "plain": "1.2.3"})
        );
    }

    #[test]
    fn streams_anchors_and_block_scalars() {
        let text = "---\na: &x {k: v}\nb: *x\nc: |\n  line1\n  line2\n---\n# only a comment\n---\n- 1\n";
        assert_eq!(
            documents(text).unwrap(),
            vec![json!({"a": {"k": "v"}, "b": {"k": "v"}, "c": "line1\nline2\n"}), json!([1])]
        );
    }

    #[test]
    fn errors_carry_the_position() {
        let e = document("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.line >= 1, "{e}");
        let e = document("a: 1\na: 2\n").unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (2, "duplicate key \"a\""));
        assert!(document("a: !custom 1\n").unwrap_err().message.contains("unsupported tag"));
        assert!(document("a: 1\n---\nb: 2\n").unwrap_err().message.contains("one document"));
    }
}
