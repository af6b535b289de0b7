//! Plans for review: markdown for pull requests (golden, with a budget, and the budget as a
//! property) on a realistic plan made through the engine against the fake provider.

use lanestack_engine::markdown::{self, Options};
use lanestack_engine::plan::Plan;
use lanestack_model::Value;

use crate::fake::FakeProvider;
use crate::harness::Harness;

/// A value that must appear in no review output.
pub const CANARY: &str = "canary-review-93be-do-not-show";

fn rules(ports: &[(usize, u32)]) -> String {
    let mut out = String::from("[\n");
    for (i, port) in ports {
        out.push_str(&format!("    {{ name = \"rule-{i:02}\", port = {port}, allow = true }},\n"));
    }
    out.push_str("  ]");
    out
}

fn stack(v2: bool) -> String {
    let db_name = if v2 { "db-b" } else { "db-a" };
    let secret = if v2 { format!("{CANARY}-2") } else { format!("{CANARY}-1") };
    let size = if v2 { 200 } else { 100 };
    let document = if v2 {
        r#"{ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = ["s3:GetObject", "s3:PutObject"], Resource = "*" }] }"#
    } else {
        r#"{ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = ["s3:GetObject"], Resource = "*" }] }"#
    };
    let replicas = if v2 { 3 } else { 2 };
    let step = if v2 { "python train.py --epochs 40" } else { "python train.py --epochs 20" };
    let mut ports: Vec<(usize, u32)> = (0..40).map(|i| (i, 8000 + i as u32)).collect();
    if v2 {
        ports[5].1 = 9005;
        ports.pop();
        ports.push((40, 8040));
    }
    let mut text = format!(
        r#"
resource "fake_thing" "db" {{
  name   = "{db_name}"
  size   = 1
  secret = "{secret}"
}}

resource "fake_volume" "data" {{
  name = "data"
  size = {size}
  lifecycle {{
    prevent_destroy = true
  }}
}}

resource "fake_config" "app" {{
  name     = "app"
  document = jsonencode({document})
  manifest = yamlencode({{ kind = "Deployment", spec = {{ replicas = {replicas}, image = "trainer:1" }} }})
  script   = "set -e\ncd /work\nexport DATA=/data\n{step}\necho done\n"
  rules    = {rules}
}}

resource "fake_thing" "drifted" {{
  name = "drifted"
  tags = {{ team = "lanes" }}
}}

resource "fake_thing" "ignored" {{
  name = "ignored"
  tags = {{ team = "lanes" }}
  lifecycle {{
    ignore_changes = [tags]
  }}
}}

output "db_id" {{
  value = fake_thing.db.id
}}
"#,
        rules = rules(&ports)
    );
    if v2 {
        text.push_str(
            r#"
resource "fake_thing" "new" {
  name = "new"
  tags = { team = "lanes", tier = "gpu" }
}

output "new_id" {
  value = fake_thing.new.id
}
"#,
        );
    } else {
        text.push_str(
            r#"
resource "fake_thing" "old" {
  name = "old"
}
"#,
        );
    }
    text
}

/// Applies the first version, drifts two resources behind the engine's back, and plans the
/// second: a delete, a replace with a changed secret, an update of a protected data-bearing
/// volume, an update with JSON, YAML, long text and a 40-element keyed list, a create, drift
/// that the plan reverts and drift it ignores, and output changes.
pub async fn realistic_plan() -> Plan {
    let h = Harness::with_fake(FakeProvider::for_review(), &stack(false));
    let (_, report) = h.apply().await;
    assert!(report.succeeded(), "{report:?}");
    assert!(h.fake.cloud_set("fake_thing.drifted", "tags", Value::object([("team", Value::from("other"))])));
    assert!(h.fake.cloud_set("fake_thing.ignored", "tags", Value::object([("team", Value::from("ops"))])));
    h.write(&stack(true));
    h.plan().await
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn options(max_chars: usize) -> Options {
    Options {
        stack: "review".to_owned(),
        max_chars,
        full_command: "lanestack show plan.bin".to_owned(),
        ..Options::default()
    }
}

#[test]
fn markdown_of_a_realistic_plan() {
    let plan = rt().block_on(realistic_plan());
    let text = markdown::plan_markdown(&plan, &options(markdown::DEFAULT_MAX_CHARS));
    assert!(!text.contains(CANARY), "the secret leaked:\n{text}");
    assert!(text.contains("(sensitive)"), "the changed secret is shown as changed");
    insta::assert_snapshot!(text);
}

#[test]
fn markdown_with_a_budget_too_small_for_the_details() {
    let plan = rt().block_on(realistic_plan());
    let text = markdown::plan_markdown(&plan, &options(1_800));
    assert!(text.chars().count() <= 1_800);
    assert!(text.contains("Review first"), "the risk summary stays:\n{text}");
    assert!(text.contains("lanestack show plan.bin"), "says how to see the rest:\n{text}");
    insta::assert_snapshot!(text);
}

/// A seeded generator, so that the property runs the same budgets every time.
fn budgets(seed: u64, max: usize, n: usize) -> Vec<usize> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % max as u64) as usize
        })
        .collect()
}

#[test]
fn markdown_never_exceeds_its_budget_and_keeps_the_risk_summary_when_it_fits() {
    let plan = rt().block_on(realistic_plan());
    let full = markdown::plan_markdown(&plan, &options(usize::MAX));
    let full_len = full.chars().count();
    let risk_end = full.find("#### Updates").expect("an updates list");
    let risk: String = full[..risk_end].to_owned();
    let mut tried = budgets(0x5eed, full_len + 200, 400);
    tried.extend([0, 1, 10, 100, risk.chars().count(), full_len - 1, full_len, full_len + 1]);
    for budget in tried {
        let text = markdown::plan_markdown(&plan, &options(budget));
        let len = text.chars().count();
        assert!(len <= budget, "budget {budget}: {len} characters");
        if budget >= full_len {
            assert_eq!(text, full, "budget {budget}: nothing is left out when everything fits");
        }
        // With room for the risk summary and the notes, the summary is there whole.
        if budget >= risk.chars().count() + 600 {
            assert!(text.starts_with(&risk), "budget {budget}: the risk summary was cut:\n{text}");
        }
    }
}

#[test]
fn the_marker_names_the_stack_and_cannot_end_the_comment_early() {
    assert_eq!(markdown::marker("infra/prod"), "<!-- lanestack-plan stack=infra/prod -->");
    assert_eq!(markdown::marker("a --> b"), "<!-- lanestack-plan stack=a_-___b -->");
}
