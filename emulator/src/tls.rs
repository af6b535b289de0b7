//! HTTPS like the real ARM endpoint: a certificate authority and a server certificate for
//! `localhost` and `127.0.0.1`, generated at every start.
//!
//! Design decision: a fresh CA per start, never a fixed one in the source tree. Its certificate
//! (no key) is written to the data directory as `ca.pem`, and clients trust it explicitly (the
//! azure provider's `ca_certificate_file`), so nothing is added to the machine's trust store
//! and a leaked CA is worth nothing once the emulator stops. The key pairs stay in memory.

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

impl Tls {
    /// Generates a CA and a server certificate signed by it.
    pub(crate) fn generate() -> std::io::Result<Tls> {
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(other)?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca.distinguished_name.push(DnType::CommonName, "lanestack emulator CA");
        ca.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca_key = KeyPair::generate().map_err(other)?;
        let ca_cert = ca.self_signed(&ca_key).map_err(other)?;
        let issuer = Issuer::new(ca, ca_key);

        let mut server =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).map_err(other)?;
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
                vec![server_cert.der().clone(), ca_cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
            )
            .map_err(other)?;
        Ok(Tls { ca_pem: ca_cert.pem(), acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)) })
    }
}
