//! The `snn-train` command line: flags and dispatch only; every command's logic lives
//! in the library. `cargo xtask train` builds this binary in release mode and runs it.
#![deny(unsafe_code)]

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand};
use snn_train::config::TrainConfig;
use snn_train::data::DatasetKind;
use snn_train::dist::{self, Group, Solo};
use snn_train::grad::GradForm;
use snn_train::setup::{load_run, Which};
use snn_train::sim::Window;
use snn_train::spec::Preset;
use snn_train::train::{self, RunOptions};

/// Train deep spiking networks with spike-based backpropagation and export them to
/// the snn-core fixed-point format.
#[derive(Debug, Parser)]
#[command(name = "snn-train", version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Train a network (defaults: LeNet on the bundled MNIST subset).
    Train(TrainArgs),
    /// Evaluate a run's checkpoint (float network) on the test set.
    Eval(EvalArgs),
    /// Export a run's checkpoint to the snn-core format and compare float and fixed point.
    Export(ExportArgs),
    /// The paper's inference analysis of an exported model, with PNG plots.
    Analyze(AnalyzeArgs),
    /// Training and host-inference throughput (used by `cargo xtask bench`).
    Bench(BenchArgs),
    /// Rewrite a model file of an older format version (1 or 2) in today's format (3),
    /// or store a deployment setting (--steps, --early-exit) in a current one.
    Upgrade(UpgradeArgs),
    /// Accuracy against device instructions for settings measured in QEMU (used by
    /// `cargo xtask pareto`): a table, pareto.json and pareto.png.
    Pareto(ParetoArgs),
    /// Translate a NIR graph (snnTorch, Norse, ... exports) into an snn-core model.
    #[cfg(feature = "nir")]
    ImportNir(ImportNirArgs),
    /// Write an snn-core model (or a run's model.snn) as a NIR graph.
    #[cfg(feature = "nir")]
    ExportNir(ExportNirArgs),
}

#[cfg(feature = "nir")]
#[derive(Debug, Args)]
struct ImportNirArgs {
    /// The NIR file (HDF5).
    file: PathBuf,
    /// The model file to write.
    #[arg(long)]
    out: PathBuf,
    /// Time step in seconds (default: the file's `dt` metadata, else 1e-4, snnTorch's).
    #[arg(long)]
    dt: Option<f64>,
    /// Reset of the spiking neurons (default: the file's `snn_reset` metadata, else
    /// hard, NIR's `v_reset`; snnTorch's default neurons reset by subtraction).
    #[arg(long, value_enum)]
    reset: Option<ResetArg>,
    /// Dataset whose encoder the model uses and that scores it (default: the file's
    /// encoder metadata, else MNIST's; scored on the bundled MNIST subset when 1x28x28).
    #[arg(long, value_enum)]
    dataset: Option<DatasetKind>,
    /// Directory of the dataset's files (else SNN_DATA_DIR).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Time steps of the score.
    #[arg(long, default_value_t = 20)]
    timesteps: u32,
    /// Test images scored (0: none).
    #[arg(long, default_value_t = 2000)]
    images: usize,
}

#[cfg(feature = "nir")]
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ResetArg {
    /// `v = 0` after a spike (NIR's `v_reset = 0`).
    Hard,
    /// `v -= v_threshold` after a spike.
    Subtract,
}

#[cfg(feature = "nir")]
#[derive(Debug, Args)]
struct ExportNirArgs {
    /// A model file, or a run directory (its model.snn).
    source: PathBuf,
    /// The NIR file to write.
    #[arg(long)]
    out: PathBuf,
    /// Time step in seconds the graph's time constants are written for.
    #[arg(long, default_value_t = snn_train::nir::DEFAULT_DT)]
    dt: f64,
}

