//! The emulated cloud: every ARM object, the long-running operations in flight, and the rules
//! ARM applies to writes (parents exist, references resolve, values are valid).
//!
//! Design decision: objects are stored as the JSON ARM would return (without the children that
//! ARM inlines, such as a vnet's subnets, which are stored as their own objects and composed on
//! output). Rendering is then a copy, and the on-disk form is the wire form, easy to read in a
//! data directory. The cost is that validation works on `serde_json::Value` rather than typed
//! structs; it is confined to [`crate::kinds`].

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::arm::{ArmError, Kind};
use crate::rng::Rng;

/// One stored object.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Stored {
    pub(crate) id: String,
    pub(crate) kind: Kind,
    /// The lowercase id of the parent (the subscription for resource groups).
    pub(crate) parent: String,
    pub(crate) etag: String,
    pub(crate) body: Value,
}

/// What a long-running operation does when it ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpKind {
    Put,
    Patch,
    Delete,
}

/// A long-running operation.
#[derive(Debug)]
pub(crate) struct Operation {
    pub(crate) key: String,
    pub(crate) kind: Kind,
    pub(crate) op: OpKind,
    polls_left: u32,
    ready_at: Instant,
    fail: bool,
    /// `None` while in progress.
    pub(crate) outcome: Option<Result<(), ArmError>>,
    /// Writes to the object refused while this operation ran (see `require_idle`).
    refused_writes: u32,
    pub(crate) started: u64,
}

/// The on-disk form of the cloud.
#[derive(serde::Serialize, serde::Deserialize)]
struct Disk {
    version: u32,
    resources: Vec<Stored>,
}

/// The emulated cloud.
#[derive(Debug)]
pub(crate) struct Cloud {
    resources: BTreeMap<String, Stored>,
    operations: HashMap<String, Operation>,
    fail_names: Vec<String>,
    pub(crate) rng: Rng,
    lro_polls: u32,
    lro_min: Duration,
    clock: u64,
    /// The Kubernetes objects of the managed clusters, dropped with their cluster.
    pub(crate) kube: crate::kube::Store,
    /// The Run:ai control plane's projects and tokens.
    pub(crate) runai: crate::runai::Store,
    /// The names of the container registries removed since the server last looked: their
    /// content (kept by the server, not here) goes with them.
    pub(crate) removed_registries: Vec<String>,
}

/// How a write went, for the HTTP layer to answer.
#[derive(Debug)]
pub(crate) struct WriteOutcome {
    /// The key of the object written.
    pub(crate) key: String,
    /// True when the object did not exist before.
    pub(crate) created: bool,
    /// The long-running operation tracking the write, if any.
    pub(crate) operation: Option<String>,
}

pub(crate) fn key(id: &str) -> String {
    id.trim_end_matches('/').to_ascii_lowercase()
}

const TERMINAL: [&str; 3] = ["Succeeded", "Failed", "Canceled"];

impl Cloud {
    pub(crate) fn new(seed: u64, lro_polls: u32, lro_min: Duration, fail_names: &[String]) -> Cloud {
        Cloud {
            resources: BTreeMap::new(),
            operations: HashMap::new(),
            fail_names: fail_names.iter().map(|n| n.to_ascii_lowercase()).collect(),
            rng: Rng::new(seed),
            lro_polls,
            lro_min,
            clock: 0,
            kube: crate::kube::Store::new(seed ^ 0x6b75_6265),
            runai: crate::runai::Store::default(),
            removed_registries: Vec::new(),
        }
    }

    /// Loads objects saved by [`Cloud::to_json`]; objects caught mid-operation are settled
    /// (creates and updates succeed, deletes finish).
    pub(crate) fn load(&mut self, text: &str) -> Result<(), serde_json::Error> {
        let disk: Disk = serde_json::from_str(text)?;
        let mut deleting = Vec::new();
        for mut r in disk.resources {
            let k = key(&r.id);
            match provisioning_state(&r.body).as_deref() {
                Some("Deleting") => deleting.push(k.clone()),
                Some(s) if !TERMINAL.contains(&s) => set_provisioning_state(&mut r.body, "Succeeded"),
                _ => {}
            }
            self.resources.insert(k, r);
        }
        for k in deleting {
            self.remove_tree(&k);
        }
        Ok(())
    }

