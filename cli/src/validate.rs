//! `lanestack validate`: check a stack without state or providers' IO.

use clap::Args;
use lanestack_engine::config;

use crate::DirArg;
use crate::injected::Injection;
use crate::stack;
use crate::ui::Ui;

/// Arguments of `lanestack validate`.
#[derive(Args, Debug)]
pub struct ValidateArgs {
    #[command(flatten)]
    dir: DirArg,
}

pub fn run(args: ValidateArgs, ui: &Ui) -> anyhow::Result<u8> {
    let (stack, _graph, _providers) = stack::check(config::load_dir(&args.dir.dir), &Injection::none(), ui)?;
    ui.line(&format!(
        "Success! The stack is valid: {} resources, {} variables, {} outputs.",
        stack.resources.len(),
        stack.variables.len(),
        stack.outputs.len()
    ))?;
    Ok(0)
}
