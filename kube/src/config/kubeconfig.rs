//! The kubeconfig file format (`clusters`, `users`, `contexts`, `current-context`), the part of
//! it this client implements. kubectl's rules where it has them: relative file names are
//! resolved against the kubeconfig's directory, `*-data` fields are base64, and a field given
//! both inline and as a file is an error, as `clientcmd`'s validation makes it.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::Value;

use super::{Auth, Config, ConfigError, KubeconfigOrigin, Tried};

pub(super) fn load(
    path: &Path,
    context: Option<&str>,
    origin: KubeconfigOrigin,
) -> Result<Config, ConfigError> {
    let fail =
        |message: String| ConfigError { tried: Tried::Kubeconfig { path: path.to_owned(), origin }, message };
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    let doc = crate::yaml::document(&text).map_err(|e| fail(e.to_string()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse(&doc, context, base).map_err(fail)
}

/// A kubeconfig given as text (a cluster's credentials handed over by another resource);
/// relative file names in it resolve against `base`.
pub(super) fn load_text(text: &str, context: Option<&str>, base: &Path) -> Result<Config, ConfigError> {
    let fail = |message: String| ConfigError { tried: Tried::InlineKubeconfig, message };
    let doc = crate::yaml::document(text).map_err(|e| fail(e.to_string()))?;
    parse(&doc, context, base).map_err(fail)
}

/// The configuration of a parsed kubeconfig; file names are relative to `base`.
fn parse(doc: &Value, context: Option<&str>, base: &Path) -> Result<Config, String> {
    let context_name = match context {
        Some(name) => name.to_owned(),
        None => match doc.get("current-context").and_then(Value::as_str).filter(|s| !s.is_empty()) {
            Some(name) => name.to_owned(),
            None => return Err("no context given and current-context is not set".to_owned()),
        },
    };
    let ctx = named(doc, "contexts", "context", &context_name)?;
    let cluster_name = text(ctx, "cluster", &format!("context {context_name:?}"))?
        .ok_or_else(|| format!("context {context_name:?} names no cluster"))?;
    let cluster = named(doc, "clusters", "cluster", &cluster_name)?;
    let what = format!("cluster {cluster_name:?}");

    let server = text(cluster, "server", &what)?.ok_or_else(|| format!("{what} has no server"))?;
    let server = server.trim_end_matches('/').to_owned();
    if !(server.starts_with("https://") || server.starts_with("http://")) {
        return Err(format!("{what}: server {server:?} is not an http(s) URL"));
    }
    if flag(cluster, "insecure-skip-tls-verify", &what)? {
        return Err(format!(
            "{what} sets insecure-skip-tls-verify, which this client refuses (it would send credentials to any \
             server): give certificate-authority or certificate-authority-data instead"
        ));
    }
    if text(cluster, "tls-server-name", &what)?.is_some() {
        return Err(format!("{what}: tls-server-name is not supported by this client"));
    }
    let ca_pem = inline_or_file(cluster, "certificate-authority", base, &what)?;

    let auth = match text(ctx, "user", &format!("context {context_name:?}"))? {
        None => Auth::None,
        Some(user_name) => {
            let user = named(doc, "users", "user", &user_name)
                .map_err(|e| format!("{e} (the user of context {context_name:?})"))?;
            user_auth(user, &format!("user {user_name:?}"), base)?
        }
    };
    let namespace = text(ctx, "namespace", &format!("context {context_name:?}"))?
        .filter(|ns| !ns.is_empty())
        .unwrap_or_else(|| "default".to_owned());
    Ok(Config { server, ca_pem, auth, namespace })
}

/// A user's credentials. A client certificate wins over a token when both are given (AKS's
/// kubeconfigs carry both): the API server tries certificates first anyway.
fn user_auth(user: &Value, what: &str, base: &Path) -> Result<Auth, String> {
    for unsupported in ["exec", "auth-provider", "username", "password"] {
        if user.get(unsupported).is_some_and(|v| !v.is_null()) {
            return Err(format!("{what} uses {unsupported}, which this client does not support"));
        }
    }
    let cert = inline_or_file(user, "client-certificate", base, what)?;
    let key = inline_or_file(user, "client-key", base, what)?;
    match (cert, key) {
        (Some(cert_pem), Some(key_pem)) => return Ok(Auth::ClientCertificate { cert_pem, key_pem }),
        (Some(_), None) => return Err(format!("{what} has a client certificate but no client-key(-data)")),
        (None, Some(_)) => return Err(format!("{what} has a client key but no client-certificate(-data)")),
        (None, None) => {}
    }
    if let Some(token) = text(user, "token", what)?.filter(|t| !t.is_empty()) {
        return Ok(Auth::Bearer(token));
    }
    if let Some(file) = text(user, "tokenFile", what)?.filter(|t| !t.is_empty()) {
        let file = base.join(file);
        let token = std::fs::read_to_string(&file)
            .map_err(|e| format!("{what}: cannot read tokenFile {}: {e}", file.display()))?;
        if token.trim().is_empty() {
            return Err(format!("{what}: tokenFile {} is empty", file.display()));
        }
        return Ok(Auth::TokenFile(file));
    }
    Ok(Auth::None)
}

/// The entry named `name` of the list `list` (`clusters`, `users`, `contexts`), unwrapped
/// (`{name, cluster: {...}}` gives the inner object).
fn named<'a>(doc: &'a Value, list: &str, inner: &str, name: &str) -> Result<&'a Value, String> {
    let entries = match doc.get(list) {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(entries)) => entries.as_slice(),
        Some(_) => return Err(format!("{list} is not a list")),
    };
    let found = entries.iter().find(|e| e.get("name").and_then(Value::as_str) == Some(name));
    match found {
        Some(entry) => match entry.get(inner) {
            Some(v @ Value::Object(_)) => Ok(v),
            None | Some(Value::Null) => Ok(&EMPTY),
            Some(_) => Err(format!("{inner} {name:?} is not a mapping")),
        },
        None => {
            let known: Vec<&str> =
                entries.iter().filter_map(|e| e.get("name").and_then(Value::as_str)).collect();
            let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
            Err(format!("{inner} {name:?} not found (the {list} are: {known})"))
        }
    }
}

