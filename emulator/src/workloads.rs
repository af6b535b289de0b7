//! The workload types: NetApp volumes (and their move to another pool), AKS managed clusters
//! and their agent pools (and the user kubeconfig), container registries and role assignments.
//!
//! Shapes follow Azure/azure-rest-api-specs: Microsoft.NetApp 2025-01-01,
//! Microsoft.ContainerService 2025-05-01, Microsoft.ContainerRegistry 2025-04-01,
//! Microsoft.Authorization 2022-04-01. Where ARM's exact error code for a rule is not in the
//! specifications, the code is ARM's generic one for the HTTP status (`InvalidParameter`,
//! `PropertyChangeNotAllowed`) and the message says what the rule is; AKS's `SubnetIsDelegated`
//! for nodes on a delegated subnet is the real code and message.

use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::arm::{ArmError, Kind};
use crate::cloud::{Cloud, key};
use crate::kinds::{name_of, props};

/// A child object written with its parent: (kind, id, body).
pub(crate) type Child = (Kind, String, Value);

/// One GiB in bytes.
const GIB: u64 = 1 << 30;

fn str_prop<'a>(p: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    p.get(name).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn existing_str(existing: Option<&Value>, pointer: &str) -> Option<String> {
    existing.and_then(|e| e.pointer(pointer)).and_then(Value::as_str).map(str::to_owned)
}

fn unchangeable(kind: &str, property: &str, old: &str, new: &str) -> ArmError {
    ArmError::new(
        400,
        "PropertyChangeNotAllowed",
        format!("Changing property '{property}' of {kind} from '{old}' to '{new}' is not allowed."),
    )
}

