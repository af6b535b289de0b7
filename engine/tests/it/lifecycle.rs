//! Resource lifecycles through plan and apply, against the strict fake provider.

use lanestack_engine::plan::{Plan, PlanMode, PlanOptions};
use lanestack_engine::{planfile, render};
use lanestack_model::{Action, ActionReason, AttrPath, ErrorKind, Value};

use crate::fake::CallKind;
use crate::harness::{Harness, actions, attr};

const TWO: &str = r#"
resource "fake_thing" "net" {
  name = "net"
  size = 1
}

resource "fake_thing" "app" {
  name = "app-${fake_thing.net.id}"
  tags = { net = fake_thing.net.id }
}

output "app_id" {
  value = fake_thing.app.id
}
"#;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

#[test]
fn create_then_no_changes() {
    rt().block_on(async {
        let h = Harness::new(TWO);
        let (plan, report) = h.apply().await;
        assert_eq!(
            actions(&plan),
            [("fake_thing.app".to_owned(), Action::Create), ("fake_thing.net".to_owned(), Action::Create)]
        );
        assert!(report.succeeded(), "{report:?}");
        // Dependencies first: net was created before app, each exactly once.
        assert_eq!(h.fake.calls_of(CallKind::Create), ["fake_thing.net", "fake_thing.app"]);
        assert_eq!((h.fake.creates("fake_thing.net"), h.fake.creates("fake_thing.app")), (1, 1));
        let state = h.state();
        let net_id = attr(&state, "fake_thing.net", "id");
        assert_eq!(
            attr(&state, "fake_thing.app", "name"),
            Value::from(format!("app-{}", net_id.as_str().unwrap()))
        );
        assert_eq!(state.outputs["app_id"].value, attr(&state, "fake_thing.app", "id"));
        let app = &state.resources[&"fake_thing.app".parse().unwrap()];
        assert_eq!(app.dependencies.iter().map(ToString::to_string).collect::<Vec<_>>(), ["fake_thing.net"]);

        let again = h.plan().await;
        assert!(!again.has_changes(), "{}", render::plan_text(&again, Default::default()));
        assert_eq!(
            render::plan_text(&again, Default::default()),
            "No changes. The infrastructure matches the stack.\n"
        );
    });
}

#[test]
fn attribute_change_updates_in_place() {
    rt().block_on(async {
        let h = Harness::new(TWO);
        h.apply().await;
        let id_before = attr(&h.state(), "fake_thing.net", "id");
        h.write(&TWO.replace("size = 1", "size = 2"));
        let (plan, report) = h.apply().await;
        assert_eq!(actions(&plan), [("fake_thing.net".to_owned(), Action::Update)]);
        assert!(report.succeeded());
        assert_eq!(h.fake.calls_of(CallKind::Update), ["fake_thing.net"]);
        assert_eq!(attr(&h.state(), "fake_thing.net", "size"), Value::from(2));
        assert_eq!(attr(&h.state(), "fake_thing.net", "id"), id_before);
    });
}

#[test]
fn forced_replacement_deletes_first_by_default() {
    rt().block_on(async {
        let h = Harness::new(TWO);
        h.apply().await;
        h.fake.clear_calls();
        h.write(&TWO.replace("name = \"net\"", "name = \"net2\""));
        let plan = h.plan().await;
        let net = plan.change(&"fake_thing.net".parse().unwrap()).unwrap();
        assert_eq!(net.change.action, Action::DeleteThenCreate);
        assert_eq!(net.change.reason, Some(ActionReason::ReplaceBecauseCannotUpdate));
        assert_eq!(net.change.replace_paths.iter().map(ToString::to_string).collect::<Vec<_>>(), ["name"]);
        // app's name depends on net's id, unknown until the new net exists: app is replaced too.
        let app = plan.change(&"fake_thing.app".parse().unwrap()).unwrap();
        assert_eq!(app.change.action, Action::DeleteThenCreate);
        let text = render::plan_text(&plan, Default::default());
        assert!(text.contains("fake_thing.net will be replaced (a changed attribute cannot be updated in place; forced by name)"), "{text}");
        assert!(text.contains("~ name: \"net\" -> \"net2\""), "{text}");

        let report = h.apply_plan(&plan).await.unwrap();
        assert!(report.succeeded(), "{report:?}");
        let calls: Vec<_> = h
            .fake
            .calls()
            .into_iter()
            .filter(|c| matches!(c.kind, CallKind::Create | CallKind::Delete))
            .map(|c| (c.kind, c.address))
            .collect();
        assert_eq!(
            calls,
            [
                (CallKind::Delete, "fake_thing.app".to_owned()),
                (CallKind::Delete, "fake_thing.net".to_owned()),
                (CallKind::Create, "fake_thing.net".to_owned()),
                (CallKind::Create, "fake_thing.app".to_owned()),
            ]
        );
        assert_eq!(h.fake.cloud_len(), 2);
    });
}

