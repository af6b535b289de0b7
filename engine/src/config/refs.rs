//! Extracting references from expressions, and checking them against what the stack declares.
//!
//! Extraction walks hcl-edit's lossless tree (the only one with spans) with its `Visit` trait, so
//! that references inside templates, function arguments and for-expressions are found with their
//! exact byte range. Names bound by `for` expressions and template `%{for}` directives are
//! tracked so that `[for s in var.subnets : s.id]` yields `var.subnets` only.
//!
//! Checking happens once the whole stack is loaded (declarations may come later in the file
//! order than their uses) and is linear in the number of references: every lookup is a map
//! lookup; "did you mean" candidates are only gathered for references that fail.

use hcl::edit::expr::{Expression, ForExpr, Traversal, TraversalOperator};
use hcl::edit::template::ForDirective;
use hcl::edit::visit::{self, Visit};
use hcl::edit::{Decorated, Ident};
use lanestack_model::{BlockAddress, Mode};

use super::{RefTarget, Reference, Stack};
use crate::diag::{Diagnostic, Diagnostics, FileId, Span, did_you_mean};

/// The identifiers that start a reference and are not resource types.
const ROOTS: [&str; 7] = ["var", "local", "data", "each", "count", "path", "self"];

/// Converts an hcl-edit span (absent only for nodes built in code) into ours.
pub(crate) fn span_of(file: FileId, node: &impl hcl::edit::Span) -> Span {
    Span::new(file, node.span().unwrap_or(0..0))
}

/// Every reference in `expr`, in source order. Malformed references (`var` alone, `count.foo`)
/// are reported into `diags` and left out.
pub(crate) fn extract(expr: &Expression, file: FileId, diags: &mut Diagnostics) -> Vec<Reference> {
    let mut v = RefVisitor { file, bound: Vec::new(), refs: Vec::new(), diags };
    v.visit_expr(expr);
    v.refs
}

/// The reference made by `expr` when it is exactly `TYPE.NAME` or `data.TYPE.NAME`, as
/// `depends_on` and `replace_triggered_by` entries must be (the latter may add attributes when
/// `allow_attrs` is set).
pub(crate) fn plain_resource_ref(expr: &Expression, file: FileId, allow_attrs: bool) -> Option<Reference> {
    let Expression::Traversal(t) = expr else { return None };
    let Expression::Variable(root) = &t.expr else { return None };
    let mut names = Vec::new();
    for op in &t.operators {
        match op.value() {
            TraversalOperator::GetAttr(name) => names.push(name.as_str()),
            TraversalOperator::Index(_)
            | TraversalOperator::LegacyIndex(_)
            | TraversalOperator::AttrSplat(_)
            | TraversalOperator::FullSplat(_) => return None,
        }
    }
    let (addr, rest) = match (root.as_str(), names.as_slice()) {
        ("data", [ty, name, rest @ ..]) => {
            (BlockAddress { mode: Mode::Data, type_name: (*ty).to_owned(), name: (*name).to_owned() }, rest)
        }
        (ty, [name, rest @ ..]) if is_resource_type(ty) => (BlockAddress::managed(ty, *name), rest),
        _ => return None,
    };
    if !rest.is_empty() && !allow_attrs {
        return None;
    }
    Some(Reference {
        target: RefTarget::Resource(addr),
        path: rest.iter().map(|s| (*s).to_owned()).collect(),
        span: span_of(file, &**t),
    })
}

/// True for a root identifier that names a resource type: not a keyword, and containing `_`.
pub(crate) fn is_resource_type(name: &str) -> bool {
    name.contains('_') && !ROOTS.contains(&name)
}

struct RefVisitor<'d> {
    file: FileId,
    /// Names bound by enclosing `for` expressions and directives, innermost last.
    bound: Vec<String>,
    refs: Vec<Reference>,
    diags: &'d mut Diagnostics,
}

