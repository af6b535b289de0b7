//! The HTTP side: hyper on loopback, the checks every ARM request goes through (token,
//! `api-version`, throttling, injected faults), routing to [`crate::cloud::Cloud`], and the
//! answers in ARM's shapes (status codes, LRO headers, error envelope).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use crate::arm::{ArmError, Kind, Style, Target};
use crate::cloud::{Cloud, OpKind};
use crate::config::EmulatorConfig;
use crate::log::LogEntry;
use crate::registry::Registries;
use crate::rng::Rng;
use crate::throttle::{Access, Take, Throttle};

/// State shared by every connection.
pub(crate) struct Shared {
    pub(crate) config: EmulatorConfig,
    /// `https` or `http`, for the URLs the emulator hands out.
    pub(crate) scheme: &'static str,
    /// The base URL (`scheme://address`), set once the listener is bound.
    pub(crate) endpoint: OnceLock<String>,
    /// The PEM of the CA, when serving HTTPS (the clusters' kubeconfigs carry it).
    ca_pem: Option<String>,
    pub(crate) cloud: Mutex<Cloud>,
    throttle: Mutex<Throttle>,
    faults: Mutex<Rng>,
    /// Connection resets draw from their own stream: how many requests were throttled (and so
    /// drew no transient fault) does not move which requests are reset.
    resets: Mutex<Rng>,
    tokens: Mutex<HashSet<String>>,
    /// The container registries' content, tokens and uploads (module `registry`).
    registries: Mutex<Registries>,
    pub(crate) log: Mutex<Vec<LogEntry>>,
    started: Instant,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A handler that panicked leaves consistent data behind (every mutation is one call), so a
    // poisoned lock is still usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn new(config: EmulatorConfig, ca_pem: Option<String>) -> std::io::Result<Shared> {
        let mut cloud = Cloud::new(
            config.faults.seed,
            config.lro_polls,
            config.latency.scaled(config.latency.operation),
            &config.faults.fail_operations,
        );
        if let Some(dir) = &config.data_dir {
            std::fs::create_dir_all(dir)?;
            match std::fs::read_to_string(dir.join("arm.json")) {
                Ok(text) => cloud.load(&text).map_err(std::io::Error::other)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            match std::fs::read_to_string(dir.join("kube.json")) {
                Ok(text) => cloud.load_kube(&text).map_err(std::io::Error::other)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            match std::fs::read_to_string(dir.join("runai.json")) {
                Ok(text) => cloud.runai.load(&text).map_err(std::io::Error::other)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        let mut registries = Registries::new(config.data_dir.as_deref(), config.faults.seed);
        // Registries deleted before the last stop (or settled as deleted by loading) take
        // their content with them.
        for name in std::mem::take(&mut cloud.removed_registries) {
            registries.purge(&name);
        }
        registries.purge_unless(|name| registry_exists(&cloud, name));
        Ok(Shared {
            registries: Mutex::new(registries),
            faults: Mutex::new(Rng::new(config.faults.seed ^ 0x5eed)),
            resets: Mutex::new(Rng::new(config.faults.seed ^ 0x7e5e7)),
            scheme: if config.https { "https" } else { "http" },
            endpoint: OnceLock::new(),
            ca_pem,
            config,
            cloud: Mutex::new(cloud),
            throttle: Mutex::new(Throttle::default()),
            tokens: Mutex::new(HashSet::new()),
            log: Mutex::new(Vec::new()),
            started: Instant::now(),
        })
    }

    fn save(&self, cloud: &Cloud) {
        let Some(dir) = &self.config.data_dir else { return };
        // Best effort: a failed save loses the change on restart, as a crashed cloud would.
        // Each file is written whole and renamed into place.
        for (name, text) in [
            ("arm.json", cloud.to_json()),
            ("kube.json", cloud.kube_json()),
            ("runai.json", cloud.runai.to_json()),
        ] {
            let tmp = dir.join(format!("{name}.tmp"));
            if std::fs::write(&tmp, text).is_ok() {
                let _ = std::fs::rename(&tmp, dir.join(name));
            }
        }
    }

    /// Runs `handle` on the cloud under its lock, and saves the cloud when `changed` says the
    /// answer changed it.
    fn on_cloud<A>(&self, handle: impl FnOnce(&mut Cloud) -> A, changed: impl Fn(&A) -> bool) -> A {
        let mut cloud = lock(&self.cloud);
        let answer = handle(&mut cloud);
        if changed(&answer) {
            self.save(&cloud);
        }
        answer
    }

    /// Logs one request.
    fn log(
        &self,
        at_ms: u64,
        method: &Method,
        path: String,
        status: u16,
        note: Option<String>,
        resource: Option<String>,
    ) {
        self.record(LogEntry { seq: 0, at_ms, method: method.to_string(), path, status, note, resource });
    }

    fn record(&self, mut entry: LogEntry) {
        let mut log = lock(&self.log);
        entry.seq = log.len() as u64 + 1;
        if let Some(dir) = &self.config.data_dir
            && let Ok(line) = serde_json::to_string(&entry)
        {
            use std::io::Write;
            let path: PathBuf = dir.join("requests.jsonl");
            if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
                let _ = writeln!(f, "{line}");
            }
        }
        log.push(entry);
    }
}

/// An answer before it becomes a hyper response.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    headers: Vec<(String, String)>,
    body: Body,
    note: Option<String>,
    resource: Option<String>,
}

/// What a [`Reply`] carries.
#[derive(Debug)]
enum Body {
    /// No body (`Content-Length: 0`, unless a header says otherwise for a HEAD).
    Empty,
    /// JSON, sent as `application/json; charset=utf-8`.
    Json(Value),
    /// Bytes as they are, with the content type its [`Reply::raw`] put in the headers (a
    /// registry's blobs and manifests). `Bytes` is reference-counted: a blob is never copied
    /// on its way out.
    Raw(Bytes),
}

impl Reply {
    pub(crate) fn json(status: u16, body: Value) -> Reply {
        Reply { status, headers: Vec::new(), body: Body::Json(body), note: None, resource: None }
    }
    pub(crate) fn empty(status: u16) -> Reply {
        Reply { status, headers: Vec::new(), body: Body::Empty, note: None, resource: None }
    }
    pub(crate) fn raw(status: u16, content_type: &str, bytes: Bytes) -> Reply {
        let headers = vec![("content-type".to_owned(), content_type.to_owned())];
        Reply { status, headers, body: Body::Raw(bytes), note: None, resource: None }
    }
    pub(crate) fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
    pub(crate) fn note(mut self, note: &str) -> Reply {
        self.note = Some(note.to_owned());
        self
    }
}

impl From<ArmError> for Reply {
    fn from(e: ArmError) -> Reply {
        Reply::json(e.status, e.body())
    }
}

/// An injected connection reset: hyper closes the connection without an answer.
#[derive(Debug)]
pub(crate) struct Reset;

impl std::fmt::Display for Reset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("injected connection reset")
    }
}

