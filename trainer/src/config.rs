//! The trainer's settings, from the seed's environment interface and command-line flags.
//!
//! The seed's job passed USE_WORKERS, NUM_WORKERS, BATCH_SIZE, USE_VAL, VAL_BATCH_SIZE,
//! ENABLE_SNAPSHOT and PVC_NAME as environment variables; they keep their names and meaning, and
//! every one has a flag that overrides it. SNAPSHOT_REQUIRED (new) says whether a snapshot that
//! cannot be taken fails the run. The data lives under /mnt/tusimple_data (train_set,
//! test_set) and checkpoints and logs under /mnt/tusimple_model_logs, both configurable.
//!
//! The library does not read the environment: the caller passes a lookup function (the binary
//! passes `std::env::var`, tests a map).

use std::path::PathBuf;

/// The default data root (the claim's mount in the seed's job).
pub const DEFAULT_DATA_ROOT: &str = "/mnt/tusimple_data";
/// The default root for checkpoints and logs.
pub const DEFAULT_LOGS_ROOT: &str = "/mnt/tusimple_model_logs";

/// Resolved settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainConfig {
    /// Load batches on worker threads (USE_WORKERS; default true: threads need no /dev/shm).
    pub use_workers: bool,
    /// Loader threads when `use_workers` (NUM_WORKERS; default 4).
    pub num_workers: usize,
    /// Training batch per process (BATCH_SIZE; default 24, the seed ran 33).
    pub batch_size: usize,
    /// Validate after each epoch (USE_VAL; default false).
    pub use_val: bool,
    /// Validation batch per process (VAL_BATCH_SIZE; default 24).
    pub val_batch_size: usize,
    /// Snapshot the claim when training ends (ENABLE_SNAPSHOT; default false).
    pub enable_snapshot: bool,
    /// The claim to snapshot (PVC_NAME); required when `enable_snapshot`.
    pub pvc_name: Option<String>,
    /// Whether a snapshot that cannot be taken fails the run (SNAPSHOT_REQUIRED; default true):
    /// when false, the failure is reported and the run still succeeds.
    pub snapshot_required: bool,
    /// Where train_set/ and test_set/ are.
    pub data_root: PathBuf,
    /// Where checkpoints and logs go.
    pub logs_root: PathBuf,
}

/// Values given as flags; each `Some` overrides the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigFlags {
    /// --use-workers
    pub use_workers: Option<bool>,
    /// --num-workers
    pub num_workers: Option<usize>,
    /// --batch-size
    pub batch_size: Option<usize>,
    /// --use-val
    pub use_val: Option<bool>,
    /// --val-batch-size
    pub val_batch_size: Option<usize>,
    /// --enable-snapshot
    pub enable_snapshot: Option<bool>,
    /// --pvc-name
    pub pvc_name: Option<String>,
    /// --snapshot-required
    pub snapshot_required: Option<bool>,
    /// --data-root
    pub data_root: Option<PathBuf>,
    /// --logs-root
    pub logs_root: Option<PathBuf>,
}

/// Why the settings are unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// An environment variable does not parse.
    #[error("{name}={value:?}: expected {expected}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What it should be.
        expected: &'static str,
    },
    /// A size that must be positive is 0.
    #[error("{name} must be at least 1")]
    Zero {
        /// The setting.
        name: &'static str,
    },
    /// Snapshots are enabled with no claim to snapshot.
    #[error("ENABLE_SNAPSHOT is true but PVC_NAME is not set")]
    SnapshotWithoutClaim,
}

