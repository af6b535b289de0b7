//! ARM's vocabulary: resource kinds, request paths and the error envelope.

use serde_json::{Value, json};

/// The resource types the emulator serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum Kind {
    /// `Microsoft.Resources/resourceGroups`.
    ResourceGroup,
    /// `Microsoft.Network/virtualNetworks`.
    VirtualNetwork,
    /// `Microsoft.Network/virtualNetworks/subnets`.
    Subnet,
    /// `Microsoft.Network/virtualNetworks/virtualNetworkPeerings`.
    Peering,
    /// `Microsoft.NetApp/netAppAccounts`.
    NetAppAccount,
    /// `Microsoft.NetApp/netAppAccounts/capacityPools`.
    CapacityPool,
    /// `Microsoft.NetApp/netAppAccounts/capacityPools/volumes`.
    Volume,
    /// `Microsoft.ContainerService/managedClusters`.
    ManagedCluster,
    /// `Microsoft.ContainerService/managedClusters/agentPools`.
    AgentPool,
    /// `Microsoft.ContainerRegistry/registries`.
    Registry,
    /// `Microsoft.Authorization/roleAssignments`, an extension resource under any scope.
    RoleAssignment,
}

/// How a kind's writes complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Style {
    /// Synchronous PUT; DELETE is 202 + `Location` (resource groups).
    Sync,
    /// PUT is 201/200 + `Azure-AsyncOperation`; DELETE 202 + both headers (networking).
    AsyncOperation,
    /// PUT is 201 + `Azure-AsyncOperation`; PATCH and DELETE are 202 + `Location` (NetApp).
    Location,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 11] = [
        Kind::ResourceGroup,
        Kind::VirtualNetwork,
        Kind::Subnet,
        Kind::Peering,
        Kind::NetAppAccount,
        Kind::CapacityPool,
        Kind::Volume,
        Kind::ManagedCluster,
        Kind::AgentPool,
        Kind::Registry,
        Kind::RoleAssignment,
    ];

    /// The resource provider namespace, in ARM's casing.
    pub fn namespace(self) -> &'static str {
        match self {
            Kind::ResourceGroup => "Microsoft.Resources",
            Kind::VirtualNetwork | Kind::Subnet | Kind::Peering => "Microsoft.Network",
            Kind::NetAppAccount | Kind::CapacityPool | Kind::Volume => "Microsoft.NetApp",
            Kind::ManagedCluster | Kind::AgentPool => "Microsoft.ContainerService",
            Kind::Registry => "Microsoft.ContainerRegistry",
            Kind::RoleAssignment => "Microsoft.Authorization",
        }
    }

    /// The full type, as in a resource's `type` property.
    pub fn type_name(self) -> &'static str {
        match self {
            Kind::ResourceGroup => "Microsoft.Resources/resourceGroups",
            Kind::VirtualNetwork => "Microsoft.Network/virtualNetworks",
            Kind::Subnet => "Microsoft.Network/virtualNetworks/subnets",
            Kind::Peering => "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
            Kind::NetAppAccount => "Microsoft.NetApp/netAppAccounts",
            Kind::CapacityPool => "Microsoft.NetApp/netAppAccounts/capacityPools",
            Kind::Volume => "Microsoft.NetApp/netAppAccounts/capacityPools/volumes",
            Kind::ManagedCluster => "Microsoft.ContainerService/managedClusters",
            Kind::AgentPool => "Microsoft.ContainerService/managedClusters/agentPools",
            Kind::Registry => "Microsoft.ContainerRegistry/registries",
            Kind::RoleAssignment => "Microsoft.Authorization/roleAssignments",
        }
    }

    /// The last segment of the type, as it appears in ids.
    pub(crate) fn segment(self) -> &'static str {
        self.type_name().rsplit('/').next().unwrap_or_default()
    }

    /// The kind this one is a child of (resource groups are nobody's child here). A role
    /// assignment's parent is its scope, a resource group or any resource; it is checked as
    /// a resource group is (it must exist).
    pub fn parent(self) -> Option<Kind> {
        match self {
            Kind::ResourceGroup => None,
            Kind::VirtualNetwork
            | Kind::NetAppAccount
            | Kind::ManagedCluster
            | Kind::Registry
            | Kind::RoleAssignment => Some(Kind::ResourceGroup),
            Kind::Subnet | Kind::Peering => Some(Kind::VirtualNetwork),
            Kind::CapacityPool => Some(Kind::NetAppAccount),
            Kind::Volume => Some(Kind::CapacityPool),
            Kind::AgentPool => Some(Kind::ManagedCluster),
        }
    }

    /// The POST actions this kind answers (lowercase), e.g. a volume's `poolChange`.
    pub(crate) fn actions(self) -> &'static [&'static str] {
        match self {
            Kind::Volume => &["poolchange"],
            Kind::ManagedCluster => &["listclusterusercredential"],
            Kind::Registry => &["listcredentials"],
            Kind::ResourceGroup
            | Kind::VirtualNetwork
            | Kind::Subnet
            | Kind::Peering
            | Kind::NetAppAccount
            | Kind::CapacityPool
            | Kind::AgentPool
            | Kind::RoleAssignment => &[],
        }
    }

    /// How many times the configured least operation time ([`crate::config::Latency`]'s
    /// `operation`) a create or update of this kind takes: with the realistic profile (5 s) at
    /// factor 1, a managed cluster takes 6 minutes (the seed's "5 to 10 minutes"), an agent pool
    /// 3, a volume 1, the rest 5 seconds.
    pub(crate) fn duration_weight(self) -> u32 {
        match self {
            Kind::ManagedCluster => 72,
            Kind::AgentPool => 36,
            Kind::Volume => 12,
            Kind::ResourceGroup
            | Kind::VirtualNetwork
            | Kind::Subnet
            | Kind::Peering
            | Kind::NetAppAccount
            | Kind::CapacityPool
            | Kind::Registry
            | Kind::RoleAssignment => 1,
        }
    }

    /// Extra polls a write of this kind takes before it ends, on top of the configured ones:
    /// a managed cluster provisions for minutes.
    pub(crate) fn extra_polls(self) -> u32 {
        match self {
            Kind::ManagedCluster => 3,
            Kind::AgentPool => 2,
            Kind::ResourceGroup
            | Kind::VirtualNetwork
            | Kind::Subnet
            | Kind::Peering
            | Kind::NetAppAccount
            | Kind::CapacityPool
            | Kind::Volume
            | Kind::Registry
            | Kind::RoleAssignment => 0,
        }
    }

    pub(crate) fn style(self) -> Style {
        match self {
            Kind::ResourceGroup | Kind::RoleAssignment => Style::Sync,
            Kind::VirtualNetwork
            | Kind::Subnet
            | Kind::Peering
            | Kind::ManagedCluster
            | Kind::AgentPool
            | Kind::Registry => Style::AsyncOperation,
            Kind::NetAppAccount | Kind::CapacityPool | Kind::Volume => Style::Location,
        }
    }

    /// Whether resources of this kind have a `location`.
    pub(crate) fn located(self) -> bool {
        matches!(
            self,
            Kind::ResourceGroup
                | Kind::VirtualNetwork
                | Kind::NetAppAccount
                | Kind::CapacityPool
                | Kind::Volume
                | Kind::ManagedCluster
                | Kind::Registry
        )
    }

    fn top_level(namespace: &str, segment: &str) -> Result<Kind, ArmError> {
        let ns = namespace.to_ascii_lowercase();
        let seg = segment.to_ascii_lowercase();
        match (ns.as_str(), seg.as_str()) {
            ("microsoft.network", "virtualnetworks") => Ok(Kind::VirtualNetwork),
            ("microsoft.netapp", "netappaccounts") => Ok(Kind::NetAppAccount),
            ("microsoft.containerservice", "managedclusters") => Ok(Kind::ManagedCluster),
            ("microsoft.containerregistry", "registries") => Ok(Kind::Registry),
            ("microsoft.authorization", "roleassignments") => Ok(Kind::RoleAssignment),
            (
                "microsoft.network"
                | "microsoft.netapp"
                | "microsoft.resources"
                | "microsoft.containerservice"
                | "microsoft.containerregistry"
                | "microsoft.authorization",
                _,
            ) => Err(ArmError::invalid_resource_type(namespace, segment)),
            _ => Err(ArmError::unknown_namespace(namespace)),
        }
    }

    fn child(parent: Kind, segment: &str) -> Result<Kind, ArmError> {
        match (parent, segment.to_ascii_lowercase().as_str()) {
            (Kind::VirtualNetwork, "subnets") => Ok(Kind::Subnet),
            (Kind::VirtualNetwork, "virtualnetworkpeerings") => Ok(Kind::Peering),
            (Kind::NetAppAccount, "capacitypools") => Ok(Kind::CapacityPool),
            (Kind::CapacityPool, "volumes") => Ok(Kind::Volume),
            (Kind::ManagedCluster, "agentpools") => Ok(Kind::AgentPool),
            _ => Err(ArmError::invalid_resource_type(
                parent.namespace(),
                &format!("{}/{segment}", parent.segment()),
            )),
        }
    }
}

