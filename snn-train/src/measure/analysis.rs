//! The paper's inference analysis (`method.md` §9) of an exported model, computed by
//! `snn-core` on a test set: spikes per neuron per layer, synaptic operations (`#AC`)
//! against the same network's `#MAC`, the 45 nm energy estimate, and accuracy against
//! the number of time steps.
//!
//! [`run`] is the whole `snn-train analyze` command (load the model and its test set,
//! check that they fit together, analyse, write `analysis.json` and the PNGs); the
//! binary only parses arguments and prints. Every bad input is an [`AnalyzeError`]
//! naming the problem, never a panic.

use std::path::{Path, PathBuf};

use serde::Serialize;
use snn_core::{LayerKind, Model, RunError};

use crate::data::{self, Dataset, DatasetKind, EncodingSpec};
use crate::error::{ConfigError, DataError};
use crate::exec::par;
use crate::exec::seed::eval_seed;
use crate::measure::early_exit;
use crate::measure::plots::{self, PlotError};
use crate::train::config::TrainConfig;

/// Why an analysis could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnalyzeError {
    /// Neither a run directory nor a model file was given.
    #[error("give a run directory or --model FILE")]
    NoModel,
    /// The run directory does not exist.
    #[error("{path}: no such run directory")]
    NoRun {
        /// The directory given.
        path: PathBuf,
    },
    /// A number of time steps is zero (`option` names which).
    #[error("{option} must be at least 1")]
    ZeroSteps {
        /// The option or argument, e.g. `--timesteps`.
        option: &'static str,
    },
    /// The accuracy curve was given no time-step counts.
    #[error("--curve needs at least one number of time steps")]
    EmptyCurve,
    /// There are no test images to analyse.
    #[error("no test images: {reason}")]
    NoImages {
        /// Why: `--images` is 0, or the test split is empty.
        reason: String,
    },
    /// The model's input shape differs from the dataset's images.
    #[error("model takes {model} inputs, {dataset} has {images} images")]
    InputShape {
        /// The model's input, `CxHxW`.
        model: String,
        /// The dataset (`dataset mnist-subset`, or `the test set`).
        dataset: String,
        /// The images' shape, `CxHxW`.
        images: String,
    },
    /// The dataset has labels the model cannot output.
    #[error("model has {model} classes, {dataset} has {classes}")]
    Classes {
        /// The model's output classes.
        model: usize,
        /// The dataset (`dataset mnist`, or `the test set`).
        dataset: String,
        /// The dataset's classes.
        classes: usize,
    },
    /// The run's `config.toml` could not be read.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The dataset could not be loaded.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The model file is not a valid `snn-core` model.
    #[error("{path}: {error}")]
    Model {
        /// The model file.
        path: PathBuf,
        /// What `snn-core` found.
        error: snn_core::FormatError,
    },
    /// A file could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        error: std::io::Error,
    },
    /// `analysis.json` could not be encoded.
    #[error("{path}: {error}")]
    Json {
        /// The file.
        path: PathBuf,
        /// What the encoder said.
        error: serde_json::Error,
    },
    /// `--encoding` does not fit the model.
    #[error("{path}: {reason}")]
    Encoding {
        /// The model file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A plot could not be drawn or written.
    #[error(transparent)]
    Plot(#[from] PlotError),
    /// `snn-core` refused an inference (only reachable if the checks above miss one).
    #[error("inference: {0}")]
    Run(RunError),
}

/// Checks that `model` can run on `data`: images (not events), same input shape,
/// enough classes, at least one image. `dataset` names the data in messages (`dataset mnist`).
///
/// # Errors
/// [`AnalyzeError::NoImages`], [`AnalyzeError::InputShape`] or
/// [`AnalyzeError::Classes`].
pub fn check_fit(model: &Model<'_>, data: &Dataset, dataset: &str) -> Result<(), AnalyzeError> {
    if data.events.is_some() {
        return Err(AnalyzeError::NoImages {
            reason: format!("{dataset} holds event recordings, and the analysis runs images"),
        });
    }
    let s = model.input_shape();
    let fits = (
        usize::from(s.channels),
        usize::from(s.height),
        usize::from(s.width),
    ) == (data.channels, data.height, data.width);
    if !fits {
        return Err(AnalyzeError::InputShape {
            model: format!("{}x{}x{}", s.channels, s.height, s.width),
            dataset: dataset.to_string(),
            images: data.shape_name(),
        });
    }
    if model.classes() < data.classes {
        return Err(AnalyzeError::Classes {
            model: model.classes(),
            dataset: dataset.to_string(),
            classes: data.classes,
        });
    }
    if data.is_empty() {
        return Err(AnalyzeError::NoImages {
            reason: format!("{dataset} has none"),
        });
    }
    Ok(())
}

/// Energy of one 32-bit float multiply-accumulate at 45 nm (3.7 + 0.9 pJ).
pub const E_MAC_PJ: f64 = 4.6;
/// Energy of one 32-bit float accumulate at 45 nm.
pub const E_AC_PJ: f64 = 0.9;

/// One layer's row of the analysis.
#[derive(Debug, Clone, Serialize)]
pub struct LayerRow {
    /// Layer index in the model.
    pub layer: usize,
    /// Kind (`conv`, `pool`, `dense`, `residual`, `output`).
    pub kind: String,
    /// Output shape `C x H x W`.
    pub shape: String,
    /// Neurons of the layer's spiking populations.
    pub neurons: usize,
    /// Average spikes per neuron over the window (0 for the output layer).
    pub spikes_per_neuron: f64,
    /// Average synaptic operations (accumulates) per inference: the SNN's `#AC`.
    pub ac: f64,
    /// The same layer's multiply-accumulates in a non-spiking network over one
    /// forward pass: `#MAC`.
    pub mac: f64,
}

/// The whole analysis.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// Images analysed.
    pub images: usize,
    /// Time steps per inference.
    pub steps: u32,
    /// Per-layer rows.
    pub layers: Vec<LayerRow>,
    /// Total `#AC` per inference.
    pub total_ac: f64,
    /// Total `#MAC` per inference.
    pub total_mac: f64,
    /// `E_SNN / E_ANN = (#AC * 0.9) / (#MAC * 4.6)`.
    pub energy_ratio: f64,
    /// Fixed-point accuracy (percent) on the analysed images.
    pub accuracy: f64,
}

