//! The OCI distribution API on one registry: blobs, upload sessions, manifests, tags and the
//! catalog, answering as Docker's `distribution` 2.8 does (the registry Debian packages),
//! except where it departs from the OCI distribution spec 1.1, which the emulator follows:
//!
//! - a monolithic `POST …/blobs/uploads/?digest=` stores the blob (201); 2.8 ignores the
//!   digest and opens a session (202), which the spec allows and clients handle;
//! - a `PATCH` whose `Content-Range` does not start where the upload ends is refused (416);
//!   2.8 ignores the header;
//! - tags are listed in lexical order and paginated with `n` and `last` (2.8 lists them
//!   unsorted and ignores both);
//! - a manifest is served whatever the `Accept` header says (2.8 hides OCI manifests from a
//!   client that does not accept them); a `Range` on a blob is ignored (whole blob, 200);
//! - a repository exists (`tags/list`, `_catalog`) while it holds a manifest, as in ACR; 2.8
//!   lists a repository that only ever received a blob in its catalog;
//! - an invalid repository name, tag or digest in a path is 400 NAME_INVALID, TAG_INVALID or
//!   DIGEST_INVALID, where 2.8's router answers a plain-text 404.
//!
//! Like 2.8 (and ACR), a manifest is deleted by digest only: `DELETE …/manifests/<tag>` is 400
//! DIGEST_INVALID. Deleting a manifest removes the tags pointing at it.

use bytes::Bytes;
use serde_json::{Value, json};

use super::reference::{digest_of, is_digest, is_repository, is_tag};
use super::storage::Registry;
use super::{Request, Upload, error};
use crate::server::Reply;

/// The manifest media types a registry accepts, the first two images, the last two indexes.
const IMAGE_TYPES: [&str; 2] =
    ["application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json"];
const INDEX_TYPES: [&str; 2] =
    ["application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"];

fn digest_invalid(detail: Value) -> Reply {
    error(400, "DIGEST_INVALID", "provided digest did not match uploaded content", detail)
}

fn blob_unknown(digest: &str) -> Reply {
    error(404, "BLOB_UNKNOWN", "blob unknown to registry", json!(digest))
}

fn upload_unknown() -> Reply {
    error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", json!({}))
}

fn manifest_invalid(detail: Value) -> Reply {
    error(400, "MANIFEST_INVALID", "manifest invalid", detail)
}

fn unsupported(method: &str) -> Reply {
    error(405, "UNSUPPORTED", "The operation is unsupported.", json!({ "method": method }))
}

/// The `Range` header of an upload holding `len` bytes (distribution says `0-0` when empty).
fn range(len: usize) -> String {
    format!("0-{}", len.saturating_sub(1))
}

/// A blob is in the repository: linked there and its bytes stored.
fn linked(registry: &Registry, repo: &str, digest: &str) -> bool {
    registry.repositories.get(repo).is_some_and(|r| r.blobs.contains(digest))
        && registry.blob_len(digest).is_some()
}

/// Links a stored blob to a repository and saves the index.
fn link(registry: &mut Registry, repo: &str, digest: &str) -> Result<(), Reply> {
    registry.repositories.entry(repo.to_owned()).or_default().blobs.insert(digest.to_owned());
    saved(registry)
}

fn saved(registry: &Registry) -> Result<(), Reply> {
    registry.save().map_err(storage_failed)
}

fn storage_failed(e: std::io::Error) -> Reply {
    error(
        500,
        "UNKNOWN",
        "unknown error",
        json!(format!("the emulator could not write its data directory: {e}")),
    )
}

fn blob_created(repo: &str, digest: &str) -> Reply {
    Reply::empty(201)
        .header("Location", format!("/v2/{repo}/blobs/{digest}"))
        .header("Docker-Content-Digest", digest)
}

/// `HEAD|GET|DELETE /v2/<repo>/blobs/<digest>`.
pub(super) fn blob(registry: &mut Registry, req: &Request<'_>, repo: &str, digest: &str) -> Reply {
    if !is_digest(digest) {
        return digest_invalid(json!({}));
    }
    let found = linked(registry, repo, digest);
    match req.method {
        "HEAD" => match registry.blob_len(digest).filter(|_| found) {
            None => Reply::empty(404),
            Some(len) => Reply::empty(200)
                .header("Content-Type", "application/octet-stream")
                .header("Content-Length", len.to_string())
                .header("Docker-Content-Digest", digest)
                .header("ETag", format!("\"{digest}\"")),
        },
        "GET" => match registry.blob(digest).filter(|_| found) {
            None => blob_unknown(digest),
            Some(bytes) => Reply::raw(200, "application/octet-stream", bytes)
                .header("Docker-Content-Digest", digest)
                .header("ETag", format!("\"{digest}\"")),
        },
        "DELETE" if found => {
            if let Some(r) = registry.repositories.get_mut(repo) {
                r.blobs.remove(digest);
            }
            match saved(registry) {
                Ok(()) => Reply::empty(202),
                Err(reply) => reply,
            }
        }
        "DELETE" => blob_unknown(digest),
        other => unsupported(other),
    }
}

