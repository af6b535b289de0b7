//! `lanestack show`: a saved plan, or the state.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use lanestack_engine::{jsonplan, planfile, render};

use crate::secrets::SecretArgs;
use crate::stack;
use crate::ui::Ui;

/// Output formats of `show`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// In the shape of `terraform show -json`.
    Json,
}

/// Arguments of `lanestack show`.
#[derive(Args, Debug)]
pub struct ShowArgs {
    /// A plan file saved by `lanestack plan --out`; without it, the state of the stack in DIR.
    planfile: Option<PathBuf>,
    /// The stack directory whose state to show (when no plan file is given).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    #[command(flatten)]
    secrets: SecretArgs,
}

pub fn run(args: ShowArgs, ui: &Ui) -> anyhow::Result<u8> {
    let secrets = args.secrets.secrets(ui)?;
    match &args.planfile {
        Some(path) => {
            let plan = planfile::read(path)?;
            match args.format {
                Format::Text => ui.out(&render::plan_text(&plan, ui.style(secrets)))?,
                Format::Json => ui.line(&jsonplan::plan_json(&plan, secrets).to_string())?,
            }
        }
        None => {
            let state = stack::read_state(&args.dir)?;
            match args.format {
                Format::Json => ui.line(&jsonplan::state_json(&state).to_string())?,
                Format::Text => {
                    if state.resources.is_empty() && state.outputs.is_empty() {
                        ui.line("The state is empty. Nothing is managed yet.")?;
                    }
                    let mut text = String::new();
                    for r in state.resources.values() {
                        text.push_str(&crate::state::describe(r));
                        text.push('\n');
                    }
                    for (name, o) in &state.outputs {
                        text.push_str(&format!(
                            "output {name} = {}\n",
                            render::show_value(&secrets.prepare(&o.value))
                        ));
                    }
                    ui.out(&text)?;
                }
            }
        }
    }
    Ok(0)
}
