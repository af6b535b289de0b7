//! What lanestack's integration tests share, so that each test file holds its scenario and
//! not another copy of the harness:
//!
//! - [`entra_token`]: an access token from the local cloud's Entra ID token endpoint, for the
//!   emulator's service principal, over HTTP as any client gets one;
//! - [`DockerRegistry`]: Debian's `docker-registry` (Docker's distribution 2.8, the reference
//!   implementation of the OCI distribution API) on a free loopback port, the real registry
//!   that the image provider pushes to and the emulator's registries are held to.
//!
//! - [`ServedEmulator`]: `lanestack emulator serve` as a separate process, as a user runs it.
//!
//! A dev-dependency only (and the benchmarks'); nothing here is part of the product.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use lanestack_emulator::principal;

/// An access token for the emulator's service principal from the token endpoint at `endpoint`
/// (the emulator's), as a client-credentials grant gets one.
pub async fn entra_token(http: &reqwest::Client, endpoint: &str) -> String {
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        principal::CLIENT_ID,
        principal::CLIENT_SECRET
    );
    let answer: serde_json::Value = http
        .post(format!("{endpoint}/{}/oauth2/v2.0/token", principal::TENANT_ID))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .expect("the token endpoint answers")
        .json()
        .await
        .expect("the token endpoint answers JSON");
    answer["access_token"].as_str().expect("an access token").to_owned()
}

/// Where Debian's package puts the registry.
const REGISTRY_BINARY: &str = "/usr/bin/docker-registry";

/// Debian's `docker-registry` on a free loopback port, storing in a temporary directory,
/// without auth, with deletes enabled; killed (and reaped) when dropped.
pub struct DockerRegistry {
    child: Child,
    /// `127.0.0.1:<port>`: the registry's host in image references.
    pub host: String,
    dir: tempfile::TempDir,
}

impl DockerRegistry {
    /// Starts one and waits until `GET /v2/` answers 200: polled a bounded number of times,
    /// failing at once (with the registry's log) if it exits. Fails with a clear message when
    /// the package is not installed (`.ci/run` installs it).
    pub fn start() -> DockerRegistry {
        assert!(
            Path::new(REGISTRY_BINARY).is_file(),
            "{REGISTRY_BINARY} is missing: install Debian's docker-registry package (apt-get install docker-registry; \
             .ci/run does)"
        );
        let dir = tempfile::tempdir().expect("a temporary directory");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
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
        .expect("the registry's configuration is written");
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("a log file");
        let child = Command::new(REGISTRY_BINARY)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("docker-registry starts");
        let mut registry = DockerRegistry { child, host, dir };
        for _ in 0..400 {
            if let Some(status) = registry.child.try_wait().expect("the registry's status") {
                panic!("docker-registry exited during start-up ({status}):\n{}", registry.log());
            }
            if registry.answers() {
                return registry;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("docker-registry did not answer on {} after 400 tries:\n{}", registry.host, registry.log());
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> String {
        format!("http://{}", self.host)
    }

    /// Whether `GET /v2/` answers 200 (one plain HTTP/1.0 exchange).
    fn answers(&self) -> bool {
        let Ok(mut stream) = std::net::TcpStream::connect(&self.host) else { return false };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        if stream.write_all(b"GET /v2/ HTTP/1.0\r\n\r\n").is_err() {
            return false;
        }
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for DockerRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `lanestack emulator serve --port 0 --data DIR [extra...]` in a child process, killed (and
/// reaped) when dropped.
pub struct ServedEmulator {
    child: Child,
    /// `127.0.0.1:<port>`, where it listens.
    pub addr: String,
    /// Its ARM endpoint (`https://127.0.0.1:<port>`, or `http://` with `--http`).
    pub endpoint: String,
}

impl ServedEmulator {
    /// Starts it with the `lanestack` binary at `lanestack` and reads where it listens from what
    /// it prints.
    pub fn start(lanestack: &Path, data: &Path, extra: &[&str]) -> ServedEmulator {
        use std::io::BufRead as _;
        let mut child = Command::new(lanestack)
            .args(["emulator", "serve", "--port", "0", "--data"])
            .arg(data)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .env("NO_COLOR", "1")
            .spawn()
            .expect("lanestack emulator serve starts");
        let stdout = child.stdout.take().expect("a piped stdout");
        let mut lines = std::io::BufReader::new(stdout).lines();
        let mut addr = None;
        let endpoint = loop {
            let line = lines.next().expect("serve printed where it listens").expect("a line of output");
            if let Some(a) = line.strip_prefix("lanestack emulator listening on ") {
                addr = Some(a.trim().to_owned());
            }
            if let Some(url) = line.trim().strip_prefix("ARM endpoint:") {
                break url.trim().to_owned();
            }
        };
        let addr = addr.expect("serve said where it listens before its endpoint");
        ServedEmulator { child, addr, endpoint }
    }
}

impl Drop for ServedEmulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