/// The services a subnet is delegated to (lowercase); `Err` when it does not exist.
fn subnet_delegations(cloud: &Cloud, subnet_id: &str) -> Result<Vec<String>, ArmError> {
    let Some(s) = cloud.resources().get(&key(subnet_id)).filter(|r| r.kind == Kind::Subnet) else {
        return Err(ArmError::new(
            400,
            "InvalidResourceReference",
            format!("Subnet {subnet_id} was not found. Make sure that the subnet exists."),
        ));
    };
    Ok(s.body
        .pointer("/properties/delegations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|d| d.pointer("/properties/serviceName").and_then(Value::as_str))
        .map(str::to_ascii_lowercase)
        .collect())
}

/// A NetApp volume (`capacityPools/volumes`): on a subnet delegated to Microsoft.NetApp/volumes,
/// its service level that of its pool, its creation token and subnet fixed once created.
pub(crate) fn volume(
    cloud: &mut Cloud,
    id: &str,
    request: &Value,
    existing: Option<&Value>,
) -> Result<Map<String, Value>, ArmError> {
    let p = props(request);
    let Some(token) = str_prop(&p, "creationToken") else {
        return Err(ArmError::invalid("properties.creationToken is required: the volume's file path."));
    };
    let Some(subnet) = str_prop(&p, "subnetId") else {
        return Err(ArmError::invalid("properties.subnetId is required."));
    };
    let usage = p.get("usageThreshold").and_then(Value::as_u64).unwrap_or(100 * GIB);
    if !(50 * GIB..=100 * 1024 * GIB).contains(&usage) {
        return Err(ArmError::invalid(format!(
            "Invalid value {usage} for properties.usageThreshold: a volume is between 50 GiB and 100 TiB, in bytes."
        )));
    }
    if let Some(old) = existing_str(existing, "/properties/creationToken")
        && old != token
    {
        return Err(unchangeable("a volume", "creationToken", &old, token));
    }
    if let Some(old) = existing_str(existing, "/properties/subnetId")
        && !old.eq_ignore_ascii_case(subnet)
    {
        return Err(unchangeable("a volume", "subnetId", &old, subnet));
    }
    if !subnet_delegations(cloud, subnet)?.iter().any(|d| d == "microsoft.netapp/volumes") {
        return Err(ArmError::invalid(format!(
            "The subnet {subnet} must be delegated to Microsoft.NetApp/volumes to host volumes."
        )));
    }
    let pool_key = key(id.rsplit_once("/volumes/").map_or(id, |(p, _)| p));
    let pool_level = cloud
        .resources()
        .get(&pool_key)
        .and_then(|r| r.body.pointer("/properties/serviceLevel"))
        .and_then(Value::as_str)
        .unwrap_or("Premium")
        .to_owned();
    if let Some(level) = str_prop(&p, "serviceLevel")
        && !level.eq_ignore_ascii_case(&pool_level)
    {
        return Err(ArmError::invalid(format!(
            "The volume's service level {level} differs from its capacity pool's ({pool_level}); use poolChange to move it to a pool of that level."
        )));
    }
    let fs = existing_str(existing, "/properties/fileSystemId").unwrap_or_else(|| cloud.rng.uuid());
    let protocols = match p.get("protocolTypes") {
        None | Some(Value::Null) => json!(["NFSv3"]),
        Some(Value::Array(list))
            if !list.is_empty()
                && list
                    .iter()
                    .all(|v| v.as_str().is_some_and(|s| ["NFSv3", "NFSv4.1", "CIFS"].contains(&s))) =>
        {
            Value::Array(list.clone())
        }
        Some(other) => {
            return Err(ArmError::invalid(format!(
                "Invalid value {other} for properties.protocolTypes: expected a list of NFSv3, NFSv4.1 or CIFS."
            )));
        }
    };
    let mut out = Map::new();
    out.insert("fileSystemId".into(), json!(fs));
    out.insert("creationToken".into(), json!(token));
    out.insert("serviceLevel".into(), json!(pool_level));
    out.insert("usageThreshold".into(), json!(usage));
    out.insert("protocolTypes".into(), protocols);
    out.insert("subnetId".into(), json!(subnet));
    out.insert("networkFeatures".into(), p.get("networkFeatures").cloned().unwrap_or(json!("Basic")));
    out.insert("securityStyle".into(), p.get("securityStyle").cloned().unwrap_or(json!("unix")));
    out.insert(
        "exportPolicy".into(),
        p.get("exportPolicy").cloned().unwrap_or(json!({ "rules": [{
            "ruleIndex": 1, "unixReadOnly": false, "unixReadWrite": true, "cifs": false,
            "nfsv3": true, "nfsv41": false, "allowedClients": "0.0.0.0/0", "hasRootAccess": true,
        }] })),
    );
    out.insert(
        "mountTargets".into(),
        json!([{ "mountTargetId": fs, "fileSystemId": fs, "ipAddress": "10.1.1.4" }]),
    );
    out.insert("throughputMibps".into(), json!(0.0));
    Ok(out)
}

/// Moves a volume to another capacity pool of the same account (the `poolChange` action): its
/// id and name follow the new pool, its data and file system id stay. Returns the new key.
pub(crate) fn pool_change(cloud: &mut Cloud, volume_id: &str, request: &Value) -> Result<String, ArmError> {
    let k = key(volume_id);
    let Some(stored) = cloud.resources().get(&k).cloned() else {
        return Err(ArmError::not_found(Kind::Volume, volume_id));
    };
    let Some(new_pool) = request.get("newPoolResourceId").and_then(Value::as_str) else {
        return Err(ArmError::invalid("newPoolResourceId is required."));
    };
    let Some(pool) = cloud.resources().get(&key(new_pool)).filter(|r| r.kind == Kind::CapacityPool).cloned()
    else {
        return Err(ArmError::new(
            404,
            "ResourceNotFound",
            format!("The capacity pool '{new_pool}' was not found."),
        ));
    };
    let account = |pool_key: &str| pool_key.rsplit_once("/capacitypools/").map(|(a, _)| a.to_owned());
    if account(&key(&pool.id)) != account(&stored.parent) {
        return Err(ArmError::invalid(
            "A volume can only move to a capacity pool of its own NetApp account.",
        ));
    }
    if key(&pool.id) == stored.parent {
        return Err(ArmError::invalid("The volume is already in this capacity pool."));
    }
    let name = name_of(&stored.id).to_owned();
    let new_id = format!("{}/volumes/{name}", pool.id);
    let new_key = key(&new_id);
    if cloud.resources().contains_key(&new_key) {
        return Err(ArmError::new(
            409,
            "Conflict",
            format!("A volume named {name} already exists in the target pool."),
        ));
    }
    let mut moved = stored;
    moved.id = new_id.clone();
    moved.parent = key(&pool.id);
    let segs: Vec<&str> = new_id.rsplit('/').collect();
    let level = pool.body.pointer("/properties/serviceLevel").cloned().unwrap_or(json!("Premium"));
    if let Some(obj) = moved.body.as_object_mut() {
        obj.insert("id".into(), json!(new_id));
        obj.insert(
            "name".into(),
            json!(format!(
                "{}/{}/{name}",
                segs.get(4).copied().unwrap_or_default(),
                segs.get(2).copied().unwrap_or_default()
            )),
        );
        if let Some(p) = obj.get_mut("properties").and_then(Value::as_object_mut) {
            p.insert("serviceLevel".into(), level);
        }
    }
    cloud.resources_mut().remove(&k);
    cloud.resources_mut().insert(new_key.clone(), moved);
    Ok(new_key)
}

fn agent_pool_props(
    cloud: &Cloud,
    p: &Map<String, Value>,
    existing: Option<&Value>,
    cluster_version: &str,
    default_mode: &str,
) -> Result<Map<String, Value>, ArmError> {
    let Some(vm) = str_prop(p, "vmSize") else {
        return Err(ArmError::invalid("vmSize is required for an agent pool."));
    };
    if let Some(old) = existing_str(existing, "/properties/vmSize")
        && !old.eq_ignore_ascii_case(vm)
    {
        return Err(unchangeable("an agent pool", "vmSize", &old, vm));
    }
    let auto = p.get("enableAutoScaling").and_then(Value::as_bool).unwrap_or(false);
    let count = p.get("count").and_then(Value::as_u64).unwrap_or(3);
    let mut out = Map::new();
    if auto {
        let (Some(min), Some(max)) =
            (p.get("minCount").and_then(Value::as_u64), p.get("maxCount").and_then(Value::as_u64))
        else {
            return Err(ArmError::invalid(
                "minCount and maxCount are required when enableAutoScaling is true.",
            ));
        };
        if min > max || count < min || count > max {
            return Err(ArmError::invalid(format!(
                "count {count} must lie between minCount {min} and maxCount {max}."
            )));
        }
        out.insert("minCount".into(), json!(min));
        out.insert("maxCount".into(), json!(max));
    }
    if let Some(old) = existing_str(existing, "/properties/vnetSubnetID")
        && !str_prop(p, "vnetSubnetID").is_some_and(|new| new.eq_ignore_ascii_case(&old))
    {
        return Err(unchangeable(
            "an agent pool",
            "vnetSubnetID",
            &old,
            str_prop(p, "vnetSubnetID").unwrap_or(""),
        ));
    }
    if let Some(subnet) = str_prop(p, "vnetSubnetID") {
        // AKS refuses any delegated subnet for nodes (a NetApp one in the seed), with this code
        // and message (as reported in MicrosoftDocs/azure-docs#69774).
        if !subnet_delegations(cloud, subnet)?.is_empty() {
            return Err(ArmError::new(
                400,
                "SubnetIsDelegated",
                format!(
                    "AgentPoolProfile.VnetSubnetID {subnet} cannot be used as it's a delegated subnet. Please check https://aka.ms/adv-network-prerequest for more details."
                ),
            ));
        }
        out.insert("vnetSubnetID".into(), json!(subnet));
    }
    let version = str_prop(p, "orchestratorVersion").unwrap_or(cluster_version).to_owned();
    out.insert("count".into(), json!(count));
    out.insert("vmSize".into(), json!(vm));
    out.insert("osDiskSizeGB".into(), json!(128));
    out.insert("osDiskType".into(), json!("Managed"));
    out.insert("maxPods".into(), json!(p.get("maxPods").cloned().unwrap_or(json!(250))));
    out.insert("type".into(), json!("VirtualMachineScaleSets"));
    out.insert("enableAutoScaling".into(), json!(auto));
    out.insert("mode".into(), json!(str_prop(p, "mode").unwrap_or(default_mode)));
    out.insert("osType".into(), json!(str_prop(p, "osType").unwrap_or("Linux")));
    out.insert("osSKU".into(), json!("Ubuntu"));
    out.insert("orchestratorVersion".into(), json!(version));
    out.insert("currentOrchestratorVersion".into(), json!(version));
    out.insert("powerState".into(), json!({ "code": "Running" }));
    out.insert("nodeImageVersion".into(), json!("AKSUbuntu-2204gen2containerd-202505.01.0"));
    Ok(out)
}

fn cluster_version(cloud: &Cloud, cluster_key: &str) -> String {
    cloud
        .resources()
        .get(cluster_key)
        .and_then(|c| c.body.pointer("/properties/kubernetesVersion"))
        .and_then(Value::as_str)
        .unwrap_or("1.32")
        .to_owned()
}

/// An agent pool written on its own (`managedClusters/agentPools`).
pub(crate) fn agent_pool(
    cloud: &mut Cloud,
    id: &str,
    request: &Value,
    existing: Option<&Value>,
) -> Result<Map<String, Value>, ArmError> {
    let cluster =
        key(id.rsplit_once("/agentpools/").or_else(|| id.rsplit_once("/agentPools/")).map_or(id, |(c, _)| c));
    let version = cluster_version(cloud, &cluster);
    agent_pool_props(cloud, &props(request), existing, &version, "User")
}

/// A managed cluster's properties and the agent pools its `agentPoolProfiles` write. Pools
/// left out of a PUT are kept (they are deleted through `agentPools` only), as AKS does.
pub(crate) fn managed_cluster(
    cloud: &mut Cloud,
    id: &str,
    request: &Value,
    existing: Option<&Value>,
    location: Option<&str>,
) -> Result<(Map<String, Value>, Vec<Child>), ArmError> {
    let p = props(request);
    let Some(prefix) = str_prop(&p, "dnsPrefix") else {
        return Err(ArmError::invalid("properties.dnsPrefix is required."));
    };
    if let Some(old) = existing_str(existing, "/properties/dnsPrefix")
        && old != prefix
    {
        return Err(unchangeable("a managed cluster", "dnsPrefix", &old, prefix));
    }
    let version = str_prop(&p, "kubernetesVersion").unwrap_or("1.32").to_owned();
    let profiles = p.get("agentPoolProfiles").and_then(Value::as_array).cloned().unwrap_or_default();
    if !profiles.iter().any(|a| a.get("mode").and_then(Value::as_str) == Some("System")) {
        return Err(ArmError::invalid(
            "properties.agentPoolProfiles must hold at least one agent pool with mode System.",
        ));
    }
    let location = location.unwrap_or_default();
    let segs: Vec<&str> = id.split('/').collect();
    let (rg, name) = (segs.get(4).copied().unwrap_or_default(), name_of(id));
    let mut pools = Vec::new();
    for profile in &profiles {
        let Some(pname) = profile.get("name").and_then(Value::as_str) else {
            return Err(ArmError::invalid("Every agent pool profile needs a name."));
        };
        let pid = format!("{id}/agentPools/{pname}");
        let old = cloud.resources().get(&key(&pid)).map(|r| r.body.clone());
        let props = agent_pool_props(
            cloud,
            profile.as_object().unwrap_or(&Map::new()),
            old.as_ref(),
            &version,
            "System",
        )?;
        let body = json!({
            "id": pid,
            "name": pname,
            "type": Kind::AgentPool.type_name(),
            "properties": props,
        });
        pools.push((Kind::AgentPool, pid, body));
    }
    let fqdn = existing_str(existing, "/properties/fqdn").unwrap_or_else(|| {
        format!("{}-{}.hcp.{location}.azmk8s.io", prefix.to_ascii_lowercase(), &cloud.rng.uuid()[..8])
    });
    let node_rg = existing_str(existing, "/properties/nodeResourceGroup")
        .or_else(|| str_prop(&p, "nodeResourceGroup").map(str::to_owned))
        .unwrap_or_else(|| format!("MC_{rg}_{name}_{location}"));
    let kubelet = existing
        .and_then(|e| e.pointer("/properties/identityProfile/kubeletidentity"))
        .cloned()
        .unwrap_or_else(|| {
            let sub = segs.get(2).copied().unwrap_or_default();
            json!({
                "resourceId": format!("/subscriptions/{sub}/resourcegroups/{node_rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}-agentpool"),
                "clientId": cloud.rng.uuid(),
                "objectId": cloud.rng.uuid(),
            })
        });
    let mut network = p.get("networkProfile").and_then(Value::as_object).cloned().unwrap_or_default();
    let defaults = [
        ("networkPlugin", json!("azure")),
        ("networkPluginMode", json!("overlay")),
        ("networkPolicy", json!("none")),
        ("podCidr", json!("10.244.0.0/16")),
        ("serviceCidr", json!("10.0.0.0/16")),
        ("dnsServiceIP", json!("10.0.0.10")),
        ("outboundType", json!("loadBalancer")),
        ("loadBalancerSku", json!("standard")),
    ];
    for (k, v) in defaults {
        network.entry(k).or_insert(v);
    }
    let mut out = Map::new();
    out.insert("kubernetesVersion".into(), json!(version));
    out.insert("currentKubernetesVersion".into(), json!(version));
    out.insert("dnsPrefix".into(), json!(prefix));
    out.insert("fqdn".into(), json!(fqdn));
    out.insert("azurePortalFQDN".into(), json!(fqdn.replacen(".hcp.", ".portal.hcp.", 1)));
    out.insert("nodeResourceGroup".into(), json!(node_rg));
    out.insert("enableRBAC".into(), json!(p.get("enableRBAC").cloned().unwrap_or(json!(true))));
    out.insert("maxAgentPools".into(), json!(100));
    out.insert("powerState".into(), json!({ "code": "Running" }));
    out.insert("networkProfile".into(), Value::Object(network));
    out.insert("identityProfile".into(), json!({ "kubeletidentity": kubelet }));
    out.insert("supportPlan".into(), json!("KubernetesOfficial"));
    Ok((out, pools))
}

/// The cluster's `identity` (SystemAssigned gets a principal) and `sku`.
pub(crate) fn cluster_envelope(
    cloud: &mut Cloud,
    body: &mut Value,
    request: &Value,
    existing: Option<&Value>,
) -> Result<(), ArmError> {
    let kind = request.pointer("/identity/type").and_then(Value::as_str).unwrap_or("SystemAssigned");
    if !kind.eq_ignore_ascii_case("SystemAssigned") && !kind.eq_ignore_ascii_case("UserAssigned") {
        return Err(ArmError::invalid(format!(
            "Invalid identity type '{kind}': expected SystemAssigned or UserAssigned."
        )));
    }
    let principal = existing_str(existing, "/identity/principalId").unwrap_or_else(|| cloud.rng.uuid());
    let tenant = existing_str(existing, "/identity/tenantId").unwrap_or_else(|| cloud.rng.uuid());
    if let Some(obj) = body.as_object_mut() {
        obj.insert("identity".into(), json!({ "type": kind, "principalId": principal, "tenantId": tenant }));
        obj.insert(
            "sku".into(),
            request.get("sku").cloned().unwrap_or(json!({ "name": "Base", "tier": "Free" })),
        );
    }
    Ok(())
}

/// The bearer token of a cluster's user kubeconfig, derived from the cluster, so it is the
/// same on every call; the cluster's Kubernetes API accepts it.
pub(crate) fn cluster_token(c: &crate::cloud::Stored) -> String {
    let fqdn = c.body.pointer("/properties/fqdn").and_then(Value::as_str).unwrap_or_default();
    fnv(&format!("{}|{fqdn}", key(&c.id)))
}

/// The answer to `listClusterUserCredential`: one base64 kubeconfig whose server is the cluster's Kubernetes API on
/// the emulator (`{endpoint}/k8s/{cluster-key}`), with the emulator's CA when it serves HTTPS.
pub(crate) fn user_credential(
    cloud: &Cloud,
    cluster_id: &str,
    endpoint: &str,
    ca_pem: Option<&str>,
) -> Result<Value, ArmError> {
    let Some(c) = cloud.resources().get(&key(cluster_id)).filter(|r| r.kind == Kind::ManagedCluster) else {
        return Err(ArmError::not_found(Kind::ManagedCluster, cluster_id));
    };
    let name = name_of(&c.id);
    let rg = c.id.split('/').nth(4).unwrap_or_default();
    let token = cluster_token(c);
    let ca = match ca_pem {
        Some(pem) => format!(
            "    certificate-authority-data: {}\n",
            base64::engine::general_purpose::STANDARD.encode(pem)
        ),
        None => String::new(),
    };
    let server = format!("{endpoint}/k8s/{}", crate::kube::cluster_key(&c.id));
    let user = format!("clusterUser_{rg}_{name}");
    let config = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n{ca}    server: {server}\n  name: {name}\ncontexts:\n- context:\n    cluster: {name}\n    user: {user}\n  name: {name}\ncurrent-context: {name}\npreferences: {{}}\nusers:\n- name: {user}\n  user:\n    token: {token}\n"
    );
    Ok(json!({ "kubeconfigs": [{
        "name": "clusterUser",
        "value": base64::engine::general_purpose::STANDARD.encode(config),
    }] }))
}