impl Analysis {
    /// The caption of the operations plot: the window and the energy ratio.
    pub fn ops_title(&self) -> String {
        format!(
            "Synaptic operations per inference (T = {}): E_SNN / E_ANN = {:.3}",
            self.steps, self.energy_ratio
        )
    }

    /// The groups of the operations plot, one per layer.
    pub fn ops_bars(&self) -> Vec<plots::OpsBar> {
        self.layers
            .iter()
            .enumerate()
            .map(|(i, l)| plots::OpsBar {
                label: format!("{i} {}", l.kind),
                ac: l.ac,
                mac: l.mac,
            })
            .collect()
    }
}

fn kind_name(k: LayerKind) -> &'static str {
    match k {
        LayerKind::Conv => "conv",
        LayerKind::Pool => "pool",
        LayerKind::Dense => "dense",
        LayerKind::Residual => "residual",
        LayerKind::Output => "output",
    }
}

/// Per-image results needed by the analysis: (correct, spikes per population,
/// events per layer).
type ImageResult = (bool, Vec<u32>, Vec<u64>);

fn run_all(model: &Model<'_>, data: &Dataset, steps: u32) -> Result<Vec<ImageResult>, RunError> {
    let idx: Vec<usize> = (0..data.len()).collect();
    let chunks = par::map_chunks(&idx, 8, |_, chunk| {
        let mut state = vec![0u32; model.state_words()];
        chunk
            .iter()
            .map(|&i| {
                let r = model.classify(&mut state, data.image(i), eval_seed(i), steps)?;
                Ok((
                    usize::from(r.class) == usize::from(data.labels[i]),
                    r.spikes.to_vec(),
                    r.synaptic_events.to_vec(),
                ))
            })
            .collect::<Result<Vec<_>, RunError>>()
    });
    let mut out = Vec::with_capacity(data.len());
    for c in chunks {
        out.extend(c?);
    }
    Ok(out)
}

