//! A client of the OCI distribution API: blobs, uploads, cross-repository mounts and
//! manifests, with the registries' authentication.
//!
//! Authentication follows what a registry asks for in its `401`'s `WWW-Authenticate`: HTTP
//! Basic, or Docker's token protocol (`Bearer realm=…,service=…,scope=…`: a token for exactly
//! the scopes needed, fetched from the realm with the registry's credentials — HTTP Basic, or
//! the `refresh_token` grant for an Azure Container Registry identity token, whose user name
//! is all zeros — or anonymously). Tokens are kept per registry and scope.
//!
//! Registries on loopback (`localhost`, `127.0.0.0/8`, `[::1]`) are spoken to in plain HTTP,
//! as Docker does; every other one over HTTPS. [`Settings::connect_to`] sends every registry's
//! connections to one address while keeping the registry's name for TLS and `Host` (curl's
//! `--connect-to`): a local cloud serving registries under their real names.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use lanestack_model::{ErrorKind, ProviderError};
use reqwest::{Method, StatusCode};
use tokio::sync::Mutex;

use lanestack_http::CaError;

use crate::docker_config::DockerConfig;
use crate::layer::sha256;

/// The manifest media types this client asks for and understands.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// An OCI image index (a manifest per platform).
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker's image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker's manifest list (a manifest per platform).
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// The user name under which Azure Container Registry takes an identity (refresh) token.
const ACR_TOKEN_USER: &str = "00000000-0000-0000-0000-000000000000";

/// How many times a request that failed in passing (a 5xx, a 429, a lost connection) is sent.
const ATTEMPTS: u32 = 4;

/// A user name and password (or token) for a registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name (a service principal's client id, an admin user's name, or
    /// `00000000-0000-0000-0000-000000000000` for an identity token).
    pub username: String,
    /// The password, secret or token. Never printed.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).finish_non_exhaustive()
    }
}

/// Credentials for the registries an address matches: a host (`lanes.azurecr.io`,
/// `127.0.0.1:5000`) or every host under a domain (`*.azurecr.io`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryAuth {
    /// The host, or `*.` and a domain.
    pub address: String,
    /// What to present there.
    pub credentials: Credentials,
}

impl RegistryAuth {
    fn matches(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        let address = self.address.to_ascii_lowercase();
        match address.strip_prefix("*.") {
            Some(domain) => {
                host.strip_suffix(domain).is_some_and(|rest| rest.ends_with('.') && rest.len() > 1)
            }
            None => host == address,
        }
    }
}

/// How to reach and authenticate to registries.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Credentials by registry, the first match wins.
    pub auth: Vec<RegistryAuth>,
    /// Credentials for a registry no entry of `auth` matches.
    pub default_credentials: Option<Credentials>,
    /// Connect to this address for every registry (the registry's name still goes in TLS and
    /// `Host`).
    pub connect_to: Option<SocketAddr>,
    /// PEM certificates: trust these CAs only, instead of the system's.
    pub ca_pem: Option<Vec<u8>>,
    /// Docker's configuration file (`docker login`, `az acr login`), consulted after `auth`.
    pub docker: Option<DockerConfig>,
    /// The largest request body of a blob upload: bigger blobs go in chunks of this size.
    pub chunk_size: usize,
}

/// The default [`Settings::chunk_size`]: 16 MiB.
pub const CHUNK_SIZE: usize = 16 << 20;

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            auth: Vec::new(),
            default_credentials: None,
            connect_to: None,
            ca_pem: None,
            docker: None,
            chunk_size: CHUNK_SIZE,
        }
    }
}

impl Settings {
    /// The credentials for `host`: its `auth` entry, else Docker's configuration's, else the
    /// default ones.
    async fn credentials(&self, host: &str) -> Result<Option<Credentials>, RegistryError> {
        if let Some(entry) = self.auth.iter().find(|a| a.matches(host)) {
            return Ok(Some(entry.credentials.clone()));
        }
        if let Some(docker) = &self.docker
            && let Some(found) = docker
                .credentials(host)
                .await
                .map_err(|e| error(ErrorKind::Unauthorized, format!("Docker's configuration file: {e}")))?
        {
            return Ok(Some(found));
        }
        Ok(self.default_credentials.clone())
    }
}

