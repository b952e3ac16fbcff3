//! The epoch loop: shuffle, train the batches, evaluate, checkpoint, and at the end
//! export the best checkpoint; and resume from a checkpoint.
//!
//! All randomness of a sample comes from [`crate::exec::seed`], and gradients are summed in
//! a fixed order ([`crate::train::step`]), so a run is bit-identical with any thread count.
//! The loop performs all I/O; decisions (learning rate, what to save) are pure
//! functions, and everything the user sees goes through [`crate::train::report`].

use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::seq::SliceRandom;

use crate::data::{Dataset, Encoding};
use crate::exec::dist::{Group, Solo};
use crate::exec::files::write_atomic;
use crate::exec::par;
use crate::exec::seed::{init_seed, shuffle_rng};
use crate::model::net::{Network, Params};
use crate::sim::activity::Activity;
use crate::sim::grad::{silent_loss, Loss};
use crate::sim::Window;
use crate::train::calibrate::calibrate;
use crate::train::checkpoint::{Checkpoint, CheckpointError};
use crate::train::config::Init;
use crate::train::config::TrainConfig;
use crate::train::distill::Teacher;
use crate::train::error::TrainError;
use crate::train::eval::{compare, evaluate_with_activity, Agreement};
use crate::train::guard::{Failure, Guard, GuardError};
use crate::train::optim::Sgd;
use crate::train::qat::fake_quantized;
use crate::train::report::{EpochMetrics, Reporter};
use crate::train::setup::{setup, Setup};
use crate::train::step::{Stats, StepContext, CHUNK};

/// What to do with checkpoints after an epoch (a pure decision).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavePlan {
    /// Write `checkpoint_latest`.
    pub latest: bool,
    /// Write `checkpoint_best`.
    pub best: bool,
}

/// Always save the latest; save the best when the test accuracy strictly improved.
///
/// ```
/// use snn_train::train::save_plan;
/// assert!(save_plan(90.0, 0.0, true).best);
/// assert!(!save_plan(90.0, 91.0, false).best);
/// ```
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
    /// Settings a resumed run may change.
    pub overrides: ResumeOverrides,
    /// Stop after this many epochs in this invocation (for tests of resume).
    pub stop_after: Option<usize>,
}

/// What a resumed run may change; everything else is fixed by the run's checkpoint
/// (changing the data or the network would not continue the same run).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResumeOverrides {
    /// A new base learning rate (the schedule's milestones still apply).
    pub lr: Option<f32>,
    /// A new total number of epochs.
    pub epochs: Option<usize>,
    /// A new thread count (results do not depend on it).
    pub threads: Option<usize>,
    /// New activity-regulariser weights (for example weaker ones once the learning
    /// rate has decayed).
    pub activity: Option<Vec<f32>>,
    /// A new number of quantisation-aware epochs at the end (for example a QAT phase
    /// added to a finished run together with more `epochs`).
    pub qat_epochs: Option<usize>,
}

impl ResumeOverrides {
    /// True when nothing is overridden.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// `cfg` with the overrides applied (and validated).
    ///
    /// # Errors
    /// [`ConfigError`](crate::error::ConfigError) when an override is out of range.
    pub fn apply(&self, cfg: &TrainConfig) -> Result<TrainConfig, crate::error::ConfigError> {
        let mut cfg = cfg.clone();
        if let Some(lr) = self.lr {
            cfg.optim.lr = lr;
        }
        if let Some(epochs) = self.epochs {
            cfg.optim.epochs = epochs;
        }
        if let Some(threads) = self.threads {
            cfg.run.threads = threads;
        }
        if let Some(a) = &self.activity {
            cfg.optim.activity = a.clone();
        }
        if let Some(n) = self.qat_epochs {
            cfg.optim.qat_epochs = n;
        }
        cfg.validate()?;
        Ok(cfg)
    }
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

/// `runs/<dataset>-<arch>-<unix seconds>`, the run directory when none is given.
pub fn default_run_dir(cfg: &TrainConfig) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    PathBuf::from("runs").join(format!(
        "{}-{}-{secs}",
        cfg.data.dataset.name(),
        format!("{:?}", cfg.network.arch).to_lowercase()
    ))
}

