//! The flags of each `snn-train` command (clap derive), and the value enums of the
//! flags that are not library types.

use std::path::PathBuf;

use clap::Args;
use snn_train::data::{DatasetKind, EncodingSpec};
use snn_train::model::spec::Preset;
use snn_train::sim::grad::GradForm;

/// A library enum from its configuration name, the serde name the TOML files use
/// (`mnist-subset`, `lenet`, `aggregate`, ...); an unknown name lists the known ones.
fn named<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, String> {
    use serde::de::value::{Error, StrDeserializer};
    T::deserialize(StrDeserializer::<Error>::new(s)).map_err(|e| e.to_string())
}

#[cfg(feature = "nir")]
#[derive(Debug, Args)]
pub(crate) struct ImportNirArgs {
    /// The NIR file (HDF5).
    pub(crate) file: PathBuf,
    /// The model file to write.
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Time step in seconds (default: the file's `dt` metadata, else 1e-4, snnTorch's).
    #[arg(long)]
    pub(crate) dt: Option<f64>,
    /// Reset of the spiking neurons (default: the file's `snn_reset` metadata, else
    /// hard, NIR's `v_reset`; snnTorch's default neurons reset by subtraction).
    #[arg(long, value_enum)]
    pub(crate) reset: Option<ResetArg>,
    /// Dataset whose encoder the model uses and that scores it (default: the file's
    /// encoder metadata, else MNIST's; scored on the bundled MNIST subset when 1x28x28). [mnist-subset, mnist, fashion-mnist, cifar10, svhn]
    #[arg(long, value_parser = named::<DatasetKind>)]
    pub(crate) dataset: Option<DatasetKind>,
    /// The input encoding the network was trained with, stored in the model:
    /// `paper` (the dataset's), or `rate:G`, spike probability G x pixel / 255
    /// (snnTorch's `spikegen.rate` is rate:1; Norse's `PoissonEncoder(f_max)` is
    /// rate:G with G = f_max x dt). Default: the dataset's, else the file's metadata.
    #[arg(long)]
    pub(crate) encoding: Option<EncodingSpec>,
    /// Directory of the dataset's files (else SNN_DATA_DIR).
    #[arg(long)]
    pub(crate) data_dir: Option<PathBuf>,
    /// Time steps the network was trained for: stored in the model as its deployment
    /// setting (what `qemu`, `flash`, `analyze --model` and the firmware run) and used
    /// for the score (default: not stored, scored at 20).
    #[arg(long)]
    pub(crate) timesteps: Option<u32>,
    /// Test images scored (0: none).
    #[arg(long, default_value_t = 2000)]
    pub(crate) images: usize,
}

#[cfg(feature = "nir")]
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum ResetArg {
    /// `v = 0` after a spike (NIR's `v_reset = 0`).
    Hard,
    /// `v -= v_threshold` after a spike.
    Subtract,
}

#[cfg(feature = "nir")]
#[derive(Debug, Args)]
pub(crate) struct ExportNirArgs {
    /// A model file, or a run directory (its model.snn).
    pub(crate) source: PathBuf,
    /// The NIR file to write.
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Time step in seconds the graph's time constants are written for.
    #[arg(long, default_value_t = snn_train::io::nir::DEFAULT_DT)]
    pub(crate) dt: f64,
}