/// A failed registry request.
#[derive(Debug)]
pub struct RegistryError {
    /// How it failed, for the engine.
    pub kind: ErrorKind,
    /// What happened: the request, the status and the registry's error codes and messages.
    pub message: String,
}

impl From<RegistryError> for ProviderError {
    fn from(e: RegistryError) -> ProviderError {
        ProviderError::new(e.kind, e.message)
    }
}

fn error(kind: ErrorKind, message: impl Into<String>) -> RegistryError {
    RegistryError { kind, message: message.into() }
}

/// A manifest as the registry holds it: its exact bytes, media type and digest.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// The bytes, exactly as stored (their sha256 is the digest).
    pub bytes: Bytes,
    /// The `Content-Type` the registry serves it with.
    pub media_type: String,
    /// `sha256:…` of the bytes.
    pub digest: String,
}

/// An access scope for the token protocol: `repository:<name>:<actions>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Scope(String);

impl Scope {
    fn pull(repository: &str) -> Scope {
        Scope(format!("repository:{repository}:pull"))
    }
    fn push(repository: &str) -> Scope {
        Scope(format!("repository:{repository}:pull,push"))
    }
    fn delete(repository: &str) -> Scope {
        Scope(format!("repository:{repository}:delete"))
    }
}

/// What a request presents.
#[derive(Clone)]
enum Auth {
    Bearer(String),
    Basic(Credentials),
}

/// A client of every registry a stack names, sharing connections and tokens.
pub struct Client {
    settings: Settings,
    /// The CAs of `settings.ca_pem`, read once.
    trust: Option<Vec<reqwest::Certificate>>,
    http: Mutex<HashMap<String, reqwest::Client>>,
    /// What worked last per registry host and scope list.
    auth: Mutex<HashMap<(String, Vec<Scope>), Auth>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// One request to a registry.
struct Call<'a> {
    method: Method,
    /// A path and query (`/v2/…`), or an absolute URL (an upload's `Location`).
    target: &'a str,
    accept: Option<&'a str>,
    content_type: Option<&'a str>,
    content_range: Option<&'a str>,
    body: Option<Bytes>,
    scopes: Vec<Scope>,
}

