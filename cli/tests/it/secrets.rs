//! Sensitive values never reach the terminal nor a file: a canary secret is planted into
//! `examples/files` (its `api_token` variable, through `--var`, `LANESTACK_VAR_api_token` or a
//! var file, written through the file's `sensitive_content` like a Kubernetes Secret's data, plus
//! a sensitive output added for this test), and every command's stdout and stderr, every error
//! message and every saved plan file is searched for it, at the default verbosity and with
//! every log level on (`-vvv`).

use crate::support::{Run, Stack};

/// A value that appears nowhere unless the secret leaked.
const CANARY: &str = "canary-5e1f0c7a-do-not-print";

/// The input of a Kubernetes Secret's key derived from a non-sensitive variable (shown, as
/// variables are) ...
const PEPPER: &str = "pepper=pepper-7d3e91-shown";
/// ... and the key's value, `upper(var.pepper)`, which must stay hidden.
const PEPPER_DATA: &str = "PEPPER-7D3E91-SHOWN";

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

/// Asserts that no file in the stack's copy but state (which must hold the secret to apply it,
/// as Terraform's does) and the rendered file itself contains the canary.
#[track_caller]
fn assert_no_canary_in_files(stack: &Stack) {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read a directory").flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if name == ".lanestack" || name == "out" {
                continue;
            }
            if path.is_dir() { walk(&path, out) } else { out.push(path) }
        }
    }
    let mut files = Vec::new();
    walk(stack.root(), &mut files);
    assert!(files.iter().any(|f| f.extension().is_some_and(|e| e == "plan")), "no plan file to check");
    for file in files {
        let bytes = std::fs::read(&file).expect("read a file");
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(CANARY), "{} holds the secret", file.display());
    }
}

fn stack_with_canary_output() -> Stack {
    let stack = Stack::example("files");
    let mut main = stack.read("main.hcl");
    main.push_str(SENSITIVE_OUTPUT);
    stack.write("main.hcl", &main);
    stack
}

#[test]
fn a_sensitive_variable_never_appears_in_any_output() {
    every_command_keeps_the_secret(&[]);
}

#[test]
fn a_sensitive_variable_never_appears_in_any_log() {
    every_command_keeps_the_secret(&["-vvv"]);
}

fn every_command_keeps_the_secret(flags: &[&str]) {
    let stack = stack_with_canary_output();
    let var = format!("api_token={CANARY}");
    let var = var.as_str();

    // Each command with its expected exit code: failures print too, and must not leak either.
    let commands: [(&[&str], i32); 25] = [
        (&["validate"], 0),
        (&["plan", "--var", var], 0),
        (&["plan", "--var", var, "--out", "secret.plan"], 0),
        (&["show", "secret.plan"], 0),
        (&["show", "secret.plan", "--format", "json"], 0),
        (&["show", "secret.plan", "--format", "markdown"], 0),
        (&["show", "secret.plan", "--format", "markdown", "--max-chars", "300"], 0),
        (&["plan", "--var", var, "--json"], 0),
        (&["plan", "--var", var, "--json", "--out", "json.plan"], 0),
        (&["apply", "secret.plan", "--var", "api_token=a-different-value"], 1),
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
        let args: Vec<&str> = flags.iter().chain(args).copied().collect();
        let run = stack.run(&args);
        run.code(code);
        assert_no_canary(&run);
    }
    assert_no_canary_in_files(&stack);
}

