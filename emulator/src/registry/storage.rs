//! What the registries hold: content-addressed blobs (layers, configs and the manifests'
//! own bytes) and, per repository, the blobs linked to it, its manifests and its tags.
//!
//! Design decision: with a data directory, each registry lives in
//! `<data>/registries/<name>/`: every blob in `blobs/sha256/<hex>` and a small `index.json`
//! of repositories, both written to a temporary file and renamed into place. Blobs can be tens
//! of megabytes, so they never pass through the cloud's JSON and are read from disk only when
//! served. Without a data directory, blobs are reference-counted [`Bytes`] in memory: serving
//! one copies nothing. A blob is shared by every repository that links it, as in
//! distribution, where a blob pushed to one repository is unknown to another until pushed or
//! mounted there.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use bytes::Bytes;

/// One repository's index.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Repository {
    /// The digests of the blobs pushed or mounted here.
    pub(crate) blobs: BTreeSet<String>,
    /// Manifest digest → the media type it was pushed with.
    pub(crate) manifests: BTreeMap<String, String>,
    /// Tag → manifest digest.
    pub(crate) tags: BTreeMap<String, String>,
}

/// The on-disk form of a registry's index.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Index {
    version: u32,
    repositories: BTreeMap<String, Repository>,
}

/// One registry's content.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    /// `<data>/registries/<name>`, or `None` in memory.
    dir: Option<PathBuf>,
    /// The blobs, when in memory.
    memory: HashMap<String, Bytes>,
    pub(crate) repositories: BTreeMap<String, Repository>,
}

impl Registry {
    fn open(dir: Option<PathBuf>) -> Registry {
        // An unreadable index starts the registry empty, as a lost disk would.
        let repositories = dir
            .as_ref()
            .and_then(|d| std::fs::read_to_string(d.join("index.json")).ok())
            .and_then(|text| serde_json::from_str::<Index>(&text).ok())
            .map(|index| index.repositories)
            .unwrap_or_default();
        Registry { dir, memory: HashMap::new(), repositories }
    }

    fn blob_path(dir: &Path, digest: &str) -> PathBuf {
        dir.join("blobs").join("sha256").join(digest.trim_start_matches("sha256:"))
    }

    /// The size of a stored blob.
    pub(crate) fn blob_len(&self, digest: &str) -> Option<u64> {
        match &self.dir {
            Some(dir) => std::fs::metadata(Self::blob_path(dir, digest)).ok().map(|m| m.len()),
            None => self.memory.get(digest).map(|b| b.len() as u64),
        }
    }

    /// A stored blob's bytes.
    pub(crate) fn blob(&self, digest: &str) -> Option<Bytes> {
        match &self.dir {
            Some(dir) => std::fs::read(Self::blob_path(dir, digest)).ok().map(Bytes::from),
            None => self.memory.get(digest).cloned(),
        }
    }

    /// Stores a blob whose digest the caller has checked.
    pub(crate) fn put_blob(&mut self, digest: &str, bytes: Bytes) -> std::io::Result<()> {
        match &self.dir {
            Some(dir) => {
                let path = Self::blob_path(dir, digest);
                if path.exists() {
                    return Ok(());
                }
                write_atomically(&path, &bytes)
            }
            None => {
                self.memory.insert(digest.to_owned(), bytes);
                Ok(())
            }
        }
    }

    /// Writes the index, when on disk.
    pub(crate) fn save(&self) -> std::io::Result<()> {
        let Some(dir) = &self.dir else { return Ok(()) };
        #[derive(serde::Serialize)]
        struct IndexRef<'a> {
            version: u32,
            repositories: &'a BTreeMap<String, Repository>,
        }
        let text = serde_json::to_vec_pretty(&IndexRef { version: 1, repositories: &self.repositories })
            .map_err(std::io::Error::other)?;
        write_atomically(&dir.join("index.json"), &text)
    }
}

/// Writes `bytes` to a temporary file beside `path` and renames it into place, so that a
/// reader (or a crash) never sees half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Every registry's content, opened on first use.
#[derive(Debug)]
pub(crate) struct Store {
    /// `<data>/registries`, or `None` in memory.
    root: Option<PathBuf>,
    registries: HashMap<String, Registry>,
}

impl Store {
    pub(crate) fn new(data_dir: Option<&Path>) -> Store {
        Store { root: data_dir.map(|d| d.join("registries")), registries: HashMap::new() }
    }

    /// The content of registry `name` (lowercase), opened from disk on first use.
    pub(crate) fn registry(&mut self, name: &str) -> &mut Registry {
        let root = &self.root;
        self.registries
            .entry(name.to_owned())
            .or_insert_with(|| Registry::open(root.as_ref().map(|r| r.join(name))))
    }

    /// Forgets registry `name` (lowercase) and removes its files: its ARM resource is gone.
    pub(crate) fn purge(&mut self, name: &str) {
        self.registries.remove(name);
        if let Some(root) = &self.root {
            // Best effort, like the cloud's own saves.
            let _ = std::fs::remove_dir_all(root.join(name));
        }
    }

    /// The registries with content on disk whose name `keep` refuses are purged (their ARM
    /// resource was deleted while no emulator ran, or before the purge could happen).
    pub(crate) fn purge_unless(&mut self, keep: impl Fn(&str) -> bool) {
        let Some(root) = &self.root else { return };
        let Ok(entries) = std::fs::read_dir(root) else { return };
        let names: Vec<String> =
            entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).filter(|n| !keep(n)).collect();
        for name in names {
            self.purge(&name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_and_index_survive_a_reopen_and_a_purge_removes_them() {
        let dir = tempfile::tempdir().unwrap();
        let digest = crate::registry::reference::digest_of(b"layer");
        let mut store = Store::new(Some(dir.path()));
        let r = store.registry("lab");
        r.put_blob(&digest, Bytes::from_static(b"layer")).unwrap();
        r.repositories.entry("a/b".into()).or_default().blobs.insert(digest.clone());
        r.save().unwrap();

        let mut again = Store::new(Some(dir.path()));
        let r = again.registry("lab");
        assert_eq!(r.blob(&digest).as_deref(), Some(&b"layer"[..]));
        assert_eq!(r.blob_len(&digest), Some(5));
        assert!(r.repositories["a/b"].blobs.contains(&digest));
        again.purge_unless(|n| n != "lab");
        assert!(!dir.path().join("registries/lab").exists());
        assert!(again.registry("lab").repositories.is_empty());
    }
}
