//! Where the API server is and how to authenticate to it: [`Config`], from inside a pod
//! ([`Config::in_cluster`]), from a kubeconfig file ([`Config::from_kubeconfig`]) or from
//! whichever the environment points at ([`Config::infer`]).
//!
//! The functions that read the process environment and the real service-account directory are
//! thin wrappers over `*_from` functions that take both as arguments, so that every rule is
//! tested on temporary files, and so that a binary can keep its environment reads in one place.

mod in_cluster;
mod kubeconfig;

use std::fmt;
use std::path::{Path, PathBuf};

pub use in_cluster::SERVICE_ACCOUNT_DIR;

/// Everything needed to talk to one API server.
///
/// `Debug` is written by hand: it never shows a token or a private key.
#[derive(Clone)]
pub struct Config {
    /// The API server's base URL, e.g. `https://10.0.0.1:443`, without a trailing slash. A path
    /// (a proxy's prefix) is kept and requests are appended to it.
    pub server: String,
    /// PEM certificates of the CAs trusted for the server, and only those. `None` uses the
    /// machine's trust store.
    pub ca_pem: Option<Vec<u8>>,
    /// How requests authenticate.
    pub auth: Auth,
    /// The namespace to use when the caller names none (the context's, or the pod's).
    pub namespace: String,
}

/// How requests authenticate. `Debug` never shows a token or a key.
#[derive(Clone)]
pub enum Auth {
    /// No credentials (anonymous requests).
    None,
    /// A bearer token, sent as `Authorization: Bearer ...`.
    Bearer(String),
    /// A file holding a bearer token, read again for every request, so that a rotated token
    /// (a projected service-account token is replaced about every hour) is always current.
    TokenFile(PathBuf),
    /// A TLS client certificate and its private key, both PEM.
    ClientCertificate {
        /// The certificate chain, PEM.
        cert_pem: Vec<u8>,
        /// The private key (PKCS#8, PKCS#1 or SEC1), PEM.
        key_pem: Vec<u8>,
    },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Auth::TokenFile(path) => f.debug_tuple("TokenFile").field(path).finish(),
            Auth::ClientCertificate { cert_pem, key_pem: _ } => f
                .debug_struct("ClientCertificate")
                .field("cert_pem", &format_args!("<{} bytes>", cert_pem.len()))
                .field("key_pem", &format_args!("<redacted>"))
                .finish(),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("server", &self.server)
            .field("ca_pem", &self.ca_pem.as_ref().map(|pem| format!("<{} bytes>", pem.len())))
            .field("auth", &self.auth)
            .field("namespace", &self.namespace)
            .finish()
    }
}

/// A configuration that could not be loaded: which source was tried and why it failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{tried}: {message}")]
pub struct ConfigError {
    /// The source that was tried.
    pub tried: Tried,
    /// Why it failed (names the file or variable at fault).
    pub message: String,
}

/// The configuration source a [`ConfigError`] comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tried {
    /// The pod's service account (`KUBERNETES_SERVICE_HOST` and the mounted files).
    InCluster,
    /// A kubeconfig file, and why that one.
    Kubeconfig {
        /// The file.
        path: PathBuf,
        /// How it was chosen.
        origin: KubeconfigOrigin,
    },
    /// A kubeconfig given as text ([`Config::from_kubeconfig_text`]).
    InlineKubeconfig,
    /// Nothing could be tried (no variable set and no home directory).
    Nothing,
}

/// How the kubeconfig file that was read was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KubeconfigOrigin {
    /// Given by the caller.
    Explicit,
    /// The first file of `$KUBECONFIG`.
    KubeconfigVariable,
    /// `~/.kube/config`, since `$KUBECONFIG` is not set.
    Default,
}

impl fmt::Display for Tried {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tried::InCluster => f.write_str("in-cluster configuration"),
            Tried::Kubeconfig { path, origin } => {
                write!(f, "kubeconfig {}", path.display())?;
                match origin {
                    KubeconfigOrigin::Explicit => Ok(()),
                    KubeconfigOrigin::KubeconfigVariable => f.write_str(" (from KUBECONFIG)"),
                    KubeconfigOrigin::Default => f.write_str(" (the default: KUBECONFIG is not set)"),
                }
            }
            Tried::InlineKubeconfig => f.write_str("the kubeconfig given inline"),
            Tried::Nothing => f.write_str("Kubernetes configuration"),
        }
    }
}

