//! The training loop: epochs of shuffled batches from the threaded loader, one SGD step per
//! batch, progress events, checkpoints and resume.
//!
//! [`Trainer`] owns the model, its trained values as a flat host vector and the momentum
//! buffer; a step ([`Trainer::step`]) is [`Trainer::gradients`] (forward and backward on the
//! device), the mean of the gradients over the processes of the run's [`Collective`] (one
//! all-reduce of one flat buffer), then [`Trainer::apply`] (the optimiser on the host, values
//! written back to the model). Every process starts from rank 0's values
//! ([`Trainer::broadcast_state`]) and applies the same update to them, so the processes hold
//! bit-identical parameters after every step; only rank 0 writes checkpoints.
//!
//! Everything random is derived from the run's seed and a position, never from a global
//! generator: the epoch's order from the epoch, a sample's augmentation from its epoch and
//! position, channel dropout from the iteration. A run resumed from a checkpoint therefore
//! takes exactly the steps an uninterrupted run would.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use burn::module::Module;
use burn::tensor::Device;

use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::dataset::{DataError, FrameSet};
use crate::dist::{Collective, Solo};
use crate::loader::Loader;
use crate::loss::{Batch, Loss, scalar, scnn_loss};
use crate::model::{DROPOUT, MP_CHANNELS, Scnn, ScnnConfig, channel_dropout_mask};
use crate::optim::{PolySchedule, Sgd};
use crate::rng::Rng;
use crate::sampler::{EpochPlan, SamplerError};
use crate::state::{self, TensorKind};
use crate::transform::{Sample, Transform};

/// The checkpoint's file name under the logs root.
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
/// The best model's file name under the logs root (written when validation improves).
pub const BEST_FILE: &str = "best.safetensors";

/// The model with its optimiser state and schedule position.
pub struct Trainer {
    /// The model, on a device with autodiff.
    pub model: Scnn,
    /// The input size.
    pub input: ScnnConfig,
    /// The trained values, in layout order (the source of truth between steps).
    pub params: Vec<f32>,
    /// The momentum buffer.
    pub velocity: Vec<f32>,
    /// The optimiser.
    pub sgd: Sgd,
    /// The learning-rate schedule.
    pub schedule: PolySchedule,
    /// Iterations done.
    pub iteration: u64,
    /// The run's seed.
    pub seed: u64,
    device: Device,
    world: Box<dyn Collective>,
}

/// One step's losses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepLosses {
    /// seg + 0.1 x exist.
    pub total: f64,
    /// Weighted cross-entropy.
    pub seg: f64,
    /// Existence BCE.
    pub exist: f64,
}

/// Where a step's time went on this process.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StepTiming {
    /// Forward and backward (with the world's loss normaliser).
    pub compute_secs: f64,
    /// The gradient all-reduce, waiting for the slowest process included.
    pub allreduce_secs: f64,
    /// The optimiser and writing the values back into the model.
    pub update_secs: f64,
}

impl StepLosses {
    fn of(loss: &Loss) -> StepLosses {
        StepLosses { total: scalar(&loss.total), seg: scalar(&loss.seg), exist: scalar(&loss.exist) }
    }
}

impl Trainer {
    /// A trainer for `model` at iteration 0, training on `device` (with autodiff added).
    pub fn new(model: Scnn, input: ScnnConfig, schedule: PolySchedule, seed: u64, device: Device) -> Trainer {
        let device = device.autodiff();
        let model = model.fork(&device).train();
        let params = state::values(&model, TensorKind::Parameter);
        let velocity = vec![0.0; params.len()];
        Trainer {
            model,
            input,
            params,
            velocity,
            sgd: Sgd::SCNN,
            schedule,
            iteration: 0,
            seed,
            device,
            world: Box::new(Solo),
        }
    }

    /// The same trainer, one of the processes of `world`.
    pub fn in_world(mut self, world: Box<dyn Collective>) -> Trainer {
        self.world = world;
        self
    }

    /// The processes this trainer trains with.
    pub fn world(&self) -> &dyn Collective {
        self.world.as_ref()
    }

