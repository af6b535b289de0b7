//! Fault injection: transient failures, connection resets and throttling do not break an apply,
//! and never create anything twice.

use std::collections::BTreeMap;

use lanestack_emulator::{Bucket, EmulatorConfig, Faults, Throttling};

use lanestack_azure::client::RetryPolicy;

use crate::harness::{Cloud, quiet, rt};

/// With the resource group and the two vnets: the 50-resource apply of issue 4.
const SUBNETS: usize = 47;

fn stack() -> String {
    stack_of(SUBNETS)
}

fn stack_of(subnets: usize) -> String {
    let mut s = String::from(
        r#"
resource "azure_resource_group" "rg" {
  name     = "rg-many"
  location = "westeurope"
}

resource "azure_virtual_network" "big" {
  count               = 2
  name                = "big-${count.index}"
  resource_group_name = azure_resource_group.rg.name
  location            = azure_resource_group.rg.location
  address_space       = ["10.${count.index}.0.0/16"]
}
"#,
    );
    s.push_str(&format!(
        r#"
resource "azure_subnet" "s" {{
  count                = {subnets}
  name                 = "s-${{count.index}}"
  resource_group_name  = azure_resource_group.rg.name
  virtual_network_name = azure_virtual_network.big[count.index % 2].name
  address_prefixes     = ["10.${{count.index % 2}}.${{count.index}}.0/24"]
}}
"#
    ));
    s
}

#[test]
fn transient_failures_resets_and_throttling_create_everything_exactly_once() {
    rt().block_on(async {
        let config = EmulatorConfig {
            throttling: Some(Throttling {
                reads: Bucket { capacity: 10.0, refill_per_sec: 300.0 },
                writes: Bucket { capacity: 3.0, refill_per_sec: 200.0 },
            }),
            faults: Faults { transient_rate: 0.10, reset_rate: 0.05, seed: 42, ..Faults::default() },
            ..quiet()
        };
        let mut cloud = Cloud::start(config).await;
        cloud.write(&stack());
        let plan = cloud.apply().await;
        let total = 1 + 2 + SUBNETS;
        assert_eq!(plan.effective().count(), total);

        let log = cloud.emulator.requests();
        let mut created: BTreeMap<String, usize> = BTreeMap::new();
        for e in log.iter().filter(|e| e.note.as_deref() == Some("created")) {
            *created.entry(e.resource.clone().unwrap()).or_default() += 1;
        }
        assert_eq!(created.len(), total, "{created:#?}");
        assert!(created.values().all(|n| *n == 1), "{created:#?}");
        // The faults did happen.
        assert!(log.iter().any(|e| e.note.as_deref() == Some("transient")));
        assert!(log.iter().any(|e| e.note.as_deref() == Some("throttled")));
        assert!(log.iter().any(|e| e.status == 0), "no connection was reset");
        assert!(!cloud.plan().await.has_changes());
    });
}

/// Applies 100 subnets under small buckets. Returns how many requests were throttled and, when
/// the apply succeeded, how many times each object was created; `None` when it failed.
async fn throttled_apply(adaptive: bool) -> (usize, Option<BTreeMap<String, usize>>) {
    const MANY: usize = 100;
    let config = EmulatorConfig {
        throttling: Some(Throttling {
            reads: Bucket { capacity: 10.0, refill_per_sec: 100.0 },
            writes: Bucket { capacity: 5.0, refill_per_sec: 50.0 },
        }),
        ..quiet()
    };
    let mut cloud = Cloud::start_with(config, RetryPolicy { adaptive, ..RetryPolicy::fast() }).await;
    cloud.write(&stack_of(MANY));
    let plan = cloud.plan().await;
    assert_eq!(plan.effective().count(), 1 + 2 + MANY);
    let report = cloud.apply_plan(&plan).await;
    let log = cloud.emulator.requests();
    let throttled = log.iter().filter(|e| e.status == 429).count();
    if !report.succeeded() {
        return (throttled, None);
    }
    let mut created: BTreeMap<String, usize> = BTreeMap::new();
    for e in log.iter().filter(|e| e.note.as_deref() == Some("created")) {
        *created.entry(e.resource.clone().unwrap()).or_default() += 1;
    }
    (throttled, Some(created))
}

/// The most 429s an adaptive apply of 100 subnets may see under the small buckets above.
/// Measured: about 20 for the adaptive client; about 1,600 for the client that only retries,
/// which sometimes runs out of retries and fails the apply.
const THROTTLE_BOUND: usize = 200;

#[test]
fn an_apply_adapts_to_the_throttling_budget_and_is_refused_a_bounded_number_of_times() {
    rt().block_on(async {
        let (throttled, created) = throttled_apply(true).await;
        let created = created.expect("the adaptive apply failed");
        assert_eq!(created.len(), 1 + 2 + 100, "{created:#?}");
        assert!(created.values().all(|n| *n == 1), "{created:#?}");
        assert!(throttled <= THROTTLE_BOUND, "{throttled} requests throttled");
    });
}

#[test]
fn the_bound_on_throttles_is_one_a_client_that_only_retries_exceeds() {
    rt().block_on(async {
        let (throttled, _) = throttled_apply(false).await;
        assert!(throttled > THROTTLE_BOUND, "only {throttled} requests throttled");
    });
}