impl<'a> Call<'a> {
    /// `method` on `target`, needing `scope`; no headers, no body.
    fn new(method: Method, target: &'a str, scope: Scope) -> Call<'a> {
        Call {
            method,
            target,
            accept: None,
            content_type: None,
            content_range: None,
            body: None,
            scopes: vec![scope],
        }
    }

    fn accept(mut self, accept: &'a str) -> Call<'a> {
        self.accept = Some(accept);
        self
    }

    /// A body, sent as `application/octet-stream` unless `content_type` says otherwise.
    fn body(mut self, body: Option<Bytes>) -> Call<'a> {
        self.body = body;
        self.content_type = self.content_type.or(Some("application/octet-stream"));
        self
    }

    fn content_type(mut self, content_type: &'a str) -> Call<'a> {
        self.content_type = Some(content_type);
        self
    }

    fn content_range(mut self, range: &'a str) -> Call<'a> {
        self.content_range = Some(range);
        self
    }

    /// Also needs `scope` (a mount pulls from its source repository).
    fn and_scope(mut self, scope: Scope) -> Call<'a> {
        self.scopes.push(scope);
        self
    }
}

impl Client {
    /// A client with these settings. Fails only on unreadable CA certificates.
    pub fn new(settings: Settings) -> Result<Client, RegistryError> {
        let trust = settings.ca_pem.as_deref().map(lanestack_http::ca_certificates).transpose().map_err(
            |e| match e {
                CaError::NotPem(e) => {
                    error(ErrorKind::Invalid, format!("could not read the CA certificates: {e}"))
                }
                CaError::Empty => {
                    error(ErrorKind::Invalid, "the CA certificate file holds no PEM certificate")
                }
            },
        )?;
        Ok(Client { settings, trust, http: Mutex::new(HashMap::new()), auth: Mutex::new(HashMap::new()) })
    }

    async fn http(&self, host: &str) -> Result<reqwest::Client, RegistryError> {
        let mut clients = self.http.lock().await;
        if let Some(client) = clients.get(host) {
            return Ok(client.clone());
        }
        let failed =
            |e: reqwest::Error| error(ErrorKind::Failed, format!("could not set up an HTTP client: {e}"));
        let mut builder = lanestack_http::builder(self.trust.as_deref())
            .connect_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(600));
        if let Some(addr) = self.settings.connect_to {
            builder = builder.resolve(host_name(host), addr);
        }
        let client = builder.build().map_err(failed)?;
        clients.insert(host.to_owned(), client.clone());
        Ok(client)
    }

    fn url(host: &str, target: &str) -> String {
        if target.starts_with("http://") || target.starts_with("https://") {
            return target.to_owned();
        }
        let scheme = if is_loopback(host) { "http" } else { "https" };
        format!("{scheme}://{host}{target}")
    }

    /// Sends `call`, answering the registry's authentication challenge once and retrying what
    /// fails in passing. Any status comes back; only transport failures are errors.
    async fn send(&self, host: &str, call: Call<'_>) -> Result<reqwest::Response, RegistryError> {
        let http = self.http(host).await?;
        let url = Client::url(host, call.target);
        let key = (host.to_owned(), call.scopes.clone());
        let mut auth = self.auth.lock().await.get(&key).cloned();
        let mut challenged = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = http.request(call.method.clone(), &url);
            if let Some(accept) = call.accept {
                request = request.header("Accept", accept);
            }
            if let Some(content_type) = call.content_type {
                request = request.header("Content-Type", content_type);
            }
            if let Some(range) = call.content_range {
                request = request.header("Content-Range", range);
            }
            if let Some(body) = &call.body {
                request = request.body(body.clone());
            } else if call.method == Method::POST || call.method == Method::PUT {
                request = request.header("Content-Length", "0");
            }
            request = match &auth {
                Some(Auth::Bearer(token)) => request.bearer_auth(token),
                Some(Auth::Basic(c)) => request.basic_auth(&c.username, Some(&c.password)),
                None => request,
            };
            let response = match request.send().await {
                Ok(response) => response,
                Err(e) if attempt < ATTEMPTS && (e.is_connect() || e.is_timeout() || e.is_request()) => {
                    pause(attempt).await;
                    continue;
                }
                Err(e) => return Err(transport(&call.method, &url, &e)),
            };
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && !challenged {
                challenged = true;
                let challenge = response
                    .headers()
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok())
                    .map(Challenge::parse);
                if let Some(answer) = self.answer(host, challenge, &call.scopes).await? {
                    self.auth.lock().await.insert(key.clone(), answer.clone());
                    auth = Some(answer);
                    continue;
                }
                return Ok(response);
            }
            if (status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS) && attempt < ATTEMPTS {
                pause(attempt).await;
                continue;
            }
            return Ok(response);
        }
    }

    /// What to present after a `401`: Basic credentials, or a token from the realm.
    async fn answer(
        &self,
        host: &str,
        challenge: Option<Challenge>,
        scopes: &[Scope],
    ) -> Result<Option<Auth>, RegistryError> {
        let credentials = self.settings.credentials(host).await?;
        match challenge {
            Some(Challenge::Basic) => Ok(credentials.map(Auth::Basic)),
            Some(Challenge::Bearer { realm, service, scope }) => {
                let mut wanted: Vec<String> = scopes.iter().map(|s| s.0.clone()).collect();
                if let Some(asked) = scope {
                    for s in asked.split(' ').filter(|s| !s.is_empty()) {
                        if !wanted.iter().any(|w| w == s) {
                            wanted.push(s.to_owned());
                        }
                    }
                }
                self.token(host, &realm, service.as_deref(), &wanted, credentials.as_ref())
                    .await
                    .map(|t| Some(Auth::Bearer(t)))
            }
            None => Ok(None),
        }
    }

    /// A token from `realm` for `scopes`.
    async fn token(
        &self,
        host: &str,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
        credentials: Option<&Credentials>,
    ) -> Result<String, RegistryError> {
        let realm_host = reqwest::Url::parse(realm)
            .ok()
            .and_then(|u| {
                u.host_str().map(|h| match u.port() {
                    Some(p) => format!("{h}:{p}"),
                    None => h.to_owned(),
                })
            })
            .ok_or_else(|| {
                error(
                    ErrorKind::Failed,
                    format!("the registry {host} names an invalid token realm {realm:?}"),
                )
            })?;
        let http = self.http(&realm_host).await?;
        let mut params: Vec<(&str, &str)> = Vec::new();
        if let Some(service) = service {
            params.push(("service", service));
        }
        for scope in scopes {
            params.push(("scope", scope));
        }
        let request = match credentials {
            Some(c) if c.username == ACR_TOKEN_USER => {
                let mut form = params.clone();
                form.extend([("grant_type", "refresh_token"), ("refresh_token", c.password.as_str())]);
                http.post(realm)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(encode(&form))
            }
            Some(c) => http.get(with_query(realm, &params)).basic_auth(&c.username, Some(&c.password)),
            None => http.get(with_query(realm, &params)),
        };
        let response = request.send().await.map_err(|e| transport(&Method::GET, realm, &e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| transport(&Method::GET, realm, &e))?;
        if !status.is_success() {
            let kind = if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                ErrorKind::Unauthorized
            } else {
                kind_of(status)
            };
            let who = match credentials {
                Some(c) => format!("as {}", c.username),
                None => {
                    "anonymously (no credentials for it: set registry_auth in the image provider)".to_owned()
                }
            };
            return Err(error(
                kind,
                format!(
                    "the registry {host} refused a token {who} for {}: HTTP {status}{}",
                    scopes.join(" "),
                    describe(&body)
                ),
            ));
        }
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        json.get("token")
            .or_else(|| json.get("access_token"))
            .and_then(serde_json::Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| {
                error(ErrorKind::Failed, format!("the token service of {host} answered without a token"))
            })
    }

    /// Sends `call` and fails unless the answer is one of `ok`.
    async fn expect(
        &self,
        host: &str,
        call: Call<'_>,
        ok: &[StatusCode],
    ) -> Result<reqwest::Response, RegistryError> {
        let (method, target) = (call.method.clone(), call.target.to_owned());
        let response = self.send(host, call).await?;
        if ok.contains(&response.status()) {
            return Ok(response);
        }
        Err(refused(host, &method, &target, response).await)
    }

    /// The manifest at `repository:reference` (a tag or digest); `None` when there is none.
    pub async fn manifest(
        &self,
        host: &str,
        repository: &str,
        reference: &str,
    ) -> Result<Option<Manifest>, RegistryError> {
        let target = format!("/v2/{repository}/manifests/{reference}");
        let call = Call::new(Method::GET, &target, Scope::pull(repository)).accept(ACCEPT_MANIFESTS);
        let response = self.expect(host, call, &[StatusCode::OK, StatusCode::NOT_FOUND]).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let media_type = header(&response, "content-type").unwrap_or_default();
        let media_type = media_type.split(';').next().unwrap_or_default().trim().to_owned();
        let bytes = response.bytes().await.map_err(|e| transport(&Method::GET, &target, &e))?;
        let digest = sha256(&bytes);
        if reference.starts_with("sha256:") && digest != reference {
            return Err(error(
                ErrorKind::Failed,
                format!(
                    "the registry {host} served {repository}@{reference} with content of digest {digest}"
                ),
            ));
        }
        Ok(Some(Manifest { bytes, media_type, digest }))
    }

    /// The digest `repository:reference` points to, by a `HEAD`; `None` when nothing is there.
    pub async fn manifest_digest(
        &self,
        host: &str,
        repository: &str,
        reference: &str,
    ) -> Result<Option<String>, RegistryError> {
        let target = format!("/v2/{repository}/manifests/{reference}");
        let call = Call::new(Method::HEAD, &target, Scope::pull(repository)).accept(ACCEPT_MANIFESTS);
        let response = self.expect(host, call, &[StatusCode::OK, StatusCode::NOT_FOUND]).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        match header(&response, "docker-content-digest") {
            Some(digest) => Ok(Some(digest)),
            // A registry that does not say: the manifest itself tells.
            None => Ok(self.manifest(host, repository, reference).await?.map(|m| m.digest)),
        }
    }

    /// Pushes a manifest under `reference` (a tag, or its digest) and returns its digest.
    pub async fn put_manifest(
        &self,
        host: &str,
        repository: &str,
        reference: &str,
        media_type: &str,
        bytes: Bytes,
    ) -> Result<String, RegistryError> {
        let digest = sha256(&bytes);
        let target = format!("/v2/{repository}/manifests/{reference}");
        let call = Call::new(Method::PUT, &target, Scope::push(repository))
            .content_type(media_type)
            .body(Some(bytes));
        let response = self.expect(host, call, &[StatusCode::CREATED, StatusCode::OK]).await?;
        match header(&response, "docker-content-digest") {
            Some(stored) if stored != digest => Err(error(
                ErrorKind::Failed,
                format!(
                    "the registry {host} stored the manifest for {repository} as {stored}, not {digest}: it rewrote it"
                ),
            )),
            _ => Ok(digest),
        }
    }

    /// Deletes the manifest `digest` (and the tags on it). `false` when it was not there.
    pub async fn delete_manifest(
        &self,
        host: &str,
        repository: &str,
        digest: &str,
    ) -> Result<bool, RegistryError> {
        let target = format!("/v2/{repository}/manifests/{digest}");
        let call = Call::new(Method::DELETE, &target, Scope::delete(repository));
        let response =
            self.expect(host, call, &[StatusCode::ACCEPTED, StatusCode::OK, StatusCode::NOT_FOUND]).await?;
        Ok(response.status() != StatusCode::NOT_FOUND)
    }

    /// Whether `repository` has the blob `digest`.
    pub async fn blob_exists(
        &self,
        host: &str,
        repository: &str,
        digest: &str,
    ) -> Result<bool, RegistryError> {
        let target = format!("/v2/{repository}/blobs/{digest}");
        let call = Call::new(Method::HEAD, &target, Scope::pull(repository));
        let response = self.expect(host, call, &[StatusCode::OK, StatusCode::NOT_FOUND]).await?;
        Ok(response.status() == StatusCode::OK)
    }

    /// The blob `digest` of `repository`, checked against its digest.
    pub async fn blob(&self, host: &str, repository: &str, digest: &str) -> Result<Bytes, RegistryError> {
        let target = format!("/v2/{repository}/blobs/{digest}");
        let call = Call::new(Method::GET, &target, Scope::pull(repository));
        let response = self.expect(host, call, &[StatusCode::OK]).await?;
        let bytes = response.bytes().await.map_err(|e| transport(&Method::GET, &target, &e))?;
        if sha256(&bytes) != digest {
            return Err(error(
                ErrorKind::Failed,
                format!("the registry {host} served blob {digest} of {repository} with other content"),
            ));
        }
        Ok(bytes)
    }

    /// Mounts the blob `digest` from `from` into `repository` (same registry, no bytes sent).
    /// `false` when the registry would rather have it uploaded.
    pub async fn mount_blob(
        &self,
        host: &str,
        repository: &str,
        digest: &str,
        from: &str,
    ) -> Result<bool, RegistryError> {
        let target = format!("/v2/{repository}/blobs/uploads/?mount={digest}&from={from}");
        let call = Call::new(Method::POST, &target, Scope::push(repository)).and_scope(Scope::pull(from));
        let response = self.expect(host, call, &[StatusCode::CREATED, StatusCode::ACCEPTED]).await?;
        if response.status() == StatusCode::CREATED {
            return Ok(true);
        }
        // An upload session was opened instead: close it.
        if let Some(location) = header(&response, "location") {
            let call = Call::new(Method::DELETE, &location, Scope::push(repository));
            let _ = self.send(host, call).await;
        }
        Ok(false)
    }

    /// Uploads `bytes` as the blob `digest` of `repository` unless it is there already; returns
    /// whether bytes were sent.
    pub async fn push_blob(
        &self,
        host: &str,
        repository: &str,
        digest: &str,
        bytes: Bytes,
    ) -> Result<bool, RegistryError> {
        if self.blob_exists(host, repository, digest).await? {
            return Ok(false);
        }
        let location = self.start_upload(host, repository).await?;
        self.finish_upload(host, repository, &location, digest, Some(bytes)).await?;
        Ok(true)
    }

    /// Uploads the `size` bytes of `file` (from its start) as the blob `digest` of
    /// `repository` unless it is there already, in chunks of [`Settings::chunk_size`] (one
    /// request with the whole blob when it is no larger): memory stays bounded whatever the
    /// blob's size. Returns whether bytes were sent.
    pub async fn push_blob_file(
        &self,
        host: &str,
        repository: &str,
        digest: &str,
        size: u64,
        file: std::fs::File,
    ) -> Result<bool, RegistryError> {
        use tokio::io::AsyncReadExt as _;
        if self.blob_exists(host, repository, digest).await? {
            return Ok(false);
        }
        let chunk = self.settings.chunk_size.max(1);
        let mut file = tokio::fs::File::from_std(file);
        let unreadable =
            |e: std::io::Error| error(ErrorKind::Failed, format!("cannot read the blob {digest}: {e}"));
        let mut location = self.start_upload(host, repository).await?;
        if size <= chunk as u64 {
            let mut all = Vec::with_capacity(usize::try_from(size).unwrap_or(chunk));
            file.read_to_end(&mut all).await.map_err(unreadable)?;
            if all.len() as u64 != size {
                return Err(error(
                    ErrorKind::Failed,
                    format!("the blob {digest} changed while it was uploaded"),
                ));
            }
            self.finish_upload(host, repository, &location, digest, Some(Bytes::from(all))).await?;
            return Ok(true);
        }
        let mut sent: u64 = 0;
        loop {
            // A new buffer each time, handed to the request without a copy: one chunk in memory.
            let mut buffer = vec![0u8; chunk];
            let mut filled = 0;
            while filled < chunk {
                let n = file.read(&mut buffer[filled..]).await.map_err(unreadable)?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            if filled == 0 {
                break;
            }
            buffer.truncate(filled);
            // distribution's form of the header: first-last, inclusive, no unit.
            let range = format!("{}-{}", sent, sent + filled as u64 - 1);
            let call = Call::new(Method::PATCH, &location, Scope::push(repository))
                .content_range(&range)
                .body(Some(Bytes::from(buffer)));
            let response = self.expect(host, call, &[StatusCode::ACCEPTED]).await?;
            sent += filled as u64;
            if let Some(next) = header(&response, "location") {
                location = next;
            }
        }
        if sent != size {
            return Err(error(
                ErrorKind::Failed,
                format!("the blob {digest} changed while it was uploaded ({sent} bytes, not {size})"),
            ));
        }
        self.finish_upload(host, repository, &location, digest, None).await?;
        Ok(true)
    }

    /// Downloads the blob `digest` of `repository` into an anonymous temporary file, checking
    /// its digest; returns the file (at its start) and its size. Memory stays bounded.
    pub async fn blob_to_file(
        &self,
        host: &str,
        repository: &str,
        digest: &str,
    ) -> Result<(std::fs::File, u64), RegistryError> {
        use sha2::Digest as _;
        use tokio::io::AsyncWriteExt as _;
        let target = format!("/v2/{repository}/blobs/{digest}");
        let call = Call::new(Method::GET, &target, Scope::pull(repository));
        let mut response = self.expect(host, call, &[StatusCode::OK]).await?;
        let local =
            |e: std::io::Error| error(ErrorKind::Failed, format!("cannot keep the blob {digest}: {e}"));
        let mut file = tokio::fs::File::from_std(tempfile::tempfile().map_err(local)?);
        let mut hasher = sha2::Sha256::new();
        let mut size: u64 = 0;
        while let Some(chunk) = response.chunk().await.map_err(|e| transport(&Method::GET, &target, &e))? {
            hasher.update(&chunk);
            size += chunk.len() as u64;
            file.write_all(&chunk).await.map_err(local)?;
        }
        let got = lanestack_oci::digest_of_hash(&hasher.finalize());
        if got != digest {
            return Err(error(
                ErrorKind::Failed,
                format!("the registry {host} served blob {digest} of {repository} with other content"),
            ));
        }
        file.flush().await.map_err(local)?;
        let mut file = file.into_std().await;
        std::io::Seek::rewind(&mut file).map_err(local)?;
        Ok((file, size))
    }

    /// Opens an upload session; returns its location.
    async fn start_upload(&self, host: &str, repository: &str) -> Result<String, RegistryError> {
        let start = format!("/v2/{repository}/blobs/uploads/");

        let call = Call::new(Method::POST, &start, Scope::push(repository));
        let response = self.expect(host, call, &[StatusCode::ACCEPTED]).await?;
        header(&response, "location").ok_or_else(|| {
            error(
                ErrorKind::Failed,
                format!("the registry {host} opened an upload for {repository} without a Location"),
            )
        })
    }

    /// Closes the upload at `location` as the blob `digest`, with `last` as its last bytes.
    async fn finish_upload(
        &self,
        host: &str,
        repository: &str,
        location: &str,
        digest: &str,
        last: Option<Bytes>,
    ) -> Result<(), RegistryError> {
        let separator = if location.contains('?') { '&' } else { '?' };
        let target = format!("{location}{separator}digest={digest}");
        let call = Call::new(Method::PUT, &target, Scope::push(repository)).body(last);
        self.expect(host, call, &[StatusCode::CREATED]).await?;
        Ok(())
    }
}

