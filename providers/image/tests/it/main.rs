//! The image provider against a real registry: Debian's `docker-registry` (Docker's
//! `distribution`, the reference implementation of the OCI distribution API), started on
//! loopback for each test; and against the local cloud's Azure Container Registry, for ACR's
//! authentication.

mod acr;
mod builds;

use std::path::PathBuf;

/// Debian's `docker-registry`, started on a free loopback port for a test.
pub use lanestack_testkit::DockerRegistry as Registry;

/// A stack directory with files in it.
pub fn stack_dir(files: &[(&str, &[u8])]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    for (name, content) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
    }
    (dir, root)
}
