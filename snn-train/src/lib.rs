//! The host trainer: datasets, float spiking networks, the paper's spike-based
//! backward pass on all cores, quantisation and export to the `snn-core` format.
//!
//! The method is Lee et al. 2020 (`method.md` at the shared spec): LIF neurons with
//! hard reset, rate-coded input, the `NG`-corrected approximate derivative, and both
//! backward forms. Entry points: [`train::run`] (what `cargo xtask train` calls
//! through the `snn-train` binary) and [`export::export`].
//!
//! One training sample flows through: [`config`] → [`setup`] (data, network,
//! encoding) → [`step`] (with [`seed`] for its random streams) → [`sim`] forward →
//! [`grad`] backward (kernels in [`ops`]) → ordered reduction ([`par`]) → [`optim`];
//! [`train`] loops over epochs and [`report`] tells the user. A model leaves through
//! [`export`] and is checked by [`eval`] against `snn-core`.
//!
//! ```no_run
//! use snn_train::{config::TrainConfig, train};
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
// Safe code only, except the SIMD kernels (`simd`, `rows`, `ops`) and the MPI handle
// (`dist::mpi`), which allow it module by module with a proof at each use.
#![deny(unsafe_code)]

pub mod data;
mod error;

pub use error::DataError;
#[cfg(feature = "train")]
pub use error::{ConfigError, LayerIndex, NetworkError};
#[cfg(feature = "train")]
pub use train_error::TrainError;

#[cfg(feature = "train")]
pub mod activity;
#[cfg(feature = "train")]
pub mod analysis;
#[cfg(feature = "train")]
pub mod bench;
#[cfg(feature = "train")]
pub mod calibrate;
#[cfg(feature = "train")]
pub mod checkpoint;
#[cfg(feature = "train")]
pub mod config;
#[cfg(feature = "train")]
pub mod dist;
#[cfg(feature = "train")]
pub mod early_exit;
#[cfg(feature = "train")]
pub mod eval;
#[cfg(feature = "train")]
pub mod export;
#[cfg(feature = "train")]
pub mod grad;
#[cfg(feature = "train")]
pub mod guard;
#[cfg(feature = "train")]
pub mod import;
#[cfg(feature = "train")]
pub mod net;
#[cfg(feature = "nir")]
pub mod nir;
#[cfg(feature = "train")]
pub mod ops;
#[cfg(feature = "train")]
pub mod optim;
#[cfg(feature = "train")]
pub mod par;
#[cfg(feature = "train")]
pub mod pareto;
#[cfg(feature = "train")]
pub mod plots;
#[cfg(feature = "train")]
pub mod qat;
#[cfg(feature = "train")]
pub mod quant;
#[cfg(feature = "train")]
pub mod report;
#[cfg(feature = "train")]
pub mod rows;
#[cfg(feature = "train")]
pub mod seed;
#[cfg(feature = "train")]
pub mod setup;
#[cfg(feature = "train")]
pub mod sim;
#[cfg(feature = "train")]
pub mod simd;
#[cfg(feature = "train")]
pub mod spec;
#[cfg(feature = "train")]
pub mod spikes;
#[cfg(feature = "train")]
pub mod step;
#[cfg(feature = "train")]
pub mod train;
#[cfg(feature = "train")]
mod train_error;
#[cfg(feature = "train")]
pub mod upgrade;
