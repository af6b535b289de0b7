//! lanestack's local cloud: a real HTTP server on loopback that speaks Azure Resource Manager.
//!
//! [`Emulator::start`] binds a free loopback port and serves, on one port:
//!
//! - ARM's REST API for resource groups, virtual networks, subnets, vnet peerings, NetApp
//!   accounts, capacity pools and volumes, AKS managed clusters and agent pools, container
//!   registries and role assignments ([`arm::Kind`]): PUT, PATCH, GET, DELETE, list and the
//!   POST actions `poolChange`, `listClusterUserCredential` and `listCredentials`, with ARM's ids, error envelope
//!   and codes, long-running operations in its three styles, ETags and referential checks;
//! - Entra ID's token endpoint (`POST /{tenant}/oauth2/v2.0/token`, client credentials), whose
//!   opaque tokens every ARM call must carry;
//! - the Kubernetes API of every AKS managed cluster, under `/k8s/{cluster-key}`
//!   ([`kubernetes_cluster_key`], [`Emulator::kubernetes_server`]), where the cluster's
//!   `listClusterUserCredential` kubeconfig points (with the emulator's CA over HTTPS): the
//!   built-in kinds a platform stack applies (namespaces, secrets, configmaps, serviceaccounts,
//!   services, persistentvolumeclaims, persistentvolumes, Deployments, Jobs, RBAC's roles and
//!   bindings, StorageClasses) with the real API server's defaults and rules,
//!   CustomResourceDefinitions (`apiextensions.k8s.io/v1`) and the custom resources they define
//!   (validated, pruned and defaulted by their structural schemas, with `generation` and a
//!   status subresource), discovery of every group, `Status` errors, `managedFields` and
//!   server-side apply, authenticated by the kubeconfig's bearer token alone; and the
//!   cluster's controllers, deterministic (progress counted in requests, not time): Deployments
//!   roll out, Jobs complete (or fail, with the emulator-only annotation
//!   [`KUBERNETES_JOB_FAIL_ANNOTATION`]), claims bind to provisioned volumes, VolumeSnapshots
//!   are taken and restored ([`EmulatorConfig::kube_controllers`] turns them off);
//! - the Run:ai control plane under `/runai` (module `runai`): tokens, clusters (one per AKS
//!   cluster), departments, node pools and projects, whose namespaces appear in the cluster;
//! - the data plane of every container registry, on its login server `<name>.azurecr.io`
//!   (chosen by the `Host` header; a client connects the name to the emulator's address, and
//!   the server certificate covers `*.azurecr.io`): the OCI distribution API (blobs, chunked
//!   uploads, mounts, manifests and indexes, tags, catalog) behind ACR's authentication (bearer
//!   challenge, `/oauth2/token` with the service principal's or the admin user's credentials
//!   or a refresh token, `/oauth2/exchange` of an Entra token the emulator issued), content kept
//!   in the data directory (module `registry`).
//!
//! Providers talk to it exactly as they talk to Azure; nothing in them knows it is an emulator
//! beyond the endpoint and credentials they are given. [`EmulatorConfig`] injects latency,
//! ARM's throttling, transient failures and failed operations; every request is logged
//! ([`LogEntry`]) for tests and benchmarks.
//!
//! Modules: [`arm`] (kinds, paths, errors), `cloud` (the objects and operations), `kinds` (the
//! per-type shapes and rules), `workloads` (volumes, clusters, registries, role assignments),
//! `kube` (the clusters' Kubernetes API: `store`, `types`, `kinds`, `crd`, `schema`, `fields`,
//! `controllers`, `status`), `registry` (`reference`, `auth`, `distribution`, `storage`),
//! `server` (HTTP,
//! auth, throttling, faults), [`config`].
//!
//! It serves HTTPS when [`EmulatorConfig::https`] is set, with a CA generated at start (module
//! `tls`), and plain HTTP otherwise.
//!
//! Design decision: hyper directly, no web framework. ARM's routing is a handful of path shapes
//! matched case-insensitively, which a framework's router would not do for us, and hyper is
//! already in the build through reqwest.

