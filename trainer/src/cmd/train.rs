//! `lanestack-trainer train`: train SCNN with the seed's environment interface, alone or as one
//! rank of a data-parallel run under mpirun.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use lanestack_trainer::config::{ConfigFlags, TrainConfig};
use lanestack_trainer::dataset::{FrameSet, TRAIN_LABEL_FILES, VAL_LABEL_FILES};
use lanestack_trainer::dist::{self, Collective};
use lanestack_trainer::model::ScnnConfig;
use lanestack_trainer::optim::{LrScaling, PolySchedule};
use lanestack_trainer::pretrained;
use lanestack_trainer::train::{self, Event, RunOptions, Trainer};

use crate::cmd::snapshot::Snapshotter;
use serde_json::json;

/// Train SCNN on train_set/ under the data root; checkpoints and progress go under the logs
/// root. Progress is printed as JSON lines (and appended to progress.jsonl). Under mpirun every
/// process trains on its own shard of each epoch and the gradients are averaged after every
/// step; rank 0 alone prints, logs and writes checkpoints.
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
    /// After every step, each process appends its parameters' SHA-256 to
    /// replicas/rank-<N>.jsonl under the logs root: proof that the processes never drift apart.
    #[arg(long)]
    replica_digests: bool,
    /// Snapshot PVC_NAME through the Kubernetes API when training ends [env: ENABLE_SNAPSHOT;
    /// default: false].
    #[arg(long)]
    enable_snapshot: Option<bool>,
    /// The claim to snapshot [env: PVC_NAME].
    #[arg(long)]
    pvc_name: Option<String>,
    /// Whether a snapshot that cannot be taken fails the run [env: SNAPSHOT_REQUIRED; default:
    /// true].
    #[arg(long)]
    snapshot_required: Option<bool>,
}

/// Trains and prints progress; in a world of several processes, an error on any of them ends
/// all of them (the others would wait for it forever).
pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    // The MPI environment outlives the training, so that an error can still abort the world.
    let (_mpi, world) = dist::join(|k| std::env::var(k).ok())?;
    let (rank, size) = (world.rank(), world.size());
    let result = train(args, world);
    if size > 1
        && let Err(e) = &result
    {
        eprintln!("{}", crate::cmd::error_report(&format!("error on rank {rank} of {size}"), e));
        dist::abort_world(1);
    }
    result
}

