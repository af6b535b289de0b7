//! Predictions for every frame of a set, in TuSimple's prediction format.
//!
//! Each frame is loaded with the evaluation transform, run through the model in evaluation mode
//! (running statistics, no dropout, no autodiff) one at a time, and turned into lanes by
//! [`crate::postprocess`]: softmax over the classes, sigmoid on the existence logits. `run_time`
//! is the frame's forward pass and post-processing in milliseconds, as the benchmark defines it
//! (the metric scores a frame over 200 ms as missed; on a CPU at full size that is expected).

use std::time::Instant;

use burn::module::Module;
use burn::tensor::Device;
use burn::tensor::activation::{sigmoid, softmax};

use crate::dataset::{DataError, FrameSet};
use crate::loss::Batch;
use crate::model::{CLASSES, LANES, Scnn, ScnnConfig};
use crate::postprocess::{PostprocessError, lanes_from_maps};
use crate::rng::Rng;
use crate::transform::Transform;
use crate::tusimple::PredictionLine;

/// Why predictions could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    /// A frame could not be loaded.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The network's output could not be post-processed.
    #[error(transparent)]
    Postprocess(#[from] PostprocessError),
}

/// Predicts lanes for every frame of `set` with `model` (built for `input`) on `device`.
pub fn predict_set(
    model: &Scnn,
    input: ScnnConfig,
    set: &FrameSet,
    device: &Device,
) -> Result<Vec<PredictionLine>, PredictError> {
    let model = model.valid();
    let transform = Transform::eval(input.width as u32, input.height as u32);
    let mut lines = Vec::with_capacity(set.len());
    for (index, label) in set.labels.iter().enumerate() {
        let sample = set.load(index, &transform, &mut Rng::new(0))?;
        let started = Instant::now();
        let batch = Batch::from_samples(std::slice::from_ref(&sample), input.width, input.height, device);
        let output = model.forward(batch.images, None);
        let probs = softmax(output.seg_logits, 1).into_data().convert::<f32>().try_into_vec::<f32>();
        let exist = sigmoid(output.exist_logits).into_data().convert::<f32>().try_into_vec::<f32>();
        let (probs, exist) = (probs.expect("f32 output"), exist.expect("f32 output"));
        let plane = input.width * input.height;
        debug_assert_eq!(probs.len(), CLASSES * plane);
        let mut exist4 = [0.0f32; LANES];
        exist4.copy_from_slice(&exist[..LANES]);
        let lanes = lanes_from_maps(&probs[plane..], input.height, input.width, exist4)?;
        let run_time = started.elapsed().as_secs_f64() * 1000.0;
        lines.push(PredictionLine {
            lanes: lanes.iter().map(|lane| lane.at_h_samples(&label.h_samples)).collect(),
            h_samples: Some(label.h_samples.clone()),
            raw_file: label.raw_file.clone(),
            run_time,
        });
    }
    Ok(lines)
}