const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// A `WWW-Authenticate` challenge.
#[derive(Debug, PartialEq, Eq)]
enum Challenge {
    Basic,
    Bearer { realm: String, service: Option<String>, scope: Option<String> },
}

impl Challenge {
    fn parse(header: &str) -> Challenge {
        let (scheme, params) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Challenge::Basic;
        }
        let mut fields: HashMap<String, String> = HashMap::new();
        let mut rest = params.trim();
        while let Some((key, after)) = rest.split_once('=') {
            let key = key.trim().trim_start_matches(',').trim().to_ascii_lowercase();
            let after = after.trim_start();
            let (value, next) = match after.strip_prefix('"') {
                Some(quoted) => match quoted.find('"') {
                    Some(end) => (&quoted[..end], &quoted[end + 1..]),
                    None => (quoted, ""),
                },
                None => match after.find(',') {
                    Some(end) => (&after[..end], &after[end..]),
                    None => (after, ""),
                },
            };
            fields.insert(key, value.to_owned());
            rest = next.trim_start().trim_start_matches(',');
        }
        Challenge::Bearer {
            realm: fields.remove("realm").unwrap_or_default(),
            service: fields.remove("service"),
            scope: fields.remove("scope"),
        }
    }
}

/// The host without its port, as DNS knows it.
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(h, _)| h.trim_start_matches('['));
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

