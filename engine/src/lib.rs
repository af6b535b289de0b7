//! lanestack's engine: from a stack directory to a plan, and from a plan to applied state.
//!
//! Map of the crate:
//! - [`diag`]: diagnostics with spans, rendered by miette.
//! - [`config`]: loading `*.hcl` files into a [`config::Stack`], reference extraction, schema
//!   checks.
//! - [`eval`]: the expression evaluator (unknown and sensitive marks), functions, variable inputs.
//! - [`state`]: the state snapshot, its journal and the lock.
//!
//! The engine knows no cloud: it talks to infrastructure only through
//! [`lanestack_model::Provider`]. It never prints and never reads the environment.

pub mod config;
pub mod diag;
pub mod eval;
pub mod state;
