//! Checkpoints: the whole training state, written atomically.
//!
//! File layout: `SNNCKPT2`, a little-endian `u64` header length, a JSON header (config,
//! network, epoch, best accuracy, optimiser settings, tensor shapes), then every tensor
//! (weights, then momentum buffers, then Adam's second moments) as raw little-endian `f32`. JSON keeps the header
//! readable; the raw tail keeps multi-million-weight models fast to save.

use std::path::Path;

use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

use crate::model::net::{Network, Params};
use crate::train::config::TrainConfig;
use crate::train::optim::{Adam, Sgd, ADAM_EPS};

const MAGIC: &[u8; 8] = b"SNNCKPT2";

/// The magic of checkpoints written before `lr` acted on the batch's mean gradient: their
/// configuration means something else now, so they are refused by name.
const MAGIC_V1: &[u8; 8] = b"SNNCKPT1";

/// Everything needed to continue a run exactly where it stopped.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The run's configuration.
    pub config: TrainConfig,
    /// The network.
    pub net: Network,
    /// Epochs completed.
    pub epochs_done: usize,
    /// Best test accuracy so far and its epoch (1-based; 0 = none yet).
    pub best: (f64, usize),
    /// Weights.
    pub params: Params,
    /// Optimiser (with its momentum buffers).
    pub sgd: Sgd,
}

#[derive(Serialize, Deserialize)]
struct Header {
    config: TrainConfig,
    net: Network,
    epochs_done: usize,
    best_acc: f64,
    best_epoch: usize,
    weight_decay: f32,
    momentum: f32,
    shapes: Vec<Vec<usize>>,
    velocity: bool,
    /// Adam's step count; its second moments follow the velocity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    adam_steps: Option<u64>,
}

/// Why a checkpoint could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// File system error.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// What the OS said (in the message, not as `source()`, so the error prints as
        /// one line).
        error: std::io::Error,
    },
    /// The checkpoint cannot be encoded: a path in its configuration (`data_dir`) is
    /// not valid UTF-8, and the header stores paths as JSON text.
    #[error("checkpoint cannot be encoded: {problem}")]
    Encode {
        /// What could not be encoded, naming the path.
        problem: String,
    },
    /// The file is not a checkpoint or is damaged.
    #[error("{path}: not a valid checkpoint ({problem})")]
    Corrupt {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        problem: String,
    },
}

impl Checkpoint {
    /// Serialises the checkpoint.
    ///
    /// # Errors
    /// [`CheckpointError::Encode`] when the configuration's `data_dir` is not valid
    /// UTF-8 (the header is JSON text).
    pub fn to_bytes(&self) -> Result<Vec<u8>, CheckpointError> {
        if let Some(d) = self.config.data_dir() {
            crate::data::check_utf8_path(d).map_err(|e| CheckpointError::Encode {
                problem: format!("data.dir: {e}"),
            })?;
        }
        let header = Header {
            config: self.config.clone(),
            net: self.net.clone(),
            epochs_done: self.epochs_done,
            best_acc: self.best.0,
            best_epoch: self.best.1,
            weight_decay: self.sgd.weight_decay,
            momentum: self.sgd.momentum,
            shapes: self.params.iter().map(|p| p.shape().to_vec()).collect(),
            velocity: !self.sgd.velocity.is_empty(),
            adam_steps: self.sgd.adam.as_ref().map(|a| a.steps),
        };
        let json = serde_json::to_vec(&header).map_err(|e| CheckpointError::Encode {
            problem: format!("header: {e}"),
        })?;
        let mut out = Vec::with_capacity(16 + json.len() + 4 * self.net.num_params() * 2);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(json.len() as u64).to_le_bytes());
        out.extend_from_slice(&json);
        let second = self.sgd.adam.iter().flat_map(|a| &a.second);
        for t in self.params.iter().chain(&self.sgd.velocity).chain(second) {
            for v in t.iter() {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        Ok(out)
    }

    /// Writes the checkpoint atomically.
    ///
    /// # Errors
    /// [`CheckpointError::Encode`] (see [`Checkpoint::to_bytes`]), or
    /// [`CheckpointError::Io`].
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        crate::exec::files::write_atomic(path, &self.to_bytes()?).map_err(|error| {
            CheckpointError::Io {
                path: path.to_path_buf(),
                error,
            }
        })
    }