fn fnv(s: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut out = String::new();
    for round in 0..4u8 {
        for b in s.bytes().chain([round]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        out.push_str(&format!("{h:016x}"));
    }
    out
}

const REGISTRY_SKUS: [&str; 3] = ["Basic", "Standard", "Premium"];

/// A container registry: a globally unique alphanumeric name, its login server from it.
pub(crate) fn registry(
    cloud: &mut Cloud,
    id: &str,
    request: &Value,
    existing: Option<&Value>,
) -> Result<Map<String, Value>, ArmError> {
    let name = name_of(id);
    if !(5..=50).contains(&name.len()) || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(ArmError::new(
            400,
            "RegistryNameInvalid",
            format!("The registry name '{name}' is invalid: 5 to 50 alphanumeric characters."),
        ));
    }
    let p = props(request);
    let created = existing_str(existing, "/properties/creationDate")
        .unwrap_or_else(|| format!("2026-01-01T00:00:{:02}.0000000Z", cloud.rng.next_u64() % 60));
    let mut out = Map::new();
    out.insert("loginServer".into(), json!(format!("{}.azurecr.io", name.to_ascii_lowercase())));
    out.insert("creationDate".into(), json!(created));
    out.insert(
        "adminUserEnabled".into(),
        json!(p.get("adminUserEnabled").and_then(Value::as_bool).unwrap_or(false)),
    );
    out.insert(
        "publicNetworkAccess".into(),
        p.get("publicNetworkAccess").cloned().unwrap_or(json!("Enabled")),
    );
    out.insert("networkRuleBypassOptions".into(), json!("AzureServices"));
    out.insert("zoneRedundancy".into(), json!("Disabled"));
    out.insert("anonymousPullEnabled".into(), json!(false));
    out.insert("dataEndpointEnabled".into(), json!(false));
    out.insert("encryption".into(), json!({ "status": "disabled" }));
    out.insert(
        "policies".into(),
        json!({
            "quarantinePolicy": { "status": "disabled" },
            "trustPolicy": { "type": "Notary", "status": "disabled" },
            "retentionPolicy": { "days": 7, "status": "disabled" },
            "exportPolicy": { "status": "enabled" },
        }),
    );
    Ok(out)
}