/// What a request path names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// A collection: the resources of `kind` under `parent` (an id, or the subscription).
    List { subscription: String, kind: Kind, parent: String },
    /// One resource, by id as written in the request.
    Item { subscription: String, kind: Kind, id: String, name: String, parent: String },
    /// A POST action on one resource (`poolChange`, `listClusterUserCredential`).
    Action { subscription: String, kind: Kind, id: String, action: String },
    /// A long-running operation's status (`Azure-AsyncOperation`) or result (`Location`).
    Operation { subscription: String, id: String, result: bool },
    /// The token endpoint of a tenant.
    Token { tenant: String },
    /// A managed identity's token endpoint: the instance metadata service's
    /// (`/metadata/identity/oauth2/token`) or App Service's (`/msi/token`).
    IdentityToken,
}

impl Target {
    /// Parses a request path (without the query).
    pub(crate) fn parse(path: &str) -> Result<Target, ArmError> {
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
        let l: Vec<&str> = lower.iter().map(String::as_str).collect();
        let not_found =
            || ArmError::new(404, "NotFound", format!("The requested path '{path}' was not found."));
        match l.as_slice() {
            [_, "oauth2", "v2.0", "token"] => Ok(Target::Token { tenant: segs[0].to_owned() }),
            ["metadata", "identity", "oauth2", "token"] | ["msi", "token"] => Ok(Target::IdentityToken),
            ["subscriptions", _, "resourcegroups"] => Ok(Target::List {
                subscription: segs[1].to_owned(),
                kind: Kind::ResourceGroup,
                parent: format!("/subscriptions/{}", segs[1]),
            }),
            ["subscriptions", _, "resourcegroups", _] => Ok(Target::Item {
                subscription: segs[1].to_owned(),
                kind: Kind::ResourceGroup,
                id: format!("/subscriptions/{}/resourceGroups/{}", segs[1], segs[3]),
                name: segs[3].to_owned(),
                parent: format!("/subscriptions/{}", segs[1]),
            }),
            [
                "subscriptions",
                _,
                "providers",
                _,
                "locations",
                _,
                op @ ("operations" | "operationresults"),
                _,
            ] => Ok(Target::Operation {
                subscription: segs[1].to_owned(),
                id: segs[7].to_owned(),
                result: *op == "operationresults",
            }),
            ["subscriptions", _, "resourcegroups", _, "providers", rest @ ..] if !rest.is_empty() => {
                let rg = format!("/subscriptions/{}/resourceGroups/{}", segs[1], segs[3]);
                let raw = &segs[5..];
                let subscription = segs[1].to_owned();
                match raw {
                    [_] => Err(not_found()),
                    [ns, t] => {
                        let kind = Kind::top_level(ns, t)?;
                        Ok(Target::List { subscription, kind, parent: rg })
                    }
                    [ns, t, n, rest @ ..] => {
                        let kind = Kind::top_level(ns, t)?;
                        let id = format!("{rg}/providers/{}/{}/{n}", kind.namespace(), kind.segment());
                        nested(subscription, kind, id, (*n).to_owned(), rg, rest).ok_or_else(not_found)?
                    }
                    [] => Err(not_found()),
                }
            }
            _ => Err(not_found()),
        }
    }
}

