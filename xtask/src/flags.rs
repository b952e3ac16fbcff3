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