    /// The device.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Forward and backward on this process's `samples`: its losses and its flat gradient
    /// (layout order). In a world of several processes the segmentation loss is normalised by
    /// the whole world's pixel weights (a sum over the processes, so every one must call this
    /// together), which makes the mean of the processes' gradients the gradient of the
    /// concatenated batch.
    pub fn gradients(&self, samples: &[Sample]) -> (StepLosses, Vec<f32>) {
        let mut batch = Batch::from_samples(samples, self.input.width, self.input.height, &self.device);
        let mut normaliser = [batch.seg_normaliser];
        self.world.mean_f64(&mut normaliser);
        batch.seg_normaliser = normaliser[0];
        let rank = self.world.rank() as u64;
        let mut rng = Rng::derive(self.seed, &[0x4452_4f50, self.iteration, rank]);
        let draws: Vec<f64> = (0..samples.len() * MP_CHANNELS).map(|_| rng.unit()).collect();
        let mask = channel_dropout_mask(&draws, samples.len(), DROPOUT, &self.device);
        let output = self.model.forward(batch.images.clone(), Some(mask));
        let loss = scnn_loss(&output, &batch);
        let grads = loss.total.backward();
        (StepLosses::of(&loss), state::gradients(&self.model, &grads))
    }

    /// One data-parallel step on this process's `samples`: gradients, their mean over the
    /// world, the optimiser. Returns the losses averaged over the world, the rate used and where
    /// the time went.
    pub fn step(&mut self, samples: &[Sample]) -> (StepLosses, f64, StepTiming) {
        let started = Instant::now();
        let (losses, mut grads) = self.gradients(samples);
        let computed = Instant::now();
        self.world.mean_f32(&mut grads);
        let reduced = Instant::now();
        let lr = self.apply(&grads);
        let timing = StepTiming {
            compute_secs: (computed - started).as_secs_f64(),
            allreduce_secs: (reduced - computed).as_secs_f64(),
            update_secs: reduced.elapsed().as_secs_f64(),
        };
        let mut parts = [losses.total, losses.seg, losses.exist];
        self.world.mean_f64(&mut parts);
        (StepLosses { total: parts[0], seg: parts[1], exist: parts[2] }, lr, timing)
    }

    /// Gives every process rank 0's parameters, batch-norm buffers, momentum and iteration.
    pub fn broadcast_state(&mut self) {
        if self.world.size() == 1 {
            return;
        }
        let mut iteration = [self.iteration];
        self.world.broadcast_u64(&mut iteration);
        self.iteration = iteration[0];
        self.world.broadcast_f32(&mut self.velocity);
        self.model = broadcast_model(self.world.as_ref(), self.model.clone());
        self.params = state::values(&self.model, TensorKind::Parameter);
    }

    /// Replaces every process's batch-norm running statistics with their mean over the world,
    /// so that validation and checkpoints use statistics from every process's data (training
    /// itself normalises with batch statistics, so this does not change its course).
    pub fn average_buffers(&mut self) {
        if self.world.size() == 1 {
            return;
        }
        let mut buffers = state::values(&self.model, TensorKind::Buffer);
        self.world.mean_f32(&mut buffers);
        self.model = state::set_values(self.model.clone(), TensorKind::Buffer, &buffers);
    }

    /// A digest of the parameters (SHA-256 of their bits, hex), to compare processes.
    pub fn params_digest(&self) -> String {
        use sha2::Digest as _;
        let mut hasher = sha2::Sha256::new();
        for chunk in self.params.chunks(1 << 14) {
            let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_bits().to_le_bytes()).collect();
            hasher.update(&bytes);
        }
        hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// One optimiser step with `grads` at the schedule's current rate; returns the rate.
    pub fn apply(&mut self, grads: &[f32]) -> f64 {
        let lr = self.schedule.lr(self.iteration);
        self.sgd.step(&mut self.params, grads, &mut self.velocity, lr as f32);
        self.model = state::set_values(self.model.clone(), TensorKind::Parameter, &self.params);
        self.iteration += 1;
        lr
    }

    /// The loss on `samples` in evaluation mode (running statistics, no dropout).
    pub fn eval_loss(&self, samples: &[Sample]) -> StepLosses {
        let model = self.model.valid();
        let device = self.device.clone().without_autodiff();
        let batch = Batch::from_samples(samples, self.input.width, self.input.height, &device);
        StepLosses::of(&scnn_loss(&model.forward(batch.images.clone(), None), &batch))
    }

