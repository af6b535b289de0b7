//! `data "lanestack_download"`: a file from a URL, pinned by its SHA-256 — how a stack takes
//! an upstream manifest bundle (CRDs, a controller's RBAC) without trusting whatever the URL
//! serves today.
//!
//! ```hcl
//! data "lanestack_download" "snapshot_crds" {
//!   url    = "https://raw.githubusercontent.com/kubernetes-csi/external-snapshotter/afb2f0d/client/config/crd/snapshot.storage.k8s.io_volumesnapshots.yaml"
//!   sha256 = "…"
//! }
//! ```
//!
//! The content is checked against the pin before it is used, and kept under
//! `<stack>/.lanestack/downloads/<sha256>`, so later plans read it from there (content-addressed:
//! a file whose bytes no longer hash to its name is fetched again). `file://` URLs read a local
//! file, checked the same way: the same stack runs offline against a copy.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lanestack_model::{
    AttrPath, AttrType, Attribute, Block, DataRequest, ErrorKind, ProviderError, ResourceSchema, Value,
};

use crate::{attr, sha256_hex};

/// The data source's name.
pub const TYPE_NAME: &str = "lanestack_download";

/// The schema of `lanestack_download`.
pub fn schema() -> ResourceSchema {
    ResourceSchema::new(
        "A file from a URL (https, http or file), pinned by its SHA-256.",
        Block::new()
            .attr("url", Attribute::required(AttrType::String).describe("Where the file is."))
            .attr(
                "sha256",
                Attribute::required(AttrType::String)
                    .describe("The SHA-256 its content must have (64 hex digits)."),
            )
            .attr(
                "content",
                Attribute::computed(AttrType::String).describe("The file's content (UTF-8 text)."),
            )
            .attr("id", Attribute::computed(AttrType::String).describe("The SHA-256.")),
    )
}

