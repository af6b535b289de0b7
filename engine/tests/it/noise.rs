//! Noise: values the server rewrites or owns show no change and no drift, while real changes
//! still do; `has_changes` (the CLI's `--detailed-exitcode`) ignores drift the plan does not act on.

use lanestack_engine::render;
use lanestack_model::{Action, ProviderSchema, Value};

use crate::fake::{FakeProvider, cluster_schema};
use crate::harness::{Harness, actions};
use crate::review::rt;

fn fake() -> FakeProvider {
    let mut schema = ProviderSchema::default();
    schema.resources.insert("fake_cluster".to_owned(), cluster_schema());
    FakeProvider::new(schema)
}

fn cluster(policy_action: &str, node_count: u32, extra: &str) -> String {
    format!(
        r#"
resource "fake_cluster" "gpu" {{
  name       = "gpu"
  region     = "westeurope"
  policy     = jsonencode({{ Version = "1", Action = ["{policy_action}"] }})
  manifest   = "kind: Pool\nspec:\n  size: 2\n"
  zones      = ["1", "2", "3"]
  node_count = {node_count}
  {extra}
}}
"#
    )
}

/// The server's rewrite of everything: JSON re-indented with keys reordered, YAML re-quoted,
/// the region upper-cased, the zones reordered, the node count changed by an autoscaler, an
/// etag set.
fn server_rewrites(h: &Harness) {
    let set = |attr: &str, v: Value| assert!(h.fake.cloud_set("fake_cluster.gpu", attr, v));
    set("policy", Value::from("{\n  \"Action\": [\"read\"],\n  \"Version\": \"1\"\n}"));
    set("manifest", Value::from("spec: { size: 2 }\nkind: \"Pool\"\n"));
    set("region", Value::from("WESTEUROPE"));
    set("zones", Value::List(vec![Value::from("3"), Value::from("1"), Value::from("2")]));
    set("node_count", Value::from(9));
    set("etag", Value::from("W/\"42\""));
}

#[test]
fn what_the_server_rewrites_or_owns_is_no_change() {
    rt().block_on(async {
        let h = Harness::with_fake(fake(), &cluster("read", 3, ""));
        let (_, report) = h.apply().await;
        assert!(report.succeeded(), "{report:?}");
        server_rewrites(&h);
        let plan = h.plan().await;
        let text = render::plan_text(&plan, Default::default());
        assert!(!plan.has_changes(), "{text}");
        // Only the autoscaler's node count is news, and the plan does not act on it.
        assert_eq!(plan.drift.len(), 1, "{text}");
        assert!(text.contains("node_count: 3 -> 9"), "{text}");
        assert!(!text.contains("policy") && !text.contains("region") && !text.contains("etag"), "{text}");
    });
}

#[test]
fn real_changes_still_show_under_normalisation() {
    rt().block_on(async {
        let h = Harness::with_fake(fake(), &cluster("read", 3, ""));
        h.apply().await;
        server_rewrites(&h);
        // The user changes the policy for real, the node count (which the autoscaler owns) and
        // sets the etag explicitly.
        h.write(&cluster("write", 5, r#"etag = "mine""#));
        let plan = h.plan().await;
        assert_eq!(actions(&plan), [("fake_cluster.gpu".to_owned(), Action::Update)]);
        let text = render::plan_text(&plan, Default::default());
        // The policy is a JSON document: the one value that changed in it, not the whole text.
        assert!(text.contains("~ policy(json).Action[0]: \"read\" -> \"write\""), "{text}");
        assert!(text.contains("etag: \"W/\\\"42\\\"\" -> \"mine\""), "{text}");
        assert!(!text.contains("node_count: 9 ->"), "the node count is not the stack's to change: {text}");
        assert!(!text.contains("region") && !text.contains("zones"), "{text}");
        let report = h.apply_plan(&plan).await.unwrap();
        assert!(report.succeeded(), "{report:?}");
        assert!(!h.plan().await.has_changes());
    });
}