/// Trains according to `cfg` in `run_dir`, writing `config.toml`, `metrics.jsonl`,
/// `checkpoint_latest`, `checkpoint_best` and, at the end, `model.snn`. With
/// `opts.resume`, `cfg` is ignored and the run continues from its checkpoint, with
/// `opts.overrides` applied (and `config.toml` rewritten to say so).
///
/// # Errors
/// [`TrainError`] for data, config, checkpoint, export or file-system problems.
pub fn run(cfg: &TrainConfig, run_dir: &Path, opts: &RunOptions) -> Result<RunSummary, TrainError> {
    run_in(&Solo, cfg, run_dir, opts)
}

/// [`run`] as one rank of a data-parallel `group` (see [`crate::exec::dist`]). Every rank
/// trains on its share of each batch and holds the same weights; rank 0 alone reads
/// the checkpoint it resumes from (and sends it to the others), evaluates, writes
/// the run directory and exports. The weights are bit-identical to [`run`]'s for any
/// group size, and a run may resume with another.
///
/// # Errors
/// As [`run`]; on ranks other than 0, only data and configuration errors.
pub fn run_in(
    group: &dyn Group,
    cfg: &TrainConfig,
    run_dir: &Path,
    opts: &RunOptions,
) -> Result<RunSummary, TrainError> {
    let root = group.is_root();
    if root {
        std::fs::create_dir_all(run_dir).map_err(TrainError::io(run_dir))?;
    }
    let latest_path = run_dir.join("checkpoint_latest");
    let (cfg, resumed) = resolve(group, cfg, &latest_path, opts)?;
    let Setup {
        train,
        test,
        net,
        enc,
    } = setup(&cfg)?;
    if root && (resumed.is_none() || !opts.overrides.is_empty()) {
        let path = run_dir.join("config.toml");
        write_atomic(&path, cfg.to_toml()?.as_bytes()).map_err(TrainError::io(&path))?;
    }
    let epochs = cfg.optim.epochs;
    let mut reporter = reporter_for(group, &cfg, &net, run_dir, opts, (&train, &test));
    let teacher = teacher_of(&cfg, &train, &reporter)?;
    let ctx = StepContext::new(&cfg, &net, &enc).with_teacher(teacher.as_ref());
    let (mut params, mut sgd, start, mut best) = match resumed {
        Some(ck) => (ck.params, ck.sgd, ck.epochs_done, ck.best),
        None => {
            let (p, s) = fresh_start(&cfg, &ctx, &train, &mut reporter)?;
            // The initial weights are the first good checkpoint: a run the guard stops
            // in its first epoch resumes from here.
            if root {
                checkpoint(&cfg, &net, 0, (0.0, 0), (&p, &s)).save(&latest_path)?;
            }
            (p, s, 0, (0.0, 0))
        }
    };
    let last = opts.stop_after.map_or(epochs, |n| (start + n).min(epochs));
    // One guard for the whole run: silent batches count across epoch boundaries.
    let silent = (cfg.optim.loss == Loss::Sse).then(|| silent_loss(Loss::Sse, net.classes()));
    let mut guard = Guard::new(silent, cfg.run.guard_samples);
    for epoch in start..last {
        let t0 = Instant::now();
        let lr = cfg.optim.lr_at(epoch);
        let mut order: Vec<usize> = (0..train.len()).collect();
        order.shuffle(&mut shuffle_rng(cfg.run.seed, epoch));
        reporter.begin_epoch(epoch, train.len());
        let mut stats = Stats::default();
        par::with_threads(cfg.run.threads, || {
            for (b, batch) in order.chunks(cfg.optim.batch_size).enumerate() {
                let s =
                    ctx.train_batch_in(group, &mut params, &mut sgd, &train, (epoch, batch), lr);
                if cfg.run.guard {
                    guard
                        .check(&s, &params, reporter.names())
                        .map_err(|f| guard_error(f, (epoch, b), lr, &cfg, run_dir))?;
                }
                stats.add(&s);
                reporter.batch(batch.len(), &stats);
            }
            Ok::<(), TrainError>(())
        })??;
        let train_secs = t0.elapsed().as_secs_f64();
        if !root {
            // Rank 0 evaluates and saves; the next batch waits for it.
            continue;
        }
        let (test_acc, test_activity) = test_epoch(&cfg, &ctx, epoch, &params, &test)?;
        // The first QAT epoch starts the race for the best checkpoint afresh: the
        // exported model is the best on the device's weights.
        let first_qat = ctx.qat_at(epoch) && (epoch == 0 || !ctx.qat_at(epoch - 1));
        let plan = save_plan(test_acc, best.0, (epoch == 0 && best.1 == 0) || first_qat);
        if plan.best {
            best = (test_acc, epoch + 1);
        }
        let ck = checkpoint(&cfg, &net, epoch + 1, best, (&params, &sgd));
        if plan.best {
            ck.save(&run_dir.join("checkpoint_best"))?;
        }
        if plan.latest {
            ck.save(&latest_path)?;
        }
        let m = EpochMetrics {
            epoch: epoch + 1,
            lr,
            train_loss: stats.mean_loss(),
            train_ce: stats.mean_ce(),
            train_acc: stats.accuracy(),
            test_acc,
            qat: ctx.qat_at(epoch),
            best_acc: best.0,
            samples_per_sec: stats.samples as f64 / train_secs,
            seconds: t0.elapsed().as_secs_f64(),
            train_activity: stats.activity.summary(reporter.names()),
            test_activity: test_activity.summary(reporter.names()),
        };
        reporter.end_epoch(&m, best.1)?;
    }
    let (export, model) = match root && last == epochs {
        true => {
            let (agreement, path) = export_best(run_dir, &cfg, &test, &enc)?;
            (Some(agreement), Some(path))
        }
        false => (None, None),
    };
    Ok(RunSummary {
        best,
        export,
        model,
        params,
    })
}

