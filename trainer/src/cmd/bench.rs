//! `lanestack-trainer bench`: training throughput, alone or as one rank of a world under
//! mpirun, on synthetic frames held in memory (no disk, no loader), so that the figure is the
//! model's and the all-reduce's.

use std::io::Write as _;
use std::time::Instant;

use anyhow::bail;
use clap::Args;
use lanestack_trainer::dist;
use lanestack_trainer::model::ScnnConfig;
use lanestack_trainer::optim::PolySchedule;
use lanestack_trainer::rng::Rng;
use lanestack_trainer::synth::{self, Split};
use lanestack_trainer::train::{StepTiming, Trainer};
use lanestack_trainer::transform::Transform;
use serde_json::json;

/// Measure training steps per second. Rank 0 prints one JSON line: the world's size, the
/// threads each rank computes with, the mean step time and its parts (compute, gradient
/// all-reduce, update) over the measured steps, and images per second per process and for the
/// world.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// The network's input size.
    #[arg(long, default_value = "512x288")]
    input_size: ScnnConfig,
    /// Frames per process per step.
    #[arg(long, default_value_t = 1)]
    batch_size: usize,
    /// Steps measured.
    #[arg(long, default_value_t = 3)]
    steps: usize,
    /// Steps run first and not measured (allocation, caches).
    #[arg(long, default_value_t = 1)]
    warmup: usize,
}

/// Runs the benchmark.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.batch_size == 0 || args.steps == 0 {
        bail!("--batch-size and --steps must be at least 1");
    }
    // The MPI environment outlives the world.
    let (_mpi, world) = dist::join(|k| std::env::var(k).ok())?;
    let (rank, size, root) = (world.rank(), world.size(), world.is_root());
    let input = args.input_size;
    let transform = Transform::train(input.width as u32, input.height as u32);
    let samples: Vec<_> = (0..args.batch_size)
        .map(|i| {
            let index = rank * args.batch_size + i;
            synth::sample(0, Split::Train0313, index, &transform, &mut Rng::new(i as u64))
                .map_err(anyhow::Error::from)
        })
        .collect::<anyhow::Result<_>>()?;
    let device = crate::cmd::device::compute_device(world.local_rank());
    device.seed(0);
    let model = input.init(&device);
    let mut trainer = Trainer::new(model, input, PolySchedule::scnn(0.01, 1000), 0, device).in_world(world);
    trainer.broadcast_state();
    for _ in 0..args.warmup {
        trainer.step(&samples);
    }
    trainer.world().barrier();
    let started = Instant::now();
    let mut total = StepTiming::default();
    for _ in 0..args.steps {
        let (_, _, t) = trainer.step(&samples);
        total.compute_secs += t.compute_secs;
        total.allreduce_secs += t.allreduce_secs;
        total.update_secs += t.update_secs;
    }
    let step_secs = started.elapsed().as_secs_f64() / args.steps as f64;
    let n = args.steps as f64;
    if root {
        let threads = std::env::var("RAYON_NUM_THREADS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
        let line = json!({
            "world": size,
            "threads_per_rank": threads,
            "input_size": format!("{}x{}", input.width, input.height),
            "batch_per_rank": args.batch_size,
            "steps": args.steps,
            "step_secs": step_secs,
            "compute_secs": total.compute_secs / n,
            "allreduce_secs": total.allreduce_secs / n,
            "update_secs": total.update_secs / n,
            "images_per_sec_per_process": args.batch_size as f64 / step_secs,
            "world_images_per_sec": (args.batch_size * size) as f64 / step_secs,
        });
        writeln!(std::io::stdout().lock(), "{line}")?;
    }
    Ok(())
}
