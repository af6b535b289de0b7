//! The snapshot on finish (ENABLE_SNAPSHOT=true): rank 0 creates a `VolumeSnapshot` of
//! PVC_NAME through the Kubernetes API once training has ended, so that the claim's data set,
//! model and logs are kept together as one point-in-time copy.
//!
//! The API is found as kubectl would find it: KUBECONFIG when it is set, else the pod's service
//! account inside a cluster (KUBERNETES_SERVICE_HOST and
//! /var/run/secrets/kubernetes.io/serviceaccount), else ~/.kube/config. That is resolved before training starts, so that a run that could never
//! snapshot says so in its first second rather than after hours. The snapshot is named
//! `snap-<PVC_NAME>-<job>-<UTC time>`, the job being JOB_NAME or the pod's name without the MPI
//! operator's suffix.
//!
//! A snapshot that cannot be taken fails the run unless SNAPSHOT_REQUIRED=false, in which case
//! it is reported (stderr and a `snapshot_failed` progress line) and the run still succeeds.

use std::time::SystemTime;

use anyhow::Context as _;
use lanestack_kube::snapshot::{self, SnapshotSummary};
use lanestack_kube::{Client, Config};

/// What the snapshot step needs, resolved before training.
pub struct Snapshotter {
    runtime: tokio::runtime::Runtime,
    client: Client,
    namespace: String,
    job: String,
    pvc: String,
}

impl std::fmt::Debug for Snapshotter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshotter").field("namespace", &self.namespace).field("pvc", &self.pvc).finish()
    }
}

impl Snapshotter {
    /// Finds the Kubernetes API and the job's name for snapshots of `pvc`.
    pub fn prepare(pvc: &str) -> anyhow::Result<Snapshotter> {
        let env = |name: &str| std::env::var(name).ok();
        let config =
            Config::infer().context("ENABLE_SNAPSHOT=true, but the Kubernetes API cannot be reached")?;
        let client =
            Client::new(&config).context("ENABLE_SNAPSHOT=true, but no Kubernetes client can be made")?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("could not start the runtime for Kubernetes requests")?;
        Ok(Snapshotter {
            runtime,
            namespace: client.default_namespace().to_owned(),
            client,
            job: snapshot::job_name(env).unwrap_or_else(|| "train".to_owned()),
            pvc: pvc.to_owned(),
        })
    }

    /// Creates the snapshot, named for now.
    pub fn take(&self) -> anyhow::Result<SnapshotSummary> {
        let name = snapshot::snapshot_name(&self.pvc, &self.job, SystemTime::now());
        let created = self
            .runtime
            .block_on(snapshot::create_volume_snapshot(&self.client, &self.namespace, &name, &self.pvc))
            .with_context(|| format!("could not snapshot PVC {}", self.pvc))?;
        Ok(created)
    }
}
