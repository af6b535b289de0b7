//! The workload types: NetApp volumes, AKS clusters and node pools, container registries and
//! role assignments — their schemas, request bodies and state, and the plan rules that the
//! schema alone cannot say (a volume's move between pools, the autoscaler's node count, forced
//! replacement inside the default node pool, a role assignment's deterministic name).
//!
//! API versions: Microsoft.NetApp 2025-01-01, Microsoft.ContainerService 2025-05-01,
//! Microsoft.ContainerRegistry 2025-04-01, Microsoft.Authorization 2022-04-01.

use base64::Engine as _;
use lanestack_model::{
    AttrPath, AttrType, Attribute, Block, Nesting, Owner, PathStep, ResourceSchema, Value,
};
use serde_json::{Value as Json, json};
use sha2::Digest as _;

use crate::normalize::{attr, location, object, str_attr};
use crate::types::{id, loc, name, rg, s, strings, tags};

/// One GiB in bytes: volume quotas are bytes on the wire, GiB in stacks.
pub const GIB: u64 = 1 << 30;

fn bool_attr(v: &Value, name: &str) -> bool {
    matches!(attr(v, name), Value::Bool(true))
}

fn num(v: &Json) -> Value {
    v.as_i64().map_or(Value::Null, Value::from)
}

fn strs(v: &Json) -> Value {
    match v.as_array() {
        Some(a) if !a.is_empty() => Value::List(a.iter().filter_map(Json::as_str).map(Value::from).collect()),
        _ => Value::Null,
    }
}

fn text(v: &Json) -> Value {
    v.as_str().map_or(Value::Null, Value::from)
}

fn segment(id: &str, i: usize) -> Value {
    Value::from(id.split('/').nth(i).unwrap_or_default())
}

fn tags_of(live: &Json) -> Value {
    match live.get("tags") {
        Some(t) if t.as_object().is_some_and(|m| !m.is_empty()) => Value::from_json(t),
        _ => Value::Null,
    }
}

// ---- azure_netapp_volume ----

pub(crate) fn volume_schema() -> ResourceSchema {
    let mut schema = ResourceSchema::new(
        "A NetApp Files volume in a capacity pool (Microsoft.NetApp/netAppAccounts/capacityPools/volumes). \
         Moving it to another pool of the account is an update (the poolChange action): its data stays, \
         and its ARM id follows the new pool.",
        Block::new()
            .attr("name", name("volume"))
            .attr("resource_group_name", rg())
            .attr("account_name", Attribute::required(s()).force_new().describe("The NetApp account."))
            .attr(
                "pool_name",
                Attribute::required(s())
                    .describe("The capacity pool; changing it moves the volume (poolChange)."),
            )
            .attr("location", loc())
            .attr(
                "volume_path",
                Attribute::required(s())
                    .force_new()
                    .describe("The file path (creationToken), unique in the account."),
            )
            .attr(
                "service_level",
                Attribute::optional_computed(s())
                    .describe("Standard, Premium or Ultra: always the pool's; set it to check that."),
            )
            .attr(
                "subnet_id",
                Attribute::required(s())
                    .force_new()
                    .describe("A subnet delegated to Microsoft.NetApp/volumes."),
            )
            .attr(
                "storage_quota_in_gb",
                Attribute::required(AttrType::Number)
                    .describe("The quota in GiB (usageThreshold, bytes on the wire)."),
            )
            .attr("protocols", Attribute::optional(strings()).describe("NFSv3 (default), NFSv4.1, CIFS."))
            .attr("tags", tags())
            .attr(
                "file_system_id",
                Attribute::computed(s()).describe("The fileSystemId ARM assigns; kept by a pool change."),
            )
            .attr(
                "mount_ip_addresses",
                Attribute::computed(strings()).describe("The mount targets' addresses."),
            )
            .attr("id", id()),
    );
    schema.data_bearing = true;
    schema
}