/// Whether `host` (with its port) is this machine.
pub fn is_loopback(host: &str) -> bool {
    let name = host_name(host);
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn encode(pairs: &[(&str, &str)]) -> String {
    let mut url = reqwest::Url::parse("http://form.invalid/").expect("a constant URL parses");
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_owned()
}

fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{}", encode(pairs))
}

async fn pause(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt * attempt))).await;
}

fn kind_of(status: StatusCode) -> ErrorKind {
    match status.as_u16() {
        401 | 403 => ErrorKind::Unauthorized,
        404 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict,
        429 => ErrorKind::Throttled,
        400 | 405 | 413 | 415 => ErrorKind::Invalid,
        s if s >= 500 => ErrorKind::Transient,
        _ => ErrorKind::Failed,
    }
}

/// The request that a registry refused, with its status and error codes.
async fn refused(host: &str, method: &Method, target: &str, response: reqwest::Response) -> RegistryError {
    let status = response.status();
    let body = response.bytes().await.unwrap_or_default();
    // An upload location carries the registry's state in its query: not worth showing.
    let shown = target.split('?').next().unwrap_or(target);
    let shown =
        shown.split_once("://").map_or(shown, |(_, rest)| rest.find('/').map_or(rest, |i| &rest[i..]));
    let hint = if status == StatusCode::METHOD_NOT_ALLOWED && *method == Method::DELETE {
        " (this registry does not delete manifests: set keep_remotely = true)"
    } else {
        ""
    };
    error(
        kind_of(status),
        format!("registry {host}: {method} {shown}: HTTP {status}{}{hint}", describe(&body)),
    )
}

