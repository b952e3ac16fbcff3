//! The training loop: epochs of parallel mini-batches, evaluation, metrics,
//! checkpoints and resume.
//!
//! All randomness of a sample (augmentation, dropout masks, input spikes) comes from a
//! generator seeded by `(seed, epoch, sample index)`, so it does not depend on which
//! thread ran the sample; gradients are summed in a fixed order ([`crate::par`]), so a
//! run is bit-identical with any thread count. The loop performs all I/O; decisions
//! (learning rate, what to save) are pure functions.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::seq::SliceRandom;
use rand::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;

use crate::checkpoint::{write_atomic, Checkpoint, CheckpointError};
use crate::config::TrainConfig;
use crate::data::{self, augment, Dataset, Encoding};
use crate::export::{self, eval_seed, Agreement, ExportError};
use crate::grad::{backward, cross_entropy, loss_and_grad, GradForm};
use crate::net::{Network, Params, Shape};
use crate::optim::{lr_at, Sgd};
use crate::par;
use crate::sim::{forward, Masks};
use crate::{ConfigError, DataError};

/// Samples per parallel work item. Fixed, so the summation order of gradients (and
/// hence the result) does not depend on the number of threads.
pub const CHUNK: usize = 4;

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// Data files.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Configuration or network.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Checkpoints.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Export.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// Run-directory I/O.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// Thread pool.
    #[error("thread pool: {0}")]
    Threads(#[from] rayon::ThreadPoolBuildError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A seed for stream `(a, b)` of `seed`, via SplitMix64 (independent of threads).
pub fn derive_seed(seed: u64, a: u64, b: u64) -> u64 {
    let mut s = snn_core::encode::SplitMix64::new(seed);
    let x = s.next_u64() ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut s = snn_core::encode::SplitMix64::new(x);
    let y = s.next_u64() ^ b.wrapping_mul(0xD1B5_4A32_D192_ED03);
    snn_core::encode::SplitMix64::new(y).next_u64()
}

/// Index of the largest value (lowest index on ties).
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// Per-epoch statistics of the training samples.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stats {
    /// Summed training loss.
    pub loss: f64,
    /// Summed cross-entropy (logged for every loss).
    pub ce: f64,
    /// Correct predictions.
    pub correct: usize,
    /// Samples.
    pub samples: usize,
}

impl Stats {
    fn add(&mut self, o: &Stats) {
        self.loss += o.loss;
        self.ce += o.ce;
        self.correct += o.correct;
        self.samples += o.samples;
    }
}

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, Serialize)]
pub struct EpochMetrics {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Learning rate used.
    pub lr: f32,
    /// Mean training loss per sample.
    pub train_loss: f64,
    /// Mean cross-entropy per sample.
    pub train_ce: f64,
    /// Training accuracy (percent, on the fly).
    pub train_acc: f64,
    /// Test accuracy of the float network (percent).
    pub test_acc: f64,
    /// Best test accuracy so far.
    pub best_acc: f64,
    /// Training samples per second.
    pub samples_per_sec: f64,
    /// Wall time of the epoch, seconds.
    pub seconds: f64,
}

/// Loaded data, network and encoding of a configuration.
pub struct Setup {
    /// Training split (after `train_limit`).
    pub train: Dataset,
    /// Test split (after `test_limit`).
    pub test: Dataset,
    /// The network.
    pub net: Network,
    /// Input encoding.
    pub enc: Encoding,
}

/// Loads the data and builds the network of `cfg`.
///
/// # Errors
/// Data or network errors.
pub fn setup(cfg: &TrainConfig) -> Result<Setup, TrainError> {
    cfg.validate()?;
    let dir = data::data_dir(cfg.dataset, cfg.data_dir.as_deref())?;
    let (mut train, mut test) = data::load(cfg.dataset, &dir)?;
    if let Some(n) = cfg.train_limit {
        train.truncate(n);
    }
    if let Some(n) = cfg.test_limit {
        test.truncate(n);
    }
    let input = Shape {
        c: train.channels,
        h: train.height,
        w: train.width,
    };
    let net = Network::build(
        &cfg.layer_list(),
        input,
        train.classes,
        cfg.neuron(),
        cfg.dropout,
    )?;
    Ok(Setup {
        train,
        test,
        net,
        enc: cfg.dataset.encoding(),
    })
}

