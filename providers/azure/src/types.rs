//! The resource types: their schemas (in Terraform azurerm's vocabulary), their ARM ids, the
//! request bodies they send and how ARM's answers become state.
//!
//! API versions: Microsoft.Resources 2024-03-01, Microsoft.Network 2024-05-01,
//! Microsoft.NetApp 2025-01-01, Microsoft.ContainerService 2025-05-01,
//! Microsoft.ContainerRegistry 2025-04-01, Microsoft.Authorization 2022-04-01 (stable versions
//! in Azure/azure-rest-api-specs). The workload types' shapes live in `workloads`.

use lanestack_model::{AttrType, Attribute, Block, Nesting, ResourceSchema, Value};
use serde_json::{Value as Json, json};

use crate::normalize::{Norm, attr, location, object, str_attr};

/// One TiB in bytes: capacity pool sizes are bytes on the wire, TiB in stacks.
pub const TIB: u64 = 1 << 40;

const RESOURCES_API: &str = "2024-03-01";
const NETWORK_API: &str = "2024-05-01";
const NETAPP_API: &str = "2025-01-01";
const AKS_API: &str = "2025-05-01";
const ACR_API: &str = "2025-04-01";
const AUTHORIZATION_API: &str = "2022-04-01";

/// The resource types of the `azure` provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    /// `azure_resource_group`.
    ResourceGroup,
    /// `azure_virtual_network`.
    VirtualNetwork,
    /// `azure_subnet`.
    Subnet,
    /// `azure_virtual_network_peering`.
    Peering,
    /// `azure_netapp_account`.
    NetAppAccount,
    /// `azure_netapp_capacity_pool`.
    CapacityPool,
    /// `azure_netapp_volume`.
    Volume,
    /// `azure_kubernetes_cluster`.
    KubernetesCluster,
    /// `azure_kubernetes_node_pool`.
    NodePool,
    /// `azure_container_registry`.
    ContainerRegistry,
    /// `azure_role_assignment`.
    RoleAssignment,
}

/// A default value, made on demand.
pub(crate) type Default = fn() -> Value;

/// How an existing object is changed in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Update {
    /// PUT the whole object again.
    Put,
    /// PATCH the body.
    Patch,
}

pub(crate) fn s() -> AttrType {
    AttrType::String
}
pub(crate) fn strings() -> AttrType {
    AttrType::List(Box::new(AttrType::String))
}
pub(crate) fn tags() -> Attribute {
    Attribute::optional(AttrType::Map(Box::new(AttrType::String))).describe("Tags on the object.")
}
pub(crate) fn id() -> Attribute {
    Attribute::computed(s()).describe("The ARM id, computed from the names at plan time.")
}
pub(crate) fn name(what: &str) -> Attribute {
    Attribute::required(s()).force_new().describe(format!("The name of the {what}."))
}
pub(crate) fn rg() -> Attribute {
    Attribute::required(s()).force_new().describe("The resource group it lives in.")
}
pub(crate) fn loc() -> Attribute {
    Attribute::required(s()).force_new().describe("The Azure region, e.g. westeurope.")
}

impl Type {
    /// Every type.
    pub const ALL: [Type; 11] = [
        Type::ResourceGroup,
        Type::VirtualNetwork,
        Type::Subnet,
        Type::Peering,
        Type::NetAppAccount,
        Type::CapacityPool,
        Type::Volume,
        Type::KubernetesCluster,
        Type::NodePool,
        Type::ContainerRegistry,
        Type::RoleAssignment,
    ];

