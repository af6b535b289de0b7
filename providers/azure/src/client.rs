//! A lean ARM client on reqwest: bearer tokens from a client-credentials call, retries with
//! backoff that honour `Retry-After`, concurrency adapted to the subscription's throttling
//! budget (`limiter`), and long-running operations polled per ARM's rules.
//!
//! Design decision: our own client rather than `azure_core`'s pipeline for now. ARM's protocol
//! for the calls we make is small (GET, PUT, PATCH, DELETE and three polling styles), and
//! owning it lets tests set every delay to milliseconds. Tokens come from the credential chain
//! in [`crate::credential`].

use std::time::{Duration, Instant};

use lanestack_http::CaError;
use lanestack_model::{ErrorKind, ProviderError};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::credential::{Source, chain_token};
use crate::limiter::{Limiter, Signal};

/// How hard the client retries, and how long it waits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Retries of one request after a throttle (429), a 5xx, or a connection that broke
    /// mid-request (reset): all passing.
    pub max_retries: u32,
    /// Retries of one request whose connection could not be made at all (refused, no route,
    /// no such host). Fewer: a server that is not there is more often a wrong endpoint than a
    /// blip, and minutes of backoff would only hide that.
    pub max_connect_retries: u32,
    /// The first backoff when the server gives no `Retry-After`; doubled each retry.
    pub initial_delay: Duration,
    /// The longest the client waits between two tries or two polls, even when `Retry-After`
    /// asks for more.
    pub max_delay: Duration,
    /// The wait between polls of a long-running operation without `Retry-After`.
    pub poll_interval: Duration,
    /// How long a long-running operation may take before the client gives up.
    pub operation_timeout: Duration,
    /// Adapt the number of requests in flight to the subscription's throttling budget (see
    /// the `limiter` module); `false` only retries what is throttled, for comparisons.
    pub adaptive: bool,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_retries: 8,
            max_connect_retries: 3,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            poll_interval: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(3600),
            adaptive: true,
        }
    }
}

impl RetryPolicy {
    /// Millisecond delays and many retries: for tests against the emulator.
    pub fn fast() -> RetryPolicy {
        RetryPolicy {
            max_retries: 60,
            max_connect_retries: 3,
            initial_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(20),
            poll_interval: Duration::from_millis(1),
            operation_timeout: Duration::from_secs(60),
            adaptive: true,
        }
    }

    pub(crate) fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self.initial_delay.saturating_mul(1u32 << attempt.min(16));
        retry_after.unwrap_or(exp).min(self.max_delay)
    }
}

/// A failed ARM call, classified for the engine.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ArmError {
    /// How the engine should treat it.
    pub kind: ErrorKind,
    /// The HTTP status, when there was a response.
    pub status: Option<u16>,
    /// ARM's error code, when the response had an envelope.
    pub code: Option<String>,
    /// The whole message, with method, id, status and code.
    pub message: String,
}

impl From<ArmError> for ProviderError {
    fn from(e: ArmError) -> ProviderError {
        ProviderError::new(e.kind, e.message)
    }
}

fn classify(status: u16) -> ErrorKind {
    match status {
        400 | 405 | 422 => ErrorKind::Invalid,
        401 | 403 => ErrorKind::Unauthorized,
        404 => ErrorKind::NotFound,
        409 | 412 => ErrorKind::Conflict,
        429 => ErrorKind::Throttled,
        500..=599 => ErrorKind::Transient,
        _ => ErrorKind::Failed,
    }
}

/// A response, read whole.
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn retry_after(&self) -> Option<Duration> {
        self.header("retry-after").and_then(|s| s.trim().parse::<u64>().ok()).map(Duration::from_secs)
    }

    /// What the answer says about the subscription's budget for `method`'s bucket.
    fn budget(&self, method: &Method, policy: &RetryPolicy) -> Signal {
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            return Signal::Throttled(self.retry_after().unwrap_or(policy.initial_delay));
        }
        let name = if is_read(method) {
            "x-ms-ratelimit-remaining-subscription-reads"
        } else {
            "x-ms-ratelimit-remaining-subscription-writes"
        };
        Signal::Allowed(self.header(name).and_then(|s| s.trim().parse().ok()))
    }
}

/// Whether ARM counts a request against the subscription's read bucket.
fn is_read(method: &Method) -> bool {
    *method == Method::GET || *method == Method::HEAD
}

/// The client of one subscription's ARM endpoint.
#[derive(Debug)]
pub struct ArmClient {
    http: reqwest::Client,
    endpoint: String,
    credentials: Vec<Source>,
    retry: RetryPolicy,
    token: tokio::sync::Mutex<Option<(String, Instant)>>,
    /// The subscription's read and write budgets, learnt from ARM's answers.
    reads: Limiter,
    writes: Limiter,
}

