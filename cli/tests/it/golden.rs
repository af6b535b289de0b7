//! Golden snapshots of what people read: plan text, the DOT graph, and diagnostics. The
//! temporary directory's path is replaced with `[ROOT]`.

use crate::support::Stack;

#[test]
fn plan_text_of_hello_on_a_fresh_state() {
    let stack = Stack::example("hello");
    let run = stack.run(&["plan"]);
    run.ok();
    assert_eq!(run.stderr, "", "a clean plan prints nothing on stderr");
    insta::assert_snapshot!(stack.redact(&run.stdout));
}

#[test]
fn graph_of_hello() {
    let stack = Stack::example("hello");
    let run = stack.run(&["graph"]);
    run.ok();
    insta::assert_snapshot!(stack.redact(&run.stdout));
}

/// Validates a broken stack given by its absolute path, so that diagnostics name `[ROOT]/...`.
fn validate_stderr(kind: &str) -> String {
    let stack = Stack::broken(kind);
    let root = stack.root().to_str().expect("a UTF-8 path").to_owned();
    let run = stack.run(&["validate", &root]);
    run.code(1);
    assert_eq!(run.stdout, "", "validate prints nothing on stdout when the stack is broken");
    let text = stack.redact(&run.stderr);
    assert!(text.contains("[ROOT]/main.hcl:"), "diagnostics name the file: {text}");
    text
}

#[test]
fn validate_diagnostics_of_a_syntax_error() {
    insta::assert_snapshot!(validate_stderr("syntax_error"));
}

#[test]
fn validate_diagnostics_of_undefined_references() {
    insta::assert_snapshot!(validate_stderr("undefined_reference"));
}

#[test]
fn validate_diagnostics_of_a_duplicate_resource() {
    insta::assert_snapshot!(validate_stderr("duplicate_resource"));
}