/// Analyses `model` on `data` with `steps` time steps (evaluation seeds).
///
/// # Errors
/// [`AnalyzeError::ZeroSteps`], or the errors of [`check_fit`].
pub fn analyze(model: &Model<'_>, data: &Dataset, steps: u32) -> Result<Analysis, AnalyzeError> {
    if steps == 0 {
        return Err(AnalyzeError::ZeroSteps {
            option: "time steps",
        });
    }
    check_fit(model, data, "the test set")?;
    let results = run_all(model, data, steps).map_err(AnalyzeError::Run)?;
    let n = results.len().max(1) as f64;
    let mut pop_spikes = vec![0f64; model.populations()];
    let mut events = vec![0f64; model.layers().len()];
    let mut correct = 0usize;
    for (ok, spikes, ev) in &results {
        correct += usize::from(*ok);
        for (a, &s) in pop_spikes.iter_mut().zip(spikes) {
            *a += f64::from(s);
        }
        for (a, &e) in events.iter_mut().zip(ev) {
            *a += e as f64;
        }
    }
    let mut rows = Vec::new();
    let mut p = 0;
    for (l, info) in model.layers().enumerate() {
        let pops = usize::from(info.populations);
        let spikes: f64 = pop_spikes[p..p + pops].iter().sum();
        let neurons = info.neurons;
        rows.push(LayerRow {
            layer: l,
            kind: kind_name(info.kind).into(),
            shape: format!(
                "{}x{}x{}",
                info.output.channels, info.output.height, info.output.width
            ),
            neurons,
            spikes_per_neuron: if neurons > 0 {
                spikes / n / neurons as f64
            } else {
                0.0
            },
            ac: events[l] / n,
            mac: info.macs as f64,
        });
        p += pops;
    }
    let total_ac: f64 = rows.iter().map(|r| r.ac).sum();
    let total_mac: f64 = rows.iter().map(|r| r.mac).sum();
    Ok(Analysis {
        images: results.len(),
        steps,
        layers: rows,
        total_ac,
        total_mac,
        energy_ratio: total_ac * E_AC_PJ / (total_mac * E_MAC_PJ).max(f64::MIN_POSITIVE),
        accuracy: 100.0 * correct as f64 / n,
    })
}

/// Fixed-point accuracy (percent) for each number of time steps in `steps`.
///
/// # Errors
/// [`AnalyzeError::ZeroSteps`] when an entry of `steps` is 0, or the errors of
/// [`check_fit`].
pub fn accuracy_vs_steps(
    model: &Model<'_>,
    data: &Dataset,
    steps: &[u32],
) -> Result<Vec<(u32, f64)>, AnalyzeError> {
    if steps.contains(&0) {
        return Err(AnalyzeError::ZeroSteps {
            option: "every number of time steps",
        });
    }
    check_fit(model, data, "the test set")?;
    steps
        .iter()
        .map(|&t| {
            let results = run_all(model, data, t).map_err(AnalyzeError::Run)?;
            let ok = results.iter().filter(|r| r.0).count();
            Ok((t, 100.0 * ok as f64 / data.len().max(1) as f64))
        })
        .collect()
}

/// The spikes of one input through every population: `(step, neuron)` pairs per
/// population, recorded step by step with `snn-core`'s session API.
pub fn raster(model: &Model<'_>, image: &[u8], seed: u64, steps: u32) -> Vec<Vec<(u32, u32)>> {
    let mut state = vec![0u32; model.state_words()];
    let mut out = vec![Vec::new(); model.populations()];
    let Ok(mut session) = model.session(&mut state, image, seed) else {
        return out;
    };
    for t in 0..steps {
        session.step();
        for (p, points) in out.iter_mut().enumerate() {
            if let Some(bits) = session.population_spikes(p) {
                snn_core::layer::for_each_spike(bits, |i| points.push((t, i as u32)));
            }
        }
    }
    out
}

/// Prints the analysis as a table.
pub fn print(a: &Analysis) {
    println!(
        "{:>3} {:<9} {:>12} {:>9} {:>14} {:>14} {:>10}",
        "#", "layer", "shape", "neurons", "spikes/neuron", "#AC", "#MAC"
    );
    for l in &a.layers {
        println!(
            "{:>3} {:<9} {:>12} {:>9} {:>14.3} {:>14.0} {:>10.0}",
            l.layer, l.kind, l.shape, l.neurons, l.spikes_per_neuron, l.ac, l.mac
        );
    }
    println!(
        "total #AC {:.0}, #MAC {:.0}; E_SNN / E_ANN = (#AC x {E_AC_PJ} pJ) / (#MAC x {E_MAC_PJ} pJ) = {:.3}; accuracy {:.2}% on {} images at T = {}",
        a.total_ac, a.total_mac, a.energy_ratio, a.accuracy, a.images, a.steps
    );
}

