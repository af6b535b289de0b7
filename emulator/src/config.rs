//! What the emulator does beyond plain ARM semantics: latency, throttling, faults.
//!
//! Everything here is data, so that tests build it in code and the CLI (later) reads it from a
//! file or flags. The defaults are "a quiet, fast cloud": no latency, no faults, and ARM's real
//! throttling budgets (which a normal stack never reaches).

use std::path::PathBuf;
use std::time::Duration;

/// How the emulator behaves.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// Where the emulator keeps its objects (`arm.json`) and its request log
    /// (`requests.jsonl`); `None` keeps everything in memory.
    pub data_dir: Option<PathBuf>,
    /// Serve HTTPS, with a CA generated at start (written to the data directory as `ca.pem`),
    /// as ARM does; `false` serves plain HTTP, for curl and debugging.
    pub https: bool,
    /// Simulated latency.
    pub latency: Latency,
    /// ARM's per-subscription request budgets; `None` turns throttling off.
    pub throttling: Option<Throttling>,
    /// Injected faults.
    pub faults: Faults,
    /// How many status polls a long-running operation answers `InProgress` before it ends.
    pub lro_polls: u32,
    /// The `Retry-After` (seconds) sent with long-running operations still in progress.
    pub lro_retry_after_secs: u64,
    /// The client secret the token endpoint accepts; `None` accepts any non-empty secret.
    pub client_secret: Option<String>,
    /// The federated token (client assertion) the token endpoint accepts instead of a
    /// secret; `None` accepts any non-empty assertion.
    pub federated_token: Option<String>,
    /// The largest page a list returns before it adds a `nextLink`.
    pub page_size: usize,
}

impl Default for EmulatorConfig {
    fn default() -> EmulatorConfig {
        EmulatorConfig {
            data_dir: None,
            https: false,
            latency: Latency::default(),
            throttling: Some(Throttling::arm()),
            faults: Faults::default(),
            lro_polls: 1,
            lro_retry_after_secs: 1,
            client_secret: None,
            federated_token: None,
            page_size: 100,
        }
    }
}

/// Simulated latency per kind of operation, multiplied by `factor` (0 disables it).
#[derive(Clone, Debug)]
pub struct Latency {
    /// Added to every read (GET).
    pub read: Duration,
    /// Added to every write (PUT, PATCH, DELETE, POST).
    pub write: Duration,
    /// The least time a long-running operation takes, whatever the number of polls.
    pub operation: Duration,
    /// Scales every duration above; 0 means no latency at all.
    pub factor: f64,
}

impl Default for Latency {
    fn default() -> Latency {
        Latency { read: Duration::ZERO, write: Duration::ZERO, operation: Duration::ZERO, factor: 0.0 }
    }
}

impl Latency {
    /// A profile shaped like Azure's: reads tens of milliseconds, writes a little more,
    /// long-running operations seconds. Scale it with `factor`.
    pub fn realistic(factor: f64) -> Latency {
        Latency {
            read: Duration::from_millis(40),
            write: Duration::from_millis(120),
            operation: Duration::from_secs(5),
            factor,
        }
    }

    pub(crate) fn scaled(&self, d: Duration) -> Duration {
        if self.factor <= 0.0 || !self.factor.is_finite() { Duration::ZERO } else { d.mul_f64(self.factor) }
    }
}

/// One token bucket: `capacity` requests, refilled at `refill_per_sec`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    /// The most requests the bucket holds.
    pub capacity: f64,
    /// Requests added back per second.
    pub refill_per_sec: f64,
}

/// ARM's throttling budgets, per subscription.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Throttling {
    /// GET and HEAD.
    pub reads: Bucket,
    /// PUT, PATCH, DELETE and POST.
    pub writes: Bucket,
}

impl Throttling {
    /// ARM's documented budgets: reads 250 refilled at 25/s, writes 200 refilled at 10/s.
    pub fn arm() -> Throttling {
        Throttling {
            reads: Bucket { capacity: 250.0, refill_per_sec: 25.0 },
            writes: Bucket { capacity: 200.0, refill_per_sec: 10.0 },
        }
    }
}

/// Injected faults.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// The probability (0..=1) that an ARM request fails with 500 or 503 before it is handled.
    pub transient_rate: f64,
    /// The probability (0..=1) that an ARM request's connection is closed without an answer:
    /// half of them before the request is handled, half after (the change is made, the
    /// answer lost), as a reset connection does to a real client.
    pub reset_rate: f64,
    /// The seed of the random generator that draws those failures (and generated ids).
    pub seed: u64,
    /// Names of resources (case-insensitive) whose next create or update ends as a failed
    /// long-running operation; each name fails once.
    pub fail_operations: Vec<String>,
}
