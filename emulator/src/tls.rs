//! HTTPS like the real ARM endpoint: a certificate authority and a server certificate for
//! `localhost`, `127.0.0.1` and `*.azurecr.io` (every emulated registry's login server, which
//! clients reach by connecting the name to the emulator's address).
//!
//! Design decision: never a fixed CA in the source tree. Without a data directory, a fresh CA
//! is made at every start and its key stays in memory. With one, the CA is made once and kept
//! there (`ca.pem`, and `ca.key` readable by its owner only), because clients were told about
//! it — the azure provider's `ca_certificate_file`, and the certificate authority data of every
//! emulated cluster's kubeconfig — and those must stay true across restarts (a plan saved in
//! one run is applied in the next). Clients trust it explicitly; nothing is added to the
//! machine's trust store. The server's own key pair and certificate are new at every start, so a
//! CA kept from an older run signs the names added since (the wildcard) without being remade.

use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// The emulator's certificates, ready to serve.
pub(crate) struct Tls {
    /// The CA's certificate in PEM, for clients to trust.
    pub(crate) ca_pem: String,
    /// The TLS acceptor with the server certificate.
    pub(crate) acceptor: tokio_rustls::TlsAcceptor,
}

fn other(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("could not make the emulator's certificates: {e}"))
}

/// The CA's parameters: the same at every start, so that a kept key signs for the kept
/// certificate (its subject is the issuer of every server certificate).
fn ca_params() -> std::io::Result<CertificateParams> {
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(other)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name.push(DnType::CommonName, "lanestack emulator CA");
    ca.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    Ok(ca)
}

/// The CA kept in `dir`, when both its files are there and readable.
fn kept(dir: &Path) -> Option<(KeyPair, String)> {
    let pem = std::fs::read_to_string(dir.join("ca.pem")).ok()?;
    let key = KeyPair::from_pem(&std::fs::read_to_string(dir.join("ca.key")).ok()?).ok()?;
    Some((key, pem))
}

/// Keeps the CA in `dir`: the key first, owner-only, then the certificate that says it is there.
fn keep(dir: &Path, key: &KeyPair, pem: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::create_dir_all(dir)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(dir.join("ca.key"))?;
    file.write_all(key.serialize_pem().as_bytes())?;
    std::fs::write(dir.join("ca.pem"), pem)
}

impl Tls {
    /// A CA (the one kept in `dir`, or a new one, kept there when `dir` is given) and a new
    /// server certificate signed by it.
    pub(crate) fn start(dir: Option<&Path>) -> std::io::Result<Tls> {
        let params = ca_params()?;
        let (ca_key, ca_pem) = match dir.and_then(kept) {
            Some(found) => found,
            None => {
                let key = KeyPair::generate().map_err(other)?;
                let pem = params.self_signed(&key).map_err(other)?.pem();
                if let Some(dir) = dir {
                    keep(dir, &key, &pem)?;
                }
                (key, pem)
            }
        };
        let issuer = Issuer::new(params, ca_key);

        let names = ["localhost", "127.0.0.1", "*.azurecr.io"].map(str::to_owned).to_vec();
        let mut server = CertificateParams::new(names).map_err(other)?;
        server.distinguished_name.push(DnType::CommonName, "lanestack emulator");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        server.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        let server_key = KeyPair::generate().map_err(other)?;
        let server_cert = server.signed_by(&server_key, &issuer).map_err(other)?;

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(other)?
            .with_no_client_auth()
            .with_single_cert(
                vec![server_cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
            )
            .map_err(other)?;
        Ok(Tls { ca_pem, acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)) })
    }
}
