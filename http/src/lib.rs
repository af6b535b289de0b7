//! What every HTTP client of lanestack shares (ARM, Kubernetes, registries, Run:ai, downloads),
//! so that each sets up TLS the same way:
//!
//! - [`builder`]: a reqwest client builder on rustls with the ring provider (aws-lc's build
//!   costs minutes on 2 cores), trusting only the given CAs when there are some;
//! - [`ca_certificates`]: a PEM bundle read into certificates, refusing one that holds none;
//! - [`is_tls_error`]: whether a failed request failed in TLS (an untrusted certificate, a
//!   handshake), which retrying cannot mend.
//!
//! Each client keeps its own timeouts and its own wording of errors.

use std::fmt;

/// Why a CA bundle cannot be used.
#[derive(Debug)]
pub enum CaError {
    /// It is not PEM (reqwest's reason).
    NotPem(reqwest::Error),
    /// It is PEM but holds no certificate.
    Empty,
}

impl fmt::Display for CaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaError::NotPem(e) => write!(f, "{e}"),
            CaError::Empty => f.write_str("it holds no PEM certificate"),
        }
    }
}

/// The certificates of a PEM bundle; at least one.
pub fn ca_certificates(pem: &[u8]) -> Result<Vec<reqwest::Certificate>, CaError> {
    let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(CaError::NotPem)?;
    if certs.is_empty() {
        return Err(CaError::Empty);
    }
    Ok(certs)
}

/// A client builder on rustls with ring, trusting `trust` only when given (else the system's
/// roots).
pub fn builder(trust: Option<&[reqwest::Certificate]>) -> reqwest::ClientBuilder {
    // Chosen once per process; a second install is refused and harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let builder = reqwest::Client::builder();
    match trust {
        Some(certs) => builder.tls_certs_only(certs.to_vec()),
        None => builder,
    }
}

/// Whether a failed request failed in TLS: the server's certificate or the handshake.
pub fn is_tls_error(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io_wraps_rustls(io)
        {
            return true;
        }
        source = err.source();
    }
    false
}

/// Whether an IO error wraps a TLS error, perhaps inside other IO errors (hyper nests them, and
/// `io::Error::source` skips the wrapped error itself).
fn io_wraps_rustls(io: &std::io::Error) -> bool {
    match io.get_ref() {
        None => false,
        Some(inner) => {
            inner.downcast_ref::<rustls::Error>().is_some()
                || inner.downcast_ref::<std::io::Error>().is_some_and(io_wraps_rustls)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_must_be_pem_with_a_certificate() {
        assert!(matches!(ca_certificates(b""), Err(CaError::Empty)));
        assert!(matches!(ca_certificates(b"# no certificate here\n"), Err(CaError::Empty)));
        let broken = b"-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n";
        assert!(matches!(ca_certificates(broken), Err(CaError::NotPem(_))));
    }

    #[test]
    fn io_errors_wrapping_tls_errors_are_tls_errors() {
        let tls = std::io::Error::other(rustls::Error::General("bad certificate".into()));
        assert!(io_wraps_rustls(&tls));
        assert!(io_wraps_rustls(&std::io::Error::other(tls)));
        assert!(!io_wraps_rustls(&std::io::Error::other("connection reset")));
        assert!(!io_wraps_rustls(&std::io::Error::from(std::io::ErrorKind::TimedOut)));
    }
}
