//! The emulated container registries' data plane: each ARM registry
//! (`Microsoft.ContainerRegistry/registries/<name>`) answers the OCI distribution API and ACR's
//! token endpoints on its login server, `<name>.azurecr.io`.
//!
//! A request is for a registry when its `Host` header names the login server (port ignored,
//! any case): a client connects the registry's host name to the emulator's address (curl's
//! `--connect-to`, reqwest's `resolve`) and keeps the name for TLS (the emulator's certificate
//! covers `*.azurecr.io`) and the `Host` header. Such requests are diverted before ARM's
//! routing, so no ARM token, throttling or injected fault applies; names are global, so the
//! registry may be in any subscription and resource group.
//!
//! Modules: `reference` (names, tags, digests, routes), `auth` (ACR's tokens), `distribution`
//! (the API), `storage` (blobs and indexes, on disk with a data directory).
//!
//! Design decision: registries' content lives beside the cloud, not in it: the cloud's JSON is
//! rewritten on every ARM change, and blobs can be tens of megabytes. The link between the two
//! is the registry's name: deleting the ARM resource purges its content and tokens
//! ([`Registries::purge`], called for the names the cloud reports removed).

mod auth;
mod distribution;
pub(crate) mod reference;
mod storage;

use std::collections::HashMap;
use std::path::Path;

use bytes::Bytes;
use serde_json::{Value, json};

use crate::rng::Rng;
use crate::server::{Reply, parse_query};
use reference::{Route, is_repository};

/// The suffix of every login server.
const LOGIN_SUFFIX: &str = ".azurecr.io";

/// The registry name a `Host` header is the login server of (lowercase), if it is one.
pub(crate) fn registry_of_host(host: &str) -> Option<String> {
    // `name.azurecr.io:443`; a bracketed IPv6 literal never ends in the suffix.
    let name = host
        .rsplit_once(':')
        .map_or(host, |(h, port)| if port.bytes().all(|b| b.is_ascii_digit()) { h } else { host });
    let name = name.to_ascii_lowercase();
    let name = name.strip_suffix(LOGIN_SUFFIX)?;
    (!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric())).then(|| name.to_owned())
}

/// The error envelope of the distribution API.
pub(crate) fn error(status: u16, code: &str, message: &str, detail: Value) -> Reply {
    Reply::json(status, json!({ "errors": [{ "code": code, "message": message, "detail": detail }] }))
}

/// A registry request, as the server hands it over.
pub(crate) struct Request<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) query: Vec<(String, String)>,
    /// The `Host` header as sent (with its port), for the token realm.
    pub(crate) host: &'a str,
    /// `https` or `http`.
    pub(crate) scheme: &'a str,
    pub(crate) authorization: Option<&'a str>,
    pub(crate) content_type: Option<&'a str>,
    pub(crate) content_range: Option<&'a str>,
    pub(crate) body: Bytes,
    /// The registry's name (lowercase), from the host.
    pub(crate) registry: &'a str,
}

impl Request<'_> {
    /// The first query parameter called `name`.
    pub(crate) fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn login_server(&self) -> String {
        format!("{}{LOGIN_SUFFIX}", self.registry)
    }
}

/// What the cloud says about the registry a request is for.
pub(crate) struct Arm {
    /// Whether `properties.adminUserEnabled` is true.
    pub(crate) admin_user_enabled: bool,
}

/// What the server lends a registry request.
pub(crate) struct Context<'a> {
    /// The registry's ARM resource, or `None` when there is none of that name.
    pub(crate) arm: Option<Arm>,
    /// The service principal's secret the registries accept.
    pub(crate) principal_secret: &'a str,
    /// Whether a string is an Entra access token the emulator issued.
    pub(crate) entra_token: &'a dyn Fn(&str) -> bool,
}

/// An upload in progress.
#[derive(Debug)]
pub(crate) struct Upload {
    registry: String,
    repo: String,
    data: Vec<u8>,
}

/// The upload sessions, kept in memory only (a restart abandons them, as clients expect of a
/// registry that restarts).
#[derive(Debug)]
pub(crate) struct Uploads {
    rng: Rng,
    open: HashMap<String, Upload>,
}

impl Uploads {
    fn open(&mut self, registry: &str, repo: &str) -> String {
        let id = self.rng.uuid();
        self.open.insert(
            id.clone(),
            Upload { registry: registry.to_owned(), repo: repo.to_owned(), data: Vec::new() },
        );
        id
    }

    fn get_mut(&mut self, registry: &str, repo: &str, id: &str) -> Option<&mut Upload> {
        self.open.get_mut(id).filter(|u| u.registry == registry && u.repo == repo)
    }

    fn close(&mut self, id: &str) -> Option<Upload> {
        self.open.remove(id)
    }
}

