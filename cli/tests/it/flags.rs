//! Plan flags: --target, --replace, --refresh=false, plan --destroy, auto var files; and a lock
//! held by a live process.

use crate::support::Stack;

const CHAIN: &str = r#"
resource "lanestack_data" "a" {
  input = "a"
}

resource "lanestack_data" "b" {
  input = lanestack_data.a.id
}

resource "lanestack_data" "other" {
  input = "other"
}
"#;

#[test]
fn target_plans_only_the_target_and_its_dependencies() {
    let stack = Stack::from_hcl(CHAIN);
    let run = stack.run(&["plan", "--target", "lanestack_data.b"]);
    run.ok()
        .stdout_has("+ lanestack_data.a will be created")
        .stdout_has("+ lanestack_data.b will be created")
        .stdout_has("Plan: 2 to add, 0 to change, 0 to replace, 0 to destroy.")
        .stderr_has("limited to the --target resources");
    assert!(!run.stdout.contains("lanestack_data.other"), "{}", run.stdout);
    stack.run(&["plan", "--target", "not an address"]).code(2).stderr_has("invalid resource address");
}

#[test]
fn replace_forces_a_replacement_of_an_unchanged_resource() {
    let stack = Stack::from_hcl(CHAIN);
    stack.run(&["apply", "--auto-approve"]).ok();
    stack
        .run(&["plan", "--replace", "lanestack_data.other", "--detailed-exitcode"])
        .code(2)
        .stdout_has("-/+ lanestack_data.other will be replaced (replacement was requested with --replace)")
        .stdout_has("Plan: 0 to add, 0 to change, 1 to replace, 0 to destroy.");
}

#[test]
fn refresh_false_plans_from_state_alone() {
    let stack = Stack::from_hcl(
        "resource \"lanestack_file\" \"f\" {\n  path    = \"out/f.txt\"\n  content = \"hello\"\n}\n",
    );
    stack.run(&["apply", "--auto-approve"]).ok();
    std::fs::remove_file(stack.path("out/f.txt")).unwrap();
    // Refresh finds the file gone and plans it again ...
    stack
        .run(&["plan"])
        .ok()
        .stdout_has("lanestack_file.f was deleted outside lanestack")
        .stdout_has("+ lanestack_file.f will be created (it no longer exists and will be created again)");
    // ... while --refresh=false trusts state.
    stack.run(&["plan", "--refresh=false"]).ok().stdout_has("No changes.");
}

#[test]
fn plan_destroy_plans_every_deletion() {
    let stack = Stack::from_hcl(CHAIN);
    stack.run(&["apply", "--auto-approve"]).ok();
    stack
        .run(&["plan", "--destroy", "--detailed-exitcode"])
        .code(2)
        .stdout_has("- lanestack_data.b will be destroyed (the stack is being destroyed)")
        .stdout_has("Plan: 0 to add, 0 to change, 0 to replace, 3 to destroy.");
    assert_eq!(stack.state_list().len(), 3, "plan changes nothing");
}

#[test]
fn auto_var_files_are_read_and_flags_win() {
    let stack = Stack::from_hcl(
        "variable \"region\" {\n  type = string\n}\n\nresource \"lanestack_data\" \"r\" {\n  input = var.region\n}\n",
    );
    stack.write("site.auto.lsvars", "region = \"westeurope\"\n");
    stack.run(&["plan"]).ok().stdout_has("+ input: \"westeurope\"");
    stack.run(&["plan", "--var", "region=northeurope"]).ok().stdout_has("+ input: \"northeurope\"");
    stack.write("site.auto.lsvars", "region = 42\nunknown_one = 1\n");
    stack.run(&["plan"]).ok().stdout_has("+ input: \"42\"");
}

#[test]
fn a_lock_held_by_a_live_process_stops_a_second_run() {
    let stack = Stack::from_hcl(CHAIN);
    let state_dir = stack.path(".lanestack");
    std::fs::create_dir_all(&state_dir).unwrap();
    let guard = lanestack_engine::state::acquire(&state_dir, "apply").unwrap();
    let pid = std::process::id().to_string();
    stack.run(&["plan"]).code(1).stderr_has(&pid).stderr_has("apply");
    stack.run(&["apply", "--auto-approve"]).code(1);
    drop(guard);
    stack.run(&["plan"]).ok();
    assert!(stack.state_list().is_empty(), "the refused apply changed nothing");
}
