//! Measuring trained models and the trainer: the paper's inference analysis
//! ([`analysis`]), early exit ([`early_exit`]), the accuracy-against-instructions view
//! ([`pareto`]), plots ([`plots`]) and the throughput benchmarks ([`mod@bench`]). The top
//! of the library: it may use everything below, nothing uses it.

pub mod analysis;
pub mod bench;
pub mod early_exit;
pub mod pareto;
pub mod plots;
