//! Helm 3 charts rendered without Helm, and the `helm` provider that serves them to stacks.
//!
//! lanestack installs charts the way the rest of a stack is applied: each object the chart
//! renders becomes a `kubernetes_manifest` that plan shows and apply applies. No Go or `helm`
//! binary is involved: this crate implements what `helm template` does.
//!
//! - [`lex`], [`parse`], [`exec`]: Go's `text/template` (actions, trimming, pipelines,
//!   variables, `if`/`range`/`with`/`define`/`template`/`block`, `break`/`continue`).
//! - [`value`]: [`value::Val`], the values templates see, with Go's truth and printing.
//! - [`funcs`] (Go's built-ins), [`sprig`] (Helm's and sprig's functions), [`printf`] (Go's
//!   `fmt`), [`semver`] (`semverCompare`, `kubeVersion`).
//! - [`yaml_in`], [`yaml_out`]: YAML read and written as `sigs.k8s.io/yaml` does (`toYaml`).
//! - [`chart`]: loading a chart directory or `.tgz`; [`values`]: merging values and `--set`
//!   paths; [`mod@render`]: the whole of `helm template` ([`render::render`]).
//! - [`provider`]: [`HelmProvider`], the provider `helm` with the data source `helm_template`.
//!
//! See `docs/helm.md` for what is reproduced of Helm and what is not.

pub mod chart;
pub mod exec;
pub mod funcs;
pub mod lex;
pub mod parse;
pub mod printf;
pub mod provider;
pub mod render;
pub mod semver;
pub mod sprig;
pub mod value;
pub mod values;
pub mod yaml_in;
pub mod yaml_out;

pub use provider::HelmProvider;
pub use render::{RenderError, RenderOptions, Rendered, render};