#[derive(Debug, Args)]
struct BenchArgs {
    /// Model for the inference measurement (default: models/lenet-mnist-subset.snn).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Time steps to measure.
    #[arg(long, value_delimiter = ',', default_value = "20,100")]
    timesteps: Vec<usize>,
    /// Mini-batches timed per training point.
    #[arg(long, default_value_t = 4)]
    batches: usize,
    /// Measure host inference only.
    #[arg(long)]
    inference_only: bool,
    /// Mini-batch size of the training points.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Dataset whose images are used (its shape sizes the network).
    #[arg(long, value_enum, default_value = "mnist-subset")]
    dataset: DatasetKind,
    /// Directory of the dataset's files (else SNN_DATA_DIR).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Test images for the inference measurement.
    #[arg(long, default_value_t = 200)]
    images: usize,
    /// JSON results file.
    #[arg(long, default_value = "target/bench/host.json")]
    out: PathBuf,
}

#[derive(Debug, Args)]
struct AnalyzeArgs {
    /// Run directory (uses RUN/model.snn, its dataset and metrics.jsonl; plots go there).
    run: Option<PathBuf>,
    /// A model file instead of a run (with --dataset).
    #[arg(long, conflicts_with = "run")]
    model: Option<PathBuf>,
    /// Dataset of --model (default: the bundled MNIST subset).
    #[arg(long, value_enum)]
    dataset: Option<DatasetKind>,
    /// Directory of the dataset's files (else SNN_DATA_DIR).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Test images to analyse.
    #[arg(long, default_value_t = 500)]
    images: usize,
    /// Time steps (default: the run's evaluation steps, else the model's stored
    /// deployment, else 20).
    #[arg(long)]
    timesteps: Option<u32>,
    /// Time steps of the accuracy curve.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "5,10,15,20,30,40,60,80,100"
    )]
    curve: Vec<u32>,
    /// Where to write analysis.json and the PNGs (default: the run directory, else .).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct TrainArgs {
    /// TOML configuration (see configs/); flags below override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Dataset.
    #[arg(long, value_enum)]
    dataset: Option<DatasetKind>,
    /// Directory of the dataset's files (else SNN_DATA_DIR).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Built-in architecture.
    #[arg(long, value_enum)]
    arch: Option<Preset>,
    /// Epochs.
    #[arg(long)]
    epochs: Option<usize>,
    /// Time steps per sample.
    #[arg(long)]
    timesteps: Option<usize>,
    /// Backward form.
    #[arg(long, value_enum)]
    grad: Option<GradForm>,
    /// Worker threads (0 = all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Use only the first N training images.
    #[arg(long)]
    train_limit: Option<usize>,
    /// Use only the first N test images.
    #[arg(long)]
    test_limit: Option<usize>,
    /// Base learning rate.
    #[arg(long)]
    lr: Option<f32>,
    /// Activity-regulariser weights (`optim.activity`), comma-separated: one for every
    /// hidden population, or one each.
    #[arg(long, value_delimiter = ',')]
    activity: Option<Vec<f32>>,
    /// Quantisation-aware fine-tuning in the last N epochs (`optim.qat_epochs`).
    #[arg(long)]
    qat_epochs: Option<usize>,
    /// Continue the run in this directory from its checkpoint_latest; only --epochs,
    /// --lr, --activity, --qat-epochs and --threads may change with it.
    #[arg(long, conflicts_with_all = ["config", "dataset", "data_dir", "arch", "timesteps", "grad", "seed", "train_limit", "test_limit", "out"])]
    resume: Option<PathBuf>,
    /// Run directory (default: runs/<dataset>-<arch>-<time>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(Debug, Args)]
struct EvalArgs {
    /// Run directory.
    run: PathBuf,
    /// Use checkpoint_latest instead of checkpoint_best.
    #[arg(long)]
    latest: bool,
    /// Time steps (default: the run's).
    #[arg(long)]
    timesteps: Option<usize>,
    /// Directory of the dataset's files (else the run's, else SNN_DATA_DIR).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

/// Membrane width of an exported model.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum MembraneArg {
    /// 16 bits when every threshold fits, else 32.
    Auto,
    /// 16-bit membranes (half the state memory, the Cortex-M DSP kernels).
    I16,
    /// 32-bit membranes.
    I32,
}

impl MembraneArg {
    fn choice(self) -> Option<snn_core::format::Membranes> {
        use snn_core::format::Membranes;
        match self {
            Self::Auto => None,
            Self::I16 => Some(Membranes::I16),
            Self::I32 => Some(Membranes::I32),
        }
    }
}

