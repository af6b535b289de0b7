//! Azure Container Registry's authentication: the bearer challenge, the token endpoint
//! (`/oauth2/token`, by HTTP Basic credentials, a refresh token or a password grant) and the
//! exchange of an Entra ID access token for a refresh token (`/oauth2/exchange`).
//!
//! Tokens are opaque strings issued here, each remembering the registry it is for and, for an
//! access token, the scopes granted. Every identity the emulator accepts (its service
//! principal, a registry's admin user, an Entra token the emulator issued) may pull, push and
//! delete everywhere, so a token is granted exactly the known actions it asked for; what is
//! enforced is that a request's token holds the action it needs on its repository.
//!
//! The action a request needs: `pull` for GET and HEAD, `push` for POST, PUT and PATCH (the
//! challenge asks for `pull,push`, as docker and ACR do), and `delete` for deleting a manifest or
//! a blob (ACR's own action; distribution asks for `*`). `GET /v2/_catalog` needs
//! `registry:catalog:*`.

use std::collections::{BTreeSet, HashMap};

use base64::Engine as _;

use crate::rng::Rng;

/// The user name docker clients pair with a refresh token (`az acr login --expose-token`).
pub(crate) const REFRESH_TOKEN_USER: &str = "00000000-0000-0000-0000-000000000000";

/// The actions a token may be granted.
const ACTIONS: [&str; 4] = ["pull", "push", "delete", "*"];

/// One scope: `repository:<name>:<actions>` or `registry:catalog:*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Scope {
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) actions: BTreeSet<String>,
}

impl Scope {
    /// Parses `type:name:action,action`; the name may hold colons (a type is one word, the
    /// actions come last).
    pub(crate) fn parse(text: &str) -> Option<Scope> {
        let (kind, rest) = text.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        if kind.is_empty() || name.is_empty() {
            return None;
        }
        let actions = actions.split(',').filter(|a| ACTIONS.contains(a)).map(str::to_owned).collect();
        Some(Scope { kind: kind.to_owned(), name: name.to_owned(), actions })
    }
}

/// What a token is.
#[derive(Debug)]
enum Grant {
    /// An access token: the scopes granted.
    Access(Vec<Scope>),
    /// A refresh token: exchanged for access tokens to the same registry.
    Refresh,
}

#[derive(Debug)]
struct Issued {
    registry: String,
    grant: Grant,
}

/// The tokens issued so far.
#[derive(Debug)]
pub(crate) struct Tokens {
    rng: Rng,
    issued: HashMap<String, Issued>,
}

/// A request's credentials, as the token endpoint judges them.
pub(crate) enum Credentials<'a> {
    /// HTTP Basic, or the password grant's form fields.
    Password { username: &'a str, password: &'a str },
    /// A refresh token.
    Refresh(&'a str),
}

/// Who may hold a registry's tokens: the credentials it accepts.
pub(crate) struct Accepts<'a> {
    /// The registry's name (lowercase).
    pub(crate) registry: &'a str,
    /// The service principal's secret (the emulator's configured one, or the default).
    pub(crate) principal_secret: &'a str,
    /// The admin user's passwords, when the registry's admin user is enabled.
    pub(crate) admin_passwords: Option<[String; 2]>,
}

impl Tokens {
    pub(crate) fn new(seed: u64) -> Tokens {
        Tokens { rng: Rng::new(seed), issued: HashMap::new() }
    }

    fn issue(&mut self, registry: &str, grant: Grant) -> String {
        let token = format!("acr.{:016x}{:016x}", self.rng.next_u64(), self.rng.next_u64());
        self.issued.insert(token.clone(), Issued { registry: registry.to_owned(), grant });
        token
    }

    /// A refresh token for `registry` (after an Entra token was checked).
    pub(crate) fn refresh(&mut self, registry: &str) -> String {
        self.issue(registry, Grant::Refresh)
    }

    /// Whether `credentials` are accepted by the registry.
    pub(crate) fn accepted(&self, credentials: &Credentials<'_>, accepts: &Accepts<'_>) -> bool {
        match *credentials {
            Credentials::Refresh(token) => self.is_refresh(token, accepts.registry),
            Credentials::Password { username, password } if username == REFRESH_TOKEN_USER => {
                self.is_refresh(password, accepts.registry)
            }
            Credentials::Password { username, password } => {
                (username == crate::principal::CLIENT_ID && password == accepts.principal_secret)
                    || (username.eq_ignore_ascii_case(accepts.registry)
                        && accepts.admin_passwords.as_ref().is_some_and(|p| p.iter().any(|p| p == password)))
            }
        }
    }

