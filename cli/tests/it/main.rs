//! End-to-end tests of the `lanestack` binary: each runs the real executable as a child process
//! on a temporary copy of a stack and checks its exit code, what it printed and the files it left.
//!
//! These are the last line of tests (engine lifecycle tests cover the logic); they prove that
//! the verbs are wired up, that exit codes and messages are what scripts and people rely on, and
//! that secrets never reach the terminal.

mod ci_example;
mod emulator;
mod flags;
mod golden;
mod lane_detection;
mod lock;
mod prompt;
mod secrets;
mod support;
mod verbs;