    /// A checkpoint of the current state, for `epoch` in progress.
    pub fn checkpoint(&self, epoch: u64, best_val_loss: Option<f64>) -> Checkpoint {
        Checkpoint::capture(
            &self.model,
            self.input,
            epoch,
            self.iteration,
            best_val_loss,
            self.velocity.clone(),
        )
    }

    /// Continues from `checkpoint` (built for the same input size).
    pub fn resume(&mut self, checkpoint: &Checkpoint) {
        self.model = checkpoint.restore(self.model.clone());
        self.params = state::values(&self.model, TensorKind::Parameter);
        self.velocity = checkpoint.velocity.clone();
        self.iteration = checkpoint.iteration;
    }
}

/// What a run does.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOptions {
    /// The input size.
    pub input: ScnnConfig,
    /// Epochs to train.
    pub epochs: u64,
    /// Stop after this many iterations in total (a checkpoint is written there).
    pub max_steps: Option<u64>,
    /// Training batch per process.
    pub batch_size: usize,
    /// The dataset multiplier (the seed's 5).
    pub multiplier: usize,
    /// Loader threads (0: load on the training thread).
    pub loader_threads: usize,
    /// Validation batch.
    pub val_batch_size: usize,
    /// The run's seed.
    pub seed: u64,
    /// Where checkpoints go.
    pub logs_root: PathBuf,
    /// Continue from the checkpoint under `logs_root`.
    pub resume: bool,
    /// Report every process's parameter digest after every step ([`Event::Replica`]): a check
    /// that the processes did not drift apart, at the cost of hashing the parameters.
    pub replica_digests: bool,
}

/// Something the caller may report.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Training continues from a checkpoint.
    Resumed {
        /// The epoch in progress.
        epoch: u64,
        /// Iterations already done.
        iteration: u64,
    },
    /// A step was taken.
    Step {
        /// The epoch (0-based).
        epoch: u64,
        /// The iteration just done (1-based).
        step: u64,
        /// The step's losses.
        losses: StepLosses,
        /// Images per second over the step on this process, loading included.
        images_per_sec: f64,
        /// Images per second over the step on all processes together.
        world_images_per_sec: f64,
        /// Where the step's time went on this process.
        timing: StepTiming,
        /// The learning rate the step used.
        lr: f64,
    },
    /// Validation ran after an epoch.
    Validation {
        /// The epoch (0-based).
        epoch: u64,
        /// The mean validation loss.
        loss: f64,
    },
    /// A checkpoint was written.
    Checkpoint {
        /// Its path.
        path: PathBuf,
    },
    /// This process's parameters after a step (with [`RunOptions::replica_digests`]).
    Replica {
        /// The iteration just done.
        step: u64,
        /// This process's rank.
        rank: usize,
        /// [`Trainer::params_digest`].
        digest: String,
    },
}

/// Why training stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Data could not be loaded.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The epoch could not be planned.
    #[error(transparent)]
    Sampler(#[from] SamplerError),
    /// A checkpoint could not be read or written.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The checkpoint was made for another input size.
    #[error("the checkpoint is for {found:?} input, this run uses {expected:?}")]
    InputMismatch {
        /// The run's input size.
        expected: ScnnConfig,
        /// The checkpoint's.
        found: ScnnConfig,
    },
    /// The training set is empty.
    #[error("the training set has no frame")]
    EmptySet,
    /// The processes of a data-parallel run were not started alike.
    #[error(
        "the processes disagree with rank 0 on {}; every process must see the same data and settings, \
         or they would take different steps",
        .0.join(", ")
    )]
    Disagreement(Vec<String>),
}

/// `model` with rank 0's parameters and batch-norm buffers, on every process of `world`.
pub fn broadcast_model(world: &dyn Collective, model: Scnn) -> Scnn {
    if world.size() == 1 {
        return model;
    }
    let mut params = state::values(&model, TensorKind::Parameter);
    let mut buffers = state::values(&model, TensorKind::Buffer);
    world.broadcast_f32(&mut params);
    world.broadcast_f32(&mut buffers);
    let model = state::set_values(model, TensorKind::Parameter, &params);
    state::set_values(model, TensorKind::Buffer, &buffers)
}