pub(crate) fn form_encode(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

impl ArmClient {
    /// A client of `endpoint` (e.g. `https://management.azure.com`) with tokens from the first
    /// of `credentials` that gives one. With `ca_pem` (PEM certificates), the client trusts
    /// those CAs only, for ARM, the authority and identity endpoints.
    pub fn new(
        endpoint: &str,
        credentials: Vec<Source>,
        retry: RetryPolicy,
        ca_pem: Option<&[u8]>,
    ) -> Result<ArmClient, ArmError> {
        let failed =
            |message: String| ArmError { kind: ErrorKind::Failed, status: None, code: None, message };
        let trust = ca_pem.map(lanestack_http::ca_certificates).transpose().map_err(|e| match e {
            CaError::NotPem(e) => failed(format!("could not read the CA certificates: {e}")),
            CaError::Empty => failed("the CA certificate file holds no PEM certificate".to_owned()),
        })?;
        let builder = lanestack_http::builder(trust.as_deref())
            .timeout(Duration::from_secs(120))
            .connect_timeout(Duration::from_secs(30));
        let http = builder.build().map_err(|e| failed(format!("could not build the HTTP client: {e}")))?;
        Ok(ArmClient {
            http,
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            credentials,
            retry,
            token: tokio::sync::Mutex::new(None),
            reads: Limiter::new(retry.adaptive),
            writes: Limiter::new(retry.adaptive),
        })
    }

    async fn bearer(&self, refresh: bool) -> Result<String, ArmError> {
        let mut cached = self.token.lock().await;
        if !refresh
            && let Some((token, expires)) = cached.as_ref()
            && Instant::now() + Duration::from_secs(300) < *expires
        {
            return Ok(token.clone());
        }
        let (token, expires) =
            chain_token(&self.credentials, &self.http, &self.retry, &self.endpoint).await?;
        *cached = Some((token.clone(), expires));
        Ok(token)
    }

    fn url(&self, path_or_url: &str, api_version: &str) -> String {
        if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_owned()
        } else {
            format!("{}{path_or_url}?api-version={api_version}", self.endpoint)
        }
    }

    /// Sends one request, retrying throttles, 5xx and connection errors; refreshes the token
    /// once on a 401. Returns every other response, success or not.
    async fn send(&self, method: Method, url: &str, body: Option<&Value>) -> Result<Reply, ArmError> {
        let mut attempt = 0;
        let mut refreshed = false;
        let limiter = if is_read(&method) { &self.reads } else { &self.writes };
        loop {
            let token = self.bearer(false).await?;
            let permit = limiter.acquire().await;
            let mut request = self.http.request(method.clone(), url).bearer_auth(token);
            if let Some(b) = body {
                request = request.json(b);
            }
            let failure = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    let text = response.text().await.unwrap_or_default();
                    let body = if text.trim().is_empty() {
                        Value::Null
                    } else {
                        serde_json::from_str(&text).unwrap_or(Value::Null)
                    };
                    let reply = Reply { status, headers, body };
                    limiter.observe(reply.budget(&method, &self.retry), self.retry.max_delay);
                    if status == StatusCode::UNAUTHORIZED && !refreshed {
                        refreshed = true;
                        self.bearer(true).await?;
                        continue;
                    }
                    // ARM's 409 AnotherOperationInProgress ends when the other operation does
                    // (often our own, when a reset connection lost its answer): retried as a
                    // throttle is.
                    let busy = status == StatusCode::CONFLICT
                        && reply.body.pointer("/error/code").and_then(Value::as_str)
                            == Some("AnotherOperationInProgress");
                    if !(status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() || busy) {
                        return Ok(reply);
                    }
                    Err(reply)
                }
                Err(e) if lanestack_http::is_tls_error(&e) => return Err(untrusted(url, &e)),
                Err(e) => Ok(e),
            };
            drop(permit);
            let budget = match &failure {
                Err(_) => self.retry.max_retries,
                Ok(e) if e.is_connect() => self.retry.max_connect_retries.min(self.retry.max_retries),
                Ok(_) => self.retry.max_retries,
            };
            if attempt >= budget {
                return match failure {
                    Err(reply) => Err(self.error(&method, url, &reply)),
                    Ok(e) => Err(ArmError {
                        kind: ErrorKind::Transient,
                        status: None,
                        code: None,
                        message: format!("ARM {method} {}: {e}", strip_query(url)),
                    }),
                };
            }
            let retry_after = failure.as_ref().err().and_then(Reply::retry_after);
            tokio::time::sleep(self.retry.backoff(attempt, retry_after)).await;
            attempt += 1;
        }
    }

    fn error(&self, method: &Method, url: &str, reply: &Reply) -> ArmError {
        let status = reply.status.as_u16();
        let code = reply.body.pointer("/error/code").and_then(Value::as_str).map(str::to_owned);
        let detail = reply.body.pointer("/error/message").and_then(Value::as_str).unwrap_or_default();
        let path = strip_query(url).strip_prefix(&self.endpoint).unwrap_or(strip_query(url)).to_owned();
        ArmError {
            kind: classify(status),
            status: Some(status),
            message: format!(
                "ARM {method} {path}: {status} {}: {detail}",
                code.as_deref().unwrap_or("(no code)")
            ),
            code,
        }
    }

    /// Reads an object; `None` when ARM says 404.
    pub async fn get(&self, id: &str, api_version: &str) -> Result<Option<Value>, ArmError> {
        let url = self.url(id, api_version);
        let reply = self.send(Method::GET, &url, None).await?;
        match reply.status.as_u16() {
            200 => Ok(Some(reply.body)),
            404 => Ok(None),
            _ => Err(self.error(&Method::GET, &url, &reply)),
        }
    }

    /// Creates or replaces an object (PUT), waits for its operation, and returns it as read.
    pub async fn put(&self, id: &str, api_version: &str, body: &Value) -> Result<Value, ArmError> {
        self.write(Method::PUT, id, api_version, body).await
    }

    /// Updates an object (PATCH), waits for its operation, and returns it as read.
    pub async fn patch(&self, id: &str, api_version: &str, body: &Value) -> Result<Value, ArmError> {
        self.write(Method::PATCH, id, api_version, body).await
    }

    async fn write(
        &self,
        method: Method,
        id: &str,
        api_version: &str,
        body: &Value,
    ) -> Result<Value, ArmError> {
        let url = self.url(id, api_version);
        let reply = self.send(method.clone(), &url, Some(body)).await?;
        if !reply.status.is_success() {
            return Err(self.error(&method, &url, &reply));
        }
        self.wait(&method, id, api_version, &reply).await?;
        match self.get(id, api_version).await? {
            Some(v) => Ok(v),
            None => Err(ArmError {
                kind: ErrorKind::Failed,
                status: Some(404),
                code: None,
                message: format!(
                    "ARM {method} {id}: the object was gone right after its operation succeeded"
                ),
            }),
        }
    }

    /// Calls a POST action on an object (`{id}/{action}`): a synchronous answer's body, or,
    /// for a long-running action, waits for it and returns the body its `Location` finally
    /// answers (null when there is none).
    pub async fn post(
        &self,
        id: &str,
        action: &str,
        api_version: &str,
        body: &Value,
    ) -> Result<Value, ArmError> {
        let path = format!("{id}/{action}");
        let url = self.url(&path, api_version);
        let reply = self.send(Method::POST, &url, Some(body)).await?;
        match reply.status.as_u16() {
            200 | 201 if reply.header("azure-asyncoperation").is_none() => Ok(reply.body),
            200..=299 => self.wait(&Method::POST, &path, api_version, &reply).await,
            _ => Err(self.error(&Method::POST, &url, &reply)),
        }
    }

    /// Deletes an object and waits until it is gone. Deleting what does not exist succeeds.
    pub async fn delete(&self, id: &str, api_version: &str) -> Result<(), ArmError> {
        let url = self.url(id, api_version);
        let reply = self.send(Method::DELETE, &url, None).await?;
        match reply.status.as_u16() {
            200 | 204 | 404 => Ok(()),
            202 => self.wait(&Method::DELETE, id, api_version, &reply).await.map(drop),
            _ => Err(self.error(&Method::DELETE, &url, &reply)),
        }
    }

    /// Waits for the operation a write started, per ARM's rules: `Azure-AsyncOperation` first,
    /// then `Location`, then the object's own `provisioningState`. Returns the final body a
    /// `Location` answered (for a POST with both headers, `Location` is read after the
    /// status says Succeeded), or null.
    async fn wait(
        &self,
        method: &Method,
        id: &str,
        api_version: &str,
        first: &Reply,
    ) -> Result<Value, ArmError> {
        let deadline = Instant::now() + self.retry.operation_timeout;
        let mut delay = first.retry_after();
        if let Some(status_url) = first.header("azure-asyncoperation").map(str::to_owned) {
            loop {
                self.pause(delay, deadline, method, id).await?;
                let reply = self.send(Method::GET, &status_url, None).await?;
                if !reply.status.is_success() {
                    return Err(self.error(&Method::GET, &status_url, &reply));
                }
                match reply.body.get("status").and_then(Value::as_str).unwrap_or("InProgress") {
                    // A POST's result is at its Location (ARM's final-state-via for actions).
                    s if s.eq_ignore_ascii_case("Succeeded")
                        && *method == Method::POST
                        && first.status == StatusCode::ACCEPTED
                        && first.header("location").is_some() =>
                    {
                        delay = None;
                        break;
                    }
                    s if s.eq_ignore_ascii_case("Succeeded") => return Ok(Value::Null),
                    s if s.eq_ignore_ascii_case("Failed") || s.eq_ignore_ascii_case("Canceled") => {
                        return Err(operation_failed(method, id, s, &reply.body));
                    }
                    _ => delay = reply.retry_after(),
                }
            }
        }
        if first.status == StatusCode::ACCEPTED
            && let Some(mut location) = first.header("location").map(str::to_owned)
        {
            loop {
                self.pause(delay, deadline, method, id).await?;
                let reply = self.send(Method::GET, &location, None).await?;
                match reply.status.as_u16() {
                    202 => {
                        if let Some(next) = reply.header("location") {
                            location = next.to_owned();
                        }
                        delay = reply.retry_after();
                    }
                    200 | 201 => return Ok(reply.body),
                    204 => return Ok(Value::Null),
                    404 if *method == Method::DELETE => return Ok(Value::Null),
                    _ => {
                        let mut e = self.error(&Method::GET, &location, &reply);
                        e.kind = ErrorKind::Failed;
                        e.message = format!("ARM {method} {id}: the operation failed: {}", e.message);
                        return Err(e);
                    }
                }
            }
        }
        if *method == Method::DELETE {
            return Ok(Value::Null);
        }
        // No polling header: the object's provisioningState tells.
        let mut state =
            first.body.pointer("/properties/provisioningState").and_then(Value::as_str).map(str::to_owned);
        loop {
            match state.as_deref() {
                None | Some("Succeeded") => return Ok(Value::Null),
                Some(s @ ("Failed" | "Canceled")) => {
                    return Err(operation_failed(method, id, s, &first.body));
                }
                Some(_) => {}
            }
            self.pause(delay, deadline, method, id).await?;
            let Some(now) = self.get(id, api_version).await? else { return Ok(Value::Null) };
            state = now.pointer("/properties/provisioningState").and_then(Value::as_str).map(str::to_owned);
            delay = None;
        }
    }

    async fn pause(
        &self,
        retry_after: Option<Duration>,
        deadline: Instant,
        method: &Method,
        id: &str,
    ) -> Result<(), ArmError> {
        if Instant::now() > deadline {
            return Err(ArmError {
                kind: ErrorKind::Transient,
                status: None,
                code: None,
                message: format!(
                    "ARM {method} {id}: the operation did not finish within {:?}",
                    self.retry.operation_timeout
                ),
            });
        }
        let d = retry_after.unwrap_or(self.retry.poll_interval).min(self.retry.max_delay);
        tokio::time::sleep(d).await;
        Ok(())
    }
}

