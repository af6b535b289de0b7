//! The data-parallel parity check: proof, on the machines a run will use, that training over a
//! world of processes computes what one process would.
//!
//! Every process builds the model from its own seed (so that they start different), takes
//! rank 0's values through the same broadcast training uses, and checks that they now hold
//! bit-identical parameters. Then each process computes the gradient of its share of a batch
//! of synthetic frames, and the world averages them through the same all-reduce and loss
//! normalisation as [`Trainer::step`](crate::train::Trainer::step); rank 0 also computes the
//! gradient of the whole batch alone, and compares.
//!
//! The comparison holds exactly (up to float rounding) only where the forward pass treats each
//! sample independently: batch normalisation runs on its running statistics and channel dropout
//! is off. In training, batch statistics are per process, as in Horovod and PyTorch's DDP.

use burn::module::Module;
use burn::tensor::Device;

use crate::dist::Collective;
use crate::loss::{Batch, scnn_loss};
use crate::model::{Scnn, ScnnConfig};
use crate::rng::Rng;
use crate::state::{self, TensorKind};
use crate::synth::{self, Split};
use crate::train::broadcast_model;
use crate::transform::{Sample, Transform};

/// What the check compares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParityOptions {
    /// The network's input size.
    pub input: ScnnConfig,
    /// Frames per process.
    pub per_rank: usize,
    /// The seed of the frames (the model's seeds are this plus the rank).
    pub seed: u64,
}

/// What the check found (rank 0's view; the other ranks report the world's size only).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ParityReport {
    /// The number of processes.
    pub world: usize,
    /// Trained values in the model.
    pub parameters: usize,
    /// Whether every process held rank 0's parameters, bit for bit, after the broadcast.
    pub params_identical: bool,
    /// The largest |averaged - single-process| over the gradient's elements.
    pub max_abs_diff: f64,
    /// `max_abs_diff` relative to the largest |single-process gradient| element.
    pub max_rel_diff: f64,
    /// The tolerance `max_rel_diff` is held to.
    pub tolerance: f64,
    /// Both checks passed.
    pub ok: bool,
}

/// The relative tolerance. f32 gradients summed in different orders differ by about 1e-7 of the
/// largest element; dividing each process's loss by its own pixel weights instead of the world's
/// (the mistake this guards against) differs by about 1e-4 at 64x36.
pub const TOLERANCE: f64 = 1e-5;

/// Runs the check on every process of `world` (all must call it), on `device` (autodiff is
/// added).
pub fn check(world: &dyn Collective, options: &ParityOptions, device: &Device) -> ParityReport {
    let device = device.clone().autodiff();
    let (rank, size) = (world.rank(), world.size());
    device.seed(options.seed.wrapping_add(rank as u64));
    // Batch norm on its running statistics, every parameter still trained.
    let model = options.input.init(&device).fork(&device).train().freeze().set_require_grad(true);

    // Rank 0's values everywhere, then a digest of each process's compared with rank 0's.
    let model = broadcast_model(world, model);
    let params = state::values(&model, TensorKind::Parameter);
    let own = digest(&params);
    let mut root = [own];
    world.broadcast_u64(&mut root);
    let mut differing = [f64::from(u8::from(root[0] != own))];
    world.sum_f64(&mut differing);

    // The same frames on every process; each takes its share.
    let samples = frames(options, size);
    let share = &samples[rank * options.per_rank..(rank + 1) * options.per_rank];
    let mut batch = Batch::from_samples(share, options.input.width, options.input.height, &device);
    let mut normaliser = [batch.seg_normaliser];
    world.mean_f64(&mut normaliser);
    batch.seg_normaliser = normaliser[0];
    let mut averaged = gradient(&model, &batch);
    world.mean_f32(&mut averaged);

    let mut report = ParityReport {
        world: size,
        parameters: params.len(),
        params_identical: differing[0] == 0.0,
        max_abs_diff: 0.0,
        max_rel_diff: 0.0,
        tolerance: TOLERANCE,
        ok: false,
    };
    if rank == 0 {
        let whole = Batch::from_samples(&samples, options.input.width, options.input.height, &device);
        let single = gradient(&model, &whole);
        let scale = single.iter().fold(0.0f64, |m, g| m.max(f64::from(g.abs())));
        report.max_abs_diff =
            averaged.iter().zip(&single).fold(0.0f64, |m, (a, b)| m.max(f64::from((a - b).abs())));
        report.max_rel_diff = if scale > 0.0 { report.max_abs_diff / scale } else { report.max_abs_diff };
    }
    // Every process learns rank 0's verdict, so that every one exits alike.
    let mut verdict = [u64::from(report.params_identical && report.max_rel_diff <= TOLERANCE)];
    world.broadcast_u64(&mut verdict);
    report.ok = verdict[0] == 1;
    report
}

/// `per_rank x world` synthetic training frames, evaluated without augmentation.
fn frames(options: &ParityOptions, world: usize) -> Vec<Sample> {
    let transform = Transform::eval(options.input.width as u32, options.input.height as u32);
    (0..options.per_rank * world)
        .map(|i| {
            synth::sample(options.seed, Split::Train0313, i, &transform, &mut Rng::new(0))
                .expect("synthetic frames transform")
        })
        .collect()
}

fn gradient(model: &Scnn, batch: &Batch) -> Vec<f32> {
    let output = model.forward(batch.images.clone(), None);
    let grads = scnn_loss(&output, batch).total.backward();
    state::gradients(model, &grads)
}

/// A 64-bit digest of `values`' bits (FNV-1a), enough to tell replicas apart.
fn digest(values: &[f32]) -> u64 {
    values.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, v| {
        v.to_bits().to_le_bytes().iter().fold(h, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::Solo;

    #[test]
    fn one_process_matches_itself() {
        let options = ParityOptions { input: ScnnConfig { width: 64, height: 36 }, per_rank: 2, seed: 1 };
        let report = check(&Solo, &options, &Device::flex());
        assert!(report.ok && report.params_identical, "{report:?}");
        assert_eq!(report.max_abs_diff, 0.0);
        assert_eq!(report.world, 1);
    }

    #[test]
    fn digests_tell_values_apart() {
        assert_eq!(digest(&[1.0, 2.0]), digest(&[1.0, 2.0]));
        assert_ne!(digest(&[1.0, 2.0]), digest(&[2.0, 1.0]));
        assert_ne!(digest(&[0.0]), digest(&[-0.0]));
    }
}
