//! Where the client's bearer token comes from: a chain of sources, tried in the order users of
//! the Azure SDKs expect.
//!
//! 1. A service principal from the provider settings (which the CLI fills from `AZURE_*`): a
//!    client secret, or a federated token file (workload identity).
//! 2. The Azure CLI's login: `az account get-access-token --resource ... --output json`.
//! 3. A managed identity: the instance metadata service (IMDS), or App Service's
//!    `IDENTITY_ENDPOINT` / older `MSI_ENDPOINT` form when the provider is given one.
//!
//! A source that is not there (no `az`, not logged in, no identity endpoint) is *unavailable*
//! and the chain moves on; a source that is there and refuses (a wrong secret) ends the chain,
//! as `DefaultAzureCredential` does, so a broken service principal is not silently replaced by
//! someone's CLI login. When no source gives a token, the error lists what each one said.
//! Messages never carry a secret or a token: only status codes, error codes and descriptions.
//!
//! Design decision: a lean chain of our own on the client's reqwest rather than
//! `azure_identity`, which would pull `azure_core`'s pipeline in beside reqwest.

use std::ffi::OsString;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lanestack_model::ErrorKind;
use serde_json::Value;

use crate::client::{ArmError, RetryPolicy, form_encode};

/// The instance metadata service's token endpoint on Azure VMs, VM scale sets and AKS nodes.
pub const IMDS_ENDPOINT: &str = "http://169.254.169.254/metadata/identity/oauth2/token";

/// How long a managed identity endpoint may take to answer: the metadata service answers in
/// milliseconds when it is there, and off Azure nothing answers at all.
const IDENTITY_TIMEOUT: Duration = Duration::from_secs(5);

/// One place a token can come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A service principal (secret or federated token) at an Entra ID authority.
    ServicePrincipal(ServicePrincipal),
    /// The Azure CLI's login.
    AzureCli(AzureCli),
    /// A managed identity.
    ManagedIdentity(ManagedIdentity),
}

/// A service principal's client credentials.
#[derive(Clone)]
pub struct ServicePrincipal {
    /// The Entra ID tenant.
    pub tenant_id: String,
    /// The application (client) id.
    pub client_id: String,
    /// How the service principal proves who it is. Never printed.
    pub proof: Proof,
    /// The authority, e.g. `https://login.microsoftonline.com`.
    pub authority_host: String,
}

impl std::fmt::Debug for ServicePrincipal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServicePrincipal")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("authority_host", &self.authority_host)
            .finish_non_exhaustive()
    }
}

/// How a service principal proves who it is.
#[derive(Clone)]
pub enum Proof {
    /// A client secret.
    Secret(String),
    /// A file holding a federated token (workload identity), read again for every token
    /// request because its owner rotates it.
    FederatedTokenFile(std::path::PathBuf),
}

/// The Azure CLI (`az`), found on the search path.
#[derive(Clone, Debug, Default)]
pub struct AzureCli {
    /// The `PATH` to find `az` on; `None` inherits this process's. Tests put a fake `az`
    /// first; it is not for choosing another program.
    pub search_path: Option<OsString>,
}

/// A managed identity's token endpoint.
#[derive(Clone)]
pub struct ManagedIdentity {
    /// Which protocol the endpoint speaks.
    pub kind: IdentityKind,
    /// The endpoint's URL.
    pub endpoint: String,
    /// A user-assigned identity's client id; `None` uses the system-assigned one.
    pub client_id: Option<String>,
}

impl std::fmt::Debug for ManagedIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedIdentity")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// The protocols of managed identity endpoints.
#[derive(Clone)]
pub enum IdentityKind {
    /// The instance metadata service: `api-version=2018-02-01`, header `Metadata: true`.
    Imds,
    /// App Service and Functions (`IDENTITY_ENDPOINT`): `api-version=2019-08-01`, header
    /// `X-IDENTITY-HEADER` with this value. Never printed.
    AppService(String),
    /// The older App Service form (`MSI_ENDPOINT`): `api-version=2017-09-01`, header `secret`
    /// with this value. Never printed.
    LegacyAppService(String),
}

impl Source {
    /// The name used in errors.
    pub fn name(&self) -> &'static str {
        match self {
            Source::ServicePrincipal(ServicePrincipal { proof: Proof::Secret(_), .. }) => {
                "service principal (client secret)"
            }
            Source::ServicePrincipal(ServicePrincipal { proof: Proof::FederatedTokenFile(_), .. }) => {
                "workload identity (federated token)"
            }
            Source::AzureCli(_) => "Azure CLI",
            Source::ManagedIdentity(_) => "managed identity",
        }
    }
}

