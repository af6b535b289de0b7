//! `lanestack-trainer synth`: a synthetic TuSimple-format data set.

use std::path::PathBuf;

use clap::Args;
use lanestack_trainer::synth::{self, SynthOptions};

/// Write a synthetic TuSimple-format data set (train_set/ and test_set/) whose lanes are known
/// exactly.
#[derive(Args, Debug)]
pub struct SynthArgs {
    /// The directory to write train_set/ and test_set/ into (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Training frames (one in eight go to label_data_0601.json, the rest to 0313).
    #[arg(long)]
    frames: usize,
    /// Test frames [default: a quarter of --frames, at least 1].
    #[arg(long)]
    test_frames: Option<usize>,
    /// The seed: the same seed writes byte-identical files.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Writes the data set and lists the label files on stderr.
pub fn run(args: SynthArgs) -> anyhow::Result<()> {
    let options = SynthOptions {
        train_frames: args.frames,
        test_frames: args.test_frames.unwrap_or(args.frames.div_ceil(4).max(1)),
        seed: args.seed,
    };
    for path in synth::write_dataset(&args.out, &options)? {
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