#[derive(Debug, Args)]
struct ParetoArgs {
    /// JSON list of device points (model, steps, early_exit, instructions, ram).
    #[arg(long)]
    device: PathBuf,
    /// Dataset of the models.
    #[arg(long, value_enum, default_value = "mnist")]
    dataset: DatasetKind,
    /// Directory of the dataset's files (else SNN_DATA_DIR).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Test images (at most the test set).
    #[arg(long, default_value_t = 10_000)]
    images: usize,
    /// Where to write pareto.md, pareto.json and pareto.png.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, Args)]
struct UpgradeArgs {
    /// Model file of format version 1 or 2 (or 3 with --steps).
    model: PathBuf,
    /// Output file (written atomically).
    #[arg(long)]
    out: PathBuf,
    /// Membrane width of the upgraded model (auto: a version-2 model keeps its own).
    #[arg(long, value_enum, default_value = "auto")]
    membranes: MembraneArg,
    /// Time steps to store as the model's deployment setting.
    #[arg(long)]
    steps: Option<u32>,
    /// Early-exit rule to store with `--steps`: never, exact or margin:N.
    #[arg(long, requires = "steps")]
    early_exit: Option<snn_core::EarlyExit>,
}

#[derive(Debug, Args)]
struct ExportArgs {
    /// Run directory.
    run: PathBuf,
    /// Output file (default: RUN/model.snn).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Use checkpoint_latest instead of checkpoint_best.
    #[arg(long)]
    latest: bool,
    /// Directory of the dataset's files (else the run's, else SNN_DATA_DIR).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Membrane width of the model.
    #[arg(long, value_enum, default_value = "auto")]
    membranes: MembraneArg,
}

/// Runs the command; an error is one line (`Error: ` and its causes, colon-separated),
/// without a backtrace even when `RUST_BACKTRACE` is set, and exit status 1.
fn main() -> std::process::ExitCode {
    match run(Cli::parse().cmd) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cmd: Cmd) -> Result<()> {
    match cmd {
        Cmd::Train(a) => in_group(|group| train_cmd(a, group)),
        Cmd::Eval(a) => eval_cmd(a),
        Cmd::Export(a) => export_cmd(a),
        Cmd::Analyze(a) => analyze_cmd(a),
        Cmd::Bench(a) => bench_cmd(a),
        Cmd::Upgrade(a) => upgrade_cmd(a),
        Cmd::Pareto(a) => pareto_cmd(a),
        #[cfg(feature = "nir")]
        Cmd::ImportNir(a) => import_nir_cmd(a),
        #[cfg(feature = "nir")]
        Cmd::ExportNir(a) => export_nir_cmd(a),
    }
}

#[cfg(feature = "nir")]
fn import_nir_cmd(a: ImportNirArgs) -> Result<()> {
    use snn_core::format::Reset;
    use snn_train::nir;
    let cmd = nir::ImportCommand {
        input: a.file,
        out: a.out,
        options: nir::ImportOptions {
            dt: a.dt,
            reset: a.reset.map(|r| match r {
                ResetArg::Hard => Reset::Hard,
                ResetArg::Subtract => Reset::Subtract,
            }),
            encoding: a.dataset.map(DatasetKind::encoding),
        },
        dataset: a.dataset,
        data_dir: a.data_dir,
        timesteps: a.timesteps,
        images: a.images,
    };
    let s = nir::import_file(&cmd)?;
    println!("dt = {} s ({})", s.imported.dt, s.imported.dt_source);
    for line in &s.imported.layers {
        println!("  {line}");
    }
    println!(
        "wrote {} ({} bytes)",
        cmd.out.display(),
        s.imported.blob.len()
    );
    if let Some((acc, n, kind)) = s.score {
        println!(
            "fixed-point accuracy {acc:.2}% on {n} {} test images at T = {}",
            kind.name(),
            cmd.timesteps
        );
    }
    Ok(())
}

#[cfg(feature = "nir")]
fn export_nir_cmd(a: ExportNirArgs) -> Result<()> {
    let (nodes, edges) = snn_train::nir::export_file(&a.source, &a.out, a.dt)?;
    println!(
        "wrote {} ({nodes} nodes, {edges} edges, dt = {} s)",
        a.out.display(),
        a.dt
    );
    Ok(())
}

/// Runs `f` in this process's group: the MPI ranks when an MPI launcher started it
/// (with the `mpi` feature), else the process alone. An error or a panic on any rank
/// of several ends every rank (so none waits for a partner that will not answer).
fn in_group(f: impl FnOnce(&dyn Group) -> Result<()>) -> Result<()> {
    #[cfg(feature = "mpi")]
    if dist::launched_size().is_some() {
        let group = dist::mpi::Mpi::init()?;
        if group.size() == 1 {
            let result = f(&group);
            drop(group); // MPI_Finalize
            return result;
        }
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if group.is_root() {
                explain_launcher_stop(group.size())?;
            }
            f(&group)
        }));
        match result {
            Ok(Ok(())) => {
                drop(group); // MPI_Finalize
                return Ok(());
            }
            Ok(Err(e)) => stop_group(&group, &e),
            // The panic hook printed the message; finalising would wait for the others.
            Err(_) => group.abort(101),
        }
    }
    if let Some(n @ 2..) = dist::launched_size() {
        bail!(
            "started by an MPI launcher as one of {n} processes, but this snn-train was built \
             without MPI: build it with `--features mpi` (or use `cargo xtask train --mpi {n}`)"
        );
    }
    f(&Solo)
}

