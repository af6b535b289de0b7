//! [`Error`]: what a request can fail with, classified the way callers act on it. The API
//! server's refusals are its `Status` objects (`kind: Status`, `reason`, `message`, `code`,
//! `details.causes`), mapped by `reason` first and by HTTP status when the body is not a
//! `Status`. No error ever holds a credential: the request is named by method and path only.

use std::fmt;

use serde_json::Value;

/// A failed request. The server's refusals are boxed: they are rare, and `Result`s stay small.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The object already exists (409, reason `AlreadyExists`).
    #[error("{0}")]
    AlreadyExists(Box<ApiError>),
    /// The object or its type does not exist (404, `NotFound`).
    #[error("{0}")]
    NotFound(Box<ApiError>),
    /// The identity is known but not allowed (403, `Forbidden`).
    #[error("{0}")]
    Forbidden(Box<ApiError>),
    /// The credentials were refused (401, `Unauthorized`).
    #[error("{0}")]
    Unauthorized(Box<ApiError>),
    /// The object failed validation (422, `Invalid`); [`ApiError::causes`] says where.
    #[error("{0}")]
    Invalid(Box<ApiError>),
    /// A write conflicted with another (409, `Conflict`: a stale `resourceVersion`).
    #[error("{0}")]
    Conflict(Box<ApiError>),
    /// Any other refusal by the server (`BadRequest`, `TooManyRequests`, 5xx...).
    #[error("{0}")]
    Api(Box<ApiError>),
    /// The server's certificate was not trusted, or the TLS handshake failed.
    #[error("TLS handshake with the Kubernetes API server {server} failed: {detail}")]
    Tls {
        /// The server's base URL.
        server: String,
        /// The TLS error and the errors that carried it.
        detail: String,
    },
    /// The server could not be reached, or the connection broke, or it timed out.
    #[error("cannot reach the Kubernetes API server {server}: {detail}")]
    Connect {
        /// The server's base URL.
        server: String,
        /// The transport error.
        detail: String,
    },
    /// The bearer token file could not be read (never shows the token).
    #[error("cannot read the bearer token file {}: {detail}", path.display())]
    TokenFile {
        /// The token file.
        path: std::path::PathBuf,
        /// Why.
        detail: String,
    },
    /// The client could not be built from the configuration (bad PEM, bad URL).
    #[error("cannot set up a client of the Kubernetes API server {server}: {detail}")]
    Setup {
        /// The server's base URL.
        server: String,
        /// What is wrong.
        detail: String,
    },
    /// A successful answer whose body is not the JSON expected.
    #[error("{method} {path}: the answer is not JSON: {detail}")]
    Response {
        /// The request's method.
        method: String,
        /// The request's path.
        path: String,
        /// The decoding error.
        detail: String,
    },
}

