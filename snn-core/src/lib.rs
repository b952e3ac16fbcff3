#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod analog;
#[cfg(all(feature = "dsp", target_arch = "arm"))]
mod dsp;
pub mod early_exit;
pub mod encode;
pub mod engine;
mod error;
pub mod format;
pub mod layer;
pub mod membrane;
pub mod model;
pub mod neuron;
mod round;
pub mod synapse;

pub use early_exit::EarlyExit;
pub use engine::{Classification, Session};
pub use error::{FormatError, InputProblem, LayerProblem, RunError};
pub use format::{write_model, ModelDesc, MAX_LAYERS};
pub use model::{
    LayerInfo, LayerKind, Model, MAX_CLASSES, MAX_NEURONS, MAX_POPULATIONS, MAX_STATE_BYTES,
};
