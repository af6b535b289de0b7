//! The expression evaluator.
//!
//! It walks hcl-rs's expression tree directly. Values borrowed from the [`super::Lookup`] are
//! traversed by reference (`azure_subnet.anf.id` clones only the id, not the whole resource),
//! which keeps evaluation of large `count` resources cheap. Marks follow Terraform: an unknown
//! operand makes the result unknown, a sensitive operand makes the result sensitive. Templates
//! and for-expressions live in [`super::template`], operators in [`super::ops`].

use std::borrow::Cow;
use std::collections::BTreeMap;

use hcl::expr::{Expression, FuncCall, ObjectKey, Traversal, TraversalOperator};
use lanestack_model::{Block, BlockAddress, Mode, Nesting, Value};

use super::Scope;
use super::funcs;
use crate::config::{Body, Expr, RefTarget, Reference};
use crate::diag::{Diagnostic, Diagnostics, Span, did_you_mean};

/// What evaluating a sub-expression gives.
pub(crate) type Eval<T = Value> = Result<T, Diagnostic>;

/// Evaluates one expression.
pub fn eval(expr: &Expr, scope: &Scope<'_>) -> Result<Value, Diagnostic> {
    Evaluator::new(*scope, &expr.span, &expr.refs).eval(&expr.expr)
}

/// Evaluates a resource or provider body into an object value shaped by `schema`: one entry per
/// schema attribute (null when not set) and per nested block type (an object or null for
/// `Nesting::Single`, a list for `Nesting::List`), each converted to its schema type and marked
/// sensitive where the schema says so. Problems (type mismatches, evaluation errors) are
/// collected; the value is still returned, with null where evaluation failed.
pub fn eval_body(body: &Body, schema: &Block, scope: &Scope<'_>) -> (Value, Diagnostics) {
    let mut diags = Diagnostics::new();
    let value = body_value(body, schema, scope, &mut diags);
    (value, diags)
}

fn body_value(body: &Body, schema: &Block, scope: &Scope<'_>, diags: &mut Diagnostics) -> Value {
    let mut out = BTreeMap::new();
    for (name, attr) in &schema.attributes {
        let v = match body.attr(name) {
            Some(a) => match eval(&a.value, scope) {
                Ok(v) => match attr.ty.convert(v) {
                    Ok(v) => v,
                    Err(m) => {
                        diags.push(
                            Diagnostic::error("lanestack::type_mismatch", format!("Wrong type for `{name}`"))
                                .at(a.value.span.clone(), m.to_string())
                                .hint(format!("`{name}` is of type {}", attr.ty)),
                        );
                        Value::Null
                    }
                },
                Err(d) => {
                    diags.push(d);
                    Value::Null
                }
            },
            None => Value::Null,
        };
        out.insert(name.clone(), if attr.sensitive && !v.is_null() { v.mark_sensitive() } else { v });
    }
    for (name, nested) in &schema.blocks {
        let mut items = body
            .blocks
            .iter()
            .filter(|b| b.name == *name)
            .map(|b| body_value(&b.body, &nested.block, scope, diags));
        let v = match nested.nesting {
            Nesting::Single => items.next().unwrap_or(Value::Null),
            Nesting::List => Value::List(items.collect()),
        };
        out.insert(name.clone(), v);
    }
    Value::Object(out.into())
}

/// The evaluator's state for one expression.
pub(crate) struct Evaluator<'a> {
    scope: Scope<'a>,
    /// Where the whole expression is: the place of errors without a better one.
    span: &'a Span,
    /// The expression's references, for errors about them.
    refs: &'a [Reference],
    /// Names bound by enclosing for-expressions (and by `templatefile`), innermost last.
    bindings: Vec<(String, Value)>,
    /// Only `bindings` are visible (a `templatefile` template).
    isolated: bool,
}

impl<'a> Evaluator<'a> {
    pub(crate) fn new(scope: Scope<'a>, span: &'a Span, refs: &'a [Reference]) -> Evaluator<'a> {
        Evaluator { scope, span, refs, bindings: Vec::new(), isolated: false }
    }

    /// An evaluator that sees only `vars` (for `templatefile`).
    pub(crate) fn isolated(scope: Scope<'a>, span: &'a Span, vars: Vec<(String, Value)>) -> Evaluator<'a> {
        Evaluator { scope, span, refs: &[], bindings: vars, isolated: true }
    }