    /// Loads the Kubernetes objects saved by [`Cloud::kube_json`], keeping those of clusters
    /// that still exist.
    pub(crate) fn load_kube(&mut self, text: &str) -> Result<(), serde_json::Error> {
        self.kube.load(text)?;
        let live: std::collections::HashSet<String> = self
            .resources
            .values()
            .filter(|r| r.kind == Kind::ManagedCluster)
            .map(|r| crate::kube::cluster_key(&r.id))
            .collect();
        self.kube.retain_clusters(|k| live.contains(k));
        Ok(())
    }

    /// The Kubernetes objects as saved on disk.
    pub(crate) fn kube_json(&self) -> String {
        self.kube.to_json()
    }

    /// The objects as saved on disk.
    pub(crate) fn to_json(&self) -> String {
        let disk = Disk { version: 1, resources: self.resources.values().cloned().collect() };
        serde_json::to_string_pretty(&disk).unwrap_or_default()
    }

    pub(crate) fn get(&self, id: &str) -> Option<&Stored> {
        self.resources.get(&key(id))
    }

    fn new_etag(&mut self) -> String {
        format!("W/\"{}\"", self.rng.uuid())
    }

    /// The object as ARM returns it, children inlined.
    pub(crate) fn render(&self, k: &str) -> Option<Value> {
        let r = self.resources.get(k)?;
        let mut body = r.body.clone();
        if r.kind == Kind::VirtualNetwork {
            let children = |kind: Kind| -> Vec<Value> {
                self.children(k).filter(|c| c.kind == kind).map(|c| c.body.clone()).collect()
            };
            if let Some(props) = body.get_mut("properties").and_then(Value::as_object_mut) {
                props.insert("subnets".into(), Value::Array(children(Kind::Subnet)));
                props.insert("virtualNetworkPeerings".into(), Value::Array(children(Kind::Peering)));
            }
        }
        if r.kind == Kind::ManagedCluster {
            // AKS inlines every agent pool as a profile: its properties with its name.
            let profiles: Vec<Value> = self
                .children(k)
                .filter(|c| c.kind == Kind::AgentPool)
                .map(|c| {
                    let mut p = c.body.get("properties").cloned().unwrap_or_else(|| json!({}));
                    if let Some(obj) = p.as_object_mut() {
                        obj.insert("name".into(), json!(crate::kinds::name_of(&c.id)));
                    }
                    p
                })
                .collect();
            if let Some(props) = body.get_mut("properties").and_then(Value::as_object_mut) {
                props.insert("agentPoolProfiles".into(), Value::Array(profiles));
            }
        }
        Some(body)
    }