#[test]
fn create_before_destroy_creates_first() {
    rt().block_on(async {
        let stack = r#"
resource "fake_thing" "a" {
  name = "a1"
  lifecycle {
    create_before_destroy = true
  }
}
"#;
        let h = Harness::new(stack);
        h.apply().await;
        h.fake.clear_calls();
        h.write(&stack.replace("a1", "a2"));
        let (plan, report) = h.apply().await;
        assert_eq!(actions(&plan), [("fake_thing.a".to_owned(), Action::CreateThenDelete)]);
        assert!(report.succeeded(), "{report:?}");
        let kinds: Vec<_> = h
            .fake
            .calls()
            .into_iter()
            .filter(|c| matches!(c.kind, CallKind::Create | CallKind::Delete))
            .map(|c| c.kind)
            .collect();
        assert_eq!(kinds, [CallKind::Create, CallKind::Delete]);
        assert_eq!(h.fake.cloud_len(), 1);
        assert_eq!(attr(&h.state(), "fake_thing.a", "name"), Value::from("a2"));
    });
}

#[test]
fn a_replaced_object_whose_delete_fails_is_kept_as_deposed_and_deleted_later() {
    rt().block_on(async {
        let stack = r#"
resource "fake_thing" "a" {
  name = "a1"
  lifecycle {
    create_before_destroy = true
  }
}
"#;
        let h = Harness::new(stack);
        h.apply().await;
        h.write(&stack.replace("a1", "a2"));
        h.fake.fail_deletes_on("fake_thing.a");
        let (_, report) = h.apply().await;
        assert_eq!(report.failed.len(), 1, "{report:?}");
        assert_eq!(h.fake.cloud_len(), 2, "the old object is still there");
        let state = h.state();
        let a = &state.resources[&"fake_thing.a".parse().unwrap()];
        assert_eq!(attr(&state, "fake_thing.a", "name"), Value::from("a2"));
        assert_eq!(
            a.deposed.as_ref().and_then(|d| d.get(&"name".parse().unwrap())),
            Some(&Value::from("a1"))
        );

        h.fake.heal("fake_thing.a");
        let plan = h.plan().await;
        assert_eq!(plan.totals().destroy, 1);
        let text = render::plan_text(&plan, Default::default());
        assert!(text.contains("- fake_thing.a (deposed object) will be destroyed"), "{text}");
        let report = h.apply_plan(&plan).await.unwrap();
        assert!(report.succeeded(), "{report:?}");
        assert_eq!(h.fake.cloud_len(), 1);
        assert!(h.state().resources.values().all(|r| r.deposed.is_none()));
        assert!(!h.plan().await.has_changes());
    });
}