/// The registry's error envelope (`{"errors":[{"code","message"}]}`), as `: CODE: message`.
fn describe(body: &[u8]) -> String {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let errors: Vec<String> = json["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    let code = e["code"].as_str().unwrap_or("?");
                    match e["message"].as_str() {
                        Some(m) if !m.is_empty() => format!("{code}: {m}"),
                        _ => code.to_owned(),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    if errors.is_empty() { String::new() } else { format!(": {}", errors.join("; ")) }
}

fn transport(method: &Method, url: &str, e: &reqwest::Error) -> RegistryError {
    let shown = url.split('?').next().unwrap_or(url);
    let kind = if e.is_connect() || e.is_timeout() { ErrorKind::Transient } else { ErrorKind::Failed };
    let mut message = format!("{method} {shown}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        message.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    error(kind, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse_as_registries_send_them() {
        assert_eq!(
            Challenge::parse(
                r#"Bearer realm="https://lanes.azurecr.io/oauth2/token",service="lanes.azurecr.io",scope="repository:a/b:pull,push""#
            ),
            Challenge::Bearer {
                realm: "https://lanes.azurecr.io/oauth2/token".into(),
                service: Some("lanes.azurecr.io".into()),
                scope: Some("repository:a/b:pull,push".into()),
            }
        );
        assert_eq!(
            Challenge::parse("bearer realm=https://auth.example/token"),
            Challenge::Bearer { realm: "https://auth.example/token".into(), service: None, scope: None }
        );
        assert_eq!(Challenge::parse(r#"Basic realm="basic-realm""#), Challenge::Basic);
        // Garbage is a challenge without a realm, never a panic.
        for text in ["", "Bearer", "Bearer =", "Bearer realm=\"unterminated", "Bearer ,,,=,"] {
            let _ = Challenge::parse(text);
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn credentials_match_hosts_and_domains() {
        let creds = |u: &str| Credentials { username: u.into(), password: "p".into() };
        let settings = Settings {
            auth: vec![
                RegistryAuth { address: "lanes.azurecr.io".into(), credentials: creds("exact") },
                RegistryAuth { address: "*.azurecr.io".into(), credentials: creds("domain") },
            ],
            default_credentials: Some(creds("default")),
            ..Settings::default()
        };
        let mut settings = settings;
        let docker = r#"{"auths": {"docker.example": {"identitytoken": "t"}, "lanes.azurecr.io": {"identitytoken": "t"}}}"#;
        settings.docker = Some(DockerConfig::parse(docker).unwrap());
        let who = async |host: &str| settings.credentials(host).await.unwrap().map(|c| c.username);
        assert_eq!(who("LANES.azurecr.io").await.as_deref(), Some("exact"));
        assert_eq!(who("other.azurecr.io").await.as_deref(), Some("domain"));
        assert_eq!(who("docker.example").await.as_deref(), Some("00000000-0000-0000-0000-000000000000"));
        assert_eq!(who("azurecr.io").await.as_deref(), Some("default"));
        assert_eq!(who("evilazurecr.io").await.as_deref(), Some("default"));
        assert!(!format!("{:?}", creds("u")).contains("\"p\""));
    }

    #[test]
    fn loopback_registries_are_plain_http() {
        for host in ["localhost:5000", "127.0.0.1:5000", "127.1.2.3", "[::1]:5000"] {
            assert!(is_loopback(host), "{host}");
            assert!(Client::url(host, "/v2/").starts_with("http://"));
        }
        for host in ["lanes.azurecr.io", "10.0.0.1:5000", "registry-1.docker.io"] {
            assert!(!is_loopback(host), "{host}");
            assert!(Client::url(host, "/v2/").starts_with("https://"));
        }
        assert_eq!(Client::url("x", "https://blob.example/abc?x=1"), "https://blob.example/abc?x=1");
        assert_eq!(
            encode(&[("scope", "repository:a:pull,push"), ("service", "x y")]),
            "scope=repository%3Aa%3Apull%2Cpush&service=x+y"
        );
    }
}
