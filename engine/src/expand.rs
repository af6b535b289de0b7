//! Shared by plan and apply: the tables of known values, instance expansion (`count`,
//! `for_each`) and the evaluation of one instance's configuration.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use lanestack_model::{AttrPath, Block, BlockAddress, InstanceKey, ResourceAddress, Value};

use crate::config::{IgnoreChanges, ResourceBlock};
use crate::diag::{Diagnostic, Diagnostics};
use crate::eval::{self, Each, Lookup, Scope};
use crate::secrets::Seal;

/// The values known so far in a walk: what references resolve to.
#[derive(Debug, Default)]
pub(crate) struct Tables {
    pub vars: BTreeMap<String, Value>,
    pub locals: HashMap<String, Value>,
    pub resources: HashMap<BlockAddress, Value>,
}

impl Lookup for Tables {
    fn var(&self, name: &str) -> Option<&Value> {
        self.vars.get(name)
    }
    fn local(&self, name: &str) -> Option<&Value> {
        self.locals.get(name)
    }
    fn resource(&self, addr: &BlockAddress) -> Option<&Value> {
        self.resources.get(addr)
    }
}

/// One instance of a block, with what `each`/`count` mean inside it.
#[derive(Clone, Debug)]
pub(crate) struct Instance {
    pub addr: ResourceAddress,
    pub each_value: Option<Value>,
}

/// Expands a block into its instances by evaluating `count` or `for_each`.
pub(crate) fn expand(
    block: &ResourceBlock,
    tables: &Tables,
    module_dir: &Path,
    cwd: &Path,
) -> Result<Vec<Instance>, Diagnostic> {
    let scope = Scope::new(tables, module_dir, cwd);
    if let Some(count) = &block.count {
        let v = eval::eval(count, &scope)?;
        let n = match &v {
            Value::Unknown => {
                return Err(Diagnostic::error("lanestack::invalid_count", "count is not known until apply")
                    .at(count.span.clone(), "depends on a value known only after apply")
                    .hint("count must be known at plan time: use a value from variables or locals, or apply the dependency first with --target"));
            }
            Value::Sensitive(_) => {
                return Err(Diagnostic::error("lanestack::invalid_count", "count must not be sensitive")
                    .at(count.span.clone(), "this value is sensitive"));
            }
            other => other.as_f64(),
        };
        let Some(n) = n.filter(|n| *n >= 0.0 && n.fract() == 0.0 && *n <= 1_000_000.0) else {
            return Err(Diagnostic::error(
                "lanestack::invalid_count",
                "count must be a whole number from 0 to 1000000",
            )
            .at(count.span.clone(), format!("this is {v}")));
        };
        return Ok((0..n as i64)
            .map(|i| Instance { addr: block.addr.instance(Some(InstanceKey::Int(i))), each_value: None })
            .collect());
    }
    if let Some(for_each) = &block.for_each {
        let v = eval::eval(for_each, &scope)?;
        let bad = |label: String| {
            Diagnostic::error("lanestack::invalid_for_each", "for_each must be a map, or a list of strings")
                .at(for_each.span.clone(), label)
        };
        return match v {
            Value::Unknown => {
                Err(Diagnostic::error("lanestack::invalid_for_each", "for_each is not known until apply")
                    .at(for_each.span.clone(), "depends on a value known only after apply")
                    .hint("the keys of for_each must be known at plan time"))
            }
            Value::Sensitive(_) => {
                Err(Diagnostic::error("lanestack::invalid_for_each", "for_each must not be sensitive")
                    .at(for_each.span.clone(), "instance keys would reveal it"))
            }
            Value::Object(m) => Ok(m
                .into_iter()
                .map(|(k, v)| Instance {
                    addr: block.addr.instance(Some(InstanceKey::Str(k))),
                    each_value: Some(v),
                })
                .collect()),
            Value::List(items) => {
                let mut out = BTreeMap::new();
                for item in items {
                    match item {
                        Value::String(s) => {
                            out.insert(s.clone(), Value::String(s));
                        }
                        other => return Err(bad(format!("element {other} is not a string"))),
                    }
                }
                Ok(out
                    .into_iter()
                    .map(|(k, v)| Instance {
                        addr: block.addr.instance(Some(InstanceKey::Str(k))),
                        each_value: Some(v),
                    })
                    .collect())
            }
            other => Err(bad(format!("this is a {}", other.type_name()))),
        };
    }
    Ok(vec![Instance { addr: block.addr.instance(None), each_value: None }])
}