impl Config {
    /// The pod's own configuration, as client-go's `rest.InClusterConfig`: the server from
    /// `KUBERNETES_SERVICE_HOST` and `KUBERNETES_SERVICE_PORT`, the token, CA and namespace
    /// from [`SERVICE_ACCOUNT_DIR`]. See [`Config::in_cluster_from`] for the rules.
    ///
    /// Reads the process environment; a library that must not do so calls `in_cluster_from`.
    pub fn in_cluster() -> Result<Config, ConfigError> {
        Config::in_cluster_from(|name| std::env::var(name).ok(), Path::new(SERVICE_ACCOUNT_DIR))
    }

    /// The pod's configuration from `env` (a variable lookup) and a service-account directory:
    /// - the server is `https://HOST:PORT` from `KUBERNETES_SERVICE_HOST` and
    ///   `KUBERNETES_SERVICE_PORT`, both required; an IPv6 host is bracketed;
    /// - the token is `sa_dir/token`, which must be readable and not empty now, and is read
    ///   again for every request ([`Auth::TokenFile`]), as client-go does for rotated tokens;
    /// - the CA is `sa_dir/ca.crt`. client-go logs and falls back to the system's roots when it
    ///   is unreadable; this is an error here instead, since the system's roots never sign a
    ///   cluster's API server and the failure would only move to the first request;
    /// - the namespace is `POD_NAMESPACE` if set, else `sa_dir/namespace`, else `default`
    ///   (client-go's in-cluster loader, `clientcmd`).
    pub fn in_cluster_from(
        env: impl Fn(&str) -> Option<String>,
        sa_dir: &Path,
    ) -> Result<Config, ConfigError> {
        in_cluster::load(&env, sa_dir)
    }

    /// The configuration of `context` (or the file's `current-context`) in the kubeconfig file
    /// at `path`: the context's cluster (`server`, `certificate-authority` or
    /// `certificate-authority-data`), user (`token`, `tokenFile`, or `client-certificate(-data)`
    /// with `client-key(-data)`) and namespace (`default` when unset). Relative file names are
    /// resolved against the kubeconfig's directory, as kubectl does.
    ///
    /// Refused with an error naming the field: `insecure-skip-tls-verify: true` (a client that
    /// trusts any server would hand it the token), `exec` and `auth-provider` credential
    /// plugins, and basic authentication, none of which this client implements.
    pub fn from_kubeconfig(path: &Path, context: Option<&str>) -> Result<Config, ConfigError> {
        kubeconfig::load(path, context, KubeconfigOrigin::Explicit)
    }

    /// [`Config::from_kubeconfig`] for a kubeconfig held as text (a managed cluster's
    /// credentials, passed from one resource to a provider); relative file names in it resolve
    /// against `base`. Errors name the field at fault, never a credential.
    pub fn from_kubeconfig_text(
        text: &str,
        context: Option<&str>,
        base: &Path,
    ) -> Result<Config, ConfigError> {
        kubeconfig::load_text(text, context, base)
    }

    /// The configuration the environment points at, the explicit before the ambient: the first
    /// file of `$KUBECONFIG` when it is set (someone chose it); otherwise the cluster's when
    /// `KUBERNETES_SERVICE_HOST` is set (every pod has it); otherwise `~/.kube/config`. The
    /// error names the source tried and the file.
    ///
    /// Reads the process environment; see [`Config::infer_from`].
    pub fn infer() -> Result<Config, ConfigError> {
        Config::infer_from(|name| std::env::var(name).ok(), Path::new(SERVICE_ACCOUNT_DIR))
    }