/// Every registry's content, tokens and uploads.
#[derive(Debug)]
pub(crate) struct Registries {
    store: storage::Store,
    tokens: auth::Tokens,
    uploads: Uploads,
}

impl Registries {
    /// Registries kept in `data_dir` (or in memory); ids drawn from `seed`.
    pub(crate) fn new(data_dir: Option<&Path>, seed: u64) -> Registries {
        Registries {
            store: storage::Store::new(data_dir),
            tokens: auth::Tokens::new(seed ^ 0xac5),
            uploads: Uploads { rng: Rng::new(seed ^ 0x0c1), open: HashMap::new() },
        }
    }

    /// Drops registry `name`'s content, tokens and uploads: its ARM resource is gone.
    pub(crate) fn purge(&mut self, name: &str) {
        let name = name.to_ascii_lowercase();
        self.store.purge(&name);
        self.tokens.forget(&name);
        self.uploads.open.retain(|_, u| u.registry != name);
    }

    /// Drops the content on disk of every registry `exists` denies.
    pub(crate) fn purge_unless(&mut self, exists: impl Fn(&str) -> bool) {
        self.store.purge_unless(exists);
    }

    /// Answers one request for a registry's login server.
    pub(crate) fn handle(&mut self, req: &Request<'_>, ctx: &Context<'_>) -> Reply {
        self.answer(req, ctx).header("Docker-Distribution-API-Version", "registry/2.0")
    }

    fn answer(&mut self, req: &Request<'_>, ctx: &Context<'_>) -> Reply {
        let Some(arm) = &ctx.arm else {
            return error(
                404,
                "NAME_UNKNOWN",
                "registry name not known",
                json!({ "registry": req.login_server() }),
            );
        };
        let Some(route) = Route::parse(req.path) else {
            return error(404, "UNSUPPORTED", "The operation is unsupported.", json!({ "path": req.path }));
        };
        if let Some(repo) = route.repository()
            && !is_repository(repo)
        {
            return error(400, "NAME_INVALID", "invalid repository name", json!({ "name": repo }));
        }
        let token = auth::bearer(req.authorization).unwrap_or_default();
        let registry = req.registry;
        let allows =
            |kind: &str, name: &str, action: &str| self.tokens.allows(token, registry, kind, name, action);
        match route {
            Route::Token => return self.token(req, ctx, arm),
            Route::Exchange => return self.exchange(req, ctx),
            Route::Base => {
                return match self.tokens.is_access(token, registry) {
                    true => Reply::json(200, json!({})),
                    false => challenge(req, None),
                };
            }
            Route::Catalog => {
                if !allows("registry", "catalog", "*") {
                    return challenge(req, Some(("registry", "catalog", "*")));
                }
                return distribution::catalog(self.store.registry(registry), req);
            }
            Route::Tags { .. }
            | Route::Manifest { .. }
            | Route::Uploads { .. }
            | Route::Upload { .. }
            | Route::Blob { .. } => {}
        }
        let repo = route.repository().unwrap_or_default();
        let (action, asked) = match (req.method, &route) {
            ("GET" | "HEAD", _) => ("pull", "pull"),
            ("DELETE", Route::Manifest { .. } | Route::Blob { .. }) => ("delete", "delete"),
            _ => ("push", "pull,push"),
        };
        if !allows("repository", repo, action) {
            return challenge(req, Some(("repository", repo, asked)));
        }
        let may_mount = req.query("from").is_some_and(|from| allows("repository", from, "pull"));
        let content = self.store.registry(registry);
        match route {
            Route::Tags { repo } => distribution::tags(content, req, repo),
            Route::Manifest { repo, reference } => distribution::manifest(content, req, repo, reference),
            Route::Uploads { repo } => {
                distribution::start_upload(content, &mut self.uploads, req, repo, may_mount)
            }
            Route::Upload { repo, id } => distribution::upload(content, &mut self.uploads, req, repo, id),
            Route::Blob { repo, digest } => distribution::blob(content, req, repo, digest),
            Route::Base | Route::Catalog | Route::Token | Route::Exchange => {
                error(404, "UNSUPPORTED", "The operation is unsupported.", json!({}))
            }
        }
    }

