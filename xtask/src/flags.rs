//! The whole `cargo xtask` command line, declared in one place (clap derive).

use clap::{Args, Parser, Subcommand};

use crate::cores::Core;

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
    Train(TrainArgs),
    /// Evaluate a run's float network: `cargo xtask eval RUN_DIR`.
    Eval(PassArgs),
    /// Export a run to the snn-core format and compare float and fixed point:
    /// `cargo xtask export RUN_DIR [--out FILE]`.
    Export(PassArgs),
    /// Download a dataset's official files and check their checksums:
    /// mnist, fashion-mnist, cifar10 or svhn.
    FetchData(FetchArgs),
    /// Run a model in QEMU (Cortex-M4F, or --core m7|m33|m0|netduino) and check it bit
    /// for bit against the host.
    Qemu(QemuArgs),
    /// Flash and RAM of the board firmware (or --netduino: the STM32F405 build) by
    /// section, against the STM32F4 budget.
    Size(SizeArgs),
    /// Build the board firmware and run it on a board with probe-rs.
    Flash(FlashArgs),
    /// Training and inference throughput, QEMU instruction counts: one table, one JSON.
    Bench(BenchArgs),
    /// Accuracy against instructions per inference on the Cortex-M4F for the committed
    /// models and settings, beside the int8 CMSIS-NN networks: a table and a PNG in
    /// target/pareto (needs full MNIST: --data-dir or SNN_DATA_DIR).
    Pareto(ParetoArgs),
    /// The default recipe under variations (inverted images, momentum 0.9, batch 16 and
    /// 128, T = 10 and 50) must learn without a guard trip; reduced unless --full.
    Robustness(RobustnessArgs),
    /// The paper's inference analysis and plots: `cargo xtask analyze RUN_DIR` (or
    /// `--model M`); arguments go to `snn-train analyze`.
    Analyze(PassArgs),
    /// Translate a NIR graph into an snn-core model and score it:
    /// `cargo xtask import-nir FILE.nir --out model.snn [--dt S] [--reset hard|subtract]`
    /// (builds the trainer with its `nir` feature; arguments go to `snn-train import-nir`).
    ImportNir(PassArgs),
    /// Write a model (or a run's model.snn) as NIR:
    /// `cargo xtask export-nir RUN_DIR|model.snn --out model.nir [--dt S]`.
    ExportNir(PassArgs),
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Train data-parallel in N MPI processes on this machine (`mpirun -n N`; builds
    /// the trainer with its `mpi` feature). The weights equal a one-process run's.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub mpi: Option<u32>,
    /// Arguments passed to `snn-train train`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ParetoArgs {
    /// Directory of the MNIST files (else SNN_DATA_DIR).
    #[arg(long)]
    pub data_dir: Option<std::path::PathBuf>,
    /// Test images to score each setting on.
    #[arg(long, default_value_t = 10_000)]
    pub images: usize,
}

