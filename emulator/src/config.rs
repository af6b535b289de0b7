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
    /// Where the emulator keeps its objects (`arm.json`, and the clusters' Kubernetes objects
    /// in `kube.json`) and its request log (`requests.jsonl`); `None` keeps everything in
    /// memory.
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
    /// How many status polls a long-running operation answers `InProgress` before it ends;
    /// also how many GETs of a terminating Kubernetes namespace still find it.
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
    /// Run the clusters' controllers (Deployments rolling out, Jobs running, claims bound,
    /// snapshots taken); `false` leaves objects as a bare API server stores them.
    pub kube_controllers: bool,
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
            kube_controllers: true,
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
    /// Behaviour for the requests of one resource type and/or one HTTP method, overriding the
    /// rates above and the latency; the first rule that matches a request wins.
    pub rules: Vec<Rule>,
}

/// Faults and latency for some requests only: those to one ARM resource type, with one HTTP
/// method, or both (`{"resource_type": "Microsoft.Network/virtualNetworks/subnets", "method":
/// "PUT", "transient_rate": 0.5}`). What a rule leaves unset keeps the emulator-wide setting.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The ARM resource type (`Microsoft.Network/virtualNetworks/subnets`), matched without
    /// regard to case; unset matches every type.
    pub resource_type: Option<String>,
    /// The HTTP method (`GET`, `PUT`, `PATCH`, `DELETE`, `POST`); unset matches every method.
    pub method: Option<String>,
    /// Replaces [`Faults::transient_rate`] for these requests.
    pub transient_rate: Option<f64>,
    /// Replaces [`Faults::reset_rate`] for these requests.
    pub reset_rate: Option<f64>,
    /// Replaces the read or write latency (before scaling) for these requests, in milliseconds.
    pub latency_ms: Option<u64>,
}

impl Rule {
    /// Whether the rule applies to a request of this method to a resource of this type (`None`
    /// for requests that are not about a resource type: operation polls).
    pub fn matches(&self, resource_type: Option<&str>, method: &str) -> bool {
        let type_ok = match (&self.resource_type, resource_type) {
            (None, _) => true,
            (Some(want), Some(got)) => want.eq_ignore_ascii_case(got),
            (Some(_), None) => false,
        };
        type_ok && self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
    }
}

impl Faults {
    /// The first rule for this request, if any.
    pub fn rule(&self, resource_type: Option<&str>, method: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.matches(resource_type, method))
    }
}

/// The emulator's behaviour as a JSON file (`lanestack emulator serve --config FILE`): what a
/// test or demo wants beyond ARM's defaults. Every field is optional; unknown fields are
/// refused, so a misspelt setting is an error rather than silently ignored.
///
/// ```json
/// {
///   "latency": { "profile": "realistic", "factor": 0.1 },
///   "throttling": { "reads": { "capacity": 250, "refill_per_sec": 25 },
///                   "writes": { "capacity": 200, "refill_per_sec": 10 } },
///   "faults": { "transient_rate": 0.1, "reset_rate": 0.05, "seed": 7, "fail_operations": ["vol1"] },
///   "lro_polls": 2, "lro_retry_after_secs": 1, "page_size": 100, "kube_controllers": true
/// }
/// ```
///
/// `"throttling": "off"` turns throttling off; `"arm"` (the default) keeps ARM's budgets.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    latency: Option<LatencyFile>,
    throttling: Option<ThrottlingFile>,
    faults: Option<FaultsFile>,
    lro_polls: Option<u32>,
    lro_retry_after_secs: Option<u64>,
    page_size: Option<usize>,
    kube_controllers: Option<bool>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LatencyFile {
    /// `realistic` or `none` (the default): the base the other fields override.
    profile: Option<String>,
    factor: Option<f64>,
    read_ms: Option<u64>,
    write_ms: Option<u64>,
    operation_ms: Option<u64>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(untagged)]
