//! lanestack-trainer: SCNN lane detection on TuSimple, the workload lanestack exists to run.
//!
//! This crate knows nothing about lanestack's engine; a stack runs it as an image like any other
//! job. The modules, in the order data flows through them:
//!
//! - [`tusimple`]: the TuSimple JSON-lines format ([`tusimple::LabelLine`],
//!   [`tusimple::PredictionLine`]), read and written with errors that name file and line.
//! - [`postprocess`]: from per-lane probability maps and existence to lanes
//!   ([`postprocess::DetectedLane`]).
//! - [`synth`]: a synthetic TuSimple-format data set drawn from a road model
//!   ([`synth::scene::Scene`]) whose geometry is known exactly; [`rng`] makes it reproducible.
//! - [`segmentation`]: a label line to a 720x1280 lane-id map and existence flags
//!   ([`segmentation::SegLabel`]); [`label_cache`] keeps them on disk beside the data.
//! - [`transform`]: resize, rotate and normalise a frame and its label together into plain
//!   arrays ([`transform::Sample`]).
//! - [`dataset`]: a set on disk ([`dataset::FrameSet`]): frames, cached targets, transforms.
//! - [`sampler`]: each rank's disjoint, seeded share of each epoch ([`sampler::EpochPlan`]).
//! - [`loader`]: batches loaded by worker threads, in a deterministic order
//!   ([`loader::Loader`]).
//! - [`model`]: SCNN in burn ([`model::Scnn`]); [`state`] reads and writes its tensors as named
//!   flat vectors.
//! - [`loss`]: batches on the device ([`loss::Batch`]) and the weighted loss.
//! - [`optim`]: SGD with Nesterov momentum, the poly schedule and learning-rate scaling, as pure
//!   functions.
//! - [`train`]: the training loop ([`train::Trainer`], [`train::run`]); [`checkpoint`] saves
//!   and restores it; [`pretrained`] loads ImageNet VGG16-BN weights.
//! - [`dist`]: the processes a run trains in ([`dist::Collective`]: one process, or a world
//!   under mpirun); [`parity`] checks that such a world computes what one process would.
//! - [`predict`]: lanes for every frame of a set, as TuSimple prediction lines.
//! - [`metric`]: the official TuSimple metric (Accuracy, FP, FN).
//!
//! [`config`] resolves the seed's environment interface (USE_WORKERS, BATCH_SIZE, ...) and
//! flags into a [`config::TrainConfig`].
//!
//! The library never prints and never reads the environment; the binary (`src/main.rs` and
//! `src/cmd/`) does, in one place.

pub mod checkpoint;
pub mod config;
pub mod dataset;
pub mod dist;
pub mod label_cache;
pub mod loader;
pub mod loss;
pub mod metric;
pub mod model;
pub mod optim;
pub mod parity;
pub mod postprocess;
pub mod predict;
pub mod pretrained;
pub mod rng;
pub mod sampler;
pub mod segmentation;
pub mod state;
pub mod synth;
pub mod train;
pub mod transform;
pub mod tusimple;