/// Ends every rank after error `e` on this one. The guard's stops happen on every rank
/// at the same batch (the ranks hold the same statistics and weights): rank 0 reports
/// them, and the other ranks give it time to do so before they end the job themselves.
#[cfg(feature = "mpi")]
fn stop_group(group: &dist::mpi::Mpi, e: &anyhow::Error) -> ! {
    let on_every_rank = matches!(
        e.downcast_ref::<snn_train::TrainError>(),
        Some(snn_train::TrainError::Guard(_))
    );
    if group.is_root() || !on_every_rank {
        eprintln!("Error (rank {} of {}): {e:#}", group.rank(), group.size());
    } else {
        std::thread::sleep(std::time::Duration::from_secs(30));
    }
    group.abort(1)
}

/// The run directory of this process's run, once known (what rank 0 of an MPI run
/// names when the launcher stops it).
static RUN_DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// When one rank dies (or the job is interrupted), `mpirun` ends the others with
/// SIGTERM. Rank 0 then says so, and where the run can continue from, before it exits
/// (a thread waits for the signal).
#[cfg(feature = "mpi")]
fn explain_launcher_stop(size: usize) -> Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGTERM])?;
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            let latest = RUN_DIR.get().map(|d| (d, d.join("checkpoint_latest")));
            let resume = match latest {
                Some((d, ck)) if ck.exists() => format!(
                    "; {} holds the last completed epoch: continue with --resume {}",
                    ck.display(),
                    d.display()
                ),
                _ => String::new(),
            };
            eprintln!(
                "Error (rank 0 of {size}): ended by the MPI launcher, which ends every rank when \
                 one fails or the job is interrupted (its report names the rank){resume}"
            );
            std::process::exit(1);
        }
    });
    Ok(())
}

