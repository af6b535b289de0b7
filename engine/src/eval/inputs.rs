//! Variable inputs: `--var`, `--var-file`, `*.auto.lsvars`, `LANESTACK_VAR_<name>`, defaults.
//!
//! The CLI gathers raw inputs (it is the only part that reads the environment and the command
//! line); this module decides. Precedence is environment < files (in the order given) < flags,
//! the later input winning within one kind, as in Terraform. Input values and defaults are
//! constants: they are evaluated with nothing in scope, so a reference in them is an error.

use std::collections::BTreeMap;
use std::path::PathBuf;

use lanestack_model::{AttrType, BlockAddress, Value};

use super::{Lookup, Scope};
use crate::config::{Expr, Stack, Variable, extract, span_of, syntax_error};
use crate::diag::{Diagnostic, Diagnostics, FileId, Sources, did_you_mean};

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

impl InputSource {
    fn rank(&self) -> u8 {
        match self {
            InputSource::Env => 0,
            InputSource::File(_) => 1,
            InputSource::Flag => 2,
        }
    }

    fn describe(&self, name: &str) -> String {
        match self {
            InputSource::Env => format!("the environment variable LANESTACK_VAR_{name}"),
            InputSource::File(p) => format!("the var file {}", p.display()),
            InputSource::Flag => format!("`--var {name}=...`"),
        }
    }
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
    let file = sources.add(path.clone(), text);
    let mut diags = Diagnostics::new();
    let body = match hcl::edit::parser::parse_body(text) {
        Ok(b) => b,
        Err(e) => {
            diags.push(syntax_error(file, text, &e));
            return (Vec::new(), diags);
        }
    };
    let mut inputs = Vec::new();
    for s in body {
        match s {
            hcl::edit::structure::Structure::Attribute(a) => {
                let span = span_of(file, &a.value);
                let refs = extract(&a.value, file, &mut diags);
                inputs.push(RawInput {
                    name: a.key.as_str().to_owned(),
                    value: RawValue::Expr(Expr { expr: a.value.into(), span, refs }),
                    source: InputSource::File(path.clone()),
                });
            }
            hcl::edit::structure::Structure::Block(b) => diags.push(
                Diagnostic::error(
                    "lanestack::var_file_block",
                    "Var files hold only `name = value` attributes",
                )
                .at(span_of(file, &b.ident), "a block is not allowed here"),
            ),
        }
    }
    (inputs, diags)
}

/// Resolves every declared variable's value: the highest-precedence input, else the default;
/// converted to the declared type, marked sensitive when declared so, checked by its
/// validation rules. Missing required variables, undeclared inputs (an error for flags, a
/// warning for files and the environment is ignored), type mismatches and failed validations
/// are diagnostics.
pub fn resolve_variables(stack: &Stack, inputs: &[RawInput]) -> (BTreeMap<String, Value>, Diagnostics) {
    let mut diags = Diagnostics::new();
    let mut chosen: BTreeMap<&str, &RawInput> = BTreeMap::new();
    for input in inputs {
        if !stack.variables.contains_key(&input.name) {
            undeclared(stack, input, &mut diags);
            continue;
        }
        // Later inputs win over earlier ones of the same or lower precedence.
        match chosen.get(input.name.as_str()) {
            Some(prev) if prev.source.rank() > input.source.rank() => {}
            _ => {
                chosen.insert(&input.name, input);
            }
        }
    }
    let mut values = BTreeMap::new();
    for var in stack.variables.values() {
        if let Some(v) = resolve_one(stack, var, chosen.get(var.name.as_str()).copied(), &mut diags) {
            values.insert(var.name.clone(), v);
        }
    }
    (values, diags)
}

fn undeclared(stack: &Stack, input: &RawInput, diags: &mut Diagnostics) {
    let summary = format!("Value for undeclared variable `{}`", input.name);
    let mut d = match input.source {
        InputSource::Env => return,
        InputSource::Flag => Diagnostic::error("lanestack::undeclared_variable", summary),
        InputSource::File(_) => Diagnostic::warning("lanestack::undeclared_variable", summary),
    };
    d = d.detail(format!("given by {}", input.source.describe(&input.name)));
    if let RawValue::Expr(e) = &input.value {
        d = d.at(e.span.clone(), "no variable with this name");
    }
    let hint = match did_you_mean(&input.name, stack.variables.keys().map(String::as_str)) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("declare it with `variable \"{}\" {{}}`", input.name),
    };
    diags.push(d.hint(hint));
}

/// A lookup in which nothing but (optionally) one variable exists.
struct Only<'a>(Option<(&'a str, &'a Value)>);

impl Lookup for Only<'_> {
    fn var(&self, name: &str) -> Option<&Value> {
        self.0.filter(|(n, _)| *n == name).map(|(_, v)| v)
    }
    fn local(&self, _: &str) -> Option<&Value> {
        None
    }
    fn resource(&self, _: &BlockAddress) -> Option<&Value> {
        None
    }
}

fn constant_scope<'a>(stack: &'a Stack, lookup: &'a Only<'a>) -> Scope<'a> {
    Scope::new(lookup, &stack.dir, &stack.dir)
}

