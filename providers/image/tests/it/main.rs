//! The image provider against a real registry: Debian's `docker-registry` (Docker's
//! `distribution`, the reference implementation of the OCI distribution API), started on
//! loopback for each test; and against the local cloud's Azure Container Registry, for ACR's
//! authentication.

mod acr;
mod builds;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Where Debian's package puts the registry.
const REGISTRY_BINARY: &str = "/usr/bin/docker-registry";

/// A `docker-registry` on a free loopback port, with its storage in a temporary directory;
/// stopped when dropped.
pub struct Registry {
    child: Child,
    /// `127.0.0.1:<port>`: the registry's host in image references.
    pub host: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// Starts one and waits until it answers `GET /v2/`.
    pub fn start() -> Registry {
        assert!(
            Path::new(REGISTRY_BINARY).exists(),
            "{REGISTRY_BINARY} is missing: install Debian's docker-registry package (apt-get install docker-registry; \
             .ci/run does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let host = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    \
                 enabled: true\nhttp:\n  addr: {host}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new(REGISTRY_BINARY)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut registry = Registry { child, host, _dir: dir };
        registry.wait_ready();
        registry
    }

    fn wait_ready(&mut self) {
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("docker-registry exited before serving: {status}");
            }
            if std::net::TcpStream::connect(&self.host).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("docker-registry did not listen on {} within 200 tries", self.host);
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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