    /// Reads a checkpoint.
    ///
    /// # Errors
    /// [`CheckpointError`] for a missing, truncated or corrupt file.
    pub fn load(path: &Path) -> Result<Self, CheckpointError> {
        let bytes = std::fs::read(path).map_err(|error| CheckpointError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        Self::from_bytes(&bytes, path)
    }

    /// Parses a checkpoint read from `path` (named in errors).
    ///
    /// # Errors
    /// [`CheckpointError::Corrupt`] for a truncated or corrupt checkpoint.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, CheckpointError> {
        let bad = |p: &str| CheckpointError::Corrupt {
            path: path.to_path_buf(),
            problem: p.to_string(),
        };
        if bytes.len() >= 8 && &bytes[..8] == MAGIC_V1 {
            return Err(bad(
                "format 1, written before lr and weight_decay acted on the batch's mean \
                 gradient; it cannot be resumed by this version (start the run again)",
            ));
        }
        if bytes.len() < 16 || &bytes[..8] != MAGIC {
            return Err(bad("bad magic"));
        }
        let mut len = [0u8; 8];
        len.copy_from_slice(&bytes[8..16]);
        let (json, mut rest) = usize::try_from(u64::from_le_bytes(len))
            .ok()
            .and_then(|hlen| bytes[16..].split_at_checked(hlen))
            .ok_or_else(|| bad("truncated header"))?;
        let mut h: Header = serde_json::from_slice(json).map_err(|e| bad(&e.to_string()))?;
        // Checkpoints written before the normalised step existed trained with plain
        // SGD: they resume with it, not with today's default.
        let raw: serde_json::Value =
            serde_json::from_slice(json).map_err(|e| bad(&e.to_string()))?;
        if raw["config"]["optim"].get("normalized_step").is_none() {
            h.config.optim.normalized_step = 0.0;
        }
        let mut take = |shape: &Vec<usize>| -> Result<ArrayD<f32>, CheckpointError> {
            let bytes = shape
                .iter()
                .try_fold(4usize, |a, &d| a.checked_mul(d))
                .ok_or_else(|| bad(&format!("tensor shape {shape:?} overflows")))?;
            let (raw, tail) = rest
                .split_at_checked(bytes)
                .ok_or_else(|| bad("truncated tensors"))?;
            rest = tail;
            let data = raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            ArrayD::from_shape_vec(shape.clone(), data).map_err(|e| bad(&e.to_string()))
        };
        let params = h
            .shapes
            .iter()
            .map(&mut take)
            .collect::<Result<Vec<_>, _>>()?;
        let velocity = if h.velocity {
            h.shapes
                .iter()
                .map(&mut take)
                .collect::<Result<Vec<_>, _>>()?
        } else {
            Vec::new()
        };
        let adam = match h.adam_steps {
            Some(steps) => Some(Adam {
                beta2: h.config.optim.betas[1],
                eps: ADAM_EPS,
                second: h
                    .shapes
                    .iter()
                    .map(&mut take)
                    .collect::<Result<Vec<_>, _>>()?,
                steps,
            }),
            None => None,
        };
        if !rest.is_empty() {
            return Err(bad("trailing bytes"));
        }
        if h.shapes != h.net.param_shapes {
            return Err(bad("tensor shapes do not match the network"));
        }
        let normalized = h.config.optim.normalized();
        Ok(Self {
            config: h.config,
            net: h.net,
            epochs_done: h.epochs_done,
            best: (h.best_acc, h.best_epoch),
            params,
            sgd: Sgd {
                weight_decay: h.weight_decay,
                momentum: h.momentum,
                velocity,
                normalized,
                adam,
            },
        })
    }
}
