//! String templates (`"${a}-%{if b}x%{endif}"`, heredocs) and for-expressions.
//!
//! Templates are kept as text in hcl-rs's tree and parsed when evaluated. An unknown or
//! sensitive interpolation makes the whole string unknown or sensitive; null, lists and objects
//! cannot be interpolated (as in Terraform). Strip markers (`~`) remove all adjacent whitespace,
//! newlines included, as the HCL specification says.

use std::collections::BTreeMap;

use hcl::expr::{ForExpr, TemplateExpr};
use hcl::template::{Directive, Element, Strip, Template};
use lanestack_model::Value;

use super::expr::{Eval, Evaluator, mark};

/// One iteration of a for-expression.
enum Item {
    /// Filtered out by its `if`.
    Skip,
    /// Its `if` is unknown, so the whole result is.
    Unknown,
    /// Kept: the key (object form) and the value.
    Keep(Option<Value>, Value),
}

/// What a template's interpolations turned out to contain.
#[derive(Default)]
struct Marks {
    unknown: bool,
    sensitive: bool,
}

fn strip_of(e: &Element) -> (bool, bool) {
    match e {
        Element::Literal(_) => (false, false),
        Element::Interpolation(i) => (i.strip.strip_start(), i.strip.strip_end()),
        Element::Directive(d) => match &**d {
            Directive::If(i) => (i.if_strip.strip_start(), i.endif_strip.strip_end()),
            Directive::For(f) => (f.for_strip.strip_start(), f.endfor_strip.strip_end()),
        },
    }
}