/// Gradient and statistics of a chunk of samples, summed in order.
#[allow(clippy::too_many_arguments)]
pub fn chunk_gradient(
    net: &Network,
    params: &Params,
    enc: &Encoding,
    cfg: &TrainConfig,
    data: &Dataset,
    epoch: usize,
    indices: &[usize],
) -> (Params, Stats) {
    let mut grads = net.zeros();
    let mut stats = Stats::default();
    let (crop, flip) = {
        let (c, f) = cfg.dataset.augmentation();
        (cfg.augment_crop.unwrap_or(c), cfg.augment_flip.unwrap_or(f))
    };
    let mut augmented = vec![0u8; data.image_len()];
    for &i in indices {
        let mut rng =
            Xoshiro256PlusPlus::seed_from_u64(derive_seed(cfg.seed, epoch as u64, i as u64));
        let image = if crop || flip {
            let pad = if crop { 4 } else { 0 };
            let hwc = (data.height, data.width, data.channels);
            augment::crop_flip(data.image(i), hwc, pad, flip, &mut rng, &mut augmented);
            &augmented[..]
        } else {
            data.image(i)
        };
        let masks = Masks::draw(net, &mut rng);
        let spike_seed = rng.next_u64();
        let record = cfg.grad == GradForm::Code;
        let trace = forward(
            net,
            params,
            enc,
            image,
            spike_seed,
            cfg.timesteps,
            &masks,
            record,
        );
        let label = usize::from(data.labels[i]);
        let (loss, dldy) = loss_and_grad(&trace.y, label, cfg.loss);
        backward(net, params, &trace, &masks, &dldy, cfg.grad, &mut grads);
        stats.loss += f64::from(loss);
        stats.ce += f64::from(cross_entropy(&trace.y, label));
        stats.correct += usize::from(argmax(&trace.y) == label);
        stats.samples += 1;
    }
    (grads, stats)
}

/// One optimisation step on a mini-batch: parallel chunks, ordered reduction, SGD.
#[allow(clippy::too_many_arguments)]
pub fn train_batch(
    net: &Network,
    params: &mut Params,
    sgd: &mut Sgd,
    enc: &Encoding,
    cfg: &TrainConfig,
    data: &Dataset,
    epoch: usize,
    batch: &[usize],
    lr: f32,
) -> Stats {
    let results = par::map_chunks(batch, CHUNK, |_, idx| {
        chunk_gradient(net, params, enc, cfg, data, epoch, idx)
    });
    // Sum the chunks' gradients element by element, always in chunk order, with the
    // elements split across threads: deterministic and not a serial bottleneck.
    let mut total = net.zeros();
    for (t, out) in total.iter_mut().enumerate() {
        let out = out.as_slice_mut().expect("contiguous");
        par::for_each_block_mut(out, 1 << 14, |first, block| {
            for (g, _) in &results {
                let g = &g[t].as_slice().expect("contiguous")[first..first + block.len()];
                for (o, v) in block.iter_mut().zip(g) {
                    *o += v;
                }
            }
        });
    }
    let mut stats = Stats::default();
    for (_, s) in &results {
        stats.add(s);
    }
    sgd.step(params, &total, lr);
    stats
}

/// Float test accuracy (percent) with the evaluation seeds of [`eval_seed`].
pub fn evaluate(
    net: &Network,
    params: &Params,
    enc: &Encoding,
    test: &Dataset,
    steps: usize,
) -> f64 {
    let idx: Vec<usize> = (0..test.len()).collect();
    let masks = Masks::none(net);
    let correct: usize = par::map_chunks(&idx, 16, |_, chunk| {
        chunk
            .iter()
            .filter(|&&i| {
                let tr = forward(
                    net,
                    params,
                    enc,
                    test.image(i),
                    eval_seed(i),
                    steps,
                    &masks,
                    false,
                );
                argmax(&tr.y) == usize::from(test.labels[i])
            })
            .count()
    })
    .into_iter()
    .sum();
    100.0 * correct as f64 / test.len().max(1) as f64
}

