//! The device the binary computes on: burn's CUDA backend with the `cuda` feature, else the
//! `flex` CPU backend.

use burn::tensor::Device;

/// With the `cuda` feature, the CUDA device numbered by this process's rank on its node (one
/// process per GPU, as mpirun starts them); the CPU otherwise.
pub fn compute_device(local_rank: usize) -> Device {
    #[cfg(feature = "cuda")]
    {
        Device::cuda(local_rank)
    }
    #[cfg(not(feature = "cuda"))]
    {
        let _ = local_rank;
        Device::flex()
    }
}