/// What the segments after a resource name (`rest`) name: the resource itself, a collection
/// of its children, a child (recursively), an action on it, or an extension resource (a role
/// assignment) under it. `None` when the path is malformed.
fn nested(
    subscription: String,
    kind: Kind,
    id: String,
    name: String,
    parent: String,
    rest: &[&str],
) -> Option<Result<Target, ArmError>> {
    Some(match rest {
        [] => Ok(Target::Item { subscription, kind, id, name, parent }),
        [seg] if kind.actions().contains(&seg.to_ascii_lowercase().as_str()) => {
            Ok(Target::Action { subscription, kind, id, action: seg.to_ascii_lowercase() })
        }
        [p, ns, t, more @ ..] if p.eq_ignore_ascii_case("providers") => {
            let ext = match Kind::top_level(ns, t) {
                Ok(k @ Kind::RoleAssignment) => k,
                Ok(_) => return Some(Err(ArmError::invalid_resource_type(ns, t))),
                Err(e) => return Some(Err(e)),
            };
            match more {
                [] => Ok(Target::List { subscription, kind: ext, parent: id }),
                [n] => {
                    let child = format!("{id}/providers/{}/{}/{n}", ext.namespace(), ext.segment());
                    Ok(Target::Item { subscription, kind: ext, id: child, name: (*n).to_owned(), parent: id })
                }
                _ => return None,
            }
        }
        [ct] => Kind::child(kind, ct).map(|child| Target::List { subscription, kind: child, parent: id }),
        [ct, cn, more @ ..] => match Kind::child(kind, ct) {
            Err(e) => Err(e),
            Ok(child) => {
                let cid = format!("{id}/{}/{cn}", child.segment());
                return nested(subscription, child, cid, (*cn).to_owned(), id, more);
            }
        },
    })
}

