//! `lanestack emulator serve`, and the emulator embedded by `plan|apply|destroy --emulator`.
//!
//! Embedded, the emulator runs in this process on a free loopback port, keeps its objects under
//! `<stack>/.lanestack/emulator/` (so a plan after an apply, in another process, shows no
//! changes), and is handed to the azure provider as a user would point it at another cloud:
//! endpoint, authority host and the emulator's service principal, injected as provider
//! configuration ([`crate::injected`]). Nothing else tells the provider it is an emulator.
//!
//! Both serve HTTPS, as ARM does, with a CA made once and kept with the data (`ca.pem`, and
//! its key in `ca.key`); the provider trusts it through `ca_certificate_file`. Embedded, the
//! emulator also listens on the port it had last time for the stack (`port`), so an emulated
//! cluster's kubeconfig stays the same from run to run. `serve --http` serves
//! plain HTTP for curl and debugging.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use lanestack_emulator::{ConfigFile, Emulator, EmulatorConfig, principal};

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
    /// Where the emulator keeps its objects, its request log and its CA (`ca.pem`); in memory
    /// when unset.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Serve plain HTTP instead of HTTPS, for curl and debugging.
    #[arg(long)]
    http: bool,
    /// Read latency, throttling, faults and operation pacing from this JSON file (see
    /// `lanestack_emulator::ConfigFile`); ARM's defaults otherwise.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// The emulator's configuration as the CLI runs it: ARM's defaults, and the one service
/// principal of [`principal`].
fn config(data_dir: Option<PathBuf>, https: bool) -> EmulatorConfig {
    EmulatorConfig {
        data_dir,
        https,
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
    let mut settings = config(args.data.clone(), !args.http);
    if let Some(file) = &args.config {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("could not read the emulator configuration {}", file.display()))?;
        let parsed = ConfigFile::parse(&text)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("invalid emulator configuration {}", file.display()))?;
        settings = parsed.apply(settings);
    }
    let emulator = Emulator::start_on(addr, settings)
        .await
        .with_context(|| format!("could not start the emulator on {addr}"))?;
    let endpoint = emulator.endpoint();
    let data = args.data.as_ref().map_or_else(|| "(in memory)".to_owned(), |d| d.display().to_string());
    let ca = match (emulator.ca_certificate_file(), emulator.ca_certificate_pem()) {
        (Some(file), _) => format!("\n  CA certificate:  {}", file.display()),
        (None, Some(pem)) => format!("\n  CA certificate:\n{pem}"),
        (None, None) => String::new(),
    };
    let ca_attr = emulator
        .ca_certificate_file()
        .map(|f| format!("\n    ca_certificate_file = \"{}\"", f.display()))
        .unwrap_or_default();
    let lines = [
        format!("lanestack emulator listening on {}", emulator.addr()),
        String::new(),
        format!("  ARM endpoint:    {endpoint}"),
        format!(
            "  authority host:  {endpoint}  (token: POST {endpoint}/{}/oauth2/v2.0/token)",
            principal::TENANT_ID
        ),
        format!("  data:            {data}{ca}"),
        String::new(),
        "Provider configuration (or AZURE_* variables) that reaches it:".to_owned(),
        String::new(),
        "  provider \"azure\" {".to_owned(),
        format!("    endpoint        = \"{endpoint}\""),
        format!("    authority_host  = \"{endpoint}\""),
        format!("    subscription_id = \"{}\"", principal::SUBSCRIPTION_ID),
        format!("    tenant_id       = \"{}\"", principal::TENANT_ID),
        format!("    client_id       = \"{}\"", principal::CLIENT_ID),
        format!("    client_secret   = \"{}\"{ca_attr}", principal::CLIENT_SECRET),
        "  }".to_owned(),
        String::new(),
        format!(
            "or, for workload identity, a federated token file holding \"{}\" in place of client_secret.",
            principal::FEDERATED_TOKEN
        ),
        String::new(),
        format!("Each AKS cluster created here serves its Kubernetes API under {endpoint}/k8s/<cluster>;"),
        "its kubeconfig is the cluster's kube_config_raw (listClusterUserCredential):".to_owned(),
        String::new(),
        "  provider \"kubernetes\" {".to_owned(),
        "    kubeconfig = azure_kubernetes_cluster.<name>.kube_config_raw".to_owned(),
        "  }".to_owned(),
        String::new(),
        "Each container registry created here serves the OCI distribution API under its login server's"
            .to_owned(),
        format!("name (<name>.azurecr.io, connected to {}), with ACR's token protocol:", emulator.addr()),
        String::new(),
        "  provider \"image\" {".to_owned(),
        format!("    connect_to = \"{}\"", emulator.addr()),
        format!("    username   = \"{}\"", principal::CLIENT_ID),
        format!("    password   = \"{}\"{ca_attr}", principal::CLIENT_SECRET),
        "  }".to_owned(),
        String::new(),
        "Its Run:ai control plane knows every AKS cluster created here (data \"runai_cluster\" by name):"
            .to_owned(),
        String::new(),
        "  provider \"runai\" {".to_owned(),
        format!("    url           = \"{endpoint}/runai\""),
        format!("    client_id     = \"{}\"", principal::CLIENT_ID),
        format!("    client_secret = \"{}\"{ca_attr}", principal::CLIENT_SECRET),
        "  }".to_owned(),
        String::new(),
        "Press Ctrl-C to stop.".to_owned(),
    ];
    ui.line(&lines.join("\n"))?;
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
            *injection.provider(lanestack_image::PROVIDER_NAME) = injected::image_from_env();
            return Ok(Target { _running: None, injection });
        }
        let data = data_dir(stack_dir);
        let running = start_again(&data)
            .await
            .with_context(|| format!("could not start the emulator with its data in {}", data.display()))?;
        // Absolute: providers resolve relative paths against the stack, not the working directory.
        let ca = running
            .ca_certificate_file()
            .map(|f| std::path::absolute(f).unwrap_or_else(|_| f.to_path_buf()).display().to_string())
            .unwrap_or_default();
        *injection.provider(lanestack_azure::PROVIDER_NAME) = emulator_layers(&running.endpoint(), &ca);
        // Kubernetes objects go only to the local cloud's emulated clusters, never to the
        // cluster a kubeconfig or KUBECONFIG names.
        injection
            .provider(lanestack_kubernetes::PROVIDER_NAME)
            .overrides
            .insert("allowed_server_prefix".into(), format!("{}/k8s/", running.endpoint()));
        // Images go only to the local cloud's registries: every registry's connections go to
        // the emulator (which serves each container registry under its login server's name),
        // with the emulator's service principal as the credentials.
        let image = injection.provider(lanestack_image::PROVIDER_NAME);
        for (attr, value) in [
            ("connect_to", running.addr().to_string()),
            ("ca_certificate_file", ca.clone()),
            ("username", principal::CLIENT_ID.to_owned()),
            ("password", principal::CLIENT_SECRET.to_owned()),
            // Docker's credentials are for real registries: never sent to the local cloud.
            ("docker_config_file", String::new()),
        ] {
            image.overrides.insert(attr.into(), value);
        }
        // Run:ai: the local cloud's control plane, with its service principal as the
        // application; a stack's own tenant and credentials are never used.
        let ca_file = ca;
        let runai = injection.provider(lanestack_runai::PROVIDER_NAME);
        for (attr, value) in [
            ("url", format!("{}/runai", running.endpoint())),
            ("client_id", principal::CLIENT_ID.to_owned()),
            ("client_secret", principal::CLIENT_SECRET.to_owned()),
            ("ca_certificate_file", ca_file),
        ] {
            runai.overrides.insert(attr.into(), value);
        }
        Ok(Target { _running: Some(running), injection })
    }
}