/// `POST /v2/<repo>/blobs/uploads/`: a mount, a monolithic upload or a new session.
/// `may_mount` says whether the request's token may pull from the `from` repository.
pub(super) fn start_upload(
    registry: &mut Registry,
    uploads: &mut super::Uploads,
    req: &Request<'_>,
    repo: &str,
    may_mount: bool,
) -> Reply {
    if req.method != "POST" {
        return unsupported(req.method);
    }
    if let (Some(digest), Some(from)) = (req.query("mount"), req.query("from"))
        && may_mount
        && is_digest(digest)
        && is_repository(from)
        && linked(registry, from, digest)
    {
        return match link(registry, repo, digest) {
            Ok(()) => blob_created(repo, digest),
            Err(reply) => reply,
        };
    }
    if let Some(digest) = req.query("digest") {
        if !is_digest(digest) || digest_of(&req.body) != digest {
            return digest_invalid(json!({ "Digest": digest }));
        }
        if let Err(e) = registry.put_blob(digest, req.body.clone()) {
            return storage_failed(e);
        }
        return match link(registry, repo, digest) {
            Ok(()) => blob_created(repo, digest),
            Err(reply) => reply,
        };
    }
    let id = uploads.open(req.registry, repo);
    session(202, repo, &id, 0)
}

/// A reply about upload session `id` holding `len` bytes.
fn session(status: u16, repo: &str, id: &str, len: usize) -> Reply {
    Reply::empty(status)
        .header("Location", format!("/v2/{repo}/blobs/uploads/{id}"))
        .header("Docker-Upload-UUID", id)
        .header("Range", range(len))
}

/// Whether a `Content-Range` (`<start>-<end>`, inclusive) continues an upload of `len` bytes
/// with a chunk of `chunk` bytes.
fn continues(content_range: &str, len: usize, chunk: usize) -> bool {
    let Some((start, end)) = content_range.trim().trim_start_matches("bytes=").split_once('-') else {
        return false;
    };
    let (Ok(start), Ok(end)) = (start.trim().parse::<u64>(), end.trim().parse::<u64>()) else {
        return false;
    };
    start == len as u64 && end.checked_sub(start).and_then(|n| n.checked_add(1)) == Some(chunk as u64)
}

/// `GET|PATCH|PUT|DELETE /v2/<repo>/blobs/uploads/<id>`.
pub(super) fn upload(
    registry: &mut Registry,
    uploads: &mut super::Uploads,
    req: &Request<'_>,
    repo: &str,
    id: &str,
) -> Reply {
    let Some(upload) = uploads.get_mut(req.registry, repo, id) else {
        return upload_unknown();
    };
    match req.method {
        "GET" => session(204, repo, id, upload.data.len()),
        "PATCH" => {
            if let Some(content_range) = req.content_range
                && !continues(content_range, upload.data.len(), req.body.len())
            {
                return error(416, "BLOB_UPLOAD_INVALID", "blob upload invalid", json!({}))
                    .header("Range", range(upload.data.len()))
                    .header("Location", format!("/v2/{repo}/blobs/uploads/{id}"));
            }
            upload.data.extend_from_slice(&req.body);
            session(202, repo, id, upload.data.len())
        }
        "PUT" => {
            let Some(digest) = req.query("digest").filter(|d| is_digest(d)) else {
                return digest_invalid(json!({}));
            };
            upload.data.extend_from_slice(&req.body);
            if digest_of(&upload.data) != digest {
                // The session stays open, as in distribution: the client may fix the digest.
                return digest_invalid(json!({ "Digest": digest }));
            }
            let Some(Upload { data, .. }) = uploads.close(id) else { return upload_unknown() };
            if let Err(e) = registry.put_blob(digest, Bytes::from(data)) {
                return storage_failed(e);
            }
            match link(registry, repo, digest) {
                Ok(()) => blob_created(repo, digest),
                Err(reply) => reply,
            }
        }
        "DELETE" => {
            uploads.close(id);
            Reply::empty(204).header("Docker-Upload-UUID", id)
        }
        other => unsupported(other),
    }
}