/// The guard's stop in batch `b` of epoch `epoch` (both 0-based), with where the run
/// can continue from.
fn guard_error(
    failure: Failure,
    (epoch, b): (usize, usize),
    lr: f32,
    cfg: &TrainConfig,
    run_dir: &Path,
) -> GuardError {
    let latest = run_dir.join("checkpoint_latest");
    GuardError {
        epoch: epoch + 1,
        batch: b + 1,
        failure,
        lr,
        base_lr: cfg.optim.lr,
        run_dir: run_dir.to_path_buf(),
        checkpoint: match epoch {
            0 => format!("{} (the initial weights)", latest.display()),
            e => format!("{} (after epoch {e})", latest.display()),
        },
    }
}

/// The run's reporter (silent on ranks other than 0), after its banner.
fn reporter_for(
    group: &dyn Group,
    cfg: &TrainConfig,
    net: &Network,
    run_dir: &Path,
    opts: &RunOptions,
    data: (&Dataset, &Dataset),
) -> Reporter {
    let epochs = cfg.optim.epochs;
    let root = group.is_root();
    let mut reporter = if root {
        Reporter::new(run_dir, epochs, opts.progress)
    } else {
        Reporter::silent(epochs)
    };
    reporter.start(cfg, net, data);
    if root && group.size() > 1 {
        eprintln!(
            "data-parallel over {} MPI ranks: each takes a share of every batch's {CHUNK}-sample chunks",
            group.size()
        );
    }
    reporter
}

/// Exports the run's best checkpoint to `model.snn` and scores it: the end of a run.
fn export_best(
    run_dir: &Path,
    cfg: &TrainConfig,
    test: &Dataset,
    enc: &Encoding,
) -> Result<(Agreement, PathBuf), TrainError> {
    let best_ck = Checkpoint::load(&run_dir.join("checkpoint_best"))?;
    let model_path = run_dir.join("model.snn");
    let agreement = par::with_threads(cfg.run.threads, || {
        export_checkpoint(&best_ck, test, enc, &model_path, None)
    })??;
    Ok((agreement, model_path))
}

/// The configuration a run goes on with, and the checkpoint it resumes from: with
/// `opts.resume`, rank 0 reads `checkpoint_latest` and hands it to every rank, and the
/// overrides apply to its configuration; else `cfg` from scratch.
fn resolve(
    group: &dyn Group,
    cfg: &TrainConfig,
    latest_path: &Path,
    opts: &RunOptions,
) -> Result<(TrainConfig, Option<Checkpoint>), TrainError> {
    if !opts.resume {
        return Ok((cfg.clone(), None));
    }
    let mut bytes = if group.is_root() {
        std::fs::read(latest_path).map_err(|error| CheckpointError::Io {
            path: latest_path.to_path_buf(),
            error,
        })?
    } else {
        Vec::new()
    };
    group.broadcast_bytes(0, &mut bytes);
    let ck = Checkpoint::from_bytes(&bytes, latest_path)?;
    Ok((opts.overrides.apply(&ck.config)?, Some(ck)))
}

