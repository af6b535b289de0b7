//! Sensitive values never reach the terminal: a canary secret is planted through `--var` into
//! `examples/files` (its `api_token`, written through `sensitive_content`, plus a sensitive
//! output added for this test), and every command's stdout and stderr is searched for it.

use crate::support::{Run, Stack};

/// A value that appears nowhere unless the secret leaked.
const CANARY: &str = "canary-5e1f0c7a-do-not-print";

const SENSITIVE_OUTPUT: &str = r#"
output "token" {
  value     = var.api_token
  sensitive = true
}
"#;

#[track_caller]
fn assert_no_canary(run: &Run) {
    for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(!text.contains(CANARY), "`{}` printed the secret on {stream}:\n{text}", run.line);
    }
}

#[test]
fn a_sensitive_variable_never_appears_in_any_output() {
    let stack = Stack::example("files");
    let mut main = stack.read("main.hcl");
    main.push_str(SENSITIVE_OUTPUT);
    stack.write("main.hcl", &main);
    let var = format!("api_token={CANARY}");
    let var = var.as_str();

    // Each command with its expected exit code: failures print too, and must not leak either.
    let commands: [(&[&str], i32); 20] = [
        (&["validate"], 0),
        (&["plan", "--var", var], 0),
        (&["plan", "--var", var, "--out", "secret.plan"], 0),
        (&["show", "secret.plan"], 0),
        (&["show", "secret.plan", "--format", "json"], 0),
        (&["apply", "--var", var], 1),
        (&["apply", "--auto-approve", "--var", var], 0),
        (&["apply", "secret.plan"], 1),
        (&["plan", "--var", var, "--var", "undeclared=1"], 1),
        (&["plan", "--var", var, "--detailed-exitcode"], 0),
        (&["show"], 0),
        (&["show", "--format", "json"], 0),
        (&["state", "list"], 0),
        (&["state", "show", "lanestack_file.credentials"], 0),
        (&["output"], 0),
        (&["output", "--json"], 0),
        (&["output", ".", "token"], 0),
        (&["output", ".", "token", "--json"], 0),
        (&["graph"], 0),
        (&["destroy", "--auto-approve", "--var", var], 0),
    ];
    for (args, code) in commands {
        let run = stack.run(args);
        run.code(code);
        assert_no_canary(&run);
    }
}

/// The negative test above proves something only if the canary really flows into state and
/// outputs: here it is applied, and shown where it is asked for.
#[test]
fn a_sensitive_value_is_applied_and_shown_only_on_request() {
    let stack = Stack::example("files");
    let mut main = stack.read("main.hcl");
    main.push_str(SENSITIVE_OUTPUT);
    stack.write("main.hcl", &main);
    let var = format!("api_token={CANARY}");

    stack.run(&["apply", "--auto-approve", "--var", &var]).ok();
    assert_eq!(stack.read("out/credentials.env"), format!("API_TOKEN={CANARY}\n"));

    stack.run(&["show"]).ok().stdout_has("sensitive_content = (sensitive)");
    let json: serde_json::Value = serde_json::from_str(&stack.run(&["output", "--json"]).ok().stdout)
        .expect("output --json prints JSON");
    assert_eq!(json["token"], serde_json::json!({ "value": null, "sensitive": true }));

    stack.run(&["output", "--json", "--show-sensitive"]).ok().stdout_has(CANARY);
    stack.run(&["output", ".", "token", "--show-sensitive"]).ok().stdout_has(CANARY);
}
