//! The optimiser and the learning-rate schedule, as pure functions on flat `f32` vectors.
//!
//! SGD as PyTorch defines it (momentum 0.9, dampening 0, Nesterov, weight decay 1e-4 on every
//! parameter, batch-norm scales and shifts included, as in the reference). The poly schedule is
//! stepped per iteration with a linear warm-up. Unlike the reference, which fixed max_iter at
//! 1500 so that most of its 10 epochs ran at a learning rate near zero, `max_iter` defaults to
//! epochs x iterations per epoch (the caller's choice, see [`PolySchedule`]).
//!
//! The base learning rate is scaled with the number of processes ([`LrScaling`]): the reference
//! scaled by the GPUs of one node only; the default here is the whole world, Horovod's own
//! recommendation for data-parallel training whose effective batch grows with the world.

use std::fmt;
use std::str::FromStr;

/// SGD with momentum and weight decay (PyTorch's `torch.optim.SGD`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sgd {
    /// Momentum (0.9).
    pub momentum: f32,
    /// L2 weight decay added to the gradient (1e-4).
    pub weight_decay: f32,
    /// Nesterov momentum.
    pub nesterov: bool,
}

impl Sgd {
    /// The reference's settings.
    pub const SCNN: Sgd = Sgd { momentum: 0.9, weight_decay: 1e-4, nesterov: true };

    /// One step: `params -= lr * update`, with `velocity` (zeros before the first step) the
    /// momentum buffer. All three slices have the same length.
    pub fn step(&self, params: &mut [f32], grads: &[f32], velocity: &mut [f32], lr: f32) {
        assert!(params.len() == grads.len() && grads.len() == velocity.len(), "slices differ in length");
        for ((p, &g), v) in params.iter_mut().zip(grads).zip(velocity.iter_mut()) {
            let d = g + self.weight_decay * *p;
            // PyTorch starts the buffer at the first gradient; from zeros that is the same.
            *v = self.momentum * *v + d;
            let update = if self.nesterov { d + self.momentum * *v } else { *v };
            *p -= lr * update;
        }
    }
}

/// The poly schedule with linear warm-up, stepped per iteration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PolySchedule {
    /// The (scaled) base learning rate.
    pub base_lr: f64,
    /// The floor (1e-10).
    pub min_lr: f64,
    /// Warm-up iterations (20).
    pub warmup: u64,
    /// The iteration at which the rate reaches `min_lr`.
    pub max_iter: u64,
    /// The exponent (0.9).
    pub power: f64,
}

impl PolySchedule {
    /// The reference's schedule (base 0.15 before scaling, warm-up 20, power 0.9, floor 1e-10)
    /// ending at `max_iter`.
    pub fn scnn(base_lr: f64, max_iter: u64) -> PolySchedule {
        PolySchedule { base_lr, min_lr: 1e-10, warmup: 20, max_iter, power: 0.9 }
    }

    /// The learning rate of iteration `it` (0-based): `base * (it + 1) / warmup` during the
    /// warm-up, then `(base - min) * (1 - (it - warmup) / (max_iter - warmup))^power + min`,
    /// held at `min` from `max_iter` on.
    pub fn lr(&self, it: u64) -> f64 {
        if it < self.warmup {
            return self.base_lr * (it + 1) as f64 / self.warmup as f64;
        }
        let span = self.max_iter.saturating_sub(self.warmup).max(1) as f64;
        let progress = ((it - self.warmup) as f64 / span).min(1.0);
        (self.base_lr - self.min_lr) * (1.0 - progress).powf(self.power) + self.min_lr
    }
}

/// How the base learning rate grows with the number of processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LrScaling {
    /// Not at all.
    None,
    /// By the processes on this node (the reference's choice).
    Local,
    /// By all processes (Horovod's recommendation; the default).
    World,
}

impl LrScaling {
    /// The factor for `local` processes on this node out of `world`.
    pub fn factor(self, local: usize, world: usize) -> f64 {
        match self {
            LrScaling::None => 1.0,
            LrScaling::Local => local.max(1) as f64,
            LrScaling::World => world.max(1) as f64,
        }
    }
}

impl fmt::Display for LrScaling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LrScaling::None => "none",
            LrScaling::Local => "local",
            LrScaling::World => "world",
        })
    }
}

/// An unknown scaling name.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not a learning-rate scaling: expected none, local or world")]
pub struct UnknownScaling(pub String);

impl FromStr for LrScaling {
    type Err = UnknownScaling;

    fn from_str(s: &str) -> Result<LrScaling, UnknownScaling> {
        match s {
            "none" => Ok(LrScaling::None),
            "local" => Ok(LrScaling::Local),
            "world" => Ok(LrScaling::World),
            _ => Err(UnknownScaling(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sgd_matches_pytorch_nesterov_by_hand() {
        let sgd = Sgd { momentum: 0.9, weight_decay: 0.1, nesterov: true };
        let (mut p, mut v) = (vec![1.0f32], vec![0.0f32]);
        sgd.step(&mut p, &[0.5], &mut v, 0.1);
        // d = 0.5 + 0.1 = 0.6; v = 0.6; update = 0.6 + 0.54 = 1.14; p = 1 - 0.114.
        assert!((v[0] - 0.6).abs() < 1e-6 && (p[0] - 0.886).abs() < 1e-6, "{p:?} {v:?}");
        sgd.step(&mut p, &[0.5], &mut v, 0.1);
        // d = 0.5 + 0.0886 = 0.5886; v = 0.54 + 0.5886 = 1.1286; update = 0.5886 + 1.01574.
        assert!((v[0] - 1.1286).abs() < 1e-5, "{v:?}");
        assert!((p[0] - (0.886 - 0.160_434)).abs() < 1e-5, "{p:?}");
        let plain = Sgd { nesterov: false, weight_decay: 0.0, momentum: 0.0 };
        let (mut p, mut v) = (vec![1.0f32, 2.0], vec![0.0; 2]);
        plain.step(&mut p, &[1.0, -1.0], &mut v, 0.5);
        assert_eq!(p, vec![0.5, 2.5]);
    }

    #[test]
    fn the_schedule_warms_up_then_decays_to_the_floor() {
        let s = PolySchedule::scnn(0.15, 120);
        assert!((s.lr(0) - 0.15 / 20.0).abs() < 1e-12);
        assert!((s.lr(19) - 0.15).abs() < 1e-12);
        assert!((s.lr(20) - 0.15).abs() < 1e-9, "the decay starts at the base");
        let mid = (0.15 - 1e-10) * 0.5f64.powf(0.9) + 1e-10;
        assert!((s.lr(70) - mid).abs() < 1e-12);
        assert_eq!(s.lr(120), 1e-10);
        assert_eq!(s.lr(10_000), 1e-10);
        let mut last = f64::INFINITY;
        for it in 20..=120 {
            assert!(s.lr(it) <= last);
            last = s.lr(it);
        }
    }

    #[test]
    fn scaling_names_round_trip_and_scale() {
        for s in [LrScaling::None, LrScaling::Local, LrScaling::World] {
            assert_eq!(s.to_string().parse::<LrScaling>(), Ok(s));
        }
        assert_eq!("global".parse::<LrScaling>(), Err(UnknownScaling("global".into())));
        assert_eq!(LrScaling::None.factor(2, 6), 1.0);
        assert_eq!(LrScaling::Local.factor(2, 6), 2.0);
        assert_eq!(LrScaling::World.factor(2, 6), 6.0);
    }
}