#[test]
fn a_delete_waits_for_the_update_that_moves_away_from_it() {
    rt().block_on(async {
        let h = Harness::new(
            r#"
resource "fake_thing" "pool_a" {
  name = "pool-a"
}

resource "fake_thing" "volume" {
  name = "volume"
  tags = { pool = fake_thing.pool_a.id }
}
"#,
        );
        h.apply().await;
        h.fake.clear_calls();
        // The volume moves to a new pool (an update) and the old pool goes: deleting the old
        // pool first would pull it from under the volume.
        h.write(
            r#"
resource "fake_thing" "pool_b" {
  name = "pool-b"
}

resource "fake_thing" "volume" {
  name = "volume"
  tags = { pool = fake_thing.pool_b.id }
}
"#,
        );
        let (plan, report) = h.apply().await;
        assert!(report.succeeded(), "{report:?}");
        assert_eq!(
            actions(&plan),
            [
                ("fake_thing.pool_a".to_owned(), Action::Delete),
                ("fake_thing.pool_b".to_owned(), Action::Create),
                ("fake_thing.volume".to_owned(), Action::Update),
            ]
        );
        let steps: Vec<_> = h
            .fake
            .calls()
            .into_iter()
            .filter(|c| matches!(c.kind, CallKind::Create | CallKind::Update | CallKind::Delete))
            .map(|c| (c.kind, c.address))
            .collect();
        assert_eq!(
            steps,
            [
                (CallKind::Create, "fake_thing.pool_b".to_owned()),
                (CallKind::Update, "fake_thing.volume".to_owned()),
                (CallKind::Delete, "fake_thing.pool_a".to_owned()),
            ]
        );
        let state = h.state();
        let volume = &state.resources[&"fake_thing.volume".parse().unwrap()];
        assert_eq!(
            volume.dependencies.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["fake_thing.pool_b"]
        );
    });
}

#[test]
fn removed_block_is_deleted_with_its_reason() {
    rt().block_on(async {
        let h = Harness::new(TWO);
        h.apply().await;
        h.write(
            r#"
resource "fake_thing" "net" {
  name = "net"
  size = 1
}
"#,
        );
        let (plan, report) = h.apply().await;
        let app = plan.change(&"fake_thing.app".parse().unwrap()).unwrap();
        assert_eq!(app.change.action, Action::Delete);
        assert_eq!(app.change.reason, Some(ActionReason::DeleteBecauseNoResourceConfig));
        assert!(report.succeeded());
        assert_eq!(h.fake.cloud_addresses(), ["fake_thing.net"]);
        let state = h.state();
        assert_eq!(state.resources.len(), 1);
        assert!(state.outputs.is_empty(), "the removed output is removed from state");
    });
}

#[test]
fn drift_is_shown_and_reverted() {
    rt().block_on(async {
        let h = Harness::new(TWO);
        h.apply().await;
        assert!(h.fake.cloud_set("fake_thing.net", "size", Value::from(7)));
        let plan = h.plan().await;
        assert_eq!(plan.drift.len(), 1);
        assert_eq!(plan.drift[0].address.to_string(), "fake_thing.net");
        assert_eq!(actions(&plan), [("fake_thing.net".to_owned(), Action::Update)]);
        let text = render::plan_text(&plan, Default::default());
        assert!(text.contains("Changes outside lanestack"), "{text}");
        assert!(text.contains("~ size: 7 -> 1"), "{text}");
        h.apply_plan(&plan).await.unwrap();
        assert_eq!(
            h.fake.cloud_get("fake_thing.net").unwrap().get(&"size".parse().unwrap()),
            Some(&Value::from(1))
        );
    });
}

#[test]
fn deleted_behind_our_back_is_created_again() {
    rt().block_on(async {
        let h = Harness::new(TWO);
        h.apply().await;
        assert!(h.fake.cloud_remove("fake_thing.app"));
        let plan = h.plan().await;
        let app = plan.change(&"fake_thing.app".parse().unwrap()).unwrap();
        assert_eq!(
            (app.change.action, app.change.reason),
            (Action::Create, Some(ActionReason::RecreateBecauseGone))
        );
        let report = h.apply_plan(&plan).await.unwrap();
        assert!(report.succeeded());
        assert_eq!(h.fake.creates("fake_thing.app"), 2);
        assert!(!h.plan().await.has_changes());
    });
}

#[test]
fn ignore_changes_keeps_what_the_cloud_has() {
    rt().block_on(async {
        let stack = r#"
resource "fake_thing" "a" {
  name = "a"
  size = 1
  tags = { owner = "me" }
  lifecycle {
    ignore_changes = [tags]
  }
}
"#;
        let h = Harness::new(stack);
        h.apply().await;
        h.fake.cloud_set("fake_thing.a", "tags", Value::object([("owner", Value::from("autoscaler"))]));
        h.write(&stack.replace("\"me\"", "\"you\""));
        let plan = h.plan().await;
        assert!(actions(&plan).is_empty(), "{}", render::plan_text(&plan, Default::default()));
        // A change to an attribute that is not ignored still shows.
        h.write(&stack.replace("size = 1", "size = 3"));
        let plan = h.plan().await;
        assert_eq!(actions(&plan), [("fake_thing.a".to_owned(), Action::Update)]);
    });
}