impl Evaluator<'_> {
    pub(crate) fn template_expr(&mut self, t: &TemplateExpr) -> Eval {
        let tpl = Template::from_expr(t).map_err(|e| self.error("Invalid template", e.to_string()))?;
        self.render(&tpl)
    }

    /// Renders a parsed template into a string value (unknown or sensitive as its parts are).
    pub(crate) fn render(&mut self, tpl: &Template) -> Eval {
        let mut out = String::new();
        let mut marks = Marks::default();
        self.template(tpl, &mut out, &mut marks, Strip::None, Strip::None)?;
        let v = if marks.unknown { Value::Unknown } else { Value::String(out) };
        Ok(mark(v, marks.sensitive))
    }

    fn template(
        &mut self,
        tpl: &Template,
        out: &mut String,
        marks: &mut Marks,
        before: Strip,
        after: Strip,
    ) -> Eval<()> {
        let elems = tpl.elements();
        for (i, elem) in elems.iter().enumerate() {
            match elem {
                Element::Literal(text) => {
                    let strip_start = if i == 0 { before.strip_end() } else { strip_of(&elems[i - 1]).1 };
                    let strip_end = match elems.get(i + 1) {
                        Some(next) => strip_of(next).0,
                        None => after.strip_start(),
                    };
                    let mut t = text.as_str();
                    if strip_start {
                        t = t.trim_start();
                    }
                    if strip_end {
                        t = t.trim_end();
                    }
                    out.push_str(t);
                }
                Element::Interpolation(interp) => {
                    let (v, sensitive) = self.eval(&interp.expr)?.unmark_top();
                    marks.sensitive |= sensitive || v.contains_sensitive();
                    if v.is_unknown() {
                        marks.unknown = true;
                        continue;
                    }
                    let s = self.to_string_value(v.unmark(), "a template interpolation")?;
                    out.push_str(&s);
                }
                Element::Directive(d) => match &**d {
                    Directive::If(dir) => {
                        let (c, sensitive) = self.eval(&dir.cond_expr)?.unmark_top();
                        marks.sensitive |= sensitive;
                        if c.is_unknown() {
                            marks.unknown = true;
                            continue;
                        }
                        if self.to_bool(c, "an `%{if}` condition")? {
                            let end =
                                if dir.false_template.is_some() { dir.else_strip } else { dir.endif_strip };
                            self.template(&dir.true_template, out, marks, dir.if_strip, end)?;
                        } else if let Some(f) = &dir.false_template {
                            self.template(f, out, marks, dir.else_strip, dir.endif_strip)?;
                        }
                    }
                    Directive::For(dir) => {
                        let (coll, sensitive) = self.eval(&dir.collection_expr)?.unmark_top();
                        marks.sensitive |= sensitive;
                        if coll.is_unknown() {
                            marks.unknown = true;
                            continue;
                        }
                        let key_var = dir.key_var.as_ref().map(|k| k.as_str().to_owned());
                        for (k, v) in self.pairs(coll, "a `%{for}` directive")? {
                            let mut vars = vec![(dir.value_var.as_str().to_owned(), v)];
                            if let Some(kv) = &key_var {
                                vars.push((kv.clone(), k));
                            }
                            self.with_binding(vars, |ev| {
                                ev.template(&dir.template, out, marks, dir.for_strip, dir.endfor_strip)
                            })?;
                        }
                    }
                },
            }
        }
        Ok(())
    }

    /// The (key, value) pairs a `for` iterates over: indexes of a list, keys of an object.
    fn pairs(&self, coll: Value, what: &str) -> Eval<Vec<(Value, Value)>> {
        match coll {
            Value::List(items) => {
                Ok(items.into_iter().enumerate().map(|(i, v)| (Value::from(i as i64), v)).collect())
            }
            Value::Object(m) => Ok(m.into_iter().map(|(k, v)| (Value::String(k), v)).collect()),
            other => Err(self.error(
                format!("Cannot iterate over a {} in {what}", other.type_name()),
                "expected a list or an object",
            )),
        }
    }

    pub(crate) fn for_expr(&mut self, f: &ForExpr) -> Eval {
        let (coll, sensitive) = self.eval(&f.collection_expr)?.unmark_top();
        if coll.is_unknown() {
            return Ok(mark(Value::Unknown, sensitive));
        }
        let pairs = self.pairs(coll, "a `for` expression")?;
        let key_var = f.key_var.as_ref().map(|k| k.as_str().to_owned());
        let value_var = f.value_var.as_str().to_owned();
        let mut list = Vec::new();
        let mut object: BTreeMap<String, Value> = BTreeMap::new();
        let mut unknown = false;
        for (k, v) in pairs {
            let mut vars = vec![(value_var.clone(), v)];
            if let Some(kv) = &key_var {
                vars.push((kv.clone(), k));
            }
            let item = self.with_binding(vars, |ev| -> Eval<Item> {
                if let Some(c) = &f.cond_expr {
                    let (c, _) = ev.eval(c)?.unmark_top();
                    if c.is_unknown() {
                        return Ok(Item::Unknown);
                    }
                    if !ev.to_bool(c, "the `if` of a `for` expression")? {
                        return Ok(Item::Skip);
                    }
                }
                let key = f.key_expr.as_ref().map(|k| ev.eval(k)).transpose()?;
                Ok(Item::Keep(key, ev.eval(&f.value_expr)?))
            })?;
            let (key, value) = match item {
                Item::Skip => continue,
                Item::Unknown => {
                    unknown = true;
                    continue;
                }
                Item::Keep(key, value) => (key, value),
            };
            match (&f.key_expr, key) {
                (None, _) => list.push(value),
                (Some(_), None) => unknown = true,
                (Some(_), Some(key)) => {
                    let (key, _) = key.unmark_top();
                    if key.is_unknown() {
                        unknown = true;
                        continue;
                    }
                    let key = self.to_string_value(key, "an object key")?;
                    if f.grouping {
                        let slot = object.entry(key).or_insert_with(|| Value::List(Vec::new()));
                        if let Value::List(items) = slot {
                            items.push(value);
                        }
                    } else {
                        match object.entry(key) {
                            std::collections::btree_map::Entry::Vacant(slot) => {
                                slot.insert(value);
                            }
                            std::collections::btree_map::Entry::Occupied(slot) => {
                                return Err(self
                                    .error(
                                        "Duplicate key in a `for` expression",
                                        format!("the key {:?} is produced twice", slot.key()),
                                    )
                                    .hint("add `...` after the value to group values by key"));
                            }
                        }
                    }
                }
            }
        }
        let v = if unknown {
            Value::Unknown
        } else if f.key_expr.is_some() {
            Value::Object(object.into())
        } else {
            Value::List(list)
        };
        Ok(mark(v, sensitive))
    }
}
