//! The kubernetes provider against the local cloud: an emulated AKS cluster (created through
//! the azure provider, as a stack does) and its Kubernetes API, with the provider configured
//! from the cluster's kubeconfig. Someone else's changes are made with `lanestack-kube`'s
//! client, as `kubectl` would make them.

mod cluster;
mod objects;
