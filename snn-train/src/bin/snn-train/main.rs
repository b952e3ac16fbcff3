//! The `snn-train` command line: flags and dispatch only; every command's logic lives
//! in the library (`commands` turns flags into its options, `group` runs a command in
//! its MPI ranks or alone). `cargo xtask train` builds this binary in release mode and
//! runs it.
#![deny(unsafe_code)]

mod args;
mod commands;
mod group;
#[cfg(feature = "nir")]
mod nir;

use anyhow::Result;
use clap::{Parser, Subcommand};

use args::*;
use commands::*;
use group::in_group;

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
    /// Rewrite a model file of an older format version (1 to 3) in today's format (4),
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
