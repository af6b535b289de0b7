//! `azure_netapp_volume`: the seed's service-level change (§13) is a move to another pool
//! through the poolChange action — an update, never a replacement.

use lanestack_model::{Action, Value};
use serde_json::json;

use crate::harness::{Cloud, actions, attr, quiet, rt};
use crate::lifecycle::STACK;

const RG: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-lanes";
const ACCOUNT: &str = "/providers/Microsoft.NetApp/netAppAccounts/anf-account";

fn stack(pool: &str, quota: u32) -> String {
    format!(
        r#"{STACK}
resource "azure_netapp_capacity_pool" "standard" {{
  name                = "standard"
  resource_group_name = azure_resource_group.rg.name
  account_name        = azure_netapp_account.anf.name
  location            = azure_resource_group.rg.location
  service_level       = "Standard"
  size_in_tb          = 4
}}

resource "azure_netapp_volume" "data" {{
  name                = "tusimple"
  resource_group_name = azure_resource_group.rg.name
  account_name        = azure_netapp_account.anf.name
  pool_name           = azure_netapp_capacity_pool.{pool}.name
  location            = azure_resource_group.rg.location
  volume_path         = "tusimple"
  subnet_id           = azure_subnet.anf.id
  storage_quota_in_gb = {quota}
}}
"#
    )
}

fn volume_path(pool: &str) -> String {
    format!("{RG}{ACCOUNT}/capacityPools/{pool}/volumes/tusimple")
}

fn no_changes(plan: &lanestack_engine::plan::Plan) {
    assert!(!plan.has_changes(), "{}", lanestack_engine::render::plan_text(plan, Default::default()));
}

fn only(address: &str, action: Action) -> Vec<(String, Action)> {
    vec![(address.to_owned(), action)]
}