/// The digests a manifest of `media_type` refers to, and whether they are manifests (an
/// index's) rather than blobs; or why the manifest is invalid.
fn references(media_type: &str, manifest: &Value) -> Result<(Vec<String>, bool), String> {
    let digest_at = |v: &Value, what: &str| -> Result<String, String> {
        match v.get("digest").and_then(Value::as_str) {
            Some(d) if is_digest(d) => Ok(d.to_owned()),
            _ => Err(format!("{what} has no valid digest")),
        }
    };
    if manifest.get("schemaVersion").and_then(Value::as_u64) != Some(2) {
        return Err("schemaVersion must be 2".into());
    }
    match manifest.get("mediaType") {
        None => {}
        Some(Value::String(m)) if m == media_type => {}
        Some(_) => return Err(format!("mediaType does not match the Content-Type {media_type}")),
    }
    let array = |field: &str| {
        manifest.get(field).and_then(Value::as_array).ok_or(format!("{field} must be an array"))
    };
    if INDEX_TYPES.contains(&media_type) {
        let digests =
            array("manifests")?.iter().map(|m| digest_at(m, "a manifest")).collect::<Result<_, _>>()?;
        return Ok((digests, true));
    }
    let config = manifest.get("config").ok_or("config is missing")?;
    let mut digests = vec![digest_at(config, "config")?];
    for layer in array("layers")? {
        digests.push(digest_at(layer, "a layer")?);
    }
    Ok((digests, false))
}

/// `HEAD|GET|PUT|DELETE /v2/<repo>/manifests/<reference>`.
pub(super) fn manifest(registry: &mut Registry, req: &Request<'_>, repo: &str, reference: &str) -> Reply {
    let by_digest = is_digest(reference);
    if !by_digest && reference.contains(':') {
        return digest_invalid(json!({}));
    }
    if !by_digest && !is_tag(reference) {
        return error(400, "TAG_INVALID", "manifest tag did not match URI", json!({ "Tag": reference }));
    }
    match req.method {
        "GET" | "HEAD" => {
            let stored = registry.repositories.get(repo).and_then(|r| {
                let digest = if by_digest { reference } else { r.tags.get(reference)? };
                Some((digest.to_owned(), r.manifests.get(digest)?.clone()))
            });
            let unknown = || {
                let detail = if by_digest {
                    json!({ "Name": repo, "Revision": reference })
                } else {
                    json!({ "Tag": reference })
                };
                error(404, "MANIFEST_UNKNOWN", "manifest unknown", detail)
            };
            let Some((digest, media_type)) = stored else { return unknown() };
            let Some(bytes) = registry.blob(&digest) else { return unknown() };
            let reply = if req.method == "HEAD" {
                Reply::empty(200)
                    .header("Content-Type", media_type)
                    .header("Content-Length", bytes.len().to_string())
            } else {
                Reply::raw(200, &media_type, bytes)
            };
            reply.header("Docker-Content-Digest", &digest).header("ETag", format!("\"{digest}\""))
        }
        "PUT" => put_manifest(registry, req, repo, reference, by_digest),
        "DELETE" if !by_digest => digest_invalid(json!({})),
        "DELETE" => {
            let Some(r) = registry.repositories.get_mut(repo).filter(|r| r.manifests.contains_key(reference))
            else {
                return error(404, "MANIFEST_UNKNOWN", "manifest unknown", json!({}));
            };
            r.manifests.remove(reference);
            r.tags.retain(|_, d| d != reference);
            match saved(registry) {
                Ok(()) => Reply::empty(202),
                Err(reply) => reply,
            }
        }
        other => unsupported(other),
    }
}

fn put_manifest(
    registry: &mut Registry,
    req: &Request<'_>,
    repo: &str,
    reference: &str,
    by_digest: bool,
) -> Reply {
    let media_type = req.content_type.unwrap_or_default().split(';').next().unwrap_or_default().trim();
    if !IMAGE_TYPES.contains(&media_type) && !INDEX_TYPES.contains(&media_type) {
        return manifest_invalid(json!({ "ContentType": media_type }));
    }
    let parsed: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(e) => return manifest_invalid(json!(e.to_string())),
    };
    let (digests, are_manifests) = match references(media_type, &parsed) {
        Ok(found) => found,
        Err(why) => return manifest_invalid(json!(why)),
    };
    let present = |d: &String| match are_manifests {
        true => registry.repositories.get(repo).is_some_and(|r| r.manifests.contains_key(d)),
        false => linked(registry, repo, d),
    };
    let missing: Vec<Value> = digests
        .iter()
        .filter(|d| !present(d))
        .map(|d| json!({ "code": "MANIFEST_BLOB_UNKNOWN", "message": "blob unknown to registry", "detail": d }))
        .collect();
    if !missing.is_empty() {
        return Reply::json(400, json!({ "errors": missing }));
    }
    let digest = digest_of(&req.body);
    if by_digest && reference != digest {
        return digest_invalid(json!({}));
    }
    if let Err(e) = registry.put_blob(&digest, req.body.clone()) {
        return storage_failed(e);
    }
    let r = registry.repositories.entry(repo.to_owned()).or_default();
    r.manifests.insert(digest.clone(), media_type.to_owned());
    if !by_digest {
        r.tags.insert(reference.to_owned(), digest.clone());
    }
    if let Err(reply) = saved(registry) {
        return reply;
    }
    Reply::empty(201)
        .header("Location", format!("/v2/{repo}/manifests/{digest}"))
        .header("Docker-Content-Digest", digest)
}

