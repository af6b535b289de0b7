//! [`Client`]: JSON requests to one API server on reqwest, with rustls on ring (aws-lc's build
//! alone costs minutes on 2 cores), trusting exactly the configuration's CA when it gives one.
//!
//! Objects are `serde_json::Value`s: the trainer creates one kind of object and a provider
//! works with whatever kinds its stacks name, so typed structs per kind would be dead weight.
//! There is no retry: a caller that wants one knows whether its request is idempotent.

use std::fmt;
use std::time::Duration;

use lanestack_http::CaError;
use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde_json::Value;

use crate::config::{Auth, Config};
use crate::error::Error;

/// A client of one API server. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    server: String,
    auth: Auth,
    namespace: String,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.server)
            .field("auth", &self.auth)
            .field("namespace", &self.namespace)
            .finish()
    }
}

impl Client {
    /// A client for `config`. Fails on a CA or client certificate that is not PEM.
    pub fn new(config: &Config) -> Result<Client, Error> {
        let server = config.server.trim_end_matches('/').to_owned();
        let setup = |detail: String| Error::Setup { server: server.clone(), detail };
        let trust = config.ca_pem.as_deref().map(lanestack_http::ca_certificates).transpose().map_err(
            |e| match e {
                CaError::NotPem(e) => setup(format!("the CA certificate is not PEM: {e}")),
                CaError::Empty => setup("the CA certificate data holds no PEM certificate".to_owned()),
            },
        )?;
        let mut builder = lanestack_http::builder(trust.as_deref())
            .connect_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(120));
        if let Auth::ClientCertificate { cert_pem, key_pem } = &config.auth {
            let mut pem = cert_pem.clone();
            pem.push(b'\n');
            pem.extend_from_slice(key_pem);
            let identity = reqwest::Identity::from_pem(&pem)
                .map_err(|e| setup(format!("the client certificate or key is not usable PEM: {e}")))?;
            builder = builder.identity(identity);
        }
        let http = builder.build().map_err(|e| setup(format!("{e}")))?;
        Ok(Client { http, server, auth: config.auth.clone(), namespace: config.namespace.clone() })
    }

    /// The server's base URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The configuration's namespace, for callers that name none.
    pub fn default_namespace(&self) -> &str {
        &self.namespace
    }

    /// `GET path`: one object (`/apis/g/v1/namespaces/ns/kinds/name`).
    pub async fn get(&self, path: &str) -> Result<Value, Error> {
        self.request(Method::GET, path, None).await
    }

    /// `GET path` of a collection: the list object (`items`, `metadata.continue`). Queries
    /// (`?labelSelector=...`) go in `path`, already encoded.
    pub async fn list(&self, path: &str) -> Result<Value, Error> {
        self.request(Method::GET, path, None).await
    }

    /// `POST collection_path` with `object`: creates it and returns it as the server stored it.
    pub async fn create(&self, collection_path: &str, object: &Value) -> Result<Value, Error> {
        self.request(Method::POST, collection_path, Some(object)).await
    }

    /// `PUT path` with `object` (its `metadata.resourceVersion` guards against lost updates).
    pub async fn replace(&self, path: &str, object: &Value) -> Result<Value, Error> {
        self.request(Method::PUT, path, Some(object)).await
    }

    /// `DELETE path`: the server's answer (the object, or a `Status`).
    pub async fn delete(&self, path: &str) -> Result<Value, Error> {
        self.request(Method::DELETE, path, None).await
    }

    /// `PATCH path` with a JSON merge patch (RFC 7386): the fields of `patch` replace the
    /// object's, `null` removes one. Queries (`?fieldManager=...`) go in `path`.
    pub async fn merge_patch(&self, path: &str, patch: &Value) -> Result<Value, Error> {
        self.send(Method::PATCH, path, Some((patch, "application/merge-patch+json"))).await
    }

    /// Server-side apply (`PATCH` with `application/apply-patch+yaml`): makes the fields of
    /// `object` the ones `options.field_manager` owns, creating the object when it does not
    /// exist. `path` is the object's own path (not the collection's).
    pub async fn apply(
        &self,
        path: &str,
        object: &Value,
        options: &ApplyOptions<'_>,
    ) -> Result<Value, Error> {
        let mut query = format!("?fieldManager={}", encode_query(options.field_manager));
        if options.force {
            query.push_str("&force=true");
        }
        if options.dry_run {
            query.push_str("&dryRun=All");
        }
        // JSON is YAML: the server reads the body with its YAML decoder either way.
        self.send(Method::PATCH, &format!("{path}{query}"), Some((object, "application/apply-patch+yaml")))
            .await
    }

    /// One JSON request: `path` is appended to the server's URL; a non-2xx answer is an
    /// [`Error`] classified from its `Status`.
    pub async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, Error> {
        self.send(method, path, body.map(|b| (b, "application/json"))).await
    }

    async fn send(&self, method: Method, path: &str, body: Option<(&Value, &str)>) -> Result<Value, Error> {
        let url = format!("{}{path}", self.server);
        let mut request = self.http.request(method.clone(), &url).header(ACCEPT, "application/json");
        if let Some(token) = self.bearer()? {
            let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| Error::Setup {
                server: self.server.clone(),
                detail: "the bearer token holds characters that cannot go in an HTTP header".to_owned(),
            })?;
            value.set_sensitive(true);
            request = request.header(AUTHORIZATION, value);
        }
        if let Some((body, content_type)) = body {
            let bytes = serde_json::to_vec(body).map_err(|e| Error::Setup {
                server: self.server.clone(),
                detail: format!("the request body cannot be serialised: {e}"),
            })?;
            request = request.header(CONTENT_TYPE, content_type).body(bytes);
        }
        let response = request.send().await.map_err(|e| self.transport(&e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| self.transport(&e))?;
        if !status.is_success() {
            return Err(Error::from_response(method.as_str(), path, status.as_u16(), &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| Error::Response {
            method: method.to_string(),
            path: path.to_owned(),
            detail: e.to_string(),
        })
    }

    /// The token to send, read from its file now when it is one.
    fn bearer(&self) -> Result<Option<String>, Error> {
        match &self.auth {
            Auth::Bearer(token) => Ok(Some(token.clone())),
            Auth::TokenFile(path) => {
                let token = std::fs::read_to_string(path)
                    .map_err(|e| Error::TokenFile { path: path.clone(), detail: e.to_string() })?;
                let token = token.trim();
                if token.is_empty() {
                    return Err(Error::TokenFile {
                        path: path.clone(),
                        detail: "the file is empty".to_owned(),
                    });
                }
                Ok(Some(token.to_owned()))
            }
            Auth::None | Auth::ClientCertificate { .. } => Ok(None),
        }
    }

    fn transport(&self, e: &reqwest::Error) -> Error {
        let detail = chain(e);
        if lanestack_http::is_tls_error(e) {
            Error::Tls {
                server: self.server.clone(),
                detail: format!(
                    "{detail} (is the certificate authority the one that signed this server's certificate?)"
                ),
            }
        } else {
            Error::Connect { server: self.server.clone(), detail }
        }
    }
}

/// How [`Client::apply`] applies.
#[derive(Clone, Copy, Debug)]
pub struct ApplyOptions<'a> {
    /// Who owns the applied fields (`fieldManager`).
    pub field_manager: &'a str,
    /// Take over fields that another manager owns with another value, instead of failing with
    /// a conflict (`force=true`).
    pub force: bool,
    /// Validate and answer with the would-be object, changing nothing (`dryRun=All`).
    pub dry_run: bool,
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass as they are).
fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The error and its sources, each once (hyper and reqwest repeat their inner errors' text).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = Some(e);
    while let Some(err) = source {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = err.source();
    }
    parts.join(": ")
}

