//! `lanestack apply` and `lanestack destroy`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use lanestack_engine::apply::{self, ApplyEvent, ApplyInputs, ApplyReport};
use lanestack_engine::config;
use lanestack_engine::plan::{Plan, PlanMode};
use lanestack_engine::planfile::UnsealError;
use lanestack_engine::secrets::Secrets;
use lanestack_engine::state::StepKind;
use lanestack_engine::{planfile, render};

use crate::Reported;
use crate::emulator::Target;
use crate::plan::{PlanFlags, cancel_on_interrupt, make_plan, recover_in_flight};
use crate::stack::{self, Ready};
use crate::ui::Ui;

/// Arguments of `lanestack apply`.
#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// The stack directory, or a plan file saved by `lanestack plan --out`.
    #[arg(default_value = ".", value_name = "DIR|PLANFILE")]
    target: PathBuf,
    /// Apply without asking for confirmation.
    #[arg(long)]
    auto_approve: bool,
    #[command(flatten)]
    flags: PlanFlags,
}

/// Arguments of `lanestack destroy`.
#[derive(Args, Debug)]
pub struct DestroyArgs {
    /// The stack directory.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Destroy without asking for confirmation.
    #[arg(long)]
    auto_approve: bool,
    #[command(flatten)]
    flags: PlanFlags,
}

pub async fn run(args: ApplyArgs, ui: &Ui) -> anyhow::Result<u8> {
    if args.target.is_file() {
        return apply_saved(&args.target, &args.flags, ui).await;
    }
    plan_and_apply(&args.target, PlanMode::Normal, args.auto_approve, &args.flags, ui).await
}

pub async fn destroy(args: DestroyArgs, ui: &Ui) -> anyhow::Result<u8> {
    plan_and_apply(&args.dir, PlanMode::Destroy, args.auto_approve, &args.flags, ui).await
}

async fn plan_and_apply(
    dir: &Path,
    mode: PlanMode,
    auto_approve: bool,
    flags: &PlanFlags,
    ui: &Ui,
) -> anyhow::Result<u8> {
    let target = Target::start(flags.emulator, dir).await?;
    let ready = stack::load(dir, &flags.vars, &target.injection, ui)?;
    let (_lock, mut store) =
        stack::open_state(dir, if mode == PlanMode::Destroy { "destroy" } else { "apply" })?;
    let cancel = cancel_on_interrupt();
    let plan = make_plan(&ready, &mut store, mode, flags, &cancel, ui).await?;
    ui.out(&render::plan_text(&plan, ui.style(Secrets::Redact)))?;
    if !plan.has_changes() {
        return Ok(0);
    }
    if !auto_approve {
        let question = if mode == PlanMode::Destroy {
            "\nDo you really want to destroy every resource of this stack?"
        } else {
            "\nDo you want to perform these actions?"
        };
        match ui.confirm(question) {
            Ok(true) => {}
            Ok(false) => {
                ui.error("apply cancelled: the answer was not 'yes'");
                return Err(Reported.into());
            }
            Err(_) => {
                ui.error("refusing to apply without confirmation: there is no terminal to ask on; review the plan and pass --auto-approve, or save it with `plan --out` and apply the file");
                return Err(Reported.into());
            }
        }
    }
    let report = execute(&ready, &plan, &mut store, flags.parallelism, &cancel, ui).await?;
    summarize(&plan, &report, ui)
}

/// Applies a saved plan: exactly what was reviewed, or nothing if the state moved on.
///
/// The file holds secrets only as salted hashes: sensitive variables are resolved again from
/// the same inputs as the plan (`--var`, var files, `LANESTACK_VAR_*`) and must match, and the
/// sensitive parts of prior values come from state.
async fn apply_saved(path: &Path, flags: &PlanFlags, ui: &Ui) -> anyhow::Result<u8> {
    let mut plan = planfile::read(path)?;
    // Var files named on this command line are relative to where it was started.
    let mut vars = flags.vars.clone();
    let started_in = std::env::current_dir().context("could not read the working directory")?;
    vars.var_files = vars.var_files.iter().map(|f| started_in.join(f)).collect();
    // Relative paths in the stack (its directory, files it reads and writes) resolve against
    // the directory the plan was made in: apply there, wherever this command was started.
    std::env::set_current_dir(&plan.cwd).with_context(|| {
        format!("the plan was made in {}, which this machine does not have", plan.cwd.display())
    })?;
    let loaded = config::load_sources(plan.dir.clone(), plan.sources.clone());
    let target = Target::start(flags.emulator, &plan.dir).await?;
    let (stack, graph, providers) = stack::check(loaded, &target.injection, ui)?;
    let cwd = std::env::current_dir().context("could not read the working directory")?;
    let sealed_vars = plan.variables.values().any(|v| v.contains_sensitive());
    let fresh_vars =
        if sealed_vars { stack::resolve_quietly(&stack, &plan.dir, &vars) } else { BTreeMap::new() };
    let (_lock, mut store) = stack::open_state(&plan.dir, "apply")?;
    let stale = |plan: &Plan, store: &lanestack_engine::state::StateStore| -> anyhow::Result<bool> {
        let exists = stack::state_exists(store.state());
        match apply::check_fresh(plan, store, exists) {
            Ok(()) => Ok(false),
            Err(e) => {
                ui.error(&format!("{e}"));
                ui.line("Someone applied changes since this plan was made. Make a new plan, review it, and apply that one.")?;
                Ok(true)
            }
        }
    };
    // Secrets first: recovering interrupted steps configures providers with the variables.
    if let Err(e) = planfile::unseal(&mut plan, &fresh_vars, store.state()) {
        if store.in_flight().is_empty() && stale(&plan, &store)? {
            return Err(Reported.into());
        }
        let hint = match &e {
            UnsealError::MissingVariable { name } => format!(
                "give it again as when planning: --var {name}=..., --var-file FILE, or LANESTACK_VAR_{name}"
            ),
            UnsealError::VariableChanged { .. } => {
                "make a new plan with the current value, review it, and apply that one".to_owned()
            }
            UnsealError::PriorChanged { .. } => {
                "it changed since the plan was made: make a new plan, review it, and apply that one"
                    .to_owned()
            }
        };
        ui.error(&format!("cannot apply {}: {e}\n  hint: {hint}", path.display()));
        return Err(Reported.into());
    }
    let ready = Ready { stack, graph, variables: plan.variables.clone(), providers, cwd };
    recover_in_flight(&ready, &mut store, ui).await?;
    if stale(&plan, &store)? {
        return Err(Reported.into());
    }
    let cancel = cancel_on_interrupt();
    let report = execute(&ready, &plan, &mut store, flags.parallelism, &cancel, ui).await?;
    summarize(&plan, &report, ui)
}

