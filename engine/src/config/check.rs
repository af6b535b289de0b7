//! Checking a stack against provider schemas.
//!
//! Runs after loading and before evaluation, so that a misspelt attribute is reported with its
//! span even when the value would only be known after apply. Only literal values (no
//! references, no function calls) are type-checked here; everything else is checked when the
//! body is evaluated ([`crate::eval::eval_body`]).

use std::collections::BTreeMap;

use hcl::Expression;
use lanestack_model::{
    Block, Mode, Nesting, Presence, ProviderSchema, ResourceSchema, Value, address::provider_of,
};

use super::{Attr, Body, Stack};
use crate::diag::{Diagnostic, Diagnostics, Span, did_you_mean};

/// Checks every resource, data and provider block against the providers' schemas: unknown
/// resource types, unknown and missing attributes and blocks, computed-only attributes set,
/// literal values of the wrong type. `providers` maps provider names to their schemas.
pub fn check_against_schemas(stack: &Stack, providers: &BTreeMap<String, ProviderSchema>) -> Diagnostics {
    let mut diags = Diagnostics::new();
    for r in stack.resources.values() {
        match find_type(providers, r.addr.mode, &r.addr.type_name) {
            // Missing attributes are reported at the type label: the whole block is too big a span.
            Ok(schema) => check_body(&r.body, &schema.block, &r.type_span, &r.addr.to_string(), &mut diags),
            Err(hint) => {
                let what = match r.addr.mode {
                    Mode::Managed => "resource type",
                    Mode::Data => "data source type",
                };
                diags.push(
                    Diagnostic::error(
                        "lanestack::unknown_resource_type",
                        format!("Unknown {what} `{}`", r.addr.type_name),
                    )
                    .at(r.type_span.clone(), format!("no provider offers this {what}"))
                    .hint(hint),
                );
            }
        }
    }
    for p in stack.providers.values() {
        match providers.get(&p.name) {
            Some(schema) => check_body(
                &p.body,
                &schema.provider,
                &p.span,
                &format!("provider \"{}\"", p.name),
                &mut diags,
            ),
            None => {
                let mut d = Diagnostic::error(
                    "lanestack::unknown_provider",
                    format!("Unknown provider `{}`", p.name),
                )
                .at(p.span.clone(), "no such provider is installed");
                if let Some(s) = did_you_mean(&p.name, providers.keys().map(String::as_str)) {
                    d = d.hint(format!("did you mean `{s}`?"));
                }
                diags.push(d);
            }
        }
    }
    diags
}

/// The schema of a resource or data source type, or a hint saying why there is none.
fn find_type<'p>(
    providers: &'p BTreeMap<String, ProviderSchema>,
    mode: Mode,
    type_name: &str,
) -> Result<&'p ResourceSchema, String> {
    let table = |p: &'p ProviderSchema| match mode {
        Mode::Managed => &p.resources,
        Mode::Data => &p.data_sources,
    };
    if let Some(s) = providers.get(provider_of(type_name)).and_then(|p| table(p).get(type_name)) {
        return Ok(s);
    }
    let all = providers.values().flat_map(|p| table(p).keys().map(String::as_str));
    Err(match did_you_mean(type_name, all) {
        Some(s) => format!("did you mean `{s}`?"),
        None if !providers.contains_key(provider_of(type_name)) => {
            format!("no provider is named `{}` (the type's prefix)", provider_of(type_name))
        }
        None => format!("provider `{}` has no such type", provider_of(type_name)),
    })
}