impl TrainConfig {
    /// Resolves the settings: flags first, then the environment (through `env`), then defaults.
    pub fn resolve(
        env: impl Fn(&str) -> Option<String>,
        flags: &ConfigFlags,
    ) -> Result<TrainConfig, ConfigError> {
        let bool_var = |name: &'static str, flag: Option<bool>, default: bool| match flag {
            Some(v) => Ok(v),
            None => env(name).map_or(Ok(default), |v| parse_bool(name, &v)),
        };
        let size_var = |name: &'static str, flag: Option<usize>, default: usize| {
            let v = match flag {
                Some(v) => v,
                None => env(name).map_or(Ok(default), |v| {
                    v.trim().parse().map_err(|_| ConfigError::Invalid {
                        name,
                        value: v,
                        expected: "a whole number",
                    })
                })?,
            };
            if v == 0 { Err(ConfigError::Zero { name }) } else { Ok(v) }
        };
        let config = TrainConfig {
            use_workers: bool_var("USE_WORKERS", flags.use_workers, true)?,
            num_workers: size_var("NUM_WORKERS", flags.num_workers, 4)?,
            batch_size: size_var("BATCH_SIZE", flags.batch_size, 24)?,
            use_val: bool_var("USE_VAL", flags.use_val, false)?,
            val_batch_size: size_var("VAL_BATCH_SIZE", flags.val_batch_size, 24)?,
            enable_snapshot: bool_var("ENABLE_SNAPSHOT", flags.enable_snapshot, false)?,
            pvc_name: flags.pvc_name.clone().or_else(|| env("PVC_NAME")).filter(|n| !n.trim().is_empty()),
            snapshot_required: bool_var("SNAPSHOT_REQUIRED", flags.snapshot_required, true)?,
            data_root: flags.data_root.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_ROOT)),
            logs_root: flags.logs_root.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_LOGS_ROOT)),
        };
        if config.enable_snapshot && config.pvc_name.is_none() {
            return Err(ConfigError::SnapshotWithoutClaim);
        }
        Ok(config)
    }

    /// The loader threads to start: `num_workers` with `use_workers`, else 0 (load in line).
    pub fn loader_threads(&self) -> usize {
        if self.use_workers { self.num_workers } else { 0 }
    }
}

/// The seed's job wrote "true"/"false" (Python's `True`/`False` too); 1/0 and yes/no are common.
fn parse_bool(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(ConfigError::Invalid { name, value: value.to_string(), expected: "true or false" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_without_environment_or_flags() {
        let c = TrainConfig::resolve(env(&[]), &ConfigFlags::default()).unwrap();
        assert_eq!(
            c,
            TrainConfig {
                use_workers: true,
                num_workers: 4,
                batch_size: 24,
                use_val: false,
                val_batch_size: 24,
                enable_snapshot: false,
                pvc_name: None,
                snapshot_required: true,
                data_root: PathBuf::from("/mnt/tusimple_data"),
                logs_root: PathBuf::from("/mnt/tusimple_model_logs"),
            }
        );
        assert_eq!(c.loader_threads(), 4);
    }

    #[test]
    fn the_seed_job_environment_parses() {
        let seed = env(&[
            ("USE_WORKERS", "true"),
            ("NUM_WORKERS", "4"),
            ("BATCH_SIZE", "33"),
            ("USE_VAL", "false"),
            ("VAL_BATCH_SIZE", "99"),
            ("ENABLE_SNAPSHOT", "True"),
            ("PVC_NAME", "pvc-download-tusimple-data-0"),
        ]);
        let c = TrainConfig::resolve(seed, &ConfigFlags::default()).unwrap();
        assert_eq!((c.batch_size, c.val_batch_size, c.use_val, c.enable_snapshot), (33, 99, false, true));
        assert_eq!(c.pvc_name.as_deref(), Some("pvc-download-tusimple-data-0"));
    }

    #[test]
    fn flags_override_the_environment() {
        let e = env(&[("BATCH_SIZE", "33"), ("USE_WORKERS", "true"), ("PVC_NAME", "a")]);
        let flags = ConfigFlags {
            batch_size: Some(2),
            use_workers: Some(false),
            pvc_name: Some("b".into()),
            data_root: Some("/tmp/data".into()),
            ..ConfigFlags::default()
        };
        let c = TrainConfig::resolve(e, &flags).unwrap();
        assert_eq!((c.batch_size, c.use_workers, c.pvc_name.as_deref()), (2, false, Some("b")));
        assert_eq!(c.data_root, PathBuf::from("/tmp/data"));
        assert_eq!(c.loader_threads(), 0);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = TrainConfig::resolve(env(&[("BATCH_SIZE", "lots")]), &ConfigFlags::default()).unwrap_err();
        assert_eq!(err.to_string(), "BATCH_SIZE=\"lots\": expected a whole number");
        let err = TrainConfig::resolve(env(&[("USE_VAL", "maybe")]), &ConfigFlags::default()).unwrap_err();
        assert_eq!(err.to_string(), "USE_VAL=\"maybe\": expected true or false");
        let err = TrainConfig::resolve(env(&[("NUM_WORKERS", "0")]), &ConfigFlags::default()).unwrap_err();
        assert_eq!(err, ConfigError::Zero { name: "NUM_WORKERS" });
        let err = TrainConfig::resolve(
            env(&[("ENABLE_SNAPSHOT", "1"), ("PVC_NAME", " ")]),
            &ConfigFlags::default(),
        );
        assert_eq!(err, Err(ConfigError::SnapshotWithoutClaim));
    }
}