    /// `GET /oauth2/token` (HTTP Basic) and `POST /oauth2/token` (a refresh token or password
    /// grant): an access token for the scopes asked.
    fn token(&mut self, req: &Request<'_>, ctx: &Context<'_>, arm: &Arm) -> Reply {
        let form = match req.method {
            "GET" => req.query.clone(),
            "POST" => parse_query(&String::from_utf8_lossy(&req.body)),
            other => {
                return error(
                    405,
                    "UNSUPPORTED",
                    "The operation is unsupported.",
                    json!({ "method": other }),
                );
            }
        };
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let basic = auth::basic(req.authorization);
        let credentials = match (req.method, field("grant_type")) {
            ("GET", _) => match &basic {
                Some((username, password)) => auth::Credentials::Password { username, password },
                None => return unauthorized("credentials are required"),
            },
            (_, Some("refresh_token")) => {
                auth::Credentials::Refresh(field("refresh_token").unwrap_or_default())
            }
            (_, Some("password")) => auth::Credentials::Password {
                username: field("username").unwrap_or_default(),
                password: field("password").unwrap_or_default(),
            },
            (_, grant) => {
                let detail = json!({ "grant_type": grant });
                return error(400, "UNSUPPORTED", "grant_type must be refresh_token or password", detail);
            }
        };
        if let Some(reply) = wrong_service(req, field("service")) {
            return reply;
        }
        let admin_passwords = arm.admin_user_enabled.then(|| auth::admin_passwords(req.registry));
        let accepts =
            auth::Accepts { registry: req.registry, principal_secret: ctx.principal_secret, admin_passwords };
        if !self.tokens.accepted(&credentials, &accepts) {
            return unauthorized("the credentials are not valid for this registry");
        }
        let scopes = form
            .iter()
            .filter(|(k, _)| k == "scope")
            .flat_map(|(_, v)| v.split(' '))
            .filter_map(auth::Scope::parse)
            .collect();
        let token = self.tokens.access(req.registry, scopes);
        Reply::json(200, json!({ "access_token": token }))
    }

    /// `POST /oauth2/exchange`: an Entra access token the emulator issued, for a refresh token
    /// of this registry.
    fn exchange(&mut self, req: &Request<'_>, ctx: &Context<'_>) -> Reply {
        if req.method != "POST" {
            return error(
                405,
                "UNSUPPORTED",
                "The operation is unsupported.",
                json!({ "method": req.method }),
            );
        }
        let form = parse_query(&String::from_utf8_lossy(&req.body));
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        if field("grant_type") != Some("access_token") {
            let detail = json!({ "grant_type": field("grant_type") });
            return error(400, "UNSUPPORTED", "grant_type must be access_token", detail);
        }
        if let Some(reply) = wrong_service(req, field("service")) {
            return reply;
        }
        match field("access_token") {
            Some(token) if (ctx.entra_token)(token) => {
                Reply::json(200, json!({ "refresh_token": self.tokens.refresh(req.registry) }))
            }
            _ => unauthorized("the access token is not valid"),
        }
    }
}

fn unauthorized(why: &str) -> Reply {
    error(401, "UNAUTHORIZED", why, json!({})).note("unauthorized")
}

/// A 401 when a token request names another registry as its service.
fn wrong_service(req: &Request<'_>, service: Option<&str>) -> Option<Reply> {
    let login = req.login_server();
    service
        .filter(|s| !s.eq_ignore_ascii_case(&login))
        .map(|s| unauthorized(&format!("service '{s}' is not {login}")))
}

/// The 401 that tells a client where to get a token, and for which scope.
fn challenge(req: &Request<'_>, scope: Option<(&str, &str, &str)>) -> Reply {
    let mut value = format!(
        "Bearer realm=\"{}://{}/oauth2/token\",service=\"{}\"",
        req.scheme,
        req.host,
        req.login_server()
    );
    let detail = match scope {
        Some((kind, name, actions)) => {
            value.push_str(&format!(",scope=\"{kind}:{name}:{actions}\""));
            actions.split(',').map(|a| json!({ "Type": kind, "Name": name, "Action": a })).collect()
        }
        None => Vec::new(),
    };
    error(
        401,
        "UNAUTHORIZED",
        "authentication required, visit https://aka.ms/acr/authorization for more information.",
        Value::Array(detail),
    )
    .header("WWW-Authenticate", value)
    .note("unauthorized")
}

/// `listCredentials`' answer for registry `name`: the admin user and its two passwords.
pub(crate) fn admin_credentials(name: &str) -> Value {
    let [password, password2] = auth::admin_passwords(&name.to_ascii_lowercase());
    json!({
        "username": name,
        "passwords": [{ "name": "password", "value": password }, { "name": "password2", "value": password2 }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_servers_name_their_registry() {
        assert_eq!(registry_of_host("LanesLab.AzureCR.io:8443").as_deref(), Some("laneslab"));
        assert_eq!(registry_of_host("laneslab.azurecr.io").as_deref(), Some("laneslab"));
        for not in
            ["127.0.0.1:80", "azurecr.io", ".azurecr.io", "a.b.azurecr.io", "[::1]:80", "x.azurecr.io:p"]
        {
            assert_eq!(registry_of_host(not), None, "{not}");
        }
    }
}
