//! SCNN (Pan et al., AAAI 2018) as in the reference code, in burn.
//!
//! VGG16 with batch norm (conv layers only; the 4th and 5th max-pools removed and the three
//! conv5 layers dilated by 2, for an output stride of 8), `layer1` (a dilated 3x3 conv to 1024
//! channels and a 1x1 conv to 128), spatial message passing with kernel width 9 in four
//! directions, `layer2` (channel dropout and a 1x1 conv to 5 classes) upsampled bilinearly
//! (align corners) to the input size, and the existence branch (softmax, 2x2 average pool,
//! linear 128, ReLU, linear 4).
//!
//! Two choices differ in form, not in effect, from the reference: the existence branch's first
//! linear layer takes `5 x (h/16) x (w/16)` inputs computed from the configured input size
//! ([`ScnnConfig::exist_features`]), so that tests can run at small sizes, and the segmentation
//! logits are upsampled to the input size rather than by a fixed factor 8 (the same thing when
//! the input is a multiple of 8, as 512x288 is). [`Scnn::forward`] returns logits for both
//! heads; the losses and the post-processing apply the softmax and the sigmoid.
//!
//! Channel dropout (PyTorch's Dropout2d) takes its mask from the caller ([`Scnn::forward`]'s
//! `channel_mask`) rather than from burn's random generator, so that a run resumed from a
//! checkpoint draws exactly what an uninterrupted run would.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::{relu, softmax};
use burn::tensor::module::{avg_pool2d, interpolate, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, InterpolateMode, InterpolateOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor};

/// Output classes of the segmentation head: background and lanes 1..=4.
pub const CLASSES: usize = 5;
/// Lane slots of the existence head.
pub const LANES: usize = 4;
/// Channels of the message-passing layers.
pub const MP_CHANNELS: usize = 128;
/// The message-passing kernel width.
pub const MP_KERNEL: usize = 9;
/// The reference's channel-dropout probability before the 1x1 classifier.
pub const DROPOUT: f64 = 0.1;

/// VGG16's conv layers: output channels, or `None` for a 2x2 max-pool. The 4th and 5th pools
/// are left out; the last three convs are the dilated conv5.
const VGG16: [Option<usize>; 16] = [
    Some(64),
    Some(64),
    None,
    Some(128),
    Some(128),
    None,
    Some(256),
    Some(256),
    Some(256),
    None,
    Some(512),
    Some(512),
    Some(512),
    Some(512),
    Some(512),
    Some(512),
];
/// The number of VGG16 conv layers.
pub const VGG_CONVS: usize = 13;
/// The index of the first conv5 layer (dilation 2).
const CONV5_START: usize = 10;

/// The model's input size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScnnConfig {
    /// Input width (512 for TuSimple).
    pub width: usize,
    /// Input height (288).
    pub height: usize,
}

impl ScnnConfig {
    /// The reference's 512x288.
    pub const TUSIMPLE: ScnnConfig = ScnnConfig { width: 512, height: 288 };

    /// The backbone's output size `(height, width)`: three 2x2 pools, each rounding down.
    pub fn feature_size(&self) -> (usize, usize) {
        (self.height / 2 / 2 / 2, self.width / 2 / 2 / 2)
    }

    /// The existence branch's linear input: 5 channels after a 2x2 average pool of the feature
    /// map (2880 at 512x288).
    pub fn exist_features(&self) -> usize {
        let (h, w) = self.feature_size();
        CLASSES * (h / 2) * (w / 2)
    }

    /// Builds the model with burn's default initialisation on `device`.
    ///
    /// Panics if the input is smaller than 16x16 (the existence branch would have no input).
    pub fn init(&self, device: &Device) -> Scnn {
        assert!(self.exist_features() > 0, "SCNN needs an input of at least 16x16, got {self:?}");
        let mut backbone = Vec::new();
        let mut channels = 3;
        for (i, out) in VGG16.iter().flatten().enumerate() {
            let dilation = if i >= CONV5_START { 2 } else { 1 };
            backbone.push(ConvBn {
                conv: Conv2dConfig::new([channels, *out], [3, 3])
                    .with_dilation([dilation, dilation])
                    .with_padding(PaddingConfig2d::Explicit(dilation, dilation, dilation, dilation))
                    .init(device),
                bn: BatchNormConfig::new(*out).init(device),
            });
            channels = *out;
        }
        let mp = |kernel: [usize; 2], padding: PaddingConfig2d| {
            Conv2dConfig::new([MP_CHANNELS, MP_CHANNELS], kernel)
                .with_padding(padding)
                .with_bias(false)
                .init(device)
        };
        let half = MP_KERNEL / 2;
        Scnn {
            backbone,
            layer1_dilated: ConvBn {
                conv: Conv2dConfig::new([512, 1024], [3, 3])
                    .with_dilation([4, 4])
                    .with_padding(PaddingConfig2d::Explicit(4, 4, 4, 4))
                    .with_bias(false)
                    .init(device),
                bn: BatchNormConfig::new(1024).init(device),
            },
            layer1_reduce: ConvBn {
                conv: Conv2dConfig::new([1024, MP_CHANNELS], [1, 1]).with_bias(false).init(device),
                bn: BatchNormConfig::new(MP_CHANNELS).init(device),
            },
            message_down: mp([1, MP_KERNEL], PaddingConfig2d::Explicit(0, half, 0, half)),
            message_up: mp([1, MP_KERNEL], PaddingConfig2d::Explicit(0, half, 0, half)),
            message_right: mp([MP_KERNEL, 1], PaddingConfig2d::Explicit(half, 0, half, 0)),
            message_left: mp([MP_KERNEL, 1], PaddingConfig2d::Explicit(half, 0, half, 0)),
            layer2: Conv2dConfig::new([MP_CHANNELS, CLASSES], [1, 1]).init(device),
            exist_hidden: LinearConfig::new(self.exist_features(), 128).init(device),
            exist_out: LinearConfig::new(128, LANES).init(device),
        }
    }
}

