//! A lean async Kubernetes API client, for the trainer (its snapshot on finish) and for a
//! Kubernetes provider.
//!
//! - [`config`]: [`Config`] — the server, its CA, the credentials ([`Auth`]) and the default
//!   namespace — from inside a pod ([`Config::in_cluster`]), from a kubeconfig
//!   ([`Config::from_kubeconfig`]), or as the environment says ([`Config::infer`]).
//! - [`client`]: [`Client`], JSON requests (`get`, `list`, `create`, `replace`, `delete`) on
//!   reqwest with rustls on ring; [`resource_path`] builds the paths.
//! - [`error`]: [`Error`], the API server's `Status` refusals classified (`AlreadyExists`,
//!   `NotFound`, `Forbidden`, `Unauthorized`, `Invalid` with its causes, `Conflict`), and TLS
//!   and connection failures naming the server. Neither errors nor `Debug` output ever hold a
//!   token or a key.
//! - [`snapshot`]: the trainer's `VolumeSnapshot` on finish ([`snapshot::snapshot_name`],
//!   [`snapshot::job_name`], [`snapshot::create_volume_snapshot`]).
//! - [`yaml`]: YAML documents read as JSON values (kubeconfigs, manifests).
//!
//! The library reads the process environment only in [`Config::in_cluster`] and
//! [`Config::infer`], which exist for binaries; each has an `*_from` twin that takes the
//! lookups as arguments.
//!
//! The trainer's snapshot on finish:
//!
//! ```no_run
//! use std::time::SystemTime;
//! use lanestack_kube::{Client, Config, snapshot};
//!
//! async fn snapshot_on_finish(pvc: &str) -> Result<(), Box<dyn std::error::Error>> {
//!     let config = Config::infer()?; // in a pod: the service account
//!     let client = Client::new(&config)?;
//!     let job = snapshot::job_name(|name| std::env::var(name).ok()).unwrap_or_else(|| "job".to_owned());
//!     let name = snapshot::snapshot_name(pvc, &job, SystemTime::now());
//!     let created = snapshot::create_volume_snapshot(&client, client.default_namespace(), &name, pvc).await?;
//!     println!("VolumeSnapshot {}/{} of {}", created.namespace, created.name, created.pvc);
//!     Ok(())
//! }
//! ```

pub mod client;
pub mod config;
pub mod error;
pub mod snapshot;
pub mod yaml;

pub use client::{ApplyOptions, Client, resource_path};
pub use config::{Auth, Config, ConfigError};
pub use error::{ApiError, Cause, Error};