pub(crate) fn volume_body(p: &Json) -> Json {
    let mut props = json!({
        "creationToken": p["volume_path"],
        "subnetId": p["subnet_id"],
        "usageThreshold": p["storage_quota_in_gb"].as_u64().unwrap_or(0).saturating_mul(GIB),
        "protocolTypes": p["protocols"],
    });
    if let Some(level) = p.get("service_level").and_then(Json::as_str) {
        props["serviceLevel"] = json!(level);
    }
    let mut body = json!({ "location": p["location"], "properties": props });
    if let Some(t) = p.get("tags").filter(|t| !t.is_null()) {
        body["tags"] = t.clone();
    }
    body
}

pub(crate) fn volume_patch(p: &Json) -> Json {
    json!({
        "tags": p.get("tags").filter(|t| !t.is_null()).cloned().unwrap_or(json!({})),
        "properties": {
            "usageThreshold": p["storage_quota_in_gb"].as_u64().unwrap_or(0).saturating_mul(GIB),
            "protocolTypes": p["protocols"],
        },
    })
}

pub(crate) fn volume_state(live: &Json) -> Value {
    let id = live["id"].as_str().unwrap_or_default();
    let p = &live["properties"];
    let ips: Vec<Json> = p["mountTargets"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|m| m["ipAddress"].clone())
        .collect();
    object(vec![
        ("id", Value::from(id)),
        ("name", Value::from(id.rsplit('/').next().unwrap_or_default())),
        ("resource_group_name", segment(id, 4)),
        ("account_name", segment(id, 8)),
        ("pool_name", segment(id, 10)),
        ("location", Value::from(location(live["location"].as_str().unwrap_or_default()))),
        ("volume_path", text(&p["creationToken"])),
        ("service_level", text(&p["serviceLevel"])),
        ("subnet_id", text(&p["subnetId"])),
        ("storage_quota_in_gb", Value::from((p["usageThreshold"].as_u64().unwrap_or(0) / GIB) as i64)),
        ("protocols", strs(&p["protocolTypes"])),
        ("tags", tags_of(live)),
        ("file_system_id", text(&p["fileSystemId"])),
        ("mount_ip_addresses", strs(&Json::Array(ips))),
    ])
}

/// The ARM id of the capacity pool a volume's `state` names.
pub(crate) fn pool_id(subscription: &str, state: &Value) -> Option<String> {
    Some(format!(
        "/subscriptions/{subscription}/resourceGroups/{}/providers/Microsoft.NetApp/netAppAccounts/{}/capacityPools/{}",
        str_attr(state, "resource_group_name")?,
        str_attr(state, "account_name")?,
        str_attr(state, "pool_name")?
    ))
}

/// Whether `planned` moves the volume `prior` to another pool.
pub(crate) fn pool_changes(prior: &Value, planned: &Value) -> bool {
    match (str_attr(prior, "pool_name"), str_attr(planned, "pool_name")) {
        (Some(a), Some(b)) => !a.eq_ignore_ascii_case(b),
        _ => false,
    }
}

// ---- azure_kubernetes_cluster ----

fn node_pool_block() -> Block {
    Block::new()
        .attr(
            "name",
            Attribute::required(s()).describe("The system pool's name, e.g. agentpool (forces replacement)."),
        )
        .attr(
            "vm_size",
            Attribute::required(s()).describe("The VM size, e.g. Standard_DS2_v2 (forces replacement)."),
        )
        .attr(
            "node_count",
            Attribute::optional(AttrType::Number).describe("The node count (default 3), in place."),
        )
        .attr(
            "vnet_subnet_id",
            Attribute::optional(s()).describe(
                "The subnet for the nodes; not one delegated to another service (forces replacement).",
            ),
        )
}

/// Attributes of `default_node_pool` that force the cluster's replacement.
const POOL_FORCE_NEW: [&str; 3] = ["name", "vm_size", "vnet_subnet_id"];

