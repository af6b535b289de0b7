//! Every resource type through create, no-op plan, in-place update, replace, drift and delete.

use lanestack_emulator::EmulatorConfig;
use lanestack_model::{Action, Value};
use serde_json::json;

use crate::harness::{Cloud, SUB, actions, attr, quiet, rt};

/// The seed runbook's network and storage (§2–4), in miniature.
pub const STACK: &str = r#"
resource "azure_resource_group" "rg" {
  name     = "rg-lanes"
  location = "West Europe"
  tags     = { team = "lanes" }
}

resource "azure_virtual_network" "aks" {
  name                = "aks-vnet-1"
  resource_group_name = azure_resource_group.rg.name
  location            = azure_resource_group.rg.location
  address_space       = ["10.0.0.0/16"]
}

resource "azure_virtual_network" "anf" {
  name                = "anf-vnet"
  resource_group_name = azure_resource_group.rg.name
  location            = azure_resource_group.rg.location
  address_space       = ["10.1.0.0/16"]
}

resource "azure_subnet" "anf" {
  name                 = "ANF.sn"
  resource_group_name  = azure_resource_group.rg.name
  virtual_network_name = azure_virtual_network.anf.name
  address_prefixes     = ["10.1.1.0/24"]
  delegation {
    name = "netapp"
    service_delegation {
      name = "Microsoft.NetApp/volumes"
    }
  }
}

resource "azure_virtual_network_peering" "aks_to_anf" {
  name                      = "aks-vnet-name_to_anf"
  resource_group_name       = azure_resource_group.rg.name
  virtual_network_name      = azure_virtual_network.aks.name
  remote_virtual_network_id = azure_virtual_network.anf.id
}

resource "azure_netapp_account" "anf" {
  name                = "anf-account"
  resource_group_name = azure_resource_group.rg.name
  location            = azure_resource_group.rg.location
}

resource "azure_netapp_capacity_pool" "pool" {
  name                = "pool1"
  resource_group_name = azure_resource_group.rg.name
  account_name        = azure_netapp_account.anf.name
  location            = azure_resource_group.rg.location
  service_level       = "Premium"
  size_in_tb          = 4
}
"#;

const ALL: [&str; 7] = [
    "azure_netapp_account.anf",
    "azure_netapp_capacity_pool.pool",
    "azure_resource_group.rg",
    "azure_subnet.anf",
    "azure_virtual_network.aks",
    "azure_virtual_network.anf",
    "azure_virtual_network_peering.aks_to_anf",
];

fn all(action: Action) -> Vec<(String, Action)> {
    ALL.iter().map(|a| ((*a).to_owned(), action)).collect()
}

fn no_changes(plan: &lanestack_engine::plan::Plan) {
    assert!(!plan.has_changes(), "{}", lanestack_engine::render::plan_text(plan, Default::default()));
}

const RG: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-lanes";

