//! `azure_kubernetes_cluster` and `azure_kubernetes_node_pool` (the seed's §1): long
//! provisioning, the user kubeconfig, in-place upgrades and scaling, replacement on a DNS
//! prefix or VM size, the autoscaler's node count, and the delegated-subnet rule.

use lanestack_model::{Action, Value};
use serde_json::json;

use crate::harness::{Cloud, actions, attr, quiet, rt};
use crate::lifecycle::STACK;

const RG: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-lanes";
const AKS: &str = "2025-05-01";

fn cluster_path() -> String {
    format!("{RG}/providers/Microsoft.ContainerService/managedClusters/aks-lanes")
}

fn subnet_id() -> String {
    format!("{RG}/providers/Microsoft.Network/virtualNetworks/aks-vnet-1/subnets/nodes")
}

/// The cluster on the AKS vnet's node subnet (or on `subnet`).
fn stack_on(subnet: &str, version: &str, prefix: &str, count: u32) -> String {
    format!(
        r#"{STACK}
resource "azure_subnet" "nodes" {{
  name                 = "nodes"
  resource_group_name  = azure_resource_group.rg.name
  virtual_network_name = azure_virtual_network.aks.name
  address_prefixes     = ["10.0.1.0/24"]
}}

resource "azure_kubernetes_cluster" "aks" {{
  name                = "aks-lanes"
  resource_group_name = azure_resource_group.rg.name
  location            = azure_resource_group.rg.location
  dns_prefix          = "{prefix}"
  kubernetes_version  = "{version}"

  default_node_pool {{
    name           = "agentpool"
    vm_size        = "Standard_DS2_v2"
    node_count     = {count}
    vnet_subnet_id = azure_subnet.{subnet}.id
  }}

  identity {{
    type = "SystemAssigned"
  }}
}}
"#
    )
}

fn stack(version: &str, prefix: &str, count: u32) -> String {
    stack_on("nodes", version, prefix, count)
}

fn with_pool(base: &str, vm: &str, count: u32, autoscale: bool) -> String {
    let scaling = if autoscale { "enable_auto_scaling = true\n  min_count = 1\n  max_count = 6" } else { "" };
    format!(
        r#"{base}
resource "azure_kubernetes_node_pool" "gpu" {{
  name                  = "gpupool"
  kubernetes_cluster_id = azure_kubernetes_cluster.aks.id
  vm_size               = "{vm}"
  node_count            = {count}
  vnet_subnet_id        = azure_subnet.nodes.id
  {scaling}
}}
"#
    )
}

fn no_changes(plan: &lanestack_engine::plan::Plan) {
    assert!(!plan.has_changes(), "{}", lanestack_engine::render::plan_text(plan, Default::default()));
}

fn only(address: &str, action: Action) -> Vec<(String, Action)> {
    vec![(address.to_owned(), action)]
}

const CLUSTER: &str = "azure_kubernetes_cluster.aks";
const POOL: &str = "azure_kubernetes_node_pool.gpu";

