//! The on-disk cache of generated segmentation targets, kept beside the data (on the claim) so
//! that every epoch, rank and restart reuses them.
//!
//! One small file per frame, in a format of our own rather than PNG: a header that names the
//! format version and holds the label it was generated from, then the map run-length encoded
//! (a 720x1280 map of a few thin polylines is a few thousand runs: about 10 KB instead of
//! 900 KB raw). A cached map is used only when the version and the stored label both equal the
//! current ones, so a changed label file or a new generator rebuilds it; any unreadable,
//! truncated or foreign file is rebuilt too, never trusted. Files are written to a temporary
//! name and renamed, so concurrent loaders (threads or ranks) never read a half-written file.
//!
//! Layout (little-endian): `LSSEGMAP` | version u32 | key length u32 | key (JSON of lanes and
//! h_samples) | width u32 | height u32 | exist 4 x u8 | run count u32 | runs (id u8, length u32).

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::segmentation::{self, SegLabel};
use crate::tusimple::LabelLine;

const MAGIC: &[u8; 8] = b"LSSEGMAP";
/// Bump when the generator's output or this layout changes: every cached map is then rebuilt.
pub const FORMAT_VERSION: u32 = 1;

/// What the cache did for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// A valid cached map was read.
    Hit,
    /// There was no cached map; one was generated and written.
    Built,
    /// The cached map was stale or unreadable; it was regenerated and replaced.
    Rebuilt,
}

/// Why a cached map could not be written.
#[derive(Debug, thiserror::Error)]
#[error("could not write the label cache {}: {source}", path.display())]
pub struct CacheError {
    /// The cache file (or its directory).
    pub path: PathBuf,
    /// The underlying error.
    pub source: std::io::Error,
}

/// Returns the segmentation target of `label`, from the cache file `path` when it is current,
/// otherwise generated and written there.
pub fn load_or_generate(path: &Path, label: &LabelLine) -> Result<(SegLabel, CacheOutcome), CacheError> {
    let key = cache_key(label);
    let outcome = match std::fs::read(path) {
        Ok(bytes) => match decode(&bytes, &key) {
            Some(map) => return Ok((map, CacheOutcome::Hit)),
            None => CacheOutcome::Rebuilt,
        },
        Err(e) if e.kind() == ErrorKind::NotFound => CacheOutcome::Built,
        Err(_) => CacheOutcome::Rebuilt,
    };
    let map = segmentation::generate(label);
    write_atomically(path, &encode(&map, &key))?;
    Ok((map, outcome))
}

/// The label content a map depends on: its lanes and h_samples (not its file name).
fn cache_key(label: &LabelLine) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Key<'a> {
        lanes: &'a [Vec<i32>],
        h_samples: &'a [i32],
    }
    serde_json::to_vec(&Key { lanes: &label.lanes, h_samples: &label.h_samples }).unwrap_or_default()
}

fn encode(map: &SegLabel, key: &[u8]) -> Vec<u8> {
    let mut runs: Vec<(u8, u32)> = Vec::new();
    for &id in &map.ids {
        match runs.last_mut() {
            Some((last, n)) if *last == id => *n += 1,
            _ => runs.push((id, 1)),
        }
    }
    let mut out = Vec::with_capacity(40 + key.len() + runs.len() * 5);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&map.width.to_le_bytes());
    out.extend_from_slice(&map.height.to_le_bytes());
    out.extend(map.exist.map(u8::from));
    out.extend_from_slice(&(runs.len() as u32).to_le_bytes());
    for (id, n) in runs {
        out.push(id);
        out.extend_from_slice(&n.to_le_bytes());
    }
    out
}