/// Iterations per epoch for `len` samples, on each of `world` processes.
pub fn steps_per_epoch(len: usize, world: usize, options: &RunOptions) -> Result<u64, SamplerError> {
    let plan =
        EpochPlan { len, multiplier: options.multiplier, shuffle: true, seed: options.seed, rank: 0, world };
    Ok(plan.batches(0, options.batch_size)?.len() as u64)
}

/// Trains on `train_set` (and validates on `val_set` when given), reporting through `report`.
///
/// Every process of the trainer's world calls this with the same options: each reads its own
/// shard of every epoch, steps together with the others, and only rank 0 reads and writes
/// checkpoints (events are reported on every process; a caller prints rank 0's). An error on
/// one process leaves the others waiting in a collective: the caller ends the world on error.
pub fn run(
    trainer: &mut Trainer,
    train_set: &Arc<FrameSet>,
    val_set: Option<&Arc<FrameSet>>,
    options: &RunOptions,
    report: &mut dyn FnMut(Event),
) -> Result<(), TrainError> {
    agree(trainer, train_set, val_set, options)?;
    if train_set.is_empty() {
        return Err(TrainError::EmptySet);
    }
    let (rank, world) = (trainer.world().rank(), trainer.world().size());
    let root = rank == 0;
    let checkpoint_path = options.logs_root.join(CHECKPOINT_FILE);
    // Rank 0 decides whether and where to resume; [resumed, epoch, best loss's bits (or MAX)].
    let mut resumed = [0u64, 0, u64::MAX];
    if root && options.resume && checkpoint_path.exists() {
        let checkpoint = Checkpoint::load(&checkpoint_path)?;
        if checkpoint.input != options.input {
            return Err(TrainError::InputMismatch { expected: options.input, found: checkpoint.input });
        }
        trainer.resume(&checkpoint);
        resumed = [1, checkpoint.epoch, checkpoint.best_val_loss.map_or(u64::MAX, f64::to_bits)];
    }
    trainer.world().broadcast_u64(&mut resumed);
    trainer.broadcast_state();
    let mut best_val_loss = (resumed[2] != u64::MAX).then(|| f64::from_bits(resumed[2]));
    let start_epoch = resumed[1];
    if resumed[0] == 1 {
        report(Event::Resumed { epoch: start_epoch, iteration: trainer.iteration });
    }
    let per_epoch = steps_per_epoch(train_set.len(), world, options)?;
    let transform = Transform::train(options.input.width as u32, options.input.height as u32);
    let reached = |t: &Trainer| options.max_steps.is_some_and(|m| t.iteration >= m);
    for epoch in start_epoch..options.epochs {
        if reached(trainer) {
            break;
        }
        let plan = EpochPlan {
            len: train_set.len(),
            multiplier: options.multiplier,
            shuffle: true,
            seed: options.seed,
            rank,
            world,
        };
        let shard = Arc::new(plan.shard(epoch)?);
        let done_in_epoch = trainer.iteration.saturating_sub(epoch * per_epoch) as usize;
        let positions: Vec<Vec<usize>> = (0..shard.len())
            .collect::<Vec<_>>()
            .chunks(options.batch_size)
            .skip(done_in_epoch)
            .map(<[usize]>::to_vec)
            .collect();
        let (set, seed) = (train_set.clone(), options.seed);
        let loader =
            Loader::new(positions, options.loader_threads, 2 * options.loader_threads.max(1), move |pos| {
                set.load(shard[pos], &transform, &mut Rng::derive(seed, &[0x4155_4758, epoch, pos as u64]))
            });
        // Throughput counts the whole step, waiting for the loader and the other ranks included.
        let mut started = Instant::now();
        for batch in loader {
            let samples = batch?;
            let (losses, lr, timing) = trainer.step(&samples);
            let secs = started.elapsed().as_secs_f64().max(1e-9);
            started = Instant::now();
            report(Event::Step {
                epoch,
                step: trainer.iteration,
                losses,
                images_per_sec: samples.len() as f64 / secs,
                world_images_per_sec: (samples.len() * world) as f64 / secs,
                timing,
                lr,
            });
            if options.replica_digests {
                report(Event::Replica { step: trainer.iteration, rank, digest: trainer.params_digest() });
            }
            if reached(trainer) {
                break;
            }
        }
        let finished = !reached(trainer) || trainer.iteration == (epoch + 1) * per_epoch;
        trainer.average_buffers();
        if finished && let Some(val) = val_set {
            let loss = validate(trainer, val, options)?;
            report(Event::Validation { epoch, loss });
            if best_val_loss.is_none_or(|best| loss < best) {
                best_val_loss = Some(loss);
                if root {
                    let best = options.logs_root.join(BEST_FILE);
                    trainer.checkpoint(epoch + 1, best_val_loss).save(&best)?;
                    report(Event::Checkpoint { path: best });
                }
            }
        }
        if root {
            let epoch_in_progress = if finished { epoch + 1 } else { epoch };
            trainer.checkpoint(epoch_in_progress, best_val_loss).save(&checkpoint_path)?;
            report(Event::Checkpoint { path: checkpoint_path.clone() });
        }
    }
    Ok(())
}

