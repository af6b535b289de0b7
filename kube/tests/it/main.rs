//! lanestack-kube against a real Kubernetes API server (etcd and the CRD API server on
//! loopback; see `server.rs`). These tests fail, never skip, when the server is not built.

mod apply;
mod crds;
mod in_cluster;
mod server;
mod snapshots;
mod ssa;
mod webhook;