fn train_cmd(a: TrainArgs, group: &dyn Group) -> Result<()> {
    let root = group.is_root();
    let opts = RunOptions {
        progress: !a.quiet && root,
        resume: a.resume.is_some(),
        overrides: train::ResumeOverrides {
            lr: a.lr,
            epochs: a.epochs,
            threads: a.threads,
            activity: a.activity.clone(),
            qat_epochs: a.qat_epochs,
        },
        stop_after: None,
    };
    if let Some(dir) = &a.resume {
        let _ = RUN_DIR.set(dir.clone());
        let s = train::run_in(group, &TrainConfig::default(), dir, &opts)?;
        return if root { report(&s, dir) } else { Ok(()) };
    }
    let mut cfg = match &a.config {
        Some(p) => TrainConfig::from_file(p)?,
        None => TrainConfig::default(),
    };
    let (data, run) = (&mut cfg.data, &mut cfg.run);
    overwrite(&mut data.dataset, a.dataset);
    overwrite(&mut cfg.network.arch, a.arch);
    overwrite(&mut cfg.optim.epochs, a.epochs);
    overwrite(&mut cfg.optim.lr, a.lr);
    overwrite(&mut cfg.optim.activity, a.activity);
    overwrite(&mut cfg.optim.qat_epochs, a.qat_epochs);
    overwrite(&mut cfg.optim.grad, a.grad);
    overwrite(&mut run.timesteps, a.timesteps);
    overwrite(&mut run.threads, a.threads);
    overwrite(&mut run.seed, a.seed);
    if a.data_dir.is_some() {
        data.dir = a.data_dir;
    }
    if a.train_limit.is_some() {
        data.train_limit = a.train_limit;
    }
    if a.test_limit.is_some() {
        data.test_limit = a.test_limit;
    }
    cfg.validate()?;
    // Rank 0 names the run directory (the default holds the time) and tells the others.
    let mut name = match root {
        true => path_bytes(a.out.unwrap_or_else(|| train::default_run_dir(&cfg))),
        false => Vec::new(),
    };
    group.broadcast_bytes(0, &mut name);
    let dir = path_from_bytes(name);
    let _ = RUN_DIR.set(dir.clone());
    if root && dir.join("checkpoint_latest").exists() {
        bail!(
            "{} already holds a run; continue it with --resume {} or choose another --out",
            dir.display(),
            dir.display()
        );
    }
    let s = train::run_in(group, &cfg, &dir, &opts)?;
    if root {
        report(&s, &dir)?;
    }
    Ok(())
}

/// A path as bytes, to send to other ranks.
#[cfg(unix)]
fn path_bytes(p: PathBuf) -> Vec<u8> {
    std::os::unix::ffi::OsStringExt::into_vec(p.into_os_string())
}

/// The inverse of [`path_bytes`].
#[cfg(unix)]
fn path_from_bytes(b: Vec<u8>) -> PathBuf {
    <std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(b).into()
}

#[cfg(not(unix))]
fn path_bytes(p: PathBuf) -> Vec<u8> {
    p.to_string_lossy().into_owned().into_bytes()
}

#[cfg(not(unix))]
fn path_from_bytes(b: Vec<u8>) -> PathBuf {
    String::from_utf8_lossy(&b).into_owned().into()
}

/// `*slot = v` when a flag gave `v`.
fn overwrite<T>(slot: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *slot = v;
    }
}

fn report(s: &train::RunSummary, dir: &Path) -> Result<()> {
    eprintln!("run directory: {}", dir.display());
    if let (Some(a), Some(m)) = (&s.export, &s.model) {
        println!(
            "model {}  float {:.2}%  fixed-point {:.2}%  agreement {:.2}%",
            m.display(),
            a.float_accuracy,
            a.fixed_accuracy,
            a.agreement
        );
    }
    Ok(())
}

fn which(latest: bool) -> Which {
    if latest {
        Which::Latest
    } else {
        Which::Best
    }
}

fn eval_cmd(a: EvalArgs) -> Result<()> {
    if a.timesteps == Some(0) {
        bail!("--timesteps must be at least 1");
    }
    let (ck, setup) = load_run(&a.run, which(a.latest), a.data_dir)?;
    let win = Window {
        net: &ck.net,
        enc: &setup.enc,
        steps: a.timesteps.unwrap_or(ck.config.eval_steps()),
        record: false,
    };
    let acc = snn_train::par::with_threads(ck.config.run.threads, || {
        snn_train::eval::evaluate(&win, &ck.params, &setup.test)
    })?;
    println!(
        "float test accuracy {acc:.2}% on {} images at T = {} (epoch {})",
        setup.test.len(),
        win.steps,
        ck.epochs_done
    );
    Ok(())
}

