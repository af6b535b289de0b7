//! The stack language: a directory of `*.hcl` files, loaded into a [`Stack`].
//!
//! Loading parses every file with hcl-edit (the lossless parser, which keeps byte spans), turns
//! each block into the typed items below and records, for every expression, the references it
//! makes ([`Reference`]) with their spans — so the dependency graph can be built and every
//! problem reported at its place before anything is evaluated. Expressions themselves are kept
//! as `hcl::Expression` (hcl-rs's expression tree) and evaluated by [`crate::eval`].
//!
//! Design decision: evaluation works on hcl-rs expressions, which carry no positions, and each
//! evaluation error is attached to the span of the whole expression (an attribute's value). The
//! references, which are what most errors are about, keep their own precise spans.

mod blocks;
mod check;
mod load;
mod refs;

use std::collections::BTreeMap;
use std::path::PathBuf;

use lanestack_model::{AttrPath, AttrType, BlockAddress};

use crate::diag::{Diagnostics, Sources, Span};

pub use check::check_against_schemas;
pub use load::{load_dir, load_sources};

pub(crate) use load::syntax_error;
pub(crate) use refs::{extract, is_resource_type, span_of};

/// An expression as written, with its span and the references it makes.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// The expression tree.
    pub expr: hcl::Expression,
    /// Where it is in the source.
    pub span: Span,
    /// Every reference it makes, in source order.
    pub refs: Vec<Reference>,
}

/// What a reference points at.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RefTarget {
    /// `var.NAME`
    Var(String),
    /// `local.NAME`
    Local(String),
    /// `TYPE.NAME...` or `data.TYPE.NAME...`
    Resource(BlockAddress),
    /// `each.key` / `each.value`
    Each,
    /// `count.index`
    Count,
    /// `path.module` / `path.root` / `path.cwd`
    Path,
    /// `self` (only valid in some places; reported where not)
    SelfRef,
}

/// One reference in an expression, with its span (the whole traversal, `azure_subnet.anf.id`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// What it points at.
    pub target: RefTarget,
    /// The attribute path after the target (`id` in `azure_subnet.anf.id`), as far as it is
    /// static; used for precise diagnostics only.
    pub path: Vec<String>,
    /// Where it is.
    pub span: Span,
}

/// An attribute in a block: `name = value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Attr {
    /// The attribute's name.
    pub name: String,
    /// The span of the name (for "unknown attribute" diagnostics).
    pub name_span: Span,
    /// The value.
    pub value: Expr,
}

/// A nested block inside a resource or provider body (`delegation { ... }`).
#[derive(Clone, Debug, PartialEq)]
pub struct NestedBlock {
    /// The block type (`delegation`).
    pub name: String,
    /// The span of the block type identifier.
    pub name_span: Span,
    /// The block's contents.
    pub body: Body,
    /// The whole block.
    pub span: Span,
}

/// The contents of a block, meta-arguments removed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Body {
    /// Attributes in source order. Duplicates are reported at load time and dropped.
    pub attrs: Vec<Attr>,
    /// Nested blocks in source order.
    pub blocks: Vec<NestedBlock>,
}

impl Body {
    /// The attribute with this name.
    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|a| a.name == name)
    }

    /// Where in the source the value at `path` is set: the attribute's value, or the nested
    /// block, as deep as the source goes (a path into a map or list value ends at the value
    /// that holds it). `None` when the body does not set it.
    pub fn span_of(&self, path: &lanestack_model::AttrPath) -> Option<Span> {
        use lanestack_model::PathStep;
        let mut body = self;
        let mut found = None;
        let mut steps = path.steps().iter().peekable();
        while let Some(step) = steps.next() {
            let PathStep::Attr(name) = step else { break };
            if let Some(attr) = body.attr(name) {
                return Some(attr.value.span.clone());
            }
            let mut blocks = body.blocks.iter().filter(|b| &b.name == name);
            let block = match steps.peek() {
                Some(PathStep::Index(i)) => {
                    let i = *i;
                    steps.next();
                    blocks.nth(i)
                }
                _ => blocks.next(),
            };
            let Some(block) = block else { break };
            found = Some(block.span.clone());
            body = &block.body;
        }
        found
    }

    /// Every reference in every expression of this body, nested blocks included.
    pub fn refs(&self) -> impl Iterator<Item = &Reference> {
        let own = self.attrs.iter().flat_map(|a| a.value.refs.iter());
        let nested: Box<dyn Iterator<Item = &Reference>> =
            Box::new(self.blocks.iter().flat_map(|b| b.body.refs()));
        own.chain(nested)
    }
}

