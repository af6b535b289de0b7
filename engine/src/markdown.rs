//! Plans as GitHub-flavoured markdown, for pull-request comments (`show --format markdown`).
//!
//! The text opens with what a reviewer must judge first: the totals, then every delete and
//! replace (with the paths that force it and the reason), every change to a resource that holds
//! data or has `prevent_destroy`, then the other updates and creates, one line each. Below come
//! the changes outside lanestack (folded, split into those this plan reverts and the rest) and one
//! folded `<details>` section per resource with a ```` ```diff ```` block: `+`/`-` in column 0,
//! the full attribute path on every line, keyed lists (`containers[name=trainer]`), JSON and
//! YAML strings diffed as documents (`policy(json).Statement[0].Effect`), long strings as
//! unified diffs (`script | line`), unknowns as `(known after apply)`.
//!
//! Design decision: a hard size budget ([`Options::max_chars`], counted in characters as the
//! hosts count them) met by degrading in a fixed order rather than by cutting the text at the
//! limit: details of creates collapse to one line first, then updates, outputs, drift, and the
//! risky changes last; then the collapsed lines go, then the tails of the update and create
//! lists. The risk list is never dropped; only a budget too small for it alone cuts it, with a
//! note. What was left out is said, with the command that shows it all. The result never
//! exceeds the budget.

use std::fmt::Write as _;

use lanestack_model::{Action, Value};

use crate::diff::{LeafChange, diff, join_path};
use crate::plan::{Plan, PlannedChange};
use crate::render::show_value;
use crate::secrets::Secrets;
use crate::structured::{parse_document, parse_pair};

/// GitHub's limit for a comment body, the default budget.
pub const DEFAULT_MAX_CHARS: usize = 65_536;

/// How to render.
#[derive(Clone, Debug)]
pub struct Options {
    /// The stack's name, for the title and the hidden marker that lets CI find its comment.
    pub stack: String,
    /// The most characters the result may have.
    pub max_chars: usize,
    /// Redact sensitive values (the default) or show them.
    pub secrets: Secrets,
    /// The command that shows the whole plan, named when something is left out.
    pub full_command: String,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            stack: "stack".to_owned(),
            max_chars: DEFAULT_MAX_CHARS,
            secrets: Secrets::Redact,
            full_command: "lanestack show PLANFILE".to_owned(),
        }
    }
}

/// The hidden marker for a stack: `<!-- lanestack-plan stack=NAME -->`, with every character
/// that could end the comment or break a search replaced by `_` (and `--` by `-_`).
pub fn marker(stack: &str) -> String {
    let mut name: String = stack
        .chars()
        .map(|c| if c.is_alphanumeric() || matches!(c, '.' | '_' | '/' | ':' | '-') { c } else { '_' })
        .collect();
    // "--" may not appear inside an HTML comment.
    while name.contains("--") {
        name = name.replace("--", "-_");
    }
    format!("<!-- lanestack-plan stack={name} -->")
}

/// What a block becomes as the budget shrinks.
struct Block {
    /// The text of each level: `[full, collapsed, ...]`; the last is what remains at the end.
    levels: Vec<String>,
    /// The current level.
    at: usize,
    /// A section whose details count as "left out" once it leaves level 0.
    section: bool,
}

impl Block {
    fn fixed(text: String) -> Block {
        Block { levels: vec![text], at: 0, section: false }
    }
    fn levels(levels: Vec<String>, section: bool) -> Block {
        Block { levels, at: 0, section }
    }
    fn text(&self) -> &str {
        &self.levels[self.at]
    }
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// The word and the sort rank of an action in the risk list.
fn verb(action: Action) -> &'static str {
    match action {
        Action::NoOp => "no-op",
        Action::Create => "create",
        Action::Update => "update",
        Action::DeleteThenCreate | Action::CreateThenDelete => "replace",
        Action::Delete => "destroy",
    }
}

fn rank(action: Action) -> u8 {
    match action {
        Action::Delete => 0,
        Action::DeleteThenCreate | Action::CreateThenDelete => 1,
        Action::Update => 2,
        Action::Create => 3,
        Action::NoOp => 4,
    }
}

