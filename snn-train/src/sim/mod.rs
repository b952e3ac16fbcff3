//! The float spiking network in time: the forward pass over `T` steps ([`forward`],
//! re-exported here), the paper's backward pass and losses ([`grad`]), given input
//! spikes ([`spikes`]), activity telemetry ([`activity`]) and the synaptic kernels both
//! passes run on ([`kernels`]). Builds on [`crate::model`]; knows nothing of training
//! loops, files or devices.

pub mod activity;
pub mod grad;
pub mod kernels;
pub mod spikes;

mod forward;

pub use forward::{
    analog_events, encode, events_of, forward, forward_sample, forward_spikes, gradient_bytes,
    input_thresholds, sample_bytes, sample_spikes, update_neurons, Lif, Masks, Trace, Window,
};
