//! Per-type rules: the shape ARM returns for each type, the defaults it fills in, and the
//! checks it makes on a write.
//!
//! Shapes follow Azure/azure-rest-api-specs: Microsoft.Resources 2024-03-01, Microsoft.Network
//! 2024-05-01, Microsoft.NetApp 2025-01-01.

use serde_json::{Map, Value, json};

use crate::arm::{ArmError, Kind, normalize_location};
use crate::cloud::{Cloud, key};
use crate::net::Cidr;

/// One TiB in bytes: capacity pool sizes are bytes on the wire.
pub const TIB: u64 = 1 << 40;

/// The result of building an object from a request.
pub(crate) struct Built {
    pub(crate) body: Value,
    /// Children written along with the object (a vnet's inline subnets): (kind, id, body).
    pub(crate) children: Vec<(Kind, String, Value)>,
    /// Keys of children the write removes (subnets left out of a vnet's PUT).
    pub(crate) removed_children: Vec<String>,
}

pub(crate) fn name_of(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

pub(crate) fn props(v: &Value) -> Map<String, Value> {
    v.get("properties").and_then(Value::as_object).cloned().unwrap_or_default()
}

fn location(kind: Kind, request: &Value, existing: Option<&Value>) -> Result<Option<String>, ArmError> {
    if !kind.located() {
        return Ok(None);
    }
    let Some(loc) = request.get("location").and_then(Value::as_str).filter(|s| !s.is_empty()) else {
        return Err(ArmError::new(
            400,
            "LocationRequired",
            "The location property is required for this definition.",
        ));
    };
    let loc = normalize_location(loc);
    if let Some(old) = existing.and_then(|e| e.get("location")).and_then(Value::as_str)
        && old != loc
    {
        let code = if kind == Kind::ResourceGroup {
            "InvalidResourceGroupLocation"
        } else {
            "InvalidResourceLocation"
        };
        return Err(ArmError::new(
            409,
            code,
            format!(
                "The resource already exists in location '{old}'. A resource with the same name cannot be created in location '{loc}'."
            ),
        ));
    }
    Ok(Some(loc))
}

fn tags(request: &Value) -> Result<Option<Value>, ArmError> {
    match request.get("tags") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) if m.values().all(Value::is_string) => Ok(Some(Value::Object(m.clone()))),
        Some(_) => Err(ArmError::invalid("Tags must be an object whose values are strings.")),
    }
}

/// The envelope every object shares: id, name, type, location, tags.
fn envelope(
    kind: Kind,
    id: &str,
    location: Option<String>,
    tags: Option<Value>,
    properties: Map<String, Value>,
) -> Value {
    let name = match kind {
        // NetApp names children "account/pool" and "account/pool/volume".
        Kind::CapacityPool => {
            let segs: Vec<&str> = id.rsplit('/').collect();
            format!("{}/{}", segs.get(2).copied().unwrap_or_default(), segs[0])
        }
        Kind::Volume => {
            let segs: Vec<&str> = id.rsplit('/').collect();
            format!(
                "{}/{}/{}",
                segs.get(4).copied().unwrap_or_default(),
                segs.get(2).copied().unwrap_or_default(),
                segs[0]
            )
        }
        _ => name_of(id).to_owned(),
    };
    let mut out = Map::new();
    out.insert("id".into(), json!(id));
    out.insert("name".into(), json!(name));
    out.insert("type".into(), json!(kind.type_name()));
    if let Some(l) = location {
        out.insert("location".into(), json!(l));
    }
    if let Some(t) = tags {
        out.insert("tags".into(), t);
    }
    out.insert("properties".into(), Value::Object(properties));
    Value::Object(out)
}