/// Checks that every process of the world has rank 0's data sizes and settings. Processes
/// started with different arguments, or reading a volume that holds another set, would plan
/// different steps: the run would hang in a collective or the models drift apart. Every process
/// learns what differs (and on how many processes), so every one fails with the same message.
fn agree(
    trainer: &Trainer,
    train_set: &FrameSet,
    val_set: Option<&Arc<FrameSet>>,
    options: &RunOptions,
) -> Result<(), TrainError> {
    let world = trainer.world();
    if world.size() == 1 {
        return Ok(());
    }
    let s = &trainer.schedule;
    let facts: [(&str, u64); 16] = [
        ("the training set's frames", train_set.len() as u64),
        ("the validation set's frames", val_set.map_or(u64::MAX, |v| v.len() as u64)),
        ("the input width", options.input.width as u64),
        ("the input height", options.input.height as u64),
        ("the batch size", options.batch_size as u64),
        ("the validation batch size", options.val_batch_size as u64),
        ("the multiplier", options.multiplier as u64),
        ("the seed", options.seed),
        ("the epochs", options.epochs),
        ("the maximum steps", options.max_steps.unwrap_or(u64::MAX)),
        ("resuming", u64::from(options.resume)),
        ("the base learning rate", s.base_lr.to_bits()),
        ("the warm-up", s.warmup),
        ("the schedule's end", s.max_iter),
        ("the schedule's power", s.power.to_bits()),
        ("the learning rate's floor", s.min_lr.to_bits()),
    ];
    let mine: Vec<u64> = facts.iter().map(|f| f.1).collect();
    let mut root = mine.clone();
    world.broadcast_u64(&mut root);
    let mut differing: Vec<f64> = mine.iter().zip(&root).map(|(a, b)| f64::from(u8::from(a != b))).collect();
    world.sum_f64(&mut differing);
    let found: Vec<String> = facts
        .iter()
        .zip(&differing)
        .filter(|(_, n)| **n > 0.0)
        .map(|((name, _), n)| format!("{name} ({n} of {} processes)", world.size()))
        .collect();
    if found.is_empty() { Ok(()) } else { Err(TrainError::Disagreement(found)) }
}

/// The mean loss over the validation set, each process evaluating every `world`-th frame.
fn validate(trainer: &Trainer, val_set: &Arc<FrameSet>, options: &RunOptions) -> Result<f64, TrainError> {
    let transform = Transform::eval(options.input.width as u32, options.input.height as u32);
    let (rank, world) = (trainer.world().rank(), trainer.world().size());
    let batches: Vec<Vec<usize>> = (rank..val_set.len())
        .step_by(world)
        .collect::<Vec<_>>()
        .chunks(options.val_batch_size)
        .map(<[usize]>::to_vec)
        .collect();
    let set = val_set.clone();
    let loader = Loader::new(batches, options.loader_threads, 2 * options.loader_threads.max(1), move |i| {
        set.load(i, &transform, &mut Rng::new(0))
    });
    // [sum of losses, frames], summed over the world once every process is done.
    let mut totals = [0.0, 0.0];
    for batch in loader {
        let samples = batch?;
        totals[0] += trainer.eval_loss(&samples).total * samples.len() as f64;
        totals[1] += samples.len() as f64;
    }
    trainer.world().sum_f64(&mut totals);
    Ok(if totals[1] == 0.0 { 0.0 } else { totals[0] / totals[1] })
}
