//! Running the binary.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `lanestack-trainer` with `args` in `dir`.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lanestack-trainer"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

/// Stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