impl std::fmt::Display for ScnnConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

/// An input size that is not `WIDTHxHEIGHT` with both at least 16.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not an input size: expected WIDTHxHEIGHT, both at least 16 (e.g. 512x288)")]
pub struct BadInputSize(pub String);

impl std::str::FromStr for ScnnConfig {
    type Err = BadInputSize;

    fn from_str(s: &str) -> Result<ScnnConfig, BadInputSize> {
        let bad = || BadInputSize(s.to_string());
        let (w, h) = s.split_once('x').ok_or_else(bad)?;
        let config =
            ScnnConfig { width: w.parse().map_err(|_| bad())?, height: h.parse().map_err(|_| bad())? };
        if config.width < 16 || config.height < 16 { Err(bad()) } else { Ok(config) }
    }
}

/// A convolution followed by batch norm (and, in the forward pass, ReLU).
#[derive(Module, Debug)]
pub struct ConvBn {
    /// The convolution.
    pub conv: Conv2d,
    /// Its batch norm.
    pub bn: BatchNorm,
}

impl ConvBn {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        relu(self.bn.forward(self.conv.forward(x)))
    }
}

/// The network. Field names are the parameter names in checkpoints.
#[derive(Module, Debug)]
pub struct Scnn {
    /// VGG16-BN's 13 conv layers (conv5 dilated).
    pub backbone: Vec<ConvBn>,
    /// layer1's 3x3 conv 512->1024, dilation 4.
    pub layer1_dilated: ConvBn,
    /// layer1's 1x1 conv 1024->128.
    pub layer1_reduce: ConvBn,
    /// Message passing top to bottom (1x9), row by row.
    pub message_down: Conv2d,
    /// Message passing bottom to top (1x9).
    pub message_up: Conv2d,
    /// Message passing left to right (9x1), column by column.
    pub message_right: Conv2d,
    /// Message passing right to left (9x1).
    pub message_left: Conv2d,
    /// The 1x1 classifier 128->5.
    pub layer2: Conv2d,
    /// The existence branch's first linear layer.
    pub exist_hidden: Linear,
    /// The existence branch's output layer (logits of lanes 1..=4).
    pub exist_out: Linear,
}

/// The network's outputs.
#[derive(Debug, Clone)]
pub struct ScnnOutput {
    /// Segmentation logits, `[batch, 5, height, width]` at the input size.
    pub seg_logits: Tensor<4>,
    /// Existence logits, `[batch, 4]`.
    pub exist_logits: Tensor<2>,
}

impl Scnn {
    /// The forward pass on a normalised batch `[batch, 3, height, width]`.
    ///
    /// `channel_mask` is channel dropout's mask, `[batch, 128, 1, 1]`, already scaled by
    /// 1 / (1 - p) (see [`channel_dropout_mask`]); `None` in evaluation.
    pub fn forward(&self, images: Tensor<4>, channel_mask: Option<Tensor<4>>) -> ScnnOutput {
        let [_, _, height, width] = images.dims();
        let mut x = images;
        let mut convs = self.backbone.iter();
        for layer in VGG16 {
            x = match layer {
                None => max_pool2d(x, MaxPoolOptions::new([2, 2])),
                Some(_) => convs.next().expect("the backbone has one layer per VGG16 conv").forward(x),
            };
        }
        let x = self.layer1_reduce.forward(self.layer1_dilated.forward(x));
        let x = self.message_passing(x);
        let x = match channel_mask {
            Some(mask) => x * mask,
            None => x,
        };
        let low = self.layer2.forward(x);
        let seg_logits = interpolate(
            low.clone(),
            InterpolateOptions::new(InterpolateMode::Bilinear)
                .with_align_corners(true)
                .with_output_size([height, width]),
        );
        let pooled = avg_pool2d(softmax(low, 1), AvgPoolOptions::new([2, 2]));
        let hidden = relu(self.exist_hidden.forward(pooled.flatten::<2>(1, 3)));
        ScnnOutput { seg_logits, exist_logits: self.exist_out.forward(hidden) }
    }

