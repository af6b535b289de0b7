//! A synthetic TuSimple-format data set whose geometry is known exactly.
//!
//! TuSimple itself cannot be downloaded here, so tests and the local demo use frames drawn from
//! a road model ([`scene::Scene`]): a vanishing point, perspective, a shared bend, 2 to 5 lane
//! markings painted on noisy asphalt ([`render::render`]), and labels sampled from the same
//! model at the h_samples. Everything is a function of the seed: the same seed writes
//! byte-identical files (each frame has its own random stream, so frames do not depend on how
//! many others are written).
//!
//! The layout is TuSimple's:
//!
//! ```text
//! DIR/train_set/clips/0313-1/<n>/20.jpg   label_data_0313.json (h_samples 240..710)
//! DIR/train_set/clips/0601/<n>/20.jpg     label_data_0601.json (h_samples 160..710)
//! DIR/test_set/clips/0530/<n>/20.jpg      test_label.json      (h_samples 160..710)
//! ```

pub mod render;
pub mod scene;

use std::path::{Path, PathBuf};

use image::RgbImage;
use image::codecs::jpeg::JpegEncoder;

use crate::rng::Rng;
use crate::tusimple::{self, LabelLine};
use scene::Scene;

/// JPEG quality of the frames.
const JPEG_QUALITY: u8 = 90;

/// One label file of the synthetic set and the frames it lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// `train_set/label_data_0313.json`, clips under `0313-1/`, h_samples from 240.
    Train0313,
    /// `train_set/label_data_0601.json`, clips under `0601/`, h_samples from 160.
    Train0601,
    /// `test_set/test_label.json`, clips under `0530/`, h_samples from 160.
    Test,
}

impl Split {
    /// Every split, in the order they are written.
    pub const ALL: [Split; 3] = [Split::Train0313, Split::Train0601, Split::Test];

    /// The set's directory under the output root.
    pub fn set_dir(self) -> &'static str {
        match self {
            Split::Train0313 | Split::Train0601 => "train_set",
            Split::Test => "test_set",
        }
    }

    /// The label file's name in the set's directory.
    pub fn label_file(self) -> &'static str {
        match self {
            Split::Train0313 => "label_data_0313.json",
            Split::Train0601 => "label_data_0601.json",
            Split::Test => "test_label.json",
        }
    }

    fn clip_dir(self) -> &'static str {
        match self {
            Split::Train0313 => "0313-1",
            Split::Train0601 => "0601",
            Split::Test => "0530",
        }
    }

    fn stream(self) -> u64 {
        match self {
            Split::Train0313 => 313,
            Split::Train0601 => 601,
            Split::Test => 530,
        }
    }

    /// The rows the split's lanes are sampled at, as in the real data set.
    pub fn h_samples(self) -> Vec<i32> {
        let first = match self {
            Split::Train0313 => 240,
            Split::Train0601 | Split::Test => 160,
        };
        (first..=710).step_by(10).collect()
    }
}

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SynthOptions {
    /// Training frames; one in eight goes to the 0601 file (as 410 of 3268 do in TuSimple).
    pub train_frames: usize,
    /// Test frames.
    pub test_frames: usize,
    /// Fixes every frame and label.
    pub seed: u64,
}

impl SynthOptions {
    /// How many frames each split gets.
    pub fn frames(&self, split: Split) -> usize {
        match split {
            Split::Train0313 => self.train_frames - self.train_frames / 8,
            Split::Train0601 => self.train_frames / 8,
            Split::Test => self.test_frames,
        }
    }
}

/// A generated frame: its geometry, its picture and its label line.
#[derive(Debug, Clone)]
pub struct SynthFrame {
    /// The road model the frame was drawn from.
    pub scene: Scene,
    /// The picture, 1280x720 RGB.
    pub image: RgbImage,
    /// The label line, as written to the split's label file.
    pub label: LabelLine,
}

/// Generates frame `index` of `split` (without writing it).
pub fn frame(seed: u64, split: Split, index: usize) -> SynthFrame {
    let mut rng = Rng::derive(seed, &[split.stream(), index as u64]);
    let scene = Scene::random(&mut rng);
    let image = render::render(&scene, &mut rng);
    let h_samples = split.h_samples();
    let label = LabelLine {
        lanes: scene.label_lanes(&h_samples),
        h_samples,
        raw_file: format!("clips/{}/{}/20.jpg", split.clip_dir(), index + 1),
    };
    SynthFrame { scene, image, label }
}

/// Frame `index` of `split` as the network sees it: its picture and segmentation target
/// through `transform` (augmentation drawn from `rng`), without touching the disk.
pub fn sample(
    seed: u64,
    split: Split,
    index: usize,
    transform: &crate::transform::Transform,
    rng: &mut Rng,
) -> Result<crate::transform::Sample, crate::transform::TransformError> {
    let frame = frame(seed, split, index);
    transform.apply(&frame.image, &crate::segmentation::generate(&frame.label), rng)
}

/// Why the data set could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// A directory or file could not be written.
    #[error("could not write {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A frame could not be encoded.
    #[error("could not encode {}: {source}", path.display())]
    Encode {
        /// The frame's path.
        path: PathBuf,
        /// The underlying error.
        source: image::ImageError,
    },
    /// A label file could not be written.
    #[error(transparent)]
    Labels(#[from] tusimple::FormatError),
}

/// Writes the synthetic data set under `out`; returns the label files written.
pub fn write_dataset(out: &Path, options: &SynthOptions) -> Result<Vec<PathBuf>, SynthError> {
    let mut written = Vec::new();
    for split in Split::ALL {
        let set_dir = out.join(split.set_dir());
        let mut labels = Vec::new();
        for index in 0..options.frames(split) {
            let f = frame(options.seed, split, index);
            let path = set_dir.join(&f.label.raw_file);
            write_jpeg(&path, &f.image)?;
            labels.push(f.label);
        }
        create_dir(&set_dir)?;
        let label_path = set_dir.join(split.label_file());
        tusimple::write_labels(&label_path, &labels)?;
        written.push(label_path);
    }
    Ok(written)
}

fn create_dir(dir: &Path) -> Result<(), SynthError> {
    std::fs::create_dir_all(dir).map_err(|source| SynthError::Io { path: dir.to_path_buf(), source })
}

/// Encodes `image` as a JPEG at `path`, creating its directory.
pub fn write_jpeg(path: &Path, image: &RgbImage) -> Result<(), SynthError> {
    if let Some(dir) = path.parent() {
        create_dir(dir)?;
    }
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY)
        .encode_image(image)
        .map_err(|source| SynthError::Encode { path: path.to_path_buf(), source })?;
    std::fs::write(path, bytes).map_err(|source| SynthError::Io { path: path.to_path_buf(), source })
}