pub(crate) fn cluster_schema() -> ResourceSchema {
    let mut block = Block::new()
        .attr("name", name("cluster"))
        .attr("resource_group_name", rg())
        .attr("location", loc())
        .attr(
            "dns_prefix",
            Attribute::required(s()).force_new().describe("The DNS prefix of the API server."),
        )
        .attr(
            "kubernetes_version",
            Attribute::optional_computed(s()).describe("The Kubernetes version; upgraded in place."),
        )
        .block("default_node_pool", Nesting::Single, node_pool_block())
        .block(
            "identity",
            Nesting::Single,
            Block::new().attr("type", Attribute::required(s()).describe("SystemAssigned.")),
        )
        .block(
            "network_profile",
            Nesting::Single,
            Block::new()
                .attr("network_plugin", Attribute::optional(s()).describe("azure (default) or kubenet."))
                .attr(
                    "network_plugin_mode",
                    Attribute::optional(s()).describe("overlay (default) with azure."),
                )
                .attr("service_cidr", Attribute::optional(s()).describe("Default 10.0.0.0/16."))
                .attr("dns_service_ip", Attribute::optional(s()).describe("Default 10.0.0.10.")),
        )
        .attr("tags", tags())
        .attr("fqdn", Attribute::computed(s()).describe("The API server's FQDN."))
        .attr(
            "node_resource_group",
            Attribute::computed(s()).describe("The resource group AKS creates for the nodes."),
        )
        .attr(
            "node_vnet_name",
            Attribute::computed(s())
                .describe("The virtual network of the nodes: the one AKS creates (aks-vnet-...) or the one of vnet_subnet_id."),
        )
        .attr("node_vnet_id", Attribute::computed(s()).describe("The id of that virtual network."))
        .attr("node_subnet_id", Attribute::computed(s()).describe("The subnet of the system pool's nodes."))
        .attr("principal_id", Attribute::computed(s()).describe("The cluster identity's principal id."))
        .attr(
            "kubelet_identity_object_id",
            Attribute::computed(s()).describe("The kubelet identity's object id (for role assignments)."),
        )
        .attr(
            "kubelet_identity_client_id",
            Attribute::computed(s()).describe("The kubelet identity's client id."),
        )
        .attr(
            "kube_config_raw",
            Attribute::computed(s())
                .sensitive()
                // Credentials rotate (and the local emulator's move with its port): a new one
                // is read on every refresh and handed on, never shown as drift.
                .owned_by(Owner::Server)
                .describe("The user kubeconfig from listClusterUserCredential (sensitive)."),
        )
        .attr("id", id());
    if let Some(b) = block.blocks.get_mut("network_profile") {
        b.force_new = true;
    }
    ResourceSchema::new(
        "An AKS managed cluster with its system node pool (Microsoft.ContainerService/managedClusters).",
        block,
    )
}

pub(crate) fn cluster_body(p: &Json) -> Json {
    let pool = &p["default_node_pool"];
    let mut profile = json!({
        "name": pool["name"],
        "count": pool["node_count"].as_i64().unwrap_or(3),
        "vmSize": pool["vm_size"],
        "mode": "System",
        "osType": "Linux",
        "type": "VirtualMachineScaleSets",
    });
    if let Some(subnet) = pool["vnet_subnet_id"].as_str() {
        profile["vnetSubnetID"] = json!(subnet);
    }
    let mut props = json!({ "dnsPrefix": p["dns_prefix"], "agentPoolProfiles": [profile] });
    if let Some(v) = p["kubernetes_version"].as_str() {
        props["kubernetesVersion"] = json!(v);
    }
    if let Some(n) = p["network_profile"].as_object() {
        let mut net = serde_json::Map::new();
        for (ours, theirs) in [
            ("network_plugin", "networkPlugin"),
            ("network_plugin_mode", "networkPluginMode"),
            ("service_cidr", "serviceCidr"),
            ("dns_service_ip", "dnsServiceIP"),
        ] {
            if let Some(v) = n.get(ours).filter(|v| !v.is_null()) {
                net.insert(theirs.into(), v.clone());
            }
        }
        props["networkProfile"] = Json::Object(net);
    }
    let identity = p["identity"]["type"].as_str().unwrap_or("SystemAssigned");
    let mut body =
        json!({ "location": p["location"], "identity": { "type": identity }, "properties": props });
    if let Some(t) = p.get("tags").filter(|t| !t.is_null()) {
        body["tags"] = t.clone();
    }
    body
}

/// The kubeconfig in a `listClusterUserCredential` answer, decoded.
pub(crate) fn kubeconfig(credentials: &Json) -> Option<String> {
    let b64 = credentials.pointer("/kubeconfigs/0/value")?.as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    String::from_utf8(bytes).ok()
}

