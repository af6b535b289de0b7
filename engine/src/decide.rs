//! The one pure function that chooses each resource's action from the facts.
//!
//! Providers report facts (planned state, attributes that force replacement); the user adds
//! requests (`--replace`, `replace_triggered_by`, `create_before_destroy`); state adds history
//! (the object is gone, or tainted). This function alone turns them into an [`Action`] and a
//! reason, so the rules live in one table-tested place.

use lanestack_model::{Action, ActionReason, AttrPath, Value};

/// Everything the choice depends on, for one resource instance that is in the stack.
#[derive(Clone, Copy, Debug)]
pub struct Facts<'a> {
    /// The refreshed prior state; `None` when the object does not exist.
    pub prior: Option<&'a Value>,
    /// Whether state recorded the object before refresh (so `prior == None` means it vanished).
    pub was_recorded: bool,
    /// The provider's planned state.
    pub planned: &'a Value,
    /// The provider's attributes that force replacement.
    pub requires_replace: &'a [AttrPath],
    /// The user asked for replacement (`--replace`).
    pub replace_requested: bool,
    /// A `replace_triggered_by` reference changed.
    pub triggered: bool,
    /// State marks the object tainted.
    pub tainted: bool,
    /// `lifecycle { create_before_destroy = true }`.
    pub create_before_destroy: bool,
}

/// Chooses the action for one instance that is in the stack.
pub fn decide(f: &Facts<'_>) -> (Action, Option<ActionReason>) {
    let Some(prior) = f.prior else {
        let reason = f.was_recorded.then_some(ActionReason::RecreateBecauseGone);
        return (Action::Create, reason);
    };
    let replace = if f.create_before_destroy { Action::CreateThenDelete } else { Action::DeleteThenCreate };
    let reason = if f.tainted {
        Some(ActionReason::ReplaceBecauseTainted)
    } else if f.replace_requested {
        Some(ActionReason::ReplaceByRequest)
    } else if f.triggered {
        Some(ActionReason::ReplaceByTriggers)
    } else if !f.requires_replace.is_empty() {
        Some(ActionReason::ReplaceBecauseCannotUpdate)
    } else {
        None
    };
    if reason.is_some() {
        return (replace, reason);
    }
    if prior.unmark() == f.planned.unmark() { (Action::NoOp, None) } else { (Action::Update, None) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(prior: Option<&'a Value>, planned: &'a Value) -> Facts<'a> {
        Facts {
            prior,
            was_recorded: prior.is_some(),
            planned,
            requires_replace: &[],
            replace_requested: false,
            triggered: false,
            tainted: false,
            create_before_destroy: false,
        }
    }

    #[test]
    fn table() {
        let a = Value::from("a");
        let b = Value::from("b");
        let secret_a = Value::from("a").mark_sensitive();
        let forced = [AttrPath::attr("name")];
        type Case<'a> = (&'static str, Facts<'a>, Action, Option<ActionReason>);
        let cases: Vec<Case> = vec![
            ("new", facts(None, &a), Action::Create, None),
            (
                "gone",
                Facts { was_recorded: true, ..facts(None, &a) },
                Action::Create,
                Some(ActionReason::RecreateBecauseGone),
            ),
            ("same", facts(Some(&a), &a), Action::NoOp, None),
            ("same but marked", facts(Some(&a), &secret_a), Action::NoOp, None),
            ("changed", facts(Some(&a), &b), Action::Update, None),
            ("unknown", facts(Some(&a), &Value::Unknown), Action::Update, None),
            (
                "forced",
                Facts { requires_replace: &forced, ..facts(Some(&a), &b) },
                Action::DeleteThenCreate,
                Some(ActionReason::ReplaceBecauseCannotUpdate),
            ),
            (
                "forced, create first",
                Facts { requires_replace: &forced, create_before_destroy: true, ..facts(Some(&a), &b) },
                Action::CreateThenDelete,
                Some(ActionReason::ReplaceBecauseCannotUpdate),
            ),
            (
                "requested on unchanged",
                Facts { replace_requested: true, ..facts(Some(&a), &a) },
                Action::DeleteThenCreate,
                Some(ActionReason::ReplaceByRequest),
            ),
            (
                "triggered",
                Facts { triggered: true, ..facts(Some(&a), &a) },
                Action::DeleteThenCreate,
                Some(ActionReason::ReplaceByTriggers),
            ),
            (
                "tainted wins",
                Facts { tainted: true, replace_requested: true, ..facts(Some(&a), &a) },
                Action::DeleteThenCreate,
                Some(ActionReason::ReplaceBecauseTainted),
            ),
        ];
        for (name, f, action, reason) in cases {
            assert_eq!(decide(&f), (action, reason), "{name}");
        }
    }
}
