//! Throughput measurements behind `cargo xtask bench`: training samples per second
//! (both backward forms, several time-step counts, 1 thread and all cores) and host
//! inference with `snn-core` (images per second, ns per synaptic event).
//!
//! These are wall-clock benchmarks; they never run inside the tests.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use snn_core::Model;

use crate::data::{self, Dataset, DatasetKind, Encoding};
use crate::error::LayerIndex;
use crate::exec::par;
use crate::exec::seed::eval_seed;
use crate::io::import::{import, ImportError};
use crate::model::net::{self, Network, Params};
use crate::model::spec::Preset;
use crate::sim::grad::GradForm;
use crate::sim::{gradient_bytes, sample_bytes, Window};
use crate::train::config::TrainConfig;
use crate::train::error::TrainError;
use crate::train::step::{StepContext, CHUNK};

/// One training-throughput measurement.
#[derive(Debug, Clone, Serialize)]
pub struct TrainPoint {
    /// Where the weights started: `trained` (a trained model, dequantised), `fresh`
    /// (the paper's initialisation), or a preset's name (calibrated initialisation).
    /// Cost follows activity, which training raises.
    pub start: String,
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

/// The weights a training measurement starts from.
#[derive(Debug, Clone, Copy)]
pub struct Start<'a> {
    /// `trained`, `fresh` (LeNet) or the preset's name (`vgg9`, ...).
    pub name: &'a str,
    /// The network.
    pub net: &'a Network,
    /// Its weights.
    pub params: &'a Params,
    /// Its input encoding.
    pub enc: &'a Encoding,
}

/// Times `batches` mini-batches of `batch` samples (after one warm-up batch) starting
/// from `start`, with the window, backward form and threads of `cfg`.
pub fn training_point(
    start: Start<'_>,
    cfg: &TrainConfig,
    data: &Dataset,
    batches: usize,
    batch: usize,
) -> Result<TrainPoint, rayon::ThreadPoolBuildError> {
    let (net, enc) = (start.net, start.enc);
    let mut params = start.params.clone();
    let mut sgd = cfg.optim.optimizer_for(&params);
    let order: Vec<usize> = (0..data.len()).collect();
    let threads = if cfg.run.threads == 0 {
        num_cores()
    } else {
        cfg.run.threads
    };
    let ctx = StepContext::new(cfg, net, enc);
    let secs = par::with_threads(threads, || {
        let mut it = order.chunks(batch.max(1)).cycle();
        let mut step = |params: &mut _, sgd: &mut _| {
            if let Some(b) = it.next() {
                ctx.train_batch(params, sgd, data, (0, b), cfg.optim.lr);
            }
        };
        step(&mut params, &mut sgd);
        let t0 = Instant::now();
        for _ in 0..batches {
            step(&mut params, &mut sgd);
        }
        t0.elapsed().as_secs_f64()
    })?;
    Ok(TrainPoint {
        start: start.name.to_string(),
        timesteps: cfg.run.timesteps,
        grad: match cfg.optim.grad {
            GradForm::Code => "code".into(),
            GradForm::Aggregate => "aggregate".into(),
        },
        threads,
        samples_per_sec: (batches * batch) as f64 / secs,
        bytes_per_sample: sample_bytes(net, cfg.run.timesteps, cfg.optim.grad == GradForm::Code),
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

/// What `snn-train bench` measures.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The dataset whose images are used (its shape and classes size the network).
    pub dataset: DatasetKind,
    /// Its directory (`None`: the usual search, see [`data::data_dir`]).
    pub data_dir: Option<PathBuf>,
    /// The model of the inference measurement.
    pub model: PathBuf,
    /// Time steps to measure.
    pub timesteps: Vec<usize>,
    /// Mini-batches timed per training point.
    pub batches: usize,
    /// Measure inference only (no training points).
    pub inference_only: bool,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Test images of the inference measurement.
    pub images: usize,
    /// Time training on this preset instead (fresh, calibrated weights; the trained
    /// LeNet start is skipped): the deep presets' throughput.
    pub arch: Option<Preset>,
}

/// Everything one `snn-train bench` measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Logical cores.
    pub cores: usize,
    /// The CPU's model name (`/proc/cpuinfo`), when known.
    pub cpu: String,
    /// The vector extensions the kernels used ([`crate::sim::kernels::simd::level`]).
    pub simd: crate::sim::kernels::simd::Level,
    /// The model of the inference measurement.
    pub model: String,
    /// Training throughput points.
    pub training: Vec<TrainPoint>,
    /// Inference points.
    pub inference: Vec<InferencePoint>,
}

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// Data, network or thread pool.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// The model file could not be read.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        error: std::io::Error,
    },
    /// The model file is not a valid model.
    #[error("{path}: {error}")]
    Model {
        /// The file.
        path: PathBuf,
        /// What `snn-core` found.
        error: snn_core::FormatError,
    },
    /// The model cannot be rebuilt as a float network.
    #[error("{path}: {error}")]
    Import {
        /// The file.
        path: PathBuf,
        /// Why.
        error: ImportError,
    },
    /// The model does not take the dataset's images.
    #[error("{path} takes {model} inputs, the dataset has {data} images")]
    Shape {
        /// The file.
        path: PathBuf,
        /// The model's input shape.
        model: String,
        /// The dataset's image shape.
        data: String,
    },
    /// A measurement setting is zero or empty.
    #[error("bench: {0} must be at least 1")]
    Zero(&'static str),
}

