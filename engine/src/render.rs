//! Human-readable plan text, as `lanestack plan` prints it.
//!
//! Concise by design: only resources that change, one summary line each, then the changed
//! attributes as `path: old -> new`; JSON and YAML documents in strings diffed as documents
//! (`policy(json).Statement[0].Effect`); long and multi-line strings as unified diffs; sensitive
//! values as `(sensitive)`, unknowns as `(known after apply)`; the totals line last. The
//! functions return strings: printing (and deciding whether to colour) is the CLI's job.

use std::fmt::Write as _;

use lanestack_model::{Action, Value};

use crate::diff::{LeafChange, diff, join_path};
use crate::plan::Plan;
use crate::secrets::Secrets;
use crate::structured::parse_pair;

/// How to style the text.
#[derive(Clone, Copy, Debug, Default)]
pub struct Style {
    /// Use ANSI colours.
    pub color: bool,
    /// Redact sensitive values (the default) or show them.
    pub secrets: Secrets,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
    }
}

/// The symbol and the phrase for an action.
fn describe(action: Action) -> (&'static str, &'static str, &'static str) {
    match action {
        Action::NoOp => (" ", "is unchanged", "0"),
        Action::Create => ("+", "will be created", "32"),
        Action::Update => ("~", "will be updated in place", "33"),
        Action::DeleteThenCreate => ("-/+", "will be replaced", "35"),
        Action::CreateThenDelete => ("+/-", "will be replaced, the new object created first", "35"),
        Action::Delete => ("-", "will be destroyed", "31"),
    }
}

/// Renders a value leaf for display. Never reveals sensitive values.
pub fn show_value(v: &Value) -> String {
    match v {
        Value::String(s) if s.len() > 200 => {
            format!("{:?}… ({} characters)", &s[..s.floor_char_boundary(80)], s.len())
        }
        other => other.to_string(),
    }
}

fn is_long(s: &str) -> bool {
    s.contains('\n') || s.len() > 120
}

/// Renders the plan for a terminal.
pub fn plan_text(plan: &Plan, style: Style) -> String {
    let mut out = String::new();
    if !plan.drift.is_empty() {
        out.push_str("Changes outside lanestack, found by refresh:\n\n");
        for d in &plan.drift {
            match &d.live {
                None => {
                    let _ = writeln!(
                        out,
                        "  {} {} was deleted outside lanestack",
                        style.paint("31", "-"),
                        d.address
                    );
                }
                Some(live) => {
                    let _ =
                        writeln!(out, "  {} {} changed outside lanestack", style.paint("33", "~"), d.address);
                    attribute_lines(&mut out, Some(&d.recorded), Some(live), style);
                }
            }
        }
        out.push('\n');
    }
    if !plan.has_changes() {
        out.push_str("No changes. The infrastructure matches the stack.\n");
        return out;
    }
    let effective: Vec<_> = plan.effective().collect();
    if !effective.is_empty() || !plan.deposed.is_empty() {
        out.push_str("lanestack will perform the following actions:\n\n");
    }
    for (addr, _) in &plan.deposed {
        let _ = writeln!(
            out,
            "  {} {addr} (deposed object) will be destroyed (left behind by an interrupted create-before-destroy replacement)",
            style.paint("31", "-")
        );
    }
    for c in &effective {
        let change = &c.change;
        let (symbol, phrase, color) = describe(change.action);
        let _ = write!(out, "  {} {} {}", style.paint(color, symbol), change.address, phrase);
        if let Some(reason) = change.reason {
            let _ = write!(out, " ({}", reason.describe());
            if !change.replace_paths.is_empty() {
                let paths: Vec<String> = change.replace_paths.iter().map(ToString::to_string).collect();
                let _ = write!(out, "; forced by {}", paths.join(", "));
            }
            out.push(')');
        }
        out.push('\n');
        if change.action != Action::Delete {
            let before = if change.action == Action::Create { None } else { change.before.as_ref() };
            attribute_lines(&mut out, before, change.after.as_ref(), style);
        }
    }
    let changed_outputs: Vec<_> = plan.outputs.iter().filter(|o| o.action != Action::NoOp).collect();
    if !changed_outputs.is_empty() {
        out.push_str("\nChanges to outputs:\n");
        for o in changed_outputs {
            let (symbol, _, color) = describe(o.action);
            let shown = |v: &Option<Value>| {
                v.as_ref().map(|v| show_value(&style.secrets.prepare(v))).unwrap_or_default()
            };
            let line = match o.action {
                Action::Create => format!("{} = {}", o.name, shown(&o.after)),
                Action::Delete => format!("{} = {}", o.name, shown(&o.before)),
                Action::NoOp | Action::Update | Action::DeleteThenCreate | Action::CreateThenDelete => {
                    format!("{}: {} -> {}", o.name, shown(&o.before), shown(&o.after))
                }
            };
            let _ = writeln!(out, "  {} {line}", style.paint(color, symbol));
        }
    }
    let t = plan.totals();
    let _ = writeln!(
        out,
        "\n{} {} to add, {} to change, {} to replace, {} to destroy.",
        style.paint("1", "Plan:"),
        t.add,
        t.change,
        t.replace,
        t.destroy
    );
    out
}

