//! `lanestack force-unlock`: remove a lock left behind by a run that died.

use clap::Args;
use lanestack_engine::state::lock;

use crate::stack;
use crate::ui::Ui;

/// Arguments of `lanestack force-unlock`.
#[derive(Args, Debug)]
pub struct ForceUnlockArgs {
    /// The lock's id, as printed by the command that found it.
    id: String,
    /// The stack directory.
    #[arg(default_value = ".")]
    dir: std::path::PathBuf,
}

pub fn run(args: ForceUnlockArgs, ui: &Ui) -> anyhow::Result<u8> {
    lock::force_unlock(&stack::state_dir(&args.dir), &args.id)?;
    ui.line(&format!(
        "The lock {} was removed. Make sure no other lanestack run is using this stack.",
        args.id
    ))?;
    Ok(0)
}
