//! `lanestack-trainer eval`: the official TuSimple scores of a prediction file.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use lanestack_trainer::{metric, tusimple};

/// Score a prediction file against ground truth.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// The predictions: JSON lines with `lanes`, `raw_file` and `run_time` (milliseconds).
    #[arg(long)]
    pred: PathBuf,
    /// The ground truth, e.g. test_set/test_label.json.
    #[arg(long)]
    gt: PathBuf,
}

/// Prints `{"Accuracy": ..., "FP": ..., "FN": ...}` on one line.
pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let preds = tusimple::read_predictions(&args.pred)?;
    let gts = tusimple::read_labels(&args.gt)?;
    let scores = metric::score_set(&preds, &gts).context("could not score the predictions")?;
    writeln!(std::io::stdout().lock(), "{scores}")?;
    Ok(())
}
