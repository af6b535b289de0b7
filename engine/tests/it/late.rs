//! Providers configured from resources: a `provider` block that refers to a resource (the
//! kubernetes provider given an AKS cluster's credentials) is configured once that resource's
//! value is known — from what exists before a plan refreshes, and again during apply once the
//! resource is created or replaced — and its objects are deleted before the resource.

use std::sync::Arc;

use lanestack_engine::Providers;
use lanestack_model::{Action, AttrType, Attribute, Block, ProviderSchema, Value};

use crate::fake::{CallKind, FakeProvider, thing_schema};
use crate::harness::{Harness, actions};

const STACK: &str = r#"
resource "fake_thing" "cluster" {
  name = var.cluster
}

provider "late" {
  endpoint = fake_thing.cluster.id
}

resource "late_thing" "obj" {
  name = "o"
}

variable "cluster" {
  default = "c1"
}
"#;

/// The cluster's provider `fake` and the provider configured from it, `late`.
fn harness() -> (Harness, Arc<FakeProvider>) {
    harness_of(STACK)
}

fn harness_of(stack: &str) -> (Harness, Arc<FakeProvider>) {
    let mut cluster_schema = ProviderSchema::default();
    cluster_schema.resources.insert("fake_thing".to_owned(), thing_schema());
    cluster_schema.data_sources.insert("fake_lookup".to_owned(), FakeProvider::lookup_schema());
    let mut late_schema = ProviderSchema {
        provider: Block::new().attr("endpoint", Attribute::required(AttrType::String)),
        ..ProviderSchema::default()
    };
    late_schema.resources.insert("late_thing".to_owned(), thing_schema());
    let late = Arc::new(FakeProvider::named("late", late_schema));
    let mut h = Harness::with_fake(FakeProvider::new(cluster_schema), stack);
    h.providers = Providers::new().with(h.fake.clone()).with(late.clone());
    (h, late)
}

/// The calls that talk to the cloud (or configure the client that does), in order.
fn io_calls(fake: &FakeProvider) -> Vec<CallKind> {
    fake.calls()
        .iter()
        .map(|c| c.kind)
        .filter(|k| !matches!(k, CallKind::Plan | CallKind::Validate))
        .collect()
}

fn endpoint(id: &str) -> Value {
    Value::object([("endpoint", Value::from(id))])
}

#[tokio::test(flavor = "current_thread")]
async fn a_provider_configured_from_a_resource_follows_its_lifecycle() {
    let (h, late) = harness();

    // The cluster does not exist: the plan cannot configure `late`, and needs not to.
    let plan = h.plan().await;
    assert_eq!(
        actions(&plan),
        [("fake_thing.cluster".to_owned(), Action::Create), ("late_thing.obj".to_owned(), Action::Create)]
    );
    assert!(late.configurations().is_empty(), "{:?}", late.configurations());

    // Apply creates the cluster, then configures `late` from it, then creates the object.
    h.apply_plan(&plan).await.unwrap();
    assert_eq!(late.configurations(), [endpoint("fake_thing.cluster#1")]);
    let kinds: Vec<CallKind> = io_calls(&late);
    assert_eq!(kinds, [CallKind::Configure, CallKind::Create]);
    assert!(late.cloud_get("late_thing.obj").is_some());

    // A new run: `late` is configured from the refreshed cluster before its object is read.
    late.forget_configuration();
    late.clear_calls();
    let plan = h.plan().await;
    assert!(actions(&plan).is_empty(), "{:?}", actions(&plan));
    let kinds: Vec<CallKind> = io_calls(&late);
    assert_eq!(kinds, [CallKind::Configure, CallKind::Read]);
    assert_eq!(late.configured(), Some(endpoint("fake_thing.cluster#1")));

    // Drift in the object is seen through the late provider.
    late.cloud_set("late_thing.obj", "size", Value::from(3));
    let plan = h.plan().await;
    assert_eq!(actions(&plan), [("late_thing.obj".to_owned(), Action::Update)]);
    assert_eq!(plan.drift.len(), 1);
    h.apply_plan(&plan).await.unwrap();

    // The cluster is replaced: the walk configures `late` again with the new cluster's id.
    std::fs::write(h.dir.path().join("main.hcl"), STACK.replace("\"c1\"", "\"c2\"")).unwrap();
    let plan = h.plan().await;
    assert_eq!(actions(&plan), [("fake_thing.cluster".to_owned(), Action::DeleteThenCreate)]);
    h.apply_plan(&plan).await.unwrap();
    assert_eq!(late.configured(), Some(endpoint("fake_thing.cluster#2")));

    // Destroy: `late` configured from what exists, its object deleted before the cluster.
    late.forget_configuration();
    h.fake.clear_calls();
    late.clear_calls();
    let (_, report) = h.destroy().await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(late.calls_of(CallKind::Delete), ["late_thing.obj"]);
    assert!(late.cloud_get("late_thing.obj").is_none() && h.fake.cloud_len() == 0);
    let deleted: Vec<String> = report.done.iter().map(|(a, _)| a.to_string()).collect();
    assert_eq!(deleted, ["late_thing.obj", "fake_thing.cluster"]);
}