/// Builds the stored body of an object from a (PUT, or PATCH merged) request.
pub(crate) fn build(
    cloud: &mut Cloud,
    kind: Kind,
    id: &str,
    request: &Value,
    existing: Option<&Value>,
) -> Result<Built, ArmError> {
    let loc = location(kind, request, existing)?;
    let tags = tags(request)?;
    let mut children = Vec::new();
    let mut removed_children = Vec::new();
    let properties = match kind {
        Kind::ResourceGroup => Map::new(),
        Kind::VirtualNetwork => {
            let p = props(request);
            let prefixes = address_prefixes(p.get("addressSpace").and_then(|a| a.get("addressPrefixes")))?;
            if prefixes.is_empty() {
                return Err(ArmError::new(
                    400,
                    "InvalidRequestFormat",
                    "The virtual network must have at least one address prefix in properties.addressSpace.addressPrefixes.",
                ));
            }
            let guid = existing
                .and_then(|e| e.pointer("/properties/resourceGuid"))
                .and_then(Value::as_str)
                .map_or_else(|| cloud.rng.uuid(), str::to_owned);
            let mut out = Map::new();
            out.insert("addressSpace".into(), json!({ "addressPrefixes": prefixes }));
            out.insert("resourceGuid".into(), json!(guid));
            out.insert(
                "enableDdosProtection".into(),
                p.get("enableDdosProtection").cloned().unwrap_or(json!(false)),
            );
            out.insert(
                "privateEndpointVNetPolicies".into(),
                p.get("privateEndpointVNetPolicies").cloned().unwrap_or(json!("Disabled")),
            );
            if let Some(Value::Array(subnets)) = p.get("subnets") {
                let vnet_key = key(id);
                let mut listed = Vec::new();
                for s in subnets {
                    let Some(name) = s.get("name").and_then(Value::as_str) else {
                        return Err(ArmError::new(400, "InvalidRequestFormat", "Every subnet needs a name."));
                    };
                    let sid = format!("{id}/subnets/{name}");
                    let body = subnet(cloud, &sid, s, &prefixes, loc.as_deref().unwrap_or_default())?;
                    listed.push(key(&sid));
                    children.push((Kind::Subnet, sid, body));
                }
                removed_children = cloud
                    .resources()
                    .values()
                    .filter(|r| {
                        r.kind == Kind::Subnet && r.parent == vnet_key && !listed.contains(&key(&r.id))
                    })
                    .map(|r| key(&r.id))
                    .collect();
            }
            out
        }
        Kind::Subnet => {
            let vnet_key = key(id.rsplit_once("/subnets/").map_or(id, |(v, _)| v));
            let (vnet_prefixes, vnet_loc) = match cloud.resources().get(&vnet_key) {
                Some(v) => (
                    address_prefixes(v.body.pointer("/properties/addressSpace/addressPrefixes"))?,
                    v.body.get("location").and_then(Value::as_str).unwrap_or_default().to_owned(),
                ),
                None => (Vec::new(), String::new()),
            };
            return Ok(Built {
                body: subnet(cloud, id, request, &vnet_prefixes, &vnet_loc)?,
                children,
                removed_children,
            });
        }
        Kind::Peering => peering(cloud, id, request)?,
        Kind::NetAppAccount => {
            let p = props(request);
            let mut out = Map::new();
            out.insert(
                "encryption".into(),
                p.get("encryption").cloned().unwrap_or(json!({ "keySource": "Microsoft.NetApp" })),
            );
            if let Some(ad) = p.get("activeDirectories") {
                out.insert("activeDirectories".into(), ad.clone());
            }
            out
        }
        Kind::CapacityPool => capacity_pool(cloud, request, existing)?,
        Kind::Volume => crate::workloads::volume(cloud, id, request, existing)?,
        Kind::ManagedCluster => {
            let (props, pools) =
                crate::workloads::managed_cluster(cloud, id, request, existing, loc.as_deref())?;
            children = pools;
            props
        }
        Kind::AgentPool => crate::workloads::agent_pool(cloud, id, request, existing)?,
        Kind::Registry => crate::workloads::registry(cloud, id, request, existing)?,
        Kind::RoleAssignment => crate::workloads::role_assignment(cloud, id, request, existing)?,
    };
    let mut body = envelope(kind, id, loc, tags, properties);
    match kind {
        Kind::ManagedCluster => crate::workloads::cluster_envelope(cloud, &mut body, request, existing)?,
        Kind::Registry => crate::workloads::registry_envelope(&mut body, request)?,
        _ => {}
    }
    if matches!(kind, Kind::AgentPool | Kind::RoleAssignment)
        && let Some(obj) = body.as_object_mut()
    {
        obj.remove("location");
    }
    Ok(Built { body, children, removed_children })
}

