//! Variable inputs from the command line, var files and the environment.

use std::path::{Path, PathBuf};

use clap::Args;
use lanestack_engine::diag::{Diagnostic, Diagnostics, Sources};
use lanestack_engine::eval::inputs::{InputSource, RawInput, RawValue, load_var_file};

/// Flags that set variables.
#[derive(Args, Debug, Clone, Default)]
pub struct VarArgs {
    /// Set a variable: NAME=VALUE (repeatable; later wins).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Read variables from a file of `name = value` lines (repeatable).
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
}

/// Prefix of environment variables that set stack variables.
const ENV_PREFIX: &str = "LANESTACK_VAR_";

/// Collects every input, lowest precedence first: environment, `*.auto.lsvars` in the stack
/// directory (sorted), `--var-file` files in order, then `--var` flags in order.
pub fn collect(dir: &Path, args: &VarArgs, sources: &mut Sources) -> (Vec<RawInput>, Diagnostics) {
    let mut inputs = Vec::new();
    let mut diags = Diagnostics::new();
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter_map(|(k, v)| k.strip_prefix(ENV_PREFIX).map(|name| (name.to_owned(), v)))
        .collect();
    env.sort();
    for (name, value) in env {
        inputs.push(RawInput { name, value: RawValue::Text(value), source: InputSource::Env });
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().ends_with(".auto.lsvars"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files.extend(args.var_files.iter().cloned());
    for path in files {
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let (found, d) = load_var_file(path.clone(), &text, sources);
                inputs.extend(found);
                diags.extend(d);
            }
            Err(e) => diags.push(Diagnostic::error(
                "lanestack::var_file",
                format!("could not read the var file {}: {e}", path.display()),
            )),
        }
    }
    for flag in &args.vars {
        match flag.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => inputs.push(RawInput {
                name: name.trim().to_owned(),
                value: RawValue::Text(value.to_owned()),
                source: InputSource::Flag,
            }),
            _ => diags.push(
                Diagnostic::error(
                    "lanestack::var_flag",
                    format!("--var {flag:?} is not of the form NAME=VALUE"),
                )
                .hint("for example: --var region=westeurope"),
            ),
        }
    }
    (inputs, diags)
}
