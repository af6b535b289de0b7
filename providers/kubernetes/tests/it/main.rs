//! The kubernetes provider through the engine: in an emulated AKS cluster (created through the
//! azure provider, as a stack does, with the provider configured from the cluster's
//! kubeconfig), and on the real Kubernetes API server for custom resources (etcd and the CRD
//! API server, for `kubernetes_manifest`). Someone else's changes are made with
//! `lanestack-kube`'s client, as `kubectl` would make them.

mod cluster;
mod manifests;
mod objects;
mod workloads;

// lanestack-kube's real API server harness, shared rather than copied; parts of it serve only
// lanestack-kube's own tests.
#[allow(dead_code)]
#[path = "../../../../kube/tests/it/server.rs"]
mod server;
#[allow(dead_code)]
#[path = "../../../../kube/tests/it/webhook.rs"]
mod webhook;