/// Starts the embedded emulator on the port it had last time for this stack (kept in
/// `<data>/port`), so that what clients were handed — an emulated cluster's kubeconfig, with
/// its server and CA — stays true from one run to the next (a plan saved in one is applied in
/// another). A port now taken by something else means a new one.
async fn start_again(data: &Path) -> std::io::Result<Emulator> {
    let port_file = data.join("port");
    let last = std::fs::read_to_string(&port_file).ok().and_then(|p| p.trim().parse::<u16>().ok());
    let settings = || config(Some(data.to_path_buf()), true);
    let running = match last {
        Some(port) => match Emulator::start_on(SocketAddr::from(([127, 0, 0, 1], port)), settings()).await {
            Ok(running) => running,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Emulator::start(settings()).await?,
            Err(e) => return Err(e),
        },
        None => Emulator::start(settings()).await?,
    };
    std::fs::write(&port_file, running.addr().port().to_string())?;
    Ok(running)
}

/// The azure provider's configuration under `--emulator`: the endpoint and the emulator's
/// service principal override whatever the stack says; the subscription is only a default.
fn emulator_layers(endpoint: &str, ca_certificate_file: &str) -> Layers {
    let mut layers = Layers::default();
    layers.defaults.insert("subscription_id".into(), principal::SUBSCRIPTION_ID.into());
    for (attr, value) in [
        ("endpoint", endpoint),
        ("authority_host", endpoint),
        ("tenant_id", principal::TENANT_ID),
        ("client_id", principal::CLIENT_ID),
        ("client_secret", principal::CLIENT_SECRET),
        ("ca_certificate_file", ca_certificate_file),
    ] {
        layers.overrides.insert(attr.into(), value.into());
    }
    layers
}