fn address_prefixes(v: Option<&Value>) -> Result<Vec<String>, ArmError> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let list = v.as_array().ok_or_else(|| ArmError::invalid("addressPrefixes must be a list of strings."))?;
    let mut out = Vec::new();
    for p in list {
        let s = p.as_str().ok_or_else(|| ArmError::invalid("addressPrefixes must be a list of strings."))?;
        Cidr::parse(s).map_err(|_| {
            ArmError::new(
                400,
                "InvalidAddressPrefixFormat",
                format!("Address prefix {s} has an invalid format."),
            )
        })?;
        out.push(s.to_owned());
    }
    Ok(out)
}

/// The actions ARM fills in for a delegation to `service`.
fn delegation_actions(service: &str) -> Vec<&'static str> {
    match service.to_ascii_lowercase().as_str() {
        "microsoft.netapp/volumes" => {
            vec![
                "Microsoft.Network/networkinterfaces/*",
                "Microsoft.Network/virtualNetworks/subnets/join/action",
            ]
        }
        _ => vec!["Microsoft.Network/virtualNetworks/subnets/action"],
    }
}

fn subnet(
    cloud: &mut Cloud,
    id: &str,
    request: &Value,
    vnet_prefixes: &[String],
    vnet_location: &str,
) -> Result<Value, ArmError> {
    let p = props(request);
    let mut out = Map::new();
    let mut prefixes = Vec::new();
    if let Some(single) = p.get("addressPrefix").and_then(Value::as_str) {
        prefixes.push(single.to_owned());
        out.insert("addressPrefix".into(), json!(single));
    }
    if let Some(list) = p.get("addressPrefixes") {
        let list = address_prefixes(Some(list))?;
        prefixes.extend(list.iter().cloned());
        out.insert("addressPrefixes".into(), json!(list));
    }
    if prefixes.is_empty() {
        return Err(ArmError::new(
            400,
            "InvalidRequestFormat",
            format!("Subnet '{}' needs addressPrefix or addressPrefixes.", name_of(id)),
        ));
    }
    let outer: Vec<Cidr> = vnet_prefixes.iter().filter_map(|s| Cidr::parse(s).ok().flatten()).collect();
    for s in &prefixes {
        let c = Cidr::parse(s).map_err(|_| {
            ArmError::new(
                400,
                "InvalidAddressPrefixFormat",
                format!("Address prefix {s} has an invalid format."),
            )
        })?;
        if let Some(c) = c
            && !outer.iter().any(|o| o.contains(&c))
        {
            return Err(ArmError::new(
                400,
                "NetcfgSubnetRangeOutsideVnet",
                format!(
                    "Subnet '{}' is not valid because its IP address range is outside the IP address range of virtual network.",
                    name_of(id)
                ),
            ));
        }
    }
    let mut delegations = Vec::new();
    for d in p.get("delegations").and_then(Value::as_array).cloned().unwrap_or_default() {
        let name = d.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
        let Some(service) = d.pointer("/properties/serviceName").and_then(Value::as_str) else {
            return Err(ArmError::new(
                400,
                "InvalidRequestFormat",
                "A delegation needs properties.serviceName.",
            ));
        };
        let name = if name.is_empty() { "0".to_owned() } else { name };
        delegations.push(json!({
            "name": name,
            "id": format!("{id}/delegations/{name}"),
            "etag": format!("W/\"{}\"", cloud.rng.uuid()),
            "type": "Microsoft.Network/virtualNetworks/subnets/delegations",
            "properties": {
                "serviceName": service,
                "actions": delegation_actions(service),
                "provisioningState": "Succeeded",
            },
        }));
    }
    out.insert("delegations".into(), Value::Array(delegations));
    let mut endpoints = Vec::new();
    for e in p.get("serviceEndpoints").and_then(Value::as_array).cloned().unwrap_or_default() {
        let Some(service) = e.get("service").and_then(Value::as_str) else {
            return Err(ArmError::new(400, "InvalidRequestFormat", "A service endpoint needs service."));
        };
        let locations = e.get("locations").cloned().unwrap_or_else(|| json!([vnet_location]));
        endpoints
            .push(json!({ "service": service, "locations": locations, "provisioningState": "Succeeded" }));
    }
    if !endpoints.is_empty() {
        out.insert("serviceEndpoints".into(), Value::Array(endpoints));
    }
    out.insert(
        "privateEndpointNetworkPolicies".into(),
        p.get("privateEndpointNetworkPolicies").cloned().unwrap_or(json!("Disabled")),
    );
    out.insert(
        "privateLinkServiceNetworkPolicies".into(),
        p.get("privateLinkServiceNetworkPolicies").cloned().unwrap_or(json!("Enabled")),
    );
    let mut body = envelope(Kind::Subnet, id, None, None, out);
    if let Some(obj) = body.as_object_mut() {
        obj.remove("location");
    }
    Ok(body)
}

