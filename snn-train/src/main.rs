//! The `snn-train` command line: `train`, `eval`, `export`. `cargo xtask train`
//! builds this binary in release mode and runs it.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use snn_train::checkpoint::Checkpoint;
use snn_train::config::TrainConfig;
use snn_train::data::DatasetKind;
use snn_train::grad::GradForm;
use snn_train::net::Preset;
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
    /// Continue the run in this directory from its checkpoint_latest.
    #[arg(long, conflicts_with = "config")]
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
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Train(a) => train_cmd(a),
        Cmd::Eval(a) => eval_cmd(a),
        Cmd::Export(a) => export_cmd(a),
    }
}

fn train_cmd(a: TrainArgs) -> Result<()> {
    let opts = RunOptions {
        progress: !a.quiet,
        resume: a.resume.is_some(),
        stop_after: None,
    };
    if let Some(dir) = &a.resume {
        let s = train::run(&TrainConfig::default(), dir, &opts)?;
        return report(&s, dir);
    }
    let mut cfg = match &a.config {
        Some(p) => TrainConfig::from_file(p)?,
        None => TrainConfig::default(),
    };
    macro_rules! set {
        ($($f:ident),*) => { $( if let Some(v) = a.$f { cfg.$f = v; } )* };
    }
    set!(dataset, arch, epochs, timesteps, grad, threads, seed);
    if a.data_dir.is_some() {
        cfg.data_dir = a.data_dir.clone();
    }
    if a.train_limit.is_some() {
        cfg.train_limit = a.train_limit;
    }
    if a.test_limit.is_some() {
        cfg.test_limit = a.test_limit;
    }
    cfg.validate()?;
    let dir = a.out.clone().unwrap_or_else(|| {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        PathBuf::from("runs").join(format!(
            "{}-{}-{secs}",
            cfg.dataset.name(),
            format!("{:?}", cfg.arch).to_lowercase()
        ))
    });
    if dir.join("checkpoint_latest").exists() {
        bail!(
            "{} already holds a run; continue it with --resume {} or choose another --out",
            dir.display(),
            dir.display()
        );
    }
    let s = train::run(&cfg, &dir, &opts)?;
    report(&s, &dir)
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

fn load_run(
    run: &Path,
    latest: bool,
    data_dir: Option<PathBuf>,
) -> Result<(Checkpoint, train::Setup)> {
    let name = if latest {
        "checkpoint_latest"
    } else {
        "checkpoint_best"
    };
    let ck = Checkpoint::load(&run.join(name)).with_context(|| format!("loading {name}"))?;
    let mut cfg = ck.config.clone();
    if data_dir.is_some() {
        cfg.data_dir = data_dir;
    }
    let setup = train::setup(&cfg)?;
    Ok((ck, setup))
}

fn eval_cmd(a: EvalArgs) -> Result<()> {
    let (ck, setup) = load_run(&a.run, a.latest, a.data_dir)?;
    let steps = a.timesteps.unwrap_or(ck.config.eval_steps());
    let acc = snn_train::par::with_threads(ck.config.threads, || {
        train::evaluate(&ck.net, &ck.params, &setup.enc, &setup.test, steps)
    })?;
    println!(
        "float test accuracy {acc:.2}% on {} images at T = {steps} (epoch {})",
        setup.test.len(),
        ck.epochs_done
    );
    Ok(())
}

fn export_cmd(a: ExportArgs) -> Result<()> {
    let (ck, setup) = load_run(&a.run, a.latest, a.data_dir)?;
    let out = a.out.unwrap_or_else(|| a.run.join("model.snn"));
    let agreement = snn_train::par::with_threads(ck.config.threads, || {
        train::export_checkpoint(&ck, &setup.test, &setup.enc, &out)
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
