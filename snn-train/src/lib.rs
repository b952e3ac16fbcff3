//! The host trainer: datasets, float spiking networks, the paper's spike-based
//! backward pass on all cores, quantisation and export to the `snn-core` format.
//!
//! The method is Lee et al. 2020 (`method.md` at the shared spec): LIF neurons with
//! hard reset, rate-coded input, the `NG`-corrected approximate derivative, and both
//! backward forms. Entry points: [`train::run`] (what `cargo xtask train` calls
//! through the `snn-train` binary) and [`io::export::export`].
//!
//! The library is a stack of folders, each importing only from the ones below it:
//!
//! | folder | holds |
//! |---|---|
//! | [`measure`] | analysis, early exit, Pareto view, plots, benchmarks |
//! | [`train`] | config, setup, step, optimiser, calibration, guard, checkpoints, report, eval, QAT, the epoch loop |
//! | [`io`] | quantisation, export, import, upgrade, NIR |
//! | [`sim`] | forward and backward passes, losses, given spikes, activity, the SIMD kernels |
//! | [`model`] | network description and graph |
//! | [`exec`], [`data`], [`error`] | threads, seeds, MPI, atomic files; datasets; leaf errors |
//!
//! One training sample flows through: [`train::config`] → [`train::setup`] (data,
//! network, encoding) → [`train::step`] (with [`exec::seed`] for its random streams) →
//! [`sim::forward`] → [`sim::grad`] backward (kernels in [`sim::kernels`]) → ordered
//! reduction ([`exec::par`]) → [`train::optim`]; [`train::run`] loops over epochs and
//! [`train::report`] tells the user. A model leaves through [`io::export`] and is
//! checked by [`train::eval`] against `snn-core`.
//!
//! ```no_run
//! use snn_train::{train::config::TrainConfig, train};
//! let mut cfg = TrainConfig::default();
//! cfg.optim.epochs = 1;
//! let summary = train::run(&cfg, std::path::Path::new("runs/demo"), &Default::default())?;
//! println!("best float test accuracy {:.2}%", summary.best.0);
//! # Ok::<(), snn_train::TrainError>(())
//! ```
//!
//! The default feature `train` builds all of it; without it only [`data`] is built
//! (the dataset readers, for tools that need test images but not the trainer).
#![warn(missing_docs)]
// Safe code only, except the SIMD kernels (`sim::kernels`) and the MPI handle
// (`exec::dist::mpi`), which allow it module by module with a proof at each use.
#![deny(unsafe_code)]

pub mod data;
pub mod error;

pub use error::DataError;
#[cfg(feature = "train")]
pub use error::{ConfigError, LayerIndex, NetworkError};
#[cfg(feature = "train")]
pub use train::error::TrainError;

#[cfg(feature = "train")]
pub mod exec;
#[cfg(feature = "train")]
pub mod io;
#[cfg(feature = "train")]
pub mod measure;
#[cfg(feature = "train")]
pub mod model;
#[cfg(feature = "train")]
pub mod sim;
#[cfg(feature = "train")]
pub mod train;