/// What one source did.
pub(crate) enum Outcome {
    /// A token, valid until the instant.
    Token(String, Instant),
    /// The source is not there; the chain moves on. The text says why.
    Unavailable(String),
    /// The source is there and refused; the chain stops.
    Refused(ArmError),
}

/// Asks each source in turn, for a token for `resource` (e.g. `https://management.azure.com`).
pub(crate) async fn chain_token(
    sources: &[Source],
    http: &reqwest::Client,
    retry: &RetryPolicy,
    resource: &str,
) -> Result<(String, Instant), ArmError> {
    let mut said = Vec::new();
    for source in sources {
        let outcome = match source {
            Source::ServicePrincipal(sp) => service_principal(sp, http, retry, resource).await,
            Source::AzureCli(cli) => azure_cli(cli, resource).await,
            Source::ManagedIdentity(mi) => managed_identity(mi, http, resource).await,
        };
        match outcome {
            Outcome::Token(token, expires) => return Ok((token, expires)),
            Outcome::Unavailable(why) => said.push(format!("{}: {why}", source.name())),
            Outcome::Refused(mut e) => {
                if !said.is_empty() {
                    e.message = format!("{} (before it: {})", e.message, said.join("; "));
                }
                return Err(e);
            }
        }
    }
    Err(ArmError {
        kind: ErrorKind::Unauthorized,
        status: None,
        code: None,
        message: format!(
            "no Azure credential gave a token: {}. Set client_id, tenant_id and client_secret (or \
             federated_token_file) in the provider \"azure\" block or AZURE_* variables, run `az login`, \
             or run where a managed identity is assigned",
            if said.is_empty() { "no source configured".to_owned() } else { said.join("; ") }
        ),
    })
}

async fn service_principal(
    c: &ServicePrincipal,
    http: &reqwest::Client,
    retry: &RetryPolicy,
    resource: &str,
) -> Outcome {
    let refused = |status: Option<u16>, code: Option<String>, message: String| {
        Outcome::Refused(ArmError { kind: ErrorKind::Unauthorized, status, code, message })
    };
    let url = format!("{}/{}/oauth2/v2.0/token", c.authority_host.trim_end_matches('/'), c.tenant_id);
    let scope = format!("{resource}/.default");
    let mut pairs = vec![("grant_type", "client_credentials"), ("client_id", c.client_id.as_str())];
    let assertion;
    match &c.proof {
        Proof::Secret(secret) => pairs.push(("client_secret", secret)),
        Proof::FederatedTokenFile(path) => {
            assertion = match std::fs::read_to_string(path) {
                Ok(a) => a,
                Err(e) => {
                    return refused(
                        None,
                        None,
                        format!("could not read the federated token file {}: {e}", path.display()),
                    );
                }
            };
            pairs.push(("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"));
            pairs.push(("client_assertion", assertion.trim()));
        }
    }
    pairs.push(("scope", &scope));
    let body = form_encode(&pairs);
    let mut attempt = 0;
    let reply = loop {
        let sent = http
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_server_error() && attempt < retry.max_retries => {}
            Ok(r) => break r,
            Err(e) if lanestack_http::is_tls_error(&e) => {
                return Outcome::Refused(crate::client::untrusted(&url, &e));
            }
            Err(e) if e.is_connect() && attempt < retry.max_connect_retries.min(retry.max_retries) => {}
            Err(e) if !e.is_connect() && attempt < retry.max_retries => {}
            Err(e) => {
                return Outcome::Refused(ArmError {
                    kind: ErrorKind::Transient,
                    status: None,
                    code: None,
                    message: format!("could not reach the token endpoint {url}: {e}"),
                });
            }
        }
        tokio::time::sleep(retry.backoff(attempt, None)).await;
        attempt += 1;
    };
    let status = reply.status();
    let json: Value = reply.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let code = json.get("error").and_then(Value::as_str).unwrap_or("unknown").to_owned();
        let desc = json.get("error_description").and_then(Value::as_str).unwrap_or_default();
        return refused(
            Some(status.as_u16()),
            Some(code.clone()),
            format!(
                "the token request for client {} failed: {} {code}: {desc}",
                c.client_id,
                status.as_u16()
            ),
        );
    }
    let Some(token) = json.get("access_token").and_then(Value::as_str) else {
        return refused(
            Some(status.as_u16()),
            None,
            "the token endpoint answered without an access_token".to_owned(),
        );
    };
    let expires_in = json.get("expires_in").and_then(Value::as_u64).unwrap_or(3599);
    Outcome::Token(token.to_owned(), Instant::now() + Duration::from_secs(expires_in))
}

