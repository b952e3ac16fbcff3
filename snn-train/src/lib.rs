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
#![warn(missing_docs)]

pub mod analysis;
pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod data;
mod error;
pub mod eval;
pub mod export;
pub mod grad;
pub mod net;
pub mod ops;
pub mod optim;
pub mod par;
pub mod plots;
pub mod report;
pub mod seed;
pub mod setup;
pub mod sim;
pub mod spec;
pub mod step;
pub mod train;

pub use error::{ConfigError, DataError, LayerIndex, NetworkError, TrainError};
