//! The whole `cargo xtask` command line, declared in one place (clap derive).

use clap::{Args, Parser, Subcommand};

/// Tasks for the SNN toolkit: training, export, device runs, CI.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version, about)]
pub struct Xtask {
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run every check CI runs (format, lints, tests, embedded builds) and report all
    /// failures together.
    Ci(CiArgs),
    /// Train a network (default: LeNet on the bundled MNIST subset, then export and
    /// evaluate it in fixed point). Arguments go to `snn-train train`; see `--help`.
    Train(PassArgs),
    /// Evaluate a run's float network: `cargo xtask eval RUN_DIR`.
    Eval(PassArgs),
    /// Export a run to the snn-core format and compare float and fixed point:
    /// `cargo xtask export RUN_DIR [--out FILE]`.
    Export(PassArgs),
    /// Download a dataset's official files and check their checksums:
    /// mnist, fashion-mnist, cifar10 or svhn.
    FetchData(FetchArgs),
    /// Run a model in QEMU (Cortex-M4F) and check it bit for bit against the host.
    Qemu(QemuArgs),
    /// Flash and RAM of the board firmware by section, against the STM32F4 budget.
    Size(SizeArgs),
    /// Build the board firmware and run it on a board with probe-rs.
    Flash(FlashArgs),
    /// Training and inference throughput, QEMU instruction counts: one table, one JSON.
    Bench(BenchArgs),
    /// The paper's inference analysis and plots: `cargo xtask analyze RUN_DIR` (or
    /// `--model M`); arguments go to `snn-train analyze`.
    Analyze(PassArgs),
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The reduced form CI runs (T = 20 only, fewer batches and inputs).
    #[arg(long)]
    pub quick: bool,
}

#[derive(Debug, Args, Clone)]
pub struct QemuArgs {
    /// Model file (default: models/lenet-mnist-subset.snn).
    #[arg(long)]
    pub model: Option<std::path::PathBuf>,
    /// Raw input images (HWC bytes); default: the bundled MNIST test images.
    #[arg(long)]
    pub inputs: Option<std::path::PathBuf>,
    /// Number of inputs.
    #[arg(long, default_value_t = 20)]
    pub samples: usize,
    /// Time steps per inference.
    #[arg(long, default_value_t = 20)]
    pub steps: u32,
    /// Encoder seed of the first input (input i uses seed + i).
    #[arg(long, default_value_t = 1000)]
    pub seed: u64,
    /// QEMU timeout in seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
}

impl QemuArgs {
    /// The default run: the committed LeNet model on 20 bundled MNIST test images.
    pub fn default_lenet() -> Self {
        Self {
            model: None,
            inputs: None,
            samples: 20,
            steps: 20,
            seed: 1000,
            timeout: 300,
        }
    }

    /// The golden model and inputs of snn-core (T = 16, seeds 1000..).
    pub fn golden() -> Self {
        let g = crate::project_root().join("snn-core/tests/golden");
        Self {
            model: Some(g.join("model.snn")),
            inputs: Some(g.join("inputs.bin")),
            samples: 24,
            steps: 16,
            seed: 1000,
            timeout: 120,
        }
    }
}

#[derive(Debug, Args)]
pub struct SizeArgs {
    /// Model file (default: models/lenet-mnist-subset.snn).
    #[arg(long)]
    pub model: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct FlashArgs {
    /// probe-rs chip name.
    #[arg(long, default_value = "STM32F429ZITx")]
    pub chip: String,
    /// Model, inputs, steps and seed, as for `qemu` (the timeout is not used).
    #[command(flatten)]
    pub vectors: QemuArgs,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Dataset name.
    pub name: String,
    /// Base directory (default: SNN_DATA_DIR, else data/); files go to DIR/NAME.
    #[arg(long)]
    pub dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct PassArgs {
    /// Arguments passed to the trainer.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CiArgs {
    /// Skip the slow steps that need extra tooling (the thumb-target builds).
    #[arg(long)]
    pub quick: bool,
}