/// What `snn-train analyze` was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyzeOptions {
    /// Run directory: its `model.snn`, the dataset and evaluation steps of its
    /// `config.toml`, and its `metrics.jsonl`; outputs go there by default.
    pub run: Option<PathBuf>,
    /// A model file instead of a run (with `dataset`).
    pub model: Option<PathBuf>,
    /// Dataset of `model` (default: the bundled MNIST subset); ignored with `run`.
    pub dataset: Option<DatasetKind>,
    /// Directory of the dataset's files (else the run's, else `SNN_DATA_DIR`).
    pub data_dir: Option<PathBuf>,
    /// Test images to analyse (the first ones); at least 1.
    pub images: usize,
    /// Time steps (default: the run's evaluation steps, else 20); at least 1.
    pub timesteps: Option<u32>,
    /// Time steps of the accuracy curve; each at least 1, not empty.
    pub curve: Vec<u32>,
    /// Output directory (default: the run directory, else `.`).
    pub out: Option<PathBuf>,
    /// Score the model with this rate encoding instead of its own (`rate:G`, `paper`).
    pub encoding: Option<EncodingSpec>,
}

impl Default for AnalyzeOptions {
    /// The command line's defaults: 500 images, the curve at 5 to 100 steps.
    fn default() -> Self {
        Self {
            run: None,
            model: None,
            dataset: None,
            data_dir: None,
            images: 500,
            timesteps: None,
            curve: vec![5, 10, 15, 20, 30, 40, 60, 80, 100],
            out: None,
            encoding: None,
        }
    }
}

