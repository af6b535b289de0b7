//! ImageNet-pretrained VGG16-BN weights for the backbone, from a safetensors file.
//!
//! The file holds torchvision's `vgg16_bn` state dict names (`features.0.weight`,
//! `features.1.running_mean`, ...; the classifier is ignored), as written from PyTorch by
//! `safetensors.torch.save_file(torchvision.models.vgg16_bn(weights="IMAGENET1K_V1")
//! .state_dict(), "vgg16_bn.safetensors")`. PyTorch's conv weights are `[out, in, kh, kw]`,
//! burn's too, so values are copied as they are. Only f32 tensors are accepted.

use std::path::{Path, PathBuf};

use safetensors::SafeTensors;

use crate::checkpoint::read_f32;
use crate::model::Scnn;

/// Why pretrained weights could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PretrainedError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not usable (not safetensors, a tensor missing or of the wrong shape).
    #[error("{}: {problem}", path.display())]
    Content {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

/// torchvision's `features` index of each of the 13 conv layers (its batch norm is the next
/// index): conv, bn, relu triples with a max-pool after the 2nd, 4th, 7th, 10th and 13th conv.
pub fn torchvision_conv_indices() -> [usize; 13] {
    let mut out = [0; 13];
    let mut index = 0;
    for (k, slot) in out.iter_mut().enumerate() {
        *slot = index;
        index += 3;
        if [1, 3, 6, 9, 12].contains(&k) {
            index += 1;
        }
    }
    out
}

/// Loads the backbone's conv and batch-norm tensors of `model` from `path`; other layers keep
/// their values.
pub fn load_vgg16_bn(model: Scnn, path: &Path) -> Result<Scnn, PretrainedError> {
    let bytes =
        std::fs::read(path).map_err(|source| PretrainedError::Io { path: path.to_path_buf(), source })?;
    let content = |problem: String| PretrainedError::Content { path: path.to_path_buf(), problem };
    let file =
        SafeTensors::deserialize(&bytes).map_err(|e| content(format!("not a safetensors file: {e}")))?;
    let indices = torchvision_conv_indices();
    // Check every tensor first, so that a bad file changes nothing.
    let mut values = std::collections::HashMap::new();
    for info in crate::state::layout(&model) {
        let mut parts = info.name.split('.');
        let (Some("backbone"), Some(k), Some(layer), Some(field)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let k: usize = k.parse().map_err(|_| content(format!("unexpected tensor {}", info.name)))?;
        let (index, torch_field) = match (layer, field) {
            ("conv", f @ ("weight" | "bias")) => (indices[k], f),
            ("bn", "gamma") => (indices[k] + 1, "weight"),
            ("bn", "beta") => (indices[k] + 1, "bias"),
            ("bn", f @ ("running_mean" | "running_var")) => (indices[k] + 1, f),
            _ => return Err(content(format!("unexpected tensor {}", info.name))),
        };
        let name = format!("features.{index}.{torch_field}");
        values.insert(info.name.clone(), read_f32(&file, &name, &info.shape).map_err(content)?);
    }
    Ok(crate::state::assign(model, |info| values.remove(&info.name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conv_indices_follow_torchvision() {
        assert_eq!(torchvision_conv_indices(), [0, 3, 7, 10, 14, 17, 20, 24, 27, 30, 34, 37, 40]);
    }
}