    /// An error at the expression's span.
    pub(crate) fn error(&self, summary: impl Into<String>, label: impl Into<String>) -> Diagnostic {
        Diagnostic::error("lanestack::eval", summary).at(self.span.clone(), label)
    }

    /// An error about a reference, at the reference's own span when it can be found.
    fn ref_error(
        &self,
        target: Option<&RefTarget>,
        attr: Option<&str>,
        summary: String,
        label: String,
    ) -> Diagnostic {
        let candidates = self.refs.iter().filter(|r| Some(&r.target) == target);
        let best = candidates
            .clone()
            .find(|r| attr.is_some_and(|a| r.path.iter().any(|p| p == a)))
            .or_else(|| candidates.clone().next());
        let span = best.map_or_else(|| self.span.clone(), |r| r.span.clone());
        Diagnostic::error("lanestack::eval", summary).at(span, label)
    }

    pub(crate) fn with_binding<T>(
        &mut self,
        vars: Vec<(String, Value)>,
        f: impl FnOnce(&mut Self) -> T,
    ) -> T {
        let before = self.bindings.len();
        self.bindings.extend(vars);
        let out = f(self);
        self.bindings.truncate(before);
        out
    }

    fn bound(&self, name: &str) -> Option<&Value> {
        self.bindings.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Evaluates a sub-expression.
    pub(crate) fn eval(&mut self, e: &Expression) -> Eval {
        match e {
            Expression::Null => Ok(Value::Null),
            Expression::Bool(b) => Ok(Value::Bool(*b)),
            Expression::Number(n) => Ok(number(n)),
            Expression::String(s) => Ok(Value::String(s.clone())),
            Expression::Array(items) => {
                items.iter().map(|i| self.eval(i)).collect::<Eval<Vec<_>>>().map(Value::List)
            }
            Expression::Object(o) => self.object(o.iter()),
            Expression::TemplateExpr(t) => self.template_expr(t),
            Expression::Variable(v) => {
                let v = self.resolve(v.as_str(), &[])?;
                Ok(v.0.into_owned())
            }
            Expression::Traversal(t) => self.traversal(t),
            Expression::FuncCall(f) => self.func_call(f),
            Expression::Parenthesis(inner) => self.eval(inner),
            Expression::Conditional(c) => {
                let cond = self.eval(&c.cond_expr)?;
                let (cond, sensitive) = cond.unmark_top();
                let v = match cond {
                    Value::Unknown => Value::Unknown,
                    other => match self.to_bool(other, "the condition")? {
                        true => self.eval(&c.true_expr)?,
                        false => self.eval(&c.false_expr)?,
                    },
                };
                Ok(mark(v, sensitive))
            }
            Expression::Operation(op) => self.operation(op),
            Expression::ForExpr(f) => self.for_expr(f),
            // hcl-rs's enum is non-exhaustive; a future variant is reported, not guessed at.
            _ => Err(self.error("Unsupported expression", "this kind of expression is not supported")),
        }
    }

    fn object<'e>(&mut self, items: impl Iterator<Item = (&'e ObjectKey, &'e Expression)>) -> Eval {
        let mut out = BTreeMap::new();
        let (mut unknown, mut sensitive) = (false, false);
        for (k, v) in items {
            let key = match k {
                ObjectKey::Identifier(i) => i.as_str().to_owned(),
                ObjectKey::Expression(Expression::Variable(v)) if self.bound(v.as_str()).is_none() => {
                    // `{ name = 1 }` written with a bare word is a key, not a reference.
                    v.as_str().to_owned()
                }
                ObjectKey::Expression(e) => {
                    let (k, s) = self.eval(e)?.unmark_top();
                    sensitive |= s;
                    match k {
                        Value::Unknown => {
                            unknown = true;
                            continue;
                        }
                        other => self.to_string_value(other, "an object key")?,
                    }
                }
                _ => return Err(self.error("Unsupported object key", "this kind of key is not supported")),
            };
            out.insert(key, self.eval(v)?);
        }
        Ok(mark(if unknown { Value::Unknown } else { Value::Object(out.into()) }, sensitive))
    }