/// A reader over a byte slice that fails (returns `None`) instead of panicking.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// The map in `bytes` if it is a complete, current cache entry for `key`.
fn decode(bytes: &[u8], key: &[u8]) -> Option<SegLabel> {
    let mut r = Bytes(bytes);
    if r.take(8)? != MAGIC || r.u32()? != FORMAT_VERSION {
        return None;
    }
    let key_len = r.u32()? as usize;
    if r.take(key_len)? != key {
        return None;
    }
    let (width, height) = (r.u32()?, r.u32()?);
    if (width, height) != (segmentation::LABEL_WIDTH, segmentation::LABEL_HEIGHT) {
        return None;
    }
    let flags = r.take(4)?;
    if flags.iter().any(|&f| f > 1) {
        return None;
    }
    let exist = [flags[0] == 1, flags[1] == 1, flags[2] == 1, flags[3] == 1];
    let total = width as usize * height as usize;
    let mut ids = Vec::with_capacity(total);
    for _ in 0..r.u32()? {
        let id = r.take(1)?[0];
        let n = r.u32()? as usize;
        if id > 4 || n > total - ids.len() {
            return None;
        }
        ids.resize(ids.len() + n, id);
    }
    (ids.len() == total && r.0.is_empty()).then_some(SegLabel { width, height, ids, exist })
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CacheError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CacheError { path, source }
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err(dir))?;
    }
    let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp.{}.{unique}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        CacheError { path: path.to_path_buf(), source }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(shift: i32) -> LabelLine {
        let h: Vec<i32> = (0..48).map(|i| 240 + 10 * i).collect();
        let lanes = vec![
            h.iter().map(|y| 640 - (y - 240) + shift).collect(),
            h.iter().map(|y| 700 + (y - 240) / 2 + shift).collect(),
        ];
        LabelLine { lanes, h_samples: h, raw_file: "clips/a/1/20.jpg".into() }
    }

    #[test]
    fn builds_then_hits_with_the_same_map() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg_label/clips/a/1/20.seglabel");
        let (built, outcome) = load_or_generate(&path, &label(0)).unwrap();
        assert_eq!(outcome, CacheOutcome::Built);
        assert_eq!(built, segmentation::generate(&label(0)));
        assert!(std::fs::metadata(&path).unwrap().len() < 40_000);
        let (hit, outcome) = load_or_generate(&path, &label(0)).unwrap();
        assert_eq!((outcome, hit), (CacheOutcome::Hit, built));
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn a_changed_label_rebuilds_the_map() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.seglabel");
        load_or_generate(&path, &label(0)).unwrap();
        let (map, outcome) = load_or_generate(&path, &label(30)).unwrap();
        assert_eq!((outcome, map), (CacheOutcome::Rebuilt, segmentation::generate(&label(30))));
        assert_eq!(load_or_generate(&path, &label(30)).unwrap().1, CacheOutcome::Hit);
    }

    #[test]
    fn another_format_version_or_a_damaged_file_is_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.seglabel");
        load_or_generate(&path, &label(0)).unwrap();
        let good = std::fs::read(&path).unwrap();
        let mut old_version = good.clone();
        old_version[8..12].copy_from_slice(&0u32.to_le_bytes());
        let mut bad_run = good.clone();
        let last_run = bad_run.len() - 5;
        bad_run[last_run] = 9; // an id that does not exist
        let damaged: Vec<Vec<u8>> = vec![
            old_version,
            bad_run,
            good[..good.len() - 1].to_vec(),
            [&good[..], &[0u8][..]].concat(),
            vec![],
            b"x".to_vec(),
        ];
        for bytes in damaged {
            std::fs::write(&path, &bytes).unwrap();
            let (map, outcome) = load_or_generate(&path, &label(0)).unwrap();
            assert_eq!(outcome, CacheOutcome::Rebuilt);
            assert_eq!(map, segmentation::generate(&label(0)));
            assert_eq!(std::fs::read(&path).unwrap(), good);
        }
    }

    #[test]
    fn an_unwritable_cache_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        let err = load_or_generate(&blocker.join("m.seglabel"), &label(0)).unwrap_err();
        assert!(err.to_string().contains("file"), "{err}");
    }
}