/// One page of sorted `names` after `last`, at most `n` of them, and the `Link` header to the
/// next page (`path` plus `last` and `n`) when more follow.
fn paginate(req: &Request<'_>, names: Vec<&str>, path: &str) -> Result<(Vec<String>, Option<String>), Reply> {
    let n = match req.query("n") {
        None => None,
        Some(n) => match n.parse::<usize>() {
            Ok(n) => Some(n),
            Err(_) => {
                return Err(error(
                    400,
                    "PAGINATION_NUMBER_INVALID",
                    "invalid number of results requested",
                    json!(n),
                ));
            }
        },
    };
    let after: Vec<&str> =
        names.into_iter().filter(|name| req.query("last").is_none_or(|last| *name > last)).collect();
    let take = n.unwrap_or(after.len()).min(after.len());
    let page: Vec<String> = after[..take].iter().map(|s| (*s).to_owned()).collect();
    let link = match (n, page.last()) {
        (Some(n), Some(last)) if take < after.len() => {
            Some(format!("<{path}?last={}&n={n}>; rel=\"next\"", last.replace('/', "%2F")))
        }
        _ => None,
    };
    Ok((page, link))
}

fn with_link(reply: Reply, link: Option<String>) -> Reply {
    match link {
        Some(link) => reply.header("Link", link),
        None => reply,
    }
}

/// `GET /v2/<repo>/tags/list`.
pub(super) fn tags(registry: &Registry, req: &Request<'_>, repo: &str) -> Reply {
    if req.method != "GET" {
        return unsupported(req.method);
    }
    let Some(r) = registry.repositories.get(repo).filter(|r| !r.manifests.is_empty()) else {
        return error(404, "NAME_UNKNOWN", "repository name not known to registry", json!({ "name": repo }));
    };
    match paginate(req, r.tags.keys().map(String::as_str).collect(), &format!("/v2/{repo}/tags/list")) {
        Ok((tags, link)) => with_link(Reply::json(200, json!({ "name": repo, "tags": tags })), link),
        Err(reply) => reply,
    }
}

/// `GET /v2/_catalog`.
pub(super) fn catalog(registry: &Registry, req: &Request<'_>) -> Reply {
    if req.method != "GET" {
        return unsupported(req.method);
    }
    let names = registry
        .repositories
        .iter()
        .filter(|(_, r)| !r.manifests.is_empty())
        .map(|(n, _)| n.as_str())
        .collect();
    match paginate(req, names, "/v2/_catalog") {
        Ok((repositories, link)) => {
            with_link(Reply::json(200, json!({ "repositories": repositories })), link)
        }
        Err(reply) => reply,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_continue_the_upload_or_are_refused() {
        assert!(continues("0-4", 0, 5));
        assert!(continues("5-9", 5, 5));
        assert!(!continues("0-4", 5, 5));
        assert!(!continues("5-4", 5, 0));
        assert!(!continues("5-18446744073709551615", 5, 5));
        assert!(!continues("0-18446744073709551615", 0, 5));
        assert!(!continues("x-y", 0, 1) && !continues("", 0, 0) && !continues("-1-3", 0, 4));
    }

    #[test]
    fn manifests_name_their_references() {
        let d = digest_of(b"x");
        let image = json!({"schemaVersion": 2, "config": {"digest": d}, "layers": [{"digest": d}]});
        assert_eq!(references(IMAGE_TYPES[0], &image), Ok((vec![d.clone(), d.clone()], false)));
        let index = json!({"schemaVersion": 2, "mediaType": INDEX_TYPES[0], "manifests": [{"digest": d}]});
        assert_eq!(references(INDEX_TYPES[0], &index), Ok((vec![d.clone()], true)));
        for bad in [
            json!({"schemaVersion": 1}),
            json!({"schemaVersion": 2, "mediaType": INDEX_TYPES[0], "config": {"digest": d}, "layers": []}),
            json!({"schemaVersion": 2, "config": {"digest": "sha256:zz"}, "layers": []}),
            json!({"schemaVersion": 2, "config": {"digest": d}}),
            json!([]),
        ] {
            assert!(references(IMAGE_TYPES[0], &bad).is_err(), "{bad}");
        }
    }
}
