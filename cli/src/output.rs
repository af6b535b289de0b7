//! `lanestack output`: the stack's outputs, from state.

use clap::Args;
use lanestack_engine::jsonplan;

use crate::stack;
use crate::ui::Ui;
use std::path::{Path, PathBuf};

use crate::Reported;

/// Arguments of `lanestack output`.
#[derive(Args, Debug)]
pub struct OutputArgs {
    /// The stack directory (optional: `lanestack output NAME` reads the current directory).
    #[arg(value_name = "DIR")]
    first: Option<String>,
    /// Print only this output.
    #[arg(value_name = "NAME")]
    second: Option<String>,
    /// Print JSON (sensitive values are null unless --show-sensitive).
    #[arg(long)]
    json: bool,
    /// Print sensitive values too.
    #[arg(long)]
    show_sensitive: bool,
}

/// `[DIR] [NAME]`: with one argument, an existing directory is DIR and anything else is NAME,
/// so that both `lanestack output stacks/x` and `lanestack output summary` do what they say.
fn dir_and_name(first: Option<String>, second: Option<String>) -> (PathBuf, Option<String>) {
    match (first, second) {
        (Some(dir), Some(name)) => (PathBuf::from(dir), Some(name)),
        (Some(one), None) if Path::new(&one).is_dir() => (PathBuf::from(one), None),
        (Some(name), None) => (PathBuf::from("."), Some(name)),
        (None, _) => (PathBuf::from("."), None),
    }
}

pub fn run(args: OutputArgs, ui: &Ui) -> anyhow::Result<u8> {
    let (dir, name) = dir_and_name(args.first.clone(), args.second.clone());
    let state = stack::read_state(&dir)?;
    let show = |v: &lanestack_model::Value| -> (String, serde_json::Value) {
        let v = if args.show_sensitive { v.unmark() } else { v.clone() };
        (lanestack_engine::render::show_value(&v), jsonplan::redacted(&v))
    };
    match &name {
        Some(name) => {
            let Some(o) = state.outputs.get(name) else {
                let known: Vec<&str> = state.outputs.keys().map(String::as_str).collect();
                ui.error(&format!(
                    "no output named {name:?} in state{}",
                    if known.is_empty() {
                        String::new()
                    } else {
                        format!(" (outputs: {})", known.join(", "))
                    }
                ));
                return Err(Reported.into());
            };
            let (text, json) = show(&o.value);
            // A plain string prints raw, for scripts: `lanestack output id`.
            let raw = match (&o.value, args.show_sensitive) {
                (lanestack_model::Value::String(s), _) => s.clone(),
                (v, true) if v.unmark().as_str().is_some() => {
                    v.unmark().as_str().unwrap_or_default().to_owned()
                }
                _ => text,
            };
            ui.line(&if args.json { json.to_string() } else { raw })?;
        }
        None => {
            if args.json {
                let all: serde_json::Map<String, serde_json::Value> = state
                    .outputs
                    .iter()
                    .map(|(k, o)| {
                        (
                            k.clone(),
                            serde_json::json!({ "value": show(&o.value).1, "sensitive": o.sensitive }),
                        )
                    })
                    .collect();
                ui.line(&serde_json::Value::Object(all).to_string())?;
            } else {
                for (k, o) in &state.outputs {
                    ui.line(&format!("{k} = {}", show(&o.value).0))?;
                }
            }
        }
    }
    Ok(0)
}