fn attribute_lines(out: &mut String, before: Option<&Value>, after: Option<&Value>, style: Style) {
    leaf_lines(out, before, after, style, "");
}

/// The changed leaves between `before` and `after`, their paths under `prefix`. A string that
/// holds a JSON or YAML document on both sides is diffed as the document (`policy(json).a.b`),
/// so that a reformatted or reordered document shows only what changed in it.
fn leaf_lines(out: &mut String, before: Option<&Value>, after: Option<&Value>, style: Style, prefix: &str) {
    for c in diff(before, after) {
        let path = join_path(prefix, &c.path);
        let prepare = |v: &Value| style.secrets.prepare(v);
        match c.change {
            LeafChange::Added(v) => {
                let _ =
                    writeln!(out, "      {} {path}: {}", style.paint("32", "+"), show_value(&prepare(&v)));
            }
            LeafChange::Removed(v) => {
                let _ =
                    writeln!(out, "      {} {path}: {}", style.paint("31", "-"), show_value(&prepare(&v)));
            }
            LeafChange::Changed(a, b) => {
                let (a, b) = (prepare(&a), prepare(&b));
                if let (Value::String(x), Value::String(y)) = (&a, &b) {
                    if let Some((fx, dx, dy)) = parse_pair(x, y) {
                        let start = out.len();
                        leaf_lines(out, Some(&dx), Some(&dy), style, &format!("{path}({})", fx.name()));
                        if out.len() == start {
                            let _ = writeln!(
                                out,
                                "      {} {path}: {} reformatted, content unchanged",
                                style.paint("33", "~"),
                                fx.label()
                            );
                        }
                        continue;
                    }
                    if is_long(x) || is_long(y) {
                        let _ = writeln!(out, "      {} {path}:", style.paint("33", "~"));
                        let text = similar::TextDiff::from_lines(x.as_str(), y.as_str());
                        for line in text.unified_diff().context_radius(2).to_string().lines() {
                            let _ = writeln!(out, "          {line}");
                        }
                        continue;
                    }
                }
                let _ = writeln!(
                    out,
                    "      {} {path}: {} -> {}",
                    style.paint("33", "~"),
                    show_value(&a),
                    show_value(&b)
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(before: &Value, after: &Value) -> String {
        let mut out = String::new();
        attribute_lines(&mut out, Some(before), Some(after), Style::default());
        out
    }

    #[test]
    fn json_and_yaml_strings_are_diffed_as_documents() {
        let before = Value::object([
            (
                "policy",
                Value::string(r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"s3:Get"}]}"#),
            ),
            ("values", Value::string("replicas: 2\nimage:\n  tag: v1\n")),
        ]);
        // Reordered and reformatted, one leaf changed in each.
        let after = Value::object([
            (
                "policy",
                Value::string(
                    "{\n  \"Statement\": [{\"Action\": \"s3:Get\", \"Effect\": \"Deny\"}],\n  \"Version\": \"1\"\n}",
                ),
            ),
            ("values", Value::string("image:\n  tag: v2\nreplicas: 2\n")),
        ]);
        let text = lines(&before, &after);
        assert_eq!(
            text,
            "      ~ policy(json).Statement[0].Effect: \"Allow\" -> \"Deny\"\n      \
             ~ values(yaml).image.tag: \"v1\" -> \"v2\"\n"
        );
    }

    #[test]
    fn a_document_that_only_changed_its_layout_says_so_in_one_line() {
        let before =
            Value::object([("doc", Value::string(r#"{"a":1,"b":[1,2]}"#)), ("note", Value::string("old"))]);
        let after = Value::object([
            ("doc", Value::string("{ \"b\": [1, 2], \"a\": 1 }")),
            ("note", Value::string("new")),
        ]);
        assert_eq!(
            lines(&before, &after),
            "      ~ doc: JSON reformatted, content unchanged\n      ~ note: \"old\" -> \"new\"\n"
        );
    }

    #[test]
    fn a_sensitive_document_is_never_opened() {
        let before =
            Value::object([("secret", Value::string(r#"{"password":"canary-1"}"#).mark_sensitive())]);
        let after = Value::object([("secret", Value::string(r#"{"password":"canary-2"}"#).mark_sensitive())]);
        let text = lines(&before, &after);
        assert!(!text.contains("canary"), "{text}");
        assert!(text.contains("secret: (sensitive) -> (sensitive)"), "{text}");
    }
}
