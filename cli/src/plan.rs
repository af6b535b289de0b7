//! `lanestack plan`: show what apply would change, optionally saving the plan.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{ArgAction, Args};
use lanestack_engine::diag::Diagnostics;
use lanestack_engine::plan::{self, Plan, PlanInputs, PlanMode, PlanOptions};
use lanestack_engine::state::StateStore;
use lanestack_engine::{jsonplan, planfile, recover, render};
use lanestack_model::ResourceAddress;

use crate::emulator::Target;
use crate::inputs::VarArgs;
use crate::secrets::SecretArgs;
use crate::stack::{self, Ready};
use crate::ui::Ui;
use crate::{DirArg, Reported};

/// Options shared by plan, apply and destroy.
#[derive(Args, Debug, Clone)]
pub struct PlanFlags {
    /// Read every resource from its provider before planning (--refresh=false uses state as is).
    #[arg(long, default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub refresh: bool,
    /// Plan only this resource and what it depends on (repeatable).
    #[arg(long = "target", value_name = "ADDRESS")]
    pub targets: Vec<ResourceAddress>,
    /// Replace this resource even if nothing changed (repeatable).
    #[arg(long = "replace", value_name = "ADDRESS")]
    pub replace: Vec<ResourceAddress>,
    /// Run against the local cloud emulator started in this process, its data kept under
    /// `<stack>/.lanestack/emulator/`, instead of the real clouds.
    #[arg(long)]
    pub emulator: bool,
    /// How many provider operations may run at once.
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub parallelism: usize,
    #[command(flatten)]
    pub vars: VarArgs,
}

/// Arguments of `lanestack plan`.
#[derive(Args, Debug)]
pub struct PlanArgs {
    #[command(flatten)]
    dir: DirArg,
    /// Save the plan to FILE, for `lanestack apply FILE`.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Exit 2 when the plan has changes (0: none, 1: error).
    #[arg(long)]
    detailed_exitcode: bool,
    /// Plan the deletion of everything in state.
    #[arg(long)]
    destroy: bool,
    /// Print the plan as JSON in the shape of `terraform show -json` instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    secrets: SecretArgs,
    #[command(flatten)]
    flags: PlanFlags,
}

pub async fn run(args: PlanArgs, ui: &Ui) -> anyhow::Result<u8> {
    let dir = args.dir.dir;
    let secrets = args.secrets.secrets(ui)?;
    let target = Target::start(args.flags.emulator, &dir).await?;
    let ready = stack::load(&dir, &args.flags.vars, &target.injection, ui)?;
    let (_lock, mut store) = stack::open_state(&dir, "plan")?;
    let mode = if args.destroy { PlanMode::Destroy } else { PlanMode::Normal };
    let cancel = cancel_on_interrupt();
    let plan = make_plan(&ready, &mut store, mode, &args.flags, &cancel, ui).await?;
    if args.json {
        ui.line(&jsonplan::plan_json(&plan, secrets).to_string())?;
    } else {
        ui.out(&render::plan_text(&plan, ui.style(secrets)))?;
    }
    if let Some(out) = &args.out {
        planfile::write(out, &plan)?;
        // With --json, stdout is the JSON document alone.
        let say = |text: &str| if args.json { Ok(()) } else { ui.line(text) };
        say(&format!(
            "\nSaved the plan to {}. Apply exactly this plan with:\n  lanestack apply {}",
            out.display(),
            out.display()
        ))?;
    }
    Ok(if args.detailed_exitcode && plan.has_changes() { 2 } else { 0 })
}

/// Recovers interrupted steps, then plans. Prints diagnostics; errors are `Reported`.
pub async fn make_plan(
    ready: &Ready,
    store: &mut StateStore,
    mode: PlanMode,
    flags: &PlanFlags,
    cancel: &Arc<AtomicBool>,
    ui: &Ui,
) -> anyhow::Result<Plan> {
    recover_in_flight(ready, store, ui).await?;
    let opts = PlanOptions {
        mode,
        refresh: flags.refresh,
        targets: flags.targets.clone(),
        replace: flags.replace.clone(),
        parallelism: flags.parallelism,
    };
    let state = store.state();
    let inputs = PlanInputs {
        stack: &ready.stack,
        graph: &ready.graph,
        variables: &ready.variables,
        state,
        state_exists: stack::state_exists(state),
        providers: &ready.providers,
        cwd: &ready.cwd,
    };
    match plan::plan(inputs, &opts, cancel).await {
        Ok((plan, warnings)) => {
            ui.diagnostics(&warnings, &ready.stack.sources);
            if !plan.targets.is_empty() {
                ui.warn("this plan is limited to the --target resources and what they depend on; the rest of the stack may differ from what is planned");
            }
            Ok(plan)
        }
        Err(diags) => {
            ui.diagnostics(&diags, &ready.stack.sources);
            Err(Reported.into())
        }
    }
}

/// Resolves steps that a previous run left in flight, telling the user what it found.
pub async fn recover_in_flight(ready: &Ready, store: &mut StateStore, ui: &Ui) -> anyhow::Result<()> {
    if store.in_flight().is_empty() {
        return Ok(());
    }
    let state = store.state().clone();
    let diags: Diagnostics =
        plan::configure(&ready.stack, &ready.graph, &ready.variables, &state, &ready.providers, &ready.cwd)
            .await;
    if ui.diagnostics(&diags, &ready.stack.sources) {
        return Err(Reported.into());
    }
    for r in recover::recover(store, &ready.providers).await? {
        let found = if r.exists { "exists and is now recorded" } else { "does not exist" };
        ui.warn(&format!(
            "a previous run was interrupted during the {:?} of {}: the object {found}",
            r.kind, r.address
        ));
    }
    Ok(())
}

/// A flag set by the first Ctrl-C: stop starting operations, finish those in flight.
pub fn cancel_on_interrupt() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            set.store(true, Ordering::SeqCst);
            eprintln!(
                "\nInterrupt received: starting nothing new, waiting for the operations in flight to finish..."
            );
        }
    });
    flag
}
