//! The input pipeline's transforms: a frame and its label map in, network-ready arrays out.
//!
//! Training: resize to the input size (bicubic for the image, nearest for the label), rotate by
//! a random angle within +-1 degree about the centre (bilinear for the image, nearest for the
//! label, zero outside), scale to [0, 1] and normalise with ImageNet's mean and std. Validation
//! and test: resize and normalise only. The image and its label go through the same geometry,
//! sampled with the same pixel-centre convention, so they stay aligned.
//!
//! The arithmetic is our own (OpenCV's bicubic kernel, a = -0.75, without its u8 rounding)
//! rather than `image`'s resamplers: those return u8 images and anti-alias differently from the
//! reference. The output is plain `Vec<f32>` (CHW) and `Vec<u8>` (HW), so this module does not
//! depend on the deep-learning framework.

use image::RgbImage;

use crate::rng::Rng;
use crate::segmentation::SegLabel;

/// ImageNet channel means (RGB), on [0, 1] values.
pub const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet channel standard deviations (RGB).
pub const STD: [f32; 3] = [0.229, 0.224, 0.225];
/// The reference's random rotation bound, in degrees.
pub const MAX_ROTATION_DEG: f64 = 1.0;

/// Which augmentations a transform applies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Augment {
    /// Training: a random rotation within +-`max_rotation_deg` degrees.
    Train {
        /// The rotation bound in degrees.
        max_rotation_deg: f64,
    },
    /// Validation and test: none.
    Eval,
}

/// Resize (and for training, rotate) then normalise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transform {
    /// Output width (512 for SCNN on TuSimple).
    pub width: u32,
    /// Output height (288).
    pub height: u32,
    /// Augmentations.
    pub augment: Augment,
}

/// One transformed frame, ready to batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The normalised image, CHW (3 x height x width).
    pub image: Vec<f32>,
    /// The lane ids, HW.
    pub label: Vec<u8>,
    /// Existence of lanes 1..=4, as 0 or 1.
    pub exist: [f32; 4],
}

/// Why a frame could not be transformed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TransformError {
    /// The image and the label map differ in size.
    #[error("the image is {image_width}x{image_height} but its label map is {label_width}x{label_height}")]
    SizeMismatch {
        /// Image width.
        image_width: u32,
        /// Image height.
        image_height: u32,
        /// Label width.
        label_width: u32,
        /// Label height.
        label_height: u32,
    },
    /// An input or output size is zero.
    #[error("sizes must be at least 1x1")]
    Empty,
}

impl Transform {
    /// The training transform at `width` x `height`.
    pub fn train(width: u32, height: u32) -> Transform {
        Transform { width, height, augment: Augment::Train { max_rotation_deg: MAX_ROTATION_DEG } }
    }

    /// The validation and test transform at `width` x `height`.
    pub fn eval(width: u32, height: u32) -> Transform {
        Transform { width, height, augment: Augment::Eval }
    }

    /// Transforms a frame and its label; `rng` draws the augmentation (unused for `Eval`).
    pub fn apply(&self, image: &RgbImage, label: &SegLabel, rng: &mut Rng) -> Result<Sample, TransformError> {
        let angle = match self.augment {
            Augment::Train { max_rotation_deg } => rng.uniform(-max_rotation_deg, max_rotation_deg),
            Augment::Eval => 0.0,
        };
        self.apply_with_angle(image, label, angle)
    }

    /// As [`Transform::apply`], with the rotation given (degrees, counter-clockwise).
    pub fn apply_with_angle(
        &self,
        image: &RgbImage,
        label: &SegLabel,
        angle_deg: f64,
    ) -> Result<Sample, TransformError> {
        if (image.width(), image.height()) != (label.width, label.height) {
            return Err(TransformError::SizeMismatch {
                image_width: image.width(),
                image_height: image.height(),
                label_width: label.width,
                label_height: label.height,
            });
        }
        let (w, h) = (self.width as usize, self.height as usize);
        let (sw, sh) = (image.width() as usize, image.height() as usize);
        if w == 0 || h == 0 || sw == 0 || sh == 0 {
            return Err(TransformError::Empty);
        }
        let mut rgb = resize_cubic(image.as_raw(), sw, sh, w, h);
        let mut ids = resize_nearest(&label.ids, sw, sh, w, h);
        if angle_deg != 0.0 {
            rgb = rotate_bilinear(&rgb, w, h, angle_deg);
            ids = rotate_nearest(&ids, w, h, angle_deg);
        }
        Ok(Sample {
            image: normalise(&rgb, w, h),
            label: ids,
            exist: label.exist.map(|e| f32::from(u8::from(e))),
        })
    }
}