#[test]
fn count_grows_and_shrinks() {
    rt().block_on(async {
        let stack = |n: usize| {
            format!(
                r#"
resource "fake_thing" "w" {{
  count = {n}
  name  = "w-${{count.index}}"
}}
"#
            )
        };
        let h = Harness::new(&stack(2));
        h.apply().await;
        h.write(&stack(4));
        let (plan, _) = h.apply().await;
        assert_eq!(
            actions(&plan),
            [("fake_thing.w[2]".to_owned(), Action::Create), ("fake_thing.w[3]".to_owned(), Action::Create)]
        );
        h.write(&stack(1));
        let (plan, report) = h.apply().await;
        assert!(report.succeeded());
        let deletes: Vec<_> =
            plan.effective().map(|c| (c.change.address.to_string(), c.change.reason)).collect();
        assert_eq!(
            deletes,
            [
                ("fake_thing.w[1]".to_owned(), Some(ActionReason::DeleteBecauseCountIndex)),
                ("fake_thing.w[2]".to_owned(), Some(ActionReason::DeleteBecauseCountIndex)),
                ("fake_thing.w[3]".to_owned(), Some(ActionReason::DeleteBecauseCountIndex)),
            ]
        );
        assert_eq!(h.fake.cloud_addresses(), ["fake_thing.w[0]"]);
    });
}

#[test]
fn for_each_adds_and_removes_keys() {
    rt().block_on(async {
        let stack = |keys: &str| {
            format!(
                r#"
locals {{
  pools = {{ {keys} }}
}}

resource "fake_thing" "pool" {{
  for_each = local.pools
  name     = "pool-${{each.key}}"
  size     = each.value
}}
"#
            )
        };
        let h = Harness::new(&stack("a = 1, b = 2"));
        h.apply().await;
        assert_eq!(attr(&h.state(), "fake_thing.pool[\"b\"]", "size"), Value::from(2));
        h.write(&stack("b = 3, c = 1"));
        let (plan, report) = h.apply().await;
        assert!(report.succeeded());
        let mut got: Vec<_> = plan
            .effective()
            .map(|c| (c.change.address.to_string(), c.change.action, c.change.reason))
            .collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            got,
            [
                (
                    "fake_thing.pool[\"a\"]".to_owned(),
                    Action::Delete,
                    Some(ActionReason::DeleteBecauseEachKey)
                ),
                ("fake_thing.pool[\"b\"]".to_owned(), Action::Update, None),
                ("fake_thing.pool[\"c\"]".to_owned(), Action::Create, None),
            ]
        );
    });
}

#[test]
fn failure_skips_dependents_and_finishes_independent_branches() {
    rt().block_on(async {
        let stack = r#"
resource "fake_thing" "a" {
  name = "a"
}

resource "fake_thing" "b" {
  name = "b-${fake_thing.a.id}"
}

resource "fake_thing" "c" {
  name = "c"
}
"#;
        let h = Harness::new(stack);
        h.fake.fail_on("fake_thing.a", ErrorKind::Failed);
        let (_, report) = h.apply().await;
        assert!(!report.succeeded());
        assert_eq!(report.failed.iter().map(|f| f.0.to_string()).collect::<Vec<_>>(), ["fake_thing.a"]);
        assert_eq!(report.not_done.iter().map(|f| f.0.to_string()).collect::<Vec<_>>(), ["fake_thing.b"]);
        let state = h.state();
        assert_eq!(state.resources.keys().map(ToString::to_string).collect::<Vec<_>>(), ["fake_thing.c"]);

        // The next plan shows exactly what remains.
        h.fake.heal("fake_thing.a");
        let plan = h.plan().await;
        assert_eq!(
            actions(&plan),
            [("fake_thing.a".to_owned(), Action::Create), ("fake_thing.b".to_owned(), Action::Create)]
        );
        let report = h.apply_plan(&plan).await.unwrap();
        assert!(report.succeeded());
        assert_eq!(h.fake.creates("fake_thing.c"), 1);
    });
}

