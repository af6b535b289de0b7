//! Turning hcl-edit blocks into the stack's items: variables, locals, providers, resources,
//! data sources and outputs, with their meta-arguments.
//!
//! Every function here consumes the parsed block (no cloning of expression trees), reports what
//! is wrong with it into the shared diagnostics and inserts what could be read into the
//! [`Stack`]. Duplicates keep the first declaration and name both places.

use std::collections::{BTreeMap, HashMap};

use hcl::edit::Span as _;
use hcl::edit::expr::{Expression, ObjectKey, TraversalOperator};
use hcl::edit::structure::{Block, Structure};
use lanestack_model::{AttrPath, AttrType, BlockAddress, Mode, PathStep};

use super::refs::{extract, plain_resource_ref, span_of};
use super::{
    Attr, Body, Expr, IgnoreChanges, Lifecycle, Local, NestedBlock, Output, ProviderBlock, Reference,
    ResourceBlock, Stack, Validation, Variable,
};
use crate::diag::{Diagnostic, Diagnostics, FileId, Span, did_you_mean};

/// The loader's state while it reads one file.
pub(crate) struct Ctx<'d> {
    /// The file being read.
    pub file: FileId,
    /// Where problems go.
    pub diags: &'d mut Diagnostics,
    /// The header span of every named item seen so far (`variable.region`), for duplicates.
    pub seen: &'d mut HashMap<String, Span>,
}

/// An attribute as read, before it is sorted into meta-arguments and plain attributes.
struct RawAttr {
    name: String,
    name_span: Span,
    value: Expression,
}

