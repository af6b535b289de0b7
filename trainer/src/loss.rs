//! The training loss and the batches it is computed on.
//!
//! Cross-entropy over the 5 classes with weights [0.4, 1, 1, 1, 1] (PyTorch's weighted mean:
//! the sum of weighted pixel losses over the sum of the pixels' weights) plus 0.1 x binary
//! cross-entropy on the existence flags.
//!
//! In a data-parallel run the weighted mean's denominator is the whole world's: each rank
//! divides by the mean over ranks of the pixels' weight sums ([`Batch::seg_normaliser`]), so that
//! the mean of the ranks' gradients is exactly the gradient of one process on the concatenated
//! batch. (The reference divided each rank's loss by its own weights, which makes N ranks of
//! batch B train slightly differently from one process with batch N x B.) On one process the
//! two are the same. The existence loss is computed from logits in the
//! numerically stable form max(z, 0) - z t + log(1 + e^-|z|), which equals BCE on the sigmoid.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::model::{CLASSES, LANES, ScnnOutput};
use crate::transform::Sample;

/// The segmentation classes' weights: background down-weighted.
pub const CLASS_WEIGHTS: [f32; CLASSES] = [0.4, 1.0, 1.0, 1.0, 1.0];
/// The existence loss's weight.
pub const EXIST_WEIGHT: f64 = 0.1;

/// A batch on the device.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Normalised images, `[n, 3, h, w]`.
    pub images: Tensor<4>,
    /// Lane ids, `[n, 1, h, w]`.
    pub labels: Tensor<4, Int>,
    /// Each pixel's class weight, `[n, 1, h, w]`.
    pub pixel_weights: Tensor<4>,
    /// Existence flags, `[n, 4]`.
    pub exist: Tensor<2>,
    /// The sum of the pixels' class weights: the segmentation loss's denominator, replaced by
    /// the mean over ranks in a data-parallel step.
    pub seg_normaliser: f64,
}

impl Batch {
    /// Stacks transformed samples of `width` x `height`.
    ///
    /// Panics if a sample has another size or a label outside 0..5 (the transforms never make
    /// either).
    pub fn from_samples(samples: &[Sample], width: usize, height: usize, device: &Device) -> Batch {
        let n = samples.len();
        let mut images = Vec::with_capacity(n * 3 * width * height);
        let mut labels = Vec::with_capacity(n * width * height);
        let mut weights = Vec::with_capacity(n * width * height);
        let mut exist = Vec::with_capacity(n * LANES);
        let mut weight_sum = 0.0f64;
        for s in samples {
            assert_eq!(s.image.len(), 3 * width * height, "a sample of another size");
            images.extend_from_slice(&s.image);
            for &id in &s.label {
                labels.push(i64::from(id));
                let weight = CLASS_WEIGHTS[usize::from(id)];
                weight_sum += f64::from(weight);
                weights.push(weight);
            }
            exist.extend_from_slice(&s.exist);
        }
        Batch {
            images: Tensor::from_data(TensorData::new(images, [n, 3, height, width]), device),
            labels: Tensor::from_data(TensorData::new(labels, [n, 1, height, width]), device),
            pixel_weights: Tensor::from_data(TensorData::new(weights, [n, 1, height, width]), device),
            exist: Tensor::from_data(TensorData::new(exist, [n, LANES]), device),
            seg_normaliser: weight_sum,
        }
    }
}

/// The loss and its parts (scalars, `[1]`).
#[derive(Debug, Clone)]
pub struct Loss {
    /// seg + 0.1 x exist.
    pub total: Tensor<1>,
    /// The weighted cross-entropy.
    pub seg: Tensor<1>,
    /// The existence BCE.
    pub exist: Tensor<1>,
}

/// The SCNN loss of `output` on `batch`.
pub fn scnn_loss(output: &ScnnOutput, batch: &Batch) -> Loss {
    let log_p = log_softmax(output.seg_logits.clone(), 1).gather(1, batch.labels.clone());
    let seg = (log_p * batch.pixel_weights.clone()).sum().neg() / batch.seg_normaliser.max(f64::MIN_POSITIVE);
    let z = output.exist_logits.clone();
    let t = batch.exist.clone();
    let bce = z.clone().clamp_min(0.0) - z.clone() * t + (z.abs().neg().exp() + 1.0).log();
    let exist = bce.mean();
    Loss { total: seg.clone() + exist.clone() * EXIST_WEIGHT, seg, exist }
}

/// A scalar tensor's value.
pub fn scalar(t: &Tensor<1>) -> f64 {
    t.to_data().convert::<f64>().try_into_vec::<f64>().expect("a float scalar")[0]
}