/// What to do with checkpoints after an epoch (a pure decision).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavePlan {
    /// Write `checkpoint_latest`.
    pub latest: bool,
    /// Write `checkpoint_best`.
    pub best: bool,
}

/// Always save the latest; save the best when the test accuracy strictly improved.
pub fn save_plan(test_acc: f64, best_before: f64, first: bool) -> SavePlan {
    SavePlan {
        latest: true,
        best: first || test_acc > best_before,
    }
}

/// Options of [`run`] that are not part of the configuration.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Show a progress bar.
    pub progress: bool,
    /// Continue from `checkpoint_latest` in the run directory.
    pub resume: bool,
    /// Stop after this many epochs in this invocation (for tests of resume).
    pub stop_after: Option<usize>,
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Best float test accuracy and its epoch.
    pub best: (f64, usize),
    /// Export and fixed-point evaluation of the best checkpoint (when the run ended).
    pub export: Option<Agreement>,
    /// Path of the exported model.
    pub model: Option<PathBuf>,
    /// Final weights.
    pub params: Params,
}

/// Trains according to `cfg` in `run_dir`, writing `config.toml`, `metrics.jsonl`,
/// `checkpoint_latest`, `checkpoint_best` and, at the end, `model.snn`.
///
/// # Errors
/// [`TrainError`] for data, config, checkpoint, export or file-system problems.
pub fn run(cfg: &TrainConfig, run_dir: &Path, opts: &RunOptions) -> Result<RunSummary, TrainError> {
    std::fs::create_dir_all(run_dir).map_err(io(run_dir))?;
    let latest_path = run_dir.join("checkpoint_latest");
    let (cfg, mut ckpt) = if opts.resume {
        let ck = Checkpoint::load(&latest_path)?;
        (ck.config.clone(), Some(ck))
    } else {
        (cfg.clone(), None)
    };
    let Setup {
        train,
        test,
        net,
        enc,
    } = setup(&cfg)?;
    let cfg_path = run_dir.join("config.toml");
    if ckpt.is_none() {
        write_atomic(&cfg_path, cfg.to_toml().as_bytes()).map_err(io(&cfg_path))?;
    }
    let (mut params, mut sgd, start, mut best) = match ckpt.take() {
        Some(ck) => (ck.params, ck.sgd, ck.epochs_done, ck.best),
        None => {
            let p = net.init(cfg.init_gain, derive_seed(cfg.seed, u64::MAX, 0));
            let s = Sgd::new(cfg.weight_decay, cfg.momentum, &p);
            (p, s, 0, (0.0, 0))
        }
    };
    let metrics_path = run_dir.join("metrics.jsonl");
    let threads = cfg.threads;
    let last = opts
        .stop_after
        .map_or(cfg.epochs, |n| (start + n).min(cfg.epochs));
    eprintln!(
        "training {} on {} ({} train / {} test images), {} weights, T = {}, {} backward, {} thread(s)",
        describe(&cfg),
        cfg.dataset.name(),
        train.len(),
        test.len(),
        net.num_params(),
        cfg.timesteps,
        match cfg.grad {
            GradForm::Code => "code-form",
            GradForm::Aggregate => "aggregate-form",
        },
        if threads == 0 { rayon::current_num_threads() } else { threads },
    );
    let record = cfg.grad == GradForm::Code;
    eprintln!(
        "memory per sample in flight: {:.0} KiB of spikes and state, plus a {:.0} KiB gradient buffer per {CHUNK} samples",
        crate::sim::sample_bytes(&net, cfg.timesteps, record) as f64 / 1024.0,
        crate::sim::gradient_bytes(&net) as f64 / 1024.0,
    );
    for epoch in start..last {
        let t0 = Instant::now();
        let lr = lr_at(cfg.lr, &cfg.lr_milestones, cfg.lr_gamma, epoch);
        let mut order: Vec<usize> = (0..train.len()).collect();
        order.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(derive_seed(
            cfg.seed,
            epoch as u64,
            u64::MAX,
        )));
        let bar = progress_bar(opts.progress, train.len() as u64, epoch + 1, cfg.epochs);
        let mut stats = Stats::default();
        par::with_threads(threads, || {
            for batch in order.chunks(cfg.batch_size) {
                let s = train_batch(
                    &net,
                    &mut params,
                    &mut sgd,
                    &enc,
                    &cfg,
                    &train,
                    epoch,
                    batch,
                    lr,
                );
                stats.add(&s);
                bar.inc(batch.len() as u64);
                bar.set_message(format!(
                    "loss {:.3} acc {:.2}%",
                    stats.loss / stats.samples.max(1) as f64,
                    100.0 * stats.correct as f64 / stats.samples.max(1) as f64
                ));
            }
        })?;
        let train_secs = t0.elapsed().as_secs_f64();
        bar.finish_and_clear();
        let test_acc = par::with_threads(threads, || {
            evaluate(&net, &params, &enc, &test, cfg.eval_steps())
        })?;
        let plan = save_plan(test_acc, best.0, epoch == 0 && best.1 == 0);
        if plan.best {
            best = (test_acc, epoch + 1);
        }
        let ck = Checkpoint {
            config: cfg.clone(),
            net: net.clone(),
            epochs_done: epoch + 1,
            best,
            params: params.clone(),
            sgd: sgd.clone(),
        };
        if plan.best {
            ck.save(&run_dir.join("checkpoint_best"))?;
        }
        ck.save(&latest_path)?;
        let n = stats.samples.max(1) as f64;
        let m = EpochMetrics {
            epoch: epoch + 1,
            lr,
            train_loss: stats.loss / n,
            train_ce: stats.ce / n,
            train_acc: 100.0 * stats.correct as f64 / n,
            test_acc,
            best_acc: best.0,
            samples_per_sec: stats.samples as f64 / train_secs,
            seconds: t0.elapsed().as_secs_f64(),
        };
        append_line(
            &metrics_path,
            &serde_json::to_string(&m).expect("metrics serialise"),
        )?;
        eprintln!(
            "epoch {:>3}/{}  loss {:.4}  train {:.2}%  test {:.2}%  best {:.2}% (epoch {})  {:.0} samples/s  {:.0}s",
            m.epoch, cfg.epochs, m.train_loss, m.train_acc, m.test_acc, best.0, best.1, m.samples_per_sec, m.seconds
        );
    }
    let mut summary = RunSummary {
        best,
        export: None,
        model: None,
        params: params.clone(),
    };
    if last == cfg.epochs {
        let best_ck = Checkpoint::load(&run_dir.join("checkpoint_best"))?;
        let model_path = run_dir.join("model.snn");
        let agreement = par::with_threads(threads, || {
            export_checkpoint(&best_ck, &test, &enc, &model_path)
        })??;
        summary.export = Some(agreement);
        summary.model = Some(model_path);
    }
    Ok(summary)
}

