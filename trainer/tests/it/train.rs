//! Training, checkpoints, resume, prediction and pretrained weights at a tiny input size on a
//! tiny synthetic set.

use std::path::Path;
use std::sync::Arc;

use burn::tensor::Device;
use lanestack_trainer::checkpoint::Checkpoint;
use lanestack_trainer::dataset::{FrameSet, TRAIN_LABEL_FILES};
use lanestack_trainer::model::ScnnConfig;
use lanestack_trainer::optim::PolySchedule;
use lanestack_trainer::rng::Rng;
use lanestack_trainer::state::{self, TensorKind};
use lanestack_trainer::synth::{self, SynthOptions};
use lanestack_trainer::train::{self, Event, RunOptions, Trainer};
use lanestack_trainer::transform::{Sample, Transform};
use serde_json::Value;

use crate::support::{json_lines, run, stderr, stdout};

const INPUT: ScnnConfig = ScnnConfig { width: 64, height: 36 };

pub fn synth_set(dir: &Path, frames: usize) {
    synth::write_dataset(dir, &SynthOptions { train_frames: frames, test_frames: 2, seed: 3 }).unwrap();
}

fn trainer(seed: u64, lr: f64) -> Trainer {
    let device = Device::flex().autodiff();
    device.seed(seed);
    let model = INPUT.init(&device);
    Trainer::new(model, INPUT, PolySchedule { warmup: 2, ..PolySchedule::scnn(lr, 1000) }, seed, device)
}

fn options(logs: &Path, max_steps: u64) -> RunOptions {
    RunOptions {
        input: INPUT,
        epochs: 1000,
        max_steps: Some(max_steps),
        batch_size: 4,
        multiplier: 1,
        loader_threads: 2,
        val_batch_size: 4,
        seed: 5,
        logs_root: logs.to_path_buf(),
        resume: false,
        replica_digests: false,
    }
}

/// The evaluation-mode loss on the first `frames` training images of the set under `data` of a
/// model initialised as `train --seed 0` initialises it.
pub fn eval_loss_of_fresh_model(data: &Path, frames: usize) -> f64 {
    let t = trainer(0, LR);
    t.eval_loss(&train_images(data, frames)).total
}

/// The evaluation-mode loss on the training images of the set under `data` of a checkpoint.
pub fn eval_loss_of_checkpoint(data: &Path, checkpoint: &Path) -> f64 {
    let mut t = trainer(0, LR);
    t.resume(&Checkpoint::load(checkpoint).unwrap());
    let n = FrameSet::open(&data.join("train_set"), &TRAIN_LABEL_FILES).unwrap().len();
    t.eval_loss(&train_images(data, n)).total
}

fn train_images(data: &Path, frames: usize) -> Vec<Sample> {
    let set = FrameSet::open(&data.join("train_set"), &TRAIN_LABEL_FILES).unwrap();
    let transform = Transform::eval(INPUT.width as u32, INPUT.height as u32);
    (0..frames).map(|i| set.load(i, &transform, &mut Rng::new(0)).unwrap()).collect()
}

const STEPS: u64 = 30;
const LR: f64 = 0.05;

#[test]
fn training_on_four_images_lowers_their_loss() {
    let dir = tempfile::tempdir().unwrap();
    synth_set(dir.path(), 4);
    let set = Arc::new(FrameSet::open(&dir.path().join("train_set"), &TRAIN_LABEL_FILES).unwrap());
    let mut t = trainer(1, LR);
    let eval_set = FrameSet::open(&dir.path().join("train_set"), &TRAIN_LABEL_FILES).unwrap();
    let transform = Transform::eval(INPUT.width as u32, INPUT.height as u32);
    let images: Vec<Sample> =
        (0..4).map(|i| eval_set.load(i, &transform, &mut Rng::new(0)).unwrap()).collect();
    let before = t.eval_loss(&images).total;
    let mut losses = Vec::new();
    // 4 frames x 10 in batches of 4: one checkpoint every 10 steps.
    let options = RunOptions { multiplier: 10, ..options(&dir.path().join("logs"), STEPS) };
    train::run(&mut t, &set, None, &options, &mut |e| {
        if let Event::Step { losses: l, .. } = e {
            losses.push(l.total);
        }
    })
    .unwrap();
    assert_eq!(losses.len(), STEPS as usize);
    let first: f64 = losses[..3].iter().sum::<f64>() / 3.0;
    let last: f64 = losses[losses.len() - 3..].iter().sum::<f64>() / 3.0;
    let after = t.eval_loss(&images).total;
    assert!(last < 0.5 * first, "the training loss did not fall: {losses:?}");
    // In evaluation mode too (running statistics, no dropout, no augmentation).
    assert!(after < 0.3 * before, "the loss on the training images did not fall: {before} -> {after}");
}