#[tokio::test(flavor = "current_thread")]
async fn a_refused_late_configuration_fails_at_the_provider_block_and_skips_its_resources() {
    let (h, late) = harness();
    let plan = h.plan().await;
    late.refuse_configuration();
    let report = h.apply_plan(&plan).await.unwrap();
    let done: Vec<String> = report.done.iter().map(|(a, _)| a.to_string()).collect();
    assert_eq!(done, ["fake_thing.cluster"]);
    let not_done: Vec<String> = report.not_done.iter().map(|(a, _)| a.to_string()).collect();
    assert_eq!(not_done, ["late_thing.obj"]);
    let messages: Vec<&str> = report.diagnostics.iter().map(|d| d.summary.as_str()).collect();
    assert_eq!(messages, ["provider \"late\" could not be configured: the endpoint refused the credentials"]);
    assert!(late.calls_of(CallKind::Create).is_empty());
}

/// The block may refer to the resource through locals (`locals { kube =
/// yamldecode(cluster.kube_config_raw) }`, then `kube.host`): the same lifecycle.
#[tokio::test(flavor = "current_thread")]
async fn a_provider_configured_through_locals_is_late_too() {
    let stack = STACK.replace("endpoint = fake_thing.cluster.id", "endpoint = local.endpoint")
        + "\nlocals {\n  cluster  = fake_thing.cluster\n  endpoint = upper(local.cluster.id)\n}\n";
    let (h, late) = harness_of(&stack);
    let plan = h.plan().await;
    assert!(late.configurations().is_empty());
    h.apply_plan(&plan).await.unwrap();
    assert_eq!(late.configurations(), [endpoint("FAKE_THING.CLUSTER#1")]);
    late.forget_configuration();
    late.clear_calls();
    assert!(actions(&h.plan().await).is_empty());
    assert_eq!(io_calls(&late), [CallKind::Configure, CallKind::Read]);
    assert_eq!(late.configured(), Some(endpoint("FAKE_THING.CLUSTER#1")));
}

/// The block may refer to a data source (`data.azurerm_kubernetes_cluster.x.kube_config`):
/// it has no recorded value, so the provider is configured at its node of the plan's walk,
/// once the data source is read, and its objects are read back there before they are planned.
#[tokio::test(flavor = "current_thread")]
async fn a_provider_configured_from_a_data_source_is_configured_in_the_plans_walk() {
    let stack = STACK
        .replace("endpoint = fake_thing.cluster.id", "endpoint = data.fake_lookup.endpoint.value")
        + "\ndata \"fake_lookup\" \"endpoint\" {\n  input = fake_thing.cluster.id\n}\n";
    let (h, late) = harness_of(&stack);
    h.apply_plan(&h.plan().await).await.unwrap();
    assert_eq!(late.configurations(), [endpoint("fake_thing.cluster#1")]);
    // Data sources are not recorded: before the walk there is nothing to configure from.
    assert!(h.state().resources.keys().all(|a| a.block.mode == lanestack_model::Mode::Managed));

    late.forget_configuration();
    late.clear_calls();
    let plan = h.plan_with(lanestack_engine::plan::PlanOptions::default()).await.unwrap();
    assert!(actions(&plan).is_empty(), "{:?}", actions(&plan));
    assert_eq!(io_calls(&late), [CallKind::Configure, CallKind::Read]);
    // Drift found there is drift like any other.
    late.cloud_set("late_thing.obj", "size", Value::from(5));
    let plan = h.plan().await;
    assert_eq!(actions(&plan), [("late_thing.obj".to_owned(), Action::Update)]);
    assert_eq!(plan.drift.len(), 1);
}