#[derive(Debug, Args)]
pub struct RobustnessArgs {
    /// The whole default recipe per cell (6 epochs, 10,000 images, threshold 90%)
    /// instead of the reduced form CI runs.
    #[arg(long)]
    pub full: bool,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The reduced form CI runs (T = 20 only, fewer batches and inputs; early exit on
    /// the m4 only).
    #[arg(long)]
    pub quick: bool,
    /// The margin rule measured next to the exact early exit (score units per
    /// remaining step). 128 is what `snn-train analyze` calibrates for the default
    /// model (the class of the full window on 99.9% of 500 training images).
    #[arg(long, default_value_t = 128)]
    pub margin: u32,
}

#[derive(Debug, Args, Clone)]
pub struct QemuArgs {
    /// The core and QEMU machine: m4 (mps2-an386), m7 (mps2-an500), m33 (mps2-an505),
    /// m0 (microbit; golden model by default), netduino (netduinoplus2, STM32F405,
    /// USART output). Not used by `flash`.
    #[arg(long, value_enum, default_value_t = Core::M4)]
    pub core: Core,
    /// Model file (default: models/lenet-mnist-subset.snn; for m0 snn-core's golden
    /// model, snn-core/tests/golden/model.snn).
    #[arg(long)]
    pub model: Option<std::path::PathBuf>,
    /// Raw input images (HWC bytes); default: the bundled MNIST test images (for m0's
    /// golden model: snn-core/tests/golden/inputs.bin).
    #[arg(long)]
    pub inputs: Option<std::path::PathBuf>,
    /// Number of inputs (at least 1).
    #[arg(long, default_value_t = 20, value_parser = samples)]
    pub samples: usize,
    /// Time steps per inference (at least 1; default: the model's stored deployment,
    /// else 20).
    #[arg(long, value_parser = steps)]
    pub steps: Option<u32>,
    /// Encoder seed of the first input (input i uses seed + i, wrapping at 2^64: any
    /// u64 is valid).
    #[arg(long, default_value_t = 1000)]
    pub seed: u64,
    /// QEMU timeout in seconds (at least 1).
    #[arg(long, default_value_t = 300, value_parser = timeout)]
    pub timeout: u64,
    /// Early exit: `never`, `exact` (the class can no longer change: the full
    /// window's class) or `margin:N` (leader ahead by N score units per remaining
    /// step; calibrated, not exact). Host and device use the same rule. Default: the
    /// model's stored deployment, else `never`.
    #[arg(long, value_parser = early_exit)]
    pub early_exit: Option<snn_core::EarlyExit>,
    /// Fail unless 16-bit saturation changes the results: the host runs the same
    /// model with 32-bit membranes too and must get different ones (the saturating
    /// device case).
    #[arg(long)]
    pub expect_saturation: bool,
    /// Print where the instructions go, per function, from QEMU's translation-block log
    /// (slower: QEMU logs every block it runs; not for the USART board)
    #[arg(long)]
    pub profile: bool,
    /// Event recordings instead of images: an N-MNIST directory (`Train/`, `Test/`) or
    /// a DVS128 Gesture one (`trials_to_test.txt`); the first --samples test recordings
    /// are binned as in training (default `[data.events]`) and streamed to the device
    /// through semihosting, not embedded. Not for the USART board.
    #[arg(long, conflicts_with = "inputs")]
    pub events: Option<std::path::PathBuf>,
}

impl QemuArgs {
    /// The time steps and early-exit rule of a run of `model`: the flags where given,
    /// else the model's stored deployment, else 20 steps without early exit.
    pub fn setting(&self, model: &snn_core::Model<'_>) -> (u32, snn_core::EarlyExit) {
        let stored = model.deployment();
        (
            self.steps.or(stored.map(|d| d.steps)).unwrap_or(20),
            self.early_exit
                .or(stored.map(|d| d.early_exit))
                .unwrap_or_default(),
        )
    }
}

fn early_exit(s: &str) -> Result<snn_core::EarlyExit, String> {
    s.parse().map_err(|e| format!("{e}"))
}

/// A whole number of at least 1, else an error saying why `what` needs one.
fn at_least_one<T>(s: &str, why: &str) -> Result<T, String>
where
    T: std::str::FromStr + PartialEq + From<u8>,
    T::Err: std::fmt::Display,
{
    let v: T = s.parse().map_err(|e| format!("{e}"))?;
    if v == T::from(0) {
        return Err(why.to_string());
    }
    Ok(v)
}

fn samples(s: &str) -> Result<usize, String> {
    at_least_one(s, "at least one input is needed")
}

fn steps(s: &str) -> Result<u32, String> {
    at_least_one(s, "an inference needs at least one time step")
}

fn timeout(s: &str) -> Result<u64, String> {
    at_least_one(
        s,
        "the QEMU timeout must be at least 1 second (0 would mean no limit)",
    )
}

impl QemuArgs {
    /// The default run: the committed LeNet model on 20 bundled MNIST test images.
    pub fn default_lenet() -> Self {
        Self {
            core: Core::M4,
            model: None,
            inputs: None,
            samples: 20,
            steps: Some(20),
            seed: 1000,
            timeout: 300,
            early_exit: Some(snn_core::EarlyExit::Never),
            expect_saturation: false,
            profile: false,
            events: None,
        }
    }

    /// The committed event-input model on 20 N-MNIST-format sample recordings,
    /// streamed to the device (its stored deployment: T = 10, no early exit).
    pub fn events_sample() -> Self {
        let root = crate::project_root();
        Self {
            model: Some(root.join("models/nmnist-sample.snn")),
            events: Some(root.join("data/events-sample/nmnist")),
            steps: None,
            early_exit: None,
            ..Self::default_lenet()
        }
    }

    /// The golden model and inputs of snn-core (T = 16, seeds 1000..).
    pub fn golden() -> Self {
        let g = crate::project_root().join("snn-core/tests/golden");
        Self {
            core: Core::M4,
            model: Some(g.join("model.snn")),
            inputs: Some(g.join("inputs.bin")),
            samples: 24,
            steps: Some(16),
            seed: 1000,
            timeout: 120,
            early_exit: Some(snn_core::EarlyExit::Never),
            expect_saturation: false,
            profile: false,
            events: None,
        }
    }

