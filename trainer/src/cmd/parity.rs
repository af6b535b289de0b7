//! `lanestack-trainer parity`: checks that data-parallel training over this world computes what
//! one process would (see the library's `parity` module).

use std::io::Write as _;

use anyhow::bail;
use clap::Args;
use lanestack_trainer::dist;
use lanestack_trainer::model::ScnnConfig;
use lanestack_trainer::parity::{self, ParityOptions};

/// Check, under mpirun, that the processes start from identical parameters and that their
/// averaged gradient equals one process's gradient of the whole batch. Rank 0 prints the
/// figures as one JSON line; every process exits 1 when the check fails.
#[derive(Args, Debug)]
pub struct ParityArgs {
    /// The network's input size (small is enough: the check is about the arithmetic).
    #[arg(long, default_value = "64x36")]
    input_size: ScnnConfig,
    /// Synthetic frames per process.
    #[arg(long, default_value_t = 2)]
    per_rank: usize,
    /// The frames' seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Runs the check and prints rank 0's report.
pub fn run(args: ParityArgs) -> anyhow::Result<()> {
    if args.per_rank == 0 {
        bail!("--per-rank must be at least 1");
    }
    let options = ParityOptions { input: args.input_size, per_rank: args.per_rank, seed: args.seed };
    // The MPI environment outlives the world.
    let (_mpi, world) = dist::join(|k| std::env::var(k).ok())?;
    let device = crate::cmd::device::compute_device(world.local_rank());
    let report = parity::check(world.as_ref(), &options, &device);
    if world.is_root() {
        writeln!(std::io::stdout().lock(), "{}", serde_json::to_string(&report)?)?;
    }
    if !report.ok {
        bail!(
            "data-parallel parity failed: parameters identical: {}, gradient difference {:.3e} (tolerance {:.0e})",
            report.params_identical,
            report.max_rel_diff,
            report.tolerance
        );
    }
    Ok(())
}