#[test]
fn a_create_that_fails_after_acting_is_recorded_and_replaced_not_duplicated() {
    rt().block_on(async {
        let h = Harness::new("resource \"fake_thing\" \"a\" {\n  name = \"a\"\n}\n");
        h.fake.fail_after_on("fake_thing.a", ErrorKind::Transient);
        let (_, report) = h.apply().await;
        assert_eq!(report.failed.len(), 1);
        let state = h.state();
        let a = &state.resources[&"fake_thing.a".parse().unwrap()];
        assert!(a.tainted, "the object left behind is recorded, tainted");
        h.fake.heal("fake_thing.a");
        let plan = h.plan().await;
        let change = plan.change(&"fake_thing.a".parse().unwrap()).unwrap();
        assert_eq!(
            (change.change.action, change.change.reason),
            (Action::DeleteThenCreate, Some(ActionReason::ReplaceBecauseTainted))
        );
        let report = h.apply_plan(&plan).await.unwrap();
        assert!(report.succeeded(), "{report:?}");
        assert_eq!(h.fake.cloud_len(), 1, "nothing orphaned");
    });
}

#[test]
fn interrupted_create_is_recovered_from_the_journal() {
    rt().block_on(async {
        let h = Harness::new("resource \"fake_thing\" \"a\" {\n  name = \"a\"\n}\n");
        let (plan, _) = h.apply().await;
        // Simulate a crash between "create sent" and "state written": the object exists, the
        // journal says the create began, and state does not have it.
        {
            let mut store = h.store();
            let addr = "fake_thing.a".parse().unwrap();
            store.finish(&addr, None).unwrap();
            store.commit().unwrap();
            let planned = plan.change(&addr).unwrap().change.after.clone().unwrap();
            store.begin(&addr, lanestack_engine::state::StepKind::Create, Some(&planned)).unwrap();
            store.sync().unwrap();
            // Dropped without finish or commit, as a killed process would leave it.
        }
        assert_eq!(h.store().in_flight().len(), 1);
        let plan = h.plan().await;
        assert!(!plan.has_changes(), "{}", render::plan_text(&plan, Default::default()));
        assert_eq!(h.state().resources.len(), 1);
        assert_eq!(h.fake.creates("fake_thing.a"), 1);
    });
}

const SECRET: &str = "canary-engine-7d1c-do-not-save";

fn with_secret(size: u32) -> String {
    format!(
        r#"
resource "fake_thing" "db" {{
  name   = "db"
  size   = {size}
  secret = "{SECRET}"
}}
"#
    )
}

#[test]
fn a_saved_plan_holds_secrets_only_as_seals_and_applies_after_unsealing() {
    rt().block_on(async {
        let h = Harness::new(&with_secret(1));
        h.apply().await;
        h.write(&with_secret(2));
        let plan = h.plan().await;
        assert_eq!(actions(&plan), [("fake_thing.db".to_owned(), Action::Update)]);
        let bytes = planfile::to_bytes(&plan);
        // The stack's own text is saved as it is (a secret written in it is in version control
        // anyway); every value derived from it is sealed.
        let mut file: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert!(file["sources"].to_string().contains(SECRET));
        file["sources"] = serde_json::Value::Null;
        assert!(!file.to_string().contains(SECRET), "the plan file holds the secret: {file}");
        let mut back = planfile::from_bytes(std::path::Path::new("p"), &bytes).unwrap();
        // Shown from the file, the update is the same as shown from memory.
        assert_eq!(
            render::plan_text(&back, Default::default()),
            render::plan_text(&plan, Default::default())
        );
        planfile::unseal(&mut back, &Default::default(), &h.state()).unwrap();
        let report = h.apply_plan(&back).await.unwrap();
        assert!(report.succeeded(), "{report:?}");
        let live = h.fake.cloud_get("fake_thing.db").unwrap();
        assert_eq!(live.get(&AttrPath::attr("secret")), Some(&Value::from(SECRET)));
        assert_eq!(live.get(&AttrPath::attr("size")), Some(&Value::from(2)));
    });
}