impl std::error::Error for Reset {}

/// When an injected reset closes the connection.
#[derive(Clone, Copy, PartialEq)]
enum ResetAt {
    Before,
    After,
}

/// Handles one request.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Reset> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let host = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned();
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (auth, if_match, if_none_match) =
        (header("authorization"), header("if-match"), header("if-none-match"));
    let (content_type, user_agent) = (header("content-type"), header("user-agent"));
    let content_range = header("content-range");
    let identity = IdentityHeaders {
        metadata: header("metadata"),
        identity_header: header("x-identity-header").or_else(|| header("secret")),
    };
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    if let Some(registry) = crate::registry::registry_of_host(&host) {
        // A container registry's login server: its own auth, no ARM checks, throttling or
        // faults.
        let at_ms = shared.started.elapsed().as_millis() as u64;
        let request = crate::registry::Request {
            method: method.as_str(),
            path: &path,
            query: parse_query(&query),
            host: &host,
            scheme: shared.scheme,
            authorization: auth.as_deref(),
            content_type: content_type.as_deref(),
            content_range: content_range.as_deref(),
            body,
            registry: &registry,
        };
        let reply = registry_request(&shared, &request);
        shared.log(at_ms, &method, path, reply.status, reply.note.clone(), None);
        return Ok(to_response(reply));
    }
    if path == "/runai" || path.starts_with("/runai/") {
        // The Run:ai control plane: its own auth, no ARM checks, throttling or faults.
        let at_ms = shared.started.elapsed().as_millis() as u64;
        let query = parse_query(&query);
        let request = crate::runai::Request {
            method: method.as_str(),
            path: &path,
            query: &query,
            authorization: auth.as_deref(),
            body: &body,
            client_id: crate::principal::CLIENT_ID,
            client_secret: shared.config.client_secret.as_deref().unwrap_or(crate::principal::CLIENT_SECRET),
            polls: shared.config.lro_polls,
            seed: shared.config.faults.seed,
        };
        let answer = shared.on_cloud(|cloud| crate::runai::handle(cloud, &request), |a| a.changed);
        shared.log(at_ms, &method, path, answer.status, answer.note, answer.resource);
        let reply = match answer.body {
            Some(body) => Reply::json(answer.status, body),
            None => Reply::empty(answer.status),
        };
        return Ok(to_response(reply));
    }
    if path == "/k8s" || path.starts_with("/k8s/") {
        // A cluster's Kubernetes API: its own auth, no ARM checks, throttling or faults.
        let at_ms = shared.started.elapsed().as_millis() as u64;
        let query = parse_query(&query);
        let server_address = shared
            .endpoint
            .get()
            .and_then(|e| e.split_once("://").map(|(_, a)| a.to_owned()))
            .unwrap_or(host);
        let request = crate::kube::Request {
            method: method.as_str(),
            path: &path,
            query: &query,
            authorization: auth.as_deref(),
            content_type: content_type.as_deref(),
            user_agent: user_agent.as_deref(),
            body: &body,
            server_address: &server_address,
            lro_polls: shared.config.lro_polls,
            controllers: shared.config.kube_controllers,
        };
        let answer = shared.on_cloud(|cloud| crate::kube::handle(cloud, &request), |a| a.changed);
        shared.log(at_ms, &method, path, answer.status, answer.note, answer.resource);
        return Ok(to_response(Reply::json(answer.status, answer.body)));
    }
    let ctx = Ctx {
        method: method.clone(),
        path: path.clone(),
        query: parse_query(&query),
        base: format!("{}://{host}", shared.scheme),
        auth,
        if_match,
        if_none_match,
        identity,
        body,
    };
    let reset = draw_reset(&shared, &ctx.path, ctx.method.as_str());
    let at_ms = shared.started.elapsed().as_millis() as u64;
    if reset == Some(ResetAt::Before) {
        shared.log(at_ms, &method, path, 0, Some("reset".to_owned()), None);
        return Err(Reset);
    }
    let reply = route(&shared, &ctx).await;
    forget_removed_registries(&shared);
    // A reset after handling keeps the handling's note (`created` stays countable); status 0
    // says the client never saw an answer.
    let entry = LogEntry {
        seq: 0,
        at_ms,
        method: method.to_string(),
        path,
        status: if reset.is_some() { 0 } else { reply.status },
        note: reply.note.clone().or_else(|| reset.map(|_| "reset".to_owned())),
        resource: reply.resource.clone(),
    };
    shared.record(entry);
    match reset {
        Some(_) => Err(Reset),
        None => Ok(to_response(reply)),
    }
}

