//! `cargo xtask`: the project's entry point for every task beyond plain `cargo`.
//!
//! Orchestration only: each subcommand lives in its own module and calls cargo or the
//! crates' binaries; no algorithm lives here. The CLI is declared in [`flags`].

mod bench;
mod ci;
mod cores;
mod fetch;
mod firmware;
mod flags;
mod flash;
mod pareto;
mod profile;
mod qemu;
mod robustness;
mod size;
#[cfg(test)]
mod tidy;
mod trainer;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::Parser;

/// Runs the task; an error is one line (`Error: ` and its causes), without a
/// backtrace even when `RUST_BACKTRACE` is set, and exit status 1.
fn main() -> std::process::ExitCode {
    match run_task(flags::Xtask::parse().command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_task(command: flags::Cmd) -> Result<()> {
    match command {
        flags::Cmd::Ci(args) => ci::run(&args),
        flags::Cmd::Train(a) => match a.mpi {
            Some(n) => trainer::run_trainer_mpi(n, &a.args),
            None => trainer::run_trainer("train", &a.args),
        },
        flags::Cmd::Eval(a) => trainer::run_trainer("eval", &a.args),
        flags::Cmd::Export(a) => trainer::run_trainer("export", &a.args),
        flags::Cmd::FetchData(a) => fetch::run(&a.name, a.dir),
        flags::Cmd::Qemu(a) => qemu::run(&a),
        flags::Cmd::Size(a) => size::run(&a),
        flags::Cmd::Flash(a) => flash::run(&a),
        flags::Cmd::Bench(a) => bench::run_bench(&a),
        flags::Cmd::Pareto(a) => pareto::run(&a),
        flags::Cmd::Robustness(a) => robustness::run(&a),
        flags::Cmd::Analyze(a) => trainer::run_trainer("analyze", &a.args),
        flags::Cmd::ImportNir(a) => trainer::run_trainer_nir("import-nir", &a.args),
        flags::Cmd::ExportNir(a) => trainer::run_trainer_nir("export-nir", &a.args),
    }
}

/// The repository root (the parent of `xtask/`).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the root")
        .to_path_buf()
}

/// `cargo` as the one running us (the `CARGO` variable), at the repository root.
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(project_root());
    cmd
}

/// Runs `cmd`, echoing it first; fails on a non-zero exit.
pub fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("$ {}", display(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("could not start {}", display(cmd)))?;
    if !status.success() {
        bail!("`{}` failed with {status}", display(cmd));
    }
    Ok(())
}

fn display(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|s| s.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}