#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Model for the inference measurement (default: models/lenet-mnist-subset.snn).
    #[arg(long)]
    pub(crate) model: Option<PathBuf>,
    /// Time steps to measure.
    #[arg(long, value_delimiter = ',', default_value = "20,100")]
    pub(crate) timesteps: Vec<usize>,
    /// Mini-batches timed per training point.
    #[arg(long, default_value_t = 4)]
    pub(crate) batches: usize,
    /// Measure host inference only.
    #[arg(long)]
    pub(crate) inference_only: bool,
    /// Mini-batch size of the training points.
    #[arg(long, default_value_t = 64)]
    pub(crate) batch_size: usize,
    /// Dataset whose images are used (its shape sizes the network). [mnist-subset, mnist, fashion-mnist, cifar10, svhn]
    #[arg(long, value_parser = named::<DatasetKind>, default_value = "mnist-subset")]
    pub(crate) dataset: DatasetKind,
    /// Directory of the dataset's files (else SNN_DATA_DIR).
    #[arg(long)]
    pub(crate) data_dir: Option<PathBuf>,
    /// Test images for the inference measurement.
    #[arg(long, default_value_t = 200)]
    pub(crate) images: usize,
    /// Time training on this preset (fresh, calibrated weights) instead of LeNet's
    /// trained and fresh starts. [lenet, vgg7, vgg9, resnet7, resnet9, resnet11]
    #[arg(long, value_parser = named::<Preset>)]
    pub(crate) arch: Option<Preset>,
    /// JSON results file.
    #[arg(long, default_value = "target/bench/host.json")]
    pub(crate) out: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct AnalyzeArgs {
    /// Run directory (uses RUN/model.snn, its dataset and metrics.jsonl; plots go there).
    pub(crate) run: Option<PathBuf>,
    /// A model file instead of a run (with --dataset).
    #[arg(long, conflicts_with = "run")]
    pub(crate) model: Option<PathBuf>,
    /// Dataset of --model (default: the bundled MNIST subset). [mnist-subset, mnist, fashion-mnist, cifar10, svhn]
    #[arg(long, value_parser = named::<DatasetKind>)]
    pub(crate) dataset: Option<DatasetKind>,
    /// Score the model with this input encoding instead of its own: `paper` (the
    /// dataset's) or `rate:G` (spike probability G x pixel / 255; snnTorch's
    /// `spikegen.rate` is rate:1).
    #[arg(long)]
    pub(crate) encoding: Option<EncodingSpec>,
    /// Directory of the dataset's files (else SNN_DATA_DIR).
    #[arg(long)]
    pub(crate) data_dir: Option<PathBuf>,
    /// Test images to analyse.
    #[arg(long, default_value_t = 500)]
    pub(crate) images: usize,
    /// Time steps (default: the run's evaluation steps, else the model's stored
    /// deployment, else 20).
    #[arg(long)]
    pub(crate) timesteps: Option<u32>,
    /// Time steps of the accuracy curve.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "5,10,15,20,30,40,60,80,100"
    )]
    pub(crate) curve: Vec<u32>,
    /// Where to write analysis.json and the PNGs (default: the run directory, else .).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct TrainArgs {
    /// TOML configuration (see configs/); flags below override it.
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Dataset. [mnist-subset, mnist, fashion-mnist, cifar10, svhn, nmnist, dvs-gesture]
    #[arg(long, value_parser = named::<DatasetKind>)]
    pub(crate) dataset: Option<DatasetKind>,
    /// Directory of the dataset's files (else SNN_DATA_DIR).
    #[arg(long)]
    pub(crate) data_dir: Option<PathBuf>,
    /// Built-in architecture. [lenet, vgg7, vgg9, resnet7, resnet9, resnet11]
    #[arg(long, value_parser = named::<Preset>)]
    pub(crate) arch: Option<Preset>,
    /// Epochs.
    #[arg(long)]
    pub(crate) epochs: Option<usize>,
    /// Time steps per sample.
    #[arg(long)]
    pub(crate) timesteps: Option<usize>,
    /// Backward form. [code, aggregate]
    #[arg(long, value_parser = named::<GradForm>)]
    pub(crate) grad: Option<GradForm>,
    /// Worker threads (0 = all cores).
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    /// Seed.
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Use only the first N training images.
    #[arg(long)]
    pub(crate) train_limit: Option<usize>,
    /// Use only the first N test images.
    #[arg(long)]
    pub(crate) test_limit: Option<usize>,
    /// Base learning rate.
    #[arg(long)]
    pub(crate) lr: Option<f32>,
    /// Activity-regulariser weights (`optim.activity`), comma-separated: one for every
    /// hidden population, or one each.
    #[arg(long, value_delimiter = ',')]
    pub(crate) activity: Option<Vec<f32>>,
    /// Quantisation-aware fine-tuning in the last N epochs (`optim.qat_epochs`).
    #[arg(long)]
    pub(crate) qat_epochs: Option<usize>,
    /// Continue the run in this directory from its checkpoint_latest; only --epochs,
    /// --lr, --activity, --qat-epochs and --threads may change with it.
    #[arg(long, conflicts_with_all = ["config", "dataset", "data_dir", "arch", "timesteps", "grad", "seed", "train_limit", "test_limit", "out"])]
    pub(crate) resume: Option<PathBuf>,
    /// Run directory (default: runs/<dataset>-<arch>-<time>).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub(crate) quiet: bool,
}

