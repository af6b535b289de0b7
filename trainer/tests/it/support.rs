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

/// `mpirun` starting `ranks` processes of `lanestack-trainer` on this machine (as root, more
/// ranks than cores); the caller adds the trainer's arguments.
pub fn mpirun(ranks: usize) -> Command {
    let mut command = Command::new("mpirun");
    // --timeout: a safety net so that a hang fails the test instead of stalling CI.
    command
        .args(["--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "--timeout", "1200", "-np"])
        .arg(ranks.to_string())
        .arg(env!("CARGO_BIN_EXE_lanestack-trainer"));
    command
}

/// Each line of `text` as JSON (the trainer's progress lines); panics naming a line that is not.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}
