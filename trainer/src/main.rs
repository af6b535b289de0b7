//! The `lanestack-trainer` command line: the only place that reads the environment or talks to
//! the terminal. Each subcommand lives in its own module under `cmd/`, named after the operation,
//! and is a thin wrapper around the library.

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// SCNN lane detection on TuSimple: synthetic data, training, prediction and the official metric.
#[derive(Parser, Debug)]
#[command(name = "lanestack-trainer", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write a synthetic TuSimple-format data set.
    Synth(cmd::synth::SynthArgs),
    /// Train SCNN (progress as JSON lines, checkpoints under the logs root).
    Train(cmd::train::TrainArgs),
    /// Predict lanes for a test set with a checkpoint.
    Predict(cmd::predict::PredictArgs),
    /// Score predictions against ground truth with the official TuSimple metric.
    Eval(cmd::eval::EvalArgs),
    /// Check that data-parallel training over this MPI world computes what one process would.
    Parity(cmd::parity::ParityArgs),
    /// Measure training throughput (images per second), alone or under mpirun.
    Bench(cmd::bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Synth(args) => cmd::synth::run(args),
        Command::Train(args) => cmd::train::run(args),
        Command::Predict(args) => cmd::predict::run(args),
        Command::Eval(args) => cmd::eval::run(args),
        Command::Parity(args) => cmd::parity::run(args),
        Command::Bench(args) => cmd::bench::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::from(1),
        Err(e) => {
            eprintln!("{}", cmd::error_report("error", &e));
            ExitCode::from(1)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