/// Evaluates one instance's body against the schema. Returns the configuration with its
/// sensitive marks (the schema's sensitive attributes included).
pub(crate) fn eval_instance(
    block: &ResourceBlock,
    schema: &Block,
    instance: &Instance,
    tables: &Tables,
    module_dir: &Path,
    cwd: &Path,
) -> (Value, Diagnostics) {
    let key_value = match &instance.addr.key {
        Some(InstanceKey::Str(k)) => Some(Value::String(k.clone())),
        Some(InstanceKey::Int(_)) | None => None,
    };
    let each = match (&key_value, &instance.each_value) {
        (Some(key), Some(value)) => Some(Each { key, value }),
        _ => None,
    };
    let count_index = match &instance.addr.key {
        Some(InstanceKey::Int(i)) => Some(*i),
        Some(InstanceKey::Str(_)) | None => None,
    };
    let scope = Scope { lookup: tables, each, count_index, module_dir, cwd };
    let (config, diags) = eval::eval_body(&block.body, schema, &scope);
    (mark_by_schema(config, schema), diags)
}

/// Marks the attributes the schema declares sensitive.
pub(crate) fn mark_by_schema(mut value: Value, schema: &Block) -> Value {
    for (name, attr) in &schema.attributes {
        if attr.sensitive {
            let path = AttrPath::attr(name.clone());
            if let Some(slot) = value.get_mut(&path)
                && !slot.is_null()
            {
                let taken = std::mem::take(slot);
                *slot = taken.mark_sensitive();
            }
        }
    }
    value
}

/// A data source's result as references see it: the configuration's sensitive values stay
/// sensitive, the attributes the schema declares sensitive are marked, and when the
/// configuration held any sensitive value, every attribute the source computed (one that is not
/// the configuration echoed back) is sensitive too: what it read with a secret, or rendered from
/// one (a chart's manifests from secret values). Sensitivity is contagious.
pub(crate) fn data_result(result: Value, config: &Value, schema: &Block) -> Value {
    let paths = config.sensitive_paths();
    let mut value = mark_by_schema(result.with_sensitive_paths(&paths), schema);
    if paths.is_empty() {
        return value;
    }
    let given = config.unmark();
    if let Value::Object(fields) = &mut value {
        for (name, slot) in fields.iter_mut() {
            let echoed = given.get(&AttrPath::attr(name.clone())).is_some_and(|c| !c.is_null());
            if !echoed && !slot.is_null() && !slot.is_sensitive() {
                let taken = std::mem::take(slot);
                *slot = taken.mark_sensitive();
            }
        }
    }
    value
}

/// Copies the prior values of ignored attributes into the configuration, so that changes to
/// them are not planned.
pub(crate) fn apply_ignore_changes(
    config: Value,
    prior: Option<&Value>,
    ignore: &IgnoreChanges,
    schema: &Block,
) -> Value {
    let Some(prior) = prior else { return config };
    match ignore {
        IgnoreChanges::None => config,
        IgnoreChanges::All => {
            let mut out = config;
            for (name, attr) in &schema.attributes {
                if attr.settable() {
                    let path = AttrPath::attr(name.clone());
                    out.set(&path, prior.get(&path).cloned().unwrap_or(Value::Null));
                }
            }
            for name in schema.blocks.keys() {
                let path = AttrPath::attr(name.clone());
                out.set(&path, prior.get(&path).cloned().unwrap_or(Value::Null));
            }
            out
        }
        IgnoreChanges::Paths(paths) => {
            let mut out = config;
            for path in paths {
                out.set(path, prior.get(path).cloned().unwrap_or(Value::Null));
            }
            out
        }
    }
}

