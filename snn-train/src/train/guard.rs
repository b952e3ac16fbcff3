//! The guard against silent and exploding training, checked after every batch.
//!
//! A spiking network can die during training: once no spike reaches the output, every
//! gradient is zero (silent neurons have `NG = 0`) and only weight decay moves the
//! weights, so it never recovers and the loss stays at the value of an all-zero
//! output. Weights can also blow up to infinities or NaN. The guard stops the run
//! within [`PATIENCE_SAMPLES`] samples of a silent output (and at the first non-finite
//! loss or weight), naming the epoch, the batch and the first
//! population that fell silent, and says what to try. The run's last checkpoint (of the
//! last finished epoch, or the initial weights) stays untouched, so `--resume RUN --lr
//! SMALLER` continues from it.
//!
//! ```
//! use snn_train::train::guard::{Failure, Guard, MIN_BATCHES};
//! use snn_train::train::step::Stats;
//! let mut guard = Guard::new(Some(0.5), 8);
//! // a batch of 4 samples whose output received nothing, loss 0.5 each
//! let silent = Stats { loss: 2.0, samples: 4, silent_outputs: 4, ..Stats::default() };
//! for _ in 1..MIN_BATCHES {
//!     assert!(guard.check(&silent, &[], &[]).is_ok());
//! }
//! assert!(matches!(guard.check(&silent, &[], &[]), Err(Failure::Silent { .. })));
//! ```

use std::path::PathBuf;

use crate::train::step::Stats;
use ndarray::ArrayD;

/// Consecutive training samples with a silent output (or a loss at the all-silent
/// value), counted by whole batches, that stop a run by default (at least
/// [`MIN_BATCHES`] batches): see [`crate::train::config::GUARD_SAMPLES`].
pub const PATIENCE_SAMPLES: usize = crate::train::config::GUARD_SAMPLES;

/// The fewest consecutive silent batches that stop a run.
pub const MIN_BATCHES: usize = 3;

/// Relative distance to the all-silent loss under which a batch's mean loss counts as
/// stuck there.
pub const STUCK_TOLERANCE: f64 = 1e-4;

/// What went wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// The batch's loss is NaN or infinite.
    #[error("the batch loss is {loss} (not finite)")]
    NonFiniteLoss {
        /// The summed loss.
        loss: f64,
    },
    /// A weight is NaN or infinite after the update.
    #[error("weight tensor {tensor} holds a non-finite value after the update")]
    NonFiniteWeight {
        /// Index of the tensor.
        tensor: usize,
    },
    /// No spike reached the output for the guard's patience.
    #[error(
        "no spike reached the output for {batches} batches ({samples} samples) in a row (mean loss {loss:.4}, the all-silent value is {silent_loss:.4}); {population}"
    )]
    Silent {
        /// Batches in a row.
        batches: usize,
        /// Samples in a row.
        samples: usize,
        /// The last batch's mean loss.
        loss: f64,
        /// The loss of an all-zero output.
        silent_loss: f64,
        /// Which population fell silent first (a sentence).
        population: String,
    },
}

/// A run stopped by the guard.
#[derive(Debug, thiserror::Error)]
#[error(
    "training stopped at epoch {epoch}, batch {batch}: {failure}. Try a lower learning rate (it was {lr}; resume with `snn-train train --resume {} --lr {}`), or another initialisation (network.init = \"calibrated\", a smaller network.init_gain). The last good checkpoint, {}, is kept.",
    run_dir.display(), base_lr / 4.0, checkpoint
)]
pub struct GuardError {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Batch within the epoch (1-based).
    pub batch: usize,
    /// What went wrong.
    pub failure: Failure,
    /// The learning rate in use.
    pub lr: f32,
    /// The run's base learning rate (`optim.lr`, before the schedule's cuts).
    pub base_lr: f32,
    /// The run directory.
    pub run_dir: PathBuf,
    /// Which checkpoint holds the last good weights (a phrase).
    pub checkpoint: String,
}

/// The guard's state across batches.
#[derive(Debug, Clone)]
pub struct Guard {
    silent_loss: Option<f64>,
    patience: usize,
    silent_batches: usize,
    silent_samples: usize,
}

impl Guard {
    /// A guard for a loss whose value on an all-zero output is `silent_loss` per sample
    /// (see [`crate::sim::grad::silent_loss`]). `None`: only an output that received nothing
    /// counts as silent (for losses such as cross-entropy, which also take the
    /// all-silent value on any uniform output).
    /// It stops a run after `patience` samples in a row (whole batches, at least
    /// [`MIN_BATCHES`] of them) whose output is silent.
    pub fn new(silent_loss: Option<f64>, patience: usize) -> Self {
        Self {
            silent_loss,
            patience,
            silent_batches: 0,
            silent_samples: 0,
        }
    }

    /// Checks a batch's statistics and the weights after its update; `names` names the
    /// populations (indexed like the network's).
    ///
    /// # Errors
    /// The [`Failure`] that should stop the run.
    pub fn check(
        &mut self,
        batch: &Stats,
        params: &[ArrayD<f32>],
        names: &[String],
    ) -> Result<(), Failure> {
        if !batch.loss.is_finite() {
            return Err(Failure::NonFiniteLoss { loss: batch.loss });
        }
        if let Some(tensor) = params.iter().position(|p| p.iter().any(|w| !w.is_finite())) {
            return Err(Failure::NonFiniteWeight { tensor });
        }
        let loss = batch.mean_loss();
        let stuck = self
            .silent_loss
            .is_some_and(|s| (loss - s).abs() <= STUCK_TOLERANCE * s.abs());
        let silent = batch.samples > 0 && batch.silent_outputs == batch.samples;
        if !(silent || stuck) {
            self.silent_batches = 0;
            self.silent_samples = 0;
            return Ok(());
        }
        self.silent_batches += 1;
        self.silent_samples += batch.samples;
        if self.silent_batches < MIN_BATCHES || self.silent_samples < self.patience {
            return Ok(());
        }
        let population = match batch.activity.first_silent() {
            Some(p) => format!(
                "population {} did not fire once in the last batch",
                names.get(p).map_or("?", String::as_str)
            ),
            None => {
                "every population fired, so the output layer's weights pass nothing on".to_string()
            }
        };
        Err(Failure::Silent {
            batches: self.silent_batches,
            samples: self.silent_samples,
            loss,
            silent_loss: self.silent_loss.unwrap_or(f64::NAN),
            population,
        })
    }
}
