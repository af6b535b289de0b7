//! The approval prompt, on a real terminal: util-linux's `script` gives the child a pseudo
//! terminal, and the answer is typed into it.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::Stack;

/// Runs `lanestack apply` in the stack on a pseudo terminal, typing `answer`; returns the exit
/// code and everything the terminal showed.
fn apply_on_a_terminal(stack: &Stack, answer: &str) -> (i32, String) {
    let line = format!("{} apply", env!("CARGO_BIN_EXE_lanestack"));
    let mut child = Command::new("script")
        .args(["--quiet", "--return", "--command", &line, "/dev/null"])
        .current_dir(stack.root())
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux's script runs");
    child.stdin.take().expect("stdin").write_all(answer.as_bytes()).expect("type the answer");
    let output = child.wait_with_output().expect("script finishes");
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn yes_on_a_terminal_applies() {
    let stack = Stack::example("hello");
    let (code, screen) = apply_on_a_terminal(&stack, "yes\n");
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("Do you want to perform these actions?"), "{screen}");
    assert!(screen.contains("Apply complete! Resources: 7 added"), "{screen}");
    assert_eq!(stack.state_list().len(), 7);
}

#[test]
fn anything_but_yes_changes_nothing() {
    let stack = Stack::example("hello");
    let (code, screen) = apply_on_a_terminal(&stack, "y\n");
    assert_eq!(code, 1, "{screen}");
    assert!(screen.contains("apply cancelled"), "{screen}");
    assert!(stack.state_list().is_empty());
}