#[test]
fn unsealing_refuses_a_secret_that_changed_behind_the_plan() {
    rt().block_on(async {
        let h = Harness::new(&with_secret(1));
        h.apply().await;
        assert!(h.fake.cloud_set("fake_thing.db", "secret", Value::from("rotated")));
        h.write(&with_secret(2));
        let plan = h.plan().await;
        let mut back = planfile::from_bytes(std::path::Path::new("p"), &planfile::to_bytes(&plan)).unwrap();
        let err = planfile::unseal(&mut back, &Default::default(), &h.state()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the sensitive value of fake_thing.db at secret is not the one the plan was made with"
        );
    });
}

#[test]
fn saved_plan_round_trips_and_stale_plans_are_refused() {
    rt().block_on(async {
        let h = Harness::new(TWO);
        let plan = h.plan().await;
        let bytes = planfile::to_bytes(&plan);
        let back = planfile::from_bytes(std::path::Path::new("p"), &bytes).unwrap();
        assert!(back.sealed.is_some(), "a plan read from a file is sealed");
        assert_eq!(Plan { sealed: None, ..back.clone() }, plan);
        // Someone else applies first.
        h.apply().await;
        let err = h.apply_plan(&back).await.unwrap_err();
        assert!(err.to_string().contains("stale"), "{err}");
        assert_eq!(h.fake.creates("fake_thing.net"), 1);
    });
}

#[test]
fn replace_request_and_triggers() {
    rt().block_on(async {
        let stack = r#"
resource "fake_thing" "a" {
  name = "a"
  size = 1
}

resource "fake_thing" "b" {
  name = "b"
  lifecycle {
    replace_triggered_by = [fake_thing.a]
  }
}
"#;
        let h = Harness::new(stack);
        h.apply().await;
        let plan = h
            .plan_with(PlanOptions {
                replace: vec!["fake_thing.a".parse().unwrap()],
                ..PlanOptions::default()
            })
            .await
            .unwrap();
        let got: Vec<_> = plan.effective().map(|c| (c.change.address.to_string(), c.change.reason)).collect();
        assert_eq!(
            got,
            [
                ("fake_thing.a".to_owned(), Some(ActionReason::ReplaceByRequest)),
                ("fake_thing.b".to_owned(), Some(ActionReason::ReplaceByTriggers)),
            ]
        );
    });
}

#[test]
fn a_trigger_naming_an_attribute_fires_only_when_that_attribute_changes() {
    rt().block_on(async {
        let stack = r#"
resource "fake_thing" "image" {
  name = "image"
  size = 1
  tags = { tag = "v1" }
}

resource "fake_thing" "job" {
  name = "job"
  lifecycle {
    replace_triggered_by = [fake_thing.image.size]
  }
}
"#;
        let h = Harness::new(stack);
        h.apply().await;
        // Another tag on the image: an update of it, not of what its size triggers.
        h.write(&stack.replace("\"v1\"", "\"v2\""));
        let plan = h.plan().await;
        assert_eq!(actions(&plan), [("fake_thing.image".to_owned(), Action::Update)]);
        h.apply_plan(&plan).await.unwrap();
        // Another size: the job is replaced.
        h.write(&stack.replace("\"v1\"", "\"v2\"").replace("size = 1", "size = 2"));
        let plan = h.plan().await;
        let got: Vec<_> = plan.effective().map(|c| (c.change.address.to_string(), c.change.reason)).collect();
        assert_eq!(
            got,
            [
                ("fake_thing.image".to_owned(), None),
                ("fake_thing.job".to_owned(), Some(ActionReason::ReplaceByTriggers))
            ]
        );
    });
}

#[test]
fn prevent_destroy_stops_destroy_and_replace() {
    rt().block_on(async {
        let stack = r#"
resource "fake_thing" "data" {
  name = "data"
  lifecycle {
    prevent_destroy = true
  }
}
"#;
        let h = Harness::new(stack);
        h.apply().await;
        let err =
            h.plan_with(PlanOptions { mode: PlanMode::Destroy, ..PlanOptions::default() }).await.unwrap_err();
        assert!(
            err.iter()
                .any(|d| d.code == "lanestack::prevent_destroy" && d.summary.contains("fake_thing.data")),
            "{err:?}"
        );
        h.write(&stack.replace("name = \"data\"", "name = \"data2\""));
        let err = h.plan_with(PlanOptions::default()).await.unwrap_err();
        assert!(err.iter().any(|d| d.code == "lanestack::prevent_destroy"), "{err:?}");
        assert_eq!(h.fake.cloud_len(), 1);
    });
}

