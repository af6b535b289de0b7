//! Data-parallel training under a real `mpirun` (Open MPI) with three processes on this
//! machine: the processes stay bit-identical after every step, learn, and average gradients to
//! exactly what one process computes for the whole batch.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::support::{self, json_lines, stderr, stdout};

/// Runs `lanestack-trainer args` as three processes under mpirun in `dir`.
fn mpirun(dir: &Path, args: &[&str]) -> Output {
    support::mpirun(3)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("mpirun runs (Debian's openmpi-bin; .ci/run installs it)")
}

#[test]
fn three_ranks_stay_identical_after_every_step_and_learn_four_images() {
    let dir = tempfile::tempdir().unwrap();
    crate::train::synth_set(&dir.path().join("data"), 4);
    const STEPS: usize = 24;
    let out = mpirun(
        dir.path(),
        &[
            "train",
            "--data-root",
            "data",
            "--logs-root",
            "logs",
            "--input-size",
            "64x36",
            "--batch-size",
            "2",
            "--multiplier",
            "6",
            "--num-workers",
            "1",
            "--lr",
            "0.05",
            "--lr-scaling",
            "none",
            "--max-steps",
            &STEPS.to_string(),
            "--replica-digests",
        ],
    );
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    // Rank 0 alone prints: one line per step, not one per rank.
    let lines = json_lines(&stdout(&out));
    let losses: Vec<f64> =
        lines.iter().filter(|l| l["event"] == "step").map(|l| l["loss"].as_f64().unwrap()).collect();
    assert_eq!(losses.len(), STEPS, "{}", stdout(&out));
    // 4 frames x 6 = 24 per epoch, 8 per rank, 4 steps of 2 per epoch: 6 epochs.
    let checkpoints = lines.iter().filter(|l| l["event"] == "checkpoint").count();
    assert_eq!(checkpoints, STEPS / 4);

    let digests: Vec<Vec<(u64, String)>> = (0..3)
        .map(|rank| {
            let text =
                std::fs::read_to_string(dir.path().join(format!("logs/replicas/rank-{rank}.jsonl"))).unwrap();
            json_lines(&text)
                .iter()
                .map(|l| {
                    assert_eq!(l["rank"], rank);
                    (l["step"].as_u64().unwrap(), l["params_sha256"].as_str().unwrap().to_string())
                })
                .collect()
        })
        .collect();
    for rank in 1..3 {
        assert_eq!(digests[rank], digests[0], "rank {rank} drifted from rank 0");
    }
    assert_eq!(digests[0].iter().map(|d| d.0).collect::<Vec<_>>(), (1..=STEPS as u64).collect::<Vec<_>>());
    for pair in digests[0].windows(2) {
        assert_ne!(pair[0].1, pair[1].1, "step {} changed no parameter", pair[1].0);
    }

    let first = losses[..3].iter().sum::<f64>() / 3.0;
    let last = losses[STEPS - 3..].iter().sum::<f64>() / 3.0;
    assert!(last < 0.5 * first, "the world's loss did not fall: {losses:?}");
    // The checkpoint rank 0 wrote fits the four images in evaluation mode too.
    let before = crate::train::eval_loss_of_fresh_model(&dir.path().join("data"), 4);
    let after = crate::train::eval_loss_of_checkpoint(
        &dir.path().join("data"),
        &dir.path().join("logs/checkpoint.safetensors"),
    );
    assert!(after < 0.3 * before, "the four images were not learnt: {before} -> {after}");
}

/// Three ranks train on the 4-frame set under `dir/data` (4 steps an epoch) into `logs`;
/// returns the step lines rank 0 printed.
fn train_steps(dir: &Path, logs: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["train", "--data-root", "data", "--logs-root", logs, "--input-size", "64x36"];
    args.extend(["--batch-size", "2", "--multiplier", "6", "--num-workers", "1", "--seed", "9"]);
    args.extend(extra);
    let out = mpirun(dir, &args);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    json_lines(&stdout(&out))
        .into_iter()
        .filter(|l| l["event"] == "step" || l["event"] == "resumed")
        .collect()
}

