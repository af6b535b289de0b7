//! The image's configuration and manifest, in the OCI image format (or Docker's schema 2 when
//! the base image is one: a manifest does not mix the two families of media types).
//!
//! What the stack sets goes on top of the base's configuration with Docker's rules: `env`
//! and `labels` are merged by key; `entrypoint`, `cmd`, `working_dir` and `user` replace the
//! base's, and a new `entrypoint` without a `cmd` clears the base's `Cmd` (as a Dockerfile's
//! `ENTRYPOINT` does). No timestamps are written, so the same inputs give the same digest.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use crate::layer::{Layer, sha256};
use crate::registry::{DOCKER_LIST, DOCKER_MANIFEST, Manifest, OCI_INDEX, OCI_MANIFEST};

/// A platform: `os/architecture[/variant]` (`linux/amd64`, `linux/arm64/v8`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// `amd64`, `arm64`, …
    pub architecture: String,
    /// `v8`, …, when given.
    pub variant: Option<String>,
}

impl Platform {
    /// Parses `os/architecture[/variant]`.
    pub fn parse(text: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = text.split('/').collect();
        let ok = |s: &&str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        match parts.as_slice() {
            [os, arch] if ok(os) && ok(arch) => {
                Ok(Platform { os: (*os).to_owned(), architecture: (*arch).to_owned(), variant: None })
            }
            [os, arch, variant] if ok(os) && ok(arch) && ok(variant) => Ok(Platform {
                os: (*os).to_owned(),
                architecture: (*arch).to_owned(),
                variant: Some((*variant).to_owned()),
            }),
            _ => Err(format!("the platform {text:?} is not os/architecture[/variant] (e.g. linux/amd64)")),
        }
    }

    fn matches(&self, p: &Json) -> bool {
        p["os"].as_str() == Some(self.os.as_str())
            && p["architecture"].as_str() == Some(self.architecture.as_str())
            && self.variant.as_deref().is_none_or(|v| p["variant"].as_str() == Some(v))
    }
}

/// What the stack sets in the image's configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// `Entrypoint`, when set.
    pub entrypoint: Option<Vec<String>>,
    /// `Cmd`, when set.
    pub cmd: Option<Vec<String>>,
    /// Environment variables, merged over the base's.
    pub env: BTreeMap<String, String>,
    /// `WorkingDir`, when set.
    pub working_dir: Option<String>,
    /// `User`, when set.
    pub user: Option<String>,
    /// Labels, merged over the base's.
    pub labels: BTreeMap<String, String>,
}

/// Whether a manifest is an index of per-platform manifests.
pub fn is_index(manifest: &Manifest) -> bool {
    manifest.media_type == OCI_INDEX
        || manifest.media_type == DOCKER_LIST
        || serde_json::from_slice::<Json>(&manifest.bytes).is_ok_and(|j| j.get("manifests").is_some())
}

/// The digest of `platform`'s manifest in an index.
pub fn pick_platform(index: &Manifest, platform: &Platform) -> Result<String, String> {
    let json: Json =
        serde_json::from_slice(&index.bytes).map_err(|e| format!("the index is not JSON: {e}"))?;
    let manifests = json["manifests"].as_array().cloned().unwrap_or_default();
    manifests
        .iter()
        .find(|m| platform.matches(&m["platform"]))
        .and_then(|m| m["digest"].as_str())
        .map(str::to_owned)
        .ok_or_else(|| {
            let offered: Vec<String> = manifests
                .iter()
                .map(|m| {
                    let p = &m["platform"];
                    format!(
                        "{}/{}",
                        p["os"].as_str().unwrap_or("?"),
                        p["architecture"].as_str().unwrap_or("?")
                    )
                })
                .collect();
            format!(
                "it has no manifest for {}/{} (it has: {})",
                platform.os,
                platform.architecture,
                if offered.is_empty() { "none".to_owned() } else { offered.join(", ") }
            )
        })
}

