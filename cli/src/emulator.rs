//! `lanestack emulator serve`, and the emulator embedded by `plan|apply|destroy --emulator`.
//!
//! Embedded, the emulator runs in this process on a free loopback port, keeps its objects under
//! `<stack>/.lanestack/emulator/` (so a plan after an apply, in another process, shows no
//! changes), and is handed to the azure provider as a user would point it at another cloud:
//! endpoint, authority host and the emulator's service principal, injected as provider
//! configuration ([`crate::injected`]). Nothing else tells the provider it is an emulator.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use lanestack_emulator::{Emulator, EmulatorConfig, principal};

use crate::injected::{self, Injection, Layers};
use crate::ui::Ui;

/// Subcommands of `lanestack emulator`.
#[derive(Subcommand, Debug)]
pub enum EmulatorCommand {
    /// Run the local cloud until interrupted, printing its endpoints and credentials.
    Serve(ServeArgs),
}

/// Arguments of `lanestack emulator serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The loopback port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Where the emulator keeps its objects and its request log; in memory when unset.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
}

/// The emulator's configuration as the CLI runs it: ARM's defaults, and the one service
/// principal of [`principal`].
fn config(data_dir: Option<PathBuf>) -> EmulatorConfig {
    EmulatorConfig {
        data_dir,
        client_secret: Some(principal::CLIENT_SECRET.to_owned()),
        federated_token: Some(principal::FEDERATED_TOKEN.to_owned()),
        ..EmulatorConfig::default()
    }
}

pub async fn run(command: EmulatorCommand, ui: &Ui) -> anyhow::Result<u8> {
    match command {
        EmulatorCommand::Serve(args) => serve(args, ui).await,
    }
}

async fn serve(args: ServeArgs, ui: &Ui) -> anyhow::Result<u8> {
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let emulator = Emulator::start_on(addr, config(args.data.clone()))
        .await
        .with_context(|| format!("could not start the emulator on {addr}"))?;
    let endpoint = emulator.endpoint();
    let data = args.data.as_ref().map_or_else(|| "(in memory)".to_owned(), |d| d.display().to_string());
    ui.line(&format!(
        "lanestack emulator listening on {addr}\n\
         \n  ARM endpoint:    {endpoint}\
         \n  authority host:  {endpoint}  (token: POST {endpoint}/{tenant}/oauth2/v2.0/token)\
         \n  data:            {data}\
         \n\nProvider configuration (or AZURE_* variables) that reaches it:\n\
         \n  provider \"azure\" {{\
         \n    endpoint        = \"{endpoint}\"\
         \n    authority_host  = \"{endpoint}\"\
         \n    subscription_id = \"{sub}\"\
         \n    tenant_id       = \"{tenant}\"\
         \n    client_id       = \"{client}\"\
         \n    client_secret   = \"{secret}\"\
         \n  }}\n         \nor, for workload identity, a federated token file holding \"{federated}\".         \n\nPress Ctrl-C to stop.",
        tenant = principal::TENANT_ID,
        sub = principal::SUBSCRIPTION_ID,
        client = principal::CLIENT_ID,
        secret = principal::CLIENT_SECRET,
        federated = principal::FEDERATED_TOKEN,
    ))?;
    tokio::signal::ctrl_c().await.context("could not wait for Ctrl-C")?;
    emulator.stop();
    Ok(0)
}

/// The emulator's data directory of a stack.
pub fn data_dir(stack_dir: &Path) -> PathBuf {
    crate::stack::state_dir(stack_dir).join("emulator")
}

/// What plan, apply and destroy run against: the emulator (kept alive as long as this value)
/// or the real clouds, with the provider configuration to inject either way.
pub struct Target {
    /// The embedded emulator, when `--emulator` was given: held so that it serves as long
    /// as the command runs.
    pub _running: Option<Emulator>,
    /// The configuration injected into providers.
    pub injection: Injection,
}

impl Target {
    /// Starts the embedded emulator for the stack in `stack_dir` when `emulator` is set;
    /// otherwise reads the providers' inputs from the environment.
    pub async fn start(emulator: bool, stack_dir: &Path) -> anyhow::Result<Target> {
        let mut injection = Injection::none();
        if !emulator {
            *injection.provider(lanestack_azure::PROVIDER_NAME) = injected::azure_from_env();
            return Ok(Target { _running: None, injection });
        }
        let data = data_dir(stack_dir);
        let running = Emulator::start(config(Some(data.clone())))
            .await
            .with_context(|| format!("could not start the emulator with its data in {}", data.display()))?;
        *injection.provider(lanestack_azure::PROVIDER_NAME) = emulator_layers(&running.endpoint());
        Ok(Target { _running: Some(running), injection })
    }
}

/// The azure provider's configuration under `--emulator`: the endpoint and the emulator's
/// service principal override whatever the stack says; the subscription is only a default.
fn emulator_layers(endpoint: &str) -> Layers {
    let mut layers = Layers::default();
    layers.defaults.insert("subscription_id".into(), principal::SUBSCRIPTION_ID.into());
    for (attr, value) in [
        ("endpoint", endpoint),
        ("authority_host", endpoint),
        ("tenant_id", principal::TENANT_ID),
        ("client_id", principal::CLIENT_ID),
        ("client_secret", principal::CLIENT_SECRET),
    ] {
        layers.overrides.insert(attr.into(), value.into());
    }
    layers
}