    /// [`Config::infer`] with the variables from `env` (`KUBERNETES_SERVICE_HOST`, `KUBECONFIG`,
    /// `HOME`, and the in-cluster ones) and the service-account directory given.
    pub fn infer_from(env: impl Fn(&str) -> Option<String>, sa_dir: &Path) -> Result<Config, ConfigError> {
        let set = |name: &str| env(name).filter(|v| !v.is_empty());
        if let Some(list) = set("KUBECONFIG") {
            let first = std::env::split_paths(&list).find(|p| !p.as_os_str().is_empty());
            if let Some(path) = first {
                return kubeconfig::load(&path, None, KubeconfigOrigin::KubeconfigVariable);
            }
        }
        if set("KUBERNETES_SERVICE_HOST").is_some() {
            return Config::in_cluster_from(&env, sa_dir).map_err(|e| ConfigError {
                message: format!("{} (chosen because KUBERNETES_SERVICE_HOST is set)", e.message),
                ..e
            });
        }
        match set("HOME") {
            Some(home) => kubeconfig::load(
                &Path::new(&home).join(".kube").join("config"),
                None,
                KubeconfigOrigin::Default,
            ),
            None => Err(ConfigError {
                tried: Tried::Nothing,
                message:
                    "KUBERNETES_SERVICE_HOST, KUBECONFIG and HOME are all unset: no cluster, kubeconfig \
                          or home directory to read"
                        .to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let config = Config {
            server: "https://k:6443".to_owned(),
            ca_pem: Some(b"-----BEGIN CERTIFICATE-----".to_vec()),
            auth: Auth::Bearer("s3cr3t-token".to_owned()),
            namespace: "ns".to_owned(),
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("Bearer(<redacted>)") && shown.contains("https://k:6443"), "{shown}");
        let cert =
            Auth::ClientCertificate { cert_pem: b"CERT".to_vec(), key_pem: b"PRIVATE-KEY-BYTES".to_vec() };
        let shown = format!("{cert:?}");
        assert!(!shown.contains("PRIVATE-KEY-BYTES") && !shown.contains("CERT\""), "{shown}");
    }

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn infer_prefers_kubeconfig_then_the_cluster_then_home() {
        let dir = tempfile::tempdir().unwrap();
        let sa = dir.path().join("sa");
        std::fs::create_dir(&sa).unwrap();
        // In the cluster, a missing token is the error, named, with the reason for the choice.
        let e = Config::infer_from(
            env(&[("KUBERNETES_SERVICE_HOST", "10.0.0.1"), ("KUBERNETES_SERVICE_PORT", "443")]),
            &sa,
        )
        .unwrap_err();
        assert_eq!(e.tried, Tried::InCluster);
        let text = e.to_string();
        assert!(text.contains(&sa.join("token").display().to_string()), "{text}");
        assert!(text.contains("KUBERNETES_SERVICE_HOST is set"), "{text}");

        // An explicit KUBECONFIG wins over the ambient cluster variables.
        let missing = dir.path().join("a").display().to_string();
        let list = format!("{missing}:{}", dir.path().join("b").display());
        let vars = [
            ("KUBECONFIG", list.as_str()),
            ("HOME", "/nonexistent-home"),
            ("KUBERNETES_SERVICE_HOST", "10.0.0.1"),
        ];
        let e = Config::infer_from(env(&vars), &sa).unwrap_err();
        assert_eq!(
            e.tried,
            Tried::Kubeconfig { path: dir.path().join("a"), origin: KubeconfigOrigin::KubeconfigVariable }
        );
        assert!(
            e.to_string().starts_with(&format!("kubeconfig {missing} (from KUBECONFIG): cannot read")),
            "{e}"
        );

        let home = dir.path().display().to_string();
        let e = Config::infer_from(env(&[("HOME", &home)]), &sa).unwrap_err();
        assert!(e.to_string().contains(&format!("{home}/.kube/config (the default")), "{e}");

        std::fs::create_dir(dir.path().join(".kube")).unwrap();
        std::fs::write(
            dir.path().join(".kube/config"),
            "clusters: [{name: c, cluster: {server: 'https://h:1'}}]\nusers: [{name: u, user: {token: t}}]\n\
             contexts: [{name: x, context: {cluster: c, user: u, namespace: team}}]\ncurrent-context: x\n",
        )
        .unwrap();
        let config = Config::infer_from(env(&[("HOME", &home), ("KUBECONFIG", "")]), &sa).unwrap();
        assert_eq!((config.server.as_str(), config.namespace.as_str()), ("https://h:1", "team"));

        let e = Config::infer_from(env(&[]), &sa).unwrap_err();
        assert_eq!(e.tried, Tried::Nothing);
    }
}