/// The value a whole block has for references: the instance's value, a list for `count`, an
/// object for `for_each`.
pub(crate) fn block_value(block: &ResourceBlock, instances: Vec<(ResourceAddress, Value)>) -> Value {
    if block.count.is_some() {
        Value::List(instances.into_iter().map(|(_, v)| v).collect())
    } else if block.for_each.is_some() {
        Value::Object(
            instances
                .into_iter()
                .filter_map(|(a, v)| match a.key {
                    Some(InstanceKey::Str(k)) => Some((k, v)),
                    Some(InstanceKey::Int(_)) | None => None,
                })
                .collect(),
        )
    } else {
        instances.into_iter().next().map_or(Value::Null, |(_, v)| v)
    }
}

/// Finds the first known value in `saved` that `fresh` contradicts: apply's check that the
/// final plan matches the reviewed one wherever the reviewed one was known. With a `seal` (a
/// plan read from a file), the sensitive parts of `saved` are seals, and `fresh` must match
/// them.
pub(crate) fn contradiction(saved: &Value, fresh: &Value, seal: Option<&Seal>) -> Option<AttrPath> {
    fn walk(saved: &Value, fresh: &Value, at: &mut AttrPath, seal: Option<&Seal>) -> bool {
        match (saved, fresh) {
            (Value::Unknown, _) => false,
            (Value::Sensitive(sealed), b) if seal.is_some() && Seal::is_seal(sealed) => {
                !seal.is_some_and(|s| s.matches(sealed, b))
            }
            (Value::Sensitive(a), b) | (b, Value::Sensitive(a)) if !matches!(b, Value::Sensitive(_)) => {
                walk(a, b, at, seal)
            }
            (Value::Sensitive(a), Value::Sensitive(b)) => walk(a, b, at, seal),
            (Value::List(a), Value::List(b)) => {
                if a.len() != b.len() {
                    return true;
                }
                for (i, (x, y)) in a.iter().zip(b).enumerate() {
                    at.push(lanestack_model::PathStep::Index(i));
                    if walk(x, y, at, seal) {
                        return true;
                    }
                    at.pop();
                }
                false
            }
            (Value::Object(a), Value::Object(b)) => {
                for (k, x) in a {
                    at.push(lanestack_model::PathStep::Attr(k.clone()));
                    if walk(x, b.get(k).unwrap_or(&Value::Null), at, seal) {
                        return true;
                    }
                    at.pop();
                }
                false
            }
            (a, b) => a != b,
        }
    }
    let mut at = AttrPath::root();
    walk(saved, fresh, &mut at, seal).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknowns_in_the_saved_plan_accept_anything() {
        let saved = Value::object([("id", Value::Unknown), ("n", Value::from(1))]);
        let fresh = Value::object([("id", Value::from("x")), ("n", Value::from(1))]);
        assert_eq!(contradiction(&saved, &fresh, None), None);
        let wrong = Value::object([("id", Value::from("x")), ("n", Value::from(2))]);
        assert_eq!(contradiction(&saved, &wrong, None), Some(AttrPath::attr("n")));
    }

    #[test]
    fn sealed_parts_must_match_their_seal() {
        let seal = Seal::new("salt");
        let saved = Value::object([("pw", Value::from(seal.seal(&Value::from("s1"))).mark_sensitive())]);
        let same = Value::object([("pw", Value::from("s1"))]);
        let other = Value::object([("pw", Value::from("s2"))]);
        assert_eq!(contradiction(&saved, &same, Some(&seal)), None);
        assert_eq!(contradiction(&saved, &other, Some(&seal)), Some(AttrPath::attr("pw")));
    }
}
