//! The expression evaluator. (Stub: replaced by the real evaluator.)

use lanestack_model::{Block, Value};

use super::Scope;
use crate::config::{Body, Expr};
use crate::diag::{Diagnostic, Diagnostics};

/// Evaluates one expression.
pub fn eval(expr: &Expr, scope: &Scope<'_>) -> Result<Value, Diagnostic> {
    let _ = (expr, scope);
    Ok(Value::Null)
}

/// Evaluates a resource or provider body into an object value shaped by `schema`: one entry per
/// schema attribute (null when not set) and per nested block type (an object or null for
/// `Nesting::Single`, a list for `Nesting::List`), each converted to its schema type and marked
/// sensitive where the schema says so. Problems (type mismatches, evaluation errors) are
/// collected; the value is still returned, with null where evaluation failed.
pub fn eval_body(body: &Body, schema: &Block, scope: &Scope<'_>) -> (Value, Diagnostics) {
    let _ = (body, schema, scope);
    (Value::Null, Diagnostics::new())
}