    /// snn-core's golden network driven by the analog input current (T = 16).
    pub fn analog_golden() -> Self {
        let g = crate::project_root().join("snn-core/tests/golden");
        Self {
            model: Some(g.join("analog.snn")),
            inputs: Some(g.join("analog-inputs.bin")),
            ..Self::golden()
        }
    }

    /// snn-core's golden network with current-based neurons (a synaptic current in every
    /// population and in the output, T = 16).
    pub fn cuba_golden() -> Self {
        let g = crate::project_root().join("snn-core/tests/golden");
        Self {
            model: Some(g.join("cuba.snn")),
            ..Self::golden()
        }
    }

    /// snn-core's saturating device case (T = 100): 16-bit membranes saturate in every
    /// DSP kernel path, with signed input; the run fails unless saturation happened.
    pub fn saturating() -> Self {
        let g = crate::project_root().join("snn-core/tests/golden");
        Self {
            model: Some(g.join("saturating.snn")),
            inputs: Some(g.join("saturating-inputs.bin")),
            samples: 4,
            steps: Some(100),
            timeout: 300,
            expect_saturation: true,
            profile: false,
            ..Self::golden()
        }
    }
}

#[derive(Debug, Args)]
pub struct SizeArgs {
    /// Model file (default: models/lenet-mnist-subset.snn).
    #[arg(long)]
    pub model: Option<std::path::PathBuf>,
    /// The netduinoplus2 (STM32F405) build (`qemu --core netduino`) instead of the
    /// NUCLEO-F429ZI board's.
    #[arg(long)]
    pub netduino: bool,
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

#[cfg(test)]
mod tests {
    use clap::error::ErrorKind;
    use clap::Parser;

    use super::{Cmd, Xtask};

    fn parse(args: &[&str]) -> Result<Xtask, clap::Error> {
        Xtask::try_parse_from(std::iter::once("cargo xtask").chain(args.iter().copied()))
    }

    /// `args` fail with a validation error naming `flag` and saying `why`.
    fn rejected(args: &[&str], flag: &str, why: &str) {
        let e = parse(args).expect_err("must be rejected");
        assert_eq!(e.kind(), ErrorKind::ValueValidation, "{e}");
        let msg = e.to_string();
        assert!(msg.contains(flag), "{msg}");
        assert!(msg.contains(why), "{msg}");
        assert!(!msg.contains("panicked"), "{msg}");
    }

    #[test]
    fn zero_timeout_samples_and_steps_are_rejected() {
        rejected(
            &["qemu", "--timeout", "0"],
            "--timeout",
            "0 would mean no limit",
        );
        rejected(
            &["qemu", "--samples", "0"],
            "--samples",
            "at least one input",
        );
        rejected(
            &["qemu", "--steps", "0"],
            "--steps",
            "at least one time step",
        );
        rejected(
            &["flash", "--samples", "0"],
            "--samples",
            "at least one input",
        );
        rejected(&["qemu", "--timeout=-1"], "--timeout", "invalid digit");
        rejected(&["qemu", "--samples", "many"], "--samples", "invalid digit");
    }

    #[test]
    fn the_largest_seed_is_accepted() {
        let x = parse(&["qemu", "--seed", "18446744073709551615"]).unwrap();
        let Cmd::Qemu(q) = x.command else {
            panic!("parsed as {:?}", x.command)
        };
        assert_eq!(q.seed, u64::MAX);
        rejected(
            &["qemu", "--seed", "18446744073709551616"],
            "--seed",
            "too large",
        );
    }

    #[test]
    fn defaults_match_the_ci_runs() {
        let Cmd::Qemu(q) = parse(&["qemu"]).unwrap().command else {
            panic!()
        };
        let d = super::QemuArgs::default_lenet();
        assert_eq!(
            (q.samples, q.seed, q.timeout),
            (d.samples, d.seed, d.timeout)
        );
        // Without flags the default model's stored deployment decides: the CI setting.
        let blob = std::fs::read(crate::project_root().join("models/lenet-mnist-subset.snn"))
            .expect("the default model");
        let model = snn_core::Model::from_bytes(&blob).expect("a valid model");
        assert_eq!(q.setting(&model), d.setting(&model));
        let Cmd::Qemu(q) = parse(&["qemu", "--steps", "7"]).unwrap().command else {
            panic!()
        };
        assert_eq!(q.setting(&model).0, 7);
        assert!(parse(&["qemu", "--timeout", "1", "--samples", "1", "--steps", "1"]).is_ok());
    }
}