#[test]
fn volume_create_update_drift_and_delete() {
    rt().block_on(async {
        let mut cloud = Cloud::start(quiet()).await;
        cloud.write(&stack("standard", 100));
        cloud.apply().await;
        let state = cloud.state();
        assert_eq!(attr(&state, "azure_netapp_volume.data", "id"), Value::from(volume_path("standard")));
        assert_eq!(attr(&state, "azure_netapp_volume.data", "service_level"), Value::from("Standard"));
        assert_eq!(attr(&state, "azure_netapp_volume.data", "storage_quota_in_gb"), Value::from(100));
        let (_, v) = cloud.arm("GET", &volume_path("standard"), "2025-01-01", None).await;
        assert_eq!(v["name"], "anf-account/standard/tusimple");
        assert_eq!(v["properties"]["usageThreshold"], json!(100u64 << 30));
        assert_eq!(v["properties"]["protocolTypes"], json!(["NFSv3"]));
        no_changes(&cloud.plan().await);

        // In place: the quota.
        cloud.write(&stack("standard", 200));
        let plan = cloud.apply().await;
        assert_eq!(actions(&plan), only("azure_netapp_volume.data", Action::Update));
        let (_, v) = cloud.arm("GET", &volume_path("standard"), "2025-01-01", None).await;
        assert_eq!(v["properties"]["usageThreshold"], json!(200u64 << 30));
        no_changes(&cloud.plan().await);

        // Replaced: the file path.
        let fs = attr(&cloud.state(), "azure_netapp_volume.data", "file_system_id");
        cloud.write(
            &stack("standard", 200)
                .replace(r#"volume_path         = "tusimple""#, r#"volume_path         = "tusimple2""#),
        );
        let plan = cloud.apply().await;
        assert_eq!(actions(&plan), only("azure_netapp_volume.data", Action::DeleteThenCreate));
        assert_ne!(attr(&cloud.state(), "azure_netapp_volume.data", "file_system_id"), fs);
        no_changes(&cloud.plan().await);

        // Drift: the quota changed behind our back is planned back.
        let (s, _) = cloud
            .arm(
                "PATCH",
                &volume_path("standard"),
                "2025-01-01",
                Some(json!({ "properties": { "usageThreshold": 300u64 << 30 } })),
            )
            .await;
        assert_eq!(s, 202);
        let plan = cloud.plan().await;
        assert_eq!(actions(&plan), only("azure_netapp_volume.data", Action::Update));
        assert!(!plan.drift.is_empty());
        cloud.apply_plan(&plan).await;
        no_changes(&cloud.plan().await);

        // Delete: the volume goes, its pool stays.
        let without = stack("standard", 200);
        cloud.write(without.split("resource \"azure_netapp_volume\"").next().unwrap());
        let plan = cloud.apply().await;
        assert_eq!(actions(&plan), only("azure_netapp_volume.data", Action::Delete));
        let (s, _) = cloud.arm("GET", &volume_path("standard"), "2025-01-01", None).await;
        assert_eq!(s, 404);
    });
}

#[test]
fn standard_to_premium_is_a_pool_change_never_a_replacement() {
    rt().block_on(async {
        let mut cloud = Cloud::start(quiet()).await;
        cloud.write(&stack("standard", 100));
        cloud.apply().await;
        let before = cloud.state();
        let fs = attr(&before, "azure_netapp_volume.data", "file_system_id");
        let seen = cloud.emulator.requests().len();

        // The seed's §13: the volume moves from the Standard pool to the Premium one.
        cloud.write(&stack("pool", 100));
        let plan = cloud.plan().await;
        assert_eq!(actions(&plan), only("azure_netapp_volume.data", Action::Update));
        let report = cloud.apply_plan(&plan).await;
        assert!(report.succeeded(), "{report:?}");

        let log: Vec<_> = cloud.emulator.requests().into_iter().skip(seen).collect();
        let calls: Vec<String> = log
            .iter()
            .filter(|e| e.method != "GET" && !e.path.ends_with("/oauth2/v2.0/token"))
            .map(|e| format!("{} {}", e.method, e.path))
            .collect();
        assert_eq!(
            calls,
            [
                format!("POST {}/poolChange", volume_path("standard")),
                format!("PATCH {}", volume_path("pool1")),
            ],
            "{log:#?}"
        );
        assert!(log.iter().all(|e| e.method != "DELETE" && e.note.as_deref() != Some("created")));

        // Same volume (name, file system, data), now under the Premium pool's path.
        let state = cloud.state();
        assert_eq!(attr(&state, "azure_netapp_volume.data", "name"), Value::from("tusimple"));
        assert_eq!(attr(&state, "azure_netapp_volume.data", "file_system_id"), fs);
        assert_eq!(attr(&state, "azure_netapp_volume.data", "service_level"), Value::from("Premium"));
        assert_eq!(attr(&state, "azure_netapp_volume.data", "id"), Value::from(volume_path("pool1")));
        let (s, _) = cloud.arm("GET", &volume_path("standard"), "2025-01-01", None).await;
        assert_eq!(s, 404);
        let (s, v) = cloud.arm("GET", &volume_path("pool1"), "2025-01-01", None).await;
        assert_eq!((s, v["properties"]["serviceLevel"].as_str()), (200, Some("Premium")));
        no_changes(&cloud.plan().await);

        // And back, with the service level written out: still an update.
        cloud.write(&stack("standard", 100).replace(
            "storage_quota_in_gb = 100",
            "storage_quota_in_gb = 100\n  service_level       = \"Standard\"",
        ));
        assert_eq!(actions(&cloud.apply().await), only("azure_netapp_volume.data", Action::Update));
        no_changes(&cloud.plan().await);
        cloud.destroy().await;
        assert_eq!(cloud.emulator.object_count(), 0);
    });
}

#[test]
fn a_volume_needs_a_subnet_delegated_to_netapp() {
    rt().block_on(async {
        let mut cloud = Cloud::start(quiet()).await;
        let undelegated = format!(
            "{}\nresource \"azure_subnet\" \"plain\" {{\n  name = \"plain\"\n  resource_group_name = azure_resource_group.rg.name\n  virtual_network_name = azure_virtual_network.anf.name\n  address_prefixes = [\"10.1.9.0/24\"]\n}}\n",
            stack("standard", 100).replace("subnet_id           = azure_subnet.anf.id", "subnet_id           = azure_subnet.plain.id")
        );
        cloud.write(&undelegated);
        let plan = cloud.plan().await;
        let report = cloud.apply_plan(&plan).await;
        assert_eq!(report.failed.len(), 1, "{report:?}");
        assert!(report.failed[0].2.contains("Microsoft.NetApp/volumes"), "{report:?}");
    });
}

#[test]
fn a_volume_moved_behind_our_back_is_moved_back() {
    rt().block_on(async {
        let mut cloud = Cloud::start(quiet()).await;
        cloud.write(&stack("standard", 100));
        cloud.apply().await;
        let fs = attr(&cloud.state(), "azure_netapp_volume.data", "file_system_id");
        let premium = format!("{RG}{ACCOUNT}/capacityPools/pool1");
        let (s, _) = cloud
            .arm(
                "POST",
                &format!("{}/poolChange", volume_path("standard")),
                "2025-01-01",
                Some(json!({ "newPoolResourceId": premium })),
            )
            .await;
        assert_eq!(s, 202);

        // Refresh finds it in the other pool: the plan moves it back, it creates nothing.
        let plan = cloud.plan().await;
        assert_eq!(actions(&plan), only("azure_netapp_volume.data", Action::Update));
        assert!(plan.drift.iter().any(|d| d.live.is_some()), "{:?}", plan.drift);
        assert!(cloud.apply_plan(&plan).await.succeeded());
        let state = cloud.state();
        assert_eq!(attr(&state, "azure_netapp_volume.data", "id"), Value::from(volume_path("standard")));
        assert_eq!(attr(&state, "azure_netapp_volume.data", "file_system_id"), fs);
        no_changes(&cloud.plan().await);
    });
}

#[test]
fn a_volume_moves_out_of_a_pool_removed_in_the_same_apply() {
    rt().block_on(async {
        let mut cloud = Cloud::start(quiet()).await;
        cloud.write(&stack("standard", 100));
        cloud.apply().await;
        let moved = stack("pool", 100);
        let start = moved.find("resource \"azure_netapp_capacity_pool\" \"standard\"").unwrap();
        let end = moved.find("resource \"azure_netapp_volume\"").unwrap();
        cloud.write(&format!("{}{}", &moved[..start], &moved[end..]));
        let plan = cloud.plan().await;
        assert_eq!(
            actions(&plan),
            [
                ("azure_netapp_capacity_pool.standard".to_owned(), Action::Delete),
                ("azure_netapp_volume.data".to_owned(), Action::Update),
            ]
        );
        let report = cloud.apply_plan(&plan).await;
        assert!(report.succeeded(), "{report:?}");
    });
}