    /// The four directions in the reference's order: down, up, right, left.
    fn message_passing(&self, x: Tensor<4>) -> Tensor<4> {
        let x = pass(&self.message_down, x, 2, false);
        let x = pass(&self.message_up, x, 2, true);
        let x = pass(&self.message_right, x, 3, false);
        pass(&self.message_left, x, 3, true)
    }
}

/// One direction of message passing along `dim` (2: rows, 3: columns): out[0] = x[0],
/// out[i] = x[i] + relu(conv(out[i - 1])), in reverse order when `reverse`.
fn pass(conv: &Conv2d, x: Tensor<4>, dim: usize, reverse: bool) -> Tensor<4> {
    let mut slices = x.split(1, dim);
    let order: Vec<usize> =
        if reverse { (0..slices.len()).rev().collect() } else { (0..slices.len()).collect() };
    for pair in order.windows(2) {
        let (prev, cur) = (pair[0], pair[1]);
        let message = relu(conv.forward(slices[prev].clone()));
        slices[cur] = slices[cur].clone() + message;
    }
    Tensor::cat(slices, dim)
}

/// PyTorch's Dropout2d mask for `batch` samples: each of the 128 channels is kept with
/// probability 1 - p and scaled by 1 / (1 - p), from `uniform` (one value in [0, 1) per
/// sample and channel, e.g. from [`crate::rng::Rng`]).
pub fn channel_dropout_mask(uniform: &[f64], batch: usize, p: f64, device: &Device) -> Tensor<4> {
    assert_eq!(uniform.len(), batch * MP_CHANNELS, "one draw per sample and channel");
    let scale = (1.0 / (1.0 - p)) as f32;
    let values: Vec<f32> = uniform.iter().map(|&u| if u < p { 0.0 } else { scale }).collect();
    Tensor::<1>::from_floats(values.as_slice(), device).reshape([batch, MP_CHANNELS, 1, 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state;

    #[test]
    fn the_full_size_model_has_the_reference_parameter_count() {
        // Construction only: a forward pass at 512x288 takes seconds.
        let model = ScnnConfig::TUSIMPLE.init(&Device::flex());
        assert_eq!(ScnnConfig::TUSIMPLE.exist_features(), 2880);
        assert_eq!(state::parameter_count(&model), 20_534_857);
        let layout = state::layout(&model);
        let buffers: usize =
            layout.iter().filter(|t| t.kind == state::TensorKind::Buffer).map(state::TensorInfo::len).sum();
        // Two running statistics per batch-norm channel: 13 VGG layers, 1024 and 128.
        assert_eq!(buffers, 2 * (2 * 64 + 2 * 128 + 3 * 256 + 6 * 512 + 1024 + 128));
        assert_eq!(layout[0].name, "backbone.0.conv.weight");
        assert!(layout.iter().any(|t| t.name == "backbone.12.bn.running_var"), "{layout:?}");
    }

    #[test]
    fn a_small_input_gives_outputs_at_its_size() {
        let device = Device::flex();
        for (w, h, exist) in [(64, 36, 5 * 2 * 4), (64, 32, 5 * 2 * 4), (96, 48, 5 * 3 * 6)] {
            let config = ScnnConfig { width: w, height: h };
            assert_eq!(config.exist_features(), exist);
            let model = config.init(&device);
            let out = model.forward(Tensor::zeros([2, 3, h, w], &device), None);
            assert_eq!(out.seg_logits.dims(), [2, CLASSES, h, w]);
            assert_eq!(out.exist_logits.dims(), [2, LANES]);
        }
    }

    #[test]
    fn input_sizes_round_trip() {
        assert_eq!("512x288".parse::<ScnnConfig>(), Ok(ScnnConfig::TUSIMPLE));
        assert_eq!(ScnnConfig::TUSIMPLE.to_string(), "512x288");
        for bad in ["512", "8x8", "ax288", "512x"] {
            assert!(bad.parse::<ScnnConfig>().is_err(), "{bad}");
        }
    }

    #[test]
    fn channel_dropout_keeps_or_scales_whole_channels() {
        let device = Device::flex();
        let uniform: Vec<f64> = (0..2 * MP_CHANNELS).map(|i| (i % 10) as f64 / 10.0).collect();
        let mask = channel_dropout_mask(&uniform, 2, 0.1, &device);
        assert_eq!(mask.dims(), [2, MP_CHANNELS, 1, 1]);
        let values = mask.into_data().try_into_vec::<f32>().unwrap();
        assert_eq!(values.iter().filter(|&&v| v == 0.0).count(), 2 * MP_CHANNELS / 10 + 1);
        assert!(values.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.9).abs() < 1e-6));
    }
}
