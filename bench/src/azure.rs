//! `--azure-subnets N`: an apply of N subnets in a few vnets against the ARM emulator with
//! ARM's real throttling budgets, timed against the least time those budgets allow.
//!
//! The emulator runs in this process (so its request log can be read afterwards) with ARM's
//! buckets (reads 250 refilled at 25/s, writes 200 refilled at 10/s per subscription) and the
//! realistic latency profile scaled down; the CLI is a child process pointed at it by the
//! provider block, exactly as at a real endpoint. The lower bound is what the buckets alone
//! impose on the requests that were accepted: for each bucket, (accepted - capacity) / refill.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};
use lanestack_emulator::{Emulator, EmulatorConfig, Latency, Throttling};

use crate::measure;

/// Subnets per virtual network: a /16 holds 256 /24s.
const PER_VNET: usize = 250;

/// The realistic latency profile's scale (reads 4 ms, writes 12 ms, operations 0.5 s).
const LATENCY_FACTOR: f64 = 0.1;

/// The azure provider block that reaches the emulator at `endpoint`, in `subscription`.
pub fn provider_block(subscription: &str, endpoint: &str) -> String {
    format!(
        r#"
provider "azure" {{
  subscription_id = "{subscription}"
  tenant_id       = "bench"
  client_id       = "lanestack-bench"
  client_secret   = "bench"
  endpoint        = "{endpoint}"
  authority_host  = "{endpoint}"
}}
"#
    )
}

/// The stack: one resource group, `ceil(n / 250)` vnets, `n` subnets.
fn stack(n: usize, endpoint: &str) -> String {
    let vnets = n.div_ceil(PER_VNET).max(1);
    let provider = provider_block("00000000-0000-0000-0000-0000000000b0", endpoint);
    format!(
        r#"{provider}
resource "azure_resource_group" "rg" {{
  name     = "rg-bench"
  location = "westeurope"
}}

resource "azure_virtual_network" "v" {{
  count               = {vnets}
  name                = "vnet-${{count.index}}"
  resource_group_name = azure_resource_group.rg.name
  location            = azure_resource_group.rg.location
  address_space       = ["10.${{count.index}}.0.0/16"]
}}

resource "azure_subnet" "s" {{
  count                = {n}
  name                 = "s-${{count.index}}"
  resource_group_name  = azure_resource_group.rg.name
  virtual_network_name = azure_virtual_network.v[floor(count.index / {PER_VNET})].name
  address_prefixes     = ["10.${{floor(count.index / {PER_VNET})}}.${{count.index % {PER_VNET}}}.0/24"]
}}
"#
    )
}

/// Runs the benchmark and prints its figures.
pub fn run(lanestack: &Path, n: usize) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let throttling = Throttling::arm();
    let config = EmulatorConfig {
        throttling: Some(throttling),
        latency: Latency::realistic(LATENCY_FACTOR),
        ..EmulatorConfig::default()
    };
    let emulator = rt.block_on(Emulator::start(config)).context("cannot start the emulator")?;
    let dir = tempfile::Builder::new().prefix("lanestack-bench-azure-").tempdir()?;
    std::fs::write(dir.path().join("main.hcl"), stack(n, &emulator.endpoint()))
        .with_context(|| format!("cannot write the stack into {}", dir.path().display()))?;
    let dir_arg = dir.path().to_str().context("temporary directory path is not UTF-8")?;

    eprintln!("azure: apply of {n} subnets against {}", emulator.endpoint());
    // Enough parallelism that the buckets, not the engine, are the limit.
    let apply = measure::run(lanestack, &["apply", "--auto-approve", "--parallelism", "64", dir_arg])?;
    let log = emulator.requests();
    let accepted = |read: bool| {
        log.iter().filter(|e| e.status != 429 && (e.method == "GET") == read && e.method != "HEAD").count()
    };
    let (reads, writes) = (accepted(true), accepted(false));
    let throttled = log.iter().filter(|e| e.status == 429).count();
    let bound = |count: usize, capacity: f64, refill: f64| ((count as f64 - capacity) / refill).max(0.0);
    let read_bound = bound(reads, throttling.reads.capacity, throttling.reads.refill_per_sec);
    let write_bound = bound(writes, throttling.writes.capacity, throttling.writes.refill_per_sec);
    let lower = read_bound.max(write_bound);
    let created = log.iter().filter(|e| e.note.as_deref() == Some("created")).count();

    println!(
        "{:>6}  {:>9}  {:>11}  {:>6}  {:>6}  {:>6}  {:>9}  {:>8}  result",
        "N", "seconds", "lower bound", "ratio", "reads", "writes", "throttled", "created"
    );
    println!(
        "{:>6}  {:>9.1}  {:>11.1}  {:>6.2}  {:>6}  {:>6}  {:>9}  {:>8}  {}",
        n,
        apply.seconds,
        lower,
        apply.seconds / lower.max(f64::EPSILON),
        reads,
        writes,
        throttled,
        created,
        if apply.success { "ok" } else { "FAIL" }
    );
    println!(
        "lower bound: reads ({reads} - 250) / 25 = {read_bound:.1} s, writes ({writes} - 200) / 10 = {write_bound:.1} s"
    );
    drop(emulator);
    rt.shutdown_timeout(Duration::from_secs(1));
    if !apply.success {
        let tail: Vec<&str> = apply.stderr.lines().rev().take(20).collect();
        eprintln!("lanestack apply failed:\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
        bail!("the apply failed");
    }
    let expected = 1 + n.div_ceil(PER_VNET).max(1) + n;
    if created != expected {
        bail!("{created} objects created, expected {expected} (each exactly once)");
    }
    Ok(())
}