    fn func_call(&mut self, f: &FuncCall) -> Eval {
        let mut args = Vec::with_capacity(f.args.len());
        for a in &f.args {
            args.push(self.eval(a)?);
        }
        if f.expand_final {
            match args.pop() {
                Some(last) if last.is_unknown() => return Ok(Value::Unknown),
                Some(last) => match last.unmark_top() {
                    (Value::List(items), false) => args.extend(items),
                    (Value::List(items), true) => args.extend(items.into_iter().map(Value::mark_sensitive)),
                    _ => {
                        return Err(
                            self.error("Cannot expand a non-list", "`...` needs a list as the last argument")
                        );
                    }
                },
                None => {}
            }
        }
        let name = f.name.name.as_str();
        if !f.name.namespace.is_empty() {
            return Err(
                self.error(format!("Unknown function `{}`", f.name), "namespaced functions do not exist")
            );
        }
        funcs::call(name, args, &self.scope).map_err(|e| {
            let mut d = self.error(format!("Error in `{name}`"), e.message);
            if let Some(h) = e.hint {
                d = d.hint(h);
            }
            d.code = e.code;
            d
        })
    }

    /// The value a root name stands for, with the number of traversal steps it consumed and what
    /// it refers to (for errors).
    fn resolve(
        &self,
        name: &str,
        ops: &[TraversalOperator],
    ) -> Eval<(Cow<'a, Value>, usize, Option<RefTarget>)> {
        if let Some(v) = self.bound(name) {
            return Ok((Cow::Owned(v.clone()), 0, None));
        }
        if self.isolated {
            let names: Vec<&str> = self.bindings.iter().map(|(n, _)| n.as_str()).collect();
            let mut d = self.error(format!("Unknown variable `{name}`"), "not passed to the template");
            if let Some(s) = did_you_mean(name, names) {
                d = d.hint(format!("did you mean `{s}`?"));
            }
            return Err(d);
        }
        let attr = |i: usize| match ops.get(i) {
            Some(TraversalOperator::GetAttr(a)) => Some(a.as_str()),
            _ => None,
        };
        let lookup = self.scope.lookup;
        let unknown = || Cow::Owned(Value::Unknown);
        match (name, attr(0), attr(1)) {
            ("var", Some(n), _) => {
                Ok((lookup.var(n).map_or_else(unknown, Cow::Borrowed), 1, Some(RefTarget::Var(n.into()))))
            }
            ("local", Some(n), _) => {
                Ok((lookup.local(n).map_or_else(unknown, Cow::Borrowed), 1, Some(RefTarget::Local(n.into()))))
            }
            ("data", Some(ty), Some(n)) => {
                let addr = BlockAddress { mode: Mode::Data, type_name: ty.into(), name: n.into() };
                Ok((
                    lookup.resource(&addr).map_or_else(unknown, Cow::Borrowed),
                    2,
                    Some(RefTarget::Resource(addr)),
                ))
            }
            ("each", Some(which @ ("key" | "value")), _) => match self.scope.each {
                Some(each) => {
                    Ok((Cow::Borrowed(if which == "key" { each.key } else { each.value }), 1, None))
                }
                None => Err(self.ref_error(
                    Some(&RefTarget::Each),
                    None,
                    "`each` is not available here".into(),
                    "only set in a block with `for_each`".into(),
                )),
            },
            ("count", Some("index"), _) => match self.scope.count_index {
                Some(i) => Ok((Cow::Owned(Value::from(i)), 1, None)),
                None => Err(self.ref_error(
                    Some(&RefTarget::Count),
                    None,
                    "`count.index` is not available here".into(),
                    "only set in a block with `count`".into(),
                )),
            },
            ("path", Some("module" | "root"), _) => {
                Ok((Cow::Owned(Value::String(self.scope.module_dir.display().to_string())), 1, None))
            }
            ("path", Some("cwd"), _) => {
                Ok((Cow::Owned(Value::String(self.scope.cwd.display().to_string())), 1, None))
            }
            (ty, Some(n), _) if crate::config::is_resource_type(ty) => {
                let addr = BlockAddress::managed(ty, n);
                Ok((
                    lookup.resource(&addr).map_or_else(unknown, Cow::Borrowed),
                    1,
                    Some(RefTarget::Resource(addr)),
                ))
            }
            _ => Err(self.error(format!("Invalid reference `{name}`"), "cannot be evaluated")),
        }
    }

