//! lanestack's engine: from a stack directory to a plan, and from a plan to applied state.
//!
//! Map of the crate:
//! - [`diag`]: diagnostics with spans, rendered by miette.
//! - [`config`]: loading `*.hcl` files into a [`config::Stack`], reference extraction, schema
//!   checks.
//! - [`eval`]: the expression evaluator (unknown and sensitive marks), functions, variable inputs.
//! - [`graph`]: the dependency graph, cycle reports and DOT.
//! - `configure`: providers configured early (from variables) or late (from resources).
//! - [`plan`]: refresh, diff and the [`plan::Plan`] value; [`decide`] chooses actions.
//! - [`apply`]: carrying out a plan in dependency order with bounded concurrency.
//! - [`recover`]: resolving steps interrupted by a crash.
//! - [`state`]: the state snapshot, its journal and the lock.
//! - [`planfile`]: saved plans on disk.
//! - [`diff`] and [`render`]: attribute diffs and plan text for people; [`markdown`]: plans
//!   for pull-request comments, within a size budget.
//! - [`normalize`]: the schema's per-attribute normalisation and ownership, applied to
//!   planned values (no change where only the server's form differs).
//! - [`structured`]: strings holding JSON or YAML documents, read as values.
//! - [`secrets`]: redaction of sensitive values ([`secrets::Secrets`]) and the salted seals
//!   that keep them out of saved plans ([`secrets::Seal`]).
//!
//! The engine knows no cloud: it talks to infrastructure only through
//! [`lanestack_model::Provider`]. It never prints and never reads the environment.

// Diagnostics are large, but they are the cold path of user errors: boxing every one to please
// `result_large_err` would cost more reading than it saves.
#![allow(clippy::result_large_err)]

pub mod apply;
pub mod config;
mod configure;
pub mod decide;
pub mod diag;
pub mod diff;
pub mod eval;
mod expand;
pub mod graph;
pub mod jsonplan;
pub mod markdown;
pub mod normalize;
pub mod plan;
pub mod planfile;
pub mod recover;
pub mod registry;
pub mod render;
pub mod secrets;
pub mod state;
pub mod structured;
mod walk;

pub use registry::Providers;
