//! The `lanestack` command line: the composition root.
//!
//! This is the only place that reads the environment, talks to the terminal or picks the
//! providers. Each subcommand lives in its own module, named after the operation, and is a thin
//! wrapper around the engine.

mod apply;
mod emulator;
mod graph;
mod injected;
mod inputs;
mod output;
mod plan;
mod secrets;
mod show;
mod stack;
mod state;
mod ui;
mod unlock;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Declarative infrastructure as code: plan what will change, then apply it.
#[derive(Parser, Debug)]
#[command(name = "lanestack", version, propagate_version = true)]
struct Cli {
    /// Log what lanestack does to stderr (-v: info, -vv: debug, -vvv: trace). LANESTACK_LOG
    /// (error, warn, info, debug, trace) sets the level too. Logs name resources and actions,
    /// never values.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check a stack for errors, without reading state or calling providers.
    Validate(validate::ValidateArgs),
    /// Show what apply would change.
    Plan(plan::PlanArgs),
    /// Make the infrastructure match the stack (or carry out a saved plan).
    Apply(apply::ApplyArgs),
    /// Delete everything the stack manages, dependents first.
    Destroy(apply::DestroyArgs),
    /// Show a saved plan, or the state when no plan file is given.
    Show(show::ShowArgs),
    /// Print the dependency graph in Graphviz DOT.
    Graph(graph::GraphArgs),
    /// Print the stack's outputs from state.
    Output(output::OutputArgs),
    /// Inspect state.
    #[command(subcommand)]
    State(state::StateCommand),
    /// Remove a lock left behind by a run that died.
    ForceUnlock(unlock::ForceUnlockArgs),
    /// Run the local cloud emulator (Azure Resource Manager and Entra ID's token endpoint).
    #[command(subcommand)]
    Emulator(emulator::EmulatorCommand),
}

/// The stack directory argument shared by most commands.
#[derive(Args, Debug, Clone)]
struct DirArg {
    /// The stack directory.
    #[arg(default_value = ".")]
    dir: PathBuf,
}

/// An error already shown to the user (diagnostics, a refused prompt): exit 1 quietly.
#[derive(Debug)]
struct Reported;

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("reported")
    }
}

impl std::error::Error for Reported {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ui = ui::Ui::from_env();
    ui.init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            ui.error(&format!("could not start the async runtime: {e}"));
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(run(cli.command, &ui));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) if e.is::<Reported>() => ExitCode::from(1),
        Err(e) if is_broken_pipe(&e) => ExitCode::from(1),
        Err(e) => {
            let mut message = e.to_string();
            for cause in e.chain().skip(1) {
                message.push_str(&format!("\n  caused by: {cause}"));
            }
            ui.error(&message);
            ExitCode::from(1)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

async fn run(command: Command, ui: &ui::Ui) -> anyhow::Result<u8> {
    match command {
        Command::Validate(args) => validate::run(args, ui),
        Command::Plan(args) => plan::run(args, ui).await,
        Command::Apply(args) => apply::run(args, ui).await,
        Command::Destroy(args) => apply::destroy(args, ui).await,
        Command::Show(args) => show::run(args, ui),
        Command::Graph(args) => graph::run(args, ui),
        Command::Output(args) => output::run(args, ui),
        Command::State(cmd) => state::run(cmd, ui),
        Command::ForceUnlock(args) => unlock::run(args, ui),
        Command::Emulator(cmd) => emulator::run(cmd, ui).await,
    }
}