async fn execute(
    ready: &Ready,
    plan: &Plan,
    store: &mut lanestack_engine::state::StateStore,
    parallelism: usize,
    cancel: &std::sync::Arc<std::sync::atomic::AtomicBool>,
    ui: &Ui,
) -> anyhow::Result<ApplyReport> {
    let inputs = ApplyInputs {
        stack: &ready.stack,
        graph: &ready.graph,
        providers: &ready.providers,
        cwd: &ready.cwd,
        parallelism,
    };
    let mut started: HashMap<String, Instant> = HashMap::new();
    let mut progress = |event: ApplyEvent| {
        let line = match event {
            ApplyEvent::Started { address, kind } => {
                started.insert(address.to_string(), Instant::now());
                format!("{address}: {}...", verb(kind).0)
            }
            ApplyEvent::Finished { address, kind, id } => {
                let secs = started.remove(&address.to_string()).map_or(0, |t| t.elapsed().as_secs());
                let id = id.map(|id| format!(" [id={id}]")).unwrap_or_default();
                format!("{address}: {} after {secs}s{id}", verb(kind).1)
            }
            ApplyEvent::Failed { address, kind, message } => {
                format!("{address}: {} failed: {message}", verb(kind).0)
            }
        };
        // Progress lines are best effort: a closed stdout must not stop the apply.
        let _ = ui.line(&line);
    };
    ui.line("")?;
    let report = apply::apply(inputs, plan, store, cancel, &mut progress).await?;
    ui.diagnostics(&report.diagnostics, &ready.stack.sources);
    Ok(report)
}

fn verb(kind: StepKind) -> (&'static str, &'static str) {
    match kind {
        StepKind::Create => ("Creating", "Creation complete"),
        StepKind::Update => ("Modifying", "Modifications complete"),
        StepKind::Delete => ("Destroying", "Destruction complete"),
    }
}

fn summarize(plan: &Plan, report: &ApplyReport, ui: &Ui) -> anyhow::Result<u8> {
    let count = |k: StepKind| report.done.iter().filter(|(_, kind)| *kind == k).count();
    let (added, changed, destroyed) =
        (count(StepKind::Create), count(StepKind::Update), count(StepKind::Delete));
    if report.succeeded() {
        let what = if plan.mode == PlanMode::Destroy { "Destroy" } else { "Apply" };
        ui.line(&format!(
            "\n{what} complete! Resources: {added} added, {changed} changed, {destroyed} destroyed."
        ))?;
        return Ok(0);
    }
    let mut text = format!(
        "\nApply {}: {added} added, {changed} changed, {destroyed} destroyed; {} failed, {} not done.\n",
        if report.cancelled { "interrupted" } else { "failed" },
        report.failed.len(),
        report.not_done.len()
    );
    // Every failure is listed (each needs attention); what was not done is listed up to a
    // screenful: `lanestack plan` shows all of it.
    for (addr, _, message) in &report.failed {
        text.push_str(&format!("  failed:   {addr}: {message}\n"));
    }
    const SHOWN: usize = 20;
    for (addr, action) in report.not_done.iter().take(SHOWN) {
        text.push_str(&format!("  not done: {addr} ({})\n", action.terraform_actions().join(", ")));
    }
    if report.not_done.len() > SHOWN {
        text.push_str(&format!("  ... and {} more not done\n", report.not_done.len() - SHOWN));
    }
    text.push_str("State records everything that was done. Run `lanestack plan` to see what remains.\n");
    ui.out(&text)?;
    Ok(1)
}