fn export_cmd(a: ExportArgs) -> Result<()> {
    let (ck, setup) = load_run(&a.run, which(a.latest), a.data_dir)?;
    let out = a.out.unwrap_or_else(|| a.run.join("model.snn"));
    let agreement = snn_train::par::with_threads(ck.config.run.threads, || {
        train::export_checkpoint(&ck, &setup.test, &setup.enc, &out, a.membranes.choice())
    })??;
    println!(
        "model {}  float {:.2}%  fixed-point {:.2}%  agreement {:.2}%",
        out.display(),
        agreement.float_accuracy,
        agreement.fixed_accuracy,
        agreement.agreement
    );
    Ok(())
}

fn upgrade_cmd(a: UpgradeArgs) -> Result<()> {
    let old = std::fs::read(&a.model).map_err(|e| anyhow::anyhow!("{}: {e}", a.model.display()))?;
    let deployment = a.steps.map(|steps| snn_core::format::Deployment {
        steps,
        early_exit: a.early_exit.unwrap_or_default(),
    });
    let from = snn_train::upgrade::version(&old).unwrap_or(0);
    let new = snn_train::upgrade::upgrade(&old, a.membranes.choice(), deployment)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.model.display()))?;
    snn_train::checkpoint::write_atomic(&a.out, &new)?;
    let m = snn_core::Model::from_bytes(&new)?;
    println!(
        "{} (format {from}) -> {} (format {}, {:?} membranes, {} bytes of state)",
        a.model.display(),
        a.out.display(),
        snn_core::format::FORMAT_VERSION,
        m.membranes(),
        m.state_bytes()
    );
    Ok(())
}

fn pareto_cmd(a: ParetoArgs) -> Result<()> {
    use snn_train::pareto;
    let text = std::fs::read_to_string(&a.device)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.device.display()))?;
    let device: Vec<pareto::DevicePoint> =
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", a.device.display()))?;
    let dir = snn_train::data::data_dir(a.dataset, a.data_dir.as_deref())?;
    let (_, mut test) = snn_train::data::load(a.dataset, &dir)?;
    test.truncate(a.images);
    let points = pareto::points(&device, &test)?;
    let table = pareto::table(&points);
    println!("{table}");
    std::fs::create_dir_all(&a.out)?;
    let write =
        |name: &str, bytes: &[u8]| snn_train::checkpoint::write_atomic(&a.out.join(name), bytes);
    write("pareto.md", table.as_bytes())?;
    write(
        "pareto.json",
        serde_json::to_string_pretty(&points)?.as_bytes(),
    )?;
    pareto::plot(&points, &a.out.join("pareto.png"))?;
    eprintln!(
        "wrote pareto.md, pareto.json, pareto.png in {}",
        a.out.display()
    );
    Ok(())
}

fn analyze_cmd(a: AnalyzeArgs) -> Result<()> {
    use snn_train::analysis;
    let out = analysis::run(&analysis::AnalyzeOptions {
        run: a.run,
        model: a.model,
        dataset: a.dataset,
        data_dir: a.data_dir,
        images: a.images,
        timesteps: a.timesteps,
        curve: a.curve,
        out: a.out,
    })?;
    analysis::print(&out.analysis);
    snn_train::early_exit::print(&out.early_exit);
    if let Some(d) = &out.deployed {
        println!("{d}");
    }
    eprintln!("wrote {} in {}", out.written.join(", "), out.out.display());
    Ok(())
}

fn bench_cmd(a: BenchArgs) -> Result<()> {
    use snn_train::bench;
    let opts = bench::BenchOptions {
        dataset: a.dataset,
        data_dir: a.data_dir,
        model: a.model.unwrap_or_else(bench::default_model),
        timesteps: a.timesteps,
        batches: a.batches,
        inference_only: a.inference_only,
        batch_size: a.batch_size,
        images: a.images,
    };
    let report = bench::run(&opts)?;
    if let Some(dir) = a.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let doc = serde_json::json!({
        "machine": { "cores": report.cores, "cpu": report.cpu, "simd": report.simd },
        "model": report.model,
        "training": report.training,
        "inference": report.inference,
    });
    snn_train::checkpoint::write_atomic(&a.out, serde_json::to_string_pretty(&doc)?.as_bytes())?;
    eprintln!("wrote {}", a.out.display());
    Ok(())
}