/// Exports a checkpoint to `out` (atomically) and compares float and fixed point on
/// `test`; prints the three figures.
///
/// # Errors
/// Export or I/O errors.
pub fn export_checkpoint(
    ck: &Checkpoint,
    test: &Dataset,
    enc: &Encoding,
    out: &Path,
) -> Result<Agreement, TrainError> {
    let blob = export::export(&ck.net, &ck.params, enc)?;
    write_atomic(out, &blob).map_err(io(out))?;
    let a = export::compare(
        &ck.net,
        &ck.params,
        enc,
        &blob,
        test,
        ck.config.eval_steps(),
    )?;
    eprintln!(
        "exported {} ({} bytes, epoch {}): float {:.2}%, fixed point (snn-core) {:.2}%, agreement {:.2}% on {} test images",
        out.display(),
        blob.len(),
        ck.best.1,
        a.float_accuracy,
        a.fixed_accuracy,
        a.agreement,
        a.images
    );
    Ok(a)
}

fn describe(cfg: &TrainConfig) -> String {
    if cfg.layers.is_empty() {
        format!("{:?}", cfg.arch).to_lowercase()
    } else {
        format!("a {}-layer network", cfg.layers.len())
    }
}

fn append_line(path: &Path, line: &str) -> Result<(), TrainError> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io(path))?;
    writeln!(f, "{line}").map_err(io(path))
}

fn progress_bar(show: bool, len: u64, epoch: usize, epochs: usize) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "epoch {prefix} [{bar:30}] {pos}/{len} {per_sec} ETA {eta} {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(format!("{epoch}/{epochs}"));
    bar
}
