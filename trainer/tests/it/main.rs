//! End-to-end tests of the `lanestack-trainer` binary: each runs the real executable as a child
//! process on files in a temporary directory and checks its exit code and what it printed.
//! The library's own unit tests cover the logic; these prove the subcommands are wired up.

mod eval;
mod loading;
mod mpi;
mod pretrained;
mod snapshot;
mod support;
mod synth;
mod train;

// lanestack-kube's real API server harness (etcd and the CRD API server on loopback), shared
// rather than copied; parts of it serve only lanestack-kube's own tests.
#[allow(dead_code)]
#[path = "../../../kube/tests/it/crds.rs"]
mod crds;
#[allow(dead_code)]
#[path = "../../../kube/tests/it/server.rs"]
mod server;
#[allow(dead_code)]
#[path = "../../../kube/tests/it/webhook.rs"]
mod webhook;