#[test]
fn destroy_deletes_dependents_first() {
    rt().block_on(async {
        let h = Harness::new(TWO);
        h.apply().await;
        h.fake.clear_calls();
        let (plan, report) = h.destroy().await;
        assert_eq!(plan.totals().destroy, 2);
        assert!(report.succeeded());
        assert_eq!(h.fake.calls_of(CallKind::Delete), ["fake_thing.app", "fake_thing.net"]);
        assert_eq!(h.fake.cloud_len(), 0);
        let state = h.state();
        assert!(state.resources.is_empty() && state.outputs.is_empty());
    });
}

#[test]
fn targets_limit_the_plan_to_dependencies() {
    rt().block_on(async {
        let h =
            Harness::new(&format!("{TWO}\nresource \"fake_thing\" \"other\" {{\n  name = \"other\"\n}}\n"));
        let plan = h
            .plan_with(PlanOptions {
                targets: vec!["fake_thing.app".parse().unwrap()],
                ..PlanOptions::default()
            })
            .await
            .unwrap();
        assert_eq!(
            actions(&plan),
            [("fake_thing.app".to_owned(), Action::Create), ("fake_thing.net".to_owned(), Action::Create)]
        );
    });
}

#[test]
fn what_a_data_source_computes_from_a_secret_is_sensitive() {
    rt().block_on(async {
        let mut schema = lanestack_model::ProviderSchema::default();
        schema.resources.insert("fake_thing".to_owned(), crate::fake::thing_schema());
        schema.data_sources.insert("fake_lookup".to_owned(), crate::fake::FakeProvider::lookup_schema());
        let stack = r#"
variable "token" {
  type      = string
  default   = "s3cret-token"
  sensitive = true
}

data "fake_lookup" "secret" {
  input = var.token
}

data "fake_lookup" "plain" {
  input = "public"
}

resource "fake_thing" "app" {
  name = "app"
  tags = { derived = data.fake_lookup.secret.value, plain = data.fake_lookup.plain.value }
}
"#;
        let h = Harness::with_fake(crate::fake::FakeProvider::new(schema), stack);
        let plan = h.plan().await;
        let text = render::plan_text(&plan, Default::default());
        // The value the source computed from the secret is as secret as the secret; what it
        // computed from plain inputs stays plain.
        assert!(!text.contains("s3cret-token"), "{text}");
        assert!(text.contains("tags.derived: (sensitive)"), "{text}");
        assert!(text.contains("tags.plain: \"public\""), "{text}");
    });
}

#[test]
fn a_data_source_that_depends_on_a_changing_resource_is_read_during_apply() {
    rt().block_on(async {
        let mut schema = lanestack_model::ProviderSchema::default();
        schema.resources.insert("fake_thing".to_owned(), crate::fake::thing_schema());
        schema.data_sources.insert("fake_lookup".to_owned(), crate::fake::FakeProvider::lookup_schema());
        let stack = r#"
resource "fake_thing" "cluster" {
  name = "cluster"
}

data "fake_lookup" "registered" {
  input      = "cluster"
  depends_on = [fake_thing.cluster]
}

resource "fake_thing" "project" {
  name = "project"
  tags = { cluster = data.fake_lookup.registered.value }
}
"#;
        let h = Harness::with_fake(crate::fake::FakeProvider::new(schema), stack);
        // The cluster is to be created: what depends on it is looked up once it exists.
        let plan = h.plan().await;
        let text = render::plan_text(&plan, Default::default());
        assert!(text.contains("tags.cluster: (known after apply)"), "{text}");
        assert!(h.fake.calls_of(CallKind::ReadData).is_empty(), "read at plan time");
        let report = h.apply_plan(&plan).await.unwrap();
        assert!(report.succeeded(), "{report:?}");
        assert_eq!(
            attr(&h.state(), "fake_thing.project", "tags"),
            Value::object([("cluster", Value::from("cluster"))])
        );
        // Nothing changes now: the lookup is read when planning.
        let again = h.plan().await;
        assert!(!again.has_changes(), "{}", render::plan_text(&again, Default::default()));
    });
}