#[derive(Debug, Args)]
pub(crate) struct EvalArgs {
    /// Run directory.
    pub(crate) run: PathBuf,
    /// Use checkpoint_latest instead of checkpoint_best.
    #[arg(long)]
    pub(crate) latest: bool,
    /// Time steps (default: the run's).
    #[arg(long)]
    pub(crate) timesteps: Option<usize>,
    /// Input encoding instead of the run's: `paper`, `rate:G` or `analog`.
    #[arg(long)]
    pub(crate) encoding: Option<EncodingSpec>,
    /// Directory of the dataset's files (else the run's, else SNN_DATA_DIR).
    #[arg(long)]
    pub(crate) data_dir: Option<PathBuf>,
}

/// Membrane width of an exported model.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum MembraneArg {
    /// 16 bits when every threshold fits, else 32.
    Auto,
    /// 16-bit membranes (half the state memory, the Cortex-M DSP kernels).
    I16,
    /// 32-bit membranes.
    I32,
}

impl MembraneArg {
    pub(crate) fn choice(self) -> Option<snn_core::format::Membranes> {
        use snn_core::format::Membranes;
        match self {
            Self::Auto => None,
            Self::I16 => Some(Membranes::I16),
            Self::I32 => Some(Membranes::I32),
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct ParetoArgs {
    /// JSON list of device points (model, steps, early_exit, instructions, ram).
    #[arg(long)]
    pub(crate) device: PathBuf,
    /// Dataset of the models. [mnist-subset, mnist, fashion-mnist, cifar10, svhn]
    #[arg(long, value_parser = named::<DatasetKind>, default_value = "mnist")]
    pub(crate) dataset: DatasetKind,
    /// Directory of the dataset's files (else SNN_DATA_DIR).
    #[arg(long)]
    pub(crate) data_dir: Option<PathBuf>,
    /// Test images (at most the test set).
    #[arg(long, default_value_t = 10_000)]
    pub(crate) images: usize,
    /// Where to write pareto.md, pareto.json and pareto.png.
    #[arg(long)]
    pub(crate) out: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct UpgradeArgs {
    /// Model file of format version 1, 2 or 3 (or 4 with --steps).
    pub(crate) model: PathBuf,
    /// Output file (written atomically).
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Membrane width of the upgraded model (auto: a version-2 model keeps its own).
    #[arg(long, value_enum, default_value = "auto")]
    pub(crate) membranes: MembraneArg,
    /// Time steps to store as the model's deployment setting.
    #[arg(long)]
    pub(crate) steps: Option<u32>,
    /// Early-exit rule to store with `--steps`: never, exact or margin:N.
    #[arg(long, requires = "steps")]
    pub(crate) early_exit: Option<snn_core::EarlyExit>,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Run directory.
    pub(crate) run: PathBuf,
    /// Output file (default: RUN/model.snn).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Use checkpoint_latest instead of checkpoint_best.
    #[arg(long)]
    pub(crate) latest: bool,
    /// Directory of the dataset's files (else the run's, else SNN_DATA_DIR).
    #[arg(long)]
    pub(crate) data_dir: Option<PathBuf>,
    /// Membrane width of the model.
    #[arg(long, value_enum, default_value = "auto")]
    pub(crate) membranes: MembraneArg,
}
