//! Checkpoints: the model's tensors, the optimiser's momentum and the schedule position in one
//! safetensors file.
//!
//! The file holds `model.<name>` (parameters and batch-norm buffers, names from
//! [`crate::state`]) and `momentum.<name>` (one per parameter) as little-endian f32, and in its
//! metadata the format, the epoch in progress, the iterations done (the schedule position),
//! the best validation loss so far and the input size. safetensors is what PyTorch users
//! already read, so a checkpoint can be inspected or converted with standard tools. It is
//! written to a temporary file and renamed, so a crash never leaves half a checkpoint.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

use crate::model::{Scnn, ScnnConfig};
use crate::state::{self, TensorInfo, TensorKind};

/// The format tag in the metadata.
pub const FORMAT: &str = "lanestack-scnn-checkpoint/1";

/// Why a checkpoint could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not safetensors.
    #[error("{}: not a safetensors file: {source}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: safetensors::SafeTensorError,
    },
    /// The file is safetensors but not what was expected.
    #[error("{}: {problem}", path.display())]
    Content {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

/// A training checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// The epoch in progress (0-based) when it was written.
    pub epoch: u64,
    /// Iterations done: the schedule's position and the next step's number.
    pub iteration: u64,
    /// The best validation loss so far, if validation ran.
    pub best_val_loss: Option<f64>,
    /// The input size the model was built for.
    pub input: ScnnConfig,
    /// The model's tensors (parameters and buffers) with their values.
    pub tensors: Vec<(TensorInfo, Vec<f32>)>,
    /// The momentum buffer, in the parameters' layout order.
    pub velocity: Vec<f32>,
}

impl Checkpoint {
    /// Captures `model` and the training position.
    pub fn capture(
        model: &Scnn,
        input: ScnnConfig,
        epoch: u64,
        iteration: u64,
        best_val_loss: Option<f64>,
        velocity: Vec<f32>,
    ) -> Checkpoint {
        Checkpoint { epoch, iteration, best_val_loss, input, tensors: state::named_values(model), velocity }
    }

    /// Writes the checkpoint to `path` (atomically: a temporary file renamed).
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        let io = |source| CheckpointError::Io { path: path.to_path_buf(), source };
        let mut named: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        let mut offset = 0;
        for (info, values) in &self.tensors {
            named.push((format!("model.{}", info.name), info.shape.clone(), le_bytes(values)));
            if info.kind == TensorKind::Parameter {
                let momentum = self.velocity.get(offset..offset + info.len()).ok_or_else(|| {
                    CheckpointError::Content {
                        path: path.to_path_buf(),
                        problem: "momentum too short".into(),
                    }
                })?;
                named.push((format!("momentum.{}", info.name), info.shape.clone(), le_bytes(momentum)));
                offset += info.len();
            }
        }
        let views = named
            .iter()
            .map(|(name, shape, bytes)| {
                TensorView::new(Dtype::F32, shape.clone(), bytes).map(|v| (name.clone(), v))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| CheckpointError::Format { path: path.to_path_buf(), source })?;
        let mut meta = HashMap::new();
        meta.insert("format".to_string(), FORMAT.to_string());
        meta.insert("epoch".to_string(), self.epoch.to_string());
        meta.insert("iteration".to_string(), self.iteration.to_string());
        meta.insert("input".to_string(), format!("{}x{}", self.input.width, self.input.height));
        if let Some(loss) = self.best_val_loss {
            meta.insert("best_val_loss".to_string(), loss.to_string());
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let bytes = safetensors::serialize(views, Some(meta))
            .map_err(|source| CheckpointError::Format { path: path.to_path_buf(), source })?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        // On disk before it takes the name: a crash (or the volume snapshot taken when training
        // ends) then sees the old checkpoint or the new one, never an empty file.
        let mut file = std::fs::File::create(&tmp).map_err(io)?;
        std::io::Write::write_all(&mut file, &bytes).map_err(io)?;
        file.sync_all().map_err(io)?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(io)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(dir) = std::fs::File::open(dir)
        {
            // The rename itself, durable (best effort: not every file system syncs directories).
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// Reads a checkpoint written by [`Checkpoint::save`].
    pub fn load(path: &Path) -> Result<Checkpoint, CheckpointError> {
        let bytes =
            std::fs::read(path).map_err(|source| CheckpointError::Io { path: path.to_path_buf(), source })?;
        let content = |problem: String| CheckpointError::Content { path: path.to_path_buf(), problem };
        let (_, header) = SafeTensors::read_metadata(&bytes)
            .map_err(|source| CheckpointError::Format { path: path.to_path_buf(), source })?;
        let meta = header.metadata().clone().unwrap_or_default();
        if meta.get("format").map(String::as_str) != Some(FORMAT) {
            return Err(content(format!("not a {FORMAT} file")));
        }
        let number = |key: &str| -> Result<u64, CheckpointError> {
            meta.get(key)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| content(format!("metadata {key} missing")))
        };
        let input = meta
            .get("input")
            .and_then(|v| v.split_once('x'))
            .and_then(|(w, h)| Some(ScnnConfig { width: w.parse().ok()?, height: h.parse().ok()? }))
            .ok_or_else(|| content("metadata input missing".into()))?;
        let best_val_loss = match meta.get("best_val_loss") {
            Some(v) => Some(v.parse().map_err(|_| content(format!("best_val_loss {v:?}")))?),
            None => None,
        };
        let file = SafeTensors::deserialize(&bytes)
            .map_err(|source| CheckpointError::Format { path: path.to_path_buf(), source })?;
        // The layout comes from a model built for the recorded input size (cheap: no values).
        let layout = state::layout(&input.init(&burn::tensor::Device::flex()));
        let mut tensors = Vec::new();
        let mut velocity = Vec::new();
        for info in layout {
            let values = read_f32(&file, &format!("model.{}", info.name), &info.shape).map_err(content)?;
            if info.kind == TensorKind::Parameter {
                velocity.extend(
                    read_f32(&file, &format!("momentum.{}", info.name), &info.shape).map_err(content)?,
                );
            }
            tensors.push((info, values));
        }
        Ok(Checkpoint {
            epoch: number("epoch")?,
            iteration: number("iteration")?,
            best_val_loss,
            input,
            tensors,
            velocity,
        })
    }

    /// Puts the checkpoint's tensors into `model`, which must be built for the same input size.
    pub fn restore(&self, model: Scnn) -> Scnn {
        let values: HashMap<&str, &Vec<f32>> =
            self.tensors.iter().map(|(i, v)| (i.name.as_str(), v)).collect();
        state::assign(model, |info| values.get(info.name.as_str()).map(|v| v.to_vec()))
    }
}

fn le_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Reads an f32 tensor of `shape` named `name`; the error says what is wrong.
pub(crate) fn read_f32(file: &SafeTensors<'_>, name: &str, shape: &[usize]) -> Result<Vec<f32>, String> {
    let view = file.tensor(name).map_err(|_| format!("tensor {name} missing"))?;
    if view.dtype() != Dtype::F32 {
        return Err(format!("tensor {name} is {:?}, expected F32", view.dtype()));
    }
    if view.shape() != shape {
        return Err(format!("tensor {name} has shape {:?}, expected {shape:?}", view.shape()));
    }
    Ok(view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}
