//! Variable inputs: `--var`, `--var-file`, `*.auto.lsvars`, `LANESTACK_VAR_<name>`, defaults.
//! (Stub: replaced by the real resolver.)

use std::collections::BTreeMap;
use std::path::PathBuf;

use lanestack_model::Value;

use crate::config::{Expr, Stack};
use crate::diag::{Diagnostics, Sources};

/// Where an input value came from, for messages and precedence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputSource {
    /// `LANESTACK_VAR_<name>` in the environment (lowest precedence).
    Env,
    /// A var file (`--var-file`, or `*.auto.lsvars` in the stack directory).
    File(PathBuf),
    /// `--var NAME=VALUE` (highest precedence).
    Flag,
}

/// An input value before it is interpreted against the variable's type.
#[derive(Clone, Debug, PartialEq)]
pub enum RawValue {
    /// Text from the command line or environment: taken literally for `string` variables,
    /// parsed as an HCL expression otherwise (as Terraform does).
    Text(String),
    /// An expression from a var file.
    Expr(Expr),
}

/// One input for one variable.
#[derive(Clone, Debug, PartialEq)]
pub struct RawInput {
    /// The variable's name.
    pub name: String,
    /// The value.
    pub value: RawValue,
    /// Where it came from.
    pub source: InputSource,
}

/// Reads a var file (HCL attributes only: `name = value`), adding it to `sources` so that
/// diagnostics can point into it.
pub fn load_var_file(path: PathBuf, text: &str, sources: &mut Sources) -> (Vec<RawInput>, Diagnostics) {
    let _ = (path, text, sources);
    (Vec::new(), Diagnostics::new())
}

/// Resolves every declared variable's value: the highest-precedence input, else the default;
/// converted to the declared type, marked sensitive when declared so, checked by its
/// validation rules. Missing required variables, undeclared inputs (an error for flags, a
/// warning for files and the environment is ignored), type mismatches and failed validations
/// are diagnostics.
pub fn resolve_variables(stack: &Stack, inputs: &[RawInput]) -> (BTreeMap<String, Value>, Diagnostics) {
    let _ = (stack, inputs);
    (BTreeMap::new(), Diagnostics::new())
}