impl Ctx<'_> {
    fn expr(&mut self, e: Expression) -> Expr {
        let span = span_of(self.file, &e);
        let refs = extract(&e, self.file, self.diags);
        Expr { expr: e.into(), span, refs }
    }

    /// Records a named item; false (after a diagnostic naming both places) when it exists.
    fn first(&mut self, key: String, what: &str, span: Span) -> bool {
        if let Some(old) = self.seen.get(&key) {
            self.diags.push(
                Diagnostic::error("lanestack::duplicate", format!("Duplicate {what}"))
                    .at(span, "declared again here")
                    .related(old.clone(), "first declared here")
                    .hint("names must be unique in a stack; rename or remove one of them"),
            );
            return false;
        }
        self.seen.insert(key, span);
        true
    }

    /// Splits a body into attributes and blocks, reporting duplicate attributes.
    fn split(&mut self, body: hcl::edit::structure::Body) -> (Vec<RawAttr>, Vec<Block>) {
        let mut attrs: Vec<RawAttr> = Vec::new();
        let mut blocks = Vec::new();
        let mut names: HashMap<String, Span> = HashMap::new();
        for s in body {
            match s {
                Structure::Attribute(a) => {
                    let name = a.key.as_str().to_owned();
                    let name_span = span_of(self.file, &a.key);
                    if let Some(old) = names.get(&name) {
                        self.diags.push(
                            Diagnostic::error(
                                "lanestack::duplicate_attribute",
                                format!("Attribute `{name}` is set twice"),
                            )
                            .at(name_span, "set again here")
                            .related(old.clone(), "first set here")
                            .hint("remove one of them"),
                        );
                        continue;
                    }
                    names.insert(name.clone(), name_span.clone());
                    attrs.push(RawAttr { name, name_span, value: a.value });
                }
                Structure::Block(b) => blocks.push(b),
            }
        }
        (attrs, blocks)
    }

    fn unknown(&mut self, what: &str, name: &str, span: Span, known: &[&str]) {
        let hint = match did_you_mean(name, known.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None if known.is_empty() => format!("a {what} takes none here"),
            None => format!(
                "expected one of {}",
                known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
            ),
        };
        self.diags.push(
            Diagnostic::error("lanestack::unknown_argument", format!("Unknown {what} `{name}`"))
                .at(span, format!("no {what} with this name"))
                .hint(hint),
        );
    }

    /// The labels of a block, which must number exactly `want` (their names for the message).
    fn labels(&mut self, block: &Block, want: &[&str]) -> Option<Vec<String>> {
        if block.labels.len() == want.len() {
            return Some(block.labels.iter().map(|l| l.as_str().to_owned()).collect());
        }
        let kind = block.ident.as_str();
        let form = std::iter::once(kind.to_owned())
            .chain(want.iter().map(|w| format!("\"{w}\"")))
            .collect::<Vec<_>>()
            .join(" ");
        self.diags.push(
            Diagnostic::error(
                "lanestack::block_labels",
                format!("A `{kind}` block takes {} label(s), found {}", want.len(), block.labels.len()),
            )
            .at(header_span(self.file, block), "wrong number of labels")
            .hint(format!("write `{form} {{ ... }}`")),
        );
        None
    }

    fn bool_literal(&mut self, a: &RawAttr) -> Option<bool> {
        match &a.value {
            Expression::Bool(b) => Some(*b.value()),
            other => {
                self.diags.push(
                    Diagnostic::error(
                        "lanestack::expected_literal",
                        format!("`{}` must be `true` or `false`", a.name),
                    )
                    .at(span_of(self.file, other), "not a boolean literal"),
                );
                None
            }
        }
    }

    fn string_literal(&mut self, a: &RawAttr) -> Option<String> {
        match &a.value {
            Expression::String(s) => Some(s.value().clone()),
            other => {
                self.diags.push(
                    Diagnostic::error(
                        "lanestack::expected_literal",
                        format!("`{}` must be a literal string", a.name),
                    )
                    .at(span_of(self.file, other), "not a string literal"),
                );
                None
            }
        }
    }

    fn no_blocks(&mut self, blocks: Vec<Block>, known: &[&str]) {
        for b in blocks {
            self.unknown("block type", b.ident.as_str(), span_of(self.file, &b.ident), known);
        }
    }

    /// A body with no meta-arguments: attributes and nested blocks as written.
    fn body(&mut self, attrs: Vec<RawAttr>, blocks: Vec<Block>) -> Body {
        let attrs = attrs
            .into_iter()
            .map(|a| Attr { name: a.name, name_span: a.name_span, value: self.expr(a.value) })
            .collect();
        let blocks = blocks.into_iter().filter_map(|b| self.nested(b)).collect();
        Body { attrs, blocks }
    }

    fn nested(&mut self, b: Block) -> Option<NestedBlock> {
        let name = b.ident.as_str().to_owned();
        if !b.labels.is_empty() {
            self.diags.push(
                Diagnostic::error(
                    "lanestack::block_labels",
                    format!("Nested block `{name}` takes no labels"),
                )
                .at(header_span(self.file, &b), "remove the labels"),
            );
            return None;
        }
        let name_span = span_of(self.file, &b.ident);
        let span = span_of(self.file, &b);
        let (attrs, blocks) = self.split(b.body);
        Some(NestedBlock { name, name_span, body: self.body(attrs, blocks), span })
    }

    /// `depends_on = [TYPE.NAME, ...]`
    fn depends_on(&mut self, value: &Expression) -> Vec<Reference> {
        let Expression::Array(items) = value else {
            self.diags.push(
                Diagnostic::error("lanestack::invalid_depends_on", "`depends_on` must be a list")
                    .at(span_of(self.file, value), "not a list")
                    .hint("write `depends_on = [azure_subnet.anf]`"),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            match plain_resource_ref(item, self.file, false) {
                Some(r) => out.push(r),
                None => self.diags.push(
                    Diagnostic::error(
                        "lanestack::invalid_depends_on",
                        "`depends_on` entries must be references to resources or data sources",
                    )
                    .at(span_of(self.file, item), "not a plain resource reference")
                    .hint("write the address without quotes or attributes, like `azure_subnet.anf`"),
                ),
            }
        }
        out
    }
}

/// From the block type to the end of the last label: the block's name, for messages.
fn header_span(file: FileId, b: &Block) -> Span {
    let start = b.ident.span().map_or(0, |r| r.start);
    let end = b.labels.last().and_then(|l| l.span()).or_else(|| b.ident.span()).map_or(start, |r| r.end);
    Span::new(file, start..end.max(start))
}

const VARIABLE_ARGS: [&str; 5] = ["type", "default", "description", "sensitive", "nullable"];

