//! Reading `*.hcl` files into a [`Stack`]. (Stub: replaced by the real loader.)

use std::path::{Path, PathBuf};

use super::{Loaded, Stack};
use crate::diag::Diagnostics;

/// Loads every `*.hcl` file of `dir` (sorted by name, not recursive).
pub fn load_dir(dir: &Path) -> Loaded {
    load_sources(dir.to_path_buf(), Vec::new())
}

/// Loads a stack from file contents already in memory (a saved plan's copy, or a test's).
/// `files` are (display path, text) pairs.
pub fn load_sources(dir: PathBuf, files: Vec<(PathBuf, String)>) -> Loaded {
    let _ = files;
    Loaded { stack: Stack { dir, ..Stack::default() }, diagnostics: Diagnostics::new() }
}
