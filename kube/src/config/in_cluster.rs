//! The in-cluster configuration: the service's address from the environment Kubernetes gives
//! every pod, the credentials from the service account's mounted files.

use std::path::Path;

use super::{Auth, Config, ConfigError, Tried};

/// Where Kubernetes mounts a pod's service-account token, CA and namespace.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

pub(super) fn load(env: &dyn Fn(&str) -> Option<String>, sa_dir: &Path) -> Result<Config, ConfigError> {
    let fail = |message: String| ConfigError { tried: Tried::InCluster, message };
    let var = |name: &str| env(name).filter(|v| !v.is_empty());
    let (Some(host), Some(port)) = (var("KUBERNETES_SERVICE_HOST"), var("KUBERNETES_SERVICE_PORT")) else {
        return Err(fail(
            "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set (they are in a pod)"
                .to_owned(),
        ));
    };
    // net.JoinHostPort: a host with a colon is an IPv6 address and goes in brackets.
    let server = if host.contains(':') && !host.starts_with('[') {
        format!("https://[{host}]:{port}")
    } else {
        format!("https://{host}:{port}")
    };

    let token_file = sa_dir.join("token");
    let token = std::fs::read_to_string(&token_file)
        .map_err(|e| fail(format!("cannot read the service account token {}: {e}", token_file.display())))?;
    if token.trim().is_empty() {
        return Err(fail(format!("the service account token {} is empty", token_file.display())));
    }
    let ca_file = sa_dir.join("ca.crt");
    let ca_pem = std::fs::read(&ca_file).map_err(|e| {
        fail(format!("cannot read the service account CA certificate {}: {e}", ca_file.display()))
    })?;

    let namespace_file = sa_dir.join("namespace");
    let namespace = match var("POD_NAMESPACE") {
        Some(ns) => ns,
        None => std::fs::read_to_string(&namespace_file)
            .ok()
            .map(|ns| ns.trim().to_owned())
            .filter(|ns| !ns.is_empty())
            .unwrap_or_else(|| "default".to_owned()),
    };
    Ok(Config { server, ca_pem: Some(ca_pem), auth: Auth::TokenFile(token_file), namespace })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    fn sa_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    const SERVICE: &[(&str, &str)] =
        &[("KUBERNETES_SERVICE_HOST", "10.96.0.1"), ("KUBERNETES_SERVICE_PORT", "443")];

    #[test]
    fn reads_the_service_and_the_mounted_files() {
        let dir = sa_dir(&[("token", "tok\n"), ("ca.crt", "CA"), ("namespace", "training\n")]);
        let config = load(&env(SERVICE), dir.path()).unwrap();
        assert_eq!(config.server, "https://10.96.0.1:443");
        assert_eq!(config.ca_pem.as_deref(), Some(&b"CA"[..]));
        assert_eq!(config.namespace, "training");
        assert!(matches!(&config.auth, Auth::TokenFile(p) if *p == dir.path().join("token")));
    }

    #[test]
    fn ipv6_hosts_are_bracketed() {
        let dir = sa_dir(&[("token", "tok"), ("ca.crt", "CA")]);
        let vars = [("KUBERNETES_SERVICE_HOST", "fd00::1"), ("KUBERNETES_SERVICE_PORT", "6443")];
        let config = load(&env(&vars), dir.path()).unwrap();
        assert_eq!(config.server, "https://[fd00::1]:6443");
        assert_eq!(config.namespace, "default", "no namespace file: default");
    }

    #[test]
    fn pod_namespace_wins_over_the_file() {
        let dir = sa_dir(&[("token", "tok"), ("ca.crt", "CA"), ("namespace", "file-ns")]);
        let vars = [SERVICE[0], SERVICE[1], ("POD_NAMESPACE", "env-ns")];
        assert_eq!(load(&env(&vars), dir.path()).unwrap().namespace, "env-ns");
    }

    #[test]
    fn missing_pieces_are_named() {
        let dir = sa_dir(&[("ca.crt", "CA")]);
        let e = load(&env(SERVICE), dir.path()).unwrap_err();
        let token = dir.path().join("token").display().to_string();
        assert_eq!(
            e.to_string(),
            format!(
                "in-cluster configuration: cannot read the service account token {token}: No such file or directory (os error 2)"
            )
        );

        let dir = sa_dir(&[("token", " \n"), ("ca.crt", "CA")]);
        assert!(load(&env(SERVICE), dir.path()).unwrap_err().message.ends_with("token is empty"));

        let dir = sa_dir(&[("token", "tok")]);
        let e = load(&env(SERVICE), dir.path()).unwrap_err();
        assert!(e.message.contains(&dir.path().join("ca.crt").display().to_string()), "{e}");

        let e = load(&env(&[("KUBERNETES_SERVICE_HOST", "10.96.0.1")]), dir.path()).unwrap_err();
        assert!(e.message.contains("KUBERNETES_SERVICE_PORT"), "{e}");
    }
}
