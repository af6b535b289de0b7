//! Evaluation: from expressions to [`Value`]s, carrying unknown and sensitive marks.
//!
//! The evaluator is our own, over hcl-rs's expression tree, because `hcl::eval` has neither
//! unknown values nor sensitivity marks nor spans. Rules, as in Terraform:
//! - any operation on an unknown yields unknown (a conditional whose condition is unknown is
//!   unknown; `length` of a list of unknown elements is known);
//! - anything computed from a sensitive value is sensitive;
//! - errors are diagnostics pointing at the expression's span (and at a reference's own span
//!   when the problem is the reference).
//!
//! Functions live in [`funcs`]; variable inputs (`--var`, var files, environment) in [`inputs`].

// The evaluator's errors are full diagnostics, as `eval`'s signature says. They are the cold path
// (one per failed expression), so their size does not matter for speed.

mod expr;
pub mod funcs;
pub mod inputs;
mod ops;
mod template;

use std::path::Path;

use lanestack_model::{BlockAddress, Value};

pub use expr::{eval, eval_body};

/// Where the evaluator finds the values that references point at.
///
/// Plan and apply implement this over their own tables; a missing value (`None`) for something
/// the stack declares means "not evaluated yet" and is treated as unknown, so implementations
/// return `None` only for that case. References to things the stack does not declare are
/// reported by the loader before evaluation.
pub trait Lookup {
    /// The value of `var.NAME`.
    fn var(&self, name: &str) -> Option<&Value>;
    /// The value of `local.NAME`.
    fn local(&self, name: &str) -> Option<&Value>;
    /// The value of a resource block: an object for a single instance, a list for `count`, an
    /// object keyed by instance key for `for_each`.
    fn resource(&self, addr: &BlockAddress) -> Option<&Value>;
}

/// The values of `each.key` and `each.value` inside a `for_each` block.
#[derive(Clone, Copy, Debug)]
pub struct Each<'a> {
    /// `each.key`
    pub key: &'a Value,
    /// `each.value`
    pub value: &'a Value,
}

/// Everything an expression can see.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    /// Variables, locals and resources.
    pub lookup: &'a dyn Lookup,
    /// `each.*`, inside a `for_each` block.
    pub each: Option<Each<'a>>,
    /// `count.index`, inside a `count` block.
    pub count_index: Option<i64>,
    /// `path.module` and `path.root`; also the base for relative paths in `file()`.
    pub module_dir: &'a Path,
    /// `path.cwd`.
    pub cwd: &'a Path,
}

#[cfg(test)]
mod tests;

impl<'a> Scope<'a> {
    /// The scope of an expression outside any `count` or `for_each` block.
    pub fn new(lookup: &'a dyn Lookup, module_dir: &'a Path, cwd: &'a Path) -> Scope<'a> {
        Scope { lookup, each: None, count_index: None, module_dir, cwd }
    }
}