/// An ARM error: an HTTP status and the `{"error":{"code","message"}}` envelope.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ArmError {
    /// The HTTP status.
    pub status: u16,
    /// ARM's error code.
    pub code: String,
    /// The message.
    pub message: String,
}

impl ArmError {
    /// An error with this status, code and message.
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> ArmError {
        ArmError { status, code: code.to_owned(), message: message.into() }
    }

    /// The JSON envelope.
    pub fn body(&self) -> Value {
        json!({ "error": { "code": self.code, "message": self.message, "details": [] } })
    }

    pub(crate) fn invalid(message: impl Into<String>) -> ArmError {
        ArmError::new(400, "InvalidParameter", message)
    }

    pub(crate) fn invalid_resource_type(namespace: &str, ty: &str) -> ArmError {
        ArmError::new(
            404,
            "InvalidResourceType",
            format!("The resource type '{ty}' could not be found in the namespace '{namespace}'."),
        )
    }

    pub(crate) fn unknown_namespace(namespace: &str) -> ArmError {
        ArmError::new(
            404,
            "InvalidResourceNamespace",
            format!("The resource namespace '{namespace}' is invalid."),
        )
    }

    pub(crate) fn not_found(kind: Kind, id: &str) -> ArmError {
        match kind {
            Kind::ResourceGroup => ArmError::new(
                404,
                "ResourceGroupNotFound",
                format!("Resource group '{}' could not be found.", last_segment(id)),
            ),
            _ => ArmError::new(
                404,
                "ResourceNotFound",
                format!("The Resource '{}' under resource group was not found.", type_and_name(kind, id)),
            ),
        }
    }
}

fn last_segment(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

fn type_and_name(kind: Kind, id: &str) -> String {
    format!("{}/{}", kind.type_name(), last_segment(id))
}

/// The canonical form of a location: lowercase without spaces (`West Europe` -> `westeurope`).
pub fn normalize_location(location: &str) -> String {
    location.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_case_insensitively() {
        let t = Target::parse(
            "/SUBSCRIPTIONS/s/resourcegroups/rg/providers/microsoft.network/VIRTUALNETWORKS/v/Subnets/a",
        )
        .unwrap();
        assert_eq!(
            t,
            Target::Item {
                subscription: "s".into(),
                kind: Kind::Subnet,
                id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/a"
                    .into(),
                name: "a".into(),
                parent: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v".into(),
            }
        );
        let e = Target::parse("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Nope/things/x")
            .unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (404, "InvalidResourceNamespace"));
        let e = Target::parse("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/things/x")
            .unwrap_err();
        assert_eq!(e.code, "InvalidResourceType");
        assert!(matches!(Target::parse("/t/oauth2/v2.0/token"), Ok(Target::Token { .. })));
        assert!(matches!(Target::parse("/metadata/identity/oauth2/token"), Ok(Target::IdentityToken)));
        assert!(matches!(Target::parse("/MSI/token"), Ok(Target::IdentityToken)));
    }

    #[test]
    fn grandchildren_actions_and_extension_resources_parse() {
        let pool =
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.NetApp/netAppAccounts/a/capacityPools/p";
        let t = Target::parse(&format!("{pool}/volumes/v/POOLCHANGE")).unwrap();
        assert!(matches!(t, Target::Action { kind: Kind::Volume, ref action, .. } if action == "poolchange"));
        let t = Target::parse(&format!("{pool}/volumes/v")).unwrap();
        assert!(
            matches!(t, Target::Item { kind: Kind::Volume, ref parent, .. } if parent.ends_with("/capacityPools/p"))
        );
        let acr = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r";
        let t = Target::parse(&format!("{acr}/providers/Microsoft.Authorization/roleAssignments/g")).unwrap();
        assert_eq!(
            t,
            Target::Item {
                subscription: "s".into(),
                kind: Kind::RoleAssignment,
                id: format!("{acr}/providers/Microsoft.Authorization/roleAssignments/g"),
                name: "g".into(),
                parent: acr.into(),
            }
        );
        let e = Target::parse(&format!("{acr}/providers/Microsoft.Network/virtualNetworks/x")).unwrap_err();
        assert_eq!(e.code, "InvalidResourceType");
    }

    #[test]
    fn locations_normalise() {
        assert_eq!(normalize_location("West Europe"), "westeurope");
    }
}