#[test]
fn create_then_no_changes_even_from_a_new_process() {
    rt().block_on(async {
        let mut cloud = Cloud::start(quiet()).await;
        cloud.write(STACK);
        let plan = cloud.apply().await;
        assert_eq!(actions(&plan), all(Action::Create));
        let state = cloud.state();
        assert_eq!(
            attr(&state, "azure_subnet.anf", "id"),
            Value::from(format!("{RG}/providers/Microsoft.Network/virtualNetworks/anf-vnet/subnets/ANF.sn"))
        );
        assert_eq!(attr(&state, "azure_resource_group.rg", "location"), Value::from("West Europe"));
        assert_eq!(attr(&state, "azure_netapp_capacity_pool.pool", "size_in_tb"), Value::from(4));
        assert!(
            attr(&state, "azure_netapp_capacity_pool.pool", "pool_id")
                .as_str()
                .is_some_and(|s| s.len() == 36)
        );

        // The objects exist in ARM's shape.
        let (status, pool) = cloud
            .arm(
                "GET",
                &format!("{RG}/providers/Microsoft.NetApp/netAppAccounts/anf-account/capacityPools/pool1"),
                "2025-01-01",
                None,
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(pool["name"], "anf-account/pool1");
        assert_eq!(pool["properties"]["size"], json!(4u64 << 40));
        let (_, vnet) = cloud
            .arm(
                "GET",
                &format!("{RG}/providers/Microsoft.Network/virtualNetworks/anf-vnet"),
                "2024-05-01",
                None,
            )
            .await;
        assert_eq!(
            vnet["properties"]["subnets"][0]["properties"]["delegations"][0]["properties"]["actions"][1],
            "Microsoft.Network/virtualNetworks/subnets/join/action"
        );
        assert_eq!(vnet["location"], "westeurope");

        no_changes(&cloud.plan().await);
        let cloud = cloud.restart().await;
        no_changes(&cloud.plan().await);
    });
}

#[test]
fn attribute_changes_update_in_place() {
    rt().block_on(async {
        let mut cloud = Cloud::start(quiet()).await;
        cloud.write(STACK);
        cloud.apply().await;
        let pool_id = attr(&cloud.state(), "azure_netapp_capacity_pool.pool", "pool_id");
        let changed = STACK
            .replace(r#"tags     = { team = "lanes" }"#, r#"tags     = { team = "vision" }"#)
            .replace(r#"["10.0.0.0/16"]"#, r#"["10.0.0.0/16", "10.2.0.0/16"]"#)
            .replace(r#"["10.1.1.0/24"]"#, r#"["10.1.2.0/24"]"#)
            .replace("size_in_tb          = 4", "size_in_tb          = 6")
            .replace(
                "remote_virtual_network_id = azure_virtual_network.anf.id",
                "remote_virtual_network_id = azure_virtual_network.anf.id\n  allow_forwarded_traffic   = true",
            );
        cloud.write(&changed);
        let plan = cloud.apply().await;
        assert_eq!(
            actions(&plan),
            [
                ("azure_netapp_capacity_pool.pool".to_owned(), Action::Update),
                ("azure_resource_group.rg".to_owned(), Action::Update),
                ("azure_subnet.anf".to_owned(), Action::Update),
                ("azure_virtual_network.aks".to_owned(), Action::Update),
                ("azure_virtual_network_peering.aks_to_anf".to_owned(), Action::Update),
            ]
        );
        let state = cloud.state();
        assert_eq!(attr(&state, "azure_netapp_capacity_pool.pool", "size_in_tb"), Value::from(6));
        assert_eq!(attr(&state, "azure_netapp_capacity_pool.pool", "pool_id"), pool_id);
        let (_, pool) = cloud
            .arm("GET", &format!("{RG}/providers/Microsoft.NetApp/netAppAccounts/anf-account/capacityPools/pool1"), "2025-01-01", None)
            .await;
        assert_eq!(pool["properties"]["size"], json!(6u64 << 40));
        // A vnet update keeps the subnets other resources own.
        let (_, vnet) = cloud.arm("GET", &format!("{RG}/providers/Microsoft.Network/virtualNetworks/aks-vnet-1"), "2024-05-01", None).await;
        assert_eq!(vnet["properties"]["virtualNetworkPeerings"].as_array().unwrap().len(), 1);
        no_changes(&cloud.plan().await);
    });
}

#[test]
fn force_new_changes_replace() {
    rt().block_on(async {
        let mut cloud = Cloud::start(quiet()).await;
        cloud.write(STACK);
        cloud.apply().await;
        let pool_id = attr(&cloud.state(), "azure_netapp_capacity_pool.pool", "pool_id");
        cloud.write(
            &STACK.replace(r#"service_level       = "Premium""#, r#"service_level       = "Standard""#),
        );
        let plan = cloud.apply().await;
        assert_eq!(
            actions(&plan),
            [("azure_netapp_capacity_pool.pool".to_owned(), Action::DeleteThenCreate)]
        );
        let state = cloud.state();
        assert_eq!(attr(&state, "azure_netapp_capacity_pool.pool", "service_level"), Value::from("Standard"));
        assert_ne!(attr(&state, "azure_netapp_capacity_pool.pool", "pool_id"), pool_id);
        no_changes(&cloud.plan().await);

        // Renaming the subnet replaces it; the vnet is untouched.
        cloud.write(
            &STACK
                .replace(r#"service_level       = "Premium""#, r#"service_level       = "Standard""#)
                .replace("ANF.sn", "ANF2.sn"),
        );
        let plan = cloud.apply().await;
        assert_eq!(actions(&plan), [("azure_subnet.anf".to_owned(), Action::DeleteThenCreate)]);
        let (status, _) = cloud
            .arm(
                "GET",
                &format!("{RG}/providers/Microsoft.Network/virtualNetworks/anf-vnet/subnets/ANF.sn"),
                "2024-05-01",
                None,
            )
            .await;
        assert_eq!(status, 404);
    });
}

#[test]
fn drift_behind_our_back_is_planned_back() {
    rt().block_on(async {
        let mut cloud = Cloud::start(quiet()).await;
        cloud.write(STACK);
        cloud.apply().await;
        // Someone deletes the subnet and the pool, widens a vnet and retags the group.
        let vnet = format!("{RG}/providers/Microsoft.Network/virtualNetworks/aks-vnet-1");
        let (s, _) = cloud.arm("DELETE", &format!("{RG}/providers/Microsoft.Network/virtualNetworks/anf-vnet/subnets/ANF.sn"), "2024-05-01", None).await;
        assert_eq!(s, 202);
        let (s, _) = cloud.arm("DELETE", &format!("{RG}/providers/Microsoft.NetApp/netAppAccounts/anf-account/capacityPools/pool1"), "2025-01-01", None).await;
        assert_eq!(s, 202);
        let (s, _) = cloud
            .arm("PUT", &vnet, "2024-05-01", Some(json!({ "location": "westeurope", "properties": { "addressSpace": { "addressPrefixes": ["10.9.0.0/16"] } } })))
            .await;
        assert_eq!(s, 200);
        let (s, _) = cloud.arm("PATCH", RG, "2024-03-01", Some(json!({ "tags": { "team": "someone-else" } }))).await;
        assert_eq!(s, 200);

        let plan = cloud.plan().await;
        assert_eq!(
            actions(&plan),
            [
                ("azure_netapp_capacity_pool.pool".to_owned(), Action::Create),
                ("azure_resource_group.rg".to_owned(), Action::Update),
                ("azure_subnet.anf".to_owned(), Action::Create),
                ("azure_virtual_network.aks".to_owned(), Action::Update),
            ]
        );
        cloud.apply_plan(&plan).await;
        no_changes(&cloud.plan().await);
    });
}

#[test]
fn destroy_deletes_everything() {
    rt().block_on(async {
        let mut cloud = Cloud::start(quiet()).await;
        cloud.write(STACK);
        cloud.apply().await;
        let plan = cloud.destroy().await;
        assert_eq!(actions(&plan), all(Action::Delete));
        assert_eq!(cloud.emulator.object_count(), 0);
        assert!(cloud.state().resources.is_empty());
        let _ = SUB;
    });
}

#[test]
fn over_https_trusting_the_emulators_ca() {
    rt().block_on(async {
        let mut cloud = Cloud::start(EmulatorConfig { https: true, ..quiet() }).await;
        assert!(cloud.emulator.endpoint().starts_with("https://"));
        cloud.write(STACK);
        assert_eq!(actions(&cloud.apply().await), all(Action::Create));
        no_changes(&cloud.plan().await);
        let (status, _) = cloud.arm("GET", RG, "2024-03-01", None).await;
        assert_eq!(status, 200);
        cloud.destroy().await;
        assert_eq!(cloud.emulator.object_count(), 0);
    });
}
