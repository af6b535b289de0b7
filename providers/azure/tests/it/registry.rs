//! `azure_container_registry` and `azure_role_assignment` (the kubelet's AcrPull on the
//! registry): create, no-op plan, in-place update, replacement, drift and delete.

use lanestack_model::{Action, Value};
use serde_json::json;

use crate::harness::{Cloud, SUB, actions, attr, quiet, rt};

const RG: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-lanes";
const ACR: &str = "2025-04-01";
const AUTH: &str = "2022-04-01";
/// AcrPull's role definition GUID (a built-in role).
const ACR_PULL: &str = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
const PRINCIPAL: &str = "11111111-2222-3333-4444-555555555555";

fn stack(sku: &str, admin: bool, principal: &str) -> String {
    format!(
        r#"
resource "azure_resource_group" "rg" {{
  name     = "rg-lanes"
  location = "westeurope"
}}

resource "azure_container_registry" "acr" {{
  name                = "laneslab"
  resource_group_name = azure_resource_group.rg.name
  location            = azure_resource_group.rg.location
  sku                 = "{sku}"
  admin_enabled       = {admin}
}}

resource "azure_role_assignment" "pull" {{
  scope              = azure_container_registry.acr.id
  role_definition_id = "/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{ACR_PULL}"
  principal_id       = "{principal}"
}}
"#
    )
}

fn registry_path() -> String {
    format!("{RG}/providers/Microsoft.ContainerRegistry/registries/laneslab")
}

fn no_changes(plan: &lanestack_engine::plan::Plan) {
    assert!(!plan.has_changes(), "{}", lanestack_engine::render::plan_text(plan, Default::default()));
}

const REGISTRY: &str = "azure_container_registry.acr";
const ROLE: &str = "azure_role_assignment.pull";

#[test]
fn registry_and_role_assignment_lifecycle() {
    rt().block_on(async {
        let mut cloud = Cloud::start(quiet()).await;
        cloud.write(&stack("Basic", false, PRINCIPAL));
        let plan = cloud.apply().await;
        assert_eq!(actions(&plan), [
                (REGISTRY.to_owned(), Action::Create),
                ("azure_resource_group.rg".to_owned(), Action::Create),
                (ROLE.to_owned(), Action::Create),
            ]);
        let state = cloud.state();
        assert_eq!(attr(&state, REGISTRY, "login_server"), Value::from("laneslab.azurecr.io"));
        let name = attr(&state, ROLE, "name").as_str().unwrap().to_owned();
        assert_eq!(name.len(), 36);
        let role_path = format!("{}/providers/Microsoft.Authorization/roleAssignments/{name}", registry_path());
        assert_eq!(attr(&state, ROLE, "id"), Value::from(role_path.as_str()));
        let (s, ra) = cloud.arm("GET", &role_path, AUTH, None).await;
        assert_eq!(s, 200);
        assert_eq!(ra["properties"]["scope"], json!(registry_path()));
        assert_eq!(ra["properties"]["principalType"], "ServicePrincipal");
        no_changes(&cloud.plan().await);

        // In place: the SKU and the admin user.
        cloud.write(&stack("Premium", true, PRINCIPAL));
        let plan = cloud.apply().await;
        assert_eq!(actions(&plan), [(REGISTRY.to_owned(), Action::Update)]);
        let (_, r) = cloud.arm("GET", &registry_path(), ACR, None).await;
        assert_eq!((r["sku"]["name"].as_str(), r["properties"]["adminUserEnabled"].as_bool()), (Some("Premium"), Some(true)));
        no_changes(&cloud.plan().await);

        // Replaced: another principal is another assignment (with another name).
        let other = "99999999-2222-3333-4444-555555555555";
        cloud.write(&stack("Premium", true, other));
        let plan = cloud.apply().await;
        assert_eq!(actions(&plan), [(ROLE.to_owned(), Action::DeleteThenCreate)]);
        assert_ne!(attr(&cloud.state(), ROLE, "name"), Value::from(name.as_str()));
        let (s, _) = cloud.arm("GET", &role_path, AUTH, None).await;
        assert_eq!(s, 404);
        no_changes(&cloud.plan().await);

        // Drift: the admin user switched off and the assignment deleted behind our back.
        let (s, _) = cloud
            .arm("PUT", &registry_path(), ACR, Some(json!({ "location": "westeurope", "sku": { "name": "Premium" }, "properties": { "adminUserEnabled": false } })))
            .await;
        assert_eq!(s, 200);
        let now = attr(&cloud.state(), ROLE, "id");
        let (s, _) = cloud.arm("DELETE", now.as_str().unwrap(), AUTH, None).await;
        assert_eq!(s, 200);
        let plan = cloud.plan().await;
        assert_eq!(actions(&plan), [(REGISTRY.to_owned(), Action::Update), (ROLE.to_owned(), Action::Create)]);
        assert!(cloud.apply_plan(&plan).await.succeeded());
        no_changes(&cloud.plan().await);

        // Deleting the registry deletes the assignment scoped to it.
        cloud.destroy().await;
        assert_eq!(cloud.emulator.object_count(), 0);
    });
}

#[test]
fn an_interrupted_role_assignment_is_found_again_by_its_name() {
    rt().block_on(async {
        let mut cloud = Cloud::start(quiet()).await;
        cloud.write(&stack("Basic", false, PRINCIPAL));
        let plan = cloud.plan().await;
        // The assignment's name is known at plan time, from scope, role and principal.
        let planned = plan.effective().find(|c| c.change.address.to_string() == ROLE).unwrap();
        let name = planned
            .change
            .after
            .as_ref()
            .and_then(|a| a.get(&lanestack_model::AttrPath::attr("name")))
            .cloned();
        assert!(name.as_ref().and_then(Value::as_str).is_some_and(|n| n.len() == 36), "{name:?}");
        cloud.apply_plan(&plan).await;
        assert_eq!(attr(&cloud.state(), ROLE, "name"), name.clone().unwrap());

        // Creates whose results were lost (the state gone with them): the same name is planned
        // again, so ARM answers for the existing assignment instead of refusing a duplicate
        // (409 RoleAssignmentExists), and nothing is created twice.
        std::fs::remove_dir_all(cloud.dir.path().join(".lanestack")).unwrap();
        let plan = cloud.apply().await;
        assert_eq!(
            actions(&plan),
            [
                (REGISTRY.to_owned(), Action::Create),
                ("azure_resource_group.rg".to_owned(), Action::Create),
                (ROLE.to_owned(), Action::Create),
            ]
        );
        assert_eq!(attr(&cloud.state(), ROLE, "name"), name.unwrap());
        let assignments = cloud
            .emulator
            .requests()
            .iter()
            .filter(|e| e.note.as_deref() == Some("created") && e.path.contains("roleAssignments"))
            .count();
        assert_eq!(assignments, 1);
    });
}

#[test]
fn unknown_skus_are_diagnosed_before_any_call() {
    let provider = lanestack_azure::AzureProvider::new();
    let config = lanestack_model::Value::from_json(&json!({ "sku": "Gold", "name": "lanes-lab" }));
    let problems = lanestack_model::Provider::validate(
        &provider,
        &"azure_container_registry.x".parse().unwrap(),
        &config,
    );
    assert_eq!(problems.len(), 2, "{problems:?}");
    let pool = lanestack_model::Value::from_json(&json!({ "enable_auto_scaling": true, "min_count": 1 }));
    let problems = lanestack_model::Provider::validate(
        &provider,
        &"azure_kubernetes_node_pool.x".parse().unwrap(),
        &pool,
    );
    assert_eq!(problems.len(), 1, "{problems:?}");
}
