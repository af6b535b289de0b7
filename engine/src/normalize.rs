//! Noise removal: the provider schema's per-attribute normalisation and ownership, applied to
//! what a provider plans before the engine decides anything.
//!
//! A provider reports facts in its own form; servers rewrite values (a JSON policy re-indented,
//! a region upper-cased, a set returned in another order) and own some of them (a server-set
//! etag, a node count an autoscaler changes). [`settle_config`] gives the provider the prior
//! value wherever the schema says the configured one is the same ([`Normalize`]) or not the
//! stack's to change ([`Owner`]), and [`settle`] does the same to the provider's answer (for
//! providers that rewrite values themselves), dropping the replacements such attributes would
//! force. Plan and apply both call them, so apply's check of the final plan against the
//! reviewed one sees the same values; drift detection uses [`equivalent`] and [`drift_view`].
//!
//! Design decision: the engine does this, not each provider, so that every provider gets the
//! same semantics from a declaration instead of reimplementing semantic equality. The cost is
//! that only top-level attributes are covered.

use lanestack_model::{AttrPath, Block, Normalize, Owner, PlanResponse, Value};

use crate::structured::{parse_json, parse_yaml};

/// Whether two values of an attribute are the same under its normalisation.
pub fn same(normalize: Normalize, a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    match normalize {
        Normalize::None => false,
        Normalize::Json => match (a.as_str().and_then(parse_json), b.as_str().and_then(parse_json)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
        Normalize::Yaml => match (a.as_str().and_then(parse_yaml), b.as_str().and_then(parse_yaml)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
        Normalize::CaseInsensitive => match (a.as_str(), b.as_str()) {
            (Some(x), Some(y)) => x.to_lowercase() == y.to_lowercase(),
            _ => false,
        },
        Normalize::Set => match (a.as_list(), b.as_list()) {
            (Some(x), Some(y)) => sorted(x) == sorted(y),
            _ => false,
        },
    }
}

fn sorted(items: &[Value]) -> Vec<String> {
    let mut keys: Vec<String> = items.iter().map(|v| v.unmark().to_json().to_string()).collect();
    keys.sort();
    keys
}

/// The configuration a provider is asked to plan for an existing object (`prior`): an attribute
/// whose configured value is the same as the prior one under its normalisation, or that the
/// stack does not own now (initial-only; server-owned and unset), takes the prior value. The
/// provider then sees no change there, forces no replacement and keeps its computed values.
pub fn settle_config(block: &Block, prior: Option<&Value>, config: &Value) -> Value {
    let Some(prior) = prior else { return config.clone() };
    let mut out = config.clone();
    for (name, attr) in &block.attributes {
        if !attr.settable() {
            continue;
        }
        let path = AttrPath::attr(name.clone());
        let Some(was) = prior.get(&path) else { continue };
        let now = config.get(&path).unwrap_or(&Value::Null);
        let keep = match attr.owner {
            Owner::InitialOnly => true,
            Owner::Server => now.is_null() || same(attr.normalize, was, now),
            Owner::User => {
                attr.normalize != Normalize::None && !now.is_unknown() && same(attr.normalize, was, now)
            }
        };
        if keep && was != now && out.as_object().is_some() {
            out.set(&path, was.clone());
        }
    }
    out
}

/// Adjusts a provider's answer for an existing object (`prior`) and its `config`: an attribute
/// whose planned value is the same as the prior one under its normalisation, or that the stack
/// does not own now, keeps the prior value and forces no replacement. Does nothing to a create.
pub fn settle(block: &Block, prior: Option<&Value>, config: &Value, response: &mut PlanResponse) {
    let Some(prior) = prior else { return };
    for (name, attr) in &block.attributes {
        let path = AttrPath::attr(name.clone());
        let Some(was) = prior.get(&path) else { continue };
        let now = response.planned_state.get(&path).unwrap_or(&Value::Null);
        let set_by_user = config.get(&path).is_some_and(|v| !v.is_null());
        let keep = match attr.owner {
            Owner::InitialOnly => true,
            Owner::Server if !set_by_user => true,
            Owner::Server | Owner::User => {
                attr.normalize != Normalize::None && !now.is_unknown() && same(attr.normalize, was, now)
            }
        };
        if keep && was != now {
            let was = was.clone();
            response.planned_state.set(&path, was);
        }
        if keep {
            response.requires_replace.retain(|p| p != &path);
        }
    }
}

/// Whether a live value is the same as the recorded one for every attribute, under the
/// attributes' normalisation, server-owned attributes aside unless `set_by_stack` says the stack
/// sets them (the server changing what it owns is not news; changing what the stack set is):
/// refresh reports drift only when it is not.
pub fn equivalent(
    block: &Block,
    recorded: &Value,
    live: &Value,
    set_by_stack: &dyn Fn(&str) -> bool,
) -> bool {
    let (Some(r), Some(l)) = (recorded.as_object(), live.as_object()) else { return recorded == live };
    let names = r.keys().chain(l.keys());
    names.into_iter().all(|name| {
        let (a, b) = (r.get(name).unwrap_or(&Value::Null), l.get(name).unwrap_or(&Value::Null));
        match block.attributes.get(name) {
            Some(attr) if attr.owner == Owner::Server && !set_by_stack(name) => true,
            Some(attr) => same(attr.normalize, a, b),
            None => a == b,
        }
    })
}

/// The live value as drift shows it: every attribute that [`equivalent`] would not report takes
/// the recorded value, so that the drift's diff holds only the news.
pub fn drift_view(
    block: &Block,
    recorded: &Value,
    live: &Value,
    set_by_stack: &dyn Fn(&str) -> bool,
) -> Value {
    let (Some(r), Some(_)) = (recorded.as_object(), live.as_object()) else { return live.clone() };
    let mut out = live.clone();
    for (name, attr) in &block.attributes {
        let path = AttrPath::attr(name.clone());
        let Some(was) = r.get(name) else { continue };
        let now = live.get(&path).unwrap_or(&Value::Null);
        if (attr.owner == Owner::Server && !set_by_stack(name))
            || (was != now && same(attr.normalize, was, now))
        {
            out.set(&path, was.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use lanestack_model::{AttrType, Attribute};

    use super::*;

    #[test]
    fn normalisations_compare_documents_case_and_sets() {
        let s = |t: &str| Value::from(t);
        assert!(same(Normalize::Json, &s(r#"{"a":1,"b":[1,2]}"#), &s("{ \"b\": [1, 2],\n \"a\": 1 }")));
        assert!(!same(Normalize::Json, &s(r#"{"b":[2,1]}"#), &s(r#"{"b":[1,2]}"#)));
        assert!(same(Normalize::Yaml, &s("a: 1\nb: x\n"), &s("b: 'x'\na: 1\n")));
        assert!(same(Normalize::CaseInsensitive, &s("WestEurope"), &s("westeurope")));
        let list = |items: &[&str]| Value::List(items.iter().map(|i| s(i)).collect());
        assert!(same(Normalize::Set, &list(&["1", "2"]), &list(&["2", "1"])));
        assert!(!same(Normalize::Set, &list(&["1", "2"]), &list(&["1", "1"])));
        assert!(!same(Normalize::None, &s("A"), &s("a")));
    }

    #[test]
    fn settle_keeps_prior_forms_and_ownership() {
        let block = Block::new()
            .attr(
                "region",
                Attribute::required(AttrType::String).force_new().normalize(Normalize::CaseInsensitive),
            )
            .attr("nodes", Attribute::optional(AttrType::Number).owned_by(Owner::InitialOnly))
            .attr("etag", Attribute::optional(AttrType::String).owned_by(Owner::Server))
            .attr("size", Attribute::optional(AttrType::Number));
        let prior = Value::object([
            ("region", Value::from("WESTEUROPE")),
            ("nodes", Value::from(7)),
            ("etag", Value::from("e1")),
            ("size", Value::from(1)),
        ]);
        let config = Value::object([
            ("region", Value::from("westeurope")),
            ("nodes", Value::from(3)),
            ("size", Value::from(2)),
        ]);
        let mut response = PlanResponse {
            planned_state: Value::object([
                ("region", Value::from("westeurope")),
                ("nodes", Value::from(3)),
                ("etag", Value::Null),
                ("size", Value::from(2)),
            ]),
            requires_replace: vec![AttrPath::attr("region")],
        };
        settle(&block, Some(&prior), &config, &mut response);
        let expected = Value::object([
            ("region", Value::from("WESTEUROPE")),
            ("nodes", Value::from(7)),
            ("etag", Value::from("e1")),
            ("size", Value::from(2)),
        ]);
        assert_eq!(response.planned_state, expected);
        assert!(response.requires_replace.is_empty());
    }
}
