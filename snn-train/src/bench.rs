//! Throughput measurements behind `cargo xtask bench`: training samples per second
//! (both backward forms, several time-step counts, 1 thread and all cores) and host
//! inference with `snn-core` (images per second, ns per synaptic event).
//!
//! These are wall-clock benchmarks; they never run inside the tests.

use std::time::Instant;

use serde::Serialize;
use snn_core::Model;

use crate::config::TrainConfig;
use crate::data::Dataset;
use crate::export::eval_seed;
use crate::grad::GradForm;
use crate::net::Network;
use crate::optim::Sgd;
use crate::par;
use crate::sim::{gradient_bytes, sample_bytes};
use crate::train::{train_batch, CHUNK};

/// One training-throughput measurement.
#[derive(Debug, Clone, Serialize)]
pub struct TrainPoint {
    /// Time steps.
    pub timesteps: usize,
    /// Backward form (`code` or `aggregate`).
    pub grad: String,
    /// Worker threads.
    pub threads: usize,
    /// Training samples per second (forward, backward and SGD step).
    pub samples_per_sec: f64,
    /// Bytes of spikes and state one sample in flight holds at its peak.
    pub bytes_per_sample: usize,
    /// Bytes of the gradient buffer shared by a chunk of samples.
    pub gradient_bytes_per_chunk: usize,
    /// Samples per chunk.
    pub chunk: usize,
}

/// Times `batches` mini-batches of `batch` samples (after one warm-up batch).
pub fn training(
    net: &Network,
    cfg: &TrainConfig,
    data: &Dataset,
    batches: usize,
    batch: usize,
) -> Result<TrainPoint, rayon::ThreadPoolBuildError> {
    let enc = cfg.dataset.encoding();
    let mut params = net.init(cfg.init_gain, 1);
    let mut sgd = Sgd::new(cfg.weight_decay, cfg.momentum, &params);
    let order: Vec<usize> = (0..data.len()).collect();
    let threads = if cfg.threads == 0 {
        num_cores()
    } else {
        cfg.threads
    };
    let secs = par::with_threads(threads, || {
        let mut it = order.chunks(batch).cycle();
        let mut step = |params: &mut _, sgd: &mut _| {
            let b = it.next().expect("cycle never ends");
            train_batch(net, params, sgd, &enc, cfg, data, 0, b, cfg.lr);
        };
        step(&mut params, &mut sgd);
        let t0 = Instant::now();
        for _ in 0..batches {
            step(&mut params, &mut sgd);
        }
        t0.elapsed().as_secs_f64()
    })?;
    Ok(TrainPoint {
        timesteps: cfg.timesteps,
        grad: match cfg.grad {
            GradForm::Code => "code".into(),
            GradForm::Aggregate => "aggregate".into(),
        },
        threads,
        samples_per_sec: (batches * batch) as f64 / secs,
        bytes_per_sample: sample_bytes(net, cfg.timesteps, cfg.grad == GradForm::Code),
        gradient_bytes_per_chunk: gradient_bytes(net),
        chunk: CHUNK,
    })
}

/// One host-inference measurement.
#[derive(Debug, Clone, Serialize)]
pub struct InferencePoint {
    /// Time steps.
    pub timesteps: u32,
    /// Worker threads.
    pub threads: usize,
    /// Images per second.
    pub images_per_sec: f64,
    /// Synaptic events per inference (average).
    pub events_per_image: f64,
    /// Nanoseconds per synaptic event (wall time of the whole inference divided by its
    /// events, so neuron updates and encoding are included), per thread.
    pub ns_per_event: f64,
}

/// Runs `snn-core` on the images of `data` (`repeat` times) with `threads` threads.
pub fn inference(
    model: &Model<'_>,
    data: &Dataset,
    steps: u32,
    threads: usize,
    repeat: usize,
) -> Result<InferencePoint, rayon::ThreadPoolBuildError> {
    let idx: Vec<usize> = (0..data.len()).cycle().take(data.len() * repeat).collect();
    let run = || {
        par::map_chunks(&idx, 16, |_, chunk| {
            let mut state = vec![0u32; model.state_words()];
            chunk
                .iter()
                .map(|&i| {
                    model
                        .classify(&mut state, data.image(i), eval_seed(i), steps)
                        .map_or(0, |r| r.total_synaptic_events())
                })
                .sum::<u64>()
        })
        .into_iter()
        .sum::<u64>()
    };
    let (secs, events) = par::with_threads(threads, || {
        let _ = run(); // warm-up
        let t0 = Instant::now();
        let ev = run();
        (t0.elapsed().as_secs_f64(), ev)
    })?;
    let n = idx.len() as f64;
    Ok(InferencePoint {
        timesteps: steps,
        threads,
        images_per_sec: n / secs,
        events_per_image: events as f64 / n,
        ns_per_event: secs * 1e9 * threads as f64 / events.max(1) as f64,
    })
}

/// Logical cores of this machine.
pub fn num_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