impl RefVisitor<'_> {
    fn invalid(&mut self, span: Span, label: &str, hint: Option<String>) {
        let mut d = Diagnostic::error("lanestack::invalid_reference", "Invalid reference").at(span, label);
        if let Some(h) = hint {
            d = d.hint(h);
        }
        self.diags.push(d);
    }

    /// Records the reference made by a root identifier followed by `ops`; `span` covers both.
    fn root(&mut self, root: &Decorated<Ident>, ops: &[Decorated<TraversalOperator>], span: Span) {
        let name = root.as_str();
        if self.bound.iter().any(|b| b == name) {
            return;
        }
        let attrs: Vec<&str> = ops
            .iter()
            .map_while(|op| match op.value() {
                TraversalOperator::GetAttr(a) => Some(a.as_str()),
                TraversalOperator::Index(_)
                | TraversalOperator::LegacyIndex(_)
                | TraversalOperator::AttrSplat(_)
                | TraversalOperator::FullSplat(_) => None,
            })
            .collect();
        let rest = |n: usize| attrs.iter().skip(n).map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let target = match (name, attrs.as_slice()) {
            ("var", [n, ..]) => (RefTarget::Var((*n).to_owned()), rest(1)),
            ("local", [n, ..]) => (RefTarget::Local((*n).to_owned()), rest(1)),
            ("data", [ty, n, ..]) => {
                let addr =
                    BlockAddress { mode: Mode::Data, type_name: (*ty).to_owned(), name: (*n).to_owned() };
                (RefTarget::Resource(addr), rest(2))
            }
            ("each", ["key" | "value", ..]) => (RefTarget::Each, rest(1)),
            ("count", ["index", ..]) => (RefTarget::Count, rest(1)),
            ("path", ["module" | "root" | "cwd", ..]) => (RefTarget::Path, rest(1)),
            ("self", _) => (RefTarget::SelfRef, rest(0)),
            (ty, [n, ..]) if is_resource_type(ty) => {
                (RefTarget::Resource(BlockAddress::managed(ty, *n)), rest(1))
            }
            ("var" | "local", _) => {
                return self.invalid(span, "a name must follow", Some(format!("write `{name}.NAME`")));
            }
            ("data", _) => {
                return self.invalid(
                    span,
                    "incomplete data reference",
                    Some("write `data.TYPE.NAME`".into()),
                );
            }
            ("each", _) => {
                return self.invalid(span, "only `each.key` and `each.value` exist", None);
            }
            ("count", _) => return self.invalid(span, "only `count.index` exists", None),
            ("path", _) => {
                return self.invalid(span, "only `path.module`, `path.root` and `path.cwd` exist", None);
            }
            (ty, _) if is_resource_type(ty) => {
                return self.invalid(
                    span,
                    "a resource reference needs a name",
                    Some(format!("write `{ty}.NAME`")),
                );
            }
            (other, _) => {
                let candidates = ROOTS.iter().copied().chain(self.bound.iter().map(String::as_str));
                let hint = match did_you_mean(other, candidates) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "references start with `var.`, `local.`, `data.`, `each.`, `count.`, `path.` or a resource type".into(),
                };
                return self.invalid(
                    span,
                    &format!("`{other}` is not something that can be referred to"),
                    Some(hint),
                );
            }
        };
        self.refs.push(Reference { target: target.0, path: target.1, span });
    }

    fn with_bound(&mut self, names: impl IntoIterator<Item = String>, f: impl FnOnce(&mut Self)) {
        let before = self.bound.len();
        self.bound.extend(names);
        f(self);
        self.bound.truncate(before);
    }
}

impl Visit for RefVisitor<'_> {
    fn visit_expr(&mut self, expr: &Expression) {
        match expr {
            Expression::Variable(v) => {
                let span = span_of(self.file, v);
                self.root(v, &[], span);
            }
            other => visit::visit_expr(self, other),
        }
    }

    fn visit_traversal(&mut self, node: &Traversal) {
        match &node.expr {
            Expression::Variable(root) => {
                let span = span_of(self.file, node);
                self.root(root, &node.operators, span);
                // Index expressions may hold references of their own (`x[var.i]`).
                for op in &node.operators {
                    if let TraversalOperator::Index(e) = op.value() {
                        self.visit_expr(e);
                    }
                }
            }
            _ => visit::visit_traversal(self, node),
        }
    }

    fn visit_for_expr(&mut self, node: &ForExpr) {
        self.visit_expr(&node.intro.collection_expr);
        let names = node.intro.key_var.iter().chain([&node.intro.value_var]).map(|i| i.as_str().to_owned());
        let names: Vec<String> = names.collect();
        self.with_bound(names, |v| {
            if let Some(k) = &node.key_expr {
                v.visit_expr(k);
            }
            v.visit_expr(&node.value_expr);
            if let Some(c) = &node.cond {
                v.visit_expr(&c.expr);
            }
        });
    }

    fn visit_for_directive(&mut self, node: &ForDirective) {
        let f = &node.for_expr;
        self.visit_expr(&f.collection_expr);
        let names: Vec<String> =
            f.key_var.iter().chain([&f.value_var]).map(|i| i.as_str().to_owned()).collect();
        self.with_bound(names, |v| v.visit_template(&f.template));
    }
}

/// The places a reference can appear, for the rules that depend on it.
#[derive(Clone, Copy)]
struct Place {
    /// `each.*` is allowed (a block with `for_each`).
    each: bool,
    /// `count.index` is allowed (a block with `count`).
    count: bool,
}

const NOWHERE: Place = Place { each: false, count: false };