/// OpenCV's cubic kernel (a = -0.75).
fn cubic(t: f64) -> f64 {
    const A: f64 = -0.75;
    let t = t.abs();
    if t <= 1.0 {
        ((A + 2.0) * t - (A + 3.0)) * t * t + 1.0
    } else if t < 2.0 {
        ((A * t - 5.0 * A) * t + 8.0 * A) * t - 4.0 * A
    } else {
        0.0
    }
}

/// For each output coordinate, the four source taps (clamped to the border) and their weights.
fn cubic_taps(src: usize, dst: usize) -> Vec<([usize; 4], [f32; 4])> {
    let scale = src as f64 / dst as f64;
    (0..dst)
        .map(|o| {
            let s = (o as f64 + 0.5) * scale - 0.5;
            let i = s.floor();
            let f = s - i;
            let mut idx = [0; 4];
            let mut wts = [0.0; 4];
            for k in 0..4 {
                idx[k] = (i as i64 + k as i64 - 1).clamp(0, src as i64 - 1) as usize;
                wts[k] = cubic(f - (k as f64 - 1.0)) as f32;
            }
            (idx, wts)
        })
        .collect()
}

/// Bicubic resize of an RGB u8 HWC image to f32 HWC on [0, 255].
fn resize_cubic(src: &[u8], sw: usize, sh: usize, w: usize, h: usize) -> Vec<f32> {
    let (xs, ys) = (cubic_taps(sw, w), cubic_taps(sh, h));
    // Horizontal pass: sh rows of w pixels.
    let mut tmp = vec![0.0f32; sh * w * 3];
    for y in 0..sh {
        let row = &src[y * sw * 3..(y + 1) * sw * 3];
        for (x, (idx, wts)) in xs.iter().enumerate() {
            for c in 0..3 {
                let v: f32 = (0..4).map(|k| wts[k] * f32::from(row[idx[k] * 3 + c])).sum();
                tmp[(y * w + x) * 3 + c] = v;
            }
        }
    }
    let mut out = vec![0.0f32; h * w * 3];
    for (y, (idx, wts)) in ys.iter().enumerate() {
        for x in 0..w * 3 {
            let v: f32 = (0..4).map(|k| wts[k] * tmp[idx[k] * w * 3 + x]).sum();
            out[y * w * 3 + x] = v.clamp(0.0, 255.0);
        }
    }
    out
}

/// Nearest-neighbour resize of a u8 map, sampling at pixel centres.
fn resize_nearest(src: &[u8], sw: usize, sh: usize, w: usize, h: usize) -> Vec<u8> {
    let pick = |o: usize, s: usize, d: usize| (((o as f64 + 0.5) * s as f64 / d as f64) as usize).min(s - 1);
    let cols: Vec<usize> = (0..w).map(|x| pick(x, sw, w)).collect();
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        let row = &src[pick(y, sh, h) * sw..][..sw];
        out.extend(cols.iter().map(|&c| row[c]));
    }
    out
}

/// The source position of output pixel (x, y) under a rotation by `angle_deg` about the centre.
fn rotation(w: usize, h: usize, angle_deg: f64) -> impl Fn(usize, usize) -> (f64, f64) {
    let (sin, cos) = angle_deg.to_radians().sin_cos();
    let (cx, cy) = ((w as f64 - 1.0) / 2.0, (h as f64 - 1.0) / 2.0);
    move |x, y| {
        let (dx, dy) = (x as f64 - cx, y as f64 - cy);
        (cx + cos * dx - sin * dy, cy + sin * dx + cos * dy)
    }
}