fn operation_failed(method: &Method, id: &str, status: &str, body: &Value) -> ArmError {
    let code = body.pointer("/error/code").and_then(Value::as_str).map(str::to_owned);
    let detail = body.pointer("/error/message").and_then(Value::as_str).unwrap_or_default();
    ArmError {
        kind: ErrorKind::Failed,
        status: None,
        message: format!(
            "ARM {method} {id}: the long-running operation ended {status}: {}: {detail}",
            code.as_deref().unwrap_or("(no code)")
        ),
        code,
    }
}

pub(crate) fn untrusted(url: &str, e: &reqwest::Error) -> ArmError {
    let mut message =
        format!("could not reach {}: the server's certificate is not trusted", strip_query(url));
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        message.push_str(&format!(": {err}"));
        source = err.source();
    }
    message.push_str(" (set ca_certificate_file to the CA that signed it)");
    ArmError { kind: ErrorKind::Invalid, status: None, code: None, message }
}

fn strip_query(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_honours_retry_after_up_to_the_cap() {
        let p = RetryPolicy { max_delay: Duration::from_secs(10), ..RetryPolicy::default() };
        assert_eq!(p.backoff(0, Some(Duration::from_secs(3))), Duration::from_secs(3));
        assert_eq!(p.backoff(0, Some(Duration::from_secs(30))), Duration::from_secs(10));
        assert_eq!(p.backoff(2, None), Duration::from_secs(4));
    }

    #[test]
    fn errors_are_classified() {
        assert_eq!(classify(404), ErrorKind::NotFound);
        assert_eq!(classify(429), ErrorKind::Throttled);
        assert_eq!(classify(503), ErrorKind::Transient);
        assert_eq!(classify(412), ErrorKind::Conflict);
        assert_eq!(form_encode(&[("a b", "x/y")]), "a%20b=x%2Fy");
    }
}
