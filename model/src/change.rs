//! Changes: what a plan says will happen to each resource, and why.
//!
//! A [`ResourceChange`] is the planned change for one resource instance, with its [`Action`]
//! and a human-only [`ActionReason`]. Apply turns changes into steps (a replace is two steps)
//! and never branches on the reason.

use serde::{Deserialize, Serialize};

use crate::address::ResourceAddress;
use crate::path::AttrPath;
use crate::value::Value;

/// What will happen to a resource instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Nothing.
    NoOp,
    /// It will be created.
    Create,
    /// It will be updated in place.
    Update,
    /// It will be deleted, then created anew (the default replacement order).
    DeleteThenCreate,
    /// A new one will be created, then the old one deleted (`create_before_destroy`).
    CreateThenDelete,
    /// It will be deleted.
    Delete,
}

impl Action {
    /// True for both replacement orders.
    pub fn is_replace(self) -> bool {
        matches!(self, Action::DeleteThenCreate | Action::CreateThenDelete)
    }

    /// Terraform's `actions` array for this action, as in `terraform show -json`.
    pub fn terraform_actions(self) -> &'static [&'static str] {
        match self {
            Action::NoOp => &["no-op"],
            Action::Create => &["create"],
            Action::Update => &["update"],
            Action::DeleteThenCreate => &["delete", "create"],
            Action::CreateThenDelete => &["create", "delete"],
            Action::Delete => &["delete"],
        }
    }
}

/// Why an action was chosen. For display only: apply must never branch on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionReason {
    /// A changed attribute cannot be updated in place (Terraform's `replace_because_cannot_update`).
    ReplaceBecauseCannotUpdate,
    /// The user asked for it with `--replace`.
    ReplaceByRequest,
    /// Its last create or update failed half-way, so it cannot be trusted.
    ReplaceBecauseTainted,
    /// A `replace_triggered_by` reference or a `triggers_replace` value changed.
    ReplaceByTriggers,
    /// The object was deleted outside lanestack (or a create was interrupted) and is created again.
    RecreateBecauseGone,
    /// The resource block is no longer in the stack.
    DeleteBecauseNoResourceConfig,
    /// `count` no longer covers this index.
    DeleteBecauseCountIndex,
    /// `for_each` no longer has this key.
    DeleteBecauseEachKey,
    /// The whole stack is being destroyed.
    DeleteBecauseDestroy,
}

impl ActionReason {
    /// Terraform's `action_reason` code, where one exists.
    pub fn terraform_code(self) -> Option<&'static str> {
        match self {
            ActionReason::ReplaceBecauseCannotUpdate => Some("replace_because_cannot_update"),
            ActionReason::ReplaceByRequest => Some("replace_by_request"),
            ActionReason::ReplaceBecauseTainted => Some("replace_because_tainted"),
            ActionReason::ReplaceByTriggers => Some("replace_by_triggers"),
            ActionReason::DeleteBecauseNoResourceConfig => Some("delete_because_no_resource_config"),
            ActionReason::DeleteBecauseCountIndex => Some("delete_because_count_index"),
            ActionReason::DeleteBecauseEachKey => Some("delete_because_each_key"),
            ActionReason::RecreateBecauseGone | ActionReason::DeleteBecauseDestroy => None,
        }
    }

    /// A short sentence for humans.
    pub fn describe(self) -> &'static str {
        match self {
            ActionReason::ReplaceBecauseCannotUpdate => "a changed attribute cannot be updated in place",
            ActionReason::ReplaceByRequest => "replacement was requested with --replace",
            ActionReason::ReplaceBecauseTainted => "its last apply failed half-way",
            ActionReason::ReplaceByTriggers => "a replacement trigger changed",
            ActionReason::RecreateBecauseGone => "it no longer exists and will be created again",
            ActionReason::DeleteBecauseNoResourceConfig => "its block is no longer in the stack",
            ActionReason::DeleteBecauseCountIndex => "count no longer includes this index",
            ActionReason::DeleteBecauseEachKey => "for_each no longer includes this key",
            ActionReason::DeleteBecauseDestroy => "the stack is being destroyed",
        }
    }
}

/// The planned change for one resource instance.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceChange {
    /// The instance.
    pub address: ResourceAddress,
    /// What will happen.
    pub action: Action,
    /// Why, for display.
    pub reason: Option<ActionReason>,
    /// The state before (after refresh); `None` for a create.
    pub before: Option<Value>,
    /// The planned state after; `None` for a delete. May hold unknowns and sensitive marks.
    pub after: Option<Value>,
    /// The attribute paths that forced a replacement.
    pub replace_paths: Vec<AttrPath>,
}

/// A change made outside lanestack, found by refresh.
#[derive(Clone, Debug, PartialEq)]
pub struct Drift {
    /// The instance.
    pub address: ResourceAddress,
    /// What state recorded.
    pub recorded: Value,
    /// What refresh read; `None` when the object is gone.
    pub live: Option<Value>,
}

/// The planned change for one output.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputChange {
    /// The output's name.
    pub name: String,
    /// Create, Update, Delete or NoOp.
    pub action: Action,
    /// The value before; `None` when the output is new.
    pub before: Option<Value>,
    /// The value after; `None` when the output is removed.
    pub after: Option<Value>,
    /// Whether the output is marked sensitive.
    pub sensitive: bool,
}