/// Thread counts measured: 1 and all cores.
fn thread_counts() -> Vec<usize> {
    let mut t = vec![1, num_cores()];
    t.dedup();
    t
}

/// Runs every measurement of `opts`, printing a table as it goes.
///
/// # Errors
/// [`BenchError`] for bad settings, missing data or model, or a network that does not
/// fit the data.
pub fn run(opts: &BenchOptions) -> Result<BenchReport, BenchError> {
    for (what, n) in [
        ("--batches", opts.batches),
        ("--batch-size", opts.batch_size),
        ("--images", opts.images),
        (
            "--timesteps",
            opts.timesteps.iter().copied().min().unwrap_or(0),
        ),
    ] {
        if n == 0 {
            return Err(BenchError::Zero(what));
        }
    }
    (opts.dataset.require_images("the bench")).map_err(TrainError::from)?;
    let dir = data::data_dir(opts.dataset, opts.data_dir.as_deref()).map_err(TrainError::from)?;
    let (train, mut test) = data::load(opts.dataset, &dir).map_err(TrainError::from)?;
    let input = net::shape(LayerIndex::Input, train.channels, train.height, train.width)
        .map_err(TrainError::from)?;
    let blob = std::fs::read(&opts.model).map_err(|error| BenchError::Io {
        path: opts.model.clone(),
        error,
    })?;
    let model = Model::from_bytes(&blob).map_err(|error| BenchError::Model {
        path: opts.model.clone(),
        error,
    })?;
    let trained = import(&blob).map_err(|error| BenchError::Import {
        path: opts.model.clone(),
        error,
    })?;
    if trained.net.pops[0].shape != input {
        let s = |s: net::Shape| format!("{}x{}x{}", s.channels, s.height, s.width);
        return Err(BenchError::Shape {
            path: opts.model.clone(),
            model: s(trained.net.pops[0].shape),
            data: s(input),
        });
    }
    let (fresh_net, fresh_params, fresh_enc, preset_name) = fresh(opts, input, &train)?;
    let trained_start = Start {
        name: "trained",
        net: &trained.net,
        params: &trained.params,
        enc: &trained.enc,
    };
    let fresh_start = Start {
        name: if opts.arch.is_some() {
            &preset_name
        } else {
            "fresh"
        },
        net: &fresh_net,
        params: &fresh_params,
        enc: &fresh_enc,
    };
    let starts: Vec<Start<'_>> = match opts.arch {
        Some(_) => vec![fresh_start],
        None => vec![trained_start, fresh_start],
    };
    eprintln!(
        "{} ({} logical cores), kernels: {}",
        cpu_model(),
        num_cores(),
        crate::sim::kernels::simd::level().name()
    );
    let mut training = Vec::new();
    println!(
        "{:>4} {:>10} {:>8} {:>8} {:>12} {:>15}",
        "T", "backward", "start", "threads", "samples/s", "KiB per sample"
    );
    let training_steps: &[usize] = if opts.inference_only {
        &[]
    } else {
        &opts.timesteps
    };
    for &t in training_steps {
        for grad in [GradForm::Code, GradForm::Aggregate] {
            for threads in thread_counts() {
                for &start in &starts {
                    let mut cfg = TrainConfig::default();
                    cfg.data.dataset = opts.dataset;
                    cfg.run.timesteps = t;
                    cfg.run.threads = threads;
                    cfg.optim.grad = grad;
                    cfg.optim.batch_size = opts.batch_size;
                    let p = training_point(start, &cfg, &train, opts.batches, opts.batch_size)
                        .map_err(TrainError::from)?;
                    println!(
                        "{:>4} {:>10} {:>8} {:>8} {:>12.1} {:>15.0}",
                        t,
                        p.grad,
                        p.start,
                        p.threads,
                        p.samples_per_sec,
                        p.bytes_per_sample as f64 / 1024.0
                    );
                    training.push(p);
                }
            }
        }
    }
    test.truncate(opts.images);
    let inference_points = inference_table(&model, &test, &opts.timesteps)?;
    Ok(BenchReport {
        cores: num_cores(),
        cpu: cpu_model(),
        simd: crate::sim::kernels::simd::level(),
        model: opts.model.display().to_string(),
        training,
        inference: inference_points,
    })
}