impl Error {
    /// The server's refusal, when the server answered with one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::AlreadyExists(e)
            | Error::NotFound(e)
            | Error::Forbidden(e)
            | Error::Unauthorized(e)
            | Error::Invalid(e)
            | Error::Conflict(e)
            | Error::Api(e) => Some(e.as_ref()),
            Error::Tls { .. }
            | Error::Connect { .. }
            | Error::TokenFile { .. }
            | Error::Setup { .. }
            | Error::Response { .. } => None,
        }
    }

    /// The error for a non-2xx answer with `body`.
    pub(crate) fn from_response(method: &str, path: &str, code: u16, body: &[u8]) -> Error {
        let status: Option<Value> = serde_json::from_slice(body).ok();
        let status = status.filter(|v| v.get("kind").and_then(Value::as_str) == Some("Status"));
        let field =
            |v: &Value, name: &str| v.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        let api = match &status {
            Some(s) => ApiError {
                method: method.to_owned(),
                path: path.to_owned(),
                code: s
                    .get("code")
                    .and_then(Value::as_u64)
                    .and_then(|c| u16::try_from(c).ok())
                    .unwrap_or(code),
                reason: field(s, "reason"),
                message: field(s, "message"),
                causes: s
                    .pointer("/details/causes")
                    .and_then(Value::as_array)
                    .map(|causes| {
                        causes
                            .iter()
                            .map(|c| Cause {
                                reason: field(c, "reason"),
                                message: field(c, "message"),
                                field: field(c, "field"),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            None => {
                let text = String::from_utf8_lossy(body);
                let text: String = text.trim().chars().take(500).collect();
                ApiError {
                    method: method.to_owned(),
                    path: path.to_owned(),
                    code,
                    reason: String::new(),
                    message: text,
                    causes: Vec::new(),
                }
            }
        };
        let api = Box::new(api);
        match (api.reason.as_str(), api.code) {
            ("AlreadyExists", _) => Error::AlreadyExists(api),
            ("NotFound", _) | ("", 404) => Error::NotFound(api),
            ("Forbidden", _) | ("", 403) => Error::Forbidden(api),
            ("Unauthorized", _) | ("", 401) => Error::Unauthorized(api),
            ("Invalid", _) | ("", 422) => Error::Invalid(api),
            ("Conflict", _) | ("", 409) => Error::Conflict(api),
            _ => Error::Api(api),
        }
    }
}

/// The server's refusal of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The request's method (`POST`).
    pub method: String,
    /// The request's path (`/apis/snapshot.storage.k8s.io/v1/namespaces/ns/volumesnapshots`).
    pub path: String,
    /// The HTTP status (the `Status`'s `code` when it has one).
    pub code: u16,
    /// The `Status`'s `reason` (`AlreadyExists`), empty when the body was not a `Status`.
    pub reason: String,
    /// The `Status`'s `message`, or the start of the body when it was not a `Status`.
    pub message: String,
    /// The `Status`'s `details.causes`: for `Invalid`, one per field at fault.
    pub causes: Vec<Cause>,
}

/// One cause of a refusal (`details.causes[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueInvalid`, `FieldValueRequired`...
    pub reason: String,
    /// What is wrong with the field.
    pub message: String,
    /// The field's path (`spec.source`).
    pub field: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.method, self.path, self.code)?;
        if !self.reason.is_empty() {
            write!(f, " {}", self.reason)?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        // The server's message for Invalid already lists the causes; others may not.
        for cause in &self.causes {
            if !self.message.contains(&cause.message) {
                write!(f, "; {}: {}", cause.field, cause.message)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_by_reason_then_by_code() {
        let body = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"x \"a\" already exists","reason":"AlreadyExists","code":409}"#;
        let e = Error::from_response("POST", "/apis/g/v1/xs", 409, body);
        assert!(matches!(&e, Error::AlreadyExists(a) if a.code == 409));
        assert_eq!(e.to_string(), "POST /apis/g/v1/xs: 409 AlreadyExists: x \"a\" already exists");

        let body = br#"{"kind":"Status","reason":"Invalid","code":422,"message":"bad","details":{"causes":[{"reason":"FieldValueInvalid","message":"must be set","field":"spec.source"}]}}"#;
        let e = Error::from_response("POST", "/p", 422, body);
        let Error::Invalid(api) = &e else { panic!("{e:?}") };
        assert_eq!(api.causes[0].field, "spec.source");
        assert_eq!(e.to_string(), "POST /p: 422 Invalid: bad; spec.source: must be set");

        assert!(matches!(Error::from_response("GET", "/p", 401, b"Unauthorized"), Error::Unauthorized(_)));
        assert!(matches!(Error::from_response("GET", "/p", 404, b"404 page not found"), Error::NotFound(_)));
        let conflict = br#"{"kind":"Status","reason":"Conflict","code":409,"message":"stale"}"#;
        assert!(matches!(Error::from_response("PUT", "/p", 409, conflict), Error::Conflict(_)));
        assert!(
            matches!(Error::from_response("GET", "/p", 500, b"boom"), Error::Api(a) if a.message == "boom")
        );
    }
}