fn peering(cloud: &Cloud, id: &str, request: &Value) -> Result<Map<String, Value>, ArmError> {
    let p = props(request);
    let Some(remote) = p.get("remoteVirtualNetwork").and_then(|r| r.get("id")).and_then(Value::as_str) else {
        return Err(ArmError::new(
            400,
            "InvalidRequestFormat",
            "A peering needs properties.remoteVirtualNetwork.id.",
        ));
    };
    let Some(remote_vnet) = cloud.resources().get(&key(remote)).filter(|r| r.kind == Kind::VirtualNetwork)
    else {
        return Err(ArmError::new(
            400,
            "InvalidResourceReference",
            format!(
                "Resource {remote} referenced by resource {id} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region."
            ),
        ));
    };
    let space = remote_vnet
        .body
        .pointer("/properties/addressSpace")
        .cloned()
        .unwrap_or(json!({ "addressPrefixes": [] }));
    let flag = |name: &str, default: bool| p.get(name).and_then(Value::as_bool).unwrap_or(default);
    let mut out = Map::new();
    out.insert("remoteVirtualNetwork".into(), json!({ "id": remote_vnet.id }));
    out.insert("allowVirtualNetworkAccess".into(), json!(flag("allowVirtualNetworkAccess", true)));
    out.insert("allowForwardedTraffic".into(), json!(flag("allowForwardedTraffic", false)));
    out.insert("allowGatewayTransit".into(), json!(flag("allowGatewayTransit", false)));
    out.insert("useRemoteGateways".into(), json!(flag("useRemoteGateways", false)));
    out.insert("doNotVerifyRemoteGateways".into(), json!(flag("doNotVerifyRemoteGateways", false)));
    out.insert("peeringState".into(), json!("Initiated"));
    out.insert("peeringSyncLevel".into(), json!("FullyInSync"));
    out.insert("remoteAddressSpace".into(), space.clone());
    out.insert("remoteVirtualNetworkAddressSpace".into(), space);
    Ok(out)
}

fn vnet_of_peering(k: &str) -> String {
    k.rsplit_once("/virtualnetworkpeerings/").map_or_else(|| k.to_owned(), |(v, _)| v.to_owned())
}

fn set_peering_state(cloud: &mut Cloud, k: &str, state: &str) {
    if let Some(r) = cloud.resources_mut().get_mut(k)
        && let Some(p) = r.body.get_mut("properties").and_then(Value::as_object_mut)
    {
        p.insert("peeringState".into(), json!(state));
    }
}

/// The keys of the peerings that point at the vnet `to` (lowercase key), only those defined
/// in the vnet `from` when given.
fn peerings_to(cloud: &Cloud, to: &str, from: Option<&str>) -> Vec<String> {
    cloud
        .resources()
        .values()
        .filter(|p| {
            p.kind == Kind::Peering
                && from.is_none_or(|f| p.parent == f)
                && p.body
                    .pointer("/properties/remoteVirtualNetwork/id")
                    .and_then(Value::as_str)
                    .map(key)
                    .as_deref()
                    == Some(to)
        })
        .map(|p| key(&p.id))
        .collect()
}

/// The peering that points back at `k`'s vnet from its remote vnet, if any.
fn reverse_of(cloud: &Cloud, k: &str) -> Option<String> {
    let r = cloud.resources().get(k)?;
    let remote = key(r.body.pointer("/properties/remoteVirtualNetwork/id")?.as_str()?);
    peerings_to(cloud, &vnet_of_peering(k), Some(&remote)).into_iter().next()
}