pub(crate) fn cluster_state(live: &Json) -> Value {
    let id = live["id"].as_str().unwrap_or_default();
    let p = &live["properties"];
    let profiles = p["agentPoolProfiles"].as_array().cloned().unwrap_or_default();
    let system = profiles.iter().find(|a| a["mode"] == "System").cloned().unwrap_or(Json::Null);
    let pool = if system.is_null() {
        Value::Null
    } else {
        object(vec![
            ("name", text(&system["name"])),
            ("vm_size", text(&system["vmSize"])),
            ("node_count", num(&system["count"])),
            ("vnet_subnet_id", text(&system["vnetSubnetID"])),
        ])
    };
    let n = &p["networkProfile"];
    let kubelet = &p["identityProfile"]["kubeletidentity"];
    object(vec![
        ("id", Value::from(id)),
        ("name", Value::from(id.rsplit('/').next().unwrap_or_default())),
        ("resource_group_name", segment(id, 4)),
        ("location", Value::from(location(live["location"].as_str().unwrap_or_default()))),
        ("dns_prefix", text(&p["dnsPrefix"])),
        ("kubernetes_version", text(&p["kubernetesVersion"])),
        ("default_node_pool", pool),
        ("identity", object(vec![("type", text(&live["identity"]["type"]))])),
        (
            "network_profile",
            object(vec![
                ("network_plugin", text(&n["networkPlugin"])),
                ("network_plugin_mode", text(&n["networkPluginMode"])),
                ("service_cidr", text(&n["serviceCidr"])),
                ("dns_service_ip", text(&n["dnsServiceIP"])),
            ]),
        ),
        ("tags", tags_of(live)),
        ("fqdn", text(&p["fqdn"])),
        ("node_resource_group", text(&p["nodeResourceGroup"])),
        ("principal_id", text(&live["identity"]["principalId"])),
        ("kubelet_identity_object_id", text(&kubelet["objectId"])),
        ("kubelet_identity_client_id", text(&kubelet["clientId"])),
        ("kube_config_raw", Value::Null),
        ("node_vnet_name", Value::Null),
        ("node_vnet_id", Value::Null),
        ("node_subnet_id", Value::Null),
    ])
}

/// The nodes' network from the subnet they are on: (vnet id, vnet name, subnet id).
pub(crate) fn network_of_subnet(subnet_id: &str) -> Option<(String, String, String)> {
    let (vnet_id, _) = subnet_id.rsplit_once("/subnets/")?;
    let name = vnet_id.rsplit('/').next()?.to_owned();
    Some((vnet_id.to_owned(), name, subnet_id.to_owned()))
}

/// The network AKS created in the node resource group, from the list of its virtual networks:
/// (vnet id, vnet name, subnet id).
pub(crate) fn network_of_listing(listing: &Json) -> Option<(String, String, String)> {
    let vnet = listing["value"]
        .as_array()?
        .iter()
        .find(|v| v["name"].as_str().is_some_and(|n| n.to_ascii_lowercase().starts_with("aks-vnet-")))?;
    let subnet = vnet["properties"]["subnets"].as_array()?.first()?["id"].as_str()?.to_owned();
    Some((vnet["id"].as_str()?.to_owned(), vnet["name"].as_str()?.to_owned(), subnet))
}

