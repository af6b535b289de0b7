//! A real Kubernetes API server for the tests: etcd and the CRD API server
//! (`k8s.io/apiextensions-apiserver`, built by `tools/k8s-crd-apiserver/build.sh`), started on
//! free loopback ports over a temporary state directory with the flags of that folder's
//! `run.sh`, except that the certificates are made here (rcgen: no openssl needed, and the
//! server's CA is known before it starts) and that bearer tokens are checked by a
//! [`TokenReviewWebhook`] through the server's delegated authentication. Both processes are
//! killed when the [`ApiServer`] is dropped, a failing test included ([`Killed`]).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lanestack_kube::{Auth, Client, Config, Error};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};

use crate::webhook::TokenReviewWebhook;

/// The directory holding `crdserver` and `etcd`.
fn bin_dir() -> PathBuf {
    match std::env::var_os("LANESTACK_CRDSERVER_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let home = std::env::var_os("HOME").expect("HOME is not set and LANESTACK_CRDSERVER_DIR neither");
            Path::new(&home).join(".cache/lanestack-k8s-crd-apiserver/bin")
        }
    }
}

/// A running etcd + CRD API server.
pub struct ApiServer {
    /// The server's base URL (`https://127.0.0.1:PORT`).
    pub url: String,
    /// The port.
    pub port: u16,
    /// The state directory: certificates, kubeconfigs, logs, etcd's data.
    pub dir: tempfile::TempDir,
    /// PEM of the CA that signed the server's certificate.
    pub server_ca_pem: String,
    /// PEM of a CA that signed nothing the server presents.
    pub other_ca_pem: String,
    /// The webhook that answers the server's TokenReviews.
    pub webhook: TokenReviewWebhook,
    // The server first: it is killed before etcd (fields drop in order).
    crdserver: Killed,
    etcd: Killed,
}

/// A child process killed (and reaped) when dropped, so that no test leaves one behind, even
/// when it panics half-way through starting them.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Pki {
    server_ca: String,
    server_cert: String,
    server_key: String,
    client_ca: String,
    admin_cert: String,
    admin_key: String,
}

fn pki() -> Pki {
    let ca = |cn: &str| {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, cn);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), Issuer::new(params, key))
    };
    let (server_ca, server_issuer) = ca("lanestack-test-server-ca");
    let (client_ca, client_issuer) = ca("lanestack-test-client-ca");

    let mut server = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    server.distinguished_name.push(DnType::CommonName, "crdserver");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate().unwrap();
    let server_cert = server.signed_by(&server_key, &server_issuer).unwrap();

    // run.sh's admin: group system:masters, which the delegating authorizer always allows.
    let mut admin = CertificateParams::new(Vec::<String>::new()).unwrap();
    admin.distinguished_name.push(DnType::OrganizationName, "system:masters");
    admin.distinguished_name.push(DnType::CommonName, "admin");
    admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let admin_key = KeyPair::generate().unwrap();
    let admin_cert = admin.signed_by(&admin_key, &client_issuer).unwrap();
    Pki {
        server_ca,
        server_cert: server_cert.pem(),
        server_key: server_key.serialize_pem(),
        client_ca,
        admin_cert: admin_cert.pem(),
        admin_key: admin_key.serialize_pem(),
    }
}

/// Free loopback ports, all held until every one is chosen so that they differ.
fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<_> = (0..N).map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    std::array::from_fn(|i| listeners[i].local_addr().unwrap().port())
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn log(dir: &Path, name: &str) -> Stdio {
    Stdio::from(File::create(dir.join(name)).unwrap())
}