/// `variable "NAME" { ... }`
pub(crate) fn variable(ctx: &mut Ctx<'_>, stack: &mut Stack, block: Block) {
    let Some(labels) = ctx.labels(&block, &["NAME"]) else { return };
    let name = labels.into_iter().next().unwrap_or_default();
    let span = span_of(ctx.file, &block);
    let header = header_span(ctx.file, &block);
    let (attrs, blocks) = ctx.split(block.body);
    let mut var = Variable {
        name: name.clone(),
        ty: None,
        default: None,
        description: None,
        sensitive: false,
        nullable: true,
        validations: Vec::new(),
        span,
    };
    for a in attrs {
        match a.name.as_str() {
            "type" => var.ty = type_constraint(ctx, &a.value),
            "default" => var.default = Some(ctx.expr(a.value)),
            "description" => var.description = ctx.string_literal(&a),
            "sensitive" => var.sensitive = ctx.bool_literal(&a).unwrap_or(false),
            "nullable" => var.nullable = ctx.bool_literal(&a).unwrap_or(true),
            other => ctx.unknown("argument", other, a.name_span.clone(), &VARIABLE_ARGS),
        }
    }
    for b in blocks {
        if b.ident.as_str() != "validation" {
            ctx.unknown("block type", b.ident.as_str(), span_of(ctx.file, &b.ident), &["validation"]);
            continue;
        }
        let vspan = header_span(ctx.file, &b);
        let (attrs, inner) = ctx.split(b.body);
        ctx.no_blocks(inner, &[]);
        let (mut condition, mut message) = (None, None);
        for a in attrs {
            match a.name.as_str() {
                "condition" => condition = Some(ctx.expr(a.value)),
                "error_message" => message = Some(ctx.expr(a.value)),
                other => ctx.unknown("argument", other, a.name_span.clone(), &["condition", "error_message"]),
            }
        }
        match (condition, message) {
            (Some(condition), Some(error_message)) => {
                var.validations.push(Validation { condition, error_message })
            }
            (c, _) => {
                let missing = if c.is_none() { "condition" } else { "error_message" };
                ctx.diags.push(
                    Diagnostic::error(
                        "lanestack::missing_argument",
                        format!("A validation needs `{missing}`"),
                    )
                    .at(vspan, format!("`{missing}` is missing")),
                );
            }
        }
    }
    if ctx.first(format!("variable.{name}"), &format!("variable `{name}`"), header) {
        stack.variables.insert(name, var);
    }
}

/// `locals { NAME = ... }`, any number of them.
pub(crate) fn locals(ctx: &mut Ctx<'_>, stack: &mut Stack, block: Block) {
    if ctx.labels(&block, &[]).is_none() {
        return;
    }
    let (attrs, blocks) = ctx.split(block.body);
    ctx.no_blocks(blocks, &[]);
    for a in attrs {
        if ctx.first(format!("local.{}", a.name), &format!("local value `{}`", a.name), a.name_span.clone()) {
            let value = ctx.expr(a.value);
            stack.locals.insert(a.name.clone(), Local { name: a.name, value, span: a.name_span });
        }
    }
}

/// `provider "NAME" { ... }`
pub(crate) fn provider(ctx: &mut Ctx<'_>, stack: &mut Stack, block: Block) {
    let Some(labels) = ctx.labels(&block, &["NAME"]) else { return };
    let name = labels.into_iter().next().unwrap_or_default();
    let span = span_of(ctx.file, &block);
    let header = header_span(ctx.file, &block);
    let (attrs, blocks) = ctx.split(block.body);
    let body = ctx.body(attrs, blocks);
    if ctx.first(format!("provider.{name}"), &format!("provider block `{name}`"), header) {
        stack.providers.insert(name.clone(), ProviderBlock { name, body, span });
    }
}

const LIFECYCLE_ARGS: [&str; 4] =
    ["prevent_destroy", "create_before_destroy", "ignore_changes", "replace_triggered_by"];