fn train(args: TrainArgs, world: Box<dyn Collective>) -> anyhow::Result<()> {
    let flags = ConfigFlags {
        use_workers: args.use_workers,
        num_workers: args.num_workers,
        batch_size: args.batch_size,
        use_val: args.use_val,
        val_batch_size: args.val_batch_size,
        enable_snapshot: args.enable_snapshot,
        pvc_name: args.pvc_name.clone(),
        snapshot_required: args.snapshot_required,
        data_root: args.data_root,
        logs_root: args.logs_root,
    };
    let config = TrainConfig::resolve(|k| std::env::var(k).ok(), &flags)?;
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
        replica_digests: args.replica_digests,
    };
    let (rank, root) = (world.rank(), world.is_root());
    // Rank 0 snapshots; it finds the Kubernetes API now rather than after the training.
    let snapshotter = match (&config.pvc_name, root && config.enable_snapshot) {
        (Some(pvc), true) => match Snapshotter::prepare(pvc) {
            Ok(s) => Some(s),
            Err(e) if config.snapshot_required => return Err(e),
            Err(e) => {
                eprintln!("warning: no snapshot will be taken (SNAPSHOT_REQUIRED=false): {}", chain(&e));
                None
            }
        },
        _ => None,
    };
    let per_epoch = train::steps_per_epoch(train_set.len(), world.size(), &options)?;
    let max_iter = args.max_iter.unwrap_or(args.epochs * per_epoch);
    let base_lr = args.lr * args.lr_scaling.factor(world.local_size(), world.size());
    let device = crate::cmd::device::compute_device(world.local_rank());
    device.seed(args.seed);
    let mut model = args.input_size.init(&device);
    if let Some(path) = &args.pretrained {
        model = pretrained::load_vgg16_bn(model, path)?;
    }
    let mut trainer =
        Trainer::new(model, args.input_size, PolySchedule::scnn(base_lr, max_iter), args.seed, device)
            .in_world(world);
    std::fs::create_dir_all(&config.logs_root)
        .with_context(|| format!("could not create {}", config.logs_root.display()))?;
    // Rank 0 writes the progress log; with --replica-digests every rank writes its digests.
    let log_path = config.logs_root.join("progress.jsonl");
    let mut log = if root { Some(append(&log_path)?) } else { None };
    let mut replica_log = if args.replica_digests {
        let dir = config.logs_root.join("replicas");
        std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
        Some(append(&dir.join(format!("rank-{rank}.jsonl")))?)
    } else {
        None
    };
    let mut failure = None;
    let mut report = |event: Event| {
        if let Event::Replica { step, rank, digest } = &event {
            let line = format!("{}\n", json!({"step": step, "rank": rank, "params_sha256": digest}));
            if let Some(file) = replica_log.as_mut()
                && let Err(e) = file.write_all(line.as_bytes())
                && failure.is_none()
            {
                failure = Some(e);
            }
            return;
        }
        let Some(log) = log.as_mut() else { return };
        let line = match event {
            Event::Resumed { epoch, iteration } => {
                json!({"event": "resumed", "epoch": epoch, "step": iteration})
            }
            Event::Step { epoch, step, losses, images_per_sec, world_images_per_sec, timing, lr } => json!({
                "event": "step", "epoch": epoch, "step": step, "loss": losses.total,
                "seg_loss": losses.seg, "exist_loss": losses.exist,
                "images_per_sec": images_per_sec, "world_images_per_sec": world_images_per_sec,
                "compute_secs": timing.compute_secs, "allreduce_secs": timing.allreduce_secs,
                "lr": lr,
            }),
            Event::Validation { epoch, loss } => {
                json!({"event": "validation", "epoch": epoch, "val_loss": loss})
            }
            Event::Checkpoint { path } => json!({"event": "checkpoint", "path": path}),
            Event::Replica { .. } => return,
        };
        if let Err(e) = emit(log, &line)
            && failure.is_none()
        {
            failure = Some(e);
        }
    };
    train::run(&mut trainer, &train_set, val_set.as_ref(), &options, &mut report)?;
    if let Some(e) = failure {
        return Err(e).context("could not write progress");
    }
    // Every rank is done writing before the claim is snapshotted.
    trainer.world().barrier();
    if let (Some(snapshotter), Some(log)) = (&snapshotter, log.as_mut()) {
        // Over NFS, what was written reaches the server on close or sync: sync the log first.
        log.sync_all().with_context(|| format!("could not sync {}", log_path.display()))?;
        match snapshotter.take() {
            Ok(created) => emit(
                log,
                &json!({"event": "snapshot", "namespace": created.namespace, "name": created.name,
                        "pvc": created.pvc, "uid": created.uid}),
            )
            .context("could not write progress")?,
            Err(e) if config.snapshot_required => return Err(e),
            Err(e) => {
                let message = chain(&e);
                eprintln!(
                    "warning: the run succeeded but its snapshot failed (SNAPSHOT_REQUIRED=false): {message}"
                );
                emit(log, &json!({"event": "snapshot_failed", "error": message}))
                    .context("could not write progress")?;
            }
        }
    }
    Ok(())
}

/// Prints a progress line and appends it to the log.
fn emit(log: &mut std::fs::File, line: &serde_json::Value) -> std::io::Result<()> {
    let text = format!("{line}\n");
    std::io::stdout().lock().write_all(text.as_bytes())?;
    log.write_all(text.as_bytes())
}

/// An error and its causes on one line.
fn chain(e: &anyhow::Error) -> String {
    e.chain().map(ToString::to_string).collect::<Vec<_>>().join(": ")
}

fn append(path: &std::path::Path) -> anyhow::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("could not open {}", path.display()))
}
