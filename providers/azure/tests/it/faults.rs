//! Fault injection: transient failures and throttling do not break an apply, and never create
//! anything twice.

use std::collections::BTreeMap;

use lanestack_emulator::{Bucket, EmulatorConfig, Faults, Throttling};

use crate::harness::{Cloud, quiet, rt};

const SUBNETS: usize = 36;

fn stack() -> String {
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
  count                = {SUBNETS}
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
fn transient_failures_and_throttling_create_everything_exactly_once() {
    rt().block_on(async {
        let config = EmulatorConfig {
            throttling: Some(Throttling {
                reads: Bucket { capacity: 10.0, refill_per_sec: 300.0 },
                writes: Bucket { capacity: 3.0, refill_per_sec: 200.0 },
            }),
            faults: Faults { transient_rate: 0.10, seed: 42, fail_operations: Vec::new() },
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
        assert!(!cloud.plan().await.has_changes());
    });
}