#[test]
fn cluster_lifecycle_with_its_kubeconfig() {
    rt().block_on(async {
        let mut cloud = Cloud::start(quiet()).await;
        cloud.write(&stack("1.31", "lanes", 3));
        cloud.apply().await;
        // Provisioning took several polls of its operation.
        let polls = cloud
            .emulator
            .requests()
            .iter()
            .filter(|e| e.method == "GET" && e.path.contains("/Microsoft.ContainerService/locations/"))
            .count();
        assert!(polls >= 3, "{polls}");

        let state = cloud.state();
        let fqdn = attr(&state, CLUSTER, "fqdn").as_str().unwrap().to_owned();
        assert!(fqdn.starts_with("lanes-") && fqdn.ends_with(".hcp.westeurope.azmk8s.io"), "{fqdn}");
        assert_eq!(
            attr(&state, CLUSTER, "node_resource_group"),
            Value::from("MC_rg-lanes_aks-lanes_westeurope")
        );
        assert_eq!(attr(&state, CLUSTER, "kubelet_identity_object_id").as_str().map(str::len), Some(36));
        let kubeconfig = attr(&state, CLUSTER, "kube_config_raw");
        assert!(matches!(kubeconfig, Value::Sensitive(_)), "the kubeconfig is not marked sensitive");
        let kubeconfig = kubeconfig.unmark();
        let kubeconfig = kubeconfig.as_str().unwrap();
        // The server is the cluster's Kubernetes API on the emulator.
        let server = cloud.emulator.kubernetes_server(&cluster_path());
        assert!(kubeconfig.contains(&format!("server: {server}\n")), "{kubeconfig}");
        let first_kubeconfig = kubeconfig.to_owned();
        assert!(kubeconfig.contains("user: clusterUser_rg-lanes_aks-lanes"));
        let (_, c) = cloud.arm("GET", &cluster_path(), AKS, None).await;
        assert_eq!(c["properties"]["agentPoolProfiles"][0]["name"], "agentpool");
        assert_eq!(c["properties"]["agentPoolProfiles"][0]["count"], 3);
        assert_eq!(c["identity"]["type"], "SystemAssigned");
        no_changes(&cloud.plan().await);

        // In place: the Kubernetes version and the system pool's node count.
        cloud.write(&stack("1.32", "lanes", 4));
        let plan = cloud.apply().await;
        assert_eq!(actions(&plan), only(CLUSTER, Action::Update));
        let (_, c) = cloud.arm("GET", &cluster_path(), AKS, None).await;
        assert_eq!(c["properties"]["kubernetesVersion"], "1.32");
        assert_eq!(c["properties"]["agentPoolProfiles"][0]["count"], 4);
        assert_eq!(attr(&cloud.state(), CLUSTER, "fqdn"), Value::from(fqdn.as_str()));
        no_changes(&cloud.plan().await);

        // Drift: someone scales the system pool; the plan scales it back.
        let (s, _) = cloud
            .arm(
                "PUT",
                &format!("{}/agentPools/agentpool", cluster_path()),
                AKS,
                Some(json!({ "properties": {
                    "count": 6, "vmSize": "Standard_DS2_v2", "mode": "System", "vnetSubnetID": subnet_id(),
                } })),
            )
            .await;
        assert_eq!(s, 200);
        let plan = cloud.plan().await;
        assert_eq!(actions(&plan), only(CLUSTER, Action::Update));
        assert!(cloud.apply_plan(&plan).await.succeeded());
        no_changes(&cloud.plan().await);

        // Replaced: the DNS prefix.
        cloud.write(&stack("1.32", "lanes2", 4));
        let plan = cloud.apply().await;
        assert_eq!(actions(&plan), only(CLUSTER, Action::DeleteThenCreate));
        let text = lanestack_engine::render::plan_text(&plan, Default::default());
        assert!(text.contains("kube_config_raw") && !text.contains("clusterUser_"), "{text}");
        let state = cloud.state();
        let new_fqdn = attr(&state, CLUSTER, "fqdn");
        assert!(new_fqdn.as_str().unwrap().starts_with("lanes2-"));
        let kubeconfig = attr(&state, CLUSTER, "kube_config_raw");
        // The new cluster's kubeconfig: the same server (same id), a new token.
        let kubeconfig = kubeconfig.unmark();
        let kubeconfig = kubeconfig.as_str().unwrap();
        assert!(kubeconfig.contains(&cloud.emulator.kubernetes_server(&cluster_path())), "{kubeconfig}");
        assert_ne!(kubeconfig, first_kubeconfig);
        no_changes(&cloud.plan().await);

        cloud.destroy().await;
        assert_eq!(cloud.emulator.object_count(), 0);
    });
}

#[test]
fn nodes_cannot_go_on_a_subnet_delegated_to_netapp() {
    rt().block_on(async {
        let mut cloud = Cloud::start(quiet()).await;
        cloud.write(&stack_on("anf", "1.31", "lanes", 3));
        let plan = cloud.plan().await;
        let report = cloud.apply_plan(&plan).await;
        assert_eq!(report.failed.len(), 1, "{report:?}");
        assert_eq!(report.failed[0].0.to_string(), CLUSTER);
        assert!(report.failed[0].2.contains("SubnetIsDelegated"), "{report:?}");
        // Nothing was left behind half-created: the next plan still creates the cluster.
        let plan = cloud.plan().await;
        assert_eq!(actions(&plan), only(CLUSTER, Action::Create));
    });
}