enum ThrottlingFile {
    Named(String),
    Buckets { reads: BucketFile, writes: BucketFile },
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BucketFile {
    capacity: f64,
    refill_per_sec: f64,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultsFile {
    transient_rate: Option<f64>,
    reset_rate: Option<f64>,
    seed: Option<u64>,
    fail_operations: Option<Vec<String>>,
    rules: Option<Vec<Rule>>,
}

impl ConfigFile {
    /// Reads a configuration file's text; the error says where and what is wrong.
    pub fn parse(text: &str) -> Result<ConfigFile, String> {
        let file: ConfigFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let rate = |name: &str, r: Option<f64>| match r {
            Some(r) if !(0.0..=1.0).contains(&r) => {
                Err(format!("faults.{name} must be between 0 and 1, not {r}"))
            }
            _ => Ok(()),
        };
        if let Some(f) = &file.faults {
            rate("transient_rate", f.transient_rate)?;
            rate("reset_rate", f.reset_rate)?;
            for r in f.rules.iter().flatten() {
                rate("rules[].transient_rate", r.transient_rate)?;
                rate("rules[].reset_rate", r.reset_rate)?;
            }
        }
        if let Some(ThrottlingFile::Named(name)) = &file.throttling
            && name != "arm"
            && name != "off"
        {
            return Err(format!("throttling must be \"arm\", \"off\" or buckets, not \"{name}\""));
        }
        if let Some(l) = &file.latency
            && let Some(p) = &l.profile
            && p != "realistic"
            && p != "none"
        {
            return Err(format!("latency.profile must be \"realistic\" or \"none\", not \"{p}\""));
        }
        Ok(file)
    }

    /// `base` with what the file sets.
    pub fn apply(self, mut base: EmulatorConfig) -> EmulatorConfig {
        if let Some(l) = self.latency {
            let factor = l.factor.unwrap_or(1.0);
            let mut latency = match l.profile.as_deref() {
                Some("realistic") => Latency::realistic(factor),
                _ => Latency { factor, ..Latency::default() },
            };
            let ms = |v: Option<u64>, d: Duration| v.map_or(d, Duration::from_millis);
            latency.read = ms(l.read_ms, latency.read);
            latency.write = ms(l.write_ms, latency.write);
            latency.operation = ms(l.operation_ms, latency.operation);
            base.latency = latency;
        }
        match self.throttling {
            None => {}
            Some(ThrottlingFile::Named(name)) => {
                base.throttling = (name != "off").then(Throttling::arm);
            }
            Some(ThrottlingFile::Buckets { reads, writes }) => {
                base.throttling = Some(Throttling {
                    reads: Bucket { capacity: reads.capacity, refill_per_sec: reads.refill_per_sec },
                    writes: Bucket { capacity: writes.capacity, refill_per_sec: writes.refill_per_sec },
                });
            }
        }
        if let Some(f) = self.faults {
            let d = base.faults;
            base.faults = Faults {
                transient_rate: f.transient_rate.unwrap_or(d.transient_rate),
                reset_rate: f.reset_rate.unwrap_or(d.reset_rate),
                seed: f.seed.unwrap_or(d.seed),
                fail_operations: f.fail_operations.unwrap_or(d.fail_operations),
                rules: f.rules.unwrap_or(d.rules),
            };
        }
        base.lro_polls = self.lro_polls.unwrap_or(base.lro_polls);
        base.lro_retry_after_secs = self.lro_retry_after_secs.unwrap_or(base.lro_retry_after_secs);
        base.page_size = self.page_size.unwrap_or(base.page_size);
        base.kube_controllers = self.kube_controllers.unwrap_or(base.kube_controllers);
        base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_overrides_what_it_sets_and_keeps_the_rest() {
        let text = r#"{
            "latency": { "profile": "realistic", "factor": 0.5, "read_ms": 10 },
            "throttling": { "reads": { "capacity": 5, "refill_per_sec": 1 },
                            "writes": { "capacity": 2, "refill_per_sec": 0.5 } },
            "faults": { "reset_rate": 0.25, "fail_operations": ["vol1"] },
            "lro_polls": 3
        }"#;
        let c = ConfigFile::parse(text).unwrap().apply(EmulatorConfig::default());
        assert_eq!(c.latency.read, Duration::from_millis(10));
        assert_eq!(c.latency.write, Latency::realistic(1.0).write);
        assert_eq!(c.latency.factor, 0.5);
        assert_eq!(c.throttling.unwrap().writes, Bucket { capacity: 2.0, refill_per_sec: 0.5 });
        assert_eq!((c.faults.reset_rate, c.faults.transient_rate), (0.25, 0.0));
        assert_eq!(c.faults.fail_operations, vec!["vol1".to_owned()]);
        assert_eq!((c.lro_polls, c.page_size, c.kube_controllers), (3, 100, true));
        let off = ConfigFile::parse(r#"{ "throttling": "off", "kube_controllers": false }"#)
            .unwrap()
            .apply(EmulatorConfig::default());
        assert!(off.throttling.is_none());
        assert!(!off.kube_controllers);
    }

    #[test]
    fn mistakes_are_refused_with_what_is_wrong() {
        let e = ConfigFile::parse(r#"{ "latncy": {} }"#).unwrap_err();
        assert!(e.contains("unknown field `latncy`"), "{e}");
        let e = ConfigFile::parse(r#"{ "faults": { "reset_rate": 2 } }"#).unwrap_err();
        assert!(e.contains("faults.reset_rate must be between 0 and 1"), "{e}");
        let e = ConfigFile::parse(r#"{ "throttling": "fast" }"#).unwrap_err();
        assert!(e.contains("throttling must be"), "{e}");
    }
}
