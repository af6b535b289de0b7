//! The engine's integration tests, in one binary: lifecycle tests against a strict fake
//! provider, and golden diagnostics for a corpus of broken stacks.

mod browser;
mod cancel;
mod diagnostics;
mod fake;
mod harness;
mod late;
mod lifecycle;
mod mangled;
mod noise;
mod plan_json;
mod property;
mod review;