#[test]
fn node_pool_scales_in_place_and_is_replaced_for_a_new_vm_size() {
    rt().block_on(async {
        let mut cloud = Cloud::start(quiet()).await;
        let base = stack("1.31", "lanes", 3);
        cloud.write(&with_pool(&base, "Standard_NC6s_v3", 3, false));
        cloud.apply().await;
        let state = cloud.state();
        assert_eq!(attr(&state, POOL, "node_count"), Value::from(3));
        assert_eq!(attr(&state, POOL, "id"), Value::from(format!("{}/agentPools/gpupool", cluster_path())));
        let (_, c) = cloud.arm("GET", &cluster_path(), AKS, None).await;
        assert_eq!(c["properties"]["agentPoolProfiles"].as_array().unwrap().len(), 2);
        no_changes(&cloud.plan().await);

        cloud.write(&with_pool(&base, "Standard_NC6s_v3", 4, false));
        assert_eq!(actions(&cloud.apply().await), only(POOL, Action::Update));
        no_changes(&cloud.plan().await);

        cloud.write(&with_pool(&base, "Standard_NC12s_v3", 4, false));
        assert_eq!(actions(&cloud.apply().await), only(POOL, Action::DeleteThenCreate));
        let (_, p) = cloud.arm("GET", &format!("{}/agentPools/gpupool", cluster_path()), AKS, None).await;
        assert_eq!(p["properties"]["vmSize"], "Standard_NC12s_v3");
        no_changes(&cloud.plan().await);

        // Replacing the cluster deletes its pools with it. The cluster's id is computed from its
        // names, so it is the same after the replacement and nothing tells the node pool: the
        // pool is found gone by the next plan and created again (Terraform's azurerm behaves the
        // same; lanestack has no replace_triggered_by yet).
        let replaced = stack("1.31", "lanes2", 3);
        cloud.write(&with_pool(&replaced, "Standard_NC12s_v3", 4, false));
        let plan = cloud.apply().await;
        assert_eq!(actions(&plan), only(CLUSTER, Action::DeleteThenCreate));
        let plan = cloud.plan().await;
        assert_eq!(actions(&plan), only(POOL, Action::Create));
        assert!(cloud.apply_plan(&plan).await.succeeded());
        no_changes(&cloud.plan().await);
        let base = replaced;

        // Removing the pool deletes it and leaves the cluster.
        cloud.write(&base);
        assert_eq!(actions(&cloud.apply().await), only(POOL, Action::Delete));
        let (_, c) = cloud.arm("GET", &cluster_path(), AKS, None).await;
        assert_eq!(c["properties"]["agentPoolProfiles"].as_array().unwrap().len(), 1);
    });
}

#[test]
fn the_autoscaler_owns_the_node_count() {
    rt().block_on(async {
        let mut cloud = Cloud::start(quiet()).await;
        let base = stack("1.31", "lanes", 3);
        let scale_behind_our_back = |count: u32, auto: bool| {
            let mut props = json!({
                "count": count, "vmSize": "Standard_NC6s_v3", "mode": "User", "enableAutoScaling": auto,
                "vnetSubnetID": subnet_id(),
            });
            if auto {
                props["minCount"] = json!(1);
                props["maxCount"] = json!(6);
            }
            json!({ "properties": props })
        };
        let pool = format!("{}/agentPools/gpupool", cluster_path());

        // Autoscaling on: the autoscaler going from 3 to 5 nodes is not a change.
        cloud.write(&with_pool(&base, "Standard_NC6s_v3", 3, true));
        cloud.apply().await;
        let (s, _) = cloud.arm("PUT", &pool, AKS, Some(scale_behind_our_back(5, true))).await;
        assert_eq!(s, 200);
        no_changes(&cloud.plan().await);
        assert_eq!(attr(&cloud.state(), POOL, "node_count"), Value::from(3));

        // Autoscaling off: a count changed behind our back is planned back.
        cloud.write(&with_pool(&base, "Standard_NC6s_v3", 3, false));
        cloud.apply().await;
        no_changes(&cloud.plan().await);
        let (s, _) = cloud.arm("PUT", &pool, AKS, Some(scale_behind_our_back(5, false))).await;
        assert_eq!(s, 200);
        let plan = cloud.plan().await;
        assert_eq!(actions(&plan), only(POOL, Action::Update));
        assert!(cloud.apply_plan(&plan).await.succeeded());
        let (_, p) = cloud.arm("GET", &pool, AKS, None).await;
        assert_eq!(p["properties"]["count"], 3);
    });
}

#[test]
fn a_node_count_the_stack_sets_changed_behind_our_back_is_reported_as_drift() {
    rt().block_on(async {
        let mut cloud = Cloud::start(quiet()).await;
        cloud.write(&with_pool(&stack("1.31", "lanes", 3), "Standard_NC6s_v3", 3, false));
        cloud.apply().await;
        let body = json!({ "properties": {
            "count": 5, "vmSize": "Standard_NC6s_v3", "mode": "User", "vnetSubnetID": subnet_id(),
        } });
        let (s, _) =
            cloud.arm("PUT", &format!("{}/agentPools/gpupool", cluster_path()), AKS, Some(body)).await;
        assert_eq!(s, 200);
        let plan = cloud.plan().await;
        assert_eq!(actions(&plan), only(POOL, Action::Update));
        assert!(plan.drift.iter().any(|d| d.address.to_string() == POOL), "{:?}", plan.drift);
    });
}