/// A base image's single-platform manifest and configuration.
#[derive(Clone, Debug)]
pub struct Base {
    /// The manifest's media type (an OCI or Docker image manifest).
    pub media_type: String,
    /// Its layers' descriptors, as the manifest lists them.
    pub layers: Vec<Json>,
    /// Its configuration.
    pub config: Json,
}

impl Base {
    /// Reads a base image from its manifest and configuration blob.
    pub fn new(manifest: &Manifest, config: &[u8]) -> Result<Base, String> {
        let json: Json =
            serde_json::from_slice(&manifest.bytes).map_err(|e| format!("its manifest is not JSON: {e}"))?;
        let layers = json["layers"].as_array().cloned().ok_or("its manifest lists no layers")?;
        if layers.iter().any(|l| l["digest"].as_str().is_none()) {
            return Err("its manifest has a layer without a digest".to_owned());
        }
        let config: Json =
            serde_json::from_slice(config).map_err(|e| format!("its configuration is not JSON: {e}"))?;
        let media_type = match manifest.media_type.as_str() {
            t @ (OCI_MANIFEST | DOCKER_MANIFEST) => t.to_owned(),
            _ if json["mediaType"].as_str() == Some(DOCKER_MANIFEST) => DOCKER_MANIFEST.to_owned(),
            _ => OCI_MANIFEST.to_owned(),
        };
        Ok(Base { media_type, layers, config })
    }

    /// The digest of the base's configuration blob, from its manifest's bytes.
    pub fn config_digest(manifest: &Manifest) -> Result<String, String> {
        let json: Json =
            serde_json::from_slice(&manifest.bytes).map_err(|e| format!("its manifest is not JSON: {e}"))?;
        json["config"]["digest"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "its manifest names no config".to_owned())
    }
}

/// One added layer, as the manifest and the configuration describe it.
pub struct Added {
    /// `sha256:` of the compressed archive.
    pub digest: String,
    /// `sha256:` of the uncompressed archive.
    pub diff_id: String,
    /// The compressed archive's size.
    pub size: u64,
    /// `created_by` in the history (what the stack wrote, never a local absolute path).
    pub created_by: String,
}

impl Added {
    /// A packed layer with its history line.
    pub fn of(layer: &Layer, created_by: String) -> Added {
        Added { digest: layer.digest.clone(), diff_id: layer.diff_id.clone(), size: layer.size, created_by }
    }
}

/// An assembled image: the configuration and manifest blobs.
pub struct Assembled {
    /// The configuration, as pushed.
    pub config: Vec<u8>,
    /// The manifest, as pushed.
    pub manifest: Vec<u8>,
    /// The manifest's media type.
    pub media_type: &'static str,
}

/// The image: `base` (or nothing) with `added` on top and `settings` applied.
pub fn assemble(base: Option<&Base>, added: &[Added], settings: &Settings, platform: &Platform) -> Assembled {
    let docker = base.is_some_and(|b| b.media_type == DOCKER_MANIFEST);
    let (manifest_type, config_type, layer_type) = if docker {
        (
            DOCKER_MANIFEST,
            "application/vnd.docker.container.image.v1+json",
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
        )
    } else {
        (
            OCI_MANIFEST,
            "application/vnd.oci.image.config.v1+json",
            "application/vnd.oci.image.layer.v1.tar+gzip",
        )
    };
    let mut config = base.map_or_else(
        || json!({ "architecture": platform.architecture, "os": platform.os, "config": {}, "rootfs": { "type": "layers", "diff_ids": [] } }),
        |b| b.config.clone(),
    );
    if !config.is_object() {
        config = json!({});
    }
    if let Some(variant) = &platform.variant
        && base.is_none()
    {
        config["variant"] = json!(variant);
    }
    // No timestamps: the same inputs, the same digest.
    if let Some(object) = config.as_object_mut() {
        object.remove("created");
    }
    apply_settings(&mut config["config"], settings);
    let mut diff_ids = config["rootfs"]["diff_ids"].as_array().cloned().unwrap_or_default();
    let mut history = config["history"].as_array().cloned().unwrap_or_default();
    for history_entry in &mut history {
        if let Some(object) = history_entry.as_object_mut() {
            object.remove("created");
        }
    }
    for added in added {
        diff_ids.push(json!(added.diff_id));
        history.push(json!({ "created_by": added.created_by }));
    }
    config["rootfs"] = json!({ "type": "layers", "diff_ids": diff_ids });
    config["history"] = json!(history);
    let config_bytes = serde_json::to_vec(&config).unwrap_or_default();

    let mut layers: Vec<Json> = base.map(|b| b.layers.clone()).unwrap_or_default();
    for added in added {
        layers.push(json!({ "mediaType": layer_type, "digest": added.digest, "size": added.size }));
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": { "mediaType": config_type, "digest": sha256(&config_bytes), "size": config_bytes.len() },
        "layers": layers,
    });
    Assembled {
        config: config_bytes,
        manifest: serde_json::to_vec(&manifest).unwrap_or_default(),
        media_type: manifest_type,
    }
}