#[test]
fn three_ranks_resume_mid_epoch_from_rank_zeros_checkpoint_as_if_never_stopped() {
    let dir = tempfile::tempdir().unwrap();
    crate::train::synth_set(&dir.path().join("data"), 4);
    let whole = train_steps(dir.path(), "a", &["--max-steps", "4"]);
    let first = train_steps(dir.path(), "b", &["--max-steps", "2"]);
    let second = train_steps(dir.path(), "b", &["--max-steps", "4", "--resume"]);
    assert_eq!(second[0]["event"], "resumed", "{second:?}");
    assert_eq!((second[0]["epoch"].as_u64(), second[0]["step"].as_u64()), (Some(0), Some(2)));
    let resumed: Vec<&Value> = first.iter().chain(&second[1..]).collect();
    assert_eq!(resumed.len(), whole.len());
    for (a, b) in whole.iter().zip(resumed) {
        assert_eq!(a["step"], b["step"]);
        let (x, y) = (a["loss"].as_f64().unwrap(), b["loss"].as_f64().unwrap());
        assert!((x - y).abs() <= 1e-5 * x.abs().max(1.0), "step {}: {x} vs {y}", a["step"]);
    }
}

#[test]
fn ranks_that_see_different_data_stop_together_saying_what_differs() {
    // Two ranks read a set of 4 frames, the third (another "node's volume") a set of 6: they
    // would plan different epochs and wait for each other forever.
    let dir = tempfile::tempdir().unwrap();
    crate::train::synth_set(&dir.path().join("a"), 4);
    crate::train::synth_set(&dir.path().join("b"), 6);
    let args = |data: &'static str| {
        ["train", "--data-root", data, "--logs-root", "logs", "--input-size", "64x36", "--max-steps", "2"]
    };
    let out = support::mpirun(2)
        .args(args("a"))
        .args([":", "-np", "1", env!("CARGO_BIN_EXE_lanestack-trainer")])
        .args(args("b"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("the processes disagree with rank 0 on the training set's frames (1 of 3 processes)"),
        "{err}"
    );
    assert!(!stdout(&out).contains("\"event\":\"step\""), "no step was taken: {}", stdout(&out));
}

#[test]
fn the_averaged_gradient_equals_one_process_gradient_of_the_whole_batch() {
    let dir = tempfile::tempdir().unwrap();
    let out = mpirun(dir.path(), &["parity", "--input-size", "64x36", "--per-rank", "2", "--seed", "7"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let report = &json_lines(&stdout(&out))[..];
    assert_eq!(report.len(), 1, "rank 0 alone reports: {}", stdout(&out));
    let report = &report[0];
    assert_eq!(report["world"], 3);
    assert_eq!(report["params_identical"], true, "{report}");
    assert_eq!(report["ok"], true, "{report}");
    let rel = report["max_rel_diff"].as_f64().unwrap();
    assert!(rel <= 1e-5, "{report}");
    // The gradient is not trivially zero: the comparison had something to compare.
    assert!(report["parameters"].as_u64().unwrap() > 1_000_000, "{report}");
}

#[test]
fn an_error_on_one_rank_ends_the_whole_world() {
    // Rank 0 alone reads the checkpoint to resume from; the others wait for its broadcast.
    let dir = tempfile::tempdir().unwrap();
    crate::train::synth_set(&dir.path().join("data"), 4);
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    std::fs::write(dir.path().join("logs/checkpoint.safetensors"), b"not a checkpoint").unwrap();
    let out = mpirun(
        dir.path(),
        &["train", "--data-root", "data", "--logs-root", "logs", "--input-size", "64x36", "--resume"],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("error on rank 0 of 3"), "{err}");
    assert!(err.contains("checkpoint.safetensors"), "{err}");
}

/// A panic (not an error) on one rank, while the others wait for it in an all-reduce: the
/// panic hook aborts the whole world, so the run ends instead of hanging, and says why.
/// (Without the hook the other ranks wait until mpirun's `--timeout`.) (The
/// program is `examples/panic_on_one_rank.rs`, which `cargo test` builds beside this test.)
#[test]
fn a_panic_on_one_rank_ends_the_whole_world() {
    let examples = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("examples");
    let program = examples.join("panic_on_one_rank");
    assert!(program.is_file(), "{} is not built (cargo test builds the examples)", program.display());
    let out = std::process::Command::new("mpirun")
        // --timeout: only a safety net; the abort ends the run long before.
        .args(["--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "--timeout", "300", "-np", "3"])
        .arg(&program)
        .output()
        .expect("mpirun runs (Debian's openmpi-bin; .ci/run installs it)");
    assert!(!out.status.success());
    let (err, stdout) = (stderr(&out), stdout(&out));
    assert!(err.contains("rank 1 panics on purpose"), "{err}");
    assert!(err.contains("rank 1 of 3 panicked: ending every rank (MPI_Abort)"), "{err}");
    // Without the abort the other ranks wait forever: only mpirun's time limit would end them.
    let lower = err.to_lowercase();
    assert!(
        !lower.contains("time limit") && !lower.contains("timeout"),
        "the safety net ended the run:\n{err}"
    );
    assert!(!stdout.contains("finished the all-reduce"), "{stdout}");
}