/// Bilinear rotation of an f32 HWC RGB image; outside the source is 0.
fn rotate_bilinear(src: &[f32], w: usize, h: usize, angle_deg: f64) -> Vec<f32> {
    let source = rotation(w, h, angle_deg);
    let at = |x: i64, y: i64, c: usize| {
        if x < 0 || y < 0 || x >= w as i64 || y >= h as i64 {
            0.0
        } else {
            src[(y as usize * w + x as usize) * 3 + c]
        }
    };
    let mut out = vec![0.0f32; w * h * 3];
    for y in 0..h {
        for x in 0..w {
            let (sx, sy) = source(x, y);
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = ((sx - x0) as f32, (sy - y0) as f32);
            let (x0, y0) = (x0 as i64, y0 as i64);
            for c in 0..3 {
                let top = at(x0, y0, c) * (1.0 - fx) + at(x0 + 1, y0, c) * fx;
                let bottom = at(x0, y0 + 1, c) * (1.0 - fx) + at(x0 + 1, y0 + 1, c) * fx;
                out[(y * w + x) * 3 + c] = top * (1.0 - fy) + bottom * fy;
            }
        }
    }
    out
}

/// Nearest-neighbour rotation of a u8 map; outside the source is 0 (background).
fn rotate_nearest(src: &[u8], w: usize, h: usize, angle_deg: f64) -> Vec<u8> {
    let source = rotation(w, h, angle_deg);
    let mut out = vec![0u8; w * h];
    for y in 0..h {
        for x in 0..w {
            let (sx, sy) = source(x, y);
            let (sx, sy) = (sx.round(), sy.round());
            if sx >= 0.0 && sy >= 0.0 && sx < w as f64 && sy < h as f64 {
                out[y * w + x] = src[sy as usize * w + sx as usize];
            }
        }
    }
    out
}