/// The path of a collection or of one object: `api_version` `v1` is the core group (`/api/v1`),
/// `group/version` a named one (`/apis/group/version`); `namespace` `None` for cluster-scoped
/// kinds; `name` `None` for the collection.
pub fn resource_path(api_version: &str, namespace: Option<&str>, plural: &str, name: Option<&str>) -> String {
    let mut path = if api_version.contains('/') {
        format!("/apis/{api_version}")
    } else {
        format!("/api/{api_version}")
    };
    if let Some(ns) = namespace {
        path.push_str("/namespaces/");
        path.push_str(ns);
    }
    path.push('/');
    path.push_str(plural);
    if let Some(name) = name {
        path.push('/');
        path.push_str(name);
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_core_and_named_groups() {
        assert_eq!(resource_path("v1", Some("ns"), "pods", Some("p")), "/api/v1/namespaces/ns/pods/p");
        assert_eq!(
            resource_path("apiextensions.k8s.io/v1", None, "customresourcedefinitions", None),
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        );
    }

    #[test]
    fn bad_pem_is_a_setup_error_naming_the_server() {
        let config = Config {
            server: "https://k:1/".to_owned(),
            ca_pem: Some(b"not pem".to_vec()),
            auth: Auth::None,
            namespace: "default".to_owned(),
        };
        let e = Client::new(&config).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot set up a client of the Kubernetes API server https://k:1: the CA certificate data holds no PEM certificate"
        );
    }

    #[test]
    fn debug_hides_the_token() {
        let config = Config {
            server: "https://k:1".to_owned(),
            ca_pem: None,
            auth: Auth::Bearer("hunter2-token".to_owned()),
            namespace: "default".to_owned(),
        };
        let client = Client::new(&config).unwrap();
        assert!(!format!("{client:?}").contains("hunter2"));
    }
}