fn check_body(body: &Body, schema: &Block, block_span: &Span, what: &str, diags: &mut Diagnostics) {
    for a in &body.attrs {
        match schema.attributes.get(&a.name) {
            None => {
                let mut d = Diagnostic::error(
                    "lanestack::unknown_attribute",
                    format!("Unknown attribute `{}` in {what}", a.name),
                )
                .at(a.name_span.clone(), "not in the schema");
                if let Some(s) = did_you_mean(&a.name, schema.names()) {
                    d = d.hint(format!("did you mean `{s}`?"));
                } else if schema.blocks.contains_key(&a.name) {
                    d = d.hint(format!("`{}` is a block: write `{} {{ ... }}`", a.name, a.name));
                } else {
                    let settable: Vec<String> = schema
                        .attributes
                        .iter()
                        .filter(|(_, a)| a.settable())
                        .map(|(n, _)| format!("`{n}`"))
                        .collect();
                    d = d.hint(format!("the attributes are {}", settable.join(", ")));
                }
                diags.push(d);
            }
            Some(attr) if attr.presence == Presence::Computed => diags.push(
                Diagnostic::error("lanestack::computed_attribute", format!("`{}` cannot be set", a.name))
                    .at(a.name_span.clone(), "computed by the provider")
                    .hint("remove it; read it from the resource instead"),
            ),
            Some(attr) => {
                if let Some(v) = literal(&a.value.expr)
                    && let Err(m) = attr.ty.convert(v)
                {
                    diags.push(type_mismatch(a, &m.to_string(), &attr.ty.to_string()));
                }
            }
        }
    }
    for (name, attr) in &schema.attributes {
        if attr.presence == Presence::Required && body.attr(name).is_none() {
            diags.push(
                Diagnostic::error(
                    "lanestack::missing_attribute",
                    format!("Missing required attribute `{name}` in {what}"),
                )
                .at(block_span.clone(), format!("`{name}` is required"))
                .hint(format!("add `{name} = ...` (of type {})", attr.ty)),
            );
        }
    }
    let mut singles: BTreeMap<&str, &Span> = BTreeMap::new();
    for b in &body.blocks {
        match schema.blocks.get(&b.name) {
            None => {
                let mut d = Diagnostic::error(
                    "lanestack::unknown_block",
                    format!("Unknown block `{}` in {what}", b.name),
                )
                .at(b.name_span.clone(), "not in the schema");
                if let Some(s) = did_you_mean(&b.name, schema.names()) {
                    d = d.hint(format!("did you mean `{s}`?"));
                } else if schema.attributes.contains_key(&b.name) {
                    d = d.hint(format!("`{}` is an attribute: write `{} = ...`", b.name, b.name));
                }
                diags.push(d);
            }
            Some(nested) => {
                if nested.nesting == Nesting::Single {
                    if let Some(first) = singles.get(b.name.as_str()) {
                        diags.push(
                            Diagnostic::error(
                                "lanestack::repeated_block",
                                format!("Only one `{}` block is allowed", b.name),
                            )
                            .at(b.name_span.clone(), "repeated here")
                            .related((*first).clone(), "first here"),
                        );
                        continue;
                    }
                    singles.insert(&b.name, &b.name_span);
                }
                check_body(&b.body, &nested.block, &b.name_span, &format!("block `{}`", b.name), diags);
            }
        }
    }
}

fn type_mismatch(a: &Attr, message: &str, ty: &str) -> Diagnostic {
    Diagnostic::error("lanestack::type_mismatch", format!("Wrong type for `{}`", a.name))
        .at(a.value.span.clone(), message.to_owned())
        .hint(format!("`{}` is of type {ty}", a.name))
}

/// The value of an expression made only of literals, or `None` when it refers to anything,
/// calls a function or computes.
fn literal(e: &Expression) -> Option<Value> {
    match e {
        Expression::Null => Some(Value::Null),
        Expression::Bool(b) => Some(Value::Bool(*b)),
        Expression::Number(n) => Some(match n.as_i64() {
            Some(i) => Value::from(i),
            None => Value::from_f64(n.as_f64()?),
        }),
        Expression::String(s) => Some(Value::String(s.clone())),
        Expression::Array(items) => items.iter().map(literal).collect::<Option<Vec<_>>>().map(Value::List),
        Expression::Object(o) => {
            let mut m = BTreeMap::new();
            for (k, v) in o.iter() {
                let key = match k {
                    hcl::ObjectKey::Identifier(i) => i.as_str().to_owned(),
                    hcl::ObjectKey::Expression(Expression::String(s)) => s.clone(),
                    _ => return None,
                };
                m.insert(key, literal(v)?);
            }
            Some(Value::Object(m.into()))
        }
        Expression::Parenthesis(inner) => literal(inner),
        _ => None,
    }
}