/// A registry's `sku` ({name, tier}).
pub(crate) fn registry_envelope(body: &mut Value, request: &Value) -> Result<(), ArmError> {
    let sku = request.pointer("/sku/name").and_then(Value::as_str).unwrap_or_default();
    let Some(sku) = REGISTRY_SKUS.iter().find(|s| s.eq_ignore_ascii_case(sku)) else {
        return Err(ArmError::invalid(format!("Invalid sku '{sku}': expected Basic, Standard or Premium.")));
    };
    if let Some(obj) = body.as_object_mut() {
        obj.insert("sku".into(), json!({ "name": sku, "tier": sku }));
    }
    Ok(())
}

fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A role assignment: a GUID name, a role definition and a principal at a scope, none of
/// which can change; one assignment per (scope, role, principal).
pub(crate) fn role_assignment(
    cloud: &mut Cloud,
    id: &str,
    request: &Value,
    existing: Option<&Value>,
) -> Result<Map<String, Value>, ArmError> {
    let name = name_of(id);
    if !is_guid(name) {
        return Err(ArmError::new(
            400,
            "InvalidRoleAssignmentId",
            format!("The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID."),
        ));
    }
    let p = props(request);
    let (Some(role), Some(principal)) = (str_prop(&p, "roleDefinitionId"), str_prop(&p, "principalId"))
    else {
        return Err(ArmError::invalid(
            "properties.roleDefinitionId and properties.principalId are required.",
        ));
    };
    let role_guid = role.rsplit_once("/providers/Microsoft.Authorization/roleDefinitions/").map(|(_, g)| g);
    if !role_guid.is_some_and(is_guid) {
        return Err(ArmError::new(
            400,
            "InvalidRoleDefinitionId",
            format!("The role definition ID '{role}' is not valid."),
        ));
    }
    if let Some(e) = existing {
        let same = |ptr: &str, v: &str| {
            e.pointer(ptr).and_then(Value::as_str).is_some_and(|x| x.eq_ignore_ascii_case(v))
        };
        if !same("/properties/roleDefinitionId", role) || !same("/properties/principalId", principal) {
            return Err(ArmError::new(
                400,
                "RoleAssignmentUpdateNotPermitted",
                "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
            ));
        }
    }
    let scope = id.rsplit_once("/providers/Microsoft.Authorization/roleAssignments/").map_or("", |(s, _)| s);
    let clash = cloud.resources().values().any(|r| {
        r.kind == Kind::RoleAssignment
            && key(&r.id) != key(id)
            && r.body
                .pointer("/properties/scope")
                .and_then(Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case(scope))
            && r.body
                .pointer("/properties/roleDefinitionId")
                .and_then(Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case(role))
            && r.body
                .pointer("/properties/principalId")
                .and_then(Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case(principal))
    });
    if clash {
        return Err(ArmError::new(409, "RoleAssignmentExists", "The role assignment already exists."));
    }
    let created = existing_str(existing, "/properties/createdOn")
        .unwrap_or_else(|| "2026-01-01T00:00:00.0000000Z".to_owned());
    let mut out = Map::new();
    out.insert("roleDefinitionId".into(), json!(role));
    out.insert("principalId".into(), json!(principal));
    out.insert("principalType".into(), json!(str_prop(&p, "principalType").unwrap_or("ServicePrincipal")));
    out.insert("scope".into(), json!(scope));
    out.insert("condition".into(), Value::Null);
    out.insert("createdOn".into(), json!(created));
    out.insert("updatedOn".into(), json!(created));
    Ok(out)
}
