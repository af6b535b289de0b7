//! A small YAML emitter for `yamlencode`: block style, keys in sorted order, strings quoted
//! only where a plain scalar would be read back as something else.
//!
//! Each node is rendered to lines with relative indentation; a parent indents its children's
//! lines, and a list item puts `- ` before its child's first line. This keeps nesting rules in
//! one place instead of threading an indentation level through every case.

use lanestack_model::Value;

/// Renders a value (already unmarked and free of unknowns) as a YAML document.
pub(super) fn encode(v: &Value) -> String {
    let mut out = String::new();
    for line in lines(v) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// A scalar or an empty collection, written on one line.
fn inline(v: &Value) -> Option<String> {
    match v {
        Value::Null | Value::Unknown => Some("null".into()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(scalar(s)),
        Value::List(l) if l.is_empty() => Some("[]".into()),
        Value::Object(m) if m.is_empty() => Some("{}".into()),
        Value::Sensitive(inner) => inline(inner),
        Value::List(_) | Value::Object(_) => None,
    }
}

fn lines(v: &Value) -> Vec<String> {
    if let Some(s) = inline(v) {
        return vec![s];
    }
    let mut out = Vec::new();
    match v {
        Value::List(items) => {
            for item in items {
                for (i, line) in lines(item).into_iter().enumerate() {
                    out.push(if i == 0 { format!("- {line}") } else { format!("  {line}") });
                }
            }
        }
        Value::Object(m) => {
            for (k, child) in m {
                let key = scalar(k);
                match inline(child) {
                    Some(s) => out.push(format!("{key}: {s}")),
                    None => {
                        out.push(format!("{key}:"));
                        out.extend(lines(child).into_iter().map(|l| format!("  {l}")));
                    }
                }
            }
        }
        Value::Sensitive(inner) => return lines(inner),
        Value::Null | Value::Unknown | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
    out
}

/// A string as a plain scalar when that reads back as the same string, else double-quoted.
fn scalar(s: &str) -> String {
    if needs_quotes(s) {
        // JSON's escapes are valid in YAML double-quoted scalars.
        serde_json::Value::String(s.to_owned()).to_string()
    } else {
        s.to_owned()
    }
}

fn needs_quotes(s: &str) -> bool {
    let Some(first) = s.chars().next() else { return true };
    const RESERVED: [&str; 15] = [
        "null", "~", "true", "false", "yes", "no", "on", "off", "y", "n", ".inf", "-.inf", "+.inf", ".nan",
        "<<",
    ];
    RESERVED.iter().any(|r| s.eq_ignore_ascii_case(r))
        || "-?:,[]{}#&*!|>'\"%@`".contains(first)
        || first.is_ascii_digit()
        || ((first == '+' || first == '.') && s.len() > 1)
        || s.starts_with(char::is_whitespace)
        || s.ends_with(char::is_whitespace)
        || s.ends_with(':')
        || s.contains(": ")
        || s.contains(" #")
        || s.chars().any(|c| c.is_control() || c == '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emits_block_style_with_sorted_keys() {
        let v = Value::from_json(&serde_json::json!({
            "name": "web",
            "replicas": 3,
            "labels": {"app": "web", "tier": "front end"},
            "ports": [80, 443],
            "containers": [{"image": "nginx:1.25", "args": ["-g", "daemon off;"]}],
            "empty": [],
            "none": null,
            "flags": {"yes": "yes", "version": "1.0", "note": "a: b", "multi": "x\ny"}
        }));
        let expected = "\
containers:
  - args:
      - \"-g\"
      - daemon off;
    image: nginx:1.25
empty: []
flags:
  multi: \"x\\ny\"
  note: \"a: b\"
  version: \"1.0\"
  \"yes\": \"yes\"
labels:
  app: web
  tier: front end
name: web
none: null
ports:
  - 80
  - 443
replicas: 3
";
        assert_eq!(encode(&v), expected);
    }

    #[test]
    fn scalars_and_nested_lists() {
        assert_eq!(encode(&Value::from("")), "\"\"\n");
        assert_eq!(encode(&Value::from(true)), "true\n");
        assert_eq!(encode(&Value::from("true")), "\"true\"\n");
        let nested = Value::from_json(&serde_json::json!([[1, 2], {}]));
        assert_eq!(encode(&nested), "- - 1\n  - 2\n- {}\n");
    }
}
