//! A tiny stand-in for kube-apiserver's TokenReview API, which the CRD server's delegated
//! authentication asks about every bearer token: `POST
//! /apis/authentication.k8s.io/v1/tokenreviews` over plain HTTP/1.1 on loopback. One token is
//! a service account of `namespace` in group `system:masters` (which the delegating authorizer
//! always allows); any other is refused (`authenticated: false`). Every review is recorded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// One TokenReview the server sent: whether it was JSON, and the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// The request's Content-Type.
    pub content_type: String,
    /// Whether the token was the good one.
    pub authenticated: bool,
}

/// The webhook; stopped when dropped.
pub struct TokenReviewWebhook {
    port: u16,
    stop: Arc<AtomicBool>,
    reviews: Arc<Mutex<Vec<Review>>>,
}

impl TokenReviewWebhook {
    /// Starts the webhook; `token` authenticates as `system:serviceaccount:<namespace>:default`.
    pub fn start(token: &str, namespace: &str) -> TokenReviewWebhook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let reviews = Arc::new(Mutex::new(Vec::new()));
        let (token, namespace) = (token.to_owned(), namespace.to_owned());
        let (stop2, reviews2) = (stop.clone(), reviews.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let (token, namespace, reviews) = (token.clone(), namespace.clone(), reviews2.clone());
                std::thread::spawn(move || serve(stream, &token, &namespace, &reviews));
            }
        });
        TokenReviewWebhook { port, stop, reviews }
    }

    /// The base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The reviews answered so far.
    pub fn reviews(&self) -> Vec<Review> {
        self.reviews.lock().unwrap().clone()
    }
}

impl Drop for TokenReviewWebhook {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Serves the requests of one keep-alive connection.
fn serve(stream: TcpStream, token: &str, namespace: &str, reviews: &Mutex<Vec<Review>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let (mut length, mut content_type) = (0usize, String::new());
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    "content-type" => content_type = value.trim().to_owned(),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let (status, answer) = if request_line.starts_with("POST /apis/authentication.k8s.io/v1/tokenreviews")
        {
            let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let authenticated = request.pointer("/spec/token").and_then(Value::as_str) == Some(token);
            reviews.lock().unwrap().push(Review { content_type: content_type.clone(), authenticated });
            let audiences = request.pointer("/spec/audiences").cloned().unwrap_or(json!([]));
            let status = if authenticated {
                json!({
                    "authenticated": true,
                    "audiences": audiences,
                    "user": {
                        "username": format!("system:serviceaccount:{namespace}:default"),
                        "uid": "00000000-0000-0000-0000-000000000001",
                        "groups": ["system:serviceaccounts", format!("system:serviceaccounts:{namespace}"),
                                   "system:authenticated", "system:masters"],
                    },
                })
            } else {
                json!({"authenticated": false, "error": "unknown token"})
            };
            (
                "200 OK",
                json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "status": status}),
            )
        } else {
            (
                "404 Not Found",
                json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404, "reason": "NotFound"}),
            )
        };
        let answer = answer.to_string();
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            answer.len()
        );
        if out.write_all(head.as_bytes()).and_then(|()| out.write_all(answer.as_bytes())).is_err() {
            return;
        }
    }
}