/// Problems with a configuration, found without IO.
pub fn validate(config: &Value) -> Vec<(AttrPath, String)> {
    let mut problems = Vec::new();
    if let Some(pin) = attr(config, "sha256").as_str()
        && !is_sha256(pin)
    {
        problems
            .push((AttrPath::attr("sha256"), format!("{pin:?} is not a SHA-256: 64 lowercase hex digits")));
    }
    if let Some(url) = attr(config, "url").as_str()
        && !["https://", "http://", "file://"].iter().any(|scheme| url.starts_with(scheme))
    {
        problems.push((AttrPath::attr("url"), format!("{url:?} is not an https, http or file URL")));
    }
    problems
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn invalid(message: String) -> ProviderError {
    ProviderError::new(ErrorKind::Invalid, message)
}

/// Reads the data source: from the cache when it holds the pinned content, else from the URL.
pub async fn read(base_dir: &Path, request: DataRequest<'_>) -> Result<Value, ProviderError> {
    let problems = validate(request.config);
    if let Some((_, message)) = problems.into_iter().next() {
        return Err(invalid(message));
    }
    let (Some(url), Some(pin)) =
        (attr(request.config, "url").as_str(), attr(request.config, "sha256").as_str())
    else {
        return Err(invalid("url and sha256 are required".to_owned()));
    };
    let cached = base_dir.join(".lanestack").join("downloads").join(pin);
    let bytes = match std::fs::read(&cached) {
        Ok(bytes) if sha256_hex(&bytes) == pin => bytes,
        _ => {
            let bytes = fetch(base_dir, url).await?;
            let got = sha256_hex(&bytes);
            if got != pin {
                return Err(invalid(format!(
                    "{url} has SHA-256 {got}, not the pinned {pin}: the file changed upstream, or the pin is wrong"
                )));
            }
            keep(&cached, &bytes);
            bytes
        }
    };
    let content = String::from_utf8(bytes).map_err(|_| invalid(format!("{url} is not UTF-8 text")))?;
    Ok(Value::object([
        ("url", Value::from(url)),
        ("sha256", Value::from(pin)),
        ("content", Value::from(content)),
        ("id", Value::from(pin)),
    ]))
}

/// The bytes at `url`.
async fn fetch(base_dir: &Path, url: &str) -> Result<Vec<u8>, ProviderError> {
    if let Some(path) = url.strip_prefix("file://") {
        let path = PathBuf::from(path);
        let path = if path.is_absolute() { path } else { base_dir.join(path) };
        return std::fs::read(&path).map_err(|e| invalid(format!("cannot read {}: {e}", path.display())));
    }
    let client = lanestack_http::builder(None)
        .connect_timeout(Duration::from_secs(30))
        .timeout(Duration::from_secs(300))
        .build()
        .map_err(|e| ProviderError::new(ErrorKind::Failed, format!("cannot set up an HTTP client: {e}")))?;
    let transient =
        |e: reqwest::Error| ProviderError::new(ErrorKind::Transient, format!("cannot download {url}: {e}"));
    let response = client.get(url).send().await.map_err(transient)?;
    let status = response.status();
    if !status.is_success() {
        let kind = if status.is_server_error() { ErrorKind::Transient } else { ErrorKind::Failed };
        return Err(ProviderError::new(kind, format!("cannot download {url}: HTTP {status}")));
    }
    Ok(response.bytes().await.map_err(transient)?.to_vec())
}

/// Keeps a verified download (best effort: a failed write only means the next plan fetches
/// again). Written aside and renamed, so a reader never sees half a file.
fn keep(path: &Path, bytes: &[u8]) {
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let tmp = path.with_extension("partial");
    if std::fs::write(&tmp, bytes).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};
    use std::net::TcpListener;

    use lanestack_model::{BlockAddress, Mode};

    use super::*;

    const BODY: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n";

    /// Serves `body` (with `status`) to `requests` HTTP requests on loopback; returns the URL.
    fn serve(status: &'static str, body: &'static [u8], requests: usize) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/bundle.yaml", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming().take(requests) {
                let mut stream = stream.unwrap();
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                let head = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                stream.write_all(head.as_bytes()).unwrap();
                stream.write_all(body).unwrap();
            }
        });
        url
    }

    fn config(url: &str, pin: &str) -> Value {
        Value::object([("url", Value::from(url)), ("sha256", Value::from(pin))])
    }

    async fn read_at(dir: &Path, url: &str, pin: &str) -> Result<Value, ProviderError> {
        let block =
            BlockAddress { mode: Mode::Data, type_name: TYPE_NAME.to_owned(), name: "bundle".to_owned() };
        let address = block.instance(None);
        read(dir, DataRequest { address: &address, config: &config(url, pin) }).await
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_pinned_download_is_checked_kept_and_read_again_offline() {
        let dir = tempfile::tempdir().unwrap();
        let pin = sha256_hex(BODY.as_bytes());
        // One request only: the second read must come from the cache.
        let url = serve("200 OK", BODY.as_bytes(), 1);
        let v = read_at(dir.path(), &url, &pin).await.unwrap();
        assert_eq!(v.get(&AttrPath::attr("content")), Some(&Value::from(BODY)));
        assert_eq!(v.get(&AttrPath::attr("id")), Some(&Value::from(pin.as_str())));
        assert!(dir.path().join(".lanestack/downloads").join(&pin).is_file());
        let again = read_at(dir.path(), &url, &pin).await.unwrap();
        assert_eq!(again, v);
        // A damaged cache entry is fetched again (and here the server is gone: an error).
        std::fs::write(dir.path().join(".lanestack/downloads").join(&pin), "tampered").unwrap();
        let e = read_at(dir.path(), &url, &pin).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Transient, "{e}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn content_that_does_not_match_the_pin_is_refused_and_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let url = serve("200 OK", BODY.as_bytes(), 1);
        let pin = "0".repeat(64);
        let e = read_at(dir.path(), &url, &pin).await.unwrap_err();
        let got = sha256_hex(BODY.as_bytes());
        assert_eq!(
            e.message,
            format!(
                "{url} has SHA-256 {got}, not the pinned {pin}: the file changed upstream, or the pin is wrong"
            )
        );
        assert!(!dir.path().join(".lanestack/downloads").join(&pin).exists());
        let missing = serve("404 Not Found", b"", 1);
        let e = read_at(dir.path(), &missing, &got).await.unwrap_err();
        assert_eq!(e.message, format!("cannot download {missing}: HTTP 404 Not Found"));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn file_urls_read_a_local_copy_checked_the_same_way() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bundle.yaml"), BODY).unwrap();
        std::fs::write(dir.path().join("binary"), [0xff, 0xfe]).unwrap();
        let pin = sha256_hex(BODY.as_bytes());
        let url = format!("file://{}", dir.path().join("bundle.yaml").display());
        assert_eq!(
            read_at(dir.path(), &url, &pin).await.unwrap().get(&AttrPath::attr("content")),
            Some(&Value::from(BODY))
        );
        let binary = format!("file://{}", dir.path().join("binary").display());
        let e = read_at(dir.path(), &binary, &sha256_hex(&[0xff, 0xfe])).await.unwrap_err();
        assert_eq!(e.message, format!("{binary} is not UTF-8 text"));
        assert_eq!(validate(&config("ftp://x", "abc")).len(), 2);
    }
}
