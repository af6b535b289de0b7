//! A lock left behind by a run that died: found, refused, and removed by `force-unlock`.

use crate::support::Stack;

const LOCK_ID: &str = "0b5e7a1c-2d4f-4e6a-8c9b-1f2e3d4c5b6a";

/// A process id that no process can have: Linux hands out ids below `pid_max`.
fn dead_pid() -> u32 {
    let text = std::fs::read_to_string("/proc/sys/kernel/pid_max").expect("read pid_max");
    let pid: u32 = text.trim().parse().expect("pid_max is a number");
    assert!(!std::path::Path::new("/proc").join(pid.to_string()).exists());
    pid
}

/// This host's name, read the way the lock does, so that the lock is judged on its process.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").expect("read the host name").trim().to_owned()
}

/// Writes the `lock.json` a crashed `apply` would leave behind.
fn leave_stale_lock(stack: &Stack) {
    let info = serde_json::json!({
        "id": LOCK_ID,
        "pid": dead_pid(),
        "hostname": hostname(),
        "operation": "apply",
        "created": "2026-01-01T00:00:00Z",
        "lanestack_version": "0.1.0",
    });
    stack.write(".lanestack/lock.json", &format!("{info:#}\n"));
}

#[test]
fn a_stale_lock_stops_plan_until_force_unlock_removes_it() {
    let stack = Stack::example("hello");
    stack.run(&["apply", "--auto-approve"]).ok();
    leave_stale_lock(&stack);

    let run = stack.run(&["plan"]);
    run.code(1)
        .stderr_has("that process is no longer running")
        .stderr_has(&format!("run `lanestack force-unlock {LOCK_ID}`"));
    assert!(!run.stdout.contains("No changes."), "plan must not run: {}", run.stdout);
    stack.run(&["apply", "--auto-approve"]).code(1).stderr_has(LOCK_ID);
    assert!(stack.path(".lanestack/lock.json").is_file());

    stack.run(&["force-unlock", "not-the-id"]).code(1).stderr_has("not not-the-id");
    assert!(stack.path(".lanestack/lock.json").is_file(), "a wrong id must leave the lock");

    stack.run(&["force-unlock", LOCK_ID]).ok().stdout_has(&format!("The lock {LOCK_ID} was removed."));
    assert!(!stack.path(".lanestack/lock.json").exists());

    stack.run(&["plan", "--detailed-exitcode"]).ok().stdout_has("No changes.");
    assert!(!stack.path(".lanestack/lock.json").exists(), "plan must release its own lock");
}

#[test]
fn force_unlock_without_a_lock_is_an_error() {
    let stack = Stack::example("hello");
    stack.run(&["apply", "--auto-approve"]).ok();
    stack.run(&["force-unlock", LOCK_ID]).code(1).stderr_has("is not locked");
}
