//! `--image-mb N`: an image of one N MB layer built and pushed by `image_build` into an
//! emulated Azure Container Registry (under its login server's name, over HTTPS, through ACR's
//! token protocol), then a no-op plan, then a rebuild after one byte of the file changed. The
//! layer's file is executable code (the lanestack binary, repeated to N MB), which compresses
//! about as the trainer's binary does.
//!
//! The peak memory measured is the CLI's alone: the hashing, packing and upload of the layer.

use std::path::Path;

use anyhow::{Context as _, bail};
use lanestack_emulator::principal;

use crate::measure::{self, Measurement};

fn stack(endpoint: &str, connect_to: &str) -> String {
    format!(
        r#"
provider "azure" {{
  subscription_id     = "00000000-0000-0000-0000-0000000000b2"
  tenant_id           = "{tenant}"
  client_id           = "{user}"
  client_secret       = "{password}"
  endpoint            = "{endpoint}"
  authority_host      = "{endpoint}"
  ca_certificate_file = "ca.pem"
}}

provider "image" {{
  connect_to          = "{connect_to}"
  ca_certificate_file = "ca.pem"
  username            = "{user}"
  password            = "{password}"
}}

resource "azure_resource_group" "rg" {{
  name     = "rg-bench-image"
  location = "westeurope"
}}

resource "azure_container_registry" "acr" {{
  name                = "benchregistry"
  resource_group_name = azure_resource_group.rg.name
  location            = azure_resource_group.rg.location
  sku                 = "Basic"
}}

resource "image_build" "big" {{
  repository = "${{azure_container_registry.acr.login_server}}/bench/payload"
  tag        = "v1"
  layer {{
    source = "payload.bin"
    target = "/opt/payload.bin"
  }}
}}
"#,
        tenant = principal::TENANT_ID,
        user = principal::CLIENT_ID,
        password = principal::CLIENT_SECRET,
    )
}

/// Writes `mb` MB of the bytes of `program`, repeated, to `out`, with its first byte flipped
/// when `flip`; a MB at a time, so that this process stays small (see below).
fn write_payload(program: &Path, mb: usize, out: &Path, flip: bool) -> anyhow::Result<()> {
    use std::io::{Read as _, Write as _};
    let mut writer = std::io::BufWriter::new(std::fs::File::create(out)?);
    let mut left = mb << 20;
    let mut chunk = vec![0u8; 1 << 20];
    while left > 0 {
        let mut code =
            std::fs::File::open(program).with_context(|| format!("cannot read {}", program.display()))?;
        loop {
            let n = code.read(&mut chunk[..left.min(1 << 20)])?;
            if n == 0 {
                break;
            }
            if flip && left == mb << 20 {
                chunk[0] ^= 1;
            }
            writer.write_all(&chunk[..n])?;
            left -= n;
            if left == 0 {
                break;
            }
        }
    }
    writer.flush()?;
    Ok(())
}

/// Runs the benchmark and prints its figures.
///
/// The registry runs in another process: a child's peak memory as the kernel reports it
/// (`wait4`) starts from the high-water mark of the process that spawned it, so this one stays
/// small (the payload is written a MB at a time) and the figure is the CLI's own.
pub fn run(lanestack: &Path, mb: usize) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new().prefix("lanestack-bench-image-").tempdir()?;
    // The local cloud as a separate process (`lanestack emulator serve`), killed when dropped.
    let served = lanestack_testkit::ServedEmulator::start(lanestack, &dir.path().join("emulator"), &[]);
    let endpoint = served.endpoint.clone();
    std::fs::copy(dir.path().join("emulator/ca.pem"), dir.path().join("ca.pem"))
        .context("the emulator wrote no CA")?;
    std::fs::write(dir.path().join("main.hcl"), stack(&endpoint, &served.addr))?;
    let payload = dir.path().join("payload.bin");
    write_payload(lanestack, mb, &payload, false)?;
    let dir_arg = dir.path().to_str().context("temporary directory path is not UTF-8")?;

    eprintln!("image: a {mb} MB layer pushed to an emulated ACR at {endpoint}");
    let apply = measure::run(lanestack, &["apply", "--auto-approve", dir_arg])?;
    let plan = measure::run(lanestack, &["plan", dir_arg])?;
    let noop = plan.success && plan.stdout.contains("No changes");
    write_payload(lanestack, mb, &payload, true)?;
    let rebuild = measure::run(lanestack, &["apply", "--auto-approve", dir_arg])?;
    drop(served);

    println!("{:>6}  {:<14} {:>8}  {:>8}  result", "MB", "operation", "seconds", "peak MB");
    let line = |op: &str, m: &Measurement, ok: bool| {
        println!(
            "{:>6}  {:<14} {:>8.3}  {:>8.1}  {}",
            mb,
            op,
            m.seconds,
            m.peak_mb,
            if ok { "ok" } else { "FAIL" }
        );
    };
    line("create-apply", &apply, apply.success);
    line("no-op plan", &plan, noop);
    line("rebuild-apply", &rebuild, rebuild.success);
    for (m, what) in [(&apply, "apply"), (&plan, "plan"), (&rebuild, "rebuild")] {
        if !m.success {
            let output = format!("{}{}", m.stdout, m.stderr);
            let tail: Vec<&str> = output.lines().rev().take(20).collect();
            eprintln!("lanestack {what} failed:\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
        }
    }
    if !apply.success || !noop || !rebuild.success {
        bail!("an apply failed or the plan after it was not a no-op");
    }
    Ok(())
}