static EMPTY: Value = Value::Null;

/// A string field; numbers (an unquoted numeric token) are read back as their text.
fn text(obj: &Value, field: &str, what: &str) -> Result<Option<String>, String> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(format!("{what}: {field} is not a string")),
    }
}

fn flag(obj: &Value, field: &str, what: &str) -> Result<bool, String> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
        Some(_) => Err(format!("{what}: {field} is not a boolean")),
    }
}

/// `field-data` (base64) or `field` (a file name, relative to `base`); both is an error.
fn inline_or_file(obj: &Value, field: &str, base: &Path, what: &str) -> Result<Option<Vec<u8>>, String> {
    let data_field = format!("{field}-data");
    let data = text(obj, &data_field, what)?.filter(|s| !s.is_empty());
    let file = text(obj, field, what)?.filter(|s| !s.is_empty());
    match (data, file) {
        (Some(_), Some(_)) => Err(format!("{what} gives both {data_field} and {field}: give one")),
        (Some(data), None) => {
            let compact: String = data.split_whitespace().collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map(Some)
                .map_err(|e| format!("{what}: {data_field} is not base64: {e}"))
        }
        (None, Some(file)) => {
            let file: PathBuf = base.join(file);
            std::fs::read(&file)
                .map(Some)
                .map_err(|e| format!("{what}: cannot read {field} {}: {e}", file.display()))
        }
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn data_forms_and_the_current_context() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: prod\nclusters:\n- name: c\n  cluster:\n    server: https://k.example:6443/\n    certificate-authority-data: {}\nusers:\n- name: u\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n    token: also-here\ncontexts:\n- name: prod\n  context: {{cluster: c, user: u, namespace: ml}}\n- name: other\n  context: {{cluster: c}}\n",
            b64("CA PEM"),
            b64("CERT PEM"),
            b64("KEY PEM")
        );
        let path = write(dir.path(), "config", &text);
        let config = load(&path, None, KubeconfigOrigin::Explicit).unwrap();
        assert_eq!(config.server, "https://k.example:6443");
        assert_eq!(config.ca_pem.as_deref(), Some(&b"CA PEM"[..]));
        assert_eq!(config.namespace, "ml");
        match config.auth {
            Auth::ClientCertificate { cert_pem, key_pem } => {
                assert_eq!((cert_pem.as_slice(), key_pem.as_slice()), (&b"CERT PEM"[..], &b"KEY PEM"[..]));
            }
            other => panic!("{other:?}"),
        }
        let other = load(&path, Some("other"), KubeconfigOrigin::Explicit).unwrap();
        assert!(matches!(other.auth, Auth::None));
        assert_eq!(other.namespace, "default");
    }

    #[test]
    fn file_forms_are_relative_to_the_kubeconfig() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "kube/pki/ca.crt", "CA FILE");
        write(dir.path(), "kube/tok", "file-token\n");
        let path = write(
            dir.path(),
            "kube/config",
            "clusters: [{name: c, cluster: {server: 'https://h', certificate-authority: pki/ca.crt}}]\n\
             users: [{name: u, user: {tokenFile: tok}}, {name: t, user: {token: inline}}]\n\
             contexts: [{name: a, context: {cluster: c, user: u}}, {name: b, context: {cluster: c, user: t}}]\n",
        );
        let config = load(&path, Some("a"), KubeconfigOrigin::Explicit).unwrap();
        assert_eq!(config.ca_pem.as_deref(), Some(&b"CA FILE"[..]));
        assert!(matches!(&config.auth, Auth::TokenFile(p) if *p == dir.path().join("kube/tok")));
        let config = load(&path, Some("b"), KubeconfigOrigin::Explicit).unwrap();
        assert!(matches!(&config.auth, Auth::Bearer(t) if t == "inline"));
    }

    #[test]
    fn clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let case = |text: &str, context: Option<&str>| {
            let path = write(dir.path(), "config", text);
            load(&path, context, KubeconfigOrigin::Explicit).unwrap_err().to_string()
        };
        let config = dir.path().join("config").display().to_string();
        let clusters = "clusters: [{name: c, cluster: {server: 'https://h'}}]\n";
        assert_eq!(
            case(
                &format!(
                    "{clusters}contexts: [{{name: x, context: {{cluster: c, user: ghost}}}}]\nusers: [{{name: u, user: {{}}}}]\ncurrent-context: x\n"
                ),
                None
            ),
            format!(
                "kubeconfig {config}: user \"ghost\" not found (the users are: u) (the user of context \"x\")"
            )
        );
        assert_eq!(
            case(&format!("{clusters}contexts: [{{name: x, context: {{cluster: c}}}}]\n"), Some("y")),
            format!("kubeconfig {config}: context \"y\" not found (the contexts are: x)")
        );
        assert!(case(clusters, None).ends_with("no context given and current-context is not set"));
        let insecure = "clusters: [{name: c, cluster: {server: 'https://h', insecure-skip-tls-verify: true}}]\n\
                        contexts: [{name: x, context: {cluster: c}}]\n";
        assert!(case(insecure, Some("x")).contains("insecure-skip-tls-verify"));
        let both = format!(
            "clusters: [{{name: c, cluster: {{server: 'https://h', certificate-authority: ca, certificate-authority-data: {}}}}}]\ncontexts: [{{name: x, context: {{cluster: c}}}}]\n",
            b64("x")
        );
        assert!(
            case(&both, Some("x"))
                .contains("gives both certificate-authority-data and certificate-authority")
        );
        let missing_file = "clusters: [{name: c, cluster: {server: 'https://h', certificate-authority: nope.crt}}]\n\
                            contexts: [{name: x, context: {cluster: c}}]\n";
        assert!(case(missing_file, Some("x")).contains(&dir.path().join("nope.crt").display().to_string()));
        let exec = format!(
            "{clusters}users: [{{name: u, user: {{exec: {{command: kubelogin}}}}}}]\ncontexts: [{{name: x, context: {{cluster: c, user: u}}}}]\n"
        );
        assert!(case(&exec, Some("x")).ends_with("user \"u\" uses exec, which this client does not support"));
        let half = format!(
            "{clusters}users: [{{name: u, user: {{client-certificate-data: {}}}}}]\ncontexts: [{{name: x, context: {{cluster: c, user: u}}}}]\n",
            b64("c")
        );
        assert!(case(&half, Some("x")).contains("no client-key"));
        assert!(case("a: [1\n", None).contains("YAML line"));
    }

    #[test]
    fn inline_text_resolves_files_against_the_base_and_names_itself_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "token", "from-file\n");
        let text = "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:1/k8s/ab'}}]\n\
                    users: [{name: u, user: {tokenFile: token}}]\n\
                    contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n";
        let config = load_text(text, None, dir.path()).unwrap();
        assert_eq!(config.server, "http://127.0.0.1:1/k8s/ab");
        assert!(matches!(&config.auth, Auth::TokenFile(p) if p == &dir.path().join("token")));
        let err = load_text("clusters: [", None, dir.path()).unwrap_err();
        assert_eq!(err.tried, Tried::InlineKubeconfig);
        assert!(err.to_string().starts_with("the kubeconfig given inline: YAML line"), "{err}");
        let err =
            load_text("current-context: x\nusers: [{name: u, user: {token: s3cr3t}}]\n", None, dir.path())
                .unwrap_err()
                .to_string();
        assert!(err.contains("context \"x\" not found") && !err.contains("s3cr3t"), "{err}");
    }
}
