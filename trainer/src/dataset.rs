//! A TuSimple set on disk: its label files, its frames and its cached segmentation targets.
//!
//! `FrameSet::load` reads one frame (JPEG), gets its target from the label cache (generated on
//! first use) and applies a transform. It is safe to call from many loader threads at once.

use std::path::{Component, Path, PathBuf};

use crate::label_cache::{self, CacheError};
use crate::rng::Rng;
use crate::transform::{Sample, Transform, TransformError};
use crate::tusimple::{self, FormatError, LabelLine};

/// The label files of TuSimple's training set.
pub const TRAIN_LABEL_FILES: [&str; 2] = ["label_data_0313.json", "label_data_0601.json"];
/// The label file of TuSimple's validation split.
pub const VAL_LABEL_FILES: [&str; 1] = ["label_data_0531.json"];
/// The label file of TuSimple's test set.
pub const TEST_LABEL_FILES: [&str; 1] = ["test_label.json"];

/// Why a set or a frame could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A label file could not be read.
    #[error(transparent)]
    Labels(#[from] FormatError),
    /// A raw_file escapes the set's directory (absolute, or with `..`).
    #[error("{raw_file}: a raw_file must be a relative path inside the set")]
    UnsafePath {
        /// The offending raw_file.
        raw_file: String,
    },
    /// A frame could not be read.
    #[error("could not read {}: {source}", path.display())]
    Read {
        /// The frame's path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A frame could not be decoded.
    #[error("could not decode {}: {source}", path.display())]
    Decode {
        /// The frame's path.
        path: PathBuf,
        /// The underlying error.
        source: image::ImageError,
    },
    /// The label cache could not be written.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// A frame and its target could not be transformed (e.g. a frame that is not 1280x720).
    #[error("{}: {source}", path.display())]
    Transform {
        /// The frame's path.
        path: PathBuf,
        /// The underlying error.
        source: TransformError,
    },
}

/// The frames of one set (train_set, test_set) listed by some of its label files.
#[derive(Debug, Clone)]
pub struct FrameSet {
    /// The set's directory (holding clips/ and the label files).
    pub dir: PathBuf,
    /// Where cached targets go: `<cache_dir>/<raw_file>.seglabel`.
    pub cache_dir: PathBuf,
    /// The frames, in label-file order.
    pub labels: Vec<LabelLine>,
}

impl FrameSet {
    /// Reads `label_files` in `dir`; targets are cached under `dir/seg_label/`.
    pub fn open(dir: &Path, label_files: &[&str]) -> Result<FrameSet, DataError> {
        let mut labels = Vec::new();
        for name in label_files {
            labels.extend(tusimple::read_labels(&dir.join(name))?);
        }
        for label in &labels {
            relative(&label.raw_file)?;
        }
        Ok(FrameSet { dir: dir.to_path_buf(), cache_dir: dir.join("seg_label"), labels })
    }

    /// The number of frames.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the set has no frame.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Loads frame `index` (< `len()`), generating its cached target if needed, and transforms
    /// it with the augmentation drawn from `rng`.
    pub fn load(&self, index: usize, transform: &Transform, rng: &mut Rng) -> Result<Sample, DataError> {
        let label = &self.labels[index];
        let rel = relative(&label.raw_file)?;
        let path = self.dir.join(rel);
        let bytes = std::fs::read(&path).map_err(|source| DataError::Read { path: path.clone(), source })?;
        let image = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)
            .map_err(|source| DataError::Decode { path: path.clone(), source })?
            .into_rgb8();
        let mut cache = self.cache_dir.join(rel).into_os_string();
        cache.push(".seglabel");
        let (target, _) = label_cache::load_or_generate(Path::new(&cache), label)?;
        transform.apply(&image, &target, rng).map_err(|source| DataError::Transform { path, source })
    }
}

/// `raw_file` as a path that stays inside the set's directory.
fn relative(raw_file: &str) -> Result<&Path, DataError> {
    let path = Path::new(raw_file);
    let inside = !raw_file.is_empty()
        && path.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if inside { Ok(path) } else { Err(DataError::UnsafePath { raw_file: raw_file.to_string() }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_files_must_stay_inside_the_set() {
        assert!(relative("clips/0313-1/6040/20.jpg").is_ok());
        for bad in ["/etc/passwd", "../x.jpg", "clips/../../x.jpg", ""] {
            assert!(matches!(relative(bad), Err(DataError::UnsafePath { .. })), "{bad}");
        }
    }
}