/// A saved plan holds the secret only as a salted hash, yet applies: the secret is given again
/// from the same inputs as the plan (here the environment and a var file), checked against the
/// hash, and reaches the file it belongs in. A different value is refused without being echoed.
#[test]
fn a_saved_plan_applies_with_the_secret_given_again_and_refuses_another() {
    let mut stack = stack_with_canary_output();
    stack.set_env("LANESTACK_VAR_api_token", CANARY);
    stack.run(&["plan", "--out", "env.plan"]).ok();
    assert_no_canary_in_files(&stack);
    stack.run(&["show", "env.plan"]).ok().stdout_has("+ sensitive_content: (sensitive)");

    let other = Stack::example("files");
    other.write("main.hcl", &stack.read("main.hcl"));
    other.write("secret.lsvars", &format!("api_token = \"{CANARY}\"\n"));
    other.run(&["plan", "--var-file", "secret.lsvars", "--out", "file.plan"]).ok();
    // Without the var file the default token is resolved instead: not what was planned.
    let refused = other.run(&["apply", "file.plan"]);
    refused.code(1).stderr_has("api_token").stderr_has("is not the value the plan was made with");
    assert_no_canary(&refused);
    let applied = other.run(&["apply", "file.plan", "--var-file", "secret.lsvars"]);
    applied.ok();
    assert_no_canary(&applied);
    assert_eq!(other.read("out/credentials.env"), format!("API_TOKEN={CANARY}\n"));

    let applied = stack.run(&["apply", "env.plan"]);
    applied.ok();
    assert_eq!(stack.read("out/credentials.env"), format!("API_TOKEN={CANARY}\n"));
}