    fn children<'a>(&'a self, parent: &'a str) -> impl Iterator<Item = &'a Stored> + 'a {
        self.resources.values().filter(move |r| r.parent == parent)
    }

    /// The objects of `kind` directly under `parent`, in id order.
    pub(crate) fn list(&self, kind: Kind, parent: &str) -> Result<Vec<Value>, ArmError> {
        let pk = key(parent);
        if kind != Kind::ResourceGroup {
            self.require_parent(kind, parent)?;
        }
        Ok(self
            .resources
            .iter()
            .filter(|(_, r)| r.kind == kind && r.parent == pk)
            .filter_map(|(k, _)| self.render(k))
            .collect())
    }

    /// Checks that the resource group and the parent of an object exist.
    pub(crate) fn require_parent(&self, kind: Kind, parent: &str) -> Result<(), ArmError> {
        let Some(parent_kind) = kind.parent() else { return Ok(()) };
        let pk = key(parent);
        if parent_kind != Kind::ResourceGroup {
            let rg = resource_group_of(&pk);
            if !self.resources.contains_key(&rg) {
                return Err(ArmError::not_found(Kind::ResourceGroup, &rg));
            }
        }
        if self.resources.contains_key(&pk) {
            return Ok(());
        }
        Err(match parent_kind {
            Kind::ResourceGroup => ArmError::not_found(Kind::ResourceGroup, parent),
            _ => ArmError::new(
                404,
                "ParentResourceNotFound",
                format!(
                    "Can not perform requested operation on nested resource. Parent resource '{}' not found.",
                    parent.rsplit('/').next().unwrap_or(parent)
                ),
            ),
        })
    }

    /// Fails with 409 while an operation on the object is in flight. Every write refused so
    /// after the first counts as a poll of it: ARM's operations run on without anyone polling,
    /// so a client that lost the answer (a reset connection) and writes again sees the
    /// operation end, as time would end it on ARM; the first refusal keeps "busy while it
    /// runs" observable.
    fn require_idle(&mut self, k: &str) -> Result<(), ArmError> {
        let pending: Vec<(String, u32)> = self
            .operations
            .iter()
            .filter(|(_, op)| op.key == k && op.outcome.is_none())
            .map(|(id, op)| (id.clone(), op.refused_writes))
            .collect();
        for (id, refused) in &pending {
            if *refused > 0 {
                self.advance(id, true);
            }
        }
        let busy = self
            .resources
            .get(k)
            .and_then(|r| provisioning_state(&r.body))
            .is_some_and(|s| !TERMINAL.contains(&s.as_str()));
        if busy {
            for (id, _) in &pending {
                if let Some(op) = self.operations.get_mut(id) {
                    op.refused_writes += 1;
                }
            }
            return Err(ArmError::new(
                409,
                "AnotherOperationInProgress",
                format!("Another operation on this or dependent resource is in progress. Resource: {k}"),
            ));
        }
        Ok(())
    }

    /// PUT (create or replace) or PATCH (merge) an object. `body` is the request body.
    pub(crate) fn write(
        &mut self,
        kind: Kind,
        id: &str,
        name: &str,
        parent: &str,
        body: &Value,
        patch: bool,
    ) -> Result<WriteOutcome, ArmError> {
        self.require_parent(kind, parent)?;
        let k = key(id);
        let existing = self.resources.get(&k).cloned();
        if patch && existing.is_none() {
            return Err(ArmError::not_found(kind, id));
        }
        self.require_idle(&k)?;
        if !body.is_object() {
            return Err(ArmError::new(
                400,
                "InvalidRequestContent",
                "The request content was invalid and could not be deserialized.",
            ));
        }
        let request = match (&existing, patch) {
            (Some(old), true) => crate::kinds::merge_patch(kind, &old.body, body),
            _ => body.clone(),
        };
        let canonical_id =
            existing.as_ref().map_or_else(|| canonical_id(self, kind, id, name, parent), |e| e.id.clone());
        let built =
            crate::kinds::build(self, kind, &canonical_id, &request, existing.as_ref().map(|e| &e.body))?;
        let created = existing.is_none();
        let lro = kind.style() != crate::arm::Style::Sync
            && !(patch && kind.style() == crate::arm::Style::AsyncOperation);
        let fail = lro && self.take_failure(name);
        let mut stored_body = built.body;
        let state = if !lro {
            "Succeeded"
        } else if kind.style() == crate::arm::Style::Location
            || matches!(kind, Kind::ManagedCluster | Kind::AgentPool | Kind::Registry)
        {
            // NetApp, AKS and ACR say Creating while they create; networking says Updating.
            if created { "Creating" } else { "Updating" }
        } else {
            "Updating"
        };
        let etag = self.new_etag();
        if kind != Kind::ResourceGroup
            && let Some(obj) = stored_body.as_object_mut()
        {
            obj.insert("etag".into(), json!(etag));
        }
        set_provisioning_state(&mut stored_body, state);
        self.resources.insert(
            k.clone(),
            Stored { id: canonical_id.clone(), kind, parent: key(parent), etag, body: stored_body },
        );
        for (child_kind, child_id, child_body) in built.children {
            let ck = key(&child_id);
            let etag = self.resources.get(&ck).map(|c| c.etag.clone()).unwrap_or_else(|| self.new_etag());
            let mut child_body = child_body;
            if let Some(obj) = child_body.as_object_mut() {
                obj.insert("etag".into(), json!(etag));
            }
            set_provisioning_state(&mut child_body, "Succeeded");
            self.resources.insert(
                ck,
                Stored { id: child_id, kind: child_kind, parent: k.clone(), etag, body: child_body },
            );
        }
        for gone in built.removed_children {
            self.remove_tree(&gone);
        }
        self.after_write(kind, &k);
        if kind == Kind::ManagedCluster && created {
            self.create_node_network(&k)?;
        }
        let operation =
            lro.then(|| self.start(k.clone(), kind, if patch { OpKind::Patch } else { OpKind::Put }, fail));
        Ok(WriteOutcome { key: k, created, operation })
    }

    /// AKS's own network: a cluster whose system pool names no subnet gets, as on Azure, a
    /// virtual network `aks-vnet-<8 digits>` with the subnet `aks-subnet` in its node resource
    /// group, which AKS owns and deletes with the cluster. (The runbook adds the ANF subnet to
    /// exactly this vnet.)
    fn create_node_network(&mut self, cluster_key: &str) -> Result<(), ArmError> {
        let Some(cluster) = self.resources.get(cluster_key).map(|r| (r.id.clone(), r.body.clone())) else {
            return Ok(());
        };
        let (cluster_id, body) = cluster;
        let on_own_subnet = self.children(cluster_key).any(|pool| {
            pool.kind == Kind::AgentPool
                && pool
                    .body
                    .pointer("/properties/vnetSubnetID")
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty())
        });
        let node_rg = body.pointer("/properties/nodeResourceGroup").and_then(Value::as_str);
        let (Some(node_rg), false) = (node_rg, on_own_subnet) else { return Ok(()) };
        let subscription = cluster_id.split('/').nth(2).unwrap_or_default().to_owned();
        let location = body.get("location").cloned().unwrap_or(Value::Null);
        // Eight digits derived from the cluster's id, as stable as Azure's are for a cluster.
        let digits = cluster_key.bytes().fold(17u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
            % 100_000_000;
        let rg_id = format!("/subscriptions/{subscription}/resourceGroups/{node_rg}");
        let vnet_name = format!("aks-vnet-{digits:08}");
        let vnet_id = format!("{rg_id}/providers/Microsoft.Network/virtualNetworks/{vnet_name}");
        let objects = [
            (
                Kind::ResourceGroup,
                rg_id.clone(),
                node_rg.to_owned(),
                format!("/subscriptions/{subscription}"),
                json!({ "location": location, "managedBy": cluster_id }),
            ),
            (
                Kind::VirtualNetwork,
                vnet_id.clone(),
                vnet_name,
                rg_id,
                json!({ "location": location, "properties": { "addressSpace": { "addressPrefixes": ["10.224.0.0/12"] } } }),
            ),
            (
                Kind::Subnet,
                format!("{vnet_id}/subnets/aks-subnet"),
                "aks-subnet".to_owned(),
                vnet_id,
                json!({ "properties": { "addressPrefixes": ["10.224.0.0/16"] } }),
            ),
        ];
        for (kind, id, name, parent, body) in objects {
            let outcome = self.write(kind, &id, &name, &parent, &body, false)?;
            // Made by AKS while the cluster is created: they are there when it is.
            if let Some(op) = outcome.operation {
                self.settle(&op);
            }
        }
        Ok(())
    }

    /// Ends an operation now, as if its time and polls were spent.
    fn settle(&mut self, op_id: &str) {
        if let Some(op) = self.operations.get_mut(op_id) {
            op.polls_left = 0;
            op.ready_at = Instant::now();
        }
        self.advance(op_id, false);
    }

    /// DELETE: marks the object `Deleting` and starts the operation that removes it and its
    /// children. `Ok(None)` when there was nothing to delete.
    pub(crate) fn delete(&mut self, kind: Kind, id: &str, parent: &str) -> Result<Option<String>, ArmError> {
        let k = key(id);
        if kind != Kind::ResourceGroup {
            let rg = resource_group_of(&k);
            if !self.resources.contains_key(&rg) {
                return Err(ArmError::not_found(Kind::ResourceGroup, &rg));
            }
        }
        let _ = parent;
        let Some(r) = self.resources.get_mut(&k) else {
            return match kind {
                Kind::ResourceGroup => Err(ArmError::not_found(kind, id)),
                _ => Ok(None),
            };
        };
        if provisioning_state(&r.body).as_deref() == Some("Deleting") {
            // A repeated delete joins the one in flight.
            let existing = self
                .operations
                .iter()
                .find(|(_, o)| o.key == k && o.outcome.is_none())
                .map(|(id, _)| id.clone());
            if let Some(op) = existing {
                return Ok(Some(op));
            }
        }
        if matches!(kind, Kind::NetAppAccount | Kind::CapacityPool)
            && let Some(child) = self.children(&k).next()
        {
            // NetApp refuses to delete an account or pool that still holds pools or volumes.
            return Err(ArmError::new(
                409,
                "CannotDeleteResource",
                format!(
                    "Can not delete resource before nested resources are deleted. Some existing nested resource IDs include: '{}'.",
                    child.id
                ),
            ));
        }
        self.require_idle(&k)?;
        if let Some(r) = self.resources.get_mut(&k) {
            set_provisioning_state(&mut r.body, "Deleting");
        }
        Ok(Some(self.start(k, kind, OpKind::Delete, false)))
    }

    fn take_failure(&mut self, name: &str) -> bool {
        let lower = name.to_ascii_lowercase();
        match self.fail_names.iter().position(|n| *n == lower) {
            Some(i) => {
                self.fail_names.remove(i);
                true
            }
            None => false,
        }
    }

    fn start(&mut self, k: String, kind: Kind, op: OpKind, fail: bool) -> String {
        let id = self.rng.uuid();
        self.clock += 1;
        let operation = Operation {
            key: k,
            kind,
            op,
            polls_left: if op == OpKind::Delete {
                self.lro_polls
            } else {
                self.lro_polls + kind.extra_polls()
            },
            ready_at: Instant::now()
                + if op == OpKind::Delete { self.lro_min } else { self.lro_min * kind.duration_weight() },
            fail,
            outcome: None,
            refused_writes: 0,
            started: self.clock,
        };
        self.operations.insert(id.clone(), operation);
        self.advance(&id, false);
        id
    }

    /// Looks at an operation once (a poll), ending it when its polls and time are spent.
    pub(crate) fn poll(&mut self, op_id: &str) -> Option<&Operation> {
        self.advance(op_id, true);
        self.operations.get(op_id)
    }

    fn advance(&mut self, op_id: &str, polled: bool) {
        let Some(op) = self.operations.get_mut(op_id) else { return };
        if op.outcome.is_some() {
            return;
        }
        if polled && op.polls_left > 0 {
            op.polls_left -= 1;
        }
        if op.polls_left > 0 || Instant::now() < op.ready_at {
            return;
        }
        let (k, kind, what, fail) = (op.key.clone(), op.kind, op.op, op.fail);
        let outcome = if fail {
            Err(ArmError::new(
                200,
                "InternalServerError",
                format!("The operation on '{k}' failed (injected failure)."),
            ))
        } else {
            Ok(())
        };
        match what {
            OpKind::Delete => self.remove_tree(&k),
            OpKind::Put | OpKind::Patch => {
                if let Some(r) = self.resources.get_mut(&k) {
                    set_provisioning_state(&mut r.body, if fail { "Failed" } else { "Succeeded" });
                }
            }
        }
        let _ = kind;
        if let Some(op) = self.operations.get_mut(op_id) {
            op.outcome = Some(outcome);
        }
    }

    /// Moves a volume to another pool (`poolChange`) and starts the operation that tracks it.
    pub(crate) fn pool_change(&mut self, volume_id: &str, request: &Value) -> Result<String, ArmError> {
        self.require_idle(&key(volume_id))?;
        let k = crate::workloads::pool_change(self, volume_id, request)?;
        let etag = self.new_etag();
        if let Some(r) = self.resources.get_mut(&k) {
            r.etag = etag.clone();
            if let Some(obj) = r.body.as_object_mut() {
                obj.insert("etag".into(), json!(etag));
            }
            set_provisioning_state(&mut r.body, "Updating");
        }
        Ok(self.start(k, Kind::Volume, OpKind::Patch, false))
    }

    /// Removes an object and everything under it, and disconnects peerings to removed vnets.
    pub(crate) fn remove_tree(&mut self, k: &str) {
        let prefix = format!("{k}/");
        let gone: Vec<String> =
            self.resources.keys().filter(|r| *r == k || r.starts_with(&prefix)).cloned().collect();
        let mut removed = Vec::new();
        for g in gone {
            if let Some(r) = self.resources.remove(&g) {
                removed.push(r);
            }
        }
        for r in &removed {
            match r.kind {
                Kind::Peering => crate::kinds::peering_removed(self, r),
                Kind::VirtualNetwork => crate::kinds::vnet_removed(self, &key(&r.id)),
                // AKS deletes its node resource group (and the network in it) with the cluster,
                // and its API server's objects are gone.
                Kind::ManagedCluster => {
                    self.kube.drop_cluster(&crate::kube::cluster_key(&r.id));
                    if let Some(node_rg) =
                        r.body.pointer("/properties/nodeResourceGroup").and_then(Value::as_str)
                    {
                        let subscription = r.id.split('/').nth(2).unwrap_or_default();
                        self.remove_tree(&key(&format!(
                            "/subscriptions/{subscription}/resourceGroups/{node_rg}"
                        )));
                    }
                }
                Kind::Registry => self.removed_registries.push(crate::kinds::name_of(&r.id).to_owned()),
                Kind::ResourceGroup
                | Kind::Subnet
                | Kind::NetAppAccount
                | Kind::CapacityPool
                | Kind::Volume
                | Kind::AgentPool
                | Kind::RoleAssignment => {}
            }
        }
    }

    fn after_write(&mut self, kind: Kind, k: &str) {
        if kind == Kind::Peering {
            crate::kinds::peering_written(self, k);
        }
    }

    pub(crate) fn resources_mut(&mut self) -> &mut BTreeMap<String, Stored> {
        &mut self.resources
    }

    pub(crate) fn resources(&self) -> &BTreeMap<String, Stored> {
        &self.resources
    }
}

