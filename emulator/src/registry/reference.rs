//! The names a registry request carries: repository names, tags and digests, with the
//! grammars of the OCI distribution spec, and the route a `/v2/` path asks for.

// The grammar is the OCI distribution spec's, shared with lanestack's image provider.
pub(crate) use lanestack_oci::{is_digest, is_repository, is_tag, sha256 as digest_of};

/// What a path on a registry's host asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route<'a> {
    /// `/v2/`: the API version check.
    Base,
    /// `/v2/_catalog`.
    Catalog,
    /// `/v2/<name>/tags/list`.
    Tags { repo: &'a str },
    /// `/v2/<name>/manifests/<reference>`.
    Manifest { repo: &'a str, reference: &'a str },
    /// `/v2/<name>/blobs/uploads/` (a new upload).
    Uploads { repo: &'a str },
    /// `/v2/<name>/blobs/uploads/<id>`.
    Upload { repo: &'a str, id: &'a str },
    /// `/v2/<name>/blobs/<digest>`.
    Blob { repo: &'a str, digest: &'a str },
    /// `/oauth2/token`.
    Token,
    /// `/oauth2/exchange`.
    Exchange,
}

impl<'a> Route<'a> {
    /// The route of `path`, or `None` for a path the registry does not serve. The repository
    /// name is not checked here (see [`is_repository`]).
    pub(crate) fn parse(path: &'a str) -> Option<Route<'a>> {
        match path {
            "/v2" | "/v2/" => return Some(Route::Base),
            "/v2/_catalog" => return Some(Route::Catalog),
            "/oauth2/token" => return Some(Route::Token),
            "/oauth2/exchange" => return Some(Route::Exchange),
            _ => {}
        }
        let rest = path.strip_prefix("/v2/")?;
        if let Some(repo) = rest.strip_suffix("/tags/list") {
            return Some(Route::Tags { repo });
        }
        if let Some(repo) =
            rest.strip_suffix("/blobs/uploads/").or_else(|| rest.strip_suffix("/blobs/uploads"))
        {
            return Some(Route::Uploads { repo });
        }
        // The last marker wins: a repository may be called `blobs/x`, an id or digest never
        // holds a `/`.
        let (head, last) = rest.rsplit_once('/')?;
        if let Some(repo) = head.strip_suffix("/blobs/uploads") {
            return Some(Route::Upload { repo, id: last });
        }
        if let Some(repo) = head.strip_suffix("/manifests") {
            return Some(Route::Manifest { repo, reference: last });
        }
        if let Some(repo) = head.strip_suffix("/blobs") {
            return Some(Route::Blob { repo, digest: last });
        }
        None
    }

    /// The repository the route is about, if any.
    pub(crate) fn repository(&self) -> Option<&'a str> {
        match *self {
            Route::Tags { repo }
            | Route::Manifest { repo, .. }
            | Route::Uploads { repo }
            | Route::Upload { repo, .. }
            | Route::Blob { repo, .. } => Some(repo),
            Route::Base | Route::Catalog | Route::Token | Route::Exchange => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_follow_the_distribution_grammar() {
        for ok in ["a", "a/b/c", "lanes-lab", "a--b", "a__b", "a.b", "a_b/c.d", "0"] {
            assert!(is_repository(ok), "{ok}");
        }
        for bad in ["", "A", "a/", "/a", "a//b", "-a", "a-", "a..b", "a___b", "a.-b", "a b", "a:b"] {
            assert!(!is_repository(bad), "{bad}");
        }
        assert!(!is_repository(&"a".repeat(256)));
    }

    #[test]
    fn tags_and_digests() {
        assert!(is_tag("v1.0_rc-1") && is_tag("_x") && is_tag(&"a".repeat(128)));
        assert!(!is_tag("") && !is_tag("-x") && !is_tag(".x") && !is_tag(&"a".repeat(129)) && !is_tag("a/b"));
        let d = digest_of(b"hello");
        assert_eq!(d, "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        assert!(is_digest(&d));
        assert!(!is_digest(&d.to_uppercase()) && !is_digest("sha256:zz") && !is_digest("sha512:ab"));
    }

    #[test]
    fn routes() {
        let d = "sha256:00";
        assert_eq!(Route::parse("/v2/"), Some(Route::Base));
        assert_eq!(Route::parse("/v2/a/b/tags/list"), Some(Route::Tags { repo: "a/b" }));
        assert_eq!(Route::parse("/v2/a/b/blobs/uploads/"), Some(Route::Uploads { repo: "a/b" }));
        assert_eq!(Route::parse("/v2/a/blobs/uploads/u"), Some(Route::Upload { repo: "a", id: "u" }));
        assert_eq!(Route::parse(&format!("/v2/a/blobs/{d}")), Some(Route::Blob { repo: "a", digest: d }));
        assert_eq!(
            Route::parse("/v2/blobs/x/manifests/v1"),
            Some(Route::Manifest { repo: "blobs/x", reference: "v1" })
        );
        assert_eq!(Route::parse("/v2/a/other/x"), None);
        assert_eq!(Route::parse("/v3/"), None);
    }
}