#[test]
fn show_sensitive_is_refused_in_ci_unless_forced() {
    let mut stack = stack_with_canary_output();
    let var = format!("api_token={CANARY}");
    stack.run(&["plan", "--var", &var, "--show-sensitive"]).ok().stdout_has(CANARY);
    stack.set_env("CI", "true");
    let refused = stack.run(&["plan", "--var", &var, "--show-sensitive"]);
    refused.code(1).stderr_has("refusing --show-sensitive in CI");
    assert_no_canary(&refused);
    stack.run(&["plan", "--var", &var, "--json", "--force-show-sensitive"]).ok().stdout_has(CANARY);
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

/// A provider credential: the azure provider's client secret, from a sensitive variable in the
/// provider block and from AZURE_CLIENT_SECRET, never appears in any output, log, plan file or
/// error — also when the provider fails to reach its endpoint and reports why.
#[test]
fn a_provider_credential_never_appears_in_any_output() {
    let mut stack = Stack::example("azure-network");
    let mut main = stack.read("main.hcl");
    main.push_str(
        r#"
variable "client_secret" {
  type      = string
  sensitive = true
}

# Never the public cloud from a test: without --emulator, a closed port on loopback.
provider "azure" {
  subscription_id = "00000000-0000-0000-0000-000000000001"
  tenant_id       = "tenant"
  client_id       = "lanestack"
  client_secret   = var.client_secret
  endpoint        = "https://127.0.0.1:9"
  authority_host  = "https://127.0.0.1:9"
}
"#,
    );
    stack.write("main.hcl", &main);
    stack.set_env("AZURE_CLIENT_SECRET", CANARY);
    let var = format!("client_secret={CANARY}");
    let var = var.as_str();
    let commands: [(&[&str], i32); 10] = [
        // Without the emulator the provider talks to the block's endpoint, a closed port: the
        // token request fails, and the error must not carry the credential it sent.
        (&["-vvv", "apply", "--auto-approve", "--var", var], 1),
        (&["-vvv", "plan", "--emulator", "--var", var, "--out", "cred.plan"], 0),
        (&["show", "cred.plan"], 0),
        (&["show", "cred.plan", "--format", "json"], 0),
        (&["show", "cred.plan", "--format", "markdown"], 0),
        (&["-vvv", "apply", "cred.plan", "--emulator", "--var", var], 0),
        (&["show", "--format", "json"], 0),
        (&["-vvv", "plan", "--emulator", "--var", var, "--detailed-exitcode"], 0),
        (&["-vvv", "destroy", "--auto-approve", "--emulator", "--var", var], 0),
        (&["output", "--json", "--show-sensitive"], 0),
    ];
    for (args, code) in commands {
        let run = stack.run(args);
        run.code(code);
        assert_no_canary(&run);
    }
    assert_no_canary_in_files(&stack);
}

/// A Kubernetes Secret's data: the ANF service principal's password in `kubernetes_secret.anf`
/// of examples/kubernetes-on-aks, applied into the emulated cluster through the kubernetes
/// provider (itself configured from the cluster's sensitive kubeconfig, a credential too).
/// Neither appears in any output, log, plan file or error at any verbosity — and the secret
/// does reach the cluster, base64-encoded as the API keeps it.
#[test]
fn a_kubernetes_secrets_data_never_appears_in_any_output() {
    let stack = Stack::example("kubernetes-on-aks");
    // A second key whose value comes from no sensitive input: only the schema's marking of a
    // Secret's data keeps it hidden. The variable holds it in lowercase (variables are not
    // secret and are shown); the Secret holds it in uppercase, which must never be shown.
    let mut main = stack.read("main.hcl");
    main = main.replace(
        "    clientSecret = var.anf_client_secret\n",
        "    clientSecret = var.anf_client_secret\n    pepper       = upper(var.pepper)\n",
    );
    main.push_str("\nvariable \"pepper\" {\n  type = string\n}\n");
    stack.write("main.hcl", &main);
    let var = format!("anf_client_secret={CANARY}");
    let var = var.as_str();
    let commands: [(&[&str], i32); 13] = [
        (&["-vvv", "plan", "--emulator", "--var", var, "--var", PEPPER, "--out", "k8s.plan"], 0),
        (&["show", "k8s.plan"], 0),
        (&["show", "k8s.plan", "--format", "json"], 0),
        (&["show", "k8s.plan", "--format", "markdown"], 0),
        (&["-vvv", "apply", "k8s.plan", "--emulator", "--var", var, "--var", PEPPER], 0),
        (&["-vvv", "plan", "--emulator", "--var", var, "--var", PEPPER, "--detailed-exitcode"], 0),
        (&["-vvv", "plan", "--emulator", "--var", var, "--var", PEPPER, "--json"], 0),
        // Another value: an update whose diff must show neither value.
        (
            &[
                "-vvv",
                "apply",
                "--auto-approve",
                "--emulator",
                "--var",
                "anf_client_secret=rotated",
                "--var",
                PEPPER,
            ],
            0,
        ),
        (&["-vvv", "apply", "--auto-approve", "--emulator", "--var", var, "--var", PEPPER], 0),
        (&["state", "show", "kubernetes_secret.anf"], 0),
        (&["show", "--format", "json"], 0),
        // A refused configuration names the field, not the value.
        (&["plan", "--emulator", "--var", var, "--var", PEPPER, "--var", "undeclared=1"], 1),
        (&["-vvv", "destroy", "--auto-approve", "--emulator", "--var", var, "--var", PEPPER], 0),
    ];
    let mut applied_into_the_cluster = false;
    for (args, code) in commands {
        let run = stack.run(args);
        run.code(code);
        assert_no_canary(&run);
        for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
            assert!(
                !text.contains(PEPPER_DATA),
                "`{}` printed the secret's data on {stream}:\n{text}",
                run.line
            );
        }
        if args.contains(&"k8s.plan") && args[1] == "apply" {
            applied_into_the_cluster = emulator_files_hold(&stack, &base64(CANARY))
                && emulator_files_hold(&stack, &base64(PEPPER_DATA));
        }
    }
    assert!(applied_into_the_cluster, "the secret never reached the emulated cluster");
    assert!(!emulator_files_hold(&stack, &base64(CANARY)), "destroy left the secret in the cluster");
    assert_no_canary_in_files(&stack);
    assert!(!stack.read("k8s.plan").contains(PEPPER_DATA), "the saved plan holds the secret's data");
}

/// Whether any file the embedded emulator keeps holds `needle`.
fn emulator_files_hold(stack: &Stack, needle: &str) -> bool {
    let dir = stack.path(".lanestack/emulator");
    std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .any(|e| std::fs::read_to_string(e.path()).is_ok_and(|text| text.contains(needle)))
        })
        .unwrap_or(false)
}

fn base64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}