    fn traversal(&mut self, t: &Traversal) -> Eval {
        let (mut cur, consumed, target) = match &t.expr {
            Expression::Variable(v) => self.resolve(v.as_str(), &t.operators)?,
            other => (Cow::Owned(self.eval(other)?), 0, None),
        };
        let ops = t.operators.get(consumed..).unwrap_or(&[]);
        for (i, op) in ops.iter().enumerate() {
            match op {
                TraversalOperator::AttrSplat | TraversalOperator::FullSplat => {
                    return self.splat(cur.into_owned(), &ops[i + 1..], target.as_ref());
                }
                other => cur = self.step(cur, other, target.as_ref())?,
            }
        }
        Ok(cur.into_owned())
    }

    fn splat(&mut self, v: Value, rest: &[TraversalOperator], target: Option<&RefTarget>) -> Eval {
        let (v, sensitive) = v.unmark_top();
        let items = match v {
            Value::Unknown => return Ok(mark(Value::Unknown, sensitive)),
            Value::Null => Vec::new(),
            Value::List(items) => items,
            other => vec![other],
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let mut cur = Cow::Owned(item);
            for op in rest {
                cur = self.step(cur, op, target)?;
            }
            out.push(cur.into_owned());
        }
        Ok(mark(Value::List(out), sensitive))
    }

