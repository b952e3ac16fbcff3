//! The host trainer (issue 3, not built yet).
//!
//! This crate will hold the dataset loaders, the float spiking networks, the paper's
//! spike-based backward pass, the rayon-parallel training loop, and quantization /
//! export to the `snn-core` format. Today it exports nothing: `cargo xtask train`
//! says so and fails rather than pretending to train.
#![warn(missing_docs)]