/// Evaluates an input or default, which must not refer to anything.
fn constant(stack: &Stack, e: &Expr, what: &str, diags: &mut Diagnostics) -> Option<Value> {
    if let Some(r) = e.refs.first() {
        diags.push(
            Diagnostic::error("lanestack::reference_in_input", format!("{what} cannot refer to anything"))
                .at(r.span.clone(), "not allowed here")
                .hint("write a constant value"),
        );
        return None;
    }
    let none = Only(None);
    match super::eval(e, &constant_scope(stack, &none)) {
        Ok(v) => Some(v),
        Err(d) => {
            diags.push(d);
            None
        }
    }
}

fn resolve_one(
    stack: &Stack,
    var: &Variable,
    input: Option<&RawInput>,
    diags: &mut Diagnostics,
) -> Option<Value> {
    let name = &var.name;
    let (raw, at) = match input {
        Some(RawInput { value: RawValue::Expr(e), .. }) => {
            (constant(stack, e, "A variable's value", diags)?, e.span.clone())
        }
        Some(RawInput { value: RawValue::Text(text), source, .. }) => {
            let literal = matches!(var.ty, None | Some(AttrType::String));
            let v = if literal {
                Value::String(text.clone())
            } else {
                parse_text(stack, var, text, source, diags)?
            };
            (v, var.span.clone())
        }
        None => match &var.default {
            Some(d) => (constant(stack, d, "A variable's default", diags)?, d.span.clone()),
            None => {
                diags.push(
                    Diagnostic::error(
                        "lanestack::missing_variable",
                        format!("No value for required variable `{name}`"),
                    )
                    .at(var.span.clone(), "declared here without a default")
                    .hint(format!("pass `--var {name}=...`, set it in a var file, or give it a default")),
                );
                return None;
            }
        },
    };
    let v = match &var.ty {
        Some(ty) => match ty.convert(raw) {
            Ok(v) => v,
            Err(m) => {
                diags.push(
                    Diagnostic::error(
                        "lanestack::invalid_variable_value",
                        format!("Invalid value for variable `{name}`"),
                    )
                    .at(at, m.to_string())
                    .hint(format!("`{name}` is of type {ty}")),
                );
                return None;
            }
        },
        None => raw,
    };
    if v.is_null() && !var.nullable {
        diags.push(
            Diagnostic::error("lanestack::null_variable", format!("Variable `{name}` must not be null"))
                .at(at, "null given")
                .hint("it is declared with `nullable = false`"),
        );
        return None;
    }
    let v = if var.sensitive { v.mark_sensitive() } else { v };
    validate(stack, var, &v, diags);
    Some(v)
}

/// Parses `--var` / environment text as an HCL expression and evaluates it.
fn parse_text(
    stack: &Stack,
    var: &Variable,
    text: &str,
    source: &InputSource,
    diags: &mut Diagnostics,
) -> Option<Value> {
    let name = &var.name;
    let bad = |detail: String| {
        Diagnostic::error("lanestack::invalid_variable_value", format!("Invalid value for variable `{name}`"))
            .at(var.span.clone(), "declared here")
            .detail(format!("{} is not a valid expression: {detail}", source.describe(name)))
            .hint("quote strings and write lists as `[\"a\", \"b\"]`")
    };
    let parsed = match hcl::edit::parser::parse_expr(text) {
        Ok(p) => p,
        Err(e) => {
            diags.push(bad(e.message().to_owned()));
            return None;
        }
    };
    let mut inner = Diagnostics::new();
    let refs = extract(&parsed, FileId(usize::MAX), &mut inner);
    if !inner.is_empty() || !refs.is_empty() {
        diags.push(bad("it refers to something; values must be constants".into()));
        return None;
    }
    let e = Expr { expr: parsed.into(), span: var.span.clone(), refs };
    constant(stack, &e, "A variable's value", diags)
}

fn validate(stack: &Stack, var: &Variable, v: &Value, diags: &mut Diagnostics) {
    let only = Only(Some((var.name.as_str(), v)));
    let scope = constant_scope(stack, &only);
    for rule in &var.validations {
        match super::eval(&rule.condition, &scope) {
            Ok(c) => match c.unmark_top().0 {
                Value::Bool(true) | Value::Unknown => {}
                Value::Bool(false) => {
                    let message = match super::eval(&rule.error_message, &scope) {
                        Ok(m) if m.contains_sensitive() => {
                            "(the error message refers to a sensitive value)".to_owned()
                        }
                        Ok(m) => m.as_str().map_or_else(|| m.to_string(), str::to_owned),
                        Err(d) => d.summary,
                    };
                    diags.push(
                        Diagnostic::error(
                            "lanestack::validation_failed",
                            format!("Invalid value for variable `{}`", var.name),
                        )
                        .at(rule.condition.span.clone(), message)
                        .hint("this validation rule failed"),
                    );
                }
                other => diags.push(
                    Diagnostic::error(
                        "lanestack::invalid_validation",
                        "A validation condition must be a bool",
                    )
                    .at(rule.condition.span.clone(), format!("this is a {}", other.type_name())),
                ),
            },
            Err(d) => diags.push(d),
        }
    }
}