fn canonical_id(cloud: &Cloud, kind: Kind, id: &str, name: &str, parent: &str) -> String {
    // Ids keep the casing of their parent's id as first created, and the name as first written.
    match cloud.resources.get(&key(parent)) {
        Some(p) => match kind {
            Kind::VirtualNetwork
            | Kind::NetAppAccount
            | Kind::ManagedCluster
            | Kind::Registry
            | Kind::RoleAssignment => {
                format!("{}/providers/{}/{}/{name}", p.id, kind.namespace(), kind.segment())
            }
            Kind::Subnet | Kind::Peering | Kind::CapacityPool | Kind::Volume | Kind::AgentPool => {
                format!("{}/{}/{name}", p.id, kind.segment())
            }
            Kind::ResourceGroup => id.to_owned(),
        },
        None => id.to_owned(),
    }
}

/// The lowercase id of the resource group an id lies in.
pub(crate) fn resource_group_of(k: &str) -> String {
    let segs: Vec<&str> = k.split('/').collect();
    segs.iter().take(5).copied().collect::<Vec<_>>().join("/")
}

pub(crate) fn provisioning_state(body: &Value) -> Option<String> {
    body.pointer("/properties/provisioningState").and_then(Value::as_str).map(str::to_owned)
}

pub(crate) fn set_provisioning_state(body: &mut Value, state: &str) {
    if let Some(obj) = body.as_object_mut() {
        let props = obj.entry("properties").or_insert_with(|| json!({}));
        if let Some(p) = props.as_object_mut() {
            p.insert("provisioningState".into(), json!(state));
        }
    }
}