/// `resource "TYPE" "NAME" { ... }` and `data "TYPE" "NAME" { ... }`
pub(crate) fn resource(ctx: &mut Ctx<'_>, stack: &mut Stack, block: Block, mode: Mode) {
    let Some(labels) = ctx.labels(&block, &["TYPE", "NAME"]) else { return };
    let mut labels = labels.into_iter();
    let (type_name, name) = (labels.next().unwrap_or_default(), labels.next().unwrap_or_default());
    let type_span =
        block.labels.first().map_or_else(|| span_of(ctx.file, &block.ident), |l| span_of(ctx.file, l));
    let span = span_of(ctx.file, &block);
    let header = header_span(ctx.file, &block);
    let addr = BlockAddress { mode, type_name, name };
    let (attrs, blocks) = ctx.split(block.body);
    let mut r = ResourceBlock {
        addr,
        body: Body::default(),
        count: None,
        for_each: None,
        depends_on: Vec::new(),
        lifecycle: Lifecycle::default(),
        span,
        type_span,
    };
    let mut plain = Vec::new();
    let mut count_span = None;
    for a in attrs {
        match a.name.as_str() {
            "count" => {
                count_span = Some(a.name_span.clone());
                r.count = Some(ctx.expr(a.value));
            }
            "for_each" => {
                if let Some(c) = &count_span {
                    ctx.diags.push(
                        Diagnostic::error(
                            "lanestack::count_and_for_each",
                            "`count` and `for_each` cannot both be set",
                        )
                        .at(a.name_span.clone(), "`for_each` here")
                        .related(c.clone(), "`count` here")
                        .hint("use `for_each` for instances keyed by name, `count` for numbered ones"),
                    );
                    continue;
                }
                r.for_each = Some(ctx.expr(a.value));
            }
            "depends_on" => r.depends_on = ctx.depends_on(&a.value),
            "provider" => ctx.diags.push(
                Diagnostic::error(
                    "lanestack::unsupported",
                    "The `provider` meta-argument is not supported yet",
                )
                .at(a.name_span.clone(), "not supported yet")
                .hint("remove it: resources use the provider named by their type's prefix"),
            ),
            _ => plain.push(a),
        }
    }
    // `for_each` before `count` in the source: report at `count`.
    if let (Some(c), Some(f)) = (&count_span, &r.for_each)
        && r.count.is_some()
        && f.span.range.start < c.range.start
    {
        ctx.diags.push(
            Diagnostic::error("lanestack::count_and_for_each", "`count` and `for_each` cannot both be set")
                .at(c.clone(), "`count` here")
                .related(f.span.clone(), "`for_each` here")
                .hint("use `for_each` for instances keyed by name, `count` for numbered ones"),
        );
        r.count = None;
    }
    let mut nested = Vec::new();
    let mut lifecycle_seen: Option<Span> = None;
    for b in blocks {
        if b.ident.as_str() != "lifecycle" {
            nested.push(b);
            continue;
        }
        let here = span_of(ctx.file, &b.ident);
        if mode == Mode::Data {
            ctx.diags.push(
                Diagnostic::error("lanestack::invalid_meta_argument", "Data sources have no `lifecycle`")
                    .at(here, "not allowed in a `data` block"),
            );
            continue;
        }
        if let Some(old) = &lifecycle_seen {
            ctx.diags.push(
                Diagnostic::error("lanestack::duplicate_block", "Only one `lifecycle` block is allowed")
                    .at(here, "second `lifecycle`")
                    .related(old.clone(), "first `lifecycle`"),
            );
            continue;
        }
        lifecycle_seen = Some(here);
        r.lifecycle = lifecycle(ctx, b);
    }
    r.body = ctx.body(plain, nested);
    let what = match mode {
        Mode::Managed => format!("resource `{}`", r.addr),
        Mode::Data => format!("data source `{}`", r.addr),
    };
    if ctx.first(format!("resource.{}", r.addr), &what, header) {
        stack.resources.insert(r.addr.clone(), r);
    }
}

