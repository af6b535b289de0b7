//! `lanestack-trainer train`: train SCNN on one process, with the seed's environment interface.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::Args;
use lanestack_trainer::config::{ConfigFlags, TrainConfig};
use lanestack_trainer::dataset::{FrameSet, TRAIN_LABEL_FILES, VAL_LABEL_FILES};
use lanestack_trainer::model::ScnnConfig;
use lanestack_trainer::optim::{LrScaling, PolySchedule};
use lanestack_trainer::pretrained;
use lanestack_trainer::train::{self, Event, RunOptions, Trainer};
use serde_json::json;

/// Train SCNN on train_set/ under the data root; checkpoints and progress go under the logs
/// root. Progress is printed as JSON lines (and appended to progress.jsonl).
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// The data root holding train_set/ [default: /mnt/tusimple_data].
    #[arg(long)]
    data_root: Option<PathBuf>,
    /// Where checkpoints and logs go [default: /mnt/tusimple_model_logs].
    #[arg(long)]
    logs_root: Option<PathBuf>,
    /// Epochs to train.
    #[arg(long, default_value_t = 10)]
    epochs: u64,
    /// Stop after this many iterations in total (a checkpoint is written there).
    #[arg(long)]
    max_steps: Option<u64>,
    /// The iteration at which the poly schedule reaches its floor [default: epochs x
    /// iterations per epoch; the reference fixed 1500].
    #[arg(long)]
    max_iter: Option<u64>,
    /// The network's input size.
    #[arg(long, default_value = "512x288")]
    input_size: ScnnConfig,
    /// Continue from the checkpoint under the logs root, if there is one.
    #[arg(long)]
    resume: bool,
    /// The base learning rate, before scaling.
    #[arg(long, default_value_t = 0.15)]
    lr: f64,
    /// How the learning rate scales with the processes: none, local or world.
    #[arg(long, default_value = "world")]
    lr_scaling: LrScaling,
    /// How many times the training list is repeated per epoch (the seed's x5).
    #[arg(long, default_value_t = 5)]
    multiplier: usize,
    /// The run's seed (initialisation, shuffling, augmentation, dropout).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// ImageNet VGG16-BN weights for the backbone (safetensors with torchvision's names).
    #[arg(long)]
    pretrained: Option<PathBuf>,
    /// Training batch per process [env: BATCH_SIZE; default: 24].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Load batches on worker threads [env: USE_WORKERS; default: true].
    #[arg(long)]
    use_workers: Option<bool>,
    /// Loader threads [env: NUM_WORKERS; default: 4].
    #[arg(long)]
    num_workers: Option<usize>,
    /// Validate after each epoch on label_data_0531.json [env: USE_VAL; default: false].
    #[arg(long)]
    use_val: Option<bool>,
    /// Validation batch [env: VAL_BATCH_SIZE; default: 24].
    #[arg(long)]
    val_batch_size: Option<usize>,
}

/// Trains and prints progress.
pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let flags = ConfigFlags {
        use_workers: args.use_workers,
        num_workers: args.num_workers,
        batch_size: args.batch_size,
        use_val: args.use_val,
        val_batch_size: args.val_batch_size,
        enable_snapshot: None,
        pvc_name: None,
        data_root: args.data_root,
        logs_root: args.logs_root,
    };
    let config = TrainConfig::resolve(|k| std::env::var(k).ok(), &flags)?;
    if config.enable_snapshot {
        bail!("ENABLE_SNAPSHOT=true: this build cannot create VolumeSnapshots yet; unset it to train");
    }
    let train_dir = config.data_root.join("train_set");
    let train_set = Arc::new(FrameSet::open(&train_dir, &TRAIN_LABEL_FILES)?);
    let val_set =
        if config.use_val { Some(Arc::new(FrameSet::open(&train_dir, &VAL_LABEL_FILES)?)) } else { None };
    let options = RunOptions {
        input: args.input_size,
        epochs: args.epochs,
        max_steps: args.max_steps,
        batch_size: config.batch_size,
        multiplier: args.multiplier,
        loader_threads: config.loader_threads(),
        val_batch_size: config.val_batch_size,
        seed: args.seed,
        logs_root: config.logs_root.clone(),
        resume: args.resume,
    };
    let per_epoch = train::steps_per_epoch(train_set.len(), &options)?;
    let max_iter = args.max_iter.unwrap_or(args.epochs * per_epoch);
    let base_lr = args.lr * args.lr_scaling.factor(1, 1);
    let device = crate::cmd::device::compute_device();
    device.seed(args.seed);
    let mut model = args.input_size.init(&device);
    if let Some(path) = &args.pretrained {
        model = pretrained::load_vgg16_bn(model, path)?;
    }
    let mut trainer =
        Trainer::new(model, args.input_size, PolySchedule::scnn(base_lr, max_iter), args.seed, device);
    std::fs::create_dir_all(&config.logs_root)
        .with_context(|| format!("could not create {}", config.logs_root.display()))?;
    let log_path = config.logs_root.join("progress.jsonl");
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("could not open {}", log_path.display()))?;
    let mut failure = None;
    let mut report = |event: Event| {
        let line = match event {
            Event::Resumed { epoch, iteration } => {
                json!({"event": "resumed", "epoch": epoch, "step": iteration})
            }
            Event::Step { epoch, step, losses, images_per_sec, lr } => json!({
                "event": "step", "epoch": epoch, "step": step, "loss": losses.total,
                "seg_loss": losses.seg, "exist_loss": losses.exist,
                "images_per_sec": images_per_sec, "lr": lr,
            }),
            Event::Validation { epoch, loss } => {
                json!({"event": "validation", "epoch": epoch, "val_loss": loss})
            }
            Event::Checkpoint { path } => json!({"event": "checkpoint", "path": path}),
        };
        let text = format!("{line}\n");
        let written =
            std::io::stdout().lock().write_all(text.as_bytes()).and_then(|()| log.write_all(text.as_bytes()));
        if let Err(e) = written
            && failure.is_none()
        {
            failure = Some(e);
        }
    };
    train::run(&mut trainer, &train_set, val_set.as_ref(), &options, &mut report)?;
    if let Some(e) = failure {
        return Err(e).context("could not write progress");
    }
    Ok(())
}