/// Whether the cloud holds a container registry called `name` (names are global).
fn registry_exists(cloud: &Cloud, name: &str) -> bool {
    registry_arm(cloud, name).is_some()
}

/// The ARM side of registry `name` (any case), if it exists.
fn registry_arm(cloud: &Cloud, name: &str) -> Option<crate::registry::Arm> {
    cloud
        .resources()
        .values()
        .find(|r| r.kind == Kind::Registry && crate::kinds::name_of(&r.id).eq_ignore_ascii_case(name))
        .map(|r| crate::registry::Arm {
            admin_user_enabled: r.body.pointer("/properties/adminUserEnabled") == Some(&Value::Bool(true)),
        })
}

/// Answers a request for a registry's login server.
fn registry_request(shared: &Shared, request: &crate::registry::Request<'_>) -> Reply {
    let arm = registry_arm(&lock(&shared.cloud), request.registry);
    let entra_token = |token: &str| lock(&shared.tokens).contains(token);
    let context = crate::registry::Context {
        arm,
        principal_secret: shared.config.client_secret.as_deref().unwrap_or(crate::principal::CLIENT_SECRET),
        entra_token: &entra_token,
    };
    lock(&shared.registries).handle(request, &context)
}

/// Purges the content of the registries an ARM request removed (a delete's last poll, a
/// resource group's delete).
fn forget_removed_registries(shared: &Shared) {
    let removed = std::mem::take(&mut lock(&shared.cloud).removed_registries);
    if !removed.is_empty() {
        let mut registries = lock(&shared.registries);
        for name in removed {
            registries.purge(&name);
        }
    }
}

