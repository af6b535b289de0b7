//! End-to-end tests of the `lanestack-trainer` binary: each runs the real executable as a child
//! process on files in a temporary directory and checks its exit code and what it printed.
//! The library's own unit tests cover the logic; these prove the subcommands are wired up.

mod eval;
mod loading;
mod mpi;
mod pretrained;
mod support;
mod synth;
mod train;