fn lifecycle(ctx: &mut Ctx<'_>, block: Block) -> Lifecycle {
    let mut l = Lifecycle::default();
    if !block.labels.is_empty() {
        ctx.diags.push(
            Diagnostic::error("lanestack::block_labels", "`lifecycle` takes no labels")
                .at(header_span(ctx.file, &block), "remove the labels"),
        );
    }
    let (attrs, blocks) = ctx.split(block.body);
    ctx.no_blocks(blocks, &[]);
    for a in attrs {
        match a.name.as_str() {
            "prevent_destroy" => l.prevent_destroy = ctx.bool_literal(&a).unwrap_or(false),
            "create_before_destroy" => l.create_before_destroy = ctx.bool_literal(&a).unwrap_or(false),
            "ignore_changes" => l.ignore_changes = ignore_changes(ctx, &a.value),
            "replace_triggered_by" => l.replace_triggered_by = replace_triggered_by(ctx, a.value),
            other => ctx.unknown("lifecycle argument", other, a.name_span.clone(), &LIFECYCLE_ARGS),
        }
    }
    l
}

fn ignore_changes(ctx: &mut Ctx<'_>, value: &Expression) -> IgnoreChanges {
    match value {
        Expression::Variable(v) if v.as_str() == "all" => return IgnoreChanges::All,
        Expression::Array(items) => {
            let mut paths = Vec::new();
            for item in items {
                match attr_path(item) {
                    Some(p) => paths.push(p),
                    None => ctx.diags.push(
                        Diagnostic::error(
                            "lanestack::invalid_ignore_changes",
                            "Invalid `ignore_changes` entry",
                        )
                        .at(span_of(ctx.file, item), "not an attribute of this resource")
                        .hint("write attribute names as written in the block, like `[tags, spec.replicas]`"),
                    ),
                }
            }
            return IgnoreChanges::Paths(paths);
        }
        _ => {}
    }
    ctx.diags.push(
        Diagnostic::error("lanestack::invalid_ignore_changes", "`ignore_changes` must be a list or `all`")
            .at(span_of(ctx.file, value), "expected `[attr, ...]` or `all`"),
    );
    IgnoreChanges::None
}

/// An attribute path written as a bare traversal: `tags`, `spec.replicas`, `rules[0]`,
/// `tags["kubernetes.io/role"]`.
fn attr_path(e: &Expression) -> Option<AttrPath> {
    match e {
        Expression::Variable(v) => Some(AttrPath::attr(v.as_str())),
        Expression::Traversal(t) => {
            let Expression::Variable(root) = &t.expr else { return None };
            let mut p = AttrPath::attr(root.as_str());
            for op in &t.operators {
                let step = match op.value() {
                    TraversalOperator::GetAttr(a) => PathStep::Attr(a.as_str().to_owned()),
                    TraversalOperator::LegacyIndex(i) => PathStep::Index(usize::try_from(*i.value()).ok()?),
                    TraversalOperator::Index(Expression::Number(n)) => {
                        PathStep::Index(usize::try_from(n.value().as_u64()?).ok()?)
                    }
                    TraversalOperator::Index(Expression::String(s)) => PathStep::Attr(s.value().clone()),
                    TraversalOperator::Index(_)
                    | TraversalOperator::AttrSplat(_)
                    | TraversalOperator::FullSplat(_) => {
                        return None;
                    }
                };
                p.push(step);
            }
            Some(p)
        }
        _ => None,
    }
}

