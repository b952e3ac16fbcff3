//! The host trainer: datasets, float spiking networks, the paper's spike-based
//! backward pass on all cores, quantisation and export to the `snn-core` format.
//!
//! The method is Lee et al. 2020 (`method.md` at the shared spec): LIF neurons with
//! hard reset, rate-coded input, the `NG`-corrected approximate derivative, and both
//! backward forms. Entry points: [`train::run`] (what `cargo xtask train` calls
//! through the `snn-train` binary) and [`export::export`].
//!
//! ```no_run
//! use snn_train::{config::TrainConfig, train};
//! let cfg = TrainConfig { epochs: 1, ..TrainConfig::default() };
//! let summary = train::run(&cfg, std::path::Path::new("runs/demo"), &Default::default())?;
//! println!("best float test accuracy {:.2}%", summary.best.0);
//! # Ok::<(), snn_train::train::TrainError>(())
//! ```
#![warn(missing_docs)]

pub mod analysis;
pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod data;
mod error;
pub mod export;
pub mod grad;
pub mod net;
pub mod ops;
pub mod optim;
pub mod par;
pub mod plots;
pub mod sim;
pub mod train;

pub use error::{ConfigError, DataError};