/// Runs `az account get-access-token`. A missing `az`, or one that is not logged in, is
/// unavailable; the first line of its error output says why (it holds no secret).
async fn azure_cli(cli: &AzureCli, resource: &str) -> Outcome {
    let mut command = tokio::process::Command::new("az");
    command
        .args(["account", "get-access-token", "--resource", &format!("{resource}/"), "--output", "json"])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some(path) = &cli.search_path {
        command.env("PATH", path);
    }
    let output = match tokio::time::timeout(Duration::from_secs(60), command.output()).await {
        Err(_) => {
            return Outcome::Unavailable(
                "`az account get-access-token` did not answer within 60 s".to_owned(),
            );
        }
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Outcome::Unavailable("`az` is not on the PATH".to_owned());
        }
        Ok(Err(e)) => return Outcome::Unavailable(format!("could not run `az`: {e}")),
        Ok(Ok(o)) => o,
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("no error output");
        return Outcome::Unavailable(format!(
            "`az account get-access-token` failed ({}): {first}",
            output.status
        ));
    }
    let json: Value = match serde_json::from_slice(&output.stdout) {
        Ok(v) => v,
        Err(_) => return Outcome::Unavailable("`az account get-access-token` printed no JSON".to_owned()),
    };
    let Some(token) = json.get("accessToken").and_then(Value::as_str).filter(|t| !t.is_empty()) else {
        return Outcome::Unavailable("`az account get-access-token` printed no accessToken".to_owned());
    };
    // `expires_on` (seconds since the epoch) since az 2.54; `expiresOn` is local time without a
    // zone, which cannot be read reliably, so without `expires_on` the token is used for at
    // most ten minutes before az is asked again (az itself caches and refreshes it).
    let expires = json
        .get("expires_on")
        .and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
        .map_or(Instant::now() + Duration::from_secs(600), instant_of_epoch);
    Outcome::Token(token.to_owned(), expires)
}

async fn managed_identity(mi: &ManagedIdentity, http: &reqwest::Client, resource: &str) -> Outcome {
    let api_version = match &mi.kind {
        IdentityKind::Imds => "2018-02-01",
        IdentityKind::AppService(_) => "2019-08-01",
        IdentityKind::LegacyAppService(_) => "2017-09-01",
    };
    let mut query = vec![("api-version", api_version), ("resource", resource)];
    if let Some(id) = &mi.client_id {
        query.push(("client_id", id));
    }
    let url = format!("{}?{}", mi.endpoint, form_encode(&query));
    let mut request = http.get(&url);
    request = match &mi.kind {
        IdentityKind::Imds => request.header("Metadata", "true"),
        IdentityKind::AppService(header) => request.header("X-IDENTITY-HEADER", header),
        IdentityKind::LegacyAppService(secret) => request.header("secret", secret),
    };
    let reply = match tokio::time::timeout(IDENTITY_TIMEOUT, request.send()).await {
        Err(_) => return Outcome::Unavailable(format!("{} did not answer", mi.endpoint)),
        Ok(Err(e)) => return Outcome::Unavailable(format!("could not reach {}: {e}", mi.endpoint)),
        Ok(Ok(r)) => r,
    };
    let status = reply.status();
    let json: Value = reply.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        // Entra's shape (`error`, `error_description`) or ARM's envelope (`error.code`).
        let said = [
            json.get("error")
                .and_then(Value::as_str)
                .or_else(|| json.pointer("/error/code").and_then(Value::as_str)),
            json.get("error_description")
                .and_then(Value::as_str)
                .or_else(|| json.pointer("/error/message").and_then(Value::as_str)),
        ]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(": ");
        let said = if said.is_empty() { String::new() } else { format!(" {said}") };
        return Outcome::Unavailable(format!("{} answered {}{said}", mi.endpoint, status.as_u16()));
    }
    let Some(token) = json.get("access_token").and_then(Value::as_str) else {
        return Outcome::Unavailable(format!("{} answered without an access_token", mi.endpoint));
    };
    // Both services send numbers as strings.
    let number = |name: &str| {
        json.get(name).and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
    };
    let expires = match (number("expires_in"), number("expires_on")) {
        (Some(secs), _) => Instant::now() + Duration::from_secs(secs),
        (None, Some(epoch)) => instant_of_epoch(epoch),
        (None, None) => Instant::now() + Duration::from_secs(600),
    };
    Outcome::Token(token.to_owned(), expires)
}

fn instant_of_epoch(epoch: u64) -> Instant {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    Instant::now() + Duration::from_secs(epoch.saturating_sub(now))
}