impl ApiServer {
    /// Starts etcd and the CRD server, and waits (bounded) until the server answers. Bearer
    /// tokens are accepted when `webhook` says so.
    pub async fn start(webhook: TokenReviewWebhook) -> ApiServer {
        let bin = bin_dir();
        for name in ["crdserver", "etcd"] {
            assert!(
                bin.join(name).is_file(),
                "{} is missing: run tools/k8s-crd-apiserver/build.sh (or set LANESTACK_CRDSERVER_DIR to the \
                 directory holding crdserver and etcd)",
                bin.join(name).display()
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let pki = pki();
        write(d, "server-ca.crt", &pki.server_ca);
        let tls_cert = write(d, "apiserver.crt", &pki.server_cert);
        let tls_key = write(d, "apiserver.key", &pki.server_key);
        let client_ca = write(d, "ca.crt", &pki.client_ca);
        write(d, "admin.crt", &pki.admin_cert);
        write(d, "admin.key", &pki.admin_key);
        let nowhere = write(
            d,
            "nowhere.kubeconfig",
            "apiVersion: v1\nkind: Config\nclusters: [{name: nowhere, cluster: {server: \"http://127.0.0.1:1\"}}]\n\
             contexts: [{name: nowhere, context: {cluster: nowhere, user: nobody}}]\ncurrent-context: nowhere\n\
             users: [{name: nobody, user: {token: unused}}]\n",
        );
        // The delegated authentication sends TokenReviews to this "kube-apiserver".
        let authn = write(
            d,
            "authn.kubeconfig",
            &format!(
                "apiVersion: v1\nkind: Config\nclusters: [{{name: webhook, cluster: {{server: \"{}\"}}}}]\n\
                 contexts: [{{name: webhook, context: {{cluster: webhook, user: crdserver}}}}]\n\
                 current-context: webhook\nusers: [{{name: crdserver, user: {{token: webhook-client}}}}]\n",
                webhook.url()
            ),
        );

        let [port, etcd_client, etcd_peer] = free_ports::<3>();
        let etcd_client_url = format!("http://127.0.0.1:{etcd_client}");
        let etcd_peer_url = format!("http://127.0.0.1:{etcd_peer}");
        let etcd = Command::new(bin.join("etcd"))
            .args(["--data-dir", &d.join("etcd-data").display().to_string(), "--name", "default"])
            .args(["--listen-client-urls", &etcd_client_url, "--advertise-client-urls", &etcd_client_url])
            .args(["--listen-peer-urls", &etcd_peer_url, "--initial-advertise-peer-urls", &etcd_peer_url])
            .args(["--initial-cluster", &format!("default={etcd_peer_url}")])
            .stdin(Stdio::null())
            .stdout(log(d, "etcd.log"))
            .stderr(log(d, "etcd.log"))
            .spawn()
            .map(Killed)
            .unwrap();
        let path = |p: &Path| p.display().to_string();
        let crdserver = Command::new(bin.join("crdserver"))
            .args(["--etcd-servers", &etcd_client_url, "--etcd-prefix", "/lanestack-test"])
            .args(["--bind-address", "127.0.0.1", "--secure-port", &port.to_string()])
            .args(["--cert-dir", &path(&d.join("certs"))])
            .args(["--tls-cert-file", &path(&tls_cert), "--tls-private-key-file", &path(&tls_key)])
            .args(["--client-ca-file", &path(&client_ca)])
            .args(["--authentication-skip-lookup", "--authentication-kubeconfig", &path(&authn)])
            .args(["--authorization-kubeconfig", &path(&nowhere), "--kubeconfig", &path(&nowhere)])
            .args([
                "--disable-admission-plugins",
                "NamespaceLifecycle,MutatingAdmissionPolicy,MutatingAdmissionWebhook,ValidatingAdmissionPolicy,\
                 ValidatingAdmissionWebhook",
            ])
            .stdin(Stdio::null())
            .stdout(log(d, "crdserver.log"))
            .stderr(log(d, "crdserver.log"))
            .spawn()
            .map(Killed)
            .unwrap();
        let url = format!("https://127.0.0.1:{port}");
        write(
            d,
            "kubeconfig",
            &format!(
                "apiVersion: v1\nkind: Config\n\
                 clusters: [{{name: crdserver, cluster: {{server: \"{url}\", certificate-authority: server-ca.crt}}}}]\n\
                 contexts: [{{name: crdserver, context: {{cluster: crdserver, user: admin, namespace: ml}}}}]\n\
                 current-context: crdserver\n\
                 users: [{{name: admin, user: {{client-certificate: admin.crt, client-key: admin.key}}}}]\n"
            ),
        );
        let mut server = ApiServer {
            url,
            port,
            dir,
            server_ca_pem: pki.server_ca,
            other_ca_pem: pki.client_ca,
            webhook,
            crdserver,
            etcd,
        };
        server.wait_until_serving().await;
        server
    }

    /// The kubeconfig of the admin (client certificate, group system:masters), namespace `ml`.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// A client of the admin.
    pub fn admin(&self) -> Client {
        Client::new(&Config::from_kubeconfig(&self.kubeconfig(), None).unwrap()).unwrap()
    }

    fn logs(&self) -> String {
        let tail = |name: &str| {
            let text = std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(30)..].join("\n")
        };
        format!(
            "--- crdserver.log (tail)\n{}\n--- etcd.log (tail)\n{}",
            tail("crdserver.log"),
            tail("etcd.log")
        )
    }

    /// Polls (bounded) until the server lists CRDs for the admin, failing at once with the
    /// logs if a process exits.
    async fn wait_until_serving(&mut self) {
        let admin = self.admin();
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let exited = [("etcd", &mut self.etcd), ("crdserver", &mut self.crdserver)]
                .into_iter()
                .find_map(|(name, child)| child.0.try_wait().unwrap().map(|status| (name, status)));
            if let Some((name, status)) = exited {
                panic!("{name} exited during start-up ({status})\n{}", self.logs());
            }
            match admin.list("/apis/apiextensions.k8s.io/v1/customresourcedefinitions").await {
                Ok(_) => return,
                Err(Error::Connect { .. } | Error::Api(_) | Error::Forbidden(_) | Error::NotFound(_)) => {}
                Err(e) => panic!("unexpected error while waiting for the server: {e}\n{}", self.logs()),
            }
            assert!(Instant::now() < deadline, "the server did not serve within 90 s\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A configuration for `auth` against this server, trusting its CA.
    pub fn config(&self, auth: Auth) -> Config {
        Config {
            server: self.url.clone(),
            ca_pem: Some(self.server_ca_pem.clone().into_bytes()),
            auth,
            namespace: "default".to_owned(),
        }
    }
}