/// Checks every reference in the stack: declared targets, `each`/`count` only in blocks that
/// have them, `self` nowhere (lanestack has no provisioners), nothing in variable defaults and
/// only the variable itself in its validation rules.
pub(crate) fn check_refs(stack: &Stack) -> Diagnostics {
    let mut c = Checker { stack, diags: Diagnostics::new() };
    for v in stack.variables.values() {
        for r in v.default.iter().flat_map(|e| e.refs.iter()) {
            c.diags.push(
                Diagnostic::error(
                    "lanestack::reference_in_default",
                    "Variable defaults cannot refer to anything",
                )
                .at(r.span.clone(), "not allowed in a default")
                .hint("a default must be a constant; compute derived values in a `locals` block"),
            );
        }
        for val in &v.validations {
            for r in val.condition.refs.iter().chain(&val.error_message.refs) {
                match &r.target {
                    RefTarget::Var(n) if *n == v.name => {}
                    RefTarget::Var(_)
                    | RefTarget::Local(_)
                    | RefTarget::Resource(_)
                    | RefTarget::Each
                    | RefTarget::Count
                    | RefTarget::Path
                    | RefTarget::SelfRef => c.diags.push(
                        Diagnostic::error(
                            "lanestack::invalid_validation_reference",
                            "A validation rule can only refer to its own variable",
                        )
                        .at(r.span.clone(), "not visible here")
                        .hint(format!("refer to `var.{}` only", v.name)),
                    ),
                }
            }
        }
    }
    for l in stack.locals.values() {
        c.check_all(&l.value.refs, NOWHERE);
    }
    for p in stack.providers.values() {
        c.check_all(p.body.refs(), NOWHERE);
    }
    for r in stack.resources.values() {
        let place = Place { each: r.for_each.is_some(), count: r.count.is_some() };
        c.check_all(r.body.refs(), place);
        // The meta-arguments that choose the instances cannot depend on an instance.
        c.check_all(r.count.iter().flat_map(|e| e.refs.iter()), NOWHERE);
        c.check_all(r.for_each.iter().flat_map(|e| e.refs.iter()), NOWHERE);
        c.check_all(&r.depends_on, NOWHERE);
        c.check_all(r.lifecycle.replace_triggered_by.iter().flat_map(|e| e.refs.iter()), place);
    }
    for o in stack.outputs.values() {
        c.check_all(&o.value.refs, NOWHERE);
        c.check_all(&o.depends_on, NOWHERE);
    }
    c.diags
}

struct Checker<'s> {
    stack: &'s Stack,
    diags: Diagnostics,
}

impl Checker<'_> {
    fn check_all<'r>(&mut self, refs: impl IntoIterator<Item = &'r Reference>, place: Place) {
        for r in refs {
            self.check(r, place);
        }
    }

    fn undefined(&mut self, r: &Reference, what: String, hint: Option<String>) {
        let mut d =
            Diagnostic::error("lanestack::undefined_reference", format!("Reference to undeclared {what}"))
                .at(r.span.clone(), "not declared in this stack");
        if let Some(h) = hint {
            d = d.hint(h);
        }
        self.diags.push(d);
    }

    fn check(&mut self, r: &Reference, place: Place) {
        let stack = self.stack;
        match &r.target {
            RefTarget::Var(n) if !stack.variables.contains_key(n) => {
                let hint = did_you_mean(n, stack.variables.keys().map(String::as_str))
                    .map(|s| format!("did you mean `var.{s}`?"))
                    .or_else(|| Some(format!("declare it with `variable \"{n}\" {{ ... }}`")));
                self.undefined(r, format!("variable `var.{n}`"), hint);
            }
            RefTarget::Local(n) if !stack.locals.contains_key(n) => {
                let hint = did_you_mean(n, stack.locals.keys().map(String::as_str))
                    .map(|s| format!("did you mean `local.{s}`?"));
                self.undefined(r, format!("local value `local.{n}`"), hint);
            }
            RefTarget::Resource(addr) if !stack.resources.contains_key(addr) => {
                let wanted = addr.to_string();
                let names: Vec<String> = stack.resources.keys().map(ToString::to_string).collect();
                let hint = did_you_mean(&wanted, names.iter().map(String::as_str))
                    .map(|s| format!("did you mean `{s}`?"));
                let what = match addr.mode {
                    Mode::Managed => "resource",
                    Mode::Data => "data source",
                };
                self.undefined(r, format!("{what} `{wanted}`"), hint);
            }
            RefTarget::Each if !place.each => self.diags.push(
                Diagnostic::error(
                    "lanestack::each_outside_for_each",
                    "`each` used outside a `for_each` block",
                )
                .at(r.span.clone(), "`each` is only set in a block with `for_each`")
                .hint("add `for_each = ...` to the block, or use a literal value"),
            ),
            RefTarget::Count if !place.count => self.diags.push(
                Diagnostic::error(
                    "lanestack::count_outside_count",
                    "`count.index` used outside a `count` block",
                )
                .at(r.span.clone(), "`count.index` is only set in a block with `count`")
                .hint("add `count = ...` to the block"),
            ),
            RefTarget::SelfRef => self.diags.push(
                Diagnostic::error("lanestack::invalid_self", "`self` cannot be used here")
                    .at(r.span.clone(), "`self` is not available")
                    .hint("refer to the resource by its address, `TYPE.NAME`"),
            ),
            RefTarget::Var(_)
            | RefTarget::Local(_)
            | RefTarget::Resource(_)
            | RefTarget::Each
            | RefTarget::Count
            | RefTarget::Path => {}
        }
    }
}