/// Whether to reset this request's connection, and when. Token endpoints are never reset.
fn draw_reset(shared: &Shared, path: &str, method: &str) -> Option<ResetAt> {
    let target = Target::parse(path);
    let resource_type = match &target {
        Ok(Target::List { kind, .. } | Target::Item { kind, .. } | Target::Action { kind, .. }) => {
            Some(kind.type_name())
        }
        Ok(Target::Token { .. } | Target::IdentityToken) => return None,
        Ok(Target::Operation { .. }) | Err(_) => None,
    };
    let faults = &shared.config.faults;
    let rate = faults.rule(resource_type, method).and_then(|r| r.reset_rate).unwrap_or(faults.reset_rate);
    if rate <= 0.0 {
        return None;
    }
    let (draw, pick) = {
        let mut rng = lock(&shared.resets);
        (rng.unit(), rng.next_u64())
    };
    (draw < rate).then_some(if pick % 2 == 0 { ResetAt::Before } else { ResetAt::After })
}

fn to_response(reply: Reply) -> Response<Full<Bytes>> {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    for (k, v) in &reply.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let body = match reply.body {
        Body::Json(v) => {
            builder = builder.header("content-type", "application/json; charset=utf-8");
            Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
        }
        Body::Raw(bytes) => bytes,
        Body::Empty => Bytes::new(),
    };
    builder.body(Full::new(body)).unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

struct Ctx {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    base: String,
    auth: Option<String>,
    if_match: Option<String>,
    if_none_match: Option<String>,
    identity: IdentityHeaders,
    body: Bytes,
}

/// The headers a managed identity's token request proves itself with.
struct IdentityHeaders {
    /// `Metadata: true`, which the instance metadata service requires (against SSRF).
    metadata: Option<String>,
    /// App Service's `X-IDENTITY-HEADER` (or the older `secret`).
    identity_header: Option<String>,
}

impl Ctx {
    fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Splits and percent-decodes a query string (`+` is a space, as in forms).
pub(crate) fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(b)) => {
                out.push(b);
                i += 2;
            }
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn route(shared: &Shared, ctx: &Ctx) -> Reply {
    let target = Target::parse(&ctx.path);
    if let Ok(Target::Token { tenant }) = &target {
        return token(shared, ctx, tenant);
    }
    if let Ok(Target::IdentityToken) = &target {
        return identity_token(shared, ctx);
    }
    if let Err(reply) = authenticate(shared, ctx) {
        return reply.note("unauthorized");
    }
    if ctx.query("api-version").is_none_or(str::is_empty) {
        return ArmError::new(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
        .into();
    }
    let target = match target {
        Ok(t) => t,
        Err(e) => return e.into(),
    };
    let subscription = match &target {
        Target::List { subscription, .. }
        | Target::Item { subscription, .. }
        | Target::Action { subscription, .. }
        | Target::Operation { subscription, .. } => subscription.clone(),
        Target::Token { .. } | Target::IdentityToken => String::new(),
    };
    let access =
        if ctx.method == Method::GET || ctx.method == Method::HEAD { Access::Read } else { Access::Write };
    let mut limit_header = None;
    if let Some(config) = &shared.config.throttling {
        match lock(&shared.throttle).take(config, &subscription, access, Instant::now()) {
            Take::Allowed { remaining } => limit_header = Some(remaining),
            Take::Throttled { retry_after } => {
                let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
                let kind = if access == Access::Read { "read" } else { "write" };
                return Reply::from(ArmError::new(
                    429,
                    "SubscriptionRequestsThrottled",
                    format!("Number of '{kind}' requests for subscription '{subscription}' exceeded the limit. Please try again after '{secs}' seconds."),
                ))
                .header("Retry-After", secs.to_string())
                .header(&remaining_header(access), "0")
                .note("throttled");
            }
        }
    }
    let resource_type = match &target {
        Target::List { kind, .. } | Target::Item { kind, .. } | Target::Action { kind, .. } => {
            Some(kind.type_name())
        }
        Target::Operation { .. } | Target::Token { .. } | Target::IdentityToken => None,
    };
    let rule = shared.config.faults.rule(resource_type, ctx.method.as_str());
    let rate = rule.and_then(|r| r.transient_rate).unwrap_or(shared.config.faults.transient_rate);
    if rate > 0.0 {
        let (draw, pick) = {
            let mut rng = lock(&shared.faults);
            (rng.unit(), rng.next_u64())
        };
        if draw < rate {
            let e = if pick % 2 == 0 {
                ArmError::new(
                    500,
                    "InternalServerError",
                    "Encountered internal server error. Diagnostic information: injected fault.",
                )
            } else {
                ArmError::new(
                    503,
                    "ServiceUnavailable",
                    "The service is temporarily unavailable (injected fault).",
                )
            };
            return Reply::from(e).header("Retry-After", "1").note("transient");
        }
    }
    let latency = match rule.and_then(|r| r.latency_ms) {
        Some(ms) => Duration::from_millis(ms),
        None if access == Access::Read => shared.config.latency.read,
        None => shared.config.latency.write,
    };
    let latency = shared.config.latency.scaled(latency);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut reply = dispatch(shared, ctx, target);
    if let Some(remaining) = limit_header {
        reply = reply.header(&remaining_header(access), remaining.to_string());
    }
    reply
}

fn remaining_header(access: Access) -> String {
    match access {
        Access::Read => "x-ms-ratelimit-remaining-subscription-reads".to_owned(),
        Access::Write => "x-ms-ratelimit-remaining-subscription-writes".to_owned(),
    }
}

fn authenticate(shared: &Shared, ctx: &Ctx) -> Result<(), Reply> {
    let challenge = format!("Bearer authorization_uri=\"{}/common\", error=\"invalid_token\"", ctx.base);
    let Some(auth) = &ctx.auth else {
        return Err(Reply::from(ArmError::new(
            401,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
        ))
        .header("WWW-Authenticate", challenge));
    };
    let token = auth.strip_prefix("Bearer ").or_else(|| auth.strip_prefix("bearer ")).unwrap_or_default();
    if token.is_empty() || !lock(&shared.tokens).contains(token) {
        return Err(Reply::from(ArmError::new(
            401,
            "InvalidAuthenticationToken",
            "The access token is invalid.",
        ))
        .header("WWW-Authenticate", challenge));
    }
    Ok(())
}

fn token(shared: &Shared, ctx: &Ctx, tenant: &str) -> Reply {
    let aad_error = |status: u16, error: &str, description: &str| {
        Reply::json(status, json!({ "error": error, "error_description": description, "error_codes": [] }))
    };
    if ctx.method != Method::POST {
        return aad_error(405, "invalid_request", "AADSTS900561: The endpoint only accepts POST requests.");
    }
    let form = parse_query(&String::from_utf8_lossy(&ctx.body));
    let field =
        |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_default();
    if field("grant_type") != "client_credentials" {
        return aad_error(
            400,
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type; only client_credentials is supported here.",
        );
    }
    if field("client_id").is_empty() {
        return aad_error(
            400,
            "invalid_request",
            "AADSTS900144: The request body must contain the following parameter: 'client_id'.",
        );
    }
    let assertion = field("client_assertion");
    if !assertion.is_empty() {
        // Workload identity: a federated token in place of the secret.
        if field("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
            return aad_error(
                400,
                "invalid_request",
                "AADSTS700024: client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
            );
        }
        let accepted = shared.config.federated_token.as_deref().is_none_or(|t| t == assertion);
        if !accepted {
            return aad_error(
                401,
                "invalid_client",
                "AADSTS700213: No matching federated identity record found for presented assertion.",
            )
            .note("unauthorized");
        }
    } else {
        let secret = field("client_secret");
        let accepted = match &shared.config.client_secret {
            Some(expected) => secret == expected,
            None => !secret.is_empty(),
        };
        if !accepted {
            return aad_error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
                .note("unauthorized");
        }
    }
    let token = {
        let mut rng = lock(&shared.faults);
        format!("emu.{tenant}.{:016x}{:016x}", rng.next_u64(), rng.next_u64())
    };
    lock(&shared.tokens).insert(token.clone());
    Reply::json(
        200,
        json!({ "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token }),
    )
}

/// A managed identity's token, as the instance metadata service (`Metadata: true`) or App
/// Service (`X-IDENTITY-HEADER`) issues it: a GET with `resource` and `api-version`, answered
/// with `expires_in` and `expires_on` as strings, as both services do.
fn identity_token(shared: &Shared, ctx: &Ctx) -> Reply {
    let error = |status: u16, error: &str, description: &str| {
        Reply::json(status, json!({ "error": error, "error_description": description }))
    };
    if ctx.method != Method::GET {
        return error(405, "invalid_request", "The identity endpoint only accepts GET requests.");
    }
    let metadata = ctx.identity.metadata.as_deref().is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let app_service = ctx.identity.identity_header.as_deref().is_some_and(|v| !v.is_empty());
    if !metadata && !app_service {
        return error(400, "invalid_request", "Required metadata header not specified");
    }
    if ctx.query("api-version").is_none_or(str::is_empty) {
        return error(400, "invalid_request", "Required query variable 'api-version' is missing");
    }
    let Some(resource) = ctx.query("resource").filter(|r| !r.is_empty()) else {
        return error(400, "invalid_request", "Required query variable 'resource' is missing");
    };
    let token = {
        let mut rng = lock(&shared.faults);
        format!("emu.msi.{:016x}{:016x}", rng.next_u64(), rng.next_u64())
    };
    lock(&shared.tokens).insert(token.clone());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    Reply::json(
        200,
        json!({
            "access_token": token,
            "client_id": ctx.query("client_id").unwrap_or("00000000-0000-0000-0000-00000000c1d0"),
            "expires_in": "3599",
            "expires_on": (now + 3599).to_string(),
            "not_before": now.to_string(),
            "resource": resource,
            "token_type": "Bearer",
        }),
    )
}

fn api_version(ctx: &Ctx) -> String {
    ctx.query("api-version").unwrap_or_default().to_owned()
}

fn operation_urls(ctx: &Ctx, subscription: &str, kind: Kind, location: &str, op: &str) -> (String, String) {
    let base = format!(
        "{}/subscriptions/{subscription}/providers/{}/locations/{location}",
        ctx.base,
        kind.namespace()
    );
    let api = api_version(ctx);
    (
        format!("{base}/operations/{op}?api-version={api}"),
        format!("{base}/operationResults/{op}?api-version={api}"),
    )
}

fn dispatch(shared: &Shared, ctx: &Ctx, target: Target) -> Reply {
    match target {
        Target::Token { tenant } => token(shared, ctx, &tenant),
        Target::IdentityToken => identity_token(shared, ctx),
        Target::List { kind, parent, .. } => {
            if ctx.method != Method::GET {
                return method_not_allowed(ctx);
            }
            let cloud = lock(&shared.cloud);
            if kind == Kind::ResourceGroup {
                // Resource groups live directly under the subscription.
            } else if let Err(e) = cloud.require_parent(kind, &parent) {
                return e.into();
            }
            match cloud.list(kind, &parent) {
                Ok(all) => page(shared, ctx, all),
                Err(e) => e.into(),
            }
        }
        Target::Item { subscription, kind, id, name, parent } => {
            item(shared, ctx, &subscription, kind, &id, &name, &parent)
        }
        Target::Operation { id, result, .. } => operation(shared, ctx, &id, result),
        Target::Action { subscription, kind, id, action } => {
            if ctx.method != Method::POST {
                return method_not_allowed(ctx);
            }
            let mut cloud = lock(&shared.cloud);
            match (kind, action.as_str()) {
                (Kind::Registry, _) => match cloud.get(&id) {
                    Some(r) => {
                        Reply::json(200, crate::registry::admin_credentials(crate::kinds::name_of(&r.id)))
                    }
                    None => ArmError::not_found(kind, &id).into(),
                },
                (Kind::ManagedCluster, _) => match crate::workloads::user_credential(
                    &cloud,
                    &id,
                    shared.endpoint.get().unwrap_or(&ctx.base),
                    shared.ca_pem.as_deref(),
                ) {
                    Ok(body) => Reply::json(200, body),
                    Err(e) => e.into(),
                },
                (_, _) => {
                    let body: Value = serde_json::from_slice(&ctx.body).unwrap_or(Value::Null);
                    let location = cloud
                        .get(&id)
                        .and_then(|r| r.body.get("location").and_then(Value::as_str).map(str::to_owned))
                        .unwrap_or_else(|| "global".to_owned());
                    match cloud.pool_change(&id, &body) {
                        Err(e) => e.into(),
                        Ok(op) => {
                            shared.save(&cloud);
                            let (_, result) = operation_urls(ctx, &subscription, kind, &location, &op);
                            let mut reply = Reply::empty(202)
                                .header("Location", result)
                                .header("Retry-After", shared.config.lro_retry_after_secs.to_string());
                            reply.resource = Some(crate::cloud::key(&id));
                            reply.note("pool-change")
                        }
                    }
                }
            }
        }
    }
}

fn page(shared: &Shared, ctx: &Ctx, all: Vec<Value>) -> Reply {
    let skip: usize = ctx.query("$skipToken").and_then(|s| s.parse().ok()).unwrap_or(0);
    let size = shared.config.page_size.max(1);
    let items: Vec<Value> = all.iter().skip(skip).take(size).cloned().collect();
    let mut body = json!({ "value": items });
    if skip + size < all.len() {
        body["nextLink"] = json!(format!(
            "{}{}?api-version={}&$skipToken={}",
            ctx.base,
            ctx.path,
            api_version(ctx),
            skip + size
        ));
    }
    Reply::json(200, body)
}

fn method_not_allowed(ctx: &Ctx) -> Reply {
    ArmError::new(
        405,
        "MethodNotAllowed",
        format!("The requested method '{}' is not allowed for this path.", ctx.method),
    )
    .into()
}

fn precondition(ctx: &Ctx, current: Option<&str>) -> Result<(), ArmError> {
    let failed = || {
        ArmError::new(
            412,
            "PreconditionFailed",
            "The condition specified using HTTP conditional header(s) is not met.",
        )
    };
    if let Some(m) = ctx.if_match.as_deref().map(str::trim) {
        match current {
            None => return Err(failed()),
            Some(_) if m == "*" => {}
            Some(etag) if etag == m || etag.trim_start_matches("W/") == m.trim_start_matches("W/") => {}
            Some(_) => return Err(failed()),
        }
    }
    if ctx.if_none_match.as_deref().map(str::trim) == Some("*") && current.is_some() {
        return Err(failed());
    }
    Ok(())
}

fn item(
    shared: &Shared,
    ctx: &Ctx,
    subscription: &str,
    kind: Kind,
    id: &str,
    name: &str,
    parent: &str,
) -> Reply {
    let mut cloud = lock(&shared.cloud);
    let k = crate::cloud::key(id);
    let current_etag = cloud.get(id).map(|r| r.etag.clone());
    match ctx.method.as_str() {
        "GET" | "HEAD" => match cloud.render(&k) {
            Some(body) => {
                let etag = current_etag.unwrap_or_default();
                if ctx.method == Method::HEAD {
                    Reply::empty(204).header("ETag", etag)
                } else {
                    Reply::json(200, body).header("ETag", etag)
                }
            }
            None => match cloud.require_parent(kind, parent) {
                Err(e) => e.into(),
                Ok(()) => ArmError::not_found(kind, id).into(),
            },
        },
        "PUT" | "PATCH" => {
            if let Err(e) = precondition(ctx, current_etag.as_deref()) {
                return e.into();
            }
            let body: Value = match serde_json::from_slice(&ctx.body) {
                Ok(v) => v,
                Err(e) => {
                    return ArmError::new(
                        400,
                        "InvalidRequestContent",
                        format!("The request content was invalid and could not be deserialized: {e}."),
                    )
                    .into();
                }
            };
            let patch = ctx.method == Method::PATCH;
            let outcome = match cloud.write(kind, id, name, parent, &body, patch) {
                Ok(o) => o,
                Err(e) => return e.into(),
            };
            shared.save(&cloud);
            let rendered = cloud.render(&outcome.key).unwrap_or(Value::Null);
            let etag = cloud.get(id).map(|r| r.etag.clone()).unwrap_or_default();
            let location = rendered.get("location").and_then(Value::as_str).unwrap_or("global").to_owned();
            let status = if outcome.created { 201 } else { 200 };
            let mut reply = match (&outcome.operation, kind.style(), patch) {
                (None, _, _) => Reply::json(status, rendered),
                (Some(op), Style::Location, true) => {
                    let (_, result) = operation_urls(ctx, subscription, kind, &location, op);
                    Reply::empty(202).header("Location", result)
                }
                (Some(op), _, _) => {
                    let (status_url, _) = operation_urls(ctx, subscription, kind, &location, op);
                    Reply::json(status, rendered).header("Azure-AsyncOperation", status_url)
                }
            };
            if outcome.operation.is_some() {
                reply = reply.header("Retry-After", shared.config.lro_retry_after_secs.to_string());
            }
            reply.resource = Some(outcome.key);
            if outcome.created {
                reply = reply.note("created");
            }
            reply.header("ETag", etag)
        }
        "DELETE" => {
            if let Err(e) = precondition(ctx, current_etag.as_deref()) {
                return e.into();
            }
            let location = cloud
                .get(id)
                .and_then(|r| r.body.get("location").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_else(|| "global".to_owned());
            if kind == Kind::RoleAssignment {
                // Role assignments are deleted at once: 200 with the object, 204 when absent.
                return match cloud.render(&k) {
                    None => Reply::empty(204),
                    Some(body) => {
                        cloud.remove_tree(&k);
                        shared.save(&cloud);
                        let mut reply = Reply::json(200, body);
                        reply.resource = Some(k);
                        reply.note("deleted")
                    }
                };
            }
            match cloud.delete(kind, id, parent) {
                Err(e) => e.into(),
                Ok(None) => Reply::empty(204),
                Ok(Some(op)) => {
                    shared.save(&cloud);
                    let (status_url, result_url) = operation_urls(ctx, subscription, kind, &location, &op);
                    let mut reply = Reply::empty(202)
                        .header("Location", result_url)
                        .header("Retry-After", shared.config.lro_retry_after_secs.to_string());
                    if kind.style() == Style::AsyncOperation {
                        reply = reply.header("Azure-AsyncOperation", status_url);
                    }
                    reply.resource = Some(k);
                    reply.note("deleted")
                }
            }
        }
        _ => method_not_allowed(ctx),
    }
}

fn operation(shared: &Shared, ctx: &Ctx, op_id: &str, result: bool) -> Reply {
    if ctx.method != Method::GET {
        return method_not_allowed(ctx);
    }
    let mut cloud = lock(&shared.cloud);
    let Some(op) = cloud.poll(op_id) else {
        return ArmError::new(404, "OperationNotFound", format!("The operation '{op_id}' was not found."))
            .into();
    };
    let (op_kind, key, kind, outcome, started) =
        (op.op, op.key.clone(), op.kind, op.outcome.clone(), op.started);
    let retry = shared.config.lro_retry_after_secs.to_string();
    let _ = started;
    if outcome.as_ref().is_some_and(Result::is_ok) || outcome.as_ref().is_some_and(Result::is_err) {
        shared.save(&cloud);
    }
    let op_url = format!("{}{}", ctx.base, ctx.path);
    if !result {
        let status_body = |status: &str| json!({ "id": ctx.path, "name": op_id, "status": status });
        return match outcome {
            None => Reply::json(200, status_body("InProgress")).header("Retry-After", retry),
            Some(Ok(())) => Reply::json(200, status_body("Succeeded")),
            Some(Err(e)) => {
                let mut body = status_body("Failed");
                body["error"] = json!({ "code": e.code, "message": e.message });
                Reply::json(200, body)
            }
        };
    }
    match outcome {
        None => Reply::empty(202)
            .header("Location", format!("{op_url}?api-version={}", api_version(ctx)))
            .header("Retry-After", retry),
        Some(Ok(())) => match op_kind {
            OpKind::Delete if kind == Kind::ResourceGroup => Reply::empty(200),
            OpKind::Delete => Reply::empty(204),
            OpKind::Put | OpKind::Patch => match cloud.render(&key) {
                Some(body) => Reply::json(200, body),
                None => Reply::empty(204),
            },
        },
        Some(Err(e)) => {
            Reply::json(400, json!({ "error": { "code": e.code, "message": e.message, "details": [] } }))
        }
    }
}

/// Serves connections from `listener` until the task is aborted.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let shared = shared.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(shared.clone(), req));
            let http = hyper::server::conn::http1::Builder::new();
            match tls {
                None => {
                    let _ = http.serve_connection(hyper_util::rt::TokioIo::new(stream), service).await;
                }
                Some(acceptor) => {
                    // A failed handshake (a client that does not trust the CA) ends only
                    // this connection.
                    if let Ok(stream) = acceptor.accept(stream).await {
                        let _ = http.serve_connection(hyper_util::rt::TokioIo::new(stream), service).await;
                    }
                }
            }
        });
    }
}