    fn is_refresh(&self, token: &str, registry: &str) -> bool {
        self.issued.get(token).is_some_and(|t| t.registry == registry && matches!(t.grant, Grant::Refresh))
    }

    /// An access token for `registry` granting `scopes`.
    pub(crate) fn access(&mut self, registry: &str, scopes: Vec<Scope>) -> String {
        self.issue(registry, Grant::Access(scopes))
    }

    /// Whether `token` is an access token for `registry` (any scope: `GET /v2/`).
    pub(crate) fn is_access(&self, token: &str, registry: &str) -> bool {
        self.issued.get(token).is_some_and(|t| t.registry == registry && matches!(t.grant, Grant::Access(_)))
    }

    /// Whether `token` is an access token for `registry` granting `action` on `kind:name`.
    pub(crate) fn allows(&self, token: &str, registry: &str, kind: &str, name: &str, action: &str) -> bool {
        let Some(Issued { registry: r, grant: Grant::Access(scopes) }) = self.issued.get(token) else {
            return false;
        };
        r == registry
            && scopes.iter().any(|s| {
                s.kind == kind && s.name == name && (s.actions.contains(action) || s.actions.contains("*"))
            })
    }

    /// Forgets every token of `registry` (it was deleted).
    pub(crate) fn forget(&mut self, registry: &str) {
        self.issued.retain(|_, t| t.registry != registry);
    }
}

/// The bearer token of an `Authorization` header.
pub(crate) fn bearer(authorization: Option<&str>) -> Option<&str> {
    let (scheme, token) = authorization?.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim()).filter(|t| !t.is_empty())
}

/// The user name and password of a Basic `Authorization` header (`None` when it is not one,
/// or not valid base64 of `user:password`).
pub(crate) fn basic(authorization: Option<&str>) -> Option<(String, String)> {
    let (scheme, encoded) = authorization?.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// The admin user's passwords for registry `name` (`password` and `password2`): derived from
/// the name, so the same across restarts and data directories, like the emulator's principal.
pub(crate) fn admin_passwords(name: &str) -> [String; 2] {
    let derive = |which: &str| {
        let digest =
            super::reference::digest_of(format!("lanestack-emulator acr admin {which} {name}").as_bytes());
        // ACR's passwords are 52 characters of base64's alphabet; hex is a subset.
        digest.trim_start_matches("sha256:")[..52].to_owned()
    };
    [derive("password"), derive("password2")]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_with_known_actions_only() {
        let s = Scope::parse("repository:a/b:pull,push,bogus").unwrap();
        assert_eq!((s.kind.as_str(), s.name.as_str()), ("repository", "a/b"));
        assert_eq!(s.actions.iter().collect::<Vec<_>>(), ["pull", "push"]);
        assert_eq!(Scope::parse("registry:catalog:*").unwrap().actions.len(), 1);
        assert!(Scope::parse("repository").is_none() && Scope::parse("::pull").is_none());
    }

    #[test]
    fn tokens_are_for_one_registry_and_their_scopes() {
        let mut tokens = Tokens::new(1);
        let t = tokens.access("one", vec![Scope::parse("repository:a:pull").unwrap()]);
        assert!(tokens.allows(&t, "one", "repository", "a", "pull"));
        assert!(!tokens.allows(&t, "one", "repository", "a", "push"));
        assert!(!tokens.allows(&t, "two", "repository", "a", "pull"));
        let r = tokens.refresh("one");
        let accepts = Accepts { registry: "one", principal_secret: "s", admin_passwords: None };
        assert!(tokens.accepted(&Credentials::Refresh(&r), &accepts));
        assert!(!tokens.accepted(&Credentials::Refresh(&t), &accepts));
        let user = Credentials::Password { username: REFRESH_TOKEN_USER, password: &r };
        assert!(tokens.accepted(&user, &accepts));
        assert!(!tokens.is_access(&r, "one"));
    }

    #[test]
    fn basic_headers_that_are_not_base64_are_no_credentials() {
        assert_eq!(basic(Some("Basic dTpw")), Some(("u".into(), "p".into())));
        assert_eq!(basic(Some("Basic !!!")), None);
        assert_eq!(basic(Some("Basic dQ==")), None);
        assert_eq!(basic(Some("Bearer x")), None);
    }
}