/// What [`run`] computed and wrote.
#[derive(Debug, Clone)]
pub struct AnalyzeOutput {
    /// The analysis.
    pub analysis: Analysis,
    /// Fixed-point accuracy (percent) per number of time steps.
    pub curve: Vec<(u32, f64)>,
    /// Early exit at the analysis' time steps.
    pub early_exit: early_exit::EarlyExitReport,
    /// The model at its stored deployment setting, if it has one.
    pub deployed: Option<early_exit::Deployed>,
    /// The directory written to.
    pub out: PathBuf,
    /// The files written there, in order.
    pub written: Vec<&'static str>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> AnalyzeError + '_ {
    move |error| AnalyzeError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// The model file at `path`, re-encoded with `encoding` (for `dataset`) when given.
fn read_model(
    path: &Path,
    dataset: DatasetKind,
    encoding: Option<EncodingSpec>,
) -> Result<Vec<u8>, AnalyzeError> {
    let blob = std::fs::read(path).map_err(io_err(path))?;
    let Some(spec) = encoding else {
        return Ok(blob);
    };
    let enc = dataset
        .encoding_with(spec)
        .map_err(|reason| AnalyzeError::NoImages { reason })?;
    crate::io::upgrade::reencode(&blob, &enc).map_err(|e| AnalyzeError::Encoding {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// The `snn-train analyze` command: checks the options, loads the model and the test
/// split, checks they fit, analyses, and writes `analysis.json`, `ac_vs_mac.png`,
/// `accuracy_vs_steps.png`, `early_exit.png`, `raster.png` (and, for a run with `metrics.jsonl`, the
/// training curves) into the output directory.
///
/// # Errors
/// [`AnalyzeError`] naming the bad option, file, or the mismatch between model and
/// dataset.
pub fn run(opts: &AnalyzeOptions) -> Result<AnalyzeOutput, AnalyzeError> {
    if opts.timesteps == Some(0) {
        return Err(AnalyzeError::ZeroSteps {
            option: "--timesteps",
        });
    }
    if opts.curve.is_empty() {
        return Err(AnalyzeError::EmptyCurve);
    }
    if opts.curve.contains(&0) {
        return Err(AnalyzeError::ZeroSteps {
            option: "every --curve value",
        });
    }
    if opts.images == 0 {
        return Err(AnalyzeError::NoImages {
            reason: "--images must be at least 1".into(),
        });
    }
    let (model_path, dataset, data_dir, steps, out) = match (&opts.run, &opts.model) {
        (Some(run), _) => {
            if !run.is_dir() {
                return Err(AnalyzeError::NoRun { path: run.clone() });
            }
            let cfg = TrainConfig::from_file(&run.join("config.toml"))?;
            let steps = match opts.timesteps {
                Some(t) => t,
                None => u32::try_from(cfg.eval_steps()).unwrap_or(u32::MAX),
            };
            (
                run.join("model.snn"),
                cfg.dataset(),
                opts.data_dir
                    .clone()
                    .or_else(|| cfg.data_dir().map(Path::to_path_buf)),
                steps,
                run.clone(),
            )
        }
        (None, Some(m)) => (
            m.clone(),
            opts.dataset.unwrap_or(DatasetKind::MnistSubset),
            opts.data_dir.clone(),
            opts.timesteps.or_else(|| stored_steps(m)).unwrap_or(20),
            PathBuf::from("."),
        ),
        (None, None) => return Err(AnalyzeError::NoModel),
    };
    if steps == 0 {
        return Err(AnalyzeError::ZeroSteps {
            option: "the run's evaluation time steps",
        });
    }
    let out = opts.out.clone().unwrap_or(out);
    let blob = read_model(&model_path, dataset, opts.encoding)?;
    let model = Model::from_bytes(&blob).map_err(|error| AnalyzeError::Model {
        path: model_path.clone(),
        error,
    })?;
    dataset.require_images("snn-train analyze")?;
    let dir = data::data_dir(dataset, data_dir.as_deref())?;
    let (mut train, mut test) = data::load(dataset, &dir)?;
    test.truncate(opts.images);
    train.truncate(opts.images);
    check_fit(&model, &test, &format!("dataset {}", dataset.name()))?;
    std::fs::create_dir_all(&out).map_err(io_err(&out))?;

    let report = analyze(&model, &test, steps)?;
    let curve = accuracy_vs_steps(&model, &test, &opts.curve)?;
    let calibration = (!train.is_empty()).then_some(&train);
    let exits = early_exit::report(&model, &test, calibration, steps).map_err(AnalyzeError::Run)?;
    let deployed = early_exit::deployed(&model, &test).map_err(AnalyzeError::Run)?;
    let json = out.join("analysis.json");
    let doc = serde_json::json!({
        "analysis": report,
        "accuracy_vs_steps": curve,
        "early_exit": exits,
        "deployed": deployed,
    });
    let text = serde_json::to_string_pretty(&doc).map_err(|error| AnalyzeError::Json {
        path: json.clone(),
        error,
    })?;
    crate::exec::files::write_atomic(&json, text.as_bytes()).map_err(io_err(&json))?;
    plots::ac_vs_mac(
        &report.ops_title(),
        &report.ops_bars(),
        &out.join("ac_vs_mac.png"),
    )?;
    let pts: Vec<(f64, f64)> = curve.iter().map(|&(t, acc)| (f64::from(t), acc)).collect();
    plots::lines(
        "Fixed-point accuracy against time steps",
        "time steps T",
        "test accuracy (%)",
        &[("snn-core", pts)],
        &out.join("accuracy_vs_steps.png"),
    )?;
    early_exit_plot(&curve, &exits, &out.join("early_exit.png"))?;
    let spikes = raster(&model, test.image(0), eval_seed(0), steps);
    let (sizes, names) = population_labels(&model, &report);
    plots::raster(&spikes, &sizes, &names, steps, &out.join("raster.png"))?;
    let mut written = vec![
        "analysis.json",
        "ac_vs_mac.png",
        "accuracy_vs_steps.png",
        "early_exit.png",
        "raster.png",
    ];
    if let Some(run) = &opts.run {
        written.extend(training_curves(run, &out)?);
    }
    Ok(AnalyzeOutput {
        analysis: report,
        curve,
        early_exit: exits,
        deployed,
        out,
        written,
    })
}

/// The time steps a model file stores as its deployment (`None` when the file cannot
/// be read or has none; the main path reports those errors).
fn stored_steps(path: &Path) -> Option<u32> {
    let blob = std::fs::read(path).ok()?;
    let steps = Model::from_bytes(&blob).ok()?.deployment()?.steps;
    Some(steps)
}

/// Accuracy against the mean number of time steps run: the fixed windows of the
/// accuracy curve, the exact early exit, the margin sweep and the calibrated margin.
fn early_exit_plot(
    curve: &[(u32, f64)],
    e: &early_exit::EarlyExitReport,
    path: &Path,
) -> Result<(), PlotError> {
    let xy = |p: &early_exit::ExitPoint| (p.mean_steps, p.accuracy);
    let fixed: Vec<(f64, f64)> = curve.iter().map(|&(t, a)| (f64::from(t), a)).collect();
    let mut margins: Vec<(f64, f64)> = e.margins.iter().map(xy).collect();
    margins.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut series = vec![
        ("fixed window T", fixed),
        ("margin rule (sweep)", margins),
        ("exact early exit", vec![xy(&e.exact)]),
    ];
    if let Some(c) = &e.calibrated {
        series.push(("calibrated margin", vec![xy(c)]));
    }
    plots::lines(
        &format!("Accuracy against mean time steps (window T = {})", e.steps),
        "mean time steps run",
        "test accuracy (%)",
        &series,
        path,
    )
}

/// Size and name of every spiking population, in the order of the raster.
fn population_labels(model: &Model<'_>, report: &Analysis) -> (Vec<usize>, Vec<String>) {
    let mut sizes = Vec::new();
    let mut names = Vec::new();
    for (info, row) in model.layers().zip(&report.layers) {
        match info.kind {
            LayerKind::Residual => {
                sizes.extend([
                    info.neurons.saturating_sub(info.output.len()),
                    info.output.len(),
                ]);
                names.extend([
                    format!("layer {} residual conv1", row.layer),
                    format!("layer {} residual conv2", row.layer),
                ]);
            }
            LayerKind::Output => {}
            _ => {
                sizes.push(info.neurons);
                names.push(format!("layer {} {} {}", row.layer, row.kind, row.shape));
            }
        }
    }
    // The raster has one panel per population; keep the labels exactly that long.
    sizes.resize(model.populations(), 0);
    names.resize(model.populations(), String::new());
    (sizes, names)
}

/// Plots a run's `metrics.jsonl`, when it has one; returns the files it wrote.
fn training_curves(run: &Path, out: &Path) -> Result<Vec<&'static str>, AnalyzeError> {
    let Ok(text) = std::fs::read_to_string(run.join("metrics.jsonl")) else {
        return Ok(Vec::new());
    };
    let mut written = vec!["training_accuracy.png", "training_loss.png"];
    let rows: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let col = |k: &str| -> Vec<(f64, f64)> {
        rows.iter()
            .filter_map(|r| Some((r["epoch"].as_f64()?, r[k].as_f64()?)))
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect()
    };
    plots::lines(
        "Training curves",
        "epoch",
        "accuracy (%)",
        &[
            ("train", col("train_acc")),
            ("test (float)", col("test_acc")),
        ],
        &out.join("training_accuracy.png"),
    )?;
    plots::lines(
        "Training loss",
        "epoch",
        "loss per sample",
        &[
            ("summed squared error", col("train_loss")),
            ("cross-entropy", col("train_ce")),
        ],
        &out.join("training_loss.png"),
    )?;
    // Activity panels: per population, train (epoch average) and test pass.
    let activity = |field: &str| -> Vec<(String, Vec<(f64, f64)>)> {
        let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
        for (split, key) in [("train", "train_activity"), ("test", "test_activity")] {
            for r in &rows {
                let (Some(epoch), Some(pops)) = (r["epoch"].as_f64(), r[key].as_array()) else {
                    continue;
                };
                for a in pops {
                    let (Some(name), Some(v)) = (a["name"].as_str(), a[field].as_f64()) else {
                        continue;
                    };
                    let label = format!("{name} ({split})");
                    match series.iter_mut().find(|(l, _)| *l == label) {
                        Some((_, pts)) => pts.push((epoch, v)),
                        None => series.push((label, vec![(epoch, v)])),
                    }
                }
            }
        }
        series
    };
    let panels = [
        (
            "rate",
            "Spiking activity",
            "spikes per neuron per step",
            "training_activity.png",
        ),
        (
            "silent",
            "Silent neurons",
            "fraction silent per sample",
            "training_silent.png",
        ),
    ];
    for (field, title, y, file) in panels {
        let series = activity(field);
        if series.is_empty() {
            continue;
        }
        let refs: Vec<(&str, Vec<(f64, f64)>)> = series
            .iter()
            .map(|(l, p)| (l.as_str(), p.clone()))
            .collect();
        plots::lines(title, "epoch", y, &refs, &out.join(file))?;
        written.push(file);
    }
    Ok(written)
}
