//! `lanestack show`: a saved plan, or the state.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use lanestack_engine::{jsonplan, markdown, planfile, render};

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
    /// GitHub-flavoured markdown for a pull-request comment (plan files only).
    Markdown,
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
    /// With --format markdown: the most characters to print (GitHub allows 65,536 in a comment,
    /// GitLab 1,000,000, Bitbucket 32,768). Details are left out to fit, never the risk summary.
    #[arg(long, value_name = "N", default_value_t = markdown::DEFAULT_MAX_CHARS)]
    max_chars: usize,
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
                Format::Markdown => {
                    let opts = markdown::Options {
                        stack: stack_name(&plan.cwd.join(&plan.dir)),
                        max_chars: args.max_chars,
                        secrets,
                        full_command: format!("lanestack show {}", path.display()),
                    };
                    ui.out(&markdown::plan_markdown(&plan, &opts))?;
                }
            }
        }
        None => {
            let state = stack::read_state(&args.dir)?;
            match args.format {
                Format::Markdown => anyhow::bail!("--format markdown shows a saved plan: give the plan file"),
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

/// The stack's name for the markdown marker: its directory's name.
fn stack_name(dir: &std::path::Path) -> String {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    dir.file_name().map_or_else(|| "stack".to_owned(), |n| n.to_string_lossy().into_owned())
}