/// The fresh start of the training points: the default LeNet with the paper's
/// initialisation, or `opts.arch` calibrated into the rate band training starts from;
/// its network, weights, encoding and name.
fn fresh(
    opts: &BenchOptions,
    input: net::Shape,
    train: &Dataset,
) -> Result<(Network, Params, Encoding, String), BenchError> {
    let mut network = TrainConfig::default().network;
    if let Some(arch) = opts.arch {
        network.arch = arch;
    }
    let net = Network::build(
        &network.layer_list(),
        input,
        train.classes,
        network.neuron(),
        0.0,
    )
    .map_err(TrainError::from)?;
    let mut params = net.init(network.init_gain, 1);
    let enc = opts.dataset.encoding();
    if opts.arch.is_some() {
        // A deep preset's cost follows its activity: start where training starts, in
        // the calibrated rate band.
        let win = Window {
            net: &net,
            enc: &enc,
            steps: opts.timesteps[0],
            record: false,
        };
        crate::train::calibrate::calibrate(&win, &mut params, train, 1);
    }
    Ok((net, params, enc, network.describe()))
}

/// Host inference of `model` on `test` at each of `timesteps` and thread count, as a
/// table.
fn inference_table(
    model: &Model<'_>,
    test: &Dataset,
    timesteps: &[usize],
) -> Result<Vec<InferencePoint>, BenchError> {
    let mut points = Vec::new();
    println!(
        "\n{:>4} {:>8} {:>12} {:>16} {:>12}",
        "T", "threads", "images/s", "events/image", "ns/event"
    );
    for &t in timesteps {
        for threads in thread_counts() {
            let steps = u32::try_from(t).unwrap_or(u32::MAX);
            let p = inference(model, test, steps, threads, 2).map_err(TrainError::from)?;
            println!(
                "{:>4} {:>8} {:>12.1} {:>16.0} {:>12.3}",
                t, p.threads, p.images_per_sec, p.events_per_image, p.ns_per_event
            );
            points.push(p);
        }
    }
    Ok(points)
}

/// The default model of the inference measurement (`models/lenet-mnist-subset.snn`).
pub fn default_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/lenet-mnist-subset.snn")
}

/// The CPU's model name from `/proc/cpuinfo` (`unknown CPU` elsewhere).
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