    /// The type's name in stacks.
    pub fn name(self) -> &'static str {
        match self {
            Type::ResourceGroup => "azure_resource_group",
            Type::VirtualNetwork => "azure_virtual_network",
            Type::Subnet => "azure_subnet",
            Type::Peering => "azure_virtual_network_peering",
            Type::NetAppAccount => "azure_netapp_account",
            Type::CapacityPool => "azure_netapp_capacity_pool",
            Type::Volume => "azure_netapp_volume",
            Type::KubernetesCluster => "azure_kubernetes_cluster",
            Type::NodePool => "azure_kubernetes_node_pool",
            Type::ContainerRegistry => "azure_container_registry",
            Type::RoleAssignment => "azure_role_assignment",
        }
    }

    /// The type with this name.
    pub fn of(name: &str) -> Option<Type> {
        Type::ALL.into_iter().find(|t| t.name() == name)
    }

    pub(crate) fn api_version(self) -> &'static str {
        match self {
            Type::ResourceGroup => RESOURCES_API,
            Type::VirtualNetwork | Type::Subnet | Type::Peering => NETWORK_API,
            Type::NetAppAccount | Type::CapacityPool | Type::Volume => NETAPP_API,
            Type::KubernetesCluster | Type::NodePool => AKS_API,
            Type::ContainerRegistry => ACR_API,
            Type::RoleAssignment => AUTHORIZATION_API,
        }
    }

    pub(crate) fn update(self) -> Update {
        match self {
            Type::ResourceGroup | Type::NetAppAccount | Type::CapacityPool | Type::Volume => Update::Patch,
            Type::VirtualNetwork
            | Type::Subnet
            | Type::Peering
            | Type::KubernetesCluster
            | Type::NodePool
            | Type::ContainerRegistry
            | Type::RoleAssignment => Update::Put,
        }
    }

    /// The schema.
    pub fn schema(self) -> ResourceSchema {
        match self {
            Type::ResourceGroup => ResourceSchema::new(
                "A resource group (Microsoft.Resources/resourceGroups).",
                Block::new().attr("name", name("resource group")).attr("location", loc()).attr("tags", tags()).attr("id", id()),
            ),
            Type::VirtualNetwork => ResourceSchema::new(
                "A virtual network (Microsoft.Network/virtualNetworks). Its subnets are azure_subnet resources.",
                Block::new()
                    .attr("name", name("virtual network"))
                    .attr("resource_group_name", rg())
                    .attr("location", loc())
                    .attr("address_space", Attribute::required(strings()).describe("The address prefixes (CIDR)."))
                    .attr("tags", tags())
                    .attr("guid", Attribute::computed(s()).describe("The resourceGuid ARM assigns."))
                    .attr("id", id()),
            ),
            Type::Subnet => ResourceSchema::new(
                "A subnet of a virtual network (Microsoft.Network/virtualNetworks/subnets).",
                Block::new()
                    .attr("name", name("subnet"))
                    .attr("resource_group_name", rg())
                    .attr("virtual_network_name", Attribute::required(s()).force_new().describe("The vnet it belongs to."))
                    .attr("address_prefixes", Attribute::required(strings()).describe("The address prefixes (CIDR)."))
                    .attr(
                        "service_endpoints",
                        Attribute::optional(strings()).describe("Service endpoints, e.g. Microsoft.Storage."),
                    )
                    .block(
                        "delegation",
                        Nesting::List,
                        Block::new().attr("name", Attribute::required(s()).describe("The delegation's name.")).block(
                            "service_delegation",
                            Nesting::Single,
                            Block::new()
                                .attr("name", Attribute::required(s()).describe("The service, e.g. Microsoft.NetApp/volumes."))
                                .attr(
                                    "actions",
                                    Attribute::optional(strings())
                                        .describe("The actions; ARM fills them in when unset, and those are not diffed."),
                                ),
                        ),
                    )
                    .attr("id", id()),
            ),
            Type::Peering => ResourceSchema::new(
                "One direction of a vnet peering (Microsoft.Network/virtualNetworks/virtualNetworkPeerings).",
                Block::new()
                    .attr("name", name("peering"))
                    .attr("resource_group_name", rg())
                    .attr("virtual_network_name", Attribute::required(s()).force_new().describe("The local vnet."))
                    .attr(
                        "remote_virtual_network_id",
                        Attribute::required(s()).force_new().describe("The ARM id of the remote vnet."),
                    )
                    .attr("allow_virtual_network_access", Attribute::optional(AttrType::Bool).describe("Default true."))
                    .attr("allow_forwarded_traffic", Attribute::optional(AttrType::Bool).describe("Default false."))
                    .attr("allow_gateway_transit", Attribute::optional(AttrType::Bool).describe("Default false."))
                    .attr("use_remote_gateways", Attribute::optional(AttrType::Bool).describe("Default false."))
                    .attr(
                        "peering_state",
                        Attribute::computed(s()).describe("Initiated until the other direction exists, then Connected."),
                    )
                    .attr("id", id()),
            ),
            Type::NetAppAccount => ResourceSchema::new(
                "An Azure NetApp Files account (Microsoft.NetApp/netAppAccounts).",
                Block::new()
                    .attr("name", name("NetApp account"))
                    .attr("resource_group_name", rg())
                    .attr("location", loc())
                    .attr("tags", tags())
                    .attr("id", id()),
            ),
            Type::CapacityPool => {
                let mut schema = ResourceSchema::new(
                    "A capacity pool of a NetApp account (Microsoft.NetApp/netAppAccounts/capacityPools).",
                    Block::new()
                        .attr("name", name("capacity pool"))
                        .attr("resource_group_name", rg())
                        .attr("account_name", Attribute::required(s()).force_new().describe("The NetApp account."))
                        .attr("location", loc())
                        .attr(
                            "service_level",
                            Attribute::required(s()).force_new().describe("Standard, Premium or Ultra."),
                        )
                        .attr("size_in_tb", Attribute::required(AttrType::Number).describe("The size in TiB, at least 4."))
                        .attr("qos_type", Attribute::optional(s()).describe("Auto (default) or Manual."))
                        .attr("tags", tags())
                        .attr("pool_id", Attribute::computed(s()).describe("The poolId ARM assigns."))
                        .attr("id", id()),
                );
                schema.data_bearing = true;
                schema
            }
            Type::Volume => crate::workloads::volume_schema(),
            Type::KubernetesCluster => crate::workloads::cluster_schema(),
            Type::NodePool => crate::workloads::node_pool_schema(),
            Type::ContainerRegistry => crate::workloads::registry_schema(),
            Type::RoleAssignment => crate::workloads::role_assignment_schema(),
        }
    }

    /// Attributes compared semantically (see [`crate::normalize`]).
    pub(crate) fn norms(self) -> &'static [(&'static str, Norm)] {
        match self {
            Type::ResourceGroup => &[
                ("name", Norm::Fold),
                ("location", Norm::Location),
                ("tags", Norm::Exact),
                ("id", Norm::Fold),
            ],
            Type::VirtualNetwork => &[
                ("name", Norm::Fold),
                ("resource_group_name", Norm::Fold),
                ("location", Norm::Location),
                ("address_space", Norm::Set),
                ("id", Norm::Fold),
            ],
            Type::Subnet => &[
                ("name", Norm::Fold),
                ("resource_group_name", Norm::Fold),
                ("virtual_network_name", Norm::Fold),
                ("address_prefixes", Norm::Set),
                ("service_endpoints", Norm::Set),
                ("id", Norm::Fold),
            ],
            Type::Peering => &[
                ("name", Norm::Fold),
                ("resource_group_name", Norm::Fold),
                ("virtual_network_name", Norm::Fold),
                ("remote_virtual_network_id", Norm::Fold),
                ("id", Norm::Fold),
            ],
            Type::NetAppAccount => &[
                ("name", Norm::Fold),
                ("resource_group_name", Norm::Fold),
                ("location", Norm::Location),
                ("id", Norm::Fold),
            ],
            Type::CapacityPool => &[
                ("name", Norm::Fold),
                ("resource_group_name", Norm::Fold),
                ("account_name", Norm::Fold),
                ("location", Norm::Location),
                ("service_level", Norm::Fold),
                ("id", Norm::Fold),
            ],
            Type::Volume => &[
                ("name", Norm::Fold),
                ("resource_group_name", Norm::Fold),
                ("account_name", Norm::Fold),
                ("pool_name", Norm::Fold),
                ("location", Norm::Location),
                ("service_level", Norm::Fold),
                ("subnet_id", Norm::Fold),
                ("protocols", Norm::Set),
                ("id", Norm::Fold),
            ],
            Type::KubernetesCluster => &[
                ("name", Norm::Fold),
                ("resource_group_name", Norm::Fold),
                ("location", Norm::Location),
                ("id", Norm::Fold),
            ],
            Type::NodePool => &[
                ("name", Norm::Fold),
                ("kubernetes_cluster_id", Norm::Fold),
                ("vm_size", Norm::Fold),
                ("vnet_subnet_id", Norm::Fold),
                ("id", Norm::Fold),
            ],
            Type::ContainerRegistry => &[
                ("name", Norm::Fold),
                ("resource_group_name", Norm::Fold),
                ("location", Norm::Location),
                ("sku", Norm::Fold),
                ("id", Norm::Fold),
            ],
            Type::RoleAssignment => &[
                ("name", Norm::Fold),
                ("scope", Norm::Fold),
                ("role_definition_id", Norm::Fold),
                ("principal_id", Norm::Fold),
                ("id", Norm::Fold),
            ],
        }
    }

    /// Defaults ARM applies to optional attributes, planned when the stack leaves them unset.
    pub(crate) fn defaults(self) -> &'static [(&'static str, Default)] {
        match self {
            Type::Peering => &[
                ("allow_virtual_network_access", || Value::Bool(true)),
                ("allow_forwarded_traffic", || Value::Bool(false)),
                ("allow_gateway_transit", || Value::Bool(false)),
                ("use_remote_gateways", || Value::Bool(false)),
            ],
            Type::CapacityPool => &[("qos_type", || Value::from("Auto"))],
            Type::Volume => &[("protocols", || Value::List(vec![Value::from("NFSv3")]))],
            Type::NodePool => {
                &[("enable_auto_scaling", || Value::Bool(false)), ("mode", || Value::from("User"))]
            }
            Type::ContainerRegistry => &[("admin_enabled", || Value::Bool(false))],
            Type::RoleAssignment => &[("principal_type", || Value::from("ServicePrincipal"))],
            Type::ResourceGroup
            | Type::VirtualNetwork
            | Type::Subnet
            | Type::NetAppAccount
            | Type::KubernetesCluster => &[],
        }
    }

    /// The ARM id of the object `config` describes, or `None` while a name is unknown.
    pub(crate) fn arm_id(self, subscription: &str, config: &Value) -> Option<String> {
        let get = |n: &str| str_attr(config, n);
        let rg = || {
            get("resource_group_name").map(|g| format!("/subscriptions/{subscription}/resourceGroups/{g}"))
        };
        Some(match self {
            Type::ResourceGroup => format!("/subscriptions/{subscription}/resourceGroups/{}", get("name")?),
            Type::VirtualNetwork => {
                format!("{}/providers/Microsoft.Network/virtualNetworks/{}", rg()?, get("name")?)
            }
            Type::Subnet => format!(
                "{}/providers/Microsoft.Network/virtualNetworks/{}/subnets/{}",
                rg()?,
                get("virtual_network_name")?,
                get("name")?
            ),
            Type::Peering => format!(
                "{}/providers/Microsoft.Network/virtualNetworks/{}/virtualNetworkPeerings/{}",
                rg()?,
                get("virtual_network_name")?,
                get("name")?
            ),
            Type::NetAppAccount => {
                format!("{}/providers/Microsoft.NetApp/netAppAccounts/{}", rg()?, get("name")?)
            }
            Type::CapacityPool => format!(
                "{}/providers/Microsoft.NetApp/netAppAccounts/{}/capacityPools/{}",
                rg()?,
                get("account_name")?,
                get("name")?
            ),
            Type::Volume => format!(
                "{}/providers/Microsoft.NetApp/netAppAccounts/{}/capacityPools/{}/volumes/{}",
                rg()?,
                get("account_name")?,
                get("pool_name")?,
                get("name")?
            ),
            Type::KubernetesCluster => {
                format!("{}/providers/Microsoft.ContainerService/managedClusters/{}", rg()?, get("name")?)
            }
            Type::NodePool => format!("{}/agentPools/{}", get("kubernetes_cluster_id")?, get("name")?),
            Type::ContainerRegistry => {
                format!("{}/providers/Microsoft.ContainerRegistry/registries/{}", rg()?, get("name")?)
            }
            Type::RoleAssignment => format!(
                "{}/providers/Microsoft.Authorization/roleAssignments/{}",
                get("scope")?,
                crate::workloads::role_assignment_name_of(config)?
            ),
        })
    }

    /// The PUT body for `planned` (a state with every settable attribute known). `live` is
    /// the object as it exists, for types whose PUT must carry parts that other resources own
    /// (a vnet's subnets).
    pub(crate) fn put_body(self, planned: &Value, live: Option<&Json>) -> Json {
        let p = planned.to_json();
        let tags = || p.get("tags").filter(|t| !t.is_null()).cloned();
        let with_tags = |mut body: Json| {
            if let Some(t) = tags() {
                body["tags"] = t;
            }
            body
        };
        match self {
            Type::ResourceGroup => with_tags(json!({ "location": p["location"] })),
            Type::VirtualNetwork => {
                let mut props = json!({ "addressSpace": { "addressPrefixes": p["address_space"] } });
                if let Some(subnets) = live.and_then(|l| l.pointer("/properties/subnets")) {
                    props["subnets"] = subnets.clone();
                }
                with_tags(json!({ "location": p["location"], "properties": props }))
            }
            Type::Subnet => {
                let delegations: Vec<Json> = p["delegation"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .map(|d| {
                        let mut props = json!({ "serviceName": d["service_delegation"]["name"] });
                        if let Some(actions) = d["service_delegation"].get("actions").filter(|a| !a.is_null())
                        {
                            props["actions"] = actions.clone();
                        }
                        json!({ "name": d["name"], "properties": props })
                    })
                    .collect();
                let endpoints: Vec<Json> = p["service_endpoints"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|s| json!({ "service": s }))
                    .collect();
                json!({ "properties": {
                    "addressPrefixes": p["address_prefixes"],
                    "delegations": delegations,
                    "serviceEndpoints": endpoints,
                } })
            }
            Type::Peering => json!({ "properties": {
                "remoteVirtualNetwork": { "id": p["remote_virtual_network_id"] },
                "allowVirtualNetworkAccess": p["allow_virtual_network_access"],
                "allowForwardedTraffic": p["allow_forwarded_traffic"],
                "allowGatewayTransit": p["allow_gateway_transit"],
                "useRemoteGateways": p["use_remote_gateways"],
            } }),
            Type::NetAppAccount => with_tags(json!({ "location": p["location"], "properties": {} })),
            Type::CapacityPool => with_tags(json!({
                "location": p["location"],
                "properties": {
                    "serviceLevel": p["service_level"],
                    "size": p["size_in_tb"].as_u64().unwrap_or(0).saturating_mul(TIB),
                    "qosType": p["qos_type"],
                },
            })),
            Type::Volume => crate::workloads::volume_body(&p),
            Type::KubernetesCluster => crate::workloads::cluster_body(&p),
            Type::NodePool => crate::workloads::node_pool_body(&p),
            Type::ContainerRegistry => crate::workloads::registry_body(&p),
            Type::RoleAssignment => crate::workloads::role_assignment_body(&p),
        }
    }

    /// The PATCH body of an in-place update, for types updated by PATCH.
    pub(crate) fn patch_body(self, planned: &Value) -> Json {
        let p = planned.to_json();
        let tags = p.get("tags").filter(|t| !t.is_null()).cloned().unwrap_or(json!({}));
        match self {
            Type::CapacityPool => json!({
                "tags": tags,
                "properties": { "size": p["size_in_tb"].as_u64().unwrap_or(0).saturating_mul(TIB), "qosType": p["qos_type"] },
            }),
            Type::Volume => crate::workloads::volume_patch(&p),
            Type::ResourceGroup
            | Type::NetAppAccount
            | Type::VirtualNetwork
            | Type::Subnet
            | Type::Peering
            | Type::KubernetesCluster
            | Type::NodePool
            | Type::ContainerRegistry
            | Type::RoleAssignment => {
                json!({ "tags": tags })
            }
        }
    }

    /// The state of an object as ARM returned it (not yet reconciled with the stack's spelling).
    pub(crate) fn state(self, live: &Json) -> Value {
        let id = live["id"].as_str().unwrap_or_default().to_owned();
        let segs: Vec<&str> = id.split('/').collect();
        let seg = |i: usize| Value::from(segs.get(i).copied().unwrap_or_default());
        let last = Value::from(id.rsplit('/').next().unwrap_or_default());
        let props = &live["properties"];
        let tags = match live.get("tags") {
            Some(t) if t.as_object().is_some_and(|m| !m.is_empty()) => Value::from_json(t),
            _ => Value::Null,
        };
        let loc = || Value::from(location(live["location"].as_str().unwrap_or_default()));
        let strs = |v: &Json| -> Value {
            match v.as_array() {
                Some(a) if !a.is_empty() => {
                    Value::List(a.iter().filter_map(Json::as_str).map(Value::from).collect())
                }
                _ => Value::Null,
            }
        };
        match self {
            Type::ResourceGroup => object(vec![
                ("id", Value::from(id.clone())),
                ("name", last),
                ("location", loc()),
                ("tags", tags),
            ]),
            Type::VirtualNetwork => object(vec![
                ("id", Value::from(id.clone())),
                ("name", last),
                ("resource_group_name", seg(4)),
                ("location", loc()),
                ("address_space", strs(&props["addressSpace"]["addressPrefixes"])),
                ("tags", tags),
                ("guid", Value::from(props["resourceGuid"].as_str().unwrap_or_default())),
            ]),
            Type::Subnet => {
                let prefixes = match props.get("addressPrefixes") {
                    Some(p) if p.is_array() => strs(p),
                    _ => strs(&json!([props["addressPrefix"]])),
                };
                let endpoints = strs(&Json::Array(
                    props["serviceEndpoints"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                        .iter()
                        .map(|e| e["service"].clone())
                        .collect(),
                ));
                let delegations: Vec<Value> = props["delegations"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .map(|d| {
                        object(vec![
                            ("name", Value::from(d["name"].as_str().unwrap_or_default())),
                            (
                                "service_delegation",
                                object(vec![
                                    (
                                        "name",
                                        Value::from(
                                            d["properties"]["serviceName"].as_str().unwrap_or_default(),
                                        ),
                                    ),
                                    ("actions", strs(&d["properties"]["actions"])),
                                ]),
                            ),
                        ])
                    })
                    .collect();
                object(vec![
                    ("id", Value::from(id.clone())),
                    ("name", last),
                    ("resource_group_name", seg(4)),
                    ("virtual_network_name", seg(8)),
                    ("address_prefixes", prefixes),
                    ("service_endpoints", endpoints),
                    ("delegation", Value::List(delegations)),
                ])
            }
            Type::Peering => object(vec![
                ("id", Value::from(id.clone())),
                ("name", last),
                ("resource_group_name", seg(4)),
                ("virtual_network_name", seg(8)),
                (
                    "remote_virtual_network_id",
                    Value::from(props["remoteVirtualNetwork"]["id"].as_str().unwrap_or_default()),
                ),
                ("allow_virtual_network_access", Value::from_json(&props["allowVirtualNetworkAccess"])),
                ("allow_forwarded_traffic", Value::from_json(&props["allowForwardedTraffic"])),
                ("allow_gateway_transit", Value::from_json(&props["allowGatewayTransit"])),
                ("use_remote_gateways", Value::from_json(&props["useRemoteGateways"])),
                ("peering_state", Value::from(props["peeringState"].as_str().unwrap_or_default())),
            ]),
            Type::NetAppAccount => object(vec![
                ("id", Value::from(id.clone())),
                ("name", last),
                ("resource_group_name", seg(4)),
                ("location", loc()),
                ("tags", tags),
            ]),
            Type::CapacityPool => object(vec![
                ("id", Value::from(id.clone())),
                ("name", last),
                ("resource_group_name", seg(4)),
                ("account_name", seg(8)),
                ("location", loc()),
                ("service_level", Value::from(props["serviceLevel"].as_str().unwrap_or_default())),
                ("size_in_tb", Value::from((props["size"].as_u64().unwrap_or(0) / TIB) as i64)),
                ("qos_type", Value::from(props["qosType"].as_str().unwrap_or("Auto"))),
                ("tags", tags),
                ("pool_id", Value::from(props["poolId"].as_str().unwrap_or_default())),
            ]),
            Type::Volume => crate::workloads::volume_state(live),
            Type::KubernetesCluster => crate::workloads::cluster_state(live),
            Type::NodePool => crate::workloads::node_pool_state(live),
            Type::ContainerRegistry => crate::workloads::registry_state(live),
            Type::RoleAssignment => crate::workloads::role_assignment_state(live),
        }
    }

    /// `fresh` (from [`Type::state`]) in the reference's spelling wherever it means the same;
    /// ARM-filled delegation actions are dropped when the reference leaves them unset.
    pub(crate) fn reconcile(self, fresh: Value, reference: &Value) -> Value {
        let mut out = crate::normalize::reconcile(fresh, reference, self.norms());
        if self == Type::KubernetesCluster {
            crate::workloads::reconcile_blocks(
                &mut out,
                reference,
                &["default_node_pool", "network_profile"],
            );
            // The kubeconfig is read separately; keep what the reference holds until it is.
            if let Value::Object(m) = &mut out
                && m.get("kube_config_raw").is_none_or(Value::is_null)
            {
                m.insert("kube_config_raw".to_owned(), attr(reference, "kube_config_raw").clone());
            }
        }
        if self == Type::Subnet {
            let refs = attr(reference, "delegation").as_list().map(<[Value]>::to_vec).unwrap_or_default();
            if let Value::Object(m) = &mut out
                && let Some(Value::List(ds)) = m.get_mut("delegation")
            {
                for d in ds.iter_mut() {
                    let dname = str_attr(d, "name").unwrap_or_default().to_owned();
                    let reference_actions = refs
                        .iter()
                        .find(|r| str_attr(r, "name") == Some(dname.as_str()))
                        .map(|r| attr(attr(r, "service_delegation"), "actions").clone())
                        .unwrap_or(Value::Null);
                    if let Some(sd) = d.get_mut(&lanestack_model::AttrPath::attr("service_delegation"))
                        && let Value::Object(sd) = sd
                    {
                        let live = sd.get("actions").cloned().unwrap_or(Value::Null);
                        let keep = if reference_actions.is_null() {
                            Value::Null
                        } else if crate::normalize::equivalent(Norm::Set, &live, &reference_actions) {
                            reference_actions
                        } else {
                            live
                        };
                        sd.insert("actions".to_owned(), keep);
                    }
                }
            }
        }
        out
    }
}
