//! The OCI distribution spec's names, for both sides of the protocol: lanestack's image
//! provider (a client) and the emulator's registries (a server) read them by one grammar.
//!
//! - Image references: `[registry/]repository[:tag][@sha256:hex]`, by the rules of the
//!   distribution reference grammar (the one `docker pull` and Kubernetes follow). The first
//!   path component is a registry when it has a `.` or a `:`, or is `localhost`; otherwise the
//!   reference is Docker Hub's (`docker.io`, whose single-component repositories live under
//!   `library/`).
//! - Repository names, tags and digests on their own ([`check_repository`], [`is_tag`],
//!   [`check_digest`]), and the digest of some bytes ([`sha256`]).

use std::fmt;

use sha2::{Digest as _, Sha256};

/// `sha256:<hex>` of `bytes`: the canonical digest of a blob or manifest.
pub fn sha256(bytes: &[u8]) -> String {
    digest_of_hash(&Sha256::digest(bytes))
}

/// `sha256:<hex>` of a SHA-256 hash already computed (a hasher fed in pieces, a stream).
pub fn digest_of_hash(hash: &[u8]) -> String {
    let mut out = String::with_capacity(7 + 2 * hash.len());
    out.push_str("sha256:");
    for b in hash {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Whether `name` is a repository name (see [`check_repository`]).
pub fn is_repository(name: &str) -> bool {
    check_repository(name).is_ok()
}

/// Whether `tag` is a tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
pub fn is_tag(tag: &str) -> bool {
    check_tag(tag).is_ok()
}

/// Whether `digest` is a sha256 digest in canonical form (see [`check_digest`]).
pub fn is_digest(digest: &str) -> bool {
    check_digest(digest).is_ok()
}

/// Docker Hub's name in references, and the host its API is served from.
const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A parsed image reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// The registry's host, with its port if any (`laneslab.azurecr.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// The repository within it (`lanestack-trainer`, `library/debian`).
    pub repository: String,
    /// The tag, if the reference has one.
    pub tag: Option<String>,
    /// The manifest digest (`sha256:…`), if the reference pins one.
    pub digest: Option<String>,
}

impl Reference {
    /// Parses `text`, or says what is wrong with it.
    pub fn parse(text: &str) -> Result<Reference, String> {
        let bad = |why: &str| format!("{text:?} is not an image reference: {why}");
        if text.is_empty() {
            return Err(bad("it is empty"));
        }
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => {
                check_digest(digest).map_err(|why| bad(&why))?;
                (rest, Some(digest.to_owned()))
            }
            None => (text, None),
        };
        // A tag follows the last ':' after the last '/' (a port's ':' comes before a '/').
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            check_tag(tag).map_err(|why| bad(&why))?;
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
                (first.to_owned(), rest.to_owned())
            }
            _ => (DOCKER_HUB.to_owned(), name.to_owned()),
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        check_registry(&registry).map_err(|why| bad(&why))?;
        check_repository(&repository).map_err(|why| bad(&why))?;
        Ok(Reference { registry, repository, tag: tag.map(str::to_owned), digest })
    }

    /// The host to send API requests to (Docker Hub's API is not at `docker.io`).
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB { DOCKER_HUB_API } else { &self.registry }
    }

    /// `registry/repository`, the name without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// What to ask the registry for: the digest when pinned, else the tag, else `latest`.
    pub fn manifest_reference(&self) -> &str {
        self.digest.as_deref().or(self.tag.as_deref()).unwrap_or("latest")
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// A repository name: path components of lowercase letters and digits, separated inside a
/// component by `.`, `_`, `__` or dashes.
pub fn check_repository(repository: &str) -> Result<(), String> {
    if repository.is_empty() {
        return Err("the repository name is empty".to_owned());
    }
    if repository.len() > 255 {
        return Err("the repository name is longer than 255 characters".to_owned());
    }
    for component in repository.split('/') {
        if !component_is_valid(component) {
            return Err(format!(
                "the repository component {component:?} must be lowercase letters and digits, separated by \
                 '.', '_', '__' or dashes"
            ));
        }
    }
    Ok(())
}

fn component_is_valid(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        // A separator run: one '.', one or two '_', or any number of '-'.
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let run = &component[start..i];
        let ok = run == "." || run == "_" || run == "__" || run.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn check_registry(registry: &str) -> Result<(), String> {
    let (host, port) = match registry.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || registry.starts_with('[') => (host, Some(port)),
        _ => (registry, None),
    };
    if let Some(port) = port
        && port.parse::<u16>().is_err()
    {
        return Err(format!("the registry's port {port:?} is not a port number"));
    }
    let host_ok = !host.is_empty()
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'));
    if host_ok { Ok(()) } else { Err(format!("the registry host {host:?} is not a host name")) }
}

fn check_tag(tag: &str) -> Result<(), String> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && tag.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the tag {tag:?} must be 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"
        ))
    }
}

/// A content digest this provider handles: `sha256:` and 64 lowercase hex digits.
pub fn check_digest(digest: &str) -> Result<(), String> {
    match digest.strip_prefix("sha256:") {
        Some(hex)
            if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
        {
            Ok(())
        }
        _ => Err(format!("the digest {digest:?} is not sha256: and 64 lowercase hex digits")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn parts(text: &str) -> (String, String, Option<String>, Option<String>) {
        let r = Reference::parse(text).unwrap();
        (r.registry, r.repository, r.tag, r.digest)
    }

    #[test]
    fn references_split_as_docker_reads_them() {
        let s = |v: &str| v.to_owned();
        assert_eq!(parts("debian"), (s("docker.io"), s("library/debian"), None, None));
        assert_eq!(
            parts("debian:bookworm"),
            (s("docker.io"), s("library/debian"), Some(s("bookworm")), None)
        );
        assert_eq!(parts("nvidia/cuda:12.8.0"), (s("docker.io"), s("nvidia/cuda"), Some(s("12.8.0")), None));
        assert_eq!(
            parts("laneslab.azurecr.io/lanestack-trainer:0.1.0"),
            (s("laneslab.azurecr.io"), s("lanestack-trainer"), Some(s("0.1.0")), None)
        );
        assert_eq!(
            parts(&format!("127.0.0.1:5000/a/b@{D}")),
            (s("127.0.0.1:5000"), s("a/b"), None, Some(s(D)))
        );
        assert_eq!(parts(&format!("localhost/x:t@{D}")), (s("localhost"), s("x"), Some(s("t")), Some(s(D))));
        let r = Reference::parse("localhost:5000/x").unwrap();
        assert_eq!(
            (r.api_host(), r.manifest_reference(), r.to_string().as_str()),
            ("localhost:5000", "latest", "localhost:5000/x")
        );
        assert_eq!(Reference::parse("debian").unwrap().api_host(), "registry-1.docker.io");
    }

    #[test]
    fn bad_references_say_why() {
        for (text, why) in [
            ("", "empty"),
            ("Registry.io/Upper", "lowercase"),
            ("r.io/a//b", "repository component"),
            ("r.io/a:", "tag"),
            ("r.io/a:-x", "tag"),
            ("r.io/a@sha256:abc", "64 lowercase hex"),
            ("r.io:99999/a", "port"),
            ("r.io/a..b", "separated"),
        ] {
            let e = Reference::parse(text).unwrap_err();
            assert!(e.contains(why), "{text:?}: {e}");
        }
        assert!(component_is_valid("a__b") && component_is_valid("a---b") && !component_is_valid("a___b"));
    }
}