pub mod arm;
mod cloud;
pub mod config;
mod kinds;
mod kube;
mod log;
mod net;
mod registry;
mod rng;
mod runai;
mod server;
mod throttle;
mod tls;
mod workloads;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use arm::{ArmError, Kind, normalize_location};
pub use config::{Bucket, ConfigFile, EmulatorConfig, Faults, Latency, Rule, Throttling};
pub use kinds::TIB;
pub use kube::FAIL_ANNOTATION as KUBERNETES_JOB_FAIL_ANNOTATION;
pub use kube::cluster_key as kubernetes_cluster_key;
pub use log::LogEntry;

/// The service principal and subscription that the CLI's embedded emulator expects and gives
/// the azure provider (`lanestack plan --emulator`), and that `lanestack emulator serve`
/// prints. They are not secrets: the emulator listens on loopback only.
pub mod principal {
    /// The Entra ID tenant.
    pub const TENANT_ID: &str = "00000000-0000-0000-0000-00000000e1a7";
    /// The service principal's application (client) id.
    pub const CLIENT_ID: &str = "lanestack-emulator";
    /// The service principal's secret, the only one the token endpoint accepts when the
    /// emulator is configured with it.
    pub const CLIENT_SECRET: &str = "lanestack-emulator-secret";
    /// The federated token (workload identity's client assertion) the token endpoint accepts
    /// in place of the secret when the emulator is configured with it.
    pub const FEDERATED_TOKEN: &str = "lanestack-emulator-federated-token";
    /// The subscription stacks use when they name none.
    pub const SUBSCRIPTION_ID: &str = "00000000-0000-0000-0000-000000000000";
}

/// A running emulator. Dropping it stops the server.
pub struct Emulator {
    addr: SocketAddr,
    ca_pem: Option<String>,
    ca_file: Option<PathBuf>,
    shared: Arc<server::Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Emulator {
    /// Starts the emulator on a free port of 127.0.0.1, on the current tokio runtime, loading
    /// the objects saved in the data directory, if any.
    pub async fn start(config: EmulatorConfig) -> std::io::Result<Emulator> {
        Emulator::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Starts the emulator on `addr` (port 0 picks a free one).
    pub async fn start_on(addr: SocketAddr, config: EmulatorConfig) -> std::io::Result<Emulator> {
        let tls = if config.https { Some(tls::Tls::start(config.data_dir.as_deref())?) } else { None };
        let ca_file = match (&tls, &config.data_dir) {
            (Some(_), Some(dir)) => Some(dir.join("ca.pem")),
            _ => None,
        };
        let ca_pem = tls.as_ref().map(|t| t.ca_pem.clone());
        let shared = Arc::new(server::Shared::new(config, ca_pem.clone())?);
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let _ = shared.endpoint.set(format!("{}://{addr}", shared.scheme));
        let task = tokio::spawn(server::serve(listener, shared.clone(), tls.map(|t| t.acceptor)));
        Ok(Emulator { addr, ca_pem, ca_file, shared, task })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL of both ARM and the token endpoint (`https://127.0.0.1:PORT`, or
    /// `http://` when HTTPS is off).
    pub fn endpoint(&self) -> String {
        format!("{}://{}", self.shared.scheme, self.addr)
    }

    /// The base URL of a managed cluster's Kubernetes API (`{endpoint}/k8s/{cluster-key}`,
    /// the server of its `listClusterUserCredential` kubeconfig), given the cluster's ARM id
    /// in any case. The API answers while the cluster exists.
    pub fn kubernetes_server(&self, cluster_id: &str) -> String {
        format!("{}/k8s/{}", self.endpoint(), kube::cluster_key(cluster_id))
    }

    /// The PEM of the CA that signed the server's certificate, when serving HTTPS.
    pub fn ca_certificate_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The file the CA's certificate was written to (`ca.pem` in the data directory), when
    /// serving HTTPS with a data directory.
    pub fn ca_certificate_file(&self) -> Option<&std::path::Path> {
        self.ca_file.as_deref()
    }

    /// Every request handled so far, in order.
    pub fn requests(&self) -> Vec<LogEntry> {
        self.shared.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The number of objects that exist now.
    pub fn object_count(&self) -> usize {
        self.shared.cloud.lock().unwrap_or_else(std::sync::PoisonError::into_inner).resources().len()
    }

    /// Stops the server.
    pub fn stop(self) {}
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}
