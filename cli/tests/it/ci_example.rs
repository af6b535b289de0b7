//! `examples/github-actions`: the workflow parses and uses commands and flags that exist, and
//! its comment script updates the comment that carries the stack's marker instead of posting a
//! second one (checked against a fake `gh` that records its calls).

use std::path::Path;

use lanestack_model::{AttrPath, Value};

use crate::support::{Stack, repo_root};

fn example(name: &str) -> std::path::PathBuf {
    repo_root().join("examples/github-actions").join(name)
}

#[test]
fn the_workflow_plans_on_pull_requests_and_applies_the_saved_plan_on_push() {
    let text = std::fs::read_to_string(example("lanestack.yml")).expect("the workflow");
    let workflow = lanestack_engine::structured::parse_yaml(&text).expect("the workflow is YAML");
    let get = |path: &str| workflow.get(&path.parse::<AttrPath>().expect("a path")).cloned();
    assert!(get("on.pull_request").is_some() && get("on.push.branches").is_some());
    let steps = |job: &str| -> String {
        match get(&format!("jobs.{job}.steps")) {
            Some(Value::List(steps)) => steps.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("\n"),
            other => panic!("jobs.{job}.steps is not a list: {other:?}"),
        }
    };
    let plan = steps("plan");
    for needle in [
        "lanestack plan \\\"$STACK\\\" --out plan.bin --detailed-exitcode",
        "lanestack show plan.bin --format markdown --max-chars 65536",
        "post-comment.sh plan.md",
        "actions/upload-artifact",
    ] {
        assert!(plan.contains(needle), "the plan job lacks {needle:?}:\n{plan}");
    }
    let apply = steps("apply");
    for needle in ["actions/download-artifact", "lanestack apply plan.bin", "stack-tree.txt"] {
        assert!(apply.contains(needle), "the apply job lacks {needle:?}:\n{apply}");
    }
    // The flags the workflow uses exist.
    let stack = Stack::example("hello");
    let help = stack.run(&["show", "--help"]);
    help.ok().stdout_has("--max-chars").stdout_has("markdown");
    stack.run(&["plan", "--help"]).ok().stdout_has("--detailed-exitcode").stdout_has("--out");
}

/// A fake `gh` that answers the comment list with `comments.json` and records every call.
fn fake_gh(dir: &Path) {
    let script = r#"#!/usr/bin/env bash
echo "$*" >> "$FAKE_GH_DIR/calls.txt"
case "$*" in
  *"/comments --jq"*) jq -r "$(sed -n 's/.*--jq //p' <<<"$*")" "$FAKE_GH_DIR/comments.json" ;;
esac
"#;
    std::fs::write(dir.join("gh"), script).expect("write the fake gh");
    let mut perms = std::fs::metadata(dir.join("gh")).expect("stat").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(dir.join("gh"), perms).expect("chmod");
}

fn post(dir: &Path, markdown: &Path) -> String {
    let path = format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default());
    let out = std::process::Command::new("bash")
        .arg(example("post-comment.sh"))
        .arg(markdown)
        .env("PATH", path)
        .env("FAKE_GH_DIR", dir)
        .env("GH_TOKEN", "t")
        .env("GITHUB_REPOSITORY", "org/repo")
        .env("PR", "7")
        .output()
        .expect("run post-comment.sh");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::read_to_string(dir.join("calls.txt")).unwrap_or_default()
}

#[test]
fn the_comment_script_updates_its_own_comment_or_posts_one() {
    if std::process::Command::new("jq").arg("--version").output().is_err() {
        // The fake gh evaluates --jq with jq; GitHub's runners and CI images have it.
        panic!("jq is needed to run this test (apt-get install jq)");
    }
    let stack = Stack::example("hello");
    stack.run(&["plan", "--out", "plan.bin"]).ok();
    let md = stack.run(&["show", "plan.bin", "--format", "markdown"]);
    md.ok();
    stack.write("plan.md", &md.stdout);
    let marker = md.stdout.lines().next().expect("a first line").to_owned();

    let gh = tempfile::tempdir().expect("a temp dir");
    fake_gh(gh.path());
    let comments = serde_json::json!([
        { "id": 11, "body": "LGTM" },
        { "id": 12, "body": format!("{marker}\nold plan") },
        { "id": 13, "body": "<!-- lanestack-plan stack=other -->\nanother stack" },
    ]);
    std::fs::write(gh.path().join("comments.json"), comments.to_string()).expect("write comments");
    let calls = post(gh.path(), &stack.path("plan.md"));
    assert!(calls.contains("--method PATCH repos/org/repo/issues/comments/12"), "{calls}");
    assert!(!calls.contains("POST"), "{calls}");

    std::fs::write(gh.path().join("comments.json"), "[]").expect("write comments");
    std::fs::remove_file(gh.path().join("calls.txt")).expect("reset the calls");
    let calls = post(gh.path(), &stack.path("plan.md"));
    assert!(calls.contains("--method POST repos/org/repo/issues/7/comments"), "{calls}");
}
