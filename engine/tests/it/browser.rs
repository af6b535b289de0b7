//! The plan markdown as a browser shows it: rendered to HTML by comrak (GitHub-flavoured, with
//! raw HTML allowed as GitHub allows `<details>`), loaded in headless Chromium (Debian's
//! `chromium` package, which `.ci/run` installs), and the DOM it builds checked for the folded
//! sections and diff blocks. A screenshot with every section opened is saved under the target
//! directory (`CARGO_TARGET_TMPDIR/plan-markdown.png`, i.e. `target/tmp/`) for people to look at.

use std::path::{Path, PathBuf};
use std::process::Command;

use lanestack_engine::markdown::{self, Options};

use crate::review::{realistic_plan, rt};

const CHROMIUM: &str = "/usr/bin/chromium";

fn html_of(markdown: &str) -> String {
    let mut options = comrak::Options::default();
    options.extension.table = true;
    options.extension.strikethrough = true;
    options.extension.autolink = true;
    options.render.r#unsafe = true;
    let body = comrak::markdown_to_html(markdown, &options);
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>plan</title></head><body>\n{body}</body></html>\n"
    )
}

fn chromium(args: &[&str], profile: &Path) -> std::process::Output {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: install Debian's chromium package (apt-get install -y chromium), as .ci/run does"
    );
    // A guard against a browser that never exits, not a timed assertion.
    Command::new("timeout")
        .arg("120")
        .arg(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("run chromium")
}

#[test]
fn plan_markdown_renders_details_and_diff_blocks_in_chromium() {
    let plan = rt().block_on(realistic_plan());
    let md = markdown::plan_markdown(&plan, &Options { stack: "review".to_owned(), ..Options::default() });
    let html = html_of(&md);
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let page = out.join("plan-markdown.html");
    std::fs::write(&page, &html).expect("write the page");
    let profile = tempfile::tempdir().expect("a profile directory");
    let url = format!("file://{}", page.display());

    let run = chromium(&["--dump-dom", &url], profile.path());
    let dom = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "chromium failed: {}", String::from_utf8_lossy(&run.stderr));

    let expected_details = md.matches("<details>").count();
    assert!(expected_details >= 8, "the plan has a section per resource, drift and outputs:\n{md}");
    assert_eq!(dom.matches("<details>").count(), expected_details, "every <details> is an element:\n{dom}");
    assert_eq!(dom.matches("<summary>").count(), expected_details, "{dom}");
    assert!(!dom.contains("&lt;details&gt;"), "<details> was escaped into text:\n{dom}");
    let diff_blocks = md.matches("```diff\n").count();
    assert_eq!(dom.matches("<code class=\"language-diff\">").count(), diff_blocks, "{dom}");
    assert!(dom.contains("rules[name=rule-05].port = 9005"), "the keyed list diff is in a block:\n{dom}");
    assert!(dom.contains("<!-- lanestack-plan stack=review -->"), "the marker survives as a comment");
    assert!(dom.contains("<h4>⚠️ Review first"), "{dom}");

    // Best effort: a picture for people, every section opened; it proves nothing the DOM did not.
    let opened = out.join("plan-markdown-open.html");
    std::fs::write(&opened, html.replace("<details>", "<details open>")).expect("write the opened page");
    let shot = out.join("plan-markdown.png");
    let opened = format!("file://{}", opened.display());
    let _ = chromium(
        &[&format!("--screenshot={}", shot.display()), "--window-size=1200,3600", &opened],
        profile.path(),
    );
}