fn replace_triggered_by(ctx: &mut Ctx<'_>, value: Expression) -> Vec<Expr> {
    let Expression::Array(items) = value else {
        ctx.diags.push(
            Diagnostic::error(
                "lanestack::invalid_replace_triggered_by",
                "`replace_triggered_by` must be a list",
            )
            .at(span_of(ctx.file, &value), "not a list"),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        if plain_resource_ref(&item, ctx.file, true).is_none() {
            ctx.diags.push(
                Diagnostic::error(
                    "lanestack::invalid_replace_triggered_by",
                    "`replace_triggered_by` entries must be references to resources or their attributes",
                )
                .at(span_of(ctx.file, &item), "not a resource reference")
                .hint("write `azure_subnet.anf` or `azure_subnet.anf.id`"),
            );
            continue;
        }
        out.push(ctx.expr(item));
    }
    out
}

const OUTPUT_ARGS: [&str; 4] = ["value", "sensitive", "description", "depends_on"];

/// `output "NAME" { ... }`
pub(crate) fn output(ctx: &mut Ctx<'_>, stack: &mut Stack, block: Block) {
    let Some(labels) = ctx.labels(&block, &["NAME"]) else { return };
    let name = labels.into_iter().next().unwrap_or_default();
    let span = span_of(ctx.file, &block);
    let header = header_span(ctx.file, &block);
    let (attrs, blocks) = ctx.split(block.body);
    ctx.no_blocks(blocks, &[]);
    let (mut value, mut sensitive, mut description, mut depends_on) = (None, false, None, Vec::new());
    for a in attrs {
        match a.name.as_str() {
            "value" => value = Some(ctx.expr(a.value)),
            "sensitive" => sensitive = ctx.bool_literal(&a).unwrap_or(false),
            "description" => description = ctx.string_literal(&a),
            "depends_on" => depends_on = ctx.depends_on(&a.value),
            other => ctx.unknown("argument", other, a.name_span.clone(), &OUTPUT_ARGS),
        }
    }
    let Some(value) = value else {
        ctx.diags.push(
            Diagnostic::error("lanestack::missing_argument", format!("Output `{name}` has no `value`"))
                .at(header, "`value` is missing")
                .hint("add `value = ...`"),
        );
        return;
    };
    if ctx.first(format!("output.{name}"), &format!("output `{name}`"), header) {
        stack.outputs.insert(name.clone(), Output { name, value, sensitive, description, depends_on, span });
    }
}

/// Reads a type constraint (`list(string)`, `object({ name = string })`) from its expression.
fn type_constraint(ctx: &mut Ctx<'_>, e: &Expression) -> Option<AttrType> {
    let bad = |ctx: &mut Ctx<'_>, e: &Expression| {
        ctx.diags.push(
            Diagnostic::error("lanestack::invalid_type", "Invalid type constraint")
                .at(span_of(ctx.file, e), "not a type")
                .hint("use string, number, bool, any, list(T), set(T), map(T), tuple([T, ...]) or object({ name = T })"),
        );
        None
    };
    match e {
        Expression::Variable(v) => match v.as_str() {
            "string" => Some(AttrType::String),
            "number" => Some(AttrType::Number),
            "bool" => Some(AttrType::Bool),
            "any" => Some(AttrType::Any),
            "list" | "set" | "tuple" => Some(AttrType::List(Box::new(AttrType::Any))),
            "map" | "object" => Some(AttrType::Map(Box::new(AttrType::Any))),
            _ => bad(ctx, e),
        },
        Expression::FuncCall(f) if f.name.namespace.is_empty() => {
            let args: Vec<&Expression> = f.args.iter().collect();
            match (f.name.name.as_str(), args.as_slice()) {
                ("list" | "set", [t]) => Some(AttrType::List(Box::new(type_constraint(ctx, t)?))),
                ("map", [t]) => Some(AttrType::Map(Box::new(type_constraint(ctx, t)?))),
                ("optional", [t] | [t, _]) => type_constraint(ctx, t),
                ("tuple", [Expression::Array(items)]) => {
                    let mut types = Vec::new();
                    for item in items {
                        types.push(type_constraint(ctx, item)?);
                    }
                    // Tuples are lists here; keep the element type when all agree.
                    let first = types.first().cloned().unwrap_or(AttrType::Any);
                    let elem = if types.iter().all(|t| *t == first) { first } else { AttrType::Any };
                    Some(AttrType::List(Box::new(elem)))
                }
                ("object", [Expression::Object(o)]) => {
                    let mut attrs = BTreeMap::new();
                    for (k, v) in o.iter() {
                        let key = match k {
                            ObjectKey::Ident(i) => i.as_str().to_owned(),
                            ObjectKey::Expression(Expression::String(s)) => s.value().clone(),
                            ObjectKey::Expression(other) => return bad(ctx, other),
                        };
                        attrs.insert(key, type_constraint(ctx, v.expr())?);
                    }
                    Some(AttrType::Object(attrs))
                }
                _ => bad(ctx, e),
            }
        }
        _ => bad(ctx, e),
    }
}