/// `fresh`'s nested blocks as the reference writes them: a block the reference leaves out, or
/// an attribute in it left unset, is what the server chose and is not tracked (null).
pub(crate) fn reconcile_blocks(fresh: &mut Value, reference: &Value, blocks: &[&str]) {
    let Value::Object(out) = fresh else { return };
    for b in blocks {
        let r = attr(reference, b);
        if r.contains_unknown() {
            continue;
        }
        let Some(live) = out.get_mut(*b) else { continue };
        match (r, live) {
            (Value::Null, live) => *live = Value::Null,
            (Value::Object(r), Value::Object(l)) => {
                for (k, v) in l.iter_mut() {
                    if r.get(k).is_none_or(Value::is_null) {
                        *v = Value::Null;
                    } else if let (Some(a), Some(b)) = (r.get(k).and_then(Value::as_str), v.as_str())
                        && a.eq_ignore_ascii_case(b)
                    {
                        *v = Value::from(a);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The paths inside `default_node_pool` whose change forces the cluster's replacement.
pub(crate) fn cluster_replacements(prior: &Value, config: &Value) -> Vec<AttrPath> {
    let (was, now) = (attr(prior, "default_node_pool"), attr(config, "default_node_pool"));
    POOL_FORCE_NEW
        .iter()
        .filter(|n| {
            let (a, b) = (attr(was, n), attr(now, n));
            !b.contains_unknown()
                && match (a.as_str(), b.as_str()) {
                    (Some(x), Some(y)) => !x.eq_ignore_ascii_case(y),
                    _ => a != b,
                }
        })
        .map(|n| AttrPath::attr("default_node_pool").join(PathStep::Attr((*n).to_owned())))
        .collect()
}

// ---- azure_kubernetes_node_pool ----

pub(crate) fn node_pool_schema() -> ResourceSchema {
    ResourceSchema::new(
        "A node pool of an AKS cluster (Microsoft.ContainerService/managedClusters/agentPools).",
        Block::new()
            .attr("name", name("node pool"))
            .attr(
                "kubernetes_cluster_id",
                Attribute::required(s()).force_new().describe("The ARM id of the cluster."),
            )
            .attr("vm_size", Attribute::required(s()).force_new().describe("The VM size, e.g. Standard_NC6s_v3."))
            .attr(
                "node_count",
                Attribute::optional_computed(AttrType::Number).owned_by(Owner::Server).describe(
                    "The node count, updated in place; with enable_auto_scaling the autoscaler owns it and it is never diffed.",
                ),
            )
            .attr("enable_auto_scaling", Attribute::optional(AttrType::Bool).describe("Default false."))
            .attr("min_count", Attribute::optional(AttrType::Number).describe("The autoscaler's minimum."))
            .attr("max_count", Attribute::optional(AttrType::Number).describe("The autoscaler's maximum."))
            .attr("mode", Attribute::optional(s()).describe("User (default) or System."))
            .attr("vnet_subnet_id", Attribute::optional(s()).force_new().describe("The subnet for the nodes."))
            .attr("id", id()),
    )
}

pub(crate) fn node_pool_body(p: &Json) -> Json {
    let auto = p["enable_auto_scaling"].as_bool().unwrap_or(false);
    let count = p["node_count"].as_i64().or_else(|| p["min_count"].as_i64()).unwrap_or(1);
    let mut props = json!({
        "count": count,
        "vmSize": p["vm_size"],
        "mode": p["mode"].as_str().unwrap_or("User"),
        "osType": "Linux",
        "type": "VirtualMachineScaleSets",
        "enableAutoScaling": auto,
    });
    if auto {
        props["minCount"] = p["min_count"].clone();
        props["maxCount"] = p["max_count"].clone();
    }
    if let Some(subnet) = p["vnet_subnet_id"].as_str() {
        props["vnetSubnetID"] = json!(subnet);
    }
    json!({ "properties": props })
}

pub(crate) fn node_pool_state(live: &Json) -> Value {
    let id = live["id"].as_str().unwrap_or_default();
    let p = &live["properties"];
    let cluster = id.rsplit_once("/agentPools/").map_or(id, |(c, _)| c);
    let auto = p["enableAutoScaling"].as_bool().unwrap_or(false);
    object(vec![
        ("id", Value::from(id)),
        ("name", Value::from(id.rsplit('/').next().unwrap_or_default())),
        ("kubernetes_cluster_id", Value::from(cluster)),
        ("vm_size", text(&p["vmSize"])),
        ("node_count", num(&p["count"])),
        ("enable_auto_scaling", Value::Bool(auto)),
        ("min_count", if auto { num(&p["minCount"]) } else { Value::Null }),
        ("max_count", if auto { num(&p["maxCount"]) } else { Value::Null }),
        ("mode", text(&p["mode"])),
        ("vnet_subnet_id", text(&p["vnetSubnetID"])),
    ])
}

/// With the autoscaler on, the node count it chose stays: the stack does not own it.
pub(crate) fn node_pool_plan(prior: Option<&Value>, config: &Value, planned: &mut Value) {
    if let Some(prior) = prior
        && bool_attr(config, "enable_auto_scaling")
        && bool_attr(prior, "enable_auto_scaling")
    {
        planned.set(&AttrPath::attr("node_count"), attr(prior, "node_count").clone());
    }
}

// ---- azure_container_registry ----

pub(crate) fn registry_schema() -> ResourceSchema {
    let mut schema = ResourceSchema::new(
        "A container registry (Microsoft.ContainerRegistry/registries).",
        Block::new()
            .attr("name", name("registry (5-50 letters and digits, globally unique)"))
            .attr("resource_group_name", rg())
            .attr("location", loc())
            .attr("sku", Attribute::required(s()).describe("Basic, Standard or Premium; changed in place."))
            .attr(
                "admin_enabled",
                Attribute::optional(AttrType::Bool).describe("The admin user; default false."),
            )
            .attr("tags", tags())
            .attr(
                "login_server",
                Attribute::computed(s()).describe("The registry's host, e.g. lanes.azurecr.io."),
            )
            .attr("id", id()),
    );
    schema.data_bearing = true;
    schema
}

pub(crate) fn registry_body(p: &Json) -> Json {
    let mut body = json!({
        "location": p["location"],
        "sku": { "name": p["sku"] },
        "properties": { "adminUserEnabled": p["admin_enabled"].as_bool().unwrap_or(false) },
    });
    if let Some(t) = p.get("tags").filter(|t| !t.is_null()) {
        body["tags"] = t.clone();
    }
    body
}

pub(crate) fn registry_state(live: &Json) -> Value {
    let id = live["id"].as_str().unwrap_or_default();
    object(vec![
        ("id", Value::from(id)),
        ("name", Value::from(id.rsplit('/').next().unwrap_or_default())),
        ("resource_group_name", segment(id, 4)),
        ("location", Value::from(location(live["location"].as_str().unwrap_or_default()))),
        ("sku", text(&live["sku"]["name"])),
        ("admin_enabled", Value::Bool(live["properties"]["adminUserEnabled"].as_bool().unwrap_or(false))),
        ("tags", tags_of(live)),
        ("login_server", text(&live["properties"]["loginServer"])),
    ])
}

// ---- azure_role_assignment ----

pub(crate) fn role_assignment_schema() -> ResourceSchema {
    ResourceSchema::new(
        "A role assignment (Microsoft.Authorization/roleAssignments) at a scope. Its name is a GUID derived \
         from scope, role and principal unless set, so an interrupted create is found again.",
        Block::new()
            .attr(
                "name",
                Attribute::optional_computed(s())
                    .force_new()
                    .describe("A GUID; by default derived from scope, role and principal."),
            )
            .attr("scope", Attribute::required(s()).force_new().describe("The ARM id of the scope."))
            .attr(
                "role_definition_id",
                Attribute::required(s()).force_new().describe("The role definition's ARM id."),
            )
            .attr(
                "principal_id",
                Attribute::required(s()).force_new().describe("The object id of the principal."),
            )
            .attr(
                "principal_type",
                Attribute::optional_computed(s())
                    .force_new()
                    .describe("ServicePrincipal (default), User or Group."),
            )
            .attr("id", id()),
    )
}

/// A name-based GUID for (scope, role, principal), compared without regard to case: the first
/// 16 bytes of their SHA-256, with the version nibble 8 (custom) and RFC 4122's variant.
pub(crate) fn role_assignment_name(scope: &str, role: &str, principal: &str) -> String {
    let digest = sha2::Sha256::digest(
        format!(
            "{}|{}|{}",
            scope.to_ascii_lowercase(),
            role.to_ascii_lowercase(),
            principal.to_ascii_lowercase()
        )
        .as_bytes(),
    );
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// The assignment's name: as set, or derived; `None` while an input is unknown.
pub(crate) fn role_assignment_name_of(config: &Value) -> Option<String> {
    if let Some(n) = str_attr(config, "name") {
        return Some(n.to_owned());
    }
    Some(role_assignment_name(
        str_attr(config, "scope")?,
        str_attr(config, "role_definition_id")?,
        str_attr(config, "principal_id")?,
    ))
}

pub(crate) fn role_assignment_body(p: &Json) -> Json {
    json!({ "properties": {
        "roleDefinitionId": p["role_definition_id"],
        "principalId": p["principal_id"],
        "principalType": p["principal_type"].as_str().unwrap_or("ServicePrincipal"),
    } })
}

pub(crate) fn role_assignment_state(live: &Json) -> Value {
    let id = live["id"].as_str().unwrap_or_default();
    let p = &live["properties"];
    object(vec![
        ("id", Value::from(id)),
        ("name", Value::from(id.rsplit('/').next().unwrap_or_default())),
        ("scope", text(&p["scope"])),
        ("role_definition_id", text(&p["roleDefinitionId"])),
        ("principal_id", text(&p["principalId"])),
        ("principal_type", text(&p["principalType"])),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_assignment_names_are_deterministic_guids() {
        let a = role_assignment_name("/subscriptions/s/resourceGroups/RG", "/x/roleDefinitions/r", "p");
        let b = role_assignment_name("/subscriptions/S/resourcegroups/rg", "/x/roleDefinitions/R", "P");
        assert_eq!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "8");
        assert_ne!(
            a,
            role_assignment_name("/subscriptions/s/resourceGroups/RG", "/x/roleDefinitions/r", "q")
        );
    }

    fn pool(name: &str, vm: &str, count: i64) -> Value {
        object(vec![
            (
                "default_node_pool",
                object(vec![
                    ("name", Value::from(name)),
                    ("vm_size", Value::from(vm)),
                    ("node_count", Value::from(count)),
                    ("vnet_subnet_id", Value::Null),
                ]),
            ),
            ("network_profile", Value::Null),
        ])
    }

    #[test]
    fn only_the_pools_name_size_and_subnet_force_a_new_cluster() {
        let prior = pool("agentpool", "Standard_DS2_v2", 3);
        assert!(cluster_replacements(&prior, &pool("agentpool", "standard_ds2_v2", 5)).is_empty());
        let paths = cluster_replacements(&prior, &pool("agentpool", "Standard_DS3_v2", 3));
        assert_eq!(paths.iter().map(ToString::to_string).collect::<Vec<_>>(), ["default_node_pool.vm_size"]);
    }

    #[test]
    fn server_chosen_block_values_are_not_tracked() {
        let mut fresh = pool("AgentPool", "Standard_DS2_v2", 3);
        if let Value::Object(m) = &mut fresh {
            m.insert(
                "network_profile".into(),
                object(vec![
                    ("network_plugin", Value::from("azure")),
                    ("service_cidr", Value::from("10.0.0.0/16")),
                ]),
            );
        }
        let mut reference = pool("agentpool", "Standard_DS2_v2", 3);
        reference
            .set(&AttrPath::attr("network_profile"), object(vec![("network_plugin", Value::from("azure"))]));
        reconcile_blocks(&mut fresh, &reference, &["default_node_pool", "network_profile"]);
        let net = attr(&fresh, "network_profile");
        assert_eq!(attr(net, "network_plugin"), &Value::from("azure"));
        assert_eq!(attr(net, "service_cidr"), &Value::Null);
        assert_eq!(attr(attr(&fresh, "default_node_pool"), "name"), &Value::from("agentpool"));
        // A block the stack leaves out is not tracked at all.
        let mut fresh = pool("agentpool", "Standard_DS2_v2", 3);
        fresh.set(&AttrPath::attr("network_profile"), object(vec![("network_plugin", Value::from("azure"))]));
        reconcile_blocks(&mut fresh, &pool("agentpool", "Standard_DS2_v2", 3), &["network_profile"]);
        assert_eq!(attr(&fresh, "network_profile"), &Value::Null);
    }

    #[test]
    fn kubeconfigs_decode() {
        let c = json!({ "kubeconfigs": [{ "name": "clusterUser", "value": "YXBpVmVyc2lvbjogdjE=" }] });
        assert_eq!(kubeconfig(&c).as_deref(), Some("apiVersion: v1"));
    }
}