#[test]
fn the_kubelet_pulls_from_the_registry_and_nothing_changes_after_a_restart() {
    rt().block_on(async {
        let mut cloud = Cloud::start(quiet()).await;
        let stack = format!(
            r#"{}
resource "azure_container_registry" "acr" {{
  name                = "laneslab"
  resource_group_name = azure_resource_group.rg.name
  location            = azure_resource_group.rg.location
  sku                 = "Standard"
}}

resource "azure_role_assignment" "kubelet_pull" {{
  scope              = azure_container_registry.acr.id
  role_definition_id = "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d"
  principal_id       = azure_kubernetes_cluster.aks.kubelet_identity_object_id
}}
"#,
            with_pool(&stack("1.31", "lanes", 3), "Standard_NC6s_v3", 3, true)
        );
        cloud.write(&stack);
        cloud.apply().await;
        let state = cloud.state();
        assert_eq!(
            attr(&state, "azure_role_assignment.kubelet_pull", "principal_id"),
            attr(&state, CLUSTER, "kubelet_identity_object_id")
        );
        no_changes(&cloud.plan().await);
        // A new emulator process on the same data and a new provider: still no changes (the
        // kubeconfig read again is the same).
        let cloud = cloud.restart().await;
        no_changes(&cloud.plan().await);
        cloud.destroy().await;
        assert_eq!(cloud.emulator.object_count(), 0);
    });
}

#[test]
fn a_cluster_whose_provisioning_failed_is_planned_again_never_forgotten() {
    rt().block_on(async {
        let config = lanestack_emulator::EmulatorConfig {
            faults: lanestack_emulator::Faults {
                fail_operations: vec!["aks-lanes".into()],
                ..Default::default()
            },
            ..quiet()
        };
        let mut cloud = Cloud::start(config).await;
        cloud.write(&stack("1.31", "lanes", 3));
        let plan = cloud.plan().await;
        let report = cloud.apply_plan(&plan).await;
        assert_eq!(report.failed.len(), 1, "{report:?}");
        assert!(report.failed[0].2.contains("Failed"), "{report:?}");
        // The failed cluster exists in ARM (provisioningState Failed) and in state, tainted: the
        // next plan replaces it.
        let plan = cloud.plan().await;
        assert_eq!(actions(&plan), only(CLUSTER, Action::DeleteThenCreate));
        assert!(cloud.apply_plan(&plan).await.succeeded());
        no_changes(&cloud.plan().await);
    });
}

/// Without a node subnet AKS makes its own network, `aks-vnet-<digits>` with `aks-subnet`, in
/// the node resource group: the cluster exposes it, the runbook's ANF subnet goes into it, and
/// it goes away with the cluster.
#[test]
fn a_cluster_without_a_node_subnet_exposes_the_network_aks_made() {
    rt().block_on(async {
        let mut cloud = Cloud::start(quiet()).await;
        let stack = format!(
            r#"{STACK}
resource "azure_kubernetes_cluster" "aks" {{
  name                = "aks-lanes"
  resource_group_name = azure_resource_group.rg.name
  location            = azure_resource_group.rg.location
  dns_prefix          = "lanes"
  kubernetes_version  = "1.31"

  default_node_pool {{
    name       = "agentpool"
    vm_size    = "Standard_DS2_v2"
    node_count = 3
  }}

  identity {{
    type = "SystemAssigned"
  }}
}}

resource "azure_subnet" "anf_in_aks_vnet" {{
  name                 = "ANF.sn"
  resource_group_name  = azure_kubernetes_cluster.aks.node_resource_group
  virtual_network_name = azure_kubernetes_cluster.aks.node_vnet_name
  address_prefixes     = ["10.225.0.0/24"]

  delegation {{
    name = "netapp"
    service_delegation {{
      name = "Microsoft.NetApp/volumes"
    }}
  }}
}}
"#
        );
        cloud.write(&stack);
        let report = cloud.apply_plan(&cloud.plan().await).await;
        assert!(report.succeeded(), "{report:?}");
        let state = cloud.state();
        let vnet = attr(&state, "azure_kubernetes_cluster.aks", "node_vnet_name");
        assert!(vnet.as_str().is_some_and(|n| n.starts_with("aks-vnet-")), "{vnet:?}");
        let subnet = attr(&state, "azure_kubernetes_cluster.aks", "node_subnet_id");
        assert!(subnet.as_str().is_some_and(|s| s.ends_with("/subnets/aks-subnet")), "{subnet:?}");
        no_changes(&cloud.plan().await);

        let node_rg = attr(&state, "azure_kubernetes_cluster.aks", "node_resource_group");
        let node_rg_path = format!(
            "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/{}",
            node_rg.as_str().unwrap()
        );
        let (s, _) = cloud.arm("GET", &node_rg_path, "2024-03-01", None).await;
        assert_eq!(s, 200, "AKS made its node resource group");
        cloud.write(STACK);
        let report = cloud.apply_plan(&cloud.plan().await).await;
        assert!(report.succeeded(), "{report:?}");
        let (s, _) = cloud.arm("GET", &node_rg_path, "2024-03-01", None).await;
        assert_eq!(s, 404, "the node resource group goes with the cluster");
    });
}