fn flagged(c: &PlannedChange) -> bool {
    c.change.action == Action::Delete || c.change.action.is_replace() || c.data_bearing || c.prevent_destroy
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A code span that survives backticks in the text.
fn code(s: &str) -> String {
    let longest = longest_run(s, '`');
    let fence = "`".repeat(longest + 1);
    if longest > 0 { format!("{fence} {s} {fence}") } else { format!("`{s}`") }
}

fn longest_run(s: &str, ch: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for c in s.chars() {
        run = if c == ch { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

/// One risk-list line.
fn summary_line(c: &PlannedChange) -> String {
    let ch = &c.change;
    let mut line = format!("- **{}** {}", verb(ch.action), code(&ch.address.to_string()));
    let mut why = Vec::new();
    if let Some(reason) = ch.reason {
        why.push(reason.describe().to_owned());
    }
    if !ch.replace_paths.is_empty() {
        let paths: Vec<String> = ch.replace_paths.iter().map(|p| code(&p.to_string())).collect();
        why.push(format!("forced by {}", paths.join(", ")));
    }
    if c.data_bearing {
        why.push("**holds data**".to_owned());
    }
    if c.prevent_destroy {
        why.push("**prevent_destroy**".to_owned());
    }
    if ch.action == Action::Update {
        let n = diff(ch.before.as_ref(), ch.after.as_ref()).len();
        why.push(format!("{n} attribute{}", if n == 1 { "" } else { "s" }));
    }
    if !why.is_empty() {
        let _ = write!(line, " — {}", why.join("; "));
    }
    line.push('\n');
    line
}

/// The diff lines of one resource (or drift), in column-0 `+`/`-` form.
pub fn diff_lines(before: Option<&Value>, after: Option<&Value>, secrets: Secrets) -> Vec<String> {
    let mut out = Vec::new();
    leaf_lines(before, after, secrets, "", &mut out);
    out
}

fn is_long(s: &str) -> bool {
    s.contains('\n') || chars(s) > 120
}

fn leaf_lines(
    before: Option<&Value>,
    after: Option<&Value>,
    secrets: Secrets,
    prefix: &str,
    out: &mut Vec<String>,
) {
    for c in diff(before, after) {
        let path = join_path(prefix, &c.path);
        match c.change {
            LeafChange::Added(v) => one_side('+', &path, &secrets.prepare(&v), secrets, out),
            LeafChange::Removed(v) => one_side('-', &path, &secrets.prepare(&v), secrets, out),
            LeafChange::Changed(a, b) => {
                let (a, b) = (secrets.prepare(&a), secrets.prepare(&b));
                match (&a, &b) {
                    (Value::String(x), Value::String(y)) => {
                        if let Some((fx, dx, dy)) = parse_pair(x, y) {
                            let inner = format!("{path}({})", fx.name());
                            let start = out.len();
                            leaf_lines(Some(&dx), Some(&dy), secrets, &inner, out);
                            if out.len() == start {
                                out.push(format!("  {path}: {} reformatted, content unchanged", fx.label()));
                            }
                        } else if is_long(x) || is_long(y) {
                            unified(&path, x, y, out);
                        } else {
                            out.push(format!("- {path} = {}", show_value(&a)));
                            out.push(format!("+ {path} = {}", show_value(&b)));
                        }
                    }
                    _ => {
                        out.push(format!("- {path} = {}", show_value(&a)));
                        out.push(format!("+ {path} = {}", show_value(&b)));
                    }
                }
            }
        }
    }
}

fn one_side(sign: char, path: &str, v: &Value, secrets: Secrets, out: &mut Vec<String>) {
    if let Value::String(s) = v {
        if let Some((format, doc)) = parse_document(s) {
            let inner = format!("{path}({})", format.name());
            let (before, after) = if sign == '+' { (None, Some(&doc)) } else { (Some(&doc), None) };
            let start = out.len();
            leaf_lines(before, after, secrets, &inner, out);
            if out.len() > start {
                return;
            }
        }
        if s.contains('\n') {
            for line in s.lines() {
                out.push(format!("{sign} {path} | {line}"));
            }
            return;
        }
    }
    out.push(format!("{sign} {path} = {}", show_value(v)));
}

/// A unified line diff of two strings, each line prefixed with the attribute path.
fn unified(path: &str, old: &str, new: &str, out: &mut Vec<String>) {
    let text = similar::TextDiff::from_lines(old, new);
    for (i, group) in text.grouped_ops(2).iter().enumerate() {
        if i > 0 {
            out.push(format!("  {path} | …"));
        }
        for op in group {
            for change in text.iter_changes(op) {
                let sign = match change.tag() {
                    similar::ChangeTag::Delete => '-',
                    similar::ChangeTag::Insert => '+',
                    similar::ChangeTag::Equal => ' ',
                };
                let line = change.value().trim_end_matches('\n');
                out.push(format!("{sign} {path} | {line}"));
            }
        }
    }
}

/// A folded section with a diff block.
fn details(summary: &str, lines: &[String]) -> String {
    let body = lines.join("\n");
    let fence = "`".repeat(longest_run(&body, '`').max(2) + 1);
    let mut out = format!("<details><summary>{summary}</summary>\n\n");
    if lines.is_empty() {
        out.push_str("No attribute changes.\n");
    } else {
        let _ = write!(out, "{fence}diff\n{body}\n{fence}\n");
    }
    out.push_str("\n</details>\n");
    out
}

fn change_summary(c: &PlannedChange) -> String {
    format!("<b>{}</b> <code>{}</code>", verb(c.change.action), escape_html(&c.change.address.to_string()))
}

/// Renders a plan as markdown within `opts.max_chars` characters.
pub fn plan_markdown(plan: &Plan, opts: &Options) -> String {
    let secrets = opts.secrets;
    let mut blocks: Vec<Block> = Vec::new();
    // Degradation steps, in order: (block index, level to move to).
    let mut steps: Vec<(usize, usize)> = Vec::new();

    let t = plan.totals();
    let outputs: Vec<_> = plan.outputs.iter().filter(|o| o.action != Action::NoOp).collect();
    let mut head = format!("{}\n### lanestack plan for {}\n\n", marker(&opts.stack), code(&opts.stack));
    if plan.has_changes() {
        let _ = write!(
            head,
            "**Plan: {} to add, {} to change, {} to replace, {} to destroy.**",
            t.add, t.change, t.replace, t.destroy
        );
        if !outputs.is_empty() {
            let _ = write!(
                head,
                " {} output change{}.",
                outputs.len(),
                if outputs.len() == 1 { "" } else { "s" }
            );
        }
    } else {
        head.push_str("**No changes.** The infrastructure matches the stack.");
    }
    if !plan.drift.is_empty() {
        let _ = write!(head, " {} changed outside lanestack.", plan.drift.len());
    }
    head.push('\n');
    blocks.push(Block::fixed(head));

    let mut effective: Vec<&PlannedChange> = plan.effective().collect();
    effective.sort_by_key(|c| (!flagged(c), rank(c.change.action)));
    let (risky, rest): (Vec<&PlannedChange>, Vec<&PlannedChange>) =
        effective.iter().partition(|c| flagged(c));
    let updates: Vec<&PlannedChange> =
        rest.iter().copied().filter(|c| c.change.action == Action::Update).collect();
    let creates: Vec<&PlannedChange> =
        rest.iter().copied().filter(|c| c.change.action == Action::Create).collect();

    if !risky.is_empty() {
        let mut text =
            "\n#### ⚠️ Review first: destroys, replacements, data and protected resources\n\n".to_owned();
        for c in &risky {
            text.push_str(&summary_line(c));
        }
        blocks.push(Block::fixed(text));
    }
    // The update and create lists: a heading, one block per line, and a "more" line whose
    // levels count how many lines were dropped.
    let mut list_tails: Vec<Vec<(usize, usize)>> = Vec::new();
    for (title, list) in [("Updates", &updates), ("Creates", &creates)] {
        if list.is_empty() {
            continue;
        }
        blocks.push(Block::fixed(format!("\n#### {title}\n\n")));
        let first = blocks.len();
        for c in list.iter() {
            blocks.push(Block::levels(vec![summary_line(c), String::new()], false));
        }
        let more = blocks.len();
        let noun = title.to_lowercase();
        let levels = (0..=list.len())
            .map(|n| if n == 0 { String::new() } else { format!("- …and {n} more {noun}\n") })
            .collect();
        blocks.push(Block::levels(levels, false));
        // Dropping line i (from the end) moves the "more" line to level k.
        list_tails.push(
            (0..list.len()).rev().enumerate().flat_map(|(k, i)| [(first + i, 1), (more, k + 1)]).collect(),
        );
    }

    // Drift, folded.
    let mut drift_block = None;
    if !plan.drift.is_empty() {
        let reverted = |addr| plan.change(addr).is_some_and(|c| c.change.action != Action::NoOp);
        let mut text =
            format!("\n<details><summary>Changed outside lanestack: {}</summary>\n\n", plan.drift.len());
        for (title, revert) in
            [("This plan reverts it", true), ("Informational (this plan does not act on it)", false)]
        {
            let items: Vec<_> = plan.drift.iter().filter(|d| reverted(&d.address) == revert).collect();
            if items.is_empty() {
                continue;
            }
            let _ = write!(text, "#### {title}\n\n");
            for d in items {
                let lines = match &d.live {
                    Some(live) => diff_lines(Some(&d.recorded), Some(live), secrets),
                    None => vec![format!("- {} (deleted outside lanestack)", d.address)],
                };
                text.push_str(&details(
                    &format!("<code>{}</code>", escape_html(&d.address.to_string())),
                    &lines,
                ));
                text.push('\n');
            }
        }
        text.push_str("</details>\n");
        let line = format!(
            "\n_{} change{} outside lanestack (details left out)._\n",
            plan.drift.len(),
            if plan.drift.len() == 1 { "" } else { "s" }
        );
        drift_block = Some(blocks.len());
        blocks.push(Block::levels(vec![text, line, String::new()], true));
    }

    // Details, one per resource, risky first.
    let mut detail_blocks: Vec<(usize, &PlannedChange)> = Vec::new();
    if !effective.is_empty() {
        blocks.push(Block::fixed("\n#### Details\n\n".to_owned()));
        for c in &effective {
            let ch = &c.change;
            let before = if ch.action == Action::Create { None } else { ch.before.as_ref() };
            let lines = diff_lines(before, ch.after.as_ref(), secrets);
            let full = details(&change_summary(c), &lines) + "\n";
            let line = format!("- {} (details left out)\n", change_summary(c));
            detail_blocks.push((blocks.len(), c));
            blocks.push(Block::levels(vec![full, line, String::new()], true));
        }
    }
    let mut outputs_block = None;
    if !outputs.is_empty() {
        let lines: Vec<String> = outputs
            .iter()
            .flat_map(|o| {
                let show = |v: &Option<Value>| {
                    v.as_ref().map(|v| show_value(&secrets.prepare(v))).unwrap_or_default()
                };
                match o.action {
                    Action::Create => vec![format!("+ output.{} = {}", o.name, show(&o.after))],
                    Action::Delete => vec![format!("- output.{} = {}", o.name, show(&o.before))],
                    Action::NoOp | Action::Update | Action::DeleteThenCreate | Action::CreateThenDelete => {
                        vec![
                            format!("- output.{} = {}", o.name, show(&o.before)),
                            format!("+ output.{} = {}", o.name, show(&o.after)),
                        ]
                    }
                }
            })
            .collect();
        let full = format!("\n{}", details(&format!("Output changes: {}", outputs.len()), &lines));
        let line = format!(
            "- {} output change{} (details left out)\n",
            outputs.len(),
            if outputs.len() == 1 { "" } else { "s" }
        );
        outputs_block = Some(blocks.len());
        blocks.push(Block::levels(vec![full, line, String::new()], true));
    }

    // The order of degradation.
    let of = |action: Action, risky: bool| {
        detail_blocks
            .iter()
            .rev()
            .filter(move |(_, c)| flagged(c) == risky && (risky || c.change.action == action))
            .map(|(i, _)| *i)
            .collect::<Vec<_>>()
    };
    let creates_d = of(Action::Create, false);
    let updates_d = of(Action::Update, false);
    let risky_d = of(Action::NoOp, true);
    for level in [1, 2] {
        steps.extend(creates_d.iter().map(|i| (*i, level)));
        steps.extend(updates_d.iter().map(|i| (*i, level)));
        steps.extend(outputs_block.iter().map(|i| (*i, level)));
        steps.extend(drift_block.iter().map(|i| (*i, level)));
        steps.extend(risky_d.iter().map(|i| (*i, level)));
    }
    for tail in list_tails.iter().rev() {
        steps.extend(tail.iter().copied());
    }

    let footer = |left: usize| {
        if left == 0 {
            String::new()
        } else {
            format!(
                "\n_Left out to fit in {} characters: the details of {left} section{}. See the whole plan with {}._\n",
                opts.max_chars,
                if left == 1 { "" } else { "s" },
                code(&opts.full_command)
            )
        }
    };
    let mut total: usize = blocks.iter().map(|b| chars(b.text())).sum();
    let mut left = 0;
    let mut steps = steps.into_iter();
    while total + chars(&footer(left)) > opts.max_chars {
        let Some((i, level)) = steps.next() else { break };
        let block = &mut blocks[i];
        if block.at >= level {
            continue;
        }
        total -= chars(block.text());
        if block.section && block.at == 0 {
            left += 1;
        }
        block.at = level.min(block.levels.len() - 1);
        total += chars(block.text());
    }
    let mut out: String = blocks.iter().map(Block::text).collect();
    out.push_str(&footer(left));
    if chars(&out) > opts.max_chars {
        let note = format!(
            "\n\n_…cut to fit {} characters; see the whole plan with {}._\n",
            opts.max_chars,
            code(&opts.full_command)
        );
        let keep = opts.max_chars.saturating_sub(chars(&note));
        let cut: String = out.chars().take(keep).collect();
        out = if keep == 0 { out.chars().take(opts.max_chars).collect() } else { cut + &note };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_diffed_by_content_and_a_mere_reformat_is_named() {
        let before = Value::object([
            ("doc", Value::string(r#"{"a":1,"b":[1,2]}"#)),
            ("values", Value::string("image:\n  tag: v1\n")),
        ]);
        let after = Value::object([
            ("doc", Value::string("{ \"b\": [1, 2], \"a\": 1 }")),
            ("values", Value::string("image: {tag: v2}\n")),
        ]);
        assert_eq!(
            diff_lines(Some(&before), Some(&after), Secrets::default()),
            vec![
                "  doc: JSON reformatted, content unchanged".to_owned(),
                "- values(yaml).image.tag = \"v1\"".to_owned(),
                "+ values(yaml).image.tag = \"v2\"".to_owned(),
            ]
        );
    }
}
