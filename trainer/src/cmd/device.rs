//! The device the binary computes on: burn's CUDA backend with the `cuda` feature, else the
//! `flex` CPU backend.

use burn::tensor::Device;

/// The first CUDA device with the `cuda` feature; the CPU otherwise.
pub fn compute_device() -> Device {
    #[cfg(feature = "cuda")]
    {
        Device::cuda(0usize)
    }
    #[cfg(not(feature = "cuda"))]
    {
        Device::flex()
    }
}