/// [0, 255] HWC to normalised CHW.
fn normalise(rgb: &[f32], w: usize, h: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; 3 * w * h];
    for (i, px) in rgb.chunks_exact(3).enumerate() {
        for c in 0..3 {
            out[c * w * h + i] = (px[c] / 255.0 - MEAN[c]) / STD[c];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segmentation;
    use crate::synth::{self, Split};

    /// Fraction of painted marking pixels (bright, below the horizon, in rows where every lane
    /// is labelled) that fall on lane pixels of the label.
    fn overlap(sample: &Sample, w: usize, h: usize, rows: std::ops::Range<usize>) -> f64 {
        let (mut bright, mut on_lane) = (0, 0);
        for y in rows {
            for x in 0..w {
                let v: Vec<f32> = (0..3)
                    .map(|c| (sample.image[c * w * h + y * w + x] * STD[c] + MEAN[c]) * 255.0)
                    .collect();
                if v[0] > 170.0 && v[1] > 160.0 && v[0] > v[2] - 10.0 {
                    bright += 1;
                    on_lane += usize::from(sample.label[y * w + x] != 0);
                }
            }
        }
        assert!(bright > 200, "too few marking pixels: {bright}");
        on_lane as f64 / bright as f64
    }

    #[test]
    fn image_and_label_stay_aligned_through_resize_and_rotation() {
        let (w, h) = (512, 288);
        let mut checked = 0;
        for index in 0..12 {
            let frame = synth::frame(3, Split::Test, index);
            let map = segmentation::generate(&frame.label);
            // Only frames whose every marking is labelled and drawn.
            if map.exist.iter().filter(|&&e| e).count() != frame.scene.lanes.len() {
                continue;
            }
            // From the first labelled row of every lane (+ a margin) to the last h_sample.
            let top = frame.scene.lanes.iter().map(|l| l.top).fold(0.0, f64::max);
            let rows = ((top + 20.0) * h as f64 / 720.0) as usize..(700 * h / 720);
            let t = Transform::eval(w as u32, h as u32);
            for angle in [0.0, 1.0, -1.0] {
                let s = t.apply_with_angle(&frame.image, &map, angle).unwrap();
                let o = overlap(&s, w, h, rows.clone());
                assert!(o > 0.97, "frame {index} angle {angle}: {o}");
            }
            // Rotating the image and not the label misaligns them: the check has teeth.
            let mut image_only = t.apply_with_angle(&frame.image, &map, 1.0).unwrap();
            image_only.label = t.apply_with_angle(&frame.image, &map, -1.0).unwrap().label;
            assert!(overlap(&image_only, w, h, rows) < 0.9);
            checked += 1;
            if checked == 2 {
                return;
            }
        }
        panic!("too few frames with every marking labelled: {checked}");
    }

    fn flat(value: u8, w: u32, h: u32) -> (RgbImage, SegLabel) {
        let image = RgbImage::from_pixel(w, h, image::Rgb([value, value, value]));
        let mut ids = vec![0; (w * h) as usize];
        // Pixel (1, 1): the centre of output pixel (0, 0) when halving the size.
        ids[w as usize + 1] = 3;
        (image, SegLabel { width: w, height: h, ids, exist: [false, false, true, true] })
    }

    #[test]
    fn eval_normalises_with_imagenet_statistics_into_chw() {
        let (image, label) = flat(255, 40, 20);
        let s = Transform::eval(20, 10).apply(&image, &label, &mut Rng::new(0)).unwrap();
        assert_eq!((s.image.len(), s.label.len()), (3 * 20 * 10, 20 * 10));
        for c in 0..3 {
            let expected = (1.0 - MEAN[c]) / STD[c];
            assert!(s.image[c * 200..(c + 1) * 200].iter().all(|v| (v - expected).abs() < 1e-5));
        }
        assert_eq!(s.exist, [0.0, 0.0, 1.0, 1.0]);
        assert_eq!(s.label[0], 3);
        assert_eq!(s.label.iter().filter(|&&v| v != 0).count(), 1);
    }

    #[test]
    fn training_rotates_by_a_seeded_angle_and_darkens_corners() {
        let (image, label) = flat(255, 200, 100);
        let t = Transform::train(200, 100);
        let a = t.apply(&image, &label, &mut Rng::new(1)).unwrap();
        assert_eq!(a, t.apply(&image, &label, &mut Rng::new(1)).unwrap());
        assert_ne!(a, t.apply(&image, &label, &mut Rng::new(2)).unwrap());
        // A rotated flat image darkens at some corner, where the source is outside (zero).
        let full = (1.0 - MEAN[0]) / STD[0];
        let darkest =
            [0, 199, 99 * 200, 100 * 200 - 1].iter().map(|&i| a.image[i]).fold(f32::INFINITY, f32::min);
        assert!(darkest < full - 0.01, "{darkest} vs {full}");
        assert!((a.image[50 * 200 + 100] - full).abs() < 1e-4);
    }

    #[test]
    fn the_cubic_kernel_reproduces_constants_and_ramps() {
        let ramp: Vec<u8> = (0..64u8).flat_map(|x| [x * 4, x * 4, x * 4]).collect();
        let out = resize_cubic(&ramp, 64, 1, 32, 1);
        // Downscaling by 2 samples between source pixels 2i and 2i + 1: value 8i + 2.
        for x in 2..30 {
            assert!((out[x * 3] - (8.0 * x as f32 + 2.0)).abs() < 1e-3, "{x}: {}", out[x * 3]);
        }
    }

    #[test]
    fn mismatched_or_empty_inputs_are_errors() {
        let (image, _) = flat(10, 40, 20);
        let (_, label) = flat(10, 20, 20);
        assert!(matches!(
            Transform::eval(8, 8).apply(&image, &label, &mut Rng::new(0)),
            Err(TransformError::SizeMismatch { .. })
        ));
        let (image, label) = flat(10, 4, 4);
        assert_eq!(Transform::eval(0, 8).apply(&image, &label, &mut Rng::new(0)), Err(TransformError::Empty));
    }
}