fn apply_settings(section: &mut Json, settings: &Settings) {
    if !section.is_object() {
        *section = json!({});
    }
    let mut env: Vec<String> = section["Env"]
        .as_array()
        .map(|e| e.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    for (key, value) in &settings.env {
        env.retain(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) != key);
        env.push(format!("{key}={value}"));
    }
    if !env.is_empty() {
        section["Env"] = json!(env);
    }
    if let Some(entrypoint) = &settings.entrypoint {
        section["Entrypoint"] = json!(entrypoint);
        if settings.cmd.is_none()
            && let Some(object) = section.as_object_mut()
        {
            object.remove("Cmd");
        }
    }
    if let Some(cmd) = &settings.cmd {
        section["Cmd"] = json!(cmd);
    }
    if let Some(dir) = &settings.working_dir {
        section["WorkingDir"] = json!(dir);
    }
    if let Some(user) = &settings.user {
        section["User"] = json!(user);
    }
    if !settings.labels.is_empty() {
        let mut labels = section["Labels"].as_object().cloned().unwrap_or_default();
        for (k, v) in &settings.labels {
            labels.insert(k.clone(), json!(v));
        }
        section["Labels"] = Json::Object(labels);
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn layer(content: &[u8], created_by: &str) -> Added {
        Added {
            digest: sha256(content),
            diff_id: sha256(&[content, b"raw"].concat()),
            size: content.len() as u64,
            created_by: created_by.to_owned(),
        }
    }

    fn amd64() -> Platform {
        Platform::parse("linux/amd64").unwrap()
    }

    #[test]
    fn an_image_from_scratch_is_oci_and_reproducible() {
        let added = [layer(b"one", "lanestack: /app from ./app")];
        let l = &added[0];
        let settings = Settings { entrypoint: Some(vec!["/app/run".into()]), ..Settings::default() };
        let a = assemble(None, &added, &settings, &amd64());
        let b = assemble(None, &added, &settings, &amd64());
        assert_eq!((a.manifest.clone(), a.config.clone()), (b.manifest, b.config));
        assert_eq!(a.media_type, OCI_MANIFEST);
        let manifest: Json = serde_json::from_slice(&a.manifest).unwrap();
        assert_eq!(manifest["config"]["digest"], json!(sha256(&a.config)));
        assert_eq!(manifest["layers"][0]["digest"], json!(l.digest));
        assert_eq!(manifest["layers"][0]["mediaType"], json!("application/vnd.oci.image.layer.v1.tar+gzip"));
        let config: Json = serde_json::from_slice(&a.config).unwrap();
        assert_eq!((config["os"].as_str(), config["architecture"].as_str()), (Some("linux"), Some("amd64")));
        assert_eq!(config["rootfs"]["diff_ids"], json!([l.diff_id]));
        assert_eq!(config["config"]["Entrypoint"], json!(["/app/run"]));
        assert!(config.get("created").is_none());
    }

    #[test]
    fn settings_go_over_a_docker_base_by_dockers_rules() {
        let base_config = json!({
            "architecture": "amd64", "os": "linux", "created": "2025-01-01T00:00:00Z",
            "config": { "Env": ["PATH=/usr/bin", "LANG=C"], "Cmd": ["bash"], "Labels": { "a": "1" } },
            "rootfs": { "type": "layers", "diff_ids": ["sha256:base"] },
            "history": [{ "created": "2025-01-01T00:00:00Z", "created_by": "base" }],
        });
        let manifest = json!({
            "schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
            "config": { "mediaType": "application/vnd.docker.container.image.v1+json", "digest": "sha256:c", "size": 1 },
            "layers": [{ "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": "sha256:b", "size": 5 }],
        });
        let bytes = Bytes::from(serde_json::to_vec(&manifest).unwrap());
        let base_manifest = Manifest { digest: sha256(&bytes), bytes, media_type: DOCKER_MANIFEST.into() };
        let base = Base::new(&base_manifest, &serde_json::to_vec(&base_config).unwrap()).unwrap();
        let added = [layer(b"two", "x")];
        let l = &added[0];
        let settings = Settings {
            entrypoint: Some(vec!["/bin/trainer".into()]),
            env: BTreeMap::from([("LANG".into(), "C.UTF-8".into()), ("RUST_LOG".into(), "info".into())]),
            labels: BTreeMap::from([("b".into(), "2".into())]),
            user: Some("1000".into()),
            ..Settings::default()
        };
        let out = assemble(Some(&base), &added, &settings, &amd64());
        assert_eq!(out.media_type, DOCKER_MANIFEST);
        let m: Json = serde_json::from_slice(&out.manifest).unwrap();
        assert_eq!(m["layers"].as_array().unwrap().len(), 2);
        assert_eq!(m["layers"][1]["mediaType"], json!("application/vnd.docker.image.rootfs.diff.tar.gzip"));
        let c: Json = serde_json::from_slice(&out.config).unwrap();
        assert_eq!(c["config"]["Env"], json!(["PATH=/usr/bin", "LANG=C.UTF-8", "RUST_LOG=info"]));
        assert!(c["config"].get("Cmd").is_none(), "a new entrypoint clears the base's Cmd");
        assert_eq!(c["config"]["Labels"], json!({ "a": "1", "b": "2" }));
        assert_eq!(c["config"]["User"], json!("1000"));
        assert_eq!(c["rootfs"]["diff_ids"], json!(["sha256:base", l.diff_id]));
        assert_eq!(c["history"], json!([{ "created_by": "base" }, { "created_by": "x" }]));
        assert!(c.get("created").is_none());
    }

    #[test]
    fn an_index_gives_the_platforms_manifest_or_says_what_it_has() {
        let index = json!({ "schemaVersion": 2, "manifests": [
            { "digest": "sha256:arm", "platform": { "os": "linux", "architecture": "arm64", "variant": "v8" } },
            { "digest": "sha256:amd", "platform": { "os": "linux", "architecture": "amd64" } },
        ]});
        let bytes = Bytes::from(serde_json::to_vec(&index).unwrap());
        let m = Manifest { digest: sha256(&bytes), bytes, media_type: OCI_INDEX.into() };
        assert!(is_index(&m));
        assert_eq!(pick_platform(&m, &amd64()).unwrap(), "sha256:amd");
        assert_eq!(pick_platform(&m, &Platform::parse("linux/arm64/v8").unwrap()).unwrap(), "sha256:arm");
        let e = pick_platform(&m, &Platform::parse("windows/amd64").unwrap()).unwrap_err();
        assert_eq!(e, "it has no manifest for windows/amd64 (it has: linux/arm64, linux/amd64)");
        for bad in ["linux", "linux/", "a/b/c/d", "linux/amd 64"] {
            assert!(Platform::parse(bad).is_err(), "{bad}");
        }
    }
}