/// After a peering is written: both directions present means both are Connected.
pub(crate) fn peering_written(cloud: &mut Cloud, k: &str) {
    if let Some(rev) = reverse_of(cloud, k) {
        set_peering_state(cloud, k, "Connected");
        set_peering_state(cloud, &rev, "Connected");
    }
}

/// After a peering is deleted, the other direction is Disconnected.
pub(crate) fn peering_removed(cloud: &mut Cloud, removed: &crate::cloud::Stored) {
    let Some(remote) = removed.body.pointer("/properties/remoteVirtualNetwork/id").and_then(Value::as_str)
    else {
        return;
    };
    let reverse = peerings_to(cloud, &removed.parent, Some(&key(remote)));
    for r in reverse {
        set_peering_state(cloud, &r, "Disconnected");
    }
}

/// After a vnet is deleted, peerings to it are Disconnected.
pub(crate) fn vnet_removed(cloud: &mut Cloud, vnet: &str) {
    let pointing = peerings_to(cloud, vnet, None);
    for p in pointing {
        set_peering_state(cloud, &p, "Disconnected");
    }
}

const SERVICE_LEVELS: [(&str, f64); 3] = [("Standard", 16.0), ("Premium", 64.0), ("Ultra", 128.0)];

fn capacity_pool(
    cloud: &mut Cloud,
    request: &Value,
    existing: Option<&Value>,
) -> Result<Map<String, Value>, ArmError> {
    let p = props(request);
    let Some(size) = p.get("size").and_then(Value::as_u64) else {
        return Err(ArmError::invalid("properties.size is required: the pool's size in bytes."));
    };
    if size < 4 * TIB || size % TIB != 0 {
        return Err(ArmError::invalid(format!(
            "Invalid value {size} for properties.size: a capacity pool is a whole number of TiB, at least 4 TiB (4398046511104 bytes)."
        )));
    }
    let level = p.get("serviceLevel").and_then(Value::as_str).unwrap_or_default();
    let Some((level, mibps_per_tib)) = SERVICE_LEVELS.iter().find(|(l, _)| l.eq_ignore_ascii_case(level))
    else {
        return Err(ArmError::invalid(format!(
            "Invalid value '{level}' for properties.serviceLevel: expected Standard, Premium or Ultra."
        )));
    };
    if let Some(old) = existing.and_then(|e| e.pointer("/properties/serviceLevel")).and_then(Value::as_str)
        && old != *level
    {
        return Err(ArmError::invalid(format!(
            "The service level of a capacity pool cannot be changed from {old} to {level}; move its volumes to another pool instead."
        )));
    }
    let pool_id = existing
        .and_then(|e| e.pointer("/properties/poolId"))
        .and_then(Value::as_str)
        .map_or_else(|| cloud.rng.uuid(), str::to_owned);
    let qos = p.get("qosType").cloned().unwrap_or(json!("Auto"));
    let tib = (size / TIB) as f64;
    let mut out = Map::new();
    out.insert("poolId".into(), json!(pool_id));
    out.insert("serviceLevel".into(), json!(level));
    out.insert("size".into(), json!(size));
    out.insert("qosType".into(), qos);
    out.insert("coolAccess".into(), p.get("coolAccess").cloned().unwrap_or(json!(false)));
    out.insert("encryptionType".into(), p.get("encryptionType").cloned().unwrap_or(json!("Single")));
    out.insert("totalThroughputMibps".into(), json!(tib * mibps_per_tib));
    out.insert("utilizedThroughputMibps".into(), json!(0.0));
    Ok(out)
}

/// A PATCH request merged onto the stored object (JSON merge patch). Networking PATCH is
/// UpdateTags: only `tags` is taken.
pub(crate) fn merge_patch(kind: Kind, stored: &Value, patch: &Value) -> Value {
    let mut base = stored.clone();
    if kind.style() == crate::arm::Style::AsyncOperation {
        if let (Some(obj), Some(tags)) = (base.as_object_mut(), patch.get("tags")) {
            obj.insert("tags".into(), tags.clone());
        }
        return base;
    }
    merge(&mut base, patch);
    base
}

fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    b.remove(k);
                } else {
                    merge(b.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}
