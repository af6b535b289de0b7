//! Unary and binary operators.
//!
//! Arithmetic is done in `f64` (as Terraform's numbers are for practical purposes) and results
//! go back through [`Value::from_f64`], so integral results stay integers. Strings that look
//! like numbers convert, as in Terraform. `&&` and `||` short-circuit on a known left operand,
//! which lets `var.x != null && var.x.enabled` work.

use hcl::expr::{BinaryOperator, Operation, UnaryOperator};
use lanestack_model::{AttrType, Value};

use super::expr::{Eval, Evaluator, mark};

impl Evaluator<'_> {
    pub(crate) fn operation(&mut self, op: &Operation) -> Eval {
        match op {
            Operation::Unary(u) => {
                let (v, sensitive) = self.eval(&u.expr)?.unmark_top();
                if v.is_unknown() {
                    return Ok(mark(Value::Unknown, sensitive));
                }
                let out = match u.operator {
                    UnaryOperator::Neg => Value::from_f64(-self.num(v, "`-`")?),
                    UnaryOperator::Not => Value::Bool(!self.to_bool(v, "`!`")?),
                };
                Ok(mark(out, sensitive))
            }
            Operation::Binary(b) => {
                let (l, ls) = self.eval(&b.lhs_expr)?.unmark_top();
                let short = match (b.operator, &l) {
                    (BinaryOperator::And, Value::Bool(false)) => Some(false),
                    (BinaryOperator::Or, Value::Bool(true)) => Some(true),
                    _ => None,
                };
                if let Some(result) = short {
                    return Ok(mark(Value::Bool(result), ls));
                }
                let (r, rs) = self.eval(&b.rhs_expr)?.unmark_top();
                let sensitive = ls || rs || l.contains_sensitive() || r.contains_sensitive();
                Ok(mark(self.binary(b.operator, l, r)?, sensitive))
            }
        }
    }

    fn binary(&self, op: BinaryOperator, l: Value, r: Value) -> Eval {
        use BinaryOperator as B;
        if l.contains_unknown() || r.contains_unknown() {
            // `true || unknown` was handled by short-circuiting; everything else is unknown.
            return Ok(Value::Unknown);
        }
        let sym = op.as_str();
        let what = format!("`{sym}`");
        Ok(match op {
            B::Eq => Value::Bool(l.unmark() == r.unmark()),
            B::NotEq => Value::Bool(l.unmark() != r.unmark()),
            B::And => Value::Bool(self.to_bool(l, &what)? && self.to_bool(r, &what)?),
            B::Or => Value::Bool(self.to_bool(l, &what)? || self.to_bool(r, &what)?),
            B::Less | B::LessEq | B::Greater | B::GreaterEq => {
                let (a, b) = (self.num(l, &what)?, self.num(r, &what)?);
                Value::Bool(match op {
                    B::Less => a < b,
                    B::LessEq => a <= b,
                    B::Greater => a > b,
                    _ => a >= b,
                })
            }
            B::Plus => Value::from_f64(self.num(l, &what)? + self.num(r, &what)?),
            B::Minus => Value::from_f64(self.num(l, &what)? - self.num(r, &what)?),
            B::Mul => Value::from_f64(self.num(l, &what)? * self.num(r, &what)?),
            B::Div | B::Mod => {
                let (a, b) = (self.num(l, &what)?, self.num(r, &what)?);
                if b == 0.0 {
                    return Err(
                        self.error("Division by zero", format!("the right operand of `{sym}` is zero"))
                    );
                }
                Value::from_f64(if op == B::Div { a / b } else { a % b })
            }
        })
    }

    /// A number operand; strings that parse as numbers convert.
    pub(crate) fn num(&self, v: Value, what: &str) -> Eval<f64> {
        let found = v.type_name();
        match AttrType::Number.convert(v) {
            Ok(Value::Number(n)) => {
                n.as_f64().ok_or_else(|| self.error("Invalid number", "not representable"))
            }
            _ => Err(self.error(format!("Expected a number for {what}"), format!("found a {found}"))),
        }
    }
}