#[test]
fn a_checkpoint_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let t = trainer(2, 0.1);
    let mut velocity = t.velocity.clone();
    velocity.iter_mut().enumerate().for_each(|(i, v)| *v = i as f32 * 1e-6);
    let checkpoint = Checkpoint::capture(&t.model, INPUT, 3, 17, Some(0.25), velocity);
    let path = dir.path().join("c.safetensors");
    checkpoint.save(&path).unwrap();
    let loaded = Checkpoint::load(&path).unwrap();
    assert_eq!(loaded, checkpoint);
    let other = trainer(9, 0.1);
    assert_ne!(state::values(&other.model, TensorKind::Parameter), t.params);
    let restored = loaded.restore(other.model.clone());
    assert_eq!(state::values(&restored, TensorKind::Parameter), t.params);
    assert_eq!(state::values(&restored, TensorKind::Buffer), state::values(&t.model, TensorKind::Buffer));
}

fn step_losses(out: &str) -> Vec<(u64, f64)> {
    json_lines(out)
        .into_iter()
        .filter(|v| v["event"] == "step")
        .map(|v| (v["step"].as_u64().unwrap(), v["loss"].as_f64().unwrap()))
        .collect()
}

fn train_cli(dir: &Path, logs: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "train",
        "--data-root",
        "data",
        "--logs-root",
        logs,
        "--input-size",
        "64x36",
        "--batch-size",
        "2",
        "--multiplier",
        "1",
        "--num-workers",
        "2",
        "--epochs",
        "5",
        "--seed",
        "4",
    ];
    args.extend_from_slice(extra);
    let out = run(dir, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn resuming_takes_the_same_next_step_and_predictions_score() {
    let dir = tempfile::tempdir().unwrap();
    synth_set(&dir.path().join("data"), 4);
    // 4 frames in batches of 2: 2 steps an epoch, so step 3 is the first of epoch 1.
    let whole = step_losses(&train_cli(dir.path(), "a", &["--max-steps", "4"]));
    assert_eq!(whole.iter().map(|s| s.0).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    let first = step_losses(&train_cli(dir.path(), "b", &["--max-steps", "1"]));
    let second = train_cli(dir.path(), "b", &["--max-steps", "4", "--resume"]);
    assert!(second.contains("\"event\":\"resumed\""), "{second}");
    let resumed = step_losses(&second);
    assert_eq!(first.len() + resumed.len(), 4);
    for ((step, a), (s, b)) in whole.iter().zip(first.iter().chain(&resumed)) {
        assert_eq!(step, s);
        assert!((a - b).abs() <= 1e-5 * a.abs().max(1.0), "step {step}: {a} vs {b}");
    }
    // The progress log holds every line of both runs.
    let log = std::fs::read_to_string(dir.path().join("b/progress.jsonl")).unwrap();
    assert_eq!(step_losses(&log).len(), 4);

    let out = run(
        dir.path(),
        &["predict", "--checkpoint", "a/checkpoint.safetensors", "--data-root", "data", "--out", "pred.json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(dir.path(), &["eval", "--pred", "pred.json", "--gt", "data/test_set/test_label.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let scores: Value = serde_json::from_str(&stdout(&out)).unwrap();
    for key in ["Accuracy", "FP", "FN"] {
        assert!(scores[key].as_f64().is_some_and(|v| (0.0..=1.0).contains(&v)), "{scores}");
    }
}

#[test]
fn training_names_the_missing_label_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["train", "--data-root", "nowhere", "--logs-root", "logs"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("nowhere/train_set/label_data_0313.json"), "{}", stderr(&out));
}

#[test]
fn validation_runs_after_each_epoch_and_keeps_the_best_model() {
    let dir = tempfile::tempdir().unwrap();
    synth_set(dir.path(), 4);
    let train_dir = dir.path().join("train_set");
    // The synthetic set has no validation split; TuSimple's is label_data_0531.json.
    std::fs::copy(train_dir.join("label_data_0313.json"), train_dir.join("label_data_0531.json")).unwrap();
    let set = Arc::new(FrameSet::open(&train_dir, &TRAIN_LABEL_FILES).unwrap());
    let val = Arc::new(FrameSet::open(&train_dir, &lanestack_trainer::dataset::VAL_LABEL_FILES).unwrap());
    let logs = dir.path().join("logs");
    let mut events = Vec::new();
    // 4 frames in one batch of 4: one step an epoch.
    train::run(&mut trainer(3, 0.01), &set, Some(&val), &options(&logs, 2), &mut |e| events.push(e)).unwrap();
    let val_losses: Vec<f64> = events
        .iter()
        .filter_map(|e| if let Event::Validation { loss, .. } = e { Some(*loss) } else { None })
        .collect();
    assert_eq!(val_losses.len(), 2, "{events:?}");
    assert!(val_losses.iter().all(|l| l.is_finite() && *l > 0.0), "{val_losses:?}");
    let best = Checkpoint::load(&logs.join(train::BEST_FILE)).unwrap();
    let best_loss = val_losses.iter().copied().fold(f64::INFINITY, f64::min);
    assert_eq!(best.best_val_loss, Some(best_loss));
    assert_eq!(Checkpoint::load(&logs.join(train::CHECKPOINT_FILE)).unwrap().best_val_loss, Some(best_loss));
}
