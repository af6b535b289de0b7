//! `lanestack-bench`: times the `lanestack` CLI on generated stacks.
//!
//! For each size N it writes a stack of N chained `lanestack_data` resources ([`stack`]) into a
//! temporary directory, runs `lanestack apply --auto-approve DIR` (create-apply) and then
//! `lanestack plan DIR` (a no-op plan, which must print "No changes"), and reports wall time and
//! the child's peak memory ([`measure`]) against the targets. It prints figures; it is not a test
//! and never runs under `cargo test`.
//!
//! With `--azure-subnets N` it runs [`azure`] instead: N subnets applied against the ARM
//! emulator under ARM's throttling budgets; with `--kube-secrets N`, [`kube`]: N Secrets
//! applied into an emulated AKS cluster, and a no-op plan of them; with `--image-mb N`,
//! [`image`]: an image of an N MB layer built and pushed into an emulated container registry.
//!
//! Exit status: 1 when a command failed or the no-op plan was not a no-op; missed time or memory
//! targets are reported in the table and the JSON, not in the exit status, because timings
//! depend on the machine.

#![deny(unsafe_code)]

mod azure;
mod image;
mod kube;
mod measure;
mod stack;

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::Parser;

/// Time `lanestack apply` and a no-op `lanestack plan` on generated stacks.
#[derive(Debug, Parser)]
#[command(name = "lanestack-bench", version)]
struct Args {
    /// Stack sizes to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,2000,10000")]
    sizes: Vec<usize>,

    /// The lanestack binary; by default the `lanestack` next to this program.
    #[arg(long, value_name = "PATH")]
    lanestack: Option<PathBuf>,

    /// Instead of the sizes: apply this many subnets against the ARM emulator with ARM's
    /// throttling budgets, and compare the wall time with the least time they allow.
    #[arg(long, value_name = "N")]
    azure_subnets: Option<usize>,

    /// Instead of the sizes: apply this many Secrets into an emulated AKS cluster through the
    /// kubernetes provider, then plan again; time both and count the API requests.
    #[arg(long, value_name = "N")]
    kube_secrets: Option<usize>,

    /// Instead of the sizes: build and push an image of one layer of this many MB into an
    /// emulated container registry, plan again, and rebuild it after a one-byte change.
    #[arg(long, value_name = "N")]
    image_mb: Option<usize>,

    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

/// The operations measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operation {
    CreateApply,
    NoopPlan,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::CreateApply => "create-apply",
            Operation::NoopPlan => "no-op plan",
        }
    }
}

/// A limit a measurement must stay within.
#[derive(Clone, Copy, Debug)]
struct Target {
    seconds: f64,
    peak_mb: Option<f64>,
}

impl Target {
    /// The targets: a no-op plan of 10,000 resources under 2 s and 150 MB, a create-apply of
    /// 2,000 under 3 s. Other runs are reported without a target.
    fn for_run(n: usize, op: Operation) -> Option<Target> {
        match (n, op) {
            (10_000, Operation::NoopPlan) => Some(Target { seconds: 2.0, peak_mb: Some(150.0) }),
            (2_000, Operation::CreateApply) => Some(Target { seconds: 3.0, peak_mb: None }),
            _ => None,
        }
    }

    fn describe(self) -> String {
        match self.peak_mb {
            Some(mb) => format!("< {} s, < {} MB", self.seconds, mb),
            None => format!("< {} s", self.seconds),
        }
    }

    fn met(self, seconds: f64, peak_mb: f64) -> bool {
        seconds < self.seconds && self.peak_mb.is_none_or(|mb| peak_mb < mb)
    }
}

/// One row of the report.
#[derive(Debug)]
struct Row {
    n: usize,
    op: Operation,
    seconds: f64,
    peak_mb: f64,
    target: Option<Target>,
    /// The command succeeded (and, for the no-op plan, printed "No changes").
    ok: bool,
}

impl Row {
    fn verdict(&self) -> &'static str {
        match (self.ok, self.target) {
            (false, _) => "FAIL (error)",
            (true, None) => "-",
            (true, Some(t)) if t.met(self.seconds, self.peak_mb) => "pass",
            (true, Some(_)) => "FAIL",
        }
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "n": self.n,
            "operation": self.op.name(),
            "seconds": self.seconds,
            "peak_mb": self.peak_mb,
            "target": self.target.map(|t| serde_json::json!({ "seconds": t.seconds, "peak_mb": t.peak_mb })),
            "ok": self.ok,
            "verdict": self.verdict(),
        })
    }
}

fn main() {
    if let Err(err) = run(Args::parse()) {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let lanestack = match args.lanestack {
        Some(p) => p,
        None => std::env::current_exe()?.with_file_name("lanestack"),
    };
    if !lanestack.is_file() {
        bail!(
            "{} not found; build the CLI (cargo build --release -p lanestack-cli) or pass --lanestack PATH",
            lanestack.display()
        );
    }

    if let Some(n) = args.azure_subnets {
        return azure::run(&lanestack, n);
    }
    if let Some(n) = args.kube_secrets {
        return kube::run(&lanestack, n);
    }
    if let Some(mb) = args.image_mb {
        return image::run(&lanestack, mb);
    }

    let mut rows = Vec::new();
    for &n in &args.sizes {
        let dir = tempfile::Builder::new().prefix(&format!("lanestack-bench-{n}-")).tempdir()?;
        std::fs::write(dir.path().join("main.hcl"), stack::generate(n))
            .with_context(|| format!("cannot write the stack into {}", dir.path().display()))?;
        let dir_arg = dir.path().to_str().context("temporary directory path is not UTF-8")?;

        eprintln!("N = {n}: apply");
        let apply = measure::run(&lanestack, &["apply", "--auto-approve", dir_arg])?;
        report_failure(&apply, "apply");
        rows.push(row(n, Operation::CreateApply, &apply, apply.success));

        eprintln!("N = {n}: plan");
        let plan = measure::run(&lanestack, &["plan", dir_arg])?;
        report_failure(&plan, "plan");
        let noop = plan.success && plan.stdout.contains("No changes");
        if plan.success && !noop {
            eprintln!("plan after apply was not a no-op (no \"No changes\" in its output)");
        }
        rows.push(row(n, Operation::NoopPlan, &plan, noop));
    }

    print_table(&rows);
    if let Some(path) = &args.json {
        let json = serde_json::Value::Array(rows.iter().map(Row::to_json).collect());
        std::fs::write(path, serde_json::to_string_pretty(&json)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if rows.iter().any(|r| !r.ok) {
        bail!("a command failed or the plan after apply was not a no-op");
    }
    Ok(())
}

fn row(n: usize, op: Operation, m: &measure::Measurement, ok: bool) -> Row {
    Row { n, op, seconds: m.seconds, peak_mb: m.peak_mb, target: Target::for_run(n, op), ok }
}

fn report_failure(m: &measure::Measurement, what: &str) {
    if !m.success {
        let tail: String = m
            .stderr
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        eprintln!("lanestack {what} failed:\n{tail}");
    }
}

fn print_table(rows: &[Row]) {
    println!("{:>7}  {:<13} {:>8}  {:>8}  {:<18} result", "N", "operation", "seconds", "peak MB", "target");
    for r in rows {
        let target = r.target.map_or_else(|| "-".to_owned(), Target::describe);
        println!(
            "{:>7}  {:<13} {:>8.3}  {:>8.1}  {:<18} {}",
            r.n,
            r.op.name(),
            r.seconds,
            r.peak_mb,
            target,
            r.verdict()
        );
    }
}