    /// One traversal step.
    fn step(
        &mut self,
        cur: Cow<'a, Value>,
        op: &TraversalOperator,
        target: Option<&RefTarget>,
    ) -> Eval<Cow<'a, Value>> {
        if let Value::Sensitive(_) = cur.as_ref() {
            let inner = match cur {
                Cow::Borrowed(Value::Sensitive(inner)) => Cow::Borrowed(&**inner),
                other => Cow::Owned(other.into_owned().unmark_top().0),
            };
            let stepped = self.step(inner, op, target)?;
            return Ok(Cow::Owned(stepped.into_owned().mark_sensitive()));
        }
        if cur.is_unknown() {
            return Ok(Cow::Owned(Value::Unknown));
        }
        match op {
            TraversalOperator::GetAttr(name) => self.get_attr(cur, name.as_str(), target),
            TraversalOperator::LegacyIndex(i) => {
                self.index(cur, Value::from(i64::try_from(*i).unwrap_or(i64::MAX)))
            }
            TraversalOperator::Index(e) => {
                let (key, sensitive) = self.eval(e)?.unmark_top();
                if key.is_unknown() {
                    return Ok(Cow::Owned(mark(Value::Unknown, sensitive)));
                }
                let v = self.index(cur, key)?;
                Ok(if sensitive { Cow::Owned(v.into_owned().mark_sensitive()) } else { v })
            }
            TraversalOperator::AttrSplat | TraversalOperator::FullSplat => {
                let v = self.splat(cur.into_owned(), &[], target)?;
                Ok(Cow::Owned(v))
            }
        }
    }

    fn get_attr(&self, cur: Cow<'a, Value>, name: &str, target: Option<&RefTarget>) -> Eval<Cow<'a, Value>> {
        let Value::Object(m) = cur.as_ref() else {
            let hint = match cur.as_ref() {
                Value::List(_) => "this is a list: pick an element with `[0]` or all of them with `[*]`",
                Value::Null => "the value is null",
                _ => "only objects have attributes",
            };
            return Err(self
                .ref_error(
                    target,
                    Some(name),
                    format!("Cannot read `{name}` from a {}", cur.type_name()),
                    format!("a {} has no attributes", cur.type_name()),
                )
                .hint(hint));
        };
        if !m.contains_key(name) {
            let mut d = self.ref_error(
                target,
                Some(name),
                format!("Unsupported attribute `{name}`"),
                format!("this object has no attribute `{name}`"),
            );
            if let Some(s) = did_you_mean(name, m.keys().map(String::as_str)) {
                d = d.hint(format!("did you mean `{s}`?"));
            }
            return Err(d);
        }
        Ok(match cur {
            Cow::Borrowed(Value::Object(m)) => Cow::Borrowed(&m[name]),
            other => Cow::Owned(match other.into_owned() {
                Value::Object(mut m) => m.remove(name).unwrap_or_default(),
                v => v,
            }),
        })
    }

    fn index(&self, cur: Cow<'a, Value>, key: Value) -> Eval<Cow<'a, Value>> {
        match cur.as_ref() {
            Value::List(items) => {
                let Some(f) = key.as_f64().or_else(|| key.as_str().and_then(|s| s.parse().ok())) else {
                    return Err(self.error(
                        "Invalid index",
                        format!("a list index must be a number, not a {}", key.type_name()),
                    ));
                };
                if f.fract() != 0.0 || f < 0.0 || f >= items.len() as f64 {
                    return Err(self.error(
                        "Index out of range",
                        format!(
                            "index {} is out of range for a list of {} elements",
                            Value::from_f64(f),
                            items.len()
                        ),
                    ));
                }
                let i = f as usize;
                Ok(match cur {
                    Cow::Borrowed(Value::List(items)) => Cow::Borrowed(&items[i]),
                    other => Cow::Owned(match other.into_owned() {
                        Value::List(mut items) => items.swap_remove(i),
                        v => v,
                    }),
                })
            }
            Value::Object(m) => {
                let k = match &key {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    other => {
                        return Err(self.error(
                            "Invalid key",
                            format!("an object key must be a string, not a {}", other.type_name()),
                        ));
                    }
                };
                if !m.contains_key(&k) {
                    let mut d = self.error("Missing key", format!("no element with key {k:?}"));
                    if let Some(s) = did_you_mean(&k, m.keys().map(String::as_str)) {
                        d = d.hint(format!("did you mean {s:?}?"));
                    }
                    return Err(d);
                }
                Ok(match cur {
                    Cow::Borrowed(Value::Object(m)) => Cow::Borrowed(&m[&k]),
                    other => Cow::Owned(match other.into_owned() {
                        Value::Object(mut m) => m.remove(&k).unwrap_or_default(),
                        v => v,
                    }),
                })
            }
            other => {
                Err(self
                    .error("Cannot index this value", format!("a {} cannot be indexed", other.type_name())))
            }
        }
    }

    /// Converts to a boolean as Terraform does ("true"/"false" strings too).
    pub(crate) fn to_bool(&self, v: Value, what: &str) -> Eval<bool> {
        match v {
            Value::Bool(b) => Ok(b),
            Value::String(s) if s == "true" || s == "false" => Ok(s == "true"),
            other => {
                Err(self
                    .error(format!("Expected a bool for {what}"), format!("found a {}", other.type_name())))
            }
        }
    }

    /// Converts a primitive to a string; null, lists and objects are errors.
    pub(crate) fn to_string_value(&self, v: Value, what: &str) -> Eval<String> {
        match v {
            Value::String(s) => Ok(s),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(self
                .error(
                    format!("Cannot use a {} as {what}", other.type_name()),
                    "expected a string, number or bool",
                )
                .hint(match other {
                    Value::Null => "the value is null; use `coalesce(x, \"\")` to give a default",
                    _ => "convert it first, for example with `jsonencode(...)` or `join(\",\", ...)`",
                })),
        }
    }
}

/// Marks `v` sensitive when `sensitive` is set.
pub(crate) fn mark(v: Value, sensitive: bool) -> Value {
    if sensitive { v.mark_sensitive() } else { v }
}

fn number(n: &hcl::Number) -> Value {
    match n.as_i64() {
        Some(i) => Value::from(i),
        None => Value::from_f64(n.as_f64().unwrap_or(f64::NAN)),
    }
}
