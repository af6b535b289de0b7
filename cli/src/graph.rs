//! `lanestack graph`: the dependency graph in Graphviz DOT.

use clap::Args;
use lanestack_engine::config;

use crate::DirArg;
use crate::injected::Injection;
use crate::stack;
use crate::ui::Ui;

/// Arguments of `lanestack graph`.
#[derive(Args, Debug)]
pub struct GraphArgs {
    #[command(flatten)]
    dir: DirArg,
}

pub fn run(args: GraphArgs, ui: &Ui) -> anyhow::Result<u8> {
    let (_stack, graph, _providers) = stack::check(config::load_dir(&args.dir.dir), &Injection::none(), ui)?;
    ui.out(&graph.to_dot())?;
    Ok(0)
}