/// A `validation { condition = ..., error_message = ... }` block of a variable.
#[derive(Clone, Debug, PartialEq)]
pub struct Validation {
    /// Must evaluate to true for the value to be accepted (may refer to `var.<self>`).
    pub condition: Expr,
    /// The message shown when it is false.
    pub error_message: Expr,
}

/// A `variable "NAME" { ... }` block.
#[derive(Clone, Debug, PartialEq)]
pub struct Variable {
    /// Its name.
    pub name: String,
    /// Its type constraint (`type = list(string)`); `None` means any.
    pub ty: Option<AttrType>,
    /// Its default value; `None` means the variable is required.
    pub default: Option<Expr>,
    /// Its description.
    pub description: Option<String>,
    /// Whether its value is sensitive.
    pub sensitive: bool,
    /// Whether null is accepted (Terraform's `nullable`, default true).
    pub nullable: bool,
    /// Its validation rules.
    pub validations: Vec<Validation>,
    /// The whole block.
    pub span: Span,
}

/// One entry of a `locals { ... }` block.
#[derive(Clone, Debug, PartialEq)]
pub struct Local {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: Expr,
    /// The span of the name.
    pub span: Span,
}

/// A `provider "NAME" { ... }` block.
#[derive(Clone, Debug, PartialEq)]
pub struct ProviderBlock {
    /// The provider's name.
    pub name: String,
    /// Its configuration.
    pub body: Body,
    /// The whole block.
    pub span: Span,
}

/// What `lifecycle { ignore_changes = ... }` ignores.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum IgnoreChanges {
    /// Nothing (the default).
    #[default]
    None,
    /// `ignore_changes = all`.
    All,
    /// These attribute paths.
    Paths(Vec<AttrPath>),
}

/// A resource's `lifecycle { ... }` block.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Lifecycle {
    /// Plans that would delete or replace it fail.
    pub prevent_destroy: bool,
    /// Replacements create the new object before deleting the old one.
    pub create_before_destroy: bool,
    /// Attributes whose changes are ignored after creation.
    pub ignore_changes: IgnoreChanges,
    /// References whose change replaces this resource (each a resource or one of its attributes).
    pub replace_triggered_by: Vec<Expr>,
}

/// A `resource "TYPE" "NAME" { ... }` or `data "TYPE" "NAME" { ... }` block.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceBlock {
    /// Its address (mode, type, name).
    pub addr: BlockAddress,
    /// Its attributes and nested blocks, meta-arguments removed.
    pub body: Body,
    /// `count = ...`
    pub count: Option<Expr>,
    /// `for_each = ...`
    pub for_each: Option<Expr>,
    /// `depends_on = [...]`, each entry a reference to a resource block (or a variable/local).
    pub depends_on: Vec<Reference>,
    /// `lifecycle { ... }`
    pub lifecycle: Lifecycle,
    /// The whole block.
    pub span: Span,
    /// The span of the type label (for "unknown resource type").
    pub type_span: Span,
}

impl ResourceBlock {
    /// Every reference this block makes: body, meta-arguments and `depends_on`.
    pub fn refs(&self) -> impl Iterator<Item = &Reference> {
        self.body
            .refs()
            .chain(self.count.iter().flat_map(|e| e.refs.iter()))
            .chain(self.for_each.iter().flat_map(|e| e.refs.iter()))
            .chain(self.depends_on.iter())
            .chain(self.lifecycle.replace_triggered_by.iter().flat_map(|e| e.refs.iter()))
    }
}

/// An `output "NAME" { ... }` block.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: Expr,
    /// Whether it is sensitive.
    pub sensitive: bool,
    /// Its description.
    pub description: Option<String>,
    /// `depends_on = [...]`
    pub depends_on: Vec<Reference>,
    /// The whole block.
    pub span: Span,
}

/// A loaded stack: every item of every file, keyed for lookup, plus the source text.
#[derive(Clone, Debug, Default)]
pub struct Stack {
    /// The stack directory (`path.module` and `path.root`).
    pub dir: PathBuf,
    /// The source files, for diagnostics and for saving with a plan.
    pub sources: Sources,
    /// Variables by name.
    pub variables: BTreeMap<String, Variable>,
    /// Locals by name.
    pub locals: BTreeMap<String, Local>,
    /// Provider blocks by provider name.
    pub providers: BTreeMap<String, ProviderBlock>,
    /// Resource and data blocks by address.
    pub resources: BTreeMap<BlockAddress, ResourceBlock>,
    /// Outputs by name.
    pub outputs: BTreeMap<String, Output>,
}

/// The result of loading: a stack (as far as it could be read) and every problem found.
#[derive(Debug)]
pub struct Loaded {
    /// The stack; items with errors are left out.
    pub stack: Stack,
    /// Every problem found while loading.
    pub diagnostics: Diagnostics,
}

#[cfg(test)]
mod tests;
