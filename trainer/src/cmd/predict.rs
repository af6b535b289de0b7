//! `lanestack-trainer predict`: lanes for every test frame, as a TuSimple prediction file.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use lanestack_trainer::checkpoint::Checkpoint;
use lanestack_trainer::dataset::{FrameSet, TEST_LABEL_FILES};
use lanestack_trainer::{predict, tusimple};

/// Predict lanes for test_set/ under the data root with a checkpoint's model.
#[derive(Args, Debug)]
pub struct PredictArgs {
    /// A checkpoint written by `train` (checkpoint.safetensors or best.safetensors).
    #[arg(long)]
    checkpoint: PathBuf,
    /// The data root holding test_set/test_label.json and its clips.
    #[arg(long)]
    data_root: PathBuf,
    /// The prediction file to write (JSON lines, as the official evaluator reads).
    #[arg(long)]
    out: PathBuf,
}

/// Writes the predictions and says how many on stderr.
pub fn run(args: PredictArgs) -> anyhow::Result<()> {
    let checkpoint = Checkpoint::load(&args.checkpoint)?;
    let set = FrameSet::open(&args.data_root.join("test_set"), &TEST_LABEL_FILES)?;
    let device = crate::cmd::device::compute_device(0);
    let model = checkpoint.restore(checkpoint.input.init(&device));
    let lines = predict::predict_set(&model, checkpoint.input, &set, &device)?;
    tusimple::write_predictions(&args.out, &lines)
        .with_context(|| format!("could not write {}", args.out.display()))?;
    eprintln!("wrote {} predictions to {}", lines.len(), args.out.display());
    Ok(())
}
