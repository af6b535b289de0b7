//! `lanestack state list` and `lanestack state show`.

use std::path::PathBuf;

use clap::Subcommand;
use lanestack_engine::diff::{LeafChange, diff};
use lanestack_engine::render::show_value;
use lanestack_engine::state::ResourceState;
use lanestack_model::{ResourceAddress, Value};

use crate::Reported;
use crate::stack;
use crate::ui::Ui;

/// State subcommands.
#[derive(Subcommand, Debug)]
pub enum StateCommand {
    /// List the resources in state.
    List {
        /// The stack directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Show one resource's recorded attributes (sensitive ones masked): `state show [DIR] ADDRESS`.
    Show {
        /// The stack directory, then the resource address (e.g. `lanestack_data.worker[0]`);
        /// with one argument, the address in the current directory's stack.
        #[arg(value_name = "[DIR] ADDRESS", num_args = 1..=2, required = true)]
        args: Vec<String>,
    },
}

pub fn run(cmd: StateCommand, ui: &Ui) -> anyhow::Result<u8> {
    match cmd {
        StateCommand::List { dir } => {
            let state = stack::read_state(&dir)?;
            let mut text = String::new();
            for addr in state.resources.keys() {
                text.push_str(&format!("{addr}\n"));
            }
            ui.out(&text)?;
        }
        StateCommand::Show { args } => {
            let (dir, address) = match args.as_slice() {
                [dir, address] => (PathBuf::from(dir), address.as_str()),
                [address] => (PathBuf::from("."), address.as_str()),
                _ => anyhow::bail!("expected [DIR] ADDRESS"),
            };
            let address: ResourceAddress = address.parse()?;
            let state = stack::read_state(&dir)?;
            let Some(r) = state.resources.get(&address) else {
                ui.error(&format!("{address} is not in state; `lanestack state list` shows what is"));
                return Err(Reported.into());
            };
            ui.out(&describe(r))?;
        }
    }
    Ok(0)
}

/// A resource's recorded attributes, one per line, each in full (as Terraform's `state show`:
/// a plan abbreviates long values, the record of what exists does not); a multi-line string as
/// a heredoc.
pub fn describe(r: &ResourceState) -> String {
    let mut text = format!("# {}{}\n", r.address, if r.tainted { " (tainted)" } else { "" });
    for c in diff(None, Some(&r.value)) {
        if let LeafChange::Added(v) = &c.change {
            text.push_str(&format!("    {} = {}\n", c.path, in_full(v)));
        }
    }
    text
}

/// A value in full; sensitive ones stay masked.
fn in_full(v: &Value) -> String {
    match v {
        Value::String(s) if s.contains('\n') && !s.contains("\nEOT") => {
            let mut out = String::from("<<-EOT\n");
            for line in s.lines() {
                out.push_str("        ");
                out.push_str(line);
                out.push('\n');
            }
            out.push_str("    EOT");
            out
        }
        Value::String(s) => format!("{s:?}"),
        other => show_value(other),
    }
}
