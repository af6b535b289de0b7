//! A lean client of Run:ai's control plane REST API (reqwest, rustls on ring).
//!
//! Authentication is an application's client credentials exchanged for a bearer token at
//! `POST {url}/api/v2/token` (form: `grant_type=client_credentials`, `client_id`,
//! `client_secret`; answer: `access_token`). The token is cached and fetched again once when a
//! call is refused with 401. Errors carry the method, path, status and the API's `message`,
//! with the secret scrubbed from anything the server says.

use std::time::Duration;

use lanestack_http::CaError;
use lanestack_model::{ErrorKind, ProviderError};
use serde_json::Value;

/// The application's credentials and where the control plane is.
#[derive(Clone)]
pub struct Settings {
    /// The tenant's control plane, without a trailing slash (`https://myorg.run.ai`).
    pub url: String,
    /// The application's client id.
    pub client_id: String,
    /// The application's secret.
    pub client_secret: String,
    /// PEM of the CAs to trust instead of the system's.
    pub ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("url", &self.url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// A client of one control plane.
#[derive(Debug)]
pub struct Client {
    settings: Settings,
    http: reqwest::Client,
    token: tokio::sync::Mutex<Option<String>>,
}

/// An answer: its status and JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: Value,
}

/// The kind of failure an HTTP status means.
pub fn kind_of(status: u16) -> ErrorKind {
    match status {
        400 | 405 | 422 => ErrorKind::Invalid,
        401 | 403 => ErrorKind::Unauthorized,
        404 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict,
        429 => ErrorKind::Throttled,
        500..=599 => ErrorKind::Transient,
        _ => ErrorKind::Failed,
    }
}

impl Client {
    /// A client; no request is made yet.
    pub fn new(settings: Settings) -> Result<Client, ProviderError> {
        let failed = |e: reqwest::Error| {
            ProviderError::new(ErrorKind::Invalid, format!("could not set up the Run:ai client: {e}"))
        };
        let trust = settings.ca_pem.as_deref().map(lanestack_http::ca_certificates).transpose().map_err(
            |e| match e {
                CaError::NotPem(e) => failed(e),
                CaError::Empty => {
                    ProviderError::new(ErrorKind::Invalid, "the CA certificate file holds no PEM certificate")
                }
            },
        )?;
        let builder = lanestack_http::builder(trust.as_deref())
            .connect_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(120));
        let http = builder.build().map_err(failed)?;
        Ok(Client { settings, http, token: tokio::sync::Mutex::new(None) })
    }

    /// What the server said, without the secret, should it echo it.
    fn scrub(&self, text: &str) -> String {
        if self.settings.client_secret.is_empty() {
            return text.to_owned();
        }
        text.replace(&self.settings.client_secret, "(secret)")
    }

    /// A failed answer as an error: `what` (method and path), the status, the API's message.
    pub fn error(&self, what: &str, answer: &Answer) -> ProviderError {
        let message = answer
            .body
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| answer.body.to_string());
        let message = self.scrub(&message);
        ProviderError::new(kind_of(answer.status), format!("Run:ai {what}: {}: {message}", answer.status))
    }

    async fn fetch_token(&self) -> Result<String, ProviderError> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.settings.client_id.as_str()),
            ("client_secret", self.settings.client_secret.as_str()),
        ];
        let body: String =
            form.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect::<Vec<_>>().join("&");
        let url = format!("{}/api/v2/token", self.settings.url);
        let response = self
            .http
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| self.transport("POST /api/v2/token", &e))?;
        let answer = read(response).await;
        if answer.status != 200 {
            let mut e = self.error(
                &format!("token for application {:?} (POST /api/v2/token)", self.settings.client_id),
                &answer,
            );
            if answer.status == 400 || answer.status == 401 {
                e.kind = ErrorKind::Unauthorized;
            }
            return Err(e);
        }
        answer.body.get("access_token").and_then(Value::as_str).map(str::to_owned).ok_or_else(|| {
            ProviderError::new(ErrorKind::Failed, "Run:ai's token endpoint answered without an access_token")
        })
    }

    fn transport(&self, what: &str, e: &reqwest::Error) -> ProviderError {
        let kind = if e.is_builder() { ErrorKind::Invalid } else { ErrorKind::Transient };
        ProviderError::new(kind, format!("Run:ai {what}: {}", self.scrub(&e.to_string())))
    }

    /// One call: the token is fetched when there is none and once again after a 401; 429, 5xx
    /// and connection failures are retried a few times (every call lanestack makes is safe
    /// to repeat: a create is checked by name first). Answers of any status come back.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, ProviderError> {
        let what = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let mut refreshed = false;
        let mut attempt = 0u32;
        loop {
            let token = {
                let mut cached = self.token.lock().await;
                match cached.as_ref() {
                    Some(t) => t.clone(),
                    None => {
                        let t = self.fetch_token().await?;
                        *cached = Some(t.clone());
                        t
                    }
                }
            };
            let method_value = reqwest::Method::from_bytes(method.as_bytes()).map_err(|_| {
                ProviderError::new(ErrorKind::Invalid, format!("no such HTTP method {method}"))
            })?;
            let mut request = self
                .http
                .request(method_value, format!("{}{path}", self.settings.url))
                .bearer_auth(&token)
                .header("accept", "application/json");
            if let Some(b) = body {
                request = request.header("content-type", "application/json").body(b.to_string());
            }
            let retryable = match request.send().await {
                Ok(response) => {
                    let answer = read(response).await;
                    if answer.status == 401 && !refreshed {
                        refreshed = true;
                        *self.token.lock().await = None;
                        continue;
                    }
                    if !(answer.status == 429 || answer.status >= 500) || attempt >= 3 {
                        return Ok(answer);
                    }
                    true
                }
                Err(e) if attempt >= 3 || e.is_builder() => return Err(self.transport(&what, &e)),
                Err(_) => true,
            };
            if retryable {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt))).await;
            }
        }
    }
}

async fn read(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    Answer { status, body: serde_json::from_str(&text).unwrap_or(Value::Null) }
}

/// Percent-encodes a form or query value.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_kinds() {
        assert_eq!(kind_of(400), ErrorKind::Invalid);
        assert_eq!(kind_of(401), ErrorKind::Unauthorized);
        assert_eq!(kind_of(403), ErrorKind::Unauthorized);
        assert_eq!(kind_of(404), ErrorKind::NotFound);
        assert_eq!(kind_of(409), ErrorKind::Conflict);
        assert_eq!(kind_of(429), ErrorKind::Throttled);
        assert_eq!(kind_of(503), ErrorKind::Transient);
        assert_eq!(kind_of(302), ErrorKind::Failed);
    }

    #[test]
    fn errors_carry_the_message_and_never_the_secret() {
        let client = Client::new(Settings {
            url: "https://x.invalid".into(),
            client_id: "app".into(),
            client_secret: "s3cr3t".into(),
            ca_pem: None,
        })
        .unwrap();
        let answer = Answer {
            status: 401,
            body: serde_json::json!({ "code": 401, "message": "bad secret s3cr3t for app" }),
        };
        let e = client.error("POST /api/v2/token", &answer);
        assert_eq!(e.kind, ErrorKind::Unauthorized);
        assert!(e.message.contains("401") && e.message.contains("bad secret"), "{}", e.message);
        assert!(!e.message.contains("s3cr3t"));
        assert!(!format!("{client:?}").contains("s3cr3t"));
    }

    #[test]
    fn form_values_are_encoded() {
        assert_eq!(encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}
