//! The snapshot on finish against a real Kubernetes API server (lanestack-kube's test harness:
//! etcd and the CRD API server on loopback, with external-snapshotter's CRDs), reached through a
//! kubeconfig as the trainer would be outside a cluster.

use std::path::Path;
use std::process::{Command, Output};

use lanestack_kube::{resource_path, snapshot};
use serde_json::Value;

use crate::crds::install_snapshot_crds;
use crate::server::ApiServer;
use crate::support::{self, json_lines, stderr, stdout};
use crate::webhook::TokenReviewWebhook;

const PVC: &str = "pvc-download-tusimple-data-0";
const JOB: &str = "dist-lane-detection-training";

/// `train` for 2 steps on the synthetic set under `dir/data`, with the snapshot enabled and
/// `kubeconfig` as the way to the API; `mpirun` runs it as three ranks.
fn train(dir: &Path, kubeconfig: &Path, mpirun: bool, extra_env: &[(&str, &str)]) -> Output {
    let mut command =
        if mpirun { support::mpirun(3) } else { Command::new(env!("CARGO_BIN_EXE_lanestack-trainer")) };
    command
        .args(["train", "--data-root", "data", "--logs-root", "logs", "--input-size", "64x36"])
        .args(["--batch-size", "2", "--multiplier", "1", "--num-workers", "1", "--max-steps", "2"])
        .current_dir(dir)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env("HOME", dir)
        .env("KUBECONFIG", kubeconfig)
        .env("ENABLE_SNAPSHOT", "true")
        .env("PVC_NAME", PVC)
        .env("JOB_NAME", JOB);
    for (k, v) in extra_env {
        command.env(k, v);
    }
    command.output().expect("the trainer runs")
}

fn events(out: &Output, kind: &str) -> Vec<Value> {
    json_lines(&stdout(out)).into_iter().filter(|v| v["event"] == kind).collect()
}

#[tokio::test(flavor = "current_thread")]
async fn rank_zero_snapshots_the_claim_once_training_has_finished() {
    let server = ApiServer::start(TokenReviewWebhook::start("unused-token", "unused")).await;
    let admin = server.admin();
    install_snapshot_crds(&admin, "ml").await;
    let dir = tempfile::tempdir().unwrap();
    crate::train::synth_set(&dir.path().join("data"), 4);

    let out = train(dir.path(), &server.kubeconfig(), true, &[]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let snapshots = events(&out, "snapshot");
    assert_eq!(snapshots.len(), 1, "{}", stdout(&out));
    let name = snapshots[0]["name"].as_str().unwrap();
    assert!(name.starts_with(&format!("snap-{PVC}-{JOB}-")), "{name}");
    // After the last step and the last checkpoint.
    let last_line = stdout(&out).lines().last().unwrap().to_owned();
    assert!(last_line.contains("\"event\":\"snapshot\""), "{last_line}");
    assert!(dir.path().join("logs/checkpoint.safetensors").exists());

    // One snapshot on the server, of the claim, in the kubeconfig's namespace.
    let list =
        admin.list(&resource_path(snapshot::API_VERSION, Some("ml"), "volumesnapshots", None)).await.unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "three ranks, one snapshot: {list}");
    assert_eq!(items[0]["metadata"]["name"], name);
    assert_eq!(items[0]["metadata"]["uid"], snapshots[0]["uid"]);
    assert_eq!(items[0]["spec"]["source"]["persistentVolumeClaimName"], PVC);
    // The progress log on the claim says so too.
    let log = std::fs::read_to_string(dir.path().join("logs/progress.jsonl")).unwrap();
    assert!(log.lines().last().unwrap().contains(name), "{log}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_snapshot_that_fails_fails_the_run_unless_it_is_not_required() {
    // A cluster without the snapshot CRDs: the API answers 404 for VolumeSnapshots.
    let server = ApiServer::start(TokenReviewWebhook::start("unused-token", "unused")).await;
    let dir = tempfile::tempdir().unwrap();
    crate::train::synth_set(&dir.path().join("data"), 4);

    let out = train(dir.path(), &server.kubeconfig(), false, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stderr(&out).contains(&format!("could not snapshot PVC {PVC}")), "{}", stderr(&out));
    assert!(stderr(&out).contains("404"), "{}", stderr(&out));
    // The training itself was done and kept.
    assert_eq!(events(&out, "step").len(), 2);
    assert!(dir.path().join("logs/checkpoint.safetensors").exists());

    let out = train(dir.path(), &server.kubeconfig(), false, &[("SNAPSHOT_REQUIRED", "false")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let failed = events(&out, "snapshot_failed");
    assert_eq!(failed.len(), 1, "{}", stdout(&out));
    assert!(failed[0]["error"].as_str().unwrap().contains("404"), "{failed:?}");
    assert!(stderr(&out).contains("the run succeeded but its snapshot failed"), "{}", stderr(&out));
}

#[test]
fn without_a_kubernetes_api_the_run_stops_before_training() {
    let dir = tempfile::tempdir().unwrap();
    crate::train::synth_set(&dir.path().join("data"), 4);
    let missing = dir.path().join("no-kubeconfig");
    let out = train(dir.path(), &missing, false, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("ENABLE_SNAPSHOT=true, but the Kubernetes API cannot be reached"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("no-kubeconfig"), "{}", stderr(&out));
    assert!(events(&out, "step").is_empty(), "{}", stdout(&out));

    // Not required: the run trains and says that no snapshot will be taken.
    let out = train(dir.path(), &missing, false, &[("SNAPSHOT_REQUIRED", "false")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("no snapshot will be taken"), "{}", stderr(&out));
    assert_eq!(events(&out, "step").len(), 2);
}
