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
    /// The paper's inference analysis of an exported model, with PNG plots.
    Analyze(AnalyzeArgs),
    /// Training and host-inference throughput (used by `cargo xtask bench`).
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
struct BenchArgs {
    /// Model for the inference measurement (default: models/lenet-mnist-subset.snn).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Time steps to measure.
    #[arg(long, value_delimiter = ',', default_value = "20,100")]
    timesteps: Vec<usize>,
    /// Mini-batches timed per training point (batch 64).
    #[arg(long, default_value_t = 4)]
    batches: usize,
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
    /// Time steps (default: the run's evaluation steps, else 20).
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
        Cmd::Analyze(a) => analyze_cmd(a),
        Cmd::Bench(a) => bench_cmd(a),
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
    eprintln!("wrote {} in {}", out.written.join(", "), out.out.display());
    Ok(())
}

fn bench_cmd(a: BenchArgs) -> Result<()> {
    use snn_train::{bench, data};
    let (train, test) = data::load(DatasetKind::MnistSubset, &data::bundled_dir())?;
    let cores = bench::num_cores();
    let mut training = Vec::new();
    println!(
        "{:>4} {:>10} {:>8} {:>14} {:>16}",
        "T", "backward", "threads", "samples/s", "KiB per sample"
    );
    for &t in &a.timesteps {
        for grad in [GradForm::Code, GradForm::Aggregate] {
            let mut threads: Vec<usize> = vec![1, cores];
            threads.dedup();
            for th in threads {
                let cfg = TrainConfig {
                    timesteps: t,
                    grad,
                    threads: th,
                    batch_size: 64,
                    ..TrainConfig::default()
                };
                let net = snn_train::net::Network::build(
                    &cfg.layer_list(),
                    snn_train::net::Shape { c: 1, h: 28, w: 28 },
                    10,
                    cfg.neuron(),
                    cfg.dropout,
                )?;
                let p = bench::training(&net, &cfg, &train, a.batches, 64)?;
                println!(
                    "{:>4} {:>10} {:>8} {:>14.1} {:>16.0}",
                    t,
                    p.grad,
                    p.threads,
                    p.samples_per_sec,
                    p.bytes_per_sample as f64 / 1024.0
                );
                training.push(p);
            }
        }
    }
    let model_path = a.model.unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/lenet-mnist-subset.snn")
    });
    let blob =
        std::fs::read(&model_path).with_context(|| format!("reading {}", model_path.display()))?;
    let model = snn_core::Model::from_bytes(&blob)
        .map_err(|e| anyhow::anyhow!("{}: {e}", model_path.display()))?;
    let mut test = test;
    test.truncate(a.images);
    let mut inference = Vec::new();
    println!(
        "\n{:>4} {:>8} {:>12} {:>16} {:>12}",
        "T", "threads", "images/s", "events/image", "ns/event"
    );
    for &t in &a.timesteps {
        let mut threads: Vec<usize> = vec![1, cores];
        threads.dedup();
        for th in threads {
            let p = bench::inference(&model, &test, t as u32, th, 2)?;
            println!(
                "{:>4} {:>8} {:>12.1} {:>16.0} {:>12.3}",
                t, p.threads, p.images_per_sec, p.events_per_image, p.ns_per_event
            );
            inference.push(p);
        }
    }
    if let Some(dir) = a.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let doc = serde_json::json!({
        "machine": { "cores": cores },
        "model": model_path.display().to_string(),
        "training": training,
        "inference": inference,
    });
    snn_train::checkpoint::write_atomic(&a.out, serde_json::to_string_pretty(&doc)?.as_bytes())?;
    eprintln!("wrote {}", a.out.display());
    Ok(())
}