/// A new run's weights and optimiser: the seeded init, calibrated on the training data
/// unless `network.init = "random"`.
fn fresh_start(
    cfg: &TrainConfig,
    ctx: &StepContext,
    train: &Dataset,
    reporter: &mut Reporter,
) -> Result<(Params, Sgd), TrainError> {
    let net = ctx.net();
    let mut p = net.init(cfg.network.init_gain, init_seed(cfg.run.seed));
    if cfg.network.init == Init::Calibrated {
        let layers = par::with_threads(cfg.run.threads, || {
            calibrate(&ctx.window, &mut p, train, cfg.run.seed)
        })?;
        reporter.calibration(&layers);
    }
    let s = cfg.optim.optimizer_for(&p);
    Ok((p, s))
}

/// The distillation teacher of `cfg` run on `train` (none without `[optim.distill]`).
fn teacher_of(
    cfg: &TrainConfig,
    train: &Dataset,
    reporter: &Reporter,
) -> Result<Option<Teacher>, TrainError> {
    let Some(d) = &cfg.optim.distill else {
        return Ok(None);
    };
    let t = par::with_threads(cfg.run.threads, || {
        Teacher::run(d, train, cfg.run.timesteps)
    })??;
    reporter.say(&t.summary(&d.teacher));
    Ok(Some(t))
}

/// The checkpoint after `epochs_done` epochs.
fn checkpoint(
    cfg: &TrainConfig,
    net: &Network,
    epochs_done: usize,
    best: (f64, usize),
    (params, sgd): (&Params, &Sgd),
) -> Checkpoint {
    Checkpoint {
        config: cfg.clone(),
        net: net.clone(),
        epochs_done,
        best,
        params: params.clone(),
        sgd: sgd.clone(),
    }
}

/// Test accuracy and activity after epoch `epoch` (0-based) at the evaluation window;
/// a QAT epoch's are the quantised weights'.
fn test_epoch(
    cfg: &TrainConfig,
    ctx: &StepContext,
    epoch: usize,
    params: &Params,
    test: &Dataset,
) -> Result<(f64, Activity), TrainError> {
    let eval_win = Window {
        steps: cfg.eval_steps(),
        ..ctx.window
    };
    let quantized = ctx.qat_at(epoch).then(|| fake_quantized(ctx.net(), params));
    Ok(par::with_threads(cfg.run.threads, || {
        evaluate_with_activity(&eval_win, quantized.as_ref().unwrap_or(params), test)
    })?)
}

/// Exports a checkpoint to `out` (atomically) and compares float and fixed point on
/// `test` at the run's evaluation window; prints the three figures.
///
/// # Errors
/// Export or I/O errors.
pub fn export_checkpoint(
    ck: &Checkpoint,
    test: &Dataset,
    enc: &Encoding,
    out: &Path,
    membranes: Option<snn_core::format::Membranes>,
) -> Result<Agreement, TrainError> {
    let opts = crate::io::export::ExportOptions {
        membranes,
        deployment: Some(ck.config.run.deployment()),
    };
    let blob = crate::io::export::export_with(&ck.net, &ck.params, enc, opts)?;
    write_atomic(out, &blob).map_err(TrainError::io(out))?;
    let win = Window {
        net: &ck.net,
        enc,
        steps: ck.config.eval_steps(),
        record: false,
    };
    // A checkpoint of a QAT epoch trained on the device's weights: its float network
    // is those weights with float membranes.
    let qat = ck.config.optim.qat_epochs;
    let on_grid = qat > 0 && ck.epochs_done + qat > ck.config.optim.epochs;
    let quantized = on_grid.then(|| fake_quantized(&ck.net, &ck.params));
    let a = compare(&win, quantized.as_ref().unwrap_or(&ck.params), &blob, test)?;
    eprintln!(
        "exported {} ({} bytes, epoch {}): float{} {:.2}%, fixed point (snn-core) {:.2}%, agreement {:.2}% on {} test {}",
        out.display(),
        blob.len(),
        ck.best.1,
        if on_grid { " (i8 weights)" } else { "" },
        a.float_accuracy,
        a.fixed_accuracy,
        a.agreement,
        a.images,
        if test.events.is_some() { "recordings" } else { "images" },
    );
    if a.agreement < AGREEMENT_WARNING {
        eprintln!(
            "warning: the fixed-point model agrees with the float network on only {:.2}% of \
             the test set (usually 97-99.5%): the quantisation lost the network; keep the \
             checkpoint and report it",
            a.agreement
        );
    }
    Ok(a)
}

/// Agreement between float and fixed point (percent) below which an export warns:
/// every model so far agreed on 97-99.5% of its test set.
const AGREEMENT_WARNING: f64 = 90.0;
